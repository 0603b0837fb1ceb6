//! Times every case of `group` (skiff_bench::cases), per packet out.

use criterion::{Criterion, Throughput};
use skiff_bench::cases::{NAMES, must};

pub fn group(c: &mut Criterion, group: &str) {
    let mut g = c.benchmark_group(group);
    let prefix = format!("{group}/");
    for name in NAMES.iter().filter(|n| n.starts_with(&prefix)) {
        let mut case = must(name);
        g.throughput(Throughput::Elements(case.elements));
        g.bench_function(&name[prefix.len()..], |b| b.iter(|| (case.step)()));
    }
    g.finish();
}
