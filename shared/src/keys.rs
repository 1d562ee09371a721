//! Everything derived from the server key (`VISITOR_HASH_KEY`), each use under its own label
//! so that no derived value can stand in for another.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub type HmacSha256 = Hmac<Sha256>;

/// Bytes kept of a participant pseudonym: 96 bits, ample against collisions in one group-buy.
const PARTICIPANT_BYTES: usize = 12;

pub struct ServerKey {
    key: Vec<u8>,
}

impl ServerKey {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn mac(&self, label: &str, parts: &[&str]) -> [u8; 32] {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(label.as_bytes());
        for part in parts {
            // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    /// The stored key of a visitor: a keyed hash of `user:<sub>`, `pat:<id>` or
    /// `pass:<the random visitor a visitor pass names>`.
    /// The raw identity is never stored or logged.
    pub fn visitor_key(&self, identity: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac("gharart/visitor/v1", &[identity]))
    }

    /// What an owner sees of a participant: a pseudonym that differs per group-buy, so owners
    /// cannot follow a visitor across campaigns.
    pub fn participant(&self, handle: &str, slug: &str, visitor_key: &str) -> String {
        let digest = self.mac("gharart/participant/v1", &[handle, slug, visitor_key]);
        URL_SAFE_NO_PAD.encode(&digest[..PARTICIPANT_BYTES])
    }

    /// An idempotency record's key: the client's key scoped to its caller (API.md); the
    /// request it names (method, path, body) is in the record, so the same key on another
    /// route is told apart there, as 422.
    pub fn idempotency_key(&self, caller: &str, key: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac("gharart/idempotency/v2", &[caller, key]))
    }

    /// The key that signs visitor challenges (they are stateless: the signature is their
    /// whole memory).
    pub fn challenge_key(&self) -> [u8; 32] {
        self.mac("gharart/visitor-challenge/v1", &[])
    }

    /// The key that signs visitor passes under the key id `kid` (`VISITOR_PASS_KEYS`): a
    /// new id is a new key, and passes under an id still accepted still verify.
    pub fn visitor_pass_key(&self, kid: &str) -> [u8; 32] {
        self.mac("gharart/visitor-pass/v1", &[kid])
    }

    /// The key that seals pagination cursors.
    pub fn cursor_key(&self) -> [u8; 32] {
        self.mac("gharart/pagination-cursor/v1", &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivations_are_stable_keyed_and_separated() {
        let key = ServerKey::new(b"k");
        assert_eq!(key.visitor_key("anon:x"), key.visitor_key("anon:x"));
        assert_ne!(
            key.visitor_key("anon:x"),
            ServerKey::new(b"j").visitor_key("anon:x")
        );
        assert_ne!(key.visitor_key("anon:x"), key.visitor_key("user:x"));
        let v = key.visitor_key("anon:x");
        assert_ne!(
            key.participant("acme", "lamp", &v),
            key.participant("acme", "vase", &v)
        );
        assert_eq!(key.participant("acme", "lamp", &v).len(), 16);
        assert_ne!(key.visitor_pass_key("v1"), key.visitor_pass_key("v2"));
        assert_ne!(key.visitor_pass_key(""), key.challenge_key());
    }
}
