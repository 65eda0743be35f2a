//! The tick path: hook chain, `do_timer`, run the wheel.
//!
//! Why this module exists: it ties the three parts together the way the
//! timer server's interrupt path uses them. [`TimerCore::new`] sets up the
//! built-in steps as hooks, each at the head and so in reverse order, so
//! the chain reads `[client hooks (newest first)..., AdvanceJiffies,
//! RunWheel]` (Linux's tick: `do_timer` then `run_local_timers`), and
//! [`TimerCore::tick`] runs that chain once per timer interrupt.
//!
//! Guarantees:
//! - `jiffies_64` starts at [`Hz::initial_jiffies`] unless told otherwise and
//!   only moves forward, by the `ticks` given to each `tick` whose
//!   `AdvanceJiffies` step runs (`do_timer(ticks)`; more than 1 after missed
//!   ticks or a tickless sleep).
//! - When a grabber answers "done", steps without `run_always` are skipped
//!   for that tick, the built-in ones included: jiffies do not advance and
//!   the wheel does not run (a driver running the tick faster than HZ).
//! - The wheel is always run up to the current `jiffies_64`, so a catch-up
//!   after a skipped or long tick fires everything due, in order.

use crate::hooks::{HookChain, HookError, HookId, HookKind, HookPolicy, HookRole};
use crate::jiffies::{Hz, Jiffies, MAX_JIFFY_OFFSET};
use crate::pool::{LinkIndex, Owner, TimerError, TimerHandle};
use crate::slack::Slack;
use crate::wheel::{DueSlot, Expired, Wheel};

/// Receives what a tick produces. The timer server's tick path
/// (`timer-tick`) implements it by queueing expiries and batching posts;
/// tests record the calls. `K` is the hooks' token type.
pub trait TickVisitor<T, K = ()> {
    /// The grabbing client hook (with its token) runs first; return `true`
    /// ("done") to skip every non-`run_always` hook for this tick.
    fn grabbed(&mut self, hook: HookId, owner: Owner, token: K) -> bool;
    /// A client hook runs, with the token it was registered with.
    fn hook(&mut self, hook: HookId, owner: Owner, token: K);
    /// A timer expired.
    fn expired(&mut self, e: Expired<T>);
}

/// What one [`TimerCore::tick`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    /// The grabber answered "done".
    pub grabbed_done: bool,
    /// `jiffies_64` was advanced.
    pub advanced: bool,
    /// The wheel was run.
    pub ran_wheel: bool,
    /// Expiries delivered.
    pub fired: u32,
}

/// Jiffies, the wheel of `CAP` timers and a chain of up to `HOOKS` hooks
/// (2 of which are the built-in steps). Timers carry a token `T`, hooks a
/// token `K`.
pub struct TimerCore<const CAP: usize, const HOOKS: usize, T = (), I = u16, const OWNERS: usize = 32, K = ()> {
    hz: Hz,
    jiffies: Jiffies,
    wheel: Wheel<CAP, T, I, OWNERS>,
    hooks: HookChain<HOOKS, K>,
}

impl<const CAP: usize, const HOOKS: usize, T: Copy + Default, I: LinkIndex, const OWNERS: usize, K: Copy + Default>
    TimerCore<CAP, HOOKS, T, I, OWNERS, K>
{
    /// Start at `INITIAL_JIFFIES` for `hz`.
    pub fn new(hz: Hz) -> Self {
        Self::starting_at(hz, hz.initial_jiffies())
    }

    /// Start at an arbitrary jiffy (tests, or a restarted server resuming
    /// the time line).
    pub fn starting_at(hz: Hz, start: Jiffies) -> Self {
        let mut hooks = HookChain::new();
        Self::setup_builtin_steps(&mut hooks);
        TimerCore { hz, jiffies: start, wheel: Wheel::new(start), hooks }
    }

    /// The built-in steps, set up in reverse order, each at the head: the
    /// chain then reads AdvanceJiffies, RunWheel.
    fn setup_builtin_steps(hooks: &mut HookChain<HOOKS, K>) {
        hooks.setup(HookKind::RunWheel, false).expect("HOOKS must be at least 2");
        hooks.setup(HookKind::AdvanceJiffies, false).expect("HOOKS must be at least 2");
    }

    /// [`TimerCore::starting_at`], built in place in `slot` (a static, say)
    /// instead of on the stack: a pool of 512 timers is over 14 KiB, more
    /// than a task stack should hold even once, and a by-value return may
    /// need several copies.
    #[allow(unsafe_code)]
    pub fn init_in(slot: &mut core::mem::MaybeUninit<Self>, hz: Hz, start: Jiffies) -> &mut Self {
        let p = slot.as_mut_ptr();
        // Safety: `p` comes from a `&mut MaybeUninit<Self>`, so it is valid
        // and aligned; every field is initialised below before
        // `assume_init_mut` (the wheel by `Wheel::init_at`, whose contract
        // is exactly this).
        unsafe {
            core::ptr::addr_of_mut!((*p).hz).write(hz);
            core::ptr::addr_of_mut!((*p).jiffies).write(start);
            Wheel::init_at(core::ptr::addr_of_mut!((*p).wheel), start);
            core::ptr::addr_of_mut!((*p).hooks).write(HookChain::new());
            let this = slot.assume_init_mut();
            Self::setup_builtin_steps(&mut this.hooks);
            this
        }
    }

    /// Tick rate.
    pub fn hz(&self) -> Hz {
        self.hz
    }

    /// `jiffies_64`.
    pub fn jiffies(&self) -> Jiffies {
        self.jiffies
    }

    /// The 32-bit `jiffies` view.
    pub fn jiffies32(&self) -> u32 {
        self.jiffies.low32()
    }

    /// The wheel (read-only).
    pub fn wheel(&self) -> &Wheel<CAP, T, I, OWNERS> {
        &self.wheel
    }

    /// The wheel: alloc, add/mod/del, free.
    pub fn wheel_mut(&mut self) -> &mut Wheel<CAP, T, I, OWNERS> {
        &mut self.wheel
    }

    /// The hook chain (read-only).
    pub fn hooks(&self) -> &HookChain<HOOKS, K> {
        &self.hooks
    }

    /// Register a client hook (head of the chain), if `owner` holds fewer
    /// than `policy.per_owner` hooks ([`HookError::Quota`] otherwise, even
    /// when the chain is also full: the owner can fix that by removing one
    /// of its own).
    ///
    /// Never inlined: registering is rare, and the timer server's dispatch
    /// loop, which would inline it, also holds the add/mod/del paths; the
    /// quota's walk of the slots, inlined there, cost add_timer 17
    /// instructions through register allocation alone (measured with
    /// `cargo xtask bench`).
    #[inline(never)]
    pub fn register_hook(&mut self, owner: Owner, run_always: bool, policy: &HookPolicy) -> Result<HookId, HookError> {
        self.register_hook_with(owner, run_always, K::default(), policy)
    }

    /// [`TimerCore::register_hook`] with `token`, which the chain hands
    /// back whenever the hook runs ([`TickVisitor::hook`]).
    #[inline(never)]
    pub fn register_hook_with(
        &mut self,
        owner: Owner,
        run_always: bool,
        token: K,
        policy: &HookPolicy,
    ) -> Result<HookId, HookError> {
        if self.hooks.owned_by(owner) >= policy.per_owner {
            return Err(HookError::Quota);
        }
        self.hooks.setup_with(HookKind::Client(owner), run_always, token)
    }

    /// Remove a client hook; the built-in steps cannot be removed.
    pub fn unregister_hook(&mut self, id: HookId) -> Result<(), HookError> {
        match self.hooks.kind(id)? {
            HookKind::Client(_) => self.hooks.remove(id),
            _ => Err(HookError::Stale),
        }
    }

    /// Grab the tick for a client hook whose owner `policy` allows to
    /// grab ([`HookError::NotPermitted`] otherwise, and for the built-in
    /// steps whatever the policy: a grabbing `RunWheel` would run the wheel
    /// before `AdvanceJiffies`, a tick behind; checked before `Busy`, so
    /// the answer does not depend on whether someone else holds the grab).
    pub fn grab_hook(&mut self, id: HookId, policy: &HookPolicy) -> Result<(), HookError> {
        match self.hooks.kind(id)? {
            HookKind::Client(owner) if policy.may_grab(owner) => self.hooks.grab(id),
            _ => Err(HookError::NotPermitted),
        }
    }

    /// Release a grab.
    pub fn ungrab_hook(&mut self, id: HookId) -> Result<(), HookError> {
        self.hooks.ungrab(id)
    }

    /// A client died or restarted: drop its hooks and timers. Returns
    /// `(hooks, timers)` removed.
    pub fn forget_owner(&mut self, owner: Owner) -> (usize, usize) {
        (self.hooks.remove_owner(owner), self.wheel.free_owner(owner))
    }

    /// `mod_timer` with slack computed from the current jiffies.
    pub fn mod_timer_slack(&mut self, h: TimerHandle, expires: Jiffies, slack: Slack) -> Result<bool, TimerError> {
        let now = self.jiffies;
        self.wheel.mod_timer_slack(h, expires, now, slack)
    }

    /// Absolute jiffy `ms` milliseconds from now, rounded up. A delay
    /// longer than [`MAX_JIFFY_OFFSET`] jiffies is clamped to it, as Linux's
    /// `msecs_to_jiffies` clamps, so the result is always in the future
    /// (`is_after(jiffies())` for any `ms > 0`) instead of wrapping into the
    /// past; the wheel then clamps it further to its `MAX_TIMEOUT`.
    pub fn after_msecs(&self, ms: u64) -> Jiffies {
        self.jiffies.wrapping_add(self.hz.msecs_to_jiffies(ms).min(MAX_JIFFY_OFFSET))
    }

    /// For tickless idle: `None` if a client hook needs every tick; else
    /// `Some(next)` where `next` is the next non-deferrable expiry (or
    /// `None` if there is nothing to wake for).
    pub fn tickless_deadline(&self) -> Option<Option<Jiffies>> {
        if !self.only_builtin_hooks() {
            None
        } else {
            Some(self.wheel.next_expiry())
        }
    }

    /// True if the chain holds only the two built-in steps (they cannot be
    /// removed: any more is a client hook, so there is no grabber either).
    /// A count, not a walk of the chain.
    #[inline(always)]
    pub fn only_builtin_hooks(&self) -> bool {
        self.hooks.len() == 2
    }

    /// The common periodic tick, cheaply: with only the built-in hooks and
    /// no timer due at the next jiffy (and no cascade), advance `jiffies`
    /// and the wheel by one, exactly as `tick(1, _)` would, and return
    /// true; otherwise change nothing and return false (call `tick`).
    pub fn tick_if_idle(&mut self) -> bool {
        let next = self.jiffies.wrapping_add(1);
        if self.hooks.len() == 2 && self.wheel.idle_step(next) {
            self.jiffies = next;
            true
        } else {
            false
        }
    }

    /// [`TimerCore::tick_if_idle`], telling why it refused: `Err(Some(due))`
    /// when only the built-in hooks exist and the next jiffy's slot has
    /// timers (give it to [`TimerCore::fire_due`]), `Err(None)` otherwise.
    #[inline(always)]
    pub fn tick_if_idle_or_due(&mut self) -> Result<(), Option<DueSlot>> {
        if self.hooks.len() != 2 {
            return Err(None);
        }
        let next = self.jiffies.wrapping_add(1);
        self.wheel.idle_step_or_due(next)?;
        self.jiffies = next;
        Ok(())
    }

    /// The one-jiffy tick [`TimerCore::tick_if_idle_or_due`] found due:
    /// jiffies and the wheel advance by one and the slot's timers fire
    /// through `v`, as `tick(1, v)` would (which runs instead if `due` is
    /// stale).
    #[inline(always)]
    pub fn fire_due(&mut self, due: DueSlot, v: &mut impl TickVisitor<T, K>) {
        if self.hooks.len() == 2 && self.wheel.fire_due(due, |e| v.expired(e)) {
            self.jiffies = self.jiffies.wrapping_add(1);
        } else {
            self.tick(1, v);
        }
    }

    /// One timer interrupt covering `ticks` jiffies (1 normally; more after
    /// missed ticks or a tickless sleep). Runs the hook chain; the built-in
    /// steps advance `jiffies_64` by `ticks` and run the wheel up to it.
    pub fn tick(&mut self, ticks: u32, v: &mut impl TickVisitor<T, K>) -> TickReport {
        if self.hooks.len() == 2 {
            // Only the built-in steps (they cannot be removed, so no client
            // hook and no grabber): the chain would run exactly
            // AdvanceJiffies then RunWheel, done here without the walk.
            self.jiffies = self.jiffies.wrapping_add(ticks as u64);
            // The periodic tick came here because `tick_if_idle` found work;
            // other callers lose nothing by skipping the idle check.
            let fired = self.wheel.run_timers_busy(self.jiffies, |e| v.expired(e)).fired;
            return TickReport { grabbed_done: false, advanced: true, ran_wheel: true, fired };
        }
        let mut rep = TickReport::default();
        let jiffies = &mut self.jiffies;
        let wheel = &mut self.wheel;
        let chain = self.hooks.run(|id, kind, token, role| match kind {
            HookKind::AdvanceJiffies => {
                *jiffies = jiffies.wrapping_add(ticks as u64);
                rep.advanced = true;
                false
            }
            HookKind::RunWheel => {
                rep.ran_wheel = true;
                rep.fired += wheel.run_timers(*jiffies, |e| v.expired(e)).fired;
                false
            }
            HookKind::Client(owner) => match role {
                HookRole::Grabber => v.grabbed(id, owner, token),
                HookRole::Chain => {
                    v.hook(id, owner, token);
                    false
                }
            },
        });
        rep.grabbed_done = chain.done;
        rep
    }
}
