//! Busy-wait delays shorter than a tick (`udelay`, `mdelay`), calibrated
//! at start the way Linux's `calibrate_delay` does: find the largest
//! power of two of loop iterations that fits in one jiffy, then refine the
//! lower bits one at a time. The result is `loops_per_jiffy`; BogoMIPS is
//! `loops_per_jiffy * HZ / 500000`.
//!
//! Busy-waiting burns the CPU of every lower-priority task: use it only
//! for delays far below a tick; sleep for anything longer.

use crate::Timer;

/// A calibrated delay loop.
#[derive(Copy, Clone, Debug)]
pub struct Delay {
    /// Iterations of [`delay_loop`] per jiffy.
    pub loops_per_jiffy: u32,
    /// Ticks per second.
    pub hz: u32,
}

/// Spins `loops` iterations (two instructions each on Cortex-M4).
#[inline(never)]
pub fn delay_loop(loops: u32) {
    if loops == 0 {
        return;
    }
    #[cfg(target_arch = "arm")]
    // Safety: a register-only count-down loop; touches no memory.
    unsafe {
        core::arch::asm!("1:", "subs {0}, {0}, #1", "bne 1b", inout(reg) loops => _, options(nomem, nostack));
    }
    #[cfg(not(target_arch = "arm"))]
    for i in 0..loops {
        core::hint::black_box(i);
    }
}

/// Waits for the start of a new jiffy; returns it.
fn next_jiffy(timer: &Timer) -> u64 {
    let j0 = timer.jiffies();
    loop {
        let j = timer.jiffies();
        if j != j0 {
            return j;
        }
    }
}

/// True if `loops` iterations started at a jiffy edge end within it.
fn fits(timer: &Timer, loops: u32) -> bool {
    let j = next_jiffy(timer);
    delay_loop(loops);
    timer.jiffies() == j
}

impl Delay {
    /// Calibrates against the timer server's jiffies.
    pub fn calibrate(timer: &Timer) -> Delay {
        let hz = timer.hz();
        let mut lpj: u32 = 1 << 10;
        while lpj < (1 << 30) && fits(timer, lpj << 1) {
            lpj <<= 1;
        }
        // `lpj` fits, `2 * lpj` did not: refine the bits below.
        let mut bit = lpj >> 1;
        while bit > (lpj >> 8) && bit > 0 {
            if fits(timer, lpj | bit) {
                lpj |= bit;
            }
            bit >>= 1;
        }
        Delay { loops_per_jiffy: lpj, hz }
    }

    /// BogoMIPS as Linux prints it: integer part and hundredths.
    pub fn bogomips(&self) -> (u32, u32) {
        let x = self.loops_per_jiffy as u64 * self.hz as u64;
        ((x / 500_000) as u32, ((x / 5_000) % 100) as u32)
    }

    /// Loops of [`delay_loop`] that last at least `ns` nanoseconds: see
    /// [`loops_for_ns`].
    pub fn loops_for_ns(&self, ns: u64) -> u64 {
        loops_for_ns(ns, self.loops_per_jiffy, self.hz)
    }

    /// Spins at least `ns` nanoseconds (any length: long spins run in
    /// chunks of at most `u32::MAX` loops). 0 returns at once.
    pub fn ndelay(&self, ns: u64) {
        let mut loops = self.loops_for_ns(ns);
        while loops > 0 {
            let chunk = loops.min(u32::MAX as u64);
            delay_loop(chunk as u32);
            loops -= chunk;
        }
    }

    /// Spins at least `us` microseconds (Linux's `udelay`).
    pub fn udelay(&self, us: u32) {
        self.ndelay(us as u64 * 1_000);
    }

    /// Spins at least `ms` milliseconds (Linux's `mdelay`).
    pub fn mdelay(&self, ms: u32) {
        self.ndelay(ms as u64 * 1_000_000);
    }
}

/// Loops of [`delay_loop`] that last at least `ns` nanoseconds, given a
/// calibration of `loops_per_jiffy` at `hz`: `ceil(ns * lpj' * hz / 10^9)`
/// where `lpj' = lpj + lpj / 128`. The margin covers the calibration's
/// error, which is always short: it keeps the largest count that *fits* in
/// a jiffy, refined to `lpj / 256`, after the IPC that detects the jiffy
/// edge (under QEMU's icount the true value is 5,000,000 at 100 Hz and the
/// calibration finds 4,980,736, 0.4% low). Saturates at `u64::MAX`.
pub fn loops_for_ns(ns: u64, loops_per_jiffy: u32, hz: u32) -> u64 {
    let lpj = loops_per_jiffy as u128 + (loops_per_jiffy as u128 >> 7);
    let loops = (ns as u128).saturating_mul(lpj * hz as u128).div_ceil(1_000_000_000);
    loops.min(u64::MAX as u128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bogomips_follows_linux_formula() {
        let d = Delay { loops_per_jiffy: 4_980_736, hz: 100 };
        assert_eq!(d.bogomips(), (996, 14));
    }

    #[test]
    fn loops_cover_the_calibration_error_and_do_not_truncate() {
        // Under icount a loop is 2 ns: 5,000,000 per 10 ms jiffy, and the
        // calibration reports 4,980,736 (0.4% low).
        let (lpj, hz) = (4_980_736u32, 100u32);
        let true_loops_per_ns = |ns: u64| ns.div_ceil(2);
        for ns in [1u64, 2, 999, 1_000, 50_000, 3_000_000, 9_999_999, 10_000_000, 1 << 40] {
            assert!(loops_for_ns(ns, lpj, hz) >= true_loops_per_ns(ns), "{ns} ns");
            // ... and not grossly long: within 1% plus a loop.
            assert!(loops_for_ns(ns, lpj, hz) <= true_loops_per_ns(ns) * 101 / 100 + 1, "{ns} ns");
        }
        assert_eq!(loops_for_ns(0, lpj, hz), 0);
        // A delay longer than u32::MAX loops is not truncated (it used to
        // be clamped to u32::MAX loops: about 8.6 s here).
        assert!(loops_for_ns(60_000_000_000, lpj, hz) > u32::MAX as u64);
        assert_eq!(loops_for_ns(u64::MAX, u32::MAX, u32::MAX), u64::MAX);
    }
}
