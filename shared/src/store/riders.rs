//! What rides along a business write in its transaction: the daily limit it counts against
//! and the idempotency record it leaves. Riders go last, limit first, so a refusal can be
//! told apart from the business conditions by position.

use super::{Item, ItemCheck, Store, StoreError, decode, encode, n, observed, s};
use crate::domain::daily_limit::DailyLimit;
use crate::store::{RETENTION_SECONDS, StoredResponse};
use crate::table::layout::{IDEMPOTENCY_SK, LIMIT_SK};
use crate::table::{PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    Put, ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

#[derive(Clone, Debug, Default)]
pub struct Riders {
    pub limit: Option<DailyLimit>,
    /// The record key and the response to keep.
    pub idempotency: Option<(String, StoredResponse)>,
}

/// Why a rider refused the write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    Limit,
    /// A live record for the key: the first request's response.
    Replay(StoredResponse),
}

/// The conditional increment of a daily counter: it fails once the limit is reached, and
/// so takes the write it limits down with it.
fn count_against(table: &str, limit: &DailyLimit) -> Result<Update, StoreError> {
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

/// The record of a keyed request, written only if no live record holds the key (an expired
/// one counts as absent: TTL deletion lags).
fn keep(table: &str, record_key: &str, stored: &StoredResponse) -> Result<Put, StoreError> {
    let mut item = encode(stored)?;
    item.extend([
        (PARTITION_KEY.to_owned(), s(record_key)),
        (SORT_KEY.to_owned(), s(IDEMPOTENCY_SK)),
        (TTL_ATTRIBUTE.to_owned(), n(stored.expires_at)),
    ]);
    let now = stored.expires_at - RETENTION_SECONDS;
    Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#pk) OR #expires <= :now")
        .expression_attribute_names("#pk", PARTITION_KEY)
        .expression_attribute_names("#expires", "expiresAt")
        .expression_attribute_values(":now", n(now))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Riders {
    pub(super) fn items(&self, table: &str) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut items = Vec::new();
        if let Some(limit) = &self.limit {
            let update = count_against(table, limit)?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        if let Some((record_key, stored)) = &self.idempotency {
            let put = keep(table, record_key, stored)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        Ok(items)
    }

    /// Which rider refused a transaction, if one did; a replay wins over the limit (a replay
    /// never counts).
    pub fn refusal(&self, checks: &[ItemCheck]) -> Result<Option<Refusal>, StoreError> {
        let mut from_end = checks.iter().rev();
        if self.idempotency.is_some()
            && let Some(ItemCheck::Failed(Some(item))) = from_end.next()
        {
            return Ok(Some(Refusal::Replay(decode(item.clone())?)));
        }
        if self.limit.is_some() && matches!(from_end.next(), Some(ItemCheck::Failed(_))) {
            return Ok(Some(Refusal::Limit));
        }
        Ok(None)
    }
}

/// How a lone conditional put ended.
pub(super) enum PutOutcome {
    Written,
    /// Its condition refused it; the item that did, when DynamoDB returned it.
    Held(Option<Item>),
}

impl Store {
    /// Sends `put` alone (not in a transaction), with its condition, asking for the item
    /// that refuses it.
    pub(super) async fn put_unless_held(&self, put: Put) -> Result<PutOutcome, StoreError> {
        let result = observed(
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(put.item.into())
                .set_condition_expression(put.condition_expression)
                .set_expression_attribute_names(put.expression_attribute_names)
                .set_expression_attribute_values(put.expression_attribute_values)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
                .send()
                .await,
        );
        match result {
            Ok(_) => Ok(PutOutcome::Written),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(PutOutcome::Held(failed.item().cloned()))
                }
                _ => Err(super::classify("PutItem", e)),
            },
        }
    }

    /// The live record under `record_key`, if there is one: what a retry made across a
    /// rotation of the idempotency key looks for under the earlier keys.
    pub async fn kept_response(
        &self,
        record_key: &str,
        now_epoch: i64,
    ) -> Result<Option<StoredResponse>, StoreError> {
        let out = observed(
            self.client
                .get_item()
                .table_name(&self.table)
                .key(PARTITION_KEY, s(record_key))
                .key(SORT_KEY, s(IDEMPOTENCY_SK))
                .consistent_read(true)
                .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
                .send()
                .await,
        )
        .map_err(|e| super::classify("GetItem", e))?;
        let stored: Option<StoredResponse> = out.item.map(decode).transpose()?;
        // TTL deletion lags: an expired record is no record.
        Ok(stored.filter(|record| record.expires_at > now_epoch))
    }

    /// Keeps the response of a keyed request that wrote nothing else; when a live record
    /// already holds the key, returns it instead.
    pub async fn keep_response(
        &self,
        record_key: &str,
        stored: &StoredResponse,
    ) -> Result<Option<StoredResponse>, StoreError> {
        let put = keep(&self.table, record_key, stored)?;
        match self.put_unless_held(put).await? {
            PutOutcome::Written => Ok(None),
            PutOutcome::Held(existing) => existing.map(decode).transpose(),
        }
    }
}
