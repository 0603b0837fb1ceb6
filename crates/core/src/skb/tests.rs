use super::*;
use crate::time::Instant;
use proptest::prelude::*;

/// A packet of `headroom` + linear `bytes` + `tailroom`.
fn skb(headroom: usize, bytes: &[u8], tailroom: usize) -> SkBuff {
    let mut s = SkBuff::new(headroom, bytes.len() + tailroom).unwrap();
    s.put_slice(bytes).unwrap();
    s
}

/// A packet whose linear part is `head` followed by frag_list pieces `frags`.
fn frag_skb(head: &[u8], frags: &[&[u8]], tailroom: usize) -> SkBuff {
    let mut s = skb(4, head, tailroom);
    s.frag_list = frags.iter().map(|f| skb(2, f, 1)).collect();
    s
}

/// The whole packet's bytes, frag_list included.
fn bytes(s: &SkBuff) -> Vec<u8> {
    let mut v = s.data().to_vec();
    for f in &s.frag_list {
        v.extend(bytes(f));
    }
    v
}

fn assert_fresh(s: &SkBuff) {
    assert_eq!(s.len(), 0);
    assert!(s.frag_list.is_empty());
    assert_eq!(s.mac_header(), None);
    assert_eq!(s.network_header(), None);
    assert_eq!(s.transport_header(), None);
    assert_eq!(s.ip_summed, ChecksumState::None);
    assert_eq!(s.gso, None);
    assert_eq!(s.pkt_type, PacketType::Host);
    assert_eq!((s.iif, s.mark, s.priority), (0, 0, 0));
    assert_eq!(s.tstamp, Instant::ZERO);
    assert_eq!(s.cb, IpCb::default());
}

#[test]
fn new_layout_and_limits() {
    let s = SkBuff::new(16, 100).unwrap();
    assert_eq!(
        (s.headroom(), s.headlen(), s.tailroom(), s.len()),
        (16, 0, 100, 0)
    );
    assert!(s.is_empty() && !s.is_nonlinear());
    assert_fresh(&s);
    assert_eq!(
        SkBuff::new(usize::MAX, 1).unwrap_err(),
        SkbError::TooLarge {
            need: usize::MAX,
            max: SKB_MAX_ALLOC
        }
    );
    assert_eq!(
        SkBuff::new(1, SKB_MAX_ALLOC).unwrap_err(),
        SkbError::TooLarge {
            need: SKB_MAX_ALLOC + 1,
            max: SKB_MAX_ALLOC
        }
    );
    assert!(SkBuff::new(0, usize::MAX).is_err());
    assert_eq!(
        SkBuff::new(0, SKB_MAX_ALLOC).unwrap().tailroom(),
        SKB_MAX_ALLOC
    );
}

#[test]
fn push_pull_put() {
    let mut s = SkBuff::new(8, 8).unwrap();
    s.put(3).unwrap().copy_from_slice(b"abc");
    s.put_slice(b"de").unwrap();
    assert_eq!(s.data(), b"abcde");
    assert_eq!(s.tailroom(), 3);
    s.push(2).unwrap().copy_from_slice(b"XY");
    assert_eq!(s.data(), b"XYabcde");
    assert_eq!(s.headroom(), 6);
    assert_eq!(s.pull(3).unwrap(), b"XYa");
    assert_eq!(s.data(), b"bcde");
    assert_eq!(s.headroom(), 9);
    assert_eq!(s.pull(0).unwrap(), b"");
    s.data_mut()[0] = b'B';
    assert_eq!(s.data(), b"Bcde");
    assert_eq!(s.pull(4).unwrap(), b"Bcde");
    assert_eq!(s.len(), 0);
    assert_eq!(s.push(0).unwrap().len(), 0);
}

#[test]
fn push_pull_put_errors_change_nothing() {
    let mut s = skb(4, b"data", 2);
    for n in [5, usize::MAX] {
        assert_eq!(
            s.push(n).unwrap_err(),
            SkbError::NoHeadroom { need: n, have: 4 }
        );
        assert_eq!(
            s.pull(n).unwrap_err(),
            SkbError::TooShort { need: n, have: 4 }
        );
    }
    for n in [3, usize::MAX] {
        assert_eq!(
            s.put(n).unwrap_err(),
            SkbError::NoTailroom { need: n, have: 2 }
        );
    }
    assert_eq!(
        s.put_slice(b"xyz").unwrap_err(),
        SkbError::NoTailroom { need: 3, have: 2 }
    );
    assert_eq!((s.headroom(), s.data(), s.tailroom()), (4, &b"data"[..], 2));
    // pull never reaches into frag_list.
    let mut f = frag_skb(b"ab", &[b"cd"], 0);
    assert_eq!(
        f.pull(3).unwrap_err(),
        SkbError::TooShort { need: 3, have: 2 }
    );
    assert_eq!(f.len(), 4);
}

#[test]
fn reserve_only_when_empty() {
    let mut s = SkBuff::new(0, 10).unwrap();
    s.reserve(4).unwrap();
    assert_eq!((s.headroom(), s.tailroom()), (4, 6));
    assert_eq!(
        s.reserve(7).unwrap_err(),
        SkbError::NoTailroom { need: 7, have: 6 }
    );
    assert_eq!(
        s.reserve(usize::MAX).unwrap_err(),
        SkbError::NoTailroom {
            need: usize::MAX,
            have: 6
        }
    );
    s.reserve(6).unwrap();
    assert_eq!((s.headroom(), s.tailroom()), (10, 0));
    let mut s = skb(0, b"x", 5);
    assert_eq!(s.reserve(1).unwrap_err(), SkbError::NotEmpty);
    // Data only in frag_list still counts.
    let mut f = frag_skb(b"", &[b"x"], 5);
    assert_eq!(f.reserve(1).unwrap_err(), SkbError::NotEmpty);
}

#[test]
fn lengths_with_frag_list() {
    let s = frag_skb(b"head", &[b"one", b"", b"three"], 0);
    assert_eq!((s.headlen(), s.data_len(), s.len()), (4, 8, 12));
    assert!(s.is_nonlinear());
    assert_eq!(bytes(&s), b"headonethree");
    // put extends the linear part, before frag_list.
    let mut s = frag_skb(b"ab", &[b"cd"], 2);
    s.put_slice(b"XY").unwrap();
    assert_eq!(bytes(&s), b"abXYcd");
}

#[test]
fn header_offsets_survive_push_and_pull() {
    // Build a frame the transmit way: transport, then network, then link layer.
    let mut s = SkBuff::new(64, 100).unwrap();
    s.put_slice(b"UDPHpayload").unwrap();
    s.reset_transport_header().unwrap();
    s.push(4).unwrap().copy_from_slice(b"IPv4");
    s.reset_network_header().unwrap();
    s.push(2).unwrap().copy_from_slice(b"EH");
    s.reset_mac_header().unwrap();
    assert_eq!(s.mac_header(), Some(58));
    assert_eq!(s.network_header(), Some(60));
    assert_eq!(s.transport_header(), Some(64));
    assert_eq!(s.mac_offset(), Some(0));
    assert_eq!(s.network_offset(), Some(2));
    assert_eq!(s.transport_offset(), Some(6));

    // Receive-style: pull each header; the views still point at them.
    s.pull(2).unwrap();
    s.pull(4).unwrap();
    assert_eq!(s.data(), b"UDPHpayload");
    assert_eq!(s.mac_header_bytes().unwrap(), b"EHIPv4UDPHpayload");
    assert_eq!(s.network_header_bytes().unwrap(), b"IPv4UDPHpayload");
    assert_eq!(s.transport_header_bytes().unwrap(), b"UDPHpayload");
    assert_eq!(s.mac_offset(), Some(-6));
    assert_eq!(s.network_offset(), Some(-4));
    assert_eq!(s.transport_offset(), Some(0));
    s.network_header_bytes_mut().unwrap()[0] = b'i';
    s.mac_header_bytes_mut().unwrap()[0] = b'e';
    s.transport_header_bytes_mut().unwrap()[0] = b'u';
    s.push(6).unwrap();
    assert_eq!(s.data(), b"eHiPv4uDPHpayload");
}

#[test]
fn header_setters_bounds() {
    let mut s = skb(10, b"0123456789", 5);
    assert_eq!(s.network_header_bytes(), None);
    assert_eq!(s.network_offset(), None);
    s.set_network_header(4).unwrap();
    assert_eq!(s.network_header_bytes().unwrap(), b"456789");
    s.set_transport_header(10).unwrap();
    assert_eq!(s.transport_header_bytes().unwrap(), b"");
    s.set_mac_header(0).unwrap();
    for bad in [11, usize::MAX] {
        let err = SkbError::TooShort {
            need: bad,
            have: 10,
        };
        assert_eq!(s.set_mac_header(bad).unwrap_err(), err);
        assert_eq!(s.set_network_header(bad).unwrap_err(), err);
        assert_eq!(s.set_transport_header(bad).unwrap_err(), err);
    }
    assert_eq!(s.network_header(), Some(14));
    // A header trimmed away is gone from view, not a panic.
    s.trim(2);
    assert_eq!(s.network_header_bytes(), None);
    assert_eq!(s.network_header_bytes_mut(), None);
    assert_eq!(s.mac_header_bytes().unwrap(), b"01");
    // Offsets past u16::MAX cannot be recorded (Linux's are 16-bit too).
    let mut big = SkBuff::new(70_000, 10).unwrap();
    let err = SkbError::TooLarge {
        need: 70_000,
        max: 65_535,
    };
    assert_eq!(big.reset_network_header().unwrap_err(), err);
    assert_eq!(big.reset_mac_header().unwrap_err(), err);
    assert_eq!(big.reset_transport_header().unwrap_err(), err);
    assert_eq!(big.network_header(), None);
}

#[test]
fn trim_linear_and_across_frag_list() {
    let mut s = frag_skb(b"head", &[b"one", b"two", b"three"], 0);
    s.trim(100);
    assert_eq!(bytes(&s), b"headonetwothree");
    s.trim(15);
    assert_eq!(s.len(), 15);
    s.trim(12); // inside the last piece
    assert_eq!(bytes(&s), b"headonetwoth");
    assert_eq!(s.frag_list.len(), 3);
    s.trim(10); // at a piece boundary: the emptied piece is dropped
    assert_eq!(bytes(&s), b"headonetwo");
    assert_eq!(s.frag_list.len(), 2);
    s.trim(5);
    assert_eq!(bytes(&s), b"heado");
    assert_eq!(s.frag_list.len(), 1);
    s.trim(4); // exactly the linear part
    assert_eq!(bytes(&s), b"head");
    assert!(!s.is_nonlinear());
    let mut s = frag_skb(b"head", &[b"one"], 0);
    s.trim(1); // into the linear part
    assert_eq!(bytes(&s), b"h");
    assert!(s.frag_list.is_empty());
    s.trim(0);
    assert!(s.is_empty());
    s.trim(usize::MAX);
    assert!(s.is_empty());
    // Nested pieces are trimmed too.
    let mut s = frag_skb(b"a", &[b"b"], 0);
    s.frag_list
        .update(|f| f[0].frag_list.push(skb(0, b"cde", 0)));
    s.trim(4);
    assert_eq!(bytes(&s), b"abcd");
    assert_eq!(s.len(), 4);
}

#[test]
fn copy_bits_crosses_the_frag_list() {
    let mut pool = SkbPool::new(64, 8);
    let mut s = pool.alloc(0, 4).unwrap();
    s.put_slice(&[0, 1, 2, 3]).unwrap();
    for piece in [&[4u8, 5, 6][..], &[7, 8]] {
        let mut f = pool.alloc(0, piece.len()).unwrap();
        f.put_slice(piece).unwrap();
        s.frag_list.push(f);
    }
    let mut out = [0u8; 5];
    s.copy_bits(2, &mut out).unwrap();
    assert_eq!(out, [2, 3, 4, 5, 6]);
    s.copy_bits(4, &mut out).unwrap();
    assert_eq!(out, [4, 5, 6, 7, 8]);
    assert!(s.copy_bits(5, &mut out).is_err());
    let mut all = Vec::new();
    s.for_each_chunk(&mut |c| all.extend_from_slice(c));
    assert_eq!(all, (0..9).collect::<Vec<u8>>());
}

#[test]
fn chunks_walk_nested_pieces_in_order() {
    let linear = skb(4, b"abc", 2);
    assert_eq!(linear.chunks().collect::<Vec<_>>(), [&b"abc"[..]]);
    assert!(matches!(
        linear.to_contiguous(),
        std::borrow::Cow::Borrowed(b"abc")
    ));
    // A piece with pieces of its own: its data, then theirs, then the next piece.
    let mut s = frag_skb(b"h", &[b"1", b"4"], 0);
    s.frag_list
        .update(|f| f[0].frag_list = [skb(0, b"2", 0), skb(0, b"3", 0)].into_iter().collect());
    let chunks: Vec<&[u8]> = s.chunks().collect();
    assert_eq!(chunks, [&b"h"[..], b"1", b"2", b"3", b"4"]);
    let mut walked = Vec::new();
    s.for_each_chunk(&mut |c| walked.push(c.to_vec()));
    assert_eq!(walked, chunks);
    assert_eq!(&*s.to_contiguous(), b"h1234");
    assert_eq!(s.to_contiguous().into_owned(), bytes(&s));
}

#[test]
fn linearize_in_place() {
    let mut pool = SkbPool::new(64, 8);
    let mut s = frag_skb(b"head", &[b"one", b"two"], 6);
    s.linearize(&mut pool).unwrap();
    assert!(!s.is_nonlinear());
    assert_eq!(s.data(), b"headonetwo");
    assert_eq!((s.headroom(), s.tailroom()), (4, 0));
    // The pieces were small, so the pool does not keep them; nothing was allocated.
    assert_eq!(pool.stats(), PoolStats::default());
    // Already linear: nothing happens.
    s.linearize(&mut pool).unwrap();
    assert_eq!(s.data(), b"headonetwo");
}

#[test]
fn linearize_grows_and_keeps_headers() {
    let mut pool = SkbPool::new(64, 8);
    let mut s = skb(6, b"EHIPhdUDpay", 1);
    s.pull(2).unwrap();
    s.reset_network_header().unwrap();
    s.set_transport_header(4).unwrap();
    s.ip_summed = ChecksumState::Partial {
        csum_start: 12,
        csum_offset: 6,
    };
    s.mark = 7;
    let mut piece = skb(0, b"load", 0);
    piece.frag_list.push(skb(3, b"!!", 0));
    s.frag_list.push(piece);
    s.frag_list.push(skb(0, b"?", 0));
    s.linearize(&mut pool).unwrap();
    assert_eq!(s.data(), b"IPhdUDpayload!!?");
    assert_eq!(s.headroom(), 8);
    assert_eq!(s.transport_header_bytes().unwrap(), b"UDpayload!!?");
    // The pulled link-layer header is still in the headroom.
    assert_eq!(&s.network_header_bytes().unwrap()[..4], b"IPhd");
    s.push(2).unwrap();
    assert_eq!(&s.data()[..2], b"EH");
    assert_eq!(s.mark, 7);
    assert!(matches!(s.ip_summed, ChecksumState::Partial { .. }));
    assert_eq!(pool.stats().fresh, 1);
}

#[test]
fn linearize_too_large_changes_nothing() {
    let mut pool = SkbPool::new(64, 8);
    let mut s = skb(0, b"x", 0);
    s.frag_list.push(SkBuff::new(0, SKB_MAX_ALLOC).unwrap());
    s.frag_list
        .update(|f| f[0].put(SKB_MAX_ALLOC).map(|_| ()))
        .unwrap();
    assert_eq!(
        s.linearize(&mut pool).unwrap_err(),
        SkbError::TooLarge {
            need: SKB_MAX_ALLOC + 1,
            max: SKB_MAX_ALLOC
        }
    );
    assert_eq!(s.len(), SKB_MAX_ALLOC + 1);
    assert_eq!(s.data(), b"x");
}

#[test]
fn clone_is_a_deep_copy() {
    let mut a = frag_skb(b"head", &[b"frag"], 4);
    a.reset_network_header().unwrap();
    a.priority = 3;
    let mut b = a.clone();
    b.data_mut()[0] = b'H';
    b.frag_list.update(|f| f[0].data_mut()[0] = b'F');
    b.push(4).unwrap().copy_from_slice(b"more");
    assert_eq!(bytes(&a), b"headfrag");
    assert_eq!(bytes(&b), b"moreHeadFrag");
    assert_eq!(b.network_header_bytes().unwrap(), b"Head");
    assert_eq!((b.priority, b.network_header()), (3, a.network_header()));
}

#[test]
fn pool_reuses_and_resets_metadata() {
    let mut pool = SkbPool::new(256, 4);
    let mut s = pool.alloc(32, 100).unwrap();
    assert_eq!((s.headroom(), s.len()), (32, 0));
    assert!(s.tailroom() >= 100);
    s.put_slice(b"stale").unwrap();
    s.reset_network_header().unwrap();
    s.set_transport_header(2).unwrap();
    s.reset_mac_header().unwrap();
    s.mark = 1;
    s.priority = 2;
    s.iif = 3;
    s.tstamp = Instant::from_secs(4);
    s.pkt_type = PacketType::OtherHost;
    s.ip_summed = ChecksumState::Complete(0x1234);
    s.gso = Some(GsoInfo {
        size: 1400,
        gso_type: GsoType::UDP_L4,
        segs: 3,
    });
    s.cb.flags = IpSkbFlags::FORWARDED;
    s.cb.frag_max_size = 576;
    s.cb.opt.layout.optlen = 4;
    s.frag_list.push(pool.alloc(0, 10).unwrap());
    assert_eq!(
        pool.stats(),
        PoolStats {
            fresh: 2,
            reused: 0
        }
    );
    pool.recycle(s);
    assert_eq!(pool.free_len(), 2);

    let t = pool.alloc(16, 200).unwrap();
    assert_fresh(&t);
    assert_eq!((t.headroom(), t.tailroom()), (16, 240));
    let u = pool.alloc(0, 0).unwrap();
    assert_fresh(&u);
    assert_eq!(
        pool.stats(),
        PoolStats {
            fresh: 2,
            reused: 2
        }
    );
    assert_eq!(pool.free_len(), 0);
}

#[test]
fn pool_copy_is_a_clone_in_a_pooled_buffer() {
    let mut pool = SkbPool::new(256, 4);
    let mut s = pool.alloc(40, 100).unwrap();
    s.put_slice(b"0123456789abcdefghij payload").unwrap();
    s.reset_mac_header().unwrap();
    s.pull(14).unwrap();
    s.reset_network_header().unwrap();
    s.set_transport_header(4).unwrap();
    s.iif = 7;
    s.mark = 8;
    s.priority = 9;
    s.ignore_df = true;
    s.tstamp = Instant::from_secs(5);
    s.pkt_type = PacketType::Multicast;
    s.ip_summed = ChecksumState::Complete(0x4321);
    s.cb.flags = IpSkbFlags::FORWARDED;
    let spare = pool.alloc(0, 10).unwrap();
    pool.recycle(spare);
    let mut c = pool.copy(&s);
    assert_eq!(pool.stats().reused, 1, "the pooled buffer, no allocation");
    assert_eq!(pool.free_len(), 0);
    let want = s.clone();
    for x in [&c, &want] {
        assert_eq!(x.data(), s.data());
        assert_eq!(x.headroom(), s.headroom());
        assert_eq!(
            (x.mac_header(), x.network_header(), x.transport_header()),
            (s.mac_header(), s.network_header(), s.transport_header())
        );
        assert_eq!(x.mac_header_bytes(), s.mac_header_bytes());
        assert_eq!((x.iif, x.mark, x.priority, x.ignore_df), (7, 8, 9, true));
        assert_eq!(
            (x.tstamp, x.pkt_type, x.ip_summed),
            (s.tstamp, s.pkt_type, s.ip_summed)
        );
        assert_eq!(x.cb, s.cb);
    }
    // A private copy: writing it leaves the original alone.
    c.data_mut()[0] = b'X';
    assert_eq!(&s.data()[..1], b"e");
    // A frag_list packet, or an empty pool: a plain clone.
    let f = frag_skb(b"head", &[b"one", b"two"], 0);
    let fc = pool.copy(&f);
    assert_eq!(bytes(&fc), b"headonetwo");
    let sc = pool.copy(&s);
    assert_eq!(sc.data(), s.data());
    assert_eq!(pool.stats().reused, 1);
}

#[test]
fn pool_bounds() {
    let mut pool = SkbPool::new(100, 2);
    assert!(pool.alloc(usize::MAX, 1).is_err());
    assert!(pool.alloc(1, SKB_MAX_ALLOC).is_err());
    // Larger requests are allocated exactly.
    let big = pool.alloc(10, 140).unwrap();
    assert_eq!(big.tailroom(), 140);
    let huge = pool.alloc(0, 1000).unwrap();
    // Kept only up to twice the standard size.
    pool.recycle(big);
    pool.recycle(huge);
    assert_eq!(pool.free_len(), 1);
    // A big-enough free buffer serves a large request.
    let again = pool.alloc(0, 150).unwrap();
    assert_eq!(again.tailroom(), 150);
    assert_eq!(
        pool.stats(),
        PoolStats {
            fresh: 2,
            reused: 1
        }
    );
    // Buffers smaller than the standard size are not kept.
    pool.recycle(SkBuff::new(0, 50).unwrap());
    assert_eq!(pool.free_len(), 0);
    // At most max_free buffers.
    let several: Vec<_> = (0..5).map(|_| pool.alloc(0, 10).unwrap()).collect();
    for s in several {
        pool.recycle(s);
    }
    assert_eq!(pool.free_len(), 2);
    // A pool that keeps nothing still works.
    let mut none = SkbPool::new(usize::MAX, 0);
    let s = none.alloc(0, 1).unwrap();
    assert_eq!(s.tailroom(), SKB_MAX_ALLOC);
    none.recycle(s);
    assert_eq!(none.free_len(), 0);
}

#[test]
fn steady_state_does_not_allocate() {
    let mut pool = SkbPool::new(2048, 64);
    let mut in_flight = Vec::new();
    for _ in 0..32 {
        in_flight.push(pool.alloc(128, 1500).unwrap());
    }
    for s in in_flight.drain(..) {
        pool.recycle(s);
    }
    let warm = pool.stats().fresh;
    for i in 0..10_000usize {
        let mut s = pool.alloc(128, 1500).unwrap();
        s.put(i % 1500).unwrap();
        s.push(20).unwrap();
        in_flight.push(s);
        if in_flight.len() > 16 {
            pool.recycle(in_flight.remove(0));
        }
    }
    assert_eq!(pool.stats().fresh, warm);
    assert!(pool.stats().reused >= 10_000);
}

#[test]
fn flags_names_values_and_ops() {
    // Linux SKB_GSO_* and IPSKB_* bit values.
    assert_eq!(GsoType::TCPV4.bits(), 1);
    assert_eq!(GsoType::TCPV6.bits(), 1 << 4);
    assert_eq!(GsoType::UDP.bits(), 1 << 16);
    assert_eq!(GsoType::UDP_L4.bits(), 1 << 17);
    assert_eq!(GsoType::FRAGLIST.bits(), 1 << 18);
    assert_eq!(IpSkbFlags::FRAG_PMTU.bits(), 1 << 6);
    assert_eq!(IpSkbFlags::MULTIPATH.bits(), 1 << 9);
    let mut t = GsoType::TCPV4 | GsoType::DODGY;
    assert!(t.contains(GsoType::TCPV4) && t.intersects(GsoType::DODGY | GsoType::UDP));
    assert!(!t.contains(GsoType::TCPV4 | GsoType::TCP_ECN));
    assert_eq!(format!("{t:?}"), "TCPV4 | DODGY");
    t.remove(GsoType::DODGY);
    t |= GsoType::TCP_ECN;
    t.insert(GsoType::TCP_FIXEDID);
    assert_eq!(t & GsoType::TCP_ECN, GsoType::TCP_ECN);
    assert_eq!(format!("{t:?}"), "TCPV4 | TCP_ECN | TCP_FIXEDID");
    assert_eq!(format!("{:?}", GsoType::empty()), "(empty)");
    assert!(GsoType::default().is_empty());
    assert_eq!(
        format!("{:?}", GsoType::from_bits_retain(1 << 17 | 1 << 30)),
        "UDP_L4 | 0x40000000"
    );
    assert_eq!(
        format!("{:?}", IpSkbFlags::FORWARDED | IpSkbFlags::DOREDIRECT),
        "FORWARDED | DOREDIRECT"
    );
}

#[test]
fn packet_type_values_and_error_display() {
    assert_eq!(PacketType::Host as u8, 0);
    assert_eq!(PacketType::OtherHost as u8, 3);
    assert_eq!(PacketType::Loopback as u8, 5);
    assert_eq!(
        SkbError::NoHeadroom { need: 4, have: 2 }.to_string(),
        "no headroom: need 4 bytes, have 2"
    );
    assert_eq!(
        SkbError::NoTailroom { need: 4, have: 2 }.to_string(),
        "no tailroom: need 4 bytes, have 2"
    );
    assert_eq!(
        SkbError::TooShort { need: 20, have: 8 }.to_string(),
        "packet too short: need 20 bytes, have 8"
    );
    assert_eq!(SkbError::NotEmpty.to_string(), "buffer is not empty");
    assert_eq!(
        SkbError::TooLarge { need: 9, max: 8 }.to_string(),
        "too large: 9 bytes, max 8"
    );
    let e: &dyn std::error::Error = &SkbError::NotEmpty;
    assert!(e.source().is_none());
}

/// Any argument, including huge ones, on any state: an error or a consistent result.
#[derive(Debug, Clone)]
enum Op {
    Push(usize),
    Pull(usize),
    Put(usize),
    Reserve(usize),
    Trim(usize),
    SetNetwork(usize),
    ResetTransport,
    AddFrag(usize),
    Linearize,
}

fn arg() -> impl Strategy<Value = usize> {
    prop_oneof![0usize..80, Just(usize::MAX), any::<usize>()]
}

proptest! {
    #[test]
    fn ops_never_panic(
        headroom in 0usize..64,
        size in 0usize..128,
        ops in proptest::collection::vec(
            prop_oneof![
                arg().prop_map(Op::Push),
                arg().prop_map(Op::Pull),
                arg().prop_map(Op::Put),
                arg().prop_map(Op::Reserve),
                arg().prop_map(Op::Trim),
                arg().prop_map(Op::SetNetwork),
                Just(Op::ResetTransport),
                (0usize..40).prop_map(Op::AddFrag),
                Just(Op::Linearize),
            ],
            0..40,
        ),
    ) {
        let mut pool = SkbPool::new(128, 4);
        let mut s = SkBuff::new(headroom, size).unwrap();
        for op in ops {
            let (before_len, before_room) = (s.len(), s.headroom());
            let capacity_before = s.headroom() + s.headlen() + s.tailroom();
            let grows = matches!(op, Op::Linearize);
            match op {
                Op::Push(n) => match s.push(n) {
                    Ok(b) => prop_assert_eq!(b.len(), n),
                    Err(_) => prop_assert_eq!(s.headroom(), before_room),
                },
                Op::Pull(n) => match s.pull(n) {
                    Ok(b) => prop_assert_eq!(b.len(), n),
                    Err(_) => prop_assert_eq!(s.len(), before_len),
                },
                Op::Put(n) => {
                    let ok = s.put(n).is_ok();
                    prop_assert_eq!(s.len(), if ok { before_len + n } else { before_len });
                }
                Op::Reserve(n) => {
                    let _ = s.reserve(n);
                }
                Op::Trim(n) => {
                    s.trim(n);
                    prop_assert_eq!(s.len(), before_len.min(n));
                }
                Op::SetNetwork(n) => {
                    if s.set_network_header(n).is_ok() {
                        prop_assert_eq!(s.network_offset(), Some(n as isize));
                        prop_assert_eq!(s.network_header_bytes().unwrap().len(), s.headlen() - n);
                    }
                }
                Op::ResetTransport => {
                    s.reset_transport_header().unwrap();
                    prop_assert_eq!(s.transport_header_bytes().unwrap(), s.data());
                }
                Op::AddFrag(n) => {
                    let mut f = pool.alloc(3, n).unwrap();
                    f.put(n).unwrap();
                    s.frag_list.push(f);
                    prop_assert_eq!(s.len(), before_len + n);
                }
                Op::Linearize => {
                    let before = bytes(&s);
                    s.linearize(&mut pool).unwrap();
                    prop_assert!(!s.is_nonlinear());
                    prop_assert_eq!(s.data(), &before[..]);
                }
            }
            // Only linearize may swap in a bigger buffer; nothing ever shrinks it.
            let capacity_now = s.headroom() + s.headlen() + s.tailroom();
            prop_assert!(capacity_now >= capacity_before);
            if !grows {
                prop_assert_eq!(capacity_now, capacity_before);
            }
            if let Some(h) = s.network_header_bytes() {
                prop_assert!(h.len() <= s.headroom() + s.headlen());
            }
        }
    }
}
