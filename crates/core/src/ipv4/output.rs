//! The IPv4 output path. Linux net/ipv4/ip_output.c, and IP ID selection (route.c,
//! include/net/ip.h).

use crate::drop::DropReason;
use crate::ipv4::hdr::IpHdr;
use crate::netfilter::NfInetHook;
use crate::rand::Prng;
use crate::route::{DstEntry, RouteType, RtFlags};
use crate::skb::SkBuff;
use crate::stack::{LL_RESERVED, Stack, stage};
use crate::time::Instant;
use core::fmt;
use skiff_wire::Ipv4Addr;
use skiff_wire::ipv4::{IpProtocol, Ipv4BasicHeader, Ipv4Packet, Ipv4Repr};

/// Why local output failed. Each names its errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputError {
    /// EMSGSIZE: larger than the path MTU with DF, or an MTU too small to fragment to.
    MsgSize,
    /// ENOBUFS: no buffer, or the packet was dropped on the way (a hook, a full queue).
    NoBufs,
    /// EPERM: a netfilter hook dropped it (Linux NF_DROP on local output).
    Perm,
    /// A routing error (ENETUNREACH, EHOSTUNREACH, EACCES, EINVAL...).
    Route(crate::route::RouteError),
}

impl OutputError {
    pub fn errno(&self) -> i32 {
        match self {
            OutputError::MsgSize => 90,
            OutputError::NoBufs => 105,
            OutputError::Perm => 1,
            OutputError::Route(e) => e.errno(),
        }
    }
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::MsgSize => f.write_str("message too long (EMSGSIZE)"),
            OutputError::NoBufs => f.write_str("no buffer space (ENOBUFS)"),
            OutputError::Perm => f.write_str("dropped by netfilter (EPERM)"),
            OutputError::Route(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for OutputError {}

/// Number of IP ID counters: Linux sizes ip_idents from memory, 2048 to 262144.
const IP_IDENTS_SZ: usize = 2048;

/// Linux `ip_idents` / `ip_tstamps` (route.c): per-bucket ID counters picked by a keyed
/// hash of (daddr, saddr, protocol), each advanced by a random amount up to the time it
/// sat idle (CVE-2019-10638, CVE-2021-45486).
#[derive(Debug)]
pub(crate) struct IpIdents {
    key: [u64; 4],
    /// Per bucket: the counter and the jiffies of its last use.
    buckets: Box<[IdentBucket; IP_IDENTS_SZ]>,
    rng: Prng,
}

/// One `ip_idents` counter with its `ip_tstamps` stamp, side by side.
#[derive(Debug, Clone, Copy, Default)]
struct IdentBucket {
    ident: u32,
    stamp: u32,
}

impl IpIdents {
    pub(crate) fn new(rng: &mut Prng) -> Self {
        let mut fork = rng.fork();
        let key = fork.hash_keys();
        IpIdents {
            key,
            buckets: Box::new([IdentBucket::default(); IP_IDENTS_SZ]),
            rng: fork,
        }
    }

    /// The bucket hash (Linux siphash_3u32 with a per-netns key): two keyed folded
    /// multiplies, the mixing step of ahash's fallback hasher, over the three fields.
    #[inline]
    fn hash(&self, daddr: Ipv4Addr, saddr: Ipv4Addr, protocol: u8) -> u64 {
        fn folded_multiply(a: u64, b: u64) -> u64 {
            let p = u128::from(a) * u128::from(b);
            (p as u64) ^ ((p >> 64) as u64)
        }
        let addrs = u64::from(u32::from(daddr)) << 32 | u64::from(u32::from(saddr));
        let m = folded_multiply(addrs ^ self.key[0], self.key[1]);
        folded_multiply(m ^ u64::from(protocol) ^ self.key[2], self.key[3])
    }

    /// A random 16-bit value from the ID generator's source: a connected socket's first
    /// ID (Linux get_random_u16() in __ip4_datagram_connect()).
    pub(crate) fn random_u16(&mut self) -> u16 {
        self.rng.next_u32() as u16
    }

    /// Linux __ip_select_ident() + ip_idents_reserve(): the first of `segs` IDs.
    pub(crate) fn select(
        &mut self,
        now: Instant,
        daddr: Ipv4Addr,
        saddr: Ipv4Addr,
        protocol: u8,
        segs: u16,
    ) -> u16 {
        let bucket = (self.hash(daddr, saddr, protocol) as usize) % IP_IDENTS_SZ;
        let jiffies = (now.as_nanos() / 1_000_000) as u32;
        let slot = &mut self.buckets[bucket];
        let old = core::mem::replace(&mut slot.stamp, jiffies);
        let idle = jiffies.wrapping_sub(old);
        let delta = if old != jiffies && idle != 0 {
            self.rng.below(idle)
        } else {
            0
        };
        let slot = &mut self.buckets[bucket];
        let id = slot.ident.wrapping_add(delta);
        slot.ident = id.wrapping_add(u32::from(segs));
        id as u16
    }
}

/// A socket's `IP_MTU_DISCOVER` mode. Linux `IP_PMTUDISC_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PmtuDisc {
    /// Never set DF; fragment locally.
    Dont = 0,
    /// Set DF while the datagram fits the path MTU and it is not locked.
    Want = 1,
    /// Always set DF; larger datagrams fail with EMSGSIZE.
    Do = 2,
    /// Set DF, size by the device MTU and ignore the path MTU.
    Probe = 3,
    /// Size by the device MTU, no DF, never fragment.
    Interface = 4,
    /// As Interface, but fragment when the datagram is larger.
    Omit = 5,
}

impl PmtuDisc {
    /// The `int` of setsockopt(); anything else is EINVAL.
    pub fn from_raw(v: i32) -> Option<PmtuDisc> {
        Some(match v {
            0 => PmtuDisc::Dont,
            1 => PmtuDisc::Want,
            2 => PmtuDisc::Do,
            3 => PmtuDisc::Probe,
            4 => PmtuDisc::Interface,
            5 => PmtuDisc::Omit,
            _ => return None,
        })
    }

    /// Linux ip_sk_ignore_df(): the datagram may be fragmented on the way out.
    pub(crate) fn ignore_df(self) -> bool {
        self < PmtuDisc::Do || self == PmtuDisc::Omit
    }

    /// Linux ip_sk_use_pmtu(): size by the path MTU, else by the device's.
    pub(crate) fn use_pmtu(self) -> bool {
        self < PmtuDisc::Probe
    }

    /// Linux __ip_make_skb()'s DF decision for a datagram of `len` bytes on `dst`.
    pub(crate) fn df(self, len: usize, dst: &DstEntry) -> bool {
        // ip_dont_fragment()
        let dont_fragment = self == PmtuDisc::Do
            || (self == PmtuDisc::Want && !dst.flags.contains(RtFlags::MTU_LOCKED));
        matches!(self, PmtuDisc::Do | PmtuDisc::Probe) || (len <= dst.mtu as usize && dont_fragment)
    }
}

/// What a locally built packet looks like.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IpSend {
    pub saddr: Ipv4Addr,
    pub daddr: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
    pub tos: u8,
    pub df: bool,
    /// Linux `skb->ignore_df`, from the socket's [`PmtuDisc::ignore_df`].
    pub ignore_df: bool,
    /// An ID already chosen (a segment of a GSO datagram), else ip_select_ident().
    pub ident: Option<u16>,
}

impl Stack {
    /// Linux ip_select_ident() without a connected socket, R25: ID 0 for DF datagrams
    /// that may not be fragmented (RFC 6864 atomic), otherwise the hashed counters.
    #[inline]
    pub(crate) fn ip_select_ident(&mut self, p: &IpSend, segs: u16) -> u16 {
        if p.df && !p.ignore_df {
            0
        } else {
            self.idents
                .select(self.now, p.daddr, p.saddr, p.protocol, segs)
        }
    }

    /// Linux ip_select_ident_segs() for a datagram of socket `fd`, R25: a connected
    /// socket (`inet_daddr` set) numbers its datagrams from its own counter, whatever DF
    /// says; any other takes [`Self::ip_select_ident`]. The first of `segs` IDs.
    pub(crate) fn sk_select_ident(
        &mut self,
        fd: crate::socket::SockFd,
        p: &IpSend,
        segs: u16,
    ) -> u16 {
        match self.socks.get(fd) {
            Ok(s) if s.connected => {
                // atomic_add_return(): the counter after the reservation.
                s.inet_id = s.inet_id.wrapping_add(segs);
                s.inet_id
            }
            _ => self.ip_select_ident(p, segs),
        }
    }

    /// Builds an IPv4 packet around `body_len` bytes that `fill` writes, and sends it
    /// through ip_local_out(). The equivalent of Linux ip_build_and_send_pkt() and of
    /// ip_push_pending_frames() for single-skb replies (ICMP).
    pub(crate) fn ip_build_and_send_pkt(
        &mut self,
        dst: &DstEntry,
        p: IpSend,
        options: &[u8],
        body_len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<(), OutputError> {
        stage!(self, "ip_build_and_send_pkt");
        let Ok(mut skb) = self.pool.alloc(LL_RESERVED + 20 + options.len(), body_len) else {
            return Err(OutputError::NoBufs);
        };
        match skb.put(body_len) {
            Ok(body) => fill(body),
            Err(_) => {
                self.pool.recycle(skb);
                return Err(OutputError::NoBufs);
            }
        }
        self.ip_push_header(skb, &p, options, dst)
    }

    /// Linux __ip_append_data()'s buffer geometry: `transhdr` zero bytes for the
    /// transport header, then `payload`, in pieces of `maxfraglen` for an `mtu` and an IP
    /// header of `hlen` bytes: the head and its `frag_list`, each with headroom for the IP
    /// header, so a datagram over the MTU leaves through ip_fragment()'s fast path without
    /// another copy. The packet's data starts at the transport header.
    pub(crate) fn ip_make_skb(
        &mut self,
        mtu: usize,
        hlen: usize,
        transhdr: usize,
        payload: &[u8],
    ) -> Result<SkBuff, OutputError> {
        let total = transhdr + payload.len();
        let space = if hlen + total <= mtu {
            total
        } else {
            mtu.saturating_sub(hlen) & !7
        };
        if space < transhdr.max(1) && total > 0 {
            return Err(OutputError::MsgSize);
        }
        self.make_skb_pieces(LL_RESERVED + hlen, transhdr, payload, space, space)
    }

    /// The head holds `transhdr` zero bytes and payload up to `first` bytes in all; each
    /// further `piece` bytes of payload go in a `frag_list` piece with `headroom`.
    pub(crate) fn make_skb_pieces(
        &mut self,
        headroom: usize,
        transhdr: usize,
        payload: &[u8],
        first: usize,
        piece: usize,
    ) -> Result<SkBuff, OutputError> {
        let first = first.min(transhdr + payload.len());
        let Ok(mut skb) = self.pool.alloc(headroom, first) else {
            return Err(OutputError::NoBufs);
        };
        // A recycled buffer holds old bytes. The UDP and ICMP header (8 bytes) is one
        // store rather than a call to memset.
        let mut ok = skb
            .put(transhdr)
            .map(|h| match h.first_chunk_mut::<8>() {
                Some(w) if transhdr == 8 => *w = [0; 8],
                _ => h.fill(0),
            })
            .is_ok();
        let (head, rest) = payload.split_at(first.saturating_sub(transhdr).min(payload.len()));
        ok &= skb.put_slice(head).is_ok();
        if !rest.is_empty() {
            ok &= self.make_skb_frag_list(&mut skb, headroom, rest, piece);
        }
        if !ok {
            self.pool.recycle(skb);
            return Err(OutputError::NoBufs);
        }
        Ok(skb)
    }

    /// make_skb_pieces()' `frag_list`: `rest` in pieces of `piece` bytes. False if a
    /// piece could not be allocated.
    #[inline(never)]
    fn make_skb_frag_list(
        &mut self,
        skb: &mut SkBuff,
        headroom: usize,
        rest: &[u8],
        piece: usize,
    ) -> bool {
        let mut ok = true;
        // One allocation for the list, not a doubling per few pieces.
        skb.frag_list.reserve(rest.len().div_ceil(piece.max(1)));
        for chunk in rest.chunks(piece.max(1)) {
            match self.pool.alloc(headroom, chunk.len()) {
                Ok(mut p) => {
                    ok &= p.put_slice(chunk).is_ok();
                    skb.frag_list.push(p);
                }
                Err(_) => ok = false,
            }
        }
        ok
    }

    /// Puts the IPv4 header (with `options`) in front of the packet's data, which is the
    /// transport header and payload, then ip_local_out(). Linux ip_build_and_send_pkt()'s
    /// header half, and what ip_make_skb() writes.
    #[inline]
    pub(crate) fn ip_push_header(
        &mut self,
        mut skb: SkBuff,
        p: &IpSend,
        options: &[u8],
        dst: &DstEntry,
    ) -> Result<(), OutputError> {
        let ident = p.ident.unwrap_or_else(|| self.ip_select_ident(p, 1));
        if options.is_empty() {
            return self.ip_push_basic_header(skb, p, ident, dst);
        }
        let hlen = 20 + options.len();
        let repr = Ipv4Repr {
            src: p.saddr,
            dst: p.daddr,
            protocol: IpProtocol::from(p.protocol),
            ttl: p.ttl,
            tos: p.tos,
            ident,
            dont_frag: p.df,
            more_frags: false,
            frag_offset: 0,
            options,
            payload_len: skb.len(),
        };
        // ip_local_out() fills the checksum.
        let pushed = skb
            .push(hlen)
            .map(|buf| repr.emit_without_checksum(buf).is_ok())
            .unwrap_or(false);
        if !pushed || skb.reset_network_header().is_err() || skb.set_transport_header(hlen).is_err()
        {
            self.pool.recycle(skb);
            return Err(OutputError::MsgSize);
        }
        skb.ignore_df = p.ignore_df;
        self.ip_local_out(skb, dst)
    }

    /// [`Self::ip_push_header`] without options: the 20-byte header written whole, total
    /// length and checksum included, so ip_local_out() has nothing left to fill.
    #[inline(always)]
    fn ip_push_basic_header(
        &mut self,
        mut skb: SkBuff,
        p: &IpSend,
        ident: u16,
        dst: &DstEntry,
    ) -> Result<(), OutputError> {
        let Ok(tot_len) = u16::try_from(skb.len() + 20) else {
            self.pool.recycle(skb);
            return Err(OutputError::MsgSize);
        };
        let hdr = Ipv4BasicHeader {
            src: p.saddr,
            dst: p.daddr,
            protocol: p.protocol,
            ttl: p.ttl,
            tos: p.tos,
            ident,
            dont_frag: p.df,
            tot_len,
        };
        // skb_push(), skb_reset_network_header(), skb_set_transport_header() in one.
        if !skb.push_headers(&hdr.to_bytes(), 20) {
            self.pool.recycle(skb);
            return Err(OutputError::MsgSize);
        }
        skb.ignore_df = p.ignore_df;
        stage!(self, "ip_local_out");
        self.ip_local_out_filled(skb, dst)
    }

    /// Linux ip_local_out() / __ip_local_out(): total length and header checksum, the
    /// LOCAL_OUT hook, then dst_output(). A hook that rewrote the destination reroutes
    /// (ip_route_me_harder).
    #[inline]
    pub(crate) fn ip_local_out(
        &mut self,
        mut skb: SkBuff,
        dst: &DstEntry,
    ) -> Result<(), OutputError> {
        stage!(self, "ip_local_out");
        let len = skb.len();
        let Some(hdr) = skb.network_header_bytes_mut() else {
            self.mib.ip.out_requests += 1;
            self.kfree_skb(skb, DropReason::IpInhdr);
            return Err(OutputError::NoBufs);
        };
        let mut p = Ipv4Packet::new_unchecked(hdr);
        p.set_total_len(u16::try_from(len).unwrap_or(u16::MAX));
        p.fill_checksum();
        self.ip_local_out_filled(skb, dst)
    }

    /// ip_local_out() once the total length and checksum are in: the LOCAL_OUT hook, then
    /// dst_output().
    #[inline(always)]
    fn ip_local_out_filled(&mut self, skb: SkBuff, dst: &DstEntry) -> Result<(), OutputError> {
        self.mib.ip.out_requests += 1;
        if !self.nf.has_ops(NfInetHook::LocalOut) {
            return self.dst_output(skb, dst);
        }
        self.ip_local_out_hook(skb, dst)
    }

    /// LOCAL_OUT with ops: a hook that rewrote the destination reroutes.
    #[cold]
    #[inline(never)]
    fn ip_local_out_hook(&mut self, skb: SkBuff, dst: &DstEntry) -> Result<(), OutputError> {
        let before = IpHdr::of(&skb).map(|h| h.daddr);
        let Some(skb) = self.nf_hook(NfInetHook::LocalOut, skb, 0, dst.dev) else {
            return Err(OutputError::Perm);
        };
        let after = IpHdr::of(&skb);
        match after {
            Some(h) if Some(h.daddr) != before => {
                // ip_route_me_harder(): the hook moved the packet elsewhere.
                match self.route_output_simple(h.daddr, h.saddr, h.tos) {
                    Ok(new_dst) => self.dst_output(skb, &new_dst),
                    Err(e) => {
                        self.kfree_skb(skb, DropReason::IpOutnoroutes);
                        Err(OutputError::Route(e))
                    }
                }
            }
            _ => self.dst_output(skb, dst),
        }
    }

    /// Linux dst_output(): multicast and broadcast routes take ip_mc_output(), the
    /// others ip_output().
    #[inline(always)]
    pub(crate) fn dst_output(&mut self, skb: SkBuff, dst: &DstEntry) -> Result<(), OutputError> {
        if dst.flags.contains(RtFlags::MULTICAST) || dst.flags.contains(RtFlags::BROADCAST) {
            return self.ip_mc_output(skb, dst);
        }
        self.ip_output(skb, dst)
    }

    /// Linux ip_mc_output(): a multicast datagram for a group this host joined on the
    /// device (the sender allowing IP_MULTICAST_LOOP), and every broadcast, also loops
    /// back a copy; multicast with TTL 0 goes no further than the host.
    #[cold]
    #[inline(never)]
    fn ip_mc_output(&mut self, skb: SkBuff, dst: &DstEntry) -> Result<(), OutputError> {
        stage!(self, "ip_mc_output");
        let multicast = dst.flags.contains(RtFlags::MULTICAST);
        let mc_loop = skb.sk.is_none_or(|o| self.sk_mc_loop(o));
        if dst.flags.contains(RtFlags::LOCAL)
            && dst.dev != crate::stack::LOOPBACK_IFINDEX
            && (!multicast || mc_loop)
        {
            let copy = skb.clone();
            self.dev_loopback_xmit(copy, dst);
        }
        if multicast && IpHdr::of(&skb).is_some_and(|h| h.ttl == 0) {
            self.consume_skb(skb);
            return Ok(());
        }
        self.ip_output(skb, dst)
    }

    /// Linux ip_output(): POST_ROUTING, then ip_finish_output().
    #[inline(always)]
    pub(crate) fn ip_output(&mut self, skb: SkBuff, dst: &DstEntry) -> Result<(), OutputError> {
        stage!(self, "ip_output");
        let iif = skb.iif;
        let Some(skb) = self.nf_hook(NfInetHook::PostRouting, skb, iif, dst.dev) else {
            return Err(OutputError::Perm);
        };
        self.ip_finish_output(skb, dst)
    }

    /// Linux ip_finish_output() / __ip_finish_output(): packets over the MTU, and
    /// reassembled ones (which go out as they came in), take ip_fragment().
    #[inline(always)]
    pub(crate) fn ip_finish_output(
        &mut self,
        skb: SkBuff,
        dst: &DstEntry,
    ) -> Result<(), OutputError> {
        stage!(self, "ip_finish_output");
        if skb.gso.is_some() {
            return self.ip_finish_output_gso(skb, dst);
        }
        if skb.len() > dst.mtu as usize || skb.cb.frag_max_size != 0 {
            return self.ip_fragment(skb, dst);
        }
        self.ip_finish_output2(skb, dst);
        Ok(())
    }

    /// Linux ip_finish_output_gso(): a GSO packet whose segments fit the MTU goes on
    /// whole (the device or validate_xmit_skb() cuts it); otherwise it is segmented now
    /// and each segment over the MTU goes through ip_fragment().
    #[cold]
    #[inline(never)]
    fn ip_finish_output_gso(&mut self, skb: SkBuff, dst: &DstEntry) -> Result<(), OutputError> {
        stage!(self, "ip_finish_output_gso");
        let mtu = dst.mtu as usize;
        if crate::offload::skb_gso_validate_network_len(&skb, mtu) {
            self.ip_finish_output2(skb, dst);
            return Ok(());
        }
        let features = self.dev(dst.dev).map_or(Default::default(), |d| d.features);
        let mut ctx = crate::offload::GsoCtx {
            offloads: &self.offloads,
            pool: &mut self.pool,
            features,
        };
        let segs = match crate::offload::skb_gso_segment(&mut ctx, skb, crate::offload::ETH_P_IP) {
            Ok(segs) => segs,
            Err(_) => {
                self.count_drop(DropReason::SkbGsoSeg);
                return Err(OutputError::NoBufs);
            }
        };
        let mut res = Ok(());
        for seg in segs {
            let r = if seg.len() > mtu {
                self.ip_fragment(seg, dst)
            } else {
                self.ip_finish_output2(seg, dst);
                Ok(())
            };
            if res.is_ok() {
                res = r;
            }
        }
        res
    }

    /// Linux ip_finish_output2(): counters, headroom for the link header, neighbour output.
    #[inline(always)]
    pub(crate) fn ip_finish_output2(&mut self, mut skb: SkBuff, dst: &DstEntry) {
        stage!(self, "ip_finish_output2");
        self.ip_finish_output2_mib(1, skb.len() as u64, dst);
        if skb.headroom() < crate::netdev::ETH_HLEN {
            match self.skb_realloc_headroom(&skb) {
                Some(bigger) => {
                    self.pool.recycle(skb);
                    skb = bigger;
                }
                None => return self.kfree_skb(skb, DropReason::QdiscDrop),
            }
        }
        let Some(daddr) = IpHdr::daddr_of(&skb) else {
            return self.kfree_skb(skb, DropReason::IpInhdr);
        };
        self.neigh_output(dst, daddr, skb);
    }

    /// ip_finish_output2()'s counters for `pkts` packets of `octets` bytes in all on `dst`.
    #[inline(always)]
    pub(crate) fn ip_finish_output2_mib(&mut self, pkts: u64, octets: u64, dst: &DstEntry) {
        match dst.rt_type {
            RouteType::Multicast => {
                self.mib.ip_ext.out_mcast_pkts += pkts;
                self.mib.ip_ext.out_mcast_octets += octets;
            }
            RouteType::Broadcast => {
                self.mib.ip_ext.out_bcast_pkts += pkts;
                self.mib.ip_ext.out_bcast_octets += octets;
            }
            _ => {}
        }
        self.mib.ip.out_transmits += pkts;
        self.mib.ip_ext.out_octets += octets;
    }

    /// Linux skb_realloc_headroom(): a linear copy with link-layer headroom.
    #[cold]
    #[inline(never)]
    fn skb_realloc_headroom(&mut self, skb: &SkBuff) -> Option<SkBuff> {
        let mut new = self.pool.alloc(LL_RESERVED, skb.len()).ok()?;
        new.put_slice(skb.data()).ok()?;
        for frag in &skb.frag_list {
            new.put_slice(frag.data()).ok()?;
        }
        new.reset_network_header().ok()?;
        new.iif = skb.iif;
        new.mark = skb.mark;
        new.priority = skb.priority;
        new.cb = skb.cb;
        Some(new)
    }

    /// A plain output route lookup, as ICMP and route_me_harder use it.
    #[inline]
    /// A socket's output route: flows that only name a destination, source and TOS come
    /// from the dst cache (as route_output_simple()), the others from the FIB.
    pub(crate) fn ip_route_output_flow(
        &mut self,
        fl: &crate::route::Flowi4,
    ) -> Result<DstEntry, crate::route::RouteError> {
        if fl.oif == 0 && fl.mark == 0 && fl.scope == crate::route::RouteScope::UNIVERSE {
            return self.route_output_simple(fl.daddr, fl.saddr, fl.tos);
        }
        self.fib.ip_route_output(fl)
    }

    pub(crate) fn route_output_simple(
        &mut self,
        daddr: Ipv4Addr,
        saddr: Ipv4Addr,
        tos: u8,
    ) -> Result<DstEntry, crate::route::RouteError> {
        stage!(self, "ip_route_output_key");
        let key = crate::route::cache::DstKey {
            daddr,
            saddr,
            tos,
            dev: 0,
            input: false,
            proto: 0,
        };
        let genid = self.fib.genid();
        crate::route::cache::DstCache::lookup(
            self,
            |s| &mut s.dst_cache,
            key,
            genid,
            Self::route_output_slow,
        )
    }

    /// A dst cache miss: ip_route_output_key() proper (the cache keeps the result).
    #[cold]
    #[inline(never)]
    fn route_output_slow(
        &mut self,
        key: crate::route::cache::DstKey,
    ) -> Result<DstEntry, crate::route::RouteError> {
        let (daddr, saddr, tos) = (key.daddr, key.saddr, key.tos);
        let mut fl = crate::route::Flowi4::new(daddr);
        fl.saddr = saddr;
        fl.tos = tos;
        self.fib.ip_route_output(&fl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_idents_advance_and_differ_per_destination() {
        let mut rng = Prng::new(1);
        let mut ids = IpIdents::new(&mut rng);
        let now = Instant::from_secs(1);
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let b = Ipv4Addr::new(10, 0, 0, 2);
        let s = Ipv4Addr::new(10, 0, 0, 9);
        let first = ids.select(now, a, s, 17, 1);
        let second = ids.select(now, a, s, 17, 1);
        assert_eq!(
            second,
            first.wrapping_add(1),
            "back-to-back IDs in one jiffy are consecutive"
        );
        let many: Vec<u16> = (0..100).map(|_| ids.select(now, a, s, 17, 1)).collect();
        let mut sorted = many.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), 100, "no repeats within 100 datagrams");
        // Another flow starts elsewhere (its own bucket, random idle advance).
        let later = Instant::from_secs(30);
        let other = ids.select(later, b, s, 17, 1);
        let again = ids.select(later, a, s, 17, 1);
        assert_ne!(other, again);
    }

    /// The bucket hash spreads flows over the counters and depends on the key.
    #[test]
    fn ip_idents_hash_is_keyed_and_spreads() {
        let a = IpIdents::new(&mut Prng::new(1));
        let b = IpIdents::new(&mut Prng::new(2));
        let s = Ipv4Addr::new(10, 0, 0, 9);
        let bucket =
            |ids: &IpIdents, d: u32| ids.hash(Ipv4Addr::from(d), s, 17) as usize % IP_IDENTS_SZ;
        let used: std::collections::HashSet<usize> = (0..4096).map(|d| bucket(&a, d)).collect();
        // 4096 flows in 2048 buckets fill about 1770 of them when the hash is uniform.
        assert!(used.len() > 1650, "{} buckets used", used.len());
        let moved = (0..256).filter(|&d| bucket(&a, d) != bucket(&b, d)).count();
        assert!(moved > 240, "another key moves flows: {moved} of 256");
        assert_ne!(
            a.hash(Ipv4Addr::from(1), s, 17),
            a.hash(Ipv4Addr::from(1), s, 6)
        );
    }
}
