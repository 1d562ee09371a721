//! The scheduled expiry: when a published or paused group-buy's `closesAt` passes, it closes
//! as fulfilled if the threshold is met, else as expired. A function runs this every few
//! minutes (`template.yaml`, `Schedule`); until it does, the admin rollup flags the group-buy
//! `DEADLINE_PASSED`, and registration already refuses it (`DEADLINE_PASSED`).

use crate::app::App;
use crate::configuration::Settings;
use crate::domain::{Action, Decision, HistoryEntry, Timestamp};
use crate::store::{Riders, Store, StoreError};
use crate::telemetry;
use lambda_http::{Error, LambdaEvent, service_fn};
use serde::Serialize;
use serde_json::Value;

/// Group-buys closed per run at most; the rest wait for the next run.
pub const BATCH: i32 = 100;
/// Re-reads after a lost race, per group-buy.
const ATTEMPTS: usize = 5;
const ACTOR: &str = "scheduler";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpiryRun {
    pub due: usize,
    pub closed: usize,
}

/// Closes every group-buy due at `now` (up to `BATCH`), each by the lifecycle rules and one
/// conditional write, exactly like an owner's close; `run_id` is recorded in the history.
pub async fn expire_due(
    store: &Store,
    now: Timestamp,
    run_id: &str,
) -> Result<ExpiryRun, StoreError> {
    let due = store.due_for_expiry(now, BATCH).await?;
    let mut run = ExpiryRun {
        due: due.len(),
        closed: 0,
    };
    for listed in due {
        for _ in 0..ATTEMPTS {
            let Some(current) = store.get(&listed.handle, &listed.slug).await? else {
                break;
            };
            let Decision::Apply(transition) = current.lifecycle().decide(Action::Expire, now)
            else {
                break;
            };
            let next = current.after(&transition, now);
            let entry = HistoryEntry::applied(
                Action::Expire,
                &transition,
                next.version,
                ACTOR,
                run_id,
                now,
            );
            match store
                .apply(&current, &next, &transition, &entry, &Riders::default())
                .await
            {
                Ok(()) => {
                    run.closed += 1;
                    break;
                }
                Err(StoreError::ConditionFailed(_) | StoreError::TransactionConflict) => continue,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(run)
}

/// The whole `main` of the scheduled function.
pub async fn run() -> Result<(), Error> {
    telemetry::init();
    let app = App::new(Settings::from_env()?).await?;
    let store = &app.store;
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let run = expire_due(store, Timestamp::now(), &event.context.request_id).await?;
        tracing::info!(
            requestId = %event.context.request_id,
            due = run.due,
            closed = run.closed,
            "expiry run"
        );
        Ok::<_, Error>(run)
    }))
    .await
}
