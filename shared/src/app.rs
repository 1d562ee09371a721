//! The application a Lambda binary runs: shared resources built once per instance, and the
//! request wrapper every route goes through (ids, errors, panics, the log line).

use crate::auth::Authenticator;
use crate::call_log::{CALL_LOG_VARIABLE, CallLog, as_function};
use crate::configuration::{ConfigError, Settings};
use crate::deadline::Deadline;
use crate::error::ApiError;
use crate::handlers::endpoints::{ByRoute, Dispatch, Static};
use crate::handlers::{Answer, Call, Endpoint};
use crate::http::RequestIds;
use crate::https::{self, TlsError};
use crate::idempotency::{IdempotencyKey, Keyed, keeps};
use crate::keys::ServerKey;
use crate::pagination::CursorCodec;
use crate::recent::RecentGroupBuys;
use crate::routes::Route;
use crate::store::Store;
use crate::telemetry::{self, RequestLog};
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedHttpClient};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use futures_util::FutureExt;
use lambda_http::{Body, IntoResponse, Request, RequestExt, Response, service_fn};
use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::time::{Duration, Instant};

pub struct App {
    pub settings: Settings,
    pub store: Store,
    pub auth: Authenticator,
    pub server_key: ServerKey,
    pub cursors: CursorCodec,
    /// Group-buys as this instance last saw them, for the answers of interest writes.
    pub recent: RecentGroupBuys,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Keys(#[from] crate::auth::jwt::KeyError),
    #[error("{0} is required: Lambda sets it for every function")]
    MissingAwsVariable(&'static str),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// A DynamoDB client with tight timeouts: a Lambda behind API Gateway has seconds, not
/// minutes, and an outage should become a quick 503 rather than a gateway timeout.
///
/// Built from the environment alone, without `aws-config`'s provider chains: a Lambda
/// function gets its region and credentials as variables (`AWS_REGION`, `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), so the chains (profiles, SSO, IMDS, STS) are
/// code and start-up work that a function never uses. `App::new` refuses to start a deployed
/// function that lacks them.
pub async fn dynamodb_client(settings: &Settings) -> aws_sdk_dynamodb::Client {
    match functions_http_client(settings) {
        Ok(http) => dynamodb_client_with(settings, http),
        Err(e) => {
            // `App::new` refuses to start on this; the tests and tools get the error per call.
            tracing::error!(error = %e, "no HTTPS client for DynamoDB");
            dynamodb_client_with(settings, SharedHttpClient::new(NoClient(e.to_string())))
        }
    }
}

/// An HTTP client that answers every request with the reason there is no real one.
#[derive(Debug)]
struct NoClient(String);

impl HttpClient for NoClient {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let reason = self.0.clone();
        SharedHttpConnector::new(NoConnector(reason))
    }
}

#[derive(Debug)]
struct NoConnector(String);

impl HttpConnector for NoConnector {
    fn call(&self, _: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::ready(Err(ConnectorError::user(self.0.clone().into())))
    }
}

fn dynamodb_client_with(settings: &Settings, http: SharedHttpClient) -> aws_sdk_dynamodb::Client {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_secs(2))
                .operation_timeout(Duration::from_secs(6))
                .build(),
        );
    let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION"));
    match (region, &settings.dynamodb_endpoint) {
        (Some(region), _) => config = config.region(Region::new(region)),
        // DynamoDB Local: any region will do.
        (None, Some(_)) => config = config.region(Region::new("us-east-1")),
        (None, None) => {}
    }
    match (environment_credentials(), &settings.dynamodb_endpoint) {
        (Some(credentials), _) => config = config.credentials_provider(credentials),
        (None, Some(_)) => config = config.credentials_provider(local_credentials()),
        (None, None) => {}
    }
    if let Some(endpoint) = &settings.dynamodb_endpoint {
        config = config.endpoint_url(endpoint);
    }
    match CallLog::from_env() {
        Ok(Some(call_log)) => config = config.interceptor(call_log),
        Ok(None) => {}
        // Only tests set it, and their IAM check fails when a function recorded nothing.
        Err(e) => tracing::error!(error = %e, "{CALL_LOG_VARIABLE} cannot be opened"),
    }
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

/// The credentials of a client of DynamoDB Local (its tables and its stream): the
/// environment's when set, else a fixed pair. DynamoDB Local checks no signature; it keeps
/// one set of tables per access key, so every local client must sign with the same one.
pub fn local_credentials() -> Credentials {
    environment_credentials()
        .unwrap_or_else(|| Credentials::new("local", "local", None, None, "dynamodb-local"))
}

/// The credentials Lambda gives a function, as environment variables.
pub(crate) fn environment_credentials() -> Option<Credentials> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    Some(Credentials::new(
        var("AWS_ACCESS_KEY_ID")?,
        var("AWS_SECRET_ACCESS_KEY")?,
        var("AWS_SESSION_TOKEN"),
        None,
        "environment",
    ))
}

/// The functions' HTTPS client: Amazon's roots, and with an endpoint override the roots of
/// `DYNAMODB_CA_FILE` too (a local TLS terminator).
pub fn functions_http_client(settings: &Settings) -> Result<SharedHttpClient, TlsError> {
    let extra = match settings.dynamodb_endpoint {
        Some(_) => https::extra_roots_file()?,
        None => None,
    };
    https::amazon_roots_client(extra.as_deref())
}

impl App {
    pub async fn new(settings: Settings) -> Result<Self, InitError> {
        if settings.dynamodb_endpoint.is_none() {
            // Against AWS, a missing region or key would only show as a failing first request.
            let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
            if !set("AWS_REGION") && !set("AWS_DEFAULT_REGION") {
                return Err(InitError::MissingAwsVariable("AWS_REGION"));
            }
            for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
                if !set(name) {
                    return Err(InitError::MissingAwsVariable(name));
                }
            }
        }
        let client = dynamodb_client_with(&settings, functions_http_client(&settings)?);
        let server_key = ServerKey::new(settings.visitor_hash_key.expose().as_bytes());
        let store = Store::new(client, &settings.table_name);
        Ok(Self {
            auth: Authenticator::new(&settings.jwt, settings.pat_cache_ttl, store.clone())?,
            store,
            cursors: CursorCodec::new(&server_key.cursor_key()),
            server_key,
            settings,
            recent: RecentGroupBuys::default(),
        })
    }

    /// Serves one request of `route`, found at run time among every route's handler (the
    /// in-process tests). Never fails: every error, and even a panic, becomes a problem+json
    /// response carrying the request id.
    pub async fn handle(&self, route: Route, req: Request) -> Response<Body> {
        self.respond::<ByRoute>(route, req).await
    }

    /// Serves one request of the endpoint `E`, known at compile time (the Lambda binaries:
    /// only `E`'s handler is linked), exactly as `handle` serves `E::ROUTE`.
    pub async fn serve<E: Endpoint>(&self, req: Request) -> Response<Body> {
        self.respond::<Static<E>>(E::ROUTE, req).await
    }

    async fn respond<D: Dispatch>(&self, route: Route, req: Request) -> Response<Body> {
        let started = Instant::now();
        let ids = RequestIds::of(&req);
        let deadline = Deadline::from_lambda(req.lambda_context_ref().map_or(0, |c| c.deadline));
        let mut call = Call {
            app: self,
            req: &req,
            route,
            request_id: &ids.request_id,
            log: RequestLog::default(),
            idempotency: None,
        };
        let work = D::Keying::work::<D>(self, &mut call);
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
        let work = telemetry::serving(ids.request_id.clone(), work);
        let (outcome, usage) = telemetry::measure(as_function(route.function(), work)).await;
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
        let log = call.log;
        telemetry::emit_metrics(route.function(), &log.metrics);
        tracing::info!(
            requestId = %ids.request_id,
            correlationId = ids.correlation_id.as_deref(),
            route = route.function(),
            method = route.method(),
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

impl App {
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
        if call.route.accepts_idempotency_key() {
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
/// `group_buy::run::<group_buy::endpoint!(Route::X)>()`.
///
/// Init does the one-time work a first request would otherwise pay for: settings and keys,
/// then one read the function's policy allows (`Endpoint::warm_up`), which resolves the
/// credentials and the endpoint, builds the TLS configuration with its trust roots, and
/// leaves a connection to DynamoDB, its TLS handshake done, in the client's pool.
pub async fn run<E: Endpoint>() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let app = App::new(Settings::from_env()?).await?;
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
    let read = as_function(E::ROUTE.function(), E::warm_up(app));
    match tokio::time::timeout(WARM_UP_TIMEOUT, read).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, "warm-up read failed"),
        Err(_) => tracing::debug!("warm-up read timed out"),
    }
}
