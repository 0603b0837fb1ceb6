//! Route types through the stack, the dst cache and its invalidation, loopback, raw
//! sockets and local output errors.

mod common;

use common::*;
use skiff_core::drop::DropReason;
use skiff_core::route::{FibRoute, RouteType};
use skiff_core::socket::SockError;
use skiff_core::socket::{AF_INET, SOCK_DGRAM, SockAddr, SockOpt, SockOptName};
use skiff_wire::Ipv4Addr;
use std::net::SocketAddrV4;

const NET: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 0);
const DST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 5);

fn echo_msg(seq: u16) -> Vec<u8> {
    icmp(8, 0, [0x77, 0x77, (seq >> 8) as u8, seq as u8], b"payload")
}

#[test]
fn local_output_errors_per_route_type() {
    let cases = [
        (None, 101),                         // no route: ENETUNREACH
        (Some(RouteType::Unreachable), 113), // EHOSTUNREACH
        (Some(RouteType::Prohibit), 13),     // EACCES
        (Some(RouteType::Blackhole), 22),    // EINVAL
    ];
    for (rtype, errno) in cases {
        let mut h = Host::new(false);
        if let Some(t) = rtype {
            h.s.add_route(FibRoute::new(NET, 24, t)).unwrap();
        }
        let sock = h.s.raw_socket(1).unwrap();
        let err = h.s.raw_sendto(h.now, sock, DST, &echo_msg(1)).unwrap_err();
        assert_eq!(err.errno(), errno, "{rtype:?}");
        assert!(h.tx().is_empty());
        // As on Linux 6.x (checked in a namespace): raw_sendmsg() counts no OutNoRoutes,
        // udp_sendmsg() counts ENETUNREACH only.
        assert_eq!(h.mib("IpOutNoRoutes"), 0, "{rtype:?}");
        let udp = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
        let to = Some(SockAddr::Inet(SocketAddrV4::new(DST, 9)));
        let err = h.s.sendto(h.now, udp, b"x", 0, to).unwrap_err();
        assert_eq!(err.errno(), errno, "{rtype:?}");
        assert_eq!(h.mib("IpOutNoRoutes"), u64::from(errno == 101), "{rtype:?}");
    }
}

#[test]
fn unicast_gateway_route_uses_the_gateway_mac() {
    let mut h = Host::new(false);
    h.s.add_route(FibRoute::new(NET, 24, RouteType::Unicast).via(PEER))
        .unwrap();
    let sock = h.s.raw_socket(1).unwrap();
    h.s.raw_sendto(h.now, sock, DST, &echo_msg(1)).unwrap();
    let out = outs(h.tx());
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].dst, out[0].eth_dst, out[0].src, out[0].ttl),
        (DST, PEER_MAC, ME, 64)
    );
}

#[test]
fn local_route_loops_back_to_ourselves() {
    let mut h = Host::new(false);
    let sock = h.s.raw_socket(1).unwrap();
    for dst in [ME, Ipv4Addr::new(127, 0, 0, 1)] {
        h.s.raw_sendto(h.now, sock, dst, &echo_msg(1)).unwrap();
        assert!(h.tx().is_empty(), "nothing leaves the host");
        // The socket sees its own request, then the reply, both via lo.
        let req = h.s.raw_recv(sock).unwrap();
        assert_eq!(req.packet[20], 8);
        let rep = h.s.raw_recv(sock).unwrap();
        assert_eq!((rep.packet[20], rep.src, rep.dst), (0, dst, dst));
        assert_eq!(rep.ifindex, 1, "received on lo");
    }
    assert_eq!(h.s.dev(1).unwrap().stats.rx_packets, 4);
}

#[test]
fn subnet_broadcast_output_goes_to_the_broadcast_mac() {
    let mut h = Host::new(false);
    let sock = h.s.raw_socket(17).unwrap();
    let bcast = Ipv4Addr::new(10, 0, 0, 255);
    let msg = udp(ME, bcast, 1, 2, b"b");
    // Without SO_BROADCAST, raw_sendmsg() refuses a broadcast route.
    let err = h.s.raw_sendto(h.now, sock, bcast, &msg).unwrap_err();
    assert_eq!(err, SockError::Access);
    h.s.setsockopt(sock, SockOpt::Broadcast(true)).unwrap();
    h.s.raw_sendto(h.now, sock, bcast, &msg).unwrap();
    let out = outs(h.tx());
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].eth_dst,
        skiff_wire::ethernet::EthernetAddress::BROADCAST
    );
    assert_eq!(h.mib("IpExtOutBcastPkts"), 1);
}

#[test]
fn the_dst_cache_is_invalidated_when_routes_change() {
    let mut h = Host::new(false);
    h.s.add_route(FibRoute::new(NET, 24, RouteType::Unicast).via(PEER))
        .unwrap();
    let sock = h.s.raw_socket(1).unwrap();
    h.s.connect(sock, SockAddr::Inet(SocketAddrV4::new(DST, 0)))
        .unwrap();
    h.s.sendto(h.now, sock, &echo_msg(1), 0, None).unwrap();
    assert_eq!(outs(h.tx())[0].eth_dst, PEER_MAC);
    // A more specific route through another on-link gateway.
    let other = Ipv4Addr::new(10, 0, 0, 3);
    let other_mac = skiff_wire::ethernet::EthernetAddress([2, 0, 0, 0, 0, 3]);
    h.s.add_neigh_static(h.eth0, other, other_mac);
    let genid = h.s.fib.genid();
    h.s.add_route(FibRoute::new(DST, 32, RouteType::Unicast).via(other))
        .unwrap();
    assert_ne!(h.s.fib.genid(), genid);
    h.s.sendto(h.now, sock, &echo_msg(2), 0, None).unwrap();
    assert_eq!(
        outs(h.tx())[0].eth_dst,
        other_mac,
        "sk_dst_check failed, so it routed again"
    );
    // A prohibit route now: the cached route must not survive either.
    h.s.fib
        .del_route(skiff_core::route::FibTableId::Main, DST, 32, None)
        .unwrap();
    h.s.add_route(FibRoute::new(DST, 32, RouteType::Prohibit))
        .unwrap();
    let err = h.s.sendto(h.now, sock, &echo_msg(3), 0, None).unwrap_err();
    assert_eq!(err.errno(), 13);
}

#[test]
fn local_output_over_64k_is_emsgsize() {
    let mut h = Host::new(false);
    let sock = h.s.raw_socket(1).unwrap();
    let err =
        h.s.raw_sendto(h.now, sock, PEER, &vec![0u8; 65536 - 20])
            .unwrap_err();
    assert_eq!(err, SockError::MsgSize);
    assert_eq!(err.errno(), 90);
}

#[test]
fn raw_socket_errors_and_ttl() {
    let mut h = Host::new(false);
    assert_eq!(
        h.s.raw_socket(0).unwrap_err().errno(),
        93,
        "EPROTONOSUPPORT"
    );
    let sock = h.s.raw_socket(1).unwrap();
    assert_eq!(
        h.s.setsockopt(sock, SockOpt::Ttl(0)).unwrap_err().errno(),
        22
    );
    assert_eq!(
        h.s.sendto(h.now, sock, b"x", 0, None).unwrap_err().errno(),
        89,
        "EDESTADDRREQ"
    );
    assert_eq!(h.s.raw_recv(sock).unwrap_err().errno(), 11, "EAGAIN");
    h.s.setsockopt(sock, SockOpt::Ttl(3)).unwrap();
    h.s.raw_sendto(h.now, sock, PEER, &echo_msg(1)).unwrap();
    assert_eq!(outs(h.tx())[0].ttl, 3);
    h.s.close(sock).unwrap();
    assert_eq!(h.s.raw_recv(sock).unwrap_err().errno(), 9, "EBADF");
}

#[test]
fn connected_raw_socket_records_icmp_errors() {
    let mut h = Host::new(false);
    let sock = h.s.raw_socket(17).unwrap();
    h.s.connect(sock, SockAddr::Inet(SocketAddrV4::new(PEER, 0)))
        .unwrap();
    // A port unreachable quoting a UDP datagram we sent to PEER.
    let quoted = Ip::udp(ME, PEER, 9, b"q").frame()[14..].to_vec();
    h.rx(
        h.eth0,
        &Ip::new(PEER, ME, 1, icmp(3, 3, [0; 4], &quoted)).frame(),
    );
    assert_eq!(
        h.s.getsockopt(sock, SockOptName::Error).unwrap(),
        111,
        "ECONNREFUSED"
    );
    assert_eq!(h.mib("IcmpInDestUnreachs"), 1);
    assert_eq!(h.mib("IcmpInErrors"), 1, "udp_err found no UDP socket");
}

#[test]
fn raw_receive_queue_is_bounded() {
    let mut h = Host::new(false);
    let sock = h.s.raw_socket(253).unwrap();
    let p = Ip::new(PEER, ME, 253, vec![0; 1000]).frame();
    for _ in 0..400 {
        h.rx(h.eth0, &p);
    }
    assert!(
        h.tx().is_empty(),
        "a raw listener means no protocol unreachable"
    );
    let drops = h.s.sock_drops(sock).unwrap();
    assert!(drops > 0);
    assert_eq!(h.drops(DropReason::SocketRcvbuff), drops);
    let mut n = 0;
    while h.s.raw_recv(sock).is_ok() {
        n += 1;
    }
    assert_eq!(n + drops, 400);
}

/// A datagram of a protocol without a handler: every raw socket of it gets the whole
/// datagram (the last one takes the packet itself, the others a copy), reassembled
/// from fragments too, and it counts as delivered once.
#[test]
fn every_raw_socket_gets_the_whole_datagram_without_a_handler() {
    let mut h = Host::new(false);
    let a = h.s.raw_socket(253).unwrap();
    let b = h.s.raw_socket(253).unwrap();
    let data: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
    // Two fragments: 1480 bytes at offset 0, the rest at 1480.
    let mut first = Ip::new(PEER, ME, 253, data[..1480].to_vec());
    first.mf = true;
    let mut second = Ip::new(PEER, ME, 253, data[1480..].to_vec());
    second.frag_offset = 1480;
    h.rx(h.eth0, &first.frame());
    h.rx(h.eth0, &second.frame());
    h.rx(h.eth0, &Ip::new(PEER, ME, 253, b"whole".to_vec()).frame());
    assert!(h.tx().is_empty(), "raw listeners: no protocol unreachable");
    assert_eq!(h.mib("IpInDelivers"), 2);
    for sock in [a, b] {
        let d = h.s.raw_recv(sock).unwrap();
        assert_eq!(&d.packet[20..], &data[..]);
        assert_eq!(d.packet.len(), 20 + 3000);
        assert_eq!(&h.s.raw_recv(sock).unwrap().packet[20..], b"whole");
        assert!(h.s.raw_recv(sock).is_err());
    }
}

#[test]
fn tx_queue_overflow_is_counted() {
    let mut h = Host::new(false);
    let sock = h.s.raw_socket(1).unwrap();
    for i in 0..1100u16 {
        h.s.raw_sendto(h.now, sock, PEER, &echo_msg(i)).unwrap();
    }
    assert_eq!(h.drops(DropReason::QdiscDrop), 100);
    assert_eq!(h.s.dev(h.eth0).unwrap().stats.tx_dropped, 100);
    assert_eq!(h.tx().len(), 1000);
}

#[test]
fn snmp_and_netstat_render_in_kernel_format() {
    let mut h = Host::new(false);
    h.rx(h.eth0, &Ip::echo(PEER, ME).frame());
    h.rx(h.eth0, &Ip::udp(PEER, ME, 9, b"x").frame());
    h.tx();
    let snmp = h.s.render_snmp();
    let netstat = h.s.render_netstat();
    let parsed = parse_proc(&snmp)
        .into_iter()
        .chain(parse_proc(&netstat))
        .collect::<Vec<_>>();
    let get = |k: &str| parsed.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
    assert_eq!(get("IpForwarding"), Some(2));
    assert_eq!(get("IpDefaultTTL"), Some(64));
    assert_eq!(get("IpInReceives"), Some(2));
    assert_eq!(get("IpInDelivers"), Some(2));
    assert_eq!(get("IpOutRequests"), Some(2));
    assert_eq!(get("IcmpInEchos"), Some(1));
    assert_eq!(get("IcmpOutDestUnreachs"), Some(1));
    assert_eq!(get("IcmpMsgInType8"), Some(1));
    assert_eq!(get("IcmpMsgOutType3"), Some(1));
    assert_eq!(get("UdpNoPorts"), Some(1));
    assert_eq!(get("IpExtInOctets"), Some(h.mib("IpExtInOctets") as i64));
    assert!(get("IpExtReasmOverlaps").is_some());
}

/// Reads `/proc/net/snmp`-style text the way nstat does: pairs of lines with the same
/// `Group:` prefix, names then values, as many of each.
fn parse_proc(text: &str) -> Vec<(String, i64)> {
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len().is_multiple_of(2), "pairs of lines");
    let mut out = Vec::new();
    for pair in lines.chunks(2) {
        let (g1, names) = pair[0].split_once(": ").expect("Group: names");
        let (g2, values) = pair[1].split_once(": ").expect("Group: values");
        assert_eq!(g1, g2);
        let names: Vec<&str> = names.split(' ').collect();
        let values: Vec<i64> = values
            .split(' ')
            .map(|v| v.parse().expect("integer"))
            .collect();
        assert_eq!(names.len(), values.len(), "{g1}");
        out.extend(
            names
                .into_iter()
                .zip(values)
                .map(|(n, v)| (format!("{g1}{n}"), v)),
        );
    }
    out
}
