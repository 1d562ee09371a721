//! The owner's participants as CSV: `Accept: text/csv`, one page per request, the next page
//! in `Link: <…>; rel="next"`, formula injection neutralised, errors still problem+json.

use aws_sdk_dynamodb::types::AttributeValue;
use group_buy::Route;
use group_buy_tests::{Call, HANDLE, TestApp, TestResponse, Visitor, owner_token, spawn_app};
use serde_json::json;

fn interests(slug: &str, query: &str, accept: Option<&str>) -> Call {
    let call = Call::new(
        Route::ListInterests,
        format!("/v2/handles/{HANDLE}/group-buys/{slug}/interests"),
    )
    .query(query)
    .bearer(&owner_token());
    match accept {
        Some(accept) => call.header("accept", accept),
        None => call,
    }
}

async fn csv_page(app: &TestApp, query: &str) -> TestResponse {
    app.send(interests("lamp-drop", query, Some("text/csv")))
        .await
}

fn rows(page: &TestResponse) -> Vec<Vec<String>> {
    let text = page.body.as_str().expect("a CSV body");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("a header row")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        ["participant", "quantity", "createdAt", "updatedAt"]
    );
    reader
        .records()
        .map(|r| r.expect("a row").iter().map(str::to_owned).collect())
        .collect()
}

/// The query of the `Link: <?…>; rel="next"` header, if any.
fn next_query(page: &TestResponse) -> Option<String> {
    let link = page.header("link")?;
    let target = link.strip_prefix("<?")?.split_once('>')?;
    assert_eq!(target.1, "; rel=\"next\"");
    Some(target.0.to_owned())
}

#[tokio::test]
async fn csv_pages_follow_the_link_header_and_match_the_json_list() {
    let app = spawn_app().await;
    app.published("lamp-drop", json!({})).await;
    for quantity in 1..=5 {
        let registered = app
            .register("lamp-drop", &Visitor::anonymous(), Some(quantity))
            .await;
        assert_eq!(registered.status, 201);
    }
    let mut query = "limit=2".to_owned();
    let mut all = Vec::new();
    let mut pages = 0;
    loop {
        let page = csv_page(&app, &query).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(page.header("content-type"), Some("text/csv; charset=utf-8"));
        assert_eq!(page.header("cache-control"), Some("no-store"));
        assert_eq!(page.header("vary"), Some("Accept"));
        let rows = rows(&page);
        assert!(rows.len() <= 2);
        all.extend(rows);
        pages += 1;
        match next_query(&page) {
            Some(next) => {
                assert!(next.contains("limit=2"), "{next}");
                query = next;
            }
            None => break,
        }
    }
    assert!(pages >= 3, "5 participants, 2 a page");
    let json: Vec<Vec<String>> = app
        .interests("lamp-drop")
        .await
        .iter()
        .map(|i| {
            ["participant", "quantity", "createdAt", "updatedAt"]
                .iter()
                .map(|k| match &i[*k] {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    // Pseudonyms that begin with "-" carry the neutralising quote in CSV.
    let unquoted: Vec<Vec<String>> = all
        .into_iter()
        .map(|mut row| {
            if let Some(rest) = row[0].strip_prefix("'-") {
                row[0] = format!("-{rest}");
            }
            row
        })
        .collect();
    assert_eq!(unquoted, json);
}

#[tokio::test]
async fn formula_cells_are_neutralised() {
    let app = spawn_app().await;
    app.published("lamp-drop", json!({})).await;
    // An interest whose text cells start with formula triggers: no write of the service
    // makes one (pseudonyms are base64url), so it is put directly, as a bug elsewhere might.
    let s = |v: &str| AttributeValue::S(v.into());
    app.dynamodb
        .put_item()
        .table_name(&app.table)
        .item("PK", s(&format!("GB#{HANDLE}#lamp-drop")))
        .item("SK", s("INT#=HYPERLINK"))
        .item(
            "participant",
            s("=HYPERLINK(\"http://evil.example\",\"x\")"),
        )
        .item("quantity", AttributeValue::N("1".into()))
        .item("createdAt", s("2026-11-24T18:00:00.000Z"))
        .item("updatedAt", s("2026-11-24T18:00:00.000Z"))
        .send()
        .await
        .expect("put");
    let page = csv_page(&app, "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        rows(&page)[0][0],
        "'=HYPERLINK(\"http://evil.example\",\"x\")"
    );
    assert!(next_query(&page).is_none(), "one page: no Link");
}

#[tokio::test]
async fn an_empty_group_buy_is_a_header_row() {
    let app = spawn_app().await;
    app.published("lamp-drop", json!({})).await;
    let page = csv_page(&app, "").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.body.as_str(),
        Some("participant,quantity,createdAt,updatedAt\r\n")
    );
    assert!(page.header("link").is_none());
}

#[tokio::test]
async fn errors_stay_problem_json() {
    let app = spawn_app().await;
    app.published("lamp-drop", json!({})).await;
    let unknown = app
        .send(interests("no-such-drop", "", Some("text/csv")))
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "GROUP_BUY_NOT_FOUND")
    );
    assert_eq!(
        unknown.header("content-type"),
        Some("application/problem+json")
    );
    let tampered = csv_page(&app, "cursor=bm90LWEtY3Vyc29y").await;
    assert_eq!((tampered.status, tampered.code()), (400, "INVALID_CURSOR"));
    let anonymous = app
        .send(
            Call::new(
                Route::ListInterests,
                format!("/v2/handles/{HANDLE}/group-buys/lamp-drop/interests"),
            )
            .header("accept", "text/csv"),
        )
        .await;
    assert_eq!(
        (anonymous.status, anonymous.code()),
        (401, "UNAUTHENTICATED")
    );
}

#[tokio::test]
async fn json_stays_the_default() {
    let app = spawn_app().await;
    app.published("lamp-drop", json!({})).await;
    for accept in [
        None,
        Some("*/*"),
        Some("application/json"),
        Some("application/json, text/csv"),
        Some("application/xml"),
    ] {
        let page = app.send(interests("lamp-drop", "", accept)).await;
        assert_eq!(page.status, 200, "{accept:?}");
        assert_eq!(
            page.header("content-type"),
            Some("application/json"),
            "{accept:?}"
        );
        assert_eq!(page.body, json!({"items": [], "nextCursor": null}));
    }
}
