//! The CLI contract without root: bad flags and configs exit non-zero with a message that
//! names the key and the value (never a panic), `skiff ctl` without a daemon says so, and
//! `skiff pcap replay` runs a capture through a configured stack offline.

mod common;

use skiff_io::pcap::{LinkType, PcapWriter};
use std::path::PathBuf;
use std::process::{Command, Output};

fn skiff(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args(args)
        .output()
        .expect("skiff runs")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("skiff-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Exit status 1 (not a panic's 101) and a message naming every `needle`.
fn refused(out: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in: {err}");
    }
}

#[test]
fn bad_flags_and_configs_are_refused_by_name() {
    refused(
        &skiff(&["up", "--tap", "t0", "--addr", "10.0.0.1/33"]),
        &["--addr", "10.0.0.1/33"],
    );
    refused(
        &skiff(&["up", "--tap", "t0", "--addr", "10.0.0.1/24", "--mtu", "9"]),
        &["--mtu", "9"],
    );
    refused(
        &skiff(&[
            "up",
            "--tap",
            "t0",
            "--addr",
            "10.0.0.1/24",
            "--sysctl",
            "ip_forward",
        ]),
        &["--sysctl", "ip_forward"],
    );
    refused(&skiff(&["up", "--tap", "t0"]), &["--addr"]);
    // A sysctl the stack does not have is refused when it is applied, before any device.
    refused(
        &skiff(&[
            "up",
            "--tap",
            "t0",
            "--addr",
            "10.0.0.1/24",
            "--sysctl",
            "ip_fast=1",
        ]),
        &["ip_fast=1"],
    );
    let cfg = tmp("bad.toml");
    std::fs::write(
        &cfg,
        "[[interface]]\nname = \"t0\"\naddress = \"10.0.0.1/24\"\nmtu = \"big\"\n",
    )
    .unwrap();
    refused(
        &skiff(&["up", "--config", cfg.to_str().unwrap()]),
        &["mtu", "big"],
    );
    std::fs::write(&cfg, "[[interface]]\nname = \"t0\"\nmttu = 1500\n").unwrap();
    refused(
        &skiff(&["up", "--config", cfg.to_str().unwrap()]),
        &["mttu", "interface[0]"],
    );
    refused(
        &skiff(&["ctl", "--ctl", tmp("none.sock").to_str().unwrap(), "snmp"]),
        &["none.sock"],
    );
}

/// Ones' complement sum of 16-bit words (RFC 1071).
fn csum(data: &[u8]) -> u16 {
    let mut s: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

const KERNEL_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const SKIFF_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
const KERNEL_IP: [u8; 4] = [10, 0, 0, 1];
const SKIFF_IP: [u8; 4] = [10, 0, 0, 2];

fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = [SKIFF_MAC, KERNEL_MAC].concat();
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, proto, 0, 0];
    ip[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&KERNEL_IP);
    ip.extend_from_slice(&SKIFF_IP);
    let c = csum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(payload);
    f
}

fn capture_in() -> Vec<Vec<u8>> {
    let mut arp = [[0xff; 6], KERNEL_MAC].concat();
    arp.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&KERNEL_MAC);
    arp.extend_from_slice(&KERNEL_IP);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&SKIFF_IP);
    arp.resize(60, 0);
    let mut echo = vec![8, 0, 0, 0, 0, 7, 0, 1];
    echo.extend_from_slice(b"replayed ping");
    let c = csum(&echo);
    echo[2..4].copy_from_slice(&c.to_be_bytes());
    // UDP checksum 0: none (RFC 768).
    let mut udp = vec![0x9c, 0x40, 0, 7, 0, 0, 0, 0];
    udp.extend_from_slice(b"replayed datagram");
    let len = udp.len() as u16;
    udp[4..6].copy_from_slice(&len.to_be_bytes());
    vec![arp, ipv4(1, &echo), ipv4(17, &udp)]
}

#[test]
fn pcap_replay_feeds_a_capture_through_a_configured_stack() {
    let input = tmp("in.pcap");
    let mut w =
        PcapWriter::new(std::fs::File::create(&input).unwrap(), LinkType::Ethernet).unwrap();
    for (i, f) in capture_in().iter().enumerate() {
        w.write_packet(1_700_000_000_000_000_000 + i as u64 * 1_000_000, f)
            .unwrap();
    }
    drop(w);
    let cfg = tmp("replay.toml");
    std::fs::write(
        &cfg,
        "[[interface]]\nname = \"tap0\"\naddress = \"10.0.0.2/24\"\nmac = \"02:00:00:00:00:02\"\n\n\
         [[udp_echo]]\nport = 7\n",
    )
    .unwrap();
    let out = tmp("out.pcap");
    let run = skiff(&[
        "pcap",
        "replay",
        input.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.starts_with("replayed 3 frames; wrote "), "{stdout}");

    // What skiff sent: the ARP reply, the echo reply and the echoed datagram (and, later,
    // ARP's unicast probe of the neighbour it learned).
    let mut r = skiff_io::pcap::PcapReader::new(std::fs::File::open(&out).unwrap()).unwrap();
    let mut frames = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        frames.push(rec.data);
    }
    let arp_reply = frames
        .iter()
        .any(|f| f[12..14] == [8, 6] && f[20..22] == [0, 2] && f[0..6] == KERNEL_MAC);
    let echo_reply = frames
        .iter()
        .any(|f| f[12..14] == [8, 0] && f[23] == 1 && f[34] == 0 && f.ends_with(b"replayed ping"));
    let udp_echo = frames
        .iter()
        .any(|f| f[23] == 17 && f[34..36] == [0, 7] && f.ends_with(b"replayed datagram"));
    assert!(arp_reply && echo_reply && udp_echo, "{frames:?}");
    if let Some(n) = common::check_with_tshark(&out) {
        assert_eq!(n, frames.len());
    }

    // A capture that is not Ethernet is refused by name.
    let raw = tmp("raw.pcap");
    let w = PcapWriter::new(std::fs::File::create(&raw).unwrap(), LinkType::Ipv4).unwrap();
    drop(w);
    let run = skiff(&[
        "pcap",
        "replay",
        raw.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    refused(&run, &["raw.pcap", "Ethernet"]);
}
