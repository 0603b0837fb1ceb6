//! `udp-rx-count MODE N`: N 64-byte datagrams through the receive path to a connected
//! socket, each read back, for instruction counts under callgrind (`MODE` is `demux` or
//! `nodemux`, ip_early_demux 1 or 0). Run at two N; the difference over the packets is
//! the cost of one, setup excluded (with `UNCONNECTED` set in the environment, the
//! socket stays unconnected):
//! `valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/udp-rx-count demux 1000`.

use skiff_bench::frames::{OUR_IP, PEER_IP};
use skiff_core::socket::{AF_INET, SOCK_DGRAM};
use skiff_core::time::Instant;
use skiff_wire::udp::UdpRepr;
use std::hint::black_box;
use std::net::SocketAddrV4;

const PORT: u16 = 9000;
const PEER_PORT: u16 = 4000;
const LEN: usize = 64;

fn main() {
    let mut args = std::env::args().skip(1);
    let demux = match args.next().as_deref() {
        Some("demux") => true,
        Some("nodemux") => false,
        _ => {
            eprintln!("usage: udp-rx-count demux|nodemux N");
            std::process::exit(2);
        }
    };
    let Some(n) = args.next().and_then(|n| n.parse::<u64>().ok()) else {
        eprintln!("usage: udp-rx-count demux|nodemux N");
        std::process::exit(2);
    };
    let mut d = vec![0u8; 8 + LEN];
    UdpRepr {
        src_port: PEER_PORT,
        dst_port: PORT,
    }
    .emit(&mut d, PEER_IP, OUR_IP, skiff_wire::TxChecksum::Full)
    .expect("room for the header");
    let frame = skiff_bench::frames::frame_of(17, PEER_IP, OUR_IP, 1, false, 0, &d);
    let mut h = skiff_bench::frames::skiff_host(1500);
    let s = &mut h.s;
    s.set_sysctl("ip_early_demux", if demux { "1" } else { "0" })
        .expect("a known sysctl");
    let fd = s.socket(AF_INET, SOCK_DGRAM, 0).expect("a UDP socket");
    s.bind(fd, SocketAddrV4::new(OUR_IP, PORT).into())
        .expect("our address");
    if std::env::var_os("UNCONNECTED").is_none() {
        s.connect(fd, SocketAddrV4::new(PEER_IP, PEER_PORT).into())
            .expect("a reachable peer");
    }
    let mut buf = vec![0u8; 2048];
    for i in 0..n {
        let mut skb = s.alloc_skb(frame.len()).expect("a 106-byte buffer");
        skb.put_slice(black_box(&frame))
            .expect("room for the frame");
        s.netif_receive(Instant::from_nanos(1_000_000_000 + i * 1000), h.eth0, skb);
        let m = s.recvmsg(fd, &mut buf, 0).expect("the datagram");
        assert_eq!(m.len, LEN);
    }
}
