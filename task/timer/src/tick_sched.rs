//! The tickless (nohz) policy: Linux's kernel/time/tick-sched.c for this
//! server. When nothing needs every tick, the tick device runs oneshot,
//! programmed for the next expiry (`tick_nohz_stop_sched_tick`); on each
//! wake-up jiffies are caught up from the clocksource
//! (`tick_nohz_update_jiffies`) and the next event programmed.
//!
//! Policy: oneshot when the device can and no client hook exists (a hook
//! needs every tick), unless built `periodic-only` (Linux's `nohz=off`);
//! periodic at HZ otherwise. Catching up runs the hook chain once for all
//! the jiffies slept (`do_timer(ticks)` with ticks > 1).
//!
//! hrtimers ([`crate::hrtimer`]) are one more event: the device is
//! programmed for the earlier of the first hrtimer and the wheel's next
//! expiry, and each wake-up runs both from one clocksource read.
//!
//! Catch-up happens on each wake-up and before answering `jiffies` or
//! `stats`, not on every request: arming, re-arming and deleting work
//! against the wheel's own `timer_jiffies`, and an expiry that the
//! clocksource has already passed makes [`Server::program_next`] see
//! `Etime` and catch up then. That keeps add/mod/del free of clockevent
//! IPC.

use crate::clockevents::Mode;
use crate::{Server, Trace, __RINGBUF};
use ringbuf::ringbuf_entry;
use drv_clockevent_api::ClockEventError;
use timer_core::{Jiffies, TimerHandle, TimerKind};

impl Server {
    /// The oneshot event fired: catch up and program the next one.
    pub(crate) fn tick_nohz_handler(&mut self) {
        self.tick_dev.programmed = None;
        self.tick_dev.hr_programmed = None;
        self.catch_up();
        self.program_next();
    }

    /// Oneshot mode: advance jiffies to what the clocksource says, firing
    /// everything due in between, run the hrtimers due, and deliver the
    /// posts. Not inlined: it runs the whole hook chain, and is called
    /// from six places.
    #[inline(never)]
    pub(crate) fn catch_up(&mut self) {
        if self.tick_dev.mode != Mode::Oneshot {
            return;
        }
        let Ok(c) = self.clocksource.cycles(&self.driver) else {
            ringbuf_entry!(Trace::ClockError);
            return;
        };
        let now = self.clocksource.jiffies_at(c);
        self.path.catch_up(Jiffies(now));
        self.time_page.sync(c, now);
        if self.hr.next_expiry().is_some() {
            self.hr.run(self.clocksource.ns_at(c), self.path.posts());
        }
        self.deliver();
    }

    /// Programs the oneshot event for the start of jiffy `j`, or for the
    /// longest safe sleep if `j` is further away (the driver bounds the
    /// delay by the device's range and the clocksource's `max_idle_ns`; the
    /// wake-up then catches up and programs again). `Err(Etime)` if that
    /// moment has passed. One IPC: the driver compares the cycle with its
    /// counter.
    #[inline(never)]
    fn program_for(&mut self, j: u64) -> Result<(), ClockEventError> {
        let at = self.clocksource.cycles_for_jiffy(j);
        self.tick_dev.program_at(&self.driver, at, Some(j))
    }

    /// `clockevents_program_event` for the earlier of jiffy `j` (the
    /// wheel's next event, if any) and ktime `hr` (the first hrtimer), as
    /// clocksource counts rounded up, so neither is early. `Err(Etime)` if
    /// that moment has passed. One IPC, as [`Server::program_for`].
    #[inline(never)]
    fn program_hr(&mut self, j: Option<u64>, hr: u64) -> Result<(), ClockEventError> {
        let cs = &self.clocksource;
        let at = j.map_or(u64::MAX, |j| cs.cycles_for_jiffy(j)).min(cs.cycles_for_ns(hr));
        self.tick_dev.program_at(&self.driver, at, j)?;
        self.tick_dev.hr_programmed = Some(hr);
        Ok(())
    }

    /// Oneshot mode: program the event for the next expiry, wheel or
    /// hrtimer (or the longest idle sleep when nothing is pending). An
    /// expiry already passed is caught up and the next one tried, at most
    /// 8 times.
    #[inline(never)]
    pub(crate) fn program_next(&mut self) {
        for _ in 0..8 {
            if self.tick_dev.mode != Mode::Oneshot {
                return;
            }
            // Set again by `program_hr` when an hrtimer is what counts: a
            // stale value would let a later hrtimer skip reprogramming.
            self.tick_dev.hr_programmed = None;
            let core = self.path.core();
            let r = match (core.tickless_deadline(), self.hr.next_expiry()) {
                (None, _) => return,
                (Some(j), Some(hr)) => self.program_hr(j.map(|j| j.0.max(core.jiffies().0 + 1)), hr),
                (Some(Some(j)), None) => self.program_for(j.0.max(core.jiffies().0 + 1)),
                // Nothing to wake for: the longest safe sleep, which the
                // driver applies to a cycle that never comes.
                (Some(None), None) => self.tick_dev.program_at(&self.driver, u64::MAX, None),
            };
            match r {
                Err(ClockEventError::Etime) => self.catch_up(),
                // The driver restarted (its devices came back detached):
                // set the device up again and program once more. With the
                // flag's window no ack IPC would ever notice.
                Err(_) => {
                    if self.tick_dev.recover(&self.driver).is_err() {
                        return;
                    }
                }
                Ok(()) => return,
            }
        }
    }

    /// After arming timer `handle` in oneshot mode: reprogram if the new
    /// expiry comes before the programmed event.
    #[inline]
    pub(crate) fn armed(&mut self, expires: u64, handle: u64) {
        if self.tick_dev.mode == Mode::Oneshot && self.tick_dev.programmed.is_none_or(|p| expires < p) {
            self.program_first(expires, handle);
        }
    }

    /// The timer just armed expires before the programmed event, so it is
    /// the next event itself: every other pending timer expires at or
    /// after the programmed jiffy (the event is programmed for the wheel's
    /// next expiry, never later than any, and a timer armed earlier would
    /// have reprogrammed it). Program it without scanning the wheel
    /// (`tickless_deadline`, a few hundred instructions), unless it is
    /// deferrable (it must not wake the CPU) or an hrtimer counts too: then
    /// [`Server::program_next`].
    #[inline(never)]
    fn program_first(&mut self, expires: u64, handle: u64) {
        let h = TimerHandle::from_bits(handle);
        let normal = self.path.core().wheel().kind(h) == Ok(TimerKind::Normal);
        // (No client hook exists in oneshot mode: registering one switches
        // the device to periodic at once, `update_mode`.)
        if !normal || self.hr.next_expiry().is_some() {
            return self.program_next();
        }
        self.tick_dev.hr_programmed = None;
        let j = expires.max(self.path.core().jiffies().0 + 1);
        if self.program_for(j) == Err(ClockEventError::Etime) {
            self.catch_up();
            self.program_next();
        }
    }

    /// Chooses the device mode: tickless (oneshot) when the device can and
    /// no hook needs every tick; periodic otherwise.
    pub(crate) fn update_mode(&mut self) {
        let want_oneshot = !cfg!(feature = "periodic-only")
            && self.tick_dev.can_oneshot()
            && self.path.core().tickless_deadline().is_some();
        match (self.tick_dev.mode, want_oneshot) {
            (Mode::Periodic { .. }, true) => {
                if self.enter_oneshot().is_ok() {
                    ringbuf_entry!(Trace::Mode(Mode::Oneshot));
                    self.program_next();
                }
            }
            (Mode::Oneshot, false) => {
                self.catch_up();
                if self.set_periodic(1).is_ok() {
                    ringbuf_entry!(Trace::Mode(Mode::Periodic { multiplier: 1 }));
                    if let Some(first) = self.hr.next_expiry() {
                        self.hres_start(first);
                    }
                }
            }
            _ => {}
        }
    }

    /// Switches the device to oneshot with the clocksource's time line
    /// aligned to the current jiffies_64.
    fn enter_oneshot(&mut self) -> Result<(), ClockEventError> {
        let raw = self.clocksource.raw_jiffies(&self.driver)?;
        self.tick_dev.set_oneshot(&self.driver)?;
        self.clocksource.align(raw, self.path.core().jiffies().0);
        Ok(())
    }
}
