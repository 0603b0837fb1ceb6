//! `skiff`: the command-line front end.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "skiff",
    version,
    about = "A user-space IPv4 stack that follows the Linux datapath"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the in-process demo network (host A, router R, host B).
    Demo,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Demo => {
            // The datapath the demo drives (devices, ARP, ip_rcv, routing, ICMP) is the next
            // issue; saying so beats printing a made-up run.
            eprintln!(
                "skiff demo: not available yet. This build has the foundation only \
                 (wire formats, checksums, SkBuff, timers); the in-process A-R-B demo \
                 arrives with the IPv4 host datapath."
            );
            ExitCode::from(2)
        }
    }
}
