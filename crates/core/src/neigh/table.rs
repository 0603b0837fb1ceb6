//! The neighbour table: NUD states, parameters, entries and the table's calls (output,
//! confirmation, timers, administration). Linux net/core/neighbour.c (`struct neigh_table`,
//! `struct neighbour`, __neigh_create(), neigh_resolve_output()).

use crate::rand::Prng;
use crate::skb::{SkBuff, SkbError};
use crate::time::{Instant, TimerId, TimerQueue};
use core::fmt;
use core::time::Duration;
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::{EtherType, EthernetAddress, HEADER_LEN as ETH_HLEN};
use skiff_wire::ipv4::{HEADER_LEN as IPV4_HLEN, Ipv4Packet};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};

/// Neighbour Unreachability Detection state, with Linux's `NUD_*` bit values
/// (include/uapi/linux/neighbour.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum NudState {
    None = 0x00,
    Incomplete = 0x01,
    Reachable = 0x02,
    Stale = 0x04,
    Delay = 0x08,
    Probe = 0x10,
    Failed = 0x20,
    Noarp = 0x40,
    Permanent = 0x80,
}

impl NudState {
    /// A link-layer address is known. Linux `NUD_VALID`.
    pub const fn is_valid(self) -> bool {
        matches!(
            self,
            NudState::Permanent
                | NudState::Noarp
                | NudState::Reachable
                | NudState::Probe
                | NudState::Stale
                | NudState::Delay
        )
    }

    /// The address may be used without checking it. Linux `NUD_CONNECTED`.
    pub const fn is_connected(self) -> bool {
        matches!(
            self,
            NudState::Permanent | NudState::Noarp | NudState::Reachable
        )
    }

    /// The entry has a running timer. Linux `NUD_IN_TIMER`.
    pub(super) const fn in_timer(self) -> bool {
        matches!(
            self,
            NudState::Incomplete | NudState::Reachable | NudState::Delay | NudState::Probe
        )
    }
}

impl fmt::Display for NudState {
    /// The name `ip neigh` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NudState::None => "NONE",
            NudState::Incomplete => "INCOMPLETE",
            NudState::Reachable => "REACHABLE",
            NudState::Stale => "STALE",
            NudState::Delay => "DELAY",
            NudState::Probe => "PROBE",
            NudState::Failed => "FAILED",
            NudState::Noarp => "NOARP",
            NudState::Permanent => "PERMANENT",
        })
    }
}

/// Neighbour table parameters, named after `/proc/sys/net/ipv4/neigh/<dev>/*`.
/// Linux `struct neigh_parms` + the `gc_thresh*` of `struct neigh_table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighParms {
    /// Base of the reachable time, which is drawn uniformly from 0.5–1.5× this value and
    /// redrawn every 300 s.
    pub base_reachable_time: Duration,
    /// Interval between solicitations.
    pub retrans_time: Duration,
    /// DELAY lasts this long before unicast probing starts (`delay_first_probe_time`).
    pub delay_first_probe_time: Duration,
    /// Unused entries older than this are collected by the periodic gc.
    pub gc_stale_time: Duration,
    /// Unicast probes in PROBE state.
    pub ucast_probes: u32,
    /// Broadcast solicitations in INCOMPLETE state.
    pub mcast_probes: u32,
    /// Probes handed to a user-space daemon (arpd). skiff has none: these are silent.
    pub app_probes: u32,
    /// Broadcast probes in PROBE state after the unicast ones.
    pub mcast_reprobes: u32,
    /// Bytes (truesize) one entry may queue while INCOMPLETE.
    pub unres_qlen_bytes: usize,
    /// Below this many entries the periodic gc does nothing.
    pub gc_thresh1: usize,
    /// Above this many entries allocation runs a forced gc at most every 5 s.
    pub gc_thresh2: usize,
    /// Hard cap on dynamic entries (PERMANENT entries are not counted).
    pub gc_thresh3: usize,
    /// An ARP reply arriving within this time of the last change does not override it.
    pub locktime: Duration,
}

impl Default for NeighParms {
    /// Linux `arp_tbl` defaults (net/ipv4/arp.c). `unres_qlen_bytes` is `SK_WMEM_MAX` on
    /// x86-64: 256 × SKB_TRUESIZE(256) = 256 × 832 = 212 992.
    fn default() -> Self {
        NeighParms {
            base_reachable_time: Duration::from_secs(30),
            retrans_time: Duration::from_secs(1),
            delay_first_probe_time: Duration::from_secs(5),
            gc_stale_time: Duration::from_secs(60),
            ucast_probes: 3,
            mcast_probes: 3,
            app_probes: 0,
            mcast_reprobes: 0,
            unres_qlen_bytes: 212_992,
            gc_thresh1: 128,
            gc_thresh2: 512,
            gc_thresh3: 1024,
            locktime: Duration::from_secs(1),
        }
    }
}

/// What the neighbour layer needs of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighDev {
    pub ifindex: u32,
    pub mac: EthernetAddress,
    /// The device address ARP requests carry as sender when the queued packet's source is
    /// not local, or when there is no queued packet: Linux `inet_select_addr(dev, target,
    /// RT_SCOPE_LINK)`, computed by the caller. 0.0.0.0 if the device has none.
    pub addr: Ipv4Addr,
}

/// How the route reached the next hop. Linux `inet_addr_type()` of the key, as
/// arp_constructor() uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NextHopKind {
    /// Resolved with ARP.
    Unicast,
    /// NOARP, ff:ff:ff:ff:ff:ff.
    Broadcast,
    /// NOARP, 01:00:5e + the low 23 bits of the group (ip_eth_mc_map()).
    Multicast,
}

/// Why the neighbour layer dropped a packet without an ICMP error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NeighDropReason {
    /// The entry went FAILED at once because no probes are configured
    /// (`mcast_probes + app_probes == 0`). Linux SKB_DROP_REASON_NEIGH_FAILED.
    Failed,
    /// The entry was removed (device flushed or entry deleted) with the packet queued.
    /// Linux SKB_DROP_REASON_NEIGH_DEAD.
    Dead,
    /// No headroom for the Ethernet header: the caller must reserve `ETH_HLEN`
    /// (LL_RESERVED_SPACE). Linux dev_hard_header() failing in neigh_resolve_output().
    NoHeadroom,
}

/// Something the caller must do with a packet the table hands back.
#[derive(Debug)]
pub enum NeighAction {
    /// A complete Ethernet frame (ARP, or an IP packet with its Ethernet header pushed) for
    /// dev_queue_xmit.
    Xmit { ifindex: u32, skb: SkBuff },
    /// A queued packet whose neighbour went FAILED: the lead drops it (reason NEIGH_FAILED)
    /// and sends ICMP host unreachable. Linux arp_error_report().
    Unreachable { ifindex: u32, skb: SkBuff },
    /// A packet pushed out of a full arp_queue (the oldest, as Linux does): the lead drops
    /// it (NEIGH_QUEUEFULL).
    QueueOverflow { skb: SkBuff },
    /// The table is full (gc_thresh3 reached and gc freed nothing): the packet is dropped
    /// (NEIGH_CREATEFAIL).
    TableFull { skb: SkBuff },
    /// Any other drop; see the reason.
    Drop {
        skb: SkBuff,
        reason: NeighDropReason,
    },
}

/// Errors of the administrative calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighError {
    /// An address ARP cannot announce: unspecified, multicast or limited broadcast.
    InvalidAddress,
    /// The frame could not be built.
    Skb(SkbError),
}

impl fmt::Display for NeighError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NeighError::InvalidAddress => f.write_str("invalid address for ARP"),
            NeighError::Skb(e) => write!(f, "cannot build ARP frame: {e}"),
        }
    }
}

impl std::error::Error for NeighError {}

/// One entry, as `ip neigh` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighEntryInfo {
    pub ifindex: u32,
    pub addr: Ipv4Addr,
    /// Present when the state is valid (Linux prints `lladdr` only then).
    pub mac: Option<EthernetAddress>,
    pub state: NudState,
}

/// Linux `struct neigh_statistics`, `/proc/net/stat/arp_cache` (without `hash_grows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NeighStats {
    /// Entries now in the table.
    pub entries: usize,
    pub allocs: u64,
    pub destroys: u64,
    /// neigh_lookup() calls (from ARP processing; the output path's lookup is not counted,
    /// as in Linux).
    pub lookups: u64,
    pub hits: u64,
    /// Resolutions that ended FAILED.
    pub res_failed: u64,
    /// Counted by IPv6 ndisc only; always 0 for ARP, as in Linux.
    pub rcv_probes_mcast: u64,
    /// Counted by IPv6 ndisc only; always 0 for ARP, as in Linux.
    pub rcv_probes_ucast: u64,
    pub periodic_gc_runs: u64,
    pub forced_gc_runs: u64,
    /// Packets dropped from a full arp_queue (`unresolved_discards`).
    pub unres_discards: u64,
    /// Allocations refused at gc_thresh3.
    pub table_fulls: u64,
}

pub(super) type Key = (u32, Ipv4Addr);

/// Linux `struct neighbour`.
#[derive(Debug)]
pub(super) struct Neighbour {
    pub(super) state: NudState,
    /// The neighbour's address; meaningful when the state is valid.
    pub(super) ha: EthernetAddress,
    /// The device's own address and ARP source, from the last output() (or the ARP packet
    /// that created the entry): probes and flushed packets need them.
    pub(super) dev_mac: EthernetAddress,
    pub(super) dev_addr: Ipv4Addr,
    /// Sender address for solicitations while packets are queued: the last queued
    /// packet's source if local, else `dev_addr` (arp_solicit(), arp_announce = 0).
    pub(super) solicit_src: Ipv4Addr,
    pub(super) updated: Instant,
    pub(super) used: Instant,
    /// Last reachability confirmation; `None` for "long ago".
    pub(super) confirmed: Option<Instant>,
    pub(super) probes: u32,
    /// Set exactly when the state is in timer.
    pub(super) timer: Option<TimerId>,
    pub(super) arp_queue: VecDeque<SkBuff>,
    pub(super) arp_queue_len_bytes: usize,
    /// On the gc list (every entry but PERMANENT ones); `gc_seq` orders the list.
    pub(super) on_gc_list: bool,
    pub(super) gc_seq: u64,
}

/// Flags of neigh_update(): `NEIGH_UPDATE_F_OVERRIDE` and `NEIGH_UPDATE_F_ADMIN`.
#[derive(Debug, Clone, Copy)]
pub(super) struct UpdateFlags {
    pub(super) override_: bool,
    pub(super) admin: bool,
}

/// The ARP neighbour table. Linux `struct neigh_table` (`arp_tbl`).
#[derive(Debug)]
pub struct NeighTable {
    pub(super) map: NeighMap,
    pub(super) core: Core,
    /// Connected neighbours' addresses as neigh_output() last found them (Linux keeps the
    /// built header on the neighbour, `neigh->hh`), each valid while `map`'s generation
    /// is the one it was read at.
    hh_cache: [HhSlot; HH_CACHE_SLOTS],
}

/// The entries. Reading goes through `Deref`; every mutable access (an entry's state,
/// address, timers, insertion or removal) advances `generation`, so a cached address is
/// never used after any change of any entry.
#[derive(Debug)]
pub(super) struct NeighMap {
    map: HashMap<Key, Neighbour, ahash::RandomState>,
    generation: u64,
}

impl core::ops::Deref for NeighMap {
    type Target = HashMap<Key, Neighbour, ahash::RandomState>;

    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl NeighMap {
    fn new(hasher: ahash::RandomState) -> Self {
        NeighMap {
            map: HashMap::with_hasher(hasher),
            generation: 1,
        }
    }

    /// The generation: it changes with every mutable access to an entry.
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    fn changed(&mut self) -> &mut HashMap<Key, Neighbour, ahash::RandomState> {
        self.generation = self.generation.wrapping_add(1);
        &mut self.map
    }

    pub(super) fn get_mut(&mut self, key: &Key) -> Option<&mut Neighbour> {
        self.changed().get_mut(key)
    }

    pub(super) fn remove(&mut self, key: &Key) -> Option<Neighbour> {
        self.changed().remove(key)
    }

    pub(super) fn retain(&mut self, f: impl FnMut(&Key, &mut Neighbour) -> bool) {
        self.changed().retain(f)
    }

    pub(super) fn entry(&mut self, key: Key) -> Entry<'_, Key, Neighbour> {
        self.changed().entry(key)
    }
}

/// Slots of the connected-neighbour cache, picked by the next hop's low bits.
const HH_CACHE_SLOTS: usize = 8;

/// One cached connected neighbour: its key, its address, and the generation of the
/// table it was read at (0: empty; the table's generation starts at 1).
#[derive(Debug, Clone, Copy)]
struct HhSlot {
    key: Key,
    generation: u64,
    ha: EthernetAddress,
}

impl HhSlot {
    const EMPTY: HhSlot = HhSlot {
        key: (0, Ipv4Addr::UNSPECIFIED),
        generation: 0,
        ha: EthernetAddress([0; 6]),
    };
}

/// Table state apart from the entries, so that an entry and the table can be borrowed
/// together.
#[derive(Debug)]
pub(super) struct Core {
    pub(super) parms: NeighParms,
    /// Linux `parms->reachable_time`: the randomised one.
    pub(super) reachable_time: Duration,
    pub(super) rng: Prng,
    pub(super) timers: TimerQueue<Key>,
    pub(super) stats: NeighStats,
    /// Entries on the gc list. Linux `tbl->gc_entries`.
    pub(super) gc_entries: usize,
    pub(super) next_gc_seq: u64,
    pub(super) gc_next: Instant,
    pub(super) last_rand: Instant,
    pub(super) last_flush: Instant,
}

/// Linux `skb->truesize`: every byte of buffer the packet holds.
pub(super) fn skb_truesize(skb: &SkBuff) -> usize {
    skb.frag_list.iter().fold(
        skb.headroom() + skb.headlen() + skb.tailroom(),
        |sum, frag| sum.saturating_add(skb_truesize(frag)),
    )
}

/// `t + d >= now`, with `None` meaning long ago.
pub(super) fn within(t: Option<Instant>, d: Duration, now: Instant) -> bool {
    t.is_some_and(|t| now <= t + d)
}

/// A uniform time in 0.5–1.5× `base`. Linux neigh_rand_reach_time().
pub(super) fn neigh_rand_reach_time(rng: &mut Prng, base: Duration) -> Duration {
    let ms = u32::try_from(base.as_millis()).unwrap_or(u32::MAX);
    Duration::from_millis(u64::from(rng.below(ms)) + u64::from(ms / 2))
}

impl NeighTable {
    /// An empty table. The hasher keys and the reachable-time draws come from a fork of
    /// `rng`. The periodic gc first runs one reachable time after `Instant::ZERO` (the
    /// shell's clock start). Linux neigh_table_init().
    pub fn new(parms: NeighParms, rng: &mut Prng) -> Self {
        let mut rng = rng.fork();
        let [k0, k1, k2, k3] = rng.hash_keys();
        let reachable_time = neigh_rand_reach_time(&mut rng, parms.base_reachable_time);
        NeighTable {
            map: NeighMap::new(ahash::RandomState::with_seeds(k0, k1, k2, k3)),
            hh_cache: [HhSlot::EMPTY; HH_CACHE_SLOTS],
            core: Core {
                gc_next: Instant::ZERO + reachable_time,
                last_rand: Instant::ZERO + reachable_time.saturating_mul(20),
                last_flush: Instant::ZERO,
                parms,
                reachable_time,
                rng,
                timers: TimerQueue::new(),
                stats: NeighStats::default(),
                gc_entries: 0,
                next_gc_seq: 0,
            },
        }
    }

    pub fn parms(&self) -> &NeighParms {
        &self.core.parms
    }

    /// The current randomised reachable time. Linux `parms->reachable_time`.
    pub fn reachable_time(&self) -> Duration {
        self.core.reachable_time
    }

    /// Sends `skb` to `nexthop` on `dev`: looks the neighbour up, creating it if needed,
    /// then transmits with its address, starts resolution (queueing the packet and
    /// broadcasting an ARP request) or refreshes a stale entry. `skb.data()` starts at the
    /// IPv4 header, with `ETH_HLEN` bytes of headroom. `local(addr)` answers "is addr one of
    /// our addresses?"; it picks the ARP sender address (arp_solicit(), arp_announce = 0).
    ///
    /// Linux ip_finish_output2() from the neighbour lookup on: __neigh_create(),
    /// neigh_output(), neigh_resolve_output(), __neigh_event_send().
    #[allow(clippy::too_many_arguments)]
    pub fn output(
        &mut self,
        now: Instant,
        dev: &NeighDev,
        nexthop: Ipv4Addr,
        kind: NextHopKind,
        skb: SkBuff,
        local: impl Fn(Ipv4Addr) -> bool,
        out: &mut Vec<NeighAction>,
    ) {
        let key = (dev.ifindex, nexthop);
        if !self.map.contains_key(&key) && !self.neigh_alloc(now, false) {
            out.push(NeighAction::TableFull { skb });
            return;
        }
        let n = neigh_lookup_or_insert(&mut self.map, &mut self.core, now, key, kind, dev);
        n.dev_mac = dev.mac;
        n.dev_addr = dev.addr;
        if n.state.is_connected() {
            neigh_hh_output(key, n, skb, out);
            return;
        }
        let src = if skb.headlen() >= IPV4_HLEN {
            Some(Ipv4Packet::new_unchecked(skb.data()).src())
        } else {
            None
        };
        let solicit_src = src.filter(|&a| local(a)).unwrap_or(dev.addr);
        self.core
            .neigh_resolve_output(now, key, n, skb, solicit_src, out);
    }

    /// Upper-layer proof that the neighbour is reachable (a TCP ACK, MSG_CONFIRM).
    /// Linux dst_confirm_neigh() → __ipv4_confirm_neigh().
    pub fn neigh_confirm(&mut self, now: Instant, ifindex: u32, addr: Ipv4Addr) {
        if let Some(n) = self.map.get_mut(&(ifindex, addr)) {
            n.confirmed = Some(now);
        }
    }

    /// The next instant [`NeighTable::handle_timeout`] has work: an entry timer or the
    /// periodic gc.
    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(match self.core.timers.next_deadline() {
            Some(t) => t.min(self.core.gc_next),
            None => self.core.gc_next,
        })
    }

    /// Runs the expired entry timers (probes, state changes, FAILED handling) and the
    /// periodic gc. Linux neigh_timer_handler() and neigh_periodic_work().
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<NeighAction>) {
        while let Some((_, _, key)) = self.core.timers.pop_expired(now) {
            if let Some(n) = self.map.get_mut(&key) {
                n.timer = None;
                self.core.neigh_timer_handler(now, key, n, out);
            }
        }
        if now >= self.core.gc_next {
            self.neigh_periodic_work(now);
        }
    }

    /// Adds or replaces a PERMANENT entry (`ip neigh replace ADDR lladdr MAC nud permanent`).
    /// Packets queued on an INCOMPLETE entry are sent. Linux neigh_add() → __neigh_update()
    /// with NEIGH_UPDATE_F_OVERRIDE | NEIGH_UPDATE_F_ADMIN.
    pub fn add_static(
        &mut self,
        now: Instant,
        ifindex: u32,
        addr: Ipv4Addr,
        mac: EthernetAddress,
        out: &mut Vec<NeighAction>,
    ) {
        let key = (ifindex, addr);
        let dev = NeighDev {
            ifindex,
            mac: EthernetAddress::default(),
            addr: Ipv4Addr::UNSPECIFIED,
        };
        let n = neigh_lookup_or_insert(
            &mut self.map,
            &mut self.core,
            now,
            key,
            NextHopKind::Unicast,
            &dev,
        );
        let flags = UpdateFlags {
            override_: true,
            admin: true,
        };
        self.core
            .neigh_update(now, key, n, Some(mac), NudState::Permanent, flags, out);
    }

    /// Deletes an entry (`ip neigh del`); queued packets are reported unreachable. Returns
    /// whether it existed. Linux neigh_delete(): __neigh_update(NUD_FAILED, ADMIN) then
    /// neigh_remove_one().
    pub fn delete(
        &mut self,
        now: Instant,
        ifindex: u32,
        addr: Ipv4Addr,
        out: &mut Vec<NeighAction>,
    ) -> bool {
        let key = (ifindex, addr);
        let Some(n) = self.map.get_mut(&key) else {
            return false;
        };
        let flags = UpdateFlags {
            override_: true,
            admin: true,
        };
        self.core
            .neigh_update(now, key, n, None, NudState::Failed, flags, out);
        self.neigh_remove(key, out);
        true
    }

    /// Removes every entry of a device going down, PERMANENT ones included; queued packets
    /// are dropped (NEIGH_DEAD). Linux neigh_ifdown() → neigh_flush_dev().
    pub fn flush_dev(&mut self, ifindex: u32, out: &mut Vec<NeighAction>) {
        let mut keys: Vec<(u64, Key)> = self
            .map
            .iter()
            .filter(|(key, _)| key.0 == ifindex)
            .map(|(&key, n)| (n.gc_seq, key))
            .collect();
        keys.sort_unstable();
        for (_, key) in keys {
            self.neigh_remove(key, out);
        }
    }

    /// Every entry, for an `ip neigh` listing (hash order).
    pub fn entries(&self) -> impl Iterator<Item = NeighEntryInfo> + '_ {
        self.map.iter().map(|(&(ifindex, addr), n)| NeighEntryInfo {
            ifindex,
            addr,
            mac: n.state.is_valid().then_some(n.ha),
            state: n.state,
        })
    }

    /// One entry, as [`NeighTable::entries`] lists it.
    /// The link-layer address of a neighbour in a connected state (REACHABLE, PERMANENT,
    /// NOARP): what Linux neigh_output() checks before its fast path, which needs no
    /// state change.
    #[inline]
    pub fn connected_ha(&self, ifindex: u32, addr: Ipv4Addr) -> Option<EthernetAddress> {
        self.map
            .get(&(ifindex, addr))
            .filter(|n| n.state.is_connected())
            .map(|n| n.ha)
    }

    /// [`Self::connected_ha`] through the cache of connected neighbours: a hit needs the
    /// table unchanged since the slot was filled, so any change of an entry's state or
    /// address (or its removal) is seen by the very next packet.
    #[inline]
    pub fn connected_ha_cached(&mut self, ifindex: u32, addr: Ipv4Addr) -> Option<EthernetAddress> {
        let key = (ifindex, addr);
        let generation = self.map.generation();
        let slot = (u32::from(addr) ^ ifindex) as usize % HH_CACHE_SLOTS;
        let cached = self.hh_cache[slot];
        if cached.generation == generation && cached.key == key {
            return Some(cached.ha);
        }
        let ha = self.connected_ha(ifindex, addr)?;
        self.hh_cache[slot] = HhSlot {
            key,
            generation,
            ha,
        };
        Some(ha)
    }

    pub fn entry(&self, ifindex: u32, addr: Ipv4Addr) -> Option<NeighEntryInfo> {
        self.map.get(&(ifindex, addr)).map(|n| NeighEntryInfo {
            ifindex,
            addr,
            mac: n.state.is_valid().then_some(n.ha),
            state: n.state,
        })
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Bytes (truesize) queued on all entries waiting for resolution.
    pub fn queued_bytes(&self) -> usize {
        self.map
            .values()
            .fold(0, |sum, n| sum.saturating_add(n.arp_queue_len_bytes))
    }

    pub fn stats(&self) -> NeighStats {
        NeighStats {
            entries: self.map.len(),
            ..self.core.stats
        }
    }
}

/// Finds the entry for `key`, or inserts a new one (the caller has already checked
/// neigh_alloc()). A new entry is NONE, or NOARP with the mapped address for broadcast and
/// multicast next hops. Linux ___neigh_create() + arp_constructor().
pub(super) fn neigh_lookup_or_insert<'a>(
    map: &'a mut NeighMap,
    core: &mut Core,
    now: Instant,
    key: Key,
    kind: NextHopKind,
    dev: &NeighDev,
) -> &'a mut Neighbour {
    match map.entry(key) {
        Entry::Occupied(e) => e.into_mut(),
        Entry::Vacant(v) => {
            let (state, ha) = match kind {
                NextHopKind::Unicast => (NudState::None, EthernetAddress::default()),
                NextHopKind::Broadcast => (NudState::Noarp, EthernetAddress::BROADCAST),
                NextHopKind::Multicast => {
                    (NudState::Noarp, EthernetAddress::from_ipv4_multicast(key.1))
                }
            };
            core.stats.allocs += 1;
            core.gc_entries += 1;
            let gc_seq = core.next_gc_seq;
            core.next_gc_seq += 1;
            v.insert(Neighbour {
                state,
                ha,
                dev_mac: dev.mac,
                dev_addr: dev.addr,
                solicit_src: dev.addr,
                updated: now,
                used: now,
                confirmed: None,
                probes: 0,
                timer: None,
                arp_queue: VecDeque::new(),
                arp_queue_len_bytes: 0,
                on_gc_list: true,
                gc_seq,
            })
        }
    }
}

/// Pushes an IPv4 Ethernet header; false when the headroom is short.
/// Linux dev_hard_header() / eth_header().
pub(crate) fn eth_header_push(
    skb: &mut SkBuff,
    src: EthernetAddress,
    dst: EthernetAddress,
) -> bool {
    // The untagged header written in place, as EthernetRepr::emit() would.
    let Some(hdr) = skb
        .push(ETH_HLEN)
        .ok()
        .and_then(|buf| buf.first_chunk_mut::<ETH_HLEN>())
    else {
        return false;
    };
    hdr[..6].copy_from_slice(&dst.0);
    hdr[6..12].copy_from_slice(&src.0);
    hdr[12..].copy_from_slice(&u16::from(EtherType::Ipv4).to_be_bytes());
    true
}

/// Pushes the Ethernet header (destination the neighbour's address, source the device's)
/// and hands the frame to the device. Linux neigh_hh_output() / dev_hard_header().
pub(super) fn neigh_hh_output(
    key: Key,
    n: &Neighbour,
    mut skb: SkBuff,
    out: &mut Vec<NeighAction>,
) {
    out.push(if eth_header_push(&mut skb, n.dev_mac, n.ha) {
        NeighAction::Xmit {
            ifindex: key.0,
            skb,
        }
    } else {
        NeighAction::Drop {
            skb,
            reason: NeighDropReason::NoHeadroom,
        }
    });
}
