//! Settings from environment variables, with the local defaults of API.md.
//!
//! The development defaults (DynamoDB Local endpoint, the documented dev secret and hash key)
//! apply only when `STAGE` is unset, i.e. on a developer's machine or in the tests.
//! `template.yaml` sets `STAGE` on every deployed function, so a deployed function that
//! lacks a secret refuses to start instead of running with a public one.

use std::time::Duration;

/// The HS256 secret local runs and tests use. Public by design: never valid on a deployed stage.
pub const DEV_JWT_HS256_SECRET: &str = "gharart-local-dev-secret-do-not-use-in-aws";
/// The visitor hash key of local runs and tests. Public by design, like the dev JWT secret.
pub const DEV_VISITOR_HASH_KEY: &str = "gharart-local-visitor-hash-key";
/// The rotating keys of local runs and tests. Public by design, like the dev JWT secret.
pub const DEV_ROTATING_KEYS: &str = "v1=gharart-local-rotating-key-v1";
/// The variables that hold secrets. On a deployed stage they come from its secret in Secrets
/// Manager (`SECRET_ID`, `secrets::load_settings`), never from the function's environment.
pub const SECRET_VARIABLES: [&str; 4] = [
    "VISITOR_HASH_KEY",
    "ROTATING_KEYS",
    "JWT_HS256_SECRET",
    "ORIGIN_SECRETS",
];
/// The shortest secret a deployed stage accepts: 256 bits, as HMAC-SHA256 wants.
pub const MIN_SECRET_BYTES: usize = 32;
/// The stages where real people's data lives: JWKS only, with a pinned issuer and audience.
const STRICT_STAGES: [&str; 2] = ["staging", "prod"];

#[derive(Clone, Debug)]
pub struct Settings {
    pub stage: Option<String>,
    pub table_name: String,
    pub dynamodb_endpoint: Option<String>,
    pub jwt: JwtSettings,
    /// Where the stage's secrets are (`SECRET_ID`, a Secrets Manager secret): set on deployed
    /// functions, which then take every variable of `SECRET_VARIABLES` from it.
    pub secret_id: Option<String>,
    pub keys: KeyMaterial,
    pub visitor_passes: VisitorPassSettings,
    pub limits: Limits,
    pub stuck_draft_after: Duration,
    /// How long a function instance trusts a cached personal access token: the revocation delay.
    pub pat_cache_ttl: Duration,
    /// `ORIGIN_SECRETS`: the values of `x-origin-verify` accepted, comma-separated (the one
    /// the stage's CloudFront distribution sends, and during a rotation the next or the last
    /// one). Empty (local runs and tests), every request is served; set, a request without
    /// one of them did not come through the edge and is refused (403 `EDGE_REQUIRED`).
    pub origin_secrets: Vec<Secret>,
    /// The storefront origins the public routes answer CORS for (`STOREFRONT_ORIGINS`).
    pub storefront_origins: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct JwtSettings {
    pub hs256_secret: Option<Secret>,
    /// A JWKS document (JSON) with RS256/ES256 public keys: the keys a JWT is checked with
    /// when the issuer's own are unknown or unreachable.
    pub jwks: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// Where the issuer publishes its keys (`JWT_JWKS_URL`); unset, the `jwks_uri` of the
    /// issuer's OpenID discovery document; neither without an issuer.
    pub jwks_url: Option<String>,
    /// The least time between two fetches of the issuer's keys (`JWT_JWKS_REFRESH_SECONDS`):
    /// tokens with unknown key ids cannot make a function hammer the identity provider.
    pub jwks_refresh: Duration,
    /// How long fetched keys are trusted without a fetch (`JWT_JWKS_MAX_AGE_SECONDS`): a key
    /// the issuer withdrew is refused within this.
    pub jwks_max_age: Duration,
}

/// Visitor passes (API.md, "Visitor passes"): the work a challenge asks for, how long a pass
/// lasts, and the key ids passes are signed under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisitorPassSettings {
    /// Leading zero bits of SHA-256(salt + nonce) a challenge asks for
    /// (`VISITOR_PASS_DIFFICULTY`, 1..=32).
    pub difficulty: u32,
    /// How long a pass is valid (`VISITOR_PASS_DAYS`).
    pub lifetime: Duration,
}

/// The service's own keys, by what they may be rotated with (docs/reference/configuration.md,
/// "Keys and their rotation"). Every key the code uses is derived from one of these for one
/// purpose (`keys::ServerKey`), so no derived key can stand in for another.
#[derive(Clone, Debug)]
pub struct KeyMaterial {
    /// `VISITOR_HASH_KEY`: visitor keys and the participant pseudonyms. It cannot rotate:
    /// every stored interest, entry, waitlist place and limit counter is found by the keyed
    /// hash of its visitor, so a new key would make every visitor a stranger to their own
    /// registrations (and able to register again).
    pub pseudonym: Secret,
    /// `ROTATING_KEYS`: `id=secret` pairs, the current one first. Cursors, visitor challenges,
    /// visitor passes and idempotency records are signed, sealed or keyed with the first and
    /// accepted under any, so a new key is added first and an old one removed once what it
    /// signed has expired (passes: `VISITOR_PASS_DAYS`; idempotency records: 24 h).
    pub rotating: Vec<(String, Secret)>,
}

/// The most leading zero bits a challenge may ask for: about 4 billion hashes already.
pub const MAX_VISITOR_PASS_DIFFICULTY: u32 = 32;

/// Parses `ROTATING_KEYS`: comma-separated `id=secret` pairs, the current one first; ids of 1
/// to 32 characters of `A-Z a-z 0-9 -`, no id twice, no empty secret.
fn rotating_keys(raw: &str) -> Result<Vec<(String, Secret)>, ConfigError> {
    let invalid = ConfigError::Invalid {
        name: "ROTATING_KEYS",
        expected: "comma-separated id=secret pairs (ids: 1 to 32 of A-Z a-z 0-9 -), the \
                   current one first",
    };
    let mut keys: Vec<(String, Secret)> = Vec::new();
    for pair in raw.split(',') {
        let (id, secret) = pair.split_once('=').ok_or_else(|| invalid.clone())?;
        let id = id.trim();
        let well_formed = (1..=32).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !well_formed || secret.is_empty() || keys.iter().any(|(seen, _)| seen == id) {
            return Err(invalid);
        }
        keys.push((id.to_owned(), Secret::new(secret)));
    }
    Ok(keys)
}

/// The storefront origins of local runs: the local console's (scripts/dev.sh serves the
/// storefront demo page there), under both of its names.
pub const DEV_STOREFRONT_ORIGINS: &str = "http://127.0.0.1:9080,http://localhost:9080";

/// Parses `STOREFRONT_ORIGINS`: comma-separated origins, each `https://host[:port]` (or
/// `http://` for a local one), no path, no wildcard. Unset: none, and no CORS at all.
fn storefront_origins(raw: Option<String>) -> Result<Vec<String>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|origin| {
            let host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            let well_formed = host.is_some_and(|h| {
                !h.is_empty()
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            });
            match well_formed {
                true => Ok(origin.to_ascii_lowercase()),
                false => Err(ConfigError::Invalid {
                    name: "STOREFRONT_ORIGINS",
                    expected: "comma-separated origins, each https://host[:port] with no path \
                               or wildcard",
                }),
            }
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub daily_writes_per_handle: u32,
    pub daily_interest_writes_per_visitor: u32,
    pub daily_support_reports_per_caller: u32,
    /// Entries a draw takes at most (`DRAW_MAX_ENTRIES`).
    pub draw_max_entries: u32,
}

/// A secret that never shows in `Debug` output, and so never in a log line.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is required on a deployed stage")]
    Missing { name: &'static str },
    #[error("{name} must be {expected}")]
    Invalid {
        name: &'static str,
        expected: &'static str,
    },
    #[error("{name} is not accepted on stage {stage}: {why}")]
    Refused {
        name: &'static str,
        stage: String,
        why: &'static str,
    },
}

/// What a function that only reads and writes the table needs (the scheduled expiry): no key,
/// no secret, so its role need not read the stage's secret.
#[derive(Clone, Debug)]
pub struct TableSettings {
    pub table_name: String,
    pub dynamodb_endpoint: Option<String>,
}

impl TableSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let local = var("STAGE").is_none();
        Ok(Self {
            table_name: match (var("TABLE_NAME"), local) {
                (Some(table), _) => table,
                (None, true) => "gharart-group-buys-local".to_owned(),
                (None, false) => return Err(ConfigError::Missing { name: "TABLE_NAME" }),
            },
            dynamodb_endpoint: var("DYNAMODB_ENDPOINT")
                .or_else(|| local.then(|| "http://127.0.0.1:8000".to_owned())),
        })
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Settings from any source of variables; `from_env` uses the process environment.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let stage = var("STAGE");
        let local = stage.is_none();
        let with_dev_default = |name: &'static str, dev: &str| match (var(name), local) {
            (Some(value), _) => Ok(value),
            (None, true) => Ok(dev.to_owned()),
            (None, false) => Err(ConfigError::Missing { name }),
        };
        let number = |name: &'static str, default: u32| match var(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(ConfigError::Invalid {
                    name,
                    expected: "a positive whole number",
                }),
        };
        let table = TableSettings::from_lookup(&var)?;
        let jwks = var("JWT_JWKS");
        let hs256_secret = match (var("JWT_HS256_SECRET"), local) {
            (Some(secret), _) => Some(Secret::new(secret)),
            (None, true) => Some(Secret::new(DEV_JWT_HS256_SECRET)),
            (None, false) if jwks.is_some() => None,
            (None, false) => {
                return Err(ConfigError::Missing {
                    name: "JWT_JWKS or JWT_HS256_SECRET",
                });
            }
        };
        let settings = Self {
            table_name: table.table_name,
            dynamodb_endpoint: table.dynamodb_endpoint,
            jwt: JwtSettings {
                hs256_secret,
                jwks,
                issuer: var("JWT_ISSUER"),
                audience: var("JWT_AUDIENCE"),
                jwks_url: var("JWT_JWKS_URL"),
                jwks_refresh: Duration::from_secs(number("JWT_JWKS_REFRESH_SECONDS", 60)?.into()),
                jwks_max_age: Duration::from_secs(number("JWT_JWKS_MAX_AGE_SECONDS", 3600)?.into()),
            },
            secret_id: var("SECRET_ID"),
            keys: KeyMaterial {
                pseudonym: Secret::new(with_dev_default("VISITOR_HASH_KEY", DEV_VISITOR_HASH_KEY)?),
                rotating: rotating_keys(&with_dev_default("ROTATING_KEYS", DEV_ROTATING_KEYS)?)?,
            },
            visitor_passes: VisitorPassSettings {
                difficulty: match number("VISITOR_PASS_DIFFICULTY", 18)? {
                    d if d <= MAX_VISITOR_PASS_DIFFICULTY => d,
                    _ => {
                        return Err(ConfigError::Invalid {
                            name: "VISITOR_PASS_DIFFICULTY",
                            expected: "a whole number from 1 to 32",
                        });
                    }
                },
                lifetime: Duration::from_secs(
                    u64::from(number("VISITOR_PASS_DAYS", 30)?) * 24 * 3600,
                ),
            },
            limits: Limits {
                daily_writes_per_handle: number("DAILY_WRITE_LIMIT_PER_HANDLE", 1000)?,
                daily_interest_writes_per_visitor: number(
                    "DAILY_INTEREST_WRITES_PER_VISITOR",
                    100,
                )?,
                daily_support_reports_per_caller: number("DAILY_SUPPORT_REPORTS_PER_CALLER", 20)?,
                // Each of a draw's 16 entry shards takes a sixteenth (domain::draw).
                draw_max_entries: match number("DRAW_MAX_ENTRIES", 100_000)? {
                    n if n >= 16 => n,
                    _ => {
                        return Err(ConfigError::Invalid {
                            name: "DRAW_MAX_ENTRIES",
                            expected: "a whole number of at least 16 (one per entry shard)",
                        });
                    }
                },
            },
            stuck_draft_after: Duration::from_secs(
                u64::from(number("STUCK_DRAFT_HOURS", 24)?) * 3600,
            ),
            pat_cache_ttl: Duration::from_secs(u64::from(number("PAT_CACHE_SECONDS", 30)?)),
            storefront_origins: storefront_origins(
                var("STOREFRONT_ORIGINS")
                    .or_else(|| local.then(|| DEV_STOREFRONT_ORIGINS.to_owned())),
            )?,
            origin_secrets: var("ORIGIN_SECRETS")
                .map(|raw| {
                    raw.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(Secret::new)
                        .collect()
                })
                .unwrap_or_default(),
            stage,
        };
        settings.check_stage_rules()?;
        Ok(settings)
    }

    /// What a deployed stage refuses to start without: secrets of at least 32 bytes; and on
    /// staging and prod, JWKS keys only (no HS256) with a required issuer and audience, so a
    /// token minted for another system or stage is never accepted.
    fn check_stage_rules(&self) -> Result<(), ConfigError> {
        let Some(stage) = self.stage.as_deref() else {
            return Ok(());
        };
        let short = |secret: &Secret| secret.expose().len() < MIN_SECRET_BYTES;
        let too_short = |name| ConfigError::Invalid {
            name,
            expected: "at least 32 bytes on a deployed stage",
        };
        if short(&self.keys.pseudonym) {
            return Err(too_short("VISITOR_HASH_KEY"));
        }
        if self.keys.rotating.iter().any(|(_, secret)| short(secret)) {
            return Err(too_short("ROTATING_KEYS"));
        }
        // A deployed stage is reached through its CloudFront distribution only.
        if self.origin_secrets.is_empty() {
            return Err(ConfigError::Missing {
                name: "ORIGIN_SECRETS",
            });
        }
        if self.origin_secrets.iter().any(short) {
            return Err(too_short("ORIGIN_SECRETS"));
        }
        if self.jwt.hs256_secret.as_ref().is_some_and(short) {
            return Err(too_short("JWT_HS256_SECRET"));
        }
        if !STRICT_STAGES.contains(&stage) {
            return Ok(());
        }
        let refused = |name, why| ConfigError::Refused {
            name,
            stage: stage.to_owned(),
            why,
        };
        if self.jwt.hs256_secret.is_some() {
            return Err(refused(
                "JWT_HS256_SECRET",
                "only JWKS keys (RS256, ES256) are",
            ));
        }
        if self.jwt.jwks.is_none() {
            return Err(ConfigError::Missing { name: "JWT_JWKS" });
        }
        if self.jwt.issuer.is_none() {
            return Err(ConfigError::Missing { name: "JWT_ISSUER" });
        }
        if self.jwt.audience.is_none() {
            return Err(ConfigError::Missing {
                name: "JWT_AUDIENCE",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn local_runs_get_the_documented_defaults() {
        let s = settings(&[]).expect("local defaults");
        assert_eq!(s.table_name, "gharart-group-buys-local");
        assert_eq!(
            s.dynamodb_endpoint.as_deref(),
            Some("http://127.0.0.1:8000")
        );
        assert_eq!(s.limits.daily_writes_per_handle, 1000);
        assert_eq!(s.stuck_draft_after, Duration::from_secs(24 * 3600));
    }

    #[test]
    fn deployed_stages_never_fall_back_to_dev_secrets() {
        let err = settings(&[("STAGE", "prod"), ("TABLE_NAME", "t")]).expect_err("no keys");
        assert!(matches!(err, ConfigError::Missing { .. }));
        let s = settings(&[
            ("STAGE", "prod"),
            ("TABLE_NAME", "t"),
            ("JWT_JWKS", "{\"keys\":[]}"),
            ("JWT_ISSUER", "https://id.gharart.com"),
            ("JWT_AUDIENCE", "group-buys"),
            ("VISITOR_HASH_KEY", LONG_KEY),
            ("ROTATING_KEYS", ROTATING),
            ("ORIGIN_SECRETS", ORIGIN),
        ])
        .expect("deployed settings");
        assert!(s.jwt.hs256_secret.is_none());
        assert!(s.dynamodb_endpoint.is_none());
    }

    const LONG_KEY: &str = "0123456789abcdef0123456789abcdef";
    const ROTATING: &str = "k2=0123456789abcdef0123456789abcdef";
    const ORIGIN: &str = "origin-0123456789abcdef0123456789";

    fn strict(
        stage: &str,
        overrides: &[(&'static str, &'static str)],
    ) -> Result<Settings, ConfigError> {
        let mut vars = vec![
            ("STAGE", stage),
            ("TABLE_NAME", "t"),
            ("JWT_JWKS", "{\"keys\":[]}"),
            ("JWT_ISSUER", "https://id.gharart.com"),
            ("JWT_AUDIENCE", "group-buys"),
            ("VISITOR_HASH_KEY", LONG_KEY),
            ("ROTATING_KEYS", ROTATING),
            ("ORIGIN_SECRETS", ORIGIN),
        ];
        for (name, value) in overrides {
            vars.retain(|(n, _)| n != name);
            if !value.is_empty() {
                vars.push((name, value));
            }
        }
        settings(&vars)
    }

    #[test]
    fn staging_and_prod_refuse_to_start_without_issuer_audience_or_with_hs256() {
        for stage in ["staging", "prod"] {
            assert!(strict(stage, &[]).is_ok());
            for missing in ["JWT_ISSUER", "JWT_AUDIENCE", "JWT_JWKS"] {
                let err = strict(stage, &[(missing, "")]).expect_err(missing);
                assert!(err.to_string().contains(missing), "{err}");
            }
            let err = strict(stage, &[("JWT_HS256_SECRET", LONG_KEY)]).expect_err("HS256");
            assert!(matches!(err, ConfigError::Refused { .. }), "{err}");
        }
        assert!(strict("dev", &[("JWT_HS256_SECRET", LONG_KEY), ("JWT_ISSUER", "")]).is_ok());
    }

    #[test]
    fn deployed_stages_refuse_short_secrets() {
        for stage in ["dev", "staging", "prod"] {
            let err = strict(stage, &[("VISITOR_HASH_KEY", "short")]).expect_err("short key");
            assert!(err.to_string().contains("VISITOR_HASH_KEY"), "{err}");
            let err = strict(stage, &[("ROTATING_KEYS", "k2=short")]).expect_err("short key");
            assert!(err.to_string().contains("ROTATING_KEYS"), "{err}");
            let err = strict(stage, &[("ORIGIN_SECRETS", "")]).expect_err("no origin secret");
            assert!(err.to_string().contains("ORIGIN_SECRETS"), "{err}");
            let err = strict(stage, &[("ORIGIN_SECRETS", "short")]).expect_err("short secret");
            assert!(err.to_string().contains("ORIGIN_SECRETS"), "{err}");
        }
        let err = strict("dev", &[("JWT_HS256_SECRET", "short")]).expect_err("short secret");
        assert!(err.to_string().contains("JWT_HS256_SECRET"), "{err}");
    }

    #[test]
    fn secrets_do_not_print() {
        let s = settings(&[("JWT_HS256_SECRET", "hunter2")]).expect("settings");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn visitor_pass_settings_have_defaults_and_are_checked() {
        let s = settings(&[]).expect("defaults");
        assert_eq!(s.visitor_passes.difficulty, 18);
        assert_eq!(
            s.visitor_passes.lifetime,
            Duration::from_secs(30 * 24 * 3600)
        );
        assert!(settings(&[("VISITOR_PASS_DAYS", "0")]).is_err());
        assert!(settings(&[("VISITOR_PASS_DIFFICULTY", "33")]).is_err());
        assert!(settings(&[("VISITOR_PASS_DIFFICULTY", "0")]).is_err());
    }

    #[test]
    fn rotating_keys_are_id_secret_pairs_the_current_first() {
        let ids = |s: &Settings| -> Vec<String> {
            s.keys.rotating.iter().map(|(id, _)| id.clone()).collect()
        };
        assert_eq!(ids(&settings(&[]).expect("defaults")), ["v1"]);
        let s = settings(&[("ROTATING_KEYS", "v2=two, v1=one")]).expect("rotated");
        assert_eq!(ids(&s), ["v2", "v1"]);
        assert_eq!(s.keys.rotating[1].1.expose(), "one");
        for bad in ["", "v1", "v1=a,v1=b", "v 1=a", "v1=a,,v2=b", "v1="] {
            assert!(settings(&[("ROTATING_KEYS", bad)]).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_must_be_positive_numbers() {
        assert!(settings(&[("DAILY_WRITE_LIMIT_PER_HANDLE", "0")]).is_err());
        assert!(settings(&[("STUCK_DRAFT_HOURS", "soon")]).is_err());
        // One entry per shard at least.
        assert!(settings(&[("DRAW_MAX_ENTRIES", "15")]).is_err());
        assert!(settings(&[("DRAW_MAX_ENTRIES", "16")]).is_ok());
    }

    #[test]
    fn storefront_origins_are_bare_origins() {
        let local = settings(&[]).expect("local defaults");
        assert_eq!(
            local.storefront_origins,
            ["http://127.0.0.1:9080", "http://localhost:9080"]
        );
        let s = settings(&[(
            "STOREFRONT_ORIGINS",
            "https://Shop.example, https://b.example:8443",
        )])
        .expect("origins");
        assert_eq!(
            s.storefront_origins,
            ["https://shop.example", "https://b.example:8443"]
        );
        for bad in [
            "*",
            "https://*.example",
            "https://shop.example/",
            "shop.example",
            "ftp://a",
        ] {
            assert!(settings(&[("STOREFRONT_ORIGINS", bad)]).is_err(), "{bad}");
        }
    }
}
