//! Benchmark subjects and workloads for `timer-core` and its peers.
//!
//! Why this crate exists: to measure the timer wheel of `timer-core`
//! against other timer structures on the same workloads in the same run
//! (`cargo bench -p timer-bench`), and to turn criterion's output into
//! `BENCHMARKS.md` (`cargo run -p timer-bench --release --bin bench_report`).
//!
//! Every subject implements [`Subject`] over a common time line of integer
//! ticks starting at 0 (1 tick = 1 jiffy = 1 ms for the peers that want a
//! `Duration`). Workload inputs come from a fixed-seed generator, so every
//! subject sees the same operations.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use timer_core::{Jiffies, LinkIndex, Owner, TimerHandle, TimerKind, Wheel};

/// A small fixed-seed xorshift generator: the same inputs for every subject.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    /// Generator for workload `tag`.
    pub fn new(tag: u64) -> Rng {
        Rng(0x9E37_79B9_7F4A_7C15 ^ tag.wrapping_mul(0xD1B5_4A32_D192_ED03) | 1)
    }
    /// Next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Uniform in `[lo, hi)`.
    #[inline]
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo)
    }
}

/// W1 expiry mixes (delay in ticks from now).
#[derive(Clone, Copy, Debug)]
pub enum Mix {
    /// 1..256 ticks (tv1 of the wheel).
    Short,
    /// 256..16384 ticks (tv2).
    Medium,
    /// 16384..2^24 ticks (tv3, tv4).
    Far,
    /// 70 % short, 25 % medium, 5 % far.
    Skewed,
}

impl Mix {
    /// A delay drawn from the mix.
    pub fn delay(self, r: &mut Rng) -> u64 {
        match self {
            Mix::Short => r.range(1, 256),
            Mix::Medium => r.range(256, 1 << 14),
            Mix::Far => r.range(1 << 14, 1 << 24),
            Mix::Skewed => match r.next_u64() % 100 {
                0..70 => r.range(1, 256),
                70..95 => r.range(256, 1 << 14),
                _ => r.range(1 << 14, 1 << 24),
            },
        }
    }
    /// Short name for benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Mix::Short => "short",
            Mix::Medium => "medium",
            Mix::Far => "far",
            Mix::Skewed => "skewed",
        }
    }
}

/// W4: period of timer `k` and its first expiry.
pub fn w4_timer(r: &mut Rng) -> (u64, u64) {
    let p = r.range(16, 1024);
    (p, r.range(1, p + 1))
}

/// W4 runs this many ticks.
pub const W4_TICKS: u64 = 1024;
/// W3 spreads the expiries over this many ticks.
pub const W3_SPAN: u64 = 1024;

/// Number of expiries W4 delivers for `n` timers (same generator as the bench).
pub fn w4_fires(n: usize) -> u64 {
    let mut r = Rng::new(4);
    let mut fires = 0;
    for _ in 0..n {
        let (p, first) = w4_timer(&mut r);
        if first <= W4_TICKS {
            fires += 1 + (W4_TICKS - first) / p;
        }
    }
    fires
}

/// A timer structure under test. `id`s are `0..n`; times are absolute ticks.
pub trait Subject {
    /// Handle to a pending timer.
    type H;
    /// Name used in benchmark ids and the report.
    const NAME: &'static str;
    /// An empty structure for up to `n` timers, at tick 0.
    fn build(n: usize) -> Box<Self>;
    /// Arm a new timer `id` at tick `at` (> now).
    fn insert(&mut self, at: u64, id: u32) -> Self::H;
    /// Arm a timer whose handle will never be used again.
    fn insert_forget(&mut self, at: u64, id: u32) {
        let h = self.insert(at, id);
        drop_handle(h);
    }
    /// Move a pending timer to `at`.
    fn rearm(&mut self, h: Self::H, at: u64, id: u32) -> Self::H;
    /// Cancel a pending timer.
    fn cancel(&mut self, h: Self::H);
    /// Cancel a pending timer and arm it again from scratch (not the
    /// re-arm fast path): what a retransmit timer does on an ack followed
    /// by a new send.
    fn restart(&mut self, h: Self::H, at: u64, id: u32) -> Self::H {
        self.cancel(h);
        self.insert(at, id)
    }
    /// Arm timer `id` to fire at `at` and then every `period` ticks.
    /// Returns `true` if the structure re-arms by itself; otherwise the
    /// caller re-inserts on each expiry.
    fn arm_periodic(&mut self, at: u64, _period: u64, id: u32) -> bool {
        self.insert_forget(at, id);
        false
    }
    /// Give back the handle of a timer that has fired.
    fn reap(&mut self, h: Self::H) {
        drop_handle(h);
    }
    /// Run to tick `to` (inclusive), reporting each fired id.
    fn advance(&mut self, to: u64, fired: &mut dyn FnMut(u32));
    /// Earliest pending expiry, if the structure can tell.
    fn next_expiry(&mut self) -> Option<u64>;
    /// `false` if [`Subject::next_expiry`] is not meaningful for it.
    const HAS_NEXT: bool = true;
}

#[inline]
fn drop_handle<H>(_h: H) {}

// ----- timer-core ----------------------------------------------------------

/// `timer-core`'s wheel with room for `CAP` timers, links of type `I`.
pub struct Escapement<const CAP: usize, I> {
    w: Wheel<CAP, (), I>,
}

impl<const CAP: usize, I: LinkIndex> Subject for Escapement<CAP, I> {
    type H = TimerHandle;
    const NAME: &'static str = "escapement";
    fn build(_n: usize) -> Box<Self> {
        Box::new(Escapement { w: Wheel::new(Jiffies(0)) })
    }
    #[inline]
    fn insert(&mut self, at: u64, id: u32) -> TimerHandle {
        // The per-owner counter is 16 bits: spread big runs over owners.
        let h = self.w.alloc(Owner((id >> 15) as u16), (), TimerKind::Normal, u16::MAX).unwrap();
        self.w.add_timer(h, Jiffies(at)).unwrap();
        h
    }
    fn insert_forget(&mut self, at: u64, id: u32) {
        let h = self.insert(at, id);
        // One-shot and forgotten: give the slot back when it fires (W4 uses
        // the built-in periodic mode instead, see `periodic`).
        let _ = h;
    }
    #[inline]
    fn rearm(&mut self, h: TimerHandle, at: u64, _id: u32) -> TimerHandle {
        self.w.mod_timer(h, Jiffies(at)).unwrap();
        h
    }
    #[inline]
    fn cancel(&mut self, h: TimerHandle) {
        self.w.del_timer(h).unwrap();
    }
    #[inline]
    fn restart(&mut self, h: TimerHandle, at: u64, _id: u32) -> TimerHandle {
        self.w.del_timer(h).unwrap();
        self.w.add_timer(h, Jiffies(at)).unwrap();
        h
    }
    fn reap(&mut self, h: TimerHandle) {
        self.w.free(h).unwrap();
    }
    fn arm_periodic(&mut self, at: u64, period: u64, id: u32) -> bool {
        self.periodic(at, period, id);
        true
    }
    #[inline]
    fn advance(&mut self, to: u64, fired: &mut dyn FnMut(u32)) {
        self.w.run_timers(Jiffies(to), |e| fired(e.handle.index()));
    }
    fn next_expiry(&mut self) -> Option<u64> {
        self.w.next_expiry().map(|j| j.0)
    }
}

impl<const CAP: usize, I: LinkIndex> Escapement<CAP, I> {
    /// Arm a periodic timer (W4): first expiry `at`, then every `period`.
    pub fn periodic(&mut self, at: u64, period: u64, id: u32) {
        let h = self.insert(at, id);
        self.w.set_period(h, period as u32).unwrap();
    }
    /// The wheel.
    pub fn wheel(&mut self) -> &mut Wheel<CAP, (), I> {
        &mut self.w
    }
}

// ----- timer-queue ---------------------------------------------------------

/// `timer-queue` (Ralith): hierarchical wheel over a slab.
pub struct TimerQueuePeer {
    q: timer_queue::TimerQueue<u32>,
}

impl Subject for TimerQueuePeer {
    type H = timer_queue::Timer;
    const NAME: &'static str = "timer-queue";
    fn build(n: usize) -> Box<Self> {
        Box::new(TimerQueuePeer { q: timer_queue::TimerQueue::with_capacity(n) })
    }
    #[inline]
    fn insert(&mut self, at: u64, id: u32) -> Self::H {
        self.q.insert(at, id)
    }
    #[inline]
    fn rearm(&mut self, h: Self::H, at: u64, _id: u32) -> Self::H {
        self.q.reset(h, at);
        h
    }
    #[inline]
    fn cancel(&mut self, h: Self::H) {
        self.q.remove(h);
    }
    #[inline]
    fn advance(&mut self, to: u64, fired: &mut dyn FnMut(u32)) {
        while let Some(id) = self.q.poll(to) {
            fired(id);
        }
    }
    fn next_expiry(&mut self) -> Option<u64> {
        self.q.next_timeout()
    }
}

// ----- nexus-timer -----------------------------------------------------------

/// `nexus-timer`: hierarchical wheel with O(1) insert/cancel (standing in
/// for `bitwheel`, whose fixed per-slot capacity cannot hold the large runs).
pub struct NexusPeer {
    w: nexus_timer::Wheel<u32>,
    base: Instant,
    buf: Vec<u32>,
}

impl NexusPeer {
    #[inline]
    fn at(&self, t: u64) -> Instant {
        self.base + Duration::from_millis(t)
    }
}

impl Subject for NexusPeer {
    type H = nexus_timer::TimerHandle<u32>;
    const NAME: &'static str = "nexus-timer";
    fn build(n: usize) -> Box<Self> {
        let base = Instant::now();
        let w = nexus_timer::WheelBuilder::default().unbounded(n.clamp(1024, 1 << 16)).build(base).unwrap();
        Box::new(NexusPeer { w, base, buf: Vec::new() })
    }
    #[inline]
    fn insert(&mut self, at: u64, id: u32) -> Self::H {
        let d = self.at(at);
        self.w.schedule(d, id)
    }
    fn insert_forget(&mut self, at: u64, id: u32) {
        let d = self.at(at);
        self.w.schedule_forget(d, id)
    }
    #[inline]
    fn rearm(&mut self, h: Self::H, at: u64, _id: u32) -> Self::H {
        let d = self.at(at);
        self.w.reschedule(h, d)
    }
    #[inline]
    fn cancel(&mut self, h: Self::H) {
        self.w.cancel(h);
    }
    fn reap(&mut self, h: Self::H) {
        self.w.free(h);
    }
    #[inline]
    fn advance(&mut self, to: u64, fired: &mut dyn FnMut(u32)) {
        let now = self.at(to);
        self.buf.clear();
        self.w.poll(now, &mut self.buf);
        for &id in &self.buf {
            fired(id);
        }
    }
    fn next_expiry(&mut self) -> Option<u64> {
        self.w.next_deadline().map(|d| (d - self.base).as_millis() as u64)
    }
}

// ----- hierarchical_hash_wheel_timer ------------------------------------------

use hierarchical_hash_wheel_timer::wheels::cancellable::{CancellableTimerEntry, QuadWheelWithOverflow};
use hierarchical_hash_wheel_timer::wheels::{Skip, TimerEntryWithDelay};

/// Entry type for `hierarchical_hash_wheel_timer`.
#[derive(Debug)]
pub struct HhEntry {
    key: u64,
    delay: Duration,
}

impl CancellableTimerEntry for HhEntry {
    type Id = u64;
    fn id(&self) -> &u64 {
        &self.key
    }
}

impl TimerEntryWithDelay for HhEntry {
    fn delay(&self) -> Duration {
        self.delay
    }
}

/// `hierarchical_hash_wheel_timer`: four byte-wheels plus overflow, `Rc`
/// entries and a hash map for cancellation.
pub struct HhwtPeer {
    w: QuadWheelWithOverflow<HhEntry>,
    now: u64,
    seq: u64,
}

impl Subject for HhwtPeer {
    type H = u64;
    const NAME: &'static str = "hhwt";
    fn build(_n: usize) -> Box<Self> {
        Box::new(HhwtPeer { w: QuadWheelWithOverflow::new(), now: 0, seq: 0 })
    }
    #[inline]
    fn insert(&mut self, at: u64, id: u32) -> u64 {
        self.seq += 1;
        let key = (self.seq << 32) | id as u64;
        let delay = Duration::from_millis(at.saturating_sub(self.now).max(1));
        let _ = self.w.insert(HhEntry { key, delay });
        key
    }
    #[inline]
    fn rearm(&mut self, h: u64, at: u64, id: u32) -> u64 {
        let _ = self.w.cancel(&h);
        self.insert(at, id)
    }
    #[inline]
    fn cancel(&mut self, h: u64) {
        let _ = self.w.cancel(&h);
    }
    fn advance(&mut self, to: u64, fired: &mut dyn FnMut(u32)) {
        while self.now < to {
            let left = to - self.now;
            match self.w.can_skip() {
                Skip::Empty => {
                    self.w.skip(left.min(u32::MAX as u64) as u32);
                    self.now += left.min(u32::MAX as u64);
                }
                Skip::Millis(m) => {
                    let s = left.min(m as u64);
                    self.w.skip(s as u32);
                    self.now += s;
                }
                Skip::None => {
                    for e in self.w.tick() {
                        fired(e.key as u32);
                    }
                    self.now += 1;
                }
            }
        }
    }
    fn next_expiry(&mut self) -> Option<u64> {
        match self.w.can_skip() {
            Skip::Empty => None,
            Skip::Millis(m) => Some(self.now + m as u64 + 1),
            Skip::None => Some(self.now + 1),
        }
    }
}

// ----- tokio-util DelayQueue ------------------------------------------------------

/// `tokio_util::time::DelayQueue` on a current-thread runtime with a paused
/// clock. The runtime is entered for the subject's whole life (the guard is
/// kept), and time moves with `tokio::time::advance`.
pub struct TokioPeer {
    q: tokio_util::time::DelayQueue<u32>,
    base: tokio::time::Instant,
    now: u64,
    _guard: tokio::runtime::EnterGuard<'static>,
    rt: &'static tokio::runtime::Runtime,
}

impl Subject for TokioPeer {
    type H = tokio_util::time::delay_queue::Key;
    const NAME: &'static str = "tokio-delayqueue";
    const HAS_NEXT: bool = false;
    fn build(n: usize) -> Box<Self> {
        // One small runtime per build, leaked so the enter guard can be
        // 'static; builds are few (one per benchmark batch).
        let rt: &'static tokio::runtime::Runtime = Box::leak(Box::new(
            tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap(),
        ));
        let guard = rt.enter();
        let base = tokio::time::Instant::now();
        Box::new(TokioPeer { q: tokio_util::time::DelayQueue::with_capacity(n), base, now: 0, _guard: guard, rt })
    }
    #[inline]
    fn insert(&mut self, at: u64, id: u32) -> Self::H {
        self.q.insert_at(id, self.base + Duration::from_millis(at))
    }
    #[inline]
    fn rearm(&mut self, h: Self::H, at: u64, _id: u32) -> Self::H {
        self.q.reset_at(&h, self.base + Duration::from_millis(at));
        h
    }
    #[inline]
    fn cancel(&mut self, h: Self::H) {
        self.q.remove(&h);
    }
    fn advance(&mut self, to: u64, fired: &mut dyn FnMut(u32)) {
        let d = Duration::from_millis(to - self.now);
        self.now = to;
        let q = &mut self.q;
        // Unconstrained: otherwise tokio's cooperative budget makes
        // poll_expired return Pending after 128 items per block_on.
        self.rt.block_on(tokio::task::unconstrained(async move {
            tokio::time::advance(d).await;
            let mut cx = Context::from_waker(Waker::noop());
            while let Poll::Ready(Some(e)) = q.poll_expired(&mut cx) {
                fired(e.into_inner());
            }
        }));
    }
    fn next_expiry(&mut self) -> Option<u64> {
        None
    }
}

// ----- BinaryHeap with lazy cancel --------------------------------------------------

/// `std::collections::BinaryHeap` of (expiry, id, generation); cancel and
/// re-arm bump the id's generation and leave the old entry to be skipped
/// (and compacted away when stale entries outnumber live ones).
pub struct HeapPeer {
    heap: BinaryHeap<Reverse<(u64, u32, u32)>>,
    gen: Vec<u32>,
    live: usize,
}

impl HeapPeer {
    #[inline]
    fn compact(&mut self) {
        if self.heap.len() > 2 * self.live + 1024 {
            let gen = &self.gen;
            self.heap.retain(|Reverse((_, id, g))| gen[*id as usize] == *g);
        }
    }
    #[inline]
    fn push(&mut self, at: u64, id: u32) -> u32 {
        let i = id as usize;
        if i >= self.gen.len() {
            self.gen.resize(i + 1, 0);
        }
        self.gen[i] = self.gen[i].wrapping_add(1);
        self.heap.push(Reverse((at, id, self.gen[i])));
        id
    }
}

impl Subject for HeapPeer {
    type H = u32;
    const NAME: &'static str = "binaryheap-lazy";
    fn build(n: usize) -> Box<Self> {
        Box::new(HeapPeer { heap: BinaryHeap::with_capacity(n), gen: vec![0; n], live: 0 })
    }
    #[inline]
    fn insert(&mut self, at: u64, id: u32) -> u32 {
        self.live += 1;
        self.push(at, id)
    }
    #[inline]
    fn rearm(&mut self, h: u32, at: u64, id: u32) -> u32 {
        let r = self.push(at, id);
        self.compact();
        let _ = h;
        r
    }
    #[inline]
    fn cancel(&mut self, h: u32) {
        self.gen[h as usize] = self.gen[h as usize].wrapping_add(1);
        self.live -= 1;
        self.compact();
    }
    #[inline]
    fn advance(&mut self, to: u64, fired: &mut dyn FnMut(u32)) {
        while let Some(&Reverse((at, id, g))) = self.heap.peek() {
            if at > to {
                break;
            }
            self.heap.pop();
            if self.gen[id as usize] == g {
                self.gen[id as usize] = g.wrapping_add(1);
                self.live -= 1;
                fired(id);
            }
        }
    }
    fn next_expiry(&mut self) -> Option<u64> {
        while let Some(&Reverse((at, id, g))) = self.heap.peek() {
            if self.gen[id as usize] == g {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }
}

// ----- BTreeMap -------------------------------------------------------------------

/// `std::collections::BTreeMap` keyed by (expiry, sequence).
pub struct BTreePeer {
    m: BTreeMap<(u64, u64), u32>,
    seq: u64,
}

impl Subject for BTreePeer {
    type H = (u64, u64);
    const NAME: &'static str = "btreemap";
    fn build(_n: usize) -> Box<Self> {
        Box::new(BTreePeer { m: BTreeMap::new(), seq: 0 })
    }
    #[inline]
    fn insert(&mut self, at: u64, id: u32) -> (u64, u64) {
        self.seq += 1;
        self.m.insert((at, self.seq), id);
        (at, self.seq)
    }
    #[inline]
    fn rearm(&mut self, h: (u64, u64), at: u64, id: u32) -> (u64, u64) {
        self.m.remove(&h);
        self.insert(at, id)
    }
    #[inline]
    fn cancel(&mut self, h: (u64, u64)) {
        self.m.remove(&h);
    }
    #[inline]
    fn advance(&mut self, to: u64, fired: &mut dyn FnMut(u32)) {
        while let Some(e) = self.m.first_entry() {
            if e.key().0 > to {
                break;
            }
            fired(e.remove());
        }
    }
    fn next_expiry(&mut self) -> Option<u64> {
        self.m.first_key_value().map(|(k, _)| k.0)
    }
}

// ----- Vec::push floor ----------------------------------------------------------------

/// The floor: every arm is one `Vec::push`, cancel does nothing, and
/// "expiring" hands back everything once the run passes the latest expiry.
/// No structure can do less work per operation.
pub struct VecFloor {
    v: Vec<(u64, u32)>,
    max: u64,
}

impl Subject for VecFloor {
    type H = ();
    const NAME: &'static str = "vec-floor";
    const HAS_NEXT: bool = false;
    fn build(n: usize) -> Box<Self> {
        Box::new(VecFloor { v: Vec::with_capacity(n), max: 0 })
    }
    #[inline]
    fn insert(&mut self, at: u64, id: u32) {
        self.max = self.max.max(at);
        self.v.push((at, id));
    }
    #[inline]
    fn rearm(&mut self, _h: (), at: u64, id: u32) {
        if self.v.len() >= 1 << 22 {
            self.v.clear();
        }
        self.insert(at, id)
    }
    #[inline]
    fn cancel(&mut self, _h: ()) {}
    #[inline]
    fn advance(&mut self, to: u64, fired: &mut dyn FnMut(u32)) {
        if to >= self.max {
            for (_, id) in self.v.drain(..) {
                fired(id);
            }
        }
    }
    fn next_expiry(&mut self) -> Option<u64> {
        None
    }
}

/// Quick self-check that every subject fires the same ids at the same ticks
/// for a small run; the bench calls it before measuring.
pub fn sanity<S: Subject>() -> Vec<(u64, u32)> {
    let mut s = S::build(1000);
    let mut r = Rng::new(99);
    let mut hs = Vec::new();
    for id in 0..1000u32 {
        hs.push(Some(s.insert(r.range(1, 300), id)));
    }
    for id in (0..1000u32).step_by(7) {
        if let Some(h) = hs[id as usize].take() {
            s.cancel(h);
        }
    }
    let mut out = Vec::new();
    for t in 1..=300u64 {
        let mut got = Vec::new();
        s.advance(t, &mut |id| got.push(id));
        got.sort_unstable();
        out.extend(got.into_iter().map(|id| (t, id)));
    }
    out
}
