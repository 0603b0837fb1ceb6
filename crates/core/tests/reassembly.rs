//! ip_defrag on the host path: one test per rule of docs/linux-semantics.md §2 (R1–R19), named after it.
//! Datagrams are echo requests to ME, so a complete one is answered with an echo reply.

mod common;

use common::*;
use core::time::Duration;
use skiff_core::drop::DropReason;
use skiff_wire::Ipv4Addr;

/// The IP payload of an echo request with `n` data bytes of a recognisable pattern.
fn echo(n: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..n).map(|i| (i * 7 + i / 251) as u8).collect();
    icmp(8, 0, [0x12, 0x34, 0, 1], &data)
}

/// The frame carrying `payload[off..end]` of datagram `id` from PEER.
fn piece(id: u16, payload: &[u8], off: usize, end: usize, mf: bool) -> Vec<u8> {
    let mut p = Ip::new(PEER, ME, 1, payload[off..end].to_vec());
    p.ident = id;
    p.frag_offset = off as u16;
    p.mf = mf;
    p.frame()
}

/// `payload` cut into pieces of `size` bytes (a multiple of 8), in order.
fn pieces(id: u16, payload: &[u8], size: usize) -> Vec<Vec<u8>> {
    (0..payload.len())
        .step_by(size)
        .map(|off| {
            let end = (off + size).min(payload.len());
            piece(id, payload, off, end, end < payload.len())
        })
        .collect()
}

/// The ICMP payloads of the echo replies sent.
fn replies(h: &mut Host) -> Vec<Vec<u8>> {
    icmps(h.tx())
        .into_iter()
        .filter(|(t, _, _)| *t == 0)
        .map(|(_, _, o)| o.payload)
        .collect()
}

/// The reply to `request` carries its identifier, sequence and data.
fn answers(reply: &[u8], request: &[u8]) -> bool {
    reply[0] == 0 && reply[4..] == request[4..]
}

fn send_all(h: &mut Host, frames: &[Vec<u8>]) {
    for f in frames {
        h.rx(h.eth0, f);
    }
}

#[test]
fn r1_defaults_and_the_high_low_bound() {
    let mut h = Host::new(false);
    let s = h.s.sysctl();
    assert_eq!(
        (
            s.ipfrag_high_thresh,
            s.ipfrag_low_thresh,
            s.ipfrag_time,
            s.ipfrag_max_dist
        ),
        (4194304, 3145728, 30, 64)
    );
    let e = h.s.set_sysctl("ipfrag_high_thresh", "1000").unwrap_err();
    assert_eq!(e.errno(), 22, "high below low is EINVAL");
}

#[test]
fn r2_protocol_and_source_are_part_of_the_key() {
    let mut h = Host::new(false);
    let req = echo(40);
    h.rx(h.eth0, &piece(7, &req, 0, 24, true));
    // Same ID, other protocol; same ID, other source: neither completes the first.
    let mut udp = Ip::new(PEER, ME, 17, req[24..].to_vec());
    (udp.ident, udp.frag_offset) = (7, 24);
    h.rx(h.eth0, &udp.frame());
    let mut other = Ip::new(Ipv4Addr::new(10, 0, 0, 3), ME, 1, req[24..].to_vec());
    (other.ident, other.frag_offset) = (7, 24);
    h.rx(h.eth0, &other.frame());
    assert_eq!(h.s.ipfrags().len(), 3);
    assert!(replies(&mut h).is_empty());
    h.rx(h.eth0, &piece(7, &req, 24, req.len(), false));
    let got = replies(&mut h);
    assert_eq!(got.len(), 1);
    assert!(answers(&got[0], &req));
    assert_eq!(h.s.ipfrags().len(), 2);
}

#[test]
fn r3_memory_is_a_hard_limit_without_eviction() {
    let mut h = Host::new(false);
    h.s.set_sysctl("ipfrag_low_thresh", "0").unwrap();
    h.s.set_sysctl("ipfrag_high_thresh", "20000").unwrap();
    let req = echo(40);
    let mut refused = 0;
    let mut peak = 0;
    for id in 1..=100u16 {
        let before = h.mib("IpReasmFails");
        h.rx(h.eth0, &piece(id, &req, 0, 24, true));
        refused += h.mib("IpReasmFails") - before;
        peak = peak.max(h.s.ipfrags().mem());
    }
    assert!(refused > 80, "{refused}");
    assert_eq!(h.drops(DropReason::FragMemLimit), refused);
    // At most the threshold plus the one fragment admitted below it.
    assert!(peak <= 20000 + 4096, "{peak}");
    // No eviction: the fragment completing a queued datagram is refused too.
    h.rx(h.eth0, &piece(1, &req, 24, req.len(), false));
    assert!(replies(&mut h).is_empty());
    assert_eq!(h.drops(DropReason::FragMemLimit), refused + 1);
    // Recovery comes with expiry.
    h.advance(Duration::from_secs(31));
    assert_eq!(h.s.ipfrags().mem(), 0);
    send_all(&mut h, &pieces(500, &req, 24));
    assert_eq!(replies(&mut h).len(), 1);
}

#[test]
fn r4_the_timer_is_armed_once() {
    let mut h = Host::new(false);
    let req = echo(64);
    h.rx(h.eth0, &piece(1, &req, 0, 24, true));
    h.advance(Duration::from_secs(20));
    h.rx(h.eth0, &piece(1, &req, 24, 48, true));
    h.advance(Duration::from_millis(9_999));
    assert_eq!(h.s.ipfrags().len(), 1, "still waiting at 29.999 s");
    h.advance(Duration::from_millis(1));
    assert_eq!(h.s.ipfrags().len(), 0, "gone at 30 s, not extended");
    assert_eq!(h.mib("IpReasmTimeout"), 1);
}

#[test]
fn r5_expiry_answers_time_exceeded_only_with_the_first_fragment() {
    let mut h = Host::new(false);
    let req = echo(3000);
    // Without the offset-0 fragment: counted, silent.
    h.rx(h.eth0, &piece(1, &req, 1480, 2960, true));
    h.advance(Duration::from_secs(31));
    assert!(h.tx().is_empty());
    assert_eq!((h.mib("IpReasmFails"), h.mib("IpReasmTimeout")), (1, 1));
    assert_eq!(h.drops(DropReason::FragReasmTimeout), 1);
    // With it: ICMP 11/1 from us, quoting its header, at most 576 bytes in all.
    h.rx(h.eth0, &piece(2, &req, 0, 1480, true));
    h.rx(h.eth0, &piece(2, &req, 2960, req.len(), false));
    h.advance(Duration::from_secs(31));
    let got = icmps(h.tx());
    assert_eq!(got.len(), 1);
    let (t, c, o) = &got[0];
    assert_eq!((*t, *c, o.src, o.dst), (11, 1, ME, PEER));
    assert!(o.ip.len() <= 576, "{}", o.ip.len());
    let quoted = &o.payload[8..];
    assert_eq!(
        u16::from_be_bytes([quoted[4], quoted[5]]),
        2,
        "the head's ID"
    );
    assert_eq!(quoted[6] & 0x20, 0x20, "the head's MF");
    assert_eq!((h.mib("IpReasmFails"), h.mib("IpReasmTimeout")), (2, 2));
    assert_eq!(h.mib("IcmpOutTimeExcds"), 1);
}

/// Datagram 1's first half, `others` fragments from the same source for other datagrams,
/// then datagram 1's second half: is datagram 1 answered?
fn max_dist_case(others: u16, src_of_others: Ipv4Addr) -> (bool, Host) {
    let mut h = Host::new(false);
    h.s.add_neigh_static(h.eth0, src_of_others, PEER_MAC);
    let req = echo(40);
    h.rx(h.eth0, &piece(1, &req, 0, 24, true));
    for id in 0..others {
        let mut p = Ip::new(src_of_others, ME, 1, vec![0; 8]);
        (p.ident, p.mf) = (1000 + id, true);
        h.rx(h.eth0, &p.frame());
    }
    h.rx(h.eth0, &piece(1, &req, 24, req.len(), false));
    (replies(&mut h).len() == 1, h)
}

#[test]
fn r6_max_dist_restarts_a_queue_after_64_fragments_from_its_source() {
    assert!(max_dist_case(63, PEER).0, "63 in between: delivered");
    let (delivered, h) = max_dist_case(64, PEER);
    assert!(!delivered, "64 in between: lost");
    assert_eq!(h.drops(DropReason::FragTooFar), 1);
    assert_eq!(h.mib("IpReasmFails"), 1);
    assert!(
        max_dist_case(200, Ipv4Addr::new(10, 0, 0, 3)).0,
        "others' fragments do not count"
    );
    // ipfrag_max_dist=0 turns it off.
    let mut h = Host::new(false);
    h.s.set_sysctl("ipfrag_max_dist", "0").unwrap();
    let req = echo(40);
    h.rx(h.eth0, &piece(1, &req, 0, 24, true));
    for id in 0..500 {
        let mut p = Ip::new(PEER, ME, 1, vec![0; 8]);
        (p.ident, p.mf) = (1000 + id, true);
        h.rx(h.eth0, &p.frame());
    }
    h.rx(h.eth0, &piece(1, &req, 24, req.len(), false));
    assert_eq!(replies(&mut h).len(), 1);
}

#[test]
fn r7_r14_ping_of_death_is_dropped_at_completion_and_64k_passes() {
    let mut h = Host::new(false);
    // Fragments covering [0, 65528), then 100 bytes at 65528: 65648 bytes of datagram.
    let big = echo(65528 + 100 - 8);
    let mut frames = pieces(9, &big[..65528], 1480);
    let last = frames.len() - 1;
    frames[last] = piece(9, &big, (last) * 1480, 65528, true);
    send_all(&mut h, &frames);
    assert_eq!(
        h.s.ipfrags().len(),
        1,
        "an end past 65535 waits for completion"
    );
    h.rx(h.eth0, &piece(9, &big, 65528, big.len(), false));
    assert_eq!(h.s.ipfrags().len(), 0);
    assert_eq!(h.mib("IpReasmFails"), 1);
    assert_eq!(h.mib("IpReasmOKs"), 0);
    assert!(h.tx().is_empty(), "no ICMP, no reply");
    assert_eq!(h.s.ipfrags().mem(), 0);
    // The largest legal datagram, 65535 bytes, is delivered whole.
    let sock = h.s.raw_socket(1).unwrap();
    let legal = echo(65535 - 20 - 8);
    send_all(&mut h, &pieces(10, &legal, 1480));
    let d = h.s.raw_recv(sock).unwrap();
    assert_eq!(d.packet.len(), 65535);
    assert_eq!(&d.packet[20..], &legal[..]);
    assert_eq!(h.mib("IpReasmOKs"), 1);
}

#[test]
fn r8_a_last_fragment_must_agree_with_the_length() {
    let req = echo(40);
    // Ends before data already queued: classic teardrop (36 bytes rounded to 32, then
    // a last fragment ending at 28).
    let mut h = Host::new(false);
    h.rx(h.eth0, &piece(1, &req, 0, 36, true));
    h.rx(h.eth0, &piece(1, &req, 24, 28, false));
    assert_eq!(h.s.ipfrags().len(), 0);
    assert_eq!(h.mib("IpReasmFails"), 1);
    assert!(h.drops(DropReason::FragDiscard) >= 1);
    // A second last fragment with another end.
    let mut h = Host::new(false);
    h.rx(h.eth0, &piece(2, &req, 24, 40, false));
    h.rx(h.eth0, &piece(2, &req, 24, 32, false));
    assert_eq!(h.s.ipfrags().len(), 0);
    assert_eq!(h.mib("IpReasmFails"), 1);
    assert!(replies(&mut h).is_empty());
}

#[test]
fn r9_non_last_fragments_are_cut_to_whole_blocks() {
    let req = echo(40);
    let mut h = Host::new(false);
    // 13 bytes with MF keep only 8; the next piece supplies 8..48.
    let mut first = piece(1, &req, 0, 13, true);
    let n = first.len();
    first[n - 5..].copy_from_slice(&[0xee; 5]);
    h.rx(h.eth0, &first);
    h.rx(h.eth0, &piece(1, &req, 8, req.len(), false));
    let got = replies(&mut h);
    assert_eq!(got.len(), 1);
    assert!(answers(&got[0], &req), "the cut bytes are gone");
    // Past a known end: the queue goes.
    let mut h = Host::new(false);
    h.rx(h.eth0, &piece(2, &req, 16, 24, false));
    h.rx(h.eth0, &piece(2, &req, 24, 40, true));
    assert_eq!(h.s.ipfrags().len(), 0);
    assert_eq!(h.mib("IpReasmFails"), 1);
}

#[test]
fn r10_an_empty_fragment_kills_its_queue() {
    let req = echo(40);
    for (off, end, mf) in [(16, 16, true), (16, 16, false), (16, 23, true)] {
        let mut h = Host::new(false);
        h.rx(h.eth0, &piece(1, &req, 0, 16, true));
        h.rx(h.eth0, &piece(1, &req, off, end, mf));
        assert_eq!(h.s.ipfrags().len(), 0, "{off}..{end}");
        assert_eq!(h.mib("IpReasmFails"), 1);
        h.rx(h.eth0, &piece(1, &req, 16, req.len(), false));
        assert!(replies(&mut h).is_empty(), "the first half went with it");
    }
}

#[test]
fn r11_duplicates_keep_the_first_data() {
    let req = echo(40);
    let mut h = Host::new(false);
    h.rx(h.eth0, &piece(1, &req, 0, 16, true));
    h.rx(h.eth0, &piece(1, &req, 16, 32, true));
    // Inside the run [0, 32), with other bytes: ignored, and the queue stays.
    let mut forged = piece(1, &req, 8, 24, true);
    let n = forged.len();
    forged[n - 16..].copy_from_slice(&[0xee; 16]);
    h.rx(h.eth0, &forged);
    h.rx(h.eth0, &piece(1, &req, 0, 16, true));
    assert_eq!(h.drops(DropReason::DupFrag), 2);
    h.rx(h.eth0, &piece(1, &req, 32, req.len(), false));
    let got = replies(&mut h);
    assert_eq!(got.len(), 1);
    assert!(answers(&got[0], &req));
    assert_eq!(h.mib("IpExtReasmOverlaps"), 0);
}

#[test]
fn r11_overlaps_kill_the_queue_whatever_the_bytes() {
    let req = echo(40);
    // Past the tail (fast path) and between runs (slow path), with identical bytes.
    for (a, b) in [((0, 16), (8, 24)), ((24, 32), (8, 32)), ((0, 8), (0, 16))] {
        let mut h = Host::new(false);
        h.rx(h.eth0, &piece(1, &req, 16, 24, true));
        h.rx(h.eth0, &piece(1, &req, a.0, a.1, true));
        h.rx(h.eth0, &piece(1, &req, b.0, b.1, true));
        assert_eq!(h.mib("IpExtReasmOverlaps"), 1, "{a:?} then {b:?}");
        assert_eq!(h.mib("IpReasmFails"), 1);
        assert_eq!(h.s.ipfrags().len(), 0);
        assert_eq!(h.s.ipfrags().mem(), 0);
    }
}

#[test]
fn r11_a_duplicate_last_fragment_still_fixes_the_end() {
    let req = echo(40);
    let mut h = Host::new(false);
    h.rx(h.eth0, &piece(1, &req, 0, 16, true));
    // Contained in [0, 16), so a duplicate, but it set LAST_IN with end 16 first.
    h.rx(h.eth0, &piece(1, &req, 8, 16, false));
    assert_eq!(h.drops(DropReason::DupFrag), 1);
    h.rx(h.eth0, &piece(1, &req, 16, req.len(), false));
    assert_eq!(h.s.ipfrags().len(), 0, "the real end contradicts it");
    assert_eq!(h.mib("IpReasmFails"), 1);
    assert!(replies(&mut h).is_empty());
}

#[test]
fn r12_any_arrival_order_completes() {
    let req = echo(1000);
    let ordered = pieces(1, &req, 96);
    let mut reversed = ordered.clone();
    reversed.reverse();
    // A fixed shuffle: odd pieces, then even ones backwards.
    let mut shuffled: Vec<_> = ordered.iter().skip(1).step_by(2).cloned().collect();
    shuffled.extend(ordered.iter().step_by(2).rev().cloned());
    for (name, frames) in [
        ("in order", ordered),
        ("reversed", reversed),
        ("shuffled", shuffled),
    ] {
        let mut h = Host::new(false);
        send_all(&mut h, &frames);
        let got = replies(&mut h);
        assert_eq!(got.len(), 1, "{name}");
        assert!(answers(&got[0], &req), "{name}");
        assert_eq!(h.mib("IpReasmReqds"), frames.len() as u64);
        assert_eq!(h.mib("IpReasmOKs"), 1);
        assert_eq!(h.s.ipfrags().mem(), 0);
    }
}

/// Delivers a datagram in two pieces of the given sizes, TOS and DF to a raw socket and
/// returns the packet it read, or None when nothing was delivered.
fn reassembled(tos: [u8; 2], df: [bool; 2], sizes: [usize; 2]) -> Option<Vec<u8>> {
    let mut h = Host::new(false);
    let sock = h.s.raw_socket(1).unwrap();
    let req = echo(sizes[0] + sizes[1] - 8);
    for (i, (off, end)) in [(0, sizes[0]), (sizes[0], req.len())]
        .into_iter()
        .enumerate()
    {
        let mut p = Ip::new(PEER, ME, 1, req[off..end].to_vec());
        (p.ident, p.frag_offset, p.mf) = (3, off as u16, i == 0);
        (p.tos, p.df) = (tos[i], df[i]);
        h.rx(h.eth0, &p.frame());
    }
    let d = h.s.raw_recv(sock).ok()?;
    assert_eq!(d.packet.len(), 20 + req.len());
    assert_eq!(&d.packet[20..], &req[..]);
    Some(d.packet)
}

#[test]
fn r13_ecn_of_the_fragments_combines_per_rfc_3168() {
    let ecn = |tos: [u8; 2]| reassembled(tos, [false; 2], [16, 16]).map(|h| h[1] & 3);
    assert_eq!(ecn([0x03, 0x02]), Some(3), "CE with ECT(0) is CE");
    assert_eq!(ecn([0x02, 0x03]), Some(3));
    assert_eq!(ecn([0x02, 0x01]), Some(2), "ECT mix keeps the head's");
    assert_eq!(ecn([0x00, 0x00]), Some(0));
    assert_eq!(ecn([0x00, 0x02]), None, "Not-ECT with ECT is dropped");
    assert_eq!(ecn([0x03, 0x00]), None, "CE with Not-ECT is dropped");
}

#[test]
fn r15_the_header_is_rewritten_and_df_kept_only_from_the_largest_fragment() {
    let hdr = reassembled([0; 2], [true, true], [16, 16]).unwrap();
    let ip = skiff_wire::ipv4::Ipv4Packet::new_checked(&hdr[..]).unwrap();
    assert!(ip.verify_checksum());
    assert_eq!(ip.total_len(), 20 + 32);
    assert!(ip.dont_frag() && !ip.more_frags() && ip.frag_offset() == 0);
    // The small fragment had DF, the large one did not: no DF.
    let hdr = reassembled([0; 2], [true, false], [16, 48]).unwrap();
    assert_eq!(hdr[6] & 0xe0, 0);
    // The large one had it: DF.
    let hdr = reassembled([0; 2], [false, true], [16, 48]).unwrap();
    assert_eq!(hdr[6] & 0xe0, 0x40);
}

#[test]
fn r16_hooks_before_local_in_see_fragments_local_in_sees_the_datagram() {
    let mut h = Host::new(false);
    h.s.nf
        .load_rules("-A PREROUTING -f -j LOG --log-prefix \"frag: \"\n-A INPUT -f -j DROP\n")
        .unwrap();
    let req = echo(100);
    let frames = pieces(1, &req, 40);
    send_all(&mut h, &frames);
    assert_eq!(replies(&mut h).len(), 1, "LOCAL_IN saw no fragment");
    assert_eq!(h.drops(DropReason::NetfilterDrop), 0);
    // -f matches non-first fragments: PRE_ROUTING logged them.
    assert_eq!(h.s.nf.drain_log().count(), frames.len() - 1);
}

#[test]
fn r17_a_killed_queue_is_forgotten() {
    let req = echo(40);
    let mut h = Host::new(false);
    h.rx(h.eth0, &piece(1, &req, 0, 16, true));
    h.rx(h.eth0, &piece(1, &req, 8, 24, true));
    assert_eq!(h.mib("IpExtReasmOverlaps"), 1);
    // The same key afterwards is a new datagram.
    send_all(&mut h, &pieces(1, &req, 16));
    let got = replies(&mut h);
    assert_eq!(got.len(), 1);
    assert!(answers(&got[0], &req));
}

#[test]
fn r18_there_is_no_fragment_count_limit() {
    let mut h = Host::new(false);
    let sock = h.s.raw_socket(1).unwrap();
    let req = echo(8000 - 8);
    let frames = pieces(1, &req, 8);
    assert_eq!(frames.len(), 1000);
    send_all(&mut h, &frames);
    let d = h.s.raw_recv(sock).unwrap();
    assert_eq!(&d.packet[20..], &req[..]);
}

/// The frame carrying `payload[off..end]` of datagram `id` from PEER to `dst`, DF as given.
fn routed_piece(
    dst: Ipv4Addr,
    id: u16,
    payload: &[u8],
    (off, end): (usize, usize),
    df: bool,
) -> Vec<u8> {
    let mut p = Ip::new(PEER, dst, 17, payload[off..end].to_vec());
    (p.ident, p.frag_offset, p.mf, p.df) = (id, off as u16, end < payload.len(), df);
    p.frame()
}

/// (bytes, MF, offset) of what left.
fn frag_shape(out: &[Out]) -> Vec<(usize, bool, usize)> {
    out.iter()
        .map(|o| {
            let fo = u16::from_be_bytes([o.ip[6], o.ip[7]]);
            (o.ip.len(), fo & 0x2000 != 0, usize::from(fo & 0x1fff) * 8)
        })
        .collect()
}

#[test]
fn r16_a_router_forwards_fragments_as_they_are_by_default() {
    let mut r = Host::new(true);
    let data = udp(PEER, PEER1, 7, 9, &[5; 1192]);
    for range in [(0, 576), (576, 1200)] {
        r.rx(r.eth0, &routed_piece(PEER1, 9, &data, range, false));
    }
    let out = outs(r.tx());
    assert_eq!(frag_shape(&out), vec![(596, true, 0), (644, false, 576)]);
    assert_eq!(r.mib("IpReasmReqds"), 0);
    assert!(!r.s.nf.defrag_enabled());
}

#[test]
fn r16_the_prerouting_defrag_hook_reassembles_and_cuts_back_to_the_largest_fragment() {
    let mut r = Host::new(true); // eth1 MTU 1400
    r.s.nf.nf_defrag_ipv4_enable().unwrap();
    r.s.nf.nf_defrag_ipv4_enable().unwrap();
    // A rule after the hook sees the whole datagram once.
    r.s.nf
        .load_rules("-A PREROUTING -s 10.0.0.2 -j ACCEPT\n")
        .unwrap();
    let data = udp(PEER, PEER1, 7, 9, &[5; 1592]);
    for range in [(0, 576), (576, 1152), (1152, 1600)] {
        r.rx(r.eth0, &routed_piece(PEER1, 9, &data, range, false));
    }
    assert_eq!((r.mib("IpReasmReqds"), r.mib("IpReasmOKs")), (3, 1));
    assert!(
        r.s.nf.render_rules().contains("    1  1620 ACCEPT"),
        "{}",
        r.s.nf.render_rules()
    );
    let out = outs(r.tx());
    assert_eq!(
        frag_shape(&out),
        vec![(596, true, 0), (596, true, 576), (468, false, 1152)],
        "cut to the largest fragment (596 bytes), not to eth1's 1400"
    );
    let whole: Vec<u8> = out.iter().flat_map(|o| o.payload.clone()).collect();
    assert_eq!(whole, data);
    assert!(out.iter().all(|o| o.ttl == 63 && o.ident == 9));
    // Disabled again, fragments pass through untouched.
    r.s.nf.nf_defrag_ipv4_disable();
    r.s.nf.load_rules("").unwrap();
    for range in [(0, 576), (576, 1152), (1152, 1600)] {
        r.rx(r.eth0, &routed_piece(PEER1, 10, &data, range, false));
    }
    assert_eq!(outs(r.tx()).len(), 3);
    assert_eq!(r.mib("IpReasmReqds"), 3);
}

#[test]
fn r16_df_fragments_reassembled_by_the_hook_are_refused_past_the_mtu() {
    let mut r = Host::new(true); // eth1 MTU 1400
    r.s.nf.nf_defrag_ipv4_enable().unwrap();
    let data = udp(PEER, PEER1, 7, 9, &[5; 2952]);
    for range in [(0, 1480), (1480, 2960)] {
        r.rx(r.eth0, &routed_piece(PEER1, 11, &data, range, true));
    }
    let errs = icmps(r.tx());
    assert_eq!(errs.len(), 1);
    let (t, c, o) = &errs[0];
    assert_eq!(
        (*t, *c, &o.payload[6..8]),
        (3, 4, &1400u16.to_be_bytes()[..])
    );
    assert_eq!((r.mib("IpReasmOKs"), r.mib("IpFragFails")), (1, 1));
    // Fragments no larger than eth1's MTU go out as they came, DF on the first (Linux's
    // fast path copies only offset and MF into later pieces).
    for range in [(0, 1192), (1192, 2384), (2384, 2960)] {
        r.rx(r.eth0, &routed_piece(PEER1, 12, &data, range, true));
    }
    let out = outs(r.tx());
    assert_eq!(
        frag_shape(&out),
        vec![(1212, true, 0), (1212, true, 1192), (596, false, 2384)]
    );
    assert!(out[0].df, "IPSKB_FRAG_PMTU");
}

#[test]
fn r16_the_hook_reassembles_for_local_delivery_too() {
    let mut h = Host::new(false);
    h.s.nf.nf_defrag_ipv4_enable().unwrap();
    let req = echo(100);
    send_all(&mut h, &pieces(1, &req, 40));
    assert_eq!(replies(&mut h).len(), 1);
    assert_eq!(h.mib("IpReasmOKs"), 1, "once, at PRE_ROUTING");
}
