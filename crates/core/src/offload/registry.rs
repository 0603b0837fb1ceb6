//! The offload registry and the dispatch through it. Linux net/core/gro.c
//! (`dev_add_offload()`, `dev_gro_receive()`, `napi_gro_complete()`), net/core/gso.c
//! `skb_mac_gso_segment()` and net/ipv4/protocol.c `inet_add_offload()`.
//!
//! The registry has Linux's two levels: packet offloads by ethertype (`dev_add_offload`,
//! ordered by priority) and inet offloads by IP protocol (`inet_add_offload`). Each entry
//! carries `gso_segment`, `gro_receive` and `gro_complete` callbacks.
//!
//! GRO runs over one device poll ([`crate::Stack::netif_receive_list`]): packets of a
//! flow are merged into the first one held, whose `frag_list` takes each later payload
//! (headers pulled, so they stay in the piece's headroom), and everything held is
//! completed and passed up when the batch ends. Packets GRO does not merge keep their
//! order within a flow: a held packet of the same flow is passed up first.

use super::gro::{GroCb, GroCtx, GroHeld, GroIp, GroList, GroRet, MAX_GRO_SKBS};
use super::gso::{GsoError, Result};
use crate::netdev::NetdevFeatures;
use crate::skb::{SkBuff, SkbPool};
use core::fmt;
use skiff_wire::Ipv4Addr;

/// What a segmentation callback works with. Linux passes `features`; skiff also passes
/// the registry (for the next level down) and the buffer pool.
pub struct GsoCtx<'a> {
    pub offloads: &'a Offloads,
    pub pool: &'a mut SkbPool,
    /// The features the segments are for: with checksum offload their L4 checksums are
    /// left `CHECKSUM_PARTIAL`, without it they are computed.
    pub features: NetdevFeatures,
}

/// `gso_segment`: cut a GSO packet whose `data` is at this level's header. Returns the
/// segments with `data` at the network header. On error the packet has been recycled.
pub type GsoSegmentFn = fn(&mut GsoCtx<'_>, SkBuff) -> Result<Vec<SkBuff>>;
/// `gro_receive`: try to merge `skb` (`data` at this level's header, past the IP header)
/// into one of the held packets, or say whether to hold it or pass it up.
pub type GroReceiveFn = fn(&mut GroCtx<'_>, &mut [GroHeld], SkBuff, &GroIp) -> GroRet;
/// `gro_complete`: fix the headers of a merged packet. `thoff` is this level's header
/// offset from `data` (which is at the network header).
pub type GroCompleteFn = fn(&mut SkBuff, usize, &GroCb) -> Result<()>;

/// One protocol's callbacks. Linux `struct net_offload` / `struct offload_callbacks`.
#[derive(Clone, Copy, Default)]
pub struct OffloadCallbacks {
    pub gso_segment: Option<GsoSegmentFn>,
    pub gro_receive: Option<GroReceiveFn>,
    pub gro_complete: Option<GroCompleteFn>,
}

impl fmt::Debug for OffloadCallbacks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OffloadCallbacks")
            .field("gso_segment", &self.gso_segment.is_some())
            .field("gro_receive", &self.gro_receive.is_some())
            .field("gro_complete", &self.gro_complete.is_some())
            .finish()
    }
}

/// A packet offload for an ethertype. Linux `struct packet_offload`.
#[derive(Debug, Clone, Copy)]
pub struct PacketOffload {
    pub ethertype: u16,
    /// Lower runs first among offloads of one ethertype.
    pub priority: i32,
    pub callbacks: OffloadCallbacks,
}

/// The offload registry: Linux `offload_base` and `inet_offloads[]`.
#[derive(Debug, Clone)]
pub struct Offloads {
    pub(super) packet: Vec<PacketOffload>,
    pub(super) inet: Vec<Option<OffloadCallbacks>>,
}

impl Offloads {
    /// Linux dev_add_offload(): kept sorted by priority, a new entry after equal ones.
    pub fn dev_add_offload(&mut self, po: PacketOffload) {
        let at = self.packet.partition_point(|p| p.priority <= po.priority);
        self.packet.insert(at, po);
    }

    /// Linux dev_remove_offload(): the first entry for `ethertype` at `priority`.
    pub fn dev_remove_offload(&mut self, ethertype: u16, priority: i32) -> bool {
        match self
            .packet
            .iter()
            .position(|p| p.ethertype == ethertype && p.priority == priority)
        {
            Some(i) => {
                self.packet.remove(i);
                true
            }
            None => false,
        }
    }

    /// Linux inet_add_offload(): refused (false) if `protocol` already has one.
    pub fn inet_add_offload(&mut self, protocol: u8, cb: OffloadCallbacks) -> bool {
        let slot = &mut self.inet[usize::from(protocol)];
        if slot.is_some() {
            return false;
        }
        *slot = Some(cb);
        true
    }

    /// Linux inet_del_offload().
    pub fn inet_del_offload(&mut self, protocol: u8) -> bool {
        self.inet[usize::from(protocol)].take().is_some()
    }

    /// The inet offload of `protocol`.
    pub fn inet(&self, protocol: u8) -> Option<&OffloadCallbacks> {
        self.inet[usize::from(protocol)].as_ref()
    }

    /// The packet offloads of `ethertype`, in priority order.
    pub fn packet(&self, ethertype: u16) -> impl Iterator<Item = &PacketOffload> {
        self.packet.iter().filter(move |p| p.ethertype == ethertype)
    }
}

/// Linux skb_gso_segment() → skb_mac_gso_segment(): the packet offload for `ethertype`
/// segments the packet (`data` at the network header). On error the packet is recycled.
pub fn skb_gso_segment(ctx: &mut GsoCtx<'_>, skb: SkBuff, ethertype: u16) -> Result<Vec<SkBuff>> {
    let Some(gso) = skb.gso else {
        return Ok(vec![skb]);
    };
    if gso.size == 0 {
        ctx.pool.recycle(skb);
        return Err(GsoError::BadSize);
    }
    let seg = ctx
        .offloads
        .packet(ethertype)
        .find_map(|p| p.callbacks.gso_segment);
    match seg {
        Some(f) => f(ctx, skb),
        None => {
            ctx.pool.recycle(skb);
            Err(GsoError::NoProto)
        }
    }
}

/// Parses the IPv4 header GRO needs: a plain 20-byte header with a good checksum,
/// exactly as long as the packet, not a fragment, not already GSO. Linux
/// inet_gro_receive()'s checks.
fn gro_ip(skb: &SkBuff) -> Option<GroIp> {
    let d = skb.data();
    if skb.gso.is_some() || d.len() < 20 || d[0] != 0x45 || skb.is_nonlinear() {
        return None;
    }
    let frag = u16::from_be_bytes([d[6], d[7]]);
    if usize::from(u16::from_be_bytes([d[2], d[3]])) != d.len()
        || frag & 0x3fff != 0
        || skiff_wire::checksum::ip_fast_csum(&d[..20]) != 0
    {
        return None;
    }
    Some(GroIp {
        saddr: Ipv4Addr::new(d[12], d[13], d[14], d[15]),
        daddr: Ipv4Addr::new(d[16], d[17], d[18], d[19]),
        protocol: d[9],
        ttl: d[8],
        tos: d[1],
        id: u16::from_be_bytes([d[4], d[5]]),
        df: frag & skiff_wire::ipv4::IP_DF != 0,
        ihl: 20,
    })
}

impl GroList {
    /// Linux dev_gro_receive() → inet_gro_receive(): `skb` (`data` at the IP header) is
    /// merged, held, or passed to `out`, after any held packet it ends.
    pub(crate) fn receive(
        &mut self,
        offloads: &Offloads,
        ctx: &mut GroCtx<'_>,
        skb: SkBuff,
        out: &mut Vec<SkBuff>,
    ) {
        let Some(ip) = gro_ip(&skb) else {
            // Not for GRO: a held packet of the same addresses goes first.
            if let Some(ip) = loose_ip(&skb) {
                self.flush_matching(offloads, out, |p| {
                    p.ip.saddr == ip.0 && p.ip.daddr == ip.1 && p.ip.protocol == ip.2
                });
            }
            return out.push(skb);
        };
        let Some(f) = offloads.inet(ip.protocol).and_then(|c| c.gro_receive) else {
            return out.push(skb);
        };
        let mut skb = skb;
        if skb.pull(ip.ihl).is_err() {
            return out.push(skb);
        }
        let ret = f(ctx, &mut self.held, skb, &ip);
        if let Some(i) = ret.pp.filter(|&i| i < self.held.len()) {
            let p = self.held.remove(i);
            out.push(napi_gro_complete(offloads, p));
        }
        let Some(mut skb) = ret.skb else {
            return;
        };
        let _ = skb.push(ip.ihl);
        if ret.flush {
            return out.push(skb);
        }
        if self.held.len() >= MAX_GRO_SKBS {
            let oldest = self.held.remove(0);
            out.push(napi_gro_complete(offloads, oldest));
        }
        self.held.push(GroHeld {
            skb,
            ip,
            cb: ret.cb,
        });
    }

    /// Completes and passes up every held packet, oldest first (Linux napi_gro_flush()).
    pub(crate) fn flush(&mut self, offloads: &Offloads, out: &mut Vec<SkBuff>) {
        for p in self.held.drain(..) {
            out.push(napi_gro_complete(offloads, p));
        }
    }

    fn flush_matching(
        &mut self,
        offloads: &Offloads,
        out: &mut Vec<SkBuff>,
        f: impl Fn(&GroHeld) -> bool,
    ) {
        while let Some(i) = self.held.iter().position(&f) {
            let p = self.held.remove(i);
            out.push(napi_gro_complete(offloads, p));
        }
    }
}

/// Addresses and protocol of anything that looks like IPv4.
fn loose_ip(skb: &SkBuff) -> Option<(Ipv4Addr, Ipv4Addr, u8)> {
    let d = skb.data();
    (d.len() >= 20 && d[0] >> 4 == 4).then(|| {
        (
            Ipv4Addr::new(d[12], d[13], d[14], d[15]),
            Ipv4Addr::new(d[16], d[17], d[18], d[19]),
            d[9],
        )
    })
}

/// Linux napi_gro_complete() → inet_gro_complete(): a packet that merged nothing goes up
/// as it came; a merged one gets its total length, header checksum and the protocol's
/// completion. A completion that fails leaves the packet as received, without GSO state:
/// its payloads then fail the normal checks.
fn napi_gro_complete(offloads: &Offloads, mut p: GroHeld) -> SkBuff {
    if p.cb.count <= 1 {
        return p.skb;
    }
    let len = p.skb.len();
    let ok = u16::try_from(len).is_ok_and(|tot| {
        let d = p.skb.data_mut();
        d[2..4].copy_from_slice(&tot.to_be_bytes());
        skiff_wire::ipv4::Ipv4Packet::new_unchecked(&mut d[..]).fill_checksum();
        true
    }) && p.skb.reset_network_header().is_ok()
        && p.skb.set_transport_header(p.ip.ihl).is_ok();
    let complete = offloads.inet(p.ip.protocol).and_then(|c| c.gro_complete);
    match complete {
        Some(f) if ok && f(&mut p.skb, p.ip.ihl, &p.cb).is_ok() => {}
        _ => p.skb.gso = None,
    }
    p.skb
}
