//! TCP offloads. Linux net/ipv4/tcp_offload.c tcp4_gso_segment(), tcp_gso_segment(),
//! tcp4_gro_receive(), tcp_gro_receive(), tcp4_gro_complete().

use super::gro::{
    GroCb, GroCtx, GroHeld, GroIp, GroRet, csum_valid, flow_of, gro_complete_l4, inet_gro_flush,
    skb_gro_receive,
};
use super::gso::{GsoError, L4Csum, Result, TCP_CSUM_OFFSET, segs_or_recycle, skb_segment};
use super::registry::GsoCtx;
use crate::skb::{GsoType, SkBuff};
use skiff_wire::ipv4::IPPROTO_TCP;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const URG: u8 = 0x20;
const CWR: u8 = 0x80;

/// Linux tcp4_gso_segment() / tcp_gso_segment(): segments of `gso_size` payload bytes;
/// the sequence number advances by each segment's payload, CWR stays on the first
/// segment only, FIN and PSH on the last only, and each checksum is left partial or
/// computed as the features say.
pub(super) fn tcp4_gso_segment(ctx: &mut GsoCtx<'_>, mut skb: SkBuff) -> Result<Vec<SkBuff>> {
    let gso = skb.gso.filter(|g| g.gso_type.contains(GsoType::TCPV4));
    let Some(gso) = gso else {
        ctx.pool.recycle(skb);
        return Err(GsoError::NoProto);
    };
    let d = skb.data();
    let thlen = d.get(12).map_or(0, |b| usize::from(b >> 4) * 4);
    if d.len() < 20 || thlen < 20 || thlen > d.len() {
        ctx.pool.recycle(skb);
        return Err(GsoError::BadHeader);
    }
    let seq = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
    let flags = d[13];
    let mss = usize::from(gso.size);
    if skb.pull(thlen).is_err() {
        ctx.pool.recycle(skb);
        return Err(GsoError::BadHeader);
    }
    let Some(csum) = L4Csum::new(&skb, IPPROTO_TCP, TCP_CSUM_OFFSET, ctx.features) else {
        ctx.pool.recycle(skb);
        return Err(GsoError::BadHeader);
    };
    let th = csum.thoff();
    let mut segs = skb_segment(ctx.pool, skb, mss)?;
    let n = segs.len();
    let mut res = Ok(());
    for (i, seg) in segs.iter_mut().enumerate() {
        let d = seg.data_mut();
        let s = seq.wrapping_add((i * mss) as u32);
        d[th + 4..th + 8].copy_from_slice(&s.to_be_bytes());
        let mut f = flags;
        if i > 0 {
            f &= !CWR;
        }
        if i + 1 < n {
            f &= !(FIN | PSH);
        }
        d[th + 13] = f;
        if let Err(e) = csum.fill(seg) {
            res = Err(e);
            break;
        }
    }
    segs_or_recycle(ctx.pool, segs, res)
}

/// The header facts TCP GRO compares. `data` is at the TCP header.
struct Th {
    /// Data offset, flags and window: Linux tcp_flag_word().
    word: u32,
    seq: u32,
    ack: u32,
    thlen: usize,
    flags: u8,
}

fn parse_th(d: &[u8]) -> Option<Th> {
    let thlen = usize::from(*d.get(12)? >> 4) * 4;
    if d.len() < 20 || thlen < 20 || thlen > d.len() {
        return None;
    }
    Some(Th {
        word: u32::from_be_bytes([d[12], d[13], d[14], d[15]]),
        seq: u32::from_be_bytes([d[4], d[5], d[6], d[7]]),
        ack: u32::from_be_bytes([d[8], d[9], d[10], d[11]]),
        thlen,
        flags: d[13],
    })
}

/// Linux tcp4_gro_receive() + tcp_gro_receive(): merge an in-order segment of a held
/// flow when every header field but the sequence number, checksum, CWR, FIN and PSH
/// matches (options included), it carries at most the first segment's payload, and IDs
/// follow; a short segment or URG/PSH/RST/SYN/FIN ends the flow.
pub(super) fn tcp4_gro_receive(
    _ctx: &mut GroCtx<'_>,
    held: &mut [GroHeld],
    skb: SkBuff,
    ip: &GroIp,
) -> GroRet {
    let Some(th) = parse_th(skb.data()) else {
        return GroRet::flush(skb, None);
    };
    if !csum_valid(&skb, ip, IPPROTO_TCP) {
        return GroRet::flush(skb, None);
    }
    let len = skb.len() - th.thlen;
    let end_flags = th.flags & (URG | PSH | RST | SYN | FIN) != 0;
    let ports = flow_of(skb.data());
    let Some(i) = held.iter().position(|p| p.same_flow(ip, ports)) else {
        return if len == 0 || end_flags {
            GroRet::flush(skb, None)
        } else {
            GroRet::hold(skb, new_cb(ports, len, th.seq))
        };
    };
    let p = &mut held[i];
    let Some(p_th) = p.skb.data().get(p.ip.ihl..).and_then(parse_th) else {
        return GroRet::flush_both(skb, i);
    };
    let mask = !(u32::from(CWR | FIN | PSH) << 16);
    let options_differ = {
        let a = &skb.data()[20..th.thlen];
        let o = p.ip.ihl + 20;
        p.skb.data().get(o..o + a.len()) != Some(a)
    };
    let mut flush = th.flags & CWR != 0
        || (th.word ^ p_th.word) & mask != 0
        || th.ack != p_th.ack
        || options_differ;
    flush |= inet_gro_flush(ip, p);
    let mss = usize::from(p.cb.gso_size);
    flush |= len == 0 || len > mss;
    flush |= th.seq != p.cb.next_seq;
    if flush {
        return if len == 0 || end_flags {
            GroRet::flush_both(skb, i)
        } else {
            GroRet::hold_after(skb, i, new_cb(ports, len, th.seq))
        };
    }
    let mut skb = skb;
    if skb.pull(th.thlen).is_err() {
        return GroRet::flush_both(skb, i);
    }
    if let Err(back) = skb_gro_receive(p, skb) {
        skb = back;
        let _ = skb.push(th.thlen);
        return GroRet::hold_after(skb, i, new_cb(ports, len, th.seq));
    }
    p.cb.next_seq = p.cb.next_seq.wrapping_add(len as u32);
    let o = p.ip.ihl + 13;
    p.skb.data_mut()[o] |= th.flags & (FIN | PSH);
    if len < mss || end_flags {
        GroRet::pp(i)
    } else {
        GroRet::merged()
    }
}

fn new_cb(flow: u32, len: usize, seq: u32) -> GroCb {
    GroCb {
        flow,
        count: 1,
        gso_size: len as u16,
        next_seq: seq.wrapping_add(len as u32),
        ..GroCb::default()
    }
}

/// Linux tcp4_gro_complete() / tcp_gro_complete(): the pseudo-header sum in the checksum
/// (left partial), TCPV4 with ECN for CWR, FIXEDID for a flow with a fixed IP ID.
pub(super) fn tcp4_gro_complete(skb: &mut SkBuff, thoff: usize, cb: &GroCb) -> Result<()> {
    let cwr = skb.data().get(thoff + 13).is_some_and(|f| f & CWR != 0);
    let mut t = GsoType::TCPV4;
    if cwr {
        t |= GsoType::TCP_ECN;
    }
    if cb.ip_fixedid {
        t |= GsoType::TCP_FIXEDID;
    }
    gro_complete_l4(skb, thoff, cb, IPPROTO_TCP, TCP_CSUM_OFFSET, t)
}
