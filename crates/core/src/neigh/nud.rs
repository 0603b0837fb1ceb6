//! The NUD state machine: entry timers, probes, the resolution queue and neigh_update().
//! Linux net/core/neighbour.c neigh_timer_handler(), __neigh_event_send(),
//! neigh_update(), neigh_resolve_output(), neigh_probe(), neigh_invalidate().

use super::arp;
use super::table::{
    Core, Key, NeighAction, NeighDropReason, Neighbour, NudState, UpdateFlags, neigh_hh_output,
    skb_truesize, within,
};
use crate::skb::SkBuff;
use crate::time::Instant;
use core::time::Duration;
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::EthernetAddress;

/// Timers never run closer than this (Linux HZ/100).
const TIMER_MIN: Duration = Duration::from_millis(10);

impl Core {
    /// Bookkeeping for an entry just taken out of the table.
    pub(super) fn unlinked(&mut self, n: &Neighbour) {
        if let Some(id) = n.timer {
            self.timers.cancel(id);
        }
        if n.on_gc_list {
            self.gc_entries = self.gc_entries.saturating_sub(1);
        }
        self.stats.destroys += 1;
    }

    /// (Re)arms the entry timer. Linux neigh_add_timer() / mod_timer().
    pub(super) fn neigh_add_timer(&mut self, key: Key, n: &mut Neighbour, when: Instant) {
        self.neigh_del_timer(n);
        n.timer = Some(self.timers.schedule(when, key));
    }

    /// Linux neigh_del_timer().
    pub(super) fn neigh_del_timer(&mut self, n: &mut Neighbour) {
        if let Some(id) = n.timer.take() {
            self.timers.cancel(id);
        }
    }

    pub(super) fn retrans(&self) -> Duration {
        self.parms.retrans_time.max(TIMER_MIN)
    }

    /// Linux neigh_max_probes().
    pub(super) fn neigh_max_probes(&self, n: &Neighbour) -> u32 {
        let p = &self.parms;
        let mcast = if n.state == NudState::Probe {
            p.mcast_reprobes
        } else {
            p.mcast_probes
        };
        p.ucast_probes
            .saturating_add(p.app_probes)
            .saturating_add(mcast)
    }

    /// neigh_event_send() then the Ethernet header. Linux neigh_resolve_output().
    pub(super) fn neigh_resolve_output(
        &mut self,
        now: Instant,
        key: Key,
        n: &mut Neighbour,
        skb: SkBuff,
        solicit_src: Ipv4Addr,
        out: &mut Vec<NeighAction>,
    ) {
        if let Some(skb) = self.neigh_event_send(now, key, n, skb, solicit_src, out) {
            neigh_hh_output(key, n, skb, out);
        }
    }

    /// Marks the entry used and returns the packet if it can go now (connected, DELAY,
    /// PROBE; STALE moves to DELAY). Otherwise starts resolution from NONE/FAILED (state
    /// INCOMPLETE, immediate broadcast probe) and queues the packet, dropping the oldest
    /// queued ones beyond unres_qlen_bytes. Linux neigh_event_send() + __neigh_event_send().
    pub(super) fn neigh_event_send(
        &mut self,
        now: Instant,
        key: Key,
        n: &mut Neighbour,
        skb: SkBuff,
        solicit_src: Ipv4Addr,
        out: &mut Vec<NeighAction>,
    ) -> Option<SkBuff> {
        n.used = now;
        let mut immediate_probe = false;
        match n.state {
            NudState::Reachable
            | NudState::Permanent
            | NudState::Noarp
            | NudState::Delay
            | NudState::Probe => return Some(skb),
            NudState::Stale => {
                n.state = NudState::Delay;
                n.updated = now;
                self.neigh_add_timer(key, n, now + self.parms.delay_first_probe_time);
                return Some(skb);
            }
            NudState::Incomplete => {}
            NudState::None | NudState::Failed => {
                if self
                    .parms
                    .mcast_probes
                    .saturating_add(self.parms.app_probes)
                    == 0
                {
                    n.state = NudState::Failed;
                    n.updated = now;
                    out.push(NeighAction::Drop {
                        skb,
                        reason: NeighDropReason::Failed,
                    });
                    return None;
                }
                n.probes = self.parms.ucast_probes;
                n.state = NudState::Incomplete;
                n.updated = now;
                immediate_probe = true;
                self.neigh_add_timer(key, n, now + self.retrans());
            }
        }
        let size = skb_truesize(&skb);
        while n.arp_queue_len_bytes.saturating_add(size) > self.parms.unres_qlen_bytes {
            let Some(old) = n.arp_queue.pop_front() else {
                break;
            };
            n.arp_queue_len_bytes = n.arp_queue_len_bytes.saturating_sub(skb_truesize(&old));
            self.stats.unres_discards += 1;
            out.push(NeighAction::QueueOverflow { skb: old });
        }
        n.arp_queue.push_back(skb);
        n.arp_queue_len_bytes = n.arp_queue_len_bytes.saturating_add(size);
        n.solicit_src = solicit_src;
        if immediate_probe {
            self.neigh_probe(key, n, out);
        }
        None
    }

    /// Sends one solicitation and counts it. Linux neigh_probe().
    pub(super) fn neigh_probe(&mut self, key: Key, n: &mut Neighbour, out: &mut Vec<NeighAction>) {
        let src = if n.arp_queue.is_empty() {
            n.dev_addr
        } else {
            n.solicit_src
        };
        arp::arp_solicit(&self.parms, key, n, src, out);
        n.probes = n.probes.saturating_add(1);
    }

    /// Reports every queued packet unreachable. Linux neigh_invalidate().
    pub(super) fn neigh_invalidate(
        &mut self,
        now: Instant,
        key: Key,
        n: &mut Neighbour,
        out: &mut Vec<NeighAction>,
    ) {
        self.stats.res_failed += 1;
        n.updated = now;
        n.arp_queue_len_bytes = 0;
        out.extend(n.arp_queue.drain(..).map(|skb| NeighAction::Unreachable {
            ifindex: key.0,
            skb,
        }));
    }

    /// The entry timer: REACHABLE → DELAY or STALE when the reachable time ran out, DELAY →
    /// REACHABLE if confirmed meanwhile or PROBE, INCOMPLETE/PROBE → next probe or FAILED.
    /// Linux neigh_timer_handler().
    pub(super) fn neigh_timer_handler(
        &mut self,
        now: Instant,
        key: Key,
        n: &mut Neighbour,
        out: &mut Vec<NeighAction>,
    ) {
        let delay = self.parms.delay_first_probe_time;
        let mut next = now + Duration::from_secs(1);
        match n.state {
            NudState::Reachable => {
                if within(n.confirmed, self.reachable_time, now) {
                    next = n.confirmed.unwrap_or(now) + self.reachable_time;
                } else if now <= n.used + delay {
                    n.state = NudState::Delay;
                    n.updated = now;
                    next = now + delay;
                } else {
                    n.state = NudState::Stale;
                    n.updated = now;
                }
            }
            NudState::Delay => {
                if within(n.confirmed, delay, now) {
                    n.state = NudState::Reachable;
                    n.updated = now;
                    next = n.confirmed.unwrap_or(now) + self.reachable_time;
                } else {
                    n.state = NudState::Probe;
                    n.updated = now;
                    n.probes = 0;
                    next = now + self.retrans();
                }
            }
            NudState::Incomplete | NudState::Probe => next = now + self.retrans(),
            _ => return,
        }
        let probing = matches!(n.state, NudState::Incomplete | NudState::Probe);
        if probing && n.probes >= self.neigh_max_probes(n) {
            n.state = NudState::Failed;
            self.neigh_invalidate(now, key, n, out);
            return;
        }
        if n.state.in_timer() {
            self.neigh_add_timer(key, n, next.max(now + TIMER_MIN));
        }
        if probing {
            self.neigh_probe(key, n, out);
        }
    }

    /// Moves an entry to state `new` with link-layer address `lladdr` (`None`: keep the
    /// known one), honouring override and admin rules: NOARP and PERMANENT entries change
    /// only by admin; a different address replaces a valid one only with `override_`; a
    /// valid entry told STALE with the same address keeps its state. When the entry becomes
    /// valid its queued packets are sent; when resolution fails they are reported
    /// unreachable. Linux __neigh_update() + neigh_update_gc_list().
    #[allow(clippy::too_many_arguments)]
    pub(super) fn neigh_update(
        &mut self,
        now: Instant,
        key: Key,
        n: &mut Neighbour,
        lladdr: Option<EthernetAddress>,
        new: NudState,
        flags: UpdateFlags,
        out: &mut Vec<NeighAction>,
    ) {
        self.neigh_update_state(now, key, n, lladdr, new, flags, out);
        let exempt = n.state == NudState::Permanent;
        if exempt == n.on_gc_list {
            n.on_gc_list = !exempt;
            if exempt {
                self.gc_entries = self.gc_entries.saturating_sub(1);
            } else {
                self.gc_entries += 1;
                n.gc_seq = self.next_gc_seq;
                self.next_gc_seq += 1;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn neigh_update_state(
        &mut self,
        now: Instant,
        key: Key,
        n: &mut Neighbour,
        lladdr: Option<EthernetAddress>,
        mut new: NudState,
        flags: UpdateFlags,
        out: &mut Vec<NeighAction>,
    ) {
        let old = n.state;
        if !flags.admin && matches!(old, NudState::Noarp | NudState::Permanent) {
            return;
        }
        if !new.is_valid() {
            self.neigh_del_timer(n);
            n.state = new;
            if matches!(old, NudState::Incomplete | NudState::Probe) && new == NudState::Failed {
                self.neigh_invalidate(now, key, n, out);
            }
            return;
        }
        let lladdr = match lladdr {
            Some(l) => l,
            None if old.is_valid() => n.ha,
            None => return,
        };
        if new.is_connected() {
            n.confirmed = Some(now);
        }
        let changed = !old.is_valid() || lladdr != n.ha;
        if old.is_valid() {
            if changed && !flags.override_ {
                return;
            }
            if !changed && new == NudState::Stale && !flags.admin {
                new = old;
            }
        }
        if new != old || changed {
            n.updated = now;
        }
        if new != old {
            self.neigh_del_timer(n);
            if new == NudState::Probe {
                n.probes = 0;
            }
            if new.in_timer() {
                let after = if new == NudState::Reachable {
                    self.reachable_time
                } else {
                    Duration::ZERO
                };
                self.neigh_add_timer(key, n, now + after);
            }
            n.state = new;
        }
        if changed {
            n.ha = lladdr;
            if !new.is_connected() {
                n.confirmed = None;
            }
        }
        if new == old || old.is_valid() {
            return;
        }
        // Newly valid: send what waited for the address.
        n.arp_queue_len_bytes = 0;
        let queued = core::mem::take(&mut n.arp_queue);
        for skb in queued {
            let src = n.solicit_src;
            self.neigh_resolve_output(now, key, n, skb, src, out);
        }
    }
}
