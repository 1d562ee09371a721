//! The one DynamoDB table, defined once. Local runs and tests create it from this module;
//! a test checks that `template.yaml` declares exactly the same keys and indexes.
//!
//! | item | PK | SK | GSI1 (by handle, newest first) | GSI2 (by handle and status) |
//! |---|---|---|---|---|
//! | group-buy | `GB#{handle}#{slug}` | `GB` | `HANDLE#{handle}` / `{createdAt}#{slug}` | `HANDLE#{handle}#{status}` / `{createdAt}#{slug}` |
//! | history entry | `GB#{handle}#{slug}` | `HIST#{at}#{requestId}` | – | – |
//! | interest | `GB#{handle}#{slug}` | `INT#{participant}` (per-group-buy pseudonym) | – | – |
//! | waitlist entry, in joining order | `GB#{handle}#{slug}` | `WAIT#{seq:020}` (the join's number) | – | – |
//! | the same entry, found by its visitor | `GB#{handle}#{slug}` | `WAITER#{participant}` | – | – |
//!
//! | description | `GB#{handle}#{slug}` | `GB#DESCRIPTION` | – | – |
//! | tally (`Tally`: status, deadline, bounds, counters, `waitlistCount`, `waitlistSeq`) | `GB#{handle}#{slug}` | `GB#TALLY` | – | – |
//! | visitor challenge redeemed (TTL: the challenge's expiry) | `CHALLENGE#{salt}` | `REDEEMED` | – | – |
//! | rollup counters, drafts by hour | `ROLLUP#{0..8}` | `TOTALS`, `DRAFTS#{hour}` | – | – |
//!
//! GSI4 (admin): `ALL#{status}#{shard}` / `{updatedAt}#{handle}#{slug}`.
//! GSI5 (deadlines, sparse, keys only): `DEADLINES#{shard}` / `{closesAt}#{handle}#{slug}`
//! while open. Both are written in `INDEX_SHARDS` shards (a hash of the group-buy) and read
//! across them, so that no index partition takes every campaign's transitions.
//! GSI3 (public, sparse): `PUBLIC#{handle}` / `{createdAt}#{slug}`, only on group-buys that
//! were ever published.
//!
//! The table's stream (new and old images) is what the lifecycle events are derived from
//! (`events`); a test checks `template.yaml` declares the same.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};

pub const PARTITION_KEY: &str = "PK";

/// An interest's sort key prefix.
pub const INTEREST_PREFIX: &str = "INT#";
/// A waiting visitor's own item's sort key prefix.
pub const WAITER_PREFIX: &str = "WAITER#";

/// An interest's sort key. Keyed by the per-group-buy pseudonym, never the visitor's
/// platform-wide key: the participants list is ordered by it, and an order shared across
/// campaigns would let an owner relate where one visitor sorts in two of them.
pub fn interest_sk(participant: &str) -> String {
    format!("{INTEREST_PREFIX}{participant}")
}

/// A waiting visitor's own item: keyed by the pseudonym, as interests are.
pub fn waiter_sk(participant: &str) -> String {
    format!("{WAITER_PREFIX}{participant}")
}
/// The sort key of a redeemed visitor challenge's item.
pub const CHALLENGE_REDEEMED_SK: &str = "REDEEMED";

/// The partition key of a visitor challenge's redemption: the challenge's random salt, so
/// that one challenge has one item, which a conditional put writes once.
pub fn challenge_pk(salt: &str) -> String {
    format!("CHALLENGE#{salt}")
}

/// Epoch seconds after which DynamoDB deletes an item (daily counters, idempotency records).
pub const TTL_ATTRIBUTE: &str = "ttl";
pub const SORT_KEY: &str = "SK";
/// What each stream record carries: the item before and after the change, so that an event
/// can be told from the change alone (a threshold crossed, a status left).
pub const STREAM_VIEW: StreamViewType = StreamViewType::NewAndOldImages;

/// A global secondary index. The only item the indexes list is a group-buy's own item, which
/// is small (no description, no counters) and rewritten only by transitions, so projecting
/// it whole costs one write unit per index entry; the deadline index serves only keys.
#[derive(Clone, Copy, Debug)]
pub struct Index {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: &'static str,
    pub projection: Projected,
}

/// What an index copies of an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Projected {
    All,
    KeysOnly,
}

impl Projected {
    /// As CloudFormation and DynamoDB name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "ALL",
            Self::KeysOnly => "KEYS_ONLY",
        }
    }
}

/// A handle's group-buys, newest first.
pub const BY_HANDLE: Index = Index {
    name: "GSI1",
    partition_key: "GSI1PK",
    sort_key: "GSI1SK",
    projection: Projected::All,
};

/// A handle's group-buys in one status, newest first.
pub const BY_HANDLE_AND_STATUS: Index = Index {
    name: "GSI2",
    partition_key: "GSI2PK",
    sort_key: "GSI2SK",
    projection: Projected::All,
};

/// A handle's group-buys that were ever published (published, paused, closed), newest first.
/// Sparse: drafts have no key in it, so no public list can ever show one.
pub const PUBLIC_BY_HANDLE: Index = Index {
    name: "GSI3",
    partition_key: "GSI3PK",
    sort_key: "GSI3SK",
    projection: Projected::All,
};

/// Every handle's group-buys in one status, most recently changed first (the admin rollup).
pub const BY_STATUS: Index = Index {
    name: "GSI4",
    partition_key: "GSI4PK",
    sort_key: "GSI4SK",
    projection: Projected::All,
};

/// Open group-buys (published or paused) that have a deadline, soonest first: what the
/// scheduled expiry closes. Sparse: a group-buy leaves it when it closes.
pub const OPEN_BY_DEADLINE: Index = Index {
    name: "GSI5",
    partition_key: "GSI5PK",
    sort_key: "GSI5SK",
    projection: Projected::KeysOnly,
};

pub const INDEXES: [Index; 5] = [
    BY_HANDLE,
    BY_HANDLE_AND_STATUS,
    PUBLIC_BY_HANDLE,
    BY_STATUS,
    OPEN_BY_DEADLINE,
];

/// Every key attribute of the table and its indexes; all are strings.
pub fn key_attributes() -> Vec<&'static str> {
    let mut names = vec![PARTITION_KEY, SORT_KEY];
    for index in INDEXES {
        names.extend([index.partition_key, index.sort_key]);
    }
    names
}

fn key(
    name: &str,
    key_type: KeyType,
) -> Result<KeySchemaElement, aws_sdk_dynamodb::error::BuildError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
}

fn stream() -> Result<StreamSpecification, String> {
    StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(STREAM_VIEW)
        .build()
        .map_err(|e| e.to_string())
}

/// Whether a table has its change stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeStream {
    /// As deployed: what the lifecycle events are derived from.
    On,
    /// The throwaway tables of tests that read no events. DynamoDB Local keeps a stream per
    /// table and slows down as they pile up: after the API suite's hundred-odd tables with
    /// streams, the concurrency tests' requests outlasted the client's 2 s attempt timeout.
    Off,
}

/// Creates the table (on-demand billing, TTL on `ttl`, the stream); succeeds when it already
/// exists, after turning on the stream of a local table created before there was one.
pub async fn create(client: &Client, table_name: &str) -> Result<(), String> {
    create_with(client, table_name, ChangeStream::On).await
}

/// Creates the table as `create` does, with or without its change stream.
pub async fn create_with(
    client: &Client,
    table_name: &str,
    change_stream: ChangeStream,
) -> Result<(), String> {
    let build = |e: aws_sdk_dynamodb::error::BuildError| e.to_string();
    let mut request = client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest);
    if change_stream == ChangeStream::On {
        request = request.stream_specification(stream()?);
    }
    request = request
        .key_schema(key(PARTITION_KEY, KeyType::Hash).map_err(build)?)
        .key_schema(key(SORT_KEY, KeyType::Range).map_err(build)?);
    for name in key_attributes() {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build)?,
        );
    }
    for index in INDEXES {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key(index.partition_key, KeyType::Hash).map_err(build)?)
                .key_schema(key(index.sort_key, KeyType::Range).map_err(build)?)
                .projection(
                    Projection::builder()
                        .projection_type(match index.projection {
                            Projected::All => ProjectionType::All,
                            Projected::KeysOnly => ProjectionType::KeysOnly,
                        })
                        .build(),
                )
                .build()
                .map_err(build)?,
        );
    }
    match request.send().await {
        Ok(_) => {}
        // Already there: a second local run, or a second test on the same name.
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(CreateTableError::ResourceInUseException(_))
            ) =>
        {
            return match change_stream {
                ChangeStream::On => ensure_stream(client, table_name).await,
                ChangeStream::Off => Ok(()),
            };
        }
        Err(e) => return Err(DisplayErrorContext(e).to_string()),
    }
    client
        .update_time_to_live()
        .table_name(table_name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|e| DisplayErrorContext(e).to_string())
}

/// Turns on the stream of an existing table that has none (a local table from before).
async fn ensure_stream(client: &Client, table_name: &str) -> Result<(), String> {
    let described = client
        .describe_table()
        .table_name(table_name)
        .send()
        .await
        .map_err(|e| DisplayErrorContext(e).to_string())?;
    let enabled = described
        .table()
        .and_then(|t| t.stream_specification())
        .is_some_and(StreamSpecification::stream_enabled);
    if enabled {
        return Ok(());
    }
    client
        .update_table()
        .table_name(table_name)
        .stream_specification(stream()?)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| DisplayErrorContext(e).to_string())
}
