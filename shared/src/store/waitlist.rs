//! The waitlist of a full group-buy. Each waiting visitor is two items in the group-buy's
//! partition: `WAIT#{seq}` (the queue: `seq` is the join's ordinal, taken from the tally's
//! `waitlistJoins` by an atomic `ADD` before the join, which the join's own transaction
//! writes to the tally's `waitlistSeq` on condition that it is greater, so the queue's key
//! order is the order of the joins' commits) and `WAITER#{participant}` (the same entry under
//! the visitor's per-campaign pseudonym, so that a visitor's own entry is found by key and is
//! unique). Every write moves the tally's `waitlistCount` in the same transaction, with
//! conditions that keep a visitor from being both a participant and waiting; every removal
//! from the head moves `waitlistServed` to the last number removed, so that a position is
//! `seq - waitlistServed` (`Tally::waitlist_position`), read with the tally.

use super::ItemCheck;
use super::{
    BEFORE_DEADLINE, OPEN_FOR_REGISTRATION, Riders, Store, StoreError, WAITLIST_COUNT, classify,
    decode, encode, n, observed, part_key, pk_of, put_if_absent, s,
};
use crate::domain::{Handle, Slug, Tally, Timestamp};
use crate::table::layout::{QUEUE_PREFIX, TALLY_SK, interest_sk, queue_sk, waiter_sk};
use crate::table::{PARTITION_KEY, SORT_KEY};
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    ConditionCheck, Delete, ReturnConsumedCapacity, ReturnValue,
    ReturnValuesOnConditionCheckFailure, Select, TransactWriteItem, Update,
};
use serde::{Deserialize, Serialize};

/// The tally's number of the latest join (absent = 0).
const WAITLIST_SEQ: &str = "waitlistSeq";
/// The tally's latest ordinal handed out.
const WAITLIST_JOINS: &str = "waitlistJoins";
/// The tally's number of the last entry removed from the head.
const WAITLIST_SERVED: &str = "waitlistServed";
/// The tally's first ordinal less one (`Tally::waitlist_ordinals_from`).
const ORDINALS_FROM: &str = "waitlistOrdinalsFrom";
/// The tally's limit (absent on group-buys created before it: the default, passed as `:limit`).
const WAITLIST_LIMIT: &str = "waitlistLimit";
/// Room on the waitlist, as the tally counts it against its limit.
const BELOW_LIMIT: &str =
    "(#waiting < #limit OR (attribute_not_exists(#limit) AND #waiting < :limit))";
/// Pages of one position count at most (each page is up to 1 MB of entries ahead).
const MAX_COUNT_PAGES: usize = 64;

/// A visitor's place on the waitlist, as both of its items store it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitlistEntry {
    /// The visitor's per-campaign pseudonym, as on interests.
    pub participant: String,
    /// The join's number: the order of the queue.
    pub seq: u64,
    /// The quantity the visitor asks for, and gets when promoted.
    pub quantity: u32,
    pub joined_at: Timestamp,
    pub updated_at: Timestamp,
    /// When DynamoDB deletes the entry (epoch seconds, `TTL_ATTRIBUTE`); absent without a
    /// deadline until the close sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
}

fn built(e: BuildError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// The two items of `entry`.
pub(super) fn entry_items(pk: &str, entry: &WaitlistEntry) -> Result<[super::Item; 2], StoreError> {
    let mut queued = encode(entry)?;
    queued.extend(part_key(pk, &queue_sk(entry.seq)));
    let mut own = encode(entry)?;
    own.extend(part_key(pk, &waiter_sk(&entry.participant)));
    Ok([queued, own])
}

/// Deletes of `entry`'s two items, each only if still as read: the queue item with its
/// quantity (a visitor who changed it meanwhile is decided on again), the visitor's own
/// with its number (a visitor who left and joined again is another entry).
fn entry_deletes(
    table: &str,
    pk: &str,
    entry: &WaitlistEntry,
) -> Result<[TransactWriteItem; 2], StoreError> {
    let queued = Delete::builder()
        .table_name(table)
        .key(PARTITION_KEY, s(pk))
        .key(SORT_KEY, s(queue_sk(entry.seq)))
        .condition_expression("#quantity = :quantity")
        .expression_attribute_names("#quantity", "quantity")
        .expression_attribute_values(":quantity", n(entry.quantity))
        .build()
        .map_err(built)?;
    let own = Delete::builder()
        .table_name(table)
        .key(PARTITION_KEY, s(pk))
        .key(SORT_KEY, s(waiter_sk(&entry.participant)))
        .condition_expression("#seq = :seq")
        .expression_attribute_names("#seq", "seq")
        .expression_attribute_values(":seq", n(entry.seq))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .map_err(built)?;
    Ok([
        TransactWriteItem::builder().delete(queued).build(),
        TransactWriteItem::builder().delete(own).build(),
    ])
}

/// The items of a promotion: `entry` leaves the waitlist (if still as read) and becomes a
/// participant (if not one already) with the quantity it waited for; `promotedAt` marks the
/// interest, from which the lifecycle events tell a promotion (`WaitlistPromoted`), and
/// `waitlistSeq` keeps the entry's number, so that the order of promotions can be checked.
pub(super) fn promotion_items(
    table: &str,
    pk: &str,
    entry: &WaitlistEntry,
    now: Timestamp,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let mut items = entry_deletes(table, pk, entry)?.to_vec();
    let mut interest = super::Item::from([
        ("participant".to_owned(), s(entry.participant.clone())),
        ("quantity".to_owned(), n(entry.quantity)),
        ("createdAt".to_owned(), s(now.to_string())),
        ("updatedAt".to_owned(), s(now.to_string())),
        ("promotedAt".to_owned(), s(now.to_string())),
        (WAITLIST_SEQ.to_owned(), n(entry.seq)),
    ]);
    interest.extend(part_key(pk, &interest_sk(&entry.participant)));
    items.push(put_if_absent(
        table,
        interest,
        ReturnValuesOnConditionCheckFailure::None,
    )?);
    Ok(items)
}

/// The number the head of the waitlist reaches when `successor` is promoted and
/// `passed_over` removed (the greatest of them), if any is.
pub(super) fn served_after(
    successor: Option<&WaitlistEntry>,
    passed_over: &[WaitlistEntry],
) -> Option<u64> {
    successor
        .iter()
        .copied()
        .chain(passed_over)
        .map(|e| e.seq)
        .max()
}

/// The tally's head only moves forward: a removal from the head sets it to the greatest
/// number removed, on this condition.
pub(super) const HEAD_MOVES_FORWARD: &str = "(attribute_not_exists(#served) OR #served < :served)";
pub(super) const SERVED: &str = WAITLIST_SERVED;

/// The deletes of entries passed over (each only if still as read).
pub(super) fn passed_over_items(
    table: &str,
    pk: &str,
    passed_over: &[WaitlistEntry],
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let mut items = Vec::with_capacity(2 * passed_over.len());
    for entry in passed_over {
        items.extend(entry_deletes(table, pk, entry)?);
    }
    Ok(items)
}

impl Store {
    /// Takes the next join ordinal from the tally (an atomic `ADD`: unique, no conflicts
    /// between joins) and returns the tally as it is then, if the group-buy is published,
    /// before its deadline, full, allows the quantity and has room on its waitlist (so that a
    /// refused join usually burns no ordinal). Before any ordinal was handed out, ordinals
    /// start after `tally`'s latest number (`Tally::ordinal_base`). `ConditionFailed` carries
    /// the tally as it was (index 0).
    pub async fn take_join_ordinal(
        &self,
        handle: &Handle,
        slug: &Slug,
        tally: &Tally,
        quantity: u32,
        now: Timestamp,
    ) -> Result<Tally, StoreError> {
        let base = tally.ordinal_base();
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(pk_of(handle, slug)))
            .key(SORT_KEY, s(TALLY_SK))
            .update_expression(
                "SET #joins = if_not_exists(#joins, :base) + :one, #from = if_not_exists(#from, :base)",
            )
            .condition_expression(format!(
                "{OPEN_FOR_REGISTRATION} AND #participants >= #cap AND #maxQuantity >= :q AND {BELOW_LIMIT}"
            ))
            .expression_attribute_names("#joins", WAITLIST_JOINS)
            .expression_attribute_names("#from", ORDINALS_FROM)
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#closesAt", "closesAt")
            .expression_attribute_names("#participants", "participantCount")
            .expression_attribute_names("#cap", "maxParticipants")
            .expression_attribute_names("#maxQuantity", "maxQuantityPerParticipant")
            .expression_attribute_names("#waiting", WAITLIST_COUNT)
            .expression_attribute_names("#limit", WAITLIST_LIMIT)
            .expression_attribute_values(":base", n(base))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":published", s("published"))
            .expression_attribute_values(":null", s("NULL"))
            .expression_attribute_values(":now", s(now.to_string()))
            .expression_attribute_values(":q", n(quantity))
            .expression_attribute_values(":limit", n(tally.waitlist_limit()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
            .send()
            .await;
        match observed(sent) {
            Ok(out) => decode(out.attributes.unwrap_or_default()),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(refused)) => Err(
                    StoreError::ConditionFailed(vec![ItemCheck::Failed(refused.item().cloned())]),
                ),
                // A transaction was writing the tally at that moment.
                Some(other) if other.code() == Some("TransactionConflictException") => {
                    Err(StoreError::TransactionConflict)
                }
                _ => Err(classify("UpdateItem", e)),
            },
        }
    }

    /// Puts `entry` at the end of the waitlist: its number becomes the tally's latest and the
    /// tally counts one more, if the number is greater than the latest (so numbers are unique
    /// and increase in commit order), the head is still at `served` (so the position the
    /// answer shows is the one at the commit), the group-buy is published, before its
    /// deadline, full, allows the quantity and has room on its waitlist (`limit`, the
    /// tally's, or the default for tallies without one); and only if the visitor is neither
    /// waiting already nor a participant.
    ///
    /// Items, for `Layout::JOIN`: the visitor's interest (a check), the tally, the visitor's
    /// own entry item, the queue item.
    pub async fn join_waitlist(
        &self,
        handle: &Handle,
        slug: &Slug,
        entry: &WaitlistEntry,
        head: WaitlistHead,
        riders: &Riders,
    ) -> Result<(), StoreError> {
        let pk = pk_of(handle, slug);
        let not_a_participant = ConditionCheck::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(pk.clone()))
            .key(SORT_KEY, s(interest_sk(&entry.participant)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(built)?;
        let head_still = match head.served {
            0 => "(attribute_not_exists(#served) OR #served = :served)",
            _ => "#served = :served",
        };
        let tally = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(pk.clone()))
            .key(SORT_KEY, s(TALLY_SK))
            .update_expression(
                "SET #seq = :number, #waiting = if_not_exists(#waiting, :zero) + :one",
            )
            .condition_expression(format!(
                "{OPEN_FOR_REGISTRATION} AND #participants >= #cap AND #maxQuantity >= :q AND (attribute_not_exists(#seq) OR #seq < :number) AND {BELOW_LIMIT} AND {head_still}"
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#closesAt", "closesAt")
            .expression_attribute_names("#participants", "participantCount")
            .expression_attribute_names("#cap", "maxParticipants")
            .expression_attribute_names("#maxQuantity", "maxQuantityPerParticipant")
            .expression_attribute_names("#seq", WAITLIST_SEQ)
            .expression_attribute_names("#waiting", WAITLIST_COUNT)
            .expression_attribute_names("#limit", WAITLIST_LIMIT)
            .expression_attribute_names("#served", WAITLIST_SERVED)
            .expression_attribute_values(":published", s("published"))
            .expression_attribute_values(":null", s("NULL"))
            .expression_attribute_values(":now", s(entry.joined_at.to_string()))
            .expression_attribute_values(":q", n(entry.quantity))
            .expression_attribute_values(":number", n(entry.seq))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(head.limit))
            .expression_attribute_values(":served", n(head.served))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(built)?;
        let [queued, own] = entry_items(&pk, entry)?;
        let put_if_absent = |item| {
            put_if_absent(
                &self.table,
                item,
                ReturnValuesOnConditionCheckFailure::AllOld,
            )
        };
        let items = vec![
            TransactWriteItem::builder()
                .condition_check(not_a_participant)
                .build(),
            TransactWriteItem::builder().update(tally).build(),
            put_if_absent(own)?,
            put_if_absent(queued)?,
        ];
        self.transact(items, riders).await
    }

    /// Changes the quantity a waiting visitor asks for, keeping their place: both items if
    /// still as read, while the group-buy is published, before its deadline and allows the
    /// quantity. Items, for `Layout::WAITING`: the visitor's own entry item, the tally (a
    /// check), the queue item.
    pub async fn change_waiting_quantity(
        &self,
        handle: &Handle,
        slug: &Slug,
        entry: &WaitlistEntry,
        quantity: u32,
        now: Timestamp,
        riders: &Riders,
    ) -> Result<(), StoreError> {
        let pk = pk_of(handle, slug);
        let change = |sk: String, condition: &str| {
            Update::builder()
                .table_name(&self.table)
                .key(PARTITION_KEY, s(pk.clone()))
                .key(SORT_KEY, s(sk))
                .update_expression("SET #quantity = :to, #updatedAt = :now")
                .condition_expression(condition)
                .expression_attribute_names("#quantity", "quantity")
                .expression_attribute_names("#updatedAt", "updatedAt")
                .expression_attribute_names("#seq", "seq")
                .expression_attribute_values(":to", n(quantity))
                .expression_attribute_values(":from", n(entry.quantity))
                .expression_attribute_values(":seq", n(entry.seq))
                .expression_attribute_values(":now", s(now.to_string()))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build()
                .map(|update| TransactWriteItem::builder().update(update).build())
                .map_err(built)
        };
        let open = ConditionCheck::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(pk.clone()))
            .key(SORT_KEY, s(TALLY_SK))
            .condition_expression(format!("{OPEN_FOR_REGISTRATION} AND #maxQuantity >= :q"))
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#closesAt", "closesAt")
            .expression_attribute_names("#maxQuantity", "maxQuantityPerParticipant")
            .expression_attribute_values(":published", s("published"))
            .expression_attribute_values(":null", s("NULL"))
            .expression_attribute_values(":now", s(now.to_string()))
            .expression_attribute_values(":q", n(quantity))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(built)?;
        let items = vec![
            change(
                waiter_sk(&entry.participant),
                "#seq = :seq AND #quantity = :from",
            )?,
            TransactWriteItem::builder().condition_check(open).build(),
            change(queue_sk(entry.seq), "#seq = :seq AND #quantity = :from")?,
        ];
        self.transact(items, riders).await
    }

    /// Takes `entry` off the waitlist (both items, if still as read) and counts one less,
    /// unless the group-buy has closed (its entries ended with it). Items, for
    /// `Layout::WAITING`: the visitor's own entry item, the tally, the queue item.
    pub async fn leave_waitlist(
        &self,
        handle: &Handle,
        slug: &Slug,
        entry: &WaitlistEntry,
        riders: &Riders,
    ) -> Result<(), StoreError> {
        let pk = pk_of(handle, slug);
        let [queued, own] = entry_deletes(&self.table, &pk, entry)?;
        let tally = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(pk.clone()))
            .key(SORT_KEY, s(TALLY_SK))
            .update_expression("SET #waiting = #waiting - :one")
            .condition_expression("#status <> :closed AND #waiting >= :one")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#waiting", WAITLIST_COUNT)
            .expression_attribute_values(":closed", s("closed"))
            .expression_attribute_values(":one", n(1))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(built)?;
        let items = vec![
            own,
            TransactWriteItem::builder().update(tally).build(),
            queued,
        ];
        self.transact(items, riders).await
    }

    /// Removes entries at the head of the waitlist that wait for more than the group-buy
    /// allows (each if still as read; the tally's condition checks the bound still excludes
    /// them): what a withdrawal does to the entries before its successor, done ahead of it
    /// when there are more of them than one transaction holds.
    pub async fn pass_over(
        &self,
        handle: &Handle,
        slug: &Slug,
        passed_over: &[WaitlistEntry],
    ) -> Result<(), StoreError> {
        let Some(smallest) = passed_over.iter().map(|e| e.quantity).min() else {
            return Ok(());
        };
        let pk = pk_of(handle, slug);
        let tally = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(pk.clone()))
            .key(SORT_KEY, s(TALLY_SK))
            .update_expression("SET #waiting = #waiting - :passed, #served = :served")
            .condition_expression(format!(
                "#status IN (:published, :paused) AND {BEFORE_DEADLINE} AND #maxQuantity < :smallest AND {HEAD_MOVES_FORWARD}"
            ))
            .expression_attribute_names("#served", WAITLIST_SERVED)
            .expression_attribute_values(
                ":served",
                n(served_after(None, passed_over).unwrap_or_default()),
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#closesAt", "closesAt")
            .expression_attribute_names("#waiting", WAITLIST_COUNT)
            .expression_attribute_names("#maxQuantity", "maxQuantityPerParticipant")
            .expression_attribute_values(":published", s("published"))
            .expression_attribute_values(":paused", s("paused"))
            .expression_attribute_values(":null", s("NULL"))
            .expression_attribute_values(":now", s(Timestamp::now().to_string()))
            .expression_attribute_values(":passed", n(passed_over.len()))
            .expression_attribute_values(":smallest", n(smallest))
            .build()
            .map_err(built)?;
        let mut items = vec![TransactWriteItem::builder().update(tally).build()];
        items.extend(passed_over_items(&self.table, &pk, passed_over)?);
        self.transact(items, &Riders::default()).await
    }

    /// The first `limit` entries of the waitlist, in joining order, strongly consistent.
    pub async fn waitlist_head(
        &self,
        handle: &Handle,
        slug: &Slug,
        limit: i32,
    ) -> Result<Vec<WaitlistEntry>, StoreError> {
        let query = self
            .query()
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(":pk", s(pk_of(handle, slug)))
            .expression_attribute_values(":prefix", s(QUEUE_PREFIX))
            .consistent_read(true)
            .limit(limit);
        Ok(self.page(query, None).await?.items)
    }

    /// The place of the entry numbered `seq`, counted: the entries up to and including it.
    /// A COUNT Query still reads the entries ahead (strongly consistent: 1 RCU per 4 KB,
    /// about 20 entries), so it costs in proportion to the place: only for waitlists from
    /// before ordinals, while an entry numbered by the clock may be ahead
    /// (`Tally::waitlist_position`).
    pub async fn counted_waitlist_position(
        &self,
        handle: &Handle,
        slug: &Slug,
        seq: u64,
    ) -> Result<u64, StoreError> {
        let query = self
            .query()
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :first AND :entry")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(":pk", s(pk_of(handle, slug)))
            .expression_attribute_values(":first", s(QUEUE_PREFIX))
            .expression_attribute_values(":entry", s(queue_sk(seq)))
            .select(Select::Count)
            .consistent_read(true);
        let mut position = 0;
        let mut start = None;
        for _ in 0..MAX_COUNT_PAGES {
            let out = observed(query.clone().set_exclusive_start_key(start).send().await)
                .map_err(|e| classify("Query", e))?;
            position += u64::try_from(out.count).unwrap_or_default();
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(position);
            }
        }
        Err(StoreError::Unavailable(
            "the waitlist position took too many pages".into(),
        ))
    }
}

/// What a join's transaction pins of the tally: the head it computed the position from, and
/// the limit of the waitlist.
#[derive(Clone, Copy, Debug)]
pub struct WaitlistHead {
    pub served: u64,
    pub limit: u32,
}
