//! UDP and UDP-Lite receive: Linux net/ipv4/udp.c __udp4_lib_rcv(), __udp4_lib_lookup()
//! with its scoring and SO_REUSEPORT groups, __udp4_lib_mcast_deliver(),
//! udp_queue_rcv_skb(), and __udp4_lib_err(). The send half is in `send`.

mod send;

pub(crate) use send::Ipc;

use crate::drop::DropReason;
use crate::ipv4::hdr::IpHdr;
use crate::ipv4::icmp::{IcmpErr, icmp_err_convert};
use crate::ipv4::output::PmtuDisc;
use crate::route::{DstEntry, RtFlags};
use crate::skb::{GsoInfo, GsoType, SkBuff};
use crate::socket::{ExtendedErr, Kind, RxEntry, SockError};
use crate::stack::{Stack, stage};
use skiff_wire::icmpv4::DstUnreachable;
use skiff_wire::ipv4::ip_hdrlen;
use skiff_wire::udp::{UdpLiteRepr, UdpPacket, UdpRepr};
use skiff_wire::{Error, Ipv4Addr, RxChecksum};
use std::net::SocketAddrV4;

impl Stack {
    /// Linux udp_rcv() / udplite_rcv() → __udp4_lib_rcv(). `data` is at the UDP header.
    pub(crate) fn udp_rcv(&mut self, mut skb: SkBuff, h: &IpHdr, dst: &DstEntry) {
        stage!(self, "udp_rcv");
        let lite = h.protocol == skiff_wire::udp::IPPROTO_UDPLITE;
        let csum = if skb.csum_unnecessary() {
            RxChecksum::Skip
        } else {
            RxChecksum::Verify
        };
        // (source port, destination port, UDP length, UDP-Lite coverage)
        let parsed = if lite {
            UdpPacket::new_checked_lite(skb.data()).and_then(|p| {
                UdpLiteRepr::parse(&p, h.saddr, h.daddr, csum).map(|r| {
                    let cov = usize::from(p.len());
                    (r.src_port, r.dst_port, p.datagram_len(), cov)
                })
            })
        } else {
            UdpPacket::new_checked(skb.data()).and_then(|p| {
                UdpRepr::parse(&p, h.saddr, h.daddr, csum)
                    .map(|r| (r.src_port, r.dst_port, p.datagram_len(), 0))
            })
        };
        let (sport, dport, ulen, cov) = match parsed {
            Ok(v) => v,
            Err(Error::BadChecksum) => {
                let mib = self.udp_mib(lite);
                mib.in_csum_errors += 1;
                mib.in_errors += 1;
                return self.kfree_skb(skb, DropReason::UdpCsum);
            }
            Err(_) => {
                self.udp_mib(lite).in_errors += 1;
                return self.kfree_skb(skb, DropReason::UdpTooSmall);
            }
        };
        // Bytes past the UDP length are not the datagram's (pskb_trim_rcsum()).
        if ulen < skb.len() {
            skb.trim(ulen);
        }
        let mcast =
            dst.flags.contains(RtFlags::BROADCAST) || dst.flags.contains(RtFlags::MULTICAST);
        // skb_steal_sock(): the socket early demux found, if it still takes this flow.
        if let Some((slot, cached)) = skb.demux_sk.take()
            && !lite
            && !mcast
            && self.udp_demux_match(slot, h.saddr, sport, h.daddr, dport, skb.iif)
        {
            // udp_sk_rx_dst_set(), for a route that came from the FIB as it is (options
            // may have changed what the packet follows).
            if !cached && h.ihl == 20 {
                self.socks.slot(slot).rx_dst = Some((skb.iif, *dst));
            }
            return self.udp_queue_rcv_skb(slot, skb, h, dst, sport, cov);
        }
        if mcast {
            return self.udp4_lib_mcast_deliver(skb, h, dst, sport, dport, lite);
        }
        stage!(self, "__udp4_lib_lookup");
        match self.udp4_lib_lookup(h.saddr, sport, h.daddr, dport, skb.iif, lite) {
            Some(slot) => self.udp_queue_rcv_skb(slot, skb, h, dst, sport, cov),
            None => {
                self.udp_mib(lite).no_ports += 1;
                self.icmp_send(
                    &skb,
                    dst.flags,
                    IcmpErr::DstUnreachable(DstUnreachable::PortUnreachable),
                );
                self.kfree_skb(skb, DropReason::NoSocket)
            }
        }
    }

    /// Linux udp_v4_early_demux() for a unicast packet (PACKET_HOST): the connected
    /// socket of the exact flow becomes the packet's (`demux_sk`), and its cached input
    /// route is returned while the FIB generation and the flow, input device included,
    /// are those it was resolved for. Deviation: multicast is not demuxed (Linux
    /// __udp4_lib_mcast_demux_lookup() takes the one socket of an unconnected port); it
    /// is routed and delivered as without early demux.
    pub(crate) fn udp_v4_early_demux(&mut self, skb: &mut SkBuff, h: &IpHdr) -> Option<DstEntry> {
        stage!(self, "udp_v4_early_demux");
        if skb.pkt_type != crate::skb::PacketType::Host {
            return None;
        }
        let ports = skb.data().get(h.ihl..h.ihl.checked_add(4)?)?;
        let sport = u16::from_be_bytes([ports[0], ports[1]]);
        let dport = u16::from_be_bytes([ports[2], ports[3]]);
        let slot = self.udp4_lib_demux_lookup(h.saddr, sport, h.daddr, dport, skb.iif)?;
        let dst = self
            .socks
            .slots
            .get(slot as usize)
            .and_then(Option::as_ref)
            .and_then(|s| s.rx_dst)
            .filter(|(iif, dst)| *iif == skb.iif && self.fib.dst_check(dst))
            .map(|(_, dst)| dst);
        skb.demux_sk = Some((slot, dst.is_some()));
        dst
    }

    /// Linux __udp4_lib_demux_lookup(): the socket the full lookup picks for this flow,
    /// if it is connected to exactly it (so the later lookup may be skipped; a connected
    /// socket is never a SO_REUSEPORT choice).
    fn udp4_lib_demux_lookup(
        &self,
        saddr: Ipv4Addr,
        sport: u16,
        daddr: Ipv4Addr,
        dport: u16,
        dif: u32,
    ) -> Option<u32> {
        // The port's only socket is the best one; else score them as the full lookup does.
        let mut bound = self.socks.ports.bound(false, dport);
        let first = bound.next()?;
        let slot = if bound.next().is_none() {
            first
        } else {
            self.udp4_lib_lookup1(saddr, sport, daddr, dport, dif, false)?
        };
        self.udp_demux_match(slot, saddr, sport, daddr, dport, dif)
            .then_some(slot)
    }

    /// Linux inet_match(): `slot` is a UDP socket connected to exactly this flow.
    fn udp_demux_match(
        &self,
        slot: u32,
        saddr: Ipv4Addr,
        sport: u16,
        daddr: Ipv4Addr,
        dport: u16,
        dif: u32,
    ) -> bool {
        self.socks
            .slots
            .get(slot as usize)
            .and_then(Option::as_ref)
            .is_some_and(|s| {
                s.kind == Kind::Udp
                    && s.connected
                    && s.num == dport
                    && s.rcv_saddr == daddr
                    && s.daddr == saddr
                    && s.dport == sport
                    && (s.bound_dev_if == 0 || s.bound_dev_if == dif)
            })
    }

    fn udp_mib(&mut self, lite: bool) -> &mut crate::stats::UdpMib {
        if lite {
            &mut self.mib.udp_lite
        } else {
            &mut self.mib.udp
        }
    }

    /// Linux __udp4_lib_lookup(): the best-scoring socket bound to `dport` (connected beats
    /// bound address beats wildcard), then, for an unconnected SO_REUSEPORT socket, the
    /// member of its group the flow hash picks.
    #[inline]
    pub(crate) fn udp4_lib_lookup(
        &self,
        saddr: Ipv4Addr,
        sport: u16,
        daddr: Ipv4Addr,
        dport: u16,
        dif: u32,
        lite: bool,
    ) -> Option<u32> {
        let best = self.udp4_lib_lookup1(saddr, sport, daddr, dport, dif, lite)?;
        let b = self.socks.slots[best as usize].as_ref()?;
        if !b.reuseport || b.connected {
            return Some(best);
        }
        self.reuseport_select_sock(best, saddr, sport, daddr, dport, lite)
    }

    /// Linux reuseport_select_sock(): the member of `best`'s SO_REUSEPORT group (in the
    /// order its members bound) the flow hash picks.
    #[inline(never)]
    fn reuseport_select_sock(
        &self,
        best: u32,
        saddr: Ipv4Addr,
        sport: u16,
        daddr: Ipv4Addr,
        dport: u16,
        lite: bool,
    ) -> Option<u32> {
        let b = self.socks.slots[best as usize].as_ref()?;
        // Counted, then walked to the chosen one: no allocation per datagram.
        let group = || {
            self.socks.ports.bound(lite, dport).rev().filter(|&i| {
                self.socks.slots[i as usize].as_ref().is_some_and(|s| {
                    s.reuseport
                        && !s.connected
                        && s.rcv_saddr == b.rcv_saddr
                        && s.bound_dev_if == b.bound_dev_if
                })
            })
        };
        let hash = self.socks.ehashfn(saddr, sport, daddr, dport);
        let n = group().count() as u64;
        group().nth(((u64::from(hash) * n) >> 32) as usize)
    }

    /// Linux udp4_lib_lookup1(): the best-scoring socket bound to `dport`, before any
    /// SO_REUSEPORT choice.
    #[inline]
    fn udp4_lib_lookup1(
        &self,
        saddr: Ipv4Addr,
        sport: u16,
        daddr: Ipv4Addr,
        dport: u16,
        dif: u32,
        lite: bool,
    ) -> Option<u32> {
        let mut best = None;
        let mut badness = -1;
        for i in self.socks.ports.bound(lite, dport) {
            let Some(s) = self.socks.slots[i as usize].as_ref() else {
                continue;
            };
            let score = compute_score(s, saddr, sport, daddr, dif);
            if score > badness {
                badness = score;
                best = Some(i);
            }
        }
        best
    }

    /// Linux __udp4_lib_mcast_deliver(): a copy for every socket bound to the port whose
    /// address, peer and device match; none is IgnoredMulti.
    fn udp4_lib_mcast_deliver(
        &mut self,
        skb: SkBuff,
        h: &IpHdr,
        dst: &DstEntry,
        sport: u16,
        dport: u16,
        lite: bool,
    ) {
        let targets: Vec<u32> = self
            .socks
            .ports
            .bound(lite, dport)
            .filter(|&i| {
                self.socks.slots[i as usize].as_ref().is_some_and(|s| {
                    (s.rcv_saddr.is_unspecified() || s.rcv_saddr == h.daddr)
                        && (!s.connected || (s.daddr == h.saddr && s.dport == sport))
                        && (s.bound_dev_if == 0 || s.bound_dev_if == skb.iif)
                        && s.ip_mc_sf_allow(h.daddr, h.saddr, skb.iif)
                })
            })
            .collect();
        let Some((&last, rest)) = targets.split_last() else {
            self.udp_mib(lite).ignored_multi += 1;
            return self.kfree_skb(skb, DropReason::NoSocket);
        };
        for &slot in rest {
            let copy = skb.clone();
            self.udp_queue_rcv_skb(slot, copy, h, dst, sport, 0);
        }
        self.udp_queue_rcv_skb(last, skb, h, dst, sport, 0);
    }

    /// Linux udp_queue_rcv_skb(): a GSO datagram the socket does not take whole (UDP_L4
    /// without UDP_GRO, fraglist GRO) is cut back into its datagrams first
    /// (udp_rcv_segment()); a UFO one is a single datagram.
    #[inline]
    fn udp_queue_rcv_skb(
        &mut self,
        slot: u32,
        skb: SkBuff,
        h: &IpHdr,
        dst: &DstEntry,
        sport: u16,
        cov: usize,
    ) {
        match skb.gso {
            None => self.udp_queue_rcv_one_skb(slot, skb, h, dst, sport, cov),
            Some(g) => self.udp_queue_rcv_gso_skb(slot, skb, g, h, dst, sport, cov),
        }
    }

    /// udp_queue_rcv_skb() for a GSO datagram: whole, or segmented (udp_rcv_segment()).
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn udp_queue_rcv_gso_skb(
        &mut self,
        slot: u32,
        mut skb: SkBuff,
        g: GsoInfo,
        h: &IpHdr,
        dst: &DstEntry,
        sport: u16,
        cov: usize,
    ) {
        let gro = self.socks.slot(slot).gro;
        let unexpected = (g.gso_type.contains(GsoType::UDP_L4) && !gro)
            || g.gso_type.contains(GsoType::FRAGLIST);
        if !unexpected {
            if !g.gso_type.contains(GsoType::UDP_L4) {
                skb.gso = None;
            }
            return self.udp_queue_rcv_one_skb(slot, skb, h, dst, sport, cov);
        }
        stage!(self, "udp_rcv_segment");
        if skb.push(h.ihl).is_err() {
            self.udp_mib(false).in_errors += 1;
            return self.kfree_skb(skb, DropReason::SkbGsoSeg);
        }
        let mut ctx = crate::offload::GsoCtx {
            offloads: &self.offloads,
            pool: &mut self.pool,
            features: crate::netdev::NetdevFeatures::HW_CSUM,
        };
        match crate::offload::skb_gso_segment(&mut ctx, skb, crate::offload::ETH_P_IP) {
            Ok(segs) => {
                for mut seg in segs {
                    if seg.pull(h.ihl).is_err() {
                        self.kfree_skb(seg, DropReason::SkbGsoSeg);
                        continue;
                    }
                    self.udp_queue_rcv_one_skb(slot, seg, h, dst, sport, cov);
                }
            }
            Err(_) => {
                self.socks.slot(slot).drops += 1;
                self.udp_mib(false).in_errors += 1;
                self.count_drop(DropReason::SkbGsoSeg);
            }
        }
    }

    /// Linux udp_queue_rcv_one_skb() → __udp_enqueue_schedule_skb(): queue the payload,
    /// or count RcvbufErrors and InErrors when the receive buffer is full.
    fn udp_queue_rcv_one_skb(
        &mut self,
        slot: u32,
        mut skb: SkBuff,
        h: &IpHdr,
        dst: &DstEntry,
        sport: u16,
        cov: usize,
    ) {
        stage!(self, "udp_queue_rcv_skb");
        let s = self.socks.slot(slot);
        let lite = s.kind == Kind::UdpLite;
        // UDP-Lite: a coverage below what the socket requires is an error (RFC 3828 §3.3).
        if lite && s.recv_cscov != 0 && cov != 0 && cov < usize::from(s.recv_cscov) {
            self.udp_mib(lite).in_errors += 1;
            return self.kfree_skb(skb, DropReason::UdpCsum);
        }
        if skb.pull(8).is_err() {
            self.udp_mib(lite).in_errors += 1;
            return self.kfree_skb(skb, DropReason::UdpTooSmall);
        }
        let entry = RxEntry::new(skb, sport, h, dst);
        if let Err(skb) = self.sock_queue_rcv(slot, entry) {
            let mib = self.udp_mib(lite);
            mib.rcvbuf_errors += 1;
            mib.in_errors += 1;
            self.kfree_skb(skb, DropReason::SocketRcvbuff);
        }
    }

    /// Linux __udp4_lib_err(): an ICMP error quoting one of our datagrams. `inner` is the
    /// quoted IP header and at least 8 bytes; `offender` sent the error. Returns whether a
    /// socket matched (the caller then learns a fragmentation-needed MTU).
    pub(crate) fn udp_err(&mut self, inner: &[u8], offender: Ipv4Addr, icmp: IcmpErr) -> bool {
        stage!(self, "udp_err");
        let ihl = ip_hdrlen(inner);
        let (Some(us), Some(them), Some(uh)) = (
            inner.get(12..16),
            inner.get(16..20),
            inner.get(ihl..ihl + 8),
        ) else {
            return false;
        };
        let lite = inner[9] == skiff_wire::udp::IPPROTO_UDPLITE;
        let saddr = Ipv4Addr::new(us[0], us[1], us[2], us[3]);
        let daddr = Ipv4Addr::new(them[0], them[1], them[2], them[3]);
        let sport = u16::from_be_bytes([uh[0], uh[1]]);
        let dport = u16::from_be_bytes([uh[2], uh[3]]);
        let Some(slot) = self.udp4_lib_lookup(daddr, dport, saddr, sport, 0, lite) else {
            self.mib.icmp.in_errors += 1;
            return false;
        };
        let s = self.socks.slot(slot);
        let (err, hard) = match icmp {
            IcmpErr::TimeExceeded(_) => (SockError::HostUnreach, false),
            IcmpErr::FragNeeded { .. } => {
                if s.pmtudisc == PmtuDisc::Dont {
                    return true;
                }
                (SockError::MsgSize, true)
            }
            IcmpErr::DstUnreachable(_) | IcmpErr::ParamProblem { .. } => icmp_err_convert(icmp),
            _ => return false,
        };
        if !s.recverr {
            if !hard || !s.connected {
                return true;
            }
            s.err = err.errno();
            return true;
        }
        let ee = ExtendedErr::icmp(err, icmp, offender);
        let payload = &inner[(ihl + 8).min(inner.len())..];
        self.sock_queue_err(slot, ee, SocketAddrV4::new(daddr, dport), payload);
        self.socks.slot(slot).err = err.errno();
        true
    }
}

/// Linux compute_score(): -1 when the socket cannot take the datagram, else 2 plus 4 for
/// each of bound address, connected peer address, peer port and bound device.
fn compute_score(
    s: &crate::socket::Socket,
    saddr: Ipv4Addr,
    sport: u16,
    daddr: Ipv4Addr,
    dif: u32,
) -> i32 {
    let mut score = 2;
    if !s.rcv_saddr.is_unspecified() {
        if s.rcv_saddr != daddr {
            return -1;
        }
        score += 4;
    }
    if s.connected && !s.daddr.is_unspecified() {
        if s.daddr != saddr {
            return -1;
        }
        score += 4;
    }
    if s.connected && s.dport != 0 {
        if s.dport != sport {
            return -1;
        }
        score += 4;
    }
    if s.bound_dev_if != 0 {
        if s.bound_dev_if != dif {
            return -1;
        }
        score += 4;
    }
    score
}
