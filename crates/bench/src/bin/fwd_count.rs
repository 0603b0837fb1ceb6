//! `fwd-count MODE N`: N 64-byte UDP frames through a router, for instruction counts under
//! callgrind. `unicast`: forwarded eth0 → eth1 (one frame out each); `mc-2oif`: to
//! 239.1.1.1 by an (S,G) MFC entry to eth1 and eth2 (two frames out each). Run at two N;
//! the difference over the frames out is the cost of one, setup excluded:
//! `valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/fwd-count mc-2oif 1000`.

use skiff_bench::fwd::{FAR_IP, GROUP, mc_router, router, udp_frame};
use skiff_core::time::Instant;
use std::hint::black_box;

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut s, devs, frame, outs) = match args.next().as_deref() {
        Some("unicast") => {
            let (s, devs) = router();
            (s, devs, udp_frame(FAR_IP), 1)
        }
        Some("mc-2oif") => {
            let (s, devs) = mc_router();
            (s, devs, udp_frame(GROUP), 2)
        }
        _ => {
            eprintln!("usage: fwd-count unicast|mc-2oif N");
            std::process::exit(2);
        }
    };
    let Some(n) = args.next().and_then(|n| n.parse::<u64>().ok()) else {
        eprintln!("usage: fwd-count unicast|mc-2oif N");
        std::process::exit(2);
    };
    for i in 0..n {
        let mut skb = s.alloc_skb(frame.len()).expect("a 64-byte buffer");
        skb.put_slice(black_box(&frame))
            .expect("room for the frame");
        s.netif_receive(Instant::from_nanos(1_000_000_000 + i * 1000), devs[0], skb);
        for _ in 0..outs {
            let (_, out) = s.poll_transmit().expect("a forwarded frame");
            s.recycle(out);
        }
    }
    assert!(
        s.poll_transmit().is_none(),
        "nothing but the forwarded frames"
    );
}
