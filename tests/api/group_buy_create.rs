use group_buy::Route;
use group_buy_tests::{Call, HANDLE, owner_token, spawn_app};
use serde_json::{Value, json};

fn valid_body() -> Value {
    json!({
        "title": "Brass lamp, limited edition",
        "description": "Hand-cast brass table lamp, 40 pieces.",
        "currency": "INR",
        "unitPriceMinor": 249900,
        "minParticipants": 25,
        "maxParticipants": 40,
        "maxQuantityPerParticipant": 2,
        "closesAt": "2099-12-31T18:30:00Z"
    })
}

#[tokio::test]
async fn create_returns_a_draft_with_location_and_etag() {
    let app = spawn_app().await;
    let created = app.create(&valid_body()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let gb = &created.body;
    assert_eq!(gb["slug"], "brass-lamp-limited-edition");
    assert_eq!(gb["handle"], HANDLE);
    assert_eq!(gb["status"], "draft");
    assert_eq!(gb["closesAt"], "2099-12-31T18:30:00.000Z");
    assert_eq!(gb["participantCount"], 0);
    assert_eq!(gb["unitCount"], 0);
    assert_eq!(gb["thresholdMet"], false);
    assert_eq!(gb["closeOutcome"], Value::Null);
    assert_eq!(gb["version"], 1);
    assert_eq!(
        created.header("location"),
        Some("/v2/handles/acme-decor/group-buys/brass-lamp-limited-edition")
    );
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(created.header("cache-control"), Some("no-store"));

    let fetched = app.get("brass-lamp-limited-edition", "").await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body, created.body);
}

#[tokio::test]
async fn a_taken_slug_is_409_and_changes_nothing() {
    let app = spawn_app().await;
    let mut body = valid_body();
    body["slug"] = json!("lamp-drop");
    assert_eq!(app.create(&body).await.status, 201);
    let before = app.all_items().await;
    body["title"] = json!("Another lamp");
    let again = app.create(&body).await;
    assert_eq!(again.status, 409);
    assert_eq!(again.code(), "SLUG_TAKEN");
    assert_eq!(
        app.get("lamp-drop", "").await.body["title"],
        "Brass lamp, limited edition"
    );
    assert_eq!(app.all_items().await.len(), before.len());
}

/// Every validation rule of API.md, one failing case each, with the field it names.
#[tokio::test]
async fn every_invalid_field_is_named_with_validation_failed() {
    let app = spawn_app().await;
    let cases: Vec<(&str, Value)> = vec![
        ("slug", json!("ab")),
        ("slug", json!("Has-Caps")),
        ("slug", json!("double--dash")),
        ("slug", json!("-leading")),
        ("slug", json!("trailing-")),
        ("slug", json!("a".repeat(65))),
        ("title", json!("")),
        ("title", json!("x".repeat(121))),
        ("title", json!(42)),
        ("description", json!("x".repeat(4001))),
        ("currency", json!("inr")),
        ("currency", json!("XYZ")),
        ("unitPriceMinor", json!(-1)),
        ("unitPriceMinor", json!(12.5)),
        ("unitPriceMinor", json!("100")),
        ("minParticipants", json!(0)),
        ("minParticipants", json!(100_001)),
        ("maxParticipants", json!(24)),
        ("maxQuantityPerParticipant", json!(0)),
        ("maxQuantityPerParticipant", json!(101)),
        ("closesAt", json!("2020-01-01T00:00:00.000Z")),
        ("closesAt", json!("next tuesday")),
        ("unknownField", json!(true)),
    ];
    for (field, value) in cases {
        let mut body = valid_body();
        body[field] = value.clone();
        let response = app.create(&body).await;
        assert_eq!(response.status, 400, "{field} = {value}");
        assert_eq!(response.code(), "VALIDATION_FAILED", "{field} = {value}");
        let named: Vec<&str> = response.body["errors"]
            .as_array()
            .expect("errors array")
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert_eq!(named, [field], "{field} = {value}");
    }
    for required in ["title", "currency", "unitPriceMinor", "minParticipants"] {
        let mut body = valid_body();
        body.as_object_mut().map(|o| o.remove(required));
        let response = app.create(&body).await;
        assert_eq!(response.code(), "VALIDATION_FAILED", "{required} missing");
    }
    assert!(
        app.all_items().await.is_empty(),
        "no refused create wrote anything"
    );
}

#[tokio::test]
async fn all_bad_fields_are_reported_at_once() {
    let app = spawn_app().await;
    let response = app
        .create(&json!({"title": "", "currency": "rupees", "minParticipants": -3}))
        .await;
    assert_eq!(response.status, 400);
    let named: Vec<&str> = response.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(
        named,
        ["title", "currency", "unitPriceMinor", "minParticipants"]
    );
}

#[tokio::test]
async fn bodies_that_are_not_json_objects_are_refused() {
    let app = spawn_app().await;
    let path = format!("/v2/handles/{HANDLE}/group-buys");
    let send = |content_type: &str, body: &str| {
        Call::new(Route::CreateGroupBuy, &path)
            .bearer(&owner_token())
            .raw_body(content_type, body)
    };
    let cases = [
        (
            send("application/json", "{\"title\": "),
            400,
            "MALFORMED_JSON",
        ),
        (send("application/json", "[1, 2]"), 400, "MALFORMED_JSON"),
        (send("text/plain", "{}"), 415, "UNSUPPORTED_MEDIA_TYPE"),
        (
            send(
                "application/json",
                &format!("{{\"title\": \"{}\"}}", "x".repeat(17 * 1024)),
            ),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
    ];
    for (call, status, code) in cases {
        let response = app.send(call).await;
        assert_eq!((response.status, response.code()), (status, code));
        assert_eq!(
            response.header("content-type"),
            Some("application/problem+json")
        );
    }
    assert!(app.all_items().await.is_empty());
}
