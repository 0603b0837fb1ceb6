//! Every `DropReason` is reachable from outside the stack, and each scenario below drops
//! for the reason it names. A new reason without a scenario fails this test.

mod common;

use common::*;
use core::time::Duration;
use skiff_core::drop::DropReason;
use skiff_core::ipv4::ipip::IpTunnelParm;
use skiff_core::ipv4::mroute::*;
use skiff_core::route::{FibRoute, RouteType};
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::EthernetAddress;
use std::collections::HashSet;

/// Runs `scenario` on a fresh host (or router) and returns the reasons it dropped for.
fn reasons(router: bool, scenario: impl FnOnce(&mut Host)) -> HashSet<DropReason> {
    let mut h = Host::new(router);
    scenario(&mut h);
    h.tx();
    DropReason::ALL
        .iter()
        .copied()
        .filter(|&r| h.drops(r) > 0)
        .collect()
}

fn expect(
    seen: &mut HashSet<DropReason>,
    want: DropReason,
    router: bool,
    scenario: impl FnOnce(&mut Host),
) {
    let got = reasons(router, scenario);
    assert!(got.contains(&want), "{want:?} not produced; got {got:?}");
    seen.extend(got);
}

/// MRT_INIT on a raw IGMP socket, eth0 as vif 0 and eth1 as vif 1, and an (S,G) entry
/// for PEER → 239.1.1.1 from vif 0 to `oifs` (none when empty).
fn mrouter(h: &mut Host, oifs: &[(usize, u8)]) -> skiff_core::socket::SockFd {
    let fd = h.s.raw_socket(2).unwrap();
    h.s.ip_mroute_setsockopt(fd, MRT_INIT, &1i32.to_ne_bytes())
        .unwrap();
    for (i, dev) in [h.eth0, h.eth1].into_iter().enumerate() {
        let v = VifCtl::by_ifindex(i as u16, dev, 1);
        h.s.ip_mroute_setsockopt(fd, MRT_ADD_VIF, &v.to_bytes())
            .unwrap();
    }
    if !oifs.is_empty() {
        let m = MfcCtl::new(PEER, Ipv4Addr::new(239, 1, 1, 1), 0, oifs);
        h.s.ip_mroute_setsockopt(fd, MRT_ADD_MFC, &m.to_bytes())
            .unwrap();
    }
    fd
}

fn ping(h: &mut Host, to: Ipv4Addr, payload: &[u8]) {
    let sock = h.s.raw_socket(1).unwrap();
    let _ =
        h.s.raw_sendto(h.now, sock, to, &icmp(8, 0, [0, 1, 0, 1], payload));
}

#[test]
fn every_drop_reason_has_a_scenario() {
    use DropReason as R;
    let mut seen = HashSet::new();
    let echo = || Ip::echo(PEER, ME);
    expect(&mut seen, R::OtherHost, false, |h| {
        let mut p = echo();
        p.eth_dst = EthernetAddress([2, 9, 9, 9, 9, 9]);
        h.rx(h.eth0, &p.frame());
    });
    expect(&mut seen, R::PktTooSmall, false, |h| {
        let f = echo().frame();
        h.rx(h.eth0, &f[..f.len() - 1]);
    });
    expect(&mut seen, R::IpInhdr, false, |h| {
        h.rx(h.eth0, &echo().frame()[..30])
    });
    expect(&mut seen, R::IpCsum, false, |h| {
        let mut f = echo().frame();
        f[24] ^= 1;
        h.rx(h.eth0, &f);
    });
    expect(&mut seen, R::IpInvalidSource, false, |h| {
        h.rx(h.eth0, &Ip::echo(ME, ME).frame())
    });
    expect(&mut seen, R::IpInvalidDest, false, |h| {
        h.rx(h.eth0, &Ip::echo(PEER, Ipv4Addr::new(0, 0, 0, 9)).frame())
    });
    expect(&mut seen, R::IpRpFilter, true, |h| {
        h.s.set_sysctl("rp_filter", "1").unwrap();
        // 10.0.1.77 lives behind eth1, but this arrives on eth0.
        h.rx(
            h.eth0,
            &Ip::echo(Ipv4Addr::new(10, 0, 1, 77), PEER1).frame(),
        );
    });
    expect(&mut seen, R::IpNoroute, true, |h| {
        h.rx(h.eth0, &Ip::echo(PEER, Ipv4Addr::new(192, 0, 2, 1)).frame())
    });
    expect(&mut seen, R::IpInaddrerrors, false, |h| {
        h.rx(h.eth0, &Ip::echo(PEER, Ipv4Addr::new(10, 0, 0, 50)).frame())
    });
    expect(&mut seen, R::IpRouteError, true, |h| {
        h.s.add_route(FibRoute::new(
            Ipv4Addr::new(192, 0, 2, 0),
            24,
            RouteType::Blackhole,
        ))
        .unwrap();
        h.rx(h.eth0, &Ip::echo(PEER, Ipv4Addr::new(192, 0, 2, 1)).frame());
    });
    expect(&mut seen, R::IpOutnoroutes, false, |h| {
        // A rule sends a local packet somewhere the host has no route to.
        h.s.nf
            .load_rules("-A OUTPUT -d 10.0.0.2 -j SET-DADDR --to 192.0.2.1\n")
            .unwrap();
        ping(h, PEER, b"x");
    });
    expect(&mut seen, R::IpSourceRoute, false, |h| {
        let mut p = echo();
        p.options = vec![131, 7, 4, 10, 0, 0, 9, 0];
        h.rx(h.eth0, &p.frame());
    });
    expect(&mut seen, R::UnicastInL2Multicast, false, |h| {
        h.s.set_sysctl("drop_unicast_in_l2_multicast", "1").unwrap();
        let mut p = echo();
        p.eth_dst = EthernetAddress::BROADCAST;
        h.rx(h.eth0, &p.frame());
    });
    // Reassembly: each scenario sends fragments of one echo request (IP ID 0x4242).
    let piece = |off: u16, mf: bool, len: usize| {
        let mut p = Ip::new(PEER, ME, 1, vec![0x5a; len]);
        p.frag_offset = off;
        p.mf = mf;
        p.frame()
    };
    expect(&mut seen, R::FragMemLimit, false, |h| {
        h.s.set_sysctl("ipfrag_low_thresh", "0").unwrap();
        h.s.set_sysctl("ipfrag_high_thresh", "0").unwrap();
        h.rx(h.eth0, &piece(0, true, 16));
    });
    expect(&mut seen, R::DupFrag, false, |h| {
        h.rx(h.eth0, &piece(0, true, 16));
        h.rx(h.eth0, &piece(0, true, 16));
    });
    expect(&mut seen, R::FragOverlap, false, |h| {
        h.rx(h.eth0, &piece(0, true, 16));
        h.rx(h.eth0, &piece(8, true, 16));
    });
    expect(&mut seen, R::FragDiscard, false, |h| {
        h.rx(h.eth0, &piece(8, true, 0));
    });
    expect(&mut seen, R::FragTooFar, false, |h| {
        h.rx(h.eth0, &piece(0, true, 16));
        for id in 0..65 {
            let mut p = Ip::new(PEER, ME, 1, vec![0; 8]);
            p.ident = id;
            p.mf = true;
            h.rx(h.eth0, &p.frame());
        }
        h.rx(h.eth0, &piece(16, false, 8));
    });
    expect(&mut seen, R::FragReasmTimeout, false, |h| {
        h.rx(h.eth0, &piece(0, true, 16));
        h.advance(Duration::from_secs(31));
    });
    expect(&mut seen, R::IpNoproto, false, |h| {
        h.rx(h.eth0, &Ip::new(PEER, ME, 200, vec![0; 8]).frame())
    });
    expect(&mut seen, R::IpTtlExpired, true, |h| {
        let mut p = Ip::echo(PEER, PEER1);
        p.ttl = 1;
        h.rx(h.eth0, &p.frame());
    });
    expect(&mut seen, R::PktTooBig, true, |h| {
        let mut p = Ip::udp(PEER, PEER1, 7, &[0; 1450]);
        p.df = true;
        h.rx(h.eth0, &p.frame());
    });
    expect(&mut seen, R::NetfilterDrop, false, |h| {
        h.s.nf.load_rules("-A INPUT -p icmp -j DROP\n").unwrap();
        h.rx(h.eth0, &echo().frame());
    });
    expect(&mut seen, R::NetfilterQueue, false, |h| {
        h.s.nf
            .load_rules("-A INPUT -p icmp -j NFQUEUE --queue-num 4\n")
            .unwrap();
        h.rx(h.eth0, &echo().frame());
    });
    expect(&mut seen, R::NeighFailed, false, |h| {
        ping(h, Ipv4Addr::new(10, 0, 0, 60), b"x");
        h.advance(Duration::from_secs(5));
    });
    expect(&mut seen, R::NeighQueuefull, false, |h| {
        for _ in 0..300 {
            ping(h, Ipv4Addr::new(10, 0, 0, 61), &[0; 1000]);
        }
    });
    expect(&mut seen, R::NeighCreatefail, false, |h| {
        h.s.add_addr(h.eth0, Ipv4Addr::new(172, 16, 0, 1), 16)
            .unwrap();
        for i in 0..1100u32 {
            ping(h, Ipv4Addr::from(0xac10_1000 + i), b"x");
        }
    });
    expect(&mut seen, R::NeighDead, false, |h| {
        ping(h, Ipv4Addr::new(10, 0, 0, 62), b"x");
        let eth0 = h.eth0;
        h.s.set_up(eth0, false).unwrap();
    });
    expect(&mut seen, R::ArpInvalid, false, |h| {
        let mut f = vec![0u8; 42];
        f[..6].copy_from_slice(&[0xff; 6]);
        f[12..14].copy_from_slice(&[0x08, 0x06]);
        h.rx(h.eth0, &f); // hardware type 0
    });
    expect(&mut seen, R::DevReady, false, |h| {
        let eth0 = h.eth0;
        h.s.set_up(eth0, false).unwrap();
        h.rx(eth0, &echo().frame());
    });
    expect(&mut seen, R::QdiscDrop, false, |h| {
        for _ in 0..1001 {
            ping(h, PEER, b"x");
        }
    });
    expect(&mut seen, R::UnhandledProto, false, |h| {
        h.rx(h.eth0, &[0u8; 5])
    });
    let vnet = |gso_type, gso_size| skiff_wire::virtio::VirtioNetHdrRepr {
        needs_csum: false,
        data_valid: false,
        gso_type,
        ecn: false,
        hdr_len: 0,
        gso_size,
        csum_start: 0,
        csum_offset: 0,
        num_buffers: None,
    };
    expect(&mut seen, R::DevHdr, false, |h| {
        // TCP segmentation metadata on a UDP datagram.
        let f = Ip::udp(PEER, ME, 9, &[0; 3000]).frame();
        h.rx_vnet(
            h.eth0,
            vnet(skiff_wire::virtio::VirtioGsoType::TcpV4, 1000),
            &f,
        );
    });
    expect(&mut seen, R::SkbGsoSeg, true, |h| {
        // UFO whose fragment size rounds down to nothing, forwarded to a device that
        // must fragment it in software.
        let f = Ip::udp(PEER, PEER1, 9, &[0; 3000]).frame();
        h.rx_vnet(h.eth0, vnet(skiff_wire::virtio::VirtioGsoType::Udp, 4), &f);
    });
    expect(&mut seen, R::SkbCsum, false, |h| {
        // A shell hands back a frame whose partial checksum starts before its data.
        let mut skb = h.s.alloc_skb(64).unwrap();
        skb.put(64).unwrap();
        skb.ip_summed = skiff_core::skb::ChecksumState::Partial {
            csum_start: 0,
            csum_offset: 6,
        };
        assert!(h.s.dev_hard_xmit_sw(skb).is_empty());
    });
    expect(&mut seen, R::FullRing, false, |h| {
        // The shell's device refused a frame (a TAP write failed).
        ping(h, PEER, b"x");
        let (dev, skb) = h.s.poll_transmit().unwrap();
        h.s.dev_tx_dropped(dev, skb);
        assert_eq!(h.s.dev(dev).unwrap().stats.tx_dropped, 1);
    });
    expect(&mut seen, R::IcmpCsum, false, |h| {
        let mut p = echo();
        p.payload[3] ^= 1;
        h.rx(h.eth0, &p.frame());
    });
    expect(&mut seen, R::IcmpInErrors, false, |h| {
        h.rx(
            h.eth0,
            &Ip::new(PEER, ME, 1, icmp(99, 0, [0; 4], &[])).frame(),
        )
    });
    expect(&mut seen, R::IcmpNoSocket, false, |h| {
        h.rx(
            h.eth0,
            &Ip::new(PEER, ME, 1, icmp(0, 0, [0; 4], &[])).frame(),
        )
    });
    expect(&mut seen, R::UdpTooSmall, false, |h| {
        h.rx(h.eth0, &Ip::new(PEER, ME, 17, vec![0; 5]).frame())
    });
    expect(&mut seen, R::UdpCsum, false, |h| {
        let mut p = Ip::udp(PEER, ME, 9, b"abc");
        p.payload[6] ^= 1;
        h.rx(h.eth0, &p.frame());
    });
    expect(&mut seen, R::NoSocket, false, |h| {
        h.rx(h.eth0, &Ip::udp(PEER, ME, 9, b"abc").frame())
    });
    expect(&mut seen, R::IgmpInvalid, false, |h| {
        h.rx(h.eth0, &Ip::new(PEER, ME, 2, vec![0x11, 0, 0, 1]).frame())
    });
    expect(&mut seen, R::SocketRcvbuff, false, |h| {
        let _sock = h.s.raw_socket(200).unwrap();
        for _ in 0..300 {
            h.rx(h.eth0, &Ip::new(PEER, ME, 200, vec![0; 1000]).frame());
        }
    });
    // Multicast routing: a router whose daemon made eth0 vif 0 and eth1 vif 1.
    let mc = |h: &mut Host, src: Ipv4Addr, dev: u32, ttl: u8, df: bool, len: usize| {
        let mut p = Ip::udp(src, Ipv4Addr::new(239, 1, 1, 1), 9, &vec![0; len]);
        p.eth_dst = EthernetAddress([1, 0, 0x5e, 1, 1, 1]);
        p.ttl = ttl;
        p.df = df;
        h.rx(dev, &p.frame());
    };
    expect(&mut seen, R::IpmrNoOif, true, |h| {
        let fd = mrouter(h, &[(1, 1)]);
        mc(h, PEER, h.eth0, 1, false, 10);
        let _ = fd;
    });
    expect(&mut seen, R::IpmrWrongVif, true, |h| {
        mrouter(h, &[(1, 1)]);
        mc(h, PEER, h.eth1, 64, false, 10);
    });
    expect(&mut seen, R::IpmrFragFails, true, |h| {
        mrouter(h, &[(1, 1)]);
        mc(h, PEER, h.eth0, 64, true, 1450);
    });
    expect(&mut seen, R::IpmrNoRoute, true, |h| {
        let fd = mrouter(h, &[(2, 1)]);
        // A tunnel to nowhere.
        let t = VifCtl::tunnel(2, ME, Ipv4Addr::new(192, 0, 2, 1), 1);
        h.s.ip_mroute_setsockopt(fd, MRT_ADD_VIF, &t.to_bytes())
            .unwrap();
        let m = MfcCtl::new(PEER, Ipv4Addr::new(239, 1, 1, 1), 0, &[(2, 1)]);
        h.s.ip_mroute_setsockopt(fd, MRT_ADD_MFC, &m.to_bytes())
            .unwrap();
        mc(h, PEER, h.eth0, 64, false, 10);
    });
    expect(&mut seen, R::IpmrUnresQueue, true, |h| {
        mrouter(h, &[]);
        for _ in 0..5 {
            mc(h, PEER, h.eth0, 64, false, 10);
        }
    });
    expect(&mut seen, R::IpmrUnresExpired, true, |h| {
        mrouter(h, &[]);
        mc(h, PEER, h.eth0, 64, false, 10);
        h.advance(Duration::from_secs(10));
    });
    // IPIP to eth0's address with tunnel vif 2 from PEER: `outer` and its TOS.
    let ipip = |h: &mut Host, outer: Ipv4Addr, tos: u8| {
        let fd = mrouter(h, &[]);
        let t = VifCtl::tunnel(2, ME, PEER, 1);
        h.s.ip_mroute_setsockopt(fd, MRT_ADD_VIF, &t.to_bytes())
            .unwrap();
        let inner = Ip::udp(PEER, Ipv4Addr::new(239, 1, 1, 1), 9, b"x").frame();
        let mut p = Ip::new(outer, ME, 4, inner[14..].to_vec());
        p.tos = tos;
        h.rx(h.eth0, &p.frame());
    };
    expect(&mut seen, R::IpipNoTunnel, true, |h| {
        ipip(h, Ipv4Addr::new(10, 0, 0, 7), 0)
    });
    expect(&mut seen, R::IpipEcn, true, |h| ipip(h, PEER, 3));
    // A packet forwarded from PEER into tunnel devices made by `tunnels`.
    let via_tunnel = |h: &mut Host, tunnels: &dyn Fn(&mut Host) -> u32| {
        let tun = tunnels(h);
        let net = Ipv4Addr::new(172, 18, 0, 0);
        h.s.add_route(FibRoute::new(net, 16, RouteType::Unicast).dev(tun))
            .unwrap();
        h.rx(
            h.eth0,
            &Ip::udp(PEER, Ipv4Addr::new(172, 18, 0, 1), 9, b"x").frame(),
        );
    };
    let tunnel = |h: &mut Host, name: &str, remote: Ipv4Addr| {
        let p = IpTunnelParm::new(name, ME, remote);
        let t = h.s.ip_tunnel_add(&p).unwrap();
        h.s.set_up(t, true).unwrap();
        t
    };
    expect(&mut seen, R::IpTunnelLoop, true, |h| {
        via_tunnel(h, &|h| tunnel(h, "t", Ipv4Addr::new(172, 18, 9, 9)))
    });
    expect(&mut seen, R::IpTunnelNoRoute, true, |h| {
        via_tunnel(h, &|h| tunnel(h, "t", Ipv4Addr::UNSPECIFIED))
    });
    expect(&mut seen, R::IpTunnelPmtu, true, |h| {
        let t = tunnel(h, "t", PEER);
        let net = Ipv4Addr::new(172, 18, 0, 0);
        h.s.add_route(FibRoute::new(net, 16, RouteType::Unicast).dev(t))
            .unwrap();
        h.s.set_mtu(h.eth0, 600).unwrap();
        let mut p = Ip::udp(PEER1, Ipv4Addr::new(172, 18, 0, 1), 9, &[0; 700]);
        (p.eth_dst, p.eth_src, p.df) = (MAC1, PEER1_MAC, true);
        h.rx(h.eth1, &p.frame());
    });
    expect(&mut seen, R::IpTunnelRxLength, false, |h| {
        tunnel(h, "t", PEER);
        h.rx(h.eth0, &Ip::new(PEER, ME, 4, vec![0x45; 19]).frame());
    });
    expect(&mut seen, R::XmitRecursion, true, |h| {
        via_tunnel(h, &|h| {
            let (x, y) = (Ipv4Addr::new(172, 16, 0, 1), Ipv4Addr::new(172, 17, 0, 1));
            let a = tunnel(h, "ta", x);
            let b = tunnel(h, "tb", y);
            h.s.add_route(FibRoute::new(x, 32, RouteType::Unicast).dev(b))
                .unwrap();
            h.s.add_route(FibRoute::new(y, 32, RouteType::Unicast).dev(a))
                .unwrap();
            a
        })
    });
    // A full loopback backlog needs a burst of over 1000 looped packets inside one call,
    // which no traffic can make: stack/mod.rs tests it from inside (loopback_backlog_is_bounded).
    seen.insert(R::CpuBacklog);
    let missing: Vec<_> = DropReason::ALL
        .iter()
        .filter(|r| !seen.contains(r))
        .collect();
    assert!(missing.is_empty(), "no scenario drops for {missing:?}");
}
