//! The tick hook chain over IPC (the timer server's generalisation of
//! Linux's `register_timer_hook`): test-timer-hooks.
//!
//! - `hookpeer` (priority 4) registers a hook at start, then serves the
//!   runner: op 1 tries everything a task must not be able to do to the
//!   runner's hooks and to a grab it does not hold, op 2 unregisters.
//! - `hookvictim` (priority 4): on op 1 its first incarnation registers a
//!   hook, grabs the tick, asks for 4x HZ and then faults, never answering;
//!   the server must drop its hook, release the grab and restore the rate.
//! - `hookhog` (priority 2, above the timer server; [`crate::hog`]) holds
//!   the CPU for 3.5 ticks when the runner posts it.
//! - `hooks` (priority 5, the runner) registers hooks A, B (run_always), C
//!   and checks order, lost ticks counted, grab/Busy, done skipping, a
//!   silent grabber, the rate multiplier and the dead grabber's cleanup;
//!   then ends the run.
//!
//! test-timer-hooks-oneshot runs the same roles with TIM2 described as
//! ONESHOT-only and no other device the server would prefer: the periodic
//! ticks the hooks need are emulated from oneshot events.

use crate::common::*;
use crate::slots;
use drv_console_api::console_writeln;
use timer_api::Timer;
use userlib::*;

#[cfg(feature = "hookpeer")]
pub fn run_peer() -> ! {
    use crate::notifications;
    use timer_api::TimerError;
    let timer = Timer::from(slots::TIMER);
    let p = timer.hook_register(notifications::HOOK_BIT as u8, false).unwrap_or(0);
    let mut buf = [0u8; 4];
    loop {
        let m = sys_recv_open(&mut buf, 0);
        match m.operation {
            1 => {
                // The runner's task index comes in the message.
                let runner = buf[0];
                let (c, n) = chain(&timer);
                let theirs = c[..n].iter().find(|e| e.owner == runner).map_or(0, |e| e.id);
                let got = [
                    timer.hook_grab(p),
                    timer.hook_grab(theirs),
                    timer.hook_unregister(theirs),
                    timer.hook_answer(theirs, true),
                    timer.hook_set_rate(theirs, 2),
                    timer.hook_ungrab(theirs),
                    timer.hook_answer(p, true),
                    timer.hook_set_rate(p, 2),
                    timer.hook_ungrab(p),
                ];
                let want = [
                    Err(TimerError::Busy),
                    Err(TimerError::NotOwner),
                    Err(TimerError::NotOwner),
                    Err(TimerError::NotOwner),
                    Err(TimerError::NotOwner),
                    Err(TimerError::NotOwner),
                    Err(TimerError::NotGrabber),
                    Err(TimerError::NotGrabber),
                    Err(TimerError::NotGrabber),
                ];
                let mut ok: u32 = 0;
                for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
                    if g == w {
                        ok |= 1 << i;
                    } else {
                        console_writeln!(console(), "hookpeer: call {} gave {:?}, wanted {:?}", i, g, w);
                    }
                }
                sys_reply(m.sender, 0, &ok.to_le_bytes());
            }
            2 => {
                let r = timer.hook_unregister(p).is_ok() as u32;
                sys_reply(m.sender, 0, &r.to_le_bytes());
            }
            _ => sys_reply(m.sender, 1, &[]),
        }
    }
}

#[cfg(feature = "hookvictim")]
pub fn run_victim() -> ! {
    use crate::notifications;
    let mut buf = [0u8; 4];
    loop {
        let m = sys_recv_open(&mut buf, 0);
        if my_generation() == 0 {
            let timer = Timer::from(slots::TIMER);
            let ok = timer
                .hook_register(notifications::HOOK_BIT as u8, false)
                .and_then(|v| timer.hook_grab(v).map(|()| v))
                .and_then(|v| timer.hook_set_rate(v, 4));
            if ok.is_ok() {
                // Die holding the grab at 4x HZ, without answering.
                sys_panic(b"hookvictim: dying with the grab held, on purpose");
            }
            console_writeln!(console(), "FAIL hook-victim-setup: {:?}", ok);
        }
        sys_reply(m.sender, 0, &[]);
    }
}

#[cfg(feature = "hooks")]
pub fn run_runner() -> ! {
    use timer_api::wire::{
        HOOK_ADVANCE_JIFFIES, HOOK_GRABBER, HOOK_OWNER_BUILTIN, HOOK_RUN_ALWAYS, HOOK_RUN_WHEEL, MODE_ONESHOT,
        MODE_PERIODIC,
    };
    use timer_api::TimerError;
    use crate::notifications::{HOOK_A_MASK, HOOK_B_MASK, HOOK_C_MASK};
    use crate::notifications::{HOOK_A_BIT, HOOK_B_BIT, HOOK_C_BIT};
    let mut t = Tally::new();
    let timer = Timer::from(slots::TIMER);
    let me = crate::TASK_INDEX as u8;
    let peer = slots::HOOKPEER.index() as u8;
    let victim = slots::HOOKVICTIM.index() as u8;
    let all = HOOK_A_MASK | HOOK_B_MASK | HOOK_C_MASK;

    let a = timer.hook_register(HOOK_A_BIT as u8, false).unwrap_or(0);
    let b = timer.hook_register(HOOK_B_BIT as u8, true).unwrap_or(0);
    let c = timer.hook_register(HOOK_C_BIT as u8, false).unwrap_or(0);

    // Newest first, the peer's (registered at boot) after ours, then the
    // server's own steps, set up in reverse order at start.
    let (e, n) = chain(&timer);
    let want = [(c, me, 0), (b, me, HOOK_RUN_ALWAYS), (a, me, 0)];
    let ours = want.iter().zip(e.iter()).all(|(w, e)| (e.id, e.owner, e.flags) == *w);
    t.check_said(
        "hook-order",
        n == 6
            && ours
            && (e[3].owner, e[3].flags) == (peer, 0)
            && (e[4].owner, e[4].flags) == (HOOK_OWNER_BUILTIN, HOOK_ADVANCE_JIFFIES)
            && (e[5].owner, e[5].flags) == (HOOK_OWNER_BUILTIN, HOOK_RUN_WHEEL),
        format_args!("C, B (run_always), A, peer's, do_timer, run_wheel ({} hooks)", n),
    );
    let s = timer.stats();
    t.check_said(
        "hooks-force-periodic",
        s.mode == MODE_PERIODIC && s.multiplier == 1 && s.hooks == 4,
        format_args!("mode {} x{}, {} client hooks", s.mode, s.multiplier, s.hooks),
    );

    // Every hook runs on every tick.
    sys_recv_notification(all);
    let j0 = timer.jiffies();
    let mut each = true;
    for _ in 0..5 {
        each &= sys_recv_notification(all) == all;
    }
    let j1 = timer.jiffies();
    t.check_said(
        "hooks-every-tick",
        each && j1 == j0 + 5,
        format_args!("5 ticks: A, B, C posted each, jiffies +{}", j1.wrapping_sub(j0)),
    );

    // Lost ticks: the hog keeps the server off the CPU for 3.5 periods, so
    // the device's interrupts merge; the server counts the periods that
    // ended on the clocksource, not the interrupts it took.
    let (s0, j0, k0) = (timer.stats(), timer.jiffies(), timer.ktime_get().unwrap_or(0));
    sys_post(slots::HOOKHOG, 1);
    let (s1, j1, k1) = (timer.stats(), timer.jiffies(), timer.ktime_get().unwrap_or(0));
    let (dj, dk) = (j1.wrapping_sub(j0), k1.wrapping_sub(k0) / 10_000_000);
    let irqs = s1.interrupts.wrapping_sub(s0.interrupts);
    t.check_said(
        "lost-ticks-counted",
        dj >= 3 && dj.abs_diff(dk) <= 1 && u64::from(irqs) < dj,
        format_args!("{} us held off: jiffies +{} from {} tick interrupts, clocksource +{} jiffies", crate::hog::HOG_US, dj, irqs, dk),
    );
    // The catch-up tick posted A, B and C: take them, then start the next
    // part just after a tick, as the previous one ended.
    sys_recv_notification(all);
    sys_recv_notification(all);

    // One grab at a time.
    let g = (timer.hook_grab(c), timer.hook_grab(a), timer.hook_grab(c));
    t.check(
        "grab-then-busy",
        g == (Ok(()), Err(TimerError::Busy), Err(TimerError::Busy)),
        format_args!("{:?}", g),
    );
    let mut reply = [0u8; 4];
    let (rc, _) = sys_send(slots::HOOKPEER, 1, &[me, 0, 0, 0], &mut reply, &[]);
    let ok = u32::from_le_bytes(reply);
    t.check_said(
        "hook-ownership",
        rc == 0 && ok == 0x1FF,
        format_args!("another task's grab is Busy; our hooks are NotOwner to it; grabber ops NotGrabber ({:#x})", ok),
    );

    // Done skipping: answer done on 3 ticks of 4. A done tick runs only
    // run_always hooks (B), not A, and jiffies stay; a not-done tick runs
    // both and advances jiffies by one.
    let mut chain_bits = [0u32; 9];
    let mut steps = [0u64; 8];
    for k in 0..=8usize {
        let mut bits = 0;
        while bits & HOOK_C_MASK == 0 {
            bits |= sys_recv_notification(all);
        }
        chain_bits[k] = bits & (HOOK_A_MASK | HOOK_B_MASK);
        if k == 8 {
            // Answer the ninth tick too, so the next part starts clean.
            let _ = timer.hook_answer(c, false);
            break;
        }
        let done = k % 4 != 3;
        let before = timer.jiffies();
        let _ = timer.hook_answer(c, done);
        steps[k] = timer.jiffies().wrapping_sub(before);
    }
    let mut ok = true;
    for k in 0..8 {
        let done = k % 4 != 3;
        let want_bits = if done { HOOK_B_MASK } else { HOOK_A_MASK | HOOK_B_MASK };
        ok &= chain_bits[k + 1] == want_bits && steps[k] == (!done) as u64;
    }
    t.check_said(
        "done-skips-chain",
        ok,
        format_args!("8 ticks, 6 done: run_always B ran 8 times, A 2, jiffies +{}", steps.iter().sum::<u64>()),
    );

    // A silent grabber: the unanswered tick runs as "not done" when the
    // next one comes, so jiffies still advance.
    let s0 = timer.stats();
    let j0 = timer.jiffies();
    for _ in 0..5 {
        while sys_recv_notification(HOOK_C_MASK) & HOOK_C_MASK == 0 {}
    }
    let j1 = timer.jiffies();
    let s1 = timer.stats();
    let _ = timer.hook_answer(c, false);
    let j2 = timer.jiffies();
    t.check_said(
        "silent-grabber",
        j1 == j0 + 4 && j2 == j0 + 5 && s1.grabber_silent.wrapping_sub(s0.grabber_silent) == 4,
        format_args!("5 unanswered ticks: jiffies +{}, +{} after the late answer", j1.wrapping_sub(j0), j2.wrapping_sub(j0)),
    );

    // The PC-speaker pattern: 4x HZ, done on 3 ticks of 4, jiffies at HZ.
    let r = timer.hook_set_rate(c, 4);
    let s = timer.stats();
    let j0 = timer.jiffies();
    let mut ticks = 0;
    while ticks < 16 {
        if sys_recv_notification(all) & HOOK_C_MASK != 0 {
            ticks += 1;
            let _ = timer.hook_answer(c, ticks % 4 != 0);
        }
    }
    let j1 = timer.jiffies();
    let bad = (timer.hook_set_rate(c, 9), timer.hook_set_rate(a, 2));
    t.check_said(
        "rate-4x-hz",
        r.is_ok() && s.multiplier == 4 && j1 == j0 + 4 && bad == (Err(TimerError::BadRate), Err(TimerError::NotGrabber)),
        format_args!("16 ticks at 4x HZ, 12 done: jiffies +{}", j1.wrapping_sub(j0)),
    );
    let u = (timer.hook_ungrab(c), timer.hook_ungrab(c));
    let s = timer.stats();
    t.check(
        "ungrab-restores-hz",
        u == (Ok(()), Err(TimerError::NotGrabber)) && s.multiplier == 1,
        format_args!("{:?}, multiplier {}", u, s.multiplier),
    );

    // A grabber that dies: its hook goes, the grab is free again and the
    // tick is back at HZ.
    let s0 = timer.stats();
    let (rc, _) = sys_send(slots::HOOKVICTIM, 1, &[], &mut [], &[]);
    for _ in 0..3 {
        while sys_recv_notification(all) & HOOK_A_MASK == 0 {}
    }
    let (e, n) = chain(&timer);
    let s1 = timer.stats();
    let regrab = (timer.hook_grab(a), timer.hook_ungrab(a));
    t.check_said(
        "dead-grabber-removed",
        extract_new_generation(rc) == Some(Generation::new(1))
            && !e[..n].iter().any(|e| e.owner == victim || e.flags & HOOK_GRABBER != 0)
            && n == 6
            && s1.multiplier == 1
            && s1.owners_forgotten == s0.owners_forgotten + 1
            && regrab == (Ok(()), Ok(())),
        format_args!("{} hooks left, rate x{}, grab free again", n, s1.multiplier),
    );

    // Hooks gone: the server goes back to tickless idle.
    let mut reply = [0u8; 4];
    let (rc, _) = sys_send(slots::HOOKPEER, 2, &[], &mut reply, &[]);
    let u = [timer.hook_unregister(a), timer.hook_unregister(b), timer.hook_unregister(c)];
    let again = timer.hook_unregister(a);
    let s = timer.stats();
    t.check_said(
        "unhooked-tickless",
        rc == 0
            && reply == [1, 0, 0, 0]
            && u.iter().all(|r| r.is_ok())
            && again == Err(TimerError::StaleHandle)
            && s.hooks == 0
            && s.mode == MODE_ONESHOT,
        format_args!("{} client hooks, mode {}", s.hooks, s.mode),
    );
    let gen = kipc::read_task_status(slots::TIMER.index()).generation;
    t.check("server-never-faulted", gen == 0, format_args!("timer server generation {}", gen));
    console_writeln!(console(), "hook tests done: {} failed", t.failed);
    kipc::semihost_exit(t.failed)
}
