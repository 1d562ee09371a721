//! Interest records and the group-buy tally they move. Each write is one transaction: the
//! interest item (index 0) and the tally item (index 1), each with the conditions of the rule
//! it enforces, and `ReturnValuesOnConditionCheckFailure` so that a refused write tells the
//! caller what was there without another read. The conditions compare the tally's own
//! attributes (cap, quantity bound, threshold edge), so a registration needs no read first.

use super::rollup::rollup_update;
use super::{
    DESCRIPTION_SK, GROUP_BUY_SK, GroupBuyParts, ItemCheck, Riders, Store, StoreError, TALLY_SK,
    THRESHOLD_EDGE, decode, encode, group_buy_pk, n, part_key, s,
};
use crate::domain::rollup::RollupDelta;
use crate::domain::{GroupBuy, Handle, Slug, Tally, Timestamp};
use crate::pagination::{Key, Page};
use crate::table::{PARTITION_KEY, SORT_KEY};
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use serde::{Deserialize, Serialize};

const INTEREST_PREFIX: &str = "INT#";

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
    /// Delete if the quantity is still `quantity`; one participant and `quantity` units less;
    /// only while published or paused and before the deadline. `loses_threshold`: the write
    /// expects to be the one that goes below the threshold (its condition checks it).
    Withdraw {
        quantity: u32,
        loses_threshold: bool,
    },
}

/// Keyed by the per-group-buy pseudonym, never the visitor's platform-wide key: the
/// participants list is ordered by it, and an order shared across campaigns would let an owner
/// relate where one visitor sorts in two of them.
fn interest_sk(participant: &str) -> String {
    format!("{INTEREST_PREFIX}{participant}")
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
const WITHIN_QUANTITY: &str = "#maxQuantity >= :q";

impl Store {
    /// The tally and the visitor's interest, strongly consistent, in one call.
    pub async fn interest_snapshot(
        &self,
        handle: &Handle,
        slug: &Slug,
        participant: &str,
    ) -> Result<InterestSnapshot, StoreError> {
        let pk = group_buy_pk(handle, slug);
        let keys = vec![
            part_key(&pk, TALLY_SK),
            part_key(&pk, &interest_sk(participant)),
        ];
        let mut snapshot = InterestSnapshot::default();
        for item in self.get_items(keys, true).await? {
            match item.get(SORT_KEY) {
                Some(AttributeValue::S(sk)) if sk == TALLY_SK => {
                    snapshot.tally = Some(decode(item)?)
                }
                _ => snapshot.interest = Some(decode(item)?),
            }
        }
        Ok(snapshot)
    }

    /// The group-buy and the visitor's interest in it, strongly consistent, in one call.
    pub async fn group_buy_and_interest(
        &self,
        handle: &Handle,
        slug: &Slug,
        participant: &str,
    ) -> Result<(Option<GroupBuy>, Option<InterestRecord>), StoreError> {
        let pk = group_buy_pk(handle, slug);
        let keys = [GROUP_BUY_SK, DESCRIPTION_SK, TALLY_SK]
            .into_iter()
            .map(|sk| part_key(&pk, sk))
            .chain([part_key(&pk, &interest_sk(participant))])
            .collect();
        let mut parts = GroupBuyParts::default();
        let mut interest = None;
        for item in self.get_items(keys, true).await? {
            if let Some(item) = parts.take(item) {
                interest = Some(decode(item)?);
            }
        }
        Ok((parts.assemble()?, interest))
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
        let pk = group_buy_pk(handle, slug);
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
        let (interest_op, tally, delta) = match write {
            InterestWrite::Register {
                record,
                meets_threshold,
            } => {
                let mut item = encode(record)?;
                item.extend(part_key(&pk, &sk));
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
                let tally = tally
                    .update_expression(
                        "SET #participants = #participants + :one, #units = #units + :q",
                    )
                    .condition_expression(format!(
                        "{OPEN_FOR_REGISTRATION} AND {BELOW_CAP} AND {WITHIN_QUANTITY} AND #participants {} #edge",
                        edge(meets_threshold)
                    ))
                    .expression_attribute_names("#cap", "maxParticipants")
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
                (TransactWriteItem::builder().put(put).build(), tally, delta)
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
                let tally = tally
                    .update_expression(
                        "SET #participants = #participants - :one, #units = #units - :q",
                    )
                    .condition_expression(format!(
                        "#status IN (:published, :paused) AND {BEFORE_DEADLINE} AND #participants {} #threshold",
                        edge(loses_threshold)
                    ))
                    .expression_attribute_names("#participants", "participantCount")
                    .expression_attribute_names("#threshold", "minParticipants")
                    .expression_attribute_values(":paused", s("paused"))
                    .expression_attribute_values(":one", n(1))
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
        };
        let tally = tally.build().map_err(built)?;
        let mut items = vec![
            interest_op,
            TransactWriteItem::builder().update(tally).build(),
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

/// What an interest decision is made on: the tally and the visitor's interest.
#[derive(Clone, Debug, Default)]
pub struct InterestSnapshot {
    pub tally: Option<Tally>,
    pub interest: Option<InterestRecord>,
}

impl InterestSnapshot {
    /// Takes in what a refused transaction found: the interest item (index 0) and the
    /// tally item (index 1), each where its condition failed. Returns whether the tally was
    /// among them (when it was not, its conditions held).
    pub fn learn_from(&mut self, checks: Vec<ItemCheck>) -> Result<bool, StoreError> {
        let mut checks = checks.into_iter();
        if let Some(ItemCheck::Failed(item)) = checks.next() {
            self.interest = item.map(decode).transpose()?;
        }
        match checks.next() {
            Some(ItemCheck::Failed(item)) => {
                self.tally = item.map(decode).transpose()?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
