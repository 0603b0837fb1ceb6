//! The multicast routing control API on the mroute socket (a raw IGMP socket): Linux
//! net/ipv4/ipmr.c ip_mroute_setsockopt(), ip_mroute_getsockopt(), ipmr_ioctl(),
//! vif_add(), vif_delete(), ipmr_mfc_add(), ipmr_mfc_delete(), mroute_clean_tables(),
//! mrtsock_destruct(), and /proc/net/ip_mr_vif and /proc/net/ip_mr_cache
//! (ipmr_vif_seq_show(), ipmr_mfc_seq_show()).

use super::ipmr::{MfcCache, VifDevice};
use super::mroute::*;
use crate::errno::Errno;
use crate::socket::{Kind, SockError, SockFd};
use crate::stack::Stack;
use core::fmt::Write;
use skiff_wire::Ipv4Addr;
use skiff_wire::ipv4::IPPROTO_IGMP;

/// MRT_VERSION's value.
pub const MRT_VERSION_VALUE: i32 = 0x0305;
/// A `dvmrpN` device's MTU: Ethernet's less the outer IPv4 header (Linux ip_tunnel's
/// default).
pub const DVMRP_MTU: u32 = 1480;

impl Stack {
    /// setsockopt(fd, SOL_IP, `optname`, `optval`) for the multicast routing options
    /// (MRT_BASE..=MRT_MAX), as a routing daemon calls it: `optval` holds the `int`,
    /// `struct vifctl` or `struct mfcctl` bytes ([`VifCtl::to_bytes`],
    /// [`MfcCtl::to_bytes`]). Errnos as Linux: EOPNOTSUPP on any socket but a raw IGMP
    /// one; EACCES for a socket that is not the mroute socket (skiff has no
    /// CAP_NET_ADMIN to waive it); EINVAL for a wrong length; ENOPROTOOPT for MRT_PIM,
    /// MRT_TABLE, MRT_VERSION and unknown numbers. Linux ip_mroute_setsockopt().
    pub fn ip_mroute_setsockopt(
        &mut self,
        fd: SockFd,
        optname: i32,
        optval: &[u8],
    ) -> Result<(), SockError> {
        self.mroute_check_sock(fd)?;
        if optname != MRT_INIT && self.ipmr.mroute_sk != Some(fd) {
            return Err(Errno::Access);
        }
        let int = || -> Result<i32, Errno> {
            let b: [u8; 4] = optval.try_into().map_err(|_| Errno::Inval)?;
            Ok(i32::from_ne_bytes(b))
        };
        match optname {
            MRT_INIT => {
                int()?;
                if self.ipmr.mroute_sk.is_some() {
                    return Err(Errno::AddrInUse);
                }
                self.ip_ra_control(fd, true)?;
                self.ipmr.mroute_sk = Some(fd);
                self.ipmr.all_mc_forwarding += 1;
                self.ipmr_sync_devices();
                Ok(())
            }
            MRT_DONE => {
                self.mrtsock_destruct(fd);
                Ok(())
            }
            MRT_ADD_VIF | MRT_DEL_VIF => {
                let v = VifCtl::parse(optval)?;
                if usize::from(v.vifi) >= MAXVIFS {
                    return Err(Errno::NFile);
                }
                if optname == MRT_ADD_VIF {
                    self.vif_add(&v, true)
                } else {
                    self.vif_delete(usize::from(v.vifi))
                }
            }
            MRT_ADD_MFC | MRT_DEL_MFC | MRT_ADD_MFC_PROXY | MRT_DEL_MFC_PROXY => {
                let m = MfcCtl::parse(optval)?;
                let parent =
                    matches!(optname, MRT_ADD_MFC_PROXY | MRT_DEL_MFC_PROXY).then_some(m.parent);
                if matches!(optname, MRT_DEL_MFC | MRT_DEL_MFC_PROXY) {
                    self.ipmr_mfc_delete(&m, parent)
                } else {
                    self.ipmr_mfc_add(&m, true, parent)
                }
            }
            MRT_FLUSH => {
                let flags = int()?;
                self.mroute_clean_tables(flags);
                Ok(())
            }
            MRT_ASSERT => {
                self.ipmr.do_assert = int()?;
                Ok(())
            }
            // PIM (MRT_PIM), several tables (MRT_TABLE) are not built; MRT_VERSION is
            // read-only.
            _ => Err(Errno::NoProtoOpt),
        }
    }

    /// getsockopt(fd, SOL_IP, `optname`): MRT_VERSION (0x0305) and MRT_ASSERT; MRT_PIM
    /// and the rest are ENOPROTOOPT. Linux ip_mroute_getsockopt().
    pub fn ip_mroute_getsockopt(&mut self, fd: SockFd, optname: i32) -> Result<i32, SockError> {
        self.mroute_check_sock(fd)?;
        match optname {
            MRT_VERSION => Ok(MRT_VERSION_VALUE),
            MRT_ASSERT => Ok(self.ipmr.do_assert),
            _ => Err(Errno::NoProtoOpt),
        }
    }

    /// ioctl(fd, SIOCGETVIFCNT): a vif's counters. EINVAL past the last vif,
    /// EADDRNOTAVAIL for an empty slot; ENOTTY on a socket that is not raw. Linux
    /// ipmr_ioctl().
    pub fn ipmr_ioctl_getvifcnt(&mut self, fd: SockFd, vifi: u16) -> Result<SiocVifReq, SockError> {
        self.ipmr_ioctl_check(fd)?;
        let i = usize::from(vifi);
        if i >= self.ipmr.maxvif {
            return Err(Errno::Inval);
        }
        let v = self.ipmr.vifs[i].as_ref().ok_or(Errno::AddrNotAvail)?;
        Ok(SiocVifReq {
            vifi,
            icount: v.pkt_in,
            ocount: v.pkt_out,
            ibytes: v.bytes_in,
            obytes: v.bytes_out,
        })
    }

    /// ioctl(fd, SIOCGETSGCNT): an (S,G) entry's counters; EADDRNOTAVAIL without one.
    /// Linux ipmr_ioctl().
    pub fn ipmr_ioctl_getsgcnt(
        &mut self,
        fd: SockFd,
        src: Ipv4Addr,
        grp: Ipv4Addr,
    ) -> Result<SiocSgReq, SockError> {
        self.ipmr_ioctl_check(fd)?;
        let c = self.ipmr.cache_find(src, grp).ok_or(Errno::AddrNotAvail)?;
        let c = &self.ipmr.mfc[c];
        Ok(SiocSgReq {
            src,
            grp,
            pktcnt: c.pkt,
            bytecnt: c.bytes,
            wrong_if: c.wrong_if,
        })
    }

    fn ipmr_ioctl_check(&mut self, fd: SockFd) -> Result<(), SockError> {
        if self.socks.get(fd)?.kind != Kind::Raw {
            return Err(Errno::NoTty);
        }
        Ok(())
    }

    /// Only a raw IGMP socket speaks the API (EOPNOTSUPP).
    fn mroute_check_sock(&mut self, fd: SockFd) -> Result<(), SockError> {
        let s = self.socks.get(fd)?;
        if s.kind != Kind::Raw || s.protocol != IPPROTO_IGMP {
            return Err(Errno::OpNotSupp);
        }
        Ok(())
    }

    /// Linux mrtsock_destruct() (MRT_DONE, or close() of the mroute socket): off the
    /// router alert chain, `conf.all.mc_forwarding` down, the table's vifs, MFC and
    /// unresolved entries gone.
    pub(crate) fn mrtsock_destruct(&mut self, fd: SockFd) {
        if self.ipmr.mroute_sk != Some(fd) {
            return;
        }
        self.socks.ra_chain.retain(|&i| i != fd.0);
        self.ipmr.mroute_sk = None;
        self.ipmr.all_mc_forwarding = self.ipmr.all_mc_forwarding.saturating_sub(1);
        self.mroute_clean_tables(MRT_FLUSH_VIFS | MRT_FLUSH_MFC);
        self.ipmr_sync_devices();
    }

    /// Linux mroute_clean_tables(): the vifs and entries the `MRT_FLUSH_*` bits name.
    fn mroute_clean_tables(&mut self, flags: i32) {
        if flags & (MRT_FLUSH_VIFS | MRT_FLUSH_VIFS_STATIC) != 0 {
            for i in 0..self.ipmr.maxvif {
                let Some(v) = &self.ipmr.vifs[i] else {
                    continue;
                };
                let is_static = v.flags & VIFF_STATIC != 0;
                let wanted = if is_static {
                    flags & MRT_FLUSH_VIFS_STATIC != 0
                } else {
                    flags & MRT_FLUSH_VIFS != 0
                };
                if wanted {
                    let _ = self.vif_delete(i);
                }
            }
        }
        if flags & (MRT_FLUSH_MFC | MRT_FLUSH_MFC_STATIC) != 0 {
            self.ipmr.mfc.retain(|c| {
                let wanted = if c.is_static {
                    flags & MRT_FLUSH_MFC_STATIC != 0
                } else {
                    flags & MRT_FLUSH_MFC != 0
                };
                !wanted
            });
        }
        if flags & MRT_FLUSH_MFC != 0 {
            let gone = core::mem::take(&mut self.ipmr.unres);
            self.ipmr_destroy_unres(gone);
        }
    }

    /// Linux vif_add(): EADDRINUSE for a busy slot; a physical vif by ifindex
    /// (VIFF_USE_IFINDEX) or by local address (EADDRNOTAVAIL without such a device); a
    /// DVMRP tunnel (VIFF_TUNNEL, IPIP, with its `dvmrpN` device); EINVAL for other flags,
    /// VIFF_REGISTER included (no PIM). The device's mc_forwarding goes up.
    fn vif_add(&mut self, v: &VifCtl, mrtsock: bool) -> Result<(), SockError> {
        let vifi = usize::from(v.vifi);
        if self.ipmr.vif_exists(vifi) {
            return Err(Errno::AddrInUse);
        }
        let (ifindex, name, link) = match v.flags {
            VIFF_TUNNEL => {
                let name = format!("dvmrp{}", v.vifi);
                let ifindex = self
                    .ipmr_new_tunnel(&name, v.lcl_addr(), v.rmt_addr, DVMRP_MTU)
                    .ok_or(Errno::NoBufs)?;
                (ifindex, name, 0)
            }
            0 | VIFF_USE_IFINDEX => {
                let ifindex = if v.flags == VIFF_USE_IFINDEX {
                    u32::try_from(v.lcl_ifindex())
                        .ok()
                        .filter(|&i| self.dev(i).is_some())
                } else {
                    self.fib
                        .addrs()
                        .find(|a| a.local == v.lcl_addr())
                        .map(|a| a.ifindex)
                };
                let ifindex = ifindex.ok_or(Errno::AddrNotAvail)?;
                let name = self
                    .dev(ifindex)
                    .map(|d| d.name.clone())
                    .unwrap_or_default();
                (ifindex, name, ifindex)
            }
            _ => return Err(Errno::Inval),
        };
        let flags = u16::from(v.flags) | if mrtsock { 0 } else { VIFF_STATIC };
        self.ipmr.vifs[vifi] = Some(VifDevice {
            ifindex,
            name,
            flags,
            threshold: v.threshold,
            rate_limit: v.rate_limit,
            local: v.lcl,
            remote: v.rmt_addr,
            link,
            pkt_in: 0,
            pkt_out: 0,
            bytes_in: 0,
            bytes_out: 0,
        });
        self.ipmr.maxvif = self.ipmr.maxvif.max(vifi + 1);
        self.ipmr_sync_devices();
        Ok(())
    }

    /// Linux vif_delete(): EADDRNOTAVAIL for an empty slot; `maxvif` shrinks past it. A
    /// tunnel's device goes down (Linux unregisters it).
    fn vif_delete(&mut self, vifi: usize) -> Result<(), SockError> {
        let Some(v) = self.ipmr.vifs.get_mut(vifi).and_then(Option::take) else {
            return Err(Errno::AddrNotAvail);
        };
        if v.flags & u16::from(VIFF_TUNNEL) != 0 {
            self.ipip_vif_tunnel_del(v.ifindex);
        }
        if vifi + 1 == self.ipmr.maxvif {
            self.ipmr.maxvif = (0..vifi)
                .rev()
                .find(|&i| self.ipmr.vif_exists(i))
                .map_or(0, |i| i + 1);
        }
        self.ipmr_sync_devices();
        Ok(())
    }

    /// Linux ipmr_mfc_add(): ENFILE for a parent past MAXVIFS; an existing entry takes
    /// the new parent and TTLs; a new one (EINVAL unless the group is multicast or
    /// 0.0.0.0) resolves its unresolved (S,G), whose queued packets are forwarded.
    fn ipmr_mfc_add(
        &mut self,
        m: &MfcCtl,
        mrtsock: bool,
        parent: Option<u16>,
    ) -> Result<(), SockError> {
        if usize::from(m.parent) >= MAXVIFS {
            return Err(Errno::NFile);
        }
        if let Some(i) = self.ipmr.cache_find_parent(m.origin, m.mcastgrp, parent) {
            let mut c = self.ipmr.mfc[i].clone();
            c.parent = m.parent;
            self.ipmr.update_thresholds(&mut c, &m.ttls);
            c.is_static |= !mrtsock;
            self.ipmr.mfc[i] = c;
            return Ok(());
        }
        if !m.mcastgrp.is_unspecified() && !m.mcastgrp.is_multicast() {
            return Err(Errno::Inval);
        }
        let mut c = MfcCache {
            origin: m.origin,
            mcastgrp: m.mcastgrp,
            parent: m.parent,
            ttls: [255; MAXVIFS],
            minvif: MAXVIFS,
            maxvif: 0,
            pkt: 0,
            bytes: 0,
            wrong_if: 0,
            last_assert: None,
            is_static: !mrtsock,
        };
        self.ipmr.update_thresholds(&mut c, &m.ttls);
        self.ipmr.mfc.push(c);
        let idx = self.ipmr.mfc.len() - 1;
        if let Some(at) = self
            .ipmr
            .unres
            .iter()
            .position(|u| u.origin == m.origin && u.mcastgrp == m.mcastgrp)
        {
            let u = self.ipmr.unres.remove(at);
            self.ipmr_cache_resolve(u, idx);
            self.process_backlog();
        }
        Ok(())
    }

    /// Linux ipmr_mfc_delete(): ENOENT without the entry.
    fn ipmr_mfc_delete(&mut self, m: &MfcCtl, parent: Option<u16>) -> Result<(), SockError> {
        let i = self
            .ipmr
            .cache_find_parent(m.origin, m.mcastgrp, parent)
            .ok_or(Errno::NoEnt)?;
        self.ipmr.mfc.remove(i);
        Ok(())
    }

    /// Tells routing of every device's IN_DEV_MFORWARD (Linux ip_rt_multicast_event()).
    fn ipmr_sync_devices(&mut self) {
        let mut changed = false;
        for ifindex in 1..=self.devs.len() as u32 {
            let on = self.ipmr.dev_mforward(ifindex);
            if let Some(mut d) = self.fib.device(ifindex).cloned()
                && d.mc_forwarding != on
            {
                d.mc_forwarding = on;
                self.fib.set_device(d);
                changed = true;
            }
        }
        if changed {
            self.fib.rt_cache_flush();
        }
    }

    /// `/proc/net/ip_mr_vif`. Linux ipmr_vif_seq_show().
    pub fn render_ip_mr_vif(&self) -> String {
        let mut out = String::from(
            "Interface      BytesIn  PktsIn  BytesOut PktsOut Flags Local    Remote\n",
        );
        for (i, v) in self.ipmr.vifs.iter().enumerate().take(self.ipmr.maxvif) {
            let Some(v) = v else { continue };
            let _ = writeln!(
                out,
                "{i:2} {:<10} {:8} {:7}  {:8} {:7} {:05X} {:08X} {:08X}",
                v.name,
                v.bytes_in,
                v.pkt_in,
                v.bytes_out,
                v.pkt_out,
                v.flags,
                u32::from_le_bytes(v.local),
                u32::from_le_bytes(v.remote.octets()),
            );
        }
        out
    }

    /// `/proc/net/ip_mr_cache`: resolved entries, then unresolved ones (parent -1, zero
    /// counters). Linux ipmr_mfc_seq_show().
    pub fn render_ip_mr_cache(&self) -> String {
        let mut out = String::from("Group    Origin   Iif     Pkts    Bytes    Wrong Oifs\n");
        let be = |a: Ipv4Addr| u32::from_le_bytes(a.octets());
        for c in &self.ipmr.mfc {
            let _ = write!(
                out,
                "{:08X} {:08X} {:<3} {:8} {:8} {:8}",
                be(c.mcastgrp),
                be(c.origin),
                c.parent as i16,
                c.pkt,
                c.bytes,
                c.wrong_if
            );
            for n in c.minvif..c.maxvif.min(MAXVIFS) {
                if self.ipmr.vif_exists(n) && c.ttls[n] < 255 {
                    let _ = write!(out, " {n:2}:{:<3}", c.ttls[n]);
                }
            }
            out.push('\n');
        }
        for u in &self.ipmr.unres {
            let _ = writeln!(
                out,
                "{:08X} {:08X} {:<3} {:8} {:8} {:8}",
                be(u.mcastgrp),
                be(u.origin),
                -1,
                0,
                0,
                0
            );
        }
        out
    }
}
