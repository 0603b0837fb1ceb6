//! ARP for Ethernet and IPv4: receive processing, solicitations, replies and gratuitous
//! announcements. Linux net/ipv4/arp.c with its default sysctls: arp_ignore = 0,
//! arp_announce = 0, arp_accept = 0, arp_filter = 0, no proxy ARP, route_localnet = 0.

use super::table::{
    Key, NeighAction, NeighDev, NeighError, NeighParms, NeighTable, Neighbour, NextHopKind,
    NudState, UpdateFlags, neigh_lookup_or_insert,
};
use crate::skb::{PacketType, SkBuff, SkbError};
use crate::time::Instant;
use skiff_wire::Ipv4Addr;
use skiff_wire::arp::{ArpOperation, ArpPacket, ArpRepr, ETHERNET_IPV4_LEN};
use skiff_wire::ethernet::{EtherType, EthernetAddress, EthernetRepr, HEADER_LEN as ETH_HLEN};

/// Why arp_rcv() dropped a frame (Linux frees it with kfree_skb() where noted; the last two
/// are skiff hardening where Linux would go on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArpDrop {
    /// Shorter than an Ethernet/IPv4 ARP packet (arp_rcv() pskb_may_pull()).
    Truncated,
    /// Hardware address length not 6 or protocol address length not 4 (arp_rcv()).
    BadLength,
    /// Hardware type not Ethernet or protocol not IPv4 (arp_process()). Linux also accepts
    /// hardware type 6 (IEEE 802) on Ethernet; skiff does not.
    Unsupported,
    /// Opcode neither request nor reply (arp_process()).
    BadOpcode,
    /// Target address multicast or loopback (arp_process()).
    BadTarget,
    /// skiff: sender hardware address multicast or broadcast, or sender protocol address
    /// multicast or 255.255.255.255: never a neighbour to learn or answer.
    BadSender,
    /// skiff: the sender hardware address is the receiving device's own (a looped frame or
    /// a duplicate MAC).
    OwnSender,
}

impl core::fmt::Display for ArpDrop {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ArpDrop::Truncated => "ARP packet truncated",
            ArpDrop::BadLength => "ARP address lengths not 6/4",
            ArpDrop::Unsupported => "ARP hardware or protocol type not Ethernet/IPv4",
            ArpDrop::BadOpcode => "ARP opcode neither request nor reply",
            ArpDrop::BadTarget => "ARP target multicast or loopback",
            ArpDrop::BadSender => "ARP sender multicast or broadcast",
            ArpDrop::OwnSender => "ARP sender is our own MAC address",
        })
    }
}

impl std::error::Error for ArpDrop {}

/// Builds an Ethernet/IPv4 ARP frame; `dest_hw` `None` broadcasts, `target_hw` `None` is
/// all zeros. Linux arp_create().
fn arp_create(
    operation: ArpOperation,
    dest_ip: Ipv4Addr,
    src_ip: Ipv4Addr,
    dest_hw: Option<EthernetAddress>,
    src_hw: EthernetAddress,
    target_hw: Option<EthernetAddress>,
) -> Result<SkBuff, SkbError> {
    let arp = ArpRepr::EthernetIpv4 {
        operation,
        source_hardware_addr: src_hw,
        source_protocol_addr: src_ip,
        target_hardware_addr: target_hw.unwrap_or_default(),
        target_protocol_addr: dest_ip,
    };
    let eth = EthernetRepr {
        src: src_hw,
        dst: dest_hw.unwrap_or(EthernetAddress::BROADCAST),
        vlan: None,
        ethertype: EtherType::Arp,
    };
    let too_short = SkbError::TooShort {
        need: ETH_HLEN + ETHERNET_IPV4_LEN,
        have: 0,
    };
    let mut skb = SkBuff::new(ETH_HLEN, ETHERNET_IPV4_LEN)?;
    arp.emit(skb.put(ETHERNET_IPV4_LEN)?)
        .map_err(|_| too_short)?;
    skb.reset_network_header()?;
    eth.emit(skb.push(ETH_HLEN)?).map_err(|_| too_short)?;
    Ok(skb)
}

/// Queues an ARP frame for `ifindex`; a frame that cannot be built is not sent (Linux
/// arp_send_dst() when arp_create() fails).
fn arp_send(ifindex: u32, frame: Result<SkBuff, SkbError>, out: &mut Vec<NeighAction>) {
    if let Ok(skb) = frame {
        out.push(NeighAction::Xmit { ifindex, skb });
    }
}

/// One solicitation for `n`: unicast to the known address for the first ucast_probes of
/// PROBE, then app_probes left to a user-space daemon (skiff has none, so nothing is sent),
/// then broadcast. Linux arp_solicit().
pub(super) fn arp_solicit(
    parms: &NeighParms,
    key: Key,
    n: &Neighbour,
    src: Ipv4Addr,
    out: &mut Vec<NeighAction>,
) {
    let dest_hw = if n.probes < parms.ucast_probes {
        Some(n.ha)
    } else if n.probes - parms.ucast_probes < parms.app_probes {
        return;
    } else {
        None
    };
    let frame = arp_create(ArpOperation::Request, key.1, src, dest_hw, n.dev_mac, None);
    arp_send(key.0, frame, out);
}

/// `inet_addr_type(addr) == RTN_UNICAST`, as far as `local` can tell (a subnet broadcast
/// address counts as unicast here).
fn is_unicast(addr: Ipv4Addr, local: &impl Fn(Ipv4Addr) -> bool) -> bool {
    !(addr.is_multicast() || addr.is_broadcast() || addr.octets()[0] == 0 || local(addr))
}

impl NeighTable {
    /// Receives an ARP packet on `dev`: `skb.data()` starts at the ARP header and
    /// `skb.pkt_type` is set. Replies to requests for our addresses (`local`, any interface
    /// as with arp_ignore = 0), learns the requester, and updates existing entries from
    /// replies and other requests. Frames for another host or looped back are ignored
    /// (`Ok`); malformed or hostile ones are dropped with a reason.
    /// Linux arp_rcv() + arp_process().
    pub fn arp_rcv(
        &mut self,
        now: Instant,
        dev: &NeighDev,
        skb: SkBuff,
        local: impl Fn(Ipv4Addr) -> bool,
        out: &mut Vec<NeighAction>,
    ) -> Result<(), ArpDrop> {
        if matches!(skb.pkt_type, PacketType::OtherHost | PacketType::Loopback) {
            return Ok(());
        }
        let data = skb.data();
        if data.len() < ETHERNET_IPV4_LEN {
            return Err(ArpDrop::Truncated);
        }
        let packet = ArpPacket::new_unchecked(data);
        if packet.hlen() != 6 || packet.plen() != 4 {
            return Err(ArpDrop::BadLength);
        }
        let repr = ArpRepr::parse(&packet).map_err(|e| match e {
            skiff_wire::Error::Unsupported => ArpDrop::Unsupported,
            skiff_wire::Error::BadLength => ArpDrop::BadLength,
            _ => ArpDrop::Truncated,
        })?;
        self.arp_process(now, dev, repr, skb.pkt_type, &local, out)
    }

    /// Linux arp_process().
    fn arp_process(
        &mut self,
        now: Instant,
        dev: &NeighDev,
        repr: ArpRepr,
        pkt_type: PacketType,
        local: &impl Fn(Ipv4Addr) -> bool,
        out: &mut Vec<NeighAction>,
    ) -> Result<(), ArpDrop> {
        let ArpRepr::EthernetIpv4 {
            operation: op,
            source_hardware_addr: sha,
            source_protocol_addr: sip,
            target_hardware_addr: tha,
            target_protocol_addr: tip,
        } = repr;
        if !matches!(op, ArpOperation::Request | ArpOperation::Reply) {
            return Err(ArpDrop::BadOpcode);
        }
        if tip.is_multicast() || tip.is_loopback() {
            return Err(ArpDrop::BadTarget);
        }
        if sha.is_multicast() || sip.is_multicast() || sip.is_broadcast() {
            return Err(ArpDrop::BadSender);
        }
        if sha == dev.mac {
            return Err(ArpDrop::OwnSender);
        }
        let reply = |out: &mut Vec<NeighAction>| {
            let frame = arp_create(ArpOperation::Reply, sip, tip, Some(sha), dev.mac, Some(sha));
            arp_send(dev.ifindex, frame, out);
        };
        // Duplicate address detection probe (RFC 5227): answer, learn nothing.
        if sip.is_unspecified() {
            if op == ArpOperation::Request && local(tip) {
                reply(out);
            }
            return Ok(());
        }
        // A request for one of our addresses from a valid source (what
        // ip_route_input_noref() accepts: not zeronet, not loopback, not one of ours).
        if op == ArpOperation::Request
            && local(tip)
            && sip.octets()[0] != 0
            && !sip.is_loopback()
            && !local(sip)
        {
            if self.neigh_event_ns(now, dev, sip, sha, out) {
                reply(out);
            }
            return Ok(());
        }
        // Otherwise only an existing entry learns (arp_accept = 0).
        let key = (dev.ifindex, sip);
        self.core.stats.lookups += 1;
        let Some(n) = self.map.get_mut(&key) else {
            return Ok(());
        };
        self.core.stats.hits += 1;
        let is_garp =
            sip == tip && (op == ArpOperation::Request || tha == sha) && is_unicast(sip, local);
        // Back-to-back replies from several proxies: the first one wins for locktime.
        let override_ = now > n.updated + self.core.parms.locktime || is_garp;
        // Requests and broadcast replies do not prove reachability.
        let state = if op == ArpOperation::Reply && pkt_type == PacketType::Host {
            NudState::Reachable
        } else {
            NudState::Stale
        };
        let flags = UpdateFlags {
            override_,
            admin: false,
        };
        self.core
            .neigh_update(now, key, n, Some(sha), state, flags, out);
        Ok(())
    }

    /// Finds or creates the entry of a host that asked for us and marks it STALE with its
    /// address; `false` if the table is full. Linux neigh_event_ns().
    fn neigh_event_ns(
        &mut self,
        now: Instant,
        dev: &NeighDev,
        sip: Ipv4Addr,
        sha: EthernetAddress,
        out: &mut Vec<NeighAction>,
    ) -> bool {
        let key = (dev.ifindex, sip);
        self.core.stats.lookups += 1;
        if self.map.contains_key(&key) {
            self.core.stats.hits += 1;
        } else if !self.neigh_alloc(now, false) {
            return false;
        }
        let n = neigh_lookup_or_insert(
            &mut self.map,
            &mut self.core,
            now,
            key,
            NextHopKind::Unicast,
            dev,
        );
        let flags = UpdateFlags {
            override_: true,
            admin: false,
        };
        self.core
            .neigh_update(now, key, n, Some(sha), NudState::Stale, flags, out);
        true
    }

    /// The gratuitous ARP request announcing `addr` on `dev` (sender and target `addr`,
    /// broadcast), sent when an address is added or a device comes up. Linux
    /// inetdev_event() NETDEV_UP / arp_ifup via arp_send(ARPOP_REQUEST).
    pub fn arp_announce(&self, dev: &NeighDev, addr: Ipv4Addr) -> Result<SkBuff, NeighError> {
        if addr.is_unspecified() || addr.is_multicast() || addr.is_broadcast() {
            return Err(NeighError::InvalidAddress);
        }
        arp_create(ArpOperation::Request, addr, addr, None, dev.mac, None).map_err(NeighError::Skb)
    }
}
