//! Helpers shared by the CLI's tests: the tshark check of captures, and (for the tests
//! against the kernel) network namespaces and a `skiff up` daemon as a child process.
#![allow(dead_code)]

#[path = "../../../io/tests/common/mod.rs"]
pub mod netns;

pub use netns::run;

use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Reads `file` with tshark, checksums checked: every frame Ethernet or IPv4, none malformed,
/// nothing worse than a note. Returns the number of frames; without tshark (and not in
/// CI) skips the check and returns `None`.
pub fn check_with_tshark(file: &Path) -> Option<usize> {
    let what = format!("the tshark check of {}", file.display());
    if !netns::have(&what, &[netns::TSHARK]) {
        return None;
    }
    let out = Command::new("tshark")
        .args([
            "-n",
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "tcp.analyze_sequence_numbers:FALSE",
            "-r",
        ])
        .arg(file)
        .args([
            "-T",
            "fields",
            "-e",
            "frame.protocols",
            "-e",
            "_ws.malformed",
            "-e",
            "_ws.expert.severity",
        ])
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut frames = 0;
    for line in text.lines() {
        frames += 1;
        let cols: Vec<&str> = line.split('\t').collect();
        // Ethernet (TAP) or raw IPv4 (TUN) records.
        assert!(
            cols[0].starts_with("eth:ethertype:") || cols[0].starts_with("raw:"),
            "{line}"
        );
        assert!(
            cols.get(1).is_none_or(|c| c.is_empty()),
            "malformed: {line}"
        );
        // Severity: note is 0x400000, warn 0x600000, error 0x800000. A TTL-1 probe draws a note.
        let worst = cols.get(2).map_or(0, |c| {
            c.split(',')
                .filter_map(|v| v.parse::<u64>().ok())
                .max()
                .unwrap_or(0)
        });
        assert!(worst < 0x600000, "tshark warns: {line}");
    }
    Some(frames)
}

/// [`check_with_tshark`], and at least `min` frames (when tshark is there).
pub fn check_capture(file: &Path, min: usize) {
    let frames = check_with_tshark(file);
    assert!(
        frames.is_none_or(|n| n >= min),
        "{frames:?} frames in {}",
        file.display()
    );
}

/// A `skiff up` daemon; SIGTERM when dropped.
pub struct Daemon {
    child: Child,
    stdout: Option<BufReader<ChildStdout>>,
    pub ready: String,
}

impl Daemon {
    /// Starts `skiff up ARGS` and waits for its `ready` line.
    pub fn up(args: &[&str]) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .arg("up")
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("skiff runs");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut line = String::new();
            let _ = stdout.read_line(&mut line);
            let _ = tx.send(line);
            stdout
        });
        let ready = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        if !ready.starts_with("ready") {
            let _ = child.kill();
            let status = child.wait();
            panic!("skiff up {args:?}: no ready line ({ready:?}); {status:?}");
        }
        Daemon {
            child,
            stdout: Some(reader.join().unwrap()),
            ready,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time the daemon has used, in clock ticks (utime + stime of /proc/PID/stat).
    pub fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // The fields after the command name, which ends at the last ')'.
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }

    /// `skiff ctl --ctl PATH WORDS`: (success, stdout, stderr).
    pub fn ctl(path: &str, words: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .args(["ctl", "--ctl", path])
            .args(words)
            .output()
            .expect("skiff ctl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// SIGTERM, then the rest of its stdout (the final counters) once it has exited.
    pub fn stop(mut self) -> String {
        self.terminate();
        let status = self.child.wait().unwrap();
        let mut rest = String::new();
        if let Some(mut out) = self.stdout.take() {
            let _ = out.read_to_string(&mut rest);
        }
        assert!(status.success(), "skiff up exited with {status}:\n{rest}");
        rest
    }

    fn terminate(&mut self) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill() sends a signal to our own child; no memory is involved.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.stdout.is_some() {
            self.terminate();
            let _ = self.child.wait();
        }
    }
}

/// A network namespace held by a sleeping child: `ip link set DEV netns PID` moves a
/// device there, `exec` runs a command in it, and `enter` runs a closure on a thread
/// inside it (sockets made there stay in it). Killed when dropped.
pub struct Netns {
    holder: Child,
}

impl Netns {
    pub fn new() -> Netns {
        let holder = Command::new("unshare")
            .args(["--net", "--", "sleep", "3600"])
            .spawn()
            .expect("unshare runs");
        let ns = Netns { holder };
        // Wait until the holder has left our namespace.
        let me = std::fs::read_link("/proc/self/ns/net").unwrap();
        for _ in 0..200 {
            if std::fs::read_link(format!("/proc/{}/ns/net", ns.pid())).is_ok_and(|l| l != me) {
                ns.exec("ip", &["link", "set", "lo", "up"]);
                return ns;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the namespace holder did not start");
    }

    pub fn pid(&self) -> String {
        self.holder.id().to_string()
    }

    /// Moves `dev` (in the caller's namespace) into this one.
    pub fn take(&self, dev: &str) {
        run("ip", &["link", "set", dev, "netns", &self.pid()]);
    }

    /// Runs `cmd ARGS` in the namespace; panics unless it succeeds.
    pub fn exec(&self, cmd: &str, args: &[&str]) -> String {
        let pid = self.pid();
        let mut a = vec!["-t", pid.as_str(), "-n", cmd];
        a.extend_from_slice(args);
        run("nsenter", &a)
    }

    /// Runs `cmd ARGS` in the namespace: (success, stdout + stderr).
    pub fn try_exec(&self, cmd: &str, args: &[&str]) -> (bool, String) {
        let out = Command::new("nsenter")
            .args(["-t", &self.pid(), "-n", cmd])
            .args(args)
            .output()
            .unwrap();
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }

    /// Runs `f` on a new thread that has joined this namespace.
    pub fn enter<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        let ns = std::fs::File::open(format!("/proc/{}/ns/net", self.pid())).unwrap();
        std::thread::spawn(move || {
            // SAFETY: setns() takes a namespace descriptor we hold open; it changes only
            // this thread's network namespace.
            let r = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}
