//! Message types of sendmsg() and recvmsg(): Linux include/linux/socket.h (`struct msghdr`,
//! `MSG_*`), the control messages of ip_sockglue.c ip_cmsg_send() / ip_cmsg_recv_offset(),
//! and include/uapi/linux/errqueue.h `struct sock_extended_err`.

use super::SockError;
use crate::ipv4::icmp::IcmpErr;
use skiff_wire::Ipv4Addr;
use std::net::SocketAddrV4;

pub const MSG_OOB: u32 = 0x1;
pub const MSG_PEEK: u32 = 0x2;
pub const MSG_DONTROUTE: u32 = 0x4;
pub const MSG_PROBE: u32 = 0x10;
pub const MSG_TRUNC: u32 = 0x20;
pub const MSG_DONTWAIT: u32 = 0x40;
pub const MSG_CONFIRM: u32 = 0x800;
pub const MSG_ERRQUEUE: u32 = 0x2000;
pub const MSG_MORE: u32 = 0x8000;

/// `SO_EE_ORIGIN_LOCAL` and `SO_EE_ORIGIN_ICMP`.
pub const SO_EE_ORIGIN_LOCAL: u8 = 1;
pub const SO_EE_ORIGIN_ICMP: u8 = 2;

/// A `struct sockaddr` as the calls take it: IPv4, `AF_UNSPEC` (connect() to
/// disconnect), or another family, which every call refuses as Linux does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockAddr {
    Inet(SocketAddrV4),
    Unspec,
    Other(u16),
}

impl From<SocketAddrV4> for SockAddr {
    fn from(a: SocketAddrV4) -> Self {
        SockAddr::Inet(a)
    }
}

/// A control message for sendmsg(). Linux ip_cmsg_send(), __sock_cmsg_send() and
/// udp_cmsg_send().
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendCmsg {
    /// IP_PKTINFO: the output interface (0: any) and the source address (0.0.0.0: any).
    PktInfo { ifindex: u32, spec_dst: Ipv4Addr },
    /// IP_TTL: 1..=255, else EINVAL.
    Ttl(i32),
    /// IP_TOS: 0..=255, else EINVAL.
    Tos(i32),
    /// IP_RETOPTS: IP options for this datagram (at most 40 bytes).
    RetOpts(Vec<u8>),
    /// SO_MARK (needs the raw capability).
    Mark(u32),
    /// SO_PRIORITY (above 6 needs the raw capability).
    Priority(u32),
    /// UDP_SEGMENT: the GSO segment size.
    UdpSegment(u16),
    /// Any control message in its wire form (`cmsg_level`, `cmsg_type`, data), checked
    /// as Linux checks it.
    Raw {
        level: i32,
        kind: i32,
        data: Vec<u8>,
    },
}

pub(crate) const SOL_IP: i32 = 0;
pub(crate) const SOL_SOCKET: i32 = 1;
pub(crate) const SOL_UDP: i32 = 17;

/// A sendmsg() call.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendMsg<'a> {
    pub data: &'a [u8],
    /// `msg_name`: the destination, or `None` for a connected socket's peer.
    pub addr: Option<SockAddr>,
    pub cmsgs: &'a [SendCmsg],
    /// `MSG_*` flags.
    pub flags: u32,
}

/// IP_PKTINFO on receive. Linux `struct in_pktinfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PktInfo {
    pub ifindex: u32,
    /// The local address a reply would come from (fib_compute_spec_dst()).
    pub spec_dst: Ipv4Addr,
    /// The header's destination address.
    pub addr: Ipv4Addr,
}

/// An extended error from the error queue. Linux `struct sock_extended_err` plus the
/// offender address (`SO_EE_OFFENDER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtendedErr {
    pub errno: SockError,
    /// `SO_EE_ORIGIN_ICMP` or `SO_EE_ORIGIN_LOCAL`.
    pub origin: u8,
    pub icmp_type: u8,
    pub icmp_code: u8,
    /// The MTU of a fragmentation-needed or of a local EMSGSIZE.
    pub info: u32,
    /// The host that sent the ICMP error; `None` for local errors.
    pub offender: Option<Ipv4Addr>,
}

/// The control messages recvmsg() returns, in Linux's order (ip_cmsg_recv_offset()).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecvCmsgs {
    /// IP_PKTINFO.
    pub pktinfo: Option<PktInfo>,
    /// IP_TTL (IP_RECVTTL on).
    pub ttl: Option<u8>,
    /// IP_TOS (IP_RECVTOS on).
    pub tos: Option<u8>,
    /// IP_RECVERR, from MSG_ERRQUEUE.
    pub err: Option<ExtendedErr>,
    /// UDP_GRO: the segment size of a coalesced datagram.
    pub gso_size: Option<u16>,
}

/// What recvmsg() returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvMsg {
    /// The return value: bytes copied, or the datagram's length with MSG_TRUNC.
    pub len: usize,
    /// `msg_name`: the source (or, from the error queue, the original destination).
    pub addr: Option<SocketAddrV4>,
    /// `msg_flags`: MSG_TRUNC, MSG_ERRQUEUE.
    pub flags: u32,
    pub cmsgs: RecvCmsgs,
}

impl ExtendedErr {
    /// An error an ICMP message reported (`SO_EE_ORIGIN_ICMP`), sent by `offender`.
    pub(crate) fn icmp(errno: SockError, icmp: IcmpErr, offender: Ipv4Addr) -> ExtendedErr {
        ExtendedErr {
            errno,
            origin: SO_EE_ORIGIN_ICMP,
            icmp_type: icmp.msg_type().into(),
            icmp_code: icmp.code(),
            info: icmp.info(),
            offender: Some(offender),
        }
    }
}
