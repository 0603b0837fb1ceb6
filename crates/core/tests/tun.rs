//! A TUN device (ARPHRD_NONE): bare IPv4 packets both ways, no link header, no ARP; the
//! protocol comes from the version nibble (Linux tun_get_user()), and a virtio-net header
//! describes the packet from its IP header.

mod common;

use common::{Host, Ip, PEER};
use skiff_core::drop::DropReason;
use skiff_core::socket::{AF_INET, SOCK_DGRAM, SockAddr};
use skiff_wire::Ipv4Addr;
use skiff_wire::virtio::{VirtioGsoType, VirtioNetHdrRepr};
use std::net::SocketAddrV4;

const TUN_ME: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 2);
const TUN_PEER: Ipv4Addr = Ipv4Addr::new(10, 7, 0, 1);

fn tun_host() -> (Host, u32) {
    let mut h = Host::new(false);
    let tun = h.s.add_tun_device("tun0", 1500).unwrap();
    h.s.set_up(tun, true).unwrap();
    h.s.add_addr(tun, TUN_ME, 24).unwrap();
    assert!(h.tx().is_empty(), "no gratuitous ARP on a TUN device");
    (h, tun)
}

/// The IP packet of a frame `Ip` builds (its Ethernet header cut off).
fn packet(ip: &Ip) -> Vec<u8> {
    ip.frame()[14..].to_vec()
}

#[test]
fn a_tun_device_answers_ping_without_a_link_header_or_arp() {
    let (mut h, tun) = tun_host();
    h.rx(tun, &packet(&Ip::echo(TUN_PEER, TUN_ME)));
    let out = h.tx();
    assert_eq!(out.len(), 1, "the reply goes straight out, no ARP first");
    let (dev, reply) = &out[0];
    assert_eq!(*dev, tun);
    assert_eq!(reply[0], 0x45, "an IPv4 header, no Ethernet header");
    assert_eq!(&reply[12..16], &TUN_ME.octets());
    assert_eq!(&reply[16..20], &TUN_PEER.octets());
    assert_eq!(reply[20], 0, "echo reply");
    assert_eq!(h.mib("IcmpOutEchoReps"), 1);
    assert!(h.s.render_link().contains("link/none"));
}

#[test]
fn a_tun_device_drops_what_is_not_ipv4_and_counts_it() {
    let (mut h, tun) = tun_host();
    let mut v6 = vec![0x60; 40];
    v6[4] = 0;
    h.rx(tun, &v6);
    h.rx(tun, &[0x10, 0, 0, 0]);
    h.rx(tun, &[]);
    assert_eq!(h.drops(DropReason::UnhandledProto), 3);
    // IPv6 has no handler (rx_nohandler); the others the device refuses (rx_dropped).
    let stats = h.s.dev(tun).unwrap().stats;
    assert_eq!((stats.rx_nohandler, stats.rx_dropped), (1, 2));
    assert!(h.tx().is_empty());
}

#[test]
fn a_udp_gso_packet_from_a_tun_device_reaches_the_socket_in_segments() {
    let (mut h, tun) = tun_host();
    let fd = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    h.s.bind(fd, SockAddr::Inet(SocketAddrV4::new(TUN_ME, 9)))
        .unwrap();
    let data: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
    let pkt = packet(&Ip::udp(TUN_PEER, TUN_ME, 9, &data));
    let hdr = VirtioNetHdrRepr {
        needs_csum: false,
        data_valid: true,
        gso_type: VirtioGsoType::UdpL4,
        ecn: false,
        hdr_len: 28,
        gso_size: 1000,
        csum_start: 0,
        csum_offset: 0,
        num_buffers: None,
    };
    h.rx_vnet(tun, hdr, &pkt);
    let mut buf = [0u8; 2000];
    for chunk in data.chunks(1000) {
        let (n, from) = h.s.recv_from(fd, &mut buf, 0).unwrap();
        assert_eq!(from, SocketAddrV4::new(TUN_PEER, 4444));
        assert_eq!(&buf[..n], chunk);
    }
    // The Ethernet device of the same stack still resolves and frames as before.
    h.rx(h.eth0, &Ip::echo(PEER, common::ME).frame());
    assert_eq!(h.tx()[0].1[12..14], [0x08, 0x00]);
}
