//! Helpers shared by the tests that need a network namespace of their own (the CLI's
//! tests include this file too).
#![allow(dead_code)]

use std::process::Command;

/// The variable that marks the namespaced run.
const CHILD: &str = "SKIFF_TEST_NETNS";

/// Whether this is the namespaced run of `test`. Otherwise, as root, it re-runs the test
/// under `unshare --net`, checks its result and returns false; without root it prints
/// why it skips (and fails with CI=true).
pub fn in_netns(test: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    // SAFETY: geteuid() has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(!ci, "{test} needs root in CI");
        println!("skipped: {test} needs root to create a network namespace");
        return false;
    }
    let out = Command::new("unshare")
        .args(["--net", "--"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture"])
        .env(CHILD, "1")
        .output()
        .expect("unshare runs");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the namespaced run of {test} failed");
    false
}

/// Runs a command; panics with its output unless it succeeds. Returns stdout.
pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The kernel's `ping` to `to`, `count` packets of `size` bytes for each pair; every one
/// must be answered.
pub fn kernel_pings(to: &str, runs: &[(&str, &str)]) {
    for &(count, size) in runs {
        let text = run(
            "ping",
            &["-c", count, "-i", "0.01", "-W", "2", "-s", size, to],
        );
        assert!(
            text.contains(&format!("{count} packets transmitted, {count} received")),
            "ping -s {size}:\n{text}"
        );
        println!("ping -c {count} -s {size} {to}: all answered");
    }
}

/// Kernel ping from one packet up to the largest datagram, fragmented both ways.
pub const PING_SIZES: &[(&str, &str)] = &[
    ("1", "56"),
    ("100", "56"),
    ("3", "1472"),
    ("3", "8000"),
    ("2", "65507"),
];
