//! IGMP host side on the virtual clock: unsolicited reports on join and leave, query
//! answers, the older-version compatibility modes, source filters with their records
//! and errnos, and /proc/net/igmp + /proc/net/mcfilter. Linux net/ipv4/igmp.c.

mod common;

use common::*;
use core::time::Duration;
use skiff_core::errno::Errno;
use skiff_core::socket::*;
use skiff_core::time::Instant;
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::EthernetAddress;
use skiff_wire::igmp::{IgmpPacket, IgmpRepr, IgmpV3Query, IgmpVersion, RecordType, SourceList};
use std::net::SocketAddrV4;

const G: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 3);
const G2: Ipv4Addr = Ipv4Addr::new(239, 9, 9, 9);
const S1: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 7);
const S2: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 8);
const ROUTER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 254);
const ALL_HOSTS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 1);

/// An IGMP message skiff sent, read back with skiff-wire.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Msg {
    V3(Vec<(RecordType, Ipv4Addr, Vec<Ipv4Addr>)>),
    V2(Ipv4Addr),
    V1(Ipv4Addr),
    Leave(Ipv4Addr),
}

/// Checks what every report carries (RFC 3376 §4, RFC 2236 §2: TTL 1, Router Alert; Linux:
/// TOS 0xc0, DF, ID 0, from the device address) and parses the message.
fn igmp(o: &Out) -> Msg {
    assert_eq!(o.protocol, 2);
    assert_eq!((o.ttl, o.tos, o.df, o.ident), (1, 0xc0, true, 0), "{o:?}");
    assert_eq!(o.src, ME);
    // The IP header (checked by etherparse too) holds the Router Alert option.
    let (ip, _) = etherparse::Ipv4Header::from_slice(&o.ip).unwrap();
    assert_eq!(ip.options.as_slice(), &[0x94, 4, 0, 0]);
    // The link-layer destination is the IP group's multicast MAC (RFC 1112 §6.4).
    let d = o.dst.octets();
    assert_eq!(
        o.eth_dst,
        EthernetAddress([0x01, 0, 0x5e, d[1] & 0x7f, d[2], d[3]])
    );
    assert_eq!(
        skiff_wire::checksum::csum_fold(skiff_wire::checksum::csum_partial(&o.payload, 0)),
        0,
        "IGMP checksum"
    );
    let p = IgmpPacket::new_checked(&o.payload[..]).unwrap();
    match IgmpRepr::parse(&p, skiff_wire::RxChecksum::Verify).unwrap() {
        IgmpRepr::MembershipReportV3 { records } => {
            assert_eq!(o.dst, Ipv4Addr::new(224, 0, 0, 22));
            Msg::V3(
                records
                    .iter()
                    .map(|r| (r.record_type(), r.group(), r.sources().iter().collect()))
                    .collect(),
            )
        }
        IgmpRepr::MembershipReportV2 { group } => {
            assert_eq!(o.dst, group);
            Msg::V2(group)
        }
        IgmpRepr::MembershipReportV1 { group } => {
            assert_eq!(o.dst, group);
            Msg::V1(group)
        }
        IgmpRepr::LeaveGroup { group } => {
            assert_eq!(o.dst, Ipv4Addr::new(224, 0, 0, 2));
            Msg::Leave(group)
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// Runs the timers for `d`, returning every IGMP message sent with its time.
fn run(h: &mut Host, d: Duration) -> Vec<(Instant, Msg)> {
    let target = h.now + d;
    let mut got = Vec::new();
    let collect = |h: &mut Host, got: &mut Vec<(Instant, Msg)>| {
        for o in outs(h.tx()) {
            if o.protocol == 2 {
                got.push((h.now, igmp(&o)));
            }
        }
    };
    collect(h, &mut got);
    while let Some(t) = h.s.poll_timeout().filter(|&t| t <= target) {
        h.now = h.now.max(t);
        h.s.handle_timeout(h.now);
        collect(h, &mut got);
    }
    h.now = target;
    got
}

fn msgs(v: &[(Instant, Msg)]) -> Vec<Msg> {
    v.iter().map(|(_, m)| m.clone()).collect()
}

fn mreq(h: &Host, group: Ipv4Addr) -> IpMreqn {
    IpMreqn {
        multiaddr: group,
        address: Ipv4Addr::UNSPECIFIED,
        ifindex: h.eth0,
    }
}

fn udp_bound(h: &mut Host, port: u16) -> SockFd {
    let fd = h.s.socket(AF_INET, SOCK_DGRAM, 0).unwrap();
    h.s.setsockopt(fd, SockOpt::ReuseAddr(true)).unwrap();
    h.s.bind(fd, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port).into())
        .unwrap();
    fd
}

fn join(h: &mut Host, fd: SockFd, group: Ipv4Addr) {
    let m = mreq(h, group);
    h.s.setsockopt(fd, SockOpt::AddMembership(m)).unwrap();
}

fn leave(h: &mut Host, fd: SockFd, group: Ipv4Addr) {
    let m = mreq(h, group);
    h.s.setsockopt(fd, SockOpt::DropMembership(m)).unwrap();
}

fn rec(rt: RecordType, g: Ipv4Addr, s: &[Ipv4Addr]) -> (RecordType, Ipv4Addr, Vec<Ipv4Addr>) {
    (rt, g, s.to_vec())
}

/// A query from the router to `dst`, as it arrives on eth0.
fn query(h: &mut Host, dst: Ipv4Addr, payload: Vec<u8>) {
    let mut q = Ip::new(ROUTER, dst, 2, payload);
    q.ttl = 1;
    q.options = vec![0x94, 4, 0, 0];
    let d = dst.octets();
    q.eth_dst = EthernetAddress([0x01, 0, 0x5e, d[1] & 0x7f, d[2], d[3]]);
    // Padded to Ethernet's minimum: the IGMP length is the IP payload's (a v2 query is 8).
    let mut f = q.frame();
    f.resize(f.len().max(60), 0);
    h.rx(h.eth0, &f);
}

fn v3_query(group: Ipv4Addr, mrc: u8, sources: &[Ipv4Addr]) -> Vec<u8> {
    let bytes: Vec<u8> = sources.iter().flat_map(|s| s.octets()).collect();
    let repr = IgmpRepr::MembershipQuery {
        max_resp_code: mrc,
        group,
        version: IgmpVersion::V3,
        v3: Some(IgmpV3Query {
            s_flag: false,
            qrv: 2,
            qqic: 125,
            sources: SourceList::new(&bytes).unwrap(),
        }),
    };
    let mut b = vec![0; repr.buffer_len()];
    repr.emit(&mut b).unwrap();
    b
}

fn v12_query(group: Ipv4Addr, code: u8) -> Vec<u8> {
    let repr = IgmpRepr::MembershipQuery {
        max_resp_code: code,
        group,
        version: if code == 0 {
            IgmpVersion::V1
        } else {
            IgmpVersion::V2
        },
        v3: None,
    };
    let mut b = vec![0; 8];
    repr.emit(&mut b).unwrap();
    b
}

/// RFC 3376 §5.1, Linux igmp_group_added() → igmp_ifc_event(): joining sends a
/// CHANGE_TO_EXCLUDE {} record igmp_qrv (2) times: 2 jiffies after the join, then at a
/// random time within the unsolicited report interval (1 s). Counted as IP output
/// (OutRequests, OutMcastPkts), as Linux counts it.
#[test]
fn join_sends_robustness_count_v3_change_reports() {
    let mut h = Host::new(false);
    let fd = udp_bound(&mut h, 5000);
    let (req, mc) = (h.mib("IpOutRequests"), h.mib("IpExtOutMcastPkts"));
    // setsockopt() takes no time: the stack reads its clock from its last event.
    h.s.handle_timeout(h.now);
    let t0 = h.now;
    join(&mut h, fd, G);
    let got = run(&mut h, Duration::from_secs(5));
    let want = Msg::V3(vec![rec(RecordType::ChangeToExclude, G, &[])]);
    assert_eq!(msgs(&got), vec![want.clone(), want]);
    assert_eq!(got[0].0, t0 + Duration::from_millis(2));
    let gap = got[1].0 - got[0].0;
    assert!(
        gap >= Duration::from_millis(2) && gap <= Duration::from_millis(1002),
        "{gap:?}"
    );
    assert_eq!(h.mib("IpOutRequests") - req, 2);
    assert_eq!(h.mib("IpExtOutMcastPkts") - mc, 2);
    // A second socket joining the same group changes nothing on the wire.
    let fd2 = udp_bound(&mut h, 5000);
    join(&mut h, fd2, G);
    assert_eq!(run(&mut h, Duration::from_secs(5)), vec![]);
    // Neither does the first of them leaving; the last one leaving sends
    // CHANGE_TO_INCLUDE {} twice (igmp_group_dropped() → igmpv3_add_delrec()).
    leave(&mut h, fd, G);
    assert_eq!(run(&mut h, Duration::from_secs(5)), vec![]);
    h.s.close(fd2).unwrap();
    let got = run(&mut h, Duration::from_secs(5));
    let want = Msg::V3(vec![rec(RecordType::ChangeToInclude, G, &[])]);
    assert_eq!(msgs(&got), vec![want.clone(), want]);
    // Nothing more is pending.
    assert_eq!(run(&mut h, Duration::from_secs(600)), vec![]);
}

/// 224.0.0.1 is never reported (RFC 2236 §6); other 224.0.0.x are while
/// igmp_link_local_mcast_reports is 1, and not when it is 0.
#[test]
fn all_hosts_is_never_reported_and_link_local_follows_the_sysctl() {
    let mut h = Host::new(false);
    let fd = udp_bound(&mut h, 5000);
    join(&mut h, fd, ALL_HOSTS);
    assert_eq!(run(&mut h, Duration::from_secs(5)), vec![]);
    h.s.set_sysctl("igmp_link_local_mcast_reports", "0")
        .unwrap();
    join(&mut h, fd, Ipv4Addr::new(224, 0, 0, 251));
    assert_eq!(run(&mut h, Duration::from_secs(5)), vec![]);
    h.s.set_sysctl("igmp_link_local_mcast_reports", "1")
        .unwrap();
    join(&mut h, fd, Ipv4Addr::new(224, 0, 0, 252));
    assert_eq!(run(&mut h, Duration::from_secs(5)).len(), 2);
}

/// RFC 3376 §5.2, Linux igmp_heard_query() → igmp_gq_start_timer(): a general query
/// draws one current-state report (MODE_IS_EXCLUDE {} per group) within Max Resp Time.
#[test]
fn general_query_gets_one_report_for_all_groups_within_max_resp_time() {
    let mut h = Host::new(false);
    let fd = udp_bound(&mut h, 5000);
    join(&mut h, fd, G);
    join(&mut h, fd, G2);
    run(&mut h, Duration::from_secs(5));
    let t0 = h.now;
    // Max Resp Code 50: 5 s.
    query(&mut h, ALL_HOSTS, v3_query(Ipv4Addr::UNSPECIFIED, 50, &[]));
    let got = run(&mut h, Duration::from_secs(20));
    assert_eq!(got.len(), 1);
    assert!(got[0].0 - t0 <= Duration::from_millis(5002));
    // Newest membership first, as Linux's list.
    assert_eq!(
        got[0].1,
        Msg::V3(vec![
            rec(RecordType::ModeIsExclude, G2, &[]),
            rec(RecordType::ModeIsExclude, G, &[]),
        ])
    );
    // A group-specific query: a report for that group only.
    query(&mut h, G, v3_query(G, 10, &[]));
    let got = run(&mut h, Duration::from_secs(20));
    assert_eq!(
        msgs(&got),
        vec![Msg::V3(vec![rec(RecordType::ModeIsExclude, G, &[])])]
    );
    // A query for a group not joined draws nothing; a truncated v3 query (9..11 bytes)
    // is dropped.
    query(
        &mut h,
        Ipv4Addr::new(239, 7, 7, 7),
        v3_query(Ipv4Addr::new(239, 7, 7, 7), 10, &[]),
    );
    let before = h.drops(skiff_core::drop::DropReason::IgmpInvalid);
    let mut short = v3_query(G, 10, &[]);
    short.truncate(10);
    short[2] = 0;
    short[3] = 0;
    let c = skiff_wire::checksum::csum_fold(skiff_wire::checksum::csum_partial(&short, 0));
    short[2..4].copy_from_slice(&c.to_be_bytes());
    query(&mut h, G, short);
    assert_eq!(
        h.drops(skiff_core::drop::DropReason::IgmpInvalid),
        before + 1
    );
    assert_eq!(run(&mut h, Duration::from_secs(20)), vec![]);
}

/// RFC 3376 §7.2.1, Linux IGMP_V2_SEEN(): a v2 query switches the device to v2 for the
/// Older Version Querier Present timeout (2 × 125 s + 10 s): v2 reports (to the group, the
/// second within 10 s), one Leave to 224.0.0.2 by the last reporter; then back to v3.
#[test]
fn v2_query_switches_to_v2_until_the_querier_present_timeout() {
    let mut h = Host::new(false);
    let fd = udp_bound(&mut h, 5000);
    query(&mut h, ALL_HOSTS, v12_query(Ipv4Addr::UNSPECIFIED, 100));
    assert!(h.s.render_igmp().contains("eth0      :     1      V2\n"));
    join(&mut h, fd, G);
    let got = run(&mut h, Duration::from_secs(30));
    assert_eq!(msgs(&got), vec![Msg::V2(G), Msg::V2(G)]);
    assert!(got[1].0 - got[0].0 <= Duration::from_millis(10_002));
    // A v2 query for the group: a v2 report within its 10 s.
    query(&mut h, G, v12_query(G, 100));
    let got = run(&mut h, Duration::from_secs(11));
    assert_eq!(msgs(&got), vec![Msg::V2(G)]);
    // Another host's report for the group suppresses ours (igmp_heard_report()).
    query(&mut h, ALL_HOSTS, v12_query(Ipv4Addr::UNSPECIFIED, 100));
    let last_query = h.now;
    let mut other = Ip::new(Ipv4Addr::new(10, 0, 0, 9), G, 2, {
        let mut b = vec![0; 8];
        IgmpRepr::MembershipReportV2 { group: G }
            .emit(&mut b)
            .unwrap();
        b
    });
    other.ttl = 1;
    other.eth_dst = EthernetAddress([0x01, 0, 0x5e, 1, 2, 3]);
    h.rx(h.eth0, &other.frame());
    assert_eq!(run(&mut h, Duration::from_secs(11)), vec![]);
    // Not the last reporter: leaving sends no Leave (Linux checks im->reporter).
    leave(&mut h, fd, G);
    assert_eq!(run(&mut h, Duration::from_secs(1)), vec![]);
    // Joined again and reported: the leave goes out once.
    join(&mut h, fd, G);
    assert_eq!(run(&mut h, Duration::from_secs(30)).len(), 2);
    leave(&mut h, fd, G);
    assert_eq!(
        msgs(&run(&mut h, Duration::from_secs(30))),
        vec![Msg::Leave(G)]
    );
    // 260 s after the last v2 query the device is back to v3 (the stack wakes then).
    let v3_from = last_query + Duration::from_secs(260);
    let wait = v3_from - h.now - Duration::from_secs(1);
    run(&mut h, wait);
    assert!(h.s.render_igmp().contains(" V2\n"));
    run(&mut h, Duration::from_secs(2));
    assert!(h.s.render_igmp().contains(" V3\n"));
    join(&mut h, fd, G);
    let got = run(&mut h, Duration::from_secs(5));
    assert_eq!(
        msgs(&got)[0],
        Msg::V3(vec![rec(RecordType::ChangeToExclude, G, &[])])
    );
}

/// A v1 query (Max Resp Code 0): v1 reports, no leave (RFC 2236 §4).
/// force_igmp_version picks the version without a querier.
#[test]
fn v1_query_and_force_igmp_version() {
    let mut h = Host::new(false);
    let fd = udp_bound(&mut h, 5000);
    query(&mut h, ALL_HOSTS, v12_query(Ipv4Addr::UNSPECIFIED, 0));
    join(&mut h, fd, G);
    assert_eq!(
        msgs(&run(&mut h, Duration::from_secs(30))),
        vec![Msg::V1(G), Msg::V1(G)]
    );
    leave(&mut h, fd, G);
    assert_eq!(run(&mut h, Duration::from_secs(30)), vec![]);

    let mut h = Host::new(false);
    let fd = udp_bound(&mut h, 5000);
    h.s.set_sysctl("net.ipv4.conf.all.force_igmp_version", "2")
        .unwrap();
    join(&mut h, fd, G);
    assert_eq!(
        msgs(&run(&mut h, Duration::from_secs(30))),
        vec![Msg::V2(G), Msg::V2(G)]
    );
    leave(&mut h, fd, G);
    assert_eq!(
        msgs(&run(&mut h, Duration::from_secs(30))),
        vec![Msg::Leave(G)]
    );
    h.s.set_sysctl("net.ipv4.conf.all.force_igmp_version", "0")
        .unwrap();
    join(&mut h, fd, G);
    assert_eq!(run(&mut h, Duration::from_secs(30)).len(), 2);
    leave(&mut h, fd, G);
    run(&mut h, Duration::from_secs(30));

    // igmp_qrv is read when the device's multicast state starts (Linux: ip_mc_up()).
    let mut h = Host::new(false);
    let fd = udp_bound(&mut h, 5000);
    h.s.set_sysctl("igmp_qrv", "3").unwrap();
    join(&mut h, fd, G);
    assert_eq!(
        run(&mut h, Duration::from_secs(30)).len(),
        3,
        "igmp_qrv reports"
    );
    h.s.set_sysctl("igmp_qrv", "1").unwrap();
    leave(&mut h, fd, G);
    assert_eq!(
        run(&mut h, Duration::from_secs(30)).len(),
        3,
        "the device's qrv"
    );
}

/// Source filters: IP_ADD_SOURCE_MEMBERSHIP → ALLOW {S}, IP_BLOCK_SOURCE → BLOCK {S},
/// ip_mc_sf_allow() on receive, and Linux's errnos and limits.
#[test]
fn source_filters_records_delivery_and_errnos() {
    let mut h = Host::new(false);
    let a = udp_bound(&mut h, 6000);
    let src = |s| IpMreqSource {
        multiaddr: G,
        interface: ME,
        sourceaddr: s,
    };
    h.s.setsockopt(a, SockOpt::AddSourceMembership(src(S1)))
        .unwrap();
    let got = run(&mut h, Duration::from_secs(5));
    let allow = Msg::V3(vec![rec(RecordType::AllowNewSources, G, &[S1])]);
    assert_eq!(msgs(&got), vec![allow.clone(), allow]);
    assert_eq!(
        h.s.setsockopt(a, SockOpt::AddSourceMembership(src(S1))),
        Err(SockError::AddrNotAvail)
    );
    // An INCLUDE membership cannot block.
    assert_eq!(
        h.s.setsockopt(a, SockOpt::BlockSource(src(S2))),
        Err(SockError::Inval)
    );
    // Delivery: only S1's datagrams reach the socket.
    for (s, data) in [(S2, b"no"), (S1, b"ok")] {
        let mut d = Ip::udp(s, G, 6000, data);
        d.eth_dst = EthernetAddress([0x01, 0, 0x5e, 1, 2, 3]);
        d.eth_src = EthernetAddress([2, 0, 0, 0, 0, 9]);
        h.rx(h.eth0, &d.frame());
    }
    let mut buf = [0u8; 8];
    let m = h.s.recvmsg(a, &mut buf, MSG_DONTWAIT).unwrap();
    assert_eq!(&buf[..m.len], b"ok");
    assert!(h.s.recvmsg(a, &mut buf, MSG_DONTWAIT).is_err());
    assert_eq!(
        h.s.render_mcfilter(),
        "Idx Device        MCA        SRC    INC    EXC\n  2   eth0 0xef010203 0x0a000007      1      0\n"
    );
    // A second socket joins any-source: the mode changes to EXCLUDE (TO_EX {}); it then
    // blocks S2: S2 is excluded by every excluder, BLOCK {S2}.
    let b = udp_bound(&mut h, 6000);
    join(&mut h, b, G);
    let got = run(&mut h, Duration::from_secs(5));
    assert_eq!(
        msgs(&got)[0],
        Msg::V3(vec![rec(RecordType::ChangeToExclude, G, &[])])
    );
    h.s.setsockopt(b, SockOpt::BlockSource(src(S2))).unwrap();
    let got = run(&mut h, Duration::from_secs(5));
    let block = Msg::V3(vec![rec(RecordType::BlockOldSources, G, &[S2])]);
    assert_eq!(msgs(&got), vec![block.clone(), block]);
    assert_eq!(
        h.s.setsockopt(b, SockOpt::UnblockSource(src(S1))),
        Err(SockError::AddrNotAvail)
    );
    // Dropping the last included source is leaving: TO_EX stays (b), the filter on S1
    // goes; the device filter on S2 stays.
    h.s.setsockopt(a, SockOpt::DropSourceMembership(src(S1)))
        .unwrap();
    assert_eq!(
        h.s.setsockopt(a, SockOpt::DropSourceMembership(src(S1))),
        Err(SockError::Inval)
    );
    assert_eq!(
        h.s.render_mcfilter(),
        "Idx Device        MCA        SRC    INC    EXC\n  2   eth0 0xef010203 0x0a000008      0      1\n"
    );
    // igmp_max_msf: the 11th source is ENOBUFS.
    let g3 = Ipv4Addr::new(239, 3, 3, 3);
    for i in 1..=10u8 {
        let r = IpMreqSource {
            multiaddr: g3,
            interface: ME,
            sourceaddr: Ipv4Addr::new(10, 9, 0, i),
        };
        h.s.setsockopt(a, SockOpt::AddSourceMembership(r)).unwrap();
    }
    let r = IpMreqSource {
        multiaddr: g3,
        interface: ME,
        sourceaddr: Ipv4Addr::new(10, 9, 0, 11),
    };
    assert_eq!(
        h.s.setsockopt(a, SockOpt::AddSourceMembership(r)),
        Err(SockError::NoBufs)
    );
    let msf = IpMsfilter {
        multiaddr: g3,
        interface: ME,
        fmode: SfMode::Exclude,
        sources: (1..=11).map(|i| Ipv4Addr::new(10, 8, 0, i)).collect(),
    };
    assert_eq!(
        h.s.setsockopt(a, SockOpt::MsFilter(msf)),
        Err(SockError::NoBufs)
    );
    // IP_MSFILTER (EXCLUDE, {S1}) replaces the ten included sources.
    let msf = IpMsfilter {
        multiaddr: g3,
        interface: ME,
        fmode: SfMode::Exclude,
        sources: vec![S1],
    };
    h.s.setsockopt(a, SockOpt::MsFilter(msf)).unwrap();
    let f = h.s.render_mcfilter();
    assert!(f.contains("0xef030303 0x0a000007      0      1\n"), "{f}");
    assert_eq!(h.s.ip_mc_msfget(a, g3, ME), Ok((SfMode::Exclude, vec![S1])));
    assert_eq!(
        h.s.ip_mc_msfget(a, Ipv4Addr::new(239, 4, 4, 4), ME),
        Err(SockError::AddrNotAvail)
    );
    assert_eq!(h.s.ip_mc_msfget(a, PEER, ME), Err(SockError::Inval));
    assert!(!f.contains("0x0a090001"), "{f}");
    // Block on a group not joined: EINVAL; a non-multicast group: EINVAL.
    let nj = IpMreqSource {
        multiaddr: Ipv4Addr::new(239, 4, 4, 4),
        interface: ME,
        sourceaddr: S1,
    };
    assert_eq!(
        h.s.setsockopt(a, SockOpt::BlockSource(nj)),
        Err(SockError::Inval)
    );
    let uc = IpMreqSource {
        multiaddr: PEER,
        ..nj
    };
    assert_eq!(
        h.s.setsockopt(a, SockOpt::BlockSource(uc)),
        Err(SockError::Inval)
    );
    // MCAST_JOIN_SOURCE_GROUP is the same as IP_ADD_SOURCE_MEMBERSHIP, by index.
    let gs = GroupSourceReq {
        ifindex: h.eth0,
        group: Ipv4Addr::new(239, 5, 5, 5),
        source: S2,
    };
    h.s.setsockopt(b, SockOpt::McastJoinSourceGroup(gs))
        .unwrap();
    assert!(
        h.s.render_mcfilter()
            .contains("0xef050505 0x0a000008      1      0\n")
    );
    h.s.setsockopt(b, SockOpt::McastLeaveSourceGroup(gs))
        .unwrap();
    assert!(!h.s.render_mcfilter().contains("0xef050505"));
}

/// igmp_max_memberships (20): the 21st group of a socket is ENOBUFS.
#[test]
fn max_memberships_is_enobufs() {
    let mut h = Host::new(false);
    let fd = udp_bound(&mut h, 5000);
    for i in 1..=20u8 {
        join(&mut h, fd, Ipv4Addr::new(239, 0, 1, i));
    }
    assert_eq!(
        h.s.setsockopt(
            fd,
            SockOpt::AddMembership(mreq(&h, Ipv4Addr::new(239, 0, 1, 21)))
        ),
        Err(SockError::NoBufs)
    );
    h.s.set_sysctl("igmp_max_memberships", "21").unwrap();
    join(&mut h, fd, Ipv4Addr::new(239, 0, 1, 21));
    // One v3 report carries all the records of one change timer run.
    let got = run(&mut h, Duration::from_secs(5));
    match &got[0].1 {
        Msg::V3(r) => assert_eq!(r.len(), 21),
        m => panic!("{m:?}"),
    }
}

/// IP_MULTICAST_ALL (default 1): a socket that joined nothing still gets multicast on its
/// port; with 0 only groups it joined.
#[test]
fn multicast_all_off_takes_only_joined_groups() {
    let mut h = Host::new(false);
    let member = udp_bound(&mut h, 7000);
    let other = udp_bound(&mut h, 7000);
    join(&mut h, member, G);
    assert_eq!(h.s.getsockopt(other, SockOptName::MulticastAll), Ok(1));
    h.s.setsockopt(other, SockOpt::MulticastAll(false)).unwrap();
    let mut d = Ip::udp(PEER, G, 7000, b"x");
    d.eth_dst = EthernetAddress([0x01, 0, 0x5e, 1, 2, 3]);
    h.rx(h.eth0, &d.frame());
    let mut buf = [0u8; 4];
    assert!(h.s.recvmsg(member, &mut buf, MSG_DONTWAIT).is_ok());
    assert!(h.s.recvmsg(other, &mut buf, MSG_DONTWAIT).is_err());
}

/// /proc/net/igmp as Linux prints it: per device the count and querier version, then per
/// group the address as a host-order hex word, users, timer (running:ticks) and reporter.
#[test]
fn proc_net_igmp_format() {
    let mut h = Host::new(false);
    let fd = udp_bound(&mut h, 5000);
    join(&mut h, fd, G);
    run(&mut h, Duration::from_secs(5));
    assert_eq!(
        h.s.render_igmp(),
        "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n\
         1\tlo        :     1      V3\n\
         \t\t\t\t010000E0     1 0:00000000\t\t0\n\
         2\teth0      :     2      V3\n\
         \t\t\t\t030201EF     1 0:00000000\t\t0\n\
         \t\t\t\t010000E0     1 0:00000000\t\t0\n"
    );
    // A group-specific query starts the group's timer: running, ticks in 1/100 s.
    query(&mut h, G, v3_query(G, 100, &[]));
    let s = h.s.render_igmp();
    let line = s.lines().find(|l| l.contains("030201EF")).unwrap();
    assert!(line.contains(" 1:0000"), "{line}");
    run(&mut h, Duration::from_secs(11));
    let s = h.s.render_igmp();
    let line = s.lines().find(|l| l.contains("030201EF")).unwrap();
    assert!(line.ends_with("0:00000000\t\t1"), "{line}");
}

/// RFC 3376 §5.2, Linux igmp_marksources(): a group-and-source-specific query is answered
/// with the queried sources the filter includes (IS_IN {S1}); an EXCLUDE filter that
/// blocks every queried source does not answer.
#[test]
fn group_and_source_specific_query() {
    let mut h = Host::new(false);
    let a = udp_bound(&mut h, 6000);
    for s in [S1, S2] {
        let r = IpMreqSource {
            multiaddr: G,
            interface: ME,
            sourceaddr: s,
        };
        h.s.setsockopt(a, SockOpt::AddSourceMembership(r)).unwrap();
    }
    run(&mut h, Duration::from_secs(5));
    let other = Ipv4Addr::new(10, 0, 0, 99);
    query(&mut h, G, v3_query(G, 20, &[S1, other]));
    let got = run(&mut h, Duration::from_secs(5));
    assert_eq!(
        msgs(&got),
        vec![Msg::V3(vec![rec(RecordType::ModeIsInclude, G, &[S1])])]
    );
    // A query for sources not included: nothing to say.
    query(&mut h, G, v3_query(G, 20, &[other]));
    assert_eq!(run(&mut h, Duration::from_secs(5)), vec![]);

    let mut h = Host::new(false);
    let b = udp_bound(&mut h, 6000);
    join(&mut h, b, G2);
    let blk = IpMreqSource {
        multiaddr: G2,
        interface: ME,
        sourceaddr: S1,
    };
    h.s.setsockopt(b, SockOpt::BlockSource(blk)).unwrap();
    run(&mut h, Duration::from_secs(5));
    query(&mut h, G2, v3_query(G2, 20, &[S1]));
    assert_eq!(run(&mut h, Duration::from_secs(5)), vec![]);
    // A plain group query answers IS_EX {S1}.
    query(&mut h, G2, v3_query(G2, 20, &[]));
    assert_eq!(
        msgs(&run(&mut h, Duration::from_secs(5))),
        vec![Msg::V3(vec![rec(RecordType::ModeIsExclude, G2, &[S1])])]
    );
}

/// Linux ip_mc_down() / ip_mc_up() on NETDEV_DOWN / NETDEV_UP: down keeps the
/// memberships (224.0.0.1 goes) but stops every report and timer; up announces them
/// again as igmp_group_added() does, qrv (2) times: TO_EX {} for the any-source group,
/// ALLOW {S1} for the INCLUDE one (its sources back from the tomb, igmpv3_del_delrec()).
#[test]
fn device_down_stops_reports_and_up_announces_memberships_again() {
    let mut h = Host::new(false);
    let fd = udp_bound(&mut h, 5000);
    join(&mut h, fd, G);
    let req = IpMreqSource {
        multiaddr: G2,
        interface: ME,
        sourceaddr: S1,
    };
    h.s.setsockopt(fd, SockOpt::AddSourceMembership(req))
        .unwrap();
    assert_eq!(run(&mut h, Duration::from_secs(5)).len(), 2);
    // A general query is pending when the device goes down.
    query(&mut h, ALL_HOSTS, v3_query(Ipv4Addr::UNSPECIFIED, 100, &[]));
    assert!(h.s.poll_timeout().is_some());
    h.s.set_up(h.eth0, false).unwrap();
    // No IGMP timer left: only the neighbour table's (the query's sender) is pending.
    assert_eq!(h.s.poll_timeout(), h.s.neigh.poll_timeout());
    assert_eq!(run(&mut h, Duration::from_secs(600)), vec![]);
    assert_eq!(h.tx(), vec![]);
    // Joins and leaves on a down device send nothing either.
    leave(&mut h, fd, G);
    join(&mut h, fd, G);
    assert_eq!(run(&mut h, Duration::from_secs(600)), vec![]);
    // The memberships stay; the device's own 224.0.0.1 does not.
    let igmp = h.s.render_igmp();
    assert!(igmp.contains("2\teth0      :     2      V3\n"), "{igmp}");
    let eth0 = igmp.split("eth0").nth(1).unwrap();
    assert!(!eth0.contains("010000E0"), "{igmp}");
    h.s.set_up(h.eth0, true).unwrap();
    let t0 = h.now;
    let got = run(&mut h, Duration::from_secs(5));
    let want = Msg::V3(vec![
        rec(RecordType::ChangeToExclude, G, &[]),
        rec(RecordType::AllowNewSources, G2, &[S1]),
    ]);
    assert_eq!(msgs(&got), vec![want.clone(), want]);
    assert!(got[0].0 - t0 <= Duration::from_millis(3));
    assert!(got[1].0 - got[0].0 <= Duration::from_millis(1002));
    assert_eq!(run(&mut h, Duration::from_secs(600)), vec![]);
    let igmp = h.s.render_igmp();
    assert!(igmp.contains("2\teth0      :     3      V3\n"), "{igmp}");
    assert!(igmp.split("eth0").nth(1).unwrap().contains("010000E0"));
    // The filters survived: S1 still reaches the socket, S2 does not reach G2.
    assert!(
        h.s.render_mcfilter()
            .contains(" 0xef090909 0x0a000007      1      0\n")
    );
    // Up again while up, or down while down, does nothing.
    h.s.set_up(h.eth0, true).unwrap();
    assert_eq!(run(&mut h, Duration::from_secs(5)), vec![]);
}

/// In v2 mode (a v2 querier heard) down sends no leave on the down device, and up
/// reports the group again twice (igmp_group_added() → igmp_start_timer(1 jiffy)).
#[test]
fn device_down_up_in_v2_mode_reports_again() {
    let mut h = Host::new(false);
    let fd = udp_bound(&mut h, 5000);
    query(&mut h, ALL_HOSTS, v12_query(Ipv4Addr::UNSPECIFIED, 100));
    join(&mut h, fd, G);
    assert_eq!(
        msgs(&run(&mut h, Duration::from_secs(20))),
        vec![Msg::V2(G), Msg::V2(G)]
    );
    h.s.set_up(h.eth0, false).unwrap();
    assert_eq!(run(&mut h, Duration::from_secs(20)), vec![]);
    assert_eq!(h.tx(), vec![]);
    h.s.set_up(h.eth0, true).unwrap();
    let t0 = h.now;
    let got = run(&mut h, Duration::from_secs(20));
    assert_eq!(msgs(&got), vec![Msg::V2(G), Msg::V2(G)]);
    assert!(got[0].0 - t0 <= Duration::from_millis(3));
}

/// getsockopt(IP_MSFILTER) and getsockopt(MCAST_MSFILTER): Linux ip_mc_msfget() and
/// ip_mc_gsfget() copy at most the caller's numsrc sources, report the real count and
/// set optlen to IP_MSFILTER_SIZE / GROUP_FILTER_SIZE of the sources copied; EINVAL below
/// the fixed part, for another family or a non-multicast group; ENODEV for an unknown
/// interface address; EADDRNOTAVAIL without a join (MCAST_MSFILTER: on exactly that index).
#[test]
fn msfilter_getsockopt_truncates_and_reports_the_real_count() {
    let mut h = Host::new(false);
    let a = udp_bound(&mut h, 6000);
    for s in [S1, S2] {
        let req = IpMreqSource {
            multiaddr: G,
            interface: ME,
            sourceaddr: s,
        };
        h.s.setsockopt(a, SockOpt::AddSourceMembership(req))
            .unwrap();
    }
    join(&mut h, a, G2);
    let ip = |group, interface, numsrc| MsfilterGet::Ip {
        multiaddr: group,
        interface,
        numsrc,
    };
    let reply = |fmode, numsrc, sources: &[Ipv4Addr], optlen| MsfilterReply {
        fmode,
        numsrc,
        sources: sources.to_vec(),
        optlen,
    };
    let get = |h: &mut Host, optlen, q| h.s.getsockopt_msfilter(a, optlen, q);
    assert_eq!(
        get(&mut h, 20, ip(G, ME, 1)),
        Ok(reply(SfMode::Include, 2, &[S1], 20))
    );
    assert_eq!(
        get(&mut h, 16, ip(G, ME, 0)),
        Ok(reply(SfMode::Include, 2, &[], 16))
    );
    assert_eq!(
        get(&mut h, 64, ip(G, ME, 10)),
        Ok(reply(SfMode::Include, 2, &[S1, S2], 24))
    );
    assert_eq!(
        get(&mut h, 16, ip(G2, ME, 4)),
        Ok(reply(SfMode::Exclude, 0, &[], 16))
    );
    assert_eq!(get(&mut h, 15, ip(G, ME, 0)), Err(SockError::Inval));
    assert_eq!(get(&mut h, 16, ip(S1, ME, 0)), Err(SockError::Inval));
    let other = Ipv4Addr::new(239, 4, 4, 4);
    assert_eq!(
        get(&mut h, 16, ip(other, ME, 0)),
        Err(SockError::AddrNotAvail)
    );
    let not_ours = Ipv4Addr::new(10, 9, 9, 9);
    assert_eq!(get(&mut h, 16, ip(G, not_ours, 0)), Err(SockError::NoDev));

    let gf = |ifindex, family, group, numsrc| MsfilterGet::Group {
        ifindex,
        family,
        group,
        numsrc,
    };
    let eth0 = h.eth0;
    assert_eq!(
        get(&mut h, GROUP_FILTER_SIZE0, gf(eth0, AF_INET, G, 1)),
        Ok(reply(SfMode::Include, 2, &[S1], 144 + 128))
    );
    assert_eq!(
        get(&mut h, 1000, gf(eth0, AF_INET, G, 2)),
        Ok(reply(SfMode::Include, 2, &[S1, S2], 144 + 2 * 128))
    );
    assert_eq!(
        get(&mut h, 144, gf(eth0, AF_INET, G2, 3)),
        Ok(reply(SfMode::Exclude, 0, &[], 144))
    );
    assert_eq!(
        get(&mut h, 143, gf(eth0, AF_INET, G, 1)),
        Err(SockError::Inval)
    );
    assert_eq!(
        get(&mut h, 144, gf(eth0, AF_INET6, G, 1)),
        Err(SockError::Inval)
    );
    assert_eq!(
        get(&mut h, 144, gf(eth0, AF_INET, S1, 1)),
        Err(SockError::Inval)
    );
    // The index must be the join's: 0 does not pick a device here.
    assert_eq!(
        get(&mut h, 144, gf(0, AF_INET, G, 1)),
        Err(SockError::AddrNotAvail)
    );
    assert_eq!(
        get(&mut h, 144, gf(eth0, AF_INET, other, 1)),
        Err(SockError::AddrNotAvail)
    );
    // IP_MSFILTER set, then read back.
    let msf = IpMsfilter {
        multiaddr: G2,
        interface: ME,
        fmode: SfMode::Exclude,
        sources: vec![S2],
    };
    h.s.setsockopt(a, SockOpt::MsFilter(msf)).unwrap();
    assert_eq!(
        get(&mut h, 20, ip(G2, ME, 1)),
        Ok(reply(SfMode::Exclude, 1, &[S2], 20))
    );
}

/// Per-device IGMP sysctls (Linux `in_dev->cnf`): `conf.DEV.force_igmp_version` forces
/// the version on that device only (IGMP_V2_SEEN() reads conf.all or the device's);
/// `conf.DEV.igmpv{2,3}_unsolicited_report_interval` space that device's repeats (0 is one
/// jiffy, unsolicited_report_interval()); unset, a device shows the stack-wide value.
#[test]
fn per_device_igmp_sysctls() {
    let mut h = Host::new(false);
    let fd = udp_bound(&mut h, 5000);
    let v = |h: &Host, n: &str| h.s.sysctl_value(n).unwrap();
    assert_eq!(
        v(&h, "net.ipv4.conf.eth0.igmpv3_unsolicited_report_interval"),
        "1000"
    );
    assert_eq!(
        v(&h, "conf.eth0.igmpv2_unsolicited_report_interval"),
        "10000"
    );
    assert_eq!(v(&h, "conf.eth0.force_igmp_version"), "0");
    h.s.set_sysctl("net.ipv4.conf.eth0.igmpv3_unsolicited_report_interval", "0")
        .unwrap();
    assert_eq!(v(&h, "conf.eth0.igmpv3_unsolicited_report_interval"), "0");
    assert_eq!(v(&h, "conf.lo.igmpv3_unsolicited_report_interval"), "1000");
    assert_eq!(v(&h, "conf.all.igmpv3_unsolicited_report_interval"), "1000");
    join(&mut h, fd, G);
    let got = run(&mut h, Duration::from_secs(5));
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].0 - got[0].0, Duration::from_millis(2));
    // v2 forced on eth0 alone, its v2 interval one jiffy.
    h.s.set_sysctl("conf.eth0.force_igmp_version", "2").unwrap();
    h.s.set_sysctl("conf.eth0.igmpv2_unsolicited_report_interval", "0")
        .unwrap();
    assert_eq!(v(&h, "conf.eth0.force_igmp_version"), "2");
    assert_eq!(v(&h, "conf.all.force_igmp_version"), "0");
    assert_eq!(v(&h, "conf.lo.force_igmp_version"), "0");
    assert!(h.s.render_igmp().contains("eth0      :     2      V2\n"));
    assert!(h.s.render_igmp().contains("lo        :     1      V3\n"));
    join(&mut h, fd, G2);
    let got = run(&mut h, Duration::from_secs(5));
    assert_eq!(msgs(&got), vec![Msg::V2(G2), Msg::V2(G2)]);
    assert_eq!(got[1].0 - got[0].0, Duration::from_millis(2));
    // Back to v3 when the device's force is cleared.
    h.s.set_sysctl("conf.eth0.force_igmp_version", "0").unwrap();
    assert!(h.s.render_igmp().contains("eth0      :     3      V3\n"));
    // Bad values and unknown devices are refused, by set_sysctl and check_sysctls alike.
    let bad = [
        ("conf.eth0.igmpv2_unsolicited_report_interval", "-1"),
        ("conf.eth0.igmpv3_unsolicited_report_interval", "2147483648"),
        ("conf.eth0.force_igmp_version", "x"),
        ("conf.eth9.force_igmp_version", "1"),
    ];
    for (name, value) in bad {
        let e = h.s.set_sysctl(name, value).unwrap_err();
        assert_eq!(h.s.check_sysctls(&[(name, value)]), Err((0, e.clone())));
        let want = if name.contains("eth9") {
            Errno::NoEnt
        } else {
            Errno::Inval
        };
        assert_eq!(e.as_errno(), want, "{name}={value}");
    }
    assert_eq!(v(&h, "conf.eth0.igmpv3_unsolicited_report_interval"), "0");
}
