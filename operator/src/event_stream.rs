//! `gharart-operator --local event-stream`: the lifecycle events of DynamoDB Local's stream,
//! appended as JSON lines to `LOCAL_EVENTS_FILE` (default `.local/events.jsonl`), by the same
//! derivation and in-order delivery as the `group-buy-events` Lambda
//! (`group_buy::events`). `scripts/dev.sh` runs it next to the API; the tests spawn it.
//!
//! It polls every shard of the table's stream (parents before children, as DynamoDB Streams
//! orders them) and is safe to stop at any moment: after the events of a batch are appended,
//! the shard's last sequence number is written to a checkpoint file next to the events file
//! (`<events file>.checkpoint`), and on start the eventIds already in the events file are read,
//! so the records replayed after a stop between the append and the checkpoint add no line twice.
//!
//! A record it cannot deliver is tried again at each poll; after `ATTEMPTS` tries the rest of
//! its batch is described in `<events file>.failures.jsonl`, one line per batch in the shape
//! Lambda's on-failure destination gives the failure queue, and the runner moves on, as the
//! deployed event source mapping does after its retries. `replay-failed-events` delivers them
//! again. `LOCAL_EVENTS_REFUSE` (detail-types, comma-separated) makes it refuse those events: a
//! fault injector, for the tests and the lost-events playbook.

use crate::replay::FailedBatch;
use aws_sdk_dynamodbstreams::types::{Record, Shard, ShardIteratorType};
use group_buy::domain::Timestamp;
use group_buy::events::{ChangeRecord, LifecycleEvent, Operation, Publisher, consume_in_order};
use group_buy::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Records read per GetRecords call (DynamoDB Streams' maximum).
const RECORDS_PER_READ: i32 = 1000;
/// Tries of one record before its batch goes to the failures file.
const ATTEMPTS: u32 = 3;
/// The fault injector's variable: detail-types whose events the runner refuses to append.
pub const REFUSE_VARIABLE: &str = "LOCAL_EVENTS_REFUSE";

/// Where the runner reads and writes.
pub struct EventStream {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub table: String,
    pub events_file: PathBuf,
    pub poll: Duration,
}

/// How far each shard of one stream was delivered.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Checkpoint {
    stream_arn: String,
    shards: BTreeMap<String, ShardPosition>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShardPosition {
    /// The last sequence number whose events are in the file (or whose batch is in the
    /// failures file).
    delivered_through: Option<String>,
    /// A closed shard read to its end.
    finished: bool,
    /// The record that failed last, and how many times in a row.
    #[serde(default)]
    failing: Option<(String, u32)>,
}

fn checkpoint_path(events_file: &Path) -> PathBuf {
    let mut name = events_file.as_os_str().to_owned();
    name.push(".checkpoint");
    PathBuf::from(name)
}

impl Checkpoint {
    fn load(path: &Path, stream_arn: &str) -> Result<Self, String> {
        let fresh = || Self {
            stream_arn: stream_arn.to_owned(),
            shards: BTreeMap::new(),
        };
        match std::fs::read_to_string(path) {
            Ok(raw) => {
                let saved: Self =
                    serde_json::from_str(&raw).map_err(|e| format!("{}: {e}", path.display()))?;
                // Another stream (the table was created again): start at its beginning.
                Ok(if saved.stream_arn == stream_arn {
                    saved
                } else {
                    fresh()
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(fresh()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Replaces the file whole (write, then rename), so a stop never leaves half of one.
    fn save(&self, path: &Path) -> Result<(), String> {
        let json = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        std::fs::write(&temporary, json)
            .and_then(|()| std::fs::rename(&temporary, path))
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The failures file of an events file: one batch description per line.
pub fn failures_path(events_file: &Path) -> PathBuf {
    let mut name = events_file.as_os_str().to_owned();
    name.push(".failures.jsonl");
    PathBuf::from(name)
}

/// The events file: one JSON line per event (`{"source", "detail-type", "detail"}`), each
/// eventId once.
pub struct EventsFile {
    path: PathBuf,
    written: Mutex<HashSet<String>>,
    /// Detail-types refused (`LOCAL_EVENTS_REFUSE`).
    refused: Vec<String>,
}

impl EventsFile {
    /// Opens `path`, reading the eventIds already in it; a last line cut short by a stop in the
    /// middle of a write is removed (its events are appended again from the stream).
    pub fn open(path: PathBuf) -> Result<Self, String> {
        let fail = |e: std::io::Error| format!("{}: {e}", path.display());
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(fail)?;
        }
        // Created empty at once, so that `tail -f` can follow it before the first event.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(fail)?;
        let raw = std::fs::read_to_string(&path).map_err(fail)?;
        let complete = raw.rfind('\n').map_or(0, |end| end + 1);
        if complete < raw.len() {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(fail)?;
            file.set_len(complete as u64).map_err(fail)?;
        }
        let written = raw[..complete]
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|line| line["detail"]["eventId"].as_str().map(str::to_owned))
            .collect();
        let refused = std::env::var(REFUSE_VARIABLE)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|kind| !kind.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(Self {
            path,
            written: Mutex::new(written),
            refused,
        })
    }
}

impl Publisher for EventsFile {
    async fn publish(&self, events: &[LifecycleEvent]) -> Result<Vec<Result<(), String>>, String> {
        let refused = |event: &LifecycleEvent| {
            self.refused
                .iter()
                .any(|kind| kind == event.detail_type().as_str())
        };
        if let Some(event) = events.iter().find(|e| refused(e)) {
            // As a bus refusing an entry: nothing of this call is appended.
            let why = format!(
                "{} refused ({REFUSE_VARIABLE})",
                event.detail_type().as_str()
            );
            return Ok(events.iter().map(|_| Err(why.clone())).collect());
        }
        let mut written = self
            .written
            .lock()
            .map_err(|_| "the events file's index was poisoned".to_owned())?;
        let mut lines = String::new();
        let mut new_ids = Vec::new();
        for event in events {
            if written.contains(&event.event_id) || new_ids.contains(&event.event_id) {
                continue;
            }
            lines.push_str(&event.entry().to_string());
            lines.push('\n');
            new_ids.push(event.event_id.clone());
        }
        if !lines.is_empty() {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(|e| format!("{}: {e}", self.path.display()))?;
            file.write_all(lines.as_bytes())
                .and_then(|()| file.sync_data())
                .map_err(|e| format!("{}: {e}", self.path.display()))?;
            for event in events.iter().filter(|e| new_ids.contains(&e.event_id)) {
                eprintln!(
                    "event {} {}/{} {}",
                    event.detail_type().as_str(),
                    event.handle,
                    event.slug,
                    event.event_id
                );
            }
            written.extend(new_ids);
        }
        Ok(events.iter().map(|_| Ok(())).collect())
    }
}

/// A record of DynamoDB Streams, in the shape the derivation reads.
pub fn change_record(record: &Record) -> Result<ChangeRecord, String> {
    let change = record.dynamodb().ok_or("a record without its change")?;
    let operation = record
        .event_name()
        .and_then(|name| Operation::parse(name.as_str()))
        .ok_or("a record of no known operation")?;
    let written_at = change
        .approximate_creation_date_time()
        .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .map(Timestamp::from)
        .ok_or("a record without ApproximateCreationDateTime")?;
    let item = |image: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
        image.map(|image| serde_dynamo::Item::from(image.clone()))
    };
    Ok(ChangeRecord {
        record_id: record
            .event_id()
            .ok_or("a record without eventID")?
            .to_owned(),
        sequence_number: change
            .sequence_number()
            .ok_or("a record without a sequence number")?
            .to_owned(),
        operation,
        written_at,
        keys: item(change.keys()).unwrap_or_default(),
        old_image: item(change.old_image()),
        new_image: item(change.new_image()),
    })
}

fn error_text(e: &dyn std::error::Error) -> String {
    crate::target::error_chain(e)
}

impl EventStream {
    /// Runs until stopped (Ctrl-C, or killed); fails only when the table has no stream or a
    /// file cannot be used.
    pub async fn run(self) -> Result<(), String> {
        let stream_arn = self.stream_arn().await?;
        let checkpoint_file = checkpoint_path(&self.events_file);
        let mut checkpoint = Checkpoint::load(&checkpoint_file, &stream_arn)?;
        let events = EventsFile::open(self.events_file.clone())?;
        eprintln!(
            "gharart-operator: lifecycle events of {} to {} (checkpoint {})",
            self.table,
            self.events_file.display(),
            checkpoint_file.display()
        );
        // Iterators of the open shards, kept between polls (one GetRecords per poll each).
        let mut iterators: HashMap<String, String> = HashMap::new();
        loop {
            match self.shards(&stream_arn).await {
                Ok(shards) => {
                    for shard in ready(&shards, &checkpoint) {
                        self.read_shard(
                            &stream_arn,
                            shard,
                            &mut iterators,
                            &mut checkpoint,
                            &events,
                        )
                        .await?;
                        checkpoint.save(&checkpoint_file)?;
                    }
                }
                Err(e) => eprintln!("gharart-operator: DescribeStream failed, trying again: {e}"),
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    async fn stream_arn(&self) -> Result<String, String> {
        let described = self
            .dynamodb
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| format!("DescribeTable {}: {}", self.table, error_text(&e)))?;
        described
            .table()
            .and_then(|t| t.latest_stream_arn())
            .map(str::to_owned)
            .ok_or_else(|| {
                format!(
                    "table {} has no stream; `gharart-operator --local create-table` turns it on",
                    self.table
                )
            })
    }

    async fn shards(&self, stream_arn: &str) -> Result<Vec<Shard>, String> {
        let mut shards = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .streams
                .describe_stream()
                .stream_arn(stream_arn)
                .set_exclusive_start_shard_id(start)
                .send()
                .await
                .map_err(|e| error_text(&e))?;
            let description = out.stream_description();
            shards.extend(description.map(|d| d.shards().to_vec()).unwrap_or_default());
            start = description.and_then(|d| d.last_evaluated_shard_id().map(str::to_owned));
            if start.is_none() {
                return Ok(shards);
            }
        }
    }

    /// Reads one shard from where it was left until it has nothing more now, delivering each
    /// batch and advancing the checkpoint past what was delivered.
    async fn read_shard(
        &self,
        stream_arn: &str,
        shard_id: &str,
        iterators: &mut HashMap<String, String>,
        checkpoint: &mut Checkpoint,
        events: &EventsFile,
    ) -> Result<(), String> {
        let position = checkpoint.shards.entry(shard_id.to_owned()).or_default();
        let mut iterator = match iterators.remove(shard_id) {
            Some(iterator) => iterator,
            None => {
                let request = self
                    .streams
                    .get_shard_iterator()
                    .stream_arn(stream_arn)
                    .shard_id(shard_id);
                let request = match &position.delivered_through {
                    Some(sequence) => request
                        .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                        .sequence_number(sequence),
                    None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
                };
                match request.send().await {
                    Ok(out) => match out.shard_iterator() {
                        Some(iterator) => iterator.to_owned(),
                        None => {
                            position.finished = true;
                            return Ok(());
                        }
                    },
                    Err(e) => {
                        eprintln!(
                            "gharart-operator: GetShardIterator {shard_id} failed, trying again: {}",
                            error_text(&e)
                        );
                        return Ok(());
                    }
                }
            }
        };
        loop {
            let out = match self
                .streams
                .get_records()
                .shard_iterator(&iterator)
                .limit(RECORDS_PER_READ)
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) => {
                    // An expired iterator, or DynamoDB Local restarting: start again from the
                    // checkpoint at the next poll.
                    eprintln!(
                        "gharart-operator: GetRecords {shard_id} failed, trying again: {}",
                        error_text(&e)
                    );
                    return Ok(());
                }
            };
            let records = out
                .records()
                .iter()
                .map(change_record)
                .collect::<Result<Vec<_>, _>>()?;
            if !records.is_empty() {
                // No deadline here: the runner has all the time it needs.
                // The statistics first, as the deployed function keeps them: a record whose
                // statistics failed is neither published nor checkpointed.
                let store = Store::new(self.dynamodb.clone(), self.table.clone());
                let delivery = consume_in_order(&records, events, &store, || true).await;
                if let Some(last) = delivery.delivered.checked_sub(1) {
                    position.delivered_through = Some(records[last].sequence_number.clone());
                }
                if let Some(why) = delivery.failure {
                    let failed = &records[delivery.delivered].sequence_number;
                    let attempts = match &position.failing {
                        Some((sequence, tries)) if sequence == failed => tries + 1,
                        _ => 1,
                    };
                    if attempts < ATTEMPTS {
                        // Resumed from the checkpoint at the next poll, as Lambda retries.
                        eprintln!(
                            "gharart-operator: record {failed} not delivered (try {attempts}), \
                             trying again: {why}"
                        );
                        position.failing = Some((failed.clone(), attempts));
                        return Ok(());
                    }
                    // As Lambda after its retries: the rest of the batch is described in the
                    // failures file, and the shard moves on past it.
                    let rest = &records[delivery.delivered..];
                    let batch = FailedBatch::of(stream_arn, shard_id, rest);
                    batch.append_to(&failures_path(&self.events_file))?;
                    eprintln!(
                        "gharart-operator: records {} to {} not delivered after {ATTEMPTS} \
                         tries, described in the failures file: {why}",
                        batch.info.start_sequence_number, batch.info.end_sequence_number
                    );
                    position.failing = None;
                    position.delivered_through =
                        rest.last().map(|record| record.sequence_number.clone());
                    return Ok(());
                }
                position.failing = None;
            }
            match out.next_shard_iterator() {
                None => {
                    position.finished = true;
                    return Ok(());
                }
                Some(next) if records.is_empty() => {
                    iterators.insert(shard_id.to_owned(), next.to_owned());
                    return Ok(());
                }
                Some(next) => iterator = next.to_owned(),
            }
        }
    }
}

/// The shards to read now: not finished, and whose parent (when the stream still lists it)
/// is finished, so that a child's records never come before its parent's.
fn ready<'s>(shards: &'s [Shard], checkpoint: &Checkpoint) -> Vec<&'s str> {
    let finished = |id: &str| checkpoint.shards.get(id).is_some_and(|p| p.finished);
    let listed: HashSet<&str> = shards.iter().filter_map(Shard::shard_id).collect();
    shards
        .iter()
        .filter_map(|shard| {
            let id = shard.shard_id()?;
            let parent_pending = shard
                .parent_shard_id()
                .is_some_and(|parent| listed.contains(parent) && !finished(parent));
            (!finished(id) && !parent_pending).then_some(id)
        })
        .collect()
}

/// A DynamoDB Streams client for DynamoDB Local: the DynamoDB client's HTTP client and region,
/// the local credentials (DynamoDB Local keeps one set of tables per access key), at the same
/// endpoint.
pub fn local_streams_client(
    dynamodb: &aws_sdk_dynamodb::Client,
    endpoint: &str,
) -> aws_sdk_dynamodbstreams::Client {
    let config = dynamodb.config();
    let mut streams = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
        .region(config.region().cloned())
        .endpoint_url(endpoint);
    if let Some(http) = config.http_client() {
        streams = streams.http_client(http);
    }
    aws_sdk_dynamodbstreams::Client::from_conf(
        streams
            .credentials_provider(group_buy::aws::local_credentials())
            .build(),
    )
}
