use group_buy::Route;
use group_buy_tests::spawn_app;
use serde_json::json;

#[tokio::test]
async fn an_unknown_group_buy_is_404() {
    let app = spawn_app().await;
    let response = app.get("no-such-drop", "").await;
    assert_eq!(response.status, 404);
    assert_eq!(response.code(), "GROUP_BUY_NOT_FOUND");
}

#[tokio::test]
async fn include_history_adds_the_history_oldest_first() {
    let app = spawn_app().await;
    app.draft("lamp-drop", 1).await;
    app.transition("lamp-drop", Route::PublishGroupBuy, None)
        .await;
    let response = app.get("lamp-drop", "include=history").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("etag"), Some("\"2\""));
    let history = response.body["history"].as_array().expect("history");
    let steps: Vec<_> = history
        .iter()
        .map(|h| (h["action"].clone(), h["result"].clone(), h["to"].clone()))
        .collect();
    assert_eq!(
        steps,
        [
            (json!("create"), json!("applied"), json!("draft")),
            (json!("publish"), json!("applied"), json!("published")),
        ]
    );
    assert_eq!(history[1]["actor"], "jwt:owner-1");
    assert!(
        history[1]["requestId"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert!(app.get("lamp-drop", "").await.body.get("history").is_none());
}

#[tokio::test]
async fn only_history_can_be_included() {
    let app = spawn_app().await;
    app.draft("lamp-drop", 1).await;
    let response = app.get("lamp-drop", "include=everything").await;
    assert_eq!(response.status, 400);
    assert_eq!(response.body["errors"][0]["field"], "include");
}

#[tokio::test]
async fn malformed_path_parameters_are_named() {
    let app = spawn_app().await;
    let response = app.get("Not_A_Slug", "").await;
    assert_eq!(response.status, 400);
    assert_eq!(response.body["errors"][0]["field"], "groupBuySlug");
}
