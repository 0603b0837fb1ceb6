//! IPv4: receive, local delivery, forwarding, output, ICMP, IGMP and raw sockets.

pub mod defrag;
pub mod forward;
pub mod fragment;
pub mod hdr;
pub mod icmp;
pub mod igmp;
pub mod input;
pub mod mc_list;
pub mod options;
pub mod output;
pub mod raw;
