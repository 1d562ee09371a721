//! Personal access tokens: `ghpat_<id>_<secret>`, bound to one handle and a set of scopes,
//! with an optional expiry, revocable. Only a SHA-256 hash of the secret is stored (the
//! secret is 256 random bits, so no slow hash is needed); it is compared in constant time.
//! A function instance caches a token's record for `PAT_CACHE_SECONDS` (default 30), which
//! bounds how long a revocation takes to be honoured.

use super::{AuthError, CredentialKind, Principal};
use crate::domain::{Handle, Timestamp};
use crate::store::{PatRecord, Store};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

use super::Scope;

pub const PREFIX: &str = "ghpat_";
/// `lastUsedAt` is written at most this often per token, not on every request.
const LAST_USED_RESOLUTION_MILLIS: i64 = 3600 * 1000;

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
        // A scope no route checks would be granted in vain, or be a typo of one that is.
        let known = || {
            Scope::ALL
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if scopes.is_empty() {
            return Err(format!("a token needs at least one scope: {}", known()));
        }
        if let Some(unknown) = scopes.iter().find(|s| Scope::parse(s).is_none()) {
            return Err(format!(
                "unknown scope {unknown:?}; the scopes are {}",
                known()
            ));
        }
        let mut scopes = scopes;
        scopes.sort_unstable();
        scopes.dedup();
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

/// At most this many token ids are cached per function instance, unknown ones included, so
/// that requests with random ids cannot grow memory without limit. An instance serves one
/// request at a time, so the tokens really in use within `PAT_CACHE_SECONDS` are a handful;
/// 1024 records (a few hundred bytes each) stay well under a megabyte, and an id pushed out
/// costs only one more read.
const CACHE_CAPACITY: usize = 1024;

/// A record fetched at `fetched_at` is still trusted at `now`.
fn trusted(fetched_at: Instant, now: Instant, ttl: Duration) -> bool {
    now.saturating_duration_since(fetched_at) < ttl
}

/// The records this instance fetched, by token id; `None` for an id that has no record.
struct RecordCache {
    /// How long a cached record is trusted: the revocation delay.
    ttl: Duration,
    entries: HashMap<String, (Instant, Option<PatRecord>)>,
}

impl RecordCache {
    fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: HashMap::new(),
        }
    }

    /// The record of `id` as fetched less than `ttl` before `now`, if any.
    fn get(&self, id: &str, now: Instant) -> Option<Option<PatRecord>> {
        self.entries
            .get(id)
            .filter(|(at, _)| trusted(*at, now, self.ttl))
            .map(|(_, record)| record.clone())
    }

    /// Caches `record` as fetched at `now`. A new id in a full cache first drops every
    /// expired entry, then, if none had expired, the one fetched longest ago. (A scan of at
    /// most `CACHE_CAPACITY` entries, cheap next to the read that precedes every insert.)
    fn insert(&mut self, id: &str, record: Option<PatRecord>, now: Instant) {
        if !self.entries.contains_key(id) && self.entries.len() >= CACHE_CAPACITY {
            let ttl = self.ttl;
            self.entries.retain(|_, (at, _)| trusted(*at, now, ttl));
            if self.entries.len() >= CACHE_CAPACITY {
                let oldest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(id, _)| id.clone());
                if let Some(oldest) = oldest {
                    self.entries.remove(&oldest);
                }
            }
        }
        self.entries.insert(id.to_owned(), (now, record));
    }

    /// Notes a use of `id` in its cached record, without extending how long it is trusted.
    fn note_use(&mut self, id: &str, at: Timestamp) {
        if let Some((_, Some(cached))) = self.entries.get_mut(id) {
            cached.last_used_at = Some(at);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

pub struct PatVerifier {
    store: Store,
    cache: Mutex<RecordCache>,
}

const UNKNOWN: AuthError =
    AuthError::Unauthenticated("the personal access token is unknown, expired or revoked");

impl PatVerifier {
    pub fn new(store: Store, cache_ttl: Duration) -> Self {
        Self {
            store,
            cache: Mutex::new(RecordCache::new(cache_ttl)),
        }
    }

    async fn record(&self, id: &str) -> Result<Option<PatRecord>, AuthError> {
        let cached = self
            .cache
            .lock()
            .ok()
            .and_then(|cache| cache.get(id, Instant::now()));
        if let Some(record) = cached {
            return Ok(record);
        }
        let record = self.store.get_pat(id).await?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(id, record.clone(), Instant::now());
        }
        Ok(record)
    }

    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
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
            if let Ok(mut cache) = self.cache.lock() {
                cache.note_use(id, now);
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
    fn only_known_scopes_are_granted() {
        let issue = |scopes: &[&str]| {
            IssuedPat::new(
                Handle::parse("acme").expect("handle"),
                "ci",
                scopes.iter().map(|s| s.to_string()).collect(),
                None,
            )
            .map(|issued| issued.record.scopes)
        };
        assert!(issue(&[]).is_err());
        assert!(issue(&["group-buys:admin"]).is_err());
        assert!(issue(&["group-buys:read", "group-buys:wrte"]).is_err());
        assert_eq!(
            issue(&["group-buys:write", "group-buys:read", "group-buys:write"]),
            Ok(vec![
                "group-buys:read".to_owned(),
                "group-buys:write".to_owned()
            ])
        );
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

    mod cache {
        use super::*;

        const TTL: Duration = Duration::from_secs(30);

        fn random_id() -> String {
            format!("{:016x}", fastrand::u64(..))
        }

        fn record(id: &str) -> PatRecord {
            PatRecord {
                id: id.to_owned(),
                handle: Handle::parse("acme").expect("handle"),
                name: "ci".into(),
                scopes: vec!["group-buys:read".into()],
                secret_hash: hash_secret("secret"),
                created_at: Timestamp::now(),
                expires_at: None,
                revoked_at: None,
                last_used_at: None,
            }
        }

        /// Random ids are all unknown: each one is a negative lookup that is cached too.
        #[test]
        fn random_unknown_ids_never_grow_it_past_its_bound() {
            let mut cache = RecordCache::new(TTL);
            let now = Instant::now();
            for _ in 0..CACHE_CAPACITY * 10 {
                cache.insert(&random_id(), None, now);
                assert!(cache.len() <= CACHE_CAPACITY, "{} entries", cache.len());
            }
            assert_eq!(cache.len(), CACHE_CAPACITY);
        }

        #[test]
        fn a_full_cache_drops_expired_entries_before_fresh_ones() {
            let mut cache = RecordCache::new(TTL);
            let start = Instant::now();
            cache.insert("0000000000000000", Some(record("0000000000000000")), start);
            let later = start + TTL + Duration::from_secs(1);
            let fresh = "1111111111111111";
            let fresh_record = record(fresh);
            cache.insert(fresh, Some(fresh_record.clone()), later);
            for _ in 0..CACHE_CAPACITY - 2 {
                cache.insert(&random_id(), None, later);
            }
            assert_eq!(cache.len(), CACHE_CAPACITY);
            cache.insert(&random_id(), None, later);
            assert_eq!(cache.len(), CACHE_CAPACITY);
            assert!(
                !cache.entries.contains_key("0000000000000000"),
                "expired dropped"
            );
            assert_eq!(cache.get(fresh, later), Some(Some(fresh_record)));
        }

        #[test]
        fn a_full_cache_of_fresh_entries_drops_the_oldest() {
            let mut cache = RecordCache::new(TTL);
            let start = Instant::now();
            let oldest = "0000000000000000";
            cache.insert(oldest, None, start);
            let later = start + Duration::from_secs(1);
            for _ in 0..CACHE_CAPACITY {
                cache.insert(&random_id(), None, later);
            }
            assert_eq!(cache.len(), CACHE_CAPACITY);
            assert_eq!(cache.get(oldest, later), None);
        }

        /// The revocation delay is unchanged: a record is trusted for the TTL, no longer.
        #[test]
        fn a_record_is_trusted_for_the_ttl_and_no_longer() {
            let mut cache = RecordCache::new(TTL);
            let start = Instant::now();
            let id = "2222222222222222";
            cache.insert(id, Some(record(id)), start);
            assert!(
                cache
                    .get(id, start + TTL - Duration::from_millis(1))
                    .is_some()
            );
            assert_eq!(cache.get(id, start + TTL), None);
            cache.note_use(id, Timestamp::now());
            assert_eq!(
                cache.get(id, start + TTL),
                None,
                "a use does not extend trust"
            );
        }
    }
}
