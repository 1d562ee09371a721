//! The draw's routes (API.md, "Fair drops"): the owner's `POST …/draw`, which runs a due
//! draw now, and the public `GET …/draw`, the ranked list anyone can check.

use super::owner;
use crate::api::call::{Answer, Call, OwnerTarget};
use crate::domain::draw::result_of_rank;
use crate::domain::interest::public;
use crate::domain::{GroupBuy, InterestRejection, Rejection, Status, Timestamp};
use crate::http::{ApiError, IfMatch, Reply};
use crate::store::{DrawRun, Key};
use crate::telemetry::BusinessMetric;
use lambda_http::http::StatusCode;
use serde_json::{Value, json};

/// Where a page of the ranked list starts, inside its cursor.
const RANK_IN_CURSOR: &str = "rank";

/// `POST …/draw`: runs the draw once `drawAt` has passed (before: 409 `DRAW_NOT_DUE`);
/// drawn already, 200 with no change. A draw larger than one request's time is resumed by
/// the next request or the schedule: 503 with `Retry-After` meanwhile.
pub(crate) async fn run(call: &mut Call<'_>, owner: OwnerTarget) -> Result<Answer, ApiError> {
    let (target, actor) = (owner.target, owner.principal.actor());
    let slug = target.slug()?;
    let store = &call.app.store;
    let gb = store
        .get(&target.handle, slug)
        .await?
        .ok_or(ApiError::GroupBuyNotFound)?;
    IfMatch::of(call.req.headers()).check(gb.version)?;
    let now = Timestamp::now();
    let Some(draw_at) = gb.draw_at else {
        return Err(ApiError::NoDraw);
    };
    if !gb.draw_pending() {
        return Ok(owner_view(&gb));
    }
    match gb.status {
        Status::Draft | Status::Closed => {
            return Err(ApiError::Lifecycle(Rejection::InvalidTransition {
                current: gb.status,
            }));
        }
        Status::Published | Status::Paused => {}
    }
    if now < draw_at {
        return Err(ApiError::DrawNotDue { draw_at });
    }
    match store
        .run_draw(&gb, now, call.deadline, &actor, call.request_id)
        .await?
    {
        DrawRun::Drawn(drawn) => {
            call.log.metrics.push((BusinessMetric::Draws, 1));
            Ok(owner_view(&drawn))
        }
        DrawRun::AlreadyDrawn(drawn) => Ok(owner_view(&drawn)),
        DrawRun::Cancelled => Err(ApiError::Lifecycle(Rejection::InvalidTransition {
            current: Status::Closed,
        })),
        DrawRun::Unfinished => Err(ApiError::Dependency(
            "the draw did not finish in this request's time; it resumes on retry".into(),
        )),
    }
}

fn owner_view(gb: &GroupBuy) -> Answer {
    owner::one(gb, StatusCode::OK).into()
}

/// `GET …/draw`: the tickets in rank order with their results; the first page carries the
/// commitment and the seed. 409 `DRAW_PENDING` before the draw.
pub(crate) async fn list(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let target = call.target()?;
    let slug = target.slug()?;
    let found = call.app.store.get(&target.handle, slug).await?;
    let gb = public(found.as_ref()).ok_or(ApiError::GroupBuyNotFound)?;
    let draw = gb.draw.as_ref().ok_or(ApiError::NoDraw)?;
    match (draw.is_drawn(), gb.status) {
        (true, _) => {}
        // Cancelled before its draw: there never will be one.
        (false, Status::Closed) => return Err(InterestRejection::Closed.into()),
        (false, _) => return Err(InterestRejection::DrawPending.into()),
    }
    let list_id = format!("draw:{}/{}", gb.handle, gb.slug);
    let (limit, start) = call.page(&list_id)?;
    let offset = match start {
        Some(key) => key
            .get(RANK_IN_CURSOR)
            .and_then(|rank| rank.parse::<u64>().ok())
            .ok_or(ApiError::InvalidCursor("does not name a rank"))?,
        None => 0,
    };
    let entries = u64::from(draw.entry_count.unwrap_or(0));
    let limit = u64::try_from(limit).unwrap_or(1);
    let tickets = match offset < entries {
        true => {
            call.app
                .store
                .ranked_tickets(&gb.handle, &gb.slug, offset, limit.min(entries - offset))
                .await?
        }
        false => Vec::new(),
    };
    let (winners, waitlisted) = (
        draw.winner_count.unwrap_or(0),
        draw.waitlisted_count.unwrap_or(0),
    );
    let items: Vec<Value> = tickets
        .into_iter()
        .zip(offset + 1..)
        .map(|(ticket, rank)| {
            json!({
                "ticket": ticket,
                "rank": rank,
                "result": result_of_rank(rank, winners, waitlisted),
            })
        })
        .collect();
    let next = offset + items.len() as u64;
    let last: Option<Key> = (next < entries && !items.is_empty())
        .then(|| Key::from([(RANK_IN_CURSOR.to_owned(), next.to_string())]));
    let mut body = call.page_body(&list_id, items, last)?;
    if offset == 0
        && let Some(fields) = body.as_object_mut()
    {
        fields.insert("commitment".into(), json!(draw.commitment));
        fields.insert("seed".into(), json!(draw.seed));
    }
    Ok(Reply::json(StatusCode::OK, &body).public_cache())
}
