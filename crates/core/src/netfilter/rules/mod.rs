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
//! `types` holds the rule types and `table` the walk; `parse` reads a rule set (the
//! iptables(8) userland parser), `matches` and `target` do the per-packet work, `list` prints
//! the listing.

mod list;
mod matches;
mod parse;
mod table;
mod target;
mod types;

#[cfg(test)]
pub(super) use list::num;
pub(super) use table::{RuleTable, TableVerdict};
pub use types::{MAX_RULES, RuleError};
