//! UDP receive, as far as the datapath needs it before sockets exist: Linux
//! net/ipv4/udp.c __udp4_lib_rcv() length and checksum checks, then the socket lookup,
//! which finds nothing yet, so every datagram answers ICMP port unreachable (NoPorts).
//! Sockets, lookup scoring and delivery come with the sockets issue.

use crate::drop::DropReason;
use crate::ipv4::input::IpHdr;
use crate::route::{DstEntry, RtFlags};
use crate::skb::{ChecksumState, SkBuff};
use crate::stack::{Stack, stage};
use skiff_wire::udp::{UdpLiteRepr, UdpPacket, UdpRepr};
use skiff_wire::{Error, RxChecksum};

impl Stack {
    /// Linux udp_rcv() / udplite_rcv() → __udp4_lib_rcv(). `data` is at the UDP header.
    pub(crate) fn udp_rcv(&mut self, skb: SkBuff, h: &IpHdr, dst: &DstEntry) {
        stage!(self, "udp_rcv");
        let lite = h.protocol == skiff_wire::udp::IPPROTO_UDPLITE;
        let csum = if skb.ip_summed == ChecksumState::Unnecessary {
            RxChecksum::Skip
        } else {
            RxChecksum::Verify
        };
        let parsed = if lite {
            UdpPacket::new_checked_lite(skb.data())
                .and_then(|p| UdpLiteRepr::parse(&p, h.saddr, h.daddr, csum).map(|r| r.dst_port))
        } else {
            UdpPacket::new_checked(skb.data())
                .and_then(|p| UdpRepr::parse(&p, h.saddr, h.daddr, csum).map(|r| r.dst_port))
        };
        let mib = if lite {
            &mut self.mib.udp_lite
        } else {
            &mut self.mib.udp
        };
        match parsed {
            Ok(_port) => {
                // __udp4_lib_lookup() finds no socket yet. Broadcast and multicast go to
                // every matching socket and never draw an ICMP error (IgnoredMulti).
                if dst.flags.contains(RtFlags::BROADCAST) || dst.flags.contains(RtFlags::MULTICAST)
                {
                    mib.ignored_multi += 1;
                    return self.kfree_skb(skb, DropReason::NoSocket);
                }
                mib.no_ports += 1;
                stage!(self, "__udp4_lib_lookup");
                self.icmp_send(&skb, dst.flags, 3, 3, 0);
                self.kfree_skb(skb, DropReason::NoSocket)
            }
            Err(Error::BadChecksum) => {
                mib.in_csum_errors += 1;
                mib.in_errors += 1;
                self.kfree_skb(skb, DropReason::UdpCsum)
            }
            Err(_) => {
                mib.in_errors += 1;
                self.kfree_skb(skb, DropReason::UdpTooSmall)
            }
        }
    }
}
