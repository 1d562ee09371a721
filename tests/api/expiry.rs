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
    // Room for create and publish on a loaded machine before the deadline passes.
    let closes_at = Timestamp::now().plus_millis(2_000).to_string();
    app.published("waiting-drop", json!({"closesAt": closes_at}))
        .await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;

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

/// The tally's `closingSoonFor`, read raw: what the stream turns into `GroupBuyClosingSoon`.
async fn closing_soon_for(app: &TestApp, slug: &str) -> Option<String> {
    let out = app
        .dynamodb
        .get_item()
        .table_name(&app.table)
        .key("PK", AttributeValue::S(format!("GB#acme-decor#{slug}")))
        .key("SK", AttributeValue::S("GB#TALLY".into()))
        .consistent_read(true)
        .send()
        .await
        .expect("get");
    match out.item.and_then(|mut item| item.remove("closingSoonFor")) {
        Some(AttributeValue::S(at)) => Some(at),
        _ => None,
    }
}

#[tokio::test]
async fn the_closing_soon_notice_is_given_once_per_deadline() {
    let app = spawn_app().await;
    let in_hours = |h: i64| Timestamp::now().plus_millis(h * 3_600_000).to_string();
    let soon = in_hours(2);
    app.published("soon-drop", json!({"closesAt": soon})).await;
    app.published("paused-soon-drop", json!({"closesAt": in_hours(3)}))
        .await;
    app.transition("paused-soon-drop", Route::PauseGroupBuy, None)
        .await;
    app.published("later-drop", json!({"closesAt": in_hours(30)}))
        .await;
    app.published("open-ended-drop", json!({})).await;
    app.draft("draft-soon-drop", 1).await;

    let run = expire_due(&app.app.store, Timestamp::now(), "run-1", ample())
        .await
        .expect("run");
    assert_eq!(
        (
            run.closed,
            run.closing_soon,
            run.closing_soon_failed,
            run.complete
        ),
        (0, 2, 0, true)
    );
    assert_eq!(
        closing_soon_for(&app, "soon-drop").await,
        Some(soon.clone())
    );
    assert!(closing_soon_for(&app, "paused-soon-drop").await.is_some());
    assert_eq!(closing_soon_for(&app, "later-drop").await, None);
    assert_eq!(closing_soon_for(&app, "open-ended-drop").await, None);

    let again = expire_due(&app.app.store, Timestamp::now(), "run-2", ample())
        .await
        .expect("run");
    assert_eq!(again.closing_soon, 0, "once per deadline");

    // An extension (as the extend route writes it: the tally's closesAt and the deadline
    // index key) allows a new notice for the new deadline.
    let extended = in_hours(20);
    let pk = AttributeValue::S("GB#acme-decor#soon-drop".into());
    app.dynamodb
        .update_item()
        .table_name(&app.table)
        .key("PK", pk.clone())
        .key("SK", AttributeValue::S("GB#TALLY".into()))
        .update_expression("SET closesAt = :at")
        .expression_attribute_values(":at", AttributeValue::S(extended.clone()))
        .send()
        .await
        .expect("tally extended");
    let index_key = app
        .dynamodb
        .get_item()
        .table_name(&app.table)
        .key("PK", pk.clone())
        .key("SK", AttributeValue::S("GB".into()))
        .send()
        .await
        .expect("get")
        .item
        .and_then(|mut item| item.remove("GSI5SK"));
    let Some(AttributeValue::S(index_key)) = index_key else {
        panic!("an open group-buy with a deadline is in the deadline index");
    };
    app.dynamodb
        .update_item()
        .table_name(&app.table)
        .key("PK", pk)
        .key("SK", AttributeValue::S("GB".into()))
        .update_expression("SET closesAt = :at, GSI5SK = :key")
        .expression_attribute_values(":at", AttributeValue::S(extended.clone()))
        .expression_attribute_values(
            ":key",
            AttributeValue::S(index_key.replacen(&soon, &extended, 1)),
        )
        .send()
        .await
        .expect("group-buy extended");
    let after_extension = expire_due(&app.app.store, Timestamp::now(), "run-3", ample())
        .await
        .expect("run");
    assert_eq!(after_extension.closing_soon, 1);
    assert_eq!(closing_soon_for(&app, "soon-drop").await, Some(extended));
}
