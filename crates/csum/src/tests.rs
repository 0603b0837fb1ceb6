//! Every level the CPU has, and the dispatched functions, against `reference`.

use super::*;
use proptest::prelude::*;
use reference::fold;

/// Checks every level and the dispatched functions on `data` with initial sum `sum`:
/// the folded sums agree with the reference and the copies are exact. `dst_off` places
/// the copy's destination at another alignment than the source.
fn check_all(data: &[u8], sum: u32, dst_off: usize) {
    let want = reference::csum_partial(data, sum);
    let mut buf = vec![0u8; data.len() + dst_off];
    let dst = &mut buf[dst_off..];
    assert_eq!(reference::csum_partial_copy(data, dst, sum), Some(want));
    assert_eq!(dst, data);

    let mut got = vec![("dispatched", csum_partial(data, sum))];
    buf.fill(0xa5);
    let copied = csum_partial_copy(data, &mut buf[dst_off..], sum);
    assert_eq!(&buf[dst_off..], data, "dispatched copy, len {}", data.len());
    got.push(("dispatched copy", copied.unwrap()));
    for level in Level::supported() {
        got.push(("sum", level.csum_partial(data, sum)));
        buf.fill(0x5a);
        let copied = level.csum_partial_copy(data, &mut buf[dst_off..], sum);
        assert_eq!(&buf[dst_off..], data, "{level:?} copy, len {}", data.len());
        got.push(("copy", copied.unwrap()));
    }
    for (what, s) in got {
        assert_eq!(
            fold(s),
            fold(want),
            "{what}: len {} sum {sum:#x}",
            data.len()
        );
    }
}

#[test]
fn rfc1071_example() {
    // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
    let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
    assert_eq!(reference::csum_partial(&data, 0), 0xddf2);
    assert_eq!(csum_partial(&data, 0), 0xddf2);
    check_all(&data, 0, 0);
}

#[test]
fn levels_detected() {
    let levels = Level::supported();
    assert_eq!(levels[0], Level::Portable);
    assert_eq!(Level::best(), *levels.last().unwrap());
    #[cfg(target_arch = "x86_64")]
    assert!(levels.contains(&Level::Sse2));
    #[cfg(target_arch = "x86_64")]
    assert_eq!(
        levels.contains(&Level::Avx2),
        std::arch::is_x86_feature_detected!("avx2")
    );
}

#[test]
fn length_mismatch_copies_nothing() {
    let mut dst = [7u8; 3];
    assert_eq!(csum_partial_copy(&[1, 2], &mut dst, 0), None);
    for level in Level::supported() {
        assert_eq!(level.csum_partial_copy(&[1; 100], &mut [0; 99], 0), None);
    }
    assert_eq!(dst, [7; 3]);
}

/// Worst cases for the lane sums: every word 0xffff, and all zeros (which must sum to 0,
/// not 0xffff), at sizes around the 64 KiB block and well beyond it.
#[test]
fn extreme_bytes_large() {
    for len in [
        BLOCK - 1,
        BLOCK,
        BLOCK + 1,
        BLOCK + 129,
        1 << 20,
        (1 << 20) + 77,
    ] {
        let ones = vec![0xffu8; len];
        check_all(&ones, 0, 0);
        check_all(&ones, 0xffff_ffff, 3);
        let zeros = vec![0u8; len];
        check_all(&zeros, 0, 1);
        assert_eq!(csum_partial(&zeros, 0), 0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Every length 0..=300 at every alignment 0..64, destination at another alignment.
    #[test]
    fn every_length_and_alignment(data in proptest::collection::vec(any::<u8>(), 364), sum in any::<u32>()) {
        for off in 0..64 {
            for len in 0..=300 {
                check_all(&data[off..off + len], sum, (off * 7 + len) % 64);
            }
        }
    }

    /// Large random buffers: 64 KiB and 1 MiB, at a random alignment and length around them.
    #[test]
    fn large(data in proptest::collection::vec(any::<u8>(), (1 << 20) + 200), off in 0usize..64, extra in 0usize..130, sum in any::<u32>()) {
        check_all(&data[off..off + (1 << 16) + extra], sum, extra % 64);
        check_all(&data[off..off + (1 << 16)], sum, 0);
        check_all(&data[off..off + (1 << 20)], sum, off);
    }
}
