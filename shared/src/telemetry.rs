//! Structured logs: one JSON line per request, with the DynamoDB calls it made. Tokens,
//! secrets, raw visitor ids and bodies are never passed to a log statement.

use serde_json::{Value, json};
use std::cell::Cell;
use std::future::Future;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the JSON subscriber once per process; later calls are no-ops.
///
/// `RUST_LOG` takes a level and `target=level` directives (`info,group_buy=debug`): a
/// `Targets` filter, not an `EnvFilter`, whose regular expressions (span and field filters,
/// never used here) would add 200 KB to every function.
pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .finish()
        .with(filter)
        .try_init();
}

/// What one request cost in DynamoDB.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DynamoUsage {
    pub calls: u32,
    pub capacity_units: f64,
}

tokio::task_local! {
    static USAGE: Cell<DynamoUsage>;
}

/// Runs `work`, counting the DynamoDB calls made while it runs. Nested measurements also
/// count towards the enclosing one (a benchmark measuring a whole request, say).
pub async fn measure<T>(work: impl Future<Output = T>) -> (T, DynamoUsage) {
    let (out, usage) = USAGE
        .scope(Cell::new(DynamoUsage::default()), async {
            let out = work.await;
            (out, USAGE.with(Cell::get))
        })
        .await;
    let _ = USAGE.try_with(|outer| {
        let mut total = outer.get();
        total.calls += usage.calls;
        total.capacity_units += usage.capacity_units;
        outer.set(total);
    });
    (out, usage)
}

/// Records one DynamoDB call; a no-op outside `measure` (operator tools, table set-up).
pub fn record_call(capacity_units: Option<f64>) {
    let _ = USAGE.try_with(|usage| {
        let mut u = usage.get();
        u.calls += 1;
        u.capacity_units += capacity_units.unwrap_or(0.0);
        usage.set(u);
    });
}

/// The fields of the per-request log line that handlers learn as they go.
#[derive(Clone, Debug, Default)]
pub struct RequestLog {
    pub handle: Option<String>,
    pub slug: Option<String>,
    pub caller: Option<&'static str>,
    /// The code of an error answered as a response (a keyed request's error is kept).
    pub error_code: Option<&'static str>,
    /// Business counters this request moved, emitted as CloudWatch metrics.
    pub metrics: Vec<(BusinessMetric, u32)>,
}

/// The business counters of API.md, emitted through the Embedded Metric Format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BusinessMetric {
    InterestsRegistered,
    InterestsWithdrawn,
    /// Visitors who joined a waitlist.
    WaitlistJoins,
    /// Waiting visitors who became participants when a place was freed.
    WaitlistPromotions,
    Transitions,
    RejectedCloses,
    /// Deadlines moved later by their owner.
    DeadlineExtensions,
    /// Group-buys the scheduled expiry closed in a run.
    ExpiryClosed,
    /// Group-buys the scheduled expiry could not close in a run (an alarm watches it).
    ExpiryFailures,
    /// Visitors who entered a draw.
    DrawEntries,
    /// Draws finished.
    Draws,
}

impl BusinessMetric {
    fn name(self) -> &'static str {
        match self {
            Self::InterestsRegistered => "InterestsRegistered",
            Self::InterestsWithdrawn => "InterestsWithdrawn",
            Self::WaitlistJoins => "WaitlistJoins",
            Self::WaitlistPromotions => "WaitlistPromotions",
            Self::Transitions => "Transitions",
            Self::RejectedCloses => "RejectedCloses",
            Self::DeadlineExtensions => "DeadlineExtensions",
            Self::ExpiryClosed => "ExpiryClosed",
            Self::ExpiryFailures => "ExpiryFailures",
            Self::DrawEntries => "DrawEntries",
            Self::Draws => "Draws",
        }
    }
}

const METRICS_NAMESPACE: &str = "Gharart/GroupBuys";

/// One Embedded Metric Format document for `metrics` under one dimension (`Route` for a
/// route's counters, `Function` for the scheduled expiry's): CloudWatch turns this log line
/// into metrics, with no API call from the function.
pub fn emf_document(
    (dimension, value): (&str, &str),
    metrics: &[(BusinessMetric, u32)],
    at_millis: i64,
) -> Value {
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(m, _)| json!({"Name": m.name(), "Unit": "Count"}))
        .collect();
    let mut document = json!({
        "_aws": {
            "Timestamp": at_millis,
            "CloudWatchMetrics": [{
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": [[dimension]],
                "Metrics": definitions,
            }],
        },
    });
    if let Value::Object(fields) = &mut document {
        fields.insert(dimension.into(), json!(value));
        for (metric, value) in metrics {
            fields.insert(metric.name().into(), json!(value));
        }
    }
    document
}

/// Writes the EMF document of a route's counters on its own stdout line, in a Lambda
/// runtime only (the tests and tools have no CloudWatch to read it).
pub fn emit_metrics(route: &str, metrics: &[(BusinessMetric, u32)]) {
    emit(("Route", route), metrics);
}

/// As `emit_metrics`, for a function that serves no route (the scheduled expiry); zero
/// counts are written too, so an alarm on them sees data every run.
pub fn emit_function_metrics(function: &str, metrics: &[(BusinessMetric, u32)]) {
    emit(("Function", function), metrics);
}

fn emit(dimension: (&str, &str), metrics: &[(BusinessMetric, u32)]) {
    if metrics.is_empty() || std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_none() {
        return;
    }
    let at = chrono::Utc::now().timestamp_millis();
    println!("{}", emf_document(dimension, metrics, at));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_documents_declare_what_they_carry() {
        let doc = emf_document(
            ("Route", "register-interest"),
            &[(BusinessMetric::InterestsRegistered, 1)],
            1_795_629_600_000,
        );
        assert_eq!(doc["InterestsRegistered"], 1);
        assert_eq!(doc["Route"], "register-interest");
        let declared = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], "Gharart/GroupBuys");
        assert_eq!(declared["Metrics"][0]["Name"], "InterestsRegistered");
        assert_eq!(declared["Dimensions"], json!([["Route"]]));
    }
}
