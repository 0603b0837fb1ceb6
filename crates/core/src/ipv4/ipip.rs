//! IPIP receive for the DVMRP tunnels of multicast routing: a `VIFF_TUNNEL` vif has a
//! `dvmrpN` device (Linux ipmr.c ipmr_new_tunnel()); an IPIP packet whose outer (source,
//! destination) is the tunnel's (remote, local) is decapsulated and its inner packet
//! received on that device. Linux net/ipv4/tunnel4.c tunnel4_rcv(), ipip.c ipip_rcv(),
//! ip_tunnel.c ip_tunnel_rcv(), include/net/inet_ecn.h INET_ECN_decapsulate().

use super::mroute::VIFF_TUNNEL;
use crate::drop::DropReason;
use crate::ipv4::hdr::IpHdr;
use crate::ipv4::icmp::IcmpErr;
use crate::route::DstEntry;
use crate::skb::{ChecksumState, PacketType, SkBuff};
use crate::stack::{Stack, stage};
use skiff_wire::Ipv4Addr;
use skiff_wire::icmpv4::DstUnreachable;

/// Decapsulated packets waiting for ip_rcv() on their tunnel device (Linux's gro_cells
/// queue, bounded by `netdev_max_backlog`).
pub const IPIP_RX_QLEN: usize = 1000;

/// The ECN field's bits.
const INET_ECN_MASK: u8 = 3;
const INET_ECN_NOT_ECT: u8 = 0;
const INET_ECN_ECT_1: u8 = 1;
const INET_ECN_ECT_0: u8 = 2;
const INET_ECN_CE: u8 = 3;

/// What decapsulation does to the inner ECN field. Linux __INET_ECN_decapsulate().
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EcnDecap {
    /// Keep the inner TOS as it is.
    Keep,
    /// Set the inner field to this codepoint.
    Set(u8),
    /// Not-ECT inside, ECT outside: kept as it is, Linux only logs it.
    Log,
    /// Not-ECT inside, CE outside (RFC 6040): the packet is dropped.
    Drop,
}

/// Linux inet_ecn.h INET_ECN_decapsulate(); RFC 6040 section 4.2.
pub(crate) fn ecn_decapsulate(outer_tos: u8, inner_tos: u8) -> EcnDecap {
    let (outer, inner) = (outer_tos & INET_ECN_MASK, inner_tos & INET_ECN_MASK);
    if inner == INET_ECN_NOT_ECT {
        return match outer {
            INET_ECN_NOT_ECT => EcnDecap::Keep,
            INET_ECN_CE => EcnDecap::Drop,
            _ => EcnDecap::Log,
        };
    }
    if outer == INET_ECN_CE {
        // INET_ECN_set_ce(): an ECT inner packet becomes CE.
        return if inner == INET_ECN_CE {
            EcnDecap::Keep
        } else {
            EcnDecap::Set(INET_ECN_CE)
        };
    }
    // INET_ECN_set_ect1(): ECT(1) outside turns ECT(0) inside into ECT(1).
    if outer == INET_ECN_ECT_1 && inner == INET_ECN_ECT_0 {
        return EcnDecap::Set(INET_ECN_ECT_1);
    }
    EcnDecap::Keep
}

/// Rewrites the TOS byte of the IPv4 header at the start of `ip` (at least 12 bytes) and
/// updates its checksum incrementally (RFC 1624), as Linux ipv4_change_dsfield() does, so
/// a header that was bad stays bad.
fn set_tos(ip: &mut [u8], tos: u8) {
    let (Some(&old), Some(c)) = (ip.get(1), ip.get(10..12)) else {
        return;
    };
    let ver = u16::from(ip[0]) << 8;
    let (old_w, new_w) = (ver | u16::from(old), ver | u16::from(tos));
    let check = u16::from_be_bytes([c[0], c[1]]);
    // HC' = ~(~HC + ~m + m')
    let mut sum = u32::from(!check) + u32::from(!old_w) + u32::from(new_w);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let check = !(sum as u16);
    ip[1] = tos;
    ip[10..12].copy_from_slice(&check.to_be_bytes());
}

impl Stack {
    /// The tunnel vif's device that an IPIP packet from `saddr` to `daddr` arrives on.
    /// Linux ip_tunnel_lookup() for the exact (remote, local) pair (no wildcard
    /// `tunl0`, which skiff does not have).
    fn ipip_tunnel_lookup(&self, saddr: Ipv4Addr, daddr: Ipv4Addr) -> Option<u32> {
        self.ipmr
            .vifs
            .iter()
            .flatten()
            .find(|v| {
                v.flags & u16::from(VIFF_TUNNEL) != 0
                    && v.remote == saddr
                    && Ipv4Addr::from(v.local) == daddr
            })
            .map(|v| v.ifindex)
    }

    /// Linux tunnel4.c tunnel4_rcv() + ipip.c ipip_rcv() + ip_tunnel.c ip_tunnel_rcv():
    /// `skb` is the outer packet's payload. Without a matching tunnel: ICMP port
    /// unreachable and a drop (tunnel4_rcv()); an inner not-ECT packet under an outer CE
    /// is dropped; otherwise the inner packet is received on the tunnel's device.
    pub(crate) fn ipip_rcv(&mut self, mut skb: SkBuff, h: &IpHdr, dst: &DstEntry) {
        stage!(self, "ipip_rcv");
        let Some(ifindex) = self.ipip_tunnel_lookup(h.saddr, h.daddr) else {
            self.icmp_send(
                &skb,
                dst.flags,
                IcmpErr::DstUnreachable(DstUnreachable::PortUnreachable),
            );
            return self.kfree_skb(skb, DropReason::IpipNoTunnel);
        };
        // A header too short for its TOS byte is left to ip_rcv() on the tunnel device
        // (InHdrErrors there).
        if skb.data().len() >= 12 {
            let inner_tos = skb.data()[1];
            match ecn_decapsulate(h.tos, inner_tos) {
                EcnDecap::Keep | EcnDecap::Log => {}
                EcnDecap::Set(ecn) => {
                    set_tos(skb.data_mut(), (inner_tos & !INET_ECN_MASK) | ecn);
                }
                // Linux also counts rx_frame_errors, which skiff's DevStats lacks.
                EcnDecap::Drop => return self.kfree_skb(skb, DropReason::IpipEcn),
            }
        }
        let Some(dev) = self.dev_mut(ifindex) else {
            return self.kfree_skb(skb, DropReason::DevReady);
        };
        if !dev.up {
            return self.kfree_skb(skb, DropReason::DevReady);
        }
        dev.stats.rx_packets += 1;
        dev.stats.rx_bytes += skb.len() as u64;
        // iptunnel_pull_header() + skb_scrub_packet(): a new packet on the tunnel device.
        skb.iif = ifindex;
        skb.pkt_type = if h.daddr.is_multicast() {
            PacketType::Broadcast
        } else {
            PacketType::Host
        };
        if matches!(skb.ip_summed, ChecksumState::Complete(_)) {
            skb.ip_summed = ChecksumState::None;
        }
        if self.ipmr.ipip_rx.len() >= IPIP_RX_QLEN {
            return self.kfree_skb(skb, DropReason::CpuBacklog);
        }
        self.ipmr.ipip_rx.push_back(skb);
        // gro_cells_receive(): received after this packet, never nested, so tunnels in
        // tunnels cannot recurse.
        if core::mem::replace(&mut self.ipmr.ipip_rx_running, true) {
            return;
        }
        while let Some(skb) = self.ipmr.ipip_rx.pop_front() {
            self.ip_rcv(skb, None);
        }
        self.ipmr.ipip_rx_running = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecn_decapsulation_follows_rfc6040() {
        use EcnDecap::*;
        assert_eq!(ecn_decapsulate(0, 0), Keep);
        assert_eq!(ecn_decapsulate(INET_ECN_ECT_0, 0), Log);
        assert_eq!(ecn_decapsulate(INET_ECN_ECT_1, 0), Log);
        assert_eq!(ecn_decapsulate(INET_ECN_CE, 0), Drop);
        assert_eq!(
            ecn_decapsulate(INET_ECN_CE, INET_ECN_ECT_0),
            Set(INET_ECN_CE)
        );
        assert_eq!(ecn_decapsulate(INET_ECN_CE, INET_ECN_CE), Keep);
        assert_eq!(
            ecn_decapsulate(INET_ECN_ECT_1, INET_ECN_ECT_0),
            Set(INET_ECN_ECT_1)
        );
        assert_eq!(ecn_decapsulate(INET_ECN_NOT_ECT, INET_ECN_ECT_0), Keep);
        assert_eq!(ecn_decapsulate(0x20, 0x21), Keep);
    }

    #[test]
    fn set_tos_keeps_the_checksum_right() {
        let mut ip = [
            0x45, 0x02, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2, 239, 1, 1, 1,
        ];
        let sum = skiff_wire::checksum::ip_fast_csum(&ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        set_tos(&mut ip, 0x03);
        assert_eq!(ip[1], 0x03);
        assert_eq!(skiff_wire::checksum::ip_fast_csum(&ip), 0);
    }
}
