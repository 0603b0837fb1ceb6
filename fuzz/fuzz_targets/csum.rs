//! skiff-csum: every level the CPU has, and the dispatched functions, against the byte-pair
//! reference on the input at every offset 0..64, with the copy's destination at another
//! alignment; the fused copies must copy exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_csum::{Level, csum_partial, csum_partial_copy, reference};

fuzz_target!(|input: &[u8]| {
    let Some((&seed, input)) = input.split_first() else {
        return;
    };
    let sum = u32::from(seed).wrapping_mul(0x0101_0101);
    let levels = Level::supported();
    let mut buf = vec![0u8; input.len() + 64];
    for off in 0..64.min(input.len() + 1) {
        let data = &input[off..];
        let want = reference::fold(reference::csum_partial(data, sum));
        let dst_off = (off + usize::from(seed)) % 64;
        let dst = &mut buf[dst_off..dst_off + data.len()];
        assert_eq!(reference::fold(csum_partial(data, sum)), want);
        dst.fill(0);
        let got = csum_partial_copy(data, dst, sum).map(reference::fold);
        assert_eq!((got, &*dst), (Some(want), data));
        for level in &levels {
            assert_eq!(reference::fold(level.csum_partial(data, sum)), want, "{level:?}");
            dst.fill(0);
            let got = level.csum_partial_copy(data, dst, sum).map(reference::fold);
            assert_eq!((got, &*dst), (Some(want), data), "{level:?}");
        }
    }
});
