//! Entries racing the draw: visitors keep entering while the draw starts at `drawAt` (and is
//! started again and again by racing runs, as the schedule and the owner would); then exact
//! invariants: every entry answered 202 is held, the ranked list is exactly the entries held,
//! and the list, `draw.entryCount` and the counts agree.

use chrono::{SecondsFormat, Utc};
use group_buy::Route;
use group_buy::store::DrawRun;
use group_buy_tests::{Call, HANDLE, Visitor, concurrently, exclusive, spawn_app};
use serde_json::json;
use std::collections::HashSet;

const SLUG: &str = "race-drop";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_entry_held_is_drawn_and_every_202_is_held() {
    let _turn = exclusive().await;
    let app = spawn_app().await;
    let visitors: Vec<Visitor> = app.visitors(300).await;
    let draw_at = Utc::now() + chrono::Duration::seconds(3);
    app.published(
        SLUG,
        json!({"allocation": "draw", "maxParticipants": 25, "waitlistLimit": 25,
               "drawAt": draw_at.to_rfc3339_opts(SecondsFormat::Millis, true)}),
    )
    .await;
    // Entries spread over the second before drawAt and the second after it, while three
    // runs of the draw start as soon as it is due.
    let entries = visitors.iter().enumerate().map(|(i, v)| {
        let app = &app;
        async move {
            let at = draw_at - chrono::Duration::milliseconds(1000)
                + chrono::Duration::milliseconds(i as i64 * 2000 / 300);
            if let Ok(wait) = (at - Utc::now()).to_std() {
                tokio::time::sleep(wait).await;
            }
            app.register_retrying(SLUG, v, None).await
        }
    });
    let draws = (0..3).map(|_| {
        let app = &app;
        async move {
            if let Ok(wait) = (draw_at - Utc::now()).to_std() {
                tokio::time::sleep(wait).await;
            }
            app.run_draw(SLUG, "race").await
        }
    });
    let (answers, runs) = tokio::join!(concurrently(entries), concurrently(draws));
    // A run that DynamoDB Local left without an answer under this load is resumed by the
    // next, as the schedule's next run would.
    if !runs.iter().any(|run| run.is_ok()) {
        for _ in 0..10 {
            if let Ok(DrawRun::Drawn(_) | DrawRun::AlreadyDrawn(_)) =
                app.run_draw(SLUG, "resume").await
            {
                break;
            }
        }
    }
    let mut entered = HashSet::new();
    let (mut refused, mut registered_after) = (0, 0);
    for answer in &answers {
        match (answer.status, answer.code()) {
            (202, _) => {
                entered.insert(
                    answer.body["entry"]["ticket"]
                        .as_str()
                        .expect("t")
                        .to_owned(),
                );
            }
            (409, "DRAW_PENDING") => refused += 1,
            // After the draw, a newcomer registers as on any group-buy: a place the draw left
            // free, or none (the draw's winners and waitlist come first).
            (201, _) => registered_after += 1,
            (409, "GROUP_BUY_FULL" | "WAITLIST_FULL") => refused += 1,
            other => panic!("{other:?}: {}", answer.body),
        }
    }
    assert_eq!(entered.len() + refused + registered_after, 300);
    assert!(!entered.is_empty(), "entries came before drawAt");
    let draw = app
        .send(
            Call::new(
                Route::GetDraw,
                format!("/v2/public/group-buys/{HANDLE}/{SLUG}/draw"),
            )
            .query("limit=100"),
        )
        .await;
    let mut listed = HashSet::new();
    let mut page = draw;
    loop {
        assert_eq!(page.status, 200, "{}", page.body);
        for item in page.body["items"].as_array().expect("items") {
            listed.insert(item["ticket"].as_str().expect("t").to_owned());
        }
        match page.body["nextCursor"].as_str() {
            Some(cursor) => {
                page = app
                    .send(
                        Call::new(
                            Route::GetDraw,
                            format!("/v2/public/group-buys/{HANDLE}/{SLUG}/draw"),
                        )
                        .query(&format!("limit=100&cursor={cursor}")),
                    )
                    .await
            }
            None => break,
        }
    }
    // What each visitor holds, by their own GET: an entry answered 503 may have committed
    // (its retry then met the seal: DRAW_PENDING), and is drawn like any other.
    let mut held = HashSet::new();
    for visitor in &visitors {
        let mine = app
            .send(group_buy_tests::TestApp::my_interest(
                Route::GetMyInterest,
                SLUG,
                visitor,
            ))
            .await;
        if let Some(ticket) = mine.body["entry"]["ticket"].as_str() {
            held.insert(ticket.to_owned());
        }
    }
    assert!(entered.is_subset(&held), "every entry answered 202 is held");
    assert_eq!(listed, held, "the drawn entries are exactly those held");
    let view = app.get(SLUG, "").await.body;
    assert_eq!(view["draw"]["entryCount"], held.len());
    let participants = 25.min(held.len()) + registered_after;
    assert!(participants <= 25, "{participants}");
    assert_eq!(view["draw"]["winnerCount"], 25.min(held.len()));
    assert_eq!(view["participantCount"], participants);
    assert_eq!(
        app.assert_counters_match_records(SLUG).await.0,
        participants as u64
    );
}
