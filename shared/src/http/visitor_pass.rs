//! Visitor passes and the proof-of-work challenges that buy them (API.md, "Visitor passes").
//!
//! Both are stateless tokens signed with HMAC-SHA256 under keys derived from the server key:
//!
//! - a challenge, `c1.<salt>.<difficulty>.<expires>.<signature>`, names its random salt, the
//!   leading zero bits it asks for and its expiry (epoch seconds); the service keeps nothing
//!   for it until it is redeemed (the store's one redemption item, `redeem_challenge`);
//! - a pass, `p1.<kid>.<visitor>.<expires>.<signature>`, names the rotating key it is signed
//!   under (`ROTATING_KEYS`), a random visitor id the service chose (128 bits) and its expiry.
//!
//! Both are signed under the current rotating key and accepted under any: a rotation adds a
//! key first and loses no pass or challenge until the old key is removed.
//!
//! Neither is ever logged, and neither is stored: only the keyed hash of the visitor is.

use crate::configuration::VisitorPassSettings;
use crate::domain::Timestamp;
use crate::http::ApiError;
use crate::keys::{HmacSha256, ServerKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;
use sha2::{Digest, Sha256};

/// How long a challenge may be redeemed after it was issued (API.md: 5 minutes).
pub const CHALLENGE_SECONDS: i64 = 5 * 60;
/// Random bytes of a challenge's salt and of a pass's visitor id: 128 bits.
const RANDOM_BYTES: usize = 16;
/// The longest nonce accepted: any u64 in decimal.
const MAX_NONCE_DIGITS: usize = 20;
const CHALLENGE_VERSION: &str = "c1";
const PASS_VERSION: &str = "p1";

/// A challenge as issued: the token and what the client needs to solve it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub token: String,
    pub salt: String,
    pub difficulty: u32,
    pub expires_at: Timestamp,
}

/// A challenge whose signature, expiry and solution held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Solved {
    /// What names the challenge's one redemption.
    pub salt: String,
    pub expires_epoch: i64,
}

/// A pass as issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedPass {
    pub token: String,
    pub expires_at: Timestamp,
}

/// The keys and rules of challenges and passes, built once per function instance.
pub struct VisitorPasses {
    /// One per rotating key, the current one (which signs) first.
    challenge_keys: Vec<[u8; 32]>,
    /// Every accepted key id with its key, the current one first.
    pass_keys: Vec<(String, [u8; 32])>,
    difficulty: u32,
    lifetime_seconds: i64,
}

fn timestamp(epoch_seconds: i64) -> Timestamp {
    chrono::DateTime::from_timestamp(epoch_seconds, 0).map_or_else(Timestamp::now, Timestamp::from)
}

fn random_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; RANDOM_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn mac(key: &[u8; 32], signed: &str) -> HmacSha256 {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(signed.as_bytes());
    mac
}

fn sign(key: &[u8; 32], signed: &str) -> String {
    let signature = URL_SAFE_NO_PAD.encode(mac(key, signed).finalize().into_bytes());
    format!("{signed}.{signature}")
}

/// The signed part of `token` if its signature is `key`'s (compared in constant time).
fn verified<'t>(key: &[u8; 32], token: &'t str) -> Option<&'t str> {
    let (signed, signature) = token.rsplit_once('.')?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    mac(key, signed).verify_slice(&signature).ok()?;
    Some(signed)
}

/// Whether `digest` starts with at least `bits` zero bits.
pub fn leading_zero_bits(digest: &[u8]) -> u32 {
    let mut zeros = 0;
    for byte in digest {
        if *byte == 0 {
            zeros += 8;
        } else {
            return zeros + byte.leading_zeros();
        }
    }
    zeros
}

/// Whether `nonce` solves a challenge of `salt` at `difficulty` (API.md, step 2).
pub fn solves(salt: &str, nonce: &str, difficulty: u32) -> bool {
    let digest = Sha256::digest(format!("{salt}{nonce}").as_bytes());
    leading_zero_bits(&digest) >= difficulty
}

/// A nonce as API.md defines it: the decimal string of a non-negative integer.
pub fn well_formed_nonce(nonce: &str) -> bool {
    (1..=MAX_NONCE_DIGITS).contains(&nonce.len()) && nonce.bytes().all(|b| b.is_ascii_digit())
}

impl VisitorPasses {
    pub fn new(settings: &VisitorPassSettings, server_key: &ServerKey) -> Self {
        Self {
            challenge_keys: server_key.challenge_keys(),
            pass_keys: server_key.visitor_pass_keys(),
            difficulty: settings.difficulty,
            lifetime_seconds: i64::try_from(settings.lifetime.as_secs()).unwrap_or(i64::MAX),
        }
    }

    /// A new challenge, at the configured difficulty, valid for `CHALLENGE_SECONDS`.
    pub fn challenge(&self, now_epoch: i64) -> Result<Challenge, ApiError> {
        self.challenge_of(
            &random_id()?,
            self.difficulty,
            now_epoch + CHALLENGE_SECONDS,
        )
    }

    /// The challenge of `salt` at `difficulty`, expiring at `expires_epoch`, signed: what
    /// `challenge` issues, and what a test builds to have one already expired.
    pub fn challenge_of(
        &self,
        salt: &str,
        difficulty: u32,
        expires_epoch: i64,
    ) -> Result<Challenge, ApiError> {
        let key = self
            .challenge_keys
            .first()
            .ok_or_else(|| ApiError::Internal("no visitor challenge key".into()))?;
        let signed = format!("{CHALLENGE_VERSION}.{salt}.{difficulty}.{expires_epoch}");
        Ok(Challenge {
            token: sign(key, &signed),
            salt: salt.to_owned(),
            difficulty,
            expires_at: timestamp(expires_epoch),
        })
    }

    /// The challenge `token` solved by `nonce`, if it is one of ours, unexpired and solved:
    /// 400 `CHALLENGE_FAILED` otherwise, whatever the reason (the answer tells nothing more).
    pub fn check_solution(
        &self,
        token: &str,
        nonce: &str,
        now_epoch: i64,
    ) -> Result<Solved, ApiError> {
        let signed = self
            .challenge_keys
            .iter()
            .find_map(|key| verified(key, token))
            .ok_or(ApiError::ChallengeFailed)?;
        let mut parts = signed.split('.');
        let (Some(CHALLENGE_VERSION), Some(salt), Some(difficulty), Some(expires), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(ApiError::ChallengeFailed);
        };
        let difficulty: u32 = difficulty.parse().map_err(|_| ApiError::ChallengeFailed)?;
        let expires_epoch: i64 = expires.parse().map_err(|_| ApiError::ChallengeFailed)?;
        if expires_epoch <= now_epoch
            || !well_formed_nonce(nonce)
            || !solves(salt, nonce, difficulty)
        {
            return Err(ApiError::ChallengeFailed);
        }
        Ok(Solved {
            salt: salt.to_owned(),
            expires_epoch,
        })
    }

    /// A new pass for a new random visitor, under the current key id.
    pub fn issue(&self, now_epoch: i64) -> Result<IssuedPass, ApiError> {
        let (kid, _) = self
            .pass_keys
            .first()
            .ok_or_else(|| ApiError::Internal("no visitor pass key".into()))?;
        let expires_epoch = now_epoch.saturating_add(self.lifetime_seconds);
        self.pass_of(kid, &random_id()?, expires_epoch)
            .ok_or_else(|| ApiError::Internal("the current pass key is not accepted".into()))
    }

    /// The pass of `visitor` under `kid`, expiring at `expires_epoch`, if `kid` is accepted:
    /// what `issue` makes, and what a test builds to have one expired or under an old key.
    pub fn pass_of(&self, kid: &str, visitor: &str, expires_epoch: i64) -> Option<IssuedPass> {
        let (_, key) = self.pass_keys.iter().find(|(id, _)| id == kid)?;
        let signed = format!("{PASS_VERSION}.{kid}.{visitor}.{expires_epoch}");
        Some(IssuedPass {
            token: sign(key, &signed),
            expires_at: timestamp(expires_epoch),
        })
    }

    /// The visitor id a pass names, if it is signed under an accepted key id and unexpired:
    /// 401 `VISITOR_PASS_INVALID` otherwise.
    pub fn verify(&self, token: &str, now_epoch: i64) -> Result<String, ApiError> {
        let invalid = || ApiError::VisitorPassInvalid;
        let mut parts = token.splitn(3, '.');
        let (Some(PASS_VERSION), Some(kid)) = (parts.next(), parts.next()) else {
            return Err(invalid());
        };
        let (_, key) = self
            .pass_keys
            .iter()
            .find(|(id, _)| id == kid)
            .ok_or_else(invalid)?;
        let signed = verified(key, token).ok_or_else(invalid)?;
        let mut parts = signed.split('.').skip(2);
        let (Some(visitor), Some(expires), None) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let expires_epoch: i64 = expires.parse().map_err(|_| invalid())?;
        if expires_epoch <= now_epoch || visitor.is_empty() {
            return Err(invalid());
        }
        Ok(visitor.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::{KeyMaterial, Secret};
    use std::time::Duration;

    fn passes(kids: &[&str]) -> VisitorPasses {
        let rotating = kids
            .iter()
            .map(|kid| ((*kid).to_owned(), Secret::new(format!("test key {kid}"))))
            .collect();
        VisitorPasses::new(
            &VisitorPassSettings {
                difficulty: 4,
                lifetime: Duration::from_secs(3600),
            },
            &ServerKey::new(&KeyMaterial {
                pseudonym: Secret::new("test key"),
                rotating,
            }),
        )
    }

    fn solve(challenge: &Challenge) -> String {
        (0u64..)
            .map(|n| n.to_string())
            .find(|n| solves(&challenge.salt, n, challenge.difficulty))
            .expect("a nonce")
    }

    /// The pass tools/launch-load-test/load.py signs itself (`visitor_pass`), under the dev
    /// rotating key: the same bytes, so the two cannot drift apart unnoticed.
    #[test]
    fn a_pass_signed_elsewhere_with_the_same_key_verifies() {
        let settings = crate::configuration::Settings::from_lookup(|_| None).expect("dev");
        let p = VisitorPasses::new(&settings.visitor_passes, &ServerKey::new(&settings.keys));
        let vector = "p1.v1.AAAAAAAAAAAAAAAAAAAAAA.2000000000.\
                      zNilqsb7MOEIEVB1U6o5zFLSq2E5OeVz7fbC4Pyv7ZU";
        let pass = p
            .pass_of("v1", "AAAAAAAAAAAAAAAAAAAAAA", 2_000_000_000)
            .expect("pass");
        assert_eq!(pass.token, vector);
        assert_eq!(
            p.verify(vector, 1_999_999_999).expect("valid"),
            "AAAAAAAAAAAAAAAAAAAAAA"
        );
    }

    #[test]
    fn leading_zero_bits_counts_across_bytes() {
        assert_eq!(leading_zero_bits(&[0, 0, 0x10]), 19);
        assert_eq!(leading_zero_bits(&[0x80]), 0);
        assert_eq!(leading_zero_bits(&[0, 0]), 16);
    }

    #[test]
    fn a_solved_challenge_checks_and_a_tampered_or_late_one_does_not() {
        let p = passes(&["v1"]);
        let challenge = p.challenge(1000).expect("challenge");
        let nonce = solve(&challenge);
        let solved = p
            .check_solution(&challenge.token, &nonce, 1000)
            .expect("solved");
        assert_eq!(solved.salt, challenge.salt);
        assert!(
            p.check_solution(&challenge.token, &nonce, 1000 + CHALLENGE_SECONDS)
                .is_err()
        );
        let easier = challenge.token.replacen(".4.", ".0.", 1);
        assert!(p.check_solution(&easier, "0", 1000).is_err());
        assert!(p.check_solution(&challenge.token, "-1", 1000).is_err());
    }

    #[test]
    fn passes_verify_under_every_accepted_key_and_no_other() {
        let old = passes(&["v1"]);
        let pass = old.issue(1000).expect("pass");
        let visitor = old.verify(&pass.token, 1000).expect("valid");
        let rotated = passes(&["v2", "v1"]);
        assert_eq!(
            rotated.verify(&pass.token, 1000).expect("still valid"),
            visitor
        );
        assert!(
            rotated
                .issue(1000)
                .expect("pass")
                .token
                .starts_with("p1.v2.")
        );
        assert!(passes(&["v2"]).verify(&pass.token, 1000).is_err());
        assert!(old.verify(&pass.token, 1000 + 3600).is_err());
        let forged = pass.token.replacen(&visitor, "AAAAAAAAAAAAAAAAAAAAAA", 1);
        assert!(old.verify(&forged, 1000).is_err());
    }
}
