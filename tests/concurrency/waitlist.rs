//! The waitlist under concurrency: visitors join a full group-buy's waitlist while
//! participants withdraw, all at once; then exact invariants on the counters, the records and
//! the order in which freed places were filled.

use aws_sdk_dynamodb::types::AttributeValue;
use group_buy::Route;
use group_buy_tests::{TestApp, TestResponse, Visitor, concurrently, exclusive, spawn_app};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};

const SLUG: &str = "wait-drop";
const MAX_PARTICIPANTS: u64 = 20;

fn quantity_of(i: usize) -> u64 {
    (i % 5) as u64 + 1
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().unwrap_or(0),
        _ => 0,
    }
}

fn string<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> &'a str {
    match item.get(name) {
        Some(AttributeValue::S(v)) => v,
        _ => "",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn joins_racing_withdrawals_fill_every_freed_place_in_waitlist_order() {
    let _turn = exclusive().await;
    let app = spawn_app().await;
    app.published(
        SLUG,
        json!({"maxParticipants": MAX_PARTICIPANTS, "maxQuantityPerParticipant": 5}),
    )
    .await;
    let participants: Vec<Visitor> = (0..MAX_PARTICIPANTS)
        .map(|_| Visitor::anonymous())
        .collect();
    for p in &participants {
        assert_eq!(app.register(SLUG, p, Some(1)).await.status, 201);
    }
    let joiners: Vec<Visitor> = (0..40).map(|_| Visitor::anonymous()).collect();
    let leavers = &participants[..10];
    let join = |i: usize, v: &Visitor| {
        TestApp::my_interest(Route::RegisterInterest, SLUG, v)
            .json(&json!({"quantity": quantity_of(i), "waitlist": true}))
    };
    // A few already wait when the race starts, so that withdrawals always meet a waitlist;
    // the other joins race the withdrawals.
    const EARLY: usize = 5;
    let mut early = Vec::new();
    for (i, v) in joiners.iter().enumerate().take(EARLY) {
        let joined = app.send(join(i, v)).await;
        assert_eq!(joined.status, 202, "{}", joined.body);
        assert_eq!(
            joined.body["waitlist"]["position"].as_u64(),
            Some(i as u64 + 1)
        );
        early.push(joined);
    }

    let app = &app;
    let joins = concurrently(
        joiners
            .iter()
            .enumerate()
            .skip(EARLY)
            .map(|(i, v)| app.send_retrying(move || join(i, v))),
    );
    let withdrawals = concurrently(leavers.iter().map(|v| {
        app.send_retrying(move || TestApp::my_interest(Route::WithdrawInterest, SLUG, v))
    }));
    // The owner's view, read over and over while the writes race.
    let done = AtomicBool::new(false);
    let observer = async {
        let mut seen = Vec::new();
        while !done.load(Ordering::Relaxed) {
            let view = app.get(SLUG, "").await.body;
            seen.push((
                view["participantCount"].as_u64().unwrap_or(u64::MAX),
                view["waitlistCount"].as_u64().unwrap_or(u64::MAX),
            ));
        }
        seen
    };
    let writes = async {
        let answers = tokio::join!(joins, withdrawals);
        done.store(true, Ordering::Relaxed);
        answers
    };
    let ((racing, withdrawn), observed) = tokio::join!(writes, observer);
    let joined: Vec<TestResponse> = early.into_iter().chain(racing).collect();

    for w in &withdrawn {
        assert_eq!(w.status, 204, "{}", w.body);
    }
    for (i, j) in joined.iter().enumerate() {
        assert!(
            matches!(j.status, 201 | 202),
            "joiner {i}: {} {}",
            j.status,
            j.body
        );
    }
    assert!(!observed.is_empty());
    for (participants, waiting) in &observed {
        assert!(
            *participants <= MAX_PARTICIPANTS,
            "observed {participants} participants"
        );
        assert!(*waiting <= 40, "observed a waitlist of {waiting}");
    }

    // Every freed place was filled: 10 left, and more than 10 asked for a place.
    let (participant_count, units) = app.assert_counters_match_records(SLUG).await;
    assert_eq!(participant_count, MAX_PARTICIPANTS);

    let items = app.all_items().await;
    let with_prefix = |prefix: &'static str| {
        items
            .iter()
            .filter(move |item| string(item, "SK").starts_with(prefix))
    };
    let queued: Vec<_> = with_prefix("WAIT#").collect();
    let own: Vec<_> = with_prefix("WAITER#").collect();
    let interests: BTreeSet<&str> = with_prefix("INT#")
        .map(|item| string(item, "participant"))
        .collect();
    let tally = items
        .iter()
        .find(|item| string(item, "SK") == "GB#TALLY")
        .expect("the tally");

    // waitlistCount is the number of entries, each entry two items that agree.
    assert_eq!(number(tally, "waitlistCount"), queued.len() as u64);
    assert_eq!(queued.len(), own.len());
    let waiting: BTreeSet<&str> = queued
        .iter()
        .map(|item| string(item, "participant"))
        .collect();
    assert_eq!(waiting.len(), queued.len(), "one entry per visitor");
    for entry in &own {
        let queue_key = format!("WAIT#{:020}", number(entry, "seq"));
        assert!(
            queued.iter().any(|q| string(q, "SK") == queue_key
                && string(q, "participant") == string(entry, "participant")),
            "{queue_key} is the visitor's entry"
        );
    }
    // Nobody is both a participant and waiting.
    assert!(interests.is_disjoint(&waiting));

    // Joins took increasing numbers in commit order; the freed places went to the lowest
    // ones: every promoted entry's number is below every number still waiting.
    let remaining: BTreeSet<u64> = queued.iter().map(|item| number(item, "seq")).collect();
    let promoted_numbers: BTreeSet<u64> = with_prefix("INT#")
        .filter(|item| item.contains_key("promotedAt"))
        .map(|item| number(item, "waitlistSeq"))
        .collect();
    let promoted = promoted_numbers.len() as u64;
    if let (Some(last_promoted), Some(first_waiting)) = (promoted_numbers.last(), remaining.first())
    {
        assert!(
            last_promoted < first_waiting,
            "the promoted are exactly the earliest joiners"
        );
    }
    let joined_waitlist = joined.iter().filter(|j| j.status == 202).count() as u64;
    assert_eq!(
        promoted + remaining.len() as u64,
        joined_waitlist,
        "every joiner promoted or still waiting, once"
    );
    assert_eq!(
        number(tally, "waitlistSeq"),
        *remaining.last().or(promoted_numbers.last()).expect("joins"),
        "the tally holds the latest number"
    );
    assert!(
        promoted >= EARLY as u64,
        "those already waiting were promoted"
    );
    let registered_directly = joined.iter().filter(|j| j.status == 201).count() as u64;
    assert_eq!(
        promoted + registered_directly,
        leavers.len() as u64,
        "each freed place filled once"
    );

    // Each visitor sees one thing: an interest with the quantity asked for, or a place.
    let mut promoted_units = 0;
    for (i, v) in joiners.iter().enumerate() {
        let mine = app
            .send(TestApp::my_interest(Route::GetMyInterest, SLUG, v))
            .await;
        assert_eq!(mine.status, 200, "{}", mine.body);
        match (&mine.body["interest"], &mine.body["waitlist"]) {
            (interest, serde_json::Value::Null) if interest.is_object() => {
                assert_eq!(interest["quantity"].as_u64(), Some(quantity_of(i)));
                promoted_units += quantity_of(i);
            }
            (serde_json::Value::Null, place) if place.is_object() => {
                assert_eq!(place["quantity"].as_u64(), Some(quantity_of(i)));
            }
            other => panic!("joiner {i} holds {other:?}"),
        }
    }
    assert_eq!(units, (MAX_PARTICIPANTS - 10) + promoted_units);
    let owner_view = app.get(SLUG, "").await.body;
    assert_eq!(
        owner_view["waitlistCount"].as_u64(),
        Some(queued.len() as u64)
    );
}

/// Waiting visitors leave while participants withdraw: a leaver promoted before their DELETE
/// landed withdraws the interest instead, which hands the place on again. In the end no
/// leaver holds anything and every place is filled by those who stayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leaving_racing_promotions_leaves_nothing_behind() {
    let _turn = exclusive().await;
    let app = spawn_app().await;
    app.published(SLUG, json!({"maxParticipants": 20})).await;
    let participants: Vec<Visitor> = (0..20).map(|_| Visitor::anonymous()).collect();
    for p in &participants {
        assert_eq!(app.register(SLUG, p, Some(1)).await.status, 201);
    }
    let waiting: Vec<Visitor> = (0..20).map(|_| Visitor::anonymous()).collect();
    for v in &waiting {
        let joined = app
            .send(
                TestApp::my_interest(Route::RegisterInterest, SLUG, v)
                    .json(&json!({"waitlist": true})),
            )
            .await;
        assert_eq!(joined.status, 202, "{}", joined.body);
    }
    // Every other waiting visitor leaves, the earliest included, as 10 places free up.
    let (leavers, stayers): (Vec<_>, Vec<_>) =
        waiting.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let app = &app;
    let deletes = participants[..10]
        .iter()
        .chain(leavers.iter().map(|(_, v)| *v))
        .map(|v| app.send_retrying(move || TestApp::my_interest(Route::WithdrawInterest, SLUG, v)));
    for answer in concurrently(deletes).await {
        assert_eq!(answer.status, 204, "{}", answer.body);
    }

    for (_, v) in &leavers {
        let mine = app
            .send(TestApp::my_interest(Route::GetMyInterest, SLUG, v))
            .await;
        assert_eq!(mine.code(), "INTEREST_NOT_FOUND", "{}", mine.body);
    }
    for (_, v) in &stayers {
        let mine = app
            .send(TestApp::my_interest(Route::GetMyInterest, SLUG, v))
            .await;
        assert_eq!(mine.body["interest"]["quantity"], 1, "{}", mine.body);
    }
    assert_eq!(app.assert_counters_match_records(SLUG).await, (20, 20));
    assert_eq!(app.get(SLUG, "").await.body["waitlistCount"], 0);
    let waitlist_items = app
        .all_items()
        .await
        .iter()
        .filter(|item| string(item, "SK").starts_with("WAIT"))
        .count();
    assert_eq!(waitlist_items, 0);
}

/// Many visitors race for the last places on a waitlist: exactly the limit is admitted, the
/// others are told `WAITLIST_FULL`, and the counters equal the records.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn joins_racing_for_the_last_waitlist_places_admit_exactly_the_limit() {
    let _turn = exclusive().await;
    let app = spawn_app().await;
    const LIMIT: usize = 8;
    app.published(SLUG, json!({"maxParticipants": 2, "waitlistLimit": LIMIT}))
        .await;
    for _ in 0..2 {
        assert_eq!(
            app.register(SLUG, &Visitor::anonymous(), Some(1))
                .await
                .status,
            201
        );
    }
    // Most places are taken before the race; the last few are raced for.
    const EARLY: usize = 5;
    for _ in 0..EARLY {
        let joined = app
            .send(
                TestApp::my_interest(Route::RegisterInterest, SLUG, &Visitor::anonymous())
                    .json(&json!({"waitlist": true})),
            )
            .await;
        assert_eq!(joined.status, 202, "{}", joined.body);
    }
    let racers: Vec<Visitor> = (0..24).map(|_| Visitor::anonymous()).collect();
    let app = &app;
    let answers = concurrently(racers.iter().map(|v| {
        app.send_retrying(move || {
            TestApp::my_interest(Route::RegisterInterest, SLUG, v).json(&json!({"waitlist": true}))
        })
    }))
    .await;
    let admitted = answers.iter().filter(|a| a.status == 202).count();
    let refused = answers
        .iter()
        .filter(|a| a.status == 409 && a.code() == "WAITLIST_FULL")
        .count();
    assert_eq!(admitted, LIMIT - EARLY, "exactly the places left");
    let bodies: Vec<String> = answers
        .iter()
        .map(|a| format!("{} {}", a.status, a.body))
        .collect();
    assert_eq!(refused, racers.len() - admitted, "{bodies:?}");

    let items = app.all_items().await;
    let count = |prefix: &str| {
        items
            .iter()
            .filter(|item| string(item, "SK").starts_with(prefix))
            .count()
    };
    let tally = items
        .iter()
        .find(|item| string(item, "SK") == "GB#TALLY")
        .expect("the tally");
    assert_eq!(number(tally, "waitlistCount"), LIMIT as u64);
    assert_eq!(count("WAIT#"), LIMIT);
    assert_eq!(count("WAITER#"), LIMIT);
    assert_eq!(app.assert_counters_match_records(SLUG).await, (2, 2));
    assert_eq!(app.get(SLUG, "").await.body["waitlistCount"], LIMIT);
}
