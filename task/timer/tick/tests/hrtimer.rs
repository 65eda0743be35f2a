//! Host tests of the hrtimer queue: ordering, `hrtimer_forward` over
//! missed periods, cancel of a running or expired timer, handles of dead
//! owners and stale generations, quotas, and the clocksource's 32-bit wrap.

use abi::{Generation, TaskId};
use timer_tick::hrtimer::{cycles_to_ns, forward, ns_to_cycles_ceil, HR_TAG};
use timer_tick::{HrError, HrFired, HrTimers, Posts, Target};

fn task(index: usize, generation: u8) -> u16 {
    TaskId::for_index_and_gen(index, Generation::new(generation)).0
}

fn target(index: usize, bit: u8) -> Target {
    Target { task: task(index, 1), bit }
}

type Q = HrTimers<16, 8>;

fn drain(p: &mut Posts<8>) -> Vec<(usize, u32)> {
    p.map(|x| (TaskId(x.task).index(), x.bits)).collect()
}

#[test]
fn expiries_run_in_order_and_only_when_due() {
    let mut q = Q::new(16, 1000);
    let mut posts = Posts::new();
    // Armed out of order; equal expiries keep the order they were armed in.
    let mut handles = Vec::new();
    for (bit, at) in [(0u8, 5_000u64), (1, 1_000), (2, 3_000), (3, 1_000), (4, 9_000)] {
        let h = q.setup(target(2, bit)).unwrap();
        q.start(h, 2, at, 0).unwrap();
        handles.push(h);
    }
    assert_eq!(q.next_expiry(), Some(1_000));
    assert_eq!(q.run(999, &mut posts), 0, "nothing is due a nanosecond early");
    assert!(posts.is_empty());
    assert_eq!(q.run(1_000, &mut posts), 2);
    assert_eq!(drain(&mut posts), [(2, 0b1010)]);
    assert_eq!(q.next_expiry(), Some(3_000));
    assert_eq!(q.run(8_999, &mut posts), 2);
    assert_eq!(drain(&mut posts), [(2, 0b0101)]);
    assert_eq!(q.next_expiry(), Some(9_000));
    let f = q.fetch(handles[0], 2).unwrap();
    assert_eq!(f, HrFired { expires: 5_000, count: 1, active: false });
    assert_eq!(q.fetch(handles[0], 2).unwrap().count, 0, "a fetch takes the record");
}

#[test]
fn many_random_timers_fire_sorted_and_never_early() {
    let mut q: HrTimers<64, 8> = HrTimers::new(64, 1);
    let mut posts = Posts::new();
    let mut seed = 0x1234_5678u32;
    let mut rnd = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    let mut due = Vec::new();
    for i in 0..64 {
        let h = q.setup(target(1, (i % 32) as u8)).unwrap();
        let at = u64::from(rnd() % 1_000_000);
        q.start(h, 1, at, 0).unwrap();
        due.push((at, h));
    }
    let mut now = 0;
    let mut last = 0;
    while let Some(next) = q.next_expiry() {
        assert!(next >= last, "the queue is ordered");
        last = next;
        now += u64::from(rnd() % 20_000);
        q.run(now, &mut posts);
        drain(&mut posts);
        for &(at, h) in &due {
            let f = q.fetch(h, 1).unwrap();
            if f.count > 0 {
                assert!(at <= now, "fired early");
                assert_eq!(f.expires, at);
            } else {
                assert!(at > now || f.active == false);
            }
        }
        due.retain(|&(at, _)| at > now);
    }
    assert!(due.is_empty());
}

#[test]
fn periodic_timers_forward_by_whole_periods_and_count_overruns() {
    assert_eq!(forward(1_000, 0, 5_000), (1, None));
    assert_eq!(forward(1_000, 250, 1_000), (1, Some(1_250)));
    assert_eq!(forward(1_000, 250, 1_249), (1, Some(1_250)));
    // Run late by 3 periods and a bit: 4 expiries passed, the next stays on the grid.
    assert_eq!(forward(1_000, 250, 1_760), (4, Some(2_000)));
    assert_eq!(forward(u64::MAX - 10, 100, u64::MAX - 5), (1, None), "past the end of time");

    let mut q = Q::new(4, 100);
    let mut posts = Posts::new();
    let h = q.setup(target(3, 7)).unwrap();
    assert_eq!(q.start(h, 3, 10_000, 99), Err(HrError::BadPeriod), "below the minimum period");
    q.start(h, 3, 10_000, 250).unwrap();
    q.run(10_000, &mut posts);
    assert_eq!(q.next_expiry(), Some(10_250));
    q.run(11_100, &mut posts); // due 10_250, 10_500, 10_750, 11_000
    assert_eq!(drain(&mut posts), [(3, 1 << 7)], "one post per step, not one per period");
    // The latest due (11_000), not the first of the run: a fetch's expiries
    // are `expires - k * period` for k < count.
    assert_eq!(q.fetch(h, 3).unwrap(), HrFired { expires: 11_000, count: 5, active: true });
    assert_eq!(q.next_expiry(), Some(11_250), "no drift: still on 10_000 + k * 250");
    assert_eq!(q.remaining(h, 3, 11_200).unwrap(), Some(50));
    assert_eq!(q.remaining(h, 3, 11_300).unwrap(), Some(-50), "due but not yet run");
}

#[test]
fn cancel_of_a_running_or_expired_timer() {
    let mut q = Q::new(4, 100);
    let mut posts = Posts::new();
    let once = q.setup(target(1, 0)).unwrap();
    let every = q.setup(target(1, 1)).unwrap();
    q.start(once, 1, 100, 0).unwrap();
    q.start(every, 1, 100, 1_000).unwrap();
    q.run(150, &mut posts);
    // The one-shot has expired: cancel says it was not armed, and drops the
    // unfetched expiry; the periodic one is still running.
    assert_eq!(q.cancel(once, 1), Ok(false));
    assert_eq!(q.fetch(once, 1).unwrap(), HrFired::default());
    assert_eq!(q.cancel(every, 1), Ok(true));
    assert_eq!(q.fetch(every, 1).unwrap(), HrFired::default(), "nothing of the cancelled start is reported");
    assert_eq!(q.next_expiry(), None);
    assert_eq!(q.cancel(every, 1), Ok(false), "cancel twice is harmless");
    assert_eq!(q.remaining(every, 1, 0).unwrap(), None);
    // Restart replaces the expiry, once in the queue.
    assert_eq!(q.start(every, 1, 500, 0), Ok(false));
    assert_eq!(q.start(every, 1, 400, 0), Ok(true));
    assert_eq!(q.counts(), (2, 1));
    assert_eq!(q.next_expiry(), Some(400));
}

#[test]
fn handles_are_owned_and_generation_checked() {
    let mut q = Q::new(2, 100);
    let h = q.setup(target(4, 0)).unwrap();
    assert_ne!(h & HR_TAG, 0);
    assert_eq!(q.start(h, 5, 1, 0), Err(HrError::NotOwner));
    assert_eq!(q.cancel(h & !HR_TAG, 4), Err(HrError::Stale), "a wheel-style handle is refused");
    assert_eq!(q.cancel(h | 1 << 60, 4), Err(HrError::Stale), "stray bits are refused");
    assert_eq!(q.cancel(HR_TAG | 99, 4), Err(HrError::Stale), "index out of range");
    assert_eq!(q.fetch(u64::MAX, 4), Err(HrError::Stale));
    q.free(h, 4).unwrap();
    assert_eq!(q.start(h, 4, 1, 0), Err(HrError::Stale));
    let again = q.setup(target(4, 0)).unwrap();
    assert_ne!(again, h, "the slot's reuse has a new generation");
    assert_eq!(q.start(h, 4, 1, 0), Err(HrError::Stale));
    assert_eq!(q.setup(Target { task: task(8, 0), bit: 0 }), Err(HrError::BadPeriod), "owner out of range");
}

#[test]
fn quotas_hold_and_dead_owners_lose_everything() {
    let mut q: HrTimers<4, 8> = HrTimers::new(3, 100);
    let mut posts = Posts::new();
    let a: Vec<u64> = (0..3).map(|_| q.setup(target(1, 0)).unwrap()).collect();
    assert_eq!(q.setup(target(1, 0)), Err(HrError::QuotaExceeded));
    let b = q.setup(target(2, 0)).unwrap();
    assert_eq!(q.setup(target(3, 0)), Err(HrError::PoolExhausted));
    for &h in &a {
        q.start(h, 1, 1_000, 500).unwrap();
    }
    q.start(b, 2, 2_000, 0).unwrap();
    assert_eq!(q.forget(1), 3);
    assert_eq!(q.next_expiry(), Some(2_000), "the dead owner's timers left the queue");
    for &h in &a {
        assert_eq!(q.cancel(h, 1), Err(HrError::Stale), "its handles are stale");
    }
    q.run(5_000, &mut posts);
    assert_eq!(drain(&mut posts), [(2, 1)], "only the live owner is posted");
    // Its quota is free again.
    assert!(q.setup(target(1, 0)).is_ok());
}

#[test]
fn deadlines_across_the_32_bit_counter_wrap() {
    // A 1 MHz counter wraps every 2^32 us; the driver extends it to 64
    // bits, so ktime goes on past the wrap and the queue never sees it.
    let rate = 1_000_000;
    let wrap_ns = cycles_to_ns(1 << 32, rate);
    assert_eq!(wrap_ns, 4_294_967_296_000);
    // Never early: the count programmed is at or after the deadline.
    for ns in [wrap_ns - 1, wrap_ns, wrap_ns + 1, wrap_ns + 999, 1, 0] {
        let c = ns_to_cycles_ceil(ns, rate);
        assert!(cycles_to_ns(c, rate) >= ns);
        assert!(cycles_to_ns(c, rate) < ns + 1_000, "and at most one count late");
    }
    // Simulate the 32-bit hardware count extended as the driver does.
    let (mut last, mut wraps) = (0u32, 0u64);
    let mut extend = |raw: u32| {
        if raw < last {
            wraps += 1;
        }
        last = raw;
        (wraps << 32) | u64::from(raw)
    };
    let start = u32::MAX - 5_000; // 5 ms before the wrap
    let mut q = Q::new(8, 100);
    let mut posts = Posts::new();
    let base = cycles_to_ns(extend(start), rate);
    let hs: Vec<u64> = (0..4).map(|i| q.setup(target(1, i)).unwrap()).collect();
    q.start(hs[0], 1, base + 4_000_000, 0).unwrap(); // before the wrap
    q.start(hs[1], 1, base + 6_000_000, 0).unwrap(); // after it
    q.start(hs[2], 1, base + 1_000_000, 2_000_000).unwrap(); // periodic across it
    let mut raw = start;
    let mut fired = [0u32; 4];
    for _ in 0..100 {
        raw = raw.wrapping_add(100); // 100 us steps
        let now = cycles_to_ns(extend(raw), rate);
        q.run(now, &mut posts);
        for (i, &h) in hs.iter().enumerate() {
            let f = q.fetch(h, 1).unwrap();
            if f.count > 0 {
                assert!(f.expires <= now, "never early, wrap or not");
                assert!(now - f.expires < 100_000, "at most one step late");
                fired[i] += f.count;
            }
        }
    }
    assert!(raw < start, "the counter wrapped during the test");
    assert_eq!(fired, [1, 1, 5, 0]);
}
