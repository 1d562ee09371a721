use group_buy::Route;
use group_buy_tests::{Call, HANDLE, owner_token, spawn_app};
use serde_json::Value;

fn slugs(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|gb| gb["slug"].as_str().map(String::from))
        .collect()
}

fn list(query: &str) -> Call {
    Call::new(
        Route::ListGroupBuys,
        format!("/v2/handles/{HANDLE}/group-buys"),
    )
    .query(query)
    .bearer(&owner_token())
}

#[tokio::test]
async fn lists_newest_first_across_pages() {
    let app = spawn_app().await;
    for slug in [
        "drop-one",
        "drop-two",
        "drop-three",
        "drop-four",
        "drop-five",
    ] {
        app.draft(slug, 1).await;
        // createdAt has millisecond precision; keep the order unambiguous.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let mut seen = Vec::new();
    let mut query = "limit=2".to_owned();
    for _ in 0..5 {
        let page = app.send(list(&query)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(page.header("cache-control"), Some("no-store"));
        seen.extend(slugs(&page.body));
        match page.body["nextCursor"].as_str() {
            Some(cursor) => query = format!("limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "drop-five",
            "drop-four",
            "drop-three",
            "drop-two",
            "drop-one"
        ]
    );
}

#[tokio::test]
async fn filters_by_status() {
    let app = spawn_app().await;
    app.draft("drop-one", 1).await;
    app.draft("drop-two", 1).await;
    app.transition("drop-two", Route::PublishGroupBuy, None)
        .await;
    let published = app.send(list("status=published")).await;
    assert_eq!(slugs(&published.body), ["drop-two"]);
    let drafts = app.send(list("status=draft")).await;
    assert_eq!(slugs(&drafts.body), ["drop-one"]);
    let bad = app.send(list("status=archived")).await;
    assert_eq!((bad.status, bad.code()), (400, "VALIDATION_FAILED"));
    assert_eq!(bad.body["errors"][0]["field"], "status");
}

#[tokio::test]
async fn tampered_and_foreign_cursors_are_invalid() {
    let app = spawn_app().await;
    for slug in ["drop-one", "drop-two", "drop-three"] {
        app.draft(slug, 1).await;
    }
    let first = app.send(list("limit=1")).await;
    let cursor = first.body["nextCursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let mut tampered = cursor.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    for query in [
        format!("cursor={tampered}"),
        format!("status=draft&cursor={cursor}"),
        "cursor=not-a-cursor".to_owned(),
    ] {
        let response = app.send(list(&query)).await;
        assert_eq!(
            (response.status, response.code()),
            (400, "INVALID_CURSOR"),
            "{query}"
        );
    }
}

/// Every refused cursor says which way it is wrong, in a problem body.
#[tokio::test]
async fn a_refused_cursor_says_why() {
    let app = spawn_app().await;
    for slug in ["drop-one", "drop-two"] {
        app.draft(slug, 1).await;
    }
    let first = app.send(list("limit=1")).await;
    let cursor = first.body["nextCursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    for (query, cause) in [
        ("cursor=not-a-cursor".to_owned(), "is not a cursor"),
        ("cursor=%E2%80%A6".to_owned(), "is not a cursor"),
        (
            format!("status=draft&cursor={cursor}"),
            "belongs to another list",
        ),
    ] {
        let response = app.send(list(&query)).await;
        assert_eq!(
            (response.status, response.code()),
            (400, "INVALID_CURSOR"),
            "{query}"
        );
        let detail = response.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(cause), "{query}: {detail}");
        assert!(response.body["requestId"].is_string(), "{query}");
    }
}

#[tokio::test]
async fn limit_must_be_between_1_and_100() {
    let app = spawn_app().await;
    for limit in ["0", "101", "ten"] {
        let response = app.send(list(&format!("limit={limit}"))).await;
        assert_eq!(response.status, 400, "limit={limit}");
        assert_eq!(response.body["errors"][0]["field"], "limit");
    }
    assert_eq!(app.send(list("limit=100")).await.status, 200);
}
