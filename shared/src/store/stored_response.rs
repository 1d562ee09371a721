//! The record a keyed request leaves: plain data, so that the store (which writes and reads
//! it) and `idempotency` (which makes and replays it) share it without depending on each
//! other or on HTTP errors.

use serde::{Deserialize, Serialize};

/// How long a record answers retries: 24 h (TTL, and the write's condition).
pub const RETENTION_SECONDS: i64 = 24 * 3600;

/// A response kept for replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub request_hash: String,
    /// Epoch seconds; also the item's TTL.
    pub expires_at: i64,
}
