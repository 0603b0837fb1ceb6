//! skiff-core: the sans-I/O IPv4 stack. It never reads a clock, opens a descriptor,
//! spawns a thread or prints: time and frames are arguments.
#![forbid(unsafe_code)]

pub mod drop;
pub mod inetpeer;
pub mod ipv4;
pub mod neigh;
pub mod netdev;
pub mod netfilter;
pub mod rand;
pub mod route;
pub mod sim;
pub mod skb;
pub mod stack;
pub mod stats;
pub mod sysctl;
pub mod time;
pub mod udp;

pub use stack::{Stack, StackConfig};
