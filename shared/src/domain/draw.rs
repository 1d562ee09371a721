//! Fair drops (API.md, "Fair drops"): a group-buy allocated by a draw that anyone can check.
//! The pure parts: the commitment to a seed, the ranking rule, the result of a rank, and
//! which shard an entry lives in. The store writes what these decide.

use super::timestamp::Timestamp;
use crate::validation::string;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::cmp::Ordering;

/// The partitions a draw's entries are spread over: no item is written by every entry, so a
/// launch's entries are limited by DynamoDB's per-partition rate times this, not by one item's.
pub const DRAW_SHARDS: u32 = 16;

/// How a group-buy gives out its places: set at create, fixed once published.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Allocation {
    /// To the first to register (default).
    #[default]
    FirstCome,
    /// By a draw among the entries taken before `drawAt`.
    Draw,
}

impl Allocation {
    pub(super) fn parse(value: &Value) -> Result<Self, String> {
        match string(value)? {
            "first-come" => Ok(Self::FirstCome),
            "draw" => Ok(Self::Draw),
            _ => Err("must be first-come or draw".into()),
        }
    }
}

/// A draw campaign's draw, as stored on the group-buy's own item. The seed is not here until
/// the draw has run: before, it lives only in the draw's own partition, which no view reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Draw {
    /// Lower-case hex SHA-256 of the seed, from the first publish on. Stored even while
    /// null, so that a draft's draw is never an empty map: DynamoDB Local's stream sends one
    /// in a shape the streams SDK cannot read.
    #[serde(default)]
    pub commitment: Option<String>,
    /// Lower-case hex seed, once drawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drawn_at: Option<Timestamp>,
    /// Entries taken, frozen by the draw (before it, counted in the shards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub winner_count: Option<u32>,
    /// Entries the draw put on the waitlist (ranks after the winners).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waitlisted_count: Option<u32>,
}

impl Draw {
    pub fn is_drawn(&self) -> bool {
        self.drawn_at.is_some()
    }
}

/// What a ticket got in the draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DrawResult {
    /// Before the draw.
    Pending,
    Won,
    Waitlisted,
    Lost,
}

/// The result of rank `rank` (1-based) in a draw with `winners` winners and `waitlisted`
/// entries put on the waitlist after them.
pub fn result_of_rank(rank: u64, winners: u32, waitlisted: u32) -> DrawResult {
    if rank <= u64::from(winners) {
        DrawResult::Won
    } else if rank <= u64::from(winners) + u64::from(waitlisted) {
        DrawResult::Waitlisted
    } else {
        DrawResult::Lost
    }
}

/// The commitment to `seed`: lower-case hex SHA-256 of its bytes.
pub fn commitment(seed: &[u8]) -> String {
    hex(&Sha256::digest(seed))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a lower-case (or upper-case) hex string; `None` when it is not one.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The ranking rule, to the letter: ascending SHA-256(seed bytes ‖ ticket UTF-8 bytes),
/// compared as unsigned big-endian numbers (byte order), ties by ticket. `ticket` names each
/// entry's ticket; rank 1 is the first of the result.
pub fn ranked<E>(seed: &[u8], entries: Vec<E>, ticket: impl Fn(&E) -> &str) -> Vec<E> {
    let mut keyed: Vec<([u8; 32], E)> = entries
        .into_iter()
        .map(|entry| {
            let mut hasher = Sha256::new();
            hasher.update(seed);
            hasher.update(ticket(&entry).as_bytes());
            (hasher.finalize().into(), entry)
        })
        .collect();
    keyed.sort_by(|(a, x), (b, y)| match a.cmp(b) {
        Ordering::Equal => ticket(x).cmp(ticket(y)),
        other => other,
    });
    keyed.into_iter().map(|(_, entry)| entry).collect()
}

/// The shard of a ticket's entry: stable, spread by a hash.
pub fn entry_shard(ticket: &str) -> u32 {
    let digest = Sha256::digest(ticket.as_bytes());
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % DRAW_SHARDS
}

/// Entries one shard takes at most, so that the shards together take at most `max_entries`
/// (API.md's `DRAW_MAX_ENTRIES`) without any item counting them all.
pub fn entries_per_shard(max_entries: u32) -> u32 {
    max_entries / DRAW_SHARDS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commitment_is_the_hex_sha256_of_the_seed() {
        // SHA-256 of 32 zero bytes.
        assert_eq!(
            commitment(&[0; 32]),
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
        assert_eq!(unhex(&hex(&[1, 171, 255])), Some(vec![1, 171, 255]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn ranks_follow_the_hash_of_seed_and_ticket() {
        let seed = [7u8; 32];
        let tickets = vec!["b", "a", "c", "d"];
        let order = ranked(&seed, tickets.clone(), |t| t);
        let digest = |t: &str| {
            let mut bytes = seed.to_vec();
            bytes.extend(t.as_bytes());
            Sha256::digest(&bytes).to_vec()
        };
        assert!(order.windows(2).all(|w| digest(w[0]) < digest(w[1])));
        assert_eq!(order.len(), 4);
        // Independent of the order entries were read in.
        let mut reversed = tickets;
        reversed.reverse();
        assert_eq!(ranked(&seed, reversed, |t| t), order);
    }

    #[test]
    fn results_by_rank() {
        assert_eq!(result_of_rank(1, 2, 1), DrawResult::Won);
        assert_eq!(result_of_rank(2, 2, 1), DrawResult::Won);
        assert_eq!(result_of_rank(3, 2, 1), DrawResult::Waitlisted);
        assert_eq!(result_of_rank(4, 2, 1), DrawResult::Lost);
        assert_eq!(entries_per_shard(100_000), 6_250);
        assert!((0..1000).all(|i| entry_shard(&format!("t{i}")) < DRAW_SHARDS));
    }
}
