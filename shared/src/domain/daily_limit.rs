//! Daily write limits, counted in DynamoDB: one counter item per subject per UTC day,
//! incremented by a conditional update inside the same transaction as the write it limits,
//! so the count is exact across concurrent function instances and a refused write consumes
//! nothing. Counter items expire by TTL two days after their day.

use super::Timestamp;
use crate::table::layout::limit_pk;
use chrono::{Duration, NaiveTime};

/// An owner's writes, per handle.
pub const OWNER_WRITES: &str = "owner-writes";
/// A visitor's interest and waitlist writes, per visitor key.
pub const INTEREST_WRITES: &str = "interest-writes";
/// Support reports, per caller key.
pub const SUPPORT_REPORTS: &str = "support-reports";

/// One limited subject on one day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DailyLimit {
    /// What is limited, e.g. `support-reports`.
    pub name: &'static str,
    /// Who is limited: a handle, or a keyed hash of a caller.
    pub subject: String,
    pub limit: u32,
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// Seconds until the next UTC midnight, when the count starts again.
    pub resets_in: i64,
    /// Epoch seconds at which DynamoDB may delete the counter.
    pub expires_at: i64,
}

impl DailyLimit {
    pub fn new(name: &'static str, subject: String, limit: u32, now: Timestamp) -> Self {
        let now = now.as_datetime();
        let midnight = (now.date_naive() + Duration::days(1))
            .and_time(NaiveTime::MIN)
            .and_utc();
        Self {
            name,
            subject,
            limit,
            day: now.format("%Y-%m-%d").to_string(),
            resets_in: (midnight - now).num_seconds().max(1),
            expires_at: (midnight + Duration::days(1)).timestamp(),
        }
    }

    /// The counter's partition key.
    pub fn key(&self) -> String {
        limit_pk(self.name, &self.subject, &self.day)
    }

    /// `RateLimit-Policy` of the IETF draft (structured field): the quota per day.
    pub fn policy_header(&self) -> String {
        format!("\"daily\";q={};w=86400", self.limit)
    }

    /// `RateLimit` of the IETF draft once the quota is used up.
    pub fn exhausted_header(&self) -> String {
        format!("\"daily\";r=0;t={}", self.resets_in)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resets_at_the_next_utc_midnight() {
        let now = Timestamp::parse("2026-11-24T23:59:30.000Z").expect("time");
        let limit = DailyLimit::new("support-reports", "abc".into(), 20, now);
        assert_eq!(limit.day, "2026-11-24");
        assert_eq!(limit.resets_in, 30);
        assert_eq!(limit.key(), "LIMIT#support-reports#abc#2026-11-24");
        assert_eq!(limit.policy_header(), "\"daily\";q=20;w=86400");
        assert_eq!(limit.exhausted_header(), "\"daily\";r=0;t=30");
    }
}
