use super::*;
use std::net::Ipv4Addr;

const LO: u32 = 1;
const ETH0: u32 = 2;
const ETH1: u32 = 3;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn up_dev(ifindex: u32, name: &str, loopback: bool) -> FibDevice {
    let mut d = FibDevice::new(ifindex, name, loopback);
    d.up = true;
    d
}

/// lo 127.0.0.1/8, eth0 10.0.1.2/24, eth1 10.0.2.2/24, default via 10.0.1.1.
fn host() -> Fib {
    let mut fib = Fib::new();
    fib.set_device(up_dev(LO, "lo", true));
    fib.set_device(up_dev(ETH0, "eth0", false));
    fib.set_device(up_dev(ETH1, "eth1", false));
    fib.add_addr(LO, ip("127.0.0.1"), 8).unwrap();
    fib.add_addr(ETH0, ip("10.0.1.2"), 24).unwrap();
    fib.add_addr(ETH1, ip("10.0.2.2"), 24).unwrap();
    fib.add_route(FibRoute::new(ip("0.0.0.0"), 0, RouteType::Unicast).via(ip("10.0.1.1")))
        .unwrap();
    fib
}

fn set(fib: &mut Fib, ifindex: u32, f: impl FnOnce(&mut FibDevice)) {
    let mut d = fib.device(ifindex).unwrap().clone();
    f(&mut d);
    fib.set_device(d);
}

/// [`host`] with forwarding on every device.
fn router() -> Fib {
    let mut fib = host();
    for i in [LO, ETH0, ETH1] {
        set(&mut fib, i, |d| d.forwarding = true);
    }
    fib
}

fn out(fib: &Fib, daddr: &str) -> Result<DstEntry, RouteError> {
    fib.ip_route_output(&Flowi4::new(ip(daddr)))
}

fn input(fib: &Fib, daddr: &str, saddr: &str, iif: u32) -> Result<DstEntry, RouteInputError> {
    fib.ip_route_input(ip(daddr), ip(saddr), 0, iif, false)
}

// ------------------------------------------------------------ addresses and tables

#[test]
fn addresses_install_linux_routes() {
    let fib = host();
    assert_eq!(
        fib.render(FibTableId::Main),
        "default via 10.0.1.1 dev eth0\n\
         10.0.1.0/24 dev eth0 proto kernel scope link src 10.0.1.2\n\
         10.0.2.0/24 dev eth1 proto kernel scope link src 10.0.2.2\n"
    );
    assert_eq!(
        fib.render(FibTableId::Local),
        "local 10.0.1.2 dev eth0 proto kernel scope host src 10.0.1.2\n\
         broadcast 10.0.1.255 dev eth0 proto kernel scope link src 10.0.1.2\n\
         local 10.0.2.2 dev eth1 proto kernel scope host src 10.0.2.2\n\
         broadcast 10.0.2.255 dev eth1 proto kernel scope link src 10.0.2.2\n\
         local 127.0.0.0/8 dev lo proto kernel scope host src 127.0.0.1\n\
         local 127.0.0.1 dev lo proto kernel scope host src 127.0.0.1\n\
         broadcast 127.255.255.255 dev lo proto kernel scope link src 127.0.0.1\n"
    );
    let a: Vec<&InAddr> = fib.addrs().filter(|a| a.ifindex == ETH0).collect();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].broadcast, Some(ip("10.0.1.255")));
    assert_eq!(a[0].scope, RouteScope::UNIVERSE);
    assert!(
        fib.addrs()
            .any(|a| a.ifindex == LO && a.scope == RouteScope::HOST)
    );
}

#[test]
fn point_to_point_and_host_addresses_have_no_broadcast() {
    let mut fib = host();
    fib.add_addr(ETH1, ip("192.0.2.0"), 31).unwrap();
    fib.add_addr(ETH1, ip("198.51.100.7"), 32).unwrap();
    let local = fib.render(FibTableId::Local);
    assert!(!local.contains("broadcast 192.0.2.1"), "{local}");
    assert!(local.contains("local 198.51.100.7 dev eth1"));
    let main = fib.render(FibTableId::Main);
    assert!(main.contains("192.0.2.0/31 dev eth1 proto kernel scope link src 192.0.2.0"));
    assert!(!main.contains("198.51.100"), "{main}");
    assert_eq!(
        fib.add_addr(ETH1, ip("192.0.2.0"), 31),
        Err(RouteError::Exist)
    );
    assert_eq!(
        fib.add_addr(ETH1, ip("1.2.3.4"), 33),
        Err(RouteError::Inval)
    );
    assert_eq!(
        fib.add_addr(ETH1, ip("224.0.0.5"), 24),
        Err(RouteError::Inval)
    );
    assert_eq!(fib.add_addr(9, ip("1.2.3.4"), 24), Err(RouteError::NoDev));
}

#[test]
fn secondary_address_and_its_removal_with_the_primary() {
    let mut fib = host();
    fib.add_addr(ETH0, ip("10.0.1.3"), 24).unwrap();
    let sec = fib.addrs().find(|a| a.local == ip("10.0.1.3")).unwrap();
    assert!(sec.secondary);
    // A secondary's local route prefers the primary as source; no second prefix route.
    assert!(
        fib.render(FibTableId::Local)
            .contains("local 10.0.1.3 dev eth0 proto kernel scope host src 10.0.1.2")
    );
    assert_eq!(fib.routes().filter(|r| r.dst == ip("10.0.1.0")).count(), 1);
    assert_eq!(fib.inet_addr_type(ip("10.0.1.3")), RouteType::Local);
    // Deleting the secondary keeps the subnet's routes.
    fib.del_addr(ETH0, ip("10.0.1.3"), 24).unwrap();
    assert_eq!(fib.inet_addr_type(ip("10.0.1.3")), RouteType::Unicast);
    assert!(
        fib.render(FibTableId::Main)
            .contains("10.0.1.0/24 dev eth0")
    );
    assert!(
        fib.render(FibTableId::Local)
            .contains("broadcast 10.0.1.255")
    );
    // Deleting the primary takes the secondary along (promote_secondaries=0).
    fib.add_addr(ETH0, ip("10.0.1.3"), 24).unwrap();
    fib.del_addr(ETH0, ip("10.0.1.2"), 24).unwrap();
    assert!(fib.addrs().all(|a| a.ifindex != ETH0));
    assert_eq!(fib.inet_addr_type(ip("10.0.1.3")), RouteType::Unicast);
    assert_eq!(
        fib.del_addr(ETH0, ip("10.0.1.2"), 24),
        Err(RouteError::AddrNotAvail)
    );
}

#[test]
fn deleting_an_address_flushes_what_depended_on_it() {
    let mut fib = host();
    fib.add_addr(ETH1, ip("10.0.3.2"), 24).unwrap();
    let r = FibRoute::new(ip("172.16.0.0"), 12, RouteType::Unicast).via(ip("10.0.2.1"));
    fib.add_route(r).unwrap();
    let mut r = FibRoute::new(ip("172.32.0.0"), 12, RouteType::Unicast).via(ip("10.0.2.1"));
    r.prefsrc = Some(ip("10.0.3.2"));
    fib.add_route(r).unwrap();
    // The route preferring 10.0.3.2 goes with it (fib_sync_down_addr()).
    fib.del_addr(ETH1, ip("10.0.3.2"), 24).unwrap();
    assert!(fib.routes().all(|r| r.dst != ip("172.32.0.0")));
    assert!(fib.routes().any(|r| r.dst == ip("172.16.0.0")));
    assert!(!fib.render(FibTableId::Local).contains("10.0.3"));
    // The last address of eth1 takes every route through eth1 (fib_disable_ip()).
    fib.del_addr(ETH1, ip("10.0.2.2"), 24).unwrap();
    assert!(
        fib.routes().all(|r| r.oif != ETH1),
        "{}",
        fib.render(FibTableId::Main)
    );
    assert!(fib.routes().any(|r| r.oif == ETH0));
}

#[test]
fn device_down_flushes_and_up_restores_kernel_routes() {
    let mut fib = host();
    fib.add_route(FibRoute::new(ip("192.168.0.0"), 16, RouteType::Unicast).dev(ETH1))
        .unwrap();
    set(&mut fib, ETH1, |d| d.up = false);
    // Only the host-scope local route survives; the address stays local.
    let eth1: Vec<&FibRoute> = fib.routes().filter(|r| r.oif == ETH1).collect();
    assert_eq!(eth1.len(), 1);
    assert_eq!(eth1[0].rtype, RouteType::Local);
    assert_eq!(fib.inet_addr_type(ip("10.0.2.2")), RouteType::Local);
    assert_eq!(
        fib.add_route(FibRoute::new(ip("192.168.0.0"), 16, RouteType::Unicast).dev(ETH1)),
        Err(RouteError::NetDown)
    );
    // Adding an address to a down device installs only its local route.
    fib.add_addr(ETH1, ip("10.0.4.2"), 24).unwrap();
    assert!(fib.routes().all(|r| r.dst != ip("10.0.4.0")));
    set(&mut fib, ETH1, |d| d.up = true);
    let main = fib.render(FibTableId::Main);
    assert!(main.contains("10.0.2.0/24 dev eth1 proto kernel"), "{main}");
    assert!(main.contains("10.0.4.0/24 dev eth1 proto kernel"), "{main}");
    assert!(
        !main.contains("192.168.0.0/16"),
        "static routes do not come back: {main}"
    );
    assert!(
        fib.render(FibTableId::Local)
            .contains("broadcast 10.0.2.255 dev eth1")
    );
}

// ------------------------------------------------------------ route configuration

#[test]
fn add_route_errors_follow_linux() {
    let mut fib = host();
    let net = |s: &str, len| FibRoute::new(ip(s), len, RouteType::Unicast);
    fib.add_route(net("192.168.0.0", 16).via(ip("10.0.1.1")))
        .unwrap();
    assert_eq!(
        fib.add_route(net("192.168.0.0", 16).via(ip("10.0.2.1"))),
        Err(RouteError::Exist)
    );
    fib.add_route(net("192.168.0.0", 16).via(ip("10.0.2.1")).metric(10))
        .unwrap();
    assert_eq!(
        fib.add_route(net("192.169.0.0", 16).dev(9)),
        Err(RouteError::NoDev)
    );
    assert_eq!(
        fib.add_route(net("192.169.0.0", 16)),
        Err(RouteError::NoDev)
    );
    // The gateway must be reachable by a link route; 10.9.9.9 only by the default route.
    assert_eq!(
        fib.add_route(net("192.169.0.0", 16).via(ip("10.9.9.9"))),
        Err(RouteError::NetUnreach)
    );
    // A gateway on eth0's subnet is not reachable through eth1.
    assert_eq!(
        fib.add_route(net("192.169.0.0", 16).via(ip("10.0.1.1")).dev(ETH1)),
        Err(RouteError::NetUnreach)
    );
    let mut onlink = net("192.169.0.0", 16).via(ip("10.9.9.9")).dev(ETH1);
    onlink.onlink = true;
    fib.add_route(onlink.clone()).unwrap();
    onlink.dst = ip("192.170.0.0");
    onlink.gateway = Some(ip("10.0.2.2")); // our own address: not a unicast gateway
    assert_eq!(fib.add_route(onlink), Err(RouteError::Inval));
    assert_eq!(
        fib.add_route(net("1.0.0.0", 33).dev(ETH0)),
        Err(RouteError::Inval)
    );
    let mut bad_scope = net("1.0.0.0", 8).dev(ETH0);
    bad_scope.scope = RouteScope::NOWHERE;
    assert_eq!(fib.add_route(bad_scope), Err(RouteError::Inval));
    let mut local_universe = FibRoute::new(ip("1.0.0.0"), 8, RouteType::Local).dev(LO);
    local_universe.scope = RouteScope::UNIVERSE;
    assert_eq!(fib.add_route(local_universe), Err(RouteError::Inval));
    assert_eq!(
        fib.add_route(FibRoute::new(ip("1.0.0.0"), 8, RouteType::Unreachable).dev(ETH0)),
        Err(RouteError::Inval)
    );
    let mut bad_src = net("1.0.0.0", 8).dev(ETH0);
    bad_src.prefsrc = Some(ip("10.0.1.9"));
    assert_eq!(fib.add_route(bad_src), Err(RouteError::Inval));
    // The destination is masked; the gateway's device is filled in.
    fib.add_route(net("172.16.5.77", 16).via(ip("10.0.2.1")))
        .unwrap();
    let r = fib.routes().find(|r| r.dst == ip("172.16.0.0")).unwrap();
    assert_eq!((r.prefix_len, r.oif), (16, ETH1));
    assert_eq!(RouteError::Exist.errno(), 17);
    assert_eq!(RouteError::NetUnreach.to_string(), "ENETUNREACH");
}

#[test]
fn del_route_by_metric_and_esrch() {
    let mut fib = host();
    let r = |m| {
        FibRoute::new(ip("192.168.0.0"), 16, RouteType::Unicast)
            .via(ip("10.0.1.1"))
            .metric(m)
    };
    fib.add_route(r(20)).unwrap();
    fib.add_route(r(10)).unwrap();
    assert_eq!(
        fib.del_route(FibTableId::Main, ip("192.168.0.0"), 16, Some(5)),
        Err(RouteError::Srch)
    );
    assert_eq!(
        fib.del_route(FibTableId::Local, ip("192.168.0.0"), 16, None),
        Err(RouteError::Srch)
    );
    // No metric given: the first (lowest) goes.
    fib.del_route(FibTableId::Main, ip("192.168.1.1"), 16, None)
        .unwrap();
    let left: Vec<u32> = fib
        .routes()
        .filter(|r| r.dst == ip("192.168.0.0"))
        .map(|r| r.metric)
        .collect();
    assert_eq!(left, vec![20]);
    assert_eq!(
        fib.del_route(FibTableId::Main, ip("1.0.0.0"), 40, None),
        Err(RouteError::Inval)
    );
}

#[test]
fn render_shows_types_metrics_flags() {
    let mut fib = host();
    fib.add_route(FibRoute::new(ip("192.0.2.0"), 24, RouteType::Unreachable))
        .unwrap();
    fib.add_route(FibRoute::new(ip("198.51.100.0"), 24, RouteType::Blackhole))
        .unwrap();
    fib.add_route(FibRoute::new(ip("203.0.113.0"), 24, RouteType::Prohibit).metric(7))
        .unwrap();
    let mut r = FibRoute::new(ip("172.16.0.0"), 12, RouteType::Unicast)
        .via(ip("10.9.9.9"))
        .dev(ETH1);
    r.onlink = true;
    r.mtu = 1400;
    r.protocol = RouteProtocol::Static;
    fib.add_route(r).unwrap();
    let main = fib.render(FibTableId::Main);
    assert!(main.contains("unreachable 192.0.2.0/24\n"), "{main}");
    assert!(main.contains("blackhole 198.51.100.0/24\n"));
    assert!(main.contains("prohibit 203.0.113.0/24 metric 7\n"));
    assert!(main.contains("172.16.0.0/12 via 10.9.9.9 dev eth1 proto static onlink mtu 1400\n"));
}

// ------------------------------------------------------------ lookup semantics

#[test]
fn longest_prefix_then_lowest_metric() {
    let mut fib = host();
    let r = |s: &str, len, gw: &str| FibRoute::new(ip(s), len, RouteType::Unicast).via(ip(gw));
    fib.add_route(r("192.168.0.0", 16, "10.0.1.1")).unwrap();
    fib.add_route(r("192.168.7.0", 24, "10.0.2.1").metric(50))
        .unwrap();
    fib.add_route(r("192.168.7.0", 24, "10.0.1.7").metric(20))
        .unwrap();
    let d = out(&fib, "192.168.7.9").unwrap();
    assert_eq!((d.gateway, d.dev), (Some(ip("10.0.1.7")), ETH0));
    let d = out(&fib, "192.168.8.9").unwrap();
    assert_eq!(d.gateway, Some(ip("10.0.1.1")));
    fib.del_route(FibTableId::Main, ip("192.168.7.0"), 24, Some(20))
        .unwrap();
    let d = out(&fib, "192.168.7.9").unwrap();
    assert_eq!((d.gateway, d.dev), (Some(ip("10.0.2.1")), ETH1));
    fib.del_route(FibTableId::Main, ip("192.168.7.0"), 24, None)
        .unwrap();
    assert_eq!(
        out(&fib, "192.168.7.9").unwrap().gateway,
        Some(ip("10.0.1.1"))
    );
}

#[test]
fn on_link_versus_gateway_next_hop() {
    let fib = host();
    let d = out(&fib, "10.0.2.77").unwrap();
    assert_eq!(
        (d.gateway, d.nexthop(), d.dev),
        (None, ip("10.0.2.77"), ETH1)
    );
    assert_eq!(d.saddr, ip("10.0.2.2"));
    let d = out(&fib, "8.8.8.8").unwrap();
    assert_eq!(
        (d.gateway, d.nexthop(), d.dev),
        (Some(ip("10.0.1.1")), ip("10.0.1.1"), ETH0)
    );
    assert_eq!(d.saddr, ip("10.0.1.2"));
    assert_eq!(d.mtu, 1500);
    // The nexthop caches follow device changes.
    let mut fib = fib;
    set(&mut fib, ETH0, |d| d.mtu = 9000);
    assert_eq!(out(&fib, "8.8.8.8").unwrap().mtu, 9000);
}

#[test]
fn local_table_wins_for_the_same_prefix() {
    let mut fib = host();
    // A main-table /32 for our own address loses to the local route (local table first).
    fib.add_route(FibRoute::new(ip("10.0.1.2"), 32, RouteType::Unicast).via(ip("10.0.1.1")))
        .unwrap();
    assert_eq!(fib.inet_addr_type(ip("10.0.1.2")), RouteType::Local);
    assert_eq!(out(&fib, "10.0.1.2").unwrap().rt_type, RouteType::Local);
}

#[test]
fn genid_invalidates_cached_dsts() {
    let mut fib = host();
    let g0 = fib.genid();
    let d = out(&fib, "8.8.8.8").unwrap();
    assert!(fib.dst_check(&d));
    fib.add_route(FibRoute::new(ip("8.8.8.0"), 24, RouteType::Unicast).via(ip("10.0.2.1")))
        .unwrap();
    assert_ne!(fib.genid(), g0);
    assert!(!fib.dst_check(&d));
    let d = out(&fib, "8.8.8.8").unwrap();
    assert_eq!(d.gateway, Some(ip("10.0.2.1")));
    for change in 0..4 {
        let g = fib.genid();
        match change {
            0 => fib
                .del_route(FibTableId::Main, ip("8.8.8.0"), 24, None)
                .unwrap(),
            1 => fib.add_addr(ETH1, ip("10.0.9.1"), 24).unwrap(),
            2 => fib.del_addr(ETH1, ip("10.0.9.1"), 24).unwrap(),
            _ => set(&mut fib, ETH1, |d| d.mtu = 9000),
        }
        assert_ne!(fib.genid(), g, "change {change}");
        assert!(!fib.dst_check(&d));
    }
}

#[test]
fn inet_addr_type_and_select_addr() {
    let mut fib = host();
    assert_eq!(fib.inet_addr_type(ip("10.0.1.2")), RouteType::Local);
    assert_eq!(fib.inet_addr_type(ip("127.0.0.9")), RouteType::Local);
    assert_eq!(fib.inet_addr_type(ip("10.0.1.255")), RouteType::Broadcast);
    assert_eq!(
        fib.inet_addr_type(ip("255.255.255.255")),
        RouteType::Broadcast
    );
    assert_eq!(fib.inet_addr_type(ip("0.0.0.0")), RouteType::Broadcast);
    assert_eq!(fib.inet_addr_type(ip("239.1.1.1")), RouteType::Multicast);
    assert_eq!(fib.inet_addr_type(ip("10.0.1.7")), RouteType::Unicast);
    assert_eq!(fib.inet_addr_type(ip("8.8.8.8")), RouteType::Unicast);

    fib.add_addr(ETH0, ip("192.168.5.1"), 24).unwrap();
    let sel = |fib: &Fib, i, d: &str, s| fib.inet_select_addr(i, ip(d), s);
    // In dst's subnet first, else the first primary.
    assert_eq!(
        sel(&fib, ETH0, "192.168.5.9", RouteScope::UNIVERSE),
        Some(ip("192.168.5.1"))
    );
    assert_eq!(
        sel(&fib, ETH0, "8.8.8.8", RouteScope::UNIVERSE),
        Some(ip("10.0.1.2"))
    );
    // lo's 127.0.0.1 is host scope: not for a global destination, fine for HOST.
    assert_eq!(
        sel(&fib, LO, "0.0.0.0", RouteScope::HOST),
        Some(ip("127.0.0.1"))
    );
    // A device without addresses borrows another device's global address.
    fib.set_device(up_dev(4, "eth2", false));
    assert_eq!(
        sel(&fib, 4, "0.0.0.0", RouteScope::UNIVERSE),
        Some(ip("10.0.1.2"))
    );
    let mut empty = Fib::new();
    empty.set_device(up_dev(ETH0, "eth0", false));
    assert_eq!(sel(&empty, ETH0, "0.0.0.0", RouteScope::UNIVERSE), None);
}

// ------------------------------------------------------------ ip_route_input

#[test]
fn input_martians_in_linux_order() {
    let fib = router();
    let cases = [
        ("10.0.1.2", "224.0.0.5", RouteInputError::MartianSource),
        (
            "255.255.255.255",
            "255.255.255.255",
            RouteInputError::MartianSource,
        ),
        ("10.0.1.2", "0.1.2.3", RouteInputError::MartianSource),
        ("0.1.2.3", "10.0.1.9", RouteInputError::MartianDestination),
        ("127.0.0.1", "10.0.1.9", RouteInputError::MartianDestination),
        ("10.0.1.2", "127.0.0.1", RouteInputError::MartianSource),
        // Our own address as source.
        ("10.0.1.2", "10.0.2.2", RouteInputError::MartianSource),
    ];
    for (i, (d, s, want)) in cases.iter().enumerate() {
        assert_eq!(input(&fib, d, s, ETH0), Err(*want), "case {i}: {s} -> {d}");
    }
    let st = fib.stats();
    assert_eq!(
        (st.in_martian_src, st.in_martian_dst, st.in_slow_tot),
        (5, 2, 0)
    );
    assert_eq!(
        input(&fib, "10.0.1.2", "10.0.1.9", 9),
        Err(RouteInputError::Inval)
    );
}

#[test]
fn input_route_localnet_and_accept_local() {
    let mut fib = router();
    set(&mut fib, ETH0, |d| {
        d.route_localnet = true;
        d.accept_local = true;
    });
    let d = input(&fib, "127.0.0.1", "10.0.1.9", ETH0).unwrap();
    assert_eq!(d.input, DstInput::LocalDeliver);
    let d = input(&fib, "10.0.1.2", "10.0.2.2", ETH0).unwrap();
    assert_eq!(d.input, DstInput::LocalDeliver);
}

#[test]
fn input_local_delivery() {
    let fib = host();
    let d = input(&fib, "10.0.2.2", "10.0.1.9", ETH0).unwrap();
    assert_eq!(d.rt_type, RouteType::Local);
    assert_eq!(d.input, DstInput::LocalDeliver);
    assert!(d.flags.contains(RtFlags::LOCAL));
    assert!(!d.flags.contains(RtFlags::BROADCAST));
    assert_eq!((d.dev, d.iif, d.mtu), (LO, ETH0, 65536));
    assert_eq!(
        d.saddr,
        ip("10.0.2.2"),
        "spec_dst of a local packet is its destination"
    );
    assert_eq!(fib.stats().in_slow_tot, 1);
}

#[test]
fn input_broadcasts() {
    let fib = host();
    for (d, s) in [
        ("255.255.255.255", "10.0.1.9"),
        ("0.0.0.0", "0.0.0.0"),
        ("255.255.255.255", "0.0.0.0"),
    ] {
        let dst = input(&fib, d, s, ETH0).unwrap();
        assert_eq!(dst.rt_type, RouteType::Broadcast, "{s} -> {d}");
        assert!(dst.flags.contains(RtFlags::BROADCAST | RtFlags::LOCAL));
        assert_eq!(dst.input, DstInput::LocalDeliver);
        assert_eq!(
            dst.saddr,
            ip("10.0.1.2"),
            "replies come from eth0's address"
        );
    }
    let dst = input(&fib, "10.0.1.255", "10.0.1.9", ETH0).unwrap();
    assert_eq!(dst.rt_type, RouteType::Broadcast);
    assert!(dst.flags.contains(RtFlags::BROADCAST));
    assert_eq!(fib.stats().in_brd, 4);
    // A broadcast from one of our own addresses is a martian.
    assert_eq!(
        input(&fib, "10.0.1.255", "10.0.1.2", ETH0),
        Err(RouteInputError::MartianSource)
    );
}

#[test]
fn input_no_route_and_not_forwarding() {
    let mut fib = router();
    fib.del_route(FibTableId::Main, ip("0.0.0.0"), 0, None)
        .unwrap();
    let d = input(&fib, "8.8.8.8", "10.0.1.9", ETH0).unwrap();
    assert_eq!(d.input, DstInput::Error(RouteError::NetUnreach));
    assert_eq!(d.rt_type, RouteType::Unreachable);
    assert!(!d.flags.contains(RtFlags::LOCAL));
    assert_eq!(d.saddr, ip("10.0.1.2"), "spec_dst for the ICMP error");
    set(&mut fib, ETH0, |d| d.forwarding = false);
    let d = input(&fib, "8.8.8.8", "10.0.1.9", ETH0).unwrap();
    assert_eq!(d.input, DstInput::Error(RouteError::HostUnreach));
    // A host does not forward what it has a route for either.
    let d = input(&fib, "10.0.2.9", "10.0.1.9", ETH0).unwrap();
    assert_eq!(d.input, DstInput::Error(RouteError::HostUnreach));
    let st = fib.stats();
    assert_eq!((st.in_no_route, st.in_slow_tot), (3, 3));
}

#[test]
fn input_forwarding_and_redirects() {
    let fib = router();
    let d = input(&fib, "8.8.8.8", "10.0.2.9", ETH1).unwrap();
    assert_eq!(d.input, DstInput::Forward);
    assert_eq!(d.rt_type, RouteType::Unicast);
    assert_eq!(
        (d.dev, d.iif, d.gateway, d.mtu),
        (ETH0, ETH1, Some(ip("10.0.1.1")), 1500)
    );
    assert!(!d.flags.contains(RtFlags::DOREDIRECT));
    assert!(!d.flags.contains(RtFlags::LOCAL));
    assert_eq!(d.saddr, ip("10.0.2.2"));
    // Back out of the device it came in on, sender on that link: redirect.
    let d = input(&fib, "8.8.8.8", "10.0.1.9", ETH0).unwrap();
    assert!(d.flags.contains(RtFlags::DOREDIRECT));
    // The sender is not on the link (reached via the default gateway): no redirect.
    let d = input(&fib, "10.0.1.50", "8.8.4.4", ETH0).unwrap();
    assert_eq!(d.input, DstInput::Forward);
    assert!(!d.flags.contains(RtFlags::DOREDIRECT));
    let mut quiet = router();
    set(&mut quiet, ETH0, |d| d.send_redirects = false);
    let d = input(&quiet, "8.8.8.8", "10.0.1.9", ETH0).unwrap();
    assert!(!d.flags.contains(RtFlags::DOREDIRECT));
    let mut mtu = router();
    let mut r = FibRoute::new(ip("9.0.0.0"), 8, RouteType::Unicast).via(ip("10.0.2.1"));
    r.mtu = 1280;
    mtu.add_route(r).unwrap();
    assert_eq!(input(&mtu, "9.9.9.9", "10.0.1.9", ETH0).unwrap().mtu, 1280);
    assert_eq!(out(&mtu, "9.9.9.9").unwrap().mtu, 1280);
}

#[test]
fn input_rp_filter() {
    let mut fib = router();
    // 10.0.2.9 is reached through eth1, but arrives on eth0.
    set(&mut fib, ETH0, |d| d.rp_filter = 1);
    assert_eq!(
        input(&fib, "10.0.1.2", "10.0.2.9", ETH0),
        Err(RouteInputError::RpFilter)
    );
    assert_eq!(
        input(&fib, "8.8.8.8", "10.0.2.9", ETH0),
        Err(RouteInputError::RpFilter)
    );
    assert_eq!(
        input(&fib, "10.0.1.2", "10.0.1.9", ETH0).unwrap().input,
        DstInput::LocalDeliver
    );
    assert_eq!(
        input(&fib, "10.0.1.2", "10.0.2.2", ETH0),
        Err(RouteInputError::MartianSource)
    );
    // Forwarded from an on-link sender to another device: valid, and no redirect.
    let d = input(&fib, "10.0.2.9", "10.0.1.9", ETH0).unwrap();
    assert_eq!((d.input, d.dev), (DstInput::Forward, ETH1));
    assert!(!d.flags.contains(RtFlags::DOREDIRECT));
    set(&mut fib, ETH0, |d| d.rp_filter = 2);
    assert_eq!(
        input(&fib, "10.0.1.2", "10.0.2.9", ETH0).unwrap().input,
        DstInput::LocalDeliver
    );
    // Loose mode still needs some route back.
    fib.del_route(FibTableId::Main, ip("0.0.0.0"), 0, None)
        .unwrap();
    assert_eq!(
        input(&fib, "10.0.1.2", "8.8.8.8", ETH0),
        Err(RouteInputError::RpFilter)
    );
    assert_eq!(RouteInputError::RpFilter.errno(), 18);
    assert_eq!(fib.stats().in_martian_src, 4);
}

#[test]
fn input_multicast() {
    let fib = host();
    let d = fib
        .ip_route_input(ip("239.1.2.3"), ip("10.0.1.9"), 0, ETH0, true)
        .unwrap();
    assert_eq!(d.rt_type, RouteType::Multicast);
    assert!(d.flags.contains(RtFlags::MULTICAST | RtFlags::LOCAL));
    assert_eq!(d.input, DstInput::LocalDeliver);
    assert_eq!(d.saddr, ip("10.0.1.2"));
    assert_eq!(
        fib.ip_route_input(ip("239.1.2.3"), ip("10.0.1.9"), 0, ETH0, false),
        Err(RouteInputError::Inval)
    );
    // All-hosts is always joined; 0.0.0.0 may talk to link-local groups only.
    assert!(
        fib.ip_route_input(ip("224.0.0.1"), ip("0.0.0.0"), 0, ETH0, false)
            .is_ok()
    );
    assert_eq!(
        fib.ip_route_input(ip("239.1.2.3"), ip("0.0.0.0"), 0, ETH0, true),
        Err(RouteInputError::Inval)
    );
    assert_eq!(
        fib.ip_route_input(ip("224.0.0.1"), ip("10.0.1.2"), 0, ETH0, true),
        Err(RouteInputError::Inval)
    );
    assert_eq!(fib.stats().in_slow_mc, 2);
}

// ------------------------------------------------------------ ip_route_output

#[test]
fn output_source_checks() {
    let fib = host();
    let with_src = |d: &str, s: &str| {
        let mut fl = Flowi4::new(ip(d));
        fl.saddr = ip(s);
        fib.ip_route_output(&fl)
    };
    assert_eq!(
        with_src("8.8.8.8", "224.0.0.1").unwrap_err(),
        RouteError::Inval
    );
    assert_eq!(
        with_src("8.8.8.8", "255.255.255.255").unwrap_err(),
        RouteError::Inval
    );
    assert_eq!(
        with_src("8.8.8.8", "0.1.2.3").unwrap_err(),
        RouteError::Inval
    );
    assert_eq!(
        with_src("8.8.8.8", "10.0.1.99").unwrap_err(),
        RouteError::Inval
    );
    // Another device's address is a fine source (weak host model).
    let d = with_src("8.8.8.8", "10.0.2.2").unwrap();
    assert_eq!((d.saddr, d.dev), (ip("10.0.2.2"), ETH0));
    // A loopback source may not leave by a real device.
    assert_eq!(
        with_src("8.8.8.8", "127.0.0.1").unwrap_err(),
        RouteError::Inval
    );
    // Limited broadcast without oif leaves by the source's device.
    let d = with_src("255.255.255.255", "10.0.2.2").unwrap();
    assert_eq!((d.dev, d.rt_type), (ETH1, RouteType::Broadcast));
}

#[test]
fn output_with_oif() {
    let mut fib = host();
    let via = |fib: &Fib, d: &str, oif| {
        let mut fl = Flowi4::new(ip(d));
        fl.oif = oif;
        fib.ip_route_output(&fl)
    };
    assert_eq!(via(&fib, "8.8.8.8", 9).unwrap_err(), RouteError::NoDev);
    let d = via(&fib, "255.255.255.255", ETH1).unwrap();
    assert_eq!(
        (d.dev, d.rt_type, d.saddr),
        (ETH1, RouteType::Broadcast, ip("10.0.2.2"))
    );
    assert!(d.flags.contains(RtFlags::BROADCAST | RtFlags::LOCAL));
    assert_eq!(fib.stats().out_slow_mc, 1);
    // No route through eth1 to 8.8.8.8: assumed on-link there.
    let d = via(&fib, "8.8.8.8", ETH1).unwrap();
    assert_eq!((d.dev, d.gateway, d.saddr), (ETH1, None, ip("10.0.2.2")));
    assert_eq!(d.iif, ETH1);
    // The route through the named device is taken when there is one.
    let d = via(&fib, "8.8.8.8", ETH0).unwrap();
    assert_eq!((d.dev, d.gateway), (ETH0, Some(ip("10.0.1.1"))));
    // Like `ping -I eth0 127.0.0.1` on Linux: out of eth0, not loopback.
    let d = via(&fib, "127.0.0.1", ETH0).unwrap();
    assert_eq!((d.dev, d.rt_type), (ETH0, RouteType::Unicast));
    // Multicast with oif: that device, no loop back unless all-hosts.
    let d = via(&fib, "239.1.1.1", ETH1).unwrap();
    assert_eq!(
        (d.dev, d.rt_type, d.gateway),
        (ETH1, RouteType::Multicast, None)
    );
    assert!(d.flags.contains(RtFlags::MULTICAST));
    assert!(!d.flags.contains(RtFlags::LOCAL));
    let d = via(&fib, "224.0.0.1", ETH1).unwrap();
    assert!(d.flags.contains(RtFlags::MULTICAST | RtFlags::LOCAL));
    set(&mut fib, ETH1, |d| d.up = false);
    assert_eq!(
        via(&fib, "8.8.8.8", ETH1).unwrap_err(),
        RouteError::NetUnreach
    );
}

#[test]
fn output_local_and_zero_destination() {
    let mut fib = host();
    let d = out(&fib, "10.0.2.2").unwrap();
    assert_eq!(
        (d.rt_type, d.dev, d.iif, d.saddr),
        (RouteType::Local, LO, ETH1, ip("10.0.2.2"))
    );
    assert!(d.flags.contains(RtFlags::LOCAL));
    assert_eq!((d.input, d.mtu), (DstInput::LocalDeliver, 65536));
    let d = out(&fib, "127.0.0.5").unwrap();
    assert_eq!(
        (d.rt_type, d.dev, d.saddr),
        (RouteType::Local, LO, ip("127.0.0.1"))
    );
    let d = out(&fib, "0.0.0.0").unwrap();
    assert_eq!(
        (d.rt_type, d.dev, d.daddr, d.saddr),
        (RouteType::Local, LO, ip("127.0.0.1"), ip("127.0.0.1"))
    );
    // A secondary's local route carries the primary as prefsrc, and Linux uses it.
    fib.add_addr(ETH0, ip("10.0.1.3"), 24).unwrap();
    assert_eq!(out(&fib, "10.0.1.3").unwrap().saddr, ip("10.0.1.2"));
}

#[test]
fn output_prefsrc_and_selected_source() {
    let mut fib = host();
    fib.add_addr(ETH0, ip("192.168.5.1"), 24).unwrap();
    let mut r = FibRoute::new(ip("172.16.0.0"), 12, RouteType::Unicast).via(ip("10.0.1.1"));
    r.prefsrc = Some(ip("192.168.5.1"));
    fib.add_route(r).unwrap();
    assert_eq!(out(&fib, "172.16.1.1").unwrap().saddr, ip("192.168.5.1"));
    // Without prefsrc: the device address in the gateway's subnet.
    assert_eq!(out(&fib, "8.8.8.8").unwrap().saddr, ip("10.0.1.2"));
    assert_eq!(out(&fib, "192.168.5.20").unwrap().saddr, ip("192.168.5.1"));
}

#[test]
fn output_no_route_and_scope() {
    let mut fib = host();
    fib.del_route(FibTableId::Main, ip("0.0.0.0"), 0, None)
        .unwrap();
    assert_eq!(out(&fib, "8.8.8.8").unwrap_err(), RouteError::NetUnreach);
    // RTO_ONLINK: only link-scope routes qualify.
    let mut fl = Flowi4::new(ip("10.0.2.9"));
    fl.scope = RouteScope::LINK;
    assert_eq!(fib.ip_route_output(&fl).unwrap().dev, ETH1);
    fib.add_route(FibRoute::new(ip("8.8.8.0"), 24, RouteType::Unicast).via(ip("10.0.1.1")))
        .unwrap();
    fl.daddr = ip("8.8.8.8");
    assert_eq!(
        fib.ip_route_output(&fl).unwrap_err(),
        RouteError::NetUnreach
    );
    assert_eq!(fib.stats().out_slow_tot, 1);
}

#[test]
fn every_route_type_through_both_resolvers() {
    let mut fib = router();
    let add = |fib: &mut Fib, s: &str, t| fib.add_route(FibRoute::new(ip(s), 24, t)).unwrap();
    add(&mut fib, "192.0.2.0", RouteType::Unreachable);
    add(&mut fib, "198.51.100.0", RouteType::Blackhole);
    add(&mut fib, "203.0.113.0", RouteType::Prohibit);
    fib.add_route(FibRoute::new(ip("10.9.0.0"), 16, RouteType::Multicast).dev(ETH1))
        .unwrap();
    fib.add_route(FibRoute::new(ip("239.0.0.0"), 8, RouteType::Multicast).dev(ETH1))
        .unwrap();
    fib.add_route(FibRoute::new(ip("10.7.7.7"), 32, RouteType::Local).dev(LO))
        .unwrap();
    fib.add_route(FibRoute::new(ip("10.8.8.255"), 32, RouteType::Broadcast).dev(ETH1))
        .unwrap();
    let src = "10.0.1.9";
    // Unicast
    assert_eq!(
        input(&fib, "8.8.8.8", src, ETH0).unwrap().input,
        DstInput::Forward
    );
    assert_eq!(out(&fib, "8.8.8.8").unwrap().rt_type, RouteType::Unicast);
    // Local (a hand-made local route: the source check takes the full path)
    let d = input(&fib, "10.7.7.7", src, ETH0).unwrap();
    assert_eq!(
        (d.rt_type, d.input),
        (RouteType::Local, DstInput::LocalDeliver)
    );
    let d = out(&fib, "10.7.7.7").unwrap();
    assert_eq!(
        (d.rt_type, d.dev, d.saddr),
        (RouteType::Local, LO, ip("10.7.7.7"))
    );
    assert_eq!(
        input(&fib, "10.7.7.7", "10.0.2.2", ETH0),
        Err(RouteInputError::MartianSource)
    );
    // Broadcast
    assert_eq!(
        input(&fib, "10.8.8.255", src, ETH0).unwrap().rt_type,
        RouteType::Broadcast
    );
    let d = out(&fib, "10.8.8.255").unwrap();
    assert_eq!((d.rt_type, d.dev), (RouteType::Broadcast, ETH1));
    assert!(d.flags.contains(RtFlags::BROADCAST | RtFlags::LOCAL));
    // Multicast
    assert_eq!(
        input(&fib, "10.9.1.1", src, ETH0),
        Err(RouteInputError::MartianDestination)
    );
    let d = out(&fib, "239.1.1.1").unwrap();
    assert_eq!(
        (d.rt_type, d.dev, d.saddr),
        (RouteType::Multicast, ETH1, ip("10.0.2.2"))
    );
    // Reject types
    for (dst, err) in [
        ("192.0.2.1", RouteError::HostUnreach),
        ("198.51.100.1", RouteError::Inval),
        ("203.0.113.1", RouteError::Acces),
    ] {
        let d = input(&fib, dst, src, ETH0).unwrap();
        assert_eq!(
            (d.input, d.rt_type),
            (DstInput::Error(err), RouteType::Unreachable),
            "{dst}"
        );
        assert_eq!(out(&fib, dst).unwrap_err(), err, "{dst}");
        // With a device named, Linux assumes the destination is on its link.
        let mut fl = Flowi4::new(ip(dst));
        fl.oif = ETH1;
        assert_eq!(fib.ip_route_output(&fl).unwrap().dev, ETH1);
    }
    set(&mut fib, ETH0, |d| d.forwarding = false);
    let d = input(&fib, "203.0.113.1", src, ETH0).unwrap();
    assert_eq!(d.input, DstInput::Error(RouteError::HostUnreach));
}

#[test]
fn no_loopback_device_still_routes_locally() {
    let mut fib = Fib::new();
    fib.set_device(up_dev(ETH0, "eth0", false));
    fib.add_addr(ETH0, ip("10.0.1.2"), 24).unwrap();
    let d = out(&fib, "10.0.1.2").unwrap();
    assert_eq!((d.dev, d.mtu), (LOOPBACK_IFINDEX, LOOPBACK_MTU));
}

/// The inline common case of ip_route_output() answers exactly as the general path, for
/// destinations hitting every kind of route.
#[test]
fn output_fast_path_matches_the_general_path() {
    let mut fib = router();
    fib.add_route(FibRoute::new(ip("192.0.2.0"), 24, RouteType::Unreachable))
        .unwrap();
    fib.add_route(FibRoute::new(ip("198.51.100.0"), 24, RouteType::Blackhole))
        .unwrap();
    fib.add_route(FibRoute::new(ip("203.0.113.0"), 24, RouteType::Prohibit))
        .unwrap();
    fib.add_route(FibRoute::new(ip("172.16.0.0"), 12, RouteType::Unicast).via(ip("10.0.1.1")))
        .unwrap();
    let mut route = FibRoute::new(ip("172.16.5.0"), 24, RouteType::Unicast).via(ip("10.0.1.1"));
    route.mtu = 1280;
    fib.add_route(route).unwrap();
    let mut rng = crate::rand::Prng::new(11);
    let fixed = [
        "10.0.1.1",
        "10.0.1.255",
        "10.0.2.9",
        "127.0.0.1",
        "127.9.9.9",
        "0.0.0.0",
        "255.255.255.255",
        "224.0.0.1",
        "239.1.1.1",
        "172.16.5.5",
    ];
    let randoms = (0..20_000).map(|_| {
        let a = rng.next_u32();
        // Bias towards the configured networks.
        match a % 4 {
            0 => Ipv4Addr::from(0x0a00_0000 | (a >> 8 & 0x0003_ffff)),
            1 => Ipv4Addr::from(0xac10_0000 | (a >> 8 & 0x000f_ffff)),
            _ => Ipv4Addr::from(a),
        }
    });
    for d in fixed.iter().map(|s| ip(s)).chain(randoms) {
        let fl = Flowi4::new(d);
        assert_eq!(
            fib.ip_route_output(&fl),
            fib.ip_route_output_slow(&fl),
            "{d}"
        );
    }
}
