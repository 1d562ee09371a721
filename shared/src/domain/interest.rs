//! The rules of registering and withdrawing interest, as pure decisions on what was read.
//! The store applies each decision in one transaction whose conditions carry the same rules,
//! so a decision made on a stale read can never be written.

use super::group_buy::GroupBuy;
use super::lifecycle::Status;
use super::timestamp::Timestamp;

/// Why an interest write is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterestRejection {
    /// Unknown, or a draft: drafts are never public.
    NotFound,
    Paused,
    Closed,
    DeadlinePassed {
        closes_at: Timestamp,
    },
    Full,
    QuantityNotAllowed {
        max: u32,
    },
}

/// What registering `quantity` means for a visitor who already has `existing` (or none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registration {
    New,
    Unchanged,
    Changed { from: u32 },
}

/// The group-buy as the public may see it: `None` for unknown ones and for those never
/// published (drafts, and drafts cancelled before publishing).
pub fn public(gb: Option<&GroupBuy>) -> Option<&GroupBuy> {
    gb.filter(|gb| gb.ever_published())
}

/// Registering (or changing to) `quantity`: only while published and before `closesAt`;
/// a new participant only below `maxParticipants`.
pub fn decide_registration(
    gb: Option<&GroupBuy>,
    existing: Option<u32>,
    quantity: i64,
    now: Timestamp,
) -> Result<Registration, InterestRejection> {
    let gb = public(gb).ok_or(InterestRejection::NotFound)?;
    // The group-buy's state first: no quantity is right for a closed or paused one.
    match gb.status {
        Status::Published => {}
        Status::Paused => return Err(InterestRejection::Paused),
        Status::Closed => return Err(InterestRejection::Closed),
        Status::Draft => return Err(InterestRejection::NotFound),
    }
    deadline_not_passed(gb, now)?;
    let max = gb.max_quantity_per_participant;
    if quantity < 1 || quantity > i64::from(max) {
        return Err(InterestRejection::QuantityNotAllowed { max });
    }
    match existing {
        Some(current) if i64::from(current) == quantity => Ok(Registration::Unchanged),
        Some(current) => Ok(Registration::Changed { from: current }),
        None if gb
            .max_participants
            .is_some_and(|cap| gb.participant_count >= cap) =>
        {
            Err(InterestRejection::Full)
        }
        None => Ok(Registration::New),
    }
}

/// Withdrawing: allowed while published or paused and before the deadline (after it, the
/// participants are what the scheduled close decides on: a withdrawal could turn a met
/// threshold into `expired`); nothing to do without an interest. `Some(quantity)` is what the
/// withdrawal removes.
pub fn decide_withdrawal(
    gb: Option<&GroupBuy>,
    existing: Option<u32>,
    now: Timestamp,
) -> Result<Option<u32>, InterestRejection> {
    let gb = public(gb).ok_or(InterestRejection::NotFound)?;
    match existing {
        None => Ok(None),
        Some(_) if gb.status == Status::Closed => Err(InterestRejection::Closed),
        Some(quantity) => deadline_not_passed(gb, now).map(|()| Some(quantity)),
    }
}

fn deadline_not_passed(gb: &GroupBuy, now: Timestamp) -> Result<(), InterestRejection> {
    match gb.closes_at.filter(|at| *at <= now) {
        Some(closes_at) => Err(InterestRejection::DeadlinePassed { closes_at }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Handle, NewGroupBuy};

    fn now() -> Timestamp {
        Timestamp::parse("2026-11-24T18:00:00.000Z").expect("time")
    }

    fn group_buy(status: Status, participants: u32) -> GroupBuy {
        let mut gb = GroupBuy::draft(
            Handle::parse("acme").expect("handle"),
            NewGroupBuy {
                max_participants: Some(2),
                max_quantity_per_participant: 3,
                closes_at: Some(now().plus_millis(1000)),
                ..NewGroupBuy::sample()
            },
            now(),
        );
        gb.status = status;
        gb.published_at = (status != Status::Draft).then(now);
        gb.participant_count = participants;
        gb
    }

    #[test]
    fn registration_follows_the_status() {
        let decide = |status| decide_registration(Some(&group_buy(status, 0)), None, 1, now());
        assert_eq!(decide(Status::Published), Ok(Registration::New));
        assert_eq!(decide(Status::Paused), Err(InterestRejection::Paused));
        assert_eq!(decide(Status::Closed), Err(InterestRejection::Closed));
        assert_eq!(decide(Status::Draft), Err(InterestRejection::NotFound));
        assert_eq!(
            decide_registration(None, None, 1, now()),
            Err(InterestRejection::NotFound)
        );
    }

    #[test]
    fn quantity_is_bounded_by_the_group_buy() {
        let gb = group_buy(Status::Published, 0);
        for bad in [0, -1, 4] {
            assert_eq!(
                decide_registration(Some(&gb), None, bad, now()),
                Err(InterestRejection::QuantityNotAllowed { max: 3 })
            );
        }
        assert_eq!(
            decide_registration(Some(&gb), None, 3, now()),
            Ok(Registration::New)
        );
    }

    #[test]
    fn the_cap_stops_new_participants_only() {
        let full = group_buy(Status::Published, 2);
        assert_eq!(
            decide_registration(Some(&full), None, 1, now()),
            Err(InterestRejection::Full)
        );
        assert_eq!(
            decide_registration(Some(&full), Some(1), 2, now()),
            Ok(Registration::Changed { from: 1 })
        );
        assert_eq!(
            decide_registration(Some(&full), Some(2), 2, now()),
            Ok(Registration::Unchanged)
        );
    }

    #[test]
    fn nothing_registers_after_the_deadline() {
        let gb = group_buy(Status::Published, 0);
        assert!(matches!(
            decide_registration(Some(&gb), None, 1, now().plus_millis(1000)),
            Err(InterestRejection::DeadlinePassed { .. })
        ));
    }

    #[test]
    fn nothing_is_withdrawn_after_the_deadline() {
        let gb = group_buy(Status::Published, 1);
        let later = now().plus_millis(1000);
        assert!(matches!(
            decide_withdrawal(Some(&gb), Some(1), later),
            Err(InterestRejection::DeadlinePassed { .. })
        ));
        assert_eq!(decide_withdrawal(Some(&gb), None, later), Ok(None));
    }

    #[test]
    fn the_state_error_comes_before_the_quantity_error() {
        for (status, expected) in [
            (Status::Closed, InterestRejection::Closed),
            (Status::Paused, InterestRejection::Paused),
        ] {
            let gb = group_buy(status, 0);
            assert_eq!(
                decide_registration(Some(&gb), None, 0, now()),
                Err(expected)
            );
        }
    }

    #[test]
    fn withdrawal_while_open_only() {
        let decide =
            |status, existing| decide_withdrawal(Some(&group_buy(status, 1)), existing, now());
        assert_eq!(decide(Status::Published, Some(2)), Ok(Some(2)));
        assert_eq!(decide(Status::Paused, Some(2)), Ok(Some(2)));
        assert_eq!(
            decide(Status::Closed, Some(2)),
            Err(InterestRejection::Closed)
        );
        assert_eq!(decide(Status::Closed, None), Ok(None));
        assert_eq!(
            decide(Status::Draft, None),
            Err(InterestRejection::NotFound)
        );
    }
}
