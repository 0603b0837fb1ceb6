//! ICMP. Linux net/ipv4/icmp.c: icmp_rcv() and its handlers, icmp_reply() and
//! __icmp_send() with the R22 filter and rate limits.

use crate::drop::DropReason;
use crate::inetpeer::icmpv4_mask_allow;
use crate::ipv4::hdr::IpHdr;
use crate::ipv4::input::InetProtocol;
use crate::ipv4::options::ip_options_echo;
use crate::ipv4::output::IpSend;
use crate::route::{DstEntry, Flowi4, RouteScope, RtFlags};
use crate::skb::{PacketType, SkBuff};
use crate::socket::SockError;
use crate::stack::{LOOPBACK_IFINDEX, Stack, stage};
use core::time::Duration;
use skiff_wire::Ipv4Addr;
use skiff_wire::checksum::{csum_fold, csum_partial, csum_replace2};
use skiff_wire::icmpv4::{DstUnreachable, Icmpv4Message, ParamProblem, Redirect, TimeExceeded};
use skiff_wire::ipv4::ip_hdrlen;
use skiff_wire::ipv4::{IpProtocol, Ipv4Packet};

/// Linux `NR_ICMP_TYPES`: the highest type icmp_rcv() knows.
const NR_ICMP_TYPES: u8 = 18;
/// RFC 1812 §4.3.2.3: an ICMP error is at most 576 bytes.
const ICMP_ERROR_MAX: usize = 576;
/// `IPTOS_PREC_INTERNETCONTROL`.
const IPTOS_PREC_INTERNETCONTROL: u8 = 0xc0;
/// The code of echo and timestamp messages (RFC 792).
const NO_CODE: u8 = 0;

/// Milliseconds in a day: ICMP and IP-option timestamps count from midnight UT.
const MSEC_PER_DAY: u64 = 86_400_000;
/// The ICMP timestamp message: header, then originate, receive, transmit (RFC 792).
const ICMP_TIMESTAMP_LEN: usize = 8 + 12;

/// Linux af_inet.c inet_current_timestamp(): milliseconds since midnight UT of the
/// wall-clock time `realtime` (since the Unix epoch). Linux never sets the "non-standard
/// time" high bit, and neither does skiff.
pub(crate) fn inet_current_timestamp(realtime: Duration) -> u32 {
    let ms =
        realtime.as_secs() % (MSEC_PER_DAY / 1000) * 1000 + u64::from(realtime.subsec_millis());
    // Below 86 400 000: fits.
    ms as u32
}

/// Linux `icmp_pointers[type].error`: the error types.
pub(crate) fn icmp_is_error(icmp_type: u8) -> bool {
    use Icmpv4Message as M;
    matches!(
        M::from(icmp_type),
        M::DstUnreachable | M::SourceQuench | M::Redirect | M::TimeExceeded | M::ParamProblem
    )
}

/// An ICMP error by name: what icmp_send() sends, and what icmp_unreach() hands to the
/// protocols' err_handlers. Linux passes (type, code, info).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IcmpErr {
    /// Destination Unreachable; a fragmentation-needed with an MTU is [`IcmpErr::FragNeeded`].
    DstUnreachable(DstUnreachable),
    /// Destination Unreachable, Fragmentation Needed, with the next-hop MTU (RFC 1191).
    FragNeeded {
        mtu: u32,
    },
    /// Source Quench (received, never sent: RFC 6633), with its code.
    SourceQuench {
        code: u8,
    },
    /// Redirect to `gateway`.
    Redirect {
        code: Redirect,
        gateway: Ipv4Addr,
    },
    TimeExceeded(TimeExceeded),
    /// Parameter Problem pointing at the offending octet.
    ParamProblem {
        code: ParamProblem,
        pointer: u8,
    },
}

impl IcmpErr {
    /// The type field.
    pub(crate) fn msg_type(self) -> Icmpv4Message {
        match self {
            IcmpErr::DstUnreachable(_) | IcmpErr::FragNeeded { .. } => {
                Icmpv4Message::DstUnreachable
            }
            IcmpErr::SourceQuench { .. } => Icmpv4Message::SourceQuench,
            IcmpErr::Redirect { .. } => Icmpv4Message::Redirect,
            IcmpErr::TimeExceeded(_) => Icmpv4Message::TimeExceeded,
            IcmpErr::ParamProblem { .. } => Icmpv4Message::ParamProblem,
        }
    }

    /// The code field.
    pub(crate) fn code(self) -> u8 {
        match self {
            IcmpErr::DstUnreachable(c) => c.into(),
            IcmpErr::FragNeeded { .. } => DstUnreachable::FragRequired.into(),
            IcmpErr::SourceQuench { code } => code,
            IcmpErr::Redirect { code, .. } => code.into(),
            IcmpErr::TimeExceeded(c) => c.into(),
            IcmpErr::ParamProblem { code, .. } => code.into(),
        }
    }

    /// Bytes 4..8 of the header as sent: the pointer, the next-hop MTU or the gateway.
    fn rest_of_header(self) -> u32 {
        match self {
            IcmpErr::FragNeeded { mtu } => mtu,
            IcmpErr::Redirect { gateway, .. } => u32::from(gateway),
            IcmpErr::ParamProblem { pointer, .. } => u32::from(pointer) << 24,
            _ => 0,
        }
    }

    /// Linux's `info` for the err_handlers and `ee_info`: the MTU or the pointer.
    pub(crate) fn info(self) -> u32 {
        match self {
            IcmpErr::FragNeeded { mtu } => mtu,
            IcmpErr::ParamProblem { pointer, .. } => u32::from(pointer),
            _ => 0,
        }
    }
}

/// Linux icmp_err_convert[]: the errno of an ICMP error and whether it is hard (reported
/// to a connected socket without IP_RECVERR).
pub(crate) fn icmp_err_convert(err: IcmpErr) -> (SockError, bool) {
    use DstUnreachable as U;
    match err {
        IcmpErr::DstUnreachable(code) => match code {
            U::NetUnreachable => (SockError::NetUnreach, false),
            U::HostUnreachable => (SockError::HostUnreach, false),
            U::ProtoUnreachable => (SockError::NoProtoOpt, true),
            U::PortUnreachable => (SockError::ConnRefused, true),
            U::FragRequired => (SockError::MsgSize, false),
            U::SrcRouteFailed => (SockError::OpNotSupp, false),
            U::NetUnknown => (SockError::NetUnreach, true),
            U::HostUnknown => (SockError::HostDown, true),
            U::HostIsolated => (SockError::NoNet, true),
            U::NetProhibited => (SockError::NetUnreach, true),
            U::HostProhibited => (SockError::HostUnreach, true),
            U::NetUnreachTos => (SockError::NetUnreach, false),
            U::HostUnreachTos => (SockError::HostUnreach, false),
            U::CommProhibited | U::HostPrecedenceViolation | U::PrecedenceCutoff => {
                (SockError::HostUnreach, true)
            }
            U::Other(_) => (SockError::HostUnreach, false),
        },
        IcmpErr::FragNeeded { .. } => (SockError::MsgSize, false),
        IcmpErr::ParamProblem { .. } => (SockError::Proto, true),
        _ => (SockError::HostUnreach, false),
    }
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
        use Icmpv4Message as M;
        let msg = M::from(icmp_type);
        if dst.flags.contains(RtFlags::BROADCAST) || dst.flags.contains(RtFlags::MULTICAST) {
            // RFC 1122 3.2.2.6 (MAY ignore), Smurf: ignored by default.
            let echo = matches!(msg, M::EchoRequest | M::Timestamp);
            if (echo && self.sysctl.icmp_echo_ignore_broadcasts == 1)
                || !matches!(
                    msg,
                    M::EchoRequest | M::Timestamp | M::AddressMaskRequest | M::AddressMaskReply
                )
            {
                return self.kfree_skb(skb, DropReason::IcmpInErrors);
            }
        }
        match msg {
            M::EchoRequest => self.icmp_echo(skb, h, dst),
            M::Timestamp => self.icmp_timestamp(skb, h, dst),
            M::DstUnreachable | M::SourceQuench | M::TimeExceeded | M::ParamProblem => {
                self.icmp_unreach(skb, msg)
            }
            // ping_rcv(): no ping sockets; raw sockets already had their copy.
            M::EchoReply => self.kfree_skb(skb, DropReason::IcmpNoSocket),
            // icmp_redirect(): route exceptions come with the path MTU work: counted and
            // dropped.
            M::Redirect => self.kfree_skb(skb, DropReason::IcmpNoSocket),
            // icmp_discard(): address mask requests too (Linux does not answer them).
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
        self.icmp_reply(skb, h, dst.saddr, Icmpv4Message::EchoReply, None);
    }

    /// Linux icmp.c icmp_timestamp(); RFC 792. The reply keeps the identifier, sequence
    /// and originate timestamp; receive and transmit are our time now. At least 4 bytes
    /// must follow the header (a shorter request is an ICMP `InErrors`); what follows the
    /// originate timestamp is not echoed.
    fn icmp_timestamp(&mut self, skb: SkBuff, h: &IpHdr, dst: &DstEntry) {
        stage!(self, "icmp_timestamp");
        let mut times = [0; 12];
        if skb.copy_bits(8, &mut times[..4]).is_err() {
            return self.kfree_skb(skb, DropReason::IcmpInErrors);
        }
        let now = inet_current_timestamp(self.realtime()).to_be_bytes();
        times[4..8].copy_from_slice(&now);
        times[8..].copy_from_slice(&now);
        self.icmp_reply(
            skb,
            h,
            dst.saddr,
            Icmpv4Message::TimestampReply,
            Some(times),
        );
    }

    /// Linux icmp_reply(): the reply's source is the request's specific destination
    /// (`spec_dst`, fib_compute_spec_dst(): our unicast address for a broadcast request)
    /// and its TOS the request's; only the global bucket applies (echo replies are
    /// outside the default ratemask). Linux copies the data into a fresh skb; skiff turns
    /// an echo request's buffer around (scrubbed, new header), which puts the same bytes
    /// on the wire. A timestamp reply (`times`: originate, receive, transmit) is built
    /// fresh, as Linux does.
    #[inline(always)]
    fn icmp_reply(
        &mut self,
        mut skb: SkBuff,
        h: &IpHdr,
        spec_dst: Ipv4Addr,
        reply: Icmpv4Message,
        times: Option<[u8; 12]>,
    ) {
        stage!(self, "icmp_reply");
        let reply_type = u8::from(reply);
        let mut opts = None;
        if skb.cb.opt.layout.optlen != 0 {
            match ip_options_echo(&skb, &self.fib) {
                Some(o) => opts = Some(o),
                None => return self.consume_skb(skb),
            }
        }
        let mut apply = false;
        if skb.headlen() < 8 || !self.icmpv4_global_allow(reply_type, NO_CODE, &mut apply) {
            return self.consume_skb(skb);
        }
        // A reversed source route sends the reply to its first hop.
        let first_hop = opts.as_ref().and_then(|o| o.faddr).unwrap_or(h.saddr);
        let Ok(dst) = self.route_output_simple(first_hop, spec_dst, h.tos) else {
            return self.consume_skb(skb);
        };
        if !self.icmpv4_xrlim_allow(&dst, h.saddr, reply_type, NO_CODE, apply) {
            return self.consume_skb(skb);
        }
        if let Some(o) = &mut opts {
            // The timestamp option's stamp: read only when there are options.
            o.complete(spec_dst, h.saddr, inet_current_timestamp(self.realtime()));
        }
        let p = IpSend {
            saddr: spec_dst,
            daddr: first_hop,
            protocol: IpProtocol::Icmp.into(),
            ttl: self.sysctl.ip_default_ttl,
            tos: h.tos,
            // The ICMP socket's IP_PMTUDISC_DONT.
            df: false,
            ignore_df: true,
            ident: None,
        };
        let options = opts.as_ref().map_or(&[][..], |o| o.bytes());
        if let Some(times) = times {
            let mut head = [0; 8];
            head.copy_from_slice(&skb.data()[..8]);
            self.consume_skb(skb);
            let sent = self.ip_build_and_send_pkt(&dst, p, options, ICMP_TIMESTAMP_LEN, |buf| {
                buf[..8].copy_from_slice(&head);
                buf[0] = reply_type;
                buf[1] = NO_CODE;
                buf[8..].copy_from_slice(&times);
                fill_icmp_checksum(buf);
            });
            if sent.is_ok() {
                self.mib.icmp_out(reply_type);
            }
            return;
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
        msg[1] = NO_CODE;
        msg[2..4].copy_from_slice(&check.to_be_bytes());
        skb.scrub();
        if self.ip_push_header(skb, &p, options, &dst).is_ok() {
            self.mib.icmp_out(reply_type);
        }
    }

    /// Linux icmp_unreach(): checks the quoted header, then icmp_socket_deliver() hands
    /// the error to raw sockets and to the protocol's err_handler.
    fn icmp_unreach(&mut self, skb: SkBuff, msg: Icmpv4Message) {
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
        let err = match msg {
            Icmpv4Message::DstUnreachable => match DstUnreachable::from(code) {
                // ip_no_pmtu_disc: 1 keeps the error but not its MTU (so 0, learned as
                // min_pmtu and locked); 2 and 3 ignore it (no protocol here validates ICMP
                // tags).
                DstUnreachable::FragRequired => match self.sysctl.ip_no_pmtu_disc {
                    0 => IcmpErr::FragNeeded {
                        mtu: u32::from(u16::from_be_bytes([data[6], data[7]])),
                    },
                    1 => IcmpErr::FragNeeded { mtu: 0 },
                    _ => return self.consume_skb(skb),
                },
                // Beyond NR_ICMP_UNREACH.
                DstUnreachable::Other(_) => return self.consume_skb(skb),
                c => IcmpErr::DstUnreachable(c),
            },
            Icmpv4Message::ParamProblem => IcmpErr::ParamProblem {
                code: code.into(),
                pointer: data[4],
            },
            Icmpv4Message::TimeExceeded => match TimeExceeded::from(code) {
                // RFC 1122 3.2.2.4 says pass it on; Linux drops reassembly timeouts here.
                TimeExceeded::FragReassembly => return self.consume_skb(skb),
                c => IcmpErr::TimeExceeded(c),
            },
            Icmpv4Message::SourceQuench => IcmpErr::SourceQuench { code },
            // icmp_rcv() sends only the four error types here.
            _ => return self.consume_skb(skb),
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
        let mut learn = self.raw_icmp_error(inner, offender, err);
        match InetProtocol::of(protocol) {
            Some(InetProtocol::Udp) => learn |= self.udp_err(inner, offender, err),
            Some(InetProtocol::Icmp) => learn = true,
            Some(InetProtocol::Ipip) if self.ipip_registered() => {
                self.ipip_err(skb.iif, iph.src(), dst, err);
            }
            // igmp has no err_handler.
            Some(InetProtocol::Igmp | InetProtocol::Ipip) | None => {}
        }
        if learn && let IcmpErr::FragNeeded { mtu } = err {
            let mut fl = Flowi4::new(dst);
            fl.saddr = iph.src();
            fl.tos = iph.tos() & 0x1e;
            fl.proto = protocol;
            self.ipv4_update_pmtu(&fl, mtu);
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
    /// offending IP header), unless R22 forbids it or a bucket is empty.
    /// `rt_flags` are the flags of the route `skb_in` took.
    #[cold]
    #[inline(never)]
    pub(crate) fn icmp_send(&mut self, skb_in: &SkBuff, rt_flags: RtFlags, err: IcmpErr) {
        stage!(self, "icmp_send");
        let (icmp_type, code) = (u8::from(err.msg_type()), err.code());
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
        if icmp_is_error(icmp_type) && iph.protocol() == IpProtocol::Icmp {
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
        let Some(mut opts) = ip_options_echo(skb_in, &self.fib) else {
            return;
        };
        let first_hop = opts.faddr.unwrap_or(iph.src());
        let Ok(dst) = self.route_output_simple(first_hop, saddr, tos) else {
            return;
        };
        if !self.icmpv4_xrlim_allow(&dst, iph.src(), icmp_type, code, apply) {
            return;
        }
        opts.complete(
            dst.saddr,
            iph.src(),
            inet_current_timestamp(self.realtime()),
        );
        let room = (dst.mtu as usize)
            .min(ICMP_ERROR_MAX)
            .saturating_sub(20 + opts.bytes().len() + 8);
        let quote = &orig[..orig.len().min(room)];
        let p = IpSend {
            saddr: dst.saddr,
            daddr: first_hop,
            protocol: IpProtocol::Icmp.into(),
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
            buf[4..8].copy_from_slice(&err.rest_of_header().to_be_bytes());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_current_timestamp_counts_ms_since_midnight_ut() {
        assert_eq!(inet_current_timestamp(Duration::ZERO), 0);
        assert_eq!(
            inet_current_timestamp(Duration::from_millis(86_399_999)),
            86_399_999
        );
        assert_eq!(inet_current_timestamp(Duration::from_secs(86_400)), 0);
        // 2026-01-01 13:14:15.5678 UT: sub-millisecond parts are dropped.
        let t = Duration::new(1_767_273_255, 567_800_000);
        assert_eq!(inet_current_timestamp(t), 47_655_567);
        // Never the "non-standard" high bit, even at the end of time.
        assert!(inet_current_timestamp(Duration::MAX) < 86_400_000);
    }
}
