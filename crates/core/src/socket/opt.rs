//! setsockopt() and getsockopt(): Linux net/core/sock.c sk_setsockopt(),
//! net/ipv4/ip_sockglue.c do_ip_setsockopt(), udp.c udp_lib_setsockopt(), raw.c.

use super::mcast::{GroupSourceReq, IpMreqSource, IpMsfilter, SourceOp};
use super::{
    IPPROTO_UDP, Kind, SOCK_DGRAM, SOCK_MIN_RCVBUF, SOCK_MIN_SNDBUF, SOCK_RAW, SockError, SockFd,
};
use crate::ipv4::output::PmtuDisc;
use crate::stack::Stack;
use skiff_wire::Ipv4Addr;
use skiff_wire::ipv4 as wire;
use std::time::Duration;

/// Linux `struct ip_mreqn`: a group, and the interface by index or by local address
/// (both 0: the route to the group decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpMreqn {
    pub multiaddr: Ipv4Addr,
    pub address: Ipv4Addr,
    pub ifindex: u32,
}

/// Linux `UDP_MAX_SEGMENTS`.
pub const UDP_MAX_SEGMENTS: usize = 128;

/// A socket option to set. Integer values are checked as Linux checks the `int`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SockOpt {
    // SOL_SOCKET
    Broadcast(bool),
    ReuseAddr(bool),
    ReusePort(bool),
    /// SO_RCVBUF: doubled, capped at `rmem_max`, at least SOCK_MIN_RCVBUF.
    RcvBuf(i32),
    SndBuf(i32),
    /// SO_RCVTIMEO / SO_SNDTIMEO for the blocking API (`None`: wait forever).
    RcvTimeo(Option<Duration>),
    SndTimeo(Option<Duration>),
    NoCheck(bool),
    /// SO_PEEK_OFF: a negative value turns it off.
    PeekOff(i32),
    /// SO_MARK (needs the raw capability).
    Mark(u32),
    /// SO_PRIORITY (above 6 needs the raw capability).
    Priority(i32),
    // SOL_IP
    /// IP_TTL: 1..=255, or -1 for `ip_default_ttl`.
    Ttl(i32),
    Tos(i32),
    /// IP_MTU_DISCOVER: `IP_PMTUDISC_*` 0..=5.
    MtuDiscover(i32),
    RecvErr(bool),
    PktInfo(bool),
    RecvTtl(bool),
    RecvTos(bool),
    /// IP_HDRINCL (raw sockets).
    HdrIncl(bool),
    /// IP_ROUTER_ALERT (raw sockets): forwarded packets of the socket's protocol that
    /// carry the router alert option come to the socket instead of being forwarded.
    RouterAlert(bool),
    /// IP_OPTIONS: sent with every datagram (at most 40 bytes).
    Options(Vec<u8>),
    /// IP_MULTICAST_TTL: 0..=255, -1 for 1.
    MulticastTtl(i32),
    MulticastLoop(bool),
    /// IP_MULTICAST_IF: both zero resets.
    MulticastIf {
        ifindex: u32,
        addr: Ipv4Addr,
    },
    AddMembership(IpMreqn),
    DropMembership(IpMreqn),
    /// IP_ADD_SOURCE_MEMBERSHIP: join in INCLUDE mode and add the source.
    AddSourceMembership(IpMreqSource),
    DropSourceMembership(IpMreqSource),
    /// IP_BLOCK_SOURCE: exclude a source of an any-source membership.
    BlockSource(IpMreqSource),
    UnblockSource(IpMreqSource),
    /// MCAST_JOIN_GROUP / MCAST_LEAVE_GROUP (`struct group_req`, AF_INET).
    McastJoinGroup {
        ifindex: u32,
        group: Ipv4Addr,
    },
    McastLeaveGroup {
        ifindex: u32,
        group: Ipv4Addr,
    },
    McastJoinSourceGroup(GroupSourceReq),
    McastLeaveSourceGroup(GroupSourceReq),
    McastBlockSource(GroupSourceReq),
    McastUnblockSource(GroupSourceReq),
    /// IP_MSFILTER: a group's whole source filter.
    MsFilter(IpMsfilter),
    /// IP_MULTICAST_ALL.
    MulticastAll(bool),
    // SOL_UDP
    UdpCork(bool),
    /// UDP_SEGMENT: 0..=65535.
    UdpSegment(i32),
    UdpGro(bool),
    /// UDPLITE_SEND_CSCOV / UDPLITE_RECV_CSCOV.
    UdpLiteSendCscov(i32),
    UdpLiteRecvCscov(i32),
    // SOL_RAW
    /// ICMP_FILTER: bit n drops ICMP type n (raw IPPROTO_ICMP sockets).
    IcmpFilter(u32),
}

/// A socket option to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockOptName {
    Broadcast,
    ReuseAddr,
    ReusePort,
    RcvBuf,
    SndBuf,
    /// In microseconds; 0 is "wait forever".
    RcvTimeo,
    SndTimeo,
    NoCheck,
    PeekOff,
    Mark,
    Priority,
    /// SO_ERROR: takes the pending error.
    Error,
    Type,
    Protocol,
    Ttl,
    Tos,
    MtuDiscover,
    /// IP_MTU: the path MTU of a connected socket.
    Mtu,
    RecvErr,
    PktInfo,
    RecvTtl,
    RecvTos,
    HdrIncl,
    MulticastTtl,
    MulticastLoop,
    MulticastAll,
    UdpCork,
    UdpSegment,
    UdpGro,
    IcmpFilter,
}

impl Stack {
    /// setsockopt().
    pub fn setsockopt(&mut self, fd: SockFd, opt: SockOpt) -> Result<(), SockError> {
        let cap = self.cap_net_raw;
        let (rmem_max, wmem_max) = (self.sysctl.rmem_max, self.sysctl.wmem_max);
        let s = self.socks.get(fd)?;
        let udp = s.is_udp();
        match opt {
            SockOpt::Broadcast(v) => s.broadcast = v,
            SockOpt::ReuseAddr(v) => s.reuseaddr = v,
            SockOpt::ReusePort(v) => s.reuseport = v,
            // The int is read as unsigned (min_t(u32, ...)): a negative value is huge.
            SockOpt::RcvBuf(v) => {
                s.rcvbuf = ((v as u32).min(rmem_max) as usize * 2).max(SOCK_MIN_RCVBUF)
            }
            SockOpt::SndBuf(v) => {
                s.sndbuf = ((v as u32).min(wmem_max) as usize * 2).max(SOCK_MIN_SNDBUF)
            }
            SockOpt::RcvTimeo(t) => s.rcvtimeo = t.filter(|d| !d.is_zero()),
            SockOpt::SndTimeo(t) => s.sndtimeo = t.filter(|d| !d.is_zero()),
            SockOpt::NoCheck(v) => s.no_check_tx = v,
            SockOpt::PeekOff(v) => {
                // Raw sockets have no set_peek_off.
                if !udp {
                    return Err(SockError::OpNotSupp);
                }
                // Any negative value turns it off (and reads back as set).
                s.peek_off = v;
            }
            SockOpt::Mark(v) => {
                if !cap {
                    return Err(SockError::Perm);
                }
                if s.mark != v {
                    s.mark = v;
                    s.dst_cache = None;
                }
            }
            SockOpt::Priority(v) => {
                if !(0..=6).contains(&v) && !cap {
                    return Err(SockError::Perm);
                }
                s.priority = v as u32;
            }
            SockOpt::Ttl(v) => {
                s.ttl = match v {
                    -1 => None,
                    1..=255 => Some(v as u8),
                    _ => return Err(SockError::Inval),
                }
            }
            SockOpt::Tos(v) => {
                // __ip_sock_set_tos(): stored as a byte.
                let tos = v as u8;
                if s.tos != tos {
                    s.tos = tos;
                    s.priority = rt_tos2priority(tos);
                    s.dst_cache = None;
                }
            }
            SockOpt::MtuDiscover(v) => {
                s.pmtudisc = PmtuDisc::from_raw(v).ok_or(SockError::Inval)?;
            }
            SockOpt::RecvErr(v) => {
                s.recverr = v;
                if !v {
                    let freed: usize = s.err_queue.drain(..).map(|e| e.truesize).sum();
                    s.rmem = s.rmem.saturating_sub(freed);
                }
            }
            SockOpt::PktInfo(v) => s.pktinfo = v,
            SockOpt::RecvTtl(v) => s.recvttl = v,
            SockOpt::RecvTos(v) => s.recvtos = v,
            SockOpt::HdrIncl(v) => {
                if udp {
                    return Err(SockError::NoProtoOpt);
                }
                s.hdrincl = v;
            }
            SockOpt::RouterAlert(on) => return self.ip_ra_control(fd, on),
            SockOpt::Options(o) => {
                let opt = ip_options_get(&o, cap)?;
                s.opt = opt;
            }
            SockOpt::MulticastTtl(v) => {
                s.mc_ttl = match v {
                    -1 => 1,
                    0..=255 => v as u8,
                    _ => return Err(SockError::Inval),
                }
            }
            SockOpt::MulticastLoop(v) => s.mc_loop = v,
            SockOpt::MulticastIf { ifindex, addr } => {
                if ifindex == 0 && addr.is_unspecified() {
                    s.mc_index = 0;
                    s.mc_addr = Ipv4Addr::UNSPECIFIED;
                    return Ok(());
                }
                let bound = s.bound_dev_if;
                let dev = if ifindex != 0 {
                    self.dev(ifindex).map(|d| d.ifindex)
                } else {
                    self.fib
                        .addrs()
                        .find(|a| a.local == addr)
                        .map(|a| a.ifindex)
                };
                let dev = dev.ok_or(SockError::AddrNotAvail)?;
                if bound != 0 && bound != dev {
                    return Err(SockError::Inval);
                }
                let s = self.socks.get(fd)?;
                s.mc_index = dev;
                s.mc_addr = addr;
            }
            SockOpt::AddMembership(m) => return self.ip_mc_join_group(fd, m),
            SockOpt::DropMembership(m) => return self.ip_mc_leave_group(fd, m),
            SockOpt::AddSourceMembership(r) => {
                return self.ip_mc_source_opt(fd, SourceOp::Join, r, 0);
            }
            SockOpt::DropSourceMembership(r) => {
                return self.ip_mc_source_opt(fd, SourceOp::Drop, r, 0);
            }
            SockOpt::BlockSource(r) => return self.ip_mc_source_opt(fd, SourceOp::Block, r, 0),
            SockOpt::UnblockSource(r) => {
                return self.ip_mc_source_opt(fd, SourceOp::Unblock, r, 0);
            }
            SockOpt::McastJoinGroup { ifindex, group }
            | SockOpt::McastLeaveGroup { ifindex, group } => {
                let m = IpMreqn {
                    multiaddr: group,
                    address: Ipv4Addr::UNSPECIFIED,
                    ifindex,
                };
                return if matches!(opt, SockOpt::McastJoinGroup { .. }) {
                    self.ip_mc_join_group(fd, m)
                } else {
                    self.ip_mc_leave_group(fd, m)
                };
            }
            SockOpt::McastJoinSourceGroup(g)
            | SockOpt::McastLeaveSourceGroup(g)
            | SockOpt::McastBlockSource(g)
            | SockOpt::McastUnblockSource(g) => {
                let op = match opt {
                    SockOpt::McastJoinSourceGroup(_) => SourceOp::Join,
                    SockOpt::McastLeaveSourceGroup(_) => SourceOp::Drop,
                    SockOpt::McastBlockSource(_) => SourceOp::Block,
                    _ => SourceOp::Unblock,
                };
                let r = IpMreqSource {
                    multiaddr: g.group,
                    interface: Ipv4Addr::UNSPECIFIED,
                    sourceaddr: g.source,
                };
                return self.ip_mc_source_opt(fd, op, r, g.ifindex);
            }
            SockOpt::MsFilter(msf) => return self.ip_mc_msfilter(fd, msf, 0),
            SockOpt::MulticastAll(v) => s.mc_all = v,
            SockOpt::UdpCork(v) => {
                if !udp {
                    return Err(SockError::NoProtoOpt);
                }
                s.cork = v;
                if !v {
                    let res = self.udp_push_pending_frames(fd).map(|_| ());
                    self.process_backlog();
                    return res;
                }
            }
            SockOpt::UdpSegment(v) => {
                if !udp {
                    return Err(SockError::NoProtoOpt);
                }
                s.gso_size = u16::try_from(v).map_err(|_| SockError::Inval)?;
            }
            SockOpt::UdpGro(v) => {
                if !udp {
                    return Err(SockError::NoProtoOpt);
                }
                s.gro = v;
            }
            SockOpt::UdpLiteSendCscov(v) | SockOpt::UdpLiteRecvCscov(v) => {
                if s.kind != Kind::UdpLite {
                    return Err(SockError::NoProtoOpt);
                }
                // udp_lib_setsockopt(): 0 is the whole datagram, else at least the header.
                let cov = match v {
                    0 => 0,
                    1..=7 => 8,
                    _ => u16::try_from(v).unwrap_or(u16::MAX),
                };
                if matches!(opt, SockOpt::UdpLiteSendCscov(_)) {
                    s.send_cscov = cov;
                } else {
                    s.recv_cscov = cov;
                }
            }
            SockOpt::IcmpFilter(v) => {
                if udp || s.protocol != wire::IPPROTO_ICMP {
                    return Err(SockError::OpNotSupp);
                }
                s.icmp_filter = v;
            }
        }
        Ok(())
    }

    /// getsockopt(). Flags read as 0 or 1, sizes as Linux reports them (SO_RCVBUF doubled).
    pub fn getsockopt(&mut self, fd: SockFd, name: SockOptName) -> Result<i64, SockError> {
        let default_ttl = self.sysctl.ip_default_ttl;
        let s = self.socks.get(fd)?;
        let udp = s.is_udp();
        let micros =
            |t: Option<Duration>| t.map_or(0, |d| d.as_micros().min(i64::MAX as u128) as i64);
        Ok(match name {
            SockOptName::Broadcast => s.broadcast.into(),
            SockOptName::ReuseAddr => s.reuseaddr.into(),
            SockOptName::ReusePort => s.reuseport.into(),
            SockOptName::RcvBuf => s.rcvbuf as i64,
            SockOptName::SndBuf => s.sndbuf as i64,
            SockOptName::RcvTimeo => micros(s.rcvtimeo),
            SockOptName::SndTimeo => micros(s.sndtimeo),
            SockOptName::NoCheck => s.no_check_tx.into(),
            SockOptName::PeekOff => s.peek_off.into(),
            SockOptName::Mark => s.mark.into(),
            SockOptName::Priority => s.priority.into(),
            SockOptName::Error => core::mem::take(&mut s.err).into(),
            SockOptName::Type => {
                if udp {
                    SOCK_DGRAM.into()
                } else {
                    SOCK_RAW.into()
                }
            }
            SockOptName::Protocol => {
                if s.kind == Kind::Udp {
                    IPPROTO_UDP.into()
                } else {
                    s.protocol.into()
                }
            }
            SockOptName::Ttl => s.ttl.unwrap_or(default_ttl).into(),
            SockOptName::Tos => s.tos.into(),
            SockOptName::MtuDiscover => (s.pmtudisc as i32).into(),
            SockOptName::Mtu => return self.ip_mtu(fd).map(i64::from),
            SockOptName::RecvErr => s.recverr.into(),
            SockOptName::PktInfo => s.pktinfo.into(),
            SockOptName::RecvTtl => s.recvttl.into(),
            SockOptName::RecvTos => s.recvtos.into(),
            SockOptName::HdrIncl => s.hdrincl.into(),
            SockOptName::MulticastTtl => s.mc_ttl.into(),
            SockOptName::MulticastLoop => s.mc_loop.into(),
            SockOptName::MulticastAll => s.mc_all.into(),
            SockOptName::UdpCork if udp => s.cork.into(),
            SockOptName::UdpSegment if udp => s.gso_size.into(),
            SockOptName::UdpGro if udp => s.gro.into(),
            SockOptName::IcmpFilter if s.kind == Kind::Raw && s.protocol == wire::IPPROTO_ICMP => {
                s.icmp_filter.into()
            }
            SockOptName::UdpCork | SockOptName::UdpSegment | SockOptName::UdpGro => {
                return Err(SockError::NoProtoOpt);
            }
            SockOptName::IcmpFilter => return Err(SockError::OpNotSupp),
        })
    }

    /// Linux ip_ra_control(): joins or leaves the router alert chain.
    pub(crate) fn ip_ra_control(&mut self, fd: SockFd, on: bool) -> Result<(), SockError> {
        let s = self.socks.get(fd)?;
        if s.kind != Kind::Raw || s.protocol == wire::IPPROTO_RAW {
            return Err(SockError::Inval);
        }
        let chain = &mut self.socks.ra_chain;
        match (chain.iter().position(|&i| i == fd.0), on) {
            (Some(_), true) => Err(SockError::AddrInUse),
            (Some(at), false) => {
                chain.remove(at);
                Ok(())
            }
            (None, true) => {
                chain.push(fd.0);
                Ok(())
            }
            // Linux allocates the entry first, so leaving when not on fails so.
            (None, false) => Err(SockError::NoBufs),
        }
    }

    /// IP_MTU: the MTU of a connected socket's route (sk_dst_get()), else ENOTCONN.
    fn ip_mtu(&mut self, fd: SockFd) -> Result<u32, SockError> {
        let s = self.socks.get(fd)?;
        if !s.connected {
            return Err(SockError::NotConn);
        }
        let cached = s.dst_cache.filter(|d| self.fib.dst_check(d));
        let dst = match cached {
            Some(d) => d,
            None => {
                let s = self.socks.get(fd)?;
                let mut fl = crate::route::Flowi4::new(s.daddr);
                fl.saddr = s.saddr;
                fl.oif = s.bound_dev_if;
                fl.tos = s.tos & 0x1e;
                fl.proto = s.protocol;
                fl.mark = s.mark;
                let d = self
                    .fib
                    .ip_route_output(&fl)
                    .map_err(|_| SockError::NotConn)?;
                self.socks.get(fd)?.dst_cache = Some(d);
                d
            }
        };
        Ok(dst.mtu)
    }
}

/// Linux rt_tos2priority(): the TC priority of a TOS byte.
fn rt_tos2priority(tos: u8) -> u32 {
    const MAP: [u32; 16] = [0, 1, 2, 2, 6, 6, 4, 4, 0, 0, 2, 2, 6, 6, 4, 4];
    MAP[usize::from((tos & 0x1e) >> 1)]
}

/// Linux ip_options_get(): at most 40 bytes, padded with EOL to whole words, and
/// well formed for a socket.
pub(crate) fn ip_options_get(opt: &[u8], cap_net_raw: bool) -> Result<Vec<u8>, SockError> {
    if opt.len() > 40 {
        return Err(SockError::Inval);
    }
    let mut v = opt.to_vec();
    v.resize(opt.len().div_ceil(4) * 4, 0);
    skiff_wire::ip_options::Ipv4Options::parse(
        &v,
        skiff_wire::ip_options::OptionsOrigin::Socket { cap_net_raw },
    )
    .map_err(|_| SockError::Inval)?;
    Ok(v)
}
