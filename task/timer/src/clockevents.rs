//! The tick device: the server's side of Linux's clockevents framework
//! (kernel/time/clockevents.c, and tick-common.c's choice of device):
//! choosing the device, switching it between periodic and oneshot,
//! acknowledging its interrupt and programming its next event.
//!
//! Device choice follows `tick_check_preferred`: a device with ONESHOT
//! beats a periodic-only one, then the higher rating wins; every other
//! device is shut down. A ONESHOT-only device can be the tick device: when
//! periodic ticks are needed (a hook, or a `periodic-only` build) it runs
//! oneshot and the server programs every period's boundary itself
//! ([`TickDevice::emulates_periodic`]; Linux's `tick_handle_periodic` on a
//! oneshot device, [`crate::tick_common`]). The devices themselves live in the clockevent
//! driver task; this module talks to it over IPC (every call here is one
//! IPC to the driver, except [`TickDevice::can_oneshot`], and the ack when
//! app.toml grants the flag's window, [`crate::uif_window`]).
//!
//! In periodic mode each tick interrupt is one jiffy (Linux's
//! `tick_periodic`), at HZ times a multiplier a grabber may set (1..=8).
//! In oneshot mode (tickless) the event is programmed for a clocksource
//! cycle ([`crate::clocksource`] computes it; the driver's
//! `program_event_at` turns it into a delay from its own counter reading),
//! as `clockevents_program_event` does.

use crate::uif_window::UifWindow;
use drv_clockevent_api::{ClockEvent, ClockEventError, DeviceInfo, FEAT_ONESHOT, FEAT_PERIODIC};

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

/// The chosen tick device (Linux's `tick_device`).
pub struct TickDevice {
    /// Index of the device at the driver.
    pub dev: u8,
    /// Its description.
    pub info: DeviceInfo,
    /// Current mode.
    pub mode: Mode,
    /// HZ, the periodic rate at multiplier 1.
    hz: u32,
    /// Jiffy the oneshot event is programmed for, if any.
    pub programmed: Option<u64>,
    /// ktime (ns) of the first hrtimer when the oneshot event was last
    /// programmed, if one was armed: an hrtimer started before it needs
    /// the device reprogrammed, one after it does not.
    pub hr_programmed: Option<u64>,
    /// Tick interrupts the device confirmed (both modes): acks that found
    /// its update flag set. A spoofed post of the tick bit, or a stale
    /// interrupt, is not counted. For tests and benchmarks.
    pub interrupts: u32,
    /// The device's update flag through this server's own window, if
    /// app.toml grants one on it ([`crate::uif_window`]): the periodic
    /// ack without IPC.
    uif: Option<UifWindow>,
    /// The device has no PERIODIC feature: periodic mode runs it oneshot,
    /// one programmed event per tick.
    emulated: bool,
    /// Periodic mode on a device that could run periodic is running it
    /// oneshot for armed hrtimers (Linux's high-resolution mode: the tick
    /// is one more programmed event, `tick_sched_timer`).
    hres: bool,
    /// `emulated || hres`, kept as one flag: the periodic tick tests it
    /// on every interrupt.
    emulating: bool,
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

impl TickDevice {
    /// Finds the driver's devices, picks the preferred one (periodic or
    /// oneshot) and shuts the others down. The device is not started: call
    /// [`TickDevice::set_periodic`]. `None` if the driver offers none.
    pub fn choose(ce: &ClockEvent, hz: u32) -> Option<TickDevice> {
        let devices = ce.device_count().min(MAX_DEVICES as u8);
        let mut best: Option<(u8, DeviceInfo)> = None;
        for d in 0..devices {
            if let Ok(info) = ce.describe(d) {
                let usable = info.has(FEAT_PERIODIC) || info.has(FEAT_ONESHOT);
                if usable && preferred(best.as_ref().map(|b| &b.1), &info) {
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
        let emulated = !info.has(FEAT_PERIODIC);
        let uif = UifWindow::for_device(&info);
        let (programmed, hr_programmed) = (None, None);
        let hres = false;
        let emulating = emulated;
        Some(TickDevice { dev, info, mode: Mode::Oneshot, hz, programmed, hr_programmed, interrupts: 0, uif, emulated, hres, emulating })
    }

    /// True if periodic mode is emulated with oneshot events: the device
    /// has no PERIODIC feature, or runs oneshot for hrtimers
    /// ([`TickDevice::hres`]).
    #[inline(always)]
    pub fn emulates_periodic(&self) -> bool {
        self.emulating
    }

    /// True while periodic mode runs a PERIODIC-capable device oneshot so
    /// that hrtimers are served at full resolution.
    pub fn hres(&self) -> bool {
        self.hres
    }

    /// Periodic mode only, on a device with both features: runs it oneshot
    /// for hrtimers (`on`; the server then programs every tick and every
    /// hrtimer) or periodic again at `multiplier` x HZ. Nothing is
    /// programmed yet either way.
    pub fn set_hres(&mut self, ce: &ClockEvent, on: bool, multiplier: u8) -> Result<(), ClockEventError> {
        match on {
            true => ce.set_state_oneshot(self.dev)?,
            false => {
                ce.set_state_periodic(self.dev, self.period_ns(multiplier))?;
            }
        }
        self.hres = on;
        self.emulating = self.emulated || on;
        self.programmed = None;
        self.hr_programmed = None;
        Ok(())
    }

    /// True if the tick device can run tickless.
    pub fn can_oneshot(&self) -> bool {
        self.info.has(FEAT_ONESHOT)
    }

    /// HZ: periodic ticks per second at multiplier 1.
    pub fn hz(&self) -> u32 {
        self.hz
    }

    /// The tick period in ns at `multiplier` x HZ.
    pub fn period_ns(&self, multiplier: u8) -> u64 {
        1_000_000_000 / (self.hz as u64 * multiplier.max(1) as u64)
    }

    /// Runs the device periodic at `multiplier` x HZ; an emulating device
    /// is put in oneshot state with nothing programmed (the server programs
    /// each tick, [`crate::tick_common`]).
    pub fn set_periodic(&mut self, ce: &ClockEvent, multiplier: u8) -> Result<(), ClockEventError> {
        if self.emulates_periodic() {
            ce.set_state_oneshot(self.dev)?;
        } else {
            ce.set_state_periodic(self.dev, self.period_ns(multiplier))?;
        }
        self.mode = Mode::Periodic { multiplier };
        self.programmed = None;
        self.hr_programmed = None;
        Ok(())
    }

    /// Switches the device to oneshot, nothing programmed yet.
    pub fn set_oneshot(&mut self, ce: &ClockEvent) -> Result<(), ClockEventError> {
        ce.set_state_oneshot(self.dev)?;
        self.mode = Mode::Oneshot;
        self.hres = false;
        self.emulating = self.emulated;
        self.programmed = None;
        self.hr_programmed = None;
        Ok(())
    }

    /// Acknowledges a tick interrupt; false for a stale or spurious one,
    /// which includes any post of the tick bit by another task: the
    /// notification says only that the bit was posted, the device's update
    /// flag (read and cleared by the driver's `ack`) says whether the
    /// device fired.
    ///
    /// With a window on the flag, no IPC, in either mode: the flag is read
    /// and cleared here (see [`crate::uif_window`] for why a oneshot event
    /// needs nothing more).
    pub fn ack(&mut self, ce: &ClockEvent) -> bool {
        if let Some(uif) = self.uif {
            if !uif.ack() {
                return false;
            }
            self.interrupts = self.interrupts.wrapping_add(1);
            return true;
        }
        // If the driver restarted, its devices are detached: set ours up
        // again and treat this interrupt as a tick (not counted: there is
        // no flag left to say whether the device fired).
        match ce.ack(self.dev) {
            Ok(true) => {
                self.interrupts = self.interrupts.wrapping_add(1);
                true
            }
            Ok(false) => false,
            Err(_) => {
                let _ = self.recover(ce);
                true
            }
        }
    }

    /// Re-initialises the device after a driver restart, in the same mode.
    pub fn recover(&mut self, ce: &ClockEvent) -> Result<(), ClockEventError> {
        match self.mode {
            Mode::Periodic { multiplier } => self.set_periodic(ce, multiplier),
            Mode::Oneshot => {
                ce.set_state_oneshot(self.dev)?;
                self.programmed = None;
                self.hr_programmed = None;
                Ok(())
            }
        }
    }

    /// `clockevents_program_event` with an absolute expiry: fire when the
    /// clocksource reaches cycle `at`, or sooner at the device's longest
    /// delay or the clocksource's `max_idle_ns` (the driver applies both),
    /// for jiffy `for_jiffy` (`None`: an hrtimer only). One IPC: the driver
    /// reads the counter itself. `Err(Etime)` if `at` has passed.
    pub fn program_at(&mut self, ce: &ClockEvent, at: u64, for_jiffy: Option<u64>) -> Result<(), ClockEventError> {
        ce.program_event_at(self.dev, at)?;
        self.programmed = for_jiffy;
        Ok(())
    }
}
