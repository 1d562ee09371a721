use group_buy::Route;
use group_buy_tests::{Call, HANDLE, Visitor, owner_token, spawn_app_with, test_settings};
use serde_json::json;

#[tokio::test]
async fn owner_writes_stop_at_the_daily_limit_and_replays_are_free() {
    let app = spawn_app_with(test_settings(&[("DAILY_WRITE_LIMIT_PER_HANDLE", "3")])).await;
    let create = |i: u32| {
        Call::new(
            Route::CreateGroupBuy,
            format!("/v2/handles/{HANDLE}/group-buys"),
        )
        .bearer(&owner_token())
        .header("idempotency-key", &format!("create-{i}"))
        .json(
            &json!({"slug": format!("drop-{i}"), "title": "Lamp", "currency": "INR",
                "unitPriceMinor": 1, "minParticipants": 1}),
        )
    };
    for i in 0..3 {
        assert_eq!(app.send(create(i)).await.status, 201);
    }
    let limited = app.send(create(3)).await;
    assert_eq!((limited.status, limited.code()), (429, "DAILY_WRITE_LIMIT"));
    assert!(limited.header("retry-after").is_some());
    assert_eq!(
        limited.header("ratelimit-policy"),
        Some("\"daily\";q=3;w=86400")
    );
    let replay = app.send(create(1)).await;
    assert_eq!(
        replay.status, 201,
        "a replay does not count against the limit"
    );
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        app.get("drop-3", "").await.status,
        404,
        "the refused write left nothing"
    );
}

#[tokio::test]
async fn interest_writes_are_limited_per_visitor() {
    let app = spawn_app_with(test_settings(&[("DAILY_INTEREST_WRITES_PER_VISITOR", "2")])).await;
    app.published("lamp-drop", json!({})).await;
    let visitor = Visitor::anonymous();
    assert_eq!(
        app.register("lamp-drop", &visitor, Some(1)).await.status,
        201
    );
    assert_eq!(
        app.register("lamp-drop", &visitor, Some(1)).await.status,
        200,
        "no write, free"
    );
    assert_eq!(
        app.register("lamp-drop", &visitor, Some(2)).await.status,
        200
    );
    let limited = app.register("lamp-drop", &visitor, Some(3)).await;
    assert_eq!((limited.status, limited.code()), (429, "DAILY_WRITE_LIMIT"));
    assert_eq!(
        app.register("lamp-drop", &Visitor::anonymous(), None)
            .await
            .status,
        201
    );
    assert_eq!(app.assert_counters_match_records("lamp-drop").await, (2, 3));
}
