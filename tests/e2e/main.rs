//! End-to-end: the real Lambda binaries behind `cargo lambda watch`, over HTTP.
//! `scripts/test.sh` starts the server and runs these with `E2E_BASE_URL` set; they are
//! ignored by a plain `cargo test`.

use group_buy::auth::DevClaims;
use group_buy::configuration::DEV_JWT_HS256_SECRET;
use reqwest::header::HeaderMap;
use reqwest::{Client, Method};
use serde_json::{Value, json};

struct Api {
    http: Client,
    base: String,
    token: String,
    handle: String,
}

impl Api {
    fn new() -> Self {
        let base = std::env::var("E2E_BASE_URL").expect("E2E_BASE_URL (set by scripts/test.sh)");
        let secret =
            std::env::var("JWT_HS256_SECRET").unwrap_or_else(|_| DEV_JWT_HS256_SECRET.into());
        let handle = format!("e2e-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let token = DevClaims::new(
            "e2e-owner",
            &[&handle],
            "group-buys:read group-buys:write",
            600,
        )
        .sign_hs256(&secret)
        .expect("token");
        Self {
            http: Client::new(),
            base,
            token,
            handle,
        }
    }

    /// An owner call below `/v2/handles/{handle}/group-buys`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value, HeaderMap) {
        let url = format!("{}/v2/handles/{}/group-buys{path}", self.base, self.handle);
        let request = self.http.request(method, url).bearer_auth(&self.token);
        self.send(request, body).await
    }

    /// A visitor's call to `my-interest` of `slug`.
    async fn visit(
        &self,
        method: Method,
        slug: &str,
        visitor_id: &str,
        body: Option<Value>,
    ) -> (u16, Value, HeaderMap) {
        let url = format!(
            "{}/v2/public/group-buys/{}/{slug}/my-interest",
            self.base, self.handle
        );
        let request = self
            .http
            .request(method, url)
            .header("x-visitor-id", visitor_id);
        self.send(request, body).await
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        body: Option<Value>,
    ) -> (u16, Value, HeaderMap) {
        let mut request = request.header("x-correlation-id", "e2e-walkthrough");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the local API answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(
            headers.contains_key("x-request-id"),
            "x-request-id on every response"
        );
        assert_eq!(
            headers
                .get("x-correlation-id")
                .and_then(|v| v.to_str().ok()),
            Some("e2e-walkthrough")
        );
        (status, body, headers)
    }
}

#[tokio::test]
#[ignore = "needs cargo lambda watch; run by scripts/test.sh"]
async fn the_owner_lifecycle_walkthrough_over_http() {
    let api = Api::new();
    let (status, created, response) = api
        .call(
            Method::POST,
            "",
            Some(json!({
                "slug": "brass-lamp-drop",
                "title": "Brass lamp, limited edition",
                "currency": "INR",
                "unitPriceMinor": 249900,
                "minParticipants": 1
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert!(response.contains_key("location"));

    for (verb, expected) in [
        ("publish", "published"),
        ("pause", "paused"),
        ("publish", "published"),
    ] {
        let (status, body, _) = api
            .call(Method::POST, &format!("/brass-lamp-drop/{verb}"), None)
            .await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some(expected)),
            "{verb}: {body}"
        );
    }
    let (status, refused, _) = api
        .call(
            Method::POST,
            "/brass-lamp-drop/close",
            Some(json!({"outcome": "fulfilled"})),
        )
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("THRESHOLD_NOT_MET"))
    );
    let (status, closed, _) = api
        .call(
            Method::POST,
            "/brass-lamp-drop/close",
            Some(json!({"outcome": "cancelled"})),
        )
        .await;
    assert_eq!(
        (status, closed["closeOutcome"].as_str()),
        (200, Some("cancelled"))
    );

    let (status, view, _) = api
        .call(Method::GET, "/brass-lamp-drop?include=history", None)
        .await;
    assert_eq!(status, 200);
    let steps: Vec<String> = view["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| {
            format!(
                "{} {}",
                h["action"].as_str().unwrap_or("?"),
                h["result"].as_str().unwrap_or("?")
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            "create applied",
            "publish applied",
            "pause applied",
            "publish applied",
            "close rejected",
            "close applied"
        ]
    );
    let (status, list, _) = api.call(Method::GET, "?status=closed", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["items"][0]["slug"], "brass-lamp-drop");
}

#[tokio::test]
#[ignore = "needs cargo lambda watch; run by scripts/test.sh"]
async fn errors_over_http_are_problem_json() {
    let api = Api::new();
    let response = api
        .http
        .get(format!("{}/v2/handles/{}/group-buys", api.base, api.handle))
        .send()
        .await
        .expect("the local API answers");
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let body: Value = response.json().await.expect("problem body");
    assert_eq!(body["code"], "UNAUTHENTICATED");
}

#[tokio::test]
#[ignore = "needs cargo lambda watch; run by scripts/test.sh"]
async fn the_public_walkthrough_over_http() {
    let api = Api::new();
    let (status, _, _) = api
        .call(
            Method::POST,
            "",
            Some(json!({
                "slug": "vase-drop", "title": "Vase", "currency": "INR",
                "unitPriceMinor": 99900, "minParticipants": 1, "maxQuantityPerParticipant": 3
            })),
        )
        .await;
    assert_eq!(status, 201);
    let public = format!("{}/v2/public/group-buys/{}/vase-drop", api.base, api.handle);
    let draft = api.http.get(&public).send().await.expect("answer");
    assert_eq!(draft.status().as_u16(), 404, "drafts are not public");
    api.call(Method::POST, "/vase-drop/publish", None).await;
    let page = api.http.get(&public).send().await.expect("answer");
    assert_eq!(page.status().as_u16(), 200);

    let visitor = "e2e-visitor-0123456789abcdef";
    let (status, first, _) = api
        .visit(
            Method::PUT,
            "vase-drop",
            visitor,
            Some(json!({"quantity": 2})),
        )
        .await;
    assert_eq!(
        (status, first["created"].as_bool()),
        (201, Some(true)),
        "{first}"
    );
    let (status, retry, _) = api
        .visit(
            Method::PUT,
            "vase-drop",
            visitor,
            Some(json!({"quantity": 2})),
        )
        .await;
    assert_eq!((status, retry["created"].as_bool()), (200, Some(false)));
    let (status, mine, _) = api.visit(Method::GET, "vase-drop", visitor, None).await;
    assert_eq!(
        (status, mine["interest"]["quantity"].as_u64()),
        (200, Some(2))
    );

    let (_, view, _) = api.call(Method::GET, "/vase-drop", None).await;
    assert_eq!(
        (
            view["participantCount"].as_u64(),
            view["unitCount"].as_u64()
        ),
        (Some(1), Some(2))
    );
    let (status, closed, _) = api
        .call(
            Method::POST,
            "/vase-drop/close",
            Some(json!({"outcome": "fulfilled"})),
        )
        .await;
    assert_eq!(
        (status, closed["closeOutcome"].as_str()),
        (200, Some("fulfilled")),
        "{closed}"
    );
    let (status, late, _) = api.visit(Method::DELETE, "vase-drop", visitor, None).await;
    assert_eq!(
        (status, late["code"].as_str()),
        (409, Some("GROUP_BUY_CLOSED"))
    );
}

/// Runs the operator tool against the table the local API serves from.
fn operator(args: &[&str]) -> String {
    let bin = std::env::var("OPERATOR_BIN").expect("OPERATOR_BIN (set by scripts/test.sh)");
    let out = std::process::Command::new(bin)
        .args(args)
        .output()
        .expect("the operator tool runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
#[ignore = "needs cargo lambda watch; run by scripts/test.sh"]
async fn an_operator_pat_works_at_once_and_revocation_within_the_delay() {
    let api = Api::new();
    let token = operator(&["pat", "create", "--handle", &api.handle, "--name", "e2e"]);
    assert!(token.starts_with("ghpat_"), "{token}");
    let list = |token: String| {
        api.http
            .get(format!("{}/v2/handles/{}/group-buys", api.base, api.handle))
            .bearer_auth(token)
            .send()
    };
    let works = list(token.clone()).await.expect("answer");
    assert_eq!(works.status().as_u16(), 200);
    let listed = operator(&["pat", "list", "--handle", &api.handle]);
    let id = listed
        .lines()
        .nth(1)
        .and_then(|line| line.split('\t').next())
        .expect("the token is listed")
        .to_owned();
    assert!(!listed.contains(token.rsplit_once('_').map_or("", |(_, s)| s)));
    operator(&["pat", "revoke", "--id", &id]);
    let delay: u64 = std::env::var("PAT_CACHE_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    tokio::time::sleep(std::time::Duration::from_millis(delay * 1000 + 500)).await;
    let revoked = list(token).await.expect("answer");
    assert_eq!(revoked.status().as_u16(), 401);
}
