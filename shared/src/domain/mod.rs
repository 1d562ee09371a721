//! The group-buy domain: types that parse, and the pure rules of the lifecycle, interest and
//! the rollup. No I/O, no HTTP: the store writes what these decide, the HTTP edge tells it.

pub mod daily_limit;
pub mod draw;
pub mod group_buy;
pub mod history;
pub mod identifiers;
pub mod interest;
pub mod lifecycle;
pub mod price_tier;
pub mod rollup;
pub mod stats;
pub mod support;
pub mod timestamp;

pub use draw::{Allocation, Draw, DrawResult};
pub use group_buy::{Audience, GroupBuy, NewGroupBuy, Participation};
pub use history::{HistoryEntry, HistoryResult};
pub use identifiers::{Handle, Slug};
pub use interest::{Held, InterestRejection, Registration, Tally};
pub use lifecycle::{
    Action, CloseOutcome, CountGuard, Decision, Extension, ExtensionDecision, Rejection, Status,
    Transition,
};
pub use price_tier::PriceTier;
pub use timestamp::Timestamp;

/// The largest participant count a group-buy's bounds or a price tier may name.
pub const MAX_PARTICIPANTS_LIMIT: i64 = 100_000;
