//! Group `fib`: an output route lookup (`Fib::ip_route_output`, producing a full
//! `DstEntry`: longest prefix match, nexthop, source address, MTU) side by side with the
//! bare longest-prefix match of the `prefix-trie` crate on the same prefixes: the cost of
//! routing semantics on top of the trie.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use prefix_trie::PrefixMap;
use skiff_core::rand::Prng;
use skiff_core::route::{Fib, FibDevice, FibRoute, Flowi4, RouteType};
use std::hint::black_box;
use std::net::Ipv4Addr;

const PREFIXES: [usize; 2] = [10_000, 100_000];
const BATCH: usize = 1024;
const ETH0: u32 = 2;

/// A random global unicast address (outside 0/8, 10/8, 127/8 and 224/3).
fn global(rng: &mut Prng) -> u32 {
    loop {
        let a = rng.next_u32();
        if !matches!(a >> 24, 0 | 10 | 127 | 224..) {
            return a;
        }
    }
}

/// One device with 10.0.0.2/16, four on-link gateways, a default route and `n` random
/// prefixes (lengths 8..=32) through the gateways; the same prefixes in a `PrefixMap`.
fn tables(n: usize) -> (Fib, PrefixMap<(u32, u8), u32>) {
    let mut rng = Prng::new(0x5eed_f1b0 + n as u64);
    let mut fib = Fib::new();
    let mut lo = FibDevice::new(1, "lo", true);
    lo.up = true;
    fib.set_device(lo);
    let mut eth0 = FibDevice::new(ETH0, "eth0", false);
    eth0.up = true;
    fib.set_device(eth0);
    fib.add_addr(1, Ipv4Addr::new(127, 0, 0, 1), 8).unwrap();
    fib.add_addr(ETH0, Ipv4Addr::new(10, 0, 0, 2), 16).unwrap();
    let gateways: Vec<u32> = (11..=14)
        .map(|i| u32::from(Ipv4Addr::new(10, 0, 0, i)))
        .collect();
    let mut map = PrefixMap::new();
    let default = FibRoute::new(Ipv4Addr::UNSPECIFIED, 0, RouteType::Unicast);
    fib.add_route(default.via(Ipv4Addr::from(gateways[0])))
        .unwrap();
    map.insert((0, 0), gateways[0]);
    while map.len() < n + 1 {
        let len = rng.range_inclusive(8, 32) as u8;
        let dst = global(&mut rng) & (u32::MAX << (32 - u32::from(len)));
        let gw = gateways[rng.below(4) as usize];
        let route = FibRoute::new(Ipv4Addr::from(dst), len, RouteType::Unicast);
        if fib.add_route(route.via(Ipv4Addr::from(gw))).is_ok() {
            map.insert((dst, len), gw);
        }
    }
    (fib, map)
}

fn fib(c: &mut Criterion) {
    let mut group = c.benchmark_group("fib");
    for n in PREFIXES {
        let (fib, map) = tables(n);
        let mut rng = Prng::new(7);
        let dsts: Vec<Ipv4Addr> = (0..BATCH)
            .map(|_| Ipv4Addr::from(global(&mut rng)))
            .collect();
        // Both agree on the next hop of every destination before anything is timed.
        for &d in &dsts {
            let dst = fib.ip_route_output(&Flowi4::new(d)).unwrap();
            let (_, &gw) = map.get_lpm(&(u32::from(d), 32)).unwrap();
            assert_eq!(dst.gateway, Some(Ipv4Addr::from(gw)));
            assert_eq!(dst.saddr, Ipv4Addr::new(10, 0, 0, 2));
        }
        group.throughput(Throughput::Elements(BATCH as u64));
        group.bench_with_input(BenchmarkId::new("skiff", n), &dsts, |b, dsts| {
            b.iter(|| {
                for &d in dsts {
                    let dst = fib.ip_route_output(&Flowi4::new(black_box(d)));
                    black_box(&dst);
                }
            })
        });
        group.bench_with_input(BenchmarkId::new("prefix-trie", n), &dsts, |b, dsts| {
            b.iter(|| {
                for &d in dsts {
                    black_box(
                        map.get_lpm(&(u32::from(black_box(d)), 32))
                            .map(|(_, gw)| *gw),
                    );
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, fib);
criterion_main!(benches);
