//! The rule-set parser: the iptables(8) userland command line (`-A`, `-P`, matches and
//! target options), one rule per line.

use super::table::RuleTable;
use super::types::{
    AddrMatch, Counter, ICMP_TYPE_ANY, IcmpMatch, IfMatch, MAX_RULES, MarkMatch, Matches,
    PROTO_ALL, PROTO_NAMES, Policy, PortMatch, REJECT_WITH, Rule, RuleError, Target, TtlMatch,
};
use crate::netfilter::hook::{IFNAMSIZ, NfInetHook};
use skiff_wire::icmpv4::{DstUnreachable, Icmpv4Message, ParamProblem, Redirect, TimeExceeded};
use skiff_wire::ipv4::{IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP};
use std::net::Ipv4Addr;

/// Longest `--log-prefix`. iptables LOG: 29 characters.
const LOG_PREFIX_MAX: usize = 29;

type IcmpName = (&'static str, u8, u8, u8);

/// `--icmp-type` names: type and code range (iptables' table of names).
const ICMP_NAMES: &[IcmpName] = &[
    ("any", ICMP_TYPE_ANY, 0, 0xff),
    all("echo-reply", Icmpv4Message::EchoReply),
    all("pong", Icmpv4Message::EchoReply),
    all("destination-unreachable", Icmpv4Message::DstUnreachable),
    unreach("network-unreachable", DstUnreachable::NetUnreachable),
    unreach("host-unreachable", DstUnreachable::HostUnreachable),
    unreach("protocol-unreachable", DstUnreachable::ProtoUnreachable),
    unreach("port-unreachable", DstUnreachable::PortUnreachable),
    unreach("fragmentation-needed", DstUnreachable::FragRequired),
    unreach("source-route-failed", DstUnreachable::SrcRouteFailed),
    unreach("network-unknown", DstUnreachable::NetUnknown),
    unreach("host-unknown", DstUnreachable::HostUnknown),
    unreach("network-prohibited", DstUnreachable::NetProhibited),
    unreach("host-prohibited", DstUnreachable::HostProhibited),
    unreach("tos-network-unreachable", DstUnreachable::NetUnreachTos),
    unreach("tos-host-unreachable", DstUnreachable::HostUnreachTos),
    unreach("communication-prohibited", DstUnreachable::CommProhibited),
    unreach(
        "host-precedence-violation",
        DstUnreachable::HostPrecedenceViolation,
    ),
    unreach("precedence-cutoff", DstUnreachable::PrecedenceCutoff),
    all("source-quench", Icmpv4Message::SourceQuench),
    all("redirect", Icmpv4Message::Redirect),
    redirect("network-redirect", Redirect::Net),
    redirect("host-redirect", Redirect::Host),
    redirect("tos-network-redirect", Redirect::NetTos),
    redirect("tos-host-redirect", Redirect::HostTos),
    all("echo-request", Icmpv4Message::EchoRequest),
    all("ping", Icmpv4Message::EchoRequest),
    all("router-advertisement", Icmpv4Message::RouterAdvert),
    all("router-solicitation", Icmpv4Message::RouterSolicit),
    all("time-exceeded", Icmpv4Message::TimeExceeded),
    all("ttl-exceeded", Icmpv4Message::TimeExceeded),
    exceeded("ttl-zero-during-transit", TimeExceeded::TtlExpired),
    exceeded("ttl-zero-during-reassembly", TimeExceeded::FragReassembly),
    all("parameter-problem", Icmpv4Message::ParamProblem),
    param("ip-header-bad", ParamProblem::PointerIndicatesError),
    param(
        "required-option-missing",
        ParamProblem::MissingRequiredOption,
    ),
    all("timestamp-request", Icmpv4Message::Timestamp),
    all("timestamp-reply", Icmpv4Message::TimestampReply),
    all("address-mask-request", Icmpv4Message::AddressMaskRequest),
    all("address-mask-reply", Icmpv4Message::AddressMaskReply),
];

/// A type with every code.
const fn all(name: &'static str, ty: Icmpv4Message) -> IcmpName {
    (name, ty.raw(), 0, 0xff)
}

/// One code of a type.
const fn code(name: &'static str, ty: Icmpv4Message, code: u8) -> IcmpName {
    (name, ty.raw(), code, code)
}

const fn unreach(name: &'static str, c: DstUnreachable) -> IcmpName {
    code(name, Icmpv4Message::DstUnreachable, c.raw())
}

const fn redirect(name: &'static str, c: Redirect) -> IcmpName {
    code(name, Icmpv4Message::Redirect, c.raw())
}

const fn exceeded(name: &'static str, c: TimeExceeded) -> IcmpName {
    code(name, Icmpv4Message::TimeExceeded, c.raw())
}

const fn param(name: &'static str, c: ParamProblem) -> IcmpName {
    code(name, Icmpv4Message::ParamProblem, c.raw())
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
    if s.len() >= IFNAMSIZ {
        return Err(format!(
            "interface name `{s}' must be shorter than IFNAMSIZ ({})",
            IFNAMSIZ
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
            Some("REJECT") => Target::Reject(
                self.reject_with
                    .take()
                    .unwrap_or(DstUnreachable::PortUnreachable.raw()),
            ),
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
                if proto == PROTO_ALL && inv {
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
}
