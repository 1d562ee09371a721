//! Publishing the events of stream records in stream order, and knowing where to resume.
//!
//! A stream is read in order per shard, and its reader checkpoints a position: everything
//! before it is done. So delivery stops at the first record that cannot be fully published
//! and reports that record; the caller resumes from it (Lambda: `batchItemFailures`, from
//! whose lowest sequence number it retries; the local runner: its checkpoint file). Events of
//! later records that went out in the same call are published again on the retry, with the
//! same `eventId`: delivery is at least once, and consumers deduplicate on `eventId`.

use super::{ChangeRecord, LifecycleEvent, derive};

/// PutEvents takes at most 10 entries per call.
pub const MAX_EVENTS_PER_CALL: usize = 10;

/// Where events go: the EventBridge bus, or the local events file.
pub trait Publisher {
    /// Publishes `events` (at most `MAX_EVENTS_PER_CALL`); per event, in order, whether it
    /// was accepted. `Err` when the call as a whole failed (nothing known to be accepted).
    fn publish(
        &self,
        events: &[LifecycleEvent],
    ) -> impl Future<Output = Result<Vec<Result<(), String>>, String>>;
}

/// How far a batch of records got.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Records delivered from the first on: every event of `records[..delivered]` was accepted.
    pub delivered: usize,
    /// Events accepted (some may belong to records after `delivered`).
    pub published: usize,
    /// Why `records[delivered]` was not delivered; `None` when every record was.
    pub failure: Option<String>,
}

/// Derives the events of `records` (in stream order) and publishes them, up to
/// `MAX_EVENTS_PER_CALL` per call, stopping at the first record that fails: unreadable
/// (`DeriveError`), an event of it refused, or no call started for it because `may_call`
/// said there is no time left for one (a Lambda near its timeout hands the rest back rather
/// than failing the whole batch).
pub async fn deliver_in_order<P: Publisher>(
    records: &[ChangeRecord],
    publisher: &P,
    may_call: impl Fn() -> bool,
) -> Delivery {
    let mut pending: Vec<(usize, LifecycleEvent)> = Vec::new();
    let mut unreadable = None;
    for (index, record) in records.iter().enumerate() {
        match derive(record) {
            Ok(events) => pending.extend(events.into_iter().map(|e| (index, e))),
            Err(e) => {
                unreadable = Some((index, e.to_string()));
                break;
            }
        }
    }
    let mut delivery = Delivery::default();
    for chunk in pending.chunks(MAX_EVENTS_PER_CALL) {
        if !may_call() {
            delivery.delivered = chunk.first().map_or(records.len(), |(record, _)| *record);
            delivery.failure = Some("no time left for another PutEvents call".into());
            return delivery;
        }
        let events: Vec<LifecycleEvent> = chunk.iter().map(|(_, e)| e.clone()).collect();
        let refused = match publisher.publish(&events).await {
            Ok(outcomes) => {
                delivery.published += outcomes.iter().filter(|o| o.is_ok()).count();
                // An answer shorter than the request leaves the rest unconfirmed.
                chunk
                    .iter()
                    .enumerate()
                    .find_map(|(i, (record, _))| match outcomes.get(i) {
                        Some(Ok(())) => None,
                        Some(Err(why)) => Some((*record, why.clone())),
                        None => Some((*record, "no answer for the event".to_owned())),
                    })
            }
            Err(why) => chunk.first().map(|(record, _)| (*record, why)),
        };
        if let Some((record, why)) = refused {
            delivery.delivered = record;
            delivery.failure = Some(why);
            return delivery;
        }
    }
    match unreadable {
        Some((record, why)) => {
            delivery.delivered = record;
            delivery.failure = Some(why);
        }
        None => delivery.delivered = records.len(),
    }
    delivery
}
