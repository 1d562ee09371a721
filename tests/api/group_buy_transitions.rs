use group_buy::Route;
use group_buy::domain::lifecycle::LifecycleState;
use group_buy::domain::{Action, CloseOutcome, Decision, Status, Timestamp};
use group_buy_tests::{Call, HANDLE, owner_token, spawn_app};
use serde_json::{Value, json};

const FULFILLED: Option<&Value> = None;

#[tokio::test]
async fn the_owner_walkthrough_records_every_step() {
    let app = spawn_app().await;
    app.draft("lamp-drop", 1).await;
    let steps = [
        (Route::PublishGroupBuy, None, 200, "published"),
        (Route::PauseGroupBuy, None, 200, "paused"),
        (Route::PublishGroupBuy, None, 200, "published"),
    ];
    for (route, body, status, expected) in steps {
        let response = app.transition("lamp-drop", route, body).await;
        assert_eq!(response.status, status, "{route:?}: {}", response.body);
        assert_eq!(response.body["status"], expected);
    }
    let refused = app
        .transition("lamp-drop", Route::CloseGroupBuy, FULFILLED)
        .await;
    assert_eq!(refused.status, 409);
    assert_eq!(refused.code(), "THRESHOLD_NOT_MET");
    assert_eq!(refused.body["participantCount"], 0);
    assert_eq!(refused.body["minParticipants"], 1);

    let closed = app
        .transition(
            "lamp-drop",
            Route::CloseGroupBuy,
            Some(&json!({"outcome": "cancelled"})),
        )
        .await;
    assert_eq!(closed.status, 200);
    assert_eq!(closed.body["status"], "closed");
    assert_eq!(closed.body["closeOutcome"], "cancelled");
    assert!(closed.body["closedAt"].is_string());
    assert_eq!(closed.body["version"], 5);

    let history = app.get("lamp-drop", "include=history").await.body["history"].clone();
    let steps: Vec<(&str, &str, Option<&str>)> = history
        .as_array()
        .expect("history")
        .iter()
        .map(|h| {
            (
                h["action"].as_str().unwrap_or_default(),
                h["result"].as_str().unwrap_or_default(),
                h["reason"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("create", "applied", None),
            ("publish", "applied", None),
            ("pause", "applied", None),
            ("publish", "applied", None),
            ("close", "rejected", Some("THRESHOLD_NOT_MET")),
            ("close", "applied", None),
        ]
    );
}

#[tokio::test]
async fn asking_for_the_current_state_is_a_200_no_op() {
    let app = spawn_app().await;
    app.draft("lamp-drop", 1).await;
    let first = app
        .transition("lamp-drop", Route::PublishGroupBuy, None)
        .await;
    let again = app
        .transition("lamp-drop", Route::PublishGroupBuy, None)
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(
        again.body, first.body,
        "nothing changed, not even the version"
    );
    let cancel = Some(json!({"outcome": "cancelled"}));
    app.transition("lamp-drop", Route::CloseGroupBuy, cancel.as_ref())
        .await;
    let closed_again = app
        .transition("lamp-drop", Route::CloseGroupBuy, cancel.as_ref())
        .await;
    assert_eq!(closed_again.status, 200);
    let history = app.get("lamp-drop", "include=history").await.body["history"].clone();
    assert_eq!(
        history.as_array().map(Vec::len),
        Some(3),
        "create, publish, close"
    );
}

#[tokio::test]
async fn transitions_not_in_the_lifecycle_are_409_with_the_current_status() {
    let app = spawn_app().await;
    app.draft("lamp-drop", 1).await;
    let pause_draft = app
        .transition("lamp-drop", Route::PauseGroupBuy, None)
        .await;
    assert_eq!(
        (pause_draft.status, pause_draft.code()),
        (409, "INVALID_TRANSITION")
    );
    assert_eq!(pause_draft.body["currentStatus"], "draft");
    let fulfil_draft = app
        .transition("lamp-drop", Route::CloseGroupBuy, FULFILLED)
        .await;
    assert_eq!(fulfil_draft.code(), "INVALID_TRANSITION");

    app.transition(
        "lamp-drop",
        Route::CloseGroupBuy,
        Some(&json!({"outcome": "cancelled"})),
    )
    .await;
    for route in [
        Route::PublishGroupBuy,
        Route::PauseGroupBuy,
        Route::CloseGroupBuy,
    ] {
        let response = app.transition("lamp-drop", route, None).await;
        assert_eq!(
            (response.status, response.code()),
            (409, "INVALID_TRANSITION")
        );
        assert_eq!(response.body["currentStatus"], "closed");
    }
}

#[tokio::test]
async fn close_fulfilled_succeeds_at_the_threshold() {
    let app = spawn_app().await;
    app.draft("lamp-drop", 3).await;
    app.transition("lamp-drop", Route::PublishGroupBuy, None)
        .await;
    app.set_participants("lamp-drop", 3).await;
    let closed = app
        .transition("lamp-drop", Route::CloseGroupBuy, FULFILLED)
        .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert_eq!(closed.body["closeOutcome"], "fulfilled");
    assert_eq!(closed.body["thresholdMet"], true);
}

#[tokio::test]
async fn publishing_after_the_deadline_is_refused() {
    let app = spawn_app().await;
    let closes_at = Timestamp::now().plus_millis(300).to_string();
    let created = app
        .create(&json!({
            "slug": "flash-drop", "title": "Flash drop", "currency": "INR",
            "unitPriceMinor": 100, "minParticipants": 1, "closesAt": closes_at
        }))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let response = app
        .transition("flash-drop", Route::PublishGroupBuy, None)
        .await;
    assert_eq!((response.status, response.code()), (409, "DEADLINE_PASSED"));
    assert_eq!(app.get("flash-drop", "").await.body["status"], "draft");
}

#[tokio::test]
async fn a_stale_if_match_is_412_and_a_current_one_applies() {
    let app = spawn_app().await;
    app.draft("lamp-drop", 1).await;
    let path = format!("/v2/handles/{HANDLE}/group-buys/lamp-drop/publish");
    let publish = |etag: &str| {
        Call::new(Route::PublishGroupBuy, &path)
            .bearer(&owner_token())
            .header("if-match", etag)
    };
    let stale = app.send(publish("\"7\"")).await;
    assert_eq!((stale.status, stale.code()), (412, "VERSION_MISMATCH"));
    assert_eq!(stale.body["currentVersion"], 1);
    let current = app.send(publish("\"1\"")).await;
    assert_eq!(current.status, 200);
    assert_eq!(current.header("etag"), Some("\"2\""));
}

#[tokio::test]
async fn transition_bodies_are_validated() {
    let app = spawn_app().await;
    app.draft("lamp-drop", 1).await;
    let bad_outcome = app
        .transition(
            "lamp-drop",
            Route::CloseGroupBuy,
            Some(&json!({"outcome": "expired"})),
        )
        .await;
    assert_eq!(bad_outcome.status, 400);
    assert_eq!(bad_outcome.body["errors"][0]["field"], "outcome");
    let extra = app
        .transition(
            "lamp-drop",
            Route::PublishGroupBuy,
            Some(&json!({"force": true})),
        )
        .await;
    assert_eq!(extra.status, 400);
    assert_eq!(extra.body["errors"][0]["field"], "force");
    let empty = app
        .transition("lamp-drop", Route::PublishGroupBuy, Some(&json!({})))
        .await;
    assert_eq!(empty.status, 200);
}

#[tokio::test]
async fn transitions_on_unknown_group_buys_are_404() {
    let app = spawn_app().await;
    let response = app
        .transition("ghost-drop", Route::PublishGroupBuy, None)
        .await;
    assert_eq!(
        (response.status, response.code()),
        (404, "GROUP_BUY_NOT_FOUND")
    );
    assert!(app.all_items().await.is_empty());
}

fn action_of(entry: &Value) -> Action {
    match (entry["action"].as_str(), entry["outcome"].as_str()) {
        (Some("publish"), _) => Action::Publish,
        (Some("pause"), _) => Action::Pause,
        (Some("close"), Some("fulfilled")) => Action::Close(CloseOutcome::Fulfilled),
        (Some("close"), Some("cancelled")) => Action::Close(CloseOutcome::Cancelled),
        other => panic!("unexpected history entry {other:?}"),
    }
}

fn status_of(value: &Value) -> Status {
    Status::parse(value.as_str().unwrap_or_default()).expect("a status")
}

/// 20 concurrent publish/pause/close requests on one group-buy: the final state is reachable
/// by the rules and the history is one unbroken chain of allowed transitions leading to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_transitions_leave_a_consistent_history() {
    let app = spawn_app().await;
    app.draft("race-drop", 1).await;
    let cancel = json!({"outcome": "cancelled"});
    let requests = (0..20).map(|i| {
        let (route, body) = match i % 5 {
            0 | 3 => (Route::PublishGroupBuy, None),
            1 | 4 => (Route::PauseGroupBuy, None),
            _ if i == 17 => (Route::CloseGroupBuy, Some(&cancel)),
            _ => (Route::CloseGroupBuy, None),
        };
        app.transition("race-drop", route, body)
    });
    let responses = futures::future::join_all(requests).await;
    for r in &responses {
        assert!(
            matches!(r.status, 200 | 409),
            "only success or a lifecycle refusal: {} {}",
            r.status,
            r.body
        );
    }

    let view = app.get("race-drop", "include=history").await.body;
    let history = view["history"].as_array().expect("history").clone();
    let mut applied: Vec<&Value> = history
        .iter()
        .filter(|h| h["result"] == "applied" && h["action"] != "create")
        .collect();
    applied.sort_by_key(|h| h["version"].as_u64());
    let mut state = Status::Draft;
    for (n, entry) in applied.iter().enumerate() {
        assert_eq!(
            entry["version"].as_u64(),
            Some(n as u64 + 2),
            "no version skipped or reused"
        );
        assert_eq!(status_of(&entry["from"]), state, "the chain is unbroken");
        let lifecycle = LifecycleState {
            status: state,
            close_outcome: None,
            participant_count: 0,
            min_participants: 1,
            closes_at: None,
        };
        let Decision::Apply(t) = lifecycle.decide(action_of(entry), Timestamp::now()) else {
            panic!("history holds a transition the rules forbid: {entry}");
        };
        assert_eq!(status_of(&entry["to"]), t.to);
        state = t.to;
    }
    assert_eq!(status_of(&view["status"]), state);
    assert_eq!(view["version"].as_u64(), Some(applied.len() as u64 + 1));
    let rejected = history.iter().filter(|h| h["result"] == "rejected").count();
    let refused = responses.iter().filter(|r| r.status == 409).count();
    assert_eq!(rejected, refused, "every refusal is in the history");
}
