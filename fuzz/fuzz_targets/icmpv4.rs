//! ICMPv4: parsing never panics, and what parses emits back and re-parses to the same repr.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_wire::icmpv4::{Icmpv4Packet, Icmpv4Repr};
use skiff_wire::{Error, RxChecksum};

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Icmpv4Packet::new_checked(data) else {
        assert!(data.len() < 8);
        return;
    };
    // Fuzzed bytes rarely carry a valid checksum: skip it, then check verify agrees.
    let repr = Icmpv4Repr::parse(&packet, RxChecksum::Skip).expect("a checked view parses");
    assert_eq!(
        Icmpv4Repr::parse(&packet, RxChecksum::Verify).is_ok(),
        packet.verify_checksum()
    );
    let _ = repr.to_string();
    assert_eq!(repr.buffer_len(), data.len());
    assert_eq!(repr.data(), packet.data());

    let mut out = vec![0u8; repr.buffer_len()];
    match repr.emit(&mut out) {
        Ok(()) => {}
        Err(Error::Unsupported) => {
            // Only Source Quench is refused (RFC 6633).
            assert_eq!(data[0], 4);
            return;
        }
        Err(e) => panic!("emit into buffer_len bytes: {e}"),
    }
    assert_eq!(out[..2], data[..2], "type and code");
    assert_eq!(out[8..], data[8..], "data");
    let again = Icmpv4Packet::new_checked(&out[..]).expect("emitted message is checked");
    assert!(again.verify_checksum());
    assert_eq!(Icmpv4Repr::parse(&again, RxChecksum::Verify), Ok(repr));
    assert!(repr.emit(&mut out[..data.len() - 1]).is_err());
});
