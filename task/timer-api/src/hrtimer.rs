//! High-resolution timers (Linux's hrtimers): expiries in nanoseconds on
//! the clocksource's time line, beside the jiffies wheel.
//!
//! Why this module exists: a wheel timer is due at a jiffy (10 ms at HZ
//! 100); an [`HrTimer`] is due at a ktime, nanoseconds since boot, and the
//! timer server programs the clock event device for it. Use one when a
//! deadline must be finer than a jiffy (a sample every 250 µs, a protocol
//! timeout of 1.5 ms); use a wheel timer ([`crate::client::Timers`]) for
//! timeouts that are seldom reached, where a jiffy's rounding does not
//! matter and arming costs less.
//!
//! Units: every time is a [`Duration`]: an absolute expiry is the ktime
//! (time since boot, as `ktime_get` reads it) at which the timer is due;
//! a relative one, and a period, are lengths. The clocksource counts at
//! 1 MHz in the default apps, so expiries are rounded *up* to the next
//! microsecond: never early, at most one count plus the interrupt-to-owner
//! latency late (the bench's `hrtimer_accuracy` row).
//!
//! Edge cases:
//! - an expiry already past fires at once (on the server's next pass);
//! - a periodic timer is forwarded by whole periods (`hrtimer_forward`):
//!   its expiries stay on `first + k * period` however late it runs, and
//!   [`HrFired::count`] says how many passed since the last fetch;
//! - periods under 50 µs are refused (`BadPeriod`);
//! - in periodic tick mode (a tick hook registered) the server runs the
//!   device oneshot while hrtimers are armed, so they keep full
//!   resolution; only a periodic-only device serves them at tick
//!   resolution (never early, up to a tick late); [`resolution`] says
//!   which applies;
//! - a timer-server restart is followed: the next call (or the wait)
//!   sets the timer up on the new server and starts it again at its next
//!   expiry, on the same grid ([`HrTimer::recoveries`] counts it).

use crate::survive::{self, Recover};
use crate::time::Duration;
use crate::wire::{HrFired, TimerError};
use crate::Timer;
use userlib::TaskId;

/// How `hrtimer_start` reads its expiry (Linux's `HRTIMER_MODE_ABS`/`_REL`).
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum HrMode {
    /// The expiry is a ktime: time since boot.
    Abs,
    /// The expiry is that long after the server's ktime when it serves the
    /// call (one IPC: no read-then-arm race).
    Rel,
}

/// `hrtimer_resolution` (what Linux's `clock_getres` reports): how far
/// past its expiry, beyond the interrupt-to-owner latency, the server at
/// `server` may run an hrtimer now. One clocksource count (1 µs at 1 MHz)
/// on a tick device that can run oneshot, tickless or not; the tick period
/// on a periodic-only device: hrtimers then run from the tick, never early
/// but up to a tick late.
pub fn resolution(server: TaskId) -> Duration {
    Duration::from_nanos(Timer::from(server).hrtimer_resolution())
}

/// One high-resolution timer of the calling task; its expiries post
/// notification bit `bit`.
///
/// It outlives a timer-server restart as [`crate::client::Timers`] does:
/// it remembers its next expiry and period, and when a call comes back
/// `ServerDied` (or [`HrTimer::wait`]'s closed receive is ended by the
/// kernel) it sets itself up on the new server and starts again at that
/// absolute expiry, on the same grid. An expiry the old server ran but the
/// task had not fetched is run again by the new one (it is then in the
/// past, so it fires at once): none is lost.
pub struct HrTimer {
    server: Timer,
    /// The server incarnation `handle` belongs to.
    epoch: TaskId,
    handle: u64,
    bit: u8,
    /// While armed: the next expiry not yet fetched (ktime ns) and the
    /// period (0: one-shot).
    armed: Option<(u64, u64)>,
    /// Times it set itself up again after a server restart.
    pub recoveries: u32,
}

impl HrTimer {
    /// Sets up an hrtimer posting bit `notification` (0..32). Errors:
    /// `BadNotification`, `PoolExhausted`, `QuotaExceeded` (the server's
    /// `hrtimer-pool` and `hrtimer-quota` in app.toml).
    pub fn setup(server: TaskId, notification: u8) -> Result<Self, TimerError> {
        let mut hr = HrTimer { server: Timer::from(server), epoch: server, handle: 0, bit: notification, armed: None, recoveries: 0 };
        hr.handle = hr.retry(|h| h.server.hrtimer_setup(notification))?;
        Ok(hr)
    }

    /// Its notification mask.
    pub fn mask(&self) -> u32 {
        1u32.checked_shl(u32::from(self.bit)).unwrap_or(0)
    }

    /// `hrtimer_start`: one-shot at `expires` (a ktime, or a length from
    /// now: `mode`). Replaces an earlier start. Returns the absolute expiry.
    pub fn start(&mut self, expires: Duration, mode: HrMode) -> Result<Duration, TimerError> {
        self.start_periodic(expires, mode, Duration::ZERO)
    }

    /// `hrtimer_start(t, d, HRTIMER_MODE_REL)`: one-shot, `d` from now.
    pub fn start_after(&mut self, d: Duration) -> Result<Duration, TimerError> {
        self.start(d, HrMode::Rel)
    }

    /// First at `first` (as [`HrTimer::start`]), then every `period` on the
    /// same grid (`hrtimer_forward`: no drift). `period` zero is one-shot;
    /// under 50 µs is `BadPeriod`.
    pub fn start_periodic(&mut self, first: Duration, mode: HrMode, period: Duration) -> Result<Duration, TimerError> {
        let (ns, period) = (first.as_nanos(), period.as_nanos());
        let at = self.retry(|h| h.server.hrtimer_start(h.handle, ns, period, mode == HrMode::Rel))?;
        self.armed = Some((at, period));
        Ok(Duration::from_nanos(at))
    }

    /// `hrtimer_cancel`: disarms it; no expiry of the cancelled start is
    /// reported afterwards. Returns whether it was armed.
    pub fn cancel(&mut self) -> Result<bool, TimerError> {
        let was = self.retry(|h| h.server.hrtimer_cancel(h.handle))?;
        self.armed = None;
        Ok(was)
    }

    /// `hrtimer_get_remaining`: ns until the next expiry, negative if due
    /// and not yet run; `None` if not armed.
    pub fn remaining(&mut self) -> Result<Option<i64>, TimerError> {
        match self.retry(|h| h.server.hrtimer_get_remaining(h.handle)) {
            Ok(ns) => Ok(Some(ns)),
            Err(TimerError::Inactive) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What happened since the last fetch: expiries (missed periods
    /// included), the latest due time (ktime ns), whether still armed.
    pub fn fetch(&mut self) -> Result<HrFired, TimerError> {
        let f = self.retry(|h| h.server.hrtimer_fetch(h.handle))?;
        if f.count != 0 {
            self.armed = match self.armed {
                Some((_, period)) if f.active != 0 && period != 0 => Some((f.expires.saturating_add(period), period)),
                _ => None,
            };
        }
        Ok(f)
    }

    /// Blocks until its bit arrives, then fetches. Other notification
    /// bits are not consumed. The receive is closed to the timer server:
    /// if the server restarts meanwhile, the timer sets itself up again on
    /// the new one and goes on waiting.
    pub fn wait(&mut self) -> Result<HrFired, TimerError> {
        survive::wait(self, self.mask())?;
        self.fetch()
    }

    /// Asks the kernel (a syscall, no IPC) whether the timer server
    /// restarted since this timer last spoke to it; if so, sets it up
    /// again and restarts it at its next expiry. Returns whether it did.
    /// For a task that waits in its own open receive, which a restart
    /// does not end.
    pub fn check_server(&mut self) -> Result<bool, TimerError> {
        survive::check_server(self)
    }

    /// Releases it (the server forgets it; errors of a restarted server
    /// are ignored, it has forgotten already).
    pub fn free(self) -> Result<(), TimerError> {
        match self.server.hrtimer_free(self.handle) {
            Ok(()) | Err(TimerError::ServerDied) | Err(TimerError::StaleHandle) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Runs `op`; on `ServerDied` sets the timer up again and retries once.
    fn retry<T>(&mut self, op: impl FnMut(&mut Self) -> Result<T, TimerError>) -> Result<T, TimerError> {
        survive::retry(self, op)
    }
}

impl Recover for HrTimer {
    fn server(&self) -> &Timer {
        &self.server
    }

    fn set_server(&mut self, server: Timer) {
        self.server = server;
    }

    fn epoch(&self) -> TaskId {
        self.epoch
    }

    /// A new handle on the current incarnation, started again at the next
    /// expiry not yet fetched (absolute, so the grid is kept).
    fn recover(&mut self) -> Result<(), TimerError> {
        self.recoveries += 1;
        self.epoch = self.server.task_id();
        self.handle = self.server.hrtimer_setup(self.bit)?;
        if let Some((at, period)) = self.armed {
            self.server.hrtimer_start(self.handle, at, period, false)?;
        }
        Ok(())
    }
}
