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
use skiff_bench::frames::skiff_host;
use skiff_core::time::Instant;

mod run;

/// The shapes, per fragment; the cases are in skiff_bench::cases (bench/ir.sh counts
/// their instructions).
fn bench_reasm(c: &mut Criterion) {
    run::group(c, "reasm");
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
