//! UDP offloads. Linux net/ipv4/udp_offload.c: __udp_gso_segment() (UDP_L4),
//! udp4_ufo_fragment() (UFO), udp4_gro_receive() / udp_gro_receive_segment(),
//! udp4_gro_complete().

use super::gro::{
    GroCb, GroCtx, GroHeld, GroIp, GroRet, csum_valid, flow_of, gro_complete_l4, inet_gro_flush,
    skb_gro_receive,
};
use super::gso::{
    GsoError, L4Csum, Result, UDP_CSUM_OFFSET, ip_addrs, segs_or_recycle, skb_checksum_help,
    skb_segment,
};
use super::registry::GsoCtx;
use crate::netdev::NetdevFeatures;
use crate::skb::{ChecksumState, GsoType, SkBuff};
use skiff_wire::ipv4::IPPROTO_UDP;

/// Linux `UDP_GRO_CNT_MAX`: datagrams merged into one.
pub const UDP_GRO_CNT_MAX: u16 = 64;

/// UDP's gso_segment: UDP_L4 segments or UFO fragments.
pub(super) fn udp4_gso_segment(ctx: &mut GsoCtx<'_>, skb: SkBuff) -> Result<Vec<SkBuff>> {
    let t = skb.gso.map(|g| g.gso_type).unwrap_or_default();
    if t.contains(GsoType::UDP_L4) {
        udp_gso_segment(ctx, skb)
    } else if t.contains(GsoType::UDP) {
        udp4_ufo_fragment(ctx, skb)
    } else {
        ctx.pool.recycle(skb);
        Err(GsoError::NoProto)
    }
}

/// Linux __udp_gso_segment(): datagrams of `gso_size` payload bytes (the last shorter),
/// each with its own UDP length and checksum. A packet no longer than one segment is
/// refused, as Linux does (EINVAL).
fn udp_gso_segment(ctx: &mut GsoCtx<'_>, mut skb: SkBuff) -> Result<Vec<SkBuff>> {
    let mss = skb.gso.map_or(0, |g| usize::from(g.size));
    if skb.headlen() < 8 || skb.len() <= 8 + mss || skb.pull(8).is_err() {
        ctx.pool.recycle(skb);
        return Err(GsoError::BadSize);
    }
    let Some(csum) = L4Csum::new(&skb, IPPROTO_UDP, UDP_CSUM_OFFSET, ctx.features) else {
        ctx.pool.recycle(skb);
        return Err(GsoError::BadHeader);
    };
    let mut segs = skb_segment(ctx.pool, skb, mss)?;
    let mut res = Ok(());
    for seg in segs.iter_mut() {
        if let Err(e) = csum.fill_udp(seg) {
            res = Err(e);
            break;
        }
    }
    segs_or_recycle(ctx.pool, segs, res)
}

/// Linux udp4_ufo_fragment(): the datagram's checksum is completed in software (no
/// device sums across fragments), then it is cut into IP fragments of `gso_size`
/// rounded down to 8; inet_gso_segment() gives them offsets and MF.
fn udp4_ufo_fragment(ctx: &mut GsoCtx<'_>, mut skb: SkBuff) -> Result<Vec<SkBuff>> {
    let mss = skb.gso.map_or(0, |g| usize::from(g.size)) & !7;
    let th = skb.transport_header();
    let nh_ok = skb.network_offset().is_some_and(|o| o <= -20);
    if mss == 0 || skb.headlen() < 8 || th.is_none() || !nh_ok {
        ctx.pool.recycle(skb);
        return Err(GsoError::BadSize);
    }
    // The IP header sits before data: read the addresses from it.
    let Some((saddr, daddr)) = skb.network_header_bytes().and_then(ip_addrs) else {
        ctx.pool.recycle(skb);
        return Err(GsoError::BadHeader);
    };
    let len = skb.len() as u32;
    let pseudo = !skiff_wire::checksum::csum_fold(skiff_wire::checksum::csum_tcpudp_nofold(
        saddr,
        daddr,
        len,
        IPPROTO_UDP,
        0,
    ));
    skb.data_mut()[UDP_CSUM_OFFSET..UDP_CSUM_OFFSET + 2].copy_from_slice(&pseudo.to_be_bytes());
    skb.ip_summed = ChecksumState::Partial {
        csum_start: th.unwrap_or(0),
        csum_offset: UDP_CSUM_OFFSET as u16,
    };
    if skb_checksum_help(&mut skb).is_err() {
        ctx.pool.recycle(skb);
        return Err(GsoError::BadCsum);
    }
    // Segments are fragments: their headers end at the IP header.
    skb_segment(ctx.pool, skb, mss)
}

/// Linux udp4_gro_receive() → udp_gro_receive() → udp_gro_receive_segment(). UDP is
/// merged for a local socket with UDP_GRO, for forwarding on a device with
/// GRO_UDP_FWD, and as fraglist GRO on a device with GRO_FRAGLIST (unless the socket
/// set UDP_GRO). Datagrams need a non-zero, valid checksum and the held flow's length;
/// a shorter one is merged last, a longer one ends the flow, and so do 64 datagrams.
pub(super) fn udp4_gro_receive(
    ctx: &mut GroCtx<'_>,
    held: &mut [GroHeld],
    skb: SkBuff,
    ip: &GroIp,
) -> GroRet {
    let d = skb.data();
    if d.len() < 8 {
        return GroRet::flush(skb, None);
    }
    let (sport, dport) = (
        u16::from_be_bytes([d[0], d[1]]),
        u16::from_be_bytes([d[2], d[3]]),
    );
    let ulen = usize::from(u16::from_be_bytes([d[4], d[5]]));
    let check = u16::from_be_bytes([d[6], d[7]]);
    let sk = (ctx.udp_sk)(ip, sport, dport);
    let is_flist = ctx.features.contains(NetdevFeatures::GRO_FRAGLIST) && sk.is_none_or(|gro| !gro);
    let allowed = (sk.is_none() && ctx.features.contains(NetdevFeatures::GRO_UDP_FWD))
        || sk == Some(true)
        || is_flist;
    // Padded, zero-checksum and bad-checksum datagrams go up unmerged.
    if !allowed || check == 0 || ulen <= 8 || ulen != d.len() || !csum_valid(&skb, ip, IPPROTO_UDP)
    {
        return GroRet::flush(skb, None);
    }
    let flow = flow_of(d);
    let Some(i) = held.iter().position(|p| p.same_flow(ip, flow)) else {
        return GroRet::hold(skb, new_cb(flow, ulen, is_flist));
    };
    let p = &mut held[i];
    if p.cb.is_flist != is_flist {
        return GroRet::flush_both(skb, i);
    }
    let flush = inet_gro_flush(ip, p);
    let first = usize::from(p.cb.first_ulen);
    if ulen > first || flush {
        return GroRet::hold_after(skb, i, new_cb(flow, ulen, is_flist));
    }
    let mut skb = skb;
    if skb.pull(8).is_err() {
        return GroRet::flush_both(skb, i);
    }
    if let Err(mut back) = skb_gro_receive(p, skb) {
        let _ = back.push(8);
        return GroRet::hold_after(back, i, new_cb(flow, ulen, is_flist));
    }
    if ulen != first || p.cb.count >= UDP_GRO_CNT_MAX {
        GroRet::pp(i)
    } else {
        GroRet::merged()
    }
}

fn new_cb(flow: u32, ulen: usize, is_flist: bool) -> GroCb {
    GroCb {
        flow,
        count: 1,
        gso_size: (ulen - 8) as u16,
        first_ulen: ulen as u16,
        is_flist,
        ..GroCb::default()
    }
}

/// Linux udp4_gro_complete() / udp_gro_complete(): the UDP length of the whole, the
/// pseudo-header sum in the checksum, UDP_L4 (with FRAGLIST for fraglist GRO).
pub(super) fn udp4_gro_complete(skb: &mut SkBuff, thoff: usize, cb: &GroCb) -> Result<()> {
    let ulen = skb
        .len()
        .checked_sub(thoff)
        .and_then(|l| u16::try_from(l).ok())
        .ok_or(GsoError::BadSize)?;
    let d = skb.data_mut();
    if d.len() < thoff + 8 {
        return Err(GsoError::BadHeader);
    }
    d[thoff + 4..thoff + 6].copy_from_slice(&ulen.to_be_bytes());
    let mut t = GsoType::UDP_L4;
    if cb.is_flist {
        t |= GsoType::FRAGLIST;
    }
    gro_complete_l4(skb, thoff, cb, IPPROTO_UDP, UDP_CSUM_OFFSET, t)
}
