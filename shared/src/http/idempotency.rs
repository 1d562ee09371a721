//! `Idempotency-Key` on POST routes, without the two extra writes (lock, then complete) of the
//! usual Lambda idempotency utilities.
//!
//! A keyed request runs as usual. Its response is known before its write, so the record of the
//! response rides in the write's own transaction, conditioned on no live record for the key:
//! the first request leaves effect and record atomically, at no extra round trip; a retry (or a
//! concurrent duplicate) fails that condition, which hands back the stored record
//! (`ReturnValuesOnConditionCheckFailure`), and replays it. A response that writes nothing (a
//! 4xx, a no-op) is recorded by one conditional PutItem after the handler. No lock is ever
//! held, so a request that dies midway leaves nothing stuck: a retry simply runs. Records live
//! 24 h (TTL, and the condition treats an expired record as absent, since TTL deletion lags).

use crate::http::ApiError;
use crate::keys::ServerKey;
pub use crate::store::{RETENTION_SECONDS, StoredResponse};
use crate::table::layout::idempotency_pk;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lambda_http::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use sha2::{Digest, Sha256};

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
const MAX_KEY_LEN: usize = 255;

/// A request's `Idempotency-Key`, checked: 1..255 printable ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn of(headers: &HeaderMap) -> Result<Option<Self>, ApiError> {
        let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
            return Ok(None);
        };
        let key = value
            .to_str()
            .map_err(|_| ApiError::InvalidIdempotencyKey)?;
        let printable = key.bytes().all(|b| (0x20..=0x7e).contains(&b));
        if key.is_empty() || key.len() > MAX_KEY_LEN || !printable {
            return Err(ApiError::InvalidIdempotencyKey);
        }
        Ok(Some(Self(key.to_owned())))
    }
}

/// A keyed request: its key, the hash of what identifies the request (method, concrete path,
/// body), and (once the caller is known) the record key, scoped to the caller.
#[derive(Clone, Debug)]
pub struct Keyed {
    key: IdempotencyKey,
    request_hash: String,
    record_key: Option<String>,
    /// The record keys under the rotating keys before the current one: a retry of a request
    /// made before a rotation finds its record there (`ROTATING_KEYS`).
    pub earlier_record_keys: Vec<String>,
    /// The handler's own transaction carried the record.
    pub recorded: bool,
}

impl Keyed {
    /// A request is its method, its concrete path (handle and slug included) and its body:
    /// the same key on another group-buy is another request, refused with 422, not a replay.
    pub fn new(key: IdempotencyKey, method: &str, path: &str, body: &[u8]) -> Self {
        let mut hash = Sha256::new();
        // Length-prefixed, so that no two (method, path, body) triples hash alike.
        for part in [method.as_bytes(), path.as_bytes(), body] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        Self {
            key,
            request_hash: URL_SAFE_NO_PAD.encode(hash.finalize()),
            record_key: None,
            earlier_record_keys: Vec::new(),
            recorded: false,
        }
    }

    /// Scopes the key to `caller` (a credential kind and subject, or a visitor key), under
    /// the current rotating key and, for the records made before a rotation, the earlier ones.
    pub fn bind(&mut self, server_key: &ServerKey, caller: &str) {
        let mut keys = server_key
            .idempotency_keys(caller, &self.key.0)
            .into_iter()
            .map(|scoped| idempotency_pk(&scoped));
        self.record_key = keys.next();
        self.earlier_record_keys = keys.collect();
    }

    pub fn record_key(&self) -> Option<&str> {
        self.record_key.as_deref()
    }

    /// The record of `response` for this request.
    pub fn record(&self, response: &Response<Body>, now_epoch: i64) -> StoredResponse {
        let headers = response
            .headers()
            .iter()
            .filter(|(name, _)| !matches!(name.as_str(), "x-request-id" | "x-correlation-id"))
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
            .collect();
        StoredResponse {
            status: response.status().as_u16(),
            headers,
            body: String::from_utf8_lossy(response.body().as_ref()).into_owned(),
            request_hash: self.request_hash.clone(),
            expires_at: now_epoch + RETENTION_SECONDS,
        }
    }

    /// What a retry gets: the stored response if the body is the same, 422 otherwise.
    pub fn replay(&self, stored: StoredResponse) -> Result<Response<Body>, ApiError> {
        if stored.request_hash != self.request_hash {
            return Err(ApiError::IdempotencyKeyReused);
        }
        let mut response = Response::new(match stored.body.is_empty() {
            true => Body::Empty,
            false => Body::Text(stored.body),
        });
        *response.status_mut() =
            StatusCode::from_u16(stored.status).map_err(|e| ApiError::Internal(e.to_string()))?;
        let headers = response.headers_mut();
        for (name, value) in stored.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                headers.insert(name, value);
            }
        }
        headers.insert(REPLAYED, HeaderValue::from_static("true"));
        Ok(response)
    }
}

/// Whether a response is kept: successes and client errors, but not 429 (the limit resets,
/// and the retry it asks for must run) nor a 5xx (a retry may succeed for real).
pub fn keeps(status: StatusCode) -> bool {
    status != StatusCode::TOO_MANY_REQUESTS && (status.is_success() || status.is_client_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            IDEMPOTENCY_KEY,
            HeaderValue::from_str(value).expect("header"),
        );
        h
    }

    #[test]
    fn keys_are_1_to_255_printable_ascii() {
        assert!(
            IdempotencyKey::of(&HeaderMap::new())
                .expect("absent")
                .is_none()
        );
        assert!(
            IdempotencyKey::of(&headers("order-42 retry"))
                .expect("valid")
                .is_some()
        );
        assert!(IdempotencyKey::of(&headers(&"k".repeat(256))).is_err());
        assert!(IdempotencyKey::of(&headers("")).is_err());
        assert!(IdempotencyKey::of(&headers("tab\there")).is_err());
    }

    #[test]
    fn a_replay_needs_the_same_body() {
        let key = IdempotencyKey::of(&headers("k"))
            .expect("valid")
            .expect("present");
        let keyed = |path: &str, body: &[u8]| Keyed::new(key.clone(), "POST", path, body);
        let first = keyed("/v2/handles/a/group-buys/x/publish", b"{\"a\":1}");
        let mut response = Response::new(Body::Text("{}".into()));
        *response.status_mut() = StatusCode::CREATED;
        let stored = first.record(&response, 0);
        let replayed = keyed("/v2/handles/a/group-buys/x/publish", b"{\"a\":1}")
            .replay(stored.clone())
            .expect("same request");
        assert_eq!(replayed.status(), StatusCode::CREATED);
        assert_eq!(replayed.headers()["idempotent-replayed"], "true");
        for (path, body) in [
            ("/v2/handles/a/group-buys/x/publish", &b"{\"a\":2}"[..]),
            ("/v2/handles/a/group-buys/y/publish", &b"{\"a\":1}"[..]),
        ] {
            assert!(matches!(
                keyed(path, body).replay(stored.clone()),
                Err(ApiError::IdempotencyKeyReused)
            ));
        }
    }

    #[test]
    fn rate_limits_and_server_errors_are_not_kept() {
        assert!(keeps(StatusCode::CREATED) && keeps(StatusCode::CONFLICT));
        assert!(!keeps(StatusCode::TOO_MANY_REQUESTS));
        assert!(!keeps(StatusCode::SERVICE_UNAVAILABLE));
    }
}
