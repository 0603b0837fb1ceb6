//! Forwarding. Linux net/ipv4/ip_forward.c, R23.

use crate::drop::DropReason;
use crate::ipv4::hdr::IpHdr;
use crate::ipv4::icmp::IcmpErr;
use crate::netfilter::NfInetHook;
use crate::route::{DstEntry, RtFlags};
use crate::skb::{PacketType, SkBuff};
use crate::stack::{Stack, stage};
use skiff_wire::Ipv4Addr;
use skiff_wire::checksum::csum_replace2;
use skiff_wire::icmpv4::{DstUnreachable, Redirect, TimeExceeded};
use skiff_wire::ipv4::Ipv4Packet;

impl Stack {
    /// Linux ip_forward(): the router alert chain, TTL, strict source route, MTU, TTL
    /// decrement, FORWARD hook. `h` is the packet's header, as routed.
    pub(crate) fn ip_forward(&mut self, mut skb: SkBuff, h: &IpHdr, dst: &DstEntry) {
        let mut h = *h;
        stage!(self, "ip_forward");
        // Whatever socket early demux named, a forwarded packet is not its (Linux drops a
        // forwarded skb with skb->sk; skiff forwards it, as without early demux).
        skb.demux_sk = None;
        if skb.pkt_type != PacketType::Host {
            return self.kfree_skb(skb, DropReason::OtherHost);
        }
        if skb.cb.opt.layout.router_alert != 0 && !self.socks.ra_chain.is_empty() {
            skb = match self.ip_call_ra_chain(skb, dst) {
                Ok(()) => return,
                Err(skb) => skb,
            };
            h = match IpHdr::of(&skb) {
                Some(h) => h,
                None => return self.kfree_skb(skb, DropReason::IpInhdr),
            };
        }
        if h.ttl <= 1 {
            self.icmp_send(
                &skb,
                dst.flags,
                IcmpErr::TimeExceeded(TimeExceeded::TtlExpired),
            );
            return self.kfree_skb(skb, DropReason::IpTtlExpired);
        }
        if skb.cb.opt.layout.is_strictroute && dst.gateway.is_some() {
            self.icmp_send(
                &skb,
                dst.flags,
                IcmpErr::DstUnreachable(DstUnreachable::SrcRouteFailed),
            );
            return self.kfree_skb(skb, DropReason::IpInhdr);
        }
        // ip_exceeds_mtu(): a DF packet over the MTU, unless it may ignore DF and (if
        // reassembled) its largest fragment fits, or it is GSO and its segments fit.
        let mtu = dst.mtu as usize;
        let frag_max = usize::from(skb.cb.frag_max_size);
        let exceeds = skb.len() > mtu
            && h.dont_frag()
            && (frag_max > mtu
                || (!skb.ignore_df
                    && (skb.gso.is_none()
                        || !crate::offload::skb_gso_validate_network_len(&skb, mtu))));
        if exceeds {
            self.icmp_send(&skb, dst.flags, IcmpErr::FragNeeded { mtu: dst.mtu });
            return self.kfree_skb(skb, DropReason::PktTooBig);
        }
        ip_decrease_ttl(&mut skb);
        if dst.flags.contains(RtFlags::DOREDIRECT) && skb.cb.opt.layout.srr == 0 {
            self.ip_rt_send_redirect(&skb, dst, h.saddr, h.daddr);
        }
        skb.priority = rt_tos2priority(h.tos);
        let iif = skb.iif;
        if let Some(skb) = self.nf_hook(NfInetHook::Forward, skb, iif, dst.dev) {
            self.ip_forward_finish(skb, dst);
        }
    }

    /// Linux route.c ip_rt_send_redirect(): tell an on-link sender that the next hop is
    /// on its own link (ICMP 5/1, host redirect), with exponential backoff per sender.
    fn ip_rt_send_redirect(
        &mut self,
        skb: &SkBuff,
        dst: &DstEntry,
        saddr: Ipv4Addr,
        daddr: Ipv4Addr,
    ) {
        stage!(self, "ip_rt_send_redirect");
        if self.peers.redirect_allow(self.now, saddr) {
            let gw = dst.gateway.unwrap_or(daddr);
            self.icmp_send(
                skb,
                dst.flags,
                IcmpErr::Redirect {
                    code: Redirect::Host,
                    gateway: gw,
                },
            );
        }
    }

    /// Linux ip_forward_finish(): count, then dst_output().
    pub(crate) fn ip_forward_finish(&mut self, mut skb: SkBuff, dst: &DstEntry) {
        stage!(self, "ip_forward_finish");
        self.mib.ip.forw_datagrams += 1;
        if skb.cb.opt.layout.optlen != 0 {
            self.ip_forward_options(&mut skb, dst);
        }
        // Errors were counted and the packet freed where they happened.
        let _ = self.ip_output(skb, dst);
    }
}

/// Linux include/net/ip.h ip_decrease_ttl(): TTL - 1 with an incremental checksum update
/// (RFC 1624). The caller checked TTL > 1.
pub(crate) fn ip_decrease_ttl(skb: &mut SkBuff) {
    let Some(hdr) = skb.network_header_bytes_mut() else {
        return;
    };
    let mut p = Ipv4Packet::new_unchecked(hdr);
    let old = u16::from_be_bytes([p.ttl(), u8::from(p.protocol())]);
    let ttl = p.ttl() - 1;
    p.set_ttl(ttl);
    let new = u16::from_be_bytes([ttl, u8::from(p.protocol())]);
    let check = csum_replace2(p.checksum(), old, new);
    p.set_checksum(check);
}

/// Linux rt_tos2priority(): the TOS bits to a queueing priority.
fn rt_tos2priority(tos: u8) -> u32 {
    const MAP: [u32; 16] = [0, 0, 0, 0, 2, 2, 2, 2, 6, 6, 6, 6, 4, 4, 4, 4];
    MAP[usize::from((tos & 0x1e) >> 1)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_wire::Ipv4Addr;
    use skiff_wire::ipv4::{IpProtocol, Ipv4Repr};

    #[test]
    fn decrease_ttl_keeps_the_checksum_valid() {
        for ttl in [2u8, 64, 128, 255] {
            let mut skb = SkBuff::new(0, 20).unwrap();
            let buf = skb.put(20).unwrap();
            Ipv4Repr {
                src: Ipv4Addr::new(10, 0, 1, 2),
                dst: Ipv4Addr::new(10, 0, 2, 2),
                protocol: IpProtocol::from(17),
                ttl,
                tos: 0,
                ident: 0x1234,
                dont_frag: true,
                more_frags: false,
                frag_offset: 0,
                options: &[],
                payload_len: 0,
            }
            .emit(buf)
            .unwrap();
            skb.reset_network_header().unwrap();
            ip_decrease_ttl(&mut skb);
            let p = Ipv4Packet::new_checked(skb.data()).unwrap();
            assert_eq!(p.ttl(), ttl - 1);
            assert!(p.verify_checksum(), "ttl {ttl}");
        }
    }

    #[test]
    fn tos_priority() {
        assert_eq!(rt_tos2priority(0x10), 6); // IPTOS_LOWDELAY → TC_PRIO_INTERACTIVE
        assert_eq!(rt_tos2priority(0x08), 2); // IPTOS_THROUGHPUT → TC_PRIO_BULK
        assert_eq!(rt_tos2priority(0), 0);
    }
}
