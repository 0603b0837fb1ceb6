//! Group `reasm`: fragments in, datagrams out, through the whole receive path. skiff
//! (netif_receive → ip_rcv → ip_local_deliver → ip_defrag → raw socket) against smoltcp
//! (Interface::poll with proto-ipv4-fragmentation, four 65535-byte reassembly buffers →
//! raw socket) on the same frames. Both deliver to a raw socket of IP protocol 253 (RFC
//! 3692 experimental), which no protocol handler answers on either stack.
//!
//! Group `reasm_flood`: 1,000,000 random 8-byte fragments across 10,000 IDs from one
//! source, into skiff. Criterion reports fragments per second; the peak reassembly memory
//! is printed. As in Linux, a fragment is admitted while memory is at or under
//! `ipfrag_high_thresh`, so the peak may pass it by the charge of one admission (the
//! fragment, and its queue if it opened one), never more.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use skiff_bench::frames::{OUR_IP, PEER_IP, PROTO, fragments, skiff_host};
use skiff_core::time::Instant;
use std::hint::black_box;

/// (id, datagram payload bytes, flows, reverse order).
const SHAPES: [(&str, usize, usize, bool); 4] = [
    ("8k-6-inorder", 8000, 1, false),
    ("62k-42-inorder", 61_800, 1, false),
    ("62k-42-reverse", 61_800, 1, true),
    ("8k-6-4flows", 8000, 4, false),
];

/// A shape's frames: each flow's fragments (its own ID), interleaved round robin.
fn shape_frames(payload: usize, flows: usize, reverse: bool) -> Vec<Vec<u8>> {
    let per_flow: Vec<Vec<Vec<u8>>> = (0..flows)
        .map(|f| {
            let mut v = fragments(PEER_IP, OUR_IP, 0x100 + f as u16, payload, 1500);
            if reverse {
                v.reverse();
            }
            v
        })
        .collect();
    let n = per_flow[0].len();
    (0..n)
        .flat_map(|i| per_flow.iter().map(move |flow| flow[i].clone()))
        .collect()
}

/// Feeds every frame; returns the bytes of the datagrams the raw socket got.
#[inline(never)]
fn skiff_reasm(h: &mut skiff_bench::frames::SkiffHost, frames: &[Vec<u8>], now: Instant) -> usize {
    for f in frames {
        let mut skb = h.s.alloc_skb(f.len()).unwrap();
        skb.put_slice(f).unwrap();
        h.s.netif_receive(now, h.eth0, skb);
    }
    let mut got = 0;
    while let Ok(d) = h.s.raw_recv(h.sock) {
        got += d.packet.len();
    }
    got
}

mod smol;

/// smoltcp with a raw socket of PROTO.
mod smol_host {
    use super::smol::{Ring, iface};
    use smoltcp::iface::{Interface, SocketHandle, SocketSet};
    use smoltcp::socket::raw;
    use smoltcp::time::Instant;
    use smoltcp::wire::{IpProtocol, IpVersion};

    pub struct Host {
        pub iface: Interface,
        pub dev: Ring,
        pub sockets: SocketSet<'static>,
        pub sock: SocketHandle,
    }

    /// Boxed: the reassembly buffers live inside the Interface, and a heap block this
    /// large is page-aligned, so the large copies see the same alignment in every run.
    pub fn host(frames: Vec<Vec<u8>>) -> Box<Host> {
        let mut dev = Ring::new(frames);
        let iface = iface(&mut dev);
        let rx = raw::PacketBuffer::new(vec![raw::PacketMetadata::EMPTY; 8], vec![0; 4 * 65536]);
        let tx = raw::PacketBuffer::new(vec![raw::PacketMetadata::EMPTY; 1], vec![0; 64]);
        let socket = raw::Socket::new(
            Some(IpVersion::Ipv4),
            Some(IpProtocol::Unknown(super::PROTO)),
            rx,
            tx,
        );
        let mut sockets = SocketSet::new(Vec::new());
        let sock = sockets.add(socket);
        Box::new(Host {
            iface,
            dev,
            sockets,
            sock,
        })
    }

    /// One pass over the ring; returns the bytes of the datagrams the raw socket got.
    #[inline(never)]
    pub fn reasm(h: &mut Host) -> usize {
        h.dev.next = 0;
        h.iface.poll(Instant::ZERO, &mut h.dev, &mut h.sockets);
        let s = h.sockets.get_mut::<raw::Socket>(h.sock);
        let mut got = 0;
        while let Ok(p) = s.recv() {
            got += p.len();
        }
        got
    }
}

fn bench_reasm(c: &mut Criterion) {
    let mut g = c.benchmark_group("reasm");
    for (id, payload, flows, reverse) in SHAPES {
        let frames = shape_frames(payload, flows, reverse);
        let want = flows * (20 + payload);
        g.throughput(Throughput::Elements(frames.len() as u64));

        let mut h = skiff_host(1500);
        let mut t = 1_000_000_000u64;
        assert_eq!(skiff_reasm(&mut h, &frames, Instant::from_nanos(t)), want);
        g.bench_function(BenchmarkId::new("skiff", id), |b| {
            b.iter(|| {
                t += 1000;
                let got = skiff_reasm(&mut h, black_box(&frames), Instant::from_nanos(t));
                assert_eq!(got, want);
            })
        });

        let mut sh = smol_host::host(frames.clone());
        assert_eq!(smol_host::reasm(&mut sh), want);
        assert_eq!(smol_host::reasm(&mut sh), want);
        g.bench_function(BenchmarkId::new("smoltcp", id), |b| {
            b.iter(|| assert_eq!(smol_host::reasm(&mut sh), want))
        });
    }
    g.finish();
}

fn bench_reasm_flood(c: &mut Criterion) {
    const FRAGS: usize = 1_000_000;
    let frames = skiff_bench::frames::flood(FRAGS, 10_000, 7);
    let mut h = skiff_host(1500);
    let high = h.s.sysctl().ipfrag_high_thresh as usize;
    let mut t = 1_000_000_000u64;
    let mut peak = 0usize;
    // The largest charge of one fragment.
    let mut step = 0usize;
    let mut g = c.benchmark_group("reasm_flood");
    g.sample_size(10);
    g.throughput(Throughput::Elements(FRAGS as u64));
    g.bench_function(BenchmarkId::new("skiff", "1M-tiny-10k-ids"), |b| {
        b.iter(|| {
            for f in &frames {
                // One fragment a microsecond: queues live through a run (ipfrag_time 30 s).
                t += 1000;
                let mut skb = h.s.alloc_skb(f.len()).unwrap();
                skb.put_slice(f).unwrap();
                let before = h.s.ipfrags().mem();
                h.s.netif_receive(Instant::from_nanos(t), h.eth0, skb);
                let after = h.s.ipfrags().mem();
                step = step.max(after.saturating_sub(before));
                peak = peak.max(after);
            }
        })
    });
    g.finish();
    println!(
        "reasm_flood: peak reassembly memory {peak} bytes, ipfrag_high_thresh {high}, largest charge of one fragment {step}, {} queues at the end, ReasmFails {}",
        h.s.ipfrags().len(),
        h.s.stats().get("IpReasmFails").unwrap_or(0)
    );
    assert!(
        peak <= high + step,
        "peak {peak} over ipfrag_high_thresh {high} plus one fragment ({step})"
    );
}

criterion_group!(benches, bench_reasm, bench_reasm_flood);
fn main() {
    skiff_bench::without_rep_movsb();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
