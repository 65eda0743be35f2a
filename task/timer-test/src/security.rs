//! Ownership, quotas and hostile IPC: test-timer-security.
//!
//! - `thief` (priority 5): fills its quota (`QuotaExceeded` after exactly
//!   `config.quota` timers), then takes a handle the victim sends it and
//!   tries every op on it: each must be `NotOwner`, and `fetch_fired`
//!   gives it nothing of the victim's.
//! - `victim` (priority 6, above the fuzzer so it runs whenever a timer of
//!   its fires): a periodic timer (every 3 jiffies) and a one-shot 150
//!   jiffies out; every expiry must arrive exactly on time, none missing,
//!   while the fuzzer runs.
//! - `fuzzer` (priority 7): 20 incarnations, each sending 500 messages
//!   that are well formed (right size, lease count and lease access for
//!   their op) but hostile (random handles, hook ids, expiries, bits,
//!   periods, lease lengths; ops chosen at random, `debug_crash` included,
//!   which this build refuses), then one malformed message, for which the
//!   server must refuse it with reply_fault: the kernel faults the fuzzer,
//!   the supervisor restarts it and the next incarnation (told apart by
//!   its generation) goes on. Each incarnation reports its reply counts to
//!   the runner before its malformed message.
//! - `hostile` (priority 7, beside the fuzzer; issue 12, items 5 and 6):
//!   registers hooks until refused (`HookQuota` at exactly
//!   `config.hook-quota`) and keeps them; not being in the timer server's
//!   `grab-tasks`, tries on 20 ticks to grab, set the rate to 8x, answer
//!   "done" and ungrab (refused each time, jiffies keep pace with the
//!   clocksource); then posts the server's tick bits 5,000 times over 10
//!   ticks (jiffies keep pace with the clocksource and `stats.interrupts`
//!   counts only the real ticks).
//! - `secrunner` (priority 4): sums the counts and checks that only valid
//!   codes came back, the server never faulted, the fuzzer was restarted
//!   exactly 20 times, and a fresh timer still fires on time; with the
//!   hostile task holding its full quota of hooks, it still registers a
//!   hook and, being in `grab-tasks`, grabs it.
//!
//! The victim also checks its 150 jiffies against the clocksource, so a
//! task that stopped jiffies during its run (as any task could, by
//! grabbing and answering "done", before `grab-tasks`) fails it.

use crate::common::*;
use crate::slots;
use userlib::*;

/// Operation of a fuzzer batch report: 16 u32 counters (`Counts`).
#[cfg(any(feature = "fuzzer", feature = "secrunner"))]
const OP_FUZZ_COUNTS: u16 = 2;
/// Incarnations of the fuzzer that send a batch and a malformed message.
#[cfg(any(feature = "fuzzer", feature = "secrunner"))]
const INCARNATIONS: u8 = 20;
/// Well-formed messages per incarnation.
#[cfg(any(feature = "fuzzer", feature = "secrunner"))]
const BATCH: u32 = 500;
/// Counter slots: [0] ok, [1..=15] by `TimerError` code, [16] anything
/// else (a dead code would land here), [17] messages sent.
#[cfg(any(feature = "fuzzer", feature = "secrunner"))]
const SLOTS: usize = 18;
/// Highest `TimerError` code.
#[cfg(any(feature = "fuzzer", feature = "secrunner"))]
const MAX_CODE: usize = 15;
/// Operation of the hostile task's note to the runner: body = the number
/// of hooks it holds (u32 LE); the runner learns its task index.
#[cfg(any(feature = "hostile", feature = "secrunner"))]
const OP_HOSTILE_HOOKS: u16 = 3;

/// Jiffies on the clocksource's time line between `ktime_get` readings
/// `k0` and `k1` (ns): what the tick should have counted.
#[cfg(any(feature = "hostile", feature = "victim"))]
fn clocksource_jiffies(k0: u64, k1: u64, hz: u32) -> u64 {
    let at = |k: u64| (k as u128 * hz as u128 / 1_000_000_000) as u64;
    at(k1).wrapping_sub(at(k0))
}

/// The hook chain as the server reports it: `(id, owner)` of each entry.
#[cfg(any(feature = "hostile", feature = "secrunner"))]
fn hook_owners(timer: &timer_api::Timer) -> ([(u16, u8); timer_api::wire::HOOK_CHAIN_MAX], usize) {
    use timer_api::wire::{HookEntry, HOOK_CHAIN_MAX, HOOK_ENTRY_BYTES};
    use zerocopy::FromBytes;
    let mut buf = [0u8; HOOK_CHAIN_MAX * HOOK_ENTRY_BYTES];
    let n = timer.hook_chain(&mut buf).unwrap_or(0) as usize;
    let mut out = [(0, 0); HOOK_CHAIN_MAX];
    for (o, c) in out.iter_mut().zip(buf.chunks_exact(HOOK_ENTRY_BYTES)).take(n) {
        let e = HookEntry::read_from_bytes(c).unwrap_or_default();
        *o = (e.id, e.owner);
    }
    (out, n)
}

#[cfg(feature = "thief")]
pub fn run_thief() -> ! {
    use crate::{config, notifications};
    use timer_api::{Timer, TimerError};
    let mut t = Tally::new();
    let timer = Timer::from(slots::TIMER);
    let bit = notifications::TIMER_BIT as u8;

    // Quota: exactly `quota` timers, then QuotaExceeded; all freed again.
    let before = timer.stats().timers_allocated;
    let mut hs = [0u64; 64];
    let mut n = 0;
    let err = loop {
        match timer.setup(bit, n as u32, 0, 0, false) {
            Ok(h) if n < hs.len() => {
                hs[n] = h;
                n += 1;
            }
            Ok(_) => break None,
            Err(e) => break Some(e),
        }
    };
    for h in &hs[..n] {
        let _ = timer.free(*h);
    }
    let after = timer.stats().timers_allocated;
    t.check_said(
        "quota-exceeded",
        n == config::QUOTA as usize && err == Some(TimerError::QuotaExceeded) && after == before,
        format_args!("{} timers, then {:?}; all freed", n, err),
    );

    // The victim's handle: every op on it is NotOwner.
    let mut buf = [0u8; 8];
    let m = sys_recv_open(&mut buf, 0);
    let h = u64::from_le_bytes(buf);
    let j = timer.jiffies();
    let got = [
        timer.add_timer(h, j + 1).err(),
        timer.mod_timer(h, j + 1).err(),
        timer.del_timer(h).err(),
        timer.timer_pending(h).err(),
        timer.free(h).err(),
    ];
    let mut fetched = 0;
    let _ = fetch_all(&timer, |_| fetched += 1);
    let ok = got.iter().all(|e| *e == Some(TimerError::NotOwner)) && fetched == 0;
    sys_reply(m.sender, 0, &[ok as u8]);
    t.check_said(
        "not-owner",
        ok,
        format_args!("another task's timer: add, mod, del, pending, free all {:?}; nothing fetched", got[0]),
    );
    report(slots::SECRUNNER, t.failed);
    park()
}

#[cfg(feature = "victim")]
pub fn run_victim() -> ! {
    use crate::notifications;
    use timer_api::Timer;
    let mut t = Tally::new();
    let timer = Timer::from(slots::TIMER);
    let bit = notifications::TIMER_BIT as u8;
    let one = timer.setup(bit, 1, 0, 0, false).unwrap_or(0);
    let per = timer.setup(bit, 2, 3, 0, false).unwrap_or(0);
    let k0 = timer.ktime_get().unwrap_or(0);
    let j0 = timer.jiffies();
    let end = j0 + 150;
    let _ = timer.add_timer(one, end);
    let _ = timer.add_timer(per, j0 + 3);

    let mut ok = [0u8; 1];
    let (rc, _) = sys_send(slots::THIEF, 1, &one.to_le_bytes(), &mut ok, &[]);
    let still = timer.timer_pending(one);
    t.check(
        "victim-untouched",
        rc == 0 && ok[0] == 1 && still == Ok(true),
        format_args!("rc {:#x} thief ok {} pending {:?}", rc, ok[0], still),
    );

    // Every 3 jiffies, exactly, until the one-shot fires, fuzz or not.
    let (mut next, mut fires, mut bad, mut done) = (j0 + 3, 0u32, 0u32, false);
    while !done {
        sys_recv_notification(notifications::TIMER_MASK);
        let r = fetch_all(&timer, |r| {
            if r.handle == per && r.expires == next && r.fired_at == next {
                fires += 1;
                next += 3;
            } else if r.handle == one && r.expires == end && r.fired_at == end {
                done = true;
            } else {
                bad += 1;
            }
        });
        if r.is_err() {
            bad += 1;
            break;
        }
    }
    let k1 = timer.ktime_get().unwrap_or(0);
    t.check_said(
        "victim-timers-exact",
        bad == 0 && fires == 50,
        format_args!("periodic fired {} times, every 3 jiffies, one-shot at +150, {} wrong", fires, bad),
    );
    // Jiffies kept real time meanwhile: a task that stopped them (grab,
    // answer "done") would stretch these 150 jiffies.
    let cs = clocksource_jiffies(k0, k1, timer.hz());
    t.check_said(
        "victim-jiffies-kept-time",
        (150..=151).contains(&cs),
        format_args!("150 jiffies took {} jiffies of clocksource time", cs),
    );
    let _ = (timer.free(one), timer.free(per));
    report(slots::SECRUNNER, t.failed);
    park()
}

#[cfg(feature = "fuzzer")]
pub fn run_fuzzer() -> ! {
    use crate::notifications;
    use drv_console_api::console_writeln;
    use timer_api::*;
    use zerocopy::IntoBytes;

    let gen = my_generation();
    if gen >= INCARNATIONS {
        report(slots::SECRUNNER, 0);
        park()
    }
    let timer = Timer::from(slots::TIMER);
    let mut rng = Rng::new(0xF00D_0000 + gen as u64);
    let pace = timer.setup(notifications::PACE_BIT as u8, 0, 0, 0, false).unwrap_or(0);
    let mut counts = [0u32; SLOTS];
    // Handles and hook ids the server gave us, to be hostile with.
    let mut mine = [0u64; 8];
    let mut hooks = [0u16; 4];

    for i in 0..BATCH {
        if i % 100 == 99 {
            let j = timer.jiffies();
            sleep_raw(&timer, pace, notifications::PACE_MASK, j + 1);
        }
        let mut handle = match rng.below(4) {
            0 => rng.next_u64(),
            1 => mine[rng.below(8) as usize],
            // Guessing: a small generation and any pool index hits live
            // timers of other tasks.
            _ => (rng.range(1, 2) << 32) | rng.range(0, 40),
        };
        if handle == pace {
            handle ^= 1 << 32;
        }
        let hook = match rng.below(3) {
            0 => rng.next_u32() as u16,
            1 => hooks[rng.below(4) as usize],
            _ => ((rng.range(1, 3) as u16) << 8) | rng.below(18) as u16,
        };
        let j = timer.jiffies();
        let expires = match rng.below(4) {
            0 => rng.next_u64(),
            1 => j.wrapping_sub(rng.range(0, 1000)),
            _ => j + rng.range(0, 400),
        };
        let flag = rng.below(2) as u8;
        let op = rng.range(1, 19) as u16;
        let mut lease_buf = [0u8; 256];
        let lease_len = rng.range(0, if op == 7 { 256 } else { 64 }) as usize;
        let lease_attr = if rng.below(2) == 0 { LEASE_WRITE } else { LEASE_READ | LEASE_WRITE };
        let lease = [Lease::raw(lease_attr, lease_buf.as_mut_ptr() as u32, lease_len)];
        let mut reply = [0u8; 64];
        let mut body = [0u8; 16];
        let (len, leases): (usize, &[Lease<'_>]) = match op {
            1 => {
                let a = Timer_setup_ARGS {
                    notification: rng.below(40) as u8,
                    token: rng.next_u32(),
                    period: if rng.below(3) == 0 { rng.range(1, 50) as u32 } else { 0 },
                    slack: rng.range(0, 40) as i32 - 5,
                    deferrable: flag,
                };
                body[..14].copy_from_slice(a.as_bytes());
                (14, &[])
            }
            2 | 3 => {
                body[..8].copy_from_slice(&handle.to_le_bytes());
                body[8..].copy_from_slice(&expires.to_le_bytes());
                (16, &[])
            }
            4..=6 => {
                body[..8].copy_from_slice(&handle.to_le_bytes());
                (8, &[])
            }
            7 | 18 => (0, &lease[..]),
            11 => {
                body[0] = rng.below(40) as u8;
                body[1] = flag;
                (2, &[])
            }
            12..=14 => {
                body[..2].copy_from_slice(&hook.to_le_bytes());
                (2, &[])
            }
            15 | 16 => {
                body[..2].copy_from_slice(&hook.to_le_bytes());
                body[2] = if op == 15 { flag } else { rng.below(10) as u8 };
                (3, &[])
            }
            _ => (0, &[]),
        };
        let (rc, n) = sys_send(slots::TIMER, op, &body[..len], &mut reply, leases);
        counts[MAX_CODE + 2] += 1;
        match rc {
            0 => {
                counts[0] += 1;
                // Keep what the server gave us, to reuse it.
                if op == 1 && n == 8 {
                    mine[rng.below(8) as usize] = u64::from_le_bytes(reply[..8].try_into().unwrap_or([0; 8]));
                } else if op == 11 && n == 2 {
                    hooks[rng.below(4) as usize] = u16::from_le_bytes([reply[0], reply[1]]);
                }
            }
            c if c as usize <= MAX_CODE => counts[c as usize] += 1,
            _ => counts[MAX_CODE + 1] += 1,
        }
    }
    let mut bytes = [0u8; SLOTS * 4];
    for (b, c) in bytes.chunks_exact_mut(4).zip(counts.iter()) {
        b.copy_from_slice(&c.to_le_bytes());
    }
    let (rc, _) = sys_send(slots::SECRUNNER, OP_FUZZ_COUNTS, &bytes, &mut [], &[]);
    if rc != 0 {
        console_writeln!(console(), "FAIL fuzz-report: {:#x}", rc);
    }

    // The malformed message of this incarnation: the server must refuse
    // it with reply_fault, which faults us; we never get past the send.
    let mut reply = [0u8; 64];
    let mut small = [0u8; 4];
    let mut big = [0u8; 300];
    let jiffies = TimerOperation::Jiffies as u16;
    let fetch = TimerOperation::FetchFired as u16;
    match gen % 10 {
        0 => sys_send(slots::TIMER, 0, &[], &mut reply, &[]),
        1 => sys_send(slots::TIMER, 20 + gen as u16 * 1000, &[], &mut reply, &[]),
        2 => sys_send(slots::TIMER, TimerOperation::AddTimer as u16, &[0; 15], &mut reply, &[]),
        3 => sys_send(slots::TIMER, jiffies, &[0; 4], &mut reply, &[]),
        4 => sys_send(slots::TIMER, jiffies, &[], &mut reply, &[Lease::read_only(&small)]),
        5 => sys_send(slots::TIMER, fetch, &[], &mut reply, &[]),
        6 => sys_send(slots::TIMER, fetch, &[], &mut reply, &[Lease::write_only(&mut big)]),
        7 => sys_send(slots::TIMER, fetch, &[], &mut reply, &[Lease::read_only(&small)]),
        8 => sys_send(slots::TIMER, TimerOperation::HookRegister as u16, &[3, 2], &mut reply, &[]),
        _ => sys_send(slots::TIMER, TimerOperation::Setup as u16, &[0; 14], &mut small, &[]),
    };
    console_writeln!(console(), "FAIL fuzz-malformed: gen {} was answered", gen);
    report(slots::SECRUNNER, 1);
    park()
}

#[cfg(feature = "hostile")]
pub fn run_hostile() -> ! {
    use crate::{config, notifications};
    use drv_console_api::console_writeln;
    use timer_api::wire::{HOOK_OWNER_BUILTIN, MODE_PERIODIC};
    use timer_api::{Timer, TimerError};
    /// Ticks the grab attempts go on for.
    const GRAB_TICKS: u64 = 20;
    /// Spoofed posts: `ROUNDS` bursts of `BURST`, one tick apart.
    const ROUNDS: u32 = 10;
    const BURST: u32 = 500;
    /// The timer server's tick notification bits (tick0, tick1 in the app
    /// file: device d interrupts as bit d).
    const TICK_BITS: u32 = 0b11;

    let mut t = Tally::new();
    let timer = Timer::from(slots::TIMER);
    let me = crate::TASK_INDEX;
    let bit = notifications::HOOK_BIT as u8;
    let hz = timer.hz();
    let tick = || sys_recv_notification(notifications::HOOK_MASK);

    // Item 5: take every hook slot there is. Refused at exactly the quota;
    // the hooks are kept (the runner checks others can still register).
    let mut hooks = [0u16; 16];
    let mut n = 0;
    let err = loop {
        match timer.hook_register(bit, false) {
            Ok(h) if n < hooks.len() => {
                hooks[n] = h;
                n += 1;
            }
            Ok(_) => break None,
            Err(e) => break Some(e),
        }
    };
    let (chain, len) = hook_owners(&timer);
    let held = chain[..len].iter().filter(|e| e.1 as usize == me).count();
    if n == 0 {
        // Without a hook there are no tick notifications to pace the
        // attacks by: fail now rather than wait for a tick forever.
        t.check_said("hook-quota", false, format_args!("no hook registered: {:?}", err));
        report(slots::SECRUNNER, t.failed);
        park()
    }

    // Item 5: not in grab-tasks. On every tick, try to take the tick over
    // the way the issue did (grab, 8x, answer done; had a grab stood, the
    // done answers would stop jiffies) and to grab a built-in step; every
    // attempt is refused and jiffies keep real time.
    let h = hooks[0];
    let builtin = chain[..len].iter().find(|e| e.1 == HOOK_OWNER_BUILTIN).map_or(0, |e| e.0);
    let want = [
        Err(TimerError::NotPermitted),
        Err(TimerError::NotGrabber),
        Err(TimerError::NotGrabber),
        Err(TimerError::StaleHandle),
    ];
    tick();
    let (k0, j0) = (timer.ktime_get().unwrap_or(0), timer.jiffies());
    let mut wrong = 0;
    for _ in 0..GRAB_TICKS {
        tick();
        let got = [
            timer.hook_grab(h),
            timer.hook_set_rate(h, 8),
            timer.hook_answer(h, true),
            timer.hook_grab(builtin),
        ];
        if got != want {
            if wrong == 0 {
                console_writeln!(console(), "hostile: grab, rate, answer, builtin grab gave {:?}", got);
            }
            wrong += 1;
        }
    }
    let (k1, j1) = (timer.ktime_get().unwrap_or(0), timer.jiffies());
    let s = timer.stats();
    if timer.hook_ungrab(h) != Err(TimerError::NotGrabber) {
        wrong += 1;
    }
    let grab = (wrong, s, j1.wrapping_sub(j0), clocksource_jiffies(k0, k1, hz));

    // Item 6: post the tick bits, thousands of times. A post is not an
    // interrupt: jiffies keep the clocksource's pace and the interrupt
    // count grows by the real ticks only (one per jiffy in periodic mode).
    tick();
    let s0 = timer.stats();
    let (k0, j0) = (timer.ktime_get().unwrap_or(0), timer.jiffies());
    let (mut posted, mut refused) = (0u32, 0u32);
    for _ in 0..ROUNDS {
        for _ in 0..BURST {
            if sys_post(slots::TIMER, TICK_BITS) == 0 {
                posted += 1;
            } else {
                refused += 1;
            }
        }
        tick();
    }
    let s1 = timer.stats();
    let (k1, j1) = (timer.ktime_get().unwrap_or(0), timer.jiffies());
    let irqs = s1.interrupts.wrapping_sub(s0.interrupts) as u64;

    // The attacks ran beside the fuzzer and the victim; the results are
    // printed once the runner has printed the fuzzer's, so the console's
    // order does not depend on scheduling.
    let (rc, _) = sys_send(slots::SECRUNNER, OP_HOSTILE_HOOKS, &(n as u32).to_le_bytes(), &mut [], &[]);
    if rc != 0 {
        console_writeln!(console(), "FAIL hostile-note: runner answered {:#x}", rc);
    }
    t.check_said(
        "hook-quota",
        n == config::HOOK_QUOTA as usize && err == Some(TimerError::HookQuota) && held == n,
        format_args!("{} hooks, then {:?}; {} in the chain", n, err, held),
    );
    let (wrong, s, jd, cs) = grab;
    t.check_said(
        "not-a-grabber",
        wrong == 0 && s.mode == MODE_PERIODIC && s.multiplier == 1 && jd >= GRAB_TICKS && jd.abs_diff(cs) <= 1,
        format_args!(
            "grab NotPermitted, set_rate 8x and answer done NotGrabber on {} ticks, then ungrab NotGrabber ({} wrong); rate x{}; jiffies +{}, clocksource +{}",
            GRAB_TICKS,
            wrong,
            s.multiplier,
            jd,
            cs
        ),
    );

    let (jd, cs) = (j1.wrapping_sub(j0), clocksource_jiffies(k0, k1, hz));
    t.check_said(
        "spoofed-ticks",
        posted + refused == ROUNDS * BURST && jd >= ROUNDS as u64 && jd.abs_diff(cs) <= 1 && irqs.abs_diff(jd) <= 1,
        format_args!(
            "{} posts of the tick bits: jiffies kept the clocksource's pace, interrupts counted only real ticks: jiffies +{}, clocksource +{}, interrupts +{} ({} posts taken, {} refused)",
            ROUNDS * BURST,
            jd,
            cs,
            irqs,
            posted,
            refused
        ),
    );
    report(slots::SECRUNNER, t.failed);
    // Keeps its hooks: the runner checks them.
    park()
}

#[cfg(feature = "secrunner")]
pub fn run_runner() -> ! {
    use crate::notifications;
    use drv_console_api::console_writeln;
    use timer_api::{Timer, TimerError};
    let mut t = Tally::new();
    let mut total = [0u32; SLOTS];
    let mut batches = 0;
    let mut fuzzer_index = 0;
    // The hostile task's note: its id and hook count. Answered (which lets
    // it print its results) after the fuzzer's results are printed.
    let mut hostile: Option<(TaskId, u32)> = None;
    let note = |m: &RecvMessage, body: &[u8]| {
        (m.operation == OP_HOSTILE_HOOKS as u32 && body.len() == 4)
            .then(|| (m.sender, u32::from_le_bytes([body[0], body[1], body[2], body[3]])))
    };
    // Thief, victim and fuzzer; the hostile task reports later.
    let failed = collect_reports(3, |m, body| {
        if let Some(n) = note(m, body) {
            hostile = Some(n);
        } else if m.operation == OP_FUZZ_COUNTS as u32 && body.len() == SLOTS * 4 {
            for (c, b) in total.iter_mut().zip(body.chunks_exact(4)) {
                *c += u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
            batches += 1;
            fuzzer_index = m.sender.index();
            sys_reply(m.sender, 0, &[]);
        } else {
            sys_reply(m.sender, 1, &[]);
        }
    });
    t.failed += failed;

    let fuzzer = kipc::read_task_status(fuzzer_index);
    let server = kipc::read_task_status(slots::TIMER.index());
    t.check_said(
        "fuzz",
        total[MAX_CODE + 2] == INCARNATIONS as u32 * BATCH
            && batches == INCARNATIONS as u32
            && total[MAX_CODE + 1] == 0
            && fuzzer.generation == INCARNATIONS
            && server.generation == 0,
        format_args!(
            "{} well-formed hostile + {} malformed messages; fuzzer restarted {} times; server generation {}",
            total[MAX_CODE + 2],
            batches,
            fuzzer.generation,
            server.generation
        ),
    );
    let code = |e: TimerError| total[e as usize];
    // The fuzzer is not in grab-tasks: each of its grabs was refused, so
    // no grab ever stood (no Busy) and no rate change or answer took.
    t.check_said(
        "fuzz-replies",
        total[0] > 0
            && code(TimerError::NotOwner) > 0
            && code(TimerError::StaleHandle) > 0
            && code(TimerError::NotPermitted) > 0
            && code(TimerError::Busy) == 0
            && code(TimerError::ServerDied) == 0,
        format_args!(
            "ok {}, StaleHandle {}, NotOwner {}, NotPermitted {}, HookQuota {}, AlreadyPending {}, QuotaExceeded {}, BadNotification {}, Busy {}, NotGrabber {}, BadRate {}, Unsupported {}, other {}",
            total[0],
            code(TimerError::StaleHandle),
            code(TimerError::NotOwner),
            code(TimerError::NotPermitted),
            code(TimerError::HookQuota),
            code(TimerError::AlreadyPending),
            code(TimerError::QuotaExceeded),
            code(TimerError::BadNotification),
            code(TimerError::Busy),
            code(TimerError::NotGrabber),
            code(TimerError::BadRate),
            code(TimerError::Unsupported),
            total[MAX_CODE + 1]
        ),
    );

    // Still serving: a fresh timer fires exactly on time.
    let timer = Timer::from(slots::TIMER);
    let h = timer.setup(notifications::TIMER_BIT as u8, 9, 0, 0, false).unwrap_or(0);
    let j = timer.jiffies();
    let _ = timer.add_timer(h, j + 5);
    sys_recv_notification(notifications::TIMER_MASK);
    let mut rec = None;
    let _ = fetch_all(&timer, |r| rec = Some(r));
    t.check(
        "serving-after-fuzz",
        matches!(rec, Some(r) if r.expires == j + 5 && r.fired_at == j + 5 && r.token == 9),
        format_args!("{:?}", rec),
    );

    // Let the hostile task print its results, and wait for its report.
    if let Some((sender, _)) = hostile {
        sys_reply(sender, 0, &[]);
    }
    t.failed += collect_reports(1, |m, body| match note(m, body) {
        Some(n) => {
            hostile = Some(n);
            sys_reply(m.sender, 0, &[]);
        }
        None => sys_reply(m.sender, 1, &[]),
    });
    let hostile = hostile.map(|(id, n)| (id.index(), n));

    // The hostile task still holds its whole hook quota; the table is not
    // its to fill: this task registers a hook, and (in grab-tasks) grabs.
    let (chain, n) = hook_owners(&timer);
    let held = hostile.map_or(0, |(i, _)| chain[..n].iter().filter(|e| e.1 as usize == i).count());
    let said = hostile.map_or(0, |(_, c)| c as usize);
    let mine = timer.hook_register(notifications::HOOK_BIT as u8, false);
    let grab = mine.and_then(|h| timer.hook_grab(h));
    let undo = mine.and_then(|h| timer.hook_ungrab(h).and_then(|()| timer.hook_unregister(h)));
    t.check_said(
        "others-still-hook",
        hostile.is_some() && held == said && held > 0 && mine.is_ok() && grab.is_ok() && undo.is_ok(),
        format_args!(
            "hostile task holds {} hooks (its quota); another task registered one ({:?}) and grabbed it ({:?})",
            held,
            mine.map(|_| ()),
            grab
        ),
    );
    console_writeln!(console(), "security tests done: {} failed", t.failed);
    kipc::semihost_exit(t.failed)
}
