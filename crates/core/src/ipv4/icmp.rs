//! ICMP. Linux net/ipv4/icmp.c: icmp_rcv() and its handlers, icmp_reply() and
//! __icmp_send() with the reference R22 filter and rate limits.

use crate::drop::DropReason;
use crate::inetpeer::icmpv4_mask_allow;
use crate::ipv4::hdr::IpHdr;
use crate::ipv4::hdr::ip_hdrlen;
use crate::ipv4::input::InetProtocol;
use crate::ipv4::options::ip_options_echo;
use crate::ipv4::output::IpSend;
use crate::route::{DstEntry, Flowi4, RouteScope, RtFlags};
use crate::skb::{PacketType, SkBuff};
use crate::stack::{LOOPBACK_IFINDEX, Stack, stage};
use core::time::Duration;
use skiff_wire::Ipv4Addr;
use skiff_wire::checksum::{csum_fold, csum_partial, csum_replace2};
use skiff_wire::ipv4::Ipv4Packet;

/// Linux `NR_ICMP_TYPES`: the highest type icmp_rcv() knows.
const NR_ICMP_TYPES: u8 = 18;
/// RFC 1812 §4.3.2.3: an ICMP error is at most 576 bytes.
const ICMP_ERROR_MAX: usize = 576;
/// `IPTOS_PREC_INTERNETCONTROL`.
const IPTOS_PREC_INTERNETCONTROL: u8 = 0xc0;

/// Linux `icmp_pointers[type].error`: the error types.
pub(crate) fn icmp_is_error(icmp_type: u8) -> bool {
    matches!(icmp_type, 3 | 4 | 5 | 11 | 12)
}

impl Stack {
    /// Linux icmp_rcv(): `data` is at the ICMP header.
    #[inline]
    pub(crate) fn icmp_rcv(&mut self, skb: SkBuff, h: &IpHdr, dst: &DstEntry) {
        stage!(self, "icmp_rcv");
        let verified = skb.csum_unnecessary() || csum_fold(csum_partial(skb.data(), 0)) == 0;
        if !verified || skb.len() < 8 {
            self.mib.icmp.in_msgs += 1;
            let reason = if verified {
                DropReason::IcmpInErrors
            } else {
                DropReason::IcmpCsum
            };
            return self.kfree_skb(skb, reason);
        }
        let icmp_type = skb.data()[0];
        self.mib.icmp_in(icmp_type);
        if icmp_type > NR_ICMP_TYPES {
            return self.kfree_skb(skb, DropReason::IcmpInErrors);
        }
        if dst.flags.contains(RtFlags::BROADCAST) || dst.flags.contains(RtFlags::MULTICAST) {
            // RFC 1122 3.2.2.6 (MAY ignore), Smurf: ignored by default.
            let echo = matches!(icmp_type, 8 | 13);
            if (echo && self.sysctl.icmp_echo_ignore_broadcasts == 1)
                || !matches!(icmp_type, 8 | 13 | 17 | 18)
            {
                return self.kfree_skb(skb, DropReason::IcmpInErrors);
            }
        }
        match icmp_type {
            8 => self.icmp_echo(skb, h, dst),
            3 | 4 | 11 | 12 => self.icmp_unreach(skb, icmp_type),
            // ping_rcv(): no ping sockets; raw sockets already had their copy.
            0 => self.kfree_skb(skb, DropReason::IcmpNoSocket),
            // icmp_redirect(): route exceptions come with the path MTU work; icmp_timestamp()
            // needs a wall clock the core does not have: both are counted and dropped.
            5 | 13 => self.kfree_skb(skb, DropReason::IcmpNoSocket),
            // icmp_discard().
            _ => self.consume_skb(skb),
        }
    }

    /// Linux icmp_echo(): reply with the same identifier, sequence and data (RFC 792).
    #[inline(always)]
    fn icmp_echo(&mut self, skb: SkBuff, h: &IpHdr, dst: &DstEntry) {
        stage!(self, "icmp_echo");
        if self.sysctl.icmp_echo_ignore_all == 1 {
            return self.consume_skb(skb);
        }
        self.icmp_reply(skb, h, dst.saddr, 0);
    }

    /// Linux icmp_reply(): the reply's source is the request's specific destination
    /// (`spec_dst`, fib_compute_spec_dst(): our unicast address for a broadcast request)
    /// and its TOS the request's; only the global bucket applies (echo replies are
    /// outside the default ratemask). Linux copies the data into a fresh skb; skiff turns
    /// the request's buffer around (scrubbed, new header), which puts the same bytes on
    /// the wire.
    #[inline]
    fn icmp_reply(&mut self, mut skb: SkBuff, h: &IpHdr, spec_dst: Ipv4Addr, reply_type: u8) {
        stage!(self, "icmp_reply");
        let mut opts = None;
        if skb.cb.opt.layout.optlen != 0 {
            match ip_options_echo(&skb) {
                Some(o) => opts = Some(o),
                None => return self.consume_skb(skb),
            }
        }
        let mut apply = false;
        if skb.headlen() < 8 || !self.icmpv4_global_allow(reply_type, 0, &mut apply) {
            return self.consume_skb(skb);
        }
        // A reversed source route sends the reply to its first hop.
        let first_hop = opts.as_ref().and_then(|o| o.faddr).unwrap_or(h.saddr);
        let Ok(dst) = self.route_output_simple(first_hop, spec_dst, h.tos) else {
            return self.consume_skb(skb);
        };
        if !self.icmpv4_xrlim_allow(&dst, h.saddr, reply_type, 0, apply) {
            return self.consume_skb(skb);
        }
        if let Some(o) = &mut opts {
            o.complete(spec_dst, h.saddr);
        }
        // The request's checksum verified, so an RFC 1624 update keeps it right.
        let msg = skb.data_mut();
        let old = u16::from_be_bytes([msg[0], msg[1]]);
        let check = csum_replace2(
            u16::from_be_bytes([msg[2], msg[3]]),
            old,
            u16::from(reply_type) << 8,
        );
        msg[0] = reply_type;
        msg[1] = 0;
        msg[2..4].copy_from_slice(&check.to_be_bytes());
        skb.scrub();
        let p = IpSend {
            saddr: spec_dst,
            daddr: first_hop,
            protocol: 1,
            ttl: self.sysctl.ip_default_ttl,
            tos: h.tos,
            // The ICMP socket's IP_PMTUDISC_DONT.
            df: false,
            ignore_df: true,
            ident: None,
        };
        let options = opts.as_ref().map_or(&[][..], |o| o.bytes());
        if self.ip_push_header(skb, &p, options, &dst).is_ok() {
            self.mib.icmp_out(reply_type);
        }
    }

    /// Linux icmp_unreach(): checks the quoted header, then icmp_socket_deliver() hands
    /// the error to raw sockets and to the protocol's err_handler.
    fn icmp_unreach(&mut self, skb: SkBuff, icmp_type: u8) {
        stage!(self, "icmp_unreach");
        let data = skb.data();
        let code = data[1];
        let inner = &data[8..];
        if inner.len() < 20 {
            return self.kfree_skb(skb, DropReason::IcmpInErrors);
        }
        let iph = Ipv4Packet::new_unchecked(inner);
        let ihl = ip_hdrlen(inner);
        if ihl < 20 {
            return self.kfree_skb(skb, DropReason::IcmpInErrors);
        }
        let info = match icmp_type {
            // ip_no_pmtu_disc: 1 keeps the error but not its MTU (so 0, learned as min_pmtu
            // and locked); 2 and 3 ignore it (no protocol here validates ICMP tags).
            3 if code == 4 => match self.sysctl.ip_no_pmtu_disc {
                0 => u32::from(u16::from_be_bytes([data[6], data[7]])),
                1 => 0,
                _ => return self.consume_skb(skb),
            },
            3 if code > 15 => return self.consume_skb(skb),
            12 => u32::from(data[4]),
            // RFC 1122 3.2.2.4 says pass it on; Linux drops reassembly timeouts here.
            11 if code == 1 => return self.consume_skb(skb),
            _ => 0,
        };
        if inner.len() < ihl + 8 {
            return self.consume_skb(skb);
        }
        let protocol = u8::from(iph.protocol());
        let dst = iph.dst();
        let offender = IpHdr::of(&skb).map_or(Ipv4Addr::UNSPECIFIED, |h| h.saddr);
        stage!(self, "icmp_socket_deliver");
        // raw_icmp_error() learns the path MTU for a matching raw socket, udp_err() for a
        // matching UDP socket, icmp_err() for any ICMP datagram.
        let inner = &data[8..];
        let mut learn = self.raw_icmp_error(inner, offender, icmp_type, code, info);
        match InetProtocol::of(protocol) {
            Some(InetProtocol::Udp) => {
                learn |= self.udp_err(inner, offender, icmp_type, code, info)
            }
            Some(InetProtocol::Icmp) => learn = true,
            // igmp has no err_handler.
            Some(InetProtocol::Igmp) | None => {}
        }
        if learn && icmp_type == 3 && code == 4 {
            let mut fl = Flowi4::new(dst);
            fl.saddr = iph.src();
            fl.tos = iph.tos() & 0x1e;
            fl.proto = protocol;
            self.ipv4_update_pmtu(&fl, info);
        }
        self.consume_skb(skb);
    }

    /// Linux ipv4_update_pmtu(): learns the path MTU an ICMP fragmentation-needed reports.
    pub(crate) fn ipv4_update_pmtu(&mut self, fl: &Flowi4, mtu: u32) {
        stage!(self, "ipv4_update_pmtu");
        let (min_pmtu, expires) = (self.sysctl.min_pmtu, self.sysctl.mtu_expires);
        self.fib.ip_rt_update_pmtu(
            fl,
            mtu,
            self.now,
            min_pmtu,
            Duration::from_secs(u64::from(expires)),
        );
    }

    /// Linux icmpv4_global_allow(): the global token bucket, for types the ratemask limits.
    #[inline]
    fn icmpv4_global_allow(&mut self, icmp_type: u8, code: u8, apply: &mut bool) -> bool {
        if icmpv4_mask_allow(self.sysctl.icmp_ratemask, icmp_type, code) {
            return true;
        }
        if self.icmp_global.icmp_global_allow(
            self.now,
            self.sysctl.icmp_msgs_per_sec,
            self.sysctl.icmp_msgs_burst,
        ) {
            *apply = true;
            return true;
        }
        self.mib.icmp.out_rate_limit_global += 1;
        false
    }

    /// Linux icmpv4_xrlim_allow(): the per-destination bucket (not on loopback); a send
    /// that passes consumes 0–2 global credits (icmp_global_consume, CVE-2020-25705).
    #[inline]
    fn icmpv4_xrlim_allow(
        &mut self,
        dst: &DstEntry,
        daddr: Ipv4Addr,
        _icmp_type: u8,
        _code: u8,
        apply: bool,
    ) -> bool {
        if !apply {
            return true;
        }
        let ok = dst.dev == LOOPBACK_IFINDEX
            || self.peers.xrlim_allow(
                self.now,
                daddr,
                Duration::from_millis(u64::from(self.sysctl.icmp_ratelimit)),
            );
        if ok {
            self.icmp_global.icmp_global_consume(&mut self.rng);
        } else {
            self.mib.icmp.out_rate_limit_host += 1;
        }
        ok
    }

    /// Linux __icmp_send(): an ICMP error about `skb_in` (its network header is the
    /// offending IP header), unless reference R22 forbids it or a bucket is empty.
    /// `rt_flags` are the flags of the route `skb_in` took.
    #[cold]
    #[inline(never)]
    pub(crate) fn icmp_send(
        &mut self,
        skb_in: &SkBuff,
        rt_flags: RtFlags,
        icmp_type: u8,
        code: u8,
        info: u32,
    ) {
        stage!(self, "icmp_send");
        let Some(orig) = skb_in.network_header_bytes() else {
            return;
        };
        // The linear part: a reassembled datagram keeps the rest in its frag_list, and
        // the quote never reaches past the first fragment's data.
        let ihl = ip_hdrlen(orig);
        if ihl < 20 || orig.len() < ihl {
            return;
        }
        let iph = Ipv4Packet::new_unchecked(orig);
        if skb_in.pkt_type != PacketType::Host {
            return;
        }
        if rt_flags.contains(RtFlags::BROADCAST) || rt_flags.contains(RtFlags::MULTICAST) {
            return;
        }
        if iph.frag_offset() != 0 {
            return;
        }
        if icmp_is_error(icmp_type) && u8::from(iph.protocol()) == 1 {
            // Never an error about an error, nor about an unknown ICMP type.
            match orig.get(ihl) {
                Some(&t) if t <= NR_ICMP_TYPES && !icmp_is_error(t) => {}
                _ => return,
            }
        }
        let mut apply = false;
        if skb_in.iif != LOOPBACK_IFINDEX && !self.icmpv4_global_allow(icmp_type, code, &mut apply)
        {
            return;
        }
        let saddr = if rt_flags.contains(RtFlags::LOCAL) {
            iph.dst()
        } else if skb_in.iif != 0 && self.sysctl.icmp_errors_use_inbound_ifaddr == 1 {
            self.fib
                .inet_select_addr(skb_in.iif, iph.src(), RouteScope::LINK)
                .unwrap_or(Ipv4Addr::UNSPECIFIED)
        } else {
            Ipv4Addr::UNSPECIFIED
        };
        let tos = if icmp_is_error(icmp_type) {
            (iph.tos() & 0x1e) | IPTOS_PREC_INTERNETCONTROL
        } else {
            iph.tos()
        };
        let Some(mut opts) = ip_options_echo(skb_in) else {
            return;
        };
        let first_hop = opts.faddr.unwrap_or(iph.src());
        let Ok(dst) = self.route_output_simple(first_hop, saddr, tos) else {
            return;
        };
        if !self.icmpv4_xrlim_allow(&dst, iph.src(), icmp_type, code, apply) {
            return;
        }
        opts.complete(dst.saddr, iph.src());
        let room = (dst.mtu as usize)
            .min(ICMP_ERROR_MAX)
            .saturating_sub(20 + opts.bytes().len() + 8);
        let quote = &orig[..orig.len().min(room)];
        let p = IpSend {
            saddr: dst.saddr,
            daddr: first_hop,
            protocol: 1,
            ttl: self.sysctl.ip_default_ttl,
            tos,
            // The ICMP socket's IP_PMTUDISC_DONT.
            df: false,
            ignore_df: true,
            ident: None,
        };
        let sent = self.ip_build_and_send_pkt(&dst, p, opts.bytes(), 8 + quote.len(), |buf| {
            buf[0] = icmp_type;
            buf[1] = code;
            buf[4..8].copy_from_slice(&info.to_be_bytes());
            buf[8..].copy_from_slice(quote);
            fill_icmp_checksum(buf);
        });
        if sent.is_ok() {
            self.mib.icmp_out(icmp_type);
        }
    }
}

/// Zeroes the checksum field and fills it over the whole message.
fn fill_icmp_checksum(msg: &mut [u8]) {
    msg[2] = 0;
    msg[3] = 0;
    let check = csum_fold(csum_partial(msg, 0));
    msg[2..4].copy_from_slice(&check.to_be_bytes());
}
