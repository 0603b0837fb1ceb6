//! ip_rcv_core / ip_rcv_finish_core / local delivery: every drop reason with its Linux
//! counter, echo, options, protocols (R20, R21).

mod common;

use common::*;
use skiff_core::drop::DropReason;
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::EthernetAddress;

#[test]
fn echo_request_gets_a_faithful_reply() {
    let mut h = Host::new(false);
    let mut req = Ip::echo(PEER, ME);
    req.tos = 0x10;
    h.rx(h.eth0, &req.frame());
    let got = icmps(h.tx());
    assert_eq!(got.len(), 1);
    let (t, c, o) = &got[0];
    assert_eq!((*t, *c), (0, 0));
    assert_eq!((o.src, o.dst, o.ttl, o.tos), (ME, PEER, 64, 0x10));
    assert_eq!(o.eth_dst, PEER_MAC);
    // Identifier, sequence and data come back unchanged (RFC 792).
    assert_eq!(&o.payload[4..], &req.payload[4..]);
    assert!(!o.df);
    assert_eq!(h.mib("IcmpInEchos"), 1);
    assert_eq!(h.mib("IcmpOutEchoReps"), 1);
    assert_eq!(h.mib("IpInReceives"), 1);
    assert_eq!(h.mib("IpInDelivers"), 1);
    assert_eq!(h.mib("IpOutRequests"), 1);
    assert_eq!(h.mib("IpExtInOctets"), req.frame().len() as u64 - 14);
}

#[test]
fn link_padding_is_trimmed() {
    let mut h = Host::new(false);
    let mut f = Ip::new(PEER, ME, 1, icmp(8, 0, [0, 1, 0, 1], &[])).frame();
    assert_eq!(f.len(), 14 + 28);
    f.resize(60, 0xee); // Ethernet minimum with junk padding
    h.rx(h.eth0, &f);
    let got = icmps(h.tx());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].2.payload.len(), 8, "padding is not echoed");
}

/// Each malformed header: its drop reason, its counter, and no reply.
#[test]
fn ip_rcv_core_drops() {
    let base = Ip::echo(PEER, ME).frame();
    let cases: Vec<(&str, Vec<u8>, DropReason, &str)> = vec![
        (
            "short",
            base[..14 + 19].to_vec(),
            DropReason::IpInhdr,
            "IpInHdrErrors",
        ),
        (
            "version 6",
            with(&base, |ip| ip[0] = 0x65),
            DropReason::IpInhdr,
            "IpInHdrErrors",
        ),
        (
            "ihl 4",
            with(&base, |ip| ip[0] = 0x44),
            DropReason::IpInhdr,
            "IpInHdrErrors",
        ),
        (
            "ihl past the end",
            with_len(&base[..14 + 22], 0x46),
            DropReason::IpInhdr,
            "IpInHdrErrors",
        ),
        (
            "checksum",
            with(&base, |ip| ip[10] ^= 1),
            DropReason::IpCsum,
            "IpExtInCsumErrors",
        ),
        (
            "truncated",
            with(&base, |ip| bump_len(ip, 1)),
            DropReason::PktTooSmall,
            "IpExtInTruncatedPkts",
        ),
        (
            "tot_len < ihl",
            with(&base, |ip| set_len(ip, 19)),
            DropReason::IpInhdr,
            "IpInHdrErrors",
        ),
    ];
    for (what, frame, reason, counter) in cases {
        let mut h = Host::new(false);
        h.rx(h.eth0, &frame);
        assert!(h.tx().is_empty(), "{what}: silently dropped");
        assert_eq!(h.drops(reason), 1, "{what}");
        assert_eq!(h.mib(counter), 1, "{what}");
        assert_eq!(
            h.mib("IpInReceives"),
            1,
            "{what}: counted as received first"
        );
        if reason == DropReason::IpCsum {
            assert_eq!(
                h.mib("IpInHdrErrors"),
                1,
                "a bad checksum is also a header error"
            );
        }
    }
}

fn with(frame: &[u8], f: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let mut v = frame.to_vec();
    f(&mut v[14..]);
    v
}

/// Sets the IHL and refills the checksum of a header that may be cut short.
fn with_len(frame: &[u8], first: u8) -> Vec<u8> {
    let mut v = frame.to_vec();
    v[14] = first;
    v
}

/// Changes tot_len and refills the checksum.
fn set_len(ip: &mut [u8], len: u16) {
    ip[2..4].copy_from_slice(&len.to_be_bytes());
    refill(ip);
}

fn bump_len(ip: &mut [u8], by: u16) {
    let len = u16::from_be_bytes([ip[2], ip[3]]) + by;
    set_len(ip, len);
}

fn refill(ip: &mut [u8]) {
    let mut p = skiff_wire::ipv4::Ipv4Packet::new_unchecked(&mut ip[..20]);
    p.fill_checksum();
}

#[test]
fn otherhost_frames_are_dropped_before_ip() {
    let mut h = Host::new(false);
    let mut req = Ip::echo(PEER, ME);
    req.eth_dst = EthernetAddress([2, 9, 9, 9, 9, 9]);
    h.rx(h.eth0, &req.frame());
    assert!(h.tx().is_empty());
    assert_eq!(h.drops(DropReason::OtherHost), 1);
    assert_eq!(
        h.mib("IpInReceives"),
        0,
        "OTHERHOST is dropped before InReceives"
    );
    assert_eq!(h.s.dev(h.eth0).unwrap().stats.rx_otherhost_dropped, 1);
}

#[test]
fn martians_are_dropped_silently() {
    let cases = [
        (
            "loopback source",
            Ipv4Addr::new(127, 0, 0, 9),
            ME,
            DropReason::IpInvalidSource,
        ),
        ("our own source", ME, ME, DropReason::IpInvalidSource),
        (
            "multicast source",
            Ipv4Addr::new(224, 1, 1, 1),
            ME,
            DropReason::IpInvalidSource,
        ),
        (
            "zeronet destination",
            PEER,
            Ipv4Addr::new(0, 1, 2, 3),
            DropReason::IpInvalidDest,
        ),
        (
            "loopback destination",
            PEER,
            Ipv4Addr::new(127, 0, 0, 1),
            DropReason::IpInvalidDest,
        ),
    ];
    for (what, src, dst, reason) in cases {
        let mut h = Host::new(false);
        h.rx(h.eth0, &Ip::echo(src, dst).frame());
        assert!(h.tx().is_empty(), "{what}");
        assert_eq!(h.drops(reason), 1, "{what}");
    }
}

#[test]
fn bad_option_answers_parameter_problem_with_its_pointer() {
    let mut h = Host::new(false);
    let mut req = Ip::echo(PEER, ME);
    // A record-route option whose pointer (byte 2) is 2: below the minimum 4.
    req.options = vec![7, 7, 2, 0, 0, 0, 0, 0];
    h.rx(h.eth0, &req.frame());
    let got = icmps(h.tx());
    assert_eq!(got.len(), 1);
    let (t, c, o) = &got[0];
    assert_eq!((*t, *c), (12, 0));
    assert_eq!(o.payload[4], 22, "pointer at the RR pointer byte (20 + 2)");
    assert_eq!(h.drops(DropReason::IpInhdr), 1);
    assert_eq!(h.mib("IpInHdrErrors"), 1);
}

#[test]
fn valid_options_are_accepted() {
    let mut h = Host::new(false);
    let mut req = Ip::echo(PEER, ME);
    req.options = vec![7, 7, 4, 0, 0, 0, 0, 1]; // empty RR slot, then EOL padding
    h.rx(h.eth0, &req.frame());
    let got = icmps(h.tx());
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].0, got[0].1), (0, 0));
}

#[test]
fn source_routed_packets_are_dropped_silently() {
    let mut h = Host::new(false);
    let mut req = Ip::echo(PEER, ME);
    req.options = vec![131, 7, 4, 10, 0, 0, 9, 0]; // LSRR via 10.0.0.9
    h.rx(h.eth0, &req.frame());
    assert!(h.tx().is_empty(), "accept_source_route=0: no ICMP");
    assert_eq!(h.drops(DropReason::IpSourceRoute), 1);
}

#[test]
fn unknown_protocol_answers_protocol_unreachable() {
    let mut h = Host::new(false);
    let pkt = Ip::new(PEER, ME, 253, vec![1, 2, 3, 4]);
    h.rx(h.eth0, &pkt.frame());
    let got = icmps(h.tx());
    assert_eq!(got.len(), 1);
    let (t, c, o) = &got[0];
    assert_eq!((*t, *c), (3, 2));
    assert_eq!(o.src, ME);
    assert_eq!(o.tos, 0xc0, "errors carry IPTOS_PREC_INTERNETCONTROL");
    assert_eq!(
        &o.payload[8..],
        &pkt.frame()[14..],
        "the whole small datagram is quoted"
    );
    assert_eq!(h.mib("IpInUnknownProtos"), 1);
    assert_eq!(h.drops(DropReason::IpNoproto), 1);
    assert_eq!(h.mib("IcmpOutDestUnreachs"), 1);
}

#[test]
fn closed_udp_port_answers_port_unreachable_quoting_at_most_576() {
    let mut h = Host::new(false);
    let pkt = Ip::udp(PEER, ME, 9, &[0x33; 1000]);
    h.rx(h.eth0, &pkt.frame());
    let got = icmps(h.tx());
    assert_eq!(got.len(), 1);
    let (t, c, o) = &got[0];
    assert_eq!((*t, *c), (3, 3));
    assert_eq!(o.ip.len(), 576, "RFC 1812 4.3.2.3: 576 bytes in all");
    assert_eq!(&o.payload[8..], &pkt.frame()[14..14 + 576 - 28]);
    assert_eq!(h.mib("UdpNoPorts"), 1);
    assert_eq!(h.drops(DropReason::NoSocket), 1);
}

#[test]
fn bad_udp_checksum_is_silent() {
    let mut h = Host::new(false);
    let mut pkt = Ip::udp(PEER, ME, 9, b"hello");
    pkt.payload[6] ^= 0x55;
    h.rx(h.eth0, &pkt.frame());
    assert!(
        h.tx().is_empty(),
        "RFC 1122 4.1.3.4: no ICMP for a bad checksum"
    );
    assert_eq!(h.mib("UdpInCsumErrors"), 1);
    assert_eq!(h.mib("UdpInErrors"), 1);
    let mut short = Ip::udp(PEER, ME, 9, b"hello");
    short.payload[4..6].copy_from_slice(&100u16.to_be_bytes());
    h.rx(h.eth0, &short.frame());
    assert_eq!(h.drops(DropReason::UdpTooSmall), 1);
    assert_eq!(h.mib("UdpInErrors"), 2);
}

#[test]
fn udp_zero_checksum_means_none() {
    let mut h = Host::new(false);
    let mut pkt = Ip::udp(PEER, ME, 9, b"hello");
    pkt.payload[6..8].copy_from_slice(&[0, 0]);
    h.rx(h.eth0, &pkt.frame());
    assert_eq!(icmps(h.tx()).len(), 1, "accepted, then port unreachable");
}

#[test]
fn bad_icmp_checksum_and_short_icmp() {
    let mut h = Host::new(false);
    let mut req = Ip::echo(PEER, ME);
    req.payload[2] ^= 1;
    h.rx(h.eth0, &req.frame());
    assert!(h.tx().is_empty());
    assert_eq!(h.mib("IcmpInCsumErrors"), 1);
    assert_eq!(h.mib("IcmpInErrors"), 1);
    assert_eq!(h.mib("IcmpInMsgs"), 1);
    let tiny = Ip::new(PEER, ME, 1, vec![0xff, 0xff]); // checksums to zero, 2 bytes
    h.rx(h.eth0, &tiny.frame());
    assert_eq!(h.drops(DropReason::IcmpInErrors), 1);
    assert_eq!(h.mib("IcmpInErrors"), 2);
}

#[test]
fn broadcast_echo_is_ignored_by_default() {
    let mut h = Host::new(false);
    let mut req = Ip::echo(PEER, Ipv4Addr::new(10, 0, 0, 255));
    req.eth_dst = EthernetAddress::BROADCAST;
    h.rx(h.eth0, &req.frame());
    assert!(h.tx().is_empty(), "Smurf: icmp_echo_ignore_broadcasts=1");
    assert_eq!(h.mib("IcmpInErrors"), 1);
    assert_eq!(h.mib("IpExtInBcastPkts"), 1);
    h.s.set_sysctl("icmp_echo_ignore_broadcasts", "0").unwrap();
    h.rx(h.eth0, &req.frame());
    let got = icmps(h.tx());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].2.src, ME, "the reply comes from our unicast address");
}

#[test]
fn echo_ignore_all() {
    let mut h = Host::new(false);
    h.s.set_sysctl("icmp_echo_ignore_all", "1").unwrap();
    h.rx(h.eth0, &Ip::echo(PEER, ME).frame());
    assert!(h.tx().is_empty());
    assert_eq!(h.mib("IcmpInEchos"), 1);
}

#[test]
fn unicast_in_l2_broadcast_can_be_dropped() {
    let mut h = Host::new(false);
    let mut req = Ip::echo(PEER, ME);
    req.eth_dst = EthernetAddress::BROADCAST;
    h.rx(h.eth0, &req.frame());
    assert_eq!(
        icmps(h.tx()).len(),
        1,
        "accepted by default (RFC 1122 3.3.6 deviation)"
    );
    h.s.set_sysctl("drop_unicast_in_l2_multicast", "1").unwrap();
    h.rx(h.eth0, &req.frame());
    assert!(h.tx().is_empty());
    assert_eq!(h.drops(DropReason::UnicastInL2Multicast), 1);
}

#[test]
fn device_and_link_layer_drops() {
    let mut h = Host::new(false);
    // Unknown ethertype.
    let mut f = Ip::echo(PEER, ME).frame();
    f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
    h.rx(h.eth0, &f);
    assert_eq!(h.drops(DropReason::UnhandledProto), 1);
    assert_eq!(h.s.dev(h.eth0).unwrap().stats.rx_nohandler, 1);
    // A frame shorter than its Ethernet header.
    h.rx(h.eth0, &[1, 2, 3]);
    assert_eq!(h.drops(DropReason::UnhandledProto), 2);
    // A device that is down.
    h.s.set_up(h.eth0, false).unwrap();
    h.rx(h.eth0, &Ip::echo(PEER, ME).frame());
    assert_eq!(h.drops(DropReason::DevReady), 1);
}

#[test]
fn igmp_is_consumed_and_bad_igmp_dropped() {
    let mut h = Host::new(false);
    let query = icmp(0x11, 100, [0, 0, 0, 0], &[]); // same checksum algorithm
    h.rx(h.eth0, &Ip::new(PEER, ME, 2, query).frame());
    assert!(h.tx().is_empty());
    assert_eq!(h.mib("IpInDelivers"), 1);
    h.rx(
        h.eth0,
        &Ip::new(PEER, ME, 2, vec![0x11, 0, 0, 0, 0, 0, 0, 1]).frame(),
    );
    assert_eq!(h.drops(DropReason::IgmpInvalid), 1);
}

#[test]
fn user_packet_type_handlers_get_their_ethertype() {
    let mut h = Host::new(false);
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let s2 = seen.clone();
    h.s.dev_add_pack(
        0x88b5,
        Box::new(move |_, skb| {
            s2.fetch_add(skb.len(), std::sync::atomic::Ordering::Relaxed);
        }),
    );
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&MAC0.0);
    f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
    h.rx(h.eth0, &f);
    assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 46);
}

#[test]
fn trace_shows_the_kernel_path() {
    let mut h = Host::new(false);
    h.s.drain_trace();
    h.rx(h.eth0, &Ip::echo(PEER, ME).frame());
    let lines = h.s.drain_trace();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let want = [
        "ip_rcv",
        "ip_rcv_finish",
        "ip_route_input_noref",
        "ip_local_deliver",
        "ip_local_deliver_finish",
        "icmp_rcv",
        "icmp_echo",
        "icmp_reply",
        "ip_local_out",
        "ip_output",
        "ip_finish_output",
        "neigh_output",
        "dev_queue_xmit",
    ];
    let mut at = 0;
    for w in want {
        let found = lines[0][at..]
            .find(w)
            .unwrap_or_else(|| panic!("{w} after {at} in {}", lines[0]));
        at += found + w.len();
    }
}

/// The IP options of a reply (RFC 1122 3.2.2.6, Linux ip_options_echo()).
fn reply_options(o: &Out) -> Vec<u8> {
    let ihl = usize::from(o.ip[0] & 0x0f) * 4;
    o.ip[20..ihl].to_vec()
}

#[test]
fn echo_reply_carries_the_record_route_like_ping_r() {
    let mut h = Host::new(false);
    let mut req = Ip::echo(PEER, ME);
    req.options = vec![7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]; // room for two addresses, EOL
    h.rx(h.eth0, &req.frame());
    let got = icmps(h.tx());
    assert_eq!(got.len(), 1);
    let opts = reply_options(&got[0].2);
    assert_eq!(&opts[..3], &[7, 11, 12], "both slots used");
    assert_eq!(&opts[3..7], &ME.octets(), "recorded on receive");
    assert_eq!(
        &opts[7..11],
        &ME.octets(),
        "recorded again on the reply, as Linux does"
    );
}

#[test]
fn echo_reply_reverses_a_completed_source_route() {
    let mut h = Host::new(false);
    h.s.set_sysctl("accept_source_route", "1").unwrap();
    let hop = Ipv4Addr::new(10, 0, 0, 9);
    let hop_mac = EthernetAddress([2, 0, 0, 0, 0, 9]);
    h.s.add_neigh_static(h.eth0, hop, hop_mac);
    let mut req = Ip::echo(PEER, ME);
    req.options = vec![131, 7, 8, 10, 0, 0, 9, 0]; // LSRR that came through 10.0.0.9
    h.rx(h.eth0, &req.frame());
    let got = icmps(h.tx());
    assert_eq!(got.len(), 1);
    let o = &got[0].2;
    assert_eq!(
        (o.dst, o.eth_dst),
        (hop, hop_mac),
        "sent to the route's last hop"
    );
    assert_eq!(
        &reply_options(o),
        &[131, 7, 4, 10, 0, 0, 2, 0],
        "reversed: on to the source"
    );
}

#[test]
fn udp_lite_to_a_closed_port_counts_in_its_own_mib() {
    let mut h = Host::new(false);
    let mut d = vec![0u8; 8 + 4];
    d[8..].copy_from_slice(b"lite");
    skiff_wire::udp::UdpLiteRepr {
        src_port: 5000,
        dst_port: 9,
        coverage: 8,
    }
    .emit(&mut d, PEER, ME, skiff_wire::TxChecksum::Full)
    .unwrap();
    h.rx(h.eth0, &Ip::new(PEER, ME, 136, d).frame());
    let got = icmps(h.tx());
    assert_eq!((got[0].0, got[0].1), (3, 3));
    assert_eq!(h.mib("UdpLiteNoPorts"), 1);
    assert_eq!(h.mib("UdpNoPorts"), 0);
}

#[test]
fn a_nonlinear_datagram_is_received_like_a_linear_one() {
    let mut h = Host::new(false);
    let frame = Ip::echo(PEER, ME).frame();
    let mut skb = h.s.alloc_skb(64).unwrap();
    skb.put_slice(&frame[..40]).unwrap(); // Ethernet, IPv4 and 6 bytes of ICMP
    let mut rest = skiff_core::skb::SkBuff::new(0, frame.len() - 40).unwrap();
    rest.put_slice(&frame[40..]).unwrap();
    skb.frag_list.push(rest);
    h.s.netif_receive(h.now, h.eth0, skb);
    let got = icmps(h.tx());
    assert_eq!(got.len(), 1, "{:?}", h.s.drain_trace());
    assert_eq!(&got[0].2.payload[4..], &Ip::echo(PEER, ME).payload[4..]);
}
