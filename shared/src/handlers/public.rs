//! Public traffic: the public pages of group-buys and each visitor's interest.

use super::{Call, Target, Written};
use crate::app::App;
use crate::domain::group_buy::MAX_QUANTITY_PER_PARTICIPANT;
use crate::domain::interest::{decide_registration, decide_withdrawal, public};
use crate::domain::{Audience, GroupBuy, Registration, Tally, Timestamp};
use crate::domain::{Handle, Slug};
use crate::error::ApiError;
use crate::http::{Reply, json_object};
use crate::limits::DailyLimit;
use crate::store::{InterestRecord, InterestSnapshot, InterestWrite, Listing, StoreError};
use crate::telemetry::BusinessMetric;
use crate::validation::{Fields, whole_number};
use crate::visitor::Visitor;
use lambda_http::http::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// Interest writes retried after a lost race before giving up with 503: a race costs no
/// read (the refused transaction returns what it found), so attempts are cheap.
const INTEREST_ATTEMPTS: u32 = 12;

/// The visitor's interest in one group-buy, as the handlers decide on it.
struct InterestScope<'a> {
    app: &'a App,
    handle: &'a Handle,
    slug: &'a Slug,
    visitor: &'a Visitor,
    /// The visitor's pseudonym in this group-buy: what the interest item is keyed by.
    participant: String,
}

impl<'a> InterestScope<'a> {
    fn new(app: &'a App, target: &'a Target, visitor: &'a Visitor) -> Result<Self, ApiError> {
        let slug = target.slug()?;
        Ok(Self {
            app,
            handle: &target.handle,
            slug,
            visitor,
            participant: app.server_key.participant(
                target.handle.as_str(),
                slug.as_str(),
                &visitor.key,
            ),
        })
    }

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

    /// Writes `write`, counted against the visitor's daily limit of interest writes.
    async fn write(
        &self,
        call: &mut Call<'_>,
        write: InterestWrite<'_>,
        now: Timestamp,
    ) -> Result<Written, ApiError> {
        let limit = DailyLimit::new(
            "interest-writes",
            self.visitor.key.clone(),
            call.app.settings.limits.daily_interest_writes_per_visitor,
            now,
        );
        let (store, key) = (&self.app.store, self.participant.as_str());
        let (handle, slug) = (self.handle, self.slug);
        call.guarded_write(Some(limit), None, |riders| async move {
            store
                .write_interest(handle, slug, key, write, now, &riders)
                .await
        })
        .await
    }

    /// After a refused write: a condition failure tells what was there (no re-read); a
    /// transaction conflict backs off, a little more each time, and reads again. Returns
    /// whether the tally is now known (it is not when only the interest's condition failed:
    /// then the tally's conditions held).
    async fn recover(
        &self,
        error: StoreError,
        attempt: u32,
        snapshot: &mut InterestSnapshot,
    ) -> Result<bool, ApiError> {
        match error {
            StoreError::ConditionFailed(checks) => {
                let tally_known = snapshot.learn_from(checks)?;
                if let Some(tally) = snapshot.tally.as_ref().filter(|_| tally_known) {
                    self.app.recent.learn(self.handle, self.slug, tally);
                }
                Ok(tally_known)
            }
            StoreError::TransactionConflict => {
                let ceiling = 10 * u64::from(attempt + 1);
                tokio::time::sleep(Duration::from_millis(fastrand::u64(1..=ceiling))).await;
                *snapshot = self.read().await?;
                Ok(true)
            }
            other => Err(other.into()),
        }
    }

    /// The group-buy to answer with after this instance's write moved its counters by
    /// (`participants`, `units`): as last seen here and moved by the write, or, unseen, read
    /// now (the write is in what is read).
    async fn shown(&self, participants: i64, units: i64) -> Result<GroupBuy, ApiError> {
        let recent = &self.app.recent;
        recent.count(self.handle, self.slug, participants, units);
        if let Some(gb) = recent.get(self.handle, self.slug) {
            return Ok(gb);
        }
        let gb = self
            .app
            .store
            .get(self.handle, self.slug)
            .await?
            .ok_or(ApiError::GroupBuyNotFound)?;
        recent.put(&gb);
        Ok(gb)
    }
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

pub(super) async fn list(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let handle = call.target()?.handle;
    let list_id = format!("public:{handle}");
    let body = call
        .group_buy_page(&handle, Listing::Public, &list_id, Audience::Public)
        .await?;
    Ok(Reply::json(StatusCode::OK, &body).public_cache())
}

pub(super) async fn get(call: &mut Call<'_>) -> Result<Reply, ApiError> {
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

fn requested_quantity(call: &Call<'_>) -> Result<i64, ApiError> {
    let body = json_object(call.req)?.unwrap_or_default();
    let mut fields = Fields::new(body, &["quantity"]);
    // The range is the group-buy's rule (`QUANTITY_NOT_ALLOWED`), decided with it.
    let quantity = fields.optional("quantity", |v| {
        whole_number(v).ok_or_else(|| "must be a whole number".to_owned())
    });
    fields.finish()?;
    Ok(quantity.ok().flatten().unwrap_or(1))
}

/// PUT my-interest: register, or change the quantity. A registration is tried first, with
/// the rules as the transaction's conditions, since first registrations are most of a launch:
/// one round trip. Refused, what the refusal returns (the tally, the interest) decides, with
/// no read; a quantity change takes a second write.
pub(super) async fn register(call: &mut Call<'_>, visitor: Visitor) -> Result<Reply, ApiError> {
    let target = call.target()?;
    let quantity = requested_quantity(call)?;
    let scope = InterestScope::new(call.app, &target, &visitor)?;
    let mut snapshot = InterestSnapshot {
        // A hint only, for the threshold edge the first try expects.
        tally: call
            .app
            .recent
            .get(scope.handle, scope.slug)
            .map(|gb| gb.tally()),
        interest: None,
    };
    let mut known = Known::Nothing;
    // No group-buy allows this quantity, and no write can carry it: the answer is the
    // group-buy's state or the quantity error, decided on a read.
    if !(1..=i64::from(MAX_QUANTITY_PER_PARTICIPANT)).contains(&quantity) {
        snapshot = scope.read().await?;
        known = Known::Tally;
    }
    for attempt in 0..INTEREST_ATTEMPTS {
        let now = Timestamp::now();
        let held = snapshot.interest.as_ref().map(|i| i.quantity);
        let decision = match (known, held) {
            (Known::Nothing, _) => Registration::New,
            (Known::Tally, _) => decide_registration(snapshot.tally.as_ref(), held, quantity, now)?,
            (Known::OpenForThisQuantity, Some(from)) if i64::from(from) == quantity => {
                Registration::Unchanged
            }
            (Known::OpenForThisQuantity, Some(from)) => Registration::Changed { from },
            (Known::OpenForThisQuantity, None) => Registration::New,
        };
        // Checked: 1 <= quantity <= MAX_QUANTITY_PER_PARTICIPANT.
        let quantity = quantity as u32;
        let record = match (&snapshot.interest, decision) {
            (Some(record), Registration::Unchanged) => {
                let shown = scope.shown(0, 0).await?;
                let body = interest_body(record, &shown, false);
                return Ok(Reply::json(StatusCode::OK, &body).private());
            }
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
            Written::Refused(e) => {
                known = match scope.recover(e, attempt, &mut snapshot).await? {
                    true => Known::Tally,
                    false => Known::OpenForThisQuantity,
                };
            }
            // Interest writes keep no idempotency record (PUT and DELETE are idempotent).
            Written::Replayed(_) => {
                return Err(ApiError::Internal("a replay on an unkeyed route".into()));
            }
        }
    }
    Err(ApiError::Dependency(
        "interest registration kept conflicting".into(),
    ))
}

pub(super) async fn my_interest(call: &mut Call<'_>, visitor: Visitor) -> Result<Reply, ApiError> {
    let target = call.target()?;
    let scope = InterestScope::new(call.app, &target, &visitor)?;
    let (found, interest) = call
        .app
        .store
        .group_buy_and_interest(scope.handle, scope.slug, &scope.participant)
        .await?;
    let gb = public(found.as_ref()).ok_or(ApiError::GroupBuyNotFound)?;
    call.app.recent.put(gb);
    let record = interest.ok_or(ApiError::InterestNotFound)?;
    Ok(Reply::json(StatusCode::OK, &interest_body(&record, gb, false)).private())
}

/// DELETE my-interest: 204 whether or not there was an interest; the counters go down
/// exactly once, because the delete is conditioned on the interest still being as read.
pub(super) async fn withdraw(call: &mut Call<'_>, visitor: Visitor) -> Result<Reply, ApiError> {
    let target = call.target()?;
    let scope = InterestScope::new(call.app, &target, &visitor)?;
    let mut snapshot = scope.read().await?;
    for attempt in 0..INTEREST_ATTEMPTS {
        let held = snapshot.interest.as_ref().map(|i| i.quantity);
        let now = Timestamp::now();
        let Some(quantity) = decide_withdrawal(snapshot.tally.as_ref(), held, now)? else {
            return Ok(Reply::no_content().private());
        };
        let write = InterestWrite::Withdraw {
            quantity,
            loses_threshold: snapshot
                .tally
                .as_ref()
                .is_some_and(Tally::leaving_participant_loses_threshold),
        };
        match scope.write(call, write, now).await? {
            Written::Done => {
                let units = -i64::from(quantity);
                call.app.recent.count(scope.handle, scope.slug, -1, units);
                call.log
                    .metrics
                    .push((BusinessMetric::InterestsWithdrawn, 1));
                return Ok(Reply::no_content().private());
            }
            // When only the interest refused, the quantity moved (or it is gone): decided
            // again on what it is now; the tally's conditions still guard the write.
            Written::Refused(e) => {
                scope.recover(e, attempt, &mut snapshot).await?;
            }
            // Interest writes keep no idempotency record (PUT and DELETE are idempotent).
            Written::Replayed(_) => {
                return Err(ApiError::Internal("a replay on an unkeyed route".into()));
            }
        }
    }
    Err(ApiError::Dependency("withdrawal kept conflicting".into()))
}
