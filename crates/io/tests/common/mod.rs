//! Helpers shared by the tests that need a network namespace of their own or a tool
//! from outside (the CLI's tests include this file too).
//!
//! A test that cannot run here (no root, or a tool missing) is skipped with one line that
//! says why, also appended to the file named by `$SKIFF_SKIPPED` (`scripts/test.sh` lists
//! them at its end). With CI=true a skip fails instead.
#![allow(dead_code)]

use std::io::Write;
use std::process::Command;

/// A program a test runs, and the Debian package that installs it.
#[derive(Clone, Copy)]
pub struct Tool {
    pub name: &'static str,
    pub package: &'static str,
}

pub const IP: Tool = Tool {
    name: "ip",
    package: "iproute2",
};
pub const NSTAT: Tool = Tool {
    name: "nstat",
    package: "iproute2",
};
pub const PING: Tool = Tool {
    name: "ping",
    package: "iputils-ping",
};
pub const HPING3: Tool = Tool {
    name: "hping3",
    package: "hping3",
};
pub const CLOCKDIFF: Tool = Tool {
    name: "clockdiff",
    package: "iputils-clockdiff",
};
pub const TSHARK: Tool = Tool {
    name: "tshark",
    package: "tshark",
};

/// The variable that marks the namespaced run.
const CHILD: &str = "SKIFF_TEST_NETNS";

/// Skips `what` because `why`: one line on stderr and in `$SKIFF_SKIPPED`. Fails with CI=true.
pub fn skip(what: &str, why: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(!ci, "{what} {why}, and CI=true: it must run in CI");
    let line = format!("skipped: {what}: {why}\n");
    eprint!("{line}");
    if let Some(path) = std::env::var_os("SKIFF_SKIPPED") {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path);
        // One write of the whole line, so that parallel tests do not interleave.
        if let Ok(mut f) = file {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// Whether every tool is on PATH; otherwise skips `what`, naming the missing tool and its
/// package.
pub fn have(what: &str, tools: &[Tool]) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing = tools
        .iter()
        .find(|t| !std::env::split_paths(&path).any(|dir| dir.join(t.name).is_file()));
    match missing {
        None => true,
        Some(t) => {
            skip(
                what,
                &format!("needs {} (apt-get install {})", t.name, t.package),
            );
            false
        }
    }
}

/// Whether this is the namespaced run of `test`. Otherwise, as root and with every tool
/// there, it re-runs the test under `unshare --net`, checks its result and returns false;
/// without root or a tool, it skips.
pub fn in_netns(test: &str, tools: &[Tool]) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    // SAFETY: geteuid() has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        skip(test, "needs root (a network namespace of its own)");
        return false;
    }
    if !have(test, tools) {
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
