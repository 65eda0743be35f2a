//! High-resolution timers (Linux's kernel/time/hrtimer.c) for this server:
//! the IPC operations over the `timer_tick::HrTimers` queue, and running
//! the queue when the tick device fires.
//!
//! Why this module exists: the wheel works in jiffies; hrtimers expire on
//! the clocksource's ktime line (ns since boot) and need the device
//! programmed for them. The queue itself (order, forwarding, ownership,
//! quotas) is the host-tested `timer_tick::hrtimer`; this file is its
//! glue: ownership of requests, reading ktime, and when to reprogram.
//!
//! How the device serves them: in oneshot (tickless) mode the device is
//! programmed for the earlier of the first hrtimer and the wheel's next
//! event (`clockevents_program_event`, in [`crate::tick_sched`]); each
//! wake-up catches jiffies up and runs the hrtimers due, from one
//! clocksource read. In periodic mode (a hook needs every tick, or the
//! `periodic-only` build) a device that can run oneshot is run oneshot
//! while an hrtimer is armed, as Linux's high-resolution mode does: every
//! tick boundary is programmed like an hrtimer (`tick_sched_timer`), each
//! event for the earlier of the next boundary and the first hrtimer
//! ([`crate::tick_common`]), and the hardware periodic tick comes back at
//! the first boundary with none armed. Only a periodic-only device leaves
//! hrtimers at tick resolution (Linux's low-resolution mode): each tick
//! runs those due, never early but up to a tick late.
//! `hrtimer_resolution` says which applies.
//!
//! Guarantees: never early (the device is programmed for the first
//! clocksource count at or after the expiry: `ns_to_cycles_ceil`); every
//! handle is checked for its owner and generation; `hrtimer-quota` per task
//! and `hrtimer-pool` in all (app.toml); periods under [`MIN_PERIOD_NS`]
//! are refused, so no client can keep the server busy expiring.

use crate::clockevents::Mode;
use crate::{config, Server, OWNERS};
use timer_api::{HrFired, TimerError};
use timer_tick::{HrError, HrTimers, Target};
use userlib::RecvMessage;

/// hrtimers in the pool (app.toml `config.hrtimer-pool`).
pub const HR_POOL: usize = config::HRTIMER_POOL as usize;
/// hrtimers one task may hold (app.toml `config.hrtimer-quota`).
const HR_QUOTA: u16 = config::HRTIMER_QUOTA as u16;
/// The shortest period, in ns (20 kHz): shorter would let one client keep
/// the server expiring timers instead of serving.
pub const MIN_PERIOD_NS: u64 = 50_000;

/// The queue as this server sizes it.
pub type Hr = HrTimers<HR_POOL, OWNERS>;

/// The queue's storage (kept out of the stack; in `.bss`, initialised by
/// [`init`], so no flash copy and nothing an archive-only inspector would
/// have to read from RAM).
static mut HR: core::mem::MaybeUninit<Hr> = core::mem::MaybeUninit::uninit();

/// The queue, empty, with this image's quota and minimum period.
///
/// # Safety
/// Call once (main does, before serving): the reference is the only one
/// ever made to the storage.
pub unsafe fn init() -> &'static mut Hr {
    // Safety: the caller's contract: the only reference to HR.
    unsafe { (*(&raw mut HR)).write(HrTimers::new(HR_QUOTA, MIN_PERIOD_NS)) }
}

/// The wire error for a queue error.
fn hr_err(e: HrError) -> TimerError {
    match e {
        HrError::Stale => TimerError::StaleHandle,
        HrError::NotOwner => TimerError::NotOwner,
        HrError::PoolExhausted => TimerError::PoolExhausted,
        HrError::QuotaExceeded => TimerError::QuotaExceeded,
        HrError::BadPeriod => TimerError::BadPeriod,
    }
}

impl Server {
    /// ktime now, ns since boot (a read of the counter window, or one IPC
    /// to the clockevent driver).
    pub(crate) fn ktime_now(&mut self) -> Result<u64, TimerError> {
        self.clocksource.ktime_ns(&self.driver).map_err(|_| TimerError::Unsupported)
    }

    /// `hrtimer_setup` (the IPC op).
    pub(crate) fn hr_setup(&mut self, msg: &RecvMessage, notification: u8) -> Result<u64, TimerError> {
        self.note_client(msg.sender)?;
        if notification >= 32 {
            return Err(TimerError::BadNotification);
        }
        self.hr.setup(Target { task: msg.sender.0, bit: notification }).map_err(hr_err)
    }

    /// `hrtimer_start`: arm at `expires_ns` (after now if `relative`), every
    /// `period_ns` if non-zero; reprograms the device if this is now the
    /// first event. Returns the absolute expiry.
    pub(crate) fn hr_start(
        &mut self,
        msg: &RecvMessage,
        handle: u64,
        expires_ns: u64,
        period_ns: u64,
        relative: bool,
    ) -> Result<u64, TimerError> {
        let me = self.note_client(msg.sender)?;
        let expires = if relative { self.ktime_now()?.saturating_add(expires_ns) } else { expires_ns };
        self.hr.start(handle, me, expires, period_ns).map_err(hr_err)?;
        match self.tick_dev.mode {
            Mode::Oneshot if self.tick_dev.hr_programmed.is_none_or(|p| expires < p) => self.program_next(),
            Mode::Oneshot => {}
            Mode::Periodic { .. } => self.hres_start(expires),
        }
        Ok(expires)
    }

    /// `hrtimer_cancel`: whether it was armed. The device stays programmed
    /// (a wake-up with nothing due just reprograms).
    pub(crate) fn hr_cancel(&mut self, msg: &RecvMessage, handle: u64) -> Result<bool, TimerError> {
        let me = self.note_client(msg.sender)?;
        self.hr.cancel(handle, me).map_err(hr_err)
    }

    /// `hrtimer_get_remaining`, in ns; `Inactive` if not armed.
    pub(crate) fn hr_remaining(&mut self, msg: &RecvMessage, handle: u64) -> Result<i64, TimerError> {
        let me = self.note_client(msg.sender)?;
        // The handle is checked before the clocksource is read.
        self.hr.remaining(handle, me, 0).map_err(hr_err)?;
        let now = self.ktime_now()?;
        self.hr.remaining(handle, me, now).map_err(hr_err)?.ok_or(TimerError::Inactive)
    }

    /// `hrtimer_fetch`: expiries since the last fetch.
    pub(crate) fn hr_fetch(&mut self, msg: &RecvMessage, handle: u64) -> Result<HrFired, TimerError> {
        let me = self.note_client(msg.sender)?;
        let f = self.hr.fetch(handle, me).map_err(hr_err)?;
        Ok(HrFired { expires: f.expires, count: f.count, active: f.active as u32 })
    }

    /// `hrtimer_free`.
    pub(crate) fn hr_free(&mut self, msg: &RecvMessage, handle: u64) -> Result<(), TimerError> {
        let me = self.note_client(msg.sender)?;
        self.hr.free(handle, me).map_err(hr_err)
    }

    /// `hrtimer_resolution`, ns: one clocksource count when the device is
    /// programmed for hrtimers (oneshot mode, or periodic mode run oneshot:
    /// [`Server::hres_start`]), else the tick period (see the module doc).
    pub(crate) fn hr_resolution(&self) -> u64 {
        match self.tick_dev.mode {
            Mode::Periodic { multiplier } if !self.tick_dev.can_oneshot() => self.tick_dev.period_ns(multiplier),
            _ => self.clocksource.ns_per_count(),
        }
    }

    /// Periodic mode: runs the hrtimers due by now (one clocksource read,
    /// only when one is armed) and delivers. False if the clocksource
    /// could not be read.
    #[inline(never)]
    pub(crate) fn hr_run_periodic(&mut self) -> bool {
        let Ok(now) = self.ktime_now() else { return false };
        self.hr.run(now, self.path.posts());
        self.deliver();
        true
    }
}
