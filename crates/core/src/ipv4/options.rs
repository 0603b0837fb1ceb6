//! What the stack does with IPv4 options once their syntax checked out: record route,
//! timestamps, source routes on receive and on forward, and the options a reply echoes.
//! Linux net/ipv4/ip_options.c. A timestamp is milliseconds since midnight UT
//! ([`crate::ipv4::icmp::inet_current_timestamp`], from the stack's wall clock).

use crate::drop::DropReason;
use crate::ipv4::hdr::IpHdr;
use crate::ipv4::icmp::IcmpErr;
use crate::route::{DstEntry, Fib, RouteScope, RouteType};
use crate::skb::{PacketType, SkBuff};
use crate::stack::{Stack, stage};
use skiff_wire::Ipv4Addr;
use skiff_wire::icmpv4::ParamProblem;
use skiff_wire::ip_options::TimestampFlag;
use skiff_wire::ipv4::Ipv4Packet;
use skiff_wire::ipv4::ip_hdrlen;

/// The option at `off` of the header: (length, pointer), when the header holds them.
fn opt_len_ptr(hdr: &[u8], off: usize) -> Option<(usize, usize)> {
    Some((
        usize::from(*hdr.get(off + 1)?),
        usize::from(*hdr.get(off + 2)?),
    ))
}

/// Writes `addr` at byte `at` of the option that starts at `off`, if it fits.
fn put_addr(hdr: &mut [u8], off: usize, at: usize, addr: Ipv4Addr) {
    if let Some(slot) = off.checked_add(at).and_then(|s| hdr.get_mut(s..s + 4)) {
        slot.copy_from_slice(&addr.octets());
    }
}

/// Socket options (`IP_OPTIONS`, `IP_RETOPTS`) as one locally generated packet carries
/// them: at most 40 bytes, copied so that each packet gets its own stamps.
pub(crate) struct LocalOptions {
    data: [u8; 40],
    len: usize,
}

impl LocalOptions {
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.data[..self.len]
    }
}

impl Stack {
    /// Linux ip_options_build() for a locally generated packet, with the pointer moves
    /// __ip_options_compile() made on the socket's copy at setsockopt time (skiff keeps
    /// the option as the caller wrote it and does both here): `saddr` into the next
    /// record-route slot; our time (and `saddr` for TSANDADDR, or only when the
    /// prespecified address is ours) into the next timestamp slot; each pointer moved
    /// past what it filled. A full option is left alone.
    pub(crate) fn ip_options_build_local(&self, opt: &[u8], saddr: Ipv4Addr) -> LocalOptions {
        use skiff_wire::ip_options::kind;
        let mut out = LocalOptions {
            data: [0; 40],
            len: opt.len().min(40),
        };
        out.data[..out.len].copy_from_slice(&opt[..out.len]);
        let d = &mut out.data[..out.len];
        let now = crate::ipv4::icmp::inet_current_timestamp(self.realtime());
        let mut i = 0;
        while let Some(&k) = d.get(i) {
            if k == kind::EOL {
                break;
            }
            if k == kind::NOP {
                i += 1;
                continue;
            }
            let Some((len, ptr)) = opt_len_ptr(d, i) else {
                break;
            };
            if len < 2 || i + len > d.len() {
                break;
            }
            match k {
                kind::RR if ptr >= 4 && ptr + 3 <= len => {
                    put_addr(d, i, ptr - 1, saddr);
                    d[i + 2] = (ptr + 4) as u8;
                }
                kind::TIMESTAMP if ptr >= 5 && len >= 4 => {
                    let put_time = |d: &mut [u8], at: usize| {
                        if let Some(slot) = d.get_mut(i + at..i + at + 4) {
                            slot.copy_from_slice(&now.to_be_bytes());
                        }
                    };
                    let advance = match TimestampFlag::from(d[i + 3] & 0x0f) {
                        TimestampFlag::TsOnly if ptr + 3 <= len => {
                            put_time(d, ptr - 1);
                            4
                        }
                        TimestampFlag::TsAndAddr if ptr + 7 <= len => {
                            put_addr(d, i, ptr - 1, saddr);
                            put_time(d, ptr + 3);
                            8
                        }
                        TimestampFlag::TsPrespec if ptr + 7 <= len => {
                            let b = &d[i + ptr - 1..i + ptr + 3];
                            let addr = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
                            if self.fib.inet_addr_type(addr) == RouteType::Unicast {
                                0
                            } else {
                                put_time(d, ptr + 3);
                                8
                            }
                        }
                        _ => 0,
                    };
                    d[i + 2] = (ptr + advance) as u8;
                }
                _ => {}
            }
            i += len;
        }
        out
    }

    /// The record-route part of Linux __ip_options_compile() for a routed packet: our
    /// `spec_dst` goes into the next free slot and the pointer moves on (`rr_needaddr`).
    pub(crate) fn ip_options_record_route(skb: &mut SkBuff, spec_dst: Ipv4Addr) {
        let rr = usize::from(skb.cb.opt.layout.rr);
        let Some(hdr) = skb.network_header_bytes_mut() else {
            return;
        };
        let Some((len, ptr)) = opt_len_ptr(hdr, rr) else {
            return;
        };
        if rr == 0 || ptr > len || ptr < 4 {
            return;
        }
        put_addr(hdr, rr, ptr - 1, spec_dst);
        hdr[rr + 2] = (ptr + 4) as u8;
        skb.cb.opt.rr_needaddr = true;
        skb.cb.opt.is_changed = true;
    }

    /// The timestamp part of Linux __ip_options_compile() for a received packet: with a
    /// free slot, our time (`ts`) goes in, after our `spec_dst` for TS+address, or only
    /// when the prespecified address is one of ours (any address that is not plain
    /// unicast to `inet_addr_type()`); the pointer moves on. A full option counts the hop
    /// in its overflow nibble (prespecified: not counted). The parser already refused the
    /// malformed cases with their Parameter Problem pointers.
    pub(crate) fn ip_options_timestamp(&self, skb: &mut SkBuff, spec_dst: Ipv4Addr, ts: u32) {
        let off = usize::from(skb.cb.opt.layout.ts);
        let Some(hdr) = skb.network_header_bytes_mut() else {
            return;
        };
        let (Some((len, ptr)), Some(&flags)) = (opt_len_ptr(hdr, off), hdr.get(off + 3)) else {
            return;
        };
        if off == 0 || ptr < 5 {
            return;
        }
        let flag = TimestampFlag::from(flags);
        if ptr > len {
            let overflow = flags >> 4;
            if flag != TimestampFlag::TsPrespec && overflow < 15 {
                hdr[off + 3] = ((overflow + 1) << 4) | (flags & 0x0f);
                skb.cb.opt.is_changed = true;
            }
            return;
        }
        let put_time = |hdr: &mut [u8], at: usize| {
            if let Some(slot) = off.checked_add(at).and_then(|s| hdr.get_mut(s..s + 4)) {
                slot.copy_from_slice(&ts.to_be_bytes());
            }
        };
        // (pointer advance, an address was recorded)
        let (advance, needaddr) = match flag {
            TimestampFlag::TsOnly if ptr + 3 <= len => {
                put_time(hdr, ptr - 1);
                (4, false)
            }
            TimestampFlag::TsAndAddr if ptr + 7 <= len => {
                put_addr(hdr, off, ptr - 1, spec_dst);
                put_time(hdr, ptr + 3);
                (8, true)
            }
            TimestampFlag::TsPrespec if ptr + 7 <= len => {
                let at = off + ptr - 1;
                let Some(b) = hdr.get(at..at + 4) else { return };
                let addr = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
                if self.fib.inet_addr_type(addr) == RouteType::Unicast {
                    return;
                }
                put_time(hdr, ptr + 3);
                (8, false)
            }
            // An unknown flag is left alone.
            _ => return,
        };
        hdr[off + 2] = (ptr + advance) as u8;
        let opt = &mut skb.cb.opt;
        opt.ts_needtime = true;
        opt.ts_needaddr = needaddr;
        opt.is_changed = true;
    }

    /// Linux ip_options_rcv_srr(): a source-routed packet addressed to us moves on to the
    /// next hop of its route (skipping hops that are ours). Returns the route to use.
    pub(crate) fn ip_options_rcv_srr(
        &mut self,
        skb: &mut SkBuff,
        dst: DstEntry,
    ) -> Result<DstEntry, DropReason> {
        stage!(self, "ip_options_rcv_srr");
        if skb.pkt_type != PacketType::Host {
            return Err(DropReason::IpSourceRoute);
        }
        if dst.rt_type == RouteType::Unicast {
            if !skb.cb.opt.layout.is_strictroute {
                return Ok(dst);
            }
            // A strict route whose listed hop is not us.
            self.icmp_send(
                skb,
                dst.flags,
                IcmpErr::ParamProblem {
                    code: ParamProblem::PointerIndicatesError,
                    pointer: 16,
                },
            );
            return Err(DropReason::IpSourceRoute);
        }
        if dst.rt_type != RouteType::Local {
            return Err(DropReason::IpSourceRoute);
        }
        let srr = usize::from(skb.cb.opt.layout.srr);
        let (space, mut ptr) = skb
            .network_header_bytes()
            .and_then(|h| opt_len_ptr(h, srr))
            .ok_or(DropReason::IpSourceRoute)?;
        let h = IpHdr::of(skb).ok_or(DropReason::IpInhdr)?;
        if ptr < 4 {
            return Err(DropReason::IpSourceRoute);
        }
        let mut route = dst;
        let mut hop = None;
        while ptr <= space {
            if ptr + 3 > space {
                self.icmp_send(
                    skb,
                    dst.flags,
                    IcmpErr::ParamProblem {
                        code: ParamProblem::PointerIndicatesError,
                        pointer: srr as u8 + 2,
                    },
                );
                return Err(DropReason::IpSourceRoute);
            }
            let at = srr + ptr - 1;
            let nexthop = match skb.network_header_bytes().and_then(|b| b.get(at..at + 4)) {
                Some(b) => Ipv4Addr::new(b[0], b[1], b[2], b[3]),
                None => return Err(DropReason::IpSourceRoute),
            };
            route = self
                .fib
                .ip_route_input(nexthop, h.saddr, h.tos, skb.iif, false)
                .map_err(|_| DropReason::IpSourceRoute)?;
            if !matches!(route.rt_type, RouteType::Unicast | RouteType::Local) {
                return Err(DropReason::IpSourceRoute);
            }
            hop = Some(nexthop);
            if route.rt_type != RouteType::Local {
                break;
            }
            // "Superfast loopback forward": this hop is us as well.
            if let Some(b) = skb.network_header_bytes_mut() {
                Ipv4Packet::new_unchecked(b).set_dst(nexthop);
            }
            ptr += 4;
        }
        if ptr <= space {
            skb.cb.opt.srr_is_hit = true;
            skb.cb.opt.nexthop = hop.unwrap_or(Ipv4Addr::UNSPECIFIED);
        }
        skb.cb.opt.is_changed = true;
        Ok(route)
    }

    /// Linux ip_forward_options(): the outgoing address goes into the record route and,
    /// for a source route, into the route in place of the hop; the destination becomes
    /// that hop; the checksum is redone if anything changed.
    pub(crate) fn ip_forward_options(&mut self, skb: &mut SkBuff, dst: &DstEntry) {
        let Some(h) = IpHdr::of(skb) else { return };
        let nexthop = dst.gateway.unwrap_or(h.daddr);
        let src = self
            .fib
            .inet_select_addr(dst.dev, nexthop, RouteScope::UNIVERSE)
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        let opt = skb.cb.opt;
        let Some(hdr) = skb.network_header_bytes_mut() else {
            return;
        };
        let mut changed = opt.is_changed;
        if opt.rr_needaddr {
            let rr = usize::from(opt.layout.rr);
            if let Some((_, ptr)) = opt_len_ptr(hdr, rr).filter(|&(_, p)| p >= 5) {
                put_addr(hdr, rr, ptr - 5, src);
                changed = true;
            }
        }
        if opt.srr_is_hit {
            let srr = usize::from(opt.layout.srr);
            if let Some((space, mut ptr)) = opt_len_ptr(hdr, srr) {
                while ptr + 3 <= space
                    && hdr.get(srr + ptr - 1..srr + ptr + 3) != Some(&opt.nexthop.octets()[..])
                {
                    ptr += 4;
                }
                if ptr + 3 <= space {
                    Ipv4Packet::new_unchecked(&mut hdr[..]).set_dst(opt.nexthop);
                    put_addr(hdr, srr, ptr - 1, src);
                    hdr[srr + 2] = (ptr + 4) as u8;
                    changed = true;
                }
            }
            // The address recorded with our time is the outgoing one, as for the route.
            if opt.ts_needaddr {
                let ts = usize::from(opt.layout.ts);
                if let Some((_, ptr)) = opt_len_ptr(hdr, ts).filter(|&(_, p)| p >= 9) {
                    put_addr(hdr, ts, ptr - 9, src);
                    changed = true;
                }
            }
        }
        if changed {
            let ihl = ip_hdrlen(hdr);
            if let Some(h) = hdr.get_mut(..ihl) {
                Ipv4Packet::new_unchecked(h).fill_checksum();
            }
            skb.cb.opt.is_changed = false;
        }
    }
}

/// The options of a reply (ICMP echo reply or error), echoed from the packet it answers.
/// Linux `struct ip_options_rcu` filled by __ip_options_echo().
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReplyOptions {
    data: [u8; 40],
    len: usize,
    /// Where our address goes in the echoed record route.
    rr_slot: Option<usize>,
    /// Where our address and our time go in the echoed timestamp.
    ts_addr_slot: Option<usize>,
    ts_time_slot: Option<usize>,
    /// Offset of the reversed source route.
    srr: Option<usize>,
    /// First hop of the reversed source route: where the reply is sent.
    pub faddr: Option<Ipv4Addr>,
}

impl ReplyOptions {
    pub(crate) const NONE: ReplyOptions = ReplyOptions {
        data: [0; 40],
        len: 0,
        rr_slot: None,
        ts_addr_slot: None,
        ts_time_slot: None,
        srr: None,
        faddr: None,
    };

    /// The option bytes, once [`ReplyOptions::complete`] filled in the addresses.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.data[..self.len]
    }

    /// Linux ip_options_build() for a reply: our source address into the record route
    /// (and the timestamp's address slot), our time `ts` into the timestamp, the final
    /// destination into the last slot of the reversed source route.
    pub(crate) fn complete(&mut self, saddr: Ipv4Addr, final_daddr: Ipv4Addr, ts: u32) {
        if let Some(at) = self.rr_slot {
            put_addr(&mut self.data, 0, at, saddr);
        }
        if let Some(at) = self.ts_addr_slot {
            put_addr(&mut self.data, 0, at, saddr);
        }
        if let Some(slot) = self
            .ts_time_slot
            .and_then(|at| self.data.get_mut(at..at + 4))
        {
            slot.copy_from_slice(&ts.to_be_bytes());
        }
        if let Some(srr) = self.srr {
            let len = usize::from(self.data[srr + 1]);
            put_addr(&mut self.data, srr, len - 4, final_daddr);
        }
    }
}

/// Linux __ip_options_echo(): the options a reply to `skb` carries. The record route is
/// copied with room for our address; the timestamp with room for our entry (for a
/// prespecified one, only when the next listed address is ours, by `fib`'s
/// inet_addr_type()); a source route is reversed (the reply goes to its last hop,
/// `faddr`). `None` means a malformed option that Linux refuses to echo: no reply.
#[inline]
pub(crate) fn ip_options_echo(skb: &SkBuff, fib: &Fib) -> Option<ReplyOptions> {
    if skb.cb.opt.layout.optlen == 0 {
        return Some(ReplyOptions::NONE);
    }
    ip_options_echo_slow(skb, fib)
}

fn ip_options_echo_slow(skb: &SkBuff, fib: &Fib) -> Option<ReplyOptions> {
    let opt = skb.cb.opt;
    let mut d = ReplyOptions::NONE;
    let sptr = skb.network_header_bytes()?;
    let copy = |d: &mut ReplyOptions, off: usize| -> Option<(usize, usize, usize)> {
        let (optlen, soffset) = opt_len_ptr(sptr, off)?;
        let src = sptr.get(off..off + optlen)?;
        let at = d.len;
        d.data.get_mut(at..at + optlen)?.copy_from_slice(src);
        d.len += optlen;
        Some((at, optlen, soffset))
    };
    if opt.layout.rr != 0 {
        let (at, optlen, soffset) = copy(&mut d, usize::from(opt.layout.rr))?;
        if opt.rr_needaddr && soffset <= optlen {
            if soffset + 3 > optlen {
                return None;
            }
            d.data[at + 2] = (soffset + 4) as u8;
            d.rr_slot = Some(at + soffset - 1);
        }
    }
    if opt.layout.ts != 0 {
        let (at, optlen, mut soffset) = copy(&mut d, usize::from(opt.layout.ts))?;
        if soffset <= optlen {
            if opt.ts_needaddr {
                if soffset + 3 > optlen {
                    return None;
                }
                d.ts_addr_slot = Some(at + soffset - 1);
                soffset += 4;
            }
            if opt.ts_needtime {
                if soffset + 3 > optlen {
                    return None;
                }
                if TimestampFlag::from(d.data[at + 3]) != TimestampFlag::TsPrespec {
                    d.ts_time_slot = Some(at + soffset - 1);
                    soffset += 4;
                } else if soffset + 7 <= optlen {
                    let b = d.data.get(at + soffset - 1..at + soffset + 3)?;
                    let addr = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
                    if fib.inet_addr_type(addr) != RouteType::Unicast {
                        d.ts_time_slot = Some(at + soffset + 3);
                        soffset += 8;
                    }
                }
            }
            d.data[at + 2] = soffset as u8;
        }
    }
    if opt.layout.srr != 0 {
        let start = sptr.get(usize::from(opt.layout.srr)..)?;
        let (optlen, mut soffset) = (usize::from(*start.get(1)?), usize::from(*start.get(2)?));
        let addr_at = |i: usize| {
            start
                .get(i - 1..i + 3)
                .map(|b| Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        };
        if soffset > optlen {
            soffset = optlen + 1;
        }
        soffset = soffset.saturating_sub(4);
        let mut doffset = 0;
        let mut faddr = Ipv4Addr::UNSPECIFIED;
        let at = d.len;
        if soffset > 3 {
            faddr = addr_at(soffset)?;
            soffset -= 4;
            doffset = 4;
            while soffset > 3 {
                put_addr(&mut d.data, at, doffset - 1, addr_at(soffset)?);
                soffset -= 4;
                doffset += 4;
            }
            // RFC 1812: an illegal route that lists the source itself is fixed.
            if addr_at(soffset + 4) == IpHdr::of(skb).map(|h| h.saddr) {
                doffset -= 4;
            }
        }
        if doffset > 3 && at + doffset + 3 <= d.data.len() {
            d.faddr = Some(faddr);
            d.data[at] = start[0];
            d.data[at + 1] = (doffset + 3) as u8;
            d.data[at + 2] = 4;
            d.srr = Some(at);
            d.len += doffset + 3;
        }
    }
    // Pad with end-of-list to a multiple of 4.
    d.len = d.len.div_ceil(4) * 4;
    (d.len <= d.data.len()).then_some(d)
}
