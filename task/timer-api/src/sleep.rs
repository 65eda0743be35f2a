//! Sleeping and waiting with a timeout (LDD3 chapter 6's
//! `schedule_timeout` pattern): arm a timer, block on notifications, and
//! let whichever comes first end the wait.
//!
//! Each function uses a timer of the caller's [`Timers`] set, so the
//! caller chooses its notification bit; while waiting, expiries of the
//! set's other timers are collected into the set, not lost.
//!
//! # Never early
//!
//! Relative waits (`sleep_for`, `msleep`, `sleep`, `wait_event_timeout`,
//! `with_timeout`) of `n` jiffies last *more than* `n` full jiffies and at
//! most `n + 1`, wherever in the current jiffy they are called: the
//! deadline is `jiffies() + n + 1` ([`relative_deadline`](crate::time::relative_deadline),
//! Linux's `msleep` rounding), armed in one IPC (`mod_timer_after`: the
//! server adds `n + 1` to its own jiffies, so nothing passes between a
//! read and the arm). Timeouts above [`MAX_JIFFY_OFFSET`](crate::time::MAX_JIFFY_OFFSET)
//! are clamped to it, never wrapped. Absolute waits (`sleep_until`,
//! `wait_event_until`) end once `jiffies_64` has reached the deadline; a
//! deadline already reached returns after one round trip to the server
//! (the timer fires on the next tick).

use crate::client::{Id, Timers};
use crate::time::{clamp_timeout, remaining, Duration};
use crate::wire::TimerError;

/// How a [`wait_event_timeout`] ended.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum Wait {
    /// Event bits arrived; `remaining` whole jiffies were left of the
    /// timeout (at least 1, as Linux's `wait_event_timeout` reports).
    Event { bits: u32, remaining: u64 },
    /// The timeout expired first.
    Timeout,
}

/// Blocks until `jiffies_64` reaches the absolute jiffy `deadline`, using
/// timer `id`. A deadline in the past (or now) ends at the next tick.
pub fn sleep_until<const N: usize>(t: &mut Timers<N>, id: Id, deadline: u64) -> Result<(), TimerError> {
    match wait_event_until(t, id, 0, deadline)? {
        Wait::Timeout => Ok(()),
        // With no event bits only the timer can end the wait.
        Wait::Event { .. } => Ok(()),
    }
}

/// Blocks for more than `ticks` full jiffies and at most `ticks + 1`
/// (deadline `jiffies() + ticks + 1`; `ticks` above `MAX_JIFFY_OFFSET`
/// is clamped). `ticks == 0` sleeps until the next tick.
pub fn sleep_for<const N: usize>(t: &mut Timers<N>, id: Id, ticks: u64) -> Result<(), TimerError> {
    let (deadline, _) = t.modify_after(id, after(ticks))?;
    wait_armed(t, id, 0, deadline).map(|_| ())
}

/// The `ticks` to arm with for a relative wait of `timeout` jiffies:
/// `relative_deadline`'s rounding, `timeout` clamped and one jiffy more,
/// counted by the server from its jiffies when it serves the call (one
/// IPC, no read-then-arm race).
fn after(timeout: u64) -> u64 {
    clamp_timeout(timeout) + 1
}

/// Blocks for at least `ms` milliseconds, as Linux's `msleep`:
/// `msecs_to_jiffies(ms)` (rounded up) plus one jiffy, so at HZ 100
/// `msleep(10)` lasts more than 10 ms and at most 20 ms, and `msleep(0)`
/// one tick at most.
pub fn msleep<const N: usize>(t: &mut Timers<N>, id: Id, ms: u32) -> Result<(), TimerError> {
    sleep(t, id, Duration::from_millis(ms as u64))
}

/// Blocks for at least `d` (rounded up to whole jiffies, plus one jiffy for
/// the call's phase in the current jiffy; see the module doc).
pub fn sleep<const N: usize>(t: &mut Timers<N>, id: Id, d: Duration) -> Result<(), TimerError> {
    let ticks = d.to_jiffies(t.hz());
    sleep_for(t, id, ticks)
}

/// Waits for any notification bit of `events`, or a timeout of more than
/// `timeout` full jiffies (deadline `jiffies() + timeout + 1`, clamped as
/// [`sleep_for`]), whichever comes first. The event bits are consumed; the
/// timer is cancelled when an event wins. `remaining` in [`Wait::Event`]
/// counts the whole jiffies of `timeout` not used, at least 1.
pub fn wait_event_timeout<const N: usize>(t: &mut Timers<N>, id: Id, events: u32, timeout: u64) -> Result<Wait, TimerError> {
    let (deadline, _) = t.modify_after(id, after(timeout))?;
    match wait_armed(t, id, events, deadline)? {
        Wait::Event { bits, .. } => Ok(Wait::Event { bits, remaining: remaining(deadline, t.jiffies()) }),
        Wait::Timeout => Ok(Wait::Timeout),
    }
}

/// Waits for any notification bit of `events`, or until `jiffies_64`
/// reaches the absolute `deadline`, whichever comes first. `remaining` in
/// [`Wait::Event`] is `deadline - now`, at least 1.
pub fn wait_event_until<const N: usize>(t: &mut Timers<N>, id: Id, events: u32, deadline: u64) -> Result<Wait, TimerError> {
    t.modify(id, deadline)?;
    wait_armed(t, id, events, deadline)
}

/// [`wait_event_until`] with timer `id` already armed for `deadline`.
fn wait_armed<const N: usize>(t: &mut Timers<N>, id: Id, events: u32, deadline: u64) -> Result<Wait, TimerError> {
    let timer_mask = t.mask(id);
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

/// Waits for notification bits of `events` until `done` says the wait is
/// over, giving up after a timeout of more than `timeout` full jiffies
/// (rounded and clamped as [`sleep_for`]): Linux's
/// `wait_event_timeout(wq, condition, timeout)` with the condition as a
/// closure, or embassy's `with_timeout`.
///
/// `done` is called with the event bits each time some arrive (and the set,
/// to collect other timers or make calls); it returns `Some(r)` to end the
/// wait with `Ok(Some(r))`, `None` to keep waiting. When the timeout
/// expires first the result is `Ok(None)`. If events and the timeout come
/// together, the events are offered to `done` first. The timer is
/// cancelled when `done` ends the wait.
pub fn with_timeout<const N: usize, R>(
    t: &mut Timers<N>,
    id: Id,
    events: u32,
    timeout: u64,
    mut done: impl FnMut(&mut Timers<N>, u32) -> Option<R>,
) -> Result<Option<R>, TimerError> {
    let timer_mask = t.mask(id);
    t.modify_after(id, after(timeout))?;
    loop {
        let bits = t.wait(events | timer_mask)?;
        let ev = bits & events & !timer_mask;
        if ev != 0 {
            if let Some(r) = done(t, ev) {
                t.del(id)?;
                return Ok(Some(r));
            }
        }
        if bits & timer_mask != 0 {
            t.collect()?;
            if t.take_fired(id).is_some() {
                return Ok(None);
            }
        }
    }
}
