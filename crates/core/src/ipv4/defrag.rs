//! IPv4 reassembly. Linux net/ipv4/ip_fragment.c over net/ipv4/inet_fragment.c; RFC 791
//! §3.2, RFC 5722 with Errata 3089. R1–R19.
//!
//! A queue keeps its fragments in runs (fragments that follow one another exactly) ordered
//! by offset, so in-order arrival appends in O(1) and any other order inserts in O(log n).
//! A run is its first fragment with the others chained in its `frag_list`, so a datagram
//! that arrived in order is already whole when its last fragment comes: nothing is copied
//! or moved. Memory is the truesize of what is queued, charged once per fragment. Past `ipfrag_high_thresh` every fragment is
//! refused; memory comes back only when a queue completes, fails or expires.

use super::hdr::IpHdr;
use crate::drop::DropReason;
use crate::ipv4::icmp::IcmpErr;
use crate::rand::Prng;
use crate::route::RouteType;
use crate::skb::{ChecksumState, IpSkbFlags, SkBuff};
use crate::stack::{Stack, stage};
use crate::time::{Instant, TimerId, TimerQueue};
use core::mem::size_of;
use core::time::Duration;
use skiff_wire::Ipv4Addr;
use skiff_wire::icmpv4::TimeExceeded;
use skiff_wire::ipv4::IP_DF;
use skiff_wire::ipv4::Ipv4Packet;
use std::collections::{BTreeMap, HashMap};

const INET_FRAG_FIRST_IN: u8 = 1;
const INET_FRAG_LAST_IN: u8 = 2;

/// Who reassembles: queues of different users never mix. Linux `enum ip_defrag_users`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefragUser {
    /// ip_local_deliver() (`IP_DEFRAG_LOCAL_DELIVER`).
    LocalDeliver,
    /// The PRE_ROUTING defrag hook (`IP_DEFRAG_CONNTRACK_IN`).
    ConntrackIn,
    /// ip_call_ra_chain(): a router alert for a raw socket (`IP_DEFRAG_CALL_RA_CHAIN`).
    CallRaChain,
}

/// A queue's identity (R2). Linux `struct frag_v4_compare_key`; `vif` is the l3mdev (VRF)
/// master's ifindex, always 0 as skiff has no VRFs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FragKey {
    saddr: Ipv4Addr,
    daddr: Ipv4Addr,
    id: u16,
    protocol: u8,
    user: DefragUser,
    vif: u32,
}

/// The key as two words: two keyed multiplies per lookup rather than one per field.
impl core::hash::Hash for FragKey {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(u64::from(u32::from(self.saddr)) << 32 | u64::from(u32::from(self.daddr)));
        state.write_u64(
            u64::from(self.id) << 48
                | u64::from(self.protocol) << 40
                | (self.user as u64) << 32
                | u64::from(self.vif),
        );
    }
}

/// Fragments that follow one another exactly, from the run's offset (its map key) to
/// `end`: the first one, the others chained in its `frag_list` after the `split` pieces
/// it came with. Linux's run of `ipfrag_skb_cb` with `next_frag`.
#[derive(Debug)]
struct FragRun {
    end: u32,
    head: SkBuff,
    split: usize,
}

impl FragRun {
    fn new(end: u32, head: SkBuff) -> Self {
        let split = head.frag_list.len();
        FragRun { end, head, split }
    }

    /// The run's fragments, in order, each as it was queued.
    fn into_frags(mut self) -> impl Iterator<Item = SkBuff> {
        let split = self.split;
        // split_off(0) would allocate a list of the same capacity: take it instead.
        let rest = self.head.frag_list.update(|v| match split {
            0 => core::mem::take(v),
            _ => v.split_off(split.min(v.len())),
        });
        core::iter::once(self.head).chain(rest)
    }
}

/// One datagram being reassembled. Linux `struct ipq` around `struct inet_frag_queue`.
#[derive(Debug)]
struct Ipq {
    flags: u8,
    /// Payload length as far as known (`q.len`).
    len: u32,
    /// Payload bytes queued (`q.meat`).
    meat: u32,
    /// Memory charged to this queue, its own size included.
    mem: usize,
    runs: BTreeMap<u32, FragRun>,
    /// Fragments queued.
    nfrags: u32,
    /// Every queued fragment's checksum was verified by its device.
    unnecessary: bool,
    /// Largest fragment (header included), and largest with DF.
    max_size: u32,
    max_df_size: u32,
    /// `IPFRAG_ECN_*` bits seen.
    ecn: u8,
    /// Device of the latest fragment.
    iif: u32,
    /// The source's fragment count when this queue last took one (`qp->rid`).
    rid: u32,
    /// The source's counter this queue holds a reference on (`qp->peer`).
    peer: Option<u32>,
    timer: TimerId,
}

/// What a queue costs before any fragment (Linux `f->qsize`): its entry and its timer.
const IPQ_SIZE: usize = size_of::<(FragKey, Ipq)>() + size_of::<(u64, (Instant, FragKey))>();
/// What a fragment costs beyond its truesize: its slot in a `frag_list` and, at worst, a run
/// of its own.
const FRAG_OVERHEAD: usize = size_of::<SkBuff>() + size_of::<(u32, FragRun)>();

/// The reassembly queues of a stack. Linux `struct fqdir` with its hash table.
#[derive(Debug)]
pub struct IpFrags {
    queues: HashMap<FragKey, Ipq, ahash::RandomState>,
    timers: TimerQueue<FragKey>,
    peers: Peers,
    mem: usize,
}

/// Per-source fragment counters for `ipfrag_max_dist` (Linux `inet_peer.rid`): a counter
/// lives while a queue refers to it, and a queue reaches its counter by index, with no
/// lookup per fragment.
#[derive(Debug)]
struct Peers {
    index: HashMap<Ipv4Addr, u32, ahash::RandomState>,
    /// (count, queues referring to it), by index.
    slots: Vec<(u32, u32)>,
    free: Vec<u32>,
}

impl Peers {
    /// Linux inet_getpeer(): a reference on `saddr`'s counter.
    fn get(&mut self, saddr: Ipv4Addr) -> u32 {
        let Peers { index, slots, free } = self;
        let i = *index.entry(saddr).or_insert_with(|| match free.pop() {
            Some(i) => i,
            None => {
                slots.push((0, 0));
                (slots.len() - 1) as u32
            }
        });
        if let Some(slot) = slots.get_mut(i as usize) {
            if slot.1 == 0 {
                slot.0 = 0;
            }
            slot.1 += 1;
        }
        i
    }

    /// Linux inet_putpeer().
    fn put(&mut self, i: u32, saddr: Ipv4Addr) {
        if let Some(slot) = self.slots.get_mut(i as usize) {
            slot.1 = slot.1.saturating_sub(1);
            if slot.1 == 0 {
                self.index.remove(&saddr);
                self.free.push(i);
            }
        }
    }
}

/// What ip_frag_queue() made of a fragment.
enum Queued {
    /// Held; the datagram is not whole yet.
    Held,
    /// Held, and the datagram is whole.
    Complete,
    /// R11: a duplicate, dropped alone.
    Dup(SkBuff),
    /// R11: an overlap; the fragment and its queue go.
    Overlap(SkBuff),
    /// R8–R10: the fragment and its queue go.
    Discard(SkBuff),
}

/// Where a fragment goes among a queue's runs (R11).
enum Insert {
    /// Appended to the run that starts at this offset.
    Append(u32),
    NewRun,
    Dup,
    Overlap,
}

impl IpFrags {
    /// No queues; the table hash is keyed from `rng`.
    pub fn new(rng: &mut Prng) -> Self {
        let [k0, k1, k2, k3] = rng.hash_keys();
        let state = || ahash::RandomState::with_seeds(k0, k1, k2, k3);
        IpFrags {
            queues: HashMap::with_hasher(state()),
            timers: TimerQueue::new(),
            peers: Peers {
                index: HashMap::with_hasher(state()),
                slots: Vec::new(),
                free: Vec::new(),
            },
            mem: 0,
        }
    }

    /// Memory charged to reassembly now. Linux frag_mem_limit().
    pub fn mem(&self) -> usize {
        self.mem
    }

    /// Datagrams being reassembled.
    pub fn len(&self) -> usize {
        self.queues.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// The live queues, one per line, oldest deadline first: key, bytes known and queued,
    /// fragment count, memory and time left. (Linux has no such listing; the fields are
    /// `struct ipq`'s.)
    pub fn render(&self, now: Instant) -> String {
        let mut qs: Vec<(Instant, &FragKey, &Ipq)> = self
            .queues
            .iter()
            .map(|(k, q)| (self.timers.deadline(q.timer).unwrap_or(now), k, q))
            .collect();
        qs.sort_by_key(|&(t, k, _)| (t, u32::from(k.saddr), k.id));
        let mut out = String::new();
        for (deadline, k, q) in qs {
            let frags = q.nfrags;
            let left = deadline.saturating_duration_since(now);
            let len = if q.flags & INET_FRAG_LAST_IN != 0 {
                q.len.to_string()
            } else {
                format!(">={}", q.len)
            };
            out.push_str(&format!(
                "src {} dst {} id 0x{:04x} proto {} user {:?} len {} meat {} frags {} mem {} expires {}.{:03}s\n",
                k.saddr, k.daddr, k.id, k.protocol, k.user, len, q.meat, frags, q.mem,
                left.as_secs(), left.subsec_millis()
            ));
        }
        out
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Linux inet_frag_kill() + inet_frag_destroy(): unhashes the queue (a later fragment
    /// with its key starts afresh, R17) and gives its memory back. Returns its fragments.
    fn kill(&mut self, key: &FragKey) -> Option<Ipq> {
        let q = self.queues.remove(key)?;
        self.timers.cancel(q.timer);
        if let Some(i) = q.peer {
            self.peers.put(i, key.saddr);
        }
        self.mem -= q.mem;
        Some(q)
    }
}

impl Ipq {
    /// Linux inet_frag_create(): a queue whose timer runs from now, once (R4).
    fn create(
        key: FragKey,
        expires: Instant,
        peer: bool,
        timers: &mut TimerQueue<FragKey>,
        peers: &mut Peers,
        mem: &mut usize,
    ) -> Ipq {
        let timer = timers.schedule(expires, key);
        let peer = peer.then(|| peers.get(key.saddr));
        *mem += IPQ_SIZE;
        Ipq {
            flags: 0,
            len: 0,
            meat: 0,
            mem: IPQ_SIZE,
            runs: BTreeMap::new(),
            nfrags: 0,
            unnecessary: true,
            max_size: 0,
            max_df_size: 0,
            ecn: 0,
            iif: 0,
            rid: 0,
            peer,
            timer,
        }
    }

    /// The fragments in offset order.
    fn into_frags(self) -> impl Iterator<Item = SkBuff> {
        self.runs.into_values().flat_map(FragRun::into_frags)
    }

    /// Linux ip_frag_too_far() on the queue (R6): counts the fragment against its source
    /// (`peer`); true when more than `max` others came from there since this queue's last.
    fn too_far(&mut self, peers: &mut Peers, max: u32) -> bool {
        let Some(peer) = self.peer.and_then(|i| peers.slots.get_mut(i as usize)) else {
            return false;
        };
        if max == 0 {
            return false;
        }
        let start = self.rid;
        peer.0 = peer.0.wrapping_add(1);
        self.rid = peer.0;
        !self.runs.is_empty() && self.rid.wrapping_sub(start) > max
    }

    /// Linux ip_frag_queue() on the queue itself (R7–R12): `skb` at its IP header, `mem`
    /// the reassembly total its charge goes to.
    fn queue(&mut self, mut skb: SkBuff, h: &IpHdr, mem: &mut usize) -> Queued {
        let offset = h.frag_offset();
        let ihl = h.ihl as u32;
        // R7, R14: 32-bit arithmetic, so offset + length cannot wrap.
        let mut end = offset + (skb.len() as u32).saturating_sub(ihl);
        if !h.more_frags() {
            // R8: the last fragment fixes the length.
            if end < self.len || (self.flags & INET_FRAG_LAST_IN != 0 && end != self.len) {
                return Queued::Discard(skb);
            }
            self.flags |= INET_FRAG_LAST_IN;
            self.len = end;
        } else {
            // R9: whole 8-byte blocks only; the tail is cut off below (and ip_frag_reasm
            // decides the checksum state of the whole).
            end &= !7;
            if end > self.len {
                if self.flags & INET_FRAG_LAST_IN != 0 {
                    return Queued::Discard(skb);
                }
                self.len = end;
            }
        }
        // R10: nothing left.
        if end == offset || skb.pull(h.ihl).is_err() {
            return Queued::Discard(skb);
        }
        skb.trim((end - offset) as usize);
        let insert = frag_insert(&self.runs, offset, end);
        let start = match insert {
            // R11: the data that came first stays; so does what R8/R9 set above.
            Insert::Dup => return Queued::Dup(skb),
            Insert::Overlap => return Queued::Overlap(skb),
            Insert::Append(start) => Some(start),
            Insert::NewRun => None,
        };
        self.iif = skb.iif;
        self.meat += end - offset;
        self.ecn |= ip4_frag_ecn(h.tos);
        if offset == 0 {
            self.flags |= INET_FRAG_FIRST_IN;
        }
        let fragsize = end - offset + ihl;
        self.max_size = self.max_size.max(fragsize);
        if h.dont_frag() {
            self.max_df_size = self.max_df_size.max(fragsize);
        }
        self.unnecessary &= skb.ip_summed == ChecksumState::Unnecessary;
        // The charge, once: the fragment's truesize as it is queued.
        let cost = skb.truesize() + FRAG_OVERHEAD;
        self.mem += cost;
        *mem += cost;
        self.nfrags += 1;
        // frag_insert() appends only to the last run: reached without a search.
        match start.and(self.runs.last_entry()) {
            Some(mut run) => {
                let run = run.get_mut();
                run.head.frag_list.push(skb);
                run.end = end;
            }
            None => {
                self.runs.insert(offset, FragRun::new(end, skb));
            }
        }
        // R12.
        if self.flags == INET_FRAG_FIRST_IN | INET_FRAG_LAST_IN && self.meat == self.len {
            Queued::Complete
        } else {
            Queued::Held
        }
    }
}

/// Linux inet_frag_queue_insert() (R11): past the last fragment, it overlaps, extends the
/// last run, or starts a run; otherwise a binary search finds the run it meets: inside
/// one run it is a duplicate, any other meeting is an overlap.
fn frag_insert(runs: &BTreeMap<u32, FragRun>, offset: u32, end: u32) -> Insert {
    match runs.last_key_value() {
        None => Insert::NewRun,
        Some((&start, last)) if last.end < end => {
            if offset < last.end {
                Insert::Overlap
            } else if offset == last.end {
                Insert::Append(start)
            } else {
                Insert::NewRun
            }
        }
        Some(_) => match runs.range(..end).next_back() {
            Some((&start, run)) if run.end > offset => {
                if start <= offset && end <= run.end {
                    Insert::Dup
                } else {
                    Insert::Overlap
                }
            }
            _ => Insert::NewRun,
        },
    }
}

/// Linux ip4_frag_ecn(): the `IPFRAG_ECN_*` bit of a fragment's ECN field.
fn ip4_frag_ecn(tos: u8) -> u8 {
    1 << (tos & 3)
}

/// Linux `ip_frag_ecn_table` (R13, RFC 3168 §5.3): the ECN bits to set on the datagram,
/// or `None` when Not-ECT fragments mix with ECN-capable ones.
fn ip_frag_ecn(bits: u8) -> Option<u8> {
    const NOT_ECT: u8 = 1;
    const CE: u8 = 8;
    let ect = bits & 6 != 0;
    if bits & NOT_ECT != 0 && (ect || bits & CE != 0) {
        None
    } else if bits & CE != 0 && ect {
        Some(3)
    } else {
        Some(0)
    }
}

impl Stack {
    /// Linux ip_defrag(): queues a fragment (`skb` at its IP header); returns the whole
    /// datagram when this fragment completes it.
    pub(crate) fn ip_defrag(&mut self, mut skb: SkBuff, user: DefragUser) -> Option<SkBuff> {
        stage!(self, "ip_defrag");
        self.mib.ip.reasm_reqds += 1;
        // R19: offload metadata means nothing on a fragment.
        skb.gso = None;
        let (h, id) = match (IpHdr::of(&skb), skb.network_header_bytes()) {
            (Some(h), Some(b)) if b.len() >= 6 => (h, u16::from_be_bytes([b[4], b[5]])),
            _ => {
                self.kfree_skb(skb, DropReason::IpInhdr);
                return None;
            }
        };
        let key = FragKey {
            saddr: h.saddr,
            daddr: h.daddr,
            id,
            protocol: h.protocol,
            user,
            vif: 0,
        };
        // inet_frag_find(), R3: over the limit, every fragment is refused.
        let high = self.sysctl.ipfrag_high_thresh as usize;
        if high == 0 || self.ipfrags.mem > high {
            self.mib.ip.reasm_fails += 1;
            self.kfree_skb(skb, DropReason::FragMemLimit);
            return None;
        }
        self.ip_frag_queue(key, skb, &h, true)
    }

    fn ipfrag_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.sysctl.ipfrag_time))
    }

    /// Linux inet_frag_find() + ip_frag_queue(): R4, R6–R12, with one table lookup for a
    /// fragment that does not complete its datagram.
    fn ip_frag_queue(
        &mut self,
        key: FragKey,
        skb: SkBuff,
        h: &IpHdr,
        check_far: bool,
    ) -> Option<SkBuff> {
        let expires = self.now.saturating_add(self.ipfrag_timeout());
        let max_dist = self.sysctl.ipfrag_max_dist;
        let IpFrags {
            queues,
            timers,
            peers,
            mem,
        } = &mut self.ipfrags;
        let q = queues
            .entry(key)
            .or_insert_with(|| Ipq::create(key, expires, max_dist != 0, timers, peers, mem));
        if check_far
            && !skb.cb.flags.contains(IpSkbFlags::FRAG_COMPLETE)
            && q.too_far(peers, max_dist)
        {
            self.mib.ip.reasm_fails += 1;
            self.ip_frag_reinit(&key);
            return self.ip_frag_queue(key, skb, h, false);
        }
        match q.queue(skb, h, mem) {
            Queued::Held => None,
            Queued::Complete => {
                let iif = q.iif;
                let q = self.ipfrags.kill(&key)?;
                self.ip_frag_reasm(q, iif)
            }
            Queued::Dup(skb) => {
                self.kfree_skb(skb, DropReason::DupFrag);
                None
            }
            Queued::Overlap(skb) => {
                self.mib.ip_ext.reasm_overlaps += 1;
                self.ip_frag_discard(&key, skb, DropReason::FragOverlap)
            }
            Queued::Discard(skb) => self.ip_frag_discard(&key, skb, DropReason::FragDiscard),
        }
    }

    /// Linux discard_qp: the fragment and its whole queue go; ReasmFails.
    fn ip_frag_discard(
        &mut self,
        key: &FragKey,
        skb: SkBuff,
        reason: DropReason,
    ) -> Option<SkBuff> {
        self.mib.ip.reasm_fails += 1;
        if let Some(q) = self.ipfrags.kill(key) {
            self.drop_frags(q.into_frags(), reason);
        }
        self.kfree_skb(skb, reason);
        None
    }

    fn drop_frags(&mut self, frags: impl Iterator<Item = SkBuff>, reason: DropReason) {
        for skb in frags {
            self.kfree_skb(skb, reason);
        }
    }

    /// Linux ip_frag_reinit(): empties the queue and restarts its timer. Linux keeps the
    /// largest fragment sizes seen, and so does this.
    fn ip_frag_reinit(&mut self, key: &FragKey) {
        let expires = self.now.saturating_add(self.ipfrag_timeout());
        let frags = &mut self.ipfrags;
        let Some(q) = frags.queues.get_mut(key) else {
            return;
        };
        frags.timers.cancel(q.timer);
        q.timer = frags.timers.schedule(expires, *key);
        frags.mem -= q.mem - IPQ_SIZE;
        q.mem = IPQ_SIZE;
        q.flags = 0;
        q.len = 0;
        q.meat = 0;
        q.iif = 0;
        q.ecn = 0;
        q.nfrags = 0;
        q.unnecessary = true;
        let runs = core::mem::take(&mut q.runs);
        self.drop_frags(
            runs.into_values().flat_map(FragRun::into_frags),
            DropReason::FragTooFar,
        );
    }

    /// Linux ip_frag_reasm(): the offset-0 fragment's header over all the data (R13–R15).
    /// The first run is the datagram already; any later run is chained on behind it.
    fn ip_frag_reasm(&mut self, q: Ipq, iif: u32) -> Option<SkBuff> {
        let Ipq {
            len,
            max_size,
            max_df_size,
            ecn,
            unnecessary,
            runs,
            ..
        } = q;
        let mut runs = runs.into_values();
        let mut first = runs.next()?;
        let ihl = IpHdr::of(&first.head).map_or(0, |h| h.ihl);
        let total = ihl as u32 + len;
        let ecn = ip_frag_ecn(ecn);
        // R14: checked only now; R13: an invalid ECN mix.
        if ihl == 0 || total > 65535 || ecn.is_none() || first.head.push(ihl).is_err() {
            self.mib.ip.reasm_fails += 1;
            self.drop_frags(
                core::iter::once(first)
                    .chain(runs)
                    .flat_map(FragRun::into_frags),
                DropReason::FragDiscard,
            );
            return None;
        }
        let mut head = first.head;
        for frag in runs.flat_map(FragRun::into_frags) {
            head.frag_list.push(frag);
        }
        // Device sums over pieces do not add up to one here: software verifies.
        head.ip_summed = if unnecessary {
            ChecksumState::Unnecessary
        } else {
            ChecksumState::None
        };
        // R15: DF only if the largest fragment had it.
        let pmtu = max_df_size == max_size;
        if let Some(hdr) = head.network_header_bytes_mut() {
            let mut p = Ipv4Packet::new_unchecked(hdr);
            p.set_total_len(total as u16);
            p.set_tos(p.tos() | ecn.unwrap_or(0));
            p.set_frag_off(if pmtu { IP_DF } else { 0 });
            p.fill_checksum();
        }
        head.cb.frag_max_size = max_size.max(max_df_size) as u16;
        if pmtu {
            head.cb.flags.insert(IpSkbFlags::FRAG_PMTU);
        }
        head.iif = iif;
        self.mib.ip.reasm_oks += 1;
        Some(head)
    }

    /// Linux ip_expire() (R5): every queue past its time fails; one that has its offset-0
    /// fragment answers with ICMP 11/1 if the packet still routes (to us, for the
    /// defrag hook's queues).
    pub(crate) fn ip_expire(&mut self, now: Instant) {
        while let Some((_, _, key)) = self.ipfrags.timers.pop_expired(now) {
            let Some(q) = self.ipfrags.kill(&key) else {
                continue;
            };
            stage!(self, "ip_expire");
            self.mib.ip.reasm_fails += 1;
            self.mib.ip.reasm_timeout += 1;
            let (first_in, iif) = (q.flags & INET_FRAG_FIRST_IN != 0, q.iif);
            let mut frags = q.into_frags();
            if first_in && let Some(head) = frags.next() {
                self.ip_expire_icmp(&head, iif, key.user);
                self.kfree_skb(head, DropReason::FragReasmTimeout);
            }
            self.drop_frags(frags, DropReason::FragReasmTimeout);
        }
    }

    fn ip_expire_icmp(&mut self, head: &SkBuff, iif: u32, user: DefragUser) {
        if self.dev(iif).is_none() {
            return;
        }
        let Some(h) = IpHdr::of(head) else { return };
        let mc_member = h.daddr == Ipv4Addr::new(224, 0, 0, 1);
        let Ok(dst) = self
            .fib
            .ip_route_input(h.daddr, h.saddr, h.tos, iif, mc_member)
        else {
            return;
        };
        // Only an end host reports a reassembly timeout (RFC 792).
        if user == DefragUser::ConntrackIn && dst.rt_type != RouteType::Local {
            return;
        }
        self.icmp_send(
            head,
            dst.flags,
            IcmpErr::TimeExceeded(TimeExceeded::FragReassembly),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StackConfig;
    use crate::skb::{GsoInfo, GsoType};
    use skiff_wire::ipv4::{IpProtocol, Ipv4Repr};

    /// A fragment of datagram 5 from 10.0.0.2 to 10.0.0.1, `skb` at its IP header.
    fn fragment(s: &mut Stack, offset: u16, mf: bool, df: bool, data: &[u8]) -> SkBuff {
        let ip = Ipv4Repr {
            src: Ipv4Addr::new(10, 0, 0, 2),
            dst: Ipv4Addr::new(10, 0, 0, 1),
            protocol: IpProtocol::from(17),
            ttl: 64,
            tos: 0,
            ident: 5,
            dont_frag: df,
            more_frags: mf,
            frag_offset: offset,
            options: &[],
            payload_len: data.len(),
        };
        let mut bytes = vec![0; ip.buffer_len()];
        ip.emit(&mut bytes).unwrap();
        bytes[20..].copy_from_slice(data);
        let mut skb = s.alloc_skb(bytes.len()).unwrap();
        skb.put_slice(&bytes).unwrap();
        skb.reset_network_header().unwrap();
        skb
    }

    #[test]
    fn r19_offload_metadata_is_cleared() {
        let mut s = Stack::new(StackConfig::default());
        let mut first = fragment(&mut s, 0, true, false, &[1; 16]);
        first.gso = Some(GsoInfo {
            size: 8,
            gso_type: GsoType::UDP_L4,
            segs: 2,
        });
        assert!(s.ip_defrag(first, DefragUser::LocalDeliver).is_none());
        let last = fragment(&mut s, 16, false, false, &[2; 8]);
        let whole = s.ip_defrag(last, DefragUser::LocalDeliver).unwrap();
        assert_eq!(whole.gso, None);
        assert_eq!(whole.len(), 20 + 24);
    }

    #[test]
    fn r2_users_have_their_own_queues() {
        let mut s = Stack::new(StackConfig::default());
        let first = fragment(&mut s, 0, true, false, &[1; 16]);
        assert!(s.ip_defrag(first, DefragUser::ConntrackIn).is_none());
        let last = fragment(&mut s, 16, false, false, &[2; 8]);
        assert!(s.ip_defrag(last, DefragUser::LocalDeliver).is_none());
        assert_eq!(s.ipfrags.len(), 2);
    }

    #[test]
    fn r15_frag_max_size_and_frag_pmtu_are_recorded() {
        let mut s = Stack::new(StackConfig::default());
        let first = fragment(&mut s, 0, true, true, &[1; 1480]);
        assert!(s.ip_defrag(first, DefragUser::LocalDeliver).is_none());
        let last = fragment(&mut s, 1480, false, true, &[2; 100]);
        let whole = s.ip_defrag(last, DefragUser::LocalDeliver).unwrap();
        assert_eq!(whole.cb.frag_max_size, 1500);
        assert!(whole.cb.flags.contains(IpSkbFlags::FRAG_PMTU));
        assert_eq!(whole.frag_list.len(), 1, "pieces stay in frag_list");
        assert_eq!(s.ipfrags.mem(), 0);
    }

    #[test]
    fn runs_classify_dup_overlap_append() {
        let mut runs = BTreeMap::new();
        assert!(matches!(frag_insert(&runs, 16, 24), Insert::NewRun));
        runs.insert(16, FragRun::new(24, SkBuff::new(0, 0).unwrap()));
        assert!(matches!(frag_insert(&runs, 24, 32), Insert::Append(16)));
        assert!(matches!(frag_insert(&runs, 40, 48), Insert::NewRun));
        assert!(matches!(frag_insert(&runs, 20, 32), Insert::Overlap));
        assert!(matches!(frag_insert(&runs, 0, 8), Insert::NewRun));
        assert!(matches!(frag_insert(&runs, 0, 16), Insert::NewRun));
        assert!(matches!(frag_insert(&runs, 16, 24), Insert::Dup));
        assert!(matches!(frag_insert(&runs, 18, 20), Insert::Dup));
        assert!(matches!(frag_insert(&runs, 8, 20), Insert::Overlap));
    }

    #[test]
    fn in_order_fragments_chain_and_later_runs_follow_in_offset_order() {
        let mut s = Stack::new(StackConfig::default());
        for (offset, mf, byte) in [(0, true, 1), (8, true, 2), (24, false, 4)] {
            let f = fragment(&mut s, offset, mf, false, &[byte; 8]);
            assert!(s.ip_defrag(f, DefragUser::LocalDeliver).is_none());
        }
        let q = s.ipfrags.queues.values().next().unwrap();
        // [0, 16) is one run (8 appended to 0), [24, 32) another.
        assert_eq!(q.runs.len(), 2);
        assert_eq!(q.runs[&0].end, 16);
        assert_eq!(q.runs[&0].head.frag_list.len(), 1);
        assert_eq!(q.nfrags, 3);
        assert!(s.ipfrags.render(s.now).contains(" frags 3 "));
        let last = fragment(&mut s, 16, true, false, &[3; 8]);
        let whole = s.ip_defrag(last, DefragUser::LocalDeliver).unwrap();
        assert_eq!(whole.frag_list.len(), 3);
        let mut data = Vec::new();
        whole.for_each_chunk(&mut |c| data.extend_from_slice(c));
        let want: Vec<u8> = [1u8, 2, 3, 4].iter().flat_map(|&b| [b; 8]).collect();
        assert_eq!(&data[20..], &want[..]);
        assert_eq!(s.ipfrags.mem(), 0);
    }

    #[test]
    fn a_run_gives_back_its_fragments_as_they_came() {
        let skb = |b: u8| {
            let mut skb = SkBuff::new(0, 4).unwrap();
            skb.put_slice(&[b; 4]).unwrap();
            skb
        };
        let mut head = skb(1);
        head.frag_list.push(skb(2));
        let mut run = FragRun::new(8, head);
        run.head.frag_list.push(skb(3));
        run.head.frag_list.push(skb(4));
        let frags: Vec<SkBuff> = run.into_frags().collect();
        let firsts: Vec<(u8, usize)> = frags.iter().map(|f| (f.data()[0], f.len())).collect();
        // The head keeps the piece it came with.
        assert_eq!(firsts, [(1, 8), (3, 4), (4, 4)]);
    }

    #[test]
    fn ecn_table() {
        let bits = |ecns: &[u8]| ecns.iter().fold(0, |b, &e| b | ip4_frag_ecn(e));
        assert_eq!(ip_frag_ecn(bits(&[3, 2])), Some(3));
        assert_eq!(ip_frag_ecn(bits(&[3, 1, 2])), Some(3));
        assert_eq!(ip_frag_ecn(bits(&[3])), Some(0));
        assert_eq!(ip_frag_ecn(bits(&[1, 2])), Some(0));
        assert_eq!(ip_frag_ecn(bits(&[0, 3])), None);
        assert_eq!(ip_frag_ecn(bits(&[0, 1])), None);
        assert_eq!(ip_frag_ecn(bits(&[0])), Some(0));
    }
}
