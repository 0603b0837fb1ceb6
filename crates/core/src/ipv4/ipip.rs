//! IPIP tunnels: the devices of `ip tunnel add NAME mode ipip local L remote R` (Linux
//! net/ipv4/ipip.c, ip_tunnel.c, ip_tunnel_core.c) and the `dvmrpN` devices of
//! multicast routing's tunnel vifs (ipmr.c ipmr_new_tunnel(), an ipip tunnel too). One
//! table, one receive path: an IPIP packet whose outer (source, destination) is a
//! tunnel's (remote, local) is decapsulated and its inner packet received on that
//! device (tunnel4.c tunnel4_rcv(), ipip.c ipip_rcv(), ip_tunnel.c ip_tunnel_rcv(),
//! include/net/inet_ecn.h INET_ECN_decapsulate()). A packet routed out a tunnel device
//! is encapsulated to the remote and sent by the normal output path (ipip.c
//! ipip_tunnel_xmit(), ip_tunnel.c ip_tunnel_xmit(), ip_tunnel_core.c iptunnel_xmit()).

use crate::drop::DropReason;
use crate::errno::Errno;
use crate::ipv4::hdr::IpHdr;
use crate::ipv4::icmp::IcmpErr;
use crate::netdev::{DevKind, DevStats, ETH_HLEN};
use crate::route::{DstEntry, Flowi4, RtFlags};
use crate::skb::{ChecksumState, PacketType, SkBuff};
use crate::stack::{LL_RESERVED, Stack, stage};
use skiff_wire::Ipv4Addr;
use skiff_wire::ethernet::EthernetAddress;
use skiff_wire::icmpv4::DstUnreachable;
use skiff_wire::ipv4::IPPROTO_IPIP;
use std::collections::VecDeque;

/// Linux `IFNAMSIZ`: a device name has at most 15 bytes.
pub const IFNAMSIZ: usize = 16;
/// The outer IPv4 header an IPIP tunnel adds (Linux `t_hlen` of ipip).
pub const IPIP_HLEN: u32 = 20;
/// Linux `ETH_DATA_LEN`: the MTU a tunnel's MTU comes from without an underlying device.
const ETH_DATA_LEN: u32 = 1500;
/// Linux `IPV4_MIN_MTU`.
const IPV4_MIN_MTU: u32 = 68;
/// Linux `XMIT_RECURSION_LIMIT`: tunnels nested deeper are a dead loop.
pub const XMIT_RECURSION_LIMIT: u8 = 8;

/// What `ip tunnel add NAME mode ipip local L remote R [ttl T] [dev LINK]
/// [nopmtudisc]` asks for (Linux `struct ip_tunnel_parm` of SIOCADDTUNNEL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpTunnelParm {
    pub name: String,
    /// Outer source; 0.0.0.0 (`local any`) takes the route's source.
    pub local: Ipv4Addr,
    /// Outer destination. 0.0.0.0 (`remote any`) receives from any source but cannot
    /// transmit (Linux's NBMA mode is not built).
    pub remote: Ipv4Addr,
    /// Outer TTL; 0 (`ttl inherit`, the default) copies the inner packet's.
    pub ttl: u8,
    /// The underlying device the outer packets leave by (`dev LINK`), if any.
    pub link: Option<u32>,
    /// DF on every outer packet (`pmtudisc`, the default); without it, DF is copied
    /// from the inner packet. A TTL other than 0 implies it (Linux ip_tunnel_ctl()).
    pub pmtudisc: bool,
}

impl IpTunnelParm {
    /// `ip tunnel add NAME mode ipip local L remote R` with the defaults (ttl inherit,
    /// pmtudisc, no link device).
    pub fn new(name: &str, local: Ipv4Addr, remote: Ipv4Addr) -> Self {
        IpTunnelParm {
            name: name.to_string(),
            local,
            remote,
            ttl: 0,
            link: None,
            pmtudisc: true,
        }
    }
}

/// One IPIP tunnel (Linux `struct ip_tunnel`'s parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpTunnel {
    pub ifindex: u32,
    pub local: Ipv4Addr,
    pub remote: Ipv4Addr,
    pub ttl: u8,
    /// The underlying device's ifindex, 0 for none.
    pub link: u32,
    pub pmtudisc: bool,
    /// A `dvmrpN` device of a tunnel vif (ipmr.c ipmr_new_tunnel()).
    pub vif: bool,
    /// Registered; skiff cannot unregister a device, so a deleted tunnel's device stays
    /// down in its slot, taken again by the next tunnel of that name.
    pub(crate) active: bool,
}

impl IpTunnel {
    /// A registered tunnel, its ifindex given by ip_tunnel_register().
    fn new(
        local: Ipv4Addr,
        remote: Ipv4Addr,
        ttl: u8,
        link: u32,
        pmtudisc: bool,
        vif: bool,
    ) -> Self {
        IpTunnel {
            ifindex: 0,
            local,
            remote,
            ttl,
            link,
            pmtudisc,
            vif,
            active: true,
        }
    }
}

/// Linux ip_tunnel.c ip_tunnel_init_flow(): the flow of a tunnel's outer packets.
fn ip_tunnel_init_flow(remote: Ipv4Addr, local: Ipv4Addr, link: u32) -> Flowi4 {
    let mut fl = Flowi4::new(remote);
    fl.saddr = local;
    fl.proto = IPPROTO_IPIP;
    fl.oif = link;
    fl
}

/// The IPIP tunnels of a stack (Linux `struct ip_tunnel_net` of ipip) and the receive
/// queue of decapsulated packets.
#[derive(Default)]
pub(crate) struct IpipNet {
    tunnels: Vec<IpTunnel>,
    rx: VecDeque<SkBuff>,
    rx_running: bool,
    /// Tunnel transmits in progress (Linux dev_xmit_recursion()).
    xmit_recursion: u8,
    /// The IPIP protocol handler is registered: from the first tunnel on, as Linux's
    /// ipip module stays loaded once `ip tunnel add` (or a tunnel vif) loaded it.
    registered: bool,
}

/// Linux dev_valid_name(): 1 to 15 bytes, not "." or "..", no '/', ':' or whitespace.
fn dev_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < IFNAMSIZ
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace())
}

/// Decapsulated packets waiting for ip_rcv() on their tunnel device (Linux's gro_cells
/// queue, bounded by `netdev_max_backlog`).
pub const IPIP_RX_QLEN: usize = 1000;

/// The ECN field's bits.
const INET_ECN_MASK: u8 = 3;
const INET_ECN_NOT_ECT: u8 = 0;
const INET_ECN_ECT_1: u8 = 1;
const INET_ECN_ECT_0: u8 = 2;
const INET_ECN_CE: u8 = 3;

/// What decapsulation does to the inner ECN field. Linux __INET_ECN_decapsulate().
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EcnDecap {
    /// Keep the inner TOS as it is.
    Keep,
    /// Set the inner field to this codepoint.
    Set(u8),
    /// Not-ECT inside, ECT outside: kept as it is, Linux only logs it.
    Log,
    /// Not-ECT inside, CE outside (RFC 6040): the packet is dropped.
    Drop,
}

/// Linux inet_ecn.h INET_ECN_decapsulate(); RFC 6040 section 4.2.
pub(crate) fn ecn_decapsulate(outer_tos: u8, inner_tos: u8) -> EcnDecap {
    let (outer, inner) = (outer_tos & INET_ECN_MASK, inner_tos & INET_ECN_MASK);
    if inner == INET_ECN_NOT_ECT {
        return match outer {
            INET_ECN_NOT_ECT => EcnDecap::Keep,
            INET_ECN_CE => EcnDecap::Drop,
            _ => EcnDecap::Log,
        };
    }
    if outer == INET_ECN_CE {
        // INET_ECN_set_ce(): an ECT inner packet becomes CE.
        return if inner == INET_ECN_CE {
            EcnDecap::Keep
        } else {
            EcnDecap::Set(INET_ECN_CE)
        };
    }
    // INET_ECN_set_ect1(): ECT(1) outside turns ECT(0) inside into ECT(1).
    if outer == INET_ECN_ECT_1 && inner == INET_ECN_ECT_0 {
        return EcnDecap::Set(INET_ECN_ECT_1);
    }
    EcnDecap::Keep
}

/// Rewrites the TOS byte of the IPv4 header at the start of `ip` (at least 12 bytes) and
/// updates its checksum incrementally (RFC 1624), as Linux ipv4_change_dsfield() does, so
/// a header that was bad stays bad.
fn set_tos(ip: &mut [u8], tos: u8) {
    let (Some(&old), Some(c)) = (ip.get(1), ip.get(10..12)) else {
        return;
    };
    let ver = u16::from(ip[0]) << 8;
    let (old_w, new_w) = (ver | u16::from(old), ver | u16::from(tos));
    let check = u16::from_be_bytes([c[0], c[1]]);
    // HC' = ~(~HC + ~m + m')
    let mut sum = u32::from(!check) + u32::from(!old_w) + u32::from(new_w);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let check = !(sum as u16);
    ip[1] = tos;
    ip[10..12].copy_from_slice(&check.to_be_bytes());
}

/// Linux inet_ecn.h INET_ECN_encapsulate(): the outer ECN field copies the inner one,
/// CE becoming ECT(0) (RFC 6040 normal mode).
fn ecn_encapsulate(outer_tos: u8, inner_tos: u8) -> u8 {
    let inner = inner_tos & INET_ECN_MASK;
    let ecn = if inner == INET_ECN_CE {
        INET_ECN_ECT_0
    } else {
        inner
    };
    (outer_tos & !INET_ECN_MASK) | ecn
}

impl Stack {
    /// `ip tunnel add NAME mode ipip local L remote R [ttl T] [dev LINK]`: an IPIP
    /// device, down, without addresses, point-to-point and NOARP, its MTU the underlying
    /// device's less 20 (1480 on Ethernet). Errnos as Linux: EINVAL for a bad name
    /// (dev_valid_name(): empty, IFNAMSIZ or longer, '/', ':' or space); ENODEV for an
    /// unknown link device; EEXIST for a tunnel with the same (local, remote, link)
    /// (ip_tunnel_find()), for local = remote = any without a link (the fallback `tunl0`
    /// holds that triple) or a device of that name. Linux ip_tunnel_ctl(SIOCADDTUNNEL),
    /// ip_tunnel_create(), ip_tunnel_bind_dev().
    pub fn ip_tunnel_add(&mut self, p: &IpTunnelParm) -> Result<u32, Errno> {
        if !dev_valid_name(&p.name) {
            return Err(Errno::Inval);
        }
        let link = match p.link {
            Some(l) if self.dev(l).is_none() => return Err(Errno::NoDev),
            Some(l) => l,
            None => 0,
        };
        let fallback = p.local.is_unspecified() && p.remote.is_unspecified() && link == 0;
        if fallback || self.ip_tunnel_find(p.local, p.remote, link) {
            return Err(Errno::Exist);
        }
        let mtu = self.ip_tunnel_bind_dev(p.local, p.remote, link);
        let pmtudisc = p.pmtudisc || p.ttl != 0;
        let t = IpTunnel::new(p.local, p.remote, p.ttl, link, pmtudisc, false);
        self.ip_tunnel_register(&p.name, t, mtu).ok_or(Errno::Exist)
    }

    /// `ip tunnel del NAME`: the device goes down, loses its addresses and leaves the
    /// tunnel table (Linux unregisters it; skiff keeps the down slot for the next
    /// tunnel of that name). ENODEV without such a device (a deleted tunnel's included);
    /// EOPNOTSUPP for a device that is not an IPIP tunnel; EBUSY for a tunnel vif's `dvmrpN` (MRT_DEL_VIF removes
    /// it). Linux ip_tunnel_ctl(SIOCDELTUNNEL).
    pub fn ip_tunnel_del(&mut self, name: &str) -> Result<(), Errno> {
        let ifindex = self.dev_by_name(name).ok_or(Errno::NoDev)?.ifindex;
        // A deleted tunnel's device is gone in Linux (unregistered): ENODEV.
        let not_tunnel = if self.ipip.tunnels.iter().any(|t| t.ifindex == ifindex) {
            Errno::NoDev
        } else {
            Errno::OpNotSupp
        };
        let t = self
            .ipip
            .tunnels
            .iter_mut()
            .find(|t| t.active && t.ifindex == ifindex)
            .ok_or(not_tunnel)?;
        if t.vif {
            return Err(Errno::Busy);
        }
        t.active = false;
        let _ = self.set_up(ifindex, false);
        let addrs: Vec<(Ipv4Addr, u8)> = self
            .fib
            .addrs()
            .filter(|a| a.ifindex == ifindex)
            .map(|a| (a.local, a.prefix_len))
            .collect();
        for (a, len) in addrs {
            let _ = self.fib.del_addr(ifindex, a, len);
        }
        self.sync_fib_device(ifindex, None);
        Ok(())
    }

    /// The IPIP tunnel whose device is `ifindex`.
    pub fn ip_tunnel(&self, ifindex: u32) -> Option<&IpTunnel> {
        self.ipip
            .tunnels
            .iter()
            .find(|t| t.active && t.ifindex == ifindex)
    }

    /// Every IPIP tunnel, `dvmrpN` devices included (`ip tunnel show`).
    pub fn ip_tunnels(&self) -> impl Iterator<Item = &IpTunnel> {
        self.ipip.tunnels.iter().filter(|t| t.active)
    }

    /// Whether IPIP has a receive handler: since the first tunnel (Linux ipip_init()'s
    /// xfrm4_tunnel_register(); the module is not unloaded when tunnels go).
    pub(crate) fn ipip_registered(&self) -> bool {
        self.ipip.registered
    }

    /// Linux ip_tunnel_find() without keys: a tunnel with this (local, remote, link).
    fn ip_tunnel_find(&self, local: Ipv4Addr, remote: Ipv4Addr, link: u32) -> bool {
        self.ipip
            .tunnels
            .iter()
            .any(|t| t.active && t.local == local && t.remote == remote && t.link == link)
    }

    /// `ip link`'s address part of a tunnel device: "local remote" (`any` for 0.0.0.0).
    pub(crate) fn ipip_link_addrs(&self, ifindex: u32) -> String {
        let any = |a: Ipv4Addr| {
            if a.is_unspecified() {
                "any".to_string()
            } else {
                a.to_string()
            }
        };
        self.ip_tunnel(ifindex).map_or_else(
            || "0.0.0.0 brd 0.0.0.0".to_string(),
            |t| format!("{} peer {}", any(t.local), any(t.remote)),
        )
    }

    /// Linux ip_tunnel_bind_dev(): the MTU from the device the remote routes by (or
    /// the link device, another tunnel too), less the outer header; 1480 without either.
    fn ip_tunnel_bind_dev(&mut self, local: Ipv4Addr, remote: Ipv4Addr, link: u32) -> u32 {
        let mut tdev = None;
        if !remote.is_unspecified() {
            let fl = ip_tunnel_init_flow(remote, local, link);
            tdev = self.fib.ip_route_output(&fl).ok().map(|d| d.dev);
        }
        if tdev.is_none() && link != 0 {
            tdev = Some(link);
        }
        let mtu = tdev
            .and_then(|i| self.dev(i))
            .map_or(ETH_DATA_LEN, |d| d.mtu);
        mtu.saturating_sub(IPIP_HLEN).max(IPV4_MIN_MTU)
    }

    /// Makes (or takes again, after a delete, whether it was a tunnel vif's or not) the
    /// device `name` for tunnel `t`. None when another device holds the name.
    fn ip_tunnel_register(&mut self, name: &str, mut t: IpTunnel, mtu: u32) -> Option<u32> {
        let ifindex = match self.dev_by_name(name).map(|d| d.ifindex) {
            Some(i) => {
                let at = self
                    .ipip
                    .tunnels
                    .iter()
                    .position(|o| o.ifindex == i && !o.active)?;
                self.ipip.tunnels.remove(at);
                let d = self.dev_mut(i)?;
                d.stats = Default::default();
                d.mtu = mtu;
                self.sync_fib_device(i, None);
                i
            }
            None => self
                .add_device_kind(name, DevKind::Ipip, EthernetAddress([0; 6]), mtu)
                .ok()?,
        };
        t.ifindex = ifindex;
        self.ipip.tunnels.push(t);
        self.ipip.registered = true;
        Some(ifindex)
    }

    /// Linux ipmr.c ipmr_new_tunnel(): the `dvmrpN` IPIP tunnel of a tunnel vif, from
    /// `local` to `remote`, up. None (vif_add()'s ENOBUFS) when another device has the
    /// name or another tunnel the (local, remote) pair.
    pub(crate) fn ipmr_new_tunnel(
        &mut self,
        name: &str,
        local: Ipv4Addr,
        remote: Ipv4Addr,
        mtu: u32,
    ) -> Option<u32> {
        if self.ip_tunnel_find(local, remote, 0) {
            return None;
        }
        let t = IpTunnel::new(local, remote, 0, 0, false, true);
        let ifindex = self.ip_tunnel_register(name, t, mtu)?;
        self.set_up(ifindex, true).ok()?;
        Some(ifindex)
    }

    /// vif_delete() of a tunnel vif: its `dvmrpN` device goes down and leaves the table.
    pub(crate) fn ipip_vif_tunnel_del(&mut self, ifindex: u32) {
        if let Some(t) = self
            .ipip
            .tunnels
            .iter_mut()
            .find(|t| t.active && t.vif && t.ifindex == ifindex)
        {
            t.active = false;
        }
        let _ = self.set_up(ifindex, false);
    }

    /// The tunnel device an IPIP packet from `saddr` to `daddr`, arrived on `link`, is
    /// received on. Linux ip_tunnel_lookup() without keys and the fallback `tunl0`: three
    /// passes over the up tunnels, newest first: (remote, local) = (saddr, daddr), then
    /// from `saddr` with any local, then to `daddr` (or the multicast group `daddr`) with
    /// any remote. A tunnel bound to `link` is taken at once; otherwise one candidate is
    /// kept across the passes (the first pass's last, else the first later match).
    fn ipip_tunnel_lookup(&self, link: u32, saddr: Ipv4Addr, daddr: Ipv4Addr) -> Option<u32> {
        let any = Ipv4Addr::UNSPECIFIED;
        let passes: [&dyn Fn(&IpTunnel) -> bool; 3] = [
            &|t| t.remote == saddr && t.local == daddr,
            &|t| t.remote == saddr && t.local == any,
            &|t| {
                (t.local == daddr && t.remote == any) || (t.remote == daddr && daddr.is_multicast())
            },
        ];
        let mut cand = None;
        for (i, pass) in passes.iter().enumerate() {
            // Linux's hash chains hold the newest tunnel first.
            for t in self.ipip.tunnels.iter().rev() {
                if !t.active || !self.dev(t.ifindex).is_some_and(|d| d.up) || !pass(t) {
                    continue;
                }
                if t.link == link {
                    return Some(t.ifindex);
                }
                if i == 0 || cand.is_none() {
                    cand = Some(t.ifindex);
                }
            }
        }
        cand
    }

    /// Linux tunnel4.c tunnel4_rcv() + ipip.c ipip_rcv() + ip_tunnel.c ip_tunnel_rcv():
    /// `skb` is the outer packet's payload. Without a matching tunnel: ICMP port
    /// unreachable and a drop (tunnel4_rcv()); an inner packet shorter than an IPv4
    /// header is dropped (device `rx_length_errors`), an inner not-ECT packet under an
    /// outer CE too (device `rx_frame_errors`); otherwise the inner packet is received on
    /// the tunnel's device, through a queue whose overflow counts `rx_dropped`.
    pub(crate) fn ipip_rcv(&mut self, mut skb: SkBuff, h: &IpHdr, dst: &DstEntry) {
        stage!(self, "ipip_rcv");
        let Some(ifindex) = self.ipip_tunnel_lookup(skb.iif, h.saddr, h.daddr) else {
            self.icmp_send(
                &skb,
                dst.flags,
                IcmpErr::DstUnreachable(DstUnreachable::PortUnreachable),
            );
            return self.kfree_skb(skb, DropReason::IpipNoTunnel);
        };
        // ip_tunnel_rcv()'s pskb_inet_may_pull().
        let Some(&inner_tos) = skb
            .data()
            .get(1)
            .filter(|_| skb.len() >= IPIP_HLEN as usize)
        else {
            if let Some(dev) = self.dev_mut(ifindex) {
                dev.stats.rx_length_errors += 1;
                dev.stats.rx_errors += 1;
            }
            return self.kfree_skb(skb, DropReason::IpTunnelRxLength);
        };
        match ecn_decapsulate(h.tos, inner_tos) {
            EcnDecap::Keep | EcnDecap::Log => {}
            EcnDecap::Set(ecn) => {
                set_tos(skb.data_mut(), (inner_tos & !INET_ECN_MASK) | ecn);
            }
            EcnDecap::Drop => {
                if let Some(dev) = self.dev_mut(ifindex) {
                    dev.stats.rx_frame_errors += 1;
                    dev.stats.rx_errors += 1;
                }
                return self.kfree_skb(skb, DropReason::IpipEcn);
            }
        }
        let full = self.ipip.rx.len() >= IPIP_RX_QLEN;
        let Some(dev) = self.dev_mut(ifindex) else {
            return self.kfree_skb(skb, DropReason::DevReady);
        };
        dev.stats.rx_packets += 1;
        dev.stats.rx_bytes += skb.len() as u64;
        // iptunnel_pull_header() + skb_scrub_packet(): a new packet on the tunnel device.
        skb.iif = ifindex;
        skb.pkt_type = if h.daddr.is_multicast() {
            PacketType::Broadcast
        } else {
            PacketType::Host
        };
        if matches!(skb.ip_summed, ChecksumState::Complete(_)) {
            skb.ip_summed = ChecksumState::None;
        }
        if full {
            // gro_cells_receive(): the device's `rx_dropped`.
            dev.stats.rx_dropped += 1;
            return self.kfree_skb(skb, DropReason::CpuBacklog);
        }
        self.ipip.rx.push_back(skb);
        // gro_cells_receive(): received after this packet, never nested, so tunnels in
        // tunnels cannot recurse.
        if core::mem::replace(&mut self.ipip.rx_running, true) {
            return;
        }
        while let Some(skb) = self.ipip.rx.pop_front() {
            self.ip_rcv(skb, None);
        }
        self.ipip.rx_running = false;
    }

    /// Linux ipip.c ipip_err(): an ICMP error about an outer packet of ours (source a
    /// tunnel's local, destination its remote). Fragmentation needed teaches the path
    /// MTU of (remote, local, IPPROTO_IPIP) on the tunnel's link (ipv4_update_pmtu());
    /// the other errors only feed Linux's err_count, which skiff does not keep.
    pub(crate) fn ipip_err(&mut self, iif: u32, saddr: Ipv4Addr, daddr: Ipv4Addr, err: IcmpErr) {
        stage!(self, "ipip_err");
        let Some(link) = self
            .ipip_tunnel_lookup(iif, daddr, saddr)
            .and_then(|i| self.ip_tunnel(i))
            .map(|t| t.link)
        else {
            return;
        };
        if let IcmpErr::FragNeeded { mtu } = err {
            self.ipv4_update_pmtu(&ip_tunnel_init_flow(daddr, saddr, link), mtu);
        }
    }

    /// Drops `skb` on tunnel device `ifindex`, bumping the device counter `stat`.
    fn ip_tunnel_tx_drop(
        &mut self,
        ifindex: u32,
        skb: SkBuff,
        reason: DropReason,
        stat: fn(&mut DevStats),
    ) {
        if let Some(d) = self.dev_mut(ifindex) {
            stat(&mut d.stats);
        }
        self.kfree_skb(skb, reason);
    }

    /// The tunnel device's ndo_start_xmit, after dev_queue_xmit(): Linux dev.c
    /// __dev_queue_xmit()'s dev_xmit_recursion() (a transmit nested more than
    /// XMIT_RECURSION_LIMIT deep is dropped, device `tx_dropped`) around ipip.c
    /// ipip_tunnel_xmit().
    pub(crate) fn ipip_tunnel_xmit(&mut self, ifindex: u32, skb: SkBuff) {
        stage!(self, "ipip_tunnel_xmit");
        if self.ipip.xmit_recursion > XMIT_RECURSION_LIMIT {
            return self.ip_tunnel_tx_drop(ifindex, skb, DropReason::XmitRecursion, |s| {
                s.tx_dropped += 1
            });
        }
        self.ipip.xmit_recursion += 1;
        self.ip_tunnel_xmit(ifindex, skb);
        self.ipip.xmit_recursion -= 1;
    }

    /// Linux ip_tunnel.c ip_tunnel_xmit(): the route to the remote (none: `tx_errors` and
    /// `tx_carrier_errors`; through the tunnel itself: "tunnel loop", `tx_errors` and
    /// `collisions`); DF the tunnel's (pmtudisc) or the inner packet's; tnl_update_pmtu()
    /// (with DF, the inner route learns the path's MTU less 20 and an inner DF packet
    /// over it gets ICMP fragmentation needed, `tx_errors`); the outer TTL (the tunnel's or the inner one) and TOS (DSCP
    /// 0, the inner ECN); skb_cow_head() (failure: `tx_dropped`); iptunnel_xmit().
    fn ip_tunnel_xmit(&mut self, ifindex: u32, mut skb: SkBuff) {
        let tx_errors = |s: &mut DevStats| s.tx_errors += 1;
        let Some(t) = self.ip_tunnel(ifindex).copied() else {
            return self.ip_tunnel_tx_drop(ifindex, skb, DropReason::DevReady, tx_errors);
        };
        let Some(h) = IpHdr::of(&skb) else {
            return self.ip_tunnel_tx_drop(ifindex, skb, DropReason::IpInhdr, tx_errors);
        };
        if t.remote.is_unspecified() {
            return self.ip_tunnel_tx_drop(ifindex, skb, DropReason::IpTunnelNoRoute, tx_errors);
        }
        let fl = ip_tunnel_init_flow(t.remote, t.local, t.link);
        let Ok(dst) = self.fib.ip_route_output(&fl) else {
            return self.ip_tunnel_tx_drop(ifindex, skb, DropReason::IpTunnelNoRoute, |s| {
                s.tx_carrier_errors += 1;
                s.tx_errors += 1;
            });
        };
        if dst.dev == ifindex {
            return self.ip_tunnel_tx_drop(ifindex, skb, DropReason::IpTunnelLoop, |s| {
                s.collisions += 1;
                s.tx_errors += 1;
            });
        }
        let df = t.pmtudisc || h.dont_frag();
        // tnl_update_pmtu(): without DF the MTU is the inner route's (nothing to learn),
        // and an inner packet without DF gets no ICMP.
        if df {
            let mtu = dst.mtu.saturating_sub(IPIP_HLEN).max(IPV4_MIN_MTU);
            // skb_dst_update_pmtu_no_confirm(): the inner route learns the smaller MTU.
            if self.dev(ifindex).is_some_and(|d| mtu < d.mtu) {
                let mut inner = Flowi4::new(h.daddr);
                inner.tos = h.tos & 0x1e;
                inner.proto = h.protocol;
                self.ipv4_update_pmtu(&inner, mtu);
            }
            if h.dont_frag() && skb.len() > mtu as usize {
                self.icmp_send(&skb, RtFlags::default(), IcmpErr::FragNeeded { mtu });
                return self.ip_tunnel_tx_drop(ifindex, skb, DropReason::IpTunnelPmtu, tx_errors);
            }
        }
        let ttl = if t.ttl == 0 { h.ttl } else { t.ttl };
        let saddr = if t.local.is_unspecified() {
            dst.saddr
        } else {
            t.local
        };
        // skb_scrub_packet() and the IPCB reset of iptunnel_xmit().
        skb.cb = Default::default();
        let skb = match self.skb_cow_head(skb, IPIP_HLEN as usize + ETH_HLEN) {
            Ok(skb) => skb,
            Err(skb) => {
                return self
                    .ip_tunnel_tx_drop(ifindex, skb, DropReason::QdiscDrop, |s| s.tx_dropped += 1);
            }
        };
        let tos = ecn_encapsulate(0, h.tos);
        self.iptunnel_xmit(ifindex, skb, &dst, saddr, t.remote, tos, ttl, df);
    }

    /// Linux ip_tunnel_core.c iptunnel_xmit(): the outer header (DF cleared when the
    /// route's MTU is locked, ip_mtu_locked()), ip_local_out(), then
    /// iptunnel_xmit_stats(): `tx_packets`/`tx_bytes` of the inner packet, or
    /// `tx_dropped` when the output failed.
    #[allow(clippy::too_many_arguments)]
    fn iptunnel_xmit(
        &mut self,
        ifindex: u32,
        skb: SkBuff,
        dst: &DstEntry,
        saddr: Ipv4Addr,
        daddr: Ipv4Addr,
        tos: u8,
        ttl: u8,
        df: bool,
    ) {
        let inner_len = skb.len() as u64;
        let df = df && !dst.flags.contains(RtFlags::MTU_LOCKED);
        let Some(skb) = self.ip_tunnel_push_iph(skb, saddr, daddr, tos, ttl, df) else {
            if let Some(d) = self.dev_mut(ifindex) {
                d.stats.tx_dropped += 1;
            }
            return;
        };
        let res = self.ip_local_out(skb, dst);
        if let Some(d) = self.dev_mut(ifindex) {
            if res.is_ok() {
                d.stats.tx_packets += 1;
                d.stats.tx_bytes += inner_len;
            } else {
                d.stats.tx_dropped += 1;
            }
        }
    }

    /// Linux ipmr.c ip_encap(): the outer IPIP header of a tunnel vif, from `saddr` to
    /// `daddr` with the inner packet's TOS and (already decreased) TTL, no DF; the room
    /// for it made first (ipmr_queue_xmit()'s skb_cow()).
    pub(crate) fn ip_encap(
        &mut self,
        skb: SkBuff,
        saddr: Ipv4Addr,
        daddr: Ipv4Addr,
    ) -> Option<SkBuff> {
        let Some(h) = IpHdr::of(&skb) else {
            self.kfree_skb(skb, DropReason::IpInhdr);
            return None;
        };
        let skb = match self.skb_cow_head(skb, IPIP_HLEN as usize + ETH_HLEN) {
            Ok(skb) => skb,
            Err(skb) => {
                self.kfree_skb(skb, DropReason::QdiscDrop);
                return None;
            }
        };
        self.ip_tunnel_push_iph(skb, saddr, daddr, h.tos, h.ttl, false)
    }

    /// Linux skbuff.h skb_cow_head(): `skb` with `headroom` bytes free before its
    /// (linear) data, copied into a new buffer when it has less. The original back when
    /// the copy fails.
    fn skb_cow_head(&mut self, mut skb: SkBuff, headroom: usize) -> Result<SkBuff, SkBuff> {
        if skb.headroom() >= headroom && !skb.is_nonlinear() {
            return Ok(skb);
        }
        let Ok(mut bigger) = self.pool.alloc(LL_RESERVED + headroom, skb.len()) else {
            return Err(skb);
        };
        let mut ok = bigger.put_slice(skb.data()).is_ok();
        for frag in &skb.frag_list {
            ok &= bigger.put_slice(frag.data()).is_ok();
        }
        if !ok {
            self.pool.recycle(bigger);
            return Err(skb);
        }
        bigger.iif = skb.iif;
        bigger.mark = skb.mark;
        bigger.priority = skb.priority;
        bigger.cb = skb.cb;
        bigger.sk = skb.sk.take();
        self.pool.recycle(skb);
        Ok(bigger)
    }

    /// The outer IPv4 header (protocol IPPROTO_IPIP, a hashed IP ID, checksum) pushed in
    /// front of the inner packet, whose headroom skb_cow_head() made: the header half of
    /// Linux iptunnel_xmit() and ip_encap(). A packet it cannot hold is dropped.
    fn ip_tunnel_push_iph(
        &mut self,
        mut skb: SkBuff,
        saddr: Ipv4Addr,
        daddr: Ipv4Addr,
        tos: u8,
        ttl: u8,
        df: bool,
    ) -> Option<SkBuff> {
        let hlen = IPIP_HLEN as usize;
        let Ok(total) = u16::try_from(skb.len() + hlen) else {
            self.kfree_skb(skb, DropReason::IpTunnelPmtu);
            return None;
        };
        let id = self.idents.select(self.now, daddr, saddr, IPPROTO_IPIP, 1);
        let Ok(hdr) = skb.push(hlen) else {
            self.kfree_skb(skb, DropReason::QdiscDrop);
            return None;
        };
        hdr[0] = 0x45;
        hdr[1] = tos;
        hdr[2..4].copy_from_slice(&total.to_be_bytes());
        hdr[4..6].copy_from_slice(&id.to_be_bytes());
        hdr[6..8].copy_from_slice(&if df { [0x40, 0] } else { [0, 0] });
        hdr[8] = ttl;
        hdr[9] = IPPROTO_IPIP;
        hdr[10..12].copy_from_slice(&[0, 0]);
        hdr[12..16].copy_from_slice(&saddr.octets());
        hdr[16..20].copy_from_slice(&daddr.octets());
        let sum = skiff_wire::checksum::csum_fold(skiff_wire::checksum::csum_partial(hdr, 0));
        hdr[10..12].copy_from_slice(&sum.to_be_bytes());
        if skb.reset_network_header().is_err() || skb.set_transport_header(hlen).is_err() {
            self.kfree_skb(skb, DropReason::IpInhdr);
            return None;
        }
        skb.cb.opt = Default::default();
        Some(skb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecn_decapsulation_follows_rfc6040() {
        use EcnDecap::*;
        assert_eq!(ecn_decapsulate(0, 0), Keep);
        assert_eq!(ecn_decapsulate(INET_ECN_ECT_0, 0), Log);
        assert_eq!(ecn_decapsulate(INET_ECN_ECT_1, 0), Log);
        assert_eq!(ecn_decapsulate(INET_ECN_CE, 0), Drop);
        assert_eq!(
            ecn_decapsulate(INET_ECN_CE, INET_ECN_ECT_0),
            Set(INET_ECN_CE)
        );
        assert_eq!(ecn_decapsulate(INET_ECN_CE, INET_ECN_CE), Keep);
        assert_eq!(
            ecn_decapsulate(INET_ECN_ECT_1, INET_ECN_ECT_0),
            Set(INET_ECN_ECT_1)
        );
        assert_eq!(ecn_decapsulate(INET_ECN_NOT_ECT, INET_ECN_ECT_0), Keep);
        assert_eq!(ecn_decapsulate(0x20, 0x21), Keep);
    }

    #[test]
    fn a_full_rx_queue_counts_rx_dropped() {
        use crate::stack::StackConfig;
        let (me, peer) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let mut s = Stack::new(StackConfig::default());
        let eth = s
            .add_device("eth0", EthernetAddress([2, 0, 0, 0, 0, 1]), 1500)
            .unwrap();
        s.set_up(eth, true).unwrap();
        s.add_addr(eth, me, 24).unwrap();
        let t = s.ip_tunnel_add(&IpTunnelParm::new("t", me, peer)).unwrap();
        s.set_up(t, true).unwrap();
        let dst = s.fib.ip_route_output(&Flowi4::new(me)).unwrap();
        // A receive run in progress with its queue full (gro_cells at netdev_max_backlog).
        for _ in 0..IPIP_RX_QLEN {
            let skb = s.alloc_skb(20).unwrap();
            s.ipip.rx.push_back(skb);
        }
        s.ipip.rx_running = true;
        let mut skb = s.alloc_skb(20).unwrap();
        skb.put_slice(&[0x45; 20]).unwrap();
        skb.iif = eth;
        let h = IpHdr {
            saddr: peer,
            daddr: me,
            tos: 0,
            ttl: 64,
            protocol: IPPROTO_IPIP,
            ihl: 20,
            frag_off: 0,
        };
        s.ipip_rcv(skb, &h, &dst);
        assert_eq!(s.ipip.rx.len(), IPIP_RX_QLEN);
        assert_eq!(s.dev(t).unwrap().stats.rx_dropped, 1);
        assert_eq!(s.drop_count(DropReason::CpuBacklog), 1);
    }

    #[test]
    fn skb_cow_head_gives_the_packet_back_when_it_cannot_copy() {
        let mut s = Stack::new(crate::stack::StackConfig::default());
        let mut skb = s.alloc_skb(4).unwrap();
        skb.put_slice(&[1, 2, 3, 4]).unwrap();
        let back = s.skb_cow_head(skb, usize::MAX / 2).unwrap_err();
        assert_eq!(back.data(), &[1, 2, 3, 4]);
        let room = s.skb_cow_head(back, 200).unwrap();
        assert!(room.headroom() >= 200);
        assert_eq!(room.data(), &[1, 2, 3, 4]);
    }

    #[test]
    fn set_tos_keeps_the_checksum_right() {
        let mut ip = [
            0x45, 0x02, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2, 239, 1, 1, 1,
        ];
        let sum = skiff_wire::checksum::ip_fast_csum(&ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        set_tos(&mut ip, 0x03);
        assert_eq!(ip[1], 0x03);
        assert_eq!(skiff_wire::checksum::ip_fast_csum(&ip), 0);
    }
}
