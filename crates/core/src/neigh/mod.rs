//! The neighbour layer: next hop → Ethernet address resolution with the NUD state machine,
//! the queue of packets waiting for resolution, and garbage collection. Linux
//! net/core/neighbour.c driving the ARP table `arp_tbl` of net/ipv4/arp.c; ARP itself
//! (receive processing, requests, replies, announcements) is in [`arp`].
//!
//! One [`NeighTable`] holds the entries of every device, keyed by (ifindex, address), with
//! one set of [`NeighParms`] (Linux clones the table parms per device; skiff shares them).
//! Everything the table wants sent or dropped comes out as [`NeighAction`]s in `out`.
//!
//! Here only the wiring: `table` holds the types, the table and its calls; `nud` the NUD
//! state machine and its timers, `gc` the garbage collection.

mod arp;
mod gc;
mod nud;
mod table;
#[cfg(test)]
mod tests;

pub use arp::ArpDrop;
pub(crate) use table::eth_header_push;
pub use table::{
    NeighAction, NeighDev, NeighDropReason, NeighEntryInfo, NeighError, NeighParms, NeighStats,
    NeighTable, NextHopKind, NudState,
};
