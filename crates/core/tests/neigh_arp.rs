//! ARP resolution, queueing and failure through the stack; replies only for our addresses;
//! gratuitous ARP on address add.

mod common;

use common::*;
use core::time::Duration;
use skiff_core::drop::DropReason;
use skiff_core::{Stack, StackConfig};
use skiff_wire::Ipv4Addr;
use skiff_wire::arp::{ArpOperation, ArpPacket, ArpRepr};
use skiff_wire::ethernet::{EtherType, EthernetAddress, EthernetRepr};

fn arp_frame(
    op: ArpOperation,
    sha: EthernetAddress,
    spa: Ipv4Addr,
    tha: EthernetAddress,
    tpa: Ipv4Addr,
    eth_dst: EthernetAddress,
) -> Vec<u8> {
    let mut f = vec![0u8; 42];
    EthernetRepr {
        src: sha,
        dst: eth_dst,
        vlan: None,
        ethertype: EtherType::Arp,
    }
    .emit(&mut f)
    .unwrap();
    ArpRepr::EthernetIpv4 {
        operation: op,
        source_hardware_addr: sha,
        source_protocol_addr: spa,
        target_hardware_addr: tha,
        target_protocol_addr: tpa,
    }
    .emit(&mut f[14..])
    .unwrap();
    f
}

fn arp_of(o: &Out) -> ArpRepr {
    ArpRepr::parse(&ArpPacket::new_checked(&o.ip[..]).unwrap()).unwrap()
}

const STRANGER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 0x33]);
const STRANGER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 33);

#[test]
fn resolution_queues_then_sends_with_the_learned_mac() {
    let mut h = Host::new(false);
    h.rx(
        h.eth0,
        &Ip::echo(STRANGER, ME)
            .frame()
            .tap(|f| f[6..12].copy_from_slice(&STRANGER_MAC.0)),
    );
    // The reply waits for ARP: one broadcast request goes out.
    let out = outs(h.tx());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ethertype, 0x0806);
    assert_eq!(out[0].eth_dst, EthernetAddress::BROADCAST);
    let ArpRepr::EthernetIpv4 {
        operation,
        source_protocol_addr,
        target_protocol_addr,
        ..
    } = arp_of(&out[0]);
    assert_eq!(
        (operation, source_protocol_addr, target_protocol_addr),
        (ArpOperation::Request, ME, STRANGER)
    );
    // The answer releases the queued echo reply to the learned address.
    h.rx(
        h.eth0,
        &arp_frame(ArpOperation::Reply, STRANGER_MAC, STRANGER, MAC0, ME, MAC0),
    );
    let got = icmps(h.tx());
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].0, got[0].2.eth_dst, got[0].2.dst),
        (0, STRANGER_MAC, STRANGER)
    );
}

#[test]
fn unanswered_resolution_fails_with_host_unreachable() {
    let mut h = Host::new(false);
    let ping = h.s.raw_socket(1).unwrap();
    h.s.raw_sendto(h.now, ping, STRANGER, &icmp(8, 0, [0, 1, 0, 1], b"hi"))
        .unwrap();
    let first = outs(h.tx());
    assert_eq!(first.len(), 1, "one ARP request");
    // Linux: mcast_probes=3 requests, retrans_time 1 s apart, then FAILED.
    let mut requests = 1;
    for _ in 0..5 {
        h.advance(Duration::from_secs(1));
        requests += outs(h.tx())
            .iter()
            .filter(|o| o.ethertype == 0x0806)
            .count();
    }
    assert_eq!(requests, 3);
    assert_eq!(h.drops(DropReason::NeighFailed), 1);
    // The error is delivered to ourselves, over loopback, from our own address.
    let d = h.s.raw_recv(ping).expect("ICMP host unreachable");
    assert_eq!((d.packet[20], d.packet[21]), (3, 1));
    assert_eq!(d.src, ME);
    assert_eq!(h.s.neigh.stats().res_failed, 1);
}

#[test]
fn the_arp_queue_is_bounded_and_counts_overflow() {
    let mut h = Host::new(false);
    let ping = h.s.raw_socket(1).unwrap();
    let big = vec![0u8; 1400];
    for _ in 0..400 {
        h.s.raw_sendto(h.now, ping, STRANGER, &big).unwrap();
    }
    assert!(
        h.drops(DropReason::NeighQueuefull) > 0,
        "unres_qlen_bytes bounds the queue"
    );
    assert!(h.s.neigh.queued_bytes() <= h.s.neigh.parms().unres_qlen_bytes);
    assert_eq!(
        h.s.neigh.stats().unres_discards,
        h.drops(DropReason::NeighQueuefull)
    );
}

#[test]
fn replies_only_for_our_addresses() {
    let mut h = Host::new(false);
    let req = |tpa| {
        arp_frame(
            ArpOperation::Request,
            STRANGER_MAC,
            STRANGER,
            EthernetAddress([0; 6]),
            tpa,
            EthernetAddress::BROADCAST,
        )
    };
    h.rx(h.eth0, &req(Ipv4Addr::new(10, 0, 0, 200)));
    assert!(h.tx().is_empty(), "not ours: no reply");
    assert!(h.s.neigh.entry(h.eth0, STRANGER).is_none(), "and no entry");
    h.rx(h.eth0, &req(ME));
    let out = outs(h.tx());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].eth_dst, STRANGER_MAC, "unicast reply");
    let ArpRepr::EthernetIpv4 {
        operation,
        source_hardware_addr,
        source_protocol_addr,
        target_protocol_addr,
        ..
    } = arp_of(&out[0]);
    assert_eq!(operation, ArpOperation::Reply);
    assert_eq!(
        (
            source_hardware_addr,
            source_protocol_addr,
            target_protocol_addr
        ),
        (MAC0, ME, STRANGER)
    );
    assert!(
        h.s.neigh.entry(h.eth0, STRANGER).is_some(),
        "the requester is learned"
    );
}

#[test]
fn gratuitous_arp_announces_a_new_address() {
    let mut s = Stack::new(StackConfig {
        cap_net_raw: true,
        ..StackConfig::default()
    });
    let eth0 = s.add_device("eth0", MAC0, 1500).unwrap();
    s.set_up(eth0, true).unwrap();
    s.add_addr(eth0, ME, 24).unwrap();
    let (dev, skb) = s.poll_transmit().expect("gratuitous ARP");
    let o = Out::parse(dev, skb.data());
    assert_eq!(o.eth_dst, EthernetAddress::BROADCAST);
    let ArpRepr::EthernetIpv4 {
        source_protocol_addr,
        target_protocol_addr,
        ..
    } = arp_of(&o);
    assert_eq!((source_protocol_addr, target_protocol_addr), (ME, ME));
}

#[test]
fn malformed_arp_is_dropped_with_a_reason() {
    let mut h = Host::new(false);
    let mut f = arp_frame(
        ArpOperation::Request,
        STRANGER_MAC,
        STRANGER,
        EthernetAddress([0; 6]),
        ME,
        EthernetAddress::BROADCAST,
    );
    f[14 + 4] = 4; // hardware length 4
    h.rx(h.eth0, &f);
    assert!(h.tx().is_empty());
    assert_eq!(h.drops(DropReason::ArpInvalid), 1);
}

trait Tap: Sized {
    fn tap(self, f: impl FnOnce(&mut Self)) -> Self;
}

impl Tap for Vec<u8> {
    fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}

#[test]
fn every_fragment_of_a_datagram_waits_for_resolution_and_then_leaves() {
    let mut h = Host::new(false);
    let ping = h.s.raw_socket(1).unwrap();
    let msg = icmp(8, 0, [0, 1, 0, 1], &[7; 3992]);
    assert_eq!(h.s.raw_sendto(h.now, ping, STRANGER, &msg), Ok(4000));
    let first = outs(h.tx());
    assert_eq!(first.len(), 1, "one ARP request, the pieces queued");
    assert_eq!(first[0].ethertype, 0x0806);
    h.rx(
        h.eth0,
        &arp_frame(ArpOperation::Reply, STRANGER_MAC, STRANGER, MAC0, ME, MAC0),
    );
    let got = outs(h.tx());
    assert_eq!(got.len(), 3);
    assert!(
        got.iter()
            .all(|o| o.eth_dst == STRANGER_MAC && o.dst == STRANGER)
    );
    let whole: Vec<u8> = got.iter().flat_map(|o| o.payload.clone()).collect();
    assert_eq!(whole, msg);
    assert_eq!(h.mib("IpOutTransmits"), 3);
}
