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

mod hook;
mod log;
mod pkt;
mod queue;
mod registry;
mod rules;

pub use hook::{
    HookError, HookHandle, IFNAMSIZ, IfName, MAX_HOOK_COUNT, NF_REPEAT_LIMIT, NfDev, NfDrop,
    NfHookFn, NfHookState, NfInetHook, NfOutcome, NfVerdict, Reject, priority,
};
pub use log::LOG_RING_SIZE;
pub use queue::{NFQ_MAXLEN_LIMIT, NFQNL_QMAX_DEFAULT, NfqStats};
pub use registry::Netfilter;
pub use rules::{MAX_RULES, RuleError};

#[cfg(test)]
mod tests;
