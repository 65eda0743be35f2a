//! Sleeping and waiting with a timeout (LDD3 chapter 6's
//! `schedule_timeout` pattern): arm a timer, block on notifications, and
//! let whichever comes first end the wait.
//!
//! Each function uses a timer of the caller's [`Timers`] set, so the
//! caller chooses its notification bit; while waiting, expiries of the
//! set's other timers are collected into the set, not lost.

use crate::client::{Id, Timers};
use crate::wire::TimerError;

/// How a [`wait_event_timeout`] ended.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum Wait {
    /// Event bits arrived; `remaining` jiffies were left of the timeout
    /// (at least 1, as Linux's `wait_event_timeout` reports).
    Event { bits: u32, remaining: u64 },
    /// The timeout expired first.
    Timeout,
}

/// Blocks until absolute jiffy `deadline` using timer `id`.
pub fn sleep_until<const N: usize>(t: &mut Timers<N>, id: Id, deadline: u64) -> Result<(), TimerError> {
    match wait_event_until(t, id, 0, deadline)? {
        Wait::Timeout => Ok(()),
        // With no event bits only the timer can end the wait.
        Wait::Event { .. } => Ok(()),
    }
}

/// Blocks for `ticks` jiffies (at least `ticks` full jiffies from now).
pub fn sleep_for<const N: usize>(t: &mut Timers<N>, id: Id, ticks: u64) -> Result<(), TimerError> {
    let deadline = t.jiffies() + ticks;
    sleep_until(t, id, deadline)
}

/// Blocks for at least `ms` milliseconds (rounded up to whole jiffies, as
/// `msecs_to_jiffies` does).
pub fn msleep<const N: usize>(t: &mut Timers<N>, id: Id, ms: u32) -> Result<(), TimerError> {
    let hz = t.server().hz() as u64;
    let ticks = (ms as u64 * hz).div_ceil(1000);
    sleep_for(t, id, ticks)
}

/// Waits for any notification bit of `events`, or `timeout` jiffies,
/// whichever comes first. The event bits are consumed.
pub fn wait_event_timeout<const N: usize>(t: &mut Timers<N>, id: Id, events: u32, timeout: u64) -> Result<Wait, TimerError> {
    let deadline = t.jiffies() + timeout;
    wait_event_until(t, id, events, deadline)
}

fn wait_event_until<const N: usize>(t: &mut Timers<N>, id: Id, events: u32, deadline: u64) -> Result<Wait, TimerError> {
    let timer_mask = t.mask(id);
    t.modify(id, deadline)?;
    loop {
        let bits = t.wait(events | timer_mask)?;
        if bits & timer_mask != 0 {
            t.collect()?;
            if t.take_fired(id).is_some() {
                return Ok(Wait::Timeout);
            }
        }
        let ev = bits & events & !timer_mask;
        if ev != 0 {
            t.del(id)?;
            let now = t.jiffies();
            return Ok(Wait::Event { bits: ev, remaining: deadline.saturating_sub(now).max(1) });
        }
    }
}
