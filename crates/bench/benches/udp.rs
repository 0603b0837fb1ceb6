//! Group `udp`: a UDP datagram through a socket. rx: the frame in, then recvmsg() out;
//! tx: sendmsg(), then the frame out. skiff against smoltcp 0.14 on the same frames, with
//! payloads of 64 and 1472 bytes (the largest at MTU 1500). skiff alone: rx-64-connected,
//! to a connected socket with early demux, and rx-64-connected-nodemux without.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use skiff_bench::frames::{OUR_IP, PEER_IP};
use skiff_core::socket::{AF_INET, SOCK_DGRAM, SockAddr};
use skiff_core::time::Instant;
use skiff_wire::udp::UdpRepr;
use smoltcp::socket::udp;
use smoltcp::wire::{IpEndpoint, Ipv4Address};
use std::hint::black_box;
use std::net::SocketAddrV4;

mod smol;

const PORT: u16 = 9000;
const PEER_PORT: u16 = 4000;

/// An Ethernet frame of a UDP datagram from the peer to us with `len` payload bytes.
fn udp_frame(len: usize) -> Vec<u8> {
    let mut d = vec![0u8; 8 + len];
    for (i, b) in d[8..].iter_mut().enumerate() {
        *b = i as u8;
    }
    UdpRepr {
        src_port: PEER_PORT,
        dst_port: PORT,
    }
    .emit(&mut d, PEER_IP, OUR_IP, skiff_wire::TxChecksum::Full)
    .unwrap();
    skiff_bench::frames::frame_of(17, PEER_IP, OUR_IP, 1, false, 0, &d)
}

fn smol_socket<'a>() -> udp::Socket<'a> {
    let meta = || vec![udp::PacketMetadata::EMPTY; 16];
    udp::Socket::new(
        udp::PacketBuffer::new(meta(), vec![0; 65536]),
        udp::PacketBuffer::new(meta(), vec![0; 65536]),
    )
}

/// skiff `rx-LEN-connected`: the datagram to a socket connected to its sender, with
/// early demux (the socket's cached route, no route lookup) or, `-nodemux`, without
/// (`ip_early_demux=0`: the dst cache in front of the FIB).
fn bench_rx_connected(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    frame: &[u8],
    len: usize,
    demux: bool,
) {
    let mut h = skiff_bench::frames::skiff_host(1500);
    let s = &mut h.s;
    if !demux {
        s.set_sysctl("ip_early_demux", "0").unwrap();
    }
    let fd = s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    s.bind(fd, SocketAddrV4::new(OUR_IP, PORT).into()).unwrap();
    s.connect(fd, SocketAddrV4::new(PEER_IP, PEER_PORT).into())
        .unwrap();
    let mut buf = vec![0u8; 2048];
    let mut t = 1_000_000_000u64;
    let eth0 = h.eth0;
    let id = format!("rx-{len}-connected{}", if demux { "" } else { "-nodemux" });
    g.bench_function(BenchmarkId::new("skiff", id), |b| {
        b.iter(|| {
            t += 1000;
            let mut skb = s.alloc_skb(frame.len()).unwrap();
            skb.put_slice(black_box(frame)).unwrap();
            s.netif_receive(Instant::from_nanos(t), eth0, skb);
            let m = s.recvmsg(fd, &mut buf, 0).unwrap();
            assert_eq!(m.len, len);
            black_box(buf[len - 1])
        })
    });
}

fn bench_udp(c: &mut Criterion) {
    skiff_bench::without_rep_movsb();
    let mut g = c.benchmark_group("udp");
    g.throughput(Throughput::Elements(1));
    for len in [64usize, 1472] {
        let frame = udp_frame(len);
        let payload = frame[42..].to_vec();
        let rx = format!("rx-{len}");
        let tx = format!("tx-{len}");

        // skiff
        let mut h = skiff_bench::frames::skiff_host(1500);
        let s = &mut h.s;
        let fd = s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
        s.bind(fd, SocketAddrV4::new(OUR_IP, PORT).into()).unwrap();
        let peer = Some(SockAddr::Inet(SocketAddrV4::new(PEER_IP, PEER_PORT)));
        let mut buf = vec![0u8; 2048];
        let mut t = 1_000_000_000u64;
        let eth0 = h.eth0;
        g.bench_function(BenchmarkId::new("skiff", &rx), |b| {
            b.iter(|| {
                t += 1000;
                let mut skb = s.alloc_skb(frame.len()).unwrap();
                skb.put_slice(black_box(&frame)).unwrap();
                s.netif_receive(Instant::from_nanos(t), eth0, skb);
                let m = s.recvmsg(fd, &mut buf, 0).unwrap();
                assert_eq!(m.len, len);
                black_box(buf[len - 1])
            })
        });
        g.bench_function(BenchmarkId::new("skiff", &tx), |b| {
            b.iter(|| {
                t += 1000;
                let n = s
                    .sendto(Instant::from_nanos(t), fd, black_box(&payload), 0, peer)
                    .unwrap();
                let (_, out) = s.poll_transmit().expect("the datagram's frame");
                assert_eq!(out.len(), 42 + n);
                let l = out.len();
                s.recycle(out);
                black_box(l)
            })
        });

        if len == 64 {
            bench_rx_connected(&mut g, &frame, len, true);
            bench_rx_connected(&mut g, &frame, len, false);
        }

        // smoltcp
        let mut dev = smol::Ring::new(vec![skiff_bench::frames::arp_request_frame()]);
        let mut iface = smol::iface(&mut dev);
        let mut sockets = smoltcp::iface::SocketSet::new(Vec::new());
        let mut sock = smol_socket();
        sock.bind(PORT).unwrap();
        let handle = sockets.add(sock);
        dev.next = 0;
        iface.poll(smoltcp::time::Instant::ZERO, &mut dev, &mut sockets);
        dev.frames = vec![frame.clone()];
        g.bench_function(BenchmarkId::new("smoltcp", &rx), |b| {
            b.iter(|| {
                dev.next = 0;
                iface.poll(smoltcp::time::Instant::ZERO, &mut dev, &mut sockets);
                let s = sockets.get_mut::<udp::Socket>(handle);
                let (n, _) = s.recv_slice(&mut buf).unwrap();
                assert_eq!(n, len);
                black_box(buf[len - 1])
            })
        });
        dev.frames.clear();
        let to = IpEndpoint::new(Ipv4Address::new(10, 0, 0, 2).into(), PEER_PORT);
        g.bench_function(BenchmarkId::new("smoltcp", &tx), |b| {
            b.iter(|| {
                let s = sockets.get_mut::<udp::Socket>(handle);
                s.send_slice(black_box(&payload), to).unwrap();
                dev.next = 0;
                dev.tx.clear();
                iface.poll(smoltcp::time::Instant::ZERO, &mut dev, &mut sockets);
                assert_eq!(dev.tx.len(), 42 + len);
                black_box(dev.tx.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_udp);
criterion_main!(benches);
