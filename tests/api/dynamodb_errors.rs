//! DynamoDB errors that are our own bug or misconfiguration are 500 `INTERNAL`, not a 503
//! that invites clients to retry something a retry cannot cure.

use group_buy::{App, Route};
use group_buy_tests::{Call, HANDLE, send, test_settings};

#[tokio::test]
async fn a_missing_table_is_an_internal_error_not_a_retry() {
    // Not built by `spawn_app`, which would create the table; logs as it would (TEST_LOG=1).
    if std::env::var_os("TEST_LOG").is_some() {
        group_buy::telemetry::init();
    }
    // Never created: DynamoDB answers ResourceNotFoundException.
    let table = format!("no-such-table-{}", uuid::Uuid::new_v4());
    let app = App::new(test_settings(&[("TABLE_NAME", &table)]))
        .await
        .expect("app");

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

/// A log writer the test reads back.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A keyed request's error is answered as a response (so that it could be kept), yet its
/// internal cause must still reach the log, as for any other request.
#[tokio::test]
async fn a_keyed_failure_still_logs_its_cause() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    // The test runtime is single-threaded: the subscriber sees the whole request.
    let _guard = tracing::subscriber::set_default(subscriber);
    // Callsites first hit by other tests' threads, with no subscriber, cached "never".
    tracing::callsite::rebuild_interest_cache();
    let table = format!("no-such-table-{}", uuid::Uuid::new_v4());
    let app = App::new(test_settings(&[("TABLE_NAME", &table)]))
        .await
        .expect("app");

    let answer = send(
        &app,
        Call::new(
            Route::CreateGroupBuy,
            format!("/v2/handles/{HANDLE}/group-buys"),
        )
        .bearer(&group_buy_tests::owner_token())
        .header("idempotency-key", "keyed-failure")
        .json(
            &serde_json::json!({"slug": "lamp", "title": "Lamp", "currency": "INR",
            "unitPriceMinor": 1, "minParticipants": 1}),
        ),
    )
    .await;
    assert_eq!(answer.status, 500, "{}", answer.body);

    let request_id = answer
        .header("x-request-id")
        .expect("request id")
        .to_owned();
    let logs = String::from_utf8_lossy(&captured.0.lock().expect("logs")).into_owned();
    let failure = logs
        .lines()
        .find(|line| line.contains("request failed") && line.contains(&request_id));
    assert!(
        failure.is_some_and(|line| line.contains("ResourceNotFound")),
        "no error line with the cause for {request_id}:\n{logs}"
    );
}
