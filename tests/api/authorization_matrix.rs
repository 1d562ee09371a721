//! Every route against every kind of caller. The expectations are one table keyed by the
//! route's `Access`, so a new route is covered the moment it declares who may call it.

use group_buy::auth::DevClaims;
use group_buy::configuration::DEV_JWT_HS256_SECRET;
use group_buy::domain::Timestamp;
use group_buy::{Access, Route};
use group_buy_tests::{
    Call, HANDLE, OWNER_SCOPES, TestApp, admin_token, obtain_pass, owner_token, spawn_app, token,
};
use serde_json::json;

/// What a caller gets: through to the route's own answer, or refused with status and code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Allowed,
    Refused(u16, &'static str),
}
use Outcome::{Allowed, Refused};

const UNAUTHENTICATED: Outcome = Refused(401, "UNAUTHENTICATED");
const NO_VISITOR: Outcome = Refused(401, "VISITOR_REQUIRED");
const BAD_PASS: Outcome = Refused(401, "VISITOR_PASS_INVALID");
const FORBIDDEN: Outcome = Refused(403, "HANDLE_FORBIDDEN");
const NO_SCOPE: Outcome = Refused(403, "INSUFFICIENT_SCOPE");

/// Per caller: the outcome on owner, public, visitor, any-caller and admin routes.
const MATRIX: [(&str, [Outcome; 5]); 12] = [
    (
        "no credentials",
        [
            UNAUTHENTICATED,
            Allowed,
            NO_VISITOR,
            NO_VISITOR,
            UNAUTHENTICATED,
        ],
    ),
    (
        "expired JWT",
        [
            UNAUTHENTICATED,
            Allowed,
            UNAUTHENTICATED,
            UNAUTHENTICATED,
            UNAUTHENTICATED,
        ],
    ),
    (
        "tampered JWT",
        [
            UNAUTHENTICATED,
            Allowed,
            UNAUTHENTICATED,
            UNAUTHENTICATED,
            UNAUTHENTICATED,
        ],
    ),
    ("owner JWT", [Allowed, Allowed, Allowed, Allowed, FORBIDDEN]),
    ("owner PAT", [Allowed, Allowed, Allowed, Allowed, FORBIDDEN]),
    (
        "PAT of another handle",
        [FORBIDDEN, Allowed, Allowed, Allowed, FORBIDDEN],
    ),
    (
        "revoked PAT",
        [
            UNAUTHENTICATED,
            Allowed,
            UNAUTHENTICATED,
            UNAUTHENTICATED,
            UNAUTHENTICATED,
        ],
    ),
    (
        "expired PAT",
        [
            UNAUTHENTICATED,
            Allowed,
            UNAUTHENTICATED,
            UNAUTHENTICATED,
            UNAUTHENTICATED,
        ],
    ),
    (
        "JWT without the scope",
        [NO_SCOPE, Allowed, Allowed, Allowed, FORBIDDEN],
    ),
    (
        "visitor pass",
        [UNAUTHENTICATED, Allowed, Allowed, Allowed, UNAUTHENTICATED],
    ),
    (
        "tampered visitor pass",
        [
            UNAUTHENTICATED,
            Allowed,
            BAD_PASS,
            BAD_PASS,
            UNAUTHENTICATED,
        ],
    ),
    (
        "platform admin JWT",
        [NO_SCOPE, Allowed, Allowed, Allowed, Allowed],
    ),
];

fn column(access: Access) -> usize {
    match access {
        Access::Owner(_) => 0,
        Access::Public => 1,
        Access::Visitor => 2,
        Access::Caller => 3,
        Access::PlatformAdmin => 4,
    }
}

/// The credential headers of each caller in `MATRIX`.
async fn credentials(app: &TestApp, caller: &str) -> Vec<(&'static str, String)> {
    let bearer = |t: String| vec![("authorization", format!("Bearer {t}"))];
    let scopes: Vec<&str> = OWNER_SCOPES.split(' ').collect();
    match caller {
        "no credentials" => vec![],
        "expired JWT" => bearer(
            DevClaims::new("owner-1", &[HANDLE], OWNER_SCOPES, -600)
                .sign_hs256(DEV_JWT_HS256_SECRET)
                .expect("signed"),
        ),
        "tampered JWT" => {
            let valid = owner_token();
            let (head, _) = valid.rsplit_once('.').expect("a JWT");
            let other = token("intruder", &[HANDLE], OWNER_SCOPES);
            let (_, forged_signature) = other.rsplit_once('.').expect("a JWT");
            bearer(format!("{head}.{forged_signature}"))
        }
        "owner JWT" => bearer(owner_token()),
        "owner PAT" => bearer(app.issue_pat(HANDLE, &scopes, None).await.0),
        "PAT of another handle" => bearer(app.issue_pat("other-shop", &scopes, None).await.0),
        "revoked PAT" => {
            let (pat, id) = app.issue_pat(HANDLE, &scopes, None).await;
            app.app
                .store
                .revoke_pat(&id, Timestamp::now())
                .await
                .expect("revoked");
            bearer(pat)
        }
        "expired PAT" => {
            let past = Some(Timestamp::now().plus_millis(-1000));
            bearer(app.issue_pat(HANDLE, &scopes, past).await.0)
        }
        "JWT without the scope" => bearer(token("owner-1", &[HANDLE], "profile:read")),
        "visitor pass" => vec![("x-visitor-pass", obtain_pass(&app.app).await)],
        "tampered visitor pass" => {
            let pass = obtain_pass(&app.app).await;
            let (signed, _) = pass.rsplit_once('.').expect("a pass");
            let (_, forged) = obtain_pass(&app.app)
                .await
                .rsplit_once('.')
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .expect("a pass");
            vec![("x-visitor-pass", format!("{signed}.{forged}"))]
        }
        "platform admin JWT" => bearer(admin_token()),
        other => panic!("no credentials for {other}"),
    }
}

#[tokio::test]
async fn every_route_against_every_caller() {
    let app = spawn_app().await;
    app.published("lamp-drop", json!({})).await;
    assert_eq!(Route::ALL.len(), 20, "API.md lists 20 routes so far");
    for (caller, outcomes) in MATRIX {
        let headers = credentials(&app, caller).await;
        for route in Route::ALL {
            let mut call = Call::well_formed(route, "lamp-drop");
            for (name, value) in &headers {
                call = call.header(name, value);
            }
            let response = app.send(call).await;
            match outcomes[column(route.access())] {
                Refused(status, code) => assert_eq!(
                    (response.status, response.code()),
                    (status, code),
                    "{caller} on {route:?}"
                ),
                Allowed => assert!(
                    !matches!(response.status, 401 | 403) && response.status < 500,
                    "{caller} on {route:?}: {} {}",
                    response.status,
                    response.body
                ),
            }
        }
    }
}
