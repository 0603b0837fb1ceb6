//! `skiff`: the command-line front end.

mod demo;

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
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Demo { trace, pcap_dir } => match demo::run(demo::DemoOptions { trace, pcap_dir })
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("skiff demo: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
