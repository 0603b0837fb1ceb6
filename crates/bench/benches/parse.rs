//! Group `parse`: read Ethernet + IPv4 + UDP from a 1500-byte frame and validate both the
//! IPv4 header checksum and the UDP checksum, side by side with smoltcp and etherparse.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use skiff_wire::{Ipv4Addr, RxChecksum, TxChecksum};
use std::hint::black_box;

const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

/// A 1500-byte Ethernet frame: 14 + 20 + 8 + 1458 bytes of payload, both checksums valid.
fn frame() -> Vec<u8> {
    use skiff_wire::ethernet::{EtherType, EthernetAddress, EthernetRepr};
    use skiff_wire::ipv4::{IpProtocol, Ipv4Repr};
    use skiff_wire::udp::UdpRepr;
    let mut buf = vec![0u8; 1500];
    EthernetRepr {
        src: EthernetAddress([2, 0, 0, 0, 0, 1]),
        dst: EthernetAddress([2, 0, 0, 0, 0, 2]),
        vlan: None,
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut buf)
    .unwrap();
    let ip = Ipv4Repr {
        src: SRC,
        dst: DST,
        protocol: IpProtocol::Udp,
        ttl: 64,
        tos: 0,
        ident: 0x1234,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
        options: &[],
        payload_len: 1500 - 14 - 20,
    };
    ip.emit(&mut buf[14..]).unwrap();
    for (i, b) in buf[42..].iter_mut().enumerate() {
        *b = (i * 7) as u8;
    }
    UdpRepr {
        src_port: 40000,
        dst_port: 9,
    }
    .emit(&mut buf[34..], SRC, DST, TxChecksum::Full)
    .unwrap();
    buf
}

/// What each parser reports: source address, destination port, payload length.
type Parsed = (Ipv4Addr, u16, usize);
type Parser = fn(&[u8]) -> Parsed;

fn skiff(frame: &[u8]) -> Parsed {
    use skiff_wire::{ethernet::*, ipv4::*, udp::*};
    let eth = EthernetFrame::new_checked(frame).unwrap();
    assert_eq!(eth.ethertype(), EtherType::Ipv4);
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    let ip_repr = Ipv4Repr::parse(&ip, RxChecksum::Verify).unwrap();
    assert_eq!(ip_repr.protocol, IpProtocol::Udp);
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    let udp_repr = UdpRepr::parse(&udp, ip_repr.src, ip_repr.dst, RxChecksum::Verify).unwrap();
    (ip_repr.src, udp_repr.dst_port, udp.payload().len())
}

fn smoltcp(frame: &[u8]) -> Parsed {
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::*;
    let caps = ChecksumCapabilities::default();
    let eth = EthernetFrame::new_checked(frame).unwrap();
    assert_eq!(eth.ethertype(), EthernetProtocol::Ipv4);
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    let ip_repr = Ipv4Repr::parse(&ip, &caps).unwrap();
    assert_eq!(ip_repr.next_header, IpProtocol::Udp);
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    let udp_repr = UdpRepr::parse(
        &udp,
        &ip_repr.src_addr.into(),
        &ip_repr.dst_addr.into(),
        &caps,
    )
    .unwrap();
    (ip_repr.src_addr, udp_repr.dst_port, udp.payload().len())
}

fn etherparse(frame: &[u8]) -> Parsed {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    let p = SlicedPacket::from_ethernet(frame).unwrap();
    let Some(NetSlice::Ipv4(ip)) = p.net else {
        panic!("not IPv4")
    };
    let h = ip.header().to_header();
    assert_eq!(
        h.header_checksum,
        h.calc_header_checksum(),
        "IPv4 header checksum"
    );
    let Some(TransportSlice::Udp(udp)) = p.transport else {
        panic!("not UDP")
    };
    let uh = udp.to_header();
    let sum = uh.calc_checksum_ipv4(&h, udp.payload()).unwrap();
    assert_eq!(uh.checksum, sum, "UDP checksum");
    (h.source.into(), uh.destination_port, udp.payload().len())
}

fn parse(c: &mut Criterion) {
    let data = frame();
    let expect = (SRC, 9, 1458);
    assert_eq!(skiff(&data), expect);
    assert_eq!(smoltcp(&data), expect);
    assert_eq!(etherparse(&data), expect);
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(data.len() as u64));
    let impls: [(&str, Parser); 3] = [
        ("skiff", skiff),
        ("smoltcp", smoltcp),
        ("etherparse", etherparse),
    ];
    for (name, f) in impls {
        group.bench_with_input(BenchmarkId::new(name, "ipv4-udp"), &data, |b, d| {
            b.iter(|| f(black_box(d)))
        });
    }
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
