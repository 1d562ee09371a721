//! Every key the service uses, derived from its key material (`configuration::KeyMaterial`),
//! each use under its own label so that no derived value can stand in for another: the
//! pseudonyms from `VISITOR_HASH_KEY`, which cannot rotate; cursors, visitor challenges,
//! visitor passes and idempotency records from each of `ROTATING_KEYS`, the current one first.

use crate::configuration::KeyMaterial;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub type HmacSha256 = Hmac<Sha256>;

/// Bytes kept of a participant pseudonym: 96 bits, ample against collisions in one group-buy.
const PARTICIPANT_BYTES: usize = 12;

pub struct ServerKey {
    pseudonym: Vec<u8>,
    /// (id, key), the current one first.
    rotating: Vec<(String, Vec<u8>)>,
}

fn mac(key: &[u8], label: &str, parts: &[&str]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(label.as_bytes());
    for part in parts {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    mac.finalize().into_bytes().into()
}

impl ServerKey {
    pub fn new(material: &KeyMaterial) -> Self {
        Self {
            pseudonym: material.pseudonym.expose().as_bytes().to_vec(),
            rotating: material
                .rotating
                .iter()
                .map(|(id, secret)| (id.clone(), secret.expose().as_bytes().to_vec()))
                .collect(),
        }
    }

    /// One derived key per rotating key, the current one first.
    fn per_rotating_key(&self, label: &str) -> Vec<[u8; 32]> {
        self.rotating
            .iter()
            .map(|(_, key)| mac(key, label, &[]))
            .collect()
    }

    /// The stored key of a visitor: a keyed hash of `user:<sub>`, `pat:<id>` or
    /// `pass:<the random visitor a visitor pass names>`.
    /// The raw identity is never stored or logged.
    pub fn visitor_key(&self, identity: &str) -> String {
        URL_SAFE_NO_PAD.encode(mac(&self.pseudonym, "gharart/visitor/v1", &[identity]))
    }

    /// What an owner sees of a participant: a pseudonym that differs per group-buy, so owners
    /// cannot follow a visitor across campaigns.
    pub fn participant(&self, handle: &str, slug: &str, visitor_key: &str) -> String {
        let digest = mac(
            &self.pseudonym,
            "gharart/participant/v1",
            &[handle, slug, visitor_key],
        );
        URL_SAFE_NO_PAD.encode(&digest[..PARTICIPANT_BYTES])
    }

    /// An idempotency record's key under each rotating key, the current one first: the
    /// client's key scoped to its caller (API.md); the request it names (method, path, body)
    /// is in the record, so the same key on another route is told apart there, as 422.
    pub fn idempotency_keys(&self, caller: &str, key: &str) -> Vec<String> {
        self.rotating
            .iter()
            .map(|(_, secret)| {
                URL_SAFE_NO_PAD.encode(mac(secret, "gharart/idempotency/v3", &[caller, key]))
            })
            .collect()
    }

    /// The keys that sign visitor challenges (they are stateless: the signature is their
    /// whole memory), the current one first.
    pub fn challenge_keys(&self) -> Vec<[u8; 32]> {
        self.per_rotating_key("gharart/visitor-challenge/v2")
    }

    /// The keys that sign visitor passes, by the id a pass names, the current one first.
    pub fn visitor_pass_keys(&self) -> Vec<(String, [u8; 32])> {
        self.rotating
            .iter()
            .map(|(id, key)| (id.clone(), mac(key, "gharart/visitor-pass/v2", &[id])))
            .collect()
    }

    /// The keys that seal pagination cursors, the current one first.
    pub fn cursor_keys(&self) -> Vec<[u8; 32]> {
        self.per_rotating_key("gharart/pagination-cursor/v2")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::configuration::Secret;

    fn keys(pseudonym: &str, rotating: &[(&str, &str)]) -> ServerKey {
        ServerKey::new(&KeyMaterial {
            pseudonym: Secret::new(pseudonym),
            rotating: rotating
                .iter()
                .map(|(id, key)| ((*id).to_owned(), Secret::new(*key)))
                .collect(),
        })
    }

    #[test]
    fn derivations_are_stable_keyed_and_separated() {
        let key = keys("k", &[("v1", "r")]);
        assert_eq!(key.visitor_key("anon:x"), key.visitor_key("anon:x"));
        assert_ne!(
            key.visitor_key("anon:x"),
            keys("j", &[("v1", "r")]).visitor_key("anon:x")
        );
        assert_ne!(key.visitor_key("anon:x"), key.visitor_key("user:x"));
        let v = key.visitor_key("anon:x");
        assert_ne!(
            key.participant("acme", "lamp", &v),
            key.participant("acme", "vase", &v)
        );
        assert_eq!(key.participant("acme", "lamp", &v).len(), 16);
        assert_ne!(key.visitor_pass_keys()[0].1, key.challenge_keys()[0]);
        assert_ne!(key.cursor_keys()[0], key.challenge_keys()[0]);
    }

    /// A new rotating key changes what it derives and nothing of the pseudonyms: stored
    /// visitors are still themselves after a rotation.
    #[test]
    fn rotation_keeps_the_pseudonyms_and_adds_keys_first() {
        let before = keys("k", &[("v1", "one")]);
        let after = keys("k", &[("v2", "two"), ("v1", "one")]);
        assert_eq!(after.visitor_key("user:a"), before.visitor_key("user:a"));
        assert_eq!(after.cursor_keys()[1], before.cursor_keys()[0]);
        assert_ne!(after.cursor_keys()[0], before.cursor_keys()[0]);
        assert_eq!(after.visitor_pass_keys()[1], before.visitor_pass_keys()[0]);
        assert_eq!(after.visitor_pass_keys()[0].0, "v2");
        assert_eq!(
            after.idempotency_keys("jwt:a", "k")[1],
            before.idempotency_keys("jwt:a", "k")[0]
        );
    }
}
