//! Support reports, stored durably for operators, each with its caller's daily limit.

use super::{ItemCheck, Store, StoreError, encode, n, s};
use crate::domain::Timestamp;
use crate::limits::DailyLimit;
use crate::table::{BY_HANDLE, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};

const REPORT_SK: &str = "REPORT";
const LIMIT_SK: &str = "LIMIT";

/// A report as stored. The caller is known by credential kind and a keyed hash, never by
/// its token or raw visitor id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredReport {
    pub report_id: String,
    pub received_at: Timestamp,
    /// The request id of the report itself.
    pub request_id: String,
    pub caller_kind: String,
    pub caller_key: String,
    pub summary: String,
    pub details: String,
    pub handle: Option<String>,
    pub session_id: Option<String>,
    /// The request id the report cites.
    pub cited_request_id: Option<String>,
    pub repro_artifact: Option<String>,
}

/// The conditional increment of a daily counter, for a transaction: it fails once the
/// limit is reached, and so takes the write it limits down with it.
pub(super) fn count_against(table: &str, limit: &DailyLimit) -> Result<Update, StoreError> {
    Update::builder()
        .table_name(table)
        .key(PARTITION_KEY, s(limit.key()))
        .key(SORT_KEY, s(LIMIT_SK))
        .update_expression("SET #count = if_not_exists(#count, :zero) + :one, #ttl = :ttl")
        .condition_expression("attribute_not_exists(#count) OR #count < :limit")
        .expression_attribute_names("#count", "count")
        .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
        .expression_attribute_values(":zero", n(0))
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":limit", n(limit.limit))
        .expression_attribute_values(":ttl", n(limit.expires_at))
        .build()
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Whether a refused transaction was refused by its limit counter (at `index`).
pub fn refused_by_limit(checks: &[ItemCheck], index: usize) -> bool {
    matches!(checks.get(index), Some(ItemCheck::Failed(_)))
}

impl Store {
    /// Stores `report` if its caller is under `limit`; `ConditionFailed` (index 0) otherwise.
    pub async fn submit_report(
        &self,
        report: &StoredReport,
        limit: &DailyLimit,
    ) -> Result<(), StoreError> {
        let mut item = encode(report)?;
        let day = &report.received_at.to_string()[..10];
        item.extend([
            (
                PARTITION_KEY.to_owned(),
                s(format!("REPORT#{}", report.report_id)),
            ),
            (SORT_KEY.to_owned(), s(REPORT_SK)),
            // Operators list a day's reports newest first through GSI1.
            (
                BY_HANDLE.partition_key.to_owned(),
                s(format!("REPORTS#{day}")),
            ),
            (
                BY_HANDLE.sort_key.to_owned(),
                s(format!("{}#{}", report.received_at, report.report_id)),
            ),
        ]);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.transact(vec![
            TransactWriteItem::builder()
                .update(count_against(&self.table, limit)?)
                .build(),
            TransactWriteItem::builder().put(put).build(),
        ])
        .await
    }
}
