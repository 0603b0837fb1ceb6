//! Differential tests: skiff's IPv4 header against etherparse 0.21.
//!
//! Semantic differences, not forced into agreement:
//! - etherparse checks neither the header checksum nor the options' contents; skiff's
//!   `Ipv4Repr::parse` checks both (Linux ip_rcv_core() and ip_options_compile()). Only
//!   `Ipv4Packet::check_len` is compared on random bytes; `Ipv4Repr::parse` accepting
//!   implies etherparse accepting.
//! - etherparse drops the reserved flag bit; so does `Ipv4Repr`.
//! - `Ipv4Slice` parses an AH header behind protocol 51; skiff leaves it to the payload, so
//!   protocol 51 is kept out of the slice comparison.
//! - A buffer under 20 bytes is `BadHeaderLen` in skiff (Linux counts it in InHdrErrors), a `LenError` in etherparse: both reject.

use etherparse::{IpDscp, IpEcn, IpFragOffset, IpNumber, Ipv4Header, Ipv4HeaderSlice, Ipv4Slice};
use proptest::prelude::*;
use skiff_wire::ip_options::{Ipv4Options, OptionsOrigin};
use skiff_wire::ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
use skiff_wire::{Ipv4Addr, RxChecksum};

const AH: u8 = 51;

/// One well-formed option: (kind, bytes).
fn one_option() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(vec![1]),
        // RR / LSRR / SSRR with 1..=4 slots, pointer anywhere from the first slot to full.
        (
            prop::sample::select(vec![7u8, 131, 137]),
            1usize..=4,
            0usize..=4,
            any::<[u8; 16]>()
        )
            .prop_map(|(kind, slots, used, fill)| {
                let used = used.min(slots);
                let len = 3 + 4 * slots;
                let mut v = vec![kind, len as u8, (4 + 4 * used) as u8];
                v.extend_from_slice(&fill[..4 * slots]);
                v
            }),
        // Timestamp, timestamps only, overflow below 15.
        (1usize..=4, 0usize..=4, 0u8..15, any::<[u8; 16]>()).prop_map(
            |(slots, used, overflow, fill)| {
                let used = used.min(slots);
                let len = 4 + 4 * slots;
                let mut v = vec![68, len as u8, (5 + 4 * used) as u8, overflow << 4];
                v.extend_from_slice(&fill[..4 * slots]);
                v
            }
        ),
        any::<u16>().prop_map(|v| vec![148, 4, (v >> 8) as u8, v as u8]),
    ]
}

/// An options area both sides accept: at most one RR, TS and source route, padded with
/// EOL to a multiple of 4, at most 40 bytes.
fn options_area() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(one_option(), 0..6).prop_map(|opts| {
        let mut area = Vec::new();
        let (mut rr, mut ts, mut srr) = (false, false, false);
        for o in opts {
            let seen = match o[0] {
                7 => &mut rr,
                68 => &mut ts,
                131 | 137 => &mut srr,
                _ => &mut false,
            };
            if *seen || area.len() + o.len() > 40 {
                continue;
            }
            *seen = true;
            area.extend_from_slice(&o);
        }
        while area.len() % 4 != 0 {
            area.push(0);
        }
        area
    })
}

#[derive(Debug, Clone)]
struct Fields {
    src: [u8; 4],
    dst: [u8; 4],
    protocol: u8,
    ttl: u8,
    tos: u8,
    ident: u16,
    df: bool,
    mf: bool,
    frag_units: u16,
    options: Vec<u8>,
    payload: Vec<u8>,
}

fn fields() -> impl Strategy<Value = Fields> {
    (
        any::<([u8; 4], [u8; 4], u8, u8, u8, u16, bool, bool)>(),
        0u16..=0x1fff,
        options_area(),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(
            |((src, dst, protocol, ttl, tos, ident, df, mf), frag_units, options, payload)| {
                Fields {
                    src,
                    dst,
                    protocol,
                    ttl,
                    tos,
                    ident,
                    df,
                    mf,
                    frag_units,
                    options,
                    payload,
                }
            },
        )
}

fn assert_same(ours: &Ipv4Repr<'_>, theirs: &Ipv4Header) {
    assert_eq!(ours.src, Ipv4Addr::from(theirs.source));
    assert_eq!(ours.dst, Ipv4Addr::from(theirs.destination));
    assert_eq!(u8::from(ours.protocol), theirs.protocol.0);
    assert_eq!(ours.ttl, theirs.time_to_live);
    assert_eq!(ours.tos >> 2, theirs.dscp.value());
    assert_eq!(ours.tos & 3, theirs.ecn.value());
    assert_eq!(ours.ident, theirs.identification);
    assert_eq!(ours.dont_frag, theirs.dont_fragment);
    assert_eq!(ours.more_frags, theirs.more_fragments);
    assert_eq!(ours.frag_offset, theirs.fragment_offset.byte_offset());
    assert_eq!(ours.options, theirs.options.as_slice());
    assert_eq!(ours.buffer_len(), usize::from(theirs.total_len));
}

/// Mutations of a valid packet: (index, value) pairs and a final length.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        fields(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(f, muts, cut, truncate)| {
            let mut bytes = skiff_bytes(&f);
            for (i, v) in muts {
                let i = i.index(bytes.len());
                bytes[i] = v;
            }
            if truncate {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            bytes
        })
}

fn skiff_bytes(f: &Fields) -> Vec<u8> {
    let repr = Ipv4Repr {
        src: f.src.into(),
        dst: f.dst.into(),
        protocol: IpProtocol::from(f.protocol),
        ttl: f.ttl,
        tos: f.tos,
        ident: f.ident,
        dont_frag: f.df,
        more_frags: f.mf,
        frag_offset: f.frag_units * 8,
        options: &f.options,
        payload_len: f.payload.len(),
    };
    let mut buf = vec![0xa5; repr.buffer_len()];
    repr.emit(&mut buf).unwrap();
    buf[repr.header_len()..].copy_from_slice(&f.payload);
    buf
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn skiff_emits_etherparse_parses(f in fields()) {
        let bytes = skiff_bytes(&f);
        let ours = Ipv4Repr::parse(&Ipv4Packet::new_checked(&bytes[..]).unwrap(), RxChecksum::Verify)
            .unwrap();
        let (theirs, rest) = Ipv4Header::from_slice(&bytes).unwrap();
        assert_same(&ours, &theirs);
        prop_assert_eq!(theirs.header_checksum, theirs.calc_header_checksum());
        prop_assert_eq!(rest, &f.payload[..]);
        if f.protocol != AH {
            let slice = Ipv4Slice::from_slice(&bytes).unwrap();
            prop_assert_eq!(slice.payload().payload, &f.payload[..]);
        }
    }

    #[test]
    fn etherparse_emits_skiff_parses(f in fields()) {
        let header = Ipv4Header {
            dscp: IpDscp::try_new(f.tos >> 2).unwrap(),
            ecn: IpEcn::try_new(f.tos & 3).unwrap(),
            total_len: (20 + f.options.len() + f.payload.len()) as u16,
            identification: f.ident,
            dont_fragment: f.df,
            more_fragments: f.mf,
            fragment_offset: IpFragOffset::try_new(f.frag_units).unwrap(),
            time_to_live: f.ttl,
            protocol: IpNumber(f.protocol),
            header_checksum: 0,
            source: f.src,
            destination: f.dst,
            options: f.options.as_slice().try_into().unwrap(),
        };
        let mut bytes = Vec::new();
        header.write(&mut bytes).unwrap();
        bytes.extend_from_slice(&f.payload);
        let packet = Ipv4Packet::new_checked(&bytes[..]).unwrap();
        let ours = Ipv4Repr::parse(&packet, RxChecksum::Verify).unwrap();
        assert_same(&ours, &header);
        prop_assert_eq!(packet.payload(), &f.payload[..]);
        // And skiff writes the very same bytes.
        prop_assert_eq!(skiff_bytes(&f), bytes);
    }

    #[test]
    fn random_bytes_accepted_alike(bytes in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..80),
        mutated(),
    ]) {
        let ours = Ipv4Packet::new_checked(&bytes[..]);
        let proto = bytes.get(9).copied();
        if proto != Some(AH) {
            let theirs = Ipv4Slice::from_slice(&bytes);
            prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{:02x?}", bytes);
            if let (Ok(p), Ok(s)) = (&ours, &theirs) {
                prop_assert_eq!(p.payload(), s.payload().payload);
                prop_assert_eq!(p.options(), s.header().options());
            }
        }
        // Header checks alone agree with etherparse's header slice.
        let hdr_ok = Ipv4Packet::new_unchecked(&bytes[..]).check_header_len().is_ok();
        prop_assert_eq!(hdr_ok, Ipv4HeaderSlice::from_slice(&bytes).is_ok());
        if let Some(repr) = ours.ok().and_then(|p| Ipv4Repr::parse(&p, RxChecksum::Verify).ok()) {
            let (theirs, _) = Ipv4Header::from_slice(&bytes).unwrap();
            assert_same(&repr, &theirs);
            prop_assert!(Ipv4Options::parse(repr.options, OptionsOrigin::Received).is_ok());
        }
    }
}
