//! Campaign statistics from the change stream (API.md "Campaign statistics"): each record of
//! an interest or a tally becomes a change of its hour (`stats_change`, pure), which the store
//! keeps (`Store::count_in_hour`, `Store::set_hour_totals`). They are written here, by the
//! stream's consumer, so that a registration's own transaction stays as it is.
//!
//! | item | change | the hour of the write |
//! |---|---|---|
//! | `INT#…` | inserted (a registration, a promotion, a draw's winner) | `registered` + 1 |
//! | `INT#…` | deleted (a withdrawal) | `withdrawn` + 1 |
//! | `GB#TALLY` | `participantCount` or `unitCount` changed | `participants`, `units` set |

use super::delivery::{Delivery, Publisher, deliver_in_order};
use super::derive::{Image, image};
use super::{ChangeRecord, DeriveError, Operation};
use crate::call_log::as_function;
use crate::domain::Timestamp;
use crate::domain::stats::{Totals, hour_of};
use crate::store::{Counted, Store, StoreError};
use crate::table::layout::{INTEREST_PREFIX, TALLY_SK, group_buy_of};
use crate::table::{PARTITION_KEY, SORT_KEY};
use serde::Deserialize;
use serde_dynamo::AttributeValue;
use std::future::Future;

/// The Lambda binary that keeps the statistics (and publishes the lifecycle events).
pub const FUNCTION: &str = "group-buy-events";

/// A group-buy's handle and slug, as its keys hold them.
pub type GroupBuyKey<'a> = (&'a str, &'a str);

/// What one stream record changes in the statistics of its group-buy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsChange {
    Counted(Counted),
    Totals(Totals),
}

/// The tally's counts.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TallyCounts {
    participant_count: u32,
    unit_count: u64,
}

/// The change `record` makes to its group-buy's statistics, with the group-buy's handle and
/// slug; `None` for a record of anything else.
pub fn stats_change(
    record: &ChangeRecord,
) -> Result<Option<(GroupBuyKey<'_>, StatsChange)>, DeriveError> {
    let key = |name: &str| match record.keys.get(name) {
        Some(AttributeValue::S(value)) => Some(value.as_str()),
        _ => None,
    };
    let (Some(pk), Some(sk)) = (key(PARTITION_KEY), key(SORT_KEY)) else {
        return Ok(None);
    };
    let Some(group_buy) = group_buy_of(pk) else {
        return Ok(None);
    };
    let change = if sk.starts_with(INTEREST_PREFIX) {
        match record.operation {
            Operation::Insert => Some(StatsChange::Counted(Counted::Registered)),
            Operation::Remove => Some(StatsChange::Counted(Counted::Withdrawn)),
            // A new quantity: the tally's record carries the units.
            Operation::Modify => None,
        }
    } else if sk == TALLY_SK && record.operation == Operation::Modify {
        let old = image::<TallyCounts>(record, Image::Old)?;
        let new = image::<TallyCounts>(record, Image::New)?;
        match (old, new) {
            (Some(old), Some(new))
                if (old.participant_count, old.unit_count)
                    != (new.participant_count, new.unit_count) =>
            {
                Some(StatsChange::Totals(Totals {
                    participants: new.participant_count,
                    units: new.unit_count,
                }))
            }
            _ => None,
        }
    } else {
        None
    };
    Ok(change.map(|change| (group_buy, change)))
}

/// How far `record_stats` got: the first `recorded` records are in the statistics; the
/// `failure` stopped it at the next one.
#[derive(Debug, Default)]
pub struct Recorded {
    pub recorded: usize,
    pub failure: Option<String>,
}

/// Where the statistics are kept: the table (`Store`), or a test's stand-in.
pub trait StatsKeeper {
    /// Applies `change`, which stream record `record` of `group_buy` made in `hour`; applying
    /// the same record again must change nothing.
    fn apply(
        &self,
        group_buy: (&str, &str),
        hour: Timestamp,
        change: StatsChange,
        record: &ChangeRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl StatsKeeper for Store {
    async fn apply(
        &self,
        group_buy: (&str, &str),
        hour: Timestamp,
        change: StatsChange,
        record: &ChangeRecord,
    ) -> Result<(), StoreError> {
        match change {
            StatsChange::Counted(counted) => {
                self.count_in_hour(group_buy, hour, counted, &record.record_id)
                    .await
            }
            StatsChange::Totals(totals) => {
                self.set_hour_totals(group_buy, hour, totals, &record.sequence_number)
                    .await
            }
        }
    }
}

/// Applies `records`' changes to the statistics, in stream order, stopping at the first that
/// cannot be applied. Applying a record again changes nothing, so a caller retries from the
/// failed record (Lambda from its `batchItemFailures`, the local runner from its checkpoint).
pub async fn record_stats<K: StatsKeeper>(records: &[ChangeRecord], keeper: &K) -> Recorded {
    // Whoever runs it (the Lambda, the local runner, a test), these are the stream function's
    // calls, held to its role by the IAM check.
    as_function(FUNCTION, async {
        for (index, record) in records.iter().enumerate() {
            if let Err(why) = record_one(record, keeper).await {
                return Recorded {
                    recorded: index,
                    failure: Some(why),
                };
            }
        }
        Recorded {
            recorded: records.len(),
            failure: None,
        }
    })
    .await
}

/// What a consumer of the stream does with a batch, wherever it runs (the Lambda, the local
/// runner, the replay): the statistics of `records` first, then the events of those whose
/// statistics were kept, in order. A record whose statistics failed is not published either,
/// so a retry from it redoes both (each safe to repeat); the `Delivery` names it.
pub async fn consume_in_order<P: Publisher, K: StatsKeeper>(
    records: &[ChangeRecord],
    publisher: &P,
    keeper: &K,
    may_call: impl Fn() -> bool,
) -> Delivery {
    let stats = record_stats(records, keeper).await;
    let mut delivery = deliver_in_order(&records[..stats.recorded], publisher, may_call).await;
    if delivery.failure.is_none() {
        // Every record with statistics was delivered: the failure is the next one's.
        delivery.failure = stats.failure;
    }
    delivery
}

async fn record_one<K: StatsKeeper>(record: &ChangeRecord, keeper: &K) -> Result<(), String> {
    let Some((group_buy, change)) = stats_change(record).map_err(|e| e.to_string())? else {
        return Ok(());
    };
    keeper
        .apply(group_buy, hour_of(record.written_at), change, record)
        .await
        .map_err(|e| format!("statistics of record {}: {e}", record.sequence_number))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::layout::{group_buy_pk, interest_sk, stats_pk};

    fn record(
        pk: &str,
        sk: &str,
        operation: Operation,
        images: [Option<(u32, u64)>; 2],
    ) -> ChangeRecord {
        let item = |counts: Option<(u32, u64)>| {
            counts.map(|(participants, units)| {
                serde_dynamo::Item::from(std::collections::HashMap::from([
                    (
                        "participantCount".to_owned(),
                        AttributeValue::N(participants.to_string()),
                    ),
                    ("unitCount".to_owned(), AttributeValue::N(units.to_string())),
                ]))
            })
        };
        ChangeRecord {
            record_id: "r1".into(),
            sequence_number: "100".into(),
            operation,
            written_at: Timestamp::parse("2026-12-01T10:20:30.000Z").expect("time"),
            keys: serde_dynamo::Item::from(std::collections::HashMap::from([
                (PARTITION_KEY.to_owned(), AttributeValue::S(pk.into())),
                (SORT_KEY.to_owned(), AttributeValue::S(sk.into())),
            ])),
            old_image: item(images[0]),
            new_image: item(images[1]),
        }
    }

    #[test]
    fn an_interest_inserted_or_deleted_counts_and_a_new_quantity_does_not() {
        let pk = group_buy_pk("acme", "chair");
        let sk = interest_sk("p1");
        let change = |operation| {
            let r = record(&pk, &sk, operation, [None, None]);
            stats_change(&r)
                .expect("readable")
                .map(|(_, change)| change)
        };
        assert_eq!(
            change(Operation::Insert),
            Some(StatsChange::Counted(Counted::Registered))
        );
        assert_eq!(
            change(Operation::Remove),
            Some(StatsChange::Counted(Counted::Withdrawn))
        );
        assert_eq!(change(Operation::Modify), None);
    }

    #[test]
    fn a_tally_sets_the_totals_only_when_its_counts_move() {
        let pk = group_buy_pk("acme", "chair");
        let moved = record(
            &pk,
            TALLY_SK,
            Operation::Modify,
            [Some((1, 2)), Some((1, 5))],
        );
        assert_eq!(
            stats_change(&moved).expect("readable"),
            Some((
                ("acme", "chair"),
                StatsChange::Totals(Totals {
                    participants: 1,
                    units: 5
                })
            ))
        );
        let same = record(
            &pk,
            TALLY_SK,
            Operation::Modify,
            [Some((1, 2)), Some((1, 2))],
        );
        assert_eq!(stats_change(&same).expect("readable"), None);
        let created = record(&pk, TALLY_SK, Operation::Insert, [None, Some((0, 0))]);
        assert_eq!(stats_change(&created).expect("readable"), None);
    }

    #[test]
    fn the_statistics_own_writes_and_other_items_change_nothing() {
        let own = record(
            &stats_pk("acme", "chair"),
            "HOUR#x",
            Operation::Insert,
            [None, None],
        );
        assert_eq!(stats_change(&own).expect("readable"), None);
        let limit = record("LIMIT#x", "LIMIT", Operation::Insert, [None, None]);
        assert_eq!(stats_change(&limit).expect("readable"), None);
    }
}
