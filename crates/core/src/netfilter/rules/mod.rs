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
//!
//! Here: the rule types and the walk; `parse` reads a rule set (the iptables(8) userland
//! parser), `matches` and `target` do the per-packet work, `list` prints the listing.

mod list;
mod matches;
mod parse;
mod target;

#[cfg(test)]
pub(super) use list::num;

use super::log::{LogRing, nf_log_ip_packet};
use super::{NfDrop, NfHookState, NfInetHook, Reject};
use crate::skb::SkBuff;
use core::fmt;
use matches::{MatchResult, PktInfo};
use skiff_wire::icmpv4::DstUnreachable;
use skiff_wire::ipv4::{
    IPPROTO_AH, IPPROTO_ESP, IPPROTO_ICMP, IPPROTO_IGMP, IPPROTO_IP, IPPROTO_SCTP, IPPROTO_TCP,
    IPPROTO_UDP, IPPROTO_UDPLITE,
};
use std::net::Ipv4Addr;
use target::{nf_send_unreach, set_addr};

/// Rules in one table, all chains together.
pub const MAX_RULES: usize = 16_384;

/// Protocol 0 in a rule: any protocol (iptables `all`).
const PROTO_ALL: u8 = IPPROTO_IP;

/// ICMP type 255 in a rule: any type (iptables `any`).
const ICMP_TYPE_ANY: u8 = 0xff;

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
    /// `ICMP_TYPE_ANY` is `any`.
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
    (
        "icmp-net-unreachable",
        "net-unreach",
        DstUnreachable::NetUnreachable.raw(),
    ),
    (
        "icmp-host-unreachable",
        "host-unreach",
        DstUnreachable::HostUnreachable.raw(),
    ),
    (
        "icmp-proto-unreachable",
        "proto-unreach",
        DstUnreachable::ProtoUnreachable.raw(),
    ),
    (
        "icmp-port-unreachable",
        "port-unreach",
        DstUnreachable::PortUnreachable.raw(),
    ),
    (
        "icmp-net-prohibited",
        "net-prohib",
        DstUnreachable::NetProhibited.raw(),
    ),
    (
        "icmp-host-prohibited",
        "host-prohib",
        DstUnreachable::HostProhibited.raw(),
    ),
    (
        "icmp-admin-prohibited",
        "admin-prohib",
        DstUnreachable::CommProhibited.raw(),
    ),
];

/// Protocol names iptables prints even with `-n`.
const PROTO_NAMES: &[(&str, u8)] = &[
    ("all", PROTO_ALL),
    ("icmp", IPPROTO_ICMP),
    ("igmp", IPPROTO_IGMP),
    ("tcp", IPPROTO_TCP),
    ("udp", IPPROTO_UDP),
    ("esp", IPPROTO_ESP),
    ("ah", IPPROTO_AH),
    ("sctp", IPPROTO_SCTP),
    ("udplite", IPPROTO_UDPLITE),
];

/// What the table decided for a packet.
pub(super) enum TableVerdict {
    Accept,
    Drop { reject: Option<Reject>, why: NfDrop },
    Queue { num: u16, bypass: bool },
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
