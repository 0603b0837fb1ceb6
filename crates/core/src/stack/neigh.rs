//! The neighbour glue: Linux arp.c's arp_rcv() and neighbour.c's neigh_output(), joining
//! the neighbour engine (crate::neigh) to devices, routes and ICMP.

use super::{LOOPBACK_IFINDEX, Stack, stage};
use crate::drop::DropReason;
use crate::ipv4::icmp::IcmpErr;
use crate::neigh::{NeighAction, NeighDev, NeighDropReason, NextHopKind};
use crate::netdev::DevKind;
use crate::route::{DstEntry, RouteType};
use crate::skb::SkBuff;
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::EthernetAddress;
use skiff_wire::icmpv4::DstUnreachable;

impl Stack {
    /// `ip neigh replace ADDR lladdr MAC dev DEV nud permanent`.
    pub fn add_neigh_static(&mut self, ifindex: u32, addr: Ipv4Addr, mac: EthernetAddress) {
        let mut actions = core::mem::take(&mut self.neigh_actions);
        self.neigh
            .add_static(self.now, ifindex, addr, mac, &mut actions);
        self.run_neigh_actions(&mut actions);
        self.neigh_actions = actions;
    }

    /// What the neighbour layer needs of a device; `towards` picks the source address
    /// of its ARP requests (inet_select_addr with link scope).
    fn neigh_dev(&self, ifindex: u32, towards: Ipv4Addr) -> Option<NeighDev> {
        let dev = self.dev(ifindex)?;
        let addr = self
            .fib
            .inet_select_addr(ifindex, towards, crate::route::RouteScope::LINK)
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        Some(NeighDev {
            ifindex,
            mac: dev.mac,
            addr,
        })
    }

    pub(super) fn arp_rcv(&mut self, ifindex: u32, skb: SkBuff) {
        stage!(self, "arp_rcv");
        let Some(ndev) = self.neigh_dev(ifindex, Ipv4Addr::UNSPECIFIED) else {
            return self.kfree_skb(skb, DropReason::DevReady);
        };
        let mut actions = core::mem::take(&mut self.neigh_actions);
        let fib = &self.fib;
        let res = self.neigh.arp_rcv(
            self.now,
            &ndev,
            skb,
            |a| fib.inet_addr_type(a) == RouteType::Local,
            &mut actions,
        );
        if let Err(why) = res {
            self.trace_note_str(&format_args!("arp drop {why:?}"));
            self.count_drop(DropReason::ArpInvalid);
        }
        self.run_neigh_actions(&mut actions);
        self.neigh_actions = actions;
    }

    /// Neighbour output (Linux neigh_output / neigh_resolve_output) of an IP packet whose
    /// `data` is at the IP header.
    #[inline]
    pub(crate) fn neigh_output(&mut self, dst: &DstEntry, daddr: Ipv4Addr, skb: SkBuff) {
        stage!(self, "neigh_output");
        let nexthop = dst.gateway.unwrap_or(daddr);
        if dst.dev == LOOPBACK_IFINDEX {
            return self.dev_queue_xmit_dst(dst.dev, skb, Some(*dst));
        }
        // neigh_output(): a connected neighbour needs only its header (neigh_hh_output).
        if let Some(ha) = self.neigh.connected_ha_cached(dst.dev, nexthop)
            && let Some(dev) = self.dev(dst.dev)
        {
            let mut skb = skb;
            return if crate::neigh::eth_header_push(&mut skb, dev.mac, ha) {
                self.dev_queue_xmit_inline(dst.dev, skb, None)
            } else {
                self.kfree_skb(skb, DropReason::NeighCreatefail)
            };
        }
        self.neigh_output_slow(dst, nexthop, skb);
    }

    /// The link header of a connected next hop, looked up once for many packets on one
    /// route (ip_do_fragment()'s pieces): `(source, destination)` addresses for
    /// eth_header_push(), or None when each packet must take neigh_output(). Nothing
    /// between the packets can change the neighbour, since queueing a frame runs no
    /// neighbour code.
    #[inline]
    pub(crate) fn neigh_hh_lookup(
        &mut self,
        dst: &DstEntry,
        daddr: Ipv4Addr,
    ) -> Option<(EthernetAddress, EthernetAddress)> {
        if dst.dev == LOOPBACK_IFINDEX || self.observing {
            return None;
        }
        let ha = self
            .neigh
            .connected_ha_cached(dst.dev, dst.gateway.unwrap_or(daddr))?;
        Some((self.dev(dst.dev)?.mac, ha))
    }

    /// __neigh_event_send(): the neighbour is not connected (or is a broadcast or
    /// multicast next hop), so the neighbour layer resolves, queues or maps it.
    #[cold]
    #[inline(never)]
    fn neigh_output_slow(&mut self, dst: &DstEntry, nexthop: Ipv4Addr, skb: SkBuff) {
        if self
            .dev(dst.dev)
            .is_some_and(|d| matches!(d.kind, DevKind::RawIp | DevKind::Ipip))
        {
            // No neighbours on a TUN or IPIP device (IFF_NOARP, no header_ops): straight
            // out.
            return self.dev_queue_xmit(dst.dev, skb);
        }
        let Some(ndev) = self.neigh_dev(dst.dev, nexthop) else {
            return self.kfree_skb(skb, DropReason::DevReady);
        };
        let kind = if dst.rt_type == RouteType::Broadcast || nexthop == Ipv4Addr::BROADCAST {
            NextHopKind::Broadcast
        } else if nexthop.is_multicast() {
            NextHopKind::Multicast
        } else {
            NextHopKind::Unicast
        };
        let mut actions = core::mem::take(&mut self.neigh_actions);
        let fib = &self.fib;
        self.neigh.output(
            self.now,
            &ndev,
            nexthop,
            kind,
            skb,
            |a| fib.inet_addr_type(a) == RouteType::Local,
            &mut actions,
        );
        self.run_neigh_actions(&mut actions);
        self.neigh_actions = actions;
    }

    pub(super) fn run_neigh_actions(&mut self, actions: &mut Vec<NeighAction>) {
        for action in actions.drain(..) {
            match action {
                NeighAction::Xmit { ifindex, skb } => self.dev_queue_xmit(ifindex, skb),
                NeighAction::Unreachable { ifindex: _, skb } => {
                    // Linux arp_error_report → icmp_send(ICMP_HOST_UNREACH) → drop.
                    self.icmp_send(
                        &skb,
                        crate::route::RtFlags::default(),
                        IcmpErr::DstUnreachable(DstUnreachable::HostUnreachable),
                    );
                    self.kfree_skb(skb, DropReason::NeighFailed);
                }
                NeighAction::QueueOverflow { skb } => {
                    self.kfree_skb(skb, DropReason::NeighQueuefull)
                }
                NeighAction::TableFull { skb } => self.kfree_skb(skb, DropReason::NeighCreatefail),
                NeighAction::Drop { skb, reason } => {
                    let reason = match reason {
                        NeighDropReason::Failed => DropReason::NeighFailed,
                        NeighDropReason::Dead => DropReason::NeighDead,
                        NeighDropReason::NoHeadroom => DropReason::NeighCreatefail,
                    };
                    self.kfree_skb(skb, reason)
                }
            }
        }
    }
}
