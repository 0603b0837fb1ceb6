//! ip_forward (R23), ip_error, and the ICMP error filter and rate limits (R22).

mod common;

use common::*;
use core::time::Duration;
use skiff_core::drop::DropReason;
use skiff_core::route::{FibRoute, RouteType};
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::EthernetAddress;

#[test]
fn forwards_with_ttl_decrement_and_valid_checksum() {
    let mut r = Host::new(true);
    let mut p = Ip::udp(PEER, PEER1, 7, b"through");
    p.ttl = 9;
    p.tos = 0x10;
    r.rx(r.eth0, &p.frame());
    let out = outs(r.tx());
    assert_eq!(out.len(), 1);
    let o = &out[0];
    assert_eq!(
        (o.dev, o.eth_dst, o.src, o.dst, o.ttl),
        (r.eth1, PEER1_MAC, PEER, PEER1, 8)
    );
    assert_eq!(o.payload, p.payload, "the payload is untouched");
    assert_eq!(r.mib("IpForwDatagrams"), 1);
    assert_eq!(r.mib("IpOutTransmits"), 1);
    assert_eq!(r.mib("IpInDelivers"), 0);
}

#[test]
fn ttl_one_answers_time_exceeded_from_the_router() {
    let mut r = Host::new(true);
    let mut p = Ip::echo(PEER, PEER1);
    p.ttl = 1;
    r.rx(r.eth0, &p.frame());
    let got = icmps(r.tx());
    assert_eq!(got.len(), 1);
    let (t, c, o) = &got[0];
    assert_eq!((*t, *c), (11, 0));
    assert_eq!(
        (o.src, o.dst, o.dev),
        (ME, PEER, r.eth0),
        "from the address facing the source"
    );
    assert_eq!(r.drops(DropReason::IpTtlExpired), 1);
    assert_eq!(r.mib("IpInHdrErrors"), 1);
    assert_eq!(r.mib("IcmpOutTimeExcds"), 1);
    // TTL 1 addressed to the router itself is delivered (RFC 1812 5.3.1).
    let mut own = Ip::echo(PEER, ME1);
    own.ttl = 1;
    r.rx(r.eth0, &own.frame());
    assert_eq!(icmps(r.tx())[0].0, 0);
}

#[test]
fn df_over_mtu_answers_frag_needed_with_the_mtu() {
    let mut r = Host::new(true); // eth1 MTU 1400
    let mut p = Ip::udp(PEER, PEER1, 7, &[0; 1450]);
    p.df = true;
    r.rx(r.eth0, &p.frame());
    let got = icmps(r.tx());
    assert_eq!(got.len(), 1);
    let (t, c, o) = &got[0];
    assert_eq!((*t, *c), (3, 4));
    assert_eq!(
        &o.payload[4..8],
        &[0, 0, 0x05, 0x78],
        "next-hop MTU 1400, high bits 0 (RFC 1191)"
    );
    assert_eq!(r.mib("IpFragFails"), 1);
    assert_eq!(r.drops(DropReason::PktTooBig), 1);
}

#[test]
fn ip_error_per_route_type() {
    let cases = [
        ("no route", None, Some((3, 0)), "IpExtInNoRoutes"),
        (
            "unreachable",
            Some(RouteType::Unreachable),
            Some((3, 1)),
            "",
        ),
        ("prohibit", Some(RouteType::Prohibit), Some((3, 13)), ""),
        ("blackhole", Some(RouteType::Blackhole), None, ""),
    ];
    for (what, rtype, icmp, counter) in cases {
        let mut r = Host::new(true);
        let dst = Ipv4Addr::new(192, 0, 2, 9);
        if let Some(t) = rtype {
            r.s.add_route(FibRoute::new(Ipv4Addr::new(192, 0, 2, 0), 24, t))
                .unwrap();
        }
        r.rx(r.eth0, &Ip::echo(PEER, dst).frame());
        let got: Vec<(u8, u8)> = icmps(r.tx()).into_iter().map(|(t, c, _)| (t, c)).collect();
        assert_eq!(got, icmp.into_iter().collect::<Vec<_>>(), "{what}");
        if !counter.is_empty() {
            assert_eq!(r.mib(counter), 1, "{what}");
        }
    }
}

#[test]
fn a_host_does_not_forward_and_sends_no_error() {
    let mut h = Host::new(false);
    h.rx(h.eth0, &Ip::echo(PEER, Ipv4Addr::new(10, 0, 0, 77)).frame());
    assert!(h.tx().is_empty());
    assert_eq!(h.drops(DropReason::IpInaddrerrors), 1);
    assert_eq!(h.mib("IpInAddrErrors"), 1);
    // No route at all: a host still says EHOSTUNREACH (ip_route_input_slow), not ENETUNREACH.
    h.rx(h.eth0, &Ip::echo(PEER, Ipv4Addr::new(192, 0, 2, 1)).frame());
    assert!(h.tx().is_empty());
    assert_eq!(h.mib("IpInAddrErrors"), 2);
    assert_eq!(h.mib("IpExtInNoRoutes"), 0);
}

/// Forwarding is per device (Linux IN_DEV_FORWARD() of the receiving device):
/// `conf.DEV.forwarding` turns one device off, `ip_forward` (`conf.all.forwarding`) sets
/// them all again, and a new device starts with `ip_forward`.
#[test]
fn forwarding_is_per_receiving_device() {
    let mut r = Host::new(true);
    r.s.set_sysctl("net.ipv4.conf.eth0.forwarding", "0")
        .unwrap();
    assert_eq!(r.s.sysctl_value("conf.eth0.forwarding").unwrap(), "0");
    assert_eq!(r.s.sysctl_value("conf.eth1.forwarding").unwrap(), "1");
    assert_eq!(r.s.sysctl_value("ip_forward").unwrap(), "1");
    // In on eth0: treated as a host's (EHOSTUNREACH, InAddrErrors, no ICMP).
    r.rx(r.eth0, &Ip::udp(PEER, PEER1, 7, b"x").frame());
    assert!(r.tx().is_empty());
    assert_eq!(r.mib("IpInAddrErrors"), 1);
    assert_eq!(r.mib("IpForwDatagrams"), 0);
    // In on eth1, which still forwards: out on eth0.
    let mut back = Ip::udp(PEER1, PEER, 7, b"x");
    back.eth_dst = MAC1;
    r.rx(r.eth1, &back.frame());
    assert_eq!(outs(r.tx())[0].dev, r.eth0);
    assert_eq!(r.mib("IpForwDatagrams"), 1);
    // Writing ip_forward its own value again changes no device (Linux
    // devinet_sysctl_forward() propagates a change only).
    r.s.set_sysctl("ip_forward", "1").unwrap();
    assert_eq!(r.s.sysctl_value("conf.eth0.forwarding").unwrap(), "0");
    // A change sets every device; conf.all.forwarding is ip_forward.
    r.s.set_sysctl("ip_forward", "0").unwrap();
    assert_eq!(r.s.sysctl_value("conf.eth1.forwarding").unwrap(), "0");
    r.s.set_sysctl("net.ipv4.conf.all.forwarding", "1").unwrap();
    assert_eq!(r.s.sysctl_value("conf.all.forwarding").unwrap(), "1");
    assert_eq!(r.s.sysctl_value("conf.eth0.forwarding").unwrap(), "1");
    r.rx(r.eth0, &Ip::udp(PEER, PEER1, 7, b"x").frame());
    assert_eq!(outs(r.tx())[0].dev, r.eth1);
    r.s.set_sysctl("conf.eth1.forwarding", "00").unwrap();
    assert!(!r.s.dev_forwarding(r.eth1));
    r.s.set_sysctl("ip_forward", "1").unwrap();
    let eth2 =
        r.s.add_device("eth2", EthernetAddress([2, 0, 0, 0, 0, 9]), 1500)
            .unwrap();
    assert!(r.s.dev_forwarding(eth2));
    // Bad names and values are refused and change nothing.
    assert_eq!(
        r.s.set_sysctl("conf.nope.forwarding", "1")
            .unwrap_err()
            .errno(),
        2
    );
    assert_eq!(
        r.s.set_sysctl("conf.eth0.forwarding", "2")
            .unwrap_err()
            .errno(),
        22
    );
    assert!(r.s.dev_forwarding(r.eth0));
    assert_eq!(
        r.s.check_sysctls(&[("ip_forward", "0"), ("conf.eth0.forwarding", "x")])
            .unwrap_err()
            .0,
        1
    );
    assert!(r.s.dev_forwarding(r.eth0) && r.s.sysctl().ip_forward == 1);
}

/// R22: the cases in which no ICMP error may be sent.
#[test]
fn icmp_error_filter() {
    let ttl1 = |mut p: Ip| {
        p.ttl = 1;
        p
    };
    let mut l2_bcast = ttl1(Ip::udp(PEER, PEER1, 7, b"x"));
    l2_bcast.eth_dst = EthernetAddress::BROADCAST;
    let mut later_frag = ttl1(Ip::udp(PEER, PEER1, 7, b"x"));
    later_frag.frag_offset = 8;
    let about_error = ttl1(Ip::new(PEER, PEER1, 1, icmp(3, 1, [0; 4], &[0x45; 28])));
    let about_unknown = ttl1(Ip::new(PEER, PEER1, 1, icmp(42, 0, [0; 4], &[])));
    let about_redirect = ttl1(Ip::new(PEER, PEER1, 1, icmp(5, 1, [0; 4], &[0x45; 28])));
    // ip_forward() drops what was not sent to our MAC before it looks at the TTL.
    let mut r = Host::new(true);
    r.rx(r.eth0, &l2_bcast.frame());
    assert!(r.tx().is_empty(), "no ICMP about a link-layer broadcast");
    assert_eq!(r.drops(DropReason::OtherHost), 1);
    let cases = [
        ("non-initial fragment", later_frag),
        ("an ICMP error", about_error),
        ("an unknown ICMP type", about_unknown),
        ("a redirect (an error type)", about_redirect),
    ];
    for (what, p) in cases {
        let mut r = Host::new(true);
        r.rx(r.eth0, &p.frame());
        assert!(icmps(r.tx()).is_empty(), "no ICMP about {what}");
        assert_eq!(r.drops(DropReason::IpTtlExpired), 1, "{what} still dropped");
    }
    // A subnet-broadcast UDP datagram to a closed port: no port unreachable.
    let mut h = Host::new(false);
    let mut b = Ip::udp(PEER, Ipv4Addr::new(10, 0, 0, 255), 9, b"x");
    b.eth_dst = EthernetAddress::BROADCAST;
    h.rx(h.eth0, &b.frame());
    assert!(h.tx().is_empty());
    assert_eq!(h.mib("UdpIgnoredMulti"), 1);
    // An echo request is not an error: TTL 1 draws time exceeded.
    let mut r = Host::new(true);
    r.rx(r.eth0, &ttl1(Ip::echo(PEER, PEER1)).frame());
    assert_eq!(icmps(r.tx()).len(), 1);
}

#[test]
fn per_destination_bucket_allows_a_burst_of_six_then_one_per_second() {
    let mut h = Host::new(false);
    let p = Ip::udp(PEER, ME, 9, b"x").frame();
    for _ in 0..20 {
        h.rx(h.eth0, &p);
    }
    assert_eq!(icmps(h.tx()).len(), 6, "XRLIM_BURST_FACTOR 6");
    assert_eq!(h.mib("IcmpOutRateLimitHost"), 14);
    assert_eq!(h.mib("UdpNoPorts"), 20);
    h.advance(Duration::from_millis(1000));
    for _ in 0..5 {
        h.rx(h.eth0, &p);
    }
    assert_eq!(icmps(h.tx()).len(), 1, "one token per icmp_ratelimit (1 s)");
}

#[test]
fn echo_replies_and_frag_needed_are_not_rate_limited() {
    let mut h = Host::new(false);
    for _ in 0..30 {
        h.rx(h.eth0, &Ip::echo(PEER, ME).frame());
    }
    assert_eq!(icmps(h.tx()).len(), 30);
    let mut r = Host::new(true);
    let mut p = Ip::udp(PEER, PEER1, 7, &[0; 1450]);
    p.df = true;
    for _ in 0..30 {
        r.rx(r.eth0, &p.frame());
    }
    assert_eq!(icmps(r.tx()).len(), 30, "PMTU discovery is never limited");
}

#[test]
fn global_bucket_limits_errors_to_many_destinations() {
    let mut r = Host::new(true);
    r.s.set_sysctl("icmp_msgs_burst", "10").unwrap();
    r.s.set_sysctl("icmp_msgs_per_sec", "10").unwrap();
    // 200 sources behind PEER (on-link /24), each one probe: only the global bucket limits.
    for i in 0..200u8 {
        let src = Ipv4Addr::new(10, 0, 0, 100u8.wrapping_add(i) % 250 + 3);
        let mut p = Ip::echo(src, PEER1);
        p.ttl = 1;
        r.s.add_neigh_static(r.eth0, src, PEER_MAC);
        r.rx(r.eth0, &p.frame());
    }
    // 10 credits and each send takes 0, 1 or 2 of them at random: at least 5 sends, and
    // past 20 only if most draws were 0 (the seed decides; 10 is the mean).
    let sent = icmps(r.tx()).len();
    assert!(
        (5..=20).contains(&sent),
        "burst 10 with random 0-2 credits per send: {sent}"
    );
    assert!(r.mib("IcmpOutRateLimitGlobal") >= 180);
}

#[test]
fn ip_list_rcv_reuses_the_route_of_the_same_flow() {
    let mut r = Host::new(true);
    let frames: Vec<_> = (0..4)
        .map(|i| Ip::udp(PEER, PEER1, 7 + i, b"batch").frame())
        .collect();
    r.s.drain_trace();
    let skbs = frames
        .iter()
        .map(|f| {
            let mut skb = r.s.alloc_skb(f.len()).unwrap();
            skb.put_slice(f).unwrap();
            skb
        })
        .collect();
    r.s.netif_receive_list(r.now, r.eth0, skbs);
    assert_eq!(outs(r.tx()).len(), 4);
    let trace = r.s.drain_trace().join("\n");
    assert_eq!(trace.matches("ip_route_input_noref").count(), 1, "{trace}");
    assert_eq!(trace.matches("ip_forward_finish").count(), 4);
}

/// The option area of a transmitted packet.
fn options_of(o: &Out) -> Vec<u8> {
    let ihl = usize::from(o.ip[0] & 0x0f) * 4;
    o.ip[20..ihl].to_vec()
}

#[test]
fn record_route_gets_the_outgoing_address() {
    let mut r = Host::new(true);
    let mut p = Ip::udp(PEER, PEER1, 7, b"rr");
    p.options = vec![7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]; // two slots, then EOL
    r.rx(r.eth0, &p.frame());
    let out = outs(r.tx());
    assert_eq!(
        out.len(),
        1,
        "Out::parse checked the recomputed header checksum"
    );
    let o = options_of(&out[0]);
    assert_eq!(&o[..3], &[7, 11, 8]);
    assert_eq!(
        &o[3..7],
        &ME1.octets(),
        "RFC 791: the address of the outgoing interface"
    );
    assert_eq!(&o[7..11], &[0, 0, 0, 0]);
}

#[test]
fn loose_source_route_is_followed_when_accepted() {
    let mut r = Host::new(true);
    r.s.set_sysctl("accept_source_route", "1").unwrap();
    let mut p = Ip::udp(PEER, ME, 7, b"lsrr");
    p.options = vec![131, 7, 4, 10, 0, 1, 2, 0]; // LSRR: next hop 10.0.1.2, then EOL
    r.rx(r.eth0, &p.frame());
    let out = outs(r.tx());
    assert_eq!(out.len(), 1, "{:?}", r.s.drain_trace());
    assert_eq!((out[0].dst, out[0].dev, out[0].ttl), (PEER1, r.eth1, 63));
    let o = options_of(&out[0]);
    assert_eq!(&o[..3], &[131, 7, 8], "pointer moved past the used hop");
    assert_eq!(
        &o[3..7],
        &ME1.octets(),
        "the hop is replaced by our outgoing address"
    );
}

#[test]
fn strict_source_route_through_a_gateway_fails_with_3_5() {
    let mut r = Host::new(true);
    r.s.set_sysctl("accept_source_route", "1").unwrap();
    r.s.add_route(FibRoute::new(Ipv4Addr::new(192, 0, 2, 0), 24, RouteType::Unicast).via(PEER1))
        .unwrap();
    let mut p = Ip::udp(PEER, ME, 7, b"ssrr");
    p.options = vec![137, 7, 4, 192, 0, 2, 5, 0]; // SSRR: next hop 192.0.2.5 is not on-link
    r.rx(r.eth0, &p.frame());
    let got = icmps(r.tx());
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].0, got[0].1, got[0].2.dst), (3, 5, PEER));
}

#[test]
fn strict_source_route_not_addressed_to_us_is_a_parameter_problem() {
    let mut r = Host::new(true);
    r.s.set_sysctl("accept_source_route", "1").unwrap();
    let mut p = Ip::udp(PEER, PEER1, 7, b"ssrr");
    p.options = vec![137, 7, 4, 10, 0, 1, 9, 0];
    r.rx(r.eth0, &p.frame());
    let got = icmps(r.tx());
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].0, got[0].1, got[0].2.payload[4]), (12, 0, 16));
    assert_eq!(r.drops(DropReason::IpSourceRoute), 1);
}

#[test]
fn forwarding_back_out_the_same_link_sends_redirects_with_backoff() {
    let mut r = Host::new(true);
    let gw = Ipv4Addr::new(10, 0, 0, 3);
    let gw_mac = skiff_wire::ethernet::EthernetAddress([2, 0, 0, 0, 0, 3]);
    r.s.add_neigh_static(r.eth0, gw, gw_mac);
    r.s.add_route(FibRoute::new(Ipv4Addr::new(192, 0, 2, 0), 24, RouteType::Unicast).via(gw))
        .unwrap();
    let p = Ip::udp(PEER, Ipv4Addr::new(192, 0, 2, 5), 7, b"via the same link").frame();
    let mut redirects = Vec::new();
    for i in 0..40u64 {
        r.rx(r.eth0, &p);
        let out = outs(r.tx());
        assert!(
            out.iter().any(|o| o.eth_dst == gw_mac && o.protocol == 17),
            "still forwarded"
        );
        for o in out.iter().filter(|o| o.protocol == 1) {
            assert_eq!((o.icmp(), o.dst), ((5, 1), PEER));
            assert_eq!(&o.payload[4..8], &gw.octets(), "the better gateway");
            redirects.push(i);
        }
        r.advance(Duration::from_millis(30));
    }
    // Linux: the n-th next one waits more than 20 ms << n. Packets are 30 ms apart.
    assert_eq!(redirects, [0, 2, 5, 11, 22]);
    assert_eq!(r.mib("IcmpOutRedirects"), redirects.len() as u64);
}

/// bc_forwarding (Linux 5.0, ip_route_input_slow()'s RTN_BROADCAST case): a directed
/// broadcast to another device's subnet is ours unless the input device has bc_forwarding;
/// then it is forwarded (even without ip_forward), as an L2 broadcast, and not delivered.
#[test]
fn directed_broadcast_is_forwarded_only_with_bc_forwarding() {
    use skiff_core::socket::{AF_INET, SOCK_DGRAM};
    use std::net::SocketAddrV4;
    let brd1 = Ipv4Addr::new(10, 0, 1, 255);
    let mut r = Host::new(true);
    assert_eq!(
        r.s.sysctl_value("net.ipv4.conf.all.bc_forwarding").unwrap(),
        "0"
    );
    let fd = r.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    r.s.bind(fd, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5000).into())
        .unwrap();
    let mut buf = [0u8; 64];
    let mut got = |r: &mut Host| {
        let mut n = 0;
        while r.s.recvmsg(fd, &mut buf, 0).is_ok() {
            n += 1;
        }
        n
    };
    // Off: delivered here, nothing leaves; an echo is ignored as a broadcast's.
    r.rx(r.eth0, &Ip::udp(PEER, brd1, 5000, b"bc").frame());
    assert_eq!(got(&mut r), 1);
    r.rx(r.eth0, &Ip::echo(PEER, brd1).frame());
    assert!(r.tx().is_empty());
    assert_eq!(r.mib("IpExtInBcastPkts"), 2);
    assert_eq!(
        (r.mib("IpForwDatagrams"), r.mib("IpExtOutBcastPkts")),
        (0, 0)
    );
    assert_eq!(r.mib("IcmpInEchos"), 1);
    // icmp_echo_ignore_broadcasts still decides for a local directed broadcast.
    r.s.set_sysctl("icmp_echo_ignore_broadcasts", "0").unwrap();
    r.rx(r.eth0, &Ip::echo(PEER, brd1).frame());
    let replies = icmps(r.tx());
    assert_eq!(replies.len(), 1);
    assert_eq!((replies[0].0, replies[0].2.dst), (0, PEER));
    r.s.set_sysctl("icmp_echo_ignore_broadcasts", "1").unwrap();

    // On: forwarded out eth1 to the L2 broadcast address, TTL decremented, not delivered.
    r.s.set_sysctl("net.ipv4.conf.all.bc_forwarding", "1")
        .unwrap();
    r.rx(r.eth0, &Ip::udp(PEER, brd1, 5000, b"bc").frame());
    assert_eq!(got(&mut r), 0, "a forwarded broadcast is not ours too");
    let out = outs(r.tx());
    assert_eq!(out.len(), 1);
    let o = &out[0];
    assert_eq!((o.dev, o.eth_dst), (r.eth1, EthernetAddress::BROADCAST));
    assert_eq!((o.src, o.dst, o.ttl, o.protocol), (PEER, brd1, 63, 17));
    assert_eq!(r.mib("IpForwDatagrams"), 1);
    assert_eq!(r.mib("IpExtOutBcastPkts"), 1);
    assert_eq!(r.mib("IpExtInBcastPkts"), 4);
    // An echo request is forwarded rather than answered, whatever the ignore sysctl says.
    r.s.set_sysctl("icmp_echo_ignore_broadcasts", "0").unwrap();
    r.rx(r.eth0, &Ip::echo(PEER, brd1).frame());
    let out = outs(r.tx());
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].dev, out[0].dst, out[0].protocol), (r.eth1, brd1, 1));
    assert_eq!(r.mib("IcmpInEchos"), 2);
    r.s.set_sysctl("icmp_echo_ignore_broadcasts", "1").unwrap();
    // bc_forwarding alone forwards it (make_route skips the forwarding check).
    r.s.set_sysctl("ip_forward", "0").unwrap();
    r.rx(r.eth0, &Ip::udp(PEER, brd1, 5000, b"bc").frame());
    assert_eq!(outs(r.tx()).len(), 1);
    assert_eq!(r.mib("IpForwDatagrams"), 3);
    // The limited broadcast is never forwarded: it is ours.
    let mut lim = Ip::udp(PEER, Ipv4Addr::BROADCAST, 5000, b"lb");
    lim.eth_dst = EthernetAddress::BROADCAST;
    r.s.set_sysctl("ip_forward", "1").unwrap();
    r.rx(r.eth0, &lim.frame());
    assert!(r.tx().is_empty());
    assert_eq!(got(&mut r), 1);
    assert_eq!(r.mib("IpForwDatagrams"), 3);
    // Off again: ours again.
    r.s.set_sysctl("bc_forwarding", "0").unwrap();
    r.rx(r.eth0, &Ip::udp(PEER, brd1, 5000, b"bc").frame());
    assert!(r.tx().is_empty());
    assert_eq!(got(&mut r), 1);
    assert_eq!(
        r.s.set_sysctl("bc_forwarding", "2").unwrap_err().errno(),
        22
    );
}
