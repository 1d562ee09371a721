//! Group-buys and their history.

use super::draw::DrawOpening;
use super::retirement::{Retirement, retirement_put};
use super::rollup::{draft_age_update, rollup_update};
use super::{
    GroupBuyParts, Item, Riders, Store, StoreError, admin_partition, by_status_partition, classify,
    deadline_index_keys, decode, encode, from_cursor_key, group_buy_item, history_put, n, observed,
    pk_of, public_index_keys, put_if_absent, recently_changed_key, s, set_all, tally_item,
    to_cursor_key,
};
use super::{Key, Page};
use crate::domain::rollup::RollupDelta;
use crate::domain::{
    CountGuard, GroupBuy, Handle, HistoryEntry, Slug, Status, Timestamp, Transition,
};
use crate::table::layout::{
    GROUP_BUY_END, GROUP_BUY_SK, HISTORY_END, INDEX_SHARDS, TALLY_SK, after_time,
    deadline_partition, group_buy_of, handle_partition, handle_status_partition, public_partition,
};
use crate::table::{
    BY_HANDLE, BY_HANDLE_AND_STATUS, BY_STATUS, Index, OPEN_BY_DEADLINE, PARTITION_KEY,
    PUBLIC_BY_HANDLE, SORT_KEY,
};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};

/// History entries in one read of a group-buy's history (the API's page of history).
const HISTORY_PAGE: usize = 100;
/// A group-buy's own item, description and tally.
const GROUP_BUY_ITEMS: i32 = 3;
/// Where a walk over the deadline index's shards is, kept inside its cursor.
const SHARD_IN_CURSOR: &str = "_shard";

/// A group-buy that was never published: no `publishedAt`, or a null one.
const NEVER_PUBLISHED: &str =
    "attribute_not_exists(#publishedAt) OR attribute_type(#publishedAt, :null)";

/// A group-buy's table key as the deadline index lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct DueKey {
    #[serde(rename = "PK")]
    pub key: String,
}

impl DueKey {
    /// The handle and slug of `GB#{handle}#{slug}`; `None` for a key of another shape.
    pub fn group_buy(&self) -> Option<(Handle, Slug)> {
        let (handle, slug) = group_buy_of(&self.key)?;
        Some((Handle::parse(handle).ok()?, Slug::parse(slug).ok()?))
    }
}

/// Where a list of group-buys is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    /// All of a handle's group-buys, drafts included.
    Owner(Option<Status>),
    /// Those ever published: published, paused and closed.
    Public,
}

impl Store {
    /// Creates a draft (its own item, description and tally) and its first history entry;
    /// `ConditionFailed` when the slug is taken.
    pub async fn create(
        &self,
        gb: &GroupBuy,
        entry: &HistoryEntry,
        riders: &Riders,
    ) -> Result<(), StoreError> {
        let put = |item: Item| {
            put_if_absent(&self.table, item, ReturnValuesOnConditionCheckFailure::None)
        };
        let history = history_put(&self.table, &gb.handle, &gb.slug, entry)?;
        let mut items = vec![
            put(group_buy_item(gb)?)?,
            put(super::description_item(gb))?,
            put(tally_item(gb)?)?,
            TransactWriteItem::builder().put(history).build(),
            TransactWriteItem::builder()
                .update(draft_age_update(&self.table, gb.updated_at, 1)?)
                .build(),
        ];
        if let Some(rollup) = rollup_update(&self.table, &RollupDelta::status(Status::Draft, 1))? {
            items.push(TransactWriteItem::builder().update(rollup).build());
        }
        self.transact(items, riders).await
    }

    /// A strongly consistent Query of a group-buy's item collection, from its own item (`GB`,
    /// which sorts first) up to `last`.
    fn collection_up_to(&self, handle: &Handle, slug: &Slug, last: &str) -> QueryFluentBuilder {
        self.query()
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :first AND :last")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(":pk", s(pk_of(handle, slug)))
            .expression_attribute_values(":first", s(GROUP_BUY_SK))
            .expression_attribute_values(":last", s(last))
            .consistent_read(true)
    }

    /// The group-buy, its three items in one strongly consistent Query (so that a
    /// transition decides on the latest state).
    pub async fn get(&self, handle: &Handle, slug: &Slug) -> Result<Option<GroupBuy>, StoreError> {
        let query = self.collection_up_to(handle, slug, GROUP_BUY_END);
        let mut parts = GroupBuyParts::default();
        for item in self.query_all(query, 2).await? {
            parts.take(item);
        }
        let mut found = parts.assemble()?;
        if let Some(gb) = &mut found {
            self.count_entries(gb).await?;
        }
        Ok(found)
    }

    /// Puts the entries taken so far in the draw of `gb`, if it is a draw campaign whose
    /// draw is pending (once drawn, the count is frozen on the group-buy).
    pub(super) async fn count_entries(&self, gb: &mut GroupBuy) -> Result<(), StoreError> {
        if !(gb.draw_pending() && gb.ever_published()) {
            return Ok(());
        }
        let count = self.entry_count(&gb.handle, &gb.slug).await?;
        if let Some(draw) = &mut gb.draw {
            draw.entry_count = Some(count);
        }
        Ok(())
    }

    /// The group-buy and one page of its history: the latest `HISTORY_PAGE` entries, or with
    /// `older_than` (the `last_key` of the page before) the next `HISTORY_PAGE` older ones;
    /// oldest first within the page. `last_key` is set when older entries remain.
    ///
    /// One Query of the item collection, newest first (`SK` from `HIST$` down to `GB`),
    /// strongly consistent, for one entry more than a page and the group-buy's three items:
    /// they sort before every `HIST#…`, so when the rest of the history fits in the page the
    /// group-buy arrives in the same call. When it does not, `get` reads it (2 calls).
    pub async fn get_with_history(
        &self,
        handle: &Handle,
        slug: &Slug,
        older_than: Option<Key>,
    ) -> Result<Option<(GroupBuy, Page<HistoryEntry>)>, StoreError> {
        let query = self
            .collection_up_to(handle, slug, HISTORY_END)
            .scan_index_forward(false)
            .limit(HISTORY_PAGE as i32 + 1 + GROUP_BUY_ITEMS)
            .set_exclusive_start_key(from_cursor_key(older_than));
        let out = observed(query.send().await).map_err(|e| classify("Query", e))?;
        let more_pages = out.last_evaluated_key.is_some();
        let mut parts = GroupBuyParts::default();
        let mut history = Vec::new();
        for item in out.items.unwrap_or_default() {
            let Some(item) = parts.take(item) else {
                continue;
            };
            let sk = match item.get(SORT_KEY) {
                Some(AttributeValue::S(sk)) => sk.clone(),
                _ => return Err(StoreError::Corrupt("an item without a sort key".into())),
            };
            history.push((sk, decode::<HistoryEntry>(item)?));
        }
        // Its own item sorts first of all (last, newest first): when it came, all did.
        let group_buy = match parts.group_buy.is_some() {
            true => parts.assemble()?,
            false => None,
        };
        // Older entries remain when more than a page came, or when the Query stopped early
        // (at 1 MB) before reaching the group-buy, which sorts before all of them.
        let older = history.len() > HISTORY_PAGE || (group_buy.is_none() && more_pages);
        history.truncate(HISTORY_PAGE);
        let last_key = match history.last() {
            Some((sk, _)) if older => Some(Key::from([
                (PARTITION_KEY.to_owned(), pk_of(handle, slug)),
                (SORT_KEY.to_owned(), sk.clone()),
            ])),
            _ => None,
        };
        let group_buy = match group_buy {
            Some(mut gb) => {
                self.count_entries(&mut gb).await?;
                gb
            }
            None => match self.get(handle, slug).await? {
                Some(gb) => gb,
                None => return Ok(None),
            },
        };
        let items = history.into_iter().rev().map(|(_, entry)| entry).collect();
        Ok(Some((group_buy, Page { items, last_key })))
    }

    /// A handle's group-buys, newest first: one Query of the index, then one BatchGetItem
    /// of their tallies and descriptions.
    pub async fn list(
        &self,
        handle: &Handle,
        listing: Listing,
        limit: i32,
        start: Option<Key>,
    ) -> Result<Page<GroupBuy>, StoreError> {
        let (index, partition): (Index, String) = match listing {
            Listing::Owner(Some(status)) => (
                BY_HANDLE_AND_STATUS,
                handle_status_partition(handle.as_str(), status.as_str()),
            ),
            Listing::Owner(None) => (BY_HANDLE, handle_partition(handle.as_str())),
            Listing::Public => (PUBLIC_BY_HANDLE, public_partition(handle.as_str())),
        };
        let query = self
            .query()
            .index_name(index.name)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", index.partition_key)
            .expression_attribute_values(":pk", s(partition))
            .scan_index_forward(false)
            .limit(limit);
        let (listed, last) = self.raw_page(query, from_cursor_key(start)).await?;
        Ok(Page {
            items: self.complete(listed, true).await?,
            last_key: last.map(to_cursor_key),
        })
    }

    /// Open group-buys whose deadline is at or before `now`, soonest first within each
    /// shard of the deadline index, at most `limit` per shard.
    pub async fn due_for_expiry(
        &self,
        now: Timestamp,
        limit: i32,
    ) -> Result<Vec<GroupBuy>, StoreError> {
        let mut due = Vec::new();
        for shard in 0..INDEX_SHARDS {
            let page = self.due_in_shard(shard, now, limit, None).await?;
            for key in page.items {
                if let Some((handle, slug)) = key.group_buy()
                    && let Some(gb) = self.get(&handle, &slug).await?
                {
                    due.push(gb);
                }
            }
        }
        Ok(due)
    }

    async fn due_in_shard(
        &self,
        shard: u32,
        now: Timestamp,
        limit: i32,
        start: Option<Key>,
    ) -> Result<Page<DueKey>, StoreError> {
        let query = self
            .query()
            .index_name(OPEN_BY_DEADLINE.name)
            .key_condition_expression("#pk = :pk AND #sk < :until")
            .expression_attribute_names("#pk", OPEN_BY_DEADLINE.partition_key)
            .expression_attribute_names("#sk", OPEN_BY_DEADLINE.sort_key)
            .expression_attribute_values(":pk", s(deadline_partition(shard)))
            .expression_attribute_values(":until", s(after_time(&now.to_string())))
            .limit(limit);
        self.page(query, start).await
    }

    /// One page of the keys of the group-buys whose deadline passed by `now`, resuming at
    /// `start`: the deadline index's shards one after the other, soonest first within each
    /// (the index keeps only the table key: the expiry reads each item itself, strongly
    /// consistent, before deciding). A page may come short while shards remain.
    pub async fn due_keys(
        &self,
        now: Timestamp,
        limit: i32,
        start: Option<Key>,
    ) -> Result<Page<DueKey>, StoreError> {
        let mut start = start.unwrap_or_default();
        let shard = match start.remove(SHARD_IN_CURSOR) {
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|s| *s < INDEX_SHARDS)
                .ok_or_else(|| StoreError::Corrupt("a deadline cursor of no shard".into()))?,
            None => 0,
        };
        let resume = (!start.is_empty()).then_some(start);
        let page = self.due_in_shard(shard, now, limit, resume).await?;
        let last_key = match page.last_key {
            Some(mut key) => {
                key.insert(SHARD_IN_CURSOR.into(), shard.to_string());
                Some(key)
            }
            None if shard + 1 < INDEX_SHARDS => Some(Key::from([(
                SHARD_IN_CURSOR.to_owned(),
                (shard + 1).to_string(),
            )])),
            None => None,
        };
        Ok(Page {
            items: page.items,
            last_key,
        })
    }

    /// The migration of group-buys listed publicly though never published (drafts cancelled
    /// before publishing, as written before the public index required a publication): their
    /// public index keys are removed, on condition that they still were never published. One
    /// Scan of the sparse public index, then one conditional update per such group-buy; safe
    /// to run again. Returns how many were unlisted.
    pub async fn unlist_never_published(&self) -> Result<usize, StoreError> {
        let mut unlisted = 0;
        let mut start = None;
        loop {
            let out = observed(
                self.client
                    .scan()
                    .table_name(&self.table)
                    .index_name(PUBLIC_BY_HANDLE.name)
                    .filter_expression(NEVER_PUBLISHED)
                    .projection_expression("#pk, #sk")
                    .expression_attribute_names("#pk", PARTITION_KEY)
                    .expression_attribute_names("#sk", SORT_KEY)
                    .expression_attribute_names("#publishedAt", "publishedAt")
                    .expression_attribute_values(":null", s("NULL"))
                    .set_exclusive_start_key(start)
                    .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
                    .send()
                    .await,
            )
            .map_err(|e| classify("Scan", e))?;
            for key in out.items.unwrap_or_default() {
                let result = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .update_expression("REMOVE #gsiPk, #gsiSk")
                    .condition_expression(NEVER_PUBLISHED)
                    .expression_attribute_names("#gsiPk", PUBLIC_BY_HANDLE.partition_key)
                    .expression_attribute_names("#gsiSk", PUBLIC_BY_HANDLE.sort_key)
                    .expression_attribute_names("#publishedAt", "publishedAt")
                    .expression_attribute_values(":null", s("NULL"))
                    .send()
                    .await
                    .map_err(|e| classify("UpdateItem", e));
                match result {
                    Ok(_) => unlisted += 1,
                    // Published since the scan: it belongs in the public index.
                    Err(StoreError::ConditionFailed(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(unlisted);
            }
        }
    }

    /// Writes `transition` from `current` (as read) to `next`, with its history entry, in one
    /// transaction that holds only if nobody changed the group-buy's version since the read
    /// and the participant count (in the tally) still supports the decision.
    /// `ConditionFailed` otherwise: the caller reads again and decides again.
    pub async fn apply(
        &self,
        current: &GroupBuy,
        next: &GroupBuy,
        transition: &Transition,
        entry: &HistoryEntry,
        opening: Option<&DrawOpening>,
        riders: &Riders,
    ) -> Result<(), StoreError> {
        let optional_time = |t: Option<crate::domain::Timestamp>| match t {
            Some(t) => s(t.to_string()),
            None => AttributeValue::Null(true),
        };
        let mut assignments: Vec<(String, AttributeValue)> = vec![
            ("status".into(), s(next.status.as_str())),
            (
                "closeOutcome".into(),
                next.close_outcome
                    .map_or(AttributeValue::Null(true), |o| s(o.as_str())),
            ),
            ("version".into(), n(next.version)),
            ("updatedAt".into(), s(next.updated_at.to_string())),
            ("publishedAt".into(), optional_time(next.published_at)),
            ("closedAt".into(), optional_time(next.closed_at)),
            (
                BY_HANDLE_AND_STATUS.partition_key.into(),
                s(by_status_partition(next)),
            ),
        ];
        assignments.extend(public_index_keys(next).into_iter().flatten());
        // The first publish of a draw campaign commits to its seed.
        if let Some(opening) = opening {
            let draw = crate::domain::Draw {
                commitment: Some(opening.commitment.clone()),
                ..crate::domain::Draw::default()
            };
            assignments.push(("draw".into(), AttributeValue::M(encode(&draw)?)));
        }
        assignments.extend([
            (BY_STATUS.partition_key.into(), s(admin_partition(next))),
            (BY_STATUS.sort_key.into(), s(recently_changed_key(next))),
            // A transition clears the CLOSE_REJECTED flag.
            ("closeRejectedAt".into(), AttributeValue::Null(true)),
        ]);
        let deadline = deadline_index_keys(next);
        let removals: &[&str] = match deadline {
            Some(_) => &[],
            None => &[OPEN_BY_DEADLINE.partition_key, OPEN_BY_DEADLINE.sort_key],
        };
        assignments.extend(deadline.into_iter().flatten());
        let pk = pk_of(&current.handle, &current.slug);
        let update = self.versioned_update(&pk, current, assignments, removals)?;
        // The tally follows the status, so that interest writes decide on it alone.
        let mut condition = "attribute_exists(#pk)".to_owned();
        match transition.count_guard {
            // Not while a draw is writing its participants: its count is not final.
            Some(CountGuard::ThresholdMet) => {
                condition.push_str(
                    " AND #participants >= #threshold AND attribute_not_exists(#drawPending)",
                );
            }
            Some(CountGuard::ThresholdNotMet) => {
                condition.push_str(" AND #participants < #threshold");
            }
            None => {}
        }
        let mut tally = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(pk))
            .key(SORT_KEY, s(TALLY_SK))
            .update_expression(
                "SET #status = :status, #everPublished = :everPublished, #version = :version",
            )
            .condition_expression(condition)
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#everPublished", "everPublished")
            .expression_attribute_names("#version", super::TALLY_VERSION)
            .expression_attribute_values(":status", s(next.status.as_str()))
            .expression_attribute_values(":version", n(next.version))
            .expression_attribute_values(
                ":everPublished",
                AttributeValue::Bool(next.ever_published()),
            );
        if transition.count_guard.is_some() {
            tally = tally
                .expression_attribute_names("#participants", "participantCount")
                .expression_attribute_names("#threshold", "minParticipants");
        }
        if transition.count_guard == Some(CountGuard::ThresholdMet) {
            tally = tally.expression_attribute_names("#drawPending", "drawPending");
        }
        let tally = tally
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let history = history_put(&self.table, &current.handle, &current.slug, entry)?;
        let mut items = vec![
            TransactWriteItem::builder().update(update).build(),
            TransactWriteItem::builder().update(tally).build(),
            TransactWriteItem::builder().put(history).build(),
        ];
        let delta = RollupDelta::transition(transition.from, transition.to);
        if let Some(rollup) = rollup_update(&self.table, &delta)? {
            items.push(TransactWriteItem::builder().update(rollup).build());
        }
        if transition.from == Status::Draft {
            let leaves_drafts = draft_age_update(&self.table, current.updated_at, -1)?;
            items.push(TransactWriteItem::builder().update(leaves_drafts).build());
        }
        items.extend(super::draw::transition_items(
            &self.table,
            current,
            next,
            opening,
        )?);
        // A close leaves its waitlist's items to be given their expiry (`store::retirement`);
        // only a published group-buy with a cap can have had a waitlist.
        let may_have_waited =
            transition.from != Status::Draft && current.max_participants.is_some();
        if let (Status::Closed, Some(closed_at), true) =
            (transition.to, next.closed_at, may_have_waited)
        {
            let retirement = Retirement {
                handle: current.handle.clone(),
                slug: current.slug.clone(),
                closed_at,
                draw: current.allocation == crate::domain::Allocation::Draw,
            };
            let put = retirement_put(&self.table, &retirement)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        self.transact(items, riders).await
    }

    /// Writes a deadline extension from `current` (as read) to `next`, with its history
    /// entry, in one transaction that holds only if nobody changed the group-buy's version
    /// since the read. The new deadline goes everywhere the old one was: the group-buy's own
    /// item and its key in the deadline index (so the scheduled expiry closes it at the new
    /// deadline, not the old), and the tally (so interest writes decide on it), whose
    /// `version` follows. The admin index's recently-changed key moves with `updatedAt`.
    /// `ConditionFailed` otherwise: the caller reads again and decides again.
    pub async fn extend(
        &self,
        current: &GroupBuy,
        next: &GroupBuy,
        entry: &HistoryEntry,
        riders: &Riders,
    ) -> Result<(), StoreError> {
        let (Some(closes_at), Some(first_closes_at), Some(deadline)) = (
            next.closes_at,
            next.first_closes_at,
            deadline_index_keys(next),
        ) else {
            return Err(StoreError::Corrupt(
                "an extension of a group-buy that is not open with a deadline".into(),
            ));
        };
        let mut assignments: Vec<(String, AttributeValue)> = vec![
            ("closesAt".into(), s(closes_at.to_string())),
            ("firstClosesAt".into(), s(first_closes_at.to_string())),
            ("extensionCount".into(), n(next.extension_count)),
            ("version".into(), n(next.version)),
            ("updatedAt".into(), s(next.updated_at.to_string())),
            (BY_STATUS.sort_key.into(), s(recently_changed_key(next))),
        ];
        assignments.extend(deadline);
        let pk = pk_of(&current.handle, &current.slug);
        let update = self.versioned_update(&pk, current, assignments, &[])?;
        let tally = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(pk))
            .key(SORT_KEY, s(TALLY_SK))
            .update_expression("SET #closesAt = :closesAt, #version = :version")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#closesAt", "closesAt")
            .expression_attribute_names("#version", super::TALLY_VERSION)
            .expression_attribute_values(":closesAt", s(closes_at.to_string()))
            .expression_attribute_values(":version", n(next.version))
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let history = history_put(&self.table, &current.handle, &current.slug, entry)?;
        let items = vec![
            TransactWriteItem::builder().update(update).build(),
            TransactWriteItem::builder().update(tally).build(),
            TransactWriteItem::builder().put(history).build(),
        ];
        self.transact(items, riders).await
    }

    /// The update of the group-buy's own item (`pk`) that holds only if its version is still
    /// the one `current` was read at: the guard of every transition and extension.
    fn versioned_update(
        &self,
        pk: &str,
        current: &GroupBuy,
        assignments: Vec<(String, AttributeValue)>,
        removals: &[&str],
    ) -> Result<Update, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(pk))
            .key(SORT_KEY, s(GROUP_BUY_SK))
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected", n(current.version));
        set_all(update, assignments, removals)
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// Records a refused attempt in the history. A refused close also raises the group-buy's
    /// `CLOSE_REJECTED` flag, until the next transition clears it.
    pub async fn record_refusal(
        &self,
        handle: &Handle,
        slug: &Slug,
        entry: &HistoryEntry,
        close_refused: bool,
        riders: &Riders,
    ) -> Result<(), StoreError> {
        let history = history_put(&self.table, handle, slug, entry)?;
        let mut items = vec![TransactWriteItem::builder().put(history).build()];
        if close_refused {
            let flag = Update::builder()
                .table_name(&self.table)
                .key(PARTITION_KEY, s(pk_of(handle, slug)))
                .key(SORT_KEY, s(GROUP_BUY_SK))
                .update_expression("SET #flag = :at")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#flag", "closeRejectedAt")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_values(":at", s(entry.at.to_string()))
                .build()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            items.push(TransactWriteItem::builder().update(flag).build());
        }
        self.transact(items, riders).await
    }
}
