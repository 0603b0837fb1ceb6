//! The matches: Linux net/ipv4/netfilter/ip_tables.c ip_packet_match() and icmp_match(),
//! net/netfilter/xt_tcpudp.c, ipt_ttl.c and xt_mark.c.

use super::types::{AddrMatch, ICMP_TYPE_ANY, IfMatch, Matches, PROTO_ALL, PortMatch, TtlMatch};
use crate::netfilter::hook::{NfDev, NfHookState};
use crate::netfilter::pkt::skb_copy_bits;
use crate::skb::SkBuff;
use skiff_wire::ipv4::{IPPROTO_TCP, Ipv4Packet};

/// The fields the matches read, taken once per packet (again after an address rewrite).
pub(super) struct PktInfo {
    pub(super) saddr: u32,
    pub(super) daddr: u32,
    pub(super) proto: u8,
    pub(super) ttl: u8,
    /// Fragment offset in 8-byte units (Linux `par->fragoff`).
    pub(super) fragoff: u16,
    /// Transport header offset from `data`.
    pub(super) thoff: usize,
    /// The first bytes of the transport header, `l4_len` of them present.
    pub(super) l4: [u8; 20],
    pub(super) l4_len: usize,
}

impl PktInfo {
    /// `None` when the linear data does not start with a well-formed IPv4 header.
    pub(super) fn read(skb: &SkBuff) -> Option<PktInfo> {
        let ip = Ipv4Packet::new_unchecked(skb.data());
        ip.check_header_len().ok()?;
        let thoff = ip.header_len();
        let l4_len = skb.len().saturating_sub(thoff).min(20);
        let mut l4 = [0u8; 20];
        skb_copy_bits(skb, thoff, &mut l4[..l4_len]);
        Some(PktInfo {
            saddr: u32::from(ip.src()),
            daddr: u32::from(ip.dst()),
            proto: ip.protocol().into(),
            ttl: ip.ttl(),
            fragoff: ip.frag_off() & skiff_wire::ipv4::IP_OFFSET,
            thoff,
            l4,
            l4_len,
        })
    }

    pub(super) fn port(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.l4[at], self.l4[at + 1]])
    }
}

pub(super) enum MatchResult {
    No,
    Yes,
    HotDrop,
}

impl AddrMatch {
    fn matches(&self, addr: u32) -> bool {
        (addr & self.mask == self.addr) != self.inv
    }
}

impl IfMatch {
    fn matches(&self, dev: Option<NfDev>) -> bool {
        let name = dev.as_ref().map_or("", |d| d.name.as_str());
        let hit = if self.wildcard {
            name.starts_with(self.name.as_str())
        } else {
            name == self.name
        };
        hit != self.inv
    }
}

impl PortMatch {
    fn matches(&self, port: u16) -> bool {
        (self.min <= port && port <= self.max) != self.inv
    }
}

impl Matches {
    /// Linux ip_packet_match(), then the protocol match (tcp_mt/udp_mt/icmp_match, which
    /// never match a non-first fragment and hotdrop a header they cannot read), ttl, mark.
    pub(super) fn matches(&self, p: &PktInfo, mark: u32, state: &NfHookState) -> MatchResult {
        use MatchResult::*;
        let ip_ok = self.src.is_none_or(|a| a.matches(p.saddr))
            && self.dst.is_none_or(|a| a.matches(p.daddr))
            && self.in_if.as_ref().is_none_or(|i| i.matches(state.in_dev))
            && self
                .out_if
                .as_ref()
                .is_none_or(|i| i.matches(state.out_dev))
            && self
                .proto
                .is_none_or(|(proto, inv)| proto == PROTO_ALL || (p.proto == proto) != inv)
            && self.frag.is_none_or(|inv| (p.fragoff != 0) != inv);
        if !ip_ok {
            return No;
        }
        if self.sport.is_some() || self.dport.is_some() {
            if p.fragoff != 0 {
                // xt_tcpudp: a TCP fragment at offset 8 bytes could rewrite the header
                // (RFC 1858 §3.2): "Dropping evil TCP offset=1 frag".
                return if p.proto == IPPROTO_TCP && p.fragoff == 1 {
                    HotDrop
                } else {
                    No
                };
            }
            let need = if p.proto == IPPROTO_TCP { 20 } else { 8 };
            if p.l4_len < need {
                return HotDrop;
            }
            if !(self.sport.is_none_or(|m| m.matches(p.port(0)))
                && self.dport.is_none_or(|m| m.matches(p.port(2))))
            {
                return No;
            }
        }
        if let Some(m) = self.icmp {
            if p.fragoff != 0 {
                return No;
            }
            if p.l4_len < 8 {
                return HotDrop;
            }
            let (ty, code) = (p.l4[0], p.l4[1]);
            let hit =
                m.ty == ICMP_TYPE_ANY || (ty == m.ty && m.code_min <= code && code <= m.code_max);
            if hit == m.inv {
                return No;
            }
        }
        let ttl_ok = match self.ttl {
            None => true,
            Some(TtlMatch::Eq(t)) => p.ttl == t,
            Some(TtlMatch::Ne(t)) => p.ttl != t,
            Some(TtlMatch::Lt(t)) => p.ttl < t,
            Some(TtlMatch::Gt(t)) => p.ttl > t,
        };
        let mark_ok = self.mark.is_none_or(|m| (mark & m.mask == m.mark) != m.inv);
        if ttl_ok && mark_ok { Yes } else { No }
    }
}
