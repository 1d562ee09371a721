//! DynamoDB access. Every rule that could race is a condition of the write that applies it;
//! nothing here reads and then writes unconditionally. Every key comes from `table::layout`;
//! why the table is laid out so: docs/reference/table.md.

mod challenges;
mod closing_soon;
pub mod decide_and_write;
mod draw;
mod group_buys;
mod interests;
mod pats;
mod reports;
mod retirement;
mod riders;
mod rollup;
mod stats;
mod stored_response;
mod waitlist;

use crate::domain::{GroupBuy, Handle, Slug, Status, Tally};

use crate::table::layout::{
    DESCRIPTION_SK, GROUP_BUY_SK, TALLY_SK, deadline_partition, deadline_sk, group_buy_pk,
    handle_partition, handle_status_partition, index_shard, newest_first_sk, public_partition,
    recently_changed_sk, status_partition,
};
use crate::table::{
    BY_HANDLE, BY_HANDLE_AND_STATUS, BY_STATUS, OPEN_BY_DEADLINE, PARTITION_KEY, PUBLIC_BY_HANDLE,
    SORT_KEY,
};
use crate::telemetry::record_call;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::scan::ScanOutput;
use aws_sdk_dynamodb::operation::transact_get_items::TransactGetItemsOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConsumedCapacity, KeysAndAttributes, Put, ReturnConsumedCapacity,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use std::collections::{BTreeMap, HashMap};

pub use challenges::Redemption;
pub use closing_soon::DeadlineEntry;
pub use draw::{DrawEntry, DrawOpening, DrawRun, DueDraw, EntryShard, EntryWrite};
pub use group_buys::{DueKey, Listing};
pub use interests::{
    INTEREST_ATTEMPTS, InterestRecord, InterestSnapshot, InterestWrite, Layout, Learned, back_off,
};
pub use pats::PatRecord;
pub use reports::{REPORT_RETENTION_DAYS, StoredReport};
pub use retirement::{RETENTION_AFTER_CLOSE_DAYS, Retirement};
pub use riders::{Refusal, Riders};
pub use rollup::Summary;
pub use stats::Counted;
pub use stored_response::{RETENTION_SECONDS, StoredResponse};
pub use waitlist::{WaitlistEntry, WaitlistHead};

type Item = HashMap<String, AttributeValue>;

/// A DynamoDB key to resume a query from (all the table's key attributes are strings). The
/// HTTP edge seals it into a cursor (`http::cursor`); the store never sees a cursor.
pub type Key = BTreeMap<String, String>;

/// One page of results and the key to resume from.
pub struct Page<T> {
    pub items: Vec<T>,
    pub last_key: Option<Key>,
}

/// Keys per BatchGetItem call (DynamoDB's limit).
const BATCH_GET_KEYS: usize = 100;
/// Unprocessed keys of a BatchGetItem are asked for again this many times at most.
const BATCH_GET_ATTEMPTS: usize = 3;

/// A literal, so that both conditions below are built from it at compile time.
macro_rules! before_deadline {
    () => {
        "(attribute_not_exists(#closesAt) OR attribute_type(#closesAt, :null) OR #closesAt > :now)"
    };
}
pub(crate) const BEFORE_DEADLINE: &str = before_deadline!();
pub(crate) const OPEN_FOR_REGISTRATION: &str =
    concat!("#status = :published AND ", before_deadline!());

/// The tally's count of waiting visitors (absent = 0).
const WAITLIST_COUNT: &str = "waitlistCount";

/// Attributes of `GroupBuy` stored in the description and tally items, not its own.
const KEPT_APART: [&str; 4] = [
    "description",
    "participantCount",
    "unitCount",
    "waitlistCount",
];
/// The tally attribute one participant short of the threshold.
const THRESHOLD_EDGE: &str = "thresholdEdge";
/// The tally's copy of the group-buy's `version`.
const TALLY_VERSION: &str = "version";

/// How one item of a cancelled transaction fared.
#[derive(Clone, Debug, PartialEq)]
pub enum ItemCheck {
    Passed,
    /// Its condition failed; the item as it was (`ReturnValuesOnConditionCheckFailure`),
    /// `None` when it did not exist.
    Failed(Option<Item>),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition of the write did not hold; for a transaction, how each item fared.
    #[error("a write condition did not hold")]
    ConditionFailed(Vec<ItemCheck>),
    /// Another transaction touched the same items at the same moment.
    #[error("transaction conflict")]
    TransactionConflict,
    /// A failure that may pass: throttling, DynamoDB's own fault, no answer in time, no
    /// connection. The client is asked to retry (503).
    #[error("DynamoDB unavailable: {0}")]
    Unavailable(String),
    /// DynamoDB refused the request for a reason on our side: a missing table, a denied
    /// permission, bad credentials, a malformed request. A bug or a misconfiguration that a
    /// retry cannot cure (500), and that must alert as one.
    #[error("DynamoDB refused the request: {0}")]
    Rejected(String),
    /// An item that does not encode or decode, or a request that cannot be built: a bug.
    #[error("bad request or item: {0}")]
    Corrupt(String),
}

/// How a DynamoDB call failed, as far as `class_of` needs to know.
#[derive(Clone, Copy, Debug)]
enum Failure<'a> {
    /// The SDK could not build the request.
    Construction,
    /// No answer: timed out, or could not connect or send.
    NoAnswer,
    /// An answer that could not be read, such as a body cut off mid-way.
    Unreadable,
    /// DynamoDB answered with an error.
    Service { code: Option<&'a str>, status: u16 },
}

/// What a failed call means for the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    ConditionFailed,
    Transient,
    Ours,
}

/// Whose fault a failure is. DynamoDB answers its own faults and throttling of a correct
/// request with the codes named as transient; a code this service does not know is taken
/// from the HTTP status, 5xx being DynamoDB's fault and 4xx the request's.
fn class_of(failure: Failure<'_>) -> Class {
    match failure {
        Failure::Construction => Class::Ours,
        Failure::NoAnswer | Failure::Unreadable => Class::Transient,
        Failure::Service { code, status } => match code {
            Some("ConditionalCheckFailedException") => Class::ConditionFailed,
            Some(
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "InternalServerError"
                | "ServiceUnavailable"
                // Other writes in flight on the same items: gone by the next attempt.
                | "TransactionConflictException"
                | "TransactionInProgressException"
                | "ReplicatedWriteConflictException",
            ) => Class::Transient,
            Some(
                "AccessDeniedException"
                | "ResourceNotFoundException"
                | "ValidationException"
                | "SerializationException"
                | "UnrecognizedClientException"
                | "MissingAuthenticationTokenException"
                | "IncompleteSignature"
                | "InvalidSignatureException",
            ) => Class::Ours,
            _ if status >= 500 => Class::Transient,
            _ => Class::Ours,
        },
    }
}

fn failure_of<E>(err: &SdkError<E>) -> Failure<'_>
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ConstructionFailure(_) => Failure::Construction,
        SdkError::ResponseError(_) => Failure::Unreadable,
        SdkError::ServiceError(service) => Failure::Service {
            code: service.err().code(),
            status: service.raw().status().as_u16(),
        },
        // Timeouts, dispatch failures, and whatever kind a later SDK adds: a retry may pass.
        _ => Failure::NoAnswer,
    }
}

fn classify<E>(operation: &str, err: SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let why = || format!("{operation}: {}", DisplayErrorContext(&err));
    match class_of(failure_of(&err)) {
        Class::ConditionFailed => StoreError::ConditionFailed(Vec::new()),
        Class::Transient => StoreError::Unavailable(why()),
        Class::Ours => StoreError::Rejected(why()),
    }
}

fn classify_transaction(err: SdkError<TransactWriteItemsError>) -> StoreError {
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        err.as_service_error()
    {
        let reasons = cancelled.cancellation_reasons();
        if reasons
            .iter()
            .any(|r| r.code() == Some("ConditionalCheckFailed"))
        {
            return StoreError::ConditionFailed(
                reasons
                    .iter()
                    .map(|r| match r.code() {
                        Some("ConditionalCheckFailed") => ItemCheck::Failed(r.item().cloned()),
                        _ => ItemCheck::Passed,
                    })
                    .collect(),
            );
        }
        if reasons
            .iter()
            .any(|r| r.code() == Some("TransactionConflict"))
        {
            return StoreError::TransactionConflict;
        }
        // The rest is throttling, unless an item was refused as malformed or too large.
        let why = format!("TransactWriteItems: {}", DisplayErrorContext(&err));
        let ours = reasons.iter().any(|r| {
            matches!(
                r.code(),
                Some("ValidationError" | "ItemCollectionSizeLimitExceeded")
            )
        });
        return if ours {
            StoreError::Rejected(why)
        } else {
            StoreError::Unavailable(why)
        };
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
consumed_single!(
    DeleteItemOutput,
    GetItemOutput,
    PutItemOutput,
    QueryOutput,
    ScanOutput,
    UpdateItemOutput
);

macro_rules! consumed_many {
    ($($output:ty),*) => {$(
        impl Consumed for $output {
            fn capacity_units(&self) -> Option<f64> {
                Some(self.consumed_capacity().iter().filter_map(ConsumedCapacity::capacity_units).sum())
            }
        }
    )*};
}
consumed_many!(
    BatchWriteItemOutput,
    TransactWriteItemsOutput,
    TransactGetItemsOutput,
    BatchGetItemOutput
);

fn observed<T: Consumed, E>(result: Result<T, E>) -> Result<T, E> {
    record_call(result.as_ref().ok().and_then(Consumed::capacity_units));
    result
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A group-buy's item collection (`layout::group_buy_pk`).
fn pk_of(handle: &Handle, slug: &Slug) -> String {
    group_buy_pk(handle.as_str(), slug.as_str())
}

/// A group-buy's key in the indexes that list a handle's group-buys, newest first.
fn newest_first_key(gb: &GroupBuy) -> String {
    newest_first_sk(&gb.created_at.to_string(), gb.slug.as_str())
}

/// A group-buy's key in the admin index, most recently changed first.
fn recently_changed_key(gb: &GroupBuy) -> String {
    recently_changed_sk(
        &gb.updated_at.to_string(),
        gb.handle.as_str(),
        gb.slug.as_str(),
    )
}

/// The admin index's partition of the group-buy in its current status.
fn admin_partition(gb: &GroupBuy) -> String {
    status_partition(
        gb.status.as_str(),
        index_shard(gb.handle.as_str(), gb.slug.as_str()),
    )
}

/// The partition of the handle's group-buys in the group-buy's current status.
fn by_status_partition(gb: &GroupBuy) -> String {
    handle_status_partition(gb.handle.as_str(), gb.status.as_str())
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn part_key(pk: &str, sk: &str) -> Item {
    Item::from([
        (PARTITION_KEY.to_owned(), s(pk)),
        (SORT_KEY.to_owned(), s(sk)),
    ])
}

/// The group-buy's own item, the one the indexes list: everything but the description and
/// the counters, so that it stays small and only transitions rewrite it.
fn group_buy_item(gb: &GroupBuy) -> Result<Item, StoreError> {
    let mut item = encode(gb)?;
    for name in KEPT_APART {
        item.remove(name);
    }
    item.extend([
        (PARTITION_KEY.into(), s(pk_of(&gb.handle, &gb.slug))),
        (SORT_KEY.into(), s(GROUP_BUY_SK)),
        (
            BY_HANDLE.partition_key.into(),
            s(handle_partition(gb.handle.as_str())),
        ),
        (BY_HANDLE.sort_key.into(), s(newest_first_key(gb))),
        (
            BY_HANDLE_AND_STATUS.partition_key.into(),
            s(by_status_partition(gb)),
        ),
        (
            BY_HANDLE_AND_STATUS.sort_key.into(),
            s(newest_first_key(gb)),
        ),
        (BY_STATUS.partition_key.into(), s(admin_partition(gb))),
        (BY_STATUS.sort_key.into(), s(recently_changed_key(gb))),
    ]);
    Ok(item)
}

/// The description's item: written once, with the draft.
fn description_item(gb: &GroupBuy) -> Item {
    let mut item = part_key(&pk_of(&gb.handle, &gb.slug), DESCRIPTION_SK);
    item.insert("description".into(), s(gb.description.clone()));
    item
}

/// The tally's item. `thresholdEdge` (one participant short of the threshold) lets a
/// registration's condition tell, without a read, whether it is the one that meets it.
/// `version` (the group-buy's, rewritten by every transition) dates the events derived from
/// the tally's changes (`events`).
fn tally_item(gb: &GroupBuy) -> Result<Item, StoreError> {
    let tally = gb.tally();
    let mut item = encode(&tally)?;
    item.extend(part_key(&pk_of(&gb.handle, &gb.slug), TALLY_SK));
    item.insert(
        THRESHOLD_EDGE.into(),
        n(i64::from(tally.min_participants) - 1),
    );
    item.insert(TALLY_VERSION.into(), n(gb.version));
    Ok(item)
}

/// The items of one group-buy (its own, description, tally), as reads find them.
#[derive(Default)]
struct GroupBuyParts {
    group_buy: Option<Item>,
    description: Option<Item>,
    tally: Option<Item>,
}

impl GroupBuyParts {
    /// Keeps `item` if it is one of the parts; gives it back otherwise.
    fn take(&mut self, item: Item) -> Option<Item> {
        let slot = match item.get(SORT_KEY) {
            Some(AttributeValue::S(sk)) if sk == GROUP_BUY_SK => &mut self.group_buy,
            Some(AttributeValue::S(sk)) if sk == DESCRIPTION_SK => &mut self.description,
            Some(AttributeValue::S(sk)) if sk == TALLY_SK => &mut self.tally,
            _ => return Some(item),
        };
        *slot = Some(item);
        None
    }

    /// The group-buy; `None` when its own item is missing. Without the description item (as
    /// admin lists read), the description is empty.
    fn assemble(self) -> Result<Option<GroupBuy>, StoreError> {
        let Some(item) = self.group_buy else {
            return Ok(None);
        };
        let mut gb: GroupBuy = decode(item)?;
        if let Some(mut description) = self.description
            && let Some(AttributeValue::S(text)) = description.remove("description")
        {
            gb.description = text;
        }
        let tally: Tally = decode(
            self.tally
                .ok_or_else(|| StoreError::Corrupt("a group-buy without its tally".into()))?,
        )?;
        gb.participant_count = tally.participant_count;
        gb.unit_count = tally.unit_count;
        gb.waitlist_count = tally.live_waitlist_count();
        Ok(Some(gb))
    }
}

fn to_cursor_key(key: Item) -> Key {
    key.into_iter()
        .filter_map(|(name, value)| match value {
            AttributeValue::S(v) => Some((name, v)),
            _ => None,
        })
        .collect()
}

fn from_cursor_key(key: Option<Key>) -> Option<Item> {
    key.map(|key| key.into_iter().map(|(k, v)| (k, s(v))).collect())
}

/// The attributes that put a group-buy in the public index: set from its first publication
/// on (never for a draft cancelled before publishing), since a group-buy never returns to
/// draft.
fn public_index_keys(gb: &GroupBuy) -> Option<[(String, AttributeValue); 2]> {
    gb.ever_published().then(|| {
        [
            (
                PUBLIC_BY_HANDLE.partition_key.into(),
                s(public_partition(gb.handle.as_str())),
            ),
            (PUBLIC_BY_HANDLE.sort_key.into(), s(newest_first_key(gb))),
        ]
    })
}

/// A transaction's put of `item` that holds only if no item has its key; `returning` says
/// whether a refusal hands back the item that stood there (for a decision without a read).
fn put_if_absent(
    table: &str,
    item: Item,
    returning: ReturnValuesOnConditionCheckFailure,
) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", PARTITION_KEY)
        .return_values_on_condition_check_failure(returning)
        .build()
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Adds `SET` of every attribute in `assignments` and `REMOVE` of every one in `removals`
/// to an update, with placeholders (`#setN`, `:setN`, `#rmN`) so that no attribute name can
/// clash with a reserved word.
fn set_all(
    mut update: UpdateBuilder,
    assignments: Vec<(String, AttributeValue)>,
    removals: &[&str],
) -> UpdateBuilder {
    let mut sets = Vec::with_capacity(assignments.len());
    for (i, (name, value)) in assignments.into_iter().enumerate() {
        sets.push(format!("#set{i} = :set{i}"));
        update = update
            .expression_attribute_names(format!("#set{i}"), name)
            .expression_attribute_values(format!(":set{i}"), value);
    }
    let mut expression = format!("SET {}", sets.join(", "));
    if !removals.is_empty() {
        let mut removed = Vec::with_capacity(removals.len());
        for (i, name) in removals.iter().enumerate() {
            removed.push(format!("#rm{i}"));
            update = update.expression_attribute_names(format!("#rm{i}"), *name);
        }
        expression.push_str(&format!(" REMOVE {}", removed.join(", ")));
    }
    update.update_expression(expression)
}

/// The put of a history entry of `handle`/`slug`, written once.
fn history_put(
    table: &str,
    handle: &Handle,
    slug: &Slug,
    entry: &crate::domain::HistoryEntry,
) -> Result<Put, StoreError> {
    let mut item = encode(entry)?;
    item.extend([
        (PARTITION_KEY.into(), s(pk_of(handle, slug))),
        (
            SORT_KEY.into(),
            s(crate::table::layout::history_sk(
                &entry.at.to_string(),
                &entry.request_id,
            )),
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

/// The keys that put an open group-buy with a deadline in the expiry index.
fn deadline_index_keys(gb: &GroupBuy) -> Option<[(String, AttributeValue); 2]> {
    let open = matches!(gb.status, Status::Published | Status::Paused);
    let closes_at = gb.closes_at.filter(|_| open)?;
    let (handle, slug) = (gb.handle.as_str(), gb.slug.as_str());
    Some([
        (
            OPEN_BY_DEADLINE.partition_key.into(),
            s(deadline_partition(index_shard(handle, slug))),
        ),
        (
            OPEN_BY_DEADLINE.sort_key.into(),
            s(deadline_sk(&closes_at.to_string(), handle, slug)),
        ),
    ])
}

/// The one DynamoDB table of the service.
#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    /// Writes `items` and their riders in one transaction. The SDK gives each call a
    /// `ClientRequestToken` (an idempotency token of the API) once and keeps it across its
    /// retries, so that a retry of a transaction that committed while its answer was lost is
    /// recognised by DynamoDB, not run again (tests/api/lost_responses.rs).
    async fn transact(
        &self,
        mut items: Vec<TransactWriteItem>,
        riders: &Riders,
    ) -> Result<(), StoreError> {
        items.extend(riders.items(&self.table)?);
        observed(
            self.client
                .transact_write_items()
                .set_transact_items(Some(items))
                .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
                .send()
                .await,
        )
        .map_err(classify_transaction)?;
        Ok(())
    }

    /// A Query of this table, for `page` and `query_all` to run.
    fn query(&self) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
    }

    /// One page of `query`, resuming at `start`, decoded.
    async fn page<T: serde::de::DeserializeOwned>(
        &self,
        query: QueryFluentBuilder,
        start: Option<Key>,
    ) -> Result<Page<T>, StoreError> {
        let (items, last) = self.raw_page(query, from_cursor_key(start)).await?;
        Ok(Page {
            items: items.into_iter().map(decode).collect::<Result<_, _>>()?,
            last_key: last.map(to_cursor_key),
        })
    }

    /// One page of `query`, resuming at `start`: the items and DynamoDB's last key.
    async fn raw_page(
        &self,
        query: QueryFluentBuilder,
        start: Option<Item>,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let out = observed(query.set_exclusive_start_key(start).send().await)
            .map_err(|e| classify("Query", e))?;
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key))
    }

    /// Every item `query` finds, following pages, at most `max_pages` of them.
    async fn query_all(
        &self,
        query: QueryFluentBuilder,
        max_pages: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        for _ in 0..max_pages {
            let out = observed(query.clone().set_exclusive_start_key(start).send().await)
                .map_err(|e| classify("Query", e))?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(items)
    }

    /// The items at `keys`, in any order (missing ones left out): BatchGetItem, 100 keys
    /// per call and the calls concurrent, unprocessed keys asked for again a few times.
    async fn get_items(&self, keys: Vec<Item>, consistent: bool) -> Result<Vec<Item>, StoreError> {
        let calls = keys.chunks(BATCH_GET_KEYS).map(|chunk| async move {
            let mut wanted = KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .consistent_read(consistent)
                .build()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let mut found = Vec::new();
            for _ in 0..BATCH_GET_ATTEMPTS {
                let mut out = observed(
                    self.client
                        .batch_get_item()
                        .request_items(&self.table, wanted)
                        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
                        .send()
                        .await,
                )
                .map_err(|e| classify("BatchGetItem", e))?;
                found.extend(
                    out.responses
                        .as_mut()
                        .and_then(|r| r.remove(&self.table))
                        .unwrap_or_default(),
                );
                match out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys().is_empty())
                {
                    Some(rest) => wanted = rest,
                    None => return Ok(found),
                }
            }
            Err(StoreError::Unavailable(
                "BatchGetItem left keys unprocessed".into(),
            ))
        });
        let found = futures_util::future::try_join_all(calls).await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// The group-buys whose own items an index listed, completed with their tallies (and
    /// descriptions, when `description`), in the index's order: one BatchGetItem.
    async fn complete(
        &self,
        listed: Vec<Item>,
        description: bool,
    ) -> Result<Vec<GroupBuy>, StoreError> {
        let mut parts: Vec<(String, GroupBuyParts)> = Vec::with_capacity(listed.len());
        let mut keys = Vec::new();
        for item in listed {
            let Some(AttributeValue::S(pk)) = item.get(PARTITION_KEY).cloned() else {
                return Err(StoreError::Corrupt("a listed item without its key".into()));
            };
            keys.push(part_key(&pk, TALLY_SK));
            if description {
                keys.push(part_key(&pk, DESCRIPTION_SK));
            }
            let mut found = GroupBuyParts::default();
            found.take(item);
            parts.push((pk, found));
        }
        for item in self.get_items(keys, false).await? {
            let Some(AttributeValue::S(pk)) = item.get(PARTITION_KEY) else {
                continue;
            };
            if let Some((_, found)) = parts.iter_mut().find(|(p, _)| p == pk) {
                found.take(item);
            }
        }
        let mut group_buys = parts
            .into_iter()
            .filter_map(|(_, found)| found.assemble().transpose())
            .collect::<Result<Vec<_>, _>>()?;
        for gb in &mut group_buys {
            self.count_entries(gb).await?;
        }
        Ok(group_buys)
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[cfg(test)]
mod classification_tests {
    use super::*;
    use crate::http::ApiError;
    use aws_sdk_dynamodb::config::http::HttpResponse;
    use aws_sdk_dynamodb::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_sdk_dynamodb::types::CancellationReason;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;

    fn raw(status: u16) -> HttpResponse {
        HttpResponse::new(status.try_into().expect("a status code"), "{}".into())
    }

    /// An error answer of DynamoDB, as the SDK reports it.
    fn answered(code: &str, status: u16) -> SdkError<GetItemError> {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("from DynamoDB")
            .build();
        SdkError::service_error(GetItemError::generic(meta), raw(status))
    }

    fn status_and_code(err: SdkError<GetItemError>) -> (u16, &'static str) {
        let api = ApiError::from(classify("GetItem", err));
        (api.status().as_u16(), api.code())
    }

    const INTERNAL: (u16, &str) = (500, "INTERNAL");
    const UNAVAILABLE: (u16, &str) = (503, "DEPENDENCY_UNAVAILABLE");

    #[test]
    fn our_bugs_and_misconfiguration_are_internal_errors() {
        for (code, status) in [
            ("AccessDeniedException", 400),
            ("ResourceNotFoundException", 400),
            ("ValidationException", 400),
            ("SerializationException", 400),
            ("UnrecognizedClientException", 400),
            ("MissingAuthenticationTokenException", 403),
            ("IncompleteSignature", 400),
            ("InvalidSignatureException", 400),
        ] {
            assert_eq!(status_and_code(answered(code, status)), INTERNAL, "{code}");
        }
        let unbuildable = SdkError::construction_failure("a required field is missing");
        assert_eq!(status_and_code(unbuildable), INTERNAL);
    }

    #[test]
    fn transient_failures_are_503s() {
        for (code, status) in [
            ("ProvisionedThroughputExceededException", 400),
            ("ThrottlingException", 400),
            ("RequestLimitExceeded", 400),
            ("TransactionConflictException", 400),
            ("InternalServerError", 500),
            ("ServiceUnavailable", 503),
        ] {
            assert_eq!(
                status_and_code(answered(code, status)),
                UNAVAILABLE,
                "{code}"
            );
        }
        let timed_out = SdkError::timeout_error("no answer in time");
        assert_eq!(status_and_code(timed_out), UNAVAILABLE);
        let refused = SdkError::dispatch_failure(ConnectorError::io("connection refused".into()));
        assert_eq!(status_and_code(refused), UNAVAILABLE);
        let cut_off = SdkError::response_error("the body ended early", raw(200));
        assert_eq!(status_and_code(cut_off), UNAVAILABLE);
    }

    /// A code this service does not know yet: DynamoDB's status says whose fault it is.
    #[test]
    fn unknown_codes_follow_the_http_status() {
        assert_eq!(status_and_code(answered("SomethingNew", 500)), UNAVAILABLE);
        assert_eq!(status_and_code(answered("SomethingNew", 400)), INTERNAL);
    }

    #[test]
    fn a_failed_condition_is_a_condition_failure() {
        assert!(matches!(
            classify("GetItem", answered("ConditionalCheckFailedException", 400)),
            StoreError::ConditionFailed(checks) if checks.is_empty()
        ));
    }

    fn cancelled(reasons: &[&str]) -> SdkError<TransactWriteItemsError> {
        let reasons = reasons
            .iter()
            .map(|code| CancellationReason::builder().code(*code).build())
            .collect();
        let err = TransactionCanceledException::builder()
            .set_cancellation_reasons(Some(reasons))
            .build();
        SdkError::service_error(
            TransactWriteItemsError::TransactionCanceledException(err),
            raw(400),
        )
    }

    #[test]
    fn cancelled_transactions_are_classified_by_their_reasons() {
        let api = |reasons: &[&str]| {
            let api = ApiError::from(classify_transaction(cancelled(reasons)));
            (api.status().as_u16(), api.code())
        };
        assert!(matches!(
            classify_transaction(cancelled(&["None", "ConditionalCheckFailed"])),
            StoreError::ConditionFailed(checks) if checks.len() == 2
        ));
        assert!(matches!(
            classify_transaction(cancelled(&["TransactionConflict", "None"])),
            StoreError::TransactionConflict
        ));
        assert_eq!(api(&["None", "ThrottlingError"]), UNAVAILABLE);
        assert_eq!(api(&["ProvisionedThroughputExceeded"]), UNAVAILABLE);
        assert_eq!(api(&["None", "ValidationError"]), INTERNAL);
        assert_eq!(api(&["ThrottlingError", "ValidationError"]), INTERNAL);
    }

    #[test]
    fn corrupt_items_are_internal_errors() {
        let api = ApiError::from(StoreError::Corrupt("an item without a status".into()));
        assert_eq!((api.status().as_u16(), api.code()), INTERNAL);
    }
}
