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
//! - in periodic tick mode (a tick hook registered, or a periodic-only
//!   device) hrtimers are served at tick resolution: still never early,
//!   up to a tick late; [`resolution`] says which applies now;
//! - after a timer-server restart the handle is stale (`ServerDied`, then
//!   `StaleHandle`): set the timer up again.

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
/// while it runs tickless; the tick period while it ticks periodically (a
/// tick hook registered, or a periodic-only device): hrtimers then run from
/// the tick, never early but up to a tick late.
pub fn resolution(server: TaskId) -> Duration {
    Duration::from_nanos(Timer::from(server).hrtimer_resolution())
}

/// One high-resolution timer of the calling task; its expiries post
/// notification bit `bit`.
pub struct HrTimer {
    server: Timer,
    handle: u64,
    bit: u8,
}

impl HrTimer {
    /// Sets up an hrtimer posting bit `notification` (0..32). Errors:
    /// `BadNotification`, `PoolExhausted`, `QuotaExceeded` (the server's
    /// `hrtimer-pool` and `hrtimer-quota` in app.toml).
    pub fn setup(server: TaskId, notification: u8) -> Result<Self, TimerError> {
        let server = Timer::from(server);
        let handle = server.hrtimer_setup(notification)?;
        Ok(HrTimer { server, handle, bit: notification })
    }

    /// Its notification mask.
    pub fn mask(&self) -> u32 {
        1u32.checked_shl(u32::from(self.bit)).unwrap_or(0)
    }

    /// `hrtimer_start`: one-shot at `expires` (a ktime, or a length from
    /// now: `mode`). Replaces an earlier start. Returns the absolute expiry.
    pub fn start(&self, expires: Duration, mode: HrMode) -> Result<Duration, TimerError> {
        self.start_periodic(expires, mode, Duration::ZERO)
    }

    /// `hrtimer_start(t, d, HRTIMER_MODE_REL)`: one-shot, `d` from now.
    pub fn start_after(&self, d: Duration) -> Result<Duration, TimerError> {
        self.start(d, HrMode::Rel)
    }

    /// First at `first` (as [`HrTimer::start`]), then every `period` on the
    /// same grid (`hrtimer_forward`: no drift). `period` zero is one-shot;
    /// under 50 µs is `BadPeriod`.
    pub fn start_periodic(&self, first: Duration, mode: HrMode, period: Duration) -> Result<Duration, TimerError> {
        let at = self.server.hrtimer_start(self.handle, first.as_nanos(), period.as_nanos(), mode == HrMode::Rel)?;
        Ok(Duration::from_nanos(at))
    }

    /// `hrtimer_cancel`: disarms it; no expiry of the cancelled start is
    /// reported afterwards. Returns whether it was armed.
    pub fn cancel(&self) -> Result<bool, TimerError> {
        self.server.hrtimer_cancel(self.handle)
    }

    /// `hrtimer_get_remaining`: ns until the next expiry, negative if due
    /// and not yet run; `None` if not armed.
    pub fn remaining(&self) -> Result<Option<i64>, TimerError> {
        match self.server.hrtimer_get_remaining(self.handle) {
            Ok(ns) => Ok(Some(ns)),
            Err(TimerError::Inactive) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What happened since the last fetch: expiries (missed periods
    /// included), the latest due time (ktime ns), whether still armed.
    pub fn fetch(&self) -> Result<HrFired, TimerError> {
        self.server.hrtimer_fetch(self.handle)
    }

    /// Blocks until its bit arrives, then fetches. Other notification
    /// bits are not consumed.
    pub fn wait(&self) -> Result<HrFired, TimerError> {
        userlib::sys_recv_notification(self.mask());
        self.fetch()
    }

    /// Releases it (the server forgets it; errors of a restarted server
    /// are ignored, it has forgotten already).
    pub fn free(self) -> Result<(), TimerError> {
        match self.server.hrtimer_free(self.handle) {
            Ok(()) | Err(TimerError::ServerDied) | Err(TimerError::StaleHandle) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
