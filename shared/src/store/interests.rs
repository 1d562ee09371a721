//! Interest records and the group-buy counters they move. Each write is one transaction:
//! the interest item (index 0) and the group-buy item (index 1), each with the conditions of
//! the rule it enforces, and `ReturnValuesOnConditionCheckFailure` so that a refused write
//! tells the caller what was there without another read.

use super::rollup::rollup_update;
use super::{
    GROUP_BUY_SK, Item, ItemCheck, Riders, Store, StoreError, classify, decode, encode,
    group_buy_pk, n, observed, s,
};
use crate::domain::rollup::RollupDelta;
use crate::domain::{GroupBuy, Handle, Slug, Timestamp};
use crate::pagination::{Key, Page};
use crate::table::{PARTITION_KEY, SORT_KEY};
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, Put, ReturnConsumedCapacity,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use serde::{Deserialize, Serialize};

const INTEREST_PREFIX: &str = "INT#";
/// Unprocessed keys of a BatchGetItem are asked for again this many times at most.
const BATCH_GET_ATTEMPTS: usize = 3;

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

/// One interest write, decided on what was read.
#[derive(Clone, Copy, Debug)]
pub enum InterestWrite<'a> {
    /// Insert if absent; one more participant, `quantity` more units; only while published,
    /// before the deadline and below the cap.
    Register(&'a InterestRecord),
    /// Change the quantity if it is still `from`; units move by the difference; only while
    /// published and before the deadline.
    Change { from: u32, to: &'a InterestRecord },
    /// Delete if the quantity is still `quantity`; one participant and `quantity` units less;
    /// only while published or paused.
    Withdraw { quantity: u32 },
}

fn interest_sk(visitor_key: &str) -> String {
    format!("{INTEREST_PREFIX}{visitor_key}")
}

/// A literal, so that both conditions below are built from it at compile time.
macro_rules! before_deadline {
    () => {
        "(attribute_not_exists(#closesAt) OR attribute_type(#closesAt, :null) OR #closesAt > :now)"
    };
}
const BEFORE_DEADLINE: &str = before_deadline!();
const OPEN_FOR_REGISTRATION: &str = concat!("#status = :published AND ", before_deadline!());
const BELOW_CAP: &str =
    "(attribute_not_exists(#cap) OR attribute_type(#cap, :null) OR #participants < #cap)";

impl Store {
    /// The group-buy and the visitor's interest in it, strongly consistent, in one call.
    pub async fn interest_snapshot(
        &self,
        handle: &Handle,
        slug: &Slug,
        visitor_key: &str,
    ) -> Result<InterestSnapshot, StoreError> {
        let pk = group_buy_pk(handle, slug);
        let key = |sk: String| {
            Item::from([
                (PARTITION_KEY.to_owned(), s(pk.clone())),
                (SORT_KEY.to_owned(), s(sk)),
            ])
        };
        let mut wanted = KeysAndAttributes::builder()
            .keys(key(GROUP_BUY_SK.into()))
            .keys(key(interest_sk(visitor_key)))
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut snapshot = InterestSnapshot::default();
        for _ in 0..BATCH_GET_ATTEMPTS {
            let mut out = observed(
                self.client
                    .batch_get_item()
                    .request_items(&self.table, wanted)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await,
            )
            .map_err(|e| classify("BatchGetItem", e))?;
            for item in out
                .responses
                .as_mut()
                .and_then(|r| r.remove(&self.table))
                .unwrap_or_default()
            {
                match item.get(SORT_KEY) {
                    Some(AttributeValue::S(sk)) if sk == GROUP_BUY_SK => {
                        snapshot.group_buy = Some(decode(item)?)
                    }
                    _ => snapshot.interest = Some(decode(item)?),
                }
            }
            match out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .filter(|k| !k.keys().is_empty())
            {
                Some(rest) => wanted = rest,
                None => return Ok(snapshot),
            }
        }
        Err(StoreError::Unavailable(
            "BatchGetItem left keys unprocessed".into(),
        ))
    }

    /// Applies `write` to the visitor's interest and the group-buy's counters atomically.
    /// `ConditionFailed` carries both items as they were when a rule refused the write.
    pub async fn write_interest(
        &self,
        gb: &GroupBuy,
        visitor_key: &str,
        write: InterestWrite<'_>,
        now: Timestamp,
        riders: &Riders,
    ) -> Result<(), StoreError> {
        let pk = group_buy_pk(&gb.handle, &gb.slug);
        let sk = interest_sk(visitor_key);
        let counters = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(pk.clone()))
            .key(SORT_KEY, s(GROUP_BUY_SK))
            .expression_attribute_names("#units", "unitCount")
            .expression_attribute_names("#status", "status")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let open = |update: aws_sdk_dynamodb::types::builders::UpdateBuilder| {
            update
                .expression_attribute_names("#closesAt", "closesAt")
                .expression_attribute_values(":published", s("published"))
                .expression_attribute_values(":null", s("NULL"))
                .expression_attribute_values(":now", s(now.to_string()))
        };
        let built = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Corrupt(e.to_string());
        // The threshold is crossed by the write that moves the count across it, and only the
        // count at commit time says which write that is: the condition pins the count to the
        // side of the edge this decision assumed (`ROLLUP` counts `thresholdMet` exactly).
        let min = i64::from(gb.min_participants);
        let count = i64::from(gb.participant_count);
        let edge = |edge: i64| {
            let crosses = count == edge;
            let clause = if crosses {
                "#participants = :edge"
            } else {
                "#participants <> :edge"
            };
            (crosses, clause, n(edge))
        };
        let (interest_op, counters, delta) = match write {
            InterestWrite::Register(record) => {
                let mut item = encode(record)?;
                item.extend([
                    (PARTITION_KEY.to_owned(), s(pk.clone())),
                    (SORT_KEY.to_owned(), s(sk)),
                ]);
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", PARTITION_KEY)
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build()
                    .map_err(built)?;
                let (crosses, at_edge, edge_value) = edge(min - 1);
                let counters = open(counters)
                    .update_expression(
                        "SET #participants = #participants + :one, #units = #units + :q",
                    )
                    .condition_expression(format!(
                        "{OPEN_FOR_REGISTRATION} AND {BELOW_CAP} AND {at_edge}"
                    ))
                    .expression_attribute_names("#cap", "maxParticipants")
                    .expression_attribute_names("#participants", "participantCount")
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":q", n(record.quantity))
                    .expression_attribute_values(":edge", edge_value);
                let delta = RollupDelta {
                    participants: 1,
                    units: i64::from(record.quantity),
                    threshold_met: i64::from(crosses),
                    ..RollupDelta::default()
                };
                (
                    TransactWriteItem::builder().put(put).build(),
                    counters,
                    delta,
                )
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
                let counters = open(counters)
                    .update_expression("SET #units = #units + :delta")
                    .condition_expression(OPEN_FOR_REGISTRATION)
                    .expression_attribute_values(":delta", n(units));
                let delta = RollupDelta {
                    units,
                    ..RollupDelta::default()
                };
                (
                    TransactWriteItem::builder().update(update).build(),
                    counters,
                    delta,
                )
            }
            InterestWrite::Withdraw { quantity } => {
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
                let (crosses, at_edge, edge_value) = edge(min);
                let counters = open(counters)
                    .update_expression(
                        "SET #participants = #participants - :one, #units = #units - :q",
                    )
                    .condition_expression(format!(
                        "#status IN (:published, :paused) AND {BEFORE_DEADLINE} AND {at_edge}"
                    ))
                    .expression_attribute_names("#participants", "participantCount")
                    .expression_attribute_values(":paused", s("paused"))
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":q", n(quantity))
                    .expression_attribute_values(":edge", edge_value);
                let delta = RollupDelta {
                    participants: -1,
                    units: -i64::from(quantity),
                    threshold_met: -i64::from(crosses),
                    ..RollupDelta::default()
                };
                (
                    TransactWriteItem::builder().delete(delete).build(),
                    counters,
                    delta,
                )
            }
        };
        let counters = counters.build().map_err(built)?;
        let mut items = vec![
            interest_op,
            TransactWriteItem::builder().update(counters).build(),
        ];
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
            .expression_attribute_values(":pk", s(group_buy_pk(handle, slug)))
            .expression_attribute_values(":prefix", s(INTEREST_PREFIX))
            .limit(limit);
        self.page(query, start).await
    }
}

/// What an interest decision is made on: the group-buy and the visitor's interest.
#[derive(Clone, Debug, Default)]
pub struct InterestSnapshot {
    pub group_buy: Option<GroupBuy>,
    pub interest: Option<InterestRecord>,
}

impl InterestSnapshot {
    /// Takes in what a refused transaction found: the interest item (index 0) and the
    /// group-buy item (index 1), each where its condition failed.
    pub fn learn_from(&mut self, checks: Vec<ItemCheck>) -> Result<(), StoreError> {
        let mut checks = checks.into_iter();
        if let Some(ItemCheck::Failed(item)) = checks.next() {
            self.interest = item.map(decode).transpose()?;
        }
        if let Some(ItemCheck::Failed(item)) = checks.next() {
            self.group_buy = item.map(decode).transpose()?;
        }
        Ok(())
    }
}
