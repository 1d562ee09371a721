//! Fair drops (API.md, "Fair drops"): the commitment at publish, entries that touch no item
//! of the whole campaign, the draw by the owner or the schedule, the ranking recomputed here
//! from the published seed, the results, and a draw killed midway that resumes to the same end.

use chrono::{SecondsFormat, Utc};
use group_buy::Route;
use group_buy::deadline::Deadline;
use group_buy::domain::{Handle, Slug, Timestamp};
use group_buy::expiry::expire_due;
use group_buy::store::DrawRun;
use group_buy_tests::{Call, HANDLE, TestApp, Visitor, spawn_app, spawn_app_with, test_settings};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::time::Duration;

/// When the draw of a campaign created now is due: far enough for its entries.
const ENTRY_WINDOW: Duration = Duration::from_secs(4);

fn at(after: Duration) -> String {
    (Utc::now() + chrono::Duration::from_std(after).expect("duration"))
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Creates and publishes a draw campaign of `winners` places and `waitlist` waiting places,
/// drawn `ENTRY_WINDOW` from now.
async fn draw_campaign(app: &TestApp, slug: &str, winners: u32, waitlist: u32) -> Value {
    app.published(
        slug,
        json!({
            "allocation": "draw", "maxParticipants": winners, "waitlistLimit": waitlist,
            "drawAt": at(ENTRY_WINDOW), "maxQuantityPerParticipant": 3
        }),
    )
    .await
}

/// Sleeps until `drawAt` of `view` has passed.
async fn until_due(view: &Value) {
    let draw_at = chrono::DateTime::parse_from_rfc3339(view["drawAt"].as_str().expect("drawAt"))
        .expect("time");
    let left = (draw_at.with_timezone(&Utc) - Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(50)).await;
}

fn draw_list(slug: &str, query: &str) -> Call {
    Call::new(
        Route::GetDraw,
        format!("/v2/public/group-buys/{HANDLE}/{slug}/draw"),
    )
    .query(query)
}

/// Every item of the ranked list, following `nextCursor`, and the first page's body.
async fn whole_list(app: &TestApp, slug: &str, limit: usize) -> (Value, Vec<Value>) {
    let first = app.send(draw_list(slug, &format!("limit={limit}"))).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let mut items = first.body["items"].as_array().cloned().unwrap_or_default();
    let mut cursor = first.body["nextCursor"].as_str().map(str::to_owned);
    while let Some(c) = cursor {
        let page = app
            .send(draw_list(slug, &format!("limit={limit}&cursor={c}")))
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.get("seed").is_none(), "only the first page");
        items.extend(page.body["items"].as_array().cloned().unwrap_or_default());
        cursor = page.body["nextCursor"].as_str().map(str::to_owned);
    }
    (first.body, items)
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The rule, recomputed here: ascending SHA-256(seed ‖ ticket), ties by ticket.
fn expected_order(seed_hex: &str, tickets: &[String]) -> Vec<String> {
    let seed = unhex(seed_hex);
    let mut keyed: Vec<(Vec<u8>, String)> = tickets
        .iter()
        .map(|t| {
            let mut h = Sha256::new();
            h.update(&seed);
            h.update(t.as_bytes());
            (h.finalize().to_vec(), t.clone())
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, t)| t).collect()
}

async fn enter(app: &TestApp, slug: &str, visitor: &Visitor, quantity: u32) -> Value {
    let entered = app.register_retrying(slug, visitor, Some(quantity)).await;
    assert_eq!(entered.status, 202, "{}", entered.body);
    entered.body
}

async fn my_interest(app: &TestApp, slug: &str, visitor: &Visitor) -> Value {
    let mine = app
        .send(TestApp::my_interest(Route::GetMyInterest, slug, visitor))
        .await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    mine.body
}

#[tokio::test]
async fn a_draw_commits_at_publish_and_draws_by_the_published_rule() {
    let app = spawn_app().await;
    let published = draw_campaign(&app, "brass-drop", 3, 2).await;
    let commitment = published["draw"]["commitment"]
        .as_str()
        .expect("commitment")
        .to_owned();
    assert_eq!(commitment.len(), 64);
    assert_eq!(published["draw"]["seed"], Value::Null);
    assert_eq!(published["allocation"], "draw");
    // The seed is in no view and in no item of the group-buy's partition.
    let tally_before = app.item("brass-drop", "GB#TALLY").await;
    let visitors = app.visitors(8).await;
    let mut tickets = Vec::new();
    for (i, v) in visitors.iter().enumerate() {
        let body = enter(&app, "brass-drop", v, 1 + (i as u32 % 3)).await;
        assert_eq!(body["entry"]["result"], "pending");
        assert_eq!(body["created"], true);
        assert_eq!(body["interest"], Value::Null);
        tickets.push(body["entry"]["ticket"].as_str().expect("ticket").to_owned());
    }
    // A repeat changes nothing; a new quantity updates the entry.
    let again = app.register("brass-drop", &visitors[0], Some(1)).await;
    assert_eq!(
        (again.status, again.body["created"].clone()),
        (200, json!(false))
    );
    let changed = app.register("brass-drop", &visitors[1], Some(3)).await;
    assert_eq!(
        (changed.status, changed.body["entry"]["quantity"].clone()),
        (200, json!(3))
    );
    let too_many = app.register("brass-drop", &visitors[1], Some(4)).await;
    assert_eq!(too_many.code(), "QUANTITY_NOT_ALLOWED");
    // Entries wrote nothing shared by the campaign: the tally is as published.
    assert_eq!(app.item("brass-drop", "GB#TALLY").await, tally_before);
    let view = app.get("brass-drop", "").await.body;
    assert_eq!(view["draw"]["entryCount"], 8);
    assert_eq!(view["participantCount"], 0);
    assert_eq!(view["draw"]["seed"], Value::Null);
    assert!(!view.to_string().contains("CONTROL"));
    let pending = app.send(draw_list("brass-drop", "")).await;
    assert_eq!((pending.status, pending.code()), (409, "DRAW_PENDING"));
    let early = app.transition("brass-drop", Route::RunDraw, None).await;
    assert_eq!((early.status, early.code()), (409, "DRAW_NOT_DUE"));

    until_due(&published).await;
    let late = app.register("brass-drop", &visitors[2], Some(2)).await;
    assert_eq!((late.status, late.code()), (409, "DRAW_PENDING"));

    let drawn = app.transition("brass-drop", Route::RunDraw, None).await;
    assert_eq!(drawn.status, 200, "{}", drawn.body);
    let seed = drawn.body["draw"]["seed"]
        .as_str()
        .expect("seed")
        .to_owned();
    assert_eq!(hex(&Sha256::digest(unhex(&seed))), commitment);
    assert_eq!(drawn.body["draw"]["winnerCount"], 3);
    assert_eq!(drawn.body["participantCount"], 3);
    let version = drawn.body["version"].clone();
    // Run twice: nothing changes.
    let items_after = app.all_items().await.len();
    let again = app.transition("brass-drop", Route::RunDraw, None).await;
    assert_eq!(
        (again.status, again.body["version"].clone()),
        (200, version)
    );
    assert_eq!(app.all_items().await.len(), items_after);

    let (first, list) = whole_list(&app, "brass-drop", 3).await;
    assert_eq!(first["commitment"], commitment.as_str());
    assert_eq!(first["seed"], seed.as_str());
    let listed: Vec<String> = list
        .iter()
        .map(|i| i["ticket"].as_str().expect("ticket").to_owned())
        .collect();
    assert_eq!(listed, expected_order(&seed, &tickets));
    let ranks: Vec<u64> = list
        .iter()
        .map(|i| i["rank"].as_u64().expect("rank"))
        .collect();
    assert_eq!(ranks, (1..=8).collect::<Vec<_>>());
    let results: Vec<&str> = list
        .iter()
        .map(|i| i["result"].as_str().expect("r"))
        .collect();
    assert_eq!(
        results,
        [
            "won",
            "won",
            "won",
            "waitlisted",
            "waitlisted",
            "lost",
            "lost",
            "lost"
        ]
    );
    // Each visitor sees their own result.
    let by_ticket = |ticket: &str| {
        let i = tickets.iter().position(|t| t == ticket).expect("entered");
        &visitors[i]
    };
    for (rank, ticket) in listed.iter().enumerate() {
        let mine = my_interest(&app, "brass-drop", by_ticket(ticket)).await;
        assert_eq!(mine["entry"]["ticket"], ticket.as_str());
        match rank {
            0..=2 => {
                assert_eq!(mine["entry"]["result"], "won");
                assert!(mine["interest"]["quantity"].is_u64(), "{mine}");
            }
            3..=4 => {
                assert_eq!(mine["entry"]["result"], "waitlisted");
                assert_eq!(mine["waitlist"]["position"], rank as u64 - 2);
            }
            _ => {
                assert_eq!(mine["entry"]["result"], "lost");
                assert_eq!(mine["interest"], Value::Null);
            }
        }
    }
    // The owner's participants are exactly the winners.
    let participants: HashSet<String> = app
        .interests("brass-drop")
        .await
        .iter()
        .map(|i| i["participant"].as_str().expect("participant").to_owned())
        .collect();
    assert_eq!(participants, listed[..3].iter().cloned().collect());
    assert_eq!(app.assert_counters_match_records("brass-drop").await.0, 3);
    // A winner's withdrawal promotes the next rank.
    let withdrawn = app.withdraw("brass-drop", by_ticket(&listed[0])).await;
    assert_eq!(withdrawn.status, 204, "{}", withdrawn.body);
    let promoted = my_interest(&app, "brass-drop", by_ticket(&listed[3])).await;
    assert!(promoted["interest"]["quantity"].is_u64(), "{promoted}");
    let next = my_interest(&app, "brass-drop", by_ticket(&listed[4])).await;
    assert_eq!(next["waitlist"]["position"], 1);
    let gone = my_interest(&app, "brass-drop", by_ticket(&listed[0])).await;
    assert_eq!(gone["entry"]["result"], "won");
    assert_eq!(gone["interest"], Value::Null);
    assert_eq!(app.assert_counters_match_records("brass-drop").await.0, 3);
    // New visitors may only join the waitlist now.
    let newcomer = app.visitors(1).await;
    let full = app.register("brass-drop", &newcomer[0], None).await;
    assert_eq!(full.code(), "GROUP_BUY_FULL");
}

#[tokio::test]
async fn the_schedule_draws_a_due_draw_once() {
    let app = spawn_app().await;
    let published = draw_campaign(&app, "oak-drop", 2, 1).await;
    for v in &app.visitors(4).await {
        enter(&app, "oak-drop", v, 1).await;
    }
    let ample = || Deadline::after(Duration::from_secs(60));
    let run = expire_due(&app.app.store, Timestamp::now(), "run-0", ample())
        .await
        .expect("run");
    assert_eq!(run.drawn, 0, "not due yet");
    until_due(&published).await;
    let run = expire_due(&app.app.store, Timestamp::now(), "run-1", ample())
        .await
        .expect("run");
    assert_eq!((run.drawn, run.draw_failed), (1, 0));
    let view = app.get("oak-drop", "").await.body;
    assert_eq!(view["draw"]["winnerCount"], 2);
    assert_eq!(view["participantCount"], 2);
    let items = app.all_items().await;
    let run = expire_due(&app.app.store, Timestamp::now(), "run-2", ample())
        .await
        .expect("run");
    assert_eq!(run.drawn, 0, "off the due list");
    assert_eq!(app.all_items().await, items);
    let history = app.get("oak-drop", "include=history").await.body;
    let draws = history["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter(|e| e["action"] == "draw")
        .count();
    assert_eq!(draws, 1);
}

#[tokio::test]
async fn a_draw_killed_at_any_point_resumes_to_the_same_end() {
    let app = spawn_app().await;
    let visitors = app.visitors(120).await;
    let published = draw_campaign(&app, "kiln-drop", 40, 50).await;
    let mut tickets = Vec::new();
    for chunk in visitors.chunks(20) {
        let entered = group_buy_tests::concurrently(
            chunk
                .iter()
                .map(|v| app.register_retrying("kiln-drop", v, Some(2))),
        )
        .await;
        for e in entered {
            assert_eq!(e.status, 202, "{}", e.body);
            tickets.push(e.body["entry"]["ticket"].as_str().expect("t").to_owned());
        }
    }
    until_due(&published).await;
    let (handle, slug) = (
        Handle::parse(HANDLE).expect("h"),
        Slug::parse("kiln-drop").expect("s"),
    );
    // Kill the draw again and again, a little later each time, until a run finishes.
    let mut kills = 0;
    for attempt in 1..200u64 {
        let store = app.app.store.clone();
        let (handle, slug) = (handle.clone(), slug.clone());
        let run = tokio::spawn(async move {
            let gb = store
                .get(&handle, &slug)
                .await
                .expect("read")
                .expect("there");
            store
                .run_draw(
                    &gb,
                    Timestamp::now(),
                    Deadline::after(Duration::from_secs(60)),
                    "test",
                    "kill",
                )
                .await
        });
        tokio::time::sleep(Duration::from_millis(15 * attempt)).await;
        if run.is_finished() {
            match run.await.expect("joined").expect("run") {
                DrawRun::Drawn(_) | DrawRun::AlreadyDrawn(_) => break,
                other => panic!("{other:?}"),
            }
        }
        run.abort();
        kills += 1;
    }
    assert!(kills >= 2, "the draw was cut off midway at least twice");
    let view = app.get("kiln-drop", "").await.body;
    let seed = view["draw"]["seed"].as_str().expect("seed").to_owned();
    let order = expected_order(&seed, &tickets);
    let (_, list) = whole_list(&app, "kiln-drop", 100).await;
    let listed: Vec<String> = list
        .iter()
        .map(|i| i["ticket"].as_str().expect("t").to_owned())
        .collect();
    assert_eq!(listed, order);
    // Exactly the first 40 are participants, once each; the next 50 wait in rank order.
    assert_eq!(view["participantCount"], 40);
    assert_eq!(view["unitCount"], 80);
    assert_eq!(view["waitlistCount"], 50);
    let participants: HashSet<String> = app
        .interests("kiln-drop")
        .await
        .iter()
        .map(|i| i["participant"].as_str().expect("p").to_owned())
        .collect();
    assert_eq!(participants, order[..40].iter().cloned().collect());
    assert_eq!(
        app.assert_counters_match_records("kiln-drop").await,
        (40, 80)
    );
    for (rank, position) in [(40, 1), (89, 50)] {
        let v = &visitors[tickets
            .iter()
            .position(|t| *t == order[rank])
            .expect("entered")];
        let mine = my_interest(&app, "kiln-drop", v).await;
        assert_eq!(mine["waitlist"]["position"], position);
    }
    let summary = app.recount_summary().await;
    assert_eq!(summary["participants"], 40);
}

#[tokio::test]
async fn draw_campaigns_need_a_cap_and_a_draw_time() {
    let app = spawn_app().await;
    let refused = app
        .create(&json!({
            "slug": "no-cap", "title": "No cap", "currency": "INR", "unitPriceMinor": 1,
            "minParticipants": 1, "allocation": "draw", "drawAt": at(ENTRY_WINDOW)
        }))
        .await;
    assert_eq!((refused.status, refused.code()), (400, "VALIDATION_FAILED"));
    assert_eq!(refused.body["errors"][0]["field"], "maxParticipants");
    // A first-come group-buy has no draw.
    app.published("first-come", json!({})).await;
    let none = app.send(draw_list("first-come", "")).await;
    assert_eq!(none.status, 404);
    let view = app.get("first-come", "").await.body;
    assert_eq!(
        (view["allocation"].clone(), view["draw"].clone()),
        (json!("first-come"), Value::Null)
    );
}

#[tokio::test]
async fn entries_stop_at_the_limit_and_follow_pauses() {
    // 16 shards of one entry each.
    let app = spawn_app_with(test_settings(&[("DRAW_MAX_ENTRIES", "16")])).await;
    draw_campaign(&app, "tiny-drop", 2, 0).await;
    let visitors = app.visitors(40).await;
    let mut admitted = 0;
    for v in &visitors {
        let r = app.register("tiny-drop", v, None).await;
        match r.status {
            202 => admitted += 1,
            409 => assert_eq!(r.code(), "GROUP_BUY_FULL"),
            other => panic!("{other}: {}", r.body),
        }
    }
    assert!((8..=16).contains(&admitted), "{admitted}");
    let view = app.get("tiny-drop", "").await.body;
    assert_eq!(view["draw"]["entryCount"], admitted);
    let paused = app
        .transition("tiny-drop", Route::PauseGroupBuy, None)
        .await;
    assert_eq!(paused.status, 200, "{}", paused.body);
    let r = app.register("tiny-drop", &visitors[0], Some(2)).await;
    assert_eq!(r.code(), "GROUP_BUY_PAUSED");
    // A paused draw still lets an entrant withdraw.
    let withdrawn = app.withdraw("tiny-drop", &visitors[0]).await;
    assert_eq!(withdrawn.status, 204);
    let view = app.get("tiny-drop", "").await.body;
    assert_eq!(view["draw"]["entryCount"], admitted - 1);
}

#[tokio::test]
async fn a_closed_draw_expires_thirty_days_after_the_close() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let app = spawn_app().await;
    let published = draw_campaign(&app, "clay-drop", 1, 1).await;
    for v in &app.visitors(3).await {
        enter(&app, "clay-drop", v, 1).await;
    }
    until_due(&published).await;
    let drawn = app.transition("clay-drop", Route::RunDraw, None).await;
    assert_eq!(drawn.status, 200, "{}", drawn.body);
    let closed = app
        .transition(
            "clay-drop",
            Route::CloseGroupBuy,
            Some(&json!({"outcome": "fulfilled"})),
        )
        .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    let closed_at =
        chrono::DateTime::parse_from_rfc3339(closed.body["closedAt"].as_str().expect("t"))
            .expect("time");
    let expected = AttributeValue::N((closed_at.timestamp() + 30 * 86_400).to_string());
    let ample = Deadline::after(Duration::from_secs(60));
    let run = expire_due(&app.app.store, Timestamp::now(), "run-1", ample)
        .await
        .expect("a run");
    assert_eq!((run.retired, run.retire_failed), (1, 0));
    // Every item of the draw's partitions (seed, ranks, shards, entries) and the waitlist's.
    let draw_items: Vec<_> = app
        .all_items()
        .await
        .into_iter()
        .filter(|item| match item.get("PK") {
            Some(AttributeValue::S(pk)) => {
                pk.starts_with("DRAW#")
                    || (pk.starts_with("GB#")
                        && matches!(item.get("SK"), Some(AttributeValue::S(sk)) if sk.starts_with("WAIT")))
            }
            _ => false,
        })
        .collect();
    // The seed, one rank item, 16 shards, 3 entries, and the one waiting entrant's 2 items.
    assert_eq!(draw_items.len(), 1 + 1 + 16 + 3 + 2);
    for item in draw_items {
        assert_eq!(item.get("ttl"), Some(&expected), "{item:?}");
    }
}

#[tokio::test]
async fn a_draw_cancelled_before_it_ran_has_none() {
    let app = spawn_app().await;
    let published = draw_campaign(&app, "reed-drop", 2, 0).await;
    let visitors = app.visitors(2).await;
    enter(&app, "reed-drop", &visitors[0], 1).await;
    // Closing fulfilled before the draw: nobody is a participant yet.
    let early = app
        .transition(
            "reed-drop",
            Route::CloseGroupBuy,
            Some(&json!({"outcome": "fulfilled"})),
        )
        .await;
    assert_eq!(
        (early.status, early.code()),
        (409, "THRESHOLD_NOT_MET"),
        "{}",
        early.body
    );
    let stale = app
        .send(
            Call::new(
                Route::RunDraw,
                format!("/v2/handles/{HANDLE}/group-buys/reed-drop/draw"),
            )
            .bearer(&group_buy_tests::owner_token())
            .header("if-match", "\"1\""),
        )
        .await;
    assert_eq!((stale.status, stale.code()), (412, "VERSION_MISMATCH"));
    let cancelled = app
        .transition(
            "reed-drop",
            Route::CloseGroupBuy,
            Some(&json!({"outcome": "cancelled"})),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    let gone = app.withdraw("reed-drop", &visitors[0]).await;
    assert_eq!((gone.status, gone.code()), (409, "GROUP_BUY_CLOSED"));
    assert_eq!(app.withdraw("reed-drop", &visitors[1]).await.status, 204);
    let list = app.send(draw_list("reed-drop", "")).await;
    assert_eq!((list.status, list.code()), (409, "GROUP_BUY_CLOSED"));
    until_due(&published).await;
    let run = expire_due(
        &app.app.store,
        Timestamp::now(),
        "run-1",
        Deadline::after(Duration::from_secs(60)),
    )
    .await
    .expect("a run");
    assert_eq!(
        (run.drawn, run.draw_failed),
        (1, 0),
        "taken off the due list"
    );
    let run = expire_due(
        &app.app.store,
        Timestamp::now(),
        "run-2",
        Deadline::after(Duration::from_secs(60)),
    )
    .await
    .expect("a run");
    assert_eq!(run.drawn, 0);
}

#[tokio::test]
async fn a_draft_cannot_be_published_after_its_draw_time() {
    let app = spawn_app().await;
    let created = app
        .create(&json!({
            "slug": "late-drop", "title": "Late", "currency": "INR", "unitPriceMinor": 1,
            "minParticipants": 1, "maxParticipants": 1, "allocation": "draw",
            "drawAt": at(Duration::from_secs(1))
        }))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let late = app
        .transition("late-drop", Route::PublishGroupBuy, None)
        .await;
    assert_eq!((late.status, late.code()), (409, "DEADLINE_PASSED"));
}
