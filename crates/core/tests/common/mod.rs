//! Frames in, frames out: helpers for whole-path tests of one stack.
#![allow(dead_code)]

use skiff_core::drop::DropReason;
use skiff_core::time::Instant;
use skiff_core::{Stack, StackConfig};
use skiff_wire::Ipv4Addr;
use skiff_wire::checksum::{csum_fold, csum_partial};
use skiff_wire::ethernet::{EtherType, EthernetAddress, EthernetFrame, EthernetRepr};
use skiff_wire::ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};

pub const MAC0: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
pub const MAC1: EthernetAddress = EthernetAddress([2, 0, 0, 0, 1, 1]);
pub const PEER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);
pub const PEER1_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 1, 2]);
pub const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const ME1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
pub const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const PEER1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
pub const FAR: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 99);

/// A stack with eth0 10.0.0.1/24 (peer 10.0.0.2 known statically) and, for a router,
/// eth1 10.0.1.1/24 (peer 10.0.1.2 static, 10.0.1.99 on-link but unknown) and ip_forward=1.
pub struct Host {
    pub s: Stack,
    pub eth0: u32,
    pub eth1: u32,
    pub now: Instant,
}

impl Host {
    pub fn new(router: bool) -> Host {
        let mut s = Stack::new(StackConfig {
            cap_net_raw: true,
            trace: true,
            ..StackConfig::default()
        });
        let eth0 = s.add_device("eth0", MAC0, 1500).unwrap();
        s.set_up(eth0, true).unwrap();
        s.add_addr(eth0, ME, 24).unwrap();
        s.add_neigh_static(eth0, PEER, PEER_MAC);
        let mut eth1 = 0;
        if router {
            eth1 = s.add_device("eth1", MAC1, 1400).unwrap();
            s.set_up(eth1, true).unwrap();
            s.add_addr(eth1, ME1, 24).unwrap();
            s.add_neigh_static(eth1, PEER1, PEER1_MAC);
            s.set_sysctl("ip_forward", "1").unwrap();
        }
        let mut h = Host {
            s,
            eth0,
            eth1,
            now: Instant::from_secs(10),
        };
        h.tx(); // gratuitous ARPs
        h
    }

    /// Delivers a frame on `dev`.
    pub fn rx(&mut self, dev: u32, frame: &[u8]) {
        let mut skb = self.s.alloc_skb(frame.len()).unwrap();
        skb.put_slice(frame).unwrap();
        self.s.netif_receive(self.now, dev, skb);
    }

    /// Delivers a frame with a virtio-net header on `dev`.
    pub fn rx_vnet(&mut self, dev: u32, hdr: skiff_wire::virtio::VirtioNetHdrRepr, frame: &[u8]) {
        let mut skb = self.s.alloc_skb(frame.len()).unwrap();
        skb.put_slice(frame).unwrap();
        self.s.netif_receive_vnet(self.now, dev, vec![(hdr, skb)]);
    }

    /// Everything the stack transmitted, as (ifindex, frame).
    pub fn tx(&mut self) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some((dev, skb)) = self.s.poll_transmit() {
            let mut frame = Vec::with_capacity(skb.len());
            skb.for_each_chunk(&mut |c| frame.extend_from_slice(c));
            out.push((dev, frame));
            self.s.recycle(skb);
        }
        out
    }

    pub fn advance(&mut self, d: core::time::Duration) {
        let target = self.now.saturating_add(d);
        while let Some(t) = self.s.poll_timeout().filter(|&t| t <= target) {
            self.now = self.now.max(t);
            self.s.handle_timeout(self.now);
        }
        self.now = target;
    }

    pub fn drops(&self, r: DropReason) -> u64 {
        self.s.drop_count(r)
    }

    pub fn mib(&self, name: &str) -> u64 {
        self.s
            .stats()
            .get(name)
            .unwrap_or_else(|| panic!("no counter {name}"))
    }
}

/// An IPv4 packet to build.
#[derive(Clone)]
pub struct Ip {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
    pub tos: u8,
    pub ident: u16,
    pub df: bool,
    pub mf: bool,
    pub frag_offset: u16,
    pub options: Vec<u8>,
    pub payload: Vec<u8>,
    pub eth_dst: EthernetAddress,
    pub eth_src: EthernetAddress,
}

impl Ip {
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, payload: Vec<u8>) -> Ip {
        Ip {
            src,
            dst,
            protocol,
            ttl: 64,
            tos: 0,
            ident: 0x4242,
            df: false,
            mf: false,
            frag_offset: 0,
            options: Vec::new(),
            payload,
            eth_dst: MAC0,
            eth_src: PEER_MAC,
        }
    }

    pub fn echo(src: Ipv4Addr, dst: Ipv4Addr) -> Ip {
        Ip::new(src, dst, 1, icmp(8, 0, [0x12, 0x34, 0, 1], &[0xab; 32]))
    }

    pub fn udp(src: Ipv4Addr, dst: Ipv4Addr, dport: u16, data: &[u8]) -> Ip {
        Ip::new(src, dst, 17, udp(src, dst, 4444, dport, data))
    }

    pub fn frame(&self) -> Vec<u8> {
        let ip = Ipv4Repr {
            src: self.src,
            dst: self.dst,
            protocol: IpProtocol::from(self.protocol),
            ttl: self.ttl,
            tos: self.tos,
            ident: self.ident,
            dont_frag: self.df,
            more_frags: self.mf,
            frag_offset: self.frag_offset,
            options: &self.options,
            payload_len: self.payload.len(),
        };
        let mut f = vec![0u8; 14 + ip.buffer_len()];
        EthernetRepr {
            src: self.eth_src,
            dst: self.eth_dst,
            vlan: None,
            ethertype: EtherType::Ipv4,
        }
        .emit(&mut f)
        .unwrap();
        ip.emit(&mut f[14..]).unwrap();
        let h = ip.header_len();
        f[14 + h..].copy_from_slice(&self.payload);
        f
    }
}

/// An ICMP message with a correct checksum.
pub fn icmp(t: u8, code: u8, rest: [u8; 4], data: &[u8]) -> Vec<u8> {
    let mut m = vec![t, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(data);
    let c = csum_fold(csum_partial(&m, 0));
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// A UDP datagram with a correct checksum.
pub fn udp(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut d = vec![0u8; 8 + data.len()];
    d[8..].copy_from_slice(data);
    skiff_wire::udp::UdpRepr {
        src_port: sport,
        dst_port: dport,
    }
    .emit(&mut d, src, dst, skiff_wire::TxChecksum::Full)
    .unwrap();
    d
}

/// A transmitted frame read back.
#[derive(Debug, Clone)]
pub struct Out {
    pub dev: u32,
    pub eth_dst: EthernetAddress,
    pub ethertype: u16,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    pub tos: u8,
    pub protocol: u8,
    pub ident: u16,
    pub df: bool,
    /// The IP packet.
    pub ip: Vec<u8>,
    /// The IP payload.
    pub payload: Vec<u8>,
}

impl Out {
    pub fn parse(dev: u32, frame: &[u8]) -> Out {
        let eth = EthernetFrame::new_checked(frame).unwrap();
        let ethertype = u16::from(eth.ethertype());
        let ip_bytes = eth.payload().to_vec();
        if ethertype != 0x0800 {
            return Out {
                dev,
                eth_dst: eth.dst(),
                ethertype,
                src: Ipv4Addr::UNSPECIFIED,
                dst: Ipv4Addr::UNSPECIFIED,
                ttl: 0,
                tos: 0,
                protocol: 0,
                ident: 0,
                df: false,
                ip: ip_bytes,
                payload: Vec::new(),
            };
        }
        let p = Ipv4Packet::new_checked(&ip_bytes[..]).unwrap();
        assert!(
            p.verify_checksum(),
            "every IPv4 header skiff sends has a valid checksum"
        );
        Out {
            dev,
            eth_dst: eth.dst(),
            ethertype,
            src: p.src(),
            dst: p.dst(),
            ttl: p.ttl(),
            tos: p.tos(),
            protocol: p.protocol().into(),
            ident: p.ident(),
            df: p.dont_frag(),
            payload: p.payload().to_vec(),
            ip: ip_bytes.clone(),
        }
    }

    /// (type, code) of an ICMP payload, after checking its checksum.
    pub fn icmp(&self) -> (u8, u8) {
        assert_eq!(self.protocol, 1);
        assert_eq!(
            csum_fold(csum_partial(&self.payload, 0)),
            0,
            "ICMP checksum"
        );
        (self.payload[0], self.payload[1])
    }
}

pub fn outs(frames: Vec<(u32, Vec<u8>)>) -> Vec<Out> {
    frames.into_iter().map(|(d, f)| Out::parse(d, &f)).collect()
}

/// The ICMP messages among `frames`, as (type, code, out).
pub fn icmps(frames: Vec<(u32, Vec<u8>)>) -> Vec<(u8, u8, Out)> {
    outs(frames)
        .into_iter()
        .filter(|o| o.ethertype == 0x0800 && o.protocol == 1)
        .map(|o| {
            let (t, c) = o.icmp();
            (t, c, o)
        })
        .collect()
}
