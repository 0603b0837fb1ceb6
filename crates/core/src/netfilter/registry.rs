//! The hook registry and the hook walk. Linux net/netfilter/core.c (`nf_register_net_hook`,
//! `nf_hook_slow`), net/netfilter/nf_queue.c (`nf_reinject`).

use super::hook::{
    HookError, HookHandle, MAX_HOOK_COUNT, NF_REPEAT_LIMIT, NfDrop, NfHookFn, NfHookState,
    NfInetHook, NfOutcome, NfVerdict, priority,
};
use super::log::LogRing;
use super::queue::{Enqueue, NfQueues, NfqStats};
use super::rules::{RuleError, RuleTable, TableVerdict};
use crate::skb::SkBuff;
use skiff_wire::ipv4::{IP_MF, IP_OFFSET};

enum OpKind {
    Table,
    User(Box<dyn NfHookFn>),
    /// nf_defrag_ipv4's ipv4_conntrack_defrag().
    Defrag,
}

struct HookOp {
    id: u64,
    priority: i32,
    kind: OpKind,
}

/// The hook registry, the rule table and the queues of one network namespace.
pub struct Netfilter {
    hooks: [Vec<HookOp>; 5],
    /// Bit `hook.index()` set when that hook has ops that can act (see `has_ops`).
    active: u8,
    next_op_id: u64,
    table: RuleTable,
    log: LogRing,
    queues: NfQueues,
}

impl Default for Netfilter {
    fn default() -> Self {
        Self::new()
    }
}

/// One step of nf_hook_slow(): what to do after an op ran.
enum Step {
    Next,
    Again,
    Queue { num: u16, bypass: bool, op_id: u64 },
}

impl Netfilter {
    /// An empty registry with the rule table (every chain empty, policy ACCEPT) registered
    /// at `NF_IP_PRI_FILTER` on the five hooks.
    pub fn new() -> Self {
        let mut nf = Netfilter {
            hooks: Default::default(),
            active: 0,
            next_op_id: 0,
            table: RuleTable::default(),
            log: LogRing::default(),
            queues: NfQueues::default(),
        };
        for hook in NfInetHook::ALL {
            // An empty hook point always has room.
            let _ = nf.insert_op(hook, priority::NF_IP_PRI_FILTER, OpKind::Table);
        }
        nf.update_active();
        nf
    }

    /// Whether `hook` has anything to run: a user op, or a chain with rules or a DROP
    /// policy. An inert chain is skipped, as if Linux had no iptables table loaded, so
    /// its policy counter counts only while the chain has rules.
    #[inline]
    pub fn has_ops(&self, hook: NfInetHook) -> bool {
        self.active & (1 << hook.index()) != 0
    }

    /// Recomputes `active` after ops or rules change.
    fn update_active(&mut self) {
        self.active = 0;
        for hook in NfInetHook::ALL {
            if self.hooks[hook.index()].len() > 1 || !self.table.is_inert(hook) {
                self.active |= 1 << hook.index();
            }
        }
    }

    /// Inserts after every op of lower or equal priority. Linux nf_hook_entries_grow().
    fn insert_op(
        &mut self,
        hook: NfInetHook,
        priority: i32,
        kind: OpKind,
    ) -> Result<HookHandle, HookError> {
        let ops = &mut self.hooks[hook.index()];
        if ops.len() >= MAX_HOOK_COUNT {
            return Err(HookError::TooManyHooks);
        }
        let id = self.next_op_id;
        self.next_op_id = self.next_op_id.wrapping_add(1);
        let at = ops.partition_point(|op| op.priority <= priority);
        ops.insert(at, HookOp { id, priority, kind });
        self.update_active();
        Ok(HookHandle { hook, id })
    }

    /// Registers a user op. Linux nf_register_net_hook().
    pub fn nf_register_net_hook(
        &mut self,
        hook: NfInetHook,
        priority: i32,
        f: Box<dyn NfHookFn>,
    ) -> Result<HookHandle, HookError> {
        self.insert_op(hook, priority, OpKind::User(f))
    }

    /// Loads nf_defrag_ipv4: fragments are reassembled at PRE_ROUTING, priority
    /// `NF_IP_PRI_CONNTRACK_DEFRAG`, before any rule sees them, and a forwarded datagram
    /// leaves cut back to its largest fragment. Linux nf_defrag_ipv4_enable(); off by
    /// default. Enabling twice keeps one op.
    pub fn nf_defrag_ipv4_enable(&mut self) -> Result<(), HookError> {
        if self.defrag_enabled() {
            return Ok(());
        }
        self.insert_op(
            NfInetHook::PreRouting,
            priority::NF_IP_PRI_CONNTRACK_DEFRAG,
            OpKind::Defrag,
        )
        .map(|_| ())
    }

    /// Unloads nf_defrag_ipv4. Linux nf_defrag_ipv4_disable().
    pub fn nf_defrag_ipv4_disable(&mut self) {
        self.hooks[NfInetHook::PreRouting.index()].retain(|op| !matches!(op.kind, OpKind::Defrag));
        self.update_active();
    }

    pub fn defrag_enabled(&self) -> bool {
        self.hooks[NfInetHook::PreRouting.index()]
            .iter()
            .any(|op| matches!(op.kind, OpKind::Defrag))
    }

    /// Removes a user op; false if it is not registered. Packets it queued are dropped
    /// ([`NfDrop::HookGone`]) when reinjected. Linux nf_unregister_net_hook().
    pub fn nf_unregister_net_hook(&mut self, h: HookHandle) -> bool {
        let ops = &mut self.hooks[h.hook.index()];
        match ops.iter().position(|op| op.id == h.id) {
            Some(at) => {
                ops.remove(at);
                self.update_active();
                true
            }
            None => false,
        }
    }

    /// NF_HOOK: runs the ops of `state.hook` in priority order. `skb.data()` starts at the
    /// IPv4 header. Linux include/linux/netfilter.h nf_hook(), net/netfilter/core.c nf_hook_slow().
    pub fn nf_hook(&mut self, skb: SkBuff, state: NfHookState) -> NfOutcome {
        self.nf_hook_slow(skb, state, 0)
    }

    /// Goes on with `state.hook`'s ops from index `i` (after [`NfOutcome::Defrag`]).
    pub fn nf_hook_resume(&mut self, skb: SkBuff, state: NfHookState, i: usize) -> NfOutcome {
        self.nf_hook_slow(skb, state, i)
    }

    /// Runs the ops of `state.hook` from index `i`. Linux nf_hook_slow().
    fn nf_hook_slow(&mut self, mut skb: SkBuff, state: NfHookState, mut i: usize) -> NfOutcome {
        let mut repeats = 0;
        loop {
            let Some(op) = self.hooks[state.hook.index()].get_mut(i) else {
                return NfOutcome::Continue(skb);
            };
            let op_id = op.id;
            let step = match &mut op.kind {
                OpKind::Table => match self.table.ipt_do_table(&mut skb, &state, &mut self.log) {
                    TableVerdict::Accept => Step::Next,
                    TableVerdict::Drop { reject, why } => {
                        return NfOutcome::Drop { skb, reject, why };
                    }
                    TableVerdict::Queue { num, bypass } => Step::Queue { num, bypass, op_id },
                },
                OpKind::User(f) => match f.hook(&mut skb, &state) {
                    NfVerdict::Accept => Step::Next,
                    NfVerdict::Drop => return dropped(skb, NfDrop::Verdict),
                    NfVerdict::Stolen => {
                        f.stolen(skb);
                        return NfOutcome::Stolen;
                    }
                    NfVerdict::Queue { num, bypass } => Step::Queue { num, bypass, op_id },
                    NfVerdict::Repeat => Step::Again,
                    NfVerdict::Stop => return NfOutcome::Continue(skb),
                },
                OpKind::Defrag => {
                    // ip_is_fragment(): MF or an offset.
                    let frag_off = skb
                        .data()
                        .get(6..8)
                        .map(|b| u16::from_be_bytes([b[0], b[1]]));
                    if frag_off.is_some_and(|f| f & (IP_MF | IP_OFFSET) != 0) {
                        return NfOutcome::Defrag { skb, resume: i + 1 };
                    }
                    Step::Next
                }
            };
            match step {
                Step::Next => {
                    i += 1;
                    repeats = 0;
                }
                Step::Again => {
                    repeats += 1;
                    if repeats >= NF_REPEAT_LIMIT {
                        return dropped(skb, NfDrop::RepeatLimit);
                    }
                }
                Step::Queue { num, bypass, op_id } => {
                    match self.queues.nf_queue(skb, state, op_id, num, bypass) {
                        Enqueue::Queued => return NfOutcome::Queued,
                        Enqueue::Continue(back) => {
                            skb = back;
                            i += 1;
                            repeats = 0;
                        }
                        Enqueue::Dropped(skb, why) => return dropped(skb, why),
                    }
                }
            }
        }
    }

    /// Gives the verdict for queued packet `id` and continues its traversal: `Accept` runs
    /// the op after the one that queued, `Repeat` runs that op again, `Stop` accepts at
    /// once, `Drop` drops, `Queue` queues it again. `None` if `id` is not queued, or for
    /// `Stolen`, which a queue reader may not give (Linux nfqnl_recv_verdict() `-EINVAL`;
    /// the packet stays queued). Linux net/netfilter/nf_queue.c nf_reinject().
    pub fn nf_reinject(&mut self, id: u32, verdict: NfVerdict) -> Option<(NfHookState, NfOutcome)> {
        if verdict == NfVerdict::Stolen {
            return None;
        }
        let entry = self.queues.take(id)?;
        let state = entry.state;
        let skb = entry.skb;
        let Some(i) = self.hooks[state.hook.index()]
            .iter()
            .position(|op| op.id == entry.op_id)
        else {
            return Some((state, dropped(skb, NfDrop::HookGone)));
        };
        let outcome = match verdict {
            NfVerdict::Accept => self.nf_hook_slow(skb, state, i + 1),
            NfVerdict::Repeat => self.nf_hook_slow(skb, state, i),
            NfVerdict::Stop => NfOutcome::Continue(skb),
            NfVerdict::Drop | NfVerdict::Stolen => dropped(skb, NfDrop::Verdict),
            NfVerdict::Queue { num, bypass } => {
                match self.queues.nf_queue(skb, state, entry.op_id, num, bypass) {
                    Enqueue::Queued => NfOutcome::Queued,
                    Enqueue::Continue(skb) => self.nf_hook_slow(skb, state, i + 1),
                    Enqueue::Dropped(skb, why) => dropped(skb, why),
                }
            }
        };
        Some((state, outcome))
    }

    /// Replaces the rule set (all five chains, policies and counters) with `text`. On an
    /// error nothing changes.
    pub fn load_rules(&mut self, text: &str) -> Result<(), RuleError> {
        self.table = RuleTable::parse(text)?;
        self.update_active();
        Ok(())
    }

    /// An `iptables -L -v -n` listing of the five chains with policies and counters.
    pub fn render_rules(&self) -> String {
        self.table.render()
    }

    /// Binds queue `num` (or reconfigures it): at most `maxlen` packets wait (clamped to
    /// [`NFQ_MAXLEN_LIMIT`](crate::netfilter::NFQ_MAXLEN_LIMIT)); when full, `fail_open` accepts instead of dropping.
    /// Linux nfnetlink_queue `NFQNL_CFG_CMD_BIND`, `NFQA_CFG_QUEUE_MAXLEN`, `NFQA_CFG_F_FAIL_OPEN`.
    pub fn nfq_set_config(&mut self, num: u16, maxlen: usize, fail_open: bool) {
        self.queues.set_config(num, maxlen, fail_open);
    }

    /// Unbinds queue `num`. The packets still waiting in it are returned for the caller to
    /// free (Linux instance_destroy() reinjects them with `NF_DROP`).
    pub fn nfq_unbind(&mut self, num: u16) -> Vec<SkBuff> {
        self.queues.unbind(num)
    }

    /// The next packet of queue `num` not yet received, with its id. It stays queued until
    /// [`Netfilter::nf_reinject`]. Linux: the netlink message to the queue's reader.
    pub fn nfq_recv(&mut self, num: u16) -> Option<(u32, &SkBuff)> {
        self.queues.recv(num)
    }

    /// The queued packet `id`, for a reader that rewrites it before its verdict (Linux
    /// `NFQA_PAYLOAD` with the verdict).
    pub fn nfq_packet_mut(&mut self, id: u32) -> Option<&mut SkBuff> {
        self.queues.packet_mut(id)
    }

    /// Counters of queue `num`, as /proc/net/netfilter/nfnetlink_queue.
    pub fn nfq_stats(&self, num: u16) -> Option<NfqStats> {
        self.queues.stats(num)
    }

    /// The LOG target's lines, oldest first; the ring keeps the latest
    /// [`LOG_RING_SIZE`](crate::netfilter::LOG_RING_SIZE) and [`Netfilter::log_lost`] counts the rest.
    pub fn drain_log(&mut self) -> impl Iterator<Item = String> + '_ {
        self.log.drain()
    }

    /// LOG lines that were overwritten before being drained.
    pub fn log_lost(&self) -> u64 {
        self.log.lost
    }
}

fn dropped(skb: SkBuff, why: NfDrop) -> NfOutcome {
    NfOutcome::Drop {
        skb,
        reject: None,
        why,
    }
}
