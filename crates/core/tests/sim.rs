//! The in-process network: veth pairs and L2 segments, per-link MTU and loss, ARP across
//! stacks, timers on the virtual clock.

use core::time::Duration;
use skiff_core::sim::Sim;
use skiff_core::{Stack, StackConfig};
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::EthernetAddress;

fn mac(i: u8) -> EthernetAddress {
    EthernetAddress([2, 0, 0, 0, 0, i])
}

fn ping_msg(seq: u8, len: usize) -> Vec<u8> {
    let mut m = vec![8, 0, 0, 0, 0, 1, 0, seq];
    m.resize(8 + len, 0x5a);
    let c = skiff_wire::checksum::csum_fold(skiff_wire::checksum::csum_partial(&m, 0));
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// Three hosts on one segment; returns the sim and their ids.
fn segment(mtu: u32) -> (Sim, Vec<skiff_core::sim::HostId>, skiff_core::sim::LinkId) {
    let mut sim = Sim::new(1);
    let lan = sim.add_link("lan", mtu);
    let mut hosts = Vec::new();
    for i in 1..=3u8 {
        let h = sim.add_stack(Stack::new(StackConfig {
            cap_net_raw: true,
            seed: u64::from(i),
            ..StackConfig::default()
        }));
        let dev = sim.attach(h, "eth0", mac(i), lan).unwrap();
        sim.stack(h)
            .add_addr(dev, Ipv4Addr::new(10, 0, 0, i), 24)
            .unwrap();
        hosts.push(h);
    }
    sim.run();
    (sim, hosts, lan)
}

#[test]
fn hosts_on_a_segment_resolve_each_other_and_ping() {
    let (mut sim, h, lan) = segment(1500);
    let sock = sim.stack(h[0]).raw_socket(1).unwrap();
    let now = sim.now;
    sim.stack(h[0])
        .raw_sendto(now, sock, Ipv4Addr::new(10, 0, 0, 3), &ping_msg(1, 56))
        .unwrap();
    sim.run();
    let reply = sim.stack(h[0]).raw_recv(sock).unwrap();
    assert_eq!(
        (reply.src, reply.packet[20]),
        (Ipv4Addr::new(10, 0, 0, 3), 0)
    );
    // The third host saw the frames (a hub), and dropped what was not for it.
    let other = sim.stack_ref(h[1]).dev(2).unwrap().stats;
    assert!(other.rx_otherhost_dropped >= 2, "{other:?}");
    assert!(
        sim.link(lan).stats.frames >= 4,
        "ARP request, reply, echo, reply"
    );
}

#[test]
fn frames_over_the_link_mtu_are_lost() {
    let (mut sim, h, lan) = segment(1500);
    // The sender believes its device takes 9000 bytes; the wire does not.
    sim.stack(h[0]).set_mtu(2, 9000).unwrap();
    let sock = sim.stack(h[0]).raw_socket(1).unwrap();
    let now = sim.now;
    let dst = Ipv4Addr::new(10, 0, 0, 2);
    sim.stack(h[0])
        .raw_sendto(now, sock, dst, &ping_msg(1, 10))
        .unwrap();
    sim.run();
    assert!(sim.stack(h[0]).raw_recv(sock).is_ok());
    sim.stack(h[0])
        .raw_sendto(now, sock, dst, &ping_msg(2, 4000))
        .unwrap();
    sim.run();
    assert!(sim.stack(h[0]).raw_recv(sock).is_err());
    assert_eq!(sim.link(lan).stats.too_big, 1);
}

#[test]
fn loss_is_applied_and_arp_gives_up_on_the_virtual_clock() {
    let (mut sim, h, lan) = segment(1500);
    sim.set_loss(lan, 1_000_000);
    let sock = sim.stack(h[0]).raw_socket(1).unwrap();
    let now = sim.now;
    sim.stack(h[0])
        .raw_sendto(now, sock, Ipv4Addr::new(10, 0, 0, 2), &ping_msg(1, 8))
        .unwrap();
    sim.advance(Duration::from_secs(10));
    assert!(
        sim.link(lan).stats.lost >= 3,
        "three ARP requests, all lost"
    );
    // The failure comes back as host unreachable from ourselves.
    let err = sim.stack(h[0]).raw_recv(sock).unwrap();
    assert_eq!((err.packet[20], err.packet[21]), (3, 1));
    assert_eq!(
        sim.now.as_nanos(),
        Duration::from_secs(11).as_nanos() as u64
    );
}
