//! The clocksource: the driver's free-running counter, and the jiffies
//! time line it gives (Linux's clocksource and `get_jiffies_64` from it
//! after a tickless sleep, `tick_nohz_update_jiffies`).
//!
//! Time line: jiffies are `INITIAL_JIFFIES + cycles * HZ / rate` of the
//! clocksource, plus an offset that keeps them continuous across mode
//! switches. In oneshot mode (tickless) elapsed jiffies are read off the
//! clocksource on every wake, so catching up after a long sleep is exact.
//! Because the clocksource outlives the timer server, a restarted server
//! resumes the same time line, and clients re-arm at their original
//! absolute expiries.
//!
//! Reading the counter: when app.toml grants this server a read-only
//! `clocksource` window on TIM5's CNT (as time-page readers have), a read
//! is one load, extended to 64 bits here from the driver's count at start
//! ([`CounterWindow`]); otherwise it is one IPC to the clockevent driver
//! (`read_counter`). Either extension stays exact as long as the counter
//! is read at least every `max_idle_ns`: the tickless sleep is bounded by
//! it, and periodic mode asks the driver every
//! [`Clocksource::keepalive_ticks`] ticks.

use drv_clockevent_api::{ClockEvent, ClockEventError, ClocksourceInfo};

/// The clocksource as the server uses it.
pub struct Clocksource {
    /// Rate and idle bound, from the driver.
    info: ClocksourceInfo,
    /// HZ.
    hz: u32,
    /// `INITIAL_JIFFIES` at `hz`.
    initial: u64,
    /// Added to the clocksource-derived jiffies (continuity across mode
    /// switches).
    offset: i64,
    /// ns per count when the rate divides 1 GHz (1 MHz: 1,000), else 0.
    /// With it every conversion is a 64-bit multiply or divide instead of
    /// a 128-bit one (software division: thousands of instructions on the
    /// expiry path).
    ns_per_cycle: u64,
    /// Counts per jiffy when HZ divides the rate (1 MHz at HZ 100:
    /// 10,000), else 0.
    cycles_per_jiffy: u64,
    /// The counter read directly, if app.toml grants the window.
    window: Option<CounterWindow>,
}

/// TIM5's CNT, the clocksource counter of `drv/clockevent-stm32` (RM0090:
/// TIM5 at 0x4000_0C00, CNT at offset 0x24).
#[cfg_attr(not(cs_window), allow(dead_code))]
const TIM5_CNT: u32 = 0x4000_0C24;

// A `clocksource` window that does not hold TIM5's CNT would fault the
// server on its first read: refuse to build instead, naming the fix.
#[cfg(cs_window)]
const _: () = assert!(
    crate::windows::CLOCKSOURCE_BASE <= TIM5_CNT
        && TIM5_CNT + 4 <= crate::windows::CLOCKSOURCE_BASE + crate::windows::CLOCKSOURCE_SIZE,
    "app.toml: the timer server's `clocksource` window must hold TIM5's CNT (0x4000_0C24); \
     use windows = {{ clocksource = {{ peripheral = \"tim5\", offset = 0x20, size = 32, access = \"read\" }} }}"
);

/// The 32-bit hardware counter read through this task's window and
/// extended to the driver's 64-bit count (exact while reads are less than
/// 2^32 counts apart, and each read follows the previous one).
#[derive(Copy, Clone)]
struct CounterWindow {
    /// The 64-bit count at the last read.
    last: u64,
    /// What the hardware reads at count 0 (`ClocksourceInfo::counter_offset`).
    offset: u32,
}

impl CounterWindow {
    /// The window, continuing from `now`, the driver's count just read;
    /// None without a granted window or for a counter that is not 32 bits.
    fn new(info: &ClocksourceInfo, now: u64) -> Option<CounterWindow> {
        (cfg!(cs_window) && info.bits == 32).then_some(CounterWindow { last: now, offset: info.counter_offset })
    }

    /// The count now.
    #[inline(always)]
    fn read(&mut self) -> u64 {
        // Safety: TIM5_CNT lies in this task's read-only `clocksource`
        // window (checked at build time above; `new` returns None without
        // the window). Reading CNT has no side effect.
        let raw = unsafe { core::ptr::read_volatile(TIM5_CNT as *const u32) };
        let step = raw.wrapping_sub(self.offset).wrapping_sub(self.last as u32);
        self.last = self.last.wrapping_add(u64::from(step));
        self.last
    }
}

impl Clocksource {
    /// Asks the driver for the clocksource's rate; jiffies at `hz`,
    /// starting at `initial_jiffies` (cycle 0).
    /// With a granted window the counter is read directly from then on,
    /// continuing the driver's count.
    pub fn new(ce: &ClockEvent, hz: u32, initial_jiffies: u64) -> Clocksource {
        let info = ce.clocksource_info();
        let rate = u64::from(info.rate_hz.max(1));
        let exact = |a: u64, b: u64| if b != 0 && a % b == 0 { a / b } else { 0 };
        let window = if cfg!(cs_window) { ce.read_counter().ok().and_then(|c| CounterWindow::new(&info, c)) } else { None };
        Clocksource {
            window,
            info,
            hz,
            initial: initial_jiffies,
            offset: 0,
            ns_per_cycle: exact(1_000_000_000, rate),
            cycles_per_jiffy: exact(rate, u64::from(hz)),
        }
    }

    /// Clocksource cycles since boot: one load through the window, or one
    /// IPC.
    #[inline]
    pub fn cycles(&mut self, ce: &ClockEvent) -> Result<u64, ClockEventError> {
        match &mut self.window {
            Some(w) => Ok(w.read()),
            None => ce.read_counter(),
        }
    }

    /// True if the counter is read without IPC.
    pub fn direct(&self) -> bool {
        self.window.is_some()
    }

    /// Periodic ticks at HZ `hz` in half of `max_idle_ns` (at least 1):
    /// how often periodic mode must have the driver read the counter.
    pub fn keepalive_ticks(&self, hz: u32) -> u32 {
        let ticks = self.info.max_idle_ns / 2 / (1_000_000_000 / u64::from(hz.max(1))).max(1);
        ticks.clamp(1, u64::from(u32::MAX)) as u32
    }

    /// Nanoseconds since boot (`ktime_get`).
    pub fn ktime_ns(&mut self, ce: &ClockEvent) -> Result<u64, ClockEventError> {
        let c = self.cycles(ce)?;
        Ok(self.ns_at(c))
    }

    /// `INITIAL_JIFFIES + floor(cycles * HZ / rate)`: jiffies as the
    /// clocksource tells them, without the mode-switch offset.
    pub fn raw_jiffies(&mut self, ce: &ClockEvent) -> Result<u64, ClockEventError> {
        let c = self.cycles(ce)?;
        Ok(self.raw_jiffies_at(c))
    }

    /// [`Clocksource::raw_jiffies`] at clocksource count `c`.
    fn raw_jiffies_at(&self, c: u64) -> u64 {
        let j = match self.cycles_per_jiffy {
            0 => mul_div(c, u64::from(self.hz), u64::from(self.info.rate_hz), false),
            k => div_fast(c, k),
        };
        self.initial.wrapping_add(j)
    }

    /// The jiffy the clock was in at count `c` (oneshot mode's time line):
    /// one read serves both jiffies and ktime on a wake-up.
    pub fn jiffies_at(&self, c: u64) -> u64 {
        self.raw_jiffies_at(c).wrapping_add(self.offset as u64)
    }

    /// ktime (ns since boot, rounded down) at count `c`.
    pub fn ns_at(&self, c: u64) -> u64 {
        match self.ns_per_cycle {
            0 => mul_div(c, 1_000_000_000, u64::from(self.info.rate_hz), false),
            k => mul_fast(c, k),
        }
    }

    /// Nanoseconds per count, rounded up (the ktime resolution).
    pub fn ns_per_count(&self) -> u64 {
        1_000_000_000u64.div_ceil(u64::from(self.info.rate_hz.max(1)))
    }

    /// The first count at or after ktime `ns` (never early).
    pub fn cycles_for_ns(&self, ns: u64) -> u64 {
        match self.ns_per_cycle {
            0 => mul_div(ns, u64::from(self.info.rate_hz), 1_000_000_000, true),
            k => ns.div_ceil(k),
        }
    }

    /// The first count of jiffy `j` on this time line (rounded up).
    pub fn cycles_for_jiffy(&self, j: u64) -> u64 {
        let rel = j.wrapping_sub(self.offset as u64).wrapping_sub(self.initial);
        match self.cycles_per_jiffy {
            0 => mul_div(rel, u64::from(self.info.rate_hz), u64::from(self.hz), true),
            k => mul_fast(rel, k),
        }
    }

    /// Aligns the time line so that [`Clocksource::raw_jiffies`] `raw`
    /// reads as `jiffies_now` (done when entering oneshot mode).
    pub fn align(&mut self, raw: u64, jiffies_now: u64) {
        self.offset = jiffies_now.wrapping_sub(raw) as i64;
    }

    /// Where a freshly started server's jiffies begin: the clocksource
    /// line, and the counter value read for it (None if it could not be),
    /// for the time page's first anchor.
    pub fn boot_jiffies(&mut self, ce: &ClockEvent) -> (u64, Option<u64>) {
        match self.cycles(ce) {
            Ok(c) => (self.raw_jiffies_at(c), Some(c)),
            Err(_) => (self.initial, None),
        }
    }

    /// The clocksource's rate and cycles->ns conversion.
    pub fn info(&self) -> &ClocksourceInfo {
        &self.info
    }
}

/// `c / k`: one hardware divide while both fit 32 bits (the first 2^32
/// counts: 71 minutes at 1 MHz, 4.29 s at 1 GHz), else the 64-bit routine
/// (about 70 instructions on the tickless wake-up, by trace).
#[inline(always)]
fn div_fast(c: u64, k: u64) -> u64 {
    match (u32::try_from(c), u32::try_from(k)) {
        (Ok(c), Ok(k)) => u64::from(c / k),
        _ => c / k,
    }
}

/// `a * k`, saturating: one 32x32->64 multiply while both fit 32 bits
/// (which cannot overflow), else the 64-bit saturating multiply (about 30
/// instructions on a wake-up, by trace).
#[inline(always)]
fn mul_fast(a: u64, k: u64) -> u64 {
    match (u32::try_from(a), u32::try_from(k)) {
        (Ok(a), Ok(k)) => u64::from(a) * u64::from(k),
        _ => a.saturating_mul(k),
    }
}

/// `a * b / c` in 128 bits (rounded up if `ceil`), saturating at
/// `u64::MAX`: the conversions' fallback for rates that do not divide
/// evenly. Out of line and cold: one copy, off the fast paths.
#[cold]
#[inline(never)]
fn mul_div(a: u64, b: u64, c: u64, ceil: bool) -> u64 {
    let (p, c) = (u128::from(a) * u128::from(b), u128::from(c.max(1)));
    let q = if ceil { p.div_ceil(c) } else { p / c };
    q.min(u128::from(u64::MAX)) as u64
}
