//! The table walk. Linux net/ipv4/netfilter/ip_tables.c ipt_do_table().

use super::matches::{MatchResult, PktInfo};
use super::target::{nf_send_unreach, set_addr};
use super::types::{Chain, Policy, Target};
use crate::netfilter::hook::{NfDrop, NfHookState, NfInetHook, Reject};
use crate::netfilter::log::{LogRing, nf_log_ip_packet};
use crate::skb::SkBuff;

/// What the table decided for a packet.
pub(crate) enum TableVerdict {
    Accept,
    Drop { reject: Option<Reject>, why: NfDrop },
    Queue { num: u16, bypass: bool },
}

#[derive(Debug, Default)]
pub(crate) struct RuleTable {
    pub(super) chains: [Chain; 5],
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
