use aws_sdk_dynamodb::types::AttributeValue;
use group_buy::Route;
use group_buy::deadline::Deadline;
use group_buy::domain::Timestamp;
use group_buy::expiry::expire_due;
use group_buy_tests::{TestApp, Visitor, spawn_app};
use serde_json::json;
use std::time::Duration;

fn ample() -> Deadline {
    Deadline::after(Duration::from_secs(60))
}

/// Puts a raw entry in the deadline index, due long ago, under table key `pk`: an item no
/// write of the service would make, as corruption or a bug elsewhere could leave one.
async fn put_due_entry(app: &TestApp, pk: &str, n: usize) {
    let s = |v: String| AttributeValue::S(v);
    app.dynamodb
        .put_item()
        .table_name(&app.table)
        .item("PK", s(pk.to_owned()))
        .item("SK", s("GB".into()))
        // The first write shard of the deadline index.
        .item("GSI5PK", s("DEADLINES#0".into()))
        .item("GSI5SK", s(format!("2000-01-01T00:00:00.000Z#{n:04}")))
        .send()
        .await
        .expect("put");
}

#[tokio::test]
async fn passed_deadlines_close_by_the_threshold() {
    let app = spawn_app().await;
    let closes_at = Timestamp::now().plus_millis(1_500).to_string();
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
    // The registration must land before the deadline, even on a loaded machine.
    tokio::time::sleep(Duration::from_millis(1_600)).await;

    let run = expire_due(&app.app.store, Timestamp::now(), "run-1", ample())
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

    let again = expire_due(&app.app.store, Timestamp::now(), "run-2", ample())
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

#[tokio::test]
async fn one_bad_item_does_not_block_the_others() {
    let app = spawn_app().await;
    let closes_at = Timestamp::now().plus_millis(300).to_string();
    app.published("good-drop", json!({"closesAt": closes_at}))
        .await;
    // Undecodable, and not a group-buy key at all; both sort before the good one.
    put_due_entry(&app, "GB#broken-shop#no-fields", 1).await;
    put_due_entry(&app, "SOMETHING-ELSE", 2).await;
    tokio::time::sleep(Duration::from_millis(400)).await;

    let run = expire_due(&app.app.store, Timestamp::now(), "run-1", ample())
        .await
        .expect("the run itself succeeds");
    assert_eq!(
        (run.due, run.closed, run.failed, run.complete),
        (3, 1, 2, true)
    );
    assert_eq!(app.get("good-drop", "").await.body["status"], "closed");

    let again = expire_due(&app.app.store, Timestamp::now(), "run-2", ample())
        .await
        .expect("run");
    assert_eq!(
        (again.due, again.closed, again.failed),
        (2, 0, 2),
        "the bad entries stay, and are tried again"
    );
}

#[tokio::test]
async fn a_run_pages_through_the_whole_index() {
    let app = spawn_app().await;
    let bad = group_buy::expiry::BATCH as usize + 20;
    for n in 0..bad {
        put_due_entry(&app, &format!("JUNK#{n}"), n).await;
    }
    let closes_at = Timestamp::now().plus_millis(300).to_string();
    app.published("last-drop", json!({"closesAt": closes_at}))
        .await;
    tokio::time::sleep(Duration::from_millis(400)).await;

    let run = expire_due(&app.app.store, Timestamp::now(), "run-1", ample())
        .await
        .expect("run");
    assert_eq!((run.due, run.closed, run.failed), (bad + 1, 1, bad));
    assert!(run.complete);
}

#[tokio::test]
async fn a_run_out_of_time_starts_nothing_more() {
    let app = spawn_app().await;
    let closes_at = Timestamp::now().plus_millis(300).to_string();
    app.published("waiting-drop", json!({"closesAt": closes_at}))
        .await;
    tokio::time::sleep(Duration::from_millis(400)).await;

    let run = expire_due(
        &app.app.store,
        Timestamp::now(),
        "run-1",
        Deadline::after(Duration::from_secs(1)),
    )
    .await
    .expect("run");
    assert_eq!((run.due, run.closed, run.complete), (0, 0, false));
    assert_eq!(
        app.get("waiting-drop", "").await.body["status"],
        "published"
    );
}
