//! Garbage collection of the neighbour table: Linux net/core/neighbour.c neigh_alloc(),
//! neigh_forced_gc(), neigh_periodic_work() and neigh_remove_one().

use super::table::{
    Key, NeighAction, NeighDropReason, NeighTable, NudState, neigh_rand_reach_time,
};
use crate::time::Instant;
use core::time::Duration;

/// Forced gc spares entries updated more recently than this, and runs at most this often
/// between gc_thresh2 and gc_thresh3.
const FORCED_GC_AGE: Duration = Duration::from_secs(5);
/// The reachable time is redrawn this often.
const REACHABLE_REDRAW: Duration = Duration::from_secs(300);

impl NeighTable {
    /// Room for one more entry: runs a forced gc at gc_thresh3, or between gc_thresh2 and
    /// gc_thresh3 when the last one is 5 s old; refuses at gc_thresh3 if it freed nothing.
    /// PERMANENT entries (`exempt`) bypass the limit. Linux neigh_alloc().
    pub(super) fn neigh_alloc(&mut self, now: Instant, exempt: bool) -> bool {
        if exempt {
            return true;
        }
        let entries = self.core.gc_entries;
        let p = &self.core.parms;
        let (thresh2, thresh3) = (p.gc_thresh2, p.gc_thresh3);
        let gc_due = entries >= thresh3
            || (entries >= thresh2 && now > self.core.last_flush + FORCED_GC_AGE);
        if gc_due && self.neigh_forced_gc(now) == 0 && entries >= thresh3 {
            tracing::debug!("arp_cache: neighbor table overflow!");
            self.core.stats.table_fulls += 1;
            return false;
        }
        true
    }

    /// Unlinks and destroys an entry; packets still queued are dropped (NEIGH_DEAD).
    /// Linux neigh_remove_one() / neigh_mark_dead() + neigh_destroy().
    pub(super) fn neigh_remove(&mut self, key: Key, out: &mut Vec<NeighAction>) {
        let Some(n) = self.map.remove(&key) else {
            return;
        };
        self.core.unlinked(&n);
        out.extend(n.arp_queue.into_iter().map(|skb| NeighAction::Drop {
            skb,
            reason: NeighDropReason::Dead,
        }));
    }

    /// Frees entries not in timer that are FAILED, NOARP, keyed by a multicast address or
    /// not updated for 5 s, oldest first, until the gc list is back to gc_thresh2. Returns
    /// how many it freed. Linux neigh_forced_gc().
    pub(super) fn neigh_forced_gc(&mut self, now: Instant) -> usize {
        let core = &mut self.core;
        core.stats.forced_gc_runs += 1;
        core.last_flush = now;
        // Every dynamic entry in timer holds one timer; with no other dynamic entry there is
        // nothing to free and no need to walk the table.
        if core.gc_entries <= core.timers.len() {
            return 0;
        }
        let max_clean = core.gc_entries.saturating_sub(core.parms.gc_thresh2).max(1);
        let tref = Instant::from_nanos(
            now.as_nanos()
                .saturating_sub(u64::try_from(FORCED_GC_AGE.as_nanos()).unwrap_or(u64::MAX)),
        );
        let mut victims: Vec<(u64, Key)> = self
            .map
            .iter()
            .filter(|&(key, n)| {
                n.on_gc_list
                    && !n.state.in_timer()
                    && (matches!(n.state, NudState::Failed | NudState::Noarp)
                        || key.1.is_multicast()
                        || !(tref..=now).contains(&n.updated))
            })
            .map(|(&key, n)| (n.gc_seq, key))
            .collect();
        victims.sort_unstable();
        victims.truncate(max_clean);
        for &(_, key) in &victims {
            if let Some(n) = self.map.remove(&key) {
                self.core.unlinked(&n);
            }
        }
        victims.len()
    }

    /// Every base_reachable_time / 2: redraws the reachable time every 300 s and, above
    /// gc_thresh1 entries, frees entries not in timer that are FAILED or unused for
    /// gc_stale_time. Linux neigh_periodic_work().
    pub(super) fn neigh_periodic_work(&mut self, now: Instant) {
        let core = &mut self.core;
        core.stats.periodic_gc_runs += 1;
        if now > core.last_rand + REACHABLE_REDRAW {
            core.last_rand = now;
            core.reachable_time =
                neigh_rand_reach_time(&mut core.rng, core.parms.base_reachable_time);
        }
        core.gc_next = now + core.parms.base_reachable_time / 2;
        if self.map.len() < core.parms.gc_thresh1 {
            return;
        }
        let stale = core.parms.gc_stale_time;
        let (mut destroyed, mut off_gc_list) = (0, 0);
        self.map.retain(|_, n| {
            if n.state == NudState::Permanent || n.state.in_timer() {
                return true;
            }
            if let Some(confirmed) = n.confirmed
                && n.used < confirmed
                && confirmed <= now
            {
                n.used = confirmed;
            }
            let keep = n.state != NudState::Failed && now < n.used + stale;
            if !keep {
                destroyed += 1;
                off_gc_list += usize::from(n.on_gc_list);
            }
            keep
        });
        core.stats.destroys += destroyed;
        core.gc_entries = core.gc_entries.saturating_sub(off_gc_list);
    }
}
