use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use group_buy::Route;
use group_buy_tests::{Call, HANDLE, TestApp, owner_token, spawn_app};
use serde_json::{Value, json};
use std::collections::HashMap;

#[tokio::test]
async fn an_unknown_group_buy_is_404() {
    let app = spawn_app().await;
    let response = app.get("no-such-drop", "").await;
    assert_eq!(response.status, 404);
    assert_eq!(response.code(), "GROUP_BUY_NOT_FOUND");
}

#[tokio::test]
async fn include_history_adds_the_history_oldest_first() {
    let app = spawn_app().await;
    app.draft("lamp-drop", 1).await;
    app.transition("lamp-drop", Route::PublishGroupBuy, None)
        .await;
    let response = app.get("lamp-drop", "include=history").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("etag"), Some("\"2\""));
    let history = response.body["history"].as_array().expect("history");
    let steps: Vec<_> = history
        .iter()
        .map(|h| (h["action"].clone(), h["result"].clone(), h["to"].clone()))
        .collect();
    assert_eq!(
        steps,
        [
            (json!("create"), json!("applied"), json!("draft")),
            (json!("publish"), json!("applied"), json!("published")),
        ]
    );
    assert_eq!(history[1]["actor"], "jwt:owner-1");
    assert!(
        history[1]["requestId"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert_eq!(response.body.get("historyNextCursor"), Some(&Value::Null));
    let plain = app.get("lamp-drop", "").await.body;
    assert!(plain.get("history").is_none());
    assert!(plain.get("historyNextCursor").is_none());
}

/// Adds `count` history entries to `slug` straight into the table, each a second apart from
/// an hour from now (so after the `create` entry), as the store writes them: request ids
/// `seed-000`, `seed-001`, … in time order.
async fn seed_history(app: &TestApp, slug: &str, count: usize) {
    let start = chrono::Utc::now() + chrono::Duration::hours(1);
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let items: Vec<WriteRequest> = (0..count)
        .map(|i| {
            let at = (start + chrono::Duration::seconds(i as i64))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let request_id = format!("seed-{i:03}");
            let (action, from, to) = match i % 2 {
                0 => ("pause", "published", "paused"),
                _ => ("publish", "paused", "published"),
            };
            let item = HashMap::from([
                ("PK".to_owned(), s(&format!("GB#{HANDLE}#{slug}"))),
                ("SK".to_owned(), s(&format!("HIST#{at}#{request_id}"))),
                ("at".to_owned(), s(&at)),
                ("action".to_owned(), s(action)),
                ("actor".to_owned(), s("jwt:owner-1")),
                ("from".to_owned(), s(from)),
                ("to".to_owned(), s(to)),
                ("outcome".to_owned(), AttributeValue::Null(true)),
                ("result".to_owned(), s("applied")),
                ("version".to_owned(), AttributeValue::N((i + 2).to_string())),
                ("reason".to_owned(), AttributeValue::Null(true)),
                ("requestId".to_owned(), s(&request_id)),
            ]);
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .expect("put");
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    for batch in items.chunks(25) {
        let out = app
            .dynamodb
            .batch_write_item()
            .request_items(&app.table, batch.to_vec())
            .send()
            .await
            .expect("history seeded");
        assert!(
            out.unprocessed_items.unwrap_or_default().is_empty(),
            "every seeded entry written"
        );
    }
}

fn request_ids(page: &Value) -> Vec<String> {
    page["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["requestId"].as_str().expect("requestId").to_owned())
        .collect()
}

fn seeded(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("seed-{i:03}")).collect()
}

#[tokio::test]
async fn history_is_paged_by_100_newest_first_each_page_oldest_first() {
    let app = spawn_app().await;
    app.draft("busy-drop", 1).await;
    // With the `create` entry: 121 in all.
    seed_history(&app, "busy-drop", 120).await;

    let first = app.get("busy-drop", "include=history").await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["slug"], "busy-drop");
    let etag = first.header("etag").expect("etag").to_owned();
    // The latest 100, oldest first: the newest entry is last.
    assert_eq!(request_ids(&first.body), seeded(20..120));
    let cursor = first.body["historyNextCursor"]
        .as_str()
        .expect("older entries remain")
        .to_owned();

    let second = app
        .get(
            "busy-drop",
            &format!("include=history&historyCursor={cursor}"),
        )
        .await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.header("etag"), Some(etag.as_str()));
    assert_eq!(second.body["slug"], "busy-drop");
    let older = second.body["history"].as_array().expect("history");
    assert_eq!(older.len(), 21);
    assert_eq!(older[0]["action"], "create");
    assert_eq!(request_ids(&second.body)[1..], seeded(0..20));
    assert_eq!(second.body.get("historyNextCursor"), Some(&Value::Null));
}

#[tokio::test]
async fn exactly_100_entries_are_one_page_and_101_are_two() {
    let app = spawn_app().await;
    app.draft("full-drop", 1).await;
    seed_history(&app, "full-drop", 99).await;
    let page = app.get("full-drop", "include=history").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body["history"].as_array().map(Vec::len), Some(100));
    assert_eq!(page.body["history"][0]["action"], "create");
    assert_eq!(page.body.get("historyNextCursor"), Some(&Value::Null));

    app.draft("over-drop", 1).await;
    seed_history(&app, "over-drop", 100).await;
    let first = app.get("over-drop", "include=history").await;
    assert_eq!(request_ids(&first.body), seeded(0..100));
    let cursor = first.body["historyNextCursor"].as_str().expect("one older");
    let second = app
        .get(
            "over-drop",
            &format!("include=history&historyCursor={cursor}"),
        )
        .await;
    assert_eq!(second.status, 200, "{}", second.body);
    let older = second.body["history"].as_array().expect("history");
    assert_eq!(older.len(), 1);
    assert_eq!(older[0]["action"], "create");
    assert_eq!(second.body.get("historyNextCursor"), Some(&Value::Null));
}

#[tokio::test]
async fn tampered_and_foreign_history_cursors_are_invalid() {
    let app = spawn_app().await;
    app.draft("busy-drop", 1).await;
    app.draft("other-drop", 1).await;
    seed_history(&app, "busy-drop", 120).await;
    let cursor = app.get("busy-drop", "include=history").await.body["historyNextCursor"]
        .as_str()
        .expect("older entries remain")
        .to_owned();
    let mut tampered = cursor.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let list_cursor = app
        .send(
            Call::new(
                Route::ListGroupBuys,
                format!("/v2/handles/{HANDLE}/group-buys"),
            )
            .query("limit=1")
            .bearer(&owner_token()),
        )
        .await
        .body["nextCursor"]
        .as_str()
        .expect("a list cursor")
        .to_owned();
    for (slug, query) in [
        (
            "busy-drop",
            format!("include=history&historyCursor={tampered}"),
        ),
        (
            "busy-drop",
            "include=history&historyCursor=not-a-cursor".to_owned(),
        ),
        // Another group-buy's history, and another list altogether.
        (
            "other-drop",
            format!("include=history&historyCursor={cursor}"),
        ),
        (
            "busy-drop",
            format!("include=history&historyCursor={list_cursor}"),
        ),
    ] {
        let response = app.get(slug, &query).await;
        assert_eq!(
            (response.status, response.code()),
            (400, "INVALID_CURSOR"),
            "{slug}?{query}"
        );
    }
}

#[tokio::test]
async fn a_history_cursor_needs_include_history() {
    let app = spawn_app().await;
    app.draft("busy-drop", 1).await;
    seed_history(&app, "busy-drop", 120).await;
    let cursor = app.get("busy-drop", "include=history").await.body["historyNextCursor"]
        .as_str()
        .expect("older entries remain")
        .to_owned();
    let response = app
        .get("busy-drop", &format!("historyCursor={cursor}"))
        .await;
    assert_eq!(response.status, 400);
    assert_eq!(response.code(), "VALIDATION_FAILED");
    assert_eq!(response.body["errors"][0]["field"], "historyCursor");
}

#[tokio::test]
async fn only_history_can_be_included() {
    let app = spawn_app().await;
    app.draft("lamp-drop", 1).await;
    let response = app.get("lamp-drop", "include=everything").await;
    assert_eq!(response.status, 400);
    assert_eq!(response.body["errors"][0]["field"], "include");
}

#[tokio::test]
async fn malformed_path_parameters_are_named() {
    let app = spawn_app().await;
    let response = app.get("Not_A_Slug", "").await;
    assert_eq!(response.status, 400);
    assert_eq!(response.body["errors"][0]["field"], "groupBuySlug");
}
