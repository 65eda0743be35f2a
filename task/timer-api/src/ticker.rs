//! A periodic ticker: one periodic timer, re-armed by the server at
//! `expires + period` (no drift), and a blocking `wait` for each tick.
//!
//! Ticks are on jiffy boundaries: a tick "`period` jiffies from now" is at
//! jiffy `jiffies() + period`, so the first period after [`Ticker::start`]
//! or [`Ticker::reset`] may be up to one jiffy short of `period` (the call
//! came somewhere inside the current jiffy); every later period is exactly
//! `period` jiffies. Use `sleep_for` if a first wait must not be short.

use crate::client::{Id, Spec, Timers};
use crate::wire::{FiredRecord, TimerError};

/// Fires every `period` jiffies.
pub struct Ticker {
    id: Id,
    period: u32,
}

impl Ticker {
    /// Starts a ticker in set `t` posting bit `notification`; the first
    /// tick is at jiffy `jiffies() + period`. `period` must be at least 1.
    pub fn start<const N: usize>(t: &mut Timers<N>, notification: u8, period: u32) -> Result<Self, TimerError> {
        let id = t.setup(Spec { period, ..Spec::oneshot(notification) })?;
        // One IPC: the server adds `period` to its own jiffies.
        t.add_after(id, period as u64)?;
        Ok(Ticker { id, period })
    }

    /// Restarts the schedule from now (embassy's `Ticker::reset`, Linux's
    /// `mod_timer(t, jiffies + period)` on a periodic timer): the next tick
    /// is at jiffy `jiffies() + period`, then every `period` after it. A
    /// tick that fired but was not yet taken with [`Ticker::wait`] is
    /// dropped (it belonged to the old schedule).
    pub fn reset<const N: usize>(&self, t: &mut Timers<N>) -> Result<(), TimerError> {
        t.modify_after(self.id, self.period as u64).map(|_| ())
    }

    /// Restarts the schedule with the next tick at absolute jiffy `next`
    /// (then every `period`). Drops an untaken tick, as [`Ticker::reset`].
    pub fn reset_at<const N: usize>(&self, t: &mut Timers<N>, next: u64) -> Result<(), TimerError> {
        t.modify(self.id, next).map(|_| ())
    }

    /// Blocks until the next tick; returns its record (`expires` is the
    /// scheduled tick, `fired_at` when it fired).
    pub fn wait<const N: usize>(&self, t: &mut Timers<N>) -> Result<FiredRecord, TimerError> {
        loop {
            if let Some(r) = t.take_fired(self.id) {
                return Ok(r);
            }
            t.wait(t.mask(self.id))?;
            t.collect()?;
        }
    }

    /// The ticker's timer.
    pub fn id(&self) -> Id {
        self.id
    }

    /// Jiffies between ticks.
    pub fn period(&self) -> u32 {
        self.period
    }
}
