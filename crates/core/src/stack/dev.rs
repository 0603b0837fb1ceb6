//! The device layer: Linux net/core/dev.c's receive side (netif_receive_skb[_list],
//! deliver_skb, the loopback backlog) and transmit side (dev_queue_xmit).

use super::{LOOPBACK_IFINDEX, Stack, stage};
use crate::drop::DropReason;
use crate::route::DstEntry;
use crate::skb::SkBuff;

/// Linux `netdev_max_backlog`: looped-back packets waiting to be received.
pub(super) const NETDEV_MAX_BACKLOG: usize = 1000;

impl Stack {
    /// Linux dev_queue_xmit(): onto the device's bounded queue, or back into the stack for
    /// loopback (loopback_xmit → netif_rx, run after the current packet).
    #[inline]
    pub(crate) fn dev_queue_xmit(&mut self, ifindex: u32, skb: SkBuff) {
        self.dev_queue_xmit_dst(ifindex, skb, None);
    }

    #[inline]
    pub(crate) fn dev_queue_xmit_dst(&mut self, ifindex: u32, skb: SkBuff, dst: Option<DstEntry>) {
        self.dev_queue_xmit_inline(ifindex, skb, dst);
    }

    /// [`Self::dev_queue_xmit_dst`] inlined into the one caller that sends most frames:
    /// neigh_output() to a connected neighbour.
    #[inline(always)]
    pub(crate) fn dev_queue_xmit_inline(
        &mut self,
        ifindex: u32,
        mut skb: SkBuff,
        dst: Option<DstEntry>,
    ) {
        if self.observing {
            self.trace_dev_queue_xmit(ifindex);
        }
        let Some(dev) = self.dev_mut(ifindex) else {
            return self.kfree_skb(skb, DropReason::DevReady);
        };
        if !dev.up {
            return self.kfree_skb(skb, DropReason::DevReady);
        }
        if crate::offload::needs_validate(&skb, dev.features) {
            let features = dev.features;
            return self.validate_xmit_skb(ifindex, skb, dst, features);
        }
        if dev.kind == crate::netdev::DevKind::Ipip {
            return self.ipip_tunnel_xmit(ifindex, skb);
        }
        if dev.tx_queue.len() >= dev.tx_queue_len {
            dev.stats.tx_dropped += 1;
            return self.kfree_skb(skb, DropReason::QdiscDrop);
        }
        dev.stats.tx_packets += 1;
        dev.stats.tx_bytes += skb.len() as u64;
        if !dev.is_loopback() {
            let owner = skb.sk;
            let len = skb.len();
            dev.tx_queue.push_back(skb);
            if let Some(o) = owner {
                self.sock_wmem(o, len, true);
            }
            return;
        }
        // loopback_xmit(): skb_orphan().
        skb.sk = None;
        // loopback_xmit() → netif_rx(): eth_type_trans on lo sees its own address.
        let Some(dst) = dst else {
            return self.kfree_skb(skb, DropReason::DevReady);
        };
        skb.pkt_type = crate::skb::PacketType::Host;
        skb.iif = ifindex;
        if self.backlog.len() >= NETDEV_MAX_BACKLOG {
            return self.kfree_skb(skb, DropReason::CpuBacklog);
        }
        self.trace_stage("loopback_xmit");
        self.backlog.push_back((skb, dst));
    }

    /// dev_queue_xmit() of a run of packets to one device, in order (ip_do_fragment()'s
    /// pieces): an up Ethernet or raw device that needs nothing validated takes each onto
    /// its queue directly; anything else goes through dev_queue_xmit(). An `Err` item is
    /// dropped with its reason.
    pub(crate) fn dev_queue_xmit_run(
        &mut self,
        ifindex: u32,
        run: impl Iterator<Item = Result<SkBuff, (SkBuff, DropReason)>>,
    ) {
        let idx = usize::try_from(ifindex)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .unwrap_or(usize::MAX);
        let plain = !self.observing
            && self.devs.get(idx).is_some_and(|d| {
                d.up && d.kind != crate::netdev::DevKind::Ipip && !d.is_loopback()
            });
        for item in run {
            let skb = match item {
                Ok(skb) => skb,
                Err((skb, why)) => {
                    self.kfree_skb(skb, why);
                    continue;
                }
            };
            match self.devs.get_mut(idx) {
                Some(dev)
                    if plain
                        && dev.tx_queue.len() < dev.tx_queue_len
                        && !crate::offload::needs_validate(&skb, dev.features) =>
                {
                    let (owner, len) = (skb.sk, skb.len());
                    dev.stats.tx_packets += 1;
                    dev.stats.tx_bytes += len as u64;
                    dev.tx_queue.push_back(skb);
                    if let Some(o) = owner {
                        self.sock_wmem(o, len, true);
                    }
                }
                _ => self.dev_queue_xmit(ifindex, skb),
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn trace_dev_queue_xmit(&mut self, ifindex: u32) {
        if self.trace.is_some() {
            let name = self.dev_name(ifindex).to_string();
            self.trace_note_str(&format_args!("dev_queue_xmit({name})"));
        }
        self.enter_span(tracing::trace_span!("dev_queue_xmit"));
    }

    /// Linux dev_loopback_xmit(): a copy of an outgoing multicast or broadcast packet is
    /// received on its own device, keeping its route.
    pub(crate) fn dev_loopback_xmit(&mut self, mut skb: SkBuff, dst: &DstEntry) {
        stage!(self, "dev_loopback_xmit");
        skb.pkt_type = crate::skb::PacketType::Loopback;
        skb.iif = dst.dev;
        skb.sk = None;
        if skb.ip_summed == crate::skb::ChecksumState::None {
            skb.ip_summed = crate::skb::ChecksumState::Unnecessary;
        }
        if self.backlog.len() >= NETDEV_MAX_BACKLOG {
            return self.kfree_skb(skb, DropReason::CpuBacklog);
        }
        self.backlog.push_back((skb, *dst));
    }

    /// Linux process_backlog(): runs looped-back packets through ip_rcv.
    #[inline]
    pub(crate) fn process_backlog(&mut self) {
        if !self.backlog.is_empty() {
            self.process_backlog_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn process_backlog_slow(&mut self) {
        // Bounded: each looped packet is handled once; replies to it queue behind.
        let mut budget = NETDEV_MAX_BACKLOG * 4;
        while let Some((skb, dst)) = self.backlog.pop_front() {
            if budget == 0 {
                self.kfree_skb(skb, DropReason::CpuBacklog);
                continue;
            }
            budget -= 1;
            self.trace_begin(skb.iif, "rx");
            if skb.iif == LOOPBACK_IFINDEX
                && let Some(dev) = self.dev_mut(LOOPBACK_IFINDEX)
            {
                dev.stats.rx_packets += 1;
                dev.stats.rx_bytes += skb.len() as u64;
            }
            self.ip_rcv(skb, Some(&dst));
            self.trace_end();
        }
    }

    #[inline(always)]
    pub(super) fn netif_receive_skb(&mut self, ifindex: u32, mut skb: SkBuff) {
        stage!(self, "netif_receive_skb");
        let Some(dev) = self.dev_mut(ifindex) else {
            return self.kfree_skb(skb, DropReason::DevReady);
        };
        if !dev.up {
            return self.kfree_skb(skb, DropReason::DevReady);
        }
        dev.stats.rx_packets += 1;
        dev.stats.rx_bytes += skb.len() as u64;
        skb.iif = ifindex;
        let ethertype = match dev.eth_type_trans(&mut skb) {
            Ok(t) => t,
            Err(_) => {
                dev.stats.rx_dropped += 1;
                return self.kfree_skb(skb, DropReason::UnhandledProto);
            }
        };
        self.deliver_skb(ifindex, ethertype, skb);
    }

    /// Hands a frame to the packet type registered for its ethertype.
    #[inline(always)]
    fn deliver_skb(&mut self, ifindex: u32, ethertype: u16, skb: SkBuff) {
        use crate::netdev::PacketHandler;
        match self.ptypes.find(ethertype) {
            Some(PacketHandler::Ipv4) => self.ip_rcv(skb, None),
            Some(PacketHandler::Arp) => self.arp_rcv(ifindex, skb),
            Some(PacketHandler::User(f)) => f(ifindex, skb),
            None => {
                if let Some(dev) = self.dev_mut(ifindex) {
                    dev.stats.rx_nohandler += 1;
                }
                self.kfree_skb(skb, DropReason::UnhandledProto)
            }
        }
    }

    pub(super) fn netif_receive_skb_list(&mut self, ifindex: u32, skbs: Vec<SkBuff>) {
        let mut ip = Vec::with_capacity(skbs.len());
        for mut skb in skbs {
            let Some(dev) = self.dev_mut(ifindex) else {
                self.kfree_skb(skb, DropReason::DevReady);
                continue;
            };
            if !dev.up {
                self.kfree_skb(skb, DropReason::DevReady);
                continue;
            }
            dev.stats.rx_packets += 1;
            dev.stats.rx_bytes += skb.len() as u64;
            skb.iif = ifindex;
            match dev.eth_type_trans(&mut skb) {
                Ok(0x0800) => ip.push(skb),
                Ok(t) => self.deliver_skb(ifindex, t, skb),
                Err(_) => {
                    dev.stats.rx_dropped += 1;
                    self.kfree_skb(skb, DropReason::UnhandledProto);
                }
            }
        }
        let ip = self.napi_gro_receive_list(ifindex, ip);
        self.ip_list_rcv(ip);
    }

    /// Registers a handler for an ethertype (Linux dev_add_pack()).
    pub fn dev_add_pack(&mut self, ethertype: u16, handler: Box<dyn FnMut(u32, SkBuff) + Send>) {
        self.ptypes
            .dev_add_pack(ethertype, crate::netdev::PacketHandler::User(handler));
    }
}
