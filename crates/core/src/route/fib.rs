//! The forwarding information base: one longest-prefix trie holding the routes of both the
//! local and the main table, as Linux keeps them merged while no policy rule exists.
//! Linux net/ipv4/fib_trie.c.

use super::types::{inet_make_mask, ipv4_is_loopback};
use super::{DstInput, FibRoute, FibTableId, RouteError, RouteScope, RouteType, RtFlags};
use prefix_trie::PrefixMap;
use skiff_wire::Ipv4Addr;
use std::cmp::Reverse;
use std::collections::BTreeMap;

/// One route in a trie leaf with its resolved nexthop. Linux `struct fib_alias` + `fib_info`.
#[derive(Clone, Debug)]
pub(super) struct FibAlias {
    pub(super) route: FibRoute,
    /// What a lookup returns: the route's own fields and its nexthop caches.
    pub(super) nh: FibNh,
}

impl FibAlias {
    /// A route with empty nexthop caches (the caller fills them).
    pub(super) fn new(route: FibRoute, nh_scope: RouteScope) -> FibAlias {
        let nh = FibNh {
            rtype: route.rtype,
            scope: route.scope,
            nh_scope,
            oif: route.oif,
            gateway: route.gateway.map_or(0, u32::from),
            prefsrc: route.prefsrc.map_or(0, u32::from),
            nh_saddr: 0,
            mtu: route.mtu,
            dev: NhDev::default(),
        };
        FibAlias { route, nh }
    }

    /// fib_find_alias() order inside a leaf: higher table id first, then lower metric.
    fn order(&self) -> (Reverse<u32>, u32) {
        (Reverse(self.route.table.id()), self.route.metric)
    }
}

/// What output routing needs of a device, cached in every alias through it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct NhDev {
    pub(super) loopback: bool,
    pub(super) route_localnet: bool,
    pub(super) mtu: u32,
}

/// What routing reads of a matched route: a compact copy of an alias (addresses as u32,
/// 0 for none). Linux `struct fib_result` with its `fib_info` and nexthop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct FibNh {
    pub(super) rtype: RouteType,
    pub(super) scope: RouteScope,
    /// Linux `fib_nh_scope`: HOST for a device route, the scope of the route that reached
    /// the gateway (LINK) for a gateway route, NOWHERE for a host-scope (local) route.
    pub(super) nh_scope: RouteScope,
    pub(super) oif: u32,
    pub(super) gateway: u32,
    pub(super) prefsrc: u32,
    /// Linux `nhc_saddr`: the cached `inet_select_addr(nh dev, gateway, nh_scope)`.
    pub(super) nh_saddr: u32,
    /// The route MTU, 0 for the device's.
    pub(super) mtu: u32,
    /// The nexthop device, cached like `nh_saddr`.
    pub(super) dev: NhDev,
}

/// The output route a unicast nexthop gives any flow without source, device or scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct NhOutput {
    pub(super) flags: RtFlags,
    pub(super) input: DstInput,
    pub(super) dev: u32,
    pub(super) gateway: Option<Ipv4Addr>,
    pub(super) mtu: u32,
    pub(super) saddr: Ipv4Addr,
}

/// A successful lookup. Linux `struct fib_result`.
#[derive(Clone, Copy, Debug)]
pub(super) struct FibResult<'a> {
    pub(super) nh: &'a FibNh,
    pub(super) prefix_len: u8,
}

/// The distinct [`FibNh`]s in use, shared by every prefix that resolves to the same one,
/// as Linux shares a `fib_info` among routes: a large table has few of them, so they stay
/// in cache. Reference counted; freed slots are reused.
#[derive(Default)]
struct NhTable {
    entries: Vec<FibNh>,
    /// What each entry resolves an unrestricted output lookup to (Linux caches it on the
    /// nexthop too, nh_pcpu_rth_output); `None` when the general path must decide.
    outputs: Vec<Option<NhOutput>>,
    refs: Vec<u32>,
    index: BTreeMap<FibNh, u32>,
    free: Vec<u32>,
}

impl NhTable {
    /// Linux fib_find_info() / fib_create_info(): the slot of `nh`, shared if present.
    fn hold(&mut self, nh: FibNh) -> u32 {
        if let Some(&i) = self.index.get(&nh) {
            self.refs[i as usize] = self.refs[i as usize].saturating_add(1);
            return i;
        }
        let i = match self.free.pop() {
            Some(i) => {
                self.entries[i as usize] = nh;
                self.outputs[i as usize] = nh_output(&nh);
                self.refs[i as usize] = 1;
                i
            }
            None => {
                self.entries.push(nh);
                self.outputs.push(nh_output(&nh));
                self.refs.push(1);
                u32::try_from(self.entries.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.index.insert(nh, i);
        i
    }

    /// Linux fib_info_put().
    fn put(&mut self, i: u32) {
        let refs = &mut self.refs[i as usize];
        *refs = refs.saturating_sub(1);
        if *refs == 0 {
            self.index.remove(&self.entries[i as usize]);
            self.free.push(i);
        }
    }
}

/// The merged local+main trie. `leaves` holds every prefix's aliases, sorted by
/// [`FibAlias::order`]. `fast` maps each prefix to the [`NhTable`] slot of its first alias,
/// which is all a lookup without an output device or scope restriction needs (the first
/// alias always qualifies then): the common lookup reads a 4-byte value and a shared,
/// cache-resident nexthop, with no allocation.
#[derive(Default)]
pub(super) struct FibTrie {
    leaves: PrefixMap<(u32, u8), Vec<FibAlias>>,
    fast: PrefixMap<(u32, u8), u32>,
    nhs: NhTable,
}

impl FibTrie {
    /// Linux fib_table_insert() with NLM_F_EXCL (what `ip route add` sends): a route with
    /// the same table, prefix and metric is `EEXIST`.
    pub(super) fn insert_excl(&mut self, alias: FibAlias) -> Result<(), RouteError> {
        let same_key = |a: &FibAlias, new: &FibAlias| {
            a.route.table == new.route.table && a.route.metric == new.route.metric
        };
        self.insert_if(alias, same_key)
            .then_some(())
            .ok_or(RouteError::Exist)
    }

    /// Linux fib_table_insert() with NLM_F_APPEND (the kernel's own routes): appended
    /// unless an identical route is present.
    pub(super) fn append(&mut self, alias: FibAlias) {
        self.insert_if(alias, |a, new| a.route == new.route);
    }

    /// Inserts `alias` in order unless an alias of its leaf `clashes`; returns whether
    /// it was inserted.
    fn insert_if(
        &mut self,
        alias: FibAlias,
        clashes: impl Fn(&FibAlias, &FibAlias) -> bool,
    ) -> bool {
        let key = (u32::from(alias.route.dst), alias.route.prefix_len);
        self.edit_leaf(key, |list| {
            if list.iter().any(|a| clashes(a, &alias)) {
                return false;
            }
            let pos = list.partition_point(|a| a.order() <= alias.order());
            list.insert(pos, alias);
            true
        })
    }

    /// Runs `f` on the aliases of `key` (an empty list when the prefix is absent), then
    /// drops the prefix if the list ended up empty and refreshes its `fast` entry.
    fn edit_leaf<R>(&mut self, key: (u32, u8), f: impl FnOnce(&mut Vec<FibAlias>) -> R) -> R {
        let list = self.leaves.entry(key).or_default();
        let result = f(list);
        let first = list.first().map(|a| a.nh);
        if first.is_none() {
            self.leaves.remove(&key);
        }
        let new = first.map(|nh| self.nhs.hold(nh));
        let old = match new {
            Some(i) => self.fast.insert(key, i),
            None => self.fast.remove(&key),
        };
        if let Some(i) = old {
            self.nhs.put(i);
        }
        result
    }

    /// Linux fib_table_delete(): removes the first route of `table` at `dst/prefix_len`
    /// whose metric is `metric` (any metric when `None`).
    pub(super) fn delete(
        &mut self,
        table: FibTableId,
        dst: u32,
        prefix_len: u8,
        metric: Option<u32>,
    ) -> Option<FibRoute> {
        let key = (dst, prefix_len);
        if !self.leaves.contains_key(&key) {
            return None;
        }
        self.edit_leaf(key, |list| {
            let pos = list.iter().position(|a| {
                a.route.table == table && metric.is_none_or(|m| a.route.metric == m)
            })?;
            Some(list.remove(pos).route)
        })
    }

    /// Removes every route for which `remove` holds (fib_flush() of dead routes).
    pub(super) fn flush(&mut self, mut remove: impl FnMut(&FibRoute) -> bool) {
        let keys: Vec<(u32, u8)> = self
            .leaves
            .iter()
            .filter(|(_, list)| list.iter().any(|a| remove(&a.route)))
            .map(|(key, _)| key)
            .collect();
        for key in keys {
            self.edit_leaf(key, |list| list.retain(|a| !remove(&a.route)));
        }
    }

    pub(super) fn aliases(&self) -> impl Iterator<Item = &FibAlias> {
        self.leaves.values().flatten()
    }

    /// Updates every alias with `f`, then rebuilds the `fast` mirror.
    pub(super) fn update(&mut self, mut f: impl FnMut(&mut FibAlias)) {
        for alias in self.leaves.values_mut().flatten() {
            f(alias);
        }
        self.nhs = NhTable::default();
        for (key, list) in self.leaves.iter() {
            if let (Some(first), Some(slot)) = (list.first(), self.fast.get_mut(&key)) {
                *slot = self.nhs.hold(first.nh);
            }
        }
    }

    /// fib_table_lookup() without a device or scope restriction (the longest prefix's
    /// first alias always qualifies, so no leaf is walked), answered with the nexthop's
    /// precomputed output; `Ok(None)` when the general path must decide.
    #[inline(always)]
    pub(super) fn lookup_output(&self, daddr: u32) -> Result<Option<&NhOutput>, RouteError> {
        let (_, &slot) = self
            .fast
            .get_lpm(&(daddr, 32))
            .ok_or(RouteError::NetUnreach)?;
        let i = slot as usize;
        match self.nhs.entries[i].rtype.error() {
            Some(err) => Err(err),
            None => Ok(self.nhs.outputs[i].as_ref()),
        }
    }

    /// Linux fib_table_lookup(): the longest prefix holding a usable alias. In a leaf, an
    /// alias narrower than `scope` is skipped; a reject type (unreachable, prohibit,
    /// blackhole) ends the lookup with its error; a nexthop not on `oif` (when set) is
    /// skipped. A leaf with nothing usable backtracks to the next shorter prefix.
    #[inline]
    pub(super) fn lookup(
        &self,
        daddr: u32,
        oif: u32,
        scope: RouteScope,
    ) -> Result<FibResult<'_>, RouteError> {
        let mut key = (daddr, 32u8);
        loop {
            let ((_, prefix_len), &slot) = self.fast.get_lpm(&key).ok_or(RouteError::NetUnreach)?;
            let unrestricted = oif == 0 && scope == RouteScope::UNIVERSE;
            let found = if unrestricted {
                Some(&self.nhs.entries[slot as usize])
            } else {
                self.leaves
                    .get(&(daddr & inet_make_mask(prefix_len), prefix_len))
                    .into_iter()
                    .flatten()
                    .map(|a| &a.nh)
                    .find(|nh| {
                        nh.scope >= scope
                            && (nh.rtype.error().is_some() || oif == 0 || nh.oif == oif)
                    })
            };
            if let Some(nh) = found {
                return match nh.rtype.error() {
                    Some(err) => Err(err),
                    None => Ok(FibResult { nh, prefix_len }),
                };
            }
            key = (
                daddr,
                prefix_len.checked_sub(1).ok_or(RouteError::NetUnreach)?,
            );
        }
    }
}

impl RouteType {
    /// Linux fib_props[type].error: the error a lookup hitting this type returns.
    pub(super) fn error(self) -> Option<RouteError> {
        match self {
            RouteType::Blackhole => Some(RouteError::Inval),
            RouteType::Unreachable => Some(RouteError::HostUnreach),
            RouteType::Prohibit => Some(RouteError::Acces),
            _ => None,
        }
    }

    /// Linux fib_props[type].scope: the narrowest scope a route of this type may have.
    pub(super) fn min_scope(self) -> RouteScope {
        match self {
            RouteType::Local => RouteScope::HOST,
            RouteType::Broadcast => RouteScope::LINK,
            _ => RouteScope::UNIVERSE,
        }
    }
}

impl FibResult<'_> {
    /// Linux fib_result_prefsrc(): the route's preferred source, else its nexthop's.
    pub(super) fn prefsrc(&self) -> u32 {
        match self.nh.prefsrc {
            0 => self.nh.nh_saddr,
            src => src,
        }
    }
}

/// Linux rt_set_nexthop(): the gateway is used when it was reached by a link route
/// (or declared onlink); the MTU is the route's, else the device's.
pub(super) fn rt_set_nexthop(res: Option<&FibResult<'_>>, dev_mtu: u32) -> (Option<Ipv4Addr>, u32) {
    match res {
        Some(res) => {
            let nh = res.nh;
            let gw = (nh.gateway != 0 && nh.nh_scope == RouteScope::LINK)
                .then(|| Ipv4Addr::from(nh.gateway));
            let mtu = if nh.mtu != 0 { nh.mtu } else { dev_mtu };
            (gw, mtu)
        }
        None => (None, dev_mtu),
    }
}

/// The output route of a unicast nexthop for a flow without source, device or scope:
/// what __mkroute_output() makes of it, or `None` when the general path must decide.
pub(super) fn nh_output(nh: &FibNh) -> Option<NhOutput> {
    let res = FibResult { nh, prefix_len: 0 };
    let saddr = res.prefsrc();
    if nh.rtype != RouteType::Unicast
        || (ipv4_is_loopback(saddr) && !nh.dev.loopback && !nh.dev.route_localnet)
    {
        return None;
    }
    let (gateway, mtu) = rt_set_nexthop(Some(&res), nh.dev.mtu);
    let (flags, input) = if nh.dev.loopback {
        (RtFlags::LOCAL, DstInput::LocalDeliver)
    } else {
        (RtFlags(0), DstInput::Discard)
    };
    Some(NhOutput {
        flags,
        input,
        dev: nh.oif,
        gateway,
        mtu,
        saddr: Ipv4Addr::from(saddr),
    })
}
