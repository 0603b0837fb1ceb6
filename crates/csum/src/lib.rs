//! skiff-csum: the Internet checksum (RFC 1071) and a fused copy-and-checksum, Linux
//! `csum_partial()` and `csum_partial_copy_nocheck()`.
//!
//! This is the one crate of skiff's datapath that holds `unsafe` code, all of it SIMD:
//! unaligned vector loads and stores through pointers taken from `&[u8; N]` chunks, and
//! calls into `#[target_feature]` functions after the CPU was seen to have the feature.
//! On x86_64 the best of AVX2, SSE2 and portable code is chosen once at run time
//! ([`Level::best`]); other architectures use the portable code, which auto-vectorises.
//! [`reference`] holds the obviously correct byte-pair sums every level is tested and
//! fuzzed against, at every length and alignment.
//!
//! A partial sum is Linux's `__wsum`: a `u32` congruent, modulo 0xffff, to the sum of the
//! bytes read as big-endian 16-bit words; folding it to 16 bits and complementing gives
//! the checksum field. Internally the bytes are summed in native order, which RFC 1071
//! §2(B) allows: the sum of byte-swapped words is the byte-swapped sum.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

use std::sync::atomic::{AtomicU8, Ordering};

mod portable;
#[cfg(target_arch = "x86_64")]
mod x86;

/// Blocks summed into 32-bit lanes before they are added into a u64. 64 KiB keeps every
/// lane exact (see `x86.rs`, `portable.rs`).
const BLOCK: usize = 1 << 16;

/// Below this length the portable short sum is best: no lanes to set up and fold.
const SHORT: usize = 64;

/// Below this length the portable lane sum, inlined, beats dispatching to vectors.
const SIMD_MIN: usize = 512;

/// RFC 1071 sum of `data` (any length, any alignment) added to the partial sum `sum`.
/// Linux csum_partial().
#[inline]
pub fn csum_partial(data: &[u8], sum: u32) -> u32 {
    let native = if data.len() < SHORT {
        portable::sum_short(data)
    } else if data.len() < SIMD_MIN {
        portable::sum(data)
    } else {
        // SAFETY: `Level::best()` only returns levels whose features this CPU has.
        unsafe { Level::best().sum_unchecked(data) }
    };
    finish(native, sum)
}

/// Copies `src` into `dst` and returns the RFC 1071 sum of the bytes, added to `sum`, in
/// one pass over the data. `None`, with nothing copied, when the lengths differ.
/// Linux csum_partial_copy_nocheck().
#[inline]
pub fn csum_partial_copy(src: &[u8], dst: &mut [u8], sum: u32) -> Option<u32> {
    if src.len() != dst.len() {
        return None;
    }
    let native = if src.len() < SIMD_MIN {
        dst.copy_from_slice(src);
        portable::sum(src)
    } else {
        // SAFETY: as in `csum_partial`; the lengths are equal.
        unsafe { Level::best().copy_unchecked(src, dst) }
    };
    Some(finish(native, sum))
}

/// An implementation. Each is public so that tests and fuzzing can compare every level
/// the CPU has with [`reference`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Level {
    /// Plain Rust, on every architecture.
    Portable = 1,
    /// x86_64 SSE2 (every x86_64 CPU has it).
    Sse2 = 2,
    /// x86_64 AVX2.
    Avx2 = 3,
}

/// The level chosen by `Level::best()`, 0 until it was first detected.
static BEST: AtomicU8 = AtomicU8::new(0);

impl Level {
    /// The fastest level this CPU supports, detected on the first call and cached.
    #[inline]
    pub fn best() -> Level {
        match BEST.load(Ordering::Relaxed) {
            3 => Level::Avx2,
            2 => Level::Sse2,
            1 => Level::Portable,
            _ => {
                let best = *Level::supported().last().unwrap_or(&Level::Portable);
                BEST.store(best as u8, Ordering::Relaxed);
                best
            }
        }
    }

    /// Every level this CPU supports, slowest first.
    pub fn supported() -> Vec<Level> {
        [Level::Portable, Level::Sse2, Level::Avx2]
            .into_iter()
            .filter(|l| l.is_supported())
            .collect()
    }

    /// Whether this CPU has the features of the level (runtime detection).
    pub fn is_supported(self) -> bool {
        match self {
            Level::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Level::Sse2 => std::arch::is_x86_feature_detected!("sse2"),
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(not(target_arch = "x86_64"))]
            Level::Sse2 | Level::Avx2 => false,
        }
    }

    /// [`csum_partial`] at this level, for any length. Panics if the CPU lacks the level.
    pub fn csum_partial(self, data: &[u8], sum: u32) -> u32 {
        assert!(self.is_supported(), "{self:?} is not supported by this CPU");
        // SAFETY: checked just above.
        finish(unsafe { self.sum_unchecked(data) }, sum)
    }

    /// [`csum_partial_copy`] at this level, for any length. Panics if the CPU lacks the level.
    pub fn csum_partial_copy(self, src: &[u8], dst: &mut [u8], sum: u32) -> Option<u32> {
        assert!(self.is_supported(), "{self:?} is not supported by this CPU");
        if src.len() != dst.len() {
            return None;
        }
        // SAFETY: checked just above, and the lengths are equal.
        Some(finish(unsafe { self.copy_unchecked(src, dst) }, sum))
    }

    /// Native-order sum of `data`, not folded.
    ///
    /// # Safety
    /// The CPU has the features of `self` (`self.is_supported()`).
    #[inline]
    unsafe fn sum_unchecked(self, data: &[u8]) -> u64 {
        match self {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller guarantees AVX2.
            Level::Avx2 => unsafe { x86::sum_avx2(data) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller guarantees SSE2.
            Level::Sse2 => unsafe { x86::sum_sse2(data) },
            _ => portable::sum(data),
        }
    }

    /// Copies `src` into `dst` and returns the native-order sum, not folded.
    ///
    /// # Safety
    /// The CPU has the features of `self`. `src` and `dst` have the same length (else the
    /// copy panics, which is safe but not wanted).
    #[inline]
    unsafe fn copy_unchecked(self, src: &[u8], dst: &mut [u8]) -> u64 {
        match self {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller guarantees AVX2.
            Level::Avx2 => unsafe { x86::copy_avx2(src, dst) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller guarantees SSE2.
            Level::Sse2 => unsafe { x86::copy_sse2(src, dst) },
            _ => portable::copy(src, dst),
        }
    }
}

/// Adds two u64 sums with end-around carry: exact modulo 2^64 - 1, which 0xffff divides.
#[inline]
const fn add64(a: u64, b: u64) -> u64 {
    let (s, carry) = a.overflowing_add(b);
    s + carry as u64
}

/// Folds a native-order u64 sum to 16 bits, swaps it to network order and adds it to the
/// partial sum `sum` with end-around carry.
#[inline]
fn finish(native: u64, sum: u32) -> u32 {
    let (s, carry) = (native as u32).overflowing_add((native >> 32) as u32);
    let s = s + carry as u32;
    let s = (s & 0xffff) + (s >> 16);
    let s = (s & 0xffff) + (s >> 16);
    let net = u16::from_be_bytes((s as u16).to_ne_bytes()) as u32;
    let (s, carry) = sum.overflowing_add(net);
    s + carry as u32
}

/// The definitions, written for clarity, not speed.
pub mod reference {
    /// RFC 1071 §1 as written: big-endian 16-bit words (an odd last byte padded with a zero
    /// byte) added to `sum`, carries folded back in. The result is at most 0xffff.
    pub fn csum_partial(data: &[u8], sum: u32) -> u32 {
        let mut acc = u64::from(sum);
        for pair in data.chunks(2) {
            let hi = u64::from(pair[0]);
            let lo = u64::from(pair.get(1).copied().unwrap_or(0));
            acc += hi << 8 | lo;
        }
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u32
    }

    /// Copies byte by byte, then sums the source with [`csum_partial`]. `None`, with
    /// nothing copied, when the lengths differ.
    pub fn csum_partial_copy(src: &[u8], dst: &mut [u8], sum: u32) -> Option<u32> {
        if src.len() != dst.len() {
            return None;
        }
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
        Some(csum_partial(src, sum))
    }

    /// Folds a partial sum to 16 bits with end-around carry (not complemented), so that
    /// equivalent partial sums compare equal.
    pub fn fold(sum: u32) -> u16 {
        let s = (sum & 0xffff) + (sum >> 16);
        let s = (s & 0xffff) + (s >> 16);
        s as u16
    }
}

#[cfg(test)]
mod tests;
