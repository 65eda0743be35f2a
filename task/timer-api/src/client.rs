//! [`Timers`]: a task's set of timers that survives timer-server restarts.
//!
//! The set remembers how each timer was set up and where it is armed. When
//! a call comes back `ServerDied` (the server restarted, so every handle is
//! stale), the set sets every timer up again, re-arms the armed ones at
//! their original absolute expiries (jiffies follow the clocksource, which
//! outlives the server), and retries the call once. An expiry that passed
//! during the outage fires on the next tick: no timer is lost.
//!
//! A task blocked waiting for an expiry would never make that call, so
//! [`Timers::wait`] waits in a receive closed to the timer server: the
//! kernel ends it with a dead code when the server restarts, and the set
//! recovers there too.
//!
//! Expiries arrive as the timer's notification bit; [`Timers::collect`]
//! then fetches the records and keeps, per timer, the latest one of its
//! current arm (records of earlier arms are stale and dropped by the server
//! already; the arm sequence check here is a second line).

use crate::wire::{FiredRecord, TimerError, FIRED_PER_FETCH, FIRED_RECORD_BYTES};
use crate::time::{Hz, Instant};
use crate::Timer;
use crate::survive::{self, Recover};
use userlib::TaskId;
use zerocopy::FromBytes;

/// A timer of a [`Timers`] set (its index).
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct Id(pub u8);

/// How a timer is set up (see the `setup` op).
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct Spec {
    /// Notification bit posted on expiry (0..32).
    pub notification: u8,
    /// Returned in fired records.
    pub token: u32,
    /// Re-arm period in jiffies; 0 for one-shot.
    pub period: u32,
    /// Slack in jiffies; `SLACK_DEFAULT` (-1) or `SLACK_NONE` (0) or more.
    pub slack: i32,
    /// Never wakes the system from tickless idle.
    pub deferrable: bool,
}

impl Spec {
    /// An exact one-shot timer posting bit `notification`.
    pub const fn oneshot(notification: u8) -> Self {
        Spec { notification, token: 0, period: 0, slack: 0, deferrable: false }
    }

    /// The notification mask of this timer.
    pub const fn mask(&self) -> u32 {
        1 << self.notification
    }
}

#[derive(Copy, Clone, Debug)]
struct Slot {
    spec: Spec,
    handle: u64,
    /// Absolute expiry while armed (the next one, for periodic timers).
    armed: Option<u64>,
    seq: u32,
    fired: Option<FiredRecord>,
}

/// Up to `N` timers of one task, re-armed transparently after a server
/// restart.
pub struct Timers<const N: usize> {
    server: Timer,
    /// The server incarnation the handles in `slots` belong to. Idempotent
    /// calls (`jiffies`, `hz`) follow a restart silently, moving
    /// `server`'s id on; a mismatch here then tells the set to recover
    /// before its next call that uses a handle.
    epoch: TaskId,
    slots: [Option<Slot>; N],
    /// Times the set re-created its timers after a server restart.
    pub recoveries: u32,
    /// The server's HZ, once asked (it is fixed by the image's app.toml,
    /// so a restarted server has the same).
    hz: Option<Hz>,
}

impl<const N: usize> Timers<N> {
    /// An empty set talking to the timer server at `server`.
    pub fn new(server: TaskId) -> Self {
        Timers { server: Timer::from(server), epoch: server, slots: [None; N], recoveries: 0, hz: None }
    }

    /// The raw client, for ops the set does not wrap (hooks, ktime).
    pub fn server(&self) -> &Timer {
        &self.server
    }

    /// Current jiffies_64.
    pub fn jiffies(&self) -> u64 {
        self.server.jiffies()
    }

    /// The current jiffy as an [`Instant`].
    pub fn now(&self) -> Instant {
        Instant(self.server.jiffies())
    }

    /// The server's tick rate (asked once, then remembered).
    pub fn hz(&mut self) -> Hz {
        if let Some(h) = self.hz {
            return h;
        }
        // The server refuses to start at 0 Hz; 1 keeps this total.
        let h = Hz::new(self.server.hz()).unwrap_or(Hz::new(1).unwrap());
        self.hz = Some(h);
        h
    }

    /// Sets up a new timer.
    pub fn setup(&mut self, spec: Spec) -> Result<Id, TimerError> {
        let free = self.slots.iter().position(|s| s.is_none()).ok_or(TimerError::QuotaExceeded)?;
        let handle = self.retry(|s| s.server.setup(spec.notification, spec.token, spec.period, spec.slack, spec.deferrable))?;
        self.slots[free] = Some(Slot { spec, handle, armed: None, seq: 0, fired: None });
        Ok(Id(free as u8))
    }

    fn slot(&self, id: Id) -> Result<&Slot, TimerError> {
        self.slots.get(id.0 as usize).and_then(|s| s.as_ref()).ok_or(TimerError::StaleHandle)
    }

    fn slot_mut(&mut self, id: Id) -> Result<&mut Slot, TimerError> {
        self.slots.get_mut(id.0 as usize).and_then(|s| s.as_mut()).ok_or(TimerError::StaleHandle)
    }

    /// The notification mask of timer `id` (0 for an unknown id).
    pub fn mask(&self, id: Id) -> u32 {
        self.slot(id).map_or(0, |s| s.spec.mask())
    }

    /// `add_timer`: arm at absolute jiffy `expires`.
    pub fn add(&mut self, id: Id, expires: u64) -> Result<(), TimerError> {
        // An earlier arm whose record is not collected yet still reads as
        // armed here; a recovery must not re-arm it, or the retried
        // `add_timer` would find it pending.
        let before = self.slot(id)?.armed;
        self.slot_mut(id)?.armed = None;
        let seq = self
            .retry(|s| {
                let h = s.slot(id)?.handle;
                s.server.add_timer(h, expires)
            })
            .inspect_err(|_| {
                if let Ok(slot) = self.slot_mut(id) {
                    slot.armed = before;
                }
            })?;
        let slot = self.slot_mut(id)?;
        slot.armed = Some(expires);
        slot.seq = seq;
        slot.fired = None;
        Ok(())
    }

    /// `mod_timer`: (re)arm at `expires`; returns whether it was pending.
    pub fn modify(&mut self, id: Id, expires: u64) -> Result<bool, TimerError> {
        self.slot(id)?;
        let armed = self.retry(|s| {
            let h = s.slot(id)?.handle;
            s.server.mod_timer(h, expires)
        })?;
        let slot = self.slot_mut(id)?;
        slot.armed = Some(expires);
        slot.seq = armed.seq;
        slot.fired = None;
        Ok(armed.was_pending != 0)
    }

    /// `mod_timer_pending`: re-arm at `expires` only if the timer is
    /// pending; returns whether it was (a timer that was not stays
    /// disarmed).
    pub fn modify_pending(&mut self, id: Id, expires: u64) -> Result<bool, TimerError> {
        self.slot(id)?;
        let armed = self.retry(|s| {
            let h = s.slot(id)?.handle;
            s.server.mod_timer_pending(h, expires)
        })?;
        if armed.was_pending != 0 {
            let slot = self.slot_mut(id)?;
            (slot.armed, slot.seq, slot.fired) = (Some(expires), armed.seq, None);
        }
        Ok(armed.was_pending != 0)
    }

    /// Changes the period (jiffies, 0: one-shot), from the timer's next
    /// expiry on; kept across server restarts.
    pub fn set_period(&mut self, id: Id, period: u32) -> Result<(), TimerError> {
        self.slot(id)?;
        self.retry(|s| {
            let h = s.slot(id)?.handle;
            s.server.timer_set_period(h, period)
        })?;
        self.slot_mut(id)?.spec.period = period;
        Ok(())
    }

    /// `set_timer_slack`: -1 Linux's default, 0 exact, else at most
    /// `slack` jiffies late, from the next arm on; kept across server
    /// restarts. Any slack is taken: exactly up to 1,023 jiffies, above
    /// that rounded down to six significant bits
    /// ([`crate::time::kept_slack`]: never later than asked).
    pub fn set_slack(&mut self, id: Id, slack: i32) -> Result<(), TimerError> {
        self.slot(id)?;
        self.retry(|s| {
            let h = s.slot(id)?.handle;
            s.server.timer_set_slack(h, slack)
        })?;
        self.slot_mut(id)?.spec.slack = slack;
        Ok(())
    }

    /// The jiffy a pending timer fires at (slack applied), `None` if it
    /// is not pending.
    pub fn expires(&mut self, id: Id) -> Result<Option<u64>, TimerError> {
        self.slot(id)?;
        match self.retry(|s| {
            let h = s.slot(id)?.handle;
            s.server.timer_expires(h)
        }) {
            Ok(j) => Ok(Some(j)),
            Err(TimerError::Inactive) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Jiffies until a pending timer fires (0 if due), `None` if it is not
    /// pending: Linux's `timer->expires - jiffies` (two IPCs).
    pub fn remaining(&mut self, id: Id) -> Result<Option<u64>, TimerError> {
        let e = self.expires(id)?;
        Ok(e.map(|e| e.saturating_sub(self.jiffies())))
    }

    /// `add_timer(t, jiffies + ticks)` in one IPC (`add_timer_after`),
    /// `jiffies` being the server's when it serves the call, so nothing
    /// can pass between reading jiffies and arming. Returns the absolute
    /// expiry it got (which a server restart re-arms). `ticks` above
    /// `MAX_JIFFY_OFFSET` is clamped. If the server restarted and the call
    /// is retried, `ticks` counts from the retry (later, never earlier).
    pub fn add_after(&mut self, id: Id, ticks: u64) -> Result<u64, TimerError> {
        let before = self.slot(id)?.armed;
        self.slot_mut(id)?.armed = None;
        let at = self
            .retry(|s| {
                let h = s.slot(id)?.handle;
                s.server.add_timer_after(h, ticks)
            })
            .inspect_err(|_| {
                if let Ok(slot) = self.slot_mut(id) {
                    slot.armed = before;
                }
            })?;
        let slot = self.slot_mut(id)?;
        (slot.armed, slot.seq, slot.fired) = (Some(at.expires), at.seq, None);
        Ok(at.expires)
    }

    /// `mod_timer(t, jiffies + ticks)` in one IPC (`mod_timer_after`), as
    /// [`Timers::add_after`]. Returns the absolute expiry and whether the
    /// timer was pending.
    pub fn modify_after(&mut self, id: Id, ticks: u64) -> Result<(u64, bool), TimerError> {
        self.slot(id)?;
        let at = self.retry(|s| {
            let h = s.slot(id)?.handle;
            s.server.mod_timer_after(h, ticks)
        })?;
        let slot = self.slot_mut(id)?;
        (slot.armed, slot.seq, slot.fired) = (Some(at.expires), at.seq, None);
        Ok((at.expires, at.was_pending != 0))
    }

    /// `del_timer` (with del_timer_sync's meaning); returns whether it was
    /// pending. A fired record not yet taken is discarded too.
    pub fn del(&mut self, id: Id) -> Result<bool, TimerError> {
        self.slot(id)?;
        let was = self.retry(|s| {
            let h = s.slot(id)?.handle;
            s.server.del_timer(h)
        })?;
        let slot = self.slot_mut(id)?;
        slot.armed = None;
        slot.fired = None;
        Ok(was)
    }

    /// `timer_pending`.
    pub fn pending(&mut self, id: Id) -> Result<bool, TimerError> {
        self.slot(id)?;
        self.retry(|s| {
            let h = s.slot(id)?.handle;
            s.server.timer_pending(h)
        })
    }

    /// Releases timer `id`.
    pub fn free(&mut self, id: Id) -> Result<(), TimerError> {
        let h = self.slot(id)?.handle;
        // After a restart the server no longer knows the handle: nothing to
        // free there (and a stale handle must not be sent).
        let stale = self.server.task_id() != self.epoch;
        match if stale { Ok(()) } else { self.server.free(h) } {
            Ok(()) | Err(TimerError::ServerDied) | Err(TimerError::StaleHandle) => {}
            Err(e) => return Err(e),
        }
        self.slots[id.0 as usize] = None;
        Ok(())
    }

    /// Fetches every delivered expiry from the server into the set. Call
    /// after a timer notification arrives.
    pub fn collect(&mut self) -> Result<(), TimerError> {
        loop {
            let mut buf = [0u8; FIRED_PER_FETCH * FIRED_RECORD_BYTES];
            let got = self.retry(|s| s.server.fetch_fired(&mut buf))?;
            for chunk in buf.chunks_exact(FIRED_RECORD_BYTES).take(got.count as usize) {
                let Ok(rec) = FiredRecord::read_from_bytes(chunk) else { continue };
                self.record(rec);
            }
            if got.remaining == 0 {
                return Ok(());
            }
        }
    }

    fn record(&mut self, rec: FiredRecord) {
        for slot in self.slots.iter_mut().flatten() {
            if slot.handle == rec.handle && slot.seq == rec.seq {
                slot.armed = (slot.spec.period != 0).then(|| rec.expires + slot.spec.period as u64);
                slot.fired = Some(rec);
            }
        }
    }

    /// Blocks until a notification bit of `mask` arrives and returns the
    /// bits. The receive is closed to the timer server, so if the server
    /// restarts meanwhile the kernel wakes us with a dead code: the set then
    /// sets its timers up again on the new server and goes on waiting (an
    /// expiry due during the outage fires on the new server's next tick).
    pub fn wait(&mut self, mask: u32) -> Result<u32, TimerError> {
        survive::wait(self, mask)
    }

    /// The notification bits of every timer of the set (ORed).
    pub fn timer_bits(&self) -> u32 {
        self.slots.iter().flatten().fold(0, |m, s| m | s.spec.mask())
    }

    /// For a task that waits in its own receive loop (to keep serving IPC
    /// while a timer is pending): put [`Timers::timer_bits`] in the
    /// notification mask of its `sys_recv_open`, and pass the bits of each
    /// notification it receives here. If any belongs to the set's timers,
    /// the expiries are fetched into the set (then [`Timers::take_fired`]
    /// tells which fired). Returns the set's bits among `bits` (0: not a
    /// timer notification, nothing fetched).
    ///
    /// An open receive is not ended by the timer server's restart (a closed
    /// one is: [`Timers::wait`]), so such a loop learns of a restart only at
    /// its next call into the set; call [`Timers::check_server`] whenever
    /// the loop wakes, so that timers are re-armed then.
    pub fn handle_notification(&mut self, bits: u32) -> Result<u32, TimerError> {
        let mine = bits & self.timer_bits();
        if mine != 0 {
            self.collect()?;
        }
        Ok(mine)
    }

    /// Asks the kernel (a syscall, no IPC) whether the timer server
    /// restarted since the set last spoke to it; if so, sets every timer up
    /// again and re-arms the armed ones at their absolute expiries, as a
    /// call would. Returns whether it recovered.
    pub fn check_server(&mut self) -> Result<bool, TimerError> {
        survive::check_server(self)
    }

    /// Takes timer `id`'s latest expiry, if it fired since the last take.
    pub fn take_fired(&mut self, id: Id) -> Option<FiredRecord> {
        self.slot_mut(id).ok()?.fired.take()
    }

    /// Runs `op`; on `ServerDied` (or if the server is known to have
    /// restarted already), re-creates every timer and retries once.
    fn retry<T>(&mut self, op: impl FnMut(&mut Self) -> Result<T, TimerError>) -> Result<T, TimerError> {
        survive::retry(self, op)
    }

    /// Sets every timer up again on a restarted server and re-arms the
    /// armed ones at their absolute expiries.
    fn recover_all(&mut self) -> Result<(), TimerError> {
        self.recoveries += 1;
        self.epoch = self.server.task_id();
        for i in 0..N {
            let Some(slot) = self.slots[i] else { continue };
            let sp = slot.spec;
            let handle = self.server.setup(sp.notification, sp.token, sp.period, sp.slack, sp.deferrable)?;
            let mut seq = 0;
            if let Some(expires) = slot.armed {
                seq = self.server.add_timer(handle, expires)?;
            }
            self.slots[i] = Some(Slot { handle, seq, ..slot });
        }
        Ok(())
    }
}

impl<const N: usize> Recover for Timers<N> {
    fn server(&self) -> &Timer {
        &self.server
    }

    fn set_server(&mut self, server: Timer) {
        self.server = server;
    }

    fn epoch(&self) -> TaskId {
        self.epoch
    }

    fn recover(&mut self) -> Result<(), TimerError> {
        self.recover_all()
    }
}
