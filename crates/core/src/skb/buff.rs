//! `SkBuff`, its `frag_list` and the walk over a packet's pieces (one file: they hold each
//! other). Linux include/linux/skbuff.h `struct sk_buff`, net/core/skbuff.c.

use super::meta::{
    ChecksumState, GsoInfo, IpCb, PacketType, Result, SKB_MAX_ALLOC, SkOwner, SkbError, alloc_size,
};
use crate::time::Instant;
use core::fmt;
use std::borrow::Cow;

/// One packet: an owned buffer with headroom, linear data and tailroom, an optional
/// `frag_list`, header offsets and metadata. Linux `struct sk_buff`.
///
/// The metadata lives behind one `Box` (reached through `Deref`), so handing a packet
/// from stage to stage moves a pointer, as Linux passes `struct sk_buff *`;
/// [`SkbPool`](super::SkbPool) recycles the box with its buffer.
pub struct SkBuff(pub(super) Box<SkBuffInner>);

/// The fields of an [`SkBuff`], reached through `Deref`.
///
/// Invariant: `data <= tail <= buf.len() <= SKB_MAX_ALLOC`.
#[derive(Clone)]
pub struct SkBuffInner {
    pub(super) buf: Vec<u8>,
    data: usize,
    pub(super) tail: usize,
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
    /// The receiving socket early demux found (Linux `skb->sk` with sock_pfree()): a
    /// socket table slot, checked again where it is used, and whether the packet follows
    /// that socket's cached route.
    pub(crate) demux_sk: Option<(u32, bool)>,
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

impl SkBuff {
    /// A freshly allocated, zeroed packet with `headroom` bytes reserved and room for `len`
    /// more: Linux alloc_skb(headroom + len) + skb_reserve(headroom). Prefer
    /// [`SkbPool::alloc`](super::SkbPool::alloc) on the datapath.
    pub fn new(headroom: usize, len: usize) -> Result<SkBuff> {
        let size = alloc_size(headroom, len)?;
        Ok(SkBuff::from_buf(vec![0; size], headroom))
    }

    /// Wraps `buf` with empty data at `headroom` and fresh metadata.
    /// The caller guarantees `headroom <= buf.len() <= SKB_MAX_ALLOC`.
    pub(super) fn from_buf(buf: Vec<u8>, headroom: usize) -> SkBuff {
        SkBuff(Box::new(SkBuffInner::fresh(buf, headroom)))
    }
}

impl SkBuffInner {
    /// Becomes a copy of `src`: its bytes up to `tail` at the same offsets, and all its
    /// metadata (what `clone` copies) but its frag_list, which is the caller's. False, and
    /// nothing changed, when this one has a frag_list or is shorter than `src.tail`.
    pub(super) fn copy_from(&mut self, src: &SkBuffInner) -> bool {
        let Some(to) = self.buf.get_mut(..src.tail) else {
            return false;
        };
        if !self.frag_list.is_empty() {
            return false;
        }
        to.copy_from_slice(&src.buf[..src.tail]);
        self.data = src.data;
        self.tail = src.tail;
        self.mac_header = src.mac_header;
        self.network_header = src.network_header;
        self.transport_header = src.transport_header;
        self.ip_summed = src.ip_summed;
        self.gso = src.gso;
        self.pkt_type = src.pkt_type;
        self.iif = src.iif;
        self.mark = src.mark;
        self.priority = src.priority;
        self.ignore_df = src.ignore_df;
        self.tstamp = src.tstamp;
        self.cb = src.cb;
        self.sk = src.sk;
        self.demux_sk = src.demux_sk;
        true
    }

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
            demux_sk: None,
            tstamp: Instant::ZERO,
            cb: IpCb::default(),
        }
    }

    /// Makes a recycled buffer fresh in place: empty data at `headroom`, fresh metadata.
    /// The pool guarantees an empty `frag_list` and `headroom <= buf.len()`.
    pub(super) fn reset(&mut self, headroom: usize) {
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
        self.demux_sk = None;
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
    #[inline]
    pub fn copy_bits(&self, offset: usize, to: &mut [u8]) -> Result<()> {
        if self.frag_list.is_empty()
            && let Some(src) = offset
                .checked_add(to.len())
                .and_then(|end| self.data().get(offset..end))
        {
            to.copy_from_slice(src);
            return Ok(());
        }
        self.copy_bits_chunks(offset, to)
    }

    /// copy_bits() across `frag_list`, or of a range the packet does not hold.
    #[inline(never)]
    fn copy_bits_chunks(&self, offset: usize, to: &mut [u8]) -> Result<()> {
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

/// The byte slices of a packet, from [`SkBuffInner::chunks`](super::SkBuffInner::chunks): its linear data, then each
/// `frag_list` piece's (a piece's own `frag_list` right after that piece's data).
#[derive(Debug, Clone)]
pub struct Chunks<'a> {
    pub(super) head: Option<&'a [u8]>,
    pub(super) frags: core::slice::Iter<'a, SkBuff>,
    /// The lists of pieces inside pieces, innermost last: empty (unallocated) unless a
    /// piece has a `frag_list` of its own.
    pub(super) nested: Vec<core::slice::Iter<'a, SkBuff>>,
}

impl<'a> Iterator for Chunks<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if let Some(head) = self.head.take() {
            return Some(head);
        }
        loop {
            let level = self.nested.last_mut().unwrap_or(&mut self.frags);
            match level.next() {
                Some(frag) => {
                    if !frag.frag_list.is_empty() {
                        self.nested.push(frag.frag_list.iter());
                    }
                    return Some(frag.data());
                }
                None if self.nested.pop().is_none() => return None,
                None => {}
            }
        }
    }
}

/// The pieces after an `SkBuff`'s linear data (Linux `skb_shinfo(skb)->frag_list`), with
/// their total length kept as Linux keeps `skb->data_len`, so a packet's length never
/// walks the list. Read it as a slice; change it through the methods, which keep the
/// total.
#[derive(Clone, Default)]
pub struct FragList {
    pieces: Vec<SkBuff>,
    pub(super) bytes: usize,
}

impl FragList {
    /// Appends a piece.
    #[inline]
    pub fn push(&mut self, piece: SkBuff) {
        self.bytes = self.bytes.saturating_add(piece.len());
        self.pieces.push(piece);
    }

    /// Room for `n` more pieces.
    #[inline]
    pub fn reserve(&mut self, n: usize) {
        self.pieces.reserve(n);
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
