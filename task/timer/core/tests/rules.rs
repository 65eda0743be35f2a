//! One test per rule of the wheel (Linux's `internal_add_timer`, `cascade`,
//! `__run_timers`), the tick hook chain and jiffies (`time_after` and
//! friends, `msecs_to_jiffies`), and of the issues, through the public API.

use timer_core::*;

type W = Wheel<64, u32>;

fn fire_all(w: &mut W, now: u64) -> Vec<(u32, u64)> {
    let mut v = Vec::new();
    w.run_timers(Jiffies(now), |e| v.push((e.token, e.expires.0)));
    v
}

fn timer(w: &mut W, token: u32) -> TimerHandle {
    w.alloc(Owner(1), token, TimerKind::Normal, 64).unwrap()
}

#[test]
fn memory_targets() {
    assert_eq!(Wheel::<1024>::bytes_per_timer(), 16);
    assert!(Wheel::<1024>::head_bytes() <= 8 * 1024);
    assert_eq!(Wheel::<1024>::head_bytes(), 1024 * 4 + 128);
    assert_eq!(Wheel::<1024, u32, u32>::bytes_per_timer(), 24);
}

#[test]
fn add_on_pending_is_an_error_and_mod_del_report_pending() {
    let mut w = W::new(Jiffies(100));
    let t = timer(&mut w, 1);
    assert_eq!(w.timer_pending(t), Ok(false));
    w.add_timer(t, Jiffies(110)).unwrap();
    assert_eq!(w.timer_pending(t), Ok(true));
    assert_eq!(w.add_timer(t, Jiffies(120)), Err(TimerError::AlreadyPending));
    assert_eq!(w.expires(t), Ok(Some(Jiffies(110))));
    assert_eq!(w.mod_timer(t, Jiffies(120)), Ok(true));
    assert_eq!(w.expires(t), Ok(Some(Jiffies(120))));
    assert_eq!(w.del_timer(t), Ok(true));
    assert_eq!(w.del_timer(t), Ok(false));
    assert_eq!(w.mod_timer(t, Jiffies(130)), Ok(false));
    assert_eq!(w.timer_pending(t), Ok(true));
    assert_eq!(fire_all(&mut w, 200), [(1, 130)]);
    assert_eq!(w.timer_pending(t), Ok(false));
}

#[test]
fn same_expiry_mod_keeps_fifo_position() {
    let mut w = W::new(Jiffies(0));
    let a = timer(&mut w, 1);
    let b = timer(&mut w, 2);
    w.add_timer(a, Jiffies(50)).unwrap();
    w.add_timer(b, Jiffies(50)).unwrap();
    assert_eq!(w.mod_timer(a, Jiffies(50)), Ok(true)); // fast path: a stays first
    assert_eq!(fire_all(&mut w, 50), [(1, 50), (2, 50)]);
    w.add_timer(a, Jiffies(60)).unwrap();
    w.add_timer(b, Jiffies(60)).unwrap();
    assert_eq!(w.mod_timer(a, Jiffies(61)), Ok(true));
    assert_eq!(w.mod_timer(a, Jiffies(60)), Ok(true)); // re-armed: now after b
    assert_eq!(fire_all(&mut w, 60), [(2, 60), (1, 60)]);
}

#[test]
fn mod_within_a_bucket_is_a_re_arm_at_its_tail() {
    // tv2 buckets span 256 jiffies: 1000..1279 and 1280.. land in one each.
    let mut w = W::new(Jiffies(0));
    let (a, b, c) = (timer(&mut w, 1), timer(&mut w, 2), timer(&mut w, 3));
    w.add_timer(a, Jiffies(1100)).unwrap();
    w.add_timer(b, Jiffies(1100)).unwrap();
    // b is last in the bucket: moved in place; a is not: it goes behind b.
    assert_eq!(w.mod_timer(b, Jiffies(1200)), Ok(true));
    w.audit().unwrap();
    assert_eq!(w.mod_timer(a, Jiffies(1200)), Ok(true));
    w.audit().unwrap();
    // c, armed later for the same jiffy, fires after both re-armed timers.
    w.add_timer(c, Jiffies(1200)).unwrap();
    assert_eq!(w.mod_timer(c, Jiffies(1201)), Ok(true));
    assert_eq!(w.mod_timer(c, Jiffies(1200)), Ok(true));
    // The checked handle gives the same answers as the handle API.
    let t = w.timer_mut(a).unwrap();
    assert_eq!((t.owner(), t.token(), t.pending()), (Owner(1), 1, true));
    assert_eq!(t.index(), a.index() as usize);
    w.audit().unwrap();
    assert_eq!(fire_all(&mut w, 1300), [(2, 1200), (1, 1200), (3, 1200)]);
    // A timer moved out of its bucket leaves it (and its bit) clean.
    w.add_timer(a, Jiffies(1600)).unwrap();
    assert_eq!(w.mod_timer(a, Jiffies(2600)), Ok(true));
    w.audit().unwrap();
    assert_eq!(w.next_expiry(), Some(Jiffies(2600)));
}

#[test]
fn past_expiry_goes_to_the_current_slot_and_fires_next_run() {
    let mut w = W::new(Jiffies(1000));
    assert_eq!(fire_all(&mut w, 1000), []);
    let t = timer(&mut w, 7);
    w.add_timer(t, Jiffies(10)).unwrap();
    assert_eq!(w.expires(t), Ok(Some(Jiffies(1001))));
    assert_eq!(fire_all(&mut w, 1000), []); // not yet: 1000 was already run
    assert_eq!(fire_all(&mut w, 1001), [(7, 1001)]);
}

#[test]
fn far_expiry_is_clamped_to_max_timeout() {
    let mut w = W::new(Jiffies(5));
    let t = timer(&mut w, 1);
    w.add_timer(t, Jiffies(5 + (1 << 40))).unwrap();
    assert_eq!(w.expires(t), Ok(Some(Jiffies(5 + MAX_TIMEOUT))));
    assert_eq!(fire_all(&mut w, 5 + MAX_TIMEOUT - 1), []);
    assert_eq!(fire_all(&mut w, 5 + MAX_TIMEOUT), [(1, 5 + MAX_TIMEOUT)]);
}

#[test]
fn cascade_when_tv1_index_wraps_fires_on_time_at_every_level() {
    for start in [0u64, 0xFF, (1 << 14) - 1, (1 << 20) - 1, (1 << 26) - 1, (1 << 32) - 1, u64::MAX] {
        let mut w = W::new(Jiffies(start));
        let ds = [1u64, 255, 256, 257, (1 << 14) - 1, 1 << 14, (1 << 20) + 1, (1 << 26) + 3, (1 << 30) + 5];
        for (k, d) in ds.iter().enumerate() {
            let t = timer(&mut w, k as u32);
            w.add_timer(t, Jiffies(start.wrapping_add(*d))).unwrap();
        }
        w.audit().unwrap();
        // Step to one jiffy before each expiry, then onto it.
        for (k, d) in ds.iter().enumerate() {
            let e = start.wrapping_add(*d);
            assert_eq!(fire_all(&mut w, e.wrapping_sub(1)), [], "start {start:#x} d {d:#x}");
            assert_eq!(fire_all(&mut w, e), [(k as u32, e)], "start {start:#x} d {d:#x}");
            w.audit().unwrap();
        }
    }
}

#[test]
fn catch_up_after_missed_ticks_fires_in_expiry_then_arm_order() {
    let mut w = W::new(Jiffies(0));
    let e = [(1u32, 30u64), (2, 10), (3, 10), (4, 700), (5, 20_000), (6, 30)];
    for (tok, at) in e {
        let t = timer(&mut w, tok);
        w.add_timer(t, Jiffies(at)).unwrap();
    }
    assert_eq!(
        fire_all(&mut w, 100_000),
        [(2, 10), (3, 10), (1, 30), (6, 30), (4, 700), (5, 20_000)]
    );
}

#[test]
fn fast_forward_covers_long_empty_stretches_in_few_steps() {
    let mut w = W::new(Jiffies(0));
    let t = timer(&mut w, 1);
    w.add_timer(t, Jiffies(1 << 30)).unwrap();
    let s = w.run_timers(Jiffies(3000), |_| ());
    assert!(s.steps <= 2, "{s:?}");
    let s = w.run_timers(Jiffies((1 << 30) - 1), |_| ());
    // One jump per non-empty cascade on the way down (tv5 -> tv4.. -> tv1).
    assert!(s.steps <= 8, "{s:?}");
    assert_eq!(fire_all(&mut w, 1 << 30), [(1, 1 << 30)]);
    let s = w.run_timers(Jiffies(1 << 50), |_| ());
    assert_eq!(s.steps, 1);
    assert_eq!(w.timer_jiffies(), Jiffies((1 << 50) + 1));
}

#[test]
fn periodic_rearms_at_expires_plus_period_without_drift() {
    let mut w = W::new(Jiffies(0));
    let t = timer(&mut w, 1);
    w.set_period(t, 100).unwrap();
    w.add_timer(t, Jiffies(50)).unwrap();
    // Run late (at 57) and in a big catch-up: the series stays on 50 + 100k.
    assert_eq!(fire_all(&mut w, 57), [(1, 50)]);
    assert_eq!(w.expires(t), Ok(Some(Jiffies(150))));
    let fired = fire_all(&mut w, 1000);
    assert_eq!(fired, (1..10).map(|k| (1, 50 + 100 * k)).collect::<Vec<_>>());
    assert_eq!(w.period(t), Ok(100));
    w.set_period(t, 0).unwrap();
    assert_eq!(fire_all(&mut w, 2000), [(1, 1050)]);
    assert_eq!(w.timer_pending(t), Ok(false));
}

#[test]
fn deferrable_timers_fire_but_never_set_next_expiry() {
    let mut w = W::new(Jiffies(0));
    let d = w.alloc(Owner(1), 1, TimerKind::Deferrable, 8).unwrap();
    let n = timer(&mut w, 2);
    assert_eq!(w.kind(d), Ok(TimerKind::Deferrable));
    w.add_timer(d, Jiffies(10)).unwrap();
    assert_eq!(w.next_expiry(), None);
    w.add_timer(n, Jiffies(5000)).unwrap();
    assert_eq!(w.next_expiry(), Some(Jiffies(5000)));
    // Same jiffy: the normal one first even though armed later.
    w.mod_timer(d, Jiffies(5000)).unwrap();
    assert_eq!(fire_all(&mut w, 6000), [(2, 5000), (1, 5000)]);
}

#[test]
fn next_expiry_is_exact_at_every_level() {
    for d in [0u64, 1, 255, 256, 300, 5000, 1 << 14, (1 << 14) + 77, 1 << 20, (1 << 26) + 9, MAX_TIMEOUT] {
        for start in [0u64, 200, (1 << 14) - 3, u64::MAX - 10] {
            let mut w = W::new(Jiffies(start));
            let a = timer(&mut w, 1);
            let b = timer(&mut w, 2);
            w.add_timer(b, Jiffies(start.wrapping_add(d).wrapping_add(40))).unwrap();
            w.add_timer(a, Jiffies(start.wrapping_add(d))).unwrap();
            assert_eq!(w.next_expiry(), Some(Jiffies(start.wrapping_add(d))), "start {start:#x} d {d:#x}");
        }
    }
}

#[test]
fn slack_rounds_later_never_earlier() {
    let mut w = W::new(Jiffies(0));
    let t = timer(&mut w, 1);
    w.mod_timer_slack(t, Jiffies(1000), Jiffies(0), Slack::Jiffies(30)).unwrap();
    assert_eq!(w.expires(t), Ok(Some(Jiffies(1024))));
    w.mod_timer_slack(t, Jiffies(100_003), Jiffies(0), Slack::Default).unwrap();
    let e = w.expires(t).unwrap().unwrap().0;
    assert!((100_003..=100_003 + 100_003 / 256).contains(&e) && e.is_multiple_of(256), "{e}");
}

#[test]
fn stale_handles_quota_and_pool_exhaustion_are_errors() {
    let mut w: Wheel<4, u32> = Wheel::new(Jiffies(0));
    let a = w.alloc(Owner(1), 0, TimerKind::Normal, 2).unwrap();
    let _b = w.alloc(Owner(1), 0, TimerKind::Normal, 2).unwrap();
    assert_eq!(w.alloc(Owner(1), 0, TimerKind::Normal, 2), Err(TimerError::QuotaExceeded));
    assert_eq!(w.owned_by(Owner(1)), 2);
    let c = w.alloc(Owner(2), 0, TimerKind::Normal, 2).unwrap();
    let _d = w.alloc(Owner(3), 0, TimerKind::Normal, 2).unwrap();
    assert_eq!(w.alloc(Owner(4), 0, TimerKind::Normal, 2), Err(TimerError::PoolExhausted));
    w.add_timer(a, Jiffies(10)).unwrap();
    assert_eq!(w.free(a), Ok(true));
    assert_eq!(w.owned_by(Owner(1)), 1);
    assert_eq!(w.timer_pending(a), Err(TimerError::StaleHandle));
    assert_eq!(w.mod_timer(a, Jiffies(5)), Err(TimerError::StaleHandle));
    let a2 = w.alloc(Owner(5), 0, TimerKind::Normal, 2).unwrap();
    assert_eq!(a2.index(), a.index());
    assert_ne!(a2.generation(), a.generation());
    assert_eq!(w.free(a), Err(TimerError::StaleHandle));
    assert_eq!(TimerHandle::from_bits(c.to_bits()), c);
    assert_eq!(w.owner_of(c), Ok(Owner(2)));
    assert_eq!(w.timer_pending(TimerHandle::from_bits(0)), Err(TimerError::StaleHandle));
    assert_eq!(w.timer_pending(TimerHandle::from_bits(99)), Err(TimerError::StaleHandle));
    assert_eq!(fire_all(&mut Wheel::new(Jiffies(0)), 100), []);
}

#[test]
fn owner_table_full_and_free_owner() {
    let mut w: Wheel<8, (), u16, 2> = Wheel::new(Jiffies(0));
    let a = w.alloc(Owner(1), (), TimerKind::Normal, 8).unwrap();
    w.alloc(Owner(2), (), TimerKind::Normal, 8).unwrap();
    assert_eq!(w.alloc(Owner(3), (), TimerKind::Normal, 8), Err(TimerError::TooManyOwners));
    w.add_timer(a, Jiffies(3)).unwrap();
    w.alloc(Owner(1), (), TimerKind::Normal, 8).unwrap();
    assert_eq!(w.free_owner(Owner(1)), 2);
    assert_eq!(w.allocated(), 1);
    assert_eq!(w.next_expiry(), None);
    w.alloc(Owner(3), (), TimerKind::Normal, 8).unwrap();
    w.audit().unwrap();
}

#[test]
fn u32_links_work_for_big_pools() {
    // A 1.7 MB wheel: build it on a thread with room for it on the stack.
    std::thread::Builder::new().stack_size(64 << 20).spawn(big_pool).unwrap().join().unwrap();
}

fn big_pool() {
    let mut w: Box<Wheel<70_000, u32, u32>> = Box::new(Wheel::new(Jiffies(0)));
    let mut hs = Vec::new();
    for k in 0..70_000u32 {
        let h = w.alloc(Owner(0), k, TimerKind::Normal, u16::MAX).unwrap_or_else(|_| {
            // The quota counter is a u16: a second owner takes the rest.
            w.alloc(Owner(1), k, TimerKind::Normal, u16::MAX).unwrap()
        });
        w.add_timer(h, Jiffies(1 + (k as u64 * 7919) % 100_000)).unwrap();
        hs.push(h);
    }
    let mut last = 0;
    let mut n = 0;
    w.run_timers(Jiffies(200_000), |e| {
        assert!(e.expires.0 >= last);
        last = e.expires.0;
        n += 1;
    });
    assert_eq!(n, 70_000);
}

// ----- the tick path and hook chain through TimerCore --------------------

#[derive(Default)]
struct Rec {
    log: Vec<String>,
    done: bool,
}

impl TickVisitor<u32> for Rec {
    fn grabbed(&mut self, _: HookId, owner: Owner, _: ()) -> bool {
        self.log.push(format!("grab{}", owner.0));
        self.done
    }
    fn hook(&mut self, _: HookId, owner: Owner, _: ()) {
        self.log.push(format!("hook{}", owner.0));
    }
    fn expired(&mut self, e: Expired<u32>) {
        self.log.push(format!("timer{}@{}", e.token, e.expires.0));
    }
}

type Core = TimerCore<16, 8, u32>;

#[test]
fn core_starts_at_initial_jiffies_with_builtins_in_order() {
    let hz = Hz::new(1000).unwrap();
    let c = Core::new(hz);
    assert_eq!(c.jiffies(), hz.initial_jiffies());
    assert_eq!(c.jiffies32(), (-300_000i32) as u32);
    let kinds: Vec<_> = c.hooks().iter().map(|(_, k, _)| k).collect();
    assert_eq!(kinds, [HookKind::AdvanceJiffies, HookKind::RunWheel]);
}

#[test]
fn tick_advances_jiffies_runs_wheel_and_client_hooks_first() {
    let hz = Hz::new(100).unwrap();
    let mut c = Core::starting_at(hz, Jiffies(0xFFFF_FFFE));
    let t = c.wheel_mut().alloc(Owner(4), 9, TimerKind::Normal, 4).unwrap();
    let at = c.after_msecs(25); // 2.5 jiffies -> 3
    assert_eq!(at, Jiffies(0x1_0000_0001));
    c.wheel_mut().add_timer(t, at).unwrap();
    c.register_hook(Owner(7), false, &HookPolicy::ANY).unwrap();
    let mut r = Rec::default();
    let rep = c.tick(1, &mut r);
    assert_eq!(rep, TickReport { grabbed_done: false, advanced: true, ran_wheel: true, fired: 0 });
    assert_eq!(r.log, ["hook7"]);
    // Two missed ticks caught up at once: the wrap of the 32-bit view.
    let rep = c.tick(2, &mut r);
    assert_eq!(rep.fired, 1);
    assert_eq!(c.jiffies(), Jiffies(0x1_0000_0001));
    assert_eq!(c.jiffies32(), 1);
    assert_eq!(r.log, ["hook7", "hook7", "timer9@4294967297"]);
}

#[test]
fn grabber_done_suppresses_builtins_unless_run_always() {
    let mut c = Core::starting_at(Hz::new(1000).unwrap(), Jiffies(0));
    let t = c.wheel_mut().alloc(Owner(4), 1, TimerKind::Normal, 4).unwrap();
    c.wheel_mut().add_timer(t, Jiffies(1)).unwrap();
    let plain = c.register_hook(Owner(5), false, &HookPolicy::ANY).unwrap();
    let always = c.register_hook(Owner(6), true, &HookPolicy::ANY).unwrap();
    let g = c.register_hook(Owner(7), false, &HookPolicy::ANY).unwrap();
    c.grab_hook(g, &HookPolicy::ANY).unwrap();
    assert_eq!(c.grab_hook(plain, &HookPolicy::ANY), Err(HookError::Busy));
    let mut r = Rec { done: true, ..Default::default() };
    let rep = c.tick(1, &mut r);
    assert_eq!(rep, TickReport { grabbed_done: true, advanced: false, ran_wheel: false, fired: 0 });
    assert_eq!(c.jiffies(), Jiffies(0));
    assert_eq!(r.log, ["grab7", "hook6"]);
    // Not done: everything runs, grabber first and only once.
    r.log.clear();
    r.done = false;
    let rep = c.tick(1, &mut r);
    assert!(rep.advanced && rep.ran_wheel && rep.fired == 1);
    assert_eq!(r.log, ["grab7", "hook6", "hook5", "timer1@1"]);
    c.ungrab_hook(g).unwrap();
    c.unregister_hook(always).unwrap();
    assert_eq!(c.forget_owner(Owner(5)), (1, 0));
    assert_eq!(c.forget_owner(Owner(4)), (0, 1));
    // Built-ins cannot be unregistered.
    let builtin = c.hooks().iter().last().unwrap().0;
    assert_eq!(c.unregister_hook(builtin), Err(HookError::Stale));
}

/// The timer server's hook table: 16 hooks, 14 for clients.
type Served = TimerCore<16, 16, u32>;

/// Issue 12, item 5: one owner took all 14 client slots. With a quota of 2
/// it gets exactly 2, the next is `Quota`, and other owners still register.
#[test]
fn hook_quota_refuses_at_exactly_the_quota_and_others_still_register() {
    let policy = HookPolicy { per_owner: 2, grabbers: 0 };
    let mut c = Served::starting_at(Hz::new(100).unwrap(), Jiffies(0));
    let a = c.register_hook(Owner(5), false, &policy).unwrap();
    c.register_hook(Owner(5), true, &policy).unwrap();
    assert_eq!(c.register_hook(Owner(5), false, &policy), Err(HookError::Quota));
    assert_eq!(c.register_hook(Owner(5), true, &policy), Err(HookError::Quota));
    assert_eq!(c.hooks().owned_by(Owner(5)), 2);
    c.register_hook(Owner(6), false, &policy).unwrap();
    // Unregistering gives one back; a forgotten owner gets all back.
    c.unregister_hook(a).unwrap();
    c.register_hook(Owner(5), false, &policy).unwrap();
    assert_eq!(c.forget_owner(Owner(5)), (2, 0));
    c.register_hook(Owner(5), false, &policy).unwrap();
    c.register_hook(Owner(5), false, &policy).unwrap();
    // Fill the table: 7 owners x 2 = 14 client hooks. A newcomer finds it
    // full; an owner at its quota is told about its quota first.
    for o in [6u16, 7, 8, 9, 10, 11] {
        while c.hooks().owned_by(Owner(o)) < 2 {
            c.register_hook(Owner(o), false, &policy).unwrap();
        }
    }
    assert_eq!(c.hooks().client_hooks(), 14);
    assert_eq!(c.register_hook(Owner(12), false, &policy), Err(HookError::Full));
    assert_eq!(c.register_hook(Owner(5), false, &policy), Err(HookError::Quota));
    // Without a quota (the attack as reported): one owner takes every slot.
    let mut open = Served::starting_at(Hz::new(100).unwrap(), Jiffies(0));
    let mut n = 0;
    while open.register_hook(Owner(5), false, &HookPolicy::ANY).is_ok() {
        n += 1;
    }
    assert_eq!(n, 14);
    assert_eq!(open.register_hook(Owner(6), false, &HookPolicy::ANY), Err(HookError::Full));
}

#[test]
fn quota_of_zero_allows_no_hooks() {
    let policy = HookPolicy { per_owner: 0, grabbers: u32::MAX };
    let mut c = Served::starting_at(Hz::new(100).unwrap(), Jiffies(0));
    assert_eq!(c.register_hook(Owner(1), false, &policy), Err(HookError::Quota));
    assert_eq!(c.hooks().len(), 2);
}

/// Issue 12, item 5: any task could grab. Only owners in `grabbers` may;
/// the refusal comes before `Busy` and changes nothing; built-in steps can
/// never be grabbed.
#[test]
fn grab_needs_permission_checked_before_busy() {
    let policy = HookPolicy { per_owner: 2, grabbers: 1 << 7 };
    let mut c = Served::starting_at(Hz::new(100).unwrap(), Jiffies(0));
    let builtin = c.hooks().iter().last().unwrap().0;
    let h5 = c.register_hook(Owner(5), false, &policy).unwrap();
    let h7 = c.register_hook(Owner(7), false, &policy).unwrap();
    assert_eq!(c.grab_hook(h5, &policy), Err(HookError::NotPermitted));
    assert_eq!(c.hooks().grabber(), None);
    assert_eq!(c.grab_hook(builtin, &policy), Err(HookError::NotPermitted));
    assert_eq!(c.grab_hook(builtin, &HookPolicy::ANY), Err(HookError::NotPermitted));
    c.grab_hook(h7, &policy).unwrap();
    assert_eq!(c.grab_hook(h5, &policy), Err(HookError::NotPermitted));
    assert_eq!(c.grab_hook(h7, &policy), Err(HookError::Busy));
    assert_eq!(c.hooks().grabber(), Some(h7));
    // A stale id is still Stale, not NotPermitted.
    c.unregister_hook(h5).unwrap();
    assert_eq!(c.grab_hook(h5, &policy), Err(HookError::Stale));
}

/// A task that may not grab has no way to stop jiffies: without a grabber
/// a "done" answer has no meaning, and every tick advances jiffies.
#[test]
fn non_grabber_cannot_freeze_jiffies() {
    let policy = HookPolicy { per_owner: 2, grabbers: 1 << 7 };
    let mut c = Served::starting_at(Hz::new(100).unwrap(), Jiffies(0));
    let h = c.register_hook(Owner(5), false, &policy).unwrap();
    assert_eq!(c.grab_hook(h, &policy), Err(HookError::NotPermitted));
    let mut r = Rec { done: true, ..Default::default() };
    for _ in 0..80 {
        let rep = c.tick(1, &mut r);
        assert!(!rep.grabbed_done && rep.advanced && rep.ran_wheel);
    }
    assert_eq!(c.jiffies(), Jiffies(80));
    assert!(r.log.iter().all(|l| l == "hook5"));
}

/// What a permitted grabber can still do (app.toml trusts it): answering
/// "done" stops jiffies, the wheel and other owners' ordinary hooks, but
/// never another owner's `run_always` hook.
#[test]
fn permitted_grabber_done_stops_jiffies_but_not_run_always_hooks() {
    let policy = HookPolicy { per_owner: 2, grabbers: 1 << 7 };
    let mut c = Served::starting_at(Hz::new(100).unwrap(), Jiffies(0));
    c.register_hook(Owner(5), false, &policy).unwrap();
    c.register_hook(Owner(6), true, &policy).unwrap();
    let g = c.register_hook(Owner(7), false, &policy).unwrap();
    c.grab_hook(g, &policy).unwrap();
    let mut r = Rec { done: true, ..Default::default() };
    for _ in 0..8 {
        c.tick(1, &mut r);
    }
    assert_eq!(c.jiffies(), Jiffies(0));
    assert_eq!(r.log.iter().filter(|l| *l == "hook6").count(), 8);
    assert_eq!(r.log.iter().filter(|l| *l == "hook5").count(), 0);
}

#[test]
fn tickless_deadline_respects_hooks_and_deferrable() {
    let mut c = Core::starting_at(Hz::new(1000).unwrap(), Jiffies(100));
    assert_eq!(c.tickless_deadline(), Some(None));
    let d = c.wheel_mut().alloc(Owner(1), 0, TimerKind::Deferrable, 4).unwrap();
    c.wheel_mut().add_timer(d, Jiffies(150)).unwrap();
    assert_eq!(c.tickless_deadline(), Some(None));
    let n = c.wheel_mut().alloc(Owner(1), 0, TimerKind::Normal, 4).unwrap();
    c.wheel_mut().add_timer(n, Jiffies(90_000)).unwrap();
    assert_eq!(c.tickless_deadline(), Some(Some(Jiffies(90_000))));
    let h = c.register_hook(Owner(2), false, &HookPolicy::ANY).unwrap();
    assert_eq!(c.tickless_deadline(), None);
    c.unregister_hook(h).unwrap();
    // Sleep until the deadline and catch up in one tick: the deferrable
    // timer fires late, then the normal one, in expiry order.
    let mut r = Rec::default();
    c.tick(90_000 - 100, &mut r);
    assert_eq!(r.log, ["timer0@150", "timer0@90000"]);
    let s = c.mod_timer_slack(n, Jiffies(90_000 + 1000), Slack::Jiffies(30));
    assert_eq!(s, Ok(false));
    assert_eq!(c.wheel().expires(n), Ok(Some(Jiffies(91_008))));
}

#[test]
fn init_in_builds_the_same_core_as_starting_at() {
    let hz = Hz::new(100).unwrap();
    let start = Jiffies(0xFFFF_FF00);
    let mut by_value = Core::starting_at(hz, start);
    let mut slot = std::mem::MaybeUninit::uninit();
    let in_place = Core::init_in(&mut slot, hz, start);
    let mut logs = Vec::new();
    for c in [&mut by_value, in_place] {
        assert_eq!(c.jiffies(), start);
        let kinds: Vec<_> = c.hooks().iter().map(|(_, k, _)| k).collect();
        assert_eq!(kinds, [HookKind::AdvanceJiffies, HookKind::RunWheel]);
        // Fill the whole pool (the free list must be intact) and run past
        // every expiry, across the 32-bit wrap.
        for i in 0..16u32 {
            let t = c.wheel_mut().alloc(Owner(1), i, TimerKind::Normal, 16).unwrap();
            c.wheel_mut().add_timer(t, Jiffies(start.0 + 3 + (i as u64 * 37) % 300)).unwrap();
        }
        assert!(c.wheel_mut().alloc(Owner(1), 99, TimerKind::Normal, 32).is_err());
        let mut r = Rec::default();
        for _ in 0..310 {
            c.tick(1, &mut r);
        }
        logs.push(r.log);
    }
    assert_eq!(logs[0].len(), 16);
    assert_eq!(logs[0], logs[1]);
}

/// `tick_if_idle` is `tick(1)` for the ticks that have nothing to do, and
/// declines (changing nothing) for every other tick: due timers, cascade
/// points, and any client hook.
#[test]
fn idle_tick_is_a_full_tick_with_nothing_to_do() {
    let hz = Hz::new(1000).unwrap();
    let start = Jiffies(0xFFFF_FF00);
    let (mut a, mut b) = (Core::starting_at(hz, start), Core::starting_at(hz, start));
    for (i, d) in [3u64, 3, 40, 256, 300, 1000].into_iter().enumerate() {
        for c in [&mut a, &mut b] {
            let t = c.wheel_mut().alloc(Owner(1), i as u32, TimerKind::Normal, 16).unwrap();
            c.wheel_mut().add_timer(t, Jiffies(start.0 + d)).unwrap();
        }
    }
    let (mut ra, mut rb) = (Rec::default(), Rec::default());
    let (mut idle, mut full) = (0, 0);
    for step in 0..1100 {
        if step == 600 {
            // A client hook: every tick must go through the chain.
            a.register_hook(Owner(3), false, &HookPolicy::ANY).unwrap();
            b.register_hook(Owner(3), false, &HookPolicy::ANY).unwrap();
        }
        let before = a.jiffies();
        if a.tick_if_idle() {
            idle += 1;
            assert_eq!(a.jiffies(), before.wrapping_add(1));
        } else {
            assert_eq!(a.jiffies(), before, "a declined idle tick changed jiffies");
            a.tick(1, &mut ra);
            full += 1;
        }
        b.tick(1, &mut rb);
        assert_eq!((a.jiffies(), a.wheel().next_expiry()), (b.jiffies(), b.wheel().next_expiry()), "step {step}");
        // Same expiries and hook calls, in the same order, at every step.
        assert_eq!(ra.log, rb.log, "step {step}");
    }
    assert_eq!(rb.log.iter().filter(|l| !l.starts_with("hook")).count(), 6);
    assert!(idle > 500 && full >= 500 + 6, "idle {idle}, full {full}");
}

/// Issue 14, item 4: `grab_hook` with the id of a built-in step. A grabbing
/// `RunWheel` would run before `AdvanceJiffies`, so the wheel would lag
/// jiffies by a tick, and only on the chain walk, not on the fast path
/// that skips the walk. Both steps are refused under any policy, nothing
/// changes, and ticking afterwards fires the same timers at the same
/// jiffies whether the chain is walked (a client hook present) or not.
#[test]
fn grab_hook_refuses_both_builtin_steps_and_the_paths_agree() {
    let hz = Hz::new(100).unwrap();
    let mut walked = Served::starting_at(hz, Jiffies(0xFFFF_FF00));
    let mut fast = Served::starting_at(hz, Jiffies(0xFFFF_FF00));
    let builtins: Vec<_> = walked.hooks().iter().map(|(id, kind, _)| (id, kind)).collect();
    assert_eq!(builtins.iter().map(|b| b.1).collect::<Vec<_>>(), [HookKind::AdvanceJiffies, HookKind::RunWheel]);
    for (id, _) in &builtins {
        assert_eq!(walked.grab_hook(*id, &HookPolicy::ANY), Err(HookError::NotPermitted));
        assert_eq!(fast.grab_hook(*id, &HookPolicy::ANY), Err(HookError::NotPermitted));
    }
    assert_eq!((walked.hooks().grabber(), fast.hooks().grabber()), (None, None));
    walked.register_hook(Owner(9), false, &HookPolicy::ANY).unwrap();
    for c in [&mut walked, &mut fast] {
        for (k, d) in [1u64, 2, 255, 256, 300, 1000].into_iter().enumerate() {
            let t = c.wheel_mut().alloc(Owner(4), k as u32, TimerKind::Normal, 16).unwrap();
            let at = c.jiffies().wrapping_add(d);
            c.wheel_mut().add_timer(t, at).unwrap();
        }
    }
    let (mut a, mut b) = (Rec::default(), Rec::default());
    for _ in 0..1200 {
        let ra = walked.tick(1, &mut a);
        let rb = fast.tick(1, &mut b);
        assert_eq!((ra.advanced, ra.ran_wheel, ra.fired), (rb.advanced, rb.ran_wheel, rb.fired));
        assert_eq!(walked.jiffies(), fast.jiffies());
        assert_eq!(walked.wheel().timer_jiffies(), walked.jiffies().wrapping_add(1));
    }
    let timers = |r: &Rec| r.log.iter().filter(|l| l.starts_with("timer")).cloned().collect::<Vec<_>>();
    assert_eq!(timers(&a), timers(&b));
    assert_eq!(timers(&a).len(), 6);
}

/// Issue 14, item 4: `after_msecs` saturated the conversion and then
/// wrapped the addition, so a huge delay landed in the past. It clamps at
/// Linux's `MAX_JIFFY_OFFSET` instead: always in the future, and a timer
/// armed there is pending (clamped by the wheel), not fired at once.
#[test]
fn after_msecs_clamps_at_max_jiffy_offset_instead_of_wrapping() {
    assert_eq!(MAX_JIFFY_OFFSET, (1 << 62) - 2);
    for hz in [1u32, 100, 1000, 1_000_000] {
        for start in [0u64, 0xFFFF_FFFF, u64::MAX - 5, 1 << 63] {
            let c = Served::starting_at(Hz::new(hz).unwrap(), Jiffies(start));
            for ms in [u64::MAX, u64::MAX / 2, 1 << 62] {
                let at = c.after_msecs(ms);
                assert!(at.is_after(c.jiffies()), "hz {hz} start {start:#x} ms {ms:#x}");
                assert!(at.since(c.jiffies()) <= MAX_JIFFY_OFFSET);
            }
            let most = c.hz().msecs_to_jiffies(u64::MAX).min(MAX_JIFFY_OFFSET);
            assert_eq!(c.after_msecs(u64::MAX).since(c.jiffies()), most);
            // Ordinary delays are untouched.
            assert_eq!(c.after_msecs(1000).since(c.jiffies()), hz as u64);
        }
    }
    // At 1 MHz the conversion saturates at u64::MAX: the wrap case.
    assert_eq!(Hz::new(1_000_000).unwrap().msecs_to_jiffies(u64::MAX), u64::MAX);
    let mut c = Served::starting_at(Hz::new(1_000_000).unwrap(), Jiffies(5));
    assert_eq!(c.after_msecs(u64::MAX).since(c.jiffies()), MAX_JIFFY_OFFSET);
    let t = c.wheel_mut().alloc(Owner(1), 1, TimerKind::Normal, 4).unwrap();
    let at = c.after_msecs(u64::MAX);
    c.wheel_mut().add_timer(t, at).unwrap();
    let mut r = Rec::default();
    assert_eq!(c.tick(1, &mut r).fired, 0);
    assert_eq!(c.wheel().expires(t).unwrap(), Some(Jiffies(5 + MAX_TIMEOUT)));
}

/// The periodic tick's shortcut (`idle_step_or_due` then `fire_due`) does,
/// jiffy by jiffy, exactly what `run_timers` does, including periodic
/// re-arms, both timer classes and cascade points (where it declines);
/// a stale `DueSlot` is refused and changes nothing.
#[test]
fn the_due_slot_shortcut_matches_run_timers() {
    let build = || {
        let mut w = W::new(Jiffies(1000));
        for (k, d) in [1u64, 1, 3, 7, 255, 256, 300, 511, 600].into_iter().enumerate() {
            let kind = if k % 3 == 0 { TimerKind::Deferrable } else { TimerKind::Normal };
            let h = w.alloc(Owner(1), k as u32, kind, 64).unwrap();
            if k == 2 {
                w.set_period(h, 5).unwrap();
            }
            w.add_timer(h, Jiffies(1000 + d)).unwrap();
        }
        w
    };
    let (mut a, mut b) = (build(), build());
    let (mut via_run, mut via_due) = (Vec::new(), Vec::new());
    let mut shortcut = 0;
    for j in 1000..1700u64 {
        a.run_timers(Jiffies(j), |e| via_run.push((j, e.token, e.expires.0)));
        match b.idle_step_or_due(Jiffies(j)) {
            Ok(()) => {}
            Err(Some(due)) => {
                assert!(b.fire_due(due, |e| via_due.push((j, e.token, e.expires.0))));
                // Fired once: the same slot is stale now.
                assert!(!b.fire_due(due, |_| panic!("a stale slot fired")));
                shortcut += 1;
            }
            Err(None) => {
                b.run_timers(Jiffies(j), |e| via_due.push((j, e.token, e.expires.0)));
            }
        }
        assert_eq!(a.next_expiry(), b.next_expiry(), "jiffy {j}");
    }
    assert_eq!(via_run, via_due);
    assert!(shortcut > 100, "the shortcut fired {shortcut} slots");
}
