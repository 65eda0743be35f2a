//! Jiffies: the tick counter, wrap-safe comparisons and unit conversions.
//!
//! Why this module exists: every other part of the timer server reasons in
//! jiffies (ticks of the periodic timer at `HZ` per second). The counter is a
//! 64-bit `jiffies_64`; a 32-bit view is kept for clients and for tests of
//! wrap handling. Boot starts the counter at [`Hz::initial_jiffies`], five
//! minutes (300 s) before the 32-bit view wraps, so that wrap bugs show up in
//! every run instead of after 49 days.
//!
//! Guarantees:
//! - Comparisons (`time_after` and friends) are correct across wrap as long
//!   as the two instants are less than half the counter range apart
//!   (2^31 jiffies for the `u32` forms, 2^63 for the `u64` forms).
//! - Conversions from real time (ms, us, ns) to jiffies round *up*: a delay
//!   converted to jiffies is never shorter than the one asked for. Conversions
//!   from jiffies back to real time also round up. Results saturate instead
//!   of wrapping.

use core::fmt;
use core::num::NonZeroU32;

/// A point on (or a distance along) the 64-bit jiffies time line.
///
/// Unit: jiffies (ticks of the `HZ` timer). Arithmetic on it wraps modulo
/// 2^64; order it with [`Jiffies::is_after`] and friends, never with `<`
/// (which is why `PartialOrd` is deliberately not implemented).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Jiffies(pub u64);

impl Jiffies {
    /// Jiffy zero. Note that a running system starts at
    /// [`Hz::initial_jiffies`], not here.
    pub const ZERO: Jiffies = Jiffies(0);

    /// The raw 64-bit count.
    #[inline]
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The 32-bit view (`jiffies` as opposed to `jiffies_64`): the low 32
    /// bits. It wraps every 2^32 jiffies.
    #[inline]
    pub const fn low32(self) -> u32 {
        self.0 as u32
    }

    /// `self + n` jiffies, wrapping modulo 2^64.
    #[inline]
    #[must_use]
    pub const fn wrapping_add(self, n: u64) -> Jiffies {
        Jiffies(self.0.wrapping_add(n))
    }

    /// `self - n` jiffies, wrapping modulo 2^64.
    #[inline]
    #[must_use]
    pub const fn wrapping_sub(self, n: u64) -> Jiffies {
        Jiffies(self.0.wrapping_sub(n))
    }

    /// Distance in jiffies from `earlier` to `self`, modulo 2^64.
    #[inline]
    pub const fn since(self, earlier: Jiffies) -> u64 {
        self.0.wrapping_sub(earlier.0)
    }

    /// `true` if `self` is strictly later than `other` (wrap-safe, see module doc).
    #[inline]
    pub const fn is_after(self, other: Jiffies) -> bool {
        time_after64(self.0, other.0)
    }

    /// `true` if `self` is strictly earlier than `other` (wrap-safe).
    #[inline]
    pub const fn is_before(self, other: Jiffies) -> bool {
        time_before64(self.0, other.0)
    }

    /// `true` if `self` is later than or equal to `other` (wrap-safe).
    #[inline]
    pub const fn is_after_eq(self, other: Jiffies) -> bool {
        time_after_eq64(self.0, other.0)
    }

    /// `true` if `self` is earlier than or equal to `other` (wrap-safe).
    #[inline]
    pub const fn is_before_eq(self, other: Jiffies) -> bool {
        time_before_eq64(self.0, other.0)
    }
}

impl fmt::Debug for Jiffies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Jiffies({:#x})", self.0)
    }
}

impl From<u64> for Jiffies {
    fn from(v: u64) -> Self {
        Jiffies(v)
    }
}

/// The longest delay, in jiffies, that a relative-to-absolute conversion
/// yields: Linux's `MAX_JIFFY_OFFSET`, `(LONG_MAX >> 1) - 1` for 64-bit
/// jiffies (2^62 - 2). Less than half the 64-bit range, so `now + d` is
/// always after `now` by the wrap-safe comparisons, never in the past.
pub const MAX_JIFFY_OFFSET: u64 = ((i64::MAX >> 1) - 1) as u64;

/// `a` is strictly after `b` on the 32-bit time line (valid while they are
/// less than 2^31 jiffies apart).
#[inline]
pub const fn time_after(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) < 0
}

/// `a` is strictly before `b` on the 32-bit time line.
#[inline]
pub const fn time_before(a: u32, b: u32) -> bool {
    time_after(b, a)
}

/// `a` is after or equal to `b` on the 32-bit time line.
#[inline]
pub const fn time_after_eq(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) >= 0
}

/// `a` is before or equal to `b` on the 32-bit time line.
#[inline]
pub const fn time_before_eq(a: u32, b: u32) -> bool {
    time_after_eq(b, a)
}

/// `a` lies in the inclusive window `[lo, hi]` on the 32-bit time line.
#[inline]
pub const fn time_in_range(a: u32, lo: u32, hi: u32) -> bool {
    time_after_eq(a, lo) && time_before_eq(a, hi)
}

/// `a` is strictly after `b` on the 64-bit time line (valid while they are
/// less than 2^63 jiffies apart).
#[inline]
pub const fn time_after64(a: u64, b: u64) -> bool {
    (b.wrapping_sub(a) as i64) < 0
}

/// `a` is strictly before `b` on the 64-bit time line.
#[inline]
pub const fn time_before64(a: u64, b: u64) -> bool {
    time_after64(b, a)
}

/// `a` is after or equal to `b` on the 64-bit time line.
#[inline]
pub const fn time_after_eq64(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) >= 0
}

/// `a` is before or equal to `b` on the 64-bit time line.
#[inline]
pub const fn time_before_eq64(a: u64, b: u64) -> bool {
    time_after_eq64(b, a)
}

/// `a` lies in the inclusive window `[lo, hi]` on the 64-bit time line.
#[inline]
pub const fn time_in_range64(a: u64, lo: u64, hi: u64) -> bool {
    time_after_eq64(a, lo) && time_before_eq64(a, hi)
}

const MSEC_PER_SEC: u128 = 1_000;
const USEC_PER_SEC: u128 = 1_000_000;
const NSEC_PER_SEC: u128 = 1_000_000_000;

/// The tick rate: timer interrupts per second. A runtime value (it comes
/// from the application's configuration), never zero.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Hz(NonZeroU32);

impl Hz {
    /// `None` for 0 Hz.
    pub const fn new(hz: u32) -> Option<Hz> {
        match NonZeroU32::new(hz) {
            Some(n) => Some(Hz(n)),
            None => None,
        }
    }

    /// Ticks per second.
    #[inline]
    pub const fn get(self) -> u32 {
        self.0.get()
    }

    /// `INITIAL_JIFFIES`: `(u32)(-300 * HZ)` widened to 64 bits. The 32-bit
    /// view wraps 300 seconds after boot; `jiffies_64` itself does not wrap
    /// for the life of the system. Computed with 32-bit wrapping arithmetic,
    /// as the C expression is.
    pub const fn initial_jiffies(self) -> Jiffies {
        Jiffies(0u32.wrapping_sub(300u32.wrapping_mul(self.get())) as u64)
    }

    /// Ceiling of `amount * HZ / per_sec`, saturating at `u64::MAX`.
    const fn ceil_to_jiffies(self, amount: u64, per_sec: u128) -> u64 {
        let num = amount as u128 * self.get() as u128;
        let q = num.div_ceil(per_sec);
        if q > u64::MAX as u128 { u64::MAX } else { q as u64 }
    }

    /// Ceiling of `j * per_sec / HZ`, saturating at `u64::MAX`.
    const fn ceil_jiffies_to(self, j: u64, per_sec: u128) -> u64 {
        let num = j as u128 * per_sec;
        let q = num.div_ceil(self.get() as u128);
        if q > u64::MAX as u128 { u64::MAX } else { q as u64 }
    }

    /// Milliseconds to a jiffies *duration*, rounded up (never short):
    /// at 100 Hz, 1 ms is 1 jiffy and 10 ms is 1 jiffy, 11 ms is 2.
    /// Zero stays zero.
    pub const fn msecs_to_jiffies(self, ms: u64) -> u64 {
        self.ceil_to_jiffies(ms, MSEC_PER_SEC)
    }

    /// Microseconds to a jiffies duration, rounded up.
    pub const fn usecs_to_jiffies(self, us: u64) -> u64 {
        self.ceil_to_jiffies(us, USEC_PER_SEC)
    }

    /// Nanoseconds to a jiffies duration, rounded up.
    pub const fn nsecs_to_jiffies(self, ns: u64) -> u64 {
        self.ceil_to_jiffies(ns, NSEC_PER_SEC)
    }

    /// A jiffies duration to milliseconds, rounded up.
    pub const fn jiffies_to_msecs(self, j: u64) -> u64 {
        self.ceil_jiffies_to(j, MSEC_PER_SEC)
    }

    /// A jiffies duration to microseconds, rounded up.
    pub const fn jiffies_to_usecs(self, j: u64) -> u64 {
        self.ceil_jiffies_to(j, USEC_PER_SEC)
    }

    /// A jiffies duration to nanoseconds, rounded up.
    pub const fn jiffies_to_nsecs(self, j: u64) -> u64 {
        self.ceil_jiffies_to(j, NSEC_PER_SEC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hz(n: u32) -> Hz {
        Hz::new(n).unwrap()
    }

    #[test]
    fn zero_hz_is_rejected() {
        assert!(Hz::new(0).is_none());
    }

    #[test]
    fn initial_jiffies_is_300_seconds_before_32bit_wrap() {
        for n in [100u32, 250, 1000, 1024, 32768] {
            let j = hz(n).initial_jiffies();
            assert_eq!(j.0 >> 32, 0, "upper half is zero");
            assert_eq!((1u64 << 32) - j.0, 300 * n as u64);
        }
        assert_eq!(hz(1000).initial_jiffies(), Jiffies(0xFFFB_6C20));
        // The C expression wraps in 32 bits for absurd rates; so do we.
        assert_eq!(hz(20_000_000).initial_jiffies().0, 0u32.wrapping_sub(300u32.wrapping_mul(20_000_000)) as u64);
    }

    #[test]
    fn time_after_is_wrap_safe_32() {
        let a = 0xFFFF_FFF0u32;
        let b = a.wrapping_add(0x20); // 0x10, after the wrap
        assert!(time_after(b, a));
        assert!(time_before(a, b));
        assert!(!time_after(a, b));
        assert!(time_after_eq(b, b) && time_before_eq(b, b));
        assert!(!time_after(b, b) && !time_before(b, b));
        assert!(time_in_range(0xFFFF_FFFF, a, b));
        assert!(time_in_range(0, a, b));
        assert!(!time_in_range(0x11, a, b));
        // Past half the range the answer flips: the documented limit.
        assert!(time_after(0x7FFF_FFFF, 0));
        assert!(!time_after(0x8000_0001, 0));
        assert!(time_before(0x8000_0001, 0));
    }

    #[test]
    fn time_after_is_wrap_safe_64() {
        let a = u64::MAX - 5;
        let b = a.wrapping_add(10);
        assert!(time_after64(b, a) && time_before64(a, b));
        assert!(time_after_eq64(a, a) && time_before_eq64(a, a));
        assert!(time_in_range64(u64::MAX, a, b) && time_in_range64(0, a, b));
        assert!(!time_in_range64(b + 1, a, b));
        assert!(Jiffies(b).is_after(Jiffies(a)));
        assert!(Jiffies(a).is_before(Jiffies(b)));
        assert!(Jiffies(a).is_before_eq(Jiffies(a)) && Jiffies(a).is_after_eq(Jiffies(a)));
        assert_eq!(Jiffies(b).since(Jiffies(a)), 10);
        assert_eq!(Jiffies(a).wrapping_add(10), Jiffies(b));
        assert_eq!(Jiffies(b).wrapping_sub(10), Jiffies(a));
        assert_eq!(Jiffies(0x1_0000_0005).low32(), 5);
    }

    #[test]
    fn msecs_to_jiffies_never_rounds_short() {
        // HZ divides 1000.
        assert_eq!(hz(100).msecs_to_jiffies(0), 0);
        assert_eq!(hz(100).msecs_to_jiffies(1), 1);
        assert_eq!(hz(100).msecs_to_jiffies(10), 1);
        assert_eq!(hz(100).msecs_to_jiffies(11), 2);
        assert_eq!(hz(1000).msecs_to_jiffies(7), 7);
        // HZ a multiple of 1000.
        assert_eq!(hz(2000).msecs_to_jiffies(3), 6);
        // Neither: 300 Hz, 1 ms = 0.3 jiffy -> 1; 10 ms = 3 exactly; 11 ms = 3.3 -> 4.
        assert_eq!(hz(300).msecs_to_jiffies(1), 1);
        assert_eq!(hz(300).msecs_to_jiffies(10), 3);
        assert_eq!(hz(300).msecs_to_jiffies(11), 4);
        assert_eq!(hz(1000).usecs_to_jiffies(1), 1);
        assert_eq!(hz(1000).usecs_to_jiffies(1000), 1);
        assert_eq!(hz(1000).usecs_to_jiffies(1001), 2);
        assert_eq!(hz(1000).nsecs_to_jiffies(1), 1);
        assert_eq!(hz(1000).nsecs_to_jiffies(2_000_000), 2);
        // Saturation instead of wrap.
        assert_eq!(hz(1_000_000).msecs_to_jiffies(u64::MAX), u64::MAX);
    }

    #[test]
    fn jiffies_to_time_rounds_up_and_round_trips_long() {
        assert_eq!(hz(1000).jiffies_to_msecs(5), 5);
        assert_eq!(hz(300).jiffies_to_msecs(1), 4); // 3.33 ms -> 4
        assert_eq!(hz(300).jiffies_to_usecs(1), 3334);
        assert_eq!(hz(300).jiffies_to_nsecs(3), 10_000_000);
        assert_eq!(hz(1).jiffies_to_nsecs(u64::MAX), u64::MAX);
        for n in [1u32, 100, 128, 300, 1000, 1024, 4096] {
            let h = hz(n);
            for ms in [0u64, 1, 2, 3, 9, 10, 11, 999, 1000, 1001, 123_456] {
                let j = h.msecs_to_jiffies(ms);
                assert!(h.jiffies_to_nsecs(j) >= ms * 1_000_000, "hz {n} ms {ms}");
                if j > 0 {
                    // One jiffy fewer would be short: the rounding is tight.
                    assert!(((j - 1) as u128 * 1000) < ms as u128 * n as u128);
                }
            }
        }
    }
}
