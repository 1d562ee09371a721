use group_buy::Route;
use group_buy::configuration::DEV_ROTATING_KEYS;
use group_buy_tests::{
    Call, HANDLE, OWNER_SCOPES, owner_token, spawn_app, spawn_app_with, test_settings, token,
};
use serde_json::{Value, json};

fn create(key: &str, body: &Value) -> Call {
    Call::new(
        Route::CreateGroupBuy,
        format!("/v2/handles/{HANDLE}/group-buys"),
    )
    .bearer(&owner_token())
    .header("idempotency-key", key)
    .json(body)
}

fn lamp() -> Value {
    json!({"slug": "lamp-drop", "title": "Lamp", "currency": "INR", "unitPriceMinor": 1, "minParticipants": 1})
}

async fn group_buys(app: &group_buy_tests::TestApp) -> usize {
    app.all_items()
        .await
        .iter()
        .filter(|i| matches!(i.get("SK"), Some(aws_sdk_dynamodb::types::AttributeValue::S(sk)) if sk == "GB"))
        .count()
}

#[tokio::test]
async fn a_retry_replays_the_first_response() {
    let app = spawn_app().await;
    let first = app.send(create("order-1", &lamp())).await;
    assert_eq!(first.status, 201);
    assert!(first.header("idempotent-replayed").is_none());
    let retry = app.send(create("order-1", &lamp())).await;
    assert_eq!(retry.status, 201);
    assert_eq!(retry.body, first.body);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.header("location"), first.header("location"));
    assert_ne!(retry.header("x-request-id"), first.header("x-request-id"));
    assert_eq!(group_buys(&app).await, 1);

    let other_body = app.send(create("order-1", &json!({"title": "Vase"}))).await;
    assert_eq!(
        (other_body.status, other_body.code()),
        (422, "IDEMPOTENCY_KEY_REUSED")
    );
}

#[tokio::test]
async fn client_errors_are_kept_and_replayed_too() {
    let app = spawn_app().await;
    let bad = json!({"title": ""});
    let first = app.send(create("order-2", &bad)).await;
    assert_eq!(first.status, 400);
    let retry = app.send(create("order-2", &bad)).await;
    assert_eq!((retry.status, retry.body.clone()), (400, first.body));
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
}

#[tokio::test]
async fn keys_are_scoped_to_the_caller() {
    let app = spawn_app().await;
    assert_eq!(app.send(create("shared-key", &lamp())).await.status, 201);
    let colleague = token("owner-2", &[HANDLE], OWNER_SCOPES);
    let theirs = app
        .send(
            Call::new(
                Route::CreateGroupBuy,
                format!("/v2/handles/{HANDLE}/group-buys"),
            )
            .bearer(&colleague)
            .header("idempotency-key", "shared-key")
            .json(&lamp()),
        )
        .await;
    assert_eq!(
        (theirs.status, theirs.code()),
        (409, "SLUG_TAKEN"),
        "ran, not replayed"
    );
    let publish = app
        .send(
            Call::new(
                Route::PublishGroupBuy,
                format!("/v2/handles/{HANDLE}/group-buys/lamp-drop/publish"),
            )
            .bearer(&owner_token())
            .header("idempotency-key", "shared-key"),
        )
        .await;
    assert_eq!(
        (publish.status, publish.code()),
        (422, "IDEMPOTENCY_KEY_REUSED"),
        "the same caller's key names one request, whatever the route"
    );
    assert!(publish.header("idempotent-replayed").is_none());
}

#[tokio::test]
async fn invalid_keys_are_400() {
    let app = spawn_app().await;
    for key in [String::new(), "k".repeat(256), "tab\there".into()] {
        let response = app.send(create(&key, &lamp())).await;
        assert_eq!(
            (response.status, response.code()),
            (400, "INVALID_IDEMPOTENCY_KEY")
        );
    }
    assert_eq!(group_buys(&app).await, 0);
}

#[tokio::test]
async fn a_replayed_transition_answers_what_the_first_did() {
    let app = spawn_app().await;
    app.draft("lamp-drop", 1).await;
    let publish = || {
        Call::new(
            Route::PublishGroupBuy,
            format!("/v2/handles/{HANDLE}/group-buys/lamp-drop/publish"),
        )
        .bearer(&owner_token())
        .header("idempotency-key", "publish-1")
    };
    let first = app.send(publish()).await;
    app.transition("lamp-drop", Route::PauseGroupBuy, None)
        .await;
    let retry = app.send(publish()).await;
    assert_eq!(retry.body, first.body, "the replay, not a second publish");
    assert_eq!(app.get("lamp-drop", "").await.body["status"], "paused");
}

/// A request abandoned midway (its future dropped, as a timeout or crash would) leaves no
/// lock behind: the key is usable at once, and the action still happens exactly once.
#[tokio::test]
async fn an_abandoned_request_never_blocks_its_key() {
    let app = spawn_app().await;
    for cut_after_micros in [1, 500, 2_000, 5_000, 20_000] {
        let key = format!("abandoned-{cut_after_micros}");
        let body = json!({"slug": format!("drop-{cut_after_micros}"), "title": "Lamp",
            "currency": "INR", "unitPriceMinor": 1, "minParticipants": 1});
        let abandoned = tokio::time::timeout(
            std::time::Duration::from_micros(cut_after_micros),
            app.send(create(&key, &body)),
        )
        .await;
        let retry = app.send(create(&key, &body)).await;
        assert_eq!(retry.status, 201, "{}", retry.body);
        if let Ok(first) = abandoned {
            assert_eq!(first.body, retry.body);
        }
    }
    assert_eq!(group_buys(&app).await, 5);
}

fn publish(slug: &str, key: &str) -> Call {
    Call::new(
        Route::PublishGroupBuy,
        format!("/v2/handles/{HANDLE}/group-buys/{slug}/publish"),
    )
    .bearer(&owner_token())
    .header("idempotency-key", key)
}

/// A request is its method, its concrete path and its body: the key of A's publish, sent to
/// publish B, is another request, not a replay of A.
#[tokio::test]
async fn the_same_key_on_another_path_is_422_and_acts_on_nothing() {
    let app = spawn_app().await;
    app.draft("lamp-a", 1).await;
    app.draft("lamp-b", 1).await;
    assert_eq!(app.send(publish("lamp-a", "publish-key")).await.status, 200);

    let other = app.send(publish("lamp-b", "publish-key")).await;
    assert_eq!(
        (other.status, other.code()),
        (422, "IDEMPOTENCY_KEY_REUSED"),
        "{}",
        other.body
    );
    assert_eq!(other.header("idempotent-replayed"), None);
    assert_eq!(app.get("lamp-b", "").await.body["status"], "draft");
}

/// 429 says "retry later": the retry must run, not replay the refusal.
#[tokio::test]
async fn a_429_is_not_kept() {
    let app = group_buy_tests::spawn_app_with(group_buy_tests::test_settings(&[(
        "DAILY_WRITE_LIMIT_PER_HANDLE",
        "1",
    )]))
    .await;
    app.draft("lamp-a", 1).await;
    let limited = app.send(publish("lamp-a", "limited-key")).await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    let again = app.send(publish("lamp-a", "limited-key")).await;
    assert_eq!(again.status, 429);
    assert_eq!(again.header("idempotent-replayed"), None, "not a replay");
}

/// A retry made after the rotating keys were rotated (a new key first, the old one still
/// listed) finds the record its first request left under the old key, and replays it; the
/// read that finds it is made only while more than one key is listed.
#[tokio::test]
async fn a_retry_across_a_key_rotation_replays_the_first_response() {
    let before = spawn_app().await;
    let first = before.send(create("order-rot", &lamp())).await;
    assert_eq!(first.status, 201);

    let rotated = spawn_app_with(test_settings(&[
        ("TABLE_NAME", &before.table),
        (
            "ROTATING_KEYS",
            &format!("v2=idempotency-rotation-key-v2,{DEV_ROTATING_KEYS}"),
        ),
    ]))
    .await;
    let retry = rotated.send(create("order-rot", &lamp())).await;
    assert_eq!((retry.status, &retry.body), (201, &first.body));
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    let reused = rotated
        .send(create("order-rot", &json!({"title": "Vase"})))
        .await;
    assert_eq!(reused.code(), "IDEMPOTENCY_KEY_REUSED");
    // New keyed requests are recorded under the new key, and replay there.
    let second = rotated.send(create("order-new", &json!({"slug": "vase-drop", "title": "Vase", "currency": "INR", "unitPriceMinor": 1, "minParticipants": 1}))).await;
    assert_eq!(second.status, 201);
    let again = rotated.send(create("order-new", &json!({"slug": "vase-drop", "title": "Vase", "currency": "INR", "unitPriceMinor": 1, "minParticipants": 1}))).await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(group_buys(&rotated).await, 2);
}
