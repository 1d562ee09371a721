//! Visitor passes (API.md, "Visitor passes"): a signed, stateless challenge; its one
//! redemption for a pass; the pass as the visitor's identity on the visitor routes.

use group_buy::Route;
use group_buy::configuration::DEV_ROTATING_KEYS;
use group_buy::domain::Timestamp;
use group_buy::http::visitor_pass::solves;
use group_buy_tests::{
    Call, IN_FLIGHT, TEST_PASS_DIFFICULTY, TestApp, Visitor, challenge, concurrently, obtain_pass,
    redeem, solve, spawn_app, spawn_app_with, test_settings,
};
use serde_json::{Value, json};

fn now_epoch() -> i64 {
    chrono::Utc::now().timestamp()
}

fn field<'v>(body: &'v Value, name: &str) -> &'v str {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {body}"))
}

/// Seconds from now to `at`.
fn seconds_until(at: &str) -> i64 {
    let at = Timestamp::parse(at).expect("a time");
    (at.as_datetime() - chrono::Utc::now()).num_seconds()
}

async fn register(app: &TestApp, slug: &str, pass: &str) -> group_buy_tests::TestResponse {
    app.register(slug, &Visitor::Pass(pass.to_owned()), Some(1))
        .await
}

#[tokio::test]
async fn a_solved_challenge_buys_a_pass_that_registers_interest() {
    let app = spawn_app().await;
    app.published("lamp-drop", json!({})).await;

    let issued = challenge(&app.app).await;
    assert_eq!(issued["algorithm"], "SHA-256");
    assert_eq!(issued["difficulty"], TEST_PASS_DIFFICULTY);
    let expires_in = seconds_until(field(&issued, "expiresAt"));
    assert!((290..=300).contains(&expires_in), "{expires_in}");
    let nonce = solve(field(&issued, "salt"), TEST_PASS_DIFFICULTY);

    let redeemed = redeem(&app.app, field(&issued, "challenge"), &nonce).await;
    assert_eq!(redeemed.status, 201, "{}", redeemed.body);
    assert_eq!(redeemed.header("cache-control"), Some("no-store"));
    let pass = field(&redeemed.body, "visitorPass").to_owned();
    let lifetime = seconds_until(field(&redeemed.body, "expiresAt"));
    assert!(
        (30 * 86_400 - 10..=30 * 86_400).contains(&lifetime),
        "{lifetime}"
    );

    let registered = register(&app, "lamp-drop", &pass).await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    // The same pass is the same visitor on every later request.
    assert_eq!(register(&app, "lamp-drop", &pass).await.status, 200);
    let mine = app
        .send(TestApp::my_interest(
            Route::GetMyInterest,
            "lamp-drop",
            &Visitor::Pass(pass.clone()),
        ))
        .await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    assert_eq!(app.assert_counters_match_records("lamp-drop").await, (1, 1));
}

#[tokio::test]
async fn two_passes_are_two_visitors() {
    let app = spawn_app().await;
    app.published("lamp-drop", json!({})).await;
    let (a, b) = (obtain_pass(&app.app).await, obtain_pass(&app.app).await);
    assert_ne!(a, b);
    assert_eq!(register(&app, "lamp-drop", &a).await.status, 201);
    let second = register(&app, "lamp-drop", &b).await;
    assert_eq!(second.status, 201, "{}", second.body);
    assert_eq!(second.body["groupBuy"]["participantCount"], 2);
}

#[tokio::test]
async fn a_wrong_nonce_a_tampered_or_an_expired_challenge_fails() {
    let app = spawn_app().await;
    let issued = challenge(&app.app).await;
    let (token, salt) = (field(&issued, "challenge"), field(&issued, "salt"));
    let wrong = (0u64..)
        .map(|n| n.to_string())
        .find(|n| !solves(salt, n, TEST_PASS_DIFFICULTY))
        .expect("a wrong nonce");
    let right = solve(salt, TEST_PASS_DIFFICULTY);

    // Asking for no work at all, or another salt, breaks the signature.
    let easier = token.replacen(&format!(".{TEST_PASS_DIFFICULTY}."), ".0.", 1);
    let other_salt = token.replacen(salt, "AAAAAAAAAAAAAAAAAAAAAA", 1);
    let (signed, _) = token.rsplit_once('.').expect("a signed challenge");
    let unsigned = format!("{signed}.AAAA");
    // Signed by the service, but expired: built with the service's own key.
    let expired = app
        .app
        .passes
        .challenge_of("expired-salt", 0, now_epoch() - 1)
        .expect("a challenge");
    for (challenge, nonce) in [
        (token, wrong.as_str()),
        (easier.as_str(), "0"),
        (other_salt.as_str(), right.as_str()),
        (unsigned.as_str(), right.as_str()),
        (expired.token.as_str(), "0"),
        ("not a challenge", "0"),
    ] {
        let response = redeem(&app.app, challenge, nonce).await;
        assert_eq!(
            (response.status, response.code()),
            (400, "CHALLENGE_FAILED"),
            "{challenge} {nonce}"
        );
    }
    // The same challenge unexpired is redeemed: only the expiry refused it.
    let fresh = app
        .app
        .passes
        .challenge_of("fresh-salt", 0, now_epoch() + 60)
        .expect("a challenge");
    assert_eq!(redeem(&app.app, &fresh.token, "0").await.status, 201);
    // The failures spent nothing: the real challenge is still good.
    assert_eq!(redeem(&app.app, token, &right).await.status, 201);
}

#[tokio::test]
async fn redemption_bodies_are_validated() {
    let app = spawn_app().await;
    let call =
        |body: Value| Call::new(Route::IssueVisitorPass, "/v2/public/visitor-passes").json(&body);
    for body in [
        json!({}),
        json!({"challenge": "c1.x.0.1.x", "nonce": "12a"}),
        json!({"challenge": "c1.x.0.1.x", "nonce": 12}),
        json!({"challenge": "c1.x.0.1.x", "nonce": "-1"}),
        json!({"challenge": "c1.x.0.1.x", "nonce": "1", "visitorId": "mine"}),
    ] {
        let response = app.send(call(body.clone())).await;
        assert_eq!(
            (response.status, response.code()),
            (400, "VALIDATION_FAILED"),
            "{body}"
        );
    }
    let with_body = app
        .send(
            Call::new(
                Route::IssueVisitorChallenge,
                "/v2/public/visitor-challenges",
            )
            .json(&json!({"difficulty": 0})),
        )
        .await;
    assert_eq!(with_body.code(), "VALIDATION_FAILED");
}

#[tokio::test]
async fn a_challenge_gives_one_pass() {
    let app = spawn_app().await;
    let issued = challenge(&app.app).await;
    let nonce = solve(field(&issued, "salt"), TEST_PASS_DIFFICULTY);
    let token = field(&issued, "challenge");
    assert_eq!(redeem(&app.app, token, &nonce).await.status, 201);
    let again = redeem(&app.app, token, &nonce).await;
    assert_eq!((again.status, again.code()), (409, "CHALLENGE_USED"));
}

#[tokio::test]
async fn concurrent_redemptions_of_one_challenge_give_exactly_one_pass() {
    let app = spawn_app().await;
    let issued = challenge(&app.app).await;
    let nonce = solve(field(&issued, "salt"), TEST_PASS_DIFFICULTY);
    let token = field(&issued, "challenge");
    let attempts = IN_FLIGHT.min(50);
    let answers = concurrently((0..attempts).map(|_| redeem(&app.app, token, &nonce))).await;
    let mut statuses: Vec<(u16, String)> = answers
        .iter()
        .map(|r| (r.status, r.code().to_owned()))
        .collect();
    statuses.sort();
    assert_eq!(statuses.iter().filter(|(s, _)| *s == 201).count(), 1);
    assert!(
        statuses
            .iter()
            .filter(|(s, _)| *s != 201)
            .all(|(s, code)| *s == 409 && code == "CHALLENGE_USED"),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_tampered_or_expired_pass_is_refused_and_none_is_required() {
    let app = spawn_app().await;
    app.published("lamp-drop", json!({})).await;
    let pass = obtain_pass(&app.app).await;
    let other = obtain_pass(&app.app).await;
    let (signed, _) = pass.rsplit_once('.').expect("a signed pass");
    let (_, other_signature) = other.rsplit_once('.').expect("a signed pass");
    let parts: Vec<&str> = pass.split('.').collect();
    let later = format!(
        "{}.{}.{}.{}.{}",
        parts[0],
        parts[1],
        parts[2],
        now_epoch() + 400 * 86_400,
        parts[4]
    );
    let expired = app
        .app
        .passes
        .pass_of("v1", "AAAAAAAAAAAAAAAAAAAAAA", now_epoch() - 1)
        .expect("a pass under v1");
    for bad in [
        format!("{signed}.{other_signature}"),
        later,
        expired.token,
        "not-a-pass".to_owned(),
        String::new(),
    ] {
        for route in [
            Route::RegisterInterest,
            Route::GetMyInterest,
            Route::WithdrawInterest,
        ] {
            let response = app
                .send(TestApp::my_interest(
                    route,
                    "lamp-drop",
                    &Visitor::Pass(bad.clone()),
                ))
                .await;
            assert_eq!(
                (response.status, response.code()),
                (401, "VISITOR_PASS_INVALID"),
                "{route:?} {bad}"
            );
        }
    }
    let none = app
        .send(Call::new(
            Route::RegisterInterest,
            "/v2/public/group-buys/acme-decor/lamp-drop/my-interest",
        ))
        .await;
    assert_eq!((none.status, none.code()), (401, "VISITOR_REQUIRED"));
    assert_eq!(app.assert_counters_match_records("lamp-drop").await, (0, 0));
}

#[tokio::test]
async fn passes_under_the_previous_rotating_key_still_verify_after_a_rotation() {
    let before = spawn_app().await;
    before.published("lamp-drop", json!({})).await;
    let old_pass = obtain_pass(&before.app).await;
    assert!(old_pass.starts_with("p1.v1."), "{old_pass}");
    assert_eq!(register(&before, "lamp-drop", &old_pass).await.status, 201);

    // The same table, served with a new current key id and the old one still accepted.
    let table = before.table.clone();
    let rotated = spawn_app_with(test_settings(&[
        ("TABLE_NAME", &table),
        (
            "ROTATING_KEYS",
            &format!("v2=rotation-test-key-v2,{DEV_ROTATING_KEYS}"),
        ),
    ]))
    .await;
    let new_pass = obtain_pass(&rotated.app).await;
    assert!(new_pass.starts_with("p1.v2."), "{new_pass}");
    // The old pass is the same visitor as before the rotation.
    let again = register(&rotated, "lamp-drop", &old_pass).await;
    assert_eq!(
        (again.status, again.body["created"].clone()),
        (200, json!(false))
    );
    assert_eq!(register(&rotated, "lamp-drop", &new_pass).await.status, 201);

    // Once v1 is retired, its passes are refused; a key id never configured is refused.
    let retired = spawn_app_with(test_settings(&[
        ("TABLE_NAME", &table),
        ("ROTATING_KEYS", "v2=rotation-test-key-v2"),
    ]))
    .await;
    let refused = register(&retired, "lamp-drop", &old_pass).await;
    assert_eq!(
        (refused.status, refused.code()),
        (401, "VISITOR_PASS_INVALID")
    );
    assert_eq!(register(&retired, "lamp-drop", &new_pass).await.status, 200);
    let unknown_kid = new_pass.replacen("p1.v2.", "p1.v9.", 1);
    let refused = register(&rotated, "lamp-drop", &unknown_kid).await;
    assert_eq!(
        (refused.status, refused.code()),
        (401, "VISITOR_PASS_INVALID")
    );
    // A pass another key signed under the same id is refused too.
    let foreign = spawn_app_with(test_settings(&[(
        "ROTATING_KEYS",
        "v1=another-key-same-id",
    )]))
    .await;
    let foreign_pass = obtain_pass(&foreign.app).await;
    assert_eq!(
        register(&before, "lamp-drop", &foreign_pass).await.status,
        401
    );
}
