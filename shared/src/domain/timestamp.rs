//! Times as the API writes them: RFC 3339, UTC, millisecond precision. The fixed width also
//! makes them sort correctly as DynamoDB strings, which the list indexes rely on.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    pub fn now() -> Self {
        Self::from(Utc::now())
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        DateTime::parse_from_rfc3339(raw)
            .map(|t| Self::from(t.with_timezone(&Utc)))
            .map_err(|_| "must be an RFC 3339 time, e.g. 2026-12-31T18:30:00.000Z".into())
    }

    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    pub fn plus_millis(&self, millis: i64) -> Self {
        Self::from(self.0 + chrono::Duration::milliseconds(millis))
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(t: DateTime<Utc>) -> Self {
        Self(t.trunc_subsecs(3))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_utc_with_milliseconds() {
        let t = Timestamp::parse("2026-11-24T23:30:00.123456+05:30").expect("valid time");
        assert_eq!(t.to_string(), "2026-11-24T18:00:00.123Z");
        let whole = Timestamp::parse("2026-11-24T18:00:00Z").expect("valid time");
        assert_eq!(whole.to_string(), "2026-11-24T18:00:00.000Z");
    }

    #[test]
    fn refuses_other_formats() {
        assert!(Timestamp::parse("2026-11-24 18:00").is_err());
        assert!(Timestamp::parse("tomorrow").is_err());
    }
}
