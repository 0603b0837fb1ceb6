//! The IPv4 level of the offloads. Linux net/ipv4/af_inet.c inet_gso_segment(),
//! inet_gro_receive(), inet_gro_complete().

use super::gso::{GsoError, Result, segs_or_recycle};
use super::registry::GsoCtx;
use crate::skb::{GsoType, SkBuff};
use skiff_wire::checksum::{csum_add, csum_fold, csum_partial};
use skiff_wire::ipv4::ip_hdrlen;

/// Linux inet_gso_segment(): pulls the IPv4 header, lets the protocol's offload cut the
/// rest, then gives every segment its own total length, ID (consecutive from the
/// packet's, unless TCP_FIXEDID) and checksum. UFO segments are fragments instead: one
/// ID, their offsets and MF.
pub(super) fn inet_gso_segment(ctx: &mut GsoCtx<'_>, mut skb: SkBuff) -> Result<Vec<SkBuff>> {
    let Some(gso) = skb.gso else {
        return Ok(vec![skb]);
    };
    let d = skb.data();
    let ihl = ip_hdrlen(d);
    let bad = d.len() < 20 || d[0] >> 4 != 4 || ihl < 20 || ihl > d.len();
    // GSO state on a fragment is refused (R19).
    if bad || u16::from_be_bytes([d[6], d[7]]) & 0x3fff != 0 {
        ctx.pool.recycle(skb);
        return Err(GsoError::BadHeader);
    }
    let (protocol, id) = (d[9], u16::from_be_bytes([d[4], d[5]]));
    let fixedid = gso.gso_type.contains(GsoType::TCP_FIXEDID);
    let udpfrag = protocol == skiff_wire::ipv4::IPPROTO_UDP && gso.gso_type.contains(GsoType::UDP);
    // The header sum without the fields each segment rewrites, so no segment's header
    // is read back (a load of bytes just stored stalls).
    let mut h = [0u8; 60];
    h[..ihl].copy_from_slice(&d[..ihl]);
    h[2..4].fill(0);
    h[10..12].fill(0);
    if udpfrag {
        h[6..8].fill(0);
    } else if !fixedid {
        h[4..6].fill(0);
    }
    let base = csum_partial(&h[..ihl], 0);
    let ok = skb.reset_network_header().is_ok()
        && skb.set_transport_header(ihl).is_ok()
        && skb.pull(ihl).is_ok();
    let seg_fn = ctx.offloads.inet(protocol).and_then(|c| c.gso_segment);
    let Some(seg_fn) = seg_fn.filter(|_| ok) else {
        ctx.pool.recycle(skb);
        return Err(if ok {
            GsoError::NoProto
        } else {
            GsoError::BadHeader
        });
    };
    let mut segs = seg_fn(ctx, skb)?;
    let n = segs.len();
    let mut offset = 0usize;
    let mut res = Ok(());
    for (i, seg) in segs.iter_mut().enumerate() {
        let len = seg.len();
        let Ok(tot) = u16::try_from(len) else {
            res = Err(GsoError::BadSize);
            break;
        };
        if seg.is_nonlinear() || seg.headlen() < ihl {
            res = Err(GsoError::BadHeader);
            break;
        }
        let d = seg.data_mut();
        let mut sum = csum_add(base, u32::from(tot));
        if udpfrag {
            let mut fo = (offset >> 3) as u16;
            if i + 1 < n {
                fo |= skiff_wire::ipv4::IP_MF;
            }
            d[6..8].copy_from_slice(&fo.to_be_bytes());
            sum = csum_add(sum, u32::from(fo));
            offset += len - ihl;
        } else if !fixedid {
            let seg_id = id.wrapping_add(i as u16);
            d[4..6].copy_from_slice(&seg_id.to_be_bytes());
            sum = csum_add(sum, u32::from(seg_id));
        }
        d[2..4].copy_from_slice(&tot.to_be_bytes());
        d[10..12].copy_from_slice(&csum_fold(sum).to_be_bytes());
    }
    segs_or_recycle(ctx.pool, segs, res)
}
