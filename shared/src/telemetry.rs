//! Structured logs: one JSON line per request, with the DynamoDB calls it made. Tokens,
//! secrets, raw visitor ids and bodies are never passed to a log statement.

use std::cell::Cell;
use std::future::Future;
use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber once per process; later calls are no-ops.
pub fn init() {
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_env_filter(filter)
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
}
