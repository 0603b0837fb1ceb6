//! Group `checksum`: the RFC 1071 sum of one buffer, side by side with smoltcp, the
//! internet-checksum crate, and `read-bw` (a plain u64 sum: the memory-read limit).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const SIZES: [usize; 4] = [64, 1500, 65536, 16 * 1024 * 1024];

fn buffer(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect()
}

/// The physical limit: read every byte once as u64 words into eight lanes, no carries.
fn read_bw(data: &[u8]) -> u64 {
    let (lines, tail) = data.as_chunks::<64>();
    let mut lanes = [0u64; 8];
    for line in lines {
        for (lane, w) in lanes.iter_mut().zip(line.as_chunks::<8>().0) {
            *lane = lane.wrapping_add(u64::from_ne_bytes(*w));
        }
    }
    let acc = lanes.iter().fold(0u64, |a, b| a.wrapping_add(*b));
    tail.iter().fold(acc, |a, &b| a.wrapping_add(b as u64))
}

fn checksum(c: &mut Criterion) {
    let mut group = c.benchmark_group("checksum");
    for size in SIZES {
        let data = buffer(size);
        // All agree before anything is timed. smoltcp sums into a u32 that wraps past
        // 128 KiB, so its result is only defined below that.
        let ours = skiff_wire::checksum::csum_fold(skiff_wire::checksum::csum_partial(&data, 0));
        if size <= 65536 {
            assert_eq!(ours, !smoltcp::wire::checksum::data(&data));
        }
        assert_eq!(ours.to_be_bytes(), internet_checksum::checksum(&data));
        group.throughput(Throughput::Bytes(size as u64));
        if size >= 1 << 20 {
            group.sample_size(20);
        }
        group.bench_with_input(BenchmarkId::new("skiff", size), &data, |b, d| {
            b.iter(|| {
                skiff_wire::checksum::csum_fold(skiff_wire::checksum::csum_partial(black_box(d), 0))
            })
        });
        group.bench_with_input(BenchmarkId::new("smoltcp", size), &data, |b, d| {
            b.iter(|| !smoltcp::wire::checksum::data(black_box(d)))
        });
        group.bench_with_input(
            BenchmarkId::new("internet-checksum", size),
            &data,
            |b, d| b.iter(|| internet_checksum::checksum(black_box(d))),
        );
        group.bench_with_input(BenchmarkId::new("read-bw", size), &data, |b, d| {
            b.iter(|| read_bw(black_box(d)))
        });
    }
    group.finish();
}

criterion_group!(benches, checksum);
criterion_main!(benches);
