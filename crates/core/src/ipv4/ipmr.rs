//! IPv4 multicast routing: the vif table, the multicast forwarding cache (MFC) with its
//! unresolved queue, and the forwarding path. Linux net/ipv4/ipmr.c (ip_mr_input(),
//! ip_mr_forward(), ipmr_queue_xmit() (its ip_encap() is in `ipip.rs`), ipmr_cache_report(),
//! ipmr_cache_unresolved(), ipmr_expire_process()) and ipmr_base.c (the (*,G) and (*,*)
//! lookups). One table per stack; its control API is in `ipmr_ctl.rs`.

use super::mroute::{IGMPMSG_NOCACHE, IGMPMSG_WRONGVIF, MAXVIFS, VIFF_TUNNEL};
use crate::drop::DropReason;
use crate::ipv4::hdr::IpHdr;
use crate::netfilter::NfInetHook;
use crate::route::cache::{DstCache, DstKey};
use crate::route::{DstEntry, Flowi4, RouteError, RtFlags};
use crate::skb::{IpSkbFlags, SkBuff};
use crate::socket::{RxEntry, SockFd};
use crate::stack::{Stack, stage};
use crate::time::Instant;
use core::time::Duration;
use skiff_wire::Ipv4Addr;
use skiff_wire::ipv4::{IPPROTO_IGMP, IPPROTO_IPIP};

/// Packets queued on one unresolved (S,G) entry: Linux queues while fewer than 4 wait
/// (`qlen > 3` drops).
pub const MFC_UNRES_QLEN: usize = 4;
/// Unresolved entries at once. Linux has had no limit since 5.3 (it was 10); skiff
/// bounds the memory remote traffic can pin for 10 s.
pub const MFC_UNRES_MAX: usize = 1024;
/// An unresolved entry lives 10 s (ipmr_cache_alloc_unres()).
pub const MFC_UNRES_EXPIRE: Duration = Duration::from_secs(10);
/// At most one WRONGVIF upcall per entry in this interval (MFC_ASSERT_THRESH, 3 s).
pub const MFC_ASSERT_THRESH: Duration = Duration::from_secs(3);

/// One virtual interface. Linux `struct vif_device`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VifDevice {
    /// The device; a tunnel vif's is its `dvmrpN` device, which receives its IPIP.
    pub ifindex: u32,
    /// The device's name; `dvmrpN` for a tunnel vif, as Linux names its device.
    pub name: String,
    /// `VIFF_*`, VIFF_STATIC included.
    pub flags: u16,
    pub threshold: u8,
    pub rate_limit: u32,
    /// `vifc_lcl_addr` (the union's bytes) and `vifc_rmt_addr`.
    pub local: [u8; 4],
    pub remote: Ipv4Addr,
    /// The device output routes use (0: any, for a tunnel).
    pub link: u32,
    pub pkt_in: u64,
    pub pkt_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// A resolved MFC entry. Linux `struct mfc_cache` / `struct mr_mfc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfcCache {
    pub origin: Ipv4Addr,
    pub mcastgrp: Ipv4Addr,
    pub parent: u16,
    /// Per-vif TTL thresholds; 255: not an output vif.
    pub ttls: [u8; MAXVIFS],
    pub minvif: usize,
    pub maxvif: usize,
    pub pkt: u64,
    pub bytes: u64,
    pub wrong_if: u64,
    pub last_assert: Option<Instant>,
    /// Added by a socket other than the mroute socket (MFC_STATIC).
    pub is_static: bool,
}

/// An unresolved (S,G): its queued packets wait for MRT_ADD_MFC.
#[derive(Debug)]
pub struct MfcUnres {
    pub origin: Ipv4Addr,
    pub mcastgrp: Ipv4Addr,
    pub expires: Instant,
    pub queue: Vec<SkBuff>,
}

/// The multicast routing table. Linux `struct mr_table` (one per netns here: no
/// MRT_TABLE).
#[derive(Debug, Default)]
pub struct MrTable {
    pub vifs: [Option<VifDevice>; MAXVIFS],
    /// One past the highest vif in use.
    pub maxvif: usize,
    /// Resolved entries in insertion order (`mfc_cache_list`).
    pub mfc: Vec<MfcCache>,
    /// Unresolved entries, newest first (`mfc_unres_queue`).
    pub unres: Vec<MfcUnres>,
    pub mroute_sk: Option<SockFd>,
    /// MRT_ASSERT's value.
    pub do_assert: i32,
    /// `conf.all.mc_forwarding` (raised by MRT_INIT).
    pub all_mc_forwarding: u32,
}

/// What ip_mr_forward() needs of an entry, copied out of the table.
#[derive(Clone, Copy)]
struct Fwd {
    origin: Ipv4Addr,
    mcastgrp: Ipv4Addr,
    parent: usize,
    ttls: [u8; MAXVIFS],
    minvif: usize,
    maxvif: usize,
}

impl MrTable {
    /// Linux ipmr_find_vif(): the vif of device `ifindex`.
    pub fn find_vif(&self, ifindex: u32) -> Option<usize> {
        (0..self.maxvif).find(|&i| self.vifs[i].as_ref().is_some_and(|v| v.ifindex == ifindex))
    }

    pub fn vif_exists(&self, vifi: usize) -> bool {
        self.vifs.get(vifi).is_some_and(Option::is_some)
    }

    /// Linux IN_DEV_MFORWARD(): `conf.all.mc_forwarding` and the device's (a vif of
    /// the table) both on.
    pub fn dev_mforward(&self, ifindex: u32) -> bool {
        self.all_mc_forwarding > 0 && self.dev_mc_forwarding(ifindex) > 0
    }

    /// The device's `mc_forwarding`: how many vifs it is.
    pub fn dev_mc_forwarding(&self, ifindex: u32) -> u32 {
        self.vifs
            .iter()
            .flatten()
            .filter(|v| v.ifindex == ifindex)
            .count() as u32
    }

    /// Linux ipmr_cache_find(): the (S,G) entry.
    pub fn cache_find(&self, origin: Ipv4Addr, grp: Ipv4Addr) -> Option<usize> {
        self.mfc
            .iter()
            .position(|c| c.origin == origin && c.mcastgrp == grp)
    }

    /// Linux ipmr_cache_find_parent(): `parent` None matches any parent.
    pub fn cache_find_parent(
        &self,
        origin: Ipv4Addr,
        grp: Ipv4Addr,
        parent: Option<u16>,
    ) -> Option<usize> {
        self.mfc.iter().position(|c| {
            c.origin == origin && c.mcastgrp == grp && parent.is_none_or(|p| p == c.parent)
        })
    }

    /// Linux mr_mfc_find_any_parent(): a (*,*) entry with `vifi` among its oifs.
    fn find_any_parent(&self, vifi: usize) -> Option<usize> {
        self.mfc.iter().position(|c| {
            c.origin.is_unspecified() && c.mcastgrp.is_unspecified() && c.ttls[vifi] < 255
        })
    }

    /// Linux ipmr_cache_find_any() / mr_mfc_find_any(): a (*,G) entry whose oifs hold
    /// `vifi` (directly or through the (*,*) entry of its parent), else a (*,*) entry.
    pub fn cache_find_any(&self, grp: Ipv4Addr, vifi: usize) -> Option<usize> {
        if vifi >= MAXVIFS {
            return None;
        }
        if grp.is_unspecified() {
            return self.find_any_parent(vifi);
        }
        for (i, c) in self.mfc.iter().enumerate() {
            if !c.origin.is_unspecified() || c.mcastgrp != grp {
                continue;
            }
            if c.ttls[vifi] < 255 {
                return Some(i);
            }
            if self
                .find_any_parent(usize::from(c.parent))
                .is_some_and(|p| self.mfc[p].ttls[vifi] < 255)
            {
                return Some(i);
            }
        }
        self.find_any_parent(vifi)
    }

    /// Linux ipmr_update_thresholds(): TTLs of existing vifs between 1 and 254 make oifs.
    pub fn update_thresholds(&self, c: &mut MfcCache, ttls: &[u8; MAXVIFS]) {
        c.minvif = MAXVIFS;
        c.maxvif = 0;
        c.ttls = [255; MAXVIFS];
        for (vifi, &t) in ttls.iter().enumerate().take(self.maxvif) {
            if self.vif_exists(vifi) && t != 0 && t < 255 {
                c.ttls[vifi] = t;
                c.minvif = c.minvif.min(vifi);
                c.maxvif = c.maxvif.max(vifi + 1);
            }
        }
    }

    /// The earliest unresolved expiry (the `ipmr_expire_timer`).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.unres.iter().map(|u| u.expires).min()
    }
}

impl Stack {
    /// The multicast routing table (read-only; changed through the mroute socket).
    pub fn mr_table(&self) -> &MrTable {
        &self.ipmr
    }

    /// Linux ipmr.c ip_mr_input(): a packet on a multicast-forwarding device. IGMP not for
    /// us goes to the mroute socket; otherwise it is forwarded by its MFC entry (or queued
    /// unresolved), and delivered locally as well when the route is RTCF_LOCAL. `h` is the
    /// packet's header.
    pub(crate) fn ip_mr_input(&mut self, mut skb: SkBuff, h: &IpHdr, dst: &DstEntry) {
        stage!(self, "ip_mr_input");
        let local = dst.flags.contains(RtFlags::LOCAL);
        // Looped back after forwarding: never forwarded twice.
        if skb.cb.flags.contains(IpSkbFlags::FORWARDED) {
            return self.mr_dont_forward(skb, dst, local);
        }
        let mut h = *h;
        if !local {
            if skb.cb.opt.layout.router_alert != 0 {
                // The mroute socket is on the router alert chain (MRT_INIT).
                skb = match self.ip_call_ra_chain(skb, dst) {
                    Ok(()) => return,
                    Err(skb) => skb,
                };
                h = match IpHdr::of(&skb) {
                    Some(h) => h,
                    None => return self.kfree_skb(skb, DropReason::IpInhdr),
                };
            } else if h.protocol == IPPROTO_IGMP
                && let Some(fd) = self.ipmr.mroute_sk
            {
                // IGMPv1 and old IGMPv2 reports to routable groups carry no router
                // alert: the daemon must see them all the same.
                let entry = RxEntry::new(skb, 0, &h, dst);
                if let Err(skb) = self.sock_queue_rcv(fd.0, entry) {
                    self.kfree_skb(skb, DropReason::SocketRcvbuff);
                }
                return;
            }
        }
        let iif = skb.iif;
        let vif = self.ipmr.find_vif(iif);
        let cache = self
            .ipmr
            .cache_find(h.saddr, h.daddr)
            .or_else(|| vif.and_then(|v| self.ipmr.cache_find_any(h.daddr, v)));
        let Some(c) = cache else {
            if local {
                let copy = skb.clone();
                self.ip_local_deliver(copy, dst);
            }
            match vif {
                Some(v) => self.ipmr_cache_unresolved(v, skb, &h),
                None => self.kfree_skb(skb, DropReason::IpmrNoOif),
            }
            return;
        };
        if let Some(skb) = self.ip_mr_forward(iif, skb, c, local) {
            self.ip_local_deliver(skb, dst);
        }
    }

    /// The `dont_forward` label of ip_mr_input(): local delivery or a drop.
    fn mr_dont_forward(&mut self, skb: SkBuff, dst: &DstEntry, local: bool) {
        if local {
            self.ip_local_deliver(skb, dst);
        } else {
            self.kfree_skb(skb, DropReason::IpmrNoOif);
        }
    }

    /// Linux ip_mr_forward(): the RPF check (the wrong vif is counted, and with MRT_ASSERT
    /// reported at most every 3 s), then a copy for every oif whose TTL threshold the
    /// packet exceeds, the packet itself for the last. Returns the packet when `local`
    /// (the caller delivers it).
    fn ip_mr_forward(&mut self, iif: u32, skb: SkBuff, c: usize, local: bool) -> Option<SkBuff> {
        stage!(self, "ip_mr_forward");
        let now = self.now;
        let len = skb.len() as u64;
        let true_vifi = self.ipmr.find_vif(iif);
        let f = {
            let e = self.ipmr.mfc.get_mut(c)?;
            e.pkt += 1;
            e.bytes += len;
            Fwd {
                origin: e.origin,
                mcastgrp: e.mcastgrp,
                parent: usize::from(e.parent),
                ttls: e.ttls,
                minvif: e.minvif,
                maxvif: e.maxvif,
            }
        };
        let Some(h) = IpHdr::of(&skb) else {
            self.kfree_skb(skb, DropReason::IpInhdr);
            return None;
        };
        // A (*,G) entry: arriving on any oif of the (*,*) entry of its parent is right.
        let proxy_ok = f.origin.is_unspecified()
            && true_vifi.is_some_and(|t| {
                self.ipmr
                    .find_any_parent(f.parent)
                    .is_some_and(|p| self.ipmr.mfc[p].ttls[t] < 255)
            });
        let parent_dev = self
            .ipmr
            .vifs
            .get(f.parent)
            .and_then(|v| v.as_ref())
            .map(|v| v.ifindex);
        if !proxy_ok && parent_dev != Some(iif) {
            let assert = {
                let t = &mut self.ipmr;
                let do_assert = t.do_assert != 0;
                let e = &mut t.mfc[c];
                e.wrong_if += 1;
                match true_vifi {
                    Some(tv)
                        if do_assert
                            && e.ttls[tv] < 255
                            && e.last_assert.is_none_or(|l| now > l + MFC_ASSERT_THRESH) =>
                    {
                        e.last_assert = Some(now);
                        Some(tv)
                    }
                    _ => None,
                }
            };
            if let Some(tv) = assert {
                let _ = self.ipmr_cache_report(&skb, tv, IGMPMSG_WRONGVIF);
            }
            if local {
                return Some(skb);
            }
            self.kfree_skb(skb, DropReason::IpmrWrongVif);
            return None;
        }
        if let Some(v) = self.ipmr.vifs.get_mut(f.parent).and_then(|v| v.as_mut()) {
            v.pkt_in += 1;
            v.bytes_in += len;
        }
        let mut psend: Option<usize> = None;
        let mut skb = Some(skb);
        if f.origin.is_unspecified() && f.mcastgrp.is_unspecified() {
            // (*,*): only what arrives off the upstream goes, and only upstream.
            if let Some(tv) = true_vifi
                && tv != f.parent
                && h.ttl > f.ttls[f.parent]
            {
                psend = Some(f.parent);
            }
        } else {
            for ct in (f.minvif..f.maxvif.min(MAXVIFS)).rev() {
                // A (*,G) entry never sends back out the arrival vif.
                if (!f.origin.is_unspecified() || Some(ct) != true_vifi) && h.ttl > f.ttls[ct] {
                    if let (Some(prev), Some(p)) = (psend, skb.as_ref()) {
                        let copy = self.pool.copy(p);
                        self.ipmr_queue_xmit(copy, prev);
                    }
                    psend = Some(ct);
                }
            }
        }
        let skb = skb.take()?;
        match psend {
            Some(last) if local => {
                let copy = self.pool.copy(&skb);
                self.ipmr_queue_xmit(copy, last);
                Some(skb)
            }
            Some(last) => {
                self.ipmr_queue_xmit(skb, last);
                None
            }
            None if local => Some(skb),
            None => {
                self.kfree_skb(skb, DropReason::IpmrNoOif);
                None
            }
        }
    }

    /// Linux ipmr_queue_xmit(): the route for the vif (IPIP to the remote end for a
    /// tunnel), no fragmenting a DF packet over the MTU (FragFails, and no ICMP for
    /// multicast), TTL - 1, the tunnel header, IPSKB_FORWARDED, FORWARD hook, output.
    fn ipmr_queue_xmit(&mut self, mut skb: SkBuff, vifi: usize) {
        stage!(self, "ipmr_queue_xmit");
        let Some(vif) = self.ipmr.vifs.get(vifi).and_then(|v| v.as_ref()) else {
            return self.kfree_skb(skb, DropReason::IpmrNoOif);
        };
        let Some(h) = IpHdr::of(&skb) else {
            return self.kfree_skb(skb, DropReason::IpInhdr);
        };
        let tunnel = vif.flags & u16::from(VIFF_TUNNEL) != 0;
        let mut fl = if tunnel {
            let mut fl = Flowi4::new(vif.remote);
            fl.saddr = Ipv4Addr::from(vif.local);
            fl
        } else {
            Flowi4::new(h.daddr)
        };
        // Linux asks for IPPROTO_IPIP for physical vifs too.
        fl.proto = IPPROTO_IPIP;
        fl.tos = h.tos & 0xfc;
        fl.oif = vif.link;
        let (local, remote) = (Ipv4Addr::from(vif.local), vif.remote);
        let Ok(dst) = self.ipmr_route_output(fl) else {
            return self.kfree_skb(skb, DropReason::IpmrNoRoute);
        };
        let encap = if tunnel { 20 } else { 0 };
        if skb.len() + encap > dst.mtu as usize && h.dont_frag() {
            return self.kfree_skb(skb, DropReason::IpmrFragFails);
        }
        if let Some(v) = self.ipmr.vifs[vifi].as_mut() {
            v.pkt_out += 1;
            v.bytes_out += skb.len() as u64;
        }
        super::forward::ip_decrease_ttl(&mut skb);
        if tunnel {
            skb = match self.ip_encap(skb, local, remote) {
                Some(skb) => skb,
                None => return,
            };
        }
        skb.cb.flags |= IpSkbFlags::FORWARDED;
        let iif = skb.iif;
        if let Some(skb) = self.nf_hook(NfInetHook::Forward, skb, iif, dst.dev) {
            self.ipmr_forward_finish(skb, &dst);
        }
    }

    /// ipmr_queue_xmit()'s ip_route_output_ports(), through the dst cache: for a group,
    /// with ip_check_mc_rcu() on the output device (whose membership changes flush the
    /// cache).
    fn ipmr_route_output(&mut self, fl: Flowi4) -> Result<DstEntry, RouteError> {
        let key = DstKey {
            daddr: fl.daddr,
            saddr: fl.saddr,
            tos: fl.tos,
            dev: fl.oif,
            input: false,
            proto: fl.proto,
        };
        let genid = self.fib.genid();
        DstCache::lookup(
            self,
            |s| &mut s.dst_cache,
            key,
            genid,
            |s, _| {
                let mut dst = s.fib.ip_route_output(&fl)?;
                s.ip_mc_check_local(&mut dst, fl.daddr);
                Ok(dst)
            },
        )
    }

    /// Linux ipmr_forward_finish(): count, options, dst_output().
    fn ipmr_forward_finish(&mut self, mut skb: SkBuff, dst: &DstEntry) {
        stage!(self, "ipmr_forward_finish");
        self.mib.ip.forw_datagrams += 1;
        if skb.cb.opt.layout.optlen != 0 {
            self.ip_forward_options(&mut skb, dst);
        }
        // Errors were counted and the packet freed where they happened.
        let _ = self.dst_output(skb, dst);
    }

    /// Linux ipmr_cache_report(): an upcall to the mroute socket, the packet's IP header
    /// with im_msgtype over the TTL, protocol 0 (im_mbz), the vif over the checksum,
    /// then an 8-byte IGMP header of that type. Err: no mroute socket (EINVAL) or its
    /// queue is full (ENOBUFS).
    pub(crate) fn ipmr_cache_report(
        &mut self,
        pkt: &SkBuff,
        vifi: usize,
        msgtype: u8,
    ) -> Result<(), crate::errno::Errno> {
        let fd = self.ipmr.mroute_sk.ok_or(crate::errno::Errno::Inval)?;
        let h = IpHdr::of(pkt).ok_or(crate::errno::Errno::Inval)?;
        let hdr = pkt
            .network_header_bytes()
            .and_then(|b| b.get(..h.ihl))
            .ok_or(crate::errno::Errno::Inval)?;
        let mut msg = self
            .pool
            .alloc(0, h.ihl + 8)
            .map_err(|_| crate::errno::Errno::NoBufs)?;
        let ok =
            msg.put_slice(hdr).is_ok() && msg.put_slice(&[msgtype, 0, 0, 0, 0, 0, 0, 0]).is_ok();
        let total = (h.ihl + 8) as u16;
        let data = msg.data_mut();
        if !ok || data.len() < 20 {
            self.pool.recycle(msg);
            return Err(crate::errno::Errno::NoBufs);
        }
        data[2..4].copy_from_slice(&total.to_be_bytes());
        data[8] = msgtype;
        data[9] = 0;
        data[10] = vifi as u8;
        data[11] = (vifi >> 8) as u8;
        let _ = msg.reset_network_header();
        msg.iif = pkt.iif;
        // The pktinfo of the original packet (ipv4_pktinfo_prepare()).
        let dst = DstEntry {
            rt_type: crate::route::RouteType::Multicast,
            input: crate::route::DstInput::MrInput,
            flags: RtFlags::MULTICAST,
            dev: pkt.iif,
            iif: pkt.iif,
            gateway: None,
            mtu: 0,
            saddr: h.daddr,
            daddr: h.daddr,
            genid: 0,
        };
        let entry = RxEntry::new(msg, 0, &h, &dst);
        // A full mroute socket drops the upcall (Linux ipmr_cache_report → kfree_skb).
        self.sock_queue_rcv(fd.0, entry).map_err(|skb| {
            self.kfree_skb(skb, DropReason::SocketRcvbuff);
            crate::errno::Errno::NoBufs
        })
    }

    /// Linux ipmr_cache_unresolved(): a packet with no MFC entry waits on its (S,G)'s
    /// unresolved entry; a new entry sends IGMPMSG_NOCACHE to the daemon first (no
    /// entry if that fails), and lives 10 s.
    fn ipmr_cache_unresolved(&mut self, vifi: usize, skb: SkBuff, h: &IpHdr) {
        stage!(self, "ipmr_cache_unresolved");
        let at = self
            .ipmr
            .unres
            .iter()
            .position(|u| u.mcastgrp == h.daddr && u.origin == h.saddr);
        let at = match at {
            Some(at) => at,
            None => {
                if self.ipmr.unres.len() >= MFC_UNRES_MAX {
                    return self.kfree_skb(skb, DropReason::IpmrUnresQueue);
                }
                if self.ipmr_cache_report(&skb, vifi, IGMPMSG_NOCACHE).is_err() {
                    return self.kfree_skb(skb, DropReason::IpmrNoOif);
                }
                self.ipmr.unres.insert(
                    0,
                    MfcUnres {
                        origin: h.saddr,
                        mcastgrp: h.daddr,
                        expires: self.now + MFC_UNRES_EXPIRE,
                        queue: Vec::new(),
                    },
                );
                0
            }
        };
        let u = &mut self.ipmr.unres[at];
        if u.queue.len() >= MFC_UNRES_QLEN {
            return self.kfree_skb(skb, DropReason::IpmrUnresQueue);
        }
        u.queue.push(skb);
    }

    /// Linux ipmr_expire_process(): unresolved entries past their 10 s go, with their
    /// queued packets.
    pub(crate) fn ipmr_expire_process(&mut self, now: Instant) {
        if self.ipmr.unres.iter().all(|u| u.expires > now) {
            return;
        }
        stage!(self, "ipmr_expire_process");
        let (gone, kept) = core::mem::take(&mut self.ipmr.unres)
            .into_iter()
            .partition(|u| u.expires <= now);
        self.ipmr.unres = kept;
        self.ipmr_destroy_unres(gone);
    }

    /// Linux ipmr_destroy_unres(): the queued packets are dropped.
    pub(crate) fn ipmr_destroy_unres(&mut self, gone: Vec<MfcUnres>) {
        for u in gone {
            for skb in u.queue {
                self.kfree_skb(skb, DropReason::IpmrUnresExpired);
            }
        }
    }

    /// Linux ipmr_cache_resolve(): the packets queued on an unresolved (S,G) go by the new
    /// entry `c` (not delivered locally again: that happened on arrival).
    pub(crate) fn ipmr_cache_resolve(&mut self, u: MfcUnres, c: usize) {
        for skb in u.queue {
            let iif = skb.iif;
            let _ = self.ip_mr_forward(iif, skb, c, false);
        }
    }
}
