//! `skiff demo` end to end: the scenarios, `--trace`, and `--pcap-dir` captures that
//! tshark reads without a malformed packet.

mod common;

use std::process::Command;

fn skiff() -> Command {
    Command::new(env!("CARGO_BIN_EXE_skiff"))
}

#[test]
fn demo_runs_every_scenario() {
    let out = skiff().arg("demo").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "64 bytes from 10.0.2.2: icmp_seq=1 ttl=63",
        "64 bytes from 10.0.2.2: icmp_seq=3 ttl=63",
        "From 10.0.1.1 Destination Net Unreachable",
        "From 10.0.1.1 Time to live exceeded",
        "    1    84 DROP       icmp",
        "B saw the echo request arrive from 10.0.2.1",
        "==== R: /proc/net/snmp ====",
        "Ip: 1 64 ",
        "IpExt: InNoRoutes",
        // A 4000-byte ping across MTUs 1500 and 576, fragmented and reassembled both ways.
        "4008 bytes from 10.0.2.2: icmp_seq=8 ttl=63",
        "  R: created 8 fragments\n",
        "  B: created 8 fragments; reassembled 8 fragments into 1 datagram",
        // The DF probe teaches A the path MTU.
        "From 10.0.1.1 Frag needed and DF set (mtu = 576)",
        "    10.0.2.2 via 10.0.1.1 dev eth0 \n        cache expires 597sec mtu 576",
        "again: ping: sendmsg: message too long (EMSGSIZE)",
        "4008 bytes from 10.0.2.2: icmp_seq=11 ttl=63",
        "  A: created 8 fragments; reassembled 8 fragments into 1 datagram",
        // UDP: a 30000-byte echo, a corked send, ECONNREFUSED.
        "B: echo server got 30000 bytes from 10.0.1.2:",
        "A: recvfrom = 30000 bytes from 10.0.2.2:7: the same bytes",
        "  A: created 55 fragments; reassembled 55 fragments into 1 datagram",
        "A got back one datagram: \"three corked writes\"",
        "the next send: sendto: connection refused (ECONNREFUSED)",
        // One UDP_SEGMENT send, 119 segments, read coalesced and one by one.
        "A: sendmsg(UDP_SEGMENT=548) = 65000: 119 datagrams on lan1, 119 forwarded onto lan2",
        "B (UDP_GRO on, :9000): recvmsg = 35072 bytes, UDP_GRO cmsg gso_size 548\n  B (UDP_GRO on, :9000): recvmsg = 29928 bytes, UDP_GRO cmsg gso_size 548\n  B read 65000 bytes in all: the same bytes",
        "B (UDP_GRO off, :9001): 119 recvmsg calls of up to 548 bytes\n  B read 65000 bytes in all: the same bytes",
        "==== fragmentation and reassembly counters ====",
        // Multicast routing set up through the mroute socket, as a daemon does it.
        "  R: net.ipv4.conf.all.mc_forwarding = 1\n",
        "R's mroute socket: IGMPv3 report from 10.0.2.2: 239.1.1.1 CHANGE_TO_EXCLUDE (join) (×2)\n",
        "R's mroute socket: IGMPv3 report from 10.0.3.2: 239.1.1.1 CHANGE_TO_EXCLUDE (join) (×2)\n",
        "  R's mroute socket: IGMPMSG_NOCACHE (10.0.1.2, 239.1.1.1) on vif 0\n",
        "  B got 5: mc-1, mc-2, mc-3, mc-4, mc-5\n  C got 5: mc-1, mc-2, mc-3, mc-4, mc-5\n",
        // The TTL threshold: 2 is not above vif 2's threshold of 2.
        "  B got 1: mc-ttl2\n  C got nothing\n",
        "    Interface      BytesIn  PktsIn  BytesOut PktsOut Flags Local    Remote\n     0 eth0            195       6         0       0 00008 00000002 00000000\n     1 eth1              0       0       195       6 00008 00000003 00000000\n     2 eth2              0       0       160       5 00008 00000004 00000000\n",
        "    Group    Origin   Iif     Pkts    Bytes    Wrong Oifs\n    010101EF 0201000A 0          6      195        0  1:1    2:2",
        // A receiver behind R's tunnel vif, on its own IPIP tunnel device.
        "  R's mroute socket: IGMPv3 report from 10.0.30.2: 239.1.1.1 CHANGE_TO_EXCLUDE (join) (×2)\n",
        "  D (on tun0) got 1: mc-tunnel\n",
        "  R: /proc/net/ip_mr_vif: 3 dvmrp3            0       0        37       1 00001 0103000A 0303000A\n",
        // An ICMP timestamp request and ping -T tsonly.
        "  20 bytes from 10.0.2.2: icmp_seq=12 ttl=63 timestamp reply\n  ICMP timestamp: Originate=47689500 Receive=47689500 Transmit=47689500\n",
        "  TS: \t47689500 absolute\t(A, sending the request)\n  \t0\t\t(R, forwarding it)\n  \t0\t\t(B, receiving it)\n",
        "  (6 of 9 slots filled)",
        "==== C: /proc/net/snmp ====",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn trace_prints_kernel_paths_one_packet_per_line() {
    let out = skiff().args(["demo", "--trace"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let forward = text
        .lines()
        .find(|l| l.contains("[R] rx eth0") && l.contains("ip_forward"))
        .expect("a forwarded packet's path");
    let stages: Vec<&str> = forward.split(": ").nth(1).unwrap().split(" → ").collect();
    assert_eq!(
        &stages[..7],
        &[
            "netif_receive_skb",
            "ip_rcv",
            "ip_rcv_finish",
            "ip_route_input_noref",
            "ip_forward",
            "ip_forward_finish",
            "ip_output"
        ]
    );
    assert_eq!(stages.last(), Some(&"dev_queue_xmit(eth1)"));
}

#[test]
fn trace_shows_a_multicast_datagram_forwarded_to_two_vifs() {
    let out = skiff().args(["demo", "--trace"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mc = text
        .lines()
        .find(|l| l.contains("[R] rx eth0") && l.contains("ip_mr_forward"))
        .expect("a multicast-forwarded packet's path");
    let stages: Vec<&str> = mc.split(": ").nth(1).unwrap().split(" → ").collect();
    assert_eq!(
        &stages[..8],
        &[
            "netif_receive_skb",
            "ip_rcv",
            "ip_rcv_finish",
            "ip_route_input_noref",
            "ip_mr_input",
            "ip_mr_forward",
            "ipmr_queue_xmit",
            "ipmr_forward_finish",
        ]
    );
    // A copy to the highest oif first, the packet itself to the last (vif 1).
    let xmits: Vec<&&str> = stages
        .iter()
        .filter(|s| s.starts_with("dev_queue_xmit") || **s == "ipmr_queue_xmit")
        .collect();
    assert_eq!(
        xmits,
        [
            &"ipmr_queue_xmit",
            &"dev_queue_xmit(eth2)",
            &"ipmr_queue_xmit",
            &"dev_queue_xmit(eth1)"
        ]
    );
    // The first datagram waited for the daemon's MFC entry.
    assert!(
        text.lines().any(
            |l| l.contains("[R] rx eth0") && l.ends_with("ip_mr_input → ipmr_cache_unresolved")
        )
    );
}

#[test]
fn pcaps_read_cleanly_in_tshark() {
    let dir = std::env::temp_dir().join(format!("skiff-demo-pcap-{}", std::process::id()));
    let out = skiff()
        .args(["demo", "--pcap-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    for link in ["lan1", "lan2", "lan3"] {
        let file = dir.join(format!("{link}.pcap"));
        assert!(file.metadata().unwrap().len() > 24, "{link} has frames");
        common::check_capture(&file, 10);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
