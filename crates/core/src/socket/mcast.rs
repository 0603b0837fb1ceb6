//! Multicast membership and source filters of sockets: IP_ADD/DROP_MEMBERSHIP,
//! IP_ADD/DROP_SOURCE_MEMBERSHIP, IP_(UN)BLOCK_SOURCE, the MCAST_* protocol-independent
//! forms, IP_MSFILTER, and the receive-side check. Linux net/ipv4/igmp.c
//! __ip_mc_join_group(), ip_mc_leave_group(), ip_mc_source(), ip_mc_msfilter(),
//! ip_mc_find_dev(), ip_mc_sf_allow(); ip_sockglue.c do_ip_setsockopt(); sock.c sk_mc_loop().

use super::{IpMreqn, SockError, SockFd, Socket};
use crate::ipv4::mc_list::SfMode;
use crate::route::DstEntry;
use crate::stack::Stack;
use skiff_wire::Ipv4Addr;

/// One group a socket joined. Linux `struct ip_mc_socklist` (`sflist` is
/// `struct ip_sf_socklist`: `None` until a source is first set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpMcSocklist {
    pub multiaddr: Ipv4Addr,
    /// The device the membership is on (`multi.imr_ifindex` after ip_mc_find_dev()).
    pub ifindex: u32,
    /// The interface address given at join time (`multi.imr_address`).
    pub address: Ipv4Addr,
    pub sfmode: SfMode,
    pub sflist: Option<Vec<Ipv4Addr>>,
}

/// Linux `struct ip_mreq_source`: a group, the interface by local address, a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpMreqSource {
    pub multiaddr: Ipv4Addr,
    pub interface: Ipv4Addr,
    pub sourceaddr: Ipv4Addr,
}

/// Linux `struct group_source_req` (AF_INET addresses): MCAST_JOIN_SOURCE_GROUP etc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupSourceReq {
    pub ifindex: u32,
    pub group: Ipv4Addr,
    pub source: Ipv4Addr,
}

/// Linux `struct ip_msfilter`: IP_MSFILTER sets a socket's whole filter for a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpMsfilter {
    pub multiaddr: Ipv4Addr,
    pub interface: Ipv4Addr,
    pub fmode: SfMode,
    pub sources: Vec<Ipv4Addr>,
}

/// Linux `IP_MSFILTER_SIZE(0)`: `struct ip_msfilter` without its sources (4 bytes each).
pub const IP_MSFILTER_SIZE0: usize = 16;
/// Linux `offsetof(struct group_filter, gf_slist_flex)` (64-bit layout): `struct
/// group_filter` without its sources.
pub const GROUP_FILTER_SIZE0: usize = 144;
/// Linux `sizeof(struct sockaddr_storage)`: one `gf_slist` entry.
const SOCKADDR_STORAGE_SIZE: usize = 128;

/// What getsockopt(IP_MSFILTER) / getsockopt(MCAST_MSFILTER) reads from the caller's
/// buffer: which group, and room for how many sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsfilterGet {
    /// `struct ip_msfilter`: the group, the interface by local address, `imsf_numsrc`.
    Ip {
        multiaddr: Ipv4Addr,
        interface: Ipv4Addr,
        numsrc: u32,
    },
    /// `struct group_filter`: `gf_interface`, `gf_group` (its `ss_family` and address),
    /// `gf_numsrc`.
    Group {
        ifindex: u32,
        family: i32,
        group: Ipv4Addr,
        numsrc: u32,
    },
}

/// What getsockopt() writes back for a filter: the mode, the real number of sources
/// (`imsf_numsrc` / `gf_numsrc`), at most the caller's `numsrc` of them, and the length
/// stored in `optlen`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsfilterReply {
    pub fmode: SfMode,
    pub numsrc: u32,
    pub sources: Vec<Ipv4Addr>,
    pub optlen: usize,
}

/// The source-filter options, as do_ip_setsockopt() maps them onto ip_mc_source().
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceOp {
    /// IP_ADD_SOURCE_MEMBERSHIP / MCAST_JOIN_SOURCE_GROUP: join in INCLUDE mode (an
    /// existing membership is fine), then add the source.
    Join,
    /// IP_DROP_SOURCE_MEMBERSHIP / MCAST_LEAVE_SOURCE_GROUP.
    Drop,
    /// IP_BLOCK_SOURCE / MCAST_BLOCK_SOURCE.
    Block,
    /// IP_UNBLOCK_SOURCE / MCAST_UNBLOCK_SOURCE.
    Unblock,
}

impl Socket {
    /// Linux ip_mc_sf_allow(): may a datagram from `rmt` to group `loc` that arrived on
    /// `dif` reach this socket?
    pub(crate) fn ip_mc_sf_allow(&self, loc: Ipv4Addr, rmt: Ipv4Addr, dif: u32) -> bool {
        if !loc.is_multicast() {
            return true;
        }
        let Some(pmc) = self
            .mc_list
            .iter()
            .find(|m| m.multiaddr == loc && m.ifindex == dif)
        else {
            return self.mc_all;
        };
        let Some(psl) = &pmc.sflist else {
            return pmc.sfmode == SfMode::Exclude;
        };
        let listed = psl.contains(&rmt);
        match pmc.sfmode {
            SfMode::Include => listed,
            SfMode::Exclude => !listed,
        }
    }
}

impl Stack {
    /// sk_mc_loop(): whether the sending socket wants its multicast looped back.
    pub(crate) fn sk_mc_loop(&self, o: crate::skb::SkOwner) -> bool {
        match self.socks.slots.get(o.slot as usize) {
            Some(Some(s)) if s.generation == o.generation => s.mc_loop,
            _ => true,
        }
    }

    /// ip_check_mc_rcu() for output: a multicast route to a group joined on its device
    /// delivers locally too (RTCF_LOCAL).
    pub(crate) fn ip_mc_check_local(&self, dst: &mut DstEntry, daddr: Ipv4Addr) {
        if dst.flags.contains(crate::route::RtFlags::MULTICAST) && self.mc_joined(dst.dev, daddr) {
            dst.flags = dst.flags | crate::route::RtFlags::LOCAL;
            dst.input = crate::route::DstInput::LocalDeliver;
        }
    }

    /// IP_ADD_MEMBERSHIP: Linux ip_mc_join_group() (any source: EXCLUDE {}).
    pub(super) fn ip_mc_join_group(&mut self, fd: SockFd, m: IpMreqn) -> Result<(), SockError> {
        self.ip_mc_join_group_ssm(fd, m, SfMode::Exclude)
    }

    /// Linux __ip_mc_join_group(): EINVAL for a non-multicast group, ENODEV without a
    /// device, EADDRINUSE when already joined there, ENOBUFS past igmp_max_memberships.
    fn ip_mc_join_group_ssm(
        &mut self,
        fd: SockFd,
        m: IpMreqn,
        mode: SfMode,
    ) -> Result<(), SockError> {
        if !m.multiaddr.is_multicast() {
            return Err(SockError::Inval);
        }
        let ifindex = self.ip_mc_find_dev(&m).ok_or(SockError::NoDev)?;
        let max = self.sysctl.igmp_max_memberships as usize;
        let s = self.socks.get(fd)?;
        if s.mc_list
            .iter()
            .any(|i| i.multiaddr == m.multiaddr && i.ifindex == ifindex)
        {
            return Err(SockError::AddrInUse);
        }
        if s.mc_list.len() >= max {
            return Err(SockError::NoBufs);
        }
        s.mc_list.insert(
            0,
            IpMcSocklist {
                multiaddr: m.multiaddr,
                ifindex,
                address: m.address,
                sfmode: mode,
                sflist: None,
            },
        );
        self.ip_mc_inc_group(ifindex, m.multiaddr, mode);
        Ok(())
    }

    /// Linux ip_mc_leave_src(): the socket's share of the device filter goes.
    pub(super) fn ip_mc_leave_src(&mut self, iml: &IpMcSocklist) {
        let srcs = iml.sflist.clone().unwrap_or_default();
        let _ = self.ip_mc_change_src(iml.ifindex, iml.multiaddr, false, iml.sfmode, &srcs, false);
    }

    /// IP_DROP_MEMBERSHIP: Linux ip_mc_leave_group(). EADDRNOTAVAIL when not joined.
    pub(super) fn ip_mc_leave_group(&mut self, fd: SockFd, m: IpMreqn) -> Result<(), SockError> {
        let found = self.ip_mc_find_dev(&m);
        if m.ifindex == 0 && m.address.is_unspecified() && found.is_none() {
            return Err(SockError::NoDev);
        }
        let ifindex = found.unwrap_or(m.ifindex);
        let s = self.socks.get(fd)?;
        let at = s
            .mc_list
            .iter()
            .position(|i| {
                i.multiaddr == m.multiaddr
                    && if ifindex != 0 {
                        i.ifindex == ifindex
                    } else {
                        m.address.is_unspecified() || i.address == m.address
                    }
            })
            .ok_or(SockError::AddrNotAvail)?;
        let iml = s.mc_list.remove(at);
        self.ip_mc_leave_src(&iml);
        self.ip_mc_dec_group(iml.ifindex, iml.multiaddr);
        Ok(())
    }

    /// The IP_*_SOURCE_* and MCAST_*_SOURCE_* options. Linux do_ip_setsockopt() and
    /// do_mcast_group_source(), then ip_mc_source().
    pub(super) fn ip_mc_source_opt(
        &mut self,
        fd: SockFd,
        op: SourceOp,
        req: IpMreqSource,
        ifindex: u32,
    ) -> Result<(), SockError> {
        let (add, omode) = match op {
            SourceOp::Join => (true, SfMode::Include),
            SourceOp::Drop => (false, SfMode::Include),
            SourceOp::Block => (true, SfMode::Exclude),
            SourceOp::Unblock => (false, SfMode::Exclude),
        };
        if op == SourceOp::Join {
            let m = IpMreqn {
                multiaddr: req.multiaddr,
                address: req.interface,
                ifindex,
            };
            match self.ip_mc_join_group_ssm(fd, m, SfMode::Include) {
                Ok(()) | Err(SockError::AddrInUse) => {}
                Err(e) => return Err(e),
            }
        }
        self.ip_mc_source(add, omode, fd, req, ifindex)
    }

    /// Linux ip_mc_source(): adds or removes one source of a joined group's filter.
    /// EINVAL without a prior join or in the other mode, EADDRNOTAVAIL for a source not
    /// in the list (or already in it), ENOBUFS past igmp_max_msf.
    fn ip_mc_source(
        &mut self,
        add: bool,
        omode: SfMode,
        fd: SockFd,
        req: IpMreqSource,
        ifindex: u32,
    ) -> Result<(), SockError> {
        let (imr, dev) = self.ip_mc_source_dev(req.multiaddr, req.interface, ifindex)?;
        let max_msf = self.sysctl.igmp_max_msf as usize;
        let group = req.multiaddr;
        let s = self.socks.get(fd)?;
        let at = s
            .mc_list
            .iter()
            .position(|i| i.multiaddr == group && i.ifindex == dev)
            .ok_or(SockError::Inval)?;
        let pmc = &s.mc_list[at];
        let old_mode = pmc.sfmode;
        if pmc.sflist.is_some() {
            if old_mode != omode {
                return Err(SockError::Inval);
            }
        } else if old_mode != omode {
            // An empty filter may switch mode.
            s.mc_list[at].sfmode = omode;
            let _ = self.ip_mc_change_src(dev, group, true, omode, &[], false);
            let _ = self.ip_mc_change_src(dev, group, false, old_mode, &[], false);
        }
        let src = req.sourceaddr;
        let s = self.socks.get(fd)?;
        let pmc = &mut s.mc_list[at];
        if !add {
            let Some(psl) = &mut pmc.sflist else {
                return Err(SockError::AddrNotAvail);
            };
            let i = psl
                .iter()
                .position(|&a| a == src)
                .ok_or(SockError::AddrNotAvail)?;
            // (INCLUDE, {}) is leaving the group.
            if psl.len() == 1 && omode == SfMode::Include {
                return self.ip_mc_leave_group(fd, imr);
            }
            psl.remove(i);
            let _ = self.ip_mc_change_src(dev, group, false, omode, &[src], true);
            return Ok(());
        }
        let psl = pmc.sflist.get_or_insert_with(Vec::new);
        if psl.len() >= max_msf {
            return Err(SockError::NoBufs);
        }
        if psl.contains(&src) {
            return Err(SockError::AddrNotAvail);
        }
        psl.push(src);
        let _ = self.ip_mc_change_src(dev, group, true, omode, &[src], true);
        Ok(())
    }

    /// The membership request and device of a source-filter call: EINVAL for a group that
    /// is not multicast, ENODEV without a device (ip_mc_source(), ip_mc_msfilter(),
    /// ip_mc_msfget()).
    fn ip_mc_source_dev(
        &self,
        multiaddr: Ipv4Addr,
        address: Ipv4Addr,
        ifindex: u32,
    ) -> Result<(IpMreqn, u32), SockError> {
        if !multiaddr.is_multicast() {
            return Err(SockError::Inval);
        }
        let imr = IpMreqn {
            multiaddr,
            address,
            ifindex,
        };
        let dev = self.ip_mc_find_dev(&imr).ok_or(SockError::NoDev)?;
        Ok((imr, dev))
    }

    /// IP_MSFILTER: Linux ip_mc_msfilter(): replaces the socket's filter for a group.
    /// ENOBUFS for more than igmp_max_msf sources (do_ip_setsockopt()); (INCLUDE, {})
    /// leaves the group; EINVAL without a prior join.
    pub(super) fn ip_mc_msfilter(
        &mut self,
        fd: SockFd,
        msf: IpMsfilter,
        ifindex: u32,
    ) -> Result<(), SockError> {
        if msf.sources.len() > self.sysctl.igmp_max_msf as usize {
            return Err(SockError::NoBufs);
        }
        let (imr, dev) = self.ip_mc_source_dev(msf.multiaddr, msf.interface, ifindex)?;
        if msf.fmode == SfMode::Include && msf.sources.is_empty() {
            return self.ip_mc_leave_group(fd, imr);
        }
        let group = msf.multiaddr;
        let s = self.socks.get(fd)?;
        let at = s
            .mc_list
            .iter()
            .position(|i| i.multiaddr == group && i.ifindex == dev)
            .ok_or(SockError::Inval)?;
        let old = s.mc_list[at].clone();
        self.ip_mc_change_src(dev, group, true, msf.fmode, &msf.sources, false)?;
        let old_srcs = old.sflist.unwrap_or_default();
        let _ = self.ip_mc_change_src(dev, group, false, old.sfmode, &old_srcs, false);
        let s = self.socks.get(fd)?;
        let pmc = &mut s.mc_list[at];
        pmc.sflist = (!msf.sources.is_empty()).then_some(msf.sources);
        pmc.sfmode = msf.fmode;
        Ok(())
    }

    /// getsockopt(IP_MSFILTER): a joined group's filter mode and sources. Linux
    /// ip_mc_msfget(): EINVAL for a non-multicast group, ENODEV without a device,
    /// EADDRNOTAVAIL when not joined there.
    pub fn ip_mc_msfget(
        &mut self,
        fd: SockFd,
        multiaddr: Ipv4Addr,
        interface: Ipv4Addr,
    ) -> Result<(SfMode, Vec<Ipv4Addr>), SockError> {
        let (_, dev) = self.ip_mc_source_dev(multiaddr, interface, 0)?;
        let s = self.socks.get(fd)?;
        let pmc = s
            .mc_list
            .iter()
            .find(|i| i.multiaddr == multiaddr && i.ifindex == dev)
            .ok_or(SockError::AddrNotAvail)?;
        Ok((pmc.sfmode, pmc.sflist.clone().unwrap_or_default()))
    }

    /// getsockopt(IP_MSFILTER) and getsockopt(MCAST_MSFILTER), `optlen` being the caller's
    /// buffer length. Linux do_ip_getsockopt() (EINVAL below the fixed part), then
    /// ip_mc_msfget() or ip_get_mcast_msfilter() → ip_mc_gsfget() (EINVAL for another
    /// family or a non-multicast group, EADDRNOTAVAIL unless joined on exactly
    /// `gf_interface`). At most the caller's `numsrc` sources are copied; the real count
    /// comes back, and `optlen` covers the sources copied.
    pub fn getsockopt_msfilter(
        &mut self,
        fd: SockFd,
        optlen: usize,
        req: MsfilterGet,
    ) -> Result<MsfilterReply, SockError> {
        let (fmode, all, want, size0, each) = match req {
            MsfilterGet::Ip {
                multiaddr,
                interface,
                numsrc,
            } => {
                if optlen < IP_MSFILTER_SIZE0 {
                    return Err(SockError::Inval);
                }
                let (fmode, all) = self.ip_mc_msfget(fd, multiaddr, interface)?;
                (fmode, all, numsrc, IP_MSFILTER_SIZE0, 4)
            }
            MsfilterGet::Group {
                ifindex,
                family,
                group,
                numsrc,
            } => {
                if optlen < GROUP_FILTER_SIZE0 {
                    return Err(SockError::Inval);
                }
                if family != super::AF_INET || !group.is_multicast() {
                    return Err(SockError::Inval);
                }
                let s = self.socks.get(fd)?;
                let pmc = s
                    .mc_list
                    .iter()
                    .find(|i| i.multiaddr == group && i.ifindex == ifindex)
                    .ok_or(SockError::AddrNotAvail)?;
                let all = pmc.sflist.clone().unwrap_or_default();
                (
                    pmc.sfmode,
                    all,
                    numsrc,
                    GROUP_FILTER_SIZE0,
                    SOCKADDR_STORAGE_SIZE,
                )
            }
        };
        let count = u32::try_from(all.len()).unwrap_or(u32::MAX);
        let copy = count.min(want) as usize;
        let mut sources = all;
        sources.truncate(copy);
        Ok(MsfilterReply {
            fmode,
            numsrc: count,
            sources,
            optlen: size0 + copy * each,
        })
    }

    /// Linux ip_mc_find_dev(): by index, else by local address, else the route to the group.
    fn ip_mc_find_dev(&self, m: &IpMreqn) -> Option<u32> {
        if m.ifindex != 0 {
            return self.dev(m.ifindex).map(|d| d.ifindex);
        }
        if !m.address.is_unspecified() {
            return self
                .fib
                .addrs()
                .find(|a| a.local == m.address)
                .map(|a| a.ifindex);
        }
        self.fib
            .ip_route_output(&crate::route::Flowi4::new(m.multiaddr))
            .ok()
            .map(|d| d.dev)
    }
}
