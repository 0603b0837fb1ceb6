//! The same sequences of socket calls against the Linux kernel (socket2 on loopback in a
//! private network namespace, `lo` at MTU 1500 with 10.0.0.1/32) and against skiff
//! (`lo` set up the same way), comparing every return value and errno.
//!
//! Needs root for the namespace: the test re-runs itself under `unshare --net`. Without
//! root it is skipped with a reason, and with CI=true a skip fails.

mod common;

use skiff_core::socket::{self as sk, SendCmsg, SendMsg, SockAddr, SockFd, SockOpt, SockOptName};
use skiff_core::{Stack, StackConfig};
use socket2::{Domain, MaybeUninitSlice, MsgHdr, MsgHdrMut, Protocol, Socket, Type};
use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;

const ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

/// A call's outcome: a value, or the errno.
type R = Result<i64, i32>;

/// The socket calls both sides implement. Option levels and names are Linux's numbers.
trait Api {
    fn socket(&mut self, family: i32, ty: i32, proto: i32) -> Result<usize, i32>;
    fn bind(&mut self, s: usize, a: SocketAddrV4) -> R;
    fn connect(&mut self, s: usize, a: Option<SocketAddrV4>) -> R;
    fn sendto(&mut self, s: usize, data: &[u8], flags: i32, to: Option<SocketAddrV4>) -> R;
    fn send_gso(&mut self, s: usize, data: &[u8], to: SocketAddrV4, gso: u16) -> R;
    /// (return value, MSG_TRUNC set, source port)
    fn recv(&mut self, s: usize, len: usize, flags: i32) -> Result<(i64, bool, u16), i32>;
    fn setopt(&mut self, s: usize, level: i32, name: i32, val: i32) -> R;
    fn getopt(&mut self, s: usize, level: i32, name: i32) -> R;
    fn local_port(&mut self, s: usize) -> u16;
}

const SOL_SOCKET: i32 = 1;
const SOL_IP: i32 = 0;
const SOL_UDP: i32 = 17;
const SO_REUSEADDR: i32 = 2;
const SO_BROADCAST: i32 = 6;
const SO_SNDBUF: i32 = 7;
const SO_RCVBUF: i32 = 8;
const SO_REUSEPORT: i32 = 15;
const SO_PEEK_OFF: i32 = 42;
const IP_TOS: i32 = 1;
const IP_TTL: i32 = 2;
const IP_ROUTER_ALERT: i32 = 5;
const IP_MTU_DISCOVER: i32 = 10;
const IP_MTU: i32 = 14;
const IP_MULTICAST_TTL: i32 = 33;
const IP_MULTICAST_LOOP: i32 = 34;
const IP_RECVTTL: i32 = 12;
const IP_PKTINFO: i32 = 8;
const SO_NO_CHECK: i32 = 11;
const IP_RECVERR: i32 = 11;
const MSG_ERRQUEUE: i32 = 0x2000;
const UDP_CORK: i32 = 1;
const UDP_SEGMENT: i32 = 103;
const MSG_PEEK: i32 = 2;
const MSG_TRUNC: i32 = 0x20;
const MSG_DONTWAIT: i32 = 0x40;
const MSG_OOB: i32 = 1;
const MSG_MORE: i32 = 0x8000;

struct Linux {
    socks: Vec<Socket>,
}

fn errno(e: std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(-1)
}

impl Api for Linux {
    fn socket(&mut self, family: i32, ty: i32, proto: i32) -> Result<usize, i32> {
        let s = Socket::new_raw(
            Domain::from(family),
            Type::from(ty),
            Some(Protocol::from(proto)),
        )
        .map_err(errno)?;
        self.socks.push(s);
        Ok(self.socks.len() - 1)
    }
    fn bind(&mut self, s: usize, a: SocketAddrV4) -> R {
        self.socks[s].bind(&a.into()).map(|()| 0).map_err(errno)
    }
    fn connect(&mut self, s: usize, a: Option<SocketAddrV4>) -> R {
        let addr = match a {
            Some(a) => a.into(),
            None => {
                // AF_UNSPEC: a zeroed address of sockaddr_in's size.
                let mut storage = socket2::SockAddrStorage::zeroed();
                // SAFETY: sockaddr_in is plain data that fits in the storage.
                let sin = unsafe { storage.view_as::<libc::sockaddr_in>() };
                sin.sin_family = libc::AF_UNSPEC as libc::sa_family_t;
                // SAFETY: the storage holds an initialised sockaddr_in's worth of bytes.
                unsafe { socket2::SockAddr::new(storage, 16) }
            }
        };
        self.socks[s].connect(&addr).map(|()| 0).map_err(errno)
    }
    fn sendto(&mut self, s: usize, data: &[u8], flags: i32, to: Option<SocketAddrV4>) -> R {
        let r = match to {
            Some(a) => self.socks[s].send_to_with_flags(data, &a.into(), flags),
            None => self.socks[s].send_with_flags(data, flags),
        };
        r.map(|n| n as i64).map_err(errno)
    }
    fn send_gso(&mut self, s: usize, data: &[u8], to: SocketAddrV4, gso: u16) -> R {
        let mut control = vec![0u8; 24];
        // struct cmsghdr { size_t len; int level; int type; } + u16, padded.
        control[0..8].copy_from_slice(&18u64.to_ne_bytes());
        control[8..12].copy_from_slice(&SOL_UDP.to_ne_bytes());
        control[12..16].copy_from_slice(&UDP_SEGMENT.to_ne_bytes());
        control[16..18].copy_from_slice(&gso.to_ne_bytes());
        let to = to.into();
        let bufs = [IoSlice::new(data)];
        let msg = MsgHdr::new()
            .with_addr(&to)
            .with_buffers(&bufs)
            .with_control(&control);
        self.socks[s]
            .sendmsg(&msg, 0)
            .map(|n| n as i64)
            .map_err(errno)
    }
    fn recv(&mut self, s: usize, len: usize, flags: i32) -> Result<(i64, bool, u16), i32> {
        let mut buf = vec![MaybeUninit::<u8>::uninit(); len];
        let mut from = socket2::SockAddr::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
        let mut bufs = [MaybeUninitSlice::new(&mut buf)];
        let mut msg = MsgHdrMut::new()
            .with_addr(&mut from)
            .with_buffers(&mut bufs);
        let n = self.socks[s]
            .recvmsg(&mut msg, flags | MSG_DONTWAIT)
            .map_err(errno)?;
        let trunc = msg.flags().is_truncated();
        let port = from.as_socket_ipv4().map_or(0, |a| a.port());
        Ok((n as i64, trunc, port))
    }
    fn setopt(&mut self, s: usize, level: i32, name: i32, val: i32) -> R {
        let fd = self.socks[s].as_raw_fd();
        // SAFETY: `val` is a live int and the length says so.
        let r = unsafe { libc::setsockopt(fd, level, name, (&val as *const i32).cast(), 4) };
        if r == 0 {
            Ok(0)
        } else {
            Err(errno(std::io::Error::last_os_error()))
        }
    }
    fn getopt(&mut self, s: usize, level: i32, name: i32) -> R {
        let fd = self.socks[s].as_raw_fd();
        let mut val: i32 = 0;
        let mut len: libc::socklen_t = 4;
        // SAFETY: `val` and `len` are live and describe a 4-byte buffer.
        let r =
            unsafe { libc::getsockopt(fd, level, name, (&mut val as *mut i32).cast(), &mut len) };
        if r == 0 {
            Ok(val.into())
        } else {
            Err(errno(std::io::Error::last_os_error()))
        }
    }
    fn local_port(&mut self, s: usize) -> u16 {
        self.socks[s]
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket_ipv4())
            .map_or(0, |a| a.port())
    }
}

struct Skiff {
    s: Stack,
    fds: Vec<SockFd>,
}

impl Skiff {
    fn new() -> Skiff {
        let mut s = Stack::new(StackConfig {
            cap_net_raw: true,
            ..StackConfig::default()
        });
        s.set_mtu(1, 1500).unwrap();
        s.add_addr(1, ADDR, 32).unwrap();
        // The buffer limits are the host's (net.core is not per namespace).
        for key in ["rmem_max", "wmem_max", "rmem_default", "wmem_default"] {
            let v = std::fs::read_to_string(format!("/proc/sys/net/core/{key}")).unwrap();
            s.set_sysctl(&format!("net.core.{key}"), v.trim()).unwrap();
        }
        Skiff { s, fds: Vec::new() }
    }

    fn opt(level: i32, name: i32, v: i32) -> Option<SockOpt> {
        Some(match (level, name) {
            (SOL_SOCKET, SO_REUSEADDR) => SockOpt::ReuseAddr(v != 0),
            (SOL_SOCKET, SO_REUSEPORT) => SockOpt::ReusePort(v != 0),
            (SOL_SOCKET, SO_BROADCAST) => SockOpt::Broadcast(v != 0),
            (SOL_SOCKET, SO_RCVBUF) => SockOpt::RcvBuf(v),
            (SOL_SOCKET, SO_SNDBUF) => SockOpt::SndBuf(v),
            (SOL_SOCKET, SO_PEEK_OFF) => SockOpt::PeekOff(v),
            (SOL_IP, IP_TTL) => SockOpt::Ttl(v),
            (SOL_IP, IP_TOS) => SockOpt::Tos(v),
            (SOL_IP, IP_MTU_DISCOVER) => SockOpt::MtuDiscover(v),
            (SOL_IP, 3) => SockOpt::HdrIncl(v != 0),
            (SOL_IP, IP_RECVERR) => SockOpt::RecvErr(v != 0),
            (SOL_IP, IP_MULTICAST_TTL) => SockOpt::MulticastTtl(v),
            (SOL_IP, IP_MULTICAST_LOOP) => SockOpt::MulticastLoop(v != 0),
            (SOL_IP, IP_RECVTTL) => SockOpt::RecvTtl(v != 0),
            (SOL_IP, IP_PKTINFO) => SockOpt::PktInfo(v != 0),
            (SOL_SOCKET, SO_NO_CHECK) => SockOpt::NoCheck(v != 0),
            (SOL_IP, IP_ROUTER_ALERT) => SockOpt::RouterAlert(v != 0),
            (SOL_UDP, UDP_CORK) => SockOpt::UdpCork(v != 0),
            (SOL_UDP, UDP_SEGMENT) => SockOpt::UdpSegment(v),
            _ => return None,
        })
    }

    fn optname(level: i32, name: i32) -> Option<SockOptName> {
        Some(match (level, name) {
            (SOL_SOCKET, SO_RCVBUF) => SockOptName::RcvBuf,
            (SOL_SOCKET, SO_SNDBUF) => SockOptName::SndBuf,
            (SOL_SOCKET, SO_PEEK_OFF) => SockOptName::PeekOff,
            (SOL_SOCKET, 4) => SockOptName::Error,
            (SOL_SOCKET, 3) => SockOptName::Type,
            (SOL_SOCKET, 38) => SockOptName::Protocol,
            (SOL_SOCKET, SO_BROADCAST) => SockOptName::Broadcast,
            (SOL_SOCKET, SO_NO_CHECK) => SockOptName::NoCheck,
            (SOL_IP, IP_MULTICAST_TTL) => SockOptName::MulticastTtl,
            (SOL_IP, IP_MULTICAST_LOOP) => SockOptName::MulticastLoop,
            (SOL_IP, IP_RECVTTL) => SockOptName::RecvTtl,
            (SOL_IP, IP_PKTINFO) => SockOptName::PktInfo,
            (SOL_UDP, UDP_CORK) => SockOptName::UdpCork,
            (SOL_IP, IP_TTL) => SockOptName::Ttl,
            (SOL_IP, IP_TOS) => SockOptName::Tos,
            (SOL_IP, IP_MTU_DISCOVER) => SockOptName::MtuDiscover,
            (SOL_IP, IP_MTU) => SockOptName::Mtu,
            (SOL_IP, 3) => SockOptName::HdrIncl,
            (SOL_UDP, UDP_SEGMENT) => SockOptName::UdpSegment,
            _ => return None,
        })
    }
}

const NOW: skiff_core::time::Instant = skiff_core::time::Instant::ZERO;

impl Api for Skiff {
    fn socket(&mut self, family: i32, ty: i32, proto: i32) -> Result<usize, i32> {
        let fd = self.s.socket(family, ty, proto).map_err(|e| e.errno())?;
        self.fds.push(fd);
        Ok(self.fds.len() - 1)
    }
    fn bind(&mut self, s: usize, a: SocketAddrV4) -> R {
        self.s
            .bind(self.fds[s], a.into())
            .map(|()| 0)
            .map_err(|e| e.errno())
    }
    fn connect(&mut self, s: usize, a: Option<SocketAddrV4>) -> R {
        let a = a.map_or(SockAddr::Unspec, SockAddr::from);
        self.s
            .connect(self.fds[s], a)
            .map(|()| 0)
            .map_err(|e| e.errno())
    }
    fn sendto(&mut self, s: usize, data: &[u8], flags: i32, to: Option<SocketAddrV4>) -> R {
        self.s
            .sendto(NOW, self.fds[s], data, flags as u32, to.map(SockAddr::from))
            .map(|n| n as i64)
            .map_err(|e| e.errno())
    }
    fn send_gso(&mut self, s: usize, data: &[u8], to: SocketAddrV4, gso: u16) -> R {
        let cmsgs = [SendCmsg::UdpSegment(gso)];
        let msg = SendMsg {
            data,
            addr: Some(to.into()),
            cmsgs: &cmsgs,
            flags: 0,
        };
        self.s
            .sendmsg(NOW, self.fds[s], &msg)
            .map(|n| n as i64)
            .map_err(|e| e.errno())
    }
    fn recv(&mut self, s: usize, len: usize, flags: i32) -> Result<(i64, bool, u16), i32> {
        let mut buf = vec![0u8; len];
        let m = self
            .s
            .recvmsg(self.fds[s], &mut buf, (flags | MSG_DONTWAIT) as u32)
            .map_err(|e| e.errno())?;
        let port = m.addr.map_or(0, |a| a.port());
        Ok((m.len as i64, m.flags & sk::MSG_TRUNC != 0, port))
    }
    fn setopt(&mut self, s: usize, level: i32, name: i32, val: i32) -> R {
        let opt = Skiff::opt(level, name, val).expect("an option both sides know");
        self.s
            .setsockopt(self.fds[s], opt)
            .map(|()| 0)
            .map_err(|e| e.errno())
    }
    fn getopt(&mut self, s: usize, level: i32, name: i32) -> R {
        let name = Skiff::optname(level, name).expect("an option both sides know");
        self.s.getsockopt(self.fds[s], name).map_err(|e| e.errno())
    }
    fn local_port(&mut self, s: usize) -> u16 {
        self.s.local_addr(self.fds[s]).map_or(0, |a| a.port())
    }
}

fn at(port: u16) -> Option<SocketAddrV4> {
    Some(SocketAddrV4::new(ADDR, port))
}

/// Every sequence, as a log of outcomes to compare line by line.
fn script(api: &mut dyn Api) -> Vec<String> {
    let mut log = Vec::new();
    let mut note = |what: &str, r: &dyn std::fmt::Debug| log.push(format!("{what}: {r:?}"));

    // socket(): family, type and protocol validation.
    for (f, t, p) in [
        (2, 2, 0),
        (2, 2, 17),
        (2, 2, 136),
        (2, 2, 6),
        (2, 2, 1),
        (2, 2, -1),
        (2, 2 | 0x800, 0),
        (2, 2 | 0x100, 0),
        (2, 12, 0),
        (2, 3, 0),
        (2, 3, 1),
        (2, 3, 255),
        (99, 2, 0),
        (-1, 2, 0),
    ] {
        note(
            &format!("socket({f}, {t}, {p})"),
            &api.socket(f, t, p).map(|_| ()),
        );
    }

    // bind(): EADDRINUSE, the wildcard, EADDRNOTAVAIL, bound twice, SO_REUSEADDR/PORT.
    let a = api.socket(2, 2, 0).unwrap();
    let b = api.socket(2, 2, 0).unwrap();
    note("bind a", &api.bind(a, SocketAddrV4::new(ADDR, 9000)));
    note("bind b same", &api.bind(b, SocketAddrV4::new(ADDR, 9000)));
    note(
        "bind b any",
        &api.bind(b, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 9000)),
    );
    note(
        "bind b nonlocal",
        &api.bind(b, SocketAddrV4::new(Ipv4Addr::new(10, 9, 9, 9), 1)),
    );
    note("bind a again", &api.bind(a, SocketAddrV4::new(ADDR, 9001)));
    for opt in [SO_REUSEADDR, SO_REUSEPORT] {
        let c = api.socket(2, 2, 0).unwrap();
        let d = api.socket(2, 2, 0).unwrap();
        note("set", &api.setopt(c, SOL_SOCKET, opt, 1));
        note("set", &api.setopt(d, SOL_SOCKET, opt, 1));
        note(
            "bind c",
            &api.bind(c, SocketAddrV4::new(ADDR, 9100 + opt as u16)),
        );
        note(
            "bind d",
            &api.bind(d, SocketAddrV4::new(ADDR, 9100 + opt as u16)),
        );
    }

    // sendmsg() errors.
    let tx = api.socket(2, 2, 0).unwrap();
    note("send unconnected", &api.sendto(tx, b"x", 0, None));
    note("sendto port 0", &api.sendto(tx, b"x", 0, at(0)));
    note("sendto MSG_OOB", &api.sendto(tx, b"x", MSG_OOB, at(9000)));
    note(
        "sendto 65508",
        &api.sendto(tx, &vec![0; 65508], 0, at(9000)),
    );
    note(
        "sendto 65507",
        &api.sendto(tx, &vec![0; 65507], 0, at(9000)),
    );
    note("recv 65507", &api.recv(a, 70000, 0).map(|r| (r.0, r.1)));
    let port = api.local_port(tx);
    note("ephemeral port in range", &(32768..=60999).contains(&port));
    let bcast = Some(SocketAddrV4::new(Ipv4Addr::new(127, 255, 255, 255), 9000));
    note("sendto broadcast", &api.sendto(tx, b"x", 0, bcast));
    note(
        "set SO_BROADCAST",
        &api.setopt(tx, SOL_SOCKET, SO_BROADCAST, 1),
    );
    note("sendto broadcast", &api.sendto(tx, b"x", 0, bcast));

    // Truncation and peeking.
    note("send 10", &api.sendto(tx, b"0123456789", 0, at(9000)));
    note("send 4", &api.sendto(tx, b"next", 0, at(9000)));
    note("recv(4)", &api.recv(a, 4, 0).map(|r| (r.0, r.1)));
    note("recv next", &api.recv(a, 100, 0).map(|r| (r.0, r.1)));
    note("send 10", &api.sendto(tx, b"0123456789", 0, at(9000)));
    note(
        "recv TRUNC|PEEK",
        &api.recv(a, 4, MSG_TRUNC | MSG_PEEK).map(|r| (r.0, r.1)),
    );
    note("recv PEEK", &api.recv(a, 100, MSG_PEEK).map(|r| (r.0, r.1)));
    note("recv", &api.recv(a, 100, 0).map(|r| (r.0, r.1)));
    note("send 0", &api.sendto(tx, b"", 0, at(9000)));
    note("recv 0", &api.recv(a, 100, 0).map(|r| (r.0, r.1)));
    note("recv empty", &api.recv(a, 100, 0).map(|r| (r.0, r.1)));

    // SO_PEEK_OFF walks the queue.
    note("send 6", &api.sendto(tx, b"abcdef", 0, at(9000)));
    note("send 3", &api.sendto(tx, b"XYZ", 0, at(9000)));
    note("peek_off 0", &api.setopt(a, SOL_SOCKET, SO_PEEK_OFF, 0));
    for _ in 0..3 {
        note("peek 4", &api.recv(a, 4, MSG_PEEK).map(|r| r.0));
        note("peek_off", &api.getopt(a, SOL_SOCKET, SO_PEEK_OFF));
    }
    note("recv", &api.recv(a, 100, 0).map(|r| r.0));
    note("peek_off", &api.getopt(a, SOL_SOCKET, SO_PEEK_OFF));
    note("recv", &api.recv(a, 100, 0).map(|r| r.0));
    note("peek_off -2", &api.setopt(a, SOL_SOCKET, SO_PEEK_OFF, -2));
    note("peek_off", &api.getopt(a, SOL_SOCKET, SO_PEEK_OFF));
    note("peek_off -1", &api.setopt(a, SOL_SOCKET, SO_PEEK_OFF, -1));

    // UDP_CORK and MSG_MORE.
    note("cork", &api.setopt(tx, SOL_UDP, UDP_CORK, 1));
    for part in [&b"aa"[..], b"bbb", b"cccc"] {
        note("send corked", &api.sendto(tx, part, 0, at(9000)));
    }
    note("recv while corked", &api.recv(a, 100, 0).map(|r| r.0));
    note("uncork", &api.setopt(tx, SOL_UDP, UDP_CORK, 0));
    note("recv corked", &api.recv(a, 100, 0).map(|r| r.0));
    note("cork", &api.setopt(tx, SOL_UDP, UDP_CORK, 1));
    note("send 65000", &api.sendto(tx, &vec![1; 65000], 0, at(9000)));
    note("send 600", &api.sendto(tx, &[2; 600], 0, at(9000)));
    note("uncork", &api.setopt(tx, SOL_UDP, UDP_CORK, 0));
    note("recv nothing", &api.recv(a, 70000, 0).map(|r| r.0));
    let other = api.socket(2, 2, 0).unwrap();
    note(
        "bind other",
        &api.bind(other, SocketAddrV4::new(ADDR, 9002)),
    );
    note("MSG_MORE x", &api.sendto(tx, b"x", MSG_MORE, at(9000)));
    note("y elsewhere", &api.sendto(tx, b"y", 0, at(9002)));
    note("recv xy", &api.recv(a, 100, 0).map(|r| r.0));
    note("other nothing", &api.recv(other, 100, 0).map(|r| r.0));

    // A connected socket and port unreachable.
    let c = api.socket(2, 2, 0).unwrap();
    note("connect closed", &api.connect(c, at(9999)));
    note("send", &api.sendto(c, b"hello", 0, None));
    note("send refused", &api.sendto(c, b"hello", 0, None));
    note("send again", &api.sendto(c, b"hello", 0, None));
    note("recv refused", &api.recv(c, 100, 0).map(|r| r.0));
    note("SO_ERROR", &api.getopt(c, SOL_SOCKET, 4));
    note("IP_MTU connected", &api.getopt(c, SOL_IP, IP_MTU));
    note("disconnect", &api.connect(c, None));
    note("send disconnected", &api.sendto(c, b"x", 0, None));
    note("IP_MTU unconnected", &api.getopt(c, SOL_IP, IP_MTU));

    // IP_RECVERR: an unconnected socket hears of port unreachable through its error
    // queue, and the pending error fails the next send.
    let e = api.socket(2, 2, 0).unwrap();
    note("recverr", &api.setopt(e, SOL_IP, IP_RECVERR, 1));
    note("send", &api.sendto(e, b"hello", 0, at(9999)));
    note("send pending error", &api.sendto(e, b"x", 0, at(9999)));
    note("errqueue", &api.recv(e, 100, MSG_ERRQUEUE));
    note("errqueue short", &api.recv(e, 2, MSG_ERRQUEUE));
    note("send", &api.sendto(e, b"hello", 0, at(9999)));
    note("errqueue short", &api.recv(e, 2, MSG_ERRQUEUE));
    note("SO_ERROR", &api.getopt(e, SOL_SOCKET, 4));
    note("recv", &api.recv(e, 100, 0));

    // connect(): broadcast needs SO_BROADCAST; a connected socket may still sendto.
    let k = api.socket(2, 2, 0).unwrap();
    note("connect broadcast", &api.connect(k, bcast));
    note("connect", &api.connect(k, at(9000)));
    note("sendto elsewhere", &api.sendto(k, b"z", 0, at(9002)));
    note("other got it", &api.recv(other, 100, 0).map(|r| r.0));
    note("connect unspec", &api.connect(k, None));
    note("connect unspec again", &api.connect(k, None));
    note("SO_ERROR", &api.getopt(k, SOL_SOCKET, 4));

    // Raw sockets.
    let raw = api.socket(2, 3, 255).unwrap();
    note("raw peek_off", &api.setopt(raw, SOL_SOCKET, SO_PEEK_OFF, 0));
    note("raw hdrincl", &api.getopt(raw, SOL_IP, 3));
    note("raw ttl", &api.getopt(raw, SOL_IP, IP_TTL));
    let icmp = api.socket(2, 3, 1).unwrap();
    note("raw getsockname port", &api.local_port(icmp));
    note("raw cork", &api.setopt(raw, SOL_UDP, UDP_CORK, 1));
    // IP_ROUTER_ALERT: raw sockets other than IPPROTO_RAW only.
    note("ra udp", &api.setopt(k, SOL_IP, IP_ROUTER_ALERT, 1));
    note(
        "ra IPPROTO_RAW",
        &api.setopt(raw, SOL_IP, IP_ROUTER_ALERT, 1),
    );
    let r17 = api.socket(2, 3, 17).unwrap();
    for v in [0, 1, 1, 0, 0] {
        note(
            &format!("ra {v}"),
            &api.setopt(r17, SOL_IP, IP_ROUTER_ALERT, v),
        );
    }

    // Options.
    let o = api.socket(2, 2, 0).unwrap();
    for (level, name, v) in [
        (SOL_IP, IP_TTL, 0),
        (SOL_IP, IP_TTL, 256),
        (SOL_IP, IP_TTL, 7),
        (SOL_IP, IP_TTL, -1),
        (SOL_IP, IP_TOS, 0x10),
        (SOL_IP, IP_TOS, 0x1ff),
        (SOL_IP, IP_MTU_DISCOVER, 6),
        (SOL_IP, IP_MTU_DISCOVER, -1),
        (SOL_IP, IP_MTU_DISCOVER, 2),
        (SOL_SOCKET, SO_RCVBUF, 1),
        (SOL_SOCKET, SO_RCVBUF, 4096),
        (SOL_SOCKET, SO_RCVBUF, 1 << 30),
        (SOL_SOCKET, SO_RCVBUF, -1),
        (SOL_SOCKET, SO_SNDBUF, 1),
        (SOL_SOCKET, SO_SNDBUF, 10000),
        (SOL_IP, IP_MULTICAST_TTL, -1),
        (SOL_IP, IP_MULTICAST_TTL, 256),
        (SOL_IP, IP_MULTICAST_TTL, 9),
        (SOL_IP, IP_MULTICAST_LOOP, 0),
        (SOL_IP, IP_RECVTTL, 5),
        (SOL_IP, IP_PKTINFO, 1),
        (SOL_SOCKET, SO_BROADCAST, 7),
        (SOL_SOCKET, SO_NO_CHECK, 1),
        (SOL_UDP, UDP_CORK, 3),
        (SOL_UDP, UDP_SEGMENT, 65536),
        (SOL_UDP, UDP_SEGMENT, -1),
        (SOL_UDP, UDP_SEGMENT, 1400),
    ] {
        note(
            &format!("set {level}/{name} {v}"),
            &api.setopt(o, level, name, v),
        );
        note("get", &api.getopt(o, level, name));
    }

    note("SO_TYPE", &api.getopt(o, SOL_SOCKET, 3));
    note("SO_PROTOCOL", &api.getopt(o, SOL_SOCKET, 38));
    // connect() to port 0, bind() after connect(), sendto 0.0.0.0 (this host).
    let z = api.socket(2, 2, 0).unwrap();
    note("connect port 0", &api.connect(z, at(0)));
    note("send to port 0", &api.sendto(z, b"x", 0, None));
    note(
        "bind after connect",
        &api.bind(z, SocketAddrV4::new(ADDR, 9003)),
    );
    note(
        "sendto 0.0.0.0",
        &api.sendto(
            z,
            b"zero",
            0,
            Some(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 9000)),
        ),
    );
    note("recv it", &api.recv(a, 100, 0).map(|r| r.0));

    // The udpgso table (cmsg mode) with IP_PMTUDISC_DO.
    let rx = api.socket(2, 2, 0).unwrap();
    note("bind rx", &api.bind(rx, SocketAddrV4::new(ADDR, 9500)));
    let g = api.socket(2, 2, 0).unwrap();
    note("DO", &api.setopt(g, SOL_IP, IP_MTU_DISCOVER, 2));
    for (tlen, gso) in [
        (1, 0),
        (1472, 0),
        (1473, 0),
        (1472, 1472),
        (1472, 1473),
        (1473, 1472),
        (2945, 1472),
        (65507, 1472),
        (65508, 1472),
        (5, 2),
        (128, 1),
        (129, 1),
        (1482, 1477),
        (3000, 1473),
    ] {
        let data = vec![7u8; tlen];
        let r = if gso == 0 {
            api.sendto(g, &data, 0, at(9500))
        } else {
            api.send_gso(g, &data, at(9500).unwrap(), gso)
        };
        let mut sizes = Vec::new();
        while let Ok((n, _, _)) = api.recv(rx, 65536, 0) {
            sizes.push(n);
        }
        note(&format!("gso tlen {tlen} gso {gso}"), &(r, sizes));
    }
    log
}

#[test]
fn differential_against_linux() {
    if !common::in_netns("differential_against_linux", &[common::IP]) {
        return;
    }
    // Inside the private namespace: lo up at MTU 1500, with 10.0.0.1/32 (as udpgso.sh).
    for args in [
        &["link", "set", "lo", "up", "mtu", "1500"][..],
        &["addr", "add", "10.0.0.1/32", "dev", "lo"],
    ] {
        let st = std::process::Command::new("ip")
            .args(args)
            .status()
            .expect("ip runs");
        assert!(st.success(), "ip {args:?}");
    }
    let linux = script(&mut Linux { socks: Vec::new() });
    let skiff = script(&mut Skiff::new());
    let mut diffs = 0;
    for (l, s) in linux.iter().zip(&skiff) {
        println!("{l}");
        if l != s {
            println!("DIFF linux: {l}\n     skiff: {s}");
            diffs += 1;
        }
    }
    println!("{} calls compared, {diffs} differ", linux.len());
    assert_eq!(linux.len(), skiff.len());
    assert_eq!(diffs, 0, "skiff differs from Linux");
}
