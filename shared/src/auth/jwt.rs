//! JWT verification. Keys come from configuration: an HS256 secret (local and test stages) and
//! a JWKS document of RS256/ES256 public keys selected by `kid`. A token is checked only with
//! a key of its own algorithm, so `alg: none` and algorithm confusion fail by construction.

use super::AuthError;
use super::jwks::{IssuerKeys, KeySet, Lookup};
use super::{CredentialKind, Principal};
use crate::configuration::JwtSettings;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub use super::jwks::KeyError;

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 60;

pub struct JwtVerifier {
    hs256: Option<DecodingKey>,
    /// `JWT_JWKS`: the fallback when the issuer's own keys are unknown or unreachable.
    configured: KeySet,
    /// The issuer's keys, fetched from its JWKS URL (`jwks`).
    issuer_keys: Option<IssuerKeys>,
    issuer: Option<String>,
    audience: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    scope: Option<String>,
    scp: Option<Vec<String>>,
    #[serde(default)]
    handles: Vec<String>,
    #[serde(default)]
    roles: Vec<String>,
}

impl JwtVerifier {
    pub fn new(settings: &JwtSettings) -> Result<Self, KeyError> {
        let configured = match &settings.jwks {
            Some(document) => KeySet::parse(document.as_bytes())?,
            None => KeySet::default(),
        };
        Ok(Self {
            hs256: settings
                .hs256_secret
                .as_ref()
                .map(|s| DecodingKey::from_secret(s.expose().as_bytes())),
            configured,
            issuer_keys: IssuerKeys::new(settings)?,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
        })
    }

    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::Unauthenticated("the token is not a valid JWT"))?;
        let algorithm = header.alg;
        let key = match (algorithm, header.kid) {
            (Algorithm::HS256, _) => self.hs256.clone(),
            (Algorithm::RS256 | Algorithm::ES256, Some(kid)) => self.key(&kid, algorithm).await,
            _ => None,
        }
        .ok_or(AuthError::Unauthenticated(
            "the token is not signed with a configured key",
        ))?;
        self.check(token, algorithm, &key)
    }

    /// The public key `kid` for `algorithm`. The issuer's set decides while it is fresh (a key
    /// it lacks is refused, unless fetching it again shows the key); the configured keys serve
    /// while no fresh set is known: before the first fetch (a configured key then needs none)
    /// and while the issuer cannot be reached.
    async fn key(&self, kid: &str, algorithm: Algorithm) -> Option<DecodingKey> {
        let Some(issuer) = &self.issuer_keys else {
            return self.configured.get(kid, algorithm);
        };
        match issuer.lookup(kid, algorithm) {
            Lookup::Found(key) => return Some(key),
            Lookup::Unknown if !issuer.ever_fetched() => {
                if let Some(key) = self.configured.get(kid, algorithm) {
                    return Some(key);
                }
            }
            Lookup::Refused | Lookup::Stale(_) | Lookup::Unknown => {}
        }
        match issuer.refetched(kid, algorithm).await {
            Lookup::Found(key) | Lookup::Stale(key) => Some(key),
            Lookup::Refused => None,
            Lookup::Unknown => self.configured.get(kid, algorithm),
        }
    }

    /// The claims of `token`, signed with `key` under `algorithm`, if they are valid.
    fn check(
        &self,
        token: &str,
        algorithm: Algorithm,
        key: &DecodingKey,
    ) -> Result<Principal, AuthError> {
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        // A configured issuer or audience must also be present, not merely right if present.
        match &self.issuer {
            Some(iss) => {
                validation.set_issuer(&[iss]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match &self.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|_| AuthError::Unauthenticated("the token is invalid or expired"))?
            .claims;
        let scopes = match (claims.scope, claims.scp) {
            (Some(scope), _) => scope.split_whitespace().map(str::to_owned).collect(),
            (None, Some(scp)) => scp,
            (None, None) => Vec::new(),
        };
        Ok(Principal {
            subject: claims.sub,
            kind: CredentialKind::Jwt,
            scopes,
            handles: claims.handles,
            roles: claims.roles,
        })
    }
}

/// The claims of a token minted for local and test stages (see the operator tool).
#[derive(Clone, Debug, Serialize)]
pub struct DevClaims {
    pub sub: String,
    pub handles: Vec<String>,
    pub scope: String,
    pub roles: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

impl DevClaims {
    /// A token valid for `lifetime_seconds` from now.
    pub fn new(sub: &str, handles: &[&str], scope: &str, lifetime_seconds: i64) -> Self {
        let now = chrono::Utc::now().timestamp();
        Self {
            sub: sub.into(),
            handles: handles.iter().map(|h| h.to_string()).collect(),
            scope: scope.into(),
            roles: Vec::new(),
            iat: now,
            exp: now + lifetime_seconds,
            iss: None,
            aud: None,
        }
    }

    pub fn sign_hs256(&self, secret: &str) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            self,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::Secret;
    use std::time::Duration;

    impl JwtVerifier {
        /// `verify`, run to its end: these tests' keys are all configured, nothing is fetched.
        fn verify_now(&self, token: &str) -> Result<Principal, AuthError> {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(self.verify(token))
        }
    }

    const SECRET: &str = "test-secret";

    fn verifier(issuer: Option<&str>, audience: Option<&str>) -> JwtVerifier {
        JwtVerifier::new(&JwtSettings {
            hs256_secret: Some(Secret::new(SECRET)),
            jwks: None,
            issuer: issuer.map(String::from),
            audience: audience.map(String::from),
            jwks_url: None,
            jwks_refresh: Duration::from_secs(60),
            jwks_max_age: Duration::from_secs(3600),
        })
        .expect("verifier")
    }

    fn token(claims: &DevClaims) -> String {
        claims.sign_hs256(SECRET).expect("signed")
    }

    fn claims() -> DevClaims {
        DevClaims::new("alice", &["acme"], "group-buys:read group-buys:write", 600)
    }

    #[test]
    fn accepts_a_valid_token_and_reads_its_claims() {
        let principal = verifier(None, None)
            .verify_now(&token(&claims()))
            .expect("valid");
        assert_eq!(principal.subject, "alice");
        assert_eq!(principal.scopes, ["group-buys:read", "group-buys:write"]);
        assert_eq!(principal.handles, ["acme"]);
    }

    #[test]
    fn tolerates_a_minute_of_skew_and_no_more() {
        let mut c = claims();
        c.exp = chrono::Utc::now().timestamp() - 30;
        assert!(verifier(None, None).verify_now(&token(&c)).is_ok());
        c.exp = chrono::Utc::now().timestamp() - 120;
        assert!(verifier(None, None).verify_now(&token(&c)).is_err());
    }

    #[test]
    fn refuses_alg_none_and_bad_signatures() {
        let signed = token(&claims());
        let mut parts = signed.split('.');
        let (_, payload) = (parts.next(), parts.next().unwrap_or_default());
        let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"; // {"alg":"none","typ":"JWT"}
        assert!(
            verifier(None, None)
                .verify_now(&format!("{none_header}.{payload}."))
                .is_err()
        );
        let other = claims().sign_hs256("another-secret").expect("signed");
        assert!(verifier(None, None).verify_now(&other).is_err());
    }

    #[test]
    fn checks_issuer_and_audience_when_configured() {
        let mut c = claims();
        assert!(
            verifier(Some("gharart"), None)
                .verify_now(&token(&c))
                .is_err()
        );
        c.iss = Some("gharart".into());
        c.aud = Some("group-buys".into());
        assert!(
            verifier(Some("gharart"), Some("group-buys"))
                .verify_now(&token(&c))
                .is_ok()
        );
        assert!(
            verifier(Some("gharart"), Some("other"))
                .verify_now(&token(&c))
                .is_err()
        );
    }

    #[test]
    fn reads_scp_arrays() {
        #[derive(Serialize)]
        struct ScpClaims {
            sub: &'static str,
            scp: [&'static str; 1],
            exp: i64,
        }
        let t = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &ScpClaims {
                sub: "bob",
                scp: ["group-buys:read"],
                exp: chrono::Utc::now().timestamp() + 60,
            },
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .expect("signed");
        let principal = verifier(None, None).verify_now(&t).expect("valid");
        assert_eq!(principal.scopes, ["group-buys:read"]);
        assert!(principal.handles.is_empty());
    }

    mod key_sets {
        use super::*;
        use serde_json::{Value, json};

        const JWKS: &str = include_str!("testdata/jwks.json");
        const RSA_A: &str = include_str!("testdata/rsa-2026a.pem");
        const RSA_B: &str = include_str!("testdata/rsa-2026b.pem");
        const RSA_A_PUBLIC: &str = include_str!("testdata/rsa-2026a.pub.pem");
        const EC_A: &str = include_str!("testdata/ec-2026a.pem");

        fn jwks_verifier(jwks: &str, hs256: Option<&str>) -> JwtVerifier {
            JwtVerifier::new(&JwtSettings {
                hs256_secret: hs256.map(Secret::new),
                jwks: Some(jwks.to_owned()),
                issuer: None,
                audience: None,
                jwks_url: None,
                jwks_refresh: Duration::from_secs(60),
                jwks_max_age: Duration::from_secs(3600),
            })
            .expect("verifier")
        }

        /// The JWKS without the keys named in `drop`: what a stage has after rotating them out.
        fn jwks_without(drop: &[&str]) -> String {
            let mut set: Value = serde_json::from_str(JWKS).expect("jwks");
            if let Some(keys) = set["keys"].as_array_mut() {
                keys.retain(|k| !drop.contains(&k["kid"].as_str().unwrap_or_default()));
            }
            set.to_string()
        }

        fn claims(extra: Value) -> Value {
            let now = chrono::Utc::now().timestamp();
            let mut claims = json!({"sub": "alice", "scope": "group-buys:read", "exp": now + 600});
            if let (Some(c), Value::Object(extra)) = (claims.as_object_mut(), extra) {
                c.extend(extra);
            }
            claims
        }

        fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
            let mut header = Header::new(alg);
            header.kid = kid.map(String::from);
            jsonwebtoken::encode(&header, claims, key).expect("signed")
        }

        fn rs256(kid: &str, pem: &str, claims: &Value) -> String {
            let key = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("rsa key");
            sign(Algorithm::RS256, Some(kid), &key, claims)
        }

        #[test]
        fn rs256_and_es256_verify_by_kid() {
            let verifier = jwks_verifier(JWKS, None);
            assert!(
                verifier
                    .verify_now(&rs256("rsa-2026a", RSA_A, &claims(json!({}))))
                    .is_ok()
            );
            assert!(
                verifier
                    .verify_now(&rs256("rsa-2026b", RSA_B, &claims(json!({}))))
                    .is_ok()
            );
            let ec = EncodingKey::from_ec_pem(EC_A.as_bytes()).expect("ec key");
            let es256 = sign(Algorithm::ES256, Some("ec-2026a"), &ec, &claims(json!({})));
            assert_eq!(
                verifier
                    .verify_now(&es256)
                    .map(|p| p.subject)
                    .ok()
                    .as_deref(),
                Some("alice")
            );
        }

        #[test]
        fn keys_rotate_without_a_code_change() {
            let token_a = rs256("rsa-2026a", RSA_A, &claims(json!({})));
            let token_b = rs256("rsa-2026b", RSA_B, &claims(json!({})));
            let rotated = jwks_verifier(&jwks_without(&["rsa-2026a"]), None);
            assert!(
                rotated.verify_now(&token_a).is_err(),
                "a retired key no longer verifies"
            );
            assert!(rotated.verify_now(&token_b).is_ok());
        }

        #[test]
        fn unknown_missing_and_mismatched_kids_are_refused() {
            let verifier = jwks_verifier(JWKS, None);
            let c = claims(json!({}));
            assert!(
                verifier.verify_now(&rs256("rsa-2099", RSA_A, &c)).is_err(),
                "unknown kid"
            );
            let key = EncodingKey::from_rsa_pem(RSA_A.as_bytes()).expect("rsa key");
            assert!(
                verifier
                    .verify_now(&sign(Algorithm::RS256, None, &key, &c))
                    .is_err(),
                "no kid"
            );
            assert!(
                verifier.verify_now(&rs256("rsa-2026b", RSA_A, &c)).is_err(),
                "another key's kid"
            );
            assert!(
                verifier.verify_now(&rs256("ec-2026a", RSA_A, &c)).is_err(),
                "an EC key's kid"
            );
        }

        /// The classic confusion: an HS256 token "signed" with the RSA public key as the
        /// HMAC secret. Refused whether or not HS256 is configured.
        #[test]
        fn algorithm_confusion_is_refused() {
            let forged_key = EncodingKey::from_secret(RSA_A_PUBLIC.as_bytes());
            let forged = sign(
                Algorithm::HS256,
                Some("rsa-2026a"),
                &forged_key,
                &claims(json!({})),
            );
            assert!(jwks_verifier(JWKS, None).verify_now(&forged).is_err());
            assert!(
                jwks_verifier(JWKS, Some("the-real-hs256-secret"))
                    .verify_now(&forged)
                    .is_err()
            );
            let rs384 = EncodingKey::from_rsa_pem(RSA_A.as_bytes()).expect("rsa key");
            let other_alg = sign(
                Algorithm::RS384,
                Some("rsa-2026a"),
                &rs384,
                &claims(json!({})),
            );
            assert!(
                jwks_verifier(JWKS, None).verify_now(&other_alg).is_err(),
                "RS384 is not configured"
            );
        }

        #[test]
        fn nbf_in_the_future_is_refused_beyond_the_skew() {
            let verifier = jwks_verifier(JWKS, None);
            let now = chrono::Utc::now().timestamp();
            let soon = claims(json!({"nbf": now + 30}));
            assert!(
                verifier
                    .verify_now(&rs256("rsa-2026a", RSA_A, &soon))
                    .is_ok(),
                "within skew"
            );
            let later = claims(json!({"nbf": now + 300}));
            assert!(
                verifier
                    .verify_now(&rs256("rsa-2026a", RSA_A, &later))
                    .is_err()
            );
        }

        #[test]
        fn a_token_without_exp_is_refused() {
            let mut no_exp = claims(json!({}));
            no_exp.as_object_mut().map(|c| c.remove("exp"));
            let verifier = jwks_verifier(JWKS, None);
            assert!(
                verifier
                    .verify_now(&rs256("rsa-2026a", RSA_A, &no_exp))
                    .is_err()
            );
        }

        #[test]
        fn malformed_key_sets_stop_the_start() {
            let settings = |jwks: &str| JwtSettings {
                hs256_secret: None,
                jwks: Some(jwks.to_owned()),
                issuer: None,
                audience: None,
                jwks_url: None,
                jwks_refresh: Duration::from_secs(60),
                jwks_max_age: Duration::from_secs(3600),
            };
            assert!(JwtVerifier::new(&settings("not json")).is_err());
            assert!(
                JwtVerifier::new(&settings(
                    r#"{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0"}]}"#
                ))
                .is_err()
            );
        }

        /// Two keys under one `kid` would leave which one verifies to the order of the
        /// document: a rotation gone wrong, refused at start rather than half-applied.
        #[test]
        fn a_duplicate_kid_stops_the_start() {
            let mut set: Value = serde_json::from_str(JWKS).expect("jwks");
            if let Some(keys) = set["keys"].as_array_mut() {
                // rsa-2026b's key published again under rsa-2026a's kid.
                let mut twin = keys[1].clone();
                twin["kid"] = json!("rsa-2026a");
                keys.push(twin);
            }
            let result = JwtVerifier::new(&JwtSettings {
                hs256_secret: None,
                jwks: Some(set.to_string()),
                issuer: None,
                audience: None,
                jwks_url: None,
                jwks_refresh: Duration::from_secs(60),
                jwks_max_age: Duration::from_secs(3600),
            });
            assert!(
                matches!(result, Err(KeyError::DuplicateKid(ref kid)) if kid == "rsa-2026a"),
                "a duplicate kid must be refused"
            );
        }
    }
}
