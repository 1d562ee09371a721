//! Support reports, stored durably for operators, each with its caller's daily limit.

use super::{Riders, Store, StoreError, encode, n, s};
use crate::domain::Timestamp;
use crate::table::layout::{REPORT_SK, newest_first_sk, report_pk, reports_partition};
use crate::table::{BY_HANDLE, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

/// How long a report is kept (API.md, "Data retention"): DynamoDB deletes it by TTL after.
pub const REPORT_RETENTION_DAYS: i64 = 400;

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

impl Store {
    /// Stores `report`; its riders carry the caller's daily limit.
    pub async fn submit_report(
        &self,
        report: &StoredReport,
        riders: &Riders,
    ) -> Result<(), StoreError> {
        let mut item = encode(report)?;
        let received_at = report.received_at.to_string();
        let day = &received_at[..10];
        let expires_at = report
            .received_at
            .plus_millis(REPORT_RETENTION_DAYS * 24 * 3600 * 1000)
            .as_datetime()
            .timestamp();
        item.extend([
            (PARTITION_KEY.to_owned(), s(report_pk(&report.report_id))),
            (SORT_KEY.to_owned(), s(REPORT_SK)),
            (TTL_ATTRIBUTE.to_owned(), n(expires_at)),
            // Operators list a day's reports newest first through GSI1.
            (
                BY_HANDLE.partition_key.to_owned(),
                s(reports_partition(day)),
            ),
            (
                BY_HANDLE.sort_key.to_owned(),
                s(newest_first_sk(&received_at, &report.report_id)),
            ),
        ]);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.transact(vec![TransactWriteItem::builder().put(put).build()], riders)
            .await
    }
}
