//! Criterion benchmarks: timer-core's wheel ("escapement") against peers.
//!
//! Workloads (N = 1e3, 1e4, 1e5, 1e6 timers; ticks are jiffies = ms):
//! - W1 insert: N timers into an empty structure; four expiry mixes.
//! - W2 retransmit: N pending timers; N operations on random timers, 3/4
//!   re-arm, 1/4 cancel-and-arm, 1 % with a short timeout; time advances 8
//!   ticks per N operations, so about 99 % of timers never expire.
//! - W3 expire: N timers over 1024 ticks, then run tick by tick until all
//!   have fired (ns per expired timer); and the empty tick: one tick with N
//!   timers pending far away (ns per tick).
//! - W4 periodic: N periodic timers (periods 16..1024), run 1024 ticks
//!   (ns per expiry, re-arm included).
//! - W5 next-expiry query with N pending timers, and a 3000-tick catch-up
//!   with nothing due (ns per catch-up).
//! - W7 hook chain: one `TimerCore::tick` with 0/1/8/64 client hooks.
//!
//! Filter as usual: `cargo bench -p timer-bench -- W2`. Env `BENCH_MAX_N`
//! caps N (e.g. 100000) for a quicker run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use timer_bench::*;
use timer_core::{HookId, HookPolicy, Hz, Jiffies, Owner, TickVisitor, TimerCore};

const NS: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn max_n() -> usize {
    std::env::var("BENCH_MAX_N").ok().and_then(|s| s.parse().ok()).unwrap_or(usize::MAX)
}

/// Run `$f::<Subject>(args)` for our wheel sized for `$n` and for every peer.
macro_rules! all_subjects {
    ($n:expr, $f:ident, $($a:expr),*) => {{
        match $n {
            1_000 => $f::<Escapement<1024, u16>>($($a),*),
            10_000 => $f::<Escapement<16384, u16>>($($a),*),
            100_000 => $f::<Escapement<131072, u32>>($($a),*),
            _ => $f::<Escapement<{ 1 << 20 }, u32>>($($a),*),
        }
        $f::<TimerQueuePeer>($($a),*);
        $f::<NexusPeer>($($a),*);
        $f::<HhwtPeer>($($a),*);
        $f::<TokioPeer>($($a),*);
        $f::<HeapPeer>($($a),*);
        $f::<BTreePeer>($($a),*);
    }};
}

fn w1<S: Subject>(g: &mut Group, n: usize, mix: Mix) {
    let mut r = Rng::new(1);
    let ats: Vec<u64> = (0..n).map(|_| mix.delay(&mut r)).collect();
    g.bench_with_input(BenchmarkId::new(S::NAME, n), &n, |b, &n| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut s = S::build(n);
                let mut hs = Vec::with_capacity(n);
                let t0 = Instant::now();
                for (id, &at) in ats.iter().enumerate() {
                    hs.push(s.insert(at, id as u32));
                }
                total += t0.elapsed();
                for h in hs {
                    s.cancel(h);
                }
            }
            total
        })
    });
}

fn w2<S: Subject>(g: &mut Group, n: usize) {
    g.bench_with_input(BenchmarkId::new(S::NAME, n), &n, |b, &n| {
        b.iter_custom(|iters| {
            let mut r = Rng::new(2);
            let mut s = S::build(n);
            let mut hs: Vec<Option<S::H>> = (0..n).map(|id| Some(s.insert(r.range(200, 1200), id as u32))).collect();
            let mut fired = vec![false; n];
            let mut now = 0u64;
            let tick_every = (n / 8).max(1);
            let t0 = Instant::now();
            for _ in 0..iters {
                for op in 0..n {
                    let k = (r.next_u64() % n as u64) as usize;
                    let x = r.next_u64();
                    let at = now + if x.is_multiple_of(100) { 1 + (x >> 8) % 4 } else { 200 + (x >> 8) % 1000 };
                    let h = hs[k].take().unwrap();
                    let h = if fired[k] {
                        fired[k] = false;
                        s.reap(h);
                        s.insert(at, k as u32)
                    } else if (x >> 20) & 3 == 3 {
                        s.restart(h, at, k as u32)
                    } else {
                        s.rearm(h, at, k as u32)
                    };
                    hs[k] = Some(h);
                    if op % tick_every == tick_every - 1 {
                        now += 1;
                        s.advance(now, &mut |id| fired[id as usize] = true);
                    }
                }
            }
            let el = t0.elapsed();
            for (k, h) in hs.into_iter().enumerate() {
                if let Some(h) = h {
                    if fired[k] { s.reap(h) } else { s.cancel(h) }
                }
            }
            el
        })
    });
}

fn w3_expire<S: Subject>(g: &mut Group, n: usize) {
    let mut r = Rng::new(3);
    let ats: Vec<u64> = (0..n).map(|_| r.range(1, W3_SPAN + 1)).collect();
    g.bench_with_input(BenchmarkId::new(S::NAME, n), &n, |b, &n| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut s = S::build(n);
                for (id, &at) in ats.iter().enumerate() {
                    s.insert_forget(at, id as u32);
                }
                let mut count = 0usize;
                let t0 = Instant::now();
                for t in 1..=W3_SPAN {
                    s.advance(t, &mut |id| {
                        black_box(id);
                        count += 1;
                    });
                }
                total += t0.elapsed();
                assert_eq!(count, n, "{} fired {count} of {n}", S::NAME);
            }
            total
        })
    });
}

const EMPTY_TICKS: u64 = 1000;

/// A subject for `n` timers holding one timer per entry of `ats` (ids in
/// order), none of which the run will cancel.
fn prefilled<S: Subject>(n: usize, ats: &[u64]) -> Box<S> {
    let mut s = S::build(n);
    for (id, &at) in ats.iter().enumerate() {
        s.insert_forget(at, id as u32);
    }
    s
}

fn w3_empty<S: Subject>(g: &mut Group, n: usize) {
    let mut r = Rng::new(5);
    let ats: Vec<u64> = (0..n).map(|_| r.range(1 << 20, 1 << 21)).collect();
    g.bench_with_input(BenchmarkId::new(S::NAME, n), &n, |b, &n| {
        b.iter_custom(|iters| {
            let build = || prefilled::<S>(n, &ats);
            let mut s = build();
            let mut now = 0u64;
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                if now > 1 << 19 {
                    drop(s);
                    s = build(); // old one first: tokio's enter guards nest
                    now = 0;
                }
                let t0 = Instant::now();
                for _ in 0..EMPTY_TICKS {
                    now += 1;
                    s.advance(now, &mut |_| panic!("nothing is due"));
                }
                total += t0.elapsed();
            }
            total
        })
    });
}

fn w4<S: Subject>(g: &mut Group, n: usize) {
    let mut r = Rng::new(4);
    let ps: Vec<(u64, u64)> = (0..n).map(|_| w4_timer(&mut r)).collect();
    let expect = w4_fires(n) as usize;
    g.bench_with_input(BenchmarkId::new(S::NAME, n), &n, |b, &n| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut due = Vec::new();
            for _ in 0..iters {
                let mut s = S::build(n);
                let mut builtin = false;
                for (id, &(p, first)) in ps.iter().enumerate() {
                    builtin = s.arm_periodic(first, p, id as u32);
                }
                let mut count = 0usize;
                let t0 = Instant::now();
                for t in 1..=W4_TICKS {
                    s.advance(t, &mut |id| {
                        count += 1;
                        if !builtin {
                            due.push(id);
                        }
                    });
                    for id in due.drain(..) {
                        s.insert_forget(t + ps[id as usize].0, id);
                    }
                }
                total += t0.elapsed();
                assert_eq!(count, expect, "{}", S::NAME);
            }
            total
        })
    });
}

fn w5_next<S: Subject>(g: &mut Group, n: usize) {
    if !S::HAS_NEXT {
        return;
    }
    let mut r = Rng::new(6);
    let ats: Vec<u64> = (0..n).map(|_| r.range(1000, 1 << 20)).collect();
    g.bench_with_input(BenchmarkId::new(S::NAME, n), &n, |b, &n| {
        let mut s = S::build(n);
        for (id, &at) in ats.iter().enumerate() {
            s.insert_forget(at, id as u32);
        }
        b.iter_custom(|iters| {
            let t0 = Instant::now();
            for _ in 0..iters {
                for _ in 0..EMPTY_TICKS {
                    black_box(s.next_expiry());
                }
            }
            t0.elapsed()
        })
    });
}

fn w5_catchup<S: Subject>(g: &mut Group, n: usize) {
    let mut r = Rng::new(7);
    let ats: Vec<u64> = (0..n).map(|_| r.range(1 << 22, 1 << 23)).collect();
    g.bench_with_input(BenchmarkId::new(S::NAME, n), &n, |b, &n| {
        b.iter_custom(|iters| {
            let build = || prefilled::<S>(n, &ats);
            let mut s = build();
            let mut now = 0u64;
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                if now > 1 << 21 {
                    drop(s);
                    s = build();
                    now = 0;
                }
                now += 3000;
                let t0 = Instant::now();
                s.advance(now, &mut |_| panic!("nothing is due"));
                total += t0.elapsed();
            }
            total
        })
    });
}

/// Vec::push floor for W4: one push per expiry.
fn w4_floor(g: &mut Group, n: usize) {
    let fires = w4_fires(n) as usize;
    g.bench_with_input(BenchmarkId::new(VecFloor::NAME, n), &n, |b, _| {
        let mut v: Vec<(u64, u32)> = Vec::with_capacity(fires);
        b.iter(|| {
            v.clear();
            for k in 0..fires {
                v.push((k as u64, k as u32));
            }
            black_box(&v);
        })
    });
}

struct Count(u64);

impl TickVisitor<()> for Count {
    fn grabbed(&mut self, _: HookId, _: Owner, _: ()) -> bool {
        false
    }
    fn hook(&mut self, _: HookId, o: Owner, _: ()) {
        self.0 = self.0.wrapping_add(o.0 as u64);
    }
    fn expired(&mut self, _: timer_core::Expired<()>) {
        self.0 += 1;
    }
}

fn w7(c: &mut Criterion) {
    let mut g = c.benchmark_group("W7_hook_chain_tick");
    g.throughput(Throughput::Elements(EMPTY_TICKS));
    for hooks in [0usize, 1, 8, 64] {
        g.bench_with_input(BenchmarkId::new("escapement", hooks), &hooks, |b, &hooks| {
            let mut core: Box<TimerCore<16, 70>> = Box::new(TimerCore::starting_at(Hz::new(1000).unwrap(), Jiffies(0)));
            for k in 0..hooks {
                core.register_hook(Owner(k as u16), false, &HookPolicy::ANY).unwrap();
            }
            let mut v = Count(0);
            b.iter(|| {
                for _ in 0..EMPTY_TICKS {
                    core.tick(1, &mut v);
                }
                black_box(v.0)
            })
        });
        // Floor: a Vec of function pointers, each called once per tick
        // (the client hooks plus the two built-in steps).
        g.bench_with_input(BenchmarkId::new("vec-floor", hooks), &hooks, |b, &hooks| {
            fn step(x: &mut u64) {
                *x = x.wrapping_add(1);
            }
            let chain: Vec<fn(&mut u64)> = vec![step; hooks + 2];
            let mut x = 0u64;
            b.iter(|| {
                for _ in 0..EMPTY_TICKS {
                    for f in black_box(&chain) {
                        f(&mut x);
                    }
                }
                black_box(x)
            })
        });
    }
    g.finish();
}

fn check_peers_agree() {
    let reference = sanity::<Escapement<1024, u16>>();
    assert_eq!(reference.len(), 1000 - 143);
    assert_eq!(sanity::<TimerQueuePeer>(), reference, "timer-queue");
    assert_eq!(sanity::<NexusPeer>(), reference, "nexus-timer");
    assert_eq!(sanity::<HhwtPeer>(), reference, "hhwt");
    assert_eq!(sanity::<TokioPeer>(), reference, "tokio");
    assert_eq!(sanity::<HeapPeer>(), reference, "heap");
    assert_eq!(sanity::<BTreePeer>(), reference, "btree");
}

fn benches(c: &mut Criterion) {
    check_peers_agree();
    let ns: Vec<usize> = NS.iter().copied().filter(|&n| n <= max_n()).collect();
    for mix in [Mix::Short, Mix::Medium, Mix::Far, Mix::Skewed] {
        let mut g = c.benchmark_group(format!("W1_insert_{}", mix.name()));
        for &n in &ns {
            g.throughput(Throughput::Elements(n as u64));
            all_subjects!(n, w1, &mut g, n, mix);
            w1::<VecFloor>(&mut g, n, mix);
        }
        g.finish();
    }
    let mut g = c.benchmark_group("W2_retransmit");
    for &n in &ns {
        g.throughput(Throughput::Elements(n as u64));
        all_subjects!(n, w2, &mut g, n);
        w2::<VecFloor>(&mut g, n);
    }
    g.finish();
    let mut g = c.benchmark_group("W3_expire_all");
    for &n in &ns {
        g.throughput(Throughput::Elements(n as u64));
        all_subjects!(n, w3_expire, &mut g, n);
        w3_expire::<VecFloor>(&mut g, n);
    }
    g.finish();
    let mut g = c.benchmark_group("W3_empty_tick");
    for &n in &ns {
        g.throughput(Throughput::Elements(EMPTY_TICKS));
        all_subjects!(n, w3_empty, &mut g, n);
    }
    g.finish();
    let mut g = c.benchmark_group("W4_periodic");
    for &n in &ns {
        g.throughput(Throughput::Elements(w4_fires(n)));
        all_subjects!(n, w4, &mut g, n);
        w4_floor(&mut g, n);
    }
    g.finish();
    let mut g = c.benchmark_group("W5_next_expiry");
    for &n in &ns {
        g.throughput(Throughput::Elements(EMPTY_TICKS));
        all_subjects!(n, w5_next, &mut g, n);
    }
    g.finish();
    let mut g = c.benchmark_group("W5_catchup_3000");
    for &n in &ns {
        g.throughput(Throughput::Elements(1));
        all_subjects!(n, w5_catchup, &mut g, n);
    }
    g.finish();
    w7(c);
}

fn main() {
    // The 1e6-timer wheel is a 20 MB value: give the benches a big stack.
    std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(|| {
            let mut c = Criterion::default()
                .sample_size(10)
                .warm_up_time(Duration::from_millis(200))
                .measurement_time(Duration::from_millis(800))
                .without_plots()
                .configure_from_args();
            benches(&mut c);
            c.final_summary();
        })
        .unwrap()
        .join()
        .unwrap();
}
