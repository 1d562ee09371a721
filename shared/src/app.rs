//! The application a Lambda binary runs: shared resources built once per instance, and the
//! request wrapper every route goes through (ids, errors, panics, the log line).

use crate::auth::Authenticator;
use crate::call_log::{CALL_LOG_VARIABLE, CallLog, as_function};
use crate::configuration::{ConfigError, Settings};
use crate::deadline::Deadline;
use crate::error::ApiError;
use crate::handlers::{self, Answer, Call};
use crate::http::RequestIds;
use crate::idempotency::{IdempotencyKey, Keyed, keeps};
use crate::keys::ServerKey;
use crate::pagination::CursorCodec;
use crate::recent::RecentGroupBuys;
use crate::routes::Route;
use crate::store::Store;
use crate::telemetry::{self, RequestLog};
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{Credentials, Region};
use futures_util::FutureExt;
use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
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
}

/// A DynamoDB client with tight timeouts: a Lambda behind API Gateway has seconds, not
/// minutes, and an outage should become a quick 503 rather than a gateway timeout.
pub async fn dynamodb_client(settings: &Settings) -> aws_sdk_dynamodb::Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_secs(2))
                .operation_timeout(Duration::from_secs(6))
                .build(),
        );
    if let Some(endpoint) = &settings.dynamodb_endpoint {
        // DynamoDB Local: no instance metadata to ask for a region or credentials.
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
        loader = loader.endpoint_url(endpoint).region(Region::new(region));
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(Credentials::new(
                "local",
                "local",
                None,
                None,
                "dynamodb-local",
            ));
        }
    }
    let mut config = aws_sdk_dynamodb::config::Builder::from(&loader.load().await);
    match CallLog::from_env() {
        Ok(Some(call_log)) => config = config.interceptor(call_log),
        Ok(None) => {}
        // Only tests set it, and their IAM check fails when a function recorded nothing.
        Err(e) => tracing::error!(error = %e, "{CALL_LOG_VARIABLE} cannot be opened"),
    }
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

impl App {
    pub async fn new(settings: Settings) -> Result<Self, InitError> {
        let client = dynamodb_client(&settings).await;
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

    /// Serves one request of `route`. Never fails: every error, and even a panic, becomes a
    /// problem+json response carrying the request id.
    pub async fn handle(&self, route: Route, req: Request) -> Response<Body> {
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
        let work = async {
            if route.method() == "POST" {
                call.idempotency = IdempotencyKey::of(req.headers())?.map(|key| {
                    let path = req.uri().path();
                    Keyed::new(key, req.method().as_str(), path, req.body().as_ref())
                });
            }
            let outcome = handlers::dispatch(&mut call).await;
            self.settle_idempotency(&mut call, outcome).await
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

/// The error log line, with the internal cause, of a failure that is ours or a dependency's
/// (the response carries only the code and the request id).
fn log_failure(request_id: &str, error: &ApiError) {
    if matches!(error, ApiError::Internal(_) | ApiError::Dependency(_)) {
        tracing::error!(requestId = %request_id, error = %error, "request failed");
    }
}

/// The whole `main` of a route's Lambda binary.
pub async fn run(route: Route) -> Result<(), lambda_http::Error> {
    telemetry::init();
    let app = App::new(Settings::from_env()?).await?;
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(app.handle(route, req).await)
    }))
    .await
}
