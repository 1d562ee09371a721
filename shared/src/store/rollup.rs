//! The admin rollup, kept current as writes happen instead of computed by scanning.
//!
//! Campaign-wide counters live in `ROLLUP_SHARDS` items (`PK = ROLLUP`, `SK = SHARD#n`); each
//! write adds its delta to one shard picked at random, inside the write's own transaction, so
//! no single item becomes a hot key and the counters are exact. Drafts are also counted per
//! hour of their last update (`SK = DRAFTS#<hour>`), so the number of stuck drafts is the
//! drafts total less the drafts of the recent hours. Reading the summary is one Query of at
//! most `ROLLUP_SHARDS + STUCK_DRAFT_HOURS + 1` items, however many group-buys there are.

use super::{Store, StoreError, n, s};
use crate::domain::rollup::{RollupDelta, hour_bucket};
use crate::domain::{GroupBuy, Status, Timestamp};
use crate::pagination::{Key, Page};
use crate::table::{BY_STATUS, PARTITION_KEY, SORT_KEY};
use aws_sdk_dynamodb::types::{AttributeValue, Update};
use serde::Serialize;

const ROLLUP_PK: &str = "ROLLUP";
pub const ROLLUP_SHARDS: u32 = 8;
const SHARD_PREFIX: &str = "SHARD#";
const DRAFTS_PREFIX: &str = "DRAFTS#";
/// Bounds the pages of one summary read (it fits in one).
const MAX_ROLLUP_PAGES: usize = 4;

pub(super) fn status_partition(status: Status) -> String {
    format!("ALL#{status}")
}

/// The admin index's sort key: most recently changed first.
pub(super) fn recently_changed_key(gb: &GroupBuy) -> String {
    format!("{}#{}#{}", gb.updated_at, gb.handle, gb.slug)
}

fn add_all(table: &str, sort_key: String, counters: &[(&str, i64)]) -> Result<Update, StoreError> {
    let mut update = Update::builder()
        .table_name(table)
        .key(PARTITION_KEY, s(ROLLUP_PK))
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
    let shard = fastrand::u32(0..ROLLUP_SHARDS);
    add_all(table, format!("{SHARD_PREFIX}{shard}"), &counters).map(Some)
}

/// One more (or less) draft last updated in the hour of `at`.
pub(super) fn draft_age_update(table: &str, at: Timestamp, by: i64) -> Result<Update, StoreError> {
    add_all(
        table,
        format!("{DRAFTS_PREFIX}{}", hour_bucket(at)),
        &[("count", by)],
    )
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
        let query = self
            .query()
            .key_condition_expression("#pk = :pk AND #sk >= :from")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(":pk", s(ROLLUP_PK))
            .expression_attribute_values(
                ":from",
                s(format!("{DRAFTS_PREFIX}{}", hour_bucket(stuck_before))),
            )
            .consistent_read(true);
        let mut summary = Summary::default();
        let mut recent_drafts = 0;
        // One page in practice: the items are few and small.
        for item in self.query_all(query, MAX_ROLLUP_PAGES).await? {
            let Some(AttributeValue::S(sk)) = item.get(SORT_KEY) else {
                continue;
            };
            if sk.starts_with(DRAFTS_PREFIX) {
                recent_drafts += number(&item, "count");
            } else if sk.starts_with(SHARD_PREFIX) {
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

    /// Group-buys of every handle in `status`, most recently changed first.
    pub async fn list_by_status(
        &self,
        status: Status,
        limit: i32,
        start: Option<Key>,
    ) -> Result<Page<GroupBuy>, StoreError> {
        let query = self
            .query()
            .index_name(BY_STATUS.name)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", BY_STATUS.partition_key)
            .expression_attribute_values(":pk", s(status_partition(status)))
            .scan_index_forward(false)
            .limit(limit);
        self.page(query, start).await
    }
}
