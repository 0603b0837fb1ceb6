//! The forwarding information base: one longest-prefix trie holding the routes of both the
//! local and the main table, as Linux keeps them merged while no policy rule exists.
//! Linux net/ipv4/fib_trie.c.

use super::{FibRoute, FibTableId, RouteError, RouteScope, RouteType};
use prefix_trie::PrefixMap;
use std::cmp::Reverse;

/// One route in a trie leaf with its resolved nexthop. Linux `struct fib_alias` + `fib_info`.
#[derive(Clone, Debug)]
pub(super) struct FibAlias {
    pub(super) route: FibRoute,
    /// Linux `fib_nh_scope`: HOST for a device route, the scope of the route that reached
    /// the gateway (LINK) for a gateway route, NOWHERE for a host-scope (local) route.
    pub(super) nh_scope: RouteScope,
    /// Linux `nhc_saddr`: the cached `inet_select_addr(nh dev, gateway, nh_scope)`, 0 if none.
    pub(super) nh_saddr: u32,
}

impl FibAlias {
    /// fib_find_alias() order inside a leaf: higher table id first, then lower metric.
    fn order(&self) -> (Reverse<u32>, u32) {
        (Reverse(self.route.table.id()), self.route.metric)
    }
}

/// A successful lookup. Linux `struct fib_result`.
#[derive(Clone, Copy, Debug)]
pub(super) struct FibResult<'a> {
    pub(super) alias: &'a FibAlias,
    pub(super) prefix_len: u8,
}

/// The merged local+main trie. Each leaf keeps its aliases sorted by [`FibAlias::order`].
#[derive(Default)]
pub(super) struct FibTrie {
    map: PrefixMap<(u32, u8), Vec<FibAlias>>,
}

/// `prefix_len` leading one bits (`prefix_len <= 32`). Linux inet_make_mask().
pub(super) fn inet_make_mask(prefix_len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix_len))
        .unwrap_or(0)
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
        let list = self.map.entry(key).or_default();
        if list.iter().any(|a| clashes(a, &alias)) {
            return false;
        }
        let pos = list.partition_point(|a| a.order() <= alias.order());
        list.insert(pos, alias);
        true
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
        let list = self.map.get_mut(&key)?;
        let pos = list
            .iter()
            .position(|a| a.route.table == table && metric.is_none_or(|m| a.route.metric == m))?;
        let removed = list.remove(pos).route;
        if list.is_empty() {
            self.map.remove(&key);
        }
        Some(removed)
    }

    /// Removes every route for which `remove` holds (fib_flush() of dead routes).
    /// Returns whether anything was removed.
    pub(super) fn flush(&mut self, mut remove: impl FnMut(&FibRoute) -> bool) -> bool {
        let mut flushed = false;
        for list in self.map.values_mut() {
            let before = list.len();
            list.retain(|a| !remove(&a.route));
            flushed |= list.len() != before;
        }
        if flushed {
            self.map.retain(|_, list| !list.is_empty());
        }
        flushed
    }

    pub(super) fn aliases(&self) -> impl Iterator<Item = &FibAlias> {
        self.map.values().flatten()
    }

    pub(super) fn aliases_mut(&mut self) -> impl Iterator<Item = &mut FibAlias> {
        self.map.values_mut().flatten()
    }

    /// Linux fib_table_lookup(): the longest prefix holding a usable alias. In a leaf, an
    /// alias narrower than `scope` is skipped; a reject type (unreachable, prohibit,
    /// blackhole) ends the lookup with its error; a nexthop not on `oif` (when set) is
    /// skipped. A leaf with nothing usable backtracks to the next shorter prefix.
    pub(super) fn lookup(
        &self,
        daddr: u32,
        oif: u32,
        scope: RouteScope,
    ) -> Result<FibResult<'_>, RouteError> {
        let mut key = (daddr, 32u8);
        loop {
            let ((_, prefix_len), list) = self.map.get_lpm(&key).ok_or(RouteError::NetUnreach)?;
            for alias in list {
                let r = &alias.route;
                if r.scope < scope {
                    continue;
                }
                if let Some(err) = r.rtype.error() {
                    return Err(err);
                }
                if oif != 0 && r.oif != oif {
                    continue;
                }
                return Ok(FibResult { alias, prefix_len });
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
