//! `SkbPool`, the free list packet buffers come from and go back to. Linux
//! net/core/skbuff.c (`skbuff_head_cache`, alloc_skb(), consume_skb()).

use super::buff::{FragList, SkBuff, SkBuffInner};
use super::meta::{Result, SKB_MAX_ALLOC, alloc_size};

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

    /// A private copy of `skb` in pooled buffers (the bytes up to its tail, not the
    /// whole buffer), as `clone` gives: the head and each `frag_list` piece in one of its
    /// own, `clone` for what the free list cannot hold. Linux skb_copy().
    pub fn copy(&mut self, skb: &SkBuff) -> SkBuff {
        if skb.tail <= self.buf_size
            && let Some(mut b) = self.free.pop()
        {
            if b.copy_from(&skb.0) {
                self.stats.reused += 1;
                let mut c = SkBuff(b);
                for piece in &skb.frag_list {
                    let piece = self.copy(piece);
                    c.frag_list.push(piece);
                }
                return c;
            }
            self.free.push(b);
        }
        skb.clone()
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

impl SkBuffInner {
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
}
