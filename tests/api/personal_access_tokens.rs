use group_buy::Route;
use group_buy::domain::Timestamp;
use group_buy_tests::{Call, HANDLE, OWNER_SCOPES, spawn_app, spawn_app_with, test_settings};
use serde_json::json;

fn list(token: &str) -> Call {
    Call::new(
        Route::ListGroupBuys,
        format!("/v2/handles/{HANDLE}/group-buys"),
    )
    .bearer(token)
}

fn create(token: &str, slug: &str) -> Call {
    Call::new(
        Route::CreateGroupBuy,
        format!("/v2/handles/{HANDLE}/group-buys"),
    )
    .bearer(token)
    .json(&json!({
        "slug": slug, "title": "Lamp", "currency": "INR",
        "unitPriceMinor": 1, "minParticipants": 1
    }))
}

#[tokio::test]
async fn a_pat_acts_for_its_handle_with_its_scopes() {
    let app = spawn_app().await;
    let scopes: Vec<&str> = OWNER_SCOPES.split(' ').collect();
    let (token, id) = app.issue_pat(HANDLE, &scopes, None).await;
    assert_eq!(app.send(create(&token, "lamp-drop")).await.status, 201);
    assert_eq!(app.send(list(&token)).await.status, 200);
    let history = app.get("lamp-drop", "include=history").await.body["history"].clone();
    assert_eq!(history[0]["actor"], format!("pat:{id}"));

    let (read_only, _) = app.issue_pat(HANDLE, &["group-buys:read"], None).await;
    assert_eq!(app.send(list(&read_only)).await.status, 200);
    let refused = app.send(create(&read_only, "vase-drop")).await;
    assert_eq!(
        (refused.status, refused.code()),
        (403, "INSUFFICIENT_SCOPE")
    );

    let (elsewhere, _) = app.issue_pat("other-shop", &scopes, None).await;
    let forbidden = app.send(list(&elsewhere)).await;
    assert_eq!(
        (forbidden.status, forbidden.code()),
        (403, "HANDLE_FORBIDDEN")
    );
}

#[tokio::test]
async fn unknown_tampered_and_expired_pats_are_401() {
    let app = spawn_app().await;
    let (token, _) = app.issue_pat(HANDLE, &["group-buys:read"], None).await;
    let mut tampered = token.clone();
    let last = tampered
        .pop()
        .map_or('A', |c| if c == 'A' { 'B' } else { 'A' });
    tampered.push(last);
    let (expired, _) = app
        .issue_pat(
            HANDLE,
            &["group-buys:read"],
            Some(Timestamp::now().plus_millis(-1)),
        )
        .await;
    for bad in [
        tampered.as_str(),
        expired.as_str(),
        "ghpat_0123456789abcdef_notarealsecret",
        "ghpat_garbage",
    ] {
        let response = app.send(list(bad)).await;
        assert_eq!(
            (response.status, response.code()),
            (401, "UNAUTHENTICATED"),
            "{bad}"
        );
    }
}

/// Revocation is honoured within PAT_CACHE_SECONDS (1 s here, 30 s by default).
#[tokio::test]
async fn a_revoked_pat_stops_working_within_the_cache_delay() {
    let app = spawn_app_with(test_settings(&[("PAT_CACHE_SECONDS", "1")])).await;
    let (token, id) = app.issue_pat(HANDLE, &["group-buys:read"], None).await;
    assert_eq!(app.send(list(&token)).await.status, 200);
    app.app
        .store
        .revoke_pat(&id, Timestamp::now())
        .await
        .expect("revoked");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let response = app.send(list(&token)).await;
    assert_eq!((response.status, response.code()), (401, "UNAUTHENTICATED"));
}

#[tokio::test]
async fn last_use_is_noted_once_not_on_every_request() {
    let app = spawn_app().await;
    let (token, id) = app.issue_pat(HANDLE, &["group-buys:read"], None).await;
    for _ in 0..3 {
        assert_eq!(app.send(list(&token)).await.status, 200);
    }
    let record = app
        .app
        .store
        .get_pat(&id)
        .await
        .expect("read")
        .expect("record");
    let first_use = record.last_used_at.expect("last use noted");
    app.send(list(&token)).await;
    let again = app
        .app
        .store
        .get_pat(&id)
        .await
        .expect("read")
        .expect("record");
    assert_eq!(
        again.last_used_at,
        Some(first_use),
        "not rewritten within the hour"
    );
    let listed = app
        .app
        .store
        .list_pats(&group_buy::domain::Handle::parse(HANDLE).expect("handle"))
        .await
        .expect("listed");
    assert_eq!(listed.len(), 1);
    let secret = token
        .strip_prefix("ghpat_")
        .and_then(|rest| rest.split_once('_'))
        .map(|(_, secret)| secret)
        .expect("ghpat_<id>_<secret>");
    assert!(
        !format!("{listed:?}").contains(secret),
        "the secret is never stored"
    );
}
