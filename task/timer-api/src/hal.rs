//! `embedded-hal` 1.0's [`DelayNs`] over the timer server: the delay every
//! driver crate takes (`fn new(i2c: I2C, delay: impl DelayNs)`).
//!
//! [`TimerDelay`] spins the calibrated delay loop ([`Delay`], Linux's
//! `udelay`) for delays up to its spin limit and sleeps through the timer
//! server for longer ones, so the CPU goes to other tasks. Either way the
//! delay lasts *at least* what was asked, as `DelayNs` requires:
//! - a spin is `ceil(ns * lpj' * HZ / 10^9)` loops with a margin over the
//!   calibration ([`crate::delay::loops_for_ns`]);
//! - a sleep is `ns` rounded up to whole jiffies plus one jiffy for the
//!   phase of the call ([`crate::time::relative_deadline`]): more than `ns`,
//!   at most `ns + 2` jiffies.
//!
//! The default spin limit is half a jiffy (5 ms at HZ 100, 0.5 ms at HZ
//! 1000): below it a sleep would last more than twice the delay asked, above
//! it the CPU is worth more than the overshoot. Linux's guidance
//! (timers-howto) draws the same line between `udelay` and `msleep`, minus
//! the high-resolution `usleep_range` Escapement does not have yet.
//!
//! If the timer server cannot be reached for a sleep (it died twice in a
//! row), the delay spins instead: `DelayNs` has no error to report, and a
//! spin still honours "at least".

use crate::client::{Id, Timers};
use crate::delay::Delay;
use crate::sleep::sleep;
use crate::time::Duration;
pub use embedded_hal::delay::DelayNs;

/// How a delay of `ns` nanoseconds is carried out.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum Plan {
    /// Spin this many delay loops.
    Spin(u64),
    /// Sleep through the timer server for this long.
    Sleep(Duration),
}

/// The plan for `ns` with spin limit `spin_limit_ns` (inclusive: a delay
/// of exactly the limit spins) and calibration `delay`.
pub fn plan(ns: u64, spin_limit_ns: u64, delay: &Delay) -> Plan {
    if ns <= spin_limit_ns {
        Plan::Spin(delay.loops_for_ns(ns))
    } else {
        Plan::Sleep(Duration::from_nanos(ns))
    }
}

/// Half a jiffy at `hz`, in ns: the default spin limit.
pub const fn default_spin_limit_ns(hz: u32) -> u64 {
    let hz = if hz == 0 { 1 } else { hz as u64 };
    500_000_000 / hz
}

/// A [`DelayNs`] that borrows a timer of a [`Timers`] set for its sleeps.
pub struct TimerDelay<'a, const N: usize> {
    timers: &'a mut Timers<N>,
    id: Id,
    delay: Delay,
    spin_limit_ns: u64,
    /// Delays carried out by spinning (for tests and statistics).
    pub spins: u32,
    /// Delays carried out by sleeping.
    pub sleeps: u32,
}

impl<'a, const N: usize> TimerDelay<'a, N> {
    /// Sleeps with timer `id` of `timers` (a one-shot timer the caller set
    /// up; its notification bit is waited on), spins with `delay` (from
    /// [`Delay::calibrate`]) up to half a jiffy.
    pub fn new(timers: &'a mut Timers<N>, id: Id, delay: Delay) -> Self {
        let spin_limit_ns = default_spin_limit_ns(delay.hz);
        TimerDelay { timers, id, delay, spin_limit_ns, spins: 0, sleeps: 0 }
    }

    /// Spins for delays up to `limit` (inclusive), sleeps above it.
    pub fn with_spin_limit(mut self, limit: Duration) -> Self {
        self.spin_limit_ns = limit.as_nanos();
        self
    }

    /// The spin limit in ns.
    pub fn spin_limit_ns(&self) -> u64 {
        self.spin_limit_ns
    }

    /// Waits at least `ns` nanoseconds (any length).
    pub fn delay(&mut self, ns: u64) {
        match plan(ns, self.spin_limit_ns, &self.delay) {
            Plan::Spin(_) => {
                self.spins += 1;
                self.delay.ndelay(ns);
            }
            Plan::Sleep(d) => {
                self.sleeps += 1;
                if sleep(self.timers, self.id, d).is_err() {
                    self.delay.ndelay(ns);
                }
            }
        }
    }
}

impl<const N: usize> DelayNs for TimerDelay<'_, N> {
    fn delay_ns(&mut self, ns: u32) {
        self.delay(ns as u64);
    }

    fn delay_us(&mut self, us: u32) {
        self.delay(us as u64 * 1_000);
    }

    fn delay_ms(&mut self, ms: u32) {
        self.delay(ms as u64 * 1_000_000);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_delays_spin_long_ones_sleep() {
        let d = Delay { loops_per_jiffy: 4_980_736, hz: 100 };
        let limit = default_spin_limit_ns(100);
        assert_eq!(limit, 5_000_000);
        assert_eq!(default_spin_limit_ns(1000), 500_000);
        assert_eq!(plan(0, limit, &d), Plan::Spin(0));
        assert!(matches!(plan(1_000, limit, &d), Plan::Spin(l) if l >= 500));
        assert!(matches!(plan(limit, limit, &d), Plan::Spin(_)), "the limit is inclusive");
        assert_eq!(plan(limit + 1, limit, &d), Plan::Sleep(Duration::from_nanos(limit + 1)));
        assert_eq!(plan(u32::MAX as u64 * 1_000_000, limit, &d), Plan::Sleep(Duration::from_millis(u32::MAX as u64)));
        // A spin limit of 0 sleeps everything but zero.
        assert_eq!(plan(1, 0, &d), Plan::Sleep(Duration::from_nanos(1)));
    }
}
