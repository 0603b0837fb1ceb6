//! Ethernet II and 802.1Q against etherparse: what one side writes, the other reads the same.

use etherparse::{EtherType as EpType, Ethernet2Header, SingleVlanHeader, VlanId, VlanPcp};
use proptest::prelude::*;
use skiff_wire::ethernet::{EtherType, EthernetAddress, EthernetFrame, EthernetRepr, VlanTag};

fn vlan_tag() -> impl Strategy<Value = VlanTag> {
    (0u8..8, any::<bool>(), 0u16..4096).prop_map(|(pcp, dei, vid)| VlanTag { pcp, dei, vid })
}

fn repr() -> impl Strategy<Value = EthernetRepr> {
    // A payload type that is itself 0x8100 would make both sides read a second tag.
    let ethertype = any::<u16>()
        .prop_filter("not a tag", |t| *t != 0x8100)
        .prop_map(EtherType::from);
    (
        any::<[u8; 6]>(),
        any::<[u8; 6]>(),
        proptest::option::of(vlan_tag()),
        ethertype,
    )
        .prop_map(|(src, dst, vlan, ethertype)| EthernetRepr {
            src: EthernetAddress(src),
            dst: EthernetAddress(dst),
            vlan,
            ethertype,
        })
}

proptest! {
    #[test]
    fn skiff_writes_etherparse_reads(r in repr(), payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut buf = vec![0xa5; r.header_len() + payload.len()];
        r.emit(&mut buf).unwrap();
        buf[r.header_len()..].copy_from_slice(&payload);
        let (eth, rest) = Ethernet2Header::from_slice(&buf).unwrap();
        prop_assert_eq!(eth.source, r.src.0);
        prop_assert_eq!(eth.destination, r.dst.0);
        match r.vlan {
            None => {
                prop_assert_eq!(eth.ether_type.0, u16::from(r.ethertype));
                prop_assert_eq!(rest, &payload[..]);
            }
            Some(tag) => {
                prop_assert_eq!(eth.ether_type, EpType::VLAN_TAGGED_FRAME);
                let (v, rest) = SingleVlanHeader::from_slice(rest).unwrap();
                prop_assert_eq!(v.pcp.value(), tag.pcp);
                prop_assert_eq!(v.drop_eligible_indicator, tag.dei);
                prop_assert_eq!(v.vlan_id.value(), tag.vid);
                prop_assert_eq!(v.ether_type.0, u16::from(r.ethertype));
                prop_assert_eq!(rest, &payload[..]);
            }
        }
    }

    #[test]
    fn etherparse_writes_skiff_reads(r in repr()) {
        let mut bytes = Vec::new();
        let outer = match r.vlan { Some(_) => EpType::VLAN_TAGGED_FRAME, None => EpType(r.ethertype.into()) };
        Ethernet2Header { source: r.src.0, destination: r.dst.0, ether_type: outer }.write(&mut bytes).unwrap();
        if let Some(tag) = r.vlan {
            SingleVlanHeader {
                pcp: VlanPcp::try_new(tag.pcp).unwrap(),
                drop_eligible_indicator: tag.dei,
                vlan_id: VlanId::try_new(tag.vid).unwrap(),
                ether_type: EpType(r.ethertype.into()),
            }
            .write(&mut bytes)
            .unwrap();
        }
        let frame = EthernetFrame::new_checked(&bytes[..]).unwrap();
        prop_assert_eq!(EthernetRepr::parse(&frame).unwrap(), r);
        prop_assert!(frame.payload().is_empty());
    }

    /// Random bytes: both accept exactly the same frames (header present, tag complete).
    #[test]
    fn same_acceptance(bytes in proptest::collection::vec(any::<u8>(), 0..24), tagged in any::<bool>()) {
        let mut bytes = bytes;
        if tagged && bytes.len() >= 14 {
            bytes[12..14].copy_from_slice(&[0x81, 0x00]);
        }
        let ours = EthernetFrame::new_checked(&bytes[..]).is_ok();
        let theirs = match Ethernet2Header::from_slice(&bytes) {
            Err(_) => false,
            Ok((eth, rest)) if eth.ether_type == EpType::VLAN_TAGGED_FRAME => SingleVlanHeader::from_slice(rest).is_ok(),
            Ok(_) => true,
        };
        prop_assert_eq!(ours, theirs);
    }
}
