//! Output route resolution and learned path MTUs.
//! Linux net/ipv4/route.c (ip_route_output_key_hash_rcu(), __ip_rt_update_pmtu()).

use super::exception::{FnheKey, FnheTable};
use super::fib::{FibResult, rt_set_nexthop};
use super::*;
use crate::time::Instant;
use std::net::Ipv4Addr;

impl Fib {
    /// Resolves an output flow. Linux ip_route_output_key_hash_rcu().
    ///
    /// The common case (no device or scope given, no source or the route's own; a plain
    /// unicast destination resolved by a unicast route) is answered inline, with the same result as the
    /// general path, which handles everything else.
    #[inline]
    pub fn ip_route_output(&self, fl: &Flowi4) -> Result<DstEntry, RouteError> {
        let daddr = u32::from(fl.daddr);
        let plain = !ipv4_is_zeronet(daddr) && !ipv4_is_multicast(daddr) && !ipv4_is_lbcast(daddr);
        if !(plain && fl.oif == 0 && fl.scope == RouteScope::UNIVERSE) {
            return self.ip_route_output_slow(fl);
        }
        let Some(o) = self.trie.lookup_output(daddr)? else {
            return self.ip_route_output_slow(fl);
        };
        // A socket bound to the address the route would pick gets the same route.
        if !fl.saddr.is_unspecified() && fl.saddr != o.saddr {
            return self.ip_route_output_slow(fl);
        }
        inc(&self.stats.out_slow_tot);
        let (mut mtu, mut flags) = (o.mtu, o.flags);
        self.bind_exception(daddr, o.dev, o.gateway, &mut mtu, &mut flags);
        Ok(DstEntry {
            rt_type: RouteType::Unicast,
            input: o.input,
            flags,
            dev: o.dev,
            iif: 0,
            gateway: o.gateway,
            mtu,
            saddr: o.saddr,
            daddr: Ipv4Addr::from(daddr),
            genid: self.genid,
        })
    }

    /// ip_route_output() for every other flow.
    pub(super) fn ip_route_output_slow(&self, fl: &Flowi4) -> Result<DstEntry, RouteError> {
        let mut daddr = u32::from(fl.daddr);
        let mut saddr = u32::from(fl.saddr);
        let orig_oif = fl.oif;
        if saddr != 0 {
            if ipv4_is_multicast(saddr) || ipv4_is_lbcast(saddr) || ipv4_is_zeronet(saddr) {
                return Err(RouteError::Inval);
            }
            let dev = self.ip_dev_find(saddr).ok_or(RouteError::Inval)?;
            if fl.oif == 0 && (ipv4_is_multicast(daddr) || ipv4_is_lbcast(daddr)) {
                // Multicast and limited broadcast leave through the source's device.
                return self.mkroute_output(
                    None,
                    RouteType::Unicast,
                    daddr,
                    saddr,
                    orig_oif,
                    dev,
                    RtFlags(0),
                );
            }
        }
        if fl.oif != 0 {
            let dev = self.device(fl.oif).ok_or(RouteError::NoDev)?;
            if !dev.up {
                return Err(RouteError::NetUnreach);
            }
            if ipv4_is_local_multicast(daddr)
                || ipv4_is_lbcast(daddr)
                || fl.proto == skiff_wire::ipv4::IPPROTO_IGMP
            {
                if saddr == 0 {
                    saddr = self.select_addr(fl.oif, 0, RouteScope::LINK);
                }
                return self.mkroute_output(
                    None,
                    RouteType::Unicast,
                    daddr,
                    saddr,
                    orig_oif,
                    fl.oif,
                    RtFlags(0),
                );
            }
            if saddr == 0 {
                if ipv4_is_multicast(daddr) {
                    saddr = self.select_addr(fl.oif, 0, fl.scope);
                } else if daddr == 0 {
                    saddr = self.select_addr(fl.oif, 0, RouteScope::HOST);
                }
            }
        }
        if daddr == 0 {
            daddr = if saddr != 0 { saddr } else { INADDR_LOOPBACK };
            saddr = daddr;
            let (lo, _) = self.loopback_dev();
            return self.mkroute_output(
                None,
                RouteType::Local,
                daddr,
                saddr,
                orig_oif,
                lo,
                RtFlags::LOCAL,
            );
        }
        let res = match self.trie.lookup(daddr, fl.oif, fl.scope) {
            Ok(res) => res,
            Err(_) if fl.oif != 0 => {
                // No usable route but a device was named: assume the destination is on
                // its link (Linux does the same, see the comment by ANK in route.c).
                if saddr == 0 {
                    saddr = self.select_addr(fl.oif, 0, RouteScope::LINK);
                }
                return self.mkroute_output(
                    None,
                    RouteType::Unicast,
                    daddr,
                    saddr,
                    orig_oif,
                    fl.oif,
                    RtFlags(0),
                );
            }
            Err(e) => return Err(e),
        };
        let route = res.nh;
        if route.rtype == RouteType::Local {
            if saddr == 0 {
                saddr = if route.prefsrc != 0 {
                    route.prefsrc
                } else {
                    daddr
                };
            }
            let (lo, _) = self.loopback_dev();
            return self.mkroute_output(
                Some(&res),
                RouteType::Local,
                daddr,
                saddr,
                route.oif,
                lo,
                RtFlags::LOCAL,
            );
        }
        if saddr == 0 {
            saddr = res.prefsrc();
        }
        self.mkroute_output(
            Some(&res),
            route.rtype,
            daddr,
            saddr,
            orig_oif,
            route.oif,
            RtFlags(0),
        )
    }

    /// Builds the output route. Linux __mkroute_output(). Multicast output gets
    /// RTCF_LOCAL (loop a copy back) only for 224.0.0.1: the caller, which knows the
    /// memberships, adds it for other groups joined on `dst.dev` (ip_check_mc_rcu()).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn mkroute_output(
        &self,
        res: Option<&FibResult<'_>>,
        rtype: RouteType,
        daddr: u32,
        saddr: u32,
        orig_oif: u32,
        dev_out: u32,
        mut flags: RtFlags,
    ) -> Result<DstEntry, RouteError> {
        let dev = match res {
            Some(r) if r.nh.oif == dev_out => r.nh.dev,
            _ => self.nh_dev(dev_out).ok_or(RouteError::Inval)?,
        };
        let (dev_loopback, route_localnet, dev_mtu) = (dev.loopback, dev.route_localnet, dev.mtu);
        if !route_localnet && ipv4_is_loopback(saddr) && !dev_loopback {
            return Err(RouteError::Inval);
        }
        let mut rtype = rtype;
        if ipv4_is_lbcast(daddr) {
            rtype = RouteType::Broadcast;
        } else if ipv4_is_multicast(daddr) {
            rtype = RouteType::Multicast;
        } else if ipv4_is_zeronet(daddr) {
            return Err(RouteError::Inval);
        }
        if dev_loopback {
            flags = flags | RtFlags::LOCAL;
        }
        let mut res = res;
        match rtype {
            RouteType::Broadcast => {
                flags = flags | RtFlags::BROADCAST | RtFlags::LOCAL;
                res = None;
            }
            RouteType::Multicast => {
                flags = flags | RtFlags::MULTICAST | RtFlags::LOCAL;
                if daddr != IGMP_ALL_HOSTS {
                    flags = flags.without(RtFlags::LOCAL);
                }
                // A multicast destination caught by a default-ish route: no gateway.
                if res.is_some_and(|r| r.prefix_len < 4) {
                    res = None;
                }
            }
            _ => {}
        }
        inc(&self.stats.out_slow_tot);
        if (flags.contains(RtFlags::BROADCAST) || flags.contains(RtFlags::MULTICAST))
            && flags.contains(RtFlags::LOCAL)
            && !dev_loopback
        {
            inc(&self.stats.out_slow_mc);
        }
        let (gateway, mut mtu) = rt_set_nexthop(res, dev_mtu);
        if !dev_loopback {
            self.bind_exception(daddr, dev_out, gateway, &mut mtu, &mut flags);
        }
        Ok(DstEntry {
            rt_type: rtype,
            input: if flags.contains(RtFlags::LOCAL) {
                DstInput::LocalDeliver
            } else {
                DstInput::Discard
            },
            flags,
            dev: dev_out,
            iif: orig_oif,
            gateway,
            mtu,
            saddr: Ipv4Addr::from(saddr),
            daddr: Ipv4Addr::from(daddr),
            genid: self.genid,
        })
    }

    // ---------------------------------------------------------------- path MTU

    /// Linux rt_bind_exception() + ipv4_mtu(): a learned path MTU replaces the route's.
    #[inline(always)]
    pub(super) fn bind_exception(
        &self,
        daddr: u32,
        dev: u32,
        gateway: Option<Ipv4Addr>,
        mtu: &mut u32,
        flags: &mut RtFlags,
    ) {
        if self.fnhe.is_empty() {
            return;
        }
        if let Some(e) = self.fnhe.find(&FnheKey::new(daddr, dev, gateway)) {
            *mtu = e.pmtu;
            if e.locked {
                *flags = *flags | RtFlags::MTU_LOCKED;
            }
        }
    }

    /// Learns a path MTU for the flow's destination from an ICMP fragmentation-needed.
    /// Linux ipv4_update_pmtu() → __ip_rt_update_pmtu(), RFC 1191 as Linux reads it: a
    /// locked path MTU and increases are ignored; below `min_pmtu` (an MTU of 0 too) the
    /// estimate is clamped to it and locked; the same MTU only refreshes the expiry once
    /// half of it has passed.
    pub fn ip_rt_update_pmtu(
        &mut self,
        fl: &Flowi4,
        mtu: u32,
        now: Instant,
        min_pmtu: u32,
        expires: std::time::Duration,
    ) {
        let Ok(dst) = self.ip_route_output(fl) else {
            return;
        };
        if dst.flags.contains(RtFlags::LOCAL) || dst.flags.contains(RtFlags::MTU_LOCKED) {
            return;
        }
        if dst.mtu < mtu {
            return;
        }
        let (mut mtu, mut lock) = (mtu, false);
        if mtu < min_pmtu {
            lock = true;
            mtu = dst.mtu.min(min_pmtu);
        }
        let key = FnheKey::new(u32::from(dst.daddr), dst.dev, dst.gateway);
        if let Some(e) = self.fnhe.find(&key)
            && e.pmtu == mtu
            && !lock
            && now.saturating_add(expires / 2) < e.expires
        {
            return;
        }
        self.fnhe
            .update(key, mtu, lock, now.saturating_add(expires));
        self.rt_cache_flush();
    }

    /// Drops the path MTUs that expired by `now` (Linux checks `dst.expires` lazily; the
    /// stack runs this from its timers, see [`Fib::exceptions_deadline`]).
    pub fn rt_exceptions_expire(&mut self, now: Instant) {
        if self.fnhe.expire(now) {
            self.rt_cache_flush();
        }
    }

    /// When the next learned path MTU expires.
    pub fn exceptions_deadline(&self) -> Option<Instant> {
        self.fnhe.next_deadline()
    }

    /// The learned path MTUs (`ip route show cache`).
    pub fn exceptions(&self) -> &FnheTable {
        &self.fnhe
    }
}
