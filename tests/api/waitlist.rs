//! The waitlist of a full group-buy: joining (202 and the position), changing the quantity
//! waited for, leaving, promotion of the longest-waiting allowed entry when a participant
//! withdraws, the entries' end at the close, and the errors and limits joins share with
//! registrations.

use aws_sdk_dynamodb::types::AttributeValue;
use group_buy::deadline::Deadline;
use group_buy::domain::Timestamp;
use group_buy::expiry::expire_due;
use group_buy::{App, Route};
use group_buy_tests::proxy::LossyProxy;
use group_buy_tests::{
    HANDLE, TestApp, TestResponse, Visitor, dynamodb_endpoint, send, spawn_app, spawn_app_with,
    test_settings,
};
use serde_json::{Value, json};

async fn join(app: &TestApp, slug: &str, visitor: &Visitor, quantity: u32) -> TestResponse {
    app.send(
        TestApp::my_interest(Route::RegisterInterest, slug, visitor)
            .json(&json!({"quantity": quantity, "waitlist": true})),
    )
    .await
}

async fn mine(app: &TestApp, slug: &str, visitor: &Visitor) -> TestResponse {
    app.send(TestApp::my_interest(Route::GetMyInterest, slug, visitor))
        .await
}

async fn waitlist_count(app: &TestApp, slug: &str) -> Value {
    app.get(slug, "").await.body["waitlistCount"].clone()
}

/// A full group-buy: `max` participants of quantity 1, who are returned; its waitlist holds
/// as many as a waitlist may.
async fn full(app: &TestApp, slug: &str, max: u32) -> Vec<Visitor> {
    app.published(
        slug,
        json!({"maxParticipants": max, "waitlistLimit": 10_000}),
    )
    .await;
    let participants: Vec<Visitor> = (0..max).map(|_| Visitor::anonymous()).collect();
    for p in &participants {
        assert_eq!(app.register(slug, p, Some(1)).await.status, 201);
    }
    participants
}

/// Sets an attribute of the tally directly, standing in for what no route here changes
/// (a lowered quantity bound, a deadline that has passed).
async fn set_on_tally(app: &TestApp, slug: &str, name: &str, value: AttributeValue) {
    app.dynamodb
        .update_item()
        .table_name(&app.table)
        .key("PK", AttributeValue::S(format!("GB#{HANDLE}#{slug}")))
        .key("SK", AttributeValue::S("GB#TALLY".into()))
        .update_expression("SET #name = :value")
        .expression_attribute_names("#name", name)
        .expression_attribute_values(":value", value)
        .send()
        .await
        .expect("tally updated");
}

/// The sort keys of the waitlist's items (`WAIT#…` and `WAITER#…`).
async fn waitlist_keys(app: &TestApp) -> Vec<String> {
    app.all_items()
        .await
        .into_iter()
        .filter_map(|item| match item.get("SK") {
            Some(AttributeValue::S(sk)) if sk.starts_with("WAIT") => Some(sk.clone()),
            _ => None,
        })
        .collect()
}

/// The waitlist holds `items` items (two per entry), each expiring at `expected` (epoch seconds).
async fn assert_waitlist_expires(app: &TestApp, slug: &str, items: usize, expected: i64) {
    let keys = waitlist_keys(app).await;
    assert_eq!(keys.len(), items);
    for key in keys {
        let item = app.item(slug, &key).await;
        assert_eq!(
            item.get("ttl"),
            Some(&AttributeValue::N(expected.to_string())),
            "{key}"
        );
    }
}

fn position(response: &TestResponse) -> Value {
    response.body["waitlist"]["position"].clone()
}

#[tokio::test]
async fn a_full_group_buy_takes_visitors_on_its_waitlist_in_order() {
    let app = spawn_app().await;
    full(&app, "lamp-drop", 2).await;
    let (first, second) = (Visitor::anonymous(), Visitor::anonymous());

    let joined = join(&app, "lamp-drop", &first, 2).await;
    assert_eq!(joined.status, 202, "{}", joined.body);
    assert_eq!(joined.body["interest"], Value::Null);
    assert_eq!(joined.body["created"], true);
    assert_eq!(joined.body["waitlist"]["position"], 1);
    assert_eq!(joined.body["waitlist"]["quantity"], 2);
    assert!(joined.body["waitlist"]["joinedAt"].is_string());
    assert_eq!(joined.body["groupBuy"]["participantCount"], 2);
    assert!(joined.body["groupBuy"].get("waitlistCount").is_none());
    assert_eq!(joined.header("cache-control"), Some("no-store"));
    let mut fields: Vec<&str> = joined.body["waitlist"]
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    fields.sort_unstable();
    assert_eq!(fields, ["joinedAt", "position", "quantity"]);

    assert_eq!(position(&join(&app, "lamp-drop", &second, 1).await), 2);
    assert_eq!(waitlist_count(&app, "lamp-drop").await, 2);

    // Without asking for the waitlist, full stays full: for newcomers and for the waiting.
    let refused = app
        .register("lamp-drop", &Visitor::anonymous(), Some(1))
        .await;
    assert_eq!((refused.status, refused.code()), (409, "GROUP_BUY_FULL"));
    let waiting_without_asking = app.register("lamp-drop", &first, Some(2)).await;
    assert_eq!(waiting_without_asking.code(), "GROUP_BUY_FULL");

    // A repeat keeps the place; a new quantity changes what is waited for, not the place.
    let again = join(&app, "lamp-drop", &first, 2).await;
    assert_eq!(
        (again.status, again.body["created"].clone()),
        (202, json!(false))
    );
    assert_eq!(position(&again), 1);
    assert_eq!(
        again.body["waitlist"]["joinedAt"],
        joined.body["waitlist"]["joinedAt"]
    );
    let changed = join(&app, "lamp-drop", &first, 3).await;
    assert_eq!(changed.status, 202, "{}", changed.body);
    assert_eq!(changed.body["waitlist"]["quantity"], 3);
    assert_eq!(position(&changed), 1);

    let seen = mine(&app, "lamp-drop", &first).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.body["interest"], Value::Null);
    assert_eq!(seen.body["waitlist"]["quantity"], 3);
    assert_eq!(position(&seen), 1);
    assert_eq!(position(&mine(&app, "lamp-drop", &second).await), 2);
    assert_eq!(waitlist_count(&app, "lamp-drop").await, 2);
    assert_eq!(app.assert_counters_match_records("lamp-drop").await, (2, 2));
}

#[tokio::test]
async fn with_room_the_waitlist_flag_is_an_ordinary_registration() {
    let app = spawn_app().await;
    app.published("lamp-drop", json!({"maxParticipants": 1}))
        .await;
    let visitor = Visitor::anonymous();
    let registered = join(&app, "lamp-drop", &visitor, 1).await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    assert_eq!(registered.body["interest"]["quantity"], 1);
    // A participant asking for the waitlist changes the quantity, as participants do.
    let changed = join(&app, "lamp-drop", &visitor, 2).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.body["interest"]["quantity"], 2);
    assert_eq!(waitlist_count(&app, "lamp-drop").await, 0);
}

#[tokio::test]
async fn leaving_the_waitlist_moves_those_behind_up() {
    let app = spawn_app().await;
    full(&app, "lamp-drop", 1).await;
    let waiting: Vec<Visitor> = (0..3).map(|_| Visitor::anonymous()).collect();
    for v in &waiting {
        assert_eq!(join(&app, "lamp-drop", v, 1).await.status, 202);
    }
    for _ in 0..2 {
        let left = app.withdraw("lamp-drop", &waiting[1]).await;
        assert_eq!(left.status, 204, "{}", left.body);
    }
    let gone = mine(&app, "lamp-drop", &waiting[1]).await;
    assert_eq!((gone.status, gone.code()), (404, "INTEREST_NOT_FOUND"));
    assert_eq!(position(&mine(&app, "lamp-drop", &waiting[0]).await), 1);
    // Someone ahead left: the position may be overstated (never understated) until the head
    // of the waitlist passes the place they left.
    assert_eq!(position(&mine(&app, "lamp-drop", &waiting[2]).await), 3);
    assert_eq!(waitlist_count(&app, "lamp-drop").await, 2);
    assert_eq!(
        waitlist_keys(&app).await.len(),
        4,
        "two entries, two items each"
    );
    assert_eq!(app.assert_counters_match_records("lamp-drop").await, (1, 1));

    // Joining again puts the visitor at the end (third, shown fourth: the gap is ahead).
    assert_eq!(position(&join(&app, "lamp-drop", &waiting[1], 1).await), 4);
}

#[tokio::test]
async fn positions_heal_once_the_head_passes_a_gap() {
    let app = spawn_app().await;
    let participants = full(&app, "lamp-drop", 2).await;
    let waiting: Vec<Visitor> = (0..4).map(|_| Visitor::anonymous()).collect();
    for v in &waiting {
        assert_eq!(join(&app, "lamp-drop", v, 1).await.status, 202);
    }
    assert_eq!(app.withdraw("lamp-drop", &waiting[1]).await.status, 204);
    assert_eq!(position(&mine(&app, "lamp-drop", &waiting[3]).await), 4);
    for p in &participants {
        assert_eq!(app.withdraw("lamp-drop", p).await.status, 204);
    }
    // waiting[0] and waiting[2] were promoted; the head passed the gap.
    assert_eq!(position(&mine(&app, "lamp-drop", &waiting[3]).await), 1);
    assert_eq!(app.assert_counters_match_records("lamp-drop").await, (2, 2));
}

#[tokio::test]
async fn a_full_waitlist_answers_waitlist_full() {
    let app = spawn_app().await;
    app.published(
        "lamp-drop",
        json!({"maxParticipants": 1, "waitlistLimit": 2}),
    )
    .await;
    assert_eq!(
        app.register("lamp-drop", &Visitor::anonymous(), Some(1))
            .await
            .status,
        201
    );
    let owner_view = app.get("lamp-drop", "").await.body;
    assert_eq!(owner_view["waitlistLimit"], 2);
    let public_view = app
        .send(group_buy_tests::Call::new(
            Route::GetPublicGroupBuy,
            format!("/v2/public/group-buys/{HANDLE}/lamp-drop"),
        ))
        .await;
    assert_eq!(public_view.status, 200, "{}", public_view.body);
    assert!(public_view.body.get("waitlistLimit").is_none());

    let waiting: Vec<Visitor> = (0..2).map(|_| Visitor::anonymous()).collect();
    for v in &waiting {
        assert_eq!(join(&app, "lamp-drop", v, 1).await.status, 202);
    }
    // The newcomer's pass first: redeeming its challenge writes an item of its own.
    let newcomer = Visitor::anonymous();
    newcomer.pass(&app.app).await;
    let before = app.all_items().await.len();
    let refused = join(&app, "lamp-drop", &newcomer, 1).await;
    assert_eq!((refused.status, refused.code()), (409, "WAITLIST_FULL"));
    assert_eq!(refused.body["waitlistLimit"], 2);
    assert_eq!(
        app.all_items().await.len(),
        before,
        "refusals change nothing"
    );
    // Those waiting keep their place and may change what they wait for.
    assert_eq!(join(&app, "lamp-drop", &waiting[0], 1).await.status, 202);
    // A place on the waitlist freed is taken again.
    assert_eq!(app.withdraw("lamp-drop", &waiting[1]).await.status, 204);
    let again = join(&app, "lamp-drop", &Visitor::anonymous(), 1).await;
    assert_eq!(again.status, 202, "{}", again.body);
    assert_eq!(waitlist_count(&app, "lamp-drop").await, 2);
    assert_eq!(app.assert_counters_match_records("lamp-drop").await, (1, 1));

    // A limit of 0: no waitlist at all.
    app.published(
        "no-waitlist",
        json!({"maxParticipants": 1, "waitlistLimit": 0}),
    )
    .await;
    assert_eq!(
        app.register("no-waitlist", &Visitor::anonymous(), Some(1))
            .await
            .status,
        201
    );
    let none = join(&app, "no-waitlist", &Visitor::anonymous(), 1).await;
    assert_eq!((none.status, none.code()), (409, "WAITLIST_FULL"));
}

#[tokio::test]
async fn the_waitlist_limit_needs_a_cap_and_defaults_to_ten_times_it() {
    let app = spawn_app().await;
    let body = |extra: Value| {
        let mut body = json!({
            "title": "Lamp", "currency": "INR", "unitPriceMinor": 1, "minParticipants": 1
        });
        if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), extra) {
            b.extend(extra);
        }
        body
    };
    let uncapped = app
        .create(&body(json!({"slug": "uncapped", "waitlistLimit": 3})))
        .await;
    assert_eq!(
        (uncapped.status, uncapped.code()),
        (400, "VALIDATION_FAILED")
    );
    assert_eq!(uncapped.body["errors"][0]["field"], "waitlistLimit");
    let too_long = app
        .create(&body(
            json!({"slug": "too-long", "maxParticipants": 5, "waitlistLimit": 10_001}),
        ))
        .await;
    assert_eq!(too_long.status, 400);
    let default = app
        .create(&body(json!({"slug": "capped", "maxParticipants": 7})))
        .await;
    assert_eq!(default.status, 201, "{}", default.body);
    assert_eq!(default.body["waitlistLimit"], 70);
    let open_ended = app.create(&body(json!({"slug": "open-ended"}))).await;
    assert_eq!(open_ended.body["waitlistLimit"], 0);
}

/// A waiting visitor's position comes with the tally in the one BatchGetItem that
/// `GET my-interest` makes anyway: the same cost at the head and at the tail.
#[tokio::test]
async fn a_position_costs_one_read_however_long_the_waitlist() {
    let app = spawn_app().await;
    full(&app, "lamp-drop", 1).await;
    let waiting: Vec<Visitor> = (0..60).map(|_| Visitor::anonymous()).collect();
    for v in &waiting {
        assert_eq!(join(&app, "lamp-drop", v, 1).await.status, 202);
    }
    // Their passes, as they already hold them: reading one costs the table nothing.
    let mut passes = Vec::new();
    for visitor in [&waiting[0], &waiting[59]] {
        passes.push(Visitor::Pass(visitor.pass(&app.app).await.expect("a pass")));
    }
    let cost = |visitor: &Visitor| {
        let call = TestApp::my_interest(Route::GetMyInterest, "lamp-drop", visitor);
        let request_id = uuid::Uuid::new_v4().to_string();
        let request =
            lambda_http::request::from_str(&call.event(&request_id).to_string()).expect("event");
        group_buy::telemetry::measure(app.app.handle(Route::GetMyInterest, request))
    };
    let (head, head_usage) = cost(&passes[0]).await;
    let (tail, tail_usage) = cost(&passes[1]).await;
    assert_eq!((head.status().as_u16(), tail.status().as_u16()), (200, 200));
    let body = |r: &lambda_http::Response<lambda_http::Body>| -> Value {
        serde_json::from_slice(r.body().as_ref()).expect("json")
    };
    assert_eq!(body(&head)["waitlist"]["position"], 1);
    assert_eq!(body(&tail)["waitlist"]["position"], 60);
    assert_eq!(head_usage.calls, 1, "one BatchGetItem: {head_usage:?}");
    assert_eq!(tail_usage.calls, 1, "one BatchGetItem: {tail_usage:?}");
    assert_eq!(
        head_usage.capacity_units, tail_usage.capacity_units,
        "the tail costs what the head costs"
    );
}

#[tokio::test]
async fn entries_expire_after_the_latest_possible_close() {
    let app = spawn_app().await;
    let closes_at = "2099-01-01T00:00:00.000Z";
    app.published(
        "lamp-drop",
        json!({"maxParticipants": 1, "closesAt": closes_at}),
    )
    .await;
    assert_eq!(
        app.register("lamp-drop", &Visitor::anonymous(), Some(1))
            .await
            .status,
        201
    );
    assert_eq!(
        join(&app, "lamp-drop", &Visitor::anonymous(), 1)
            .await
            .status,
        202
    );
    // 2099-01-01 + 90 days (the latest extension) + 30 days (retention).
    let expected = 4_070_908_800_i64 + 120 * 86_400;
    assert_waitlist_expires(&app, "lamp-drop", 2, expected).await;
}

#[tokio::test]
async fn a_withdrawal_promotes_the_longest_waiting_with_the_quantity_asked_for() {
    let app = spawn_app().await;
    let participants = full(&app, "lamp-drop", 2).await;
    let (first, second) = (Visitor::anonymous(), Visitor::anonymous());
    assert_eq!(join(&app, "lamp-drop", &first, 3).await.status, 202);
    assert_eq!(join(&app, "lamp-drop", &second, 2).await.status, 202);

    assert_eq!(
        app.withdraw("lamp-drop", &participants[0]).await.status,
        204
    );
    let promoted = mine(&app, "lamp-drop", &first).await;
    assert_eq!(promoted.status, 200, "{}", promoted.body);
    assert_eq!(promoted.body["interest"]["quantity"], 3);
    assert!(promoted.body.get("waitlist").is_none());
    assert_eq!(position(&mine(&app, "lamp-drop", &second).await), 1);
    assert_eq!(waitlist_count(&app, "lamp-drop").await, 1);
    assert_eq!(app.assert_counters_match_records("lamp-drop").await, (2, 4));
    let promoted_at: Vec<_> = app
        .all_items()
        .await
        .into_iter()
        .filter(|item| item.contains_key("promotedAt"))
        .collect();
    assert_eq!(
        promoted_at.len(),
        1,
        "the promoted interest carries promotedAt"
    );
    assert_eq!(
        promoted_at[0].get("quantity"),
        Some(&AttributeValue::N("3".into()))
    );

    // Now a participant like any other: a repeat is 200, unchanged.
    let repeat = app.register("lamp-drop", &first, Some(3)).await;
    assert_eq!(
        (repeat.status, repeat.body["created"].clone()),
        (200, json!(false))
    );

    assert_eq!(
        app.withdraw("lamp-drop", &participants[1]).await.status,
        204
    );
    assert_eq!(
        mine(&app, "lamp-drop", &second).await.body["interest"]["quantity"],
        2
    );
    assert_eq!(waitlist_count(&app, "lamp-drop").await, 0);
    assert_eq!(app.assert_counters_match_records("lamp-drop").await, (2, 5));
    assert!(waitlist_keys(&app).await.is_empty());
    let mut recount = app.recount_summary().await;
    recount["stuckDrafts"] = json!(0);
    assert_eq!(
        app.admin("").await.body["summary"],
        recount,
        "the rollup moved with the promotions"
    );

    // Nobody waits: the next withdrawal frees a place, which anyone may take.
    assert_eq!(app.withdraw("lamp-drop", &first).await.status, 204);
    assert_eq!(app.assert_counters_match_records("lamp-drop").await, (1, 2));
    assert_eq!(
        app.register("lamp-drop", &Visitor::anonymous(), None)
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn a_waited_for_quantity_no_longer_allowed_is_passed_over() {
    let app = spawn_app().await;
    let participants = full(&app, "lamp-drop", 1).await;
    let (greedy, modest) = (Visitor::anonymous(), Visitor::anonymous());
    assert_eq!(join(&app, "lamp-drop", &greedy, 5).await.status, 202);
    assert_eq!(join(&app, "lamp-drop", &modest, 2).await.status, 202);
    set_on_tally(
        &app,
        "lamp-drop",
        "maxQuantityPerParticipant",
        AttributeValue::N("3".into()),
    )
    .await;

    assert_eq!(
        app.withdraw("lamp-drop", &participants[0]).await.status,
        204
    );
    assert_eq!(
        mine(&app, "lamp-drop", &modest).await.body["interest"]["quantity"],
        2
    );
    let passed_over = mine(&app, "lamp-drop", &greedy).await;
    assert_eq!(
        (passed_over.status, passed_over.code()),
        (404, "INTEREST_NOT_FOUND"),
        "an entry for more than is allowed leaves with the promotion that passes it over"
    );
    assert_eq!(waitlist_count(&app, "lamp-drop").await, 0);
    assert!(waitlist_keys(&app).await.is_empty());
    assert_eq!(app.assert_counters_match_records("lamp-drop").await, (1, 2));
}

#[tokio::test]
async fn more_entries_to_pass_over_than_one_transaction_holds_are_removed_first() {
    let app = spawn_app().await;
    let participants = full(&app, "lamp-drop", 1).await;
    for _ in 0..45 {
        assert_eq!(
            join(&app, "lamp-drop", &Visitor::anonymous(), 4)
                .await
                .status,
            202
        );
    }
    let modest = Visitor::anonymous();
    assert_eq!(position(&join(&app, "lamp-drop", &modest, 1).await), 46);
    set_on_tally(
        &app,
        "lamp-drop",
        "maxQuantityPerParticipant",
        AttributeValue::N("2".into()),
    )
    .await;
    assert_eq!(
        app.withdraw("lamp-drop", &participants[0]).await.status,
        204
    );
    assert_eq!(
        mine(&app, "lamp-drop", &modest).await.body["interest"]["quantity"],
        1
    );
    assert_eq!(waitlist_count(&app, "lamp-drop").await, 0);
    assert!(waitlist_keys(&app).await.is_empty());
    assert_eq!(app.assert_counters_match_records("lamp-drop").await, (1, 1));
}

#[tokio::test]
async fn only_entries_for_too_much_waiting_frees_the_place() {
    let app = spawn_app().await;
    let participants = full(&app, "lamp-drop", 1).await;
    let greedy = Visitor::anonymous();
    assert_eq!(join(&app, "lamp-drop", &greedy, 4).await.status, 202);
    set_on_tally(
        &app,
        "lamp-drop",
        "maxQuantityPerParticipant",
        AttributeValue::N("2".into()),
    )
    .await;
    assert_eq!(
        app.withdraw("lamp-drop", &participants[0]).await.status,
        204
    );
    assert_eq!(mine(&app, "lamp-drop", &greedy).await.status, 404);
    assert_eq!(waitlist_count(&app, "lamp-drop").await, 0);
    assert_eq!(app.assert_counters_match_records("lamp-drop").await, (0, 0));
}

#[tokio::test]
async fn a_paused_group_buy_still_hands_a_freed_place_to_the_waitlist() {
    let app = spawn_app().await;
    let participants = full(&app, "lamp-drop", 1).await;
    let waiting = Visitor::anonymous();
    assert_eq!(join(&app, "lamp-drop", &waiting, 1).await.status, 202);
    app.transition("lamp-drop", Route::PauseGroupBuy, None)
        .await;
    let paused = join(&app, "lamp-drop", &Visitor::anonymous(), 1).await;
    assert_eq!((paused.status, paused.code()), (409, "GROUP_BUY_PAUSED"));
    assert_eq!(
        app.withdraw("lamp-drop", &participants[0]).await.status,
        204
    );
    assert_eq!(mine(&app, "lamp-drop", &waiting).await.status, 200);
    assert_eq!(
        mine(&app, "lamp-drop", &waiting).await.body["interest"]["quantity"],
        1
    );
    assert_eq!(app.assert_counters_match_records("lamp-drop").await, (1, 1));
}

#[tokio::test]
async fn joins_follow_the_registration_rules() {
    let app = spawn_app().await;
    full(&app, "lamp-drop", 1).await;
    let visitor = Visitor::anonymous();
    // The pass first: its challenge's redemption is an item of its own.
    visitor.pass(&app.app).await;
    let before = app.all_items().await.len();

    let too_many = join(&app, "lamp-drop", &visitor, 6).await;
    assert_eq!(
        (too_many.status, too_many.code()),
        (400, "QUANTITY_NOT_ALLOWED")
    );
    let not_a_flag = app
        .send(
            TestApp::my_interest(Route::RegisterInterest, "lamp-drop", &visitor)
                .json(&json!({"quantity": 1, "waitlist": "yes"})),
        )
        .await;
    assert_eq!(
        (not_a_flag.status, not_a_flag.code()),
        (400, "VALIDATION_FAILED")
    );
    assert_eq!(not_a_flag.body["errors"][0]["field"], "waitlist");
    let unknown = join(&app, "ghost-drop", &visitor, 1).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "GROUP_BUY_NOT_FOUND")
    );
    assert_eq!(
        app.all_items().await.len(),
        before,
        "refusals change nothing"
    );

    set_on_tally(
        &app,
        "lamp-drop",
        "closesAt",
        AttributeValue::S("2020-01-01T00:00:00.000Z".into()),
    )
    .await;
    let late = join(&app, "lamp-drop", &visitor, 1).await;
    assert_eq!((late.status, late.code()), (409, "DEADLINE_PASSED"));
}

#[tokio::test]
async fn waitlist_entries_end_when_the_group_buy_closes() {
    let app = spawn_app().await;
    full(&app, "lamp-drop", 1).await;
    let waiting = Visitor::anonymous();
    assert_eq!(join(&app, "lamp-drop", &waiting, 1).await.status, 202);
    assert_eq!(waitlist_count(&app, "lamp-drop").await, 1);
    let closed = app
        .transition(
            "lamp-drop",
            Route::CloseGroupBuy,
            Some(&json!({"outcome": "fulfilled"})),
        )
        .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert_eq!(closed.body["waitlistCount"], 0);
    let ended = mine(&app, "lamp-drop", &waiting).await;
    assert_eq!((ended.status, ended.code()), (404, "INTEREST_NOT_FOUND"));
    assert_eq!(app.withdraw("lamp-drop", &waiting).await.status, 204);
    let after = join(&app, "lamp-drop", &waiting, 1).await;
    assert_eq!((after.status, after.code()), (409, "GROUP_BUY_CLOSED"));
    assert_eq!(waitlist_count(&app, "lamp-drop").await, 0);
}

#[tokio::test]
async fn a_closed_waitlist_expires_thirty_days_after_the_close() {
    let app = spawn_app().await;
    // No deadline: entries are written without a ttl, and only the close can give one.
    full(&app, "lamp-drop", 1).await;
    for _ in 0..3 {
        assert_eq!(
            join(&app, "lamp-drop", &Visitor::anonymous(), 1)
                .await
                .status,
            202
        );
    }
    let closed = app
        .transition(
            "lamp-drop",
            Route::CloseGroupBuy,
            Some(&json!({"outcome": "cancelled"})),
        )
        .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    let closed_at =
        chrono::DateTime::parse_from_rfc3339(closed.body["closedAt"].as_str().expect("closedAt"))
            .expect("a time");
    let expected = closed_at.timestamp() + 30 * 86_400;

    // The close left one retirement; the scheduled run gives every entry item its ttl.
    let ample = Deadline::after(std::time::Duration::from_secs(60));
    let run = expire_due(&app.app.store, Timestamp::now(), "run-1", ample)
        .await
        .expect("a run");
    assert_eq!((run.retired, run.retire_failed, run.complete), (1, 0, true));
    assert_waitlist_expires(&app, "lamp-drop", 6, expected).await;
    let retirements = app
        .all_items()
        .await
        .into_iter()
        .filter(|item| item.get("PK") == Some(&AttributeValue::S("RETIRE".into())))
        .count();
    assert_eq!(retirements, 0, "the retirement is deleted once done");
    let again = expire_due(&app.app.store, Timestamp::now(), "run-2", ample)
        .await
        .expect("a run");
    assert_eq!(again.retired, 0);
}

#[tokio::test]
async fn joins_count_against_the_daily_interest_writes() {
    let app = spawn_app_with(test_settings(&[("DAILY_INTEREST_WRITES_PER_VISITOR", "2")])).await;
    full(&app, "lamp-drop", 1).await;
    let visitor = Visitor::anonymous();
    assert_eq!(join(&app, "lamp-drop", &visitor, 1).await.status, 202);
    assert_eq!(
        join(&app, "lamp-drop", &visitor, 1).await.status,
        202,
        "no write, free"
    );
    assert_eq!(join(&app, "lamp-drop", &visitor, 2).await.status, 202);
    let limited = join(&app, "lamp-drop", &visitor, 3).await;
    assert_eq!((limited.status, limited.code()), (429, "DAILY_WRITE_LIMIT"));
    let limited_join = join(&app, "lamp-drop", &Visitor::anonymous(), 1).await;
    assert_eq!(
        limited_join.status, 202,
        "another visitor has their own count"
    );
    assert_eq!(position(&mine(&app, "lamp-drop", &visitor).await), 1);
    assert_eq!(
        mine(&app, "lamp-drop", &visitor).await.body["waitlist"]["quantity"],
        2
    );
}

#[tokio::test]
async fn the_waitlist_is_keyed_by_the_per_campaign_pseudonym() {
    let app = spawn_app().await;
    full(&app, "lamp-drop", 1).await;
    let user = Visitor::user("shopper-42");
    assert_eq!(join(&app, "lamp-drop", &user, 1).await.status, 202);
    let items = app.all_items().await;
    let raw = format!("{items:?}");
    assert!(!raw.contains("shopper-42"));
    let keys = waitlist_keys(&app).await;
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter().any(|k| k.len() == "WAIT#".len() + 20
            && k.starts_with("WAIT#")
            && k[5..].bytes().all(|b| b.is_ascii_digit())),
        "the queue item is keyed by the join's number: {keys:?}"
    );
    let participant = keys
        .iter()
        .find_map(|k| k.strip_prefix("WAITER#"))
        .expect("the visitor's own entry");
    assert_eq!(participant.len(), 16);
}

/// A promotion that commits while its answer is lost: the SDK's retry carries the same
/// `ClientRequestToken` and is recognised, so the visitor is promoted once and the withdrawal
/// answers as if nothing had happened.
#[tokio::test]
async fn a_promotion_whose_answer_is_lost_happens_once() {
    let app = spawn_app().await;
    let participants = full(&app, "lost-drop", 1).await;
    let waiting = Visitor::anonymous();
    assert_eq!(join(&app, "lost-drop", &waiting, 2).await.status, 202);
    let upstream = dynamodb_endpoint().trim_start_matches("http://").to_owned();
    let proxy = LossyProxy::start(upstream, "TransactWriteItems", 1).await;
    let url = proxy.url();
    let lossy = App::new(test_settings(&[
        ("DYNAMODB_ENDPOINT", &url),
        ("TABLE_NAME", &app.table),
    ]))
    .await
    .expect("app");

    let withdrawn = send(
        &lossy,
        TestApp::my_interest(Route::WithdrawInterest, "lost-drop", &participants[0]),
    )
    .await;
    assert_eq!(withdrawn.status, 204, "{}", withdrawn.body);
    let requests = proxy.requests();
    let [lost, retry] = requests.as_slice() else {
        panic!("expected one lost transaction and one retry, saw {requests:#?}");
    };
    assert!(
        lost.lost_answer
            .as_deref()
            .is_some_and(|status| status.starts_with("HTTP/1.1 200")),
        "the promotion committed and its answer was lost: {lost:?}"
    );
    assert_eq!(lost.body, retry.body, "the retry is the same call");

    assert_eq!(
        mine(&app, "lost-drop", &waiting).await.body["interest"]["quantity"],
        2
    );
    assert_eq!(waitlist_count(&app, "lost-drop").await, 0);
    assert_eq!(app.assert_counters_match_records("lost-drop").await, (1, 2));
}
