//! Time as an argument. The core never reads a clock: every entry point takes `now`, an
//! [`Instant`] the shell (skiff-io) or a test supplies, so a test can jump 30 s forward in
//! zero real time and replay a run exactly. [`TimerQueue`] holds the core's deadlines
//! (ARP retransmits, reassembly expiry, rate-limit refills…), like Linux `struct timer_list`
//! on a timer wheel, but driven by `poll_timeout()`/`handle_timeout(now)` instead of softirqs.

use core::cmp::Reverse;
use core::fmt;
use core::ops::{Add, AddAssign, Sub};
use core::time::Duration;
use std::collections::{BTreeMap, BinaryHeap};

/// A point in time: nanoseconds since an arbitrary epoch (the shell's clock start).
/// Arithmetic saturates: a hostile or huge [`Duration`] never panics. Linux `ktime_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The epoch.
    pub const ZERO: Instant = Instant(0);
    /// The last representable instant (about 584 years after the epoch).
    pub const MAX: Instant = Instant(u64::MAX);

    pub const fn from_nanos(nanos: u64) -> Self {
        Instant(nanos)
    }

    pub const fn from_micros(micros: u64) -> Self {
        Instant(micros.saturating_mul(1_000))
    }

    pub const fn from_millis(millis: u64) -> Self {
        Instant(millis.saturating_mul(1_000_000))
    }

    pub const fn from_secs(secs: u64) -> Self {
        Instant(secs.saturating_mul(1_000_000_000))
    }

    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// `self + d`, or `None` if it does not fit.
    pub fn checked_add(self, d: Duration) -> Option<Instant> {
        let nanos = u64::try_from(d.as_nanos()).ok()?;
        self.0.checked_add(nanos).map(Instant)
    }

    /// `self + d`, clamped to [`Instant::MAX`].
    pub fn saturating_add(self, d: Duration) -> Instant {
        self.checked_add(d).unwrap_or(Instant::MAX)
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// Time elapsed from `earlier` to `self`, `None` if `earlier` is later.
    pub fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        self.0.checked_sub(earlier.0).map(Duration::from_nanos)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturating, see [`Instant::saturating_add`].
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = self.saturating_add(d);
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturating to zero, see [`Instant::saturating_duration_since`].
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl fmt::Display for Instant {
    /// Seconds with nanosecond precision: `12.345678901s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}s",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000
        )
    }
}

/// Names one scheduled timer. Ids come from a 64-bit sequence and are never reused, so a
/// stale id can never cancel a later timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(u64);

/// Stale heap entries tolerated beyond one per live timer before the heap is rebuilt.
const COMPACT_SLACK: usize = 32;

/// A deadline min-heap with cancellation. `schedule` is Linux `add_timer()`; `cancel` is
/// `del_timer()` (`timer_delete()`); re-arming a pending timer (`mod_timer()`) is
/// `cancel` + `schedule`. Equal deadlines fire in scheduling order, so runs are deterministic.
///
/// Cancelled entries leave the heap lazily, but the heap is rebuilt whenever it holds more
/// than `2 × live + 32` entries, so memory stays proportional to the live timers.
#[derive(Debug)]
pub struct TimerQueue<T> {
    /// `(deadline, seq)` for live and cancelled timers; the top is always live.
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Live timers by sequence number.
    live: BTreeMap<u64, (Instant, T)>,
    next_seq: u64,
}

impl<T> Default for TimerQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> TimerQueue<T> {
    pub fn new() -> Self {
        TimerQueue {
            heap: BinaryHeap::new(),
            live: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// Arms a timer firing at `deadline`. Linux add_timer().
    pub fn schedule(&mut self, deadline: Instant, payload: T) -> TimerId {
        let seq = self.next_seq;
        // 2^64 timers take centuries; wrapping would need that many still pending to collide.
        self.next_seq = self.next_seq.wrapping_add(1);
        self.heap.push(Reverse((deadline, seq)));
        self.live.insert(seq, (deadline, payload));
        TimerId(seq)
    }

    /// Disarms a pending timer and returns its payload; `None` if it already fired or was
    /// cancelled. Linux del_timer().
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        self.remove_live(id.0).map(|(_, payload)| payload)
    }

    /// The deadline of a pending timer. Linux timer_pending() + `timer->expires`.
    pub fn deadline(&self, id: TimerId) -> Option<Instant> {
        self.live.get(&id.0).map(|&(deadline, _)| deadline)
    }

    /// The earliest pending deadline: what `poll_timeout()` reports.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((deadline, _))| *deadline)
    }

    /// Removes and returns the earliest timer whose deadline is at or before `now`.
    pub fn pop_expired(&mut self, now: Instant) -> Option<(TimerId, Instant, T)> {
        let &Reverse((deadline, seq)) = self.heap.peek()?;
        if deadline > now {
            return None;
        }
        self.heap.pop();
        let (_, payload) = self.remove_live(seq)?;
        Some((TimerId(seq), deadline, payload))
    }

    /// Number of pending timers.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Forgets a live timer, then restores the invariants: the heap top is live, and the
    /// heap holds at most `2 × live + COMPACT_SLACK` entries.
    fn remove_live(&mut self, seq: u64) -> Option<(Instant, T)> {
        let removed = self.live.remove(&seq)?;
        while let Some(Reverse((_, top))) = self.heap.peek() {
            if self.live.contains_key(top) {
                break;
            }
            self.heap.pop();
        }
        if self.heap.len() > self.live.len().saturating_mul(2) + COMPACT_SLACK {
            self.heap = self
                .live
                .iter()
                .map(|(&seq, &(deadline, _))| Reverse((deadline, seq)))
                .collect();
        }
        Some(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_constructors_saturate() {
        assert_eq!(Instant::from_secs(2).as_nanos(), 2_000_000_000);
        assert_eq!(Instant::from_millis(3).as_nanos(), 3_000_000);
        assert_eq!(Instant::from_micros(4).as_nanos(), 4_000);
        assert_eq!(Instant::from_nanos(5).as_nanos(), 5);
        assert_eq!(Instant::from_secs(u64::MAX), Instant::MAX);
        assert_eq!(Instant::from_millis(u64::MAX), Instant::MAX);
        assert_eq!(Instant::from_micros(u64::MAX), Instant::MAX);
        assert_eq!(Instant::default(), Instant::ZERO);
    }

    #[test]
    fn instant_arithmetic_never_panics() {
        let t = Instant::from_secs(1);
        assert_eq!(t + Duration::from_millis(500), Instant::from_millis(1500));
        assert_eq!(t.checked_add(Duration::MAX), None);
        assert_eq!(t + Duration::MAX, Instant::MAX);
        assert_eq!(Instant::MAX.checked_add(Duration::from_nanos(1)), None);
        assert_eq!(Instant::MAX.checked_add(Duration::ZERO), Some(Instant::MAX));
        // Fits in u128 nanoseconds of a Duration but not in u64.
        assert_eq!(t.checked_add(Duration::from_secs(u64::MAX / 1000)), None);
        let mut u = t;
        u += Duration::from_nanos(7);
        assert_eq!(u.as_nanos(), 1_000_000_007);
        u += Duration::MAX;
        assert_eq!(u, Instant::MAX);

        assert_eq!(u - t, Duration::from_nanos(u64::MAX - 1_000_000_000));
        assert_eq!(t - u, Duration::ZERO);
        assert_eq!(t.checked_duration_since(u), None);
        assert_eq!(
            u.checked_duration_since(t),
            Some(Duration::from_nanos(u64::MAX - 1_000_000_000))
        );
        assert_eq!(t.saturating_duration_since(Instant::MAX), Duration::ZERO);
        assert!(Instant::ZERO < t && t < Instant::MAX);
    }

    #[test]
    fn instant_display() {
        assert_eq!(
            Instant::from_nanos(12_345_678_901).to_string(),
            "12.345678901s"
        );
        assert_eq!(Instant::ZERO.to_string(), "0.000000000s");
        assert_eq!(Instant::from_millis(1).to_string(), "0.001000000s");
        assert_eq!(Instant::MAX.to_string(), "18446744073.709551615s");
    }

    fn drain(q: &mut TimerQueue<u32>, now: Instant) -> Vec<u32> {
        core::iter::from_fn(|| q.pop_expired(now).map(|(_, _, p)| p)).collect()
    }

    #[test]
    fn fires_in_deadline_order() {
        let mut q = TimerQueue::new();
        assert!(q.is_empty());
        assert_eq!(q.next_deadline(), None);
        assert!(q.pop_expired(Instant::MAX).is_none());
        q.schedule(Instant::from_secs(3), 3);
        q.schedule(Instant::from_secs(1), 1);
        q.schedule(Instant::from_secs(2), 2);
        assert_eq!(q.len(), 3);
        assert_eq!(q.next_deadline(), Some(Instant::from_secs(1)));
        assert!(q.pop_expired(Instant::from_millis(999)).is_none());
        let (_, deadline, p) = q.pop_expired(Instant::from_secs(1)).unwrap();
        assert_eq!((deadline, p), (Instant::from_secs(1), 1));
        assert_eq!(q.next_deadline(), Some(Instant::from_secs(2)));
        assert_eq!(drain(&mut q, Instant::from_secs(10)), [2, 3]);
        assert!(q.is_empty());
        assert_eq!(q.next_deadline(), None);
    }

    #[test]
    fn ties_fire_in_scheduling_order() {
        let mut q = TimerQueue::new();
        let t = Instant::from_secs(5);
        for p in [7, 3, 9, 1, 5] {
            q.schedule(t, p);
        }
        q.schedule(Instant::from_secs(4), 0);
        assert_eq!(drain(&mut q, t), [0, 7, 3, 9, 1, 5]);
    }

    #[test]
    fn cancel_and_stale_ids() {
        let mut q = TimerQueue::new();
        let a = q.schedule(Instant::from_secs(1), 1);
        let b = q.schedule(Instant::from_secs(2), 2);
        let c = q.schedule(Instant::from_secs(3), 3);
        assert_eq!(q.deadline(b), Some(Instant::from_secs(2)));
        assert_eq!(q.cancel(a), Some(1));
        assert_eq!(q.cancel(a), None);
        assert_eq!(q.deadline(a), None);
        // The cancelled head no longer counts as the next deadline.
        assert_eq!(q.next_deadline(), Some(Instant::from_secs(2)));
        let (id, _, p) = q.pop_expired(Instant::from_secs(2)).unwrap();
        assert_eq!((id, p), (b, 2));
        // Cancel after fire returns None and does not hit anything else.
        assert_eq!(q.cancel(b), None);
        assert_eq!(q.len(), 1);
        // A fresh timer never gets an old id.
        let d = q.schedule(Instant::from_secs(1), 4);
        assert!(d != a && d != b && d != c);
        assert_eq!(q.cancel(c), Some(3));
        assert_eq!(drain(&mut q, Instant::MAX), [4]);
    }

    #[test]
    fn memory_bounded_under_churn() {
        let mut q = TimerQueue::new();
        let mut pending = Vec::new();
        // A small live set that is re-armed over and over with ever-later deadlines
        // (cancelled entries sink below the top, where lazy deletion never reaches them).
        for i in 0..100_000u64 {
            pending.push(q.schedule(Instant::from_nanos(1_000_000 - (i % 1000)), i as u32));
            if pending.len() > 8 {
                let id = pending.remove((i % 7) as usize);
                assert!(q.cancel(id).is_some());
            }
            assert!(q.heap.len() <= 2 * q.len() + COMPACT_SLACK);
        }
        assert_eq!(q.len(), 8);
        // Everything pending still fires, in order.
        let mut last = Instant::ZERO;
        let mut fired = 0;
        while let Some((id, deadline, _)) = q.pop_expired(Instant::MAX) {
            assert!(pending.contains(&id));
            assert!(deadline >= last);
            last = deadline;
            fired += 1;
        }
        assert_eq!(fired, 8);
        assert_eq!(q.heap.len(), 0);

        // Cancelling half, then firing the rest, keeps the bound too.
        let ids: Vec<_> = (0..1000u32)
            .map(|i| q.schedule(Instant::from_nanos(u64::from(i)), i))
            .collect();
        for id in ids.iter().skip(1).step_by(2) {
            q.cancel(*id);
            assert!(q.heap.len() <= 2 * q.len() + COMPACT_SLACK);
        }
        let mut expect = 0;
        while let Some((_, _, p)) = q.pop_expired(Instant::MAX) {
            assert_eq!(p, expect);
            expect += 2;
            assert!(q.heap.len() <= 2 * q.len() + COMPACT_SLACK);
        }
        assert_eq!(expect, 1000);
    }

    #[test]
    fn deterministic() {
        let run = || {
            let mut q = TimerQueue::new();
            let mut ids = Vec::new();
            let mut x: u64 = 1;
            for i in 0..2000u32 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ids.push(q.schedule(Instant::from_nanos(x >> 54), i));
                if x & 3 == 0 {
                    q.cancel(ids[(x >> 20) as usize % ids.len()]);
                }
            }
            core::iter::from_fn(|| q.pop_expired(Instant::MAX)).collect::<Vec<_>>()
        };
        let a = run();
        assert!(a.len() > 1000);
        assert_eq!(a, run());
    }
}
