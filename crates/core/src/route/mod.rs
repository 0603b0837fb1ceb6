//! IPv4 routing: the FIB (local and main tables), interface addresses and the routes they
//! install, source address selection, and the input and output route resolvers that turn a
//! packet or a flow into a [`DstEntry`].
//! Linux net/ipv4/route.c, fib_trie.c, fib_frontend.c, devinet.c.
//!
//! Deviations from Linux, all deliberate: no policy rules (one merged trie, as Linux runs
//! without custom rules), no multipath, no route TOS, no multicast forwarding, no per-nexthop
//! route cache (every resolution is a slow-path resolution, so the `*_slow_*` counters count
//! every call), `promote_secondaries` is 0. Nexthop exceptions hold learned path MTUs only
//! (no redirects).

pub mod cache;
mod error;
pub mod exception;
mod fib;
mod ifaddr;
mod input;
mod output;
mod render;
mod table;
mod types;

pub use error::{RouteError, RouteInputError};
pub use table::Fib;
// The private helpers and constants the submodules share through `use super::*`.
use table::inc;
use types::*;
pub use types::{
    DstEntry, DstInput, FibDevice, FibRoute, FibTableId, Flowi4, InAddr, RouteProtocol, RouteScope,
    RouteType, RtCacheStat, RtFlags,
};

#[cfg(test)]
mod tests;
