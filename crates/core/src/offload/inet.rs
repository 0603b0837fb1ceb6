//! The IPv4 level of the offloads. Linux net/ipv4/af_inet.c inet_gso_segment(),
//! inet_gro_receive(), inet_gro_complete().

use super::{GsoCtx, GsoError, Result, ip_send_check};
use crate::skb::{GsoType, SkBuff};

/// Linux inet_gso_segment(): pulls the IPv4 header, lets the protocol's offload cut the
/// rest, then gives every segment its own total length, ID (consecutive from the
/// packet's, unless TCP_FIXEDID) and checksum. UFO segments are fragments instead: one
/// ID, their offsets and MF.
pub(super) fn inet_gso_segment(ctx: &mut GsoCtx<'_>, mut skb: SkBuff) -> Result<Vec<SkBuff>> {
    let Some(gso) = skb.gso else {
        return Ok(vec![skb]);
    };
    let d = skb.data();
    let ihl = d.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
    let bad = d.len() < 20 || d[0] >> 4 != 4 || ihl < 20 || ihl > d.len();
    // GSO state on a fragment is refused (reference R19).
    if bad || u16::from_be_bytes([d[6], d[7]]) & 0x3fff != 0 {
        ctx.pool.recycle(skb);
        return Err(GsoError::BadHeader);
    }
    let (protocol, id) = (d[9], u16::from_be_bytes([d[4], d[5]]));
    let fixedid = gso.gso_type.contains(GsoType::TCP_FIXEDID);
    let udpfrag = protocol == 17 && gso.gso_type.contains(GsoType::UDP);
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
        if udpfrag {
            let mut fo = (offset >> 3) as u16;
            if i + 1 < n {
                fo |= 0x2000;
            }
            d[6..8].copy_from_slice(&fo.to_be_bytes());
            offset += len - ihl;
        } else if !fixedid {
            d[4..6].copy_from_slice(&id.wrapping_add(i as u16).to_be_bytes());
        }
        d[2..4].copy_from_slice(&tot.to_be_bytes());
        ip_send_check(d);
    }
    if let Err(e) = res {
        for s in segs {
            ctx.pool.recycle(s);
        }
        return Err(e);
    }
    Ok(segs)
}
