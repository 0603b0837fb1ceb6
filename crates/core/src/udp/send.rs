//! UDP send: Linux net/ipv4/udp.c udp_sendmsg(), corking with ip_append_data() and
//! udp_push_pending_frames(), udp_send_skb() with its checksum and UDP_SEGMENT checks,
//! and the control messages of ip_cmsg_send() / __sock_cmsg_send() / udp_cmsg_send().

use crate::ipv4::output::{IpSend, OutputError, PmtuDisc};
use crate::route::{DstEntry, Flowi4, RouteScope, RtFlags};
use crate::skb::SkBuff;
use crate::socket::opt::{UDP_MAX_SEGMENTS, ip_options_get};
use crate::socket::{
    Cork, Kind, MSG_DONTROUTE, MSG_MORE, MSG_OOB, MSG_PROBE, Pending, SKB_OVERHEAD, SOL_IP,
    SOL_SOCKET, SOL_UDP, SendCmsg, SendMsg, SockAddr, SockError, SockFd,
};
use crate::stack::{LL_RESERVED, Stack, stage};
use skiff_wire::Ipv4Addr;
use skiff_wire::checksum::{csum_partial, csum_tcpudp_magic};
use skiff_wire::ipv4::{IPPROTO_UDP, IPPROTO_UDPLITE};

/// Linux `IP_MAX_MTU`.
const IP_MAX_MTU: usize = 0xffff;
const UDP_HLEN: usize = 8;

/// The per-call settings: Linux `struct ipcm_cookie`.
#[derive(Debug, Clone)]
pub(crate) struct Ipc {
    pub oif: u32,
    pub ttl: Option<u8>,
    pub tos: u8,
    pub mark: u32,
    pub priority: u32,
    pub gso_size: u16,
    pub addr: Ipv4Addr,
    pub opt: Option<Vec<u8>>,
}

impl Stack {
    /// Linux ip_cmsg_send() with __sock_cmsg_send() and, for UDP, udp_cmsg_send().
    pub(crate) fn ip_cmsg_send(
        &self,
        ipc: &mut Ipc,
        c: &SendCmsg,
        udp: bool,
    ) -> Result<(), SockError> {
        let cap = self.cap_net_raw;
        match c {
            SendCmsg::PktInfo { ifindex, spec_dst } => {
                ipc.oif = *ifindex;
                if !spec_dst.is_unspecified() {
                    ipc.addr = *spec_dst;
                }
            }
            SendCmsg::Ttl(v) => {
                ipc.ttl = Some(
                    u8::try_from(*v)
                        .ok()
                        .filter(|t| *t >= 1)
                        .ok_or(SockError::Inval)?,
                )
            }
            SendCmsg::Tos(v) => ipc.tos = u8::try_from(*v).map_err(|_| SockError::Inval)?,
            SendCmsg::RetOpts(o) => ipc.opt = Some(ip_options_get(o, cap)?),
            SendCmsg::Mark(v) => {
                if !cap {
                    return Err(SockError::Perm);
                }
                ipc.mark = *v;
            }
            SendCmsg::Priority(v) => {
                if *v > 6 && !cap {
                    return Err(SockError::Perm);
                }
                ipc.priority = *v;
            }
            SendCmsg::UdpSegment(v) => {
                if udp {
                    ipc.gso_size = *v;
                }
            }
            SendCmsg::Raw { level, kind, data } => {
                let int = || -> Result<i32, SockError> {
                    Ok(i32::from_ne_bytes(
                        data.as_slice().try_into().map_err(|_| SockError::Inval)?,
                    ))
                };
                let typed = match (*level, *kind) {
                    (SOL_UDP, _) if !udp => return Ok(()),
                    (SOL_UDP, 103) => {
                        let b: [u8; 2] =
                            data.as_slice().try_into().map_err(|_| SockError::Inval)?;
                        SendCmsg::UdpSegment(u16::from_ne_bytes(b))
                    }
                    (SOL_UDP, _) => return Err(SockError::Inval),
                    (SOL_IP, 1) => match data.as_slice() {
                        [b] => SendCmsg::Tos(i32::from(*b)),
                        _ => SendCmsg::Tos(int()?),
                    },
                    (SOL_IP, 2) => SendCmsg::Ttl(int()?),
                    (SOL_IP, 7) => SendCmsg::RetOpts(data.clone()),
                    (SOL_IP, 8) => {
                        let b: [u8; 12] =
                            data.as_slice().try_into().map_err(|_| SockError::Inval)?;
                        SendCmsg::PktInfo {
                            ifindex: u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
                            spec_dst: Ipv4Addr::new(b[4], b[5], b[6], b[7]),
                        }
                    }
                    (SOL_IP, _) => return Err(SockError::Inval),
                    (SOL_SOCKET, 36) => SendCmsg::Mark(int()? as u32),
                    (SOL_SOCKET, 12) => SendCmsg::Priority(int()? as u32),
                    (SOL_SOCKET, _) => return Err(SockError::Inval),
                    // Other levels are not the IP layer's; Linux skips them.
                    _ => return Ok(()),
                };
                return self.ip_cmsg_send(ipc, &typed, udp);
            }
        }
        Ok(())
    }

    /// Linux udp_sendmsg().
    pub(crate) fn udp_sendmsg(
        &mut self,
        fd: SockFd,
        msg: &SendMsg<'_>,
    ) -> Result<usize, SockError> {
        stage!(self, "udp_sendmsg");
        // inet_sendmsg() → inet_send_prepare(): bind an ephemeral port first.
        let mut s = self.socks.get(fd)?;
        if s.num == 0 {
            self.inet_autobind(fd)?;
            s = self.socks.get(fd)?;
        }
        let len = msg.data.len();
        if len > IP_MAX_MTU {
            return Err(SockError::MsgSize);
        }
        if msg.flags & MSG_OOB != 0 {
            return Err(SockError::OpNotSupp);
        }
        let corkreq = s.cork || msg.flags & MSG_MORE != 0;
        if s.pending.is_some() {
            // A corked datagram takes this data whatever its destination.
            return self.udp_append(fd, msg.data, msg.flags, corkreq);
        }
        let (daddr, dport, mut connected) = match msg.addr {
            Some(SockAddr::Inet(a)) => {
                if a.port() == 0 {
                    return Err(SockError::Inval);
                }
                (*a.ip(), a.port(), false)
            }
            Some(SockAddr::Unspec) => return Err(SockError::Inval),
            Some(SockAddr::Other(_)) => return Err(SockError::AfNoSupport),
            None => {
                if !s.connected {
                    return Err(SockError::DestAddrReq);
                }
                (s.daddr, s.dport, true)
            }
        };
        let mut ipc = Ipc {
            oif: s.bound_dev_if,
            ttl: None,
            tos: s.tos,
            mark: s.mark,
            priority: s.priority,
            gso_size: s.gso_size,
            addr: s.saddr,
            opt: None,
        };
        let (broadcast, mc_index, mc_addr, mc_ttl, protocol, uc_ttl, pmtudisc) = (
            s.broadcast,
            s.mc_index,
            s.mc_addr,
            s.mc_ttl,
            s.protocol,
            s.ttl,
            s.pmtudisc,
        );
        let mut cached = if connected { s.dst_cache } else { None };
        let sock_opt = if s.opt.is_empty() {
            Vec::new()
        } else {
            s.opt.clone()
        };
        for c in msg.cmsgs {
            self.ip_cmsg_send(&mut ipc, c, true)?;
        }
        if !msg.cmsgs.is_empty() {
            connected = false;
            cached = None;
        }
        let opt = ipc.opt.take().unwrap_or(sock_opt);
        if !opt.is_empty() && has_source_route(&opt) {
            // Sending along a source route (faddr = the first hop) is not built.
            return Err(SockError::OpNotSupp);
        }
        let mut saddr = ipc.addr;
        let mut scope = RouteScope::UNIVERSE;
        if msg.flags & MSG_DONTROUTE != 0 {
            scope = RouteScope::LINK;
            connected = false;
            cached = None;
        }
        if daddr.is_multicast() {
            if ipc.oif == 0 {
                ipc.oif = mc_index;
            }
            if saddr.is_unspecified() {
                saddr = mc_addr;
            }
            connected = false;
            cached = None;
        }
        let mut fl = Flowi4::new(daddr);
        fl.saddr = saddr;
        fl.oif = ipc.oif;
        fl.tos = ipc.tos & 0x1e;
        fl.scope = scope;
        fl.proto = protocol;
        fl.mark = ipc.mark;
        let dst = match self.sock_route_output(fd, &fl, cached, connected, broadcast) {
            Ok(d) => d,
            Err(e) => {
                // udp_sendmsg() counts OutNoRoutes for ENETUNREACH only.
                if e == SockError::NetUnreach {
                    self.mib.ip.out_no_routes += 1;
                }
                return Err(e);
            }
        };
        let ttl = ipc
            .ttl
            .unwrap_or(if dst.flags.contains(RtFlags::MULTICAST) {
                mc_ttl
            } else {
                uc_ttl.unwrap_or(self.sysctl.ip_default_ttl)
            });
        let cork = Cork {
            fragsize: self.cork_fragsize(pmtudisc, &dst)?,
            dst,
            daddr,
            dport,
            ttl,
            tos: ipc.tos,
            mark: ipc.mark,
            priority: ipc.priority,
            gso_size: ipc.gso_size,
            opt,
        };
        if !corkreq {
            // The lockless fast path: ip_make_skb() + udp_send_skb().
            self.ip_append_check(fd, &cork, UDP_HLEN + len)?;
            if msg.flags & MSG_PROBE != 0 {
                return Ok(len);
            }
            self.sock_alloc_send_check(fd, &cork, UDP_HLEN + len)?;
            return self.udp_send_skb(fd, &cork, msg.data, false).map(|()| len);
        }
        self.socks.get(fd)?.pending = Some(Pending {
            cork,
            data: Vec::new(),
        });
        self.udp_append(fd, msg.data, msg.flags, corkreq)
    }

    /// The `do_append_data` half of udp_sendmsg(): ip_append_data() onto the pending
    /// datagram; a failure discards all of it (udp_flush_pending_frames()).
    fn udp_append(
        &mut self,
        fd: SockFd,
        data: &[u8],
        flags: u32,
        corkreq: bool,
    ) -> Result<usize, SockError> {
        stage!(self, "ip_append_data");
        let Some(mut pending) = self.socks.get(fd)?.pending.take() else {
            return Err(SockError::Inval);
        };
        let first = pending.data.is_empty();
        let length = if first {
            UDP_HLEN + data.len()
        } else {
            data.len()
        };
        let cork_len = if first {
            0
        } else {
            UDP_HLEN + pending.data.len()
        };
        let mut res = self.ip_append_check(fd, &pending.cork, cork_len + length);
        if res.is_ok() && flags & MSG_PROBE == 0 {
            res = self.sock_alloc_send_check(fd, &pending.cork, cork_len + length);
        }
        if let Err(e) = res {
            // udp_flush_pending_frames()
            self.note_sndbuf_error(fd, e);
            return Err(e);
        }
        let probe = flags & MSG_PROBE != 0;
        if !probe {
            pending.data.extend_from_slice(data);
        }
        let started = !probe || !first;
        if started {
            self.socks.get(fd)?.pending = Some(pending);
        }
        if !corkreq {
            self.udp_push_pending_frames(fd)?;
        }
        Ok(data.len())
    }

    /// Linux udp_push_pending_frames(): the corked datagram leaves.
    pub(crate) fn udp_push_pending_frames(&mut self, fd: SockFd) -> Result<usize, SockError> {
        let Some(pending) = self.socks.get(fd)?.pending.take() else {
            return Ok(0);
        };
        let len = pending.data.len();
        self.udp_send_skb(fd, &pending.cork, &pending.data, true)?;
        Ok(len)
    }

    /// ip_setup_cork(): the MTU the datagram is cut to, the path's or the device's.
    fn cork_fragsize(&self, pmtudisc: PmtuDisc, dst: &DstEntry) -> Result<u32, SockError> {
        let mtu = if pmtudisc.use_pmtu() {
            dst.mtu
        } else {
            self.dev(dst.dev).map_or(dst.mtu, |d| d.mtu)
        };
        if mtu < 68 {
            return Err(SockError::NetUnreach);
        }
        Ok(mtu)
    }

    /// __ip_append_data()'s size limit: with the datagram at `total` bytes (UDP header
    /// included), EMSGSIZE past `maxnonfragsize` (the MTU unless the socket lets it be
    /// fragmented, 64 KiB for GSO), with a local error queued for IP_RECVERR.
    #[inline(always)]
    fn ip_append_check(&mut self, fd: SockFd, cork: &Cork, total: usize) -> Result<(), SockError> {
        let s = self.socks.get_ref(fd)?;
        let mtu = if cork.gso_size != 0 {
            IP_MAX_MTU
        } else {
            cork.fragsize as usize
        };
        let fragheaderlen = 20 + cork.opt.len();
        let maxnonfragsize = if s.pmtudisc.ignore_df() {
            IP_MAX_MTU
        } else {
            mtu
        };
        if total > maxnonfragsize.saturating_sub(fragheaderlen) {
            return self.ip_append_too_big(fd, cork, mtu);
        }
        Ok(())
    }

    /// ip_append_check()'s EMSGSIZE, with the local error for IP_RECVERR.
    #[cold]
    #[inline(never)]
    fn ip_append_too_big(&mut self, fd: SockFd, cork: &Cork, mtu: usize) -> Result<(), SockError> {
        // Linux reports the socket's own peer port (0 when unconnected).
        let dport = self.socks.get_ref(fd)?.dport;
        self.ip_local_error(fd, cork.daddr, dport, (mtu - cork.opt.len()) as u32);
        Err(SockError::MsgSize)
    }

    /// sock_alloc_send_skb() / sock_wmalloc(): a pending error comes first; the first
    /// buffer needs the send buffer below `sndbuf` (else EAGAIN), the whole datagram
    /// within twice that (else ENOBUFS).
    #[inline(always)]
    fn sock_alloc_send_check(
        &mut self,
        fd: SockFd,
        cork: &Cork,
        total: usize,
    ) -> Result<(), SockError> {
        let s = self.socks.get_ref(fd)?;
        // The common case: no pending error, room in the buffer, one buffer's worth.
        if s.err == 0 && s.wmem < s.sndbuf && total + 20 + cork.opt.len() <= cork.fragsize as usize
        {
            return Ok(());
        }
        self.sock_alloc_send_check_slow(fd, cork, total)
    }

    #[cold]
    #[inline(never)]
    fn sock_alloc_send_check_slow(
        &mut self,
        fd: SockFd,
        cork: &Cork,
        total: usize,
    ) -> Result<(), SockError> {
        let s = self.socks.get(fd)?;
        s.sock_error()?;
        // The core never blocks: a full buffer is EAGAIN (MSG_DONTWAIT or not), and the
        // blocking API waits for room.
        let single = total + 20 + cork.opt.len() <= cork.fragsize as usize;
        let res = if s.wmem >= s.sndbuf {
            Err(SockError::Again)
        } else if single {
            Ok(())
        } else {
            let mtu = (cork.fragsize as usize).max(68);
            let pieces = total.div_ceil(mtu.saturating_sub(20 + cork.opt.len()).max(8));
            let charge = total + pieces * (20 + SKB_OVERHEAD);
            if pieces > 1 && s.wmem + charge > 2 * s.sndbuf {
                Err(SockError::NoBufs)
            } else {
                Ok(())
            }
        };
        if let Err(e) = res {
            self.note_sndbuf_error(fd, e);
        }
        res
    }

    /// udp_sendmsg()'s exit: ENOBUFS and a full send buffer count SndbufErrors.
    fn note_sndbuf_error(&mut self, fd: SockFd, e: SockError) {
        if matches!(e, SockError::NoBufs | SockError::Again) {
            let lite = self
                .socks
                .get_ref(fd)
                .is_ok_and(|s| s.kind == Kind::UdpLite);
            self.udp_mib_out(lite).sndbuf_errors += 1;
        }
    }

    fn udp_mib_out(&mut self, lite: bool) -> &mut crate::stats::UdpMib {
        if lite {
            &mut self.mib.udp_lite
        } else {
            &mut self.mib.udp
        }
    }

    /// Linux udp_send_skb(): the UDP header and checksum, the UDP_SEGMENT checks, then
    /// ip_send_skb(). The checksum is left partial when the route's device finishes
    /// checksums and the datagram was not corked (__ip_append_data()'s csummode); a
    /// UDP_SEGMENT datagram needs that (else EIO) and leaves as one GSO packet, which
    /// the device or validate_xmit_skb() cuts into segments.
    fn udp_send_skb(
        &mut self,
        fd: SockFd,
        cork: &Cork,
        data: &[u8],
        corked: bool,
    ) -> Result<(), SockError> {
        stage!(self, "udp_send_skb");
        let s = self.socks.get_ref(fd)?;
        let (lite, no_check, cscov, sport, pmtudisc, recverr, connected_sk) = (
            s.kind == Kind::UdpLite,
            s.no_check_tx,
            s.send_cscov,
            s.num,
            s.pmtudisc,
            s.recverr,
            s.connected,
        );
        let owner = Some(crate::skb::SkOwner {
            slot: fd.0,
            generation: s.generation,
        });
        let hlen = 20 + cork.opt.len();
        let datalen = data.len();
        let gso = usize::from(cork.gso_size);
        let fragsize = cork.fragsize as usize;
        let dev_csum = self
            .dev(cork.dst.dev)
            .is_some_and(|d| crate::offload::can_checksum(d.features));
        let fits = hlen + UDP_HLEN + datalen <= fragsize;
        let partial = dev_csum && !lite && !no_check && (gso != 0 || (!corked && fits));
        let mut gso_segs = 0;
        if gso != 0 {
            if hlen + UDP_HLEN + datalen.min(gso) > fragsize {
                return Err(SockError::MsgSize);
            }
            if datalen > gso * UDP_MAX_SEGMENTS {
                return Err(SockError::Inval);
            }
            if no_check {
                return Err(SockError::Inval);
            }
            if !partial {
                return Err(SockError::Io);
            }
            if datalen > gso {
                gso_segs = datalen.div_ceil(gso);
            }
        }
        let saddr = cork.dst.saddr;
        let mut p = IpSend {
            saddr,
            daddr: cork.daddr,
            protocol: if lite { IPPROTO_UDPLITE } else { IPPROTO_UDP },
            ttl: cork.ttl,
            tos: cork.tos,
            df: pmtudisc.df(hlen + UDP_HLEN + datalen, &cork.dst),
            ignore_df: pmtudisc.ignore_df(),
            ident: None,
        };
        // A UDP_SEGMENT datagram: one buffer per segment's payload, each with room for
        // its own link, IP and UDP headers, so segmentation copies no payload.
        let built = if gso_segs > 0 {
            let headroom = LL_RESERVED + hlen + UDP_HLEN;
            self.make_skb_pieces(headroom, UDP_HLEN, data, UDP_HLEN + gso, gso)
        } else {
            self.ip_make_skb(fragsize, hlen, UDP_HLEN, data)
        };
        let res = built.and_then(|mut skb| {
            if partial {
                udp4_hwcsum(&mut skb, saddr, cork.daddr, sport, cork.dport);
            } else {
                udp_fill_header(
                    &mut skb, saddr, cork.daddr, sport, cork.dport, lite, no_check, cscov,
                );
            }
            if connected_sk {
                // The connected socket's own counter, one ID per segment (R25).
                p.ident = Some(self.sk_select_ident(fd, &p, gso_segs.max(1) as u16));
            } else if gso_segs > 0 {
                // Reserve an ID per segment (docs/linux-semantics.md §1.2.2, the RFC 6864 option).
                p.ident = Some(self.ip_select_ident(&p, gso_segs as u16));
            }
            if gso_segs > 0 {
                skb.gso = Some(crate::skb::GsoInfo {
                    size: gso as u16,
                    gso_type: crate::skb::GsoType::UDP_L4,
                    segs: gso_segs as u16,
                });
            }
            skb.mark = cork.mark;
            skb.priority = cork.priority;
            skb.sk = owner;
            if cork.opt.is_empty() {
                return self.ip_push_header(skb, &p, &[], &cork.dst);
            }
            let opt = self.ip_options_build_local(&cork.opt, p.saddr);
            self.ip_push_header(skb, &p, opt.bytes(), &cork.dst)
        });
        // ip_send_skb(): ENOBUFS is not the caller's error without IP_RECVERR.
        let mib = self.udp_mib_out(lite);
        match res {
            Ok(()) => {
                mib.out_datagrams += 1;
                Ok(())
            }
            Err(OutputError::NoBufs) if !recverr => {
                mib.sndbuf_errors += 1;
                Ok(())
            }
            Err(e) => {
                if e == OutputError::NoBufs {
                    mib.sndbuf_errors += 1;
                }
                Err(e.into())
            }
        }
    }
}

/// Linux udp4_hwcsum(): the UDP header with the pseudo-header sum in the checksum field,
/// left for the device (`CHECKSUM_PARTIAL`). `data` is at the UDP header.
fn udp4_hwcsum(skb: &mut SkBuff, saddr: Ipv4Addr, daddr: Ipv4Addr, sport: u16, dport: u16) {
    let len = skb.len();
    let csum_start = skb.headroom() as u16;
    let pseudo = !skiff_wire::checksum::csum_fold(skiff_wire::checksum::csum_tcpudp_nofold(
        saddr, daddr, len as u32, 17, 0,
    ));
    skb.data_mut()[..UDP_HLEN].copy_from_slice(&udp_header(sport, dport, len as u16, pseudo));
    skb.ip_summed = crate::skb::ChecksumState::Partial {
        csum_start,
        csum_offset: 6,
    };
}

/// Writes the UDP header at the start of `skb`'s data and its checksum over the whole
/// datagram (`frag_list` included): 0 is sent as 0xffff, SO_NO_CHECK sends 0, UDP-Lite
/// covers `cscov` bytes (0: all) and carries the coverage in the length field.
#[allow(clippy::too_many_arguments)]
#[inline]
fn udp_fill_header(
    skb: &mut SkBuff,
    saddr: Ipv4Addr,
    daddr: Ipv4Addr,
    sport: u16,
    dport: u16,
    lite: bool,
    no_check: bool,
    cscov: u16,
) {
    let len = skb.len();
    let cov = if lite && cscov != 0 && usize::from(cscov) < len {
        usize::from(cscov)
    } else {
        len
    };
    let lenfield = if lite { cov } else { len } as u16;
    let header = udp_header(sport, dport, lenfield, 0);
    let proto = if lite { IPPROTO_UDPLITE } else { IPPROTO_UDP };
    let check = |sum| match csum_tcpudp_magic(saddr, daddr, len as u32, proto, sum) {
        0 => 0xffffu16,
        c => c,
    };
    if skb.frag_list.is_empty() {
        // One borrow of the linear data for the header, the sum and the checksum.
        let data = skb.data_mut();
        data[..UDP_HLEN].copy_from_slice(&header);
        if !no_check || lite {
            let c = check(csum_partial(&data[..cov], 0));
            data[6..8].copy_from_slice(&c.to_be_bytes());
        }
        return;
    }
    skb.data_mut()[..UDP_HLEN].copy_from_slice(&header);
    if no_check && !lite {
        return;
    }
    let mut sum = 0;
    let mut left = cov;
    skb.for_each_chunk(&mut |c| {
        let n = c.len().min(left);
        sum = csum_partial(&c[..n], sum);
        left -= n;
    });
    skb.data_mut()[6..8].copy_from_slice(&check(sum).to_be_bytes());
}

/// The 8 UDP header bytes: ports, length, checksum.
#[inline]
fn udp_header(sport: u16, dport: u16, len: u16, check: u16) -> [u8; UDP_HLEN] {
    (u64::from(sport) << 48 | u64::from(dport) << 32 | u64::from(len) << 16 | u64::from(check))
        .to_be_bytes()
}

/// Does an options area hold a loose or strict source route?
fn has_source_route(opt: &[u8]) -> bool {
    skiff_wire::ip_options::Ipv4Options::parse(opt, skiff_wire::ip_options::OptionsOrigin::Received)
        .is_ok_and(|o| o.srr != 0)
}
