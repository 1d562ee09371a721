//! The HTTP edge: what every route shares on the wire. The core below (domain, store, auth)
//! knows nothing of HTTP; its failures become answers here, in `error`, and only here.

mod conventions;
pub mod cors;
pub mod cursor;
pub mod error;
pub mod idempotency;
pub mod participants_csv;
pub mod visitor;
pub mod visitor_pass;

pub use conventions::{
    CORRELATION_ID, IfMatch, ListFormat, MAX_BODY_BYTES, REQUEST_ID, Reply, RequestIds,
    json_object, match_path, path_params, query_param,
};
pub use error::ApiError;
