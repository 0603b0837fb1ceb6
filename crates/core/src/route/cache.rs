//! A small, fixed-size cache of resolved routes in front of the FIB: Linux kept one
//! until 3.6 (`rt_hash_table`, the `in_hit`/`out_hit` columns of
//! `/proc/net/stat/rt_cache`) and still caches dsts on its nexthops. Entries are keyed by
//! the whole flow, checked against the FIB's genid (sk_dst_check semantics), and
//! direct-mapped through a seeded hash, so remote traffic can only cause misses, never
//! growth: there is nothing to flood, unlike the pre-3.6 cache.

use super::DstEntry;
use crate::rand::Prng;
use skiff_wire::Ipv4Addr;

/// Slots; a power of two.
const SLOTS: usize = 256;

/// What a route was resolved for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DstKey {
    pub daddr: Ipv4Addr,
    pub saddr: Ipv4Addr,
    pub tos: u8,
    /// Input device for an input route, output device (0 = any) for an output route.
    pub dev: u32,
    pub input: bool,
    /// The protocol, where the route depends on it: IGMP for a multicast input route
    /// (the source filter does not apply to IGMP), IPIP for ipmr's output routes; else 0.
    pub proto: u8,
}

/// The cache. See the module documentation.
#[derive(Debug)]
pub struct DstCache {
    /// Random keys of the slot hash.
    keys: [u64; 2],
    slots: Vec<Option<([u64; 2], DstEntry)>>,
    /// Lookups answered from the cache (Linux `in_hit` + `out_hit`).
    pub hits: u64,
}

impl DstCache {
    pub fn new(rng: &mut Prng) -> Self {
        DstCache {
            keys: [rng.next_u64(), rng.next_u64()],
            slots: vec![None; SLOTS],
            hits: 0,
        }
    }

    /// The key as two words: compared whole, and hashed.
    #[inline]
    fn pack(key: &DstKey) -> [u64; 2] {
        [
            u64::from(u32::from(key.daddr)) << 32 | u64::from(u32::from(key.saddr)),
            u64::from(key.dev) << 24
                | u64::from(key.proto) << 16
                | u64::from(key.tos) << 8
                | u64::from(key.input),
        ]
    }

    /// A keyed multiply-xorshift of the flow: cheap, and unpredictable without the keys.
    /// The worst an adversary can do is make lookups miss.
    #[inline]
    fn slot(&self, packed: [u64; 2]) -> usize {
        let addrs = packed[0] ^ self.keys[0];
        let rest = packed[1] ^ self.keys[1];
        let h =
            (addrs.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ rest).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        (h >> (64 - SLOTS.trailing_zeros())) as usize
    }

    /// The cached route for `key`, if it is still valid for FIB generation `genid`.
    #[inline]
    pub fn get(&mut self, key: &DstKey, genid: u32) -> Option<&DstEntry> {
        let packed = Self::pack(key);
        let i = self.slot(packed);
        match &self.slots[i] {
            Some((k, dst)) if *k == packed && dst.genid == genid => {
                self.hits += 1;
                Some(dst)
            }
            _ => None,
        }
    }

    /// Remembers a resolved route, replacing whatever shared its slot.
    pub fn put(&mut self, key: DstKey, dst: DstEntry) {
        let packed = Self::pack(&key);
        let i = self.slot(packed);
        self.slots[i] = Some((packed, dst));
    }

    /// The route for `key`: the cached one while FIB generation `genid` holds, else the
    /// one `miss` resolves, which is cached (an error is not). `cache` finds the cache in
    /// `owner`, so that `miss` gets all of `owner` (the input side asks the socket layer
    /// for multicast memberships). The miss path is out of line: a hit is every packet's.
    #[inline]
    pub fn lookup<S, E>(
        owner: &mut S,
        cache: impl Fn(&mut S) -> &mut DstCache,
        key: DstKey,
        genid: u32,
        miss: impl FnOnce(&mut S, DstKey) -> Result<DstEntry, E>,
    ) -> Result<DstEntry, E> {
        if let Some(dst) = cache(owner).get(&key, genid) {
            return Ok(*dst);
        }
        Self::lookup_slow(owner, cache, key, miss)
    }

    /// A [`DstCache::lookup`] miss: resolve, and remember the route.
    #[cold]
    #[inline(never)]
    fn lookup_slow<S, E>(
        owner: &mut S,
        cache: impl Fn(&mut S) -> &mut DstCache,
        key: DstKey,
        miss: impl FnOnce(&mut S, DstKey) -> Result<DstEntry, E>,
    ) -> Result<DstEntry, E> {
        let dst = miss(owner, key)?;
        cache(owner).put(key, dst);
        Ok(dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{DstInput, RouteType, RtFlags};

    fn dst(genid: u32) -> DstEntry {
        DstEntry {
            rt_type: RouteType::Unicast,
            input: DstInput::Forward,
            flags: RtFlags::default(),
            dev: 2,
            iif: 1,
            gateway: None,
            mtu: 1500,
            saddr: Ipv4Addr::UNSPECIFIED,
            daddr: Ipv4Addr::new(10, 0, 0, 1),
            genid,
        }
    }

    #[test]
    fn hits_only_the_same_flow_in_the_same_generation() {
        let mut c = DstCache::new(&mut Prng::new(3));
        let key = DstKey {
            daddr: Ipv4Addr::new(10, 0, 0, 1),
            saddr: Ipv4Addr::new(10, 0, 1, 1),
            tos: 0,
            dev: 1,
            input: true,
            proto: 0,
        };
        assert_eq!(c.get(&key, 7), None);
        c.put(key, dst(7));
        assert_eq!(c.get(&key, 7), Some(&dst(7)));
        assert_eq!(c.get(&key, 8), None, "a route change invalidates");
        assert_eq!(c.get(&DstKey { tos: 4, ..key }, 7), None);
        assert_eq!(c.get(&DstKey { proto: 4, ..key }, 7), None);
        assert_eq!(
            c.get(
                &DstKey {
                    input: false,
                    ..key
                },
                7
            ),
            None
        );
        assert_eq!(c.hits, 1);
        // A flood of flows stays within the fixed slots.
        for i in 0..100_000u32 {
            c.put(
                DstKey {
                    saddr: Ipv4Addr::from(i),
                    ..key
                },
                dst(7),
            );
        }
        assert_eq!(c.slots.len(), SLOTS);
        assert!(
            c.slots.iter().all(Option::is_some),
            "the hash reaches every slot"
        );
    }

    #[test]
    fn lookup_resolves_misses_once_and_caches_no_error() {
        struct Owner {
            cache: DstCache,
            misses: u32,
        }
        let mut o = Owner {
            cache: DstCache::new(&mut Prng::new(5)),
            misses: 0,
        };
        let key = DstKey {
            daddr: Ipv4Addr::new(10, 0, 0, 1),
            saddr: Ipv4Addr::UNSPECIFIED,
            tos: 0,
            dev: 0,
            input: false,
            proto: 0,
        };
        let resolve = |o: &mut Owner, _: DstKey| -> Result<DstEntry, ()> {
            o.misses += 1;
            Ok(dst(7))
        };
        let fail = |o: &mut Owner, _: DstKey| -> Result<DstEntry, ()> {
            o.misses += 1;
            Err(())
        };
        assert_eq!(
            DstCache::lookup(&mut o, |o| &mut o.cache, key, 8, fail),
            Err(())
        );
        assert_eq!(
            DstCache::lookup(&mut o, |o| &mut o.cache, key, 8, fail),
            Err(())
        );
        assert_eq!(o.misses, 2, "an error is not cached");
        assert_eq!(
            DstCache::lookup(&mut o, |o| &mut o.cache, key, 7, resolve),
            Ok(dst(7))
        );
        assert_eq!(
            DstCache::lookup(&mut o, |o| &mut o.cache, key, 7, resolve),
            Ok(dst(7))
        );
        assert_eq!((o.misses, o.cache.hits), (3, 1));
        assert_eq!(
            DstCache::lookup(&mut o, |o| &mut o.cache, key, 8, resolve),
            Ok(dst(7))
        );
        assert_eq!(o.misses, 4, "a new generation misses");
    }
}
