//! GRO state and the helpers the protocols' callbacks share. Linux include/net/gro.h
//! (`NAPI_GRO_CB()`, `inet_gro_flush()`, `skb_gro_checksum_validate()`) and
//! net/core/gro.c `skb_gro_receive()`.

use super::gso::{GsoError, Result};
use crate::netdev::NetdevFeatures;
use crate::skb::{ChecksumState, GsoInfo, GsoType, SkBuff};
use skiff_wire::Ipv4Addr;

/// Linux `MAX_GRO_SKBS`: packets held per device poll.
pub const MAX_GRO_SKBS: usize = 8;
/// Linux `gro_max_size` (GRO_LEGACY_MAX_SIZE): a merged packet stays below 64 KiB.
pub const GRO_MAX_SIZE: usize = 65536;

/// What GRO callbacks may ask of the stack.
pub struct GroCtx<'a> {
    /// The receiving device's features (GRO_FRAGLIST, GRO_UDP_FWD).
    pub features: NetdevFeatures,
    /// The UDP socket a datagram would reach: `Some(udp_gro)` (whether it set UDP_GRO),
    /// `None` for no socket. Linux udp4_gro_lookup_skb().
    pub udp_sk: &'a dyn Fn(&GroIp, u16, u16) -> Option<bool>,
}

/// The IPv4 facts GRO compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroIp {
    pub saddr: Ipv4Addr,
    pub daddr: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
    pub tos: u8,
    pub id: u16,
    pub df: bool,
    pub ihl: usize,
}

/// The state of a held packet. Linux `NAPI_GRO_CB()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroCb {
    /// The two ports.
    pub flow: u32,
    /// Segments merged so far, the first included.
    pub count: u16,
    /// The first segment's payload: the merged packet's `gso_size`.
    pub gso_size: u16,
    /// UDP: the first datagram's UDP length.
    pub first_ulen: u16,
    /// TCP: the sequence number the next segment must carry.
    pub next_seq: u32,
    /// The flow keeps one IP ID (DF set, the second packet repeated it).
    pub ip_fixedid: bool,
    /// UDP fraglist GRO (for forwarding) rather than UDP_GRO for a socket.
    pub is_flist: bool,
}

/// A held packet (`data` at its IP header) and its state.
#[derive(Debug)]
pub struct GroHeld {
    pub skb: SkBuff,
    pub ip: GroIp,
    pub cb: GroCb,
}

impl GroHeld {
    /// Same addresses, protocol and ports.
    pub(super) fn same_flow(&self, ip: &GroIp, flow: u32) -> bool {
        self.ip.saddr == ip.saddr
            && self.ip.daddr == ip.daddr
            && self.ip.protocol == ip.protocol
            && self.cb.flow == flow
    }
}

/// A `gro_receive` callback's answer.
#[derive(Debug)]
pub struct GroRet {
    /// A held packet to complete and pass up now (Linux `pp`).
    pub pp: Option<usize>,
    /// The packet, when it was not merged (`data` where the callback got it).
    pub skb: Option<SkBuff>,
    /// The packet is not to be held: pass it up as it is.
    pub flush: bool,
    /// The state to hold it with otherwise.
    pub cb: GroCb,
}

impl GroRet {
    pub(super) fn flush(skb: SkBuff, pp: Option<usize>) -> GroRet {
        GroRet {
            pp,
            skb: Some(skb),
            flush: true,
            cb: GroCb::default(),
        }
    }

    pub(super) fn flush_both(skb: SkBuff, i: usize) -> GroRet {
        GroRet::flush(skb, Some(i))
    }

    pub(super) fn hold(skb: SkBuff, cb: GroCb) -> GroRet {
        GroRet {
            pp: None,
            skb: Some(skb),
            flush: false,
            cb,
        }
    }

    pub(super) fn hold_after(skb: SkBuff, i: usize, cb: GroCb) -> GroRet {
        GroRet {
            pp: Some(i),
            ..GroRet::hold(skb, cb)
        }
    }

    pub(super) fn pp(i: usize) -> GroRet {
        GroRet {
            pp: Some(i),
            skb: None,
            flush: false,
            cb: GroCb::default(),
        }
    }

    pub(super) fn merged() -> GroRet {
        GroRet {
            pp: None,
            skb: None,
            flush: false,
            cb: GroCb::default(),
        }
    }
}

/// Linux inet_gro_flush(): TTL, TOS and DF must match, and the IP ID must follow the
/// held packet's (by one per segment), or stay fixed for a DF flow whose second packet
/// repeated it.
pub(super) fn inet_gro_flush(ip: &GroIp, p: &mut GroHeld) -> bool {
    if ip.ttl != p.ip.ttl || ip.tos != p.ip.tos || ip.df != p.ip.df {
        return true;
    }
    let offset = ip.id.wrapping_sub(p.ip.id);
    if p.cb.count == 1 && ip.df && offset == 0 {
        p.cb.ip_fixedid = true;
    }
    let want = if p.cb.ip_fixedid { 0 } else { p.cb.count };
    offset != want
}

/// Linux skb_gro_checksum_validate(): a device-verified or partial checksum is trusted,
/// anything else is summed. `skb`'s `data` is at the L4 header of `protocol`.
pub(super) fn csum_valid(skb: &SkBuff, ip: &GroIp, protocol: u8) -> bool {
    if skb.csum_unnecessary() {
        return true;
    }
    let sum = skiff_wire::checksum::csum_partial(skb.data(), 0);
    skiff_wire::checksum::csum_tcpudp_magic(ip.saddr, ip.daddr, skb.len() as u32, protocol, sum)
        == 0
}

/// Linux skb_gro_receive(): the payload (`data` past the headers) joins the held
/// packet's `frag_list`, unless the merged packet would reach [`GRO_MAX_SIZE`].
pub(super) fn skb_gro_receive(p: &mut GroHeld, skb: SkBuff) -> core::result::Result<(), SkBuff> {
    if p.skb.len() + skb.len() >= GRO_MAX_SIZE || !skb.frag_list.is_empty() {
        return Err(skb);
    }
    p.skb.frag_list.push(skb);
    p.cb.count += 1;
    Ok(())
}

/// The L4 half of a gro_complete: the pseudo-header sum in the checksum field (the
/// payloads were verified as they merged) left `CHECKSUM_PARTIAL`, and the GSO state.
pub(super) fn gro_complete_l4(
    skb: &mut SkBuff,
    thoff: usize,
    cb: &GroCb,
    protocol: u8,
    csum_offset: usize,
    gso_type: GsoType,
) -> Result<()> {
    let len = skb.len().checked_sub(thoff).ok_or(GsoError::BadHeader)?;
    let d = skb.data();
    if d.len() < thoff + csum_offset + 2 || d.len() < 20 {
        return Err(GsoError::BadHeader);
    }
    let saddr = Ipv4Addr::new(d[12], d[13], d[14], d[15]);
    let daddr = Ipv4Addr::new(d[16], d[17], d[18], d[19]);
    let pseudo = !skiff_wire::checksum::csum_fold(skiff_wire::checksum::csum_tcpudp_nofold(
        saddr, daddr, len as u32, protocol, 0,
    ));
    let field = thoff + csum_offset;
    skb.data_mut()[field..field + 2].copy_from_slice(&pseudo.to_be_bytes());
    let csum_start = skb.transport_header().ok_or(GsoError::BadHeader)?;
    skb.ip_summed = ChecksumState::Partial {
        csum_start,
        csum_offset: csum_offset as u16,
    };
    skb.gso = Some(GsoInfo {
        size: cb.gso_size,
        gso_type,
        segs: cb.count,
    });
    Ok(())
}

/// Linux `napi->gro_hash`: the packets held during one device poll.
#[derive(Debug, Default)]
pub(crate) struct GroList {
    pub held: Vec<GroHeld>,
}

/// The two ports as one word.
pub(super) fn flow_of(d: &[u8]) -> u32 {
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}
