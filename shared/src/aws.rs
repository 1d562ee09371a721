//! The AWS SDK clients of the functions, built from the environment alone (no provider
//! chains): DynamoDB with tight timeouts, the credentials Lambda gives a function, and the
//! functions' HTTPS client.

use crate::call_log::{CALL_LOG_VARIABLE, CallLog};
use crate::configuration::Settings;
use crate::https::{self, TlsError};
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedHttpClient};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use std::time::Duration;

/// Why a function's client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0} is required: Lambda sets it for every function")]
    MissingAwsVariable(&'static str),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// The DynamoDB client of a deployed function (or of one run against DynamoDB Local): it
/// refuses to start without the region and credentials Lambda sets, which against AWS would
/// only show as a failing first request.
pub fn function_dynamodb_client(
    endpoint: Option<&str>,
) -> Result<aws_sdk_dynamodb::Client, ClientError> {
    if endpoint.is_none() {
        require_lambda_variables()?;
    }
    Ok(dynamodb_client_with(
        endpoint,
        functions_http_client(endpoint)?,
    ))
}

/// What Lambda sets for every function and an AWS client needs: the region and credentials.
pub fn require_lambda_variables() -> Result<(), ClientError> {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if !set("AWS_REGION") && !set("AWS_DEFAULT_REGION") {
        return Err(ClientError::MissingAwsVariable("AWS_REGION"));
    }
    for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        if !set(name) {
            return Err(ClientError::MissingAwsVariable(name));
        }
    }
    Ok(())
}

/// A DynamoDB client with tight timeouts: a Lambda behind API Gateway has seconds, not
/// minutes, and an outage should become a quick 503 rather than a gateway timeout.
///
/// Built from the environment alone, without `aws-config`'s provider chains: a Lambda
/// function gets its region and credentials as variables (`AWS_REGION`, `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), so the chains (profiles, SSO, IMDS, STS) are
/// code and start-up work that a function never uses. `function_dynamodb_client` refuses to start a
/// deployed function that lacks them.
pub async fn dynamodb_client(settings: &Settings) -> aws_sdk_dynamodb::Client {
    let endpoint = settings.dynamodb_endpoint.as_deref();
    match functions_http_client(endpoint) {
        Ok(http) => dynamodb_client_with(endpoint, http),
        Err(e) => {
            // `api::App::new` refuses to start on this; the tests and tools get the error per call.
            tracing::error!(error = %e, "no HTTPS client for DynamoDB");
            dynamodb_client_with(endpoint, SharedHttpClient::new(NoClient(e.to_string())))
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

pub fn dynamodb_client_with(
    endpoint: Option<&str>,
    http: SharedHttpClient,
) -> aws_sdk_dynamodb::Client {
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
    match (environment_region(), endpoint) {
        (Some(region), _) => config = config.region(region),
        // DynamoDB Local: any region will do.
        (None, Some(_)) => config = config.region(Region::new("us-east-1")),
        (None, None) => {}
    }
    match (environment_credentials(), endpoint) {
        (Some(credentials), _) => config = config.credentials_provider(credentials),
        (None, Some(_)) => config = config.credentials_provider(local_credentials()),
        (None, None) => {}
    }
    if let Some(endpoint) = endpoint {
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

/// The region Lambda runs a function in.
pub fn environment_region() -> Option<Region> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .map(Region::new)
}

/// The credentials Lambda gives a function, as environment variables.
pub fn environment_credentials() -> Option<Credentials> {
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
pub fn functions_http_client(endpoint: Option<&str>) -> Result<SharedHttpClient, TlsError> {
    let extra = match endpoint {
        Some(_) => https::extra_roots_file()?,
        None => None,
    };
    https::amazon_roots_client(extra.as_deref())
}
