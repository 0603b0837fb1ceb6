//! Randomness for the core, from one seed in the stack configuration so that any run can be
//! replayed exactly. Everything random in the stack (hash keys, IP ID secrets, ephemeral
//! ports, timer jitter) draws from a [`Prng`] or from a [`Prng::fork`] of it.
//!
//! This is not a cryptographic generator: Linux uses `get_random_bytes()`/siphash keys where
//! an off-path attacker must not predict values; seed the stack from the OS entropy source
//! in production and from a fixed value in tests.

/// xoshiro256** (Blackman & Vigna, "Scrambled linear pseudorandom number generators",
/// 2021), with its 256-bit state expanded from a `u64` seed by SplitMix64 (Steele, Lea &
/// Flood, 2014), as the xoshiro authors recommend.
#[derive(Debug)]
pub struct Prng {
    s: [u64; 4],
}

/// One SplitMix64 step: advances `state` by the golden-ratio increment and mixes it.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Prng {
    /// A generator seeded from `seed`. The state is never all zero: SplitMix64's mix is a
    /// bijection, so its four outputs are distinct.
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        Prng {
            s: [
                splitmix64(&mut sm),
                splitmix64(&mut sm),
                splitmix64(&mut sm),
                splitmix64(&mut sm),
            ],
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// The next 32 random bits (the high half of [`Prng::next_u64`]).
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Fills `dest` with random bytes. Linux get_random_bytes().
    pub fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }

    /// A uniform value in `0..n`, without modulo bias (Lemire, "Fast Random Integer
    /// Generation in an Interval", 2019). `below(0)` returns 0. Linux get_random_u32_below().
    pub fn below(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        let mut m = u64::from(self.next_u32()) * u64::from(n);
        if (m as u32) < n {
            // 2^32 mod n: the low products below it would over-represent some results.
            let threshold = n.wrapping_neg() % n;
            while (m as u32) < threshold {
                m = u64::from(self.next_u32()) * u64::from(n);
            }
        }
        (m >> 32) as u32
    }

    /// A uniform value between `lo` and `hi`, both included; the order of the bounds does
    /// not matter. Linux get_random_u32_inclusive().
    pub fn range_inclusive(&mut self, lo: u32, hi: u32) -> u32 {
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        match (hi - lo).checked_add(1) {
            Some(span) => lo + self.below(span),
            None => self.next_u32(),
        }
    }

    /// A new generator whose stream is independent of this one: it is seeded through
    /// SplitMix64 from this generator's next output. Use it to hand a subsystem its own
    /// stream (hash keys, IP ID secrets) so that its draws do not shift everyone else's.
    pub fn fork(&mut self) -> Prng {
        Prng::new(self.next_u64())
    }

    /// 256 bits of key material for a seeded hash (siphash/ahash keys on tables keyed by
    /// remote input). Linux net_get_random_once() + siphash_key_t.
    pub fn hash_keys(&mut self) -> [u64; 4] {
        [
            self.next_u64(),
            self.next_u64(),
            self.next_u64(),
            self.next_u64(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_vectors() {
        // Published first outputs of Vigna's splitmix64.c with x = 0.
        let mut x = 0;
        let got = [(); 4].map(|_| splitmix64(&mut x));
        assert_eq!(
            got,
            [
                0xe220_a839_7b1d_cdaf,
                0x6e78_9e6a_a1b9_65f4,
                0x06c4_5d18_8009_454f,
                0xf88b_b8a8_724c_81ec,
            ]
        );
        assert_eq!(Prng::new(0).s, got);
    }

    #[test]
    fn xoshiro256starstar_reference_vectors() {
        // Derived by hand from the reference next() on the state above:
        //   out0 = rotl(s1*5, 7)*9 with s1 = 6e789e6aa1b965f4:
        //   s1*5 = 285b1815289efdc4, rotl 7 = 2d8c0a944f7ee214, *9 = 99ec5f36cb75f2b4;
        //   the update then gives s1 = 8a9c6b4b5aaded14:
        //   s1*5 = b50e1878c565a164, rotl 7 = 870c3c62b2d0b25a, *9 = bf6e1f784956452a;
        //   then s1 = 267e53e3c2b94c43 -> 1a5f849d4933e6e0,
        //   then s1 = 1ec6297e161873c9 -> 6aa594f1262d2d2c.
        let mut rng = Prng::new(0);
        let got = [(); 4].map(|_| rng.next_u64());
        assert_eq!(
            got,
            [
                0x99ec_5f36_cb75_f2b4,
                0xbf6e_1f78_4956_452a,
                0x1a5f_849d_4933_e6e0,
                0x6aa5_94f1_262d_2d2c,
            ]
        );
        assert_eq!(
            rng.s,
            [
                0xb1e8_7922_cfaa_0328,
                0x53e6_34df_e129_3913,
                0x1fdc_3191_10a3_4ada,
                0x8ecf_0c76_f36d_8e97,
            ]
        );
        // next_u32 is the high half of the same stream.
        assert_eq!(Prng::new(0).next_u32(), 0x99ec_5f36);
    }

    #[test]
    fn deterministic_and_seed_sensitive() {
        let (mut a, mut b, mut c) = (Prng::new(42), Prng::new(42), Prng::new(43));
        let xs: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..100).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn fill_bytes_uses_the_stream_little_endian() {
        let mut buf = [0u8; 11];
        Prng::new(0).fill_bytes(&mut buf);
        assert_eq!(
            buf,
            [
                0xb4, 0xf2, 0x75, 0xcb, 0x36, 0x5f, 0xec, 0x99, // 99ec5f36cb75f2b4
                0x2a, 0x45, 0x56, // bf6e1f784956452a, first three bytes
            ]
        );
        Prng::new(0).fill_bytes(&mut []);
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = Prng::new(7);
        assert_eq!(rng.below(0), 0);
        for _ in 0..1000 {
            assert_eq!(rng.below(1), 0);
            assert!(rng.below(2) < 2);
            assert!(rng.below(3) < 3);
            assert!(rng.below(u32::MAX) < u32::MAX);
            assert!(rng.below(0x8000_0001) < 0x8000_0001);
        }
        // With n = 0xaaaa_aaab (about 2/3 of 2^32) a naive `next_u32() % n` lands in the
        // lower half two times out of three; an unbiased draw does so half the time.
        let low = (0..10_000)
            .filter(|_| rng.below(0xaaaa_aaab) < 0x5555_5555)
            .count();
        assert!((4700..=5300).contains(&low), "{low}");
    }

    #[test]
    fn range_inclusive_bounds() {
        let mut rng = Prng::new(9);
        let mut seen = [false; 6];
        for _ in 0..1000 {
            let v = rng.range_inclusive(10, 15);
            assert!((10..=15).contains(&v));
            seen[(v - 10) as usize] = true;
            assert!((10..=15).contains(&rng.range_inclusive(15, 10)));
            assert_eq!(rng.range_inclusive(5, 5), 5);
            assert!(rng.range_inclusive(u32::MAX - 1, u32::MAX) >= u32::MAX - 1);
        }
        assert!(seen.iter().all(|&s| s));
        // The full range takes the next_u32 path.
        let mut a = Prng::new(3);
        assert_eq!(a.range_inclusive(0, u32::MAX), Prng::new(3).next_u32());
    }

    #[test]
    fn below_chi_square() {
        let mut rng = Prng::new(0x5eed);
        let mut counts = [0u32; 10];
        let n = 100_000;
        for _ in 0..n {
            counts[rng.below(10) as usize] += 1;
        }
        let expected = f64::from(n) / 10.0;
        let chi2: f64 = counts
            .iter()
            .map(|&c| (f64::from(c) - expected).powi(2) / expected)
            .sum();
        // 9 degrees of freedom: p = 0.001 at 27.9.
        assert!(chi2 < 40.0, "chi2 = {chi2}, counts = {counts:?}");
    }

    #[test]
    fn bytes_chi_square() {
        let mut rng = Prng::new(1);
        let mut buf = vec![0u8; 256 * 1000];
        rng.fill_bytes(&mut buf);
        let mut counts = [0u32; 256];
        for b in &buf {
            counts[*b as usize] += 1;
        }
        let chi2: f64 = counts
            .iter()
            .map(|&c| (f64::from(c) - 1000.0).powi(2) / 1000.0)
            .sum();
        // 255 degrees of freedom: mean 255, p = 0.001 at about 330.
        assert!(chi2 < 400.0, "chi2 = {chi2}");
    }

    #[test]
    fn fork_is_deterministic_and_distinct() {
        let mut parent = Prng::new(5);
        let mut child = parent.fork();
        let mut parent2 = Prng::new(5);
        let mut child2 = parent2.fork();
        let c: Vec<u64> = (0..50).map(|_| child.next_u64()).collect();
        let p: Vec<u64> = (0..50).map(|_| parent.next_u64()).collect();
        assert_eq!(c, (0..50).map(|_| child2.next_u64()).collect::<Vec<_>>());
        assert_eq!(p, (0..50).map(|_| parent2.next_u64()).collect::<Vec<_>>());
        assert!(c.iter().all(|x| !p.contains(x)));
        let keys = parent.hash_keys();
        assert_ne!(keys, parent.hash_keys());
        assert_ne!(
            Prng::new(5).fork().hash_keys(),
            Prng::new(6).fork().hash_keys()
        );
    }
}
