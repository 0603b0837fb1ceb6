//! Checksums against the internet-checksum crate on random buffers of odd lengths and
//! unaligned starts, and RFC 1624 incremental updates against a full recompute.

use proptest::prelude::*;
use skiff_wire::checksum::*;

fn oracle(data: &[u8]) -> u16 {
    u16::from_be_bytes(internet_checksum::checksum(data))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn matches_internet_checksum(data in proptest::collection::vec(any::<u8>(), 0..4200), start in 0usize..16) {
        let start = start.min(data.len());
        let s = &data[start..];
        prop_assert_eq!(csum_fold(csum_partial(s, 0)), oracle(s));
    }

    #[test]
    fn split_sums_combine(data in proptest::collection::vec(any::<u8>(), 1..2000), cut in any::<prop::sample::Index>()) {
        let cut = cut.index(data.len());
        let a = csum_partial(&data[..cut], 0);
        let b = csum_partial(&data[cut..], 0);
        prop_assert_eq!(csum_fold(csum_block_add(a, b, cut)), oracle(&data));
        // Chaining through the running sum is only valid at even offsets.
        if cut % 2 == 0 {
            prop_assert_eq!(csum_fold(csum_partial(&data[cut..], a)), oracle(&data));
        }
    }

    #[test]
    fn copy_and_checksum_matches(data in proptest::collection::vec(any::<u8>(), 0..3000), start in 0usize..8) {
        let start = start.min(data.len());
        let src = &data[start..];
        let mut dst = vec![0xa5; src.len()];
        let sum = csum_partial_copy_nocheck(src, &mut dst, 0).unwrap();
        prop_assert_eq!(&dst[..], src);
        prop_assert_eq!(csum_fold(sum), oracle(src));
    }

    /// RFC 1624: rewriting a 16-bit word and patching the checksum equals recomputing it.
    #[test]
    fn replace2_equals_recompute(mut hdr in proptest::collection::vec(any::<u8>(), 20..60), word in any::<prop::sample::Index>(), new in any::<u16>()) {
        hdr.truncate(hdr.len() & !1);
        hdr[10] = 0;
        hdr[11] = 0;
        let check = ip_fast_csum(&hdr);
        hdr[10..12].copy_from_slice(&check.to_be_bytes());
        // Any aligned word but the checksum itself.
        let mut at = word.index(hdr.len() / 2) * 2;
        if at == 10 { at = 12; }
        let old = u16::from_be_bytes([hdr[at], hdr[at + 1]]);
        hdr[at..at + 2].copy_from_slice(&new.to_be_bytes());
        let patched = csum_replace2(check, old, new);
        hdr[10..12].copy_from_slice(&patched.to_be_bytes());
        prop_assert_eq!(ip_fast_csum(&hdr), 0);
        // The internet-checksum crate's own RFC 1624 update agrees, up to the two
        // one's-complement spellings of zero.
        let theirs = u16::from_be_bytes(internet_checksum::update(check.to_be_bytes(), &old.to_be_bytes(), &new.to_be_bytes()));
        prop_assert!(theirs == patched || (theirs | patched == 0xffff && theirs & patched == 0), "{theirs:#x} vs {patched:#x}");
    }

    #[test]
    fn replace4_equals_recompute(mut hdr in proptest::collection::vec(any::<u8>(), 20..21), new in any::<u32>(), dst in any::<bool>()) {
        hdr[10] = 0;
        hdr[11] = 0;
        let check = ip_fast_csum(&hdr);
        hdr[10..12].copy_from_slice(&check.to_be_bytes());
        let at = if dst { 16 } else { 12 };
        let old = u32::from_be_bytes([hdr[at], hdr[at + 1], hdr[at + 2], hdr[at + 3]]);
        hdr[at..at + 4].copy_from_slice(&new.to_be_bytes());
        let patched = csum_replace4(check, old, new);
        hdr[10..12].copy_from_slice(&patched.to_be_bytes());
        prop_assert_eq!(ip_fast_csum(&hdr), 0);
    }

    /// Completing a CHECKSUM_PARTIAL segment gives the same field as a full computation.
    #[test]
    fn complete_partial_equals_full(payload in proptest::collection::vec(any::<u8>(), 0..1500), s in any::<u32>(), d in any::<u32>()) {
        let (s, d) = (s.into(), d.into());
        let len = 8 + payload.len();
        let mut seg = vec![0u8; len];
        seg[4..6].copy_from_slice(&(len as u16).to_be_bytes());
        seg[8..].copy_from_slice(&payload);
        let full = csum_tcpudp_magic(s, d, len as u32, 17, csum_partial(&seg, 0));
        let full = if full == 0 { 0xffff } else { full };
        seg[6..8].copy_from_slice(&(!csum_tcpudp_magic(s, d, len as u32, 17, 0)).to_be_bytes());
        csum_complete_partial(&mut seg, 0, 6).unwrap();
        prop_assert_eq!(u16::from_be_bytes([seg[6], seg[7]]), full);
    }
}

#[test]
fn large_buffer_matches() {
    let data: Vec<u8> = (0..(1usize << 20) + 3)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    for start in 0..4 {
        assert_eq!(
            csum_fold(csum_partial(&data[start..], 0)),
            oracle(&data[start..])
        );
    }
}
