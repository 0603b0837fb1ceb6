//! The virtio-net header ⇄ `SkBuff` metadata. Linux include/linux/virtio_net.h
//! virtio_net_hdr_to_skb() and virtio_net_hdr_from_skb().
//!
//! The header comes from whoever writes to the device (the kernel, another process), so
//! every field is checked before it becomes packet state; a header that does not
//! describe its frame is refused and the frame dropped (`SKB_DROP_REASON_DEV_HDR`).

use super::gso::{GSO_MAX_SEGS, GsoError, TCP_CSUM_OFFSET, UDP_CSUM_OFFSET};
use crate::skb::{ChecksumState, GsoInfo, GsoType, SkBuff};
use skiff_wire::ipv4::{IPPROTO_TCP, IPPROTO_UDP, ip_hdrlen};
use skiff_wire::virtio::{VirtioGsoType, VirtioNetHdrRepr};

/// Linux `UDP_MAX_SEGMENTS`: the most segments a UDP GSO packet may describe.
pub const UDP_MAX_SEGMENTS: usize = 128;

/// Linux virtio_net_hdr_to_skb(): the header's checksum and GSO state onto `skb`, whose
/// `data` is at the frame (`mac_len` bytes of link header, 14 for TAP and 0 for TUN,
/// then IPv4). Sets the MAC, network and transport headers.
///
/// Refused: checksum offsets outside the linear data, GSO without an IPv4 TCP or UDP
/// header of the type's protocol, `gso_size` 0, more than 65535 segments (128 for UDP),
/// a checksum field that is not the protocol's, `hdr_len` past the frame, and IPv6
/// types. GSO state on an IP fragment is dropped (R19), and so is GSO state on
/// a packet no longer than one segment ("too small packets are not really GSO ones").
pub fn virtio_net_hdr_to_skb(
    skb: &mut SkBuff,
    hdr: &VirtioNetHdrRepr,
    mac_len: usize,
) -> Result<(), GsoError> {
    let (gso_type, protocol, csum_offset) = match hdr.gso_type {
        VirtioGsoType::None => (GsoType::empty(), 0, 0),
        VirtioGsoType::TcpV4 => (GsoType::TCPV4, IPPROTO_TCP, TCP_CSUM_OFFSET),
        VirtioGsoType::Udp => (GsoType::UDP, IPPROTO_UDP, UDP_CSUM_OFFSET),
        VirtioGsoType::UdpL4 => (GsoType::UDP_L4, IPPROTO_UDP, UDP_CSUM_OFFSET),
        VirtioGsoType::TcpV6 => return Err(GsoError::NoProto),
    };
    let len = skb.len();
    let headlen = skb.headlen();
    if usize::from(hdr.hdr_len) > len || mac_len > headlen {
        return Err(GsoError::BadHeader);
    }
    skb.reset_mac_header().map_err(|_| GsoError::BadHeader)?;
    skb.set_network_header(mac_len)
        .map_err(|_| GsoError::BadHeader)?;
    skb.ip_summed = ChecksumState::None;
    skb.gso = None;
    if hdr.needs_csum {
        let start = usize::from(hdr.csum_start);
        let field = start + usize::from(hdr.csum_offset);
        if start < mac_len || field + 2 > headlen {
            return Err(GsoError::BadCsum);
        }
        skb.set_transport_header(start)
            .map_err(|_| GsoError::BadCsum)?;
        skb.ip_summed = ChecksumState::Partial {
            csum_start: skb.transport_header().unwrap_or(0),
            csum_offset: hdr.csum_offset,
        };
    } else if hdr.data_valid {
        skb.ip_summed = ChecksumState::Unnecessary;
    }
    if gso_type.is_empty() {
        return Ok(());
    }
    if hdr.gso_size == 0 {
        return Err(GsoError::BadSize);
    }
    let d = &skb.data()[mac_len..];
    let ihl = ip_hdrlen(d);
    if d.len() < 20 || d[0] >> 4 != 4 || ihl < 20 || ihl > d.len() || d[9] != protocol {
        return Err(GsoError::NoProto);
    }
    let is_frag = u16::from_be_bytes([d[6], d[7]]) & 0x3fff != 0;
    let thoff = mac_len + ihl;
    if hdr.needs_csum
        && (usize::from(hdr.csum_start) != thoff || usize::from(hdr.csum_offset) != csum_offset)
    {
        return Err(GsoError::BadCsum);
    }
    let thlen = if protocol == IPPROTO_TCP {
        d.get(ihl + 12).map_or(0, |b| usize::from(b >> 4) * 4)
    } else {
        8
    };
    if thlen < 8 || thoff + thlen > headlen {
        return Err(GsoError::BadHeader);
    }
    skb.set_transport_header(thoff)
        .map_err(|_| GsoError::BadHeader)?;
    let payload = len - thoff - thlen;
    let size = usize::from(hdr.gso_size);
    if is_frag || payload <= size {
        return Ok(());
    }
    let segs = payload.div_ceil(size);
    let max = if gso_type == GsoType::UDP_L4 {
        UDP_MAX_SEGMENTS
    } else {
        GSO_MAX_SEGS
    };
    if segs > max {
        return Err(GsoError::BadSize);
    }
    let mut t = gso_type | GsoType::DODGY;
    if hdr.ecn {
        t |= GsoType::TCP_ECN;
    }
    skb.gso = Some(GsoInfo {
        size: hdr.gso_size,
        gso_type: t,
        segs: segs as u16,
    });
    Ok(())
}

/// Linux virtio_net_hdr_from_skb(): the header for a frame leaving through a device
/// with a virtio-net header; `skb`'s `data` is at the frame. `hdr_len` is the linear
/// length, as Linux sets it. `data_valid` passes CHECKSUM_UNNECESSARY on.
pub fn virtio_net_hdr_from_skb(
    skb: &SkBuff,
    data_valid: bool,
) -> Result<VirtioNetHdrRepr, GsoError> {
    let (gso_type, ecn, gso_size) = match skb.gso {
        None => (VirtioGsoType::None, false, 0),
        Some(g) => {
            let t = g.gso_type;
            let v = if t.contains(GsoType::TCPV4) {
                VirtioGsoType::TcpV4
            } else if t.contains(GsoType::UDP_L4) && !t.contains(GsoType::FRAGLIST) {
                VirtioGsoType::UdpL4
            } else if t.contains(GsoType::UDP) {
                VirtioGsoType::Udp
            } else {
                return Err(GsoError::NoProto);
            };
            (v, t.contains(GsoType::TCP_ECN), g.size)
        }
    };
    let mut hdr = VirtioNetHdrRepr {
        needs_csum: false,
        data_valid: false,
        gso_type,
        ecn,
        hdr_len: u16::try_from(skb.headlen()).unwrap_or(u16::MAX),
        gso_size,
        csum_start: 0,
        csum_offset: 0,
        num_buffers: None,
    };
    match skb.ip_summed {
        ChecksumState::Partial {
            csum_start,
            csum_offset,
        } => {
            let start = usize::from(csum_start)
                .checked_sub(skb.headroom())
                .ok_or(GsoError::BadCsum)?;
            hdr.needs_csum = true;
            hdr.csum_start = u16::try_from(start).map_err(|_| GsoError::BadCsum)?;
            hdr.csum_offset = csum_offset;
        }
        ChecksumState::Unnecessary if data_valid => hdr.data_valid = true,
        _ => {}
    }
    Ok(hdr)
}
