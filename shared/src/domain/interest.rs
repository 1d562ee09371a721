//! The rules of registering and withdrawing interest, as pure decisions on what was read.
//! The store applies each decision in one transaction whose conditions carry the same rules,
//! so a decision made on a stale read can never be written.

use super::group_buy::GroupBuy;
use super::lifecycle::Status;
use super::price_tier::PriceTier;
use super::timestamp::Timestamp;
use serde::{Deserialize, Serialize};

/// What the interest rules decide on: the part of a group-buy that interest writes read and
/// move. The store keeps it in a small item of its own, so that the launch traffic of a
/// campaign never rewrites the group-buy's indexed item or its description.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    pub status: Status,
    /// Published at least once: only then may the public see it (and register).
    pub ever_published: bool,
    pub closes_at: Option<Timestamp>,
    pub min_participants: u32,
    pub max_participants: Option<u32>,
    pub max_quantity_per_participant: u32,
    pub participant_count: u32,
    pub unit_count: u64,
    /// The group-buy's price tiers, so that a change of the tally alone (the table's stream)
    /// tells when a tier is reached. Absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub price_tiers: Vec<PriceTier>,
}

impl Tally {
    /// Whether one more participant makes the threshold (the rollup counts that crossing).
    pub fn next_participant_meets_threshold(&self) -> bool {
        self.participant_count + 1 == self.min_participants
    }

    /// Whether one participant less loses the threshold.
    pub fn leaving_participant_loses_threshold(&self) -> bool {
        self.participant_count == self.min_participants
    }
}

impl GroupBuy {
    pub fn tally(&self) -> Tally {
        Tally {
            status: self.status,
            ever_published: self.ever_published(),
            closes_at: self.closes_at,
            min_participants: self.min_participants,
            max_participants: self.max_participants,
            max_quantity_per_participant: self.max_quantity_per_participant,
            participant_count: self.participant_count,
            unit_count: self.unit_count,
            price_tiers: self.price_tiers.clone(),
        }
    }
}

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

/// The tally of a group-buy the public may see: `None` for unknown ones and for those never
/// published.
fn public_tally(tally: Option<&Tally>) -> Option<&Tally> {
    tally.filter(|t| t.ever_published)
}

/// Registering (or changing to) `quantity`: only while published and before `closesAt`;
/// a new participant only below `maxParticipants`.
pub fn decide_registration(
    tally: Option<&Tally>,
    existing: Option<u32>,
    quantity: i64,
    now: Timestamp,
) -> Result<Registration, InterestRejection> {
    let tally = public_tally(tally).ok_or(InterestRejection::NotFound)?;
    // The group-buy's state first: no quantity is right for a closed or paused one.
    match tally.status {
        Status::Published => {}
        Status::Paused => return Err(InterestRejection::Paused),
        Status::Closed => return Err(InterestRejection::Closed),
        Status::Draft => return Err(InterestRejection::NotFound),
    }
    deadline_not_passed(tally, now)?;
    let max = tally.max_quantity_per_participant;
    if quantity < 1 || quantity > i64::from(max) {
        return Err(InterestRejection::QuantityNotAllowed { max });
    }
    match existing {
        Some(current) if i64::from(current) == quantity => Ok(Registration::Unchanged),
        Some(current) => Ok(Registration::Changed { from: current }),
        None if tally
            .max_participants
            .is_some_and(|cap| tally.participant_count >= cap) =>
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
    tally: Option<&Tally>,
    existing: Option<u32>,
    now: Timestamp,
) -> Result<Option<u32>, InterestRejection> {
    let tally = public_tally(tally).ok_or(InterestRejection::NotFound)?;
    match existing {
        None => Ok(None),
        Some(_) if tally.status == Status::Closed => Err(InterestRejection::Closed),
        Some(quantity) => deadline_not_passed(tally, now).map(|()| Some(quantity)),
    }
}

fn deadline_not_passed(tally: &Tally, now: Timestamp) -> Result<(), InterestRejection> {
    match tally.closes_at.filter(|at| *at <= now) {
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

    fn group_buy(status: Status, participants: u32) -> Tally {
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
        gb.tally()
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
