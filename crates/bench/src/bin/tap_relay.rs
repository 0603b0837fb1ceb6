//! `tap-relay TAP_A TAP_B [--no-offload]`: the physical limit of a path through two TAP
//! devices. Every frame read from one TAP is written, with its virtio-net header unchanged,
//! to the other: no parsing, no routing, no copies beyond the kernel's own. bench/router.sh
//! divides skiff's routed throughput by this relay's on the same topology.
//!
//! With `--no-offload` the TAPs still carry a virtio-net header but TUNSETOFFLOAD is not
//! asked for, so the kernel segments and checksums every packet before handing it over.
//!
//! Prints `ready` once both TAPs are open, then runs until killed (SIGINT/SIGTERM keep
//! their default action). Write errors (EIO while the other side is down, ENOBUFS,
//! EAGAIN) are counted and the frame dropped.
#![forbid(unsafe_code)]

use skiff_io::epoll::Epoll;
use skiff_io::tap::{MAX_FRAME, Tap, TapOptions, VNET_HDR_LEN};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::process::ExitCode;

/// Frames taken from one TAP before turning to the other, so a flood one way does not
/// starve the ACKs coming back.
const BATCH: usize = 64;

/// One direction's buffer, reused for every frame, and its counters.
struct Direction {
    name: &'static str,
    hdr: [u8; VNET_HDR_LEN],
    frame: Box<[u8]>,
    frames: u64,
    read_errors: u64,
    write_errors: u64,
}

impl Direction {
    fn new(name: &'static str) -> Direction {
        Direction {
            name,
            hdr: [0; VNET_HDR_LEN],
            frame: vec![0u8; MAX_FRAME].into_boxed_slice(),
            frames: 0,
            read_errors: 0,
            write_errors: 0,
        }
    }

    /// Moves up to `BATCH` frames from `from` to `to`; false once `from` is empty (or
    /// failing, which level-triggered epoll will report again).
    fn relay(&mut self, from: &Tap, to: &Tap) -> bool {
        for _ in 0..BATCH {
            match from.read(&mut self.hdr, &mut self.frame) {
                Ok(Some(n)) => {
                    self.frames += 1;
                    if let Err(e) = to.write(Some(&self.hdr), &self.frame[..n]) {
                        self.write_errors += 1;
                        self.note("write", &e, self.write_errors);
                    }
                }
                Ok(None) => return false,
                Err(e) => {
                    self.read_errors += 1;
                    self.note("read", &e, self.read_errors);
                    return false;
                }
            }
        }
        true
    }

    /// Logs the 1st, 2nd, 4th, 8th… error of a kind: visible, but never a flood.
    fn note(&self, what: &str, e: &io::Error, count: u64) {
        if count.is_power_of_two() {
            eprintln!(
                "tap-relay: {} {what} error #{count} ({} frames so far): {e}",
                self.name, self.frames
            );
        }
    }
}

fn open(name: &str, offload: bool) -> io::Result<Tap> {
    Tap::open(&TapOptions {
        name: name.to_string(),
        tun: false,
        vnet_hdr: true,
        multi_queue: false,
        offload,
    })
    .map_err(|e| io::Error::new(e.kind(), format!("opening TAP {name}: {e}")))
}

fn run(a_name: &str, b_name: &str, offload: bool) -> io::Result<()> {
    let a = open(a_name, offload)?;
    let b = open(b_name, offload)?;
    let mut ep = Epoll::new()?;
    ep.add(a.as_raw_fd(), 0)?;
    ep.add(b.as_raw_fd(), 1)?;
    eprintln!(
        "tap-relay: {} (offloads {:#x}) <-> {} (offloads {:#x})",
        a.name(),
        a.offloads(),
        b.name(),
        b.offloads()
    );
    {
        let mut out = io::stdout().lock();
        writeln!(out, "ready")?;
        out.flush()?;
    }
    let mut a_to_b = Direction::new("a->b");
    let mut b_to_a = Direction::new("b->a");
    loop {
        let ready = ep.wait(None)?;
        let (mut more_a, mut more_b) = (ready.contains(&0), ready.contains(&1));
        // Round-robin between the two directions until both are drained.
        while more_a || more_b {
            if more_a {
                more_a = a_to_b.relay(&a, &b);
            }
            if more_b {
                more_b = b_to_a.relay(&b, &a);
            }
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut offload = true;
    let mut names = Vec::new();
    for arg in &args {
        match arg.as_str() {
            "--no-offload" => offload = false,
            "-h" | "--help" => {
                println!("usage: tap-relay TAP_A TAP_B [--no-offload]");
                return ExitCode::SUCCESS;
            }
            s if s.starts_with('-') => {
                eprintln!(
                    "tap-relay: unknown option {s}\nusage: tap-relay TAP_A TAP_B [--no-offload]"
                );
                return ExitCode::from(2);
            }
            s => names.push(s),
        }
    }
    let [a, b] = names[..] else {
        eprintln!("usage: tap-relay TAP_A TAP_B [--no-offload]");
        return ExitCode::from(2);
    };
    match run(a, b, offload) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tap-relay: {e}");
            ExitCode::FAILURE
        }
    }
}
