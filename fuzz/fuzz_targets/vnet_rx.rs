//! Frames with untrusted virtio-net headers into `Stack::netif_receive_vnet` of a router
//! whose devices have fuzzed offload features (GRO, fraglist GRO, checksum, TSO, USO,
//! UFO), with UDP sockets with and without UDP_GRO. No panic; every frame that leaves,
//! once a device without offloads has finished it, fits its MTU with a valid IP header
//! checksum; socket memory stays bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_core::netdev::NetdevFeatures;
use skiff_core::socket::{AF_INET, SOCK_DGRAM, SockFd, SockOpt};
use skiff_core::time::Instant;
use skiff_core::{Stack, StackConfig};
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::EthernetAddress;
use skiff_wire::ipv4::Ipv4Packet;
use skiff_wire::virtio::{HdrSize, VirtioNetHdr, VirtioNetHdrRepr};
use std::net::SocketAddrV4;

const MAC0: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC1: [u8; 6] = [2, 0, 0, 0, 1, 1];
const MTU: [u32; 2] = [1500, 1280];

/// The offload features a byte selects.
fn features(b: u8) -> NetdevFeatures {
    let all = [
        NetdevFeatures::GRO,
        NetdevFeatures::GRO_FRAGLIST,
        NetdevFeatures::GRO_UDP_FWD,
        NetdevFeatures::HW_CSUM,
        NetdevFeatures::TSO,
        NetdevFeatures::GSO_UDP_L4,
        NetdevFeatures::UFO,
    ];
    all.iter()
        .enumerate()
        .filter(|(i, _)| b & (1 << i) != 0)
        .fold(NetdevFeatures::SG, |f, (_, x)| f.union(*x))
}

fn stack(f0: u8, f1: u8) -> (Stack, [u32; 2], Vec<SockFd>) {
    let mut s = Stack::new(StackConfig::default());
    let a = s.add_device("eth0", EthernetAddress(MAC0), MTU[0]).unwrap();
    let b = s.add_device("eth1", EthernetAddress(MAC1), MTU[1]).unwrap();
    for (dev, addr, f) in [(a, [10, 0, 0, 1], f0), (b, [10, 0, 1, 1], f1)] {
        s.set_up(dev, true).unwrap();
        s.add_addr(dev, addr.into(), 24).unwrap();
        s.set_features(dev, features(f)).unwrap();
    }
    s.add_neigh_static(b, Ipv4Addr::new(10, 0, 1, 2), EthernetAddress([2, 0, 0, 0, 1, 2]));
    s.add_neigh_static(a, Ipv4Addr::new(10, 0, 0, 2), EthernetAddress([2, 0, 0, 0, 0, 2]));
    s.set_sysctl("ip_forward", "1").unwrap();
    let mut socks = Vec::new();
    for (port, gro) in [(53u16, true), (54, false)] {
        let fd = s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
        s.setsockopt(fd, SockOpt::UdpGro(gro)).unwrap();
        s.bind(fd, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port).into())
            .unwrap();
        socks.push(fd);
    }
    (s, [a, b], socks)
}

// Input: two feature bytes, then records [op][len_hi][len_lo][10-byte vnet header]
// [frame]. op bit 0: device; bit 1: hold for a batch with the next record; bit 2: make
// the frame ours (our MAC, IPv4); bit 3: fix the IPv4 total length and header checksum;
// bit 4: read the sockets first.
fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (mut s, devs, socks) = stack(data[0], data[1]);
    let now = Instant::from_secs(1);
    let mut rest = &data[2..];
    let mut batch: Vec<(VirtioNetHdrRepr, skiff_core::skb::SkBuff)> = Vec::new();
    while rest.len() >= 13 {
        let op = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]])).min(rest.len() - 13);
        let hdr_bytes = &rest[3..13];
        let mut frame = rest[13..13 + len].to_vec();
        rest = &rest[13 + len..];
        let dev = devs[usize::from(op & 1)];
        if op & 16 != 0 {
            let mut buf = vec![0u8; 65536];
            for &fd in &socks {
                while s.recvmsg(fd, &mut buf, 0).is_ok() {}
            }
        }
        if op & 4 != 0 && frame.len() >= 14 {
            frame[..6].copy_from_slice(if op & 1 == 0 { &MAC0 } else { &MAC1 });
            frame[12..14].copy_from_slice(&[0x08, 0x00]);
        }
        if op & 8 != 0 && frame.len() >= 34 {
            let tot = (frame.len() - 14).min(65535) as u16;
            let mut ip = Ipv4Packet::new_unchecked(&mut frame[14..]);
            ip.set_total_len(tot);
            if ip.check_header_len().is_ok() {
                ip.fill_checksum();
            }
        }
        let Ok(hdr) = VirtioNetHdr::new_checked(hdr_bytes, HdrSize::V10)
            .and_then(|h| VirtioNetHdrRepr::parse(&h))
        else {
            continue;
        };
        let Some(mut skb) = s.alloc_skb(frame.len()) else { return };
        skb.put_slice(&frame).unwrap();
        batch.push((hdr, skb));
        if op & 2 == 0 || batch.len() >= 64 {
            s.netif_receive_vnet(now, dev, core::mem::take(&mut batch));
        }
        drain(&mut s, &devs);
        for &fd in &socks {
            let (rmem, _) = s.sock_mem(fd).unwrap();
            let rcvbuf = s.sock_rcvbuf(fd).unwrap();
            assert!(rmem <= rcvbuf + (64 << 10) + 1024, "rcvbuf plus one datagram");
        }
    }
    if !batch.is_empty() {
        s.netif_receive_vnet(now, devs[0], batch);
        drain(&mut s, &devs);
    }
});

/// Everything transmitted, finished as a device without offloads would: each frame fits
/// its device's MTU and carries a valid IPv4 header checksum.
fn drain(s: &mut Stack, devs: &[u32; 2]) {
    let mut sent = 0;
    while let Some((dev, skb)) = s.poll_transmit() {
        let mtu = if dev == devs[0] { MTU[0] } else { MTU[1] } as usize;
        for seg in s.dev_hard_xmit_sw(skb) {
            sent += 1;
            let mut f = Vec::new();
            seg.for_each_chunk(&mut |c| f.extend_from_slice(c));
            assert!(f.len() <= mtu + 14, "{} > {}", f.len(), mtu + 14);
            if f.len() >= 34 && f[12..14] == [0x08, 0x00] {
                let ip = Ipv4Packet::new_unchecked(&f[14..]);
                assert!(ip.verify_checksum(), "IP header checksum");
            }
            s.recycle(seg);
        }
    }
    assert!(sent <= 65536, "one input never makes an unbounded burst");
}
