//! High-resolution timers: Linux's hrtimers (kernel/time/hrtimer.c) beside
//! the jiffies wheel, as a queue with no syscalls.
//!
//! Why this module exists: the wheel counts jiffies (10 ms at HZ 100);
//! a driver that needs a sample every 250 µs, or a deadline to the
//! microsecond, needs timers on the clocksource's own time line. As in
//! Linux, these are kept apart from the wheel in a queue ordered by
//! expiry, and the server programs the oneshot clock event device for the
//! earlier of "the first hrtimer" and "the wheel's next event"
//! (`clockevents_program_event`).
//!
//! Time is ktime: nanoseconds since boot on the clocksource's 64-bit
//! (extended) line, a `u64` that does not wrap for 584 years; the hardware
//! counter's 32-bit wrap is the driver's business and never seen here.
//!
//! Guarantees:
//! - every timer belongs to the task that set it up; a handle is
//!   generation-checked (a freed or forgotten timer's handle is stale
//!   forever after, until its 14-bit generation comes round), and a
//!   wheel timer's handle is never taken for an hrtimer's ([`HR_TAG`]);
//! - at most `quota` timers per owner, `N` in all;
//! - [`HrTimers::run`] expires exactly the timers whose expiry is at or
//!   before `now`, earliest first (equal expiries in the order armed), and
//!   posts each owner's bit once per step ([`Posts`]);
//! - a periodic timer is forwarded by whole periods past `now`
//!   (`hrtimer_forward`): its expiries stay on `first + k * period`, never
//!   drift, and missed periods are counted as overruns, not fired in a burst;
//! - cancelling or re-starting drops what was not fetched yet, so nothing
//!   of an earlier start is reported after the call (`hrtimer_cancel`'s
//!   "not running after return").

use crate::posts::Posts;
use crate::target::Target;
use abi::TaskId;

/// Set in every hrtimer handle, so that wheel handles (which have it
/// clear) are refused here and hrtimer handles by the wheel.
pub const HR_TAG: u64 = 1 << 48;
const GEN_MAX: u16 = 0x3FFF;

/// Why an hrtimer request was refused.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum HrError {
    /// No live hrtimer has this handle (freed, forgotten, or forged).
    Stale,
    /// The hrtimer belongs to another task.
    NotOwner,
    /// Every hrtimer of the pool is in use.
    PoolExhausted,
    /// The caller holds `quota` hrtimers already.
    QuotaExceeded,
    /// A period shorter than [`HrTimers::min_period_ns`] (or an owner index
    /// out of range).
    BadPeriod,
}

/// What the owner fetches about one hrtimer ([`HrTimers::fetch`]).
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq)]
pub struct HrFired {
    /// ktime (ns) the latest expiry was due; 0 if none since the last fetch.
    pub expires: u64,
    /// Expiries since the last fetch, missed periods included.
    pub count: u32,
    /// Whether the timer is still armed (periodic, or not yet fired).
    pub active: bool,
}

#[derive(Copy, Clone, Default)]
struct Node {
    /// Allocated.
    live: bool,
    /// Generation of the current (or, free, the last) allocation, 1..=0x3FFF.
    generation: u16,
    owner: u8,
    armed: bool,
    target: Target,
    /// Next expiry, ktime ns (meaningful while armed).
    expires: u64,
    /// 0: one-shot.
    period: u64,
    /// Latest expiry not fetched, and how many since the last fetch.
    fired_expires: u64,
    fired_count: u32,
}

/// Up to `N` hrtimers of up to `OWNERS` tasks.
pub struct HrTimers<const N: usize, const OWNERS: usize> {
    nodes: [Node; N],
    /// Indices of armed timers, earliest expiry first; `order[..armed]`.
    order: [u16; N],
    armed: usize,
    held: [u16; OWNERS],
    quota: u16,
    min_period: u64,
}

impl<const N: usize, const OWNERS: usize> HrTimers<N, OWNERS> {
    /// An empty queue: at most `quota` timers per owner, periods of at
    /// least `min_period_ns` (a shorter one could keep the server busy).
    pub const fn new(quota: u16, min_period_ns: u64) -> Self {
        const { assert!(N < u16::MAX as usize && OWNERS <= 32) };
        HrTimers {
            nodes: [Node {
                live: false,
                generation: 0,
                owner: 0,
                armed: false,
                target: Target { task: 0, bit: 0 },
                expires: 0,
                period: 0,
                fired_expires: 0,
                fired_count: 0,
            }; N],
            order: [0; N],
            armed: 0,
            held: [0; OWNERS],
            quota,
            min_period: min_period_ns,
        }
    }

    /// The shortest period accepted, in ns.
    pub fn min_period_ns(&self) -> u64 {
        self.min_period
    }

    /// Allocates a timer for `target` (its task index is the owner); it
    /// posts `target.bit` on expiry. Returns its handle.
    pub fn setup(&mut self, target: Target) -> Result<u64, HrError> {
        let owner = TaskId(target.task).index();
        if owner >= OWNERS {
            return Err(HrError::BadPeriod);
        }
        if self.held[owner] >= self.quota {
            return Err(HrError::QuotaExceeded);
        }
        let i = self.nodes.iter().position(|n| !n.live).ok_or(HrError::PoolExhausted)?;
        let n = &mut self.nodes[i];
        // Each reuse of a slot gets the next generation (1..=GEN_MAX).
        let generation = if n.generation >= GEN_MAX { 1 } else { n.generation + 1 };
        *n = Node { live: true, generation, owner: owner as u8, target, ..Node::default() };
        self.held[owner] += 1;
        Ok(HR_TAG | (u64::from(n.generation) << 32) | i as u64)
    }

    /// The index of `handle` if it is live and owned by task index `owner`.
    fn index(&self, handle: u64, owner: usize) -> Result<usize, HrError> {
        let i = (handle & 0xFFFF_FFFF) as usize;
        let generation = (handle >> 32) as u16 & GEN_MAX;
        match self.nodes.get(i) {
            Some(n) if handle & !(HR_TAG | (u64::from(GEN_MAX) << 32) | 0xFFFF_FFFF) == 0
                && handle & HR_TAG != 0
                && n.live
                && n.generation == generation =>
            {
                if n.owner as usize == owner { Ok(i) } else { Err(HrError::NotOwner) }
            }
            _ => Err(HrError::Stale),
        }
    }

    fn unlink(&mut self, i: usize) {
        if !self.nodes[i].armed {
            return;
        }
        if let Some(p) = self.order[..self.armed].iter().position(|&x| x as usize == i) {
            // A plain loop, not `copy_within`: that pulls in memmove (1.5 KiB
            // of flash) for a few u16s.
            for k in p..self.armed - 1 {
                self.order[k] = self.order[k + 1];
            }
            self.armed -= 1;
        }
        self.nodes[i].armed = false;
    }

    /// Inserts armed node `i` after every timer due at or before it.
    fn link(&mut self, i: usize) {
        let e = self.nodes[i].expires;
        let p = self.order[..self.armed].partition_point(|&x| self.nodes[x as usize].expires <= e);
        for k in (p..self.armed).rev() {
            self.order[k + 1] = self.order[k];
        }
        self.order[p] = i as u16;
        self.armed += 1;
        self.nodes[i].armed = true;
    }

    /// `hrtimer_start`: arms the timer to expire at ktime `expires` (ns;
    /// one already past fires at the next [`HrTimers::run`]), then every
    /// `period_ns` if non-zero. Replaces an earlier start and drops its
    /// unfetched expiries. Returns whether it was armed before.
    pub fn start(&mut self, handle: u64, owner: usize, expires: u64, period_ns: u64) -> Result<bool, HrError> {
        let i = self.index(handle, owner)?;
        if period_ns != 0 && period_ns < self.min_period {
            return Err(HrError::BadPeriod);
        }
        let was = self.nodes[i].armed;
        self.unlink(i);
        let n = &mut self.nodes[i];
        (n.expires, n.period, n.fired_expires, n.fired_count) = (expires, period_ns, 0, 0);
        self.link(i);
        Ok(was)
    }

    /// `hrtimer_cancel`: disarms the timer and drops its unfetched
    /// expiries; returns whether it was armed (false for a one-shot that
    /// already fired, or one never started).
    pub fn cancel(&mut self, handle: u64, owner: usize) -> Result<bool, HrError> {
        let i = self.index(handle, owner)?;
        let was = self.nodes[i].armed;
        self.unlink(i);
        (self.nodes[i].fired_expires, self.nodes[i].fired_count) = (0, 0);
        Ok(was)
    }

    /// `hrtimer_get_remaining`: ns from `now` to the next expiry, negative
    /// if it is due but not yet run; `None` if the timer is not armed.
    pub fn remaining(&self, handle: u64, owner: usize, now: u64) -> Result<Option<i64>, HrError> {
        let n = &self.nodes[self.index(handle, owner)?];
        Ok(n.armed.then(|| (n.expires as i128 - now as i128).clamp(i64::MIN as i128, i64::MAX as i128) as i64))
    }

    /// Takes what happened since the last fetch (expiries, the latest due
    /// time) and whether the timer is still armed.
    pub fn fetch(&mut self, handle: u64, owner: usize) -> Result<HrFired, HrError> {
        let i = self.index(handle, owner)?;
        let n = &mut self.nodes[i];
        let f = HrFired { expires: n.fired_expires, count: n.fired_count, active: n.armed };
        (n.fired_expires, n.fired_count) = (0, 0);
        Ok(f)
    }

    /// Disarms and releases the timer; its handle becomes stale.
    pub fn free(&mut self, handle: u64, owner: usize) -> Result<(), HrError> {
        let i = self.index(handle, owner)?;
        self.release(i);
        Ok(())
    }

    fn release(&mut self, i: usize) {
        self.unlink(i);
        let n = &mut self.nodes[i];
        self.held[n.owner as usize] -= 1;
        // The generation stays, for the next setup to move on from.
        *n = Node { generation: n.generation, ..Node::default() };
    }

    /// Drops every hrtimer of task index `owner` (dead or restarted);
    /// returns how many.
    pub fn forget(&mut self, owner: usize) -> usize {
        let mut gone = 0;
        for i in 0..N {
            if self.nodes[i].live && self.nodes[i].owner as usize == owner {
                self.release(i);
                gone += 1;
            }
        }
        gone
    }

    /// The earliest armed expiry, ktime ns (what the device is programmed
    /// for, with the wheel's next event).
    #[inline]
    pub fn next_expiry(&self) -> Option<u64> {
        (self.armed != 0).then(|| self.nodes[self.order[0] as usize].expires)
    }

    /// Timers allocated, and armed.
    pub fn counts(&self) -> (usize, usize) {
        (self.nodes.iter().filter(|n| n.live).count(), self.armed)
    }

    /// Expires every timer due at or before ktime `now`, earliest first,
    /// adding each owner's bit to `posts`; periodic ones are forwarded
    /// (`hrtimer_forward`) to their first expiry after `now`. Returns how
    /// many timers expired.
    pub fn run(&mut self, now: u64, posts: &mut Posts<OWNERS>) -> usize {
        let mut fired = 0;
        while self.armed != 0 {
            let i = self.order[0] as usize;
            if self.nodes[i].expires > now {
                break;
            }
            self.unlink(i);
            let n = &mut self.nodes[i];
            let (count, next) = forward(n.expires, n.period, now);
            // The latest of the `count` expiries passed (the fetch reports
            // it; the earlier ones are `period` apart before it).
            n.fired_expires = next.map_or(n.expires, |x| x - n.period);
            n.fired_count = n.fired_count.saturating_add(count);
            posts.add(n.target);
            fired += 1;
            if let Some(next) = next {
                n.expires = next;
                self.link(i);
            }
        }
        fired
    }
}

/// `hrtimer_forward` for a timer due at `expires` and run at `now >=
/// expires`: the expiries it passed (1 + missed periods, saturated) and its
/// next expiry, the first `expires + k * period` after `now` (`None` for a
/// one-shot, or past the end of time).
pub fn forward(expires: u64, period: u64, now: u64) -> (u32, Option<u64>) {
    if period == 0 {
        return (1, None);
    }
    let periods = (now - expires) / period + 1;
    let next = periods.checked_mul(period).and_then(|d| expires.checked_add(d));
    (periods.min(u64::from(u32::MAX)) as u32, next)
}

/// The first count of a `rate_hz` clocksource at or after ktime `ns`
/// (rounded up: an event programmed for it is never early).
pub fn ns_to_cycles_ceil(ns: u64, rate_hz: u32) -> u64 {
    (u128::from(ns) * u128::from(rate_hz)).div_ceil(1_000_000_000).min(u128::from(u64::MAX)) as u64
}

/// ktime (ns) of count `cycles` of a `rate_hz` clocksource (rounded down,
/// as `ktime_get` reads it).
pub fn cycles_to_ns(cycles: u64, rate_hz: u32) -> u64 {
    (u128::from(cycles) * 1_000_000_000 / u128::from(rate_hz.max(1))).min(u128::from(u64::MAX)) as u64
}
