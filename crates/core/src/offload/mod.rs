//! Segmentation and receive offloads. Linux net/core/gso.c and gro.c, net/ipv4/af_inet.c
//! (`inet_gso_segment`, `inet_gro_receive`), tcp_offload.c and udp_offload.c.
//!
//! IPv4, TCP and UDP are registered at start (here: Linux `inet_init()`,
//! `tcpv4_offload_init()`, `udpv4_offload_init()`), and users may add their own. The
//! layers, each importing only those before it: `gso` (the segmentation core), `gro`
//! (GRO state and helpers), `registry` (the callbacks and the dispatch through them),
//! then the protocols `inet`, `tcp` and `udp`.

mod gro;
mod gso;
mod inet;
mod registry;
mod tcp;
mod udp;
pub mod virtio;

pub(crate) use gro::GroList;
pub use gro::{GRO_MAX_SIZE, GroCb, GroCtx, GroHeld, GroIp, GroRet, MAX_GRO_SKBS};
pub(crate) use gso::needs_validate;
pub use gso::{
    GSO_MAX_SEGS, GsoError, can_checksum, net_gso_ok, skb_checksum_help, skb_gso_network_seglen,
    skb_gso_validate_network_len, skb_segment,
};
pub use registry::{
    GroCompleteFn, GroReceiveFn, GsoCtx, GsoSegmentFn, OffloadCallbacks, Offloads, PacketOffload,
    skb_gso_segment,
};
use skiff_wire::ipv4::{IPPROTO_TCP, IPPROTO_UDP};

/// The ethertype of IPv4 (`ETH_P_IP`).
pub const ETH_P_IP: u16 = 0x0800;

impl Default for Offloads {
    /// IPv4 (`inet_init` → `dev_add_offload(&ip_packet_offload)`), TCP (`tcpv4_offload_init`)
    /// and UDP (`udpv4_offload_init`). IPv4's own GRO step (inet_gro_receive) is the GRO
    /// list's, which then calls the protocol's `gro_receive`.
    fn default() -> Self {
        let mut o = Offloads {
            packet: Vec::new(),
            inet: vec![None; 256],
        };
        o.dev_add_offload(PacketOffload {
            ethertype: ETH_P_IP,
            priority: 0,
            callbacks: OffloadCallbacks {
                gso_segment: Some(inet::inet_gso_segment),
                gro_receive: None,
                gro_complete: None,
            },
        });
        o.inet_add_offload(
            IPPROTO_TCP,
            OffloadCallbacks {
                gso_segment: Some(tcp::tcp4_gso_segment),
                gro_receive: Some(tcp::tcp4_gro_receive),
                gro_complete: Some(tcp::tcp4_gro_complete),
            },
        );
        o.inet_add_offload(
            IPPROTO_UDP,
            OffloadCallbacks {
                gso_segment: Some(udp::udp4_gso_segment),
                gro_receive: Some(udp::udp4_gro_receive),
                gro_complete: Some(udp::udp4_gro_complete),
            },
        );
        o
    }
}

#[cfg(test)]
mod tests;
