//! IPIP tunnel devices (`ip tunnel add NAME mode ipip local L remote R`): creation and
//! deletion errors, decapsulation onto the device, encapsulation out of it, loops.

mod common;

use common::*;
use skiff_core::drop::DropReason;
use skiff_core::errno::Errno;
use skiff_core::ipv4::ipip::IpTunnelParm;
use skiff_core::ipv4::mroute::*;
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
    // Gone, as Linux's unregistered device.
    assert_eq!(h.s.ip_tunnel_del(fifteen), Err(Errno::NoDev));
    // The name and the pair are free again.
    assert_eq!(h.s.ip_tunnel_add(&bad(fifteen)), Ok(t));
    assert_eq!(h.s.ip_tunnels().count(), 2);
    // local any remote any is the fallback tunl0's triple; with a link it is free.
    let mut any = IpTunnelParm::new("tany", Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED);
    assert_eq!(h.s.ip_tunnel_add(&any), Err(Errno::Exist));
    any.link = Some(h.eth0);
    assert!(h.s.ip_tunnel_add(&any).is_ok());
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
    let tun = with_tunnel(&mut h, tun0());
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
    let tun = with_tunnel(&mut h, tun0());
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
    // skb_dst_update_pmtu_no_confirm(): the inner route to BEYOND learned it too.
    let cache = h.s.fib.render_cache(h.now);
    assert!(
        cache.contains("172.16.0.5 dev tun0") && cache.contains("mtu 980"),
        "{cache}"
    );
    // ip_tunnel_xmit()'s tx_error: the device's tx_errors, not Ip FragFails.
    assert_eq!(h.drops(DropReason::IpTunnelPmtu), 1);
    assert_eq!(h.mib("IpFragFails"), 0);
    assert_eq!(h.s.dev(tun).unwrap().stats.tx_errors, 1);
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

/// `n` tunnels nested: t1 (to 172.20.1.1) runs over t2, ..., t`n` to PEER over eth0; a
/// forwarded packet routed into t1. Returns what left and the recursion drops.
fn nested(n: u8) -> (Vec<Out>, u64) {
    let mut h = Host::new(true);
    let mut over = None;
    for i in (1..=n).rev() {
        let remote = over.map_or(PEER, |_| Ipv4Addr::new(172, 20, i, 1));
        let t =
            h.s.ip_tunnel_add(&IpTunnelParm::new(&format!("t{i}"), ME, remote))
                .unwrap();
        h.s.set_up(t, true).unwrap();
        if let Some(o) = over {
            h.s.add_route(FibRoute::new(remote, 32, RouteType::Unicast).dev(o))
                .unwrap();
        }
        over = Some(t);
    }
    let t1 = over.unwrap();
    h.s.add_route(FibRoute::new(BEYOND, 32, RouteType::Unicast).dev(t1))
        .unwrap();
    let mut ip = Ip::udp(PEER1, BEYOND, 9, b"x");
    (ip.eth_dst, ip.eth_src) = (MAC1, PEER1_MAC);
    h.rx(h.eth1, &ip.frame());
    (outs(h.tx()), h.drops(DropReason::XmitRecursion))
}

#[test]
fn nine_nested_tunnels_transmit_and_a_tenth_is_a_dead_loop() {
    // Linux __dev_queue_xmit(): dev_xmit_recursion() drops when the depth already is
    // over XMIT_RECURSION_LIMIT (8), so nine nested tunnel transmits go.
    let (out, drops) = nested(9);
    assert_eq!((out.len(), drops), (1, 0), "{out:?}");
    // The inner datagram (20 + 8 + 1) under nine outer headers.
    assert_eq!(out[0].payload.len(), 29 + 8 * 20);
    let (out, drops) = nested(10);
    assert_eq!((out.len(), drops), (0, 1), "{out:?}");
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
    let echo = Ip::echo(TUN_PEER, TUN_ME);
    let port_unreachable = |h: &mut Host| {
        let got = icmps(h.tx());
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!((got[0].0, got[0].1), (3, 3));
    };
    // From another remote on the same link.
    let other = Ipv4Addr::new(10, 0, 0, 3);
    h.s.add_neigh_static(h.eth0, other, PEER_MAC);
    h.rx(h.eth0, &Ip::new(other, ME, 4, ip_of(&echo)).frame());
    port_unreachable(&mut h);
    assert_eq!(h.drops(DropReason::IpipNoTunnel), 1);
    assert_eq!(h.s.dev(tun).unwrap().stats.rx_packets, 0);
    // To a down tunnel.
    h.s.set_up(tun, false).unwrap();
    h.rx(h.eth0, &ipip_frame(0, ip_of(&echo)));
    port_unreachable(&mut h);
    assert_eq!(h.drops(DropReason::IpipNoTunnel), 2);
    // Deleted: the ipip module stays loaded, so IPIP is still a known protocol.
    h.s.ip_tunnel_del("tun0").unwrap();
    h.rx(h.eth0, &ipip_frame(0, ip_of(&echo)));
    port_unreachable(&mut h);
    assert_eq!(h.drops(DropReason::IpipNoTunnel), 3);
    assert_eq!(h.mib("IpInUnknownProtos"), 0);
}

#[test]
fn nopmtudisc_with_an_inner_df_packet_uses_the_path_mtu() {
    // Linux ip_tunnel_xmit(): tnl_update_pmtu()'s df is the tunnel's DF or the inner one.
    let mut h = Host::new(true);
    let mut p = tun0();
    p.pmtudisc = false;
    let tun = with_tunnel(&mut h, p);
    h.s.set_mtu(h.eth0, 1000).unwrap();
    assert_eq!(h.s.dev(tun).unwrap().mtu, 1480);
    let mut ip = Ip::udp(PEER1, BEYOND, 9, &[0u8; 1200]);
    (ip.eth_dst, ip.eth_src, ip.df) = (MAC1, PEER1_MAC, true);
    h.rx(h.eth1, &ip.frame());
    let got = icmps(h.tx());
    assert_eq!(got.len(), 1, "{got:?}");
    let (t, c, o) = &got[0];
    assert_eq!((*t, *c, o.dst), (3, 4, PEER1));
    assert_eq!(u16::from_be_bytes([o.payload[6], o.payload[7]]), 980);
    // Without DF inside, the packet leaves (fragmented by the outer path).
    ip.df = false;
    h.rx(h.eth1, &ip.frame());
    let out = outs(h.tx());
    assert!(
        out.iter().all(|o| (o.dst, o.protocol) == (PEER, 4)),
        "{out:?}"
    );
    assert!(out.len() >= 2, "{out:?}");
}

/// An ICMP fragmentation needed from `from` about an outer packet ME → PEER of
/// `len` bytes, reporting next-hop MTU `mtu`.
fn frag_needed_about_outer(from: Ipv4Addr, mtu: u16, len: u16) -> Vec<u8> {
    let mut quoted = Ip::new(ME, PEER, 4, vec![0u8; 28]);
    quoted.df = true;
    let mut q = ip_of(&quoted);
    q[2..4].copy_from_slice(&len.to_be_bytes());
    let [hi, lo] = mtu.to_be_bytes();
    Ip::new(from, ME, 1, icmp(3, 4, [0, 0, hi, lo], &q)).frame()
}

#[test]
fn frag_needed_about_an_outer_packet_teaches_the_tunnel_its_path_mtu() {
    // Linux ipip_err(): ipv4_update_pmtu() of (remote, local, IPPROTO_IPIP).
    let mut h = Host::new(true);
    let tun = with_tunnel(&mut h, tun0());
    let send = |h: &mut Host, len: usize| {
        let mut ip = Ip::udp(PEER1, BEYOND, 9, &vec![0u8; len]);
        (ip.eth_dst, ip.eth_src, ip.df) = (MAC1, PEER1_MAC, true);
        h.rx(h.eth1, &ip.frame());
        h.tx()
    };
    // 1200 fits in 1480.
    let out = outs(send(&mut h, 1200));
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].df);
    // A router on the way (PEER's side) reports a next hop of 1000.
    h.rx(h.eth0, &frag_needed_about_outer(PEER, 1000, 1248));
    h.tx();
    let got = icmps(send(&mut h, 1200));
    assert_eq!(got.len(), 1, "{got:?}");
    let (t, c, o) = &got[0];
    assert_eq!((*t, *c, o.dst), (3, 4, PEER1));
    assert_eq!(u16::from_be_bytes([o.payload[6], o.payload[7]]), 980);
    assert_eq!(h.s.dev(tun).unwrap().stats.tx_errors, 1);
    // Under the learned MTU it still goes.
    assert_eq!(outs(send(&mut h, 900)).len(), 1);
}

#[test]
fn a_locked_path_mtu_clears_the_outer_df() {
    // iptunnel_xmit(): frag_off = ip_mtu_locked() ? 0 : df.
    let mut h = Host::new(true);
    with_tunnel(&mut h, tun0());
    // Below min_pmtu (552): learned as 552 and locked.
    h.rx(h.eth0, &frag_needed_about_outer(PEER, 300, 1248));
    h.tx();
    let mut ip = Ip::udp(PEER1, BEYOND, 9, b"x");
    (ip.eth_dst, ip.eth_src) = (MAC1, PEER1_MAC);
    h.rx(h.eth1, &ip.frame());
    let out = outs(h.tx());
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!((out[0].protocol, out[0].df), (4, false));
}

#[test]
fn tunnel_transmit_failures_count_as_linux() {
    // No route to the remote: tx_carrier_errors and tx_errors.
    let mut h = Host::new(false);
    let p = IpTunnelParm::new("tun0", ME, Ipv4Addr::new(192, 0, 2, 1));
    let tun = with_tunnel(&mut h, p);
    let fd = h.s.raw_socket(17).unwrap();
    let _ = h.s.raw_sendto(h.now, fd, BEYOND, &[0u8; 8]);
    assert!(h.tx().is_empty());
    let st = h.s.dev(tun).unwrap().stats;
    assert_eq!(
        (st.tx_carrier_errors, st.tx_errors, st.tx_dropped),
        (1, 1, 0)
    );
    assert_eq!(h.drops(DropReason::IpTunnelNoRoute), 1);
    assert!(h.s.render_link().contains("carrier"));

    // ip_local_out() fails (LOCAL_OUT drops it): iptunnel_xmit_stats()'s tx_dropped.
    let mut h = Host::new(false);
    let tun = with_tunnel(&mut h, tun0());
    h.s.nf.load_rules("-A OUTPUT -p 4 -j DROP\n").unwrap();
    let fd = h.s.raw_socket(17).unwrap();
    let _ = h.s.raw_sendto(h.now, fd, BEYOND, &[0u8; 8]);
    assert!(h.tx().is_empty());
    let st = h.s.dev(tun).unwrap().stats;
    assert_eq!((st.tx_dropped, st.tx_errors, st.tx_packets), (1, 0, 0));
}

#[test]
fn the_lookup_keeps_one_candidate_across_passes() {
    // Linux ip_tunnel_lookup(): (ME, PEER, no link) matches the first pass but not the
    // link; (any, PEER, eth0) matches the second pass and the link, so it wins.
    let mut h = Host::new(false);
    let exact = with_tunnel(&mut h, tun0());
    let mut p = IpTunnelParm::new("tun1", Ipv4Addr::UNSPECIFIED, PEER);
    p.link = Some(h.eth0);
    let bound = h.s.ip_tunnel_add(&p).unwrap();
    h.s.set_up(bound, true).unwrap();
    let echo = Ip::echo(TUN_PEER, TUN_ME);
    h.rx(h.eth0, &ipip_frame(0, ip_of(&echo)));
    h.tx();
    assert_eq!(h.s.dev(bound).unwrap().stats.rx_packets, 1);
    assert_eq!(h.s.dev(exact).unwrap().stats.rx_packets, 0);
    // Without the bound one, the first pass's candidate.
    h.s.set_up(bound, false).unwrap();
    h.rx(h.eth0, &ipip_frame(0, ip_of(&echo)));
    h.tx();
    assert_eq!(h.s.dev(exact).unwrap().stats.rx_packets, 1);
}

#[test]
fn a_tunnel_over_a_tunnel_takes_its_mtu_less_20() {
    let mut h = Host::new(false);
    with_tunnel(&mut h, tun0());
    // 172.16.0.9 routes by tun0 (1480).
    let inner =
        h.s.ip_tunnel_add(&IpTunnelParm::new("tun1", ME, Ipv4Addr::new(172, 16, 0, 9)))
            .unwrap();
    assert_eq!(h.s.dev(inner).unwrap().mtu, 1460);
}

#[test]
fn an_inner_packet_shorter_than_an_ip_header_is_a_length_error() {
    let mut h = Host::new(false);
    let tun = with_tunnel(&mut h, tun0());
    h.rx(h.eth0, &ipip_frame(0, vec![0x45; 19]));
    assert!(h.tx().is_empty());
    let st = h.s.dev(tun).unwrap().stats;
    assert_eq!(
        (st.rx_length_errors, st.rx_errors, st.rx_packets),
        (1, 1, 0)
    );
    assert_eq!(h.drops(DropReason::IpTunnelRxLength), 1);
    assert_eq!(h.mib("IpInHdrErrors"), 0);
}

/// MRT_INIT on a raw IGMP socket of `h`.
fn mrt_init(h: &mut Host) -> skiff_core::socket::SockFd {
    let fd = h.s.raw_socket(2).unwrap();
    h.s.ip_mroute_setsockopt(fd, MRT_INIT, &1i32.to_ne_bytes())
        .unwrap();
    fd
}

#[test]
fn a_dvmrp_name_is_free_again_after_either_kind_of_delete() {
    let mut h = Host::new(false);
    let fd = mrt_init(&mut h);
    let vif = VifCtl::tunnel(3, ME, PEER, 1);
    // ip tunnel add dvmrp3; ip tunnel del dvmrp3; then MRT_ADD_VIF 3 VIFF_TUNNEL.
    let t =
        h.s.ip_tunnel_add(&IpTunnelParm::new("dvmrp3", ME, PEER))
            .unwrap();
    h.s.ip_tunnel_del("dvmrp3").unwrap();
    h.s.ip_mroute_setsockopt(fd, MRT_ADD_VIF, &vif.to_bytes())
        .unwrap();
    assert!(h.s.ip_tunnel(t).is_some_and(|t| t.vif));
    // MRT_DEL_VIF, then ip tunnel add dvmrp3.
    h.s.ip_mroute_setsockopt(fd, MRT_DEL_VIF, &vif.to_bytes())
        .unwrap();
    let again = h.s.ip_tunnel_add(&IpTunnelParm::new("dvmrp3", ME, PEER));
    assert_eq!(again, Ok(t));
    assert!(h.s.ip_tunnel(t).is_some_and(|t| !t.vif));
}
