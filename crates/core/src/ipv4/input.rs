//! The IPv4 receive path. Linux net/ipv4/ip_input.c.

use crate::drop::DropReason;
use crate::inetpeer::{IP_RT_ERROR_BURST, IP_RT_ERROR_COST};
use crate::ipv4::defrag::DefragUser;
use crate::ipv4::hdr::IpHdr;
use crate::ipv4::icmp::IcmpErr;
use crate::netfilter::NfInetHook;
use crate::route::cache::DstKey;
use crate::route::{DstEntry, DstInput, RouteError, RouteInputError, RtFlags};
use crate::skb::{ChecksumState, IpCb, PacketType, SkBuff};
use crate::stack::{Stack, stage};
use skiff_wire::Ipv4Addr;
use skiff_wire::icmpv4::{DstUnreachable, ParamProblem};
use skiff_wire::ip_options::{Ipv4Options, OptionsOrigin};
use skiff_wire::ipv4::Ipv4Packet;
use skiff_wire::ipv4::{IPPROTO_ICMP, IPPROTO_IGMP, IPPROTO_IPIP, IPPROTO_UDP, IPPROTO_UDPLITE};

impl Stack {
    /// Linux ip_rcv(): validate, then the PRE_ROUTING hook, then ip_rcv_finish().
    /// `dst` is set for looped-back packets, which keep their output route.
    #[inline(always)]
    pub(crate) fn ip_rcv(&mut self, skb: SkBuff, dst: Option<&DstEntry>) {
        stage!(self, "ip_rcv");
        let Some((skb, h)) = self.ip_rcv_core(skb) else {
            return;
        };
        if !self.nf.has_ops(NfInetHook::PreRouting) {
            // No hook to rewrite it: the header ip_rcv_core() read is still the packet's.
            return self.ip_rcv_finish_hdr(skb, h, dst);
        }
        let iif = skb.iif;
        if let Some(skb) = self.nf_hook(NfInetHook::PreRouting, skb, iif, 0) {
            self.ip_rcv_finish(skb, dst);
        }
    }

    /// Linux ip_list_rcv(): a batch from one poll. Each packet is validated and hooked as
    /// in ip_rcv(); routing reuses the previous packet's route when daddr and tos match
    /// (ip_can_use_hint) and that route is a forwarding one (Linux re-validates the source
    /// of a local hint; skiff simply routes such packets again).
    pub(crate) fn ip_list_rcv(&mut self, skbs: Vec<SkBuff>) {
        stage!(self, "ip_list_rcv");
        let mut hint: Option<(Ipv4Addr, u8, DstEntry)> = None;
        for skb in skbs {
            let Some((skb, _)) = self.ip_rcv_core(skb) else {
                continue;
            };
            let iif = skb.iif;
            let Some(skb) = self.nf_hook(NfInetHook::PreRouting, skb, iif, 0) else {
                continue;
            };
            let Some(h) = IpHdr::of(&skb) else {
                self.kfree_skb(skb, DropReason::IpInhdr);
                continue;
            };
            let use_hint = hint
                .filter(|(d, t, dst)| {
                    *d == h.daddr && *t == h.tos && dst.iif == iif && self.fib.dst_check(dst)
                })
                .map(|(_, _, dst)| dst);
            let use_hint = use_hint.as_ref();
            // ip_list_rcv_finish(): ip_rcv_finish() keeping the route for the next packet.
            stage!(self, "ip_rcv_finish");
            let mut skb = skb;
            let mut hdr = h;
            match self.ip_rcv_finish_core(&mut skb, &mut hdr, use_hint) {
                Ok(dst) => {
                    self.dst_input(skb, &hdr, &dst);
                    let reusable = matches!(dst.input, DstInput::Forward);
                    hint = reusable.then_some((h.daddr, h.tos, dst));
                }
                Err(reason) => self.kfree_skb(skb, reason),
            }
        }
    }

    /// Linux ip_rcv_core(), R20. Returns the packet with `data` and the network
    /// header at the IP header, trimmed to `tot_len`, and its header; or drops it with
    /// its counter.
    #[inline(always)]
    fn ip_rcv_core(&mut self, mut skb: SkBuff) -> Option<(SkBuff, IpHdr)> {
        if skb.pkt_type == PacketType::OtherHost {
            if let Some(dev) = self.dev_mut(skb.iif) {
                dev.stats.rx_otherhost_dropped += 1;
            }
            self.kfree_skb(skb, DropReason::OtherHost);
            return None;
        }
        let len = skb.len();
        self.mib.ip.in_receives += 1;
        self.mib.ip_ext.in_octets += len as u64;
        let checked = {
            let p = Ipv4Packet::new_unchecked(skb.data());
            match p.check_header_len() {
                Err(_) => Err(DropReason::IpInhdr),
                Ok(()) => {
                    match p.ecn() {
                        0 => self.mib.ip_ext.in_no_ect_pkts += 1,
                        1 => self.mib.ip_ext.in_ect1_pkts += 1,
                        2 => self.mib.ip_ext.in_ect0_pkts += 1,
                        _ => self.mib.ip_ext.in_ce_pkts += 1,
                    }
                    // The header is linear (check_header_len); the length checks count
                    // the whole packet, frag_list included, as skb->len does.
                    let tot = usize::from(p.total_len());
                    let h = skb.data().first_chunk::<20>().and_then(IpHdr::read);
                    if !p.verify_checksum() {
                        Err(DropReason::IpCsum)
                    } else if len < tot {
                        Err(DropReason::PktTooSmall)
                    } else if let Some(h) = h
                        && tot >= h.ihl
                    {
                        Ok((tot, h))
                    } else {
                        Err(DropReason::IpInhdr)
                    }
                }
            }
        };
        let (tot_len, h) = match checked {
            Ok(v) => v,
            Err(reason) => {
                self.kfree_skb(skb, reason);
                return None;
            }
        };
        if len > tot_len {
            // pskb_trim_rcsum(): a device sum over the padding no longer holds.
            skb.trim(tot_len);
            if matches!(skb.ip_summed, ChecksumState::Complete(_)) {
                skb.ip_summed = ChecksumState::None;
            }
        }
        // Both offsets are within the linear data checked above.
        if skb.reset_network_header().is_err() || skb.set_transport_header(h.ihl).is_err() {
            self.kfree_skb(skb, DropReason::IpInhdr);
            return None;
        }
        skb.cb = IpCb::default();
        Some((skb, h))
    }

    /// Linux ip_rcv_finish(): route (or take the looped-back route), options, then
    /// dst_input().
    pub(crate) fn ip_rcv_finish(&mut self, skb: SkBuff, dst: Option<&DstEntry>) {
        match IpHdr::of(&skb) {
            Some(h) => self.ip_rcv_finish_hdr(skb, h, dst),
            None => self.kfree_skb(skb, DropReason::IpInhdr),
        }
    }

    /// [`Stack::ip_rcv_finish`] with the header `h` already read.
    #[inline(always)]
    fn ip_rcv_finish_hdr(&mut self, mut skb: SkBuff, mut h: IpHdr, dst: Option<&DstEntry>) {
        stage!(self, "ip_rcv_finish");
        match self.ip_rcv_finish_core(&mut skb, &mut h, dst) {
            Ok(dst) => self.dst_input(skb, &h, &dst),
            Err(reason) => self.kfree_skb(skb, reason),
        }
    }

    /// Linux ip_rcv_finish_core(), R21. Returns the route; `h`, the packet's header, is
    /// read again when options rewrote it.
    #[inline(always)]
    fn ip_rcv_finish_core(
        &mut self,
        skb: &mut SkBuff,
        h: &mut IpHdr,
        dst: Option<&DstEntry>,
    ) -> Result<DstEntry, DropReason> {
        let mut dst = match dst {
            Some(dst) => *dst,
            None => match self.ip_early_demux(skb, h) {
                Some(dst) => dst,
                None => self.ip_route_input_noref(h, skb.iif)?,
            },
        };
        if h.ihl > 20 {
            dst = self.ip_rcv_options(skb, h, dst)?;
            // A source route rewrote the destination.
            *h = IpHdr::of(skb).ok_or(DropReason::IpInhdr)?;
        }
        if dst.rt_type == crate::route::RouteType::Multicast {
            self.mib.ip_ext.in_mcast_pkts += 1;
            self.mib.ip_ext.in_mcast_octets += skb.len() as u64;
        } else if dst.rt_type == crate::route::RouteType::Broadcast {
            self.mib.ip_ext.in_bcast_pkts += 1;
            self.mib.ip_ext.in_bcast_octets += skb.len() as u64;
        } else if matches!(skb.pkt_type, PacketType::Broadcast | PacketType::Multicast)
            && self.sysctl.drop_unicast_in_l2_multicast == 1
        {
            return Err(DropReason::UnicastInL2Multicast);
        }
        Ok(dst)
    }

    /// The early demux step of Linux ip_rcv_finish_core(): with `ip_early_demux`, an
    /// unfragmented packet of a protocol with early demux (UDP, with `udp_early_demux`)
    /// may find its socket, and that socket's cached input route, before routing.
    #[inline(always)]
    fn ip_early_demux(&mut self, skb: &mut SkBuff, h: &IpHdr) -> Option<DstEntry> {
        if self.sysctl.ip_early_demux == 0 || h.is_fragment() {
            return None;
        }
        match h.protocol {
            // Only a connected socket can take a packet here: with none, skip the lookup.
            IPPROTO_UDP if self.sysctl.udp_early_demux != 0 && self.socks.connected != 0 => {
                self.udp_v4_early_demux(skb, h)
            }
            _ => None,
        }
    }

    /// Linux ip_route_input_noref(): the FIB decides (martians included), through the dst
    /// cache. A multicast route also depends on the device's membership and source
    /// filter, whose changes flush the cache, and on whether the packet is IGMP (which
    /// the filter does not apply to), which is in the key.
    #[inline(always)]
    fn ip_route_input_noref(&mut self, h: &IpHdr, iif: u32) -> Result<DstEntry, DropReason> {
        stage!(self, "ip_route_input_noref");
        let igmp = h.protocol == IPPROTO_IGMP && h.daddr.is_multicast();
        let key = DstKey {
            daddr: h.daddr,
            saddr: h.saddr,
            tos: h.tos,
            dev: iif,
            input: true,
            proto: if igmp { IPPROTO_IGMP } else { 0 },
        };
        let genid = self.fib.genid();
        crate::route::cache::DstCache::lookup(
            self,
            |s| &mut s.dst_cache,
            key,
            genid,
            Self::ip_route_input_slow,
        )
    }

    /// A dst cache miss: the FIB decides (the cache keeps the result). For a group,
    /// Linux ip_check_mc_rcu() first: the membership, and the device's source filter
    /// unless IGMP; 224.0.0.1 is joined on every device.
    #[cold]
    #[inline(never)]
    fn ip_route_input_slow(&mut self, key: DstKey) -> Result<DstEntry, DropReason> {
        let our = key.daddr.is_multicast()
            && self
                .mc
                .ip_check_mc(key.dev, key.daddr, key.saddr, key.proto);
        self.fib
            .ip_route_input(key.daddr, key.saddr, key.tos, key.dev, our)
            .map_err(route_input_reason)
    }

    /// Linux ip_rcv_options(): ip_options_compile() for a received packet (a bad option
    /// answers Parameter Problem with its pointer; record route gets our address), then
    /// source routes, which need accept_source_route. Returns the route to follow.
    #[cold]
    #[inline(never)]
    fn ip_rcv_options(
        &mut self,
        skb: &mut SkBuff,
        h: &IpHdr,
        dst: DstEntry,
    ) -> Result<DstEntry, DropReason> {
        stage!(self, "ip_rcv_options");
        let parsed = {
            let hdr = skb.network_header_bytes().ok_or(DropReason::IpInhdr)?;
            Ipv4Options::parse(&hdr[20..h.ihl], OptionsOrigin::Received)
        };
        let layout = match parsed {
            Ok(layout) => layout,
            Err(skiff_wire::Error::BadOption { pointer }) => {
                self.icmp_send(
                    skb,
                    dst.flags,
                    IcmpErr::ParamProblem {
                        code: ParamProblem::PointerIndicatesError,
                        pointer,
                    },
                );
                return Err(DropReason::IpInhdr);
            }
            Err(_) => return Err(DropReason::IpInhdr),
        };
        skb.cb.opt.layout = layout;
        if layout.rr != 0 {
            Self::ip_options_record_route(skb, dst.saddr);
        }
        if layout.ts != 0 {
            let ts = crate::ipv4::icmp::inet_current_timestamp(self.realtime());
            self.ip_options_timestamp(skb, dst.saddr, ts);
        }
        if layout.srr == 0 {
            return Ok(dst);
        }
        if self.sysctl.accept_source_route == 0 {
            return Err(DropReason::IpSourceRoute);
        }
        self.ip_options_rcv_srr(skb, dst)
    }

    /// Linux dst_input(): the route's input action. `h` is the packet's header.
    #[inline(always)]
    fn dst_input(&mut self, skb: SkBuff, h: &IpHdr, dst: &DstEntry) {
        if dst.flags.contains(RtFlags::LOCAL) && dst.input != DstInput::MrInput {
            return self.ip_local_deliver_hdr(skb, *h, dst);
        }
        match dst.input {
            DstInput::LocalDeliver => self.ip_local_deliver_hdr(skb, *h, dst),
            DstInput::Forward => self.ip_forward(skb, h, dst),
            DstInput::MrInput => self.ip_mr_input(skb, h, dst),
            DstInput::Error(e) => self.ip_error(skb, dst, e),
            DstInput::Discard => self.kfree_skb(skb, DropReason::IpInvalidDest),
        }
    }

    /// Linux route.c ip_error(): counts, and answers with Destination Unreachable when the
    /// receiving device forwards, within the per-source token bucket.
    #[cold]
    #[inline(never)]
    fn ip_error(&mut self, skb: SkBuff, dst: &DstEntry, err: RouteError) {
        stage!(self, "ip_error");
        // IN_DEV_FORWARD() of the receiving device.
        let forwarding = self.dev_forwarding(skb.iif);
        let (reason, code) = match err {
            RouteError::NetUnreach => (DropReason::IpNoroute, Some(DstUnreachable::NetUnreachable)),
            RouteError::HostUnreach if !forwarding => (DropReason::IpInaddrerrors, None),
            RouteError::HostUnreach => (
                DropReason::IpRouteError,
                Some(DstUnreachable::HostUnreachable),
            ),
            RouteError::Acces => (
                DropReason::IpRouteError,
                Some(DstUnreachable::CommProhibited),
            ),
            _ => (DropReason::IpRouteError, None),
        };
        if let (true, Some(code), Some(h)) = (forwarding, code, IpHdr::of(&skb))
            && self
                .peers
                .ip_error_allow(self.now, h.saddr, IP_RT_ERROR_COST, IP_RT_ERROR_BURST)
        {
            self.icmp_send(&skb, dst.flags, IcmpErr::DstUnreachable(code));
        }
        self.kfree_skb(skb, reason);
    }

    /// Linux ip_local_deliver(): the defrag call site, then LOCAL_IN.
    pub(crate) fn ip_local_deliver(&mut self, skb: SkBuff, dst: &DstEntry) {
        match IpHdr::of(&skb) {
            Some(h) => self.ip_local_deliver_hdr(skb, h, dst),
            None => self.kfree_skb(skb, DropReason::IpInhdr),
        }
    }

    /// [`Stack::ip_local_deliver`] with the header `h` already read.
    #[inline(always)]
    fn ip_local_deliver_hdr(&mut self, mut skb: SkBuff, mut h: IpHdr, dst: &DstEntry) {
        stage!(self, "ip_local_deliver");
        if h.is_fragment() {
            // R16: reassembled before LOCAL_IN.
            let Some(whole) = self.ip_defrag(skb, DefragUser::LocalDeliver) else {
                return;
            };
            skb = whole;
            h = match IpHdr::of(&skb) {
                Some(h) => h,
                None => return self.kfree_skb(skb, DropReason::IpInhdr),
            };
        }
        if !self.nf.has_ops(NfInetHook::LocalIn) {
            return self.ip_local_deliver_finish(skb, &h, dst);
        }
        let iif = skb.iif;
        if let Some(skb) = self.nf_hook(NfInetHook::LocalIn, skb, iif, 0) {
            // A hook may have rewritten the header.
            match IpHdr::of(&skb) {
                Some(h) => self.ip_local_deliver_finish(skb, &h, dst),
                None => self.kfree_skb(skb, DropReason::IpInhdr),
            }
        }
    }

    /// Linux ip_local_deliver_finish() + ip_protocol_deliver_rcu(): raw sockets get a copy,
    /// then the `inet_protos` handler; an unknown protocol gets ICMP 3/2.
    #[inline]
    pub(crate) fn ip_local_deliver_finish(&mut self, mut skb: SkBuff, h: &IpHdr, dst: &DstEntry) {
        stage!(self, "ip_local_deliver_finish");
        if skb.pull(h.ihl).is_err() {
            return self.kfree_skb(skb, DropReason::IpInhdr);
        }
        // IPIP has a handler from the first IPIP tunnel (a DVMRP tunnel's too) on (Linux:
        // the ipip module, which stays loaded); before, it is an unknown protocol.
        let proto = InetProtocol::of(h.protocol)
            .filter(|&p| p != InetProtocol::Ipip || self.ipip_registered());
        let (raw, skb) = self.raw_local_deliver(skb, h, dst, proto.is_some());
        let Some(mut skb) = skb else {
            // The raw sockets took it, and no handler follows.
            self.mib.ip.in_delivers += 1;
            return;
        };
        match proto {
            Some(proto) => {
                // The protocol handlers read linear data (Linux pulls what they need); a
                // datagram is at most 64 KiB, so linearizing cannot hit the buffer limit.
                if skb.is_nonlinear() && skb.linearize(&mut self.pool).is_err() {
                    return self.kfree_skb(skb, DropReason::IpInhdr);
                }
                self.mib.ip.in_delivers += 1;
                match proto {
                    InetProtocol::Icmp => self.icmp_rcv(skb, h, dst),
                    InetProtocol::Udp => self.udp_rcv(skb, h, dst),
                    InetProtocol::Igmp => self.igmp_rcv(skb),
                    InetProtocol::Ipip => self.ipip_rcv(skb, h, dst),
                }
            }
            None if raw => {
                self.mib.ip.in_delivers += 1;
                self.consume_skb(skb);
            }
            None => {
                self.icmp_send(
                    &skb,
                    dst.flags,
                    IcmpErr::DstUnreachable(DstUnreachable::ProtoUnreachable),
                );
                self.kfree_skb(skb, DropReason::IpNoproto);
            }
        }
    }
}

/// The drop reason of a refused input route.
fn route_input_reason(e: RouteInputError) -> DropReason {
    match e {
        RouteInputError::MartianSource => DropReason::IpInvalidSource,
        RouteInputError::RpFilter => DropReason::IpRpFilter,
        RouteInputError::MartianDestination | RouteInputError::Inval => DropReason::IpInvalidDest,
    }
}

/// The `inet_protos` table: protocols with a handler and an err_handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InetProtocol {
    Icmp,
    Igmp,
    Udp,
    /// tunnel4_rcv() → ipip_rcv().
    Ipip,
}

impl InetProtocol {
    pub(crate) fn of(protocol: u8) -> Option<InetProtocol> {
        match protocol {
            IPPROTO_ICMP => Some(InetProtocol::Icmp),
            IPPROTO_IGMP => Some(InetProtocol::Igmp),
            IPPROTO_IPIP => Some(InetProtocol::Ipip),
            // udp_rcv() and udplite_rcv() share __udp4_lib_rcv().
            IPPROTO_UDP | IPPROTO_UDPLITE => Some(InetProtocol::Udp),
            _ => None,
        }
    }
}
