//! The closing-soon notice: the scheduled function marks, on the tally, the deadline for which
//! the 24 h notice was given (`closingSoonFor`); the stream turns that change into
//! `GroupBuyClosingSoon` (`events`). One conditional write per deadline: running the pass
//! twice, or two runs at once, gives one notice; an extension (a new `closesAt`) allows a new one.

use super::{Key, Page};
use super::{Store, StoreError, classify, observed, s};
use crate::domain::{Status, Timestamp};
use crate::table::layout::{TALLY_SK, after_time, deadline_of, deadline_partition};
use crate::table::{OPEN_BY_DEADLINE, PARTITION_KEY, SORT_KEY};
use serde::Deserialize;

/// The tally attribute holding the `closesAt` the notice was given for.
const CLOSING_SOON_FOR: &str = "closingSoonFor";

/// An entry of the deadline index (keys only): the group-buy's table key and its deadline key
/// `{closesAt}#{handle}#{slug}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct DeadlineEntry {
    #[serde(rename = "PK")]
    pub key: String,
    /// `OPEN_BY_DEADLINE.sort_key`.
    #[serde(rename = "GSI5SK")]
    pub deadline_key: String,
}

impl DeadlineEntry {
    /// The deadline the entry is listed under.
    pub fn closes_at(&self) -> Option<Timestamp> {
        Timestamp::parse(deadline_of(&self.deadline_key)?).ok()
    }
}

impl Store {
    /// One page of the open group-buys of one shard of the deadline index whose deadline
    /// falls after `now` and at or before `until`, soonest first, resuming at `start`.
    pub async fn closing_between(
        &self,
        shard: u32,
        now: Timestamp,
        until: Timestamp,
        limit: i32,
        start: Option<Key>,
    ) -> Result<Page<DeadlineEntry>, StoreError> {
        let query = self
            .query()
            .index_name(OPEN_BY_DEADLINE.name)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :after AND :until")
            .expression_attribute_names("#pk", OPEN_BY_DEADLINE.partition_key)
            .expression_attribute_names("#sk", OPEN_BY_DEADLINE.sort_key)
            .expression_attribute_values(":pk", s(deadline_partition(shard)))
            // A deadline at `now` is due, not closing soon.
            .expression_attribute_values(":after", s(after_time(&now.to_string())))
            .expression_attribute_values(":until", s(after_time(&until.to_string())))
            .limit(limit);
        self.page(query, start).await
    }

    /// Gives the closing-soon notice of the group-buy at table key `key` for `closes_at`:
    /// true when this call gave it; false when it was given already, or the group-buy has
    /// another deadline by now, or is no longer open.
    pub async fn mark_closing_soon(
        &self,
        key: &str,
        closes_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(key))
            .key(SORT_KEY, s(TALLY_SK))
            .update_expression("SET #notice = :closesAt")
            .condition_expression(
                "#closesAt = :closesAt AND (attribute_not_exists(#notice) OR #notice <> :closesAt) \
                 AND #status IN (:published, :paused)",
            )
            .expression_attribute_names("#notice", CLOSING_SOON_FOR)
            .expression_attribute_names("#closesAt", "closesAt")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":closesAt", s(closes_at.to_string()))
            .expression_attribute_values(":published", s(Status::Published.as_str()))
            .expression_attribute_values(":paused", s(Status::Paused.as_str()))
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Indexes)
            .send()
            .await;
        match observed(result).map_err(|e| classify("UpdateItem", e)) {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
