//! Raw IPv4 sockets, the minimum the datapath needs: Linux net/ipv4/raw.c
//! raw_local_deliver() (every matching socket gets a copy before the protocol handler),
//! raw_icmp_error(), and raw_sendmsg() without IP_HDRINCL. The socket layer proper
//! (errno-typed creation, options, blocking APIs) comes with the sockets issue.

use crate::drop::DropReason;
use crate::ipv4::input::IpHdr;
use crate::ipv4::output::{IpSend, OutputError, PmtuDisc};
use crate::route::{DstEntry, Flowi4, RouteError};
use crate::skb::SkBuff;
use crate::stack::{Stack, stage};
use core::fmt;
use skiff_wire::Ipv4Addr;
use std::collections::VecDeque;

/// Linux `net.core.rmem_default`: a raw socket's receive buffer.
const RAW_RCVBUF: usize = 212_992;
/// Linux `SKB_TRUESIZE` overhead charged per queued datagram.
const SKB_OVERHEAD: usize = 576;

/// A raw socket handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RawHandle(usize);

/// A datagram a raw socket received: the whole IP packet, header included, as Linux
/// raw sockets return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDatagram {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    pub ifindex: u32,
    pub packet: Vec<u8>,
}

/// A socket call that failed. Each names its errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockError {
    /// EBADF: no such socket.
    BadFd,
    /// EINVAL: a bad argument (protocol 0 or 255, TTL 0...).
    Inval,
    /// EDESTADDRREQ: send() on an unconnected socket.
    DestAddrReq,
    /// EAGAIN: nothing to receive.
    Again,
    /// ENOTCONN: IP_MTU on an unconnected socket.
    NotConn,
    /// An error from the output path (EMSGSIZE, ENETUNREACH, ...).
    Output(OutputError),
}

impl SockError {
    pub fn errno(&self) -> i32 {
        match self {
            SockError::BadFd => 9,
            SockError::Inval => 22,
            SockError::DestAddrReq => 89,
            SockError::Again => 11,
            SockError::NotConn => 107,
            SockError::Output(e) => e.errno(),
        }
    }
}

impl fmt::Display for SockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SockError::BadFd => f.write_str("bad socket (EBADF)"),
            SockError::Inval => f.write_str("invalid argument (EINVAL)"),
            SockError::DestAddrReq => f.write_str("destination address required (EDESTADDRREQ)"),
            SockError::Again => f.write_str("try again (EAGAIN)"),
            SockError::NotConn => f.write_str("not connected (ENOTCONN)"),
            SockError::Output(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SockError {}

impl From<RouteError> for SockError {
    fn from(e: RouteError) -> Self {
        SockError::Output(OutputError::Route(e))
    }
}

#[derive(Debug)]
struct RawSock {
    protocol: u8,
    ttl: Option<u8>,
    tos: u8,
    /// connect(): the peer, and the cached route (sk_dst_cache, checked by genid).
    peer: Option<Ipv4Addr>,
    dst_cache: Option<DstEntry>,
    rx: VecDeque<RawDatagram>,
    rx_bytes: usize,
    drops: u64,
    /// The last ICMP error for a connected socket (`sk_err`), as an errno.
    err: Option<i32>,
    /// IP_MTU_DISCOVER.
    pmtudisc: PmtuDisc,
}

#[derive(Debug, Default)]
pub(crate) struct RawSockets {
    socks: Vec<Option<RawSock>>,
}

impl RawSockets {
    fn get(&mut self, h: RawHandle) -> Result<&mut RawSock, SockError> {
        self.socks
            .get_mut(h.0)
            .and_then(Option::as_mut)
            .ok_or(SockError::BadFd)
    }
}

impl Stack {
    /// socket(AF_INET, SOCK_RAW, protocol).
    pub fn raw_socket(&mut self, protocol: u8) -> Result<RawHandle, SockError> {
        if protocol == 0 || protocol == 255 {
            return Err(SockError::Inval);
        }
        let sock = RawSock {
            protocol,
            ttl: None,
            tos: 0,
            peer: None,
            dst_cache: None,
            rx: VecDeque::new(),
            rx_bytes: 0,
            drops: 0,
            err: None,
            // inet_create()
            pmtudisc: if self.sysctl.ip_no_pmtu_disc != 0 {
                PmtuDisc::Dont
            } else {
                PmtuDisc::Want
            },
        };
        let slot = self.raw.socks.iter().position(Option::is_none);
        let i = match slot {
            Some(i) => {
                self.raw.socks[i] = Some(sock);
                i
            }
            None => {
                self.raw.socks.push(Some(sock));
                self.raw.socks.len() - 1
            }
        };
        Ok(RawHandle(i))
    }

    pub fn raw_close(&mut self, h: RawHandle) -> Result<(), SockError> {
        self.raw.get(h)?;
        self.raw.socks[h.0] = None;
        Ok(())
    }

    /// setsockopt(IP_TTL): 1..=255; `None` restores the default (ip_default_ttl).
    pub fn raw_set_ttl(&mut self, h: RawHandle, ttl: Option<u8>) -> Result<(), SockError> {
        if ttl == Some(0) {
            return Err(SockError::Inval);
        }
        self.raw.get(h)?.ttl = ttl;
        Ok(())
    }

    /// setsockopt(IP_TOS).
    pub fn raw_set_tos(&mut self, h: RawHandle, tos: u8) -> Result<(), SockError> {
        self.raw.get(h)?.tos = tos;
        Ok(())
    }

    /// setsockopt(IP_MTU_DISCOVER).
    pub fn raw_set_mtu_discover(&mut self, h: RawHandle, mode: PmtuDisc) -> Result<(), SockError> {
        self.raw.get(h)?.pmtudisc = mode;
        Ok(())
    }

    /// getsockopt(IP_MTU): the path MTU of a connected socket's route, else ENOTCONN.
    pub fn raw_mtu(&mut self, h: RawHandle) -> Result<u32, SockError> {
        let s = self.raw.get(h)?;
        let (peer, tos, protocol) = (s.peer.ok_or(SockError::NotConn)?, s.tos, s.protocol);
        let mut fl = Flowi4::new(peer);
        fl.tos = tos;
        fl.proto = protocol;
        Ok(self.fib.ip_route_output(&fl)?.mtu)
    }

    /// connect(): fixes the peer; send() then uses the cached route.
    pub fn raw_connect(&mut self, h: RawHandle, peer: Ipv4Addr) -> Result<(), SockError> {
        let s = self.raw.get(h)?;
        s.peer = Some(peer);
        s.dst_cache = None;
        Ok(())
    }

    /// sendto(): raw_sendmsg() without IP_HDRINCL; `payload` is the protocol header and data.
    pub fn raw_sendto(
        &mut self,
        now: crate::time::Instant,
        h: RawHandle,
        daddr: Ipv4Addr,
        payload: &[u8],
    ) -> Result<usize, SockError> {
        self.now = now;
        let s = self.raw.get(h)?;
        let tos = s.tos;
        let mut fl = Flowi4::new(daddr);
        fl.tos = tos;
        fl.proto = s.protocol;
        self.trace_begin(0, "sendto");
        let dst = self.fib.ip_route_output(&fl);
        self.raw_xmit(h, dst, daddr, payload, false)
    }

    /// send() on a connected raw socket: Linux ip_queue_xmit() semantics, reusing the
    /// socket's cached route while `sk_dst_check` holds and routing again when it does not.
    pub fn raw_send(
        &mut self,
        now: crate::time::Instant,
        h: RawHandle,
        payload: &[u8],
    ) -> Result<usize, SockError> {
        self.now = now;
        let s = self.raw.get(h)?;
        let (peer, tos, protocol, cache) = (
            s.peer.ok_or(SockError::DestAddrReq)?,
            s.tos,
            s.protocol,
            s.dst_cache,
        );
        self.trace_begin(0, "send");
        stage!(self, "ip_queue_xmit");
        let cached = cache.filter(|d| self.fib.dst_check(d));
        let dst = match cached {
            Some(dst) => Ok(dst),
            None => {
                let mut fl = Flowi4::new(peer);
                fl.tos = tos;
                fl.proto = protocol;
                self.fib.ip_route_output(&fl)
            }
        };
        self.raw_xmit(h, dst, peer, payload, true)
    }

    /// Sends on the route found for `daddr` (caching it on a connected socket), then
    /// runs what looped back. A routing failure counts OutNoRoutes.
    fn raw_xmit(
        &mut self,
        h: RawHandle,
        dst: Result<DstEntry, RouteError>,
        daddr: Ipv4Addr,
        payload: &[u8],
        cache: bool,
    ) -> Result<usize, SockError> {
        let res = match dst {
            Ok(dst) => {
                if cache {
                    self.raw.get(h)?.dst_cache = Some(dst);
                }
                self.raw_send_routed(h, dst, daddr, payload)
            }
            Err(e) => {
                self.mib.ip.out_no_routes += 1;
                Err(e.into())
            }
        };
        self.trace_end();
        self.process_backlog();
        res
    }

    fn raw_send_routed(
        &mut self,
        h: RawHandle,
        dst: DstEntry,
        daddr: Ipv4Addr,
        payload: &[u8],
    ) -> Result<usize, SockError> {
        stage!(self, "raw_sendmsg");
        let s = self.raw.get(h)?;
        let pmtudisc = s.pmtudisc;
        let mut dst = dst;
        // ip_skb_dst_mtu(): PROBE and above size by the device, not the path.
        if !pmtudisc.use_pmtu()
            && let Some(dev) = self.fib.device(dst.dev)
        {
            dst.mtu = dev.mtu;
        }
        let len = 20 + payload.len();
        let p = IpSend {
            saddr: dst.saddr,
            daddr,
            protocol: s.protocol,
            ttl: s.ttl.unwrap_or(self.sysctl.ip_default_ttl),
            tos: s.tos,
            df: pmtudisc.df(len, &dst),
            ignore_df: pmtudisc.ignore_df(),
        };
        // __ip_append_data(): at most 64 KiB, and no more than the MTU unless the socket
        // lets the datagram be fragmented (maxnonfragsize).
        let max = if p.ignore_df {
            0xffff
        } else {
            dst.mtu as usize
        };
        if len > max.min(0xffff) {
            return Err(SockError::Output(OutputError::MsgSize));
        }
        self.ip_append_data(&dst, p, payload)
            .map_err(SockError::Output)?;
        Ok(payload.len())
    }

    /// recvfrom(): the next datagram, or EAGAIN.
    pub fn raw_recv(&mut self, h: RawHandle) -> Result<RawDatagram, SockError> {
        let s = self.raw.get(h)?;
        let d = s.rx.pop_front().ok_or(SockError::Again)?;
        s.rx_bytes -= d.packet.len() + SKB_OVERHEAD;
        Ok(d)
    }

    /// SO_ERROR: takes the pending error of a connected socket.
    pub fn raw_take_error(&mut self, h: RawHandle) -> Result<Option<i32>, SockError> {
        Ok(self.raw.get(h)?.err.take())
    }

    /// Datagrams dropped because the receive buffer was full (sk_drops).
    pub fn raw_drops(&mut self, h: RawHandle) -> Result<u64, SockError> {
        Ok(self.raw.get(h)?.drops)
    }

    /// Linux raw_local_deliver(): a copy for every raw socket of the protocol whose peer
    /// (if connected) is the source. `skb.data()` is past the IP header. Returns whether
    /// any socket matched.
    pub(crate) fn raw_local_deliver(&mut self, skb: &SkBuff, h: &IpHdr) -> bool {
        if self.raw.socks.is_empty() {
            return false;
        }
        let Some(packet) = skb.network_header_bytes() else {
            return false;
        };
        let mut matched = false;
        let mut full = 0;
        let len = packet.len() + skb.data_len();
        for s in self.raw.socks.iter_mut().flatten() {
            if s.protocol != h.protocol || s.peer.is_some_and(|p| p != h.saddr) {
                continue;
            }
            matched = true;
            let cost = len + SKB_OVERHEAD;
            if s.rx_bytes + cost > RAW_RCVBUF {
                s.drops += 1;
                full += 1;
                continue;
            }
            s.rx_bytes += cost;
            // skb_copy_datagram_msg(): straight from the pieces of a reassembled datagram.
            let mut bytes = Vec::with_capacity(len);
            bytes.extend_from_slice(packet);
            for frag in &skb.frag_list {
                frag.for_each_chunk(&mut |c| bytes.extend_from_slice(c));
            }
            s.rx.push_back(RawDatagram {
                src: h.saddr,
                dst: h.daddr,
                ttl: h.ttl,
                ifindex: skb.iif,
                packet: bytes,
            });
        }
        for _ in 0..full {
            self.count_drop(DropReason::SocketRcvbuff);
        }
        if matched {
            stage!(self, "raw_local_deliver");
        }
        matched
    }

    /// Linux raw_icmp_error() / raw_err(): a connected socket whose packet drew the error
    /// records it (ECONNREFUSED for port/protocol unreachable, EHOSTUNREACH otherwise, as
    /// icmp_err_convert maps them). Returns whether any socket of the protocol matched
    /// (Linux then learns the path MTU of a fragmentation-needed).
    pub(crate) fn raw_icmp_error(
        &mut self,
        protocol: u8,
        dst: Ipv4Addr,
        icmp_type: u8,
        code: u8,
        _info: u32,
    ) -> bool {
        let errno = match (icmp_type, code) {
            (3, 0) | (3, 6) | (3, 9) | (3, 11) => 101, // ENETUNREACH
            (3, 2) => 92,                              // ENOPROTOOPT
            (3, 3) => 111,                             // ECONNREFUSED
            (3, 4) => 90,                              // EMSGSIZE
            (3, 5) => 95,                              // EOPNOTSUPP
            (3, 10) | (3, 13) => 13,                   // EACCES
            (11, _) => 113,                            // EHOSTUNREACH
            (12, _) => 71,                             // EPROTO
            _ => 113,                                  // EHOSTUNREACH
        };
        let mut matched = false;
        for s in self.raw.socks.iter_mut().flatten() {
            if s.protocol == protocol && s.peer.is_none_or(|p| p == dst) {
                matched = true;
                if s.peer.is_some() {
                    s.err = Some(errno);
                }
            }
        }
        matched
    }
}
