//! POST …/extend: every guardrail of API.md ("Deadline extension") with its status and code,
//! the history, If-Match, Idempotency-Key, the daily write limit, and the deadline the
//! scheduled expiry then follows.

use aws_sdk_dynamodb::types::AttributeValue;
use group_buy::Route;
use group_buy::deadline::Deadline;
use group_buy::domain::Timestamp;
use group_buy::expiry::expire_due;
use group_buy_tests::{
    Call, HANDLE, TestApp, TestResponse, owner_token, spawn_app, spawn_app_with, test_settings,
};
use serde_json::{Value, json};
use std::time::Duration;

const HOUR: i64 = 60 * 60 * 1000;
const DAY: i64 = 24 * HOUR;

fn extend_call(slug: &str, body: &Value) -> Call {
    Call::new(
        Route::ExtendGroupBuy,
        format!("/v2/handles/{HANDLE}/group-buys/{slug}/extend"),
    )
    .bearer(&owner_token())
    .json(body)
}

async fn extend(app: &TestApp, slug: &str, closes_at: Timestamp) -> TestResponse {
    app.send(extend_call(
        slug,
        &json!({"closesAt": closes_at.to_string()}),
    ))
    .await
}

/// A published group-buy closing at `closes_at`.
async fn open_until(app: &TestApp, slug: &str, closes_at: Timestamp) -> Value {
    app.published(slug, json!({"closesAt": closes_at.to_string()}))
        .await
}

fn string(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(v)) => v.clone(),
        Some(AttributeValue::N(v)) => v.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

async fn history(app: &TestApp, slug: &str) -> Vec<Value> {
    app.get(slug, "include=history").await.body["history"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn an_extension_moves_the_deadline_everywhere_and_is_in_the_history() {
    let app = spawn_app().await;
    let first = Timestamp::now().plus_millis(HOUR);
    let published = open_until(&app, "lamp-drop", first).await;
    assert_eq!(published["extensionCount"], 0);
    let later = first.plus_millis(DAY);

    let extended = app
        .send(
            extend_call("lamp-drop", &json!({"closesAt": later.to_string()}))
                .header("if-match", "\"2\""),
        )
        .await;
    assert_eq!(extended.status, 200, "{}", extended.body);
    assert_eq!(extended.body["closesAt"], later.to_string());
    assert_eq!(extended.body["extensionCount"], 1);
    assert_eq!(extended.body["version"], 3);
    assert_eq!(extended.body["status"], "published");
    assert_eq!(extended.header("etag"), Some("\"3\""));
    assert_eq!(extended.header("cache-control"), Some("no-store"));

    let public = app
        .send(Call::new(
            Route::GetPublicGroupBuy,
            format!("/v2/public/group-buys/{HANDLE}/lamp-drop"),
        ))
        .await;
    assert_eq!(public.body["closesAt"], later.to_string());
    assert_eq!(public.body["extensionCount"], 1);

    let own = app.item("lamp-drop", "GB").await;
    assert_eq!(string(&own, "closesAt"), later.to_string());
    assert_eq!(string(&own, "firstClosesAt"), first.to_string());
    assert_eq!(string(&own, "extensionCount"), "1");
    assert!(
        string(&own, "GSI5SK").starts_with(&format!("{later}#")),
        "the deadline index follows"
    );
    let tally = app.item("lamp-drop", "GB#TALLY").await;
    assert_eq!(string(&tally, "closesAt"), later.to_string());
    assert_eq!(string(&tally, "version"), "3");

    let admin = app.admin("").await;
    let listed = &admin.body["items"][0];
    assert_eq!(listed["closesAt"], later.to_string(), "{}", admin.body);

    let last = history(&app, "lamp-drop").await.pop().expect("an entry");
    assert_eq!(last["action"], "extend");
    assert_eq!(last["result"], "applied");
    assert_eq!(last["from"], "published");
    assert_eq!(last["to"], "published");
    assert_eq!(last["version"], 3);
    assert_eq!(last["previousClosesAt"], first.to_string());
    assert_eq!(last["closesAt"], later.to_string());
}

#[tokio::test]
async fn a_paused_group_buy_is_extended_and_stays_paused() {
    let app = spawn_app().await;
    let first = Timestamp::now().plus_millis(HOUR);
    open_until(&app, "lamp-drop", first).await;
    app.transition("lamp-drop", Route::PauseGroupBuy, None)
        .await;
    let extended = extend(&app, "lamp-drop", first.plus_millis(HOUR)).await;
    assert_eq!(extended.status, 200, "{}", extended.body);
    assert_eq!(extended.body["status"], "paused");
}

#[tokio::test]
async fn an_earlier_or_equal_deadline_is_400_validation_failed() {
    let app = spawn_app().await;
    let current = Timestamp::now().plus_millis(DAY);
    open_until(&app, "lamp-drop", current).await;
    for requested in [current, current.plus_millis(-HOUR)] {
        let refused = extend(&app, "lamp-drop", requested).await;
        assert_eq!(
            (refused.status, refused.code()),
            (400, "VALIDATION_FAILED"),
            "{}",
            refused.body
        );
        assert_eq!(refused.body["errors"][0]["field"], "closesAt");
        assert_eq!(
            refused.header("content-type"),
            Some("application/problem+json")
        );
    }
    let gb = app.get("lamp-drop", "").await.body;
    assert_eq!(
        (gb["version"].clone(), gb["extensionCount"].clone()),
        (json!(2), json!(0))
    );
}

#[tokio::test]
async fn a_fourth_extension_is_409_extension_limit() {
    let app = spawn_app().await;
    let first = Timestamp::now().plus_millis(HOUR);
    open_until(&app, "lamp-drop", first).await;
    for n in 1..=3 {
        let extended = extend(&app, "lamp-drop", first.plus_millis(n * DAY)).await;
        assert_eq!(extended.status, 200, "{}", extended.body);
        assert_eq!(extended.body["extensionCount"], n);
    }
    let fourth = extend(&app, "lamp-drop", first.plus_millis(4 * DAY)).await;
    assert_eq!((fourth.status, fourth.code()), (409, "EXTENSION_LIMIT"));
    assert_eq!(fourth.body["extensionCount"], 3);
    assert_eq!(fourth.body["maxExtensions"], 3);
    assert_eq!(app.get("lamp-drop", "").await.body["version"], 5);
}

#[tokio::test]
async fn more_than_90_days_past_the_first_deadline_is_409_extension_limit() {
    let app = spawn_app().await;
    let first = Timestamp::now().plus_millis(HOUR);
    open_until(&app, "lamp-drop", first).await;
    let latest = first.plus_millis(90 * DAY);
    let too_far = extend(&app, "lamp-drop", latest.plus_millis(1)).await;
    assert_eq!((too_far.status, too_far.code()), (409, "EXTENSION_LIMIT"));
    assert_eq!(too_far.body["latestClosesAt"], latest.to_string());
    // Counted from the first deadline, not the current one.
    assert_eq!(
        extend(&app, "lamp-drop", first.plus_millis(10 * DAY))
            .await
            .status,
        200
    );
    let still_too_far = extend(&app, "lamp-drop", latest.plus_millis(1)).await;
    assert_eq!(still_too_far.code(), "EXTENSION_LIMIT");
    assert_eq!(extend(&app, "lamp-drop", latest).await.status, 200);
}

#[tokio::test]
async fn drafts_closed_ones_and_open_ended_ones_are_409_invalid_transition() {
    let app = spawn_app().await;
    let later = Timestamp::now().plus_millis(2 * DAY);
    app.create(&json!({
        "slug": "draft-drop", "title": "Lamp", "currency": "INR", "unitPriceMinor": 1,
        "minParticipants": 1, "closesAt": Timestamp::now().plus_millis(DAY).to_string()
    }))
    .await;
    open_until(&app, "closed-drop", Timestamp::now().plus_millis(DAY)).await;
    app.transition(
        "closed-drop",
        Route::CloseGroupBuy,
        Some(&json!({"outcome": "cancelled"})),
    )
    .await;
    app.published("open-ended-drop", json!({})).await;
    for (slug, status) in [
        ("draft-drop", "draft"),
        ("closed-drop", "closed"),
        ("open-ended-drop", "published"),
    ] {
        let refused = extend(&app, slug, later).await;
        assert_eq!(
            (refused.status, refused.code()),
            (409, "INVALID_TRANSITION"),
            "{slug}"
        );
        assert_eq!(refused.body["currentStatus"], status, "{slug}");
    }
}

/// The code is the contract's, but the detail names the real cause: there is no deadline to
/// move, which "not possible from published" would hide.
#[tokio::test]
async fn an_open_ended_group_buy_is_refused_for_having_no_deadline() {
    let app = spawn_app().await;
    app.published("open-ended-lamp", json!({})).await;
    let refused = extend(&app, "open-ended-lamp", Timestamp::now().plus_millis(DAY)).await;
    assert_eq!(
        (refused.status, refused.code()),
        (409, "INVALID_TRANSITION")
    );
    let detail = refused.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("no deadline"), "{detail}");
    let draft = app.get("open-ended-lamp", "").await;
    assert_eq!(draft.body["closesAt"], Value::Null, "nothing changed");
}

#[tokio::test]
async fn a_passed_deadline_is_409_deadline_passed() {
    let app = spawn_app().await;
    let soon = Timestamp::now().plus_millis(1_500);
    open_until(&app, "lamp-drop", soon).await;
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    let refused = extend(&app, "lamp-drop", soon.plus_millis(DAY)).await;
    assert_eq!((refused.status, refused.code()), (409, "DEADLINE_PASSED"));
    assert_eq!(refused.body["closesAt"], soon.to_string());
}

#[tokio::test]
async fn refused_extensions_are_in_the_history_with_their_code() {
    let app = spawn_app().await;
    let current = Timestamp::now().plus_millis(DAY);
    open_until(&app, "lamp-drop", current).await;
    extend(&app, "lamp-drop", current).await;
    extend(&app, "lamp-drop", current.plus_millis(100 * DAY)).await;
    let refused: Vec<(Value, Value, Value)> = history(&app, "lamp-drop")
        .await
        .into_iter()
        .filter(|h| h["action"] == "extend")
        .map(|h| {
            (
                h["result"].clone(),
                h["reason"].clone(),
                h["version"].clone(),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [
            (json!("rejected"), json!("VALIDATION_FAILED"), json!(2)),
            (json!("rejected"), json!("EXTENSION_LIMIT"), json!(2)),
        ]
    );
}

#[tokio::test]
async fn bad_bodies_are_400_and_change_nothing() {
    let app = spawn_app().await;
    open_until(&app, "lamp-drop", Timestamp::now().plus_millis(DAY)).await;
    let before = app.all_items().await.len();
    let later = Timestamp::now().plus_millis(2 * DAY).to_string();
    let cases = [
        (json!({}), "VALIDATION_FAILED", Some("closesAt")),
        (
            json!({"closesAt": "next week"}),
            "VALIDATION_FAILED",
            Some("closesAt"),
        ),
        (
            json!({"closesAt": 1}),
            "VALIDATION_FAILED",
            Some("closesAt"),
        ),
        (
            json!({"closesAt": later, "reason": "late stock"}),
            "VALIDATION_FAILED",
            Some("reason"),
        ),
    ];
    for (body, code, field) in cases {
        let refused = app.send(extend_call("lamp-drop", &body)).await;
        assert_eq!((refused.status, refused.code()), (400, code), "{body}");
        assert_eq!(refused.body["errors"][0]["field"].as_str(), field, "{body}");
    }
    let malformed = app
        .send(
            Call::new(
                Route::ExtendGroupBuy,
                format!("/v2/handles/{HANDLE}/group-buys/lamp-drop/extend"),
            )
            .bearer(&owner_token())
            .raw_body("application/json", "{\"closesAt\": "),
        )
        .await;
    assert_eq!(
        (malformed.status, malformed.code()),
        (400, "MALFORMED_JSON")
    );
    assert_eq!(app.all_items().await.len(), before, "nothing was written");
    let unknown = extend(&app, "no-such-drop", Timestamp::now().plus_millis(DAY)).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "GROUP_BUY_NOT_FOUND")
    );
}

#[tokio::test]
async fn a_stale_if_match_is_412() {
    let app = spawn_app().await;
    let current = Timestamp::now().plus_millis(DAY);
    open_until(&app, "lamp-drop", current).await;
    let stale = app
        .send(
            extend_call(
                "lamp-drop",
                &json!({"closesAt": current.plus_millis(DAY).to_string()}),
            )
            .header("if-match", "\"1\""),
        )
        .await;
    assert_eq!((stale.status, stale.code()), (412, "VERSION_MISMATCH"));
    assert_eq!(stale.body["currentVersion"], 2);
    assert_eq!(app.get("lamp-drop", "").await.body["extensionCount"], 0);
}

#[tokio::test]
async fn a_keyed_retry_is_replayed_not_extended_again() {
    let app = spawn_app().await;
    let current = Timestamp::now().plus_millis(DAY);
    open_until(&app, "lamp-drop", current).await;
    let body = json!({"closesAt": current.plus_millis(DAY).to_string()});
    let keyed = || extend_call("lamp-drop", &body).header("idempotency-key", "extend-1");
    let first = app.send(keyed()).await;
    assert_eq!(first.status, 200);
    let retry = app.send(keyed()).await;
    assert_eq!((retry.status, &retry.body), (200, &first.body));
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(app.get("lamp-drop", "").await.body["extensionCount"], 1);
    let other = app
        .send(
            extend_call(
                "lamp-drop",
                &json!({"closesAt": current.plus_millis(2 * DAY).to_string()}),
            )
            .header("idempotency-key", "extend-1"),
        )
        .await;
    assert_eq!(
        (other.status, other.code()),
        (422, "IDEMPOTENCY_KEY_REUSED")
    );
}

#[tokio::test]
async fn extensions_count_against_the_daily_owner_writes() {
    // Create and publish are two writes; the third is the extension.
    let app = spawn_app_with(test_settings(&[("DAILY_WRITE_LIMIT_PER_HANDLE", "3")])).await;
    let current = Timestamp::now().plus_millis(DAY);
    open_until(&app, "lamp-drop", current).await;
    assert_eq!(
        extend(&app, "lamp-drop", current.plus_millis(DAY))
            .await
            .status,
        200
    );
    let limited = extend(&app, "lamp-drop", current.plus_millis(2 * DAY)).await;
    assert_eq!((limited.status, limited.code()), (429, "DAILY_WRITE_LIMIT"));
    assert!(limited.header("retry-after").is_some());
    assert_eq!(app.get("lamp-drop", "").await.body["extensionCount"], 1);
}

#[tokio::test]
async fn the_scheduled_expiry_closes_at_the_new_deadline_not_the_old() {
    let app = spawn_app().await;
    let first = Timestamp::now().plus_millis(HOUR);
    app.published(
        "lamp-drop",
        json!({"closesAt": first.to_string(), "minParticipants": 5}),
    )
    .await;
    let later = first.plus_millis(DAY);
    assert_eq!(extend(&app, "lamp-drop", later).await.status, 200);
    let ample = || Deadline::after(Duration::from_secs(60));

    let at_the_old_deadline = expire_due(&app.app.store, first.plus_millis(1), "run-1", ample())
        .await
        .expect("run");
    assert_eq!(
        (at_the_old_deadline.due, at_the_old_deadline.closed),
        (0, 0)
    );
    assert_eq!(app.get("lamp-drop", "").await.body["status"], "published");

    let at_the_new_deadline = expire_due(&app.app.store, later, "run-2", ample())
        .await
        .expect("run");
    assert_eq!(
        (at_the_new_deadline.due, at_the_new_deadline.closed),
        (1, 1)
    );
    let gb = app.get("lamp-drop", "").await.body;
    assert_eq!(
        (gb["status"].clone(), gb["closeOutcome"].clone()),
        (json!("closed"), json!("expired"))
    );
}

#[tokio::test]
async fn racing_extensions_never_pass_the_limit_and_each_success_counts_once() {
    let app = spawn_app().await;
    let first = Timestamp::now().plus_millis(HOUR);
    open_until(&app, "lamp-drop", first).await;
    let answers = futures::future::join_all(
        (1..=6).map(|n| extend(&app, "lamp-drop", first.plus_millis(n * DAY))),
    )
    .await;
    let applied = answers.iter().filter(|a| a.status == 200).count();
    for answer in &answers {
        assert!(
            matches!(
                (answer.status, answer.code()),
                (200, _) | (400, "VALIDATION_FAILED") | (409, "EXTENSION_LIMIT") | (503, _)
            ),
            "{} {}",
            answer.status,
            answer.body
        );
    }
    assert!((1..=3).contains(&applied), "{applied} applied");
    let gb = app.get("lamp-drop", "").await.body;
    assert_eq!(gb["extensionCount"], applied);
    assert_eq!(gb["version"], 2 + applied);
    let recorded = history(&app, "lamp-drop")
        .await
        .iter()
        .filter(|h| h["action"] == "extend" && h["result"] == "applied")
        .count();
    assert_eq!(recorded, applied);
}
