//! The tick hook chain: an ordered list of things run on every timer
//! tick, one of which may grab the tick. It generalises Linux 2.6's
//! single timer hook (`register_timer_hook`/`unregister_timer_hook` in
//! kernel/profile.c, called from the tick) into a chain.
//!
//! Why this module exists: the timer server's own per-tick steps (advance
//! jiffies, run the wheel) and the hooks that client tasks register all run
//! from one chain, so a driver that grabs the tick (the classic PC-speaker
//! sound driver: the tick hardware run faster than HZ, with only every
//! n-th tick handed on to the kernel's timer code) can suppress the
//! server's own steps on the extra ticks.
//!
//! Rules, each with a unit test below:
//! - `setup`/`remove` insert/remove a hook with an explicit `run_always`
//!   flag; `register`/`unregister` do the same for a client hook with
//!   `run_always` off.
//! - A new hook goes to the *head* of the chain, so built-in steps set up at
//!   start in reverse order end up in forward order, after every client hook.
//! - `grab` makes a hook the grabber; a second `grab` while one is held
//!   (even by the same hook) is [`HookError::Busy`]. `ungrab` by a hook that
//!   is not the grabber is [`HookError::NotGrabber`] and changes nothing.
//! - A tick runs the grabber first. If it answers "done", the rest of the
//!   chain is skipped except hooks with `run_always`; otherwise the whole
//!   chain runs in order.
//! - Each hook carries a token (`K`) given at setup and handed back when it
//!   runs, as each timer of the wheel does: the timer server keeps there the
//!   task and notification bit a client hook posts.
//!
//! The grabber runs exactly once per tick: it is not called a second time
//! during the walk of the chain when it does not answer "done".
//!
//! Guarantees: fixed capacity `H` (at most 255), no heap; stale [`HookId`]s
//! are rejected by an 8-bit generation; removing the grabber releases the grab.
//!
//! Who may do what is a [`HookPolicy`] (the timer server's app.toml config:
//! `hook-quota`, `grab-tasks`), enforced by `TimerCore::register_hook`
//! and `TimerCore::grab_hook`: one owner cannot take every slot of the
//! chain, and only owners the image trusts can grab the tick. The chain
//! itself ([`HookChain::setup`], [`HookChain::grab`]) is the mechanism and
//! checks no policy.

use crate::pool::Owner;

/// "No hook" in the chain's `u8` links (`head`, `grabber`, `next`), as
/// inspectors read it from [`crate::layout::HOOK_NIL`].
pub(crate) const NIL: u8 = u8::MAX;

/// What a hook does when it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookKind {
    /// Built-in: advance `jiffies_64` by the ticks elapsed (`do_timer`).
    AdvanceJiffies,
    /// Built-in: run the timer wheel up to the current jiffy.
    RunWheel,
    /// A client's hook: the server posts the owner's notification.
    Client(Owner),
}

/// How a hook is being run on this tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookRole {
    /// As the grabber, first; its answer ("done") decides the rest.
    Grabber,
    /// As a member of the chain; its answer is ignored.
    Chain,
}

/// Names a hook: slot plus generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HookId {
    index: u8,
    generation: u8,
}

impl HookId {
    /// Pack for IPC: generation in bits 8..16, slot in 0..8.
    pub const fn to_bits(self) -> u16 {
        ((self.generation as u16) << 8) | self.index as u16
    }
    /// Unpack a value from [`HookId::to_bits`]; validated when used.
    pub const fn from_bits(bits: u16) -> HookId {
        HookId { index: bits as u8, generation: (bits >> 8) as u8 }
    }
}

/// Why a hook operation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookError {
    /// No free hook slot.
    Full,
    /// The id names a removed hook or no hook.
    Stale,
    /// Another grab is in force.
    Busy,
    /// `ungrab` by a hook that is not the grabber.
    NotGrabber,
    /// The owner already holds as many client hooks as the policy allows
    /// (`HookPolicy::per_owner`).
    Quota,
    /// The hook's owner may not grab the tick (not in
    /// `HookPolicy::grabbers`), or the hook is a built-in step.
    NotPermitted,
}

/// Limits on client hooks: the timer server's `hook-quota` and
/// `grab-tasks` config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HookPolicy {
    /// Most client hooks one owner may hold at once.
    pub per_owner: usize,
    /// Bit `i` set: owner `i` may grab the tick. Owners 32 and above
    /// never may.
    pub grabbers: u32,
}

impl HookPolicy {
    /// No limits: any owner may hold any number of hooks and grab (tests
    /// and benchmarks of the chain itself; never a server's policy).
    pub const ANY: HookPolicy = HookPolicy { per_owner: usize::MAX, grabbers: u32::MAX };

    /// Whether `owner` may grab the tick.
    pub const fn may_grab(&self, owner: Owner) -> bool {
        (owner.0 as u32) < 32 && self.grabbers & (1 << owner.0) != 0
    }
}

#[derive(Clone, Copy, Debug)]
struct Slot<K> {
    next: u8,
    generation: u8,
    live: bool,
    run_always: bool,
    kind: HookKind,
    /// The caller's token, given at setup and handed back on every run (the
    /// timer server's: which task and notification bit a client hook posts).
    token: K,
}

/// The chain: up to `H` hooks (`H <= 255`), each carrying a token `K` as
/// the wheel's timers do (`()` costs nothing).
pub struct HookChain<const H: usize, K = ()> {
    slots: [Slot<K>; H],
    head: u8,
    grabber: u8,
    free: u8,
    len: u8,
}

/// What one tick of the chain did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChainRun {
    /// The grabber answered "done".
    pub done: bool,
    /// Hooks run, the grabber included.
    pub ran: u8,
}

impl<const H: usize, K: Copy + Default> Default for HookChain<H, K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const H: usize, K: Copy + Default> HookChain<H, K> {
    /// An empty chain.
    pub fn new() -> Self {
        const { assert!(H < NIL as usize, "at most 254 hooks") };
        let mut slots = [Slot {
            next: NIL,
            generation: 1,
            live: false,
            run_always: false,
            kind: HookKind::RunWheel,
            token: K::default(),
        }; H];
        let mut i = 0;
        while i < H {
            slots[i].next = if i + 1 < H { (i + 1) as u8 } else { NIL };
            i += 1;
        }
        HookChain { slots, head: NIL, grabber: NIL, free: if H > 0 { 0 } else { NIL }, len: 0 }
    }

    fn resolve(&self, id: HookId) -> Result<usize, HookError> {
        match self.slots.get(id.index as usize) {
            Some(s) if s.live && s.generation == id.generation => Ok(id.index as usize),
            _ => Err(HookError::Stale),
        }
    }

    /// What a hook does.
    pub fn kind(&self, id: HookId) -> Result<HookKind, HookError> {
        Ok(self.slots[self.resolve(id)?].kind)
    }

    /// The token a hook was set up with.
    pub fn token(&self, id: HookId) -> Result<K, HookError> {
        Ok(self.slots[self.resolve(id)?].token)
    }

    /// Insert a hook at the head of the chain (`setup_timer_hook`), with
    /// the default token.
    pub fn setup(&mut self, kind: HookKind, run_always: bool) -> Result<HookId, HookError> {
        self.setup_with(kind, run_always, K::default())
    }

    /// [`HookChain::setup`] with `token`, handed back by [`HookChain::run`]
    /// and [`HookChain::token`] for as long as the hook lives.
    pub fn setup_with(&mut self, kind: HookKind, run_always: bool, token: K) -> Result<HookId, HookError> {
        if self.free == NIL {
            return Err(HookError::Full);
        }
        let i = self.free as usize;
        self.free = self.slots[i].next;
        let s = &mut self.slots[i];
        s.live = true;
        s.run_always = run_always;
        s.kind = kind;
        s.token = token;
        s.next = self.head;
        self.head = i as u8;
        self.len += 1;
        Ok(HookId { index: i as u8, generation: s.generation })
    }

    /// Take a hook out of the chain (`remove_timer_hook`); a grab it held is
    /// released. The id is stale afterwards.
    pub fn remove(&mut self, id: HookId) -> Result<(), HookError> {
        let i = self.resolve(id)?;
        let mut p = self.head;
        if p as usize == i {
            self.head = self.slots[i].next;
        } else {
            while self.slots[p as usize].next as usize != i {
                p = self.slots[p as usize].next;
            }
            self.slots[p as usize].next = self.slots[i].next;
        }
        if self.grabber as usize == i {
            self.grabber = NIL;
        }
        let s = &mut self.slots[i];
        s.live = false;
        s.generation = if s.generation == u8::MAX { 1 } else { s.generation + 1 };
        s.next = self.free;
        self.free = i as u8;
        self.len -= 1;
        Ok(())
    }

    /// A client hook with `run_always` off, at the head (`register_timer_hook`).
    pub fn register(&mut self, owner: Owner) -> Result<HookId, HookError> {
        self.setup(HookKind::Client(owner), false)
    }

    /// Same as [`HookChain::remove`] (`unregister_timer_hook`).
    pub fn unregister(&mut self, id: HookId) -> Result<(), HookError> {
        self.remove(id)
    }

    /// Make `id` the grabber; [`HookError::Busy`] if any grab is in force.
    pub fn grab(&mut self, id: HookId) -> Result<(), HookError> {
        let i = self.resolve(id)?;
        if self.grabber != NIL {
            return Err(HookError::Busy);
        }
        self.grabber = i as u8;
        Ok(())
    }

    /// Release the grab held by `id`.
    pub fn ungrab(&mut self, id: HookId) -> Result<(), HookError> {
        let i = self.resolve(id)?;
        if self.grabber as usize != i {
            return Err(HookError::NotGrabber);
        }
        self.grabber = NIL;
        Ok(())
    }

    /// The current grabber, if any.
    pub fn grabber(&self) -> Option<HookId> {
        if self.grabber == NIL {
            None
        } else {
            Some(HookId { index: self.grabber, generation: self.slots[self.grabber as usize].generation })
        }
    }

    /// Remove every client hook of `owner` (it died or restarted). Returns
    /// how many.
    pub fn remove_owner(&mut self, owner: Owner) -> usize {
        let mut n = 0;
        for i in 0..H {
            let s = self.slots[i];
            if s.live && s.kind == HookKind::Client(owner) {
                let _ = self.remove(HookId { index: i as u8, generation: s.generation });
                n += 1;
            }
        }
        n
    }

    /// Number of client hooks `owner` holds.
    pub fn owned_by(&self, owner: Owner) -> usize {
        self.slots.iter().filter(|s| s.live && s.kind == HookKind::Client(owner)).count()
    }

    /// Number of hooks in the chain.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// `true` if the chain has no hooks.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of client hooks (each needs every tick, so tickless idle is
    /// off while any exists).
    pub fn client_hooks(&self) -> usize {
        self.iter().filter(|(_, k, _)| matches!(k, HookKind::Client(_))).count()
    }

    /// The chain in run order: `(id, kind, run_always)`.
    pub fn iter(&self) -> impl Iterator<Item = (HookId, HookKind, bool)> + '_ {
        let mut p = self.head;
        core::iter::from_fn(move || {
            if p == NIL {
                return None;
            }
            let i = p as usize;
            let s = &self.slots[i];
            p = s.next;
            Some((HookId { index: i as u8, generation: s.generation }, s.kind, s.run_always))
        })
    }

    /// Run one tick: the grabber first (`f` returns its "done" answer), then
    /// every other hook in chain order unless the grabber said done, in which
    /// case only `run_always` hooks. `f` gets each hook's id, kind, token
    /// and role; its answer for chain hooks is ignored.
    #[inline]
    pub fn run(&self, mut f: impl FnMut(HookId, HookKind, K, HookRole) -> bool) -> ChainRun {
        let mut out = ChainRun::default();
        let g = self.grabber;
        if g != NIL {
            let s = &self.slots[g as usize];
            out.done = f(HookId { index: g, generation: s.generation }, s.kind, s.token, HookRole::Grabber);
            out.ran += 1;
        }
        let mut p = self.head;
        while p != NIL {
            let s = &self.slots[p as usize];
            if p != g && (!out.done || s.run_always) {
                f(HookId { index: p, generation: s.generation }, s.kind, s.token, HookRole::Chain);
                out.ran += 1;
            }
            p = s.next;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn order(c: &HookChain<8>) -> Vec<HookKind> {
        c.iter().map(|(_, k, _)| k).collect()
    }

    fn tick(c: &HookChain<8>, grab_done: bool) -> (Vec<(HookKind, HookRole)>, ChainRun) {
        let mut seen = Vec::new();
        let r = c.run(|_, k, _, role| {
            seen.push((k, role));
            role == HookRole::Grabber && grab_done
        });
        (seen, r)
    }

    const A: HookKind = HookKind::Client(Owner(1));
    const B: HookKind = HookKind::Client(Owner(2));
    const C: HookKind = HookKind::Client(Owner(3));

    #[test]
    fn new_hooks_go_to_the_head() {
        let mut c = HookChain::<8>::new();
        c.setup(A, false).unwrap();
        c.setup(B, false).unwrap();
        c.register(Owner(3)).unwrap();
        assert_eq!(order(&c), [C, B, A]);
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn builtins_set_up_in_reverse_run_in_forward_order_after_clients() {
        let mut c = HookChain::<8>::new();
        c.setup(HookKind::RunWheel, false).unwrap();
        c.setup(HookKind::AdvanceJiffies, false).unwrap();
        c.register(Owner(1)).unwrap();
        assert_eq!(order(&c), [A, HookKind::AdvanceJiffies, HookKind::RunWheel]);
        let (seen, r) = tick(&c, false);
        assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), [A, HookKind::AdvanceJiffies, HookKind::RunWheel]);
        assert_eq!(r, ChainRun { done: false, ran: 3 });
    }

    #[test]
    fn remove_and_unregister_take_hooks_out_and_stale_ids_fail() {
        let mut c = HookChain::<8>::new();
        let a = c.setup(A, false).unwrap();
        let b = c.register(Owner(2)).unwrap();
        let cc = c.setup(C, true).unwrap();
        c.remove(b).unwrap();
        assert_eq!(order(&c), [C, A]);
        assert_eq!(c.remove(b), Err(HookError::Stale));
        c.unregister(cc).unwrap();
        assert_eq!(order(&c), [A]);
        c.remove(a).unwrap();
        assert!(c.is_empty());
        // The slot is reused with a new generation; the old id stays stale.
        let d = c.register(Owner(4)).unwrap();
        assert_ne!(d, a);
        assert_eq!(c.grab(a), Err(HookError::Stale));
        assert_eq!(HookId::from_bits(d.to_bits()), d);
    }

    #[test]
    fn second_grab_is_busy_even_by_the_same_hook() {
        let mut c = HookChain::<8>::new();
        let a = c.register(Owner(1)).unwrap();
        let b = c.register(Owner(2)).unwrap();
        c.grab(a).unwrap();
        assert_eq!(c.grab(b), Err(HookError::Busy));
        assert_eq!(c.grab(a), Err(HookError::Busy));
        assert_eq!(c.grabber(), Some(a));
        assert_eq!(c.ungrab(b), Err(HookError::NotGrabber));
        assert_eq!(c.grabber(), Some(a));
        c.ungrab(a).unwrap();
        assert_eq!(c.grabber(), None);
        c.grab(b).unwrap();
        assert_eq!(c.grabber(), Some(b));
    }

    #[test]
    fn grabber_runs_first_and_once() {
        let mut c = HookChain::<8>::new();
        c.register(Owner(1)).unwrap();
        let b = c.register(Owner(2)).unwrap();
        c.register(Owner(3)).unwrap();
        c.grab(b).unwrap();
        let (seen, r) = tick(&c, false);
        assert_eq!(seen, [(B, HookRole::Grabber), (C, HookRole::Chain), (A, HookRole::Chain)]);
        assert_eq!(r, ChainRun { done: false, ran: 3 });
    }

    #[test]
    fn done_skips_the_rest_except_run_always() {
        let mut c = HookChain::<8>::new();
        c.setup(HookKind::RunWheel, false).unwrap();
        c.setup(HookKind::AdvanceJiffies, true).unwrap();
        c.setup(A, true).unwrap();
        let b = c.register(Owner(2)).unwrap();
        c.register(Owner(3)).unwrap();
        c.grab(b).unwrap();
        let (seen, r) = tick(&c, true);
        assert_eq!(
            seen,
            [(B, HookRole::Grabber), (A, HookRole::Chain), (HookKind::AdvanceJiffies, HookRole::Chain)]
        );
        assert_eq!(r, ChainRun { done: true, ran: 3 });
        // Without a grabber, "done" answers from chain hooks mean nothing.
        c.ungrab(b).unwrap();
        let (seen, r) = tick(&c, true);
        assert_eq!(seen.len(), 5);
        assert!(!r.done);
    }

    #[test]
    fn removing_the_grabber_releases_the_grab() {
        let mut c = HookChain::<8>::new();
        let a = c.register(Owner(1)).unwrap();
        let b = c.register(Owner(2)).unwrap();
        c.grab(a).unwrap();
        c.unregister(a).unwrap();
        assert_eq!(c.grabber(), None);
        c.grab(b).unwrap();
    }

    #[test]
    fn owned_by_counts_live_client_hooks_of_one_owner() {
        let mut c = HookChain::<8>::new();
        c.setup(HookKind::RunWheel, false).unwrap();
        let a = c.register(Owner(1)).unwrap();
        c.setup(A, true).unwrap();
        c.register(Owner(2)).unwrap();
        assert_eq!((c.owned_by(Owner(1)), c.owned_by(Owner(2)), c.owned_by(Owner(3))), (2, 1, 0));
        c.unregister(a).unwrap();
        assert_eq!(c.owned_by(Owner(1)), 1);
        c.remove_owner(Owner(1));
        assert_eq!(c.owned_by(Owner(1)), 0);
    }

    #[test]
    fn policy_may_grab_only_listed_owners_below_32() {
        let p = HookPolicy { per_owner: 2, grabbers: 1 << 4 | 1 << 31 };
        assert!(p.may_grab(Owner(4)) && p.may_grab(Owner(31)));
        assert!(!p.may_grab(Owner(0)) && !p.may_grab(Owner(5)));
        // Past the mask: never, and no shift overflow.
        assert!(!p.may_grab(Owner(32)) && !p.may_grab(Owner(u16::MAX)));
        assert!(HookPolicy::ANY.may_grab(Owner(0)) && !HookPolicy::ANY.may_grab(Owner(40)));
    }

    #[test]
    fn capacity_is_an_error_not_a_panic_and_owner_cleanup() {
        let mut c = HookChain::<3>::new();
        c.register(Owner(7)).unwrap();
        c.register(Owner(8)).unwrap();
        let x = c.register(Owner(7)).unwrap();
        assert_eq!(c.register(Owner(9)), Err(HookError::Full));
        c.grab(x).unwrap();
        assert_eq!(c.client_hooks(), 3);
        assert_eq!(c.remove_owner(Owner(7)), 2);
        assert_eq!(c.grabber(), None);
        assert_eq!(c.len(), 1);
        c.register(Owner(9)).unwrap();
    }
}
