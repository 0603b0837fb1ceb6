//! The vectorised RFC 1071 sum against a byte-pair reference, at any length and alignment,
//! plus split sums combined at odd and even offsets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_wire::checksum::{csum_block_add, csum_fold, csum_partial, ip_fast_csum};

fn reference(data: &[u8]) -> u16 {
    let mut acc: u64 = 0;
    for pair in data.chunks(2) {
        acc += u64::from(pair[0]) << 8 | u64::from(pair.get(1).copied().unwrap_or(0));
    }
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

fuzz_target!(|input: &[u8]| {
    let Some((&cut, data)) = input.split_first() else {
        return;
    };
    let expected = reference(data);
    assert_eq!(csum_fold(csum_partial(data, 0)), expected);
    assert_eq!(ip_fast_csum(data), expected);
    let cut = usize::from(cut).min(data.len());
    let (a, b) = data.split_at(cut);
    let sum = csum_block_add(csum_partial(a, 0), csum_partial(b, 0), cut);
    assert_eq!(csum_fold(sum), expected);
});
