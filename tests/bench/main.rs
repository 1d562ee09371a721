//! Rerunnable benchmark: DynamoDB round trips and consumed capacity per keyed POST, first and
//! replayed, against the anchor of the AWS Lambda Powertools idempotency utility (a lock
//! PutItem before and a completing UpdateItem after every keyed request). Ignored by
//! `cargo test`; `scripts/bench.sh` runs it against its own DynamoDB Local and prints medians.

use group_buy::Route;
use group_buy::telemetry::{DynamoUsage, measure};
use group_buy_tests::{Call, HANDLE, TestApp, owner_token, spawn_app};
use serde_json::json;

const RUNS: usize = 15;

async fn cost(app: &TestApp, route: Route, call: Call) -> (u16, DynamoUsage) {
    let request = lambda_http::request::from_str(&call.event("bench").to_string()).expect("event");
    let (response, usage) = measure(app.app.handle(route, request)).await;
    (response.status().as_u16(), usage)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn create(slug: &str, key: Option<&str>) -> Call {
    let call = Call::new(
        Route::CreateGroupBuy,
        format!("/v2/handles/{HANDLE}/group-buys"),
    )
    .bearer(&owner_token())
    .json(&json!({"slug": slug, "title": "Lamp", "currency": "INR",
            "unitPriceMinor": 1, "minParticipants": 1}));
    match key {
        Some(key) => call.header("idempotency-key", key),
        None => call,
    }
}

fn publish(slug: &str, key: Option<&str>) -> Call {
    let call = Call::new(
        Route::PublishGroupBuy,
        format!("/v2/handles/{HANDLE}/group-buys/{slug}/publish"),
    )
    .bearer(&owner_token());
    match key {
        Some(key) => call.header("idempotency-key", key),
        None => call,
    }
}

#[derive(Default)]
struct Samples {
    calls: Vec<f64>,
    capacity: Vec<f64>,
}

impl Samples {
    fn add(&mut self, (status, usage): (u16, DynamoUsage), expected: u16) {
        assert_eq!(status, expected);
        self.calls.push(f64::from(usage.calls));
        self.capacity.push(usage.capacity_units);
    }

    fn row(&self, name: &str, anchor_calls: f64, anchor_capacity: f64) {
        let (calls, capacity) = (median(self.calls.clone()), median(self.capacity.clone()));
        println!(
            "| {name} | {calls} | {capacity:.1} | {anchor_calls} | {anchor_capacity:.1} | {:.2} | {:.2} |",
            calls / anchor_calls,
            capacity / anchor_capacity
        );
    }
}

#[tokio::test]
#[ignore = "a benchmark: scripts/bench.sh"]
async fn keyed_posts_against_the_two_extra_writes_anchor() {
    let app = spawn_app().await;
    let mut plain = (Samples::default(), Samples::default());
    let mut first = (Samples::default(), Samples::default());
    let mut replay = (Samples::default(), Samples::default());
    for i in 0..RUNS {
        let (a, b) = (format!("plain-{i}"), format!("keyed-{i}"));
        plain.0.add(
            cost(&app, Route::CreateGroupBuy, create(&a, None)).await,
            201,
        );
        plain.1.add(
            cost(&app, Route::PublishGroupBuy, publish(&a, None)).await,
            200,
        );
        let (ck, pk) = (format!("c-{i}"), format!("p-{i}"));
        first.0.add(
            cost(&app, Route::CreateGroupBuy, create(&b, Some(&ck))).await,
            201,
        );
        first.1.add(
            cost(&app, Route::PublishGroupBuy, publish(&b, Some(&pk))).await,
            200,
        );
        replay.0.add(
            cost(&app, Route::CreateGroupBuy, create(&b, Some(&ck))).await,
            201,
        );
        replay.1.add(
            cost(&app, Route::PublishGroupBuy, publish(&b, Some(&pk))).await,
            200,
        );
    }
    // The anchor: the unkeyed request plus a lock write and a completing write, each at
    // least 1 WCU; its replay is the one lock write that finds the record.
    println!(
        "\nDynamoDB per keyed POST, medians of {RUNS} runs (capacity units as DynamoDB Local reports them)\n"
    );
    println!(
        "| request | calls | capacity | anchor calls | anchor capacity | calls ratio | capacity ratio |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, plain, first, replay) in [
        ("create", &plain.0, &first.0, &replay.0),
        ("publish", &plain.1, &first.1, &replay.1),
    ] {
        let (calls, capacity) = (median(plain.calls.clone()), median(plain.capacity.clone()));
        plain.row(&format!("{name}, no key"), calls, capacity);
        first.row(
            &format!("{name}, keyed, first"),
            calls + 2.0,
            capacity + 2.0,
        );
        replay.row(&format!("{name}, keyed, replay"), 1.0, 1.0);
    }
}

/// What one route costs, with a 4,000-character description (issue 10's reference case).
#[derive(Default)]
struct RouteCosts {
    rows: Vec<(&'static str, Samples)>,
}

impl RouteCosts {
    async fn measure(
        &mut self,
        app: &TestApp,
        name: &'static str,
        route: Route,
        call: Call,
        expected: u16,
    ) {
        let sample = cost(app, route, call).await;
        let at = match self.rows.iter().position(|(n, _)| *n == name) {
            Some(at) => at,
            None => {
                self.rows.push((name, Samples::default()));
                self.rows.len() - 1
            }
        };
        self.rows[at].1.add(sample, expected);
    }
}

fn my_interest(route: Route, slug: &str, visitor_pass: &str) -> Call {
    Call::new(
        route,
        format!("/v2/public/group-buys/{HANDLE}/{slug}/my-interest"),
    )
    .header("x-visitor-pass", visitor_pass)
}

fn owner(route: Route, path: String) -> Call {
    Call::new(route, path).bearer(&owner_token())
}

#[tokio::test]
#[ignore = "a benchmark: scripts/bench.sh"]
async fn capacity_per_route_with_a_long_description() {
    let app = spawn_app().await;
    let mut costs = RouteCosts::default();
    let description = "Hand-knotted jute, natural dyes. ".repeat(125);
    assert_eq!(description.chars().count(), 4_125);
    let description: String = description.chars().take(4_000).collect();
    let closes_at = (chrono::Utc::now() + chrono::Duration::days(30))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let base = format!("/v2/handles/{HANDLE}/group-buys");
    for i in 0..RUNS {
        let slug = format!("jute-rug-{i}");
        // Two visitors' passes, obtained outside the measured steps.
        let (a, b) = (
            group_buy_tests::obtain_pass(&app.app).await,
            group_buy_tests::obtain_pass(&app.app).await,
        );
        let create = owner(Route::CreateGroupBuy, base.clone()).json(&json!({
            "slug": slug, "title": "Jute rug", "description": description, "currency": "INR",
            "unitPriceMinor": 249900, "minParticipants": 2, "maxParticipants": 100,
            "maxQuantityPerParticipant": 5, "closesAt": closes_at
        }));
        let one = format!("{base}/{slug}");
        let steps: Vec<(&'static str, Route, Call, u16)> = vec![
            ("create", Route::CreateGroupBuy, create, 201),
            (
                "publish",
                Route::PublishGroupBuy,
                owner(Route::PublishGroupBuy, format!("{one}/publish")),
                200,
            ),
            (
                "register, first",
                Route::RegisterInterest,
                my_interest(Route::RegisterInterest, &slug, &a).json(&json!({"quantity": 1})),
                201,
            ),
            (
                "register, retry (same quantity)",
                Route::RegisterInterest,
                my_interest(Route::RegisterInterest, &slug, &a).json(&json!({"quantity": 1})),
                200,
            ),
            (
                "register, quantity change",
                Route::RegisterInterest,
                my_interest(Route::RegisterInterest, &slug, &a).json(&json!({"quantity": 3})),
                200,
            ),
            (
                "register, first, crossing the threshold",
                Route::RegisterInterest,
                my_interest(Route::RegisterInterest, &slug, &b).json(&json!({"quantity": 2})),
                201,
            ),
            (
                "get my-interest",
                Route::GetMyInterest,
                my_interest(Route::GetMyInterest, &slug, &a),
                200,
            ),
            (
                "get (owner)",
                Route::GetGroupBuy,
                owner(Route::GetGroupBuy, one.clone()),
                200,
            ),
            (
                "get (public)",
                Route::GetPublicGroupBuy,
                Call::new(
                    Route::GetPublicGroupBuy,
                    format!("/v2/public/group-buys/{HANDLE}/{slug}"),
                ),
                200,
            ),
            (
                "list (owner, 25)",
                Route::ListGroupBuys,
                owner(Route::ListGroupBuys, base.clone()),
                200,
            ),
            (
                "list (public, 25)",
                Route::ListPublicGroupBuys,
                Call::new(
                    Route::ListPublicGroupBuys,
                    format!("/v2/public/group-buys/{HANDLE}"),
                ),
                200,
            ),
            (
                "list interests",
                Route::ListInterests,
                owner(Route::ListInterests, format!("{one}/interests")),
                200,
            ),
            (
                "stats (owner)",
                Route::GetGroupBuyStats,
                owner(Route::GetGroupBuyStats, format!("{one}/stats")),
                200,
            ),
            (
                "withdraw",
                Route::WithdrawInterest,
                my_interest(Route::WithdrawInterest, &slug, &a),
                204,
            ),
            (
                "pause",
                Route::PauseGroupBuy,
                owner(Route::PauseGroupBuy, format!("{one}/pause")),
                200,
            ),
            (
                "publish (resume)",
                Route::PublishGroupBuy,
                owner(Route::PublishGroupBuy, format!("{one}/publish")),
                200,
            ),
            (
                "register, first, again",
                Route::RegisterInterest,
                my_interest(Route::RegisterInterest, &slug, &a).json(&json!({"quantity": 1})),
                201,
            ),
            (
                "close",
                Route::CloseGroupBuy,
                owner(Route::CloseGroupBuy, format!("{one}/close")),
                200,
            ),
        ];
        for (name, route, call, expected) in steps {
            costs.measure(&app, name, route, call, expected).await;
        }
        let admin = Call::new(Route::AdminGroupBuys, "/v2/platform-admin/group-buys")
            .bearer(&group_buy_tests::admin_token());
        costs
            .measure(
                &app,
                "admin rollup and list",
                Route::AdminGroupBuys,
                admin,
                200,
            )
            .await;
    }
    println!(
        "\nDynamoDB per request, 4,000-character description, medians of {RUNS} runs \
         (ReturnConsumedCapacity INDEXES, as DynamoDB Local reports it)\n"
    );
    println!("| request | calls | capacity units |");
    println!("|---|---|---|");
    for (name, samples) in &costs.rows {
        println!(
            "| {name} | {} | {:.1} |",
            median(samples.calls.clone()),
            median(samples.capacity.clone())
        );
    }
}

/// Nanoseconds per call of `op`: the median of 15 batches of 2,000 calls.
fn nanos_per_call(mut op: impl FnMut()) -> f64 {
    const CALLS: u32 = 2_000;
    median(
        (0..RUNS)
            .map(|_| {
                let started = std::time::Instant::now();
                for _ in 0..CALLS {
                    op();
                }
                started.elapsed().as_nanos() as f64 / f64::from(CALLS)
            })
            .collect(),
    )
}

/// The server's CPU per challenge and per redemption (all of it in-process: signing and
/// checking HMACs and one SHA-256; the redemption's one conditional write is in "Capacity per
/// request"), and the client's hashes at the default difficulty. Build it optimized:
/// `cargo test --profile cpu-bench -p group-buy-tests --test bench -- --ignored --nocapture pass_cpu`.
#[test]
#[ignore = "a benchmark: run with --ignored (scripts/bench.sh)"]
fn pass_cpu_on_the_server_and_hashes_on_the_client() {
    use group_buy::configuration::VisitorPassSettings;
    use group_buy::http::visitor_pass::{VisitorPasses, solves};
    use group_buy::keys::ServerKey;
    const DIFFICULTY: u32 = 18;
    let rotated = group_buy::configuration::KeyMaterial {
        pseudonym: group_buy::configuration::Secret::new("bench key"),
        rotating: ["v2", "v1"]
            .map(|id| {
                (
                    id.to_owned(),
                    group_buy::configuration::Secret::new("bench key"),
                )
            })
            .into(),
    };
    let passes = VisitorPasses::new(
        &VisitorPassSettings {
            difficulty: DIFFICULTY,
            lifetime: std::time::Duration::from_secs(30 * 24 * 3600),
        },
        &ServerKey::new(&rotated),
    );
    let now = chrono::Utc::now().timestamp();
    let solve = |salt: &str| {
        (0u64..)
            .find(|n| solves(salt, &n.to_string(), DIFFICULTY))
            .unwrap_or_default()
    };
    // The client: hashes until a solution, for 40 challenges.
    let started = std::time::Instant::now();
    let mut hashes = Vec::new();
    let mut solved = None;
    for _ in 0..40 {
        let challenge = passes.challenge(now).expect("a challenge");
        let nonce = solve(&challenge.salt);
        hashes.push((nonce + 1) as f64);
        solved = Some((challenge.token, nonce.to_string()));
    }
    let per_hash = started.elapsed().as_nanos() as f64 / hashes.iter().sum::<f64>();
    let (token, nonce) = solved.expect("solved");
    let pass = passes.issue(now).expect("a pass").token;

    let challenge = nanos_per_call(|| {
        passes.challenge(now).expect("a challenge");
    });
    let check = nanos_per_call(|| {
        passes.check_solution(&token, &nonce, now).expect("solved");
    });
    let issue = nanos_per_call(|| {
        passes.issue(now).expect("a pass");
    });
    let verify = nanos_per_call(|| {
        passes.verify(&pass, now).expect("valid");
    });
    println!("\n| work | median |");
    println!("|---|---|");
    println!("| issue a challenge (server) | {:.1} µs |", challenge / 1e3);
    println!("| check a solution (server) | {:.1} µs |", check / 1e3);
    println!("| sign a pass (server) | {:.1} µs |", issue / 1e3);
    println!(
        "| redemption's CPU: check + sign (server) | {:.1} µs |",
        (check + issue) / 1e3
    );
    println!(
        "| verify a pass on a request (server) | {:.1} µs |",
        verify / 1e3
    );
    println!(
        "| client hashes per challenge at difficulty {DIFFICULTY} | {:.0} (median of 40; expected 2^{DIFFICULTY} = {}) |",
        median(hashes.clone()),
        1u64 << DIFFICULTY
    );
    println!(
        "| client time per challenge, one core, this build | {:.0} ms (mean of 40 at {:.0} ns per hash) |",
        per_hash * hashes.iter().sum::<f64>() / hashes.len() as f64 / 1e6,
        per_hash
    );
}

/// The draw of `DRAW_BENCH_ENTRIES` entries (default 100,000): its time, DynamoDB calls and
/// capacity units, as one run of the scheduled function would spend them. The entries are
/// written straight into their shards (the bench is about the draw, not the entries).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: scripts/bench.sh"]
async fn draw_of_a_hundred_thousand_entries() {
    use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
    use futures::StreamExt;
    use group_buy::deadline::Deadline;
    use group_buy::domain::draw::{DRAW_SHARDS, entry_shard};
    use group_buy::domain::{Handle, Slug, Timestamp};
    use group_buy::store::DrawRun;
    use group_buy::table::layout::{DRAW_SHARD_SK, draw_entry_sk, draw_shard_pk};
    use std::time::{Duration, Instant};

    let entries: usize = std::env::var("DRAW_BENCH_ENTRIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let (winners, waitlist) = (1_000u32, 10_000u32);
    let app = spawn_app().await;
    let draw_at = (chrono::Utc::now() + chrono::Duration::seconds(3))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let published = app
        .published(
            "big-draw",
            json!({"allocation": "draw", "maxParticipants": winners,
                   "waitlistLimit": waitlist, "drawAt": draw_at}),
        )
        .await;
    assert_eq!(published["status"], "published");
    let now = Timestamp::now().to_string();
    let mut per_shard = vec![0u32; DRAW_SHARDS as usize];
    let requests: Vec<WriteRequest> = (0..entries)
        .map(|i| {
            let ticket = format!("t{i:07}");
            let shard = entry_shard(&ticket);
            per_shard[shard as usize] += 1;
            let s = |v: String| AttributeValue::S(v);
            let item = [
                ("PK", s(draw_shard_pk(HANDLE, "big-draw", shard))),
                ("SK", s(draw_entry_sk(&ticket))),
                ("ticket", s(ticket)),
                ("quantity", AttributeValue::N("1".into())),
                ("enteredAt", s(now.clone())),
                ("updatedAt", s(now.clone())),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .expect("put");
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    let started = Instant::now();
    let batches: Vec<Vec<WriteRequest>> = requests.chunks(25).map(<[_]>::to_vec).collect();
    futures::stream::iter(batches)
        .for_each_concurrent(8, |batch| async {
            let mut batch = batch;
            loop {
                let out = app
                    .dynamodb
                    .batch_write_item()
                    .request_items(&app.table, batch)
                    .send()
                    .await
                    .expect("batch write");
                match out.unprocessed_items.and_then(|mut u| u.remove(&app.table)) {
                    Some(rest) if !rest.is_empty() => batch = rest,
                    _ => break,
                }
            }
        })
        .await;
    for (shard, count) in per_shard.iter().enumerate() {
        app.dynamodb
            .update_item()
            .table_name(&app.table)
            .key(
                "PK",
                AttributeValue::S(draw_shard_pk(HANDLE, "big-draw", shard as u32)),
            )
            .key("SK", AttributeValue::S(DRAW_SHARD_SK.into()))
            .update_expression("SET entryCount = :n")
            .expression_attribute_values(":n", AttributeValue::N(count.to_string()))
            .send()
            .await
            .expect("shard count");
    }
    println!(
        "\n{entries} entries written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (handle, slug) = (
        Handle::parse(HANDLE).expect("h"),
        Slug::parse("big-draw").expect("s"),
    );
    let gb = app
        .app
        .store
        .get(&handle, &slug)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(
        gb.draw.as_ref().and_then(|d| d.entry_count),
        Some(entries as u32)
    );
    let started = Instant::now();
    let (run, usage) = measure(app.app.store.run_draw(
        &gb,
        Timestamp::now(),
        Deadline::after(Duration::from_secs(15 * 60)),
        "bench",
        "bench",
    ))
    .await;
    let took = started.elapsed();
    assert!(matches!(run.expect("draw"), DrawRun::Drawn(_)));
    let view = app.get("big-draw", "").await.body;
    assert_eq!(view["participantCount"], winners);
    assert_eq!(view["waitlistCount"], waitlist);
    println!(
        "\nThe draw of {entries} entries ({winners} winners, {waitlist} waitlisted), one run, DynamoDB Local\n"
    );
    println!("| entries | time | DynamoDB calls | capacity units | of a 15-minute run |");
    println!("|---|---|---|---|---|");
    println!(
        "| {entries} | {:.1} s | {} | {:.0} | {:.1} % |",
        took.as_secs_f64(),
        usage.calls,
        usage.capacity_units,
        took.as_secs_f64() / 9.0
    );
}

/// What keeping the campaign statistics costs, off the request path: the stream consumer's
/// DynamoDB calls and capacity per registration and per withdrawal (each is an interest record
/// and a tally record on the stream), and for the redelivery of an already counted batch.
#[tokio::test]
#[ignore = "a benchmark: scripts/bench.sh"]
async fn statistics_per_registration_on_the_stream() {
    let app = group_buy_tests::spawn_app_with_events().await;
    app.published("stats-bench", json!({})).await;
    let visitors = app.visitors(RUNS).await;
    for visitor in &visitors {
        assert_eq!(app.register("stats-bench", visitor, None).await.status, 201);
    }
    let registered = group_buy_tests::stream::stream_records(&app).await;
    for visitor in &visitors {
        assert_eq!(app.withdraw("stats-bench", visitor).await.status, 204);
    }
    let all = group_buy_tests::stream::stream_records(&app).await;
    let withdrawn = &all[registered.len()..];
    let consume = |records: &[group_buy::events::ChangeRecord]| {
        let records = records.to_vec();
        let store = app.app.store.clone();
        async move {
            let (recorded, usage) =
                measure(group_buy::events::record_stats(&records, &store)).await;
            assert_eq!(recorded.failure, None);
            usage
        }
    };
    let per = |usage: DynamoUsage| {
        (
            usage.calls as f64 / RUNS as f64,
            usage.capacity_units / RUNS as f64,
        )
    };
    // The records before the first registration (the create and the publish) count nothing.
    let first = consume(&registered).await;
    let second = consume(withdrawn).await;
    let again = consume(&all).await;
    println!("\nThe statistics' cost on the stream consumer, per visitor ({RUNS} visitors)\n");
    println!("| records | calls | capacity units |");
    println!("|---|---|---|");
    for (name, (calls, capacity)) in [
        (
            "a registration (interest inserted, tally moved)",
            per(first),
        ),
        ("a withdrawal (interest deleted, tally moved)", per(second)),
        ("both again, redelivered", per(again)),
    ] {
        println!("| {name} | {calls:.1} | {capacity:.1} |");
    }
}
