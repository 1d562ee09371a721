//! A support report: an end user's escalation with the ids a support engineer needs.

use super::identifiers::Handle;
use crate::validation::{FieldError, Fields, string, text};
use serde_json::{Map, Value};

/// A valid report, as the caller sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRequest {
    pub summary: String,
    pub details: String,
    pub handle: Option<Handle>,
    pub session_id: Option<String>,
    /// The id of the request the report is about (not the report's own).
    pub request_id: Option<String>,
    pub repro_artifact: Option<String>,
}

const FIELDS: [&str; 6] = [
    "summary",
    "details",
    "handle",
    "sessionId",
    "requestId",
    "reproArtifact",
];

impl ReportRequest {
    pub fn parse(body: Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(body, &FIELDS);
        let summary = f.required("summary", |v| text(v, 1, 200));
        let details = f.required("details", |v| text(v, 1, 8000));
        let handle = f.optional("handle", |v| Handle::parse(string(v)?));
        let session_id = f.optional("sessionId", |v| text(v, 1, 200));
        let request_id = f.optional("requestId", |v| text(v, 1, 200));
        let repro_artifact = f.optional("reproArtifact", |v| text(v, 0, 8000));
        f.finish()?;
        match (
            summary,
            details,
            handle,
            session_id,
            request_id,
            repro_artifact,
        ) {
            (
                Some(summary),
                Some(details),
                Ok(handle),
                Ok(session_id),
                Ok(request_id),
                Ok(repro_artifact),
            ) => Ok(Self {
                summary,
                details,
                handle,
                session_id,
                request_id,
                repro_artifact,
            }),
            // `finish` returned Ok, so every field parsed; kept total rather than unwrapped.
            _ => Err(vec![FieldError::new("body", "could not be read")]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<ReportRequest, Vec<FieldError>> {
        match body {
            Value::Object(map) => ReportRequest::parse(map),
            _ => unreachable!("test bodies are objects"),
        }
    }

    #[test]
    fn needs_summary_and_details_and_checks_the_rest() {
        let fields: Vec<String> = parse(json!({
            "summary": "", "handle": "Not A Handle", "reproArtifact": "x".repeat(8001), "extra": 1
        }))
        .expect_err("invalid")
        .into_iter()
        .map(|e| e.field)
        .collect();
        assert_eq!(
            fields,
            ["extra", "summary", "details", "handle", "reproArtifact"]
        );
        let ok = parse(
            json!({"summary": "Close refused", "details": "409 on close", "requestId": "abc"}),
        )
        .expect("valid");
        assert_eq!(ok.request_id.as_deref(), Some("abc"));
    }
}
