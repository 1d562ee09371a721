//! Idempotency and daily limits under concurrency.

use group_buy::Route;
use group_buy_tests::{
    Call, HANDLE, concurrently, exclusive, owner_token, spawn_app, spawn_app_with, test_settings,
};
use serde_json::json;

fn create(key: &str, slug: &str) -> Call {
    Call::new(
        Route::CreateGroupBuy,
        format!("/v2/handles/{HANDLE}/group-buys"),
    )
    .bearer(&owner_token())
    .header("idempotency-key", key)
    .json(&json!({"slug": slug, "title": "Lamp", "currency": "INR",
            "unitPriceMinor": 1, "minParticipants": 1}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_posts_with_one_key_act_once() {
    let _turn = exclusive().await;
    let app = spawn_app().await;
    let responses = concurrently((0..50).map(|_| app.send(create("one-key", "lamp-drop")))).await;
    let first = &responses[0];
    assert_eq!(first.status, 201, "{}", first.body);
    for r in &responses {
        assert_eq!(
            (r.status, &r.body),
            (first.status, &first.body),
            "same answer for all"
        );
    }
    let originals = responses
        .iter()
        .filter(|r| r.header("idempotent-replayed").is_none())
        .count();
    assert!(originals >= 1);
    let history = app.get("lamp-drop", "include=history").await.body["history"].clone();
    assert_eq!(history.as_array().map(Vec::len), Some(1), "created once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_concurrent_owner_writes_against_a_limit_of_twenty() {
    let _turn = exclusive().await;
    let app = spawn_app_with(test_settings(&[("DAILY_WRITE_LIMIT_PER_HANDLE", "20")])).await;
    let responses =
        concurrently((0..60).map(|i| app.send(create(&format!("key-{i}"), &format!("drop-{i}")))))
            .await;
    let created = responses.iter().filter(|r| r.status == 201).count();
    let limited = responses
        .iter()
        .filter(|r| r.status == 429 && r.code() == "DAILY_WRITE_LIMIT")
        .count();
    assert_eq!((created, limited), (20, 40));
    let listed = app
        .send(
            Call::new(
                Route::ListGroupBuys,
                format!("/v2/handles/{HANDLE}/group-buys"),
            )
            .query("limit=100")
            .bearer(&owner_token()),
        )
        .await;
    assert_eq!(
        listed.body["items"].as_array().map(Vec::len),
        Some(20),
        "exactly 20 effects"
    );
}
