//! `participation` (API.md, the group-buy resource): `anyone` by default, or `signed-in`,
//! where a visitor pass gets 403 `SIGN_IN_REQUIRED` and signed-in users register as before.

use group_buy::Route;
use group_buy_tests::{Call, HANDLE, Visitor, spawn_app};
use serde_json::json;

#[tokio::test]
async fn participation_is_set_at_create_and_shown_in_every_view() {
    let app = spawn_app().await;
    let open = app.published("open-drop", json!({})).await;
    assert_eq!(open["participation"], "anyone");
    let members = app
        .published("members-drop", json!({"participation": "signed-in"}))
        .await;
    assert_eq!(members["participation"], "signed-in");
    let public = app
        .send(Call::new(
            Route::GetPublicGroupBuy,
            format!("/v2/public/group-buys/{HANDLE}/members-drop"),
        ))
        .await;
    assert_eq!(public.body["participation"], "signed-in");
    let owner = app.get("members-drop", "").await;
    assert_eq!(owner.body["participation"], "signed-in");

    let invalid = app
        .create(&json!({
            "slug": "bad-drop", "title": "Lamp", "currency": "INR", "unitPriceMinor": 1,
            "minParticipants": 1, "participation": "members-only"
        }))
        .await;
    assert_eq!(invalid.code(), "VALIDATION_FAILED");
    assert_eq!(invalid.body["errors"][0]["field"], "participation");
}

#[tokio::test]
async fn a_signed_in_campaign_refuses_visitor_passes_and_takes_signed_in_users() {
    let app = spawn_app().await;
    app.published("members-drop", json!({"participation": "signed-in"}))
        .await;
    let anonymous = Visitor::anonymous();
    for _ in 0..2 {
        // Refused whether or not this instance has the group-buy in hand.
        let refused = app.register("members-drop", &anonymous, Some(1)).await;
        assert_eq!(
            (refused.status, refused.code()),
            (403, "SIGN_IN_REQUIRED"),
            "{}",
            refused.body
        );
    }
    let user = Visitor::user("shopper-1");
    let registered = app.register("members-drop", &user, Some(1)).await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    assert_eq!(registered.body["groupBuy"]["participation"], "signed-in");
    assert_eq!(
        app.assert_counters_match_records("members-drop").await,
        (1, 1)
    );

    // The same pass registers on a campaign open to anyone.
    app.published("open-drop", json!({})).await;
    assert_eq!(
        app.register("open-drop", &anonymous, Some(1)).await.status,
        201
    );
    // An unknown group-buy is still 404 to a pass.
    let unknown = app.register("no-such-drop", &anonymous, Some(1)).await;
    assert_eq!(unknown.code(), "GROUP_BUY_NOT_FOUND");
}
