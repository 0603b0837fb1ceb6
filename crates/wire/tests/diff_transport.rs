//! Differential tests of UDP and TCP against etherparse 0.21.
//!
//! Real semantic differences, left as they are:
//! - A UDP length field of 0: etherparse falls back to the slice length (RFC 2675 style);
//!   Linux __udp4_lib_rcv() drops it as a short packet, and so do we (`BadLength`).
//! - TCP reserved bits: etherparse rebuilds the data-offset/flags word from decoded fields
//!   when it computes a checksum, so the reserved bits drop out of its sum; the wire sum
//!   (ours, Linux's) includes them. Checksums are compared only when they are zero.
//! - TCP options: etherparse's iterator reports unknown kinds as errors; ours yields
//!   `Unknown`. Generated options use only kinds both know.

use etherparse::{TcpHeader, TcpOptionElement, TcpOptions, TcpSlice, UdpHeader, UdpSlice};
use proptest::prelude::*;
use skiff_wire::tcp::{TcpFlags, TcpOption, TcpPacket, TcpRepr};
use skiff_wire::udp::{UdpPacket, UdpRepr};
use skiff_wire::{Error, Ipv4Addr, RxChecksum, TxChecksum};

fn etherparse_udp_checksum(datagram: &[u8], src: [u8; 4], dst: [u8; 4]) -> u16 {
    let (header, _) = UdpHeader::from_slice(datagram).unwrap();
    let len = usize::from(header.length);
    header
        .calc_checksum_ipv4_raw(src, dst, &datagram[8..len])
        .unwrap()
}

fn etherparse_tcp_checksum(segment: &[u8], src: [u8; 4], dst: [u8; 4]) -> u16 {
    let slice = TcpSlice::from_slice(segment).unwrap();
    slice
        .to_header()
        .calc_checksum_ipv4_raw(src, dst, slice.payload())
        .unwrap()
}

fn flags_of(h: &TcpHeader) -> TcpFlags {
    let bits = [
        (h.fin, TcpFlags::FIN),
        (h.syn, TcpFlags::SYN),
        (h.rst, TcpFlags::RST),
        (h.psh, TcpFlags::PSH),
        (h.ack, TcpFlags::ACK),
        (h.urg, TcpFlags::URG),
        (h.ece, TcpFlags::ECE),
        (h.cwr, TcpFlags::CWR),
        (h.ns, TcpFlags::AE),
    ];
    bits.into_iter()
        .filter(|(set, _)| *set)
        .fold(TcpFlags::empty(), |acc, (_, f)| acc | f)
}

fn option_element() -> impl Strategy<Value = TcpOptionElement> {
    use TcpOptionElement::*;
    prop_oneof![
        Just(Noop),
        any::<u16>().prop_map(MaximumSegmentSize),
        any::<u8>().prop_map(WindowScale),
        Just(SelectiveAcknowledgementPermitted),
        (
            any::<(u32, u32)>(),
            prop::collection::vec(any::<(u32, u32)>(), 0..=3)
        )
            .prop_map(|(first, more)| {
                let mut rest = [None; 3];
                for (slot, block) in rest.iter_mut().zip(more) {
                    *slot = Some(block);
                }
                SelectiveAcknowledgement(first, rest)
            }),
        any::<(u32, u32)>().prop_map(|(a, b)| Timestamp(a, b)),
    ]
}

/// Encoded options (padded to whole words) and the elements they hold.
fn options() -> impl Strategy<Value = (TcpOptions, Vec<TcpOptionElement>)> {
    prop::collection::vec(option_element(), 0..5).prop_filter_map("fits 40 bytes", |elems| {
        TcpOptions::try_from_elements(&elems)
            .ok()
            .map(|o| (o, elems))
    })
}

/// Our option as etherparse's element; `None` for Eol (etherparse stops there silently).
fn as_element(option: TcpOption<'_>) -> Option<TcpOptionElement> {
    use TcpOptionElement::*;
    Some(match option {
        TcpOption::Eol => return None,
        TcpOption::Nop => Noop,
        TcpOption::Mss(v) => MaximumSegmentSize(v),
        TcpOption::WindowScale(v) => WindowScale(v),
        TcpOption::SackPermitted => SelectiveAcknowledgementPermitted,
        TcpOption::Sack(blocks) => {
            let mut pairs = blocks.chunks_exact(8).map(|b| {
                (
                    u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                    u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
                )
            });
            let first = pairs.next().unwrap();
            let mut rest = [None; 3];
            for (slot, block) in rest.iter_mut().zip(pairs) {
                *slot = Some(block);
            }
            SelectiveAcknowledgement(first, rest)
        }
        TcpOption::Timestamp { tsval, tsecr } => Timestamp(tsval, tsecr),
        TcpOption::Unknown { kind, .. } => panic!("unexpected option kind {kind}"),
    })
}

proptest! {
    #[test]
    fn udp_skiff_to_etherparse(
        src_port: u16, dst_port: u16, src: [u8; 4], dst: [u8; 4],
        payload in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let repr = UdpRepr { src_port, dst_port };
        let mut buf = vec![0; 8];
        buf.extend_from_slice(&payload);
        repr.emit(&mut buf, Ipv4Addr::from(src), Ipv4Addr::from(dst), TxChecksum::Full).unwrap();

        let slice = UdpSlice::from_slice(&buf).unwrap();
        prop_assert_eq!(slice.source_port(), src_port);
        prop_assert_eq!(slice.destination_port(), dst_port);
        prop_assert_eq!(usize::from(slice.length()), buf.len());
        prop_assert_eq!(slice.payload(), &payload[..]);
        prop_assert_eq!(slice.checksum(), etherparse_udp_checksum(&buf, src, dst));
    }

    #[test]
    fn udp_etherparse_to_skiff(
        src_port: u16, dst_port: u16, src: [u8; 4], dst: [u8; 4],
        payload in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut header = UdpHeader::without_ipv4_checksum(src_port, dst_port, payload.len()).unwrap();
        header.checksum = header.calc_checksum_ipv4_raw(src, dst, &payload).unwrap();
        let mut buf = header.to_bytes().to_vec();
        buf.extend_from_slice(&payload);

        let packet = UdpPacket::new_checked(&buf[..]).unwrap();
        let repr = UdpRepr::parse(&packet, Ipv4Addr::from(src), Ipv4Addr::from(dst), RxChecksum::Verify)
            .unwrap();
        prop_assert_eq!(repr, UdpRepr { src_port, dst_port });
        prop_assert_eq!(packet.payload(), &payload[..]);
        // And we would have written the same bytes.
        let mut ours = buf.clone();
        repr.emit(&mut ours, Ipv4Addr::from(src), Ipv4Addr::from(dst), TxChecksum::Full).unwrap();
        prop_assert_eq!(ours, buf);
    }

    #[test]
    fn udp_random_bytes(
        mut bytes in prop::collection::vec(any::<u8>(), 0..64),
        len_choice in 0u8..4,
        fix_checksum: bool,
        src: [u8; 4], dst: [u8; 4],
    ) {
        if bytes.len() >= 8 {
            // Mostly plausible length fields: the slice length, a shorter one, or random.
            let len = match len_choice {
                0 => bytes.len(),
                1 => bytes.len() / 2,
                _ => usize::from(u16::from_be_bytes([bytes[4], bytes[5]])),
            };
            bytes[4..6].copy_from_slice(&(len as u16).to_be_bytes());
        }
        let ours = UdpPacket::new_checked(&bytes[..]);
        let theirs = UdpSlice::from_slice(&bytes);
        let len_field = bytes.get(4..6).map(|b| u16::from_be_bytes([b[0], b[1]]));
        if len_field == Some(0) {
            // Documented difference: etherparse takes the slice length.
            prop_assert_eq!(ours.unwrap_err(), Error::BadLength);
            return Ok(());
        }
        prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{:?}", ours);
        let (Ok(packet), Ok(slice)) = (ours, theirs) else { return Ok(()) };
        prop_assert_eq!(packet.payload(), slice.payload());

        if fix_checksum {
            let c = etherparse_udp_checksum(&bytes, src, dst);
            bytes[6..8].copy_from_slice(&c.to_be_bytes());
        }
        let field = u16::from_be_bytes([bytes[6], bytes[7]]);
        let packet = UdpPacket::new_checked(&bytes[..]).unwrap();
        let verified = UdpRepr::parse(&packet, Ipv4Addr::from(src), Ipv4Addr::from(dst), RxChecksum::Verify);
        let expected = field == 0 || field == etherparse_udp_checksum(&bytes, src, dst);
        prop_assert_eq!(verified.is_ok(), expected, "{:?}", verified);
    }

    #[test]
    fn tcp_skiff_to_etherparse(
        src_port: u16, dst_port: u16, seq: u32, ack: u32, flags in 0u16..0x200,
        window: u16, urgent: u16, src: [u8; 4], dst: [u8; 4],
        words in 0usize..=10, option_seed: u64,
        payload in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        // Raw options: any bytes; etherparse does not interpret them when slicing.
        let options: Vec<u8> = (0..words * 4)
            .map(|i| (option_seed.rotate_left(i as u32 * 7) >> 3) as u8)
            .collect();
        let repr = TcpRepr {
            src_port, dst_port, seq, ack, flags: TcpFlags::from_bits(flags),
            window, urgent, options: &options,
        };
        let mut buf = vec![0; repr.header_len()];
        buf.extend_from_slice(&payload);
        repr.emit(&mut buf, Ipv4Addr::from(src), Ipv4Addr::from(dst), TxChecksum::Full).unwrap();

        let slice = TcpSlice::from_slice(&buf).unwrap();
        let h = slice.to_header();
        prop_assert_eq!(h.source_port, src_port);
        prop_assert_eq!(h.destination_port, dst_port);
        prop_assert_eq!(h.sequence_number, seq);
        prop_assert_eq!(h.acknowledgment_number, ack);
        prop_assert_eq!(flags_of(&h), repr.flags);
        prop_assert_eq!(h.window_size, window);
        prop_assert_eq!(h.urgent_pointer, urgent);
        prop_assert_eq!(h.header_len(), repr.header_len());
        prop_assert_eq!(slice.options(), &options[..]);
        prop_assert_eq!(slice.payload(), &payload[..]);
        prop_assert_eq!(h.checksum, etherparse_tcp_checksum(&buf, src, dst));
    }

    #[test]
    fn tcp_etherparse_to_skiff(
        src_port: u16, dst_port: u16, seq: u32, ack: u32, flags in 0u16..0x200,
        window: u16, urgent: u16, src: [u8; 4], dst: [u8; 4],
        (opts, elems) in options(),
        payload in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let bit = |b: u16| flags & b != 0;
        let mut h = TcpHeader {
            source_port: src_port,
            destination_port: dst_port,
            sequence_number: seq,
            acknowledgment_number: ack,
            fin: bit(0x01), syn: bit(0x02), rst: bit(0x04), psh: bit(0x08),
            ack: bit(0x10), urg: bit(0x20), ece: bit(0x40), cwr: bit(0x80), ns: bit(0x100),
            window_size: window,
            urgent_pointer: urgent,
            options: opts,
            ..TcpHeader::default()
        };
        h.checksum = h.calc_checksum_ipv4_raw(src, dst, &payload).unwrap();
        let mut buf = h.to_bytes().to_vec();
        buf.extend_from_slice(&payload);

        let packet = TcpPacket::new_checked(&buf[..]).unwrap();
        let repr = TcpRepr::parse(&packet, Ipv4Addr::from(src), Ipv4Addr::from(dst), RxChecksum::Verify)
            .unwrap();
        prop_assert_eq!(repr, TcpRepr {
            src_port, dst_port, seq, ack, flags: TcpFlags::from_bits(flags),
            window, urgent, options: h.options.as_slice(),
        });
        prop_assert_eq!(packet.payload(), &payload[..]);
        let ours: Vec<_> = repr
            .options_iter()
            .map(|o| o.map(as_element))
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
            .into_iter()
            .flatten()
            .collect();
        prop_assert_eq!(ours, elems);
        let mut again = buf.clone();
        repr.emit(&mut again, Ipv4Addr::from(src), Ipv4Addr::from(dst), TxChecksum::Full).unwrap();
        prop_assert_eq!(again, buf);
    }

    #[test]
    fn tcp_random_bytes(
        mut bytes in prop::collection::vec(any::<u8>(), 0..100),
        fix_checksum: bool,
        src: [u8; 4], dst: [u8; 4],
    ) {
        let ours = TcpPacket::new_checked(&bytes[..]);
        let theirs = TcpSlice::from_slice(&bytes);
        prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{:?}", ours);
        let (Ok(packet), Ok(slice)) = (ours, theirs) else { return Ok(()) };
        prop_assert_eq!(packet.header_len(), slice.header_len());
        prop_assert_eq!(packet.options(), slice.options());
        prop_assert_eq!(packet.payload(), slice.payload());
        prop_assert_eq!(packet.flags(), flags_of(&slice.to_header()));
        prop_assert_eq!(packet.seq(), slice.sequence_number());
        prop_assert_eq!(packet.ack(), slice.acknowledgment_number());

        if bytes[12] & 0x0e != 0 {
            return Ok(()); // reserved bits: see the module comment
        }
        if fix_checksum {
            let c = etherparse_tcp_checksum(&bytes, src, dst);
            bytes[16..18].copy_from_slice(&c.to_be_bytes());
        }
        let field = u16::from_be_bytes([bytes[16], bytes[17]]);
        let expected_field = etherparse_tcp_checksum(&bytes, src, dst);
        let packet = TcpPacket::new_checked(&bytes[..]).unwrap();
        let verified = TcpRepr::parse(&packet, Ipv4Addr::from(src), Ipv4Addr::from(dst), RxChecksum::Verify);
        // One's complement has two zeros: 0xffff verifies where 0x0000 is computed.
        let expected = field == expected_field || (expected_field == 0 && field == 0xffff);
        prop_assert_eq!(verified.is_ok(), expected, "{:?}", verified);
    }
}
