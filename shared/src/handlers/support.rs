//! End-user escalation: `POST /v2/support/report`.

use super::Call;
use crate::domain::Timestamp;
use crate::domain::support::ReportRequest;
use crate::error::ApiError;
use crate::http::{Reply, json_object};
use crate::limits::DailyLimit;
use crate::store::{StoreError, StoredReport, refused_by_limit};
use lambda_http::http::StatusCode;
use serde_json::json;

pub(super) async fn submit(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let caller = call.visitor().await?;
    let body = json_object(call.req)?.unwrap_or_default();
    let request = ReportRequest::parse(body)?;
    let now = Timestamp::now();
    let limit = DailyLimit::new(
        "support-reports",
        caller.key.clone(),
        call.app.settings.limits.daily_support_reports_per_caller,
        now,
    );
    let report = StoredReport {
        report_id: uuid::Uuid::new_v4().to_string(),
        received_at: now,
        request_id: call.request_id.to_owned(),
        caller_kind: caller.kind.as_str().to_owned(),
        caller_key: caller.key,
        summary: request.summary,
        details: request.details,
        handle: request.handle.map(String::from),
        session_id: request.session_id,
        cited_request_id: request.request_id,
        repro_artifact: request.repro_artifact,
    };
    match call.app.store.submit_report(&report, &limit).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed(checks)) if refused_by_limit(&checks, 0) => {
            return Err(ApiError::DailyWriteLimit(limit));
        }
        Err(e) => return Err(e.into()),
    }
    let body = json!({
        "reportId": report.report_id,
        "receivedAt": report.received_at,
        "requestId": report.request_id,
    });
    Ok(Reply::json(StatusCode::CREATED, &body).private().header(
        lambda_http::http::HeaderName::from_static("ratelimit-policy"),
        &limit.policy_header(),
    ))
}
