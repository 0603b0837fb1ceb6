//! Group `gso`: software segmentation of one GSO packet by skb_gso_segment(), against
//! memcpy of its payload (the cost of a segmenter that copies). The packet is built the
//! way UDP_SEGMENT and GRO build it (headers, then one buffer per segment's payload), so
//! skiff moves the buffers and writes headers; building it is outside the timing of the
//! named IDs (criterion iter_batched) and inside that of the `+build` IDs, which start
//! from the payload bytes and so include the one copy every stack makes. `62k` is a
//! 61,824-byte UDP payload at MSS 1472 (42 segments), checksums left partial or computed;
//! `64k` is 65,536 bytes of TCP at MSS 1448 (46 segments), checksums partial.
//!
//! Group `udp_gso_send`: bytes through the in-process stack from sendmsg() to frames out
//! of poll_transmit(): one UDP_SEGMENT send of 42 × 1472 bytes (`gso`) against 42 sends
//! of 1472 bytes (`per-datagram`), on a device with checksum and UDP segmentation
//! offload (what a TAP with vnet_hdr negotiates). `gso-swseg` is the GSO send to a
//! device without USO, which the stack segments itself.

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use skiff_bench::frames::{OUR_IP, PEER_IP};
use skiff_core::netdev::NetdevFeatures;
use skiff_core::offload::{ETH_P_IP, GsoCtx, Offloads, skb_gso_segment};
use skiff_core::skb::{ChecksumState, GsoInfo, GsoType, SkBuff, SkbPool};
use skiff_core::socket::{AF_INET, SOCK_DGRAM, SendCmsg, SendMsg, SockAddr};
use skiff_core::time::Instant;
use std::hint::black_box;
use std::net::SocketAddrV4;

const UDP_MSS: usize = 1472;
const UDP_SEGS: usize = 42;
const TCP_MSS: usize = 1448;
const TCP_LEN: usize = 65536;

/// An IPv4 header and a transport header of `l4len` bytes (protocol `proto`).
fn headers(proto: u8, l4len: usize, total: usize) -> Vec<u8> {
    let mut h = vec![0u8; 20 + l4len];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&((20 + total) as u16).to_be_bytes());
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&OUR_IP.octets());
    h[16..20].copy_from_slice(&PEER_IP.octets());
    if proto == 6 {
        h[32] = 5 << 4;
        h[33] = 0x18;
    } else {
        h[24..26].copy_from_slice(&(total as u16).to_be_bytes());
    }
    h
}

/// The GSO packet: headers and the first segment's payload in the head, one pool buffer
/// per further segment, checksum partial at the transport header.
fn build(pool: &mut SkbPool, hdr: &[u8], payload: &[u8], mss: usize, gso_type: GsoType) -> SkBuff {
    let mut skb = pool.alloc(64, hdr.len() + mss).unwrap();
    skb.put_slice(hdr).unwrap();
    skb.put_slice(&payload[..mss]).unwrap();
    for chunk in payload[mss..].chunks(mss) {
        let mut p = pool.alloc(64 + hdr.len(), chunk.len()).unwrap();
        p.put_slice(chunk).unwrap();
        skb.frag_list.push(p);
    }
    skb.reset_network_header().unwrap();
    let csum_start = (skb.headroom() + 20) as u16;
    skb.ip_summed = ChecksumState::Partial {
        csum_start,
        csum_offset: if gso_type == GsoType::TCPV4 { 16 } else { 6 },
    };
    skb.gso = Some(GsoInfo {
        size: mss as u16,
        gso_type,
        segs: 0,
    });
    skb
}

fn bench_gso(c: &mut Criterion) {
    skiff_bench::without_rep_movsb();
    let offloads = Offloads::default();
    let mut pool = SkbPool::new(2048, 256);
    let mut g = c.benchmark_group("gso");
    for (param, len) in [("62k", UDP_SEGS * UDP_MSS), ("64k", TCP_LEN)] {
        let src: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let mut dst = vec![0u8; len];
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_function(BenchmarkId::new("memcpy", param), |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&src));
                black_box(dst[len - 1])
            })
        });
        let cases: &[(&str, GsoType, usize, usize, NetdevFeatures)] = if param == "62k" {
            &[
                (
                    "skiff-udp-swcsum",
                    GsoType::UDP_L4,
                    8,
                    UDP_MSS,
                    NetdevFeatures::SG,
                ),
                (
                    "skiff-udp-partial",
                    GsoType::UDP_L4,
                    8,
                    UDP_MSS,
                    NetdevFeatures::HW_CSUM,
                ),
            ]
        } else {
            &[(
                "skiff-tcp",
                GsoType::TCPV4,
                20,
                TCP_MSS,
                NetdevFeatures::HW_CSUM,
            )]
        };
        for &(name, gso_type, l4, mss, features) in cases {
            let proto = if gso_type == GsoType::TCPV4 { 6 } else { 17 };
            let hdr = headers(proto, l4, l4 + len);
            let want = len.div_ceil(mss);
            let segment = |pool: &mut SkbPool, skb: SkBuff| {
                let mut ctx = GsoCtx {
                    offloads: &offloads,
                    pool,
                    features,
                };
                let segs = skb_gso_segment(&mut ctx, skb, ETH_P_IP).unwrap();
                assert_eq!(segs.len(), want);
                segs
            };
            // The named ID: segmentation of a built packet (built untimed, from the same
            // pool the segments go back to).
            let shared = std::cell::RefCell::new(&mut pool);
            g.bench_function(BenchmarkId::new(name, param), |b| {
                b.iter_batched(
                    || build(&mut shared.borrow_mut(), &hdr, &src, mss, gso_type),
                    |skb| {
                        let mut pool = shared.borrow_mut();
                        let segs = segment(&mut pool, black_box(skb));
                        for s in segs {
                            pool.recycle(s);
                        }
                    },
                    BatchSize::PerIteration,
                )
            });
            // From the payload bytes: the build's copy, segmentation, and the recycling.
            g.bench_function(BenchmarkId::new(format!("{name}+build"), param), |b| {
                b.iter(|| {
                    let skb = build(&mut pool, &hdr, black_box(&src), mss, gso_type);
                    let segs = segment(&mut pool, skb);
                    let last = segs[want - 1].len();
                    for s in segs {
                        pool.recycle(s);
                    }
                    black_box(last)
                })
            });
        }
    }
    g.finish();
}

fn bench_udp_gso_send(c: &mut Criterion) {
    let mut g = c.benchmark_group("udp_gso_send");
    let len = UDP_SEGS * UDP_MSS;
    g.throughput(Throughput::Bytes(len as u64));
    let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
    let cmsgs = [SendCmsg::UdpSegment(UDP_MSS as u16)];
    let peer = Some(SockAddr::Inet(SocketAddrV4::new(PEER_IP, 4000)));
    let csum = NetdevFeatures::SG.union(NetdevFeatures::HW_CSUM);
    // `gso` and `per-datagram`: a device with checksum and UDP segmentation offload (a
    // TAP with vnet_hdr): the GSO send leaves as one frame. `gso-swseg`: a device with
    // checksum offload only, so validate_xmit_skb() segments in software.
    for (name, features, frames) in [
        ("gso", csum.union(NetdevFeatures::GSO_UDP_L4), 1),
        ("gso-swseg", csum, UDP_SEGS),
        (
            "per-datagram",
            csum.union(NetdevFeatures::GSO_UDP_L4),
            UDP_SEGS,
        ),
    ] {
        let mut h = skiff_bench::frames::skiff_host(1500);
        let eth0 = h.eth0;
        let s = &mut h.s;
        s.set_features(eth0, features).unwrap();
        let fd = s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
        let mut t = 1_000_000_000u64;
        g.bench_function(BenchmarkId::new(name, "62k"), |b| {
            b.iter(|| {
                t += 1000;
                let now = Instant::from_nanos(t);
                if name == "per-datagram" {
                    for chunk in black_box(&data).chunks(UDP_MSS) {
                        assert_eq!(s.sendto(now, fd, chunk, 0, peer), Ok(UDP_MSS));
                    }
                } else {
                    let msg = SendMsg {
                        data: black_box(&data),
                        addr: peer,
                        cmsgs: &cmsgs,
                        flags: 0,
                    };
                    assert_eq!(s.sendmsg(now, fd, &msg), Ok(len));
                }
                let mut out = 0;
                let mut bytes = 0;
                while let Some((_, skb)) = s.poll_transmit() {
                    out += 1;
                    bytes += skb.len() - 42;
                    s.recycle(skb);
                }
                assert_eq!((out, bytes), (frames, len));
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_gso, bench_udp_gso_send);
criterion_main!(benches);
