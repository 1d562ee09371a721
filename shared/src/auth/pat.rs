//! Personal access tokens: `ghpat_<id>_<secret>`, bound to one handle and a set of scopes,
//! with an optional expiry, revocable. Only a SHA-256 hash of the secret is stored (the
//! secret is 256 random bits, so no slow hash is needed); it is compared in constant time.
//! A function instance caches a token's record for `PAT_CACHE_SECONDS` (default 30), which
//! bounds how long a revocation takes to be honoured.

use super::{CredentialKind, Principal};
use crate::domain::{Handle, Timestamp};
use crate::error::ApiError;
use crate::store::Store;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

pub const PREFIX: &str = "ghpat_";
/// `lastUsedAt` is written at most this often per token, not on every request.
const LAST_USED_RESOLUTION_MILLIS: i64 = 3600 * 1000;

/// A token's stored record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatRecord {
    pub id: String,
    pub handle: Handle,
    pub name: String,
    pub scopes: Vec<String>,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

/// A freshly issued token: the secret exists only here and in what is shown to the operator.
pub struct IssuedPat {
    pub token: String,
    pub record: PatRecord,
}

fn hash_secret(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn random_bytes<const N: usize>() -> Result<[u8; N], String> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    Ok(bytes)
}

impl IssuedPat {
    pub fn new(
        handle: Handle,
        name: &str,
        scopes: Vec<String>,
        expires_at: Option<Timestamp>,
    ) -> Result<Self, String> {
        let id: String = random_bytes::<8>()?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
        Ok(Self {
            token: format!("{PREFIX}{id}_{secret}"),
            record: PatRecord {
                id,
                handle,
                name: name.to_owned(),
                scopes,
                secret_hash: hash_secret(&secret),
                created_at: Timestamp::now(),
                expires_at,
                revoked_at: None,
                last_used_at: None,
            },
        })
    }
}

/// Splits `ghpat_<id>_<secret>`; the id is hex, so the first `_` after it ends it.
fn parse(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let well_formed = id.len() == 16
        && id.bytes().all(|b| b.is_ascii_hexdigit())
        && !secret.is_empty()
        && secret.len() <= 64;
    well_formed.then_some((id, secret))
}

pub struct PatVerifier {
    store: Store,
    /// How long a cached record is trusted: the revocation delay.
    cache_ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Option<PatRecord>)>>,
}

const UNKNOWN: ApiError =
    ApiError::Unauthenticated("the personal access token is unknown, expired or revoked");

impl PatVerifier {
    pub fn new(store: Store, cache_ttl: Duration) -> Self {
        Self {
            store,
            cache_ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    async fn record(&self, id: &str) -> Result<Option<PatRecord>, ApiError> {
        let cached = self
            .cache
            .lock()
            .ok()
            .and_then(|cache| cache.get(id).cloned())
            .filter(|(at, _)| at.elapsed() < self.cache_ttl);
        if let Some((_, record)) = cached {
            return Ok(record);
        }
        let record = self.store.get_pat(id).await?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(id.to_owned(), (Instant::now(), record.clone()));
        }
        Ok(record)
    }

    pub async fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let (id, secret) = parse(token).ok_or(UNKNOWN)?;
        let record = self.record(id).await?.ok_or(UNKNOWN)?;
        let matches: bool = hash_secret(secret)
            .as_bytes()
            .ct_eq(record.secret_hash.as_bytes())
            .into();
        let now = Timestamp::now();
        let expired = record.expires_at.is_some_and(|at| at <= now);
        if !matches || expired || record.revoked_at.is_some() {
            return Err(UNKNOWN);
        }
        let stale = record
            .last_used_at
            .is_none_or(|at| at.plus_millis(LAST_USED_RESOLUTION_MILLIS) <= now);
        if stale {
            // Best effort: a failure to note the use must not fail the request.
            let cutoff = now.plus_millis(-LAST_USED_RESOLUTION_MILLIS);
            if let Err(e) = self.store.touch_pat(id, now, cutoff).await {
                tracing::warn!(error = %e, "could not record a token's last use");
            }
            if let Ok(mut cache) = self.cache.lock()
                && let Some((_, Some(cached))) = cache.get_mut(id)
            {
                cached.last_used_at = Some(now);
            }
        }
        Ok(Principal {
            subject: record.id,
            kind: CredentialKind::Pat,
            scopes: record.scopes,
            handles: vec![record.handle.to_string()],
            roles: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_parse_and_hash_to_their_record() {
        let issued = IssuedPat::new(
            Handle::parse("acme").expect("handle"),
            "ci",
            vec!["group-buys:read".into()],
            None,
        )
        .expect("issued");
        let (id, secret) = parse(&issued.token).expect("well formed");
        assert_eq!(id, issued.record.id);
        assert_eq!(hash_secret(secret), issued.record.secret_hash);
        assert!(!issued.record.secret_hash.contains(secret));
    }

    #[test]
    fn malformed_tokens_do_not_parse() {
        for bad in [
            "ghpat_",
            "ghpat_0123456789abcdef",
            "ghpat_0123456789abcdef_",
            "ghpat_xyz_secret",
            "ghp_0123456789abcdef_secret",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
