//! A draw campaign's entries and its draw (API.md, "Fair drops").
//!
//! **Entries** live in `DRAW_SHARDS` partitions of their own (`layout::draw_shard_pk`), each
//! with a small shard item holding what an entry's conditions need: the group-buy's status
//! (kept by every transition, `transition_items`), `drawAt`, the shard's count and limit, and
//! `sealed` once the draw starts. An entry writes its own item and its shard's item in one
//! transaction, so entries never write an item shared by the whole campaign, and none
//! commits once the draw has sealed its shard.
//!
//! **The seed** is drawn at the first publish and kept in the draw's own partition
//! (`layout::draw_pk`), which no view reads; the group-buy carries only its commitment until
//! the draw reveals it.
//!
//! **The draw** (`run_draw`) seals the shards, reads every entry, ranks them by the rule
//! (`domain::draw::ranked`), writes the ranks (100 tickets an item, for `GET …/draw`), then
//! the winners' interests and the waitlist in batches, each one transaction conditioned on
//! the draw's progress counter: a batch commits once, and a run cut off at any point (killed,
//! out of time) is resumed by the next from the counter, to the same end state. The last
//! transaction reveals the seed on the group-buy, lifts the tally's `drawPending` and takes
//! the draw off the due list. Nothing else moves the tally meanwhile: every visitor write's
//! condition refuses while `drawPending` is set.

use super::rollup::rollup_update;
use super::waitlist::entry_items;
use super::{
    Item, Riders, Store, StoreError, classify, decode, encode, n, observed, part_key, pk_of,
    put_if_absent, recently_changed_key, s, set_all,
};
use crate::deadline::Deadline;
use crate::domain::draw::{
    DRAW_SHARDS, Draw, DrawResult, commitment, entries_per_shard, entry_shard, hex, ranked, unhex,
};
use crate::domain::interest::waitlist_entry_expiry;
use crate::domain::rollup::RollupDelta;
use crate::domain::{GroupBuy, Handle, HistoryEntry, Slug, Status, Timestamp};
use crate::table::layout::{
    DRAW_CONTROL_SK, DRAW_ENTRY_PREFIX, DRAW_SHARD_SK, DRAWS_DUE_PK, GROUP_BUY_SK, TALLY_SK,
    draw_due_sk, draw_entry_sk, draw_pk, draw_shard_pk, interest_sk, rank_chunk_sk,
};
use crate::table::{BY_STATUS, PARTITION_KEY, SORT_KEY};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, PutRequest, ReturnConsumedCapacity,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update, WriteRequest,
};
use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Tickets per rank item: about 2 KB, so a page of `GET …/draw` reads one or two items.
pub const RANKS_PER_ITEM: u64 = 100;
/// Winners or waitlisted entrants per transaction: at most three items each, with the
/// progress counter, the tally and the rollup within DynamoDB's 100 items.
const ENTRANTS_PER_BATCH: usize = 32;
/// Items per BatchWriteItem (DynamoDB's limit).
const BATCH_WRITE_ITEMS: usize = 25;
/// Calls of one step of the draw in flight at once.
const CONCURRENT_CALLS: usize = 8;
/// No new batch starts with less time left than this.
const TIME_PER_BATCH: Duration = Duration::from_secs(3);
/// Attempts of one batch or of the final transaction before the run gives up (to be resumed).
const ATTEMPTS: usize = 8;

/// A visitor's entry in a draw, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DrawEntry {
    /// The visitor's per-campaign pseudonym (the `participant` of the owner's list).
    pub ticket: String,
    pub quantity: u32,
    pub entered_at: Timestamp,
    pub updated_at: Timestamp,
    /// Written by the draw for the winners and the waitlisted; absent: pending before the
    /// draw, lost after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<DrawResult>,
}

/// One entry shard's own item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryShard {
    pub status: Status,
    pub draw_at: Timestamp,
    pub entry_count: u32,
    pub entry_limit: u32,
    /// Absent until the draw seals the shard (the entries' conditions test its absence).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sealed: bool,
}

impl EntryShard {
    /// Whether an entry may be taken, changed or withdrawn in this shard at `now`.
    pub fn open_at(&self, now: Timestamp) -> bool {
        !self.sealed && now < self.draw_at
    }
}

/// The draw's hidden item: its seed and how far the writing of its results has come. No
/// `Debug`: nothing can print the seed.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DrawControl {
    /// Hex.
    seed: String,
    /// Ranked entrants (winners, then waitlisted) whose items are written.
    #[serde(default)]
    written: u64,
    /// Whether every rank item is written.
    #[serde(default)]
    ranks_written: bool,
}

/// What the first publish of a draw campaign writes: its seed, and the entry shards' limit.
#[derive(Clone)]
pub struct DrawOpening {
    /// 32 bytes from the operating system's CSPRNG, hex. Never logged: no `Debug`.
    seed: String,
    /// What every view shows from the publish on.
    pub commitment: String,
    entries_per_shard: u32,
}

impl DrawOpening {
    /// A fresh seed from the operating system's CSPRNG, for a draw taking at most
    /// `max_entries` entries.
    pub fn new(max_entries: u32) -> Result<Self, StoreError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| StoreError::Unavailable(format!("no randomness: {e}")))?;
        Ok(Self {
            seed: hex(&seed),
            commitment: commitment(&seed),
            entries_per_shard: entries_per_shard(max_entries),
        })
    }
}

/// One write to a visitor's entry, decided on the shard and the entry as read.
#[derive(Clone, Copy, Debug)]
pub enum EntryWrite<'a> {
    /// Insert if absent; the shard counts one more, if open and below its limit.
    Enter(&'a DrawEntry),
    /// Change the quantity if still `from`, while the shard is open.
    Change { from: u32, to: &'a DrawEntry },
    /// Delete `ticket`'s entry if its quantity is still `quantity`; the shard counts one less.
    Withdraw { ticket: &'a str, quantity: u32 },
}

/// How a run of the draw ended.
#[derive(Clone, Debug)]
pub enum DrawRun {
    /// This run finished the draw: the group-buy as it now is.
    Drawn(GroupBuy),
    /// Drawn before: nothing changed.
    AlreadyDrawn(GroupBuy),
    /// Out of time or contended: the next run resumes where this one stopped.
    Unfinished,
    /// Closed before its draw (cancelled): there is none; taken off the due list.
    Cancelled,
}

/// The shard of `ticket`'s entry, its partition and its item key.
fn entry_key(handle: &Handle, slug: &Slug, ticket: &str) -> (String, Item) {
    let pk = draw_shard_pk(handle.as_str(), slug.as_str(), entry_shard(ticket));
    let key = part_key(&pk, &draw_entry_sk(ticket));
    (pk, key)
}

fn shard_pks(handle: &Handle, slug: &Slug) -> Vec<String> {
    (0..DRAW_SHARDS)
        .map(|shard| draw_shard_pk(handle.as_str(), slug.as_str(), shard))
        .collect()
}

fn built(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// The entry shards' conditions: the open ones, and room for one more.
const SHARD_OPEN: &str =
    "#status = :published AND #drawAt > :now AND attribute_not_exists(#sealed)";
const SHARD_OPEN_OR_PAUSED: &str =
    "#status IN (:published, :paused) AND #drawAt > :now AND attribute_not_exists(#sealed)";

/// The draw's items a transition writes: at the first publish the seed, the shards and the due
/// entry; later, each shard's copy of the status, so that entries follow pauses and closes.
/// Nothing once drawn (the shards are sealed) or for a first-come group-buy.
pub(super) fn transition_items(
    table: &str,
    current: &GroupBuy,
    next: &GroupBuy,
    opening: Option<&DrawOpening>,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let (Some(draw_at), true) = (next.draw_at, next.draw_pending()) else {
        return Ok(Vec::new());
    };
    let (handle, slug) = (&next.handle, &next.slug);
    let mut items = Vec::new();
    match opening {
        Some(opening) => {
            let control = DrawControl {
                seed: opening.seed.clone(),
                written: 0,
                ranks_written: false,
            };
            let mut item = encode(&control)?;
            item.extend(part_key(
                &draw_pk(handle.as_str(), slug.as_str()),
                DRAW_CONTROL_SK,
            ));
            items.push(put_if_absent(
                table,
                item,
                ReturnValuesOnConditionCheckFailure::None,
            )?);
            for pk in shard_pks(handle, slug) {
                let shard = EntryShard {
                    status: next.status,
                    draw_at,
                    entry_count: 0,
                    entry_limit: opening.entries_per_shard,
                    sealed: false,
                };
                let mut item = encode(&shard)?;
                item.extend(part_key(&pk, DRAW_SHARD_SK));
                items.push(put_if_absent(
                    table,
                    item,
                    ReturnValuesOnConditionCheckFailure::None,
                )?);
            }
            let due = Put::builder()
                .table_name(table)
                .item(PARTITION_KEY, s(DRAWS_DUE_PK))
                .item(
                    SORT_KEY,
                    s(draw_due_sk(
                        &draw_at.to_string(),
                        handle.as_str(),
                        slug.as_str(),
                    )),
                )
                .item("handle", s(handle.as_str()))
                .item("slug", s(slug.as_str()))
                .build()
                .map_err(built)?;
            items.push(TransactWriteItem::builder().put(due).build());
        }
        None if current.ever_published() => {
            for pk in shard_pks(handle, slug) {
                let update = Update::builder()
                    .table_name(table)
                    .key(PARTITION_KEY, s(pk))
                    .key(SORT_KEY, s(DRAW_SHARD_SK))
                    .update_expression("SET #status = :status")
                    .condition_expression("attribute_exists(#status)")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":status", s(next.status.as_str()))
                    .build()
                    .map_err(built)?;
                items.push(TransactWriteItem::builder().update(update).build());
            }
        }
        // A draft closed before publishing: it never had shards.
        None => {}
    }
    Ok(items)
}

/// A draw due by `now`, as the due list names it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct DueDraw {
    pub handle: Handle,
    pub slug: Slug,
}

impl Store {
    /// The visitor's entry and its shard, strongly consistent, in one call.
    pub async fn entry_snapshot(
        &self,
        handle: &Handle,
        slug: &Slug,
        ticket: &str,
    ) -> Result<(Option<EntryShard>, Option<DrawEntry>), StoreError> {
        let (pk, key) = entry_key(handle, slug, ticket);
        let mut shard = None;
        let mut entry = None;
        for item in self
            .get_items(vec![part_key(&pk, DRAW_SHARD_SK), key], true)
            .await?
        {
            match item.get(SORT_KEY) {
                Some(AttributeValue::S(sk)) if sk == DRAW_SHARD_SK => shard = Some(decode(item)?),
                _ => entry = Some(decode(item)?),
            }
        }
        Ok((shard, entry))
    }

    /// The visitor's entry, strongly consistent.
    pub async fn draw_entry(
        &self,
        handle: &Handle,
        slug: &Slug,
        ticket: &str,
    ) -> Result<Option<DrawEntry>, StoreError> {
        let (_, key) = entry_key(handle, slug, ticket);
        self.read_item(key).await
    }

    /// The item at `key`, strongly consistent, decoded; `None` when there is none.
    async fn read_item<T: serde::de::DeserializeOwned>(
        &self,
        key: Item,
    ) -> Result<Option<T>, StoreError> {
        let out = observed(
            self.client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .consistent_read(true)
                .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
                .send()
                .await,
        )
        .map_err(|e| classify("GetItem", e))?;
        out.item.map(decode).transpose()
    }

    /// Applies `write` to the visitor's entry and its shard atomically. `ConditionFailed`
    /// carries the entry (index 0) and the shard (index 1) as they were when refused.
    pub async fn write_entry(
        &self,
        handle: &Handle,
        slug: &Slug,
        write: EntryWrite<'_>,
        now: Timestamp,
        riders: &Riders,
    ) -> Result<(), StoreError> {
        let ticket = match write {
            EntryWrite::Enter(entry) | EntryWrite::Change { to: entry, .. } => &entry.ticket,
            EntryWrite::Withdraw { ticket, .. } => ticket,
        };
        let (pk, key) = entry_key(handle, slug, ticket);
        let all_old = ReturnValuesOnConditionCheckFailure::AllOld;
        let shard_key = part_key(&pk, DRAW_SHARD_SK);
        let (entry_op, shard_op) = match write {
            EntryWrite::Enter(entry) => {
                let mut item = encode(entry)?;
                item.extend(key);
                let put = put_if_absent(&self.table, item, all_old.clone())?;
                let shard = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(shard_key))
                    .update_expression("SET #count = #count + :one")
                    .condition_expression(format!("{SHARD_OPEN} AND #count < #limit"))
                    .expression_attribute_names("#count", "entryCount")
                    .expression_attribute_names("#limit", "entryLimit")
                    .expression_attribute_values(":one", n(1));
                let shard = with_open(shard, now)
                    .return_values_on_condition_check_failure(all_old)
                    .build()
                    .map_err(built)?;
                (put, TransactWriteItem::builder().update(shard).build())
            }
            EntryWrite::Change { from, to } => {
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .update_expression("SET #quantity = :to, #updatedAt = :at")
                    .condition_expression("#quantity = :from")
                    .expression_attribute_names("#quantity", "quantity")
                    .expression_attribute_names("#updatedAt", "updatedAt")
                    .expression_attribute_values(":to", n(to.quantity))
                    .expression_attribute_values(":from", n(from))
                    .expression_attribute_values(":at", s(to.updated_at.to_string()))
                    .return_values_on_condition_check_failure(all_old.clone())
                    .build()
                    .map_err(built)?;
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(shard_key))
                    .condition_expression(SHARD_OPEN)
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_names("#drawAt", "drawAt")
                    .expression_attribute_names("#sealed", "sealed")
                    .expression_attribute_values(":published", s(Status::Published.as_str()))
                    .expression_attribute_values(":now", s(now.to_string()))
                    .return_values_on_condition_check_failure(all_old)
                    .build()
                    .map_err(built)?;
                (
                    TransactWriteItem::builder().update(update).build(),
                    TransactWriteItem::builder().condition_check(check).build(),
                )
            }
            EntryWrite::Withdraw { quantity, .. } => {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .condition_expression("#quantity = :q")
                    .expression_attribute_names("#quantity", "quantity")
                    .expression_attribute_values(":q", n(quantity))
                    .return_values_on_condition_check_failure(all_old.clone())
                    .build()
                    .map_err(built)?;
                let shard = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(shard_key))
                    .update_expression("SET #count = #count - :one")
                    .condition_expression(SHARD_OPEN_OR_PAUSED)
                    .expression_attribute_names("#count", "entryCount")
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":paused", s(Status::Paused.as_str()));
                (
                    TransactWriteItem::builder().delete(delete).build(),
                    TransactWriteItem::builder()
                        .update(
                            with_open(shard, now)
                                .return_values_on_condition_check_failure(all_old)
                                .build()
                                .map_err(built)?,
                        )
                        .build(),
                )
            }
        };
        self.transact(vec![entry_op, shard_op], riders).await
    }

    /// Entries taken so far: the shards' counts, in one call.
    pub async fn entry_count(&self, handle: &Handle, slug: &Slug) -> Result<u32, StoreError> {
        let keys = shard_pks(handle, slug)
            .iter()
            .map(|pk| part_key(pk, DRAW_SHARD_SK))
            .collect();
        let mut count = 0;
        for item in self.get_items(keys, false).await? {
            count += decode::<EntryShard>(item)?.entry_count;
        }
        Ok(count)
    }

    /// Draws due by `now`, soonest first, at most `limit`.
    pub async fn draws_due(&self, now: Timestamp, limit: i32) -> Result<Vec<DueDraw>, StoreError> {
        let query = self
            .query()
            .key_condition_expression("#pk = :pk AND #sk < :until")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(":pk", s(DRAWS_DUE_PK))
            .expression_attribute_values(
                ":until",
                s(crate::table::layout::after_time(&now.to_string())),
            )
            .limit(limit);
        Ok(self.page(query, None).await?.items)
    }

    /// Tickets of ranks `offset + 1 ..= offset + limit` (fewer at the end), from the rank
    /// items of a drawn group-buy.
    pub async fn ranked_tickets(
        &self,
        handle: &Handle,
        slug: &Slug,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        let first = offset / RANKS_PER_ITEM;
        let last = (offset + limit.max(1) - 1) / RANKS_PER_ITEM;
        let pk = draw_pk(handle.as_str(), slug.as_str());
        let keys = (first..=last)
            .map(|chunk| part_key(&pk, &rank_chunk_sk(chunk)))
            .collect();
        let mut chunks: Vec<(u64, Vec<String>)> = Vec::new();
        for item in self.get_items(keys, false).await? {
            let chunk: RankChunk = decode(item)?;
            chunks.push((chunk.chunk, chunk.tickets));
        }
        chunks.sort_by_key(|(chunk, _)| *chunk);
        // Every rank item from the first asked for, in order: a missing one would shift the
        // ranks of the tickets after it.
        if chunks
            .iter()
            .zip(first..)
            .any(|((chunk, _), expected)| *chunk != expected)
            || chunks.len() as u64 != last - first + 1
        {
            return Err(StoreError::Unavailable(
                "a rank item of the draw is missing".into(),
            ));
        }
        let skip = usize::try_from(offset - first * RANKS_PER_ITEM).unwrap_or(usize::MAX);
        Ok(chunks
            .into_iter()
            .flat_map(|(_, tickets)| tickets)
            .skip(skip)
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect())
    }

    /// Runs the draw of `handle`/`slug`, due at `now`, as far as `deadline` allows (see the
    /// module). The caller has checked that it is a published draw campaign past `drawAt`.
    pub async fn run_draw(
        &self,
        gb: &GroupBuy,
        now: Timestamp,
        deadline: Deadline,
        actor: &str,
        request_id: &str,
    ) -> Result<DrawRun, StoreError> {
        let (handle, slug) = (&gb.handle, &gb.slug);
        if gb.status == Status::Closed {
            self.take_off_due_list(gb).await?;
            return Ok(DrawRun::Cancelled);
        }
        if !gb.draw_pending() {
            return Ok(DrawRun::AlreadyDrawn(gb.clone()));
        }
        self.seal(handle, slug).await?;
        let control = self.control(handle, slug).await?;
        let seed = unhex(&control.seed)
            .ok_or_else(|| StoreError::Corrupt("a draw seed that is not hex".into()))?;
        let entries = ranked(&seed, self.all_entries(handle, slug).await?, |e| {
            e.ticket.as_str()
        });
        let max = gb.max_participants.unwrap_or(0) as usize;
        let winners = entries.len().min(max);
        let waitlisted = (entries.len() - winners).min(gb.waitlist_limit() as usize);
        if !control.ranks_written {
            self.write_ranks(handle, slug, &entries).await?;
        }
        let mut written = usize::try_from(control.written).unwrap_or(usize::MAX);
        let mut attempts = 0;
        while written < winners + waitlisted {
            if deadline.too_close_for(TIME_PER_BATCH) || attempts >= ATTEMPTS {
                return Ok(DrawRun::Unfinished);
            }
            let end = (written + ENTRANTS_PER_BATCH).min(winners + waitlisted);
            match self
                .write_batch(gb, &entries, written, end, winners, now)
                .await
            {
                Ok(()) => {
                    written = end;
                    attempts = 0;
                }
                // Another run wrote this batch (the counter moved), or the group-buy was
                // cancelled meanwhile: read where things stand.
                Err(StoreError::ConditionFailed(_) | StoreError::TransactionConflict) => {
                    attempts += 1;
                    let fresh = self.get(handle, slug).await?;
                    match fresh {
                        Some(fresh) if fresh.status == Status::Closed => {
                            return Ok(DrawRun::Cancelled);
                        }
                        Some(fresh) if !fresh.draw_pending() => {
                            return Ok(DrawRun::AlreadyDrawn(fresh));
                        }
                        _ => {}
                    }
                    written = usize::try_from(self.control(handle, slug).await?.written)
                        .unwrap_or(usize::MAX);
                }
                Err(other) => return Err(other),
            }
        }
        let outcome = Draw {
            commitment: gb.draw.as_ref().and_then(|d| d.commitment.clone()),
            seed: Some(control.seed.clone()),
            drawn_at: Some(now),
            entry_count: Some(u32::try_from(entries.len()).unwrap_or(u32::MAX)),
            winner_count: Some(u32::try_from(winners).unwrap_or(u32::MAX)),
            waitlisted_count: Some(u32::try_from(waitlisted).unwrap_or(u32::MAX)),
        };
        self.finish_draw(handle, slug, &outcome, now, actor, request_id)
            .await
    }

    /// Seals every entry shard: from the commit of each, no entry is taken, changed or
    /// withdrawn there. Setting it again changes nothing.
    async fn seal(&self, handle: &Handle, slug: &Slug) -> Result<(), StoreError> {
        futures_util::stream::iter(shard_pks(handle, slug))
            .map(|pk| async move {
                let sent = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .key(PARTITION_KEY, s(pk))
                    .key(SORT_KEY, s(DRAW_SHARD_SK))
                    .update_expression("SET #sealed = :sealed")
                    .condition_expression("attribute_exists(#status)")
                    .expression_attribute_names("#sealed", "sealed")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":sealed", AttributeValue::Bool(true))
                    .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
                    .send()
                    .await;
                observed(sent)
                    .map(|_| ())
                    .map_err(|e| classify("UpdateItem", e))
            })
            .buffer_unordered(CONCURRENT_CALLS)
            .try_collect::<()>()
            .await
    }

    async fn control(&self, handle: &Handle, slug: &Slug) -> Result<DrawControl, StoreError> {
        let key = part_key(&draw_pk(handle.as_str(), slug.as_str()), DRAW_CONTROL_SK);
        self.read_item(key)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a draw campaign without its seed".into()))
    }

    /// Every entry of a draw, from all its shards, strongly consistent (the draw reads them
    /// once the shards are sealed; the operator recounts them).
    pub async fn all_entries(
        &self,
        handle: &Handle,
        slug: &Slug,
    ) -> Result<Vec<DrawEntry>, StoreError> {
        let shards = futures_util::stream::iter(shard_pks(handle, slug))
            .map(|pk| async move {
                let query = self
                    .query()
                    .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                    .expression_attribute_names("#pk", PARTITION_KEY)
                    .expression_attribute_names("#sk", SORT_KEY)
                    .expression_attribute_values(":pk", s(pk))
                    .expression_attribute_values(":prefix", s(DRAW_ENTRY_PREFIX))
                    .consistent_read(true);
                // Decoded a page at a time: a shard's raw items are never all held at once.
                let mut entries = Vec::new();
                let mut start = None;
                loop {
                    let (items, last) = self.raw_page(query.clone(), start).await?;
                    for item in items {
                        entries.push(decode::<DrawEntry>(item)?);
                    }
                    start = last;
                    if start.is_none() {
                        return Ok::<_, StoreError>(entries);
                    }
                }
            })
            .buffer_unordered(CONCURRENT_CALLS)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(shards.into_iter().flatten().collect())
    }

    /// Writes the rank items (unconditional puts of what the seed and the sealed entries
    /// determine: a second run writes the same), then marks them written.
    async fn write_ranks(
        &self,
        handle: &Handle,
        slug: &Slug,
        entries: &[DrawEntry],
    ) -> Result<(), StoreError> {
        let pk = draw_pk(handle.as_str(), slug.as_str());
        let mut requests = Vec::new();
        for (chunk, tickets) in entries.chunks(RANKS_PER_ITEM as usize).enumerate() {
            let chunk = RankChunk {
                chunk: chunk as u64,
                tickets: tickets.iter().map(|e| e.ticket.clone()).collect(),
            };
            let mut item = encode(&chunk)?;
            item.extend(part_key(&pk, &rank_chunk_sk(chunk.chunk)));
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(built)?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        let batches: Vec<Vec<WriteRequest>> = requests
            .chunks(BATCH_WRITE_ITEMS)
            .map(<[WriteRequest]>::to_vec)
            .collect();
        futures_util::stream::iter(batches)
            .map(|batch| self.batch_write(batch))
            .buffer_unordered(CONCURRENT_CALLS)
            .try_collect::<()>()
            .await?;
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(part_key(&pk, DRAW_CONTROL_SK)))
            .update_expression("SET #ranks = :true")
            .expression_attribute_names("#ranks", "ranksWritten")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
            .send()
            .await;
        observed(sent).map_err(|e| classify("UpdateItem", e))?;
        Ok(())
    }

    /// One BatchWriteItem, unprocessed items sent again a few times.
    async fn batch_write(&self, mut batch: Vec<WriteRequest>) -> Result<(), StoreError> {
        for attempt in 0..ATTEMPTS {
            let out = observed(
                self.client
                    .batch_write_item()
                    .request_items(&self.table, batch)
                    .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
                    .send()
                    .await,
            )
            .map_err(|e| classify("BatchWriteItem", e))?;
            match out
                .unprocessed_items
                .and_then(|mut u| u.remove(&self.table))
                .filter(|rest| !rest.is_empty())
            {
                Some(rest) => {
                    batch = rest;
                    super::back_off(attempt as u32).await;
                }
                None => return Ok(()),
            }
        }
        Err(StoreError::Unavailable(
            "BatchWriteItem left items unprocessed".into(),
        ))
    }

    /// Ranked entrants `from..to` (winners below `winners`, then waitlisted) as participants
    /// and waitlist entries, in one transaction that holds only if the progress counter is
    /// still `from` and the group-buy is not closed.
    async fn write_batch(
        &self,
        gb: &GroupBuy,
        ranked: &[DrawEntry],
        from: usize,
        to: usize,
        winners: usize,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let (handle, slug) = (&gb.handle, &gb.slug);
        let pk = pk_of(handle, slug);
        let mut items = Vec::new();
        let (mut participants, mut units, mut waiting, mut last_seq) = (0i64, 0i64, 0i64, None);
        for (index, entry) in ranked.iter().enumerate().take(to).skip(from) {
            let result = if index < winners {
                participants += 1;
                units += i64::from(entry.quantity);
                let mut interest = Item::from([
                    ("participant".to_owned(), s(entry.ticket.clone())),
                    ("quantity".to_owned(), n(entry.quantity)),
                    ("createdAt".to_owned(), s(now.to_string())),
                    ("updatedAt".to_owned(), s(now.to_string())),
                ]);
                interest.extend(part_key(&pk, &interest_sk(&entry.ticket)));
                items.push(put_if_absent(
                    &self.table,
                    interest,
                    ReturnValuesOnConditionCheckFailure::None,
                )?);
                DrawResult::Won
            } else {
                waiting += 1;
                let seq = (index - winners + 1) as u64;
                last_seq = Some(seq);
                let waiter = super::WaitlistEntry {
                    participant: entry.ticket.clone(),
                    seq,
                    quantity: entry.quantity,
                    joined_at: now,
                    updated_at: now,
                    ttl: waitlist_entry_expiry(gb.closes_at),
                };
                for item in entry_items(&pk, &waiter)? {
                    items.push(put_if_absent(
                        &self.table,
                        item,
                        ReturnValuesOnConditionCheckFailure::None,
                    )?);
                }
                DrawResult::Waitlisted
            };
            let (_, key) = entry_key(handle, slug, &entry.ticket);
            let marked = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key))
                .update_expression("SET #result = :result")
                .expression_attribute_names("#result", "result")
                .expression_attribute_values(":result", s(result_name(result)))
                .build()
                .map_err(built)?;
            items.push(TransactWriteItem::builder().update(marked).build());
        }
        let progress = Update::builder()
            .table_name(&self.table)
            .set_key(Some(part_key(
                &draw_pk(handle.as_str(), slug.as_str()),
                DRAW_CONTROL_SK,
            )))
            .update_expression("SET #written = :to")
            .condition_expression("#written = :from")
            .expression_attribute_names("#written", "written")
            .expression_attribute_values(":from", n(from))
            .expression_attribute_values(":to", n(to))
            .build()
            .map_err(built)?;
        let mut assignments = vec![
            "#participants = #participants + :participants".to_owned(),
            "#units = #units + :units".to_owned(),
            "#waiting = if_not_exists(#waiting, :zero) + :waiting".to_owned(),
        ];
        let mut tally = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(pk.clone()))
            .key(SORT_KEY, s(TALLY_SK))
            .condition_expression("#status IN (:published, :paused)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#participants", "participantCount")
            .expression_attribute_names("#units", "unitCount")
            .expression_attribute_names("#waiting", "waitlistCount")
            .expression_attribute_values(":published", s(Status::Published.as_str()))
            .expression_attribute_values(":paused", s(Status::Paused.as_str()))
            .expression_attribute_values(":participants", n(participants))
            .expression_attribute_values(":units", n(units))
            .expression_attribute_values(":waiting", n(waiting))
            .expression_attribute_values(":zero", n(0));
        // The waitlist numbered by rank: positions are `seq - waitlistServed` from the start.
        if let Some(seq) = last_seq {
            assignments.extend([
                "#seq = :seq".to_owned(),
                "#joins = :seq".to_owned(),
                "#from = if_not_exists(#from, :zero)".to_owned(),
            ]);
            tally = tally
                .expression_attribute_names("#seq", "waitlistSeq")
                .expression_attribute_names("#joins", "waitlistJoins")
                .expression_attribute_names("#from", "waitlistOrdinalsFrom")
                .expression_attribute_values(":seq", n(seq));
        }
        let tally = tally
            .update_expression(format!("SET {}", assignments.join(", ")))
            .build()
            .map_err(built)?;
        items.push(TransactWriteItem::builder().update(progress).build());
        items.push(TransactWriteItem::builder().update(tally).build());
        // Nothing else moves the count during the draw, so the batch knows whether it is
        // the one that meets the threshold.
        let before = from.min(winners) as u32;
        let after = to.min(winners) as u32;
        let delta = RollupDelta {
            participants,
            units,
            threshold_met: i64::from(before < gb.min_participants && after >= gb.min_participants),
            ..RollupDelta::default()
        };
        if let Some(rollup) = rollup_update(&self.table, &delta)? {
            items.push(TransactWriteItem::builder().update(rollup).build());
        }
        self.transact(items, &Riders::default()).await
    }

    /// The draw's last transaction: the outcome and the seed on the group-buy (a new
    /// version), the tally's `drawPending` lifted, the history entry, and the draw off the
    /// due list; on condition of the version read, tried again on a lost race.
    async fn finish_draw(
        &self,
        handle: &Handle,
        slug: &Slug,
        outcome: &Draw,
        now: Timestamp,
        actor: &str,
        request_id: &str,
    ) -> Result<DrawRun, StoreError> {
        for _ in 0..ATTEMPTS {
            let Some(current) = self.get(handle, slug).await? else {
                return Err(StoreError::Corrupt("a drawn group-buy went missing".into()));
            };
            if current.status == Status::Closed {
                return Ok(DrawRun::Cancelled);
            }
            if !current.draw_pending() {
                return Ok(DrawRun::AlreadyDrawn(current));
            }
            let mut next = current.clone();
            next.draw = Some(outcome.clone());
            next.version += 1;
            next.updated_at = now;
            let pk = pk_of(handle, slug);
            let assignments = vec![
                ("draw".to_owned(), AttributeValue::M(encode(outcome)?)),
                ("version".to_owned(), n(next.version)),
                ("updatedAt".to_owned(), s(now.to_string())),
                (
                    BY_STATUS.sort_key.to_owned(),
                    s(recently_changed_key(&next)),
                ),
            ];
            let update = Update::builder()
                .table_name(&self.table)
                .key(PARTITION_KEY, s(pk.clone()))
                .key(SORT_KEY, s(GROUP_BUY_SK))
                .condition_expression("#version = :expected")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":expected", n(current.version));
            let update = set_all(update, assignments, &[]).build().map_err(built)?;
            let tally = Update::builder()
                .table_name(&self.table)
                .key(PARTITION_KEY, s(pk))
                .key(SORT_KEY, s(TALLY_SK))
                .update_expression("SET #version = :version REMOVE #pending")
                .expression_attribute_names("#version", super::TALLY_VERSION)
                .expression_attribute_names("#pending", "drawPending")
                .expression_attribute_values(":version", n(next.version))
                .build()
                .map_err(built)?;
            let entry = HistoryEntry::drawn(&next, actor, request_id, now);
            let history = super::history_put(&self.table, handle, slug, &entry)?;
            let mut items = vec![
                TransactWriteItem::builder().update(update).build(),
                TransactWriteItem::builder().update(tally).build(),
                TransactWriteItem::builder().put(history).build(),
            ];
            items.extend(self.due_delete(&current)?);
            match self.transact(items, &Riders::default()).await {
                Ok(()) => return Ok(DrawRun::Drawn(next)),
                Err(StoreError::ConditionFailed(_) | StoreError::TransactionConflict) => {
                    super::back_off(1).await;
                }
                Err(other) => return Err(other),
            }
        }
        Ok(DrawRun::Unfinished)
    }

    /// The delete of `gb`'s entry on the due list.
    fn due_delete(&self, gb: &GroupBuy) -> Result<Option<TransactWriteItem>, StoreError> {
        let Some(draw_at) = gb.draw_at else {
            return Ok(None);
        };
        let delete = Delete::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(DRAWS_DUE_PK))
            .key(
                SORT_KEY,
                s(draw_due_sk(
                    &draw_at.to_string(),
                    gb.handle.as_str(),
                    gb.slug.as_str(),
                )),
            )
            .build()
            .map_err(built)?;
        Ok(Some(TransactWriteItem::builder().delete(delete).build()))
    }

    /// Takes a cancelled draw off the due list.
    async fn take_off_due_list(&self, gb: &GroupBuy) -> Result<(), StoreError> {
        if let Some(delete) = self.due_delete(gb)? {
            self.transact(vec![delete], &Riders::default()).await?;
        }
        Ok(())
    }
}

/// Adds the names and values of `SHARD_OPEN` (and `SHARD_OPEN_OR_PAUSED`) to `update`.
fn with_open(
    update: aws_sdk_dynamodb::types::builders::UpdateBuilder,
    now: Timestamp,
) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
    update
        .expression_attribute_names("#status", "status")
        .expression_attribute_names("#drawAt", "drawAt")
        .expression_attribute_names("#sealed", "sealed")
        .expression_attribute_values(":published", s(Status::Published.as_str()))
        .expression_attribute_values(":now", s(now.to_string()))
}

fn result_name(result: DrawResult) -> &'static str {
    match result {
        DrawResult::Pending => "pending",
        DrawResult::Won => "won",
        DrawResult::Waitlisted => "waitlisted",
        DrawResult::Lost => "lost",
    }
}

/// One rank item: the tickets of ranks `chunk * RANKS_PER_ITEM + 1 ..`, in rank order.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RankChunk {
    chunk: u64,
    tickets: Vec<String>,
}
