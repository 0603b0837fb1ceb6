//! The multicast routing API's numbers and byte structures, as a routing daemon passes
//! them to setsockopt(): Linux include/uapi/linux/mroute.h (`struct vifctl`,
//! `struct mfcctl`, `struct igmpmsg`, `struct sioc_vif_req`, `struct sioc_sg_req`).
//! Integers other than addresses are in host order (little-endian, as on x86-64 Linux).

use crate::errno::Errno;
use skiff_wire::Ipv4Addr;

/// The first multicast routing option (level SOL_IP).
pub const MRT_BASE: i32 = 200;
/// Activates the kernel mroute code: this socket becomes the mroute socket.
pub const MRT_INIT: i32 = MRT_BASE;
/// Shuts it down (vifs, MFC, unresolved entries, mc_forwarding).
pub const MRT_DONE: i32 = MRT_BASE + 1;
/// Adds a virtual interface (`struct vifctl`).
pub const MRT_ADD_VIF: i32 = MRT_BASE + 2;
/// Deletes a virtual interface (`struct vifctl`, only `vifc_vifi` is read).
pub const MRT_DEL_VIF: i32 = MRT_BASE + 3;
/// Adds or replaces a multicast forwarding cache entry (`struct mfcctl`).
pub const MRT_ADD_MFC: i32 = MRT_BASE + 4;
/// Deletes one (`struct mfcctl`).
pub const MRT_DEL_MFC: i32 = MRT_BASE + 5;
/// getsockopt: the API version, 0x0305.
pub const MRT_VERSION: i32 = MRT_BASE + 6;
/// Asks for IGMPMSG_WRONGVIF upcalls (PIM asserts).
pub const MRT_ASSERT: i32 = MRT_BASE + 7;
/// PIM: not built (Linux without CONFIG_IP_PIMSM_V1/V2: ENOPROTOOPT).
pub const MRT_PIM: i32 = MRT_BASE + 8;
/// Multiple tables: not built (Linux without CONFIG_IP_MROUTE_MULTIPLE_TABLES: ENOPROTOOPT).
pub const MRT_TABLE: i32 = MRT_BASE + 9;
/// MRT_ADD_MFC matching the parent too.
pub const MRT_ADD_MFC_PROXY: i32 = MRT_BASE + 10;
/// MRT_DEL_MFC matching the parent too.
pub const MRT_DEL_MFC_PROXY: i32 = MRT_BASE + 11;
/// Flushes what the `MRT_FLUSH_*` bits of the int value name.
pub const MRT_FLUSH: i32 = MRT_BASE + 12;
/// The last option number.
pub const MRT_MAX: i32 = MRT_BASE + 12;

/// `MRT_FLUSH` bits.
pub const MRT_FLUSH_MFC: i32 = 1;
pub const MRT_FLUSH_MFC_STATIC: i32 = 2;
pub const MRT_FLUSH_VIFS: i32 = 4;
pub const MRT_FLUSH_VIFS_STATIC: i32 = 8;

/// The ioctls (SIOCPROTOPRIVATE + n); skiff has no ioctl(): see
/// `Stack::ipmr_ioctl_getvifcnt` and `Stack::ipmr_ioctl_getsgcnt`.
pub const SIOCGETVIFCNT: u32 = 0x89e0;
pub const SIOCGETSGCNT: u32 = 0x89e1;

/// The number of vifs a table holds.
pub const MAXVIFS: usize = 32;

/// `vifc_flags`: an IPIP tunnel (DVMRP).
pub const VIFF_TUNNEL: u8 = 0x1;
/// Source routing (not implemented by Linux either).
pub const VIFF_SRCRT: u8 = 0x2;
/// A PIM register vif: not built (EINVAL, as Linux without PIM-SM).
pub const VIFF_REGISTER: u8 = 0x4;
/// `vifc_lcl_ifindex` names the device instead of `vifc_lcl_addr`.
pub const VIFF_USE_IFINDEX: u8 = 0x8;
/// A vif not added by the mroute socket (Linux mroute_base.h).
pub const VIFF_STATIC: u16 = 0x8000;

/// Upcall types (`im_msgtype`).
pub const IGMPMSG_NOCACHE: u8 = 1;
pub const IGMPMSG_WRONGVIF: u8 = 2;
pub const IGMPMSG_WHOLEPKT: u8 = 3;
pub const IGMPMSG_WRVIFWHOLE: u8 = 4;

/// Linux `struct vifctl` (16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VifCtl {
    pub vifi: u16,
    pub flags: u8,
    /// The TTL a packet needs to leave by this vif (Linux stores it, forwarding uses the
    /// MFC's per-vif TTLs).
    pub threshold: u8,
    /// Not implemented by Linux (stored).
    pub rate_limit: u32,
    /// The union `vifc_lcl_addr` / `vifc_lcl_ifindex`, as its four bytes.
    pub lcl: [u8; 4],
    /// The tunnel's remote end.
    pub rmt_addr: Ipv4Addr,
}

impl Default for VifCtl {
    fn default() -> Self {
        VifCtl {
            vifi: 0,
            flags: 0,
            threshold: 1,
            rate_limit: 0,
            lcl: [0; 4],
            rmt_addr: Ipv4Addr::UNSPECIFIED,
        }
    }
}

impl VifCtl {
    pub const LEN: usize = 16;

    /// A physical vif on the device with `ifindex` (VIFF_USE_IFINDEX).
    pub fn by_ifindex(vifi: u16, ifindex: u32, threshold: u8) -> VifCtl {
        VifCtl {
            vifi,
            flags: VIFF_USE_IFINDEX,
            threshold,
            lcl: (ifindex as i32).to_ne_bytes(),
            ..VifCtl::default()
        }
    }

    /// A physical vif on the device that has `addr`.
    pub fn by_addr(vifi: u16, addr: Ipv4Addr, threshold: u8) -> VifCtl {
        VifCtl {
            vifi,
            threshold,
            lcl: addr.octets(),
            ..VifCtl::default()
        }
    }

    /// A DVMRP IPIP tunnel vif from `local` to `remote`.
    pub fn tunnel(vifi: u16, local: Ipv4Addr, remote: Ipv4Addr, threshold: u8) -> VifCtl {
        VifCtl {
            vifi,
            flags: VIFF_TUNNEL,
            threshold,
            lcl: local.octets(),
            rmt_addr: remote,
            ..VifCtl::default()
        }
    }

    /// `vifc_lcl_addr`.
    pub fn lcl_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.lcl)
    }

    /// `vifc_lcl_ifindex`.
    pub fn lcl_ifindex(&self) -> i32 {
        i32::from_ne_bytes(self.lcl)
    }

    /// Reads the structure; EINVAL unless `b` is exactly its size (Linux checks optlen).
    pub fn parse(b: &[u8]) -> Result<VifCtl, Errno> {
        let b: &[u8; Self::LEN] = b.try_into().map_err(|_| Errno::Inval)?;
        Ok(VifCtl {
            vifi: u16::from_ne_bytes([b[0], b[1]]),
            flags: b[2],
            threshold: b[3],
            rate_limit: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
            lcl: [b[8], b[9], b[10], b[11]],
            rmt_addr: Ipv4Addr::new(b[12], b[13], b[14], b[15]),
        })
    }

    /// The bytes a daemon passes.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut b = [0; Self::LEN];
        b[0..2].copy_from_slice(&self.vifi.to_ne_bytes());
        b[2] = self.flags;
        b[3] = self.threshold;
        b[4..8].copy_from_slice(&self.rate_limit.to_ne_bytes());
        b[8..12].copy_from_slice(&self.lcl);
        b[12..16].copy_from_slice(&self.rmt_addr.octets());
        b
    }
}

/// Linux `struct mfcctl` (60 bytes): an (S,G) entry, (*,G) with origin 0.0.0.0, (*,*)
/// with both 0.0.0.0. A TTL of 0 or 255 means "not an output vif"; a packet leaves by
/// vif n when its TTL is above `ttls[n]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MfcCtl {
    pub origin: Ipv4Addr,
    pub mcastgrp: Ipv4Addr,
    /// The vif packets must arrive on (RPF).
    pub parent: u16,
    pub ttls: [u8; MAXVIFS],
    /// Unused on input (Linux ignores them).
    pub pkt_cnt: u32,
    pub byte_cnt: u32,
    pub wrong_if: u32,
    pub expire: i32,
}

impl MfcCtl {
    pub const LEN: usize = 60;

    /// An entry forwarding from `parent` to each `(vif, ttl threshold)` of `oifs`.
    pub fn new(origin: Ipv4Addr, mcastgrp: Ipv4Addr, parent: u16, oifs: &[(usize, u8)]) -> Self {
        let mut ttls = [0; MAXVIFS];
        for &(v, t) in oifs {
            if let Some(slot) = ttls.get_mut(v) {
                *slot = t;
            }
        }
        MfcCtl {
            origin,
            mcastgrp,
            parent,
            ttls,
            pkt_cnt: 0,
            byte_cnt: 0,
            wrong_if: 0,
            expire: 0,
        }
    }

    /// Reads the structure; EINVAL unless `b` is exactly its size.
    pub fn parse(b: &[u8]) -> Result<MfcCtl, Errno> {
        let b: &[u8; Self::LEN] = b.try_into().map_err(|_| Errno::Inval)?;
        let u32_at = |i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut ttls = [0; MAXVIFS];
        ttls.copy_from_slice(&b[10..10 + MAXVIFS]);
        Ok(MfcCtl {
            origin: Ipv4Addr::new(b[0], b[1], b[2], b[3]),
            mcastgrp: Ipv4Addr::new(b[4], b[5], b[6], b[7]),
            parent: u16::from_ne_bytes([b[8], b[9]]),
            ttls,
            pkt_cnt: u32_at(44),
            byte_cnt: u32_at(48),
            wrong_if: u32_at(52),
            expire: u32_at(56) as i32,
        })
    }

    /// The bytes a daemon passes (two bytes of padding after the TTLs).
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut b = [0; Self::LEN];
        b[0..4].copy_from_slice(&self.origin.octets());
        b[4..8].copy_from_slice(&self.mcastgrp.octets());
        b[8..10].copy_from_slice(&self.parent.to_ne_bytes());
        b[10..42].copy_from_slice(&self.ttls);
        b[44..48].copy_from_slice(&self.pkt_cnt.to_ne_bytes());
        b[48..52].copy_from_slice(&self.byte_cnt.to_ne_bytes());
        b[52..56].copy_from_slice(&self.wrong_if.to_ne_bytes());
        b[56..60].copy_from_slice(&self.expire.to_ne_bytes());
        b
    }
}

/// An upcall read from the mroute socket: Linux `struct igmpmsg`, which overlays the
/// copied IP header (im_msgtype where the TTL was, im_mbz = 0 where the protocol was,
/// the vif where the checksum was).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IgmpMsg {
    pub im_msgtype: u8,
    pub im_mbz: u8,
    /// im_vif | im_vif_hi << 8.
    pub vif: u16,
    pub im_src: Ipv4Addr,
    pub im_dst: Ipv4Addr,
}

impl IgmpMsg {
    /// Reads an upcall (what recvfrom() on the mroute socket returned); `None` for
    /// anything shorter than an IP header or with a non-zero `im_mbz` (a real IGMP
    /// packet, protocol 2).
    pub fn parse(b: &[u8]) -> Option<IgmpMsg> {
        let b = b.get(..20)?;
        (b[9] == 0).then(|| IgmpMsg {
            im_msgtype: b[8],
            im_mbz: b[9],
            vif: u16::from(b[10]) | u16::from(b[11]) << 8,
            im_src: Ipv4Addr::new(b[12], b[13], b[14], b[15]),
            im_dst: Ipv4Addr::new(b[16], b[17], b[18], b[19]),
        })
    }
}

/// SIOCGETVIFCNT's answer: Linux `struct sioc_vif_req`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiocVifReq {
    pub vifi: u16,
    pub icount: u64,
    pub ocount: u64,
    pub ibytes: u64,
    pub obytes: u64,
}

/// SIOCGETSGCNT's answer: Linux `struct sioc_sg_req`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiocSgReq {
    pub src: Ipv4Addr,
    pub grp: Ipv4Addr,
    pub pktcnt: u64,
    pub bytecnt: u64,
    pub wrong_if: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vifctl_round_trips_and_checks_its_length() {
        let v = VifCtl::tunnel(
            3,
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(192, 0, 2, 9),
            1,
        );
        let b = v.to_bytes();
        assert_eq!(VifCtl::parse(&b), Ok(v));
        assert_eq!(&b[12..16], &[192, 0, 2, 9]);
        assert_eq!(b[2], VIFF_TUNNEL);
        for len in [0, 1, 15, 17, 64] {
            assert_eq!(VifCtl::parse(&vec![0xff; len]), Err(Errno::Inval), "{len}");
        }
        let i = VifCtl::by_ifindex(1, 7, 1);
        assert_eq!(VifCtl::parse(&i.to_bytes()).unwrap().lcl_ifindex(), 7);
        // Any 16 bytes parse (flags are checked by vif_add()).
        assert!(VifCtl::parse(&[0xff; 16]).is_ok());
    }

    #[test]
    fn mfcctl_round_trips_and_checks_its_length() {
        let m = MfcCtl::new(
            Ipv4Addr::new(10, 0, 0, 2),
            Ipv4Addr::new(239, 1, 1, 1),
            0,
            &[(1, 1), (2, 5), (99, 1)],
        );
        assert_eq!(m.ttls[1..4], [1, 5, 0]);
        let b = m.to_bytes();
        assert_eq!(MfcCtl::parse(&b), Ok(m));
        assert_eq!(b[11], 1);
        for len in [0, 8, 59, 61, 100] {
            assert_eq!(MfcCtl::parse(&vec![0xaa; len]), Err(Errno::Inval), "{len}");
        }
        assert_eq!(MfcCtl::parse(&[0xff; 60]).unwrap().parent, 0xffff);
    }

    #[test]
    fn igmpmsg_reads_only_upcalls() {
        let mut h = [0u8; 28];
        h[0] = 0x45;
        h[8] = IGMPMSG_NOCACHE;
        h[10] = 2;
        h[12..16].copy_from_slice(&[10, 0, 0, 2]);
        h[16..20].copy_from_slice(&[239, 1, 1, 1]);
        let m = IgmpMsg::parse(&h).unwrap();
        assert_eq!((m.im_msgtype, m.vif), (IGMPMSG_NOCACHE, 2));
        h[9] = 2;
        assert_eq!(IgmpMsg::parse(&h), None);
        assert_eq!(IgmpMsg::parse(&h[..19]), None);
    }
}
