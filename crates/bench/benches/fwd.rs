//! Group `fwd`: skiff as a router. `fwd/unicast/64`: one 64-byte UDP frame in on eth0,
//! forwarded (ip_forward → ip_forward_finish → ip_output → neighbour → dev_queue_xmit) and
//! out on eth1, per packet out. The multicast case of the multicast issue
//! (`fwd/mc-2oif/64`, one in and two out) is measured against it, per packet out.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use skiff_bench::frames::{OUR_IP, PEER_IP, frame_of};
use skiff_core::time::Instant;
use skiff_core::{Stack, StackConfig};
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::EthernetAddress;
use skiff_wire::ipv4::IPPROTO_UDP;
use skiff_wire::udp::UdpRepr;
use std::hint::black_box;

const ETH1_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
const FAR_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);

/// A router: eth0 10.0.0.1/24 (the peer known), eth1 10.0.1.1/24 (10.0.1.2 known),
/// ip_forward = 1.
fn router() -> (Stack, u32) {
    let mut s = Stack::new(StackConfig::default());
    let eth0 = s
        .add_device("eth0", EthernetAddress([2, 0, 0, 0, 0, 1]), 1500)
        .unwrap();
    let eth1 = s
        .add_device("eth1", EthernetAddress([2, 0, 0, 0, 1, 1]), 1500)
        .unwrap();
    for (dev, addr, peer, mac) in [
        (eth0, OUR_IP, PEER_IP, [2, 0, 0, 0, 0, 2]),
        (eth1, ETH1_IP, FAR_IP, [2, 0, 0, 0, 1, 2]),
    ] {
        s.set_up(dev, true).unwrap();
        s.add_addr(dev, addr, 24).unwrap();
        s.add_neigh_static(dev, peer, EthernetAddress(mac));
    }
    s.set_sysctl("ip_forward", "1").unwrap();
    while let Some((_, skb)) = s.poll_transmit() {
        s.recycle(skb);
    }
    (s, eth0)
}

/// Ethernet 14 + IPv4 20 + UDP 8 + 22 bytes of data = 64 bytes, from the peer to `dst`.
fn udp_frame(dst: Ipv4Addr) -> Vec<u8> {
    let mut d = vec![0x42u8; 8 + 22];
    UdpRepr {
        src_port: 4000,
        dst_port: 9000,
    }
    .emit(&mut d, PEER_IP, dst, skiff_wire::TxChecksum::Full)
    .unwrap();
    let f = frame_of(IPPROTO_UDP, PEER_IP, dst, 1, false, 0, &d);
    assert_eq!(f.len(), 64);
    f
}

fn fwd(c: &mut Criterion) {
    let mut g = c.benchmark_group("fwd");
    g.throughput(Throughput::Elements(1));
    let (mut s, eth0) = router();
    let frame = udp_frame(FAR_IP);
    let mut t = 1_000_000_000u64;
    g.bench_function("unicast/64", |b| {
        b.iter(|| {
            t += 1000;
            let mut skb = s.alloc_skb(frame.len()).unwrap();
            skb.put_slice(black_box(&frame)).unwrap();
            s.netif_receive(Instant::from_nanos(t), eth0, skb);
            let (_, out) = s.poll_transmit().expect("the forwarded frame");
            let len = out.len();
            s.recycle(out);
            len
        })
    });
    assert_eq!(s.stats().get("IpForwDatagrams").map(|n| n > 0), Some(true));
    g.finish();
}

criterion_group!(benches, fwd);
criterion_main!(benches);
