//! TCP: parsing and walking the options never panic; what parses emits back to the same
//! bytes (reserved bits aside), and a checksum that verifies is the one we compute.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_wire::tcp::{TcpPacket, TcpRepr};
use skiff_wire::{Ipv4Addr, RxChecksum, TxChecksum};

const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const DST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = TcpPacket::new_checked(data) else {
        return;
    };
    let _ = packet.to_string();
    // Every item consumes at least one byte.
    let items = packet.options_iter().count();
    assert!(items <= packet.options().len());

    let repr = TcpRepr::parse(&packet, SRC, DST, RxChecksum::Skip).expect("checked view parses");
    let verified = TcpRepr::parse(&packet, SRC, DST, RxChecksum::Verify).is_ok();
    assert_eq!(repr.header_len(), packet.header_len());
    assert_eq!(repr.options_iter().count(), items);

    let mut out = data.to_vec();
    repr.emit(&mut out, SRC, DST, TxChecksum::Full)
        .expect("parsed options emit");
    let again = TcpPacket::new_checked(&out[..]).expect("emitted segment checks");
    assert_eq!(
        TcpRepr::parse(&again, SRC, DST, RxChecksum::Verify),
        Ok(repr)
    );

    // Only the reserved bits (cleared) and, when it verified, the checksum may differ.
    let mut expect = data.to_vec();
    expect[12] &= 0xf1;
    let (ours, theirs) = (
        u16::from_be_bytes([out[16], out[17]]),
        u16::from_be_bytes([data[16], data[17]]),
    );
    expect[16..18].copy_from_slice(&out[16..18]);
    assert_eq!(out, expect);
    if verified && data[12] & 0x0e == 0 {
        // One's complement: a field of 0xffff verifies where 0x0000 is computed.
        assert!(ours == theirs || (ours == 0 && theirs == 0xffff));
    }
});
