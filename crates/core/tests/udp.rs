//! UDP sockets with Linux semantics: the socket-semantics list of docs/linux-semantics.md
//! §1.2.1, socket creation, bind and connect
//! errors, corking, receive lookup, error queues and counters.

mod common;

use common::*;
use skiff_core::drop::DropReason;
use skiff_core::ipv4::output::PmtuDisc;
use skiff_core::socket::*;
use skiff_core::time::Instant;
use skiff_core::{Stack, StackConfig};
use skiff_wire::Ipv4Addr;
use std::net::SocketAddrV4;

const LO: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn sa(ip: Ipv4Addr, port: u16) -> Option<SockAddr> {
    Some(SocketAddrV4::new(ip, port).into())
}

fn lo_stack() -> Stack {
    Stack::new(StackConfig::default())
}

fn udp_sock(s: &mut Stack) -> SockFd {
    s.socket(AF_INET, SOCK_DGRAM, 0).unwrap()
}

fn bound(s: &mut Stack, port: u16) -> SockFd {
    let fd = udp_sock(s);
    s.bind(fd, SocketAddrV4::new(LO, port).into()).unwrap();
    fd
}

const T: Instant = Instant::ZERO;

fn recv(s: &mut Stack, fd: SockFd, n: usize, flags: u32) -> Result<(Vec<u8>, RecvMsg), SockError> {
    let mut buf = vec![0u8; n];
    let m = s.recvmsg(fd, &mut buf, flags)?;
    buf.truncate(m.len.min(n));
    Ok((buf, m))
}

#[test]
fn socket_creation_errors() {
    let mut s = lo_stack();
    assert_eq!(
        s.socket(AF_INET6, SOCK_DGRAM, 0),
        Err(SockError::AfNoSupport)
    );
    assert_eq!(s.socket(99, SOCK_DGRAM, 0), Err(SockError::AfNoSupport));
    assert_eq!(s.socket(AF_INET, 12, 0), Err(SockError::Inval));
    assert_eq!(
        s.socket(AF_INET, SOCK_DGRAM | 0x100, 0),
        Err(SockError::Inval)
    );
    assert_eq!(
        s.socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP),
        Err(SockError::ProtoNoSupport)
    );
    assert_eq!(s.socket(AF_INET, SOCK_DGRAM, -1), Err(SockError::Inval));
    assert_eq!(
        s.socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP),
        Err(SockError::Access)
    );
    assert_eq!(
        s.socket(AF_INET, SOCK_RAW, 1),
        Err(SockError::Perm),
        "no CAP_NET_RAW"
    );
    s.set_cap_net_raw(true);
    assert_eq!(
        s.socket(AF_INET, SOCK_RAW, 0),
        Err(SockError::ProtoNoSupport)
    );
    assert!(s.socket(AF_INET, SOCK_RAW, IPPROTO_RAW).is_ok());
    let fd = s
        .socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)
        .unwrap();
    assert_eq!(s.is_nonblocking(fd), Ok(true));
    assert_eq!(s.getsockopt(fd, SockOptName::Protocol), Ok(17));
    let lite = s.socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE).unwrap();
    assert_eq!(s.getsockopt(lite, SockOptName::Protocol), Ok(136));
    s.close(fd).unwrap();
    assert_eq!(s.close(fd), Err(SockError::BadFd));
    // Every error names its errno and maps to io::ErrorKind.
    assert_eq!(SockError::Again.kind(), std::io::ErrorKind::WouldBlock);
    assert_eq!(SockError::AddrInUse.name(), "EADDRINUSE");
    assert_eq!(
        std::io::Error::from(SockError::ConnRefused).raw_os_error(),
        Some(111)
    );
}

#[test]
fn bind_ports_and_reuse() {
    let mut s = lo_stack();
    let a = bound(&mut s, 5000);
    let b = udp_sock(&mut s);
    assert_eq!(
        s.bind(b, SocketAddrV4::new(LO, 5000).into()),
        Err(SockError::AddrInUse)
    );
    assert_eq!(
        s.bind(b, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5000).into()),
        Err(SockError::AddrInUse),
        "the wildcard clashes with a bound address"
    );
    assert_eq!(
        s.bind(b, SocketAddrV4::new(Ipv4Addr::new(10, 9, 9, 9), 1).into()),
        Err(SockError::AddrNotAvail)
    );
    assert_eq!(s.bind(b, SockAddr::Other(10)), Err(SockError::AfNoSupport));
    assert_eq!(
        s.bind(a, SocketAddrV4::new(LO, 5001).into()),
        Err(SockError::Inval),
        "bound already"
    );
    // SO_REUSEADDR on both shares the port.
    let c = udp_sock(&mut s);
    let d = udp_sock(&mut s);
    s.setsockopt(c, SockOpt::ReuseAddr(true)).unwrap();
    s.setsockopt(d, SockOpt::ReuseAddr(true)).unwrap();
    s.bind(c, SocketAddrV4::new(LO, 6000).into()).unwrap();
    s.bind(d, SocketAddrV4::new(LO, 6000).into()).unwrap();
    // An ephemeral port comes from ip_local_port_range.
    s.bind(b, SocketAddrV4::new(LO, 0).into()).unwrap();
    let port = s.local_addr(b).unwrap().port();
    assert!((32768..=60999).contains(&port), "{port}");
    // Sending from an unbound socket binds one too.
    let e = udp_sock(&mut s);
    s.sendto(T, e, b"x", 0, sa(LO, 5000)).unwrap();
    assert!((32768..=60999).contains(&s.local_addr(e).unwrap().port()));
    let (_, m) = recv(&mut s, a, 10, 0).unwrap();
    assert_eq!(m.addr.unwrap().port(), s.local_addr(e).unwrap().port());
    // A one-port range that is taken: bind(0) fails with EADDRINUSE.
    s.set_sysctl("ip_local_port_range", "5000 5000").unwrap();
    let f = udp_sock(&mut s);
    assert_eq!(
        s.bind(f, SocketAddrV4::new(LO, 0).into()),
        Err(SockError::AddrInUse)
    );
    assert_eq!(
        s.sendto(T, f, b"x", 0, sa(LO, 5000)),
        Err(SockError::Again),
        "autobind"
    );
}

#[test]
fn reuseport_group_spreads_flows_and_keeps_each_on_one_socket() {
    let mut s = lo_stack();
    let group: Vec<SockFd> = (0..4)
        .map(|_| {
            let fd = udp_sock(&mut s);
            s.setsockopt(fd, SockOpt::ReusePort(true)).unwrap();
            s.bind(fd, SocketAddrV4::new(LO, 7000).into()).unwrap();
            fd
        })
        .collect();
    let senders: Vec<SockFd> = (0..64).map(|_| udp_sock(&mut s)).collect();
    for round in 0..2 {
        for &tx in &senders {
            s.sendto(T, tx, &[round], 0, sa(LO, 7000)).unwrap();
        }
    }
    let mut per_sock = Vec::new();
    for &fd in &group {
        let mut sources = Vec::new();
        while let Ok((_, m)) = recv(&mut s, fd, 10, 0) {
            sources.push(m.addr.unwrap());
        }
        per_sock.push(sources);
    }
    let total: usize = per_sock.iter().map(Vec::len).sum();
    assert_eq!(total, 128);
    for sources in &per_sock {
        assert!(!sources.is_empty(), "every member gets flows: {per_sock:?}");
        // A flow's two datagrams land on the same socket.
        for src in sources {
            assert_eq!(sources.iter().filter(|x| *x == src).count(), 2);
        }
    }
}

#[test]
fn lookup_prefers_connected_then_bound_address_then_wildcard() {
    let mut s = lo_stack();
    let any = udp_sock(&mut s);
    s.setsockopt(any, SockOpt::ReuseAddr(true)).unwrap();
    s.bind(any, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 8000).into())
        .unwrap();
    let addr = udp_sock(&mut s);
    s.setsockopt(addr, SockOpt::ReuseAddr(true)).unwrap();
    s.bind(addr, SocketAddrV4::new(LO, 8000).into()).unwrap();
    let conn = udp_sock(&mut s);
    s.setsockopt(conn, SockOpt::ReuseAddr(true)).unwrap();
    s.bind(conn, SocketAddrV4::new(LO, 8000).into()).unwrap();
    let peer = bound(&mut s, 8001);
    s.connect(conn, SocketAddrV4::new(LO, 8001).into()).unwrap();
    let other = bound(&mut s, 8002);
    s.sendto(T, peer, b"p", 0, sa(LO, 8000)).unwrap();
    s.sendto(T, other, b"o", 0, sa(LO, 8000)).unwrap();
    assert_eq!(recv(&mut s, conn, 10, 0).unwrap().0, b"p");
    assert_eq!(recv(&mut s, addr, 10, 0).unwrap().0, b"o");
    assert!(recv(&mut s, any, 10, 0).is_err());
    // 127.0.0.2 is local too (127/8), but only the wildcard socket is bound to it.
    let to2 = sa(Ipv4Addr::new(127, 0, 0, 2), 8000);
    s.sendto(T, other, b"w", 0, to2).unwrap();
    assert_eq!(recv(&mut s, any, 10, 0).unwrap().0, b"w");
}

#[test]
fn truncation_peek_and_empty_datagrams() {
    let mut s = lo_stack();
    let rx = bound(&mut s, 9000);
    let tx = udp_sock(&mut s);
    s.sendto(T, tx, b"0123456789", 0, sa(LO, 9000)).unwrap();
    s.sendto(T, tx, b"next", 0, sa(LO, 9000)).unwrap();
    // recv(4) of 10 bytes: 4 bytes, MSG_TRUNC in msg_flags, the rest discarded.
    let (data, m) = recv(&mut s, rx, 4, 0).unwrap();
    assert_eq!(
        (&data[..], m.len, m.flags & MSG_TRUNC),
        (&b"0123"[..], 4, MSG_TRUNC)
    );
    assert_eq!(recv(&mut s, rx, 100, 0).unwrap().0, b"next");
    // MSG_TRUNC|MSG_PEEK returns the real length and consumes nothing.
    s.sendto(T, tx, b"0123456789", 0, sa(LO, 9000)).unwrap();
    let (_, m) = recv(&mut s, rx, 4, MSG_TRUNC | MSG_PEEK).unwrap();
    assert_eq!(m.len, 10);
    let (peeked, _) = recv(&mut s, rx, 100, MSG_PEEK).unwrap();
    let (data, m) = recv(&mut s, rx, 100, 0).unwrap();
    assert_eq!(
        (peeked, data, m.flags),
        (b"0123456789".to_vec(), b"0123456789".to_vec(), 0)
    );
    // A zero-length datagram is received as 0 bytes.
    s.sendto(T, tx, b"", 0, sa(LO, 9000)).unwrap();
    let (data, m) = recv(&mut s, rx, 100, 0).unwrap();
    assert_eq!((data.len(), m.len), (0, 0));
    assert_eq!(recv(&mut s, rx, 100, 0).unwrap_err(), SockError::Again);
    assert_eq!(
        recv(&mut s, rx, 100, MSG_OOB).unwrap_err(),
        SockError::OpNotSupp
    );
}

#[test]
fn peek_offset_walks_the_queue() {
    let mut s = lo_stack();
    let rx = bound(&mut s, 9000);
    let tx = udp_sock(&mut s);
    s.sendto(T, tx, b"abcdef", 0, sa(LO, 9000)).unwrap();
    s.sendto(T, tx, b"XYZ", 0, sa(LO, 9000)).unwrap();
    s.setsockopt(rx, SockOpt::PeekOff(0)).unwrap();
    assert_eq!(recv(&mut s, rx, 4, MSG_PEEK).unwrap().0, b"abcd");
    assert_eq!(s.getsockopt(rx, SockOptName::PeekOff), Ok(4));
    assert_eq!(recv(&mut s, rx, 4, MSG_PEEK).unwrap().0, b"ef");
    assert_eq!(
        recv(&mut s, rx, 4, MSG_PEEK).unwrap().0,
        b"XYZ",
        "past the first datagram"
    );
    // A real read moves the offset back by what it took.
    assert_eq!(recv(&mut s, rx, 100, 0).unwrap().0, b"abcdef");
    assert_eq!(s.getsockopt(rx, SockOptName::PeekOff), Ok(3));
    let raw = {
        s.set_cap_net_raw(true);
        s.socket(AF_INET, SOCK_RAW, 17).unwrap()
    };
    assert_eq!(
        s.setsockopt(raw, SockOpt::PeekOff(0)),
        Err(SockError::OpNotSupp)
    );
}

#[test]
fn udp_cork_joins_sends_into_one_datagram() {
    let mut s = lo_stack();
    let rx = bound(&mut s, 9000);
    let tx = udp_sock(&mut s);
    s.setsockopt(tx, SockOpt::UdpCork(true)).unwrap();
    for part in [&b"aa"[..], b"bbb", b"cccc"] {
        assert_eq!(s.sendto(T, tx, part, 0, sa(LO, 9000)), Ok(part.len()));
    }
    assert_eq!(
        recv(&mut s, rx, 100, 0).unwrap_err(),
        SockError::Again,
        "held while corked"
    );
    s.setsockopt(tx, SockOpt::UdpCork(false)).unwrap();
    assert_eq!(recv(&mut s, rx, 100, 0).unwrap().0, b"aabbbcccc");
    assert_eq!(
        recv(&mut s, rx, 100, 0).unwrap_err(),
        SockError::Again,
        "one datagram"
    );
}

#[test]
fn a_failed_corked_append_discards_the_whole_datagram() {
    let mut s = lo_stack();
    let rx = bound(&mut s, 9000);
    let tx = udp_sock(&mut s);
    s.setsockopt(tx, SockOpt::UdpCork(true)).unwrap();
    assert_eq!(s.sendto(T, tx, &vec![1; 65000], 0, sa(LO, 9000)), Ok(65000));
    assert_eq!(
        s.sendto(T, tx, &[2; 600], 0, sa(LO, 9000)),
        Err(SockError::MsgSize)
    );
    s.setsockopt(tx, SockOpt::UdpCork(false)).unwrap();
    assert_eq!(recv(&mut s, rx, 100, 0).unwrap_err(), SockError::Again);
    // sendto(65507) fits, 65508 does not.
    assert_eq!(s.sendto(T, tx, &vec![3; 65507], 0, sa(LO, 9000)), Ok(65507));
    assert_eq!(
        s.sendto(T, tx, &vec![3; 65508], 0, sa(LO, 9000)),
        Err(SockError::MsgSize)
    );
    assert_eq!(recv(&mut s, rx, 70000, 0).unwrap().1.len, 65507);
}

#[test]
fn msg_more_appends_a_send_to_another_destination_to_the_pending_datagram() {
    let mut s = lo_stack();
    let a = bound(&mut s, 9100);
    let b = bound(&mut s, 9101);
    let tx = udp_sock(&mut s);
    s.sendto(T, tx, b"x", MSG_MORE, sa(LO, 9100)).unwrap();
    s.sendto(T, tx, b"y", 0, sa(LO, 9101)).unwrap();
    assert_eq!(recv(&mut s, a, 10, 0).unwrap().0, b"xy");
    assert_eq!(recv(&mut s, b, 10, 0).unwrap_err(), SockError::Again);
}

#[test]
fn connected_socket_hears_port_unreachable_as_econnrefused() {
    let mut s = lo_stack();
    let tx = udp_sock(&mut s);
    s.connect(tx, SocketAddrV4::new(LO, 9999).into()).unwrap();
    assert_eq!(s.peer_addr(tx), Ok(SocketAddrV4::new(LO, 9999)));
    assert_eq!(s.sendto(T, tx, b"hello", 0, None), Ok(5));
    assert_eq!(s.stats().udp.no_ports, 1);
    // The error is pending: the next send (or recv) reports it once.
    assert_eq!(
        s.sendto(T, tx, b"again", 0, None),
        Err(SockError::ConnRefused)
    );
    assert_eq!(s.sendto(T, tx, b"again", 0, None), Ok(5));
    assert_eq!(recv(&mut s, tx, 10, 0).unwrap_err(), SockError::ConnRefused);
    // An unconnected socket does not hear it.
    let un = udp_sock(&mut s);
    s.sendto(T, un, b"x", 0, sa(LO, 9999)).unwrap();
    assert_eq!(s.sendto(T, un, b"x", 0, sa(LO, 9999)), Ok(1));
    // Disconnect: AF_UNSPEC forgets the peer.
    s.connect(tx, SockAddr::Unspec).unwrap();
    assert_eq!(s.peer_addr(tx), Err(SockError::NotConn));
    assert_eq!(s.sendto(T, tx, b"x", 0, None), Err(SockError::DestAddrReq));
}

#[test]
fn sendmsg_errors() {
    let mut s = lo_stack();
    let tx = udp_sock(&mut s);
    assert_eq!(s.sendto(T, tx, b"x", 0, None), Err(SockError::DestAddrReq));
    assert_eq!(
        s.sendto(T, tx, b"x", 0, sa(LO, 0)),
        Err(SockError::Inval),
        "port 0"
    );
    assert_eq!(
        s.sendto(T, tx, b"x", 0, Some(SockAddr::Other(10))),
        Err(SockError::AfNoSupport)
    );
    assert_eq!(
        s.sendto(T, tx, b"x", MSG_OOB, sa(LO, 1)),
        Err(SockError::OpNotSupp)
    );
    assert_eq!(
        s.sendto(T, tx, &vec![0; 65536], 0, sa(LO, 1)),
        Err(SockError::MsgSize)
    );
    assert_eq!(
        s.sendto(T, tx, b"x", 0, sa(Ipv4Addr::new(127, 255, 255, 255), 1)),
        Err(SockError::Access),
        "broadcast needs SO_BROADCAST"
    );
    assert_eq!(
        s.sendto(T, tx, b"x", 0, sa(Ipv4Addr::new(10, 1, 1, 1), 1)),
        Err(SockError::NetUnreach)
    );
    assert_eq!(s.stats().ip.out_no_routes, 1);
    // MSG_PROBE goes as far as the route and sends nothing.
    let rx = bound(&mut s, 9000);
    assert_eq!(s.sendto(T, tx, b"probe", MSG_PROBE, sa(LO, 9000)), Ok(5));
    assert_eq!(recv(&mut s, rx, 10, 0).unwrap_err(), SockError::Again);
    // Control message checks.
    let bad = [
        (SendCmsg::Ttl(0), SockError::Inval),
        (SendCmsg::Ttl(256), SockError::Inval),
        (SendCmsg::Tos(256), SockError::Inval),
        (SendCmsg::Mark(1), SockError::Perm),
        (SendCmsg::Priority(7), SockError::Perm),
        (SendCmsg::RetOpts(vec![1; 41]), SockError::Inval),
        (
            SendCmsg::Raw {
                level: 0,
                kind: 2,
                data: vec![64],
            },
            SockError::Inval,
        ),
        (
            SendCmsg::Raw {
                level: 0,
                kind: 99,
                data: vec![0; 4],
            },
            SockError::Inval,
        ),
        (
            SendCmsg::Raw {
                level: 1,
                kind: 99,
                data: vec![0; 4],
            },
            SockError::Inval,
        ),
    ];
    for (c, err) in bad {
        let cmsgs = [c.clone()];
        let msg = SendMsg {
            data: b"x",
            addr: sa(LO, 9000),
            cmsgs: &cmsgs,
            flags: 0,
        };
        assert_eq!(s.sendmsg(T, tx, &msg), Err(err), "{c:?}");
    }
}

#[test]
fn send_cmsgs_set_ttl_tos_and_source() {
    let mut h = Host::new(false);
    let tx = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    let cmsgs = [
        SendCmsg::Ttl(7),
        SendCmsg::Tos(0x10),
        SendCmsg::PktInfo {
            ifindex: h.eth0,
            spec_dst: ME,
        },
    ];
    let msg = SendMsg {
        data: b"hi",
        addr: sa(PEER, 53),
        cmsgs: &cmsgs,
        flags: 0,
    };
    h.s.sendmsg(h.now, tx, &msg).unwrap();
    let out = outs(h.tx());
    assert_eq!(
        (out[0].ttl, out[0].tos, out[0].src, out[0].dst),
        (7, 0x10, ME, PEER)
    );
    // The UDP checksum verifies, and the options of the socket apply without cmsgs.
    let d = &out[0].payload;
    assert_eq!(&d[2..4], &53u16.to_be_bytes());
    let repr = skiff_wire::udp::UdpPacket::new_checked(&d[..]).unwrap();
    skiff_wire::udp::UdpRepr::parse(&repr, ME, PEER, skiff_wire::RxChecksum::Verify).unwrap();
    h.s.setsockopt(tx, SockOpt::Ttl(9)).unwrap();
    h.s.setsockopt(tx, SockOpt::Tos(0x08)).unwrap();
    h.s.sendto(h.now, tx, b"hi", 0, sa(PEER, 53)).unwrap();
    let out = outs(h.tx());
    assert_eq!((out[0].ttl, out[0].tos), (9, 0x08));
    assert_eq!(h.s.setsockopt(tx, SockOpt::Ttl(0)), Err(SockError::Inval));
    assert_eq!(h.s.setsockopt(tx, SockOpt::Ttl(256)), Err(SockError::Inval));
    h.s.setsockopt(tx, SockOpt::Ttl(-1)).unwrap();
    assert_eq!(h.s.getsockopt(tx, SockOptName::Ttl), Ok(64));
}

#[test]
fn checksum_zero_is_sent_as_ffff_and_so_no_check_sends_none() {
    let mut h = Host::new(false);
    let tx = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    h.s.bind(tx, SocketAddrV4::new(ME, 1000).into()).unwrap();
    // Find a payload whose checksum comes out 0: the last two bytes adjust the sum.
    let mut data = vec![0u8, 0];
    for v in 0..=u16::MAX {
        data[0..2].copy_from_slice(&v.to_be_bytes());
        let d = udp(ME, PEER, 1000, 2000, &data);
        if u16::from_be_bytes([d[6], d[7]]) == 0xffff {
            break;
        }
    }
    h.s.sendto(h.now, tx, &data, 0, sa(PEER, 2000)).unwrap();
    let out = outs(h.tx());
    assert_eq!(&out[0].payload[6..8], &[0xff, 0xff]);
    h.s.setsockopt(tx, SockOpt::NoCheck(true)).unwrap();
    h.s.sendto(h.now, tx, b"abc", 0, sa(PEER, 2000)).unwrap();
    let out = outs(h.tx());
    assert_eq!(&out[0].payload[6..8], &[0, 0]);
}

#[test]
fn receive_path_counters_and_drops() {
    let mut h = Host::new(false);
    let rx = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    h.s.bind(rx, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 53).into())
        .unwrap();
    h.s.setsockopt(rx, SockOpt::PktInfo(true)).unwrap();
    h.s.setsockopt(rx, SockOpt::RecvTtl(true)).unwrap();
    h.s.setsockopt(rx, SockOpt::RecvTos(true)).unwrap();
    let mut ip = Ip::udp(PEER, ME, 53, b"query");
    ip.ttl = 33;
    ip.tos = 0x20;
    h.rx(h.eth0, &ip.frame());
    let (data, m) = recv(&mut h.s, rx, 100, 0).unwrap();
    assert_eq!(data, b"query");
    assert_eq!(m.addr, Some(SocketAddrV4::new(PEER, 4444)));
    let pi = m.cmsgs.pktinfo.unwrap();
    assert_eq!((pi.ifindex, pi.spec_dst, pi.addr), (h.eth0, ME, ME));
    assert_eq!((m.cmsgs.ttl, m.cmsgs.tos), (Some(33), Some(0x20)));
    assert_eq!(h.mib("UdpInDatagrams"), 1);
    // A bad checksum is dropped silently: InCsumErrors, no ICMP.
    let mut bad = Ip::udp(PEER, ME, 53, b"query");
    let n = bad.payload.len();
    bad.payload[n - 1] ^= 1;
    h.rx(h.eth0, &bad.frame());
    assert!(h.tx().is_empty());
    assert_eq!((h.mib("UdpInCsumErrors"), h.mib("UdpInErrors")), (1, 1));
    // No socket: NoPorts and port unreachable; to broadcast: IgnoredMulti, no ICMP.
    h.rx(h.eth0, &Ip::udp(PEER, ME, 54, b"x").frame());
    assert_eq!(icmps(h.tx())[0].0, 3);
    let mut b = Ip::udp(PEER, Ipv4Addr::new(10, 0, 0, 255), 54, b"x");
    b.eth_dst = skiff_wire::ethernet::EthernetAddress::BROADCAST;
    h.rx(h.eth0, &b.frame());
    assert!(h.tx().is_empty());
    assert_eq!((h.mib("UdpNoPorts"), h.mib("UdpIgnoredMulti")), (1, 1));
    // A full receive buffer: RcvbufErrors, InErrors, sk_drops.
    h.s.setsockopt(rx, SockOpt::RcvBuf(1)).unwrap();
    assert_eq!(h.s.getsockopt(rx, SockOptName::RcvBuf), Ok(2304));
    for _ in 0..10 {
        h.rx(h.eth0, &Ip::udp(PEER, ME, 53, &[0; 500]).frame());
    }
    let queued = std::iter::from_fn(|| recv(&mut h.s, rx, 1000, 0).ok()).count();
    assert_eq!(queued, 3, "admitted while the charge is within rcvbuf");
    assert_eq!(h.mib("UdpRcvbufErrors"), 7);
    assert_eq!(h.s.sock_drops(rx), Ok(7));
    assert_eq!(h.drops(DropReason::SocketRcvbuff), 7);
}

#[test]
fn broadcast_and_multicast_reach_every_matching_socket() {
    let mut h = Host::new(false);
    let socks: Vec<SockFd> = (0..3)
        .map(|_| {
            let fd = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
            h.s.setsockopt(fd, SockOpt::ReuseAddr(true)).unwrap();
            h.s.bind(fd, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5353).into())
                .unwrap();
            fd
        })
        .collect();
    let group = Ipv4Addr::new(224, 0, 0, 251);
    let join = IpMreqn {
        multiaddr: group,
        address: Ipv4Addr::UNSPECIFIED,
        ifindex: h.eth0,
    };
    h.s.setsockopt(socks[0], SockOpt::AddMembership(join))
        .unwrap();
    assert_eq!(
        h.s.setsockopt(socks[0], SockOpt::AddMembership(join)),
        Err(SockError::AddrInUse)
    );
    let mut m = Ip::udp(PEER, group, 5353, b"mdns");
    m.eth_dst = skiff_wire::ethernet::EthernetAddress([0x01, 0, 0x5e, 0, 0, 0xfb]);
    h.rx(h.eth0, &m.frame());
    for &fd in &socks {
        assert_eq!(recv(&mut h.s, fd, 10, 0).unwrap().0, b"mdns");
    }
    let mut b = Ip::udp(PEER, Ipv4Addr::new(10, 0, 0, 255), 5353, b"bcast");
    b.eth_dst = skiff_wire::ethernet::EthernetAddress::BROADCAST;
    h.rx(h.eth0, &b.frame());
    for &fd in &socks {
        assert_eq!(recv(&mut h.s, fd, 10, 0).unwrap().0, b"bcast");
    }
    // Leaving the group: no member is left, the group is not accepted any more.
    h.s.setsockopt(socks[0], SockOpt::DropMembership(join))
        .unwrap();
    assert_eq!(
        h.s.setsockopt(socks[0], SockOpt::DropMembership(join)),
        Err(SockError::AddrNotAvail)
    );
    h.rx(h.eth0, &m.frame());
    assert!(recv(&mut h.s, socks[0], 10, 0).is_err());
    let not_mc = IpMreqn {
        multiaddr: ME,
        ..join
    };
    assert_eq!(
        h.s.setsockopt(socks[0], SockOpt::AddMembership(not_mc)),
        Err(SockError::Inval)
    );
}

#[test]
fn icmp_errors_reach_the_error_queue_with_the_offender_and_mtu() {
    let mut h = Host::new(false);
    let tx = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    h.s.bind(tx, SocketAddrV4::new(ME, 4000).into()).unwrap();
    h.s.setsockopt(tx, SockOpt::RecvErr(true)).unwrap();
    h.s.sendto(h.now, tx, b"payload", 0, sa(FAR, 5000))
        .unwrap_err(); // no route yet
    assert_eq!(h.s.readable(tx), Ok(false));
    h.s.sendto(h.now, tx, b"payload", 0, sa(PEER, 5000))
        .unwrap();
    let sent = outs(h.tx()).remove(0);
    // The peer answers fragmentation needed, MTU 1200.
    let router = Ipv4Addr::new(10, 0, 0, 254);
    let quote: Vec<u8> = sent.ip.clone();
    let err = Ip::new(router, ME, 1, icmp(3, 4, [0, 0, 0x04, 0xb0], &quote));
    h.rx(h.eth0, &err.frame());
    assert_eq!(h.s.readable(tx), Ok(true));
    let mut buf = [0u8; 100];
    let m = h.s.recvmsg(tx, &mut buf, MSG_ERRQUEUE).unwrap();
    assert_eq!(&buf[..m.len], b"payload");
    assert_eq!(m.flags & MSG_ERRQUEUE, MSG_ERRQUEUE);
    assert_eq!(m.addr, Some(SocketAddrV4::new(PEER, 5000)));
    let ee = m.cmsgs.err.unwrap();
    assert_eq!(
        (
            ee.errno,
            ee.origin,
            ee.icmp_type,
            ee.icmp_code,
            ee.info,
            ee.offender
        ),
        (
            SockError::MsgSize,
            SO_EE_ORIGIN_ICMP,
            3,
            4,
            1200,
            Some(router)
        )
    );
    // The pending error was the queued one; reading the queue cleared it.
    assert_eq!(h.s.getsockopt(tx, SockOptName::Error), Ok(0));
    // The path MTU was learned: the next DF-sized datagram is refused locally.
    h.s.setsockopt(tx, SockOpt::MtuDiscover(2)).unwrap();
    assert_eq!(
        h.s.sendto(h.now, tx, &[0; 1300], 0, sa(PEER, 5000)),
        Err(SockError::MsgSize)
    );
    let m = h.s.recvmsg(tx, &mut buf, MSG_ERRQUEUE).unwrap();
    let ee = m.cmsgs.err.unwrap();
    assert_eq!(
        (ee.origin, ee.info, ee.offender),
        (SO_EE_ORIGIN_LOCAL, 1200, None)
    );
    assert_eq!(
        h.s.recvmsg(tx, &mut buf, MSG_ERRQUEUE).unwrap_err(),
        SockError::Again
    );
    // Without IP_RECVERR a soft error (host unreachable) is not reported...
    let c = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    h.s.connect(c, SocketAddrV4::new(PEER, 6000).into())
        .unwrap();
    h.s.sendto(h.now, c, b"q", 0, None).unwrap();
    let sent = outs(h.tx()).remove(0);
    h.rx(
        h.eth0,
        &Ip::new(router, ME, 1, icmp(3, 1, [0; 4], &sent.ip)).frame(),
    );
    assert_eq!(h.s.sendto(h.now, c, b"q", 0, None), Ok(1));
    // ...a hard one (port unreachable) is.
    let sent = outs(h.tx()).remove(0);
    h.rx(
        h.eth0,
        &Ip::new(PEER, ME, 1, icmp(3, 3, [0; 4], &sent.ip)).frame(),
    );
    assert_eq!(
        h.s.sendto(h.now, c, b"q", 0, None),
        Err(SockError::ConnRefused)
    );
}

#[test]
fn send_buffer_full_is_eagain_and_an_oversized_datagram_enobufs() {
    let mut h = Host::new(false);
    let tx = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    h.s.setsockopt(tx, SockOpt::SndBuf(1)).unwrap();
    assert_eq!(h.s.getsockopt(tx, SockOptName::SndBuf), Ok(4608));
    // One datagram may always start below sndbuf; twice sndbuf bounds its fragments.
    assert_eq!(
        h.s.sendto(h.now, tx, &[0; 9000], 0, sa(PEER, 9)),
        Err(SockError::NoBufs)
    );
    for _ in 0..3 {
        h.s.sendto(h.now, tx, &[0; 1400], 0, sa(PEER, 9)).unwrap();
    }
    assert_eq!(h.s.writable(tx), Ok(false));
    assert_eq!(
        h.s.sendto(h.now, tx, &[0; 1400], 0, sa(PEER, 9)),
        Err(SockError::Again)
    );
    assert_eq!(h.mib("UdpSndbufErrors"), 2);
    // The device taking the frames frees the buffer.
    assert_eq!(h.tx().len(), 3);
    assert_eq!(h.s.writable(tx), Ok(true));
    h.s.sendto(h.now, tx, &[0; 1400], 0, sa(PEER, 9)).unwrap();
    assert_eq!(h.mib("UdpOutDatagrams"), 4);
}

#[test]
fn large_datagram_is_fragmented_and_reassembled_over_loopback_mtu() {
    let mut s = lo_stack();
    s.set_mtu(1, 1500).unwrap();
    let rx = bound(&mut s, 9000);
    let tx = udp_sock(&mut s);
    let data: Vec<u8> = (0..30_000u32).map(|i| (i * 7) as u8).collect();
    assert_eq!(s.sendto(T, tx, &data, 0, sa(LO, 9000)), Ok(30_000));
    let (got, _) = recv(&mut s, rx, 65536, 0).unwrap();
    assert_eq!(got, data);
    assert_eq!(s.stats().ip.frag_creates, 21);
    assert_eq!(s.stats().ip.reasm_oks, 1);
}

#[test]
fn udplite_partial_coverage() {
    let mut s = lo_stack();
    let rx = s.socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE).unwrap();
    s.bind(rx, SocketAddrV4::new(LO, 9000).into()).unwrap();
    let tx = s.socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE).unwrap();
    s.setsockopt(tx, SockOpt::UdpLiteSendCscov(20)).unwrap();
    s.sendto(T, tx, &[5; 100], 0, sa(LO, 9000)).unwrap();
    assert_eq!(recv(&mut s, rx, 200, 0).unwrap().1.len, 100);
    // A receiver that requires more coverage drops it.
    s.setsockopt(rx, SockOpt::UdpLiteRecvCscov(50)).unwrap();
    s.sendto(T, tx, &[5; 100], 0, sa(LO, 9000)).unwrap();
    assert!(recv(&mut s, rx, 200, 0).is_err());
    assert_eq!(s.stats().udp_lite.in_errors, 1);
    assert_eq!(s.stats().udp_lite.in_datagrams, 1);
    let plain = udp_sock(&mut s);
    assert_eq!(
        s.setsockopt(plain, SockOpt::UdpLiteSendCscov(20)),
        Err(SockError::NoProtoOpt)
    );
}

#[test]
fn raw_sockets_filter_icmp_and_send_with_ip_hdrincl() {
    let mut h = Host::new(false);
    let icmp_sock = h.s.raw_socket(1).unwrap();
    h.s.setsockopt(icmp_sock, SockOpt::IcmpFilter(1 << 8))
        .unwrap();
    h.rx(h.eth0, &Ip::echo(PEER, ME).frame());
    h.tx();
    // The request (type 8) was filtered out; nothing else arrived.
    assert!(h.s.raw_recv(icmp_sock).is_err());
    h.s.setsockopt(icmp_sock, SockOpt::IcmpFilter(0)).unwrap();
    h.rx(h.eth0, &Ip::echo(PEER, ME).frame());
    assert_eq!(h.s.raw_recv(icmp_sock).unwrap().packet[20], 8);
    h.tx();
    // IPPROTO_RAW implies IP_HDRINCL: the caller's header goes out with source, ID,
    // length and checksum filled in.
    let raw = h.s.socket(AF_INET, SOCK_RAW, IPPROTO_RAW).unwrap();
    assert_eq!(h.s.getsockopt(raw, SockOptName::HdrIncl), Ok(1));
    let mut pkt = Ip::new(Ipv4Addr::UNSPECIFIED, PEER, 253, vec![9; 10]);
    pkt.ident = 0;
    pkt.ttl = 5;
    let frame = pkt.frame();
    h.s.raw_sendto(h.now, raw, PEER, &frame[14..]).unwrap();
    let out = outs(h.tx());
    assert_eq!((out[0].src, out[0].ttl, out[0].protocol), (ME, 5, 253));
    assert_eq!(out[0].payload, vec![9; 10]);
    assert_eq!(
        h.s.raw_sendto(h.now, raw, PEER, &[0x45; 10]),
        Err(SockError::Inval)
    );
    assert_eq!(
        h.s.raw_sendto(h.now, raw, PEER, &vec![0x45; 1501]),
        Err(SockError::MsgSize)
    );
}

/// IP_ROUTER_ALERT: forwarded packets with a router alert option go to raw sockets of
/// their protocol on the chain instead of being forwarded (ip_call_ra_chain()).
#[test]
fn router_alert_chain_takes_forwarded_packets() {
    let mut h = Host::new(true);
    let udp_fd = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    assert_eq!(
        h.s.setsockopt(udp_fd, SockOpt::RouterAlert(true)),
        Err(SockError::Inval)
    );
    let all = h.s.socket(AF_INET, SOCK_RAW, IPPROTO_RAW).unwrap();
    assert_eq!(
        h.s.setsockopt(all, SockOpt::RouterAlert(true)),
        Err(SockError::Inval)
    );
    let ra = h.s.raw_socket(17).unwrap();
    let other = h.s.raw_socket(46).unwrap();
    assert_eq!(
        h.s.setsockopt(ra, SockOpt::RouterAlert(false)),
        Err(SockError::NoBufs)
    );
    h.s.setsockopt(ra, SockOpt::RouterAlert(true)).unwrap();
    h.s.setsockopt(other, SockOpt::RouterAlert(true)).unwrap();
    assert_eq!(
        h.s.setsockopt(ra, SockOpt::RouterAlert(true)),
        Err(SockError::AddrInUse)
    );
    let mut alert = Ip::udp(PEER, PEER1, 53, b"rsvp-ish");
    alert.options = vec![0x94, 0x04, 0, 0];
    h.rx(h.eth0, &alert.frame());
    assert!(h.tx().is_empty(), "taken, not forwarded");
    let got = h.s.raw_recv(ra).unwrap();
    assert_eq!((got.packet[0] & 0x0f, got.src, got.dst), (6, PEER, PEER1));
    assert!(h.s.raw_recv(other).is_err(), "another protocol's socket");
    // Without the option, or once the socket leaves the chain, it is forwarded.
    h.rx(h.eth0, &Ip::udp(PEER, PEER1, 53, b"plain").frame());
    assert_eq!(outs(h.tx()).len(), 1);
    h.s.setsockopt(ra, SockOpt::RouterAlert(false)).unwrap();
    h.rx(h.eth0, &alert.frame());
    assert_eq!(outs(h.tx()).len(), 1);
    // Fragments are reassembled for the chain and delivered once.
    h.s.setsockopt(ra, SockOpt::RouterAlert(true)).unwrap();
    let body = udp(PEER, PEER1, 1, 2, &[7; 100]);
    let mut first = Ip::new(PEER, PEER1, 17, body[..56].to_vec());
    first.options = vec![0x94, 0x04, 0, 0];
    first.mf = true;
    let mut second = Ip::new(PEER, PEER1, 17, body[56..].to_vec());
    second.options = vec![0x94, 0x04, 0, 0];
    second.frag_offset = 56;
    h.rx(h.eth0, &first.frame());
    h.rx(h.eth0, &second.frame());
    assert!(h.tx().is_empty());
    let got = h.s.raw_recv(ra).unwrap();
    assert_eq!(got.packet.len(), 24 + 108);
    assert!(h.s.raw_recv(ra).is_err());
}

/// ip_mc_output(): multicast to a group joined on the device loops a copy back unless
/// IP_MULTICAST_LOOP is off; TTL 0 stays on the host; broadcast always loops back.
#[test]
fn multicast_and_broadcast_loop_back_to_local_sockets() {
    let mut h = Host::new(false);
    let group = Ipv4Addr::new(224, 1, 1, 1);
    let rx = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    h.s.bind(rx, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5000).into())
        .unwrap();
    let join = IpMreqn {
        multiaddr: group,
        address: ME,
        ifindex: 0,
    };
    h.s.setsockopt(rx, SockOpt::AddMembership(join)).unwrap();
    let tx = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    h.s.setsockopt(
        tx,
        SockOpt::MulticastIf {
            ifindex: h.eth0,
            addr: Ipv4Addr::UNSPECIFIED,
        },
    )
    .unwrap();
    h.s.sendto(h.now, tx, b"mc", 0, sa(group, 5000)).unwrap();
    let out = outs(h.tx());
    assert_eq!(
        (out.len(), out[0].ttl, out[0].dst),
        (1, 1, group),
        "IP_MULTICAST_TTL 1"
    );
    let (data, m) = recv(&mut h.s, rx, 10, 0).unwrap();
    assert_eq!((data, m.addr.unwrap().ip()), (b"mc".to_vec(), &ME));
    h.s.setsockopt(tx, SockOpt::MulticastLoop(false)).unwrap();
    h.s.sendto(h.now, tx, b"mc", 0, sa(group, 5000)).unwrap();
    assert_eq!(outs(h.tx()).len(), 1);
    assert!(recv(&mut h.s, rx, 10, 0).is_err(), "no loop");
    h.s.setsockopt(tx, SockOpt::MulticastLoop(true)).unwrap();
    h.s.setsockopt(tx, SockOpt::MulticastTtl(0)).unwrap();
    h.s.sendto(h.now, tx, b"ttl0", 0, sa(group, 5000)).unwrap();
    assert!(h.tx().is_empty(), "TTL 0 does not leave the host");
    assert_eq!(recv(&mut h.s, rx, 10, 0).unwrap().0, b"ttl0");
    // A group nobody here joined: on the wire only.
    h.s.sendto(h.now, tx, b"x", 0, sa(Ipv4Addr::new(224, 1, 1, 2), 5000))
        .unwrap();
    assert!(recv(&mut h.s, rx, 10, 0).is_err());
    // Broadcast: the frame, and a copy for the local socket.
    h.s.setsockopt(tx, SockOpt::Broadcast(true)).unwrap();
    h.s.sendto(h.now, tx, b"bc", 0, sa(Ipv4Addr::new(10, 0, 0, 255), 5000))
        .unwrap();
    assert_eq!(outs(h.tx()).len(), 1);
    let (data, m) = recv(&mut h.s, rx, 10, 0).unwrap();
    assert_eq!(data, b"bc");
    assert_eq!(m.addr.unwrap().ip(), &ME);
}

/// recvmmsg() takes a batch; the reader queue and the receive queue keep arrival order.
#[test]
fn recvmmsg_takes_a_batch_in_order() {
    let mut s = lo_stack();
    let rx = bound(&mut s, 9000);
    let tx = udp_sock(&mut s);
    for i in 1..=3u8 {
        s.sendto(T, tx, &[i], 0, sa(LO, 9000)).unwrap();
    }
    assert_eq!(recv(&mut s, rx, 10, 0).unwrap().0, [1]);
    for i in 4..=5u8 {
        s.sendto(T, tx, &[i; 2], 0, sa(LO, 9000)).unwrap();
    }
    // A peek with SO_PEEK_OFF walks both queues.
    s.setsockopt(rx, SockOpt::PeekOff(2)).unwrap();
    assert_eq!(recv(&mut s, rx, 10, MSG_PEEK).unwrap().0, [4, 4]);
    s.setsockopt(rx, SockOpt::PeekOff(-1)).unwrap();
    let mut bufs = [[0u8; 4]; 8];
    let mut refs: Vec<&mut [u8]> = bufs.iter_mut().map(|b| &mut b[..]).collect();
    let mut out = Vec::new();
    assert_eq!(s.recvmmsg(rx, &mut refs, 0, &mut out), Ok(4));
    let lens: Vec<usize> = out.iter().map(|m| m.len).collect();
    assert_eq!(lens, [1, 1, 2, 2]);
    assert_eq!(
        [bufs[0][0], bufs[1][0], bufs[2][0], bufs[3][0]],
        [2, 3, 4, 5]
    );
    let mut refs: Vec<&mut [u8]> = bufs.iter_mut().map(|b| &mut b[..]).collect();
    assert_eq!(
        s.recvmmsg(rx, &mut refs, 0, &mut out),
        Err(SockError::Again)
    );
}

/// What one run of [`early_demux_traffic`] left behind: counters, deliveries and frames.
#[derive(Debug, PartialEq)]
struct Observed {
    snmp: String,
    netstat: String,
    drops: String,
    link: String,
    rt_cache: skiff_core::route::RtCacheStat,
    delivered: Vec<(char, Vec<u8>, String)>,
    sent: Vec<(u32, Vec<u8>)>,
}

/// The same traffic with `ip_early_demux` on or off: a connected socket (C, ME:7000 to
/// PEER:4444) and an unconnected one (U, *:7001), rp_filter strict. Returns what was
/// observed and the packet-path trace.
fn early_demux_traffic(demux: bool) -> (Observed, String) {
    use skiff_core::route::{FibRoute, RouteType};
    let mut h = Host::new(true);
    h.s.set_sysctl("ip_early_demux", if demux { "1" } else { "0" })
        .unwrap();
    h.s.set_sysctl("rp_filter", "1").unwrap();
    let c = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    h.s.bind(c, SocketAddrV4::new(ME, 7000).into()).unwrap();
    h.s.connect(c, SocketAddrV4::new(PEER, 4444).into())
        .unwrap();
    h.s.setsockopt(c, SockOpt::PktInfo(true)).unwrap();
    let u = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    h.s.bind(u, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7001).into())
        .unwrap();
    let (eth0, eth1) = (h.eth0, h.eth1);
    let mut trace = String::new();
    let mut sent = Vec::new();
    let mut delivered = Vec::new();
    let mut step = |h: &mut Host, dev: u32, frame: Vec<u8>| {
        h.rx(dev, &frame);
        sent.extend(h.tx());
        for (name, fd) in [('C', c), ('U', u)] {
            while let Ok((data, m)) = recv(&mut h.s, fd, 2048, 0) {
                delivered.push((name, data, format!("{m:?}")));
            }
        }
        trace.push_str(&h.s.drain_trace().join("\n"));
        trace.push('\n');
    };
    let to_c = |i: u8| Ip::udp(PEER, ME, 7000, &[i; 20]);
    // The connected flow: the first packet routes, the others can take the socket's route.
    for i in 0..4 {
        step(&mut h, eth0, to_c(i).frame());
    }
    // A bad checksum, the unconnected socket, a closed port (port unreachable), options.
    let mut bad = to_c(9);
    bad.payload[6] ^= 0xff;
    step(&mut h, eth0, bad.frame());
    step(
        &mut h,
        eth0,
        Ip::udp(PEER, ME, 7001, b"unconnected").frame(),
    );
    step(&mut h, eth0, Ip::udp(PEER, ME, 7002, b"closed").frame());
    let mut rr = to_c(10);
    rr.options = vec![7, 7, 4, 0, 0, 0, 0, 0];
    step(&mut h, eth0, rr.frame());
    step(&mut h, eth0, to_c(11).frame());
    // The same flow on eth1: the reverse path is eth0, so rp_filter drops it.
    let mut other = to_c(12);
    other.eth_dst = MAC1;
    other.eth_src = PEER1_MAC;
    step(&mut h, eth1, other.frame());
    step(&mut h, eth0, to_c(13).frame());
    // Fragments are never demuxed.
    let whole = to_c(14);
    let mut f1 = whole.clone();
    f1.payload.truncate(16);
    f1.mf = true;
    let mut f2 = whole.clone();
    f2.payload.drain(..16);
    f2.frag_offset = 16;
    step(&mut h, eth0, f1.frame());
    step(&mut h, eth0, f2.frame());
    // A route change after caching: PEER is now reached through eth1, so strict rp_filter
    // refuses PEER's packets on eth0; a stale cached route would deliver them.
    h.s.add_route(FibRoute::new(PEER, 32, RouteType::Unicast).via(PEER1))
        .unwrap();
    step(&mut h, eth0, to_c(15).frame());
    // Back as before: a route removal is also a change.
    h.s.set_sysctl("rp_filter", "0").unwrap();
    step(&mut h, eth0, to_c(16).frame());
    step(&mut h, eth0, to_c(17).frame());
    // Disconnected: the socket is an unconnected one on ME:7000 and is not demuxed.
    h.s.connect(c, SockAddr::Unspec).unwrap();
    h.s.bind(c, SocketAddrV4::new(ME, 7000).into()).ok();
    step(&mut h, eth0, to_c(18).frame());
    let obs = Observed {
        snmp: h.s.render_snmp(),
        netstat: h.s.render_netstat(),
        drops: h.s.render_drops(),
        link: h.s.render_link(),
        rt_cache: h.s.fib.stats(),
        delivered,
        sent,
    };
    (obs, trace)
}

#[test]
fn early_demux_changes_nothing_but_the_route_lookups() {
    let (on, on_trace) = early_demux_traffic(true);
    let (off, off_trace) = early_demux_traffic(false);
    assert_eq!(on, off);
    // The traffic did what it says.
    let to_c = on.delivered.iter().filter(|d| d.0 == 'C').count();
    assert_eq!(to_c, 11, "{:?}", on.delivered);
    assert!(on.drops.contains("IP_RPFILTER 2"), "{}", on.drops);
    assert!(on.drops.contains("UDP_CSUM 1"), "{}", on.drops);
    assert_eq!(on.sent.len(), 1, "one port unreachable");
    // With early demux, the socket's route served packets 1-3, the bad checksum, 10 (its
    // options are processed after routing), 11, 13 and 17; not 12 (eth1), not 15 (route
    // change) nor 16 (sysctl write), not the fragments nor 18 (disconnected).
    assert_eq!(off_trace.matches("udp_v4_early_demux").count(), 0);
    let lookups = |t: &str| t.matches("ip_route_input_noref").count();
    assert_eq!(lookups(&off_trace) - lookups(&on_trace), 8, "{on_trace}");
}

#[test]
fn early_demux_needs_both_sysctls() {
    let mut h = Host::new(false);
    assert_eq!(h.s.sysctl_value("net.ipv4.ip_early_demux").unwrap(), "1");
    assert_eq!(h.s.sysctl_value("net.ipv4.udp_early_demux").unwrap(), "1");
    let c = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    h.s.bind(c, SocketAddrV4::new(ME, 7000).into()).unwrap();
    h.s.connect(c, SocketAddrV4::new(PEER, 4444).into())
        .unwrap();
    let frame = Ip::udp(PEER, ME, 7000, b"x").frame();
    let lookups = |h: &mut Host| {
        h.s.drain_trace();
        for _ in 0..3 {
            h.rx(h.eth0, &frame);
            assert_eq!(recv(&mut h.s, c, 16, 0).unwrap().0, b"x");
        }
        let t = h.s.drain_trace().join("\n");
        t.matches("ip_route_input_noref").count()
    };
    assert_eq!(
        lookups(&mut h),
        1,
        "the first packet routes, then the socket's route"
    );
    h.s.set_sysctl("udp_early_demux", "0").unwrap();
    assert_eq!(lookups(&mut h), 3);
    h.s.set_sysctl("udp_early_demux", "1").unwrap();
    h.s.set_sysctl("ip_early_demux", "0").unwrap();
    assert_eq!(lookups(&mut h), 3);
    // Any sysctl write is a route change (the devices' settings are resynced): the
    // socket's route is stale once, then cached again.
    h.s.set_sysctl("ip_early_demux", "1").unwrap();
    assert_eq!(lookups(&mut h), 1);
    assert_eq!(lookups(&mut h), 0, "the socket kept its route");
    // A batch (ip_list_rcv) demuxes too: no lookup, every datagram delivered.
    h.s.drain_trace();
    let skbs = (0..3)
        .map(|_| {
            let mut skb = h.s.alloc_skb(frame.len()).unwrap();
            skb.put_slice(&frame).unwrap();
            skb
        })
        .collect();
    h.s.netif_receive_list(h.now, h.eth0, skbs);
    let t = h.s.drain_trace().join("\n");
    assert_eq!(t.matches("ip_route_input_noref").count(), 0, "{t}");
    assert_eq!(t.matches("udp_v4_early_demux").count(), 3, "{t}");
    for _ in 0..3 {
        assert_eq!(recv(&mut h.s, c, 16, 0).unwrap().0, b"x");
    }
}

/// R25: a connected socket numbers its datagrams from its own counter (inet_id), DF or
/// not; an unconnected one sends DF datagrams it may not fragment with ID 0.
#[test]
fn connected_sockets_take_ids_from_their_own_counter() {
    let mut h = Host::new(false);
    let ids = |h: &mut Host, fd: SockFd, to: Option<SockAddr>| -> (u16, bool) {
        h.s.sendto(h.now, fd, b"id", 0, to).unwrap();
        let out = outs(h.tx());
        assert_eq!(out.len(), 1);
        (out[0].ident, out[0].df)
    };
    let unconnected = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    h.s.setsockopt(unconnected, SockOpt::MtuDiscover(PmtuDisc::Do as i32))
        .unwrap();
    assert_eq!(ids(&mut h, unconnected, sa(PEER, 7)), (0, true));
    // Two connected sockets to one destination: each counts on its own, so their IDs do
    // not interleave as one shared (hashed) counter's would.
    let a = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    let b = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    for fd in [a, b] {
        h.s.setsockopt(fd, SockOpt::MtuDiscover(PmtuDisc::Do as i32))
            .unwrap();
        h.s.connect(fd, SocketAddrV4::new(PEER, 7).into()).unwrap();
    }
    let (a1, df) = ids(&mut h, a, None);
    assert!(df);
    let (b1, _) = ids(&mut h, b, None);
    let (a2, _) = ids(&mut h, a, None);
    let (b2, _) = ids(&mut h, b, None);
    // sendto() another address still takes the connected socket's counter.
    let (a3, _) = ids(&mut h, a, sa(PEER, 8));
    assert_eq!((a2, a3), (a1.wrapping_add(1), a1.wrapping_add(2)));
    assert_eq!(b2, b1.wrapping_add(1));
    // Without DF the counter is still the socket's.
    h.s.setsockopt(a, SockOpt::MtuDiscover(PmtuDisc::Dont as i32))
        .unwrap();
    assert_eq!(ids(&mut h, a, None), (a1.wrapping_add(3), false));
    // Disconnected, it is an unconnected socket again.
    h.s.connect(a, SockAddr::Unspec).unwrap();
    h.s.setsockopt(a, SockOpt::MtuDiscover(PmtuDisc::Do as i32))
        .unwrap();
    assert_eq!(ids(&mut h, a, sa(PEER, 7)), (0, true));
}
