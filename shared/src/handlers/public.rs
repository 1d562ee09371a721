//! Public traffic: the public pages of group-buys and each visitor's interest.

use super::{Call, Target, Written};
use crate::app::App;
use crate::domain::interest::{decide_registration, decide_withdrawal, public};
use crate::domain::{Audience, GroupBuy, Registration, Timestamp};
use crate::domain::{Handle, Slug};
use crate::error::ApiError;
use crate::http::{Reply, json_object};
use crate::limits::DailyLimit;
use crate::store::{InterestRecord, InterestSnapshot, InterestWrite, Listing, Store, StoreError};
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
    store: &'a Store,
    handle: &'a Handle,
    slug: &'a Slug,
    visitor: &'a Visitor,
}

impl<'a> InterestScope<'a> {
    fn new(app: &'a App, target: &'a Target, visitor: &'a Visitor) -> Result<Self, ApiError> {
        Ok(Self {
            store: &app.store,
            handle: &target.handle,
            slug: target.slug()?,
            visitor,
        })
    }

    async fn read(&self) -> Result<InterestSnapshot, ApiError> {
        Ok(self
            .store
            .interest_snapshot(self.handle, self.slug, &self.visitor.key)
            .await?)
    }

    /// Writes `write`, counted against the visitor's daily limit of interest writes.
    async fn write(
        &self,
        call: &mut Call<'_>,
        current: &GroupBuy,
        write: InterestWrite<'_>,
        now: Timestamp,
    ) -> Result<Written, ApiError> {
        let limit = DailyLimit::new(
            "interest-writes",
            self.visitor.key.clone(),
            call.app.settings.limits.daily_interest_writes_per_visitor,
            now,
        );
        let (store, key) = (self.store, self.visitor.key.as_str());
        call.guarded_write(Some(limit), None, |riders| async move {
            store
                .write_interest(current, key, write, now, &riders)
                .await
        })
        .await
    }

    /// After a refused write: a condition failure tells what was there (no re-read); a
    /// transaction conflict backs off, a little more each time, and reads again.
    async fn recover(
        &self,
        error: StoreError,
        attempt: u32,
        snapshot: &mut InterestSnapshot,
    ) -> Result<(), ApiError> {
        match error {
            StoreError::ConditionFailed(checks) => Ok(snapshot.learn_from(checks)?),
            StoreError::TransactionConflict => {
                let ceiling = 10 * u64::from(attempt + 1);
                tokio::time::sleep(Duration::from_millis(fastrand::u64(1..=ceiling))).await;
                *snapshot = self.read().await?;
                Ok(())
            }
            other => Err(other.into()),
        }
    }
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

/// PUT my-interest: register, or change the quantity. Decided on one consistent read of the
/// group-buy and the interest, written in one transaction whose conditions carry the rules;
/// when a race makes the transaction fail, what it found decides again, without a re-read.
pub(super) async fn register(call: &mut Call<'_>, visitor: Visitor) -> Result<Reply, ApiError> {
    let target = call.target()?;
    let quantity = requested_quantity(call)?;
    let scope = InterestScope::new(call.app, &target, &visitor)?;
    let mut snapshot = scope.read().await?;
    for attempt in 0..INTEREST_ATTEMPTS {
        let now = Timestamp::now();
        let held = snapshot.interest.as_ref().map(|i| i.quantity);
        let decision = decide_registration(snapshot.group_buy.as_ref(), held, quantity, now)?;
        // The decision checked 1 <= quantity <= maxQuantityPerParticipant (<= 100).
        let quantity = quantity as u32;
        let (Some(current), existing) = (&snapshot.group_buy, &snapshot.interest) else {
            return Err(ApiError::GroupBuyNotFound);
        };
        let record = match (existing, decision) {
            (Some(record), Registration::Unchanged) => {
                let body = interest_body(record, current, false);
                return Ok(Reply::json(StatusCode::OK, &body).private());
            }
            (Some(record), Registration::Changed { .. }) => InterestRecord {
                quantity,
                updated_at: now,
                ..record.clone()
            },
            _ => InterestRecord {
                participant: call.app.server_key.participant(
                    scope.handle.as_str(),
                    scope.slug.as_str(),
                    &visitor.key,
                ),
                quantity,
                created_at: now,
                updated_at: now,
            },
        };
        let write = match decision {
            Registration::Changed { from } => InterestWrite::Change { from, to: &record },
            _ => InterestWrite::Register(&record),
        };
        match scope.write(call, current, write, now).await? {
            Written::Done => {
                // The group-buy as this write left it (other writes may have moved it since).
                let mut shown = current.clone();
                let (status, created) = match decision {
                    Registration::Changed { from } => {
                        shown.unit_count = (shown.unit_count + u64::from(quantity))
                            .saturating_sub(u64::from(from));
                        (StatusCode::OK, false)
                    }
                    _ => {
                        shown.participant_count += 1;
                        shown.unit_count += u64::from(quantity);
                        call.log
                            .metrics
                            .push((BusinessMetric::InterestsRegistered, 1));
                        (StatusCode::CREATED, true)
                    }
                };
                let body = interest_body(&record, &shown, created);
                return Ok(Reply::json(status, &body).private());
            }
            Written::Refused(e) => scope.recover(e, attempt, &mut snapshot).await?,
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
    let snapshot = call
        .app
        .store
        .interest_snapshot(&target.handle, target.slug()?, &visitor.key)
        .await?;
    let gb = public(snapshot.group_buy.as_ref()).ok_or(ApiError::GroupBuyNotFound)?;
    let record = snapshot.interest.ok_or(ApiError::InterestNotFound)?;
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
        let Some(quantity) = decide_withdrawal(snapshot.group_buy.as_ref(), held, now)? else {
            return Ok(Reply::no_content().private());
        };
        let Some(current) = &snapshot.group_buy else {
            return Err(ApiError::GroupBuyNotFound);
        };
        let write = InterestWrite::Withdraw { quantity };
        match scope.write(call, current, write, now).await? {
            Written::Done => {
                call.log
                    .metrics
                    .push((BusinessMetric::InterestsWithdrawn, 1));
                return Ok(Reply::no_content().private());
            }
            Written::Refused(e) => scope.recover(e, attempt, &mut snapshot).await?,
            // Interest writes keep no idempotency record (PUT and DELETE are idempotent).
            Written::Replayed(_) => {
                return Err(ApiError::Internal("a replay on an unkeyed route".into()));
            }
        }
    }
    Err(ApiError::Dependency("withdrawal kept conflicting".into()))
}
