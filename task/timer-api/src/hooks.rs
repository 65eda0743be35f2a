//! [`Hooks`]: a task's tick hooks (and its grab of the tick) that survive
//! timer-server restarts, as [`crate::client::Timers`] does for timers.
//!
//! A tick hook is the timer-interrupt hook of old Linux drivers: the server
//! posts the hook's notification bit on every tick. The server keeps hooks
//! only in memory, so a restarted server has none, and a task that waits
//! for its hook bit would wait forever. The set remembers what it asked
//! for (the bit, `run_always`, whether it holds the grab and at which
//! rate) and, on learning of a restart, registers every hook again on the
//! new server, takes the grab back and sets the rate again.
//!
//! It learns of a restart the way `Timers` does: [`Hooks::wait`] waits in
//! a receive closed to the timer server, which the kernel ends with a dead
//! code when the server dies; any call answered `ServerDied` does too; and
//! [`Hooks::check_server`] asks the kernel without IPC.
//!
//! Guarantees: the set's [`HookId`]s never change (the server's ids do,
//! across a restart, and the set maps them); a grab is restored only if
//! the set held it, and only by this task (the server checks `grab-tasks`
//! again); ticks during the outage are not replayed (a hook sees the ticks
//! of a live server, as in Linux a hook sees only interrupts).

use crate::wire::TimerError;
use crate::Timer;
use crate::survive::{self, Recover};
use userlib::TaskId;

/// A hook of a [`Hooks`] set (its index in the set; stable across server
/// restarts, unlike the server's own hook id).
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct HookId(pub u8);

/// What the set asked the server for, per hook.
#[derive(Copy, Clone, Debug)]
struct Slot {
    /// Notification bit the server posts on every tick (0..32).
    notification: u8,
    /// Runs even when the grabber answers done.
    run_always: bool,
    /// The server's id for it, in the incarnation `Hooks::epoch` names.
    server_id: u16,
    /// `Some(multiplier)` while this hook holds the grab (1..=8 x HZ).
    grab: Option<u8>,
}

/// Up to `N` tick hooks of one task, registered again (and the grab taken
/// back) after a timer-server restart.
pub struct Hooks<const N: usize> {
    server: Timer,
    /// The server incarnation the ids in `slots` belong to.
    epoch: TaskId,
    slots: [Option<Slot>; N],
    /// Times the set registered its hooks again after a server restart.
    pub recoveries: u32,
}

impl<const N: usize> Hooks<N> {
    /// An empty set talking to the timer server at `server`.
    pub fn new(server: TaskId) -> Self {
        Hooks { server: Timer::from(server), epoch: server, slots: [None; N], recoveries: 0 }
    }

    /// Registers a hook posting bit `notification` on every tick (Linux's
    /// timer-interrupt hook). `run_always`: it runs even on ticks the
    /// grabber answers done. Errors as the server's `hook_register`
    /// (`HookQuota`, `HookTableFull`, `BadNotification`); `QuotaExceeded`
    /// if the set already holds `N` hooks.
    pub fn register(&mut self, notification: u8, run_always: bool) -> Result<HookId, TimerError> {
        let free = self.slots.iter().position(|s| s.is_none()).ok_or(TimerError::QuotaExceeded)?;
        let server_id = self.retry(|s| s.server.hook_register(notification, run_always))?;
        self.slots[free] = Some(Slot { notification, run_always, server_id, grab: None });
        Ok(HookId(free as u8))
    }

    /// Removes hook `id` (and its grab). After a restart the server no
    /// longer knows it: that counts as removed.
    pub fn unregister(&mut self, id: HookId) -> Result<(), TimerError> {
        let slot = self.slot(id)?;
        let r = if self.server.task_id() == self.epoch { self.server.hook_unregister(slot.server_id) } else { Ok(()) };
        match r {
            Ok(()) | Err(TimerError::ServerDied) | Err(TimerError::StaleHandle) => {
                self.slots[id.0 as usize] = None;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Makes hook `id` the grabber (see the server's `hook_grab`): it runs
    /// first on every tick and must answer with [`Hooks::answer`]. Kept
    /// across restarts. `NotPermitted` unless this task is in the server's
    /// `grab-tasks`; `Busy` if another task holds the grab.
    pub fn grab(&mut self, id: HookId) -> Result<(), TimerError> {
        self.slot(id)?;
        self.retry(|s| s.server.hook_grab(s.slots[id.0 as usize].map_or(0, |h| h.server_id)))?;
        self.slot_mut(id)?.grab = Some(1);
        Ok(())
    }

    /// Releases the grab of hook `id` (the tick goes back to HZ).
    pub fn ungrab(&mut self, id: HookId) -> Result<(), TimerError> {
        self.slot(id)?;
        self.retry(|s| s.server.hook_ungrab(s.slots[id.0 as usize].map_or(0, |h| h.server_id)))?;
        self.slot_mut(id)?.grab = None;
        Ok(())
    }

    /// For the grabber: run the tick at `multiplier` x HZ (1..=8). Kept
    /// across restarts.
    pub fn set_rate(&mut self, id: HookId, multiplier: u8) -> Result<(), TimerError> {
        self.slot(id)?;
        self.retry(|s| s.server.hook_set_rate(s.slots[id.0 as usize].map_or(0, |h| h.server_id), multiplier))?;
        if let Some(g) = &mut self.slot_mut(id)?.grab {
            *g = multiplier;
        }
        Ok(())
    }

    /// The grabber's answer for the tick it was last posted: `done` skips
    /// the rest of the chain (jiffies do not advance on that tick).
    pub fn answer(&mut self, id: HookId, done: bool) -> Result<(), TimerError> {
        self.slot(id)?;
        self.retry(|s| s.server.hook_answer(s.slots[id.0 as usize].map_or(0, |h| h.server_id), done))
    }

    /// The server's current id of hook `id` (changes across restarts; for
    /// matching `hook_chain` entries).
    pub fn server_id(&self, id: HookId) -> Result<u16, TimerError> {
        Ok(self.slot(id)?.server_id)
    }

    /// Blocks until a notification bit of `mask` arrives and returns the
    /// bits. The receive is closed to the timer server, so if the server
    /// restarts meanwhile the kernel wakes us with a dead code: the set then
    /// registers its hooks again (and takes its grab back) and goes on
    /// waiting.
    pub fn wait(&mut self, mask: u32) -> Result<u32, TimerError> {
        survive::wait(self, mask)
    }

    /// Asks the kernel (a syscall, no IPC) whether the timer server
    /// restarted since the set last spoke to it; if so, registers every
    /// hook again. Returns whether it recovered. For tasks that wait in
    /// their own open receive, which a restart does not end.
    pub fn check_server(&mut self) -> Result<bool, TimerError> {
        survive::check_server(self)
    }

    fn slot(&self, id: HookId) -> Result<Slot, TimerError> {
        self.slots.get(id.0 as usize).copied().flatten().ok_or(TimerError::StaleHandle)
    }

    fn slot_mut(&mut self, id: HookId) -> Result<&mut Slot, TimerError> {
        self.slots.get_mut(id.0 as usize).and_then(|s| s.as_mut()).ok_or(TimerError::StaleHandle)
    }

    /// Runs `op`; on `ServerDied` (or if the server is known to have
    /// restarted already), registers every hook again and retries once.
    fn retry<T>(&mut self, op: impl FnMut(&mut Self) -> Result<T, TimerError>) -> Result<T, TimerError> {
        survive::retry(self, op)
    }

    /// Registers every hook again on a restarted server, in the order the
    /// set holds them, then takes back the grab it held, at its rate.
    fn recover_all(&mut self) -> Result<(), TimerError> {
        self.recoveries += 1;
        self.epoch = self.server.task_id();
        for i in 0..N {
            let Some(slot) = self.slots[i] else { continue };
            let server_id = self.server.hook_register(slot.notification, slot.run_always)?;
            self.slots[i] = Some(Slot { server_id, ..slot });
            if let Some(rate) = slot.grab {
                self.server.hook_grab(server_id)?;
                if rate > 1 {
                    self.server.hook_set_rate(server_id, rate)?;
                }
            }
        }
        Ok(())
    }
}

impl<const N: usize> Recover for Hooks<N> {
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
