//! Group `udp`: a UDP datagram through a socket. rx: the frame in, then recvmsg() out;
//! tx: sendmsg(), then the frame out. skiff against smoltcp 0.14 on the same frames, with
//! payloads of 64 and 1472 bytes (the largest at MTU 1500). skiff alone: rx-64-connected,
//! to a connected socket with early demux, and rx-64-connected-nodemux without. The cases
//! are in skiff_bench::cases (bench/ir.sh counts their instructions).

use criterion::{Criterion, criterion_group, criterion_main};

mod run;

fn bench_udp(c: &mut Criterion) {
    skiff_bench::without_rep_movsb();
    run::group(c, "udp");
}

criterion_group!(benches, bench_udp);
criterion_main!(benches);
