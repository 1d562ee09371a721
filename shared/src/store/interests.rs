//! Interest records and the group-buy tally they move. Each write is one transaction: the
//! interest item (index 0) and the tally item (index 1), each with the conditions of the rule
//! it enforces, and `ReturnValuesOnConditionCheckFailure` so that a refused write tells the
//! caller what was there without another read. The conditions compare the tally's own
//! attributes (cap, quantity bound, threshold edge), so a registration needs no read first.
//! A withdrawal hands the freed place to the first waiting visitor in the same transaction
//! (`store::waitlist` keeps the waitlist).

use super::rollup::rollup_update;
use super::waitlist::{
    HEAD_MOVES_FORWARD, SERVED, WaitlistEntry, passed_over_items, promotion_items, served_after,
};
use super::{
    BEFORE_DEADLINE, GroupBuyParts, ItemCheck, OPEN_FOR_REGISTRATION, Riders, Store, StoreError,
    THRESHOLD_EDGE, WAITLIST_COUNT, classify, decode, encode, n, observed, part_key, pk_of,
    put_if_absent, s,
};
use super::{Key, Page};
use crate::domain::rollup::RollupDelta;
use crate::domain::{GroupBuy, Handle, Slug, Tally, Timestamp};
use crate::table::layout::{
    DESCRIPTION_SK, GROUP_BUY_SK, INTEREST_PREFIX, TALLY_SK, interest_sk, waiter_sk,
};
use crate::table::{PARTITION_KEY, SORT_KEY};
use aws_sdk_dynamodb::operation::transact_get_items::TransactGetItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Get, ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure,
    TransactGetItem, TransactWriteItem, Update,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A visitor's interest as stored; the visitor is known only by the key in its sort key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterestRecord {
    /// The pseudonym owners see.
    pub participant: String,
    pub quantity: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One interest write, decided on what is known (a registration may be tried on nothing).
#[derive(Clone, Copy, Debug)]
pub enum InterestWrite<'a> {
    /// Insert if absent; one more participant, `quantity` more units; only while published,
    /// before the deadline, below the cap and within the quantity bound. `meets_threshold`:
    /// the write expects to be the one that meets the threshold (its condition checks it).
    Register {
        record: &'a InterestRecord,
        meets_threshold: bool,
    },
    /// Change the quantity if it is still `from`; units move by the difference; only while
    /// published, before the deadline and within the quantity bound.
    Change { from: u32, to: &'a InterestRecord },
    /// Delete if the quantity is still `quantity`; only while published or paused and before
    /// the deadline. The place goes to `successor`, the first waiting visitor whose quantity
    /// is allowed (their entry deleted if still as read, their interest put with `promotedAt`:
    /// participants unchanged, units by the difference); the entries ahead of it, which wait
    /// for more than is allowed, are `passed_over` (deleted if still as read). Without a
    /// successor the tally's condition checks that nobody else waits, and one participant and
    /// `quantity` units less are counted. `loses_threshold`: that write expects to be the one
    /// that goes below the threshold (its condition checks it).
    Withdraw {
        quantity: u32,
        loses_threshold: bool,
        successor: Option<&'a WaitlistEntry>,
        passed_over: &'a [WaitlistEntry],
    },
}

/// Interest writes retried after a lost race before giving up with 503: a race costs no
/// read (the refused transaction returns what it found), so attempts are cheap.
pub const INTEREST_ATTEMPTS: u32 = 12;

/// A random wait, longer with each `attempt`, before an interest write that met another
/// transaction is tried again.
pub async fn back_off(attempt: u32) {
    let ceiling = 10 * u64::from(attempt + 1);
    tokio::time::sleep(std::time::Duration::from_millis(fastrand::u64(1..=ceiling))).await;
}

const BELOW_CAP: &str =
    "(attribute_not_exists(#cap) OR attribute_type(#cap, :null) OR #participants < #cap)";
/// Nobody waits for a place: a free place belongs to the first waiting visitor, so no
/// registration may take it while anyone waits.
const NOBODY_WAITING: &str = "(attribute_not_exists(#waiting) OR #waiting = :zero)";
const WITHIN_QUANTITY: &str = "#maxQuantity >= :q";
/// Not a draw campaign before its draw: its places are given by the draw, not by registering.
const NO_DRAW_PENDING: &str = "attribute_not_exists(#drawPending)";

impl Store {
    /// The tally and the visitor's interest, strongly consistent, in one call.
    pub async fn interest_snapshot(
        &self,
        handle: &Handle,
        slug: &Slug,
        participant: &str,
    ) -> Result<InterestSnapshot, StoreError> {
        let pk = pk_of(handle, slug);
        let keys = vec![
            part_key(&pk, TALLY_SK),
            part_key(&pk, &interest_sk(participant)),
            part_key(&pk, &waiter_sk(participant)),
        ];
        let mut snapshot = InterestSnapshot::default();
        for item in self.get_items(keys, true).await? {
            match item.get(SORT_KEY) {
                Some(AttributeValue::S(sk)) if sk == TALLY_SK => {
                    snapshot.tally = Some(decode(item)?)
                }
                Some(AttributeValue::S(sk)) if sk.starts_with(INTEREST_PREFIX) => {
                    snapshot.interest = Some(decode(item)?)
                }
                _ => snapshot.waiting = Some(decode(item)?),
            }
        }
        Ok(snapshot)
    }

    /// Whether the visitor holds nothing here, neither an interest nor a place on the waitlist,
    /// read in isolation from transactions. `interest_snapshot` reads its items one by one
    /// (BatchGetItem is read-committed per item): caught in the middle of a promotion it can
    /// miss both the entry (already gone) and the interest (not yet there). A withdrawal asks
    /// this before it answers that there was nothing to withdraw. A transaction writing the
    /// items at that moment is `TransactionConflict`.
    pub async fn holds_nothing(
        &self,
        handle: &Handle,
        slug: &Slug,
        participant: &str,
    ) -> Result<bool, StoreError> {
        let pk = pk_of(handle, slug);
        let get = |sk: String| {
            Get::builder()
                .table_name(&self.table)
                .set_key(Some(part_key(&pk, &sk)))
                .projection_expression("#sk")
                .expression_attribute_names("#sk", SORT_KEY)
                .build()
                .map(|get| TransactGetItem::builder().get(get).build())
                .map_err(|e| StoreError::Corrupt(e.to_string()))
        };
        let sent = self
            .client
            .transact_get_items()
            .transact_items(get(interest_sk(participant))?)
            .transact_items(get(waiter_sk(participant))?)
            .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
            .send()
            .await;
        match observed(sent) {
            Ok(out) => Ok(out
                .responses()
                .iter()
                .all(|found| found.item().is_none_or(HashMap::is_empty))),
            Err(e) => match e.as_service_error() {
                Some(TransactGetItemsError::TransactionCanceledException(cancelled))
                    if cancelled
                        .cancellation_reasons()
                        .iter()
                        .any(|r| r.code() == Some("TransactionConflict")) =>
                {
                    Err(StoreError::TransactionConflict)
                }
                _ => Err(classify("TransactGetItems", e)),
            },
        }
    }

    /// The group-buy and the visitor's interest in it or place on its waitlist, strongly
    /// consistent, in one call.
    pub async fn group_buy_and_interest(
        &self,
        handle: &Handle,
        slug: &Slug,
        participant: &str,
    ) -> Result<(Option<GroupBuy>, InterestSnapshot), StoreError> {
        let pk = pk_of(handle, slug);
        let keys = [GROUP_BUY_SK, DESCRIPTION_SK, TALLY_SK]
            .into_iter()
            .map(|sk| part_key(&pk, sk))
            .chain([
                part_key(&pk, &interest_sk(participant)),
                part_key(&pk, &waiter_sk(participant)),
            ])
            .collect();
        let mut parts = GroupBuyParts::default();
        let mut held = InterestSnapshot::default();
        for item in self.get_items(keys, true).await? {
            let Some(item) = parts.take(item) else {
                continue;
            };
            match item.get(SORT_KEY) {
                Some(AttributeValue::S(sk)) if sk.starts_with(INTEREST_PREFIX) => {
                    held.interest = Some(decode(item)?)
                }
                _ => held.waiting = Some(decode(item)?),
            }
        }
        if let Some(tally) = &parts.tally {
            held.tally = Some(decode(tally.clone())?);
        }
        let mut found = parts.assemble()?;
        if let Some(gb) = &mut found {
            self.count_entries(gb).await?;
        }
        Ok((found, held))
    }

    /// Applies `write` to the visitor's interest and the group-buy's tally atomically.
    /// `ConditionFailed` carries both items as they were when a rule refused the write.
    pub async fn write_interest(
        &self,
        handle: &Handle,
        slug: &Slug,
        participant: &str,
        write: InterestWrite<'_>,
        now: Timestamp,
        riders: &Riders,
    ) -> Result<(), StoreError> {
        let pk = pk_of(handle, slug);
        let sk = interest_sk(participant);
        let tally = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(pk.clone()))
            .key(SORT_KEY, s(TALLY_SK))
            .expression_attribute_names("#units", "unitCount")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#closesAt", "closesAt")
            .expression_attribute_values(":published", s("published"))
            .expression_attribute_values(":null", s("NULL"))
            .expression_attribute_values(":now", s(now.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let built = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Corrupt(e.to_string());
        // The threshold is crossed by the write that moves the count across it, and only the
        // count at commit time says which write that is: the condition pins the count to the
        // side of the edge the write expects (`ROLLUP` counts `thresholdMet` exactly).
        let edge = |crosses: bool| if crosses { "=" } else { "<>" };
        // A withdrawal's promotion and passed-over entries, after the tally.
        let mut extra = Vec::new();
        let (interest_op, tally, delta) = match write {
            InterestWrite::Register {
                record,
                meets_threshold,
            } => {
                let mut item = encode(record)?;
                item.extend(part_key(&pk, &sk));
                let put = put_if_absent(
                    &self.table,
                    item,
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )?;
                let tally = tally
                    .update_expression(
                        "SET #participants = #participants + :one, #units = #units + :q",
                    )
                    .condition_expression(format!(
                        "{OPEN_FOR_REGISTRATION} AND {BELOW_CAP} AND {NOBODY_WAITING} AND {WITHIN_QUANTITY} AND {NO_DRAW_PENDING} AND #participants {} #edge",
                        edge(meets_threshold)
                    ))
                    .expression_attribute_names("#drawPending", "drawPending")
                    .expression_attribute_names("#cap", "maxParticipants")
                    .expression_attribute_names("#waiting", WAITLIST_COUNT)
                    .expression_attribute_values(":zero", n(0))
                    .expression_attribute_names("#maxQuantity", "maxQuantityPerParticipant")
                    .expression_attribute_names("#participants", "participantCount")
                    .expression_attribute_names("#edge", THRESHOLD_EDGE)
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":q", n(record.quantity));
                let delta = RollupDelta {
                    participants: 1,
                    units: i64::from(record.quantity),
                    threshold_met: i64::from(meets_threshold),
                    ..RollupDelta::default()
                };
                (put, tally, delta)
            }
            InterestWrite::Change { from, to } => {
                let update = Update::builder()
                    .table_name(&self.table)
                    .key(PARTITION_KEY, s(pk.clone()))
                    .key(SORT_KEY, s(sk))
                    .update_expression("SET #quantity = :to, #updatedAt = :updatedAt")
                    .condition_expression("#quantity = :from")
                    .expression_attribute_names("#quantity", "quantity")
                    .expression_attribute_names("#updatedAt", "updatedAt")
                    .expression_attribute_values(":to", n(to.quantity))
                    .expression_attribute_values(":from", n(from))
                    .expression_attribute_values(":updatedAt", s(to.updated_at.to_string()))
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build()
                    .map_err(built)?;
                let units = i64::from(to.quantity) - i64::from(from);
                let tally = tally
                    .update_expression("SET #units = #units + :delta")
                    .condition_expression(format!("{OPEN_FOR_REGISTRATION} AND {WITHIN_QUANTITY}"))
                    .expression_attribute_names("#maxQuantity", "maxQuantityPerParticipant")
                    .expression_attribute_values(":q", n(to.quantity))
                    .expression_attribute_values(":delta", n(units));
                let delta = RollupDelta {
                    units,
                    ..RollupDelta::default()
                };
                (
                    TransactWriteItem::builder().update(update).build(),
                    tally,
                    delta,
                )
            }
            InterestWrite::Withdraw {
                quantity,
                loses_threshold,
                successor,
                passed_over,
            } => {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .key(PARTITION_KEY, s(pk.clone()))
                    .key(SORT_KEY, s(sk))
                    .condition_expression("#quantity = :q")
                    .expression_attribute_names("#quantity", "quantity")
                    .expression_attribute_values(":q", n(quantity))
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build()
                    .map_err(built)?;
                let open = format!("#status IN (:published, :paused) AND {BEFORE_DEADLINE}");
                // The entries passed over wait for more than the bound allows (checked on the
                // tally as it is when this commits); they leave with this write.
                let mut tally = tally
                    .expression_attribute_names("#waiting", WAITLIST_COUNT)
                    .expression_attribute_values(":paused", s("paused"));
                let beyond_the_bound = match passed_over.iter().map(|e| e.quantity).min() {
                    Some(smallest) => {
                        tally = tally.expression_attribute_values(":smallest", n(smallest));
                        " AND #maxQuantity < :smallest"
                    }
                    None => "",
                };
                // The head moves to the greatest number removed (`Tally::waitlist_position`).
                let moves_head = match served_after(successor, passed_over) {
                    Some(served) => {
                        tally = tally
                            .expression_attribute_names("#maxQuantity", "maxQuantityPerParticipant")
                            .expression_attribute_names("#served", SERVED)
                            .expression_attribute_values(":served", n(served));
                        (", #served = :served", format!(" AND {HEAD_MOVES_FORWARD}"))
                    }
                    None => ("", String::new()),
                };
                let beyond_the_bound = format!("{beyond_the_bound}{}", moves_head.1);
                extra.extend(passed_over_items(&self.table, &pk, passed_over)?);
                match successor {
                    // The place goes to the successor: participants unchanged, so the
                    // threshold neither; units by the difference of the quantities.
                    Some(next) => {
                        extra.splice(0..0, promotion_items(&self.table, &pk, next, now)?);
                        let units = i64::from(next.quantity) - i64::from(quantity);
                        let tally = tally
                            .update_expression(format!(
                                "SET #units = #units + :delta, #waiting = #waiting - :left{}",
                                moves_head.0
                            ))
                            .condition_expression(format!(
                                "{open} AND #maxQuantity >= :promoted{beyond_the_bound}"
                            ))
                            .expression_attribute_values(":delta", n(units))
                            .expression_attribute_values(":left", n(passed_over.len() + 1))
                            .expression_attribute_values(":promoted", n(next.quantity));
                        let delta = RollupDelta {
                            units,
                            ..RollupDelta::default()
                        };
                        (
                            TransactWriteItem::builder().delete(delete).build(),
                            tally,
                            delta,
                        )
                    }
                    // Nobody waits but those passed over (the condition checks it): the place
                    // is freed.
                    None => {
                        let tally = tally
                            .update_expression(
                                format!(
                                    "SET #participants = #participants - :one, #units = #units - :q, #waiting = if_not_exists(#waiting, :zero) - :passed{}",
                                    moves_head.0
                                ),
                            )
                            .condition_expression(format!(
                                "{open} AND #participants {} #threshold AND {}{beyond_the_bound}",
                                edge(loses_threshold),
                                match passed_over.len() {
                                    0 => NOBODY_WAITING,
                                    _ => "#waiting = :passed",
                                }
                            ))
                            .expression_attribute_names("#participants", "participantCount")
                            .expression_attribute_names("#threshold", "minParticipants")
                            .expression_attribute_values(":one", n(1))
                            .expression_attribute_values(":zero", n(0))
                            .expression_attribute_values(":passed", n(passed_over.len()))
                            .expression_attribute_values(":q", n(quantity));
                        let delta = RollupDelta {
                            participants: -1,
                            units: -i64::from(quantity),
                            threshold_met: -i64::from(loses_threshold),
                            ..RollupDelta::default()
                        };
                        (
                            TransactWriteItem::builder().delete(delete).build(),
                            tally,
                            delta,
                        )
                    }
                }
            }
        };
        let tally = tally.build().map_err(built)?;
        let mut items = vec![
            interest_op,
            TransactWriteItem::builder().update(tally).build(),
        ];
        items.extend(extra);
        if let Some(rollup) = rollup_update(&self.table, &delta)? {
            items.push(TransactWriteItem::builder().update(rollup).build());
        }
        self.transact(items, riders).await
    }

    /// A group-buy's interests, in a stable (pseudonymous) order.
    pub async fn list_interests(
        &self,
        handle: &Handle,
        slug: &Slug,
        limit: i32,
        start: Option<Key>,
    ) -> Result<Page<InterestRecord>, StoreError> {
        let query = self
            .query()
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(":pk", s(pk_of(handle, slug)))
            .expression_attribute_values(":prefix", s(INTEREST_PREFIX))
            .limit(limit);
        self.page(query, start).await
    }
}

/// What an interest decision is made on: the tally, the visitor's interest and their place
/// on the waitlist (at most one of the two).
#[derive(Clone, Debug, Default)]
pub struct InterestSnapshot {
    pub tally: Option<Tally>,
    pub interest: Option<InterestRecord>,
    pub waiting: Option<WaitlistEntry>,
}

/// Where the items an interest decision reads sit in a write's transaction, so that a
/// refusal (`ReturnValuesOnConditionCheckFailure`) tells what they are now.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    interest: Option<usize>,
    tally: usize,
    waiting: Option<usize>,
}

impl Layout {
    /// `write_interest`: the interest, the tally, then (a withdrawal's) waitlist entries.
    pub const INTEREST: Self = Self {
        interest: Some(0),
        tally: 1,
        waiting: None,
    };
    /// `take_join_ordinal`: the tally alone.
    pub const ORDINAL: Self = Self {
        interest: None,
        tally: 0,
        waiting: None,
    };
    /// `join_waitlist`: the interest (a check), the tally, the visitor's entry, the queue.
    pub const JOIN: Self = Self {
        interest: Some(0),
        tally: 1,
        waiting: Some(2),
    };
    /// `change_waiting_quantity` and `leave_waitlist`: the visitor's entry, the tally, the
    /// queue item.
    pub const WAITING: Self = Self {
        interest: None,
        tally: 1,
        waiting: Some(0),
    };
}

/// What a refusal told.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Learned {
    /// The tally refused: it is now as the refusal found it.
    pub tally: bool,
    /// An item the layout does not name refused (a waitlist entry a withdrawal read).
    pub others: bool,
}

impl InterestSnapshot {
    /// Takes in what a refused transaction of `layout` found: each item where its condition
    /// failed, as it was (`None`: absent).
    pub fn learn_from(
        &mut self,
        checks: Vec<ItemCheck>,
        layout: Layout,
    ) -> Result<Learned, StoreError> {
        let mut learned = Learned::default();
        for (i, check) in checks.into_iter().enumerate() {
            let ItemCheck::Failed(item) = check else {
                continue;
            };
            if Some(i) == layout.interest {
                self.interest = item.map(decode).transpose()?;
            } else if i == layout.tally {
                self.tally = item.map(decode).transpose()?;
                learned.tally = true;
            } else if Some(i) == layout.waiting {
                self.waiting = item.map(decode).transpose()?;
            } else {
                learned.others = true;
            }
        }
        Ok(learned)
    }
}
