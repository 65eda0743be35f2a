//! Re-arming and a timer's attributes, the rest of Linux's timer API
//! beside `add_timer`/`mod_timer`/`del_timer` ([`crate::ops`]):
//! `mod_timer_pending`, relative arming in one call (`add_timer_after`,
//! `mod_timer_after`: read-then-arm would be two calls and race), changing
//! the period and the slack (`set_timer_slack`), and reading the expiry
//! (`timer->expires`).
//!
//! Each checks its caller and handle as every op does (`owned_timer`: a
//! timer of another task is `NotOwner`). Any slack is taken: up to 1,023
//! jiffies exactly, above that rounded down to six significant bits
//! (`timer_core::kept_slack`), which only makes the timer less late.

use crate::clients::owned_timer;
use crate::ops::core_err;
use crate::Server;
use timer_api::{Armed, ArmedAt, TimerError};
use timer_core::{apply_slack, Jiffies, TimerHandle, MAX_JIFFY_OFFSET};
use timer_tick::TimerToken;
use userlib::RecvMessage;

/// `expires` with `token`'s slack applied at jiffy `now`. No slack, the
/// usual case, is one test.
#[inline(always)]
pub(crate) fn slacked(expires: u64, now: Jiffies, token: TimerToken) -> Jiffies {
    if !token.has_slack() { Jiffies(expires) } else { apply_slack(Jiffies(expires), now, token.slack()) }
}

impl Server {
    /// `add_timer_after` / `mod_timer_after`: (re)arm at the current jiffy
    /// (caught up from the clocksource in tickless mode) plus `ticks`,
    /// clamped at `MAX_JIFFY_OFFSET`. `modify`: `mod_timer`'s rules, else
    /// `add_timer`'s (`AlreadyPending`).
    pub(crate) fn arm_after(&mut self, msg: &RecvMessage, handle: u64, ticks: u64, modify: bool) -> Result<ArmedAt, TimerError> {
        let me = self.note_client(msg.sender)?;
        self.catch_up();
        let core = self.path.core_mut();
        let now = core.jiffies();
        let t = owned_timer(core, me, handle)?;
        let expires = slacked(now.0.wrapping_add(ticks.min(MAX_JIFFY_OFFSET)), now, t.token());
        let i = t.index();
        let was = if modify { t.modify(expires) } else { t.add(expires).map_err(core_err).map(|_| false)? };
        let seq = self.path.fired_mut().rearm(i, me);
        self.armed(expires.0, handle);
        Ok(ArmedAt { expires: expires.0, seq, was_pending: was as u32 })
    }
}


impl Server {
    /// `mod_timer_pending`: re-arm at `expires` only if pending.
    pub(crate) fn rearm_pending(&mut self, msg: &RecvMessage, handle: u64, expires: u64) -> Result<Armed, TimerError> {
        let me = self.note_client(msg.sender)?;
        let core = self.path.core_mut();
        let now = core.jiffies();
        let t = owned_timer(core, me, handle)?;
        if !t.pending() {
            return Ok(Armed { seq: 0, was_pending: 0 });
        }
        let expires = slacked(expires, now, t.token());
        let i = t.index();
        t.modify(expires);
        let seq = self.path.fired_mut().rearm(i, me);
        self.armed(expires.0, handle);
        Ok(Armed { seq, was_pending: 1 })
    }

    /// The timer's period, from its next expiry on.
    pub(crate) fn set_period(&mut self, msg: &RecvMessage, handle: u64, period: u32) -> Result<(), TimerError> {
        let me = self.note_client(msg.sender)?;
        let core = self.path.core_mut();
        owned_timer(core, me, handle)?;
        core.wheel_mut().set_period(TimerHandle::from_bits(handle), period).map_err(core_err)
    }

    /// `set_timer_slack`, from the next arm on.
    pub(crate) fn set_slack(&mut self, msg: &RecvMessage, handle: u64, slack: i32) -> Result<(), TimerError> {
        let me = self.note_client(msg.sender)?;
        let mut t = owned_timer(self.path.core_mut(), me, handle)?;
        t.set_token(t.token().with_slack(slack));
        Ok(())
    }

    /// `timer->expires` of a pending timer (slack applied).
    pub(crate) fn expires_of(&mut self, msg: &RecvMessage, handle: u64) -> Result<u64, TimerError> {
        let me = self.note_client(msg.sender)?;
        let core = self.path.core_mut();
        owned_timer(core, me, handle)?;
        match core.wheel().expires(TimerHandle::from_bits(handle)).map_err(core_err)? {
            Some(j) => Ok(j.0),
            None => Err(TimerError::Inactive),
        }
    }
}
