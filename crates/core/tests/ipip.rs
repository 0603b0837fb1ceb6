//! IPIP tunnel devices (`ip tunnel add NAME mode ipip local L remote R`): creation and
//! deletion errors, decapsulation onto the device, encapsulation out of it, loops.

mod common;

use common::*;
use skiff_core::drop::DropReason;
use skiff_core::errno::Errno;
use skiff_core::ipv4::ipip::IpTunnelParm;
use skiff_core::route::{FibRoute, RouteType};
use skiff_core::socket::*;
use skiff_wire::Ipv4Addr;
use std::net::SocketAddrV4;

/// tun0's address and its peer's, inside the tunnel.
const TUN_ME: Ipv4Addr = Ipv4Addr::new(192, 168, 100, 1);
const TUN_PEER: Ipv4Addr = Ipv4Addr::new(192, 168, 100, 2);
/// A network routed into the tunnel.
const BEYOND: Ipv4Addr = Ipv4Addr::new(172, 16, 0, 5);

/// `h` with tun0 (ME to PEER over eth0), up, 192.168.100.1/30, and 172.16.0.0/16
/// routed into it.
fn with_tunnel(h: &mut Host, p: IpTunnelParm) -> u32 {
    let tun = h.s.ip_tunnel_add(&p).unwrap();
    h.s.set_up(tun, true).unwrap();
    h.s.add_addr(tun, TUN_ME, 30).unwrap();
    h.s.add_route(FibRoute::new(Ipv4Addr::new(172, 16, 0, 0), 16, RouteType::Unicast).dev(tun))
        .unwrap();
    h.tx();
    tun
}

fn tun0() -> IpTunnelParm {
    IpTunnelParm::new("tun0", ME, PEER)
}

/// An IPIP frame from PEER to ME on eth0 carrying `inner` (an IP packet's bytes).
fn ipip_frame(outer_tos: u8, inner: Vec<u8>) -> Vec<u8> {
    let mut o = Ip::new(PEER, ME, 4, inner);
    o.tos = outer_tos;
    o.frame()
}

/// The IP bytes of `p`.
fn ip_of(p: &Ip) -> Vec<u8> {
    p.frame()[14..].to_vec()
}

#[test]
fn create_and_delete_errors_are_linux_errnos() {
    let mut h = Host::new(false);
    let bad = |name: &str| IpTunnelParm::new(name, ME, PEER);
    for name in ["", "sixteen-chars-xx", "a/b", "a:b", "a b", ".", ".."] {
        assert_eq!(h.s.ip_tunnel_add(&bad(name)), Err(Errno::Inval), "{name:?}");
    }
    let fifteen = "fifteen-chars-x";
    let t = h.s.ip_tunnel_add(&bad(fifteen)).unwrap();
    let d = h.s.dev(t).unwrap();
    assert_eq!((d.mtu, d.up), (1480, false));
    // The same (local, remote) again, under another name.
    assert_eq!(h.s.ip_tunnel_add(&tun0()), Err(Errno::Exist));
    // Another pair under a taken name.
    let mut p = IpTunnelParm::new("eth0", ME, Ipv4Addr::new(10, 0, 0, 3));
    assert_eq!(h.s.ip_tunnel_add(&p), Err(Errno::Exist));
    p.name = "tun1".into();
    p.link = Some(99);
    assert_eq!(h.s.ip_tunnel_add(&p), Err(Errno::NoDev));
    // The same pair bound to a link device is another tunnel.
    let mut same = tun0();
    same.link = Some(h.eth0);
    assert!(h.s.ip_tunnel_add(&same).is_ok());
    assert!(
        h.s.render_link()
            .contains("link/ipip 10.0.0.1 peer 10.0.0.2"),
        "{}",
        h.s.render_link()
    );

    assert_eq!(h.s.ip_tunnel_del("nope"), Err(Errno::NoDev));
    assert_eq!(h.s.ip_tunnel_del("eth0"), Err(Errno::OpNotSupp));
    h.s.ip_tunnel_del(fifteen).unwrap();
    assert!(h.s.ip_tunnel(t).is_none());
    assert_eq!(h.s.ip_tunnel_del(fifteen), Err(Errno::OpNotSupp));
    // The name and the pair are free again.
    assert_eq!(h.s.ip_tunnel_add(&bad(fifteen)), Ok(t));
    assert_eq!(h.s.ip_tunnels().count(), 2);
}

#[test]
fn the_mtu_follows_the_underlying_device() {
    let mut h = Host::new(true);
    // PEER1 routes by eth1, whose MTU is 1400.
    let t =
        h.s.ip_tunnel_add(&IpTunnelParm::new("t1", ME1, PEER1))
            .unwrap();
    assert_eq!(h.s.dev(t).unwrap().mtu, 1380);
    // No route to the remote: Ethernet's 1500 less 20.
    let t =
        h.s.ip_tunnel_add(&IpTunnelParm::new("t2", ME, Ipv4Addr::new(192, 0, 2, 1)))
            .unwrap();
    assert_eq!(h.s.dev(t).unwrap().mtu, 1480);
}

#[test]
fn a_ping_through_the_tunnel_is_answered_through_it() {
    let mut h = Host::new(false);
    let tun = with_tunnel(&mut h, tun0());
    let mut echo = Ip::echo(TUN_PEER, TUN_ME);
    echo.ttl = 50;
    h.rx(h.eth0, &ipip_frame(0, ip_of(&echo)));
    let out = outs(h.tx());
    assert_eq!(out.len(), 1, "{out:?}");
    let o = &out[0];
    assert_eq!((o.dev, o.src, o.dst, o.protocol), (h.eth0, ME, PEER, 4));
    // ttl inherit: the reply's own 64; pmtudisc: DF; DSCP 0.
    assert_eq!((o.ttl, o.df, o.tos), (64, true, 0));
    let inner = Out::parse(0, &[&[0u8; 12][..], &[8, 0], &o.payload[..]].concat());
    assert_eq!(
        (inner.src, inner.dst, inner.protocol),
        (TUN_ME, TUN_PEER, 1)
    );
    assert_eq!(inner.icmp(), (0, 0));
    let st = h.s.dev(tun).unwrap().stats;
    assert_eq!((st.rx_packets, st.tx_packets), (1, 1));
    assert_eq!(st.tx_bytes, inner.ip.len() as u64);
}

#[test]
fn a_socket_joined_on_the_tunnel_receives_its_multicast() {
    let mut h = Host::new(false);
    let tun = with_tunnel(&mut h, tun0());
    let g = Ipv4Addr::new(239, 1, 2, 3);
    let fd = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    h.s.bind(fd, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5000).into())
        .unwrap();
    let m = IpMreqn {
        multiaddr: g,
        address: Ipv4Addr::UNSPECIFIED,
        ifindex: tun,
    };
    h.s.setsockopt(fd, SockOpt::AddMembership(m)).unwrap();
    // The join's IGMP report leaves through the tunnel, to PEER.
    h.advance(core::time::Duration::from_secs(2));
    let out = outs(h.tx());
    assert!(!out.is_empty());
    assert!(
        out.iter().all(|o| (o.dst, o.protocol) == (PEER, 4)),
        "{out:?}"
    );
    let src = Ipv4Addr::new(10, 9, 9, 9);
    let data = Ip::udp(src, g, 5000, b"through the tunnel");
    h.rx(h.eth0, &ipip_frame(0, ip_of(&data)));
    let mut buf = [0u8; 64];
    let (n, from) = h.s.recv_from(fd, &mut buf, 0).unwrap();
    assert_eq!(&buf[..n], b"through the tunnel");
    assert_eq!(*from.ip(), src);
    // Not joined on eth0: the same datagram there is not delivered.
    h.rx(h.eth0, &data.frame());
    assert!(h.s.recv_from(fd, &mut buf, 0).is_err());
}

#[test]
fn forwarded_packets_are_encapsulated_with_linux_outer_fields() {
    let mut h = Host::new(true);
    let mut p = tun0();
    p.ttl = 0;
    let tun = with_tunnel(&mut h, p);
    let send = |h: &mut Host, tos: u8, df: bool| {
        let mut ip = Ip::udp(PEER1, BEYOND, 9, b"x");
        ip.eth_dst = MAC1;
        ip.eth_src = PEER1_MAC;
        (ip.tos, ip.df, ip.ttl) = (tos, df, 30);
        h.rx(h.eth1, &ip.frame());
        let out = outs(h.tx());
        assert_eq!(out.len(), 1, "{out:?}");
        out[0].clone()
    };
    // DSCP is not copied, ECN is; the TTL is the forwarded packet's (30 - 1).
    let o = send(&mut h, 0xb9, false);
    assert_eq!((o.src, o.dst, o.protocol, o.dev), (ME, PEER, 4, h.eth0));
    assert_eq!((o.tos, o.ttl, o.df), (0x01, 29, true));
    assert_eq!(
        &o.payload[12..20],
        &[PEER1.octets(), BEYOND.octets()].concat()[..]
    );
    assert_eq!(o.payload[8], 29, "the inner TTL was decreased once");
    // CE inside becomes ECT(0) outside.
    assert_eq!(send(&mut h, 0x03, false).tos, 0x02);
    let ids = [send(&mut h, 0, false).ident, send(&mut h, 0, false).ident];
    assert_ne!(ids[0], ids[1], "each outer packet has its own IP ID");

    // ttl 33, nopmtudisc is refused by iproute2 with a TTL; without one DF is the inner's.
    h.s.ip_tunnel_del("tun0").unwrap();
    let mut p = tun0();
    p.ttl = 33;
    let tun2 = with_tunnel(&mut h, p);
    assert_eq!(tun2, tun);
    let o = send(&mut h, 0, false);
    assert_eq!((o.ttl, o.df), (33, true));
    h.s.ip_tunnel_del("tun0").unwrap();
    let mut p = tun0();
    p.pmtudisc = false;
    with_tunnel(&mut h, p);
    assert!(!send(&mut h, 0, false).df);
    assert!(send(&mut h, 0, true).df);
}

#[test]
fn an_inner_df_packet_over_the_path_mtu_gets_frag_needed() {
    let mut h = Host::new(true);
    with_tunnel(&mut h, tun0());
    // The tunnel keeps its 1480 while eth0 shrinks to 1000: 980 fit inside.
    h.s.set_mtu(h.eth0, 1000).unwrap();
    let mut ip = Ip::udp(PEER1, BEYOND, 9, &[0u8; 1200]);
    (ip.eth_dst, ip.eth_src, ip.df) = (MAC1, PEER1_MAC, true);
    h.rx(h.eth1, &ip.frame());
    let got = icmps(h.tx());
    assert_eq!(got.len(), 1, "{got:?}");
    let (t, c, o) = &got[0];
    assert_eq!((*t, *c, o.dst), (3, 4, PEER1));
    assert_eq!(u16::from_be_bytes([o.payload[6], o.payload[7]]), 980);
    assert_eq!(h.drops(DropReason::PktTooBig), 1);
}

#[test]
fn a_tunnel_routed_through_itself_is_a_loop_not_a_recursion() {
    let mut h = Host::new(true);
    // The remote lies inside 172.16.0.0/16, which is routed into the tunnel.
    let p = IpTunnelParm::new("tun0", ME, Ipv4Addr::new(172, 16, 9, 9));
    let tun = with_tunnel(&mut h, p);
    let mut ip = Ip::udp(PEER1, BEYOND, 9, b"x");
    (ip.eth_dst, ip.eth_src) = (MAC1, PEER1_MAC);
    h.rx(h.eth1, &ip.frame());
    assert!(h.tx().is_empty());
    let st = h.s.dev(tun).unwrap().stats;
    assert_eq!((st.collisions, st.tx_errors, st.tx_packets), (1, 1, 0));
    assert_eq!(h.drops(DropReason::IpTunnelLoop), 1);
}

#[test]
fn tunnels_routed_through_each_other_stop_at_the_recursion_limit() {
    let mut h = Host::new(true);
    let (x, y) = (Ipv4Addr::new(172, 16, 0, 1), Ipv4Addr::new(172, 17, 0, 1));
    let a = h.s.ip_tunnel_add(&IpTunnelParm::new("ta", ME, x)).unwrap();
    let b = h.s.ip_tunnel_add(&IpTunnelParm::new("tb", ME, y)).unwrap();
    for t in [a, b] {
        h.s.set_up(t, true).unwrap();
    }
    // ta's remote routes by tb, tb's by ta.
    h.s.add_route(FibRoute::new(x, 32, RouteType::Unicast).dev(b))
        .unwrap();
    h.s.add_route(FibRoute::new(y, 32, RouteType::Unicast).dev(a))
        .unwrap();
    h.s.add_route(FibRoute::new(Ipv4Addr::new(172, 18, 0, 0), 16, RouteType::Unicast).dev(a))
        .unwrap();
    let mut ip = Ip::udp(PEER1, Ipv4Addr::new(172, 18, 0, 1), 9, b"x");
    (ip.eth_dst, ip.eth_src) = (MAC1, PEER1_MAC);
    h.rx(h.eth1, &ip.frame());
    assert!(h.tx().is_empty());
    assert_eq!(h.drops(DropReason::XmitRecursion), 1);
    let dropped: u64 = [a, b]
        .iter()
        .map(|&t| h.s.dev(t).unwrap().stats.tx_dropped)
        .sum();
    assert_eq!(dropped, 1);
}

#[test]
fn ecn_decapsulation_drops_count_rx_frame_errors() {
    let mut h = Host::new(false);
    let tun = with_tunnel(&mut h, tun0());
    let echo = Ip::echo(TUN_PEER, TUN_ME);
    h.rx(h.eth0, &ipip_frame(0x03, ip_of(&echo)));
    assert!(h.tx().is_empty());
    let st = h.s.dev(tun).unwrap().stats;
    assert_eq!((st.rx_frame_errors, st.rx_errors, st.rx_packets), (1, 1, 0));
    assert_eq!(h.drops(DropReason::IpipEcn), 1);
}

#[test]
fn ipip_from_another_remote_or_to_a_down_tunnel_is_port_unreachable() {
    let mut h = Host::new(false);
    let tun = with_tunnel(&mut h, tun0());
    h.s.set_up(tun, false).unwrap();
    let echo = Ip::echo(TUN_PEER, TUN_ME);
    h.rx(h.eth0, &ipip_frame(0, ip_of(&echo)));
    let got = icmps(h.tx());
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].0, got[0].1), (3, 3));
    assert_eq!(h.drops(DropReason::IpipNoTunnel), 1);
    // Deleted: IPIP has no handler any more (protocol unreachable).
    h.s.ip_tunnel_del("tun0").unwrap();
    h.rx(h.eth0, &ipip_frame(0, ip_of(&echo)));
    let got = icmps(h.tx());
    assert_eq!((got[0].0, got[0].1), (3, 2));
}
