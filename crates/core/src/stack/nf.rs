//! The netfilter glue: NF_HOOK() at each hook point, the verdicts acted on, and
//! nf_reinject() for queued packets. Linux net/netfilter/core.c and nf_queue.c.

use super::{Stack, stage};
use crate::drop::DropReason;
use crate::ipv4::icmp::IcmpErr;
use crate::netfilter::{NfDev, NfHookState, NfInetHook, NfOutcome};
use crate::route::RtFlags;
use crate::skb::SkBuff;
use skiff_wire::icmpv4::DstUnreachable;

impl Stack {
    /// Linux NF_HOOK(): runs the hook's ops. Returns the packet when the okfn should run;
    /// otherwise it was dropped (a REJECT answers with its ICMP), stolen, or queued.
    #[inline]
    pub(crate) fn nf_hook(
        &mut self,
        hook: NfInetHook,
        skb: SkBuff,
        in_dev: u32,
        out_dev: u32,
    ) -> Option<SkBuff> {
        if !self.nf.has_ops(hook) {
            return Some(skb);
        }
        self.nf_hook_slow(hook, skb, in_dev, out_dev)
    }

    /// Linux nf_hook_slow(): the hook has ops to run.
    fn nf_hook_slow(
        &mut self,
        hook: NfInetHook,
        skb: SkBuff,
        in_dev: u32,
        out_dev: u32,
    ) -> Option<SkBuff> {
        stage!(self, "nf_hook_slow");
        let dev = |i: u32| {
            let d = self.dev(i)?;
            NfDev::new(i, &d.name)
        };
        let state = NfHookState {
            hook,
            in_dev: dev(in_dev),
            out_dev: dev(out_dev),
        };
        let outcome = self.nf.nf_hook(skb, state);
        self.nf_outcome(state, outcome)
    }

    /// Acts on what the hook's ops decided; returns the packet when the okfn should run.
    fn nf_outcome(&mut self, state: NfHookState, mut outcome: NfOutcome) -> Option<SkBuff> {
        loop {
            match outcome {
                NfOutcome::Continue(skb) => return Some(skb),
                NfOutcome::Drop { skb, reject, why } => {
                    self.nf_drop(skb, reject, why);
                    return None;
                }
                NfOutcome::Stolen => return None,
                NfOutcome::Queued => {
                    self.trace_stage("nf_queue");
                    return None;
                }
                NfOutcome::Defrag { skb, resume } => {
                    let mut whole = self.ipv4_conntrack_defrag(skb)?;
                    // nf_ct_ipv4_gather_frags(): may be cut again to its fragments' size.
                    whole.ignore_df = true;
                    outcome = self.nf.nf_hook_resume(whole, state, resume);
                }
            }
        }
    }

    /// nf_defrag_ipv4 ipv4_conntrack_defrag(): the datagram once whole (NF_ACCEPT), else
    /// the fragment stays queued (NF_STOLEN).
    fn ipv4_conntrack_defrag(&mut self, skb: SkBuff) -> Option<SkBuff> {
        stage!(self, "ipv4_conntrack_defrag");
        self.ip_defrag(skb, crate::ipv4::defrag::DefragUser::ConntrackIn)
    }
}

impl Stack {
    /// Gives the verdict on a packet waiting in an NFQUEUE and continues its path from
    /// the hook that queued it (Linux nf_reinject() + the hook's okfn). The packet's
    /// route is looked up again. Returns false for an unknown id.
    pub fn nf_reinject(
        &mut self,
        now: crate::time::Instant,
        id: u32,
        verdict: crate::netfilter::NfVerdict,
    ) -> bool {
        self.now = now;
        let Some((state, outcome)) = self.nf.nf_reinject(id, verdict) else {
            return false;
        };
        self.trace_begin(0, "nf_reinject");
        if let Some(skb) = self.nf_outcome(state, outcome) {
            self.nf_okfn(state.hook, skb);
        }
        self.trace_end();
        self.process_backlog();
        true
    }

    /// Frees a packet netfilter dropped; a REJECT first answers with its ICMP error
    /// (ipt_REJECT nf_send_unreach()).
    fn nf_drop(
        &mut self,
        skb: SkBuff,
        reject: Option<crate::netfilter::Reject>,
        why: crate::netfilter::NfDrop,
    ) {
        use crate::netfilter::NfDrop;
        if let Some(r) = reject {
            // REJECT answers with a Destination Unreachable (ipt_REJECT.c).
            let err = IcmpErr::DstUnreachable(DstUnreachable::from(r.code));
            self.icmp_send(&skb, RtFlags::default(), err);
        }
        let reason = match why {
            NfDrop::NoQueue | NfDrop::QueueFull => DropReason::NetfilterQueue,
            _ => DropReason::NetfilterDrop,
        };
        self.kfree_skb(skb, reason);
    }

    /// The okfn of each hook, for reinjected packets.
    fn nf_okfn(&mut self, hook: NfInetHook, skb: SkBuff) {
        if hook == NfInetHook::PreRouting {
            self.ip_rcv_finish(skb, None);
            return;
        }
        let Some(h) = crate::ipv4::hdr::IpHdr::of(&skb) else {
            return self.kfree_skb(skb, DropReason::IpInhdr);
        };
        let dst = if skb.iif != 0 {
            self.fib
                .ip_route_input(h.daddr, h.saddr, h.tos, skb.iif, false)
                .map_err(|_| DropReason::IpInvalidDest)
        } else {
            self.route_output_simple(h.daddr, h.saddr, h.tos)
                .map_err(|_| DropReason::IpOutnoroutes)
        };
        let dst = match dst {
            Ok(dst) => dst,
            Err(reason) => return self.kfree_skb(skb, reason),
        };
        match hook {
            NfInetHook::PreRouting => {}
            NfInetHook::LocalIn => self.ip_local_deliver_finish(skb, &h, &dst),
            NfInetHook::Forward => self.ip_forward_finish(skb, &dst),
            NfInetHook::LocalOut => {
                let _ = self.ip_output(skb, &dst);
            }
            NfInetHook::PostRouting => {
                let _ = self.ip_finish_output(skb, &dst);
            }
        }
    }
}
