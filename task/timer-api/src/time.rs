//! Time with units: [`Duration`] (nanoseconds), [`Instant`] (a point on
//! the 64-bit jiffies line), the rounding every relative wait of this
//! crate uses, and the timer core's conversion and comparison helpers
//! (Linux's `msecs_to_jiffies` and `time_after` families), re-exported so
//! that clients and the server share one definition.
//!
//! # Rounding: a wait never ends early
//!
//! The server fires a timer at the tick that makes `jiffies_64` equal its
//! expiry, and a caller reads `jiffies()` somewhere *inside* the current
//! jiffy. A deadline of `now + n` therefore fires between `n - 1` and `n`
//! jiffies later: up to one jiffy early. Every relative wait here (sleeps,
//! timeouts, delayed work) uses Linux's `msleep` rounding instead: `n`
//! jiffies become the deadline `now + n + 1` ([`relative_deadline`]), which
//! fires after more than `n` and at most `n + 1` jiffies. In Linux,
//! `msleep(ms)` is `schedule_timeout(msecs_to_jiffies(ms) + 1)`; here the
//! same `+ 1` is applied to every relative wait, not only `msleep`.
//!
//! Timeouts saturate rather than overflow: a relative timeout is clamped to
//! [`MAX_JIFFY_OFFSET`] jiffies (Linux clamps `msecs_to_jiffies` there),
//! which keeps the deadline less than half the 64-bit line ahead, where the
//! wrap-safe comparisons hold. At any HZ that is longer than the system
//! will run (2^62 jiffies: 1.4 billion years at 100 Hz).
//!
//! Absolute deadlines ([`Instant`], `sleep_until`) need no rounding: they
//! end when `jiffies_64` has reached the deadline.

/// Linux's timer-slack rounding, exactly as the server applies it to a
/// timer set up with slack (see the `setup` op): for clients that need to
/// know which jiffy a slacked timer will fire at.
pub use timer_core::{apply_slack, kept_slack, Jiffies, Slack, EXACT_SLACK};

pub use timer_core::jiffies::{
    time_after, time_after64, time_after_eq, time_after_eq64, time_before, time_before64, time_before_eq,
    time_before_eq64, time_in_range, time_in_range64, Hz,
};

/// The longest relative timeout, in jiffies: `(i64::MAX >> 1) - 1`, as
/// Linux's `MAX_JIFFY_OFFSET` is `((LONG_MAX >> 1) - 1)`. Longer timeouts
/// are clamped to it (never wrapped).
pub const MAX_JIFFY_OFFSET: u64 = ((i64::MAX >> 1) - 1) as u64;

/// `timeout` jiffies clamped to [`MAX_JIFFY_OFFSET`].
#[inline]
pub const fn clamp_timeout(timeout: u64) -> u64 {
    if timeout > MAX_JIFFY_OFFSET {
        MAX_JIFFY_OFFSET
    } else {
        timeout
    }
}

/// The absolute deadline (jiffies) of a relative wait of `timeout`
/// jiffies started at jiffy `now`: `now + min(timeout, MAX_JIFFY_OFFSET) + 1`
/// (wrapping on the 64-bit line, which never happens in practice).
///
/// A wait that ends when `jiffies_64` reaches it has lasted more than
/// `timeout` full jiffies and at most `timeout + 1`, wherever inside jiffy
/// `now` it started. `timeout == 0` waits for the next tick (more than 0,
/// at most 1 jiffy), as Linux's `msleep(0)` does.
#[inline]
pub const fn relative_deadline(now: u64, timeout: u64) -> u64 {
    now.wrapping_add(clamp_timeout(timeout) + 1)
}

/// What is left, in jiffies, of a relative wait with `deadline` (from
/// [`relative_deadline`]) when an event ends it at jiffy `now`: the
/// `timeout` minus the full jiffies that passed, and at least 1 (Linux's
/// `wait_event_timeout` returns at least 1 when the condition came true).
#[inline]
pub const fn remaining(deadline: u64, now: u64) -> u64 {
    let left = deadline.wrapping_sub(now) as i64 - 1;
    if left < 1 {
        1
    } else {
        left as u64
    }
}

/// Jiffies of Linux's `msleep(ms)` at `hz`: `msecs_to_jiffies(ms)`,
/// rounded up, so that with [`relative_deadline`]'s `+ 1` the sleep is
/// Linux's `schedule_timeout(msecs_to_jiffies(ms) + 1)` and lasts at least
/// `ms` milliseconds. Saturates (never wraps).
#[inline]
pub const fn msecs_to_jiffies(hz: Hz, ms: u64) -> u64 {
    hz.msecs_to_jiffies(ms)
}

/// A span of time in nanoseconds (`u64`: up to 584 years). Independent of
/// HZ; converted to jiffies rounding *up* ([`Duration::to_jiffies`]), so a
/// wait of a `Duration` is never shorter than asked. Constructors saturate
/// at `u64::MAX` ns instead of overflowing.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    ns: u64,
}

impl Duration {
    /// No time.
    pub const ZERO: Duration = Duration { ns: 0 };
    /// The longest representable span (about 584 years).
    pub const MAX: Duration = Duration { ns: u64::MAX };

    /// `ns` nanoseconds.
    pub const fn from_nanos(ns: u64) -> Self {
        Duration { ns }
    }

    /// `us` microseconds (saturating).
    pub const fn from_micros(us: u64) -> Self {
        Duration { ns: us.saturating_mul(1_000) }
    }

    /// `ms` milliseconds (saturating).
    pub const fn from_millis(ms: u64) -> Self {
        Duration { ns: ms.saturating_mul(1_000_000) }
    }

    /// `s` seconds (saturating).
    pub const fn from_secs(s: u64) -> Self {
        Duration { ns: s.saturating_mul(1_000_000_000) }
    }

    /// `j` jiffies at `hz` (rounded up to whole ns, saturating): the
    /// inverse of [`Duration::to_jiffies`] for whole jiffies.
    pub const fn from_jiffies(j: u64, hz: Hz) -> Self {
        Duration { ns: hz.jiffies_to_nsecs(j) }
    }

    /// Whole nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.ns
    }

    /// Whole microseconds, rounded down.
    pub const fn as_micros(self) -> u64 {
        self.ns / 1_000
    }

    /// Whole milliseconds, rounded down.
    pub const fn as_millis(self) -> u64 {
        self.ns / 1_000_000
    }

    /// Jiffies at `hz`, rounded *up* (`nsecs_to_jiffies`): a wait of the
    /// result is never shorter than `self`. Zero stays zero.
    pub const fn to_jiffies(self, hz: Hz) -> u64 {
        hz.nsecs_to_jiffies(self.ns)
    }

    /// `self + other`, saturating at [`Duration::MAX`].
    pub const fn saturating_add(self, other: Duration) -> Self {
        Duration { ns: self.ns.saturating_add(other.ns) }
    }

    /// `self - other`, or zero if `other` is longer.
    pub const fn saturating_sub(self, other: Duration) -> Self {
        Duration { ns: self.ns.saturating_sub(other.ns) }
    }
}

impl core::ops::Add for Duration {
    type Output = Duration;
    /// Saturating (never panics, never wraps).
    fn add(self, o: Duration) -> Duration {
        self.saturating_add(o)
    }
}

/// A point on the 64-bit jiffies line (`jiffies_64`), as the server
/// reports it and as timers are armed. Ordered with the wrap-safe
/// [`Instant::is_after`] family (valid while two instants are less than
/// 2^63 jiffies apart), never with `<`, hence no `PartialOrd`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Instant(pub u64);

impl Instant {
    /// The raw jiffies count.
    pub const fn jiffies(self) -> u64 {
        self.0
    }

    /// The deadline of a wait of `timeout` jiffies starting now, with the
    /// rounding of [`relative_deadline`] (more than `timeout` full jiffies
    /// later; clamped at [`MAX_JIFFY_OFFSET`]).
    pub const fn deadline_after(self, timeout: u64) -> Instant {
        Instant(relative_deadline(self.0, timeout))
    }

    /// The deadline of a wait of `d` starting now: `d` rounded up to
    /// jiffies at `hz`, then [`Instant::deadline_after`]. Ends no earlier
    /// than `d` after the call, wherever in the jiffy it was made.
    pub const fn deadline_in(self, d: Duration, hz: Hz) -> Instant {
        self.deadline_after(d.to_jiffies(hz))
    }

    /// `self + j` jiffies exactly (no rounding; wrapping on the 64-bit
    /// line). For periodic schedules: `expires + period`.
    pub const fn add_jiffies(self, j: u64) -> Instant {
        Instant(self.0.wrapping_add(j))
    }

    /// Jiffies from `earlier` to `self`; 0 if `earlier` is not before
    /// `self` (wrap-safe).
    pub const fn jiffies_since(self, earlier: Instant) -> u64 {
        if time_after64(self.0, earlier.0) {
            self.0.wrapping_sub(earlier.0)
        } else {
            0
        }
    }

    /// Strictly later than `other` (`time_after64`).
    pub const fn is_after(self, other: Instant) -> bool {
        time_after64(self.0, other.0)
    }

    /// Strictly earlier than `other` (`time_before64`).
    pub const fn is_before(self, other: Instant) -> bool {
        time_before64(self.0, other.0)
    }

    /// At or after `other` (`time_after_eq64`): a deadline `other` has
    /// been reached at `self`.
    pub const fn is_after_eq(self, other: Instant) -> bool {
        time_after_eq64(self.0, other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hz(n: u32) -> Hz {
        Hz::new(n).unwrap()
    }

    /// Models the server: a wait armed at `deadline` from a call made at
    /// real time `t` (in jiffies, fractional) ends at real time `deadline`
    /// (the tick that makes jiffies equal it). Checks the length against
    /// `want` jiffies for calls anywhere in the jiffy.
    fn lasts_at_least(timeout: u64, want_full: u64) {
        for j0 in [0u64, 5, 0xFFFF_FFFF, (1 << 40) + 3] {
            for phase_per_mille in [0u64, 1, 500, 999] {
                // Real time of the call, in thousandths of a jiffy.
                let t = j0 * 1000 + phase_per_mille;
                let deadline = relative_deadline(j0, timeout);
                let ends = deadline * 1000;
                let lasted = ends - t;
                assert!(lasted >= want_full * 1000, "timeout {timeout} from {j0}+{phase_per_mille}/1000: {lasted}");
                assert!(lasted <= (want_full + 1) * 1000);
            }
        }
    }

    #[test]
    fn relative_waits_never_end_early() {
        for n in [0u64, 1, 2, 3, 10, 255, 256, 1000] {
            lasts_at_least(n, n);
        }
        // The old `now + n` rounding ended almost a jiffy early when the
        // call came late in the jiffy; this one does not.
        let j0 = 100u64;
        let t = j0 * 1000 + 999;
        assert!((j0 + 3) * 1000 - t < 3000);
        assert!(relative_deadline(j0, 3) * 1000 - t >= 3000);
    }

    #[test]
    fn huge_timeouts_saturate_not_wrap() {
        let now = 0xFFFF_FB50u64;
        let d = relative_deadline(now, u64::MAX);
        assert_eq!(d, now + MAX_JIFFY_OFFSET + 1);
        assert!(time_after64(d, now), "the clamped deadline is still in the future");
        assert_eq!(clamp_timeout(u64::MAX), MAX_JIFFY_OFFSET);
        assert_eq!(clamp_timeout(7), 7);
        assert_eq!(MAX_JIFFY_OFFSET, (1u64 << 62) - 2);
        // Even from the far end of the line the deadline is "after" now.
        let late = u64::MAX - 10;
        assert!(time_after64(relative_deadline(late, u64::MAX), late));
        assert!(Instant(now).deadline_in(Duration::MAX, hz(1_000_000)).is_after(Instant(now)));
    }

    #[test]
    fn msleep_is_linux_rounding() {
        // Linux: msleep(ms) = schedule_timeout(msecs_to_jiffies(ms) + 1).
        let h = hz(100);
        assert_eq!(relative_deadline(50, msecs_to_jiffies(h, 10)), 50 + 1 + 1);
        assert_eq!(relative_deadline(50, msecs_to_jiffies(h, 11)), 50 + 2 + 1);
        assert_eq!(relative_deadline(50, msecs_to_jiffies(h, 0)), 51);
        assert_eq!(relative_deadline(50, msecs_to_jiffies(h, 250)), 50 + 25 + 1);
        // Never short at any HZ and phase: ms of real time fit in the wait.
        for n in [100u32, 128, 300, 1000] {
            for ms in [0u64, 1, 9, 10, 11, 250, 999, 1001] {
                let j = msecs_to_jiffies(hz(n), ms);
                // The shortest wait (call at the very end of the jiffy) is `j` jiffies.
                assert!(j as u128 * 1_000_000_000 / n as u128 >= ms as u128 * 1_000_000, "hz {n} ms {ms}");
            }
        }
        assert_eq!(msecs_to_jiffies(hz(1_000_000), u64::MAX), u64::MAX);
    }

    #[test]
    fn remaining_counts_whole_jiffies_left_and_at_least_one() {
        let d = relative_deadline(100, 10); // 111
        assert_eq!(remaining(d, 100), 10, "event in the first jiffy: all of it left");
        assert_eq!(remaining(d, 105), 5);
        assert_eq!(remaining(d, 110), 1);
        assert_eq!(remaining(d, 111), 1, "at least 1, as Linux reports");
        assert_eq!(remaining(d, 200), 1);
        let d = relative_deadline(0xFFFF_FFFF, 4);
        assert_eq!(remaining(d, 0x1_0000_0000), 3, "across the 32-bit wrap");
    }

    #[test]
    fn durations_convert_up_and_saturate() {
        let h = hz(100);
        assert_eq!(Duration::from_millis(10).to_jiffies(h), 1);
        assert_eq!(Duration::from_millis(11).to_jiffies(h), 2);
        assert_eq!(Duration::from_nanos(1).to_jiffies(h), 1);
        assert_eq!(Duration::ZERO.to_jiffies(h), 0);
        assert_eq!(Duration::from_micros(1_500).as_millis(), 1);
        assert_eq!(Duration::from_secs(2).as_micros(), 2_000_000);
        assert_eq!(Duration::from_secs(u64::MAX), Duration::MAX);
        assert_eq!(Duration::from_millis(u64::MAX) + Duration::from_nanos(1), Duration::MAX);
        assert_eq!(Duration::from_millis(1).saturating_sub(Duration::from_secs(1)), Duration::ZERO);
        assert_eq!(Duration::from_jiffies(3, hz(300)).as_nanos(), 10_000_000);
        assert_eq!(Duration::from_jiffies(3, h).to_jiffies(h), 3);
        let i = Instant(1000);
        assert_eq!(i.deadline_in(Duration::from_millis(20), h), Instant(1003));
        assert_eq!(i.add_jiffies(5).jiffies_since(i), 5);
        assert_eq!(i.jiffies_since(i.add_jiffies(5)), 0);
        assert!(i.add_jiffies(1).is_after(i) && i.is_before(i.add_jiffies(1)) && i.is_after_eq(i));
        // Re-exported comparisons are the core's, wrap-safe.
        assert!(time_after(0x10, 0xFFFF_FFF0));
    }
}
