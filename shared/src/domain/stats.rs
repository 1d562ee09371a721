//! Campaign statistics (API.md "Campaign statistics"): interest over time, hour by hour, and
//! where the recent rate leads by the deadline. Pure: the stream consumer records what each
//! hour saw (`events::stats`), the store keeps it, and this turns the recorded hours and the
//! group-buy into the answer.

use super::{GroupBuy, Timestamp};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Serialize;

/// The hours the recent rate is taken over.
const RATE_WINDOW_HOURS: i64 = 24;

/// What the stream consumer recorded for one hour. An hour without a change of the counts has
/// no `totals`: they are the previous hour's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedHour {
    pub start: Timestamp,
    pub registered: u32,
    pub withdrawn: u32,
    pub totals: Option<Totals>,
}

/// `participantCount` and `unitCount` as a write left them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub participants: u32,
    pub units: u64,
}

/// One hour of the answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bucket {
    pub start: Timestamp,
    pub registered: u32,
    pub withdrawn: u32,
    pub participants: u32,
    pub units: u64,
}

/// Where the recent rate leads by the deadline.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Projection {
    pub participants_at_close: u32,
    /// New participants a day needed from now to reach `minParticipants` by the deadline; 0
    /// once reached, the whole shortfall when less than a day is left.
    pub needed_per_day: u32,
    pub likely_to_meet_threshold: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CampaignStats {
    pub buckets: Vec<Bucket>,
    pub projection: Option<Projection>,
}

/// The start of the UTC hour `t` falls in.
pub fn hour_of(t: Timestamp) -> Timestamp {
    let time = t.as_datetime();
    Timestamp::from(time.duration_trunc(Duration::hours(1)).unwrap_or(time))
}

/// The statistics of `gb` at `now` from the hours recorded for it (any order).
pub fn campaign_stats(gb: &GroupBuy, recorded: &[RecordedHour], now: Timestamp) -> CampaignStats {
    let buckets = buckets(gb, recorded, now);
    let projection = gb
        .closes_at
        .map(|closes_at| project(gb, &buckets, closes_at, now));
    CampaignStats {
        buckets,
        projection,
    }
}

/// Hourly buckets from the hour of the first publish (or of the first recorded change, if the
/// group-buy was paused and published again since) to the hour of the close, or of `now`.
fn buckets(gb: &GroupBuy, recorded: &[RecordedHour], now: Timestamp) -> Vec<Bucket> {
    let first_recorded = recorded.iter().map(|h| h.start).min();
    let Some(first) = [gb.published_at, first_recorded]
        .into_iter()
        .flatten()
        .min()
        .map(hour_of)
    else {
        return Vec::new(); // never published: nothing happened yet
    };
    let last = hour_of(gb.closed_at.unwrap_or(now)).max(first);
    let mut recorded: Vec<&RecordedHour> = recorded.iter().collect();
    recorded.sort_by_key(|h| h.start);
    let mut recorded = recorded.into_iter().peekable();
    let mut totals = Totals::default();
    let mut buckets = Vec::new();
    let mut hour = first.as_datetime();
    while hour <= last.as_datetime() {
        let start = Timestamp::from(hour);
        let mut bucket = Bucket {
            start,
            registered: 0,
            withdrawn: 0,
            participants: 0,
            units: 0,
        };
        while let Some(seen) = recorded.next_if(|h| h.start <= start) {
            bucket.registered += seen.registered;
            bucket.withdrawn += seen.withdrawn;
            totals = seen.totals.unwrap_or(totals);
        }
        bucket.participants = totals.participants;
        bucket.units = totals.units;
        buckets.push(bucket);
        hour += Duration::hours(1);
    }
    // The stream is a few seconds behind the writes: the counts of the group-buy itself are
    // the truth of the hour that is still running (or of the close).
    if let Some(current) = buckets.last_mut() {
        current.participants = gb.participant_count;
        current.units = gb.unit_count;
    }
    buckets
}

fn project(gb: &GroupBuy, buckets: &[Bucket], closes_at: Timestamp, now: Timestamp) -> Projection {
    let current = gb.participant_count;
    let hours_left = match gb.closed_at {
        Some(_) => 0.0,
        None => hours_between(now.as_datetime(), closes_at.as_datetime()).max(0.0),
    };
    let rate = if gb.closed_at.is_some() {
        0.0
    } else {
        rate_per_hour(buckets, current, now)
    };
    let projected = (f64::from(current) + rate * hours_left).round().max(0.0);
    let cap = gb.max_participants.map_or(f64::from(u32::MAX), f64::from);
    let participants_at_close = projected.min(cap) as u32;
    let shortfall = gb.min_participants.saturating_sub(current);
    let days_left = hours_left / 24.0;
    let needed_per_day = if shortfall == 0 {
        0
    } else if days_left < 1.0 {
        shortfall
    } else {
        (f64::from(shortfall) / days_left).ceil() as u32
    };
    Projection {
        participants_at_close,
        needed_per_day,
        likely_to_meet_threshold: participants_at_close >= gb.min_participants,
    }
}

/// The net gain of participants per hour over the last day, or since the first bucket if the
/// campaign is younger than that.
fn rate_per_hour(buckets: &[Bucket], current: u32, now: Timestamp) -> f64 {
    let Some(first) = buckets.first() else {
        return 0.0;
    };
    let elapsed = hours_between(first.start.as_datetime(), now.as_datetime());
    if elapsed <= 0.0 {
        return 0.0;
    }
    if elapsed <= RATE_WINDOW_HOURS as f64 {
        return f64::from(current) / elapsed;
    }
    // The totals at the end of the hour a day before the current one.
    let before = buckets
        .len()
        .checked_sub(RATE_WINDOW_HOURS as usize + 1)
        .and_then(|i| buckets.get(i))
        .map_or(0, |b| b.participants);
    (f64::from(current) - f64::from(before)) / RATE_WINDOW_HOURS as f64
}

fn hours_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_seconds() as f64 / 3600.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Handle, NewGroupBuy, Status};
    use serde_json::json;

    fn at(raw: &str) -> Timestamp {
        Timestamp::parse(raw).expect("time")
    }

    fn group_buy(min: u32, max: Option<u32>, closes_at: Option<&str>) -> GroupBuy {
        let mut body = json!({"title": "Cane chair", "unitPriceMinor": 1000, "currency": "INR",
            "minParticipants": min});
        if let Some(max) = max {
            body["maxParticipants"] = json!(max);
        }
        if let Some(closes_at) = closes_at {
            body["closesAt"] = json!(closes_at);
        }
        let created = at("2026-12-01T09:15:00.000Z");
        let new = NewGroupBuy::parse(body.as_object().cloned().unwrap_or_default(), created)
            .expect("valid");
        let mut gb = GroupBuy::draft(Handle::parse("acme").expect("handle"), new, created);
        gb.status = Status::Published;
        gb.published_at = Some(at("2026-12-01T10:20:00.000Z"));
        gb
    }

    fn hour(
        start: &str,
        registered: u32,
        withdrawn: u32,
        totals: Option<(u32, u64)>,
    ) -> RecordedHour {
        RecordedHour {
            start: at(start),
            registered,
            withdrawn,
            totals: totals.map(|(participants, units)| Totals {
                participants,
                units,
            }),
        }
    }

    #[test]
    fn a_draft_has_no_buckets_and_no_deadline_no_projection() {
        let mut gb = group_buy(5, None, None);
        gb.status = Status::Draft;
        gb.published_at = None;
        let stats = campaign_stats(&gb, &[], at("2026-12-01T12:00:00.000Z"));
        assert_eq!(stats.buckets, []);
        assert_eq!(stats.projection, None);
    }

    #[test]
    fn hours_without_changes_carry_the_totals_and_the_last_is_the_group_buys() {
        let mut gb = group_buy(5, None, None);
        gb.participant_count = 3;
        gb.unit_count = 7;
        let recorded = [
            hour("2026-12-01T13:00:00.000Z", 1, 1, Some((2, 5))),
            hour("2026-12-01T10:00:00.000Z", 2, 0, Some((2, 4))),
        ];
        let stats = campaign_stats(&gb, &recorded, at("2026-12-01T14:59:00.000Z"));
        let rows: Vec<_> = stats
            .buckets
            .iter()
            .map(|b| {
                (
                    b.start.to_string(),
                    b.registered,
                    b.withdrawn,
                    b.participants,
                    b.units,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("2026-12-01T10:00:00.000Z".to_owned(), 2, 0, 2, 4),
                ("2026-12-01T11:00:00.000Z".to_owned(), 0, 0, 2, 4),
                ("2026-12-01T12:00:00.000Z".to_owned(), 0, 0, 2, 4),
                ("2026-12-01T13:00:00.000Z".to_owned(), 1, 1, 2, 5),
                // The stream has not caught up with the last registration yet.
                ("2026-12-01T14:00:00.000Z".to_owned(), 0, 0, 3, 7),
            ]
        );
    }

    #[test]
    fn a_closed_group_buy_ends_at_its_close() {
        let mut gb = group_buy(1, None, None);
        gb.status = Status::Closed;
        gb.closed_at = Some(at("2026-12-01T11:30:00.000Z"));
        let stats = campaign_stats(&gb, &[], at("2026-12-03T00:00:00.000Z"));
        assert_eq!(stats.buckets.len(), 2);
    }

    #[test]
    fn the_projection_follows_the_last_days_rate() {
        // 10 participants in the 10 hours since publish: 1 an hour, 38 hours left.
        let mut gb = group_buy(60, None, Some("2026-12-03T10:00:00.000Z"));
        gb.participant_count = 10;
        let now = at("2026-12-01T20:00:00.000Z");
        let stats = campaign_stats(&gb, &[], now);
        let projection = stats.projection.expect("a deadline");
        assert_eq!(projection.participants_at_close, 10 + 38);
        assert!(!projection.likely_to_meet_threshold);
        // 50 short with 38 h (1.58 days) left: 32 a day.
        assert_eq!(projection.needed_per_day, 32);
    }

    #[test]
    fn the_projection_stops_at_the_cap_and_needs_nothing_once_met() {
        let mut gb = group_buy(2, Some(12), Some("2026-12-05T10:00:00.000Z"));
        gb.participant_count = 10;
        let stats = campaign_stats(&gb, &[], at("2026-12-01T20:00:00.000Z"));
        let projection = stats.projection.expect("a deadline");
        assert_eq!(projection.participants_at_close, 12);
        assert_eq!(projection.needed_per_day, 0);
        assert!(projection.likely_to_meet_threshold);
    }

    #[test]
    fn with_less_than_a_day_left_the_whole_shortfall_is_needed() {
        let mut gb = group_buy(20, None, Some("2026-12-01T22:00:00.000Z"));
        gb.participant_count = 5;
        let projection = campaign_stats(&gb, &[], at("2026-12-01T20:00:00.000Z"))
            .projection
            .expect("a deadline");
        assert_eq!(projection.needed_per_day, 15);
    }
}
