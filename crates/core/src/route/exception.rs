//! Learned path MTUs. Linux `struct fib_nh_exception` (route.c update_or_create_fnhe(),
//! find_exception(), __ip_rt_update_pmtu()): one entry per destination and next hop,
//! expiring `mtu_expires` after it was last refreshed. ICMP from the network creates
//! them, so the table is bounded: when it is full, the entry that expires first (the
//! least recently refreshed) is reclaimed, as Linux reclaims a bucket's oldest.

use crate::rand::Prng;
use crate::time::{Instant, TimerId, TimerQueue};
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// Most exceptions kept. Linux allows 2048 buckets × 5 per nexthop.
pub const FNHE_MAX: usize = 4096;

/// What an exception belongs to: the destination and the next hop (device, gateway).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct FnheKey {
    pub daddr: u32,
    pub dev: u32,
    /// 0 when the destination is on the link.
    pub gw: u32,
}

impl FnheKey {
    pub(crate) fn new(daddr: u32, dev: u32, gateway: Option<Ipv4Addr>) -> FnheKey {
        FnheKey {
            daddr,
            dev,
            gw: gateway.map_or(0, u32::from),
        }
    }
}

/// One learned path MTU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnhe {
    pub daddr: Ipv4Addr,
    pub dev: u32,
    pub gateway: Option<Ipv4Addr>,
    pub pmtu: u32,
    /// Learned below `min_pmtu`: clamped, and further PTBs are ignored until it expires.
    pub locked: bool,
    pub expires: Instant,
    timer: TimerId,
}

/// The exceptions of one namespace. See the module documentation.
#[derive(Debug)]
pub struct FnheTable {
    map: HashMap<FnheKey, Fnhe, ahash::RandomState>,
    timers: TimerQueue<FnheKey>,
}

impl FnheTable {
    pub fn new(rng: &mut Prng) -> Self {
        let [k0, k1, k2, k3] = rng.hash_keys();
        FnheTable {
            map: HashMap::with_hasher(ahash::RandomState::with_seeds(k0, k1, k2, k3)),
            timers: TimerQueue::new(),
        }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Linux find_exception().
    #[inline]
    pub(crate) fn find(&self, key: &FnheKey) -> Option<&Fnhe> {
        self.map.get(key)
    }

    /// Linux update_or_create_fnhe(): sets the MTU, the lock and the expiry.
    pub(crate) fn update(&mut self, key: FnheKey, pmtu: u32, locked: bool, expires: Instant) {
        if let Some(old) = self.map.get(&key) {
            self.timers.cancel(old.timer);
        } else if self.map.len() >= FNHE_MAX
            && let Some((_, _, oldest)) = self.timers.pop_expired(Instant::MAX)
        {
            self.map.remove(&oldest);
        }
        let timer = self.timers.schedule(expires, key);
        self.map.insert(
            key,
            Fnhe {
                daddr: Ipv4Addr::from(key.daddr),
                dev: key.dev,
                gateway: (key.gw != 0).then(|| Ipv4Addr::from(key.gw)),
                pmtu,
                locked,
                expires,
                timer,
            },
        );
    }

    /// Removes the exceptions that expired by `now`; true if any did.
    pub(crate) fn expire(&mut self, now: Instant) -> bool {
        let mut any = false;
        while let Some((_, _, key)) = self.timers.pop_expired(now) {
            self.map.remove(&key);
            any = true;
        }
        any
    }

    /// Removes every exception through `dev` (Linux frees a nexthop's exceptions with it).
    pub(crate) fn flush_dev(&mut self, dev: u32) {
        let timers = &mut self.timers;
        self.map.retain(|_, e| {
            let keep = e.dev != dev;
            if !keep {
                timers.cancel(e.timer);
            }
            keep
        });
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// The exceptions, by destination.
    pub fn iter(&self) -> impl Iterator<Item = &Fnhe> {
        let mut all: Vec<&Fnhe> = self.map.values().collect();
        all.sort_by_key(|e| (u32::from(e.daddr), e.dev, e.gateway));
        all.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(d: u32) -> FnheKey {
        FnheKey {
            daddr: d,
            dev: 2,
            gw: 0,
        }
    }

    #[test]
    fn bounded_reclaims_the_oldest_and_expires() {
        let mut t = FnheTable::new(&mut Prng::new(1));
        for i in 0..FNHE_MAX as u32 + 10 {
            t.update(key(i), 1400, false, Instant::from_secs(600 + u64::from(i)));
        }
        assert_eq!(t.len(), FNHE_MAX);
        assert!(t.find(&key(9)).is_none(), "the ten oldest were reclaimed");
        assert!(t.find(&key(10)).is_some());
        // A refresh moves an entry's expiry; the timer follows it.
        t.update(key(10), 1300, true, Instant::from_secs(10_000));
        assert!(!t.expire(Instant::from_secs(609)));
        assert!(t.expire(Instant::from_secs(611)));
        assert!(t.find(&key(10)).is_some() && t.find(&key(11)).is_none());
        assert_eq!(
            t.find(&key(10)).map(|e| (e.pmtu, e.locked)),
            Some((1300, true))
        );
        t.flush_dev(2);
        assert!(t.is_empty() && t.next_deadline().is_none());
    }
}
