//! The FIB proper: devices, routes and their nexthops, the generation id.
//! Linux net/ipv4/fib_frontend.c, fib_semantics.c.

use super::exception::FnheTable;
use super::fib::{FibAlias, FibTrie, NhDev};
use super::types::inet_make_mask;
use super::*;
use crate::rand::Prng;
use std::cell::Cell;
use std::net::Ipv4Addr;

/// The [`RtCacheStat`] counters, bumped through `&self`.
#[derive(Default)]
pub(super) struct Counters {
    pub(super) in_slow_tot: Cell<u64>,
    pub(super) in_slow_mc: Cell<u64>,
    pub(super) in_no_route: Cell<u64>,
    pub(super) in_brd: Cell<u64>,
    pub(super) in_martian_dst: Cell<u64>,
    pub(super) in_martian_src: Cell<u64>,
    pub(super) out_slow_tot: Cell<u64>,
    pub(super) out_slow_mc: Cell<u64>,
}

pub(super) fn inc(c: &Cell<u64>) {
    c.set(c.get().wrapping_add(1));
}

/// The IPv4 routing state of one network namespace.
pub struct Fib {
    pub(super) trie: FibTrie,
    /// Sorted by ifindex.
    pub(super) devices: Vec<FibDevice>,
    /// Linux keeps primaries before secondaries, primaries ordered by scope.
    pub(super) addrs: Vec<InAddr>,
    pub(super) loopback: Option<u32>,
    /// Linux `fib_has_custom_local_routes`: a local route was added by hand, so a source
    /// check cannot just compare against the interface addresses.
    pub(super) custom_local_routes: bool,
    pub(super) genid: u32,
    pub(super) stats: Counters,
    /// Learned path MTUs (Linux keeps them on the nexthops).
    pub(super) fnhe: FnheTable,
}

impl Default for Fib {
    fn default() -> Self {
        Fib::new()
    }
}

impl Fib {
    /// A FIB whose exception table hashes with a fixed key; see [`Fib::with_rng`].
    pub fn new() -> Fib {
        Fib::with_rng(&mut Prng::new(0))
    }

    /// A FIB whose exception table hashes with keys from `rng`.
    pub fn with_rng(rng: &mut Prng) -> Fib {
        Fib {
            trie: FibTrie::default(),
            devices: Vec::new(),
            addrs: Vec::new(),
            loopback: None,
            custom_local_routes: false,
            genid: 0,
            stats: Counters::default(),
            fnhe: FnheTable::new(rng),
        }
    }

    /// The route generation; bumped on every route, address or device change.
    /// Linux rt_genid_ipv4().
    pub fn genid(&self) -> u32 {
        self.genid
    }

    /// Is a cached route still valid? Linux ipv4_dst_check() (sk_dst_check()).
    pub fn dst_check(&self, dst: &DstEntry) -> bool {
        dst.genid == self.genid
    }

    /// Linux rt_cache_flush().
    pub(crate) fn rt_cache_flush(&mut self) {
        self.genid = self.genid.wrapping_add(1);
    }

    pub fn stats(&self) -> RtCacheStat {
        let s = &self.stats;
        RtCacheStat {
            in_slow_tot: s.in_slow_tot.get(),
            in_slow_mc: s.in_slow_mc.get(),
            in_no_route: s.in_no_route.get(),
            in_brd: s.in_brd.get(),
            in_martian_dst: s.in_martian_dst.get(),
            in_martian_src: s.in_martian_src.get(),
            out_slow_tot: s.out_slow_tot.get(),
            out_slow_mc: s.out_slow_mc.get(),
        }
    }

    pub fn device(&self, ifindex: u32) -> Option<&FibDevice> {
        self.devices
            .binary_search_by_key(&ifindex, |d| d.ifindex)
            .ok()
            .map(|i| &self.devices[i])
    }

    /// Adds or updates a device. Going down flushes every route through it except the
    /// host-scope (local) ones (Linux NETDEV_DOWN, fib_disable_ip()); going up installs
    /// the routes of its addresses again (NETDEV_UP, fib_add_ifaddr()). Routes added by
    /// hand through the device do not come back, as in Linux.
    pub fn set_device(&mut self, dev: FibDevice) {
        let ifindex = dev.ifindex;
        let was_up = self.device(ifindex).is_some_and(|d| d.up);
        let up = dev.up;
        if dev.loopback {
            self.loopback = Some(ifindex);
        } else if self.loopback == Some(ifindex) {
            self.loopback = None;
        }
        match self.devices.binary_search_by_key(&ifindex, |d| d.ifindex) {
            Ok(i) => self.devices[i] = dev,
            Err(i) => self.devices.insert(i, dev),
        }
        if was_up && !up {
            self.trie
                .flush(|r| r.oif == ifindex && r.scope < RouteScope::HOST);
            self.fnhe.flush_dev(ifindex);
        } else if up && !was_up {
            let addrs: Vec<InAddr> = self
                .addrs
                .iter()
                .filter(|a| a.ifindex == ifindex)
                .cloned()
                .collect();
            for ifa in &addrs {
                self.fib_add_ifaddr(ifa);
            }
        }
        self.refresh_nexthops();
        self.rt_cache_flush();
    }

    pub fn addrs(&self) -> impl Iterator<Item = &InAddr> {
        self.addrs.iter()
    }

    pub fn routes(&self) -> impl Iterator<Item = &FibRoute> {
        self.trie.aliases().map(|a| &a.route)
    }

    /// A route with its nexthop caches filled in.
    pub(super) fn fib_alias(&self, route: FibRoute, nh_scope: RouteScope) -> FibAlias {
        let mut alias = FibAlias::new(route, nh_scope);
        self.fill_nexthop(&mut alias);
        alias
    }

    /// Linux fib_info_update_nhc_saddr() (`nhc_saddr`) and the device state output needs.
    fn fill_nexthop(&self, alias: &mut FibAlias) {
        let nh = &mut alias.nh;
        nh.nh_saddr = match nh.oif {
            0 => 0,
            oif => self.select_addr(oif, nh.gateway, nh.nh_scope),
        };
        nh.dev = self.nh_dev(nh.oif).unwrap_or_default();
    }

    /// Refreshes every nexthop cache after an address or device change (Linux recomputes
    /// `nhc_saddr` lazily by genid and updates MTUs in fib_sync_mtu()).
    pub(super) fn refresh_nexthops(&mut self) {
        let mut trie = std::mem::take(&mut self.trie);
        trie.update(|alias| self.fill_nexthop(alias));
        self.trie = trie;
    }

    /// Adds a route. Linux inet_rtm_newroute() → fib_table_insert() with NLM_F_EXCL,
    /// fib_create_info(), fib_check_nh(). `prefix_len > 32` or an invalid scope, type,
    /// prefsrc or nexthop is EINVAL; an unknown device ENODEV; a gateway without a
    /// link-scope route to it (and not `onlink`) ENETUNREACH; a down nexthop device
    /// ENETDOWN; the same table, prefix and metric EEXIST. The destination is masked.
    /// The gateway's device is filled into `oif`.
    pub fn add_route(&mut self, mut r: FibRoute) -> Result<(), RouteError> {
        if r.prefix_len > 32 || r.scope > RouteScope::HOST || r.rtype.min_scope() > r.scope {
            return Err(RouteError::Inval);
        }
        r.dst = Ipv4Addr::from(u32::from(r.dst) & inet_make_mask(r.prefix_len));
        r.mtu = r.mtu.min(IP_MAX_MTU);
        if r.gateway == Some(Ipv4Addr::UNSPECIFIED) {
            r.gateway = None;
        }
        if let Some(src) = r.prefsrc {
            let own = r.rtype == RouteType::Local && r.prefix_len == 32 && src == r.dst;
            if !own && self.inet_addr_type(src) != RouteType::Local {
                return Err(RouteError::Inval);
            }
        }
        let nh_scope = if r.rtype.error().is_some() {
            if r.gateway.is_some() || r.oif != 0 {
                return Err(RouteError::Inval);
            }
            RouteScope::NOWHERE
        } else {
            self.fib_check_nh(&mut r)?
        };
        if r.rtype == RouteType::Local {
            self.custom_local_routes = true;
        }
        let alias = self.fib_alias(r, nh_scope);
        self.trie.insert_excl(alias)?;
        self.rt_cache_flush();
        Ok(())
    }

    /// Resolves and checks a route's nexthop, returning its scope. Linux fib_check_nh(),
    /// fib_check_nh_v4_gw(), fib_check_nh_nongw(), and the host-scope case of
    /// fib_create_info().
    fn fib_check_nh(&self, r: &mut FibRoute) -> Result<RouteScope, RouteError> {
        let dev = match r.oif {
            0 => None,
            oif => Some(self.device(oif).ok_or(RouteError::NoDev)?),
        };
        let up = |d: &FibDevice| {
            if d.up {
                Ok(())
            } else {
                Err(RouteError::NetDown)
            }
        };
        if r.scope == RouteScope::HOST {
            if r.gateway.is_some() {
                return Err(RouteError::Inval);
            }
            dev.ok_or(RouteError::NoDev)?;
            return Ok(RouteScope::NOWHERE);
        }
        let Some(gw) = r.gateway else {
            if r.onlink {
                return Err(RouteError::Inval);
            }
            up(dev.ok_or(RouteError::NoDev)?)?;
            return Ok(RouteScope::HOST);
        };
        if r.onlink {
            if r.scope >= RouteScope::LINK {
                return Err(RouteError::Inval);
            }
            up(dev.ok_or(RouteError::NoDev)?)?;
            if self.inet_addr_type(gw) != RouteType::Unicast {
                return Err(RouteError::Inval);
            }
            return Ok(RouteScope::LINK);
        }
        let scope = RouteScope(r.scope.0.saturating_add(1)).max(RouteScope::LINK);
        let res = self.trie.lookup(u32::from(gw), r.oif, scope)?;
        let rt = res.nh;
        if rt.rtype != RouteType::Unicast && rt.rtype != RouteType::Local {
            return Err(RouteError::Inval);
        }
        r.oif = rt.oif;
        up(self.device(r.oif).ok_or(RouteError::NoDev)?)?;
        Ok(rt.scope)
    }

    /// Deletes the first route of `table` at `dst/prefix_len` with `metric` (any when
    /// `None`); ESRCH when there is none. Linux inet_rtm_delroute(), fib_table_delete().
    pub fn del_route(
        &mut self,
        table: FibTableId,
        dst: Ipv4Addr,
        prefix_len: u8,
        metric: Option<u32>,
    ) -> Result<(), RouteError> {
        if prefix_len > 32 {
            return Err(RouteError::Inval);
        }
        let dst = u32::from(dst) & inet_make_mask(prefix_len);
        self.trie
            .delete(table, dst, prefix_len, metric)
            .ok_or(RouteError::Srch)?;
        self.rt_cache_flush();
        Ok(())
    }

    /// The loopback device's ifindex and MTU (Linux defaults when none is registered).
    pub(super) fn loopback_dev(&self) -> (u32, u32) {
        let ifindex = self.loopback.unwrap_or(LOOPBACK_IFINDEX);
        (
            ifindex,
            self.nh_dev(ifindex).map_or(LOOPBACK_MTU, |d| d.mtu),
        )
    }

    /// A device as output needs it; the implicit loopback device when none is registered.
    pub(super) fn nh_dev(&self, ifindex: u32) -> Option<NhDev> {
        match self.device(ifindex) {
            Some(d) => Some(NhDev {
                loopback: d.loopback,
                route_localnet: d.route_localnet,
                mtu: d.mtu,
            }),
            None if ifindex == self.loopback.unwrap_or(LOOPBACK_IFINDEX) => Some(NhDev {
                loopback: true,
                route_localnet: false,
                mtu: LOOPBACK_MTU,
            }),
            None => None,
        }
    }
}
