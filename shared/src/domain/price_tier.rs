//! Price tiers: a lower unit price once enough participants joined (API.md, "Price tiers").
//! Set at create and never changed after (there is no route that updates a group-buy), so
//! fixed once published; the price a view shows follows `participantCount` alone.

use super::MAX_PARTICIPANTS_LIMIT;
use crate::validation::{FieldError, Fields, integer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Tiers a group-buy may carry.
pub const MAX_PRICE_TIERS: usize = 5;

/// One tier: from `min_participants` participants on, each unit costs `unit_price_minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceTier {
    pub min_participants: u32,
    pub unit_price_minor: i64,
}

/// The next tier of a view: the tier and how many more participants it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NextTier {
    pub min_participants: u32,
    pub unit_price_minor: i64,
    pub participants_needed: u32,
}

/// The unit price at `participants`: the highest tier reached, else `base`. `tiers` ascend by
/// `min_participants` (as parsed and stored).
pub fn current_unit_price(base: i64, tiers: &[PriceTier], participants: u32) -> i64 {
    tiers
        .iter()
        .rev()
        .find(|tier| participants >= tier.min_participants)
        .map_or(base, |tier| tier.unit_price_minor)
}

/// The lowest tier not reached at `participants`, if any.
pub fn next_tier(tiers: &[PriceTier], participants: u32) -> Option<NextTier> {
    tiers
        .iter()
        .find(|tier| participants < tier.min_participants)
        .map(|tier| NextTier {
            min_participants: tier.min_participants,
            unit_price_minor: tier.unit_price_minor,
            participants_needed: tier.min_participants - participants,
        })
}

/// What bounds a group-buy's tiers: its own unit price and participant bounds.
#[derive(Clone, Copy, Debug)]
pub struct TierBounds {
    /// Every tier costs less than this.
    pub unit_price_minor: Option<i64>,
    /// No tier needs more participants than the cap (`maxParticipants`): it would never be
    /// reached.
    pub max_participants: Option<u32>,
}

/// `priceTiers` of a create request: up to `MAX_PRICE_TIERS` objects `{minParticipants,
/// unitPriceMinor}`, strictly increasing in participants and strictly decreasing in price, each
/// below the group-buy's unit price and reachable under its cap. Every bad member is named
/// (`priceTiers[1].unitPriceMinor`), as `VALIDATION_FAILED` names every bad field at once.
pub fn parse_price_tiers(
    value: &Value,
    bounds: TierBounds,
) -> Result<Vec<PriceTier>, Vec<FieldError>> {
    let one = |message: &str| vec![FieldError::new("priceTiers", message)];
    let Some(raw) = value.as_array() else {
        return Err(one("must be a list of {minParticipants, unitPriceMinor}"));
    };
    if raw.len() > MAX_PRICE_TIERS {
        return Err(one(&format!("must have at most {MAX_PRICE_TIERS} tiers")));
    }
    let mut errors = Vec::new();
    let mut tiers = Vec::with_capacity(raw.len());
    // The latest value of each field that was in range orders the next member, even when
    // another field of its member was bad, so that one mistake is not reported twice.
    let (mut last_min, mut last_price): (Option<u32>, Option<i64>) = (None, None);
    for (i, member) in raw.iter().enumerate() {
        let name = format!("priceTiers[{i}]");
        let Some(map) = member.as_object() else {
            errors.push(FieldError::new(
                &name,
                "must be an object {minParticipants, unitPriceMinor}",
            ));
            continue;
        };
        let mut fields = Fields::new(map.clone(), &["minParticipants", "unitPriceMinor"]);
        let min = fields.required("minParticipants", |v| {
            let min = integer(v, 1, MAX_PARTICIPANTS_LIMIT)? as u32;
            match bounds.max_participants.is_none_or(|cap| min <= cap) {
                true => Ok(min),
                false => Err("must not be more than maxParticipants".into()),
            }
        });
        let price = fields.required("unitPriceMinor", |v| {
            let price = integer(v, 0, i64::MAX)?;
            match bounds.unit_price_minor.is_none_or(|base| price < base) {
                true => Ok(price),
                false => Err("must be below the group-buy's unitPriceMinor".into()),
            }
        });
        if let (Some(min), Some(previous)) = (min, last_min)
            && min <= previous
        {
            fields.reject(
                "minParticipants",
                "must be greater than the previous tier's",
            );
        }
        if let (Some(price), Some(previous)) = (price, last_price)
            && price >= previous
        {
            fields.reject("unitPriceMinor", "must be less than the previous tier's");
        }
        last_min = min.or(last_min);
        last_price = price.or(last_price);
        match (fields.finish(), min, price) {
            (Ok(()), Some(min_participants), Some(unit_price_minor)) => tiers.push(PriceTier {
                min_participants,
                unit_price_minor,
            }),
            (Ok(()), _, _) => errors.push(FieldError::new(&name, "could not be read")),
            (Err(bad), _, _) => errors.extend(
                bad.into_iter()
                    .map(|e| FieldError::new(format!("{name}.{}", e.field), e.message)),
            ),
        }
    }
    match errors.is_empty() {
        true => Ok(tiers),
        false => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TIERS: [PriceTier; 2] = [
        PriceTier {
            min_participants: 10,
            unit_price_minor: 900,
        },
        PriceTier {
            min_participants: 20,
            unit_price_minor: 800,
        },
    ];

    fn bounds() -> TierBounds {
        TierBounds {
            unit_price_minor: Some(1000),
            max_participants: Some(50),
        }
    }

    fn bad_fields(value: Value) -> Vec<String> {
        parse_price_tiers(&value, bounds())
            .expect_err("invalid tiers")
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn the_price_is_the_highest_tier_reached() {
        assert_eq!(current_unit_price(1000, &TIERS, 0), 1000);
        assert_eq!(current_unit_price(1000, &TIERS, 9), 1000);
        assert_eq!(current_unit_price(1000, &TIERS, 10), 900);
        assert_eq!(current_unit_price(1000, &TIERS, 19), 900);
        assert_eq!(current_unit_price(1000, &TIERS, 20), 800);
        assert_eq!(current_unit_price(1000, &TIERS, 500), 800);
        assert_eq!(current_unit_price(1000, &[], 500), 1000);
    }

    #[test]
    fn the_next_tier_says_how_many_more_it_needs() {
        assert_eq!(
            next_tier(&TIERS, 3),
            Some(NextTier {
                min_participants: 10,
                unit_price_minor: 900,
                participants_needed: 7
            })
        );
        assert_eq!(
            next_tier(&TIERS, 10).map(|t| (t.min_participants, t.participants_needed)),
            Some((20, 10))
        );
        assert_eq!(next_tier(&TIERS, 20), None);
        assert_eq!(next_tier(&[], 0), None);
    }

    #[test]
    fn valid_tiers_parse_in_order() {
        let tiers = parse_price_tiers(
            &json!([
                {"minParticipants": 10, "unitPriceMinor": 900},
                {"minParticipants": 20, "unitPriceMinor": 800}
            ]),
            bounds(),
        );
        assert_eq!(tiers, Ok(TIERS.to_vec()));
        assert_eq!(parse_price_tiers(&json!([]), bounds()), Ok(vec![]));
    }

    #[test]
    fn every_bad_member_is_named() {
        assert_eq!(
            bad_fields(json!([
                {"minParticipants": 10, "unitPriceMinor": 1000},
                {"minParticipants": 10, "unitPriceMinor": 900, "colour": "red"},
                "cheap",
                {"minParticipants": 51},
                {"minParticipants": 0, "unitPriceMinor": -1}
            ])),
            [
                "priceTiers[0].unitPriceMinor",
                "priceTiers[1].colour",
                "priceTiers[1].minParticipants",
                "priceTiers[2]",
                "priceTiers[3].minParticipants",
                "priceTiers[3].unitPriceMinor",
                "priceTiers[4].minParticipants",
                "priceTiers[4].unitPriceMinor",
            ]
        );
    }

    #[test]
    fn tiers_must_rise_in_participants_and_fall_in_price() {
        assert_eq!(
            bad_fields(json!([
                {"minParticipants": 10, "unitPriceMinor": 900},
                {"minParticipants": 10, "unitPriceMinor": 800},
                {"minParticipants": 30, "unitPriceMinor": 800}
            ])),
            [
                "priceTiers[1].minParticipants",
                "priceTiers[2].unitPriceMinor"
            ]
        );
    }

    #[test]
    fn the_list_itself_is_bounded() {
        let six: Vec<Value> = (1..=6)
            .map(|i| json!({"minParticipants": i, "unitPriceMinor": 1000 - i}))
            .collect();
        assert_eq!(bad_fields(json!(six)), ["priceTiers"]);
        assert_eq!(bad_fields(json!({"minParticipants": 2})), ["priceTiers"]);
    }
}
