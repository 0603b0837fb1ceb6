//! virtio-net header, both sizes: parsing never panics; what parses emits back to the
//! same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_wire::virtio::{HdrSize, VirtioNetHdr, VirtioNetHdrRepr};

fuzz_target!(|data: &[u8]| {
    for size in [HdrSize::V10, HdrSize::V12] {
        let Ok(hdr) = VirtioNetHdr::new_checked(data, size) else {
            continue;
        };
        assert_eq!(hdr.payload(), &data[size.len()..]);
        let Ok(repr) = VirtioNetHdrRepr::parse(&hdr) else {
            continue;
        };
        let _ = repr.to_string();
        assert_eq!(repr.size(), size);
        let mut out = vec![0u8; repr.header_len()];
        repr.emit(&mut out).expect("emit into header_len bytes");
        assert_eq!(&out[..], &data[..size.len()]);
    }
});
