//! skiff-core: the sans-I/O IPv4 stack. It never reads a clock, opens a descriptor,
//! spawns a thread or prints: time and frames are arguments.
//!
//! The README's example:
//! ```
//! # use skiff_wire::{Ipv4Addr, ethernet::EthernetAddress};
//! # use skiff_core::time::Instant;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let (mac, gw, now) = (EthernetAddress([2, 0, 0, 0, 0, 1]), Ipv4Addr::new(10, 0, 0, 254), Instant::from_secs(1));
//! use skiff_core::{Stack, StackConfig, route::{FibRoute, RouteType}};
//!
//! let mut s = Stack::new(StackConfig::default());           // lo 127.0.0.1/8 is up
//! let eth0 = s.add_device("eth0", mac, 1500)?;
//! s.set_up(eth0, true)?;
//! s.add_addr(eth0, "10.0.0.1".parse()?, 24)?;               // local, broadcast and prefix routes
//! s.add_route(FibRoute::new(Ipv4Addr::UNSPECIFIED, 0, RouteType::Unicast).via(gw))?;
//! # let mut frame = s.alloc_skb(60).unwrap(); frame.put(60)?;
//! s.netif_receive(now, eth0, frame);                         // a frame arrived (an SkBuff)
//! while let Some((dev, frame)) = s.poll_transmit() { /* put it on dev */ }
//! s.handle_timeout(now);                                     // when s.poll_timeout() says so
//! print!("{}", s.render_snmp());                             // /proc/net/snmp, byte for byte
//! # assert!(s.render_snmp().starts_with("Ip: Forwarding"));
//! # Ok(())
//! # }
//! ```
//!
//! Comments cite Linux's semantics by rule number, R1–R25, and by section (§1.2, §2,
//! §3) of `docs/linux-semantics.md`, and the design by section of
//! `docs/architecture.md`.
#![forbid(unsafe_code)]

pub mod drop;
pub mod errno;
pub mod inetpeer;
pub mod ipv4;
pub mod neigh;
pub mod netdev;
pub mod netfilter;
pub mod offload;
pub mod rand;
pub mod route;
pub mod shell;
pub mod sim;
pub mod skb;
pub mod socket;
pub mod stack;
pub mod stats;
pub mod sysctl;
pub mod time;
pub mod udp;

pub use stack::{Stack, StackConfig};
