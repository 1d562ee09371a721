//! The `group-buy-events` function: the table's stream (Lambda's event source mapping) in,
//! the stage's EventBridge bus out. A record that cannot be delivered is reported in
//! `batchItemFailures`; Lambda retries from the lowest one reported (a bounded number of
//! times, bisecting the batch), then hands the batch to the on-failure queue, which alarms
//! (template.yaml, `GroupBuyEventsFunction`).

use super::delivery::Publisher;
use super::stats::{StatsKeeper, consume_in_order};
use super::{ChangeRecord, LifecycleEvent, Operation, SOURCE};
use crate::aws::{environment_credentials, function_dynamodb_client};
use crate::configuration::TableSettings;
use crate::deadline::Deadline;
use crate::domain::Timestamp;
use crate::https;
use crate::store::Store;
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_eventbridge::config::retry::RetryConfig;
use aws_sdk_eventbridge::config::timeout::TimeoutConfig;
use aws_sdk_eventbridge::config::{BehaviorVersion, Region};
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Error, service_fn};
use std::time::Duration;

/// The variable naming the stage's bus (template.yaml sets it).
pub const EVENT_BUS_VARIABLE: &str = "EVENT_BUS_NAME";

/// The stage's EventBridge bus.
pub struct EventBus {
    client: aws_sdk_eventbridge::Client,
    name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EventBusError {
    #[error("{0} is required: template.yaml sets it")]
    Missing(&'static str),
    #[error(transparent)]
    Tls(#[from] https::TlsError),
}

impl EventBus {
    /// The bus `name`, reached with `client` (the operator's replay, with its own
    /// credentials).
    pub fn new(client: aws_sdk_eventbridge::Client, name: &str) -> Self {
        Self {
            client,
            name: name.to_owned(),
        }
    }

    /// The bus of `EVENT_BUS_NAME`, reached as `app.rs` reaches DynamoDB: region and
    /// credentials from Lambda's environment (no `aws-config` chains), Amazon's roots, tight
    /// timeouts (a slow call is a failed record, retried by Lambda, not a stuck shard).
    pub fn from_env() -> Result<Self, EventBusError> {
        let var = |name: &'static str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or(EventBusError::Missing(name))
        };
        let name = var(EVENT_BUS_VARIABLE)?;
        let region = var("AWS_REGION")?;
        let credentials =
            environment_credentials().ok_or(EventBusError::Missing("AWS_ACCESS_KEY_ID"))?;
        let config = aws_sdk_eventbridge::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(https::amazon_roots_client(None)?)
            .region(Region::new(region))
            .credentials_provider(credentials)
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(1))
                    .operation_attempt_timeout(Duration::from_secs(3))
                    .operation_timeout(TIME_PER_CALL)
                    .build(),
            )
            .build();
        Ok(Self {
            client: aws_sdk_eventbridge::Client::from_conf(config),
            name,
        })
    }
}

impl Publisher for EventBus {
    async fn publish(&self, events: &[LifecycleEvent]) -> Result<Vec<Result<(), String>>, String> {
        let entries = events
            .iter()
            .map(|event| {
                let occurred = event.occurred_at.as_datetime();
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.name)
                    .source(SOURCE)
                    .detail_type(event.detail_type().as_str())
                    .detail(event.detail().to_string())
                    .time(aws_sdk_eventbridge::primitives::DateTime::from_millis(
                        occurred.timestamp_millis(),
                    ))
                    .build()
            })
            .collect();
        let out = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| format!("PutEvents: {}", DisplayErrorContext(e)))?;
        // One result per entry, in order; a failed one has an error code (FailedEntryCount
        // counts them).
        Ok(out
            .entries()
            .iter()
            .map(|entry| match entry.error_code() {
                None => Ok(()),
                Some(code) => Err(format!(
                    "PutEvents refused an entry: {code}: {}",
                    entry.error_message().unwrap_or_default()
                )),
            })
            .collect())
    }
}

/// A record as Lambda delivers it, in the shape the derivation reads.
pub fn change_record(record: &EventRecord) -> Result<ChangeRecord, String> {
    let operation = Operation::parse(&record.event_name)
        .ok_or_else(|| format!("unknown eventName {}", record.event_name))?;
    let sequence_number = record
        .change
        .sequence_number
        .clone()
        .ok_or("a record without a sequence number")?;
    let image = |item: &serde_dynamo::Item| (!item.is_empty()).then(|| item.clone());
    Ok(ChangeRecord {
        record_id: record.event_id.clone(),
        sequence_number,
        operation,
        written_at: Timestamp::from(record.change.approximate_creation_date_time),
        keys: record.change.keys.clone(),
        old_image: image(&record.change.old_image),
        new_image: image(&record.change.new_image),
    })
}

/// The longest a PutEvents call may take (its operation timeout): none is started with less
/// time left before the invocation's deadline.
const TIME_PER_CALL: Duration = Duration::from_secs(10);

/// One invocation: every record's events published in order; the first record that could
/// not be delivered (and so every later one: Lambda retries from it) in `batchItemFailures`.
pub async fn handle<P: Publisher, K: StatsKeeper>(
    event: Event,
    publisher: &P,
    stats: &K,
    deadline: Deadline,
) -> DynamoDbEventResponse {
    let mut records = Vec::with_capacity(event.records.len());
    let mut unreadable = None;
    for (index, record) in event.records.iter().enumerate() {
        match change_record(record) {
            Ok(record) => records.push(record),
            Err(why) => {
                unreadable = Some((index, why));
                break;
            }
        }
    }
    // Boxed: one allocation a batch keeps the function's future shallow enough for rustc's
    // layout computation (its default recursion limit).
    let delivery = Box::pin(consume_in_order(&records, publisher, stats, || {
        !deadline.too_close_for(TIME_PER_CALL)
    }))
    .await;
    let failed = match (delivery.failure, unreadable) {
        (Some(why), _) => Some((delivery.delivered, why)),
        (None, Some((index, why))) => Some((index, why)),
        (None, None) => None,
    };
    let mut response = DynamoDbEventResponse::default();
    if let Some((index, why)) = failed {
        let sequence_number = event
            .records
            .get(index)
            .and_then(|r| r.change.sequence_number.clone());
        // Never the detail: the sequence number and the reason are enough to find it.
        tracing::error!(
            sequenceNumber = sequence_number.as_deref().unwrap_or("-"),
            records = event.records.len(),
            delivered = delivery.delivered,
            error = %why,
            "stream record not delivered; Lambda retries from it"
        );
        let mut failure = DynamoDbBatchItemFailure::default();
        // Without a sequence number Lambda fails the whole batch, which is right too.
        failure.item_identifier = sequence_number;
        response.batch_item_failures.push(failure);
    }
    tracing::info!(
        records = event.records.len(),
        published = delivery.published,
        failed = response.batch_item_failures.len(),
        "stream batch"
    );
    response
}

/// The whole `main` of the `group-buy-events` function.
pub async fn run() -> Result<(), Error> {
    crate::telemetry::init();
    let bus = EventBus::from_env()?;
    let bus = &bus;
    let settings = TableSettings::from_env()?;
    let store = &Store::new(
        function_dynamodb_client(settings.dynamodb_endpoint.as_deref())?,
        &settings.table_name,
    );
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        let deadline = Deadline::from_lambda(event.context.deadline);
        Ok::<_, Error>(handle(event.payload, bus, store, deadline).await)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::DetailType;
    use serde_json::{Value, json};
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    /// A stand-in for EventBridge: records what it accepted, refuses the entries of the
    /// detail-types in `refuse` (once each), or fails whole calls while `down`.
    #[derive(Default)]
    struct FakeBus {
        accepted: Mutex<Vec<(String, String)>>,
        refuse: Mutex<BTreeSet<&'static str>>,
        down: bool,
    }

    impl FakeBus {
        /// The detail-types accepted, in order.
        fn kinds(&self) -> Vec<String> {
            let accepted = self.accepted.lock().expect("lock");
            accepted.iter().map(|(kind, _)| kind.clone()).collect()
        }
    }

    impl Publisher for FakeBus {
        async fn publish(
            &self,
            events: &[LifecycleEvent],
        ) -> Result<Vec<Result<(), String>>, String> {
            assert!(events.len() <= crate::events::delivery::MAX_EVENTS_PER_CALL);
            if self.down {
                return Err("connection refused".into());
            }
            let mut refuse = self.refuse.lock().expect("lock");
            let mut accepted = self.accepted.lock().expect("lock");
            Ok(events
                .iter()
                .map(|e| {
                    if refuse.remove(e.detail_type().as_str()) {
                        return Err("InternalFailure: try again".into());
                    }
                    accepted.push((e.detail_type().as_str().to_owned(), e.event_id.clone()));
                    Ok(())
                })
                .collect())
        }
    }

    /// A stand-in for the statistics' table (their rules are tested against DynamoDB Local,
    /// tests/api/stats.rs): records the sequence numbers applied, or refuses one (once).
    #[derive(Default)]
    struct Keeper {
        applied: Mutex<Vec<String>>,
        refuse: Mutex<Option<&'static str>>,
    }

    impl StatsKeeper for Keeper {
        async fn apply(
            &self,
            _group_buy: (&str, &str),
            _hour: Timestamp,
            _change: crate::events::stats::StatsChange,
            record: &ChangeRecord,
        ) -> Result<(), crate::store::StoreError> {
            let mut refuse = self.refuse.lock().expect("lock");
            if refuse.is_some_and(|s| s == record.sequence_number) {
                *refuse = None;
                return Err(crate::store::StoreError::Unavailable("throttled".into()));
            }
            self.applied
                .lock()
                .expect("lock")
                .push(record.sequence_number.clone());
            Ok(())
        }
    }

    fn ample() -> Deadline {
        Deadline::after(Duration::from_secs(60))
    }

    #[tokio::test]
    async fn near_the_timeout_the_rest_is_handed_back_not_failed() {
        let bus = FakeBus::default();
        let response = handle(
            batch(),
            &bus,
            &Keeper::default(),
            Deadline::after(Duration::from_secs(1)),
        )
        .await;
        assert_eq!(failures(&response), [Some("100".to_owned())]);
        assert!(bus.accepted.lock().expect("lock").is_empty());
    }

    fn n(v: u64) -> Value {
        json!({"N": v.to_string()})
    }

    fn tally(participants: u64) -> Value {
        json!({
            "PK": {"S": "GB#acme-decor#jute-rug"}, "SK": {"S": "GB#TALLY"},
            "status": {"S": "published"}, "everPublished": {"BOOL": true},
            "closesAt": {"NULL": true}, "minParticipants": n(2),
            "maxParticipants": {"NULL": true}, "maxQuantityPerParticipant": n(5),
            "participantCount": n(participants), "unitCount": n(participants),
            "thresholdEdge": n(1), "version": n(2)
        })
    }

    fn group_buy(status: &str, version: u64) -> Value {
        json!({
            "PK": {"S": "GB#acme-decor#jute-rug"}, "SK": {"S": "GB"},
            "handle": {"S": "acme-decor"}, "slug": {"S": "jute-rug"},
            "status": {"S": status}, "closeOutcome": {"NULL": true},
            "closesAt": {"NULL": true}, "minParticipants": n(2), "version": n(version)
        })
    }

    /// A record as Lambda delivers it from a NEW_AND_OLD_IMAGES stream.
    fn record(id: &str, sequence: &str, sk: &str, old: Value, new: Value) -> Value {
        json!({
            "eventID": id,
            "eventName": "MODIFY",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "ap-south-1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1795629600.0,
                "Keys": {"PK": {"S": "GB#acme-decor#jute-rug"}, "SK": {"S": sk}},
                "OldImage": old,
                "NewImage": new,
                "SequenceNumber": sequence,
                "SizeBytes": 412,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            },
            "eventSourceARN": "arn:aws:dynamodb:ap-south-1:123456789012:table/gharart-group-buys-dev/stream/2026-11-24T00:00:00.000"
        })
    }

    /// Reached (record 100), paused (200), lost (300).
    fn batch() -> Event {
        serde_json::from_value(json!({"Records": [
            record("e1", "100", "GB#TALLY", tally(1), tally(2)),
            record("e2", "200", "GB", group_buy("published", 2), group_buy("paused", 3)),
            record("e3", "300", "GB#TALLY", tally(2), tally(1)),
        ]}))
        .expect("a DynamoDB stream event")
    }

    fn failures(response: &DynamoDbEventResponse) -> Vec<Option<String>> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect()
    }

    /// What Lambda does with the answer (ReportBatchItemFailures on a stream): checkpoint
    /// before the lowest sequence number reported and invoke again from that record.
    fn retried_by_lambda(event: &Event, response: &DynamoDbEventResponse) -> Option<Event> {
        let lowest = response
            .batch_item_failures
            .iter()
            .filter_map(|f| f.item_identifier.as_deref()?.parse::<u128>().ok())
            .min()?;
        let mut retry = event.clone();
        retry.records.retain(|r| {
            r.change
                .sequence_number
                .as_deref()
                .and_then(|s| s.parse::<u128>().ok())
                .is_some_and(|s| s >= lowest)
        });
        Some(retry)
    }

    #[tokio::test]
    async fn a_record_whose_statistics_fail_is_retried_with_its_events() {
        let bus = FakeBus::default();
        let keeper = Keeper::default();
        *keeper.refuse.lock().expect("lock") = Some("300");
        let event = batch();
        let response = handle(event.clone(), &bus, &keeper, ample()).await;
        // Records 100 and 200 are done; 300's events wait for its statistics.
        assert_eq!(failures(&response), [Some("300".to_owned())]);
        assert_eq!(bus.kinds(), ["ThresholdReached", "GroupBuyPaused"]);
        let retry = retried_by_lambda(&event, &response).expect("a retry");
        assert!(failures(&handle(retry, &bus, &keeper, ample()).await).is_empty());
        assert_eq!(
            bus.kinds(),
            ["ThresholdReached", "GroupBuyPaused", "ThresholdLost"]
        );
        assert_eq!(*keeper.applied.lock().expect("lock"), ["100", "300"]);
    }

    #[tokio::test]
    async fn every_record_delivered_reports_no_failure() {
        let bus = FakeBus::default();
        let response = handle(batch(), &bus, &Keeper::default(), ample()).await;
        assert!(failures(&response).is_empty());
        let kinds = bus.kinds();
        assert_eq!(
            kinds,
            ["ThresholdReached", "GroupBuyPaused", "ThresholdLost"]
        );
        let answer = serde_json::to_value(&response).expect("JSON");
        assert_eq!(answer, json!({"batchItemFailures": []}));
    }

    #[tokio::test]
    async fn a_refused_entry_names_its_record_and_the_retry_completes_the_stream() {
        let bus = FakeBus::default();
        bus.refuse
            .lock()
            .expect("lock")
            .insert(DetailType::GroupBuyPaused.as_str());
        let event = batch();
        let response = handle(event.clone(), &bus, &Keeper::default(), ample()).await;
        assert_eq!(failures(&response), [Some("200".to_owned())]);
        assert_eq!(
            serde_json::to_value(&response).expect("JSON"),
            json!({"batchItemFailures": [{"itemIdentifier": "200"}]})
        );
        let retry = retried_by_lambda(&event, &response).expect("a retry");
        assert_eq!(retry.records.len(), 2);
        assert!(failures(&handle(retry, &bus, &Keeper::default(), ample()).await).is_empty());
        // Every event accepted at least once; the one of record 300, accepted in both
        // attempts, with the same id both times.
        let accepted = bus.accepted.lock().expect("lock").clone();
        let kinds: Vec<&str> = accepted.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "ThresholdReached",
                "ThresholdLost",
                "GroupBuyPaused",
                "ThresholdLost"
            ]
        );
        assert_eq!(accepted[1].1, accepted[3].1);
        let distinct: BTreeSet<&str> = accepted.iter().map(|(_, id)| id.as_str()).collect();
        assert_eq!(distinct.len(), 3);
    }

    #[tokio::test]
    async fn a_failed_call_names_the_first_record_of_it() {
        let bus = FakeBus {
            down: true,
            ..FakeBus::default()
        };
        let response = handle(batch(), &bus, &Keeper::default(), ample()).await;
        assert_eq!(failures(&response), [Some("100".to_owned())]);
    }

    #[tokio::test]
    async fn an_unreadable_record_is_reported_not_skipped() {
        let mut broken = record(
            "e2",
            "200",
            "GB",
            group_buy("published", 2),
            group_buy("closed", 3),
        );
        // Closed without its outcome: not what the data contract allows.
        broken["dynamodb"]["NewImage"]["closeOutcome"] = json!({"NULL": true});
        let event: Event = serde_json::from_value(json!({"Records": [
            record("e1", "100", "GB#TALLY", tally(1), tally(2)),
            broken,
            record("e3", "300", "GB#TALLY", tally(2), tally(1)),
        ]}))
        .expect("event");
        let bus = FakeBus::default();
        let response = handle(event, &bus, &Keeper::default(), ample()).await;
        assert_eq!(failures(&response), [Some("200".to_owned())]);
        let kinds = bus.kinds();
        assert_eq!(
            kinds,
            ["ThresholdReached"],
            "nothing after the unreadable record"
        );
    }

    #[tokio::test]
    async fn more_than_ten_events_go_in_calls_of_ten() {
        let records: Vec<Value> = (0..23u64)
            .map(|i| {
                let (old, new) = if i % 2 == 0 { (1, 2) } else { (2, 1) };
                record(
                    &format!("e{i}"),
                    &format!("{}", 100 + i),
                    "GB#TALLY",
                    tally(old),
                    tally(new),
                )
            })
            .collect();
        let event: Event = serde_json::from_value(json!({"Records": records})).expect("event");
        let bus = FakeBus::default();
        assert!(failures(&handle(event, &bus, &Keeper::default(), ample()).await).is_empty());
        assert_eq!(bus.accepted.lock().expect("lock").len(), 23);
    }
}
