//! Why a packet was dropped. Linux include/net/dropreason-core.h `enum skb_drop_reason`.
//!
//! Every drop goes through `Stack::kfree_skb`, which bumps the Linux counter named on each
//! variant (and the per-reason count every reason has) and records a trace event.

use crate::stats::Mib;
use core::fmt;

macro_rules! drop_reasons {
    ($($(#[$meta:meta])* $name:ident => $linux:literal,)*) => {
        /// Linux `SKB_DROP_REASON_*`; variants without a Linux twin say so.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum DropReason {
            $($(#[$meta])* $name,)*
        }

        impl DropReason {
            /// Every reason, in declaration order.
            pub const ALL: &'static [DropReason] = &[$(DropReason::$name,)*];

            /// The Linux name without the `SKB_DROP_REASON_` prefix.
            pub const fn name(self) -> &'static str {
                match self {
                    $(DropReason::$name => $linux,)*
                }
            }
        }
    };
}

drop_reasons! {
    /// The frame is for another host (`PACKET_OTHERHOST`); device `rx_otherhost_dropped`.
    OtherHost => "OTHERHOST",
    /// Shorter than `tot_len`: `InTruncatedPkts`.
    PktTooSmall => "PKT_TOO_SMALL",
    /// Shorter than 20 bytes or its IHL (Linux says PKT_TOO_SMALL there too), bad
    /// version, IHL, total length or options: `InHdrErrors`.
    IpInhdr => "IP_INHDR",
    /// Bad IPv4 header checksum: `InCsumErrors` and `InHdrErrors`.
    IpCsum => "IP_CSUM",
    /// Martian source (route.c ip_route_input_slow): rt_cache `in_martian_src`.
    IpInvalidSource => "IP_INVALID_SOURCE",
    /// Martian destination: rt_cache `in_martian_dst`.
    IpInvalidDest => "IP_INVALID_DEST",
    /// Reverse path filter (rp_filter): TcpExt `IPReversePathFilter`.
    IpRpFilter => "IP_RPFILTER",
    /// ip_error() for ENETUNREACH: `InNoRoutes`.
    IpNoroute => "IP_NOROUTE",
    /// ip_error() for EHOSTUNREACH: `InAddrErrors`.
    IpInaddrerrors => "IP_INADDRERRORS",
    /// ip_error() for EACCES (prohibit route) and EINVAL (blackhole): no counter.
    IpRouteError => "IP_ROUTE_ERROR",
    /// Local output with no route: `OutNoRoutes`.
    IpOutnoroutes => "IP_OUTNOROUTES",
    /// A source-routed packet with `accept_source_route=0` (silent), or a source route
    /// that cannot be followed (ip_options_rcv_srr()): no counter.
    IpSourceRoute => "IP_SOURCE_ROUTE (skiff)",
    /// Unicast IP in an L2 multicast/broadcast frame with `drop_unicast_in_l2_multicast=1`.
    UnicastInL2Multicast => "UNICAST_IN_L2_MULTICAST",
    // Reassembly (ip_fragment.c). ReasmFails counts datagrams, not fragments, so
    // ip_defrag() bumps the Reasm* counters once per event and these reasons count none.
    /// Refused while reassembly memory is over `ipfrag_high_thresh` (ReasmFails).
    FragMemLimit => "FRAG_MEM_LIMIT (skiff; Linux NOT_SPECIFIED)",
    /// A duplicate: its range lies within data already queued. No counter.
    DupFrag => "DUP_FRAG",
    /// The fragment overlaps queued data; it and its queue go (ReasmOverlaps, ReasmFails).
    FragOverlap => "FRAG_OVERLAP (skiff; Linux NOT_SPECIFIED)",
    /// A fragment that contradicts the datagram's end or is empty, or a datagram that
    /// fails at completion (over 65535 bytes, invalid ECN mix): the queue goes (ReasmFails).
    FragDiscard => "FRAG_DISCARD (skiff; Linux NOT_SPECIFIED)",
    /// Queued fragments dropped when `ipfrag_max_dist` restarts their queue (ReasmFails).
    FragTooFar => "FRAG_TOO_FAR",
    /// The fragments of a queue that timed out (ReasmFails, ReasmTimeout).
    FragReasmTimeout => "FRAG_REASM_TIMEOUT",
    /// No handler for the IP protocol: `InUnknownProtos`.
    IpNoproto => "IP_NOPROTO",
    /// Forwarding with TTL <= 1: `InHdrErrors` (ICMP 11/0 sent).
    IpTtlExpired => "IP_INHDR (ttl expired)",
    /// Over the MTU with DF: `FragFails` (ICMP 3/4 sent), or EMSGSIZE on local output.
    PktTooBig => "PKT_TOO_BIG",
    /// A netfilter hook or rule dropped it.
    NetfilterDrop => "NETFILTER_DROP",
    /// A netfilter queue dropped it (no listener, queue full, or a drop verdict).
    NetfilterQueue => "NETFILTER_DROP (queue)",
    /// Neighbour resolution failed: ICMP host unreachable sent.
    NeighFailed => "NEIGH_FAILED",
    /// The neighbour entry was removed with the packet queued (device down).
    NeighDead => "NEIGH_DEAD",
    /// Pushed out of a full neighbour `arp_queue`: `unres_discards`.
    NeighQueuefull => "NEIGH_QUEUEFULL",
    /// No neighbour entry could be created (table full): `table_fulls`.
    NeighCreatefail => "NEIGH_CREATEFAIL",
    /// A malformed or uninteresting ARP frame.
    ArpInvalid => "ARP_INVALID (skiff)",
    /// The device is down or unknown.
    DevReady => "DEV_READY",
    /// The loopback backlog is full (`netdev_max_backlog`), or one run looped back more
    /// than four times that: softnet `dropped`.
    CpuBacklog => "CPU_BACKLOG",
    /// The device transmit queue is full: device `tx_dropped`.
    QdiscDrop => "QDISC_DROP",
    /// The device refused the frame (its ring full, ENOBUFS, the link down): device
    /// `tx_dropped`.
    FullRing => "FULL_RING",
    /// No handler for the ethertype, or a bad Ethernet header: device `rx_dropped`.
    UnhandledProto => "UNHANDLED_PROTO",
    /// Segmentation failed: bad GSO metadata or headers.
    SkbGsoSeg => "SKB_GSO_SEG",
    /// A device's virtio-net header did not describe its frame.
    DevHdr => "DEV_HDR",
    /// A partial checksum could not be completed.
    SkbCsum => "SKB_CSUM",
    /// ICMP checksum: Icmp `InCsumErrors` and `InErrors`.
    IcmpCsum => "ICMP_CSUM",
    /// An ICMP message icmp_rcv() rejects (too short, unknown type, broadcast echo ignored,
    /// bad quoted header): Icmp `InErrors`.
    IcmpInErrors => "ICMP_IN_ERRORS (skiff; Linux INVALID_PROTO)",
    /// An ICMP message nobody wants (a reply without a socket, a redirect): no counter.
    IcmpNoSocket => "NO_SOCKET (icmp)",
    /// UDP header too short or its length field wrong: Udp `InErrors`.
    UdpTooSmall => "PKT_TOO_SMALL (udp)",
    /// UDP checksum: Udp `InCsumErrors` and `InErrors`.
    UdpCsum => "UDP_CSUM",
    /// UDP to a port with no socket: Udp `NoPorts` (ICMP 3/3 sent unless broadcast).
    NoSocket => "NO_SOCKET",
    /// IGMP with a bad checksum or length.
    IgmpInvalid => "IGMP_INVALID (skiff)",
    /// Multicast routing: the MFC entry has no oif the packet's TTL passes (or no vif
    /// for its device, or the upcall failed).
    IpmrNoOif => "NOT_SPECIFIED (ipmr: no oif)",
    /// Multicast routing: arrived on another vif than the entry's parent (RPF).
    IpmrWrongVif => "NOT_SPECIFIED (ipmr: wrong vif)",
    /// Multicast routing: no route for an oif.
    IpmrNoRoute => "NOT_SPECIFIED (ipmr: no route)",
    /// Multicast routing: DF and over the oif's MTU: `FragFails`, no ICMP for multicast.
    IpmrFragFails => "NOT_SPECIFIED (ipmr: frag fails)",
    /// Multicast routing: the unresolved (S,G) already holds 4 packets (or skiff's bound
    /// on unresolved entries is reached).
    IpmrUnresQueue => "NOT_SPECIFIED (ipmr: unresolved queue full)",
    /// Multicast routing: queued on an unresolved entry that expired or was flushed.
    IpmrUnresExpired => "NOT_SPECIFIED (ipmr: unresolved expired)",
    /// IPIP for us from no tunnel's remote: ICMP port unreachable (tunnel4_rcv()).
    IpipNoTunnel => "NOT_SPECIFIED (ipip: no tunnel)",
    /// IPIP: CE outside a not-ECT inner packet (RFC 6040; ip_tunnel_rcv()).
    IpipEcn => "NOT_SPECIFIED (ipip: CE on not-ECT)",
    /// IPIP transmit: the route to the tunnel's remote leaves through the tunnel itself:
    /// device `collisions` and `tx_errors` (ip_tunnel_xmit()'s "tunnel loop").
    IpTunnelLoop => "NOT_SPECIFIED (ip_tunnel: tunnel loop)",
    /// IPIP transmit: no route to the tunnel's remote (device `tx_errors`), or a tunnel
    /// without a remote (NBMA, not built).
    IpTunnelNoRoute => "NOT_SPECIFIED (ip_tunnel: no route)",
    /// IPIP transmit: an inner DF packet over the path MTU less 20 (ICMP fragmentation
    /// needed sent), or too long for an outer header: device `tx_errors`, no MIB
    /// (tnl_update_pmtu(); ip_tunnel_xmit() frees it unnamed).
    IpTunnelPmtu => "NOT_SPECIFIED (ip_tunnel: pmtu)",
    /// IPIP receive: the inner packet is shorter than an IPv4 header: device
    /// `rx_length_errors` and `rx_errors` (ip_tunnel_rcv()'s pskb_inet_may_pull()).
    IpTunnelRxLength => "NOT_SPECIFIED (ip_tunnel: inner too short)",
    /// Tunnels nested past XMIT_RECURSION_LIMIT (8) deep: __dev_queue_xmit()'s "Dead
    /// loop on virtual device"; device `tx_dropped`.
    XmitRecursion => "NOT_SPECIFIED (dev_xmit_recursion)",
    /// A raw socket's receive queue is full: sk_drops.
    SocketRcvbuff => "SOCKET_RCVBUFF",
}

impl DropReason {
    /// Bumps the Linux MIB counter this reason stands for, if any (the drop half of
    /// Linux kfree_skb_reason()'s callers: each counts where it drops).
    pub(crate) fn count(self, mib: &mut Mib) {
        use DropReason as R;
        let ip = &mut mib.ip;
        match self {
            R::IpInhdr | R::IpTtlExpired => ip.in_hdr_errors += 1,
            R::PktTooSmall => mib.ip_ext.in_truncated_pkts += 1,
            R::IpCsum => {
                ip.in_hdr_errors += 1;
                mib.ip_ext.in_csum_errors += 1;
            }
            R::IpNoroute => mib.ip_ext.in_no_routes += 1,
            R::IpInaddrerrors => ip.in_addr_errors += 1,
            R::IpOutnoroutes => ip.out_no_routes += 1,
            R::IpNoproto => ip.in_unknown_protos += 1,
            R::PktTooBig | R::IpmrFragFails => ip.frag_fails += 1,
            R::IcmpCsum => {
                mib.icmp.in_csum_errors += 1;
                mib.icmp.in_errors += 1;
            }
            R::IcmpInErrors => mib.icmp.in_errors += 1,
            // UDP and UDP-Lite drops are counted in their own MIB by udp_rcv().
            _ => {}
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_all_is_complete() {
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
        assert_eq!(DropReason::ALL.last(), Some(&DropReason::SocketRcvbuff));
        assert_eq!(
            DropReason::ALL[DropReason::IpCsum as usize],
            DropReason::IpCsum
        );
    }
}
