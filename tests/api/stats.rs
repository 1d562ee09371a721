//! Campaign statistics (`GET …/stats`): the stream consumer (`group_buy::events::record_stats`)
//! run on the real records of DynamoDB Local's stream, as the `group-buy-events` function and
//! the local runner run it, then the route's answer. Redeliveries and many concurrent
//! registrations and withdrawals count exactly once.

use futures::future::join_all;
use group_buy::Route;
use group_buy::domain::Timestamp;
use group_buy::events::record_stats;
use group_buy_tests::stream::stream_records;
use group_buy_tests::{HANDLE, TestApp, TestResponse, owner_token, spawn_app_with_events};
use serde_json::{Value, json};

async fn stats(app: &TestApp, slug: &str) -> TestResponse {
    app.send(
        group_buy_tests::Call::new(
            Route::GetGroupBuyStats,
            format!("/v2/handles/{HANDLE}/group-buys/{slug}/stats"),
        )
        .bearer(&owner_token()),
    )
    .await
}

/// Everything on the stream so far through the consumer, as one delivery.
async fn consume_stream(app: &TestApp) {
    let records = stream_records(app).await;
    let recorded = record_stats(&records, &app.app.store).await;
    assert_eq!(recorded.failure, None);
    assert_eq!(recorded.recorded, records.len());
}

fn sum(buckets: &Value, field: &str) -> u64 {
    buckets
        .as_array()
        .map(|b| b.iter().filter_map(|b| b[field].as_u64()).sum())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_owner_sees_interest_by_the_hour_and_the_projection() {
    let app = spawn_app_with_events().await;
    let closes_at = Timestamp::now().plus_millis(3 * 24 * 3600 * 1000);
    app.published(
        "cane-chair",
        json!({"minParticipants": 10, "maxParticipants": 50, "closesAt": closes_at.to_string()}),
    )
    .await;
    let visitors = app.visitors(4).await;
    for (visitor, quantity) in visitors.iter().zip([1, 2, 1, 3]) {
        assert_eq!(
            app.register("cane-chair", visitor, Some(quantity))
                .await
                .status,
            201
        );
    }
    assert_eq!(app.withdraw("cane-chair", &visitors[3]).await.status, 204);
    // A new quantity moves the units, not the participants.
    assert_eq!(
        app.register("cane-chair", &visitors[0], Some(2))
            .await
            .status,
        200
    );
    consume_stream(&app).await;

    let answer = stats(&app, "cane-chair").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let buckets = &answer.body["buckets"];
    let last = buckets.as_array().and_then(|b| b.last()).expect("a bucket");
    assert_eq!(sum(buckets, "registered"), 4);
    assert_eq!(sum(buckets, "withdrawn"), 1);
    assert_eq!(
        (&last["participants"], &last["units"]),
        (&json!(3), &json!(5))
    );
    let projection = &answer.body["projection"];
    assert_eq!(
        projection["likelyToMeetThreshold"],
        json!(true),
        "{projection}"
    );
    assert_eq!(projection["participantsAtClose"], json!(50));
    assert!(projection["neededPerDay"].as_u64().is_some_and(|n| n >= 3));
}

#[tokio::test]
async fn redelivered_records_count_once() {
    let app = spawn_app_with_events().await;
    app.published("jute-rug", json!({})).await;
    let visitors = app.visitors(3).await;
    for visitor in &visitors {
        assert_eq!(app.register("jute-rug", visitor, None).await.status, 201);
    }
    assert_eq!(app.withdraw("jute-rug", &visitors[1]).await.status, 204);
    let records = stream_records(&app).await;
    // Lambda's retry of a failed batch delivers its records again, from any of them on.
    for start in [0, records.len() / 2, 0] {
        let recorded = record_stats(&records[start..], &app.app.store).await;
        assert_eq!(recorded.failure, None);
    }
    let answer = stats(&app, "jute-rug").await;
    assert_eq!(sum(&answer.body["buckets"], "registered"), 3);
    assert_eq!(sum(&answer.body["buckets"], "withdrawn"), 1);
}

#[tokio::test]
async fn many_concurrent_registrations_and_withdrawals_add_up_exactly() {
    let app = spawn_app_with_events().await;
    app.published("brass-lamp", json!({"maxParticipants": 1000}))
        .await;
    let visitors = app.visitors(60).await;
    let registered = join_all(
        visitors
            .iter()
            .map(|v| app.register_retrying("brass-lamp", v, Some(2))),
    )
    .await;
    assert!(
        registered
            .iter()
            .all(|r| r.status == 201 || r.status == 200)
    );
    let withdrawn = join_all(
        visitors
            .iter()
            .take(25)
            .map(|v| app.withdraw_retrying("brass-lamp", v)),
    )
    .await;
    assert!(withdrawn.iter().all(|r| r.status == 204));
    consume_stream(&app).await;

    let group_buy = app.get("brass-lamp", "").await.body;
    assert_eq!(group_buy["participantCount"], json!(35));
    let answer = stats(&app, "brass-lamp").await;
    let buckets = &answer.body["buckets"];
    assert_eq!(sum(buckets, "registered"), 60);
    assert_eq!(sum(buckets, "withdrawn"), 25);
    // The recorded totals (not only the last bucket's, which is the group-buy's own) agree.
    let recorded = app
        .app
        .store
        .recorded_hours(HANDLE, "brass-lamp")
        .await
        .expect("the hours");
    let totals = recorded.iter().filter_map(|h| h.totals).next_back();
    assert_eq!(totals.map(|t| (t.participants, t.units)), Some((35, 70)));
}

#[tokio::test]
async fn a_draft_has_no_hours_and_an_unknown_group_buy_is_not_found() {
    let app = spawn_app_with_events().await;
    app.draft("oak-stool", 3).await;
    let answer = stats(&app, "oak-stool").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, json!({"buckets": [], "projection": null}));
    let unknown = stats(&app, "no-such-drop").await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "GROUP_BUY_NOT_FOUND")
    );
}
