//! A deployed stage's secrets, read once at a function's init from Secrets Manager, never
//! from the function's environment (where `lambda:GetFunctionConfiguration`, which read-only
//! roles have, would show them).
//!
//! `SECRET_ID` names the stage's secret, a JSON object whose members are the variables of
//! `configuration::SECRET_VARIABLES` (`VISITOR_HASH_KEY`, `ROTATING_KEYS`, `ORIGIN_SECRETS`
//! and, on dev, `JWT_HS256_SECRET`). With it, those variables come from the secret alone; a deployed
//! function that also finds one in its environment refuses to start. Without it (local runs and
//! tests), every variable comes from the environment, with the local defaults.

use crate::aws::{self, ClientError};
use crate::configuration::{ConfigError, SECRET_VARIABLES, Settings};
use aws_sdk_secretsmanager::config::retry::RetryConfig;
use aws_sdk_secretsmanager::config::timeout::TimeoutConfig;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Region};
use std::collections::HashMap;
use std::time::Duration;

/// An endpoint override for Secrets Manager: a local stand-in, for the tests and the cold-start
/// bench only (never set by the template).
pub const ENDPOINT_VARIABLE: &str = "SECRETS_MANAGER_ENDPOINT";

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{0} is a secret: on a deployed stage it comes from SECRET_ID, not the environment")]
    InEnvironment(&'static str),
    #[error("the secret {secret_id} could not be read: {why}")]
    Unreadable { secret_id: String, why: String },
}

/// The function's settings: the environment's, and the stage's secret's when `SECRET_ID` is
/// set.
pub async fn load_settings() -> Result<Settings, SecretsError> {
    load_settings_from(|name| std::env::var(name).ok().filter(|v| !v.is_empty())).await
}

/// `load_settings`, with the variables of `env` instead of the process environment.
pub async fn load_settings_from(
    env: impl Fn(&str) -> Option<String>,
) -> Result<Settings, SecretsError> {
    let Some(secret_id) = env("SECRET_ID") else {
        return Ok(Settings::from_lookup(env)?);
    };
    if env("STAGE").is_some()
        && let Some(name) = SECRET_VARIABLES
            .into_iter()
            .find(|name| env(name).is_some())
    {
        return Err(SecretsError::InEnvironment(name));
    }
    let secret = read(&secret_id, env(ENDPOINT_VARIABLE)).await?;
    Ok(Settings::from_lookup(|name| {
        if SECRET_VARIABLES.contains(&name) {
            secret.get(name).filter(|v| !v.is_empty()).cloned()
        } else {
            env(name)
        }
    })?)
}

/// The members of the secret `secret_id`, a JSON object of strings.
async fn read(
    secret_id: &str,
    endpoint: Option<String>,
) -> Result<HashMap<String, String>, SecretsError> {
    let unreadable = |why: String| SecretsError::Unreadable {
        secret_id: secret_id.to_owned(),
        why,
    };
    if endpoint.is_none() {
        aws::require_lambda_variables()?;
    }
    let mut config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(aws::functions_http_client(endpoint.as_deref()).map_err(ClientError::from)?)
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_secs(2))
                .operation_timeout(Duration::from_secs(5))
                .build(),
        )
        .region(aws::environment_region().unwrap_or_else(|| Region::new("us-east-1")))
        .credentials_provider(aws::local_credentials());
    if let Some(endpoint) = &endpoint {
        config = config.endpoint_url(endpoint);
    }
    let client = aws_sdk_secretsmanager::Client::from_conf(config.build());
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| {
            unreadable(aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string())
        })?;
    let text = out
        .secret_string()
        .ok_or_else(|| unreadable("it has no SecretString".into()))?;
    serde_json::from_str(text).map_err(|_| unreadable("it is not a JSON object of strings".into()))
}
