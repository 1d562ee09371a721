//! Who a public visitor is: a signed-in user (`user:<sub>`, from a verified JWT) or an
//! anonymous visitor holding a visitor pass (`X-Visitor-Pass`), whose identity the service
//! chose when it issued the pass. Only a keyed hash of either is kept.

use crate::auth::{Authenticator, CredentialKind};
use crate::http::ApiError;
use crate::http::visitor_pass::VisitorPasses;
use crate::keys::ServerKey;
use lambda_http::http::{HeaderMap, HeaderName, header};

pub const VISITOR_PASS: HeaderName = HeaderName::from_static("x-visitor-pass");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VisitorKind {
    /// Signed in: a verified JWT (`user:<sub>`) or personal access token.
    SignedIn(CredentialKind),
    /// A visitor pass.
    Anonymous,
}

impl VisitorKind {
    /// For logs and support reports: the kind of credential, never the credential.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignedIn(kind) => kind.as_str(),
            Self::Anonymous => "anonymous",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Visitor {
    pub kind: VisitorKind,
    /// The keyed hash the store knows the visitor by.
    pub key: String,
}

impl Visitor {
    /// A present `Authorization` header must verify (401 otherwise, never a fall-back to
    /// anonymous); without one, `X-Visitor-Pass` must be a valid pass (401
    /// `VISITOR_PASS_INVALID`); neither is 401 `VISITOR_REQUIRED`.
    pub async fn identify(
        headers: &HeaderMap,
        auth: &Authenticator,
        server_key: &ServerKey,
        passes: &VisitorPasses,
    ) -> Result<Self, ApiError> {
        if headers.contains_key(header::AUTHORIZATION) {
            let principal = auth.authenticate(headers).await?;
            let identity = match principal.kind {
                CredentialKind::Jwt => format!("user:{}", principal.subject),
                CredentialKind::Pat => format!("pat:{}", principal.subject),
            };
            return Ok(Self {
                kind: VisitorKind::SignedIn(principal.kind),
                key: server_key.visitor_key(&identity),
            });
        }
        let pass = headers
            .get(VISITOR_PASS)
            .ok_or(ApiError::VisitorRequired)?
            .to_str()
            .map_err(|_| ApiError::VisitorPassInvalid)?;
        let id = passes.verify(pass, chrono::Utc::now().timestamp())?;
        Ok(Self {
            kind: VisitorKind::Anonymous,
            key: server_key.visitor_key(&format!("pass:{id}")),
        })
    }
}
