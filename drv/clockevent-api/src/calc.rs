//! Time arithmetic of clock event devices and the clocksource, after Linux.
//!
//! Why it exists: the driver and its clients must agree on how nanoseconds
//! become timer cycles and back, and that arithmetic is where timer bugs
//! live (overflow, rounding that fires early, off-by-one reload values).
//! Keeping it free of registers lets it be unit-tested on the host.
//!
//! What it guarantees:
//! - [`clocks_calc_mult_shift`] and [`clocks_calc_max_nsecs`] compute what
//!   Linux's functions of the same names compute (kernel/time/clocksource.c),
//!   so `cycles = (ns * mult) >> shift` (clock events) and
//!   `ns = (cycles * mult) >> shift` (clocksource) mean what they mean there.
//! - [`EventTiming`] converts exactly (128-bit integer arithmetic on the
//!   rate, not the rounded `mult`): an event programmed through
//!   [`EventTiming::event_cycles`] never fires before the requested delay,
//!   and the delay it reports is never less than the clamped request.
//! - [`CounterExtender`] turns a wrapping 32-bit counter into a monotonic
//!   64-bit one, provided it sees the counter at least once per wrap.
//!
//! Units are in every name: `_ns` nanoseconds, `_cycles` counts of the
//! device's counting clock (after its prescaler), `_hz` cycles per second.

use crate::ClockEventError;

/// Nanoseconds per second.
pub const NSEC_PER_SEC: u64 = 1_000_000_000;

/// Linux's `clocks_calc_mult_shift`: a `(mult, shift)` pair converting
/// values counted at `from` Hz into values counted at `to` Hz as
/// `(value * mult) >> shift`, with the largest shift (best accuracy) for
/// which a value spanning `maxsec` seconds at `from` Hz still fits the
/// 64-bit product.
///
/// Clock events use `(from, to) = (NSEC_PER_SEC, rate)` (ns -> cycles); a
/// clocksource uses `(rate, NSEC_PER_SEC)` (cycles -> ns). `from` must not
/// be 0; `mult` is rounded to nearest, so conversions through it are
/// approximate (see [`EventTiming`] for exact ones).
pub fn clocks_calc_mult_shift(from: u32, to: u32, maxsec: u32) -> (u32, u32) {
    let from = u64::from(from.max(1));
    // Bits of headroom the conversion range leaves in the 64-bit product.
    let mut sftacc: u32 = 32;
    let mut tmp = (u64::from(maxsec) * from) >> 32;
    while tmp != 0 {
        tmp >>= 1;
        sftacc -= 1;
    }
    let mut sft: u32 = 32;
    let mut mult: u64 = 0;
    while sft > 0 {
        mult = ((u64::from(to) << sft) + from / 2) / from;
        if mult >> sftacc == 0 {
            break;
        }
        sft -= 1;
    }
    // Linux leaves the last candidate in place when no shift fits; so do we
    // (it can only happen for rates far above 4 GHz).
    (mult as u32, sft)
}

/// `(cycles * mult) >> shift`, in 128 bits so it cannot overflow; saturates
/// at `u64::MAX`. Linux's `clocksource_cyc2ns` without the 64-bit limit.
pub fn mul_shift(value: u64, mult: u32, shift: u32) -> u64 {
    let wide = (u128::from(value) * u128::from(mult)) >> shift.min(127);
    u64::try_from(wide).unwrap_or(u64::MAX)
}

/// Linux's `clocksource_max_adjustment`: the 11% by which NTP may steer
/// `mult`, kept out of the safe idle interval.
pub fn clocksource_max_adjustment(mult: u32) -> u32 {
    (u64::from(mult) * 11 / 100) as u32
}

/// Linux's `clocks_calc_max_nsecs`: the longest interval, in ns, over which
/// a clocksource counter of `mask` (its highest value; `2^bits - 1`) can be
/// left unread, with a 50% safety margin. Also returns the cycle count the
/// interval was derived from.
pub fn clocks_calc_max_nsecs(mult: u32, shift: u32, maxadj: u32, mask: u64) -> (u64, u64) {
    let widest = u64::MAX / (u64::from(mult) + u64::from(maxadj)).max(1);
    let max_cycles = widest.min(mask);
    let max_nsecs = mul_shift(max_cycles, mult.saturating_sub(maxadj), shift);
    (max_nsecs >> 1, max_cycles)
}

/// The prescaler value (the `PSC` register, which divides by `PSC + 1`)
/// that brings `clock_hz` closest to `target_hz`, within the 16-bit
/// register's range; and the counting rate it gives, in Hz (rounded down
/// when `clock_hz` is not a multiple of `PSC + 1`).
pub fn prescaler_for(clock_hz: u32, target_hz: u32) -> (u16, u32) {
    let target = u64::from(target_hz.max(1));
    let divider = ((u64::from(clock_hz) + target / 2) / target).clamp(1, 1 << 16);
    let psc = (divider - 1) as u16;
    (psc, (u64::from(clock_hz) / divider) as u32)
}

// Each of these takes the 64-bit path when `a * b` fits (every delta the
// timer server programs: ns below 2^34 times a rate below 2^30): a 128-bit
// division is a software routine of hundreds of instructions on the
// hrtimer expiry path, a 64-bit one a fraction of that.

/// `ceil(a * b / c)`, saturating at `u64::MAX`, in 64 bits when the
/// product fits.
fn mul_div_ceil(a: u64, b: u64, c: u64) -> u64 {
    let c = c.max(1);
    match a.checked_mul(b) {
        Some(p) => p.div_ceil(c),
        None => mul_div_wide(a, b, c, true),
    }
}

/// `floor(a * b / c)`, saturating at `u64::MAX`, in 64 bits when the
/// product fits.
fn mul_div_floor(a: u64, b: u64, c: u64) -> u64 {
    let c = c.max(1);
    match a.checked_mul(b) {
        Some(p) => p / c,
        None => mul_div_wide(a, b, c, false),
    }
}

/// `a * b / c` (`c` nonzero) in 128 bits, rounded up if `ceil`,
/// saturating at `u64::MAX`. Out of line: rare, and large.
#[cold]
#[inline(never)]
fn mul_div_wide(a: u64, b: u64, c: u64, ceil: bool) -> u64 {
    let (p, c) = (u128::from(a) * u128::from(b), u128::from(c));
    u64::try_from(if ceil { p.div_ceil(c) } else { p / c }).unwrap_or(u64::MAX)
}

/// `round(a * b / c)` (halves up) in 128 bits, saturating at `u64::MAX`.
fn mul_div_round(a: u64, b: u64, c: u64) -> u64 {
    let c = u128::from(c.max(1));
    let q = (u128::from(a) * u128::from(b) + c / 2) / c;
    u64::try_from(q).unwrap_or(u64::MAX)
}

/// What a clock event device can time: its counting rate and the range of
/// delays, in cycles, its counter can express.
///
/// `min_cycles..=max_cycles` is inclusive at both ends; `min_cycles` is at
/// least 1 and not above `max_cycles` for the results below to hold
/// (`EventTiming::new` enforces both).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct EventTiming {
    /// Counting rate after the prescaler, in Hz (cycles per second).
    pub rate_hz: u32,
    /// Shortest delay the device can be programmed for, in cycles.
    pub min_cycles: u32,
    /// Longest delay, in cycles.
    pub max_cycles: u32,
}

impl EventTiming {
    /// A timing for a counter at `rate_hz` (at least 1) that can time
    /// `min_cycles..=max_cycles`; a `min_cycles` of 0 is raised to 1 and a
    /// `max_cycles` below `min_cycles` raised to it.
    pub const fn new(rate_hz: u32, min_cycles: u32, max_cycles: u32) -> Self {
        let rate_hz = if rate_hz == 0 { 1 } else { rate_hz };
        let min_cycles = if min_cycles == 0 { 1 } else { min_cycles };
        let max_cycles = if max_cycles < min_cycles { min_cycles } else { max_cycles };
        Self { rate_hz, min_cycles, max_cycles }
    }

    /// Whole ns per cycle when the rate divides 1 GHz (every device of
    /// the STM32 driver), found with one 32-bit hardware division.
    fn ns_per_cycle(&self) -> Option<u32> {
        let (ns, rate) = (NSEC_PER_SEC as u32, self.rate_hz.max(1));
        (ns % rate == 0).then(|| (ns / rate).max(1))
    }

    /// Whole ns `cycles` take, rounded down.
    pub fn cycles_to_ns_floor(&self, cycles: u64) -> u64 {
        self.cycles_to_ns(cycles, false)
    }

    /// Whole ns that `cycles` last at least (rounded up).
    pub fn cycles_to_ns_ceil(&self, cycles: u64) -> u64 {
        self.cycles_to_ns(cycles, true)
    }

    /// Whole ns in `cycles`, rounded up if `ceil`, saturating at
    /// `u64::MAX`: one multiplication when the rate divides 1 GHz (exact
    /// either way then).
    fn cycles_to_ns(&self, cycles: u64, ceil: bool) -> u64 {
        match (self.ns_per_cycle(), ceil) {
            (Some(k), _) => cycles.saturating_mul(u64::from(k)),
            (None, false) => mul_div_floor(cycles, NSEC_PER_SEC, u64::from(self.rate_hz)),
            (None, true) => mul_div_ceil(cycles, NSEC_PER_SEC, u64::from(self.rate_hz)),
        }
    }

    /// Whole cycles that last at least `ns` (rounded up).
    pub fn ns_to_cycles_ceil(&self, ns: u64) -> u64 {
        // A whole number of ns per cycle: one division, in 32 bits (one
        // instruction) for delays up to 4.29 s, where a 64-bit one is a
        // software routine of about 250 instructions.
        match (self.ns_per_cycle(), u32::try_from(ns)) {
            (Some(k), Ok(ns)) => u64::from(ns.div_ceil(k)),
            (Some(k), Err(_)) => ns.div_ceil(u64::from(k)),
            (None, _) => mul_div_ceil(ns, u64::from(self.rate_hz), NSEC_PER_SEC),
        }
    }

    /// The shortest programmable delay in ns: `min_cycles` rounded up to a
    /// whole ns, and at least 1 µs as in Linux ("deltas less than 1 usec are
    /// pointless noise").
    pub fn min_delta_ns(&self) -> u64 {
        self.cycles_to_ns_ceil(u64::from(self.min_cycles)).max(1000)
    }

    /// The longest programmable delay in ns: `max_cycles` rounded down, so
    /// that converting it back never exceeds `max_cycles`.
    pub fn max_delta_ns(&self) -> u64 {
        self.cycles_to_ns_floor(u64::from(self.max_cycles)).max(self.min_delta_ns())
    }

    /// The ns -> cycles `(mult, shift)` Linux's `clockevents_config` would
    /// give this device (its `maxsec` is the longest delay in whole
    /// seconds, at least 1, at most 600 for counters wider than 32 bits).
    pub fn mult_shift(&self) -> (u32, u32) {
        let sec = (u64::from(self.max_cycles) / u64::from(self.rate_hz)).clamp(1, u64::from(u32::MAX));
        clocks_calc_mult_shift(NSEC_PER_SEC as u32, self.rate_hz, sec as u32)
    }

    /// The cycles to program for a one-shot event `delta_ns` from now, and
    /// the delay they amount to in ns (rounded down).
    ///
    /// `delta_ns <= 0` (the deadline has passed) is [`ClockEventError::Etime`].
    /// Otherwise the delta is clamped to `[min_delta_ns, max_delta_ns]` and
    /// rounded up to whole cycles, which stay within
    /// `min_cycles..=max_cycles`; the returned ns are at least the clamped
    /// delta, so the event never fires early.
    pub fn event_cycles(&self, delta_ns: i64) -> Result<(u32, u64), ClockEventError> {
        self.event_cycles_within(delta_ns, self.min_delta_ns(), self.max_delta_ns())
    }

    /// [`EventTiming::event_cycles`] with [`EventTiming::min_delta_ns`] and
    /// [`EventTiming::max_delta_ns`] computed beforehand (a driver keeps
    /// them in its `DeviceInfo`), which saves their divisions on every
    /// event. `min_ns` and `max_ns` must be those two values. Not inlined:
    /// a driver calls it from each programming op, and its conversions are
    /// the bulk of the code.
    #[inline(never)]
    pub fn event_cycles_within(&self, delta_ns: i64, min_ns: u64, max_ns: u64) -> Result<(u32, u64), ClockEventError> {
        if delta_ns <= 0 {
            return Err(ClockEventError::Etime);
        }
        let ns = (delta_ns as u64).clamp(min_ns, max_ns.max(min_ns));
        let cycles = self.ns_to_cycles_ceil(ns).clamp(u64::from(self.min_cycles), u64::from(self.max_cycles));
        Ok((cycles as u32, self.cycles_to_ns_floor(cycles)))
    }

    /// The cycles of a periodic event every `period_ns`, rounded to the
    /// nearest cycle, and the period they amount to in ns (rounded down).
    ///
    /// A rounded period outside `min_cycles..=max_cycles` is
    /// [`ClockEventError::OutOfRange`]: a periodic device is a rate, and
    /// silently clamping it would make every tick the wrong length.
    pub fn periodic_cycles(&self, period_ns: u64) -> Result<(u32, u64), ClockEventError> {
        let cycles = mul_div_round(period_ns, u64::from(self.rate_hz), NSEC_PER_SEC);
        if cycles < u64::from(self.min_cycles) || cycles > u64::from(self.max_cycles) {
            return Err(ClockEventError::OutOfRange);
        }
        Ok((cycles as u32, self.cycles_to_ns_floor(cycles)))
    }
}

/// Extends a wrapping 32-bit up-counter to 64 bits.
///
/// Each [`CounterExtender::extend`] call compares the new raw value with the
/// previous one: a smaller value means the counter wrapped once in between.
/// The result is exact and monotonic as long as successive calls are less
/// than one full wrap (`2^32` cycles) apart; a longer gap loses whole wraps
/// (the value then lags by multiples of `2^32`, still never going back).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CounterExtender {
    /// The raw value seen last.
    last: u32,
    /// Wraps seen so far: the upper 32 bits of the result.
    wraps: u32,
}

impl CounterExtender {
    /// Starts at `raw`, the counter's current value, with no wraps: the first
    /// extended values are the raw ones.
    pub const fn new(raw: u32) -> Self {
        Self { last: raw, wraps: 0 }
    }

    /// The same, counting `wraps` wraps already seen (a driver restarted
    /// after the counter passed its power-on start value).
    pub const fn with_wraps(self, wraps: u32) -> Self {
        Self { last: self.last, wraps }
    }

    /// The 64-bit value for the raw reading `raw`, taken after every earlier
    /// reading given to this extender.
    pub fn extend(&mut self, raw: u32) -> u64 {
        if raw < self.last {
            self.wraps = self.wraps.wrapping_add(1);
        }
        self.last = raw;
        (u64::from(self.wraps) << 32) | u64::from(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values computed by hand from Linux's algorithm.
    #[test]
    fn mult_shift_matches_linux() {
        // 1 GHz clocksource, 32-bit (maxsec 4): identity, best shift 31.
        assert_eq!(clocks_calc_mult_shift(1_000_000_000, 1_000_000_000, 4), (1 << 31, 31));
        // ns -> 1 MHz cycles, maxsec 4294: 4294 s of ns need 42 bits, so the
        // shift stops at 31: mult = round(2^31 / 1000).
        let (mult, shift) = clocks_calc_mult_shift(1_000_000_000, 1_000_000, 4294);
        assert_eq!((mult, shift), (2_147_484, 31));
        // 1 MHz cycles -> ns with maxsec 600 (the arm_arch_timer case's range).
        let (mult, shift) = clocks_calc_mult_shift(1_000_000, 1_000_000_000, 600);
        assert_eq!(mult as u64, 1000u64 << shift);
        assert!(shift >= 20, "shift {shift}");
        // 84 MHz, the STM32F4 APB1 timer clock.
        let (mult, shift) = clocks_calc_mult_shift(84_000_000, 1_000_000_000, 51);
        let ns = mul_shift(84_000_000, mult, shift);
        assert!(ns.abs_diff(1_000_000_000) <= 1, "1 s of cycles gave {ns} ns");
    }

    #[test]
    fn mult_shift_respects_maxsec_range() {
        for (from, to, maxsec) in [
            (1_000_000_000u32, 1_000_000u32, 4294u32),
            (1_000_000_000, 100_000, 1),
            (84_000_000, 1_000_000_000, 51),
            (1_000_000, 1_000_000_000, 4294),
            (32_768, 1_000_000_000, 600),
        ] {
            let (mult, shift) = clocks_calc_mult_shift(from, to, maxsec);
            // maxsec seconds worth of `from` units times mult fits 64 bits.
            let span = u128::from(maxsec) * u128::from(from);
            assert!(span * u128::from(mult) <= u128::from(u64::MAX), "{from}->{to}: overflow");
            // The ratio is right to better than one part in a million.
            let got = (u128::from(from) * u128::from(mult)) >> shift;
            let want = u128::from(to);
            assert!(got.abs_diff(want) * 1_000_000 <= want, "{from}->{to}: {got} vs {want}");
        }
    }

    #[test]
    fn max_nsecs_keeps_margins() {
        // 1 GHz 32-bit counter: wraps after 4.29 s; minus 11% adjustment,
        // halved: about 1.91 s.
        let (mult, shift) = clocks_calc_mult_shift(1_000_000_000, 1_000_000_000, 4);
        let (ns, cycles) = clocks_calc_max_nsecs(mult, shift, clocksource_max_adjustment(mult), u32::MAX.into());
        assert_eq!(cycles, u64::from(u32::MAX));
        assert!((1_900_000_000..1_920_000_000).contains(&ns), "{ns}");
        // Always less than half a wrap.
        assert!(ns < (1u64 << 32) / 2);
    }

    #[test]
    fn prescaler_hits_the_target() {
        assert_eq!(prescaler_for(1_000_000_000, 1_000_000), (999, 1_000_000));
        assert_eq!(prescaler_for(84_000_000, 1_000_000), (83, 1_000_000));
        assert_eq!(prescaler_for(84_000_000, 100_000), (839, 100_000));
        assert_eq!(prescaler_for(1_000_000_000, 100_000), (9_999, 100_000));
        // Target above the clock: no division.
        assert_eq!(prescaler_for(16_000_000, 50_000_000), (0, 16_000_000));
        // Division beyond 16 bits saturates at PSC = 65535.
        assert_eq!(prescaler_for(1_000_000_000, 1), (65_535, 15_258));
        // Not a multiple: the rate is rounded down.
        assert_eq!(prescaler_for(25_000_000, 3_000_000), (7, 3_125_000));
    }

    fn tim2() -> EventTiming {
        EventTiming::new(1_000_000, 2, u32::MAX)
    }

    fn tim4() -> EventTiming {
        EventTiming::new(100_000, 2, u16::MAX.into())
    }

    #[test]
    fn delta_limits() {
        assert_eq!(tim2().min_delta_ns(), 2_000);
        assert_eq!(tim2().max_delta_ns(), 4_294_967_295_000);
        assert_eq!(tim4().min_delta_ns(), 20_000);
        assert_eq!(tim4().max_delta_ns(), 655_350_000);
        // 84 MHz counting: 2 cycles are 23.8 ns, raised to Linux's 1 µs floor.
        let fast = EventTiming::new(84_000_000, 2, u32::MAX);
        assert_eq!(fast.min_delta_ns(), 1000);
        assert_eq!(fast.max_delta_ns(), 51_130_563_035);
    }

    #[test]
    fn past_and_zero_deltas_are_etime() {
        for d in [0, -1, i64::MIN] {
            assert_eq!(tim2().event_cycles(d), Err(ClockEventError::Etime), "{d}");
        }
    }

    #[test]
    fn event_deltas_are_clamped() {
        // Below min: min.
        assert_eq!(tim2().event_cycles(1), Ok((2, 2_000)));
        assert_eq!(tim2().event_cycles(1_999), Ok((2, 2_000)));
        // Above max: max.
        assert_eq!(tim2().event_cycles(i64::MAX), Ok((u32::MAX, 4_294_967_295_000)));
        assert_eq!(tim4().event_cycles(1_000_000_000), Ok((65_535, 655_350_000)));
        // In range, whole cycles: exact.
        assert_eq!(tim2().event_cycles(1_000_000), Ok((1_000, 1_000_000)));
    }

    #[test]
    fn events_never_fire_early() {
        // Partial cycles round up.
        assert_eq!(tim2().event_cycles(1_000_001), Ok((1_001, 1_001_000)));
        assert_eq!(tim4().event_cycles(25_001), Ok((3, 30_000)));
        let odd = EventTiming::new(84_000_000, 2, u32::MAX);
        for delta in [1_000i64, 1_001, 11_905, 999_999, 1_000_000, 123_456_789] {
            let (cycles, ns) = odd.event_cycles(delta).unwrap();
            // The cycles last at least delta ns (exact rational check)...
            assert!(u128::from(cycles) * 1_000_000_000 >= delta as u128 * 84_000_000, "{delta}");
            // ...and the reported ns are at least delta, and at most a cycle more.
            assert!(ns >= delta as u64 && ns < delta as u64 + 12, "{delta}: {ns}");
        }
    }

    #[test]
    fn periodic_rounds_to_nearest_and_refuses_out_of_range() {
        assert_eq!(tim2().periodic_cycles(1_000_000), Ok((1_000, 1_000_000)));
        assert_eq!(tim2().periodic_cycles(1_000_499), Ok((1_000, 1_000_000)));
        assert_eq!(tim2().periodic_cycles(1_000_500), Ok((1_001, 1_001_000)));
        assert_eq!(tim4().periodic_cycles(10_000_000), Ok((1_000, 10_000_000)));
        assert_eq!(tim4().periodic_cycles(1_000_000), Ok((100, 1_000_000)));
        assert_eq!(tim4().periodic_cycles(0), Err(ClockEventError::OutOfRange));
        assert_eq!(tim4().periodic_cycles(14_999), Err(ClockEventError::OutOfRange));
        assert_eq!(tim4().periodic_cycles(15_000), Ok((2, 20_000)));
        assert_eq!(tim4().periodic_cycles(655_350_000), Ok((65_535, 655_350_000)));
        assert_eq!(tim4().periodic_cycles(655_355_000), Err(ClockEventError::OutOfRange));
        assert_eq!(tim4().periodic_cycles(u64::MAX), Err(ClockEventError::OutOfRange));
    }

    #[test]
    fn ns_cycle_conversions_round_the_documented_way() {
        let t = EventTiming::new(3, 1, 100);
        assert_eq!(t.cycles_to_ns_floor(1), 333_333_333);
        assert_eq!(t.ns_to_cycles_ceil(333_333_334), 2);
        assert_eq!(t.ns_to_cycles_ceil(333_333_333), 1);
        assert_eq!(t.ns_to_cycles_ceil(0), 0);
        assert_eq!(EventTiming::new(u32::MAX, 1, 1).ns_to_cycles_ceil(u64::MAX), u64::MAX);
    }

    #[test]
    fn constructor_repairs_degenerate_ranges() {
        assert_eq!(EventTiming::new(0, 0, 0), EventTiming { rate_hz: 1, min_cycles: 1, max_cycles: 1 });
        assert_eq!(EventTiming::new(10, 5, 3).max_cycles, 5);
    }

    #[test]
    fn device_mult_shift_approximates_the_exact_conversion() {
        for t in [tim2(), tim4(), EventTiming::new(84_000_000, 2, u32::MAX)] {
            let (mult, shift) = t.mult_shift();
            for ns in [t.min_delta_ns(), 1_000_000, t.max_delta_ns()] {
                let approx = mul_shift(ns, mult, shift);
                let exact = mul_div_floor(ns, u64::from(t.rate_hz), NSEC_PER_SEC);
                assert!(approx.abs_diff(exact) <= 1 + exact / 1_000_000, "{t:?} {ns}: {approx} vs {exact}");
            }
        }
    }

    #[test]
    fn extender_counts_wraps() {
        let mut x = CounterExtender::new(0xFFFF_FF00);
        assert_eq!(x.extend(0xFFFF_FFF0), 0xFFFF_FFF0);
        assert_eq!(x.extend(0x10), 0x1_0000_0010);
        assert_eq!(x.extend(0x10), 0x1_0000_0010, "same reading, no wrap");
        assert_eq!(x.extend(0xFFFF_FFFF), 0x1_FFFF_FFFF);
        assert_eq!(x.extend(0), 0x2_0000_0000);
    }

    #[test]
    fn extender_is_monotonic_for_frequent_reads() {
        let mut x = CounterExtender::new(7);
        let mut raw: u32 = 7;
        let mut prev = 7u64;
        let mut truth = 7u64;
        // Steps just under a full wrap, and small ones.
        for step in [1u32, 0xFFFF_FFFF, 3, 0x8000_0000, 0x7FFF_FFFF, 12345, 0xFFFF_FFFE] {
            raw = raw.wrapping_add(step);
            truth += u64::from(step);
            let v = x.extend(raw);
            assert_eq!(v, truth);
            assert!(v >= prev);
            prev = v;
        }
    }

    #[test]
    fn mul_div_is_exact_on_both_sides_of_the_64_bit_product() {
        let wide = |a: u64, b: u64, c: u64| (u128::from(a) * u128::from(b), u128::from(c));
        for (a, b, c) in [
            (0, 7, 3),
            (1, 1, 1),
            (4_294_967_295, 1_000_000_000, 1_000_000),
            (u64::MAX / 3, 3, 7),
            (u64::MAX / 3 + 1, 3, 7),
            (u64::MAX, u64::MAX, u64::MAX),
            (123_456_789_012, 1_000_000_000, 999_983),
        ] {
            let (p, c128) = wide(a, b, c);
            let floor = u64::try_from(p / c128).unwrap_or(u64::MAX);
            let ceil = u64::try_from(p.div_ceil(c128)).unwrap_or(u64::MAX);
            assert_eq!(mul_div_floor(a, b, c), floor, "{a} * {b} / {c}");
            assert_eq!(mul_div_ceil(a, b, c), ceil, "{a} * {b} / {c}");
        }
    }

    #[test]
    fn event_cycles_within_the_devices_bounds_is_event_cycles() {
        for t in [tim2(), tim4(), EventTiming::new(1_000_000_000, 2, u32::MAX)] {
            let (min, max) = (t.min_delta_ns(), t.max_delta_ns());
            for d in [i64::MIN, -1, 0, 1, 999, 1_000, 1_001, 19_999, 20_001, 1_000_000, 655_350_001, i64::MAX] {
                assert_eq!(t.event_cycles_within(d, min, max), t.event_cycles(d), "{d}");
            }
        }
    }

    #[test]
    fn conversions_with_whole_ns_per_cycle_match_the_general_form() {
        for t in [tim2(), tim4(), EventTiming::new(1_000_000_000, 2, u32::MAX), EventTiming::new(3, 1, 100)] {
            for v in [0, 1, 999, 1_000, 1_001, 65_535, 4_294_967_295, 4_294_967_296, 1 << 40, u64::MAX / 2, u64::MAX] {
                assert_eq!(t.ns_to_cycles_ceil(v), mul_div_ceil(v, u64::from(t.rate_hz), NSEC_PER_SEC), "{v}");
                assert_eq!(t.cycles_to_ns_floor(v), mul_div_floor(v, NSEC_PER_SEC, u64::from(t.rate_hz)), "{v}");
                assert_eq!(t.cycles_to_ns_ceil(v), mul_div_ceil(v, NSEC_PER_SEC, u64::from(t.rate_hz)), "{v}");
            }
        }
    }
}
