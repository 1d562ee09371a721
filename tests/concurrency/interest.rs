//! Exactly-once interest under concurrency: many visitors, retries and racing closes against
//! one group-buy, then exact assertions on the counters and the records.

use group_buy::Route;
use group_buy_tests::{Visitor, concurrently, exclusive, spawn_app};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_hundred_visitors_each_sending_three_times_count_once() {
    let _turn = exclusive().await;
    let app = spawn_app().await;
    app.published("big-drop", json!({"minParticipants": 300}))
        .await;
    let visitors: Vec<Visitor> = app.visitors(300).await;
    let requests = visitors
        .iter()
        .flat_map(|v| [v, v, v])
        .map(|v| app.register_retrying("big-drop", v, Some(1)));
    let responses = concurrently(requests).await;
    for (i, triple) in responses.chunks(3).enumerate() {
        let statuses: Vec<u16> = triple.iter().map(|r| r.status).collect();
        assert!(
            statuses.iter().all(|s| matches!(s, 200 | 201)),
            "visitor {i}: {statuses:?}"
        );
        assert!(
            statuses.iter().filter(|s| **s == 201).count() <= 1,
            "visitor {i}: {statuses:?}"
        );
    }
    assert_eq!(
        app.assert_counters_match_records("big-drop").await,
        (300, 300)
    );
    let view = app.get("big-drop", "").await.body;
    assert_eq!(view["thresholdMet"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cap_admits_exactly_max_participants() {
    let _turn = exclusive().await;
    let app = spawn_app().await;
    app.published("capped-drop", json!({"maxParticipants": 50}))
        .await;
    let visitors: Vec<Visitor> = app.visitors(200).await;
    let responses = concurrently(
        visitors
            .iter()
            .map(|v| app.register("capped-drop", v, None)),
    )
    .await;
    let admitted = responses
        .iter()
        .filter(|r| matches!(r.status, 200 | 201))
        .count();
    let full = responses
        .iter()
        .filter(|r| r.status == 409 && r.code() == "GROUP_BUY_FULL")
        .count();
    assert_eq!((admitted, full), (50, 150));
    assert_eq!(
        app.assert_counters_match_records("capped-drop").await,
        (50, 50)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_changes_and_withdrawals_keep_units_exact() {
    let _turn = exclusive().await;
    let app = spawn_app().await;
    app.published("busy-drop", json!({"maxQuantityPerParticipant": 5}))
        .await;
    let visitors: Vec<Visitor> = (0..40).map(|_| Visitor::anonymous()).collect();
    for v in &visitors {
        assert_eq!(app.register("busy-drop", v, Some(1)).await.status, 201);
    }
    let app = &app;
    // Each visitor changes its quantity three ways and withdraws, all at once; every
    // interleaving must leave the counters equal to whatever records remain.
    let requests = visitors.iter().enumerate().flat_map(|(i, v)| {
        [
            futures::future::Either::Left(app.register_retrying(
                "busy-drop",
                v,
                Some(2 + (i % 4) as u32),
            )),
            futures::future::Either::Left(app.register_retrying("busy-drop", v, Some(5))),
            futures::future::Either::Right(app.withdraw_retrying("busy-drop", v)),
            futures::future::Either::Left(app.register_retrying("busy-drop", v, Some(3))),
        ]
    });
    let responses = concurrently(requests).await;
    for r in &responses {
        assert!(
            matches!(r.status, 200 | 201 | 204),
            "{} {}",
            r.status,
            r.body
        );
    }
    app.assert_counters_match_records("busy-drop").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_close_racing_registrations_freezes_the_counts() {
    let _turn = exclusive().await;
    let app = spawn_app().await;
    app.published("race-drop", json!({})).await;
    let visitors: Vec<Visitor> = app.visitors(100).await;
    let registrations = concurrently(
        visitors
            .iter()
            .map(|v| app.register_retrying("race-drop", v, None)),
    );
    // The close lands in the middle of the registrations; the records are read the moment
    // it has succeeded, while registrations are still arriving.
    let close = async {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let closed = app
            .transition(
                "race-drop",
                Route::CloseGroupBuy,
                Some(&json!({"outcome": "cancelled"})),
            )
            .await;
        (closed, app.interests("race-drop").await)
    };
    let (responses, (closed, records_at_close)) = tokio::join!(registrations, close);
    assert_eq!(closed.status, 200, "{}", closed.body);
    let accepted = responses
        .iter()
        .filter(|r| matches!(r.status, 200 | 201))
        .count() as u64;
    for r in responses.iter().filter(|r| !matches!(r.status, 200 | 201)) {
        assert_eq!((r.status, r.code()), (409, "GROUP_BUY_CLOSED"));
    }
    let (participants, _) = app.assert_counters_match_records("race-drop").await;
    assert_eq!(
        participants, accepted,
        "every accepted registration counted, no other"
    );

    assert_eq!(
        app.interests("race-drop").await,
        records_at_close,
        "no record was created after the close"
    );
    // After the close nothing moves the counts any more.
    let late = concurrently(
        visitors
            .iter()
            .take(10)
            .map(|v| app.withdraw("race-drop", v)),
    )
    .await;
    assert!(
        late.iter()
            .all(|r| r.status == 204 || r.code() == "GROUP_BUY_CLOSED")
    );
    assert_eq!(
        app.assert_counters_match_records("race-drop").await.0,
        accepted
    );
}

#[tokio::test]
async fn owners_see_pseudonymous_participants() {
    let _turn = exclusive().await;
    let app = spawn_app().await;
    app.published("lamp-drop", json!({})).await;
    let user = Visitor::user("shopper-42");
    app.register("lamp-drop", &user, Some(2)).await;
    let records = app.interests("lamp-drop").await;
    assert_eq!(records.len(), 1);
    let participant = records[0]["participant"].as_str().expect("participant");
    assert_eq!(participant.len(), 16);
    assert!(!records[0].to_string().contains("shopper-42"));
    assert_eq!(records[0]["quantity"], 2);
    let mut fields: Vec<&str> = records[0]
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["createdAt", "participant", "quantity", "updatedAt"]
    );

    let missing = app
        .send(
            group_buy_tests::Call::new(
                Route::ListInterests,
                format!(
                    "/v2/handles/{}/group-buys/ghost-drop/interests",
                    group_buy_tests::HANDLE
                ),
            )
            .bearer(&group_buy_tests::owner_token()),
        )
        .await;
    assert_eq!(
        (missing.status, missing.code()),
        (404, "GROUP_BUY_NOT_FOUND")
    );
}
