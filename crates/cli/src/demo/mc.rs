//! Scenarios 12 and 13: R as a multicast router set up through the mroute socket, as a
//! routing daemon does it, and ICMP timestamps with the IP timestamp option.

use super::{A_ADDR, B_ADDR, Demo, PING_ID, R_LAN3};
use skiff_core::ipv4::ipip::IpTunnelParm;
use skiff_core::ipv4::mroute::{
    IGMPMSG_NOCACHE, IgmpMsg, MRT_ADD_MFC, MRT_ADD_VIF, MRT_INIT, MfcCtl, VifCtl,
};
use skiff_core::socket::{AF_INET, IpMreqn, SOCK_DGRAM, SockFd, SockOpt};
use skiff_wire::Ipv4Addr;
use skiff_wire::checksum::{csum_fold, csum_partial};
use skiff_wire::icmpv4::Icmpv4Message;
use skiff_wire::igmp::{IgmpMessage, IgmpPacket, RecordType};
use skiff_wire::ipv4::IPPROTO_IGMP;
use std::net::SocketAddrV4;
use std::time::Duration;

const GROUP: Ipv4Addr = Ipv4Addr::new(239, 1, 1, 1);
/// IGMPv3 reports go to 224.0.0.22: a daemon joins it on every vif to hear them.
const ALL_V3_ROUTERS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 22);
const PORT: u16 = 40000;
/// Host D on lan3, behind R's tunnel vif, and its tunnel device's address.
const D_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 3, 3);
const D_TUN: Ipv4Addr = Ipv4Addr::new(10, 0, 30, 2);
/// RFC 781's option type, and its `flg` value for timestamps only.
const IPOPT_TIMESTAMP: u8 = 68;
const IPOPT_TS_TSONLY: u8 = 0;

/// What the daemon read from its mroute socket: upcalls and IGMP from the links.
fn read_mroute(demo: &mut Demo, fd: SockFd) -> Vec<String> {
    let mut lines = Vec::new();
    while let Ok(d) = demo.sim.stack(demo.r).raw_recv(fd) {
        if let Some(m) = IgmpMsg::parse(&d.packet) {
            let kind = if m.im_msgtype == IGMPMSG_NOCACHE {
                "IGMPMSG_NOCACHE"
            } else {
                "upcall"
            };
            lines.push(format!(
                "{kind} ({}, {}) on vif {}",
                m.im_src, m.im_dst, m.vif
            ));
            continue;
        }
        let ihl = usize::from(d.packet.first().map_or(5, |b| b & 0x0f)) * 4;
        let Some(Ok(p)) = d.packet.get(ihl..).map(IgmpPacket::new_checked) else {
            continue;
        };
        if p.msg_type() != IgmpMessage::MembershipReportV3 {
            continue;
        }
        for r in p.group_records().iter().flat_map(|g| g.iter()) {
            let what = match r.record_type() {
                RecordType::ChangeToExclude => "CHANGE_TO_EXCLUDE (join)",
                RecordType::ChangeToInclude => "CHANGE_TO_INCLUDE (leave)",
                RecordType::ModeIsExclude => "MODE_IS_EXCLUDE",
                _ => "another record",
            };
            if r.group() != ALL_V3_ROUTERS {
                lines.push(format!(
                    "IGMPv3 report from {}: {} {what}",
                    d.src,
                    r.group()
                ));
            }
        }
    }
    // One line per distinct message, with how often it came (reports are sent twice).
    let mut counted: Vec<(String, usize)> = Vec::new();
    for l in lines {
        match counted.iter_mut().find(|(c, _)| *c == l) {
            Some((_, n)) => *n += 1,
            None => counted.push((l, 1)),
        }
    }
    counted
        .into_iter()
        .map(|(l, n)| if n > 1 { format!("{l} (×{n})") } else { l })
        .collect()
}

/// A UDP socket on `host` joined to GROUP (IP_ADD_MEMBERSHIP, any interface) on PORT.
fn receiver(
    demo: &mut Demo,
    host: skiff_core::sim::HostId,
) -> Result<SockFd, Box<dyn std::error::Error>> {
    receiver_on(demo, host, 0)
}

/// A UDP socket on `host` joined to GROUP on device `ifindex` (0: any) only, on PORT.
fn receiver_on(
    demo: &mut Demo,
    host: skiff_core::sim::HostId,
    ifindex: u32,
) -> Result<SockFd, Box<dyn std::error::Error>> {
    let s = demo.sim.stack(host);
    let fd = s.socket(AF_INET, SOCK_DGRAM, 0)?;
    s.bind(fd, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT).into())?;
    s.setsockopt(
        fd,
        SockOpt::AddMembership(IpMreqn {
            multiaddr: GROUP,
            address: Ipv4Addr::UNSPECIFIED,
            ifindex,
        }),
    )?;
    Ok(fd)
}

/// Every datagram waiting on `fd`, as text.
fn drain(demo: &mut Demo, host: skiff_core::sim::HostId, fd: SockFd) -> Vec<String> {
    let mut buf = [0u8; 256];
    let mut got = Vec::new();
    while let Ok((n, _)) = demo.sim.stack(host).recv_from(fd, &mut buf, 0) {
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    got
}

fn print_receivers(demo: &mut Demo, rx: &[(&str, skiff_core::sim::HostId, SockFd)]) {
    for &(name, host, fd) in rx {
        let got = drain(demo, host, fd);
        if got.is_empty() {
            println!("  {name} got nothing");
        } else {
            println!("  {name} got {}: {}", got.len(), got.join(", "));
        }
    }
}

/// Scenario 12: a multicast stream from A to B and C through R.
pub(super) fn multicast_scenario(demo: &mut Demo) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "\n12. multicast routing: R's daemon opens the mroute socket (raw IGMP, MRT_INIT), adds vifs 0–2 (eth0–eth2) and joins 224.0.0.22; B and C (and D, behind a tunnel vif) join {GROUP}; A sends 5 datagrams to {GROUP}:{PORT}"
    );
    let r = demo.r;
    let devs = demo.r_devs;
    let fd = demo.sim.stack(r).raw_socket(IPPROTO_IGMP)?;
    let s = demo.sim.stack(r);
    s.ip_mroute_setsockopt(fd, MRT_INIT, &1i32.to_ne_bytes())?;
    for (vif, &dev) in devs.iter().enumerate() {
        let v = VifCtl::by_ifindex(vif as u16, dev, 1);
        s.ip_mroute_setsockopt(fd, MRT_ADD_VIF, &v.to_bytes())?;
        s.setsockopt(
            fd,
            SockOpt::AddMembership(IpMreqn {
                multiaddr: ALL_V3_ROUTERS,
                address: Ipv4Addr::UNSPECIFIED,
                ifindex: dev,
            }),
        )?;
    }
    let mc_fwd = s.sysctl_value("net.ipv4.conf.all.mc_forwarding")?;
    println!("  R: net.ipv4.conf.all.mc_forwarding = {mc_fwd}");
    demo.sim.run();
    let _ = read_mroute(demo, fd);
    demo.flush_trace();

    let (d, tun) = tunnel_host(demo, fd)?;
    let b_rx = receiver(demo, demo.b)?;
    let c_rx = receiver(demo, demo.c)?;
    let d_host = (d, tun, receiver_on(demo, d, tun)?);
    demo.sim.run();
    // The unsolicited report's retransmission (igmp_ifc_timer_expire()).
    demo.sim.advance(Duration::from_secs(3));
    demo.flush_trace();
    for line in read_mroute(demo, fd) {
        println!("  R's mroute socket: {line}");
    }

    let now = demo.sim.now;
    let a = demo.sim.stack(demo.a);
    let tx = a.socket(AF_INET, SOCK_DGRAM, 0)?;
    a.setsockopt(tx, SockOpt::MulticastTtl(8))?;
    let to = SocketAddrV4::new(GROUP, PORT);
    a.sendto(now, tx, b"mc-1", 0, Some(to.into()))?;
    println!("  A: IP_MULTICAST_TTL 8, sendto({to}, \"mc-1\")");
    demo.sim.run();
    demo.flush_trace();
    // The daemon learns of the new (S,G) by its upcall and installs it.
    for line in read_mroute(demo, fd) {
        println!("  R's mroute socket: {line}");
    }
    let mfc = MfcCtl::new(A_ADDR, GROUP, 0, &[(1, 1), (2, 1)]);
    demo.sim
        .stack(r)
        .ip_mroute_setsockopt(fd, MRT_ADD_MFC, &mfc.to_bytes())?;
    println!(
        "  R's daemon: MRT_ADD_MFC ({A_ADDR}, {GROUP}) iif vif 0, oifs vif 1 and 2: the queued datagram goes on"
    );
    demo.sim.run();
    demo.flush_trace();
    for i in 2..=5 {
        let now = demo.sim.now;
        let msg = format!("mc-{i}");
        demo.sim
            .stack(demo.a)
            .sendto(now, tx, msg.as_bytes(), 0, Some(to.into()))?;
        demo.sim.run();
        demo.flush_trace();
    }
    println!("  A: sent mc-2 … mc-5");
    let rx = [("B", demo.b, b_rx), ("C", demo.c, c_rx)];
    print_receivers(demo, &rx);

    println!(
        "  TTL threshold: the daemon sets vif 2's threshold in the entry to 2; A sends \"mc-ttl2\" with IP_MULTICAST_TTL 2 (forwarded only where TTL > threshold)"
    );
    let mfc = MfcCtl::new(A_ADDR, GROUP, 0, &[(1, 1), (2, 2)]);
    demo.sim
        .stack(r)
        .ip_mroute_setsockopt(fd, MRT_ADD_MFC, &mfc.to_bytes())?;
    let now = demo.sim.now;
    let a = demo.sim.stack(demo.a);
    a.setsockopt(tx, SockOpt::MulticastTtl(2))?;
    a.sendto(now, tx, b"mc-ttl2", 0, Some(to.into()))?;
    demo.sim.run();
    demo.flush_trace();
    print_receivers(demo, &rx);

    let s = demo.sim.stack_ref(r);
    println!("  R: cat /proc/net/ip_mr_vif");
    for line in s.render_ip_mr_vif().lines() {
        println!("    {line}");
    }
    println!("  R: cat /proc/net/ip_mr_cache");
    for line in s.render_ip_mr_cache().lines() {
        println!("    {line}");
    }
    tunnel_receiver(demo, fd, d_host)
}

/// Scenario 12's host D on lan3, behind R's tunnel vif 3, with its own IPIP tunnel
/// device back to R; returns D and its tunnel's ifindex.
fn tunnel_host(
    demo: &mut Demo,
    fd: SockFd,
) -> Result<(skiff_core::sim::HostId, u32), Box<dyn std::error::Error>> {
    println!(
        "  Host D ({D_ADDR} on lan3) runs `ip tunnel add tun0 mode ipip local {D_ADDR} remote {R_LAN3}`, up, {D_TUN}/30 on it; R's daemon adds vif 3, VIFF_TUNNEL {R_LAN3} → {D_ADDR} (device dvmrp3), and joins 224.0.0.22 there; D joins {GROUP} on tun0"
    );
    let (r, lan3) = (demo.r, demo.links[2]);
    let d = demo.sim.add_stack(super::stack("D", demo.trace, 5));
    let d0 = demo.sim.attach(d, "eth0", super::mac(0xd0), lan3)?;
    let s = demo.sim.stack(d);
    s.add_addr(d0, D_ADDR, 24)?;
    let tun = s.ip_tunnel_add(&IpTunnelParm::new("tun0", D_ADDR, R_LAN3))?;
    s.set_up(tun, true)?;
    s.add_addr(tun, D_TUN, 30)?;
    let s = demo.sim.stack(r);
    let v = VifCtl::tunnel(3, R_LAN3, D_ADDR, 1);
    s.ip_mroute_setsockopt(fd, MRT_ADD_VIF, &v.to_bytes())?;
    let dvmrp3 = s
        .dev_by_name("dvmrp3")
        .ok_or("MRT_ADD_VIF made no dvmrp3 device")?
        .ifindex;
    s.setsockopt(
        fd,
        SockOpt::AddMembership(IpMreqn {
            multiaddr: ALL_V3_ROUTERS,
            address: Ipv4Addr::UNSPECIFIED,
            ifindex: dvmrp3,
        }),
    )?;
    Ok((d, tun))
}

/// Scenario 12, continued: the stream reaches D through the tunnel vif.
fn tunnel_receiver(
    demo: &mut Demo,
    fd: SockFd,
    (d, tun, d_rx): (skiff_core::sim::HostId, u32, SockFd),
) -> Result<(), Box<dyn std::error::Error>> {
    let r = demo.r;
    let mfc = MfcCtl::new(A_ADDR, GROUP, 0, &[(1, 1), (2, 2), (3, 1)]);
    demo.sim
        .stack(r)
        .ip_mroute_setsockopt(fd, MRT_ADD_MFC, &mfc.to_bytes())?;
    println!(
        "  Tunnel vif: R's daemon adds vif 3 (dvmrp3, to D, whose report came through the tunnel) to the entry's oifs; A sends \"mc-tunnel\" with IP_MULTICAST_TTL 8"
    );
    let now = demo.sim.now;
    let a = demo.sim.stack(demo.a);
    let tx = a.socket(AF_INET, SOCK_DGRAM, 0)?;
    a.setsockopt(tx, SockOpt::MulticastTtl(8))?;
    let to = SocketAddrV4::new(GROUP, PORT);
    a.sendto(now, tx, b"mc-tunnel", 0, Some(to.into()))?;
    demo.sim.run();
    demo.flush_trace();
    print_receivers(demo, &[("D (on tun0)", d, d_rx)]);
    let s = demo.sim.stack_ref(r);
    if let Some(line) = s.render_ip_mr_vif().lines().find(|l| l.contains("dvmrp3")) {
        println!("  R: /proc/net/ip_mr_vif: {}", line.trim_start());
    }
    let s = demo.sim.stack_ref(d);
    if let Some(t) = s.dev(tun) {
        println!(
            "  D: tun0 (link/ipip {D_ADDR} peer {R_LAN3}, mtu {}): RX {} packets, TX {} packets (IGMP reports both ways, mc-tunnel in)",
            t.mtu, t.stats.rx_packets, t.stats.tx_packets
        );
    }
    Ok(())
}

/// Milliseconds since midnight UT of `host`'s wall clock (RFC 792).
fn ms_since_midnight(demo: &Demo, host: skiff_core::sim::HostId) -> u32 {
    let t = demo.sim.stack_ref(host).realtime();
    (t.as_millis() % 86_400_000) as u32
}

fn be32(b: &[u8]) -> u32 {
    b.get(..4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Scenario 13: an ICMP timestamp request A → B, and an echo with the timestamp option.
pub(super) fn timestamp_scenario(demo: &mut Demo) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "\n13. timestamps (times in ms since midnight UT; in process, no time passes on the way)"
    );
    demo.seq += 1;
    let originate = ms_since_midnight(demo, demo.a);
    let mut msg = vec![u8::from(Icmpv4Message::Timestamp), 0, 0, 0];
    msg.extend(PING_ID.to_be_bytes());
    msg.extend(demo.seq.to_be_bytes());
    msg.extend(originate.to_be_bytes());
    msg.extend([0; 8]);
    let sum = csum_fold(csum_partial(&msg, 0));
    msg[2..4].copy_from_slice(&sum.to_be_bytes());
    let now = demo.sim.now;
    demo.sim
        .stack(demo.a)
        .raw_sendto(now, demo.ping, B_ADDR, &msg)?;
    demo.sim.run();
    demo.flush_trace();
    println!("  A → B: ICMP timestamp request, originate {originate}");
    let mut answered = false;
    while let Ok(d) = demo.sim.stack(demo.a).raw_recv(demo.ping) {
        let ihl = usize::from(d.packet.first().map_or(5, |b| b & 0x0f)) * 4;
        let Some(m) = d.packet.get(ihl..) else {
            continue;
        };
        if m.len() < 20 || m[0] != u8::from(Icmpv4Message::TimestampReply) {
            continue;
        }
        answered = true;
        let seq = u16::from_be_bytes([m[6], m[7]]);
        let (o, r, t) = (be32(&m[8..]), be32(&m[12..]), be32(&m[16..]));
        println!(
            "  {} bytes from {}: icmp_seq={seq} ttl={} timestamp reply",
            m.len(),
            d.src,
            d.ttl
        );
        println!("  ICMP timestamp: Originate={o} Receive={r} Transmit={t}");
        let now = ms_since_midnight(demo, demo.a);
        let rtt = now.wrapping_sub(o);
        println!("  ICMP timestamp RTT tsrtt={rtt}");
    }
    if !answered {
        println!("  (no answer)");
    }

    println!(
        "  ping -T tsonly A → B: an echo request with the IP timestamp option (9 slots, timestamps only)"
    );
    let mut opt = vec![IPOPT_TIMESTAMP, 40, 5, IPOPT_TS_TSONLY];
    opt.extend([0; 36]);
    let a = demo.sim.stack(demo.a);
    a.setsockopt(demo.ping, SockOpt::Options(opt))?;
    let got = demo.ping(B_ADDR, None)?;
    demo.sim
        .stack(demo.a)
        .setsockopt(demo.ping, SockOpt::Options(Vec::new()))?;
    for d in &got {
        println!("  {}", super::describe(d));
        let ihl = usize::from(d.packet.first().map_or(5, |b| b & 0x0f)) * 4;
        let opts = d.packet.get(20..ihl).unwrap_or(&[]);
        let Some(at) = opts.iter().position(|&b| b == IPOPT_TIMESTAMP) else {
            println!("  (no timestamp option in the reply)");
            continue;
        };
        let ts = &opts[at..];
        let (len, ptr) = (usize::from(ts[1]), usize::from(ts[2]));
        let filled = ptr.saturating_sub(5) / 4;
        let mut stamps = Vec::new();
        for i in 0..filled.min(len.saturating_sub(4) / 4) {
            stamps.push(be32(ts.get(4 + 4 * i..).unwrap_or(&[])));
        }
        // ping -T prints the first stamp whole and each next one as a difference.
        let Some(&first) = stamps.first() else {
            continue;
        };
        let who = [
            "A, sending the request",
            "R, forwarding it",
            "B, receiving it",
            "B, sending the reply",
            "R, forwarding it",
            "A, receiving it",
        ];
        println!(
            "  TS: \t{first} absolute\t({})",
            who.first().unwrap_or(&"?")
        );
        let mut prev = first;
        for (i, &t) in stamps.iter().enumerate().skip(1) {
            println!(
                "  \t{}\t\t({})",
                t.wrapping_sub(prev) as i32,
                who.get(i).unwrap_or(&"?")
            );
            prev = t;
        }
        println!("  ({} of 9 slots filled)", stamps.len());
    }
    Ok(())
}
