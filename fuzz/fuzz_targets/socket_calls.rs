//! The socket API with arbitrary arguments: sequences of socket(), bind(), connect(),
//! sendmsg() (with control messages and flags), recvmsg(), setsockopt(), getsockopt(),
//! close() and timer runs on one stack whose traffic loops back. No panic, and every
//! socket's memory stays within the largest receive buffer plus one datagram.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_core::socket::*;
use skiff_core::time::Instant;
use skiff_core::{Stack, StackConfig};
use skiff_wire::Ipv4Addr;
use std::net::SocketAddrV4;

const ADDRS: [Ipv4Addr; 6] = [
    Ipv4Addr::new(10, 0, 0, 1),
    Ipv4Addr::new(127, 0, 0, 1),
    Ipv4Addr::UNSPECIFIED,
    Ipv4Addr::new(127, 255, 255, 255),
    Ipv4Addr::new(224, 0, 0, 1),
    Ipv4Addr::new(10, 9, 9, 9),
];

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn i32(&mut self) -> i32 {
        i32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn addr(&mut self) -> SockAddr {
        match self.u8() % 8 {
            6 => SockAddr::Unspec,
            7 => SockAddr::Other(10),
            i => SockAddr::Inet(SocketAddrV4::new(ADDRS[usize::from(i)], self.u16() % 16)),
        }
    }
}

fn opt(i: &mut Input<'_>) -> SockOpt {
    let v = i.i32();
    match i.u8() % 24 {
        0 => SockOpt::Broadcast(v & 1 != 0),
        1 => SockOpt::ReuseAddr(v & 1 != 0),
        2 => SockOpt::ReusePort(v & 1 != 0),
        3 => SockOpt::RcvBuf(v),
        4 => SockOpt::SndBuf(v),
        5 => SockOpt::NoCheck(v & 1 != 0),
        6 => SockOpt::PeekOff(v),
        7 => SockOpt::Ttl(v),
        8 => SockOpt::Tos(v),
        9 => SockOpt::MtuDiscover(v),
        10 => SockOpt::RecvErr(v & 1 != 0),
        11 => SockOpt::PktInfo(v & 1 != 0),
        12 => SockOpt::RecvTtl(v & 1 != 0),
        13 => SockOpt::HdrIncl(v & 1 != 0),
        14 => SockOpt::Options(v.to_be_bytes().to_vec()),
        15 => SockOpt::MulticastTtl(v),
        16 => SockOpt::AddMembership(IpMreqn {
            multiaddr: Ipv4Addr::new(224, 1, 1, (v & 3) as u8),
            address: Ipv4Addr::UNSPECIFIED,
            ifindex: (v >> 8 & 3) as u32,
        }),
        17 => SockOpt::DropMembership(IpMreqn {
            multiaddr: Ipv4Addr::new(224, 1, 1, (v & 3) as u8),
            address: Ipv4Addr::UNSPECIFIED,
            ifindex: (v >> 8 & 3) as u32,
        }),
        18 => SockOpt::UdpCork(v & 1 != 0),
        19 => SockOpt::UdpSegment(v),
        20 => SockOpt::UdpLiteSendCscov(v),
        21 => SockOpt::UdpLiteRecvCscov(v),
        22 => SockOpt::IcmpFilter(v as u32),
        _ => SockOpt::MulticastIf {
            ifindex: (v & 3) as u32,
            addr: Ipv4Addr::UNSPECIFIED,
        },
    }
}

fn cmsg(i: &mut Input<'_>) -> SendCmsg {
    let v = i.i32();
    match i.u8() % 8 {
        0 => SendCmsg::PktInfo {
            ifindex: (v & 3) as u32,
            spec_dst: ADDRS[(v as usize >> 4) % ADDRS.len()],
        },
        1 => SendCmsg::Ttl(v),
        2 => SendCmsg::Tos(v),
        3 => SendCmsg::RetOpts(v.to_be_bytes().to_vec()),
        4 => SendCmsg::Mark(v as u32),
        5 => SendCmsg::Priority(v as u32),
        6 => SendCmsg::UdpSegment(v as u16),
        _ => SendCmsg::Raw {
            level: v & 0x1f,
            kind: v >> 8 & 0x7f,
            data: v.to_ne_bytes()[..usize::from(i.u8() % 5)].to_vec(),
        },
    }
}

/// Twice the default `rmem_max`: the largest SO_RCVBUF.
const MAX_RCVBUF: usize = 2 * 212_992;

const NAMES: [SockOptName; 12] = [
    SockOptName::Error,
    SockOptName::Mtu,
    SockOptName::RcvBuf,
    SockOptName::SndBuf,
    SockOptName::Ttl,
    SockOptName::PeekOff,
    SockOptName::UdpSegment,
    SockOptName::IcmpFilter,
    SockOptName::Protocol,
    SockOptName::RcvTimeo,
    SockOptName::MtuDiscover,
    SockOptName::HdrIncl,
];

fuzz_target!(|data: &[u8]| {
    let mut s = Stack::new(StackConfig {
        cap_net_raw: data.first().is_some_and(|b| b & 1 != 0),
        ..StackConfig::default()
    });
    s.set_mtu(1, 1500).unwrap();
    s.add_addr(1, Ipv4Addr::new(10, 0, 0, 1), 32).unwrap();
    let mut now = Instant::from_secs(1);
    let mut fds: Vec<SockFd> = Vec::new();
    let mut input = Input(data);
    let mut payload = vec![0u8; 66000];
    for (k, b) in payload.iter_mut().enumerate() {
        *b = k as u8;
    }
    let mut buf = vec![0u8; 70000];
    while !input.0.is_empty() {
        let op = input.u8();
        let fd = fds
            .get(usize::from(input.u8()) % fds.len().max(1))
            .copied()
            .unwrap_or(SockFd::default());
        match op % 9 {
            0 => {
                let (f, t, p) = match input.u8() % 4 {
                    0 => (AF_INET, SOCK_DGRAM, 0),
                    1 => (AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE),
                    2 => (AF_INET, SOCK_RAW, i32::from(input.u8())),
                    _ => (i32::from(input.u8()) - 8, input.i32(), input.i32()),
                };
                if let Ok(fd) = s.socket(f, t, p) {
                    fds.push(fd);
                }
            }
            1 => {
                let a = input.addr();
                let _ = s.bind(fd, a);
            }
            2 => {
                let a = input.addr();
                let _ = s.connect(fd, a);
            }
            3 => {
                let len = usize::from(input.u16()) % payload.len();
                let flags = u32::from(input.u8()) & (MSG_OOB | MSG_PROBE | MSG_DONTROUTE)
                    | if input.u8() & 1 != 0 { MSG_MORE } else { 0 };
                let addr = (input.u8() & 1 != 0).then(|| input.addr());
                let cmsgs: Vec<SendCmsg> = (0..input.u8() % 3).map(|_| cmsg(&mut input)).collect();
                let msg = SendMsg {
                    data: &payload[..len],
                    addr,
                    cmsgs: &cmsgs,
                    flags,
                };
                if let Ok(n) = s.sendmsg(now, fd, &msg) {
                    assert_eq!(n, len);
                }
            }
            4 => {
                let len = usize::from(input.u16()) % buf.len();
                let flags = u32::from(input.u8()) & (MSG_PEEK | MSG_TRUNC | MSG_ERRQUEUE | MSG_OOB);
                if let Ok(m) = s.recvmsg(fd, &mut buf[..len], flags) {
                    assert!(m.len <= 65535);
                    assert!(flags & MSG_TRUNC != 0 || m.len <= len);
                }
            }
            5 => {
                let o = opt(&mut input);
                let _ = s.setsockopt(fd, o);
            }
            6 => {
                let name = NAMES[usize::from(input.u8()) % NAMES.len()];
                let _ = s.getsockopt(fd, name);
            }
            7 => {
                if s.close(fd).is_ok() {
                    fds.retain(|&f| f != fd);
                }
            }
            _ => {
                now = now.saturating_add(core::time::Duration::from_millis(u64::from(input.u16()) * 10));
                s.handle_timeout(now);
            }
        }
        while let Some((_, skb)) = s.poll_transmit() {
            s.recycle(skb);
        }
        for &fd in &fds {
            let (rmem, wmem) = s.sock_mem(fd).unwrap();
            // SO_RCVBUF may shrink under queued data (as in Linux), so the bound is the
            // largest buffer a socket can have plus one datagram.
            assert!(rmem <= MAX_RCVBUF + (64 << 10) + 1024, "rcvbuf plus one datagram");
            assert_eq!(wmem, 0, "lo keeps nothing in a device queue");
        }
    }
});
