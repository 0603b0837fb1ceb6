//! An skb's `frag_list` and the walk over a packet's pieces. Linux include/linux/skbuff.h
//! (`skb_shinfo(skb)->frag_list`, skb_walk_frags()).

use super::SkBuff;
use core::fmt;

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
