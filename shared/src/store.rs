//! DynamoDB access for group-buys. Every rule that could race is a condition of the write
//! that applies it; nothing here reads and then writes unconditionally.

use crate::domain::{CountGuard, GroupBuy, Handle, HistoryEntry, Slug, Status, Transition};
use crate::pagination::{Key, Page};
use crate::table::{BY_HANDLE, BY_HANDLE_AND_STATUS, Index, PARTITION_KEY, SORT_KEY};
use crate::telemetry::record_call;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnConsumedCapacity, TransactWriteItem, Update,
};
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

const GROUP_BUY_SK: &str = "GB";
const HISTORY_PREFIX: &str = "HIST#";
/// Sorts after every `HIST#…` key: `$` follows `#` in ASCII.
const HISTORY_END: &str = "HIST$";
/// A group-buy's history is read whole; this bounds the pages of one read.
const MAX_HISTORY_PAGES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition of the write did not hold.
    #[error("a write condition did not hold")]
    ConditionFailed,
    /// Another transaction touched the same items at the same moment.
    #[error("transaction conflict")]
    TransactionConflict,
    #[error("DynamoDB unavailable: {0}")]
    Unavailable(String),
    /// A request DynamoDB refused as malformed, or an item that does not decode: a bug.
    #[error("bad request or item: {0}")]
    Corrupt(String),
}

impl From<StoreError> for crate::error::ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(why) => Self::Dependency(why),
            StoreError::TransactionConflict => {
                Self::Dependency("transaction conflicts persisted".into())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

fn classify<E>(operation: &str, err: SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let why = || format!("{operation}: {}", DisplayErrorContext(&err));
    match err.code() {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
        Some("ValidationException" | "SerializationException") => StoreError::Corrupt(why()),
        _ => StoreError::Unavailable(why()),
    }
}

fn classify_transaction(err: SdkError<TransactWriteItemsError>) -> StoreError {
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        err.as_service_error()
    {
        let codes: Vec<&str> = cancelled
            .cancellation_reasons()
            .iter()
            .filter_map(|reason| reason.code())
            .collect();
        if codes.contains(&"ConditionalCheckFailed") {
            return StoreError::ConditionFailed;
        }
        if codes.contains(&"TransactionConflict") {
            return StoreError::TransactionConflict;
        }
    }
    classify("TransactWriteItems", err)
}

/// The capacity an output reports, for the per-request log line.
trait Consumed {
    fn capacity_units(&self) -> Option<f64>;
}

macro_rules! consumed_single {
    ($($output:ty),*) => {$(
        impl Consumed for $output {
            fn capacity_units(&self) -> Option<f64> {
                self.consumed_capacity().and_then(|c| c.capacity_units())
            }
        }
    )*};
}
consumed_single!(GetItemOutput, PutItemOutput, QueryOutput);

impl Consumed for TransactWriteItemsOutput {
    fn capacity_units(&self) -> Option<f64> {
        Some(
            self.consumed_capacity()
                .iter()
                .filter_map(|c| c.capacity_units())
                .sum(),
        )
    }
}

fn observed<T: Consumed, E>(result: Result<T, E>) -> Result<T, E> {
    record_call(result.as_ref().ok().and_then(Consumed::capacity_units));
    result
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn group_buy_pk(handle: &Handle, slug: &Slug) -> String {
    format!("GB#{handle}#{slug}")
}

fn handle_partition(handle: &Handle) -> String {
    format!("HANDLE#{handle}")
}

fn handle_status_partition(handle: &Handle, status: Status) -> String {
    format!("HANDLE#{handle}#{status}")
}

fn newest_first_key(gb: &GroupBuy) -> String {
    format!("{}#{}", gb.created_at, gb.slug)
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn group_buy_item(gb: &GroupBuy) -> Result<Item, StoreError> {
    let mut item = encode(gb)?;
    item.extend([
        (PARTITION_KEY.into(), s(group_buy_pk(&gb.handle, &gb.slug))),
        (SORT_KEY.into(), s(GROUP_BUY_SK)),
        (
            BY_HANDLE.partition_key.into(),
            s(handle_partition(&gb.handle)),
        ),
        (BY_HANDLE.sort_key.into(), s(newest_first_key(gb))),
        (
            BY_HANDLE_AND_STATUS.partition_key.into(),
            s(handle_status_partition(&gb.handle, gb.status)),
        ),
        (
            BY_HANDLE_AND_STATUS.sort_key.into(),
            s(newest_first_key(gb)),
        ),
    ]);
    Ok(item)
}

fn history_put(
    table: &str,
    handle: &Handle,
    slug: &Slug,
    entry: &HistoryEntry,
) -> Result<Put, StoreError> {
    let mut item = encode(entry)?;
    item.extend([
        (PARTITION_KEY.into(), s(group_buy_pk(handle, slug))),
        (
            SORT_KEY.into(),
            s(format!("{HISTORY_PREFIX}{}#{}", entry.at, entry.request_id)),
        ),
    ]);
    Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", PARTITION_KEY)
        .build()
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn to_cursor_key(key: Item) -> Key {
    key.into_iter()
        .filter_map(|(name, value)| match value {
            AttributeValue::S(v) => Some((name, v)),
            _ => None,
        })
        .collect()
}

#[derive(Clone)]
pub struct GroupBuyStore {
    client: Client,
    table: String,
}

impl GroupBuyStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Creates a draft and its first history entry; `ConditionFailed` when the slug is taken.
    pub async fn create(&self, gb: &GroupBuy, entry: &HistoryEntry) -> Result<(), StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(group_buy_item(gb)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let history = history_put(&self.table, &gb.handle, &gb.slug, entry)?;
        observed(
            self.client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(put).build())
                .transact_items(TransactWriteItem::builder().put(history).build())
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await,
        )
        .map_err(classify_transaction)?;
        Ok(())
    }

    /// A strongly consistent read, so a transition decides on the latest state.
    pub async fn get(&self, handle: &Handle, slug: &Slug) -> Result<Option<GroupBuy>, StoreError> {
        let out = observed(
            self.client
                .get_item()
                .table_name(&self.table)
                .key(PARTITION_KEY, s(group_buy_pk(handle, slug)))
                .key(SORT_KEY, s(GROUP_BUY_SK))
                .consistent_read(true)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await,
        )
        .map_err(|e| classify("GetItem", e))?;
        out.item.map(decode).transpose()
    }

    /// The group-buy and its history, oldest entry first, from one item collection.
    pub async fn get_with_history(
        &self,
        handle: &Handle,
        slug: &Slug,
    ) -> Result<Option<(GroupBuy, Vec<HistoryEntry>)>, StoreError> {
        let mut group_buy = None;
        let mut history = Vec::new();
        let mut start = None;
        for _ in 0..MAX_HISTORY_PAGES {
            let out = observed(
                self.client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("#pk = :pk AND #sk BETWEEN :first AND :last")
                    .expression_attribute_names("#pk", PARTITION_KEY)
                    .expression_attribute_names("#sk", SORT_KEY)
                    .expression_attribute_values(":pk", s(group_buy_pk(handle, slug)))
                    .expression_attribute_values(":first", s(GROUP_BUY_SK))
                    .expression_attribute_values(":last", s(HISTORY_END))
                    .consistent_read(true)
                    .set_exclusive_start_key(start)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await,
            )
            .map_err(|e| classify("Query", e))?;
            for item in out.items.unwrap_or_default() {
                let is_group_buy =
                    matches!(item.get(SORT_KEY), Some(AttributeValue::S(sk)) if sk == GROUP_BUY_SK);
                if is_group_buy {
                    group_buy = Some(decode::<GroupBuy>(item)?);
                } else {
                    history.push(decode::<HistoryEntry>(item)?);
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(group_buy.map(|gb| (gb, history)))
    }

    /// A handle's group-buys, newest first, optionally only those in `status`.
    pub async fn list(
        &self,
        handle: &Handle,
        status: Option<Status>,
        limit: i32,
        start: Option<Key>,
    ) -> Result<Page<GroupBuy>, StoreError> {
        let (index, partition): (Index, String) = match status {
            Some(status) => (
                BY_HANDLE_AND_STATUS,
                handle_status_partition(handle, status),
            ),
            None => (BY_HANDLE, handle_partition(handle)),
        };
        let start = start.map(|key| key.into_iter().map(|(k, v)| (k, s(v))).collect());
        let out = observed(
            self.client
                .query()
                .table_name(&self.table)
                .index_name(index.name)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", index.partition_key)
                .expression_attribute_values(":pk", s(partition))
                .scan_index_forward(false)
                .limit(limit)
                .set_exclusive_start_key(start)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await,
        )
        .map_err(|e| classify("Query", e))?;
        Ok(Page {
            items: out
                .items
                .unwrap_or_default()
                .into_iter()
                .map(decode)
                .collect::<Result<_, _>>()?,
            last_key: out.last_evaluated_key.map(to_cursor_key),
        })
    }

    /// Writes `transition` from `current` (as read) to `next`, with its history entry, in one
    /// transaction that holds only if nobody changed the group-buy's version since the read
    /// and the participant count still supports the decision. `ConditionFailed` otherwise:
    /// the caller reads again and decides again.
    pub async fn apply(
        &self,
        current: &GroupBuy,
        next: &GroupBuy,
        transition: &Transition,
        entry: &HistoryEntry,
    ) -> Result<(), StoreError> {
        let mut condition = "#version = :expected".to_owned();
        match transition.count_guard {
            Some(CountGuard::ThresholdMet) => {
                condition.push_str(" AND #participants >= #threshold");
            }
            Some(CountGuard::ThresholdNotMet) => {
                condition.push_str(" AND #participants < #threshold");
            }
            None => {}
        }
        let optional_time = |t: Option<crate::domain::Timestamp>| match t {
            Some(t) => s(t.to_string()),
            None => AttributeValue::Null(true),
        };
        let mut update = Update::builder()
            .table_name(&self.table)
            .key(
                PARTITION_KEY,
                s(group_buy_pk(&current.handle, &current.slug)),
            )
            .key(SORT_KEY, s(GROUP_BUY_SK))
            .update_expression(
                "SET #status = :status, #outcome = :outcome, #version = :next, \
                 #updatedAt = :updatedAt, #publishedAt = :publishedAt, #closedAt = :closedAt, \
                 #byStatus = :byStatus",
            )
            .condition_expression(condition)
            .expression_attribute_names("#version", "version")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#outcome", "closeOutcome")
            .expression_attribute_names("#updatedAt", "updatedAt")
            .expression_attribute_names("#publishedAt", "publishedAt")
            .expression_attribute_names("#closedAt", "closedAt")
            .expression_attribute_names("#byStatus", BY_HANDLE_AND_STATUS.partition_key)
            .expression_attribute_values(
                ":expected",
                AttributeValue::N(current.version.to_string()),
            )
            .expression_attribute_values(":next", AttributeValue::N(next.version.to_string()))
            .expression_attribute_values(":status", s(next.status.as_str()))
            .expression_attribute_values(
                ":outcome",
                next.close_outcome
                    .map_or(AttributeValue::Null(true), |o| s(o.as_str())),
            )
            .expression_attribute_values(":updatedAt", s(next.updated_at.to_string()))
            .expression_attribute_values(":publishedAt", optional_time(next.published_at))
            .expression_attribute_values(":closedAt", optional_time(next.closed_at))
            .expression_attribute_values(
                ":byStatus",
                s(handle_status_partition(&next.handle, next.status)),
            );
        if transition.count_guard.is_some() {
            update = update
                .expression_attribute_names("#participants", "participantCount")
                .expression_attribute_names("#threshold", "minParticipants");
        }
        let update = update
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let history = history_put(&self.table, &current.handle, &current.slug, entry)?;
        observed(
            self.client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().update(update).build())
                .transact_items(TransactWriteItem::builder().put(history).build())
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await,
        )
        .map_err(classify_transaction)?;
        Ok(())
    }

    /// Appends a history entry on its own (a refused attempt changes nothing else).
    pub async fn record(
        &self,
        handle: &Handle,
        slug: &Slug,
        entry: &HistoryEntry,
    ) -> Result<(), StoreError> {
        let put = history_put(&self.table, handle, slug, entry)?;
        observed(
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(put.item.into())
                .set_condition_expression(put.condition_expression)
                .set_expression_attribute_names(put.expression_attribute_names)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await,
        )
        .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }
}
