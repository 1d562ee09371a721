//! A deployed stage is reached through its CloudFront distribution only: the distribution
//! adds `x-origin-verify` with the stage's origin secret, and every function refuses a request
//! without an accepted one (403 `EDGE_REQUIRED`, before credentials, keys or any read), so the
//! execute-api URL is no way around the WAF. Rotation: both values accepted while the
//! distribution moves from one to the other. Locally (no `ORIGIN_SECRETS`) nothing is checked.

use group_buy::Route;
use group_buy_tests::{Call, spawn_app, spawn_app_with, test_settings};

const CURRENT: &str = "origin-secret-current-0123456789abcdef";
const NEXT: &str = "origin-secret-next-0123456789abcdef012";

#[tokio::test]
async fn only_requests_with_an_accepted_origin_secret_are_served() {
    let app = spawn_app_with(test_settings(&[(
        "ORIGIN_SECRETS",
        &format!("{NEXT},{CURRENT}"),
    )]))
    .await;
    // No credentials: the origin is checked before them, and with an accepted secret each
    // route answers as it would (401, 404, 400...), not EDGE_REQUIRED.
    for route in Route::ALL {
        let call = || Call::well_formed(route, "lamp-drop");
        let refused = app.send(call()).await;
        assert_eq!(
            (refused.status, refused.code()),
            (403, "EDGE_REQUIRED"),
            "{route:?} without the header"
        );
        assert!(refused.header("x-request-id").is_some());
        assert_eq!(
            refused.body["requestId"],
            refused.header("x-request-id").unwrap_or_default()
        );
        for wrong in ["", "origin-secret-current", &format!("{CURRENT}x")] {
            let refused = app.send(call().header("x-origin-verify", wrong)).await;
            assert_eq!(refused.code(), "EDGE_REQUIRED", "{route:?} with {wrong:?}");
        }
        for accepted in [CURRENT, NEXT] {
            let served = app.send(call().header("x-origin-verify", accepted)).await;
            assert_ne!(served.code(), "EDGE_REQUIRED", "{route:?}");
        }
    }
    // Refused before anything else: no item was written, not even a limit counter.
    assert!(app.all_items().await.is_empty());
}

#[tokio::test]
async fn local_runs_check_no_origin() {
    let app = spawn_app().await;
    let served = app
        .send(Call::authorized(Route::GetPublicGroupBuy, "lamp-drop"))
        .await;
    assert_eq!(served.code(), "GROUP_BUY_NOT_FOUND");
}
