//! The API: the route table (one row per route, `routes`) and the request pipeline every
//! route goes through (`pipeline`: the caller resolved once, `Idempotency-Key`, dispatch,
//! the response and its log line), over the handlers.
//!
//! Inside, files import one way too: `spec` ← `app` ← `call` ← `handlers` ← `routes`, and
//! `pipeline` ← `routes`.

pub mod app;
pub mod call;
mod handlers;
pub mod pipeline;
mod recent;
pub mod routes;
pub mod spec;

pub use app::{App, InitError};
pub use pipeline::run;
pub use routes::Route;
pub use spec::{Access, PLATFORM_ADMIN};
