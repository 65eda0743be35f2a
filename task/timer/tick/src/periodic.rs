//! The periodic tick's line on the clocksource: how many jiffies one tick
//! interrupt stands for, and where the next tick falls.
//!
//! Why: a periodic device raises one interrupt per period, but a tick
//! handled more than a period late merges with the next one (the update
//! flag and the NVIC's pending latch each hold one event), so counting
//! interrupts loses jiffies whenever something holds the timer server off
//! the CPU for a period. Linux's `tick_do_update_jiffies64` counts the
//! periods elapsed on the clocksource since `last_jiffies_update` instead
//! (`do_timer(ticks)` with ticks > 1); [`TickLine`] is that count for the
//! timer server's periodic mode.
//!
//! Two kinds of tick device use it:
//! - **A periodic device** ([`TickLine::hardware`]): its phase against the
//!   clocksource is unknown, so the line keeps an estimate of when the last
//!   tick's period ended. The estimate is never later than the tick's
//!   handling (it is pulled back to the handling when a tick comes before
//!   the estimate says its period ended) and never more than
//!   [`TickLine::slew`] (1/16 of a period) earlier, so a device a little
//!   slower or faster than the nominal period cannot drift it away. Let a
//!   tick's latency be the time from the last boundary it covers to its
//!   handling: the count is exact while each latency is at least the
//!   previous one less the slew and less than 15/16 of a period more than
//!   it. A tick held off past the next boundary therefore counts the
//!   boundaries it missed, except in the narrow case of landing within
//!   (previous latency - slew) of one, where it counts one fewer.
//! - **A oneshot-only device run periodically** ([`TickLine::emulated`],
//!   Linux's `tick_handle_periodic` on a oneshot device: the next event is
//!   the previous one plus the period): the server programs each boundary
//!   itself, so the line is exact; a boundary found already passed when
//!   programming counts as one more tick ([`TickLine::advance`]).
//!
//! Units: clocksource cycles (64-bit, since boot). The period is
//! `rate / ticks_per_sec` cycles, kept as a whole part and a remainder so
//! that a rate HZ does not divide (1 MHz at 3 x HZ 100) does not drift.

/// The periodic tick's line (see the module docs).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TickLine {
    /// Cycle at which the last accounted tick's period ended (its boundary;
    /// an estimate for a hardware device, exact for an emulated one).
    last: u64,
    /// Whole cycles per period (at least 1).
    whole: u64,
    /// The period's fraction: `rem / den` of a cycle.
    rem: u32,
    /// Ticks per second (the fraction's denominator).
    den: u32,
    /// Fraction accumulated, in `1/den` cycles (always `< den`).
    acc: u32,
    /// True when the server programs every boundary (emulated periodic).
    exact: bool,
    /// `2 * whole`: the common hardware tick comes less than two periods
    /// after the estimate.
    two: u64,
    /// [`TickLine::slew`], kept for the tick path.
    slew: u64,
}

impl TickLine {
    /// The line of a periodic device started at about cycle `now`, ticking
    /// `ticks_per_sec` times a second on a clocksource counting `rate_hz`.
    /// `None` if a period is under one cycle (the clocksource is too slow
    /// to tell ticks apart) or `ticks_per_sec` is 0.
    pub fn hardware(now: u64, rate_hz: u32, ticks_per_sec: u32) -> Option<TickLine> {
        Self::new(now, rate_hz, ticks_per_sec, false)
    }

    /// The line of a oneshot device the server programs every period,
    /// starting at cycle `now` (the first boundary is one period later).
    pub fn emulated(now: u64, rate_hz: u32, ticks_per_sec: u32) -> Option<TickLine> {
        Self::new(now, rate_hz, ticks_per_sec, true)
    }

    /// The same line, from now on programmed boundary by boundary (a
    /// periodic device switched to oneshot so that hrtimers between ticks
    /// can be programmed too, Linux's high-resolution mode): the next
    /// boundary is one period after the last one accounted (for a hardware
    /// line, its estimate), so jiffies go on without a jump.
    pub fn to_exact(self) -> TickLine {
        TickLine { exact: true, ..self }
    }

    fn new(now: u64, rate_hz: u32, ticks_per_sec: u32, exact: bool) -> Option<TickLine> {
        let den = ticks_per_sec;
        if den == 0 || rate_hz < den {
            return None;
        }
        let whole = u64::from(rate_hz / den);
        Some(TickLine { last: now, whole, rem: rate_hz % den, den, acc: 0, exact, two: 2 * whole, slew: whole / 16 })
    }

    /// The next boundary: the cycle at which the coming tick is due
    /// (rounded up to a whole cycle, so a device programmed for it is never
    /// early).
    #[inline]
    pub fn next(&self) -> u64 {
        // The boundary is `last + whole + (acc + rem) / den` cycles, and
        // `acc + rem < 2 * den`: round up without dividing (no 64-bit
        // division on the tick path).
        let f = self.acc + self.rem;
        let up = u64::from(f != 0) + u64::from(f > self.den);
        self.last.wrapping_add(self.whole + up)
    }

    /// The most the estimate of a hardware device's phase may trail a
    /// tick's handling: 1/16 of a period.
    pub fn slew(&self) -> u64 {
        self.slew
    }

    /// Moves the line one period on; returns 1 (the tick it stands for).
    /// For an emulated device: its boundary had passed before it could be
    /// programmed (`Etime`), so that tick happened too.
    #[inline]
    pub fn advance(&mut self) -> u32 {
        self.acc += self.rem;
        let carry = self.acc >= self.den;
        if carry {
            self.acc -= self.den;
        }
        self.last = self.last.wrapping_add(self.whole + u64::from(carry));
        1
    }

    /// Moves the line `k` periods on in one step (a long stall).
    #[cold]
    #[inline(never)]
    fn advance_by(&mut self, k: u64) {
        let frac = u128::from(self.acc) + u128::from(k) * u128::from(self.rem);
        let den = u128::from(self.den);
        let cycles = u128::from(k) * u128::from(self.whole) + frac / den;
        self.acc = (frac % den) as u32;
        self.last = self.last.wrapping_add(cycles as u64);
    }

    /// A tick the device confirmed, handled at cycle `now`: how many
    /// jiffies it stands for (the periods that ended since the last one,
    /// saturating at `u32::MAX`). A hardware device's tick counts at least
    /// 1 (the device did fire: the phase estimate was late and is pulled
    /// back to `now`). An emulated device's tick before its boundary (a
    /// device firing early, which the server's programming rounds against)
    /// counts 0.
    #[inline]
    pub fn ticks(&mut self, now: u64) -> u32 {
        if !self.exact {
            // A periodic device's common tick, less than two periods after
            // the estimate: one jiffy, and the estimate moves on by a whole
            // period, pulled back to `now` or up to the slew (the period's
            // fraction is left to the slew).
            let late = now.wrapping_sub(self.last);
            if late < self.two {
                self.last = match late < self.whole {
                    true => now,
                    false => (self.last + self.whole).max(now - self.slew),
                };
                return 1;
            }
        }
        self.ticks_slow(now)
    }

    /// [`TickLine::ticks`] for an emulated device, or a hardware tick two
    /// or more periods after the estimate (lost ticks) or before it.
    #[inline(never)]
    fn ticks_slow(&mut self, now: u64) -> u32 {
        let late = now.wrapping_sub(self.last);
        if (late as i64) < 0 {
            return self.early(now);
        }
        // Bulk step over a long stall (more than 4 periods), leaving at
        // most two periods to walk; the common tick does not divide.
        let mut n = 0;
        if late > 4 * (self.whole + 1) {
            n = (late / (self.whole + 1)).saturating_sub(1);
            self.advance_by(n);
        }
        while self.next() <= now && n < u64::from(u32::MAX) {
            self.advance();
            n += 1;
        }
        if n == 0 {
            return self.early(now);
        }
        if !self.exact && now - self.last > self.slew {
            self.last = now - self.slew;
        }
        n.min(u64::from(u32::MAX)) as u32
    }

    /// A confirmed tick before the line's next boundary.
    fn early(&mut self, now: u64) -> u32 {
        if self.exact {
            return 0;
        }
        self.last = now;
        self.acc = 0;
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// 1 MHz clocksource, HZ 100: 10,000 cycles a period.
    const RATE: u32 = 1_000_000;

    /// A hardware device started at cycle 0 firing every `period` cycles,
    /// its line started at `line_start` (read just after the device
    /// started), each tick handled `latency(k)` after it fired, fires
    /// merging while one is unhandled: (periods elapsed, jiffies counted).
    fn run_hw(period: u64, line_start: u64, ticks: u64, latency: impl Fn(u64) -> u64, hz: u32) -> (u64, u64) {
        let mut line = TickLine::hardware(line_start, RATE, hz).unwrap();
        let mut counted = 0u64;
        let mut k = 1;
        while k <= ticks {
            let handled = k * period + latency(k);
            counted += u64::from(line.ticks(handled));
            // Every fire up to the handling merged into this interrupt.
            while (k + 1) * period <= handled {
                k += 1;
            }
            k += 1;
        }
        (k - 1, counted)
    }

    #[test]
    fn steady_ticks_count_one_each() {
        for start in [0, 1, 300, 600] {
            let (elapsed, counted) = run_hw(10_000, start, 1_000, |k| 50 + (k * 37) % 400, 100);
            assert_eq!(counted, elapsed, "line started at {start}");
        }
    }

    #[test]
    fn lost_ticks_are_counted() {
        // Every 50th tick is handled 3.5 periods late: 3 interrupts merge.
        let lat = |k: u64| if k % 50 == 0 { 35_000 } else { 120 };
        let (elapsed, counted) = run_hw(10_000, 20, 5_000, lat, 100);
        assert_eq!(counted, elapsed);
        // Without the line it would have been one per interrupt.
        let interrupts = 5_000 - 3 * (5_000 / 50);
        assert!(counted > interrupts);
    }

    #[test]
    fn late_but_not_lost_counts_one() {
        // Handled 0.9 periods late (a console holding the CPU), no merge.
        let lat = |k: u64| if k % 7 == 0 { 9_000 } else { 300 };
        let (elapsed, counted) = run_hw(10_000, 123, 2_000, lat, 100);
        assert_eq!(counted, elapsed);
    }

    #[test]
    fn device_drift_either_way_is_followed() {
        // The device runs 1 cycle per period slow or fast against the
        // nominal 10,000: the estimate follows, no count goes wrong.
        for period in [9_999, 10_001] {
            let (elapsed, counted) = run_hw(period, 77, 100_000, |k| 40 + k % 90, 100);
            assert_eq!(counted, elapsed, "period {period}");
        }
    }

    #[test]
    fn fractional_period_does_not_drift() {
        // 1 MHz at 300 ticks/s: 3,333 1/3 cycles. Emulated boundaries over
        // 3 s land exactly on the second marks.
        let mut line = TickLine::emulated(0, RATE, 300).unwrap();
        let mut at = Vec::new();
        for _ in 0..900 {
            line.advance();
            at.push(line.last);
        }
        assert_eq!(at[299], 1_000_000);
        assert_eq!(at[899], 3_000_000);
        assert_eq!(at[0], 3_333);
        // next() rounds a fractional boundary up (never early).
        let line = TickLine::emulated(0, RATE, 300).unwrap();
        assert_eq!(line.next(), 3_334);
    }

    #[test]
    fn emulated_counts_boundaries_exactly() {
        let mut line = TickLine::emulated(1_000, RATE, 100).unwrap();
        assert_eq!(line.next(), 11_000);
        // Fired early (before the boundary): no tick.
        assert_eq!(line.ticks(10_999), 0);
        assert_eq!(line.ticks(11_000), 1);
        assert_eq!(line.next(), 21_000);
        // 4.5 periods late: the boundaries at 21k, 31k, 41k, 51k passed.
        assert_eq!(line.ticks(56_000), 4);
        assert_eq!(line.next(), 61_000);
        // A stall of a million periods is stepped in bulk, exactly.
        assert_eq!(line.ticks(51_000 + 1_000_000 * 10_000 + 9_999), 1_000_000);
        assert_eq!(line.next(), 51_000 + 1_000_001 * 10_000);
    }

    #[test]
    fn a_hardware_line_made_exact_goes_on_from_its_estimate() {
        // Ticks at 10k, 20k handled 150 late: the estimate trails the
        // handling by at most the slew, so the exact line's next boundary
        // is the device's own next one, within the slew, and never later.
        let mut line = TickLine::hardware(0, RATE, 100).unwrap();
        assert_eq!(line.ticks(10_150), 1);
        assert_eq!(line.ticks(20_150), 1);
        let mut exact = line.to_exact();
        assert!((30_150 - line.slew()..=30_150).contains(&exact.next()), "next {}", exact.next());
        let next = exact.next();
        // Exact from here: an event before the boundary is not a tick; a
        // boundary passed counts once; three passed count three.
        assert_eq!(exact.ticks(next - 1), 0);
        assert_eq!(exact.ticks(next), 1);
        assert_eq!(exact.ticks(next + 3 * 10_000), 3);
    }

    #[test]
    fn too_slow_a_clocksource_gives_no_line() {
        assert!(TickLine::hardware(0, 100, 800).is_none());
        assert!(TickLine::hardware(0, 1_000, 0).is_none());
        assert!(TickLine::hardware(0, 800, 800).is_some());
    }

    #[test]
    fn fast_rate_multiplier_counts() {
        // 8 x HZ 100 on 1 MHz: 1,250 cycles; a 3-period stall.
        let lat = |k: u64| if k % 100 == 0 { 3 * 1_250 + 100 } else { 30 };
        let (elapsed, counted) = run_hw(1_250, 60, 10_000, lat, 800);
        assert_eq!(counted, elapsed);
    }
}
