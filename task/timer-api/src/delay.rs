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

    /// Spins at least `us` microseconds.
    pub fn udelay(&self, us: u32) {
        let loops = (us as u64 * self.loops_per_jiffy as u64 * self.hz as u64).div_ceil(1_000_000);
        delay_loop(loops.min(u32::MAX as u64) as u32);
    }

    /// Spins at least `ms` milliseconds (in 1 ms steps).
    pub fn mdelay(&self, ms: u32) {
        for _ in 0..ms {
            self.udelay(1000);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bogomips_follows_linux_formula() {
        let d = Delay { loops_per_jiffy: 4_980_736, hz: 100 };
        assert_eq!(d.bogomips(), (996, 14));
    }
}
