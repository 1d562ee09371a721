//! The admin summary, kept by the writes themselves, equals a recount of the table after a
//! burst of concurrent lifecycle and interest activity.

use group_buy::Route;
use group_buy_tests::{TestApp, Visitor, concurrently, exclusive, spawn_app};
use serde_json::{Value, json};

async fn activity(app: &TestApp, slug: String, visitors: Vec<Visitor>) {
    app.published(&slug, json!({"minParticipants": 3, "maxParticipants": 8}))
        .await;
    let registrations = visitors
        .iter()
        .map(|v| app.register_retrying(&slug, v, Some(2)));
    let changes = concurrently(registrations);
    let close_early = app.transition(&slug, Route::CloseGroupBuy, None);
    let pause = app.transition(&slug, Route::PauseGroupBuy, None);
    let _ = tokio::join!(changes, close_early, pause);
    let withdrawals = concurrently(visitors.iter().take(3).map(|v| app.withdraw(&slug, v)));
    let republish = app.transition(&slug, Route::PublishGroupBuy, None);
    let _ = tokio::join!(withdrawals, republish);
    let again = concurrently(
        visitors
            .iter()
            .map(|v| app.register_retrying(&slug, v, Some(1))),
    );
    let close = app.transition(&slug, Route::CloseGroupBuy, None);
    let _ = tokio::join!(again, close);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_summary_equals_a_recount_after_a_concurrent_burst() {
    let _turn = exclusive().await;
    let app = spawn_app().await;
    for i in 0..3 {
        app.draft(&format!("idle-{i}"), 1).await;
    }
    let campaigns = (0..8).map(|i| {
        let visitors = (0..12).map(|_| Visitor::anonymous()).collect();
        activity(&app, format!("burst-{i}"), visitors)
    });
    futures::future::join_all(campaigns).await;

    let rollup = app.admin("limit=1").await;
    assert_eq!(rollup.status, 200, "{}", rollup.body);
    let mut summary = rollup.body["summary"].clone();
    assert_eq!(summary["stuckDrafts"], 0, "every draft is fresh");
    if let Value::Object(fields) = &mut summary {
        fields.remove("stuckDrafts");
    }
    assert_eq!(summary, app.recount_summary().await);
}
