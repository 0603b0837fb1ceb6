//! iproute2 `nstat` reads skiff's MIB text as it reads the kernel's: every counter of
//! `Mib::iter()` comes back under the same name with the same value.
//!
//! Without nstat the test is skipped with a reason, and with CI=true a skip fails.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use skiff_core::stats::Mib;

/// Files in the temporary directory, removed on drop.
struct TempFiles(Vec<PathBuf>);

impl Drop for TempFiles {
    fn drop(&mut self) {
        for f in &self.0 {
            let _ = std::fs::remove_file(f);
        }
    }
}

#[test]
fn nstat_reads_the_rendered_mib() {
    if !common::have("nstat_reads_the_rendered_mib", &[common::NSTAT]) {
        return;
    }
    let mut mib = Mib::default();
    mib.ip.in_receives = 1000;
    mib.ip.in_hdr_errors = 3;
    mib.ip.out_transmits = 77;
    mib.icmp_in(8);
    mib.icmp_out(0);
    mib.icmp_in_csum_error();
    for t in 0..20 {
        mib.icmp_in(t);
    }
    mib.icmp.out_rate_limit_global = 9;
    mib.udp.no_ports = 5;
    mib.udp_lite.in_datagrams = 6;
    mib.ip_ext.in_octets = u64::MAX;
    mib.ip_ext.reasm_overlaps = 2;

    let dir = std::env::temp_dir();
    let pid = std::process::id();
    let files = TempFiles(vec![
        dir.join(format!("skiff-nstat-{pid}.snmp")),
        dir.join(format!("skiff-nstat-{pid}.netstat")),
        dir.join(format!("skiff-nstat-{pid}.empty")),
    ]);
    std::fs::write(&files.0[0], mib.render_snmp(true, 64)).unwrap();
    std::fs::write(&files.0[1], mib.render_netstat()).unwrap();
    std::fs::write(&files.0[2], "").unwrap();

    // -a: absolute values, -s: no history update, -z: zeros too.
    let out = Command::new("nstat")
        .args(["-a", "-s", "-z"])
        .env("PROC_NET_SNMP", &files.0[0])
        .env("PROC_NET_NETSTAT", &files.0[1])
        .env("PROC_NET_SNMP6", &files.0[2])
        .env("PROC_NET_SCTP_SNMP", &files.0[2])
        .output()
        .expect("run nstat");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let got: BTreeMap<String, u64> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let mut it = l.split_whitespace();
            let name = it.next().unwrap().to_string();
            let value = it.next().unwrap().parse().unwrap();
            (name, value)
        })
        .collect();
    let want: BTreeMap<String, u64> = mib.iter().collect();
    assert_eq!(got, want, "nstat printed:\n{text}");
}
