//! One STM32F4 general-purpose timer (TIM2..TIM5), and the few sequences
//! the driver runs on it, written to be right on silicon (RM0090 chapter
//! 18) and on QEMU 7.2's `stm32f2xx_timer` model. The registers and their
//! bits are described in sys/stm32-regs, shared with the board start-up
//! and the other drivers.
//!
//! Why it exists: every register access of the driver goes through here, so
//! the one `unsafe` contract (the base address is a timer this task owns) is
//! stated once, and the hardware differences live in one place.
//!
//! What QEMU's model does differently (read from hw/timer/stm32f2xx_timer.c
//! and checked by `test-clockevent`), and how each sequence copes:
//!
//! - It counts at a fixed 1 GHz divided by `PSC + 1` whether or not `CEN` is
//!   set, and `CNT` never wraps at `ARR` (it reads `now / (PSC + 1) - offset`,
//!   truncated to 32 bits).
//! - Writing `ARR` (or `CNT`, `PSC`, `EGR.UG`) arms its one alarm; the alarm
//!   fires `ARR` ticks later, not `ARR + 1`, and then re-arms itself every
//!   `ARR` ticks. Writing `CR1` arms nothing: `ARR` is the last value written
//!   when programming, `CR1.CEN` follows it (on silicon `CEN` must come after
//!   `ARR` anyway, or the counter would run against a stale reload value).
//! - An alarm only raises `SR.UIF` and the interrupt if `DIER.UIE` and
//!   `CR1.CEN` are set; with `CEN` clear it does nothing and stops re-arming.
//!   That is how this driver stops a timer on both.
//! - `CR1.OPM` and `CR1.URS` are ignored: one-pulse mode does not exist. A
//!   oneshot event is stopped by [`Tim::stop`] in `ack`, which on silicon
//!   finds `CEN` already cleared by OPM.
//! - Each alarm period is `(ARR + offset) * (PSC + 1)` ns, where `offset` is
//!   `now / (PSC + 1) - value` at the last write of `CNT` (`value`), `PSC` or
//!   `EGR.UG` (value 0). Starting a timer with `UG` or `CNT = 0` therefore
//!   adds the virtual time of that write to every period. The driver makes
//!   `offset` zero once per power-on ([`Tim::qemu_align`]) and never writes
//!   those registers again on QEMU, so every period is exactly `ARR` ticks.

use stm32_regs::tim::{cr1, dier, egr, sr};

/// Which hardware the timers are: they differ in ways no single register
/// sequence hides (see the module documentation).
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum Model {
    /// STM32F4 silicon: an update every `ARR + 1` counts, `EGR.UG` loads the
    /// prescaler, one-pulse mode works.
    Silicon,
    /// QEMU 7.2's `stm32f2xx_timer`.
    Qemu,
}

/// How a counter is started by [`Tim::start`].
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum Mode {
    /// Fire every `cycles`.
    Periodic,
    /// Fire once, `cycles` from now.
    Oneshot,
}

/// One timer's register block (registers and bits: sys/stm32-regs).
pub struct Tim {
    regs: stm32_regs::tim::Tim,
}

impl Tim {
    /// The timer whose registers start at `base`.
    ///
    /// # Safety
    ///
    /// `base` must be the base address of a TIM2..TIM5 register block that
    /// this task's MPU regions map (app.toml `uses`), and no other `Tim` for
    /// the same block may be used concurrently (this task is single-threaded,
    /// so one `Tim` per block suffices).
    pub const unsafe fn new(base: u32) -> Self {
        // Safety: `new`'s contract is `at`'s (a TIM block this task maps
        // and alone uses); the sequences below write only values RM0090
        // allows.
        Self { regs: unsafe { stm32_regs::tim::Tim::at(base) } }
    }

    /// The counter register as read.
    pub fn cnt(&self) -> u32 {
        self.regs.cnt().read()
    }

    /// Sets the counter (`CNT`) to `value`; it counts on from there.
    pub fn set_count(&self, value: u32) {
        self.regs.cnt().write(value);
    }

    /// The prescaler register as read.
    pub fn psc(&self) -> u32 {
        self.regs.psc().read()
    }

    /// True if the counter is enabled (`CR1.CEN`).
    pub fn running(&self) -> bool {
        self.regs.cr1().read() & cr1::CEN != 0
    }

    /// True if the update flag (`SR.UIF`) is set.
    pub fn update_pending(&self) -> bool {
        self.regs.sr().read() & sr::UIF != 0
    }

    /// Clears the update flag, leaving the other flags alone.
    pub fn clear_update(&self) {
        self.regs.sr().write(!sr::UIF);
    }

    /// Enables or masks the update interrupt.
    pub fn set_update_irq(&self, enabled: bool) {
        self.regs.dier().write(if enabled { dier::UIE } else { 0 });
    }

    /// Stops the counter: no update event (hence no interrupt) until the
    /// next [`Tim::start`]. Leaves `SR.UIF` as it is.
    pub fn stop(&self) {
        self.regs.cr1().write(cr1::URS);
    }

    /// Sets the prescaler to divide by `psc + 1` from the next start. On
    /// silicon `start` loads it with `EGR.UG`; on QEMU it takes effect now
    /// and must be followed by [`Tim::qemu_align`].
    pub fn set_prescaler(&self, psc: u16) {
        self.regs.psc().write(u32::from(psc));
    }

    /// Starts the counter so the first update comes `cycles` counts from now
    /// (at least 2), then every `cycles` counts (`Periodic`) or never again
    /// (`Oneshot`). Clears a stale update flag first.
    pub fn start(&self, model: Model, mode: Mode, cycles: u32) {
        self.stop();
        self.clear_update();
        match model {
            Model::Silicon => {
                // Update on the overflow after ARR: ARR + 1 counts. UG
                // restarts the counter at 0 and loads the prescaler; with
                // URS set it raises no update flag of its own.
                self.regs.arr().write(cycles.saturating_sub(1).max(1));
            }
            Model::Qemu => self.regs.arr().write(cycles.max(1)),
        }
        if model == Model::Silicon {
            self.regs.egr().write(egr::UG);
        }
        let opm = if mode == Mode::Oneshot { cr1::OPM } else { 0 };
        self.regs.cr1().write(cr1::URS | opm | cr1::CEN);
    }

    /// Starts a timer as a free-running 32-bit counter (the clocksource),
    /// counting at the timer clock, unless it already runs (the driver
    /// restarted: the count goes on). No interrupt.
    ///
    /// On QEMU only `ARR` and `CR1` are written, never `PSC`, `CNT` or `UG`:
    /// the counter then keeps the model's reset offset and reads the virtual
    /// time in ns (modulo 2^32), which [`Tim::qemu_align`] relies on.
    pub fn start_free_running(&self, model: Model) {
        if self.running() {
            return;
        }
        self.set_update_irq(false);
        if model == Model::Silicon {
            self.regs.psc().write(0);
        }
        self.regs.arr().write(u32::MAX);
        if model == Model::Silicon {
            self.regs.egr().write(egr::UG);
        }
        self.regs.cr1().write(cr1::CEN);
    }

    /// Slows a counter started by [`Tim::start_free_running`] to
    /// `timer clock / (psc + 1)`, once per power-on (a restarted driver finds
    /// the prescaler set and leaves the count alone). QEMU: the prescaler
    /// takes effect at once and the count is set to the old count scaled
    /// down, so it keeps reading time since boot (in the new unit).
    /// Silicon: the prescaler is preloaded; an update event applies it and
    /// restarts the count from 0.
    /// Returns whether it rescaled (false: already done this power-on).
    pub fn rescale_free_running(&self, model: Model, psc: u16) -> bool {
        if psc == 0 || self.psc() == u32::from(psc) {
            return false;
        }
        let before = self.cnt();
        self.regs.psc().write(u32::from(psc));
        match model {
            Model::Qemu => self.regs.cnt().write(before / (u32::from(psc) + 1)),
            Model::Silicon => self.regs.egr().write(egr::UG),
        }
        true
    }

    /// QEMU only: makes this timer's model offset zero, so that every period
    /// is exactly `ARR` ticks (see the module documentation), using
    /// `reference`, a timer started by [`Tim::start_free_running`] before
    /// anything wrote its `PSC`/`CNT`/`EGR` (its count is the virtual time
    /// in ns). `psc` is this timer's prescaler, already written.
    ///
    /// The offset is zero when `CNT` is written with `now / (psc + 1)` at the
    /// instant of the write. The reference is read just before; the result
    /// is checked by reading this `CNT` between two reference readings in
    /// the same tick, and the write retried otherwise. Returns the attempts
    /// used, or `None` if all `tries` failed (periods are then late by the
    /// residual offset; nothing else breaks).
    ///
    /// Valid while the virtual time is below 2^32 ns (4.29 s) — the driver
    /// calls it once per power-on, at boot — since the reference's count is
    /// 32 bits.
    pub fn qemu_align(&self, psc: u16, reference: &Tim, tries: u8) -> Option<u8> {
        let p = u32::from(psc) + 1;
        for attempt in 1..=tries {
            let now = reference.cnt();
            self.regs.cnt().write(now / p);
            let before = reference.cnt();
            let cnt = self.cnt();
            let after = reference.cnt();
            if before / p == after / p && cnt == before / p {
                return Some(attempt);
            }
        }
        None
    }
}
