//! Packet byte access across `frag_list`. Linux net/core/skbuff.c skb_copy_bits(),
//! skb_store_bits(); include/linux/skbuff.h skb_header_pointer().

use crate::skb::SkBuff;

/// Copies `out.len()` bytes at `off` of the packet (linear data, then `frag_list`); false if
/// the packet is shorter. Linux skb_copy_bits() / skb_header_pointer().
pub(super) fn skb_copy_bits(skb: &SkBuff, off: usize, out: &mut [u8]) -> bool {
    fn walk(skb: &SkBuff, off: &mut usize, out: &mut [u8], done: &mut usize) {
        let d = skb.data();
        if *off < d.len() {
            let n = (d.len() - *off).min(out.len() - *done);
            out[*done..*done + n].copy_from_slice(&d[*off..*off + n]);
            *done += n;
            *off = 0;
        } else {
            *off -= d.len();
        }
        for frag in &skb.frag_list {
            if *done == out.len() {
                return;
            }
            walk(frag, off, out, done);
        }
    }
    let (mut off, mut done) = (off, 0);
    walk(skb, &mut off, out, &mut done);
    done == out.len()
}

/// Writes `bytes` at `off` of the packet (linear data, then `frag_list`); false, with
/// nothing written, if the packet is shorter. Linux skb_store_bits().
pub(super) fn skb_store_bits(skb: &mut SkBuff, off: usize, bytes: &[u8]) -> bool {
    fn walk(skb: &mut SkBuff, off: &mut usize, bytes: &[u8], done: &mut usize) {
        let d = skb.data_mut();
        if *off < d.len() {
            let n = (d.len() - *off).min(bytes.len() - *done);
            d[*off..*off + n].copy_from_slice(&bytes[*done..*done + n]);
            *done += n;
            *off = 0;
        } else {
            *off -= d.len();
        }
        skb.frag_list.update(|frags| {
            for frag in frags.iter_mut() {
                if *done == bytes.len() {
                    return;
                }
                walk(frag, off, bytes, done);
            }
        });
    }
    if off
        .checked_add(bytes.len())
        .is_none_or(|end| end > skb.len())
    {
        return false;
    }
    let (mut off, mut done) = (off, 0);
    walk(skb, &mut off, bytes, &mut done);
    done == bytes.len()
}

/// The `N` bytes at `off` of the packet, if it is long enough.
pub(super) fn header<const N: usize>(skb: &SkBuff, off: usize) -> Option<[u8; N]> {
    let mut b = [0u8; N];
    skb_copy_bits(skb, off, &mut b).then_some(b)
}
