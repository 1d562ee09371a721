//! The one error type of the API and the one place it becomes `application/problem+json`.

use crate::domain::lifecycle::{MAX_EXTENSION_DAYS, MAX_EXTENSIONS};
use crate::domain::{InterestRejection, Rejection, Slug};
use crate::limits::{DailyLimit, RATELIMIT, RATELIMIT_POLICY};
use crate::store::StoreError;
use crate::validation::FieldError;
use lambda_http::http::{HeaderValue, StatusCode, header};
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
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("unauthenticated: {0}")]
    Unauthenticated(&'static str),
    #[error("missing scope {0}")]
    InsufficientScope(&'static str),
    #[error("handle forbidden")]
    HandleForbidden,
    #[error("visitor id required")]
    VisitorIdRequired,
    #[error("group-buy not found")]
    GroupBuyNotFound,
    #[error("interest not found")]
    InterestNotFound,
    #[error("interest refused: {0:?}")]
    Interest(InterestRejection),
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
    #[error("no such route")]
    RouteNotFound,
    /// DynamoDB or another dependency failed; the message is logged, never sent.
    #[error("dependency unavailable: {0}")]
    Dependency(String),
    /// A bug; the message is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Seconds a client should wait before retrying after a dependency failure.
const DEPENDENCY_RETRY_AFTER_SECONDS: u32 = 1;

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_)
            | Self::Validation(_)
            | Self::InvalidCursor
            | Self::InvalidIdempotencyKey => StatusCode::BAD_REQUEST,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthenticated(_) | Self::VisitorIdRequired => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope(_) | Self::HandleForbidden => StatusCode::FORBIDDEN,
            Self::GroupBuyNotFound
            | Self::InterestNotFound
            | Self::RouteNotFound
            | Self::Interest(InterestRejection::NotFound) => StatusCode::NOT_FOUND,
            Self::Interest(InterestRejection::QuantityNotAllowed { .. }) => StatusCode::BAD_REQUEST,
            Self::Interest(_) => StatusCode::CONFLICT,
            // A deadline moved earlier is a bad `closesAt`, as a past one is at create.
            Self::Lifecycle(Rejection::DeadlineNotLater { .. }) => StatusCode::BAD_REQUEST,
            Self::SlugTaken(_) | Self::Lifecycle(_) => StatusCode::CONFLICT,
            Self::VersionMismatch { .. } => StatusCode::PRECONDITION_FAILED,
            Self::DailyWriteLimit(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Dependency(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "MALFORMED_JSON",
            Self::Validation(_) => "VALIDATION_FAILED",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::InvalidCursor => "INVALID_CURSOR",
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::InsufficientScope(_) => "INSUFFICIENT_SCOPE",
            Self::HandleForbidden => "HANDLE_FORBIDDEN",
            Self::VisitorIdRequired => "VISITOR_ID_REQUIRED",
            Self::GroupBuyNotFound | Self::Interest(InterestRejection::NotFound) => {
                "GROUP_BUY_NOT_FOUND"
            }
            Self::InterestNotFound => "INTEREST_NOT_FOUND",
            Self::Interest(InterestRejection::Paused) => "GROUP_BUY_PAUSED",
            Self::Interest(InterestRejection::Closed) => "GROUP_BUY_CLOSED",
            Self::Interest(InterestRejection::DeadlinePassed { .. }) => "DEADLINE_PASSED",
            Self::Interest(InterestRejection::Full) => "GROUP_BUY_FULL",
            Self::Interest(InterestRejection::QuantityNotAllowed { .. }) => "QUANTITY_NOT_ALLOWED",
            Self::SlugTaken(_) => "SLUG_TAKEN",
            Self::Lifecycle(rejection) => rejection.code(),
            Self::VersionMismatch { .. } => "VERSION_MISMATCH",
            Self::DailyWriteLimit(_) => "DAILY_WRITE_LIMIT",
            Self::InvalidIdempotencyKey => "INVALID_IDEMPOTENCY_KEY",
            Self::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            Self::RouteNotFound => "ROUTE_NOT_FOUND",
            Self::Dependency(_) => "DEPENDENCY_UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "Malformed JSON",
            Self::Validation(_) => "Validation failed",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::PayloadTooLarge => "Payload too large",
            Self::InvalidCursor => "Invalid cursor",
            Self::Unauthenticated(_) => "Unauthenticated",
            Self::InsufficientScope(_) => "Insufficient scope",
            Self::HandleForbidden => "Handle forbidden",
            Self::VisitorIdRequired => "Visitor id required",
            Self::GroupBuyNotFound | Self::Interest(InterestRejection::NotFound) => {
                "Group-buy not found"
            }
            Self::InterestNotFound => "Interest not found",
            Self::Interest(InterestRejection::Paused) => "Group-buy paused",
            Self::Interest(InterestRejection::Closed) => "Group-buy closed",
            Self::Interest(InterestRejection::DeadlinePassed { .. }) => "Deadline passed",
            Self::Interest(InterestRejection::Full) => "Group-buy full",
            Self::Interest(InterestRejection::QuantityNotAllowed { .. }) => "Quantity not allowed",
            Self::SlugTaken(_) => "Slug taken",
            Self::Lifecycle(Rejection::InvalidTransition { .. }) => "Invalid transition",
            Self::Lifecycle(Rejection::ThresholdNotMet { .. }) => "Threshold not met",
            Self::Lifecycle(Rejection::DeadlinePassed { .. }) => "Deadline passed",
            Self::Lifecycle(Rejection::DeadlineNotLater { .. }) => "Validation failed",
            Self::Lifecycle(Rejection::ExtensionLimit { .. }) => "Extension limit",
            Self::VersionMismatch { .. } => "Version mismatch",
            Self::DailyWriteLimit(_) => "Daily write limit",
            Self::InvalidIdempotencyKey => "Invalid idempotency key",
            Self::IdempotencyKeyReused => "Idempotency key reused",
            Self::RouteNotFound => "Route not found",
            Self::Dependency(_) => "Dependency unavailable",
            Self::Internal(_) => "Internal error",
        }
    }

    /// The human-readable explanation, plus the machine-readable members of this problem.
    fn detail_and_members(&self) -> (String, Map<String, Value>) {
        let mut members = Map::new();
        let detail = match self {
            Self::MalformedJson(why) => format!("The request body is not valid JSON: {why}."),
            Self::Validation(errors) => {
                members.insert("errors".into(), json!(errors));
                let names: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("Invalid fields: {}.", names.join(", "))
            }
            Self::UnsupportedMediaType => "Send the body as Content-Type: application/json.".into(),
            Self::PayloadTooLarge => "The body is larger than 16 KiB.".into(),
            Self::InvalidCursor => {
                "The cursor was altered, has expired or belongs to another list; start again without it."
                    .into()
            }
            Self::Unauthenticated(why) => format!("Valid credentials are required: {why}."),
            Self::InsufficientScope(scope) => {
                members.insert("requiredScope".into(), json!(scope));
                format!("The credentials lack the scope {scope}.")
            }
            Self::HandleForbidden => "The credentials do not grant access to this handle.".into(),
            Self::VisitorIdRequired => {
                "Identify as a signed-in user (Authorization: Bearer) or send X-Visitor-Id: \
                 22 to 128 characters of A-Z a-z 0-9 _ -."
                    .into()
            }
            Self::GroupBuyNotFound | Self::Interest(InterestRejection::NotFound) => {
                "No such group-buy.".into()
            }
            Self::InterestNotFound => "You have not registered interest in this group-buy.".into(),
            Self::Interest(InterestRejection::Paused) => {
                "The group-buy is paused; try again when it is published.".into()
            }
            Self::Interest(InterestRejection::Closed) => {
                "The group-buy is closed; interest can no longer change.".into()
            }
            Self::Interest(InterestRejection::DeadlinePassed { closes_at }) => {
                members.insert("closesAt".into(), json!(closes_at));
                format!("The group-buy closed for participation at {closes_at}.")
            }
            Self::Interest(InterestRejection::Full) => {
                "The group-buy has reached its maximum number of participants.".into()
            }
            Self::Interest(InterestRejection::QuantityNotAllowed { max }) => {
                members.insert("maxQuantityPerParticipant".into(), json!(max));
                format!("quantity must be a whole number from 1 to {max}.")
            }
            Self::SlugTaken(slug) => {
                members.insert("slug".into(), json!(slug));
                format!("The handle already has a group-buy with slug {slug}.")
            }
            Self::Lifecycle(Rejection::InvalidTransition { current }) => {
                members.insert("currentStatus".into(), json!(current));
                format!("That transition is not possible from {current}.")
            }
            Self::Lifecycle(Rejection::ThresholdNotMet {
                participant_count,
                min_participants,
            }) => {
                members.insert("participantCount".into(), json!(participant_count));
                members.insert("minParticipants".into(), json!(min_participants));
                format!(
                    "{participant_count} of {min_participants} participants; {} more are needed to close as fulfilled.",
                    min_participants.saturating_sub(*participant_count)
                )
            }
            Self::Lifecycle(Rejection::DeadlinePassed { closes_at }) => {
                members.insert("closesAt".into(), json!(closes_at));
                format!("The group-buy closed for participation at {closes_at}.")
            }
            Self::Lifecycle(Rejection::DeadlineNotLater { closes_at }) => {
                let error = FieldError::new(
                    "closesAt",
                    format!("must be later than the current deadline {closes_at}"),
                );
                members.insert("errors".into(), json!([error]));
                members.insert("currentClosesAt".into(), json!(closes_at));
                "Invalid fields: closesAt.".into()
            }
            Self::Lifecycle(Rejection::ExtensionLimit {
                extension_count,
                latest_closes_at,
            }) => {
                members.insert("extensionCount".into(), json!(extension_count));
                members.insert("maxExtensions".into(), json!(MAX_EXTENSIONS));
                members.insert("latestClosesAt".into(), json!(latest_closes_at));
                format!(
                    "A deadline may be extended at most {MAX_EXTENSIONS} times (this one {extension_count}), \
                     and to {latest_closes_at} at the latest ({MAX_EXTENSION_DAYS} days past its first deadline)."
                )
            }
            Self::VersionMismatch { current } => {
                members.insert("currentVersion".into(), json!(current));
                format!("If-Match does not match the current version {current}; read it again.")
            }
            Self::DailyWriteLimit(limit) => {
                members.insert("limit".into(), json!(limit.limit));
                format!(
                    "The daily limit of {} {} is used up; it resets at the next UTC midnight, in {} s.",
                    limit.limit, limit.name, limit.resets_in
                )
            }
            Self::RouteNotFound => "This function does not serve that path.".into(),
            Self::InvalidIdempotencyKey => {
                "Idempotency-Key must be 1 to 255 printable ASCII characters.".into()
            }
            Self::IdempotencyKeyReused => {
                "This Idempotency-Key was used for another request (method, path or body); use a new key.".into()
            }
            Self::Dependency(_) => "A dependency is unavailable; retry shortly.".into(),
            Self::Internal(_) => "An unexpected error occurred; quote the request id to support.".into(),
        };
        (detail, members)
    }

    /// The problem+json response for this error.
    pub fn into_response(self, request_id: &str) -> Response<Body> {
        let status = self.status();
        let code = self.code();
        let (detail, members) = self.detail_and_members();
        let mut body = json!({
            "type": format!("https://errors.gharart.com/{}", code.to_lowercase().replace('_', "-")),
            "title": self.title(),
            "status": status.as_u16(),
            "detail": detail,
            "code": code,
            "requestId": request_id,
        });
        if let Value::Object(fields) = &mut body {
            fields.extend(members);
        }
        let mut response = Response::new(Body::Text(body.to_string()));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match &self {
            Self::Unauthenticated(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::Dependency(_) => {
                headers.insert(header::RETRY_AFTER, DEPENDENCY_RETRY_AFTER_SECONDS.into());
            }
            Self::DailyWriteLimit(limit) => {
                headers.insert(header::RETRY_AFTER, limit.resets_in.into());
                for (name, value) in [
                    (RATELIMIT_POLICY, limit.policy_header()),
                    (RATELIMIT, limit.exhausted_header()),
                ] {
                    if let Ok(value) = HeaderValue::from_str(&value) {
                        headers.insert(name, value);
                    }
                }
            }
            _ => {}
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
