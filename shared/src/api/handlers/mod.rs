//! Route handlers. Each takes a `Call` and its resolved caller and returns an answer or an
//! `ApiError`; the pipeline turns errors into problem+json and writes the log line.

pub(super) mod admin;
pub(super) mod draw;
mod entries;
pub(super) mod owner;
pub(super) mod passes;
pub(super) mod public;
mod scope;
pub(super) mod support;
