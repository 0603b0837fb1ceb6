//! Ethernet II / 802.1Q: parsing never panics, and what parses emits back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_wire::ethernet::{EthernetFrame, EthernetRepr};

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = EthernetFrame::new_checked(data) else {
        return;
    };
    let repr = EthernetRepr::parse(&frame).expect("a checked frame parses");
    let _ = repr.to_string();
    let mut out = vec![0u8; repr.header_len()];
    repr.emit(&mut out).expect("emit into header_len bytes");
    assert_eq!(&out[..], &data[..repr.header_len()]);
    assert_eq!(frame.payload(), &data[repr.header_len()..]);
});
