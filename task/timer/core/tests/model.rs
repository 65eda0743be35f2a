//! Model test: the wheel against a plain reference model.
//!
//! The model keeps pending timers in a `BTreeMap` keyed by
//! (expiry, class, arm sequence) and fires by walking it in key order, so it
//! states the contract directly: a timer fires at its (normalized) expiry,
//! same-jiffy timers fire in arm order with non-deferrable ones first,
//! periodic timers re-arm at `expires + period`, and `next_expiry` is the
//! earliest non-deferrable expiry. Random sequences of
//! alloc/free/add/mod/del/period/advance/skip are applied to both, starting
//! at 0, at INITIAL_JIFFIES, just below 2^32 and 2^64, and just below every
//! level boundary 2^8, 2^14, 2^20, 2^26, 2^32 (and multiples of them); every
//! return value, every expiry (which timer, at which jiffy, in which order)
//! and `next_expiry` must agree.
//!
//! Cases: `PROPTEST_CASES` if set, else 10 000.

use proptest::prelude::*;
use std::collections::BTreeMap;
use timer_core::{Hz, Jiffies, Owner, TimerError, TimerHandle, TimerKind, Wheel};

const K: usize = 10; // timers the test juggles
const CAP: usize = 12;
const MAX_TIMEOUT: u64 = (1 << 32) - 1;
type W = Wheel<CAP, u32>;

#[derive(Clone, Debug)]
enum Op {
    Add(usize, i64),
    Mod(usize, i64),
    Del(usize),
    Period(usize, u32),
    Realloc(usize, bool),
    Advance(u64),
    Skip(u64),
    Backwards(u64),
}

fn delta() -> impl Strategy<Value = i64> {
    let boundaries = prop::sample::select(vec![8u32, 14, 20, 26, 32]);
    prop_oneof![
        4 => -3i64..300,
        3 => (boundaries.clone(), -3i64..=3).prop_map(|(k, d)| (1i64 << k) + d),
        2 => boundaries.prop_flat_map(|k| 0i64..(1i64 << k)),
        1 => (1i64 << 32)..(1i64 << 40),
        1 => Just(i64::MIN + 7), // more than 2^63 ahead reads as the past
        1 => -(1i64 << 40)..-3,
    ]
}

fn skip() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => 2u64..600,
        2 => prop::sample::select(vec![255u64, 256, 257, 3000, (1 << 14) - 1, 1 << 14, (1 << 14) + 1,
                                        1 << 20, (1 << 20) + 3, (1 << 26) + 5, 1 << 32, (1 << 32) + 7]),
        1 => 0u64..(1 << 34),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let t = 0..K;
    prop_oneof![
        6 => (t.clone(), delta()).prop_map(|(i, d)| Op::Add(i, d)),
        6 => (t.clone(), delta()).prop_map(|(i, d)| Op::Mod(i, d)),
        3 => t.clone().prop_map(Op::Del),
        1 => (t.clone(), prop::sample::select(vec![0u32, 0, 1, 2, 3, 7, 64, 255, 256, 257, 1000, 16385])).prop_map(|(i, p)| Op::Period(i, p)),
        1 => (t, any::<bool>()).prop_map(|(i, d)| Op::Realloc(i, d)),
        5 => (0u64..4).prop_map(Op::Advance),
        2 => skip().prop_map(Op::Skip),
        1 => (1u64..10).prop_map(Op::Backwards),
    ]
}

fn start() -> impl Strategy<Value = u64> {
    let hz = Hz::new(1000).unwrap().initial_jiffies().0;
    let hz100 = Hz::new(100).unwrap().initial_jiffies().0;
    let mut bases = vec![0u64, hz, hz100, 1 << 32, 0 /* 2^64 */, 3 << 14, 5 << 20, 7 << 26];
    for k in [8u32, 14, 20, 26, 32] {
        bases.push(1 << k);
    }
    prop_oneof![
        8 => (prop::sample::select(bases), 0u64..4).prop_map(|(b, off)| b.wrapping_sub(off)),
        1 => (prop::sample::select(vec![1u64 << 32, 0]), 0u64..400).prop_map(|(b, off)| b.wrapping_sub(off)),
        1 => any::<u64>(),
    ]
}

#[derive(Clone, Copy, Default)]
struct MTimer {
    pending: Option<(u64, u8, u64)>, // key: (expiry - origin, class, seq)
    period: u32,
    deferrable: bool,
}

struct Model {
    origin: u64,
    tj: u64,
    seq: u64,
    t: [MTimer; K],
    q: BTreeMap<(u64, u8, u64), usize>,
}

impl Model {
    fn normalize(&self, e: u64) -> u64 {
        let ahead = e.wrapping_sub(self.tj);
        if ahead >= 1 << 63 {
            self.tj
        } else {
            self.tj.wrapping_add(ahead.min(MAX_TIMEOUT))
        }
    }
    fn arm(&mut self, i: usize, e: u64) {
        self.seq += 1;
        let key = (e.wrapping_sub(self.origin), self.t[i].deferrable as u8, self.seq);
        self.q.insert(key, i);
        self.t[i].pending = Some(key);
    }
    fn disarm(&mut self, i: usize) -> bool {
        match self.t[i].pending.take() {
            Some(k) => {
                self.q.remove(&k);
                true
            }
            None => false,
        }
    }
    fn add(&mut self, i: usize, e: u64) -> Result<(), TimerError> {
        if self.t[i].pending.is_some() {
            return Err(TimerError::AlreadyPending);
        }
        let e = self.normalize(e);
        self.arm(i, e);
        Ok(())
    }
    fn modify(&mut self, i: usize, e: u64) -> bool {
        let e = self.normalize(e);
        if let Some(k) = self.t[i].pending {
            if k.0 == e.wrapping_sub(self.origin) {
                return true;
            }
        }
        let was = self.disarm(i);
        self.arm(i, e);
        was
    }
    fn run(&mut self, now: u64, out: &mut Vec<(usize, u64)>) {
        if (now.wrapping_sub(self.tj) as i64) < 0 {
            return;
        }
        let limit = now.wrapping_sub(self.origin);
        while let Some((&k, &i)) = self.q.iter().next() {
            if k.0 > limit {
                break;
            }
            self.q.remove(&k);
            self.t[i].pending = None;
            let e = k.0.wrapping_add(self.origin);
            out.push((i, e));
            if self.t[i].period != 0 {
                self.arm(i, e.wrapping_add(self.t[i].period as u64));
            }
        }
        self.tj = now.wrapping_add(1);
    }
    fn next_expiry(&self) -> Option<u64> {
        self.q.keys().find(|k| k.1 == 0).map(|k| k.0.wrapping_add(self.origin))
    }
}

fn run_case(start: u64, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut w = W::new(Jiffies(start));
    let mut m = Model { origin: start, tj: start, seq: 0, t: [MTimer::default(); K], q: BTreeMap::new() };
    let mut h: Vec<TimerHandle> = Vec::new();
    let mut stale: Vec<TimerHandle> = Vec::new();
    for i in 0..K {
        let kind = if i % 4 == 3 { TimerKind::Deferrable } else { TimerKind::Normal };
        m.t[i].deferrable = kind == TimerKind::Deferrable;
        h.push(w.alloc(Owner((i % 3) as u16), i as u32, kind, 8).unwrap());
    }
    let mut now = start.wrapping_sub(1);
    let mut got = Vec::new();
    let mut want = Vec::new();
    for op in ops {
        match op {
            Op::Add(i, d) => {
                let e = m.tj.wrapping_add(d as u64);
                prop_assert_eq!(w.add_timer(h[i], Jiffies(e)), m.add(i, e), "add {} {:#x}", i, e);
            }
            Op::Mod(i, d) => {
                let e = m.tj.wrapping_add(d as u64);
                prop_assert_eq!(w.mod_timer(h[i], Jiffies(e)), Ok(m.modify(i, e)), "mod {} {:#x}", i, e);
            }
            Op::Del(i) => prop_assert_eq!(w.del_timer(h[i]), Ok(m.disarm(i))),
            Op::Period(i, p) => {
                w.set_period(h[i], p).unwrap();
                m.t[i].period = p;
            }
            Op::Realloc(i, deferrable) => {
                prop_assert_eq!(w.free(h[i]), Ok(m.disarm(i)));
                stale.push(h[i]);
                let kind = if deferrable { TimerKind::Deferrable } else { TimerKind::Normal };
                h[i] = w.alloc(Owner(9), i as u32, kind, 100).unwrap();
                m.t[i] = MTimer { pending: None, period: 0, deferrable };
            }
            Op::Advance(n) | Op::Skip(n) | Op::Backwards(n) => {
                let n = match op {
                    // Keep periodic catch-up bounded: a period of 1 over a
                    // 2^34 skip would fire 2^34 times.
                    Op::Skip(n) if m.t.iter().any(|t| t.period != 0 && t.pending.is_some()) => n.min(5000),
                    _ => n,
                };
                let target = if matches!(op, Op::Backwards(_)) { now.wrapping_sub(n) } else { now.wrapping_add(n) };
                got.clear();
                want.clear();
                let before = w.timer_jiffies();
                let stats = w.run_timers(Jiffies(target), |e| {
                    got.push((e.token as usize, e.expires.0));
                    assert_eq!(e.token as usize, h.iter().position(|x| *x == e.handle).unwrap());
                });
                m.run(target, &mut want);
                prop_assert_eq!(&got, &want, "run to {:#x} from {:#x}", target, before.0);
                prop_assert_eq!(stats.fired as usize, want.len());
                if !matches!(op, Op::Backwards(_)) {
                    now = target;
                    // Fast-forward bound: each step fires a slot or jumps
                    // to an event (a fired slot or a cascade, at most 4 per
                    // timer), never depending on how many jiffies it covers.
                    prop_assert!(stats.steps as usize <= 10 * (want.len() + K) + 2,
                        "steps {} for {} fired over {}", stats.steps, want.len(), n);
                }
                prop_assert_eq!(w.timer_jiffies().0, m.tj);
            }
        }
        prop_assert_eq!(w.next_expiry().map(|j| j.0), m.next_expiry());
        for (hi, mt) in h.iter().zip(m.t.iter()) {
            prop_assert_eq!(w.timer_pending(*hi), Ok(mt.pending.is_some()));
            let e = mt.pending.map(|k| Jiffies(k.0.wrapping_add(m.origin)));
            prop_assert_eq!(w.expires(*hi), Ok(e));
        }
    }
    for s in stale {
        prop_assert_eq!(w.del_timer(s), Err(TimerError::StaleHandle));
    }
    prop_assert_eq!(w.audit(), Ok(()));
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 4096, ..ProptestConfig::default() })]

    #[test]
    fn wheel_agrees_with_model(start in start(), ops in prop::collection::vec(op(), 1..80)) {
        run_case(start, ops)?;
    }
}

/// A long deterministic run through several 2^14 and one 2^20 boundary with
/// many timers, checked against the model and audited along the way.
#[test]
fn long_run_across_level_boundaries() {
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for start in [(1u64 << 20) - 5000, u64::MAX - 70_000, Hz::new(1000).unwrap().initial_jiffies().0 - 3] {
        let mut ops = Vec::new();
        for _ in 0..3000 {
            let r = next();
            let i = (r % K as u64) as usize;
            let d = match (r >> 8) % 4 {
                0 => (r >> 16) % 300,
                1 => (r >> 16) % (1 << 14),
                2 => (r >> 16) % (1 << 17),
                _ => (1 << 20) + (r >> 16) % 64,
            } as i64;
            ops.push(match (r >> 40) % 5 {
                0 => Op::Add(i, d),
                1 | 2 => Op::Mod(i, d),
                3 => Op::Del(i),
                _ => Op::Advance((r >> 48) % 97),
            });
        }
        run_case(start, ops).unwrap();
    }
}
