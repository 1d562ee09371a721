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
    let responses = futures::future::join_all(
        Route::ALL.map(|route| send(&down, Call::authorized(route, "lamp-drop"))),
    )
    .await;
    for (route, response) in Route::ALL.into_iter().zip(responses) {
        assert_eq!(
            (response.status, response.code()),
            (503, "DEPENDENCY_UNAVAILABLE"),
            "{route:?}"
        );
        assert!(response.header("retry-after").is_some());
    }
}
