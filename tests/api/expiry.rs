use group_buy::Route;
use group_buy::domain::Timestamp;
use group_buy::expiry::expire_due;
use group_buy_tests::{Visitor, spawn_app};
use serde_json::json;

#[tokio::test]
async fn passed_deadlines_close_by_the_threshold() {
    let app = spawn_app().await;
    let closes_at = Timestamp::now().plus_millis(300).to_string();
    let soon = json!({"closesAt": closes_at, "minParticipants": 1});
    app.published("met-drop", soon.clone()).await;
    app.published(
        "missed-drop",
        json!({"closesAt": closes_at, "minParticipants": 5}),
    )
    .await;
    app.published("paused-drop", soon).await;
    app.transition("paused-drop", Route::PauseGroupBuy, None)
        .await;
    app.published(
        "later-drop",
        json!({"closesAt": Timestamp::now().plus_millis(3_600_000).to_string()}),
    )
    .await;
    app.published("open-ended-drop", json!({})).await;
    assert_eq!(
        app.register("met-drop", &Visitor::anonymous(), None)
            .await
            .status,
        201
    );
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;

    let run = expire_due(&app.app.store, Timestamp::now(), "run-1")
        .await
        .expect("run");
    assert_eq!((run.due, run.closed), (3, 3));
    let outcome = |slug: &str| {
        let app = &app;
        let slug = slug.to_owned();
        async move {
            let gb = app.get(&slug, "include=history").await.body;
            (
                gb["status"].clone(),
                gb["closeOutcome"].clone(),
                gb["history"].clone(),
            )
        }
    };
    let (status, closed_as, history) = outcome("met-drop").await;
    assert_eq!((status, closed_as), (json!("closed"), json!("fulfilled")));
    let last = history
        .as_array()
        .and_then(|h| h.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (last["action"].clone(), last["actor"].clone()),
        (json!("expire"), json!("scheduler"))
    );
    assert_eq!(last["requestId"], "run-1");
    assert_eq!(outcome("missed-drop").await.1, json!("expired"));
    assert_eq!(outcome("paused-drop").await.1, json!("expired"));
    assert_eq!(outcome("later-drop").await.0, json!("published"));
    assert_eq!(outcome("open-ended-drop").await.0, json!("published"));

    let again = expire_due(&app.app.store, Timestamp::now(), "run-2")
        .await
        .expect("run");
    assert_eq!(
        (again.due, again.closed),
        (0, 0),
        "closed group-buys leave the index"
    );
    let summary = app.admin("").await.body["summary"].clone();
    assert_eq!(summary["byStatus"]["closed"], 3);
}
