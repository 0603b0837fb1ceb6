//! The socket layer: Linux net/socket.c __sock_create() and net/ipv4/af_inet.c
//! inet_create(), inet_bind(), inet_dgram_connect(), the options of ip_sockglue.c and
//! sock.c, and the datagram receive queue every inet socket shares (net/core/datagram.c).
//! UDP's own send and receive halves are in `udp/`, raw sockets in `ipv4/raw`.
//!
//! Here: the socket and its calls; `msg` holds the sendmsg()/recvmsg() message types,
//! `table` the descriptor table and UDP port hash, `mcast` multicast membership.

mod error;
mod mcast;
mod msg;
pub mod opt;
mod table;

pub use crate::ipv4::mc_list::SfMode;
pub use error::SockError;
pub use mcast::{
    GROUP_FILTER_SIZE0, GroupSourceReq, IP_MSFILTER_SIZE0, IpMcSocklist, IpMreqSource, IpMsfilter,
    MsfilterGet, MsfilterReply,
};
pub use msg::{
    ExtendedErr, MSG_CONFIRM, MSG_DONTROUTE, MSG_DONTWAIT, MSG_ERRQUEUE, MSG_MORE, MSG_OOB,
    MSG_PEEK, MSG_PROBE, MSG_TRUNC, PktInfo, RecvCmsgs, RecvMsg, SO_EE_ORIGIN_ICMP,
    SO_EE_ORIGIN_LOCAL, SendCmsg, SendMsg, SockAddr,
};
pub(crate) use msg::{SOL_IP, SOL_SOCKET, SOL_UDP};
pub use opt::{IpMreqn, SockOpt, SockOptName};
pub use table::SockFd;
pub(crate) use table::Sockets;

use crate::ipv4::output::PmtuDisc;
use crate::route::{DstEntry, RouteType};
use crate::skb::SkBuff;
use crate::stack::Stack;
use skiff_wire::Ipv4Addr;
use skiff_wire::ipv4 as wire;
use std::collections::VecDeque;
use std::net::SocketAddrV4;
use std::time::Duration;

pub const AF_UNSPEC: i32 = 0;
pub const AF_INET: i32 = 2;
pub const AF_INET6: i32 = 10;
/// Linux `NPROTO`: families at or above it are EAFNOSUPPORT before any lookup.
const NPROTO: i32 = 46;

pub const SOCK_STREAM: i32 = 1;
pub const SOCK_DGRAM: i32 = 2;
pub const SOCK_RAW: i32 = 3;
pub const SOCK_NONBLOCK: i32 = 0o4000;
pub const SOCK_CLOEXEC: i32 = 0o2_000_000;
const SOCK_TYPE_MASK: i32 = 0xf;
const SOCK_MAX: i32 = 11;

/// socket()'s `protocol` argument: skiff-wire's `IPPROTO_*` as a C `int`.
pub const IPPROTO_IP: i32 = wire::IPPROTO_IP as i32;
pub const IPPROTO_ICMP: i32 = wire::IPPROTO_ICMP as i32;
pub const IPPROTO_TCP: i32 = wire::IPPROTO_TCP as i32;
pub const IPPROTO_UDP: i32 = wire::IPPROTO_UDP as i32;
pub const IPPROTO_UDPLITE: i32 = wire::IPPROTO_UDPLITE as i32;
pub const IPPROTO_RAW: i32 = wire::IPPROTO_RAW as i32;
/// Linux `IPPROTO_MAX`.
const IPPROTO_MAX: i32 = 263;

/// Linux `SOCK_MIN_RCVBUF` and `SOCK_MIN_SNDBUF` on x86_64.
pub(crate) const SOCK_MIN_RCVBUF: usize = 2_304;
pub(crate) const SOCK_MIN_SNDBUF: usize = 4_608;
/// What a queued datagram costs beyond its bytes (Linux `SKB_TRUESIZE` overhead).
pub(crate) const SKB_OVERHEAD: usize = 576;

/// Which kind of inet socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Udp,
    UdpLite,
    Raw,
}

/// A queued datagram: the buffer (at the payload for UDP, at the IP header for raw) and
/// what recvmsg() reports about it.
#[derive(Debug)]
pub(crate) struct RxEntry {
    pub skb: SkBuff,
    pub len: usize,
    pub src: SocketAddrV4,
    pub pktinfo: PktInfo,
    pub ttl: u8,
    pub tos: u8,
    pub truesize: usize,
    pub peeked: bool,
    /// A coalesced (UDP_GRO) datagram's segment size, 0 for a plain one.
    pub gso_size: u16,
}

impl RxEntry {
    /// A received datagram: `skb` holds what recvmsg() copies (`len` bytes), `sport` is the
    /// source port (0 for raw), `h` and `dst` the packet's header and input route.
    pub(crate) fn new(
        skb: SkBuff,
        sport: u16,
        h: &crate::ipv4::hdr::IpHdr,
        dst: &DstEntry,
    ) -> RxEntry {
        let len = skb.len();
        RxEntry {
            len,
            src: SocketAddrV4::new(h.saddr, sport),
            pktinfo: PktInfo {
                ifindex: skb.iif,
                spec_dst: dst.saddr,
                addr: h.daddr,
            },
            ttl: h.ttl,
            tos: h.tos,
            truesize: len + SKB_OVERHEAD,
            peeked: false,
            gso_size: skb.gso.map_or(0, |g| g.size),
            skb,
        }
    }
}

impl RxEntry {
    /// Copies the datagram from byte `off` into `buf` and describes it as recvmsg()
    /// returns it, with the control messages socket `s` asked for; `pktinfo` gets its
    /// IP_PKTINFO either way.
    #[inline(always)]
    fn recv_msg(
        &self,
        s: &Socket,
        off: usize,
        buf: &mut [u8],
        flags: u32,
        pktinfo: &mut Option<PktInfo>,
    ) -> Result<RecvMsg, SockError> {
        let avail = self.len.saturating_sub(off);
        let copied = buf.len().min(avail);
        if self.skb.copy_bits(off, &mut buf[..copied]).is_err() {
            return Err(SockError::Inval);
        }
        *pktinfo = Some(self.pktinfo);
        Ok(RecvMsg {
            len: if flags & MSG_TRUNC != 0 {
                self.len
            } else {
                copied
            },
            addr: Some(self.src),
            flags: if buf.len() < avail { MSG_TRUNC } else { 0 },
            cmsgs: RecvCmsgs {
                pktinfo: s.pktinfo.then_some(self.pktinfo),
                ttl: s.recvttl.then_some(self.ttl),
                tos: s.recvtos.then_some(self.tos),
                err: None,
                gso_size: (s.gro && self.gso_size != 0).then_some(self.gso_size),
            },
        })
    }
}

impl Socket {
    /// recvmsg() with MSG_PEEK: the datagram stays queued. With SO_PEEK_OFF on, a peek
    /// starts where the last one ended, walking across datagrams (sk_peek_offset(),
    /// __skb_try_recv_from_queue()).
    #[cold]
    #[inline(never)]
    fn recv_peek(
        &mut self,
        buf: &mut [u8],
        flags: u32,
        pktinfo: &mut Option<PktInfo>,
    ) -> Result<RecvMsg, SockError> {
        let walk = self.peek_off >= 0;
        let mut off = if walk { self.peek_off as usize } else { 0 };
        if self.reader.is_empty() && self.rx.len() > 1 {
            core::mem::swap(&mut self.reader, &mut self.rx);
        }
        if walk && off >= self.reader.iter().map(|e| e.len).sum::<usize>() {
            // Peeking past what the reader holds: splice the rest in behind it.
            self.reader.append(&mut self.rx);
        }
        let in_reader = !self.reader.is_empty();
        let queue = if in_reader { &self.reader } else { &self.rx };
        let mut idx = 0;
        if walk {
            while let Some(e) = queue.get(idx) {
                if off >= e.len && (off > 0 || e.peeked) {
                    off -= e.len;
                    idx += 1;
                } else {
                    break;
                }
            }
        }
        let Some(e) = queue.get(idx) else {
            return Err(SockError::Again);
        };
        let msg = e.recv_msg(self, off, buf, flags, pktinfo)?;
        let queue = if in_reader {
            &mut self.reader
        } else {
            &mut self.rx
        };
        if let Some(e) = queue.get_mut(idx) {
            e.peeked = true;
        }
        if walk {
            self.peek_off = self.peek_off.saturating_add(msg.len as i32);
        }
        Ok(msg)
    }
}

/// A queued extended error (Linux ip_icmp_error(), ip_local_error()).
#[derive(Debug)]
pub(crate) struct ErrEntry {
    pub ee: ExtendedErr,
    pub addr: SocketAddrV4,
    pub payload: Vec<u8>,
    pub truesize: usize,
}

/// What a datagram leaves with, fixed when it is set up (Linux `inet->cork`).
#[derive(Debug)]
pub(crate) struct Cork {
    pub dst: DstEntry,
    pub daddr: Ipv4Addr,
    pub dport: u16,
    pub ttl: u8,
    pub tos: u8,
    pub mark: u32,
    pub priority: u32,
    pub gso_size: u16,
    pub opt: Vec<u8>,
    /// `cork->fragsize`: the path or device MTU when the cork was set up.
    pub fragsize: u32,
}

/// A corked datagram: its cork and the socket's write queue.
#[derive(Debug)]
pub(crate) struct Pending {
    pub cork: Cork,
    /// The datagram's data so far (the UDP header is added when it leaves).
    pub data: Vec<u8>,
}

/// One socket: Linux `struct sock` + `inet_sock` + `udp_sock`/`raw_sock`.
#[derive(Debug)]
pub(crate) struct Socket {
    pub kind: Kind,
    pub protocol: u8,
    pub generation: u32,
    pub nonblock: bool,
    // inet_sock: addresses. `num` is the local port (0: unbound).
    pub rcv_saddr: Ipv4Addr,
    pub saddr: Ipv4Addr,
    pub num: u16,
    pub daddr: Ipv4Addr,
    pub dport: u16,
    pub connected: bool,
    /// Linux `inet_sk(sk)->inet_id`: a connected socket's IP ID counter, seeded at
    /// connect (R25).
    pub inet_id: u16,
    pub bound_dev_if: u32,
    /// SOCK_BINDADDR_LOCK / SOCK_BINDPORT_LOCK: bind() chose them.
    pub addr_locked: bool,
    pub port_locked: bool,
    pub dst_cache: Option<DstEntry>,
    /// The input route of the last datagram early demux led here, and the device it came
    /// in on: the flow is the connected socket's own. Linux `sk->sk_rx_dst`,
    /// `sk_rx_dst_ifindex`.
    pub rx_dst: Option<(u32, DstEntry)>,
    // Options.
    pub ttl: Option<u8>,
    pub tos: u8,
    pub pmtudisc: PmtuDisc,
    pub recverr: bool,
    pub pktinfo: bool,
    pub recvttl: bool,
    pub recvtos: bool,
    pub hdrincl: bool,
    pub broadcast: bool,
    pub reuseaddr: bool,
    pub reuseport: bool,
    pub no_check_tx: bool,
    pub opt: Vec<u8>,
    pub mc_ttl: u8,
    pub mc_loop: bool,
    pub mc_index: u32,
    pub mc_addr: Ipv4Addr,
    /// IP_ADD_MEMBERSHIP and friends: the socket's groups and source filters.
    pub mc_list: Vec<mcast::IpMcSocklist>,
    /// IP_MULTICAST_ALL: multicast to groups this socket did not join is delivered too.
    pub mc_all: bool,
    pub rcvbuf: usize,
    pub sndbuf: usize,
    pub rcvtimeo: Option<Duration>,
    pub sndtimeo: Option<Duration>,
    pub mark: u32,
    pub priority: u32,
    pub peek_off: i32,
    pub icmp_filter: u32,
    // UDP.
    pub cork: bool,
    pub gso_size: u16,
    pub gro: bool,
    pub pending: Option<Pending>,
    /// UDPLITE_SEND_CSCOV / UDPLITE_RECV_CSCOV (0: the whole datagram).
    pub send_cscov: u16,
    pub recv_cscov: u16,
    // Queues: the datapath appends to `rx` (sk_receive_queue); readers take from
    // `reader` (udp's reader_queue), refilling it with all of `rx` at once when it runs
    // dry, so a batch of reads touches the shared queue once.
    pub rx: VecDeque<RxEntry>,
    pub reader: VecDeque<RxEntry>,
    pub rmem: usize,
    pub wmem: usize,
    pub drops: u64,
    pub err: i32,
    pub err_queue: VecDeque<ErrEntry>,
}

impl Socket {
    fn new(kind: Kind, protocol: u8, generation: u32, sysctl: &crate::sysctl::Sysctl) -> Socket {
        // inet_create()
        let pmtudisc = if sysctl.ip_no_pmtu_disc != 0 {
            PmtuDisc::Dont
        } else {
            PmtuDisc::Want
        };
        Socket {
            kind,
            protocol,
            generation,
            nonblock: false,
            rcv_saddr: Ipv4Addr::UNSPECIFIED,
            saddr: Ipv4Addr::UNSPECIFIED,
            num: 0,
            daddr: Ipv4Addr::UNSPECIFIED,
            dport: 0,
            connected: false,
            inet_id: 0,
            bound_dev_if: 0,
            addr_locked: false,
            port_locked: false,
            dst_cache: None,
            rx_dst: None,
            ttl: None,
            tos: 0,
            pmtudisc,
            recverr: false,
            pktinfo: false,
            recvttl: false,
            recvtos: false,
            hdrincl: kind == Kind::Raw && protocol == wire::IPPROTO_RAW,
            broadcast: false,
            reuseaddr: false,
            reuseport: false,
            no_check_tx: false,
            opt: Vec::new(),
            mc_ttl: 1,
            mc_loop: true,
            mc_index: 0,
            mc_addr: Ipv4Addr::UNSPECIFIED,
            mc_list: Vec::new(),
            mc_all: true,
            rcvbuf: sysctl.rmem_default as usize,
            sndbuf: sysctl.wmem_default as usize,
            rcvtimeo: None,
            sndtimeo: None,
            mark: 0,
            priority: 0,
            peek_off: -1,
            icmp_filter: 0,
            cork: false,
            gso_size: 0,
            gro: false,
            pending: None,
            send_cscov: 0,
            recv_cscov: 0,
            rx: VecDeque::new(),
            reader: VecDeque::new(),
            rmem: 0,
            wmem: 0,
            drops: 0,
            err: 0,
            err_queue: VecDeque::new(),
        }
    }

    pub(crate) fn is_udp(&self) -> bool {
        self.kind != Kind::Raw
    }

    /// sock_error(): takes the pending error.
    pub(crate) fn sock_error(&mut self) -> Result<(), SockError> {
        match core::mem::take(&mut self.err) {
            0 => Ok(()),
            e => Err(SockError::from_errno(e)),
        }
    }

    /// The queue is over its limit (Linux __udp_enqueue_schedule_skb(), sock_queue_rcv_skb():
    /// a datagram is admitted while the memory already charged is within rcvbuf).
    pub(crate) fn rcvbuf_full(&self) -> bool {
        self.rmem > self.rcvbuf
    }
}

impl Stack {
    /// socket(): Linux __sock_create() + inet_create(). `ty` may carry SOCK_NONBLOCK and
    /// SOCK_CLOEXEC. Supported: SOCK_DGRAM with UDP (protocol 0 or 17) or UDP-Lite, and
    /// SOCK_RAW with any protocol 1..=255, which needs the raw capability
    /// ([`StackConfig::cap_net_raw`](crate::StackConfig)).
    pub fn socket(&mut self, family: i32, ty: i32, protocol: i32) -> Result<SockFd, SockError> {
        if !(0..NPROTO).contains(&family) {
            return Err(SockError::AfNoSupport);
        }
        let flags = ty & !SOCK_TYPE_MASK;
        if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
            return Err(SockError::Inval);
        }
        let ty = ty & SOCK_TYPE_MASK;
        if !(0..SOCK_MAX).contains(&ty) {
            return Err(SockError::Inval);
        }
        if family != AF_INET {
            return Err(SockError::AfNoSupport);
        }
        if !(0..IPPROTO_MAX).contains(&protocol) {
            return Err(SockError::Inval);
        }
        let kind = match (ty, protocol) {
            (SOCK_DGRAM, IPPROTO_IP | IPPROTO_UDP) => Kind::Udp,
            (SOCK_DGRAM, IPPROTO_UDPLITE) => Kind::UdpLite,
            // Ping sockets: the default `ping_group_range` (1 0) admits no group.
            (SOCK_DGRAM, IPPROTO_ICMP) => return Err(SockError::Access),
            (SOCK_DGRAM, _) => return Err(SockError::ProtoNoSupport),
            (SOCK_RAW, IPPROTO_IP) => return Err(SockError::ProtoNoSupport),
            (SOCK_RAW, _) if !self.cap_net_raw => return Err(SockError::Perm),
            // Protocols above 255 are accepted by Linux but never match a packet.
            (SOCK_RAW, p) if p > i32::from(u8::MAX) => return Err(SockError::ProtoNoSupport),
            (SOCK_RAW, _) => Kind::Raw,
            // No TCP (yet), and no other inet socket type.
            _ => return Err(SockError::SocktNoSupport),
        };
        let protocol = match kind {
            Kind::Udp => wire::IPPROTO_UDP,
            Kind::UdpLite => wire::IPPROTO_UDPLITE,
            Kind::Raw => protocol as u8,
        };
        let generation = self.socks.next_generation();
        let mut s = Socket::new(kind, protocol, generation, &self.sysctl);
        s.nonblock = flags & SOCK_NONBLOCK != 0;
        if kind == Kind::Raw {
            // A raw socket is "bound" to its protocol (inet->inet_num).
            s.num = u16::from(protocol);
        }
        let fd = self.socks.insert(s);
        if kind == Kind::Raw {
            self.socks.raw_hash(fd, protocol);
        }
        Ok(fd)
    }

    /// close(): a corked datagram is discarded, the port and memberships released.
    pub fn close(&mut self, fd: SockFd) -> Result<(), SockError> {
        let kind = self.socks.get(fd)?.kind;
        // mrtsock_destruct(): closing the mroute socket tears the table down.
        self.mrtsock_destruct(fd);
        if kind == Kind::Raw {
            self.socks.raw_unhash(fd);
            self.socks.ra_chain.retain(|&i| i != fd.0);
        } else {
            self.socks.unhash(fd);
        }
        let s = self.socks.get(fd)?;
        let was_connected = s.connected;
        let groups = core::mem::take(&mut s.mc_list);
        let dropped: Vec<SkBuff> = s
            .reader
            .drain(..)
            .chain(s.rx.drain(..))
            .map(|e| e.skb)
            .collect();
        // ip_mc_drop_socket()
        for iml in groups {
            self.ip_mc_leave_src(&iml);
            self.ip_mc_dec_group(iml.ifindex, iml.multiaddr);
        }
        for skb in dropped {
            self.pool.recycle(skb);
        }
        self.socks.slots[fd.0 as usize] = None;
        self.socks.connected = self
            .socks
            .connected
            .saturating_sub(usize::from(was_connected));
        Ok(())
    }

    /// Grants or drops CAP_NET_RAW (see [`StackConfig::cap_net_raw`](crate::StackConfig)).
    pub fn set_cap_net_raw(&mut self, on: bool) {
        self.cap_net_raw = on;
    }

    /// Charges (`charge`) or releases a packet of `len` bytes on its socket's send buffer:
    /// charged while it waits in a device queue, released when the device takes it.
    pub(crate) fn sock_wmem(&mut self, o: crate::skb::SkOwner, len: usize, charge: bool) {
        let Some(Some(s)) = self.socks.slots.get_mut(o.slot as usize) else {
            return;
        };
        if s.generation != o.generation {
            return;
        }
        let size = len + SKB_OVERHEAD;
        s.wmem = if charge {
            s.wmem + size
        } else {
            s.wmem.saturating_sub(size)
        };
    }

    /// The route of a send (udp_sendmsg(), raw_sendmsg()): a connected socket's cached
    /// route while it is valid, else `fl`'s. A broadcast route needs SO_BROADCAST
    /// (`broadcast`), a group
    /// joined on the device also delivers locally, and a connected send keeps the route.
    #[inline(always)]
    pub(crate) fn sock_route_output(
        &mut self,
        fd: SockFd,
        fl: &crate::route::Flowi4,
        cached: Option<DstEntry>,
        connected: bool,
        broadcast: bool,
    ) -> Result<DstEntry, SockError> {
        let mut dst = match cached.filter(|d| self.fib.dst_check(d)) {
            Some(d) => d,
            None => self.ip_route_output_flow(fl)?,
        };
        if dst.flags.contains(crate::route::RtFlags::BROADCAST) && !broadcast {
            return Err(SockError::Access);
        }
        if connected {
            self.socks.get(fd)?.dst_cache = Some(dst);
        }
        if dst.flags.contains(crate::route::RtFlags::MULTICAST) {
            self.ip_mc_check_local(&mut dst, fl.daddr);
        }
        Ok(dst)
    }

    /// The owner tag for packets `fd` sends.
    pub(crate) fn sk_owner(&self, fd: SockFd) -> Option<crate::skb::SkOwner> {
        let s = self.socks.get_ref(fd).ok()?;
        Some(crate::skb::SkOwner {
            slot: fd.0,
            generation: s.generation,
        })
    }

    /// Whether recvmsg() would return something now (data, a pending error, or an
    /// error-queue entry): POLLIN | POLLERR.
    pub fn readable(&self, fd: SockFd) -> Result<bool, SockError> {
        let s = self.socks.get_ref(fd)?;
        Ok(!s.reader.is_empty() || !s.rx.is_empty() || s.err != 0 || !s.err_queue.is_empty())
    }

    /// Whether a send would find room in the send buffer: POLLOUT (sock_writeable()).
    pub fn writable(&self, fd: SockFd) -> Result<bool, SockError> {
        let s = self.socks.get_ref(fd)?;
        Ok(s.wmem < s.sndbuf / 2)
    }

    /// Whether the socket was created with SOCK_NONBLOCK or set so with [`Stack::set_nonblocking`].
    pub fn is_nonblocking(&self, fd: SockFd) -> Result<bool, SockError> {
        Ok(self.socks.get_ref(fd)?.nonblock)
    }

    /// fcntl(O_NONBLOCK). The core never blocks; the shell's blocking APIs honour it.
    pub fn set_nonblocking(&mut self, fd: SockFd, on: bool) -> Result<(), SockError> {
        self.socks.get(fd)?.nonblock = on;
        Ok(())
    }

    /// Memory charged to the socket: (receive queue and error queue, send buffer), as
    /// `ss -m` shows `r` and `t`.
    pub fn sock_mem(&self, fd: SockFd) -> Result<(usize, usize), SockError> {
        let s = self.socks.get_ref(fd)?;
        Ok((s.rmem, s.wmem))
    }

    /// The receive buffer size (SO_RCVBUF as getsockopt() reports it).
    pub fn sock_rcvbuf(&self, fd: SockFd) -> Result<usize, SockError> {
        Ok(self.socks.get_ref(fd)?.rcvbuf)
    }

    /// Datagrams dropped because the receive buffer was full (`sk_drops`).
    pub fn sock_drops(&self, fd: SockFd) -> Result<u64, SockError> {
        Ok(self.socks.get_ref(fd)?.drops)
    }

    /// bind(): Linux inet_bind() → __inet_bind().
    pub fn bind(&mut self, fd: SockFd, addr: SockAddr) -> Result<(), SockError> {
        let a = match addr {
            SockAddr::Inet(a) => a,
            // Linux accepts AF_UNSPEC only with INADDR_ANY, for old programs.
            SockAddr::Unspec => SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
            SockAddr::Other(_) => return Err(SockError::AfNoSupport),
        };
        let kind = self.socks.get(fd)?.kind;
        let ip = *a.ip();
        let rtype = self.fib.inet_addr_type(ip);
        let local = matches!(
            rtype,
            RouteType::Local | RouteType::Multicast | RouteType::Broadcast
        );
        if !ip.is_unspecified() && !local && self.sysctl.ip_nonlocal_bind == 0 {
            return Err(SockError::AddrNotAvail);
        }
        if kind == Kind::Raw {
            // raw_bind(): only the address matters.
            let s = self.socks.get(fd)?;
            s.rcv_saddr = ip;
            s.saddr = if matches!(rtype, RouteType::Multicast | RouteType::Broadcast) {
                Ipv4Addr::UNSPECIFIED
            } else {
                ip
            };
            s.dst_cache = None;
            return Ok(());
        }
        let s = self.socks.get(fd)?;
        if s.num != 0 || s.connected {
            return Err(SockError::Inval);
        }
        let range = self.sysctl.ip_local_port_range;
        let port = self.socks.get_port(fd, ip, a.port(), range)?;
        let s = self.socks.get(fd)?;
        s.saddr = if matches!(rtype, RouteType::Multicast | RouteType::Broadcast) {
            Ipv4Addr::UNSPECIFIED
        } else {
            ip
        };
        s.addr_locked = !ip.is_unspecified();
        s.port_locked = port != 0 && a.port() != 0;
        s.dst_cache = None;
        Ok(())
    }

    /// inet_autobind(): a UDP socket that sends or connects unbound gets an ephemeral
    /// port (EAGAIN when none is free).
    pub(crate) fn inet_autobind(&mut self, fd: SockFd) -> Result<(), SockError> {
        let s = self.socks.get(fd)?;
        if s.num != 0 || !s.is_udp() {
            return Ok(());
        }
        let range = self.sysctl.ip_local_port_range;
        self.socks
            .get_port(fd, Ipv4Addr::UNSPECIFIED, 0, range)
            .map(|_| ())
            .map_err(|_| SockError::Again)
    }

    /// connect(): Linux inet_dgram_connect() → ip4_datagram_connect(); AF_UNSPEC
    /// disconnects (udp_disconnect()).
    pub fn connect(&mut self, fd: SockFd, addr: SockAddr) -> Result<(), SockError> {
        let a = match addr {
            SockAddr::Inet(a) => a,
            SockAddr::Unspec => return self.disconnect(fd),
            SockAddr::Other(_) => return Err(SockError::AfNoSupport),
        };
        self.inet_autobind(fd)?;
        let s = self.socks.get(fd)?;
        s.dst_cache = None;
        let (saddr, oif, tos, proto, mark, broadcast) = (
            s.saddr,
            s.bound_dev_if,
            s.tos,
            s.protocol,
            s.mark,
            s.broadcast,
        );
        let mut oif = oif;
        let mut saddr = saddr;
        if a.ip().is_multicast() {
            if oif == 0 {
                oif = s.mc_index;
            }
            if saddr.is_unspecified() {
                saddr = s.mc_addr;
            }
        }
        let mut fl = crate::route::Flowi4::new(*a.ip());
        fl.saddr = saddr;
        fl.oif = oif;
        fl.tos = tos & 0x1e;
        fl.proto = proto;
        fl.mark = mark;
        let dst = match self.fib.ip_route_output(&fl) {
            Ok(d) => d,
            Err(e) => {
                if e == crate::route::RouteError::NetUnreach {
                    self.mib.ip.out_no_routes += 1;
                }
                return Err(e.into());
            }
        };
        if dst.flags.contains(crate::route::RtFlags::BROADCAST) && !broadcast {
            return Err(SockError::Access);
        }
        // __ip4_datagram_connect(): the ID counter starts at a random value.
        let inet_id = self.idents.random_u16();
        let s = self.socks.get(fd)?;
        s.inet_id = inet_id;
        if s.saddr.is_unspecified() {
            s.saddr = dst.saddr;
        }
        if s.rcv_saddr.is_unspecified() {
            // The port hash keeps the port; the address only refines lookups.
            s.rcv_saddr = dst.saddr;
        }
        s.daddr = *a.ip();
        s.dport = a.port();
        let newly = !s.connected;
        s.connected = true;
        s.dst_cache = Some(dst);
        self.socks.connected += usize::from(newly);
        Ok(())
    }

    /// Linux __udp_disconnect(): forget the peer, and the address and port unless bind()
    /// chose them.
    fn disconnect(&mut self, fd: SockFd) -> Result<(), SockError> {
        let s = self.socks.get(fd)?;
        let was = s.connected;
        s.connected = false;
        s.daddr = Ipv4Addr::UNSPECIFIED;
        s.dport = 0;
        s.dst_cache = None;
        if !s.addr_locked {
            s.saddr = Ipv4Addr::UNSPECIFIED;
            s.rcv_saddr = Ipv4Addr::UNSPECIFIED;
        }
        if s.is_udp() && !s.port_locked {
            self.socks.unhash(fd);
            self.socks.get(fd)?.num = 0;
        }
        self.socks.connected = self.socks.connected.saturating_sub(usize::from(was));
        Ok(())
    }

    /// getsockname().
    pub fn local_addr(&self, fd: SockFd) -> Result<SocketAddrV4, SockError> {
        let s = self.socks.get_ref(fd)?;
        // A raw socket's "port" is its protocol (inet_sport = inet_num), as Linux shows.
        Ok(SocketAddrV4::new(s.rcv_saddr, s.num))
    }

    /// getpeername(): ENOTCONN unless connected.
    pub fn peer_addr(&self, fd: SockFd) -> Result<SocketAddrV4, SockError> {
        let s = self.socks.get_ref(fd)?;
        if !s.connected {
            return Err(SockError::NotConn);
        }
        Ok(SocketAddrV4::new(s.daddr, s.dport))
    }

    /// sendto() on any socket.
    pub fn sendto(
        &mut self,
        now: crate::time::Instant,
        fd: SockFd,
        data: &[u8],
        flags: u32,
        addr: Option<SockAddr>,
    ) -> Result<usize, SockError> {
        let msg = SendMsg {
            data,
            addr,
            cmsgs: &[],
            flags,
        };
        self.sendmsg(now, fd, &msg)
    }

    /// sendmsg(): udp_sendmsg() or raw_sendmsg(). Whatever was looped back is received
    /// before the call returns.
    pub fn sendmsg(
        &mut self,
        now: crate::time::Instant,
        fd: SockFd,
        msg: &SendMsg<'_>,
    ) -> Result<usize, SockError> {
        self.now = now;
        let kind = self.socks.get(fd)?.kind;
        self.trace_begin(0, "sendmsg");
        let res = if kind == Kind::Raw {
            self.raw_sendmsg(fd, msg)
        } else {
            self.udp_sendmsg(fd, msg)
        };
        self.trace_end();
        self.process_backlog();
        res
    }

    /// recvmsg() into `buf`: the next datagram (udp_recvmsg(), raw_recvmsg()), or with
    /// MSG_ERRQUEUE the next extended error (ip_recv_error()). EAGAIN when there is none;
    /// the core never blocks.
    pub fn recvmsg(
        &mut self,
        fd: SockFd,
        buf: &mut [u8],
        flags: u32,
    ) -> Result<RecvMsg, SockError> {
        self.sock_recvmsg(fd, buf, flags, &mut None)
    }

    /// recvmsg(), and into `pktinfo` the datagram's IP_PKTINFO whether or not the socket
    /// asked for it.
    pub(crate) fn sock_recvmsg(
        &mut self,
        fd: SockFd,
        buf: &mut [u8],
        flags: u32,
        pktinfo: &mut Option<PktInfo>,
    ) -> Result<RecvMsg, SockError> {
        if flags & MSG_ERRQUEUE != 0 {
            return self.ip_recv_error(fd, buf);
        }
        if flags & MSG_OOB != 0 {
            return Err(SockError::OpNotSupp);
        }
        let s = self.socks.get(fd)?;
        s.sock_error()?;
        if flags & MSG_PEEK != 0 {
            return s.recv_peek(buf, flags, pktinfo);
        }
        if s.reader.is_empty() && s.rx.len() > 1 {
            core::mem::swap(&mut s.reader, &mut s.rx);
        }
        // A lone datagram is read where it is: splicing one entry gains nothing.
        let in_reader = !s.reader.is_empty();
        let queue = if in_reader { &mut s.reader } else { &mut s.rx };
        let Some(e) = queue.pop_front() else {
            return Err(SockError::Again);
        };
        let msg = match e.recv_msg(s, 0, buf, flags, pktinfo) {
            Ok(msg) => msg,
            Err(err) => {
                // Not read: it stays first in line.
                let queue = if in_reader { &mut s.reader } else { &mut s.rx };
                queue.push_front(e);
                return Err(err);
            }
        };
        if s.peek_off >= 0 {
            s.peek_off = (s.peek_off - msg.len as i32).max(0);
        }
        s.rmem -= e.truesize;
        let kind = s.kind;
        self.pool.recycle(e.skb);
        match kind {
            Kind::Udp => self.mib.udp.in_datagrams += 1,
            Kind::UdpLite => self.mib.udp_lite.in_datagrams += 1,
            Kind::Raw => {}
        }
        Ok(msg)
    }

    /// recvmmsg(): up to `bufs.len()` datagrams in one call, each as recvmsg() returns
    /// it, appended to `out`. Returns how many; EAGAIN (or the first error) only when
    /// there was none.
    pub fn recvmmsg(
        &mut self,
        fd: SockFd,
        bufs: &mut [&mut [u8]],
        flags: u32,
        out: &mut Vec<RecvMsg>,
    ) -> Result<usize, SockError> {
        let mut n = 0;
        for buf in bufs.iter_mut() {
            match self.recvmsg(fd, buf, flags) {
                Ok(m) => {
                    out.push(m);
                    n += 1;
                }
                Err(e) if n == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(n)
    }

    /// recv_from(): recvmsg() without control messages.
    pub fn recv_from(
        &mut self,
        fd: SockFd,
        buf: &mut [u8],
        flags: u32,
    ) -> Result<(usize, SocketAddrV4), SockError> {
        let m = self.recvmsg(fd, buf, flags)?;
        let addr = m
            .addr
            .unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
        Ok((m.len, addr))
    }

    /// Linux ip_recv_error(): the next extended error with its IP_RECVERR cmsg; the next
    /// queued error becomes the socket's pending one.
    fn ip_recv_error(&mut self, fd: SockFd, buf: &mut [u8]) -> Result<RecvMsg, SockError> {
        let s = self.socks.get(fd)?;
        let e = s.err_queue.pop_front().ok_or(SockError::Again)?;
        s.rmem = s.rmem.saturating_sub(e.truesize);
        s.err = s.err_queue.front().map_or(0, |n| n.ee.errno.errno());
        let copied = buf.len().min(e.payload.len());
        buf[..copied].copy_from_slice(&e.payload[..copied]);
        let mut flags = MSG_ERRQUEUE;
        if copied < e.payload.len() {
            flags |= MSG_TRUNC;
        }
        Ok(RecvMsg {
            len: copied,
            addr: Some(e.addr),
            flags,
            cmsgs: RecvCmsgs {
                err: Some(e.ee),
                ..RecvCmsgs::default()
            },
        })
    }

    /// Queues an extended error when the socket asked for them (IP_RECVERR); Linux
    /// ip_icmp_error() / ip_local_error() + sock_queue_err_skb(), charged to rcvbuf.
    pub(crate) fn sock_queue_err(
        &mut self,
        slot: u32,
        ee: ExtendedErr,
        addr: SocketAddrV4,
        payload: &[u8],
    ) {
        let s = self.socks.slot(slot);
        if !s.recverr {
            return;
        }
        let truesize = payload.len() + SKB_OVERHEAD;
        if s.rmem + truesize >= s.rcvbuf {
            return;
        }
        s.rmem += truesize;
        s.err_queue.push_back(ErrEntry {
            ee,
            addr,
            payload: payload.to_vec(),
            truesize,
        });
        s.err = ee.errno.errno();
    }

    /// ip_local_error(): EMSGSIZE found before sending, with the MTU.
    pub(crate) fn ip_local_error(&mut self, fd: SockFd, daddr: Ipv4Addr, dport: u16, mtu: u32) {
        let ee = ExtendedErr {
            errno: SockError::MsgSize,
            origin: SO_EE_ORIGIN_LOCAL,
            icmp_type: 0,
            icmp_code: 0,
            info: mtu,
            offender: None,
        };
        self.sock_queue_err(fd.0, ee, SocketAddrV4::new(daddr, dport), &[]);
    }

    /// Linux sock_queue_rcv_skb() / __udp_enqueue_schedule_skb(): queues a datagram if the
    /// receive buffer has room, else counts a drop on the socket and returns the buffer.
    pub(crate) fn sock_queue_rcv(&mut self, slot: u32, entry: RxEntry) -> Result<(), SkBuff> {
        let s = self.socks.slot(slot);
        if s.rcvbuf_full() {
            s.drops += 1;
            return Err(entry.skb);
        }
        s.rmem += entry.truesize;
        s.rx.push_back(entry);
        Ok(())
    }
}
