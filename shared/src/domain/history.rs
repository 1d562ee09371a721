//! What happened to a group-buy: every transition and every refused attempt, with who asked,
//! when, and the request id a support engineer can look up in the logs.

use super::group_buy::GroupBuy;
use super::lifecycle::{Action, CloseOutcome, Extension, Rejection, Status, Transition};
use super::timestamp::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryResult {
    Applied,
    Rejected,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub at: Timestamp,
    /// `create`, `publish`, `pause`, `close`, `expire`, `extend` or `draw`.
    pub action: String,
    pub actor: String,
    pub from: Option<Status>,
    pub to: Option<Status>,
    pub outcome: Option<CloseOutcome>,
    pub result: HistoryResult,
    /// The version the entry produced (applied) or was decided on (rejected).
    pub version: u64,
    /// The error code of a refused attempt.
    pub reason: Option<String>,
    pub request_id: String,
    /// An extension's deadline before it (applied) or as it was (refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_closes_at: Option<Timestamp>,
    /// The deadline an extension set (applied) or asked for (refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closes_at: Option<Timestamp>,
}

/// The history's name of a deadline extension.
const EXTEND: &str = "extend";

impl HistoryEntry {
    pub fn created(actor: &str, request_id: &str, version: u64, at: Timestamp) -> Self {
        Self {
            at,
            action: "create".into(),
            actor: actor.into(),
            from: None,
            to: Some(Status::Draft),
            outcome: None,
            result: HistoryResult::Applied,
            version,
            reason: None,
            request_id: request_id.into(),
            previous_closes_at: None,
            closes_at: None,
        }
    }

    /// The draw ran: the status does not change, the version does.
    pub fn drawn(gb: &GroupBuy, actor: &str, request_id: &str, at: Timestamp) -> Self {
        Self {
            at,
            action: "draw".into(),
            actor: actor.into(),
            from: Some(gb.status),
            to: Some(gb.status),
            outcome: None,
            result: HistoryResult::Applied,
            version: gb.version,
            reason: None,
            request_id: request_id.into(),
            previous_closes_at: None,
            closes_at: None,
        }
    }

    pub fn applied(
        action: Action,
        transition: &Transition,
        version: u64,
        actor: &str,
        request_id: &str,
        at: Timestamp,
    ) -> Self {
        Self {
            at,
            action: action.name().into(),
            actor: actor.into(),
            from: Some(transition.from),
            to: Some(transition.to),
            outcome: transition.outcome,
            result: HistoryResult::Applied,
            version,
            reason: None,
            request_id: request_id.into(),
            previous_closes_at: None,
            closes_at: None,
        }
    }

    pub fn rejected(
        action: Action,
        current: Status,
        version: u64,
        rejection: &Rejection,
        actor: &str,
        request_id: &str,
        at: Timestamp,
    ) -> Self {
        let outcome = match action {
            Action::Close(outcome) => Some(outcome),
            _ => None,
        };
        Self {
            at,
            action: action.name().into(),
            actor: actor.into(),
            from: Some(current),
            to: None,
            outcome,
            result: HistoryResult::Rejected,
            version,
            reason: Some(rejection.code().into()),
            request_id: request_id.into(),
            previous_closes_at: None,
            closes_at: None,
        }
    }

    /// `extension`, which made `next`; the status stays as it was.
    pub fn extended(
        next: &GroupBuy,
        extension: &Extension,
        actor: &str,
        request_id: &str,
        at: Timestamp,
    ) -> Self {
        Self {
            at,
            action: EXTEND.into(),
            actor: actor.into(),
            from: Some(next.status),
            to: Some(next.status),
            outcome: None,
            result: HistoryResult::Applied,
            version: next.version,
            reason: None,
            request_id: request_id.into(),
            previous_closes_at: Some(extension.from),
            closes_at: Some(extension.to),
        }
    }

    /// A refused extension of `current` (as read) to `requested`.
    pub fn extension_refused(
        current: &GroupBuy,
        requested: Timestamp,
        rejection: &Rejection,
        actor: &str,
        request_id: &str,
        at: Timestamp,
    ) -> Self {
        Self {
            at,
            action: EXTEND.into(),
            actor: actor.into(),
            from: Some(current.status),
            to: None,
            outcome: None,
            result: HistoryResult::Rejected,
            version: current.version,
            reason: Some(rejection.code().into()),
            request_id: request_id.into(),
            previous_closes_at: current.closes_at,
            closes_at: Some(requested),
        }
    }
}
