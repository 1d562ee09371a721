//! The launch load test's ceiling (`scripts/bench-launch.sh`, docs/benchmarks.md): first
//! registrations of fresh visitors on one published group-buy, each the store's own
//! registration write (`Store::write_interest` with `InterestWrite::Register` and the
//! visitor's daily limit rider: the one transaction `register-interest` commits) with no
//! function around it, `concurrency` at a time, each worker one write after the other. A
//! refusal is handled as the function handles it: the tally it returns decides the threshold
//! edge again, a transaction conflict backs off and tries again. A write left without an
//! answer (the SDK's time limits, DynamoDB Local's own fault) is tried again as the visitor
//! of a 503 would, and its registration counted by what the retry finds, so that the counts
//! can be checked exactly whatever happened. What it costs DynamoDB Local to commit them is
//! the ceiling the sandboxes are measured against. With `draw`, each is instead the store's
//! own entry write (`Store::write_entry` with `EntryWrite::Enter` and the same rider: what
//! `register-interest` commits on a draw campaign before its draw).

use group_buy::domain::daily_limit::{DailyLimit, INTEREST_WRITES};
use group_buy::domain::{Handle, Slug, Tally, Timestamp};
use group_buy::keys::ServerKey;
use group_buy::store::{
    DrawEntry, EntryWrite, INTEREST_ATTEMPTS, InterestRecord, InterestSnapshot, InterestWrite,
    Layout, Riders, Store, StoreError, back_off,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Quantities 1 to this, in turn, as the launch load test's sandboxes send them.
const MAX_QUANTITY: u32 = 3;

/// What to run.
pub struct Load {
    pub handle: Handle,
    pub slug: Slug,
    pub registrations: u32,
    pub concurrency: u32,
    /// The visitors' daily limit of interest writes, as the function counts it.
    pub daily_limit: u32,
    /// Derives visitor keys and pseudonyms as the function does.
    pub server_key: ServerKey,
    /// Entries in a draw instead of first-come registrations.
    pub draw: bool,
}

/// How the registrations went. `latenciesMs` is each committed registration's, from its first
/// attempt to its commit.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub committed: u64,
    pub units: u64,
    pub units_sent: u64,
    /// Registrations that failed, by why.
    pub errors: BTreeMap<String, u64>,
    /// Writes tried again because the threshold edge was guessed wrong.
    pub edge_retries: u64,
    /// Writes tried again after a transaction conflict.
    pub conflicts: u64,
    /// Writes left without an answer, and tried again.
    pub unanswered: u64,
    /// Registrations whose retry found them written by an unanswered write (in `committed`).
    pub found_written: u64,
    pub seconds: f64,
    pub latencies_ms: Vec<f64>,
}

impl Outcome {
    fn add(&mut self, other: Self) {
        self.committed += other.committed;
        self.units += other.units;
        self.units_sent += other.units_sent;
        for (why, count) in other.errors {
            *self.errors.entry(why).or_default() += count;
        }
        self.edge_retries += other.edge_retries;
        self.conflicts += other.conflicts;
        self.unanswered += other.unanswered;
        self.found_written += other.found_written;
        self.latencies_ms.extend(other.latencies_ms);
    }

    fn failed(&mut self, why: String) {
        *self.errors.entry(why).or_default() += 1;
    }

    /// Registrations committed per second, median and 99th percentile latency (nearest
    /// rank) and the slowest, in ms.
    pub fn figures(&self) -> (f64, f64, f64, f64) {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = |p: f64| -> f64 {
            let n = sorted.len();
            if n == 0 {
                return f64::NAN;
            }
            let at = ((p / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1;
            sorted[at]
        };
        (
            self.committed as f64 / self.seconds,
            rank(50.0),
            rank(99.0),
            rank(100.0),
        )
    }
}

/// One worker: registrations `first`, `first + step`, ... one after the other.
async fn worker(store: Store, load: Arc<Load>, first: u32, step: u32, run: u64) -> Outcome {
    let mut outcome = Outcome::default();
    for i in (first..load.registrations).step_by(step as usize) {
        let quantity = 1 + i % MAX_QUANTITY;
        outcome.units_sent += u64::from(quantity);
        let visitor = load
            .server_key
            .visitor_key(&format!("anon:launch-ceiling-{run:x}-{i}"));
        let participant =
            load.server_key
                .participant(load.handle.as_str(), load.slug.as_str(), &visitor);
        let began = Instant::now();
        let written = match load.draw {
            true => {
                enter(
                    &store,
                    &load,
                    &visitor,
                    &participant,
                    quantity,
                    &mut outcome,
                )
                .await
            }
            false => {
                register(
                    &store,
                    &load,
                    &visitor,
                    &participant,
                    quantity,
                    &mut outcome,
                )
                .await
            }
        };
        match written {
            Ok(written) => {
                outcome.found_written += u64::from(written == Written::Before);
                outcome
                    .latencies_ms
                    .push(began.elapsed().as_secs_f64() * 1000.0);
                outcome.committed += 1;
                outcome.units += u64::from(quantity);
            }
            Err(why) => outcome.failed(why),
        }
    }
    outcome
}

/// Which attempt of a registration wrote it.
#[derive(Debug, PartialEq, Eq)]
enum Written {
    Now,
    /// An attempt left without an answer: its retry found the interest.
    Before,
}

/// What rides along every write of `visitor`, as the function sends it: the visitor's daily
/// limit of interest writes (entries included).
fn riders(load: &Load, visitor: &str, now: Timestamp) -> Riders {
    Riders {
        limit: Some(DailyLimit::new(
            INTEREST_WRITES,
            visitor.to_owned(),
            load.daily_limit,
            now,
        )),
        idempotency: None,
    }
}

/// One first registration, tried until it is written or fails as the function would answer.
async fn register(
    store: &Store,
    load: &Load,
    visitor: &str,
    participant: &str,
    quantity: u32,
    outcome: &mut Outcome,
) -> Result<Written, String> {
    let mut meets_threshold = false;
    for attempt in 0..INTEREST_ATTEMPTS {
        let now = Timestamp::now();
        let record = InterestRecord {
            participant: participant.to_owned(),
            quantity,
            created_at: now,
            updated_at: now,
        };
        let riders = riders(load, visitor, now);
        let write = InterestWrite::Register {
            record: &record,
            meets_threshold,
        };
        let refused = match store
            .write_interest(&load.handle, &load.slug, participant, write, now, &riders)
            .await
        {
            Ok(()) => return Ok(Written::Now),
            Err(e) => e,
        };
        match refused {
            StoreError::ConditionFailed(checks) => {
                let mut found = InterestSnapshot::default();
                found
                    .learn_from(checks, Layout::INTEREST)
                    .map_err(|e| e.to_string())?;
                // The visitor's own interest: only an unanswered attempt can have written it.
                if found.interest.is_some() {
                    return Ok(Written::Before);
                }
                // Open, below the cap, the quantity allowed: only the edge can have been
                // guessed wrong, and the tally it returned tells which side is right.
                let edge = found
                    .tally
                    .as_ref()
                    .map(Tally::next_participant_meets_threshold);
                match edge {
                    Some(meets) if meets != meets_threshold => {
                        meets_threshold = meets;
                        outcome.edge_retries += 1;
                    }
                    _ => return Err("refused: not open for this registration".into()),
                }
            }
            StoreError::TransactionConflict => {
                outcome.conflicts += 1;
                back_off(attempt).await;
            }
            StoreError::Unavailable(why) => {
                eprintln!("gharart-operator: no answer, trying again: {why}");
                outcome.unanswered += 1;
                back_off(attempt).await;
            }
            other => return Err(other.to_string()),
        }
    }
    Err("attempts exhausted".into())
}

/// One entry in a draw, tried until it is written or fails as the function would answer.
async fn enter(
    store: &Store,
    load: &Load,
    visitor: &str,
    ticket: &str,
    quantity: u32,
    outcome: &mut Outcome,
) -> Result<Written, String> {
    for attempt in 0..INTEREST_ATTEMPTS {
        let now = Timestamp::now();
        let entry = DrawEntry {
            ticket: ticket.to_owned(),
            quantity,
            entered_at: now,
            updated_at: now,
            result: None,
        };
        let riders = riders(load, visitor, now);
        let write = EntryWrite::Enter(&entry);
        match store
            .write_entry(&load.handle, &load.slug, write, now, &riders)
            .await
        {
            Ok(()) => return Ok(Written::Now),
            // Refused: only an unanswered attempt can have written the visitor's entry.
            Err(StoreError::ConditionFailed(_)) => {
                let (_, found) = store
                    .entry_snapshot(&load.handle, &load.slug, ticket)
                    .await
                    .map_err(|e| e.to_string())?;
                return match found {
                    Some(_) => Ok(Written::Before),
                    None => Err("refused: not open for this entry".into()),
                };
            }
            Err(StoreError::TransactionConflict) => {
                outcome.conflicts += 1;
                back_off(attempt).await;
            }
            Err(StoreError::Unavailable(why)) => {
                eprintln!("gharart-operator: no answer, trying again: {why}");
                outcome.unanswered += 1;
                back_off(attempt).await;
            }
            Err(other) => return Err(other.to_string()),
        }
    }
    Err("attempts exhausted".into())
}

/// Runs `load` and says how it went.
pub async fn run(store: &Store, load: Load) -> Result<Outcome, String> {
    if load.registrations == 0 || load.concurrency == 0 {
        return Err("--registrations and --concurrency must be at least 1".into());
    }
    // Visitors of this run alone: a second run on the same group-buy registers new ones.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let load = Arc::new(load);
    let workers = load.concurrency.min(load.registrations);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for first in 0..workers {
        tasks.spawn(worker(
            store.clone(),
            Arc::clone(&load),
            first,
            workers,
            run,
        ));
    }
    let mut outcome = Outcome::default();
    while let Some(done) = tasks.join_next().await {
        outcome.add(done.map_err(|e| format!("a worker stopped: {e}"))?);
    }
    outcome.seconds = started.elapsed().as_secs_f64();
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_nearest_rank() {
        let outcome = Outcome {
            committed: 100,
            seconds: 2.0,
            latencies_ms: (1..=100).rev().map(f64::from).collect(),
            ..Outcome::default()
        };
        assert_eq!(outcome.figures(), (50.0, 50.0, 99.0, 100.0));
    }
}
