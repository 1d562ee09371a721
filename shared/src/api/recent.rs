//! Group-buys as this instance last saw them, for the answers of interest writes.
//!
//! A registration is tried first and decided only if refused (one round trip), and a
//! transaction returns nothing on success; so the `groupBuy` its answer carries comes from
//! here: the group-buy as this instance last read it (at most `FRESH_FOR` ago, the public
//! views' own `max-age`), moved by the writes this instance made since. Only on a miss does a
//! registration read the group-buy after writing. Nothing here decides a rule: the writes'
//! conditions do.

use crate::domain::{Allocation, GroupBuy, Handle, Participation, Slug, Tally};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a group-buy read here may answer for: the `max-age` of the public views.
pub const FRESH_FOR: Duration = Duration::from_secs(10);
/// Group-buys kept at most: a sandbox serves one launch at a time, a few at most.
const CAPACITY: usize = 256;

#[derive(Default)]
pub struct RecentGroupBuys {
    entries: Mutex<HashMap<String, (Instant, GroupBuy)>>,
    /// Each group-buy's terms, kept past `FRESH_FOR`: they never change after create, so
    /// what was read once stays true.
    terms: Mutex<HashMap<String, Terms>>,
}

/// What a group-buy fixes at create: who may take part, and how places are given out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Terms {
    pub participation: Participation,
    pub allocation: Allocation,
}

impl Terms {
    pub fn of(gb: &GroupBuy) -> Self {
        Self {
            participation: gb.participation,
            allocation: gb.allocation,
        }
    }
}

fn key(handle: &Handle, slug: &Slug) -> String {
    format!("{handle}/{slug}")
}

impl RecentGroupBuys {
    /// The group-buy, if read here within `FRESH_FOR`.
    pub fn get(&self, handle: &Handle, slug: &Slug) -> Option<GroupBuy> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(&key(handle, slug))
            .filter(|(read_at, _)| read_at.elapsed() < FRESH_FOR)
            .map(|(_, gb)| gb.clone())
    }

    /// The group-buy's terms, if this instance ever read the group-buy.
    pub fn terms(&self, handle: &Handle, slug: &Slug) -> Option<Terms> {
        let kept = self.terms.lock().ok()?;
        kept.get(&key(handle, slug)).copied()
    }

    /// Keeps `gb` as just read.
    pub fn put(&self, gb: &GroupBuy) {
        if let Ok(mut kept) = self.terms.lock() {
            if kept.len() >= CAPACITY {
                kept.clear();
            }
            kept.insert(key(&gb.handle, &gb.slug), Terms::of(gb));
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= CAPACITY {
            entries.retain(|_, (read_at, _)| read_at.elapsed() < FRESH_FOR);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key(&gb.handle, &gb.slug), (Instant::now(), gb.clone()));
    }

    /// Moves the kept group-buy's counters by a write of this instance.
    pub fn count(&self, handle: &Handle, slug: &Slug, participants: i64, units: i64) {
        self.change(handle, slug, |gb| {
            gb.participant_count = gb
                .participant_count
                .saturating_add_signed(participants as i32);
            gb.unit_count = gb.unit_count.saturating_add_signed(units);
        });
    }

    /// Takes in a tally a refused write returned: its status and counters are newer.
    pub fn learn(&self, handle: &Handle, slug: &Slug, tally: &Tally) {
        self.change(handle, slug, |gb| {
            gb.status = tally.status;
            gb.participant_count = tally.participant_count;
            gb.unit_count = tally.unit_count;
        });
    }

    fn change(&self, handle: &Handle, slug: &Slug, change: impl FnOnce(&mut GroupBuy)) {
        if let Ok(mut entries) = self.entries.lock()
            && let Some((_, gb)) = entries.get_mut(&key(handle, slug))
        {
            change(gb);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{NewGroupBuy, Timestamp};

    fn group_buy(slug: &str) -> GroupBuy {
        GroupBuy::draft(
            Handle::parse("acme").expect("handle"),
            NewGroupBuy {
                slug: Slug::parse(slug).expect("slug"),
                ..NewGroupBuy::sample()
            },
            Timestamp::now(),
        )
    }

    #[test]
    fn kept_group_buys_move_with_this_instances_writes() {
        let recent = RecentGroupBuys::default();
        let gb = group_buy("lamp");
        assert!(recent.get(&gb.handle, &gb.slug).is_none());
        recent.put(&gb);
        recent.count(&gb.handle, &gb.slug, 1, 3);
        let kept = recent.get(&gb.handle, &gb.slug).expect("kept");
        assert_eq!((kept.participant_count, kept.unit_count), (1, 3));
        recent.count(&gb.handle, &gb.slug, -1, -3);
        let kept = recent.get(&gb.handle, &gb.slug).expect("kept");
        assert_eq!((kept.participant_count, kept.unit_count), (0, 0));
    }

    #[test]
    fn the_number_kept_is_bounded() {
        let recent = RecentGroupBuys::default();
        for i in 0..(CAPACITY * 3) {
            recent.put(&group_buy(&format!("lamp-{i}")));
        }
        assert!(recent.entries.lock().expect("lock").len() <= CAPACITY);
    }
}
