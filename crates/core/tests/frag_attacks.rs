//! Fragment attacks of docs/linux-semantics.md §3: nothing panics, reassembly memory stays within
//! `ipfrag_high_thresh` plus one fragment, the counters are Linux's, and a legitimate
//! datagram is reassembled again once the attack's queues have expired.

mod common;

use common::*;
use core::time::Duration;
use skiff_core::drop::DropReason;
use skiff_wire::Ipv4Addr;

/// One fragment from `src` carrying `data` at byte offset `off`.
fn frag(src: Ipv4Addr, protocol: u8, id: u16, off: usize, mf: bool, data: &[u8]) -> Vec<u8> {
    let mut p = Ip::new(src, ME, protocol, data.to_vec());
    (p.ident, p.frag_offset, p.mf) = (id, off as u16, mf);
    p.frame()
}

/// The most one admitted fragment adds: a pool buffer and its metadata.
const ONE_FRAGMENT: usize = 4096;

/// A 1000-byte echo request in 200-byte pieces is answered: reassembly works.
fn legit_works(h: &mut Host, id: u16) -> bool {
    let data: Vec<u8> = (0..992).map(|i| i as u8).collect();
    let req = icmp(8, 0, [0, 9, 0, 1], &data);
    for off in (0..req.len()).step_by(200) {
        let end = (off + 200).min(req.len());
        h.rx(
            h.eth0,
            &frag(PEER, 1, id, off, end < req.len(), &req[off..end]),
        );
    }
    icmps(h.tx())
        .iter()
        .any(|(t, _, o)| *t == 0 && o.payload[4..] == req[4..])
}

/// The UDP ports quoted by the port unreachable a datagram drew (no UDP sockets yet).
fn quoted_ports(h: &mut Host) -> Vec<(u16, u16)> {
    icmps(h.tx())
        .into_iter()
        .filter(|(t, c, _)| (*t, *c) == (3, 3))
        .map(|(_, _, o)| {
            let udp = &o.payload[8 + 20..];
            (
                u16::from_be_bytes([udp[0], udp[1]]),
                u16::from_be_bytes([udp[2], udp[3]]),
            )
        })
        .collect()
}

#[test]
fn teardrop_family_in_both_orders() {
    let udp = udp(PEER, ME, 1000, 2000, &[0x61; 28]);
    // (first, second): each a fragment as (offset, end, mf); the expected outcome.
    let cases = [
        // Classic teardrop: 36 bytes rounded to 32, then a last fragment ending at 28.
        ((0, 36, true), (24, 28, false), "killed"),
        // Bonk: the contained piece is the last fragment, ending early.
        ((0, 32, true), (8, 16, false), "killed"),
        // A contained non-last piece: a duplicate.
        ((0, 32, true), (8, 16, true), "kept"),
        // Partial head and tail overlaps.
        ((8, 24, true), (0, 16, true), "killed"),
        ((8, 24, true), (16, 32, true), "killed"),
    ];
    for (a, b, want) in cases {
        for order in [[a, b], [b, a]] {
            let mut h = Host::new(false);
            for (off, end, mf) in order {
                h.rx(h.eth0, &frag(PEER, 17, 1, off, mf, &udp[off..end]));
            }
            let alive = h.s.ipfrags().len();
            let got = if alive == 1 { "kept" } else { "killed" };
            // A contained piece arriving first is itself the run the other overlaps.
            let want = if want == "kept" && order[0] == b {
                "killed"
            } else {
                want
            };
            assert_eq!(got, want, "{order:?}");
            assert!(quoted_ports(&mut h).is_empty(), "nothing delivered");
            if got == "killed" {
                assert_eq!(h.mib("IpReasmFails"), 1, "{order:?}");
                assert_eq!(h.s.ipfrags().mem(), 0);
            }
            h.advance(Duration::from_secs(31));
            assert!(legit_works(&mut h, 77));
        }
    }
}

#[test]
fn ping_of_death_alone_times_out_silently() {
    let mut h = Host::new(false);
    h.rx(h.eth0, &frag(PEER, 1, 5, 65528, false, &[0; 100]));
    assert_eq!(h.s.ipfrags().len(), 1);
    h.advance(Duration::from_secs(31));
    assert!(h.tx().is_empty(), "no first fragment, no ICMP");
    assert_eq!(h.mib("IpReasmTimeout"), 1);
    assert!(legit_works(&mut h, 6));
}

#[test]
fn fragmentsmack_random_overlaps_keep_memory_flat() {
    let mut h = Host::new(false);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut peak = 0;
    for _ in 0..10_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let off = (seed % 8000) as usize & !7;
        h.rx(h.eth0, &frag(PEER, 17, 1, off, true, &[0; 8][..8]));
        peak = peak.max(h.s.ipfrags().mem());
    }
    // 8-byte pieces at 8-aligned offsets meet exactly (duplicates) or not at all, so
    // one queue holds at most the 1000 distinct offsets.
    assert_eq!(h.mib("IpExtReasmOverlaps"), 0);
    assert!(h.drops(DropReason::DupFrag) >= 9000);
    assert!(peak <= 1000 * ONE_FRAGMENT, "{peak}");
    // Random sizes do overlap: each overlap kills the queue, memory stays small.
    let mut h = Host::new(false);
    for i in 0..10_000u64 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let off = (seed % 8000) as usize & !7;
        let len = 8 + (i % 3) as usize * 8;
        h.rx(h.eth0, &frag(PEER, 17, 1, off, true, &vec![0; len]));
        assert!(h.s.ipfrags().mem() <= (4 << 20) + ONE_FRAGMENT);
    }
    // Each overlap cost the queue (337 times for this seed), so it never grew large.
    let overlaps = h.mib("IpExtReasmOverlaps");
    assert!(overlaps > 100, "{overlaps}");
    assert_eq!(h.mib("IpReasmFails"), overlaps);
    h.advance(Duration::from_secs(31));
    assert_eq!(h.s.ipfrags().mem(), 0);
    assert!(legit_works(&mut h, 2));
}

#[test]
fn eight_byte_fragments_of_60000_bytes_in_odd_even_order() {
    let mut h = Host::new(false);
    // 7500 fragments cost more than the default 4 MiB of truesize; raise it.
    h.s.set_sysctl("ipfrag_high_thresh", "67108864").unwrap();
    let sock = h.s.raw_socket(17).unwrap();
    let dgram = udp(PEER, ME, 1, 2, &vec![0x33; 60000 - 8]);
    let n = dgram.len() / 8;
    let order = (1..n).step_by(2).chain((0..n).step_by(2));
    for i in order {
        let off = i * 8;
        h.rx(
            h.eth0,
            &frag(
                PEER,
                17,
                3,
                off,
                off + 8 < dgram.len(),
                &dgram[off..off + 8],
            ),
        );
    }
    let d = h.s.raw_recv(sock).unwrap();
    assert_eq!(&d.packet[20..], &dgram[..]);
    assert_eq!(h.s.ipfrags().mem(), 0);
}

#[test]
fn rose_and_new_dawn_stay_bounded_and_recover() {
    let mut h = Host::new(false);
    h.s.set_sysctl("ipfrag_low_thresh", "0").unwrap();
    h.s.set_sysctl("ipfrag_high_thresh", "1048576").unwrap();
    let mut peak = 0;
    for id in 0..10_000u16 {
        // Rose: the first and the (claimed ~64 KB) last fragment, never the middle.
        h.rx(h.eth0, &frag(PEER, 17, id, 0, true, &[0; 16]));
        h.rx(h.eth0, &frag(PEER, 17, id, 65000, false, &[0; 16]));
        // New Dawn: a random middle piece too.
        let mid = 8 * (1 + usize::from(id) * 37 % 8000);
        h.rx(h.eth0, &frag(PEER, 17, id, mid, true, &[0; 8]));
        peak = peak.max(h.s.ipfrags().mem());
        h.tx();
    }
    assert!(peak <= 1048576 + ONE_FRAGMENT, "{peak}");
    assert!(h.drops(DropReason::FragMemLimit) > 20_000);
    assert!(
        !legit_works(&mut h, 20_000),
        "over the limit even legitimate ones fail"
    );
    h.advance(Duration::from_secs(31));
    assert_eq!(h.s.ipfrags().len(), 0);
    assert!(h.tx().len() < 100, "expiry ICMP is rate limited");
    assert!(legit_works(&mut h, 20_001));
}

#[test]
fn jolt2_duplicates_share_one_queue_and_expire_silently() {
    let mut h = Host::new(false);
    let f = frag(PEER, 1, 0x4a4a, 65520, false, &[0; 9]);
    for _ in 0..3000 {
        h.rx(h.eth0, &f);
    }
    assert_eq!(h.s.ipfrags().len(), 1);
    assert_eq!(h.drops(DropReason::DupFrag), 2999);
    h.advance(Duration::from_secs(31));
    assert!(h.tx().is_empty());
    assert_eq!((h.mib("IpReasmFails"), h.mib("IpReasmTimeout")), (1, 1));
    assert!(legit_works(&mut h, 1));
}

#[test]
fn tiny_first_fragments_pass_and_header_rewrites_do_not() {
    let udp = udp(PEER, ME, 1000, 2000, &[0x61; 24]);
    let mut forged = udp.clone();
    forged[..4].copy_from_slice(&[0x0b, 0xb8, 0x0b, 0xb9]);
    // A tiny first fragment with just the UDP header: delivered.
    let mut h = Host::new(false);
    h.rx(h.eth0, &frag(PEER, 17, 1, 0, true, &udp[..8]));
    h.rx(h.eth0, &frag(PEER, 17, 1, 8, false, &udp[8..]));
    assert_eq!(quoted_ports(&mut h), vec![(1000, 2000)]);
    // RFC 1858 §3.2: a later fragment at offset 8 rewriting [8, 24) of a queued [0, 24)
    // is a duplicate (first data wins); one reaching past it overlaps and kills.
    let mut h = Host::new(false);
    h.rx(h.eth0, &frag(PEER, 17, 2, 0, true, &udp[..24]));
    h.rx(h.eth0, &frag(PEER, 17, 2, 8, true, &forged[8..24]));
    h.rx(h.eth0, &frag(PEER, 17, 2, 24, false, &udp[24..]));
    assert_eq!(quoted_ports(&mut h), vec![(1000, 2000)]);
    let mut h = Host::new(false);
    h.rx(h.eth0, &frag(PEER, 17, 3, 0, true, &udp[..24]));
    h.rx(h.eth0, &frag(PEER, 17, 3, 8, true, &forged[8..32]));
    assert_eq!(h.mib("IpExtReasmOverlaps"), 1);
    h.rx(h.eth0, &frag(PEER, 17, 3, 24, false, &udp[24..]));
    assert!(quoted_ports(&mut h).is_empty());
}
