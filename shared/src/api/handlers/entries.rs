//! A visitor's entry in a draw campaign (API.md, "Fair drops"): `PUT`, `GET` and `DELETE
//! my-interest` before the draw. Each write is one transaction of the entry and its shard,
//! whose conditions carry the rules (open, before `drawAt`, not sealed, room in the shard);
//! a refused write is decided again on a fresh read. After the draw, these hand back to
//! the first-come handlers (`None`), which serve the drawn participants and the waitlist.

use super::scope::InterestScope;
use crate::api::call::{Call, Written};
use crate::domain::group_buy::MAX_QUANTITY_PER_PARTICIPANT;
use crate::domain::{Audience, DrawResult, GroupBuy, InterestRejection, Status, Timestamp};
use crate::http::{ApiError, Reply};
use crate::store::{DrawEntry, EntryShard, EntryWrite, INTEREST_ATTEMPTS, StoreError, back_off};
use crate::telemetry::BusinessMetric;
use lambda_http::http::StatusCode;
use serde_json::{Value, json};

/// The `entry` of an answer.
fn entry_json(entry: &DrawEntry, result: DrawResult) -> Value {
    json!({
        "ticket": entry.ticket,
        "quantity": entry.quantity,
        "enteredAt": entry.entered_at,
        "result": result,
    })
}

/// The answer of an entrant who holds no interest and no place on the waitlist.
pub(super) fn entry_reply(status: StatusCode, entry: Value, gb: &GroupBuy, created: bool) -> Reply {
    let body = json!({
        "entry": entry,
        "interest": null,
        "waitlist": null,
        "groupBuy": gb.view(Audience::Public),
        "created": created,
    });
    Reply::json(status, &body).private()
}

/// The visitor's entry as `GET my-interest` shows it (null when they have none): pending
/// before the draw; after it, what the draw wrote on it (won, waitlisted), else lost.
pub(super) async fn shown_entry(
    scope: &InterestScope<'_>,
    gb: &GroupBuy,
) -> Result<Value, ApiError> {
    let found = scope
        .app
        .store
        .draw_entry(scope.handle, scope.slug, &scope.participant)
        .await?;
    Ok(match found {
        Some(entry) => {
            let result = match (gb.draw_pending(), entry.result) {
                (true, _) => DrawResult::Pending,
                (false, Some(result)) => result,
                (false, None) => DrawResult::Lost,
            };
            entry_json(&entry, result)
        }
        None => Value::Null,
    })
}

/// Whether the group-buy has been drawn since the shard was sealed: read fresh.
async fn drawn(scope: &InterestScope<'_>) -> Result<bool, ApiError> {
    let gb = scope
        .app
        .store
        .get(scope.handle, scope.slug)
        .await?
        .ok_or(ApiError::GroupBuyNotFound)?;
    scope.app.recent.put(&gb);
    Ok(!gb.draw_pending())
}

/// Whether an entry may be written in the shard as read: published and open, or why not
/// (`false`: sealed or past `drawAt`).
fn open(shard: Option<&EntryShard>, now: Timestamp) -> Result<bool, ApiError> {
    let Some(shard) = shard else {
        return Err(ApiError::GroupBuyNotFound);
    };
    match shard.status {
        Status::Published => {}
        Status::Paused => return Err(InterestRejection::Paused.into()),
        Status::Closed => return Err(InterestRejection::Closed.into()),
        Status::Draft => return Err(ApiError::GroupBuyNotFound),
    }
    Ok(shard.open_at(now))
}

/// `PUT my-interest` on a draw campaign: enter, or change the quantity entered. `None` once
/// drawn (the registration goes on as first-come).
pub(super) async fn enter(
    call: &mut Call<'_>,
    scope: &InterestScope<'_>,
    quantity: i64,
) -> Result<Option<Reply>, ApiError> {
    let gb = scope.shown(0, 0).await?;
    if !gb.draw_pending() {
        return Ok(None);
    }
    let store = &scope.app.store;
    let read = || store.entry_snapshot(scope.handle, scope.slug, &scope.participant);
    let max = gb.max_quantity_per_participant;
    let allowed = u32::try_from(quantity)
        .ok()
        .filter(|q| (1..=max.min(MAX_QUANTITY_PER_PARTICIPANT)).contains(q));
    // A launch's entries are mostly first ones: the first is tried with no read, its
    // conditions deciding (one round trip); a refusal, or a quantity no write can carry (the
    // group-buy's state is told first), is decided on a read of the entry and its shard.
    let mut snapshot = match allowed {
        Some(_) => None,
        None => Some(read().await?),
    };
    for attempt in 0..INTEREST_ATTEMPTS {
        let now = Timestamp::now();
        let new_entry = |quantity| DrawEntry {
            ticket: scope.participant.clone(),
            quantity,
            entered_at: now,
            updated_at: now,
            result: None,
        };
        let (next, write, created) = match (&snapshot, allowed) {
            (None, Some(quantity)) => (new_entry(quantity), None, true),
            (None, None) => return Err(InterestRejection::QuantityNotAllowed { max }.into()),
            (Some((shard, entry)), allowed) => {
                if !open(shard.as_ref(), now)? {
                    return match drawn(scope).await? {
                        true => Ok(None),
                        false => Err(InterestRejection::DrawPending.into()),
                    };
                }
                let Some(quantity) = allowed else {
                    return Err(InterestRejection::QuantityNotAllowed { max }.into());
                };
                match entry {
                    Some(entry) if entry.quantity == quantity => {
                        let body = entry_json(entry, DrawResult::Pending);
                        return Ok(Some(entry_reply(StatusCode::OK, body, &gb, false)));
                    }
                    Some(entry) => (
                        DrawEntry {
                            quantity,
                            updated_at: now,
                            ..entry.clone()
                        },
                        Some(entry.quantity),
                        false,
                    ),
                    None if shard
                        .as_ref()
                        .is_some_and(|s| s.entry_count >= s.entry_limit) =>
                    {
                        return Err(InterestRejection::Full.into());
                    }
                    None => (new_entry(quantity), None, true),
                }
            }
        };
        let written = scope
            .guarded(call, now, |riders| {
                let next = &next;
                async move {
                    let write = match write {
                        Some(from) => EntryWrite::Change { from, to: next },
                        None => EntryWrite::Enter(next),
                    };
                    store
                        .write_entry(scope.handle, scope.slug, write, now, &riders)
                        .await
                }
            })
            .await?;
        match written {
            Written::Done => {
                if created {
                    call.log.metrics.push((BusinessMetric::DrawEntries, 1));
                }
                let status = match created {
                    true => StatusCode::ACCEPTED,
                    false => StatusCode::OK,
                };
                let body = entry_json(&next, DrawResult::Pending);
                return Ok(Some(entry_reply(status, body, &gb, created)));
            }
            // The entry or the shard is not as the write expected (an entry already there,
            // a pause, the seal, a full shard): decided again on what they are now.
            Written::Refused(StoreError::ConditionFailed(_)) => snapshot = Some(read().await?),
            Written::Refused(StoreError::TransactionConflict) => {
                back_off(attempt).await;
                snapshot = Some(read().await?);
            }
            Written::Refused(other) => return Err(other.into()),
            Written::Replayed(_) => {
                return Err(ApiError::Internal("a replay on an unkeyed route".into()));
            }
        }
    }
    Err(ApiError::Dependency("draw entry kept conflicting".into()))
}

/// `DELETE my-interest` on a draw campaign before its draw: the entry is withdrawn (204,
/// also when there was none). `None` once drawn.
pub(super) async fn withdraw(
    call: &mut Call<'_>,
    scope: &InterestScope<'_>,
) -> Result<Option<Reply>, ApiError> {
    let store = &scope.app.store;
    for attempt in 0..INTEREST_ATTEMPTS {
        let (shard, entry) = store
            .entry_snapshot(scope.handle, scope.slug, &scope.participant)
            .await?;
        let now = Timestamp::now();
        let Some(shard) = shard else {
            return Err(ApiError::GroupBuyNotFound);
        };
        // Closed first, as for any withdrawal: a draw cancelled before it ran has no results
        // to wait for.
        if shard.status == Status::Closed {
            return match entry {
                Some(_) => Err(InterestRejection::Closed.into()),
                None => Ok(Some(Reply::no_content().private())),
            };
        }
        if !shard.open_at(now) {
            return match (drawn(scope).await?, &entry) {
                (true, _) => Ok(None),
                (false, Some(_)) => Err(InterestRejection::DrawPending.into()),
                (false, None) => Ok(Some(Reply::no_content().private())),
            };
        }
        let Some(entry) = entry else {
            return Ok(Some(Reply::no_content().private()));
        };
        if shard.status == Status::Draft {
            return Err(ApiError::GroupBuyNotFound);
        }
        let write = EntryWrite::Withdraw {
            ticket: &scope.participant,
            quantity: entry.quantity,
        };
        let written = scope
            .guarded(call, now, |riders| async move {
                store
                    .write_entry(scope.handle, scope.slug, write, now, &riders)
                    .await
            })
            .await?;
        match written {
            Written::Done => return Ok(Some(Reply::no_content().private())),
            Written::Refused(StoreError::ConditionFailed(_)) => {}
            Written::Refused(StoreError::TransactionConflict) => back_off(attempt).await,
            Written::Refused(other) => return Err(other.into()),
            Written::Replayed(_) => {
                return Err(ApiError::Internal("a replay on an unkeyed route".into()));
            }
        }
    }
    Err(ApiError::Dependency(
        "draw withdrawal kept conflicting".into(),
    ))
}
