//! Group `rx`: a 64-byte ICMP echo request frame in, the echo reply frame out, through a
//! whole stack: skiff (netif_receive → ip_rcv → … → icmp_echo → ip_output → neighbour →
//! dev_queue_xmit, then poll_transmit) against smoltcp's Interface::poll on the same frame.
//! The cases are in skiff_bench::cases (bench/ir.sh counts their instructions).

use criterion::{Criterion, criterion_group, criterion_main};

mod run;

fn bench_rx(c: &mut Criterion) {
    run::group(c, "rx");
}

criterion_group!(benches, bench_rx);
criterion_main!(benches);
