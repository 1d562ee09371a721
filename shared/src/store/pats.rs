//! Personal access token records.

use super::{Store, StoreError, classify, decode, encode, observed, s};
use crate::domain::{Handle, Timestamp};
use crate::table::layout::{PAT_SK, newest_first_sk, pat_pk, pats_partition};
use crate::table::{BY_HANDLE, PARTITION_KEY, SORT_KEY};
use aws_sdk_dynamodb::types::ReturnConsumedCapacity;
use serde::{Deserialize, Serialize};

/// A token's stored record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatRecord {
    pub id: String,
    pub handle: Handle,
    pub name: String,
    pub scopes: Vec<String>,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

/// Enough pages for every token of a handle in the operator's listing.
const MAX_PAT_PAGES: usize = 10;

impl Store {
    pub async fn create_pat(&self, record: &PatRecord) -> Result<(), StoreError> {
        let mut item = encode(record)?;
        item.extend([
            (PARTITION_KEY.to_owned(), s(pat_pk(&record.id))),
            (SORT_KEY.to_owned(), s(PAT_SK)),
            (
                BY_HANDLE.partition_key.to_owned(),
                s(pats_partition(record.handle.as_str())),
            ),
            (
                BY_HANDLE.sort_key.to_owned(),
                s(newest_first_sk(&record.created_at.to_string(), &record.id)),
            ),
        ]);
        observed(
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
                .send()
                .await,
        )
        .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }

    pub async fn get_pat(&self, id: &str) -> Result<Option<PatRecord>, StoreError> {
        let out = observed(
            self.client
                .get_item()
                .table_name(&self.table)
                .key(PARTITION_KEY, s(pat_pk(id)))
                .key(SORT_KEY, s(PAT_SK))
                .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
                .send()
                .await,
        )
        .map_err(|e| classify("GetItem", e))?;
        out.item.map(decode).transpose()
    }

    pub async fn list_pats(&self, handle: &Handle) -> Result<Vec<PatRecord>, StoreError> {
        let query = self
            .query()
            .index_name(BY_HANDLE.name)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", BY_HANDLE.partition_key)
            .expression_attribute_values(":pk", s(pats_partition(handle.as_str())))
            .scan_index_forward(false);
        self.query_all(query, MAX_PAT_PAGES)
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    /// Marks a token revoked; `ConditionFailed` when there is no such token.
    pub async fn revoke_pat(&self, id: &str, at: Timestamp) -> Result<(), StoreError> {
        observed(
            self.client
                .update_item()
                .table_name(&self.table)
                .key(PARTITION_KEY, s(pat_pk(id)))
                .key(SORT_KEY, s(PAT_SK))
                .update_expression("SET #revokedAt = :at")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_names("#revokedAt", "revokedAt")
                .expression_attribute_values(":at", s(at.to_string()))
                .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
                .send()
                .await,
        )
        .map_err(|e| classify("UpdateItem", e))?;
        Ok(())
    }

    /// Notes a use, unless one was noted after `cutoff` (so racing requests write once).
    pub async fn touch_pat(
        &self,
        id: &str,
        now: Timestamp,
        cutoff: Timestamp,
    ) -> Result<(), StoreError> {
        let result = observed(
            self.client
                .update_item()
                .table_name(&self.table)
                .key(PARTITION_KEY, s(pat_pk(id)))
                .key(SORT_KEY, s(PAT_SK))
                .update_expression("SET #lastUsedAt = :now")
                .condition_expression(
                    "attribute_exists(#pk) AND (attribute_not_exists(#lastUsedAt) \
                     OR attribute_type(#lastUsedAt, :null) OR #lastUsedAt < :cutoff)",
                )
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_names("#lastUsedAt", "lastUsedAt")
                .expression_attribute_values(":now", s(now.to_string()))
                .expression_attribute_values(":cutoff", s(cutoff.to_string()))
                .expression_attribute_values(":null", s("NULL"))
                .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
                .send()
                .await,
        )
        .map_err(|e| classify("UpdateItem", e));
        match result {
            Ok(_) | Err(StoreError::ConditionFailed(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
