//! One request being served, as the handlers see it: the app's resources, the request, the
//! route's row, the log line's fields, and what the handlers share (the path's target,
//! guarded writes with their riders, pages of lists).

use super::app::App;
use super::spec::RouteSpec;
use crate::auth::Principal;
use crate::deadline::Deadline;
use crate::domain::Audience;
use crate::domain::daily_limit::DailyLimit;
use crate::domain::{Handle, Slug};
use crate::http::ApiError;
use crate::http::cursor::PageRequest;
use crate::http::idempotency::{Keyed, StoredResponse};
use crate::http::{Reply, path_params, query_param};
use crate::store::Key;
use crate::store::{Listing, Refusal, Riders, StoreError};
use crate::telemetry::RequestLog;
use crate::validation::FieldError;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

/// What a request is answered with: the handler's reply or, for a keyed retry, the response
/// the first request recorded. A replay is a result, not an error.
pub enum Answer {
    Reply(Reply),
    Replay(StoredResponse),
}

impl From<Reply> for Answer {
    fn from(reply: Reply) -> Self {
        Self::Reply(reply)
    }
}

/// How a guarded write ended, when it did not fail outright.
pub(crate) enum Written {
    /// The write and its riders committed.
    Done,
    /// The write's own conditions refused it, or another transaction conflicted: the handler
    /// decides again from what the refusal tells.
    Refused(StoreError),
    /// A keyed request met the first request's record: its response is the answer.
    Replayed(StoredResponse),
}

/// One request being served.
pub struct Call<'a> {
    pub app: &'a App,
    pub req: &'a Request,
    /// The route's row in the route table.
    pub spec: &'static RouteSpec,
    pub request_id: &'a str,
    pub log: RequestLog,
    /// Its `Idempotency-Key`, on a POST that sent one.
    pub idempotency: Option<Keyed>,
    /// When the work must be done by (the Lambda deadline less a margin).
    pub deadline: Deadline,
}

/// The group-buy a route addresses: its handle and, on routes below one group-buy, its slug.
pub struct Target {
    pub handle: Handle,
    pub slug: Option<Slug>,
}

impl Target {
    pub fn slug(&self) -> Result<&Slug, ApiError> {
        self.slug.as_ref().ok_or(ApiError::RouteNotFound)
    }
}

/// An owner route's caller and target.
pub struct OwnerTarget {
    pub principal: Principal,
    pub target: Target,
}

fn invalid(name: &str, message: String) -> ApiError {
    ApiError::Validation(vec![FieldError::new(name, message)])
}

impl Call<'_> {
    /// The path's handle and slug, parsed (400 naming the parameter otherwise).
    pub(crate) fn target(&mut self) -> Result<Target, ApiError> {
        let params = path_params(self.req, self.spec.path)?;
        let raw = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
        let handle = Handle::parse(raw("handle")).map_err(|m| invalid("handle", m))?;
        self.log.handle = Some(handle.to_string());
        let slug = match params.contains_key("groupBuySlug") {
            true => {
                let slug =
                    Slug::parse(raw("groupBuySlug")).map_err(|m| invalid("groupBuySlug", m))?;
                self.log.slug = Some(slug.to_string());
                Some(slug)
            }
            false => None,
        };
        Ok(Target { handle, slug })
    }

    /// Runs a write with its riders: the daily `limit` it counts against and, on a keyed
    /// request, the record of `response` (what the request answers if the write succeeds).
    /// The daily limit's refusal is 429 and a failing DynamoDB an error; a refusal by the
    /// write's own conditions, or the first request's record, is for the handler to read.
    pub(crate) async fn guarded_write<Fut>(
        &mut self,
        limit: Option<DailyLimit>,
        response: Option<&Response<Body>>,
        write: impl FnOnce(Riders) -> Fut,
    ) -> Result<Written, ApiError>
    where
        Fut: Future<Output = Result<(), StoreError>>,
    {
        let now = chrono::Utc::now().timestamp();
        let idempotency = match (&self.idempotency, response) {
            (Some(keyed), Some(response)) => keyed
                .record_key()
                .map(|key| (key.to_owned(), keyed.record(response, now))),
            _ => None,
        };
        let riders = Riders { limit, idempotency };
        match write(riders.clone()).await {
            Ok(()) => {
                if let (Some(keyed), Some(_)) = (&mut self.idempotency, &riders.idempotency) {
                    keyed.recorded = true;
                }
                Ok(Written::Done)
            }
            Err(StoreError::ConditionFailed(checks)) => match riders.refusal(&checks)? {
                Some(Refusal::Replay(stored)) => Ok(Written::Replayed(stored)),
                Some(Refusal::Limit) => match riders.limit {
                    Some(limit) => Err(ApiError::DailyWriteLimit(limit)),
                    None => Err(ApiError::Internal("a limit refusal without a limit".into())),
                },
                None => Ok(Written::Refused(StoreError::ConditionFailed(checks))),
            },
            Err(StoreError::TransactionConflict) => {
                Ok(Written::Refused(StoreError::TransactionConflict))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// A query parameter parsed into its domain type; 400 naming the parameter otherwise.
    pub(crate) fn query<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ApiError> {
        query_param(self.req, name)
            .map(|raw| parse(&raw))
            .transpose()
            .map_err(|message| invalid(name, message))
    }

    /// A handle's group-buys from `listing`, one page, in `audience`'s view.
    pub(crate) async fn group_buy_page(
        &self,
        handle: &Handle,
        listing: Listing,
        list_id: &str,
        audience: Audience,
    ) -> Result<Value, ApiError> {
        let (limit, start) = self.page(list_id)?;
        let found = self.app.store.list(handle, listing, limit, start).await?;
        let items = found.items.iter().map(|gb| gb.view(audience)).collect();
        self.page_body(list_id, items, found.last_key)
    }

    /// `?limit=` and the key `?cursor=` resumes from, for the list named `list_id`.
    pub(crate) fn page(&self, list_id: &str) -> Result<(i32, Option<Key>), ApiError> {
        let page = PageRequest::of(self.req)?;
        let start = page
            .cursor
            .map(|cursor| self.app.cursors.decode(list_id, &cursor))
            .transpose()?;
        Ok((page.limit, start))
    }

    /// A list body: `{"items": [...], "nextCursor": ... or null}`.
    pub(crate) fn page_body(
        &self,
        list_id: &str,
        items: Vec<Value>,
        last: Option<Key>,
    ) -> Result<Value, ApiError> {
        let next = last
            .map(|key| self.app.cursors.encode(list_id, key))
            .transpose()?;
        Ok(json!({"items": items, "nextCursor": next}))
    }
}
