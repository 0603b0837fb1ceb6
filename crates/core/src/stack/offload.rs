//! Where the stack meets the offloads: device features (`ethtool -K`),
//! validate_xmit_skb() on transmit, GRO over a device poll, and frames that arrive with
//! a virtio-net header. Linux net/core/dev.c and drivers/net/tun.c.

use super::{ConfigError, Stack, stage};
use crate::drop::DropReason;
use crate::netdev::{ETH_HLEN, NetdevFeatures};
use crate::offload::{
    ETH_P_IP, GroCtx, GroIp, GroList, GsoCtx, can_checksum, net_gso_ok, skb_checksum_help,
    skb_gso_segment, virtio,
};
use crate::route::DstEntry;
use crate::skb::{ChecksumState, SkBuff};
use crate::time::Instant;
use skiff_wire::virtio::VirtioNetHdrRepr;

impl Stack {
    /// `ethtool -K DEV ...`: the device's offload features. A shell that reads frames
    /// from [`Stack::poll_transmit`] for a device with checksum offload must finish
    /// `CHECKSUM_PARTIAL` frames, and with TSO/USO cut GSO ones
    /// ([`Stack::dev_hard_xmit_sw`] does both).
    pub fn set_features(
        &mut self,
        ifindex: u32,
        features: NetdevFeatures,
    ) -> Result<(), ConfigError> {
        self.dev_mut(ifindex).ok_or(ConfigError::NoDevice)?.features = features;
        Ok(())
    }

    /// Linux validate_xmit_skb(): segment what the device cannot take whole, finish the
    /// checksums it cannot, then queue each packet. `data` is at the link header.
    #[cold]
    #[inline(never)]
    pub(crate) fn validate_xmit_skb(
        &mut self,
        ifindex: u32,
        skb: SkBuff,
        dst: Option<DstEntry>,
        features: NetdevFeatures,
    ) {
        stage!(self, "validate_xmit_skb");
        match self.xmit_sw(skb, features) {
            Ok(segs) => {
                for seg in segs {
                    self.dev_queue_xmit_dst(ifindex, seg, dst);
                }
            }
            Err(reason) => {
                if let Some(dev) = self.dev_mut(ifindex) {
                    dev.stats.tx_dropped += 1;
                }
                self.count_drop(reason);
            }
        }
    }

    /// Segments and checksums `skb` (`data` at its link header, if any) in software for
    /// a device with `features`.
    fn xmit_sw(
        &mut self,
        mut skb: SkBuff,
        features: NetdevFeatures,
    ) -> Result<Vec<SkBuff>, DropReason> {
        if skb.gso.is_some_and(|g| !net_gso_ok(features, g.gso_type)) {
            let mac_len = skb
                .network_offset()
                .filter(|&o| o >= 0 && o as usize <= ETH_HLEN)
                .unwrap_or(0) as usize;
            let mut mac = [0u8; ETH_HLEN];
            mac[..mac_len].copy_from_slice(&skb.data()[..mac_len]);
            if skb.pull(mac_len).is_err() {
                self.pool.recycle(skb);
                return Err(DropReason::SkbGsoSeg);
            }
            let mut ctx = GsoCtx {
                offloads: &self.offloads,
                pool: &mut self.pool,
                features,
            };
            let mut segs =
                skb_gso_segment(&mut ctx, skb, ETH_P_IP).map_err(|_| DropReason::SkbGsoSeg)?;
            let mut ok = true;
            for seg in segs.iter_mut() {
                ok &= seg
                    .push(mac_len)
                    .map(|h| h.copy_from_slice(&mac[..mac_len]))
                    .is_ok()
                    && seg.reset_mac_header().is_ok();
            }
            if !ok {
                for s in segs {
                    self.pool.recycle(s);
                }
                return Err(DropReason::SkbGsoSeg);
            }
            return Ok(segs);
        }
        if matches!(skb.ip_summed, ChecksumState::Partial { .. })
            && !can_checksum(features)
            && skb_checksum_help(&mut skb).is_err()
        {
            self.pool.recycle(skb);
            return Err(DropReason::SkbCsum);
        }
        Ok(vec![skb])
    }

    /// What a device without offloads puts on the wire for a frame from
    /// [`Stack::poll_transmit`]: GSO frames cut into segments and partial checksums
    /// finished. A shell whose device advertised TSO/USO or checksum offload but cannot
    /// do the work (a pcap writer, an in-process link) calls this. A frame whose
    /// metadata cannot be honoured is dropped and counted (`SKB_GSO_SEG`/`SKB_CSUM`).
    pub fn dev_hard_xmit_sw(&mut self, skb: SkBuff) -> Vec<SkBuff> {
        match self.skb_finish_sw(skb) {
            Ok(segs) => segs,
            Err(reason) => {
                self.count_drop(reason);
                Vec::new()
            }
        }
    }

    /// [`Stack::dev_hard_xmit_sw`] without counting: for a capture of frames the stack
    /// did not drop (a pcap writer records what a device without offloads would carry).
    /// On error the buffer has gone back to the pool.
    pub fn skb_finish_sw(&mut self, skb: SkBuff) -> Result<Vec<SkBuff>, DropReason> {
        self.xmit_sw(skb, NetdevFeatures::default())
    }

    /// A frame the shell could not take in (a virtio-net header that does not parse, a
    /// read error): dropped and counted in the device's `rx_dropped`. Linux tun_get_user().
    pub fn netif_rx_dropped(&mut self, ifindex: u32, reason: DropReason) {
        if let Some(dev) = self.dev_mut(ifindex) {
            dev.stats.rx_dropped += 1;
        }
        self.count_drop(reason);
    }

    /// A frame the device refused (its queue full, ENOBUFS, the link down): dropped and
    /// counted in the device's `tx_dropped`. Linux tun_net_xmit() (`FULL_RING`).
    pub fn dev_tx_dropped(&mut self, ifindex: u32, skb: SkBuff) {
        if let Some(dev) = self.dev_mut(ifindex) {
            dev.stats.tx_dropped += 1;
        }
        self.kfree_skb(skb, DropReason::FullRing);
    }

    /// Frames from a device with a virtio-net header (TAP with IFF_VNET_HDR), as one
    /// poll's batch. Each header is checked and mapped onto its frame
    /// (virtio_net_hdr_to_skb()); a bad one drops its frame (`DEV_HDR`, device
    /// `rx_dropped`). Linux tun_get_user().
    pub fn netif_receive_vnet(
        &mut self,
        now: Instant,
        ifindex: u32,
        frames: Vec<(VirtioNetHdrRepr, SkBuff)>,
    ) {
        let mut skbs = Vec::with_capacity(frames.len());
        let mac_len = self.dev(ifindex).map_or(ETH_HLEN, |d| d.hard_header_len());
        for (hdr, mut skb) in frames {
            match virtio::virtio_net_hdr_to_skb(&mut skb, &hdr, mac_len) {
                Ok(()) => skbs.push(skb),
                Err(_) => {
                    if let Some(dev) = self.dev_mut(ifindex) {
                        dev.stats.rx_dropped += 1;
                    }
                    self.kfree_skb(skb, DropReason::DevHdr);
                }
            }
        }
        self.netif_receive_list(now, ifindex, skbs);
    }

    /// GRO over one poll's IPv4 packets (`data` at the IP header), when the device has
    /// it: merged flows are completed at the end of the batch. Linux napi_gro_receive()
    /// for each, then napi_gro_flush().
    pub(crate) fn napi_gro_receive_list(&mut self, ifindex: u32, skbs: Vec<SkBuff>) -> Vec<SkBuff> {
        let features = self
            .dev(ifindex)
            .map_or(NetdevFeatures::default(), |d| d.features);
        if !features.contains(NetdevFeatures::GRO) || skbs.len() < 2 {
            return skbs;
        }
        stage!(self, "napi_gro_receive");
        let this = &*self;
        let udp_sk = |ip: &GroIp, sport: u16, dport: u16| {
            this.udp4_lib_lookup(ip.saddr, sport, ip.daddr, dport, ifindex, false)
                .and_then(|slot| this.socks.slots[slot as usize].as_ref())
                .map(|s| s.gro)
        };
        let mut ctx = GroCtx {
            features,
            udp_sk: &udp_sk,
        };
        let mut gro = GroList::default();
        let mut out = Vec::with_capacity(skbs.len());
        for skb in skbs {
            gro.receive(&this.offloads, &mut ctx, skb, &mut out);
        }
        gro.flush(&this.offloads, &mut out);
        out
    }
}
