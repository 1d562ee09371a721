use aws_sdk_dynamodb::types::AttributeValue;
use group_buy::Route;
use group_buy_tests::{
    Call, HANDLE, Visitor, owner_token, spawn_app, spawn_app_with, test_settings,
};
use serde_json::{Value, json};

fn report(body: &Value) -> Call {
    Call::new(Route::SubmitSupportReport, "/v2/support/report").json(body)
}

fn stored_reports(
    items: &[std::collections::HashMap<String, AttributeValue>],
) -> Vec<&std::collections::HashMap<String, AttributeValue>> {
    items
        .iter()
        .filter(|i| matches!(i.get("PK"), Some(AttributeValue::S(pk)) if pk.starts_with("REPORT#")))
        .collect()
}

#[tokio::test]
async fn any_identified_caller_can_report_and_it_is_stored() {
    let app = spawn_app().await;
    let body = json!({
        "summary": "Close refused", "details": "409 THRESHOLD_NOT_MET on close",
        "handle": HANDLE, "sessionId": "s-1", "requestId": "req-42", "reproArtifact": "curl ..."
    });
    let by_owner = app.send(report(&body).bearer(&owner_token())).await;
    assert_eq!(by_owner.status, 201, "{}", by_owner.body);
    assert!(by_owner.body["reportId"].is_string());
    assert!(by_owner.body["receivedAt"].is_string());
    let own_request_id = by_owner
        .header("x-request-id")
        .expect("request id")
        .to_owned();
    assert_eq!(by_owner.body["requestId"], own_request_id.as_str());
    let by_visitor = app.send(Visitor::anonymous().identify(report(&body))).await;
    assert_eq!(by_visitor.status, 201);

    let items = app.all_items().await;
    let reports = stored_reports(&items);
    assert_eq!(reports.len(), 2);
    let mut kinds: Vec<&str> = reports
        .iter()
        .filter_map(|r| match r.get("callerKind") {
            Some(AttributeValue::S(kind)) => Some(kind.as_str()),
            _ => None,
        })
        .collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["anonymous", "jwt"]);
    let everything = format!("{items:?}");
    assert!(
        !everything.contains(&owner_token()),
        "the token is never stored"
    );
    assert!(
        everything.contains("req-42"),
        "the cited request id is kept"
    );
    assert!(
        everything.contains(&own_request_id),
        "the report's own request id is kept"
    );
}

#[tokio::test]
async fn reports_are_validated_and_need_an_identity() {
    let app = spawn_app().await;
    let anonymous = app
        .send(report(&json!({"summary": "x", "details": "y"})))
        .await;
    assert_eq!(
        (anonymous.status, anonymous.code()),
        (401, "VISITOR_REQUIRED")
    );
    let invalid = app
        .send(Visitor::anonymous().identify(report(&json!({"summary": "", "colour": 1}))))
        .await;
    assert_eq!(invalid.status, 400);
    let fields: Vec<&str> = invalid.body["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["colour", "summary", "details"]);
    assert!(stored_reports(&app.all_items().await).is_empty());
}

/// With a limit of 3, five concurrent reports by one caller: exactly three are stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_limit_per_caller_is_exact_under_concurrency() {
    let app = spawn_app_with(test_settings(&[("DAILY_SUPPORT_REPORTS_PER_CALLER", "3")])).await;
    let caller = Visitor::anonymous();
    let body = json!({"summary": "x", "details": "y"});
    let responses =
        futures::future::join_all((0..5).map(|_| app.send(caller.identify(report(&body))))).await;
    let created = responses.iter().filter(|r| r.status == 201).count();
    let limited: Vec<_> = responses.iter().filter(|r| r.status == 429).collect();
    assert_eq!((created, limited.len()), (3, 2));
    for r in limited {
        assert_eq!(r.code(), "DAILY_WRITE_LIMIT");
        let retry_after: i64 = r
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!((1..=86_400).contains(&retry_after));
        assert_eq!(r.header("ratelimit-policy"), Some("\"daily\";q=3;w=86400"));
        assert!(
            r.header("ratelimit")
                .is_some_and(|v| v.starts_with("\"daily\";r=0;t="))
        );
    }
    assert_eq!(stored_reports(&app.all_items().await).len(), 3);
    let other = app.send(Visitor::anonymous().identify(report(&body))).await;
    assert_eq!(other.status, 201, "the limit is per caller");
}

#[tokio::test]
async fn a_keyed_report_is_stored_once_and_replayed() {
    let app = spawn_app().await;
    let body =
        json!({"summary": "Publish did nothing", "details": "still a draft", "requestId": "req-7"});
    let visitor = Visitor::anonymous();
    let send = || {
        app.send(
            visitor
                .identify(report(&body))
                .header("idempotency-key", "report-1"),
        )
    };
    let first = send().await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = send().await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body["reportId"], first.body["reportId"]);
    assert_eq!(stored_reports(&app.all_items().await).len(), 1);
}

/// Reports are kept 400 days (API.md, "Data retention"), by TTL: no scan ever deletes them.
#[tokio::test]
async fn a_report_expires_by_ttl_after_its_retention() {
    let app = spawn_app().await;
    let body = json!({"summary": "Kept for a while", "details": "ttl"});
    let sent = app.send(report(&body).bearer(&owner_token())).await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    let received =
        chrono::DateTime::parse_from_rfc3339(sent.body["receivedAt"].as_str().expect("receivedAt"))
            .expect("a time")
            .timestamp();
    let items = app.all_items().await;
    let stored = stored_reports(&items);
    let [stored] = stored.as_slice() else {
        panic!("one report stored: {stored:?}");
    };
    let ttl = match stored.get("ttl") {
        Some(AttributeValue::N(ttl)) => ttl.parse::<i64>().expect("epoch seconds"),
        other => panic!("a ttl attribute: {other:?}"),
    };
    assert_eq!(
        ttl - received,
        group_buy::store::REPORT_RETENTION_DAYS * 24 * 3600
    );
}
