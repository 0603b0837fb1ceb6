//! `SkBuff`, one packet in flight. Linux include/linux/skbuff.h `struct sk_buff`.
//!
//! ```text
//!  0 (head)          data                  tail                 buf.len() (end)
//!  |    headroom      |     linear data      |      tailroom       |
//!              push ← | → pull        put →  |
//! ```
//! The packet is the linear data followed by the bytes of every `frag_list` piece in order
//! ([`SkBuff::len`] counts both, like `skb->len`). Header offsets (`mac_header`,
//! `network_header`, `transport_header`) and `ChecksumState::Partial::csum_start` are
//! relative to the head, as in Linux, so they stay put when `push`/`pull` move `data`.
//!
//! When bytes are copied and when they are shared:
//! - skiff never shares packet bytes between two `SkBuff`s: there is no `skb_clone()` with
//!   shared data and no reference count, so writing through one `SkBuff` never changes another.
//! - `push`, `pull`, `put`, `reserve` and `trim` only move offsets; they never copy.
//! - `frag_list` pieces are owned `SkBuff`s; moving a packet moves them.
//! - `Clone` is Linux `skb_copy()`: a deep copy of the whole buffer (headroom included) and of
//!   every `frag_list` piece, freshly allocated.
//! - [`SkBuff::linearize`] copies the `frag_list` bytes into the linear buffer
//!   (`skb_linearize()`), taking a bigger buffer from the pool when the tailroom is short.
//! - [`SkbPool`] moves buffers: `recycle` moves them in, `alloc` moves them out, so a buffer
//!   is in exactly one place at a time. Reused buffers are not zeroed (like `kmalloc`); only
//!   bytes a caller writes (or pushes over) become packet data.

use crate::time::Instant;
use core::fmt;
use core::ops::{BitAnd, BitOr, BitOrAssign};
use skiff_wire::Ipv4Addr;
use skiff_wire::ip_options::Ipv4Options;
use std::borrow::Cow;

mod frag_list;
mod pool;
#[cfg(test)]
mod tests;

pub use frag_list::{Chunks, FragList};
pub use pool::{PoolStats, SkbPool};

/// The largest buffer an `SkBuff` may own: a 64 KiB GSO packet linearised with room to spare,
/// and small enough that a hostile length can never ask for an absurd allocation.
pub const SKB_MAX_ALLOC: usize = 1 << 20;

/// Why an `SkBuff` operation was refused. Nothing is changed when an error is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkbError {
    /// `push` wants more bytes than the headroom holds. Linux skb_under_panic(); a caller
    /// that sized its headroom wrongly, so ENOMEM-like for a socket.
    NoHeadroom { need: usize, have: usize },
    /// `put` or `reserve` wants more bytes than the tailroom holds. Linux skb_over_panic();
    /// ENOMEM-like for a socket.
    NoTailroom { need: usize, have: usize },
    /// `pull`, or a header offset, reaches past the linear data. Linux pskb_may_pull()
    /// failing: on receive the packet is malformed and dropped; EINVAL-like from a socket.
    TooShort { need: usize, have: usize },
    /// `reserve` on a buffer that already holds data (Linux only reserves on a fresh skb);
    /// EINVAL-like.
    NotEmpty,
    /// A size or offset beyond what an `SkBuff` can hold: a buffer over [`SKB_MAX_ALLOC`], or a
    /// header offset past `u16::MAX` (Linux keeps header offsets in 16 bits too).
    /// EMSGSIZE-like for a socket.
    TooLarge { need: usize, max: usize },
}

impl fmt::Display for SkbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkbError::NoHeadroom { need, have } => {
                write!(f, "no headroom: need {need} bytes, have {have}")
            }
            SkbError::NoTailroom { need, have } => {
                write!(f, "no tailroom: need {need} bytes, have {have}")
            }
            SkbError::TooShort { need, have } => {
                write!(f, "packet too short: need {need} bytes, have {have}")
            }
            SkbError::NotEmpty => f.write_str("buffer is not empty"),
            SkbError::TooLarge { need, max } => write!(f, "too large: {need} bytes, max {max}"),
        }
    }
}

impl std::error::Error for SkbError {}

type Result<T> = core::result::Result<T, SkbError>;

/// Checksum state of a packet. Linux `skb->ip_summed` with `csum`/`csum_start`/`csum_offset`;
/// maps onto the virtio-net header flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumState {
    /// `CHECKSUM_NONE`: nothing is known; software must verify (receive) or has filled the
    /// checksum (transmit).
    #[default]
    None,
    /// `CHECKSUM_UNNECESSARY`: the device verified it (virtio `DATA_VALID`).
    Unnecessary,
    /// `CHECKSUM_COMPLETE`: the partial sum (`skiff_wire::checksum` semantics) of the
    /// packet from `data` onwards, as a device computed it.
    Complete(u32),
    /// `CHECKSUM_PARTIAL`: the checksum field at `csum_start + csum_offset` holds the
    /// pseudo-header sum and the device sums from `csum_start` (head-relative, like Linux)
    /// onwards (virtio `NEEDS_CSUM`).
    Partial { csum_start: u16, csum_offset: u16 },
}

/// A set of flag bits with Linux's names. Unknown bits are kept, as in a raw kernel field.
macro_rules! flags {
    ($(#[$meta:meta])* $name:ident: $ty:ty { $($(#[$fmeta:meta])* $flag:ident = $bit:expr;)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name($ty);

        impl $name {
            $($(#[$fmeta])* pub const $flag: Self = Self(1 << $bit);)*
            const NAMES: &[(&str, Self)] = &[$((stringify!($flag), Self::$flag)),*];

            pub const fn empty() -> Self {
                Self(0)
            }
            pub const fn bits(self) -> $ty {
                self.0
            }
            pub const fn from_bits_retain(bits: $ty) -> Self {
                Self(bits)
            }
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }
            /// All bits of `other` are set.
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }
            /// Any bit of `other` is set.
            pub const fn intersects(self, other: Self) -> bool {
                self.0 & other.0 != 0
            }
            pub fn insert(&mut self, other: Self) {
                self.0 |= other.0;
            }
            pub fn remove(&mut self, other: Self) {
                self.0 &= !other.0;
            }
        }

        impl BitOr for $name {
            type Output = Self;
            fn bitor(self, other: Self) -> Self {
                Self(self.0 | other.0)
            }
        }

        impl BitOrAssign for $name {
            fn bitor_assign(&mut self, other: Self) {
                self.0 |= other.0;
            }
        }

        impl BitAnd for $name {
            type Output = Self;
            fn bitand(self, other: Self) -> Self {
                Self(self.0 & other.0)
            }
        }

        impl fmt::Debug for $name {
            /// `TCPV4 | DODGY`, unknown bits in hex, `(empty)` for none.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut rest = self.0;
                let mut sep = "";
                for (name, flag) in Self::NAMES {
                    if self.contains(*flag) {
                        write!(f, "{sep}{name}")?;
                        rest &= !flag.0;
                        sep = " | ";
                    }
                }
                if rest != 0 {
                    write!(f, "{sep}{rest:#x}")?;
                } else if sep.is_empty() {
                    f.write_str("(empty)")?;
                }
                Ok(())
            }
        }
    };
}

flags! {
    /// GSO type bits with Linux's `SKB_GSO_*` names and values (include/linux/skbuff.h).
    GsoType: u32 {
        TCPV4 = 0;
        /// The header came from an untrusted source and must be re-verified.
        DODGY = 1;
        TCP_ECN = 2;
        TCP_FIXEDID = 3;
        TCPV6 = 4;
        /// UDP fragmentation offload (UFO): one datagram cut into IP fragments.
        UDP = 16;
        /// UDP segmentation (`UDP_SEGMENT`): one datagram per segment.
        UDP_L4 = 17;
        FRAGLIST = 18;
    }
}

flags! {
    /// `IPCB(skb)->flags`: Linux `IPSKB_*` (include/net/ip.h).
    IpSkbFlags: u16 {
        FORWARDED = 0;
        XFRM_TUNNEL_SIZE = 1;
        XFRM_TRANSFORMED = 2;
        FRAG_COMPLETE = 3;
        REROUTED = 4;
        DOREDIRECT = 5;
        FRAG_PMTU = 6;
        L3SLAVE = 7;
        NOPOLICY = 8;
        MULTIPATH = 9;
    }
}

/// Segmentation offload state. Linux `skb_shinfo(skb)->gso_size/gso_type/gso_segs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GsoInfo {
    /// Payload bytes per segment (MSS).
    pub size: u16,
    pub gso_type: GsoType,
    /// Number of segments, 0 if not yet computed.
    pub segs: u16,
}

/// Who the packet is for. Linux `skb->pkt_type`, `PACKET_*` (include/uapi/linux/if_packet.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum PacketType {
    #[default]
    Host = 0,
    Broadcast = 1,
    Multicast = 2,
    OtherHost = 3,
    Outgoing = 4,
    Loopback = 5,
}

/// IPv4 options of a packet. Linux `struct ip_options` (include/net/inet_sock.h): where each
/// option sits (`layout`, from the wire parser) plus the routing state later stages keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpOptions {
    /// Offsets of RR, TS, source route and router alert, and the options length.
    pub layout: Ipv4Options,
    /// First hop of a source route (the real destination while routing).
    pub faddr: Ipv4Addr,
    pub nexthop: Ipv4Addr,
    pub srr_is_hit: bool,
    pub is_changed: bool,
    pub rr_needaddr: bool,
    pub ts_needtime: bool,
    pub ts_needaddr: bool,
    /// Offset of a CIPSO option, 0 when absent.
    pub cipso: u8,
}

impl Default for IpOptions {
    fn default() -> Self {
        IpOptions {
            layout: Ipv4Options::default(),
            faddr: Ipv4Addr::UNSPECIFIED,
            nexthop: Ipv4Addr::UNSPECIFIED,
            srr_is_hit: false,
            is_changed: false,
            rr_needaddr: false,
            ts_needtime: false,
            ts_needaddr: false,
            cipso: 0,
        }
    }
}

/// The IPv4 control block. Linux `struct inet_skb_parm`, `IPCB(skb)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IpCb {
    pub flags: IpSkbFlags,
    /// Largest fragment seen when this packet was reassembled (0 if it was not).
    pub frag_max_size: u16,
    pub opt: IpOptions,
}

/// One packet: an owned buffer with headroom, linear data and tailroom, an optional
/// `frag_list`, header offsets and metadata. Linux `struct sk_buff`.
///
/// The metadata lives behind one `Box` (reached through `Deref`), so handing a packet
/// from stage to stage moves a pointer, as Linux passes `struct sk_buff *`; [`SkbPool`]
/// recycles the box with its buffer.
pub struct SkBuff(Box<SkBuffInner>);

/// The fields of an [`SkBuff`], reached through `Deref`.
///
/// Invariant: `data <= tail <= buf.len() <= SKB_MAX_ALLOC`.
#[derive(Clone)]
pub struct SkBuffInner {
    buf: Vec<u8>,
    data: usize,
    tail: usize,
    mac_header: Option<u16>,
    network_header: Option<u16>,
    transport_header: Option<u16>,
    /// Further pieces of the packet, in order (Linux `skb_shinfo(skb)->frag_list`).
    pub frag_list: FragList,
    pub ip_summed: ChecksumState,
    pub gso: Option<GsoInfo>,
    pub pkt_type: PacketType,
    /// Receiving interface index, 0 for none (Linux `skb->skb_iif`).
    pub iif: u32,
    pub mark: u32,
    pub priority: u32,
    /// The packet may be fragmented even with DF set (a socket whose pmtudisc is below
    /// DO, or a datagram the defrag hook reassembled). Linux `skb->ignore_df`.
    pub ignore_df: bool,
    pub tstamp: Instant,
    pub cb: IpCb,
    /// The sending socket whose send buffer this packet is charged to while it waits in
    /// a device queue (Linux `skb->sk` with sock_wfree()).
    pub(crate) sk: Option<SkOwner>,
}

/// A socket a packet belongs to: its slot and the generation that opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SkOwner {
    pub slot: u32,
    pub generation: u32,
}

impl Clone for SkBuff {
    fn clone(&self) -> Self {
        SkBuff(Box::new((*self.0).clone()))
    }
}

impl core::ops::Deref for SkBuff {
    type Target = SkBuffInner;

    #[inline]
    fn deref(&self) -> &SkBuffInner {
        &self.0
    }
}

impl core::ops::DerefMut for SkBuff {
    #[inline]
    fn deref_mut(&mut self) -> &mut SkBuffInner {
        &mut self.0
    }
}

impl fmt::Debug for SkBuff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for SkBuffInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SkBuff")
            .field("headroom", &self.headroom())
            .field("headlen", &self.headlen())
            .field("tailroom", &self.tailroom())
            .field("len", &self.len())
            .field("mac_header", &self.mac_header)
            .field("network_header", &self.network_header)
            .field("transport_header", &self.transport_header)
            .field("frags", &self.frag_list.len())
            .field("ip_summed", &self.ip_summed)
            .field("gso", &self.gso)
            .field("pkt_type", &self.pkt_type)
            .field("iif", &self.iif)
            .field("mark", &self.mark)
            .field("priority", &self.priority)
            .field("tstamp", &self.tstamp)
            .field("cb", &self.cb)
            .finish()
    }
}

/// `base + n` checked against [`SKB_MAX_ALLOC`].
fn alloc_size(base: usize, n: usize) -> Result<usize> {
    match base.checked_add(n) {
        Some(size) if size <= SKB_MAX_ALLOC => Ok(size),
        _ => Err(SkbError::TooLarge {
            need: base.saturating_add(n),
            max: SKB_MAX_ALLOC,
        }),
    }
}

impl SkBuff {
    /// A freshly allocated, zeroed packet with `headroom` bytes reserved and room for `len`
    /// more: Linux alloc_skb(headroom + len) + skb_reserve(headroom). Prefer [`SkbPool::alloc`]
    /// on the datapath.
    pub fn new(headroom: usize, len: usize) -> Result<SkBuff> {
        let size = alloc_size(headroom, len)?;
        Ok(SkBuff::from_buf(vec![0; size], headroom))
    }

    /// Wraps `buf` with empty data at `headroom` and fresh metadata.
    /// The caller guarantees `headroom <= buf.len() <= SKB_MAX_ALLOC`.
    fn from_buf(buf: Vec<u8>, headroom: usize) -> SkBuff {
        SkBuff(Box::new(SkBuffInner::fresh(buf, headroom)))
    }
}

impl SkBuffInner {
    /// Empty data at `headroom` of `buf`, and fresh metadata.
    /// The caller guarantees `headroom <= buf.len() <= SKB_MAX_ALLOC`.
    fn fresh(buf: Vec<u8>, headroom: usize) -> SkBuffInner {
        debug_assert!(headroom <= buf.len() && buf.len() <= SKB_MAX_ALLOC);
        SkBuffInner {
            buf,
            data: headroom,
            tail: headroom,
            mac_header: None,
            network_header: None,
            transport_header: None,
            frag_list: FragList::default(),
            ip_summed: ChecksumState::None,
            gso: None,
            pkt_type: PacketType::Host,
            iif: 0,
            mark: 0,
            priority: 0,
            ignore_df: false,
            sk: None,
            tstamp: Instant::ZERO,
            cb: IpCb::default(),
        }
    }

    /// Makes a recycled buffer fresh in place: empty data at `headroom`, fresh metadata.
    /// The pool guarantees an empty `frag_list` and `headroom <= buf.len()`.
    fn reset(&mut self, headroom: usize) {
        debug_assert!(self.frag_list.is_empty() && headroom <= self.buf.len());
        self.data = headroom;
        self.tail = headroom;
        self.tstamp = Instant::ZERO;
        self.scrub();
    }
}

impl SkBuffInner {
    /// Forgets everything a packet learnt on its way (header offsets, checksum and GSO
    /// state, receiving device, mark, priority, ignore_df, control block) but keeps its bytes, so
    /// they can leave as a new packet. Linux skb_scrub_packet().
    pub fn scrub(&mut self) {
        self.mac_header = None;
        self.network_header = None;
        self.transport_header = None;
        self.ip_summed = ChecksumState::None;
        self.gso = None;
        self.pkt_type = PacketType::Host;
        self.iif = 0;
        self.mark = 0;
        self.priority = 0;
        self.ignore_df = false;
        self.cb = IpCb::default();
        self.sk = None;
    }

    /// Bytes before `data`. Linux skb_headroom().
    #[inline]
    pub fn headroom(&self) -> usize {
        self.data
    }

    /// Bytes after `tail`. Linux skb_tailroom().
    #[inline]
    pub fn tailroom(&self) -> usize {
        self.buf.len() - self.tail
    }

    /// Bytes of linear data. Linux skb_headlen().
    #[inline]
    pub fn headlen(&self) -> usize {
        self.tail - self.data
    }

    /// Bytes held in `frag_list`. Linux `skb->data_len`.
    #[inline]
    pub fn data_len(&self) -> usize {
        self.frag_list.bytes
    }

    /// Packet length: linear data plus `frag_list`. Linux `skb->len`.
    #[inline]
    pub fn len(&self) -> usize {
        if self.frag_list.is_empty() {
            return self.headlen();
        }
        self.headlen().saturating_add(self.data_len())
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Memory the packet holds: its buffers and metadata, `frag_list` included, whatever
    /// its length. What reassembly charges against `ipfrag_high_thresh`. Linux
    /// `skb->truesize`.
    pub fn truesize(&self) -> usize {
        let own = self.buf.len() + core::mem::size_of::<SkBuffInner>();
        self.frag_list
            .iter()
            .fold(own, |sum, frag| sum.saturating_add(frag.truesize()))
    }

    /// The checksum needs no software check: the device verified it, or the packet was
    /// built here with a partial one (looped back, or a device took it to finish).
    /// Linux skb_csum_unnecessary().
    #[inline]
    pub fn csum_unnecessary(&self) -> bool {
        matches!(
            self.ip_summed,
            ChecksumState::Unnecessary | ChecksumState::Partial { .. }
        )
    }

    /// Part of the packet lives in `frag_list`. Linux skb_is_nonlinear().
    #[inline]
    pub fn is_nonlinear(&self) -> bool {
        !self.frag_list.is_empty()
    }

    /// The linear data.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buf[self.data..self.tail]
    }

    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.data..self.tail]
    }

    /// Prepends `n` bytes (to be filled with a header) and returns them. Linux skb_push().
    #[inline]
    pub fn push(&mut self, n: usize) -> Result<&mut [u8]> {
        if n > self.data {
            return Err(SkbError::NoHeadroom {
                need: n,
                have: self.data,
            });
        }
        self.data -= n;
        Ok(&mut self.buf[self.data..self.data + n])
    }

    /// Pushes a copy of `hdr` and marks it as the network header, with the transport
    /// header `thoff` bytes in: a segment's headers (skb_segment()). False, and nothing
    /// changed, when the headroom is short or `thoff` is past `hdr`.
    #[inline]
    pub fn push_headers(&mut self, hdr: &[u8], thoff: usize) -> bool {
        let n = hdr.len();
        if n > self.data || thoff > n || self.data > usize::from(u16::MAX) {
            return false;
        }
        self.data -= n;
        self.buf[self.data..self.data + n].copy_from_slice(hdr);
        self.network_header = Some(self.data as u16);
        self.transport_header = Some((self.data + thoff) as u16);
        true
    }

    /// Removes `n` bytes from the front of the linear data and returns them (they stay in the
    /// headroom, where header offsets may still point). Linux skb_pull().
    #[inline]
    pub fn pull(&mut self, n: usize) -> Result<&[u8]> {
        let have = self.headlen();
        if n > have {
            return Err(SkbError::TooShort { need: n, have });
        }
        self.data += n;
        Ok(&self.buf[self.data - n..self.data])
    }

    /// Appends `n` bytes to the linear data (before any `frag_list`) and returns them.
    /// Linux skb_put().
    #[inline]
    pub fn put(&mut self, n: usize) -> Result<&mut [u8]> {
        let have = self.tailroom();
        if n > have {
            return Err(SkbError::NoTailroom { need: n, have });
        }
        self.tail += n;
        Ok(&mut self.buf[self.tail - n..self.tail])
    }

    /// Appends a copy of `bytes`. Linux skb_put_data().
    #[inline]
    pub fn put_slice(&mut self, bytes: &[u8]) -> Result<()> {
        self.put(bytes.len())?.copy_from_slice(bytes);
        Ok(())
    }

    /// Moves the empty data area `n` bytes towards the end, growing the headroom.
    /// Linux skb_reserve().
    pub fn reserve(&mut self, n: usize) -> Result<()> {
        if !self.is_empty() {
            return Err(SkbError::NotEmpty);
        }
        let have = self.tailroom();
        if n > have {
            return Err(SkbError::NoTailroom { need: n, have });
        }
        self.data += n;
        self.tail += n;
        Ok(())
    }

    /// Shortens the packet to `len` bytes, cutting into `frag_list` when the linear data is
    /// shorter; no-op if the packet is not longer. Like Linux pskb_trim(), it leaves
    /// `ip_summed` alone (a `Complete` sum is the caller's to fix, pskb_trim_rcsum()).
    pub fn trim(&mut self, len: usize) {
        let headlen = self.headlen();
        if len <= headlen {
            self.tail = self.data + len;
            self.frag_list.clear();
            return;
        }
        let mut left = len - headlen;
        self.frag_list.update(|frags| {
            let mut keep = 0;
            for frag in frags.iter_mut() {
                if left == 0 {
                    break;
                }
                let frag_len = frag.len();
                if frag_len > left {
                    frag.trim(left);
                }
                left -= frag_len.min(left);
                keep += 1;
            }
            frags.truncate(keep);
        });
    }

    /// Calls `f` on the linear data, then on every `frag_list` piece in order.
    pub fn for_each_chunk(&self, f: &mut dyn FnMut(&[u8])) {
        f(self.data());
        for frag in &self.frag_list {
            frag.for_each_chunk(f);
        }
    }

    /// The linear data, then every `frag_list` piece's in order, as slices (what one
    /// writev takes). Linux skb_walk_frags().
    pub fn chunks(&self) -> Chunks<'_> {
        Chunks {
            head: Some(self.data()),
            frags: self.frag_list.iter(),
            nested: Vec::new(),
        }
    }

    /// Every byte of the packet in one slice: borrowed when it is linear, else copied
    /// together (skb_copy_bits() of the whole packet).
    pub fn to_contiguous(&self) -> Cow<'_, [u8]> {
        if !self.is_nonlinear() {
            return Cow::Borrowed(self.data());
        }
        let mut frame = Vec::with_capacity(self.len());
        for c in self.chunks() {
            frame.extend_from_slice(c);
        }
        Cow::Owned(frame)
    }

    /// Copies `to.len()` bytes from `offset` bytes past `data`, across `frag_list`.
    /// Linux skb_copy_bits().
    pub fn copy_bits(&self, offset: usize, to: &mut [u8]) -> Result<()> {
        if self.frag_list.is_empty()
            && let Some(src) = offset
                .checked_add(to.len())
                .and_then(|end| self.data().get(offset..end))
        {
            to.copy_from_slice(src);
            return Ok(());
        }
        let (mut skip, mut filled) = (offset, 0);
        self.for_each_chunk(&mut |chunk| {
            if filled == to.len() {
                return;
            }
            if skip >= chunk.len() {
                skip -= chunk.len();
                return;
            }
            let take = (chunk.len() - skip).min(to.len() - filled);
            to[filled..filled + take].copy_from_slice(&chunk[skip..skip + take]);
            filled += take;
            skip = 0;
        });
        if filled < to.len() {
            return Err(SkbError::TooShort {
                need: offset.saturating_add(to.len()),
                have: self.len(),
            });
        }
        Ok(())
    }

    /// Moves the `frag_list` bytes into the linear buffer, taking a bigger buffer from `pool`
    /// when the tailroom is short (headroom bytes and header offsets are kept). The emptied
    /// pieces go back to `pool`. Linux skb_linearize().
    pub fn linearize(&mut self, pool: &mut SkbPool) -> Result<()> {
        if self.frag_list.is_empty() {
            return Ok(());
        }
        let extra = self.data_len();
        if extra > self.tailroom() {
            let mut bigger = pool.alloc(0, alloc_size(self.tail, extra)?)?;
            bigger.buf[..self.tail].copy_from_slice(&self.buf[..self.tail]);
            core::mem::swap(&mut self.buf, &mut bigger.buf);
            pool.recycle(bigger);
        }
        let frags = self.frag_list.take();
        self.append_frags(frags, pool)
    }

    /// Copies every piece of `frags` (recursively) after the linear data. The caller has
    /// checked that the tailroom holds them all.
    fn append_frags(&mut self, frags: Vec<SkBuff>, pool: &mut SkbPool) -> Result<()> {
        for frag in frags {
            self.put_slice(frag.data())?;
            let mut frag = frag;
            let rest = frag.frag_list.take();
            pool.recycle(frag);
            self.append_frags(rest, pool)?;
        }
        Ok(())
    }

    /// The head-relative offset of `data`, as a header offset.
    #[inline]
    fn offset_at_data(&self, offset: usize) -> Result<u16> {
        let have = self.headlen();
        if offset > have {
            return Err(SkbError::TooShort { need: offset, have });
        }
        let at = self.data + offset;
        u16::try_from(at).map_err(|_| SkbError::TooLarge {
            need: at,
            max: usize::from(u16::MAX),
        })
    }

    /// Bytes from a header offset to the end of the linear data.
    #[inline]
    fn header_bytes(&self, header: Option<u16>) -> Option<&[u8]> {
        self.buf.get(usize::from(header?)..self.tail)
    }

    #[inline]
    fn header_bytes_mut(&mut self, header: Option<u16>) -> Option<&mut [u8]> {
        self.buf.get_mut(usize::from(header?)..self.tail)
    }

    /// A header's offset from `data`, negative once pulled past.
    #[inline]
    fn header_offset(&self, header: Option<u16>) -> Option<isize> {
        // Both are at most SKB_MAX_ALLOC, far below isize::MAX.
        Some(usize::from(header?) as isize - self.data as isize)
    }

    /// Marks `data` as the start of the link-layer header. Linux skb_reset_mac_header().
    #[inline]
    pub fn reset_mac_header(&mut self) -> Result<()> {
        self.mac_header = Some(self.offset_at_data(0)?);
        Ok(())
    }

    /// Marks `data + offset` (at most the end of the linear data) as the link-layer header.
    /// Linux skb_set_mac_header().
    pub fn set_mac_header(&mut self, offset: usize) -> Result<()> {
        self.mac_header = Some(self.offset_at_data(offset)?);
        Ok(())
    }

    /// Head-relative offset of the link-layer header, if set.
    #[inline]
    pub fn mac_header(&self) -> Option<u16> {
        self.mac_header
    }

    /// The link-layer header and everything after it in the linear data. `None` if unset
    /// or trimmed away. Linux skb_mac_header().
    pub fn mac_header_bytes(&self) -> Option<&[u8]> {
        self.header_bytes(self.mac_header)
    }

    pub fn mac_header_bytes_mut(&mut self) -> Option<&mut [u8]> {
        self.header_bytes_mut(self.mac_header)
    }

    /// Linux skb_mac_offset(): the link-layer header relative to `data`.
    pub fn mac_offset(&self) -> Option<isize> {
        self.header_offset(self.mac_header)
    }

    /// Marks `data` as the start of the IP header. Linux skb_reset_network_header().
    #[inline]
    pub fn reset_network_header(&mut self) -> Result<()> {
        self.network_header = Some(self.offset_at_data(0)?);
        Ok(())
    }

    /// Marks `data + offset` as the IP header. Linux skb_set_network_header().
    #[inline]
    pub fn set_network_header(&mut self, offset: usize) -> Result<()> {
        self.network_header = Some(self.offset_at_data(offset)?);
        Ok(())
    }

    #[inline]
    pub fn network_header(&self) -> Option<u16> {
        self.network_header
    }

    /// The IP header onwards. Linux skb_network_header() / ip_hdr().
    #[inline]
    pub fn network_header_bytes(&self) -> Option<&[u8]> {
        self.header_bytes(self.network_header)
    }

    #[inline]
    pub fn network_header_bytes_mut(&mut self) -> Option<&mut [u8]> {
        self.header_bytes_mut(self.network_header)
    }

    /// Linux skb_network_offset().
    #[inline]
    pub fn network_offset(&self) -> Option<isize> {
        self.header_offset(self.network_header)
    }

    /// Marks `data` as the start of the transport header. Linux skb_reset_transport_header().
    pub fn reset_transport_header(&mut self) -> Result<()> {
        self.transport_header = Some(self.offset_at_data(0)?);
        Ok(())
    }

    /// Marks `data + offset` as the transport header. Linux skb_set_transport_header().
    #[inline]
    pub fn set_transport_header(&mut self, offset: usize) -> Result<()> {
        self.transport_header = Some(self.offset_at_data(offset)?);
        Ok(())
    }

    #[inline]
    pub fn transport_header(&self) -> Option<u16> {
        self.transport_header
    }

    /// The transport header onwards. Linux skb_transport_header() / udp_hdr().
    #[inline]
    pub fn transport_header_bytes(&self) -> Option<&[u8]> {
        self.header_bytes(self.transport_header)
    }

    #[inline]
    pub fn transport_header_bytes_mut(&mut self) -> Option<&mut [u8]> {
        self.header_bytes_mut(self.transport_header)
    }

    /// Linux skb_transport_offset().
    #[inline]
    pub fn transport_offset(&self) -> Option<isize> {
        self.header_offset(self.transport_header)
    }
}
