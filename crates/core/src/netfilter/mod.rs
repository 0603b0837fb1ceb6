//! Netfilter hooks. Linux net/netfilter/core.c (`nf_register_net_hook`, `nf_hook_slow`),
//! net/netfilter/nf_queue.c (`nf_queue`, `nf_reinject`).
//!
//! Each of the five IPv4 hook points runs its hook ops in priority order (lowest first,
//! stable for equal priorities, as `nf_hook_entries_grow`). An op returns an explicit
//! [`NfVerdict`]; [`Netfilter::nf_hook`] folds the verdicts into an [`NfOutcome`] that the
//! caller matches on (there are no `okfn` callbacks):
//!
//! | verdict | effect |
//! |---|---|
//! | `Accept` | the next op runs; after the last one the outcome is `Continue` |
//! | `Drop` | stop: `Drop` |
//! | `Stolen` | stop: the op's [`NfHookFn::stolen`] receives the packet; `Stolen` |
//! | `Queue` | the packet waits in an NFQUEUE (`Queued`); see below for the failures |
//! | `Repeat` | the same op runs again, at most [`NF_REPEAT_LIMIT`] times in a row, then `Drop` |
//! | `Stop` | accept at once, skipping the remaining ops (old-kernel `NF_STOP`) |
//!
//! A rule table (iptables-like, see [`Netfilter::load_rules`]) is registered at `NF_IP_PRI_FILTER` on all five
//! hooks; user ops may be registered around it.
//!
//! Queues (nfnetlink_queue semantics): a `Queue { num, bypass }` verdict for a queue that is
//! not bound continues with the next op when `bypass` is set (Linux `-ESRCH` +
//! `NF_VERDICT_FLAG_QUEUE_BYPASS`) and drops otherwise. A bound queue that is full accepts
//! (continues with the next op) when it was configured `fail_open` (`NFQA_CFG_F_FAIL_OPEN`)
//! and otherwise drops, counting `queue_dropped`; as in Linux, `bypass` does not apply to a
//! full queue. [`Netfilter::nf_reinject`] continues after the op that queued.

mod log;
mod queue;
mod rules;

pub use log::LOG_RING_SIZE;
pub use queue::{NFQ_MAXLEN_LIMIT, NFQNL_QMAX_DEFAULT, NfqStats};
pub use rules::{MAX_RULES, RuleError};

use crate::skb::SkBuff;
use core::fmt;
use log::LogRing;
use queue::{Enqueue, NfQueues};
use rules::{RuleTable, TableVerdict};
use skiff_wire::ipv4::{IP_MF, IP_OFFSET};

/// The IPv4 hook points. Linux `enum nf_inet_hooks` (include/uapi/linux/netfilter.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NfInetHook {
    PreRouting = 0,
    LocalIn = 1,
    Forward = 2,
    LocalOut = 3,
    PostRouting = 4,
}

impl NfInetHook {
    pub const ALL: [NfInetHook; 5] = [
        NfInetHook::PreRouting,
        NfInetHook::LocalIn,
        NfInetHook::Forward,
        NfInetHook::LocalOut,
        NfInetHook::PostRouting,
    ];

    /// The iptables built-in chain of this hook.
    pub const fn chain_name(self) -> &'static str {
        match self {
            NfInetHook::PreRouting => "PREROUTING",
            NfInetHook::LocalIn => "INPUT",
            NfInetHook::Forward => "FORWARD",
            NfInetHook::LocalOut => "OUTPUT",
            NfInetHook::PostRouting => "POSTROUTING",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// Hook op priorities. Linux include/uapi/linux/netfilter_ipv4.h `enum nf_ip_hook_priorities`.
pub mod priority {
    pub const NF_IP_PRI_FIRST: i32 = i32::MIN;
    pub const NF_IP_PRI_RAW_BEFORE_DEFRAG: i32 = -450;
    pub const NF_IP_PRI_CONNTRACK_DEFRAG: i32 = -400;
    pub const NF_IP_PRI_RAW: i32 = -300;
    pub const NF_IP_PRI_SELINUX_FIRST: i32 = -225;
    pub const NF_IP_PRI_CONNTRACK: i32 = -200;
    pub const NF_IP_PRI_MANGLE: i32 = -150;
    pub const NF_IP_PRI_NAT_DST: i32 = -100;
    pub const NF_IP_PRI_FILTER: i32 = 0;
    pub const NF_IP_PRI_SECURITY: i32 = 50;
    pub const NF_IP_PRI_NAT_SRC: i32 = 100;
    pub const NF_IP_PRI_SELINUX_LAST: i32 = 225;
    pub const NF_IP_PRI_CONNTRACK_HELPER: i32 = 300;
    pub const NF_IP_PRI_CONNTRACK_CONFIRM: i32 = i32::MAX;
    pub const NF_IP_PRI_LAST: i32 = i32::MAX;
}

/// What a hook op decided. Linux `NF_ACCEPT`, `NF_DROP`, `NF_STOLEN`, `NF_QUEUE` (with the
/// queue number and `NF_VERDICT_FLAG_QUEUE_BYPASS`), `NF_REPEAT`, `NF_STOP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NfVerdict {
    Accept,
    Drop,
    Stolen,
    Queue { num: u16, bypass: bool },
    Repeat,
    Stop,
}

/// The longest interface name plus its NUL. Linux `IFNAMSIZ`.
pub const IFNAMSIZ: usize = 16;

/// An interface name of at most `IFNAMSIZ - 1` bytes, stored inline so that
/// [`NfHookState`] is `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IfName {
    bytes: [u8; IFNAMSIZ - 1],
    len: u8,
}

impl IfName {
    /// `None` for an empty name or one longer than `IFNAMSIZ - 1` bytes (Linux dev_valid_name()).
    pub fn new(name: &str) -> Option<IfName> {
        let b = name.as_bytes();
        if b.is_empty() || b.len() >= IFNAMSIZ {
            return None;
        }
        let mut bytes = [0; IFNAMSIZ - 1];
        bytes[..b.len()].copy_from_slice(b);
        Some(IfName {
            bytes,
            len: b.len() as u8,
        })
    }

    pub fn as_str(&self) -> &str {
        // Built from a `&str`, so always valid UTF-8.
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl fmt::Debug for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A device a packet came in on or goes out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NfDev {
    pub ifindex: u32,
    pub name: IfName,
}

impl NfDev {
    /// `None` when `name` is not a valid interface name (see [`IfName::new`]).
    pub fn new(ifindex: u32, name: &str) -> Option<NfDev> {
        Some(NfDev {
            ifindex,
            name: IfName::new(name)?,
        })
    }
}

/// Where a packet is in the pipeline. Linux `struct nf_hook_state` (hook, in, out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NfHookState {
    pub hook: NfInetHook,
    pub in_dev: Option<NfDev>,
    pub out_dev: Option<NfDev>,
}

/// A hook op: user code at a hook point. Linux `nf_hookfn`.
///
/// `hook` may read and rewrite the packet (`skb.data()` starts at the IPv4 header). When it
/// returns [`NfVerdict::Stolen`] the framework immediately hands the packet to
/// [`NfHookFn::stolen`]: from then on the op owns it (Linux: a hook returning `NF_STOLEN`
/// has taken over the skb) and the caller sees [`NfOutcome::Stolen`].
pub trait NfHookFn: Send {
    fn hook(&mut self, skb: &mut SkBuff, state: &NfHookState) -> NfVerdict;
    /// Receives the packet after `hook` returned `Stolen`; it is the op's to keep or free.
    fn stolen(&mut self, skb: SkBuff);
}

/// A registered op, for [`Netfilter::nf_unregister_net_hook`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HookHandle {
    hook: NfInetHook,
    id: u64,
}

/// Registration refused. Linux nf_register_net_hook() errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookError {
    /// The hook point already holds [`MAX_HOOK_COUNT`] ops (Linux `-E2BIG`).
    TooManyHooks,
}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HookError::TooManyHooks => write!(f, "more than {MAX_HOOK_COUNT} ops on one hook"),
        }
    }
}

impl std::error::Error for HookError {}

/// Ops per hook point, the rule table included. Linux `MAX_HOOK_COUNT`.
pub const MAX_HOOK_COUNT: usize = 1024;

/// How many times in a row one op may answer `Repeat` for one packet before it is dropped
/// ([`NfDrop::RepeatLimit`]). Old kernels looped on `NF_REPEAT` without a bound; hooks here
/// are user code, so the loop is bounded.
pub const NF_REPEAT_LIMIT: u32 = 16;

/// An ICMP error the caller must send for a REJECT: Linux ipt_REJECT nf_send_unreach() ->
/// icmp_send(skb, icmp_type, code, 0). Only present when Linux would send it (not for a
/// non-first fragment, nor for a TCP/UDP packet whose checksum does not verify).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reject {
    pub icmp_type: u8,
    pub code: u8,
}

/// Why netfilter dropped a packet. All are freed with Linux `SKB_DROP_REASON_NETFILTER_DROP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NfDrop {
    /// An op, a rule (DROP, REJECT) or a chain policy said drop; or a queue reader did.
    Verdict,
    /// A match could not read the header it needs (iptables `hotdrop`): a first fragment
    /// too short for its TCP/UDP/ICMP header, a TCP fragment at offset 8 bytes, or a packet
    /// whose IPv4 header is malformed.
    HotDrop,
    /// `Queue` to an unbound queue without `bypass` (Linux `-ESRCH`).
    NoQueue,
    /// `Queue` to a full queue that is not `fail_open` (Linux `queue_dropped`).
    QueueFull,
    /// An op answered `Repeat` [`NF_REPEAT_LIMIT`] times in a row.
    RepeatLimit,
    /// A queued packet was reinjected after the op that queued it was unregistered
    /// (Linux drops those on unregister, nf_queue_nf_hook_drop()).
    HookGone,
}

/// The result of running a hook point. Linux nf_hook_slow()'s return plus the skb.
#[derive(Debug)]
pub enum NfOutcome {
    /// Every op accepted (or one said `Stop`): the caller runs its `okfn` stage.
    Continue(SkBuff),
    /// The caller frees the packet with `DropReason::NETFILTER_DROP` and, for a REJECT,
    /// sends the ICMP error described by `reject`.
    Drop {
        skb: SkBuff,
        reject: Option<Reject>,
        why: NfDrop,
    },
    /// An op took the packet (see [`NfHookFn::stolen`]).
    Stolen,
    /// The packet waits in an NFQUEUE for [`Netfilter::nf_reinject`].
    Queued,
    /// The defrag op met a fragment: the stack reassembles it (`ip_defrag`, user
    /// `IP_DEFRAG_CONNTRACK_IN`) and, with a whole datagram, goes on from op `resume`
    /// through [`Netfilter::nf_hook_resume`].
    Defrag { skb: SkBuff, resume: usize },
}

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
    /// [`NFQ_MAXLEN_LIMIT`]); when full, `fail_open` accepts instead of dropping.
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
    /// [`LOG_RING_SIZE`] and [`Netfilter::log_lost`] counts the rest.
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

/// Copies `out.len()` bytes at `off` of the packet (linear data, then `frag_list`); false if
/// the packet is shorter. Linux skb_copy_bits() / skb_header_pointer().
fn skb_copy_bits(skb: &SkBuff, off: usize, out: &mut [u8]) -> bool {
    fn walk(skb: &SkBuff, off: &mut usize, out: &mut [u8], done: &mut usize) {
        let d = skb.data();
        if *off < d.len() {
            let n = (d.len() - *off).min(out.len() - *done);
            out[*done..*done + n].copy_from_slice(&d[*off..*off + n]);
            *done += n;
            *off = 0;
        } else {
            *off -= d.len();
        }
        for frag in &skb.frag_list {
            if *done == out.len() {
                return;
            }
            walk(frag, off, out, done);
        }
    }
    let (mut off, mut done) = (off, 0);
    walk(skb, &mut off, out, &mut done);
    done == out.len()
}

/// Writes `bytes` at `off` of the packet (linear data, then `frag_list`); false, with
/// nothing written, if the packet is shorter. Linux skb_store_bits().
fn skb_store_bits(skb: &mut SkBuff, off: usize, bytes: &[u8]) -> bool {
    fn walk(skb: &mut SkBuff, off: &mut usize, bytes: &[u8], done: &mut usize) {
        let d = skb.data_mut();
        if *off < d.len() {
            let n = (d.len() - *off).min(bytes.len() - *done);
            d[*off..*off + n].copy_from_slice(&bytes[*done..*done + n]);
            *done += n;
            *off = 0;
        } else {
            *off -= d.len();
        }
        skb.frag_list.update(|frags| {
            for frag in frags.iter_mut() {
                if *done == bytes.len() {
                    return;
                }
                walk(frag, off, bytes, done);
            }
        });
    }
    if off
        .checked_add(bytes.len())
        .is_none_or(|end| end > skb.len())
    {
        return false;
    }
    let (mut off, mut done) = (off, 0);
    walk(skb, &mut off, bytes, &mut done);
    done == bytes.len()
}

/// The `N` bytes at `off` of the packet, if it is long enough.
fn header<const N: usize>(skb: &SkBuff, off: usize) -> Option<[u8; N]> {
    let mut b = [0u8; N];
    skb_copy_bits(skb, off, &mut b).then_some(b)
}

#[cfg(test)]
mod tests;
