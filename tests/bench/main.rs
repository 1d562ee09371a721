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
