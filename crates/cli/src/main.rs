//! `skiff`: the command-line front end.

mod config;
mod ctl;
mod demo;
mod replay;
mod up;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
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
    Demo {
        /// Print every packet's path as kernel function names, one packet per line.
        #[arg(long)]
        trace: bool,
        /// Write one pcap per link into this directory.
        #[arg(long, value_name = "DIR")]
        pcap_dir: Option<PathBuf>,
    },
    /// Run a stack on TAP devices until SIGINT or SIGTERM (needs CAP_NET_ADMIN).
    Up(config::UpArgs),
    /// Ask a running daemon: snmp | netstat | route | neigh | frags | rules | link | drops |
    /// igmp | mroute | sysctl KEY[=VALUE]...
    Ctl {
        /// The daemon's control socket (default: the one in /run/skiff).
        #[arg(long, value_name = "PATH")]
        ctl: Option<PathBuf>,
        #[arg(required = true, num_args = 1.., value_name = "COMMAND")]
        words: Vec<String>,
    },
    /// pcap tools.
    Pcap {
        #[command(subcommand)]
        command: PcapCommand,
    },
}

#[derive(Subcommand)]
enum PcapCommand {
    /// Feed a capture through a configured stack offline; write what it sends.
    Replay {
        #[arg(value_name = "IN.pcap")]
        input: PathBuf,
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long, value_name = "OUT.pcap")]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let (what, result) = match Cli::parse().command {
        Command::Demo { trace, pcap_dir } => (
            "demo",
            demo::run(demo::DemoOptions { trace, pcap_dir }).map_err(|e| e.to_string()),
        ),
        Command::Up(args) => ("up", up::run(&args)),
        Command::Ctl { ctl, words } => (
            "ctl",
            ctl::request(ctl.as_deref(), &words).map(|text| print!("{text}")),
        ),
        Command::Pcap {
            command: PcapCommand::Replay { input, config, out },
        } => (
            "pcap replay",
            replay::run(&input, &config, &out).map(|s| {
                println!(
                    "replayed {} frames; wrote {} to {}",
                    s.read,
                    s.written,
                    out.display()
                )
            }),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skiff {what}: {e}");
            ExitCode::FAILURE
        }
    }
}
