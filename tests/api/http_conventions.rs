use group_buy::Route;
use group_buy_tests::{Call, HANDLE, owner_token, send, spawn_app, test_settings};

#[tokio::test]
async fn a_correlation_id_is_echoed() {
    let app = spawn_app().await;
    let response = app
        .send(
            Call::new(
                Route::ListGroupBuys,
                format!("/v2/handles/{HANDLE}/group-buys"),
            )
            .bearer(&owner_token())
            .header("x-correlation-id", "support-ticket-42"),
        )
        .await;
    assert_eq!(
        response.header("x-correlation-id"),
        Some("support-ticket-42")
    );
}

#[tokio::test]
async fn path_parameters_are_matched_from_the_raw_path_without_api_gateway() {
    let app = spawn_app().await;
    app.draft("lamp-drop", 1).await;
    let response = app
        .send(
            Call::new(
                Route::GetGroupBuy,
                format!("/v2/handles/{HANDLE}/group-buys/lamp-drop"),
            )
            .bearer(&owner_token())
            .without_gateway_path_parameters(),
        )
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body["slug"], "lamp-drop");
}

/// DynamoDB down (nothing listens on the endpoint): 503 with Retry-After, never a 500.
#[tokio::test]
async fn a_dynamodb_outage_is_503_dependency_unavailable() {
    let settings = test_settings(&[("DYNAMODB_ENDPOINT", "http://127.0.0.1:9")]);
    let down = group_buy::App::new(settings).await.expect("app");
    let now = chrono::Utc::now().timestamp();
    // A visitor's pass, and a solved challenge, made with the app's own keys: obtaining them
    // through the routes needs the table. Challenges need no dependency at all.
    let pass = down.passes.issue(now).expect("a pass").token;
    let solved = down
        .passes
        .challenge_of("outage-salt", 0, now + 60)
        .expect("a challenge")
        .token;
    let routes = Route::ALL
        .into_iter()
        .filter(|route| *route != Route::IssueVisitorChallenge);
    let calls = routes.clone().map(|route| match route.access() {
        group_buy::Access::Visitor | group_buy::Access::Caller => {
            Call::well_formed(route, "lamp-drop").header("x-visitor-pass", &pass)
        }
        _ if route == Route::IssueVisitorPass => Call::well_formed(route, "lamp-drop")
            .json(&serde_json::json!({"challenge": solved, "nonce": "0"})),
        _ => Call::authorized(route, "lamp-drop"),
    });
    let responses = futures::future::join_all(calls.map(|call| send(&down, call))).await;
    for (route, response) in routes.zip(responses) {
        assert_eq!(
            (response.status, response.code()),
            (503, "DEPENDENCY_UNAVAILABLE"),
            "{route:?}"
        );
        assert!(response.header("retry-after").is_some());
    }
}

/// API Gateway sends a body that is not UTF-8 base64-encoded (`isBase64Encoded: true`); it is
/// read as bytes and refused as 400 `MALFORMED_JSON`, never a 500 or a crash of the function.
#[tokio::test]
async fn a_body_that_is_not_utf8_is_400_malformed_json() {
    use base64::Engine as _;
    let app = spawn_app().await;
    for bytes in [&b"\xff\xfe"[..], &b"{\"title\": \"\xff\xfe\"}"[..]] {
        let request_id = uuid::Uuid::new_v4().to_string();
        let call = Call::authorized(Route::CreateGroupBuy, "lamp-drop");
        let mut event = call.event(&request_id);
        event["body"] = base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .into();
        event["isBase64Encoded"] = true.into();
        let request = lambda_http::request::from_str(&event.to_string()).expect("a valid event");
        assert!(matches!(request.body(), lambda_http::Body::Binary(_)));
        let response = app.app.handle(Route::CreateGroupBuy, request).await;
        assert_eq!(response.status(), 400, "{bytes:?}");
        let body: serde_json::Value =
            serde_json::from_slice(response.body().as_ref()).expect("a problem+json body");
        assert_eq!(body["code"], "MALFORMED_JSON", "{bytes:?}");
    }
}

/// A header value that is not ASCII (obs-text) cannot be an Idempotency-Key: 400
/// `INVALID_IDEMPOTENCY_KEY`, before anything is read or written.
#[tokio::test]
async fn an_idempotency_key_that_is_not_ascii_is_400() {
    let app = spawn_app().await;
    let response = app
        .send(
            Call::authorized(Route::CreateGroupBuy, "lamp-drop").header("idempotency-key", "café"),
        )
        .await;
    assert_eq!(
        (response.status, response.code()),
        (400, "INVALID_IDEMPOTENCY_KEY")
    );
}
