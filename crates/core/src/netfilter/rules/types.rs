//! The rule types: chains, rules, matches and targets. Linux
//! include/uapi/linux/netfilter_ipv4/ip_tables.h (`struct ipt_entry`, `struct ipt_ip`).

use core::fmt;
use skiff_wire::icmpv4::DstUnreachable;
use skiff_wire::ipv4::{
    IPPROTO_AH, IPPROTO_ESP, IPPROTO_ICMP, IPPROTO_IGMP, IPPROTO_IP, IPPROTO_SCTP, IPPROTO_TCP,
    IPPROTO_UDP, IPPROTO_UDPLITE,
};
use std::net::Ipv4Addr;

/// Rules in one table, all chains together.
pub const MAX_RULES: usize = 16_384;

/// Protocol 0 in a rule: any protocol (iptables `all`).
pub(super) const PROTO_ALL: u8 = IPPROTO_IP;

/// ICMP type 255 in a rule: any type (iptables `any`).
pub(super) const ICMP_TYPE_ANY: u8 = 0xff;

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
pub(super) struct Counter {
    pub(super) pcnt: u64,
    pub(super) bcnt: u64,
}

impl Counter {
    pub(super) fn add(&mut self, len: usize) {
        self.pcnt = self.pcnt.wrapping_add(1);
        self.bcnt = self.bcnt.wrapping_add(len as u64);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Policy {
    #[default]
    Accept,
    Drop,
}

#[derive(Debug, Default)]
pub(super) struct Chain {
    pub(super) policy: Policy,
    pub(super) policy_cnt: Counter,
    pub(super) rules: Vec<Rule>,
}

#[derive(Debug)]
pub(super) struct Rule {
    pub(super) m: Matches,
    pub(super) target: Target,
    pub(super) cnt: Counter,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct AddrMatch {
    pub(super) addr: u32,
    pub(super) mask: u32,
    pub(super) inv: bool,
}

#[derive(Debug, Clone)]
pub(super) struct IfMatch {
    /// The name without a trailing `+`.
    pub(super) name: String,
    /// `eth+`: any interface whose name starts with `name`.
    pub(super) wildcard: bool,
    pub(super) inv: bool,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct PortMatch {
    pub(super) min: u16,
    pub(super) max: u16,
    pub(super) inv: bool,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct IcmpMatch {
    /// `ICMP_TYPE_ANY` is `any`.
    pub(super) ty: u8,
    pub(super) code_min: u8,
    pub(super) code_max: u8,
    pub(super) inv: bool,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum TtlMatch {
    Eq(u8),
    Ne(u8),
    Lt(u8),
    Gt(u8),
}

#[derive(Debug, Clone, Copy)]
pub(super) struct MarkMatch {
    pub(super) mark: u32,
    pub(super) mask: u32,
    pub(super) inv: bool,
}

#[derive(Debug, Default)]
pub(super) struct Matches {
    pub(super) src: Option<AddrMatch>,
    pub(super) dst: Option<AddrMatch>,
    pub(super) in_if: Option<IfMatch>,
    pub(super) out_if: Option<IfMatch>,
    /// Protocol 0 is `all`.
    pub(super) proto: Option<(u8, bool)>,
    /// `-f`, with its negation flag.
    pub(super) frag: Option<bool>,
    pub(super) sport: Option<PortMatch>,
    pub(super) dport: Option<PortMatch>,
    pub(super) icmp: Option<IcmpMatch>,
    pub(super) ttl: Option<TtlMatch>,
    pub(super) mark: Option<MarkMatch>,
}

#[derive(Debug, Clone)]
pub(super) enum Target {
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
pub(super) const REJECT_WITH: &[(&str, &str, u8)] = &[
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
pub(super) const PROTO_NAMES: &[(&str, u8)] = &[
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
