//! Sealed cursors. A cursor is the DynamoDB key to resume from, encrypted and authenticated
//! with XChaCha20-Poly1305 under a server key, with a fresh random 192-bit nonce per cursor
//! (large enough that random nonces never repeat), and the list it belongs to bound in as
//! associated data: a modified cursor, or one from another list (another handle, group-buy or
//! status filter), is refused with 400 `INVALID_CURSOR` before DynamoDB sees it. Sealed, not
//! only signed, so that no key ever shows: an interest's key names the visitor the same way
//! in every campaign, and a readable cursor would let an owner follow one visitor across
//! campaigns. Cursors of the earlier construction are refused like any altered one. Sealed
//! under the current rotating key and opened under any (`ROTATING_KEYS`), so a cursor given
//! out just before a rotation still pages on.

use crate::http::ApiError;
use crate::http::query_param;
use crate::store::Key;
use crate::validation::FieldError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key as CipherKey, XChaCha20Poly1305, XNonce};
use lambda_http::Request;

pub const DEFAULT_LIMIT: i32 = 25;
pub const MAX_LIMIT: i32 = 100;

const NONCE_LEN: usize = 24;

/// Why a cursor is refused, as the answer says it.
const NOT_A_CURSOR: &str =
    "is not a cursor this API gives out (it must be the nextCursor value exactly, base64url)";
const NOT_THIS_LISTS: &str = "was altered, is of an earlier format, or belongs to another list";

pub struct CursorCodec {
    /// One per rotating key, the current one (which seals) first.
    ciphers: Vec<XChaCha20Poly1305>,
}

/// Why no cursor could be sealed: the system has no randomness to give.
#[derive(Debug, thiserror::Error)]
#[error("no randomness for a cursor nonce: {0}")]
pub struct SealError(String);

impl CursorCodec {
    /// `keys` are `ServerKey::cursor_keys`, the current one first.
    pub fn new(keys: &[[u8; 32]]) -> Self {
        Self {
            ciphers: keys
                .iter()
                .map(|key| XChaCha20Poly1305::new(CipherKey::from_slice(key)))
                .collect(),
        }
    }

    pub fn encode(&self, list: &str, key: Key) -> Result<String, SealError> {
        let plaintext = serde_json::to_vec(&key).map_err(|e| SealError(e.to_string()))?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| SealError(e.to_string()))?;
        let cipher = self
            .ciphers
            .first()
            .ok_or_else(|| SealError("no cursor key".into()))?;
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plaintext,
                    aad: list.as_bytes(),
                },
            )
            .map_err(|e| SealError(e.to_string()))?;
        let mut cursor = nonce.to_vec();
        cursor.extend(sealed);
        Ok(URL_SAFE_NO_PAD.encode(cursor))
    }

    pub fn decode(&self, list: &str, cursor: &str) -> Result<Key, ApiError> {
        let sealed = URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| ApiError::InvalidCursor(NOT_A_CURSOR))?;
        if sealed.len() <= NONCE_LEN {
            return Err(ApiError::InvalidCursor(NOT_A_CURSOR));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let plaintext = self
            .ciphers
            .iter()
            .find_map(|cipher| {
                let payload = Payload {
                    msg: ciphertext,
                    aad: list.as_bytes(),
                };
                cipher.decrypt(XNonce::from_slice(nonce), payload).ok()
            })
            .ok_or(ApiError::InvalidCursor(NOT_THIS_LISTS))?;
        serde_json::from_slice(&plaintext).map_err(|_| ApiError::InvalidCursor(NOT_THIS_LISTS))
    }
}

/// A cursor that could not be sealed is ours to fix, not the client's.
impl From<SealError> for ApiError {
    fn from(e: SealError) -> Self {
        Self::Internal(e.to_string())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::from([("PK".to_owned(), "GB#acme#lamp".to_owned())])
    }

    #[test]
    fn round_trips_within_its_list() {
        let codec = CursorCodec::new(&[[7; 32]]);
        let cursor = codec.encode("owner:acme", key()).expect("sealed");
        assert_eq!(codec.decode("owner:acme", &cursor).expect("valid"), key());
    }

    #[test]
    fn refuses_tampered_and_foreign_cursors() {
        let codec = CursorCodec::new(&[[7; 32]]);
        let cursor = codec.encode("owner:acme", key()).expect("sealed");
        assert!(codec.decode("owner:other", &cursor).is_err());
        assert!(
            CursorCodec::new(&[[8; 32]])
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
        let codec = CursorCodec::new(&[[7; 32]]);
        let cursor = codec.encode("owner:acme", key()).expect("sealed");
        let bytes = URL_SAFE_NO_PAD.decode(&cursor).expect("base64");
        assert!(!String::from_utf8_lossy(&bytes).contains("GB#acme"));
        assert_ne!(
            cursor,
            codec.encode("owner:other", key()).expect("sealed"),
            "lists never share a cursor"
        );
    }

    /// After a rotation (a new key first), a cursor sealed under the old key still opens; once
    /// the old key is removed, it is refused like any foreign cursor.
    #[test]
    fn cursors_outlive_a_rotation_until_the_old_key_goes() {
        let before = CursorCodec::new(&[[7; 32]]);
        let cursor = before.encode("owner:acme", key()).expect("sealed");
        let rotated = CursorCodec::new(&[[9; 32], [7; 32]]);
        assert_eq!(rotated.decode("owner:acme", &cursor).expect("valid"), key());
        let fresh = rotated.encode("owner:acme", key()).expect("sealed");
        assert!(
            before.decode("owner:acme", &fresh).is_err(),
            "sealed under the new key"
        );
        assert!(
            CursorCodec::new(&[[9; 32]])
                .decode("owner:acme", &cursor)
                .is_err()
        );
    }
}
