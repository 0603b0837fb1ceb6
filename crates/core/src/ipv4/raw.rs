//! Raw IPv4 sockets: Linux net/ipv4/raw.c raw_local_deliver() (every matching socket gets
//! a copy before the protocol handler, ICMP_FILTER applied), raw_err(), and raw_sendmsg()
//! with and without IP_HDRINCL. Creation, options and recvmsg() are the socket layer's.

use crate::drop::DropReason;
use crate::ipv4::hdr::IpHdr;
use crate::ipv4::icmp::{IcmpErr, icmp_err_convert};
use crate::ipv4::output::{IpSend, OutputError, PmtuDisc};
use crate::route::{DstEntry, Flowi4, RouteScope, RtFlags};
use crate::socket::{
    AF_INET, ExtendedErr, MSG_DONTROUTE, MSG_MORE, MSG_OOB, MSG_PROBE, RxEntry, SOCK_RAW, SendMsg,
    SockAddr, SockError, SockFd,
};
use crate::stack::{LL_RESERVED, Stack, stage};
use skiff_wire::Ipv4Addr;
use skiff_wire::ipv4::ip_hdrlen;
use std::net::SocketAddrV4;

/// A datagram a raw socket received: the whole IP packet, header included, as Linux
/// raw sockets return it, with the header fields tests look at most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDatagram {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    pub ifindex: u32,
    pub packet: Vec<u8>,
}

impl Stack {
    /// socket(AF_INET, SOCK_RAW, protocol).
    pub fn raw_socket(&mut self, protocol: u8) -> Result<SockFd, SockError> {
        self.socket(AF_INET, SOCK_RAW, i32::from(protocol))
    }

    /// sendto() on a raw socket: `payload` is the protocol header and data (the whole
    /// IP packet with IP_HDRINCL).
    pub fn raw_sendto(
        &mut self,
        now: crate::time::Instant,
        fd: SockFd,
        daddr: Ipv4Addr,
        payload: &[u8],
    ) -> Result<usize, SockError> {
        let to = SockAddr::Inet(SocketAddrV4::new(daddr, 0));
        self.sendto(now, fd, payload, 0, Some(to))
    }

    /// recvfrom() on a raw socket, as a [`RawDatagram`]; EAGAIN when the queue is empty.
    pub fn raw_recv(&mut self, fd: SockFd) -> Result<RawDatagram, SockError> {
        // A buffer the size of the datagram recvmsg() will return (the head of the queue),
        // not a 64 KiB one zeroed per call.
        let s = self.socks.get(fd)?;
        let next = s
            .reader
            .front()
            .or_else(|| s.rx.front())
            .map_or(0, |e| e.len);
        let mut buf = vec![0; next];
        let mut pktinfo = None;
        let m = self.sock_recvmsg(fd, &mut buf, 0, &mut pktinfo)?;
        buf.truncate(m.len);
        let p = skiff_wire::ipv4::Ipv4Packet::new_unchecked(&buf[..]);
        let (dst, ttl) = if buf.len() >= 20 {
            (p.dst(), p.ttl())
        } else {
            (Ipv4Addr::UNSPECIFIED, 0)
        };
        Ok(RawDatagram {
            src: *m
                .addr
                .unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
                .ip(),
            dst,
            ttl,
            ifindex: pktinfo.map_or(0, |p| p.ifindex),
            packet: buf,
        })
    }

    /// Linux raw_sendmsg().
    pub(crate) fn raw_sendmsg(
        &mut self,
        fd: SockFd,
        msg: &SendMsg<'_>,
    ) -> Result<usize, SockError> {
        stage!(self, "raw_sendmsg");
        let len = msg.data.len();
        if len > 0xffff {
            return Err(SockError::MsgSize);
        }
        if msg.flags & MSG_OOB != 0 {
            return Err(SockError::OpNotSupp);
        }
        if msg.flags & MSG_MORE != 0 {
            // Corking raw datagrams is not built.
            return Err(SockError::OpNotSupp);
        }
        let s = self.socks.get(fd)?;
        let (daddr, mut connected) = match msg.addr {
            Some(SockAddr::Inet(a)) => (*a.ip(), false),
            Some(SockAddr::Unspec) => (Ipv4Addr::UNSPECIFIED, false),
            Some(SockAddr::Other(_)) => return Err(SockError::AfNoSupport),
            None => {
                if !s.connected {
                    return Err(SockError::DestAddrReq);
                }
                (s.daddr, true)
            }
        };
        let mut ipc = crate::udp::Ipc {
            oif: s.bound_dev_if,
            ttl: None,
            tos: s.tos,
            mark: s.mark,
            priority: s.priority,
            gso_size: 0,
            addr: s.saddr,
            opt: None,
        };
        let (hdrincl, protocol, broadcast, mc_index, mc_addr) =
            (s.hdrincl, s.protocol, s.broadcast, s.mc_index, s.mc_addr);
        for c in msg.cmsgs {
            self.ip_cmsg_send(&mut ipc, c, false)?;
        }
        if !msg.cmsgs.is_empty() {
            connected = false;
        }
        let opt = match ipc.opt.take() {
            Some(o) => {
                if hdrincl {
                    return Err(SockError::Inval);
                }
                o
            }
            None => self.socks.get(fd)?.opt.clone(),
        };
        let mut saddr = ipc.addr;
        let mut fl = Flowi4::new(daddr);
        if msg.flags & MSG_DONTROUTE != 0 {
            fl.scope = RouteScope::LINK;
            connected = false;
        }
        if daddr.is_multicast() {
            if ipc.oif == 0 {
                ipc.oif = mc_index;
            }
            if saddr.is_unspecified() {
                saddr = mc_addr;
            }
        }
        let cached = if connected {
            self.socks.get(fd)?.dst_cache
        } else {
            None
        };
        fl.saddr = saddr;
        fl.oif = ipc.oif;
        fl.tos = ipc.tos & 0x1e;
        fl.proto = protocol;
        fl.mark = ipc.mark;
        // raw_sendmsg() counts no OutNoRoutes (checked against Linux).
        let mut dst = self.sock_route_output(fd, &fl, cached, connected, broadcast)?;
        if hdrincl {
            return self
                .raw_send_hdrinc(fd, &dst, daddr, msg.data, msg.flags)
                .map(|()| len);
        }
        let s = self.socks.get(fd)?;
        let pmtudisc = s.pmtudisc;
        let ttl = ipc
            .ttl
            .unwrap_or(if dst.flags.contains(RtFlags::MULTICAST) {
                s.mc_ttl
            } else {
                s.ttl.unwrap_or(self.sysctl.ip_default_ttl)
            });
        // ip_skb_dst_mtu(): PROBE and above size by the device, not the path.
        if !pmtudisc.use_pmtu()
            && let Some(dev) = self.fib.device(dst.dev)
        {
            dst.mtu = dev.mtu;
        }
        let hlen = 20 + opt.len();
        let total = hlen + len;
        // __ip_append_data(): at most 64 KiB, and no more than the MTU unless the socket
        // lets the datagram be fragmented (maxnonfragsize).
        let max = if pmtudisc.ignore_df() {
            0xffff
        } else {
            dst.mtu as usize
        };
        if total > max.min(0xffff) {
            self.ip_local_error(fd, daddr, 0, dst.mtu - opt.len() as u32);
            return Err(SockError::MsgSize);
        }
        if msg.flags & MSG_PROBE != 0 {
            return Ok(len);
        }
        self.socks.get(fd)?.sock_error()?;
        let mut p = IpSend {
            saddr: dst.saddr,
            daddr,
            protocol,
            ttl,
            tos: ipc.tos,
            df: pmtudisc.df(total, &dst),
            ignore_df: pmtudisc.ignore_df(),
            ident: None,
        };
        let mut skb = self.ip_make_skb(dst.mtu as usize, hlen, 0, msg.data)?;
        if self.socks.get_ref(fd).is_ok_and(|s| s.connected) {
            // __ip_make_skb() → ip_select_ident(): the connected socket's counter (R25).
            p.ident = Some(self.sk_select_ident(fd, &p, 1));
        }
        skb.mark = ipc.mark;
        skb.priority = ipc.priority;
        skb.sk = self.sk_owner(fd);
        let opt = self.ip_options_build_local(&opt, p.saddr);
        match self.ip_push_header(skb, &p, opt.bytes(), &dst) {
            Ok(()) => Ok(len),
            // ip_push_pending_frames(): ENOBUFS only with IP_RECVERR.
            Err(OutputError::NoBufs) if !self.socks.get_ref(fd)?.recverr => Ok(len),
            Err(e) => Err(e.into()),
        }
    }

    /// Linux raw_send_hdrinc(): the caller wrote the IP header. Its source (if 0), total
    /// length, ID (if 0) and checksum are filled in; nothing larger than the device MTU.
    fn raw_send_hdrinc(
        &mut self,
        fd: SockFd,
        dst: &DstEntry,
        daddr: Ipv4Addr,
        packet: &[u8],
        flags: u32,
    ) -> Result<(), SockError> {
        let dev_mtu = self.fib.device(dst.dev).map_or(dst.mtu, |d| d.mtu);
        if packet.len() > dev_mtu as usize {
            self.ip_local_error(fd, daddr, 0, dev_mtu);
            return Err(SockError::MsgSize);
        }
        if packet.len() < 20 {
            return Err(SockError::Inval);
        }
        if flags & MSG_PROBE != 0 {
            return Ok(());
        }
        let ihl = ip_hdrlen(packet);
        // Linux sends a header shorter than 20 bytes untouched; skiff refuses it.
        if ihl > packet.len() || ihl < 20 {
            return Err(SockError::Inval);
        }
        let Ok(mut skb) = self.pool.alloc(LL_RESERVED, packet.len()) else {
            return Err(SockError::NoBufs);
        };
        if skb.put_slice(packet).is_err()
            || skb.reset_network_header().is_err()
            || skb.set_transport_header(ihl).is_err()
        {
            self.pool.recycle(skb);
            return Err(SockError::NoBufs);
        }
        let Some(h) = IpHdr::of(&skb) else {
            self.pool.recycle(skb);
            return Err(SockError::Inval);
        };
        let hdr = skb.data_mut();
        if h.saddr.is_unspecified() {
            hdr[12..16].copy_from_slice(&dst.saddr.octets());
        }
        if hdr[4..6] == [0, 0] {
            let p = IpSend {
                saddr: dst.saddr,
                daddr: h.daddr,
                protocol: h.protocol,
                ttl: h.ttl,
                tos: h.tos,
                df: h.frag_off & skiff_wire::ipv4::IP_DF != 0,
                ignore_df: false,
                ident: None,
            };
            let id = self.ip_select_ident(&p, 1);
            skb.data_mut()[4..6].copy_from_slice(&id.to_be_bytes());
        }
        skb.sk = self.sk_owner(fd);
        let s = self.socks.get_ref(fd)?;
        skb.mark = s.mark;
        skb.priority = s.priority;
        self.ip_local_out(skb, dst).map_err(SockError::from)
    }

    /// Linux ip_call_ra_chain(): a forwarded packet with a router alert goes to every
    /// raw socket of its protocol on the chain (reassembled first), and is not forwarded.
    /// Returns `Err(skb)` when no socket wants it.
    pub(crate) fn ip_call_ra_chain(
        &mut self,
        skb: crate::skb::SkBuff,
        dst: &DstEntry,
    ) -> Result<(), crate::skb::SkBuff> {
        let Some(h) = IpHdr::of(&skb) else {
            return Err(skb);
        };
        let takers: Vec<u32> = self
            .socks
            .ra_chain
            .iter()
            .copied()
            .filter(|&i| {
                self.socks.slots[i as usize].as_ref().is_some_and(|s| {
                    s.protocol == h.protocol && (s.bound_dev_if == 0 || s.bound_dev_if == skb.iif)
                })
            })
            .collect();
        let Some((&last, rest)) = takers.split_last() else {
            return Err(skb);
        };
        stage!(self, "ip_call_ra_chain");
        let mut skb = skb;
        let mut h = h;
        if h.is_fragment() {
            let Some(whole) = self.ip_defrag(skb, crate::ipv4::defrag::DefragUser::CallRaChain)
            else {
                return Ok(());
            };
            skb = whole;
            h = match IpHdr::of(&skb) {
                Some(h) => h,
                None => {
                    self.kfree_skb(skb, DropReason::IpInhdr);
                    return Ok(());
                }
            };
        }
        for &slot in rest {
            let copy = self.pool.copy(&skb);
            self.raw_rcv(slot, copy, &h, dst);
        }
        self.raw_rcv(last, skb, &h, dst);
        Ok(())
    }

    /// Linux raw_rcv(): queues the whole packet (`skb` at its IP header) on a raw socket.
    fn raw_rcv(&mut self, slot: u32, skb: crate::skb::SkBuff, h: &IpHdr, dst: &DstEntry) {
        let entry = RxEntry::new(skb, 0, h, dst);
        if let Err(skb) = self.sock_queue_rcv(slot, entry) {
            self.kfree_skb(skb, DropReason::SocketRcvbuff);
        }
    }

    /// raw_rcv() of a packet whose `data` is past the IP header, as local delivery has it.
    fn raw_rcv_pulled(
        &mut self,
        slot: u32,
        mut skb: crate::skb::SkBuff,
        h: &IpHdr,
        dst: &DstEntry,
    ) {
        if skb.push(h.ihl).is_err() {
            return self.kfree_skb(skb, DropReason::IpInhdr);
        }
        self.raw_rcv(slot, skb, h, dst);
    }

    /// Linux raw_local_deliver() → raw_v4_input(): the packet for every raw socket of the
    /// protocol whose bound address, peer and ICMP filter admit it. `skb.data()` is past
    /// the IP header. Returns whether any socket matched, and the packet when `keep` (a
    /// protocol handler follows) or when no socket took it; otherwise the last socket
    /// takes the packet itself and the others a copy (Linux shares the data of one
    /// skb_clone() per socket, then consumes the original).
    pub(crate) fn raw_local_deliver(
        &mut self,
        skb: crate::skb::SkBuff,
        h: &IpHdr,
        dst: &DstEntry,
        keep: bool,
    ) -> (bool, Option<crate::skb::SkBuff>) {
        if !self.socks.raw_has(h.protocol) {
            return (false, Some(skb));
        }
        let icmp_type = skb.data().first().copied().unwrap_or(0);
        let mut matched = false;
        // The socket that takes the packet after the loop; each earlier one gets a copy.
        let mut last = None;
        for i in 0..self.socks.raw.len() {
            let slot = self.socks.raw[i];
            let s = self.socks.slot(slot);
            if s.protocol != h.protocol
                || (!s.rcv_saddr.is_unspecified() && s.rcv_saddr != h.daddr)
                || (s.connected && s.daddr != h.saddr)
                || (s.bound_dev_if != 0 && s.bound_dev_if != skb.iif)
            {
                continue;
            }
            matched = true;
            // raw_v4_input(): ICMP_FILTER drops the types whose bit is set.
            if h.protocol == skiff_wire::ipv4::IPPROTO_ICMP
                && icmp_type < 32
                && s.icmp_filter & (1 << icmp_type) != 0
            {
                continue;
            }
            // raw_v4_input(): the socket's multicast source filter (ip_mc_sf_allow()).
            if !s.ip_mc_sf_allow(h.daddr, h.saddr, skb.iif) {
                continue;
            }
            if let Some(prev) = last.replace(slot) {
                let copy = self.pool.copy(&skb);
                self.raw_rcv_pulled(prev, copy, h, dst);
            }
        }
        if matched {
            stage!(self, "raw_local_deliver");
        }
        let Some(slot) = last else {
            return (matched, Some(skb));
        };
        if keep {
            let copy = self.pool.copy(&skb);
            self.raw_rcv_pulled(slot, copy, h, dst);
            (matched, Some(skb))
        } else {
            self.raw_rcv_pulled(slot, skb, h, dst);
            (matched, None)
        }
    }

    /// Linux raw_icmp_error() → raw_err(): every raw socket of the quoted protocol that
    /// sent to the quoted destination hears of the error: queued with IP_RECVERR, and a
    /// hard error becomes the pending error of a connected socket. `inner` is the quoted
    /// IP header and what follows. Returns whether any socket matched (Linux then learns
    /// the path MTU of a fragmentation-needed).
    pub(crate) fn raw_icmp_error(
        &mut self,
        inner: &[u8],
        offender: Ipv4Addr,
        icmp: IcmpErr,
    ) -> bool {
        let iph = skiff_wire::ipv4::Ipv4Packet::new_unchecked(inner);
        let (protocol, us, them) = (u8::from(iph.protocol()), iph.src(), iph.dst());
        let ihl = ip_hdrlen(inner);
        let mut matched = false;
        for i in 0..self.socks.raw.len() {
            let slot = self.socks.raw[i];
            let s = self.socks.slot(slot);
            if s.protocol != protocol
                || (!s.rcv_saddr.is_unspecified() && s.rcv_saddr != us)
                || (s.connected && s.daddr != them)
            {
                continue;
            }
            matched = true;
            if !s.recverr && !s.connected {
                continue;
            }
            let (err, hard) = match icmp {
                IcmpErr::FragNeeded { .. } => (SockError::MsgSize, s.pmtudisc != PmtuDisc::Dont),
                IcmpErr::DstUnreachable(_) | IcmpErr::ParamProblem { .. } => icmp_err_convert(icmp),
                IcmpErr::SourceQuench { .. } => continue,
                _ => (SockError::HostUnreach, false),
            };
            if s.recverr {
                let payload = if s.hdrincl {
                    inner
                } else {
                    &inner[ihl.min(inner.len())..]
                };
                let ee = ExtendedErr::icmp(err, icmp, offender);
                self.sock_queue_err(slot, ee, SocketAddrV4::new(them, 0), payload);
            }
            let s = self.socks.slot(slot);
            if s.recverr || hard {
                s.err = err.errno();
            }
        }
        matched
    }
}
