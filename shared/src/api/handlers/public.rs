//! Public traffic: the public pages of group-buys and each visitor's interest.

use super::entries;
use super::scope::InterestScope;
use crate::api::call::{Call, Written};
use crate::domain::group_buy::MAX_QUANTITY_PER_PARTICIPANT;
use crate::domain::interest::{
    decide_leaving, decide_registration, decide_withdrawal, public, successor,
    waitlist_entry_expiry,
};
use crate::domain::{
    Allocation, Audience, GroupBuy, Held, InterestRejection, Registration, Status, Tally, Timestamp,
};
use crate::http::ApiError;
use crate::http::visitor::Visitor;
use crate::http::{Reply, json_object};
use crate::store::{
    INTEREST_ATTEMPTS, InterestRecord, InterestSnapshot, InterestWrite, Layout, Learned, Listing,
    StoreError, WaitlistEntry, WaitlistHead, back_off,
};
use crate::telemetry::BusinessMetric;
use crate::validation::{Fields, whole_number};
use lambda_http::http::StatusCode;
use serde_json::{Value, json};

/// Entries a withdrawal reads from the head of the waitlist: its successor is among them
/// unless more than `MAX_PASSED_OVER` before it wait for more than is allowed.
const WAITLIST_HEAD: usize = MAX_PASSED_OVER + 1;
/// Entries passed over in one transaction at most (two items each: with the withdrawal and
/// the promotion, within DynamoDB's 100 items per transaction).
const MAX_PASSED_OVER: usize = 40;

impl InterestScope<'_> {
    async fn read(&self) -> Result<InterestSnapshot, ApiError> {
        let snapshot = self
            .app
            .store
            .interest_snapshot(self.handle, self.slug, &self.participant)
            .await?;
        if let Some(tally) = &snapshot.tally {
            self.app.recent.learn(self.handle, self.slug, tally);
        }
        Ok(snapshot)
    }

    /// Writes `write` to the visitor's interest and the tally.
    async fn write(
        &self,
        call: &mut Call<'_>,
        write: InterestWrite<'_>,
        now: Timestamp,
    ) -> Result<Written, ApiError> {
        let (store, key) = (&self.app.store, self.participant.as_str());
        let (handle, slug) = (self.handle, self.slug);
        self.guarded(call, now, |riders| async move {
            store
                .write_interest(handle, slug, key, write, now, &riders)
                .await
        })
        .await
    }

    /// Puts `entry` at the end of the waitlist, if the head is still where `head` says.
    async fn join(
        &self,
        call: &mut Call<'_>,
        entry: &WaitlistEntry,
        head: WaitlistHead,
    ) -> Result<Written, ApiError> {
        let (store, handle, slug) = (&self.app.store, self.handle, self.slug);
        self.guarded(call, entry.joined_at, |riders| async move {
            store
                .join_waitlist(handle, slug, entry, head, &riders)
                .await
        })
        .await
    }

    /// Changes the quantity the waiting visitor asks for.
    async fn change_waiting(
        &self,
        call: &mut Call<'_>,
        entry: &WaitlistEntry,
        quantity: u32,
        now: Timestamp,
    ) -> Result<Written, ApiError> {
        let (store, handle, slug) = (&self.app.store, self.handle, self.slug);
        self.guarded(call, now, |riders| async move {
            store
                .change_waiting_quantity(handle, slug, entry, quantity, now, &riders)
                .await
        })
        .await
    }

    /// Takes the visitor off the waitlist.
    async fn leave(
        &self,
        call: &mut Call<'_>,
        entry: &WaitlistEntry,
        now: Timestamp,
    ) -> Result<Written, ApiError> {
        let (store, handle, slug) = (&self.app.store, self.handle, self.slug);
        self.guarded(call, now, |riders| async move {
            store.leave_waitlist(handle, slug, entry, &riders).await
        })
        .await
    }

    /// After a refused write of `layout`: a condition failure tells what was there (no
    /// re-read); a transaction conflict backs off, a little more each time, and reads again.
    /// Returns what is now known: the tally is not re-learned when its conditions held.
    async fn recover(
        &self,
        error: StoreError,
        attempt: u32,
        snapshot: &mut InterestSnapshot,
        layout: Layout,
    ) -> Result<Learned, ApiError> {
        match error {
            StoreError::ConditionFailed(checks) => {
                let learned = snapshot.learn_from(checks, layout)?;
                if let Some(tally) = snapshot.tally.as_ref().filter(|_| learned.tally) {
                    self.app.recent.learn(self.handle, self.slug, tally);
                }
                Ok(learned)
            }
            StoreError::TransactionConflict => {
                back_off(attempt).await;
                *snapshot = self.read().await?;
                Ok(Learned {
                    tally: true,
                    others: true,
                })
            }
            other => Err(other.into()),
        }
    }

    /// The position of `entry` on a waitlist whose tally is (or was, since) `tally`: from
    /// the tally, with no read (`Tally::waitlist_position`), or counted on a waitlist from
    /// before ordinals.
    async fn position(
        &self,
        entry: &WaitlistEntry,
        tally: Option<&Tally>,
    ) -> Result<u64, ApiError> {
        match tally.and_then(|t| t.waitlist_position(entry.seq)) {
            Some(position) => Ok(position),
            None => Ok(self
                .app
                .store
                .counted_waitlist_position(self.handle, self.slug, entry.seq)
                .await?),
        }
    }

    /// The 202 of a PUT that left the visitor waiting for `entry`, with its position as of
    /// `tally` (the head only moves forward: never understated).
    async fn waiting_answer(
        &self,
        entry: &WaitlistEntry,
        tally: Option<&Tally>,
        created: bool,
    ) -> Result<Reply, ApiError> {
        let position = self.position(entry, tally).await?;
        let shown = self.shown(0, 0).await?;
        Ok(waiting_reply(
            StatusCode::ACCEPTED,
            entry,
            position,
            &shown,
            created,
        ))
    }
}

/// The answer of a waiting visitor: 202 to a PUT, 200 to a GET.
fn waiting_reply(
    status: StatusCode,
    entry: &WaitlistEntry,
    position: u64,
    gb: &GroupBuy,
    created: bool,
) -> Reply {
    Reply::json(status, &waiting_body(entry, position, gb, created)).private()
}

fn waiting_body(entry: &WaitlistEntry, position: u64, gb: &GroupBuy, created: bool) -> Value {
    json!({
        "interest": null,
        "waitlist": {
            "position": position,
            "quantity": entry.quantity,
            "joinedAt": entry.joined_at,
        },
        "groupBuy": gb.view(Audience::Public),
        "created": created,
    })
}

/// What a registration knows of the group-buy when it decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Known {
    /// Nothing read yet: the registration is tried, and its conditions decide.
    Nothing,
    /// The tally, as read or as a refused write found it.
    Tally,
    /// A write's conditions on the tally held (open, before the deadline, quantity allowed);
    /// only the visitor's interest refused it.
    OpenForThisQuantity,
}

pub(crate) async fn list(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let handle = call.target()?.handle;
    let list_id = format!("public:{handle}");
    let body = call
        .group_buy_page(&handle, Listing::Public, &list_id, Audience::Public)
        .await?;
    Ok(Reply::json(StatusCode::OK, &body).public_cache())
}

pub(crate) async fn get(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let target = call.target()?;
    let found = call.app.store.get(&target.handle, target.slug()?).await?;
    let gb = public(found.as_ref()).ok_or(ApiError::GroupBuyNotFound)?;
    call.app.recent.put(gb);
    Ok(Reply::json(StatusCode::OK, &gb.view(Audience::Public)).public_cache())
}

fn interest_body(record: &InterestRecord, gb: &GroupBuy, created: bool) -> Value {
    json!({
        "interest": {
            "quantity": record.quantity,
            "createdAt": record.created_at,
            "updatedAt": record.updated_at,
        },
        "groupBuy": gb.view(Audience::Public),
        "created": created,
    })
}

/// What a PUT asks for: a quantity (default 1) and, when the group-buy is full, whether to
/// wait for a place.
struct Requested {
    quantity: i64,
    waitlist: bool,
}

fn requested(call: &Call<'_>) -> Result<Requested, ApiError> {
    let body = json_object(call.req)?.unwrap_or_default();
    let mut fields = Fields::new(body, &["quantity", "waitlist"]);
    // The range is the group-buy's rule (`QUANTITY_NOT_ALLOWED`), decided with it.
    let quantity = fields.optional("quantity", |v| {
        whole_number(v).ok_or_else(|| "must be a whole number".to_owned())
    });
    let waitlist = fields.optional("waitlist", |v| {
        v.as_bool()
            .ok_or_else(|| "must be true or false".to_owned())
    });
    fields.finish()?;
    Ok(Requested {
        quantity: quantity.ok().flatten().unwrap_or(1),
        waitlist: waitlist.ok().flatten().unwrap_or(false),
    })
}

/// What the visitor holds, as far as `snapshot` says.
fn held(snapshot: &InterestSnapshot) -> Held {
    match (&snapshot.interest, &snapshot.waiting) {
        (Some(interest), _) => Held::Interest(interest.quantity),
        (None, Some(entry)) => Held::Waiting(entry.quantity),
        (None, None) => Held::Nothing,
    }
}

/// PUT my-interest: register, or change the quantity; when full, with `"waitlist": true`,
/// join the waitlist (or change the quantity waited for). A registration is tried first,
/// with the rules as the transaction's conditions, since first registrations are most of a
/// launch: one round trip. Refused, what the refusal returns (the tally, the interest)
/// decides, with no read; a quantity change or a join takes a second write.
pub(crate) async fn register(call: &mut Call<'_>, visitor: Visitor) -> Result<Reply, ApiError> {
    let target = call.target()?;
    let Requested { quantity, waitlist } = requested(call)?;
    let scope = InterestScope::new(call.app, &target, &visitor)?;
    let terms = scope.terms().await?;
    scope.admit(terms)?;
    // Before its draw, a draw campaign takes entries; after it, registrations as any other.
    if terms.allocation == Allocation::Draw
        && let Some(reply) = entries::enter(call, &scope, quantity).await?
    {
        return Ok(reply);
    }
    let mut snapshot = InterestSnapshot {
        // A hint only, for the threshold edge the first try expects.
        tally: call
            .app
            .recent
            .get(scope.handle, scope.slug)
            .map(|gb| gb.tally()),
        interest: None,
        waiting: None,
    };
    let mut known = Known::Nothing;
    // The join ordinal taken, kept across attempts while no later join has committed.
    let mut ordinal: Option<u64> = None;
    // Whether the visitor's own waitlist entry was read (or returned by a refusal).
    let mut read_own_entry = false;
    // No group-buy allows this quantity, and no write can carry it: the answer is the
    // group-buy's state or the quantity error, decided on a read.
    if !(1..=i64::from(MAX_QUANTITY_PER_PARTICIPANT)).contains(&quantity) {
        snapshot = scope.read().await?;
        known = Known::Tally;
    }
    for attempt in 0..INTEREST_ATTEMPTS {
        let now = Timestamp::now();
        let decision = match (known, held(&snapshot)) {
            (Known::Nothing, _) => Registration::New,
            (Known::Tally, held) => {
                match decide_registration(snapshot.tally.as_ref(), held, quantity, waitlist, now) {
                    // A refused registration tells the tally, not whether the visitor waits
                    // already (they keep their place on a full waitlist): read it, once.
                    Err(InterestRejection::WaitlistFull { .. }) if !read_own_entry => {
                        snapshot = scope.read().await?;
                        read_own_entry = true;
                        continue;
                    }
                    decided => decided?,
                }
            }
            (Known::OpenForThisQuantity, Held::Interest(from)) if i64::from(from) == quantity => {
                Registration::Unchanged
            }
            (Known::OpenForThisQuantity, Held::Interest(from)) => Registration::Changed { from },
            // The tally's conditions held, nobody waiting among them: not waiting either.
            (Known::OpenForThisQuantity, _) => Registration::New,
        };
        // Checked: 1 <= quantity <= MAX_QUANTITY_PER_PARTICIPANT.
        let quantity = quantity as u32;
        let (written, layout) = match decision {
            Registration::JoinWaitlist => {
                let Some(mut tally) = snapshot.tally.clone() else {
                    return Err(ApiError::Internal("a join decided on no tally".into()));
                };
                let reusable =
                    ordinal.filter(|o| *o > tally.waitlist_seq.max(tally.waitlist_served));
                let seq = match reusable {
                    Some(seq) => seq,
                    // A refused registration tells the tally, not whether the visitor waits
                    // already: known first, so that a repeat takes no ordinal (a gap).
                    None if !read_own_entry => {
                        snapshot = scope.read().await?;
                        read_own_entry = true;
                        continue;
                    }
                    None => {
                        let taken = call
                            .app
                            .store
                            .take_join_ordinal(scope.handle, scope.slug, &tally, quantity, now)
                            .await;
                        match taken {
                            Ok(now_tally) => {
                                tally = now_tally;
                                snapshot.tally = Some(tally.clone());
                                ordinal = Some(tally.waitlist_joins);
                                tally.waitlist_joins
                            }
                            Err(e) => {
                                scope
                                    .recover(e, attempt, &mut snapshot, Layout::ORDINAL)
                                    .await?;
                                known = Known::Tally;
                                continue;
                            }
                        }
                    }
                };
                let entry = WaitlistEntry {
                    participant: scope.participant.clone(),
                    seq,
                    quantity,
                    joined_at: now,
                    updated_at: now,
                    ttl: waitlist_entry_expiry(tally.closes_at),
                };
                let head = WaitlistHead {
                    served: tally.waitlist_served,
                    limit: tally.waitlist_limit(),
                };
                match scope.join(call, &entry, head).await? {
                    Written::Done => {
                        call.log.metrics.push((BusinessMetric::WaitlistJoins, 1));
                        return scope.waiting_answer(&entry, Some(&tally), true).await;
                    }
                    written => (written, Layout::JOIN),
                }
            }
            Registration::StillWaiting => {
                let Some(entry) = &snapshot.waiting else {
                    return Err(ApiError::Internal("still waiting without an entry".into()));
                };
                return scope
                    .waiting_answer(entry, snapshot.tally.as_ref(), false)
                    .await;
            }
            Registration::WaitingChanged { .. } => {
                let Some(entry) = snapshot.waiting.clone() else {
                    return Err(ApiError::Internal(
                        "a waiting change without an entry".into(),
                    ));
                };
                match scope.change_waiting(call, &entry, quantity, now).await? {
                    Written::Done => {
                        let changed = WaitlistEntry {
                            quantity,
                            updated_at: now,
                            ..entry
                        };
                        return scope
                            .waiting_answer(&changed, snapshot.tally.as_ref(), false)
                            .await;
                    }
                    written => (written, Layout::WAITING),
                }
            }
            Registration::Unchanged => {
                let Some(record) = &snapshot.interest else {
                    return Err(ApiError::Internal(
                        "an unchanged interest without one".into(),
                    ));
                };
                let shown = scope.shown(0, 0).await?;
                let body = interest_body(record, &shown, false);
                return Ok(Reply::json(StatusCode::OK, &body).private());
            }
            Registration::New | Registration::Changed { .. } => {
                let record = match (&snapshot.interest, decision) {
                    (Some(record), Registration::Changed { .. }) => InterestRecord {
                        quantity,
                        updated_at: now,
                        ..record.clone()
                    },
                    _ => InterestRecord {
                        participant: scope.participant.clone(),
                        quantity,
                        created_at: now,
                        updated_at: now,
                    },
                };
                let write = match decision {
                    Registration::Changed { from } => InterestWrite::Change { from, to: &record },
                    _ => InterestWrite::Register {
                        record: &record,
                        meets_threshold: snapshot
                            .tally
                            .as_ref()
                            .is_some_and(Tally::next_participant_meets_threshold),
                    },
                };
                match scope.write(call, write, now).await? {
                    Written::Done => {
                        let (status, created, participants, units) = match decision {
                            Registration::Changed { from } => (
                                StatusCode::OK,
                                false,
                                0,
                                i64::from(quantity) - i64::from(from),
                            ),
                            _ => {
                                call.log
                                    .metrics
                                    .push((BusinessMetric::InterestsRegistered, 1));
                                (StatusCode::CREATED, true, 1, i64::from(quantity))
                            }
                        };
                        let shown = scope.shown(participants, units).await?;
                        let body = interest_body(&record, &shown, created);
                        return Ok(Reply::json(status, &body).private());
                    }
                    written => (written, Layout::INTEREST),
                }
            }
        };
        match written {
            Written::Refused(e) => {
                let learned = scope.recover(e, attempt, &mut snapshot, layout).await?;
                // Joins take numbers one at a time from the tally: one refused because another
                // took the number waits a little (random, growing) before the next, instead of
                // all of them asking again at once.
                if learned.tally && decision == Registration::JoinWaitlist {
                    back_off(attempt).await;
                }
                known = match (learned.tally, decision) {
                    // Only the interest refused a registration or a change: the tally's
                    // conditions held.
                    (false, Registration::New | Registration::Changed { .. }) => {
                        Known::OpenForThisQuantity
                    }
                    // A waitlist write was decided on a known tally: that one, or the one its
                    // refusal returned.
                    _ => Known::Tally,
                };
            }
            // Interest writes keep no idempotency record (PUT and DELETE are idempotent).
            Written::Replayed(_) => {
                return Err(ApiError::Internal("a replay on an unkeyed route".into()));
            }
            Written::Done => return Err(ApiError::Internal("a write answered twice".into())),
        }
    }
    Err(ApiError::Dependency(
        "interest registration kept conflicting".into(),
    ))
}

/// GET my-interest: the visitor's interest, or their place on the waitlist (until the close,
/// when the entries end).
pub(crate) async fn my_interest(call: &mut Call<'_>, visitor: Visitor) -> Result<Reply, ApiError> {
    let target = call.target()?;
    let scope = InterestScope::new(call.app, &target, &visitor)?;
    let (found, held) = call
        .app
        .store
        .group_buy_and_interest(scope.handle, scope.slug, &scope.participant)
        .await?;
    let gb = public(found.as_ref()).ok_or(ApiError::GroupBuyNotFound)?;
    call.app.recent.put(gb);
    // A draw campaign's answer also shows the visitor's entry, and only it before the draw.
    let entry = match gb.allocation {
        Allocation::Draw => Some(entries::shown_entry(&scope, gb).await?),
        Allocation::FirstCome => None,
    };
    let with_entry = |mut body: Value| {
        if let (Some(entry), Some(fields)) = (&entry, body.as_object_mut()) {
            fields.insert("entry".into(), entry.clone());
        }
        body
    };
    if let Some(record) = &held.interest {
        let body = with_entry(interest_body(record, gb, false));
        return Ok(Reply::json(StatusCode::OK, &body).private());
    }
    let waiting = held.waiting.filter(|_| gb.status != Status::Closed);
    let Some(waiting) = waiting else {
        return match entry.filter(|e| !e.is_null()) {
            Some(entry) => Ok(entries::entry_reply(StatusCode::OK, entry, gb, false)),
            None => Err(ApiError::InterestNotFound),
        };
    };
    let position = scope.position(&waiting, held.tally.as_ref()).await?;
    let reply = waiting_reply(StatusCode::OK, &waiting, position, gb, false);
    Ok(match entry {
        Some(_) => {
            let body = with_entry(waiting_body(&waiting, position, gb, false));
            Reply::json(StatusCode::OK, &body).private()
        }
        None => reply,
    })
}

/// DELETE my-interest: 204 whether or not there was an interest; the counters go down
/// exactly once, because the delete is conditioned on the interest still being as read. The
/// freed place goes to the first waiting visitor whose quantity is allowed, in the same
/// transaction. A waiting visitor leaves the waitlist instead.
pub(crate) async fn withdraw(call: &mut Call<'_>, visitor: Visitor) -> Result<Reply, ApiError> {
    let target = call.target()?;
    let scope = InterestScope::new(call.app, &target, &visitor)?;
    if scope.terms().await?.allocation == Allocation::Draw
        && let Some(reply) = entries::withdraw(call, &scope).await?
    {
        return Ok(reply);
    }
    let mut snapshot = scope.read().await?;
    // The head of the waitlist as last read; read again whenever a refusal says it moved.
    let mut head: Option<Vec<WaitlistEntry>> = None;
    for attempt in 0..INTEREST_ATTEMPTS {
        let now = Timestamp::now();
        if snapshot.interest.is_none()
            && let Some(entry) = snapshot.waiting.clone()
        {
            if decide_leaving(snapshot.tally.as_ref(), Some(entry.quantity))?.is_none() {
                return Ok(Reply::no_content().private());
            }
            match scope.leave(call, &entry, now).await? {
                Written::Done => return Ok(Reply::no_content().private()),
                // The entry changed or went: perhaps promoted, when the visitor now has an
                // interest to withdraw. Read again (rare).
                Written::Refused(e) => {
                    let learned = scope
                        .recover(e, attempt, &mut snapshot, Layout::WAITING)
                        .await?;
                    if snapshot.waiting.as_ref() != Some(&entry) || learned.others {
                        snapshot = scope.read().await?;
                    }
                    continue;
                }
                Written::Replayed(_) => {
                    return Err(ApiError::Internal("a replay on an unkeyed route".into()));
                }
            }
        }
        let held = snapshot.interest.as_ref().map(|i| i.quantity);
        let Some(quantity) = decide_withdrawal(snapshot.tally.as_ref(), held, now)? else {
            // Nothing seen. The snapshot's items are read one by one, and a promotion
            // between them hides its visitor (`Store::holds_nothing`): where a waitlist has
            // ever been joined, that is confirmed in isolation first.
            let promotions_possible = snapshot.tally.as_ref().is_some_and(|t| t.waitlist_seq > 0);
            if !promotions_possible {
                return Ok(Reply::no_content().private());
            }
            match call
                .app
                .store
                .holds_nothing(scope.handle, scope.slug, &scope.participant)
                .await
            {
                Ok(true) => return Ok(Reply::no_content().private()),
                Ok(false) => snapshot = scope.read().await?,
                Err(StoreError::TransactionConflict) => {
                    back_off(attempt).await;
                    snapshot = scope.read().await?;
                }
                Err(other) => return Err(other.into()),
            }
            continue;
        };
        let Some(tally) = snapshot.tally.clone() else {
            return Err(ApiError::Internal(
                "a withdrawal decided on no tally".into(),
            ));
        };
        let (next, passed_over) = match tally.waitlist_count {
            0 => (None, Vec::new()),
            _ => {
                let entries = match head.take() {
                    Some(entries) => entries,
                    None => {
                        call.app
                            .store
                            .waitlist_head(scope.handle, scope.slug, WAITLIST_HEAD as i32)
                            .await?
                    }
                };
                let chosen = match successor(&tally, entries.iter().map(|e| e.quantity)) {
                    Some(i) => (Some(entries[i].clone()), entries[..i].to_vec()),
                    // More entries wait for more than is allowed than one transaction can
                    // pass over: they are passed over first, on their own.
                    None if entries.len() > MAX_PASSED_OVER => {
                        let passed = &entries[..MAX_PASSED_OVER];
                        match call
                            .app
                            .store
                            .pass_over(scope.handle, scope.slug, passed)
                            .await
                        {
                            Ok(()) | Err(StoreError::ConditionFailed(_)) => {}
                            Err(StoreError::TransactionConflict) => {}
                            Err(other) => return Err(other.into()),
                        }
                        snapshot = scope.read().await?;
                        continue;
                    }
                    None => (None, entries.clone()),
                };
                head = Some(entries);
                chosen
            }
        };
        let write = InterestWrite::Withdraw {
            quantity,
            loses_threshold: tally.leaving_participant_loses_threshold(),
            successor: next.as_ref(),
            passed_over: &passed_over,
        };
        match scope.write(call, write, now).await? {
            Written::Done => {
                let (participants, units) = match &next {
                    Some(next) => {
                        call.log
                            .metrics
                            .push((BusinessMetric::WaitlistPromotions, 1));
                        (0, i64::from(next.quantity) - i64::from(quantity))
                    }
                    None => (-1, -i64::from(quantity)),
                };
                call.app
                    .recent
                    .count(scope.handle, scope.slug, participants, units);
                call.log
                    .metrics
                    .push((BusinessMetric::InterestsWithdrawn, 1));
                return Ok(Reply::no_content().private());
            }
            // When only the interest refused, the quantity moved (or it is gone): decided
            // again on what it is now; the tally's conditions still guard the write. When the
            // tally or an entry refused, the waitlist moved: its head is read again.
            Written::Refused(e) => {
                let learned = scope
                    .recover(e, attempt, &mut snapshot, Layout::INTEREST)
                    .await?;
                if learned.tally || learned.others {
                    head = None;
                }
            }
            // Interest writes keep no idempotency record (PUT and DELETE are idempotent).
            Written::Replayed(_) => {
                return Err(ApiError::Internal("a replay on an unkeyed route".into()));
            }
        }
    }
    Err(ApiError::Dependency("withdrawal kept conflicting".into()))
}
