//! `replay-failed-events`: the lifecycle events of stream batches that could not be delivered,
//! derived again from the table's stream and published, while the stream still holds them
//! (24 hours). A batch is named as Lambda's on-failure destination names it (its shard and its
//! first and last sequence numbers); on a deployed stage those descriptions are the messages of
//! the failure queue, locally the lines of the runner's failures file. The same derivation and
//! in-order delivery as the function: the same `eventId`s, so a consumer that saw some of them
//! already drops them. A batch is forgotten (message deleted, line removed) only once every one
//! of its events is published; a batch whose records the stream no longer holds is reported
//! and kept, for the playbook's reconciliation.

use crate::event_stream::change_record;
use aws_sdk_dynamodbstreams::error::ProvideErrorMetadata;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use group_buy::events::{ChangeRecord, Publisher, consume_in_order};
use group_buy::store::Store;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// A batch, as Lambda describes one it gave up on (the message's `DDBStreamBatchInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedBatch {
    #[serde(rename = "DDBStreamBatchInfo")]
    pub info: BatchInfo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchInfo {
    pub shard_id: String,
    pub start_sequence_number: String,
    pub end_sequence_number: String,
    pub stream_arn: String,
    pub batch_size: usize,
}

impl FailedBatch {
    /// The description of `records` (in stream order, at least one) of a shard.
    pub fn of(stream_arn: &str, shard_id: &str, records: &[ChangeRecord]) -> Self {
        let sequence = |record: Option<&ChangeRecord>| {
            record
                .map(|r| r.sequence_number.clone())
                .unwrap_or_default()
        };
        Self {
            info: BatchInfo {
                shard_id: shard_id.to_owned(),
                start_sequence_number: sequence(records.first()),
                end_sequence_number: sequence(records.last()),
                stream_arn: stream_arn.to_owned(),
                batch_size: records.len(),
            },
        }
    }

    pub fn append_to(&self, path: &Path) -> Result<(), String> {
        let line = serde_json::to_string(self).map_err(|e| e.to_string())? + "\n";
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut file| {
                file.write_all(line.as_bytes())
                    .and_then(|()| file.sync_data())
            })
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// How one batch's replay ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Replayed {
    /// Every event of the batch was published.
    Delivered { records: usize, events: usize },
    /// The stream no longer holds the batch's records: its events are lost to replay.
    Expired,
    /// Not now (the stream or the bus failed); the batch is kept for another try.
    Failed(String),
}

/// Pages without a record followed in a row before a batch's read is given up (and tried again
/// at the next replay).
const MAX_EMPTY_PAGES: u32 = 20;

/// Sequence numbers are decimal strings of up to 40 digits: compared as numbers.
fn after(sequence: &str, end: &str) -> bool {
    let (a, b) = (
        sequence.trim_start_matches('0'),
        end.trim_start_matches('0'),
    );
    (a.len(), a) > (b.len(), b)
}

/// Reads the batch's records (from its first sequence number through its last) from the
/// stream, derives their events and publishes them in order.
pub async fn replay<P: Publisher>(
    streams: &aws_sdk_dynamodbstreams::Client,
    batch: &BatchInfo,
    publisher: &P,
    store: &Store,
) -> Replayed {
    let iterator = streams
        .get_shard_iterator()
        .stream_arn(&batch.stream_arn)
        .shard_id(&batch.shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(&batch.start_sequence_number)
        .send()
        .await;
    let mut iterator = match iterator {
        Ok(out) => out.shard_iterator().map(str::to_owned),
        Err(e) if gone(e.code()) => return Replayed::Expired,
        Err(e) => return Replayed::Failed(crate::target::error_chain(&e)),
    };
    // Every record from the first through the last: DynamoDB Streams may answer a page with
    // no record before later ones, so empty pages are followed too, a bounded number of times.
    let mut records: Vec<ChangeRecord> = Vec::new();
    let mut empty_pages = 0;
    while let Some(current) = iterator.take() {
        let out = match streams.get_records().shard_iterator(current).send().await {
            Ok(out) => out,
            Err(e) if gone(e.code()) => return Replayed::Expired,
            Err(e) => return Replayed::Failed(crate::target::error_chain(&e)),
        };
        let mut reached_the_end = false;
        for record in out.records() {
            let record = match change_record(record) {
                Ok(record) => record,
                Err(e) => return Replayed::Failed(e),
            };
            if after(&record.sequence_number, &batch.end_sequence_number) {
                reached_the_end = true;
                break;
            }
            reached_the_end = record.sequence_number == batch.end_sequence_number;
            records.push(record);
            if reached_the_end {
                break;
            }
        }
        if reached_the_end {
            break;
        }
        empty_pages = if out.records().is_empty() {
            empty_pages + 1
        } else {
            0
        };
        if empty_pages >= MAX_EMPTY_PAGES {
            break;
        }
        iterator = out.next_shard_iterator().map(str::to_owned);
    }
    if records.first().map(|r| r.sequence_number.as_str())
        != Some(batch.start_sequence_number.as_str())
    {
        // The stream starts later than the batch: its first records have aged out.
        return Replayed::Expired;
    }
    let complete = records.last().map(|r| r.sequence_number.as_str())
        == Some(batch.end_sequence_number.as_str())
        && records.len() == batch.batch_size;
    if !complete {
        return Replayed::Failed(format!(
            "read {} of the batch's {} records; kept, to try again",
            records.len(),
            batch.batch_size
        ));
    }
    // The statistics too: a batch given up on had neither its events nor (from the record
    // that failed on) its statistics; both are safe to apply again.
    let delivery = consume_in_order(&records, publisher, store, || true).await;
    match delivery.failure {
        None => Replayed::Delivered {
            records: records.len(),
            events: delivery.published,
        },
        Some(why) => Replayed::Failed(why),
    }
}

/// DynamoDB Streams' answer when a sequence number is older than what the stream holds.
fn gone(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("TrimmedDataAccessException" | "ExpiredIteratorException")
    )
}

fn report(batch: &BatchInfo, replayed: &Replayed) {
    let range = format!(
        "batch {}..{} of {}",
        batch.start_sequence_number, batch.end_sequence_number, batch.shard_id
    );
    match replayed {
        Replayed::Delivered { records, events } => {
            println!("{range}: replayed, {records} records, {events} events published");
        }
        Replayed::Expired => println!(
            "{range}: LOST, the stream no longer holds its records (kept; see the lost-events \
             playbook)"
        ),
        Replayed::Failed(why) => println!("{range}: not replayed now, kept: {why}"),
    }
}

/// Replays every batch of the local failures file into the events file; keeps the lines of
/// the batches not replayed. Returns how many were kept.
pub async fn replay_file<P: Publisher>(
    streams: &aws_sdk_dynamodbstreams::Client,
    failures: &Path,
    publisher: &P,
    store: &Store,
) -> Result<usize, String> {
    // Claimed first, by a rename: what the runner appends meanwhile goes to a new file, which
    // the batches not replayed are then appended to.
    let mut claimed = failures.as_os_str().to_owned();
    claimed.push(".replaying");
    let claimed = std::path::PathBuf::from(claimed);
    // A claim an earlier replay left (it stopped midway) is taken up first, as it is.
    if !claimed.exists() {
        match std::fs::rename(failures, &claimed) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(format!("{}: {e}", failures.display())),
        }
    }
    let raw =
        std::fs::read_to_string(&claimed).map_err(|e| format!("{}: {e}", claimed.display()))?;
    let mut kept = Vec::new();
    for line in raw.lines().filter(|l| !l.trim().is_empty()) {
        let batch: FailedBatch = serde_json::from_str(line)
            .map_err(|e| format!("{}: not a batch description: {e}", claimed.display()))?;
        let replayed = replay(streams, &batch.info, publisher, store).await;
        report(&batch.info, &replayed);
        if !matches!(replayed, Replayed::Delivered { .. }) {
            kept.push(batch);
        }
    }
    for batch in &kept {
        batch.append_to(failures)?;
    }
    std::fs::remove_file(&claimed).map_err(|e| format!("{}: {e}", claimed.display()))?;
    Ok(kept.len())
}

/// Replays every batch the stage's failure queue describes onto its bus; deletes each message
/// whose batch was replayed, and leaves the others (visible again after the queue's visibility
/// timeout). Returns how many were left.
pub async fn replay_queue<P: Publisher>(
    streams: &aws_sdk_dynamodbstreams::Client,
    sqs: &aws_sdk_sqs::Client,
    queue_name: &str,
    publisher: &P,
    store: &Store,
) -> Result<usize, String> {
    let queue_url = sqs
        .get_queue_url()
        .queue_name(queue_name)
        .send()
        .await
        .map_err(|e| {
            format!(
                "GetQueueUrl {queue_name}: {}",
                crate::target::error_chain(&e)
            )
        })?
        .queue_url
        .ok_or_else(|| format!("no URL for the queue {queue_name}"))?;
    let mut left = 0;
    // A message kept comes back after its visibility timeout: seen once is enough.
    let mut seen = std::collections::HashSet::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            // Hidden from another replay while this one works on it.
            .visibility_timeout(120)
            .send()
            .await
            .map_err(|e| format!("ReceiveMessage: {}", crate::target::error_chain(&e)))?;
        let messages = received.messages();
        let fresh: Vec<_> = messages
            .iter()
            .filter(|m| seen.insert(m.message_id().unwrap_or_default().to_owned()))
            .collect();
        if fresh.is_empty() {
            return Ok(left);
        }
        for message in fresh {
            let body = message.body().unwrap_or_default();
            let Ok(batch) = serde_json::from_str::<FailedBatch>(body) else {
                println!(
                    "message {}: not a batch description, left",
                    message.message_id().unwrap_or("-")
                );
                left += 1;
                continue;
            };
            let replayed = replay(streams, &batch.info, publisher, store).await;
            report(&batch.info, &replayed);
            match (replayed, message.receipt_handle()) {
                (Replayed::Delivered { .. }, Some(receipt)) => {
                    sqs.delete_message()
                        .queue_url(&queue_url)
                        .receipt_handle(receipt)
                        .send()
                        .await
                        .map_err(|e| {
                            format!("DeleteMessage: {}", crate::target::error_chain(&e))
                        })?;
                }
                _ => left += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_compare_as_numbers() {
        assert!(after("100000000000000000002", "100000000000000000001"));
        assert!(after("1000", "999"));
        assert!(!after("999", "1000"));
        assert!(!after("000123", "123"));
    }

    #[test]
    fn a_batch_description_reads_as_lambda_writes_it() {
        let message = r#"{"requestContext":{"requestId":"r","functionArn":"arn:aws:lambda:ap-south-1:1:function:f","condition":"RetryAttemptsExhausted","approximateInvokeCount":11},"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":null},"version":"1.0","timestamp":"2026-12-07T05:00:00.000Z","DDBStreamBatchInfo":{"shardId":"shardId-1","startSequenceNumber":"100","endSequenceNumber":"200","approximateArrivalOfFirstRecord":"2026-12-07T04:59:00Z","approximateArrivalOfLastRecord":"2026-12-07T04:59:01Z","batchSize":2,"streamArn":"arn:aws:dynamodb:ap-south-1:1:table/t/stream/2026"}}"#;
        let batch: FailedBatch = serde_json::from_str(message).expect("parses");
        assert_eq!(batch.info.shard_id, "shardId-1");
        assert_eq!(batch.info.start_sequence_number, "100");
        assert_eq!(batch.info.end_sequence_number, "200");
        assert_eq!(batch.info.batch_size, 2);
    }
}
