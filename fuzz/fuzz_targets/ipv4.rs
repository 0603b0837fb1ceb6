//! IPv4 header: views and parsing never panic; a parsed header emits back to its bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_wire::RxChecksum;
use skiff_wire::ipv4::{IP_CE, Ipv4Packet, Ipv4Repr};

fuzz_target!(|data: &[u8]| {
    let unchecked = Ipv4Packet::new_unchecked(data);
    if unchecked.check_header_len().is_ok() {
        let _ = (unchecked.verify_checksum(), unchecked.options());
    }
    let Ok(packet) = Ipv4Packet::new_checked(data) else {
        return;
    };
    let _ = (
        packet.dscp(),
        packet.ecn(),
        packet.frag_offset(),
        packet.options(),
    );
    let hlen = packet.header_len();
    assert_eq!(
        packet.payload().len(),
        usize::from(packet.total_len()) - hlen
    );
    let verified = Ipv4Repr::parse(&packet, RxChecksum::Verify);
    let Ok(repr) = Ipv4Repr::parse(&packet, RxChecksum::Skip) else {
        assert!(verified.is_err());
        return;
    };
    let _ = repr.to_string();
    assert_eq!(repr.header_len(), hlen);
    assert_eq!(repr.buffer_len(), usize::from(packet.total_len()));
    let mut out = vec![0u8; hlen];
    repr.emit(&mut out).expect("a parsed header emits");

    // The repr drops the reserved flag bit: with it cleared and the checksum refilled, the
    // input header is exactly what emit writes.
    let mut expected = data[..hlen].to_vec();
    let mut view = Ipv4Packet::new_unchecked(&mut expected[..]);
    view.set_frag_off(packet.frag_off() & !IP_CE);
    view.fill_checksum();
    assert_eq!(out, expected);
    if verified.is_ok() && packet.frag_off() & IP_CE == 0 {
        // Verified input round-trips byte for byte, except that a checksum of 0xffff (the
        // other one's-complement zero) comes back as 0x0000.
        let (a, b) = (Ipv4Packet::new_unchecked(&out[..]), packet.checksum());
        assert!(a.checksum() == b || (a.checksum(), b) == (0, 0xffff));
    }

    let emitted = [&out[..], packet.payload()].concat();
    let again = Ipv4Repr::parse(
        &Ipv4Packet::new_checked(&emitted[..]).expect("emitted packet is checked"),
        RxChecksum::Verify,
    )
    .expect("what skiff emits parses");
    assert_eq!(again.options, repr.options);
    assert_eq!(
        Ipv4Repr {
            options: repr.options,
            ..again
        },
        repr
    );
});
