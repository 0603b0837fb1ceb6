//! skiff-io: the only skiff crate that touches the operating system. It gives the sans-I/O
//! core what it cannot take itself: the real clock now, and later the devices (TAP/TUN with
//! vnet_hdr, pcap files), the event loop driving `netif_receive`/`poll_transmit`/
//! `handle_timeout`, and the blocking and async socket APIs.
// Deny, not forbid: the TUN ioctls will opt in module by module with `#[allow(unsafe_code)]`.
#![deny(unsafe_code)]

pub mod clock;
pub mod daemon;
pub mod device;
pub mod epoll;
pub mod net;
pub mod pcap;
pub mod tap;
pub mod tokio;
