//! Which events one stream record means: a pure function of the record's id, kind, time and
//! the item's images (the stored attributes of the data contract, README "Table layout").
//!
//! | item | change | event |
//! |---|---|---|
//! | `GB` | `status` to published (from draft or paused) / paused / closed | `GroupBuyPublished` / `GroupBuyPaused` / `GroupBuyClosed` |
//! | `GB` | `closesAt` changed, status unchanged | `GroupBuyDeadlineExtended` |
//! | `GB#TALLY` | `participantCount` crosses `minParticipants` up / down | `ThresholdReached` / `ThresholdLost` |
//! | `GB#TALLY` | the tier reached (of `priceTiers`) rises | `PriceTierReached` |
//! | `GB#TALLY` | `closingSoonFor` newly set or changed | `GroupBuyClosingSoon` |
//! | `INT#…` | inserted with `promotedAt` | `WaitlistPromoted` |
//! | `GB` | `draw.drawnAt` newly set | `GroupBuyDrawn` |
//!
//! Everything else (a draft created, an interest registered, history entries, counters) means
//! no event.

use super::{ChangeRecord, Counts, Happening, LifecycleEvent, Operation, event_id};
use crate::domain::{CloseOutcome, Status, Timestamp};
use crate::table::layout::{GROUP_BUY_SK, INTEREST_PREFIX, TALLY_SK, group_buy_of};
use crate::table::{PARTITION_KEY, SORT_KEY};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_dynamo::AttributeValue;

/// A record whose item is not what the data contract says: a bug or a foreign write. It is
/// never skipped silently: the Lambda reports it as a failed record (retried, then sent to
/// the on-failure queue, which alarms).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeriveError {
    #[error("stream record {record}: {why}")]
    Malformed { record: String, why: String },
}

/// The group-buy's own item, as far as its events need it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupBuyImage {
    status: Status,
    close_outcome: Option<CloseOutcome>,
    closes_at: Option<Timestamp>,
    version: u64,
    min_participants: u32,
    #[serde(default)]
    extension_count: Option<u32>,
    #[serde(default)]
    draw: Option<DrawImage>,
}

/// A draw campaign's draw, as far as `GroupBuyDrawn` needs it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DrawImage {
    #[serde(default)]
    drawn_at: Option<Timestamp>,
    #[serde(default)]
    entry_count: Option<u32>,
    #[serde(default)]
    winner_count: Option<u32>,
    #[serde(default)]
    seed: Option<String>,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PriceTier {
    min_participants: u32,
    unit_price_minor: i64,
}

/// The tally, as far as its events need it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TallyImage {
    min_participants: u32,
    participant_count: u32,
    unit_count: u64,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    price_tiers: Option<Vec<PriceTier>>,
    #[serde(default)]
    closing_soon_for: Option<Timestamp>,
}

impl TallyImage {
    fn threshold_met(&self) -> bool {
        self.participant_count >= self.min_participants
    }

    /// The highest tier `participantCount` reaches (1-based) and the tier; `None` below all.
    fn tier_reached(&self) -> Option<(u32, PriceTier)> {
        let tiers = self.price_tiers.as_deref().unwrap_or_default();
        let reached = tiers
            .iter()
            .take_while(|t| t.min_participants <= self.participant_count)
            .count();
        let tier = *tiers.get(reached.checked_sub(1)?)?;
        Some((u32::try_from(reached).unwrap_or(u32::MAX), tier))
    }

    fn counts(&self) -> Counts {
        Counts {
            participant_count: Some(self.participant_count),
            unit_count: Some(self.unit_count),
            min_participants: Some(self.min_participants),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InterestImage {
    quantity: u32,
    #[serde(default)]
    promoted_at: Option<Timestamp>,
}

/// The events `record` means, in the order they are published.
pub fn derive(record: &ChangeRecord) -> Result<Vec<LifecycleEvent>, DeriveError> {
    let malformed = |why: String| DeriveError::Malformed {
        record: record.record_id.clone(),
        why,
    };
    let key = |name: &str| match record.keys.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.as_str()),
        _ => Err(malformed(format!("no string key {name}"))),
    };
    let (pk, sk) = (key(PARTITION_KEY)?, key(SORT_KEY)?);
    let Some((handle, slug)) = group_buy_of(pk) else {
        // Counters, idempotency records, tokens, reports: no lifecycle in them.
        return Ok(Vec::new());
    };
    let happenings: Vec<(Happening, Counts, Option<u64>)> = if sk == GROUP_BUY_SK {
        if record.operation != Operation::Modify {
            // Created as a draft (no event), or deleted (never done).
            return Ok(Vec::new());
        }
        let (Some(old), Some(new)) = (
            image::<GroupBuyImage>(record, Image::Old)?,
            image::<GroupBuyImage>(record, Image::New)?,
        ) else {
            return Err(malformed(
                "a change of a group-buy without both images".into(),
            ));
        };
        let counts = Counts {
            min_participants: Some(new.min_participants),
            ..Counts::default()
        };
        group_buy_change(&old, &new)
            .map_err(malformed)?
            .into_iter()
            .map(|h| (h, counts, Some(new.version)))
            .collect()
    } else if sk == TALLY_SK {
        let old = image::<TallyImage>(record, Image::Old)?;
        match (old, image::<TallyImage>(record, Image::New)?) {
            (Some(old), Some(new)) => tally_change(&old, &new)
                .into_iter()
                .map(|h| (h, new.counts(), new.version))
                .collect(),
            // Created with the draft (nothing reached yet), or deleted.
            _ => Vec::new(),
        }
    } else if let Some(participant) = sk.strip_prefix(INTEREST_PREFIX) {
        match (
            record.operation,
            image::<InterestImage>(record, Image::New)?,
        ) {
            (Operation::Insert, Some(new)) if new.promoted_at.is_some() => vec![(
                Happening::WaitlistPromoted {
                    participant: participant.to_owned(),
                    quantity: new.quantity,
                },
                Counts::default(),
                None,
            )],
            _ => Vec::new(),
        }
    } else {
        Vec::new()
    };
    Ok(happenings
        .into_iter()
        .map(|(happening, counts, version)| LifecycleEvent {
            event_id: event_id(&record.record_id, happening.detail_type()),
            handle: handle.to_owned(),
            slug: slug.to_owned(),
            version,
            occurred_at: record.written_at,
            counts,
            happening,
        })
        .collect())
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Image {
    Old,
    New,
}

/// The record's old or new image, decoded; `None` when the record has none.
pub(super) fn image<T: DeserializeOwned>(
    record: &ChangeRecord,
    which: Image,
) -> Result<Option<T>, DeriveError> {
    let item = match which {
        Image::Old => &record.old_image,
        Image::New => &record.new_image,
    };
    item.as_ref()
        .map(|item| serde_dynamo::from_item(item.clone()))
        .transpose()
        .map_err(|e: serde_dynamo::Error| DeriveError::Malformed {
            record: record.record_id.clone(),
            why: format!("{which:?} image: {e}"),
        })
}

/// A transition (status changed) or an extension (deadline moved, status unchanged).
fn group_buy_change(old: &GroupBuyImage, new: &GroupBuyImage) -> Result<Vec<Happening>, String> {
    let drawn = |image: &GroupBuyImage| image.draw.as_ref().and_then(|d| d.drawn_at).is_some();
    if let Some(draw) = new.draw.as_ref().filter(|_| drawn(new) && !drawn(old)) {
        return Ok(vec![Happening::Drawn {
            entry_count: draw.entry_count.unwrap_or(0),
            winner_count: draw.winner_count.unwrap_or(0),
            seed: draw
                .seed
                .clone()
                .ok_or("a drawn group-buy without its seed")?,
        }]);
    }
    if old.status != new.status {
        return Ok(match (old.status, new.status) {
            (Status::Draft | Status::Paused, Status::Published) => vec![Happening::Published],
            (_, Status::Paused) => vec![Happening::Paused],
            (_, Status::Closed) => vec![Happening::Closed {
                outcome: new
                    .close_outcome
                    .ok_or("a closed group-buy without closeOutcome")?,
            }],
            // Never written by the lifecycle (nothing returns to draft).
            _ => Vec::new(),
        });
    }
    Ok(match new.closes_at {
        Some(closes_at) if new.closes_at != old.closes_at => vec![Happening::DeadlineExtended {
            closes_at,
            previous_closes_at: old.closes_at,
            extension_count: new.extension_count.unwrap_or(0),
        }],
        _ => Vec::new(),
    })
}

fn tally_change(old: &TallyImage, new: &TallyImage) -> Vec<Happening> {
    let mut happenings = Vec::new();
    match (old.threshold_met(), new.threshold_met()) {
        (false, true) => happenings.push(Happening::ThresholdReached),
        (true, false) => happenings.push(Happening::ThresholdLost),
        _ => {}
    }
    let before = old.tier_reached().map_or(0, |(tier, _)| tier);
    if let Some((tier, reached)) = new.tier_reached().filter(|(tier, _)| *tier > before) {
        happenings.push(Happening::PriceTierReached {
            tier,
            tier_min_participants: reached.min_participants,
            current_unit_price_minor: reached.unit_price_minor,
        });
    }
    if let Some(closes_at) = new.closing_soon_for
        && new.closing_soon_for != old.closing_soon_for
    {
        happenings.push(Happening::ClosingSoon { closes_at });
    }
    happenings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::DetailType;
    use serde_dynamo::Item;
    use serde_json::{Value, json};

    const PK: &str = "GB#acme-decor#jute-rug";

    fn item(value: Value) -> Item {
        serde_dynamo::to_item(value).expect("an item")
    }

    fn record(
        operation: Operation,
        sk: &str,
        old: Option<Value>,
        new: Option<Value>,
    ) -> ChangeRecord {
        ChangeRecord {
            record_id: "c81e728d9d4c2f636f067f89cc14862c".into(),
            sequence_number: "4000000000000000001".into(),
            operation,
            written_at: Timestamp::parse("2026-11-24T18:00:00Z").expect("time"),
            keys: item(json!({"PK": PK, "SK": sk})),
            old_image: old.map(|mut v| {
                v["PK"] = json!(PK);
                v["SK"] = json!(sk);
                item(v)
            }),
            new_image: new.map(|mut v| {
                v["PK"] = json!(PK);
                v["SK"] = json!(sk);
                item(v)
            }),
        }
    }

    fn group_buy(status: &str, outcome: Value, closes_at: Value, version: u64) -> Value {
        json!({
            "handle": "acme-decor", "slug": "jute-rug", "title": "Jute rug",
            "currency": "INR", "unitPriceMinor": 249900, "minParticipants": 2,
            "maxParticipants": null, "maxQuantityPerParticipant": 5,
            "closesAt": closes_at, "status": status, "closeOutcome": outcome,
            "version": version, "createdAt": "2026-11-01T10:00:00.000Z",
            "updatedAt": "2026-11-24T18:00:00.000Z", "publishedAt": null, "closedAt": null,
            "GSI1PK": "HANDLE#acme-decor", "closeRejectedAt": null
        })
    }

    fn tally(participants: u32, extra: Value) -> Value {
        let mut tally = json!({
            "status": "published", "everPublished": true, "closesAt": null,
            "minParticipants": 2, "maxParticipants": null, "maxQuantityPerParticipant": 5,
            "participantCount": participants, "unitCount": participants * 2,
            "thresholdEdge": 1, "version": 2
        });
        if let (Some(tally), Value::Object(extra)) = (tally.as_object_mut(), extra) {
            tally.extend(extra);
        }
        tally
    }

    fn kinds(record: &ChangeRecord) -> Vec<DetailType> {
        derive(record)
            .expect("derived")
            .iter()
            .map(LifecycleEvent::detail_type)
            .collect()
    }

    /// The schema of `kind` in schemas/events, formats (date-time) checked too.
    fn validator(kind: DetailType) -> jsonschema::Validator {
        let path = format!(
            "{}/../schemas/events/{}.json",
            env!("CARGO_MANIFEST_DIR"),
            kind.as_str()
        );
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")),
        )
        .expect("schema JSON");
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn schema_checked(events: &[LifecycleEvent]) {
        for event in events {
            let name = event.detail_type().as_str();
            let validator = validator(event.detail_type());
            let detail = event.detail();
            let errors: Vec<String> = validator
                .iter_errors(&detail)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{name}: {detail}: {errors:?}");
        }
    }

    #[test]
    fn transitions_of_the_group_buy_item() {
        let change = |from: &str, to: &str, outcome: Value| {
            record(
                Operation::Modify,
                "GB",
                Some(group_buy(from, Value::Null, Value::Null, 1)),
                Some(group_buy(to, outcome, Value::Null, 2)),
            )
        };
        assert_eq!(
            kinds(&change("draft", "published", Value::Null)),
            [DetailType::GroupBuyPublished]
        );
        assert_eq!(
            kinds(&change("paused", "published", Value::Null)),
            [DetailType::GroupBuyPublished]
        );
        assert_eq!(
            kinds(&change("published", "paused", Value::Null)),
            [DetailType::GroupBuyPaused]
        );
        let closed = derive(&change("published", "closed", json!("fulfilled"))).expect("derived");
        assert_eq!(closed.len(), 1);
        assert_eq!(
            closed[0].happening,
            Happening::Closed {
                outcome: CloseOutcome::Fulfilled
            }
        );
        let detail = closed[0].detail();
        assert_eq!(detail["outcome"], "fulfilled");
        assert_eq!(detail["version"], 2);
        assert_eq!(detail["minParticipants"], 2);
        assert_eq!(detail["occurredAt"], "2026-11-24T18:00:00.000Z");
        schema_checked(&closed);
        // A closed group-buy without its outcome is reported, not skipped.
        assert!(derive(&change("published", "closed", Value::Null)).is_err());
    }

    #[test]
    fn nothing_for_a_created_draft_or_an_unchanged_status() {
        let draft = group_buy("draft", Value::Null, Value::Null, 1);
        assert!(kinds(&record(Operation::Insert, "GB", None, Some(draft.clone()))).is_empty());
        // A refused close raises a flag on the item: no transition.
        let mut flagged = draft.clone();
        flagged["closeRejectedAt"] = json!("2026-11-24T18:00:00.000Z");
        assert!(kinds(&record(Operation::Modify, "GB", Some(draft), Some(flagged))).is_empty());
    }

    #[test]
    fn an_extension_is_a_new_deadline_with_the_status_unchanged() {
        let mut old = group_buy(
            "published",
            Value::Null,
            json!("2026-12-01T00:00:00.000Z"),
            3,
        );
        let mut new = group_buy(
            "published",
            Value::Null,
            json!("2026-12-08T00:00:00.000Z"),
            4,
        );
        old["firstClosesAt"] = Value::Null;
        new["firstClosesAt"] = json!("2026-12-01T00:00:00.000Z");
        new["extensionCount"] = json!(1);
        let events = derive(&record(Operation::Modify, "GB", Some(old), Some(new))).expect("ok");
        assert_eq!(
            events
                .iter()
                .map(|e| e.happening.clone())
                .collect::<Vec<_>>(),
            [Happening::DeadlineExtended {
                closes_at: Timestamp::parse("2026-12-08T00:00:00.000Z").expect("t"),
                previous_closes_at: Timestamp::parse("2026-12-01T00:00:00.000Z").ok(),
                extension_count: 1,
            }]
        );
        assert_eq!(events[0].detail()["extensionCount"], 1);
        schema_checked(&events);
    }

    #[test]
    fn the_threshold_is_reached_and_lost_by_crossing_it() {
        let step = |from: u32, to: u32| {
            record(
                Operation::Modify,
                "GB#TALLY",
                Some(tally(from, json!({}))),
                Some(tally(to, json!({}))),
            )
        };
        assert_eq!(kinds(&step(1, 2)), [DetailType::ThresholdReached]);
        assert_eq!(kinds(&step(2, 1)), [DetailType::ThresholdLost]);
        assert!(kinds(&step(2, 3)).is_empty());
        assert!(kinds(&step(0, 1)).is_empty());
        let reached = derive(&step(1, 2)).expect("derived");
        let detail = reached[0].detail();
        assert_eq!(
            (
                &detail["participantCount"],
                &detail["unitCount"],
                &detail["version"]
            ),
            (&json!(2), &json!(4), &json!(2))
        );
        schema_checked(&reached);
        schema_checked(&derive(&step(2, 1)).expect("derived"));
        // The tally written with the draft reaches nothing.
        assert!(
            kinds(&record(
                Operation::Insert,
                "GB#TALLY",
                None,
                Some(tally(0, json!({})))
            ))
            .is_empty()
        );
    }

    #[test]
    fn a_higher_price_tier_is_reached_once() {
        let tiers = json!({"priceTiers": [
            {"minParticipants": 3, "unitPriceMinor": 229900},
            {"minParticipants": 5, "unitPriceMinor": 199900}
        ]});
        let step = |from: u32, to: u32| {
            record(
                Operation::Modify,
                "GB#TALLY",
                Some(tally(from, tiers.clone())),
                Some(tally(to, tiers.clone())),
            )
        };
        let events = derive(&step(2, 3)).expect("derived");
        assert_eq!(
            events
                .iter()
                .map(|e| e.happening.clone())
                .collect::<Vec<_>>(),
            [Happening::PriceTierReached {
                tier: 1,
                tier_min_participants: 3,
                current_unit_price_minor: 229900
            }]
        );
        schema_checked(&events);
        assert!(kinds(&step(3, 4)).is_empty());
        assert!(
            kinds(&step(4, 3)).is_empty(),
            "falling back to a lower tier is no event"
        );
        assert_eq!(kinds(&step(4, 5)), [DetailType::PriceTierReached]);
        // The threshold (2) and a tier at 2 reached by the same registration: both, in order.
        let low = json!({"priceTiers": [{"minParticipants": 2, "unitPriceMinor": 1}]});
        let both = record(
            Operation::Modify,
            "GB#TALLY",
            Some(tally(1, low.clone())),
            Some(tally(2, low)),
        );
        let events = derive(&both).expect("derived");
        assert_eq!(
            events
                .iter()
                .map(LifecycleEvent::detail_type)
                .collect::<Vec<_>>(),
            [DetailType::ThresholdReached, DetailType::PriceTierReached]
        );
        assert_ne!(events[0].event_id, events[1].event_id);
        // Without tiers, nothing.
        assert!(
            kinds(&record(
                Operation::Modify,
                "GB#TALLY",
                Some(tally(2, json!({"priceTiers": null}))),
                Some(tally(3, json!({"priceTiers": null})))
            ))
            .is_empty()
        );
    }

    #[test]
    fn closing_soon_once_per_deadline() {
        let notice = |old: Value, new: Value| {
            record(
                Operation::Modify,
                "GB#TALLY",
                Some(tally(1, json!({"closingSoonFor": old}))),
                Some(tally(1, json!({"closingSoonFor": new}))),
            )
        };
        let first = "2026-11-25T12:00:00.000Z";
        let extended = "2026-11-30T12:00:00.000Z";
        let events = derive(&notice(Value::Null, json!(first))).expect("derived");
        assert_eq!(
            events
                .iter()
                .map(|e| e.happening.clone())
                .collect::<Vec<_>>(),
            [Happening::ClosingSoon {
                closes_at: Timestamp::parse(first).expect("t")
            }]
        );
        schema_checked(&events);
        assert!(kinds(&notice(json!(first), json!(first))).is_empty());
        assert_eq!(
            kinds(&notice(json!(first), json!(extended))),
            [DetailType::GroupBuyClosingSoon]
        );
    }

    #[test]
    fn a_promotion_from_the_waitlist_names_the_pseudonym_only() {
        let promoted = json!({
            "participant": "p-3f9a1c", "quantity": 2,
            "createdAt": "2026-11-24T18:00:00.000Z", "updatedAt": "2026-11-24T18:00:00.000Z",
            "promotedAt": "2026-11-24T18:00:00.000Z", "visitorKey": "vk-should-never-leave"
        });
        let events = derive(&record(
            Operation::Insert,
            "INT#p-3f9a1c",
            None,
            Some(promoted),
        ))
        .expect("derived");
        assert_eq!(
            events
                .iter()
                .map(|e| e.happening.clone())
                .collect::<Vec<_>>(),
            [Happening::WaitlistPromoted {
                participant: "p-3f9a1c".into(),
                quantity: 2
            }]
        );
        let line = events[0].entry().to_string();
        assert!(!line.contains("visitorKey") && !line.contains("vk-should-never-leave"));
        schema_checked(&events);
        // An ordinary registration is no event.
        let registered = json!({
            "participant": "p-3f9a1c", "quantity": 2,
            "createdAt": "2026-11-24T18:00:00.000Z", "updatedAt": "2026-11-24T18:00:00.000Z"
        });
        assert!(
            kinds(&record(
                Operation::Insert,
                "INT#p-3f9a1c",
                None,
                Some(registered)
            ))
            .is_empty()
        );
    }

    #[test]
    fn other_items_mean_nothing() {
        let counter = ChangeRecord {
            keys: item(json!({"PK": "ROLLUP#3", "SK": "TOTALS"})),
            ..record(Operation::Modify, "GB", None, None)
        };
        assert!(kinds(&counter).is_empty());
        let history = record(
            Operation::Insert,
            "HIST#2026-11-24T18:00:00.000Z#r1",
            None,
            Some(json!({})),
        );
        assert!(kinds(&history).is_empty());
    }

    #[test]
    fn ids_are_stable_per_record_and_kind() {
        let step = || {
            record(
                Operation::Modify,
                "GB#TALLY",
                Some(tally(1, json!({}))),
                Some(tally(2, json!({}))),
            )
        };
        let first = derive(&step()).expect("derived");
        let redelivered = derive(&step()).expect("derived");
        assert_eq!(first, redelivered);
        assert_eq!(first[0].event_id.len(), 32);
        let other = ChangeRecord {
            record_id: "another-record".into(),
            ..step()
        };
        assert_ne!(
            derive(&other).expect("derived")[0].event_id,
            first[0].event_id
        );
    }

    #[test]
    fn the_schemas_refuse_what_an_event_must_not_carry() {
        let step = record(
            Operation::Modify,
            "GB#TALLY",
            Some(tally(1, json!({}))),
            Some(tally(2, json!({}))),
        );
        let event = &derive(&step).expect("derived")[0];
        let validator = validator(event.detail_type());
        assert!(validator.is_valid(&event.detail()));
        for (field, value) in [
            ("visitorKey", json!("a3f9c0")),
            ("visitorId", json!("5b0c1a52-7c1e-4d7e-9a57-2f1d0c9e8a11")),
            ("token", json!("ghpat_x")),
            ("description", json!("a body")),
        ] {
            let mut detail = event.detail();
            detail[field] = value;
            assert!(!validator.is_valid(&detail), "{field} is refused");
        }
        let mut detail = event.detail();
        detail["occurredAt"] = json!("yesterday");
        assert!(!validator.is_valid(&detail), "occurredAt is a date-time");
        let mut detail = event.detail();
        detail.as_object_mut().map(|d| d.remove("eventId"));
        assert!(!validator.is_valid(&detail), "eventId is required");
    }

    #[test]
    fn every_detail_type_has_a_schema() {
        for kind in DetailType::ALL {
            validator(kind);
        }
        let files = std::fs::read_dir(format!("{}/../schemas/events", env!("CARGO_MANIFEST_DIR")))
            .expect("schemas/events")
            .count();
        assert_eq!(
            files,
            DetailType::ALL.len(),
            "one schema per detail-type, no others"
        );
    }
}
