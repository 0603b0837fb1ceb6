//! UDP and UDP-Lite: parsing never panics; what parses emits back to the same bytes, and
//! a checksum that verifies is the one we compute.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_wire::udp::{UdpLiteRepr, UdpPacket, UdpRepr};
use skiff_wire::{Ipv4Addr, RxChecksum, TxChecksum};

const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const DST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

fuzz_target!(|data: &[u8]| {
    udp(data);
    udplite(data);
});

fn udp(data: &[u8]) {
    let Ok(packet) = UdpPacket::new_checked(data) else {
        return;
    };
    let _ = packet.to_string();
    let repr = UdpRepr::parse(&packet, SRC, DST, RxChecksum::Skip).expect("checked view parses");
    let verified = UdpRepr::parse(&packet, SRC, DST, RxChecksum::Verify).is_ok();
    let datagram = packet.datagram();
    assert_eq!(packet.payload(), &datagram[8..]);

    let mut out = datagram.to_vec();
    repr.emit(&mut out, SRC, DST, TxChecksum::Full)
        .expect("emit over the datagram");
    let again = UdpPacket::new_checked(&out[..]).expect("emitted datagram checks");
    assert_eq!(
        UdpRepr::parse(&again, SRC, DST, RxChecksum::Verify),
        Ok(repr)
    );
    assert_eq!(again.payload(), packet.payload());
    if packet.checksum() == 0 {
        repr.emit(&mut out, SRC, DST, TxChecksum::None).unwrap();
        assert_eq!(out, datagram);
    } else if verified {
        assert_eq!(out, datagram);
    }
}

fn udplite(data: &[u8]) {
    let Ok(packet) = UdpPacket::new_checked_lite(data) else {
        return;
    };
    let _ = packet.to_string();
    let Ok(repr) = UdpLiteRepr::parse(&packet, SRC, DST, RxChecksum::Skip) else {
        return;
    };
    let verified = UdpLiteRepr::parse(&packet, SRC, DST, RxChecksum::Verify).is_ok();
    assert_eq!(packet.datagram(), data);

    let mut out = data.to_vec();
    repr.emit(&mut out, SRC, DST, TxChecksum::Full)
        .expect("a parsed coverage emits");
    let again = UdpPacket::new_checked_lite(&out[..]).unwrap();
    assert_eq!(
        UdpLiteRepr::parse(&again, SRC, DST, RxChecksum::Verify),
        Ok(repr)
    );
    if verified {
        assert_eq!(out, data);
    }
}
