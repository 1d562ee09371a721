//! Who is calling, and what they may do. Credentials are verified in the function itself,
//! so a request behaves the same behind API Gateway, a Function URL and `cargo lambda watch`.

mod jwks;
pub mod jwt;
pub mod pat;

use crate::configuration::JwtSettings;
use crate::domain::Handle;
use crate::store::{Store, StoreError};
use lambda_http::http::{HeaderMap, header};
use pat::PatVerifier;
use std::time::Duration;

pub use jwt::{DevClaims, JwtVerifier};

/// Why a caller is not let in. The HTTP edge gives each its status (`http::error`).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credentials, or none that verify: the reason is safe to show.
    #[error("unauthenticated: {0}")]
    Unauthenticated(&'static str),
    /// Verified, but without the scope the route needs.
    #[error("missing scope {0}")]
    InsufficientScope(&'static str),
    /// Verified, but not for this handle (or without the role the route needs).
    #[error("handle forbidden")]
    HandleForbidden,
    /// A personal access token could not be looked up.
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    GroupBuysRead,
    GroupBuysWrite,
}

impl Scope {
    pub const ALL: [Self; 2] = [Self::GroupBuysRead, Self::GroupBuysWrite];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::GroupBuysRead => "group-buys:read",
            Self::GroupBuysWrite => "group-buys:write",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    Jwt,
    Pat,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jwt => "jwt",
            Self::Pat => "pat",
        }
    }
}

/// A verified caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub kind: CredentialKind,
    pub scopes: Vec<String>,
    pub handles: Vec<String>,
    pub roles: Vec<String>,
}

impl Principal {
    /// How the caller appears in a group-buy's history.
    pub fn actor(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.subject)
    }

    /// The caller may act on `handle` with `scope`: 403 `INSUFFICIENT_SCOPE` first, then
    /// 403 `HANDLE_FORBIDDEN`.
    pub fn authorize(&self, handle: &Handle, scope: Scope) -> Result<(), AuthError> {
        if !self.scopes.iter().any(|s| s == scope.as_str()) {
            return Err(AuthError::InsufficientScope(scope.as_str()));
        }
        if !self.handles.iter().any(|h| h == handle.as_str()) {
            return Err(AuthError::HandleForbidden);
        }
        Ok(())
    }
}

/// Verifies the credentials a request carries: a JWT, or a personal access token.
pub struct Authenticator {
    jwt: JwtVerifier,
    pats: PatVerifier,
}

impl Authenticator {
    pub fn new(
        settings: &JwtSettings,
        pat_cache_ttl: Duration,
        store: Store,
    ) -> Result<Self, jwt::KeyError> {
        Ok(Self {
            jwt: JwtVerifier::new(settings)?,
            pats: PatVerifier::new(store, pat_cache_ttl),
        })
    }

    /// The caller behind `Authorization: Bearer …` (the scheme in any case, RFC 9110
    /// §11.1); 401 when absent or not valid.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .ok_or(AuthError::Unauthenticated("no Authorization header"))?;
        let token = value
            .to_str()
            .ok()
            .and_then(bearer_token)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Unauthenticated(
                "the Authorization header is not a Bearer token",
            ))?;
        if token.starts_with(pat::PREFIX) {
            self.pats.verify(token).await
        } else {
            self.jwt.verify(token).await
        }
    }
}

/// The credentials of a `Bearer` authorization value; the scheme is case-insensitive and
/// separated from them by one or more spaces.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim())
}

#[cfg(test)]
mod bearer_tests {
    use super::bearer_token;

    #[test]
    fn the_scheme_is_case_insensitive() {
        for value in ["Bearer abc", "bearer abc", "BEARER abc", "bEaReR  abc"] {
            assert_eq!(bearer_token(value), Some("abc"), "{value}");
        }
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }
}
