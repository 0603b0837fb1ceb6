//! x86_64 AVX2 and SSE2: the portable lane scheme on 256- and 128-bit vectors.
//!
//! Per vector of 32-bit words `v`, a lane adds `v` (wrapping) into `words` and `v >> 16`
//! into `highs`: one shift and two adds per vector. The low halves then sum to
//! `words - (highs << 16)` modulo 2^32, which is exact because a 64 KiB block gives a lane,
//! once the four accumulators are added, at most 2^14 / 4 + 3 words (< 2^13 × 0xffff).
//! Four accumulator pairs per 4-vector line hide the add latency. The only `unsafe` here are the unaligned loads and stores, each
//! through a pointer to a `[u8; N]` of exactly one vector.

use crate::{BLOCK, add64, portable::sum_short};
use std::arch::x86_64::*;

// SSE2: 16-byte vectors.

#[target_feature(enable = "sse2")]
fn load16(b: &[u8; 16]) -> __m128i {
    // SAFETY: `b` is 16 readable bytes; loadu has no alignment requirement.
    unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
}

#[target_feature(enable = "sse2")]
fn store16(b: &mut [u8; 16], v: __m128i) {
    // SAFETY: `b` is 16 writable bytes; storeu has no alignment requirement.
    unsafe { _mm_storeu_si128(b.as_mut_ptr().cast(), v) }
}

/// A u64 congruent modulo 0xffff to the sum of the u32 lanes of `a` and `b`: each lane is
/// folded to 17 bits first, so that the horizontal sum fits in a u32 lane.
#[target_feature(enable = "sse2")]
fn hsum16(a: __m128i, b: __m128i) -> u64 {
    let m = _mm_set1_epi32(0xffff);
    let fa = _mm_add_epi32(_mm_and_si128(a, m), _mm_srli_epi32::<16>(a));
    let fb = _mm_add_epi32(_mm_and_si128(b, m), _mm_srli_epi32::<16>(b));
    let s = _mm_add_epi32(fa, fb);
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s) as u32 as u64
}

struct Acc128 {
    words: [__m128i; 4],
    highs: [__m128i; 4],
}

impl Acc128 {
    #[target_feature(enable = "sse2")]
    fn new() -> Self {
        let z = _mm_setzero_si128();
        Acc128 {
            words: [z; 4],
            highs: [z; 4],
        }
    }

    #[target_feature(enable = "sse2")]
    #[inline]
    fn add(&mut self, i: usize, v: __m128i) {
        self.words[i] = _mm_add_epi32(self.words[i], v);
        self.highs[i] = _mm_add_epi32(self.highs[i], _mm_srli_epi32::<16>(v));
    }

    #[target_feature(enable = "sse2")]
    fn finish(self) -> u64 {
        let [w0, w1, w2, w3] = self.words;
        let [h0, h1, h2, h3] = self.highs;
        let w = _mm_add_epi32(_mm_add_epi32(w0, w1), _mm_add_epi32(w2, w3));
        let h = _mm_add_epi32(_mm_add_epi32(h0, h1), _mm_add_epi32(h2, h3));
        hsum16(_mm_sub_epi32(w, _mm_slli_epi32::<16>(h)), h)
    }
}

/// Native-order sum of `data`, not folded.
#[target_feature(enable = "sse2")]
pub(crate) fn sum_sse2(data: &[u8]) -> u64 {
    let mut total = 0;
    for block in data.chunks(BLOCK) {
        let mut acc = Acc128::new();
        let (lines, rest) = block.as_chunks::<64>();
        for line in lines {
            for (i, v) in line.as_chunks::<16>().0.iter().enumerate() {
                acc.add(i, load16(v));
            }
        }
        let (vecs, tail) = rest.as_chunks::<16>();
        for v in vecs {
            acc.add(0, load16(v));
        }
        total = add64(total, acc.finish() + sum_short(tail));
    }
    total
}

/// Copies `src` into `dst` (equal lengths) and returns the native-order sum of the bytes.
#[target_feature(enable = "sse2")]
pub(crate) fn copy_sse2(src: &[u8], dst: &mut [u8]) -> u64 {
    let mut total = 0;
    for (block, out) in src.chunks(BLOCK).zip(dst.chunks_mut(BLOCK)) {
        let mut acc = Acc128::new();
        let (lines, rest) = block.as_chunks::<64>();
        let (out_lines, out_rest) = out.as_chunks_mut::<64>();
        for (line, out) in lines.iter().zip(out_lines) {
            let out = out.as_chunks_mut::<16>().0;
            for (i, (v, o)) in line.as_chunks::<16>().0.iter().zip(out).enumerate() {
                let v = load16(v);
                store16(o, v);
                acc.add(i, v);
            }
        }
        let (vecs, tail) = rest.as_chunks::<16>();
        let (out_vecs, out_tail) = out_rest.as_chunks_mut::<16>();
        for (v, o) in vecs.iter().zip(out_vecs) {
            let v = load16(v);
            store16(o, v);
            acc.add(0, v);
        }
        out_tail.copy_from_slice(tail);
        total = add64(total, acc.finish() + sum_short(tail));
    }
    total
}

// AVX2: 32-byte vectors.

#[target_feature(enable = "avx2")]
fn load32(b: &[u8; 32]) -> __m256i {
    // SAFETY: `b` is 32 readable bytes; loadu has no alignment requirement.
    unsafe { _mm256_loadu_si256(b.as_ptr().cast()) }
}

#[target_feature(enable = "avx2")]
fn store32(b: &mut [u8; 32], v: __m256i) {
    // SAFETY: `b` is 32 writable bytes; storeu has no alignment requirement.
    unsafe { _mm256_storeu_si256(b.as_mut_ptr().cast(), v) }
}

/// As `hsum16`, for 256-bit vectors.
#[target_feature(enable = "avx2")]
fn hsum32(a: __m256i, b: __m256i) -> u64 {
    let m = _mm256_set1_epi32(0xffff);
    let fa = _mm256_add_epi32(_mm256_and_si256(a, m), _mm256_srli_epi32::<16>(a));
    let fb = _mm256_add_epi32(_mm256_and_si256(b, m), _mm256_srli_epi32::<16>(b));
    let s = _mm256_add_epi32(fa, fb);
    hsum16(_mm256_castsi256_si128(s), _mm256_extracti128_si256::<1>(s))
}

struct Acc256 {
    words: [__m256i; 4],
    highs: [__m256i; 4],
}

impl Acc256 {
    #[target_feature(enable = "avx2")]
    fn new() -> Self {
        let z = _mm256_setzero_si256();
        Acc256 {
            words: [z; 4],
            highs: [z; 4],
        }
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn add(&mut self, i: usize, v: __m256i) {
        self.words[i] = _mm256_add_epi32(self.words[i], v);
        self.highs[i] = _mm256_add_epi32(self.highs[i], _mm256_srli_epi32::<16>(v));
    }

    #[target_feature(enable = "avx2")]
    fn finish(self) -> u64 {
        let [w0, w1, w2, w3] = self.words;
        let [h0, h1, h2, h3] = self.highs;
        let w = _mm256_add_epi32(_mm256_add_epi32(w0, w1), _mm256_add_epi32(w2, w3));
        let h = _mm256_add_epi32(_mm256_add_epi32(h0, h1), _mm256_add_epi32(h2, h3));
        hsum32(_mm256_sub_epi32(w, _mm256_slli_epi32::<16>(h)), h)
    }
}

/// Native-order sum of `data`, not folded.
#[target_feature(enable = "avx2")]
pub(crate) fn sum_avx2(data: &[u8]) -> u64 {
    let mut total = 0;
    for block in data.chunks(BLOCK) {
        let mut acc = Acc256::new();
        let (lines, rest) = block.as_chunks::<128>();
        for line in lines {
            for (i, v) in line.as_chunks::<32>().0.iter().enumerate() {
                acc.add(i, load32(v));
            }
        }
        let (vecs, tail) = rest.as_chunks::<32>();
        for v in vecs {
            acc.add(0, load32(v));
        }
        total = add64(total, acc.finish() + sum_short(tail));
    }
    total
}

/// Copies `src` into `dst` (equal lengths) and returns the native-order sum of the bytes.
#[target_feature(enable = "avx2")]
pub(crate) fn copy_avx2(src: &[u8], dst: &mut [u8]) -> u64 {
    let mut total = 0;
    for (block, out) in src.chunks(BLOCK).zip(dst.chunks_mut(BLOCK)) {
        let mut acc = Acc256::new();
        let (lines, rest) = block.as_chunks::<128>();
        let (out_lines, out_rest) = out.as_chunks_mut::<128>();
        for (line, out) in lines.iter().zip(out_lines) {
            let out = out.as_chunks_mut::<32>().0;
            for (i, (v, o)) in line.as_chunks::<32>().0.iter().zip(out).enumerate() {
                let v = load32(v);
                store32(o, v);
                acc.add(i, v);
            }
        }
        let (vecs, tail) = rest.as_chunks::<32>();
        let (out_vecs, out_tail) = out_rest.as_chunks_mut::<32>();
        for (v, o) in vecs.iter().zip(out_vecs) {
            let v = load32(v);
            store32(o, v);
            acc.add(0, v);
        }
        out_tail.copy_from_slice(tail);
        total = add64(total, acc.finish() + sum_short(tail));
    }
    total
}
