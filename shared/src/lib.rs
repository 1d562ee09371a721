//! The group-buy service of Gharart.com: everything the per-route Lambda binaries share.
//!
//! Layers point one way, each importing only from those below it (a test, `layers`, keeps
//! it so; docs/architecture.md draws it):
//!
//! `base` modules ← `domain` ← `store` ← `auth`, `expiry`, `events` ← `http` ← `api`
//!
//! - base: configuration and the stage's secrets, the clock's deadline, TLS and AWS clients,
//!   keys, telemetry, validation, the table's key layout, the IAM call log; they import
//!   nothing of the crate but each other.
//! - `domain`: types that parse and the pure lifecycle rules; no I/O.
//! - `store`: DynamoDB; every rule that could race is a condition of its write.
//! - `auth`: who is calling. `expiry` and `events`: the scheduled and stream functions,
//!   built on the store alone.
//! - `http`: the HTTP edge: problem+json errors (the one place a failure gets a status),
//!   conventions, cursors, idempotency keys, visitors.
//! - `api`: the route table, one row per route, and the request pipeline.

pub mod api;
pub mod auth;
pub mod aws;
pub mod call_log;
pub mod configuration;
pub mod deadline;
pub mod domain;
pub mod events;
pub mod expiry;
pub mod http;
pub mod https;
pub mod keys;
pub mod secrets;
pub mod store;
pub mod table;
pub mod telemetry;
pub mod validation;

#[cfg(test)]
mod layers;

pub use api::{Access, App, Route, run};
