//! `SkBuff`, one packet in flight. Linux include/linux/skbuff.h `struct sk_buff`.
//!
//! ```text
//!  0 (head)          data                  tail                 buf.len() (end)
//!  |    headroom      |     linear data      |      tailroom       |
//!              push ← | → pull        put →  |
//! ```
//! The packet is the linear data followed by the bytes of every `frag_list` piece in order
//! ([`SkBuff::len`](SkBuffInner::len) counts both, like `skb->len`). Header offsets
//! (`mac_header`, `network_header`, `transport_header`) and
//! `ChecksumState::Partial::csum_start` are relative to the head, as in Linux, so they stay
//! put when `push`/`pull` move `data`.
//!
//! When bytes are copied and when they are shared:
//! - skiff never shares packet bytes between two `SkBuff`s: there is no `skb_clone()` with
//!   shared data and no reference count, so writing through one `SkBuff` never changes another.
//! - `push`, `pull`, `put`, `reserve` and `trim` only move offsets; they never copy.
//! - `frag_list` pieces are owned `SkBuff`s; moving a packet moves them.
//! - `Clone` is Linux `skb_copy()`: a deep copy of the whole buffer (headroom included) and of
//!   every `frag_list` piece, freshly allocated.
//! - [`SkBuff::linearize`](SkBuffInner::linearize) copies the `frag_list` bytes into the
//!   linear buffer (`skb_linearize()`), taking a bigger buffer from the pool when the tailroom
//!   is short.
//! - [`SkbPool`] moves buffers: `recycle` moves them in, `alloc` moves them out, so a buffer
//!   is in exactly one place at a time. Reused buffers are not zeroed (like `kmalloc`); only
//!   bytes a caller writes (or pushes over) become packet data.

mod buff;
mod meta;
mod pool;
#[cfg(test)]
mod tests;

pub use buff::{Chunks, FragList, SkBuff, SkBuffInner};
pub(crate) use meta::SkOwner;
pub use meta::{
    ChecksumState, GsoInfo, GsoType, IpCb, IpOptions, IpSkbFlags, PacketType, SKB_MAX_ALLOC,
    SkbError,
};
pub use pool::{PoolStats, SkbPool};
