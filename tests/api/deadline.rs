//! Every request ends inside the function's timeout: against a DynamoDB that answers slowly,
//! the service answers its own 503 with `Retry-After` before the Lambda deadline, never
//! leaving API Gateway to answer for it.

use group_buy::App;
use group_buy::Route;
use group_buy_tests::proxy::SlowProxy;
use group_buy_tests::{Call, HANDLE, dynamodb_endpoint, send_by, spawn_app, test_settings};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn epoch_millis_in(from_now: Duration) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    u64::try_from((now + from_now).as_millis()).expect("fits")
}

/// The app of `table` reaching DynamoDB Local through a proxy that delays every answer.
async fn behind_slow_dynamodb(table: &str, delay: Duration) -> (App, SlowProxy) {
    let upstream = dynamodb_endpoint().trim_start_matches("http://").to_owned();
    let proxy = SlowProxy::start(upstream, delay).await;
    let url = proxy.url();
    let settings = test_settings(&[("DYNAMODB_ENDPOINT", &url), ("TABLE_NAME", table)]);
    (App::new(settings).await.expect("app"), proxy)
}

fn public_read(slug: &str) -> Call {
    Call::new(
        Route::GetPublicGroupBuy,
        format!("/v2/public/group-buys/{HANDLE}/{slug}"),
    )
}

#[tokio::test]
async fn a_slow_dynamodb_is_a_503_with_retry_after_before_the_deadline() {
    let app = spawn_app().await;
    app.published("slow-lamp", serde_json::json!({})).await;
    // Slower than the client's per-attempt timeout: every attempt times out and is retried.
    let (slow, _proxy) = behind_slow_dynamodb(&app.table, Duration::from_secs(3)).await;

    let budget = Duration::from_millis(1_500);
    let started = Instant::now();
    let answer = send_by(
        &slow,
        public_read("slow-lamp"),
        Some(epoch_millis_in(budget)),
    )
    .await;
    let took = started.elapsed();

    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(answer.body["code"], "DEPENDENCY_UNAVAILABLE");
    assert!(answer.header("retry-after").is_some());
    assert!(
        took < budget,
        "answered after {took:?}, past the deadline of {budget:?}"
    );
}

#[tokio::test]
async fn a_slow_dynamodb_within_the_deadline_still_answers() {
    let app = spawn_app().await;
    app.published("patient-lamp", serde_json::json!({})).await;
    let (slow, _proxy) = behind_slow_dynamodb(&app.table, Duration::from_millis(200)).await;

    let answer = send_by(
        &slow,
        public_read("patient-lamp"),
        Some(epoch_millis_in(Duration::from_secs(5))),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn a_write_out_of_time_is_a_503_and_a_keyed_retry_is_safe() {
    let app = spawn_app().await;
    app.draft("late-lamp", 1).await;
    let (slow, _proxy) = behind_slow_dynamodb(&app.table, Duration::from_millis(900)).await;
    let publish = || {
        Call::new(
            Route::PublishGroupBuy,
            format!("/v2/handles/{HANDLE}/group-buys/late-lamp/publish"),
        )
        .bearer(&group_buy_tests::owner_token())
        .header("idempotency-key", "late-publish")
    };
    let late = send_by(
        &slow,
        publish(),
        Some(epoch_millis_in(Duration::from_millis(1_000))),
    )
    .await;
    assert_eq!(late.status, 503, "{}", late.body);

    // The write may or may not have landed; the keyed retry settles it either way.
    let retried = app.send(publish()).await;
    assert_eq!(retried.status, 200, "{}", retried.body);
    assert_eq!(app.get("late-lamp", "").await.body["status"], "published");
}
