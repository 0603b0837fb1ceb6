//! The loop every shell runs (Linux: the driver side of dev_hard_start_xmit() and napi_gro_receive() batches).

use crate::offload::virtio::virtio_net_hdr_from_skb;
use crate::skb::SkBuff;
use crate::stack::Stack;
use crate::time::Instant;
use skiff_wire::virtio::VirtioNetHdrRepr;

/// A frame the stack transmitted, ready for the driver of the shell's device `D`.
#[derive(Debug)]
pub enum TxFrame<D> {
    /// Behind a virtio-net header carrying its checksum and GSO metadata
    /// (virtio_net_hdr_from_skb()): the skb as the stack queued it, for one write.
    Vnet(D, VirtioNetHdrRepr, SkBuff),
    /// Finished in software (`Stack::dev_hard_xmit_sw`: checksums filled in, GSO frames
    /// cut): the device has no virtio-net header, or the skb carries metadata one cannot.
    /// Empty when finishing failed (the stack counted the drop).
    Sw(D, Vec<SkBuff>),
    /// For an interface the shell has no device on: the skb as queued, with its ifindex.
    NoDev(u32, SkBuff),
}

/// The next frame the stack transmits, made ready for its device. `dev(ifindex)` names the
/// shell's device on that interface and whether it takes a virtio-net header; `None` when
/// there is none. Linux dev_hard_start_xmit() up to ndo_start_xmit().
pub fn poll_tx<D>(
    stack: &mut Stack,
    dev: impl FnOnce(u32) -> Option<(D, bool)>,
) -> Option<TxFrame<D>> {
    let (ifindex, skb) = stack.poll_transmit()?;
    let Some((d, vnet_hdr)) = dev(ifindex) else {
        return Some(TxFrame::NoDev(ifindex, skb));
    };
    if vnet_hdr && let Ok(hdr) = virtio_net_hdr_from_skb(&skb, false) {
        return Some(TxFrame::Vnet(d, hdr, skb));
    }
    // No header, or metadata a header cannot carry: finished frames.
    Some(TxFrame::Sw(d, stack.dev_hard_xmit_sw(skb)))
}

/// [`poll_tx`] for a shell whose every interface has a device without a virtio-net header:
/// the interface and the frame's software-finished segments.
pub fn poll_tx_sw(stack: &mut Stack) -> Option<(u32, Vec<SkBuff>)> {
    match poll_tx(stack, |ifindex| Some((ifindex, false)))? {
        TxFrame::Sw(ifindex, segs) => Some((ifindex, segs)),
        // Never taken (no header was asked for, every interface has a device); finished
        // in software all the same.
        TxFrame::Vnet(ifindex, _, skb) | TxFrame::NoDev(ifindex, skb) => {
            Some((ifindex, stack.dev_hard_xmit_sw(skb)))
        }
    }
}

/// Why [`RxBatch::push`] could not take a frame. The frame is lost: the daemon counts it
/// in the device's `rx_dropped`; NetStack and pcap replay do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxDrop {
    /// The stack's pool gave no buffer.
    NoBuffer,
    /// The buffer could not hold the frame (it went back to the pool).
    TooLong,
}

/// One device poll's frames on their way into the stack: those that came with a
/// virtio-net header and plain ones, each kind handed over as one list so GRO can merge.
#[derive(Debug, Default)]
pub struct RxBatch {
    vnet: Vec<(VirtioNetHdrRepr, SkBuff)>,
    plain: Vec<SkBuff>,
}

impl RxBatch {
    /// Copies `frame` into a buffer from the stack's pool and adds it, with `hdr` when it
    /// came behind a virtio-net header. Linux tun_get_user()'s copy.
    pub fn push(
        &mut self,
        stack: &mut Stack,
        hdr: Option<VirtioNetHdrRepr>,
        frame: &[u8],
    ) -> Result<(), RxDrop> {
        let Some(mut skb) = stack.alloc_skb(frame.len()) else {
            return Err(RxDrop::NoBuffer);
        };
        if skb.put_slice(frame).is_err() {
            stack.recycle(skb);
            return Err(RxDrop::TooLong);
        }
        match hdr {
            Some(h) => self.vnet.push((h, skb)),
            None => self.plain.push(skb),
        }
        Ok(())
    }

    /// Adds a frame a device put straight into a buffer from the stack's pool (no copy),
    /// with `hdr` when it came behind a virtio-net header. Linux napi_build_skb().
    pub fn push_skb(&mut self, hdr: Option<VirtioNetHdrRepr>, skb: SkBuff) {
        match hdr {
            Some(h) => self.vnet.push((h, skb)),
            None => self.plain.push(skb),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.vnet.is_empty() && self.plain.is_empty()
    }

    /// Hands the batch to the stack as frames of `ifindex` (`Stack::netif_receive_vnet`
    /// for those with a header, then `Stack::netif_receive_list`), leaving it empty.
    /// Returns whether it held any.
    pub fn netif_receive(&mut self, stack: &mut Stack, now: Instant, ifindex: u32) -> bool {
        let any = !self.is_empty();
        if !self.vnet.is_empty() {
            stack.netif_receive_vnet(now, ifindex, core::mem::take(&mut self.vnet));
        }
        if !self.plain.is_empty() {
            stack.netif_receive_list(now, ifindex, core::mem::take(&mut self.plain));
        }
        any
    }
}
