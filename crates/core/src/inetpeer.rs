//! ICMP output rate limits: the host-wide token bucket, the ratemask, and the per-peer
//! buckets kept in a bounded table of peers. Linux net/ipv4/icmp.c, net/ipv4/inetpeer.c.
//!
//! How Linux 6.x composes them when sending an ICMP message of `type`/`code` (the caller,
//! `ipv4/icmp`, does this; the device checks need its routing state):
//!
//! 1. `limited = !icmpv4_mask_allow(icmp_ratemask, type, code)`;
//! 2. global check, skipped when the offending packet came in on a loopback device
//!    (`__icmp_send`; `icmp_reply` has no such exemption): if `limited` and
//!    [`IcmpGlobal::icmp_global_allow`] says no, count `OutRateLimitGlobal` and drop;
//!    otherwise remember `apply = limited` (false when the check was skipped);
//! 3. route the reply; if `apply`, and the output device is not loopback, ask
//!    [`InetPeerTable::xrlim_allow`] for the destination: on no, count `OutRateLimitHost`
//!    and drop;
//! 4. if `apply`, call [`IcmpGlobal::icmp_global_consume`] (the per-peer check ran first
//!    so that the global credit does not leak which peers are limited, CVE-2020-25705).

use core::net::Ipv4Addr;
use core::time::Duration;
use std::collections::HashMap;

use crate::rand::Prng;
use crate::time::Instant;

/// `icmp_msgs_per_sec` default. Linux net/ipv4/icmp.c.
pub const ICMP_MSGS_PER_SEC: u32 = 1000;
/// `icmp_msgs_burst` default. Linux net/ipv4/icmp.c.
pub const ICMP_MSGS_BURST: u32 = 50;
/// `icmp_ratelimit` default: 1 s (`1 * HZ`) between messages to one peer, on average.
pub const ICMP_RATELIMIT: Duration = Duration::from_secs(1);
/// `icmp_ratemask` default: dest-unreachable, source-quench, time-exceeded and
/// parameter-problem are limited. Linux net/ipv4/icmp.c icmp_sk_init().
pub const ICMP_RATEMASK: u32 = 0x1818;
/// `error_cost` route sysctl default (`ip_rt_error_cost = HZ`). Linux net/ipv4/route.c.
pub const IP_RT_ERROR_COST: Duration = Duration::from_secs(1);
/// `error_burst` route sysctl default (`ip_rt_error_burst = 5 * HZ`).
pub const IP_RT_ERROR_BURST: Duration = Duration::from_secs(5);
/// `inet_peer_threshold`: Linux starts evicting peers aggressively at this size; here it
/// is also the table's hard limit. Linux net/ipv4/inetpeer.c.
pub const INET_PEER_THRESHOLD: usize = 65536 + 128;
/// `inet_peer_minttl`: how long an idle peer survives when the table is full-ish.
pub const INET_PEER_MINTTL: Duration = Duration::from_secs(120);
/// `inet_peer_maxttl`: how long an idle peer survives in an empty table.
pub const INET_PEER_MAXTTL: Duration = Duration::from_secs(600);
/// Per-peer burst for ICMP: six messages. Linux net/ipv4/inetpeer.c.
pub const XRLIM_BURST_FACTOR: u32 = 6;
/// Linux `ip_rt_redirect_number`: redirects to one peer before falling silent.
pub const IP_RT_REDIRECT_NUMBER: u32 = 9;
/// Linux `ip_rt_redirect_load` (HZ/50): the first backoff step.
pub const IP_RT_REDIRECT_LOAD: Duration = Duration::from_millis(20);
/// Linux `ip_rt_redirect_silence` (load << 10): quiet time that resets the backoff.
pub const IP_RT_REDIRECT_SILENCE: Duration = Duration::from_millis(20 << 10);
/// Peers looked at for garbage collection on each insertion. Linux inetpeer.c PEER_MAX_GC.
pub const PEER_MAX_GC: usize = 32;
/// The highest ICMP type the stack knows. Linux include/uapi/linux/icmp.h NR_ICMP_TYPES.
const NR_ICMP_TYPES: u8 = 18;

/// Below this time since the last refill the global bucket is not refilled (`HZ / 50`).
const GLOBAL_MIN_REFILL: Duration = Duration::from_millis(20);
/// Refill time is counted up to one second (`min(delta, HZ)`).
const GLOBAL_MAX_REFILL: Duration = Duration::from_secs(1);
/// The elapsed time a new peer's bucket starts with, so that its first check sees a full
/// burst. Linux inet_getpeer(): `rate_last = jiffies - 60*HZ`.
const NEW_PEER_ELAPSED: Duration = Duration::from_secs(60);

/// Nanoseconds in a `Duration`, saturating at `u64::MAX` (585 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The host-wide ICMP token bucket (`icmp_msgs_per_sec`, `icmp_msgs_burst`). Its credit is
/// signed: a send consumes 0–2 credits at random after the check, so it can dip below
/// zero. Linux net/ipv4/icmp.c `net->ipv4.icmp_global_{credit,stamp}`.
#[derive(Debug, Clone, Default)]
pub struct IcmpGlobal {
    credit: i64,
    /// The last refill; `None` until the first, which counts a full second.
    stamp: Option<Instant>,
}

impl IcmpGlobal {
    /// An empty bucket whose first check refills it to the burst, as in Linux (the stamp
    /// starts far in the past). It needs no `now`: the first refill counts a full second.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether one more ICMP message may go out. Does not consume: call
    /// [`IcmpGlobal::icmp_global_consume`] once the message passed the per-peer check.
    /// With no credit left, refills `msgs_per_sec` per second elapsed (counting at most
    /// one second, and nothing before 20 ms), capped at `burst`.
    /// Linux net/ipv4/icmp.c icmp_global_allow().
    pub fn icmp_global_allow(&mut self, now: Instant, msgs_per_sec: u32, burst: u32) -> bool {
        if self.credit > 0 {
            return true;
        }
        let delta = match self.stamp {
            Some(stamp) => now.saturating_duration_since(stamp),
            None => GLOBAL_MAX_REFILL,
        }
        .min(GLOBAL_MAX_REFILL);
        if delta < GLOBAL_MIN_REFILL {
            return false;
        }
        // At most u32::MAX * 1e9 < 2^63: no overflow; the quotient is at most msgs_per_sec.
        let incr = u64::from(msgs_per_sec) * nanos(delta) / nanos(GLOBAL_MAX_REFILL);
        if incr == 0 {
            return false;
        }
        self.stamp = Some(now);
        // incr <= u32::MAX, so it fits an i64.
        self.credit = self
            .credit
            .saturating_add(incr as i64)
            .min(i64::from(burst));
        true
    }

    /// Takes 0, 1 or 2 credits at random (one on average) for a message that is going
    /// out: a fixed cost of one would let an off-path attacker count the bucket and infer
    /// other hosts' traffic (CVE-2020-25705). Linux net/ipv4/icmp.c icmp_global_consume().
    pub fn icmp_global_consume(&mut self, rng: &mut Prng) {
        self.credit = self.credit.saturating_sub(i64::from(rng.below(3)));
    }
}

/// Whether an ICMP message of this type and code is exempt from rate limiting: unknown
/// types above 18, fragmentation-needed (never limit path MTU discovery), and types whose
/// bit is clear in `ratemask`. Linux net/ipv4/icmp.c icmpv4_mask_allow().
pub fn icmpv4_mask_allow(ratemask: u32, icmp_type: u8, code: u8) -> bool {
    const ICMP_DEST_UNREACH: u8 = 3;
    const ICMP_FRAG_NEEDED: u8 = 4;
    if icmp_type > NR_ICMP_TYPES {
        return true;
    }
    if icmp_type == ICMP_DEST_UNREACH && code == ICMP_FRAG_NEEDED {
        return true;
    }
    ratemask & (1 << icmp_type) == 0
}

/// What the stack remembers about one remote address. Linux `struct inet_peer` (only the
/// rate-limit state: skiff keeps IP IDs and redirects elsewhere).
#[derive(Debug, Clone)]
struct InetPeer {
    daddr: Ipv4Addr,
    /// Last use, for garbage collection.
    dtime: Instant,
    /// Token bucket in nanoseconds of credit.
    rate_tokens: u64,
    /// Last bucket update; `None` for a fresh peer.
    rate_last: Option<Instant>,
    /// Redirects sent to this peer since the last silence, and when the last was due.
    n_redirects: u32,
    redirect_last: Option<Instant>,
}

impl InetPeer {
    /// Adds the time since the last update to the bucket, caps it at `burst`, and takes
    /// `cost` if that much is there. Linux inet_peer_xrlim_allow() and the same arithmetic
    /// in route.c ip_error().
    fn rate_allow(&mut self, now: Instant, cost: u64, burst: u64) -> bool {
        let elapsed = match self.rate_last {
            Some(last) => now.saturating_duration_since(last),
            None => NEW_PEER_ELAPSED,
        };
        let mut token = self.rate_tokens.saturating_add(nanos(elapsed)).min(burst);
        self.rate_last = Some(now);
        let allow = token >= cost;
        if allow {
            token -= cost;
        }
        self.rate_tokens = token;
        allow
    }
}

/// The peers of one stack, keyed by IPv4 address, at most `max` of them. A lookup miss
/// inserts the peer and first garbage-collects up to [`PEER_MAX_GC`] peers picked at
/// random: those idle longer than a TTL that shrinks from 10 min (empty table) towards
/// 2 min as the table fills, and to 0 once it is full, so a full table always makes room. Linux net/ipv4/inetpeer.c inet_getpeer(), inet_peer_gc()
/// (Linux collects along the rbtree lookup path; random picks play that role here).
///
/// One peer holds one bucket, shared by [`InetPeerTable::xrlim_allow`] (ICMP to that
/// destination) and [`InetPeerTable::ip_error_allow`] (ICMP errors for packets from that
/// source), as in Linux, where the two are "twice limited".
#[derive(Debug)]
pub struct InetPeerTable {
    index: HashMap<Ipv4Addr, usize, ahash::RandomState>,
    peers: Vec<InetPeer>,
    max: usize,
    rng: Prng,
}

impl InetPeerTable {
    /// An empty table holding at most `max` peers (at least one); [`INET_PEER_THRESHOLD`]
    /// is the Linux default. The hash keys and the garbage collector's random picks come
    /// from `rng`.
    pub fn new(max: usize, rng: &mut Prng) -> Self {
        let [k0, k1, k2, k3] = rng.hash_keys();
        InetPeerTable {
            index: HashMap::with_hasher(ahash::RandomState::with_seeds(k0, k1, k2, k3)),
            peers: Vec::new(),
            max: max.max(1),
            rng: rng.fork(),
        }
    }

    /// Whether an ICMP message to `daddr` may go out: a bucket of `timeout` per message,
    /// refilled with elapsed time, holding at most [`XRLIM_BURST_FACTOR`] messages. With
    /// `timeout` = `icmp_ratelimit` (1 s): a burst of 6, then one per second.
    /// Linux net/ipv4/icmp.c icmpv4_xrlim_allow(), inetpeer.c inet_peer_xrlim_allow().
    pub fn xrlim_allow(&mut self, now: Instant, daddr: Ipv4Addr, timeout: Duration) -> bool {
        let cost = nanos(timeout);
        let burst = cost.saturating_mul(u64::from(XRLIM_BURST_FACTOR));
        self.getpeer(now, daddr).rate_allow(now, cost, burst)
    }

    /// Whether `ip_error` may answer a packet from `saddr` that could not be routed:
    /// `cost` per message ([`IP_RT_ERROR_COST`]) from a bucket of at most `burst`
    /// ([`IP_RT_ERROR_BURST`]). Linux net/ipv4/route.c ip_error().
    pub fn ip_error_allow(
        &mut self,
        now: Instant,
        saddr: Ipv4Addr,
        cost: Duration,
        burst: Duration,
    ) -> bool {
        self.getpeer(now, saddr)
            .rate_allow(now, nanos(cost), nanos(burst))
    }

    /// Peers held.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// The peer for `daddr`, created on a miss (after garbage collection). Its `dtime`
    /// becomes `now`. Linux inet_getpeer().
    fn getpeer(&mut self, now: Instant, daddr: Ipv4Addr) -> &mut InetPeer {
        let slot = match self.index.get(&daddr) {
            Some(&slot) => slot,
            None => {
                self.gc(now);
                self.index.insert(daddr, self.peers.len());
                self.peers.push(InetPeer {
                    daddr,
                    dtime: now,
                    rate_tokens: 0,
                    rate_last: None,
                    n_redirects: 0,
                    redirect_last: None,
                });
                self.peers.len() - 1
            }
        };
        let peer = &mut self.peers[slot];
        peer.dtime = now;
        peer
    }

    /// Whether a redirect may go to `saddr` now: the first at once, then each after twice
    /// the previous wait (20 ms, 40 ms, …), none after [`IP_RT_REDIRECT_NUMBER`] until the
    /// peer has been quiet for [`IP_RT_REDIRECT_SILENCE`]. Linux net/ipv4/route.c
    /// ip_rt_send_redirect() (which keeps `rate_last` in the bucket's field; skiff keeps it
    /// apart).
    pub fn redirect_allow(&mut self, now: Instant, saddr: Ipv4Addr) -> bool {
        let p = self.getpeer(now, saddr);
        let since = |last: Option<Instant>| last.map(|l| now.saturating_duration_since(l));
        if since(p.redirect_last).is_some_and(|d| d > IP_RT_REDIRECT_SILENCE) {
            p.n_redirects = 0;
        }
        if p.n_redirects >= IP_RT_REDIRECT_NUMBER {
            p.redirect_last = Some(now);
            return false;
        }
        let wait = IP_RT_REDIRECT_LOAD.saturating_mul(1 << p.n_redirects);
        let due = p.n_redirects == 0 || since(p.redirect_last).is_some_and(|d| d > wait);
        if due {
            p.redirect_last = Some(now);
            p.n_redirects += 1;
        }
        due
    }

    /// Frees room before an insertion. Linux inet_peer_gc().
    fn gc(&mut self, now: Instant) {
        let total = self.peers.len();
        if total == 0 {
            return;
        }
        let ttl = if total >= self.max {
            Duration::ZERO
        } else {
            // maxttl - (maxttl - minttl) * total / threshold, in whole seconds as Linux
            // computes it. total < max, so the product fits a u64.
            let span = (INET_PEER_MAXTTL - INET_PEER_MINTTL).as_secs();
            let drop = span * total as u64 / self.max as u64;
            INET_PEER_MAXTTL - Duration::from_secs(drop)
        };
        // total >= 1 and fits in u32 for any table that fits in memory.
        let bound = u32::try_from(total).unwrap_or(u32::MAX);
        let mut picks: Vec<usize> = (0..PEER_MAX_GC.min(total))
            .map(|_| self.rng.below(bound) as usize)
            .collect();
        picks.sort_unstable();
        picks.dedup();
        // When full, ttl is 0 and every pick goes: the table never grows past `max`.
        let doomed: Vec<usize> = picks
            .into_iter()
            .filter(|&i| now.saturating_duration_since(self.peers[i].dtime) >= ttl)
            .collect();
        // Highest slot first, so a swap_remove never moves a slot still to be removed.
        for &slot in doomed.iter().rev() {
            let gone = self.peers.swap_remove(slot);
            self.index.remove(&gone.daddr);
            if let Some(moved) = self.peers.get(slot) {
                self.index.insert(moved.daddr, slot);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    #[test]
    fn redirects_back_off_stop_after_nine_and_resume_after_silence() {
        let mut t = InetPeerTable::new(16, &mut Prng::new(1));
        let a = Ipv4Addr::new(10, 0, 0, 2);
        // Ask every millisecond: sends at 0, then after > 40, > 80, ... ms.
        let sent: Vec<u64> = (0..30_000)
            .filter(|&i| t.redirect_allow(ms(i), a))
            .collect();
        assert_eq!(&sent[..4], &[0, 41, 122, 283]);
        assert_eq!(sent.len(), 9, "ip_rt_redirect_number");
        // Asking keeps it silent; a quiet spell longer than 20.48 s resets it.
        assert!(!t.redirect_allow(ms(30_000), a));
        assert!(t.redirect_allow(ms(30_000 + 20_481), a));
    }

    #[test]
    fn global_first_check_fills_to_burst() {
        let mut g = IcmpGlobal::new();
        assert!(g.icmp_global_allow(ms(0), 1000, 50));
        assert_eq!(g.credit, 50);
        assert_eq!(g.stamp, Some(ms(0)));
        // With credit, no refill and no stamp change.
        assert!(g.icmp_global_allow(ms(500), 1000, 50));
        assert_eq!(g.stamp, Some(ms(0)));
    }

    #[test]
    fn global_refill_math() {
        let mut g = IcmpGlobal {
            credit: 0,
            stamp: Some(ms(1000)),
        };
        // Under 20 ms since the stamp: no refill, refused.
        assert!(!g.icmp_global_allow(ms(1019), 1000, 50));
        assert_eq!((g.credit, g.stamp), (0, Some(ms(1000))));
        // 20 ms at 1000/s: 20 credits.
        assert!(g.icmp_global_allow(ms(1020), 1000, 50));
        assert_eq!((g.credit, g.stamp), (20, Some(ms(1020))));
        // Elapsed time counts at most one second, and the burst caps.
        g.credit = -2;
        assert!(g.icmp_global_allow(ms(60_000), 10, 50));
        assert_eq!(g.credit, 8);
        g.credit = 0;
        assert!(g.icmp_global_allow(ms(70_000), 1000, 50));
        assert_eq!(g.credit, 50);
        // A refill of zero (1/s over 500 ms) refuses and keeps the stamp.
        g.credit = 0;
        assert!(!g.icmp_global_allow(ms(70_500), 1, 50));
        assert_eq!(g.stamp, Some(ms(70_000)));
        assert!(g.icmp_global_allow(ms(71_000), 1, 50));
        assert_eq!(g.credit, 1);
        // A refill that leaves the credit at or below zero still allows (Linux does).
        g.credit = -5;
        assert!(g.icmp_global_allow(ms(72_000), 3, 50));
        assert_eq!(g.credit, -2);
        // A clock that goes backwards refills nothing.
        g.credit = 0;
        assert!(!g.icmp_global_allow(ms(1), 1000, 50));
        // msgs_per_sec = u32::MAX cannot overflow.
        assert!(g.icmp_global_allow(ms(100_000), u32::MAX, u32::MAX));
        assert_eq!(g.credit, i64::from(u32::MAX));
    }

    #[test]
    fn global_consume_is_zero_to_two() {
        let mut rng = Prng::new(11);
        let mut g = IcmpGlobal {
            credit: 1_000_000,
            stamp: None,
        };
        let mut seen = [0u32; 3];
        let n = 30_000;
        for _ in 0..n {
            let before = g.credit;
            g.icmp_global_consume(&mut rng);
            let taken = before - g.credit;
            assert!((0..=2).contains(&taken), "{taken}");
            seen[taken as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 9000), "{seen:?}");
        // One credit per message on average.
        let total = 1_000_000 - g.credit;
        assert!(
            (n as i64 * 97 / 100..=n as i64 * 103 / 100).contains(&total),
            "{total}"
        );
    }

    #[test]
    fn global_bucket_limits_a_flood() {
        // 10 s of one check + consume per millisecond at the defaults: the burst, then
        // about icmp_msgs_per_sec.
        let mut rng = Prng::new(3);
        let mut g = IcmpGlobal::new();
        let sent = (0..10_000)
            .filter(|&t| {
                let ok = g.icmp_global_allow(ms(t), ICMP_MSGS_PER_SEC, ICMP_MSGS_BURST);
                if ok {
                    g.icmp_global_consume(&mut rng);
                }
                ok
            })
            .count();
        assert!((9_000..=11_000).contains(&sent), "{sent}");
        // With 1 message/s allowed, the same flood gets about 10 through.
        let mut g = IcmpGlobal::new();
        let mut sent = 0;
        for t in 0..10_000 {
            if g.icmp_global_allow(ms(t), 1, 1) {
                g.icmp_global_consume(&mut rng);
                sent += 1;
            }
        }
        assert!((5..=25).contains(&sent), "{sent}");
    }

    #[test]
    fn ratemask() {
        // Default mask: 3, 4, 11, 12 limited.
        for t in 0..=18u8 {
            let limited = matches!(t, 3 | 4 | 11 | 12);
            assert_eq!(icmpv4_mask_allow(ICMP_RATEMASK, t, 0), !limited, "type {t}");
        }
        // Frag-needed is never limited, other dest-unreach codes are.
        assert!(icmpv4_mask_allow(ICMP_RATEMASK, 3, 4));
        assert!(icmpv4_mask_allow(u32::MAX, 3, 4));
        assert!(!icmpv4_mask_allow(ICMP_RATEMASK, 3, 3));
        assert!(!icmpv4_mask_allow(ICMP_RATEMASK, 3, 1));
        // Types above NR_ICMP_TYPES are never limited, whatever the mask.
        for t in 19..=255u8 {
            assert!(icmpv4_mask_allow(u32::MAX, t, 0));
        }
        // Echo replies limited only when their bit is set.
        assert!(!icmpv4_mask_allow(1 << 0, 0, 0));
        assert!(icmpv4_mask_allow(0, 3, 0));
    }

    fn addr(n: u32) -> Ipv4Addr {
        Ipv4Addr::from(n)
    }

    #[test]
    fn per_destination_burst_six_then_one_per_second() {
        let mut t = InetPeerTable::new(INET_PEER_THRESHOLD, &mut Prng::new(1));
        let d = addr(0x0a00_0001);
        let r = ICMP_RATELIMIT;
        let got: Vec<bool> = (0..8).map(|_| t.xrlim_allow(ms(5), d, r)).collect();
        assert_eq!(got, [true, true, true, true, true, true, false, false]);
        // Another destination has its own bucket.
        assert!(t.xrlim_allow(ms(5), addr(0x0a00_0002), r));
        // 999 ms later: not yet; at 1 s: one more, then refused.
        assert!(!t.xrlim_allow(ms(1004), d, r));
        assert!(t.xrlim_allow(ms(1005), d, r));
        assert!(!t.xrlim_allow(ms(1005), d, r));
        // A steady 1/s stream passes every time; 2/s passes half.
        let mut passed = 0;
        for i in 1..=20 {
            passed += usize::from(t.xrlim_allow(ms(1005 + i * 500), d, r));
        }
        assert_eq!(passed, 10);
        // Long idle refills to six, not more.
        let later = ms(1_000_000);
        let got = (0..10).filter(|_| t.xrlim_allow(later, d, r)).count();
        assert_eq!(got, 6);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn ip_error_bucket_five_then_one_per_second() {
        let mut t = InetPeerTable::new(16, &mut Prng::new(2));
        let s = addr(0xc0a8_0001);
        let got = (0..10)
            .filter(|_| t.ip_error_allow(ms(0), s, IP_RT_ERROR_COST, IP_RT_ERROR_BURST))
            .count();
        assert_eq!(got, 5);
        assert!(!t.ip_error_allow(ms(999), s, IP_RT_ERROR_COST, IP_RT_ERROR_BURST));
        // 999 ms were banked: one more message at 1 s.
        assert!(t.ip_error_allow(ms(1000), s, IP_RT_ERROR_COST, IP_RT_ERROR_BURST));
        // The bucket is the same one the ICMP limit draws on.
        assert!(!t.xrlim_allow(ms(1000), s, ICMP_RATELIMIT));
    }

    #[test]
    fn zero_timeout_never_limits() {
        let mut t = InetPeerTable::new(4, &mut Prng::new(4));
        assert!((0..100).all(|_| t.xrlim_allow(ms(0), addr(1), Duration::ZERO)));
        // A huge timeout saturates instead of overflowing: a fresh peer has 60 s banked.
        assert!(!t.xrlim_allow(ms(0), addr(2), Duration::MAX));
    }

    #[test]
    fn table_stays_bounded_under_a_million_destinations() {
        let max = INET_PEER_THRESHOLD;
        let mut t = InetPeerTable::new(max, &mut Prng::new(5));
        let mut peak = 0;
        for i in 0..1_000_000u32 {
            // 100 new destinations per millisecond: nothing ages out by time alone.
            let now = ms(u64::from(i / 100));
            assert!(t.xrlim_allow(now, addr(0x0b00_0000 + i), ICMP_RATELIMIT));
            peak = peak.max(t.len());
        }
        assert!(peak <= max, "{peak}");
        assert!(t.len() > max - 2 * PEER_MAX_GC, "{}", t.len());
        assert_eq!(t.index.len(), t.peers.len());
        for (slot, p) in t.peers.iter().enumerate() {
            assert_eq!(t.index.get(&p.daddr), Some(&slot));
        }
    }

    #[test]
    fn idle_peers_expire_on_the_ttl() {
        let mut t = InetPeerTable::new(1000, &mut Prng::new(6));
        for i in 0..10 {
            t.xrlim_allow(ms(0), addr(i), ICMP_RATELIMIT);
        }
        // 10 to 60 peers of 1000: ttl = 600 s - 480 s * len / 1000, 571 to 596 s.
        for i in 10..20 {
            t.xrlim_allow(Instant::from_secs(500), addr(i), ICMP_RATELIMIT);
        }
        assert_eq!(t.len(), 20);
        // Every insertion samples up to 32 of 20 peers: after enough insertions past the
        // ttl, the old ten are gone and the recent ones stay.
        let later = Instant::from_secs(700);
        for i in 20..60 {
            t.xrlim_allow(later, addr(i), ICMP_RATELIMIT);
        }
        assert!((0..10).all(|i| !t.index.contains_key(&addr(i))));
        assert!((10..60).all(|i| t.index.contains_key(&addr(i))));
    }

    #[test]
    fn max_zero_holds_one() {
        let mut t = InetPeerTable::new(0, &mut Prng::new(7));
        for i in 0..10 {
            assert!(t.xrlim_allow(ms(0), addr(i), ICMP_RATELIMIT));
            assert_eq!(t.len(), 1);
        }
    }

    #[test]
    fn composed_like_icmp_send() {
        // The sequence the module docs describe, for 100 dest-unreachables to one host
        // in one instant: six pass (per-peer burst), the rest count OutRateLimitHost.
        let mut rng = Prng::new(8);
        let mut global = IcmpGlobal::new();
        let mut peers = InetPeerTable::new(INET_PEER_THRESHOLD, &mut rng);
        let (mut sent, mut rl_global, mut rl_host) = (0, 0, 0);
        for _ in 0..100 {
            let limited = !icmpv4_mask_allow(ICMP_RATEMASK, 3, 3);
            if limited && !global.icmp_global_allow(ms(0), ICMP_MSGS_PER_SEC, ICMP_MSGS_BURST) {
                rl_global += 1;
                continue;
            }
            if limited && !peers.xrlim_allow(ms(0), addr(9), ICMP_RATELIMIT) {
                rl_host += 1;
                continue;
            }
            if limited {
                global.icmp_global_consume(&mut rng);
            }
            sent += 1;
        }
        assert_eq!((sent, rl_global, rl_host), (6, 0, 94));
    }
}
