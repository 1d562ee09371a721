//! What the service logs, read back from a subscriber of the test's own. A binary of its
//! own: tracing caches per call site whether anyone listens, and tests running on other
//! threads without a subscriber would race this one's.

use group_buy::Route;
use group_buy_tests::{Call, HANDLE, app_without_its_table, send};

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
    let app = app_without_its_table().await;

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
