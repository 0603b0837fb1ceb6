//! IPv4: receive, local delivery, forwarding, output, ICMP, IGMP and raw sockets.

pub mod forward;
pub mod icmp;
pub mod igmp;
pub mod input;
pub mod ip_fragment;
pub mod ip_output_frag;
pub mod options;
pub mod output;
pub mod raw;
