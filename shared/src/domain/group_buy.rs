//! The group-buy resource, how a new one is parsed from a request, and its two views.

use super::MAX_PARTICIPANTS_LIMIT;
use super::draw::{Allocation, Draw};
use super::identifiers::{Handle, Slug};
use super::lifecycle::{
    CloseOutcome, DeadlineState, Extension, LifecycleState, Status, Transition,
};
use super::price_tier::{
    NextTier, PriceTier, TierBounds, current_unit_price, next_tier, parse_price_tiers,
};
use super::timestamp::Timestamp;
use crate::validation::{FieldError, Fields, integer, string, text};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The largest `maxQuantityPerParticipant` a group-buy may set.
pub const MAX_QUANTITY_PER_PARTICIPANT: u32 = 100;
const MAX_UNIT_PRICE_MINOR: i64 = 1_000_000_000_000;

/// The most visitors a waitlist may hold.
pub const MAX_WAITLIST_LIMIT: u32 = 10_000;

/// The waitlist limit of a group-buy that names none: 10 × `maxParticipants`, at most
/// `MAX_WAITLIST_LIMIT`; without `maxParticipants` a group-buy is never full, so it has no
/// waitlist: 0.
pub fn default_waitlist_limit(max_participants: Option<u32>) -> u32 {
    max_participants.map_or(0, |max| max.saturating_mul(10).min(MAX_WAITLIST_LIMIT))
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupBuy {
    pub handle: Handle,
    pub slug: Slug,
    pub title: String,
    /// Kept in an item of its own (the store's layout); absent from what admin lists read.
    #[serde(default)]
    pub description: String,
    pub currency: String,
    pub unit_price_minor: i64,
    pub min_participants: u32,
    pub max_participants: Option<u32>,
    pub max_quantity_per_participant: u32,
    pub closes_at: Option<Timestamp>,
    /// The deadline before any extension; absent while never extended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_closes_at: Option<Timestamp>,
    /// Deadline extensions so far; absent in items written before extensions existed.
    #[serde(default)]
    pub extension_count: u32,
    /// Ascending by `minParticipants`; fixed at create. Absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub price_tiers: Vec<PriceTier>,
    /// Absent in items written before it existed: `anyone`, as they were.
    #[serde(default)]
    pub participation: Participation,
    /// Absent in items written before draws existed: first-come, as they were.
    #[serde(default)]
    pub allocation: Allocation,
    /// When a draw campaign's draw is due; fixed once published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draw_at: Option<Timestamp>,
    /// A draw campaign's draw (`None` for first-come). Before the draw, `entry_count` is
    /// what the store counted in the entry shards when it read the group-buy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draw: Option<Draw>,
    pub status: Status,
    pub close_outcome: Option<CloseOutcome>,
    /// The counters live in the tally item (`Tally`), which interest writes move.
    #[serde(default)]
    pub participant_count: u32,
    #[serde(default)]
    pub unit_count: u64,
    /// Visitors waiting for a place (from the tally; 0 once closed: the entries end).
    #[serde(default)]
    pub waitlist_count: u32,
    /// Visitors the waitlist holds at most; fixed at create. Absent on group-buys created
    /// before the limit: they have the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waitlist_limit: Option<u32>,
    pub version: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub published_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    /// When a close was last refused since the last transition (the `CLOSE_REJECTED` flag).
    /// Written by the store's expressions only; no view names it.
    #[serde(default, skip_serializing)]
    pub close_rejected_at: Option<Timestamp>,
}

/// Who may register interest (API.md, `participation`): set at create and never changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Participation {
    /// Signed-in users and visitor passes.
    #[default]
    Anyone,
    /// Signed-in users only: a visitor pass gets 403 `SIGN_IN_REQUIRED`.
    SignedIn,
}

impl Participation {
    fn parse(value: &Value) -> Result<Self, String> {
        match string(value)? {
            "anyone" => Ok(Self::Anyone),
            "signed-in" => Ok(Self::SignedIn),
            _ => Err("must be anyone or signed-in".into()),
        }
    }
}

/// Who sees a group-buy: owners see everything, the public sees no `version`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Owner,
    Public,
}

impl GroupBuy {
    /// Whether the public may ever see it: only once published. A draft cancelled before
    /// publishing is closed, yet was never public and never is (API.md, the group-buy).
    pub fn ever_published(&self) -> bool {
        self.published_at.is_some()
    }

    pub fn draft(handle: Handle, new: NewGroupBuy, now: Timestamp) -> Self {
        Self {
            handle,
            slug: new.slug,
            title: new.title,
            description: new.description,
            currency: new.currency,
            unit_price_minor: new.unit_price_minor,
            min_participants: new.min_participants,
            max_participants: new.max_participants,
            max_quantity_per_participant: new.max_quantity_per_participant,
            closes_at: new.closes_at,
            first_closes_at: None,
            extension_count: 0,
            price_tiers: new.price_tiers,
            participation: new.participation,
            allocation: new.allocation,
            draw_at: new.draw_at,
            draw: (new.allocation == Allocation::Draw).then(Draw::default),
            status: Status::Draft,
            close_outcome: None,
            participant_count: 0,
            unit_count: 0,
            waitlist_count: 0,
            waitlist_limit: Some(new.waitlist_limit),
            version: 1,
            created_at: now,
            updated_at: now,
            published_at: None,
            closed_at: None,
            close_rejected_at: None,
        }
    }

    /// A draw campaign whose draw has not run yet: entries, not registrations.
    pub fn draw_pending(&self) -> bool {
        self.draw.as_ref().is_some_and(|draw| !draw.is_drawn())
    }

    /// The visitors its waitlist holds at most.
    pub fn waitlist_limit(&self) -> u32 {
        self.waitlist_limit
            .unwrap_or_else(|| default_waitlist_limit(self.max_participants))
    }

    pub fn lifecycle(&self) -> LifecycleState {
        // A draft draw campaign's entries close at `drawAt`: published after it, it could take
        // none, and would fill first-come. So its first publish is refused past `drawAt` as
        // past a deadline.
        let closes_at = match (self.status, self.draw_at) {
            (Status::Draft, Some(draw_at)) => {
                Some(self.closes_at.map_or(draw_at, |at| at.min(draw_at)))
            }
            _ => self.closes_at,
        };
        LifecycleState {
            status: self.status,
            close_outcome: self.close_outcome,
            // While a draw is pending (or writing its winners), no participant counts yet: a
            // close `fulfilled` is refused as below the threshold, and recorded so.
            participant_count: match self.draw_pending() {
                true => 0,
                false => self.participant_count,
            },
            min_participants: self.min_participants,
            closes_at,
        }
    }

    pub fn deadline_state(&self) -> DeadlineState {
        DeadlineState {
            status: self.status,
            closes_at: self.closes_at,
            first_closes_at: self.first_closes_at,
            extension_count: self.extension_count,
        }
    }

    pub fn threshold_met(&self) -> bool {
        self.participant_count >= self.min_participants
    }

    /// The unit price at the current participant count (the highest tier reached).
    pub fn current_unit_price_minor(&self) -> i64 {
        current_unit_price(
            self.unit_price_minor,
            &self.price_tiers,
            self.participant_count,
        )
    }

    /// The group-buy as it is once `extension` has been written at `now`.
    pub fn extended(&self, extension: &Extension, now: Timestamp) -> Self {
        let mut next = self.clone();
        next.closes_at = Some(extension.to);
        next.first_closes_at = Some(extension.first_closes_at);
        next.extension_count = extension.extension_count;
        next.version += 1;
        next.updated_at = now;
        next
    }

    /// The group-buy as it is once `transition` has been written at `now`.
    pub fn after(&self, transition: &Transition, now: Timestamp) -> Self {
        let mut next = self.clone();
        next.status = transition.to;
        next.close_outcome = transition.outcome;
        next.version += 1;
        next.updated_at = now;
        if transition.to == Status::Published && next.published_at.is_none() {
            next.published_at = Some(now);
        }
        if transition.to == Status::Closed {
            next.closed_at = Some(now);
            // The waitlist's entries end with the close.
            next.waitlist_count = 0;
        }
        next.close_rejected_at = None;
        next
    }

    /// The response body of `audience`, built field by field from the stored group-buy: a
    /// field added to the stored item reaches no response until a view names it.
    pub fn view(&self, audience: Audience) -> Value {
        let public = PublicView::of(self);
        let view = match audience {
            Audience::Public => serde_json::to_value(public),
            Audience::Owner => serde_json::to_value(OwnerView {
                public,
                version: self.version,
                waitlist_count: self.waitlist_count,
                waitlist_limit: self.waitlist_limit(),
            }),
        };
        view.unwrap_or(Value::Null)
    }

    /// The strong `ETag` of this version.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

/// What anyone may see of a published group-buy (API.md, the group-buy resource).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PublicView<'a> {
    handle: &'a Handle,
    slug: &'a Slug,
    title: &'a str,
    description: &'a str,
    currency: &'a str,
    unit_price_minor: i64,
    min_participants: u32,
    max_participants: Option<u32>,
    max_quantity_per_participant: u32,
    closes_at: Option<Timestamp>,
    extension_count: u32,
    status: Status,
    close_outcome: Option<CloseOutcome>,
    participant_count: u32,
    unit_count: u64,
    threshold_met: bool,
    /// Always a list, empty when the group-buy has no tiers.
    price_tiers: &'a [PriceTier],
    current_unit_price_minor: i64,
    next_tier: Option<NextTier>,
    participation: Participation,
    allocation: Allocation,
    draw_at: Option<Timestamp>,
    /// Null for first-come.
    draw: Option<DrawView<'a>>,
    created_at: Timestamp,
    updated_at: Timestamp,
    published_at: Option<Timestamp>,
    closed_at: Option<Timestamp>,
}

/// What every view shows of a draw (API.md, "Fair drops"): the commitment from publish on,
/// the seed only once drawn.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DrawView<'a> {
    commitment: Option<&'a str>,
    entry_count: u32,
    seed: Option<&'a str>,
    drawn_at: Option<Timestamp>,
    winner_count: Option<u32>,
}

impl<'a> DrawView<'a> {
    fn of(draw: &'a Draw) -> Self {
        Self {
            commitment: draw.commitment.as_deref(),
            entry_count: draw.entry_count.unwrap_or(0),
            seed: draw.seed.as_deref().filter(|_| draw.is_drawn()),
            drawn_at: draw.drawn_at,
            winner_count: draw.winner_count,
        }
    }
}

impl<'a> PublicView<'a> {
    fn of(gb: &'a GroupBuy) -> Self {
        Self {
            handle: &gb.handle,
            slug: &gb.slug,
            title: &gb.title,
            description: &gb.description,
            currency: &gb.currency,
            unit_price_minor: gb.unit_price_minor,
            min_participants: gb.min_participants,
            max_participants: gb.max_participants,
            max_quantity_per_participant: gb.max_quantity_per_participant,
            closes_at: gb.closes_at,
            extension_count: gb.extension_count,
            status: gb.status,
            close_outcome: gb.close_outcome,
            participant_count: gb.participant_count,
            unit_count: gb.unit_count,
            threshold_met: gb.threshold_met(),
            price_tiers: &gb.price_tiers,
            current_unit_price_minor: gb.current_unit_price_minor(),
            next_tier: next_tier(&gb.price_tiers, gb.participant_count),
            participation: gb.participation,
            allocation: gb.allocation,
            draw_at: gb.draw_at,
            draw: gb.draw.as_ref().map(DrawView::of),
            created_at: gb.created_at,
            updated_at: gb.updated_at,
            published_at: gb.published_at,
            closed_at: gb.closed_at,
        }
    }
}

/// The owner's view: the public one, the `version` that `If-Match` takes, and how many
/// visitors wait for a place (how many are waiting is the owner's business only).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OwnerView<'a> {
    #[serde(flatten)]
    public: PublicView<'a>,
    version: u64,
    waitlist_count: u32,
    waitlist_limit: u32,
}

/// A valid request to create a draft.
#[derive(Clone, Debug, PartialEq)]
pub struct NewGroupBuy {
    pub slug: Slug,
    pub title: String,
    pub description: String,
    pub currency: String,
    pub unit_price_minor: i64,
    pub min_participants: u32,
    pub max_participants: Option<u32>,
    pub max_quantity_per_participant: u32,
    pub closes_at: Option<Timestamp>,
    pub price_tiers: Vec<PriceTier>,
    /// As given, or the default of `maxParticipants`; 0 (no waitlist) without it.
    pub waitlist_limit: u32,
    pub participation: Participation,
    pub allocation: Allocation,
    /// Set exactly when `allocation` is `draw`.
    pub draw_at: Option<Timestamp>,
}

#[cfg(test)]
impl NewGroupBuy {
    /// A valid request for unit tests to adjust with struct update syntax.
    pub(crate) fn sample() -> Self {
        Self {
            slug: Slug::parse("lamp").unwrap_or_else(|e| unreachable!("{e}")),
            title: "Lamp".into(),
            description: String::new(),
            currency: "INR".into(),
            unit_price_minor: 1,
            min_participants: 1,
            max_participants: None,
            max_quantity_per_participant: 1,
            closes_at: None,
            price_tiers: Vec::new(),
            waitlist_limit: 0,
            participation: Participation::Anyone,
            allocation: Allocation::FirstCome,
            draw_at: None,
        }
    }
}

const NEW_GROUP_BUY_FIELDS: [&str; 14] = [
    "slug",
    "title",
    "description",
    "currency",
    "unitPriceMinor",
    "minParticipants",
    "maxParticipants",
    "maxQuantityPerParticipant",
    "closesAt",
    "priceTiers",
    "waitlistLimit",
    "participation",
    "allocation",
    "drawAt",
];

fn count(value: &Value, min: i64, max: i64) -> Result<u32, String> {
    integer(value, min, max).map(|n| n as u32)
}

fn currency(value: &Value) -> Result<String, String> {
    let code = string(value)?;
    match iso_currency::Currency::from_code(code) {
        Some(_) => Ok(code.to_owned()),
        None => Err("must be an ISO 4217 currency code in upper case, e.g. INR".into()),
    }
}

impl NewGroupBuy {
    pub fn parse(body: Map<String, Value>, now: Timestamp) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(body, &NEW_GROUP_BUY_FIELDS);
        let slug = f.optional("slug", |v| Slug::parse(string(v)?));
        let title = f.required("title", |v| text(v, 1, 120));
        let description = f.optional("description", |v| text(v, 0, 4000));
        let currency = f.required("currency", currency);
        let unit_price_minor =
            f.required("unitPriceMinor", |v| integer(v, 0, MAX_UNIT_PRICE_MINOR));
        let min_participants =
            f.required("minParticipants", |v| count(v, 1, MAX_PARTICIPANTS_LIMIT));
        let max_participants = f.optional("maxParticipants", |v| {
            let max = count(v, 1, MAX_PARTICIPANTS_LIMIT)?;
            match min_participants {
                Some(min) if max < min => Err("must not be less than minParticipants".into()),
                _ => Ok(max),
            }
        });
        let max_quantity = f.optional("maxQuantityPerParticipant", |v| {
            count(v, 1, i64::from(MAX_QUANTITY_PER_PARTICIPANT))
        });
        let closes_at = f.optional("closesAt", |v| {
            let at = Timestamp::parse(string(v)?)?;
            if at <= now {
                return Err("must be in the future".into());
            }
            Ok(at)
        });
        // Checked against the unit price and cap when those parsed; on their own otherwise
        // (a bad unitPriceMinor is reported once, under its own name).
        let bounds = TierBounds {
            unit_price_minor,
            max_participants: max_participants.as_ref().ok().and_then(|max| *max),
        };
        let price_tiers = f.optional_with("priceTiers", |v| parse_price_tiers(v, bounds));
        // Only a group-buy with a cap fills up and has a waitlist: without one, the only
        // limit that means anything is 0.
        let capped = max_participants.as_ref().ok().and_then(|max| *max);
        let waitlist_limit = f.optional("waitlistLimit", |v| {
            let limit = count(v, 0, i64::from(MAX_WAITLIST_LIMIT))?;
            match (capped, max_participants.is_ok()) {
                (None, true) if limit > 0 => {
                    Err("needs maxParticipants: without a cap there is no waitlist".into())
                }
                _ => Ok(limit),
            }
        });
        let participation = f.optional("participation", Participation::parse);
        let allocation = f.optional("allocation", Allocation::parse);
        let drawing = matches!(allocation, Ok(Some(Allocation::Draw)));
        if drawing && matches!(max_participants, Ok(None)) {
            f.reject(
                "maxParticipants",
                "is required with allocation draw: it is the number of winners",
            );
        }
        let draw_at = f.optional("drawAt", |v| {
            let at = Timestamp::parse(string(v)?)?;
            if !drawing {
                return Err("is only for allocation draw".into());
            }
            if at <= now {
                return Err("must be in the future".into());
            }
            match &closes_at {
                Ok(Some(closes)) if at > *closes => Err("must not be after closesAt".into()),
                _ => Ok(at),
            }
        });
        if drawing && matches!(draw_at, Ok(None)) {
            f.reject("drawAt", "is required with allocation draw");
        }
        let slug = match (slug, &title) {
            (Ok(Some(slug)), _) => Some(slug),
            (Ok(None), Some(title)) => {
                let derived = Slug::derive_from(title);
                if derived.is_none() {
                    f.reject("slug", "cannot be derived from this title; send a slug");
                }
                derived
            }
            _ => None,
        };
        f.finish()?;
        match (
            slug,
            title,
            description,
            currency,
            unit_price_minor,
            min_participants,
            max_participants,
            max_quantity,
            closes_at,
            price_tiers,
            waitlist_limit,
            participation,
            allocation,
            draw_at,
        ) {
            (
                Some(slug),
                Some(title),
                Ok(description),
                Some(currency),
                Some(unit_price_minor),
                Some(min_participants),
                Ok(max_participants),
                Ok(max_quantity),
                Ok(closes_at),
                Ok(price_tiers),
                Ok(waitlist_limit),
                Ok(participation),
                Ok(allocation),
                Ok(draw_at),
            ) => Ok(Self {
                slug,
                title,
                description: description.unwrap_or_default(),
                currency,
                unit_price_minor,
                min_participants,
                max_participants,
                max_quantity_per_participant: max_quantity.unwrap_or(1),
                closes_at,
                price_tiers: price_tiers.unwrap_or_default(),
                waitlist_limit: waitlist_limit
                    .unwrap_or_else(|| default_waitlist_limit(max_participants)),
                participation: participation.unwrap_or_default(),
                allocation: allocation.unwrap_or_default(),
                draw_at,
            }),
            // `finish` returned Ok, so every field parsed; kept total rather than unwrapped.
            _ => Err(vec![FieldError::new("body", "could not be read")]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        Timestamp::parse("2026-11-24T18:00:00.000Z").expect("valid time")
    }

    fn parse(body: Value) -> Result<NewGroupBuy, Vec<FieldError>> {
        let Value::Object(map) = body else {
            unreachable!("test bodies are objects")
        };
        NewGroupBuy::parse(map, now())
    }

    fn bad_fields(body: Value) -> Vec<String> {
        parse(body)
            .expect_err("invalid body")
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    /// A minimal valid body with `extra` fields added.
    fn body_with(extra: Value) -> Value {
        let mut body = json!({
            "title": "Lamp", "currency": "INR", "unitPriceMinor": 1, "minParticipants": 1
        });
        if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), extra) {
            b.extend(extra);
        }
        body
    }

    #[test]
    fn parses_a_minimal_body_with_defaults() {
        let new = parse(json!({
            "title": "Brass lamp, limited edition",
            "currency": "INR",
            "unitPriceMinor": 249900,
            "minParticipants": 25
        }))
        .expect("valid body");
        assert_eq!(new.slug.as_str(), "brass-lamp-limited-edition");
        assert_eq!(new.max_quantity_per_participant, 1);
        assert_eq!(new.description, "");
        assert_eq!(new.max_participants, None);
        assert_eq!(new.participation, Participation::Anyone);
    }

    #[test]
    fn participation_is_anyone_or_signed_in() {
        let body = |p: Value| {
            json!({"title": "Lamp", "currency": "INR", "unitPriceMinor": 1,
                   "minParticipants": 1, "participation": p})
        };
        let new = parse(body(json!("signed-in"))).expect("valid");
        assert_eq!(new.participation, Participation::SignedIn);
        assert_eq!(bad_fields(body(json!("members"))), ["participation"]);
        assert_eq!(bad_fields(body(json!(true))), ["participation"]);
    }

    #[test]
    fn names_every_bad_field() {
        let fields = bad_fields(json!({
            "slug": "Bad Slug",
            "title": "",
            "description": "x".repeat(4001),
            "currency": "inr",
            "unitPriceMinor": -1,
            "minParticipants": 0,
            "maxQuantityPerParticipant": 101,
            "closesAt": "2026-11-24T17:59:59.999Z",
            "colour": "red"
        }));
        assert_eq!(
            fields,
            [
                "colour",
                "slug",
                "title",
                "description",
                "currency",
                "unitPriceMinor",
                "minParticipants",
                "maxQuantityPerParticipant",
                "closesAt"
            ]
        );
    }

    #[test]
    fn max_participants_must_cover_the_threshold() {
        let fields = bad_fields(json!({
            "title": "Lamp", "currency": "INR", "unitPriceMinor": 1,
            "minParticipants": 10, "maxParticipants": 9
        }));
        assert_eq!(fields, ["maxParticipants"]);
    }

    #[test]
    fn the_waitlist_limit_defaults_to_ten_times_the_cap() {
        let body = body_with;
        let limit = |extra| parse(body(extra)).map(|n| n.waitlist_limit);
        assert_eq!(limit(json!({"maxParticipants": 20})), Ok(200));
        assert_eq!(limit(json!({"maxParticipants": 5000})), Ok(10_000));
        assert_eq!(limit(json!({})), Ok(0));
        assert_eq!(limit(json!({"waitlistLimit": 0})), Ok(0));
        assert_eq!(
            limit(json!({"maxParticipants": 20, "waitlistLimit": 3})),
            Ok(3)
        );
        for bad in [
            json!({"maxParticipants": 20, "waitlistLimit": 10_001}),
            json!({"maxParticipants": 20, "waitlistLimit": -1}),
            json!({"waitlistLimit": 5}),
        ] {
            assert_eq!(bad_fields(body(bad)), ["waitlistLimit"]);
        }
    }

    #[test]
    fn a_draw_needs_a_cap_and_a_draw_time_before_the_deadline() {
        let body = body_with;
        let new = parse(body(json!({
            "allocation": "draw", "maxParticipants": 5,
            "drawAt": "2026-11-25T18:00:00.000Z", "closesAt": "2026-11-26T18:00:00.000Z"
        })))
        .expect("valid");
        assert_eq!(new.allocation, Allocation::Draw);
        assert!(new.draw_at.is_some());
        assert_eq!(
            bad_fields(body(
                json!({"allocation": "draw", "drawAt": "2026-11-25T18:00:00.000Z"})
            )),
            ["maxParticipants"]
        );
        assert_eq!(
            bad_fields(body(json!({"allocation": "draw", "maxParticipants": 5}))),
            ["drawAt"]
        );
        for bad_draw_at in [
            json!({"allocation": "draw", "maxParticipants": 5, "drawAt": "2026-11-24T17:00:00.000Z"}),
            json!({"allocation": "draw", "maxParticipants": 5, "drawAt": "2026-11-27T18:00:00.000Z",
                   "closesAt": "2026-11-26T18:00:00.000Z"}),
            json!({"drawAt": "2026-11-25T18:00:00.000Z"}),
        ] {
            assert_eq!(bad_fields(body(bad_draw_at)), ["drawAt"]);
        }
        assert_eq!(
            bad_fields(body(json!({"allocation": "lottery"}))),
            ["allocation"]
        );
    }

    #[test]
    fn a_title_without_a_slug_in_it_needs_a_slug() {
        let fields = bad_fields(json!({
            "title": "!!", "currency": "INR", "unitPriceMinor": 1, "minParticipants": 1
        }));
        assert_eq!(fields, ["slug"]);
    }

    #[test]
    fn the_public_view_has_no_version() {
        let new = parse(json!({
            "title": "Lamp", "currency": "INR", "unitPriceMinor": 1, "minParticipants": 1
        }))
        .expect("valid body");
        let gb = GroupBuy::draft(Handle::parse("acme").expect("handle"), new, now());
        assert_eq!(gb.view(Audience::Owner)["version"], json!(1));
        assert!(gb.view(Audience::Public).get("version").is_none());
        assert_eq!(gb.view(Audience::Public)["thresholdMet"], json!(false));
        assert_eq!(
            gb.view(Audience::Owner)["createdAt"],
            json!("2026-11-24T18:00:00.000Z")
        );
    }

    #[test]
    fn views_show_exactly_the_contract_fields() {
        let gb = GroupBuy::draft(
            Handle::parse("acme").expect("handle"),
            NewGroupBuy::sample(),
            Timestamp::parse("2026-11-24T18:00:00.000Z").expect("time"),
        );
        let keys = |audience| -> Vec<String> {
            let mut keys: Vec<String> = gb
                .view(audience)
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            keys.sort();
            keys
        };
        let public = [
            "allocation",
            "closeOutcome",
            "closedAt",
            "closesAt",
            "createdAt",
            "currency",
            "currentUnitPriceMinor",
            "description",
            "draw",
            "drawAt",
            "extensionCount",
            "handle",
            "maxParticipants",
            "maxQuantityPerParticipant",
            "minParticipants",
            "nextTier",
            "participantCount",
            "participation",
            "priceTiers",
            "publishedAt",
            "slug",
            "status",
            "thresholdMet",
            "title",
            "unitCount",
            "unitPriceMinor",
            "updatedAt",
        ];
        assert_eq!(keys(Audience::Public), public);
        let mut owner = public.to_vec();
        owner.extend(["version", "waitlistCount", "waitlistLimit"]);
        owner.sort_unstable();
        assert_eq!(keys(Audience::Owner), owner);
    }
}
