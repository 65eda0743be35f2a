//! The registers of one STM32F4 general-purpose timer (TIM2..TIM5), and the
//! few sequences the driver runs on them, written to be right on silicon
//! (RM0090 chapter 18) and on QEMU 7.2's `stm32f2xx_timer` model.
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

/// Control register 1.
const CR1: u32 = 0x00;
/// DMA/interrupt enable register.
const DIER: u32 = 0x0C;
/// Status register (flags are cleared by writing 0; 1s are ignored).
const SR: u32 = 0x10;
/// Event generation register.
const EGR: u32 = 0x14;
/// Counter.
const CNT: u32 = 0x24;
/// Prescaler: the counter clock is the timer clock / (PSC + 1).
const PSC: u32 = 0x28;
/// Auto-reload register.
const ARR: u32 = 0x2C;

/// CR1: counter enable.
const CR1_CEN: u32 = 1 << 0;
/// CR1: update request source: only overflow raises UIF, not `EGR.UG`.
const CR1_URS: u32 = 1 << 2;
/// CR1: one-pulse mode: the counter stops (CEN cleared) at the update.
const CR1_OPM: u32 = 1 << 3;
/// DIER: update interrupt enable.
const DIER_UIE: u32 = 1 << 0;
/// SR: update interrupt flag.
const SR_UIF: u32 = 1 << 0;
/// EGR: update generation: reloads the counter and the prescaler.
const EGR_UG: u32 = 1 << 0;

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

/// One timer's register block.
pub struct Tim {
    base: u32,
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
        Self { base }
    }

    fn read(&self, offset: u32) -> u32 {
        // Safety: `new`'s contract makes `base + offset` (an offset inside
        // the 1 KiB block) a mapped, 4-byte aligned timer register; volatile
        // because the hardware changes it.
        unsafe { core::ptr::read_volatile((self.base + offset) as *const u32) }
    }

    fn write(&self, offset: u32, value: u32) {
        // Safety: as in `read`; writes to timer registers touch no memory.
        unsafe { core::ptr::write_volatile((self.base + offset) as *mut u32, value) }
    }

    /// The counter register as read.
    pub fn cnt(&self) -> u32 {
        self.read(CNT)
    }

    /// The prescaler register as read.
    pub fn psc(&self) -> u32 {
        self.read(PSC)
    }

    /// True if the counter is enabled (`CR1.CEN`).
    pub fn running(&self) -> bool {
        self.read(CR1) & CR1_CEN != 0
    }

    /// True if the update flag (`SR.UIF`) is set.
    pub fn update_pending(&self) -> bool {
        self.read(SR) & SR_UIF != 0
    }

    /// Clears the update flag, leaving the other flags alone.
    pub fn clear_update(&self) {
        self.write(SR, !SR_UIF);
    }

    /// Enables or masks the update interrupt.
    pub fn set_update_irq(&self, enabled: bool) {
        self.write(DIER, if enabled { DIER_UIE } else { 0 });
    }

    /// Stops the counter: no update event (hence no interrupt) until the
    /// next [`Tim::start`]. Leaves `SR.UIF` as it is.
    pub fn stop(&self) {
        self.write(CR1, CR1_URS);
    }

    /// Sets the prescaler to divide by `psc + 1` from the next start. On
    /// silicon `start` loads it with `EGR.UG`; on QEMU it takes effect now
    /// and must be followed by [`Tim::qemu_align`].
    pub fn set_prescaler(&self, psc: u16) {
        self.write(PSC, u32::from(psc));
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
                self.write(ARR, cycles.saturating_sub(1).max(1));
            }
            Model::Qemu => self.write(ARR, cycles.max(1)),
        }
        if model == Model::Silicon {
            self.write(EGR, EGR_UG);
        }
        let opm = if mode == Mode::Oneshot { CR1_OPM } else { 0 };
        self.write(CR1, CR1_URS | opm | CR1_CEN);
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
            self.write(PSC, 0);
        }
        self.write(ARR, u32::MAX);
        if model == Model::Silicon {
            self.write(EGR, EGR_UG);
        }
        self.write(CR1, CR1_CEN);
    }

    /// Slows a counter started by [`Tim::start_free_running`] to
    /// `timer clock / (psc + 1)`, once per power-on (a restarted driver finds
    /// the prescaler set and leaves the count alone). QEMU: the prescaler
    /// takes effect at once and the count is set to the old count scaled
    /// down, so it keeps reading time since boot (in the new unit).
    /// Silicon: the prescaler is preloaded; an update event applies it and
    /// restarts the count from 0.
    pub fn rescale_free_running(&self, model: Model, psc: u16) {
        if psc == 0 || self.psc() == u32::from(psc) {
            return;
        }
        let before = self.cnt();
        self.write(PSC, u32::from(psc));
        match model {
            Model::Qemu => self.write(CNT, before / (u32::from(psc) + 1)),
            Model::Silicon => self.write(EGR, EGR_UG),
        }
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
            self.write(CNT, now / p);
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
