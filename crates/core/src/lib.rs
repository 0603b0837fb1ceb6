//! skiff-core: the sans-I/O IPv4 stack. It never reads a clock, opens a descriptor,
//! spawns a thread or prints: time and frames are arguments.
#![forbid(unsafe_code)]

pub mod rand;
pub mod skb;
pub mod time;
