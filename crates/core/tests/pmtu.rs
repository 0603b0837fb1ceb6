//! Path MTU discovery on a host: ICMP fragmentation-needed teaches a per-destination MTU
//! (Linux __ip_rt_update_pmtu(), RFC 1191) that local output and IP_MTU_DISCOVER obey.

mod common;

use common::*;
use core::time::Duration;
use skiff_core::ipv4::output::PmtuDisc;
use skiff_core::route::{FibRoute, RouteType};
use skiff_core::socket::SockFd as RawHandle;
use skiff_core::socket::{SockAddr, SockOpt, SockOptName};
use skiff_wire::Ipv4Addr;
use std::net::SocketAddrV4;

/// Reached through PEER, the host's default gateway.
const REMOTE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 9);

fn host() -> (Host, RawHandle) {
    let mut h = Host::new(false);
    h.s.add_route(FibRoute::new(Ipv4Addr::UNSPECIFIED, 0, RouteType::Unicast).via(PEER))
        .unwrap();
    let sock = h.s.raw_socket(1).unwrap();
    (h, sock)
}

/// Sends an echo request of `len` IP bytes to REMOTE; returns what left.
fn send(h: &mut Host, sock: RawHandle, len: usize) -> Result<Vec<Out>, i32> {
    let msg = icmp(8, 0, [0, 7, 0, 1], &vec![0x5a; len - 28]);
    let now = h.now;
    h.s.raw_sendto(now, sock, REMOTE, &msg)
        .map_err(|e| e.errno())?;
    Ok(outs(h.tx()))
}

/// The gateway's fragmentation-needed for `sent`, reporting `mtu`.
fn ptb(h: &mut Host, sent: &Out, mtu: u16) {
    let quote = &sent.ip[..sent.ip.len().min(28)];
    let m = icmp(3, 4, [0, 0, (mtu >> 8) as u8, mtu as u8], quote);
    h.rx(h.eth0, &Ip::new(PEER, ME, 1, m).frame());
}

fn cache(h: &Host) -> String {
    h.s.fib.render_cache(h.now)
}

/// (bytes, DF) of every packet sent.
fn shape(out: &[Out]) -> Vec<(usize, bool)> {
    out.iter().map(|o| (o.ip.len(), o.df)).collect()
}

#[test]
fn frag_needed_teaches_the_path_mtu_and_output_obeys_it() {
    let (mut h, sock) = host();
    let out = send(&mut h, sock, 1400).unwrap();
    assert_eq!(
        shape(&out),
        vec![(1400, true)],
        "WANT sets DF while it fits"
    );
    ptb(&mut h, &out[0], 1000);
    assert_eq!(
        cache(&h),
        "192.0.2.9 via 10.0.0.2 dev eth0 \n    cache expires 600sec mtu 1000 \n"
    );
    let out = send(&mut h, sock, 1400).unwrap();
    assert_eq!(
        shape(&out),
        vec![(996, false), (424, false)],
        "past the path MTU, WANT fragments without DF"
    );
    assert_eq!(shape(&send(&mut h, sock, 900).unwrap()), vec![(900, true)]);
    // A connected socket reads it back through IP_MTU.
    h.s.connect(sock, SockAddr::Inet(SocketAddrV4::new(REMOTE, 0)))
        .unwrap();
    assert_eq!(h.s.getsockopt(sock, SockOptName::Mtu), Ok(1000));
    let other = h.s.raw_socket(1).unwrap();
    assert_eq!(
        h.s.getsockopt(other, SockOptName::Mtu)
            .map_err(|e| e.errno()),
        Err(107)
    );
}

#[test]
fn a_larger_mtu_is_ignored_and_the_same_one_refreshes_only_after_half_the_expiry() {
    let (mut h, sock) = host();
    let out = send(&mut h, sock, 1400).unwrap();
    ptb(&mut h, &out[0], 1000);
    ptb(&mut h, &out[0], 1200);
    assert!(cache(&h).contains("mtu 1000"), "RFC 1191: never increase");
    h.advance(Duration::from_secs(200));
    ptb(&mut h, &out[0], 1000);
    assert!(cache(&h).contains("expires 400sec"), "{}", cache(&h));
    h.advance(Duration::from_secs(150));
    ptb(&mut h, &out[0], 1000);
    assert!(cache(&h).contains("expires 600sec"), "{}", cache(&h));
    ptb(&mut h, &out[0], 800);
    assert!(cache(&h).contains("mtu 800"));
}

#[test]
fn below_min_pmtu_clamps_to_552_and_locks() {
    let (mut h, sock) = host();
    let out = send(&mut h, sock, 1400).unwrap();
    ptb(&mut h, &out[0], 400);
    assert!(cache(&h).contains("mtu lock 552"), "{}", cache(&h));
    let out = send(&mut h, sock, 1400).unwrap();
    assert_eq!(shape(&out), vec![(548, false), (548, false), (344, false)]);
    assert_eq!(
        shape(&send(&mut h, sock, 100).unwrap()),
        vec![(100, false)],
        "a locked path MTU stops DF under WANT"
    );
    ptb(&mut h, &out[0], 300);
    assert!(
        cache(&h).contains("mtu lock 552"),
        "a locked MTU ignores PTBs"
    );
}

#[test]
fn an_mtu_of_zero_is_552_locked() {
    let (mut h, sock) = host();
    let out = send(&mut h, sock, 1400).unwrap();
    ptb(&mut h, &out[0], 0);
    assert!(cache(&h).contains("mtu lock 552"), "{}", cache(&h));
}

#[test]
fn the_path_mtu_expires_after_mtu_expires() {
    let (mut h, sock) = host();
    h.s.set_sysctl("net.ipv4.route.mtu_expires", "100").unwrap();
    let out = send(&mut h, sock, 1400).unwrap();
    ptb(&mut h, &out[0], 1000);
    assert_eq!(
        h.s.fib.exceptions_deadline(),
        Some(h.now.saturating_add(Duration::from_secs(100)))
    );
    let deadline = h.s.fib.exceptions_deadline().unwrap();
    assert!(h.s.poll_timeout().is_some_and(|t| t <= deadline));
    h.advance(Duration::from_secs(99));
    assert_eq!(send(&mut h, sock, 1400).unwrap().len(), 2);
    h.advance(Duration::from_secs(1));
    assert_eq!(cache(&h), "");
    assert_eq!(
        shape(&send(&mut h, sock, 1400).unwrap()),
        vec![(1400, true)]
    );
}

#[test]
fn ip_mtu_discover_modes_decide_df_and_size() {
    let (mut h, sock) = host();
    let out = send(&mut h, sock, 1400).unwrap();
    ptb(&mut h, &out[0], 1000);
    let mode = |h: &mut Host, m| {
        h.s.setsockopt(sock, SockOpt::MtuDiscover(m as i32))
            .unwrap()
    };
    mode(&mut h, PmtuDisc::Do);
    assert_eq!(send(&mut h, sock, 1001).map(|o| shape(&o)), Err(90));
    let out = send(&mut h, sock, 1000).unwrap();
    assert_eq!((shape(&out), out[0].ident), (vec![(1000, true)], 0));
    mode(&mut h, PmtuDisc::Dont);
    assert_eq!(shape(&send(&mut h, sock, 500).unwrap()), vec![(500, false)]);
    assert_eq!(send(&mut h, sock, 1400).unwrap().len(), 2);
    mode(&mut h, PmtuDisc::Probe);
    assert_eq!(
        shape(&send(&mut h, sock, 1400).unwrap()),
        vec![(1400, true)],
        "PROBE sizes by the device and sets DF"
    );
    assert_eq!(send(&mut h, sock, 1501).map(|o| shape(&o)), Err(90));
    mode(&mut h, PmtuDisc::Interface);
    assert_eq!(
        shape(&send(&mut h, sock, 1400).unwrap()),
        vec![(1400, false)]
    );
    assert_eq!(send(&mut h, sock, 1501).map(|o| shape(&o)), Err(90));
    mode(&mut h, PmtuDisc::Omit);
    assert_eq!(send(&mut h, sock, 3000).unwrap().len(), 3);
    assert_eq!(PmtuDisc::from_raw(6), None);
}

#[test]
fn ip_no_pmtu_disc_modes() {
    let (mut h, sock) = host();
    h.s.set_sysctl("ip_no_pmtu_disc", "2").unwrap();
    let out = send(&mut h, sock, 1400).unwrap();
    ptb(&mut h, &out[0], 1000);
    assert_eq!(cache(&h), "", "2: fragmentation-needed is ignored");
    h.s.set_sysctl("ip_no_pmtu_disc", "1").unwrap();
    ptb(&mut h, &out[0], 1000);
    assert!(cache(&h).contains("mtu lock 552"), "1: min_pmtu, locked");
    let dont = h.s.raw_socket(1).unwrap();
    assert_eq!(
        shape(&send(&mut h, dont, 100).unwrap()),
        vec![(100, false)],
        "1: new sockets default to DONT"
    );
}

#[test]
fn only_errors_a_protocol_takes_teach_the_path_mtu() {
    let mut h = Host::new(false);
    h.s.add_route(FibRoute::new(Ipv4Addr::UNSPECIFIED, 0, RouteType::Unicast).via(PEER))
        .unwrap();
    // A UDP datagram with no socket (udp_err finds none) teaches nothing.
    let sent = Ip::udp(ME, REMOTE, 9, &[0; 1372]);
    let quote = &sent.frame()[14..42];
    let m = icmp(3, 4, [0, 0, 0x03, 0xe8], quote);
    h.rx(h.eth0, &Ip::new(PEER, ME, 1, m.clone()).frame());
    assert_eq!(cache(&h), "");
    assert_eq!(h.mib("IcmpInErrors"), 1);
    // A raw socket of the protocol takes it.
    h.s.raw_socket(17).unwrap();
    h.rx(h.eth0, &Ip::new(PEER, ME, 1, m).frame());
    assert!(cache(&h).contains("mtu 1000"), "{}", cache(&h));
    // A quoted source that is not ours routes nowhere: nothing learned.
    let forged = Ip::udp(PEER1, Ipv4Addr::new(192, 0, 2, 10), 9, &[0; 1372]);
    let m = icmp(3, 4, [0, 0, 0x03, 0xe8], &forged.frame()[14..42]);
    h.rx(h.eth0, &Ip::new(PEER, ME, 1, m).frame());
    assert_eq!(h.s.fib.exceptions().len(), 1);
}

#[test]
fn ptb_floods_stay_bounded() {
    let (mut h, sock) = host();
    let out = send(&mut h, sock, 1400).unwrap();
    for i in 0..10_000u32 {
        let mut quote = out[0].ip[..28].to_vec();
        quote[16..20].copy_from_slice(&(0xc600_0000 | i).to_be_bytes());
        let m = icmp(3, 4, [0, 0, 0x03, 0xe8], &quote);
        h.rx(h.eth0, &Ip::new(PEER, ME, 1, m).frame());
    }
    assert_eq!(
        h.s.fib.exceptions().len(),
        skiff_core::route::exception::FNHE_MAX
    );
}

#[test]
fn an_error_about_our_icmp_teaches_without_any_socket() {
    let mut h = Host::new(false);
    h.s.add_route(FibRoute::new(Ipv4Addr::UNSPECIFIED, 0, RouteType::Unicast).via(PEER))
        .unwrap();
    // REMOTE pings us with 1400 bytes; the reply (our ICMP) draws a frag-needed.
    let echo = Ip::new(REMOTE, ME, 1, icmp(8, 0, [0, 9, 0, 1], &[7; 1372]));
    h.rx(h.eth0, &echo.frame());
    let reply = outs(h.tx());
    assert_eq!(shape(&reply), vec![(1400, false)]);
    ptb(&mut h, &reply[0], 1000);
    assert!(cache(&h).contains("mtu 1000"), "icmp_err(): {}", cache(&h));
    h.rx(h.eth0, &echo.frame());
    assert_eq!(shape(&outs(h.tx())), vec![(996, false), (424, false)]);
}

#[test]
fn forwarding_honours_only_a_locked_path_mtu() {
    let mut r = Host::new(true); // eth1 MTU 1400
    let sock = r.s.raw_socket(1).unwrap();
    let probe = icmp(8, 0, [0, 7, 0, 1], &[1; 1000]);
    let learn = |r: &mut Host, mtu: u16| {
        let now = r.now;
        r.s.raw_sendto(now, sock, PEER1, &probe).unwrap();
        let sent = outs(r.tx());
        let m = icmp(3, 4, [0, 0, (mtu >> 8) as u8, mtu as u8], &sent[0].ip[..28]);
        let mut p = Ip::new(PEER1, ME1, 1, m);
        p.eth_dst = MAC1;
        r.rx(r.eth1, &p.frame());
    };
    let forward = |r: &mut Host| {
        r.rx(r.eth0, &Ip::udp(PEER, PEER1, 9, &[3; 1972]).frame());
        shape(&outs(r.tx()))
    };
    learn(&mut r, 1000);
    assert!(cache(&r).contains("mtu 1000"));
    assert_eq!(
        forward(&mut r),
        vec![(1396, false), (624, false)],
        "eth1's MTU"
    );
    learn(&mut r, 400);
    assert!(cache(&r).contains("mtu lock 552"), "{}", cache(&r));
    assert_eq!(
        forward(&mut r),
        vec![(548, false), (548, false), (548, false), (416, false)],
        "a locked path MTU holds for forwarding too"
    );
}
