//! A group-buy's statistics, hour by hour (API.md "Campaign statistics"), in a partition of
//! their own (`stats_pk`). Only the stream consumer writes them (`events::stats`), after the
//! registrations they count: a registration's own transaction is not one item larger.
//!
//! A stream record may be delivered more than once (a retried batch), so each write is safe to
//! repeat: a count goes up in one transaction with a mark of its record (`stats_seen_sk`,
//! kept two days by TTL, longer than the stream keeps the record), and the totals are set only
//! by a later record of the tally than the one that set them.

use super::{Store, StoreError, classify, classify_transaction, n, observed, part_key, s};
use crate::domain::Timestamp;
use crate::domain::stats::{RecordedHour, Totals};
use crate::table::layout::{STATS_HOUR_PREFIX, stats_hour_sk, stats_pk, stats_seen_sk};
use crate::table::{PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};
use aws_sdk_dynamodb::types::{Put, ReturnConsumedCapacity, TransactWriteItem, Update};
use serde::Deserialize;

/// How long the mark of a counted record is kept: DynamoDB Streams keeps a record 24 hours.
const SEEN_RETENTION_SECONDS: i64 = 2 * 24 * 3600;
/// Pages of hours one read follows (a page is up to 1 MB, some 10,000 hours).
const MAX_PAGES: usize = 10;
/// Stream sequence numbers are decimal strings of up to 40 digits: padded to that width, they
/// compare as strings in the order of their numbers (DynamoDB's numbers hold only 38 digits).
const SEQUENCE_WIDTH: usize = 40;

/// What one stream record adds to its hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    /// A visitor became a participant: a registration, a promotion, a draw's winner.
    Registered,
    /// A participant withdrew.
    Withdrawn,
}

impl Counted {
    fn attribute(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::Withdrawn => "withdrawn",
        }
    }
}

/// One hour's item.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredHour {
    start: Timestamp,
    #[serde(default)]
    registered: u32,
    #[serde(default)]
    withdrawn: u32,
    participants: Option<u32>,
    units: Option<u64>,
}

impl Store {
    /// Counts stream record `record_id` in `hour` of the group-buy; a record counted before
    /// is not counted again.
    pub async fn count_in_hour(
        &self,
        (handle, slug): (&str, &str),
        hour: Timestamp,
        counted: Counted,
        record_id: &str,
    ) -> Result<(), StoreError> {
        let pk = stats_pk(handle, slug);
        let expires = Timestamp::now().as_datetime().timestamp() + SEEN_RETENTION_SECONDS;
        let mut seen = part_key(&pk, &stats_seen_sk(record_id));
        seen.insert(TTL_ATTRIBUTE.to_owned(), n(expires));
        let mark = Put::builder()
            .table_name(&self.table)
            .set_item(Some(seen))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .build()
            .map_err(|e| StoreError::Rejected(format!("stats mark: {e}")))?;
        let count = Update::builder()
            .table_name(&self.table)
            .set_key(Some(part_key(&pk, &stats_hour_sk(&hour.to_string()))))
            .update_expression("SET #start = :start ADD #count :one")
            .expression_attribute_names("#start", "start")
            .expression_attribute_names("#count", counted.attribute())
            .expression_attribute_values(":start", s(hour.to_string()))
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(|e| StoreError::Rejected(format!("stats count: {e}")))?;
        let result = observed(
            self.client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(mark).build())
                .transact_items(TransactWriteItem::builder().update(count).build())
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await,
        );
        match result.map_err(classify_transaction) {
            // Marked already: this is a redelivery of a record that was counted.
            Ok(_) | Err(StoreError::ConditionFailed(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Sets the totals of `hour` to those the tally's record `sequence` left, unless a later
    /// record of the tally set them already.
    pub async fn set_hour_totals(
        &self,
        (handle, slug): (&str, &str),
        hour: Timestamp,
        totals: Totals,
        sequence: &str,
    ) -> Result<(), StoreError> {
        let result = observed(
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(part_key(
                    &stats_pk(handle, slug),
                    &stats_hour_sk(&hour.to_string()),
                )))
                .update_expression(
                    "SET #start = :start, #participants = :participants, #units = :units, \
                     #through = :sequence",
                )
                .condition_expression("attribute_not_exists(#through) OR #through < :sequence")
                .expression_attribute_names("#start", "start")
                .expression_attribute_names("#participants", "participants")
                .expression_attribute_names("#units", "units")
                .expression_attribute_names("#through", "totalsThrough")
                .expression_attribute_values(":start", s(hour.to_string()))
                .expression_attribute_values(":participants", n(totals.participants))
                .expression_attribute_values(":units", n(totals.units))
                .expression_attribute_values(
                    ":sequence",
                    s(format!("{sequence:0>SEQUENCE_WIDTH$}")),
                )
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await,
        );
        match result.map_err(|e| classify("UpdateItem", e)) {
            // A later record of the tally was here first.
            Ok(_) | Err(StoreError::ConditionFailed(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every hour recorded for the group-buy, oldest first: one query, no scan.
    pub async fn recorded_hours(
        &self,
        handle: &str,
        slug: &str,
    ) -> Result<Vec<RecordedHour>, StoreError> {
        let query = self
            .query()
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :hours)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(":pk", s(stats_pk(handle, slug)))
            .expression_attribute_values(":hours", s(STATS_HOUR_PREFIX));
        let items = self.query_all(query, MAX_PAGES).await?;
        items
            .into_iter()
            .map(|item| {
                let hour: StoredHour = super::decode(item)?;
                Ok(RecordedHour {
                    start: hour.start,
                    registered: hour.registered,
                    withdrawn: hour.withdrawn,
                    totals: hour
                        .participants
                        .zip(hour.units)
                        .map(|(participants, units)| Totals {
                            participants,
                            units,
                        }),
                })
            })
            .collect()
    }
}
