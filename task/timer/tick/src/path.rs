//! [`TickPath`]: one step of the tick path at a time, leaving what to post.
//!
//! Why this module exists: it is the part of the timer server that runs on
//! every tick, and the part whose order matters most. Each entry point is
//! one event the server sees: the tick device fired ([`TickPath::tick`]),
//! the grabber answered ([`TickPath::answer`]), the clocksource says time
//! moved on while the device slept ([`TickPath::catch_up`], Linux's
//! `tick_nohz_update_jiffies`), a grab ended ([`TickPath::ungrab`]), an
//! owner died ([`TickPath::forget`]). Each runs the core's hook chain
//! (client hooks, then `do_timer`, then `run_timers` with `cascade`) as
//! needed, queues expiries in the owners' [`Fired`] queues and returns the
//! [`Posts`] batch to send.
//!
//! The grab protocol: with a grabber, a tick only posts the grabber's bit
//! and waits; the chain runs when the grabber answers ("done" skips every
//! hook but the `run_always` ones, the built-in steps included, so jiffies
//! stand still), or at the next tick if it has not answered (counted in
//! [`TickPath::grabber_silent`], and run as "not done"), or when the grab
//! ends for any reason (run as "not done"). So time never stops for a
//! silent or dead grabber, and no tick's jiffies are lost.
//!
//! Guarantees:
//! - No syscalls and no callbacks: the caller sends the returned posts.
//!   A post that fails (the task died or restarted) is the caller's to
//!   report back with [`TickPath::forget`].
//! - Every expiry of a step is queued for its owner before the step
//!   returns, and its owner's bit is in the batch; a record carries the
//!   jiffy it was due and `jiffies_64` after the step's `do_timer`.
//! - The common periodic tick (nothing hooked, nothing due, no grab
//!   pending) touches only the core's fast path and leaves the batch empty.

use crate::fired::{Fired, Record};
use crate::posts::Posts;
use crate::target::{Target, TimerToken};
use crate::Core;
use abi::TaskId;
use timer_core::{DueSlot, Expired, HookError, HookId, HookKind, Jiffies, Owner, TickVisitor};

/// What [`TickPath::forget`] removed.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Forgotten {
    /// Hooks removed.
    pub hooks: usize,
    /// Timers freed (pending or not).
    pub timers: usize,
    /// The owner held the grab: it has ended (the caller restores the
    /// tick rate).
    pub was_grabber: bool,
}

/// The tick path over a core and fired queues that live elsewhere (the
/// server keeps both in statics; they are too large for its stack).
pub struct TickPath<'a, const POOL: usize, const HOOKS: usize, const OWNERS: usize> {
    /// Jiffies, the wheel and the hook chain.
    core: &'a mut Core<POOL, HOOKS, OWNERS>,
    /// Expiries waiting for their owners' `fetch_fired`.
    fired: &'a mut Fired<POOL, OWNERS>,
    /// Notifications produced and not yet taken by the caller.
    posts: Posts<OWNERS>,
    /// Jiffies the grabber's pending tick covers, between posting it and
    /// its answer; 0 when no tick waits.
    grab_pending: u32,
    /// Ticks a grabber left unanswered until the next one.
    grabber_silent: u32,
    /// Owners forgotten (died or restarted).
    owners_forgotten: u32,
}

/// Collects what one run of the chain produces.
struct Deliver<'p, const POOL: usize, const OWNERS: usize> {
    fired: &'p mut Fired<POOL, OWNERS>,
    posts: &'p mut Posts<OWNERS>,
    /// `jiffies_64` after this run's `do_timer`.
    now: u64,
    grab_done: bool,
}

impl<const POOL: usize, const OWNERS: usize> TickVisitor<TimerToken, Target> for Deliver<'_, POOL, OWNERS> {
    fn grabbed(&mut self, _hook: HookId, _owner: Owner, _target: Target) -> bool {
        self.grab_done
    }

    fn hook(&mut self, _hook: HookId, _owner: Owner, target: Target) {
        self.posts.add(target);
    }

    #[inline(always)]
    fn expired(&mut self, e: Expired<TimerToken>) {
        let owner = TaskId(e.token.task).index();
        if owner < OWNERS {
            let rec = Record {
                handle: e.handle.to_bits(),
                expires: e.expires.0,
                fired_at: self.now,
                token: e.token.user,
                seq: 0,
            };
            self.fired.push(e.handle.index() as usize, owner, rec);
            self.posts.add(e.token.target());
        }
    }
}

impl<'a, const POOL: usize, const HOOKS: usize, const OWNERS: usize> TickPath<'a, POOL, HOOKS, OWNERS> {
    /// The path over `core` and `fired`, with nothing pending.
    pub fn new(core: &'a mut Core<POOL, HOOKS, OWNERS>, fired: &'a mut Fired<POOL, OWNERS>) -> Self {
        TickPath { core, fired, posts: Posts::new(), grab_pending: 0, grabber_silent: 0, owners_forgotten: 0 }
    }

    /// The core (read-only).
    #[inline(always)]
    pub fn core(&self) -> &Core<POOL, HOOKS, OWNERS> {
        self.core
    }

    /// The core: timers and hooks are set up through it.
    #[inline(always)]
    pub fn core_mut(&mut self) -> &mut Core<POOL, HOOKS, OWNERS> {
        self.core
    }

    /// The fired queues: re-arming, cancelling and freeing a timer drop its
    /// record there; `fetch_fired` pops them.
    #[inline(always)]
    pub fn fired_mut(&mut self) -> &mut Fired<POOL, OWNERS> {
        self.fired
    }

    /// What is waiting to be posted (empty after every entry point's batch
    /// is drained).
    #[inline(always)]
    pub fn posts(&mut self) -> &mut Posts<OWNERS> {
        &mut self.posts
    }

    /// Ticks a grabber left unanswered until the next tick.
    pub fn grabber_silent(&self) -> u32 {
        self.grabber_silent
    }

    /// Owners forgotten so far.
    pub fn owners_forgotten(&self) -> u32 {
        self.owners_forgotten
    }

    /// Jiffies of the tick waiting for the grabber's answer (0: none).
    pub fn grab_pending(&self) -> u32 {
        self.grab_pending
    }

    /// The task index of the grabber's owner, if a client hook holds the
    /// grab.
    pub fn grabber_owner(&self) -> Option<usize> {
        let g = self.core.hooks().grabber()?;
        match self.core.hooks().kind(g) {
            Ok(HookKind::Client(o)) => Some(o.0 as usize),
            _ => None,
        }
    }

    /// The tick device fired, covering `ticks` jiffies (1 in periodic mode).
    /// Without a grabber the chain runs now. With one, a tick still waiting
    /// for its answer runs first as "not done" (a silent grabber), then the
    /// grabber's bit is posted and this tick waits for [`TickPath::answer`].
    #[inline]
    pub fn tick(&mut self, ticks: u32) -> &mut Posts<OWNERS> {
        // The common cases: nothing hooked (so no grabber) and no tick
        // waiting; nothing due, or the wheel's expiries straight away.
        if self.grab_pending == 0 && self.core.only_builtin_hooks() {
            if ticks == 1 {
                match self.core.tick_if_idle_or_due() {
                    Ok(()) => return &mut self.posts,
                    Err(Some(due)) => {
                        self.fire_due(due);
                        return &mut self.posts;
                    }
                    Err(None) => {}
                }
            }
            self.run(ticks, false);
            return &mut self.posts;
        }
        self.tick_slow(ticks)
    }

    /// The periodic tick whose next jiffy has timers due.
    #[inline(always)]
    fn fire_due(&mut self, due: DueSlot) {
        let now = self.core.jiffies().0.wrapping_add(1);
        let mut v = Deliver { fired: self.fired, posts: &mut self.posts, now, grab_done: false };
        self.core.fire_due(due, &mut v);
    }

    fn tick_slow(&mut self, ticks: u32) -> &mut Posts<OWNERS> {
        if self.grab_pending != 0 {
            self.grabber_silent = self.grabber_silent.wrapping_add(1);
            self.run(self.grab_pending, false);
        }
        match self.grabber_target() {
            Some(t) => {
                self.grab_pending = ticks;
                self.posts.add(t);
            }
            None => self.run(ticks, false),
        }
        &mut self.posts
    }

    /// The grabber `id` answered: the waiting tick (if any) runs, skipping
    /// the ordinary hooks if `done`. `NotGrabber` if `id` does not hold the
    /// grab.
    pub fn answer(&mut self, id: HookId, done: bool) -> Result<&mut Posts<OWNERS>, HookError> {
        if self.core.hooks().grabber() != Some(id) {
            return Err(HookError::NotGrabber);
        }
        if self.grab_pending != 0 {
            self.run(self.grab_pending, done);
        }
        Ok(&mut self.posts)
    }

    /// Tickless catch-up: time is `now` on the clocksource's line; if that
    /// is after `jiffies_64`, run the chain once for the difference (at
    /// most `u32::MAX` jiffies; `do_timer(ticks)` with ticks > 1), firing
    /// everything due in between in order. A `now` at or before jiffies_64
    /// (or 2^63 or more ahead, which reads as before) changes nothing.
    pub fn catch_up(&mut self, now: Jiffies) -> &mut Posts<OWNERS> {
        let behind = now.since(self.core.jiffies());
        if behind > 0 && behind < (1 << 63) {
            self.run(behind.min(u32::MAX as u64) as u32, false);
        }
        &mut self.posts
    }

    /// Ends the grab `id` holds (`NotGrabber` if it holds none): a tick
    /// waiting for its answer runs as "not done". The caller restores the
    /// tick rate.
    pub fn ungrab(&mut self, id: HookId) -> Result<&mut Posts<OWNERS>, HookError> {
        self.core.ungrab_hook(id)?;
        Ok(self.end_grab())
    }

    /// What ending a grab leaves to do once the chain has no grabber: a
    /// waiting tick runs as "not done".
    pub fn end_grab(&mut self) -> &mut Posts<OWNERS> {
        if self.grab_pending != 0 {
            self.run(self.grab_pending, false);
        }
        &mut self.posts
    }

    /// Task index `owner` died or restarted: its hooks, timers and queued
    /// expiries go; a grab it held ends as [`TickPath::ungrab`] ends it.
    /// Posts the ended grab produced are in [`TickPath::posts`].
    pub fn forget(&mut self, owner: usize) -> Forgotten {
        let was_grabber = self.grabber_owner() == Some(owner);
        let (hooks, timers) = self.core.forget_owner(Owner(owner as u16));
        if owner < OWNERS {
            self.fired.clear_owner(owner);
        }
        self.owners_forgotten = self.owners_forgotten.wrapping_add(1);
        if was_grabber {
            self.end_grab();
        }
        Forgotten { hooks, timers, was_grabber }
    }

    /// Whom the grabber's hook notifies, if there is a grabber.
    fn grabber_target(&self) -> Option<Target> {
        let g = self.core.hooks().grabber()?;
        self.core.hooks().token(g).ok()
    }

    /// Runs the hook chain once for `ticks` jiffies (`grab_done` is the
    /// grabber's answer); no tick waits for the grabber afterwards.
    fn run(&mut self, ticks: u32, grab_done: bool) {
        self.grab_pending = 0;
        let mut v = Deliver {
            fired: self.fired,
            posts: &mut self.posts,
            now: self.core.jiffies().0.wrapping_add(ticks as u64),
            grab_done,
        };
        self.core.tick(ticks, &mut v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posts::Post;
    use std::boxed::Box;
    use std::vec::Vec;
    use timer_core::{HookPolicy, Hz, TimerKind};

    type P = TickPath<'static, 32, 8, 8>;

    fn path(start: u64) -> P {
        let core = Box::leak(Box::new(Core::<32, 8, 8>::starting_at(Hz::new(100).unwrap(), Jiffies(start))));
        TickPath::new(core, Box::leak(Box::new(Fired::new())))
    }

    fn hook(p: &mut P, owner: u16, bit: u8, run_always: bool) -> HookId {
        let t = Target { task: owner, bit };
        p.core_mut().register_hook_with(Owner(owner), run_always, t, &HookPolicy::ANY).unwrap()
    }

    fn arm(p: &mut P, owner: u16, bit: u8, user: u32, at: u64) {
        let tok = TimerToken::new(Target { task: owner, bit }, 0, user).unwrap();
        let w = p.core_mut().wheel_mut();
        let h = w.alloc(Owner(owner), tok, TimerKind::Normal, 32).unwrap();
        w.add_timer(h, Jiffies(at)).unwrap();
    }

    fn drain(posts: &mut Posts<8>) -> Vec<Post> {
        posts.collect()
    }

    #[test]
    fn an_idle_tick_posts_nothing_and_a_due_timer_posts_its_owner_once() {
        let mut p = path(100);
        assert!(p.tick(1).is_empty());
        arm(&mut p, 3, 2, 7, 103);
        arm(&mut p, 3, 2, 8, 103);
        arm(&mut p, 4, 0, 9, 103);
        assert!(p.tick(1).is_empty());
        assert_eq!(drain(p.tick(1)), [Post { task: 3, bits: 1 << 2 }, Post { task: 4, bits: 1 }]);
        assert_eq!(p.core().jiffies(), Jiffies(103));
        let r = p.fired_mut().pop(3).unwrap();
        assert_eq!((r.token, r.expires, r.fired_at), (7, 103, 103));
        assert_eq!(p.fired_mut().pop(3).unwrap().token, 8);
        assert_eq!(p.fired_mut().pop(4).unwrap().token, 9);
    }

    #[test]
    fn hooks_post_their_target_on_every_tick() {
        let mut p = path(0);
        hook(&mut p, 5, 1, false);
        hook(&mut p, 6, 3, true);
        for _ in 0..3 {
            assert_eq!(drain(p.tick(1)), [Post { task: 5, bits: 2 }, Post { task: 6, bits: 8 }]);
        }
        assert_eq!(p.core().jiffies(), Jiffies(3));
    }

    #[test]
    fn the_grabber_is_posted_first_and_its_answer_runs_the_chain() {
        let mut p = path(0);
        hook(&mut p, 5, 1, false);
        hook(&mut p, 6, 3, true);
        let g = hook(&mut p, 7, 0, false);
        p.core_mut().grab_hook(g, &HookPolicy::ANY).unwrap();
        assert_eq!(drain(p.tick(1)), [Post { task: 7, bits: 1 }]);
        assert_eq!((p.grab_pending(), p.core().jiffies()), (1, Jiffies(0)));
        // "Done": only run_always hooks, jiffies stand still.
        assert_eq!(drain(p.answer(g, true).unwrap()), [Post { task: 6, bits: 8 }]);
        assert_eq!((p.grab_pending(), p.core().jiffies()), (0, Jiffies(0)));
        // An answer with no tick waiting changes nothing.
        assert!(p.answer(g, false).unwrap().is_empty());
        p.tick(1).for_each(drop);
        assert_eq!(drain(p.answer(g, false).unwrap()), [Post { task: 5, bits: 2 }, Post { task: 6, bits: 8 }]);
        assert_eq!(p.core().jiffies(), Jiffies(1));
        let other = p.core().hooks().iter().find(|h| h.1 == HookKind::Client(Owner(5))).unwrap().0;
        assert_eq!(p.answer(other, true).err(), Some(HookError::NotGrabber));
    }

    #[test]
    fn a_silent_grabber_is_counted_and_its_tick_runs_as_not_done() {
        let mut p = path(0);
        let g = hook(&mut p, 7, 0, false);
        p.core_mut().grab_hook(g, &HookPolicy::ANY).unwrap();
        assert_eq!(drain(p.tick(1)), [Post { task: 7, bits: 1 }]);
        // No answer: the next tick runs the waiting one, then posts again.
        assert_eq!(drain(p.tick(2)), [Post { task: 7, bits: 1 }]);
        assert_eq!((p.grabber_silent(), p.core().jiffies(), p.grab_pending()), (1, Jiffies(1), 2));
        // Ending the grab runs the waiting tick as "not done", the former
        // grabber's hook now an ordinary member of the chain.
        assert_eq!(drain(p.ungrab(g).unwrap()), [Post { task: 7, bits: 1 }]);
        assert_eq!((p.core().jiffies(), p.grab_pending()), (Jiffies(3), 0));
        assert_eq!(p.ungrab(g).err(), Some(HookError::NotGrabber));
    }

    #[test]
    fn forgetting_the_grabber_ends_the_grab_without_losing_its_tick() {
        let mut p = path(0);
        let g = hook(&mut p, 7, 0, false);
        p.core_mut().grab_hook(g, &HookPolicy::ANY).unwrap();
        arm(&mut p, 7, 1, 1, 1);
        arm(&mut p, 2, 4, 2, 1);
        p.tick(1).for_each(drop);
        let f = p.forget(7);
        assert_eq!(f, Forgotten { hooks: 1, timers: 1, was_grabber: true });
        assert_eq!(p.core().hooks().grabber(), None);
        // The waiting tick ran: task 2's timer fired, task 7's was freed.
        assert_eq!(drain(p.posts()), [Post { task: 2, bits: 1 << 4 }]);
        assert_eq!((p.core().jiffies(), p.owners_forgotten()), (Jiffies(1), 1));
        assert_eq!(p.fired_mut().len(7), 0);
        assert_eq!(p.forget(3), Forgotten::default());
    }

    #[test]
    fn catch_up_fires_everything_due_in_one_run() {
        let mut p = path(1000);
        for (k, d) in [1u64, 255, 256, 5000].into_iter().enumerate() {
            arm(&mut p, 1, 0, k as u32, 1000 + d);
        }
        assert!(p.catch_up(Jiffies(1000)).is_empty());
        assert!(p.catch_up(Jiffies(0)).is_empty());
        assert_eq!(drain(p.catch_up(Jiffies(1300))), [Post { task: 1, bits: 1 }]);
        let got: Vec<_> = core::iter::from_fn(|| p.fired_mut().pop(1)).map(|r| (r.token, r.expires, r.fired_at)).collect();
        assert_eq!(got, [(0, 1001, 1300), (1, 1255, 1300), (2, 1256, 1300)]);
        assert_eq!(p.core().jiffies(), Jiffies(1300));
    }
}
