//! Unit tests of the offload registry and segmentation helpers.

use super::*;
use crate::netdev::NetdevFeatures;
use crate::skb::GsoType;
use skiff_wire::ipv4::IPPROTO_ICMP;

#[test]
fn registry_orders_packet_offloads_by_priority() {
    let mut o = Offloads::default();
    let cb = OffloadCallbacks::default();
    o.dev_add_offload(PacketOffload {
        ethertype: 0x88b5,
        priority: 10,
        callbacks: cb,
    });
    o.dev_add_offload(PacketOffload {
        ethertype: 0x88b5,
        priority: -1,
        callbacks: cb,
    });
    let prios: Vec<i32> = o.packet(0x88b5).map(|p| p.priority).collect();
    assert_eq!(prios, [-1, 10]);
    assert!(o.dev_remove_offload(0x88b5, -1));
    assert!(!o.dev_remove_offload(0x88b5, -1));
    assert!(
        o.inet(IPPROTO_TCP).is_some()
            && o.inet(IPPROTO_UDP).is_some()
            && o.inet(IPPROTO_ICMP).is_none()
    );
    assert!(!o.inet_add_offload(IPPROTO_UDP, cb), "UDP is taken");
    assert!(o.inet_del_offload(IPPROTO_UDP));
    assert!(o.inet_add_offload(IPPROTO_UDP, cb));
}

#[test]
fn net_gso_ok_needs_the_type_feature() {
    let f = NetdevFeatures::TSO.union(NetdevFeatures::HW_CSUM);
    assert!(net_gso_ok(f, GsoType::TCPV4 | GsoType::DODGY));
    assert!(!net_gso_ok(f, GsoType::UDP_L4));
    assert!(!net_gso_ok(f, GsoType::empty()));
    assert!(!net_gso_ok(
        NetdevFeatures::LOOPBACK,
        GsoType::from_bits_retain(1 << 30)
    ));
}
