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
//! - `secrunner` (priority 4): sums the counts and checks that only valid
//!   codes came back, the server never faulted, the fuzzer was restarted
//!   exactly 20 times, and a fresh timer still fires on time.

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
/// Counter slots: [0] ok, [1..=13] by `TimerError` code, [14] anything
/// else (a dead code would land here), [15] messages sent.
#[cfg(any(feature = "fuzzer", feature = "secrunner"))]
const SLOTS: usize = 16;

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
    t.check_said(
        "victim-timers-exact",
        bad == 0 && fires == 50,
        format_args!("periodic fired {} times, every 3 jiffies, one-shot at +150, {} wrong", fires, bad),
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
        counts[15] += 1;
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
            1..=13 => counts[rc as usize] += 1,
            _ => counts[14] += 1,
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

#[cfg(feature = "secrunner")]
pub fn run_runner() -> ! {
    use crate::notifications;
    use drv_console_api::console_writeln;
    use timer_api::{Timer, TimerError};
    let mut t = Tally::new();
    let mut total = [0u32; SLOTS];
    let mut batches = 0;
    let mut fuzzer_index = 0;
    let failed = collect_reports(3, |m, body| {
        if m.operation == OP_FUZZ_COUNTS as u32 && body.len() == SLOTS * 4 {
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
        total[15] == INCARNATIONS as u32 * BATCH
            && batches == INCARNATIONS as u32
            && total[14] == 0
            && fuzzer.generation == INCARNATIONS
            && server.generation == 0,
        format_args!(
            "{} well-formed hostile + {} malformed messages; fuzzer restarted {} times; server generation {}",
            total[15],
            batches,
            fuzzer.generation,
            server.generation
        ),
    );
    let code = |e: TimerError| total[e as usize];
    t.check_said(
        "fuzz-replies",
        total[0] > 0 && code(TimerError::NotOwner) > 0 && code(TimerError::StaleHandle) > 0 && code(TimerError::ServerDied) == 0,
        format_args!(
            "ok {}, StaleHandle {}, NotOwner {}, AlreadyPending {}, QuotaExceeded {}, BadNotification {}, Busy {}, NotGrabber {}, BadRate {}, Unsupported {}, other {}",
            total[0],
            code(TimerError::StaleHandle),
            code(TimerError::NotOwner),
            code(TimerError::AlreadyPending),
            code(TimerError::QuotaExceeded),
            code(TimerError::BadNotification),
            code(TimerError::Busy),
            code(TimerError::NotGrabber),
            code(TimerError::BadRate),
            code(TimerError::Unsupported),
            total[14]
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
    console_writeln!(console(), "security tests done: {} failed", t.failed);
    kipc::semihost_exit(t.failed)
}
