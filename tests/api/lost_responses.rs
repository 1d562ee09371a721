//! A transaction that commits while its answer is lost on the way back is retried by the SDK;
//! the retry must be recognised as the same transaction (its `ClientRequestToken`), not run
//! again against its own effect. A proxy between the service and DynamoDB Local lets the
//! first `TransactWriteItems` reach DynamoDB and then hangs up instead of answering: each
//! client still gets the answer it would have got without the fault, and the table holds
//! each effect once.

use aws_sdk_dynamodb::types::AttributeValue;
use group_buy::{App, Route};
use group_buy_tests::proxy::{LossyProxy, SeenRequest};
use group_buy_tests::{
    Call, HANDLE, TestApp, Visitor, dynamodb_endpoint, owner_token, send, spawn_app, test_settings,
};
use serde_json::json;
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

/// The app of `table` reaching DynamoDB Local through a proxy that loses the answer to the
/// first `TransactWriteItems`.
async fn losing_the_first_transaction_answer(table: &str) -> (App, LossyProxy) {
    let upstream = dynamodb_endpoint().trim_start_matches("http://").to_owned();
    let proxy = LossyProxy::start(upstream, "TransactWriteItems", 1).await;
    behind(table, proxy).await
}

async fn behind(table: &str, proxy: LossyProxy) -> (App, LossyProxy) {
    let url = proxy.url();
    let settings = test_settings(&[("DYNAMODB_ENDPOINT", &url), ("TABLE_NAME", table)]);
    (App::new(settings).await.expect("app"), proxy)
}

/// The fault happened as intended: one transaction committed (DynamoDB answered 200), its
/// answer was lost, and the SDK sent it again with the same `ClientRequestToken`, whose
/// answer came through.
fn assert_committed_lost_and_retried(requests: &[SeenRequest]) {
    let [lost, retry] = requests else {
        panic!("expected one lost transaction and one retry, saw {requests:#?}");
    };
    assert!(
        lost.lost_answer
            .as_deref()
            .is_some_and(|status| status.starts_with("HTTP/1.1 200")),
        "the first attempt committed and its answer was lost: {lost:?}"
    );
    assert_eq!(retry.lost_answer, None, "the retry's answer came through");
    assert_eq!(lost.body, retry.body, "the retry is the same call");
    let token = lost.client_request_token();
    assert!(
        token.is_some_and(|t| !t.is_empty() && t.len() <= 36),
        "a ClientRequestToken of at most 36 characters: {token:?}"
    );
}

fn string<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

/// Items whose sort key is `sk`.
async fn items_with_sort_key(app: &TestApp, sk: &str) -> Vec<Item> {
    app.all_items()
        .await
        .into_iter()
        .filter(|item| string(item, "SK") == Some(sk))
        .collect()
}

/// Every daily limit counter holds 1: the write counted against its limit once.
async fn assert_counted_once(app: &TestApp) {
    let counters = items_with_sort_key(app, "LIMIT").await;
    assert!(
        !counters.is_empty(),
        "the write counts against a daily limit"
    );
    for counter in counters {
        assert_eq!(
            counter.get("count"),
            Some(&AttributeValue::N("1".into())),
            "counted once: {counter:?}"
        );
    }
}

async fn summary(app: &TestApp) -> serde_json::Value {
    let admin = app.admin("").await;
    assert_eq!(admin.status, 200, "{}", admin.body);
    admin.body["summary"].clone()
}

#[tokio::test]
async fn an_unkeyed_create_whose_answer_is_lost_is_created_once() {
    let app = spawn_app().await;
    let (lossy, proxy) = losing_the_first_transaction_answer(&app.table).await;

    let created = send(
        &lossy,
        Call::new(
            Route::CreateGroupBuy,
            format!("/v2/handles/{HANDLE}/group-buys"),
        )
        .bearer(&owner_token())
        .json(&json!({
            "slug": "lost-lamp", "title": "Lamp", "currency": "INR",
            "unitPriceMinor": 1, "minParticipants": 1
        })),
    )
    .await;

    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["slug"], "lost-lamp");
    assert_eq!(created.body["version"], 1);
    assert_committed_lost_and_retried(&proxy.requests());
    let group_buys = items_with_sort_key(&app, "GB").await;
    assert_eq!(group_buys.len(), 1, "one group-buy: {group_buys:?}");
    assert_counted_once(&app).await;
    assert_eq!(summary(&app).await["byStatus"]["draft"], 1);
}

#[tokio::test]
async fn a_publish_with_if_match_whose_answer_is_lost_applies_once() {
    let app = spawn_app().await;
    app.draft("lost-drop", 1).await;
    let (lossy, proxy) = losing_the_first_transaction_answer(&app.table).await;

    let published = send(
        &lossy,
        Call::new(
            Route::PublishGroupBuy,
            format!("/v2/handles/{HANDLE}/group-buys/lost-drop/publish"),
        )
        .bearer(&owner_token())
        .header("if-match", "\"1\""),
    )
    .await;

    assert_eq!(published.status, 200, "{}", published.body);
    assert_eq!(published.header("etag"), Some("\"2\""));
    assert_eq!(published.body["status"], "published");
    assert_committed_lost_and_retried(&proxy.requests());
    let view = app.get("lost-drop", "include=history").await.body;
    assert_eq!(view["version"], 2, "{view}");
    let history = view["history"].as_array().expect("history");
    assert_eq!(history.len(), 2, "create and one publish: {history:?}");
    let summary = summary(&app).await;
    assert_eq!(
        (
            &summary["byStatus"]["draft"],
            &summary["byStatus"]["published"]
        ),
        (&json!(0), &json!(1)),
        "{summary}"
    );
}

#[tokio::test]
async fn a_registration_whose_answer_is_lost_is_counted_once() {
    let app = spawn_app().await;
    // Not the registration that meets the threshold: that one's first try is refused (it
    // expects not to cross) and only its second commits; here the first try commits.
    app.published("lost-drop", json!({"minParticipants": 2}))
        .await;
    let (lossy, proxy) = losing_the_first_transaction_answer(&app.table).await;
    let visitor = Visitor::anonymous();

    let registered = send(
        &lossy,
        TestApp::my_interest(Route::RegisterInterest, "lost-drop", &visitor)
            .json(&json!({"quantity": 2})),
    )
    .await;

    assert_eq!(registered.status, 201, "{}", registered.body);
    assert_eq!(registered.body["created"], true);
    assert_eq!(registered.body["groupBuy"]["participantCount"], 1);
    assert_eq!(registered.body["groupBuy"]["unitCount"], 2);
    assert_committed_lost_and_retried(&proxy.requests());
    assert_eq!(app.assert_counters_match_records("lost-drop").await, (1, 2));
    let summary = summary(&app).await;
    assert_eq!(
        (&summary["participants"], &summary["units"]),
        (&json!(1), &json!(2))
    );
}

#[tokio::test]
async fn a_support_report_whose_answer_is_lost_is_stored_once() {
    let app = spawn_app().await;
    let (lossy, proxy) = losing_the_first_transaction_answer(&app.table).await;

    let reported = send(
        &lossy,
        Call::new(Route::SubmitSupportReport, "/v2/support/report")
            .bearer(&owner_token())
            .json(&json!({"summary": "Close refused", "details": "409 on close"})),
    )
    .await;

    assert_eq!(reported.status, 201, "{}", reported.body);
    assert!(reported.body["reportId"].is_string(), "{}", reported.body);
    assert_committed_lost_and_retried(&proxy.requests());
    let reports: Vec<Item> = app
        .all_items()
        .await
        .into_iter()
        .filter(|item| string(item, "PK").is_some_and(|pk| pk.starts_with("REPORT#")))
        .collect();
    assert_eq!(reports.len(), 1, "one report: {reports:?}");
    assert_eq!(
        string(&reports[0], "reportId"),
        reported.body["reportId"].as_str(),
        "the stored report is the one answered"
    );
    assert_counted_once(&app).await;
}

/// The control: the same fault with the token taken out of the request on the wire. The retry
/// then runs again against its own effect and the caller is refused its own new draft, which
/// shows that the fault above does hit and that the token is what absorbs it. (Likewise, a
/// publish with `If-Match` would be 412, a first registration `200 created: false` and a
/// support report 500 although stored.)
#[tokio::test]
async fn without_a_token_the_retry_would_refuse_the_callers_own_create() {
    let app = spawn_app().await;
    let upstream = dynamodb_endpoint().trim_start_matches("http://").to_owned();
    let proxy = LossyProxy::start_without_tokens(upstream, "TransactWriteItems", 1).await;
    let (lossy, proxy) = behind(&app.table, proxy).await;

    let created = send(
        &lossy,
        Call::new(
            Route::CreateGroupBuy,
            format!("/v2/handles/{HANDLE}/group-buys"),
        )
        .bearer(&owner_token())
        .json(&json!({
            "slug": "tokenless-lamp", "title": "Lamp", "currency": "INR",
            "unitPriceMinor": 1, "minParticipants": 1
        })),
    )
    .await;

    let requests = proxy.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert!(requests.iter().all(|r| r.client_request_token().is_none()));
    assert!(
        requests[0]
            .lost_answer
            .as_deref()
            .is_some_and(|status| status.starts_with("HTTP/1.1 200"))
    );
    assert_eq!((created.status, created.code()), (409, "SLUG_TAKEN"));
    assert_eq!(items_with_sort_key(&app, "GB").await.len(), 1);
}

/// A redemption whose put committed while its answer was lost: the SDK sends the same put
/// again, its condition fails against the request's own item, and the visitor still gets
/// the pass, not 409 `CHALLENGE_USED` for a challenge only they redeemed.
#[tokio::test]
async fn a_redemption_whose_answer_is_lost_still_gives_the_pass() {
    let app = spawn_app().await;
    let upstream = dynamodb_endpoint().trim_start_matches("http://").to_owned();
    let proxy = LossyProxy::start(upstream, "PutItem", 1).await;
    let (lossy, proxy) = behind(&app.table, proxy).await;

    let challenge = group_buy_tests::challenge(&lossy).await;
    let salt = challenge["salt"].as_str().expect("salt");
    let difficulty = challenge["difficulty"].as_u64().expect("difficulty") as u32;
    let nonce = group_buy_tests::solve(salt, difficulty);
    let token = challenge["challenge"].as_str().expect("challenge");
    let redeemed = group_buy_tests::redeem(&lossy, token, &nonce).await;

    assert_eq!(redeemed.status, 201, "{}", redeemed.body);
    assert!(redeemed.body["visitorPass"].is_string());
    let requests = proxy.requests();
    let [lost, retry] = requests.as_slice() else {
        panic!("one lost put and one retry, saw {requests:#?}");
    };
    assert!(
        lost.lost_answer
            .as_deref()
            .is_some_and(|status| status.starts_with("HTTP/1.1 200")),
        "the first attempt committed and its answer was lost: {lost:?}"
    );
    assert_eq!(lost.body, retry.body, "the retry is the same call");
    assert_eq!(items_with_sort_key(&app, "REDEEMED").await.len(), 1);
    // Another request's redemption of the same challenge is still refused.
    let again = group_buy_tests::redeem(&app.app, token, &nonce).await;
    assert_eq!((again.status, again.code()), (409, "CHALLENGE_USED"));
}
