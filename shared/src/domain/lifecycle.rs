//! The group-buy lifecycle as a pure state machine: given what is stored and what was asked,
//! decide whether to apply a transition, answer "already there", or reject with a reason.
//! The store turns an applied decision into one conditional write; see `store::GroupBuyStore`.
//!
//! ```text
//! draft --publish--> published --pause--> paused --publish--> published
//! draft | published | paused --close(cancelled)--> closed
//! published | paused --close(fulfilled; participantCount >= minParticipants)--> closed
//! published | paused --deadline passes--> closed (fulfilled if the threshold is met, else expired)
//! ```

use super::timestamp::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Draft,
    Published,
    Paused,
    Closed,
}

impl Status {
    pub const ALL: [Status; 4] = [Self::Draft, Self::Published, Self::Paused, Self::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
            Self::Paused => "paused",
            Self::Closed => "closed",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| "must be one of draft, published, paused, closed".into())
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CloseOutcome {
    Fulfilled,
    Cancelled,
    Expired,
}

impl CloseOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fulfilled => "fulfilled",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }
}

/// What an owner (or the deadline) asks of a group-buy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Publish,
    Pause,
    Close(CloseOutcome),
    /// The deadline passed; the outcome follows from the threshold.
    Expire,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Self::Publish => "publish",
            Self::Pause => "pause",
            Self::Close(_) => "close",
            Self::Expire => "expire",
        }
    }
}

/// The part of a group-buy that the lifecycle rules read.
#[derive(Clone, Copy, Debug)]
pub struct LifecycleState {
    pub status: Status,
    pub close_outcome: Option<CloseOutcome>,
    pub participant_count: u32,
    pub min_participants: u32,
    pub closes_at: Option<Timestamp>,
}

/// A fact about the participant count that a decision relied on. Counts move without a
/// version bump (interest writes), so the write that applies the decision re-checks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountGuard {
    ThresholdMet,
    ThresholdNotMet,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: Status,
    pub to: Status,
    pub outcome: Option<CloseOutcome>,
    pub count_guard: Option<CountGuard>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    InvalidTransition {
        current: Status,
    },
    ThresholdNotMet {
        participant_count: u32,
        min_participants: u32,
    },
    DeadlinePassed {
        closes_at: Timestamp,
    },
}

impl Rejection {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidTransition { .. } => "INVALID_TRANSITION",
            Self::ThresholdNotMet { .. } => "THRESHOLD_NOT_MET",
            Self::DeadlinePassed { .. } => "DEADLINE_PASSED",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Apply(Transition),
    /// Already in the requested state: success, nothing to write.
    AlreadyThere,
    Reject(Rejection),
}

impl LifecycleState {
    fn threshold_met(&self) -> bool {
        self.participant_count >= self.min_participants
    }

    fn deadline_passed(&self, now: Timestamp) -> Option<Timestamp> {
        self.closes_at.filter(|closes_at| *closes_at <= now)
    }

    pub fn decide(&self, action: Action, now: Timestamp) -> Decision {
        use Status::*;
        let to = |to, outcome, count_guard| {
            Decision::Apply(Transition {
                from: self.status,
                to,
                outcome,
                count_guard,
            })
        };
        let invalid = Decision::Reject(Rejection::InvalidTransition {
            current: self.status,
        });
        match (self.status, action) {
            (Published, Action::Publish) | (Paused, Action::Pause) => Decision::AlreadyThere,
            (Draft | Paused, Action::Publish) => match self.deadline_passed(now) {
                Some(closes_at) => Decision::Reject(Rejection::DeadlinePassed { closes_at }),
                None => to(Published, None, None),
            },
            (Published, Action::Pause) => to(Paused, None, None),
            (Draft | Published | Paused, Action::Close(CloseOutcome::Cancelled)) => {
                to(Closed, Some(CloseOutcome::Cancelled), None)
            }
            (Published | Paused, Action::Close(CloseOutcome::Fulfilled)) => {
                if self.threshold_met() {
                    to(
                        Closed,
                        Some(CloseOutcome::Fulfilled),
                        Some(CountGuard::ThresholdMet),
                    )
                } else {
                    Decision::Reject(Rejection::ThresholdNotMet {
                        participant_count: self.participant_count,
                        min_participants: self.min_participants,
                    })
                }
            }
            (Published | Paused, Action::Expire) if self.deadline_passed(now).is_some() => {
                if self.threshold_met() {
                    to(
                        Closed,
                        Some(CloseOutcome::Fulfilled),
                        Some(CountGuard::ThresholdMet),
                    )
                } else {
                    to(
                        Closed,
                        Some(CloseOutcome::Expired),
                        Some(CountGuard::ThresholdNotMet),
                    )
                }
            }
            (Closed, Action::Close(outcome)) if self.close_outcome == Some(outcome) => {
                Decision::AlreadyThere
            }
            (Closed, Action::Expire) => Decision::AlreadyThere,
            _ => invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    const FULFILLED: Action = Action::Close(CloseOutcome::Fulfilled);
    const CANCELLED: Action = Action::Close(CloseOutcome::Cancelled);

    fn now() -> Timestamp {
        Timestamp::parse("2026-11-24T18:00:00.000Z").expect("valid time")
    }

    fn state(status: Status, participants: u32) -> LifecycleState {
        LifecycleState {
            status,
            close_outcome: (status == Closed).then_some(CloseOutcome::Cancelled),
            participant_count: participants,
            min_participants: 2,
            closes_at: None,
        }
    }

    fn target(decision: Decision) -> Option<(Status, Option<CloseOutcome>)> {
        match decision {
            Decision::Apply(t) => Some((t.to, t.outcome)),
            _ => None,
        }
    }

    #[test]
    fn publish_from_draft_and_paused() {
        for from in [Draft, Paused] {
            assert_eq!(
                target(state(from, 0).decide(Action::Publish, now())),
                Some((Published, None))
            );
        }
        assert_eq!(
            state(Published, 0).decide(Action::Publish, now()),
            Decision::AlreadyThere
        );
        assert_eq!(
            state(Closed, 0).decide(Action::Publish, now()),
            Decision::Reject(Rejection::InvalidTransition { current: Closed })
        );
    }

    #[test]
    fn publish_after_the_deadline_is_refused() {
        let mut s = state(Draft, 0);
        s.closes_at = Some(now());
        assert_eq!(
            s.decide(Action::Publish, now()),
            Decision::Reject(Rejection::DeadlinePassed { closes_at: now() })
        );
        s.closes_at = Some(now().plus_millis(1));
        assert!(matches!(
            s.decide(Action::Publish, now()),
            Decision::Apply(_)
        ));
    }

    #[test]
    fn pause_only_from_published() {
        assert_eq!(
            target(state(Published, 0).decide(Action::Pause, now())),
            Some((Paused, None))
        );
        assert_eq!(
            state(Paused, 0).decide(Action::Pause, now()),
            Decision::AlreadyThere
        );
        for from in [Draft, Closed] {
            assert_eq!(
                state(from, 0).decide(Action::Pause, now()),
                Decision::Reject(Rejection::InvalidTransition { current: from })
            );
        }
    }

    #[test]
    fn cancel_from_any_open_state() {
        for from in [Draft, Published, Paused] {
            assert_eq!(
                target(state(from, 0).decide(CANCELLED, now())),
                Some((Closed, Some(CloseOutcome::Cancelled)))
            );
        }
        assert_eq!(
            state(Closed, 0).decide(CANCELLED, now()),
            Decision::AlreadyThere
        );
    }

    #[test]
    fn fulfil_needs_the_threshold_and_guards_it() {
        assert_eq!(
            state(Published, 1).decide(FULFILLED, now()),
            Decision::Reject(Rejection::ThresholdNotMet {
                participant_count: 1,
                min_participants: 2
            })
        );
        match state(Paused, 2).decide(FULFILLED, now()) {
            Decision::Apply(t) => {
                assert_eq!(t.outcome, Some(CloseOutcome::Fulfilled));
                assert_eq!(t.count_guard, Some(CountGuard::ThresholdMet));
            }
            other => panic!("expected a transition, got {other:?}"),
        }
        assert_eq!(
            state(Draft, 5).decide(FULFILLED, now()),
            Decision::Reject(Rejection::InvalidTransition { current: Draft })
        );
    }

    #[test]
    fn closing_again_with_another_outcome_is_invalid() {
        // state(Closed) was cancelled.
        assert_eq!(
            state(Closed, 5).decide(FULFILLED, now()),
            Decision::Reject(Rejection::InvalidTransition { current: Closed })
        );
    }

    #[test]
    fn expiry_follows_the_threshold() {
        let mut s = state(Published, 1);
        assert_eq!(
            s.decide(Action::Expire, now()),
            Decision::Reject(Rejection::InvalidTransition { current: Published })
        );
        s.closes_at = Some(now());
        assert_eq!(
            target(s.decide(Action::Expire, now())),
            Some((Closed, Some(CloseOutcome::Expired)))
        );
        s.participant_count = 2;
        assert_eq!(
            target(s.decide(Action::Expire, now())),
            Some((Closed, Some(CloseOutcome::Fulfilled)))
        );
    }

    /// Every state and action: the machine never leaves `closed`, and never applies a
    /// transition to the state it is in.
    #[test]
    fn closed_is_final_and_transitions_change_state() {
        let actions = [
            Action::Publish,
            Action::Pause,
            FULFILLED,
            CANCELLED,
            Action::Expire,
        ];
        for status in Status::ALL {
            for action in actions {
                for participants in [0, 2] {
                    let decision = state(status, participants).decide(action, now());
                    if let Decision::Apply(t) = decision {
                        assert_ne!(status, Closed, "{action:?} reopened a closed group-buy");
                        assert_ne!(t.from, t.to);
                    }
                }
            }
        }
    }
}
