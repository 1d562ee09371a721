//! The group-buy service of Gharart.com: everything the per-route Lambda binaries share.

pub mod app;
pub mod auth;
pub mod call_log;
pub mod configuration;
pub mod deadline;
pub mod domain;
pub mod error;
pub mod events;
pub mod expiry;
pub mod handlers;
pub mod http;
pub mod https;
pub mod idempotency;
pub mod idempotency_record;
pub mod keys;
pub mod limits;
pub mod pagination;
pub mod participants_csv;
pub mod recent;
pub mod routes;
pub mod store;
pub mod table;
pub mod telemetry;
pub mod validation;
pub mod visitor;

pub use app::{App, run};
pub use routes::{Access, Route};
