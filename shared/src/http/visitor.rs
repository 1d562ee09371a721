//! Who a public visitor is: a signed-in user (`user:<sub>`, from a verified JWT) or an
//! anonymous visitor named by `X-Visitor-Id`. Only a keyed hash of either is kept.

use crate::auth::{Authenticator, CredentialKind};
use crate::http::ApiError;
use crate::keys::ServerKey;
use lambda_http::http::{HeaderMap, HeaderName, header};

pub const VISITOR_ID: HeaderName = HeaderName::from_static("x-visitor-id");
const VISITOR_ID_LEN: std::ops::RangeInclusive<usize> = 22..=128;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VisitorKind {
    /// Signed in: a verified JWT (`user:<sub>`) or personal access token.
    SignedIn(CredentialKind),
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
    /// anonymous); without one, `X-Visitor-Id` must be well formed; neither is 401
    /// `VISITOR_ID_REQUIRED`.
    pub async fn identify(
        headers: &HeaderMap,
        auth: &Authenticator,
        server_key: &ServerKey,
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
        let id = headers
            .get(VISITOR_ID)
            .ok_or(ApiError::VisitorIdRequired)?
            .to_str()
            .map_err(|_| ApiError::VisitorIdRequired)?;
        let well_formed = VISITOR_ID_LEN.contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(ApiError::VisitorIdRequired);
        }
        Ok(Self {
            kind: VisitorKind::Anonymous,
            key: server_key.visitor_key(&format!("anon:{id}")),
        })
    }
}
