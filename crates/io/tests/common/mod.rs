//! Helpers shared by the tests that need a network namespace of their own.

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
