//! End-user escalation: `POST /v2/support/report`.

use crate::api::call::{Answer, Call, Written};
use crate::domain::Timestamp;
use crate::domain::daily_limit::{DailyLimit, SUPPORT_REPORTS};
use crate::domain::support::ReportRequest;
use crate::http::ApiError;
use crate::http::error::RATELIMIT_POLICY;
use crate::http::visitor::Visitor;
use crate::http::{Reply, json_object};
use crate::store::StoredReport;
use lambda_http::http::StatusCode;
use serde_json::json;

pub(crate) async fn submit(call: &mut Call<'_>, caller: Visitor) -> Result<Answer, ApiError> {
    let body = json_object(call.req)?.unwrap_or_default();
    let request = ReportRequest::parse(body)?;
    let now = Timestamp::now();
    let limit = DailyLimit::new(
        SUPPORT_REPORTS,
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
    let body = json!({
        "reportId": report.report_id,
        "receivedAt": report.received_at,
        "requestId": report.request_id,
    });
    let reply = Reply::json(StatusCode::CREATED, &body)
        .private()
        .header(RATELIMIT_POLICY, &limit.policy_header());
    let store = &call.app.store;
    let written = call
        .guarded_write(Some(limit), Some(reply.response()), |riders| async move {
            store.submit_report(&report, &riders).await
        })
        .await?;
    match written {
        Written::Done => Ok(reply.into()),
        Written::Replayed(first) => Ok(Answer::Replay(first)),
        Written::Refused(e) => Err(e.into()),
    }
}
