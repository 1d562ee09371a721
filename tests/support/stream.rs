//! The table's change stream as DynamoDB Local keeps it, read whole: what the stream consumer
//! (`group_buy::events`) is given, for the tests that run it on real records.

use crate::TestApp;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use group_buy::domain::Timestamp;
use group_buy::events::{ChangeRecord, Operation};
use std::collections::HashMap;

/// Every record of the table's stream so far, shard by shard, in stream order.
pub async fn stream_records(app: &TestApp) -> Vec<ChangeRecord> {
    let described = app
        .dynamodb
        .describe_table()
        .table_name(&app.table)
        .send()
        .await
        .expect("DescribeTable");
    let stream_arn = described
        .table()
        .and_then(|t| t.latest_stream_arn())
        .expect("a table with its change stream (spawn_app_with_events)")
        .to_owned();
    let streams = streams_client(app);
    let shards = streams
        .describe_stream()
        .stream_arn(&stream_arn)
        .send()
        .await
        .expect("DescribeStream")
        .stream_description
        .map(|d| d.shards.unwrap_or_default())
        .unwrap_or_default();
    let mut records = Vec::new();
    for shard in shards {
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&stream_arn)
            .shard_id(shard.shard_id().expect("a shard id"))
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("GetShardIterator")
            .shard_iterator;
        // An open shard's iterator never ends: read until a page comes back empty.
        while let Some(current) = iterator {
            let out = streams
                .get_records()
                .shard_iterator(current)
                .send()
                .await
                .expect("GetRecords");
            if out.records().is_empty() {
                break;
            }
            records.extend(out.records().iter().map(change_record));
            iterator = out.next_shard_iterator;
        }
    }
    records
}

fn streams_client(app: &TestApp) -> aws_sdk_dynamodbstreams::Client {
    let config = app.dynamodb.config();
    // The service's own HTTP client (the SDKs are built without a default one).
    let mut streams = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
        .region(config.region().cloned())
        .endpoint_url(crate::dynamodb_endpoint())
        .credentials_provider(group_buy::aws::local_credentials());
    if let Some(http) = config.http_client() {
        streams = streams.http_client(http);
    }
    aws_sdk_dynamodbstreams::Client::from_conf(streams.build())
}

fn change_record(record: &Record) -> ChangeRecord {
    let change = record.dynamodb().expect("a record with its change");
    let item = |image: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
        image.map(|image| serde_dynamo::Item::from(image.clone()))
    };
    let written_at = change
        .approximate_creation_date_time()
        .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .expect("ApproximateCreationDateTime");
    ChangeRecord {
        record_id: record.event_id().expect("eventID").to_owned(),
        sequence_number: change
            .sequence_number()
            .expect("a sequence number")
            .to_owned(),
        operation: record
            .event_name()
            .and_then(|name| Operation::parse(name.as_str()))
            .expect("a known operation"),
        written_at: Timestamp::from(written_at),
        keys: item(change.keys()).unwrap_or_default(),
        old_image: item(change.old_image()),
        new_image: item(change.new_image()),
    }
}
