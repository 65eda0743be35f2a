//! The tick device's interrupt: Linux's kernel/time/tick-common.c for this
//! server (`tick_handle_periodic`, `tick_periodic`).
//!
//! The kernel routes the device's IRQ to this task as a notification bit
//! and masks it. Here: acknowledge it (only a real device event counts,
//! see [`crate::clockevents`]: an IPC to the clockevent driver, or in
//! periodic mode on TIM2 a read and clear of its update flag through this
//! server's bit-band window, [`crate::uif_window`]), leave
//! the IRQ to be unmasked by the next receive, and hand the tick to the
//! tick path: in periodic mode one jiffy through `timer_tick::TickPath::tick`
//! (with the grab protocol), in oneshot mode the nohz handler
//! ([`crate::tick_sched`]). The posts the tick produced are delivered
//! before the server next waits.
//!
//! How many jiffies a periodic tick stands for is read off the clocksource
//! when that costs no IPC (app.toml grants this server a `clocksource`
//! window, [`crate::clocksource`]): a tick handled a whole period late has
//! merged with the next one, and `timer_tick::TickLine` counts the periods
//! that ended (`do_timer(ticks)`, as `tick_do_update_jiffies64` does).
//! Without the window each tick interrupt is one jiffy.
//!
//! A tick device with no PERIODIC feature ticks periodically by being
//! programmed for every period's boundary (`tick_handle_periodic` on a
//! oneshot device): [`Server::tick_emulated`]. Its line is exact, and a
//! boundary already past when the next one is programmed counts as a tick.
//! A device with both features runs that way too while hrtimers are armed
//! in periodic mode, each event programmed for the earlier of the next
//! boundary and the first hrtimer (Linux's high-resolution mode, where the
//! tick is `tick_sched_timer`): [`Server::hres_start`]. At the first
//! boundary with no hrtimer armed it goes back to its hardware periodic
//! tick, which costs no programming IPC per tick.

use crate::clockevents::Mode;
use crate::{Server, Trace, __RINGBUF};
use drv_clockevent_api::ClockEventError;
use ringbuf::ringbuf_entry;
use timer_tick::TickLine;

impl Server {
    /// The tick device interrupted. Out of line: inlined, the tick path
    /// grows the server loop every IPC runs through, and the IPC ops pay
    /// for it (measured: add_timer +8).
    #[inline(never)]
    pub(crate) fn timer_interrupt(&mut self) {
        let fresh = self.tick_dev.ack(&self.driver);
        // The device is acknowledged: its IRQ is unmasked as this server
        // next waits (the receive does it, saving an irq_control syscall).
        self.rearm |= self.irq_bit;
        if !fresh {
            return;
        }
        match self.tick_dev.mode {
            Mode::Periodic { .. } => self.tick_periodic(),
            Mode::Oneshot => self.tick_nohz_handler(),
        }
    }

    /// One periodic tick: the jiffies it stands for (one, or more when
    /// ticks were lost), or with a grabber, the grabber's turn.
    fn tick_periodic(&mut self) {
        let ticks = self.periodic_ticks();
        self.run_ticks(ticks);
    }

    /// Runs `ticks` jiffies through the tick path and delivers (nothing
    /// for 0: an emulating device's event that was an hrtimer's only).
    #[inline(always)]
    fn run_ticks(&mut self, ticks: u32) {
        if ticks != 1 {
            if ticks == 0 {
                return;
            }
            ringbuf_entry!(Trace::LostTicks(ticks - 1));
        }
        self.keepalive();
        // A tick still waiting for the grabber's answer when the next one
        // comes means the grabber stayed silent (`TickPath::tick` counts it).
        let silent = self.path.grab_pending() != 0;
        self.path.tick(ticks);
        self.time_page.advance(self.path.core().jiffies().0);
        if silent {
            ringbuf_entry!(Trace::GrabberSilent);
        }
        // The hot path's own copy of `deliver` (measured by `cargo xtask
        // bench`: a call here costs the 8-hook tick and the expiry latency
        // about 1% each).
        if !self.path.posts().is_empty() {
            self.deliver_inline();
        }
        // hrtimers at tick resolution, where the device cannot be
        // programmed for them (see crate::hrtimer); an emulating device
        // ran them with its event.
        if self.hr.next_expiry().is_some() && !self.tick_dev.emulates_periodic() {
            self.hr_run_periodic();
        }
    }
}

impl Server {
    /// Runs the tick device periodic at `multiplier` x HZ and starts the
    /// tick's line from the clocksource (see the module docs).
    pub(crate) fn set_periodic(&mut self, multiplier: u8) -> Result<(), ClockEventError> {
        self.tick_dev.set_periodic(&self.driver, multiplier)?;
        self.start_line(multiplier);
        Ok(())
    }

    /// Back to HZ if a grabber left the periodic tick faster.
    pub(crate) fn restore_rate(&mut self) {
        if let Mode::Periodic { multiplier } = self.tick_dev.mode {
            if multiplier != 1 {
                let _ = self.set_periodic(1);
            }
        }
    }

    /// Starts the periodic tick's line at the clocksource's count now, and
    /// programs an emulating device's first event. No line (one jiffy per
    /// interrupt) for a periodic device when reading the counter would
    /// take an IPC.
    pub(crate) fn start_line(&mut self, multiplier: u8) {
        self.line = None;
        let emulated = self.tick_dev.emulates_periodic();
        if !emulated && !self.clocksource.direct() {
            return;
        }
        let Ok(now) = self.clocksource.cycles(&self.driver) else { return };
        let (rate, per_sec) = (self.clocksource.info().rate_hz, self.tick_dev.hz() * u32::from(multiplier.max(1)));
        self.line = match emulated {
            true => TickLine::emulated(now, rate, per_sec),
            false => TickLine::hardware(now, rate, per_sec),
        };
        if emulated {
            self.program_tick();
        }
    }

    /// How many jiffies this periodic tick stands for: the periods the
    /// line counts on the clocksource, or 1 without a line.
    #[inline]
    fn periodic_ticks(&mut self) -> u32 {
        if self.tick_dev.emulates_periodic() {
            return self.tick_emulated();
        }
        let Some(line) = self.line.as_mut() else { return 1 };
        match self.clocksource.cycles(&self.driver) {
            Ok(now) => line.ticks(now),
            Err(_) => 1,
        }
    }

    /// `tick_handle_periodic` on a oneshot device: the boundaries passed
    /// (at least the one the event was programmed for, unless the device
    /// fired early or for an hrtimer), the hrtimers due run, then the next
    /// event programmed; a boundary that passes before it can be
    /// programmed counts too. A device running oneshot only for hrtimers
    /// goes back to its hardware periodic tick at the first boundary with
    /// none left armed.
    #[inline(never)]
    fn tick_emulated(&mut self) -> u32 {
        let Some(line) = self.line.as_mut() else { return 1 };
        let now = self.clocksource.cycles(&self.driver);
        let ticks = match now {
            Ok(now) => line.ticks(now),
            // No counter: trust the event to be the programmed boundary.
            Err(_) => line.advance(),
        };
        if let Ok(now) = now {
            if self.hr.next_expiry().is_some() {
                self.hr.run(self.clocksource.ns_at(now), self.path.posts());
                self.deliver();
            } else if self.tick_dev.hres() && ticks != 0 && self.hres_exit(now).is_ok() {
                return ticks;
            }
        }
        ticks.saturating_add(self.program_tick())
    }

    /// Programs an emulating device for the earlier of the line's next
    /// boundary and the first hrtimer; returns the boundaries that had
    /// already passed (each moved over, `Etime`). An hrtimer found due is
    /// run first. A detached device (the driver restarted) is set up again
    /// (twice at most).
    fn program_tick(&mut self) -> u32 {
        let (mut passed, mut retries) = (0u32, 2);
        while let Some(tick) = self.line.map(|l| l.next()) {
            let hr = self.hr.next_expiry();
            let at = hr.map_or(tick, |ns| self.clocksource.cycles_for_ns(ns).min(tick));
            match self.tick_dev.program_at(&self.driver, at, None) {
                Ok(()) => {
                    self.tick_dev.hr_programmed = hr;
                    break;
                }
                Err(ClockEventError::Etime) if at == tick => {
                    passed = passed.saturating_add(self.line.as_mut().map_or(0, |l| l.advance()));
                }
                Err(ClockEventError::Etime) => {
                    if !self.hr_run_periodic() {
                        break;
                    }
                }
                Err(_) => {
                    retries -= 1;
                    if retries == 0 || self.tick_dev.recover(&self.driver).is_err() {
                        break;
                    }
                }
            }
        }
        passed
    }

    /// An hrtimer was armed in periodic mode. On a device that can run
    /// oneshot, serve it at full resolution: run the device oneshot and
    /// program every tick boundary and hrtimer (Linux's switch to
    /// high-resolution mode, `hrtimer_switch_to_hres`, with the tick as
    /// `tick_sched_timer`), the tick's line going on from where it was.
    /// Already emulating: reprogram if it is now the first event. A
    /// periodic-only device, or a failed counter read, leaves hrtimers at
    /// tick resolution.
    pub(crate) fn hres_start(&mut self, expires: u64) {
        let Mode::Periodic { multiplier } = self.tick_dev.mode else { return };
        if self.tick_dev.emulates_periodic() {
            if self.tick_dev.hr_programmed.is_none_or(|p| expires < p) {
                let passed = self.program_tick();
                self.run_ticks(passed);
            }
            return;
        }
        if !self.tick_dev.can_oneshot() {
            return;
        }
        let Ok(now) = self.clocksource.cycles(&self.driver) else { return };
        let per_sec = self.tick_dev.hz() * u32::from(multiplier.max(1));
        let line = match self.line {
            Some(l) => Some(l.to_exact()),
            None => TickLine::emulated(now, self.clocksource.info().rate_hz, per_sec),
        };
        if line.is_none() || self.tick_dev.set_hres(&self.driver, true, multiplier).is_err() {
            return;
        }
        self.line = line;
        // A boundary that passed since the last tick (its flag was cleared
        // by the switch) is a tick to run now.
        let passed = self.program_tick();
        self.run_ticks(passed);
    }

    /// Back from hrtimer service to the hardware periodic tick, at cycle
    /// `now` (just after a boundary): the device's periods start again
    /// here, and so does the line.
    fn hres_exit(&mut self, now: u64) -> Result<(), ClockEventError> {
        let Mode::Periodic { multiplier } = self.tick_dev.mode else { return Ok(()) };
        self.tick_dev.set_hres(&self.driver, false, multiplier)?;
        let per_sec = self.tick_dev.hz() * u32::from(multiplier.max(1));
        self.line = match self.clocksource.direct() {
            true => TickLine::hardware(now, self.clocksource.info().rate_hz, per_sec),
            false => None,
        };
        Ok(())
    }

    /// The clockevent driver extends the clocksource to 64 bits on each
    /// request it serves; a periodic tick acknowledged through the flag's
    /// window may go hours without one, so ask for the counter every
    /// `keepalive_ticks` confirmed ticks (half of `max_idle_ns`).
    #[inline]
    fn keepalive(&mut self) {
        self.keepalive = self.keepalive.wrapping_sub(1);
        if self.keepalive == 0 {
            self.keepalive = self.clocksource.keepalive_ticks(self.tick_dev.hz());
            let _ = self.driver.read_counter();
        }
    }
}
