//! The owner side of the lifecycle: create, list, read, publish, pause, close, extend.

use super::{Answer, Call, OwnerTarget, Target, Written};
use crate::domain::{
    Action, Audience, CloseOutcome, Decision, ExtensionDecision, GroupBuy, HistoryEntry,
    NewGroupBuy, Rejection, Status, Timestamp,
};
use crate::domain::{Handle, Slug};
use crate::error::ApiError;
use crate::http::{IfMatch, ListFormat, Reply, json_object, query_param};
use crate::limits::DailyLimit;
use crate::participants_csv::participants_csv;
use crate::routes::Route;
use crate::store::{Listing, Store, StoreError};
use crate::telemetry::BusinessMetric;
use crate::validation::{FieldError, Fields, string};
use lambda_http::http::{StatusCode, header};
use serde_json::{Value, json};

/// How often a transition re-reads and re-decides after losing a race; each loss means
/// another transition was applied, so a handful always suffices in practice.
const TRANSITION_ATTEMPTS: usize = 5;

fn one(gb: &GroupBuy, status: StatusCode) -> Reply {
    Reply::json(status, &gb.view(Audience::Owner))
        .private()
        .header(header::ETAG, &gb.etag())
}

pub(super) async fn create(call: &mut Call<'_>, owner: OwnerTarget) -> Result<Answer, ApiError> {
    let body = json_object(call.req)?.unwrap_or_default();
    let now = Timestamp::now();
    let new = NewGroupBuy::parse(body, now)?;
    let new_slug = new.slug.clone();
    let gb = GroupBuy::draft(owner.target.handle, new, now);
    call.log.slug = Some(gb.slug.to_string());
    let entry = HistoryEntry::created(&owner.principal.actor(), call.request_id, gb.version, now);
    let location = format!("/v2/handles/{}/group-buys/{}", gb.handle, gb.slug);
    let reply = one(&gb, StatusCode::CREATED).header(header::LOCATION, &location);
    let store = &call.app.store;
    let limit = owner_write_limit(call, &gb.handle, now);
    let written = call
        .guarded_write(Some(limit), Some(reply.response()), |riders| async move {
            store.create(&gb, &entry, &riders).await
        })
        .await?;
    match written {
        Written::Done => Ok(reply.into()),
        Written::Replayed(first) => Ok(Answer::Replay(first)),
        Written::Refused(StoreError::ConditionFailed(_)) => Err(ApiError::SlugTaken(new_slug)),
        Written::Refused(e) => Err(e.into()),
    }
}

/// Owner writes count against their handle's daily limit.
fn owner_write_limit(call: &Call<'_>, handle: &Handle, now: Timestamp) -> DailyLimit {
    DailyLimit::new(
        "owner-writes",
        handle.to_string(),
        call.app.settings.limits.daily_writes_per_handle,
        now,
    )
}

pub(super) async fn list(call: &mut Call<'_>, owner: OwnerTarget) -> Result<Reply, ApiError> {
    let handle = owner.target.handle;
    let status = call.query("status", Status::parse)?;
    let list_id = format!("owner:{handle}:{}", status.map_or("*", Status::as_str));
    let body = call
        .group_buy_page(&handle, Listing::Owner(status), &list_id, Audience::Owner)
        .await?;
    Ok(Reply::json(StatusCode::OK, &body).private())
}

pub(super) async fn get(call: &mut Call<'_>, owner: OwnerTarget) -> Result<Reply, ApiError> {
    let target = owner.target;
    let slug = target.slug()?;
    let store = &call.app.store;
    // The history's sealed cursor, bound to this group-buy's history (another list's cursor,
    // or a modified one, is 400 INVALID_CURSOR); an empty one is none, as for `cursor`.
    let list_id = format!("history:{}:{slug}", target.handle);
    let history_cursor = query_param(call.req, "historyCursor").filter(|c| !c.is_empty());
    match query_param(call.req, "include").as_deref() {
        None => {
            if history_cursor.is_some() {
                return Err(ApiError::Validation(vec![FieldError::new(
                    "historyCursor",
                    "needs include=history",
                )]));
            }
            let gb = store
                .get(&target.handle, slug)
                .await?
                .ok_or(ApiError::GroupBuyNotFound)?;
            Ok(one(&gb, StatusCode::OK))
        }
        Some("history") => {
            let older_than = history_cursor
                .map(|cursor| call.app.cursors.decode(&list_id, &cursor))
                .transpose()?;
            let (gb, history) = store
                .get_with_history(&target.handle, slug, older_than)
                .await?
                .ok_or(ApiError::GroupBuyNotFound)?;
            let next = history
                .last_key
                .map(|key| call.app.cursors.encode(&list_id, key));
            let mut body = gb.view(Audience::Owner);
            if let Value::Object(fields) = &mut body {
                fields.insert("history".into(), json!(history.items));
                fields.insert("historyNextCursor".into(), json!(next));
            }
            Ok(Reply::json(StatusCode::OK, &body)
                .private()
                .header(header::ETAG, &gb.etag()))
        }
        Some(_) => Err(ApiError::Validation(vec![FieldError::new(
            "include",
            "must be history",
        )])),
    }
}

/// The action a transition route asks for, from its route and body.
fn requested_action(call: &Call<'_>) -> Result<Action, ApiError> {
    let body = json_object(call.req)?.unwrap_or_default();
    match call.route {
        Route::CloseGroupBuy => {
            let mut fields = Fields::new(body, &["outcome"]);
            let outcome = fields.optional("outcome", |v| match string(v)? {
                "fulfilled" => Ok(CloseOutcome::Fulfilled),
                "cancelled" => Ok(CloseOutcome::Cancelled),
                _ => Err("must be fulfilled or cancelled".into()),
            });
            fields.finish()?;
            Ok(Action::Close(
                outcome.ok().flatten().unwrap_or(CloseOutcome::Fulfilled),
            ))
        }
        route => {
            // publish and pause take no body, but an empty object is fine.
            Fields::new(body, &[]).finish()?;
            Ok(if route == Route::PauseGroupBuy {
                Action::Pause
            } else {
                Action::Publish
            })
        }
    }
}

/// The group-buy a write decides on, read strongly consistent: 404 when there is none, 412
/// when `If-Match` names another version.
async fn read_matching(
    store: &Store,
    handle: &Handle,
    slug: &Slug,
    if_match: &IfMatch,
) -> Result<GroupBuy, ApiError> {
    let current = store
        .get(handle, slug)
        .await?
        .ok_or(ApiError::GroupBuyNotFound)?;
    if_match.check(current.version)?;
    Ok(current)
}

/// publish, pause and close: read, decide with the lifecycle rules, write conditionally;
/// on a lost race, read and decide again.
pub(super) async fn transition(
    call: &mut Call<'_>,
    owner: OwnerTarget,
) -> Result<Answer, ApiError> {
    let (target, actor) = (owner.target, owner.principal.actor());
    let slug = target.slug()?;
    let action = requested_action(call)?;
    let if_match = IfMatch::of(call.req.headers());
    let store = &call.app.store;
    for _ in 0..TRANSITION_ATTEMPTS {
        let current = read_matching(store, &target.handle, slug, &if_match).await?;
        let now = Timestamp::now();
        match current.lifecycle().decide(action, now) {
            Decision::AlreadyThere => return Ok(one(&current, StatusCode::OK).into()),
            Decision::Reject(rejection) => {
                let entry = HistoryEntry::rejected(
                    action,
                    current.status,
                    current.version,
                    &rejection,
                    &actor,
                    call.request_id,
                    now,
                );
                let close_refused = matches!(action, Action::Close(_));
                return refuse(call, &target, entry, close_refused, rejection).await;
            }
            Decision::Apply(transition) => {
                let next = current.after(&transition, now);
                let entry = HistoryEntry::applied(
                    action,
                    &transition,
                    next.version,
                    &actor,
                    call.request_id,
                    now,
                );
                let reply = one(&next, StatusCode::OK);
                let limit = owner_write_limit(call, &target.handle, now);
                let written = call
                    .guarded_write(Some(limit), Some(reply.response()), |riders| {
                        let (current, next) = (&current, &next);
                        let (transition, entry) = (&transition, &entry);
                        async move { store.apply(current, next, transition, entry, &riders).await }
                    })
                    .await?;
                match written {
                    Written::Done => {
                        call.log.metrics.push((BusinessMetric::Transitions, 1));
                        return Ok(reply.into());
                    }
                    Written::Replayed(first) => return Ok(Answer::Replay(first)),
                    // Another write moved the group-buy since the read: read and decide again.
                    Written::Refused(_) => continue,
                }
            }
        }
    }
    Err(ApiError::Dependency(
        "the group-buy kept changing during the transition".into(),
    ))
}

/// Records a refused transition or extension in the history (a refused close also raises
/// the `CLOSE_REJECTED` flag), counted against the daily limit and kept for the
/// `Idempotency-Key` like any answer; then answers with the refusal, or with the first
/// request's answer to a keyed retry.
async fn refuse(
    call: &mut Call<'_>,
    target: &Target,
    entry: HistoryEntry,
    close_refused: bool,
    rejection: Rejection,
) -> Result<Answer, ApiError> {
    let slug = target.slug()?;
    let answer = ApiError::Lifecycle(rejection).into_response(call.request_id);
    let limit = owner_write_limit(call, &target.handle, entry.at);
    let store = &call.app.store;
    let handle = &target.handle;
    let written = call
        .guarded_write(Some(limit), Some(&answer), |riders| async move {
            store
                .record_refusal(handle, slug, &entry, close_refused, &riders)
                .await
        })
        .await?;
    match written {
        Written::Done => {
            if close_refused {
                call.log.metrics.push((BusinessMetric::RejectedCloses, 1));
            }
            Err(ApiError::Lifecycle(rejection))
        }
        Written::Replayed(first) => Ok(Answer::Replay(first)),
        Written::Refused(e) => Err(e.into()),
    }
}

/// The deadline an extension asks for: `{"closesAt": "..."}`, nothing else.
fn requested_deadline(call: &Call<'_>) -> Result<Timestamp, ApiError> {
    let body = json_object(call.req)?.unwrap_or_default();
    let mut fields = Fields::new(body, &["closesAt"]);
    let closes_at = fields.required("closesAt", |v| Timestamp::parse(string(v)?));
    fields.finish()?;
    closes_at.ok_or_else(|| ApiError::Internal("closesAt parsed without a value".into()))
}

/// POST …/extend: read, decide with the extension rules, write conditionally on the version
/// read (as a transition does); on a lost race, read and decide again.
pub(super) async fn extend(call: &mut Call<'_>, owner: OwnerTarget) -> Result<Answer, ApiError> {
    let (target, actor) = (owner.target, owner.principal.actor());
    let slug = target.slug()?;
    let requested = requested_deadline(call)?;
    let if_match = IfMatch::of(call.req.headers());
    let store = &call.app.store;
    for _ in 0..TRANSITION_ATTEMPTS {
        let current = read_matching(store, &target.handle, slug, &if_match).await?;
        let now = Timestamp::now();
        match current.deadline_state().decide_extension(requested, now) {
            ExtensionDecision::Reject(rejection) => {
                let entry = HistoryEntry::extension_refused(
                    &current,
                    requested,
                    &rejection,
                    &actor,
                    call.request_id,
                    now,
                );
                return refuse(call, &target, entry, false, rejection).await;
            }
            ExtensionDecision::Apply(extension) => {
                let next = current.extended(&extension, now);
                let entry = HistoryEntry::extended(&next, &extension, &actor, call.request_id, now);
                let reply = one(&next, StatusCode::OK);
                let limit = owner_write_limit(call, &target.handle, now);
                let written = call
                    .guarded_write(Some(limit), Some(reply.response()), |riders| {
                        let (current, next, entry) = (&current, &next, &entry);
                        async move { store.extend(current, next, entry, &riders).await }
                    })
                    .await?;
                match written {
                    Written::Done => {
                        call.log
                            .metrics
                            .push((BusinessMetric::DeadlineExtensions, 1));
                        return Ok(reply.into());
                    }
                    Written::Replayed(first) => return Ok(Answer::Replay(first)),
                    // Another write moved the group-buy since the read: read and decide again.
                    Written::Refused(_) => continue,
                }
            }
        }
    }
    Err(ApiError::Dependency(
        "the group-buy kept changing during the extension".into(),
    ))
}

/// The participants of a group-buy, pseudonymous, paginated: JSON, or CSV when `Accept`
/// prefers it, one page per request either way.
pub(super) async fn interests(call: &mut Call<'_>, owner: OwnerTarget) -> Result<Reply, ApiError> {
    let target = owner.target;
    let slug = target.slug()?;
    let list_id = format!("interests:{}:{slug}", target.handle);
    let format = ListFormat::of(call.req.headers());
    let (limit, start) = call.page(&list_id)?;
    let first_page = start.is_none();
    let store = &call.app.store;
    let found = store
        .list_interests(&target.handle, slug, limit, start)
        .await?;
    // An empty first page is either no interest yet or no such group-buy; only then is it
    // worth a read to tell which.
    if first_page && found.items.is_empty() && store.get(&target.handle, slug).await?.is_none() {
        return Err(ApiError::GroupBuyNotFound);
    }
    let reply = match format {
        ListFormat::Json => {
            let items = found.items.iter().map(|i| json!(i)).collect();
            let body = call.page_body(&list_id, items, found.last_key);
            Reply::json(StatusCode::OK, &body)
        }
        ListFormat::Csv => {
            let csv = participants_csv(&found.items)
                .map_err(|e| ApiError::Internal(format!("participants CSV: {e}")))?;
            let reply = Reply::csv(StatusCode::OK, csv);
            match found.last_key {
                // A reference relative to the request's own URL (RFC 8288, 3.2): right
                // whatever prefix (stage, edge) the client reached the API under.
                Some(key) => {
                    let cursor = call.app.cursors.encode(&list_id, key);
                    let link = format!("<?cursor={cursor}&limit={limit}>; rel=\"next\"");
                    reply.header(header::LINK, &link)
                }
                None => reply,
            }
        }
    };
    Ok(reply.header(header::VARY, "Accept").private())
}
