//! Lifecycle events end to end, locally: the handlers write to a fresh table in DynamoDB
//! Local, `gharart-operator --local event-stream` (spawned as a process, so that it can be
//! killed and started again) follows the table's stream, and the events file must hold
//! exactly the lifecycle's events, each once, each within 5 seconds of its write.

// Test code: its helpers may unwrap, expect and panic, as `#[test]`s may.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use group_buy::Route;
use group_buy::deadline::Deadline;
use group_buy::domain::Timestamp;
use group_buy::events::DetailType;
use group_buy::expiry::expire_due;
use group_buy_tests::{TestApp, Visitor, dynamodb_endpoint, spawn_app_with_events};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// API.md: an event is in the file within 5 seconds of its write.
const WITHIN: Duration = Duration::from_secs(5);

const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;

/// The runner, killed when dropped (a failed assertion included).
struct Runner(Child);

impl Runner {
    fn start(app: &TestApp, events_file: &Path) -> Self {
        Self::refusing(app, events_file, "")
    }

    /// A runner whose "bus" refuses the events of `kinds` (`LOCAL_EVENTS_REFUSE`).
    fn refusing(app: &TestApp, events_file: &Path, kinds: &str) -> Self {
        let log = std::fs::File::create(events_file.with_extension("log")).expect("runner log");
        let child = Command::new(env!("CARGO_BIN_EXE_gharart-operator"))
            .args(["--local", "event-stream", "--events-file"])
            .arg(events_file)
            .env("TABLE_NAME", &app.table)
            .env("DYNAMODB_ENDPOINT", dynamodb_endpoint())
            .env("LOCAL_EVENTS_REFUSE", kinds)
            .env_remove("STAGE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the operator tool starts");
        Self(child)
    }

    /// Stopped at once, as a crash would stop it.
    fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn events_file() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gharart-events-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir.join("events.jsonl")
}

/// Every complete line of the events file, parsed (a reader may see a line being written).
fn lines(path: &Path) -> Vec<Value> {
    let raw = std::fs::read_to_string(path).unwrap_or_default();
    let complete = raw.rfind('\n').map_or(0, |end| end + 1);
    raw[..complete]
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is one JSON event"))
        .collect()
}

/// Waits until the file holds `count` events (at most `WITHIN`), then returns them all.
async fn wait_for(path: &Path, count: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let found = lines(path);
        if found.len() >= count || started.elapsed() > WITHIN {
            assert_eq!(
                found.len(),
                count,
                "events after {:?}: {found:#?}",
                started.elapsed()
            );
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The detail-types of `events` for one group-buy, in file order.
fn kinds(events: &[Value], slug: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["detail"]["slug"] == slug)
        .map(|e| e["detail-type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Each event against its schema in schemas/events; ids unique; the shape of an EventBridge
/// entry; nothing that names a visitor.
fn check_all(events: &[Value], visitors: &[&Visitor]) {
    let mut ids = BTreeSet::new();
    for event in events {
        assert_eq!(event["source"], "gharart.group-buys");
        let kind = event["detail-type"].as_str().expect("detail-type");
        let path = format!(
            "{}/../schemas/events/{kind}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let schema: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("a schema per kind"))
                .expect("schema JSON");
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("a valid schema");
        let errors: Vec<String> = validator
            .iter_errors(&event["detail"])
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{event}: {errors:?}");
        assert!(
            ids.insert(
                event["detail"]["eventId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            ),
            "eventId twice: {event}"
        );
        let line = event.to_string();
        assert!(!line.contains("visitorKey"), "{line}");
        for visitor in visitors {
            if let Visitor::Anonymous(pass) = visitor
                && let Some(pass) = pass.get()
            {
                assert!(!line.contains(pass.as_str()), "a visitor pass in {line}");
                // Nor the random visitor the pass names (its third part).
                let named = pass.split('.').nth(2).unwrap_or(pass.as_str());
                assert!(!line.contains(named), "a visitor id in {line}");
            }
        }
    }
}

fn ample() -> Deadline {
    Deadline::after(Duration::from_secs(60))
}

#[tokio::test]
async fn a_lifecycle_gives_exactly_its_events_each_within_five_seconds() {
    let app = spawn_app_with_events().await;
    let file = events_file();
    let _runner = Runner::start(&app, &file);
    let slug = "lifecycle-lamp";
    let (a, b, c, d) = (
        Visitor::anonymous(),
        Visitor::anonymous(),
        Visitor::anonymous(),
        Visitor::anonymous(),
    );
    let closes_at = Timestamp::now().plus_millis(WEEK_MS);
    let extended_to = closes_at.plus_millis(WEEK_MS);

    let created = app
        .create(&json!({
            "slug": slug, "title": "Lifecycle lamp", "currency": "INR",
            "unitPriceMinor": 249900, "minParticipants": 2, "maxQuantityPerParticipant": 5,
            "closesAt": closes_at.to_string(),
            "priceTiers": [{"minParticipants": 3, "unitPriceMinor": 229900}]
        }))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let published = app.transition(slug, Route::PublishGroupBuy, None).await;
    assert_eq!(published.status, 200, "{}", published.body);
    wait_for(&file, 1).await;
    assert_eq!(app.register(slug, &a, Some(1)).await.status, 201);
    // Below the threshold: no event. B makes it.
    assert_eq!(app.register(slug, &b, Some(3)).await.status, 201);
    wait_for(&file, 2).await;
    assert_eq!(app.withdraw(slug, &b).await.status, 204);
    wait_for(&file, 3).await;
    assert_eq!(app.register(slug, &c, Some(2)).await.status, 201);
    wait_for(&file, 4).await;
    // The third participant reaches the first (and only) price tier.
    assert_eq!(app.register(slug, &d, Some(1)).await.status, 201);
    wait_for(&file, 5).await;
    let extended = app
        .transition(
            slug,
            Route::ExtendGroupBuy,
            Some(&json!({"closesAt": extended_to.to_string()})),
        )
        .await;
    assert_eq!(extended.status, 200, "{}", extended.body);
    wait_for(&file, 6).await;
    let closed = app
        .transition(
            slug,
            Route::CloseGroupBuy,
            Some(&json!({"outcome": "fulfilled"})),
        )
        .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    let events = wait_for(&file, 7).await;

    assert_eq!(
        kinds(&events, slug),
        [
            "GroupBuyPublished",
            "ThresholdReached",
            "ThresholdLost",
            "ThresholdReached",
            "PriceTierReached",
            "GroupBuyDeadlineExtended",
            "GroupBuyClosed",
        ]
    );
    check_all(&events, &[&a, &b, &c, &d]);
    let detail = |i: usize| &events[i]["detail"];
    assert_eq!(detail(0)["version"], 2);
    assert_eq!(
        (&detail(1)["participantCount"], &detail(1)["unitCount"]),
        (&json!(2), &json!(4))
    );
    assert_eq!(
        (&detail(2)["participantCount"], &detail(2)["unitCount"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(detail(3)["participantCount"], 2);
    // The tally's version follows the transitions (create 1, publish 2).
    assert_eq!(
        (
            &detail(1)["version"],
            &detail(2)["version"],
            &detail(3)["version"]
        ),
        (&json!(2), &json!(2), &json!(2))
    );
    assert_eq!(
        (&detail(4)["tier"], &detail(4)["tierMinParticipants"]),
        (&json!(1), &json!(3))
    );
    assert_eq!(
        (
            &detail(4)["currentUnitPriceMinor"],
            &detail(4)["participantCount"]
        ),
        (&json!(229900), &json!(3))
    );
    assert_eq!(detail(5)["closesAt"], extended_to.to_string());
    assert_eq!(detail(5)["previousClosesAt"], closes_at.to_string());
    assert_eq!(
        (&detail(5)["extensionCount"], &detail(5)["version"]),
        (&json!(1), &json!(3))
    );
    assert_eq!(detail(6)["outcome"], "fulfilled");
    assert_eq!(detail(6)["version"], 4);
    assert_eq!(
        (&detail(6)["handle"], &detail(6)["slug"]),
        (&json!("acme-decor"), &json!(slug))
    );
    // Nothing more comes: no event is written twice.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(lines(&file).len(), 7);
}

#[tokio::test]
async fn a_runner_stopped_mid_stream_resumes_without_loss_or_duplicates() {
    let app = spawn_app_with_events().await;
    let file = events_file();
    let runner = Runner::start(&app, &file);
    let slug = "restart-rug";
    let (a, b, c) = (
        Visitor::anonymous(),
        Visitor::anonymous(),
        Visitor::anonymous(),
    );

    app.draft(slug, 2).await;
    app.transition(slug, Route::PublishGroupBuy, None).await;
    assert_eq!(app.register(slug, &a, None).await.status, 201);
    assert_eq!(app.register(slug, &b, None).await.status, 201);
    wait_for(&file, 2).await;
    runner.kill();

    // Written while nothing follows the stream.
    assert_eq!(app.withdraw(slug, &b).await.status, 204);
    assert_eq!(app.register(slug, &c, None).await.status, 201);
    let _runner = Runner::start(&app, &file);
    wait_for(&file, 4).await;
    assert_eq!(
        app.transition(
            slug,
            Route::CloseGroupBuy,
            Some(&json!({"outcome": "fulfilled"}))
        )
        .await
        .status,
        200
    );
    wait_for(&file, 5).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let events = lines(&file);
    assert_eq!(
        kinds(&events, slug),
        [
            "GroupBuyPublished",
            "ThresholdReached",
            "ThresholdLost",
            "ThresholdReached",
            "GroupBuyClosed",
        ]
    );
    check_all(&events, &[&a, &b, &c]);
}

/// A stop after the events were appended but before the checkpoint was written: the records
/// are read again, and the eventIds already in the file keep them from being added twice.
#[tokio::test]
async fn a_replay_after_a_lost_checkpoint_adds_nothing_twice() {
    let app = spawn_app_with_events().await;
    let file = events_file();
    let runner = Runner::start(&app, &file);
    let slug = "replayed-vase";
    let (a, b) = (Visitor::anonymous(), Visitor::anonymous());

    app.draft(slug, 2).await;
    app.transition(slug, Route::PublishGroupBuy, None).await;
    assert_eq!(app.register(slug, &a, None).await.status, 201);
    assert_eq!(app.register(slug, &b, None).await.status, 201);
    wait_for(&file, 2).await;
    runner.kill();
    let mut checkpoint = file.clone().into_os_string();
    checkpoint.push(".checkpoint");
    // Written after the append: the kill may have come before it, which is this very case.
    match std::fs::remove_file(&checkpoint) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("{e}"),
    }
    // And a line cut short by the stop, which the runner drops and writes again whole.
    let mut partial = std::fs::read_to_string(&file).expect("events");
    let last = partial.trim_end().rfind('\n').map_or(0, |i| i + 1);
    partial.truncate(last + 20);
    std::fs::write(&file, partial).expect("cut short");

    assert_eq!(app.withdraw(slug, &b).await.status, 204);
    let _runner = Runner::start(&app, &file);
    let events = wait_for(&file, 3).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(lines(&file).len(), 3);
    assert_eq!(
        kinds(&events, slug),
        ["GroupBuyPublished", "ThresholdReached", "ThresholdLost"]
    );
    check_all(&events, &[&a, &b]);
}

/// A batch whose events cannot be published is tried three times, then described in the
/// failures file (as Lambda sends it to the failure queue) while the stream moves on; the
/// replay delivers its events once, in order, and forgets it; a second replay does nothing.
#[tokio::test]
async fn a_batch_given_up_on_is_replayed_once_from_the_stream() {
    let app = spawn_app_with_events().await;
    let file = events_file();
    let mut failures = file.clone().into_os_string();
    failures.push(".failures.jsonl");
    let failures = PathBuf::from(failures);
    let runner = Runner::refusing(&app, &file, "GroupBuyPublished");
    let slug = "lost-lamp";
    app.draft(slug, 1).await;
    app.transition(slug, Route::PublishGroupBuy, None).await;
    let started = Instant::now();
    while std::fs::read_to_string(&failures)
        .unwrap_or_default()
        .lines()
        .count()
        < 1
    {
        assert!(
            started.elapsed() < WITHIN,
            "no batch described in the failures file"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Later changes are not held up by the failed batch.
    let visitor = Visitor::anonymous();
    assert_eq!(app.register(slug, &visitor, None).await.status, 201);
    let events = wait_for(&file, 1).await;
    assert_eq!(kinds(&events, slug), ["ThresholdReached"]);
    runner.kill();

    let replay = || {
        Command::new(env!("CARGO_BIN_EXE_gharart-operator"))
            .args(["--local", "replay-failed-events", "--events-file"])
            .arg(&file)
            .env("TABLE_NAME", &app.table)
            .env("DYNAMODB_ENDPOINT", dynamodb_endpoint())
            .env_remove("STAGE")
            .env_remove("LOCAL_EVENTS_REFUSE")
            .output()
            .expect("the operator tool runs")
    };
    let out = replay();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains(" records, 1 events published"), "{said}");
    let events = lines(&file);
    assert_eq!(
        kinds(&events, slug),
        ["ThresholdReached", "GroupBuyPublished"]
    );
    check_all(&events, &[&visitor]);
    // Nothing left to replay: the file is gone, or empty.
    assert_eq!(std::fs::read_to_string(&failures).unwrap_or_default(), "");
    let again = replay();
    assert!(again.status.success());
    assert_eq!(lines(&file).len(), 2);
}

#[tokio::test]
async fn the_closing_soon_notice_is_one_event_per_deadline() {
    let app = spawn_app_with_events().await;
    let file = events_file();
    let _runner = Runner::start(&app, &file);
    let slug = "closing-clock";
    let closes_at = Timestamp::now().plus_millis(2 * 3_600_000).to_string();
    app.published(slug, json!({"closesAt": closes_at, "minParticipants": 3}))
        .await;
    wait_for(&file, 1).await;

    for run in ["run-1", "run-2"] {
        expire_due(&app.app.store, Timestamp::now(), run, ample())
            .await
            .expect("run");
    }
    let events = wait_for(&file, 2).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(lines(&file).len(), 2, "once, though the pass ran twice");
    assert_eq!(
        kinds(&events, slug),
        [
            DetailType::GroupBuyPublished.as_str(),
            DetailType::GroupBuyClosingSoon.as_str()
        ]
    );
    assert_eq!(events[1]["detail"]["closesAt"], closes_at);
    assert_eq!(events[1]["detail"]["participantCount"], 0);
    check_all(&events, &[]);
}

#[tokio::test]
async fn a_waitlist_promotion_is_one_pseudonymous_event() {
    let app = spawn_app_with_events().await;
    let file = events_file();
    let _runner = Runner::start(&app, &file);
    let slug = "waitlist-vase";
    let (a, b) = (Visitor::anonymous(), Visitor::anonymous());
    app.published(slug, json!({"maxParticipants": 1, "minParticipants": 1}))
        .await;
    assert_eq!(app.register(slug, &a, Some(1)).await.status, 201);
    let joined = app
        .send(
            TestApp::my_interest(Route::RegisterInterest, slug, &b)
                .json(&json!({"quantity": 2, "waitlist": true})),
        )
        .await;
    assert_eq!(joined.status, 202, "{}", joined.body);
    // A withdraws: B takes the place in the same transaction; the count never moves.
    assert_eq!(app.withdraw(slug, &a).await.status, 204);
    let events = wait_for(&file, 3).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(lines(&file).len(), 3);
    assert_eq!(
        kinds(&events, slug),
        ["GroupBuyPublished", "ThresholdReached", "WaitlistPromoted"]
    );
    let promoted = &events[2]["detail"];
    assert_eq!(promoted["quantity"], 2);
    // The per-campaign pseudonym the owner's participants list shows, and nothing else.
    let participants = app.interests(slug).await;
    assert_eq!(participants.len(), 1);
    assert_eq!(promoted["participant"], participants[0]["participant"]);
    check_all(&events, &[&a, &b]);
}

#[tokio::test]
async fn a_draw_is_one_event_with_its_counts_and_seed() {
    let app = spawn_app_with_events().await;
    let file = events_file();
    let _runner = Runner::start(&app, &file);
    let slug = "drawn-vase";
    let visitors: Vec<Visitor> = (0..3).map(|_| Visitor::anonymous()).collect();
    let draw_at = (chrono::Utc::now() + chrono::Duration::seconds(3))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let published = app
        .published(
            slug,
            json!({"allocation": "draw", "maxParticipants": 2, "minParticipants": 2,
                   "waitlistLimit": 0, "drawAt": draw_at}),
        )
        .await;
    let commitment = published["draw"]["commitment"].clone();
    for visitor in &visitors {
        assert_eq!(app.register(slug, visitor, None).await.status, 202);
    }
    // Entries are no event: the tally does not move until the draw.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let run = expire_due(&app.app.store, Timestamp::now(), "run-draw", ample())
        .await
        .expect("the scheduled run");
    assert_eq!(run.drawn, 1);
    // Published; the draw's two winners reach the threshold; drawn.
    let events = wait_for(&file, 3).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(lines(&file).len(), 3);
    let mut seen = kinds(&events, slug);
    seen.sort();
    assert_eq!(
        seen,
        ["GroupBuyDrawn", "GroupBuyPublished", "ThresholdReached"]
    );
    let drawn = events
        .iter()
        .find(|e| e["detail-type"] == "GroupBuyDrawn")
        .expect("drawn");
    assert_eq!(drawn["detail"]["entryCount"], 3);
    assert_eq!(drawn["detail"]["winnerCount"], 2);
    let seed = drawn["detail"]["seed"].as_str().expect("seed");
    let view = app.get(slug, "").await.body;
    assert_eq!(view["draw"]["seed"], seed);
    assert_eq!(view["draw"]["commitment"], commitment);
    let refs: Vec<&Visitor> = visitors.iter().collect();
    check_all(&events, &refs);
}
