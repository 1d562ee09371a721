//! End-to-end: the real Lambda binaries behind `cargo lambda watch`, over HTTP.
//! `scripts/test.sh` starts the server and runs these with `E2E_BASE_URL` set; they are
//! ignored by a plain `cargo test`.
//!
//! Smoke mode: with `E2E_PAT` and `E2E_HANDLE` also set, the same tests run against a deployed
//! stage (the deploy workflow does this after each deploy). Owner calls then use that personal
//! access token on that handle instead of a dev HS256 JWT on a new handle; the handle is shared
//! by every run, so slugs get a suffix of their own; API Gateway's per-route
//! throttling is waited out; and the tests that need local powers (the operator tool against
//! the local table) are skipped with a note.

use group_buy::auth::DevClaims;
use group_buy::configuration::DEV_JWT_HS256_SECRET;
use reqwest::header::HeaderMap;
use reqwest::{Client, Method};
use serde_json::{Value, json};

/// How many times a request API Gateway throttled is sent again (smoke mode only).
const THROTTLE_RETRIES: u64 = 6;

struct Api {
    http: Client,
    base: String,
    token: String,
    handle: String,
    /// Against a deployed stage, with `E2E_PAT` on the shared `E2E_HANDLE`.
    smoke: bool,
    /// Random, one per `Api`: this test's own names on a shared handle.
    suffix: String,
}

impl Api {
    fn new() -> Self {
        let base = std::env::var("E2E_BASE_URL").expect("E2E_BASE_URL (set by scripts/test.sh)");
        let suffix = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        if let Some(pat) = std::env::var("E2E_PAT").ok().filter(|v| !v.is_empty()) {
            let handle = std::env::var("E2E_HANDLE").expect("E2E_HANDLE: the handle of E2E_PAT");
            return Self {
                http: Client::new(),
                base,
                token: pat,
                handle,
                smoke: true,
                suffix,
            };
        }
        let secret =
            std::env::var("JWT_HS256_SECRET").unwrap_or_else(|_| DEV_JWT_HS256_SECRET.into());
        let handle = format!("e2e-{suffix}");
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
            smoke: false,
            suffix,
        }
    }

    /// `name` (a slug) as this test's own: unchanged locally, where the handle
    /// is new for every test; with the random suffix in smoke mode, where the handle is shared
    /// by every run.
    fn unique(&self, name: &str) -> String {
        if self.smoke {
            format!("{name}-{}", self.suffix)
        } else {
            name.to_owned()
        }
    }

    /// True, with a note, in smoke mode: for tests that need what only a local run has.
    fn skips_local_only(&self, test: &str, needs: &str) -> bool {
        if self.smoke {
            println!("{test}: skipped against a deployed stage (needs {needs})");
        }
        self.smoke
    }

    /// Sends `request`. In smoke mode a 429 from API Gateway's per-route throttling (it has no
    /// `x-request-id`: no function ran, nothing was written) is waited out and sent again.
    async fn execute(&self, mut request: reqwest::RequestBuilder) -> reqwest::Response {
        for attempt in 1..=THROTTLE_RETRIES {
            let Some(again) = request.try_clone().filter(|_| self.smoke) else {
                break;
            };
            let response = request.send().await.expect("the API answers");
            let throttled = response.status().as_u16() == 429
                && !response.headers().contains_key("x-request-id");
            if !throttled {
                return response;
            }
            tokio::time::sleep(std::time::Duration::from_secs(attempt)).await;
            request = again;
        }
        request.send().await.expect("the API answers")
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

    /// A new visitor pass, as a browser gets one: a challenge, solved, redeemed.
    async fn pass(&self) -> String {
        let url = format!("{}/v2/public/visitor-challenges", self.base);
        let (status, challenge, _) = self.send(self.http.post(url), None).await;
        assert_eq!(status, 201, "{challenge}");
        let salt = challenge["salt"].as_str().expect("salt");
        let difficulty = challenge["difficulty"].as_u64().expect("difficulty") as u32;
        let nonce = group_buy_tests::solve(salt, difficulty);
        let url = format!("{}/v2/public/visitor-passes", self.base);
        let body = json!({"challenge": challenge["challenge"], "nonce": nonce});
        let (status, pass, _) = self.send(self.http.post(url), Some(body)).await;
        assert_eq!(status, 201, "{pass}");
        pass["visitorPass"]
            .as_str()
            .expect("visitorPass")
            .to_owned()
    }

    /// A visitor's call to `my-interest` of `slug`, with the visitor's pass.
    async fn visit(
        &self,
        method: Method,
        slug: &str,
        visitor_pass: &str,
        body: Option<Value>,
    ) -> (u16, Value, HeaderMap) {
        let url = format!(
            "{}/v2/public/group-buys/{}/{slug}/my-interest",
            self.base, self.handle
        );
        let request = self
            .http
            .request(method, url)
            .header("x-visitor-pass", visitor_pass);
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
        let response = self.execute(request).await;
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
    let slug = api.unique("brass-lamp-drop");
    let (status, created, response) = api
        .call(
            Method::POST,
            "",
            Some(json!({
                "slug": slug,
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
            .call(Method::POST, &format!("/{slug}/{verb}"), None)
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
            &format!("/{slug}/close"),
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
            &format!("/{slug}/close"),
            Some(json!({"outcome": "cancelled"})),
        )
        .await;
    assert_eq!(
        (status, closed["closeOutcome"].as_str()),
        (200, Some("cancelled"))
    );

    let (status, view, _) = api
        .call(Method::GET, &format!("/{slug}?include=history"), None)
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
    if api.smoke {
        // Other runs' and tests' group-buys share the handle; the list is newest first.
        let items = list["items"].as_array().expect("items");
        assert!(items.iter().any(|item| item["slug"] == slug), "{list}");
    } else {
        assert_eq!(list["items"][0]["slug"], "brass-lamp-drop");
    }
}

#[tokio::test]
#[ignore = "needs cargo lambda watch; run by scripts/test.sh"]
async fn errors_over_http_are_problem_json() {
    let api = Api::new();
    let response = api
        .execute(
            api.http
                .get(format!("{}/v2/handles/{}/group-buys", api.base, api.handle)),
        )
        .await;
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

/// The origin lock, over HTTP: with `ORIGIN_SECRETS` set (as on every deployed stage, where
/// CloudFront adds the header), a request without an accepted `x-origin-verify` is refused
/// by every function, unmatched paths included, before credentials; with it, each answers as
/// usual. scripts/test.sh runs this against a second stack started with `ORIGIN_SECRETS` and
/// `E2E_ORIGIN_SECRET`; elsewhere (the main end-to-end stack, a deployed stage behind
/// CloudFront) it has nothing to check.
#[tokio::test]
#[ignore = "needs cargo lambda watch with ORIGIN_SECRETS; run by scripts/test.sh"]
async fn the_origin_lock_over_http() {
    let Some(secret) = std::env::var("E2E_ORIGIN_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        println!("the_origin_lock_over_http: skipped (no E2E_ORIGIN_SECRET: no origin lock here)");
        return;
    };
    let api = Api::new();
    let cases: [(Method, String, Option<&str>, u16, &str); 7] = [
        (
            Method::GET,
            format!("/v2/public/group-buys/{}/no-such-drop", api.handle),
            None,
            403,
            "EDGE_REQUIRED",
        ),
        (
            Method::GET,
            format!("/v2/public/group-buys/{}/no-such-drop", api.handle),
            Some("not-the-secret"),
            403,
            "EDGE_REQUIRED",
        ),
        (
            Method::GET,
            format!("/v2/public/group-buys/{}/no-such-drop", api.handle),
            Some(&secret),
            404,
            "GROUP_BUY_NOT_FOUND",
        ),
        (
            Method::GET,
            "/v2/nothing".into(),
            None,
            403,
            "EDGE_REQUIRED",
        ),
        (
            Method::GET,
            "/v2/nothing".into(),
            Some(&secret),
            404,
            "ROUTE_NOT_FOUND",
        ),
        (
            Method::POST,
            "/v2/public/visitor-challenges".into(),
            None,
            403,
            "EDGE_REQUIRED",
        ),
        (
            Method::GET,
            format!("/v2/handles/{}/group-buys", api.handle),
            Some(&secret),
            401,
            "UNAUTHENTICATED",
        ),
    ];
    for (method, path, header, status, code) in cases {
        let what = format!("{method} {path} with {header:?}");
        let mut request = api.http.request(method, format!("{}{path}", api.base));
        if let Some(value) = header {
            request = request.header("x-origin-verify", value);
        }
        let response = request.send().await.expect("the API answers");
        assert_eq!(response.status().as_u16(), status, "{what}");
        let request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .expect("x-request-id");
        let body: Value = response.json().await.expect("problem+json");
        assert_eq!(
            (body["code"].as_str(), body["requestId"].as_str()),
            (Some(code), Some(request_id.as_str())),
            "{what}"
        );
    }
}

/// What no route takes is answered by the API, not by API Gateway or the dev server: a path
/// no route has is 404 `ROUTE_NOT_FOUND`, another method on a route's path is 405
/// `METHOD_NOT_ALLOWED` with `Allow`, both problem+json with the request id.
#[tokio::test]
#[ignore = "needs cargo lambda watch; run by scripts/test.sh"]
async fn unmatched_paths_and_methods_are_problem_json() {
    let api = Api::new();
    let owner_path = format!("/v2/handles/{}/group-buys/spring-vase", api.handle);
    let interest_path = format!(
        "/v2/public/group-buys/{}/spring-vase/my-interest",
        api.handle
    );
    let cases: [(Method, String, u16, &str, Option<&str>); 8] = [
        (Method::GET, "/".into(), 404, "ROUTE_NOT_FOUND", None),
        (Method::GET, "/v2".into(), 404, "ROUTE_NOT_FOUND", None),
        (
            Method::POST,
            "/v3/support/report".into(),
            404,
            "ROUTE_NOT_FOUND",
            None,
        ),
        (
            Method::GET,
            format!("{owner_path}/publish/now"),
            404,
            "ROUTE_NOT_FOUND",
            None,
        ),
        (
            Method::DELETE,
            owner_path.clone(),
            405,
            "METHOD_NOT_ALLOWED",
            Some("GET"),
        ),
        (
            Method::GET,
            format!("{owner_path}/close"),
            405,
            "METHOD_NOT_ALLOWED",
            Some("POST"),
        ),
        (
            Method::PATCH,
            interest_path,
            405,
            "METHOD_NOT_ALLOWED",
            Some("PUT, GET, DELETE"),
        ),
        (
            Method::HEAD,
            "/v2/support/report".into(),
            405,
            "METHOD_NOT_ALLOWED",
            Some("POST"),
        ),
    ];
    for (method, path, status, code, allow) in cases {
        let what = format!("{method} {path}");
        let response = api
            .execute(
                api.http
                    .request(method.clone(), format!("{}{path}", api.base))
                    .bearer_auth(&api.token),
            )
            .await;
        assert_eq!(response.status().as_u16(), status, "{what}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(header("allow").as_deref(), allow, "{what}");
        assert_eq!(
            header("content-type").as_deref(),
            Some("application/problem+json"),
            "{what}"
        );
        let request_id = header("x-request-id").expect("x-request-id");
        if method == Method::HEAD {
            continue; // no body to a HEAD
        }
        let body: Value = response.json().await.expect("a problem body");
        assert_eq!(body["code"], code, "{what}");
        assert_eq!(body["status"], status, "{what}");
        assert_eq!(body["requestId"], request_id, "{what}");
    }
}

/// CORS (API.md, Conventions) as a browser meets it: a storefront origin's preflight of
/// `PUT my-interest` is answered, and the public answers let that origin (only) read them;
/// owner routes answer no CORS, to a storefront or anyone.
#[tokio::test]
#[ignore = "needs cargo lambda watch; run by scripts/test.sh"]
async fn public_routes_answer_cors_for_the_storefronts_only() {
    let api = Api::new();
    if api.skips_local_only(
        "public_routes_answer_cors_for_the_storefronts_only",
        "the local storefront origins",
    ) {
        return;
    }
    let storefront = "http://127.0.0.1:9080";
    let stranger = "https://shop.example.net";
    let allow_origin = |headers: &HeaderMap| {
        headers
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (status, _, _) = api
        .call(
            Method::POST,
            "",
            Some(
                json!({"slug": "cors-drop", "title": "Lamp", "currency": "INR",
                "unitPriceMinor": 99900, "minParticipants": 1}),
            ),
        )
        .await;
    assert_eq!(status, 201);
    api.call(Method::POST, "/cors-drop/publish", None).await;
    let interest = format!(
        "{}/v2/public/group-buys/{}/cors-drop/my-interest",
        api.base, api.handle
    );
    let preflight = |origin: &str| {
        api.http
            .request(Method::OPTIONS, &interest)
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header(
                "access-control-request-headers",
                "content-type, x-visitor-pass",
            )
    };
    let answer = api.execute(preflight(storefront)).await;
    assert_eq!(answer.status().as_u16(), 204);
    let headers = answer.headers().clone();
    assert_eq!(allow_origin(&headers).as_deref(), Some(storefront));
    let allowed_headers = headers["access-control-allow-headers"]
        .to_str()
        .unwrap_or_default();
    assert!(
        allowed_headers.contains("x-visitor-pass"),
        "{allowed_headers}"
    );
    assert!(
        headers["access-control-allow-methods"]
            .to_str()
            .is_ok_and(|m| m.contains("PUT"))
    );
    let refused = api.execute(preflight(stranger)).await;
    assert_eq!(allow_origin(refused.headers()), None);

    let pass = api.pass().await;
    let registered = api
        .execute(
            api.http
                .put(&interest)
                .header("origin", storefront)
                .header("x-visitor-pass", &pass)
                .json(&json!({"quantity": 1})),
        )
        .await;
    assert_eq!(registered.status().as_u16(), 201);
    let headers = registered.headers();
    assert_eq!(allow_origin(headers).as_deref(), Some(storefront));
    assert!(
        headers["access-control-expose-headers"]
            .to_str()
            .is_ok_and(|h| h.contains("x-request-id"))
    );
    assert!(headers.get_all("vary").iter().any(|v| v == "Origin"));
    let public = format!("{}/v2/public/group-buys/{}/cors-drop", api.base, api.handle);
    let read = api
        .execute(api.http.get(&public).header("origin", stranger))
        .await;
    assert_eq!(
        (read.status().as_u16(), allow_origin(read.headers())),
        (200, None)
    );

    let owner = api
        .execute(
            api.http
                .get(format!(
                    "{}/v2/handles/{}/group-buys/cors-drop",
                    api.base, api.handle
                ))
                .bearer_auth(&api.token)
                .header("origin", storefront),
        )
        .await;
    assert_eq!(
        (owner.status().as_u16(), allow_origin(owner.headers())),
        (200, None)
    );
    let owner_preflight = api
        .execute(
            api.http
                .request(
                    Method::OPTIONS,
                    format!(
                        "{}/v2/handles/{}/group-buys/cors-drop/close",
                        api.base, api.handle
                    ),
                )
                .header("origin", storefront)
                .header("access-control-request-method", "POST"),
        )
        .await;
    assert_eq!(owner_preflight.status().as_u16(), 405);
    assert_eq!(allow_origin(owner_preflight.headers()), None);
}

#[tokio::test]
#[ignore = "needs cargo lambda watch; run by scripts/test.sh"]
async fn the_public_walkthrough_over_http() {
    let api = Api::new();
    let slug = api.unique("vase-drop");
    let (status, _, _) = api
        .call(
            Method::POST,
            "",
            Some(json!({
                "slug": slug, "title": "Vase", "currency": "INR",
                "unitPriceMinor": 99900, "minParticipants": 1, "maxQuantityPerParticipant": 3
            })),
        )
        .await;
    assert_eq!(status, 201);
    let public = format!("{}/v2/public/group-buys/{}/{slug}", api.base, api.handle);
    let draft = api.execute(api.http.get(&public)).await;
    assert_eq!(draft.status().as_u16(), 404, "drafts are not public");
    api.call(Method::POST, &format!("/{slug}/publish"), None)
        .await;
    let page = api.execute(api.http.get(&public)).await;
    assert_eq!(page.status().as_u16(), 200);

    let visitor = &api.pass().await;
    let (status, first, _) = api
        .visit(Method::PUT, &slug, visitor, Some(json!({"quantity": 2})))
        .await;
    assert_eq!(
        (status, first["created"].as_bool()),
        (201, Some(true)),
        "{first}"
    );
    let (status, retry, _) = api
        .visit(Method::PUT, &slug, visitor, Some(json!({"quantity": 2})))
        .await;
    assert_eq!((status, retry["created"].as_bool()), (200, Some(false)));
    let (status, mine, _) = api.visit(Method::GET, &slug, visitor, None).await;
    assert_eq!(
        (status, mine["interest"]["quantity"].as_u64()),
        (200, Some(2))
    );

    let (_, view, _) = api.call(Method::GET, &format!("/{slug}"), None).await;
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
            &format!("/{slug}/close"),
            Some(json!({"outcome": "fulfilled"})),
        )
        .await;
    assert_eq!(
        (status, closed["closeOutcome"].as_str()),
        (200, Some("fulfilled")),
        "{closed}"
    );
    let (status, late, _) = api.visit(Method::DELETE, &slug, visitor, None).await;
    assert_eq!(
        (status, late["code"].as_str()),
        (409, Some("GROUP_BUY_CLOSED"))
    );
}

/// Runs the operator tool against the table the local API serves from (`--local`: DynamoDB
/// Local, `TABLE_NAME` and `DYNAMODB_ENDPOINT` as scripts/test.sh set them).
fn operator(args: &[&str]) -> String {
    let bin = std::env::var("OPERATOR_BIN").expect("OPERATOR_BIN (set by scripts/test.sh)");
    let out = std::process::Command::new(bin)
        .arg("--local")
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
    if api.skips_local_only(
        "an_operator_pat_works_at_once_and_revocation_within_the_delay",
        "the operator tool on the local table and a short PAT_CACHE_SECONDS",
    ) {
        return;
    }
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

/// The local stack runs the deployed schedule's work every few seconds
/// (`LOCAL_SCHEDULE_SECONDS`, `gharart-operator --local schedule`): a published group-buy
/// whose deadline passes closes by itself, as the scheduler, with nobody running the expiry.
#[tokio::test]
#[ignore = "needs cargo lambda watch; run by scripts/test.sh"]
async fn a_passed_deadline_closes_by_itself() {
    let api = Api::new();
    if api.skips_local_only(
        "a_passed_deadline_closes_by_itself",
        "a schedule of a few seconds",
    ) {
        return;
    }
    // The first request of a function makes `cargo lambda watch` start it, which can take
    // longer than the deadline below: a group-buy without one goes first.
    let (status, _, _) = api
        .call(
            Method::POST,
            "",
            Some(json!({
                "slug": "warm-up-drop", "title": "Warm-up", "currency": "INR",
                "unitPriceMinor": 1, "minParticipants": 1
            })),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _, _) = api.call(Method::POST, "/warm-up-drop/publish", None).await;
    assert_eq!(status, 200);
    let closes_at = (chrono::Utc::now() + chrono::Duration::seconds(5))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let (status, created, _) = api
        .call(
            Method::POST,
            "",
            Some(json!({
                "slug": "clock-drop", "title": "Wall clock", "currency": "INR",
                "unitPriceMinor": 149900, "minParticipants": 2, "closesAt": closes_at
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (status, published, _) = api.call(Method::POST, "/clock-drop/publish", None).await;
    assert_eq!(status, 200, "{published}");
    // The deadline, then at most a few schedule periods.
    let mut view = Value::Null;
    for _ in 0..60 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let (status, body, _) = api
            .call(Method::GET, "/clock-drop?include=history", None)
            .await;
        assert_eq!(status, 200, "{body}");
        view = body;
        if view["status"] == "closed" {
            break;
        }
    }
    assert_eq!(
        (view["status"].as_str(), view["closeOutcome"].as_str()),
        (Some("closed"), Some("expired")),
        "{view}"
    );
    let last = &view["history"][view["history"].as_array().map_or(0, Vec::len) - 1];
    assert_eq!(
        (last["action"].as_str(), last["actor"].as_str()),
        (Some("expire"), Some("scheduler")),
        "{view}"
    );
}

/// Runs the repository's verifier on `url` (a campaign's public URL); its exit code.
fn verify_draw(url: &str) -> (i32, String) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = std::process::Command::new("python3")
        .arg(format!("{root}/scripts/verify-draw.py"))
        .arg(url)
        .output()
        .expect("python3 runs the verifier");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Serves `view` at any path and `list` at any path with `/draw` in it: a campaign as a
/// tampering host would show it. Returns its base URL.
async fn serve_tampered(view: Value, list: Value) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = vec![0u8; 8192];
            let read = socket.read(&mut request).await.unwrap_or(0);
            let line = String::from_utf8_lossy(&request[..read]).to_string();
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let body = if path.contains("/draw") { &list } else { &view }.to_string();
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    base
}

// Two threads: the tampering host keeps serving while the verifier (a blocking child
// process) runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs cargo lambda watch; run by scripts/test.sh"]
async fn a_scheduled_draw_passes_the_verifier_and_a_tampered_list_fails_it() {
    let api = Api::new();
    if api.skips_local_only(
        "a_scheduled_draw_passes_the_verifier",
        "a schedule of a few seconds",
    ) {
        return;
    }
    let mut visitors = Vec::new();
    for _ in 0..6 {
        visitors.push(api.pass().await);
    }
    // Room for the entries below on a loaded machine: an entry after drawAt is no entry.
    let draw_at = (chrono::Utc::now() + chrono::Duration::seconds(20))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let (status, created, _) = api
        .call(
            Method::POST,
            "",
            Some(json!({
                "slug": "lamp-draw", "title": "Lamp draw", "currency": "INR",
                "unitPriceMinor": 99900, "minParticipants": 1, "maxParticipants": 2,
                "waitlistLimit": 1, "allocation": "draw", "drawAt": draw_at
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (status, published, _) = api.call(Method::POST, "/lamp-draw/publish", None).await;
    assert_eq!(status, 200, "{published}");
    let public = format!("{}/v2/public/group-buys/{}/lamp-draw", api.base, api.handle);
    let (code, text) = verify_draw(&public);
    assert_eq!(code, 2, "not drawn yet: {text}");
    let mut tickets = Vec::new();
    for visitor in &visitors {
        let (status, entered, _) = api.visit(Method::PUT, "lamp-draw", visitor, None).await;
        assert_eq!(status, 202, "{entered}");
        tickets.push(
            entered["entry"]["ticket"]
                .as_str()
                .expect("ticket")
                .to_owned(),
        );
    }
    // drawAt, then at most a few schedule periods.
    let mut view = Value::Null;
    for _ in 0..80 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let (_, body, _) = api.call(Method::GET, "/lamp-draw", None).await;
        view = body;
        if view["draw"]["drawnAt"].is_string() {
            break;
        }
    }
    assert_eq!(view["draw"]["winnerCount"], 2, "{view}");
    let (code, text) = verify_draw(&public);
    assert_eq!(code, 0, "{text}");
    // A list with two ranks swapped, served as the campaign: the verifier must fail.
    let list_url = format!("{public}/draw?limit=100");
    let mut list: Value = api
        .execute(api.http.get(&list_url))
        .await
        .json()
        .await
        .expect("the list");
    let first = list["items"][0]["ticket"].clone();
    list["items"][0]["ticket"] = list["items"][1]["ticket"].clone();
    list["items"][1]["ticket"] = first;
    let view: Value = api
        .execute(api.http.get(&public))
        .await
        .json()
        .await
        .expect("the view");
    let tampered = serve_tampered(view, list).await;
    let (code, text) = verify_draw(&format!("{tampered}/v2/public/group-buys/x/y"));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAILED"), "{text}");
    // Each entrant finds their ticket in the verified list.
    let (status, mine, _) = api
        .visit(Method::GET, "lamp-draw", &visitors[0], None)
        .await;
    assert_eq!(status, 200, "{mine}");
    assert!(tickets.contains(&mine["entry"]["ticket"].as_str().expect("t").to_owned()));
}
