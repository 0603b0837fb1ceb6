use super::pkt::{skb_copy_bits, skb_store_bits};
use super::priority::*;
use super::*;
use crate::skb::ChecksumState;
use crate::skb::SkBuff;
use skiff_wire::checksum::{csum_fold, csum_partial, csum_tcpudp_nofold, ip_fast_csum};
use skiff_wire::icmpv4::Icmpv4Repr;
use skiff_wire::ipv4::{IpProtocol, Ipv4Repr};
use skiff_wire::tcp::{TcpFlags, TcpRepr};
use skiff_wire::udp::UdpRepr;
use skiff_wire::{Ipv4Addr, TxChecksum};
use std::sync::Arc;
use std::sync::Mutex;

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

// ---- packet builders -------------------------------------------------------------------

struct Ip {
    proto: IpProtocol,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    ident: u16,
    df: bool,
    mf: bool,
    frag_offset: u16,
}

fn ip(proto: IpProtocol) -> Ip {
    Ip {
        proto,
        src: A,
        dst: B,
        ttl: 64,
        ident: 0,
        df: true,
        mf: false,
        frag_offset: 0,
    }
}

impl Ip {
    fn bytes(&self, payload: &[u8]) -> Vec<u8> {
        let repr = Ipv4Repr {
            src: self.src,
            dst: self.dst,
            protocol: self.proto,
            ttl: self.ttl,
            tos: 0,
            ident: self.ident,
            dont_frag: self.df,
            more_frags: self.mf,
            frag_offset: self.frag_offset,
            options: &[],
            payload_len: payload.len(),
        };
        let mut b = vec![0; 20 + payload.len()];
        repr.emit(&mut b).unwrap();
        b[20..].copy_from_slice(payload);
        b
    }
}

fn skb_of(bytes: &[u8]) -> SkBuff {
    let mut s = SkBuff::new(64, bytes.len()).unwrap();
    s.put_slice(bytes).unwrap();
    s.reset_network_header().unwrap();
    s
}

fn udp_payload(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, csum: TxChecksum) -> Vec<u8> {
    let mut b = vec![0u8; 8 + 5];
    b[8..].copy_from_slice(b"hello");
    UdpRepr {
        src_port: sport,
        dst_port: dport,
    }
    .emit(&mut b, src, dst, csum)
    .unwrap();
    b
}

fn udp(sport: u16, dport: u16) -> SkBuff {
    skb_of(&ip(IpProtocol::Udp).bytes(&udp_payload(A, B, sport, dport, TxChecksum::Full)))
}

fn tcp_payload(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, csum: TxChecksum) -> Vec<u8> {
    let mut b = vec![0u8; 20 + 3];
    b[20..].copy_from_slice(b"abc");
    TcpRepr {
        src_port: sport,
        dst_port: dport,
        seq: 1000,
        ack: 0,
        flags: TcpFlags::SYN,
        window: 64240,
        urgent: 0,
        options: &[],
    }
    .emit(&mut b, src, dst, csum)
    .unwrap();
    b
}

fn tcp(sport: u16, dport: u16) -> SkBuff {
    skb_of(&ip(IpProtocol::Tcp).bytes(&tcp_payload(A, B, sport, dport, TxChecksum::Full)))
}

fn icmp_payload(repr: Icmpv4Repr) -> Vec<u8> {
    let mut b = vec![0u8; repr.buffer_len()];
    repr.emit(&mut b).unwrap();
    b
}

fn echo(ident: u16, seq_no: u16) -> Vec<u8> {
    icmp_payload(Icmpv4Repr::EchoRequest {
        ident,
        seq_no,
        data: &[0x55; 56],
    })
}

fn ping() -> SkBuff {
    skb_of(&ip(IpProtocol::Icmp).bytes(&echo(7, 1)))
}

fn dev(ifindex: u32, name: &str) -> Option<NfDev> {
    NfDev::new(ifindex, name)
}

fn st(hook: NfInetHook) -> NfHookState {
    let (in_dev, out_dev) = match hook {
        NfInetHook::PreRouting | NfInetHook::LocalIn => (dev(2, "eth0"), None),
        NfInetHook::Forward => (dev(2, "eth0"), dev(3, "eth1")),
        NfInetHook::LocalOut | NfInetHook::PostRouting => (None, dev(3, "eth1")),
    };
    NfHookState {
        hook,
        in_dev,
        out_dev,
    }
}

fn input() -> NfHookState {
    st(NfInetHook::LocalIn)
}

// ---- user hooks ------------------------------------------------------------------------

type Trace = Arc<Mutex<Vec<String>>>;

/// Records its name (and the packet's mark) and answers from a script; after the script
/// ends it accepts.
struct Scripted {
    name: &'static str,
    trace: Trace,
    script: Vec<NfVerdict>,
    stolen: Arc<Mutex<Vec<SkBuff>>>,
}

impl NfHookFn for Scripted {
    fn hook(&mut self, skb: &mut SkBuff, _state: &NfHookState) -> NfVerdict {
        self.trace
            .lock()
            .unwrap()
            .push(format!("{}:{}", self.name, skb.mark));
        if self.script.is_empty() {
            NfVerdict::Accept
        } else {
            self.script.remove(0)
        }
    }
    fn stolen(&mut self, skb: SkBuff) {
        self.stolen.lock().unwrap().push(skb);
    }
}

struct Rig {
    nf: Netfilter,
    trace: Trace,
    stolen: Arc<Mutex<Vec<SkBuff>>>,
}

impl Rig {
    fn new() -> Rig {
        Rig {
            nf: Netfilter::new(),
            trace: Trace::default(),
            stolen: Arc::default(),
        }
    }

    fn op(
        &mut self,
        hook: NfInetHook,
        prio: i32,
        name: &'static str,
        script: &[NfVerdict],
    ) -> HookHandle {
        let f = Scripted {
            name,
            trace: self.trace.clone(),
            script: script.to_vec(),
            stolen: self.stolen.clone(),
        };
        self.nf
            .nf_register_net_hook(hook, prio, Box::new(f))
            .unwrap()
    }

    fn trace(&self) -> Vec<String> {
        self.trace.lock().unwrap().drain(..).collect()
    }
}

fn names(t: &[String]) -> Vec<&str> {
    t.iter().map(|s| s.split(':').next().unwrap()).collect()
}

fn is_continue(o: &NfOutcome) -> bool {
    matches!(o, NfOutcome::Continue(_))
}

fn drop_why(o: &NfOutcome) -> Option<NfDrop> {
    match o {
        NfOutcome::Drop { why, .. } => Some(*why),
        _ => None,
    }
}

// ---- hook core ---------------------------------------------------------------------------

#[test]
fn priorities_are_the_kernels() {
    assert_eq!(NF_IP_PRI_FIRST, i32::MIN);
    assert_eq!(NF_IP_PRI_RAW_BEFORE_DEFRAG, -450);
    assert_eq!(NF_IP_PRI_CONNTRACK_DEFRAG, -400);
    assert_eq!(NF_IP_PRI_RAW, -300);
    assert_eq!(NF_IP_PRI_SELINUX_FIRST, -225);
    assert_eq!(NF_IP_PRI_CONNTRACK, -200);
    assert_eq!(NF_IP_PRI_MANGLE, -150);
    assert_eq!(NF_IP_PRI_NAT_DST, -100);
    assert_eq!(NF_IP_PRI_FILTER, 0);
    assert_eq!(NF_IP_PRI_SECURITY, 50);
    assert_eq!(NF_IP_PRI_NAT_SRC, 100);
    assert_eq!(NF_IP_PRI_SELINUX_LAST, 225);
    assert_eq!(NF_IP_PRI_CONNTRACK_HELPER, 300);
    assert_eq!(NF_IP_PRI_CONNTRACK_CONFIRM, i32::MAX);
    assert_eq!(NF_IP_PRI_LAST, i32::MAX);
    assert_eq!(NfInetHook::LocalOut as u8, 3);
}

#[test]
fn ops_run_in_priority_order_around_the_table() {
    let mut r = Rig::new();
    r.nf.load_rules("-A INPUT -j MARK --set-mark 5").unwrap();
    r.op(NfInetHook::LocalIn, NF_IP_PRI_NAT_SRC, "natsrc", &[]);
    r.op(NfInetHook::LocalIn, NF_IP_PRI_FILTER, "filter2", &[]);
    r.op(NfInetHook::LocalIn, NF_IP_PRI_MANGLE, "mangle", &[]);
    r.op(NfInetHook::LocalIn, NF_IP_PRI_FIRST, "first", &[]);
    r.op(NfInetHook::LocalIn, NF_IP_PRI_FILTER, "filter3", &[]);
    r.op(NfInetHook::LocalIn, NF_IP_PRI_LAST, "last", &[]);
    r.op(NfInetHook::LocalOut, NF_IP_PRI_FIRST, "other-hook", &[]);
    let out = r.nf.nf_hook(ping(), input());
    assert!(is_continue(&out));
    // Equal priorities keep registration order, after the table registered at new().
    assert_eq!(
        r.trace(),
        [
            "first:0",
            "mangle:0",
            "filter2:5",
            "filter3:5",
            "natsrc:5",
            "last:5"
        ]
    );
}

#[test]
fn accept_drop_stop_and_stolen() {
    let mut r = Rig::new();
    r.op(
        NfInetHook::LocalIn,
        -10,
        "a",
        &[
            NfVerdict::Accept,
            NfVerdict::Drop,
            NfVerdict::Stop,
            NfVerdict::Stolen,
        ],
    );
    r.op(NfInetHook::LocalIn, 10, "b", &[]);
    // Accept: the next op runs, then the caller continues.
    assert!(is_continue(&r.nf.nf_hook(ping(), input())));
    assert_eq!(names(&r.trace()), ["a", "b"]);
    // Drop: nothing after it runs.
    let out = r.nf.nf_hook(ping(), input());
    assert_eq!(drop_why(&out), Some(NfDrop::Verdict));
    assert!(matches!(out, NfOutcome::Drop { reject: None, .. }));
    assert_eq!(names(&r.trace()), ["a"]);
    // Stop: accepted at once, skipping the table and b.
    r.nf.load_rules("-P INPUT DROP").unwrap();
    let out = r.nf.nf_hook(ping(), input());
    assert!(is_continue(&out));
    assert_eq!(names(&r.trace()), ["a"]);
    // Stolen: the op owns the packet.
    let out = r.nf.nf_hook(udp(1, 2), input());
    assert!(matches!(out, NfOutcome::Stolen));
    assert_eq!(names(&r.trace()), ["a"]);
    assert_eq!(r.stolen.lock().unwrap().len(), 1);
    assert_eq!(r.stolen.lock().unwrap()[0].data()[9], 17);
}

#[test]
fn repeat_calls_the_same_op_again_and_is_bounded() {
    let mut r = Rig::new();
    r.op(
        NfInetHook::PreRouting,
        0,
        "a",
        &[NfVerdict::Accept, NfVerdict::Repeat, NfVerdict::Repeat],
    );
    r.op(NfInetHook::PreRouting, 5, "b", &[NfVerdict::Repeat]);
    let pre = st(NfInetHook::PreRouting);
    assert!(is_continue(&r.nf.nf_hook(ping(), pre)));
    assert_eq!(names(&r.trace()), ["a", "b", "b"]);
    assert!(is_continue(&r.nf.nf_hook(ping(), pre)));
    assert_eq!(names(&r.trace()), ["a", "a", "a", "b"]);
    // An op that always repeats: called NF_REPEAT_LIMIT times, then the packet is dropped.
    let mut r = Rig::new();
    r.op(NfInetHook::PreRouting, 0, "loop", &[NfVerdict::Repeat; 40]);
    r.op(NfInetHook::PreRouting, 5, "after", &[]);
    let out = r.nf.nf_hook(ping(), pre);
    assert_eq!(drop_why(&out), Some(NfDrop::RepeatLimit));
    assert_eq!(r.trace().len(), NF_REPEAT_LIMIT as usize);
}

#[test]
fn unregister_removes_only_that_op() {
    let mut r = Rig::new();
    let a = r.op(NfInetHook::Forward, 0, "a", &[]);
    r.op(NfInetHook::Forward, 0, "b", &[]);
    assert!(r.nf.nf_unregister_net_hook(a));
    assert!(!r.nf.nf_unregister_net_hook(a));
    assert!(is_continue(&r.nf.nf_hook(ping(), st(NfInetHook::Forward))));
    assert_eq!(names(&r.trace()), ["b"]);
}

#[test]
fn hook_count_is_bounded() {
    let mut r = Rig::new();
    for _ in 1..MAX_HOOK_COUNT {
        r.op(NfInetHook::LocalOut, 0, "x", &[]);
    }
    let f = Scripted {
        name: "y",
        trace: r.trace.clone(),
        script: vec![],
        stolen: r.stolen.clone(),
    };
    assert_eq!(
        r.nf.nf_register_net_hook(NfInetHook::LocalOut, 0, Box::new(f))
            .unwrap_err(),
        HookError::TooManyHooks
    );
}

#[test]
fn queue_unbound_bypass_and_drop() {
    let mut r = Rig::new();
    r.op(
        NfInetHook::LocalIn,
        -5,
        "q",
        &[
            NfVerdict::Queue {
                num: 3,
                bypass: false,
            },
            NfVerdict::Queue {
                num: 3,
                bypass: true,
            },
        ],
    );
    r.op(NfInetHook::LocalIn, 5, "after", &[]);
    let out = r.nf.nf_hook(ping(), input());
    assert_eq!(drop_why(&out), Some(NfDrop::NoQueue));
    assert_eq!(names(&r.trace()), ["q"]);
    // Bypass: continues with the next op.
    assert!(is_continue(&r.nf.nf_hook(ping(), input())));
    assert_eq!(names(&r.trace()), ["q", "after"]);
}

#[test]
fn queue_and_reinject_continue_from_the_right_op() {
    let mut r = Rig::new();
    r.op(NfInetHook::LocalIn, -20, "before", &[]);
    r.op(
        NfInetHook::LocalIn,
        -10,
        "q",
        &[NfVerdict::Queue {
            num: 1,
            bypass: false,
        }; 6],
    );
    r.op(NfInetHook::LocalIn, 10, "after", &[]);
    r.nf.nfq_set_config(1, 16, false);
    let mut ids = Vec::new();
    for seq in 0..5u16 {
        let mut s = skb_of(&ip(IpProtocol::Icmp).bytes(&echo(1, seq)));
        s.priority = u32::from(seq);
        assert!(matches!(r.nf.nf_hook(s, input()), NfOutcome::Queued));
    }
    assert_eq!(
        names(&r.trace()),
        [
            "before", "q", "before", "q", "before", "q", "before", "q", "before", "q"
        ]
    );
    for seq in 0..5u32 {
        let (id, skb) = r.nf.nfq_recv(1).unwrap();
        assert_eq!(skb.priority, seq);
        ids.push(id);
    }
    assert!(r.nf.nfq_recv(1).is_none());
    assert_eq!(r.nf.nfq_stats(1).unwrap().queue_total, 5);
    // Accept: the op after the queueing one runs; the earlier ones do not run again.
    let (state, out) = r.nf.nf_reinject(ids[0], NfVerdict::Accept).unwrap();
    assert_eq!(state, input());
    assert!(is_continue(&out));
    assert_eq!(names(&r.trace()), ["after"]);
    // Repeat: the queueing op runs again (and here queues again).
    let (_, out) = r.nf.nf_reinject(ids[1], NfVerdict::Repeat).unwrap();
    assert!(matches!(out, NfOutcome::Queued));
    assert_eq!(names(&r.trace()), ["q"]);
    // Stop: accepted without running "after".
    let (_, out) = r.nf.nf_reinject(ids[2], NfVerdict::Stop).unwrap();
    assert!(is_continue(&out));
    assert!(r.trace().is_empty());
    // Drop.
    let (_, out) = r.nf.nf_reinject(ids[3], NfVerdict::Drop).unwrap();
    assert_eq!(drop_why(&out), Some(NfDrop::Verdict));
    // Stolen is not a verdict a reader may give: refused, still queued.
    assert!(r.nf.nf_reinject(ids[4], NfVerdict::Stolen).is_none());
    // Queue to an unbound queue with bypass: continues after the queueing op.
    let (_, out) =
        r.nf.nf_reinject(
            ids[4],
            NfVerdict::Queue {
                num: 9,
                bypass: true,
            },
        )
        .unwrap();
    assert!(is_continue(&out));
    assert_eq!(names(&r.trace()), ["after"]);
    // Unknown or already-decided ids.
    assert!(r.nf.nf_reinject(ids[0], NfVerdict::Accept).is_none());
    assert!(r.nf.nf_reinject(0xdead, NfVerdict::Accept).is_none());
    // The re-queued packet from the Repeat is still waiting, and can be rewritten.
    let (id, _) = r.nf.nfq_recv(1).unwrap();
    r.nf.nfq_packet_mut(id).unwrap().mark = 77;
    let (_, out) = r.nf.nf_reinject(id, NfVerdict::Accept).unwrap();
    let NfOutcome::Continue(s) = out else {
        panic!("{out:?}")
    };
    assert_eq!(s.mark, 77);
    assert_eq!(r.trace(), ["after:77"]);
    let stats = r.nf.nfq_stats(1).unwrap();
    assert_eq!(
        (stats.queue_total, stats.queue_dropped, stats.id_sequence),
        (0, 0, 6)
    );
}

#[test]
fn full_queue_drops_even_with_bypass_unless_fail_open() {
    let mut r = Rig::new();
    r.op(
        NfInetHook::LocalIn,
        -10,
        "q",
        &[NfVerdict::Queue {
            num: 2,
            bypass: true,
        }; 4],
    );
    r.op(NfInetHook::LocalIn, 10, "after", &[]);
    r.nf.nfq_set_config(2, 1, false);
    assert!(matches!(r.nf.nf_hook(ping(), input()), NfOutcome::Queued));
    // Linux nf_queue(): bypass only covers an unbound queue (-ESRCH), not a full one.
    let out = r.nf.nf_hook(ping(), input());
    assert_eq!(drop_why(&out), Some(NfDrop::QueueFull));
    assert_eq!(r.nf.nfq_stats(2).unwrap().queue_dropped, 1);
    // NFQA_CFG_F_FAIL_OPEN: accepted, continuing with the next op.
    r.nf.nfq_set_config(2, 1, true);
    r.trace();
    assert!(is_continue(&r.nf.nf_hook(ping(), input())));
    assert_eq!(names(&r.trace()), ["q", "after"]);
    assert_eq!(r.nf.nfq_stats(2).unwrap().queue_dropped, 1);
    // maxlen is clamped.
    r.nf.nfq_set_config(2, usize::MAX, false);
    assert_eq!(r.nf.nfq_stats(2).unwrap().queue_maxlen, NFQ_MAXLEN_LIMIT);
}

#[test]
fn unbind_and_unregister_with_packets_queued() {
    let mut r = Rig::new();
    let q = r.op(
        NfInetHook::LocalIn,
        -10,
        "q",
        &[
            NfVerdict::Queue {
                num: 4,
                bypass: false,
            },
            NfVerdict::Queue {
                num: 4,
                bypass: false,
            },
            NfVerdict::Queue {
                num: 5,
                bypass: false,
            },
        ],
    );
    r.nf.nfq_set_config(4, 8, false);
    r.nf.nfq_set_config(5, 8, false);
    assert!(matches!(r.nf.nf_hook(ping(), input()), NfOutcome::Queued));
    assert!(matches!(
        r.nf.nf_hook(udp(5, 6), input()),
        NfOutcome::Queued
    ));
    assert!(matches!(
        r.nf.nf_hook(tcp(5, 6), input()),
        NfOutcome::Queued
    ));
    let freed = r.nf.nfq_unbind(4);
    assert_eq!(freed.len(), 2);
    assert!(r.nf.nfq_stats(4).is_none());
    assert!(r.nf.nfq_recv(4).is_none());
    // The op that queued the last packet is gone: the verdict drops it.
    let (id, _) = r.nf.nfq_recv(5).unwrap();
    assert!(r.nf.nf_unregister_net_hook(q));
    let (_, out) = r.nf.nf_reinject(id, NfVerdict::Accept).unwrap();
    assert_eq!(drop_why(&out), Some(NfDrop::HookGone));
}

#[test]
fn nfqueue_target_resumes_after_the_table() {
    let mut r = Rig::new();
    r.nf.load_rules(
        "-A INPUT -p udp --dport 53 -j NFQUEUE --queue-num 7\n-A INPUT -j MARK --set-mark 1",
    )
    .unwrap();
    r.op(NfInetHook::LocalIn, 50, "after", &[]);
    r.nf.nfq_set_config(7, 4, false);
    assert!(matches!(
        r.nf.nf_hook(udp(1000, 53), input()),
        NfOutcome::Queued
    ));
    assert!(r.trace().is_empty());
    let (id, _) = r.nf.nfq_recv(7).unwrap();
    let (_, out) = r.nf.nf_reinject(id, NfVerdict::Accept).unwrap();
    assert!(is_continue(&out));
    // The rest of the chain (the MARK rule) does not run: the table's op is done.
    assert_eq!(r.trace(), ["after:0"]);
    // Without a queue and with --queue-bypass the table accepts.
    r.nf.load_rules("-P INPUT DROP\n-A INPUT -j NFQUEUE --queue-num 8 --queue-bypass")
        .unwrap();
    assert!(is_continue(&r.nf.nf_hook(udp(1, 2), input())));
    r.nf.load_rules("-A INPUT -j NFQUEUE --queue-num 8")
        .unwrap();
    assert_eq!(
        drop_why(&r.nf.nf_hook(udp(1, 2), input())),
        Some(NfDrop::NoQueue)
    );
}

#[test]
fn skb_bytes_across_frag_list() {
    let mut s = skb_of(b"0123");
    s.frag_list.push(skb_of(b"45"));
    s.frag_list.push(skb_of(b"6789"));
    let mut out = [0u8; 6];
    assert!(skb_copy_bits(&s, 2, &mut out));
    assert_eq!(&out, b"234567");
    assert!(!skb_copy_bits(&s, 5, &mut out));
    assert!(skb_store_bits(&mut s, 3, b"abcd"));
    assert_eq!(
        (s.data(), s.frag_list[0].data(), s.frag_list[1].data()),
        (&b"012a"[..], &b"bc"[..], &b"d789"[..])
    );
    assert!(!skb_store_bits(&mut s, 8, b"xyz"));
    assert!(!skb_store_bits(&mut s, usize::MAX, b"x"));
    assert_eq!(s.frag_list[1].data(), b"d789");
}

// ---- rule table: parsing -----------------------------------------------------------------

fn parse_err(text: &str) -> RuleError {
    Netfilter::new().load_rules(text).unwrap_err()
}

#[test]
fn parse_errors_name_the_line() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "-A INPUT -j ACCEPT\n-A NOPE -j DROP",
            2,
            "unknown chain `NOPE'",
        ),
        (
            "\n# c\n-P INPUT REJECT",
            3,
            "bad policy `REJECT' (only ACCEPT or DROP)",
        ),
        (
            "-A INPUT -p tcp --dport 70000 -j DROP",
            1,
            "invalid port `70000'",
        ),
        (
            "-A INPUT --dport 22 -j DROP",
            1,
            "--sport/--dport need -p tcp or -p udp",
        ),
        (
            "-A INPUT ! -p tcp --dport 22 -j DROP",
            1,
            "--sport/--dport need -p tcp or -p udp",
        ),
        (
            "-A INPUT -p udp --icmp-type 8 -j DROP",
            1,
            "--icmp-type needs -p icmp",
        ),
        (
            "-A INPUT -s 10.0.0.0/33 -j DROP",
            1,
            "invalid address `10.0.0.0/33'",
        ),
        ("-A INPUT -j FOO", 1, "unknown target `FOO'"),
        (
            "-A INPUT -j DROP --to 1.2.3.4",
            1,
            "--to is not an option of target DROP",
        ),
        ("-A INPUT -j MARK", 1, "MARK needs --set-mark"),
        ("-A OUTPUT -i eth0 -j DROP", 1, "can't use -i with OUTPUT"),
        (
            "-A PREROUTING -o eth0 -j DROP",
            1,
            "can't use -o with PREROUTING",
        ),
        (
            "-A PREROUTING -j REJECT",
            1,
            "REJECT is only usable from INPUT, FORWARD and OUTPUT, not PREROUTING",
        ),
        (
            "-A INPUT -j REJECT --reject-with tcp-reset",
            1,
            "unsupported --reject-with `tcp-reset'",
        ),
        ("-A INPUT ! -j DROP", 1, "-j cannot be negated with `!'"),
        (
            "-A INPUT ! ! -s 1.2.3.4",
            1,
            "multiple `!' flags not allowed",
        ),
        (
            "-A INPUT -s 1.2.3.4 !",
            1,
            "`!' must be followed by an option",
        ),
        (
            "-A INPUT -s 1.2.3.4 -s 1.2.3.5",
            1,
            "multiple -s options are not allowed",
        ),
        (
            "-A INPUT ! --ttl-lt 5",
            1,
            "--ttl-lt cannot be negated with `!'",
        ),
        (
            "-A INPUT --ttl-lt 5 --ttl-gt 1",
            1,
            "multiple --ttl-eq/--ttl-lt/--ttl-gt options are not allowed",
        ),
        (
            "-A INPUT -j LOG --log-prefix \"123456789012345678901234567890\"",
            1,
            "maximum prefix length 29 for --log-prefix",
        ),
        (
            "-A INPUT -j LOG --log-prefix \"open",
            1,
            "unterminated quote",
        ),
        (
            "-A INPUT -i abcdefghijklmnop",
            1,
            "interface name `abcdefghijklmnop' must be shorter than IFNAMSIZ (16)",
        ),
        ("-A INPUT -s", 1, "option -s requires an argument"),
        ("-A INPUT -m conntrack", 1, "unknown match `conntrack'"),
        ("-A INPUT --frobnicate", 1, "unknown option `--frobnicate'"),
        ("-I INPUT -j DROP", 1, "unknown command `-I' (-A or -P)"),
        ("-P INPUT", 1, "usage: -P CHAIN ACCEPT|DROP"),
        (
            "-A INPUT ! -p all",
            1,
            "rule would never match protocol (! -p all)",
        ),
        (
            "-A INPUT -p tcp --sport 9:8",
            1,
            "invalid port range `9:8' (min > max)",
        ),
        (
            "-A INPUT -j NFQUEUE --queue-num 65536",
            1,
            "invalid queue number `65536'",
        ),
    ];
    for &(text, line, what) in cases {
        let e = parse_err(text);
        assert_eq!((e.line, e.what.as_str()), (line, what), "{text}");
    }
    assert_eq!(parse_err("\n-A X").to_string(), "line 2: unknown chain `X'");
}

#[test]
fn failed_load_keeps_the_old_rules() {
    let mut nf = Netfilter::new();
    nf.load_rules("-P INPUT DROP").unwrap();
    assert!(nf.load_rules("-P INPUT ACCEPT\n-A INPUT -j NOPE").is_err());
    assert!(drop_why(&nf.nf_hook(ping(), input())).is_some());
}

#[test]
fn rule_count_is_bounded() {
    let text = "-A INPUT -j ACCEPT\n".repeat(MAX_RULES + 1);
    assert_eq!(parse_err(&text).line, MAX_RULES + 1);
    assert!(
        Netfilter::new()
            .load_rules(&text[..text.len() - 19])
            .is_ok()
    );
}

// ---- rule table: matches -----------------------------------------------------------------

/// Whether `rule` (ACCEPT) matches in a chain with policy DROP.
fn hits(rule: &str, skb: SkBuff, state: NfHookState) -> bool {
    let chain = state.hook.chain_name();
    let mut nf = Netfilter::new();
    nf.load_rules(&format!("-P {chain} DROP\n-A {chain} {rule} -j ACCEPT"))
        .unwrap_or_else(|e| panic!("{rule}: {e}"));
    match nf.nf_hook(skb, state) {
        NfOutcome::Continue(_) => true,
        NfOutcome::Drop {
            why: NfDrop::Verdict,
            ..
        } => false,
        other => panic!("{rule}: {other:?}"),
    }
}

fn check(rule: &str, skb: impl Fn() -> SkBuff, state: NfHookState, want: bool) {
    assert_eq!(hits(rule, skb(), state), want, "{rule}");
    let negated = match rule.rfind(" --") {
        Some(at) => format!("{} ! {}", &rule[..at], &rule[at + 1..]),
        None => format!("! {rule}"),
    };
    assert_eq!(hits(&negated, skb(), state), !want, "{negated}");
}

#[test]
fn address_interface_protocol_matches() {
    let i = input();
    check("-s 10.0.1.2", ping, i, true);
    check("-s 10.0.1.0/24", ping, i, true);
    check("-s 10.0.0.0/255.255.0.0", ping, i, true);
    check("-s 10.0.2.0/24", ping, i, false);
    check("-d 10.0.2.2/32", ping, i, true);
    check("-d 0.0.0.0/0", ping, i, true);
    check("-d 10.0.1.0/24", ping, i, false);
    check("-i eth0", ping, i, true);
    check("-i eth+", ping, i, true);
    check("-i eth1", ping, i, false);
    check("-i eth00", ping, i, false);
    let fwd = st(NfInetHook::Forward);
    check("-o eth1", ping, fwd, true);
    check("-o wlan+", ping, fwd, false);
    // No device: only a negated or bare-wildcard interface match hits.
    let mut none = input();
    none.in_dev = None;
    check("-i eth0", ping, none, false);
    check("-p icmp", ping, i, true);
    check("-p udp", ping, i, false);
    check("-p 1", ping, i, true);
    check("-p 17", || udp(1, 2), i, true);
    assert!(hits("-p all", tcp(1, 2), i));
}

#[test]
fn port_matches() {
    let i = input();
    check("-p udp --dport 53", || udp(40000, 53), i, true);
    check("-p udp --dport 54", || udp(40000, 53), i, false);
    check("-p udp --sport 40000:40010", || udp(40000, 53), i, true);
    check("-p udp --sport :39999", || udp(40000, 53), i, false);
    check("-p udp --sport 39999:", || udp(40000, 53), i, true);
    check("-p tcp --dport 22", || tcp(5555, 22), i, true);
    check("-p tcp --sport 22", || tcp(5555, 22), i, false);
    assert!(hits("-p tcp ! --dport 80", tcp(5555, 22), i));
    assert!(!hits("-p tcp ! --dport 22", tcp(5555, 22), i));
    assert!(hits("-p tcp --sport 5555 --dport 22", tcp(5555, 22), i));
    assert!(!hits("-p tcp --sport 5555 --dport 23", tcp(5555, 22), i));
    // The protocol decides which header is read: a UDP port rule misses TCP packets.
    assert!(!hits("-p udp --dport 22", tcp(5555, 22), i));
}

#[test]
fn icmp_type_matches() {
    let i = input();
    check("-p icmp --icmp-type echo-request", ping, i, true);
    check("-p icmp --icmp-type 8", ping, i, true);
    check("-p icmp --icmp-type 8/0", ping, i, true);
    check("-p icmp --icmp-type 8/1", ping, i, false);
    check("-p icmp --icmp-type echo-reply", ping, i, false);
    check("-p icmp --icmp-type any", ping, i, true);
    assert!(!hits("-p icmp ! --icmp-type echo-request", ping(), i));
    assert!(hits("-p icmp ! --icmp-type time-exceeded", ping(), i));
    let unreach = || {
        let inner = ip(IpProtocol::Udp).bytes(&udp_payload(B, A, 53, 1000, TxChecksum::Full));
        let p = icmp_payload(Icmpv4Repr::DstUnreachable {
            reason: skiff_wire::icmpv4::DstUnreachable::PortUnreachable,
            next_hop_mtu: 0,
            data: &inner,
        });
        skb_of(&ip(IpProtocol::Icmp).bytes(&p))
    };
    check("-p icmp --icmp-type port-unreachable", unreach, i, true);
    check(
        "-p icmp --icmp-type destination-unreachable",
        unreach,
        i,
        true,
    );
    check("-p icmp --icmp-type host-unreachable", unreach, i, false);
}

#[test]
fn ttl_fragment_and_mark_matches() {
    let i = input();
    check("--ttl-eq 64", ping, i, true);
    check("--ttl-eq 63", ping, i, false);
    assert!(hits("--ttl-lt 65", ping(), i));
    assert!(!hits("--ttl-lt 64", ping(), i));
    assert!(hits("--ttl-gt 63", ping(), i));
    assert!(!hits("--ttl-gt 64", ping(), i));
    // -f: second and further fragments only.
    let frag = |off: u16, mf: bool| {
        let mut h = ip(IpProtocol::Udp);
        h.frag_offset = off;
        h.mf = mf;
        h.df = false;
        move || skb_of(&h.bytes(&[0u8; 16]))
    };
    check("-f", frag(8, false), i, true);
    check("-f", frag(0, true), i, false);
    check("-f", || udp(1, 2), i, false);
    let marked = |m: u32| {
        move || {
            let mut s = ping();
            s.mark = m;
            s
        }
    };
    check("--mark 0x10", marked(0x10), i, true);
    check("--mark 16", marked(0x10), i, true);
    check("--mark 0x10", marked(0x11), i, false);
    check("--mark 0x10/0xf0", marked(0x1f), i, true);
    check("--mark 0x20/0xf0", marked(0x1f), i, false);
    check("-m mark --mark 0", marked(0), i, true);
}

#[test]
fn fragments_never_match_ports_and_short_headers_hotdrop() {
    let i = input();
    let frag = |proto: IpProtocol, off: u16, payload: &[u8]| {
        let mut h = ip(proto);
        h.frag_offset = off;
        h.df = false;
        h.mf = true;
        skb_of(&h.bytes(payload))
    };
    // A non-first fragment never matches a port or ICMP-type rule (nor its negation).
    assert!(!hits(
        "-p udp --dport 53",
        frag(IpProtocol::Udp, 16, &[0; 16]),
        i
    ));
    assert!(!hits(
        "-p udp ! --dport 53",
        frag(IpProtocol::Udp, 16, &[0; 16]),
        i
    ));
    assert!(!hits(
        "-p icmp ! --icmp-type 8",
        frag(IpProtocol::Icmp, 16, &[0; 16]),
        i
    ));
    assert!(!hits(
        "-p tcp --dport 1",
        frag(IpProtocol::Tcp, 16, &[0; 16]),
        i
    ));
    // But it does match address rules.
    assert!(hits(
        "-p udp -s 10.0.1.2",
        frag(IpProtocol::Udp, 16, &[0; 16]),
        i
    ));
    let mut nf = Netfilter::new();
    nf.load_rules("-A INPUT -p tcp --dport 22 -j ACCEPT\n-A INPUT -p udp --dport 53 -j ACCEPT\n-A INPUT -p icmp --icmp-type 8 -j ACCEPT")
        .unwrap();
    let hot = |nf: &mut Netfilter, s: SkBuff| drop_why(&nf.nf_hook(s, input()));
    // TCP at fragment offset 8 bytes: "evil TCP offset=1 frag".
    assert_eq!(
        hot(&mut nf, frag(IpProtocol::Tcp, 8, &[0; 16])),
        Some(NfDrop::HotDrop)
    );
    // First fragments too short for their header.
    assert_eq!(
        hot(&mut nf, frag(IpProtocol::Tcp, 0, &[0; 19])),
        Some(NfDrop::HotDrop)
    );
    assert_eq!(
        hot(&mut nf, frag(IpProtocol::Udp, 0, &[0; 7])),
        Some(NfDrop::HotDrop)
    );
    assert_eq!(
        hot(&mut nf, frag(IpProtocol::Icmp, 0, &[8, 0, 0, 0])),
        Some(NfDrop::HotDrop)
    );
    // A tiny header that is complete is fine (RFC 1858: accept legitimately tiny first fragments).
    assert_eq!(
        hot(
            &mut nf,
            frag(
                IpProtocol::Udp,
                0,
                &udp_payload(A, B, 9, 53, TxChecksum::None)[..8]
            )
        ),
        None
    );
    // A UDP fragment at offset 8 is not hot-dropped (only TCP is).
    assert_eq!(hot(&mut nf, frag(IpProtocol::Udp, 8, &[0; 16])), None);
    // The counters of the hotdropping rule did not move.
    assert!(nf.render_rules().contains("    0     0 ACCEPT     tcp "));
    // A malformed IPv4 header is dropped the same way.
    assert_eq!(hot(&mut nf, skb_of(&[0x45, 0, 0])), Some(NfDrop::HotDrop));
}

// ---- rule table: targets -----------------------------------------------------------------

fn run(rules: &str, skb: SkBuff, state: NfHookState) -> (Netfilter, NfOutcome) {
    let mut nf = Netfilter::new();
    nf.load_rules(rules).unwrap();
    let out = nf.nf_hook(skb, state);
    (nf, out)
}

#[test]
fn reject_with_codes() {
    let cases = [
        ("", 3),
        ("--reject-with icmp-net-unreachable", 0),
        ("--reject-with host-unreach", 1),
        ("--reject-with icmp-proto-unreachable", 2),
        ("--reject-with icmp-port-unreachable", 3),
        ("--reject-with icmp-net-prohibited", 9),
        ("--reject-with icmp-host-prohibited", 10),
        ("--reject-with icmp-admin-prohibited", 13),
    ];
    for (opt, code) in cases {
        for skb in [udp(1, 2), tcp(1, 2), ping()] {
            let (_, out) = run(&format!("-A INPUT -j REJECT {opt}"), skb, input());
            let NfOutcome::Drop { reject, why, .. } = out else {
                panic!()
            };
            assert_eq!(why, NfDrop::Verdict);
            assert_eq!(reject, Some(Reject { icmp_type: 3, code }), "{opt}");
        }
    }
}

#[test]
fn reject_sends_nothing_for_bad_checksums_and_fragments() {
    let reject = |skb: SkBuff| match run("-A FORWARD -j REJECT", skb, st(NfInetHook::Forward)).1 {
        NfOutcome::Drop { reject, .. } => reject,
        other => panic!("{other:?}"),
    };
    let mut bad = udp(1, 2);
    let n = bad.len();
    bad.data_mut()[n - 1] ^= 0xff;
    assert_eq!(reject(bad), None);
    // ... unless the device vouched for it.
    let mut vouched = udp(1, 2);
    vouched.data_mut()[n - 1] ^= 0xff;
    vouched.ip_summed = ChecksumState::Unnecessary;
    assert!(reject(vouched).is_some());
    // A UDP datagram without a checksum is not verified.
    let nocsum = skb_of(&ip(IpProtocol::Udp).bytes(&udp_payload(A, B, 1, 2, TxChecksum::None)));
    assert!(reject(nocsum).is_some());
    let mut badtcp = tcp(1, 2);
    let n = badtcp.len();
    badtcp.data_mut()[n - 1] ^= 1;
    assert_eq!(reject(badtcp), None);
    let mut badping = ping();
    badping.data_mut()[30] ^= 1;
    assert_eq!(reject(badping), None);
    // Verified across a frag_list.
    let mut split = udp(1, 2);
    let tail = split.data()[25..].to_vec();
    split.trim(25);
    split.frag_list.push(skb_of(&tail));
    assert!(reject(split).is_some());
    let mut h = ip(IpProtocol::Udp);
    h.frag_offset = 64;
    h.df = false;
    assert_eq!(reject(skb_of(&h.bytes(&[0; 8]))), None);
}

#[test]
fn mark_target() {
    let marked = |rules: &str, start: u32| {
        let mut s = ping();
        s.mark = start;
        match run(rules, s, input()).1 {
            NfOutcome::Continue(s) => s.mark,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(marked("-A INPUT -j MARK --set-mark 0x5", 0xff00), 0x5);
    // Zero the mask bits, then set the value.
    assert_eq!(
        marked("-A INPUT -j MARK --set-mark 0x5/0xf", 0xff0a),
        0xff05
    );
    // MARK continues: a later rule sees the new mark.
    assert_eq!(
        marked(
            "-P INPUT DROP\n-A INPUT -j MARK --set-mark 7\n-A INPUT --mark 7 -j ACCEPT",
            0
        ),
        7
    );
}

/// Verifies the IPv4 header and the transport checksum from scratch.
fn verify(skb: &SkBuff) {
    let d = skb.data();
    assert_eq!(ip_fast_csum(&d[..20]), 0, "IPv4 header checksum");
    let (src, dst) = (
        Ipv4Addr::new(d[12], d[13], d[14], d[15]),
        Ipv4Addr::new(d[16], d[17], d[18], d[19]),
    );
    let l4 = &d[20..];
    match d[9] {
        6 | 17 if !(d[9] == 17 && l4[6..8] == [0, 0]) => {
            let pseudo = csum_tcpudp_nofold(src, dst, l4.len() as u32, d[9], 0);
            assert_eq!(csum_fold(csum_partial(l4, pseudo)), 0, "transport checksum");
        }
        1 => assert_eq!(csum_fold(csum_partial(l4, 0)), 0, "ICMP checksum"),
        _ => {}
    }
}

fn rewrite(rules: &str, skb: SkBuff) -> SkBuff {
    match run(rules, skb, st(NfInetHook::PreRouting)).1 {
        NfOutcome::Continue(s) => s,
        other => panic!("{other:?}"),
    }
}

const NEW: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 9);

#[test]
fn set_addr_rewrites_and_fixes_checksums() {
    for skb in [udp(1000, 53), tcp(1000, 22), ping()] {
        let before = skb.data().to_vec();
        let s = rewrite("-A PREROUTING -j SET-SADDR --to 192.168.77.9", skb);
        assert_eq!(&s.data()[12..16], &NEW.octets());
        assert_eq!(&s.data()[16..20], &before[16..20]);
        verify(&s);
        let s = rewrite("-A PREROUTING -j SET-DADDR --to 192.168.77.9", s);
        assert_eq!(&s.data()[16..20], &NEW.octets());
        verify(&s);
    }
    // A later rule matches the new address.
    let s = rewrite(
        "-P PREROUTING DROP\n-A PREROUTING -j SET-DADDR --to 192.168.77.9\n-A PREROUTING -d 192.168.77.9 -j ACCEPT",
        udp(1, 2),
    );
    verify(&s);
    // The transport checksum field in a frag_list piece.
    let mut split = tcp(1000, 22);
    let tail = split.data()[30..].to_vec();
    split.trim(30);
    split.frag_list.push(skb_of(&tail));
    let s = rewrite("-A PREROUTING -j SET-SADDR --to 192.168.77.9", split);
    let mut flat = s.data().to_vec();
    flat.extend_from_slice(s.frag_list[0].data());
    verify(&skb_of(&flat));
}

#[test]
fn set_addr_udp_zero_checksum_and_fragments() {
    // A UDP checksum of 0 ("none") stays 0.
    let nocsum = skb_of(&ip(IpProtocol::Udp).bytes(&udp_payload(A, B, 1, 2, TxChecksum::None)));
    let s = rewrite("-A PREROUTING -j SET-SADDR --to 192.168.77.9", nocsum);
    assert_eq!(&s.data()[26..28], &[0, 0]);
    verify(&s);
    // A non-first fragment: only the IPv4 header changes.
    let mut h = ip(IpProtocol::Udp);
    h.frag_offset = 8;
    h.df = false;
    let payload = [0xabu8; 16];
    let s = rewrite(
        "-A PREROUTING -j SET-SADDR --to 192.168.77.9",
        skb_of(&h.bytes(&payload)),
    );
    assert_eq!(&s.data()[20..], &payload);
    assert_eq!(ip_fast_csum(&s.data()[..20]), 0);
    // A result of 0 becomes 0xffff: find a source that makes the updated checksum 0.
    let base = udp_payload(A, B, 1, 2, TxChecksum::Full);
    let check = u16::from_be_bytes([base[6], base[7]]);
    // New checksum = ~(~check - old + new); choose `new` so that the sum is 0xffff (i.e. -0).
    let old = u32::from(A);
    let target = skiff_wire::checksum::csum_add(!u32::from(check) & 0xffff, !old);
    let want = csum_fold(target); // the 16-bit word that completes the sum to 0xffff
    let to = Ipv4Addr::from(u32::from(want));
    let s = rewrite(&format!("-A PREROUTING -j SET-SADDR --to {to}"), udp(1, 2));
    assert_eq!(&s.data()[26..28], &[0xff, 0xff]);
    verify(&s);
}

#[test]
fn set_addr_partial_and_complete_checksum_states() {
    // CHECKSUM_PARTIAL: the field holds the uncomplemented pseudo-header sum.
    for (proto, at) in [(IpProtocol::Udp, 26), (IpProtocol::Tcp, 36)] {
        let l4 = match proto {
            IpProtocol::Udp => udp_payload(A, B, 1, 2, TxChecksum::Partial),
            _ => tcp_payload(A, B, 1, 2, TxChecksum::Partial),
        };
        let mut s = skb_of(&ip(proto).bytes(&l4));
        let start = s.headroom() as u16 + 20;
        s.ip_summed = ChecksumState::Partial {
            csum_start: start,
            csum_offset: (at - 20) as u16,
        };
        let s = rewrite("-A PREROUTING -j SET-DADDR --to 192.168.77.9", s);
        let expect_l4 = match proto {
            IpProtocol::Udp => udp_payload(A, NEW, 1, 2, TxChecksum::Partial),
            _ => tcp_payload(A, NEW, 1, 2, TxChecksum::Partial),
        };
        assert_eq!(
            &s.data()[at..at + 2],
            &expect_l4[at - 20..at - 18],
            "{proto:?}"
        );
        assert_eq!(ip_fast_csum(&s.data()[..20]), 0);
    }
    // CHECKSUM_COMPLETE follows the change: it still equals the sum of the packet.
    let mut s = udp(1, 2);
    s.ip_summed = ChecksumState::Complete(csum_partial(s.data(), 0));
    let s = rewrite("-A PREROUTING -j SET-SADDR --to 192.168.77.9", s);
    let ChecksumState::Complete(sum) = s.ip_summed else {
        panic!()
    };
    assert_eq!(csum_fold(sum), csum_fold(csum_partial(s.data(), 0)));
    verify(&s);
}

// ---- LOG ---------------------------------------------------------------------------------

fn log_of(rule: &str, skb: SkBuff, state: NfHookState) -> String {
    let chain = state.hook.chain_name();
    let (mut nf, _) = run(&format!("-A {chain} {rule}"), skb, state);
    let lines: Vec<String> = nf.drain_log().collect();
    assert_eq!(lines.len(), 1);
    lines.into_iter().next().unwrap()
}

#[test]
fn log_lines_in_nf_log_format() {
    let out = st(NfInetHook::LocalOut);
    assert_eq!(
        log_of("-j LOG --log-prefix \"ping: \"", ping(), out),
        "ping: IN= OUT=eth1 SRC=10.0.1.2 DST=10.0.2.2 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=ICMP TYPE=8 CODE=0 ID=7 SEQ=1 "
    );
    // Input side: MAC= is printed (empty when no link-layer header is recorded).
    assert_eq!(
        log_of("-j LOG", udp(1000, 53), input()),
        "IN=eth0 OUT= MAC= SRC=10.0.1.2 DST=10.0.2.2 LEN=33 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=UDP SPT=1000 DPT=53 LEN=13 "
    );
    let mut framed = SkBuff::new(64, 100).unwrap();
    framed
        .put_slice(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0])
        .unwrap();
    framed.reset_mac_header().unwrap();
    framed.pull(14).unwrap();
    framed.put_slice(tcp(5555, 22).data()).unwrap();
    framed.reset_network_header().unwrap();
    framed.mark = 0x2a;
    assert_eq!(
        log_of("-j LOG --log-prefix x", framed, input()),
        "xIN=eth0 OUT= MAC=02:00:00:00:00:01:02:00:00:00:00:02:08:00 SRC=10.0.1.2 DST=10.0.2.2 LEN=43 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=TCP SPT=5555 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0 MARK=0x2a "
    );
    let mut h = ip(IpProtocol::Udp);
    h.frag_offset = 1480;
    h.mf = true;
    h.df = false;
    h.ident = 4242;
    h.ttl = 3;
    assert_eq!(
        log_of("-j LOG", skb_of(&h.bytes(&[0; 8])), st(NfInetHook::Forward)),
        "IN=eth0 OUT=eth1 MAC= SRC=10.0.1.2 DST=10.0.2.2 LEN=28 TOS=0x00 PREC=0x00 TTL=3 ID=4242 MF FRAG:185 PROTO=UDP "
    );
    // ICMP errors print the quoted header once, in brackets.
    let mut back = ip(IpProtocol::Udp);
    (back.src, back.dst) = (B, A);
    let inner = back.bytes(&udp_payload(B, A, 53, 1000, TxChecksum::Full));
    let err = icmp_payload(Icmpv4Repr::DstUnreachable {
        reason: skiff_wire::icmpv4::DstUnreachable::FragRequired,
        next_hop_mtu: 1400,
        data: &inner[..28],
    });
    assert_eq!(
        log_of("-j LOG", skb_of(&ip(IpProtocol::Icmp).bytes(&err)), out),
        "IN= OUT=eth1 SRC=10.0.1.2 DST=10.0.2.2 LEN=56 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=ICMP TYPE=3 CODE=4 [SRC=10.0.2.2 DST=10.0.1.2 LEN=33 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=UDP SPT=53 DPT=1000 LEN=13 ] MTU=1400 "
    );
    // Truncated headers.
    assert_eq!(
        log_of("-j LOG", skb_of(&ip(IpProtocol::Tcp).bytes(&[0; 10])), out),
        "IN= OUT=eth1 SRC=10.0.1.2 DST=10.0.2.2 LEN=30 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=TCP INCOMPLETE [10 bytes] "
    );
    assert_eq!(
        log_of(
            "-j LOG",
            skb_of(&ip(IpProtocol::Icmp).bytes(&[0, 0, 0, 0, 0, 0, 0])),
            out
        ),
        "IN= OUT=eth1 SRC=10.0.1.2 DST=10.0.2.2 LEN=27 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=ICMP INCOMPLETE [7 bytes] "
    );
    assert_eq!(
        log_of("-j LOG", skb_of(&ip(IpProtocol::Other(47)).bytes(&[])), out),
        "IN= OUT=eth1 SRC=10.0.1.2 DST=10.0.2.2 LEN=20 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=47 "
    );
}

#[test]
fn log_continues_and_the_ring_is_bounded() {
    let mut nf = Netfilter::new();
    nf.load_rules("-P INPUT DROP\n-A INPUT -j LOG --log-prefix 'a '\n-A INPUT -j ACCEPT")
        .unwrap();
    for _ in 0..LOG_RING_SIZE + 6 {
        assert!(is_continue(&nf.nf_hook(ping(), input())));
    }
    assert_eq!(nf.log_lost(), 6);
    assert_eq!(nf.drain_log().count(), LOG_RING_SIZE);
    assert_eq!(nf.drain_log().count(), 0);
    // A rule-set reload keeps the ring.
    nf.nf_hook(ping(), input());
    nf.load_rules("").unwrap();
    assert_eq!(nf.drain_log().count(), 1);
}

// ---- counters and listing ----------------------------------------------------------------

#[test]
fn counters_and_listing() {
    let mut nf = Netfilter::new();
    nf.load_rules(concat!(
        "# a comment\n",
        "-P INPUT DROP\n",
        "-A INPUT -i lo -j ACCEPT\n",
        "-A INPUT -s 10.0.1.0/24 -p icmp --icmp-type echo-request -j ACCEPT  # ping\n",
        "-A INPUT -p udp ! --dport 53 -j LOG --log-prefix \"udp # \"\n",
        "-A INPUT -p tcp --sport 1024:65535 --dport 22 -j REJECT --reject-with icmp-host-prohibited\n",
        "-A INPUT ! -s 10.9.9.9 -d 10.0.2.0/255.255.255.0 --ttl-eq 64 --mark 0x1/0xff -j MARK --set-mark 0x100/0xff00\n",
        "-A INPUT ! -i eth+ -f -j DROP\n",
        "-P FORWARD DROP\n",
        "-A FORWARD -o eth1 ! -p udp -j NFQUEUE --queue-num 3 --queue-bypass\n",
        "-A OUTPUT -j SET-SADDR --to 1.2.3.4\n",
        "-A OUTPUT ! -f --ttl-lt 2 -j\n",
    ))
    .unwrap_err();
    nf.load_rules(concat!(
        "# a comment\n",
        "-P INPUT DROP\n",
        "-A INPUT -i lo -j ACCEPT\n",
        "-A INPUT -s 10.0.1.0/24 -p icmp --icmp-type echo-request -j ACCEPT  # ping\n",
        "-A INPUT -p udp ! --dport 53 -j LOG --log-prefix \"udp # \"\n",
        "-A INPUT -p tcp --sport 1024:65535 --dport 22 -j REJECT --reject-with icmp-host-prohibited\n",
        "-A INPUT ! -s 10.9.9.9 -d 10.0.2.0/255.255.255.0 --ttl-eq 64 --mark 0x1/0xff -j MARK --set-mark 0x100/0xff00\n",
        "-A INPUT ! -i eth+ -f -j DROP\n",
        "-P FORWARD DROP\n",
        "-A FORWARD -o eth1 ! -p udp -j NFQUEUE --queue-num 3 --queue-bypass\n",
        "-A OUTPUT -j SET-SADDR --to 1.2.3.4\n",
        "-A OUTPUT ! -f --ttl-lt 2\n",
        "-A POSTROUTING -p 99 -s 1.2.3.4/0.255.0.0 -j MARK --set-mark 7\n",
    ))
    .unwrap();
    for _ in 0..3 {
        assert!(is_continue(&nf.nf_hook(ping(), input())));
    }
    let mut s = udp(5, 6);
    s.mark = 1;
    assert!(drop_why(&nf.nf_hook(s, input())).is_some());
    assert!(drop_why(&nf.nf_hook(tcp(5555, 22), input())).is_some());
    assert!(is_continue(
        &nf.nf_hook(tcp(5555, 22), st(NfInetHook::Forward))
    ));
    assert!(is_continue(&nf.nf_hook(ping(), st(NfInetHook::LocalOut))));
    let want = "\
Chain PREROUTING (policy ACCEPT 0 packets, 0 bytes)
 pkts bytes target     prot opt in     out     source               destination         

Chain INPUT (policy DROP 1 packets, 33 bytes)
 pkts bytes target     prot opt in     out     source               destination         
    0     0 ACCEPT     all  --  lo     *       0.0.0.0/0            0.0.0.0/0           
    3   252 ACCEPT     icmp --  *      *       10.0.1.0/24          0.0.0.0/0            icmptype 8
    1    33 LOG        udp  --  *      *       0.0.0.0/0            0.0.0.0/0            udp dpt:!53 LOG flags 0 level 4 prefix \"udp # \"
    1    43 REJECT     tcp  --  *      *       0.0.0.0/0            0.0.0.0/0            tcp spts:1024:65535 dpt:22 reject-with icmp-host-prohibited
    1    33 MARK       all  --  *      *      !10.9.9.9             10.0.2.0/24          TTL match TTL == 64 mark match 0x1/0xff MARK xset 0x100/0xff00
    0     0 DROP       all  -f  !eth+  *       0.0.0.0/0            0.0.0.0/0           

Chain FORWARD (policy DROP 0 packets, 0 bytes)
 pkts bytes target     prot opt in     out     source               destination         
    1    43 NFQUEUE   !udp  --  *      eth1    0.0.0.0/0            0.0.0.0/0            NFQUEUE num 3 bypass

Chain OUTPUT (policy ACCEPT 1 packets, 84 bytes)
 pkts bytes target     prot opt in     out     source               destination         
    1    84 SET-SADDR  all  --  *      *       0.0.0.0/0            0.0.0.0/0            to:1.2.3.4
    0     0            all  !f  *      *       0.0.0.0/0            0.0.0.0/0            TTL match TTL < 2

Chain POSTROUTING (policy ACCEPT 0 packets, 0 bytes)
 pkts bytes target     prot opt in     out     source               destination         
    0     0 MARK       99   --  *      *       0.2.0.0/0.255.0.0    0.0.0.0/0            MARK set 0x7
";
    assert_eq!(nf.render_rules(), want);
}

#[test]
fn big_counters_use_kmg_suffixes() {
    use super::rules::num;
    assert_eq!(num(99_999, true), "99999 ");
    assert_eq!(num(100_000, true), " 100K ");
    assert_eq!(num(9_999_499, true), "9999K ");
    assert_eq!(num(9_999_500, true), "  10M ");
    assert_eq!(num(u64::MAX, true), "18446744T ");
    assert_eq!(num(123_456, false), "123K ");
}

// ---- hostile input -----------------------------------------------------------------------

proptest::proptest! {
    #[test]
    fn any_bytes_any_rules_never_panic(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80),
        hook in 0usize..5,
        split in 0usize..80,
    ) {
        let mut nf = Netfilter::new();
        let chain = NfInetHook::ALL[hook].chain_name();
        let rules = format!(
            "-A {chain} -p tcp --dport 1:100 -j LOG\n-A {chain} -p udp ! --sport 5 -j LOG\n\
             -A {chain} -p icmp --icmp-type 3 -j LOG\n-A {chain} -j SET-SADDR --to 1.2.3.4\n\
             -A {chain} -p tcp -j SET-DADDR --to 5.6.7.8\n-A {chain} -f -j ACCEPT"
        );
        nf.load_rules(&rules).unwrap();
        let mut skb = skb_of(&bytes);
        if split < bytes.len() {
            let tail = bytes[split..].to_vec();
            skb.trim(split);
            skb.frag_list.push(skb_of(&tail));
        }
        let _ = nf.nf_hook(skb, st(NfInetHook::ALL[hook]));
        let _ = nf.drain_log().count();
    }

    #[test]
    fn any_rule_text_never_panics(text in "[-!a-zA-Z0-9 ./:\"#+]{0,60}") {
        let _ = Netfilter::new().load_rules(&format!("-A INPUT {text}"));
    }
}
