//! IPv4 multicast routing, driven as a routing daemon drives it: a raw IGMP socket,
//! MRT_INIT, three vifs, MFC entries; (S,G), (*,G), TTL thresholds, RPF, upcalls, the
//! unresolved queue, tunnels, local delivery, MTU, teardown, errnos, /proc formats.
//! Linux net/ipv4/ipmr.c.

mod common;

use common::*;
use core::time::Duration;
use skiff_core::drop::DropReason;
use skiff_core::errno::Errno;
use skiff_core::ipv4::mroute::*;
use skiff_core::socket::*;
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::EthernetAddress;
use std::net::SocketAddrV4;

const G: Ipv4Addr = Ipv4Addr::new(239, 1, 1, 1);
const S: Ipv4Addr = PEER;
const MAC2: EthernetAddress = EthernetAddress([2, 0, 0, 0, 2, 1]);
const ME2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 1);

struct R {
    h: Host,
    eth2: u32,
    fd: SockFd,
}

/// A router with eth0 (vif 0), eth1 (vif 1, MTU 1400) and eth2 (vif 2), and its daemon's
/// mroute socket.
fn router() -> R {
    let mut h = Host::new(true);
    let eth2 = h.s.add_device("eth2", MAC2, 1500).unwrap();
    h.s.set_up(eth2, true).unwrap();
    h.s.add_addr(eth2, ME2, 24).unwrap();
    h.tx();
    let fd = h.s.raw_socket(2).unwrap();
    h.s.ip_mroute_setsockopt(fd, MRT_INIT, &1i32.to_ne_bytes())
        .unwrap();
    for (i, dev) in [h.eth0, h.eth1, eth2].into_iter().enumerate() {
        let v = VifCtl::by_ifindex(i as u16, dev, 1);
        h.s.ip_mroute_setsockopt(fd, MRT_ADD_VIF, &v.to_bytes())
            .unwrap();
    }
    R { h, eth2, fd }
}

impl R {
    fn add_mfc(&mut self, origin: Ipv4Addr, grp: Ipv4Addr, parent: u16, oifs: &[(usize, u8)]) {
        let m = MfcCtl::new(origin, grp, parent, oifs);
        self.h
            .s
            .ip_mroute_setsockopt(self.fd, MRT_ADD_MFC, &m.to_bytes())
            .unwrap();
    }

    /// A UDP datagram from `src` to `grp` arriving on `dev`.
    fn send(&mut self, dev: u32, src: Ipv4Addr, grp: Ipv4Addr, ttl: u8, len: usize) {
        let mut p = Ip::udp(src, grp, 5000, &vec![0x5a; len]);
        p.ttl = ttl;
        let d = grp.octets();
        p.eth_dst = EthernetAddress([1, 0, 0x5e, d[1] & 0x7f, d[2], d[3]]);
        self.h.rx(dev, &p.frame());
    }

    /// The forwarded UDP datagrams, by device.
    fn out(&mut self) -> Vec<Out> {
        outs(self.h.tx())
            .into_iter()
            .filter(|o| o.ethertype == 0x0800 && o.protocol != 2)
            .collect()
    }

    fn upcall(&mut self) -> Option<(IgmpMsg, Vec<u8>)> {
        loop {
            let d = self.h.s.raw_recv(self.fd).ok()?;
            if let Some(m) = IgmpMsg::parse(&d.packet) {
                return Some((m, d.packet));
            }
        }
    }

    fn set(&mut self, opt: i32, v: &[u8]) -> Result<(), Errno> {
        self.h.s.ip_mroute_setsockopt(self.fd, opt, v)
    }
}

fn mc_mac(g: Ipv4Addr) -> EthernetAddress {
    let d = g.octets();
    EthernetAddress([1, 0, 0x5e, d[1] & 0x7f, d[2], d[3]])
}

#[test]
fn sg_entry_forwards_to_two_oifs_with_ttl_decrement() {
    let mut r = router();
    r.add_mfc(S, G, 0, &[(1, 1), (2, 1)]);
    r.send(r.h.eth0, S, G, 64, 100);
    let out = r.out();
    let devs: Vec<u32> = out.iter().map(|o| o.dev).collect();
    assert_eq!(devs.len(), 2, "{out:?}");
    assert!(devs.contains(&r.h.eth1) && devs.contains(&r.eth2));
    for o in &out {
        // Out::parse checked the header checksum.
        assert_eq!((o.src, o.dst, o.ttl, o.protocol), (S, G, 63, 17));
        assert_eq!(o.eth_dst, mc_mac(G));
        assert_eq!(o.payload.len(), 108);
        // The UDP checksum over the pseudo-header still holds (nothing but TTL changed).
        let mut ph = Vec::new();
        ph.extend_from_slice(&S.octets());
        ph.extend_from_slice(&G.octets());
        ph.extend_from_slice(&[0, 17]);
        ph.extend_from_slice(&(o.payload.len() as u16).to_be_bytes());
        ph.extend_from_slice(&o.payload);
        let sum = skiff_wire::checksum::csum_fold(skiff_wire::checksum::csum_partial(&ph, 0));
        assert_eq!(sum, 0, "UDP checksum");
    }
    assert_eq!(r.h.mib("IpForwDatagrams"), 2);
    let sg = r.h.s.ipmr_ioctl_getsgcnt(r.fd, S, G).unwrap();
    assert_eq!((sg.pktcnt, sg.bytecnt, sg.wrong_if), (1, 128, 0));
    let v0 = r.h.s.ipmr_ioctl_getvifcnt(r.fd, 0).unwrap();
    assert_eq!((v0.icount, v0.ibytes, v0.ocount), (1, 128, 0));
    let v1 = r.h.s.ipmr_ioctl_getvifcnt(r.fd, 1).unwrap();
    assert_eq!((v1.ocount, v1.obytes), (1, 128));
    // mc_forwarding reads as Linux's, and cannot be written.
    assert_eq!(
        r.h.s
            .sysctl_value("net.ipv4.conf.all.mc_forwarding")
            .unwrap(),
        "1"
    );
    assert_eq!(
        r.h.s
            .sysctl_value("net.ipv4.conf.eth1.mc_forwarding")
            .unwrap(),
        "1"
    );
    let e =
        r.h.s
            .set_sysctl("net.ipv4.conf.eth1.mc_forwarding", "0")
            .unwrap_err();
    assert_eq!(e.errno(), 13);
    // A link-local group is never forwarded.
    r.add_mfc(S, Ipv4Addr::new(224, 0, 0, 99), 0, &[(1, 1)]);
    r.send(r.h.eth0, S, Ipv4Addr::new(224, 0, 0, 99), 64, 10);
    assert!(r.out().is_empty());
}

#[test]
fn ttl_threshold_stops_one_branch() {
    let mut r = router();
    r.add_mfc(S, G, 0, &[(1, 1), (2, 64)]);
    r.send(r.h.eth0, S, G, 64, 10);
    let out = r.out();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].dev, r.h.eth1);
    r.send(r.h.eth0, S, G, 65, 10);
    assert_eq!(r.out().len(), 2);
    // TTL 1 passes no threshold.
    r.send(r.h.eth0, S, G, 1, 10);
    assert!(r.out().is_empty());
    assert_eq!(r.h.drops(DropReason::IpmrNoOif), 1);
}

#[test]
fn wrong_vif_is_counted_and_asserted_at_most_every_3s() {
    let mut r = router();
    r.add_mfc(S, G, 0, &[(1, 1), (2, 1)]);
    r.send(r.h.eth1, S, G, 64, 10);
    assert!(r.out().is_empty());
    assert_eq!(r.h.drops(DropReason::IpmrWrongVif), 1);
    assert!(r.upcall().is_none(), "no upcall without MRT_ASSERT");
    r.set(MRT_ASSERT, &1i32.to_ne_bytes()).unwrap();
    assert_eq!(r.h.s.ip_mroute_getsockopt(r.fd, MRT_ASSERT), Ok(1));
    r.send(r.h.eth1, S, G, 64, 10);
    let (m, raw) = r.upcall().expect("WRONGVIF");
    assert_eq!((m.im_msgtype, m.im_mbz, m.vif), (IGMPMSG_WRONGVIF, 0, 1));
    assert_eq!((m.im_src, m.im_dst), (S, G));
    assert_eq!(raw.len(), 28);
    assert_eq!(raw[20], IGMPMSG_WRONGVIF);
    r.send(r.h.eth1, S, G, 64, 10);
    assert!(r.upcall().is_none(), "rate-limited");
    r.h.advance(Duration::from_millis(3001));
    r.send(r.h.eth1, S, G, 64, 10);
    assert!(r.upcall().is_some());
    let sg = r.h.s.ipmr_ioctl_getsgcnt(r.fd, S, G).unwrap();
    assert_eq!(sg.wrong_if, 4);
    assert!(r.out().is_empty());
}

#[test]
fn nocache_upcall_then_add_mfc_releases_the_queue() {
    let mut r = router();
    for _ in 0..6 {
        r.send(r.h.eth0, S, G, 64, 10);
    }
    assert!(r.out().is_empty());
    let (m, raw) = r.upcall().expect("NOCACHE");
    assert_eq!((m.im_msgtype, m.im_mbz, m.vif), (IGMPMSG_NOCACHE, 0, 0));
    assert_eq!((m.im_src, m.im_dst), (S, G));
    assert_eq!(u16::from_be_bytes([raw[2], raw[3]]), 28);
    assert!(r.upcall().is_none(), "one upcall per unresolved (S,G)");
    // Linux queues at most 4 packets per (S,G).
    assert_eq!(r.h.drops(DropReason::IpmrUnresQueue), 2);
    assert_eq!(
        r.h.s.render_ip_mr_cache(),
        "Group    Origin   Iif     Pkts    Bytes    Wrong Oifs\n\
         010101EF 0200000A -1         0        0        0\n"
    );
    r.add_mfc(S, G, 0, &[(2, 1)]);
    let out = r.out();
    assert_eq!(out.len(), 4);
    assert!(out.iter().all(|o| o.dev == r.eth2 && o.ttl == 63));
    r.h.advance(Duration::from_secs(11));
    assert_eq!(r.h.drops(DropReason::IpmrUnresExpired), 0);
}

#[test]
fn unresolved_entry_expires_after_10s() {
    let mut r = router();
    r.send(r.h.eth0, S, G, 64, 10);
    assert!(r.upcall().is_some());
    r.h.advance(Duration::from_millis(9999));
    assert_eq!(r.h.drops(DropReason::IpmrUnresExpired), 0);
    r.h.advance(Duration::from_millis(1));
    assert_eq!(r.h.drops(DropReason::IpmrUnresExpired), 1);
    assert_eq!(r.h.s.mr_table().unres.len(), 0);
    r.send(r.h.eth0, S, G, 64, 10);
    assert!(r.upcall().is_some(), "a new NOCACHE after expiry");
}

#[test]
fn star_g_entry_forwards_any_source_not_back_upstream() {
    let mut r = router();
    r.add_mfc(Ipv4Addr::UNSPECIFIED, G, 0, &[(0, 1), (1, 1), (2, 1)]);
    r.send(r.h.eth0, Ipv4Addr::new(10, 0, 0, 77), G, 64, 10);
    let mut devs: Vec<u32> = r.out().iter().map(|o| o.dev).collect();
    devs.sort();
    assert_eq!(devs, vec![r.h.eth1, r.eth2]);
    // Another group has no entry: unresolved.
    r.send(r.h.eth0, S, Ipv4Addr::new(239, 2, 2, 2), 64, 10);
    assert!(r.out().is_empty());
    assert_eq!(r.upcall().unwrap().0.im_msgtype, IGMPMSG_NOCACHE);
}

#[test]
fn tunnel_vif_sends_ipip() {
    let mut r = router();
    let t = VifCtl::tunnel(3, ME1, PEER1, 1);
    r.set(MRT_ADD_VIF, &t.to_bytes()).unwrap();
    r.add_mfc(S, G, 0, &[(3, 1)]);
    let mut p = Ip::udp(S, G, 5000, b"tunnelled");
    p.tos = 0x20;
    p.eth_dst = mc_mac(G);
    r.h.rx(r.h.eth0, &p.frame());
    let out = r.out();
    assert_eq!(out.len(), 1, "{out:?}");
    let o = &out[0];
    assert_eq!(o.dev, r.h.eth1);
    assert_eq!(o.eth_dst, PEER1_MAC);
    assert_eq!((o.src, o.dst, o.protocol), (ME1, PEER1, 4));
    assert_eq!((o.ttl, o.tos, o.df), (63, 0x20, false));
    let inner = skiff_wire::ipv4::Ipv4Packet::new_checked(&o.payload[..]).unwrap();
    assert!(inner.verify_checksum());
    assert_eq!((inner.src(), inner.dst(), inner.ttl()), (S, G, 63));
    assert_eq!(inner.payload().len(), 8 + 9);
    assert!(r.h.s.render_ip_mr_vif().contains(" 3 dvmrp3 "));
}

#[test]
fn local_delivery_beside_forwarding() {
    let mut r = router();
    let u = r.h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    r.h.s
        .bind(u, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5000).into())
        .unwrap();
    let m = IpMreqn {
        multiaddr: G,
        address: Ipv4Addr::UNSPECIFIED,
        ifindex: r.h.eth0,
    };
    r.h.s.setsockopt(u, SockOpt::AddMembership(m)).unwrap();
    r.add_mfc(S, G, 0, &[(1, 1), (2, 1)]);
    r.send(r.h.eth0, S, G, 64, 10);
    assert_eq!(r.out().len(), 2);
    let mut buf = [0u8; 100];
    let (n, from) = r.h.s.recv_from(u, &mut buf, 0).unwrap();
    assert_eq!((n, *from.ip()), (10, S));
    assert!(r.h.s.recv_from(u, &mut buf, 0).is_err(), "one copy");
    // Unresolved: delivered locally all the same.
    r.send(r.h.eth0, Ipv4Addr::new(10, 0, 0, 9), G, 64, 10);
    assert!(r.h.s.recv_from(u, &mut buf, 0).is_ok());
}

/// Multicast input routes are cached: a join, a blocked source and a leave after traffic
/// must each change local delivery at once, forwarding going on beside it.
#[test]
fn cached_multicast_routes_follow_membership_and_filter() {
    let mut r = router();
    let u = r.h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    r.h.s
        .bind(u, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5000).into())
        .unwrap();
    r.add_mfc(S, G, 0, &[(1, 1)]);
    let mut buf = [0u8; 100];
    // Whether the router took the datagram as its own; then IP delivered it (the socket
    // filters do not decide it).
    let mut round = |r: &mut R| {
        let delivers = r.h.mib("IpInDelivers");
        r.send(r.h.eth0, S, G, 64, 10);
        assert_eq!(r.out().len(), 1, "forwarded every time");
        let ours = r.h.s.recv_from(u, &mut buf, 0).is_ok();
        assert_eq!(r.h.mib("IpInDelivers") - delivers, u64::from(ours));
        ours
    };
    assert!(!round(&mut r), "not a member yet");
    let m = IpMreqn {
        multiaddr: G,
        address: Ipv4Addr::UNSPECIFIED,
        ifindex: r.h.eth0,
    };
    r.h.s.setsockopt(u, SockOpt::AddMembership(m)).unwrap();
    assert!(round(&mut r), "joined");
    let block = IpMreqSource {
        multiaddr: G,
        interface: ME,
        sourceaddr: S,
    };
    r.h.s.setsockopt(u, SockOpt::BlockSource(block)).unwrap();
    assert!(!round(&mut r), "source blocked at the device");
    r.h.s.setsockopt(u, SockOpt::UnblockSource(block)).unwrap();
    assert!(round(&mut r), "unblocked");
    r.h.s.setsockopt(u, SockOpt::DropMembership(m)).unwrap();
    assert!(!round(&mut r), "left");
}

#[test]
fn multicast_over_mtu_with_df_is_dropped_with_fragfails() {
    let mut r = router();
    r.add_mfc(S, G, 0, &[(1, 1), (2, 1)]);
    let mut p = Ip::udp(S, G, 5000, &[7; 1450]);
    p.df = true;
    p.eth_dst = mc_mac(G);
    r.h.rx(r.h.eth0, &p.frame());
    let out = outs(r.h.tx());
    assert_eq!(
        out.len(),
        1,
        "eth1 (MTU 1400) gets nothing, and no ICMP goes back"
    );
    assert_eq!(out[0].dev, r.eth2);
    assert_eq!(r.h.mib("IpFragFails"), 1);
    // Without DF it is fragmented.
    p.df = false;
    r.h.rx(r.h.eth0, &p.frame());
    let out = outs(r.h.tx());
    assert_eq!(out.iter().filter(|o| o.dev == r.h.eth1).count(), 2);
}

#[test]
fn mrt_done_and_close_tear_down() {
    let mut r = router();
    r.add_mfc(S, G, 0, &[(1, 1)]);
    r.send(r.h.eth0, S, Ipv4Addr::new(239, 3, 3, 3), 64, 10);
    let other = r.h.s.raw_socket(2).unwrap();
    assert_eq!(
        r.h.s.ip_mroute_setsockopt(other, MRT_DONE, &[]),
        Err(Errno::Access)
    );
    r.set(MRT_DONE, &[]).unwrap();
    assert_eq!(r.h.drops(DropReason::IpmrUnresExpired), 1);
    assert_eq!(r.h.s.mr_table().maxvif, 0);
    assert_eq!(r.h.s.render_ip_mr_cache().lines().count(), 1);
    assert_eq!(r.h.s.render_ip_mr_vif().lines().count(), 1);
    assert_eq!(r.h.s.sysctl_value("conf.all.mc_forwarding").unwrap(), "0");
    assert_eq!(r.h.s.sysctl_value("conf.eth0.mc_forwarding").unwrap(), "0");
    r.send(r.h.eth0, S, G, 64, 10);
    assert!(r.out().is_empty());
    assert_eq!(r.h.drops(DropReason::IpInvalidDest), 1);
    // Another socket may take over; closing it tears down too.
    r.h.s
        .ip_mroute_setsockopt(other, MRT_INIT, &1i32.to_ne_bytes())
        .unwrap();
    let v = VifCtl::by_addr(0, ME, 1);
    r.h.s
        .ip_mroute_setsockopt(other, MRT_ADD_VIF, &v.to_bytes())
        .unwrap();
    assert_eq!(r.h.s.sysctl_value("conf.eth0.mc_forwarding").unwrap(), "1");
    r.h.s.close(other).unwrap();
    assert_eq!(r.h.s.sysctl_value("conf.eth0.mc_forwarding").unwrap(), "0");
    assert!(r.h.s.mr_table().mroute_sk.is_none());
}

#[test]
fn errnos_as_linux() {
    let mut r = router();
    let s = &mut r.h.s;
    let fd = r.fd;
    let int1 = 1i32.to_ne_bytes();
    let other = s.raw_socket(2).unwrap();
    assert_eq!(
        s.ip_mroute_setsockopt(other, MRT_INIT, &int1),
        Err(Errno::AddrInUse)
    );
    let v = VifCtl::by_ifindex(5, r.h.eth0, 1).to_bytes();
    assert_eq!(
        s.ip_mroute_setsockopt(other, MRT_ADD_VIF, &v),
        Err(Errno::Access)
    );
    let udp = s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    assert_eq!(
        s.ip_mroute_setsockopt(udp, MRT_INIT, &int1),
        Err(Errno::OpNotSupp)
    );
    let icmp = s.raw_socket(1).unwrap();
    assert_eq!(
        s.ip_mroute_getsockopt(icmp, MRT_VERSION),
        Err(Errno::OpNotSupp)
    );
    assert_eq!(s.ip_mroute_getsockopt(fd, MRT_VERSION), Ok(0x0305));
    assert_eq!(s.ip_mroute_getsockopt(fd, MRT_PIM), Err(Errno::NoProtoOpt));
    assert_eq!(
        s.ip_mroute_setsockopt(fd, MRT_PIM, &int1),
        Err(Errno::NoProtoOpt)
    );
    assert_eq!(
        s.ip_mroute_setsockopt(fd, MRT_TABLE, &int1),
        Err(Errno::NoProtoOpt)
    );
    assert_eq!(
        s.ip_mroute_setsockopt(fd, MRT_VERSION, &int1),
        Err(Errno::NoProtoOpt)
    );
    assert_eq!(
        s.ip_mroute_setsockopt(fd, MRT_ASSERT, &[1]),
        Err(Errno::Inval)
    );
    let vif = |vifi, flags| {
        let mut v = VifCtl::by_ifindex(vifi, 1, 1);
        v.flags = flags;
        v.to_bytes()
    };
    assert_eq!(
        s.ip_mroute_setsockopt(fd, MRT_ADD_VIF, &vif(32, 8)),
        Err(Errno::NFile)
    );
    assert_eq!(
        s.ip_mroute_setsockopt(fd, MRT_ADD_VIF, &vif(0, 8)),
        Err(Errno::AddrInUse)
    );
    assert_eq!(
        s.ip_mroute_setsockopt(fd, MRT_ADD_VIF, &vif(5, VIFF_REGISTER)),
        Err(Errno::Inval)
    );
    assert_eq!(
        s.ip_mroute_setsockopt(fd, MRT_ADD_VIF, &vif(5, 0x10)),
        Err(Errno::Inval)
    );
    let by_addr = VifCtl::by_addr(5, Ipv4Addr::new(192, 0, 2, 1), 1).to_bytes();
    assert_eq!(
        s.ip_mroute_setsockopt(fd, MRT_ADD_VIF, &by_addr),
        Err(Errno::AddrNotAvail)
    );
    let mut no_dev = VifCtl::by_ifindex(5, 99, 1).to_bytes();
    assert_eq!(
        s.ip_mroute_setsockopt(fd, MRT_ADD_VIF, &no_dev),
        Err(Errno::AddrNotAvail)
    );
    no_dev[0] = 9;
    assert_eq!(
        s.ip_mroute_setsockopt(fd, MRT_DEL_VIF, &no_dev),
        Err(Errno::AddrNotAvail)
    );
    assert_eq!(
        s.ip_mroute_setsockopt(fd, MRT_ADD_VIF, &v[..15]),
        Err(Errno::Inval)
    );
    let mfc = MfcCtl::new(S, G, 0, &[(1, 1)]);
    assert_eq!(
        s.ip_mroute_setsockopt(fd, MRT_DEL_MFC, &mfc.to_bytes()),
        Err(Errno::NoEnt)
    );
    let mut bad = mfc;
    bad.mcastgrp = Ipv4Addr::new(10, 1, 1, 1);
    assert_eq!(
        s.ip_mroute_setsockopt(fd, MRT_ADD_MFC, &bad.to_bytes()),
        Err(Errno::Inval)
    );
    let mut bad = mfc;
    bad.parent = 32;
    assert_eq!(
        s.ip_mroute_setsockopt(fd, MRT_ADD_MFC, &bad.to_bytes()),
        Err(Errno::NFile)
    );
    assert_eq!(
        s.ip_mroute_setsockopt(fd, MRT_ADD_MFC, &[0; 59]),
        Err(Errno::Inval)
    );
    s.ip_mroute_setsockopt(fd, MRT_ADD_MFC, &mfc.to_bytes())
        .unwrap();
    s.ip_mroute_setsockopt(fd, MRT_DEL_MFC, &mfc.to_bytes())
        .unwrap();
    assert_eq!(s.ipmr_ioctl_getvifcnt(fd, 3).unwrap_err(), Errno::Inval);
    assert_eq!(
        s.ipmr_ioctl_getsgcnt(fd, S, G).unwrap_err(),
        Errno::AddrNotAvail
    );
    assert_eq!(s.ipmr_ioctl_getvifcnt(udp, 0).unwrap_err(), Errno::NoTty);
    s.ip_mroute_setsockopt(fd, MRT_DEL_VIF, &vif(1, 0)).unwrap();
    assert_eq!(
        s.ipmr_ioctl_getvifcnt(fd, 1).unwrap_err(),
        Errno::AddrNotAvail
    );
}

#[test]
fn proc_formats() {
    let mut r = router();
    let t = VifCtl::tunnel(3, ME1, PEER1, 1);
    r.set(MRT_ADD_VIF, &t.to_bytes()).unwrap();
    r.add_mfc(S, G, 0, &[(1, 1), (2, 5), (3, 1)]);
    r.send(r.h.eth0, S, G, 64, 100);
    r.h.tx();
    assert_eq!(
        r.h.s.render_ip_mr_vif(),
        "Interface      BytesIn  PktsIn  BytesOut PktsOut Flags Local    Remote\n \
         0 eth0            128       1         0       0 00008 00000002 00000000\n \
         1 eth1              0       0       128       1 00008 00000003 00000000\n \
         2 eth2              0       0       128       1 00008 00000004 00000000\n \
         3 dvmrp3            0       0       128       1 00001 0101000A 0201000A\n"
    );
    assert_eq!(
        r.h.s.render_ip_mr_cache(),
        "Group    Origin   Iif     Pkts    Bytes    Wrong Oifs\n\
         010101EF 0200000A 0          1      128        0  1:1    2:5    3:1  \n"
    );
}

#[test]
fn star_star_entry_sends_only_upstream() {
    let mut r = router();
    r.add_mfc(
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        0,
        &[(0, 1), (1, 1), (2, 1)],
    );
    // Off the upstream vif: to the upstream only.
    r.send(r.h.eth1, Ipv4Addr::new(10, 0, 1, 50), G, 64, 10);
    let out = r.out();
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].dev, out[0].ttl), (r.h.eth0, 63));
    // From the upstream: nowhere.
    r.send(r.h.eth0, S, G, 64, 10);
    assert!(r.out().is_empty());
    assert_eq!(r.h.drops(DropReason::IpmrNoOif), 1);
    assert!(r.upcall().is_none(), "(*,*) resolved both");
}

#[test]
fn igmp_to_a_routable_group_goes_to_the_daemon_not_forwarded() {
    let mut r = router();
    r.add_mfc(S, G, 0, &[(1, 1), (2, 1)]);
    // An IGMPv2 report for G, without router alert (as IGMPv1 and old v2 hosts send).
    let mut report = vec![0x16, 0, 0, 0];
    report.extend_from_slice(&G.octets());
    let sum = skiff_wire::checksum::csum_fold(skiff_wire::checksum::csum_partial(&report, 0));
    report[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut p = Ip::new(S, G, 2, report.clone());
    p.ttl = 1;
    p.eth_dst = mc_mac(G);
    r.h.rx(r.h.eth0, &p.frame());
    assert!(r.out().is_empty());
    let d = r.h.s.raw_recv(r.fd).unwrap();
    assert_eq!((d.src, d.dst, d.packet[9]), (S, G, 2));
    assert_eq!(&d.packet[20..], &report[..]);
}

#[test]
fn device_source_filter_decides_local_delivery() {
    let mut h = Host::new(false);
    let u = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    h.s.bind(u, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5000).into())
        .unwrap();
    let s1 = Ipv4Addr::new(10, 0, 0, 7);
    let r = IpMreqSource {
        multiaddr: G,
        interface: ME,
        sourceaddr: s1,
    };
    h.s.setsockopt(u, SockOpt::AddSourceMembership(r)).unwrap();
    // A second socket in INCLUDE {s1} would not change it; a datagram from elsewhere is
    // not ours at the device (ip_check_mc_rcu()), before any socket filter.
    let mut p = Ip::udp(Ipv4Addr::new(10, 0, 0, 8), G, 5000, b"no");
    p.eth_dst = mc_mac(G);
    h.rx(h.eth0, &p.frame());
    assert_eq!(h.drops(DropReason::IpInvalidDest), 1);
    let mut p = Ip::udp(s1, G, 5000, b"yes");
    p.eth_dst = mc_mac(G);
    h.rx(h.eth0, &p.frame());
    let mut buf = [0u8; 16];
    assert_eq!(h.s.recv_from(u, &mut buf, 0).unwrap().0, 3);
    assert_eq!(h.drops(DropReason::IpInvalidDest), 1);
}

/// A source behind the tunnel's remote.
const S_FAR: Ipv4Addr = Ipv4Addr::new(10, 9, 9, 9);

/// An IPIP packet from `outer_src` to ME1 arriving on eth1, carrying `inner` (an IPv4
/// packet's bytes).
fn ipip_frame(outer_src: Ipv4Addr, outer_tos: u8, inner: Vec<u8>) -> Vec<u8> {
    let mut o = Ip::new(outer_src, ME1, 4, inner);
    o.tos = outer_tos;
    o.eth_dst = MAC1;
    o.eth_src = PEER1_MAC;
    o.frame()
}

/// A UDP datagram from S_FAR to G with `ttl` and `tos`: the IP packet's bytes.
fn inner_udp(ttl: u8, tos: u8) -> Vec<u8> {
    let mut p = Ip::udp(S_FAR, G, 5000, b"through the tunnel");
    p.ttl = ttl;
    p.tos = tos;
    p.frame()[14..].to_vec()
}

/// The router with tunnel vif 3 (ME1 to PEER1) and (S_FAR, G) from vif 3 to vifs 0 and 2.
fn tunnel_router() -> R {
    let mut r = router();
    let t = VifCtl::tunnel(3, ME1, PEER1, 1);
    r.set(MRT_ADD_VIF, &t.to_bytes()).unwrap();
    r.add_mfc(S_FAR, G, 3, &[(0, 1), (2, 1)]);
    r.h.tx();
    r
}

#[test]
fn ipip_on_a_tunnel_vif_is_forwarded_as_arriving_on_it() {
    let mut r = tunnel_router();
    let dvmrp = r.h.s.dev_by_name("dvmrp3").unwrap().ifindex;
    let inner = inner_udp(10, 0);
    let inner_len = inner.len() as u64;
    r.h.rx(r.h.eth1, &ipip_frame(PEER1, 0, inner));
    let mut out = r.out();
    out.sort_by_key(|o| o.dev);
    assert_eq!(out.len(), 2, "{out:?}");
    for (o, dev) in out.iter().zip([r.h.eth0, r.eth2]) {
        assert_eq!(o.dev, dev);
        assert_eq!((o.src, o.dst, o.protocol, o.ttl), (S_FAR, G, 17, 9));
        assert_eq!(o.eth_dst, mc_mac(G));
        assert!(
            skiff_wire::ipv4::Ipv4Packet::new_checked(&o.ip[..])
                .unwrap()
                .verify_checksum()
        );
    }
    let c = r.h.s.ipmr_ioctl_getvifcnt(r.fd, 3).unwrap();
    assert_eq!((c.icount, c.ibytes, c.ocount), (1, inner_len, 0));
    assert_eq!(r.h.s.ipmr_ioctl_getvifcnt(r.fd, 0).unwrap().ocount, 1);
    let d = r.h.s.dev(dvmrp).unwrap();
    assert_eq!((d.stats.rx_packets, d.stats.rx_bytes), (1, inner_len));
    // The outer packet was ours, the inner one forwarded: two receives.
    assert_eq!(r.h.mib("IpInReceives"), 2);
    // RPF: the same packet on eth0 is on the wrong vif.
    r.send(r.h.eth0, S_FAR, G, 10, 10);
    assert!(r.out().is_empty());
    assert_eq!(r.h.drops(DropReason::IpmrWrongVif), 1);
}

#[test]
fn ipip_ecn_is_decapsulated_as_rfc6040() {
    let mut r = tunnel_router();
    // CE outside an ECT(0) packet: forwarded as CE, its checksum still right.
    r.h.rx(r.h.eth1, &ipip_frame(PEER1, 0x03, inner_udp(10, 0x22)));
    let out = r.out();
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0].tos, 0x23);
    assert!(
        skiff_wire::ipv4::Ipv4Packet::new_checked(&out[0].ip[..])
            .unwrap()
            .verify_checksum()
    );
    // CE outside a not-ECT packet: dropped.
    r.h.rx(r.h.eth1, &ipip_frame(PEER1, 0x03, inner_udp(10, 0x20)));
    assert!(r.out().is_empty());
    assert_eq!(r.h.drops(DropReason::IpipEcn), 1);
    assert_eq!(r.h.s.ipmr_ioctl_getvifcnt(r.fd, 3).unwrap().icount, 1);
}

#[test]
fn ipip_from_an_unknown_remote_is_not_forwarded() {
    let mut r = tunnel_router();
    let stranger = Ipv4Addr::new(10, 0, 1, 9);
    r.h.s.add_neigh_static(r.h.eth1, stranger, PEER1_MAC);
    r.h.rx(r.h.eth1, &ipip_frame(stranger, 0, inner_udp(10, 0)));
    let out = outs(r.h.tx());
    // tunnel4_rcv(): ICMP port unreachable, nothing forwarded.
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        (out[0].dev, out[0].dst, out[0].protocol),
        (r.h.eth1, stranger, 1)
    );
    assert_eq!(&out[0].payload[..2], &[3, 3]);
    assert_eq!(r.h.drops(DropReason::IpipNoTunnel), 1);
    assert_eq!(r.h.mib("IpInDelivers"), 1);
    assert_eq!(r.h.s.ipmr_ioctl_getvifcnt(r.fd, 3).unwrap().icount, 0);
    // Without any tunnel vif IPIP stays a known protocol (Linux's ipip module, which
    // ipmr_new_tunnel() needed, stays loaded): port unreachable again.
    r.set(MRT_DEL_VIF, &VifCtl::tunnel(3, ME1, PEER1, 1).to_bytes())
        .unwrap();
    r.h.rx(r.h.eth1, &ipip_frame(PEER1, 0, inner_udp(10, 0)));
    let out = outs(r.h.tx());
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!((out[0].dst, out[0].protocol), (PEER1, 1));
    assert_eq!(&out[0].payload[..2], &[3, 3]);
    assert_eq!(r.h.drops(DropReason::IpipNoTunnel), 2);
    assert_eq!(r.h.drops(DropReason::IpNoproto), 0);
    // The tunnel's device stays down; a new tunnel vif 3 takes it up again.
    let dvmrp = r.h.s.dev_by_name("dvmrp3").unwrap().ifindex;
    assert!(!r.h.s.dev(dvmrp).unwrap().up);
    r.set(MRT_ADD_VIF, &VifCtl::tunnel(3, ME1, PEER1, 1).to_bytes())
        .unwrap();
    assert!(r.h.s.dev(dvmrp).unwrap().up);
    r.add_mfc(S_FAR, G, 3, &[(0, 1)]);
    r.h.rx(r.h.eth1, &ipip_frame(PEER1, 0, inner_udp(10, 0)));
    assert_eq!(r.out().len(), 1);
}

#[test]
fn ipip_with_a_malformed_inner_header_is_dropped() {
    let mut r = tunnel_router();
    let dvmrp = r.h.s.dev_by_name("dvmrp3").unwrap().ifindex;
    let mut bad_csum = inner_udp(10, 0);
    bad_csum[10] ^= 0xff;
    r.h.rx(r.h.eth1, &ipip_frame(PEER1, 0, bad_csum));
    assert_eq!(r.h.drops(DropReason::IpCsum), 1);
    let mut bad_ihl = inner_udp(10, 0);
    bad_ihl[0] = 0x44;
    r.h.rx(r.h.eth1, &ipip_frame(PEER1, 0, bad_ihl));
    // Too short for a header at all: ip_tunnel_rcv() drops it (rx_length_errors).
    r.h.rx(r.h.eth1, &ipip_frame(PEER1, 0, vec![0x45, 0, 0]));
    assert_eq!(r.h.drops(DropReason::IpInhdr), 1);
    assert_eq!(r.h.drops(DropReason::IpTunnelRxLength), 1);
    assert!(r.out().is_empty());
    assert_eq!(r.h.mib("IpInHdrErrors"), 2);
    assert_eq!(r.h.s.ipmr_ioctl_getvifcnt(r.fd, 3).unwrap().icount, 0);
    let st = r.h.s.dev(dvmrp).unwrap().stats;
    assert_eq!((st.rx_packets, st.rx_length_errors), (2, 1));
}

#[test]
fn ipip_in_ipip_is_received_without_nesting() {
    let mut r = tunnel_router();
    // IPIP inside IPIP inside IPIP, all from the tunnel's remote: each layer is received
    // on dvmrp3 in turn, the innermost forwarded.
    let mut p = inner_udp(10, 0);
    for _ in 0..3 {
        p = Ip::new(PEER1, ME1, 4, p).frame()[14..].to_vec();
    }
    r.h.rx(r.h.eth1, &ipip_frame(PEER1, 0, p));
    assert_eq!(r.out().len(), 2);
    let dvmrp = r.h.s.dev_by_name("dvmrp3").unwrap().ifindex;
    assert_eq!(r.h.s.dev(dvmrp).unwrap().stats.rx_packets, 4);
}
