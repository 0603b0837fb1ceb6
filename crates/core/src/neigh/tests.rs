use super::table::{Key, neigh_rand_reach_time, skb_truesize};
use super::*;
use crate::rand::Prng;
use crate::skb::{PacketType, SkBuff};
use crate::time::Instant;
use core::time::Duration;
use proptest::prelude::*;
use skiff_wire::Ipv4Addr;
use skiff_wire::arp::{ArpOperation, ArpPacket, ArpRepr, ETHERNET_IPV4_LEN};
use skiff_wire::ethernet::{
    EtherType, EthernetAddress, EthernetFrame, EthernetRepr, HEADER_LEN as ETH_HLEN,
};

const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const MY_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const PEER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);
const OTHER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 3]);

fn dev() -> NeighDev {
    NeighDev {
        ifindex: 1,
        mac: MY_MAC,
        addr: ME,
    }
}

fn local(a: Ipv4Addr) -> bool {
    a == ME
}

fn ms(t: u64) -> Instant {
    Instant::from_millis(t)
}

fn table(parms: NeighParms) -> NeighTable {
    NeighTable::new(parms, &mut Prng::new(1))
}

/// An IPv4 packet (header bytes by hand: the table reads only the source) whose first
/// payload byte is `mark`, with room for the Ethernet header.
fn ip_skb(src: Ipv4Addr, dst: Ipv4Addr, mark: u8) -> SkBuff {
    let mut skb = SkBuff::new(ETH_HLEN, 64).unwrap();
    let mut hdr = [0u8; 21];
    hdr[0] = 0x45;
    hdr[12..16].copy_from_slice(&src.octets());
    hdr[16..20].copy_from_slice(&dst.octets());
    hdr[20] = mark;
    skb.put_slice(&hdr).unwrap();
    skb
}

fn pkt(mark: u8) -> SkBuff {
    ip_skb(ME, PEER, mark)
}

fn arp_skb(
    op: ArpOperation,
    sha: EthernetAddress,
    sip: Ipv4Addr,
    tha: EthernetAddress,
    tip: Ipv4Addr,
    pkt_type: PacketType,
) -> SkBuff {
    let repr = ArpRepr::EthernetIpv4 {
        operation: op,
        source_hardware_addr: sha,
        source_protocol_addr: sip,
        target_hardware_addr: tha,
        target_protocol_addr: tip,
    };
    let mut skb = SkBuff::new(ETH_HLEN, ETHERNET_IPV4_LEN).unwrap();
    repr.emit(skb.put(ETHERNET_IPV4_LEN).unwrap()).unwrap();
    skb.pkt_type = pkt_type;
    skb
}

fn reply_from(sha: EthernetAddress, sip: Ipv4Addr) -> SkBuff {
    arp_skb(ArpOperation::Reply, sha, sip, MY_MAC, ME, PacketType::Host)
}

fn request_from(sha: EthernetAddress, sip: Ipv4Addr, tip: Ipv4Addr) -> SkBuff {
    let zero = EthernetAddress::default();
    arp_skb(
        ArpOperation::Request,
        sha,
        sip,
        zero,
        tip,
        PacketType::Broadcast,
    )
}

/// The Ethernet header and payload of an `Xmit`.
fn xmit(action: &NeighAction) -> (u32, EthernetRepr, Vec<u8>) {
    let NeighAction::Xmit { ifindex, skb } = action else {
        panic!("not an Xmit: {action:?}");
    };
    let frame = EthernetFrame::new_checked(skb.data()).unwrap();
    let eth = EthernetRepr::parse(&frame).unwrap();
    (*ifindex, eth, frame.payload().to_vec())
}

/// The Ethernet header and ARP packet of an ARP `Xmit`.
fn arp_xmit(action: &NeighAction) -> (EthernetRepr, ArpRepr) {
    let (ifindex, eth, payload) = xmit(action);
    assert_eq!(ifindex, 1);
    assert_eq!(eth.ethertype, EtherType::Arp);
    let arp = ArpRepr::parse(&ArpPacket::new_checked(&payload[..]).unwrap()).unwrap();
    (eth, arp)
}

/// The marks of IPv4 `Xmit`s sent to `dst`.
fn ip_marks(out: &[NeighAction], dst: EthernetAddress) -> Vec<u8> {
    out.iter()
        .map(|a| {
            let (ifindex, eth, payload) = xmit(a);
            assert_eq!(
                (ifindex, eth.ethertype, eth.src, eth.dst),
                (1, EtherType::Ipv4, MY_MAC, dst)
            );
            payload[20]
        })
        .collect()
}

fn request(target: Ipv4Addr, sender: Ipv4Addr, dst: EthernetAddress) -> (EthernetRepr, ArpRepr) {
    let eth = EthernetRepr {
        src: MY_MAC,
        dst,
        vlan: None,
        ethertype: EtherType::Arp,
    };
    let arp = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: MY_MAC,
        source_protocol_addr: sender,
        target_hardware_addr: EthernetAddress::default(),
        target_protocol_addr: target,
    };
    (eth, arp)
}

fn state(t: &NeighTable, addr: Ipv4Addr) -> Option<NudState> {
    t.entry(1, addr).map(|e| e.state)
}

fn output(t: &mut NeighTable, now: Instant, skb: SkBuff, out: &mut Vec<NeighAction>) {
    t.output(now, &dev(), PEER, NextHopKind::Unicast, skb, local, out);
}

/// Resolves PEER at `now` with a unicast reply; returns nothing left in `out`.
fn resolved(parms: NeighParms) -> NeighTable {
    let mut t = table(parms);
    let mut out = Vec::new();
    output(&mut t, ms(0), pkt(0), &mut out);
    t.arp_rcv(ms(0), &dev(), reply_from(PEER_MAC, PEER), local, &mut out)
        .unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(state(&t, PEER), Some(NudState::Reachable));
    t
}

/// Checks the bookkeeping invariants on every entry.
fn check_invariants(t: &NeighTable) {
    let mut in_timer = 0;
    let mut on_gc = 0;
    for n in t.map.values() {
        assert_eq!(n.timer.is_some(), n.state.in_timer(), "{n:?}");
        in_timer += usize::from(n.timer.is_some());
        assert_eq!(n.on_gc_list, n.state != NudState::Permanent);
        on_gc += usize::from(n.on_gc_list);
        if n.state != NudState::Incomplete {
            assert!(n.arp_queue.is_empty(), "{n:?}");
        }
        let bytes: usize = n.arp_queue.iter().map(skb_truesize).sum();
        assert_eq!(bytes, n.arp_queue_len_bytes);
    }
    assert_eq!(t.core.timers.len(), in_timer);
    assert_eq!(t.core.gc_entries, on_gc);
    assert!(on_gc <= t.core.parms.gc_thresh3.max(1) || t.core.parms.gc_thresh3 == 0);
}

#[test]
fn defaults_are_linux_arp_tbl() {
    let p = NeighParms::default();
    assert_eq!(p.base_reachable_time, Duration::from_secs(30));
    assert_eq!(p.retrans_time, Duration::from_secs(1));
    assert_eq!(p.delay_first_probe_time, Duration::from_secs(5));
    assert_eq!(p.gc_stale_time, Duration::from_secs(60));
    assert_eq!(
        (
            p.ucast_probes,
            p.mcast_probes,
            p.app_probes,
            p.mcast_reprobes
        ),
        (3, 3, 0, 0)
    );
    assert_eq!(p.unres_qlen_bytes, 212_992);
    assert_eq!((p.gc_thresh1, p.gc_thresh2, p.gc_thresh3), (128, 512, 1024));
    assert_eq!(p.locktime, Duration::from_secs(1));
    assert_eq!(NudState::Permanent as u8, 0x80);
    assert_eq!(NudState::Incomplete as u8, 0x01);
    assert_eq!(NudState::Reachable.to_string(), "REACHABLE");
}

#[test]
fn reachable_time_is_randomised_half_to_one_and_a_half_base() {
    let base = Duration::from_secs(30);
    let mut rng = Prng::new(3);
    let draws: Vec<Duration> = (0..2000)
        .map(|_| neigh_rand_reach_time(&mut rng, base))
        .collect();
    assert!(
        draws
            .iter()
            .all(|d| (Duration::from_secs(15)..Duration::from_secs(45)).contains(d))
    );
    assert!(draws.iter().any(|d| *d < Duration::from_secs(20)));
    assert!(draws.iter().any(|d| *d > Duration::from_secs(40)));
    assert_eq!(
        neigh_rand_reach_time(&mut rng, Duration::ZERO),
        Duration::ZERO
    );
    let t = table(NeighParms::default());
    assert!((Duration::from_secs(15)..Duration::from_secs(45)).contains(&t.reachable_time()));
}

#[test]
fn hasher_is_seeded_from_the_prng() {
    let key: Key = (1, PEER);
    let a = NeighTable::new(NeighParms::default(), &mut Prng::new(1));
    let b = NeighTable::new(NeighParms::default(), &mut Prng::new(1));
    let c = NeighTable::new(NeighParms::default(), &mut Prng::new(2));
    assert_eq!(a.map.hasher().hash_one(key), b.map.hasher().hash_one(key));
    assert_ne!(a.map.hasher().hash_one(key), c.map.hasher().hash_one(key));
}

#[test]
fn resolution_queues_requests_and_flushes_in_order_on_reply() {
    let mut t = table(NeighParms::default());
    let mut out = Vec::new();
    output(&mut t, ms(0), pkt(1), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(
        arp_xmit(&out[0]),
        request(PEER, ME, EthernetAddress::BROADCAST)
    );
    assert_eq!(
        t.entry(1, PEER),
        Some(NeighEntryInfo {
            ifindex: 1,
            addr: PEER,
            mac: None,
            state: NudState::Incomplete
        })
    );
    out.clear();
    output(&mut t, ms(100), pkt(2), &mut out);
    output(&mut t, ms(200), pkt(3), &mut out);
    assert!(
        out.is_empty(),
        "queued, no second request before retrans_time"
    );
    assert_eq!(t.poll_timeout(), Some(ms(1000)));

    t.arp_rcv(ms(300), &dev(), reply_from(PEER_MAC, PEER), local, &mut out)
        .unwrap();
    assert_eq!(ip_marks(&out, PEER_MAC), [1, 2, 3]);
    assert_eq!(t.entry(1, PEER).unwrap().mac, Some(PEER_MAC));
    assert_eq!(state(&t, PEER), Some(NudState::Reachable));
    assert_eq!(t.queued_bytes(), 0);
    assert_eq!(
        t.poll_timeout(),
        Some((ms(300) + t.reachable_time()).min(t.core.gc_next))
    );
    out.clear();
    output(&mut t, ms(400), pkt(4), &mut out);
    assert_eq!(ip_marks(&out, PEER_MAC), [4]);
    let s = t.stats();
    assert_eq!(
        (s.entries, s.allocs, s.res_failed, s.lookups, s.hits),
        (1, 1, 0, 1, 1)
    );
    check_invariants(&t);
}

#[test]
fn forwarded_packet_solicits_with_the_device_address() {
    let mut t = table(NeighParms::default());
    let mut out = Vec::new();
    let remote = Ipv4Addr::new(192, 168, 5, 5);
    output(&mut t, ms(0), ip_skb(remote, PEER, 0), &mut out);
    let dev_addr = Ipv4Addr::new(10, 0, 0, 100);
    let other_dev = NeighDev {
        addr: dev_addr,
        ..dev()
    };
    let other = Ipv4Addr::new(10, 0, 0, 3);
    t.output(
        ms(0),
        &other_dev,
        other,
        NextHopKind::Unicast,
        ip_skb(remote, other, 0),
        local,
        &mut out,
    );
    assert_eq!(
        arp_xmit(&out[0]),
        request(PEER, ME, EthernetAddress::BROADCAST)
    );
    assert_eq!(
        arp_xmit(&out[1]),
        request(other, dev_addr, EthernetAddress::BROADCAST)
    );
}

#[test]
fn no_reply_fails_after_mcast_probes_and_reports_queued_packets() {
    let mut t = table(NeighParms::default());
    let mut out = Vec::new();
    output(&mut t, ms(0), pkt(1), &mut out);
    output(&mut t, ms(10), pkt(2), &mut out);
    assert_eq!(out.len(), 1);
    t.handle_timeout(ms(999), &mut out);
    assert_eq!(out.len(), 1);
    t.handle_timeout(ms(1000), &mut out);
    t.handle_timeout(ms(2000), &mut out);
    assert_eq!(out.len(), 3);
    for a in &out {
        assert_eq!(arp_xmit(a), request(PEER, ME, EthernetAddress::BROADCAST));
    }
    assert_eq!(state(&t, PEER), Some(NudState::Incomplete));
    out.clear();
    t.handle_timeout(ms(3000), &mut out);
    let marks: Vec<u8> = out
        .iter()
        .map(|a| match a {
            NeighAction::Unreachable { ifindex: 1, skb } => skb.data()[20],
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(marks, [1, 2]);
    assert_eq!(state(&t, PEER), Some(NudState::Failed));
    assert_eq!(t.stats().res_failed, 1);
    assert_eq!(t.queued_bytes(), 0);
    assert_eq!(t.poll_timeout(), Some(t.core.gc_next));
    check_invariants(&t);

    // The next packet starts resolution again.
    out.clear();
    output(&mut t, ms(4000), pkt(3), &mut out);
    assert_eq!(
        arp_xmit(&out[0]),
        request(PEER, ME, EthernetAddress::BROADCAST)
    );
    assert_eq!(state(&t, PEER), Some(NudState::Incomplete));
}

#[test]
fn no_probes_configured_fails_at_once() {
    let parms = NeighParms {
        mcast_probes: 0,
        ..NeighParms::default()
    };
    let mut t = table(parms);
    let mut out = Vec::new();
    output(&mut t, ms(0), pkt(1), &mut out);
    assert!(matches!(
        out[..],
        [NeighAction::Drop {
            reason: NeighDropReason::Failed,
            ..
        }]
    ));
    assert_eq!(state(&t, PEER), Some(NudState::Failed));
}

#[test]
fn full_queue_drops_the_oldest() {
    let size = skb_truesize(&pkt(0));
    let parms = NeighParms {
        unres_qlen_bytes: 3 * size,
        ..NeighParms::default()
    };
    let mut t = table(parms);
    let mut out = Vec::new();
    for mark in 0..5 {
        output(&mut t, ms(0), pkt(mark), &mut out);
    }
    let dropped: Vec<u8> = out
        .iter()
        .filter_map(|a| match a {
            NeighAction::QueueOverflow { skb } => Some(skb.data()[20]),
            _ => None,
        })
        .collect();
    assert_eq!(dropped, [0, 1]);
    assert_eq!(t.stats().unres_discards, 2);
    assert_eq!(t.queued_bytes(), 3 * size);
    out.clear();
    t.arp_rcv(ms(1), &dev(), reply_from(PEER_MAC, PEER), local, &mut out)
        .unwrap();
    assert_eq!(ip_marks(&out, PEER_MAC), [2, 3, 4]);
}

#[test]
fn a_packet_over_the_queue_limit_is_still_queued_alone() {
    let parms = NeighParms {
        unres_qlen_bytes: 10,
        ..NeighParms::default()
    };
    let mut t = table(parms);
    let mut out = Vec::new();
    output(&mut t, ms(0), pkt(0), &mut out);
    output(&mut t, ms(0), pkt(1), &mut out);
    assert!(matches!(&out[1], NeighAction::QueueOverflow { skb } if skb.data()[20] == 0));
    assert_eq!(t.queued_bytes(), skb_truesize(&pkt(1)));
}

#[test]
fn reachable_goes_stale_then_delay_probe_failed() {
    let mut t = resolved(NeighParms::default());
    let rt = t.reachable_time();
    let mut out = Vec::new();
    t.handle_timeout(ms(0) + (rt - Duration::from_millis(1)), &mut out);
    assert_eq!(state(&t, PEER), Some(NudState::Reachable));
    // At the boundary the entry is still alive (time_before_eq); the timer comes back 10 ms on.
    t.handle_timeout(ms(0) + rt, &mut out);
    assert_eq!(state(&t, PEER), Some(NudState::Reachable));
    assert_eq!(t.core.timers.next_deadline(), Some(ms(10) + rt));
    let stale_at = ms(10) + rt;
    t.handle_timeout(stale_at, &mut out);
    assert_eq!(state(&t, PEER), Some(NudState::Stale));
    assert!(out.is_empty());

    // Use in STALE sends at once with the old address and starts DELAY.
    let t0 = stale_at + Duration::from_secs(10);
    output(&mut t, t0, pkt(9), &mut out);
    assert_eq!(ip_marks(&out, PEER_MAC), [9]);
    assert_eq!(state(&t, PEER), Some(NudState::Delay));
    assert_eq!(
        t.core.timers.next_deadline(),
        Some(t0 + Duration::from_secs(5))
    );
    out.clear();
    t.handle_timeout(t0 + Duration::from_millis(4999), &mut out);
    assert_eq!(state(&t, PEER), Some(NudState::Delay));
    // Then three unicast probes a second apart, then FAILED.
    for s in 5..8 {
        t.handle_timeout(t0 + Duration::from_secs(s), &mut out);
        assert_eq!(state(&t, PEER), Some(NudState::Probe));
    }
    assert_eq!(out.len(), 3);
    for a in &out {
        assert_eq!(arp_xmit(a), request(PEER, ME, PEER_MAC));
    }
    // Packets in PROBE still go out with the known address.
    out.clear();
    output(&mut t, t0 + Duration::from_secs(7), pkt(10), &mut out);
    assert_eq!(ip_marks(&out, PEER_MAC), [10]);
    out.clear();
    t.handle_timeout(t0 + Duration::from_secs(8), &mut out);
    assert!(out.is_empty());
    assert_eq!(state(&t, PEER), Some(NudState::Failed));
    assert_eq!(t.stats().res_failed, 1);
    check_invariants(&t);
}

#[test]
fn reply_in_probe_makes_reachable() {
    let mut t = resolved(NeighParms::default());
    let mut out = Vec::new();
    let t0 = Instant::from_secs(100);
    t.handle_timeout(t0, &mut out);
    assert_eq!(state(&t, PEER), Some(NudState::Stale));
    output(&mut t, t0, pkt(1), &mut out);
    t.handle_timeout(t0 + Duration::from_secs(5), &mut out);
    assert_eq!(state(&t, PEER), Some(NudState::Probe));
    t.arp_rcv(
        t0 + Duration::from_secs(5),
        &dev(),
        reply_from(PEER_MAC, PEER),
        local,
        &mut out,
    )
    .unwrap();
    assert_eq!(state(&t, PEER), Some(NudState::Reachable));
    check_invariants(&t);
}

#[test]
fn confirmation_in_delay_makes_reachable_without_probing() {
    let mut t = resolved(NeighParms::default());
    let mut out = Vec::new();
    let t0 = Instant::from_secs(100);
    t.handle_timeout(t0, &mut out);
    output(&mut t, t0, pkt(1), &mut out);
    assert_eq!(state(&t, PEER), Some(NudState::Delay));
    t.neigh_confirm(t0 + Duration::from_secs(2), 1, PEER);
    out.clear();
    t.handle_timeout(t0 + Duration::from_secs(5), &mut out);
    assert!(out.is_empty());
    assert_eq!(state(&t, PEER), Some(NudState::Reachable));
    // The new reachable period runs from the confirmation.
    assert_eq!(
        t.core.timers.next_deadline(),
        Some(t0 + Duration::from_secs(2) + t.reachable_time())
    );
    // A confirmation keeps REACHABLE alive past the reachable time.
    let rt = t.reachable_time();
    t.neigh_confirm(
        t0 + Duration::from_secs(2) + (rt - Duration::from_secs(1)),
        1,
        PEER,
    );
    t.handle_timeout(t0 + Duration::from_secs(2) + rt, &mut out);
    assert_eq!(state(&t, PEER), Some(NudState::Reachable));
}

#[test]
fn reachable_recently_used_goes_delay() {
    // A reachable time below delay_first_probe_time: the flush at resolution counts as use.
    let parms = NeighParms {
        base_reachable_time: Duration::from_secs(2),
        ..NeighParms::default()
    };
    let mut t = resolved(parms);
    let rt = t.reachable_time();
    assert!(rt < Duration::from_secs(3));
    let mut out = Vec::new();
    t.handle_timeout(ms(10) + rt, &mut out);
    assert_eq!(state(&t, PEER), Some(NudState::Delay));
    t.handle_timeout(ms(10) + rt + Duration::from_secs(5), &mut out);
    assert_eq!(state(&t, PEER), Some(NudState::Probe));
    assert_eq!(arp_xmit(&out[0]), request(PEER, ME, PEER_MAC));
}

#[test]
fn request_for_us_is_answered_and_creates_a_stale_entry() {
    let mut t = table(NeighParms::default());
    let mut out = Vec::new();
    t.arp_rcv(
        ms(0),
        &dev(),
        request_from(PEER_MAC, PEER, ME),
        local,
        &mut out,
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    let (eth, arp) = arp_xmit(&out[0]);
    assert_eq!((eth.src, eth.dst), (MY_MAC, PEER_MAC));
    assert_eq!(
        arp,
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Reply,
            source_hardware_addr: MY_MAC,
            source_protocol_addr: ME,
            target_hardware_addr: PEER_MAC,
            target_protocol_addr: PEER,
        }
    );
    assert_eq!(
        t.entry(1, PEER),
        Some(NeighEntryInfo {
            ifindex: 1,
            addr: PEER,
            mac: Some(PEER_MAC),
            state: NudState::Stale
        })
    );
    let s = t.stats();
    assert_eq!((s.lookups, s.hits, s.allocs), (1, 0, 1));
    // Sending to it needs no resolution.
    out.clear();
    output(&mut t, ms(10), pkt(5), &mut out);
    assert_eq!(ip_marks(&out, PEER_MAC), [5]);
    assert_eq!(state(&t, PEER), Some(NudState::Delay));
    check_invariants(&t);
}

#[test]
fn request_for_us_while_incomplete_sends_the_queue() {
    let mut t = table(NeighParms::default());
    let mut out = Vec::new();
    output(&mut t, ms(0), pkt(1), &mut out);
    output(&mut t, ms(0), pkt(2), &mut out);
    out.clear();
    t.arp_rcv(
        ms(5),
        &dev(),
        request_from(PEER_MAC, PEER, ME),
        local,
        &mut out,
    )
    .unwrap();
    assert_eq!(ip_marks(&out[..2], PEER_MAC), [1, 2]);
    assert_eq!(arp_xmit(&out[2]).1.operation(), ArpOperation::Reply);
    assert_eq!(state(&t, PEER), Some(NudState::Delay));
    check_invariants(&t);
}

trait Op {
    fn operation(&self) -> ArpOperation;
}

impl Op for ArpRepr {
    fn operation(&self) -> ArpOperation {
        let ArpRepr::EthernetIpv4 { operation, .. } = self;
        *operation
    }
}

#[test]
fn requests_for_others_are_not_answered_and_create_nothing() {
    let mut t = table(NeighParms::default());
    let mut out = Vec::new();
    let other = Ipv4Addr::new(10, 0, 0, 9);
    t.arp_rcv(
        ms(0),
        &dev(),
        request_from(PEER_MAC, PEER, other),
        local,
        &mut out,
    )
    .unwrap();
    assert!(out.is_empty());
    assert!(t.is_empty());
    // A request for us from one of our own addresses (a conflict) is not answered either.
    t.arp_rcv(
        ms(0),
        &dev(),
        request_from(PEER_MAC, ME, ME),
        local,
        &mut out,
    )
    .unwrap();
    assert!(out.is_empty());
    assert!(t.is_empty());
    assert_eq!(t.stats().allocs, 0);
}

#[test]
fn requests_for_others_refresh_an_existing_entry_after_locktime() {
    let mut t = resolved(NeighParms::default());
    let mut out = Vec::new();
    let other = Ipv4Addr::new(10, 0, 0, 9);
    t.arp_rcv(
        ms(500),
        &dev(),
        request_from(OTHER_MAC, PEER, other),
        local,
        &mut out,
    )
    .unwrap();
    assert_eq!(t.entry(1, PEER).unwrap().mac, Some(PEER_MAC));
    assert_eq!(state(&t, PEER), Some(NudState::Reachable));
    t.arp_rcv(
        ms(1001),
        &dev(),
        request_from(OTHER_MAC, PEER, other),
        local,
        &mut out,
    )
    .unwrap();
    assert_eq!(t.entry(1, PEER).unwrap().mac, Some(OTHER_MAC));
    assert_eq!(state(&t, PEER), Some(NudState::Stale));
    assert!(out.is_empty());
    // The same address again keeps the state (STALE never downgrades a valid entry).
    t.arp_rcv(
        ms(3000),
        &dev(),
        reply_from(OTHER_MAC, PEER),
        local,
        &mut out,
    )
    .unwrap();
    assert_eq!(state(&t, PEER), Some(NudState::Reachable));
    t.arp_rcv(
        ms(5000),
        &dev(),
        request_from(OTHER_MAC, PEER, other),
        local,
        &mut out,
    )
    .unwrap();
    assert_eq!(state(&t, PEER), Some(NudState::Reachable));
    check_invariants(&t);
}

#[test]
fn replies_within_locktime_do_not_override() {
    let mut t = resolved(NeighParms::default());
    let mut out = Vec::new();
    t.arp_rcv(
        ms(1000),
        &dev(),
        reply_from(OTHER_MAC, PEER),
        local,
        &mut out,
    )
    .unwrap();
    assert_eq!(t.entry(1, PEER).unwrap().mac, Some(PEER_MAC));
    t.arp_rcv(
        ms(1001),
        &dev(),
        reply_from(OTHER_MAC, PEER),
        local,
        &mut out,
    )
    .unwrap();
    assert_eq!(t.entry(1, PEER).unwrap().mac, Some(OTHER_MAC));
    assert_eq!(state(&t, PEER), Some(NudState::Reachable));
}

#[test]
fn gratuitous_arp_updates_existing_entries_only() {
    let mut t = resolved(NeighParms::default());
    let mut out = Vec::new();
    // Unknown sender: no entry (arp_accept = 0), for requests and replies alike.
    let stranger = Ipv4Addr::new(10, 0, 0, 7);
    t.arp_rcv(
        ms(10),
        &dev(),
        request_from(OTHER_MAC, stranger, stranger),
        local,
        &mut out,
    )
    .unwrap();
    t.arp_rcv(
        ms(10),
        &dev(),
        reply_from(OTHER_MAC, stranger),
        local,
        &mut out,
    )
    .unwrap();
    assert_eq!(t.len(), 1);
    // Known sender: a gratuitous request overrides even within locktime.
    t.arp_rcv(
        ms(10),
        &dev(),
        request_from(OTHER_MAC, PEER, PEER),
        local,
        &mut out,
    )
    .unwrap();
    assert_eq!(t.entry(1, PEER).unwrap().mac, Some(OTHER_MAC));
    assert_eq!(state(&t, PEER), Some(NudState::Stale));
    // A gratuitous reply needs tha == sha to count as gratuitous.
    let garp = |tha| {
        arp_skb(
            ArpOperation::Reply,
            PEER_MAC,
            PEER,
            tha,
            PEER,
            PacketType::Broadcast,
        )
    };
    t.arp_rcv(ms(20), &dev(), garp(MY_MAC), local, &mut out)
        .unwrap();
    assert_eq!(t.entry(1, PEER).unwrap().mac, Some(OTHER_MAC));
    t.arp_rcv(ms(20), &dev(), garp(PEER_MAC), local, &mut out)
        .unwrap();
    assert_eq!(t.entry(1, PEER).unwrap().mac, Some(PEER_MAC));
    // Broadcast replies do not prove reachability.
    assert_eq!(state(&t, PEER), Some(NudState::Stale));
    assert!(out.is_empty());
}

#[test]
fn broadcast_reply_resolves_to_stale() {
    let mut t = table(NeighParms::default());
    let mut out = Vec::new();
    output(&mut t, ms(0), pkt(1), &mut out);
    out.clear();
    let bcast = arp_skb(
        ArpOperation::Reply,
        PEER_MAC,
        PEER,
        MY_MAC,
        ME,
        PacketType::Broadcast,
    );
    t.arp_rcv(ms(1), &dev(), bcast, local, &mut out).unwrap();
    assert_eq!(ip_marks(&out, PEER_MAC), [1]);
    assert_eq!(state(&t, PEER), Some(NudState::Delay));
}

#[test]
fn arp_probe_for_our_address_is_answered_without_learning() {
    let mut t = table(NeighParms::default());
    let mut out = Vec::new();
    let probe = |tip| request_from(PEER_MAC, Ipv4Addr::UNSPECIFIED, tip);
    t.arp_rcv(
        ms(0),
        &dev(),
        probe(Ipv4Addr::new(10, 0, 0, 9)),
        local,
        &mut out,
    )
    .unwrap();
    assert!(out.is_empty());
    t.arp_rcv(ms(0), &dev(), probe(ME), local, &mut out)
        .unwrap();
    let (eth, arp) = arp_xmit(&out[0]);
    assert_eq!(eth.dst, PEER_MAC);
    assert_eq!(
        arp,
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Reply,
            source_hardware_addr: MY_MAC,
            source_protocol_addr: ME,
            target_hardware_addr: PEER_MAC,
            target_protocol_addr: Ipv4Addr::UNSPECIFIED,
        }
    );
    assert!(t.is_empty());
}

#[test]
fn malformed_and_hostile_frames_are_dropped_with_a_reason() {
    let mut t = table(NeighParms::default());
    let mut out = Vec::new();
    let good = || request_from(PEER_MAC, PEER, ME);
    let with = |f: &dyn Fn(&mut [u8])| {
        let mut skb = good();
        f(skb.data_mut());
        skb
    };
    let zero = EthernetAddress::default();
    let req = |sha, sip, tip| {
        arp_skb(
            ArpOperation::Request,
            sha,
            sip,
            zero,
            tip,
            PacketType::Broadcast,
        )
    };
    let mcast_mac = EthernetAddress([1, 0, 0x5e, 0, 0, 1]);
    let mut short = good();
    short.trim(27);
    let mut long_hlen = SkBuff::new(0, 64).unwrap();
    long_hlen.put_slice(&[0u8; 64]).unwrap();
    long_hlen.data_mut()[..6].copy_from_slice(&[0, 1, 8, 0, 8, 4]);
    let cases: Vec<(SkBuff, ArpDrop)> = vec![
        (short, ArpDrop::Truncated),
        (with(&|b| b[4] = 8), ArpDrop::BadLength),
        (long_hlen, ArpDrop::BadLength),
        (with(&|b| b[5] = 16), ArpDrop::BadLength),
        (
            with(&|b| b[2..4].copy_from_slice(&[0x86, 0xdd])),
            ArpDrop::Unsupported,
        ),
        (with(&|b| b[1] = 6), ArpDrop::Unsupported),
        (with(&|b| b[7] = 3), ArpDrop::BadOpcode),
        (
            req(PEER_MAC, PEER, Ipv4Addr::new(224, 0, 0, 1)),
            ArpDrop::BadTarget,
        ),
        (
            req(PEER_MAC, PEER, Ipv4Addr::new(127, 0, 0, 1)),
            ArpDrop::BadTarget,
        ),
        (req(mcast_mac, PEER, ME), ArpDrop::BadSender),
        (
            req(EthernetAddress::BROADCAST, PEER, ME),
            ArpDrop::BadSender,
        ),
        (
            req(PEER_MAC, Ipv4Addr::new(224, 1, 1, 1), ME),
            ArpDrop::BadSender,
        ),
        (req(PEER_MAC, Ipv4Addr::BROADCAST, ME), ArpDrop::BadSender),
        (req(MY_MAC, PEER, ME), ArpDrop::OwnSender),
    ];
    for (skb, reason) in cases {
        assert_eq!(t.arp_rcv(ms(0), &dev(), skb, local, &mut out), Err(reason));
    }
    // Frames for another host or looped back are ignored quietly.
    for pkt_type in [PacketType::OtherHost, PacketType::Loopback] {
        let mut skb = good();
        skb.pkt_type = pkt_type;
        assert_eq!(t.arp_rcv(ms(0), &dev(), skb, local, &mut out), Ok(()));
    }
    assert!(out.is_empty());
    assert!(t.is_empty());
    assert_eq!(
        ArpDrop::OwnSender.to_string(),
        "ARP sender is our own MAC address"
    );
}

#[test]
fn permanent_entries_ignore_arp_and_never_expire() {
    let mut t = table(NeighParms::default());
    let mut out = Vec::new();
    t.add_static(ms(0), 1, PEER, PEER_MAC, &mut out);
    assert_eq!(state(&t, PEER), Some(NudState::Permanent));
    assert_eq!(t.core.gc_entries, 0);
    t.arp_rcv(
        ms(5000),
        &dev(),
        reply_from(OTHER_MAC, PEER),
        local,
        &mut out,
    )
    .unwrap();
    t.arp_rcv(
        ms(5000),
        &dev(),
        request_from(OTHER_MAC, PEER, PEER),
        local,
        &mut out,
    )
    .unwrap();
    assert!(out.is_empty());
    // A request for us from it is answered; the entry stays as it is.
    t.arp_rcv(
        ms(5000),
        &dev(),
        request_from(OTHER_MAC, PEER, ME),
        local,
        &mut out,
    )
    .unwrap();
    assert_eq!(arp_xmit(&out[0]).0.dst, OTHER_MAC);
    assert_eq!(t.entry(1, PEER).unwrap().mac, Some(PEER_MAC));
    out.clear();
    assert_eq!(t.core.timers.len(), 0);
    t.handle_timeout(Instant::from_secs(3600), &mut out);
    assert_eq!(state(&t, PEER), Some(NudState::Permanent));
    output(&mut t, Instant::from_secs(3600), pkt(1), &mut out);
    assert_eq!(ip_marks(&out, PEER_MAC), [1]);
    assert_eq!(state(&t, PEER), Some(NudState::Permanent));
    check_invariants(&t);
    out.clear();
    assert!(t.delete(Instant::from_secs(3600), 1, PEER, &mut out));
    assert!(!t.delete(Instant::from_secs(3600), 1, PEER, &mut out));
    assert!(t.is_empty() && out.is_empty());
    check_invariants(&t);
}

#[test]
fn static_entry_sends_queued_packets_and_delete_reports_them() {
    let mut t = table(NeighParms::default());
    let mut out = Vec::new();
    output(&mut t, ms(0), pkt(1), &mut out);
    out.clear();
    t.add_static(ms(1), 1, PEER, OTHER_MAC, &mut out);
    assert_eq!(ip_marks(&out, OTHER_MAC), [1]);
    check_invariants(&t);

    let third = Ipv4Addr::new(10, 0, 0, 3);
    out.clear();
    t.output(
        ms(2),
        &dev(),
        third,
        NextHopKind::Unicast,
        pkt(2),
        local,
        &mut out,
    );
    out.clear();
    assert!(t.delete(ms(3), 1, third, &mut out));
    assert!(
        matches!(&out[..], [NeighAction::Unreachable { ifindex: 1, skb }] if skb.data()[20] == 2)
    );
    assert_eq!(t.stats().res_failed, 1);
    check_invariants(&t);
}

#[test]
fn broadcast_and_multicast_next_hops_are_noarp() {
    let mut t = table(NeighParms::default());
    let mut out = Vec::new();
    let bcast = Ipv4Addr::new(10, 0, 0, 255);
    let group = Ipv4Addr::new(239, 129, 2, 3);
    t.output(
        ms(0),
        &dev(),
        bcast,
        NextHopKind::Broadcast,
        pkt(1),
        local,
        &mut out,
    );
    t.output(
        ms(0),
        &dev(),
        group,
        NextHopKind::Multicast,
        pkt(2),
        local,
        &mut out,
    );
    assert_eq!(ip_marks(&out[..1], EthernetAddress::BROADCAST), [1]);
    assert_eq!(
        ip_marks(&out[1..], EthernetAddress([1, 0, 0x5e, 1, 2, 3])),
        [2]
    );
    assert_eq!(state(&t, bcast), Some(NudState::Noarp));
    assert_eq!(state(&t, group), Some(NudState::Noarp));
    // ARP cannot change them.
    t.arp_rcv(
        ms(5000),
        &dev(),
        reply_from(PEER_MAC, bcast),
        local,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        t.entry(1, bcast).unwrap().mac,
        Some(EthernetAddress::BROADCAST)
    );
    assert_eq!(t.core.timers.len(), 0);
    check_invariants(&t);
}

#[test]
fn missing_headroom_is_a_drop_not_a_panic() {
    let mut t = table(NeighParms::default());
    let mut out = Vec::new();
    let mut skb = SkBuff::new(0, 21).unwrap();
    skb.put(21).unwrap();
    t.output(
        ms(0),
        &dev(),
        Ipv4Addr::BROADCAST,
        NextHopKind::Broadcast,
        skb,
        local,
        &mut out,
    );
    assert!(matches!(
        out[..],
        [NeighAction::Drop {
            reason: NeighDropReason::NoHeadroom,
            ..
        }]
    ));
}

fn small_gc() -> NeighParms {
    NeighParms {
        gc_thresh1: 4,
        gc_thresh2: 8,
        gc_thresh3: 16,
        ..NeighParms::default()
    }
}

fn nh(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(0x0a00_0000 | i)
}

#[test]
fn table_is_capped_and_forced_gc_frees_failed_entries_oldest_first() {
    let mut t = table(small_gc());
    let mut out = Vec::new();
    for i in 0..16 {
        t.output(
            ms(0),
            &dev(),
            nh(100 + i),
            NextHopKind::Unicast,
            pkt(0),
            local,
            &mut out,
        );
    }
    assert_eq!(t.len(), 16);
    out.clear();
    t.output(
        ms(0),
        &dev(),
        nh(200),
        NextHopKind::Unicast,
        pkt(7),
        local,
        &mut out,
    );
    assert!(matches!(&out[..], [NeighAction::TableFull { skb }] if skb.data()[20] == 7));
    let s = t.stats();
    assert_eq!((s.table_fulls, s.forced_gc_runs, s.entries), (1, 1, 16));
    // Resolution fails for all; then the oldest half is freed for a new entry.
    out.clear();
    for s in 1..=3 {
        t.handle_timeout(Instant::from_secs(s), &mut out);
    }
    let unreachable = out
        .iter()
        .filter(|a| matches!(a, NeighAction::Unreachable { .. }))
        .count();
    assert_eq!(unreachable, 16);
    out.clear();
    t.output(
        Instant::from_secs(3),
        &dev(),
        nh(200),
        NextHopKind::Unicast,
        pkt(0),
        local,
        &mut out,
    );
    assert_eq!(t.len(), 9);
    for i in 0..8 {
        assert_eq!(state(&t, nh(100 + i)), None);
        assert_eq!(state(&t, nh(108 + i)), Some(NudState::Failed));
    }
    assert_eq!(state(&t, nh(200)), Some(NudState::Incomplete));
    let s = t.stats();
    assert_eq!(
        (s.allocs, s.destroys, s.forced_gc_runs, s.table_fulls),
        (17, 8, 2, 1)
    );
    check_invariants(&t);
}

#[test]
fn forced_gc_spares_recent_stale_entries_and_runs_above_thresh2() {
    let mut t = table(small_gc());
    let mut out = Vec::new();
    // Sixteen STALE entries learnt from requests at t = 0.
    for i in 0..16 {
        let mac = EthernetAddress([2, 0, 0, 0, 1, i as u8]);
        t.arp_rcv(
            ms(0),
            &dev(),
            request_from(mac, nh(100 + i), ME),
            local,
            &mut out,
        )
        .unwrap();
    }
    assert_eq!(out.len(), 16);
    // Full and all recent: the 17th asker gets no entry and so no reply.
    out.clear();
    t.arp_rcv(
        ms(4000),
        &dev(),
        request_from(OTHER_MAC, nh(300), ME),
        local,
        &mut out,
    )
    .unwrap();
    assert!(out.is_empty());
    assert_eq!(t.stats().table_fulls, 1);
    // Five seconds on, STALE entries may go.
    t.arp_rcv(
        ms(5001),
        &dev(),
        request_from(OTHER_MAC, nh(300), ME),
        local,
        &mut out,
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(t.len(), 16 - 8 + 1);
    // Between thresh2 and thresh3, a forced gc only every 5 s.
    let runs = t.stats().forced_gc_runs;
    t.arp_rcv(
        ms(5002),
        &dev(),
        request_from(OTHER_MAC, nh(301), ME),
        local,
        &mut out,
    )
    .unwrap();
    assert_eq!(t.stats().forced_gc_runs, runs);
    t.arp_rcv(
        ms(10_002),
        &dev(),
        request_from(OTHER_MAC, nh(302), ME),
        local,
        &mut out,
    )
    .unwrap();
    assert_eq!(t.stats().forced_gc_runs, runs + 1);
    check_invariants(&t);
}

#[test]
fn periodic_gc_frees_idle_entries_above_thresh1() {
    let mut t = table(small_gc());
    let mut out = Vec::new();
    for i in 0..3 {
        let mac = EthernetAddress([2, 0, 0, 0, 1, i as u8]);
        t.arp_rcv(
            ms(0),
            &dev(),
            request_from(mac, nh(100 + i), ME),
            local,
            &mut out,
        )
        .unwrap();
    }
    // Below gc_thresh1 nothing is collected, however old.
    let mut now = Instant::ZERO;
    while now < Instant::from_secs(200) {
        now = t.poll_timeout().unwrap();
        t.handle_timeout(now, &mut out);
    }
    assert_eq!(t.len(), 3);
    let runs = t.stats().periodic_gc_runs;
    assert!((7..=14).contains(&runs), "{runs}");
    // At gc_thresh1, idle ones go; a recently used one stays.
    t.add_static(now, 1, nh(1), PEER_MAC, &mut out);
    t.arp_rcv(
        now,
        &dev(),
        request_from(OTHER_MAC, nh(100), ME),
        local,
        &mut out,
    )
    .unwrap();
    out.clear();
    t.output(
        now,
        &dev(),
        nh(100),
        NextHopKind::Unicast,
        pkt(0),
        local,
        &mut out,
    );
    t.neigh_confirm(now + Duration::from_secs(1), 1, nh(100));
    let used_at = now;
    while t.len() > 2 {
        now = t.poll_timeout().unwrap();
        t.handle_timeout(now, &mut out);
        assert!(now < used_at + Duration::from_secs(60));
    }
    assert_eq!(state(&t, nh(1)), Some(NudState::Permanent));
    assert!(state(&t, nh(100)).is_some());
    assert_eq!(t.stats().destroys, 2);
    check_invariants(&t);
}

#[test]
fn reachable_time_is_redrawn_every_300s() {
    let mut t = table(NeighParms::default());
    let mut out = Vec::new();
    let first = t.reachable_time();
    let mut seen = vec![first];
    let mut now = Instant::ZERO;
    while now < Instant::from_secs(3000) {
        now = t.poll_timeout().unwrap();
        t.handle_timeout(now, &mut out);
        seen.push(t.reachable_time());
    }
    seen.dedup();
    assert!((5..=10).contains(&seen.len()), "{seen:?}");
    assert!(out.is_empty());
}

#[test]
fn flush_dev_drops_queues_and_entries_of_that_device_only() {
    let mut t = table(NeighParms::default());
    let mut out = Vec::new();
    let dev2 = NeighDev {
        ifindex: 2,
        ..dev()
    };
    output(&mut t, ms(0), pkt(1), &mut out);
    t.add_static(ms(0), 1, nh(5), PEER_MAC, &mut out);
    t.add_static(ms(0), 2, nh(5), PEER_MAC, &mut out);
    t.output(
        ms(0),
        &dev2,
        PEER,
        NextHopKind::Broadcast,
        pkt(2),
        local,
        &mut out,
    );
    out.clear();
    t.flush_dev(1, &mut out);
    assert!(matches!(
        &out[..],
        [NeighAction::Drop { skb, reason: NeighDropReason::Dead }] if skb.data()[20] == 1
    ));
    assert_eq!(t.len(), 2);
    assert!(t.entries().all(|e| e.ifindex == 2));
    assert_eq!(t.poll_timeout(), Some(t.core.gc_next));
    assert_eq!(t.stats().destroys, 2);
    check_invariants(&t);
}

#[test]
fn gratuitous_announce_frame() {
    let t = table(NeighParms::default());
    let skb = t.arp_announce(&dev(), ME).unwrap();
    let action = NeighAction::Xmit { ifindex: 1, skb };
    assert_eq!(arp_xmit(&action), {
        let (eth, _) = request(ME, ME, EthernetAddress::BROADCAST);
        let arp = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: MY_MAC,
            source_protocol_addr: ME,
            target_hardware_addr: EthernetAddress::default(),
            target_protocol_addr: ME,
        };
        (eth, arp)
    });
    for bad in [
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::BROADCAST,
        Ipv4Addr::new(224, 0, 0, 1),
    ] {
        assert_eq!(
            t.arp_announce(&dev(), bad).unwrap_err(),
            NeighError::InvalidAddress
        );
    }
}

#[test]
fn arp_floods_from_random_senders_stay_bounded() {
    let mut t = table(NeighParms::default());
    let mut rng = Prng::new(77);
    let mut out = Vec::new();
    let random_mac = |rng: &mut Prng| {
        let mut m = [0u8; 6];
        rng.fill_bytes(&mut m);
        m[0] &= 0xfe;
        EthernetAddress(m)
    };
    // Requests for other hosts and unsolicited replies: nothing is learnt or sent.
    for i in 0..50_000u32 {
        let sip = Ipv4Addr::from(rng.next_u32() | 0x0100_0000);
        let mac = random_mac(&mut rng);
        let skb = if i % 2 == 0 {
            request_from(mac, sip, Ipv4Addr::from(rng.next_u32() | 0x0100_0000))
        } else {
            reply_from(mac, sip)
        };
        let _ = t.arp_rcv(ms(u64::from(i)), &dev(), skb, local, &mut out);
    }
    assert!(t.is_empty() && out.is_empty());
    // Requests for us from random senders: learnt, but never beyond gc_thresh3.
    for i in 0..50_000u32 {
        let sip = Ipv4Addr::from(0x0a00_0000 | (rng.next_u32() >> 8));
        let mac = random_mac(&mut rng);
        let _ = t.arp_rcv(
            ms(u64::from(i)),
            &dev(),
            request_from(mac, sip, ME),
            local,
            &mut out,
        );
        assert!(t.len() <= 1024);
    }
    let s = t.stats();
    assert!(s.table_fulls > 0);
    assert!(s.allocs > 1024);
    assert_eq!(out.len() as u64, 50_000 - s.table_fulls);
    check_invariants(&t);
}

#[test]
fn flood_of_100k_next_hops_stays_within_gc_thresh3() {
    let parms = NeighParms::default();
    let mut t = table(parms.clone());
    let mut out = Vec::new();
    let size = skb_truesize(&pkt(0));
    let (mut table_full, mut unreachable, mut requests) = (0u64, 0u64, 0u64);
    let mut tally = |out: &mut Vec<NeighAction>| {
        for a in out.drain(..) {
            match a {
                NeighAction::TableFull { .. } => table_full += 1,
                NeighAction::Unreachable { .. } => unreachable += 1,
                NeighAction::Xmit { .. } => requests += 1,
                other => panic!("{other:?}"),
            }
        }
    };
    for i in 0..100_000u32 {
        let now = Instant::from_micros(u64::from(i) * 200);
        t.handle_timeout(now, &mut out);
        t.output(
            now,
            &dev(),
            nh(i + 1),
            NextHopKind::Unicast,
            pkt(0),
            local,
            &mut out,
        );
        tally(&mut out);
        assert!(t.len() <= parms.gc_thresh3);
        assert!(t.queued_bytes() <= parms.gc_thresh3 * size);
    }
    check_invariants(&t);
    let mut now = Instant::from_secs(20);
    while now < Instant::from_secs(30) {
        now = t.poll_timeout().unwrap();
        t.handle_timeout(now, &mut out);
    }
    tally(&mut out);
    // Every packet is accounted for: queued then reported unreachable, or refused.
    assert_eq!(t.queued_bytes(), 0);
    assert_eq!(table_full + unreachable, 100_000);
    let s = t.stats();
    assert_eq!(s.table_fulls, table_full);
    assert_eq!(s.res_failed, unreachable);
    assert_eq!(s.allocs, unreachable);
    // Each entry broadcast mcast_probes requests before failing.
    assert_eq!(requests, 3 * s.allocs);
    // Freed FAILED entries made room again and again.
    assert!(table_full > 0 && s.allocs > 5 * 1024, "{s:?}");
}

/// One step of the random workload.
#[derive(Debug, Clone)]
enum Step {
    Output(u8, u8),
    Rcv(Vec<u8>, bool),
    Reply(u8, u8, bool),
    Request(u8, u8, u8),
    Static(u8),
    Delete(u8),
    Confirm(u8),
    Flush,
    Advance(u16),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (any::<u8>(), 0u8..3).prop_map(|(a, k)| Step::Output(a, k)),
        (proptest::collection::vec(any::<u8>(), 0..40), any::<bool>())
            .prop_map(|(b, host)| Step::Rcv(b, host)),
        (any::<u8>(), any::<u8>(), any::<bool>()).prop_map(|(a, m, h)| Step::Reply(a, m, h)),
        (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(a, m, t)| Step::Request(a, m, t)),
        any::<u8>().prop_map(Step::Static),
        any::<u8>().prop_map(Step::Delete),
        any::<u8>().prop_map(Step::Confirm),
        Just(Step::Flush),
        any::<u16>().prop_map(Step::Advance),
    ]
}

proptest! {
    #[test]
    fn random_workloads_keep_the_invariants(steps in proptest::collection::vec(step(), 1..120)) {
        let parms = NeighParms { unres_qlen_bytes: 1000, ..small_gc() };
        let mut t = table(parms);
        let mut out = Vec::new();
        let mut now = Instant::ZERO;
        let addr = |a: u8| Ipv4Addr::new(10, 0, 0, a % 24 + 2);
        let mac = |m: u8| EthernetAddress([2, 0, 0, 0, 0, m]);
        for s in steps {
            match s {
                Step::Output(a, k) => {
                    let kind = [NextHopKind::Unicast, NextHopKind::Broadcast, NextHopKind::Multicast][usize::from(k)];
                    t.output(now, &dev(), addr(a), kind, pkt(a), local, &mut out);
                }
                Step::Rcv(bytes, host) => {
                    let mut skb = SkBuff::new(0, bytes.len()).unwrap();
                    skb.put_slice(&bytes).unwrap();
                    skb.pkt_type = if host { PacketType::Host } else { PacketType::Broadcast };
                    let _ = t.arp_rcv(now, &dev(), skb, local, &mut out);
                }
                Step::Reply(a, m, host) => {
                    let pkt_type = if host { PacketType::Host } else { PacketType::Broadcast };
                    let skb = arp_skb(ArpOperation::Reply, mac(m), addr(a), MY_MAC, ME, pkt_type);
                    let _ = t.arp_rcv(now, &dev(), skb, local, &mut out);
                }
                Step::Request(a, m, tip) => {
                    let tip = if tip % 2 == 0 { ME } else { addr(tip) };
                    let _ = t.arp_rcv(now, &dev(), request_from(mac(m), addr(a), tip), local, &mut out);
                }
                Step::Static(a) => t.add_static(now, 1, addr(a), mac(a), &mut out),
                Step::Delete(a) => { t.delete(now, 1, addr(a), &mut out); }
                Step::Confirm(a) => t.neigh_confirm(now, 1, addr(a)),
                Step::Flush => t.flush_dev(1, &mut out),
                Step::Advance(d) => {
                    now += Duration::from_millis(u64::from(d));
                    t.handle_timeout(now, &mut out);
                }
            }
            check_invariants(&t);
            prop_assert!(t.core.gc_entries <= 16);
            prop_assert!(t.queued_bytes() <= 16 * 1000 + skb_truesize(&pkt(0)));
            // Entry timers always lie ahead: nothing is left overdue.
            prop_assert!(t.core.timers.next_deadline().is_none_or(|d| d > now));
            out.clear();
        }
    }
}

/// The connected-neighbour cache neigh_output() reads: the very next lookup after any
/// change of state or address sees the change, never the cached address.
#[test]
fn cached_address_follows_every_state_and_address_change() {
    let mut t = resolved(NeighParms::default());
    let mut out = Vec::new();
    // Miss, then hit.
    assert_eq!(t.connected_ha_cached(1, PEER), Some(PEER_MAC));
    assert_eq!(t.connected_ha_cached(1, PEER), Some(PEER_MAC));
    // A reply past locktime moves the entry to another address.
    t.arp_rcv(
        ms(1001),
        &dev(),
        reply_from(OTHER_MAC, PEER),
        local,
        &mut out,
    )
    .unwrap();
    assert_eq!(t.connected_ha_cached(1, PEER), Some(OTHER_MAC));
    // REACHABLE → STALE on the timer: not connected, so no cached address.
    let mut now = ms(1001);
    while state(&t, PEER) == Some(NudState::Reachable) {
        assert_eq!(t.connected_ha_cached(1, PEER), Some(OTHER_MAC));
        now += Duration::from_millis(10);
        t.handle_timeout(now, &mut out);
    }
    assert_eq!(state(&t, PEER), Some(NudState::Stale));
    assert_eq!(t.connected_ha_cached(1, PEER), None);
    // A use starts DELAY, then PROBE, then FAILED: never connected on the way.
    output(&mut t, now, pkt(1), &mut out);
    for s in 1..=10 {
        t.handle_timeout(now + Duration::from_secs(s), &mut out);
        assert_eq!(t.connected_ha_cached(1, PEER), None);
    }
    assert_eq!(state(&t, PEER), Some(NudState::Failed));
    // A permanent entry with a new address is used at once; its deletion is seen too.
    t.add_static(now, 1, PEER, PEER_MAC, &mut out);
    assert_eq!(t.connected_ha_cached(1, PEER), Some(PEER_MAC));
    t.add_static(now, 1, PEER, OTHER_MAC, &mut out);
    assert_eq!(t.connected_ha_cached(1, PEER), Some(OTHER_MAC));
    assert!(t.delete(now, 1, PEER, &mut out));
    assert_eq!(t.connected_ha_cached(1, PEER), None);
    // Re-resolved, then flushed with its device.
    t.add_static(now, 1, PEER, PEER_MAC, &mut out);
    assert_eq!(t.connected_ha_cached(1, PEER), Some(PEER_MAC));
    t.flush_dev(1, &mut out);
    assert_eq!(t.connected_ha_cached(1, PEER), None);
}
