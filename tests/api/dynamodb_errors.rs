//! DynamoDB errors that are our own bug or misconfiguration are 500 `INTERNAL`, not a 503
//! that invites clients to retry something a retry cannot cure.

use group_buy::Route;
use group_buy_tests::{Call, HANDLE, app_without_its_table, send};

#[tokio::test]
async fn a_missing_table_is_an_internal_error_not_a_retry() {
    // Not built by `spawn_app`, which would create the table; logs as it would (TEST_LOG=1).
    if std::env::var_os("TEST_LOG").is_some() {
        group_buy::telemetry::init();
    }
    let app = app_without_its_table().await;

    let answer = send(
        &app,
        Call::new(
            Route::GetPublicGroupBuy,
            format!("/v2/public/group-buys/{HANDLE}/lamp"),
        ),
    )
    .await;

    assert_eq!(answer.status, 500, "{}", answer.body);
    assert_eq!(answer.code(), "INTERNAL");
    assert!(
        answer.header("retry-after").is_none(),
        "a misconfiguration is not worth a retry"
    );
}
