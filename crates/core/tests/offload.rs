//! GSO, GRO and checksum offload: segmentation round trips for TCP and UDP at random
//! MSS values, every TCP segment's fields checked with etherparse, GRO followed by GSO
//! through a router being the identity, UDP_GRO delivery, GSO-aware forwarding, and
//! untrusted virtio-net metadata.

mod common;

use common::*;
use proptest::prelude::*;
use skiff_core::netdev::NetdevFeatures;
use skiff_core::offload::{ETH_P_IP, GsoCtx, Offloads, skb_checksum_help, skb_gso_segment};
use skiff_core::skb::{ChecksumState, GsoInfo, GsoType, SkBuff, SkbPool};
use skiff_core::socket::*;
use skiff_wire::Ipv4Addr;
use skiff_wire::virtio::{VirtioGsoType, VirtioNetHdrRepr};
use std::net::SocketAddrV4;

const CWR: u8 = 0x80;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;
const FIN: u8 = 0x01;

/// An IPv4 header (ID `id`, DF as given) for `protocol` with `l4` after it.
fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, id: u16, df: bool, l4: &[u8]) -> Vec<u8> {
    let mut p = Ip::new(src, dst, protocol, l4.to_vec());
    p.ident = id;
    p.df = df;
    p.frame()[14..].to_vec()
}

/// A TCP header, checksum left 0.
fn tcp_hdr(seq: u32, flags: u8, options: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 20];
    h[0..2].copy_from_slice(&40000u16.to_be_bytes());
    h[2..4].copy_from_slice(&80u16.to_be_bytes());
    h[4..8].copy_from_slice(&seq.to_be_bytes());
    h[8..12].copy_from_slice(&777u32.to_be_bytes());
    h[12] = (((20 + options.len()) / 4) as u8) << 4;
    h[13] = flags;
    h[14..16].copy_from_slice(&502u16.to_be_bytes());
    h.extend_from_slice(options);
    h
}

/// A GSO packet (`data` at the IP header): `headers` then `payload`, whose first
/// `linear` bytes are in the head and the rest in pieces of `piece` bytes.
fn gso_skb(headers: &[u8], payload: &[u8], linear: usize, piece: usize, gso: GsoInfo) -> SkBuff {
    let linear = linear.min(payload.len());
    let mut skb = SkBuff::new(64, headers.len() + linear).unwrap();
    skb.put_slice(headers).unwrap();
    skb.put_slice(&payload[..linear]).unwrap();
    for chunk in payload[linear..].chunks(piece.max(1)) {
        let mut p = SkBuff::new(128, chunk.len()).unwrap();
        p.put_slice(chunk).unwrap();
        skb.frag_list.push(p);
    }
    skb.reset_network_header().unwrap();
    skb.gso = Some(gso);
    skb
}

fn segment(skb: SkBuff, features: NetdevFeatures) -> Vec<SkBuff> {
    let offloads = Offloads::default();
    let mut pool = SkbPool::new(2048, 64);
    let mut ctx = GsoCtx {
        offloads: &offloads,
        pool: &mut pool,
        features,
    };
    skb_gso_segment(&mut ctx, skb, ETH_P_IP).expect("segments")
}

/// A segment's bytes with its checksum finished (as the device would).
fn wire(mut seg: SkBuff) -> Vec<u8> {
    if matches!(seg.ip_summed, ChecksumState::Partial { .. }) {
        skb_checksum_help(&mut seg).unwrap();
    }
    let mut v = Vec::new();
    seg.for_each_chunk(&mut |c| v.extend_from_slice(c));
    v
}

/// Parses an IPv4 packet with etherparse, checking the header checksum and length.
fn parse_ip(d: &[u8]) -> (etherparse::Ipv4Header, &[u8]) {
    let (ip, rest) = etherparse::Ipv4Header::from_slice(d).unwrap();
    assert_eq!(ip.header_checksum, ip.calc_header_checksum(), "IP checksum");
    assert_eq!(usize::from(ip.total_len), d.len(), "tot_len");
    (ip, rest)
}

/// The L4 checksum Linux puts on the wire for one whose RFC 1071 value is `computed`:
/// a `CHECKSUM_PARTIAL` packet finished by skb_checksum_help() (net/core/dev.c) stores
/// `csum_fold(csum) ?: CSUM_MANGLED_0`, 0xffff for a computed 0, whatever the protocol;
/// TCP's gso_make_checksum() (tcp_gso_segment()) stores the fold as it is.
fn linux_wire_csum(computed: u16, partial: bool) -> u16 {
    if partial && computed == 0 {
        0xffff
    } else {
        computed
    }
}

fn tcp_case(
    payload: &[u8],
    mss: u16,
    flags: u8,
    linear: usize,
    piece: usize,
    features: NetdevFeatures,
) {
    let seq0 = 0xfffff000u32; // wraps within the stream
    let opts = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]; // NOP NOP timestamps
    let hdr = ipv4(ME, PEER, 6, 100, true, &tcp_hdr(seq0, flags, &opts));
    let gso = GsoInfo {
        size: mss,
        gso_type: GsoType::TCPV4,
        segs: 0,
    };
    let segs = segment(gso_skb(&hdr, payload, linear, piece, gso), features);
    let n = payload.len().div_ceil(usize::from(mss)).max(1);
    assert_eq!(segs.len(), n);
    let mut stream = Vec::new();
    for (i, seg) in segs.into_iter().enumerate() {
        let partial = matches!(seg.ip_summed, ChecksumState::Partial { .. });
        assert_eq!(partial, features.contains(NetdevFeatures::HW_CSUM));
        let bytes = wire(seg);
        let (ip, rest) = parse_ip(&bytes);
        assert_eq!(ip.identification, 100 + i as u16, "IDs advance per segment");
        assert!(ip.dont_fragment);
        let (tcp, data) = etherparse::TcpHeader::from_slice(rest).unwrap();
        assert_eq!(
            tcp.sequence_number,
            seq0.wrapping_add((i * usize::from(mss)) as u32)
        );
        assert_eq!(tcp.cwr, flags & CWR != 0 && i == 0, "CWR on the first only");
        let last = i + 1 == n;
        assert_eq!(tcp.fin, flags & FIN != 0 && last, "FIN on the last only");
        assert_eq!(tcp.psh, flags & PSH != 0 && last, "PSH on the last only");
        assert!(tcp.ack);
        assert_eq!(tcp.options.as_slice(), &opts);
        let computed = tcp.calc_checksum_ipv4(&ip, data).unwrap();
        assert_eq!(tcp.checksum, linux_wire_csum(computed, partial));
        assert!(data.len() <= usize::from(mss));
        stream.extend_from_slice(data);
    }
    assert!(stream == payload, "the segments rebuild the stream");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// TCP: segment, then put the stream back together by sequence number.
    #[test]
    fn tcp_segment_round_trip(
        len in 1usize..20000,
        mss in 1u16..2000,
        cwr in any::<bool>(), psh in any::<bool>(), fin in any::<bool>(),
        linear in 0usize..3000,
        piece in 1usize..3000,
        hw in any::<bool>(),
    ) {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 + i / 256) as u8).collect();
        let flags = ACK | if cwr { CWR } else { 0 } | if psh { PSH } else { 0 } | if fin { FIN } else { 0 };
        let features = if hw { NetdevFeatures::HW_CSUM } else { NetdevFeatures::default() };
        tcp_case(&payload, mss, flags, linear, piece, features);
    }

    /// UDP_L4: the segments reach a UDP socket as datagrams that rebuild the payload.
    #[test]
    fn udp_segment_round_trip(
        len in 2usize..20000,
        mss in 1u16..1472,
        linear_is_mss in any::<bool>(),
        piece in 1usize..3000,
        hw in any::<bool>(),
    ) {
        let mss = mss.min(len as u16 - 1).max(1);
        let payload: Vec<u8> = (0..len).map(|i| (i * 13) as u8).collect();
        let mut uh = udp(PEER, ME, 5000, 9000, &[]);
        uh[4..6].copy_from_slice(&((8 + len) as u16).to_be_bytes());
        let hdr = ipv4(PEER, ME, 17, 7, false, &uh);
        let gso = GsoInfo { size: mss, gso_type: GsoType::UDP_L4, segs: 0 };
        // The aligned geometry (as UDP_SEGMENT builds it) moves pieces; others copy.
        let (linear, piece) = if linear_is_mss { (usize::from(mss), usize::from(mss)) } else { (len / 3, piece) };
        let features = if hw { NetdevFeatures::HW_CSUM } else { NetdevFeatures::default() };
        let segs = segment(gso_skb(&hdr, &payload, linear, piece, gso), features);
        prop_assert_eq!(segs.len(), len.div_ceil(usize::from(mss)));
        let mut h = Host::new(false);
        let rx = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
        h.s.bind(rx, SocketAddrV4::new(ME, 9000).into()).unwrap();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        for (i, seg) in segs.into_iter().enumerate() {
            let bytes = wire(seg);
            let (ip, rest) = parse_ip(&bytes);
            prop_assert_eq!(ip.identification, 7 + i as u16);
            let (u, data) = etherparse::UdpHeader::from_slice(rest).unwrap();
            prop_assert_eq!(usize::from(u.length), 8 + data.len());
            prop_assert_eq!(u.checksum, u.calc_checksum_ipv4(&ip, data).unwrap());
            let mut f = vec![0u8; 14];
            f[..6].copy_from_slice(&MAC0.0);
            f[12] = 8;
            f.extend_from_slice(&bytes);
            h.rx(h.eth0, &f);
            let (n, _) = h.s.recv_from(rx, &mut buf, MSG_DONTWAIT).unwrap();
            prop_assert!(n <= usize::from(mss));
            got.extend_from_slice(&buf[..n]);
        }
        prop_assert!(got == payload, "the datagrams rebuild the payload");
        prop_assert_eq!(h.mib("UdpInCsumErrors"), 0);
    }
}

/// Segments of a TCP (`udp` false) or UDP_L4 GSO packet of two 64-byte segments whose
/// second one's checksum computes to 0, put on the wire by a device with `features`:
/// (the checksum field, etherparse's RFC 1071 value). The word at payload[64..66] is
/// set to the checksum it had at 0, so the segment's one's-complement sum is 0xffff.
fn zero_sum_segment(udp_l4: bool, features: NetdevFeatures) -> (u16, u16) {
    let build = |payload: &[u8], features: NetdevFeatures| {
        let (hdr, gso_type) = if udp_l4 {
            let mut uh = udp(PEER, ME, 5000, 9000, &[]);
            uh[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
            (ipv4(PEER, ME, 17, 7, false, &uh), GsoType::UDP_L4)
        } else {
            let th = tcp_hdr(1000, ACK, &[]);
            (ipv4(ME, PEER, 6, 100, true, &th), GsoType::TCPV4)
        };
        let gso = GsoInfo {
            size: 64,
            gso_type,
            segs: 0,
        };
        let mut segs = segment(gso_skb(&hdr, payload, 30, 50, gso), features);
        assert_eq!(segs.len(), 2);
        let partial = matches!(segs[1].ip_summed, ChecksumState::Partial { .. });
        assert_eq!(partial, features.contains(NetdevFeatures::HW_CSUM));
        let bytes = wire(segs.remove(1));
        let (ip, rest) = parse_ip(&bytes);
        if udp_l4 {
            let (u, data) = etherparse::UdpHeader::from_slice(rest).unwrap();
            (u.checksum, u.calc_checksum_ipv4(&ip, data).unwrap())
        } else {
            let (t, data) = etherparse::TcpHeader::from_slice(rest).unwrap();
            (t.checksum, t.calc_checksum_ipv4(&ip, data).unwrap())
        }
    };
    let mut payload: Vec<u8> = (0..128u32).map(|i| (i * 29 + 3) as u8).collect();
    payload[64..66].fill(0);
    let (_, c) = build(&payload, NetdevFeatures::default());
    payload[64..66].copy_from_slice(&c.to_be_bytes());
    build(&payload, features)
}

/// The zero edge of the one's-complement checksum, as Linux writes it: TCP segmented
/// in software keeps the computed 0 (gso_make_checksum()); a CHECKSUM_PARTIAL segment
/// finished by skb_checksum_help() gets CSUM_MANGLED_0 (0xffff); UDP never sends 0.
#[test]
fn l4_checksum_zero_edge() {
    let sw = NetdevFeatures::default();
    let hw = NetdevFeatures::HW_CSUM;
    // TCP's RFC 1071 value is 0 here: the edge is hit.
    assert_eq!(
        zero_sum_segment(false, sw),
        (0x0000, 0x0000),
        "TCP, software GSO"
    );
    assert_eq!(
        zero_sum_segment(false, hw),
        (0xffff, 0x0000),
        "TCP, skb_checksum_help"
    );
    // etherparse maps UDP's 0 to 0xffff itself (RFC 768).
    assert_eq!(
        zero_sum_segment(true, sw),
        (0xffff, 0xffff),
        "UDP, software GSO"
    );
    assert_eq!(
        zero_sum_segment(true, hw),
        (0xffff, 0xffff),
        "UDP, skb_checksum_help"
    );
}

/// UFO: one datagram cut into IP fragments (offsets, MF, one ID) that a receiver
/// reassembles into the datagram with a valid checksum.
#[test]
fn ufo_fragments_reassemble() {
    let payload: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    let mut uh = udp(PEER, ME, 5000, 9000, &[]);
    uh[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    let hdr = ipv4(PEER, ME, 17, 9, false, &uh);
    let gso = GsoInfo {
        size: 1000,
        gso_type: GsoType::UDP,
        segs: 0,
    };
    let segs = segment(
        gso_skb(&hdr[..20], &[&uh[..], &payload].concat(), 500, 700, gso),
        NetdevFeatures::default(),
    );
    assert_eq!(segs.len(), 5008usize.div_ceil(1000));
    let mut h = Host::new(false);
    let rx = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    h.s.bind(rx, SocketAddrV4::new(ME, 9000).into()).unwrap();
    let n = segs.len();
    for (i, seg) in segs.into_iter().enumerate() {
        let bytes = wire(seg);
        let (ip, _) = parse_ip(&bytes);
        assert_eq!(ip.identification, 9);
        assert_eq!(ip.more_fragments, i + 1 < n);
        assert_eq!(usize::from(ip.fragment_offset.value()) * 8, i * 1000);
        let mut f = vec![0u8; 14];
        f[..6].copy_from_slice(&MAC0.0);
        f[12] = 8;
        f.extend_from_slice(&bytes);
        h.rx(h.eth0, &f);
    }
    let mut buf = vec![0u8; 8000];
    let (len, _) = h.s.recv_from(rx, &mut buf, 0).unwrap();
    assert_eq!(&buf[..len], &payload[..]);
}

/// Frames carrying `l4` segments from PEER to PEER1 through the router, as a batch.
fn tcp_stream(n: usize, mss: usize, last: usize, first_id: u16) -> (Vec<Vec<u8>>, Vec<u8>) {
    tcp_stream_ids(n, mss, last, true, |i| first_id.wrapping_add(i as u16))
}

fn tcp_stream_ids(
    n: usize,
    mss: usize,
    last: usize,
    df: bool,
    id: impl Fn(usize) -> u16,
) -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut frames = Vec::new();
    let mut stream = Vec::new();
    let mut seq = 1000u32;
    for i in 0..n {
        let len = if i + 1 == n { last } else { mss };
        let data: Vec<u8> = (0..len).map(|j| (i * 31 + j) as u8).collect();
        let flags = ACK | if i + 1 == n { PSH } else { 0 };
        let mut seg = tcp_hdr(seq, flags, &[1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6]);
        seg.extend_from_slice(&data);
        let c = skiff_wire::tcp::tcp_v4_check(
            seg.len() as u32,
            PEER,
            PEER1,
            skiff_wire::checksum::csum_partial(&seg, 0),
        );
        seg[16..18].copy_from_slice(&c.to_be_bytes());
        let mut p = Ip::new(PEER, PEER1, 6, seg);
        p.ident = id(i);
        p.df = df;
        frames.push(p.frame());
        stream.extend_from_slice(&data);
        seq = seq.wrapping_add(len as u32);
    }
    (frames, stream)
}

fn rx_list(h: &mut Host, dev: u32, frames: &[Vec<u8>]) {
    let skbs = frames
        .iter()
        .map(|f| {
            let mut skb = h.s.alloc_skb(f.len()).unwrap();
            skb.put_slice(f).unwrap();
            skb
        })
        .collect();
    h.s.netif_receive_list(h.now, dev, skbs);
}

/// The IP packet of a frame with the TTL put back and the header checksum refilled:
/// what the router received.
fn unforwarded(frame: &[u8]) -> Vec<u8> {
    let mut p = frame[14..].to_vec();
    p[8] += 1;
    p[10..12].fill(0);
    let c = skiff_wire::checksum::ip_fast_csum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// GRO on the way in, GSO on the way out: the router forwards one merged packet and
    /// the segments it sends are the packets it received, byte for byte.
    #[test]
    fn gro_then_gso_is_the_identity(n in 2usize..30, mss in 100usize..1300, last in 1usize..1300, id in any::<u16>()) {
        let last = last.min(mss);
        let (frames, _) = tcp_stream(n, mss, last, id);
        let mut h = Host::new(true);
        let eth0 = h.eth0;
        rx_list(&mut h, eth0, &frames);
        let out: Vec<Vec<u8>> = h.tx().into_iter().filter(|(d, _)| *d == h.eth1).map(|(_, f)| f).collect();
        prop_assert_eq!(h.mib("IpForwDatagrams"), 1, "one merged packet forwarded");
        prop_assert_eq!(out.len(), n);
        for (got, sent) in out.iter().zip(&frames) {
            prop_assert_eq!(unforwarded(got), sent[14..].to_vec());
        }
    }
}

/// What breaks a TCP flow in GRO: a missing segment, a changed option, a SYN. Each
/// packet still arrives once and in order.
#[test]
fn tcp_gro_flushes_on_gaps_and_flag_changes() {
    let (mut frames, _) = tcp_stream(6, 1000, 1000, 50);
    frames.remove(2); // a gap: the segments after it start a new flow
    let mut h = Host::new(true);
    let eth0 = h.eth0;
    rx_list(&mut h, eth0, &frames);
    let out: Vec<Vec<u8>> = h.tx().into_iter().map(|(_, f)| f).collect();
    assert_eq!(h.mib("IpForwDatagrams"), 2, "two runs merged");
    assert_eq!(out.len(), 5);
    // IDs 50, 51 | 53, 54, 55: the gap also breaks the ID run, so both rules agree.
    for (got, sent) in out.iter().zip(&frames) {
        assert_eq!(unforwarded(got), sent[14..].to_vec());
    }
}

/// UDP_GRO: a socket that asked for it reads the datagrams of a poll as one, with the
/// segment size; a socket that did not reads them one by one.
#[test]
fn udp_gro_socket_reads_one_coalesced_datagram() {
    for gro in [true, false] {
        let mut h = Host::new(false);
        let rx = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
        h.s.bind(rx, SocketAddrV4::new(ME, 9000).into()).unwrap();
        h.s.setsockopt(rx, SockOpt::UdpGro(gro)).unwrap();
        let mut frames = Vec::new();
        let mut all = Vec::new();
        for i in 0..6u16 {
            let data = vec![i as u8; if i == 5 { 300 } else { 1000 }];
            let mut p = Ip::udp(PEER, ME, 9000, &data);
            p.ident = 10 + i;
            frames.push(p.frame());
            all.extend_from_slice(&data);
        }
        let eth0 = h.eth0;
        rx_list(&mut h, eth0, &frames);
        let mut buf = vec![0u8; 65536];
        let mut reads = Vec::new();
        while let Ok(m) = h.s.recvmsg(rx, &mut buf, MSG_DONTWAIT) {
            reads.push((buf[..m.len].to_vec(), m.cmsgs.gso_size));
        }
        if gro {
            assert_eq!(reads.len(), 1);
            assert_eq!(reads[0].0, all);
            assert_eq!(reads[0].1, Some(1000));
            assert_eq!(h.mib("UdpInDatagrams"), 1);
        } else {
            assert_eq!(reads.len(), 6);
            assert!(reads.iter().all(|r| r.1.is_none()));
            let joined: Vec<u8> = reads.iter().flat_map(|r| r.0.clone()).collect();
            assert_eq!(joined, all);
        }
    }
}

/// Fraglist GRO on a router: UDP datagrams for no local socket merge, go through the
/// forwarding path as one packet, and leave as the datagrams that came in.
#[test]
fn udp_fraglist_gro_forwards_the_datagrams_unchanged() {
    let mut h = Host::new(true);
    let f = h.s.dev(h.eth0).unwrap().features;
    h.s.set_features(h.eth0, f.union(NetdevFeatures::GRO_FRAGLIST))
        .unwrap();
    let frames: Vec<Vec<u8>> = (0..5u16)
        .map(|i| {
            let mut p = Ip::udp(
                PEER,
                PEER1,
                9000,
                &vec![i as u8; if i == 4 { 10 } else { 1200 }],
            );
            p.ident = 300 + i;
            p.frame()
        })
        .collect();
    let eth0 = h.eth0;
    rx_list(&mut h, eth0, &frames);
    assert_eq!(h.mib("IpForwDatagrams"), 1);
    let out: Vec<Vec<u8>> = h.tx().into_iter().map(|(_, f)| f).collect();
    assert_eq!(out.len(), 5);
    for (got, sent) in out.iter().zip(&frames) {
        assert_eq!(unforwarded(got), sent[14..].to_vec());
    }
}

fn vnet(gso_type: VirtioGsoType, gso_size: u16, csum: Option<(u16, u16)>) -> VirtioNetHdrRepr {
    VirtioNetHdrRepr {
        needs_csum: csum.is_some(),
        data_valid: false,
        gso_type,
        ecn: false,
        hdr_len: 0,
        gso_size,
        csum_start: csum.map_or(0, |c| c.0),
        csum_offset: csum.map_or(0, |c| c.1),
        num_buffers: None,
    }
}

/// One TCP super-packet from PEER to PEER1 with `len` payload bytes (a kernel's TSO
/// frame through vnet_hdr: checksum partial, pseudo-header in the field).
fn tcp_super(len: usize, df: bool) -> Vec<u8> {
    let mut seg = tcp_hdr(5000, ACK | PSH, &[]);
    seg.extend((0..len).map(|i| i as u8));
    let pseudo = !skiff_wire::tcp::tcp_v4_check(seg.len() as u32, PEER, PEER1, 0);
    seg[16..18].copy_from_slice(&pseudo.to_be_bytes());
    let mut p = Ip::new(PEER, PEER1, 6, seg);
    p.df = df;
    p.frame()
}

/// gVisor #14011: a DF super-packet larger than the MTU is forwarded when its segments
/// fit, and cut into segments on the way out.
#[test]
fn forwarding_mtu_check_is_gso_aware() {
    let mut h = Host::new(true);
    h.rx_vnet(
        h.eth0,
        vnet(VirtioGsoType::TcpV4, 1000, Some((34, 16))),
        &tcp_super(10_000, true),
    );
    let out: Vec<Vec<u8>> = h.tx().into_iter().map(|(_, f)| f).collect();
    assert_eq!(out.len(), 10);
    assert_eq!(h.mib("IpForwDatagrams"), 1);
    assert_eq!(h.mib("IcmpOutDestUnreachs"), 0);
    let mut payload = Vec::new();
    for f in &out {
        assert!(f.len() <= 14 + 1400);
        let (ip, rest) = parse_ip(&f[14..]);
        let (tcp, data) = etherparse::TcpHeader::from_slice(rest).unwrap();
        assert_eq!(tcp.checksum, tcp.calc_checksum_ipv4(&ip, data).unwrap());
        payload.extend_from_slice(data);
    }
    assert_eq!(payload, (0..10_000).map(|i| i as u8).collect::<Vec<u8>>());
}

/// CVE-2018-1000026: segments too big for the egress MTU. With DF the sender learns the
/// MTU; without, each segment is fragmented in software.
#[test]
fn gso_size_over_the_egress_mtu() {
    let mut h = Host::new(true);
    h.rx_vnet(
        h.eth0,
        vnet(VirtioGsoType::TcpV4, 1448, Some((34, 16))),
        &tcp_super(5000, true),
    );
    let out = h.tx();
    assert_eq!(out.len(), 1, "only the ICMP error");
    assert_eq!(out[0].0, h.eth0);
    assert_eq!(&out[0].1[14 + 20..14 + 22], &[3, 4]);
    assert_eq!(
        u16::from_be_bytes([out[0].1[14 + 26], out[0].1[14 + 27]]),
        1400
    );
    assert_eq!(h.mib("IpFragFails"), 1);

    let mut h = Host::new(true);
    h.rx_vnet(
        h.eth0,
        vnet(VirtioGsoType::TcpV4, 1448, Some((34, 16))),
        &tcp_super(5000, false),
    );
    let out: Vec<Vec<u8>> = h.tx().into_iter().map(|(_, f)| f).collect();
    assert!(out.iter().all(|f| f.len() <= 14 + 1400));
    assert_eq!(h.mib("IpFragOKs"), 3, "three full segments fragmented");
    assert_eq!(out.len(), 3 * 2 + 1);
}

/// Bad virtio-net metadata is dropped with DEV_HDR, and nothing panics.
#[test]
fn malformed_vnet_metadata_is_dropped() {
    let tcp = tcp_super(3000, false);
    let udp = Ip::udp(PEER, ME, 9, &[7; 3000]).frame();
    let icmp = Ip::echo(PEER, ME).frame();
    let cases: Vec<(&str, VirtioNetHdrRepr, &[u8])> = vec![
        (
            "gso_size 0",
            vnet(VirtioGsoType::TcpV4, 0, Some((34, 16))),
            &tcp,
        ),
        (
            "hdr_len past the frame",
            VirtioNetHdrRepr {
                hdr_len: 9000,
                ..vnet(VirtioGsoType::TcpV4, 1000, Some((34, 16)))
            },
            &tcp,
        ),
        (
            "csum_start past the data",
            vnet(VirtioGsoType::None, 0, Some((4000, 6))),
            &udp,
        ),
        (
            "csum_offset past the data",
            vnet(VirtioGsoType::None, 0, Some((34, 4000))),
            &udp,
        ),
        (
            "TCP csum_offset on UDP_L4",
            vnet(VirtioGsoType::UdpL4, 1000, Some((34, 16))),
            &udp,
        ),
        (
            "csum_start not at L4",
            vnet(VirtioGsoType::TcpV4, 1000, Some((30, 16))),
            &tcp,
        ),
        (
            "TCP type on UDP",
            vnet(VirtioGsoType::TcpV4, 1000, None),
            &udp,
        ),
        ("GSO on ICMP", vnet(VirtioGsoType::UdpL4, 10, None), &icmp),
        ("IPv6 type", vnet(VirtioGsoType::TcpV6, 1000, None), &tcp),
        (
            "UDP over 128 segments",
            vnet(VirtioGsoType::UdpL4, 20, Some((34, 6))),
            &udp,
        ),
        (
            "shorter than a header",
            vnet(VirtioGsoType::TcpV4, 1000, None),
            &tcp[..30],
        ),
    ];
    for (what, hdr, frame) in cases {
        let mut h = Host::new(true);
        h.rx_vnet(h.eth0, hdr, frame);
        assert_eq!(h.drops(skiff_core::drop::DropReason::DevHdr), 1, "{what}");
        assert_eq!(h.s.dev(h.eth0).unwrap().stats.rx_dropped, 1, "{what}");
    }
}

/// Metadata that Linux strips rather than refuses: GSO on an IP fragment (reference
/// R19) and GSO on a packet no longer than one segment.
#[test]
fn gso_state_is_stripped_from_fragments_and_small_packets() {
    let mut h = Host::new(false);
    let rx = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    h.s.bind(rx, SocketAddrV4::new(ME, 9).into()).unwrap();
    // One datagram in two fragments, each claiming UDP_L4 GSO.
    let dgram = udp(PEER, ME, 4444, 9, &[5; 2000]);
    for (off, mf, range) in [(0u16, true, 0..1000usize), (1000, false, 1000..dgram.len())] {
        let mut p = Ip::new(PEER, ME, 17, dgram[range].to_vec());
        p.mf = mf;
        p.frag_offset = off;
        h.rx_vnet(h.eth0, vnet(VirtioGsoType::UdpL4, 100, None), &p.frame());
    }
    // gso_size over the payload: not really GSO.
    h.rx_vnet(
        h.eth0,
        vnet(VirtioGsoType::UdpL4, 1472, Some((34, 6))),
        &Ip::udp(PEER, ME, 9, &[6; 100]).frame(),
    );
    let mut buf = [0u8; 4096];
    assert_eq!(h.s.recv_from(rx, &mut buf, 0).unwrap().0, 2000);
    assert_eq!(h.s.recv_from(rx, &mut buf, 0).unwrap().0, 100);
    assert_eq!(h.drops(skiff_core::drop::DropReason::DevHdr), 0);
}

/// UDP_SEGMENT on a device: EIO without checksum offload (as Linux), segments with
/// partial checksums with it, one GSO frame when the device segments too.
#[test]
fn udp_segment_send_follows_the_device_features() {
    let send = |features: NetdevFeatures| {
        let mut h = Host::new(false);
        h.s.set_features(h.eth0, features).unwrap();
        let tx = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
        let data = vec![9u8; 2500];
        let msg = SendMsg {
            data: &data,
            addr: Some(SocketAddrV4::new(PEER, 7).into()),
            cmsgs: &[SendCmsg::UdpSegment(1000)],
            flags: 0,
        };
        let res = h.s.sendmsg(h.now, tx, &msg);
        let mut frames = Vec::new();
        while let Some((_, skb)) = h.s.poll_transmit() {
            frames.push((skb.gso, skb.ip_summed, skb.len()));
            for seg in h.s.dev_hard_xmit_sw(skb) {
                let bytes = wire(seg);
                let (ip, rest) = parse_ip(&bytes[14..]);
                let (u, d) = etherparse::UdpHeader::from_slice(rest).unwrap();
                assert_eq!(u.checksum, u.calc_checksum_ipv4(&ip, d).unwrap());
            }
        }
        (res, frames)
    };
    let (res, frames) = send(NetdevFeatures::SG);
    assert_eq!(res, Err(SockError::Io));
    assert!(frames.is_empty());
    let (res, frames) = send(NetdevFeatures::SG.union(NetdevFeatures::HW_CSUM));
    assert_eq!(res, Ok(2500));
    let lens: Vec<usize> = frames.iter().map(|f| f.2).collect();
    assert_eq!(lens, [14 + 1028, 14 + 1028, 14 + 528]);
    assert!(
        frames
            .iter()
            .all(|f| f.0.is_none() && matches!(f.1, ChecksumState::Partial { .. }))
    );
    let (res, frames) = send(
        NetdevFeatures::SG
            .union(NetdevFeatures::HW_CSUM)
            .union(NetdevFeatures::GSO_UDP_L4),
    );
    assert_eq!(res, Ok(2500));
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].0.map(|g| (g.size, g.segs)), Some((1000, 3)));
}

/// Software GSO segments of one UDP_SEGMENT send carry consecutive IP IDs and, under
/// IP_PMTUDISC_WANT with the whole over the MTU, no DF (docs/linux-semantics.md §1.2.2); the next
/// datagram's ID does not reuse one of them.
#[test]
fn udp_gso_segment_ids() {
    let mut h = Host::new(false);
    h.s.set_features(h.eth0, NetdevFeatures::SG.union(NetdevFeatures::HW_CSUM))
        .unwrap();
    let tx = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    let to = Some(SocketAddrV4::new(PEER, 7).into());
    let data = vec![1u8; 2500];
    let cm = [SendCmsg::UdpSegment(1000)];
    let msg = SendMsg {
        data: &data,
        addr: to,
        cmsgs: &cm,
        flags: 0,
    };
    h.s.sendmsg(h.now, tx, &msg).unwrap();
    h.s.sendto(h.now, tx, b"next", 0, to).unwrap();
    let ids: Vec<(u16, bool)> = h
        .tx()
        .iter()
        .map(|(_, f)| (u16::from_be_bytes([f[18], f[19]]), f[20] & 0x40 != 0))
        .collect();
    assert_eq!(ids.len(), 4);
    for (i, (id, df)) in ids.iter().enumerate().take(3) {
        assert_eq!(*id, ids[0].0.wrapping_add(i as u16));
        assert!(!df);
    }
    assert_ne!(ids[3].0, ids[1].0);
    assert_ne!(ids[3].0, ids[2].0);
}

/// GRO's IP ID rules: IDs must follow by one per segment, or stay fixed in a DF flow
/// (then the merged packet is TCP_FIXEDID and its segments keep the ID).
#[test]
fn tcp_gro_ip_id_rules() {
    let forwarded = |df: bool, id: fn(usize) -> u16| {
        let (frames, _) = tcp_stream_ids(5, 1000, 1000, df, id);
        let mut h = Host::new(true);
        let eth0 = h.eth0;
        rx_list(&mut h, eth0, &frames);
        let out = h.tx();
        assert_eq!(out.len(), 5);
        for ((_, got), sent) in out.iter().zip(&frames) {
            assert_eq!(unforwarded(got), sent[14..].to_vec());
        }
        h.mib("IpForwDatagrams")
    };
    assert_eq!(forwarded(true, |_| 7), 1, "fixed ID with DF merges");
    assert_eq!(forwarded(false, |_| 7), 5, "fixed ID without DF does not");
    assert_eq!(
        forwarded(false, |i| 7 + 2 * i as u16),
        5,
        "IDs that skip do not"
    );
    assert_eq!(
        forwarded(false, |i| 7 + i as u16),
        1,
        "consecutive IDs merge"
    );
}

/// virtio_net_hdr_to_skb() then virtio_net_hdr_from_skb() gives the header back (with
/// the linear length as hdr_len, as Linux writes it).
#[test]
fn vnet_header_round_trip() {
    use skiff_core::offload::virtio::{virtio_net_hdr_from_skb, virtio_net_hdr_to_skb};
    let frame = tcp_super(5000, true);
    let hdr = vnet(VirtioGsoType::TcpV4, 1448, Some((34, 16)));
    let mut skb = SkBuff::new(64, frame.len()).unwrap();
    skb.put_slice(&frame).unwrap();
    virtio_net_hdr_to_skb(&mut skb, &hdr, 14).unwrap();
    assert_eq!(
        skb.gso,
        Some(GsoInfo {
            size: 1448,
            gso_type: GsoType::TCPV4 | GsoType::DODGY,
            segs: 4
        })
    );
    let back = virtio_net_hdr_from_skb(&skb, false).unwrap();
    assert_eq!(
        back,
        VirtioNetHdrRepr {
            hdr_len: frame.len() as u16,
            ..hdr
        }
    );
    // DATA_VALID maps to CHECKSUM_UNNECESSARY and back when the device passes it on.
    let hdr = VirtioNetHdrRepr {
        data_valid: true,
        ..vnet(VirtioGsoType::None, 0, None)
    };
    let mut skb = SkBuff::new(64, frame.len()).unwrap();
    skb.put_slice(&frame).unwrap();
    virtio_net_hdr_to_skb(&mut skb, &hdr, 14).unwrap();
    assert_eq!(skb.ip_summed, ChecksumState::Unnecessary);
    assert!(virtio_net_hdr_from_skb(&skb, true).unwrap().data_valid);
    assert!(!virtio_net_hdr_from_skb(&skb, false).unwrap().data_valid);
}
