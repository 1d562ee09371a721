use group_buy::Route;
use group_buy_tests::{Call, HANDLE, spawn_app};
use serde_json::{Value, json};

fn public_list() -> Call {
    Call::new(
        Route::ListPublicGroupBuys,
        format!("/v2/public/group-buys/{HANDLE}"),
    )
}

fn public_get(slug: &str) -> Call {
    Call::new(
        Route::GetPublicGroupBuy,
        format!("/v2/public/group-buys/{HANDLE}/{slug}"),
    )
}

fn slugs(body: &Value) -> Vec<&str> {
    body["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|i| i["slug"].as_str()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn drafts_never_appear_publicly() {
    let app = spawn_app().await;
    app.draft("secret-drop", 1).await;
    app.published("open-drop", json!({})).await;
    app.published("paused-drop", json!({})).await;
    app.transition("paused-drop", Route::PauseGroupBuy, None)
        .await;
    app.published("closed-drop", json!({})).await;
    app.transition(
        "closed-drop",
        Route::CloseGroupBuy,
        Some(&json!({"outcome": "cancelled"})),
    )
    .await;

    let list = app.send(public_list()).await;
    assert_eq!(list.status, 200);
    let mut listed = slugs(&list.body);
    listed.sort_unstable();
    assert_eq!(listed, ["closed-drop", "open-drop", "paused-drop"]);
    assert!(!list.body.to_string().contains("secret-drop"));
    assert_eq!(list.header("cache-control"), Some("public, max-age=10"));

    let draft = app.send(public_get("secret-drop")).await;
    assert_eq!((draft.status, draft.code()), (404, "GROUP_BUY_NOT_FOUND"));
    let unknown = app.send(public_get("no-such-drop")).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "GROUP_BUY_NOT_FOUND")
    );
}

#[tokio::test]
async fn the_public_view_has_no_version() {
    let app = spawn_app().await;
    app.published("open-drop", json!({})).await;
    let one = app.send(public_get("open-drop")).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["status"], "published");
    assert!(one.body.get("version").is_none());
    assert_eq!(one.body["participantCount"], 0);
    assert_eq!(one.header("cache-control"), Some("public, max-age=10"));
}

#[tokio::test]
async fn public_lists_paginate_with_their_own_cursors() {
    let app = spawn_app().await;
    for slug in ["drop-one", "drop-two", "drop-three"] {
        app.published(slug, json!({})).await;
    }
    let first = app.send(public_list().query("limit=2")).await;
    assert_eq!(slugs(&first.body).len(), 2);
    let cursor = first.body["nextCursor"].as_str().expect("more").to_owned();
    let second = app
        .send(public_list().query(&format!("limit=2&cursor={cursor}")))
        .await;
    assert_eq!(slugs(&second.body).len(), 1);
    let owner_list = app
        .send(
            Call::new(
                Route::ListGroupBuys,
                format!("/v2/handles/{HANDLE}/group-buys"),
            )
            .bearer(&group_buy_tests::owner_token())
            .query(&format!("cursor={cursor}")),
        )
        .await;
    assert_eq!(
        owner_list.code(),
        "INVALID_CURSOR",
        "a public cursor is not an owner cursor"
    );
}

#[tokio::test]
async fn a_draft_cancelled_before_publishing_is_never_public() {
    let app = spawn_app().await;
    app.draft("withdrawn-idea", 1).await;
    let cancelled = app
        .transition(
            "withdrawn-idea",
            Route::CloseGroupBuy,
            Some(&json!({"outcome": "cancelled"})),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.body["status"], "closed");

    let one = app.send(public_get("withdrawn-idea")).await;
    assert_eq!((one.status, one.code()), (404, "GROUP_BUY_NOT_FOUND"));
    let list = app.send(public_list()).await;
    assert!(
        !slugs(&list.body).contains(&"withdrawn-idea"),
        "{}",
        list.body
    );
    let interest = app
        .register(
            "withdrawn-idea",
            &group_buy_tests::Visitor::anonymous(),
            None,
        )
        .await;
    assert_eq!(interest.status, 404);
}

/// Items written before the fix carry public index keys; the operator's migration removes
/// them, and only from group-buys that were never published.
#[tokio::test]
async fn the_migration_unlists_never_published_group_buys_only() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let app = spawn_app().await;
    app.draft("old-cancelled", 1).await;
    app.transition(
        "old-cancelled",
        Route::CloseGroupBuy,
        Some(&json!({"outcome": "cancelled"})),
    )
    .await;
    app.published("live-drop", json!({})).await;
    // As the landed code wrote it: the public index keys on the cancelled draft.
    app.dynamodb
        .update_item()
        .table_name(&app.table)
        .key(
            "PK",
            AttributeValue::S(format!("GB#{HANDLE}#old-cancelled")),
        )
        .key("SK", AttributeValue::S("GB".into()))
        .update_expression("SET GSI3PK = :pk, GSI3SK = :sk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("PUBLIC#{HANDLE}")))
        .expression_attribute_values(
            ":sk",
            AttributeValue::S("2026-01-01T00:00:00.000Z#old-cancelled".into()),
        )
        .send()
        .await
        .expect("old item");
    assert!(slugs(&app.send(public_list()).await.body).contains(&"old-cancelled"));

    let unlisted = app
        .app
        .store
        .unlist_never_published()
        .await
        .expect("migration");
    assert_eq!(unlisted, 1);
    assert_eq!(slugs(&app.send(public_list()).await.body), ["live-drop"]);
    assert_eq!(
        app.app.store.unlist_never_published().await.expect("again"),
        0
    );
}
