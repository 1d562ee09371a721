//! The scheduled expiry: when a published or paused group-buy's `closesAt` passes, it closes
//! as fulfilled if the threshold is met, else as expired. A function runs this every few
//! minutes (`template.yaml`, `Schedule`); until it does, the admin rollup flags the group-buy
//! `DEADLINE_PASSED`, and registration already refuses it (`DEADLINE_PASSED`).
//!
//! The same run gives the closing-soon notice: an open group-buy whose deadline is less than
//! 24 h away gets `closingSoonFor` on its tally, once per deadline, which the stream turns
//! into `GroupBuyClosingSoon` (`events`). And it gives the waitlist items of group-buys closed
//! since their expiry (`store::retirement`).

use crate::aws::function_dynamodb_client;
use crate::call_log::as_function;
use crate::configuration::TableSettings;
use crate::deadline::Deadline;
use crate::domain::{
    Action, Decision, GroupBuy, Handle, HistoryEntry, Slug, Timestamp, Transition,
};
use crate::store::decide_and_write::{
    Contended, DecideAndWrite, Decided, Ended, WriteOutcome, decide_and_write,
};
use crate::store::{DrawRun, DueKey, Riders, Store, StoreError};
use crate::table::layout::INDEX_SHARDS;
use crate::telemetry::{self, BusinessMetric};
use lambda_http::{Error, LambdaEvent, service_fn};
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// Keys read per page of the deadline index.
pub const BATCH: i32 = 100;
/// Re-reads after a lost race, per group-buy.
const ATTEMPTS: usize = 5;
/// No group-buy is started with less time left than this: one read and one transaction,
/// each bounded by the client's attempt timeout.
const TIME_PER_GROUP_BUY: Duration = Duration::from_secs(5);
const ACTOR: &str = "scheduler";
/// How long before its deadline a group-buy gets the closing-soon notice.
pub const CLOSING_SOON_NOTICE: Duration = Duration::from_secs(24 * 3600);
/// The Lambda binary, as the call log and the metrics name it.
pub const FUNCTION: &str = "expire-group-buys";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpiryRun {
    /// Due group-buys looked at.
    pub due: usize,
    pub closed: usize,
    /// Group-buys that could not be closed this run (logged one by one); the next run tries
    /// them again, since they stay in the deadline index.
    pub failed: usize,
    /// Closing-soon notices given.
    pub closing_soon: usize,
    /// Closing-soon notices that could not be written (logged); the next run tries again.
    pub closing_soon_failed: usize,
    /// Closed group-buys whose waitlist items were given their expiry.
    pub retired: usize,
    /// Retirements that failed (logged); the next run tries them again.
    pub retire_failed: usize,
    /// Draws finished (or found finished, or cancelled) this run.
    pub drawn: usize,
    /// Draws that failed or did not finish (logged); the next run resumes them.
    pub draw_failed: usize,
    /// False when the run stopped for lack of time with due group-buys (or notices) left.
    pub complete: bool,
}

/// Closes every group-buy due at `now`, each by the lifecycle rules and one conditional
/// write, exactly like an owner's close; `run_id` is recorded in the history. It pages
/// through the deadline index while `deadline` leaves time, and one group-buy that fails
/// (unreadable, refused, DynamoDB errors) is counted and logged without stopping the others.
/// Only a failure to read the index itself fails the run.
pub async fn expire_due(
    store: &Store,
    now: Timestamp,
    run_id: &str,
    deadline: Deadline,
) -> Result<ExpiryRun, StoreError> {
    as_function(FUNCTION, async {
        let mut run = ExpiryRun::default();
        // Draws first: a draw campaign whose deadline is also due closes on its drawn
        // participants (its close waits while the draw is pending).
        if !run_draws(store, now, run_id, deadline, &mut run).await? {
            return Ok(run);
        }
        let mut start = None;
        loop {
            let page = store.due_keys(now, BATCH, start).await?;
            for due in &page.items {
                if deadline.too_close_for(TIME_PER_GROUP_BUY) {
                    return Ok(run);
                }
                run.due += 1;
                match expire_one(store, due, now, run_id).await {
                    Ok(true) => run.closed += 1,
                    Ok(false) => {}
                    Err(e) => {
                        run.failed += 1;
                        tracing::error!(runId = run_id, key = %due.key, error = %e, "group-buy not expired");
                    }
                }
            }
            // Closed group-buys leave the index; failed ones stay, so the run moves on
            // past them rather than starting over.
            match page.last_key {
                Some(key) if !deadline.too_close_for(TIME_PER_GROUP_BUY) => start = Some(key),
                Some(_) => return Ok(run),
                None => break,
            }
        }
        run.complete = notice_closing_soon(store, now, deadline, &mut run).await?
            && retire_waitlists(store, deadline, &mut run).await?;
        Ok(run)
    })
    .await
}

/// Runs every draw due at `now` (`Store::run_draw`), soonest first. False when time ran out
/// with draws left.
async fn run_draws(
    store: &Store,
    now: Timestamp,
    run_id: &str,
    deadline: Deadline,
    run: &mut ExpiryRun,
) -> Result<bool, StoreError> {
    let due = store.draws_due(now, BATCH).await?;
    for draw in &due {
        if deadline.too_close_for(TIME_PER_GROUP_BUY) {
            return Ok(false);
        }
        // Half of what is left at most, so that a large draw (resumed by the next run)
        // never keeps the deadlines of other campaigns from closing.
        let share = Deadline::after(deadline.remaining() / 2);
        let result = match store.get(&draw.handle, &draw.slug).await {
            Ok(Some(gb)) => store.run_draw(&gb, now, share, ACTOR, run_id).await,
            Ok(None) => Ok(DrawRun::Cancelled),
            Err(e) => Err(e),
        };
        match result {
            Ok(DrawRun::Unfinished) => {
                run.draw_failed += 1;
                tracing::warn!(runId = run_id, handle = %draw.handle, slug = %draw.slug, "draw not finished; the next run resumes it");
            }
            Ok(_) => run.drawn += 1,
            Err(e) => {
                run.draw_failed += 1;
                tracing::error!(runId = run_id, handle = %draw.handle, slug = %draw.slug, error = %e, "draw failed");
            }
        }
    }
    Ok(true)
}

/// Gives the closing-soon notice to every open group-buy whose deadline is within
/// `CLOSING_SOON_NOTICE` of `now` and has none for that deadline yet (one conditional write
/// each, so a second pass or a concurrent run gives none again). False when time ran out.
async fn notice_closing_soon(
    store: &Store,
    now: Timestamp,
    deadline: Deadline,
    run: &mut ExpiryRun,
) -> Result<bool, StoreError> {
    let until = now.plus_millis(i64::try_from(CLOSING_SOON_NOTICE.as_millis()).unwrap_or(i64::MAX));
    for shard in 0..INDEX_SHARDS {
        let mut start = None;
        loop {
            let page = store
                .closing_between(shard, now, until, BATCH, start)
                .await?;
            for entry in &page.items {
                if deadline.too_close_for(TIME_PER_GROUP_BUY) {
                    return Ok(false);
                }
                let Some(closes_at) = entry.closes_at() else {
                    run.closing_soon_failed += 1;
                    tracing::error!(key = %entry.key, "a deadline index entry without its deadline");
                    continue;
                };
                match store.mark_closing_soon(&entry.key, closes_at).await {
                    Ok(true) => run.closing_soon += 1,
                    Ok(false) => {}
                    Err(e) => {
                        run.closing_soon_failed += 1;
                        tracing::error!(key = %entry.key, error = %e, "closing-soon notice not given");
                    }
                }
            }
            match page.last_key {
                Some(key) => start = Some(key),
                None => break,
            }
        }
    }
    Ok(true)
}

/// Gives the waitlist items of closed group-buys their expiry, oldest close first, one
/// retirement at a time (each is all of one group-buy's waitlist). False when time ran out.
async fn retire_waitlists(
    store: &Store,
    deadline: Deadline,
    run: &mut ExpiryRun,
) -> Result<bool, StoreError> {
    loop {
        let due = store.retirements_due(BATCH).await?;
        if due.is_empty() {
            return Ok(true);
        }
        let failed_before = run.retire_failed;
        for retirement in &due {
            if deadline.too_close_for(TIME_PER_GROUP_BUY) {
                return Ok(false);
            }
            match store.retire(retirement, deadline).await {
                Ok(Some(_)) => run.retired += 1,
                // Out of time: the next run carries on with it.
                Ok(None) => return Ok(false),
                Err(e) => {
                    run.retire_failed += 1;
                    tracing::error!(
                        handle = %retirement.handle,
                        slug = %retirement.slug,
                        error = %e,
                        "waitlist not given its expiry"
                    );
                }
            }
        }
        // A page that only failed would be read again and again: left to the next run.
        if run.retire_failed - failed_before == due.len() {
            return Ok(true);
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum ExpiryError {
    #[error("not a group-buy key")]
    NotAGroupBuy,
    #[error(transparent)]
    Contended(#[from] Contended),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One due group-buy's expiry, as the decide-and-write loop runs it (the loop an owner's
/// close runs too).
struct Expiry<'a> {
    store: &'a Store,
    handle: Handle,
    slug: Slug,
    now: Timestamp,
    run_id: &'a str,
}

impl DecideAndWrite for Expiry<'_> {
    type State = Option<GroupBuy>;
    type Plan = (GroupBuy, GroupBuy, Transition, HistoryEntry);
    type Done = ();
    type Settled = ();
    type Error = ExpiryError;

    async fn read(&mut self) -> Result<Option<GroupBuy>, ExpiryError> {
        Ok(self.store.get(&self.handle, &self.slug).await?)
    }

    fn decide(
        &mut self,
        current: Option<GroupBuy>,
    ) -> Result<Decided<Self::Plan, ()>, ExpiryError> {
        // Gone, or no longer due (closed, or extended meanwhile): nothing to do.
        let Some(current) = current else {
            return Ok(Decided::Settled(()));
        };
        // The draw runs first (`run_draws`); a draw left unfinished is finished by a later
        // run before the close.
        if current.draw_pending() && current.ever_published() {
            return Ok(Decided::Settled(()));
        }
        let Decision::Apply(transition) = current.lifecycle().decide(Action::Expire, self.now)
        else {
            return Ok(Decided::Settled(()));
        };
        let next = current.after(&transition, self.now);
        let entry = HistoryEntry::applied(
            Action::Expire,
            &transition,
            next.version,
            ACTOR,
            self.run_id,
            self.now,
        );
        Ok(Decided::Write((current, next, transition, entry)))
    }

    async fn write(&mut self, plan: Self::Plan) -> Result<WriteOutcome<()>, ExpiryError> {
        let (current, next, transition, entry) = plan;
        match self
            .store
            .apply(
                &current,
                &next,
                &transition,
                &entry,
                None,
                &Riders::default(),
            )
            .await
        {
            Ok(()) => Ok(WriteOutcome::Done(())),
            Err(StoreError::ConditionFailed(_) | StoreError::TransactionConflict) => {
                Ok(WriteOutcome::LostRace)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Closes one due group-buy; false when there was nothing to do (gone, already closed).
async fn expire_one(
    store: &Store,
    due: &DueKey,
    now: Timestamp,
    run_id: &str,
) -> Result<bool, ExpiryError> {
    let (handle, slug) = due.group_buy().ok_or(ExpiryError::NotAGroupBuy)?;
    let mut expiry = Expiry {
        store,
        handle,
        slug,
        now,
        run_id,
    };
    let ended = decide_and_write(ATTEMPTS, &mut expiry).await?;
    Ok(matches!(ended, Ended::Written(())))
}

/// The whole `main` of the scheduled function.
pub async fn run() -> Result<(), Error> {
    telemetry::init();
    let settings = TableSettings::from_env()?;
    let store = &Store::new(
        function_dynamodb_client(settings.dynamodb_endpoint.as_deref())?,
        &settings.table_name,
    );
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = Deadline::from_lambda(event.context.deadline);
        let run = expire_due(store, Timestamp::now(), &event.context.request_id, deadline).await?;
        tracing::info!(
            requestId = %event.context.request_id,
            due = run.due,
            closed = run.closed,
            failed = run.failed,
            closingSoon = run.closing_soon,
            closingSoonFailed = run.closing_soon_failed,
            retired = run.retired,
            retireFailed = run.retire_failed,
            complete = run.complete,
            "expiry run"
        );
        telemetry::emit_function_metrics(
            FUNCTION,
            &[
                (BusinessMetric::ExpiryClosed, count(run.closed)),
                (
                    BusinessMetric::ExpiryFailures,
                    count(run.failed + run.closing_soon_failed + run.retire_failed),
                ),
            ],
        );
        Ok::<_, Error>(run)
    }))
    .await
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
