//! The one error type of the API and the one place it becomes `application/problem+json`.

use crate::auth::AuthError;
use crate::domain::daily_limit::DailyLimit;
use crate::domain::lifecycle::{MAX_EXTENSION_DAYS, MAX_EXTENSIONS};
use crate::domain::{InterestRejection, Rejection, Slug, Timestamp};
use crate::store::StoreError;
use crate::store::decide_and_write::Contended;
use crate::validation::FieldError;
use lambda_http::http::{HeaderName, HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde_json::{Map, Value, json};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("payload too large")]
    PayloadTooLarge,
    /// A `cursor` that is not one this list gave out; the text says how (safe to show).
    #[error("invalid cursor: {0}")]
    InvalidCursor(&'static str),
    /// The caller is not let in (401 or 403).
    #[error(transparent)]
    Auth(AuthError),
    #[error("visitor required")]
    VisitorRequired,
    /// An `X-Visitor-Pass` that is malformed, tampered with, expired or under a key id no
    /// longer accepted.
    #[error("visitor pass invalid")]
    VisitorPassInvalid,
    /// A visitor pass on a group-buy open to signed-in users only.
    #[error("sign-in required")]
    SignInRequired,
    /// A challenge that is not ours, expired, or not solved by the nonce.
    #[error("challenge failed")]
    ChallengeFailed,
    #[error("challenge already used")]
    ChallengeUsed,
    #[error("group-buy not found")]
    GroupBuyNotFound,
    #[error("interest not found")]
    InterestNotFound,
    #[error("interest refused: {0:?}")]
    Interest(InterestRejection),
    /// `POST …/draw` before `drawAt`.
    #[error("draw not due")]
    DrawNotDue { draw_at: Timestamp },
    /// A draw route on a first-come group-buy.
    #[error("no draw")]
    NoDraw,
    #[error("slug taken")]
    SlugTaken(Slug),
    #[error("lifecycle rejection: {0:?}")]
    Lifecycle(Rejection),
    #[error("version mismatch")]
    VersionMismatch { current: u64 },
    #[error("invalid idempotency key")]
    InvalidIdempotencyKey,
    #[error("idempotency key reused with another body")]
    IdempotencyKeyReused,
    #[error("daily write limit reached")]
    DailyWriteLimit(DailyLimit),
    /// A request to a deployed stage that did not come through its CloudFront distribution
    /// (no accepted `x-origin-verify`).
    #[error("not through the edge")]
    EdgeRequired,
    /// No route of the API has the request's path.
    #[error("no such route")]
    RouteNotFound,
    /// Routes have the request's path, with these methods and not the request's.
    #[error("method not allowed")]
    MethodNotAllowed { allow: Vec<&'static str> },
    /// DynamoDB or another dependency failed; the message is logged, never sent.
    #[error("dependency unavailable: {0}")]
    Dependency(String),
    /// A bug; the message is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Seconds a client should wait before retrying after a dependency failure.
const DEPENDENCY_RETRY_AFTER_SECONDS: u32 = 1;

pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Everything a client is told of an error but the request id: the one mapping from an
/// error to its status, code, title, explanation, members and headers.
struct Problem {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: String,
    members: Map<String, Value>,
    headers: Vec<(HeaderName, String)>,
}

impl Problem {
    fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            title,
            detail: detail.into(),
            members: Map::new(),
            headers: Vec::new(),
        }
    }

    fn member(mut self, name: &str, value: impl serde::Serialize) -> Self {
        self.members.insert(name.into(), json!(value));
        self
    }

    fn header(mut self, name: HeaderName, value: impl ToString) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        self.problem().status
    }

    pub fn code(&self) -> &'static str {
        self.problem().code
    }

    fn problem(&self) -> Problem {
        use StatusCode as S;
        match self {
            Self::MalformedJson(why) => Problem::new(
                S::BAD_REQUEST,
                "MALFORMED_JSON",
                "Malformed JSON",
                format!("The request body is not valid JSON: {why}."),
            ),
            Self::Validation(errors) => {
                let names: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                Problem::new(
                    S::BAD_REQUEST,
                    "VALIDATION_FAILED",
                    "Validation failed",
                    format!("Invalid fields: {}.", names.join(", ")),
                )
                .member("errors", errors)
            }
            Self::UnsupportedMediaType => Problem::new(
                S::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "Unsupported media type",
                "Send the body as Content-Type: application/json.",
            ),
            Self::PayloadTooLarge => Problem::new(
                S::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "Payload too large",
                "The body is larger than 16 KiB.",
            ),
            Self::InvalidCursor(why) => Problem::new(
                S::BAD_REQUEST,
                "INVALID_CURSOR",
                "Invalid cursor",
                format!("The cursor {why}; start again without it, or follow the nextCursor (or Link) of the previous page as it was given."),
            ),
            Self::InvalidIdempotencyKey => Problem::new(
                S::BAD_REQUEST,
                "INVALID_IDEMPOTENCY_KEY",
                "Invalid idempotency key",
                "Idempotency-Key must be 1 to 255 printable ASCII characters.",
            ),
            Self::IdempotencyKeyReused => Problem::new(
                S::UNPROCESSABLE_ENTITY,
                "IDEMPOTENCY_KEY_REUSED",
                "Idempotency key reused",
                "This Idempotency-Key was used for another request (method, path or body); use a new key.",
            ),
            Self::Auth(AuthError::Unauthenticated(why)) => Problem::new(
                S::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "Unauthenticated",
                format!("Valid credentials are required: {why}."),
            )
            .header(header::WWW_AUTHENTICATE, "Bearer"),
            Self::VisitorRequired => Problem::new(
                S::UNAUTHORIZED,
                "VISITOR_REQUIRED",
                "Visitor required",
                "Identify as a signed-in user (Authorization: Bearer) or send a visitor pass \
                 (X-Visitor-Pass), obtained from POST /v2/public/visitor-challenges and \
                 POST /v2/public/visitor-passes.",
            ),
            Self::VisitorPassInvalid => Problem::new(
                S::UNAUTHORIZED,
                "VISITOR_PASS_INVALID",
                "Visitor pass invalid",
                "The X-Visitor-Pass is malformed, tampered with or expired; obtain a new pass.",
            ),
            Self::SignInRequired => Problem::new(
                S::FORBIDDEN,
                "SIGN_IN_REQUIRED",
                "Sign-in required",
                "This group-buy is open to signed-in users only; sign in (Authorization: \
                 Bearer) to take part.",
            ),
            Self::ChallengeFailed => Problem::new(
                S::BAD_REQUEST,
                "CHALLENGE_FAILED",
                "Challenge failed",
                "The challenge is not one this service issued, has expired, or the nonce does \
                 not solve it; ask for a new challenge.",
            ),
            Self::ChallengeUsed => Problem::new(
                S::CONFLICT,
                "CHALLENGE_USED",
                "Challenge used",
                "This challenge was already redeemed for a pass; each challenge gives one.",
            ),
            Self::Auth(AuthError::InsufficientScope(scope)) => Problem::new(
                S::FORBIDDEN,
                "INSUFFICIENT_SCOPE",
                "Insufficient scope",
                format!("The credentials lack the scope {scope}."),
            )
            .member("requiredScope", scope),
            Self::Auth(AuthError::HandleForbidden) => Problem::new(
                S::FORBIDDEN,
                "HANDLE_FORBIDDEN",
                "Handle forbidden",
                "The credentials do not grant access to this handle.",
            ),
            Self::GroupBuyNotFound | Self::Interest(InterestRejection::NotFound) => Problem::new(
                S::NOT_FOUND,
                "GROUP_BUY_NOT_FOUND",
                "Group-buy not found",
                "No such group-buy.",
            ),
            Self::InterestNotFound => Problem::new(
                S::NOT_FOUND,
                "INTEREST_NOT_FOUND",
                "Interest not found",
                "You have not registered interest in this group-buy.",
            ),
            Self::EdgeRequired => Problem::new(
                S::FORBIDDEN,
                "EDGE_REQUIRED",
                "Edge required",
                "This API is reached through its public address only.",
            ),
            Self::RouteNotFound => Problem::new(
                S::NOT_FOUND,
                "ROUTE_NOT_FOUND",
                "Route not found",
                "No route of this API has that path; the routes are in openapi.yaml.",
            ),
            Self::MethodNotAllowed { allow } => Problem::new(
                S::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "Method not allowed",
                format!(
                    "This path does not take that method; it takes {}.",
                    allow.join(", ")
                ),
            )
            .header(header::ALLOW, allow.join(", ")),
            Self::Interest(InterestRejection::Paused) => Problem::new(
                S::CONFLICT,
                "GROUP_BUY_PAUSED",
                "Group-buy paused",
                "The group-buy is paused; try again when it is published.",
            ),
            Self::Interest(InterestRejection::Closed) => Problem::new(
                S::CONFLICT,
                "GROUP_BUY_CLOSED",
                "Group-buy closed",
                "The group-buy is closed; interest can no longer change.",
            ),
            Self::Interest(InterestRejection::DeadlinePassed { closes_at })
            | Self::Lifecycle(Rejection::DeadlinePassed { closes_at }) => Problem::new(
                S::CONFLICT,
                "DEADLINE_PASSED",
                "Deadline passed",
                format!("The group-buy closed for participation at {closes_at}."),
            )
            .member("closesAt", closes_at),
            Self::Interest(InterestRejection::Full) => Problem::new(
                S::CONFLICT,
                "GROUP_BUY_FULL",
                "Group-buy full",
                "The group-buy has reached its maximum number of participants.",
            ),
            Self::Interest(InterestRejection::WaitlistFull { limit }) => Problem::new(
                S::CONFLICT,
                "WAITLIST_FULL",
                "Waitlist full",
                format!("The group-buy is full and its waitlist holds its limit of {limit}."),
            )
            .member("waitlistLimit", limit),
            Self::Interest(InterestRejection::QuantityNotAllowed { max }) => Problem::new(
                S::BAD_REQUEST,
                "QUANTITY_NOT_ALLOWED",
                "Quantity not allowed",
                format!("quantity must be a whole number from 1 to {max}."),
            )
            .member("maxQuantityPerParticipant", max),
            Self::Interest(InterestRejection::DrawPending) => Problem::new(
                S::CONFLICT,
                "DRAW_PENDING",
                "Draw pending",
                "The draw's time has come and its draw has not finished; entries are closed, \
                 and the results are shown once it has run (within a minute of drawAt).",
            ),
            Self::DrawNotDue { draw_at } => Problem::new(
                S::CONFLICT,
                "DRAW_NOT_DUE",
                "Draw not due",
                format!("The draw runs at drawAt ({draw_at}) or later; entries are open until then."),
            )
            .member("drawAt", draw_at),
            Self::NoDraw => Problem::new(
                S::NOT_FOUND,
                "GROUP_BUY_NOT_FOUND",
                "Group-buy not found",
                "No such group-buy with a draw: this one is first-come (allocation first-come), \
                 so it has no draw.",
            ),
            Self::SlugTaken(slug) => Problem::new(
                S::CONFLICT,
                "SLUG_TAKEN",
                "Slug taken",
                format!("The handle already has a group-buy with slug {slug}."),
            )
            .member("slug", slug),
            Self::Lifecycle(Rejection::InvalidTransition { current }) => Problem::new(
                S::CONFLICT,
                "INVALID_TRANSITION",
                "Invalid transition",
                format!("That transition is not possible from {current}."),
            )
            .member("currentStatus", current),
            Self::Lifecycle(Rejection::NoDeadline { current }) => Problem::new(
                S::CONFLICT,
                "INVALID_TRANSITION",
                "Invalid transition",
                "The group-buy has no deadline (closesAt is null), so there is none to extend; \
                 a deadline is set when the group-buy is created.",
            )
            .member("currentStatus", current),
            Self::Lifecycle(Rejection::ThresholdNotMet {
                participant_count,
                min_participants,
            }) => Problem::new(
                S::CONFLICT,
                "THRESHOLD_NOT_MET",
                "Threshold not met",
                format!(
                    "{participant_count} of {min_participants} participants; {} more are needed to close as fulfilled.",
                    min_participants.saturating_sub(*participant_count)
                ),
            )
            .member("participantCount", participant_count)
            .member("minParticipants", min_participants),
            // A deadline moved earlier is a bad `closesAt`, as a past one is at create.
            Self::Lifecycle(Rejection::DeadlineNotLater { closes_at }) => Problem::new(
                S::BAD_REQUEST,
                "VALIDATION_FAILED",
                "Validation failed",
                "Invalid fields: closesAt.",
            )
            .member(
                "errors",
                [FieldError::new(
                    "closesAt",
                    format!("must be later than the current deadline {closes_at}"),
                )],
            )
            .member("currentClosesAt", closes_at),
            Self::Lifecycle(Rejection::ExtensionLimit {
                extension_count,
                latest_closes_at,
            }) => Problem::new(
                S::CONFLICT,
                "EXTENSION_LIMIT",
                "Extension limit",
                format!(
                    "A deadline may be extended at most {MAX_EXTENSIONS} times (this one {extension_count}), \
                     and to {latest_closes_at} at the latest ({MAX_EXTENSION_DAYS} days past its first deadline)."
                ),
            )
            .member("extensionCount", extension_count)
            .member("maxExtensions", MAX_EXTENSIONS)
            .member("latestClosesAt", latest_closes_at),
            Self::VersionMismatch { current } => Problem::new(
                S::PRECONDITION_FAILED,
                "VERSION_MISMATCH",
                "Version mismatch",
                format!("If-Match does not match the current version {current}; read it again."),
            )
            .member("currentVersion", current),
            Self::DailyWriteLimit(limit) => Problem::new(
                S::TOO_MANY_REQUESTS,
                "DAILY_WRITE_LIMIT",
                "Daily write limit",
                format!(
                    "The daily limit of {} {} is used up; it resets at the next UTC midnight, in {} s.",
                    limit.limit, limit.name, limit.resets_in
                ),
            )
            .member("limit", limit.limit)
            .header(header::RETRY_AFTER, limit.resets_in)
            .header(RATELIMIT_POLICY, limit.policy_header())
            .header(RATELIMIT, limit.exhausted_header()),
            // `From<AuthError>` makes a store failure `Dependency`; this is never built.
            Self::Dependency(_) | Self::Auth(AuthError::Store(_)) => Problem::new(
                S::SERVICE_UNAVAILABLE,
                "DEPENDENCY_UNAVAILABLE",
                "Dependency unavailable",
                "A dependency is unavailable; retry shortly.",
            )
            .header(header::RETRY_AFTER, DEPENDENCY_RETRY_AFTER_SECONDS),
            Self::Internal(_) => Problem::new(
                S::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "Internal error",
                "An unexpected error occurred; quote the request id to support.",
            ),
        }
    }

    /// The problem+json response for this error.
    pub fn into_response(self, request_id: &str) -> Response<Body> {
        let problem = self.problem();
        let code = problem.code;
        let mut body = json!({
            "type": format!("https://errors.gharart.com/{}", code.to_lowercase().replace('_', "-")),
            "title": problem.title,
            "status": problem.status.as_u16(),
            "detail": problem.detail,
            "code": code,
            "requestId": request_id,
        });
        if let Value::Object(fields) = &mut body {
            fields.extend(problem.members);
        }
        let mut response = Response::new(Body::Text(body.to_string()));
        *response.status_mut() = problem.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        for (name, value) in problem.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }
}

impl From<InterestRejection> for ApiError {
    fn from(rejection: InterestRejection) -> Self {
        Self::Interest(rejection)
    }
}

impl From<Vec<FieldError>> for ApiError {
    fn from(errors: Vec<FieldError>) -> Self {
        Self::Validation(errors)
    }
}

/// Still contended after every attempt of the decide-and-write loop: a 503 to retry.
impl From<Contended> for ApiError {
    fn from(e: Contended) -> Self {
        Self::Dependency(e.to_string())
    }
}

/// Who may not call: the HTTP answer of each reason.
impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Store(e) => e.into(),
            refused => Self::Auth(refused),
        }
    }
}

/// The one mapping of the store's failures to answers: the store speaks no HTTP.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(why) => Self::Dependency(why),
            StoreError::TransactionConflict => {
                Self::Dependency("transaction conflicts persisted".into())
            }
            // Handlers answer a failed condition themselves; one reaching here is a bug.
            e @ (StoreError::ConditionFailed(_)
            | StoreError::Rejected(_)
            | StoreError::Corrupt(_)) => Self::Internal(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(response: &Response<Body>) -> Value {
        serde_json::from_slice(response.body().as_ref()).expect("problem body is JSON")
    }

    #[test]
    fn threshold_not_met_matches_the_contract() {
        let response = ApiError::Lifecycle(Rejection::ThresholdNotMet {
            participant_count: 12,
            min_participants: 25,
        })
        .into_response("req-1");
        assert_eq!(response.status(), 409);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        assert_eq!(
            body(&response),
            json!({
                "type": "https://errors.gharart.com/threshold-not-met",
                "title": "Threshold not met",
                "status": 409,
                "detail": "12 of 25 participants; 13 more are needed to close as fulfilled.",
                "code": "THRESHOLD_NOT_MET",
                "requestId": "req-1",
                "participantCount": 12,
                "minParticipants": 25
            })
        );
    }

    #[test]
    fn internals_stay_out_of_the_body() {
        for error in [
            ApiError::Internal("secret stack".into()),
            ApiError::Dependency("dynamodb said secret".into()),
        ] {
            let response = error.into_response("req-2");
            assert!(!body(&response).to_string().contains("secret"));
        }
    }

    #[test]
    fn dependency_failures_ask_for_a_retry() {
        let response = ApiError::Dependency("down".into()).into_response("r");
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
    }
}
