//! ICMP timestamp requests and the IP Timestamp option (RFC 792, RFC 781; Linux icmp.c
//! icmp_timestamp(), ip_options.c): the stack's wall clock is `now` + a fixed offset.

mod common;

use common::*;
use core::time::Duration;
use skiff_core::drop::DropReason;
use skiff_core::sim::{SIM_REALTIME_OFFSET, Sim};
use skiff_core::{Stack, StackConfig};
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::EthernetAddress;

/// 20 000 days and one hour past the Unix epoch: the wall clock reads 01:00:10.000 UT at
/// the Host's `now` of 10 s.
const OFFSET: Duration = Duration::from_secs(20_000 * 86_400 + 3_600);
/// Milliseconds since midnight UT at `now` = 10 s.
const T: u32 = 3_610_000;

fn host() -> Host {
    let mut h = Host::new(false);
    h.s.set_realtime_offset(OFFSET);
    h
}

fn router() -> Host {
    let mut h = Host::new(true);
    h.s.set_realtime_offset(OFFSET);
    h
}

/// An ICMP timestamp request (type 13) with identifier 0x1234, sequence 7, originate
/// 12345, and `extra` bytes after the 12 of timestamps.
fn ts_request(extra: usize) -> Vec<u8> {
    let mut data = vec![
        0, 0, 0x30, 0x39, 0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb, 0xbb, 0xbb,
    ];
    data.extend(std::iter::repeat_n(0xcc, extra));
    icmp(13, 0, [0x12, 0x34, 0, 7], &data)
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The option area of a transmitted packet.
fn options_of(o: &Out) -> Vec<u8> {
    let ihl = usize::from(o.ip[0] & 0x0f) * 4;
    o.ip[20..ihl].to_vec()
}

#[test]
fn timestamp_request_gets_a_reply_with_our_time() {
    let mut h = host();
    h.rx(h.eth0, &Ip::new(PEER, ME, 1, ts_request(0)).frame());
    let got = icmps(h.tx());
    assert_eq!(got.len(), 1);
    let (t, c, o) = &got[0];
    assert_eq!((*t, *c), (14, 0), "timestamp reply");
    assert_eq!((o.src, o.dst), (ME, PEER));
    let m = &o.payload;
    assert_eq!(m.len(), 20);
    assert_eq!(
        &m[4..8],
        &[0x12, 0x34, 0, 7],
        "identifier and sequence kept"
    );
    assert_eq!(be32(&m[8..]), 12345, "originate copied");
    assert_eq!(be32(&m[12..]), T, "receive: ms since midnight UT");
    assert_eq!(be32(&m[16..]), T, "transmit");
    assert_eq!(h.mib("IcmpInTimestamps"), 1);
    assert_eq!(h.mib("IcmpOutTimestampReps"), 1);
    assert_eq!(h.mib("IcmpInErrors"), 0);
}

#[test]
fn timestamp_follows_the_clock_and_wraps_at_midnight() {
    let mut h = host();
    // 22:59:50 UT + 10 s of `now` = 23:00:00.
    h.s.set_realtime_offset(Duration::from_secs(86_400 + 23 * 3600 - 10));
    h.advance(Duration::from_millis(1_234));
    h.rx(h.eth0, &Ip::new(PEER, ME, 1, ts_request(0)).frame());
    let got = icmps(h.tx());
    assert_eq!(be32(&got[0].2.payload[12..]), 23 * 3_600_000 + 1_234);
    h.advance(Duration::from_secs(3600));
    h.rx(h.eth0, &Ip::new(PEER, ME, 1, ts_request(0)).frame());
    let got = icmps(h.tx());
    assert_eq!(
        be32(&got[0].2.payload[16..]),
        1_234,
        "past midnight: from 0 again"
    );
}

#[test]
fn timestamp_reply_is_twenty_bytes_whatever_the_request_carries() {
    let mut h = host();
    h.rx(h.eth0, &Ip::new(PEER, ME, 1, ts_request(40)).frame());
    let got = icmps(h.tx());
    assert_eq!(
        got[0].2.payload.len(),
        20,
        "the trailing bytes are not echoed"
    );
    // Linux wants only the originate timestamp: 4 bytes after the header.
    let short = icmp(13, 0, [0x12, 0x34, 0, 8], &[0, 0, 0, 9]);
    h.rx(h.eth0, &Ip::new(PEER, ME, 1, short).frame());
    let got = icmps(h.tx());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].2.payload.len(), 20);
    assert_eq!(be32(&got[0].2.payload[8..]), 9);
    assert_eq!(h.mib("IcmpOutTimestampReps"), 2);
}

#[test]
fn short_timestamp_request_is_an_error() {
    let mut h = host();
    let short = icmp(13, 0, [0x12, 0x34, 0, 8], &[0, 0, 0]);
    h.rx(h.eth0, &Ip::new(PEER, ME, 1, short).frame());
    assert!(h.tx().is_empty());
    assert_eq!(h.mib("IcmpInTimestamps"), 1, "counted by type first");
    assert_eq!(h.mib("IcmpInErrors"), 1);
    assert_eq!(h.drops(DropReason::IcmpInErrors), 1);
    assert_eq!(h.mib("IcmpOutTimestampReps"), 0);
}

#[test]
fn broadcast_timestamp_request_follows_icmp_echo_ignore_broadcasts() {
    let mut h = host();
    let mut req = Ip::new(PEER, Ipv4Addr::new(10, 0, 0, 255), 1, ts_request(0));
    req.eth_dst = EthernetAddress::BROADCAST;
    h.rx(h.eth0, &req.frame());
    assert!(h.tx().is_empty(), "ignored by default");
    assert_eq!(h.mib("IcmpInErrors"), 1);
    h.s.set_sysctl("icmp_echo_ignore_broadcasts", "0").unwrap();
    h.rx(h.eth0, &req.frame());
    let got = icmps(h.tx());
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].0, got[0].2.src),
        (14, ME),
        "from our unicast address"
    );
}

#[test]
fn address_mask_requests_are_not_answered() {
    let mut h = host();
    h.rx(
        h.eth0,
        &Ip::new(PEER, ME, 1, icmp(17, 0, [0, 1, 0, 1], &[0; 4])).frame(),
    );
    assert!(h.tx().is_empty());
    assert_eq!(h.mib("IcmpInAddrMasks"), 1);
    assert_eq!(h.mib("IcmpInErrors"), 0);
}

/// Echo request to us with `options`; returns the reply's options.
fn echo_options(h: &mut Host, options: Vec<u8>) -> Vec<u8> {
    let mut req = Ip::echo(PEER, ME);
    req.options = options;
    h.rx(h.eth0, &req.frame());
    let got = icmps(h.tx());
    assert_eq!(got.len(), 1, "one reply");
    assert_eq!(got[0].0, 0);
    options_of(&got[0].2)
}

#[test]
fn ts_only_gets_our_time_on_receive_and_on_the_reply_like_ping_t_tsonly() {
    let mut h = host();
    let mut o = vec![68, 16, 5, 0];
    o.extend([0; 12]);
    let got = echo_options(&mut h, o);
    assert_eq!(&got[..4], &[68, 16, 13, 0], "two slots used");
    assert_eq!(
        be32(&got[4..]),
        T,
        "written by ip_options_compile on receive"
    );
    assert_eq!(
        be32(&got[8..]),
        T,
        "written by ip_options_build on the reply"
    );
    assert_eq!(&got[12..16], &[0; 4], "the third slot left for the sender");
}

#[test]
fn ts_and_addr_records_our_address_with_each_time() {
    let mut h = host();
    let mut o = vec![68, 20, 5, 1];
    o.extend([0; 16]);
    let got = echo_options(&mut h, o);
    assert_eq!(&got[..4], &[68, 20, 21, 1]);
    assert_eq!(&got[4..8], &ME.octets());
    assert_eq!(be32(&got[8..]), T);
    assert_eq!(&got[12..16], &ME.octets());
    assert_eq!(be32(&got[16..]), T);
}

#[test]
fn prespecified_timestamps_only_for_our_addresses() {
    let mut h = host();
    let other = Ipv4Addr::new(10, 9, 9, 9);
    // Our address first, then someone else's: our slot filled on receive, none on the reply.
    let mut o = vec![68, 20, 5, 3];
    o.extend(ME.octets());
    o.extend([0; 4]);
    o.extend(other.octets());
    o.extend([0; 4]);
    let got = echo_options(&mut h, o);
    assert_eq!(&got[..4], &[68, 20, 13, 3]);
    assert_eq!(be32(&got[8..]), T);
    assert_eq!(
        &got[12..20],
        &[10, 9, 9, 9, 0, 0, 0, 0],
        "not ours: left alone"
    );
    // Someone else's first: nothing written, the pointer stays.
    let mut o = vec![68, 12, 5, 3];
    o.extend(other.octets());
    o.extend([0; 4]);
    let got = echo_options(&mut h, o.clone());
    assert_eq!(got, o);
    // Ours twice: the reply takes the second.
    let mut o = vec![68, 20, 5, 3];
    for _ in 0..2 {
        o.extend(ME.octets());
        o.extend([0; 4]);
    }
    let got = echo_options(&mut h, o);
    assert_eq!(&got[..4], &[68, 20, 21, 3]);
    assert_eq!((be32(&got[8..]), be32(&got[16..])), (T, T));
}

#[test]
fn full_option_counts_the_hop_in_its_overflow() {
    let mut h = host();
    let o = vec![68, 8, 9, 0x20, 0, 0, 0, 1];
    let got = echo_options(&mut h, o);
    assert_eq!(
        got,
        vec![68, 8, 9, 0x30, 0, 0, 0, 1],
        "overflow 2 -> 3 on receive; the reply has no room and adds nothing"
    );
    // A full prespecified option is not counted.
    let o = vec![68, 12, 13, 0x23, 10, 0, 0, 1, 0, 0, 0, 1];
    assert_eq!(echo_options(&mut h, o.clone()), o);
}

#[test]
fn overflowing_overflow_answers_parameter_problem() {
    let mut h = host();
    let mut req = Ip::echo(PEER, ME);
    req.options = vec![68, 8, 9, 0xf0, 0, 0, 0, 1];
    h.rx(h.eth0, &req.frame());
    let got = icmps(h.tx());
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].0, got[0].1), (12, 0));
    assert_eq!(got[0].2.payload[4], 23, "pointer at the overflow/flag byte");
    // A pointer leaving no room for an address and a time.
    let mut req = Ip::echo(PEER, ME);
    req.options = vec![68, 8, 5, 1, 0, 0, 0, 0];
    h.rx(h.eth0, &req.frame());
    let got = icmps(h.tx());
    assert_eq!((got[0].0, got[0].2.payload[4]), (12, 22));
}

#[test]
fn unknown_flag_is_left_alone() {
    let mut h = host();
    let o = vec![68, 12, 5, 2, 0, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(echo_options(&mut h, o.clone()), o);
}

#[test]
fn forwarded_packet_gets_its_slot_and_a_valid_checksum() {
    let mut r = router();
    let mut p = Ip::udp(PEER, PEER1, 7, b"ts");
    p.options = vec![68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    r.rx(r.eth0, &p.frame());
    let out = outs(r.tx());
    assert_eq!(out.len(), 1, "Out::parse checked the header checksum");
    let o = options_of(&out[0]);
    assert_eq!(&o[..4], &[68, 12, 9, 0]);
    assert_eq!(be32(&o[4..]), T);
    assert_eq!(&o[8..], &[0; 4]);

    let mut p = Ip::udp(PEER, PEER1, 7, b"ts");
    p.options = vec![68, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    r.rx(r.eth0, &p.frame());
    let out = outs(r.tx());
    let o = options_of(&out[0]);
    assert_eq!(&o[..4], &[68, 12, 13, 1]);
    assert_eq!(&o[4..8], &ME.octets(), "our address facing the source");
    assert_eq!(be32(&o[8..]), T);

    // Full: only the overflow counter moves.
    let mut p = Ip::udp(PEER, PEER1, 7, b"ts");
    p.options = vec![68, 8, 9, 0, 0, 0, 0, 1];
    r.rx(r.eth0, &p.frame());
    let out = outs(r.tx());
    assert_eq!(options_of(&out[0]), vec![68, 8, 9, 0x10, 0, 0, 0, 1]);
}

#[test]
fn source_routed_forward_records_the_outgoing_address_with_the_time() {
    let mut r = router();
    r.s.set_sysctl("accept_source_route", "1").unwrap();
    let mut p = Ip::udp(PEER, ME, 7, b"ts");
    // LSRR: on to 10.0.1.2; then TS+address with one slot.
    p.options = vec![
        131, 7, 4, 10, 0, 1, 2, 1, 68, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    r.rx(r.eth0, &p.frame());
    let out = outs(r.tx());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].dst, PEER1);
    let o = options_of(&out[0]);
    assert_eq!(&o[8..12], &[68, 12, 13, 1]);
    assert_eq!(
        &o[12..16],
        &ME1.octets(),
        "the outgoing interface's address"
    );
    assert_eq!(be32(&o[16..]), T);
}

#[test]
fn sim_stacks_answer_with_the_fixed_wall_clock() {
    let mut sim = Sim::new(7);
    let lan = sim.add_link("lan", 1500);
    let mut hosts = Vec::new();
    for (i, mac) in [(1u8, MAC0), (2, PEER_MAC)] {
        let h = sim.add_stack(Stack::new(StackConfig {
            cap_net_raw: true,
            seed: u64::from(i),
            ..StackConfig::default()
        }));
        let dev = sim.attach(h, "eth0", mac, lan).unwrap();
        sim.stack(h)
            .add_addr(dev, Ipv4Addr::new(10, 0, 0, i), 24)
            .unwrap();
        hosts.push(h);
    }
    sim.run();
    assert_eq!(
        sim.stack_ref(hosts[1]).realtime_offset(),
        SIM_REALTIME_OFFSET
    );
    let sock = sim.stack(hosts[0]).raw_socket(1).unwrap();
    let now = sim.now;
    sim.stack(hosts[0])
        .raw_sendto(now, sock, PEER, &ts_request(0))
        .unwrap();
    sim.run();
    let reply = sim.stack(hosts[0]).raw_recv(sock).unwrap();
    let m = &reply.packet[20..];
    assert_eq!((reply.src, m[0]), (PEER, 14));
    let real = Duration::from_nanos(now.as_nanos()) + SIM_REALTIME_OFFSET;
    let want = (real.as_millis() % 86_400_000) as u32;
    assert_eq!((be32(&m[12..]), be32(&m[16..])), (want, want));
    assert_eq!(want, 47_656_500, "13:14:16.5 UT at the sim's first second");
}

/// What the first packet out carries in its option area.
fn sent_options(h: &mut Host) -> Vec<u8> {
    let out = outs(h.tx());
    let o = out
        .iter()
        .find(|o| o.ethertype == 0x0800)
        .expect("a packet out");
    options_of(o)
}

#[test]
fn socket_options_get_our_stamp_on_every_packet_like_ip_options_build() {
    use skiff_core::socket::{AF_INET, SOCK_DGRAM, SockOpt};
    let mut h = host();
    // ping -T tsonly: 9 slots, the first ours (Linux's setsockopt moves the pointer
    // past it, ip_options_build() fills it per packet).
    let ping = h.s.raw_socket(1).unwrap();
    let mut o = vec![68, 40, 5, 0];
    o.extend([0; 36]);
    h.s.setsockopt(ping, SockOpt::Options(o)).unwrap();
    for seq in 1..=2 {
        h.s.raw_sendto(h.now, ping, PEER, &icmp(8, 0, [0, 1, 0, seq], b"ts"))
            .unwrap();
        let got = sent_options(&mut h);
        assert_eq!(&got[..4], &[68, 40, 9, 0], "one slot used, every time");
        assert_eq!(be32(&got[4..]), T);
        assert_eq!(&got[8..], &[0; 32]);
    }
    // ping -T tsandaddr on a UDP socket, with a record route before it.
    let udp = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    let mut o = vec![7, 11, 4];
    o.extend([0; 8]);
    o.extend([1, 68, 12, 5, 1]);
    o.extend([0; 8]);
    h.s.setsockopt(udp, SockOpt::Options(o)).unwrap();
    h.s.sendto(
        h.now,
        udp,
        b"x",
        0,
        Some(std::net::SocketAddrV4::new(PEER, 9).into()),
    )
    .unwrap();
    let got = sent_options(&mut h);
    assert_eq!(&got[..3], &[7, 11, 8]);
    assert_eq!(&got[3..7], &ME.octets(), "our source in the record route");
    assert_eq!(&got[7..11], &[0; 4]);
    assert_eq!(&got[12..16], &[68, 12, 13, 1]);
    assert_eq!(&got[16..20], &ME.octets());
    assert_eq!(be32(&got[20..]), T);
    // A full option stays as it is; a prespecified address not ours is skipped.
    let full = vec![
        68, 12, 13, 0, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
    ];
    h.s.setsockopt(ping, SockOpt::Options(full.clone()))
        .unwrap();
    h.s.raw_sendto(h.now, ping, PEER, &icmp(8, 0, [0, 1, 0, 3], b"ts"))
        .unwrap();
    assert_eq!(sent_options(&mut h), full);
    let mut prespec = vec![68, 12, 5, 3];
    prespec.extend(PEER.octets());
    prespec.extend([0; 4]);
    h.s.setsockopt(ping, SockOpt::Options(prespec.clone()))
        .unwrap();
    h.s.raw_sendto(h.now, ping, PEER, &icmp(8, 0, [0, 1, 0, 4], b"ts"))
        .unwrap();
    assert_eq!(sent_options(&mut h), prespec);
    prespec[4..8].copy_from_slice(&ME.octets());
    h.s.setsockopt(ping, SockOpt::Options(prespec)).unwrap();
    h.s.raw_sendto(h.now, ping, PEER, &icmp(8, 0, [0, 1, 0, 5], b"ts"))
        .unwrap();
    let got = sent_options(&mut h);
    assert_eq!(&got[..4], &[68, 12, 13, 3]);
    assert_eq!(&got[4..8], &ME.octets());
    assert_eq!(be32(&got[8..]), T);
}
