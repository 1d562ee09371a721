use group_buy::Route;
use group_buy::domain::{GroupBuy, Handle, HistoryEntry, NewGroupBuy, Slug, Timestamp};
use group_buy::telemetry::measure;
use group_buy_tests::{Call, Visitor, admin_token, owner_token, spawn_app};
use serde_json::{Value, json};

fn slugs_with_flags(body: &Value) -> Vec<(String, Vec<String>)> {
    body["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    let flags = i["flags"]
                        .as_array()
                        .map(|f| {
                            f.iter()
                                .filter_map(|f| f.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default();
                    (i["slug"].as_str().unwrap_or_default().to_owned(), flags)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn flags_of(body: &Value, slug: &str) -> Vec<String> {
    slugs_with_flags(body)
        .into_iter()
        .find(|(s, _)| s == slug)
        .map(|(_, f)| f)
        .unwrap_or_default()
}

/// A draft last touched `hours` ago, written as if created then.
async fn old_draft(app: &group_buy_tests::TestApp, slug: &str, hours: i64) {
    let then = Timestamp::now().plus_millis(-hours * 3600 * 1000);
    let gb = GroupBuy::draft(
        Handle::parse(group_buy_tests::HANDLE).expect("handle"),
        NewGroupBuy {
            slug: Slug::parse(slug).expect("slug"),
            title: "Old".into(),
            description: String::new(),
            currency: "INR".into(),
            unit_price_minor: 1,
            min_participants: 1,
            max_participants: None,
            max_quantity_per_participant: 1,
            closes_at: None,
            price_tiers: Vec::new(),
            waitlist_limit: 0,
            participation: Default::default(),
            allocation: Default::default(),
            draw_at: None,
        },
        then,
    );
    let entry = HistoryEntry::created("jwt:owner-1", "test", 1, then);
    let riders = group_buy::store::Riders::default();
    app.app
        .store
        .create(&gb, &entry, &riders)
        .await
        .expect("created");
}

#[tokio::test]
async fn only_platform_admins_see_the_rollup() {
    let app = spawn_app().await;
    let call = || Call::new(Route::AdminGroupBuys, "/v2/platform-admin/group-buys");
    assert_eq!(app.send(call()).await.status, 401);
    let owner = app.send(call().bearer(&owner_token())).await;
    assert_eq!((owner.status, owner.code()), (403, "HANDLE_FORBIDDEN"));
    let admin = app.send(call().bearer(&admin_token())).await;
    assert_eq!(admin.status, 200);
    assert_eq!(admin.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn flags_and_summary_describe_the_campaigns() {
    let app = spawn_app().await;
    old_draft(&app, "forgotten-drop", 30).await;
    app.draft("fresh-drop", 1).await;
    app.published(
        "hot-drop",
        json!({"maxParticipants": 2, "minParticipants": 1}),
    )
    .await;
    for _ in 0..2 {
        app.register("hot-drop", &Visitor::anonymous(), Some(2))
            .await;
    }
    app.published("slow-drop", json!({"minParticipants": 5}))
        .await;
    let refused = app
        .transition("slow-drop", Route::CloseGroupBuy, None)
        .await;
    assert_eq!(refused.code(), "THRESHOLD_NOT_MET");
    let closes_at = Timestamp::now().plus_millis(300).to_string();
    app.published("late-drop", json!({"closesAt": closes_at}))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;

    let rollup = app.admin("").await;
    assert_eq!(rollup.status, 200, "{}", rollup.body);
    let body = &rollup.body;
    assert_eq!(flags_of(body, "forgotten-drop"), ["STUCK_DRAFT"]);
    assert!(flags_of(body, "fresh-drop").is_empty());
    assert_eq!(flags_of(body, "hot-drop"), ["THRESHOLD_MET", "NEAR_CAP"]);
    assert_eq!(flags_of(body, "slow-drop"), ["CLOSE_REJECTED"]);
    assert_eq!(flags_of(body, "late-drop"), ["DEADLINE_PASSED"]);
    assert_eq!(
        body["summary"],
        json!({
            "byStatus": {"draft": 2, "published": 3, "paused": 0, "closed": 0},
            "participants": 2, "units": 4, "thresholdMet": 1, "stuckDrafts": 1
        })
    );
    let mut recount = app.recount_summary().await;
    recount["stuckDrafts"] = json!(1);
    assert_eq!(body["summary"], recount);

    // A transition clears CLOSE_REJECTED.
    app.transition("slow-drop", Route::PauseGroupBuy, None)
        .await;
    assert!(flags_of(&app.admin("").await.body, "slow-drop").is_empty());
}

#[tokio::test]
async fn filters_and_pages_across_statuses() {
    let app = spawn_app().await;
    app.draft("drop-one", 1).await;
    app.published("drop-two", json!({})).await;
    app.published("drop-three", json!({})).await;
    app.transition(
        "drop-three",
        Route::CloseGroupBuy,
        Some(&json!({"outcome": "cancelled"})),
    )
    .await;
    let published = app.admin("status=published").await;
    assert_eq!(slugs_with_flags(&published.body).len(), 1);
    let by_handle = app.admin("handle=acme-decor&status=closed").await;
    assert_eq!(slugs_with_flags(&by_handle.body)[0].0, "drop-three");
    assert!(slugs_with_flags(&app.admin("handle=other-shop").await.body).is_empty());
    let flagged = app.admin("flag=STUCK_DRAFT").await;
    assert!(slugs_with_flags(&flagged.body).is_empty());
    for bad in ["status=open", "flag=HOT", "handle=No_Handle", "limit=0"] {
        assert_eq!(app.admin(bad).await.status, 400, "{bad}");
    }

    let mut seen = Vec::new();
    let mut query = "limit=1".to_owned();
    for _ in 0..10 {
        let page = app.admin(&query).await;
        assert_eq!(page.status, 200, "{}", page.body);
        seen.extend(slugs_with_flags(&page.body).into_iter().map(|(s, _)| s));
        match page.body["nextCursor"].as_str() {
            Some(cursor) => query = format!("limit=1&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["drop-one", "drop-two", "drop-three"],
        "draft, published, paused, closed"
    );
    let foreign = app.admin(&format!("status=draft&{query}")).await;
    assert!(matches!(foreign.status, 200 | 400));
}

/// The summary costs the same however many group-buys exist.
#[tokio::test]
async fn the_summary_reads_a_fixed_number_of_items() {
    let app = spawn_app().await;
    let cost = || async {
        let call = Call::new(Route::AdminGroupBuys, "/v2/platform-admin/group-buys")
            .query("limit=1")
            .bearer(&admin_token());
        let request = lambda_http::request::from_str(&call.event("r").to_string()).expect("event");
        measure(app.app.handle(Route::AdminGroupBuys, request))
            .await
            .1
    };
    app.draft("drop-0", 1).await;
    let few = cost().await;
    for i in 1..30 {
        app.published(&format!("drop-{i}"), json!({})).await;
    }
    let many = cost().await;
    // One Query per rollup shard and per admin index shard, all at once, and one
    // BatchGetItem of the page's tallies.
    let expected =
        group_buy::table::layout::ROLLUP_SHARDS + group_buy::table::layout::INDEX_SHARDS + 1;
    assert_eq!(few.calls, expected);
    assert_eq!(many.calls, few.calls);
}
