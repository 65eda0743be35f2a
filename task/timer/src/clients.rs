//! Clients and ownership: which incarnation of each task the server
//! serves, the checks that a timer or hook belongs to the caller,
//! delivering the tick path's posts, and forgetting a task that died or
//! restarted (its timers, hooks and queued expiries go).
//!
//! A task is known by its index; the kernel's generation in its `TaskId`
//! says which incarnation. A request from a new generation, or a post the
//! kernel refuses (the task is dead or restarted), makes the server forget
//! everything the old incarnation owned before going on.

use crate::ops::{core_err, hook_err};
use crate::{Core, Server, Trace, OWNERS, POOL, __RINGBUF};
use ringbuf::ringbuf_entry;
use timer_api::TimerError;
use timer_core::{HookId, HookKind, TimerHandle, TimerMut};
use timer_tick::{Post, TimerToken};
use userlib::{sys_post, RecvMessage, TaskId};

/// The generation last seen of each task index that talked to us.
pub struct Clients {
    seen: [Option<u8>; OWNERS],
}

impl Clients {
    /// Nobody seen yet.
    pub const fn new() -> Clients {
        Clients { seen: [None; OWNERS] }
    }
}

/// The timer `raw` names, if it is owned by task index `me`: one check of
/// the handle for the whole request. `StaleHandle` or `NotOwner` otherwise.
#[inline(always)]
pub(crate) fn owned_timer(
    core: &mut Core,
    me: usize,
    raw: u64,
) -> Result<TimerMut<'_, POOL, TimerToken, u16, OWNERS>, TimerError> {
    let t = core.wheel_mut().timer_mut(TimerHandle::from_bits(raw)).map_err(core_err)?;
    if t.owner().0 as usize != me {
        return Err(TimerError::NotOwner);
    }
    Ok(t)
}

impl Server {
    /// Brings a client's record up to date: a new generation means the
    /// task restarted, so whatever its old incarnation owned goes. Returns
    /// the task index; `TooManyOwners` past the 32 the server tracks.
    #[inline]
    pub(crate) fn note_client(&mut self, sender: TaskId) -> Result<usize, TimerError> {
        let i = sender.index();
        if i >= OWNERS {
            return Err(TimerError::TooManyOwners);
        }
        let g = sender.generation().get();
        if self.clients.seen[i] != Some(g) {
            if self.clients.seen[i].is_some() {
                self.forget(i);
            }
            self.clients.seen[i] = Some(g);
        }
        Ok(i)
    }

    /// Resolves `raw` to a hook of the caller.
    pub(crate) fn own_hook(&mut self, msg: &RecvMessage, raw: u16) -> Result<HookId, TimerError> {
        let me = self.note_client(msg.sender)?;
        let id = HookId::from_bits(raw);
        match self.path.core().hooks().kind(id).map_err(hook_err)? {
            HookKind::Client(o) if o.0 as usize == me => Ok(id),
            HookKind::Client(_) => Err(TimerError::NotOwner),
            _ => Err(TimerError::StaleHandle),
        }
    }

    /// Drops every timer, hook and queued expiry of task index `i`. If it
    /// held the grab, the grab ends as `release_grab` ends it: a tick
    /// waiting for its answer runs as "not done" and the tick rate returns
    /// to HZ, so a dying grabber neither loses a jiffy nor leaves the
    /// device running fast.
    #[inline(never)]
    #[cold]
    pub(crate) fn forget(&mut self, i: usize) {
        let gone = self.path.forget(i);
        self.hr.forget(i);
        self.clients.seen[i] = None;
        ringbuf_entry!(Trace::OwnerGone(i as u16));
        if gone.was_grabber {
            self.restore_rate();
        }
        self.update_mode();
        // The grab's waiting tick (run by `TickPath::forget`) and any
        // catch-up may have posts; the receivers all rank below this
        // server, so sending them after the rate change is unobservable.
        self.deliver();
    }

    /// Sends the tick path's posts, one per task; a task whose post fails
    /// is dead or restarted and is forgotten (which may post more).
    #[inline]
    pub(crate) fn deliver(&mut self) {
        if !self.path.posts().is_empty() {
            self.deliver_all();
        }
    }

    #[inline(never)]
    fn deliver_all(&mut self) {
        self.deliver_inline();
    }

    /// [`Server::deliver`]'s work, for the periodic tick to inline.
    ///
    /// While an interrupt is being handled (its IRQ waits to be unmasked
    /// at the next receive), the batch's last post is kept for that
    /// receive to make (`take_post`: one kernel crossing fewer on the way
    /// to the owner); a kept post to the same task takes the new bits too,
    /// one to another task goes out now. Every receiver ranks below this
    /// server, so none could have run any sooner.
    #[inline(always)]
    pub(crate) fn deliver_inline(&mut self) {
        let mut dead = 0u32;
        let defer = self.rearm != 0;
        for p in self.path.posts() {
            let p = match defer {
                false => p,
                true => match self.post_later.replace(p) {
                    None => continue,
                    Some(prev) if prev.task == p.task => {
                        self.post_later = Some(Post { task: p.task, bits: p.bits | prev.bits });
                        continue;
                    }
                    Some(prev) => prev,
                },
            };
            if sys_post(TaskId(p.task), p.bits) != 0 {
                dead |= 1 << TaskId(p.task).index();
            }
        }
        while dead != 0 {
            let i = dead.trailing_zeros() as usize;
            dead &= dead - 1;
            self.forget(i);
        }
    }
}
