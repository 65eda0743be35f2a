//! The cascading timer wheel over the fixed pool: Linux's `timer_list`
//! wheel of kernel/timer.c before 4.8 (`internal_add_timer`, `cascade`,
//! `__run_timers`).
//!
//! Why this module exists: it is the timer server's data structure. Arming,
//! re-arming and cancelling a timer must be O(1) whatever the number of
//! timers, and a tick must cost next to nothing when nothing expires.
//!
//! Guarantees:
//! - `add_timer`, `mod_timer`, `del_timer`, `timer_pending` are O(1) and
//!   have the Linux meanings: `add_timer` on a pending timer is an error;
//!   `mod_timer` and `del_timer` report whether the timer was pending;
//!   `mod_timer` to the expiry a pending timer already has changes nothing
//!   (not even its place in the FIFO order).
//! - A timer never fires before its expiry. `run_timers(now, ..)` fires every
//!   timer whose (normalized, see [`levels`]) expiry is `<= now`, in order of
//!   expiry; timers with the same expiry fire in the order they were armed,
//!   non-deferrable ones before deferrable ones. Missed ticks are caught up.
//! - Periodic timers are re-armed at `expires + period` (not `now + period`),
//!   so they do not drift; during a catch-up each missed period fires.
//! - Deferrable timers fire like others when the wheel runs, but are left out
//!   of [`Wheel::next_expiry`], so they never cause a wake-up from tickless idle.
//! - Memory: 16 bytes per timer with `u16` links (plus the caller's token
//!   type `T`), and 1024 list heads of 4 bytes plus 128 bytes of bitmaps.
//!
//! Order within a jiffy: timers that were armed further ahead sit at higher
//! levels and were necessarily armed earlier than timers for the same jiffy
//! filed at a lower level, so `cascade` files the timers it moves down in
//! *front* of those already there (walking its source list backwards). This
//! keeps "same expiry, arm order" exact, where appending would not.

pub mod levels;
mod occupancy;
mod run;

use crate::jiffies::Jiffies;
use crate::pool::{
    Link, LinkIndex, Owner, Pool, TimerError, TimerHandle, HEADS, META_ALLOCATED, META_DEFERRABLE,
};
use crate::slack::{apply_slack, Slack};
use levels::{normalize, slot_for, SLOTS};
use occupancy::Occupancy;

pub use run::{DueSlot, RunStats};

/// Kind of timer, fixed at allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TimerKind {
    /// An ordinary timer: it counts for [`Wheel::next_expiry`].
    #[default]
    Normal,
    /// A timer that must not wake the system: ignored by
    /// [`Wheel::next_expiry`], fired late after a tickless sleep.
    Deferrable,
}

/// One expiry, as delivered by [`Wheel::run_timers`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expired<T> {
    /// The timer.
    pub handle: TimerHandle,
    /// Its owner.
    pub owner: Owner,
    /// The caller's token stored at allocation.
    pub token: T,
    /// The jiffy it was due (absolute; after normalization, clamping and
    /// slack). It is `<=` the `now` of the run that fires it.
    pub expires: Jiffies,
    /// `true` if the timer is periodic and has been re-armed at
    /// `expires + period`.
    pub rearmed: bool,
}

/// The timer wheel with its pool of `CAP` timers.
///
/// Type parameters: `T` is a per-timer token returned with each expiry
/// (`()` costs nothing); `I` is the link index type (`u16` up to 64 511
/// timers); `OWNERS` bounds how many distinct owners may hold timers at once.
///
/// `repr(C)` in this order so that the bitmaps, touched on every arm and
/// cancel, sit within a load's immediate offset (4 KiB on Thumb-2) of the
/// wheel's start, ahead of the 4 KiB of list heads.
#[repr(C)]
pub struct Wheel<const CAP: usize, T = (), I = u16, const OWNERS: usize = 32> {
    /// The next jiffy the wheel will process (`timer_jiffies`): every jiffy
    /// before it has been run.
    timer_jiffies: u64,
    /// Non-empty slots, per class.
    occ: [Occupancy; 2],
    /// List heads (sentinels): `class * SLOTS + slot`, class 0 normal,
    /// class 1 deferrable.
    heads: [Link<I>; HEADS],
    pub(crate) pool: Pool<CAP, T, I, OWNERS>,
}

impl<const CAP: usize, T: Copy + Default, I: LinkIndex, const OWNERS: usize> Wheel<CAP, T, I, OWNERS> {
    /// An empty wheel whose first run will process jiffy `start`.
    pub fn new(start: Jiffies) -> Self {
        let mut heads = [Link { next: I::NIL, prev: I::NIL }; HEADS];
        for (h, l) in heads.iter_mut().enumerate() {
            *l = Link { next: I::from_usize(h), prev: I::from_usize(h) };
        }
        Wheel { timer_jiffies: start.0, heads, occ: [Occupancy::default(); 2], pool: Pool::new() }
    }

    /// Initialises a wheel at `p` in place, equal to [`Wheel::new`] but
    /// without building a temporary on the stack.
    ///
    /// # Safety
    /// `p` must be valid for writes and suitably aligned; any previous
    /// contents are overwritten without being dropped.
    #[allow(unsafe_code)]
    pub(crate) unsafe fn init_at(p: *mut Self, start: Jiffies) {
        // Safety: as for `Pool::init_at`: each field written once through a
        // raw pointer, arrays element by element.
        unsafe {
            core::ptr::addr_of_mut!((*p).timer_jiffies).write(start.0);
            let heads = core::ptr::addr_of_mut!((*p).heads) as *mut Link<I>;
            for h in 0..HEADS {
                heads.add(h).write(Link { next: I::from_usize(h), prev: I::from_usize(h) });
            }
            core::ptr::addr_of_mut!((*p).occ).write([Occupancy::default(); 2]);
            Pool::init_at(core::ptr::addr_of_mut!((*p).pool));
        }
    }

    /// Bytes of state per timer: the 16-byte node (20 with `u32` links)
    /// plus the token.
    pub const fn bytes_per_timer() -> usize {
        core::mem::size_of::<crate::pool::Node<I>>() + core::mem::size_of::<T>()
    }

    /// Bytes of wheel heads: list sentinels plus occupancy bitmaps.
    pub const fn head_bytes() -> usize {
        core::mem::size_of::<[Link<I>; HEADS]>() + core::mem::size_of::<[Occupancy; 2]>()
    }

    /// Pool capacity.
    pub const fn capacity(&self) -> usize {
        CAP
    }

    /// `timer_jiffies`: the next jiffy the wheel will process. A timer armed
    /// for an earlier jiffy is due at this one.
    #[inline]
    pub fn timer_jiffies(&self) -> Jiffies {
        Jiffies(self.timer_jiffies)
    }

    // ----- link plumbing -------------------------------------------------

    #[inline(always)]
    fn link(&self, x: usize) -> &Link<I> {
        if x < HEADS { &self.heads[x] } else { &self.pool.nodes[x - HEADS].link }
    }

    #[inline(always)]
    fn link_mut(&mut self, x: usize) -> &mut Link<I> {
        if x < HEADS { &mut self.heads[x] } else { &mut self.pool.nodes[x - HEADS].link }
    }

    #[inline(always)]
    fn class_of(&self, i: usize) -> usize {
        (self.pool.nodes[i].meta & META_DEFERRABLE != 0) as usize
    }

    /// Full 64-bit expiry of pending node `i`, relative to `reference`
    /// (any jiffy at or before its expiry and less than 2^32 before it).
    #[inline(always)]
    fn expiry_of(&self, i: usize, reference: u64) -> u64 {
        reference.wrapping_add(self.pool.nodes[i].expires.wrapping_sub(reference as u32) as u64)
    }

    /// File node `i` (not linked) for normalized expiry `e`; at the tail of
    /// its slot (arming) or at the front (cascading).
    #[inline(always)]
    fn file(&mut self, i: usize, e: u64, front: bool) {
        let h = self.list_for(i, e);
        self.file_at(i, e, h, front);
    }

    /// The list node `i` belongs in for normalized expiry `e`:
    /// `class * SLOTS + slot`.
    #[inline(always)]
    fn list_for(&self, i: usize, e: u64) -> usize {
        self.class_of(i) * SLOTS + slot_for(e, self.timer_jiffies)
    }

    /// [`Wheel::file`] with the list already found ([`Wheel::list_for`]).
    #[inline(always)]
    fn file_at(&mut self, i: usize, e: u64, h: usize, front: bool) {
        let x = HEADS + i;
        self.pool.nodes[i].expires = e as u32;
        if front {
            let first = self.heads[h].next;
            self.pool.nodes[i].link = Link { next: first, prev: I::from_usize(h) };
            self.link_mut(first.to_usize()).prev = I::from_usize(x);
            self.heads[h].next = I::from_usize(x);
        } else {
            let tail = self.heads[h].prev;
            self.pool.nodes[i].link = Link { next: I::from_usize(h), prev: tail };
            self.link_mut(tail.to_usize()).next = I::from_usize(x);
            self.heads[h].prev = I::from_usize(x);
        }
        self.occ_set(h);
    }

    /// Marks list `h` (`class * SLOTS + slot`) non-empty. The two classes'
    /// bitmaps are consecutive words, so word `h / 32` of the pair holds
    /// its bit: one load and store, whatever the class.
    #[inline(always)]
    fn occ_set(&mut self, h: usize) {
        self.occ_words()[h >> 5] |= 1 << (h & 31);
    }

    /// Marks list `h` empty (see [`Wheel::occ_set`]).
    #[inline(always)]
    fn occ_clear(&mut self, h: usize) {
        self.occ_words()[h >> 5] &= !(1 << (h & 31));
    }

    /// Both classes' bitmaps as one array of words.
    #[inline(always)]
    #[allow(unsafe_code)]
    fn occ_words(&mut self) -> &mut [u32; 2 * Occupancy::WORDS] {
        // Safety: `Occupancy` is `repr(transparent)` over `[u32; WORDS]`,
        // so `[Occupancy; 2]` has exactly the layout of the array returned,
        // which borrows `self.occ` mutably for its lifetime.
        unsafe { &mut *(self.occ.as_mut_ptr() as *mut [u32; 2 * Occupancy::WORDS]) }
    }

    /// Unlink pending node `i`, clearing its slot's bit if the slot empties.
    #[inline(always)]
    fn unlink(&mut self, i: usize) {
        let Link { next, prev } = self.pool.nodes[i].link;
        let (n, p) = (next.to_usize(), prev.to_usize());
        self.link_mut(p).next = next;
        self.link_mut(n).prev = prev;
        self.pool.nodes[i].link = Link { next: I::NIL, prev: I::NIL };
        if n == p && p < HEADS {
            self.occ_clear(p);
        }
    }

    #[inline(always)]
    fn is_pending(&self, i: usize) -> bool {
        self.pool.nodes[i].link.prev != I::NIL
    }

    // ----- pool ----------------------------------------------------------

    /// Allocate a timer (not pending, one-shot) for `owner`, refusing if the
    /// owner already holds `quota` timers.
    pub fn alloc(&mut self, owner: Owner, token: T, kind: TimerKind, quota: u16) -> Result<TimerHandle, TimerError> {
        self.pool.alloc(owner, token, kind == TimerKind::Deferrable, quota)
    }

    /// Free a timer, cancelling it first. Returns whether it was pending.
    /// The handle (and every copy of it) is stale afterwards.
    pub fn free(&mut self, h: TimerHandle) -> Result<bool, TimerError> {
        Ok(self.timer_mut(h)?.free())
    }

    /// Free every timer of `owner` (a client died or restarted). Returns how
    /// many were freed. O(CAP).
    pub fn free_owner(&mut self, owner: Owner) -> usize {
        let mut n = 0;
        for i in 0..CAP {
            let node = &self.pool.nodes[i];
            if node.meta & META_ALLOCATED != 0 && node.owner == owner.0 {
                if self.is_pending(i) {
                    self.unlink(i);
                }
                self.pool.release(i);
                n += 1;
            }
        }
        n
    }

    /// Number of timers `owner` holds (allocated, pending or not).
    pub fn owned_by(&self, owner: Owner) -> u16 {
        self.pool.owned_by(owner)
    }

    /// Number of allocated timers.
    pub fn allocated(&self) -> usize {
        self.pool.allocated()
    }

    /// Owner of a timer.
    pub fn owner_of(&self, h: TimerHandle) -> Result<Owner, TimerError> {
        let i = self.pool.resolve(h)?;
        Ok(Owner(self.pool.nodes[i].owner))
    }

    /// Token of a timer.
    pub fn token(&self, h: TimerHandle) -> Result<T, TimerError> {
        let i = self.pool.resolve(h)?;
        Ok(self.pool.tokens[i])
    }

    /// Kind of a timer.
    pub fn kind(&self, h: TimerHandle) -> Result<TimerKind, TimerError> {
        let i = self.pool.resolve(h)?;
        Ok(if self.class_of(i) == 1 { TimerKind::Deferrable } else { TimerKind::Normal })
    }

    // ----- the timer API -------------------------------------------------

    /// Arm a timer that is not pending, for absolute jiffy `expires`.
    /// A past expiry fires on the next run; one further than
    /// [`levels::MAX_TIMEOUT`] ahead is clamped. Error if already pending.
    #[inline]
    pub fn add_timer(&mut self, h: TimerHandle, expires: Jiffies) -> Result<(), TimerError> {
        self.timer_mut(h)?.add(expires)
    }

    /// Arm or re-arm a timer for absolute jiffy `expires` (normalized as in
    /// [`Wheel::add_timer`]). Returns whether it was pending. If it was pending
    /// with the same (normalized) expiry, nothing changes.
    #[inline]
    pub fn mod_timer(&mut self, h: TimerHandle, expires: Jiffies) -> Result<bool, TimerError> {
        Ok(self.timer_mut(h)?.modify(expires))
    }

    /// [`Wheel::mod_timer`] after [`apply_slack`]`(expires, now, slack)`.
    /// `now` is the caller's current jiffy.
    pub fn mod_timer_slack(&mut self, h: TimerHandle, expires: Jiffies, now: Jiffies, slack: Slack) -> Result<bool, TimerError> {
        self.mod_timer(h, apply_slack(expires, now, slack))
    }

    /// Cancel a timer. Returns whether it was pending. Its period and token
    /// are kept.
    #[inline]
    pub fn del_timer(&mut self, h: TimerHandle) -> Result<bool, TimerError> {
        Ok(self.timer_mut(h)?.del())
    }

    /// Checks `h` once and returns the timer it names, whose operations
    /// then need no further check (for a caller that reads the owner or
    /// token before arming, as the timer server does). `StaleHandle` if `h`
    /// names no allocated timer.
    #[inline]
    pub fn timer_mut(&mut self, h: TimerHandle) -> Result<TimerMut<'_, CAP, T, I, OWNERS>, TimerError> {
        let i = self.pool.resolve(h)?;
        Ok(TimerMut { wheel: self, i })
    }

    /// Re-arm pending node `i` for normalized expiry `e`, which differs from
    /// its current one. When `i` is already last in the list `e` belongs to
    /// (a timer pushed further out within one bucket, as a watchdog kick
    /// does), unlinking and appending would put it back where it is, so
    /// only its expiry changes.
    #[inline(always)]
    fn refile(&mut self, i: usize, e: u64) {
        let h = self.list_for(i, e);
        // A head index (below HEADS) as `next` means `i` is last in that list.
        if self.pool.nodes[i].link.next.to_usize() == h {
            self.pool.nodes[i].expires = e as u32;
            return;
        }
        self.unlink(i);
        self.file_at(i, e, h, false);
    }

    /// Whether a timer is pending (armed and not yet fired or cancelled).
    #[inline]
    pub fn timer_pending(&self, h: TimerHandle) -> Result<bool, TimerError> {
        let i = self.pool.resolve(h)?;
        Ok(self.is_pending(i))
    }

    /// Absolute expiry of a pending timer (normalized), `None` if not pending.
    pub fn expires(&self, h: TimerHandle) -> Result<Option<Jiffies>, TimerError> {
        let i = self.pool.resolve(h)?;
        Ok(if self.is_pending(i) { Some(Jiffies(self.expiry_of(i, self.timer_jiffies))) } else { None })
    }

    /// Make a timer periodic with `period` jiffies (`0` = one-shot). Takes
    /// effect when it next fires: it is then re-armed at `expires + period`.
    pub fn set_period(&mut self, h: TimerHandle, period: u32) -> Result<(), TimerError> {
        let i = self.pool.resolve(h)?;
        self.pool.nodes[i].period = period;
        Ok(())
    }

    /// Period of a timer in jiffies (`0` = one-shot).
    pub fn period(&self, h: TimerHandle) -> Result<u32, TimerError> {
        let i = self.pool.resolve(h)?;
        Ok(self.pool.nodes[i].period)
    }

    /// Number of pending timers. O(CAP); for tests and diagnostics.
    pub fn pending_count(&self) -> usize {
        (0..CAP).filter(|&i| self.pool.nodes[i].meta & META_ALLOCATED != 0 && self.is_pending(i)).count()
    }

    /// Check every internal invariant; `Err` names the first one broken.
    /// O(CAP + heads); meant for tests.
    pub fn audit(&self) -> Result<(), &'static str> {
        let tj = self.timer_jiffies;
        let mut seen = 0usize;
        for h in 0..HEADS {
            let (class, slot) = (h / SLOTS, h % SLOTS);
            let empty = self.heads[h].next.to_usize() == h;
            if empty != (self.heads[h].prev.to_usize() == h) {
                return Err("head next/prev disagree on emptiness");
            }
            if empty == self.occ[class].test(slot) {
                return Err("occupancy bit out of step with list");
            }
            let mut prev = h;
            let mut x = self.heads[h].next.to_usize();
            while x != h {
                if x < HEADS {
                    return Err("list runs into another head");
                }
                let i = x - HEADS;
                let node = &self.pool.nodes[i];
                if node.link.prev.to_usize() != prev {
                    return Err("broken prev link");
                }
                if node.meta & META_ALLOCATED == 0 {
                    return Err("free node in a list");
                }
                if self.class_of(i) != class {
                    return Err("node in the wrong class");
                }
                let e = self.expiry_of(i, tj);
                if e.wrapping_sub(tj) > levels::MAX_TIMEOUT {
                    return Err("expiry out of range");
                }
                let lvl = levels::level_of(slot);
                if lvl == 0 {
                    if (e & levels::TVR_MASK) as usize != slot || e.wrapping_sub(tj) >= levels::TVR_SIZE as u64 {
                        return Err("tv1 node in the wrong slot");
                    }
                } else if levels::base(lvl) + levels::index(e, lvl) != slot {
                    return Err("tvN node in the wrong slot");
                }
                seen += 1;
                if seen > CAP {
                    return Err("cycle in a list");
                }
                prev = x;
                x = node.link.next.to_usize();
            }
            if self.heads[h].prev.to_usize() != prev {
                return Err("head prev is not the tail");
            }
        }
        if seen != self.pending_count() {
            return Err("pending nodes missing from the lists");
        }
        Ok(())
    }
}

/// One timer of a [`Wheel`], its handle checked once by
/// [`Wheel::timer_mut`]. It borrows the wheel, so the timer cannot be freed
/// (nor its slot reused) while it exists, and its operations are those of
/// the wheel's handle API without the repeated check.
pub struct TimerMut<'w, const CAP: usize, T, I, const OWNERS: usize> {
    wheel: &'w mut Wheel<CAP, T, I, OWNERS>,
    i: usize,
}

impl<const CAP: usize, T: Copy + Default, I: LinkIndex, const OWNERS: usize> TimerMut<'_, CAP, T, I, OWNERS> {
    /// Its slot in the pool, `0..CAP` (the handle's index).
    #[inline]
    pub fn index(&self) -> usize {
        self.i
    }

    /// Its owner.
    #[inline]
    pub fn owner(&self) -> Owner {
        Owner(self.wheel.pool.nodes[self.i].owner)
    }

    /// The token stored at allocation.
    #[inline]
    pub fn token(&self) -> T {
        self.wheel.pool.tokens[self.i]
    }

    /// Replaces the token stored at allocation (a timer's attributes that
    /// live in the token, such as the timer server's slack).
    #[inline]
    pub fn set_token(&mut self, token: T) {
        self.wheel.pool.tokens[self.i] = token;
    }

    /// Whether it is pending.
    #[inline]
    pub fn pending(&self) -> bool {
        self.wheel.is_pending(self.i)
    }

    /// [`Wheel::add_timer`]: arm it if it is not pending, else
    /// `AlreadyPending` with nothing changed.
    #[inline]
    pub fn add(self, expires: Jiffies) -> Result<(), TimerError> {
        let w = self.wheel;
        if w.is_pending(self.i) {
            return Err(TimerError::AlreadyPending);
        }
        let e = normalize(expires.0, w.timer_jiffies);
        w.file(self.i, e, false);
        Ok(())
    }

    /// [`Wheel::mod_timer`]: arm or re-arm it; returns whether it was
    /// pending. The same (normalized) expiry as now changes nothing.
    /// Always inlined: with its several callers in the timer server the
    /// compiler kept it out of line, and `mod_timer` through IPC paid the
    /// call (about 10 instructions, traced under `cargo xtask bench`).
    #[inline(always)]
    pub fn modify(self, expires: Jiffies) -> bool {
        let (w, i) = (self.wheel, self.i);
        let e = normalize(expires.0, w.timer_jiffies);
        if !w.is_pending(i) {
            w.file(i, e, false);
            return false;
        }
        if w.pool.nodes[i].expires != e as u32 {
            w.refile(i, e);
        }
        true
    }

    /// [`Wheel::del_timer`]: cancel it; returns whether it was pending.
    #[inline]
    pub fn del(self) -> bool {
        let was = self.wheel.is_pending(self.i);
        if was {
            self.wheel.unlink(self.i);
        }
        was
    }

    /// [`Wheel::free`]: cancel it and free its slot; returns whether it was
    /// pending. Every handle to it is stale afterwards.
    pub fn free(self) -> bool {
        let (w, i) = (self.wheel, self.i);
        let was = w.is_pending(i);
        if was {
            w.unlink(i);
        }
        w.pool.release(i);
        was
    }
}
