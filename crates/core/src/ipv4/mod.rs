//! IPv4: receive, local delivery, forwarding, multicast routing, output, ICMP, IGMP and
//! raw sockets.

pub mod defrag;
pub mod forward;
pub mod fragment;
pub mod hdr;
pub mod icmp;
pub mod igmp;
pub mod input;
pub mod ipip;
pub mod ipmr;
pub mod ipmr_ctl;
pub mod mc_list;
pub mod mroute;
pub mod options;
pub mod output;
pub mod raw;
