//! The rules of registering and withdrawing interest, as pure decisions on what was read.
//! The store applies each decision in one transaction whose conditions carry the same rules,
//! so a decision made on a stale read can never be written.

use super::group_buy::{GroupBuy, default_waitlist_limit};
use super::lifecycle::{MAX_EXTENSION_DAYS, Status};
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
    /// Visitors on the waitlist (absent = 0). While any wait, the group-buy is full: a place
    /// freed by a withdrawal goes to the first of them in the same transaction.
    #[serde(default)]
    pub waitlist_count: u32,
    /// The number of the latest waitlist join that committed (absent = 0). A join commits
    /// only with a greater number (its condition), so numbers increase in the order of the
    /// commits and the queue's key order is the joining order.
    #[serde(default)]
    pub waitlist_seq: u64,
    /// The latest join ordinal handed out (absent: none yet): a join takes the next one with
    /// an atomic `ADD` before its transaction, so ordinals are unique and (but for joins that
    /// then fail, which leave a gap) consecutive.
    #[serde(default)]
    pub waitlist_joins: u64,
    /// The number of the last entry removed from the head of the waitlist (promoted or passed
    /// over; absent = 0). The queue is FIFO, so every entry numbered up to it is gone: an
    /// entry numbered `n` has at most `n - waitlistServed` entries up to and including it.
    #[serde(default)]
    pub waitlist_served: u64,
    /// Where ordinals start: the `waitlistSeq` of a tally when it took its first ordinal
    /// (0 for every group-buy created since). Entries numbered up to it were numbered by the
    /// clock (before ordinals), and their place is counted, as it was then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waitlist_ordinals_from: Option<u64>,
    /// Visitors the waitlist holds at most; absent on group-buys created before the limit,
    /// which have the default (`default_waitlist_limit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waitlist_limit: Option<u32>,
    /// A draw campaign whose draw has not finished (absent otherwise): no registration,
    /// withdrawal or waitlist write may move the counts the draw is writing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub draw_pending: bool,
}

/// Days a waitlist entry is kept after its group-buy closes (API.md, Data retention).
pub const WAITLIST_RETENTION_DAYS: i64 = 30;

/// When a waitlist entry written while the deadline is `closes_at` expires by TTL (epoch
/// seconds): `WAITLIST_RETENTION_DAYS` after the latest deadline an extension can still set
/// (at most `MAX_EXTENSION_DAYS` past the first deadline, which is no later than this one),
/// so that no entry expires while its group-buy is open. `None` without a deadline: the
/// close gives those their expiry (`waitlist_expiry_after_close`).
pub fn waitlist_entry_expiry(closes_at: Option<Timestamp>) -> Option<i64> {
    const DAY_MILLIS: i64 = 24 * 60 * 60 * 1000;
    closes_at.map(|at| {
        at.plus_millis((MAX_EXTENSION_DAYS + WAITLIST_RETENTION_DAYS) * DAY_MILLIS)
            .as_datetime()
            .timestamp()
    })
}

/// The expiry of the entries still waiting when a group-buy closes at `closed_at`.
pub fn waitlist_expiry_after_close(closed_at: Timestamp) -> i64 {
    closed_at.as_datetime().timestamp() + WAITLIST_RETENTION_DAYS * 24 * 60 * 60
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

    /// No place for a new participant: at `maxParticipants`, or visitors are waiting for the
    /// next free place (they come first).
    pub fn is_full(&self) -> bool {
        self.waitlist_count > 0
            || self
                .max_participants
                .is_some_and(|cap| self.participant_count >= cap)
    }

    /// The visitors its waitlist holds at most.
    pub fn waitlist_limit(&self) -> u32 {
        self.waitlist_limit
            .unwrap_or_else(|| default_waitlist_limit(self.max_participants))
    }

    /// Where the next ordinal starts when none was handed out yet: after the latest number
    /// (a clock number on a waitlist from before ordinals), so that the queue's order holds.
    pub fn ordinal_base(&self) -> u64 {
        self.waitlist_ordinals_from.unwrap_or(self.waitlist_seq)
    }

    /// The position of the entry numbered `seq`, or `None` when an entry numbered by the
    /// clock (before ordinals) may still be ahead of it, and the place must be counted.
    /// Never below the true position: every entry ahead is numbered above
    /// `waitlistServed` and below `seq`; exact unless some of those numbers are gaps (a
    /// visitor who left, a join that failed after taking its ordinal).
    pub fn waitlist_position(&self, seq: u64) -> Option<u64> {
        (self.waitlist_served >= self.ordinal_base())
            .then(|| seq.saturating_sub(self.waitlist_served).max(1))
    }

    /// The waitlist as it counts: its entries end when the group-buy closes.
    pub fn live_waitlist_count(&self) -> u32 {
        match self.status {
            Status::Closed => 0,
            _ => self.waitlist_count,
        }
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
            waitlist_count: self.waitlist_count,
            // Known only to the tally item itself: a join is only ever written on a tally
            // read from the table (or returned by a refused write), never on this one.
            waitlist_seq: 0,
            waitlist_joins: 0,
            waitlist_served: 0,
            waitlist_ordinals_from: None,
            waitlist_limit: Some(self.waitlist_limit()),
            draw_pending: self.draw_pending(),
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
    /// Full, and its waitlist holds `waitlistLimit` visitors.
    WaitlistFull {
        limit: u32,
    },
    QuantityNotAllowed {
        max: u32,
    },
    /// A draw campaign between `drawAt` and the end of its draw (or, for an entry, a draw
    /// that has started).
    DrawPending,
}

/// What a visitor holds in a group-buy: never both an interest and a waitlist entry (the
/// writes' conditions see to it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    Nothing,
    /// An interest of this quantity: a participant.
    Interest(u32),
    /// A waitlist entry for this quantity.
    Waiting(u32),
}

/// What a PUT of `quantity` means for a visitor who holds what they hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registration {
    New,
    Unchanged,
    Changed {
        from: u32,
    },
    /// Full, and the visitor asked for the waitlist: they join it, last.
    JoinWaitlist,
    /// Already waiting for this quantity.
    StillWaiting,
    /// Already waiting: the quantity they wait for changes, their place does not.
    WaitingChanged {
        from: u32,
    },
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
/// a new participant only while there is a place and nobody waits for it. When full, a
/// visitor who asks for the `waitlist` joins it (or, already waiting, stays, with the new
/// quantity); without asking, full is `Full`, waiting or not.
pub fn decide_registration(
    tally: Option<&Tally>,
    held: Held,
    quantity: i64,
    waitlist: bool,
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
    if tally.draw_pending {
        return Err(InterestRejection::DrawPending);
    }
    let max = tally.max_quantity_per_participant;
    if quantity < 1 || quantity > i64::from(max) {
        return Err(InterestRejection::QuantityNotAllowed { max });
    }
    match held {
        Held::Interest(current) if i64::from(current) == quantity => Ok(Registration::Unchanged),
        Held::Interest(current) => Ok(Registration::Changed { from: current }),
        Held::Waiting(_) | Held::Nothing if tally.is_full() && !waitlist => {
            Err(InterestRejection::Full)
        }
        Held::Waiting(current) if i64::from(current) == quantity => Ok(Registration::StillWaiting),
        Held::Waiting(current) => Ok(Registration::WaitingChanged { from: current }),
        Held::Nothing if tally.is_full() => {
            let limit = tally.waitlist_limit();
            match tally.waitlist_count >= limit {
                true => Err(InterestRejection::WaitlistFull { limit }),
                false => Ok(Registration::JoinWaitlist),
            }
        }
        Held::Nothing => Ok(Registration::New),
    }
}

/// Leaving the waitlist: at any time before the close (a place on it changes no count the
/// threshold or the close decide on); after the close the entries have ended, and there is
/// nothing to leave. `Some(quantity)` is the entry that leaves.
pub fn decide_leaving(
    tally: Option<&Tally>,
    waiting: Option<u32>,
) -> Result<Option<u32>, InterestRejection> {
    let tally = public_tally(tally).ok_or(InterestRejection::NotFound)?;
    if tally.draw_pending && waiting.is_some() {
        return Err(InterestRejection::DrawPending);
    }
    Ok(waiting.filter(|_| tally.status != Status::Closed))
}

/// Of the waitlist's quantities in joining order, the place of the first that `tally` still
/// allows: the entry a freed place goes to. Those before it wait for more than is allowed
/// now, and are passed over.
pub fn successor(tally: &Tally, waiting: impl IntoIterator<Item = u32>) -> Option<usize> {
    waiting
        .into_iter()
        .position(|quantity| quantity <= tally.max_quantity_per_participant)
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
        Some(_) if tally.draw_pending => Err(InterestRejection::DrawPending),
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
                waitlist_limit: 20,
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
        let decide = |status| {
            decide_registration(Some(&group_buy(status, 0)), Held::Nothing, 1, false, now())
        };
        assert_eq!(decide(Status::Published), Ok(Registration::New));
        assert_eq!(decide(Status::Paused), Err(InterestRejection::Paused));
        assert_eq!(decide(Status::Closed), Err(InterestRejection::Closed));
        assert_eq!(decide(Status::Draft), Err(InterestRejection::NotFound));
        assert_eq!(
            decide_registration(None, Held::Nothing, 1, false, now()),
            Err(InterestRejection::NotFound)
        );
    }

    #[test]
    fn quantity_is_bounded_by_the_group_buy() {
        let gb = group_buy(Status::Published, 0);
        for bad in [0, -1, 4] {
            assert_eq!(
                decide_registration(Some(&gb), Held::Nothing, bad, false, now()),
                Err(InterestRejection::QuantityNotAllowed { max: 3 })
            );
        }
        assert_eq!(
            decide_registration(Some(&gb), Held::Nothing, 3, false, now()),
            Ok(Registration::New)
        );
    }

    #[test]
    fn the_cap_stops_new_participants_only() {
        let full = group_buy(Status::Published, 2);
        assert_eq!(
            decide_registration(Some(&full), Held::Nothing, 1, false, now()),
            Err(InterestRejection::Full)
        );
        assert_eq!(
            decide_registration(Some(&full), Held::Interest(1), 2, false, now()),
            Ok(Registration::Changed { from: 1 })
        );
        assert_eq!(
            decide_registration(Some(&full), Held::Interest(2), 2, false, now()),
            Ok(Registration::Unchanged)
        );
    }

    #[test]
    fn a_full_group_buy_takes_new_visitors_on_its_waitlist_when_asked() {
        let full = group_buy(Status::Published, 2);
        let decide = |held, quantity, waitlist| {
            decide_registration(Some(&full), held, quantity, waitlist, now())
        };
        assert_eq!(
            decide(Held::Nothing, 1, true),
            Ok(Registration::JoinWaitlist)
        );
        assert_eq!(
            decide(Held::Nothing, 1, false),
            Err(InterestRejection::Full)
        );
        assert_eq!(
            decide(Held::Waiting(2), 2, true),
            Ok(Registration::StillWaiting)
        );
        assert_eq!(
            decide(Held::Waiting(2), 3, true),
            Ok(Registration::WaitingChanged { from: 2 })
        );
        assert_eq!(
            decide(Held::Waiting(2), 2, false),
            Err(InterestRejection::Full)
        );
        assert_eq!(
            decide(Held::Waiting(2), 4, true),
            Err(InterestRejection::QuantityNotAllowed { max: 3 })
        );
        // A participant who asks for the waitlist just changes the quantity.
        assert_eq!(
            decide(Held::Interest(1), 2, true),
            Ok(Registration::Changed { from: 1 })
        );
        // With room, the waitlist is not needed: an ordinary registration.
        let room = group_buy(Status::Published, 1);
        assert_eq!(
            decide_registration(Some(&room), Held::Nothing, 1, true, now()),
            Ok(Registration::New)
        );
    }

    #[test]
    fn nobody_takes_a_place_while_others_wait_for_it() {
        let mut waited_for = group_buy(Status::Published, 1);
        waited_for.waitlist_count = 1;
        assert_eq!(
            decide_registration(Some(&waited_for), Held::Nothing, 1, false, now()),
            Err(InterestRejection::Full)
        );
        assert_eq!(
            decide_registration(Some(&waited_for), Held::Nothing, 1, true, now()),
            Ok(Registration::JoinWaitlist)
        );
    }

    #[test]
    fn joining_the_waitlist_follows_the_registration_rules() {
        for (status, expected) in [
            (Status::Paused, InterestRejection::Paused),
            (Status::Closed, InterestRejection::Closed),
            (Status::Draft, InterestRejection::NotFound),
        ] {
            let full = group_buy(status, 2);
            assert_eq!(
                decide_registration(Some(&full), Held::Nothing, 1, true, now()),
                Err(expected)
            );
        }
        let full = group_buy(Status::Published, 2);
        assert!(matches!(
            decide_registration(Some(&full), Held::Nothing, 1, true, now().plus_millis(1000)),
            Err(InterestRejection::DeadlinePassed { .. })
        ));
    }

    #[test]
    fn waitlist_entries_end_with_the_close() {
        let open = group_buy(Status::Paused, 2);
        assert_eq!(decide_leaving(Some(&open), Some(2)), Ok(Some(2)));
        assert_eq!(decide_leaving(Some(&open), None), Ok(None));
        let mut closed = group_buy(Status::Closed, 2);
        assert_eq!(decide_leaving(Some(&closed), Some(2)), Ok(None));
        closed.waitlist_count = 3;
        assert_eq!(closed.live_waitlist_count(), 0);
        assert_eq!(
            decide_leaving(Some(&group_buy(Status::Draft, 0)), Some(1)),
            Err(InterestRejection::NotFound)
        );
    }

    #[test]
    fn a_full_waitlist_takes_nobody_more() {
        let mut full = group_buy(Status::Published, 2);
        assert_eq!(full.waitlist_limit(), 20);
        full.waitlist_count = 20;
        let decide = |tally: &Tally, held| decide_registration(Some(tally), held, 1, true, now());
        assert_eq!(
            decide(&full, Held::Nothing),
            Err(InterestRejection::WaitlistFull { limit: 20 })
        );
        // Those already waiting keep their place and may change their quantity.
        assert_eq!(
            decide(&full, Held::Waiting(1)),
            Ok(Registration::StillWaiting)
        );
        full.waitlist_limit = Some(0);
        full.waitlist_count = 0;
        assert_eq!(
            decide(&full, Held::Nothing),
            Err(InterestRejection::WaitlistFull { limit: 0 })
        );
        full.waitlist_limit = None;
        assert_eq!(full.waitlist_limit(), 20, "10 x maxParticipants by default");
        assert_eq!(default_waitlist_limit(None), 0);
        assert_eq!(
            default_waitlist_limit(Some(5_000)),
            crate::domain::group_buy::MAX_WAITLIST_LIMIT
        );
    }

    #[test]
    fn a_position_is_the_ordinal_past_the_head() {
        let mut gb = group_buy(Status::Published, 2);
        assert_eq!(gb.waitlist_position(1), Some(1));
        assert_eq!(gb.waitlist_position(7), Some(7));
        gb.waitlist_served = 5;
        assert_eq!(gb.waitlist_position(7), Some(2));
        // Waitlists from before ordinals: counted while a clock number may be ahead.
        let mut legacy = group_buy(Status::Published, 2);
        legacy.waitlist_seq = 1_700_000_000_000_000;
        assert_eq!(legacy.waitlist_position(1_700_000_000_000_000), None);
        legacy.waitlist_ordinals_from = Some(legacy.waitlist_seq);
        assert_eq!(legacy.ordinal_base(), 1_700_000_000_000_000);
        assert_eq!(legacy.waitlist_position(1_700_000_000_000_002), None);
        legacy.waitlist_served = 1_700_000_000_000_000;
        assert_eq!(legacy.waitlist_position(1_700_000_000_000_002), Some(2));
    }

    #[test]
    fn a_freed_place_goes_to_the_first_allowed_quantity() {
        let gb = group_buy(Status::Published, 2);
        assert_eq!(successor(&gb, [1, 3, 2]), Some(0));
        assert_eq!(successor(&gb, [5, 4, 2, 1]), Some(2));
        assert_eq!(successor(&gb, [5, 4]), None);
        assert_eq!(successor(&gb, []), None);
    }

    #[test]
    fn nothing_registers_after_the_deadline() {
        let gb = group_buy(Status::Published, 0);
        assert!(matches!(
            decide_registration(Some(&gb), Held::Nothing, 1, false, now().plus_millis(1000)),
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
                decide_registration(Some(&gb), Held::Nothing, 0, false, now()),
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
