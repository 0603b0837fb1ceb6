//! The socket API with arbitrary arguments: sequences of socket(), bind(), connect(),
//! sendmsg() (with control messages and flags), recvmsg(), setsockopt() (the multicast
//! memberships and source filters too), getsockopt() (IP_MSFILTER / MCAST_MSFILTER too),
//! close(), IGMP queries and reports arriving on eth0, eth0 going down and up, IGMP
//! sysctls, and timer runs, on one stack per input whose own traffic loops back; and
//! the multicast routing API on a raw IGMP socket (MRT_* with fuzzed `vifctl` /
//! `mfcctl` bytes and lengths, getsockopt, SIOCGETVIFCNT / SIOCGETSGCNT) with multicast
//! UDP arriving on eth0 / eth1 and IPIP from fuzzed sources (tunnel vifs). No panic, every socket's memory stays within the largest receive buffer plus one
//! datagram, and a filter read copies no more sources than asked for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_core::ipv4::mroute::*;
use skiff_core::socket::*;
use skiff_core::time::Instant;
use skiff_core::{Stack, StackConfig};
use skiff_wire::Ipv4Addr;
use skiff_wire::checksum::{csum_fold, csum_partial};
use skiff_wire::ethernet::EthernetAddress;
use skiff_wire::ipv4::Ipv4Packet;
use std::net::SocketAddrV4;

const MAC0: [u8; 6] = [2, 0, 0, 0, 0, 1];
/// eth0's address; lo has 10.0.0.1.
const ETH0_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
const MAC1: [u8; 6] = [2, 0, 0, 0, 0, 2];
/// eth1's address (a second vif device to forward to).
const ETH1_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 1);

/// Groups to join: link-local ones (224.0.0.1 is never reported), two ordinary groups,
/// and one that is no group at all.
const GROUPS: [Ipv4Addr; 8] = [
    Ipv4Addr::new(224, 1, 1, 0),
    Ipv4Addr::new(224, 1, 1, 1),
    Ipv4Addr::new(239, 1, 2, 3),
    Ipv4Addr::new(232, 1, 1, 1),
    Ipv4Addr::new(224, 0, 0, 1),
    Ipv4Addr::new(224, 0, 0, 251),
    Ipv4Addr::new(10, 0, 1, 1),
    Ipv4Addr::UNSPECIFIED,
];
/// Sources and senders of IGMP messages.
const SOURCES: [Ipv4Addr; 4] = [
    Ipv4Addr::new(10, 0, 1, 2),
    Ipv4Addr::new(10, 0, 1, 3),
    Ipv4Addr::new(192, 0, 2, 1),
    Ipv4Addr::UNSPECIFIED,
];
/// Interfaces by address for the multicast options.
const IFADDRS: [Ipv4Addr; 4] = [
    Ipv4Addr::UNSPECIFIED,
    ETH0_ADDR,
    Ipv4Addr::new(10, 0, 0, 1),
    Ipv4Addr::new(10, 9, 9, 9),
];

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
    fn group(&mut self) -> Ipv4Addr {
        GROUPS[usize::from(self.u8()) % GROUPS.len()]
    }
    fn source(&mut self) -> Ipv4Addr {
        SOURCES[usize::from(self.u8()) % SOURCES.len()]
    }
    fn ifaddr(&mut self) -> Ipv4Addr {
        IFADDRS[usize::from(self.u8()) % IFADDRS.len()]
    }
    fn ifindex(&mut self) -> u32 {
        u32::from(self.u8() % 4)
    }
    fn mreq_source(&mut self) -> IpMreqSource {
        IpMreqSource {
            multiaddr: self.group(),
            interface: self.ifaddr(),
            sourceaddr: self.source(),
        }
    }
    fn group_source(&mut self) -> GroupSourceReq {
        GroupSourceReq {
            ifindex: self.ifindex(),
            group: self.group(),
            source: self.source(),
        }
    }
    fn addr(&mut self) -> SockAddr {
        match self.u8() % 8 {
            6 => SockAddr::Unspec,
            7 => SockAddr::Other(10),
            i => SockAddr::Inet(SocketAddrV4::new(ADDRS[usize::from(i)], self.u16() % 16)),
        }
    }
}

/// The multicast options, on fuzzed groups, interfaces and sources.
fn mcast_opt(i: &mut Input<'_>) -> SockOpt {
    let mreqn = |i: &mut Input<'_>| IpMreqn {
        multiaddr: i.group(),
        address: i.ifaddr(),
        ifindex: i.ifindex(),
    };
    match i.u8() % 15 {
        0 => SockOpt::AddMembership(mreqn(i)),
        1 => SockOpt::DropMembership(mreqn(i)),
        2 => SockOpt::AddSourceMembership(i.mreq_source()),
        3 => SockOpt::DropSourceMembership(i.mreq_source()),
        4 => SockOpt::BlockSource(i.mreq_source()),
        5 => SockOpt::UnblockSource(i.mreq_source()),
        6 => SockOpt::McastJoinGroup {
            ifindex: i.ifindex(),
            group: i.group(),
        },
        7 => SockOpt::McastLeaveGroup {
            ifindex: i.ifindex(),
            group: i.group(),
        },
        8 => SockOpt::McastJoinSourceGroup(i.group_source()),
        9 => SockOpt::McastLeaveSourceGroup(i.group_source()),
        10 => SockOpt::McastBlockSource(i.group_source()),
        11 => SockOpt::McastUnblockSource(i.group_source()),
        12 => SockOpt::MulticastAll(i.u8() & 1 != 0),
        _ => {
            let multiaddr = i.group();
            let interface = i.ifaddr();
            let fmode = if i.u8() & 1 != 0 {
                SfMode::Exclude
            } else {
                SfMode::Include
            };
            // Past igmp_max_msf (10) too.
            let n = usize::from(i.u8() % 14);
            let sources = (0..n)
                .map(|k| match i.u8() {
                    b @ 0..=3 => SOURCES[usize::from(b)],
                    b => Ipv4Addr::new(10, 0, 2, b.wrapping_add(k as u8)),
                })
                .collect();
            SockOpt::MsFilter(IpMsfilter {
                multiaddr,
                interface,
                fmode,
                sources,
            })
        }
    }
}

fn opt(i: &mut Input<'_>) -> SockOpt {
    let v = i.i32();
    match i.u8() % 25 {
        24 => mcast_opt(i),
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

/// An IGMP message from the input arriving on eth0: `[kind][src][dst][len][bytes]`. The
/// kind byte picks the IGMP type (query, v1/v2/v3 report, leave, or the fuzzed one),
/// whether the checksum is fixed and whether the IP header carries Router Alert.
fn igmp_frame(i: &mut Input<'_>) -> Vec<u8> {
    let kind = i.u8();
    let src = i.source();
    let dst = match i.u8() % 4 {
        0 => Ipv4Addr::new(224, 0, 0, 1),
        1 => ETH0_ADDR,
        _ => i.group(),
    };
    let len = usize::from(i.u8() % 64);
    let mut igmp: Vec<u8> = (0..len).map(|_| i.u8()).collect();
    if let Some(t) = igmp.first_mut() {
        *t = match kind % 8 {
            0..=2 => 0x11,
            3 => 0x12,
            4 => 0x16,
            5 => 0x17,
            6 => 0x22,
            _ => *t,
        };
    }
    if kind & 8 != 0 && igmp.len() >= 4 {
        igmp[2..4].fill(0);
        let c = !csum_fold(csum_partial(&igmp, 0));
        igmp[2..4].copy_from_slice(&c.to_be_bytes());
    }
    let ra = kind & 16 != 0;
    let hlen = if ra { 24 } else { 20 };
    let mut ip = vec![0u8; hlen];
    ip[0] = 0x40 | (hlen / 4) as u8;
    ip[2..4].copy_from_slice(&((hlen + igmp.len()) as u16).to_be_bytes());
    ip[8] = if kind & 32 != 0 { 1 } else { 64 };
    ip[9] = 2;
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    if ra {
        ip[20..24].copy_from_slice(&[0x94, 4, 0, 0]);
    }
    ip.extend_from_slice(&igmp);
    Ipv4Packet::new_unchecked(&mut ip[..]).fill_checksum();
    let d = dst.octets();
    let mac = if dst.is_multicast() {
        [0x01, 0, 0x5e, d[1] & 0x7f, d[2], d[3]]
    } else {
        MAC0
    };
    let mut frame = Vec::with_capacity(14 + ip.len());
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&[2, 0, 0, 0, 9, 9, 0x08, 0x00]);
    frame.extend_from_slice(&ip);
    frame.resize(frame.len().max(60), 0);
    frame
}

/// A filter read through getsockopt(IP_MSFILTER / MCAST_MSFILTER).
fn msfilter_get(s: &mut Stack, fd: SockFd, i: &mut Input<'_>) {
    let optlen = usize::from(i.u16() % 600);
    let numsrc = u32::from(i.u8() % 16);
    let (req, size0, each) = if i.u8() & 1 != 0 {
        let req = MsfilterGet::Ip {
            multiaddr: i.group(),
            interface: i.ifaddr(),
            numsrc,
        };
        (req, IP_MSFILTER_SIZE0, 4)
    } else {
        let req = MsfilterGet::Group {
            ifindex: i.ifindex(),
            family: if i.u8() & 1 != 0 { AF_INET } else { 10 },
            group: i.group(),
            numsrc,
        };
        (req, GROUP_FILTER_SIZE0, 128)
    };
    if let Ok(r) = s.getsockopt_msfilter(fd, optlen, req) {
        assert!(optlen >= size0);
        assert_eq!(r.sources.len(), r.numsrc.min(numsrc) as usize);
        assert_eq!(r.optlen, size0 + r.sources.len() * each);
        assert!(r.numsrc <= 10, "igmp_max_msf");
    }
}

/// Addresses for a vif's local end and a tunnel's remote end / an IPIP outer source: the
/// stack's own, its senders, none, and one chosen by the input.
fn mr_addr(i: &mut Input<'_>) -> Ipv4Addr {
    match i.u8() % 8 {
        0 => ETH0_ADDR,
        1 => ETH1_ADDR,
        2 => Ipv4Addr::new(10, 0, 0, 1),
        3 => Ipv4Addr::UNSPECIFIED,
        4 => SOURCES[0],
        5 => SOURCES[2],
        6 => Ipv4Addr::new(224, 1, 1, 1),
        _ => Ipv4Addr::new(i.u8(), i.u8(), i.u8(), i.u8()),
    }
}

/// A `struct vifctl`'s bytes: physical (by address or VIFF_USE_IFINDEX), tunnel, other
/// flags; mostly the right length, sometimes not.
fn vifctl(i: &mut Input<'_>) -> Vec<u8> {
    let vifi = u16::from(i.u8() % 36);
    let flags = match i.u8() % 8 {
        0 | 1 => VIFF_USE_IFINDEX,
        2 | 3 => VIFF_TUNNEL,
        4 => 0,
        5 => VIFF_TUNNEL | VIFF_USE_IFINDEX,
        6 => VIFF_REGISTER,
        _ => i.u8(),
    };
    let lcl = if flags & VIFF_USE_IFINDEX != 0 {
        (i32::from(i.u8() % 8) - 1).to_ne_bytes()
    } else {
        mr_addr(i).octets()
    };
    let v = VifCtl {
        vifi,
        flags,
        threshold: i.u8(),
        rate_limit: u32::from(i.u8()),
        lcl,
        rmt_addr: mr_addr(i),
    };
    let mut b = v.to_bytes().to_vec();
    if i.u8().is_multiple_of(16) {
        b.resize(usize::from(i.u8() % 24), 0);
    }
    b
}

/// A `struct mfcctl`'s bytes: (S,G), (*,G) or (*,*) on a fuzzed parent with a few
/// output vifs; mostly the right length, sometimes not.
fn mfcctl(i: &mut Input<'_>) -> Vec<u8> {
    let origin = match i.u8() % 4 {
        0 => Ipv4Addr::UNSPECIFIED,
        _ => i.source(),
    };
    let mcastgrp = match i.u8() % 8 {
        0 => Ipv4Addr::UNSPECIFIED,
        _ => i.group(),
    };
    let parent = match i.u8() {
        b @ 0..=239 => u16::from(b % 36),
        _ => i.u16(),
    };
    let oifs: Vec<(usize, u8)> = (0..i.u8() % 5)
        .map(|_| (usize::from(i.u8() % 34), i.u8()))
        .collect();
    let mut m = MfcCtl::new(origin, mcastgrp, parent, &oifs);
    m.expire = i32::from(i.u8());
    let mut b = m.to_bytes().to_vec();
    if i.u8().is_multiple_of(16) {
        b.resize(usize::from(i.u8() % 72), 0);
    }
    b
}

/// A UDP datagram (fuzzed TTL, TOS, DF and length) from `src` to `dst`, as an IP packet.
fn udp_packet(i: &mut Input<'_>, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let ttl = match i.u8() % 4 {
        0 => 1,
        1 => 64,
        _ => i.u8(),
    };
    let tos = i.u8();
    let df = i.u8() & 1 != 0;
    let len = usize::from(i.u16() % 1600);
    let mut ip = vec![0u8; 28 + len];
    ip[0] = 0x45;
    ip[1] = tos;
    ip[2..4].copy_from_slice(&((28 + len) as u16).to_be_bytes());
    ip[4..6].copy_from_slice(&i.u16().to_be_bytes());
    if df {
        ip[6] = 0x40;
    }
    ip[8] = ttl;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    ip[20..22].copy_from_slice(&5000u16.to_be_bytes());
    ip[22..24].copy_from_slice(&u16::from(i.u8() % 16).to_be_bytes());
    ip[24..26].copy_from_slice(&((8 + len) as u16).to_be_bytes());
    for (k, b) in ip[28..].iter_mut().enumerate() {
        *b = k as u8;
    }
    Ipv4Packet::new_unchecked(&mut ip[..]).fill_checksum();
    ip
}

/// An Ethernet frame carrying `ip` to `dst`'s MAC (its multicast one, or `mac`).
fn eth_frame(ip: &[u8], dst: Ipv4Addr, mac: [u8; 6]) -> Vec<u8> {
    let d = dst.octets();
    let dmac = if dst.is_multicast() {
        [0x01, 0, 0x5e, d[1] & 0x7f, d[2], d[3]]
    } else {
        mac
    };
    let mut frame = Vec::with_capacity(14 + ip.len());
    frame.extend_from_slice(&dmac);
    frame.extend_from_slice(&[2, 0, 0, 0, 9, 9, 0x08, 0x00]);
    frame.extend_from_slice(ip);
    frame.resize(frame.len().max(60), 0);
    frame
}

/// The multicast routing ops on the socket `fd` (an mroute socket when the input opened
/// one and picked it); returns a frame to receive on eth0 (false) or eth1 (true).
fn mroute_op(
    s: &mut Stack,
    cap: bool,
    fd: SockFd,
    fds: &mut Vec<SockFd>,
    i: &mut Input<'_>,
) -> Option<(bool, Vec<u8>)> {
    match i.u8() % 16 {
        0 => {
            // A routing daemon's socket: raw IGMP with the capability.
            s.set_cap_net_raw(true);
            if let Ok(fd) = s.raw_socket(2) {
                fds.push(fd);
            }
            s.set_cap_net_raw(cap);
        }
        1 | 2 => {
            let name = if i.u8() & 1 != 0 { MRT_INIT } else { MRT_DONE };
            let v = i32::from(i.u8()).to_ne_bytes();
            let len = if i.u8().is_multiple_of(8) { usize::from(i.u8() % 5) } else { 4 };
            let _ = s.ip_mroute_setsockopt(fd, name, &v[..len]);
        }
        3 | 4 => {
            let name = if i.u8() & 3 != 0 { MRT_ADD_VIF } else { MRT_DEL_VIF };
            let b = vifctl(i);
            let _ = s.ip_mroute_setsockopt(fd, name, &b);
        }
        5 | 6 => {
            let name = [MRT_ADD_MFC, MRT_DEL_MFC, MRT_ADD_MFC_PROXY, MRT_DEL_MFC_PROXY]
                [usize::from(i.u8() % 4)];
            let b = mfcctl(i);
            let _ = s.ip_mroute_setsockopt(fd, name, &b);
        }
        7 => {
            let flags = match i.u8() % 4 {
                0 => i.i32(),
                _ => i32::from(i.u8() & 15),
            };
            let _ = s.ip_mroute_setsockopt(fd, MRT_FLUSH, &flags.to_ne_bytes());
        }
        8 => {
            let v = i32::from(i.u8() % 3);
            let _ = s.ip_mroute_setsockopt(fd, MRT_ASSERT, &v.to_ne_bytes());
        }
        9 => {
            // Any number near the range, with any bytes.
            let name = MRT_BASE - 1 + i32::from(i.u8() % 16);
            let b: Vec<u8> = (0..i.u8() % 64).map(|_| i.u8()).collect();
            let _ = s.ip_mroute_setsockopt(fd, name, &b);
        }
        10 => {
            let name = MRT_BASE - 1 + i32::from(i.u8() % 16);
            if let Ok(v) = s.ip_mroute_getsockopt(fd, name) {
                assert!(matches!(name, MRT_VERSION | MRT_ASSERT), "{name}: {v}");
            }
        }
        11 => {
            let vifi = u16::from(i.u8() % 36);
            if let Ok(r) = s.ipmr_ioctl_getvifcnt(fd, vifi) {
                assert_eq!(r.vifi, vifi);
                assert!(usize::from(vifi) < MAXVIFS);
            }
        }
        12 => {
            let (src, grp) = (i.source(), i.group());
            if let Ok(r) = s.ipmr_ioctl_getsgcnt(fd, src, grp) {
                assert_eq!((r.src, r.grp), (src, grp));
            }
        }
        13 => {
            // The daemon reads its upcalls.
            for _ in 0..i.u8() % 4 {
                if s.raw_recv(fd).is_err() {
                    break;
                }
            }
        }
        14 => {
            // Multicast UDP arriving on a vif device.
            let on_eth1 = i.u8() & 1 != 0;
            let src = match i.u8() % 4 {
                0 => mr_addr(i),
                _ => i.source(),
            };
            let dst = i.group();
            let ip = udp_packet(i, src, dst);
            return Some((on_eth1, eth_frame(&ip, dst, if on_eth1 { MAC1 } else { MAC0 })));
        }
        _ => {
            // IPIP from a fuzzed outer source to the stack (a tunnel vif's far end when
            // the config made one), carrying multicast UDP or fuzzed bytes.
            let osrc = mr_addr(i);
            let odst = match i.u8() % 4 {
                0 | 1 => ETH0_ADDR,
                2 => mr_addr(i),
                _ => i.group(),
            };
            let otos = i.u8();
            let ottl = i.u8();
            let inner = if !i.u8().is_multiple_of(8) {
                let src = i.source();
                let dst = i.group();
                udp_packet(i, src, dst)
            } else {
                (0..i.u8() % 48).map(|_| i.u8()).collect()
            };
            let mut ip = vec![0u8; 20];
            ip[0] = 0x45;
            ip[1] = otos;
            ip[2..4].copy_from_slice(&((20 + inner.len()) as u16).to_be_bytes());
            ip[8] = ottl;
            ip[9] = 4;
            ip[12..16].copy_from_slice(&osrc.octets());
            ip[16..20].copy_from_slice(&odst.octets());
            ip.extend_from_slice(&inner);
            Ipv4Packet::new_unchecked(&mut ip[..]).fill_checksum();
            return Some((false, eth_frame(&ip, odst, MAC0)));
        }
    }
    None
}

fuzz_target!(|data: &[u8]| {
    let cap = data.first().is_some_and(|b| b & 1 != 0);
    let mut s = Stack::new(StackConfig {
        cap_net_raw: cap,
        ..StackConfig::default()
    });
    s.set_mtu(1, 1500).unwrap();
    s.add_addr(1, Ipv4Addr::new(10, 0, 0, 1), 32).unwrap();
    let eth0 = s.add_device("eth0", EthernetAddress(MAC0), 1500).unwrap();
    s.set_up(eth0, true).unwrap();
    s.add_addr(eth0, ETH0_ADDR, 24).unwrap();
    let eth1 = s.add_device("eth1", EthernetAddress(MAC1), 1400).unwrap();
    s.set_up(eth1, true).unwrap();
    s.add_addr(eth1, ETH1_ADDR, 24).unwrap();
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
        match op % 13 {
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
            8 => {
                now = now.saturating_add(core::time::Duration::from_millis(u64::from(input.u16()) * 10));
                s.handle_timeout(now);
            }
            9 => {
                let frame = igmp_frame(&mut input);
                let Some(mut skb) = s.alloc_skb(frame.len()) else { return };
                skb.put_slice(&frame).unwrap();
                s.netif_receive(now, eth0, skb);
            }
            10 => match input.u8() % 4 {
                0 => {
                    let up = s.dev(eth0).is_some_and(|d| d.up);
                    s.set_up(eth0, !up).unwrap();
                }
                1 => {
                    let v = (input.u8() % 4).to_string();
                    s.set_sysctl("force_igmp_version", &v).unwrap();
                }
                2 => {
                    let v = (input.u8() % 2).to_string();
                    s.set_sysctl("igmp_link_local_mcast_reports", &v).unwrap();
                }
                _ => msfilter_get(&mut s, fd, &mut input),
            },
            12 => {
                if let Some((on_eth1, frame)) = mroute_op(&mut s, cap, fd, &mut fds, &mut input) {
                    let dev = if on_eth1 { eth1 } else { eth0 };
                    let Some(mut skb) = s.alloc_skb(frame.len()) else { return };
                    skb.put_slice(&frame).unwrap();
                    s.netif_receive(now, dev, skb);
                }
            }
            _ => {
                // The next timer, so that the IGMP report timers fire when due.
                if let Some(t) = s.poll_timeout() {
                    now = now.max(t);
                }
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
