//! The whole receive path: arbitrary frames into `Stack::netif_receive` (and the batched
//! `netif_receive_list`) of a router with two devices, interleaved with timer runs. No
//! panic, and every table stays within its configured bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_core::socket::{AF_INET, IpMreqn, MSG_ERRQUEUE, SOCK_DGRAM, SockFd, SockOpt};
use skiff_core::time::Instant;
use std::net::SocketAddrV4;
use skiff_core::{Stack, StackConfig};
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::EthernetAddress;
use skiff_wire::ipv4::Ipv4Packet;

const MAC0: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC1: [u8; 6] = [2, 0, 0, 0, 1, 1];

fn stack() -> (Stack, [u32; 2], Vec<SockFd>) {
    let mut s = Stack::new(StackConfig::default());
    let a = s.add_device("eth0", EthernetAddress(MAC0), 1500).unwrap();
    let b = s.add_device("eth1", EthernetAddress(MAC1), 1400).unwrap();
    for (dev, addr) in [(a, Ipv4Addr::new(10, 0, 0, 1)), (b, Ipv4Addr::new(10, 0, 1, 1))] {
        s.set_up(dev, true).unwrap();
        s.add_addr(dev, addr, 24).unwrap();
    }
    s.set_sysctl("ip_forward", "1").unwrap();
    // Reach the source-route and broadcast-echo code too.
    s.set_sysctl("accept_source_route", "1").unwrap();
    s.set_sysctl("icmp_echo_ignore_broadcasts", "0").unwrap();
    s.nf.load_rules(
        "-A FORWARD -p udp --dport 9 -j DROP\n\
         -A INPUT -p icmp --icmp-type timestamp-request -j REJECT\n\
         -A POSTROUTING -o eth1 -s 10.0.0.0/24 -j SET-SADDR --to 10.0.1.1\n\
         -A PREROUTING -p udp --dport 53 -j MARK --set-mark 7\n",
    )
    .unwrap();
    // UDP sockets for the receive path: wildcard and bound, a SO_REUSEPORT group, a
    // connected one with IP_RECVERR, a small receive buffer, UDP-Lite, a multicast member.
    let mut socks = Vec::new();
    let mut udp = |s: &mut Stack, proto: i32, addr: [u8; 4], port: u16, opts: &[SockOpt]| {
        let fd = s.socket(AF_INET, SOCK_DGRAM, proto).unwrap();
        for o in opts {
            s.setsockopt(fd, o.clone()).unwrap();
        }
        s.bind(fd, SocketAddrV4::new(addr.into(), port).into()).unwrap();
        socks.push(fd);
        fd
    };
    udp(&mut s, 17, [0, 0, 0, 0], 53, &[SockOpt::ReuseAddr(true), SockOpt::PktInfo(true)]);
    udp(&mut s, 17, [10, 0, 0, 1], 53, &[SockOpt::ReuseAddr(true), SockOpt::RcvBuf(1)]);
    for _ in 0..2 {
        udp(&mut s, 17, [10, 0, 0, 1], 5353, &[SockOpt::ReusePort(true)]);
    }
    let c = udp(&mut s, 17, [10, 0, 0, 1], 4000, &[SockOpt::RecvErr(true)]);
    s.connect(c, SocketAddrV4::new([10, 0, 0, 2].into(), 7).into()).unwrap();
    udp(&mut s, 136, [0, 0, 0, 0], 53, &[SockOpt::UdpLiteRecvCscov(20)]);
    let m = udp(&mut s, 17, [0, 0, 0, 0], 5000, &[SockOpt::RecvErr(true)]);
    let join = IpMreqn {
        multiaddr: Ipv4Addr::new(224, 1, 1, 1),
        address: Ipv4Addr::UNSPECIFIED,
        ifindex: a,
    };
    s.setsockopt(m, SockOpt::AddMembership(join)).unwrap();
    (s, [a, b], socks)
}

// Records: [op][len_hi][len_lo][bytes...]. op bit 0: device; bit 1: timer instead of a
// frame; bit 2: make the frame ours (our MAC, IPv4 ethertype); bit 3: fix the IPv4
// header checksum; bit 4: deliver as a batch of two; bit 5: toggle the PRE_ROUTING
// defrag hook first; bit 6: read every socket's queues first.
fuzz_target!(|data: &[u8]| {
    let (mut s, devs, socks) = stack();
    let mut now = Instant::from_secs(1);
    let mut rest = data;
    while rest.len() >= 3 {
        let op = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        let bytes = &rest[3..3 + len];
        rest = &rest[3 + len..];
        if op & 32 != 0 {
            if s.nf.defrag_enabled() {
                s.nf.nf_defrag_ipv4_disable();
            } else {
                s.nf.nf_defrag_ipv4_enable().unwrap();
            }
        }
        if op & 64 != 0 {
            let mut buf = [0u8; 2048];
            for &fd in &socks {
                while s.recvmsg(fd, &mut buf, 0).is_ok() {}
                while s.recvmsg(fd, &mut buf, MSG_ERRQUEUE).is_ok() {}
            }
        }
        if op & 2 != 0 {
            now = now.saturating_add(core::time::Duration::from_millis(len as u64 * 37));
            s.handle_timeout(now);
        } else {
            let dev = devs[usize::from(op & 1)];
            let mut frame = bytes.to_vec();
            if op & 4 != 0 && frame.len() >= 14 {
                frame[..6].copy_from_slice(if dev == devs[0] { &MAC0 } else { &MAC1 });
                frame[12..14].copy_from_slice(&[0x08, 0x00]);
            }
            if op & 8 != 0 && frame.len() >= 34 {
                let mut ip = Ipv4Packet::new_unchecked(&mut frame[14..]);
                if ip.check_header_len().is_ok() {
                    ip.fill_checksum();
                }
            }
            let mut skbs = Vec::new();
            for _ in 0..if op & 16 != 0 { 2 } else { 1 } {
                let Some(mut skb) = s.alloc_skb(frame.len()) else { return };
                skb.put_slice(&frame).unwrap();
                skbs.push(skb);
            }
            if skbs.len() == 1 {
                s.netif_receive(now, dev, skbs.pop().unwrap());
            } else {
                s.netif_receive_list(now, dev, skbs);
            }
        }
        let mut sent = 0;
        while let Some((_, skb)) = s.poll_transmit() {
            sent += 1;
            s.recycle(skb);
        }
        assert!(sent <= 4096, "one input never makes an unbounded burst");
        assert!(s.neigh.len() <= s.neigh.parms().gc_thresh3);
        assert!(s.pool().free_len() <= 1024);
        assert!(s.fib.exceptions().len() <= skiff_core::route::exception::FNHE_MAX);
        assert!(s.ipfrags().mem() <= 4 << 20 | 64 << 10, "high_thresh plus one fragment");
        for &fd in &socks {
            let (rmem, _) = s.sock_mem(fd).unwrap();
            let rcvbuf = s.sock_rcvbuf(fd).unwrap();
            assert!(rmem <= rcvbuf + (64 << 10) + 1024, "rcvbuf plus one datagram");
        }
    }
    now = now.saturating_add(core::time::Duration::from_secs(120));
    s.handle_timeout(now);
});
