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
//!
//! Arithmetic: the conversions are exact (floor or ceiling of the true
//! ratio, as documented on each). When the rate is a whole number of
//! cycles per jiffy and a whole number of ns per cycle (1 MHz at any HZ
//! dividing it, or the 1 GHz model clock), the ratios are fixed at start
//! and the conversions are one multiplication, or one 64-bit division for
//! cycles to jiffies; otherwise they divide in 128 bits (a software
//! division of several thousand instructions on Cortex-M4, which used to
//! be most of the cost of an add that reprograms the tickless event).

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
    /// Clocksource cycles per jiffy, when the rate is a whole multiple of
    /// HZ (`rate_hz / hz`); 0 otherwise.
    cycles_per_jiffy: u64,
    /// Nanoseconds per clocksource cycle, when the rate divides 1 GHz
    /// (`1e9 / rate_hz`); 0 otherwise.
    ns_per_cycle: u64,
}

/// `a * b / c` rounded up (`ceil`) or down, exactly: in 64 bits when the
/// product fits, in 128 otherwise; saturates at `u64::MAX`. `c` must not
/// be 0.
fn mul_div(a: u64, b: u64, c: u64, ceil: bool) -> u64 {
    match a.checked_mul(b) {
        Some(p) if ceil => p.div_ceil(c),
        Some(p) => p / c,
        None => {
            let p = a as u128 * b as u128;
            let q = if ceil { p.div_ceil(c as u128) } else { p / c as u128 };
            q.min(u64::MAX as u128) as u64
        }
    }
}

impl Clocksource {
    /// Asks the driver for the clocksource's rate; jiffies at `hz`,
    /// starting at `initial_jiffies` (cycle 0).
    pub fn new(ce: &ClockEvent, hz: u32, initial_jiffies: u64) -> Clocksource {
        let info = ce.clocksource_info();
        let rate = u64::from(info.rate_hz.max(1));
        let hz = hz.max(1);
        let cycles_per_jiffy = if rate % u64::from(hz) == 0 { rate / u64::from(hz) } else { 0 };
        let ns_per_cycle = if 1_000_000_000 % rate == 0 { 1_000_000_000 / rate } else { 0 };
        Clocksource { info, hz, initial: initial_jiffies, offset: 0, cycles_per_jiffy, ns_per_cycle }
    }

    /// The clocksource's rate in Hz (at least 1).
    fn rate(&self) -> u64 {
        u64::from(self.info.rate_hz.max(1))
    }

    /// Whole ns in `cycles`, rounded down (up if `ceil`).
    fn cycles_to_ns(&self, cycles: u64, ceil: bool) -> u64 {
        match cycles.checked_mul(self.ns_per_cycle) {
            Some(ns) if self.ns_per_cycle != 0 => ns,
            _ => mul_div(cycles, 1_000_000_000, self.rate(), ceil),
        }
    }

    /// Clocksource cycles since boot.
    pub fn cycles(&self, ce: &ClockEvent) -> Result<u64, ClockEventError> {
        ce.read_counter()
    }

    /// Nanoseconds since boot (`ktime_get`).
    pub fn ktime_ns(&self, ce: &ClockEvent) -> Result<u64, ClockEventError> {
        let c = self.cycles(ce)?;
        Ok(self.cycles_to_ns(c, false))
    }

    /// `INITIAL_JIFFIES + floor(cycles * HZ / rate)`: jiffies as the
    /// clocksource tells them, without the mode-switch offset.
    pub fn raw_jiffies(&self, ce: &ClockEvent) -> Result<u64, ClockEventError> {
        let c = self.cycles(ce)?;
        let j = if self.cycles_per_jiffy != 0 {
            c / self.cycles_per_jiffy
        } else {
            mul_div(c, u64::from(self.hz), self.rate(), false)
        };
        Ok(self.initial.wrapping_add(j))
    }

    /// Aligns the time line so that [`Clocksource::raw_jiffies`] `raw`
    /// reads as `jiffies_now` (done when entering oneshot mode).
    pub fn align(&mut self, raw: u64, jiffies_now: u64) {
        self.offset = jiffies_now.wrapping_sub(raw) as i64;
    }

    /// The jiffy the clock is in now (oneshot mode's time line).
    pub fn jiffies_now(&self, ce: &ClockEvent) -> Result<u64, ClockEventError> {
        Ok(self.raw_jiffies(ce)?.wrapping_add(self.offset as u64))
    }

    /// Where a freshly started server's jiffies begin: the clocksource line.
    pub fn boot_jiffies(&self, ce: &ClockEvent) -> u64 {
        self.raw_jiffies(ce).unwrap_or(self.initial)
    }

    /// The longest a oneshot sleep may last, in ns, for the counter to be
    /// read often enough to stay extended (`max_idle_ns`).
    pub fn max_idle_ns(&self) -> u64 {
        self.info.max_idle_ns
    }

    /// The clocksource cycle at which jiffy `j` begins on this time line
    /// (rounded up, so an event programmed for it is never early). No
    /// IPC: the clockevent driver's `program_event_at` compares it with the
    /// counter itself.
    pub fn cycles_at(&self, j: u64) -> u64 {
        let rel = j.wrapping_sub(self.offset as u64).wrapping_sub(self.initial);
        // ceil(rel * rate / hz).
        match rel.checked_mul(self.cycles_per_jiffy) {
            Some(at) if self.cycles_per_jiffy != 0 => at,
            _ => mul_div(rel, self.rate(), u64::from(self.hz), true),
        }
    }
}
