//! The IPC operations: the timer interface (`idl/timer.idol`) as the
//! generated dispatch calls it. Linux's timer API (`add_timer`,
//! `mod_timer`, `del_timer`, `timer_pending`), plus what a task boundary
//! needs: `setup`/`free` for the pool, `fetch_fired` for the expiries the
//! notification bit announced, `jiffies`, `ktime_get`, `hz`, `stats`, and
//! relative arming in one call (`add_timer_after`, `mod_timer_after`:
//! read-then-arm would be two calls and race). The hook operations are in
//! [`crate::grab`], the hrtimer ones in [`crate::hrtimer`].
//!
//! Each op checks its caller once ([`Server::note_client`]) and its
//! handle once (`owned_timer`), then works on the core directly: arming
//! never talks to the clockevent driver unless, in oneshot mode, the new
//! expiry comes before the programmed event.

use crate::clients::owned_timer;
use crate::rearm::slacked;
use crate::clockevents::Mode;
use crate::{config, idl, Server};
use idol_runtime::{Leased, RequestError, W};
use timer_api::wire::{FIRED_RECORD_BYTES, MODE_ONESHOT, MODE_PERIODIC};
use timer_api::{Armed, ArmedAt, Fetched, FiredRecord, HrFired, Stats, TimerError};
use timer_core::{HookError, Owner, TimerKind};
use timer_tick::{Target, TimerToken};
use userlib::RecvMessage;
use zerocopy::IntoBytes;

/// The wire error for a core error.
pub(crate) fn core_err(e: timer_core::TimerError) -> TimerError {
    match e {
        timer_core::TimerError::StaleHandle => TimerError::StaleHandle,
        timer_core::TimerError::AlreadyPending => TimerError::AlreadyPending,
        timer_core::TimerError::PoolExhausted => TimerError::PoolExhausted,
        timer_core::TimerError::QuotaExceeded => TimerError::QuotaExceeded,
        timer_core::TimerError::TooManyOwners => TimerError::TooManyOwners,
    }
}

/// The wire error for a hook chain error.
pub(crate) fn hook_err(e: HookError) -> TimerError {
    match e {
        HookError::Full => TimerError::HookTableFull,
        HookError::Stale => TimerError::StaleHandle,
        HookError::Busy => TimerError::Busy,
        HookError::NotGrabber => TimerError::NotGrabber,
        HookError::Quota => TimerError::HookQuota,
        HookError::NotPermitted => TimerError::NotPermitted,
    }
}

impl idl::InOrderTimerImpl for Server {
    fn setup(
        &mut self,
        msg: &RecvMessage,
        notification: u8,
        token: u32,
        period: u32,
        slack: i32,
        deferrable: bool,
    ) -> Result<u64, RequestError<TimerError>> {
        let me = self.note_client(msg.sender)?;
        if notification >= 32 {
            return Err(TimerError::BadNotification.into());
        }
        let target = Target { task: msg.sender.0, bit: notification };
        let tok = TimerToken::new(target, slack, token).ok_or(TimerError::BadNotification)?;
        let kind = if deferrable { TimerKind::Deferrable } else { TimerKind::Normal };
        let wheel = self.path.core_mut().wheel_mut();
        let h = wheel.alloc(Owner(me as u16), tok, kind, config::QUOTA as u16).map_err(core_err)?;
        if period != 0 {
            wheel.set_period(h, period).map_err(core_err)?;
        }
        Ok(h.to_bits())
    }

    fn add_timer(&mut self, msg: &RecvMessage, handle: u64, expires: u64) -> Result<u32, RequestError<TimerError>> {
        let me = self.note_client(msg.sender)?;
        let core = self.path.core_mut();
        let now = core.jiffies();
        let t = owned_timer(core, me, handle)?;
        let expires = slacked(expires, now, t.token());
        let i = t.index();
        t.add(expires).map_err(core_err)?;
        let seq = self.path.fired_mut().rearm(i, me);
        self.armed(expires.0, handle);
        Ok(seq)
    }

    fn mod_timer(&mut self, msg: &RecvMessage, handle: u64, expires: u64) -> Result<Armed, RequestError<TimerError>> {
        let me = self.note_client(msg.sender)?;
        let core = self.path.core_mut();
        let now = core.jiffies();
        let t = owned_timer(core, me, handle)?;
        let expires = slacked(expires, now, t.token());
        let i = t.index();
        let was = t.modify(expires);
        let seq = self.path.fired_mut().rearm(i, me);
        self.armed(expires.0, handle);
        Ok(Armed { seq, was_pending: was as u32 })
    }

    fn del_timer(&mut self, msg: &RecvMessage, handle: u64) -> Result<bool, RequestError<TimerError>> {
        let me = self.note_client(msg.sender)?;
        let t = owned_timer(self.path.core_mut(), me, handle)?;
        let i = t.index();
        let was = t.del();
        self.path.fired_mut().remove(i, me);
        Ok(was)
    }

    fn timer_pending(&mut self, msg: &RecvMessage, handle: u64) -> Result<bool, RequestError<TimerError>> {
        let me = self.note_client(msg.sender)?;
        Ok(owned_timer(self.path.core_mut(), me, handle)?.pending())
    }

    fn free(&mut self, msg: &RecvMessage, handle: u64) -> Result<(), RequestError<TimerError>> {
        let me = self.note_client(msg.sender)?;
        let t = owned_timer(self.path.core_mut(), me, handle)?;
        let i = t.index();
        t.free();
        self.path.fired_mut().remove(i, me);
        Ok(())
    }

    fn fetch_fired(&mut self, msg: &RecvMessage, out: Leased<W, [u8]>) -> Result<Fetched, RequestError<TimerError>> {
        let me = self.note_client(msg.sender)?;
        let fired = self.path.fired_mut();
        let room = out.len() / FIRED_RECORD_BYTES;
        let mut count = 0;
        while count < room {
            let Some(r) = fired.pop(me) else { break };
            let rec = FiredRecord { handle: r.handle, expires: r.expires, fired_at: r.fired_at, token: r.token, seq: r.seq };
            if out.write_at(count * FIRED_RECORD_BYTES, rec.as_bytes()).is_err() {
                // The client went away mid-call: nobody to answer.
                return Err(RequestError::WentAway);
            }
            count += 1;
        }
        Ok(Fetched { count: count as u32, remaining: fired.len(me) as u32 })
    }

    fn jiffies(&mut self, _msg: &RecvMessage) -> Result<u64, RequestError<core::convert::Infallible>> {
        self.catch_up();
        Ok(self.path.core().jiffies().0)
    }

    fn ktime_get(&mut self, _msg: &RecvMessage) -> Result<u64, RequestError<TimerError>> {
        self.clocksource.ktime_ns(&self.driver).map_err(|_| TimerError::Unsupported.into())
    }

    fn hz(&mut self, _msg: &RecvMessage) -> Result<u32, RequestError<core::convert::Infallible>> {
        Ok(self.path.core().hz().get())
    }

    #[inline(never)] // cold: see add_timer_after
    fn hook_register(&mut self, msg: &RecvMessage, notification: u8, run_always: bool) -> Result<u16, RequestError<TimerError>> {
        Ok(self.register_hook(msg, notification, run_always)?)
    }

    #[inline(never)] // cold: see add_timer_after
    fn hook_unregister(&mut self, msg: &RecvMessage, hook: u16) -> Result<(), RequestError<TimerError>> {
        Ok(self.unregister_hook(msg, hook)?)
    }

    #[inline(never)] // cold: see add_timer_after
    fn hook_grab(&mut self, msg: &RecvMessage, hook: u16) -> Result<(), RequestError<TimerError>> {
        Ok(self.grab(msg, hook)?)
    }

    #[inline(never)] // cold: see add_timer_after
    fn hook_ungrab(&mut self, msg: &RecvMessage, hook: u16) -> Result<(), RequestError<TimerError>> {
        Ok(self.ungrab(msg, hook)?)
    }

    fn hook_answer(&mut self, msg: &RecvMessage, hook: u16, done: bool) -> Result<(), RequestError<TimerError>> {
        Ok(self.answer(msg, hook, done)?)
    }

    #[inline(never)] // cold: see add_timer_after
    fn hook_set_rate(&mut self, msg: &RecvMessage, hook: u16, multiplier: u8) -> Result<(), RequestError<TimerError>> {
        Ok(self.set_rate(msg, hook, multiplier)?)
    }

    #[inline(never)] // cold: see add_timer_after
    fn hook_chain(&mut self, _msg: &RecvMessage, out: Leased<W, [u8]>) -> Result<u32, RequestError<TimerError>> {
        self.list_hooks(out)
    }

    #[inline(never)] // cold: see add_timer_after
    fn stats(&mut self, _msg: &RecvMessage) -> Result<Stats, RequestError<core::convert::Infallible>> {
        self.catch_up();
        let (mode, multiplier) = match self.tick_dev.mode {
            Mode::Periodic { multiplier } => (MODE_PERIODIC, multiplier as u32),
            Mode::Oneshot => (MODE_ONESHOT, 0),
        };
        let core = self.path.core();
        Ok(Stats {
            interrupts: self.tick_dev.interrupts,
            device: self.tick_dev.dev as u32,
            mode,
            multiplier,
            timers_allocated: core.wheel().allocated() as u32,
            timers_pending: core.wheel().pending_count() as u32,
            hooks: core.hooks().client_hooks() as u32,
            grabber_silent: self.path.grabber_silent(),
            owners_forgotten: self.path.owners_forgotten(),
            start_jiffies_low: self.start_jiffies as u32,
        })
    }

    // The ops from here on are #[inline(never)]: kept out of the generated
    // dispatch, so that it stays small enough to be inlined into main with
    // the hot ops (add/mod/del, fetch_fired) inside it.
    #[inline(never)]
    fn add_timer_after(&mut self, msg: &RecvMessage, handle: u64, ticks: u64) -> Result<ArmedAt, RequestError<TimerError>> {
        Ok(self.arm_after(msg, handle, ticks, false)?)
    }

    #[inline(never)]
    fn mod_timer_after(&mut self, msg: &RecvMessage, handle: u64, ticks: u64) -> Result<ArmedAt, RequestError<TimerError>> {
        Ok(self.arm_after(msg, handle, ticks, true)?)
    }

    #[inline(never)]
    fn mod_timer_pending(&mut self, msg: &RecvMessage, handle: u64, expires: u64) -> Result<Armed, RequestError<TimerError>> {
        Ok(self.rearm_pending(msg, handle, expires)?)
    }

    #[inline(never)]
    fn timer_set_period(&mut self, msg: &RecvMessage, handle: u64, period: u32) -> Result<(), RequestError<TimerError>> {
        Ok(self.set_period(msg, handle, period)?)
    }

    #[inline(never)]
    fn timer_set_slack(&mut self, msg: &RecvMessage, handle: u64, slack: i32) -> Result<(), RequestError<TimerError>> {
        Ok(self.set_slack(msg, handle, slack)?)
    }

    #[inline(never)]
    fn timer_expires(&mut self, msg: &RecvMessage, handle: u64) -> Result<u64, RequestError<TimerError>> {
        Ok(self.expires_of(msg, handle)?)
    }

    #[inline(never)]
    fn hrtimer_setup(&mut self, msg: &RecvMessage, notification: u8) -> Result<u64, RequestError<TimerError>> {
        Ok(self.hr_setup(msg, notification)?)
    }

    #[inline(never)]
    fn hrtimer_start(
        &mut self,
        msg: &RecvMessage,
        handle: u64,
        expires_ns: u64,
        period_ns: u64,
        relative: bool,
    ) -> Result<u64, RequestError<TimerError>> {
        Ok(self.hr_start(msg, handle, expires_ns, period_ns, relative)?)
    }

    #[inline(never)]
    fn hrtimer_cancel(&mut self, msg: &RecvMessage, handle: u64) -> Result<bool, RequestError<TimerError>> {
        Ok(self.hr_cancel(msg, handle)?)
    }

    #[inline(never)]
    fn hrtimer_get_remaining(&mut self, msg: &RecvMessage, handle: u64) -> Result<i64, RequestError<TimerError>> {
        Ok(self.hr_remaining(msg, handle)?)
    }

    #[inline(never)]
    fn hrtimer_fetch(&mut self, msg: &RecvMessage, handle: u64) -> Result<HrFired, RequestError<TimerError>> {
        Ok(self.hr_fetch(msg, handle)?)
    }

    #[inline(never)]
    fn hrtimer_free(&mut self, msg: &RecvMessage, handle: u64) -> Result<(), RequestError<TimerError>> {
        Ok(self.hr_free(msg, handle)?)
    }

    #[inline(never)]
    fn hrtimer_resolution(&mut self, _msg: &RecvMessage) -> Result<u64, RequestError<core::convert::Infallible>> {
        Ok(self.hr_resolution())
    }

    #[inline(never)] // cold: see add_timer_after
    fn debug_crash(&mut self, _msg: &RecvMessage) -> Result<(), RequestError<TimerError>> {
        if cfg!(feature = "test-ops") {
            userlib::sys_panic(b"debug_crash: faulting on purpose (test-ops)")
        }
        Err(TimerError::Unsupported.into())
    }
}
