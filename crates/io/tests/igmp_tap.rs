//! skiff joins a multicast group on a TAP; tshark on the kernel side decodes the IGMPv3
//! Membership Reports it sends (RFC 3376 §4.2, Linux igmpv3_send_cr()).
//!
//! Needs root (the test re-runs itself under `unshare --net`) and tshark; otherwise it is
//! skipped with a reason, and with CI=true a skip fails.

mod common;

use common::run;
use skiff_core::{Stack, StackConfig};
use skiff_io::net::{NetStack, UdpSocket};
use skiff_io::tap::{Tap, TapOptions};
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::EthernetAddress;
use std::process::{Command, Stdio};
use std::time::Duration;

const KERNEL: &str = "10.9.2.1/24";
const SKIFF: Ipv4Addr = Ipv4Addr::new(10, 9, 2, 2);
const GROUP: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 3);

#[test]
fn skiff_join_sends_igmpv3_reports_tshark_decodes() {
    let name = "skiff_join_sends_igmpv3_reports_tshark_decodes";
    if !common::in_netns(name, &[common::IP, common::TSHARK]) {
        return;
    }
    let tap = Tap::open(&TapOptions::tap("skt2")).expect("a TAP in the namespace");
    run("ip", &["addr", "add", KERNEL, "dev", "skt2"]);
    run("ip", &["link", "set", "skt2", "up"]);

    let mut s = Stack::new(StackConfig::default());
    let eth0 = s
        .add_device("eth0", EthernetAddress([2, 0, 0, 0, 9, 2]), 1500)
        .unwrap();
    s.set_up(eth0, true).unwrap();
    s.add_addr(eth0, SKIFF, 24).unwrap();
    let net = NetStack::new(s);
    net.attach(eth0, Box::new(tap));

    let pcap = std::env::temp_dir().join(format!("skiff-igmp-{}.pcap", std::process::id()));
    let mut tshark = Command::new("tshark")
        .args(["-i", "skt2", "-a", "duration:4", "-f", "igmp", "-w"])
        .arg(&pcap)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tshark starts");
    // Let the capture start before the join.
    std::thread::sleep(Duration::from_millis(1500));
    let sock = UdpSocket::bind(&net, "0.0.0.0:5000").unwrap();
    sock.join_multicast_v4(&GROUP, &SKIFF).unwrap();
    assert!(tshark.wait().unwrap().success(), "tshark capture");

    let fields = run(
        "tshark",
        &[
            "-r",
            pcap.to_str().unwrap(),
            "-T",
            "fields",
            "-E",
            "separator=,",
            "-e",
            "ip.src",
            "-e",
            "ip.dst",
            "-e",
            "ip.ttl",
            "-e",
            "ip.opt.ra",
            "-e",
            "igmp.version",
            "-e",
            "igmp.type",
            "-e",
            "igmp.record_type",
            "-e",
            "igmp.maddr",
            "-e",
            "_ws.expert",
        ],
    );
    let _ = std::fs::remove_file(&pcap);
    let ours: Vec<&str> = fields
        .lines()
        .filter(|l| l.starts_with("10.9.2.2,"))
        .collect();
    println!("{fields}");
    // Two reports (igmp_qrv), each a v3 report with one CHANGE_TO_EXCLUDE record for the
    // group, TTL 1 with Router Alert, to 224.0.0.22; no expert warning (checksum,
    // malformed).
    assert_eq!(ours.len(), 2, "{fields}");
    for l in ours {
        assert_eq!(l, "10.9.2.2,224.0.0.22,1,0,3,0x22,4,239.1.2.3,", "{fields}");
    }
}
