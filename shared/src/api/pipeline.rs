//! The request pipeline every route goes through, in one place: the request's ids and
//! deadline, the caller resolved once (by the route's `Caller` type, before any handler runs),
//! `Idempotency-Key` (read, recorded and replayed by the route's `Keying`), dispatch to the
//! handler, the response (every error, and even a panic, as problem+json with the request id)
//! and the request's log line. The route table (`routes`) gives each route its types.

use super::app::App;
use super::call::{Answer, Call, OwnerTarget};
use super::spec::{Access, DEFAULT_ROUTE, PLATFORM_ADMIN, RouteSpec};
use crate::auth::{AuthError, Principal, Scope};
use crate::call_log::as_function;
use crate::deadline::Deadline;
use crate::domain::{Handle, Slug};
use crate::http::idempotency::{IdempotencyKey, Keyed, StoredResponse, keeps};
use crate::http::visitor::Visitor;
use crate::http::{ApiError, RequestIds, cors};
use crate::store::{Listing, StoreError};
use crate::telemetry::{self, RequestLog};
use futures_util::FutureExt;
use lambda_http::{Body, IntoResponse, Request, RequestExt, Response, service_fn};
use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// The caller a route's handler receives, already authenticated and authorized.
pub trait Caller: Sized + Send {
    /// The access this type enforces; it must be the route's `Route::access()`.
    const ACCESS: Access;

    /// Resolves the caller of the request: 401 or 403 when there is none that may call.
    fn resolve(call: &mut Call<'_>) -> impl Future<Output = Result<Self, ApiError>> + Send;
}

/// A route's handler, with the caller type it takes.
pub trait Endpoint: Send + Sync + 'static {
    /// The route's row in the route table.
    const SPEC: &'static RouteSpec;
    type Caller: Caller;
    /// `WithKey` for the routes that read `Idempotency-Key`, `WithoutKey` for the others.
    type Keying: Keying;

    fn handle(
        call: &mut Call<'_>,
        caller: Self::Caller,
    ) -> impl Future<Output = Result<Answer, ApiError>> + Send;

    /// A read the function's IAM policy allows, made once during init so that the first
    /// request finds credentials, the endpoint, the TLS configuration and a connection to
    /// DynamoDB ready. It reads a key that holds nothing; its outcome does not matter.
    fn warm_up(app: &App) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Answers a request of `E`: the caller first, as the route's access says, then the handler
/// (unless the request is the retry of one made before a rotation of the idempotency key).
pub(super) async fn answer<E: Endpoint>(call: &mut Call<'_>) -> Result<Answer, ApiError> {
    let caller = E::Caller::resolve(call).await?;
    if let Some(stored) = call.kept_before_rotation().await? {
        return Ok(Answer::Replay(stored));
    }
    E::handle(call, caller).await
}

/// How a request finds its handler: at compile time (`Static`, the Lambda binaries) or from
/// the route it carries (`ByRoute`, the in-process tests).
pub trait Dispatch {
    /// How the requests treat `Idempotency-Key`.
    type Keying: Keying;

    fn answer(call: &mut Call<'_>) -> impl Future<Output = Result<Answer, ApiError>> + Send;
}

/// The route `E`, known at compile time.
pub struct Static<E>(std::marker::PhantomData<E>);

impl<E: Endpoint> Dispatch for Static<E> {
    type Keying = E::Keying;

    fn answer(call: &mut Call<'_>) -> impl Future<Output = Result<Answer, ApiError>> + Send {
        answer::<E>(call)
    }
}

/// Anyone: the public reads ask for no credentials.
pub struct Anyone;

impl Caller for Anyone {
    const ACCESS: Access = Access::Public;

    async fn resolve(_: &mut Call<'_>) -> Result<Self, ApiError> {
        Ok(Self)
    }
}

/// A handle owner allowed to read the path's handle (`group-buys:read`).
pub struct OwnerReading(pub OwnerTarget);

impl Caller for OwnerReading {
    const ACCESS: Access = Access::Owner(Scope::GroupBuysRead);

    async fn resolve(call: &mut Call<'_>) -> Result<Self, ApiError> {
        call.owner(Scope::GroupBuysRead).await.map(Self)
    }
}

/// A handle owner allowed to change the path's handle (`group-buys:write`).
pub struct OwnerWriting(pub OwnerTarget);

impl Caller for OwnerWriting {
    const ACCESS: Access = Access::Owner(Scope::GroupBuysWrite);

    async fn resolve(call: &mut Call<'_>) -> Result<Self, ApiError> {
        call.owner(Scope::GroupBuysWrite).await.map(Self)
    }
}

/// A public visitor: a signed-in user or a visitor pass (`X-Visitor-Pass`).
impl Caller for Visitor {
    const ACCESS: Access = Access::Visitor;

    async fn resolve(call: &mut Call<'_>) -> Result<Self, ApiError> {
        call.visitor().await
    }
}

/// Any identified caller (a support report): identified as a visitor is.
pub struct AnyCaller(pub Visitor);

impl Caller for AnyCaller {
    const ACCESS: Access = Access::Caller;

    async fn resolve(call: &mut Call<'_>) -> Result<Self, ApiError> {
        call.visitor().await.map(Self)
    }
}

/// A platform admin.
pub struct PlatformAdmin(pub Principal);

impl Caller for PlatformAdmin {
    const ACCESS: Access = Access::PlatformAdmin;

    async fn resolve(call: &mut Call<'_>) -> Result<Self, ApiError> {
        call.platform_admin().await.map(Self)
    }
}

/// How a request's caller is resolved: once, by the route's `Caller` type.
impl Call<'_> {
    /// An owner route's caller: authenticated (401), then the path read (400), then
    /// authorized for the handle with the route's `scope` (403).
    pub(super) async fn owner(&mut self, scope: Scope) -> Result<OwnerTarget, ApiError> {
        let principal = self.app.auth.authenticate(self.req.headers()).await?;
        self.log.caller = Some(principal.kind.as_str());
        self.scope_idempotency(&format!(
            "{}:{}",
            principal.kind.as_str(),
            principal.subject
        ));
        let target = self.target()?;
        principal.authorize(&target.handle, scope)?;
        Ok(OwnerTarget { principal, target })
    }

    /// A platform admin: authenticated (401), then holding the role (403
    /// `HANDLE_FORBIDDEN`, as for an owner credential on another's handle).
    pub(super) async fn platform_admin(&mut self) -> Result<Principal, ApiError> {
        let principal = self.app.auth.authenticate(self.req.headers()).await?;
        self.log.caller = Some(principal.kind.as_str());
        if !principal.roles.iter().any(|r| r == PLATFORM_ADMIN) {
            return Err(AuthError::HandleForbidden.into());
        }
        Ok(principal)
    }

    /// The public visitor (or, for a support report, any identified caller) behind a
    /// request: 401 when unidentified.
    pub(super) async fn visitor(&mut self) -> Result<Visitor, ApiError> {
        let visitor = Visitor::identify(
            self.req.headers(),
            &self.app.auth,
            &self.app.server_key,
            &self.app.passes,
        )
        .await?;
        self.log.caller = Some(visitor.kind.as_str());
        self.scope_idempotency(&visitor.key);
        Ok(visitor)
    }

    /// The response kept for this request's key under a rotating key before the current one:
    /// only while a rotation is under way (`ROTATING_KEYS` lists more than one key) does a
    /// keyed request pay this read, one per earlier key.
    async fn kept_before_rotation(&self) -> Result<Option<StoredResponse>, ApiError> {
        let Some(keyed) = &self.idempotency else {
            return Ok(None);
        };
        let now = chrono::Utc::now().timestamp();
        for record_key in &keyed.earlier_record_keys {
            if let Some(stored) = self.app.store.kept_response(record_key, now).await? {
                return Ok(Some(stored));
            }
        }
        Ok(None)
    }

    /// Scopes the request's idempotency key to its caller (once the caller is known).
    fn scope_idempotency(&mut self, caller: &str) {
        if let Some(keyed) = &mut self.idempotency {
            keyed.bind(&self.app.server_key, caller);
        }
    }
}

/// The id of no personal access token (ids are random and of another form).
const WARM_UP_PAT_ID: &str = "warm-up";
/// The group-buy key the public routes warm up with: a read of whatever is there, if anything.
const WARM_UP_HANDLE: &str = "lambda-warm-up";

/// The warm-up of a route that reads credentials: the lookup a personal access token costs.
pub(super) async fn warm_up_credentials(app: &App) -> Result<(), StoreError> {
    app.store.get_pat(WARM_UP_PAT_ID).await.map(drop)
}

fn warm_up_target() -> Result<(Handle, Slug), StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(format!("warm-up key: {e}"));
    Ok((
        Handle::parse(WARM_UP_HANDLE).map_err(corrupt)?,
        Slug::parse(WARM_UP_HANDLE).map_err(corrupt)?,
    ))
}

/// The warm-up of a route that reads nothing: the visitor challenges and passes, whose
/// policies allow no read (a pass's one write is its redemption's conditional put).
pub(super) async fn warm_up_nothing(_: &App) -> Result<(), StoreError> {
    Ok(())
}

/// The warm-up of the public group-buy: the read its handler makes.
pub(super) async fn warm_up_group_buy(app: &App) -> Result<(), StoreError> {
    let (handle, slug) = warm_up_target()?;
    app.store.get(&handle, &slug).await.map(drop)
}

/// The warm-up of the public list: the query its handler makes.
pub(super) async fn warm_up_public_list(app: &App) -> Result<(), StoreError> {
    let (handle, _) = warm_up_target()?;
    app.store
        .list(&handle, Listing::Public, 1, None)
        .await
        .map(drop)
}

impl App {
    /// Serves one request of the endpoint `E`, known at compile time (the Lambda binaries:
    /// only `E`'s handler is linked). Never fails: every error, and even a panic, becomes a
    /// problem+json response carrying the request id.
    pub async fn serve<E: Endpoint>(&self, req: Request) -> Response<Body> {
        self.respond::<Static<E>>(E::SPEC, req).await
    }

    /// Serves one request of the route `spec` describes, its handler found by `D`.
    pub(super) async fn respond<D: Dispatch>(
        &self,
        spec: &'static RouteSpec,
        req: Request,
    ) -> Response<Body> {
        let started = Instant::now();
        let ids = RequestIds::of(&req);
        let deadline = Deadline::from_lambda(req.lambda_context_ref().map_or(0, |c| c.deadline));
        let mut call = Call {
            app: self,
            req: &req,
            spec,
            request_id: &ids.request_id,
            log: RequestLog::default(),
            idempotency: None,
            deadline,
        };
        let work = async {
            self.came_through_the_edge(&req)?;
            D::Keying::work::<D>(self, &mut call).await
        };
        // Boxed: the work holds AWS SDK futures, which are large; on the heap they cannot
        // overflow the stack of whatever polls this one.
        let work = AssertUnwindSafe(Box::pin(work)).catch_unwind();
        // Out of time, the work is dropped wherever it is (a write may still commit, as with
        // any lost answer; a retry with the same Idempotency-Key is safe) and a 503 is sent
        // before Lambda's own timeout could turn into API Gateway's bare error page.
        let work = async {
            tokio::time::timeout_at(deadline.instant(), work)
                .await
                .unwrap_or_else(|_| {
                    Ok(Err(ApiError::Dependency(
                        "the request ran out of time before its dependencies answered".into(),
                    )))
                })
        };
        let (outcome, usage) = telemetry::measure(as_function(spec.function, work)).await;
        let outcome =
            outcome.unwrap_or_else(|_| Err(ApiError::Internal("the handler panicked".into())));
        let error_code = outcome
            .as_ref()
            .err()
            .map(ApiError::code)
            .or(call.log.error_code);
        if let Err(e) = &outcome {
            log_failure(&ids.request_id, e);
        }
        let mut response = match outcome {
            Ok(response) => response,
            Err(e) => e.into_response(&ids.request_id),
        };
        ids.stamp(&mut response);
        // The public routes answer CORS for the stage's storefronts; the owner, admin and
        // support routes never do, nor what no route takes (bar the preflights of the public
        // routes, which `Unmatched` answers with their own headers).
        if matches!(spec.access, Access::Public | Access::Visitor)
            && spec.path != DEFAULT_ROUTE
            && let Some(origin) = cors::allowed_origin(&req, &self.settings.storefront_origins)
        {
            cors::allow(&mut response, origin);
        }
        let log = call.log;
        telemetry::emit_metrics(spec.function, &log.metrics);
        tracing::info!(
            requestId = %ids.request_id,
            correlationId = ids.correlation_id.as_deref(),
            route = spec.function,
            method = spec.method,
            status = response.status().as_u16(),
            latencyMs = started.elapsed().as_secs_f64() * 1000.0,
            handle = log.handle.as_deref(),
            slug = log.slug.as_deref(),
            caller = log.caller,
            errorCode = error_code,
            dynamodbCalls = usage.calls,
            dynamodbCapacityUnits = usage.capacity_units,
            "request"
        );
        response
    }
}

/// The header a stage's CloudFront distribution adds to every request it forwards.
const ORIGIN_VERIFY: &str = "x-origin-verify";

impl App {
    /// Whether `req` came through the stage's CloudFront distribution (and so its WAF): it
    /// carries one of `ORIGIN_SECRETS`, compared in constant time. Always, where none is
    /// configured (local runs and tests).
    fn came_through_the_edge(&self, req: &Request) -> Result<(), ApiError> {
        let accepted = &self.settings.origin_secrets;
        if accepted.is_empty() {
            return Ok(());
        }
        let shown = req
            .headers()
            .get(ORIGIN_VERIFY)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        let known = accepted
            .iter()
            .fold(subtle::Choice::from(0), |found, secret| {
                found | secret.expose().as_bytes().ct_eq(shown)
            });
        match bool::from(known) {
            true => Ok(()),
            false => Err(ApiError::EdgeRequired),
        }
    }

    /// Turns a handler's outcome into the response, honouring `Idempotency-Key`: a replay
    /// found by the handler's write is answered (or refused with 422 for another body); a
    /// keepable response that no write of the handler recorded is recorded now, unless a
    /// record won the race, whose response is then answered instead.
    async fn settle_idempotency(
        &self,
        call: &mut Call<'_>,
        outcome: Result<Answer, ApiError>,
    ) -> Result<Response<Body>, ApiError> {
        let response = match (outcome, &call.idempotency) {
            (Ok(Answer::Replay(stored)), Some(keyed)) => return keyed.replay(stored),
            (Ok(Answer::Replay(_)), None) => {
                return Err(ApiError::Internal("a replay without a key".into()));
            }
            (Ok(Answer::Reply(reply)), _) => reply.into_response(),
            (Err(e), None) => return Err(e),
            (Err(e), Some(_)) => {
                // Answered as a response (so that it can be kept), but logged like any error.
                log_failure(call.request_id, &e);
                call.log.error_code = Some(e.code());
                e.into_response(call.request_id)
            }
        };
        let keyed = call.idempotency.as_ref();
        let Some((keyed, record_key)) = keyed.and_then(|k| Some((k, k.record_key()?))) else {
            return Ok(response);
        };
        if keyed.recorded || !keeps(response.status()) {
            return Ok(response);
        }
        let record = keyed.record(&response, chrono::Utc::now().timestamp());
        match self.store.keep_response(record_key, &record).await {
            Ok(None) => Ok(response),
            Ok(Some(first)) => keyed.replay(first),
            Err(e) => {
                // The answer stands; only its replay is lost, and a retry runs again.
                tracing::warn!(requestId = %call.request_id, error = %e, "response not kept");
                Ok(response)
            }
        }
    }
}

/// Whether a route reads `Idempotency-Key`, as a type. A binary's route picks one at compile
/// time, so the binaries of the routes without the key link none of the idempotency code (a
/// branch on a constant would not do: code behind an `.await` stays in the state machine).
pub trait Keying {
    /// `Some(whether the route reads the key)`; `None` when the route decides at run time.
    const KEYED: Option<bool>;

    /// Runs the handler of `D` on `call` and makes its response, with the key's rules.
    fn work<D: Dispatch>(
        app: &App,
        call: &mut Call<'_>,
    ) -> impl Future<Output = Result<Response<Body>, ApiError>> + Send;
}

/// The POST routes: `Idempotency-Key` is read, recorded and replayed.
pub enum WithKey {}

impl Keying for WithKey {
    const KEYED: Option<bool> = Some(true);

    async fn work<D: Dispatch>(app: &App, call: &mut Call<'_>) -> Result<Response<Body>, ApiError> {
        let req = call.req;
        call.idempotency = IdempotencyKey::of(req.headers())?.map(|key| {
            let path = req.uri().path();
            Keyed::new(key, req.method().as_str(), path, req.body().as_ref())
        });
        let outcome = D::answer(call).await;
        app.settle_idempotency(call, outcome).await
    }
}

/// The other routes: no key is read, so no replay can be answered.
pub enum WithoutKey {}

impl Keying for WithoutKey {
    const KEYED: Option<bool> = Some(false);

    async fn work<D: Dispatch>(_: &App, call: &mut Call<'_>) -> Result<Response<Body>, ApiError> {
        unkeyed(D::answer(call).await)
    }
}

/// The route of the call decides (`App::handle`, the in-process tests).
pub enum KeyByRoute {}

impl Keying for KeyByRoute {
    const KEYED: Option<bool> = None;

    async fn work<D: Dispatch>(app: &App, call: &mut Call<'_>) -> Result<Response<Body>, ApiError> {
        if call.spec.keyed {
            WithKey::work::<D>(app, call).await
        } else {
            WithoutKey::work::<D>(app, call).await
        }
    }
}

/// The response of a route that reads no `Idempotency-Key`, so can answer no replay.
fn unkeyed(outcome: Result<Answer, ApiError>) -> Result<Response<Body>, ApiError> {
    match outcome? {
        Answer::Reply(reply) => Ok(reply.into_response()),
        Answer::Replay(_) => Err(ApiError::Internal("a replay without a key".into())),
    }
}

/// The error log line, with the internal cause, of a failure that is ours or a dependency's
/// (the response carries only the code and the request id).
fn log_failure(request_id: &str, error: &ApiError) {
    if matches!(error, ApiError::Internal(_) | ApiError::Dependency(_)) {
        tracing::error!(requestId = %request_id, error = %error, "request failed");
    }
}

/// How long init waits for the warm-up read: about one attempt of a request.
const WARM_UP_TIMEOUT: Duration = Duration::from_secs(2);

/// The whole `main` of a route's Lambda binary:
/// `group_buy::run::<group_buy::endpoint!(Route::CloseGroupBuy)>()`.
///
/// Init does the one-time work a first request would otherwise pay for: settings and keys,
/// then one read the function's policy allows (`Endpoint::warm_up`), which resolves the
/// credentials and the endpoint, builds the TLS configuration with its trust roots, and
/// leaves a connection to DynamoDB, its TLS handshake done, in the client's pool.
pub async fn run<E: Endpoint>() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let app = App::new(crate::secrets::load_settings().await?).await?;
    warm_up::<E>(&app).await;
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(Verbatim(app.serve::<E>(req).await))
    }))
    .await
}

/// A response handed to lambda_http as it is. Given a `Response<Body>`, lambda_http decodes
/// every text body again by the charset of its `Content-Type` (with encoding_rs and all of its
/// tables, 150 KB of each binary); ours are UTF-8 JSON or empty already. The result is the
/// same: an empty body becomes the empty text, as lambda_http's decoding makes it.
struct Verbatim(Response<Body>);

impl IntoResponse for Verbatim {
    fn into_response(self) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>> {
        let response = self.0.map(|body| match body {
            Body::Empty => Body::Text(String::new()),
            other => other,
        });
        Box::pin(std::future::ready(response))
    }
}

/// `E`'s warm-up read, recorded as the function's own call (`DYNAMODB_CALL_LOG`). Its failure
/// costs nothing but the warmth: the first request connects again, and reports any error.
async fn warm_up<E: Endpoint>(app: &App) {
    let read = as_function(E::SPEC.function, E::warm_up(app));
    match tokio::time::timeout(WARM_UP_TIMEOUT, read).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, "warm-up read failed"),
        Err(_) => tracing::debug!("warm-up read timed out"),
    }
}
