//! The targets' packet work: Linux net/ipv4/netfilter/ipt_REJECT.c with nf_reject_ipv4.c,
//! and the SET-SADDR/SET-DADDR rewrite with its checksum helpers (nf_nat_proto.c,
//! net/core/utils.c, skbuff.c skb_checksum()).

use super::matches::PktInfo;
use crate::netfilter::hook::Reject;
use crate::netfilter::pkt::{header, skb_store_bits};
use crate::skb::{ChecksumState, SkBuff};
use skiff_wire::checksum::{
    csum_add, csum_block_add, csum_fold, csum_partial, csum_replace4, csum_sub, csum_tcpudp_nofold,
    csum_unfold,
};
use skiff_wire::icmpv4::Icmpv4Message;
use skiff_wire::ipv4::{
    IPPROTO_AH, IPPROTO_DCCP, IPPROTO_ESP, IPPROTO_GRE, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP,
    IPPROTO_UDPLITE,
};
use std::net::Ipv4Addr;

/// The ICMP error a REJECT sends, or `None` where Linux sends none: a non-first fragment,
/// or a transport checksum that does not verify. Linux net/ipv4/netfilter/nf_reject_ipv4.c
/// nf_send_unreach(), nf_reject_verify_csum(); net/netfilter/utils.c nf_ip_checksum().
pub(super) fn nf_send_unreach(skb: &SkBuff, p: &PktInfo, code: u8) -> Option<Reject> {
    if p.fragoff != 0 {
        return None;
    }
    let reject = Some(Reject {
        icmp_type: Icmpv4Message::DstUnreachable.raw(),
        code,
    });
    let verify = match p.proto {
        IPPROTO_UDP => p.l4_len < 8 || p.port(6) != 0,
        // GRE: only with its checksum-present bit.
        IPPROTO_GRE => p.l4_len < 2 || p.l4[0] & 0x80 != 0,
        // AH, ESP, SCTP, UDP-Lite, DCCP: other integrity checks or partial coverage.
        IPPROTO_AH | IPPROTO_ESP | IPPROTO_SCTP | IPPROTO_UDPLITE | IPPROTO_DCCP => false,
        _ => true,
    };
    if !verify
        || matches!(
            skb.ip_summed,
            ChecksumState::Unnecessary | ChecksumState::Partial { .. }
        )
    {
        return reject;
    }
    let len = skb.len().saturating_sub(p.thoff);
    let base = match p.proto {
        IPPROTO_TCP | IPPROTO_UDP => csum_tcpudp_nofold(
            Ipv4Addr::from(p.saddr),
            Ipv4Addr::from(p.daddr),
            len as u32,
            p.proto,
            0,
        ),
        _ => 0,
    };
    if csum_fold(skb_checksum(skb, p.thoff, base)) == 0 {
        reject
    } else {
        None
    }
}

/// The partial sum of the packet from `off` to its end, added to `sum`. Linux skb_checksum().
fn skb_checksum(skb: &SkBuff, off: usize, sum: u32) -> u32 {
    fn walk(skb: &SkBuff, off: &mut usize, pos: &mut usize, sum: &mut u32) {
        let d = skb.data();
        if *off < d.len() {
            *sum = csum_block_add(*sum, csum_partial(&d[*off..], 0), *pos);
            *pos += d.len() - *off;
            *off = 0;
        } else {
            *off -= d.len();
        }
        for frag in &skb.frag_list {
            walk(frag, off, pos, sum);
        }
    }
    let (mut off, mut pos, mut sum) = (off, 0, sum);
    walk(skb, &mut off, &mut pos, &mut sum);
    sum
}

/// SET-SADDR / SET-DADDR: rewrites an address with RFC 1624 updates of the IPv4 header
/// checksum and, in a first fragment, of the TCP/UDP checksum over the pseudo-header.
/// Linux nf_nat_proto.c nf_nat_ipv4_manip_pkt(), l4proto_manip_pkt().
pub(super) fn set_addr(skb: &mut SkBuff, p: &PktInfo, src: bool, to: Ipv4Addr) {
    let (old, new) = (if src { p.saddr } else { p.daddr }, u32::from(to));
    let at = if src { 12 } else { 16 };
    // PktInfo::read proved the header is in the linear data.
    let d = skb.data_mut();
    let check = u16::from_be_bytes([d[10], d[11]]);
    d[10..12].copy_from_slice(&csum_replace4(check, old, new).to_be_bytes());
    d[at..at + 4].copy_from_slice(&new.to_be_bytes());
    if p.fragoff != 0 {
        return;
    }
    match p.proto {
        IPPROTO_TCP if p.l4_len >= 20 => {
            inet_proto_csum_replace4(skb, p.thoff + 16, old, new, false);
        }
        // A UDP checksum of 0 means "none" and stays 0.
        IPPROTO_UDP
            if p.l4_len >= 8
                && (p.port(6) != 0 || matches!(skb.ip_summed, ChecksumState::Partial { .. })) =>
        {
            inet_proto_csum_replace4(skb, p.thoff + 6, old, new, true);
        }
        _ => {}
    }
}

/// Updates the checksum field at `off` for a pseudo-header word changing from `old` to
/// `new`; for `CHECKSUM_PARTIAL` the field holds the uncomplemented pseudo-header sum, and
/// a `CHECKSUM_COMPLETE` sum follows the field's change. `udp`: a result of 0 is sent as
/// 0xffff (`CSUM_MANGLED_0`). Linux net/core/utils.c inet_proto_csum_replace4().
fn inet_proto_csum_replace4(skb: &mut SkBuff, off: usize, old: u32, new: u32, udp: bool) {
    let Some(field) = header::<2>(skb, off) else {
        return;
    };
    let check = u16::from_be_bytes(field);
    let mut updated = match skb.ip_summed {
        ChecksumState::Partial { .. } => {
            !csum_fold(csum_add(csum_sub(csum_unfold(check), old), new))
        }
        state => {
            if let ChecksumState::Complete(sum) = state {
                skb.ip_summed = ChecksumState::Complete(!csum_add(csum_sub(!sum, old), new));
            }
            csum_replace4(check, old, new)
        }
    };
    if udp && updated == 0 {
        updated = 0xffff;
    }
    skb_store_bits(skb, off, &updated.to_be_bytes());
}
