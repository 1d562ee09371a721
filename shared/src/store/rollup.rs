//! The admin rollup, kept current as writes happen instead of computed by scanning.
//!
//! Campaign-wide counters are spread over `ROLLUP_SHARDS` partitions (`PK = ROLLUP#n`,
//! `SK = TOTALS`); each write adds its delta to one shard picked at random, inside the write's
//! own transaction, so that no partition key takes the whole platform's writes and the
//! counters stay exact. Drafts are also counted per hour of their last update
//! (`SK = DRAFTS#<hour>`, in a random shard), so the number of stuck drafts is the drafts
//! total less the drafts of the recent hours. Reading the summary is one Query per shard, all
//! at once, of a few small items each, however many group-buys there are.

use super::{Item, Store, StoreError, n, s};
use super::{Key, Page};
use crate::domain::rollup::{RollupDelta, hour_bucket};
use crate::domain::{GroupBuy, Status, Timestamp};
use crate::table::layout::{
    DRAFTS_PREFIX, GROUP_BUY_SK, INDEX_SHARDS, ROLLUP_SHARDS, TOTALS_SK, drafts_sk,
    group_buy_of_recently_changed, group_buy_pk, rollup_partition, status_partition,
};
use crate::table::{BY_STATUS, PARTITION_KEY, SORT_KEY};
use aws_sdk_dynamodb::types::{AttributeValue, Update};
use serde::Serialize;

/// Bounds the pages of one summary read (it fits in one).
const MAX_ROLLUP_PAGES: usize = 4;

fn random_shard() -> String {
    rollup_partition(fastrand::u32(0..ROLLUP_SHARDS))
}

fn add_all(table: &str, sort_key: String, counters: &[(&str, i64)]) -> Result<Update, StoreError> {
    let mut update = Update::builder()
        .table_name(table)
        .key(PARTITION_KEY, s(random_shard()))
        .key(SORT_KEY, s(sort_key));
    let mut clauses = Vec::new();
    for (i, (name, by)) in counters.iter().enumerate() {
        clauses.push(format!("#c{i} :c{i}"));
        update = update
            .expression_attribute_names(format!("#c{i}"), *name)
            .expression_attribute_values(format!(":c{i}"), n(by));
    }
    update
        .update_expression(format!("ADD {}", clauses.join(", ")))
        .build()
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The shard update carrying `delta`; `None` when it changes nothing.
pub(super) fn rollup_update(
    table: &str,
    delta: &RollupDelta,
) -> Result<Option<Update>, StoreError> {
    let counters = delta.attributes();
    if counters.is_empty() {
        return Ok(None);
    }
    add_all(table, TOTALS_SK.into(), &counters).map(Some)
}

/// One more (or less) draft last updated in the hour of `at`.
pub(super) fn draft_age_update(table: &str, at: Timestamp, by: i64) -> Result<Update, StoreError> {
    add_all(table, drafts_sk(&hour_bucket(at)), &[("count", by)])
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ByStatus {
    pub draft: i64,
    pub published: i64,
    pub paused: i64,
    pub closed: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub by_status: ByStatus,
    pub participants: i64,
    pub units: i64,
    pub threshold_met: i64,
    pub stuck_drafts: i64,
}

fn number(item: &super::Item, name: &str) -> i64 {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().unwrap_or(0),
        _ => 0,
    }
}

impl Store {
    /// The summary; drafts last updated before the hour of `stuck_before` count as stuck.
    pub async fn rollup_summary(&self, stuck_before: Timestamp) -> Result<Summary, StoreError> {
        // `TOTALS` sorts after every `DRAFTS#…`, so one range holds the recent hours and it.
        let from = s(drafts_sk(&hour_bucket(stuck_before)));
        let shards = (0..ROLLUP_SHARDS).map(|shard| {
            let query = self
                .query()
                .key_condition_expression("#pk = :pk AND #sk >= :from")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_names("#sk", SORT_KEY)
                .expression_attribute_values(":pk", s(rollup_partition(shard)))
                .expression_attribute_values(":from", from.clone())
                .consistent_read(true);
            // One page in practice: the items are few and small.
            self.query_all(query, MAX_ROLLUP_PAGES)
        });
        let mut summary = Summary::default();
        let mut recent_drafts = 0;
        for item in futures_util::future::try_join_all(shards)
            .await?
            .into_iter()
            .flatten()
        {
            let Some(AttributeValue::S(sk)) = item.get(SORT_KEY) else {
                continue;
            };
            if sk.starts_with(DRAFTS_PREFIX) {
                recent_drafts += number(&item, "count");
            } else if sk == TOTALS_SK {
                summary.by_status.draft += number(&item, "draft");
                summary.by_status.published += number(&item, "published");
                summary.by_status.paused += number(&item, "paused");
                summary.by_status.closed += number(&item, "closed");
                summary.participants += number(&item, "participants");
                summary.units += number(&item, "units");
                summary.threshold_met += number(&item, "thresholdMet");
            }
        }
        summary.stuck_drafts = (summary.by_status.draft - recent_drafts).max(0);
        Ok(summary)
    }

    /// Group-buys of every handle in `status`, most recently changed first: the admin
    /// index's write shards queried at once and merged. The cursor keeps, per shard, the
    /// sort key of the last group-buy served (`-` once the shard is exhausted).
    pub async fn list_by_status(
        &self,
        status: Status,
        limit: i32,
        start: Option<Key>,
    ) -> Result<Page<GroupBuy>, StoreError> {
        let start = start.unwrap_or_default();
        let positions: Vec<Option<String>> = (0..INDEX_SHARDS)
            .map(|shard| start.get(&shard_in_cursor(shard)).cloned())
            .collect();
        let queries = (0..INDEX_SHARDS).zip(&positions).map(|(shard, position)| {
            let partition = status_partition(status.as_str(), shard);
            async move {
                if position.as_deref() == Some(EXHAUSTED) {
                    return Ok((Vec::new(), false));
                }
                let resume = match position {
                    Some(sort_key) => Some(admin_index_key(&partition, sort_key)?),
                    None => None,
                };
                let query = self
                    .query()
                    .index_name(BY_STATUS.name)
                    .key_condition_expression("#pk = :pk")
                    .expression_attribute_names("#pk", BY_STATUS.partition_key)
                    .expression_attribute_values(":pk", s(partition.clone()))
                    .scan_index_forward(false)
                    .limit(limit);
                let (items, last) = self.raw_page(query, resume).await?;
                Ok::<_, StoreError>((items, last.is_some()))
            }
        });
        let found = futures_util::future::try_join_all(queries).await?;
        // Newest first across shards; each shard's items are already in that order.
        let mut merged: Vec<(String, u32, Item)> = Vec::new();
        for (shard, (items, _)) in (0..INDEX_SHARDS).zip(&found) {
            for item in items {
                let Some(AttributeValue::S(sort_key)) = item.get(BY_STATUS.sort_key) else {
                    return Err(StoreError::Corrupt("an admin entry without its key".into()));
                };
                merged.push((sort_key.clone(), shard, item.clone()));
            }
        }
        merged.sort_by(|a, b| b.0.cmp(&a.0));
        merged.truncate(usize::try_from(limit).unwrap_or(0));
        let mut next = Key::new();
        let mut more = false;
        for (shard, (items, shard_has_more)) in (0..INDEX_SHARDS).zip(&found) {
            let served: Vec<&String> = merged
                .iter()
                .filter(|(_, s, _)| *s == shard)
                .map(|(k, _, _)| k)
                .collect();
            let position = match served.last() {
                Some(_) if served.len() == items.len() && !shard_has_more => EXHAUSTED.into(),
                Some(last) => (*last).clone(),
                None if items.is_empty() && !shard_has_more => EXHAUSTED.into(),
                None => match &positions[shard as usize] {
                    Some(position) => position.clone(),
                    None => {
                        more = true;
                        continue;
                    }
                },
            };
            more |= position != EXHAUSTED;
            next.insert(shard_in_cursor(shard), position);
        }
        let listed = merged.into_iter().map(|(_, _, item)| item).collect();
        Ok(Page {
            items: self.complete(listed, false).await?,
            last_key: more.then_some(next),
        })
    }
}

/// A shard whose entries were all served.
const EXHAUSTED: &str = "-";

fn shard_in_cursor(shard: u32) -> String {
    format!("_s{shard}")
}

/// The start key of a Query of the admin index after the entry whose sort key is
/// `sort_key` (`recently_changed_sk`, which names the group-buy's table key).
fn admin_index_key(partition: &str, sort_key: &str) -> Result<Item, StoreError> {
    let (handle, slug) = group_buy_of_recently_changed(sort_key)
        .ok_or_else(|| StoreError::Corrupt("an admin cursor of no group-buy".into()))?;
    Ok(Item::from([
        (PARTITION_KEY.to_owned(), s(group_buy_pk(handle, slug))),
        (SORT_KEY.to_owned(), s(GROUP_BUY_SK)),
        (BY_STATUS.partition_key.to_owned(), s(partition)),
        (BY_STATUS.sort_key.to_owned(), s(sort_key)),
    ]))
}
