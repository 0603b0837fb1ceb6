//! Hook points, verdicts and hook state. Linux include/linux/netfilter.h,
//! include/uapi/linux/netfilter.h, include/uapi/linux/netfilter_ipv4.h.

use crate::skb::SkBuff;
use core::fmt;

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

    pub(super) const fn index(self) -> usize {
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

/// A registered op, for [`Netfilter::nf_unregister_net_hook`](crate::netfilter::Netfilter::nf_unregister_net_hook).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HookHandle {
    pub(super) hook: NfInetHook,
    pub(super) id: u64,
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

/// The ICMP error the caller must send for a REJECT: Linux ipt_REJECT nf_send_unreach() ->
/// icmp_send(skb, ICMP_DEST_UNREACH, code, 0), so `icmp_type` is always 3. Only present
/// when Linux would send it (not for a non-first fragment, nor for a TCP/UDP packet whose
/// checksum does not verify).
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
    /// The packet waits in an NFQUEUE for [`Netfilter::nf_reinject`](crate::netfilter::Netfilter::nf_reinject).
    Queued,
    /// The defrag op met a fragment: the stack reassembles it (`ip_defrag`, user
    /// `IP_DEFRAG_CONNTRACK_IN`) and, with a whole datagram, goes on from op `resume`
    /// through [`Netfilter::nf_hook_resume`](crate::netfilter::Netfilter::nf_hook_resume).
    Defrag { skb: SkBuff, resume: usize },
}
