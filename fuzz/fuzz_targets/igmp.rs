//! IGMP v1/v2/v3: parsing never panics, hostile counts stay inside the buffer, and what
//! parses emits back and re-parses to the same repr.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_wire::RxChecksum;
use skiff_wire::igmp::{IgmpPacket, IgmpRepr};

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = IgmpPacket::new_checked(data) else {
        return;
    };
    let Ok(repr) = IgmpRepr::parse(&packet, RxChecksum::Skip) else {
        return;
    };
    assert_eq!(
        IgmpRepr::parse(&packet, RxChecksum::Verify).is_ok(),
        packet.verify_checksum()
    );
    let _ = repr.to_string();
    assert!(repr.buffer_len() <= data.len());

    match repr {
        IgmpRepr::MembershipQuery { v3: Some(q), .. } => {
            assert_eq!(q.sources.iter().count(), q.sources.len());
            assert_eq!(packet.v3_query(), Some(q));
        }
        IgmpRepr::MembershipReportV3 { records } => {
            let mut span = 0;
            let mut walked = 0;
            for rec in records {
                let sources: Vec<_> = rec.sources().iter().collect();
                assert_eq!(sources.len(), usize::from(rec.num_sources()));
                assert_eq!(rec.aux_data().len(), usize::from(rec.aux_data_len()) * 4);
                span += rec.as_bytes().len();
                walked += 1;
            }
            assert_eq!(walked, records.len());
            assert_eq!(span, records.as_bytes().len());
        }
        _ => {}
    }

    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut out)
        .expect("a parsed repr emits into buffer_len bytes");
    assert_eq!(out[0], data[0], "type");
    let again = IgmpPacket::new_checked(&out[..]).expect("emitted message is checked");
    assert!(again.verify_checksum());
    assert_eq!(IgmpRepr::parse(&again, RxChecksum::Verify), Ok(repr));
});
