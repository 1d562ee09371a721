//! Test support shared by the integration and concurrency tests (zero2prod's
//! `tests/api/helpers.rs`): spawns the application against a fresh table in DynamoDB Local
//! and drives its handlers with real API Gateway (HTTP API, payload 2.0) events.

pub mod iam;
pub mod proxy;
pub mod stream;

use aws_sdk_dynamodb::types::AttributeValue;
use futures::StreamExt;
use group_buy::App;
use group_buy::auth::DevClaims;
use group_buy::aws::dynamodb_client;
use group_buy::configuration::{DEV_JWT_HS256_SECRET, Settings};
use group_buy::http::visitor_pass::solves;
use group_buy::table::{self, ChangeStream};
use group_buy::{Access, Route};
use lambda_http::Body;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::OnceCell;

pub const HANDLE: &str = "acme-decor";
pub const OWNER_SCOPES: &str = "group-buys:read group-buys:write";

pub fn dynamodb_endpoint() -> String {
    std::env::var("DYNAMODB_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:8000".into())
}

pub struct TestApp {
    pub app: App,
    pub table: String,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

pub struct TestResponse {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub body: Value,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The problem+json `code`, for error assertions.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }
}

/// Settings for a test: the documented local defaults, a fresh table, and `overrides`.
pub fn test_settings(overrides: &[(&str, &str)]) -> Settings {
    let table = format!("test-{}", uuid::Uuid::new_v4());
    let mut vars: HashMap<String, String> = HashMap::from([
        ("TABLE_NAME".into(), table),
        ("DYNAMODB_ENDPOINT".into(), dynamodb_endpoint()),
        // Passes cost the tests a few hundred hashes each, not a quarter of a million.
        (
            "VISITOR_PASS_DIFFICULTY".into(),
            TEST_PASS_DIFFICULTY.to_string(),
        ),
    ]);
    vars.extend(
        overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    Settings::from_lookup(|name| vars.get(name).cloned()).expect("test settings")
}

/// The difficulty of the tests' visitor challenges (the service's default is 18).
pub const TEST_PASS_DIFFICULTY: u32 = 8;

pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_settings(&[])).await
}

/// The app over a table with its change stream, for the tests that follow the events.
pub async fn spawn_app_with_events() -> TestApp {
    spawn_app_on(test_settings(&[]), ChangeStream::On).await
}

/// The app over a fresh table without a change stream (see `table::ChangeStream::Off`).
pub async fn spawn_app_with(settings: Settings) -> TestApp {
    spawn_app_on(settings, ChangeStream::Off).await
}

async fn spawn_app_on(settings: Settings, change_stream: ChangeStream) -> TestApp {
    // As in zero2prod: logs only when asked for (`TEST_LOG=1 cargo test …`).
    if std::env::var_os("TEST_LOG").is_some() {
        group_buy::telemetry::init();
    }
    let dynamodb = dynamodb_client(&settings).await;
    table::create_with(&dynamodb, &settings.table_name, change_stream)
        .await
        .expect("DynamoDB Local is running (see README: Tests)");
    let table = settings.table_name.clone();
    TestApp {
        app: App::new(settings).await.expect("app"),
        table,
        dynamodb,
    }
}

/// The app over a table that was never created: DynamoDB answers every call with
/// `ResourceNotFoundException`, a misconfiguration no retry cures.
pub async fn app_without_its_table() -> App {
    let table = format!("no-such-table-{}", uuid::Uuid::new_v4());
    App::new(test_settings(&[("TABLE_NAME", &table)]))
        .await
        .expect("app")
}

/// Requests in flight at once in the concurrency tests: enough for every race they aim at
/// (a visitor's three sends are adjacent, so always in flight together), few enough that
/// DynamoDB Local, one JVM on a 2-core machine, answers within the SDK's timeouts.
pub const IN_FLIGHT: usize = 300;

/// Runs `requests` with at most `IN_FLIGHT` at once; the answers come in request order.
pub async fn concurrently<F: Future>(requests: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    futures::stream::iter(requests)
        .buffered(IN_FLIGHT)
        .collect()
        .await
}

/// Concurrency tests take turns: each loads DynamoDB Local as much as it can take alone.
pub async fn exclusive() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

pub fn token(sub: &str, handles: &[&str], scope: &str) -> String {
    DevClaims::new(sub, handles, scope, 600)
        .sign_hs256(DEV_JWT_HS256_SECRET)
        .expect("signed token")
}

pub fn admin_token() -> String {
    let mut claims = DevClaims::new("admin-1", &[], "", 600);
    claims.roles = vec!["platform-admin".into()];
    claims
        .sign_hs256(DEV_JWT_HS256_SECRET)
        .expect("signed token")
}

pub fn owner_token() -> String {
    token("owner-1", &[HANDLE], OWNER_SCOPES)
}

/// A public visitor, as the tests play one.
#[derive(Clone, Debug)]
pub enum Visitor {
    /// A visitor pass, obtained through the two pass routes (the challenge solved) the first
    /// time the visitor sends a request, and kept for every later one.
    Anonymous(Arc<OnceCell<String>>),
    /// `X-Visitor-Pass` with exactly this value (tests of bad passes).
    Pass(String),
    User(String),
}

impl Visitor {
    pub fn anonymous() -> Self {
        Self::Anonymous(Arc::default())
    }

    pub fn user(sub: &str) -> Self {
        Self::User(token(sub, &[], ""))
    }

    pub fn identify(&self, call: Call) -> Call {
        match self {
            Self::Anonymous(_) => Call {
                visitor: Some(self.clone()),
                ..call
            },
            Self::Pass(pass) => call.header("x-visitor-pass", pass),
            Self::User(token) => call.bearer(token),
        }
    }

    /// The visitor's pass, obtained from `app` the first time; `None` for a signed-in user.
    pub async fn pass(&self, app: &App) -> Option<String> {
        match self {
            Self::Anonymous(cell) => Some(cell.get_or_init(|| obtain_pass(app)).await.clone()),
            Self::Pass(pass) => Some(pass.clone()),
            Self::User(_) => None,
        }
    }
}

/// The nonce that solves a challenge: the first decimal integer whose SHA-256 of
/// `salt + nonce` starts with `difficulty` zero bits.
pub fn solve(salt: &str, difficulty: u32) -> String {
    (0u64..)
        .map(|n| n.to_string())
        .find(|nonce| solves(salt, nonce, difficulty))
        .expect("a nonce")
}

/// A challenge from `app`, answered 201.
pub async fn challenge(app: &App) -> Value {
    let call = Call::new(
        Route::IssueVisitorChallenge,
        "/v2/public/visitor-challenges",
    );
    let response = send_event(app, call, None).await;
    assert_eq!(response.status, 201, "{}", response.body);
    response.body
}

/// Redeems `challenge` with `nonce` at `app`.
pub async fn redeem(app: &App, challenge: &str, nonce: &str) -> TestResponse {
    let call = Call::new(Route::IssueVisitorPass, "/v2/public/visitor-passes")
        .json(&json!({"challenge": challenge, "nonce": nonce}));
    send_event(app, call, None).await
}

/// How many challenges a test visitor solves at most before giving up on a pass.
const PASS_ATTEMPTS: usize = 5;

/// A new visitor pass from `app`, through both routes, the challenge solved as a browser
/// would. A 503 (DynamoDB Local slowed by hundreds of concurrent visitors) is handled as a
/// client does: with a new challenge, since the lost redemption may have used the old one.
pub async fn obtain_pass(app: &App) -> String {
    for _ in 1..PASS_ATTEMPTS {
        let challenge = challenge(app).await;
        let salt = challenge["salt"].as_str().expect("salt");
        let difficulty = challenge["difficulty"].as_u64().expect("difficulty") as u32;
        let nonce = solve(salt, difficulty);
        let token = challenge["challenge"].as_str().expect("challenge");
        let redeemed = redeem(app, token, &nonce).await;
        if redeemed.status == 503 {
            continue;
        }
        assert_eq!(redeemed.status, 201, "{}", redeemed.body);
        return redeemed.body["visitorPass"]
            .as_str()
            .expect("visitorPass")
            .to_owned();
    }
    panic!("no visitor pass after {PASS_ATTEMPTS} challenges: DynamoDB Local kept answering 503");
}

/// A request to send through a route's handler.
pub struct Call {
    route: Route,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
    gateway_path_parameters: bool,
    /// An anonymous visitor whose pass is added when the call is sent.
    visitor: Option<Visitor>,
}

impl Call {
    /// A well-formed request to `route` for `slug` of the test handle: path and body, no
    /// credentials.
    pub fn well_formed(route: Route, slug: &str) -> Self {
        let path = route
            .path()
            .replace("{handle}", HANDLE)
            .replace("{groupBuySlug}", slug);
        let call = Self::new(route, path);
        match route {
            Route::CreateGroupBuy => call.json(&json!({
                "slug": slug, "title": "Lamp", "currency": "INR",
                "unitPriceMinor": 1, "minParticipants": 1
            })),
            Route::SubmitSupportReport => {
                call.json(&json!({"summary": "Close refused", "details": "409 on close"}))
            }
            Route::ExtendGroupBuy => call.json(&json!({"closesAt": "2099-12-31T18:30:00.000Z"})),
            Route::IssueVisitorPass => call.json(&json!({"challenge": "c1.x.8.0.x", "nonce": "0"})),
            _ => call,
        }
    }

    /// `well_formed`, with the credentials the route expects: the owner's token, a visitor
    /// pass (obtained when sent), an admin's token, or none.
    pub fn authorized(route: Route, slug: &str) -> Self {
        let call = Self::well_formed(route, slug);
        match route.access() {
            Access::Owner(_) => call.bearer(&owner_token()),
            Access::Public => call,
            Access::PlatformAdmin => call.bearer(&admin_token()),
            Access::Visitor | Access::Caller => Visitor::anonymous().identify(call),
        }
    }

    pub fn new(route: Route, path: impl Into<String>) -> Self {
        Self {
            route,
            path: path.into(),
            query: String::new(),
            headers: Vec::new(),
            body: None,
            gateway_path_parameters: true,
            visitor: None,
        }
    }

    pub fn query(mut self, query: &str) -> Self {
        self.query = query.into();
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn json(self, body: &Value) -> Self {
        self.raw_body("application/json", &body.to_string())
    }

    pub fn raw_body(mut self, content_type: &str, body: &str) -> Self {
        self.body = Some(body.into());
        self.header("content-type", content_type)
    }

    /// Leave out `pathParameters`, as a Function URL or `cargo lambda watch` does.
    pub fn without_gateway_path_parameters(mut self) -> Self {
        self.gateway_path_parameters = false;
        self
    }

    pub fn event(&self, request_id: &str) -> Value {
        let path_parameters = if self.gateway_path_parameters {
            json!(self.route.match_path(&self.path).unwrap_or_default())
        } else {
            Value::Null
        };
        let headers: serde_json::Map<String, Value> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let route_key = format!("{} {}", self.route.method(), self.route.path());
        json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": self.path,
            "rawQueryString": self.query,
            "headers": headers,
            "pathParameters": path_parameters,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "testapi",
                "domainName": "testapi.execute-api.eu-west-1.amazonaws.com",
                "domainPrefix": "testapi",
                "http": {
                    "method": self.route.method(),
                    "path": self.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "192.0.2.1",
                    "userAgent": "group-buy-tests"
                },
                "requestId": request_id,
                "routeKey": route_key,
                "stage": "$default",
                "time": "24/Nov/2026:18:00:00 +0000",
                "timeEpoch": 1795629600000u64
            },
            "body": self.body,
            "isBase64Encoded": false
        })
    }
}

/// Sends `call` through `app` as API Gateway would, checking the request id it answers with.
pub async fn send(app: &App, call: Call) -> TestResponse {
    send_by(app, call, None).await
}

/// As `send`, in an invocation whose Lambda deadline is `deadline_epoch_millis`.
pub async fn send_by(
    app: &App,
    mut call: Call,
    deadline_epoch_millis: Option<u64>,
) -> TestResponse {
    if let Some(visitor) = call.visitor.take()
        && let Some(pass) = visitor.pass(app).await
    {
        call = call.header("x-visitor-pass", &pass);
    }
    send_event(app, call, deadline_epoch_millis).await
}

/// Sends `call` as it is (a visitor's pass already in its headers).
async fn send_event(app: &App, call: Call, deadline_epoch_millis: Option<u64>) -> TestResponse {
    use lambda_http::RequestExt;
    let request_id = uuid::Uuid::new_v4().to_string();
    let event = call.event(&request_id).to_string();
    let mut request = lambda_http::request::from_str(&event).expect("a valid API Gateway event");
    if let Some(deadline) = deadline_epoch_millis {
        let mut context = lambda_http::Context::default();
        context.deadline = deadline;
        request = request.with_lambda_context(context);
    }
    let response = app.handle(call.route, request).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let csv = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv"));
    let body = match response.body() {
        Body::Empty => Value::Null,
        // A CSV body is kept as its text.
        other if csv => Value::String(String::from_utf8_lossy(other.as_ref()).into_owned()),
        other => serde_json::from_slice(other.as_ref()).expect("JSON response body"),
    };
    assert_eq!(
        headers.get("x-request-id").and_then(|v| v.to_str().ok()),
        Some(request_id.as_str()),
        "every response carries the API Gateway request id"
    );
    TestResponse {
        status,
        headers,
        body,
    }
}

impl TestApp {
    pub async fn send(&self, call: Call) -> TestResponse {
        send(&self.app, call).await
    }

    /// `n` anonymous visitors holding their passes already, obtained a few at a time: a
    /// burst of hundreds of visitors then sends only the requests the test is about, not
    /// hundreds of redemptions besides, which slow DynamoDB Local past the client's timeouts.
    pub async fn visitors(&self, n: usize) -> Vec<Visitor> {
        let visitors: Vec<Visitor> = (0..n).map(|_| Visitor::anonymous()).collect();
        futures::stream::iter(&visitors)
            .for_each_concurrent(8, |v| async move {
                v.pass(&self.app).await;
            })
            .await;
        visitors
    }

    pub async fn create(&self, body: &Value) -> TestResponse {
        self.send(
            Call::new(
                Route::CreateGroupBuy,
                format!("/v2/handles/{HANDLE}/group-buys"),
            )
            .bearer(&owner_token())
            .json(body),
        )
        .await
    }

    /// Creates a draft with `slug` and a threshold of `min` participants.
    pub async fn draft(&self, slug: &str, min: u32) -> Value {
        let created = self
            .create(&json!({
                "slug": slug,
                "title": format!("Limited edition {slug}"),
                "currency": "INR",
                "unitPriceMinor": 249900,
                "minParticipants": min
            }))
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        created.body
    }

    pub async fn get(&self, slug: &str, query: &str) -> TestResponse {
        self.send(
            Call::new(
                Route::GetGroupBuy,
                format!("/v2/handles/{HANDLE}/group-buys/{slug}"),
            )
            .query(query)
            .bearer(&owner_token()),
        )
        .await
    }

    /// POSTs `publish`, `pause`, `close` or `extend` (with `body`) for `slug`.
    pub async fn transition(&self, slug: &str, route: Route, body: Option<&Value>) -> TestResponse {
        let verb = route.path().rsplit('/').next().unwrap_or_default();
        let call = Call::new(
            route,
            format!("/v2/handles/{HANDLE}/group-buys/{slug}/{verb}"),
        )
        .bearer(&owner_token());
        self.send(match body {
            Some(body) => call.json(body),
            None => call,
        })
        .await
    }

    /// Creates a group-buy from `overrides` on a minimal body and publishes it.
    pub async fn published(&self, slug: &str, overrides: Value) -> Value {
        let mut body = json!({
            "slug": slug, "title": format!("Limited edition {slug}"), "currency": "INR",
            "unitPriceMinor": 249900, "minParticipants": 1, "maxQuantityPerParticipant": 5
        });
        if let (Some(body), Value::Object(overrides)) = (body.as_object_mut(), overrides) {
            body.extend(overrides);
        }
        let created = self.create(&body).await;
        assert_eq!(created.status, 201, "{}", created.body);
        let published = self.transition(slug, Route::PublishGroupBuy, None).await;
        assert_eq!(published.status, 200, "{}", published.body);
        published.body
    }

    /// A `my-interest` request for `slug` by `visitor`.
    pub fn my_interest(route: Route, slug: &str, visitor: &Visitor) -> Call {
        let call = Call::new(
            route,
            format!("/v2/public/group-buys/{HANDLE}/{slug}/my-interest"),
        );
        visitor.identify(call)
    }

    pub async fn register(
        &self,
        slug: &str,
        visitor: &Visitor,
        quantity: Option<u32>,
    ) -> TestResponse {
        self.send(Self::registration(slug, visitor, quantity)).await
    }

    /// `PUT my-interest`, with `quantity` in the body when given.
    fn registration(slug: &str, visitor: &Visitor, quantity: Option<u32>) -> Call {
        let call = Self::my_interest(Route::RegisterInterest, slug, visitor);
        match quantity {
            Some(q) => call.json(&json!({ "quantity": q })),
            None => call,
        }
    }

    /// Sends `call()`, and again while the answer is 503 (`Retry-After`): what the contract
    /// asks of a well-behaved client in a burst on one group-buy. A 503 can follow a write
    /// that committed (a timeout), so the retry may see `created: false`; exactly-once is
    /// about the records and counters, not the statuses. Backoff is exponential with full jitter (100 ms doubling
    /// to a 2 s cap, 20 attempts): fixed 200 ms steps kept 900 retries in lockstep on one
    /// tally item and ran out of attempts on a slower CI machine.
    pub async fn send_retrying(&self, call: impl Fn() -> Call) -> TestResponse {
        let mut response = self.send(call()).await;
        for attempt in 0..20u32 {
            if response.status != 503 {
                break;
            }
            let ceiling_ms = (100u64 << attempt.min(5)).min(2_000);
            let jitter = uuid::Uuid::new_v4().as_u128() as u64 % ceiling_ms;
            tokio::time::sleep(std::time::Duration::from_millis(jitter + 1)).await;
            response = self.send(call()).await;
        }
        response
    }

    pub async fn register_retrying(
        &self,
        slug: &str,
        visitor: &Visitor,
        quantity: Option<u32>,
    ) -> TestResponse {
        self.send_retrying(|| Self::registration(slug, visitor, quantity))
            .await
    }

    pub async fn withdraw_retrying(&self, slug: &str, visitor: &Visitor) -> TestResponse {
        self.send_retrying(|| Self::my_interest(Route::WithdrawInterest, slug, visitor))
            .await
    }

    pub async fn withdraw(&self, slug: &str, visitor: &Visitor) -> TestResponse {
        self.send(Self::my_interest(Route::WithdrawInterest, slug, visitor))
            .await
    }

    /// One run of `slug`'s draw as the schedule starts it: the group-buy read, then the draw,
    /// with a minute to run.
    pub async fn run_draw(
        &self,
        slug: &str,
        request_id: &str,
    ) -> Result<group_buy::store::DrawRun, group_buy::store::StoreError> {
        let handle = group_buy::domain::Handle::parse(HANDLE).expect("handle");
        let slug = group_buy::domain::Slug::parse(slug).expect("slug");
        let gb = self
            .app
            .store
            .get(&handle, &slug)
            .await?
            .expect("the group-buy");
        let ample = group_buy::deadline::Deadline::after(std::time::Duration::from_secs(60));
        self.app
            .store
            .run_draw(
                &gb,
                group_buy::domain::Timestamp::now(),
                ample,
                "test",
                request_id,
            )
            .await
    }

    /// Every interest record of `slug`, through the owner route, all pages.
    pub async fn interests(&self, slug: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut query = "limit=100".to_owned();
        loop {
            let page = self
                .send(
                    Call::new(
                        Route::ListInterests,
                        format!("/v2/handles/{HANDLE}/group-buys/{slug}/interests"),
                    )
                    .query(&query)
                    .bearer(&owner_token()),
                )
                .await;
            assert_eq!(page.status, 200, "{}", page.body);
            all.extend(page.body["items"].as_array().cloned().unwrap_or_default());
            match page.body["nextCursor"].as_str() {
                Some(cursor) => query = format!("limit=100&cursor={cursor}"),
                None => return all,
            }
        }
    }

    /// Asserts the counters of `slug` equal a recount of its interest records.
    pub async fn assert_counters_match_records(&self, slug: &str) -> (u64, u64) {
        let records = self.interests(slug).await;
        let units: u64 = records.iter().filter_map(|r| r["quantity"].as_u64()).sum();
        let gb = self.get(slug, "").await.body;
        assert_eq!(
            gb["participantCount"].as_u64(),
            Some(records.len() as u64),
            "participants"
        );
        assert_eq!(gb["unitCount"].as_u64(), Some(units), "units");
        (records.len() as u64, units)
    }

    /// Issues a personal access token as the operator tool does; returns the token and its id.
    pub async fn issue_pat(
        &self,
        handle: &str,
        scopes: &[&str],
        expires_at: Option<group_buy::domain::Timestamp>,
    ) -> (String, String) {
        let issued = group_buy::auth::pat::IssuedPat::new(
            group_buy::domain::Handle::parse(handle).expect("handle"),
            "test",
            scopes.iter().map(|s| s.to_string()).collect(),
            expires_at,
        )
        .expect("issued");
        self.app
            .store
            .create_pat(&issued.record)
            .await
            .expect("stored");
        (issued.token, issued.record.id)
    }

    /// Sets the participant count directly, standing in for interest registrations.
    pub async fn set_participants(&self, slug: &str, count: u32) {
        self.dynamodb
            .update_item()
            .table_name(&self.table)
            .key("PK", AttributeValue::S(format!("GB#{HANDLE}#{slug}")))
            .key("SK", AttributeValue::S("GB#TALLY".into()))
            .update_expression("SET participantCount = :n")
            .expression_attribute_values(":n", AttributeValue::N(count.to_string()))
            .send()
            .await
            .expect("participant count set");
    }

    /// The admin rollup's summary, recounted from every group-buy in the table (a scan: what
    /// the service itself must never need).
    pub async fn recount_summary(&self) -> Value {
        let number = |item: &HashMap<String, AttributeValue>, name: &str| match item.get(name) {
            Some(AttributeValue::N(v)) => v.parse::<i64>().unwrap_or(0),
            _ => 0,
        };
        let mut by_status: HashMap<String, i64> = ["draft", "published", "paused", "closed"]
            .into_iter()
            .map(|s| (s.to_owned(), 0))
            .collect();
        let (mut participants, mut units, mut threshold_met) = (0, 0, 0);
        for item in self.all_items().await {
            let sort_key = match item.get("SK") {
                Some(AttributeValue::S(sk)) => sk.as_str(),
                _ => continue,
            };
            // The status from each group-buy's own item, the counters from its tally.
            if sort_key == "GB"
                && let Some(AttributeValue::S(status)) = item.get("status")
            {
                *by_status.entry(status.clone()).or_default() += 1;
            }
            if sort_key == "GB#TALLY" {
                participants += number(&item, "participantCount");
                units += number(&item, "unitCount");
                threshold_met += i64::from(
                    number(&item, "participantCount") >= number(&item, "minParticipants"),
                );
            }
        }
        json!({
            "byStatus": by_status,
            "participants": participants,
            "units": units,
            "thresholdMet": threshold_met,
        })
    }

    /// The admin rollup as a platform admin sees it.
    pub async fn admin(&self, query: &str) -> TestResponse {
        self.send(
            Call::new(Route::AdminGroupBuys, "/v2/platform-admin/group-buys")
                .query(query)
                .bearer(&admin_token()),
        )
        .await
    }

    /// The stored item `SK` of `slug`'s group-buy (`GB`, `GB#TALLY`, …), as DynamoDB has it.
    pub async fn item(&self, slug: &str, sort_key: &str) -> HashMap<String, AttributeValue> {
        self.dynamodb
            .get_item()
            .table_name(&self.table)
            .key("PK", AttributeValue::S(format!("GB#{HANDLE}#{slug}")))
            .key("SK", AttributeValue::S(sort_key.into()))
            .consistent_read(true)
            .send()
            .await
            .expect("get item")
            .item
            .unwrap_or_default()
    }

    /// Every item in the table, to assert that a refused request changed nothing.
    pub async fn all_items(&self) -> Vec<HashMap<String, AttributeValue>> {
        self.dynamodb
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .send()
            .await
            .expect("scan")
            .items
            .unwrap_or_default()
    }
}
