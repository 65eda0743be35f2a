//! A periodic ticker: one periodic timer, re-armed by the server at
//! `expires + period` (no drift), and a blocking `wait` for each tick.

use crate::client::{Id, Spec, Timers};
use crate::wire::{FiredRecord, TimerError};

/// Fires every `period` jiffies.
pub struct Ticker {
    id: Id,
}

impl Ticker {
    /// Starts a ticker in set `t` posting bit `notification`; the first
    /// tick is `period` jiffies from now.
    pub fn start<const N: usize>(t: &mut Timers<N>, notification: u8, period: u32) -> Result<Self, TimerError> {
        let id = t.setup(Spec { period, ..Spec::oneshot(notification) })?;
        let first = t.jiffies() + period as u64;
        t.add(id, first)?;
        Ok(Ticker { id })
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
}
