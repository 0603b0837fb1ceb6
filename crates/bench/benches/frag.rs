//! Group `frag`: one 61.8 KB datagram into 1500-byte frames.
//! - `skiff-fast`: a raw socket send; ip_append_data builds the `frag_list` with Linux's
//!   geometry and ip_fragment sends its pieces as they are (one copy, from the caller).
//! - `skiff-slow`: a router forwards the datagram, received whole on a 65535-MTU device,
//!   out of a 1500-MTU one; ip_fragment copies every piece (Linux's slow path). The
//!   frame's copy into the receive buffer is part of it.
//! - `memcpy`: the physical limit, the payload copied once into 42 frame buffers.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use skiff_bench::cases::{FRAG_LEN as LEN, FRAG_PIECES as PIECES, must};
use skiff_bench::frames::{PEER_IP, PEER_MAC, SkiffHost, frame, skiff_host};
use skiff_core::time::Instant;
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::EthernetAddress;
use std::hint::black_box;

/// Sends every frame the stack queued to the void; returns their bytes.
fn drain(h: &mut SkiffHost) -> usize {
    let mut bytes = 0;
    while let Some((_, skb)) = h.s.poll_transmit() {
        bytes += skb.len();
        h.s.recycle(skb);
    }
    bytes
}

fn bench_frag(c: &mut Criterion) {
    let payload: Vec<u8> = (0..LEN).map(|i| (i * 7) as u8).collect();
    let wire = LEN + PIECES * (14 + 20);
    let mut g = c.benchmark_group("frag");
    g.throughput(Throughput::Bytes(LEN as u64));

    // The cases are in skiff_bench::cases (bench/ir.sh counts their instructions).
    for id in ["memcpy", "skiff-fast"] {
        let mut case = must(&format!("frag/{id}/62k-mtu1500"));
        g.bench_function(BenchmarkId::new(id, "62k-mtu1500"), |b| {
            b.iter(|| (case.step)())
        });
    }
    let mut t = 1_000_000_000u64;

    // A router: the datagram arrives whole on eth0 (MTU 65535) for a host behind eth1.
    let mut r = skiff_host(65_535);
    let eth1 =
        r.s.add_device("eth1", EthernetAddress([0x02, 0, 0, 0, 1, 1]), 1500)
            .unwrap();
    r.s.set_up(eth1, true).unwrap();
    r.s.add_addr(eth1, Ipv4Addr::new(10, 0, 1, 1), 24).unwrap();
    let far = Ipv4Addr::new(10, 0, 1, 2);
    r.s.add_neigh_static(eth1, far, EthernetAddress(PEER_MAC));
    r.s.set_sysctl("ip_forward", "1").unwrap();
    drain(&mut r);
    let whole = frame(PEER_IP, far, 0x4242, false, 0, &payload);
    let forward = |r: &mut SkiffHost, t: u64| {
        let mut skb = r.s.alloc_skb(whole.len()).expect("a 64 KiB buffer");
        skb.put_slice(&whole).expect("room");
        let eth0 = r.eth0;
        r.s.netif_receive(Instant::from_nanos(t), eth0, skb);
        drain(r)
    };
    assert_eq!(forward(&mut r, t), wire);
    assert_eq!(r.s.stats().get("IpFragCreates"), Some(PIECES as u64));
    g.bench_function(BenchmarkId::new("skiff-slow", "62k-mtu1500"), |b| {
        b.iter(|| {
            t += 1000;
            black_box(forward(&mut r, t))
        })
    });
    g.finish();
}

criterion_group!(benches, bench_frag);
fn main() {
    skiff_bench::without_rep_movsb();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
