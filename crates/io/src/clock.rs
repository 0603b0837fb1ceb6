//! The real clock, mapped onto the core's [`Instant`] (nanoseconds since an arbitrary epoch).

use core::time::Duration;
use skiff_core::time::Instant;

/// A monotonic clock whose epoch is the moment it was created. Linux `ktime_get()`
/// (`CLOCK_MONOTONIC`).
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: std::time::Instant,
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl MonotonicClock {
    pub fn new() -> Self {
        MonotonicClock {
            origin: std::time::Instant::now(),
        }
    }

    /// Time since the clock was created; saturates at [`Instant::MAX`] (after 584 years).
    pub fn now(&self) -> Instant {
        Instant::from_nanos(u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    /// The core's wall-clock offset for this clock (`Stack::set_realtime_offset`):
    /// `CLOCK_REALTIME` − [`MonotonicClock::now`], read now. Zero if the system clock is
    /// before the Unix epoch or behind the clock's own age.
    pub fn realtime_offset(&self) -> Duration {
        let elapsed = self.origin.elapsed();
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_sub(elapsed)
    }

    /// The real time at which the core's `deadline` falls, to sleep until it; `None` if the
    /// platform cannot represent it (a far-future deadline: sleep without a timeout).
    pub fn to_std(&self, deadline: Instant) -> Option<std::time::Instant> {
        self.origin
            .checked_add(Duration::from_nanos(deadline.as_nanos()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_moves_forward() {
        let clock = MonotonicClock::new();
        let a = clock.now();
        std::thread::sleep(Duration::from_millis(2));
        let b = clock.now();
        assert!(b.saturating_duration_since(a) >= Duration::from_millis(2));
        assert!(clock.now() >= b);
    }

    #[test]
    fn realtime_offset_maps_now_to_the_system_clock() {
        let clock = MonotonicClock::new();
        std::thread::sleep(Duration::from_millis(2));
        let wall = Duration::from_nanos(clock.now().as_nanos()) + clock.realtime_offset();
        let sys = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let diff = wall.abs_diff(sys);
        assert!(diff < Duration::from_millis(100), "{wall:?} vs {sys:?}");
    }

    #[test]
    fn deadlines_map_back_to_real_time() {
        let clock = MonotonicClock::new();
        let deadline = clock.now() + Duration::from_millis(5);
        let real = clock.to_std(deadline).unwrap();
        std::thread::sleep(real.saturating_duration_since(std::time::Instant::now()));
        assert!(clock.now() >= deadline);
        assert_eq!(clock.to_std(Instant::ZERO), Some(clock.origin));
        // A deadline the platform cannot represent is reported, not a panic.
        let _ = clock.to_std(Instant::MAX);
    }
}
