//! tshark reads what PcapWriter writes: Ethernet + IPv4 + ICMP frames built with
//! skiff_wire, nanosecond timestamps, no malformed packet, no expert warning.
//!
//! Without tshark the test is skipped with a reason, and with CI=true a skip fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use skiff_io::pcap::{LinkType, PcapWriter};
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::{EtherType, EthernetAddress, EthernetRepr};
use skiff_wire::icmpv4::{DstUnreachable, Icmpv4Repr};
use skiff_wire::ipv4::{IpProtocol, Ipv4Repr};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const MAC_A: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 1]);
const MAC_B: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 2]);

/// Ethernet + IPv4 + ICMP frame, all checksums filled in by skiff_wire.
fn frame(
    src: (EthernetAddress, Ipv4Addr),
    dst: (EthernetAddress, Ipv4Addr),
    ident: u16,
    icmp: &Icmpv4Repr,
) -> Vec<u8> {
    let eth = EthernetRepr {
        src: src.0,
        dst: dst.0,
        vlan: None,
        ethertype: EtherType::Ipv4,
    };
    let ip = Ipv4Repr {
        src: src.1,
        dst: dst.1,
        protocol: IpProtocol::Icmp,
        ttl: 64,
        tos: 0,
        ident,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
        options: &[],
        payload_len: icmp.buffer_len(),
    };
    let mut buf = vec![0u8; eth.header_len() + ip.buffer_len()];
    eth.emit(&mut buf).unwrap();
    let l3 = eth.header_len();
    ip.emit(&mut buf[l3..]).unwrap();
    icmp.emit(&mut buf[l3 + ip.header_len()..]).unwrap();
    buf
}

/// Capture start: 2023-11-14T22:13:20.000000001Z, one nanosecond past the second.
const T0: u64 = 1_700_000_000_000_000_001;

/// (timestamp, frame) of an echo request, its reply, and a port unreachable quoting the
/// request's IP header and first 8 payload bytes.
fn capture() -> Vec<(u64, Vec<u8>)> {
    let payload: Vec<u8> = (0..56u8).collect();
    let request = frame(
        (MAC_A, A),
        (MAC_B, B),
        1,
        &Icmpv4Repr::EchoRequest {
            ident: 0x1234,
            seq_no: 1,
            data: &payload,
        },
    );
    let reply = frame(
        (MAC_B, B),
        (MAC_A, A),
        2,
        &Icmpv4Repr::EchoReply {
            ident: 0x1234,
            seq_no: 1,
            data: &payload,
        },
    );
    let quoted = &request[14..14 + 20 + 8];
    let unreach = frame(
        (MAC_B, B),
        (MAC_A, A),
        3,
        &Icmpv4Repr::DstUnreachable {
            reason: DstUnreachable::PortUnreachable,
            next_hop_mtu: 0,
            data: quoted,
        },
    );
    vec![
        (T0, request),
        (T0 + 250_000_123, reply),
        (T0 + 2_999_999_999, unreach),
    ]
}

/// Runs tshark on `file` with checksum validation on, returning stdout.
fn tshark(file: &Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-o", "ip.check_checksum:TRUE"])
        .args(args)
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("tshark prints UTF-8")
}

/// A file in the temporary directory, removed on drop.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn tshark_reads_the_capture() {
    if !common::have("tshark_reads_the_capture", &[common::TSHARK]) {
        return;
    }
    let file = TempFile(
        std::env::temp_dir().join(format!("skiff-pcap-tshark-{}.pcap", std::process::id())),
    );
    let frames = capture();
    let mut w = PcapWriter::new(
        std::io::BufWriter::new(std::fs::File::create(&file.0).unwrap()),
        LinkType::Ethernet,
    )
    .unwrap();
    for (ts, f) in &frames {
        w.write_packet(*ts, f).unwrap();
    }
    w.into_inner().into_inner().unwrap().sync_all().unwrap();

    let fields = tshark(
        &file.0,
        &[
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "frame.number",
            "-e",
            "frame.time_epoch",
            "-e",
            "frame.len",
            "-e",
            "ip.checksum.status",
            "-e",
            "icmp.checksum.status",
            "-e",
            "icmp.type",
            "-e",
            "_ws.malformed",
            "-e",
            "_ws.expert.severity",
        ],
    );
    // Columns: number, time, length, IP checksum status, ICMP checksum status, ICMP type,
    // malformed, expert severities. Quoted headers add a second value to a column.
    let rows: Vec<Vec<&str>> = fields.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(rows.len(), frames.len(), "{fields}");
    let icmp_types = ["8", "0", "3,8"];
    for (i, (row, (ts, f))) in rows.iter().zip(&frames).enumerate() {
        assert_eq!(row.len(), 8, "{fields}");
        assert_eq!(row[0], (i + 1).to_string());
        // Nanosecond timestamps survive: tshark read the nanosecond magic.
        assert_eq!(
            row[1],
            format!("{}.{:09}", ts / 1_000_000_000, ts % 1_000_000_000)
        );
        assert_eq!(row[2], f.len().to_string());
        // Checksum status 1 = good (2 = unverified, for the truncated quoted ICMP).
        assert!(
            row[3].split(',').all(|s| s == "1"),
            "frame {}: {fields}",
            i + 1
        );
        assert_eq!(
            row[4].split(',').next(),
            Some("1"),
            "frame {}: {fields}",
            i + 1
        );
        assert_eq!(row[5], icmp_types[i]);
        assert_eq!(row[6], "", "frame {} malformed: {fields}", i + 1);
        // No expert info at warning (PI_WARN = 0x600000) or error level.
        for sev in row[7].split(',').filter(|s| !s.is_empty()) {
            let sev: u32 = sev.parse().unwrap();
            assert!(sev < 0x60_0000, "frame {}: {fields}", i + 1);
        }
    }

    // The expert summary has no Errors or Warns section.
    let expert = tshark(&file.0, &["-q", "-z", "expert"]);
    assert!(
        !expert.contains("Errors") && !expert.contains("Warns"),
        "{expert}"
    );
}
