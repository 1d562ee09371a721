//! The platform admins' rollup: `GET /v2/platform-admin/group-buys`.

use crate::api::call::Call;
use crate::domain::rollup::{Flag, flags};
use crate::domain::{GroupBuy, Handle, Status, Timestamp};
use crate::http::ApiError;
use crate::http::Reply;
use crate::store::Listing;
use crate::store::{Key, Page};
use lambda_http::http::StatusCode;
use serde_json::{Value, json};

/// Where an all-status listing is in its walk over the statuses, kept inside the cursor.
const STATUS_IN_CURSOR: &str = "_status";

fn item(gb: &GroupBuy, flags: &[Flag]) -> Value {
    json!({
        "handle": gb.handle,
        "slug": gb.slug,
        "status": gb.status,
        "participantCount": gb.participant_count,
        "minParticipants": gb.min_participants,
        "closesAt": gb.closes_at,
        "updatedAt": gb.updated_at,
        "flags": flags.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
    })
}

/// One page of every handle's group-buys: one status when asked for, otherwise the statuses
/// in lifecycle order, filling the page from the next status when one runs out; the cursor
/// remembers the status it stopped in.
async fn all_handles(
    call: &Call<'_>,
    status: Option<Status>,
    limit: i32,
    start: Option<Key>,
) -> Result<Page<GroupBuy>, ApiError> {
    if let Some(status) = status {
        return Ok(call.app.store.list_by_status(status, limit, start).await?);
    }
    let mut start = start.unwrap_or_default();
    let mut current = match start.remove(STATUS_IN_CURSOR) {
        Some(raw) => Status::parse(&raw)
            .map_err(|_| ApiError::InvalidCursor("names no status of this list"))?,
        None => Status::Draft,
    };
    let mut resume = (!start.is_empty()).then_some(start);
    let mut items = Vec::new();
    loop {
        let room = limit - items.len() as i32;
        let page = call.app.store.list_by_status(current, room, resume).await?;
        items.extend(page.items);
        let next_status = Status::ALL.iter().skip_while(|s| **s != current).nth(1);
        match (page.last_key, next_status) {
            (Some(mut key), _) => {
                key.insert(STATUS_IN_CURSOR.into(), current.as_str().into());
                return Ok(Page {
                    items,
                    last_key: Some(key),
                });
            }
            (None, Some(next)) if items.len() as i32 >= limit => {
                let key = Key::from([(STATUS_IN_CURSOR.to_owned(), next.as_str().to_owned())]);
                return Ok(Page {
                    items,
                    last_key: Some(key),
                });
            }
            (None, Some(next)) => {
                current = *next;
                resume = None;
            }
            (None, None) => {
                return Ok(Page {
                    items,
                    last_key: None,
                });
            }
        }
    }
}

/// The caller is a platform admin (checked by `dispatch`).
pub(crate) async fn group_buys(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let status = call.query("status", Status::parse)?;
    let handle = call.query("handle", Handle::parse)?;
    let flag = call.query("flag", Flag::parse)?;
    let list_id = format!(
        "admin:{}:{}:{}",
        status.map_or("*", Status::as_str),
        handle.as_ref().map_or("*", Handle::as_str),
        flag.map_or("*", Flag::as_str)
    );
    let (limit, start) = call.page(&list_id)?;
    let now = Timestamp::now();
    let stuck_after = call.app.settings.stuck_draft_after;
    let stuck_before = now.plus_millis(-(stuck_after.as_millis() as i64));
    let summary = call.app.store.rollup_summary(stuck_before).await?;
    let page = match &handle {
        Some(handle) => {
            call.app
                .store
                .list(handle, Listing::Owner(status), limit, start)
                .await?
        }
        None => all_handles(call, status, limit, start).await?,
    };
    // A flag filter can leave a page short, even empty; `nextCursor` still leads on.
    let items = page
        .items
        .iter()
        .filter_map(|gb| {
            let flags = flags(gb, now, stuck_after);
            let wanted = flag.is_none_or(|f| flags.contains(&f));
            wanted.then(|| item(gb, &flags))
        })
        .collect();
    let mut body = call.page_body(&list_id, items, page.last_key)?;
    if let Value::Object(fields) = &mut body {
        fields.insert("summary".into(), json!(summary));
    }
    Ok(Reply::json(StatusCode::OK, &body).private())
}
