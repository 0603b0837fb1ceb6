//! Group `rx`: a 64-byte ICMP echo request frame in, the echo reply frame out, through a
//! whole stack: skiff (netif_receive → ip_rcv → … → icmp_echo → ip_output → neighbour →
//! dev_queue_xmit, then poll_transmit) against smoltcp's Interface::poll on the same frame.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use skiff_core::time::Instant;
use skiff_core::{Stack, StackConfig};
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::{EtherType, EthernetAddress, EthernetRepr};
use skiff_wire::icmpv4::Icmpv4Repr;
use skiff_wire::ipv4::{IpProtocol, Ipv4Repr};
use std::hint::black_box;

const OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 2];
const OUR_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// Ethernet 14 + IPv4 20 + ICMP 8 + 22 bytes of data = 64 bytes.
fn echo_request_frame() -> Vec<u8> {
    let data = [0x42u8; 22];
    let icmp = Icmpv4Repr::EchoRequest {
        ident: 0x1234,
        seq_no: 1,
        data: &data,
    };
    let ip = Ipv4Repr {
        src: PEER_IP,
        dst: OUR_IP,
        protocol: IpProtocol::from(1),
        ttl: 64,
        tos: 0,
        ident: 7,
        dont_frag: false,
        more_frags: false,
        frag_offset: 0,
        options: &[],
        payload_len: icmp.buffer_len(),
    };
    let mut frame = vec![0u8; 14 + ip.buffer_len()];
    EthernetRepr {
        src: EthernetAddress(PEER_MAC),
        dst: EthernetAddress(OUR_MAC),
        vlan: None,
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut frame)
    .unwrap();
    ip.emit(&mut frame[14..]).unwrap();
    icmp.emit(&mut frame[34..]).unwrap();
    assert_eq!(frame.len(), 64);
    frame
}

fn skiff_stack() -> (Stack, u32) {
    let mut s = Stack::new(StackConfig::default());
    let eth0 = s
        .add_device("eth0", EthernetAddress(OUR_MAC), 1500)
        .unwrap();
    s.set_up(eth0, true).unwrap();
    s.add_addr(eth0, OUR_IP, 24).unwrap();
    s.add_neigh_static(eth0, PEER_IP, EthernetAddress(PEER_MAC));
    while let Some((_, skb)) = s.poll_transmit() {
        s.recycle(skb);
    }
    (s, eth0)
}

fn skiff_echo(s: &mut Stack, eth0: u32, frame: &[u8], now: Instant) -> usize {
    let mut skb = s.alloc_skb(frame.len()).unwrap();
    skb.put_slice(frame).unwrap();
    s.netif_receive(now, eth0, skb);
    let (_, reply) = s.poll_transmit().expect("an echo reply");
    let len = reply.len();
    s.recycle(reply);
    len
}

mod smol;

fn bench_rx(c: &mut Criterion) {
    let frame = echo_request_frame();
    let mut g = c.benchmark_group("rx");
    g.throughput(Throughput::Elements(1));

    let (mut s, eth0) = skiff_stack();
    let mut t = 1_000_000_000u64;
    assert_eq!(skiff_echo(&mut s, eth0, &frame, Instant::from_nanos(t)), 64);
    g.bench_function(BenchmarkId::new("skiff", "icmp-echo-64"), |b| {
        b.iter(|| {
            t += 1000;
            black_box(skiff_echo(
                &mut s,
                eth0,
                black_box(&frame),
                Instant::from_nanos(t),
            ))
        })
    });

    let mut dev = smol::Ring::new(vec![skiff_bench::frames::arp_request_frame()]);
    let mut iface = smol::iface(&mut dev);
    let mut sockets = smoltcp::iface::SocketSet::new(Vec::new());
    let mut poll = |iface: &mut smoltcp::iface::Interface, dev: &mut smol::Ring| {
        dev.next = 0;
        iface.poll(smoltcp::time::Instant::ZERO, dev, &mut sockets);
    };
    poll(&mut iface, &mut dev);
    dev.frames = vec![frame.clone()];
    dev.tx.clear();
    poll(&mut iface, &mut dev);
    assert_eq!(dev.tx.len(), 64, "smoltcp answers the echo request");
    g.bench_function(BenchmarkId::new("smoltcp", "icmp-echo-64"), |b| {
        b.iter(|| {
            poll(&mut iface, &mut dev);
            black_box(dev.tx.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench_rx);
criterion_main!(benches);
