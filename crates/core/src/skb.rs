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

/// The pieces after an `SkBuff`'s linear data (Linux `skb_shinfo(skb)->frag_list`), with
/// their total length kept as Linux keeps `skb->data_len`, so a packet's length never
/// walks the list. Read it as a slice; change it through the methods, which keep the
/// total.
#[derive(Clone, Default)]
pub struct FragList {
    pieces: Vec<SkBuff>,
    bytes: usize,
}

impl FragList {
    /// Appends a piece.
    #[inline]
    pub fn push(&mut self, piece: SkBuff) {
        self.bytes = self.bytes.saturating_add(piece.len());
        self.pieces.push(piece);
    }

    /// Bytes in all the pieces.
    #[inline]
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Takes every piece out.
    pub fn take(&mut self) -> Vec<SkBuff> {
        self.bytes = 0;
        core::mem::take(&mut self.pieces)
    }

    /// Removes every piece, keeping the list's capacity.
    pub fn drain(&mut self) -> std::vec::Drain<'_, SkBuff> {
        self.bytes = 0;
        self.pieces.drain(..)
    }

    pub fn clear(&mut self) {
        self.bytes = 0;
        self.pieces.clear();
    }

    /// Changes the pieces in place (trims, writes, truncation); the total is recounted.
    pub fn update<R>(&mut self, f: impl FnOnce(&mut Vec<SkBuff>) -> R) -> R {
        let r = f(&mut self.pieces);
        self.bytes = self
            .pieces
            .iter()
            .fold(0, |sum, p| sum.saturating_add(p.len()));
        r
    }
}

impl core::ops::Deref for FragList {
    type Target = [SkBuff];

    #[inline]
    fn deref(&self) -> &[SkBuff] {
        &self.pieces
    }
}

impl<'a> IntoIterator for &'a FragList {
    type Item = &'a SkBuff;
    type IntoIter = core::slice::Iter<'a, SkBuff>;

    fn into_iter(self) -> Self::IntoIter {
        self.pieces.iter()
    }
}

impl FromIterator<SkBuff> for FragList {
    fn from_iter<I: IntoIterator<Item = SkBuff>>(iter: I) -> Self {
        let mut l = FragList::default();
        for p in iter {
            l.push(p);
        }
        l
    }
}

impl fmt::Debug for FragList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.pieces.iter()).finish()
    }
}

/// Counters of an [`SkbPool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Buffers allocated from the system allocator.
    pub fresh: u64,
    /// Buffers handed out again from the free list.
    pub reused: u64,
}

/// A free list of packet buffers so steady-state traffic does not allocate (Linux's
/// `skbuff_head_cache` + page_pool, in one simple form).
///
/// Every buffer it hands out holds at least `buf_size` bytes. Requests up to `buf_size`
/// take any free buffer; larger ones take a big-enough free buffer or allocate exactly.
/// At most `max_free` buffers are kept, each no larger than `2 × buf_size`, so the pool's
/// memory is bounded by `max_free × 2 × buf_size`.
#[derive(Debug)]
pub struct SkbPool {
    buf_size: usize,
    max_free: usize,
    // Boxes, not bare buffers: an SkBuff is a Box, and reusing it saves an allocation.
    #[allow(clippy::vec_box)]
    free: Vec<Box<SkBuffInner>>,
    stats: PoolStats,
}

impl SkbPool {
    /// A pool of `buf_size`-byte buffers (capped at [`SKB_MAX_ALLOC`]) keeping at most
    /// `max_free` of them.
    pub fn new(buf_size: usize, max_free: usize) -> Self {
        SkbPool {
            buf_size: buf_size.min(SKB_MAX_ALLOC),
            max_free,
            free: Vec::new(),
            stats: PoolStats::default(),
        }
    }

    /// An empty packet with exactly `headroom` bytes of headroom and at least `len` of
    /// tailroom, with fresh metadata (nothing carried over from a previous user).
    /// Linux alloc_skb() + skb_reserve().
    #[inline]
    pub fn alloc(&mut self, headroom: usize, len: usize) -> Result<SkBuff> {
        let size = alloc_size(headroom, len)?;
        if size <= self.buf_size
            && let Some(mut b) = self.free.pop()
        {
            self.stats.reused += 1;
            b.reset(headroom);
            return Ok(SkBuff(b));
        }
        Ok(self.alloc_slow(headroom, size))
    }

    /// A large buffer from the free list, or a fresh one.
    #[cold]
    #[inline(never)]
    fn alloc_slow(&mut self, headroom: usize, size: usize) -> SkBuff {
        let found = self
            .free
            .iter()
            .rposition(|b| b.buf.len() >= size)
            .map(|i| self.free.swap_remove(i));
        match found {
            Some(mut b) => {
                self.stats.reused += 1;
                b.reset(headroom);
                SkBuff(b)
            }
            None => {
                self.stats.fresh += 1;
                SkBuff::from_buf(vec![0; size.max(self.buf_size)], headroom)
            }
        }
    }

    /// Takes back a packet's buffer and those of all its `frag_list` pieces. Linux
    /// consume_skb() / kfree_skb() freeing into the caches.
    #[inline]
    pub fn recycle(&mut self, skb: SkBuff) {
        let mut b = skb.0;
        if !b.frag_list.is_empty() {
            self.recycle_frags(&mut b.frag_list);
        }
        let fits = (self.buf_size..=self.buf_size.saturating_mul(2)).contains(&b.buf.len());
        if fits && self.free.len() < self.max_free {
            self.free.push(b);
        }
    }

    #[cold]
    #[inline(never)]
    fn recycle_frags(&mut self, frags: &mut FragList) {
        // Drained, not taken: the list keeps its capacity for the buffer's next use.
        for frag in frags.drain() {
            self.recycle(frag);
        }
    }

    pub fn stats(&self) -> PoolStats {
        self.stats
    }

    /// Buffers currently on the free list.
    pub fn free_len(&self) -> usize {
        self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A packet of `headroom` + linear `bytes` + `tailroom`.
    fn skb(headroom: usize, bytes: &[u8], tailroom: usize) -> SkBuff {
        let mut s = SkBuff::new(headroom, bytes.len() + tailroom).unwrap();
        s.put_slice(bytes).unwrap();
        s
    }

    /// A packet whose linear part is `head` followed by frag_list pieces `frags`.
    fn frag_skb(head: &[u8], frags: &[&[u8]], tailroom: usize) -> SkBuff {
        let mut s = skb(4, head, tailroom);
        s.frag_list = frags.iter().map(|f| skb(2, f, 1)).collect();
        s
    }

    /// The whole packet's bytes, frag_list included.
    fn bytes(s: &SkBuff) -> Vec<u8> {
        let mut v = s.data().to_vec();
        for f in &s.frag_list {
            v.extend(bytes(f));
        }
        v
    }

    fn assert_fresh(s: &SkBuff) {
        assert_eq!(s.len(), 0);
        assert!(s.frag_list.is_empty());
        assert_eq!(s.mac_header(), None);
        assert_eq!(s.network_header(), None);
        assert_eq!(s.transport_header(), None);
        assert_eq!(s.ip_summed, ChecksumState::None);
        assert_eq!(s.gso, None);
        assert_eq!(s.pkt_type, PacketType::Host);
        assert_eq!((s.iif, s.mark, s.priority), (0, 0, 0));
        assert_eq!(s.tstamp, Instant::ZERO);
        assert_eq!(s.cb, IpCb::default());
    }

    #[test]
    fn new_layout_and_limits() {
        let s = SkBuff::new(16, 100).unwrap();
        assert_eq!(
            (s.headroom(), s.headlen(), s.tailroom(), s.len()),
            (16, 0, 100, 0)
        );
        assert!(s.is_empty() && !s.is_nonlinear());
        assert_fresh(&s);
        assert_eq!(
            SkBuff::new(usize::MAX, 1).unwrap_err(),
            SkbError::TooLarge {
                need: usize::MAX,
                max: SKB_MAX_ALLOC
            }
        );
        assert_eq!(
            SkBuff::new(1, SKB_MAX_ALLOC).unwrap_err(),
            SkbError::TooLarge {
                need: SKB_MAX_ALLOC + 1,
                max: SKB_MAX_ALLOC
            }
        );
        assert!(SkBuff::new(0, usize::MAX).is_err());
        assert_eq!(
            SkBuff::new(0, SKB_MAX_ALLOC).unwrap().tailroom(),
            SKB_MAX_ALLOC
        );
    }

    #[test]
    fn push_pull_put() {
        let mut s = SkBuff::new(8, 8).unwrap();
        s.put(3).unwrap().copy_from_slice(b"abc");
        s.put_slice(b"de").unwrap();
        assert_eq!(s.data(), b"abcde");
        assert_eq!(s.tailroom(), 3);
        s.push(2).unwrap().copy_from_slice(b"XY");
        assert_eq!(s.data(), b"XYabcde");
        assert_eq!(s.headroom(), 6);
        assert_eq!(s.pull(3).unwrap(), b"XYa");
        assert_eq!(s.data(), b"bcde");
        assert_eq!(s.headroom(), 9);
        assert_eq!(s.pull(0).unwrap(), b"");
        s.data_mut()[0] = b'B';
        assert_eq!(s.data(), b"Bcde");
        assert_eq!(s.pull(4).unwrap(), b"Bcde");
        assert_eq!(s.len(), 0);
        assert_eq!(s.push(0).unwrap().len(), 0);
    }

    #[test]
    fn push_pull_put_errors_change_nothing() {
        let mut s = skb(4, b"data", 2);
        for n in [5, usize::MAX] {
            assert_eq!(
                s.push(n).unwrap_err(),
                SkbError::NoHeadroom { need: n, have: 4 }
            );
            assert_eq!(
                s.pull(n).unwrap_err(),
                SkbError::TooShort { need: n, have: 4 }
            );
        }
        for n in [3, usize::MAX] {
            assert_eq!(
                s.put(n).unwrap_err(),
                SkbError::NoTailroom { need: n, have: 2 }
            );
        }
        assert_eq!(
            s.put_slice(b"xyz").unwrap_err(),
            SkbError::NoTailroom { need: 3, have: 2 }
        );
        assert_eq!((s.headroom(), s.data(), s.tailroom()), (4, &b"data"[..], 2));
        // pull never reaches into frag_list.
        let mut f = frag_skb(b"ab", &[b"cd"], 0);
        assert_eq!(
            f.pull(3).unwrap_err(),
            SkbError::TooShort { need: 3, have: 2 }
        );
        assert_eq!(f.len(), 4);
    }

    #[test]
    fn reserve_only_when_empty() {
        let mut s = SkBuff::new(0, 10).unwrap();
        s.reserve(4).unwrap();
        assert_eq!((s.headroom(), s.tailroom()), (4, 6));
        assert_eq!(
            s.reserve(7).unwrap_err(),
            SkbError::NoTailroom { need: 7, have: 6 }
        );
        assert_eq!(
            s.reserve(usize::MAX).unwrap_err(),
            SkbError::NoTailroom {
                need: usize::MAX,
                have: 6
            }
        );
        s.reserve(6).unwrap();
        assert_eq!((s.headroom(), s.tailroom()), (10, 0));
        let mut s = skb(0, b"x", 5);
        assert_eq!(s.reserve(1).unwrap_err(), SkbError::NotEmpty);
        // Data only in frag_list still counts.
        let mut f = frag_skb(b"", &[b"x"], 5);
        assert_eq!(f.reserve(1).unwrap_err(), SkbError::NotEmpty);
    }

    #[test]
    fn lengths_with_frag_list() {
        let s = frag_skb(b"head", &[b"one", b"", b"three"], 0);
        assert_eq!((s.headlen(), s.data_len(), s.len()), (4, 8, 12));
        assert!(s.is_nonlinear());
        assert_eq!(bytes(&s), b"headonethree");
        // put extends the linear part, before frag_list.
        let mut s = frag_skb(b"ab", &[b"cd"], 2);
        s.put_slice(b"XY").unwrap();
        assert_eq!(bytes(&s), b"abXYcd");
    }

    #[test]
    fn header_offsets_survive_push_and_pull() {
        // Build a frame the transmit way: transport, then network, then link layer.
        let mut s = SkBuff::new(64, 100).unwrap();
        s.put_slice(b"UDPHpayload").unwrap();
        s.reset_transport_header().unwrap();
        s.push(4).unwrap().copy_from_slice(b"IPv4");
        s.reset_network_header().unwrap();
        s.push(2).unwrap().copy_from_slice(b"EH");
        s.reset_mac_header().unwrap();
        assert_eq!(s.mac_header(), Some(58));
        assert_eq!(s.network_header(), Some(60));
        assert_eq!(s.transport_header(), Some(64));
        assert_eq!(s.mac_offset(), Some(0));
        assert_eq!(s.network_offset(), Some(2));
        assert_eq!(s.transport_offset(), Some(6));

        // Receive-style: pull each header; the views still point at them.
        s.pull(2).unwrap();
        s.pull(4).unwrap();
        assert_eq!(s.data(), b"UDPHpayload");
        assert_eq!(s.mac_header_bytes().unwrap(), b"EHIPv4UDPHpayload");
        assert_eq!(s.network_header_bytes().unwrap(), b"IPv4UDPHpayload");
        assert_eq!(s.transport_header_bytes().unwrap(), b"UDPHpayload");
        assert_eq!(s.mac_offset(), Some(-6));
        assert_eq!(s.network_offset(), Some(-4));
        assert_eq!(s.transport_offset(), Some(0));
        s.network_header_bytes_mut().unwrap()[0] = b'i';
        s.mac_header_bytes_mut().unwrap()[0] = b'e';
        s.transport_header_bytes_mut().unwrap()[0] = b'u';
        s.push(6).unwrap();
        assert_eq!(s.data(), b"eHiPv4uDPHpayload");
    }

    #[test]
    fn header_setters_bounds() {
        let mut s = skb(10, b"0123456789", 5);
        assert_eq!(s.network_header_bytes(), None);
        assert_eq!(s.network_offset(), None);
        s.set_network_header(4).unwrap();
        assert_eq!(s.network_header_bytes().unwrap(), b"456789");
        s.set_transport_header(10).unwrap();
        assert_eq!(s.transport_header_bytes().unwrap(), b"");
        s.set_mac_header(0).unwrap();
        for bad in [11, usize::MAX] {
            let err = SkbError::TooShort {
                need: bad,
                have: 10,
            };
            assert_eq!(s.set_mac_header(bad).unwrap_err(), err);
            assert_eq!(s.set_network_header(bad).unwrap_err(), err);
            assert_eq!(s.set_transport_header(bad).unwrap_err(), err);
        }
        assert_eq!(s.network_header(), Some(14));
        // A header trimmed away is gone from view, not a panic.
        s.trim(2);
        assert_eq!(s.network_header_bytes(), None);
        assert_eq!(s.network_header_bytes_mut(), None);
        assert_eq!(s.mac_header_bytes().unwrap(), b"01");
        // Offsets past u16::MAX cannot be recorded (Linux's are 16-bit too).
        let mut big = SkBuff::new(70_000, 10).unwrap();
        let err = SkbError::TooLarge {
            need: 70_000,
            max: 65_535,
        };
        assert_eq!(big.reset_network_header().unwrap_err(), err);
        assert_eq!(big.reset_mac_header().unwrap_err(), err);
        assert_eq!(big.reset_transport_header().unwrap_err(), err);
        assert_eq!(big.network_header(), None);
    }

    #[test]
    fn trim_linear_and_across_frag_list() {
        let mut s = frag_skb(b"head", &[b"one", b"two", b"three"], 0);
        s.trim(100);
        assert_eq!(bytes(&s), b"headonetwothree");
        s.trim(15);
        assert_eq!(s.len(), 15);
        s.trim(12); // inside the last piece
        assert_eq!(bytes(&s), b"headonetwoth");
        assert_eq!(s.frag_list.len(), 3);
        s.trim(10); // at a piece boundary: the emptied piece is dropped
        assert_eq!(bytes(&s), b"headonetwo");
        assert_eq!(s.frag_list.len(), 2);
        s.trim(5);
        assert_eq!(bytes(&s), b"heado");
        assert_eq!(s.frag_list.len(), 1);
        s.trim(4); // exactly the linear part
        assert_eq!(bytes(&s), b"head");
        assert!(!s.is_nonlinear());
        let mut s = frag_skb(b"head", &[b"one"], 0);
        s.trim(1); // into the linear part
        assert_eq!(bytes(&s), b"h");
        assert!(s.frag_list.is_empty());
        s.trim(0);
        assert!(s.is_empty());
        s.trim(usize::MAX);
        assert!(s.is_empty());
        // Nested pieces are trimmed too.
        let mut s = frag_skb(b"a", &[b"b"], 0);
        s.frag_list
            .update(|f| f[0].frag_list.push(skb(0, b"cde", 0)));
        s.trim(4);
        assert_eq!(bytes(&s), b"abcd");
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn copy_bits_crosses_the_frag_list() {
        let mut pool = SkbPool::new(64, 8);
        let mut s = pool.alloc(0, 4).unwrap();
        s.put_slice(&[0, 1, 2, 3]).unwrap();
        for piece in [&[4u8, 5, 6][..], &[7, 8]] {
            let mut f = pool.alloc(0, piece.len()).unwrap();
            f.put_slice(piece).unwrap();
            s.frag_list.push(f);
        }
        let mut out = [0u8; 5];
        s.copy_bits(2, &mut out).unwrap();
        assert_eq!(out, [2, 3, 4, 5, 6]);
        s.copy_bits(4, &mut out).unwrap();
        assert_eq!(out, [4, 5, 6, 7, 8]);
        assert!(s.copy_bits(5, &mut out).is_err());
        let mut all = Vec::new();
        s.for_each_chunk(&mut |c| all.extend_from_slice(c));
        assert_eq!(all, (0..9).collect::<Vec<u8>>());
    }

    #[test]
    fn linearize_in_place() {
        let mut pool = SkbPool::new(64, 8);
        let mut s = frag_skb(b"head", &[b"one", b"two"], 6);
        s.linearize(&mut pool).unwrap();
        assert!(!s.is_nonlinear());
        assert_eq!(s.data(), b"headonetwo");
        assert_eq!((s.headroom(), s.tailroom()), (4, 0));
        // The pieces were small, so the pool does not keep them; nothing was allocated.
        assert_eq!(pool.stats(), PoolStats::default());
        // Already linear: nothing happens.
        s.linearize(&mut pool).unwrap();
        assert_eq!(s.data(), b"headonetwo");
    }

    #[test]
    fn linearize_grows_and_keeps_headers() {
        let mut pool = SkbPool::new(64, 8);
        let mut s = skb(6, b"EHIPhdUDpay", 1);
        s.pull(2).unwrap();
        s.reset_network_header().unwrap();
        s.set_transport_header(4).unwrap();
        s.ip_summed = ChecksumState::Partial {
            csum_start: 12,
            csum_offset: 6,
        };
        s.mark = 7;
        let mut piece = skb(0, b"load", 0);
        piece.frag_list.push(skb(3, b"!!", 0));
        s.frag_list.push(piece);
        s.frag_list.push(skb(0, b"?", 0));
        s.linearize(&mut pool).unwrap();
        assert_eq!(s.data(), b"IPhdUDpayload!!?");
        assert_eq!(s.headroom(), 8);
        assert_eq!(s.transport_header_bytes().unwrap(), b"UDpayload!!?");
        // The pulled link-layer header is still in the headroom.
        assert_eq!(&s.network_header_bytes().unwrap()[..4], b"IPhd");
        s.push(2).unwrap();
        assert_eq!(&s.data()[..2], b"EH");
        assert_eq!(s.mark, 7);
        assert!(matches!(s.ip_summed, ChecksumState::Partial { .. }));
        assert_eq!(pool.stats().fresh, 1);
    }

    #[test]
    fn linearize_too_large_changes_nothing() {
        let mut pool = SkbPool::new(64, 8);
        let mut s = skb(0, b"x", 0);
        s.frag_list.push(SkBuff::new(0, SKB_MAX_ALLOC).unwrap());
        s.frag_list
            .update(|f| f[0].put(SKB_MAX_ALLOC).map(|_| ()))
            .unwrap();
        assert_eq!(
            s.linearize(&mut pool).unwrap_err(),
            SkbError::TooLarge {
                need: SKB_MAX_ALLOC + 1,
                max: SKB_MAX_ALLOC
            }
        );
        assert_eq!(s.len(), SKB_MAX_ALLOC + 1);
        assert_eq!(s.data(), b"x");
    }

    #[test]
    fn clone_is_a_deep_copy() {
        let mut a = frag_skb(b"head", &[b"frag"], 4);
        a.reset_network_header().unwrap();
        a.priority = 3;
        let mut b = a.clone();
        b.data_mut()[0] = b'H';
        b.frag_list.update(|f| f[0].data_mut()[0] = b'F');
        b.push(4).unwrap().copy_from_slice(b"more");
        assert_eq!(bytes(&a), b"headfrag");
        assert_eq!(bytes(&b), b"moreHeadFrag");
        assert_eq!(b.network_header_bytes().unwrap(), b"Head");
        assert_eq!((b.priority, b.network_header()), (3, a.network_header()));
    }

    #[test]
    fn pool_reuses_and_resets_metadata() {
        let mut pool = SkbPool::new(256, 4);
        let mut s = pool.alloc(32, 100).unwrap();
        assert_eq!((s.headroom(), s.len()), (32, 0));
        assert!(s.tailroom() >= 100);
        s.put_slice(b"stale").unwrap();
        s.reset_network_header().unwrap();
        s.set_transport_header(2).unwrap();
        s.reset_mac_header().unwrap();
        s.mark = 1;
        s.priority = 2;
        s.iif = 3;
        s.tstamp = Instant::from_secs(4);
        s.pkt_type = PacketType::OtherHost;
        s.ip_summed = ChecksumState::Complete(0x1234);
        s.gso = Some(GsoInfo {
            size: 1400,
            gso_type: GsoType::UDP_L4,
            segs: 3,
        });
        s.cb.flags = IpSkbFlags::FORWARDED;
        s.cb.frag_max_size = 576;
        s.cb.opt.layout.optlen = 4;
        s.frag_list.push(pool.alloc(0, 10).unwrap());
        assert_eq!(
            pool.stats(),
            PoolStats {
                fresh: 2,
                reused: 0
            }
        );
        pool.recycle(s);
        assert_eq!(pool.free_len(), 2);

        let t = pool.alloc(16, 200).unwrap();
        assert_fresh(&t);
        assert_eq!((t.headroom(), t.tailroom()), (16, 240));
        let u = pool.alloc(0, 0).unwrap();
        assert_fresh(&u);
        assert_eq!(
            pool.stats(),
            PoolStats {
                fresh: 2,
                reused: 2
            }
        );
        assert_eq!(pool.free_len(), 0);
    }

    #[test]
    fn pool_bounds() {
        let mut pool = SkbPool::new(100, 2);
        assert!(pool.alloc(usize::MAX, 1).is_err());
        assert!(pool.alloc(1, SKB_MAX_ALLOC).is_err());
        // Larger requests are allocated exactly.
        let big = pool.alloc(10, 140).unwrap();
        assert_eq!(big.tailroom(), 140);
        let huge = pool.alloc(0, 1000).unwrap();
        // Kept only up to twice the standard size.
        pool.recycle(big);
        pool.recycle(huge);
        assert_eq!(pool.free_len(), 1);
        // A big-enough free buffer serves a large request.
        let again = pool.alloc(0, 150).unwrap();
        assert_eq!(again.tailroom(), 150);
        assert_eq!(
            pool.stats(),
            PoolStats {
                fresh: 2,
                reused: 1
            }
        );
        // Buffers smaller than the standard size are not kept.
        pool.recycle(SkBuff::new(0, 50).unwrap());
        assert_eq!(pool.free_len(), 0);
        // At most max_free buffers.
        let several: Vec<_> = (0..5).map(|_| pool.alloc(0, 10).unwrap()).collect();
        for s in several {
            pool.recycle(s);
        }
        assert_eq!(pool.free_len(), 2);
        // A pool that keeps nothing still works.
        let mut none = SkbPool::new(usize::MAX, 0);
        let s = none.alloc(0, 1).unwrap();
        assert_eq!(s.tailroom(), SKB_MAX_ALLOC);
        none.recycle(s);
        assert_eq!(none.free_len(), 0);
    }

    #[test]
    fn steady_state_does_not_allocate() {
        let mut pool = SkbPool::new(2048, 64);
        let mut in_flight = Vec::new();
        for _ in 0..32 {
            in_flight.push(pool.alloc(128, 1500).unwrap());
        }
        for s in in_flight.drain(..) {
            pool.recycle(s);
        }
        let warm = pool.stats().fresh;
        for i in 0..10_000usize {
            let mut s = pool.alloc(128, 1500).unwrap();
            s.put(i % 1500).unwrap();
            s.push(20).unwrap();
            in_flight.push(s);
            if in_flight.len() > 16 {
                pool.recycle(in_flight.remove(0));
            }
        }
        assert_eq!(pool.stats().fresh, warm);
        assert!(pool.stats().reused >= 10_000);
    }

    #[test]
    fn flags_names_values_and_ops() {
        // Linux SKB_GSO_* and IPSKB_* bit values.
        assert_eq!(GsoType::TCPV4.bits(), 1);
        assert_eq!(GsoType::TCPV6.bits(), 1 << 4);
        assert_eq!(GsoType::UDP.bits(), 1 << 16);
        assert_eq!(GsoType::UDP_L4.bits(), 1 << 17);
        assert_eq!(GsoType::FRAGLIST.bits(), 1 << 18);
        assert_eq!(IpSkbFlags::FRAG_PMTU.bits(), 1 << 6);
        assert_eq!(IpSkbFlags::MULTIPATH.bits(), 1 << 9);
        let mut t = GsoType::TCPV4 | GsoType::DODGY;
        assert!(t.contains(GsoType::TCPV4) && t.intersects(GsoType::DODGY | GsoType::UDP));
        assert!(!t.contains(GsoType::TCPV4 | GsoType::TCP_ECN));
        assert_eq!(format!("{t:?}"), "TCPV4 | DODGY");
        t.remove(GsoType::DODGY);
        t |= GsoType::TCP_ECN;
        t.insert(GsoType::TCP_FIXEDID);
        assert_eq!(t & GsoType::TCP_ECN, GsoType::TCP_ECN);
        assert_eq!(format!("{t:?}"), "TCPV4 | TCP_ECN | TCP_FIXEDID");
        assert_eq!(format!("{:?}", GsoType::empty()), "(empty)");
        assert!(GsoType::default().is_empty());
        assert_eq!(
            format!("{:?}", GsoType::from_bits_retain(1 << 17 | 1 << 30)),
            "UDP_L4 | 0x40000000"
        );
        assert_eq!(
            format!("{:?}", IpSkbFlags::FORWARDED | IpSkbFlags::DOREDIRECT),
            "FORWARDED | DOREDIRECT"
        );
    }

    #[test]
    fn packet_type_values_and_error_display() {
        assert_eq!(PacketType::Host as u8, 0);
        assert_eq!(PacketType::OtherHost as u8, 3);
        assert_eq!(PacketType::Loopback as u8, 5);
        assert_eq!(
            SkbError::NoHeadroom { need: 4, have: 2 }.to_string(),
            "no headroom: need 4 bytes, have 2"
        );
        assert_eq!(
            SkbError::NoTailroom { need: 4, have: 2 }.to_string(),
            "no tailroom: need 4 bytes, have 2"
        );
        assert_eq!(
            SkbError::TooShort { need: 20, have: 8 }.to_string(),
            "packet too short: need 20 bytes, have 8"
        );
        assert_eq!(SkbError::NotEmpty.to_string(), "buffer is not empty");
        assert_eq!(
            SkbError::TooLarge { need: 9, max: 8 }.to_string(),
            "too large: 9 bytes, max 8"
        );
        let e: &dyn std::error::Error = &SkbError::NotEmpty;
        assert!(e.source().is_none());
    }

    /// Any argument, including huge ones, on any state: an error or a consistent result.
    #[derive(Debug, Clone)]
    enum Op {
        Push(usize),
        Pull(usize),
        Put(usize),
        Reserve(usize),
        Trim(usize),
        SetNetwork(usize),
        ResetTransport,
        AddFrag(usize),
        Linearize,
    }

    fn arg() -> impl Strategy<Value = usize> {
        prop_oneof![0usize..80, Just(usize::MAX), any::<usize>()]
    }

    proptest! {
        #[test]
        fn ops_never_panic(
            headroom in 0usize..64,
            size in 0usize..128,
            ops in proptest::collection::vec(
                prop_oneof![
                    arg().prop_map(Op::Push),
                    arg().prop_map(Op::Pull),
                    arg().prop_map(Op::Put),
                    arg().prop_map(Op::Reserve),
                    arg().prop_map(Op::Trim),
                    arg().prop_map(Op::SetNetwork),
                    Just(Op::ResetTransport),
                    (0usize..40).prop_map(Op::AddFrag),
                    Just(Op::Linearize),
                ],
                0..40,
            ),
        ) {
            let mut pool = SkbPool::new(128, 4);
            let mut s = SkBuff::new(headroom, size).unwrap();
            for op in ops {
                let (before_len, before_room) = (s.len(), s.headroom());
                let capacity_before = s.headroom() + s.headlen() + s.tailroom();
                let grows = matches!(op, Op::Linearize);
                match op {
                    Op::Push(n) => match s.push(n) {
                        Ok(b) => prop_assert_eq!(b.len(), n),
                        Err(_) => prop_assert_eq!(s.headroom(), before_room),
                    },
                    Op::Pull(n) => match s.pull(n) {
                        Ok(b) => prop_assert_eq!(b.len(), n),
                        Err(_) => prop_assert_eq!(s.len(), before_len),
                    },
                    Op::Put(n) => {
                        let ok = s.put(n).is_ok();
                        prop_assert_eq!(s.len(), if ok { before_len + n } else { before_len });
                    }
                    Op::Reserve(n) => {
                        let _ = s.reserve(n);
                    }
                    Op::Trim(n) => {
                        s.trim(n);
                        prop_assert_eq!(s.len(), before_len.min(n));
                    }
                    Op::SetNetwork(n) => {
                        if s.set_network_header(n).is_ok() {
                            prop_assert_eq!(s.network_offset(), Some(n as isize));
                            prop_assert_eq!(s.network_header_bytes().unwrap().len(), s.headlen() - n);
                        }
                    }
                    Op::ResetTransport => {
                        s.reset_transport_header().unwrap();
                        prop_assert_eq!(s.transport_header_bytes().unwrap(), s.data());
                    }
                    Op::AddFrag(n) => {
                        let mut f = pool.alloc(3, n).unwrap();
                        f.put(n).unwrap();
                        s.frag_list.push(f);
                        prop_assert_eq!(s.len(), before_len + n);
                    }
                    Op::Linearize => {
                        let before = bytes(&s);
                        s.linearize(&mut pool).unwrap();
                        prop_assert!(!s.is_nonlinear());
                        prop_assert_eq!(s.data(), &before[..]);
                    }
                }
                // Only linearize may swap in a bigger buffer; nothing ever shrinks it.
                let capacity_now = s.headroom() + s.headlen() + s.tailroom();
                prop_assert!(capacity_now >= capacity_before);
                if !grows {
                    prop_assert_eq!(capacity_now, capacity_before);
                }
                if let Some(h) = s.network_header_bytes() {
                    prop_assert!(h.len() <= s.headroom() + s.headlen());
                }
            }
        }
    }
}
