//! `ir-count CASE N`: N steps of one bench case (`skiff_bench::cases::NAMES`), for
//! instruction counts under callgrind. Run at two N; the difference over the packets out
//! is the cost of one, setup excluded (bench/ir.sh does that for every pair):
//! `valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/ir-count udp/skiff/rx-64 1000`.
//! `ir-count list` prints the cases and their packets out per step.

use skiff_bench::cases::{NAMES, case};
use std::hint::black_box;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("list") {
        for name in NAMES {
            let c = case(name).expect("every listed case exists");
            println!("{name} {}", c.elements);
        }
        return;
    }
    let (Some(mut c), Some(n)) = (
        args.first().and_then(|a| case(a)),
        args.get(1).and_then(|n| n.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: ir-count CASE N | ir-count list");
        std::process::exit(2);
    };
    for _ in 0..n {
        black_box((c.step)());
    }
}
