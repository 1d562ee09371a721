use group_buy::Route;
use group_buy::domain::Timestamp;
use group_buy::telemetry::measure;
use group_buy_tests::{HANDLE, TestApp, Visitor, spawn_app};
use serde_json::json;

#[tokio::test]
async fn register_then_retry_then_change_then_withdraw() {
    let app = spawn_app().await;
    app.published("lamp-drop", json!({})).await;
    let visitor = Visitor::anonymous();

    let first = app.register("lamp-drop", &visitor, None).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["created"], true);
    assert_eq!(first.body["interest"]["quantity"], 1);
    assert_eq!(first.body["groupBuy"]["participantCount"], 1);
    assert!(first.body["groupBuy"].get("version").is_none());
    assert_eq!(first.header("cache-control"), Some("no-store"));

    let retry = app.register("lamp-drop", &visitor, Some(1)).await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.body["created"], false);
    assert_eq!(
        retry.body["interest"], first.body["interest"],
        "a retry changes nothing"
    );

    let changed = app.register("lamp-drop", &visitor, Some(3)).await;
    assert_eq!(changed.status, 200);
    assert_eq!(changed.body["interest"]["quantity"], 3);
    assert_eq!(changed.body["groupBuy"]["unitCount"], 3);
    assert_eq!(app.assert_counters_match_records("lamp-drop").await, (1, 3));

    let seen = app
        .send(TestApp::my_interest(
            Route::GetMyInterest,
            "lamp-drop",
            &visitor,
        ))
        .await;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.body["interest"]["quantity"], 3);

    for _ in 0..2 {
        let withdrawn = app.withdraw("lamp-drop", &visitor).await;
        assert_eq!(withdrawn.status, 204);
    }
    assert_eq!(app.assert_counters_match_records("lamp-drop").await, (0, 0));
    let gone = app
        .send(TestApp::my_interest(
            Route::GetMyInterest,
            "lamp-drop",
            &visitor,
        ))
        .await;
    assert_eq!((gone.status, gone.code()), (404, "INTEREST_NOT_FOUND"));
}

#[tokio::test]
async fn visitors_see_their_own_interest_only() {
    let app = spawn_app().await;
    app.published("lamp-drop", json!({})).await;
    let user = Visitor::user("shopper-7");
    let same_user_again = Visitor::user("shopper-7");
    let anonymous = Visitor::anonymous();
    assert_eq!(app.register("lamp-drop", &user, Some(2)).await.status, 201);
    assert_eq!(
        app.register("lamp-drop", &anonymous, Some(4)).await.status,
        201
    );

    let get = |v: &Visitor| app.send(TestApp::my_interest(Route::GetMyInterest, "lamp-drop", v));
    assert_eq!(get(&same_user_again).await.body["interest"]["quantity"], 2);
    assert_eq!(get(&anonymous).await.body["interest"]["quantity"], 4);
    assert_eq!(
        get(&Visitor::anonymous()).await.code(),
        "INTEREST_NOT_FOUND"
    );
    assert_eq!(
        get(&Visitor::user("shopper-8")).await.code(),
        "INTEREST_NOT_FOUND"
    );
}

#[tokio::test]
async fn visitors_must_identify_themselves() {
    let app = spawn_app().await;
    app.published("lamp-drop", json!({})).await;
    let pass = group_buy_tests::obtain_pass(&app.app).await;
    let cases = [
        (None, None, "VISITOR_REQUIRED"),
        (None, Some("too-short"), "VISITOR_PASS_INVALID"),
        (
            None,
            Some("has spaces in it, which are not allowed"),
            "VISITOR_PASS_INVALID",
        ),
        (
            Some("Bearer not.a.jwt"),
            Some(pass.as_str()),
            "UNAUTHENTICATED",
        ),
    ];
    for route in [
        Route::RegisterInterest,
        Route::GetMyInterest,
        Route::WithdrawInterest,
    ] {
        for (authorization, visitor_pass, code) in cases {
            let mut call = group_buy_tests::Call::new(
                route,
                format!("/v2/public/group-buys/{HANDLE}/lamp-drop/my-interest"),
            );
            if let Some(value) = authorization {
                call = call.header("authorization", value);
            }
            if let Some(value) = visitor_pass {
                call = call.header("x-visitor-pass", value);
            }
            let response = app.send(call).await;
            assert_eq!((response.status, response.code()), (401, code), "{route:?}");
        }
    }
    assert_eq!(app.assert_counters_match_records("lamp-drop").await, (0, 0));
}

#[tokio::test]
async fn registration_follows_the_lifecycle() {
    let app = spawn_app().await;
    let visitor = Visitor::anonymous();
    app.draft("draft-drop", 1).await;
    let draft = app.register("draft-drop", &visitor, None).await;
    assert_eq!((draft.status, draft.code()), (404, "GROUP_BUY_NOT_FOUND"));
    let unknown = app.register("ghost-drop", &visitor, None).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "GROUP_BUY_NOT_FOUND")
    );

    app.published("lamp-drop", json!({"maxQuantityPerParticipant": 2}))
        .await;
    for quantity in [0, 3] {
        let bad = app.register("lamp-drop", &visitor, Some(quantity)).await;
        assert_eq!((bad.status, bad.code()), (400, "QUANTITY_NOT_ALLOWED"));
    }
    let not_a_number = app
        .send(
            TestApp::my_interest(Route::RegisterInterest, "lamp-drop", &visitor)
                .json(&json!({"quantity": "two"})),
        )
        .await;
    assert_eq!(not_a_number.code(), "VALIDATION_FAILED");

    assert_eq!(
        app.register("lamp-drop", &visitor, Some(2)).await.status,
        201
    );
    app.transition("lamp-drop", Route::PauseGroupBuy, None)
        .await;
    let paused = app.register("lamp-drop", &Visitor::anonymous(), None).await;
    assert_eq!((paused.status, paused.code()), (409, "GROUP_BUY_PAUSED"));
    assert_eq!(
        app.withdraw("lamp-drop", &visitor).await.status,
        204,
        "withdraw while paused"
    );
    assert_eq!(
        app.register("lamp-drop", &visitor, None).await.code(),
        "GROUP_BUY_PAUSED"
    );

    app.transition("lamp-drop", Route::PublishGroupBuy, None)
        .await;
    assert_eq!(app.register("lamp-drop", &visitor, None).await.status, 201);
    app.transition("lamp-drop", Route::CloseGroupBuy, None)
        .await;
    let closed = app.register("lamp-drop", &Visitor::anonymous(), None).await;
    assert_eq!((closed.status, closed.code()), (409, "GROUP_BUY_CLOSED"));
    let no_withdrawal = app.withdraw("lamp-drop", &visitor).await;
    assert_eq!(
        (no_withdrawal.status, no_withdrawal.code()),
        (409, "GROUP_BUY_CLOSED")
    );
    assert_eq!(app.assert_counters_match_records("lamp-drop").await, (1, 1));
}

#[tokio::test]
async fn nothing_registers_after_the_deadline() {
    let app = spawn_app().await;
    let closes_at = Timestamp::now().plus_millis(400).to_string();
    app.published("flash-drop", json!({"closesAt": closes_at}))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let late = app
        .register("flash-drop", &Visitor::anonymous(), None)
        .await;
    assert_eq!((late.status, late.code()), (409, "DEADLINE_PASSED"));
}

#[tokio::test]
async fn nothing_is_withdrawn_after_the_deadline() {
    let app = spawn_app().await;
    let closes_at = Timestamp::now().plus_millis(1_500).to_string();
    app.published(
        "met-drop",
        json!({"closesAt": closes_at, "minParticipants": 1}),
    )
    .await;
    let visitor = Visitor::anonymous();
    assert_eq!(app.register("met-drop", &visitor, None).await.status, 201);
    tokio::time::sleep(std::time::Duration::from_millis(1_600)).await;

    // The scheduled close has not run: the threshold it will decide on must still hold.
    let late = app.withdraw("met-drop", &visitor).await;
    assert_eq!((late.status, late.code()), (409, "DEADLINE_PASSED"));
    assert_eq!(app.assert_counters_match_records("met-drop").await, (1, 1));
}

#[tokio::test]
async fn the_cap_stops_new_participants_but_not_changes() {
    let app = spawn_app().await;
    app.published("small-drop", json!({"maxParticipants": 2}))
        .await;
    let (a, b) = (Visitor::anonymous(), Visitor::anonymous());
    assert_eq!(app.register("small-drop", &a, None).await.status, 201);
    assert_eq!(app.register("small-drop", &b, None).await.status, 201);
    let full = app
        .register("small-drop", &Visitor::anonymous(), None)
        .await;
    assert_eq!((full.status, full.code()), (409, "GROUP_BUY_FULL"));
    assert_eq!(app.register("small-drop", &a, Some(4)).await.status, 200);
    assert_eq!(
        app.assert_counters_match_records("small-drop").await,
        (2, 5)
    );
}

/// The closing note's figures: DynamoDB round trips of PUT my-interest.
#[tokio::test]
async fn a_retried_registration_costs_no_more_round_trips_than_the_first() {
    let app = spawn_app().await;
    app.published("lamp-drop", json!({"minParticipants": 2}))
        .await;
    let put = |visitor: &Visitor, quantity: u32| {
        let call = TestApp::my_interest(Route::RegisterInterest, "lamp-drop", visitor)
            .json(&json!({ "quantity": quantity }));
        let request_id = uuid::Uuid::new_v4().to_string();
        let request =
            lambda_http::request::from_str(&call.event(&request_id).to_string()).expect("event");
        measure(app.app.handle(Route::RegisterInterest, request))
    };
    let pass = || async { Visitor::Pass(group_buy_tests::obtain_pass(&app.app).await) };
    // The instance's first registration for this group-buy also reads it: a pass's, before
    // writing (its `participation`), and that read answers too.
    let (earlier, earlier_usage) = put(&pass().await, 1).await;
    assert_eq!(earlier.status(), 201);
    assert_eq!(earlier_usage.calls, 2, "the read, then TransactWriteItems");
    let visitor = pass().await;
    // This one meets the threshold: what the instance saw lets its first try expect that.
    let (first, first_usage) = put(&visitor, 1).await;
    let (retry, retry_usage) = put(&visitor, 1).await;
    let (change, change_usage) = put(&visitor, 2).await;
    assert_eq!(
        (first.status(), retry.status(), change.status()),
        (
            201.try_into().expect("status"),
            200.try_into().expect("status"),
            200.try_into().expect("status")
        )
    );
    assert_eq!(first_usage.calls, 1, "TransactWriteItems only");
    assert_eq!(retry_usage.calls, 1, "the refused TransactWriteItems only");
    assert_eq!(change_usage.calls, 2, "refused, then the change");
    assert_eq!(
        app.admin("limit=1").await.body["summary"]["thresholdMet"],
        1
    );
}

/// Nothing an owner receives links a visitor across campaigns: the participants' cursors are
/// sealed, so the visitor's platform-wide key in the interest item's key never shows.
#[tokio::test]
async fn participant_cursors_name_no_visitor() {
    use base64::Engine;
    let app = spawn_app().await;
    let (same, other) = (Visitor::anonymous(), Visitor::anonymous());
    let mut cursors = Vec::new();
    for slug in ["drop-a", "drop-b"] {
        app.published(slug, json!({})).await;
        for visitor in [&same, &other] {
            assert_eq!(app.register(slug, visitor, None).await.status, 201);
        }
        let page = app
            .send(
                group_buy_tests::Call::new(
                    Route::ListInterests,
                    format!("/v2/handles/{HANDLE}/group-buys/{slug}/interests"),
                )
                .query("limit=1")
                .bearer(&group_buy_tests::owner_token()),
            )
            .await;
        let cursor = page.body["nextCursor"]
            .as_str()
            .expect("a next page")
            .to_owned();
        cursors.push(cursor);
    }
    for cursor in &cursors {
        let readable: Vec<u8> = cursor
            .split('.')
            .filter_map(|part| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(part)
                    .ok()
            })
            .flatten()
            .collect();
        let text = String::from_utf8_lossy(&readable);
        assert!(
            !text.contains("INT#"),
            "the cursor shows an interest key: {text}"
        );
    }
}

/// The participants list is ordered by the interest items' keys, which are the per-campaign
/// pseudonyms owners see: an order shared across campaigns (a platform-wide key) would let an
/// owner relate where one visitor sorts in two of them.
#[tokio::test]
async fn interest_items_are_keyed_by_the_per_campaign_pseudonym() {
    let app = spawn_app().await;
    let visitor = Visitor::anonymous();
    let mut keys = Vec::new();
    for slug in ["drop-a", "drop-b"] {
        app.published(slug, json!({})).await;
        assert_eq!(app.register(slug, &visitor, None).await.status, 201);
        let listed = app.interests(slug).await;
        let participant = listed[0]["participant"].as_str().expect("a pseudonym");
        let stored: Vec<String> = app
            .all_items()
            .await
            .into_iter()
            .filter(|item| {
                matches!(item.get("PK"), Some(aws_sdk_dynamodb::types::AttributeValue::S(pk))
                    if pk == &format!("GB#{HANDLE}#{slug}"))
            })
            .filter_map(|item| match item.get("SK") {
                Some(aws_sdk_dynamodb::types::AttributeValue::S(sk)) if sk.starts_with("INT#") => {
                    Some(sk.clone())
                }
                _ => None,
            })
            .collect();
        assert_eq!(stored, [format!("INT#{participant}")]);
        keys.push(stored[0].clone());
    }
    assert_ne!(keys[0], keys[1], "one visitor, two unrelated keys");
}

/// `openapi.yaml` says `integer`, and JSON Schema counts `2.0` as one (generated clients and
/// fuzzers send it); `2.5` is not.
#[tokio::test]
async fn a_whole_quantity_written_as_a_float_is_accepted() {
    let app = spawn_app().await;
    app.published("float-drop", json!({"maxQuantityPerParticipant": 3}))
        .await;
    let put = |body: serde_json::Value| {
        app.send(
            TestApp::my_interest(Route::RegisterInterest, "float-drop", &Visitor::anonymous())
                .json(&body),
        )
    };
    let whole = put(json!({"quantity": 2.0})).await;
    assert_eq!(whole.status, 201, "{}", whole.body);
    assert_eq!(whole.body["interest"]["quantity"], 2);
    let fraction = put(json!({"quantity": 2.5})).await;
    assert_eq!(
        (fraction.status, fraction.code()),
        (400, "VALIDATION_FAILED")
    );
}
