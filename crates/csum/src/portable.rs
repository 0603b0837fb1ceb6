//! Plain Rust, for every architecture, and for inputs too short for vectors.

use crate::{BLOCK, add64};

/// Native-order sum of `data`, not folded.
///
/// The bulk runs over 64-byte lines in 16 lanes. Each lane keeps two u32 sums: of whole
/// 32-bit words (wrapping) and of their high halves. The sum of the low halves is then
/// `words - (highs << 16)` modulo 2^32, exact while it stays below 2^32, which 64 KiB
/// blocks guarantee (1024 words per lane × 0xffff < 2^26). Per 16 bytes that is one shift
/// and two adds, no shuffles, so it vectorises on any SIMD width.
#[inline]
pub(crate) fn sum(data: &[u8]) -> u64 {
    if data.len() <= BLOCK {
        return sum_block(data);
    }
    data.chunks(BLOCK)
        .fold(0, |total, block| add64(total, sum_block(block)))
}

#[inline]
fn sum_block(block: &[u8]) -> u64 {
    let (lines, tail) = block.as_chunks::<64>();
    let mut words = [0u32; 16];
    let mut highs = [0u32; 16];
    for line in lines {
        for (i, w) in line.as_chunks::<4>().0.iter().enumerate() {
            let w = u32::from_ne_bytes(*w);
            words[i] = words[i].wrapping_add(w);
            highs[i] += w >> 16;
        }
    }
    // Fold the lanes pairwise, as vectors, before the scalar sum.
    for half in [8usize, 4] {
        for i in 0..half {
            words[i] = words[i].wrapping_add(words[i + half]);
            highs[i] += highs[i + half];
        }
    }
    let w = words[..4].iter().fold(0u32, |a, b| a.wrapping_add(*b));
    let h: u32 = highs[..4].iter().sum();
    w.wrapping_sub(h << 16) as u64 + h as u64 + sum_short(tail)
}

/// Copies `src` into `dst` (equal lengths) a block at a time, summing each block while it
/// is in cache.
pub(crate) fn copy(src: &[u8], dst: &mut [u8]) -> u64 {
    const STEP: usize = 4096;
    let mut total = 0;
    for (s, d) in src.chunks(STEP).zip(dst.chunks_mut(STEP)) {
        d.copy_from_slice(s);
        total = add64(total, sum_block(d));
    }
    total
}

/// Native-order sum of a short input: u32 halves of u64 words, then the tail.
#[inline]
pub(crate) fn sum_short(data: &[u8]) -> u64 {
    let (quads, mut rest) = data.as_chunks::<8>();
    let mut total = 0u64;
    for q in quads {
        let q = u64::from_ne_bytes(*q);
        total += (q & 0xffff_ffff) + (q >> 32);
    }
    if let Some((w, r)) = rest.split_first_chunk::<4>() {
        total += u32::from_ne_bytes(*w) as u64;
        rest = r;
    }
    if let Some((w, r)) = rest.split_first_chunk::<2>() {
        total += u16::from_ne_bytes(*w) as u64;
        rest = r;
    }
    if let [last] = rest {
        total += u16::from_ne_bytes([*last, 0]) as u64;
    }
    total
}
