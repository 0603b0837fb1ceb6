//! Input route resolution: martians, reverse-path filter, local, broadcast, multicast
//! and forwarding routes. Linux net/ipv4/route.c (ip_route_input_slow()), fib_frontend.c
//! (fib_validate_source()).

use super::fib::{FibResult, rt_set_nexthop};
use super::*;
use std::net::Ipv4Addr;

/// The outcome of fib_validate_source() short of an error: whether the source is on a
/// directly connected network of the input device (the positive return Linux uses to
/// decide on redirects).
type Validated = Result<bool, RouteInputError>;

impl Fib {
    /// Resolves the route of a received packet. `mc_member`: the input device has joined
    /// `daddr` and its source filter admits `saddr` (ip_check_mc_rcu(); the caller knows
    /// the memberships, 224.0.0.1 always).
    /// Linux ip_route_input_noref() → ip_route_input_rcu() → ip_route_input_slow() /
    /// ip_route_input_mc().
    pub fn ip_route_input(
        &self,
        daddr: Ipv4Addr,
        saddr: Ipv4Addr,
        _tos: u8,
        iif: u32,
        mc_member: bool,
    ) -> Result<DstEntry, RouteInputError> {
        let dev = self.device(iif).ok_or(RouteInputError::Inval)?;
        let (d, s) = (u32::from(daddr), u32::from(saddr));
        if ipv4_is_multicast(d) {
            return self.ip_route_input_mc(d, s, dev, mc_member || d == IGMP_ALL_HOSTS);
        }
        let martian_source = |err: RouteInputError| {
            inc(&self.stats.in_martian_src);
            Err(err)
        };
        let martian_destination = || {
            inc(&self.stats.in_martian_dst);
            Err(RouteInputError::MartianDestination)
        };
        if ipv4_is_multicast(s) || ipv4_is_lbcast(s) {
            return martian_source(RouteInputError::MartianSource);
        }
        if ipv4_is_lbcast(d) || (s == 0 && d == 0) {
            return self.brd_input(d, s, dev);
        }
        if ipv4_is_zeronet(s) {
            return martian_source(RouteInputError::MartianSource);
        }
        if ipv4_is_zeronet(d) {
            return martian_destination();
        }
        if ipv4_is_loopback(d) {
            if !dev.route_localnet {
                return martian_destination();
            }
        } else if ipv4_is_loopback(s) && !dev.route_localnet {
            return martian_source(RouteInputError::MartianSource);
        }
        let res = match self.trie.lookup(d, 0, RouteScope::UNIVERSE) {
            Ok(res) => res,
            Err(e) => {
                let e = if dev.forwarding {
                    e
                } else {
                    RouteError::HostUnreach
                };
                return Ok(self.no_route(e, d, s, dev));
            }
        };
        match res.nh.rtype {
            // A directed broadcast: forwarded as one with bc_forwarding on the input
            // device (whatever its `forwarding`), else ours.
            RouteType::Broadcast if dev.bc_forwarding => self.mkroute_input(&res, d, s, dev),
            RouteType::Broadcast => self.brd_input(d, s, dev),
            RouteType::Local => match self.fib_validate_source(s, 0, dev) {
                Ok(_) => Ok(self.local_input(Some(&res), RouteType::Local, None, d, s, dev)),
                Err(e) => martian_source(e),
            },
            _ if !dev.forwarding => Ok(self.no_route(RouteError::HostUnreach, d, s, dev)),
            RouteType::Unicast => self.mkroute_input(&res, d, s, dev),
            _ => martian_destination(),
        }
    }

    /// Linux ip_route_input_rcu()'s multicast branch, ip_route_input_mc() with
    /// ip_mc_validate_source(): a group the device joined is delivered locally; with
    /// IN_DEV_MFORWARD and a group beyond 224.0.0.0/24, the route's input is ip_mr_input()
    /// (which delivers locally too when `our`). Deviation: without the protocol, a 0.0.0.0
    /// source is accepted for link-local groups only (Linux also accepts it for IGMP to
    /// any group).
    fn ip_route_input_mc(
        &self,
        d: u32,
        s: u32,
        dev: &FibDevice,
        our: bool,
    ) -> Result<DstEntry, RouteInputError> {
        let mforward = !ipv4_is_local_multicast(d) && dev.mc_forwarding;
        if !(our || mforward) || ipv4_is_multicast(s) || ipv4_is_lbcast(s) {
            return Err(RouteInputError::Inval);
        }
        if ipv4_is_loopback(s) && !dev.route_localnet {
            return Err(RouteInputError::Inval);
        }
        if ipv4_is_zeronet(s) {
            if !ipv4_is_local_multicast(d) {
                return Err(RouteInputError::Inval);
            }
        } else {
            self.fib_validate_source(s, 0, dev).map_err(|e| match e {
                RouteInputError::RpFilter => e,
                _ => RouteInputError::Inval,
            })?;
        }
        inc(&self.stats.in_slow_mc);
        let flags = if our {
            RtFlags::MULTICAST | RtFlags::LOCAL
        } else {
            RtFlags::MULTICAST
        };
        let (lo, lo_mtu) = self.loopback_dev();
        Ok(DstEntry {
            rt_type: RouteType::Multicast,
            input: if mforward {
                DstInput::MrInput
            } else {
                DstInput::LocalDeliver
            },
            flags,
            dev: lo,
            iif: dev.ifindex,
            gateway: None,
            mtu: lo_mtu,
            saddr: Ipv4Addr::from(self.fib_compute_spec_dst(flags, d, s, dev)),
            daddr: Ipv4Addr::from(d),
            genid: self.genid,
        })
    }

    /// The `brd_input` label of ip_route_input_slow().
    fn brd_input(&self, d: u32, s: u32, dev: &FibDevice) -> Result<DstEntry, RouteInputError> {
        if s != 0
            && let Err(e) = self.fib_validate_source(s, 0, dev)
        {
            inc(&self.stats.in_martian_src);
            return Err(e);
        }
        inc(&self.stats.in_brd);
        Ok(self.local_input(None, RouteType::Broadcast, None, d, s, dev))
    }

    /// The `no_route` label: delivered to ip_error() with `err`.
    fn no_route(&self, err: RouteError, d: u32, s: u32, dev: &FibDevice) -> DstEntry {
        inc(&self.stats.in_no_route);
        self.local_input(None, RouteType::Unreachable, Some(err), d, s, dev)
    }

    /// The `local_input` label: a route to the loopback device, delivering locally or,
    /// with `err` (type unreachable), to ip_error().
    fn local_input(
        &self,
        res: Option<&FibResult<'_>>,
        rtype: RouteType,
        err: Option<RouteError>,
        d: u32,
        s: u32,
        dev: &FibDevice,
    ) -> DstEntry {
        inc(&self.stats.in_slow_tot);
        let mut flags = RtFlags::LOCAL;
        if rtype == RouteType::Broadcast {
            flags = flags | RtFlags::BROADCAST;
        }
        let input = match err {
            Some(e) => {
                flags = RtFlags(0);
                DstInput::Error(e)
            }
            None => DstInput::LocalDeliver,
        };
        let (lo, lo_mtu) = self.loopback_dev();
        let (_, mtu) = rt_set_nexthop(res, lo_mtu);
        DstEntry {
            rt_type: rtype,
            input,
            flags,
            dev: lo,
            iif: dev.ifindex,
            gateway: None,
            mtu,
            saddr: Ipv4Addr::from(self.fib_compute_spec_dst(flags, d, s, dev)),
            daddr: Ipv4Addr::from(d),
            genid: self.genid,
        }
    }

    /// A forwarding route (`make_route`). Linux ip_mkroute_input() → __mkroute_input(): validates the
    /// source, and asks for a redirect (RTCF_DOREDIRECT) when the packet leaves by the
    /// device it came in on and its sender is directly connected there.
    fn mkroute_input(
        &self,
        res: &FibResult<'_>,
        d: u32,
        s: u32,
        dev: &FibDevice,
    ) -> Result<DstEntry, RouteInputError> {
        let out = self.device(res.nh.oif).ok_or(RouteInputError::Inval)?;
        let on_link = match self.fib_validate_source(s, out.ifindex, dev) {
            Ok(on_link) => on_link,
            Err(e) => {
                inc(&self.stats.in_martian_src);
                return Err(e);
            }
        };
        // shared_media is 1 (Linux's default), so inet_addr_onlink() is not consulted.
        let flags = if out.ifindex == dev.ifindex && on_link && out.send_redirects {
            RtFlags::DOREDIRECT
        } else {
            RtFlags(0)
        };
        inc(&self.stats.in_slow_tot);
        let (gateway, mut mtu) = rt_set_nexthop(Some(res), out.mtu);
        // ip_dst_mtu_maybe_forward(): forwarding ignores a learned path MTU unless it is
        // locked (ip_forward_use_pmtu is 0).
        let (mut pmtu, mut pflags) = (mtu, flags);
        self.bind_exception(d, out.ifindex, gateway, &mut pmtu, &mut pflags);
        let flags = if pflags.contains(RtFlags::MTU_LOCKED) {
            mtu = pmtu;
            pflags
        } else {
            flags
        };
        Ok(DstEntry {
            // Unicast, or Broadcast for a directed broadcast (its neighbour is the L2
            // broadcast, and it counts as OutBcastPkts).
            rt_type: res.nh.rtype,
            input: DstInput::Forward,
            flags,
            dev: out.ifindex,
            iif: dev.ifindex,
            gateway,
            mtu,
            saddr: Ipv4Addr::from(self.fib_compute_spec_dst(flags, d, s, dev)),
            daddr: Ipv4Addr::from(d),
            genid: self.genid,
        })
    }

    /// Checks the source of a packet received on `dev` (to leave by `oif`, 0 for local
    /// delivery). With rp_filter off and no redirect to decide,
    /// only one of our own addresses is refused (unless accept_local); otherwise the
    /// route back to the source must be unicast (local only with accept_local) and, with
    /// rp_filter 1, go through `dev`; with rp_filter 2 just exist.
    /// Linux fib_validate_source(), __fib_validate_source().
    fn fib_validate_source(&self, src: u32, oif: u32, dev: &FibDevice) -> Validated {
        let rpf = dev.rp_filter;
        if rpf == 0 && (dev.ifindex != oif || !dev.send_redirects) {
            if dev.accept_local {
                return Ok(false);
            }
            if !self.custom_local_routes {
                return if self.is_ifaddr(src) {
                    Err(RouteInputError::MartianSource)
                } else {
                    Ok(false)
                };
            }
        }
        let last_resort = || {
            if rpf != 0 {
                Err(RouteInputError::RpFilter)
            } else {
                Ok(false)
            }
        };
        let Ok(res) = self.trie.lookup(src, 0, RouteScope::UNIVERSE) else {
            return last_resort();
        };
        let rt = res.nh;
        if rt.rtype != RouteType::Unicast && (rt.rtype != RouteType::Local || !dev.accept_local) {
            return Err(RouteInputError::MartianSource);
        }
        if rt.oif == dev.ifindex || (rt.rtype == RouteType::Local && dev.loopback) {
            return Ok(rt.nh_scope >= RouteScope::HOST);
        }
        if !self.addrs.iter().any(|a| a.ifindex == dev.ifindex) {
            return last_resort();
        }
        if rpf == 1 {
            return Err(RouteInputError::RpFilter);
        }
        Ok(self
            .trie
            .lookup(src, dev.ifindex, RouteScope::UNIVERSE)
            .is_ok_and(|r| r.nh.rtype == RouteType::Unicast && r.nh.nh_scope >= RouteScope::HOST))
    }

    /// The address a reply to this packet is sent from. Linux fib_compute_spec_dst().
    fn fib_compute_spec_dst(&self, flags: RtFlags, d: u32, s: u32, dev: &FibDevice) -> u32 {
        let kinds = RtFlags::BROADCAST | RtFlags::MULTICAST | RtFlags::LOCAL;
        if RtFlags(flags.0 & kinds.0) == RtFlags::LOCAL {
            return d;
        }
        if s == 0 {
            return self.select_addr(dev.ifindex, 0, RouteScope::LINK);
        }
        match self.trie.lookup(s, 0, RouteScope::UNIVERSE) {
            Ok(res) => res.prefsrc(),
            Err(_) => self.select_addr(dev.ifindex, s, RouteScope::UNIVERSE),
        }
    }
}
