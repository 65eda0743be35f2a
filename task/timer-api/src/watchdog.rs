//! A software watchdog built on `mod_timer`, as Linux drivers do: every
//! `feed` pushes the expiry `timeout` jiffies ahead; if the fed work stops,
//! the timer fires and the watchdog's owner sees it.

use crate::client::{Id, Spec, Timers};
use crate::wire::TimerError;

/// A watchdog timer.
pub struct Watchdog {
    id: Id,
    timeout: u32,
}

impl Watchdog {
    /// Arms a watchdog that bites `timeout` jiffies after the last feed,
    /// posting bit `notification`.
    pub fn start<const N: usize>(t: &mut Timers<N>, notification: u8, timeout: u32) -> Result<Self, TimerError> {
        let id = t.setup(Spec::oneshot(notification))?;
        let w = Watchdog { id, timeout };
        w.feed(t)?;
        Ok(w)
    }

    /// Pushes the deadline to jiffy `jiffies() + timeout` (`mod_timer`, as
    /// Linux drivers write it): the watchdog bites more than `timeout - 1`
    /// and at most `timeout` full jiffies after this feed (the feed came
    /// somewhere inside the current jiffy), never wrapping (`timeout` is a
    /// `u32`). Use `timeout + 1` for "at least `timeout` jiffies".
    /// Returns whether the watchdog was still pending (false: it had bitten).
    pub fn feed<const N: usize>(&self, t: &mut Timers<N>) -> Result<bool, TimerError> {
        // One IPC (`mod_timer_after`): no jiffy can pass between reading
        // jiffies and arming.
        t.modify_after(self.id, self.timeout as u64).map(|(_, was)| was)
    }

    /// True if the watchdog bit since the last check (after `collect`).
    pub fn bitten<const N: usize>(&self, t: &mut Timers<N>) -> bool {
        t.take_fired(self.id).is_some()
    }

    /// The notification mask it posts.
    pub fn mask<const N: usize>(&self, t: &Timers<N>) -> u32 {
        t.mask(self.id)
    }
}
