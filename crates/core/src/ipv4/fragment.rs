//! Output fragmentation. Linux net/ipv4/ip_output.c ip_fragment(), ip_do_fragment();
//! RFC 791 §3.2. R24.

use super::hdr::IpHdr;
use super::output::OutputError;
use crate::drop::DropReason;
use crate::ipv4::icmp::IcmpErr;
use crate::route::DstEntry;
use crate::skb::{IpSkbFlags, SkBuff, SkOwner};
use crate::stack::{LL_RESERVED, Stack, stage};
use skiff_wire::checksum::{csum_add, csum_fold, csum_partial};
use skiff_wire::ipv4::Ipv4Packet;
use skiff_wire::ipv4::{IP_DF, IP_MF};

/// Linux ip_options_fragment(): in the header of fragments after the first, options
/// without the copied flag become NOPs; the header keeps its length.
fn ip_options_fragment(header: &mut [u8]) {
    let mut i = 20;
    while i < header.len() {
        match header[i] {
            0 => return,
            1 => i += 1,
            kind => {
                let len = usize::from(header.get(i + 1).copied().unwrap_or(0));
                if len < 2 || i + len > header.len() {
                    return;
                }
                if kind & 0x80 == 0 {
                    header[i..i + len].fill(1);
                }
                i += len;
            }
        }
    }
}

/// Writes a piece's length, flags and offset into its header and fills the checksum.
fn set_piece_header(header: &mut [u8], tot_len: usize, frag_off: u16) {
    let mut p = Ipv4Packet::new_unchecked(header);
    p.set_total_len(tot_len as u16);
    p.set_frag_off(frag_off);
    p.fill_checksum();
}

/// The `frag_list` pieces' headers: the template, then each piece's length, offset and
/// MF, and the head's metadata. Linux ip_fraglist_prepare().
struct Pieces<'a> {
    header: &'a [u8],
    n: usize,
    /// The next piece's offset in bytes.
    offset: usize,
    sent: u64,
    /// The template's header sum without the total length, flags and offset, and
    /// checksum: each piece's checksum is this plus its two fields, so no piece's header
    /// is read back (a load of bytes just stored stalls).
    base: u32,
    flags: IpSkbFlags,
    mark: u32,
    priority: u32,
    sk: Option<SkOwner>,
}

impl Pieces<'_> {
    /// Piece `i` with its header pushed, or the reason it is dropped.
    #[inline(always)]
    fn prepare(&mut self, i: usize, mut frag: SkBuff) -> Result<SkBuff, (SkBuff, DropReason)> {
        let hlen = self.header.len();
        let len = frag.len();
        let mf = if i + 1 < self.n { IP_MF } else { 0 };
        // frag_list_fits() checked the headroom.
        let Ok(piece) = frag.push(hlen) else {
            return Err((frag, DropReason::PktTooBig));
        };
        match (
            <&mut [u8; 20]>::try_from(&mut *piece),
            <&[u8; 20]>::try_from(self.header),
        ) {
            (Ok(to), Ok(from)) => *to = *from,
            _ => piece.copy_from_slice(self.header),
        }
        let tot_len = (hlen + len) as u16;
        let frag_off = mf | (self.offset / 8) as u16;
        let check = csum_fold(csum_add(
            self.base,
            u32::from(tot_len) + u32::from(frag_off),
        ));
        piece[2..4].copy_from_slice(&tot_len.to_be_bytes());
        piece[6..8].copy_from_slice(&frag_off.to_be_bytes());
        piece[10..12].copy_from_slice(&check.to_be_bytes());
        let _ = frag.reset_network_header();
        frag.cb.flags = self.flags;
        frag.mark = self.mark;
        frag.priority = self.priority;
        frag.sk = self.sk;
        self.offset += len;
        self.sent += 1;
        Ok(frag)
    }
}

impl Stack {
    /// Linux ip_fragment(): a DF packet fails with FragFails and ICMP 3/4 carrying the
    /// MTU (sent to ourselves on local output, R23, which teaches us the path MTU) unless
    /// it may ignore DF, and a reassembled one may only be cut back to its own fragment
    /// size; the rest is ip_do_fragment().
    #[cold]
    #[inline(never)]
    pub(crate) fn ip_fragment(&mut self, skb: SkBuff, dst: &DstEntry) -> Result<(), OutputError> {
        stage!(self, "ip_fragment");
        let Some(h) = IpHdr::of(&skb) else {
            self.kfree_skb(skb, DropReason::IpInhdr);
            return Err(OutputError::NoBufs);
        };
        let mtu = dst.mtu;
        let max = u32::from(skb.cb.frag_max_size);
        if h.dont_frag() && (!skb.ignore_df || (max != 0 && max > mtu)) {
            self.icmp_send(&skb, dst.flags, IcmpErr::FragNeeded { mtu });
            self.kfree_skb(skb, DropReason::PktTooBig);
            return Err(OutputError::MsgSize);
        }
        self.ip_do_fragment(skb, &h, dst)
    }

    /// Linux ip_do_fragment() (R24): pieces of `(mtu - hlen) & !7` bytes, all with the
    /// datagram's ID, each through ip_finish_output2(). A `frag_list` whose geometry fits
    /// is sent as it is (the fast path); anything else is copied.
    fn ip_do_fragment(
        &mut self,
        mut skb: SkBuff,
        h: &IpHdr,
        dst: &DstEntry,
    ) -> Result<(), OutputError> {
        let mut mtu = dst.mtu as usize;
        let max = usize::from(skb.cb.frag_max_size);
        if max != 0 && max < mtu {
            mtu = max;
        }
        let hlen = h.ihl;
        // A partial checksum cannot be finished across fragments.
        if crate::offload::skb_checksum_help(&mut skb).is_err() {
            self.kfree_skb(skb, DropReason::SkbCsum);
            return Err(OutputError::NoBufs);
        }
        // Both paths slice the header off the front of the data.
        if skb.network_offset() != Some(0) || skb.headlen() < hlen {
            self.kfree_skb(skb, DropReason::IpInhdr);
            return Err(OutputError::NoBufs);
        }
        if mtu < hlen + 8 {
            self.kfree_skb(skb, DropReason::PktTooBig);
            return Err(OutputError::MsgSize);
        }
        let space = mtu - hlen;
        skb.cb.flags.insert(IpSkbFlags::FRAG_COMPLETE);
        let created = if self.frag_list_fits(&skb, h, hlen, space) {
            self.ip_fraglist_output(skb, hlen, dst)
        } else {
            self.ip_frag_slow(skb, h, hlen, space, dst)
        };
        match created {
            Some(n) => {
                self.mib.ip.frag_creates += n;
                self.mib.ip.frag_oks += 1;
                Ok(())
            }
            None => Err(OutputError::NoBufs),
        }
    }

    /// The fast path's conditions: the head holds the header and a first piece that fits
    /// and is 8-aligned, the datagram is not itself a fragment, every other piece fits,
    /// is 8-aligned unless last, is linear, and has room for a header in front.
    fn frag_list_fits(&self, skb: &SkBuff, h: &IpHdr, hlen: usize, space: usize) -> bool {
        if skb.frag_list.is_empty() || h.is_fragment() {
            return false;
        }
        let first = skb.headlen().saturating_sub(hlen);
        if first > space || !first.is_multiple_of(8) || skb.headroom() < LL_RESERVED {
            return false;
        }
        let n = skb.frag_list.len();
        skb.frag_list.iter().enumerate().all(|(i, f)| {
            f.len() <= space
                && (f.len().is_multiple_of(8) || i + 1 == n)
                && f.frag_list.is_empty()
                && f.headroom() >= hlen + LL_RESERVED
        })
    }

    /// Linux ip_fraglist_init/prepare/next: each `frag_list` piece gets a copy of the
    /// header in its headroom. As in Linux, the head keeps DF and later pieces carry only
    /// their offset and MF. Returns the pieces sent.
    fn ip_fraglist_output(&mut self, mut skb: SkBuff, hlen: usize, dst: &DstEntry) -> Option<u64> {
        let frags = skb.frag_list.take();
        let first = skb.headlen();
        let head = skb.data_mut();
        let frag_off = u16::from_be_bytes([head[6], head[7]]);
        // ihl is four bits of 32-bit words: at most 60 bytes.
        let mut header = [0u8; 60];
        let header = &mut header[..hlen];
        header.copy_from_slice(&head[..hlen]);
        set_piece_header(head, first, frag_off | IP_MF);
        ip_options_fragment(header);
        let (flags, mark, priority, sk) = (skb.cb.flags, skb.mark, skb.priority, skb.sk);
        let daddr = IpHdr::daddr_of(&skb);
        self.ip_finish_output2(skb, dst);
        // The route is the datagram's; the neighbour is resolved once for all its pieces
        // (the head's neigh_output() has just resolved or queued it).
        let hh = daddr.and_then(|d| self.neigh_hh_lookup(dst, d));
        let mut zeroed = [0u8; 60];
        let zeroed = &mut zeroed[..hlen];
        zeroed.copy_from_slice(header);
        for f in [2..4, 6..8, 10..12] {
            zeroed[f].fill(0);
        }
        let mut pieces = Pieces {
            header,
            base: csum_partial(zeroed, 0),
            n: frags.len(),
            offset: first - hlen,
            sent: 1,
            flags,
            mark,
            priority,
            sk,
        };
        let Some((src, ha)) = hh else {
            for (i, frag) in frags.into_iter().enumerate() {
                match pieces.prepare(i, frag) {
                    Ok(frag) => self.ip_finish_output2(frag, dst),
                    Err((frag, why)) => self.kfree_skb(frag, why),
                }
            }
            return Some(pieces.sent);
        };
        // ip_finish_output2() → neigh_hh_output() with the resolved header, onto the
        // device as one run; frag_list_fits() left room for the link header.
        let (mut pkts, mut octets) = (0u64, 0u64);
        let run = frags.into_iter().enumerate().map(|(i, frag)| {
            let mut frag = pieces.prepare(i, frag)?;
            pkts += 1;
            octets += frag.len() as u64;
            if crate::neigh::eth_header_push(&mut frag, src, ha) {
                Ok(frag)
            } else {
                Err((frag, DropReason::NeighCreatefail))
            }
        });
        self.dev_queue_xmit_run(dst.dev, run);
        self.ip_finish_output2_mib(pkts, octets, dst);
        Some(pieces.sent)
    }

    /// Linux ip_frag_init/ip_frag_next: copies the data (skb_copy_bits(), across any
    /// `frag_list`) into new pieces. A datagram that was itself a non-last fragment keeps
    /// MF on its last piece, and offsets continue from its own. Returns the pieces sent.
    fn ip_frag_slow(
        &mut self,
        mut skb: SkBuff,
        h: &IpHdr,
        hlen: usize,
        space: usize,
        dst: &DstEntry,
    ) -> Option<u64> {
        let df = if skb.cb.flags.contains(IpSkbFlags::FRAG_PMTU) {
            IP_DF
        } else {
            0
        };
        let not_last = if h.more_frags() { IP_MF } else { 0 };
        let base = h.frag_offset() as usize;
        let total = skb.len();
        let mut left = total - hlen;
        let mut pos = hlen;
        let mut created = 0;
        while left > 0 {
            let mut len = left.min(space);
            if len < left {
                len &= !7;
            }
            let Ok(mut piece) = self.pool.alloc(LL_RESERVED, hlen + len) else {
                self.kfree_skb(skb, DropReason::PktTooBig);
                return None;
            };
            let copied = piece.put(hlen + len).is_ok_and(|buf| {
                buf[..hlen].copy_from_slice(&skb.data()[..hlen]);
                skb.copy_bits(pos, &mut buf[hlen..]).is_ok()
            });
            if !copied {
                self.pool.recycle(piece);
                self.kfree_skb(skb, DropReason::PktTooBig);
                return None;
            }
            left -= len;
            let mf = if left > 0 { IP_MF } else { not_last };
            let offset = ((base + pos - hlen) / 8) as u16;
            set_piece_header(piece.data_mut(), hlen + len, df | mf | offset);
            let _ = piece.reset_network_header();
            piece.cb.flags = skb.cb.flags;
            piece.mark = skb.mark;
            piece.priority = skb.priority;
            piece.sk = skb.sk;
            pos += len;
            if created == 0 {
                // Later pieces copy a header whose uncopied options are gone.
                if let Some(hdr) = skb.network_header_bytes_mut() {
                    ip_options_fragment(&mut hdr[..hlen]);
                }
            }
            created += 1;
            self.ip_finish_output2(piece, dst);
        }
        self.consume_skb(skb);
        Some(created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StackConfig;
    use skiff_wire::Ipv4Addr;
    use skiff_wire::ethernet::EthernetAddress;
    use skiff_wire::ipv4::{IpProtocol, Ipv4Repr};

    #[test]
    fn a_well_shaped_frag_list_is_sent_without_copies() {
        let mut s = Stack::new(StackConfig::default());
        let eth0 = s
            .add_device("eth0", EthernetAddress([2, 0, 0, 0, 0, 1]), 1500)
            .unwrap();
        s.set_up(eth0, true).unwrap();
        s.add_addr(eth0, Ipv4Addr::new(10, 0, 0, 1), 24).unwrap();
        let peer = Ipv4Addr::new(10, 0, 0, 2);
        s.add_neigh_static(eth0, peer, EthernetAddress([2, 0, 0, 0, 0, 2]));
        while let Some((_, skb)) = s.poll_transmit() {
            s.recycle(skb);
        }
        let dst = s
            .route_output_simple(peer, Ipv4Addr::UNSPECIFIED, 0)
            .unwrap();
        let sizes = [1480, 1480, 100];
        let ip = Ipv4Repr {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: peer,
            protocol: IpProtocol::from(17),
            ttl: 64,
            tos: 0,
            ident: 99,
            dont_frag: false,
            more_frags: false,
            frag_offset: 0,
            options: &[],
            payload_len: sizes.iter().sum(),
        };
        let mut skb = s.alloc_skb(20 + sizes[0]).unwrap();
        ip.emit(skb.put(20).unwrap()).unwrap();
        skb.put_slice(&[0; 1480]).unwrap();
        skb.reset_network_header().unwrap();
        for (i, &n) in sizes[1..].iter().enumerate() {
            let mut frag = s.pool.alloc(LL_RESERVED + 20, n).unwrap();
            frag.put_slice(&vec![i as u8 + 1; n]).unwrap();
            skb.frag_list.push(frag);
        }
        let before = s.pool().stats();
        s.ip_fragment(skb, &dst).unwrap();
        assert_eq!(s.pool().stats(), before, "no buffer taken");
        let mut offsets = Vec::new();
        while let Some((_, f)) = s.poll_transmit() {
            let p = Ipv4Packet::new_checked(&f.data()[14..]).unwrap();
            assert!(p.verify_checksum());
            assert_eq!(p.ident(), 99);
            offsets.push((p.frag_offset(), p.more_frags(), p.payload().len()));
            s.recycle(f);
        }
        assert_eq!(
            offsets,
            vec![(0, true, 1480), (1480, true, 1480), (2960, false, 100)]
        );
        assert_eq!((s.mib.ip.frag_oks, s.mib.ip.frag_creates), (1, 3));
    }
}
