//! Every owner route refuses every kind of bad credential with the status API.md gives.

use group_buy::{Access, Route};
use group_buy_tests::{Call, HANDLE, OWNER_SCOPES, spawn_app, token};

fn owner_routes() -> impl Iterator<Item = Route> {
    Route::ALL
        .into_iter()
        .filter(|r| matches!(r.access(), Access::Owner(_)))
}
use group_buy::auth::DevClaims;
use group_buy::configuration::DEV_JWT_HS256_SECRET;

fn concrete_path(route: Route) -> String {
    route
        .path()
        .replace("{handle}", HANDLE)
        .replace("{groupBuySlug}", "lamp-drop")
}

fn expired() -> String {
    DevClaims::new("owner-1", &[HANDLE], OWNER_SCOPES, -600)
        .sign_hs256(DEV_JWT_HS256_SECRET)
        .expect("signed")
}

fn bad_signature() -> String {
    DevClaims::new("owner-1", &[HANDLE], OWNER_SCOPES, 600)
        .sign_hs256("not-the-configured-secret")
        .expect("signed")
}

fn alg_none() -> String {
    let valid = token("owner-1", &[HANDLE], OWNER_SCOPES);
    let payload = valid.split('.').nth(1).unwrap_or_default();
    format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.")
}

#[tokio::test]
async fn every_owner_route_refuses_bad_credentials() {
    let app = spawn_app().await;
    app.draft("lamp-drop", 1).await;
    let before = app.all_items().await.len();
    let cases: Vec<(&str, Option<String>, u16, &str)> = vec![
        ("no token", None, 401, "UNAUTHENTICATED"),
        ("expired", Some(expired()), 401, "UNAUTHENTICATED"),
        (
            "bad signature",
            Some(bad_signature()),
            401,
            "UNAUTHENTICATED",
        ),
        ("alg none", Some(alg_none()), 401, "UNAUTHENTICATED"),
        ("garbage", Some("not.a.jwt".into()), 401, "UNAUTHENTICATED"),
        (
            "another handle",
            Some(token("owner-2", &["other-shop"], OWNER_SCOPES)),
            403,
            "HANDLE_FORBIDDEN",
        ),
        (
            "no scope",
            Some(token("owner-1", &[HANDLE], "profile:read")),
            403,
            "INSUFFICIENT_SCOPE",
        ),
    ];
    for route in owner_routes() {
        for (name, credential, status, code) in &cases {
            let mut call = Call::new(route, concrete_path(route));
            if let Some(credential) = credential {
                call = call.bearer(credential);
            }
            let response = app.send(call).await;
            assert_eq!(
                (response.status, response.code()),
                (*status, *code),
                "{route:?} with {name}"
            );
            if *status == 401 {
                assert_eq!(response.header("www-authenticate"), Some("Bearer"));
            }
        }
    }
    assert_eq!(
        app.all_items().await.len(),
        before,
        "no refused request wrote anything"
    );
}

#[tokio::test]
async fn reads_need_read_scope_and_writes_need_write_scope() {
    let app = spawn_app().await;
    app.draft("lamp-drop", 1).await;
    let read_only = token("viewer", &[HANDLE], "group-buys:read");
    for route in owner_routes() {
        let response = app
            .send(Call::new(route, concrete_path(route)).bearer(&read_only))
            .await;
        let expected = if route.method() == "GET" { 200 } else { 403 };
        assert_eq!(response.status, expected, "{route:?}");
    }
}

#[tokio::test]
async fn a_non_bearer_authorization_header_is_401() {
    let app = spawn_app().await;
    let response = app
        .send(
            Call::new(Route::ListGroupBuys, concrete_path(Route::ListGroupBuys))
                .header("authorization", "Basic b3duZXI6cGFzcw=="),
        )
        .await;
    assert_eq!(response.status, 401);
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    for scheme in ["BEARER", "bearer", "Bearer"] {
        let response = app
            .send(
                Call::new(Route::ListGroupBuys, concrete_path(Route::ListGroupBuys)).header(
                    "authorization",
                    &format!("{scheme} {}", group_buy_tests::owner_token()),
                ),
            )
            .await;
        assert_eq!(response.status, 200, "{scheme}: {}", response.body);
    }
}
