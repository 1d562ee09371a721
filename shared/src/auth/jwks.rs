//! The identity provider's signing keys, fetched from its JWKS URL and cached per instance.
//!
//! A provider rotates its keys by publishing a new one (a new `kid`) before it signs with it.
//! Keys fixed in configuration would turn every token it signs from then on into a 401 until a
//! redeploy; here a token whose `kid` no known key has makes the instance fetch the keys again,
//! at most once per `jwks_refresh`, so tokens with made-up key ids cannot make it hammer the
//! provider. A fetched set is trusted for `jwks_max_age`, after which it is fetched again
//! before use; a key the provider withdrew is refused from then on, even one also configured.
//! When the provider cannot be reached, the last set fetched stays in use, and the configured
//! keys (`JWT_JWKS`) serve as long as no fresh set says otherwise: at an instance's start
//! (nothing is fetched at init) and while the provider is unreachable.

use crate::configuration::JwtSettings;
use crate::https::DocumentClient;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// One fetch, the discovery document's included, takes at most this in all.
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
/// A JWKS or discovery document larger than this is refused (a provider's is a few KB).
const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not a valid JWKS document")]
    InvalidJwks,
    #[error("JWKS key {0} is not an RS256 or ES256 (P-256) public key")]
    UnsupportedKey(String),
    #[error("a JWKS key has no kid")]
    MissingKid,
    #[error("JWKS kid {0} names more than one key")]
    DuplicateKid(String),
    #[error("{0}: keys come over https, or over http from this machine only")]
    InsecureKeyUrl(String),
}

/// The public keys of a JWKS document, by `kid`, each with the one algorithm it verifies.
#[derive(Default)]
pub struct KeySet(HashMap<String, (Algorithm, DecodingKey)>);

impl KeySet {
    /// The RS256 and ES256 (P-256) keys of a configured JWKS document (`JWT_JWKS`); any other
    /// key, a key without a `kid`, or a `kid` named twice refuses the whole document: a
    /// configuration mistake stops the start.
    pub fn parse(document: &[u8]) -> Result<Self, KeyError> {
        let set: JwkSet = serde_json::from_slice(document).map_err(|_| KeyError::InvalidJwks)?;
        let mut keys = Self::default();
        for jwk in &set.keys {
            let (kid, verifying) = usable(jwk)?;
            keys.insert(kid, verifying)?;
        }
        Ok(keys)
    }

    /// The RS256 and ES256 signing keys of an issuer's published JWKS: keys for encryption
    /// (`use: enc`) or of other algorithms, which providers publish beside their signing keys,
    /// are passed over; a `kid` named twice still refuses the set, as does a set with no
    /// usable key at all.
    pub fn parse_published(document: &[u8]) -> Result<Self, KeyError> {
        let set: serde_json::Value =
            serde_json::from_slice(document).map_err(|_| KeyError::InvalidJwks)?;
        let mut keys = Self::default();
        for key in set["keys"].as_array().ok_or(KeyError::InvalidJwks)? {
            if key["use"].as_str().is_some_and(|u| u != "sig") {
                continue;
            }
            let Ok(jwk) = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(key.clone()) else {
                continue;
            };
            if let Ok((kid, verifying)) = usable(&jwk) {
                keys.insert(kid, verifying)?;
            }
        }
        match keys.len() {
            0 => Err(KeyError::InvalidJwks),
            _ => Ok(keys),
        }
    }

    fn insert(&mut self, kid: String, verifying: (Algorithm, DecodingKey)) -> Result<(), KeyError> {
        // Keeping either key of a repeated kid would make verification depend on the order
        // of the document: refuse the whole set instead.
        match self.0.entry(kid) {
            Entry::Occupied(taken) => Err(KeyError::DuplicateKid(taken.key().clone())),
            Entry::Vacant(free) => {
                free.insert(verifying);
                Ok(())
            }
        }
    }

    /// The key `kid`, if it verifies `algorithm`.
    pub fn get(&self, kid: &str, algorithm: Algorithm) -> Option<DecodingKey> {
        self.0
            .get(kid)
            .filter(|(alg, _)| *alg == algorithm)
            .map(|(_, key)| key.clone())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// The `kid` of an RS256 or ES256 (P-256) public key, and the key.
fn usable(jwk: &jsonwebtoken::jwk::Jwk) -> Result<(String, (Algorithm, DecodingKey)), KeyError> {
    let kid = jwk.common.key_id.clone().ok_or(KeyError::MissingKid)?;
    let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
        (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
        (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
            if ec.curve == EllipticCurve::P256 =>
        {
            Algorithm::ES256
        }
        _ => return Err(KeyError::UnsupportedKey(kid)),
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|_| KeyError::UnsupportedKey(kid.clone()))?;
    Ok((kid, (algorithm, key)))
}

/// Where the keys are published.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// The JWKS URL itself (`JWT_JWKS_URL`).
    Jwks(String),
    /// The issuer, whose OpenID discovery document names its `jwks_uri`.
    Issuer(String),
}

pub struct IssuerKeys {
    source: Source,
    refresh: Duration,
    max_age: Duration,
    /// What is known, behind a lock held for no I/O: a verification never waits for a fetch
    /// that another request makes.
    known: std::sync::Mutex<Known>,
    /// Held by the one request fetching, so that concurrent ones do not fetch too.
    fetching: Mutex<Fetcher>,
}

#[derive(Default)]
struct Known {
    keys: KeySet,
    fetched_at: Option<Instant>,
    attempted_at: Option<Instant>,
}

#[derive(Default)]
struct Fetcher {
    /// Made at the first fetch: reading the system's trust store costs milliseconds of init.
    client: Option<DocumentClient>,
    /// The JWKS URL, once known (from the settings, or discovered).
    jwks_url: Option<String>,
}

/// What the issuer says of a key.
pub enum Lookup {
    /// Its set has the key.
    Found(DecodingKey),
    /// Its set, fetched less than `jwks_max_age` ago, has no such key: it does not vouch for it.
    Refused,
    /// Its set has the key, but was fetched `jwks_max_age` ago or more: to be fetched again,
    /// and used as it is if the issuer cannot be reached.
    Stale(DecodingKey),
    /// No fresh set says anything of the key: never fetched, or a stale set without it.
    Unknown,
}

impl IssuerKeys {
    /// The issuer's keys of the settings: `None` when there is neither a JWKS URL nor an issuer
    /// that is a URL (a local issuer name). A URL that is neither `https` nor `http` on the
    /// loopback interface is refused: keys must not come over a network in the clear.
    pub fn new(settings: &JwtSettings) -> Result<Option<Self>, KeyError> {
        let source = match (&settings.jwks_url, &settings.issuer) {
            (Some(url), _) => Source::Jwks(allowed(url)?),
            (None, Some(issuer))
                if issuer.starts_with("https://") || issuer.starts_with("http://") =>
            {
                Source::Issuer(allowed(issuer)?)
            }
            (None, _) => return Ok(None),
        };
        Ok(Some(Self {
            source,
            refresh: settings.jwks_refresh,
            max_age: settings.jwks_max_age,
            known: std::sync::Mutex::new(Known::default()),
            fetching: Mutex::new(Fetcher::default()),
        }))
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        // A poisoned lock still holds consistent data: every write to it is one assignment.
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What the set fetched last says of `kid`; never fetches.
    pub fn lookup(&self, kid: &str, algorithm: Algorithm) -> Lookup {
        let known = self.known();
        let fresh = known
            .fetched_at
            .is_some_and(|at| at.elapsed() < self.max_age);
        match (known.keys.get(kid, algorithm), fresh) {
            (Some(key), true) => Lookup::Found(key),
            (None, true) => Lookup::Refused,
            (Some(key), false) => Lookup::Stale(key),
            (None, false) => Lookup::Unknown,
        }
    }

    /// Whether a set was ever fetched.
    pub fn ever_fetched(&self) -> bool {
        self.known().fetched_at.is_some()
    }

    /// `lookup`, after fetching the set again if the last fetch (or attempt) was
    /// `jwks_refresh` ago or more.
    pub async fn refetched(&self, kid: &str, algorithm: Algorithm) -> Lookup {
        let mut fetcher = self.fetching.lock().await;
        let allowed = self
            .known()
            .attempted_at
            .is_none_or(|at| at.elapsed() >= self.refresh);
        if allowed {
            self.known().attempted_at = Some(Instant::now());
            let fetched = tokio::time::timeout(FETCH_TIMEOUT, self.fetch(&mut fetcher))
                .await
                .unwrap_or_else(|_| Err(format!("no answer within {FETCH_TIMEOUT:?}")));
            match fetched {
                Ok(keys) => {
                    tracing::info!(keys = keys.len(), "fetched the issuer's signing keys");
                    let mut known = self.known();
                    known.keys = keys;
                    known.fetched_at = Some(Instant::now());
                }
                // The last set stays: an unreachable provider must not sign everyone out.
                Err(e) => {
                    tracing::warn!(error = %e, "the issuer's signing keys could not be fetched")
                }
            }
        }
        drop(fetcher);
        self.lookup(kid, algorithm)
    }

    async fn fetch(&self, fetcher: &mut Fetcher) -> Result<KeySet, String> {
        if fetcher.client.is_none() {
            fetcher.client = Some(DocumentClient::with_system_roots().map_err(|e| e.to_string())?);
        }
        let client = fetcher.client.as_ref().ok_or("no client")?;
        let url = match (&fetcher.jwks_url, &self.source) {
            (Some(url), _) => url.clone(),
            (None, Source::Jwks(url)) => url.clone(),
            (None, Source::Issuer(issuer)) => {
                let discovery = format!(
                    "{}/.well-known/openid-configuration",
                    issuer.trim_end_matches('/')
                );
                let document = client
                    .get(&discovery, FETCH_TIMEOUT, MAX_DOCUMENT_BYTES)
                    .await
                    .map_err(|e| format!("{discovery}: {e}"))?;
                let document: serde_json::Value = serde_json::from_slice(&document)
                    .map_err(|_| format!("{discovery}: not JSON"))?;
                let url = document["jwks_uri"]
                    .as_str()
                    .ok_or_else(|| format!("{discovery}: no jwks_uri"))?;
                allowed(url).map_err(|e| e.to_string())?
            }
        };
        fetcher.jwks_url = Some(url.clone());
        let document = client
            .get(&url, FETCH_TIMEOUT, MAX_DOCUMENT_BYTES)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        KeySet::parse_published(&document).map_err(|e| format!("{url}: {e}"))
    }
}

/// `url`, if keys may come from it: `https`, or `http` to this machine (a local provider).
fn allowed(url: &str) -> Result<String, KeyError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| KeyError::InsecureKeyUrl(url.to_owned()))?;
    let loopback = matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match uri.scheme_str() {
        Some("https") => Ok(url.to_owned()),
        Some("http") if loopback => Ok(url.to_owned()),
        _ => Err(KeyError::InsecureKeyUrl(url.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_over_tls_or_from_this_machine() {
        for url in [
            "https://id.gharart.com/.well-known/jwks.json",
            "http://127.0.0.1:9081/jwks",
            "http://localhost:9081/jwks",
        ] {
            assert!(allowed(url).is_ok(), "{url}");
        }
        for url in [
            "http://id.gharart.com/jwks",
            "ftp://127.0.0.1/jwks",
            "not a url",
        ] {
            assert!(allowed(url).is_err(), "{url}");
        }
    }
}
