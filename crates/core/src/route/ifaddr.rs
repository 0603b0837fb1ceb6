//! Interface addresses, the routes they install, and address selection.
//! Linux net/ipv4/devinet.c (and fib_frontend.c fib_add_ifaddr(), inet_addr_type()).

use super::types::inet_make_mask;
use super::*;
use std::net::Ipv4Addr;

impl Fib {
    /// Adds an interface address and its routes. Linux inet_rtm_newaddr(),
    /// __inet_insert_ifa(), fib_add_ifaddr(). A second address of an existing subnet on
    /// the same device is secondary and gets no prefix route. Deviation: 0/8, multicast
    /// and 255.255.255.255 are refused (EINVAL) where Linux accepts or ignores them.
    pub fn add_addr(
        &mut self,
        ifindex: u32,
        addr: Ipv4Addr,
        prefix_len: u8,
    ) -> Result<(), RouteError> {
        let local = u32::from(addr);
        if prefix_len > 32
            || ipv4_is_zeronet(local)
            || ipv4_is_multicast(local)
            || ipv4_is_lbcast(local)
        {
            return Err(RouteError::Inval);
        }
        if self.device(ifindex).is_none() {
            return Err(RouteError::NoDev);
        }
        let mask = inet_make_mask(prefix_len);
        let mut ifa = InAddr {
            ifindex,
            local: addr,
            prefix_len,
            broadcast: (prefix_len < 31).then(|| Ipv4Addr::from(local | !mask)),
            scope: if ipv4_is_loopback(local) {
                RouteScope::HOST
            } else {
                RouteScope::UNIVERSE
            },
            secondary: false,
        };
        if self
            .addrs
            .iter()
            .any(|o| o.same_subnet(&ifa) && o.local == addr)
        {
            return Err(RouteError::Exist);
        }
        ifa.secondary = self.addrs.iter().any(|o| o.same_subnet(&ifa));
        // Primaries stay ahead of secondaries and ordered by scope (inet_select_addr()
        // takes the first match); a new secondary goes last.
        let pos = if ifa.secondary {
            self.addrs.len()
        } else {
            self.addrs
                .iter()
                .position(|o| o.secondary || o.scope > ifa.scope)
                .unwrap_or(self.addrs.len())
        };
        self.addrs.insert(pos, ifa.clone());
        self.fib_add_ifaddr(&ifa);
        self.refresh_nexthops();
        self.rt_cache_flush();
        Ok(())
    }

    /// Removes an interface address and the routes only it needed. Deleting a primary
    /// also deletes its secondaries (`promote_secondaries=0`). Routes preferring a
    /// source address that is gone are flushed (fib_sync_down_addr()); when the device
    /// has no address left, every route through it is (fib_disable_ip()).
    /// Linux inet_rtm_deladdr(), __inet_del_ifa(), fib_del_ifaddr().
    pub fn del_addr(
        &mut self,
        ifindex: u32,
        addr: Ipv4Addr,
        prefix_len: u8,
    ) -> Result<(), RouteError> {
        let pos = self
            .addrs
            .iter()
            .position(|a| a.ifindex == ifindex && a.local == addr && a.prefix_len == prefix_len)
            .ok_or(RouteError::AddrNotAvail)?;
        let ifa = self.addrs[pos].clone();
        let doomed =
            |a: &InAddr| *a == ifa || (!ifa.secondary && a.secondary && a.same_subnet(&ifa));
        let gone_routes: Vec<FibRoute> = self
            .addrs
            .iter()
            .filter(|a| doomed(a))
            .flat_map(|a| self.ifaddr_routes(a))
            .collect();
        let gone_locals: Vec<Ipv4Addr> = self
            .addrs
            .iter()
            .filter(|a| doomed(a))
            .map(|a| a.local)
            .collect();
        self.addrs.retain(|a| !doomed(a));
        let kept: Vec<FibRoute> = self
            .addrs
            .iter()
            .flat_map(|a| self.ifaddr_routes(a))
            .collect();
        self.trie
            .flush(|r| gone_routes.contains(r) && !kept.contains(r));
        let vanished: Vec<Ipv4Addr> = gone_locals
            .into_iter()
            .filter(|&l| self.inet_addr_type(l) != RouteType::Local)
            .collect();
        self.trie
            .flush(|r| r.prefsrc.is_some_and(|p| vanished.contains(&p)));
        if !self.addrs.iter().any(|a| a.ifindex == ifindex) {
            self.trie.flush(|r| r.oif == ifindex);
        }
        self.refresh_nexthops();
        self.rt_cache_flush();
        Ok(())
    }

    /// The routes an address installs. Linux fib_add_ifaddr() through fib_magic(): the
    /// local /32; on an up device also the broadcast /32 and, for a primary, the prefix
    /// route (type local on a loopback device), all with the primary as preferred source.
    fn ifaddr_routes(&self, ifa: &InAddr) -> Vec<FibRoute> {
        let Some(dev) = self.device(ifa.ifindex) else {
            return Vec::new();
        };
        let prim = if ifa.secondary {
            self.addrs
                .iter()
                .find(|p| !p.secondary && p.same_subnet(ifa))
                .map_or(ifa.local, |p| p.local)
        } else {
            ifa.local
        };
        let magic = |rtype: RouteType, dst: u32, prefix_len: u8| {
            let local = rtype == RouteType::Local;
            FibRoute {
                table: if rtype == RouteType::Unicast {
                    FibTableId::Main
                } else {
                    FibTableId::Local
                },
                dst: Ipv4Addr::from(dst),
                prefix_len,
                rtype,
                scope: if local {
                    RouteScope::HOST
                } else {
                    RouteScope::LINK
                },
                metric: 0,
                prefsrc: Some(prim),
                gateway: None,
                oif: ifa.ifindex,
                mtu: 0,
                onlink: false,
                protocol: RouteProtocol::Kernel,
            }
        };
        let local = u32::from(ifa.local);
        let mut routes = vec![magic(RouteType::Local, local, 32)];
        if !dev.up {
            return routes;
        }
        if let Some(brd) = ifa.broadcast.map(u32::from).filter(|&b| !ipv4_is_lbcast(b)) {
            routes.push(magic(RouteType::Broadcast, brd, 32));
        }
        let mask = ifa.mask();
        let prefix = local & mask;
        if !ipv4_is_zeronet(prefix) && !ifa.secondary && (prefix != local || ifa.prefix_len < 32) {
            let rtype = if dev.loopback {
                RouteType::Local
            } else {
                RouteType::Unicast
            };
            routes.push(magic(rtype, prefix, ifa.prefix_len));
            if ifa.prefix_len < 31 {
                routes.push(magic(RouteType::Broadcast, prefix | !mask, 32));
            }
        }
        routes.dedup();
        routes
    }

    pub(super) fn fib_add_ifaddr(&mut self, ifa: &InAddr) {
        for route in self.ifaddr_routes(ifa) {
            let nh_scope = if route.scope >= RouteScope::HOST {
                RouteScope::NOWHERE
            } else {
                RouteScope::HOST
            };
            let alias = self.fib_alias(route, nh_scope);
            self.trie.append(alias);
        }
    }

    /// What kind of address `addr` is to this host. Linux inet_addr_type(): 0/8 and the
    /// limited broadcast are broadcast, 224/4 multicast, otherwise the type of the route
    /// to it, unicast when there is none.
    pub fn inet_addr_type(&self, addr: Ipv4Addr) -> RouteType {
        let a = u32::from(addr);
        if ipv4_is_zeronet(a) || ipv4_is_lbcast(a) {
            return RouteType::Broadcast;
        }
        if ipv4_is_multicast(a) {
            return RouteType::Multicast;
        }
        self.trie
            .lookup(a, 0, RouteScope::UNIVERSE)
            .map_or(RouteType::Unicast, |res| res.nh.rtype)
    }

    /// Picks a source address on `ifindex` of scope `scope` or wider, preferring one in
    /// `dst`'s subnet; failing that, any non-link-scope address of another device.
    /// Linux inet_select_addr().
    pub fn inet_select_addr(
        &self,
        ifindex: u32,
        dst: Ipv4Addr,
        scope: RouteScope,
    ) -> Option<Ipv4Addr> {
        match self.select_addr(ifindex, u32::from(dst), scope) {
            0 => None,
            a => Some(Ipv4Addr::from(a)),
        }
    }

    pub(super) fn select_addr(&self, ifindex: u32, dst: u32, scope: RouteScope) -> u32 {
        let localnet_scope = |dev: Option<&FibDevice>| {
            if dev.is_some_and(|d| d.route_localnet) {
                RouteScope::LINK
            } else {
                RouteScope::HOST
            }
        };
        let ln = localnet_scope(self.device(ifindex));
        let mut first = 0;
        for ifa in self
            .addrs
            .iter()
            .filter(|a| a.ifindex == ifindex && !a.secondary)
        {
            if ifa.scope.min(ln) > scope {
                continue;
            }
            if dst == 0 || ifa.matches(dst) {
                return u32::from(ifa.local);
            }
            if first == 0 {
                first = u32::from(ifa.local);
            }
        }
        if first != 0 {
            return first;
        }
        // Other devices in ifindex order, so the loopback device (normally 1) is first.
        for dev in &self.devices {
            let ln = localnet_scope(Some(dev));
            let found = self.addrs.iter().find(|a| {
                a.ifindex == dev.ifindex
                    && !a.secondary
                    && a.scope != RouteScope::LINK
                    && a.scope.min(ln) <= scope
            });
            if let Some(a) = found {
                return u32::from(a.local);
            }
        }
        0
    }

    /// Is `addr` one of our interface addresses? Linux inet_lookup_ifaddr_rcu().
    pub(super) fn is_ifaddr(&self, addr: u32) -> bool {
        self.addrs.iter().any(|a| u32::from(a.local) == addr)
    }

    /// The device holding local address `addr`. Linux __ip_dev_find(): an interface
    /// address, or else a local route covering it (127.0.0.5 is on lo).
    pub(super) fn ip_dev_find(&self, addr: u32) -> Option<u32> {
        if let Some(a) = self.addrs.iter().find(|a| u32::from(a.local) == addr) {
            return Some(a.ifindex);
        }
        let res = self.trie.lookup(addr, 0, RouteScope::UNIVERSE).ok()?;
        (res.nh.rtype == RouteType::Local).then_some(res.nh.oif)
    }
}
