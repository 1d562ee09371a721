//! The owner side of the lifecycle: create, list, read, publish, pause, close, extend.

use crate::api::call::{Answer, Call, OwnerTarget, Target, Written};
use crate::domain::daily_limit::{DailyLimit, OWNER_WRITES};
use crate::domain::stats::campaign_stats;
use crate::domain::{
    Action, Audience, CloseOutcome, Decision, ExtensionDecision, GroupBuy, HistoryEntry,
    NewGroupBuy, Rejection, Status, Timestamp, Transition,
};
use crate::domain::{Handle, Slug};
use crate::http::ApiError;
use crate::http::participants_csv::participants_csv;
use crate::http::{IfMatch, ListFormat, Reply, json_object, query_param};
use crate::store::decide_and_write::{
    DecideAndWrite, Decided, Ended, WriteOutcome, decide_and_write,
};
use crate::store::{DrawOpening, Listing, Store, StoreError};
use crate::telemetry::BusinessMetric;
use crate::validation::{FieldError, Fields, string};
use lambda_http::http::{StatusCode, header};
use serde_json::{Map, Value, json};

/// How often a transition or an extension reads and decides again after losing a race.
const ATTEMPTS: usize = 5;

/// One group-buy as its owner sees it, with its `ETag`.
pub(super) fn one(gb: &GroupBuy, status: StatusCode) -> Reply {
    Reply::json(status, &gb.view(Audience::Owner))
        .private()
        .header(header::ETAG, &gb.etag())
}

pub(crate) async fn create(call: &mut Call<'_>, owner: OwnerTarget) -> Result<Answer, ApiError> {
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
        OWNER_WRITES,
        handle.to_string(),
        call.app.settings.limits.daily_writes_per_handle,
        now,
    )
}

pub(crate) async fn list(call: &mut Call<'_>, owner: OwnerTarget) -> Result<Reply, ApiError> {
    let handle = owner.target.handle;
    let status = call.query("status", Status::parse)?;
    let list_id = format!("owner:{handle}:{}", status.map_or("*", Status::as_str));
    let body = call
        .group_buy_page(&handle, Listing::Owner(status), &list_id, Audience::Owner)
        .await?;
    Ok(Reply::json(StatusCode::OK, &body).private())
}

pub(crate) async fn get(call: &mut Call<'_>, owner: OwnerTarget) -> Result<Reply, ApiError> {
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
                .map(|key| call.app.cursors.encode(&list_id, key))
                .transpose()?;
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

/// The action `POST …/publish` asks for: it takes no body, but an empty object is fine.
pub(crate) fn publish(body: Map<String, Value>) -> Result<Action, ApiError> {
    Fields::new(body, &[]).finish()?;
    Ok(Action::Publish)
}

/// The action `POST …/pause` asks for: it takes no body, but an empty object is fine.
pub(crate) fn pause(body: Map<String, Value>) -> Result<Action, ApiError> {
    Fields::new(body, &[]).finish()?;
    Ok(Action::Pause)
}

/// The action `POST …/close` asks for: `{"outcome": "fulfilled" | "cancelled"}`, fulfilled
/// when absent.
pub(crate) fn close_outcome(body: Map<String, Value>) -> Result<Action, ApiError> {
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

/// What an owner asks to change: a transition (publish, pause, close) or a later deadline.
#[derive(Clone, Copy)]
enum Requested {
    Transition(Action),
    Extension(Timestamp),
}

/// What a change settles on without a write that can lose a race.
enum Settled {
    /// Already in the requested state: the group-buy as it is.
    AlreadyThere(Box<GroupBuy>),
    /// Refused by the rules: recorded in the history, then answered.
    Refused(HistoryEntry, Rejection),
}

/// A change decided on: the group-buy read, the one to write, and the history entry.
struct Change {
    current: GroupBuy,
    next: GroupBuy,
    /// `None` for an extension.
    transition: Option<Transition>,
    entry: HistoryEntry,
    /// The seed and shards of a draw campaign's first publish.
    opening: Option<DrawOpening>,
}

/// An owner's change to one group-buy, as the decide-and-write loop runs it: read checked
/// against `If-Match`, decided by the lifecycle or extension rules, written with the owner's
/// riders on condition of the version read.
struct OwnerChange<'c, 'a> {
    call: &'c mut Call<'a>,
    handle: &'c Handle,
    slug: &'c Slug,
    if_match: IfMatch,
    actor: String,
    requested: Requested,
}

impl DecideAndWrite for OwnerChange<'_, '_> {
    type State = GroupBuy;
    type Plan = Change;
    type Done = Answer;
    type Settled = Settled;
    type Error = ApiError;

    async fn read(&mut self) -> Result<GroupBuy, ApiError> {
        read_matching(&self.call.app.store, self.handle, self.slug, &self.if_match).await
    }

    fn decide(&mut self, current: GroupBuy) -> Result<Decided<Change, Settled>, ApiError> {
        let (actor, request_id, now) = (&self.actor, self.call.request_id, Timestamp::now());
        Ok(match self.requested {
            Requested::Transition(action) => match current.lifecycle().decide(action, now) {
                Decision::AlreadyThere => {
                    Decided::Settled(Settled::AlreadyThere(Box::new(current)))
                }
                Decision::Reject(rejection) => {
                    let entry = HistoryEntry::rejected(
                        action,
                        current.status,
                        current.version,
                        &rejection,
                        actor,
                        request_id,
                        now,
                    );
                    Decided::Settled(Settled::Refused(entry, rejection))
                }
                Decision::Apply(transition) => {
                    let mut next = current.after(&transition, now);
                    // A draw campaign commits to its seed when it is first published.
                    let opening = match &mut next.draw {
                        Some(draw)
                            if transition.to == Status::Published && draw.commitment.is_none() =>
                        {
                            let limit = self.call.app.settings.limits.draw_max_entries;
                            let opening = DrawOpening::new(limit)?;
                            draw.commitment = Some(opening.commitment.clone());
                            draw.entry_count = Some(0);
                            Some(opening)
                        }
                        _ => None,
                    };
                    let entry = HistoryEntry::applied(
                        action,
                        &transition,
                        next.version,
                        actor,
                        request_id,
                        now,
                    );
                    Decided::Write(Change {
                        current,
                        next,
                        transition: Some(transition),
                        entry,
                        opening,
                    })
                }
            },
            Requested::Extension(requested) => {
                match current.deadline_state().decide_extension(requested, now) {
                    ExtensionDecision::Reject(rejection) => {
                        let entry = HistoryEntry::extension_refused(
                            &current, requested, &rejection, actor, request_id, now,
                        );
                        Decided::Settled(Settled::Refused(entry, rejection))
                    }
                    ExtensionDecision::Apply(extension) => {
                        let next = current.extended(&extension, now);
                        let entry =
                            HistoryEntry::extended(&next, &extension, actor, request_id, now);
                        Decided::Write(Change {
                            current,
                            next,
                            transition: None,
                            entry,
                            opening: None,
                        })
                    }
                }
            }
        })
    }

    async fn write(&mut self, change: Change) -> Result<WriteOutcome<Answer>, ApiError> {
        let store = &self.call.app.store;
        let reply = one(&change.next, StatusCode::OK);
        let limit = owner_write_limit(self.call, self.handle, change.entry.at);
        let change = &change;
        let written = self
            .call
            .guarded_write(Some(limit), Some(reply.response()), |riders| async move {
                let Change {
                    current,
                    next,
                    transition,
                    entry,
                    opening,
                } = change;
                match transition {
                    Some(transition) => {
                        store
                            .apply(current, next, transition, entry, opening.as_ref(), &riders)
                            .await
                    }
                    None => store.extend(current, next, entry, &riders).await,
                }
            })
            .await?;
        Ok(match written {
            Written::Done => {
                let metric = match change.transition {
                    Some(_) => BusinessMetric::Transitions,
                    None => BusinessMetric::DeadlineExtensions,
                };
                self.call.log.metrics.push((metric, 1));
                WriteOutcome::Done(reply.into())
            }
            Written::Replayed(first) => WriteOutcome::Done(Answer::Replay(first)),
            Written::Refused(_) => WriteOutcome::LostRace,
        })
    }
}

/// Runs an owner's change through the decide-and-write loop and answers it: the group-buy
/// written, the one already in the requested state, or the refusal (recorded first).
async fn change(
    call: &mut Call<'_>,
    owner: OwnerTarget,
    requested: Requested,
) -> Result<Answer, ApiError> {
    let (target, actor) = (owner.target, owner.principal.actor());
    let slug = target.slug()?;
    let if_match = IfMatch::of(call.req.headers());
    let mut change = OwnerChange {
        call,
        handle: &target.handle,
        slug,
        if_match,
        actor,
        requested,
    };
    match decide_and_write(ATTEMPTS, &mut change).await? {
        Ended::Written(answer) => Ok(answer),
        Ended::Settled(Settled::AlreadyThere(gb)) => Ok(one(&gb, StatusCode::OK).into()),
        Ended::Settled(Settled::Refused(entry, rejection)) => {
            let close_refused = matches!(requested, Requested::Transition(Action::Close(_)));
            refuse(call, &target, entry, close_refused, rejection).await
        }
    }
}

/// publish, pause and close (`requested` reads which from the body).
pub(crate) async fn transition(
    call: &mut Call<'_>,
    owner: OwnerTarget,
    requested: fn(Map<String, Value>) -> Result<Action, ApiError>,
) -> Result<Answer, ApiError> {
    let action = requested(json_object(call.req)?.unwrap_or_default())?;
    change(call, owner, Requested::Transition(action)).await
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

/// POST …/extend: a later deadline, decided and written as a transition is.
pub(crate) async fn extend(call: &mut Call<'_>, owner: OwnerTarget) -> Result<Answer, ApiError> {
    let requested = requested_deadline(call)?;
    change(call, owner, Requested::Extension(requested)).await
}

/// The participants of a group-buy, pseudonymous, paginated: JSON, or CSV when `Accept`
/// prefers it, one page per request either way.
pub(crate) async fn interests(call: &mut Call<'_>, owner: OwnerTarget) -> Result<Reply, ApiError> {
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
            let body = call.page_body(&list_id, items, found.last_key)?;
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
                    let cursor = call.app.cursors.encode(&list_id, key)?;
                    let link = format!("<?cursor={cursor}&limit={limit}>; rel=\"next\"");
                    reply.header(header::LINK, &link)
                }
                None => reply,
            }
        }
    };
    Ok(reply.header(header::VARY, "Accept").private())
}

/// The group-buy's interest over time (API.md "Campaign statistics"): its hours as the stream
/// consumer recorded them, read beside the group-buy (two queries, no scan).
pub(crate) async fn stats(call: &mut Call<'_>, owner: OwnerTarget) -> Result<Reply, ApiError> {
    let target = owner.target;
    let slug = target.slug()?;
    let store = &call.app.store;
    let (gb, recorded) = tokio::try_join!(
        store.get(&target.handle, slug),
        store.recorded_hours(target.handle.as_str(), slug.as_str()),
    )?;
    let gb = gb.ok_or(ApiError::GroupBuyNotFound)?;
    let stats = campaign_stats(&gb, &recorded, Timestamp::now());
    Ok(Reply::json(StatusCode::OK, &json!(stats)).private())
}
