//! Sealed cursors. A cursor is the DynamoDB key to resume from, encrypted and authenticated
//! (ChaCha20-Poly1305) with a server key, the list it belongs to bound in as associated data:
//! a modified cursor, or one from another list (another handle, group-buy or status filter),
//! is refused with 400 `INVALID_CURSOR` before DynamoDB sees it. Sealed, not only signed, so
//! that no key ever shows: an interest's key names the visitor the same way in every
//! campaign, and a readable cursor would let an owner follow one visitor across campaigns.

use crate::error::ApiError;
use crate::http::query_param;
use crate::keys::HmacSha256;
use crate::validation::FieldError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key as CipherKey, Nonce};
use hmac::Mac;
use lambda_http::Request;
use std::collections::BTreeMap;

pub const DEFAULT_LIMIT: i32 = 25;
pub const MAX_LIMIT: i32 = 100;

/// A DynamoDB key (all our key attributes are strings).
pub type Key = BTreeMap<String, String>;

const NONCE_LEN: usize = 12;

pub struct CursorCodec {
    cipher: ChaCha20Poly1305,
    /// Derives each cursor's nonce from its list and content (as SIV does), so that sealing
    /// needs no randomness and two lists never share a nonce.
    nonces: HmacSha256,
}

impl CursorCodec {
    /// `key` is `ServerKey::cursor_key`; the cipher and nonce keys are derived from it.
    pub fn new(key: &[u8]) -> Self {
        let derive = |label: &[u8]| {
            let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
            mac.update(label);
            mac.finalize().into_bytes()
        };
        Self {
            cipher: ChaCha20Poly1305::new(CipherKey::from_slice(&derive(b"cursor-cipher"))),
            nonces: <HmacSha256 as Mac>::new_from_slice(&derive(b"cursor-nonce"))
                .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length")),
        }
    }

    pub fn encode(&self, list: &str, key: Key) -> String {
        let plaintext = serde_json::to_vec(&key).unwrap_or_default();
        let mut nonces = self.nonces.clone();
        nonces.update(&(list.len() as u64).to_be_bytes());
        nonces.update(list.as_bytes());
        nonces.update(&plaintext);
        let digest = nonces.finalize().into_bytes();
        let nonce = Nonce::from_slice(&digest[..NONCE_LEN]);
        let sealed = self
            .cipher
            .encrypt(
                nonce,
                Payload {
                    msg: &plaintext,
                    aad: list.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut cursor = nonce.to_vec();
        cursor.extend(sealed);
        URL_SAFE_NO_PAD.encode(cursor)
    }

    pub fn decode(&self, list: &str, cursor: &str) -> Result<Key, ApiError> {
        let sealed = URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| ApiError::InvalidCursor)?;
        if sealed.len() <= NONCE_LEN {
            return Err(ApiError::InvalidCursor);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let plaintext = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: list.as_bytes(),
                },
            )
            .map_err(|_| ApiError::InvalidCursor)?;
        serde_json::from_slice(&plaintext).map_err(|_| ApiError::InvalidCursor)
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
        let mut flipped = URL_SAFE_NO_PAD.decode(&cursor).expect("base64");
        if let Some(last) = flipped.last_mut() {
            *last ^= 1;
        }
        assert!(
            codec
                .decode("owner:acme", &URL_SAFE_NO_PAD.encode(flipped))
                .is_err()
        );
        let forged = URL_SAFE_NO_PAD.encode(br#"{"PK":"GB#victim#lamp"}"#);
        assert!(codec.decode("owner:acme", &forged).is_err());
        assert!(codec.decode("owner:acme", "%%%.###").is_err());
        assert!(codec.decode("owner:acme", "").is_err());
    }

    #[test]
    fn no_key_shows_in_a_cursor() {
        let codec = CursorCodec::new(b"k");
        let cursor = codec.encode("owner:acme", key());
        let bytes = URL_SAFE_NO_PAD.decode(&cursor).expect("base64");
        assert!(!String::from_utf8_lossy(&bytes).contains("GB#acme"));
        assert!(!cursor.contains("GB"));
        assert_ne!(
            cursor,
            codec.encode("owner:other", key()),
            "lists never share a cursor"
        );
    }
}
