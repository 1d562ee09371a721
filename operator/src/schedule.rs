//! The deployed schedule, locally: every few seconds, the scheduled function's own code
//! (`group_buy::expiry::expire_due`: what is due closes, the closing-soon notices are given)
//! runs against DynamoDB Local, so that a deadline passing on a dev stack or in a test is
//! followed as it is on a deployed stage. One JSON line per run on stdout, as the function's
//! log line; a failed run is reported and the next one tries again, as the schedule would.

use group_buy::deadline::Deadline;
use group_buy::domain::Timestamp;
use group_buy::expiry::expire_due;
use group_buy::store::Store;
use serde_json::json;
use std::io::Write;
use std::time::Duration;
use tokio::time::{MissedTickBehavior, interval};

/// What one run may take, as the deployed function's timeout allows it.
const RUN_BUDGET: Duration = Duration::from_secs(50);

/// Runs the scheduled work every `every`, until the process is stopped.
pub async fn run(store: &Store, every: Duration) {
    let mut ticks = interval(every);
    // A run longer than the period is followed by the next at once, not by a burst.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let now = Timestamp::now();
        let run_id = format!("local-{now}");
        let deadline = Deadline::after(RUN_BUDGET);
        let line = match expire_due(store, now, &run_id, deadline).await {
            Ok(run) => json!({"runId": run_id, "run": run}),
            Err(e) => json!({"runId": run_id, "error": e.to_string()}),
        };
        // A closed stdout (the log file gone) must not stop the schedule.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}
