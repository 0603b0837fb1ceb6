//! The IPv4 case table of Linux's tools/testing/selftests/net/udpgso.c, as
//! docs/linux-semantics.md §1.2 records it re-run on 6.18: `lo` at MTU 1500 with 10.0.0.1/32, a sender with
//! IP_PMTUDISC_DO, a receiver on :9000. Each row runs with the segment size as a cmsg,
//! as a socket option, with MSG_MORE (one byte corked first) and connected.

use skiff_core::socket::*;
use skiff_core::time::Instant;
use skiff_core::{Stack, StackConfig};
use skiff_wire::Ipv4Addr;
use std::net::SocketAddrV4;

const ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PORT: u16 = 9000;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Cmsg,
    Setsockopt,
    MsgMore,
    Connected,
}

struct Env {
    s: Stack,
    tx: SockFd,
    rx: SockFd,
    mode: Mode,
}

fn env(mode: Mode) -> Env {
    let mut s = Stack::new(StackConfig::default());
    s.set_mtu(1, 1500).unwrap();
    s.add_addr(1, ADDR, 32).unwrap();
    let rx = s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    s.bind(rx, SocketAddrV4::new(ADDR, PORT).into()).unwrap();
    let tx = s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    s.setsockopt(tx, SockOpt::MtuDiscover(2)).unwrap();
    if mode == Mode::Connected {
        s.connect(tx, SocketAddrV4::new(ADDR, PORT).into()).unwrap();
        assert_eq!(s.getsockopt(tx, SockOptName::Mtu), Ok(1500));
    }
    Env { s, tx, rx, mode }
}

impl Env {
    /// Sends `tlen` bytes with segment size `gso` (0: none) the mode's way.
    fn send(&mut self, tlen: usize, gso: u16) -> Result<usize, SockError> {
        let data = vec![b'a'; tlen];
        let now = Instant::from_secs(1);
        let to = (self.mode != Mode::Connected).then_some(SocketAddrV4::new(ADDR, PORT).into());
        let cmsgs = [SendCmsg::UdpSegment(gso)];
        let cmsgs: &[SendCmsg] = match self.mode {
            Mode::Setsockopt => {
                self.s
                    .setsockopt(self.tx, SockOpt::UdpSegment(gso.into()))
                    .unwrap();
                &[]
            }
            _ if gso == 0 => &[],
            _ => &cmsgs,
        };
        if self.mode == Mode::MsgMore {
            let first = SendMsg {
                data: &data[..1],
                addr: to,
                cmsgs,
                flags: MSG_MORE,
            };
            assert_eq!(self.s.sendmsg(now, self.tx, &first), Ok(1));
            let rest = SendMsg {
                data: &data[1..],
                addr: to,
                cmsgs,
                flags: 0,
            };
            return self.s.sendmsg(now, self.tx, &rest).map(|n| n + 1);
        }
        let msg = SendMsg {
            data: &data,
            addr: to,
            cmsgs,
            flags: 0,
        };
        self.s.sendmsg(now, self.tx, &msg)
    }

    /// The sizes of every datagram the receiver has, then EAGAIN.
    fn received(&mut self) -> Vec<usize> {
        let mut buf = vec![0u8; 65536];
        let mut got = Vec::new();
        loop {
            match self.s.recvmsg(self.rx, &mut buf, MSG_DONTWAIT) {
                Ok(m) => {
                    assert!(buf[..m.len].iter().all(|&b| b == b'a'));
                    got.push(m.len);
                }
                Err(e) => {
                    assert_eq!(e, SockError::Again);
                    return got;
                }
            }
        }
    }
}

/// (tlen, gso_size, Ok(datagram sizes) or the errno).
fn cases() -> Vec<(usize, u16, Result<Vec<usize>, SockError>)> {
    let n = |count: usize, size: usize, last: usize| {
        let mut v = vec![size; count];
        if last > 0 {
            v.push(last);
        }
        Ok(v)
    };
    vec![
        (1, 0, n(1, 1, 0)),
        (1472, 0, n(1, 1472, 0)),
        (1473, 0, Err(SockError::MsgSize)),
        (1472, 1472, n(1, 1472, 0)),
        (1472, 1473, n(1, 1472, 0)),
        (1473, 1472, n(1, 1472, 1)),
        (2944, 1472, n(2, 1472, 0)),
        (2945, 1472, n(2, 1472, 1)),
        (64768, 1472, n(44, 1472, 0)),
        (65507, 1472, n(44, 1472, 739)),
        (65508, 1472, Err(SockError::MsgSize)),
        (1, 1, n(1, 1, 0)),
        (2, 1, n(2, 1, 0)),
        (5, 2, n(2, 2, 1)),
        (128, 1, n(128, 1, 0)),
        (129, 1, Err(SockError::Inval)),
        (1482, 1477, Err(SockError::MsgSize)),
        (3000, 1473, Err(SockError::MsgSize)),
    ]
}

fn run(mode: Mode) {
    for (tlen, gso, want) in cases() {
        let mut e = env(mode);
        let sent = e.send(tlen, gso);
        match &want {
            Ok(sizes) => {
                assert_eq!(sent, Ok(tlen), "{mode:?} tlen {tlen} gso {gso}");
                assert_eq!(&e.received(), sizes, "{mode:?} tlen {tlen} gso {gso}");
            }
            Err(errno) => {
                assert_eq!(sent, Err(*errno), "{mode:?} tlen {tlen} gso {gso}");
                // A failed send leaves nothing, not even a corked first byte.
                assert!(e.received().is_empty(), "{mode:?} tlen {tlen} gso {gso}");
            }
        }
    }
}

#[test]
fn udpgso_table_cmsg() {
    run(Mode::Cmsg);
}

#[test]
fn udpgso_table_setsockopt() {
    run(Mode::Setsockopt);
}

#[test]
fn udpgso_table_msg_more() {
    run(Mode::MsgMore);
}

#[test]
fn udpgso_table_connected() {
    run(Mode::Connected);
}

/// setsockopt(UDP_SEGMENT) takes 0..=65535; a cmsg must hold exactly a u16; SO_NO_CHECK
/// and GSO do not mix.
#[test]
fn udp_segment_argument_checks() {
    let mut e = env(Mode::Cmsg);
    assert_eq!(
        e.s.setsockopt(e.tx, SockOpt::UdpSegment(65536)),
        Err(SockError::Inval)
    );
    assert_eq!(
        e.s.setsockopt(e.tx, SockOpt::UdpSegment(-1)),
        Err(SockError::Inval)
    );
    e.s.setsockopt(e.tx, SockOpt::UdpSegment(65535)).unwrap();
    assert_eq!(e.s.getsockopt(e.tx, SockOptName::UdpSegment), Ok(65535));
    let to = Some(SocketAddrV4::new(ADDR, PORT).into());
    let now = Instant::from_secs(1);
    let four = [SendCmsg::Raw {
        level: 17,
        kind: 103,
        data: 1000u32.to_ne_bytes().to_vec(),
    }];
    let msg = SendMsg {
        data: &[0; 3000],
        addr: to,
        cmsgs: &four,
        flags: 0,
    };
    assert_eq!(e.s.sendmsg(now, e.tx, &msg), Err(SockError::Inval));
    let two = [SendCmsg::Raw {
        level: 17,
        kind: 103,
        data: 1000u16.to_ne_bytes().to_vec(),
    }];
    let msg = SendMsg {
        data: &[b'a'; 3000],
        addr: to,
        cmsgs: &two,
        flags: 0,
    };
    assert_eq!(e.s.sendmsg(now, e.tx, &msg), Ok(3000));
    assert_eq!(e.received(), vec![1000, 1000, 1000]);
    e.s.setsockopt(e.tx, SockOpt::NoCheck(true)).unwrap();
    assert_eq!(e.s.sendmsg(now, e.tx, &msg), Err(SockError::Inval));
    assert!(e.received().is_empty());
}
