//! ARP: parsing never panics; an Ethernet/IPv4 packet emits back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_wire::arp::{ArpPacket, ArpRepr};

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = ArpPacket::new_checked(data) else {
        return;
    };
    let addrs = [packet.sha(), packet.spa(), packet.tha(), packet.tpa()];
    let (h, p) = (usize::from(packet.hlen()), usize::from(packet.plen()));
    assert_eq!(addrs.map(<[u8]>::len), [h, p, h, p]);
    let Ok(repr) = ArpRepr::parse(&packet) else {
        return;
    };
    let _ = repr.to_string();
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut out).expect("emit into buffer_len bytes");
    assert_eq!(&out[..], &data[..repr.buffer_len()]);
});
