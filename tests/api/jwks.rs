//! JWT keys from the identity provider's JWKS URL: a local provider that rotates its keys,
//! serving a real HTTP endpoint the function fetches from, as a deployed stage would from its
//! issuer.

use group_buy::Route;
use group_buy_tests::{Call, HANDLE, OWNER_SCOPES, spawn_app_with, test_settings};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const JWKS: &str = include_str!("../../shared/src/auth/testdata/jwks.json");
const RSA_A: &str = include_str!("../../shared/src/auth/testdata/rsa-2026a.pem");
const RSA_B: &str = include_str!("../../shared/src/auth/testdata/rsa-2026b.pem");

/// The test keys' JWKS with only the keys `kids`.
fn jwks_of(kids: &[&str]) -> String {
    let mut set: Value = serde_json::from_str(JWKS).expect("jwks");
    if let Some(keys) = set["keys"].as_array_mut() {
        keys.retain(|k| kids.contains(&k["kid"].as_str().unwrap_or_default()));
    }
    set.to_string()
}

/// An RS256 token for the test handle's owner, signed with `pem` under `kid`, from `issuer`.
fn rs256_from(issuer: Option<&str>, kid: &str, pem: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "sub": "owner-1", "handles": [HANDLE], "scope": OWNER_SCOPES,
        "iat": now, "exp": now + 600,
    });
    if let Some(issuer) = issuer {
        claims["iss"] = json!(issuer);
    }
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("a test key");
    jsonwebtoken::encode(&header, &claims, &key).expect("signed")
}

fn rs256(kid: &str, pem: &str) -> String {
    rs256_from(None, kid, pem)
}

/// An owner's list of group-buys, with `token`.
fn list(token: String) -> Call {
    Call::well_formed(Route::ListGroupBuys, "x").bearer(&token)
}

/// The provider's JWKS endpoint: answers each `GET` with the document it holds now (or 503
/// once `down`), and counts the fetches.
struct Provider {
    document: Mutex<String>,
    down: Mutex<bool>,
    fetches: AtomicUsize,
}

impl Provider {
    /// The provider, serving its JWKS at `<base>/jwks` and its discovery document; `base`.
    async fn start(kids: &[&str]) -> (Arc<Self>, String) {
        let provider = Arc::new(Self {
            document: Mutex::new(jwks_of(kids)),
            down: Mutex::new(false),
            fetches: AtomicUsize::new(0),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let serving = provider.clone();
        let issuer = base.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let provider = serving.clone();
                let base = issuer.clone();
                tokio::spawn(async move {
                    let mut request = vec![0u8; 4096];
                    let read = socket.read(&mut request).await.unwrap_or(0);
                    let request = &request[..read];
                    let (status, body) = if request.starts_with(b"GET /jwks ") {
                        provider.fetches.fetch_add(1, Ordering::SeqCst);
                        match *provider.down.lock().expect("lock") {
                            true => ("503 Service Unavailable", String::new()),
                            false => ("200 OK", provider.document.lock().expect("lock").clone()),
                        }
                    } else if request.starts_with(b"GET /.well-known/openid-configuration ") {
                        let discovery = json!({"issuer": base, "jwks_uri": format!("{base}/jwks")});
                        ("200 OK", discovery.to_string())
                    } else {
                        ("404 Not Found", String::new())
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        (provider, base)
    }

    fn publish(&self, kids: &[&str]) {
        *self.document.lock().expect("lock") = jwks_of(kids);
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn keys_follow_the_providers_rotation_with_fetches_rate_limited() {
    let (provider, base) = Provider::start(&["rsa-2026a"]).await;
    let url = format!("{base}/jwks");
    // Configured: rsa-2026a only, as the stage was deployed.
    let configured = jwks_of(&["rsa-2026a"]);
    let app = spawn_app_with(test_settings(&[
        ("JWT_JWKS", &configured),
        ("JWT_JWKS_URL", &url),
        ("JWT_JWKS_REFRESH_SECONDS", "1"),
        ("JWT_JWKS_MAX_AGE_SECONDS", "2"),
    ]))
    .await;
    // A configured key needs no fetch.
    assert_eq!(app.send(list(rs256("rsa-2026a", RSA_A))).await.status, 200);
    assert_eq!(provider.fetches(), 0);

    // The provider rotates: rsa-2026b is published, then signs. Its first token fetches.
    provider.publish(&["rsa-2026a", "rsa-2026b"]);
    assert_eq!(app.send(list(rs256("rsa-2026b", RSA_B))).await.status, 200);
    assert_eq!(provider.fetches(), 1);
    assert_eq!(app.send(list(rs256("rsa-2026b", RSA_B))).await.status, 200);
    assert_eq!(provider.fetches(), 1, "a fresh set serves without a fetch");

    // Unknown key ids: at most one fetch per refresh interval, however many tokens.
    for _ in 0..5 {
        let forged = app.send(list(rs256("rsa-2099", RSA_B))).await;
        assert_eq!(forged.status, 401);
        assert_eq!(forged.code(), "UNAUTHENTICATED");
    }
    assert_eq!(provider.fetches(), 1, "within a second of the last fetch");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for _ in 0..5 {
        assert_eq!(app.send(list(rs256("rsa-2099", RSA_B))).await.status, 401);
    }
    assert_eq!(provider.fetches(), 2, "one fetch in the next interval");

    // The provider withdraws rsa-2026b: once the set is older than its max age, it is
    // fetched again before use, and the withdrawn key is refused.
    provider.publish(&["rsa-2026a"]);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(app.send(list(rs256("rsa-2026b", RSA_B))).await.status, 401);
    assert_eq!(provider.fetches(), 3);

    // The provider withdraws rsa-2026a too, which the stage also has configured: once the
    // set is fetched again, the issuer's word wins over the configuration.
    provider.publish(&["rsa-2026b"]);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(app.send(list(rs256("rsa-2026a", RSA_A))).await.status, 401);
    assert_eq!(provider.fetches(), 4);

    // The provider goes down: with no fresh set, the configured key signs in again, and the
    // last fetched set's keys still do.
    *provider.down.lock().expect("lock") = true;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(app.send(list(rs256("rsa-2026a", RSA_A))).await.status, 200);
    assert_eq!(app.send(list(rs256("rsa-2026b", RSA_B))).await.status, 200);
}

/// A provider publishes keys beside its signing keys (for encryption, or of algorithms this
/// service does not take): they are passed over, not a reason to refuse the whole set.
#[tokio::test]
async fn keys_for_other_uses_in_the_published_set_are_passed_over() {
    let (provider, base) = Provider::start(&["rsa-2026b"]).await;
    let mut set: Value = serde_json::from_str(&jwks_of(&["rsa-2026b"])).expect("jwks");
    if let Some(keys) = set["keys"].as_array_mut() {
        let mut encryption = keys[0].clone();
        encryption["kid"] = json!("enc-2026");
        encryption["use"] = json!("enc");
        encryption["alg"] = json!("RSA-OAEP");
        keys.push(encryption);
        keys.push(json!({"kty": "OKP", "crv": "Ed25519", "kid": "ed-2026", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}));
    }
    *provider.document.lock().expect("lock") = set.to_string();
    let app = spawn_app_with(test_settings(&[("JWT_JWKS_URL", &format!("{base}/jwks"))])).await;
    assert_eq!(app.send(list(rs256("rsa-2026b", RSA_B))).await.status, 200);
    assert_eq!(provider.fetches(), 1);
}

/// With no JWKS URL configured, the keys' URL is the `jwks_uri` of the issuer's OpenID
/// discovery document.
#[tokio::test]
async fn the_issuers_discovery_document_names_its_keys() {
    let (provider, issuer) = Provider::start(&["rsa-2026b"]).await;
    let app = spawn_app_with(test_settings(&[
        ("JWT_JWKS", r#"{"keys":[]}"#),
        ("JWT_ISSUER", &issuer),
    ]))
    .await;
    let token = rs256_from(Some(&issuer), "rsa-2026b", RSA_B);
    assert_eq!(app.send(list(token)).await.status, 200);
    assert_eq!(provider.fetches(), 1);
    let another_issuer = rs256_from(Some("https://elsewhere.example"), "rsa-2026b", RSA_B);
    assert_eq!(app.send(list(another_issuer)).await.status, 401);
}

/// A provider that cannot be reached signs in nobody it has not already vouched for; the
/// configured keys still do.
#[tokio::test]
async fn an_unreachable_provider_falls_back_to_the_configured_keys() {
    // A port nothing listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        listener.local_addr().expect("addr").port()
    };
    let app = spawn_app_with(test_settings(&[
        ("JWT_JWKS", &jwks_of(&["rsa-2026a"])),
        ("JWT_ISSUER", &format!("http://127.0.0.1:{closed}")),
    ]))
    .await;
    let issuer = format!("http://127.0.0.1:{closed}");
    let issued = |kid: &str, pem: &str| rs256_from(Some(&issuer), kid, pem);
    assert_eq!(app.send(list(issued("rsa-2026b", RSA_B))).await.status, 401);
    assert_eq!(app.send(list(issued("rsa-2026a", RSA_A))).await.status, 200);
}
