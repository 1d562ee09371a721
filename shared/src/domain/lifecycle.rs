//! The group-buy lifecycle as a pure state machine: given what is stored and what was asked,
//! decide whether to apply a transition, answer "already there", or reject with a reason.
//! The store turns an applied decision into one conditional write; see `store::GroupBuyStore`.
//!
//! ```text
//! draft --publish--> published --pause--> paused --publish--> published
//! draft | published | paused --close(cancelled)--> closed
//! published | paused --close(fulfilled; participantCount >= minParticipants)--> closed
//! published | paused --deadline passes--> closed (fulfilled if the threshold is met, else expired)
//! published | paused --extend (a later closesAt)--> the same status, a later deadline
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
    /// An extension of a group-buy that has no deadline to extend.
    NoDeadline {
        current: Status,
    },
    /// An extension to a deadline no later than the current one (a bad `closesAt`: 400).
    DeadlineNotLater {
        closes_at: Timestamp,
    },
    /// An extension past `MAX_EXTENSIONS`, or later than `latest_closes_at`.
    ExtensionLimit {
        extension_count: u32,
        latest_closes_at: Timestamp,
    },
}

impl Rejection {
    /// The reason's name, as the history records it and the API answers it.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidTransition { .. } | Self::NoDeadline { .. } => "INVALID_TRANSITION",
            Self::ThresholdNotMet { .. } => "THRESHOLD_NOT_MET",
            Self::DeadlinePassed { .. } => "DEADLINE_PASSED",
            Self::DeadlineNotLater { .. } => "VALIDATION_FAILED",
            Self::ExtensionLimit { .. } => "EXTENSION_LIMIT",
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

/// Times a group-buy's deadline may be extended (API.md, "Deadline extension").
pub const MAX_EXTENSIONS: u32 = 3;
/// How far past its first deadline a group-buy's deadline may be moved, in days.
pub const MAX_EXTENSION_DAYS: i64 = 90;
const MAX_EXTENSION_MILLIS: i64 = MAX_EXTENSION_DAYS * 24 * 60 * 60 * 1000;

/// The part of a group-buy that the extension rules read.
#[derive(Clone, Copy, Debug)]
pub struct DeadlineState {
    pub status: Status,
    pub closes_at: Option<Timestamp>,
    /// The deadline before any extension; `None` while never extended.
    pub first_closes_at: Option<Timestamp>,
    pub extension_count: u32,
}

/// A deadline extension to apply: the deadline moves from `from` to `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extension {
    pub from: Timestamp,
    pub to: Timestamp,
    /// The deadline before any extension, kept from the first one on.
    pub first_closes_at: Timestamp,
    /// Extensions once this one is written.
    pub extension_count: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtensionDecision {
    Apply(Extension),
    Reject(Rejection),
}

impl DeadlineState {
    /// The latest deadline an extension may set.
    pub fn latest_closes_at(&self) -> Option<Timestamp> {
        self.first_closes_at
            .or(self.closes_at)
            .map(|first| first.plus_millis(MAX_EXTENSION_MILLIS))
    }

    /// Moving the deadline to `requested` at `now`: only an open group-buy with a deadline
    /// that has not passed (the status first, as for transitions), at most `MAX_EXTENSIONS`
    /// times, only later, and never more than `MAX_EXTENSION_DAYS` past the first deadline.
    pub fn decide_extension(&self, requested: Timestamp, now: Timestamp) -> ExtensionDecision {
        let reject = ExtensionDecision::Reject;
        let current = self.status;
        if !matches!(current, Status::Published | Status::Paused) {
            return reject(Rejection::InvalidTransition { current });
        }
        let (Some(closes_at), Some(latest_closes_at)) = (self.closes_at, self.latest_closes_at())
        else {
            return reject(Rejection::NoDeadline { current });
        };
        if closes_at <= now {
            return reject(Rejection::DeadlinePassed { closes_at });
        }
        let limit = Rejection::ExtensionLimit {
            extension_count: self.extension_count,
            latest_closes_at,
        };
        if self.extension_count >= MAX_EXTENSIONS {
            return reject(limit);
        }
        if requested <= closes_at {
            return reject(Rejection::DeadlineNotLater { closes_at });
        }
        if requested > latest_closes_at {
            return reject(limit);
        }
        ExtensionDecision::Apply(Extension {
            from: closes_at,
            to: requested,
            first_closes_at: self.first_closes_at.unwrap_or(closes_at),
            extension_count: self.extension_count + 1,
        })
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

    const DAY: i64 = 24 * 60 * 60 * 1000;

    fn open_with_deadline(status: Status) -> DeadlineState {
        DeadlineState {
            status,
            closes_at: Some(now().plus_millis(DAY)),
            first_closes_at: None,
            extension_count: 0,
        }
    }

    #[test]
    fn an_extension_moves_the_deadline_later_and_remembers_the_first() {
        for status in [Published, Paused] {
            let state = open_with_deadline(status);
            let first = now().plus_millis(DAY);
            assert_eq!(
                state.decide_extension(now().plus_millis(2 * DAY), now()),
                ExtensionDecision::Apply(Extension {
                    from: first,
                    to: now().plus_millis(2 * DAY),
                    first_closes_at: first,
                    extension_count: 1,
                })
            );
        }
        let extended = DeadlineState {
            closes_at: Some(now().plus_millis(5 * DAY)),
            first_closes_at: Some(now().plus_millis(DAY)),
            extension_count: 2,
            ..open_with_deadline(Published)
        };
        match extended.decide_extension(now().plus_millis(6 * DAY), now()) {
            ExtensionDecision::Apply(e) => {
                assert_eq!(e.first_closes_at, now().plus_millis(DAY));
                assert_eq!(e.extension_count, 3);
            }
            other => panic!("expected an extension, got {other:?}"),
        }
    }

    #[test]
    fn only_open_group_buys_with_a_deadline_are_extended() {
        let later = now().plus_millis(2 * DAY);
        for status in [Draft, Closed] {
            assert_eq!(
                open_with_deadline(status).decide_extension(later, now()),
                ExtensionDecision::Reject(Rejection::InvalidTransition { current: status })
            );
        }
        let open_ended = DeadlineState {
            closes_at: None,
            ..open_with_deadline(Published)
        };
        assert_eq!(
            open_ended.decide_extension(later, now()),
            ExtensionDecision::Reject(Rejection::NoDeadline { current: Published })
        );
    }

    #[test]
    fn a_passed_deadline_is_not_extended() {
        let state = open_with_deadline(Published);
        let at = now().plus_millis(DAY);
        assert_eq!(
            state.decide_extension(at.plus_millis(DAY), at),
            ExtensionDecision::Reject(Rejection::DeadlinePassed { closes_at: at })
        );
    }

    #[test]
    fn the_new_deadline_must_be_later() {
        let state = open_with_deadline(Published);
        let current = now().plus_millis(DAY);
        for requested in [current, current.plus_millis(-1), now()] {
            assert_eq!(
                state.decide_extension(requested, now()),
                ExtensionDecision::Reject(Rejection::DeadlineNotLater { closes_at: current })
            );
        }
    }

    #[test]
    fn extensions_are_limited_in_number_and_reach() {
        let first = now().plus_millis(DAY);
        let latest = first.plus_millis(90 * DAY);
        let state = DeadlineState {
            first_closes_at: Some(first),
            extension_count: 2,
            ..open_with_deadline(Published)
        };
        assert!(matches!(
            state.decide_extension(latest, now()),
            ExtensionDecision::Apply(_)
        ));
        let limit = |extension_count| {
            ExtensionDecision::Reject(Rejection::ExtensionLimit {
                extension_count,
                latest_closes_at: latest,
            })
        };
        assert_eq!(
            state.decide_extension(latest.plus_millis(1), now()),
            limit(2)
        );
        let used_up = DeadlineState {
            extension_count: 3,
            ..state
        };
        assert_eq!(
            used_up.decide_extension(first.plus_millis(DAY), now()),
            limit(3)
        );
    }
}
