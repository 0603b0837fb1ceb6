//! `reasm-count SHAPE N`: N rounds of a `reasm` bench shape (`8k-6-inorder`,
//! `62k-42-inorder`, `62k-42-reverse`, `8k-6-4flows`) through the receive path into
//! ip_defrag and out to a raw socket, each datagram read back, for instruction counts under
//! callgrind. Run at two N; the difference over the datagrams is the cost of one, setup
//! excluded:
//! `valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/reasm-count 62k-42-inorder 100`.

use skiff_bench::frames::{OUR_IP, PEER_IP, fragments, skiff_host};
use skiff_core::time::Instant;
use std::hint::black_box;

fn usage() -> ! {
    eprintln!("usage: reasm-count 8k-6-inorder|62k-42-inorder|62k-42-reverse|8k-6-4flows N");
    std::process::exit(2);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (payload, flows, reverse) = match args.next().as_deref() {
        Some("8k-6-inorder") => (8000, 1, false),
        Some("62k-42-inorder") => (61_800, 1, false),
        Some("62k-42-reverse") => (61_800, 1, true),
        Some("8k-6-4flows") => (8000, 4, false),
        _ => usage(),
    };
    let Some(n) = args.next().and_then(|n| n.parse::<u64>().ok()) else {
        usage()
    };
    // As the bench: each flow's fragments under its own ID, interleaved round robin.
    let per_flow: Vec<Vec<Vec<u8>>> = (0..flows)
        .map(|f| {
            let mut v = fragments(PEER_IP, OUR_IP, 0x100 + f as u16, payload, 1500);
            if reverse {
                v.reverse();
            }
            v
        })
        .collect();
    let frames: Vec<&Vec<u8>> = (0..per_flow[0].len())
        .flat_map(|i| per_flow.iter().map(move |flow| &flow[i]))
        .collect();
    let mut h = skiff_host(1500);
    let mut t = 1_000_000_000u64;
    for _ in 0..n {
        t += 1000;
        for f in &frames {
            let mut skb = h.s.alloc_skb(f.len()).expect("a frame's buffer");
            skb.put_slice(black_box(f)).expect("room for the frame");
            h.s.netif_receive(Instant::from_nanos(t), h.eth0, skb);
        }
        let mut got = 0;
        while let Ok(d) = h.s.raw_recv(h.sock) {
            got += d.packet.len();
        }
        assert_eq!(got, flows * (20 + payload));
    }
}
