//! Opaque, tamper-evident cursors. A cursor is the DynamoDB key to resume from plus the list
//! it belongs to, MAC'd with a server key: a modified cursor, or one from another list (another
//! handle, another status filter), is refused with 400 `INVALID_CURSOR` before DynamoDB sees it.

use crate::error::ApiError;
use crate::http::query_param;
use crate::keys::HmacSha256;
use crate::validation::FieldError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;
use lambda_http::Request;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const DEFAULT_LIMIT: i32 = 25;
pub const MAX_LIMIT: i32 = 100;

/// A DynamoDB key (all our key attributes are strings).
pub type Key = BTreeMap<String, String>;

#[derive(Serialize, Deserialize)]
struct Payload {
    list: String,
    key: Key,
}

pub struct CursorCodec {
    mac: HmacSha256,
}

impl CursorCodec {
    /// `key` is `ServerKey::cursor_key`.
    pub fn new(key: &[u8]) -> Self {
        Self {
            mac: <HmacSha256 as Mac>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length")),
        }
    }

    pub fn encode(&self, list: &str, key: Key) -> String {
        let payload = serde_json::to_vec(&Payload {
            list: list.to_owned(),
            key,
        })
        .unwrap_or_default();
        let mut mac = self.mac.clone();
        mac.update(&payload);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    pub fn decode(&self, list: &str, cursor: &str) -> Result<Key, ApiError> {
        let (payload, tag) = cursor.split_once('.').ok_or(ApiError::InvalidCursor)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| ApiError::InvalidCursor)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| ApiError::InvalidCursor)?;
        let mut mac = self.mac.clone();
        mac.update(&payload);
        mac.verify_slice(&tag)
            .map_err(|_| ApiError::InvalidCursor)?;
        let payload: Payload =
            serde_json::from_slice(&payload).map_err(|_| ApiError::InvalidCursor)?;
        if payload.list != list {
            return Err(ApiError::InvalidCursor);
        }
        Ok(payload.key)
    }
}

/// `?limit=` and `?cursor=` of a list request.
pub struct PageRequest {
    pub limit: i32,
    pub cursor: Option<String>,
}

impl PageRequest {
    pub fn of(req: &Request) -> Result<Self, ApiError> {
        let limit = match query_param(req, "limit") {
            None => DEFAULT_LIMIT,
            Some(raw) => raw
                .parse::<i32>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::Validation(vec![FieldError::new(
                        "limit",
                        format!("must be a whole number from 1 to {MAX_LIMIT}"),
                    )])
                })?,
        };
        Ok(Self {
            limit,
            cursor: query_param(req, "cursor").filter(|c| !c.is_empty()),
        })
    }
}

/// One page of results and the key to resume from.
pub struct Page<T> {
    pub items: Vec<T>,
    pub last_key: Option<Key>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::from([("PK".to_owned(), "GB#acme#lamp".to_owned())])
    }

    #[test]
    fn round_trips_within_its_list() {
        let codec = CursorCodec::new(b"k");
        let cursor = codec.encode("owner:acme", key());
        assert_eq!(codec.decode("owner:acme", &cursor).expect("valid"), key());
    }

    #[test]
    fn refuses_tampered_and_foreign_cursors() {
        let codec = CursorCodec::new(b"k");
        let cursor = codec.encode("owner:acme", key());
        assert!(codec.decode("owner:other", &cursor).is_err());
        assert!(
            CursorCodec::new(b"other")
                .decode("owner:acme", &cursor)
                .is_err()
        );
        let (payload, tag) = cursor.split_once('.').expect("two parts");
        let forged =
            URL_SAFE_NO_PAD.encode(br#"{"list":"owner:acme","key":{"PK":"GB#victim#lamp"}}"#);
        assert!(
            codec
                .decode("owner:acme", &format!("{forged}.{tag}"))
                .is_err()
        );
        assert!(codec.decode("owner:acme", payload).is_err());
        assert!(codec.decode("owner:acme", "%%%.###").is_err());
    }
}
