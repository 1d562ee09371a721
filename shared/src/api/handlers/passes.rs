//! Visitor passes (API.md, "Visitor passes"): a stateless proof-of-work challenge, and its
//! one redemption for a pass naming a random visitor the service chose. Neither a challenge
//! nor a pass is ever logged.

use crate::api::call::Call;
use crate::http::visitor_pass::well_formed_nonce;
use crate::http::{ApiError, Reply, json_object};
use crate::store::Redemption;
use crate::validation::{Fields, string};
use lambda_http::http::StatusCode;
use serde_json::json;

/// POST /v2/public/visitor-challenges: no body (or `{}`), no credentials, no state kept.
pub(crate) fn challenge(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let body = json_object(call.req)?.unwrap_or_default();
    Fields::new(body, &[]).finish()?;
    let challenge = call.app.passes.challenge(chrono::Utc::now().timestamp())?;
    let body = json!({
        "challenge": challenge.token,
        "algorithm": "SHA-256",
        "salt": challenge.salt,
        "difficulty": challenge.difficulty,
        "expiresAt": challenge.expires_at,
    });
    Ok(Reply::json(StatusCode::CREATED, &body).private())
}

/// POST /v2/public/visitor-passes `{"challenge", "nonce"}`: checked without state (signature,
/// expiry, solution: 400 `CHALLENGE_FAILED`), then redeemed once by a conditional put (409
/// `CHALLENGE_USED` after the first).
pub(crate) async fn redeem(call: &mut Call<'_>) -> Result<Reply, ApiError> {
    let body = json_object(call.req)?.unwrap_or_default();
    let mut fields = Fields::new(body, &["challenge", "nonce"]);
    let challenge = fields.required("challenge", |v| {
        string(v).map(str::to_owned).and_then(|s| match s.len() {
            1..=512 => Ok(s),
            _ => Err("must be the challenge as issued".to_owned()),
        })
    });
    let nonce = fields.required("nonce", |v| {
        string(v).map(str::to_owned).and_then(|s| {
            if well_formed_nonce(&s) {
                Ok(s)
            } else {
                Err("must be the decimal string of a non-negative integer".to_owned())
            }
        })
    });
    fields.finish()?;
    let (Some(challenge), Some(nonce)) = (challenge, nonce) else {
        return Err(ApiError::Internal("fields parsed, yet missing".into()));
    };
    let now = chrono::Utc::now().timestamp();
    let solved = call.app.passes.check_solution(&challenge, &nonce, now)?;
    // Issued before the redemption is written, so that a failure to issue spends nothing.
    let pass = call.app.passes.issue(now)?;
    match call
        .app
        .store
        .redeem_challenge(&solved.salt, solved.expires_epoch, call.request_id)
        .await?
    {
        Redemption::First => {}
        Redemption::AlreadyRedeemed => return Err(ApiError::ChallengeUsed),
    }
    let body = json!({"visitorPass": pass.token, "expiresAt": pass.expires_at});
    Ok(Reply::json(StatusCode::CREATED, &body).private())
}
