//! Running the wheel: `cascade`, `run_timers` with catch-up and
//! fast-forward, and `next_expiry` for tickless idle.
//!
//! Why this module exists: this is the per-tick path, and the place where
//! missed ticks are caught up.
//!
//! Guarantees:
//! - `run_timers(now)` processes every jiffy from `timer_jiffies` to `now`
//!   inclusive, exactly as if it had been called once per jiffy, and leaves
//!   `timer_jiffies == now + 1`. If `now` is before `timer_jiffies` it does
//!   nothing.
//! - Fast-forward bound: a run does not step through empty jiffies one by
//!   one. Each loop iteration either fires one non-empty tv1 slot or jumps
//!   straight to the next "event": the next non-empty tv1 slot or the next
//!   cascade of a non-empty tv2..tv5 slot, found from the occupancy bitmaps
//!   in at most 5 + 4 word operations. So a run costs
//!   O(1 + fired slots + non-empty cascades + timers moved or fired),
//!   independent of how many empty jiffies it covers: catching up 3000
//!   (or 2^40) empty jiffies is one bitmap search.
//! - `next_expiry()` is exact for non-deferrable timers: it finds the first
//!   occupied slot of each level from the bitmaps, and walks at most one
//!   slot list per level tv2..tv5, and only for a level whose earliest slot
//!   could hold something earlier than what lower levels already gave.

use super::levels::{base, index, shift, SLOTS, TVN_MASK, TVR_MASK};
use super::Expired;
use crate::jiffies::{time_after_eq64, Jiffies};
use crate::pool::{LinkIndex, Owner, HEADS};

/// A jiffy whose tv1 slot has timers, found by [`Wheel::idle_step_or_due`]
/// (the only maker): the periodic tick fires it without the catch-up loop.
/// A stale one (the wheel moved on) is refused by [`Wheel::fire_due`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DueSlot {
    /// `timer_jiffies` when found: the jiffy due, not a cascade point.
    tj: u64,
}

/// What one [`Wheel::run_timers`] call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Expiries delivered (a periodic timer counts once per period fired).
    pub fired: u32,
    /// Loop iterations: fired slots plus jumps. Bounded as the module doc says.
    pub steps: u32,
}

impl<const CAP: usize, T: Copy + Default, I: LinkIndex, const OWNERS: usize> super::Wheel<CAP, T, I, OWNERS> {
    /// Move the timers of level `n`'s current slot (1 = tv2 .. 4 = tv5) down
    /// to lower levels, in front of what is there; returns the slot index,
    /// so the caller cascades the next level only when it is 0.
    fn cascade(&mut self, n: u32) -> usize {
        let tj = self.timer_jiffies;
        let idx = index(tj, n);
        let slot = base(n) + idx;
        for class in 0..2 {
            let h = class * SLOTS + slot;
            let last = self.heads[h].prev.to_usize();
            if last == h {
                continue;
            }
            self.heads[h].next = I::from_usize(h);
            self.heads[h].prev = I::from_usize(h);
            self.occ[class].clear(slot);
            // Backwards, each to the front: keeps the source order ahead of
            // timers armed later directly into the destination.
            let mut x = last;
            while x != h {
                let prev = self.link(x).prev.to_usize();
                let i = x - HEADS;
                let e = self.expiry_of(i, tj);
                self.file(i, e, true);
                x = prev;
            }
        }
        idx
    }

    /// Fire the list at head `h` (detached first), due at jiffy `j`.
    #[inline(always)]
    fn expire_list(&mut self, h: usize, j: u64, f: &mut impl FnMut(Expired<T>)) -> u32 {
        let first = self.heads[h].next.to_usize();
        if first == h {
            return 0;
        }
        self.heads[h].next = I::from_usize(h);
        self.heads[h].prev = I::from_usize(h);
        self.occ_clear(h);
        let mut n = 0;
        let mut x = first;
        while x != h {
            let i = x - HEADS;
            let node = &mut self.pool.nodes[i];
            let next = node.link.next.to_usize();
            node.link.next = I::NIL;
            node.link.prev = I::NIL;
            let period = node.period;
            let owner = Owner(node.owner);
            if period != 0 {
                // timer_jiffies is already j + 1, so this lands ahead of it.
                self.file(i, j.wrapping_add(period as u64), false);
            }
            f(Expired {
                handle: self.pool.handle_of(i),
                owner,
                token: self.pool.tokens[i],
                expires: Jiffies(j),
                rearmed: period != 0,
            });
            n += 1;
            x = next;
        }
        n
    }

    /// Earliest jiffy at or after `x` at which the wheel has work: a
    /// non-empty tv1 slot comes due, or a non-empty tv2..tv5 slot cascades.
    fn next_event(&self, x: u64) -> Option<u64> {
        let occ = self.occ[0].union(&self.occ[1]);
        let mut best: Option<u64> = occ.tv1_distance((x & TVR_MASK) as usize).map(|d| d as u64);
        for n in 1..=4u32 {
            let sh = shift(n);
            // First multiple of 2^sh at or after x (wrapping at 2^64).
            let m = (x.wrapping_sub(1) >> sh).wrapping_add(1);
            if let Some(d) = occ.level_distance(n, (m & TVN_MASK) as usize) {
                let dist = (m.wrapping_add(d as u64) << sh).wrapping_sub(x);
                if best.is_none_or(|b| dist < b) {
                    best = Some(dist);
                }
            }
        }
        best.map(|d| x.wrapping_add(d))
    }

    /// The common periodic tick, when it has nothing to do: if `now` is the
    /// wheel's next jiffy, not a cascade point, and its tv1 slot is empty
    /// in both classes, step over it (as [`Wheel::run_timers`] would) and
    /// return true; otherwise change nothing and return false.
    #[inline]
    pub fn idle_step(&mut self, now: Jiffies) -> bool {
        let tj = self.timer_jiffies;
        let idx = (tj & TVR_MASK) as usize;
        let idle =
            now.0 == tj && idx != 0 && (self.occ[0].0[idx >> 5] | self.occ[1].0[idx >> 5]) & (1 << (idx & 31)) == 0;
        if idle {
            self.timer_jiffies = tj.wrapping_add(1);
        }
        idle
    }

    /// [`Wheel::idle_step`] that also tells why it refused: `Ok(())` stepped
    /// over an idle jiffy; `Err(Some(due))`: `now` is the next jiffy, no
    /// cascade, but its tv1 slot has timers (fire them with
    /// [`Wheel::fire_due`]); `Err(None)`: anything else. Nothing changes
    /// unless it returns `Ok`.
    #[inline(always)]
    pub fn idle_step_or_due(&mut self, now: Jiffies) -> Result<(), Option<DueSlot>> {
        let tj = self.timer_jiffies;
        let idx = (tj & TVR_MASK) as usize;
        if now.0 != tj || idx == 0 {
            return Err(None);
        }
        if (self.occ[0].0[idx >> 5] | self.occ[1].0[idx >> 5]) & (1 << (idx & 31)) != 0 {
            return Err(Some(DueSlot { tj }));
        }
        self.timer_jiffies = tj.wrapping_add(1);
        Ok(())
    }

    /// Fires the slot `due` names (both classes) and steps over its jiffy,
    /// exactly as [`Wheel::run_timers`] would for `now == timer_jiffies`;
    /// true. If the wheel has moved since `due` was found, nothing changes
    /// and it returns false (run [`Wheel::run_timers`] instead).
    #[inline(always)]
    pub fn fire_due(&mut self, due: DueSlot, mut f: impl FnMut(Expired<T>)) -> bool {
        let tj = self.timer_jiffies;
        if tj != due.tj {
            return false;
        }
        let idx = (tj & TVR_MASK) as usize;
        self.timer_jiffies = tj.wrapping_add(1);
        let (w, b) = (idx >> 5, 1u32 << (idx & 31));
        if self.occ[0].0[w] & b != 0 {
            self.expire_list(idx, tj, &mut f);
        }
        if self.occ[1].0[w] & b != 0 {
            self.expire_list(SLOTS + idx, tj, &mut f);
        }
        true
    }

    /// Process every jiffy from `timer_jiffies` through `now` (absolute,
    /// inclusive): cascade when the tv1 index wraps to 0, fire the current
    /// tv1 slot in FIFO order, re-arm periodic timers, and jump over empty
    /// stretches. `f` receives each expiry in order.
    pub fn run_timers(&mut self, now: Jiffies, f: impl FnMut(Expired<T>)) -> RunStats {
        if self.idle_step(now) {
            return RunStats { fired: 0, steps: 1 };
        }
        self.run_timers_busy(now, f)
    }

    /// [`Wheel::run_timers`] without its first check, for a caller that
    /// has just seen [`Wheel::idle_step`] refuse (the periodic tick's fast
    /// path): the same result, one bitmap test fewer.
    pub fn run_timers_busy(&mut self, now: Jiffies, mut f: impl FnMut(Expired<T>)) -> RunStats {
        let tj = self.timer_jiffies;
        let idx = (tj & TVR_MASK) as usize;
        if now.0 == tj && idx != 0 {
            // One jiffy and no cascade (the periodic tick): its slot, as
            // one turn of the loop below would fire it.
            self.timer_jiffies = tj.wrapping_add(1);
            let fired = self.expire_list(idx, tj, &mut f) + self.expire_list(SLOTS + idx, tj, &mut f);
            return RunStats { fired, steps: 1 };
        }
        let mut stats = RunStats::default();
        let now = now.0;
        while time_after_eq64(now, self.timer_jiffies) {
            let tj = self.timer_jiffies;
            let idx = (tj & TVR_MASK) as usize;
            if idx == 0 {
                let mut n = 1;
                while self.cascade(n) == 0 && n < 4 {
                    n += 1;
                }
            }
            stats.steps += 1;
            if self.occ[0].test(idx) || self.occ[1].test(idx) {
                self.timer_jiffies = tj.wrapping_add(1);
                stats.fired += self.expire_list(idx, tj, &mut f);
                stats.fired += self.expire_list(SLOTS + idx, tj, &mut f);
                continue;
            }
            if tj == now {
                self.timer_jiffies = tj.wrapping_add(1);
                break;
            }
            match self.next_event(tj.wrapping_add(1)) {
                Some(j) if time_after_eq64(now, j) => self.timer_jiffies = j,
                _ => {
                    self.timer_jiffies = now.wrapping_add(1);
                    break;
                }
            }
        }
        stats
    }

    /// The earliest expiry of a pending non-deferrable timer (absolute), or
    /// `None` if there is none. Deferrable timers are ignored. See the
    /// module doc for the cost.
    pub fn next_expiry(&self) -> Option<Jiffies> {
        let tj = self.timer_jiffies;
        let occ = &self.occ[0];
        // tv1: each slot holds one jiffy, the next one with its low bits.
        let mut best = match occ.tv1_any() {
            true => occ.tv1_distance((tj & TVR_MASK) as usize).map(|d| d as u64),
            false => None,
        };
        // One level at a time, each with its shift a constant (a 64-bit
        // shift by a variable is a dozen instructions on a 32-bit core).
        best = self.level_expiry::<1>(tj, best);
        best = self.level_expiry::<2>(tj, best);
        best = self.level_expiry::<3>(tj, best);
        best = self.level_expiry::<4>(tj, best);
        best.map(|d| Jiffies(tj.wrapping_add(d)))
    }

    /// [`Wheel::next_expiry`]'s step for level `N` (1 = tv2 .. 4 = tv5):
    /// the distance from `tj` of the earliest timer there, if it beats
    /// `best`; else `best`.
    #[inline(always)]
    fn level_expiry<const N: u32>(&self, tj: u64, best: Option<u64>) -> Option<u64> {
        let occ = &self.occ[0];
        if !occ.level_any(N) {
            return best;
        }
        let sh = shift(N);
        let m = (tj.wrapping_sub(1) >> sh).wrapping_add(1);
        let Some(d) = occ.level_distance(N, (m & TVN_MASK) as usize) else { return best };
        let cascade_at = (m.wrapping_add(d as u64) << sh).wrapping_sub(tj);
        if best.is_some_and(|b| b <= cascade_at) {
            // Everything in this level is due at or after its first
            // cascade: nothing here can beat what we have.
            return best;
        }
        let mut best = best;
        let slot = base(N) + (m.wrapping_add(d as u64) & TVN_MASK) as usize;
        let mut x = self.heads[slot].next.to_usize();
        while x != slot {
            let dist = self.expiry_of(x - HEADS, tj).wrapping_sub(tj);
            if best.is_none_or(|b| dist < b) {
                best = Some(dist);
            }
            x = self.link(x).next.to_usize();
        }
        best
    }
}
