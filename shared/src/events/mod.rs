//! Lifecycle events (API.md, "Lifecycle events"), derived from the table's change stream and
//! never from the request path: a write and its event cannot part ways.
//!
//! One pure derivation (`derive`) turns a stream record (its id, kind and the item's old and
//! new images) into the events it means; `delivery` publishes them in stream order and tells
//! which record to resume from after a failure. Two callers feed it the same records: the
//! `group-buy-events` Lambda (DynamoDB stream → EventBridge, `lambda`) and the operator's
//! local runner (DynamoDB Local's stream → `LOCAL_EVENTS_FILE`).

pub mod delivery;
mod derive;
pub mod lambda;
pub mod stats;

pub use delivery::{Delivery, Publisher, deliver_in_order};
pub use derive::{DeriveError, derive};
pub use stats::{Recorded, consume_in_order, record_stats};

use crate::domain::{CloseOutcome, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `source` of every event on the bus.
pub const SOURCE: &str = "gharart.group-buys";

/// Where the local runner appends events, unless `LOCAL_EVENTS_FILE` says otherwise.
pub const DEFAULT_LOCAL_EVENTS_FILE: &str = ".local/events.jsonl";

/// Every kind of lifecycle event; its name is the EventBridge `detail-type` and the name of
/// its schema, `schemas/events/<detail-type>.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DetailType {
    GroupBuyPublished,
    GroupBuyPaused,
    GroupBuyClosed,
    GroupBuyDeadlineExtended,
    ThresholdReached,
    ThresholdLost,
    PriceTierReached,
    GroupBuyClosingSoon,
    WaitlistPromoted,
    GroupBuyDrawn,
}

impl DetailType {
    pub const ALL: [Self; 10] = [
        Self::GroupBuyPublished,
        Self::GroupBuyPaused,
        Self::GroupBuyClosed,
        Self::GroupBuyDeadlineExtended,
        Self::ThresholdReached,
        Self::ThresholdLost,
        Self::PriceTierReached,
        Self::GroupBuyClosingSoon,
        Self::WaitlistPromoted,
        Self::GroupBuyDrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::GroupBuyPublished => "GroupBuyPublished",
            Self::GroupBuyPaused => "GroupBuyPaused",
            Self::GroupBuyClosed => "GroupBuyClosed",
            Self::GroupBuyDeadlineExtended => "GroupBuyDeadlineExtended",
            Self::ThresholdReached => "ThresholdReached",
            Self::ThresholdLost => "ThresholdLost",
            Self::PriceTierReached => "PriceTierReached",
            Self::GroupBuyClosingSoon => "GroupBuyClosingSoon",
            Self::WaitlistPromoted => "WaitlistPromoted",
            Self::GroupBuyDrawn => "GroupBuyDrawn",
        }
    }
}

/// What happened, with the fields of its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Happening {
    Published,
    Paused,
    Closed {
        outcome: CloseOutcome,
    },
    DeadlineExtended {
        closes_at: Timestamp,
        previous_closes_at: Option<Timestamp>,
        extension_count: u32,
    },
    ThresholdReached,
    ThresholdLost,
    PriceTierReached {
        /// 1-based position in `priceTiers`.
        tier: u32,
        tier_min_participants: u32,
        current_unit_price_minor: i64,
    },
    ClosingSoon {
        closes_at: Timestamp,
    },
    WaitlistPromoted {
        /// The per-campaign pseudonym owners see (the interest's sort key), never the
        /// visitor's platform-wide key.
        participant: String,
        quantity: u32,
    },
    /// The draw ran; the seed is public from then on.
    Drawn {
        entry_count: u32,
        winner_count: u32,
        seed: String,
    },
}

impl Happening {
    pub fn detail_type(&self) -> DetailType {
        match self {
            Self::Published => DetailType::GroupBuyPublished,
            Self::Paused => DetailType::GroupBuyPaused,
            Self::Closed { .. } => DetailType::GroupBuyClosed,
            Self::DeadlineExtended { .. } => DetailType::GroupBuyDeadlineExtended,
            Self::ThresholdReached => DetailType::ThresholdReached,
            Self::ThresholdLost => DetailType::ThresholdLost,
            Self::PriceTierReached { .. } => DetailType::PriceTierReached,
            Self::ClosingSoon { .. } => DetailType::GroupBuyClosingSoon,
            Self::WaitlistPromoted { .. } => DetailType::WaitlistPromoted,
            Self::Drawn { .. } => DetailType::GroupBuyDrawn,
        }
    }
}

/// The counts of the item the event came from, where it has them (the tally does; the
/// group-buy's own item has only `minParticipants`; an interest item has none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub participant_count: Option<u32>,
    pub unit_count: Option<u64>,
    pub min_participants: Option<u32>,
}

/// One lifecycle event, as derived from one stream record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecycleEvent {
    pub event_id: String,
    pub handle: String,
    pub slug: String,
    /// The group-buy's `version` as the item showed it; `None` for an interest item (which
    /// carries none) and for a tally written before tallies carried it.
    pub version: Option<u64>,
    pub occurred_at: Timestamp,
    pub counts: Counts,
    pub happening: Happening,
}

/// The `detail` of an event as published: the fields API.md names, and no others.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Detail<'a> {
    event_id: &'a str,
    handle: &'a str,
    slug: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u64>,
    occurred_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    participant_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_participants: Option<u32>,
    #[serde(flatten)]
    fields: KindFields<'a>,
}

/// The fields of each kind, flattened into the detail.
#[derive(Serialize)]
#[serde(untagged)]
enum KindFields<'a> {
    None {},
    #[serde(rename_all = "camelCase")]
    Closed {
        outcome: CloseOutcome,
    },
    #[serde(rename_all = "camelCase")]
    DeadlineExtended {
        closes_at: Timestamp,
        previous_closes_at: Option<Timestamp>,
        extension_count: u32,
    },
    #[serde(rename_all = "camelCase")]
    PriceTier {
        tier: u32,
        tier_min_participants: u32,
        current_unit_price_minor: i64,
    },
    #[serde(rename_all = "camelCase")]
    ClosingSoon {
        closes_at: Timestamp,
    },
    #[serde(rename_all = "camelCase")]
    WaitlistPromoted {
        participant: &'a str,
        quantity: u32,
    },
    #[serde(rename_all = "camelCase")]
    Drawn {
        entry_count: u32,
        winner_count: u32,
        seed: &'a str,
    },
}

impl LifecycleEvent {
    pub fn detail_type(&self) -> DetailType {
        self.happening.detail_type()
    }

    /// The event's `detail`, as JSON.
    pub fn detail(&self) -> serde_json::Value {
        let fields = match &self.happening {
            Happening::Published
            | Happening::Paused
            | Happening::ThresholdReached
            | Happening::ThresholdLost => KindFields::None {},
            Happening::Closed { outcome } => KindFields::Closed { outcome: *outcome },
            Happening::DeadlineExtended {
                closes_at,
                previous_closes_at,
                extension_count,
            } => KindFields::DeadlineExtended {
                closes_at: *closes_at,
                previous_closes_at: *previous_closes_at,
                extension_count: *extension_count,
            },
            Happening::PriceTierReached {
                tier,
                tier_min_participants,
                current_unit_price_minor,
            } => KindFields::PriceTier {
                tier: *tier,
                tier_min_participants: *tier_min_participants,
                current_unit_price_minor: *current_unit_price_minor,
            },
            Happening::ClosingSoon { closes_at } => KindFields::ClosingSoon {
                closes_at: *closes_at,
            },
            Happening::WaitlistPromoted {
                participant,
                quantity,
            } => KindFields::WaitlistPromoted {
                participant,
                quantity: *quantity,
            },
            Happening::Drawn {
                entry_count,
                winner_count,
                seed,
            } => KindFields::Drawn {
                entry_count: *entry_count,
                winner_count: *winner_count,
                seed,
            },
        };
        let detail = Detail {
            event_id: &self.event_id,
            handle: &self.handle,
            slug: &self.slug,
            version: self.version,
            occurred_at: self.occurred_at,
            participant_count: self.counts.participant_count,
            unit_count: self.counts.unit_count,
            min_participants: self.counts.min_participants,
            fields,
        };
        // Plain strings and numbers: this cannot fail.
        serde_json::to_value(detail).unwrap_or(serde_json::Value::Null)
    }

    /// The event as an EventBridge entry and as one line of the local events file:
    /// `{"source", "detail-type", "detail"}`.
    pub fn entry(&self) -> serde_json::Value {
        serde_json::json!({
            "source": SOURCE,
            "detail-type": self.detail_type().as_str(),
            "detail": self.detail(),
        })
    }
}

/// The kind of change a stream record reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Insert,
    Modify,
    Remove,
}

impl Operation {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "INSERT" => Some(Self::Insert),
            "MODIFY" => Some(Self::Modify),
            "REMOVE" => Some(Self::Remove),
            _ => None,
        }
    }
}

/// One record of the table's stream, whoever read it (Lambda's event, or the local runner's
/// GetRecords).
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeRecord {
    /// The stream record's `eventID`: the same on every delivery of the record.
    pub record_id: String,
    pub sequence_number: String,
    pub operation: Operation,
    /// When DynamoDB wrote the change (`ApproximateCreationDateTime`, whole seconds).
    pub written_at: Timestamp,
    pub keys: serde_dynamo::Item,
    pub old_image: Option<serde_dynamo::Item>,
    pub new_image: Option<serde_dynamo::Item>,
}

/// The id of the `detail_type` event of stream record `record_id`: a redelivery of the record
/// gives the same id, and two kinds from one record (a tier and the threshold at once) differ.
pub fn event_id(record_id: &str, detail_type: DetailType) -> String {
    let digest = Sha256::digest(format!("{record_id}#{}", detail_type.as_str()).as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}
