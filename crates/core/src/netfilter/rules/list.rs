//! The listing: iptables(8) `-L -v -n` (userland print_firewall(), xtables_print_num()).

use super::table::RuleTable;
use super::types::{
    AddrMatch, IfMatch, PROTO_ALL, PROTO_NAMES, Policy, PortMatch, REJECT_WITH, Rule, Target,
    TtlMatch,
};
use crate::netfilter::hook::NfInetHook;
use core::fmt::Write;
use skiff_wire::ipv4::IPPROTO_TCP;
use std::net::Ipv4Addr;

impl RuleTable {
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
pub(crate) fn num(n: u64, table: bool) -> String {
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
        let (proto, proto_inv) = m.proto.unwrap_or((PROTO_ALL, false));
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
