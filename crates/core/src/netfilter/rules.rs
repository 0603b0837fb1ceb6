//! The rule table: an iptables-like subset with one chain per hook. Linux
//! net/ipv4/netfilter/ip_tables.c ipt_do_table(), ip_packet_match(); the matches of
//! xt_tcpudp.c, ip_tables.c icmp_match(), ipt_ttl.c, xt_mark.c; the targets of ipt_REJECT.c,
//! xt_MARK.c, xt_LOG.c, xt_NFQUEUE.c; and the listing of iptables -L -v -n.
//!
//! One rule per line, `#` starts a comment (outside quotes):
//! ```text
//! -P INPUT DROP
//! -A INPUT -i eth0 -p udp ! --dport 53 -j LOG --log-prefix "udp: "
//! -A INPUT -s 10.0.0.0/8 -p icmp --icmp-type echo-request -j ACCEPT
//! -A FORWARD -p tcp --dport 22 -j REJECT --reject-with icmp-host-prohibited
//! ```
//! The protocol match (ports, ICMP type) is evaluated before `--ttl-*` and `--mark`.
//! Names are exact (no prefix abbreviations, no service or host names).

use super::log::{LogRing, nf_log_ip_packet};
use super::{NfDrop, NfHookState, NfInetHook, Reject, header, skb_copy_bits, skb_store_bits};
use crate::skb::{ChecksumState, SkBuff};
use core::fmt::{self, Write};
use skiff_wire::checksum::{
    csum_add, csum_block_add, csum_fold, csum_partial, csum_replace4, csum_sub, csum_tcpudp_nofold,
    csum_unfold,
};
use skiff_wire::ipv4::Ipv4Packet;
use std::net::Ipv4Addr;

/// Rules in one table, all chains together.
pub const MAX_RULES: usize = 16_384;

/// Longest `--log-prefix`. iptables LOG: 29 characters.
const LOG_PREFIX_MAX: usize = 29;

const IPPROTO_ICMP: u8 = 1;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// A rule set that does not parse: the 1-based line and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub line: usize,
    pub what: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.what)
    }
}

impl std::error::Error for RuleError {}

#[derive(Debug, Clone, Copy, Default)]
struct Counter {
    pcnt: u64,
    bcnt: u64,
}

impl Counter {
    fn add(&mut self, len: usize) {
        self.pcnt = self.pcnt.wrapping_add(1);
        self.bcnt = self.bcnt.wrapping_add(len as u64);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Policy {
    #[default]
    Accept,
    Drop,
}

#[derive(Debug, Default)]
struct Chain {
    policy: Policy,
    policy_cnt: Counter,
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    m: Matches,
    target: Target,
    cnt: Counter,
}

#[derive(Debug, Clone, Copy)]
struct AddrMatch {
    addr: u32,
    mask: u32,
    inv: bool,
}

#[derive(Debug, Clone)]
struct IfMatch {
    /// The name without a trailing `+`.
    name: String,
    /// `eth+`: any interface whose name starts with `name`.
    wildcard: bool,
    inv: bool,
}

#[derive(Debug, Clone, Copy)]
struct PortMatch {
    min: u16,
    max: u16,
    inv: bool,
}

#[derive(Debug, Clone, Copy)]
struct IcmpMatch {
    /// 0xff is `any`.
    ty: u8,
    code_min: u8,
    code_max: u8,
    inv: bool,
}

#[derive(Debug, Clone, Copy)]
enum TtlMatch {
    Eq(u8),
    Ne(u8),
    Lt(u8),
    Gt(u8),
}

#[derive(Debug, Clone, Copy)]
struct MarkMatch {
    mark: u32,
    mask: u32,
    inv: bool,
}

#[derive(Debug, Default)]
struct Matches {
    src: Option<AddrMatch>,
    dst: Option<AddrMatch>,
    in_if: Option<IfMatch>,
    out_if: Option<IfMatch>,
    /// Protocol 0 is `all`.
    proto: Option<(u8, bool)>,
    /// `-f`, with its negation flag.
    frag: Option<bool>,
    sport: Option<PortMatch>,
    dport: Option<PortMatch>,
    icmp: Option<IcmpMatch>,
    ttl: Option<TtlMatch>,
    mark: Option<MarkMatch>,
}

#[derive(Debug, Clone)]
enum Target {
    /// `-A CHAIN ...` without `-j`: the rule only counts.
    None,
    Accept,
    Drop,
    /// The ICMP destination-unreachable code.
    Reject(u8),
    /// xt_MARK: `mark = (mark & !mask) ^ value`.
    Mark {
        value: u32,
        mask: u32,
    },
    SetSaddr(Ipv4Addr),
    SetDaddr(Ipv4Addr),
    Log {
        prefix: String,
    },
    Nfqueue {
        num: u16,
        bypass: bool,
    },
}

/// `--reject-with` names, their iptables aliases and ICMP destination-unreachable codes.
const REJECT_WITH: &[(&str, &str, u8)] = &[
    ("icmp-net-unreachable", "net-unreach", 0),
    ("icmp-host-unreachable", "host-unreach", 1),
    ("icmp-proto-unreachable", "proto-unreach", 2),
    ("icmp-port-unreachable", "port-unreach", 3),
    ("icmp-net-prohibited", "net-prohib", 9),
    ("icmp-host-prohibited", "host-prohib", 10),
    ("icmp-admin-prohibited", "admin-prohib", 13),
];

/// `--icmp-type` names: type and code range (iptables' table of names).
const ICMP_NAMES: &[(&str, u8, u8, u8)] = &[
    ("any", 0xff, 0, 0xff),
    ("echo-reply", 0, 0, 0xff),
    ("pong", 0, 0, 0xff),
    ("destination-unreachable", 3, 0, 0xff),
    ("network-unreachable", 3, 0, 0),
    ("host-unreachable", 3, 1, 1),
    ("protocol-unreachable", 3, 2, 2),
    ("port-unreachable", 3, 3, 3),
    ("fragmentation-needed", 3, 4, 4),
    ("source-route-failed", 3, 5, 5),
    ("network-unknown", 3, 6, 6),
    ("host-unknown", 3, 7, 7),
    ("network-prohibited", 3, 9, 9),
    ("host-prohibited", 3, 10, 10),
    ("tos-network-unreachable", 3, 11, 11),
    ("tos-host-unreachable", 3, 12, 12),
    ("communication-prohibited", 3, 13, 13),
    ("host-precedence-violation", 3, 14, 14),
    ("precedence-cutoff", 3, 15, 15),
    ("source-quench", 4, 0, 0xff),
    ("redirect", 5, 0, 0xff),
    ("network-redirect", 5, 0, 0),
    ("host-redirect", 5, 1, 1),
    ("tos-network-redirect", 5, 2, 2),
    ("tos-host-redirect", 5, 3, 3),
    ("echo-request", 8, 0, 0xff),
    ("ping", 8, 0, 0xff),
    ("router-advertisement", 9, 0, 0xff),
    ("router-solicitation", 10, 0, 0xff),
    ("time-exceeded", 11, 0, 0xff),
    ("ttl-exceeded", 11, 0, 0xff),
    ("ttl-zero-during-transit", 11, 0, 0),
    ("ttl-zero-during-reassembly", 11, 1, 1),
    ("parameter-problem", 12, 0, 0xff),
    ("ip-header-bad", 12, 0, 0),
    ("required-option-missing", 12, 1, 1),
    ("timestamp-request", 13, 0, 0xff),
    ("timestamp-reply", 14, 0, 0xff),
    ("address-mask-request", 17, 0, 0xff),
    ("address-mask-reply", 18, 0, 0xff),
];

/// Protocol names iptables prints even with `-n`.
const PROTO_NAMES: &[(&str, u8)] = &[
    ("all", 0),
    ("icmp", 1),
    ("igmp", 2),
    ("tcp", 6),
    ("udp", 17),
    ("esp", 50),
    ("ah", 51),
    ("sctp", 132),
    ("udplite", 136),
];

/// What the table decided for a packet.
pub(super) enum TableVerdict {
    Accept,
    Drop { reject: Option<Reject>, why: NfDrop },
    Queue { num: u16, bypass: bool },
}

/// The fields the matches read, taken once per packet (again after an address rewrite).
struct PktInfo {
    saddr: u32,
    daddr: u32,
    proto: u8,
    ttl: u8,
    /// Fragment offset in 8-byte units (Linux `par->fragoff`).
    fragoff: u16,
    /// Transport header offset from `data`.
    thoff: usize,
    /// The first bytes of the transport header, `l4_len` of them present.
    l4: [u8; 20],
    l4_len: usize,
}

impl PktInfo {
    /// `None` when the linear data does not start with a well-formed IPv4 header.
    fn read(skb: &SkBuff) -> Option<PktInfo> {
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

    fn port(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.l4[at], self.l4[at + 1]])
    }
}

enum MatchResult {
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
    fn matches(&self, dev: Option<super::NfDev>) -> bool {
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
    fn matches(&self, p: &PktInfo, mark: u32, state: &NfHookState) -> MatchResult {
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
                .is_none_or(|(proto, inv)| proto == 0 || (p.proto == proto) != inv)
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
            let hit = m.ty == 0xff || (ty == m.ty && m.code_min <= code && code <= m.code_max);
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

#[derive(Debug, Default)]
pub(super) struct RuleTable {
    chains: [Chain; 5],
}

impl RuleTable {
    /// The chain of `hook` has no rules and an ACCEPT policy: walking it changes nothing.
    #[inline]
    pub fn is_inert(&self, hook: NfInetHook) -> bool {
        let chain = &self.chains[hook.index()];
        chain.rules.is_empty() && chain.policy == Policy::Accept
    }

    /// Runs the chain of `state.hook`. Linux ip_tables.c ipt_do_table().
    pub fn ipt_do_table(
        &mut self,
        skb: &mut SkBuff,
        state: &NfHookState,
        log: &mut LogRing,
    ) -> TableVerdict {
        let hotdrop = TableVerdict::Drop {
            reject: None,
            why: NfDrop::HotDrop,
        };
        let Some(mut p) = PktInfo::read(skb) else {
            return hotdrop;
        };
        let chain = &mut self.chains[state.hook.index()];
        for rule in &mut chain.rules {
            match rule.m.matches(&p, skb.mark, state) {
                MatchResult::No => continue,
                MatchResult::HotDrop => return hotdrop,
                MatchResult::Yes => rule.cnt.add(skb.len()),
            }
            match &rule.target {
                Target::None => {}
                Target::Accept => return TableVerdict::Accept,
                Target::Drop => {
                    return TableVerdict::Drop {
                        reject: None,
                        why: NfDrop::Verdict,
                    };
                }
                Target::Reject(code) => {
                    return TableVerdict::Drop {
                        reject: nf_send_unreach(skb, &p, *code),
                        why: NfDrop::Verdict,
                    };
                }
                Target::Mark { value, mask } => skb.mark = (skb.mark & !mask) ^ value,
                Target::Log { prefix } => log.push(nf_log_ip_packet(prefix, state, skb)),
                Target::SetSaddr(a) | Target::SetDaddr(a) => {
                    set_addr(skb, &p, matches!(rule.target, Target::SetSaddr(_)), *a);
                    match PktInfo::read(skb) {
                        Some(again) => p = again,
                        None => return hotdrop,
                    }
                }
                Target::Nfqueue { num, bypass } => {
                    return TableVerdict::Queue {
                        num: *num,
                        bypass: *bypass,
                    };
                }
            }
        }
        chain.policy_cnt.add(skb.len());
        match chain.policy {
            Policy::Accept => TableVerdict::Accept,
            Policy::Drop => TableVerdict::Drop {
                reject: None,
                why: NfDrop::Verdict,
            },
        }
    }
}

/// The ICMP error a REJECT sends, or `None` where Linux sends none: a non-first fragment,
/// or a transport checksum that does not verify. Linux net/ipv4/netfilter/nf_reject_ipv4.c
/// nf_send_unreach(), nf_reject_verify_csum(); net/netfilter/utils.c nf_ip_checksum().
fn nf_send_unreach(skb: &SkBuff, p: &PktInfo, code: u8) -> Option<Reject> {
    if p.fragoff != 0 {
        return None;
    }
    let reject = Some(Reject { icmp_type: 3, code });
    let verify = match p.proto {
        IPPROTO_UDP => p.l4_len < 8 || p.port(6) != 0,
        // GRE: only with its checksum-present bit.
        47 => p.l4_len < 2 || p.l4[0] & 0x80 != 0,
        // AH, ESP, SCTP, UDP-Lite, DCCP: other integrity checks or partial coverage.
        51 | 50 | 132 | 136 | 33 => false,
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
fn set_addr(skb: &mut SkBuff, p: &PktInfo, src: bool, to: Ipv4Addr) {
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

/// Splits a line into words; double or single quotes group (and are removed), an unquoted
/// `#` starts a comment.
fn tokenize(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.peek() {
            None | Some('#') => return Ok(words),
            Some(_) => {}
        }
        let mut word = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
            if c == '"' || c == '\'' {
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some(other) => word.push(other),
                        None => return Err("unterminated quote".into()),
                    }
                }
            } else {
                word.push(c);
            }
        }
        words.push(word);
    }
}

fn chain_of(name: &str) -> Result<NfInetHook, String> {
    NfInetHook::ALL
        .into_iter()
        .find(|h| h.chain_name() == name)
        .ok_or_else(|| format!("unknown chain `{name}'"))
}

/// A decimal or `0x` hexadecimal number.
fn parse_num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn parse_u8(s: &str, what: &str) -> Result<u8, String> {
    parse_num(s)
        .and_then(|n| u8::try_from(n).ok())
        .ok_or_else(|| format!("invalid {what} `{s}'"))
}

fn parse_u16(s: &str, what: &str) -> Result<u16, String> {
    parse_num(s)
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| format!("invalid {what} `{s}'"))
}

/// `V[/M]`, both `u32`; the mask defaults to all ones.
fn parse_value_mask(s: &str, what: &str) -> Result<(u32, u32), String> {
    let bad = || format!("invalid {what} `{s}'");
    let num = |t: &str| {
        parse_num(t)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(bad)
    };
    match s.split_once('/') {
        Some((v, m)) => Ok((num(v)?, num(m)?)),
        None => Ok((num(s)?, u32::MAX)),
    }
}

fn parse_addr(s: &str, inv: bool) -> Result<AddrMatch, String> {
    let bad = || format!("invalid address `{s}'");
    let (a, mask) = match s.split_once('/') {
        None => (s, u32::MAX),
        Some((a, m)) => {
            let mask = match m.parse::<u32>() {
                Ok(0) => 0,
                Ok(len @ 1..=32) => u32::MAX << (32 - len),
                Ok(_) => return Err(bad()),
                Err(_) => u32::from(m.parse::<Ipv4Addr>().map_err(|_| bad())?),
            };
            (a, mask)
        }
    };
    let addr = u32::from(a.parse::<Ipv4Addr>().map_err(|_| bad())?);
    Ok(AddrMatch {
        addr: addr & mask,
        mask,
        inv,
    })
}

fn parse_iface(s: &str, inv: bool) -> Result<IfMatch, String> {
    if s.len() >= super::IFNAMSIZ {
        return Err(format!(
            "interface name `{s}' must be shorter than IFNAMSIZ ({})",
            super::IFNAMSIZ
        ));
    }
    let (name, wildcard) = match s.strip_suffix('+') {
        Some(prefix) => (prefix, true),
        None => (s, false),
    };
    if name.is_empty() && !wildcard {
        return Err("empty interface name".into());
    }
    Ok(IfMatch {
        name: name.into(),
        wildcard,
        inv,
    })
}

fn parse_proto(s: &str) -> Result<u8, String> {
    PROTO_NAMES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
        .map(|(_, n)| *n)
        .map_or_else(|| parse_u8(s, "protocol"), Ok)
}

/// `N`, `N:M`, `:M` or `N:`.
fn parse_ports(s: &str, inv: bool) -> Result<PortMatch, String> {
    let (min, max) = match s.split_once(':') {
        None => {
            let p = parse_u16(s, "port")?;
            (p, p)
        }
        Some((a, b)) => (
            if a.is_empty() {
                0
            } else {
                parse_u16(a, "port")?
            },
            if b.is_empty() {
                u16::MAX
            } else {
                parse_u16(b, "port")?
            },
        ),
    };
    if min > max {
        return Err(format!("invalid port range `{s}' (min > max)"));
    }
    Ok(PortMatch { min, max, inv })
}

fn parse_icmp_type(s: &str, inv: bool) -> Result<IcmpMatch, String> {
    if let Some(&(_, ty, code_min, code_max)) =
        ICMP_NAMES.iter().find(|(n, ..)| n.eq_ignore_ascii_case(s))
    {
        return Ok(IcmpMatch {
            ty,
            code_min,
            code_max,
            inv,
        });
    }
    let (ty, codes) = match s.split_once('/') {
        Some((t, c)) => {
            let c = parse_u8(c, "ICMP code")?;
            (t, (c, c))
        }
        None => (s, (0, 0xff)),
    };
    Ok(IcmpMatch {
        ty: parse_u8(ty, "ICMP type")?,
        code_min: codes.0,
        code_max: codes.1,
        inv,
    })
}

fn set_once<T>(slot: &mut Option<T>, value: T, opt: &str) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("multiple {opt} options are not allowed"));
    }
    *slot = Some(value);
    Ok(())
}

/// Target options seen on a line, checked against the target at the end.
#[derive(Default)]
struct TargetOpts {
    reject_with: Option<u8>,
    set_mark: Option<(u32, u32)>,
    to: Option<Ipv4Addr>,
    log_prefix: Option<String>,
    queue_num: Option<u16>,
    queue_bypass: bool,
}

impl TargetOpts {
    fn build(mut self, name: Option<&str>) -> Result<Target, String> {
        let target = match name {
            None => Target::None,
            Some("ACCEPT") => Target::Accept,
            Some("DROP") => Target::Drop,
            Some("REJECT") => Target::Reject(self.reject_with.take().unwrap_or(3)),
            Some("MARK") => {
                let (value, mask) = self.set_mark.take().ok_or("MARK needs --set-mark")?;
                // libxt_MARK: --set-mark V/M clears V|M, then sets V.
                Target::Mark {
                    value,
                    mask: value | mask,
                }
            }
            Some(t @ ("SET-SADDR" | "SET-DADDR")) => {
                let to = self.to.take().ok_or_else(|| format!("{t} needs --to"))?;
                if t == "SET-SADDR" {
                    Target::SetSaddr(to)
                } else {
                    Target::SetDaddr(to)
                }
            }
            Some("LOG") => Target::Log {
                prefix: self.log_prefix.take().unwrap_or_default(),
            },
            Some("NFQUEUE") => Target::Nfqueue {
                num: self.queue_num.take().unwrap_or(0),
                bypass: core::mem::take(&mut self.queue_bypass),
            },
            Some(other) => return Err(format!("unknown target `{other}'")),
        };
        let leftover = [
            (self.reject_with.is_some(), "--reject-with"),
            (self.set_mark.is_some(), "--set-mark"),
            (self.to.is_some(), "--to"),
            (self.log_prefix.is_some(), "--log-prefix"),
            (self.queue_num.is_some(), "--queue-num"),
            (self.queue_bypass, "--queue-bypass"),
        ];
        if let Some((_, opt)) = leftover.iter().find(|(set, _)| *set) {
            return Err(format!(
                "{opt} is not an option of target {}",
                name.unwrap_or("(none)")
            ));
        }
        Ok(target)
    }
}

/// One `-A CHAIN ...` rule (the words after the chain).
fn parse_rule(hook: NfInetHook, words: &[String]) -> Result<Rule, String> {
    let mut m = Matches::default();
    let mut opts = TargetOpts::default();
    let mut target: Option<&str> = None;
    let mut neg = false;
    let mut it = words.iter();
    while let Some(word) = it.next() {
        let opt = word.as_str();
        if opt == "!" {
            if neg {
                return Err("multiple `!' flags not allowed".into());
            }
            neg = true;
            continue;
        }
        let inv = core::mem::take(&mut neg);
        let mut arg = || {
            it.next()
                .map(String::as_str)
                .ok_or_else(|| format!("option {opt} requires an argument"))
        };
        let negatable = matches!(
            opt,
            "-s" | "--source"
                | "--src"
                | "-d"
                | "--destination"
                | "--dst"
                | "-i"
                | "--in-interface"
                | "-o"
                | "--out-interface"
                | "-p"
                | "--protocol"
                | "-f"
                | "--fragment"
                | "--sport"
                | "--source-port"
                | "--dport"
                | "--destination-port"
                | "--icmp-type"
                | "--ttl-eq"
                | "--mark"
        );
        if inv && !negatable {
            return Err(format!("{opt} cannot be negated with `!'"));
        }
        match opt {
            "-s" | "--source" | "--src" => set_once(&mut m.src, parse_addr(arg()?, inv)?, "-s")?,
            "-d" | "--destination" | "--dst" => {
                set_once(&mut m.dst, parse_addr(arg()?, inv)?, "-d")?
            }
            "-i" | "--in-interface" => set_once(&mut m.in_if, parse_iface(arg()?, inv)?, "-i")?,
            "-o" | "--out-interface" => set_once(&mut m.out_if, parse_iface(arg()?, inv)?, "-o")?,
            "-p" | "--protocol" => {
                let proto = parse_proto(arg()?)?;
                if proto == 0 && inv {
                    return Err("rule would never match protocol (! -p all)".into());
                }
                set_once(&mut m.proto, (proto, inv), "-p")?
            }
            "-f" | "--fragment" => set_once(&mut m.frag, inv, "-f")?,
            "--sport" | "--source-port" => {
                set_once(&mut m.sport, parse_ports(arg()?, inv)?, "--sport")?
            }
            "--dport" | "--destination-port" => {
                set_once(&mut m.dport, parse_ports(arg()?, inv)?, "--dport")?
            }
            "--icmp-type" => set_once(&mut m.icmp, parse_icmp_type(arg()?, inv)?, "--icmp-type")?,
            "--ttl-eq" | "--ttl-lt" | "--ttl-gt" => {
                let t = parse_u8(arg()?, "TTL")?;
                let ttl = match (opt, inv) {
                    ("--ttl-eq", false) => TtlMatch::Eq(t),
                    ("--ttl-eq", true) => TtlMatch::Ne(t),
                    ("--ttl-lt", _) => TtlMatch::Lt(t),
                    _ => TtlMatch::Gt(t),
                };
                set_once(&mut m.ttl, ttl, "--ttl-eq/--ttl-lt/--ttl-gt")?
            }
            "--mark" => {
                let (mark, mask) = parse_value_mask(arg()?, "mark")?;
                let mm = MarkMatch {
                    mark: mark & mask,
                    mask,
                    inv,
                };
                set_once(&mut m.mark, mm, "--mark")?
            }
            "-m" | "--match" => {
                let name = arg()?;
                if !["tcp", "udp", "icmp", "ttl", "mark"].contains(&name) {
                    return Err(format!("unknown match `{name}'"));
                }
            }
            "-j" | "--jump" => set_once(&mut target, arg()?, "-j")?,
            "--reject-with" => {
                let w = arg()?;
                let code = REJECT_WITH
                    .iter()
                    .find(|(name, alias, _)| *name == w || *alias == w)
                    .map(|r| r.2)
                    .ok_or_else(|| format!("unsupported --reject-with `{w}'"))?;
                set_once(&mut opts.reject_with, code, "--reject-with")?
            }
            "--set-mark" => set_once(
                &mut opts.set_mark,
                parse_value_mask(arg()?, "mark")?,
                "--set-mark",
            )?,
            "--to" => {
                let a = arg()?;
                let to = a
                    .parse::<Ipv4Addr>()
                    .map_err(|_| format!("invalid address `{a}'"))?;
                set_once(&mut opts.to, to, "--to")?
            }
            "--log-prefix" => {
                let prefix = arg()?;
                if prefix.chars().count() > LOG_PREFIX_MAX {
                    return Err(format!(
                        "maximum prefix length {LOG_PREFIX_MAX} for --log-prefix"
                    ));
                }
                set_once(&mut opts.log_prefix, prefix.to_string(), "--log-prefix")?
            }
            "--queue-num" => set_once(
                &mut opts.queue_num,
                parse_u16(arg()?, "queue number")?,
                "--queue-num",
            )?,
            "--queue-bypass" => opts.queue_bypass = true,
            other => return Err(format!("unknown option `{other}'")),
        }
    }
    if neg {
        return Err("`!' must be followed by an option".into());
    }
    let positive = |proto: u8| m.proto == Some((proto, false));
    if (m.sport.is_some() || m.dport.is_some()) && !(positive(IPPROTO_TCP) || positive(IPPROTO_UDP))
    {
        return Err("--sport/--dport need -p tcp or -p udp".into());
    }
    if m.icmp.is_some() && !positive(IPPROTO_ICMP) {
        return Err("--icmp-type needs -p icmp".into());
    }
    if m.in_if.is_some() && matches!(hook, NfInetHook::LocalOut | NfInetHook::PostRouting) {
        return Err(format!("can't use -i with {}", hook.chain_name()));
    }
    if m.out_if.is_some() && matches!(hook, NfInetHook::PreRouting | NfInetHook::LocalIn) {
        return Err(format!("can't use -o with {}", hook.chain_name()));
    }
    if target == Some("REJECT")
        && !matches!(
            hook,
            NfInetHook::LocalIn | NfInetHook::Forward | NfInetHook::LocalOut
        )
    {
        return Err(format!(
            "REJECT is only usable from INPUT, FORWARD and OUTPUT, not {}",
            hook.chain_name()
        ));
    }
    Ok(Rule {
        m,
        target: opts.build(target)?,
        cnt: Counter::default(),
    })
}

impl RuleTable {
    /// Parses a whole rule set. Every chain starts empty with policy ACCEPT.
    pub fn parse(text: &str) -> Result<RuleTable, RuleError> {
        let mut table = RuleTable::default();
        let mut count = 0usize;
        for (n, line) in text.lines().enumerate() {
            let err = |what: String| RuleError { line: n + 1, what };
            let words = tokenize(line).map_err(err)?;
            let Some(cmd) = words.first() else {
                continue;
            };
            match cmd.as_str() {
                "-P" | "--policy" => {
                    let [_, chain, policy] = words.as_slice() else {
                        return Err(err("usage: -P CHAIN ACCEPT|DROP".into()));
                    };
                    let hook = chain_of(chain).map_err(err)?;
                    table.chains[hook.index()].policy = match policy.as_str() {
                        "ACCEPT" => Policy::Accept,
                        "DROP" => Policy::Drop,
                        other => {
                            return Err(err(format!("bad policy `{other}' (only ACCEPT or DROP)")));
                        }
                    };
                }
                "-A" | "--append" => {
                    let chain = words.get(1).ok_or_else(|| err("-A needs a chain".into()))?;
                    let hook = chain_of(chain).map_err(err)?;
                    if count >= MAX_RULES {
                        return Err(err(format!("more than {MAX_RULES} rules")));
                    }
                    let rule = parse_rule(hook, &words[2..]).map_err(err)?;
                    table.chains[hook.index()].rules.push(rule);
                    count += 1;
                }
                other => return Err(err(format!("unknown command `{other}' (-A or -P)"))),
            }
        }
        Ok(table)
    }

    /// `iptables -L -v -n` for the five chains, in hook order.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (i, hook) in NfInetHook::ALL.into_iter().enumerate() {
            let chain = &self.chains[i];
            if i > 0 {
                out.push('\n');
            }
            let policy = match chain.policy {
                Policy::Accept => "ACCEPT",
                Policy::Drop => "DROP",
            };
            let _ = writeln!(
                out,
                "Chain {} (policy {policy} {}packets, {}bytes)",
                hook.chain_name(),
                num(chain.policy_cnt.pcnt, false),
                num(chain.policy_cnt.bcnt, false)
            );
            let _ = writeln!(
                out,
                "{:>5} {:>5} {:<9}  prot opt {:<6} {:<6}  {:<19}  {:<19} ",
                "pkts", "bytes", "target", "in", "out", "source", "destination"
            );
            for rule in &chain.rules {
                rule.render(&mut out);
            }
        }
        out
    }
}

/// A counter as iptables prints it without `-x`: up to 99999 as is, then K, M, G, T
/// (rounded). Linux-userspace xtables_print_num() with `FMT_KILOMEGAGIGA`.
pub(super) fn num(n: u64, table: bool) -> String {
    if n <= 99_999 {
        return if table {
            format!("{n:>5} ")
        } else {
            format!("{n} ")
        };
    }
    let round = |n: u64| n / 1000 + u64::from(n % 1000 >= 500);
    let mut n = round(n);
    let mut suffix = 'T';
    for s in ['K', 'M', 'G'] {
        if n <= 9999 {
            suffix = s;
            break;
        }
        n = round(n);
    }
    if table {
        format!("{n:>4}{suffix} ")
    } else {
        format!("{n}{suffix} ")
    }
}

fn addr_text(a: Option<AddrMatch>) -> (char, String) {
    let Some(a) = a else {
        return (' ', "0.0.0.0/0".into());
    };
    let ip = Ipv4Addr::from(a.addr);
    let text = if a.mask == u32::MAX {
        ip.to_string()
    } else if a.mask.leading_ones() == a.mask.count_ones() {
        format!("{ip}/{}", a.mask.count_ones())
    } else {
        format!("{ip}/{}", Ipv4Addr::from(a.mask))
    };
    (if a.inv { '!' } else { ' ' }, text)
}

fn iface_text(i: &Option<IfMatch>) -> String {
    match i {
        None => "*".into(),
        Some(i) => format!(
            "{}{}{}",
            if i.inv { "!" } else { "" },
            i.name,
            if i.wildcard { "+" } else { "" }
        ),
    }
}

fn ports_text(out: &mut String, name: &str, p: Option<PortMatch>) {
    if let Some(p) = p {
        let inv = if p.inv { "!" } else { "" };
        if p.min == p.max {
            let _ = write!(out, " {name}:{inv}{}", p.min);
        } else {
            let _ = write!(out, " {name}s:{inv}{}:{}", p.min, p.max);
        }
    }
}

impl Rule {
    /// One listing line. iptables print_firewall() with `-v -n`.
    fn render(&self, out: &mut String) {
        let m = &self.m;
        let target = match &self.target {
            Target::None => "",
            Target::Accept => "ACCEPT",
            Target::Drop => "DROP",
            Target::Reject(_) => "REJECT",
            Target::Mark { .. } => "MARK",
            Target::SetSaddr(_) => "SET-SADDR",
            Target::SetDaddr(_) => "SET-DADDR",
            Target::Log { .. } => "LOG",
            Target::Nfqueue { .. } => "NFQUEUE",
        };
        let (proto, proto_inv) = m.proto.unwrap_or((0, false));
        let proto_name = PROTO_NAMES
            .iter()
            .find(|(_, n)| *n == proto)
            .map_or_else(|| proto.to_string(), |(name, _)| name.to_string());
        let frag = match m.frag {
            None => "--",
            Some(false) => "-f",
            Some(true) => "!f",
        };
        let (src_inv, src) = addr_text(m.src);
        let (dst_inv, dst) = addr_text(m.dst);
        let _ = write!(
            out,
            "{}{}{target:<9} {}{proto_name:<5}{frag}  {:<6} {:<6} {src_inv}{src:<19} {dst_inv}{dst:<19} ",
            num(self.cnt.pcnt, true),
            num(self.cnt.bcnt, true),
            if proto_inv { '!' } else { ' ' },
            iface_text(&m.in_if),
            iface_text(&m.out_if),
        );
        if m.sport.is_some() || m.dport.is_some() {
            out.push_str(if proto == IPPROTO_TCP { " tcp" } else { " udp" });
            ports_text(out, "spt", m.sport);
            ports_text(out, "dpt", m.dport);
        }
        if let Some(i) = m.icmp {
            let _ = write!(out, " icmp{}type {}", if i.inv { " !" } else { "" }, i.ty);
            if i.code_min == i.code_max {
                let _ = write!(out, " code {}", i.code_min);
            } else if (i.code_min, i.code_max) != (0, 0xff) {
                let _ = write!(out, " codes {}-{}", i.code_min, i.code_max);
            }
        }
        if let Some(t) = m.ttl {
            let (op, v) = match t {
                TtlMatch::Eq(v) => ("==", v),
                TtlMatch::Ne(v) => ("!=", v),
                TtlMatch::Lt(v) => ("<", v),
                TtlMatch::Gt(v) => (">", v),
            };
            let _ = write!(out, " TTL match TTL {op} {v}");
        }
        if let Some(k) = m.mark {
            let _ = write!(out, " mark match{}", if k.inv { " !" } else { "" });
            if k.mask == u32::MAX {
                let _ = write!(out, " 0x{:x}", k.mark);
            } else {
                let _ = write!(out, " 0x{:x}/0x{:x}", k.mark, k.mask);
            }
        }
        match &self.target {
            Target::Reject(code) => {
                let name = REJECT_WITH
                    .iter()
                    .find(|r| r.2 == *code)
                    .map_or("", |r| r.0);
                let _ = write!(out, " reject-with {name}");
            }
            // libxt_MARK mark_tg_print().
            Target::Mark { value, mask } => {
                let _ = if value == mask {
                    write!(out, " MARK or 0x{value:x}")
                } else if *mask == u32::MAX {
                    write!(out, " MARK set 0x{value:x}")
                } else {
                    write!(out, " MARK xset 0x{value:x}/0x{mask:x}")
                };
            }
            Target::SetSaddr(a) | Target::SetDaddr(a) => {
                let _ = write!(out, " to:{a}");
            }
            Target::Log { prefix } => {
                out.push_str(" LOG flags 0 level 4");
                if !prefix.is_empty() {
                    let _ = write!(out, " prefix \"{prefix}\"");
                }
            }
            Target::Nfqueue { num, bypass } => {
                let _ = write!(out, " NFQUEUE num {num}");
                if *bypass {
                    out.push_str(" bypass");
                }
            }
            Target::None | Target::Accept | Target::Drop => {}
        }
        out.push('\n');
    }
}
