//! A deployed function's secrets come from its stage's secret in Secrets Manager, read at
//! init, and never from its environment. Against moto's Secrets Manager server (PyPI `moto`,
//! installed by scripts/bootstrap.sh test), over HTTP, through the AWS SDK the functions use.

use group_buy::api::App;
use group_buy::secrets::{SecretsError, load_settings_from};
use group_buy_tests::{dynamodb_endpoint, obtain_pass, spawn_app_with};
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PSEUDONYM_KEY: &str = "pseudonym-key-of-the-secrets-test-0001";
const ROTATING_KEYS: &str =
    "k2=rotating-key-of-the-secrets-test-0002,k1=rotating-key-of-the-secrets-test-0001";
const HS256: &str = "hs256-secret-of-the-secrets-test-00001";
const ORIGIN: &str = "origin-secret-of-the-secrets-test-0001";

/// moto's server on a free port, stopped when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn moto() -> Moto {
    let binary = std::env::var("MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/moto/bin/moto_server")
        });
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(&binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{} ({e}): run scripts/bootstrap.sh test", binary.display()));
    // Owned at once, so that it is stopped however this ends.
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..100 {
        if reqwest::get(format!("{}/moto-api/", moto.endpoint))
            .await
            .is_ok()
        {
            return moto;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto_server did not start on port {port}");
}

impl Moto {
    /// Creates the secret `name` with `members` (Secrets Manager's JSON protocol).
    async fn create_secret(&self, name: &str, members: &serde_json::Value) {
        let response = reqwest::Client::new()
            .post(&self.endpoint)
            .header("x-amz-target", "secretsmanager.CreateSecret")
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=local/20261207/us-east-1/secretsmanager/aws4_request, \
                 SignedHeaders=host, Signature=0",
            )
            .json(&json!({"Name": name, "SecretString": members.to_string()}))
            .send()
            .await
            .expect("moto answers");
        assert!(
            response.status().is_success(),
            "{:?}",
            response.text().await
        );
    }
}

/// A deployed dev function's environment: its stage, table and secret's name, no secret.
fn deployed(moto: &Moto, secret_id: &str, table: &str) -> HashMap<String, String> {
    HashMap::from([
        ("STAGE".into(), "dev".into()),
        ("TABLE_NAME".into(), table.into()),
        ("DYNAMODB_ENDPOINT".into(), dynamodb_endpoint()),
        ("SECRET_ID".into(), secret_id.into()),
        ("SECRETS_MANAGER_ENDPOINT".into(), moto.endpoint.clone()),
    ])
}

#[tokio::test]
#[ignore = "needs moto_server; run by scripts/test.sh"]
async fn a_deployed_function_takes_its_keys_from_the_stages_secret() {
    let moto = moto().await;
    moto.create_secret(
        "gharart/group-buys/dev",
        &json!({
            "VISITOR_HASH_KEY": PSEUDONYM_KEY,
            "ROTATING_KEYS": ROTATING_KEYS,
            "JWT_HS256_SECRET": HS256,
            "ORIGIN_SECRETS": ORIGIN,
            // What only the template reads (CloudFront's header), never a function.
            "EDGE_ORIGIN_SECRET": ORIGIN,
        }),
    )
    .await;
    let table = format!("test-{}", uuid::Uuid::new_v4());
    let env = deployed(&moto, "gharart/group-buys/dev", &table);
    let settings = load_settings_from(|name| env.get(name).cloned())
        .await
        .expect("settings from the secret");
    assert_eq!(settings.keys.pseudonym.expose(), PSEUDONYM_KEY);
    let ids: Vec<&str> = settings
        .keys
        .rotating
        .iter()
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(ids, ["k2", "k1"]);
    assert_eq!(
        settings.jwt.hs256_secret.as_ref().map(|s| s.expose()),
        Some(HS256)
    );
    assert_eq!(settings.origin_secrets.len(), 1);
    // The function serves with them: its passes are signed under the secret's current key.
    // (Requests here come in-process, not through the edge: tests/api/edge.rs has that.)
    let settings = group_buy::configuration::Settings {
        origin_secrets: Vec::new(),
        ..settings
    };
    let app = spawn_app_with(settings).await;
    let pass = obtain_pass(&app.app).await;
    assert!(pass.starts_with("p1.k2."), "{pass}");
}

#[tokio::test]
#[ignore = "needs moto_server; run by scripts/test.sh"]
async fn a_secret_in_a_deployed_functions_environment_stops_its_start() {
    let moto = moto().await;
    moto.create_secret(
        "gharart/group-buys/dev",
        &json!({"VISITOR_HASH_KEY": PSEUDONYM_KEY, "ROTATING_KEYS": ROTATING_KEYS, "ORIGIN_SECRETS": ORIGIN}),
    )
    .await;
    for variable in [
        "VISITOR_HASH_KEY",
        "ROTATING_KEYS",
        "JWT_HS256_SECRET",
        "ORIGIN_SECRETS",
    ] {
        let mut env = deployed(&moto, "gharart/group-buys/dev", "t");
        env.insert(
            variable.into(),
            "leaked-into-the-environment-0000000".into(),
        );
        let refused = load_settings_from(|name| env.get(name).cloned()).await;
        assert!(
            matches!(refused, Err(SecretsError::InEnvironment(name)) if name == variable),
            "{variable}: {refused:?}"
        );
    }
}

#[tokio::test]
#[ignore = "needs moto_server; run by scripts/test.sh"]
async fn a_missing_or_malformed_secret_stops_the_start_and_names_the_secret() {
    let moto = moto().await;
    moto.create_secret(
        "gharart/group-buys/short",
        &json!({"VISITOR_HASH_KEY": "short", "ROTATING_KEYS": ROTATING_KEYS, "JWT_HS256_SECRET": HS256, "ORIGIN_SECRETS": ORIGIN}),
    )
    .await;
    let env = deployed(&moto, "gharart/group-buys/none", "t");
    let missing = load_settings_from(|name| env.get(name).cloned()).await;
    let why = format!("{:?}", missing.err());
    assert!(why.contains("gharart/group-buys/none"), "{why}");
    // A secret too short for a deployed stage: refused by the stage rules, and not shown.
    let env = deployed(&moto, "gharart/group-buys/short", "t");
    let short = load_settings_from(|name| env.get(name).cloned())
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(short.contains("VISITOR_HASH_KEY"), "{short}");
    assert!(!short.contains("\"short\""), "{short}");
}

/// What a function without `SECRET_ID` (local runs, the tests) does: no Secrets Manager call.
#[tokio::test]
async fn without_a_secret_id_the_environment_and_local_defaults_serve() {
    let settings = load_settings_from(|name| match name {
        "DYNAMODB_ENDPOINT" => Some(dynamodb_endpoint()),
        _ => None,
    })
    .await
    .expect("local settings");
    assert!(settings.secret_id.is_none());
    assert!(App::new(settings).await.is_ok());
}
