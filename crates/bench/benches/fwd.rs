//! Group `fwd`: skiff as a router, per packet out. `fwd/unicast/64`: one 64-byte UDP
//! frame in on eth0, forwarded (ip_forward → ip_forward_finish → ip_output → neighbour →
//! dev_queue_xmit) and out on eth1. `fwd/mc-2oif/64`: one 64-byte UDP datagram to
//! 239.1.1.1 in on eth0, an (S,G) MFC entry with oifs eth1 and eth2 (ip_mr_input →
//! ip_mr_forward → ipmr_queue_xmit ×2), two frames out: Throughput::Elements(2), so its
//! time per element compares with unicast's (the issue asks for ≥ 0.8×). The cases are in
//! skiff_bench::cases (bench/ir.sh counts their instructions).

use criterion::{Criterion, criterion_group, criterion_main};

mod run;

fn fwd(c: &mut Criterion) {
    run::group(c, "fwd");
}

criterion_group!(benches, fwd);
criterion_main!(benches);
