//! Netfilter through the stack: each verdict of a user hook op, the rule targets, and the
//! hook points of the receive, forward and output paths.

mod common;

use common::*;
use skiff_core::drop::DropReason;
use skiff_core::netfilter::{NfHookFn, NfHookState, NfInetHook, NfVerdict, priority};
use skiff_core::skb::SkBuff;
use skiff_wire::Ipv4Addr;
use std::sync::Arc;
use std::sync::Mutex;

/// A hook op that answers a scripted sequence of verdicts and records its calls.
struct Script {
    verdicts: Vec<NfVerdict>,
    calls: Arc<Mutex<Vec<NfInetHook>>>,
    stolen: Arc<Mutex<usize>>,
}

impl NfHookFn for Script {
    fn hook(&mut self, _skb: &mut SkBuff, state: &NfHookState) -> NfVerdict {
        self.calls.lock().unwrap().push(state.hook);
        if self.verdicts.len() > 1 {
            self.verdicts.remove(0)
        } else {
            self.verdicts[0]
        }
    }

    fn stolen(&mut self, _skb: SkBuff) {
        *self.stolen.lock().unwrap() += 1;
    }
}

fn script(
    h: &mut Host,
    hook: NfInetHook,
    prio: i32,
    verdicts: Vec<NfVerdict>,
) -> (Arc<Mutex<Vec<NfInetHook>>>, Arc<Mutex<usize>>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let stolen = Arc::new(Mutex::new(0));
    let op = Script {
        verdicts,
        calls: calls.clone(),
        stolen: stolen.clone(),
    };
    h.s.nf
        .nf_register_net_hook(hook, prio, Box::new(op))
        .unwrap();
    (calls, stolen)
}

fn echo_answered(h: &mut Host) -> bool {
    h.rx(h.eth0, &Ip::echo(PEER, ME).frame());
    icmps(h.tx()).iter().any(|(t, _, _)| *t == 0)
}

#[test]
fn accept_drop_stolen() {
    let mut h = Host::new(false);
    let (calls, _) = script(
        &mut h,
        NfInetHook::LocalIn,
        priority::NF_IP_PRI_FILTER,
        vec![NfVerdict::Accept],
    );
    assert!(echo_answered(&mut h));
    assert_eq!(calls.lock().unwrap().as_slice(), &[NfInetHook::LocalIn]);

    let mut h = Host::new(false);
    script(
        &mut h,
        NfInetHook::PreRouting,
        priority::NF_IP_PRI_FILTER,
        vec![NfVerdict::Drop],
    );
    assert!(!echo_answered(&mut h));
    assert_eq!(h.drops(DropReason::NetfilterDrop), 1);

    let mut h = Host::new(false);
    let (_, stolen) = script(
        &mut h,
        NfInetHook::LocalIn,
        priority::NF_IP_PRI_FILTER,
        vec![NfVerdict::Stolen],
    );
    assert!(!echo_answered(&mut h));
    assert_eq!(*stolen.lock().unwrap(), 1);
    assert_eq!(
        h.drops(DropReason::NetfilterDrop),
        0,
        "stolen is not a drop"
    );
}

#[test]
fn stop_skips_the_later_ops_and_repeat_calls_again() {
    let mut h = Host::new(false);
    let (first, _) = script(
        &mut h,
        NfInetHook::LocalIn,
        priority::NF_IP_PRI_MANGLE,
        vec![NfVerdict::Stop],
    );
    let (second, _) = script(
        &mut h,
        NfInetHook::LocalIn,
        priority::NF_IP_PRI_FILTER,
        vec![NfVerdict::Drop],
    );
    assert!(echo_answered(&mut h), "Stop accepts at once");
    assert_eq!(first.lock().unwrap().len(), 1);
    assert!(second.lock().unwrap().is_empty());

    let mut h = Host::new(false);
    let (calls, _) = script(
        &mut h,
        NfInetHook::LocalIn,
        priority::NF_IP_PRI_FILTER,
        vec![NfVerdict::Repeat, NfVerdict::Repeat, NfVerdict::Accept],
    );
    assert!(echo_answered(&mut h));
    assert_eq!(calls.lock().unwrap().len(), 3, "the same op, three times");
}

#[test]
fn queue_then_reinject_continues_the_path() {
    let mut h = Host::new(false);
    h.s.nf.nfq_set_config(3, 16, false);
    script(
        &mut h,
        NfInetHook::LocalIn,
        priority::NF_IP_PRI_FILTER,
        vec![NfVerdict::Queue {
            num: 3,
            bypass: false,
        }],
    );
    assert!(!echo_answered(&mut h), "waiting in the queue");
    let (id, skb) = h.s.nf.nfq_recv(3).expect("queued");
    assert!(skb.len() > 20);
    assert!(h.s.nf_reinject(h.now, id, NfVerdict::Accept));
    assert_eq!(icmps(h.tx()).len(), 1, "the echo reply after the verdict");
    assert!(
        !h.s.nf_reinject(h.now, id, NfVerdict::Accept),
        "an id is used once"
    );

    // No queue bound: dropped without bypass, accepted with it.
    let mut h = Host::new(false);
    script(
        &mut h,
        NfInetHook::LocalIn,
        priority::NF_IP_PRI_FILTER,
        vec![NfVerdict::Queue {
            num: 9,
            bypass: false,
        }],
    );
    assert!(!echo_answered(&mut h));
    assert_eq!(h.drops(DropReason::NetfilterQueue), 1);
    let mut h = Host::new(false);
    script(
        &mut h,
        NfInetHook::LocalIn,
        priority::NF_IP_PRI_FILTER,
        vec![NfVerdict::Queue {
            num: 9,
            bypass: true,
        }],
    );
    assert!(echo_answered(&mut h));
}

#[test]
fn forward_and_output_hooks_see_their_packets() {
    let mut r = Host::new(true);
    let (fwd, _) = script(
        &mut r,
        NfInetHook::Forward,
        priority::NF_IP_PRI_FILTER,
        vec![NfVerdict::Accept],
    );
    let (post, _) = script(
        &mut r,
        NfInetHook::PostRouting,
        priority::NF_IP_PRI_FILTER,
        vec![NfVerdict::Accept],
    );
    let (out, _) = script(
        &mut r,
        NfInetHook::LocalOut,
        priority::NF_IP_PRI_FILTER,
        vec![NfVerdict::Accept],
    );
    r.rx(r.eth0, &Ip::udp(PEER, PEER1, 7, b"f").frame());
    assert_eq!(outs(r.tx()).len(), 1);
    assert_eq!(
        (
            fwd.lock().unwrap().len(),
            post.lock().unwrap().len(),
            out.lock().unwrap().len()
        ),
        (1, 1, 0)
    );
    r.rx(r.eth0, &Ip::echo(PEER, ME).frame());
    assert_eq!(icmps(r.tx()).len(), 1);
    assert_eq!(
        (
            fwd.lock().unwrap().len(),
            post.lock().unwrap().len(),
            out.lock().unwrap().len()
        ),
        (1, 2, 1)
    );
}

#[test]
fn rule_drop_and_reject() {
    let mut r = Host::new(true);
    r.s.nf.load_rules("-A FORWARD -p udp --dport 7 -j DROP\n-A FORWARD -p udp --dport 8 -j REJECT --reject-with icmp-admin-prohibited\n").unwrap();
    r.rx(r.eth0, &Ip::udp(PEER, PEER1, 7, b"x").frame());
    assert!(r.tx().is_empty());
    assert_eq!(r.drops(DropReason::NetfilterDrop), 1);
    r.rx(r.eth0, &Ip::udp(PEER, PEER1, 8, b"x").frame());
    let got = icmps(r.tx());
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].0, got[0].1, got[0].2.dst), (3, 13, PEER));
    r.rx(r.eth0, &Ip::udp(PEER, PEER1, 9, b"x").frame());
    assert_eq!(outs(r.tx()).len(), 1, "other ports pass");
    let listing = r.s.nf.render_rules();
    assert!(listing.contains("DROP"), "{listing}");
}

#[test]
fn rule_set_mark_log_and_rewrites() {
    let mut r = Host::new(true);
    r.s.nf
        .load_rules(
            "-A PREROUTING -p udp -j MARK --set-mark 0x2a\n\
             -A FORWARD --mark 0x2a -j LOG --log-prefix \"fwd: \"\n\
             -A POSTROUTING -o eth1 -s 10.0.0.2 -j SET-SADDR --to 10.0.1.1\n",
        )
        .unwrap();
    let p = Ip::udp(PEER, PEER1, 7, b"rewrite me");
    r.rx(r.eth0, &p.frame());
    let out = outs(r.tx());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].src, ME1, "source rewritten on the way out");
    // The UDP checksum still verifies with the new pseudo-header.
    let dgram = &out[0].payload;
    skiff_wire::udp::UdpRepr::parse(
        &skiff_wire::udp::UdpPacket::new_checked(&dgram[..]).unwrap(),
        ME1,
        PEER1,
        skiff_wire::RxChecksum::Verify,
    )
    .expect("UDP checksum fixed incrementally");
    let log: Vec<String> = r.s.nf.drain_log().collect();
    assert_eq!(log.len(), 1);
    assert!(
        log[0].starts_with("fwd: IN=eth0 OUT=eth1 MAC="),
        "{}",
        log[0]
    );
    assert!(
        log[0].contains(" SRC=10.0.0.2 DST=10.0.1.2 ") && log[0].contains(" MARK=0x2a"),
        "{}",
        log[0]
    );
}

#[test]
fn set_daddr_on_output_reroutes() {
    let mut h = Host::new(true);
    h.s.nf
        .load_rules("-A OUTPUT -d 10.0.0.2 -j SET-DADDR --to 10.0.1.2\n")
        .unwrap();
    let sock = h.s.raw_socket(1).unwrap();
    h.s.raw_sendto(h.now, sock, PEER, &icmp(8, 0, [0, 1, 0, 1], b"x"))
        .unwrap();
    let out = outs(h.tx());
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].dst, out[0].dev, out[0].eth_dst),
        (PEER1, h.eth1, PEER1_MAC),
        "ip_route_me_harder"
    );
}

#[test]
fn rules_match_interfaces_ttl_and_fragments() {
    let mut r = Host::new(true);
    r.s.nf
        .load_rules("-A FORWARD -i eth0 --ttl-lt 5 -j DROP\n-A FORWARD -f -j DROP\n-A FORWARD ! -s 10.0.0.0/24 -j DROP\n")
        .unwrap();
    let mut low = Ip::udp(PEER, PEER1, 7, b"x");
    low.ttl = 4;
    r.rx(r.eth0, &low.frame());
    let mut frag = Ip::udp(PEER, PEER1, 7, b"x");
    frag.frag_offset = 64;
    r.rx(r.eth0, &frag.frame());
    let ok = Ip::udp(Ipv4Addr::new(10, 0, 0, 9), PEER1, 7, b"ok").frame();
    r.rx(r.eth0, &ok);
    assert_eq!(r.drops(DropReason::NetfilterDrop), 2);
    assert_eq!(outs(r.tx()).len(), 1);
}
