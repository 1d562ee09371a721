//! The identity provider's signing keys, fetched from its JWKS URL and cached per instance.
//!
//! A provider rotates its keys by publishing a new one (a new `kid`) before it signs with it.
//! Keys fixed in configuration would turn every token it signs from then on into a 401 until a
//! redeploy; here a token whose `kid` no known key has makes the instance fetch the keys again,
//! at most once per `jwks_refresh`, so tokens with made-up key ids cannot make it hammer the
//! provider. A fetched set is trusted for `jwks_max_age`, after which it is fetched again
//! before use; a key the provider withdrew is refused from then on. When the provider cannot be
//! reached, the last set fetched stays in use, and the configured keys (`JWT_JWKS`) are the
//! fallback for an instance that never fetched one.

use crate::configuration::JwtSettings;
use crate::https::DocumentClient;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// One fetch, the discovery document's included, takes at most this.
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
    /// The RS256 and ES256 (P-256) keys of a JWKS document; any other key, a key without a
    /// `kid`, or a `kid` named twice refuses the whole document.
    pub fn parse(document: &[u8]) -> Result<Self, KeyError> {
        let set: JwkSet = serde_json::from_slice(document).map_err(|_| KeyError::InvalidJwks)?;
        let mut by_kid = HashMap::new();
        for jwk in &set.keys {
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
            let key =
                DecodingKey::from_jwk(jwk).map_err(|_| KeyError::UnsupportedKey(kid.clone()))?;
            // Keeping either key of a repeated kid would make verification depend on the
            // order of the document: refuse the whole set instead.
            match by_kid.entry(kid) {
                Entry::Occupied(taken) => return Err(KeyError::DuplicateKid(taken.key().clone())),
                Entry::Vacant(free) => {
                    free.insert((algorithm, key));
                }
            }
        }
        Ok(Self(by_kid))
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
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Made at the first fetch: reading the system's trust store costs milliseconds of init.
    client: Option<DocumentClient>,
    /// The JWKS URL, once known (from the settings, or discovered).
    jwks_url: Option<String>,
    keys: KeySet,
    fetched_at: Option<Instant>,
    attempted_at: Option<Instant>,
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
            state: Mutex::new(State::default()),
        }))
    }

    /// The issuer's key `kid` for `algorithm`, from a set fetched less than `jwks_max_age`
    /// ago; never fetches.
    pub async fn fresh_key(&self, kid: &str, algorithm: Algorithm) -> Option<DecodingKey> {
        let state = self.state.lock().await;
        let fresh = state
            .fetched_at
            .is_some_and(|at| at.elapsed() < self.max_age);
        fresh.then(|| state.keys.get(kid, algorithm)).flatten()
    }

    /// The issuer's key `kid` for `algorithm`, after fetching the set again if the last fetch
    /// (or attempt) was `jwks_refresh` ago or more; from the last set fetched otherwise, or
    /// when the fetch fails.
    pub async fn fetched_key(&self, kid: &str, algorithm: Algorithm) -> Option<DecodingKey> {
        let mut state = self.state.lock().await;
        let allowed = state
            .attempted_at
            .is_none_or(|at| at.elapsed() >= self.refresh);
        if allowed {
            state.attempted_at = Some(Instant::now());
            match self.fetch(&mut state).await {
                Ok(keys) => {
                    tracing::info!(keys = keys.len(), "fetched the issuer's signing keys");
                    state.keys = keys;
                    state.fetched_at = Some(Instant::now());
                }
                // The last set stays: an unreachable provider must not sign everyone out.
                Err(e) => {
                    tracing::warn!(error = %e, "the issuer's signing keys could not be fetched")
                }
            }
        }
        state.keys.get(kid, algorithm)
    }

    async fn fetch(&self, state: &mut State) -> Result<KeySet, String> {
        if state.client.is_none() {
            state.client = Some(DocumentClient::with_system_roots().map_err(|e| e.to_string())?);
        }
        let client = state.client.as_ref().ok_or("no client")?;
        let url = match (&state.jwks_url, &self.source) {
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
        state.jwks_url = Some(url.clone());
        let document = client
            .get(&url, FETCH_TIMEOUT, MAX_DOCUMENT_BYTES)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        KeySet::parse(&document).map_err(|e| format!("{url}: {e}"))
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
