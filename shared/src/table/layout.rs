//! Every partition key and sort key string of the table, built here and nowhere else: the
//! store, the event derivation and the operator call these. A base module: its functions
//! take strings and numbers, never the domain's types, so every layer may use it.
//!
//! | item | PK | SK | index keys |
//! |---|---|---|---|
//! | group-buy's own item | [`group_buy_pk`] | [`GROUP_BUY_SK`] | GSI1 [`handle_partition`] / [`newest_first_sk`]; GSI2 [`handle_status_partition`] / [`newest_first_sk`]; GSI3 [`public_partition`] / [`newest_first_sk`] (once published); GSI4 [`status_partition`] / [`recently_changed_sk`]; GSI5 [`deadline_partition`] / [`deadline_sk`] (while open, with a deadline) |
//! | its description | [`group_buy_pk`] | [`DESCRIPTION_SK`] | – |
//! | its tally | [`group_buy_pk`] | [`TALLY_SK`] | – |
//! | history entry | [`group_buy_pk`] | [`history_sk`] | – |
//! | interest | [`group_buy_pk`] | [`interest_sk`] | – |
//! | waitlist entry, in joining order | [`group_buy_pk`] | [`queue_sk`] | – |
//! | the same entry, by its visitor | [`group_buy_pk`] | [`waiter_sk`] | – |
//! | personal access token | [`pat_pk`] | [`PAT_SK`] | GSI1 [`pats_partition`] / [`newest_first_sk`] |
//! | support report | [`report_pk`] | [`REPORT_SK`] | GSI1 [`reports_partition`] / [`newest_first_sk`] |
//! | daily counter (TTL) | [`limit_pk`] | [`LIMIT_SK`] | – |
//! | idempotency record (TTL) | [`idempotency_pk`] | [`IDEMPOTENCY_SK`] | – |
//! | rollup counters | [`rollup_partition`] | [`TOTALS_SK`], [`drafts_sk`] | – |
//! | a group-buy's statistics: one hour | [`stats_pk`] | [`stats_hour_sk`] | – |
//! | a stream record counted in them (TTL) | [`stats_pk`] | [`stats_seen_sk`] | – |
//! | redeemed visitor challenge (TTL) | [`challenge_pk`] | [`CHALLENGE_REDEEMED_SK`] | – |
//! | a draw's seed and progress | [`draw_pk`] | [`DRAW_CONTROL_SK`] | – |
//! | a draw's ranks, 100 tickets an item | [`draw_pk`] | [`rank_chunk_sk`] | – |
//! | one of a draw's entry shards: its state and count | [`draw_shard_pk`] | [`DRAW_SHARD_SK`] | – |
//! | a draw entry | [`draw_shard_pk`] | [`draw_entry_sk`] | – |
//! | a draw not yet run | [`DRAWS_DUE_PK`] | [`draw_due_sk`] | – |
//!
//! Sort order is part of the layout: a group-buy's collection sorts `GB` <
//! `GB#DESCRIPTION` < `GB#TALLY` < [`GROUP_BUY_END`] < `HIST#…` < [`HISTORY_END`] < `INT#…` <
//! `WAIT#…` < `WAITER#…`; `$` follows `#` in ASCII, which the range bounds here rely on.

use sha2::{Digest, Sha256};

/// The partition key prefix of a group-buy's item collection.
pub const GROUP_BUY_PREFIX: &str = "GB#";
/// The group-buy's own item: the one the indexes list, rewritten only by transitions.
pub const GROUP_BUY_SK: &str = "GB";
/// Its description, written once with the draft.
pub const DESCRIPTION_SK: &str = "GB#DESCRIPTION";
/// Its tally (`Tally`): what interest writes read and move.
pub const TALLY_SK: &str = "GB#TALLY";
/// Sorts after the three items of a group-buy and before its history (`HIST#…`).
pub const GROUP_BUY_END: &str = "GB$";
/// A history entry's sort key prefix: entries sort by time.
pub const HISTORY_PREFIX: &str = "HIST#";
/// Sorts after every `HIST#…` key.
pub const HISTORY_END: &str = "HIST$";
/// An interest's sort key prefix.
pub const INTEREST_PREFIX: &str = "INT#";
/// A waitlist queue item's sort key prefix.
pub const QUEUE_PREFIX: &str = "WAIT#";
/// A waiting visitor's own item's sort key prefix.
pub const WAITER_PREFIX: &str = "WAITER#";
/// A personal access token's sort key.
pub const PAT_SK: &str = "PAT";
/// A support report's sort key.
pub const REPORT_SK: &str = "REPORT";
/// A daily counter's sort key.
pub const LIMIT_SK: &str = "LIMIT";
/// An idempotency record's sort key.
pub const IDEMPOTENCY_SK: &str = "IDEM";
/// A rollup shard's campaign-wide counters.
pub const TOTALS_SK: &str = "TOTALS";
/// The sort key prefix of a rollup shard's drafts counted by hour.
pub const DRAFTS_PREFIX: &str = "DRAFTS#";
/// The partition key prefix of a group-buy's statistics (`stats_pk`); not `GB#…`, so no
/// lifecycle event is derived from their writes.
pub const STATS_PREFIX: &str = "GBSTATS#";
/// The sort key prefix of an hour of statistics.
pub const STATS_HOUR_PREFIX: &str = "HOUR#";
/// Write shards of the admin and deadline indexes.
pub const INDEX_SHARDS: u32 = 4;
/// Partitions the rollup counters are spread over.
pub const ROLLUP_SHARDS: u32 = 8;
/// A key no item has: the operator's timed probe read.
pub const PROBE_PK: &str = "OPERATOR#probe";
/// The probe's sort key.
pub const PROBE_SK: &str = "PROBE";

/// A group-buy's item collection: its own item, description, tally, history, interests and
/// waitlist.
pub fn group_buy_pk(handle: &str, slug: &str) -> String {
    format!("{GROUP_BUY_PREFIX}{handle}#{slug}")
}

/// The handle and slug of a `group_buy_pk`; `None` for a key of another item.
pub fn group_buy_of(pk: &str) -> Option<(&str, &str)> {
    pk.strip_prefix(GROUP_BUY_PREFIX)?.split_once('#')
}

/// The partition of a group-buy's statistics: beside its item collection, not in it, so that
/// the stream consumer that writes them never contends with the registrations it counts.
pub fn stats_pk(handle: &str, slug: &str) -> String {
    format!("{STATS_PREFIX}{handle}#{slug}")
}

/// The statistics of the hour starting at `hour` (an RFC 3339 time): sorted by time.
pub fn stats_hour_sk(hour: &str) -> String {
    format!("{STATS_HOUR_PREFIX}{hour}")
}

/// The mark that stream record `record_id` was counted, so that a redelivery is not.
pub fn stats_seen_sk(record_id: &str) -> String {
    format!("SEEN#{record_id}")
}

/// A history entry: by time, then the request that wrote it.
pub fn history_sk(at: &str, request_id: &str) -> String {
    format!("{HISTORY_PREFIX}{at}#{request_id}")
}

/// An interest's sort key. Keyed by the per-group-buy pseudonym, never the visitor's
/// platform-wide key: the participants list is ordered by it, and an order shared across
/// campaigns would let an owner relate where one visitor sorts in two of them.
pub fn interest_sk(participant: &str) -> String {
    format!("{INTEREST_PREFIX}{participant}")
}

/// A waiting visitor's own item: keyed by the pseudonym, as interests are.
pub fn waiter_sk(participant: &str) -> String {
    format!("{WAITER_PREFIX}{participant}")
}

/// A waitlist queue item, by the join's number, zero-padded (to the 20 digits of any u64)
/// so that the key order is the numeric order.
pub fn queue_sk(seq: u64) -> String {
    format!("{QUEUE_PREFIX}{seq:020}")
}

/// The partition of closed group-buys whose waitlist entries still wait for their expiry
/// (`store::retirement`): one small item per close, deleted once its entries carry a `ttl`.
pub const RETIREMENT_PK: &str = "RETIRE";
/// Every waitlist item of a group-buy (the queue's `WAIT#` and the visitors' `WAITER#`).
pub const WAITLIST_ITEMS_PREFIX: &str = "WAIT";

/// A retirement, oldest close first.
pub fn retirement_sk(closed_at: &str, handle: &str, slug: &str) -> String {
    format!("{closed_at}#{handle}#{slug}")
}

/// A draw's own partition: its seed (hidden until the draw, which no view reads) and its
/// ranks. Apart from the group-buy's, so that no read of the group-buy ever carries the seed.
pub fn draw_pk(handle: &str, slug: &str) -> String {
    format!("DRAW#{handle}#{slug}")
}

/// The draw's seed and how far its writing has come.
pub const DRAW_CONTROL_SK: &str = "CONTROL";
/// The sort key prefix of the draw's rank items.
pub const RANK_CHUNK_PREFIX: &str = "RANKS#";

/// The rank item holding ranks `chunk * 100 + 1 ..`, zero-padded so that key order is rank
/// order.
pub fn rank_chunk_sk(chunk: u64) -> String {
    format!("{RANK_CHUNK_PREFIX}{chunk:08}")
}

/// One of a draw's entry shards (`domain::draw::DRAW_SHARDS`): a partition of its own, so
/// that a launch's entries spread over partitions.
pub fn draw_shard_pk(handle: &str, slug: &str, shard: u32) -> String {
    format!("DRAW#{handle}#{slug}#{shard:02}")
}

/// A shard's own item: the group-buy's status as entries need it, `drawAt`, the count and
/// limit of its entries, and `sealed` once the draw starts.
pub const DRAW_SHARD_SK: &str = "SHARD";
/// The sort key prefix of draw entries.
pub const DRAW_ENTRY_PREFIX: &str = "ENTRY#";

/// A draw entry, by its ticket (the visitor's per-campaign pseudonym).
pub fn draw_entry_sk(ticket: &str) -> String {
    format!("{DRAW_ENTRY_PREFIX}{ticket}")
}

/// The partition of draws not yet run, by `drawAt`: what the scheduled function reads.
pub const DRAWS_DUE_PK: &str = "DRAWS";

/// A draw not yet run, soonest first.
pub fn draw_due_sk(draw_at: &str, handle: &str, slug: &str) -> String {
    format!("{draw_at}#{handle}#{slug}")
}

/// GSI1: a handle's group-buys.
pub fn handle_partition(handle: &str) -> String {
    format!("HANDLE#{handle}")
}

/// GSI2: a handle's group-buys in one status.
pub fn handle_status_partition(handle: &str, status: &str) -> String {
    format!("HANDLE#{handle}#{status}")
}

/// GSI3: a handle's group-buys ever published.
pub fn public_partition(handle: &str) -> String {
    format!("PUBLIC#{handle}")
}

/// GSI1's sort key (and GSI2's, GSI3's), newest first read backwards: when, then which
/// (a group-buy's slug, a token's or a report's id).
pub fn newest_first_sk(at: &str, name: &str) -> String {
    format!("{at}#{name}")
}

/// GSI4: every handle's group-buys in `status`, in one of `INDEX_SHARDS` write shards.
pub fn status_partition(status: &str, shard: u32) -> String {
    format!("ALL#{status}#{shard}")
}

/// GSI4's sort key: most recently changed first, read backwards; it names the group-buy.
pub fn recently_changed_sk(updated_at: &str, handle: &str, slug: &str) -> String {
    format!("{updated_at}#{handle}#{slug}")
}

/// The handle and slug a `recently_changed_sk` names; `None` for a key of another shape.
pub fn group_buy_of_recently_changed(sort_key: &str) -> Option<(&str, &str)> {
    let (_, group_buy) = sort_key.split_once('#')?;
    group_buy.split_once('#')
}

/// GSI5: open group-buys with a deadline, in one of `INDEX_SHARDS` write shards.
pub fn deadline_partition(shard: u32) -> String {
    format!("DEADLINES#{shard}")
}

/// GSI5's sort key: the deadline, then the group-buy, soonest first.
pub fn deadline_sk(closes_at: &str, handle: &str, slug: &str) -> String {
    format!("{closes_at}#{handle}#{slug}")
}

/// The deadline a `deadline_sk` is listed under.
pub fn deadline_of(sort_key: &str) -> Option<&str> {
    sort_key.split_once('#').map(|(at, _)| at)
}

/// Sorts after every GSI5 key of a deadline at `at` (and GSI4 key updated at `at`): `$`
/// sorts after the `#` that follows the time in every key.
pub fn after_time(at: &str) -> String {
    format!("{at}$")
}

/// The write shard of a group-buy in the indexes that every campaign's transitions write
/// (admin, deadlines): stable, so that a group-buy moves within one shard, and spread by a
/// hash so that no index partition takes the whole platform's writes.
pub fn index_shard(handle: &str, slug: &str) -> u32 {
    let digest = Sha256::digest(format!("{handle}#{slug}").as_bytes());
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % INDEX_SHARDS
}

/// A personal access token, by id.
pub fn pat_pk(id: &str) -> String {
    format!("PAT#{id}")
}

/// GSI1: a handle's tokens.
pub fn pats_partition(handle: &str) -> String {
    format!("PATS#{handle}")
}

/// A support report, by id.
pub fn report_pk(report_id: &str) -> String {
    format!("REPORT#{report_id}")
}

/// GSI1: the reports received on one UTC day (`YYYY-MM-DD`).
pub fn reports_partition(day: &str) -> String {
    format!("REPORTS#{day}")
}

/// A daily counter: what is limited, who, and the UTC day (`YYYY-MM-DD`).
pub fn limit_pk(name: &str, subject: &str, day: &str) -> String {
    format!("LIMIT#{name}#{subject}#{day}")
}

/// An idempotency record, by the key scoped to its caller.
pub fn idempotency_pk(scoped_key: &str) -> String {
    format!("IDEM#{scoped_key}")
}

/// One of the `ROLLUP_SHARDS` partitions of the rollup counters.
pub fn rollup_partition(shard: u32) -> String {
    format!("ROLLUP#{shard}")
}

/// A rollup shard's count of the drafts last updated in `hour` (`YYYY-MM-DDTHH`).
pub fn drafts_sk(hour: &str) -> String {
    format!("{DRAFTS_PREFIX}{hour}")
}

/// The sort key of a redeemed visitor challenge's item.
pub const CHALLENGE_REDEEMED_SK: &str = "REDEEMED";

/// The partition key of a visitor challenge's redemption: the challenge's random salt, so
/// that one challenge has one item, which a conditional put writes once.
pub fn challenge_pk(salt: &str) -> String {
    format!("CHALLENGE#{salt}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_buy_collection_sorts_as_its_reads_expect() {
        let pk = group_buy_pk("acme-decor", "jute-rug");
        assert_eq!(pk, "GB#acme-decor#jute-rug");
        assert_eq!(group_buy_of(&pk), Some(("acme-decor", "jute-rug")));
        assert_eq!(group_buy_of("ROLLUP#3"), None);
        let history = history_sk("2026-11-24T18:00:00.000Z", "r1");
        assert_eq!(history, "HIST#2026-11-24T18:00:00.000Z#r1");
        let order = [
            GROUP_BUY_SK.to_owned(),
            DESCRIPTION_SK.into(),
            TALLY_SK.into(),
            GROUP_BUY_END.into(),
            history,
            HISTORY_END.into(),
            interest_sk("p-3f9a1c"),
            queue_sk(7),
            waiter_sk("p-3f9a1c"),
        ];
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert_eq!(interest_sk("p-3f9a1c"), "INT#p-3f9a1c");
        assert_eq!(waiter_sk("p-3f9a1c"), "WAITER#p-3f9a1c");
        assert_eq!(queue_sk(7), "WAIT#00000000000000000007");
        assert!(queue_sk(9) < queue_sk(10));
    }

    #[test]
    fn index_keys_are_as_template_and_docs_say() {
        assert_eq!(handle_partition("acme"), "HANDLE#acme");
        assert_eq!(
            handle_status_partition("acme", "published"),
            "HANDLE#acme#published"
        );
        assert_eq!(public_partition("acme"), "PUBLIC#acme");
        assert_eq!(
            newest_first_sk("2026-11-24T18:00:00.000Z", "lamp"),
            "2026-11-24T18:00:00.000Z#lamp"
        );
        assert_eq!(status_partition("closed", 3), "ALL#closed#3");
        let changed = recently_changed_sk("2026-11-24T18:00:00.000Z", "acme", "lamp");
        assert_eq!(changed, "2026-11-24T18:00:00.000Z#acme#lamp");
        assert_eq!(
            group_buy_of_recently_changed(&changed),
            Some(("acme", "lamp"))
        );
        assert_eq!(group_buy_of_recently_changed("no-group-buy"), None);
        assert_eq!(deadline_partition(2), "DEADLINES#2");
        let deadline = deadline_sk("2026-11-24T18:00:00.000Z", "acme", "lamp");
        assert_eq!(deadline_of(&deadline), Some("2026-11-24T18:00:00.000Z"));
        assert!(deadline < after_time("2026-11-24T18:00:00.000Z"));
        assert!(
            after_time("2026-11-24T18:00:00.000Z")
                < deadline_sk("2026-11-24T18:00:00.001Z", "a", "b")
        );
        // Pinned: a group-buy's shard must not move between releases.
        assert_eq!(index_shard("acme-decor", "jute-rug"), 2);
        assert_eq!(index_shard("acme", "lamp"), 3);
        assert!((0..100).all(|i| index_shard("acme", &format!("lamp-{i}")) < INDEX_SHARDS));
    }

    #[test]
    fn other_items_keys() {
        assert_eq!(pat_pk("t1"), "PAT#t1");
        assert_eq!(pats_partition("acme"), "PATS#acme");
        assert_eq!(report_pk("r1"), "REPORT#r1");
        assert_eq!(reports_partition("2026-11-24"), "REPORTS#2026-11-24");
        assert_eq!(
            limit_pk("owner-writes", "acme-decor", "2026-11-24"),
            "LIMIT#owner-writes#acme-decor#2026-11-24"
        );
        assert_eq!(idempotency_pk("abc"), "IDEM#abc");
        assert_eq!(rollup_partition(7), "ROLLUP#7");
        assert_eq!(drafts_sk("2026-11-24T18"), "DRAFTS#2026-11-24T18");
        assert!(drafts_sk("2026-11-24T18").as_str() < TOTALS_SK);
        assert_eq!(draw_pk("acme", "lamp"), "DRAW#acme#lamp");
        assert_eq!(draw_shard_pk("acme", "lamp", 3), "DRAW#acme#lamp#03");
        assert_eq!(group_buy_of(&draw_pk("acme", "lamp")), None);
        assert!(rank_chunk_sk(9) < rank_chunk_sk(10));
        assert_eq!(draw_entry_sk("p-1"), "ENTRY#p-1");
    }
}
