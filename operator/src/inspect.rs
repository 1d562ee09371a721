//! What the playbooks (`docs/playbooks/`) read from the table: a group-buy with its counts
//! recounted and its latest history, the daily counters, the support reports, the group-buys
//! due for expiry, the table itself. Read-only, except `limits reset`.
//!
//! The store's own methods are used where they exist; where they do not (history, counters,
//! reports), the keys come from the table's key layout (`group_buy::table::layout`), as the
//! store's do.

use crate::target::error_chain;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{Days, NaiveDate, Utc};
use group_buy::domain::daily_limit::{INTEREST_WRITES, OWNER_WRITES, SUPPORT_REPORTS};
use group_buy::domain::{Audience, GroupBuy, Handle, HistoryEntry, Slug, Status, Timestamp};
use group_buy::store::{Listing, Store, StoredReport};
use group_buy::table::layout::{
    self, HISTORY_PREFIX, LIMIT_SK, PROBE_PK, PROBE_SK, REPORT_SK, limit_pk, report_pk,
    reports_partition,
};
use group_buy::table::{BY_HANDLE, PARTITION_KEY, SORT_KEY};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Instant;

type Item = HashMap<String, AttributeValue>;

/// The daily limits of a caller key.
const CALLER_LIMITS: [&str; 2] = [INTEREST_WRITES, SUPPORT_REPORTS];
/// Reports are looked up day by day; this bounds how far back one command reads.
const MAX_REPORT_DAYS: u64 = 92;
/// Interest records read per page when recounting a group-buy's participants.
const RECOUNT_PAGE: i32 = 1000;

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn failed<E>(operation: &'static str) -> impl FnOnce(E) -> String
where
    E: std::error::Error + 'static,
{
    move |e| format!("DynamoDB {operation} failed: {}", error_chain(&e))
}

fn decode<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, String> {
    serde_dynamo::from_item(item).map_err(|e| format!("an item does not decode: {e}"))
}

/// Free text from the table (a title, a report, a token's name) as it may reach an operator's
/// terminal: every control character (ESC of an escape sequence, a carriage return, a tab) and
/// every bidirectional-text control is written as its escape (`\u{1b}`), so stored text can
/// neither move the cursor, recolour or clear the screen, reorder what is shown nor forge a row
/// or a column.
pub fn printable(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            c if c.is_control() => c.escape_unicode().to_string(),
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                c.escape_unicode().to_string()
            }
            c => c.to_string(),
        })
        .collect()
}

/// One TSV cell: free text, printable and on one line (tabs and line breaks are escaped).
fn cell(value: &str) -> String {
    printable(value)
}

fn shown<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// `YYYY-MM-DD`, for clap.
pub fn parse_day(raw: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| "must be a day, YYYY-MM-DD".into())
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// The days from `since` to today, newest first; refused when `since` is in the future or
/// further back than `MAX_REPORT_DAYS`.
fn days_back_to(since: NaiveDate) -> Result<Vec<NaiveDate>, String> {
    let today = today();
    if since > today {
        return Err(format!("--since {since} is after today ({today}, UTC)"));
    }
    let mut days = Vec::new();
    let mut day = today;
    while day >= since {
        if days.len() as u64 >= MAX_REPORT_DAYS {
            return Err(format!(
                "--since {since} is more than {MAX_REPORT_DAYS} days back; narrow it"
            ));
        }
        days.push(day);
        day = match day.checked_sub_days(Days::new(1)) {
            Some(previous) => previous,
            None => break,
        };
    }
    Ok(days)
}

/// A group-buy as stored, its interest records recounted, and its latest history entries.
pub struct GroupBuyReport {
    group_buy: GroupBuy,
    interest_records: u64,
    interest_units: u64,
    /// A draw campaign's entries recounted from the entry items, and their quantities.
    entries: Option<(u64, u64)>,
    /// Oldest first.
    history: Vec<HistoryEntry>,
}

impl GroupBuyReport {
    pub async fn read(
        client: &Client,
        table: &str,
        store: &Store,
        handle: &Handle,
        slug: &Slug,
        history: i32,
    ) -> Result<Self, String> {
        let group_buy = store
            .get(handle, slug)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no group-buy {handle}/{slug} in {table}"))?;
        // Recounted from the interest records themselves: the proof that the counters on the
        // group-buy (what every response shows) moved exactly once per participant.
        let (mut interest_records, mut interest_units, mut start) = (0, 0, None);
        loop {
            let page = store
                .list_interests(handle, slug, RECOUNT_PAGE, start)
                .await
                .map_err(|e| e.to_string())?;
            interest_records += page.items.len() as u64;
            interest_units += page
                .items
                .iter()
                .map(|i| u64::from(i.quantity))
                .sum::<u64>();
            start = page.last_key;
            if start.is_none() {
                break;
            }
        }
        // The latest entries only: newest first from the end of the collection, then reversed.
        let out = client
            .query()
            .table_name(table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :history)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(
                ":pk",
                s(layout::group_buy_pk(handle.as_str(), slug.as_str())),
            )
            .expression_attribute_values(":history", s(HISTORY_PREFIX))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(history.max(1))
            .send()
            .await
            .map_err(failed("Query"))?;
        let mut history = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(decode::<HistoryEntry>)
            .collect::<Result<Vec<_>, _>>()?;
        history.reverse();
        let entries = match group_buy.draw {
            Some(_) => {
                let entries = store
                    .all_entries(handle, slug)
                    .await
                    .map_err(|e| e.to_string())?;
                let units = entries.iter().map(|e| u64::from(e.quantity)).sum();
                Some((entries.len() as u64, units))
            }
            None => None,
        };
        Ok(Self {
            group_buy,
            interest_records,
            interest_units,
            entries,
            history,
        })
    }

    fn consistent(&self) -> bool {
        u64::from(self.group_buy.participant_count) == self.interest_records
            && self.group_buy.unit_count == self.interest_units
    }

    pub fn json(&self) -> Value {
        json!({
            "groupBuy": self.group_buy.view(Audience::Owner),
            "closeRejectedAt": self.group_buy.close_rejected_at,
            "interestRecords": self.interest_records,
            "interestUnits": self.interest_units,
            "entryRecords": self.entries.map(|(records, _)| records),
            "entryUnits": self.entries.map(|(_, units)| units),
            "countsConsistent": self.consistent(),
            "history": self.history,
        })
    }

    /// `key value` lines (so `awk '$1 == "status" {print $2}'` reads one), then the history
    /// as TSV.
    pub fn print(&self) {
        let gb = &self.group_buy;
        let rows = [
            ("group-buy", format!("{}/{}", gb.handle, gb.slug)),
            ("title", printable(&gb.title)),
            ("status", gb.status.as_str().to_owned()),
            ("closeOutcome", shown(gb.close_outcome.map(|o| o.as_str()))),
            ("version", gb.version.to_string()),
            (
                "participantCount",
                format!(
                    "{} ({} interest records)",
                    gb.participant_count, self.interest_records
                ),
            ),
            (
                "unitCount",
                format!(
                    "{} ({} units in the interest records)",
                    gb.unit_count, self.interest_units
                ),
            ),
            (
                "countsConsistent",
                if self.consistent() { "yes" } else { "NO" }.to_owned(),
            ),
            ("minParticipants", gb.min_participants.to_string()),
            (
                "thresholdMet",
                if gb.threshold_met() { "yes" } else { "no" }.to_owned(),
            ),
            ("maxParticipants", shown(gb.max_participants)),
            ("closesAt", shown(gb.closes_at)),
            ("createdAt", gb.created_at.to_string()),
            ("updatedAt", gb.updated_at.to_string()),
            ("publishedAt", shown(gb.published_at)),
            ("closedAt", shown(gb.closed_at)),
            ("closeRejectedAt", shown(gb.close_rejected_at)),
        ];
        for (key, value) in rows {
            println!("{key:<18} {value}");
        }
        println!();
        println!("history (latest {}, oldest first)", self.history.len());
        println!("at\taction\tactor\tfrom\tto\toutcome\tresult\treason\tversion\trequestId");
        for h in &self.history {
            let result = match h.result {
                group_buy::domain::HistoryResult::Applied => "applied",
                group_buy::domain::HistoryResult::Rejected => "rejected",
            };
            println!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                h.at,
                h.action,
                cell(&h.actor),
                shown(h.from.map(Status::as_str)),
                shown(h.to.map(Status::as_str)),
                shown(h.outcome.map(|o| o.as_str())),
                result,
                shown(h.reason.as_deref()),
                h.version,
                h.request_id
            );
        }
    }
}

/// A handle's group-buys, newest first, as TSV.
pub async fn list_group_buys(
    store: &Store,
    handle: &Handle,
    status: Option<Status>,
    limit: i32,
) -> Result<(), String> {
    let page = store
        .list(handle, Listing::Owner(status), limit, None)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "createdAt\tslug\tstatus\tversion\tparticipants\tminParticipants\tclosesAt\tupdatedAt"
    );
    for gb in &page.items {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            gb.created_at,
            gb.slug,
            gb.status.as_str(),
            gb.version,
            gb.participant_count,
            gb.min_participants,
            shown(gb.closes_at),
            gb.updated_at
        );
    }
    if page.last_key.is_some() {
        eprintln!("gharart-operator: more than {limit}; raise --limit to see them");
    }
    Ok(())
}

/// Whose daily counters to read: a handle's owner writes, or a caller's interest writes and
/// support reports (the caller key a support report shows).
pub enum LimitSubject {
    Handle(Handle),
    CallerKey(String),
}

impl LimitSubject {
    fn counters(&self) -> Vec<(&'static str, &str)> {
        match self {
            Self::Handle(handle) => vec![(OWNER_WRITES, handle.as_str())],
            Self::CallerKey(key) => CALLER_LIMITS
                .iter()
                .map(|name| (*name, key.as_str()))
                .collect(),
        }
    }
}

fn limit_key(name: &str, subject: &str, day: NaiveDate) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            PARTITION_KEY.to_owned(),
            s(limit_pk(name, subject, &day.to_string())),
        ),
        (SORT_KEY.to_owned(), s(LIMIT_SK)),
    ])
}

fn count_of(item: Option<&Item>) -> u64 {
    match item.and_then(|i| i.get("count")) {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
        _ => 0,
    }
}

fn next_midnight(day: NaiveDate) -> String {
    day.checked_add_days(Days::new(1))
        .map_or_else(|| "-".to_owned(), |d| format!("{d}T00:00:00.000Z"))
}

/// The day's counters of `subject`, as TSV.
pub async fn show_limits(
    client: &Client,
    table: &str,
    subject: &LimitSubject,
    day: Option<NaiveDate>,
) -> Result<(), String> {
    let day = day.unwrap_or_else(today);
    println!("limit\tsubject\tday\tcount\tresetsAt");
    for (name, who) in subject.counters() {
        let out = client
            .get_item()
            .table_name(table)
            .set_key(Some(limit_key(name, who, day)))
            .consistent_read(true)
            .send()
            .await
            .map_err(failed("GetItem"))?;
        println!(
            "{name}\t{who}\t{day}\t{}\t{}",
            count_of(out.item.as_ref()),
            next_midnight(day)
        );
    }
    Ok(())
}

/// Deletes today's counters of `subject`: the count starts again from zero, as at midnight.
pub async fn reset_limits(
    client: &Client,
    table: &str,
    subject: &LimitSubject,
) -> Result<(), String> {
    let day = today();
    for (name, who) in subject.counters() {
        let out = client
            .delete_item()
            .table_name(table)
            .set_key(Some(limit_key(name, who, day)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(failed("DeleteItem"))?;
        println!(
            "reset {name} of {who} for {day} (count was {})",
            count_of(out.attributes.as_ref())
        );
    }
    Ok(())
}

/// Open group-buys whose deadline has passed (the first `BATCH`, soonest first): what the
/// next `expire-group-buys` run closes.
pub async fn due_for_expiry(store: &Store) -> Result<(), String> {
    let now = Timestamp::now();
    let due = store
        .due_for_expiry(now, group_buy::expiry::BATCH)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "closesAt\thandle\tslug\tstatus\tparticipants\tminParticipants\tclosesAs\toverdueSeconds"
    );
    for gb in &due {
        let overdue = gb
            .closes_at
            .map_or(0, |at| (now.as_datetime() - at.as_datetime()).num_seconds());
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            shown(gb.closes_at),
            gb.handle,
            gb.slug,
            gb.status.as_str(),
            gb.participant_count,
            gb.min_participants,
            if gb.threshold_met() {
                "fulfilled"
            } else {
                "expired"
            },
            overdue
        );
    }
    if due.len() as i64 >= i64::from(group_buy::expiry::BATCH) {
        eprintln!(
            "gharart-operator: the first {} due are shown; more may be due",
            group_buy::expiry::BATCH
        );
    }
    Ok(())
}

/// The reports of `days`, newest first.
async fn reports_of_days(
    client: &Client,
    table: &str,
    days: &[NaiveDate],
) -> Result<Vec<StoredReport>, String> {
    let mut reports = Vec::new();
    for day in days {
        let mut start = None;
        loop {
            let out = client
                .query()
                .table_name(table)
                .index_name(BY_HANDLE.name)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", BY_HANDLE.partition_key)
                .expression_attribute_values(":pk", s(reports_partition(&day.to_string())))
                .scan_index_forward(false)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(failed("Query"))?;
            for item in out.items.unwrap_or_default() {
                reports.push(decode::<StoredReport>(item)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
    }
    Ok(reports)
}

/// Support reports received since `since` (default today, UTC), newest first, as TSV.
pub async fn list_reports(
    client: &Client,
    table: &str,
    since: Option<NaiveDate>,
    handle: Option<&Handle>,
) -> Result<(), String> {
    let days = days_back_to(since.unwrap_or_else(today))?;
    let reports = reports_of_days(client, table, &days).await?;
    println!("receivedAt\treportId\trequestId\tcitedRequestId\thandle\tcaller\tsummary");
    let wanted = |r: &&StoredReport| handle.is_none_or(|h| r.handle.as_deref() == Some(h.as_str()));
    for r in reports.iter().filter(wanted) {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            r.received_at,
            r.report_id,
            r.request_id,
            shown(r.cited_request_id.as_deref()),
            shown(r.handle.as_deref()),
            r.caller_kind,
            cell(&r.summary)
        );
    }
    Ok(())
}

/// How to find reports for `report show`.
pub enum ReportLookup {
    ReportId(String),
    /// The report's own request id or the one it cites, looked for since a day.
    RequestId(String, NaiveDate),
}

pub fn default_lookback() -> NaiveDate {
    today().checked_sub_days(Days::new(7)).unwrap_or_else(today)
}

/// The reports found by `lookup`, in full; an error when there is none.
pub async fn show_reports(
    client: &Client,
    table: &str,
    lookup: &ReportLookup,
) -> Result<(), String> {
    let found = match lookup {
        ReportLookup::ReportId(id) => {
            let out = client
                .get_item()
                .table_name(table)
                .key(PARTITION_KEY, s(report_pk(id)))
                .key(SORT_KEY, s(REPORT_SK))
                .send()
                .await
                .map_err(failed("GetItem"))?;
            let report = out.item.map(decode::<StoredReport>).transpose()?;
            report.into_iter().collect::<Vec<_>>()
        }
        ReportLookup::RequestId(id, since) => {
            let days = days_back_to(*since)?;
            reports_of_days(client, table, &days)
                .await?
                .into_iter()
                .filter(|r| &r.request_id == id || r.cited_request_id.as_ref() == Some(id))
                .collect()
        }
    };
    if found.is_empty() {
        return Err(match lookup {
            ReportLookup::ReportId(id) => format!("no report {id} in {table}"),
            ReportLookup::RequestId(id, since) => {
                format!("no report sent or citing request {id} since {since} in {table}")
            }
        });
    }
    for (i, r) in found.iter().enumerate() {
        if i > 0 {
            println!();
        }
        let rows = [
            ("reportId", r.report_id.clone()),
            ("receivedAt", r.received_at.to_string()),
            ("requestId", r.request_id.clone()),
            ("citedRequestId", shown(r.cited_request_id.as_deref())),
            ("handle", shown(r.handle.as_deref())),
            ("sessionId", printable(&shown(r.session_id.as_deref()))),
            ("callerKind", r.caller_kind.clone()),
            ("callerKey", r.caller_key.clone()),
            ("summary", printable(&r.summary)),
        ];
        for (key, value) in rows {
            println!("{key:<15} {value}");
        }
        println!("details");
        for line in r.details.lines() {
            println!("  {}", printable(line));
        }
        if let Some(artifact) = &r.repro_artifact {
            println!("reproArtifact");
            for line in artifact.lines() {
                println!("  {}", printable(line));
            }
        }
    }
    Ok(())
}

/// The table's state and one timed read: what to look at first when the API answers 503.
pub async fn describe_table(client: &Client, table: &str) -> Result<(), String> {
    let out = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(failed("DescribeTable"))?;
    let description = out
        .table
        .ok_or_else(|| format!("DescribeTable said nothing about {table}"))?;
    let indexes: Vec<String> = description
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            format!(
                "{} {}",
                i.index_name().unwrap_or("-"),
                i.index_status().map_or("-", |s| s.as_str())
            )
        })
        .collect();
    let billing = description
        .billing_mode_summary()
        .and_then(|b| b.billing_mode())
        .map_or("PROVISIONED", |m| m.as_str());
    // A strongly consistent read of a key that never exists: the data plane's answer and
    // its latency, which DescribeTable (the control plane) does not show.
    let started = Instant::now();
    client
        .get_item()
        .table_name(table)
        .key(PARTITION_KEY, s(PROBE_PK))
        .key(SORT_KEY, s(PROBE_SK))
        .consistent_read(true)
        .send()
        .await
        .map_err(failed("GetItem (probe)"))?;
    let probe_ms = started.elapsed().as_millis();
    let rows = [
        ("table", table.to_owned()),
        (
            "status",
            shown(description.table_status().map(|s| s.as_str())),
        ),
        ("billing", billing.to_owned()),
        (
            "items",
            format!(
                "{} (approximate, refreshed by DynamoDB every ~6 hours)",
                shown(description.item_count())
            ),
        ),
        ("indexes", indexes.join(", ")),
        ("probe", format!("GetItem answered in {probe_ms} ms")),
    ];
    for (key, value) in rows {
        println!("{key:<8} {value}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_the_store() {
        let day = parse_day("2026-11-24").expect("day");
        let limit = group_buy::domain::daily_limit::DailyLimit::new(
            OWNER_WRITES,
            "acme-decor".into(),
            10,
            Timestamp::parse("2026-11-24T12:00:00.000Z").expect("time"),
        );
        assert_eq!(
            limit_key(OWNER_WRITES, "acme-decor", day)[PARTITION_KEY],
            s(limit.key())
        );
        assert_eq!(reports_partition(&day.to_string()), "REPORTS#2026-11-24");
        assert_eq!(next_midnight(day), "2026-11-25T00:00:00.000Z");
    }

    #[test]
    fn report_days_are_bounded() {
        assert_eq!(days_back_to(today()).expect("today"), vec![today()]);
        assert_eq!(days_back_to(default_lookback()).expect("a week").len(), 8);
        let far = today()
            .checked_sub_days(Days::new(MAX_REPORT_DAYS + 1))
            .expect("a past day");
        assert!(days_back_to(far).is_err());
        let tomorrow = today().checked_add_days(Days::new(1)).expect("a day");
        assert!(days_back_to(tomorrow).is_err());
        assert!(parse_day("24/11/2026").is_err());
    }

    #[test]
    fn cells_stay_on_one_line() {
        assert_eq!(cell("a\tb\nc"), "a\\u{9}b\\u{a}c");
    }

    #[test]
    fn stored_text_cannot_drive_the_terminal() {
        // Clear the screen, recolour, return the carriage, reverse the text's direction.
        let hostile = "Lamp\u{1b}[2J\u{1b}[31mred\r\u{202e}gnp.exe\u{7f}";
        let shown = printable(hostile);
        assert!(
            !shown.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{shown}"
        );
        assert_eq!(
            shown,
            "Lamp\\u{1b}[2J\\u{1b}[31mred\\u{d}\\u{202e}gnp.exe\\u{7f}"
        );
        assert_eq!(printable("Brass lamp, ठीक है"), "Brass lamp, ठीक है");
    }
}
