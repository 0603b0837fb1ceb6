//! The Internet checksum with Linux `include/net/checksum.h` semantics. RFC 1071, RFC 1624.
//!
//! A partial sum (`__wsum`) is a `u32` holding the one's-complement sum of the bytes read
//! as big-endian 16-bit words, so `csum_fold(sum).to_be_bytes()` is what goes on the wire.
//! The bulk sums (`csum_partial`, `csum_partial_copy_nocheck`) are skiff-csum's: SIMD chosen
//! at run time, in the one audited SIMD crate. They sum the bytes in native order,
//! which RFC 1071 §2(B) allows: the sum of byte-swapped words is the byte-swapped sum.

use crate::{Error, Ipv4Addr, Result};

/// Adds two partial sums with end-around carry. Linux csum_add().
#[inline]
pub const fn csum_add(a: u32, b: u32) -> u32 {
    let (s, carry) = a.overflowing_add(b);
    s.wrapping_add(carry as u32)
}

/// Subtracts `b` from the partial sum `a`. Linux csum_sub().
#[inline]
pub const fn csum_sub(a: u32, b: u32) -> u32 {
    csum_add(a, !b)
}

/// Folds a partial sum to 16 bits and complements it: the value for a checksum field.
/// Linux csum_fold().
#[inline]
pub const fn csum_fold(sum: u32) -> u16 {
    let s = (sum & 0xffff) + (sum >> 16);
    let s = (s & 0xffff) + (s >> 16);
    !(s as u16)
}

/// A checksum field read back as a partial sum. Linux csum_unfold().
#[inline]
pub const fn csum_unfold(check: u16) -> u32 {
    check as u32
}

/// Adds `csum2`, the sum of a block that starts `offset` bytes into the data, to `csum`.
/// A block at an odd offset has its bytes in the other half of each word. Linux csum_block_add().
#[inline]
pub const fn csum_block_add(csum: u32, csum2: u32, offset: usize) -> u32 {
    let csum2 = if offset & 1 == 1 {
        csum2.rotate_left(8)
    } else {
        csum2
    };
    csum_add(csum, csum2)
}

#[inline]
const fn fold64(v: u64) -> u16 {
    let s = csum_add(v as u32, (v >> 32) as u32);
    let s = (s & 0xffff) + (s >> 16);
    let s = (s & 0xffff) + (s >> 16);
    s as u16
}

#[inline]
fn native_to_net(folded: u16) -> u32 {
    u16::from_be_bytes(folded.to_ne_bytes()) as u32
}

/// RFC 1071 sum of `data` (any length, any alignment) added to `sum`. Linux csum_partial().
#[inline]
pub fn csum_partial(data: &[u8], sum: u32) -> u32 {
    skiff_csum::csum_partial(data, sum)
}

/// Copies `src` into `dst` (equal lengths) and returns the sum of the bytes copied, plus
/// `sum`. Linux csum_partial_copy_nocheck(). One pass: each vector is summed as it is copied.
pub fn csum_partial_copy_nocheck(src: &[u8], dst: &mut [u8], sum: u32) -> Result<u32> {
    skiff_csum::csum_partial_copy(src, dst, sum).ok_or(Error::Truncated)
}

/// Checksum of an IPv4 header: 0 when a received header verifies, the field value when the
/// field was zero. Linux ip_fast_csum(): headers are 20 to 60 bytes of whole 32-bit words,
/// which a short word loop sums faster than the bulk path sets itself up.
#[inline]
pub fn ip_fast_csum(header: &[u8]) -> u16 {
    if let Ok(h) = <&[u8; 20]>::try_from(header) {
        // The common header without options: five words, no loop.
        let w = |i: usize| u32::from_ne_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]) as u64;
        let sum = w(0) + w(4) + w(8) + w(12) + w(16);
        let s = csum_add(sum as u32, (sum >> 32) as u32);
        return u16::from_be_bytes(csum_fold(s).to_ne_bytes());
    }
    match header.as_chunks::<4>() {
        (words, []) if words.len() <= 15 => {
            let sum: u64 = words.iter().map(|w| u32::from_ne_bytes(*w) as u64).sum();
            csum_fold(native_to_net(fold64(sum)))
        }
        _ => csum_fold(csum_partial(header, 0)),
    }
}

/// The TCP/UDP pseudo-header (RFC 768, RFC 793 §3.1) added to `sum`. Linux csum_tcpudp_nofold().
#[inline]
pub fn csum_tcpudp_nofold(saddr: Ipv4Addr, daddr: Ipv4Addr, len: u32, proto: u8, sum: u32) -> u32 {
    // Whole 32-bit values: folding their sum adds the same 16-bit words.
    let acc = u64::from(sum)
        + u64::from(u32::from(saddr))
        + u64::from(u32::from(daddr))
        + u64::from(proto)
        + u64::from(len);
    fold64(acc) as u32
}

/// The folded, complemented pseudo-header checksum. Linux csum_tcpudp_magic().
#[inline]
pub fn csum_tcpudp_magic(saddr: Ipv4Addr, daddr: Ipv4Addr, len: u32, proto: u8, sum: u32) -> u16 {
    csum_fold(csum_tcpudp_nofold(saddr, daddr, len, proto, sum))
}

/// RFC 1624 eqn. 3 update of checksum field `check` when a 16-bit word changes from `old`
/// to `new`: HC' = ~(~HC + ~m + m'). Linux csum_replace2().
#[inline]
pub const fn csum_replace2(check: u16, old: u16, new: u16) -> u16 {
    csum_fold(csum_add(
        csum_add(!check as u32, !old as u32 & 0xffff),
        new as u32,
    ))
}

/// RFC 1624 update of `check` when a 32-bit word (an address) changes. Linux csum_replace4().
#[inline]
pub const fn csum_replace4(check: u16, old: u32, new: u32) -> u16 {
    let mut s = !check as u32 & 0xffff;
    s = csum_add(s, !old >> 16 & 0xffff);
    s = csum_add(s, !old & 0xffff);
    s = csum_add(s, new >> 16);
    s = csum_add(s, new & 0xffff);
    csum_fold(s)
}

/// Finishes a `CHECKSUM_PARTIAL` packet: sums `packet[csum_start..]` (whose checksum field,
/// `csum_offset` bytes in, holds the folded pseudo-header sum) and stores the result, 0
/// becoming 0xffff (`CSUM_MANGLED_0`). Linux skb_checksum_help().
pub fn csum_complete_partial(
    packet: &mut [u8],
    csum_start: usize,
    csum_offset: usize,
) -> Result<()> {
    let field = csum_start
        .checked_add(csum_offset)
        .ok_or(Error::BadLength)?;
    if field.checked_add(2).is_none_or(|end| end > packet.len()) {
        return Err(Error::BadLength);
    }
    let check = match csum_fold(csum_partial(&packet[csum_start..], 0)) {
        0 => 0xffff,
        c => c,
    };
    packet[field..field + 2].copy_from_slice(&check.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Straightforward RFC 1071 reference: big-endian words into a u64, folded.
    fn reference(data: &[u8]) -> u16 {
        let mut acc: u64 = 0;
        for pair in data.chunks(2) {
            let hi = pair[0] as u64;
            let lo = pair.get(1).copied().unwrap_or(0) as u64;
            acc += hi << 8 | lo;
        }
        while acc >> 16 != 0 {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        !(acc as u16)
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(csum_partial(&data, 0), 0xddf2);
        assert_eq!(csum_fold(csum_partial(&data, 0)), !0xddf2);
    }

    #[test]
    fn ipv4_header_golden() {
        // A header from Wikipedia's IPv4 checksum example; checksum b861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(ip_fast_csum(&h), 0xb861);
        h[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert_eq!(ip_fast_csum(&h), 0);
    }

    #[test]
    fn every_length_and_alignment() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8 ^ 0x5a).collect();
        for start in 0..9 {
            for end in start..data.len() {
                let s = &data[start..end];
                assert_eq!(
                    csum_fold(csum_partial(s, 0)),
                    reference(s),
                    "{start}..{end}"
                );
            }
        }
    }

    #[test]
    fn block_add_at_odd_offsets() {
        let data: Vec<u8> = (0..101u8).collect();
        let whole = csum_partial(&data, 0);
        for split in 0..data.len() {
            let a = csum_partial(&data[..split], 0);
            let b = csum_partial(&data[split..], 0);
            assert_eq!(
                csum_fold(csum_block_add(a, b, split)),
                csum_fold(whole),
                "{split}"
            );
        }
    }

    #[test]
    fn copy_and_checksum() {
        let src: Vec<u8> = (0..1023u32).map(|i| (i * 31) as u8).collect();
        for len in [0, 1, 7, 8, 9, 1023] {
            let mut dst = vec![0xa5; len];
            let sum = csum_partial_copy_nocheck(&src[..len], &mut dst, 0).unwrap();
            assert_eq!(dst, src[..len]);
            assert_eq!(sum, csum_partial(&src[..len], 0));
        }
        assert!(csum_partial_copy_nocheck(&src[..3], &mut [0; 2], 0).is_err());
    }

    #[test]
    fn replace_matches_recompute() {
        let mut h = [
            0x45, 0x00, 0x00, 0x54, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01, 0x00, 0x00, 0x0a, 0x00,
            0x01, 0x02, 0x0a, 0x00, 0x02, 0x02,
        ];
        let c = ip_fast_csum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        // TTL decrement: the TTL/protocol word 0x4001 becomes 0x3f01.
        let updated = csum_replace2(c, 0x4001, 0x3f01);
        h[8] = 0x3f;
        h[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(updated, ip_fast_csum(&h));
        // Source rewrite 10.0.1.2 -> 192.168.7.9.
        h[10..12].copy_from_slice(&updated.to_be_bytes());
        let updated = csum_replace4(updated, 0x0a00_0102, 0xc0a8_0709);
        h[12..16].copy_from_slice(&[192, 168, 7, 9]);
        h[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(updated, ip_fast_csum(&h));
    }

    #[test]
    fn pseudo_header_is_the_sum_of_its_words() {
        let addrs = [
            0u32,
            1,
            0xffff,
            0x1_0000,
            0xc0a8_0001,
            0xffff_fffe,
            u32::MAX,
        ];
        for &s in &addrs {
            for &d in &addrs {
                for (len, proto, sum) in
                    [(0, 0, 0), (8, 17, 0), (0xffff, 255, 0xffff), (72, 136, 7)]
                {
                    let words = [
                        s >> 16,
                        s & 0xffff,
                        d >> 16,
                        d & 0xffff,
                        u32::from(proto),
                        len,
                    ];
                    let mut acc = sum;
                    for w in words {
                        acc += w;
                    }
                    while acc > 0xffff {
                        acc = (acc & 0xffff) + (acc >> 16);
                    }
                    let got = csum_tcpudp_nofold(s.into(), d.into(), len, proto, sum);
                    assert_eq!(got, acc, "{s:#x} {d:#x} {len} {proto} {sum:#x}");
                }
            }
        }
    }

    #[test]
    fn complete_partial_writes_mangled_zero() {
        // UDP 1.2.3.4:0 -> 5.6.7.8:0 whose full sum is 0xffff must carry 0xffff.
        let (s, d) = (Ipv4Addr::new(1, 2, 3, 4), Ipv4Addr::new(5, 6, 7, 8));
        let mut seg = [0u8; 10];
        seg[4..6].copy_from_slice(&10u16.to_be_bytes());
        let pseudo = csum_tcpudp_nofold(s, d, 10, 17, 0);
        // Choose payload so that the final checksum folds to zero.
        let partial_sum = csum_partial(&seg, pseudo);
        let filler = csum_fold(partial_sum);
        seg[8..10].copy_from_slice(&filler.to_be_bytes());
        assert_eq!(csum_fold(csum_partial(&seg, pseudo)), 0);
        seg[6..8].copy_from_slice(&(!csum_fold(pseudo)).to_be_bytes());
        csum_complete_partial(&mut seg, 0, 6).unwrap();
        assert_eq!(&seg[6..8], &[0xff, 0xff]);
        assert_eq!(csum_complete_partial(&mut seg, 4, 5), Err(Error::BadLength));
        assert_eq!(
            csum_complete_partial(&mut seg, usize::MAX, 1),
            Err(Error::BadLength)
        );
    }
}
