//! Network devices. Linux net/core/dev.c: `struct net_device`, features, `eth_type_trans`,
//! the `dev_add_pack` packet-type registry and the transmit queue of `dev_queue_xmit`.

use crate::skb::{PacketType, SkBuff};
use core::fmt;
use skiff_wire::ethernet::{EtherType, EthernetAddress, EthernetFrame};
use std::collections::VecDeque;

/// The loopback device's index, as in Linux (LOOPBACK_IFINDEX).
pub const LOOPBACK_IFINDEX: u32 = 1;

/// Headroom reserved in locally built packets: Ethernet plus slack (Linux
/// LL_RESERVED_SPACE).
pub const LL_RESERVED: usize = 32;

/// Linux `NETIF_F_*` device features (include/linux/netdev_features.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NetdevFeatures(pub u32);

impl NetdevFeatures {
    /// Scatter/gather: the device takes a `frag_list`.
    pub const SG: Self = Self(1 << 0);
    /// Checksums TCP/UDP over IPv4 only.
    pub const IP_CSUM: Self = Self(1 << 1);
    /// Checksums anything (`csum_start`/`csum_offset`).
    pub const HW_CSUM: Self = Self(1 << 2);
    /// Verifies checksums on receive.
    pub const RXCSUM: Self = Self(1 << 3);
    /// TCPv4 segmentation offload.
    pub const TSO: Self = Self(1 << 4);
    /// UDP fragmentation offload (`SKB_GSO_UDP`).
    pub const UFO: Self = Self(1 << 5);
    /// UDP segmentation offload (`SKB_GSO_UDP_L4`).
    pub const GSO_UDP_L4: Self = Self(1 << 6);
    /// Fraglist GSO.
    pub const GSO_FRAGLIST: Self = Self(1 << 7);
    /// Generic receive offload (software, per device poll).
    pub const GRO: Self = Self(1 << 8);
    /// Fraglist GRO of UDP for forwarding.
    pub const GRO_FRAGLIST: Self = Self(1 << 9);
    /// UDP GRO for forwarding without fraglist.
    pub const GRO_UDP_FWD: Self = Self(1 << 10);
    /// Loopback's set: everything is free in memory; no GRO (lo does not poll).
    pub const LOOPBACK: Self = Self(0xff);

    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// What kind of link a device has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevKind {
    /// `lo`: no link-layer header, no ARP, transmit loops back to receive.
    Loopback,
    /// Ethernet II with ARP.
    Ethernet,
    /// A TUN device (Linux `ARPHRD_NONE`, IFF_NOARP): bare IP packets, no link header,
    /// no neighbours.
    RawIp,
    /// An IPIP tunnel (Linux `ARPHRD_TUNNEL`, ipip.c): point-to-point, IFF_NOARP, no link
    /// header; transmit encapsulates (`ipv4/ipip.rs`).
    Ipip,
}

/// Linux `struct rtnl_link_stats64`, the counters `ip -s link` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DevStats {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    pub rx_nohandler: u64,
    pub rx_otherhost_dropped: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    /// A tunnel's "tunnel loop" drops (Linux ip_tunnel_xmit()).
    pub collisions: u64,
    /// A tunnel's RFC 6040 ECN decapsulation drops (Linux ip_tunnel_rcv()).
    pub rx_frame_errors: u64,
    /// A tunnel's inner packets shorter than an IPv4 header (Linux ip_tunnel_rcv()).
    pub rx_length_errors: u64,
    /// A tunnel's transmits without a route to the remote (Linux ip_tunnel_xmit()).
    pub tx_carrier_errors: u64,
}

/// Linux default `txqueuelen` of an Ethernet device.
pub const DEFAULT_TX_QUEUE_LEN: usize = 1000;
/// Loopback's MTU (Linux `LOOPBACK_MTU`, 64 KiB).
pub const LOOPBACK_MTU: u32 = 65536;
/// The Ethernet header skiff pushes (no VLAN on transmit).
pub const ETH_HLEN: usize = 14;

/// One device. Linux `struct net_device`.
#[derive(Debug)]
pub struct NetDevice {
    pub ifindex: u32,
    pub name: String,
    pub mtu: u32,
    pub mac: EthernetAddress,
    pub up: bool,
    pub kind: DevKind,
    pub features: NetdevFeatures,
    pub tx_queue_len: usize,
    pub(crate) tx_queue: VecDeque<SkBuff>,
    pub stats: DevStats,
}

impl NetDevice {
    pub fn new(ifindex: u32, name: &str, kind: DevKind, mac: EthernetAddress, mtu: u32) -> Self {
        let features = match kind {
            DevKind::Loopback => NetdevFeatures::LOOPBACK,
            // No transmit offloads: whoever reads poll_transmit() gets finished frames
            // unless it declares more (Stack::set_features).
            DevKind::Ethernet | DevKind::RawIp | DevKind::Ipip => NetdevFeatures::SG
                .union(NetdevFeatures::RXCSUM)
                .union(NetdevFeatures::GRO),
        };
        NetDevice {
            ifindex,
            name: name.to_string(),
            mtu,
            mac,
            up: false,
            kind,
            features,
            tx_queue_len: DEFAULT_TX_QUEUE_LEN,
            tx_queue: VecDeque::new(),
            stats: DevStats::default(),
        }
    }

    /// Bytes of link header in front of each packet: Linux `hard_header_len`.
    pub fn hard_header_len(&self) -> usize {
        match self.kind {
            DevKind::Ethernet => ETH_HLEN,
            DevKind::Loopback | DevKind::RawIp | DevKind::Ipip => 0,
        }
    }

    pub fn is_loopback(&self) -> bool {
        self.kind == DevKind::Loopback
    }

    /// Frames waiting in the transmit queue.
    pub fn tx_queued(&self) -> usize {
        self.tx_queue.len()
    }

    /// Classifies a received Ethernet frame, sets `pkt_type` and the MAC header, and pulls
    /// the link header so `data` starts at the payload. 802.1Q tags are skipped.
    /// Returns the payload's EtherType (`skb->protocol`). Linux net/ethernet/eth.c eth_type_trans().
    #[inline(always)]
    pub fn eth_type_trans(&self, skb: &mut SkBuff) -> Result<u16, EthError> {
        if matches!(self.kind, DevKind::RawIp | DevKind::Ipip) {
            return tun_type_trans(skb);
        }
        let data = skb.data();
        let (dst, ethertype, hlen) = match data.first_chunk::<ETH_HLEN>() {
            // An untagged frame (the common case): its 14 bytes are the whole header.
            Some(h) if u16::from_be_bytes([h[12], h[13]]) != u16::from(EtherType::Vlan) => {
                let frame = EthernetFrame::new_unchecked(h);
                (frame.dst(), u16::from_be_bytes([h[12], h[13]]), ETH_HLEN)
            }
            _ => {
                let frame = EthernetFrame::new_checked(data).map_err(|_| EthError::Truncated)?;
                (frame.dst(), frame.protocol(), frame.header_len())
            }
        };
        skb.reset_mac_header().map_err(|_| EthError::Truncated)?;
        skb.pkt_type = if dst == self.mac {
            PacketType::Host
        } else if dst == EthernetAddress::BROADCAST {
            PacketType::Broadcast
        } else if dst.is_multicast() {
            PacketType::Multicast
        } else {
            PacketType::OtherHost
        };
        skb.pull(hlen).map_err(|_| EthError::Truncated)?;
        Ok(ethertype)
    }
}

/// A packet from a TUN device: the protocol is its IP version (Linux tun_get_user()
/// without IFF_NO_PI's header: 4 is IPv4, 6 is IPv6).
fn tun_type_trans(skb: &mut SkBuff) -> Result<u16, EthError> {
    let version = skb.data().first().ok_or(EthError::Truncated)? >> 4;
    skb.reset_mac_header().map_err(|_| EthError::Truncated)?;
    skb.pkt_type = PacketType::Host;
    match version {
        4 => Ok(0x0800),
        6 => Ok(0x86dd),
        _ => Err(EthError::BadVersion),
    }
}

/// A frame the link layer could not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EthError {
    /// Shorter than its Ethernet (and VLAN) header.
    Truncated,
    /// A TUN packet that is neither IPv4 nor IPv6 (tun_get_user()'s EINVAL).
    BadVersion,
}

/// A protocol handler for an ethertype: Linux `struct packet_type` registered with
/// `dev_add_pack`. Built-in IPv4 and ARP handlers are closed variants; users add their own.
pub enum PacketHandler {
    /// `ip_rcv` / `ip_list_rcv`.
    Ipv4,
    /// `arp_rcv`.
    Arp,
    /// A user handler; it owns the frame (`data` at the payload, MAC header set).
    User(Box<dyn FnMut(u32, SkBuff) + Send>),
}

impl fmt::Debug for PacketHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PacketHandler::Ipv4 => f.write_str("ip_rcv"),
            PacketHandler::Arp => f.write_str("arp_rcv"),
            PacketHandler::User(_) => f.write_str("user"),
        }
    }
}

/// The packet-type registry (Linux `ptype_base`), searched by ethertype.
#[derive(Debug)]
pub struct PacketTypes {
    types: Vec<(u16, PacketHandler)>,
}

impl Default for PacketTypes {
    /// IPv4 and ARP, as `inet_init` and `arp_init` register them.
    fn default() -> Self {
        PacketTypes {
            types: vec![
                (u16::from(EtherType::Ipv4), PacketHandler::Ipv4),
                (u16::from(EtherType::Arp), PacketHandler::Arp),
            ],
        }
    }
}

impl PacketTypes {
    /// Linux dev_add_pack(): a later handler for the same ethertype replaces nothing; the
    /// first registered one wins, so built-ins cannot be shadowed.
    pub fn dev_add_pack(&mut self, ethertype: u16, handler: PacketHandler) {
        self.types.push((ethertype, handler));
    }

    /// The handler for `ethertype`, if any.
    pub fn find(&mut self, ethertype: u16) -> Option<&mut PacketHandler> {
        self.types
            .iter_mut()
            .find(|(t, _)| *t == ethertype)
            .map(|(_, h)| h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_wire::ethernet::EthernetRepr;

    fn frame(dst: EthernetAddress) -> SkBuff {
        let mut skb = SkBuff::new(0, 64).unwrap();
        skb.put(60).unwrap();
        EthernetRepr {
            src: EthernetAddress([2, 0, 0, 0, 0, 9]),
            dst,
            vlan: None,
            ethertype: EtherType::Ipv4,
        }
        .emit(skb.data_mut())
        .unwrap();
        skb
    }

    #[test]
    fn pkt_type_classification() {
        let me = EthernetAddress([2, 0, 0, 0, 0, 1]);
        let dev = NetDevice::new(2, "eth0", DevKind::Ethernet, me, 1500);
        for (dst, want) in [
            (me, PacketType::Host),
            (EthernetAddress::BROADCAST, PacketType::Broadcast),
            (
                EthernetAddress([0x01, 0, 0x5e, 0, 0, 1]),
                PacketType::Multicast,
            ),
            (EthernetAddress([2, 0, 0, 0, 0, 2]), PacketType::OtherHost),
        ] {
            let mut skb = frame(dst);
            assert_eq!(dev.eth_type_trans(&mut skb), Ok(0x0800));
            assert_eq!(skb.pkt_type, want);
            assert_eq!(skb.len(), 46);
            assert_eq!(skb.mac_offset(), Some(-14));
        }
        let mut short = SkBuff::new(0, 10).unwrap();
        short.put(10).unwrap();
        assert_eq!(dev.eth_type_trans(&mut short), Err(EthError::Truncated));
    }

    #[test]
    fn registry_finds_builtins_first() {
        let mut p = PacketTypes::default();
        assert!(matches!(p.find(0x0800), Some(PacketHandler::Ipv4)));
        assert!(matches!(p.find(0x0806), Some(PacketHandler::Arp)));
        assert!(p.find(0x88b5).is_none());
        p.dev_add_pack(0x88b5, PacketHandler::User(Box::new(|_, _| {})));
        assert!(matches!(p.find(0x88b5), Some(PacketHandler::User(_))));
    }
}
