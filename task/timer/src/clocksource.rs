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
//! Every read is one IPC to the clockevent driver (`read_counter`), which
//! extends the hardware counter to 64 bits as long as it is read at least
//! every `max_idle_ns`.

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
}

impl Clocksource {
    /// Asks the driver for the clocksource's rate; jiffies at `hz`,
    /// starting at `initial_jiffies` (cycle 0).
    pub fn new(ce: &ClockEvent, hz: u32, initial_jiffies: u64) -> Clocksource {
        let info = ce.clocksource_info();
        let rate = u64::from(info.rate_hz.max(1));
        let exact = |a: u64, b: u64| if b != 0 && a % b == 0 { a / b } else { 0 };
        Clocksource {
            info,
            hz,
            initial: initial_jiffies,
            offset: 0,
            ns_per_cycle: exact(1_000_000_000, rate),
            cycles_per_jiffy: exact(rate, u64::from(hz)),
        }
    }

    /// Clocksource cycles since boot.
    pub fn cycles(&self, ce: &ClockEvent) -> Result<u64, ClockEventError> {
        ce.read_counter()
    }

    /// Nanoseconds since boot (`ktime_get`).
    pub fn ktime_ns(&self, ce: &ClockEvent) -> Result<u64, ClockEventError> {
        Ok(self.ns_at(self.cycles(ce)?))
    }

    /// `INITIAL_JIFFIES + floor(cycles * HZ / rate)`: jiffies as the
    /// clocksource tells them, without the mode-switch offset.
    pub fn raw_jiffies(&self, ce: &ClockEvent) -> Result<u64, ClockEventError> {
        let c = self.cycles(ce)?;
        Ok(self.raw_jiffies_at(c))
    }

    /// [`Clocksource::raw_jiffies`] at clocksource count `c`.
    fn raw_jiffies_at(&self, c: u64) -> u64 {
        let j = match self.cycles_per_jiffy {
            0 => mul_div(c, u64::from(self.hz), u64::from(self.info.rate_hz), false),
            k => c / k,
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
            k => c.saturating_mul(k),
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
            k => rel.saturating_mul(k),
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
    pub fn boot_jiffies(&self, ce: &ClockEvent) -> (u64, Option<u64>) {
        match self.cycles(ce) {
            Ok(c) => (self.raw_jiffies_at(c), Some(c)),
            Err(_) => (self.initial, None),
        }
    }

    /// The clocksource's rate and cycles->ns conversion (for the time
    /// page, which only a server that writes one builds).
    #[cfg_attr(not(time_page), allow(dead_code))]
    pub fn info(&self) -> &ClocksourceInfo {
        &self.info
    }

    /// The longest a oneshot sleep may last, in ns, for the counter to be
    /// read often enough to stay extended (`max_idle_ns`).
    pub fn max_idle_ns(&self) -> u64 {
        self.info.max_idle_ns
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
