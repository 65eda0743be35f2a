//! The server's side of the clockevent framework (seed 002): choosing the
//! tick device, switching it between periodic and oneshot, and turning the
//! clocksource counter into jiffies.
//!
//! Device choice follows `tick_check_preferred`: a device with ONESHOT
//! beats a periodic-only one, then the higher rating wins; every other
//! device is shut down. The devices themselves live in the clockevent
//! driver task; this module talks to it over IPC.
//!
//! Time line: jiffies are `INITIAL_JIFFIES + cycles * HZ / rate` of the
//! clocksource, plus an offset that keeps them continuous across mode
//! switches. In periodic mode each tick interrupt is one jiffy (Linux's
//! `tick_periodic`); in oneshot mode (tickless) elapsed jiffies are read
//! off the clocksource on every wake, so catching up after a long sleep is
//! exact. Because the clocksource outlives the timer server, a restarted
//! server resumes the same time line, and clients re-arm at their original
//! absolute expiries.

use drv_clockevent_api::{ClockEvent, ClockEventError, ClocksourceInfo, DeviceInfo, FEAT_ONESHOT, FEAT_PERIODIC};
use userlib::TaskId;

/// Most clock event devices considered.
pub const MAX_DEVICES: usize = 4;

/// How the tick device runs.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum Mode {
    /// Periodic at `HZ * multiplier` (the multiplier is 1 unless a grabber
    /// asked for a faster tick).
    Periodic { multiplier: u8 },
    /// Oneshot, programmed for the next expiry (tickless idle).
    Oneshot,
}

/// The chosen tick device and the clocksource.
pub struct Clock {
    ce: ClockEvent,
    /// Index of the tick device.
    pub dev: u8,
    /// Its description.
    pub info: DeviceInfo,
    /// Current mode.
    pub mode: Mode,
    cs: ClocksourceInfo,
    hz: u32,
    initial: u64,
    /// Added to the clocksource-derived jiffies (continuity across mode
    /// switches).
    offset: i64,
    /// Jiffy the oneshot event is programmed for, if any.
    pub programmed: Option<u64>,
    /// Tick interrupts the device confirmed (both modes): acks that found
    /// its update flag set. A spoofed post of the tick bit, or a stale
    /// interrupt, is not counted. For tests and benchmarks.
    pub interrupts: u32,
}

/// `tick_check_preferred`: should `new` replace `cur` as the tick device?
pub fn preferred(cur: Option<&DeviceInfo>, new: &DeviceInfo) -> bool {
    let Some(cur) = cur else { return true };
    let (cur_os, new_os) = (cur.has(FEAT_ONESHOT), new.has(FEAT_ONESHOT));
    if cur_os != new_os {
        return new_os;
    }
    new.rating > cur.rating
}

impl Clock {
    /// Finds the devices, picks the preferred one, shuts the others down
    /// and starts it periodic at `hz`. `None` if the driver offers no
    /// usable device.
    pub fn start(driver: TaskId, hz: u32, initial_jiffies: u64) -> Option<Clock> {
        let ce = ClockEvent::from(driver);
        let devices = ce.device_count().min(MAX_DEVICES as u8);
        let mut best: Option<(u8, DeviceInfo)> = None;
        for d in 0..devices {
            if let Ok(info) = ce.describe(d) {
                if info.has(FEAT_PERIODIC) && preferred(best.as_ref().map(|b| &b.1), &info) {
                    best = Some((d, info));
                }
            }
        }
        let (dev, info) = best?;
        for d in 0..devices {
            if d != dev {
                let _ = ce.set_state_shutdown(d);
            }
        }
        let cs = ce.clocksource_info();
        let mut clock = Clock {
            ce,
            dev,
            info,
            mode: Mode::Oneshot,
            cs,
            hz,
            initial: initial_jiffies,
            offset: 0,
            programmed: None,
            interrupts: 0,
        };
        clock.set_periodic(1).ok()?;
        Some(clock)
    }

    /// True if the tick device can run tickless.
    pub fn can_oneshot(&self) -> bool {
        self.info.has(FEAT_ONESHOT)
    }

    /// The tick period in ns at `multiplier` x HZ.
    fn period_ns(&self, multiplier: u8) -> u64 {
        1_000_000_000 / (self.hz as u64 * multiplier.max(1) as u64)
    }

    /// Runs the device periodic at `multiplier` x HZ.
    pub fn set_periodic(&mut self, multiplier: u8) -> Result<(), ClockEventError> {
        self.ce.set_state_periodic(self.dev, self.period_ns(multiplier))?;
        self.mode = Mode::Periodic { multiplier };
        self.programmed = None;
        Ok(())
    }

    /// Switches to oneshot; `jiffies_now` is the current jiffies_64, which
    /// the clocksource-derived line is aligned to.
    pub fn set_oneshot(&mut self, jiffies_now: u64) -> Result<(), ClockEventError> {
        let cs = self.clocksource_jiffies()?;
        self.ce.set_state_oneshot(self.dev)?;
        self.offset = jiffies_now.wrapping_sub(cs) as i64;
        self.mode = Mode::Oneshot;
        self.programmed = None;
        Ok(())
    }

    /// Acknowledges a tick interrupt; false for a stale or spurious one,
    /// which includes any post of the tick bit by another task: the
    /// notification says only that the bit was posted, the device's update
    /// flag (read and cleared by the driver's `ack`) says whether the
    /// device fired.
    pub fn ack(&mut self) -> bool {
        // If the driver restarted, its devices are detached: set ours up
        // again and treat this interrupt as a tick (not counted: there is
        // no flag left to say whether the device fired).
        match self.ce.ack(self.dev) {
            Ok(true) => {
                self.interrupts = self.interrupts.wrapping_add(1);
                true
            }
            Ok(false) => false,
            Err(_) => {
                let _ = self.recover();
                true
            }
        }
    }

    /// Re-initialises the device after a driver restart, in the same mode.
    fn recover(&mut self) -> Result<(), ClockEventError> {
        match self.mode {
            Mode::Periodic { multiplier } => self.set_periodic(multiplier),
            Mode::Oneshot => {
                self.ce.set_state_oneshot(self.dev)?;
                self.programmed = None;
                Ok(())
            }
        }
    }

    /// Clocksource cycles since boot.
    pub fn cycles(&self) -> Result<u64, ClockEventError> {
        self.ce.read_counter()
    }

    /// Nanoseconds since boot (`ktime_get`).
    pub fn ktime_ns(&self) -> Result<u64, ClockEventError> {
        let c = self.cycles()?;
        Ok((c as u128 * 1_000_000_000 / self.cs.rate_hz.max(1) as u128) as u64)
    }

    /// `INITIAL_JIFFIES + floor(cycles * HZ / rate)`: jiffies as the
    /// clocksource tells them, without the mode-switch offset.
    fn clocksource_jiffies(&self) -> Result<u64, ClockEventError> {
        let c = self.cycles()?;
        Ok(self.initial.wrapping_add((c as u128 * self.hz as u128 / self.cs.rate_hz.max(1) as u128) as u64))
    }

    /// The jiffy the clock is in now (oneshot mode's time line).
    pub fn jiffies_now(&self) -> Result<u64, ClockEventError> {
        Ok(self.clocksource_jiffies()?.wrapping_add(self.offset as u64))
    }

    /// Where a freshly started server's jiffies begin: the clocksource line.
    pub fn boot_jiffies(&self) -> u64 {
        self.clocksource_jiffies().unwrap_or(self.initial)
    }

    /// The longest oneshot delay, in ns: the device's range, and no more
    /// than the clocksource's `max_idle_ns`, since the driver extends the
    /// counter to 64 bits only while it is read at least that often.
    fn max_sleep_ns(&self) -> u64 {
        self.info.max_delta_ns.min(self.cs.max_idle_ns).max(1)
    }

    /// Programs the oneshot event for the start of jiffy `j`, or for the
    /// longest safe sleep if `j` is further away (the wake-up then catches
    /// up and programs again). `Err(Etime)` if that moment has passed: the
    /// caller catches up and retries.
    pub fn program_for(&mut self, j: u64) -> Result<(), ClockEventError> {
        let now = self.cycles()?;
        // Cycle count at which jiffy `j` begins on this time line (rounded
        // up, so the event is never early).
        let rel = j.wrapping_sub(self.offset as u64).wrapping_sub(self.initial);
        let at = (rel as u128 * self.cs.rate_hz as u128).div_ceil(self.hz as u128);
        let delta_cycles = at as i128 - now as i128;
        if delta_cycles <= 0 {
            return Err(ClockEventError::Etime);
        }
        let delta_ns = (delta_cycles as u128 * 1_000_000_000).div_ceil(self.cs.rate_hz.max(1) as u128);
        let delta_ns = delta_ns.min(self.max_sleep_ns() as u128) as i64;
        self.ce.program_event(self.dev, delta_ns)?;
        self.programmed = Some(j);
        Ok(())
    }

    /// Programs the longest sleep the device allows (nothing to wake for;
    /// the clocksource still needs reading now and then to extend it).
    pub fn program_idle(&mut self) -> Result<(), ClockEventError> {
        let max = self.max_sleep_ns();
        self.ce.program_event(self.dev, max.min(i64::MAX as u64) as i64)?;
        self.programmed = None;
        Ok(())
    }
}
