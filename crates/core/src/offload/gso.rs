//! The segmentation core the protocol offloads share. Linux net/core/gso.c
//! (`skb_gso_network_seglen()`, `net_gso_ok()`), net/core/skbuff.c `skb_segment()` and
//! net/core/dev.c `skb_checksum_help()`.
//!
//! A GSO packet is an `SkBuff` with [`GsoInfo`]: headers once, then the payload of many
//! segments in the linear data and the `frag_list`. [`skb_segment`] cuts it, moving a
//! `frag_list` piece whole into its segment when the piece is exactly one segment of
//! payload (the geometry UDP_SEGMENT sends and GRO builds), and copying otherwise.

use crate::netdev::LL_RESERVED;
use crate::netdev::NetdevFeatures;
use crate::skb::{ChecksumState, GsoType, SkBuff, SkbPool};
use core::fmt;
use skiff_wire::Ipv4Addr;
use skiff_wire::checksum::{
    csum_add, csum_fold, csum_partial, csum_tcpudp_magic, csum_tcpudp_nofold,
};

/// Linux `GSO_MAX_SEGS`: no GSO packet may describe more segments.
pub const GSO_MAX_SEGS: usize = 65535;
/// The checksum field's offset in the TCP header.
pub(super) const TCP_CSUM_OFFSET: usize = 16;
/// The checksum field's offset in the UDP header.
pub(super) const UDP_CSUM_OFFSET: usize = 6;
/// The longest header run copied into every segment: a 60-byte IPv4 header and a 60-byte
/// TCP header.
const MAX_HDR: usize = 128;

/// Why a packet could not be segmented, checksummed or coalesced. Linux returns -EINVAL
/// or -EPROTONOSUPPORT from the callbacks; the caller drops the packet
/// (`SKB_DROP_REASON_SKB_GSO_SEG`, or `DEV_HDR` for device metadata).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GsoError {
    /// `gso_size` is 0, or the packet would make more than [`GSO_MAX_SEGS`] segments.
    BadSize,
    /// The GSO type does not match the packet's protocol, or no offload is registered.
    NoProto,
    /// A header is malformed or shorter than it claims.
    BadHeader,
    /// The checksum offsets point outside the packet.
    BadCsum,
    /// No buffer for a segment.
    NoMem,
}

impl fmt::Display for GsoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GsoError::BadSize => "bad gso_size or segment count",
            GsoError::NoProto => "gso type does not match the protocol",
            GsoError::BadHeader => "malformed header",
            GsoError::BadCsum => "checksum offsets out of the packet",
            GsoError::NoMem => "no buffer",
        })
    }
}

impl std::error::Error for GsoError {}

pub(super) type Result<T> = core::result::Result<T, GsoError>;

/// Linux net_gso_ok(): can a device with `features` take a packet of `gso_type` whole?
/// DODGY, ECN and FIXEDID ride along with the type they qualify.
pub fn net_gso_ok(features: NetdevFeatures, gso_type: GsoType) -> bool {
    let mut need = NetdevFeatures::default();
    for (t, f) in [
        (GsoType::TCPV4, NetdevFeatures::TSO),
        (GsoType::UDP, NetdevFeatures::UFO),
        (GsoType::UDP_L4, NetdevFeatures::GSO_UDP_L4),
        (GsoType::FRAGLIST, NetdevFeatures::GSO_FRAGLIST),
    ] {
        if gso_type.contains(t) {
            need = need.union(f);
        }
    }
    let known = GsoType::TCPV4
        | GsoType::DODGY
        | GsoType::TCP_ECN
        | GsoType::TCP_FIXEDID
        | GsoType::UDP
        | GsoType::UDP_L4
        | GsoType::FRAGLIST;
    need != NetdevFeatures::default()
        && features.contains(need)
        && gso_type.bits() & !known.bits() == 0
}

/// Does a device with `features` finish a `CHECKSUM_PARTIAL` IPv4 TCP or UDP packet?
pub fn can_checksum(features: NetdevFeatures) -> bool {
    features.contains(NetdevFeatures::HW_CSUM) || features.contains(NetdevFeatures::IP_CSUM)
}

/// Linux skb_gso_network_seglen(): the length of each segment's IP packet, headers
/// included (UFO: of each fragment's payload).
pub fn skb_gso_network_seglen(skb: &SkBuff) -> usize {
    let Some(gso) = skb.gso else {
        return skb.len();
    };
    let (Some(nh), Some(th)) = (skb.network_header(), skb.transport_header()) else {
        return skb.len();
    };
    let hdr = usize::from(th).saturating_sub(usize::from(nh));
    let l4 = if gso.gso_type.contains(GsoType::TCPV4) {
        skb.transport_header_bytes()
            .and_then(|t| t.get(12))
            .map_or(20, |b| usize::from(b >> 4) * 4)
    } else if gso.gso_type.contains(GsoType::UDP_L4) {
        8
    } else {
        0
    };
    hdr + l4 + usize::from(gso.size)
}

/// Linux skb_gso_validate_network_len(): every segment fits `mtu`.
pub fn skb_gso_validate_network_len(skb: &SkBuff, mtu: usize) -> bool {
    skb_gso_network_seglen(skb) <= mtu
}

/// Copies what Linux __copy_skb_header() keeps from `from` into a new segment.
pub(crate) fn copy_skb_header(to: &mut SkBuff, from: &SkBuff) {
    to.ip_summed = from.ip_summed;
    to.pkt_type = from.pkt_type;
    to.iif = from.iif;
    to.mark = from.mark;
    to.priority = from.priority;
    to.ignore_df = from.ignore_df;
    to.tstamp = from.tstamp;
    to.cb = from.cb;
    to.sk = from.sk;
}

/// Linux skb_segment(): cuts the payload (`data` onwards, `frag_list` included) into
/// `mss`-byte pieces, each behind a copy of the headers from the network header to
/// `data`. A `frag_list` piece that is exactly one segment's payload, with headroom for
/// the headers, becomes that segment without a copy; so does the head when its linear
/// payload is the first segment's. Segments have `data` and the network header at the
/// copied headers, the transport header where it was, and no GSO state.
pub fn skb_segment(pool: &mut SkbPool, mut skb: SkBuff, mss: usize) -> Result<Vec<SkBuff>> {
    let (Some(nh), Some(th)) = (skb.network_header(), skb.transport_header()) else {
        pool.recycle(skb);
        return Err(GsoError::BadHeader);
    };
    let (nh, th) = (usize::from(nh), usize::from(th));
    let data = skb.headroom();
    if nh > data || th < nh || th > data || data - nh > MAX_HDR {
        pool.recycle(skb);
        return Err(GsoError::BadHeader);
    }
    let hlen = data - nh;
    let thoff = th - nh;
    let total = skb.len();
    if mss == 0 || total.div_ceil(mss) > GSO_MAX_SEGS {
        pool.recycle(skb);
        return Err(GsoError::BadSize);
    }
    let mut hdr = [0u8; MAX_HDR];
    if let Some(h) = skb.network_header_bytes() {
        hdr[..hlen].copy_from_slice(&h[..hlen]);
    }
    let hdr = &hdr[..hlen];
    let nsegs = total.div_ceil(mss).max(1);
    let mut segs = Vec::with_capacity(nsegs);
    // Zero copy: the head's linear payload and every piece but the last are one segment
    // each, and the pieces have room for the headers.
    let n = skb.frag_list.len();
    let aligned = skb.headlen() == mss.min(total)
        && skb.frag_list.iter().enumerate().all(|(i, p)| {
            let len = p.headlen();
            (len == mss || (i + 1 == n && len <= mss && len > 0))
                && p.frag_list.is_empty()
                && p.headroom() >= hlen + crate::netdev::ETH_HLEN
        });
    if aligned {
        let frags = skb.frag_list.take();
        let mut ok = true;
        segs.push(skb);
        for mut piece in frags {
            ok &= piece.push_headers(hdr, thoff);
            segs.push(piece);
        }
        let (head, pieces) = segs.split_first_mut().expect("the head was pushed first");
        head.gso = None;
        for piece in pieces {
            copy_skb_header(piece, head);
        }
        ok &= head.push(hlen).is_ok() && set_seg_headers(head, thoff);
        if !ok {
            for s in segs {
                pool.recycle(s);
            }
            return Err(GsoError::NoMem);
        }
        return Ok(segs);
    }
    let mut off = 0;
    let mut res = Ok(());
    while off < total || segs.is_empty() {
        let len = mss.min(total - off);
        let mut seg = match pool.alloc(LL_RESERVED + hlen, len) {
            Ok(s) => s,
            Err(_) => {
                res = Err(GsoError::NoMem);
                break;
            }
        };
        copy_skb_header(&mut seg, &skb);
        let filled = seg
            .put(len)
            .map_err(|_| ())
            .and_then(|b| skb.copy_bits(off, b).map_err(|_| ()))
            .is_ok();
        let pushed = filled && seg.push_headers(hdr, thoff);
        segs.push(seg);
        if !pushed {
            res = Err(GsoError::NoMem);
            break;
        }
        off += len;
    }
    pool.recycle(skb);
    segs_or_recycle(pool, segs, res)
}

/// The segments, or, when a step failed, the error with every segment back in the pool.
pub(crate) fn segs_or_recycle(
    pool: &mut SkbPool,
    segs: Vec<SkBuff>,
    res: Result<()>,
) -> Result<Vec<SkBuff>> {
    if let Err(e) = res {
        for s in segs {
            pool.recycle(s);
        }
        return Err(e);
    }
    Ok(segs)
}

/// A segment's header offsets once its headers are at `data`.
fn set_seg_headers(seg: &mut SkBuff, thoff: usize) -> bool {
    seg.reset_network_header().is_ok() && seg.set_transport_header(thoff).is_ok()
}

/// The source and destination of a packet whose `data` is at its IPv4 header.
pub(crate) fn ip_addrs(d: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr)> {
    let a = d.get(12..20)?;
    Some((
        Ipv4Addr::new(a[0], a[1], a[2], a[3]),
        Ipv4Addr::new(a[4], a[5], a[6], a[7]),
    ))
}

/// The L4 checksum of every segment of one packet: Linux `__tcp_v4_send_check()` /
/// `udp4_hwcsum()` (left `CHECKSUM_PARTIAL`, the pseudo-header sum in the field) when
/// the features checksum, else `gso_make_checksum()` (computed; UDP's 0 sent as 0xffff).
pub(crate) struct L4Csum {
    saddr: Ipv4Addr,
    daddr: Ipv4Addr,
    protocol: u8,
    /// The transport header's offset from the network header.
    thoff: usize,
    csum_offset: usize,
    partial: bool,
    /// The pseudo-header sum without the length.
    base: u32,
    /// UDP: the sum of the source and destination ports, the same in every segment.
    udp_ports: Option<u32>,
}

impl L4Csum {
    /// For segments of `skb` (`data` past the network and transport headers).
    pub(crate) fn new(
        skb: &SkBuff,
        protocol: u8,
        csum_offset: usize,
        features: NetdevFeatures,
    ) -> Option<L4Csum> {
        let (saddr, daddr) = ip_addrs(skb.network_header_bytes()?)?;
        let thoff =
            usize::from(skb.transport_header()?).checked_sub(usize::from(skb.network_header()?))?;
        let udp_ports = if protocol == skiff_wire::ipv4::IPPROTO_UDP {
            let p = skb.transport_header_bytes()?.get(..4)?;
            let word = |i: usize| u32::from(u16::from_be_bytes([p[i], p[i + 1]]));
            Some(word(0) + word(2))
        } else {
            None
        };
        Some(L4Csum {
            saddr,
            daddr,
            protocol,
            thoff,
            csum_offset,
            partial: can_checksum(features),
            base: csum_tcpudp_nofold(saddr, daddr, 0, protocol, 0),
            udp_ports,
        })
    }

    /// A UDP segment's length field and checksum (Linux __udp_gso_segment()'s per-segment
    /// step). Computed in software, the header's words are added from their values (the
    /// ports, the length, a zero checksum) rather than read back from the header just
    /// written, so the one read of the segment is its payload's.
    pub(crate) fn fill_udp(&self, seg: &mut SkBuff) -> Result<()> {
        let th = self.thoff;
        let len = seg.headlen();
        if th + 8 > len || seg.is_nonlinear() {
            return Err(GsoError::BadHeader);
        }
        let l4len = len - th;
        let ulen = l4len as u16;
        seg.data_mut()[th + 4..th + 6].copy_from_slice(&ulen.to_be_bytes());
        let Some(ports) = self.udp_ports.filter(|_| !self.partial) else {
            return self.fill(seg);
        };
        let data = seg.data_mut();
        let sum = csum_partial(&data[th + 8..], csum_add(ports, u32::from(ulen)));
        let check =
            match csum_tcpudp_magic(self.saddr, self.daddr, l4len as u32, self.protocol, sum) {
                0 => 0xffff,
                c => c,
            };
        data[th + 6..th + 8].copy_from_slice(&check.to_be_bytes());
        seg.ip_summed = ChecksumState::None;
        Ok(())
    }

    /// The transport header's offset from the IP header.
    pub(crate) fn thoff(&self) -> usize {
        self.thoff
    }

    /// Fills the checksum of one segment (`data` at its IP header, linear).
    pub(crate) fn fill(&self, seg: &mut SkBuff) -> Result<()> {
        let th = self.thoff;
        let field = th + self.csum_offset;
        let len = seg.headlen();
        if field + 2 > len || seg.is_nonlinear() {
            return Err(GsoError::BadHeader);
        }
        let l4len = (len - th) as u32;
        if self.partial {
            let csum_start = (seg.headroom() + th) as u16;
            let pseudo = !csum_fold(csum_add(self.base, l4len));
            seg.data_mut()[field..field + 2].copy_from_slice(&pseudo.to_be_bytes());
            seg.ip_summed = ChecksumState::Partial {
                csum_start,
                csum_offset: self.csum_offset as u16,
            };
        } else {
            let data = seg.data_mut();
            data[field..field + 2].fill(0);
            let sum = csum_partial(&data[th..], 0);
            let check = csum_tcpudp_magic(self.saddr, self.daddr, l4len, self.protocol, sum);
            let check = if check == 0 && self.protocol == skiff_wire::ipv4::IPPROTO_UDP {
                0xffff
            } else {
                check
            };
            data[field..field + 2].copy_from_slice(&check.to_be_bytes());
            seg.ip_summed = ChecksumState::None;
        }
        Ok(())
    }
}

/// Linux skb_checksum_help(): finishes a `CHECKSUM_PARTIAL` packet in software, over
/// its linear data and `frag_list`. A computed 0 is stored as 0xffff (`CSUM_MANGLED_0`)
/// for every protocol, TCP included, as Linux does.
pub fn skb_checksum_help(skb: &mut SkBuff) -> Result<()> {
    let ChecksumState::Partial {
        csum_start,
        csum_offset,
    } = skb.ip_summed
    else {
        return Ok(());
    };
    let start = usize::from(csum_start)
        .checked_sub(skb.headroom())
        .ok_or(GsoError::BadCsum)?;
    let field = start + usize::from(csum_offset);
    if field + 2 > skb.headlen() {
        return Err(GsoError::BadCsum);
    }
    let mut sum = 0;
    let mut at = 0usize;
    skb.for_each_chunk(&mut |c| {
        let from = start.saturating_sub(at).min(c.len());
        // A chunk at an odd offset from `start` has its bytes in the other half of each
        // word; csum_block_add() turns them round.
        sum = skiff_wire::checksum::csum_block_add(
            sum,
            csum_partial(&c[from..], 0),
            (at + from).saturating_sub(start),
        );
        at += c.len();
    });
    let check = match csum_fold(sum) {
        0 => 0xffff,
        c => c,
    };
    skb.data_mut()[field..field + 2].copy_from_slice(&check.to_be_bytes());
    skb.ip_summed = ChecksumState::None;
    Ok(())
}

/// Does a packet need work before a device with `features` can take it?
#[inline(always)]
pub(crate) fn needs_validate(skb: &SkBuff, features: NetdevFeatures) -> bool {
    skb.gso.is_some_and(|g| !net_gso_ok(features, g.gso_type))
        || (matches!(skb.ip_summed, ChecksumState::Partial { .. }) && !can_checksum(features))
}
