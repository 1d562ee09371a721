//! What platform admins watch: per-group-buy flags and the campaign-wide summary.

use super::group_buy::GroupBuy;
use super::lifecycle::Status;
use super::timestamp::Timestamp;
use serde::Serialize;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Flag {
    /// A draft not updated for `STUCK_DRAFT_HOURS`: probably a forgotten publish.
    StuckDraft,
    ThresholdMet,
    /// At least 90 % of `maxParticipants`.
    NearCap,
    /// Still open after `closesAt`.
    DeadlinePassed,
    /// A close was refused since the last transition.
    CloseRejected,
}

impl Flag {
    pub const ALL: [Flag; 5] = [
        Self::StuckDraft,
        Self::ThresholdMet,
        Self::NearCap,
        Self::DeadlinePassed,
        Self::CloseRejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::StuckDraft => "STUCK_DRAFT",
            Self::ThresholdMet => "THRESHOLD_MET",
            Self::NearCap => "NEAR_CAP",
            Self::DeadlinePassed => "DEADLINE_PASSED",
            Self::CloseRejected => "CLOSE_REJECTED",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == raw)
            .ok_or_else(|| {
                "must be one of STUCK_DRAFT, THRESHOLD_MET, NEAR_CAP, DEADLINE_PASSED, CLOSE_REJECTED"
                    .into()
            })
    }
}

pub fn flags(gb: &GroupBuy, now: Timestamp, stuck_after: Duration) -> Vec<Flag> {
    let open = matches!(gb.status, Status::Published | Status::Paused);
    let stuck_before = now.plus_millis(-(stuck_after.as_millis() as i64));
    let near_cap = gb
        .max_participants
        .is_some_and(|cap| u64::from(gb.participant_count) * 10 >= u64::from(cap) * 9);
    [
        (
            Flag::StuckDraft,
            gb.status == Status::Draft && gb.updated_at <= stuck_before,
        ),
        (Flag::ThresholdMet, gb.threshold_met()),
        (Flag::NearCap, near_cap),
        (
            Flag::DeadlinePassed,
            open && gb.closes_at.is_some_and(|at| at <= now),
        ),
        (Flag::CloseRejected, gb.close_rejected_at.is_some()),
    ]
    .into_iter()
    .filter_map(|(flag, on)| on.then_some(flag))
    .collect()
}

/// A change to the campaign-wide counters, written with the change that causes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RollupDelta {
    pub draft: i64,
    pub published: i64,
    pub paused: i64,
    pub closed: i64,
    pub participants: i64,
    pub units: i64,
    pub threshold_met: i64,
}

impl RollupDelta {
    pub fn status(status: Status, by: i64) -> Self {
        let mut delta = Self::default();
        *delta.status_mut(status) += by;
        delta
    }

    pub fn transition(from: Status, to: Status) -> Self {
        let mut delta = Self::status(to, 1);
        *delta.status_mut(from) -= 1;
        delta
    }

    fn status_mut(&mut self, status: Status) -> &mut i64 {
        match status {
            Status::Draft => &mut self.draft,
            Status::Published => &mut self.published,
            Status::Paused => &mut self.paused,
            Status::Closed => &mut self.closed,
        }
    }

    /// The counters by their stored attribute names, zeros left out.
    pub fn attributes(&self) -> Vec<(&'static str, i64)> {
        [
            ("draft", self.draft),
            ("published", self.published),
            ("paused", self.paused),
            ("closed", self.closed),
            ("participants", self.participants),
            ("units", self.units),
            ("thresholdMet", self.threshold_met),
        ]
        .into_iter()
        .filter(|(_, v)| *v != 0)
        .collect()
    }
}

/// The start of the hour `at` falls in, as the draft-age buckets name it: `2026-11-24T18`.
pub fn hour_bucket(at: Timestamp) -> String {
    at.to_string()[..13].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Handle, NewGroupBuy};

    fn now() -> Timestamp {
        Timestamp::parse("2026-11-24T18:30:00.000Z").expect("time")
    }

    fn gb(status: Status, participants: u32, max: Option<u32>) -> GroupBuy {
        let mut gb = GroupBuy::draft(
            Handle::parse("acme").expect("handle"),
            NewGroupBuy {
                min_participants: 5,
                max_participants: max,
                closes_at: Some(now().plus_millis(-1)),
                ..NewGroupBuy::sample()
            },
            now().plus_millis(-25 * 3600 * 1000),
        );
        gb.status = status;
        gb.participant_count = participants;
        gb
    }

    #[test]
    fn flags_follow_the_rules() {
        let day = Duration::from_secs(24 * 3600);
        assert_eq!(
            flags(&gb(Status::Draft, 0, None), now(), day),
            [Flag::StuckDraft]
        );
        assert_eq!(
            flags(&gb(Status::Published, 9, Some(10)), now(), day),
            [Flag::ThresholdMet, Flag::NearCap, Flag::DeadlinePassed]
        );
        assert!(flags(&gb(Status::Closed, 0, Some(10)), now(), day).is_empty());
        let mut rejected = gb(Status::Closed, 0, None);
        rejected.close_rejected_at = Some(now());
        assert_eq!(flags(&rejected, now(), day), [Flag::CloseRejected]);
    }

    #[test]
    fn transitions_move_one_count() {
        let delta = RollupDelta::transition(Status::Draft, Status::Published);
        assert_eq!(delta.attributes(), [("draft", -1), ("published", 1)]);
        assert_eq!(hour_bucket(now()), "2026-11-24T18");
    }
}
