//! `accuracy` (several tasks, each with its own `config.seed`): arms
//! hundreds of timers with pseudo-random expiries and checks every
//! delivery against a model kept here.
//!
//! The rules checked, for each record the server delivers:
//! - a future expiry `E` (after the jiffies read once the arm returned)
//!   fires with `expires == fired_at == E`: exactly at its jiffy;
//! - a past or present expiry (at or before the jiffies read before the
//!   arm) is normalised to the wheel's next jiffy, so it fires on the next
//!   tick: `expires == fired_at == j + 1` for the `j` of the arm;
//! - every armed timer fires exactly once (a guard timer armed after the
//!   latest expiry tells a lost one from a late one);
//! - records come in `(fired_at, expires, arm order)` order: time order,
//!   expiry order within one catch-up, FIFO among equal expiries.
//!
//! Expiries mix far past (2^40 back), past, now, near (many equal ones),
//! the tv1/tv2 boundary and the tv2 range. Before the rounds, 20 timers are
//! armed around 2^32, ~30000 jiffies out (the tv3 level: they cascade
//! twice), and checked after the 32-bit jiffies wrap, 300 s after boot.

use crate::common::*;
use crate::{config, notifications, slots};
use drv_console_api::console_writeln;
use timer_api::{FiredRecord, Timer};

const ROUND: usize = 50;
const ROUNDS: usize = 7;
const WRAP: usize = 20;
/// Tokens of the two guard timers (the rest are arm numbers).
const GUARD_ROUND: u32 = 0x8000_0000;
const GUARD_WRAP: u32 = 0x8000_0001;
const WRAP_AT: u64 = 1 << 32;

#[derive(Copy, Clone, Default)]
struct Arm {
    expires: u64,
    /// jiffies read before and after the arm call.
    lo: u64,
    hi: u64,
    fired: bool,
}

/// The model: what was armed, and what has been seen.
struct Model {
    wrap: [Arm; WRAP],
    round: [Arm; ROUND],
    /// Arm number of `round[0]`.
    round_base: u32,
    /// Last `(fired_at, expires, token)` delivered, for the order check:
    /// time order, expiry order within a catch-up, arm order (FIFO) within
    /// an expiry.
    last: (u64, u64, u32),
    errors: u32,
    checked: u32,
    equal_pairs: u32,
    past: u32,
}

static mut MODEL: Model = Model {
    wrap: [Arm { expires: 0, lo: 0, hi: 0, fired: false }; WRAP],
    round: [Arm { expires: 0, lo: 0, hi: 0, fired: false }; ROUND],
    round_base: 0,
    last: (0, 0, 0),
    errors: 0,
    checked: 0,
    equal_pairs: 0,
    past: 0,
};

impl Model {
    fn fail(&mut self, what: &str, r: &FiredRecord) {
        self.errors += 1;
        if self.errors <= 5 {
            console_writeln!(
                console(),
                "FAIL accuracy-{}: {} token {} expires {} fired_at {}",
                config::SEED,
                what,
                r.token,
                r.expires,
                r.fired_at
            );
        }
    }

    fn record(&mut self, r: &FiredRecord) {
        if r.token & GUARD_ROUND != 0 {
            return;
        }
        let key = (r.fired_at, r.expires, r.token);
        if key <= self.last {
            self.fail("out of order", r);
        }
        if (key.0, key.1) == (self.last.0, self.last.1) {
            self.equal_pairs += 1;
        }
        self.last = key;
        let tok = r.token;
        let arm = if (tok as usize) < WRAP {
            &mut self.wrap[tok as usize]
        } else if tok >= self.round_base && ((tok - self.round_base) as usize) < ROUND {
            &mut self.round[(tok - self.round_base) as usize]
        } else {
            self.fail("unknown token", r);
            return;
        };
        let a = *arm;
        arm.fired = true;
        if a.fired {
            self.fail("fired twice", r);
            return;
        }
        self.checked += 1;
        // Wrap-safe, as the wheel compares (time_after64).
        let after = |x: u64, y: u64| (x.wrapping_sub(y) as i64) > 0;
        let ok = if after(a.expires, a.hi) {
            r.expires == a.expires && r.fired_at == a.expires
        } else if !after(a.expires, a.lo) {
            self.past += 1;
            r.expires <= r.fired_at && r.fired_at > a.lo && r.fired_at <= a.hi + 1
        } else {
            // Armed while jiffies moved past it: either reading holds.
            r.expires <= r.fired_at && (r.fired_at == a.expires || r.fired_at == a.hi + 1)
        };
        if !ok {
            self.fail("wrong jiffy", r);
        }
    }
}

/// Waits for the guard timer `guard`, checking every record on the way.
fn drain_until(timer: &Timer, m: &mut Model, guard: u32, guard_at: u64) {
    let mut done = false;
    while !done {
        userlib::sys_recv_notification(notifications::TIMER_MASK);
        let r = fetch_all(timer, |r| {
            if r.token == guard {
                done = true;
                if r.fired_at != guard_at {
                    m.fail("guard late", &r);
                }
            }
            m.record(&r);
        });
        if r.is_err() {
            m.errors += 1;
            console_writeln!(console(), "FAIL accuracy-{}: fetch {:?}", config::SEED, r);
            return;
        }
    }
}

pub fn run() -> ! {
    let mut t = Tally::new();
    let timer = Timer::from(slots::TIMER);
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15u64.wrapping_mul(config::SEED as u64 + 1));
    // Safety: the only reference to MODEL; this task is single-threaded.
    let m = unsafe { &mut *(&raw mut MODEL) };
    let bit = notifications::TIMER_BIT as u8;

    let mut handles = [0u64; ROUND + WRAP + 2];
    for (i, h) in handles.iter_mut().enumerate() {
        match timer.setup(bit, 0, 0, 0, false) {
            Ok(x) => *h = x,
            Err(e) => {
                t.check("accuracy-setup", false, format_args!("timer {}: {:?}", i, e));
                report(slots::RUNNER, t.failed);
                park()
            }
        }
    }
    // The token (fixed at setup) is the arm number, so each arm below
    // frees its timer and sets it up again: a record names its arm.
    let (round_h, rest) = handles.split_at_mut(ROUND);
    let (wrap_h, guards) = rest.split_at_mut(WRAP);

    // Timers around the 32-bit wrap, armed ~30000 jiffies out.
    let lo = timer.jiffies();
    for (i, h) in wrap_h.iter_mut().enumerate() {
        let _ = timer.free(*h);
        *h = timer.setup(bit, i as u32, 0, 0, false).unwrap_or(0);
        // The first two pin the wrap itself; the rest fall around it, with
        // equal expiries among them.
        m.wrap[i].expires = match i {
            0 => WRAP_AT - 1,
            1 => WRAP_AT,
            _ => WRAP_AT - 10 + rng.range(0, 20),
        };
        if timer.add_timer(*h, m.wrap[i].expires).is_err() {
            m.errors += 1;
        }
    }
    let hi = timer.jiffies();
    for a in m.wrap.iter_mut() {
        a.lo = lo;
        a.hi = hi;
    }
    let _ = timer.free(guards[1]);
    guards[1] = timer.setup(bit, GUARD_WRAP, 0, 0, false).unwrap_or(0);
    let _ = timer.add_timer(guards[1], WRAP_AT + 15);
    let _ = timer.free(guards[0]);
    guards[0] = timer.setup(bit, GUARD_ROUND, 0, 0, false).unwrap_or(0);

    let mut arms = WRAP as u32;
    for r in 0..ROUNDS {
        m.round_base = arms;
        let lo = timer.jiffies();
        let mut latest = lo;
        for i in 0..ROUND {
            let e = match rng.below(10) {
                0 => lo.wrapping_sub(1 << 40),
                1 => lo - rng.range(1, 300),
                2 => lo,
                3..=5 => lo + rng.range(1, 12),
                6 => lo + rng.range(13, 255),
                7 => lo + rng.range(254, 258),
                _ => lo + rng.range(259, 600),
            };
            if (e.wrapping_sub(lo) as i64) > 0 {
                latest = latest.max(e);
            }
            let _ = timer.free(round_h[i]);
            round_h[i] = timer.setup(bit, arms, 0, 0, false).unwrap_or(0);
            m.round[i] = Arm { expires: e, lo, hi: 0, fired: false };
            // Odd rounds arm with mod_timer: not pending, so it must say so.
            let ok = if r % 2 == 0 {
                timer.add_timer(round_h[i], e).is_ok()
            } else {
                matches!(timer.mod_timer(round_h[i], e), Ok(a) if a.was_pending == 0)
            };
            if !ok {
                m.errors += 1;
                console_writeln!(console(), "FAIL accuracy-{}: arm {} refused", config::SEED, arms);
            }
            arms += 1;
        }
        let hi = timer.jiffies();
        for a in m.round.iter_mut() {
            a.hi = hi;
        }
        let guard_at = latest.max(hi) + 3;
        let _ = timer.mod_timer(guards[0], guard_at);
        drain_until(&timer, m, GUARD_ROUND, guard_at);
        let lost = m.round.iter().filter(|a| !a.fired).count();
        if let Some(a) = m.round.iter().find(|a| !a.fired) {
            m.errors += 1;
            console_writeln!(
                console(),
                "FAIL accuracy-{}: round {}: {} timers lost, e.g. expires {} armed in [{}, {}], guard at {}",
                config::SEED,
                r,
                lost,
                a.expires,
                a.lo,
                a.hi,
                guard_at
            );
        }
    }
    let rounds_checked = m.checked;
    t.check_said(
        "accuracy-rounds",
        m.errors == 0 && rounds_checked == (ROUNDS * ROUND) as u32,
        format_args!(
            "seed {}: {} timers ({} past or now) each at its jiffy, {} equal-expiry pairs in arm order",
            config::SEED,
            rounds_checked,
            m.past,
            m.equal_pairs
        ),
    );

    // Now sleep until after the wrap; tickless makes the ~250 s cheap.
    let before = m.errors;
    drain_until(&timer, m, GUARD_WRAP, WRAP_AT + 15);
    let lost = m.wrap.iter().filter(|a| !a.fired).count();
    let first = m.wrap.iter().map(|a| a.expires).min().unwrap_or(0);
    let last = m.wrap.iter().map(|a| a.expires).max().unwrap_or(0);
    t.check_said(
        "accuracy-wrap",
        m.errors == before && lost == 0 && (first as u32) > (last as u32),
        format_args!(
            "seed {}: {} timers from jiffies {:#010x} to {:#010x} (32-bit view) at their jiffy",
            config::SEED,
            WRAP,
            first as u32,
            last as u32
        ),
    );
    for h in handles.iter() {
        let _ = timer.free(*h);
    }
    let total = m.checked;
    console_writeln!(console(), "accuracy-{}: {} timers armed and checked", config::SEED, total);
    report(slots::RUNNER, t.failed);
    park()
}
