//! The runner: the lowest-priority role, so it runs when every attacker
//! has done its worst or is waiting. It collects each role's verdict,
//! checks the restart budget against the crash loop (posts and a
//! forbidden refill changed nothing; its own refill, as the image's
//! `refill-task`, revives the crasher for one more budget), the
//! victim's pattern, and that every task but the crasher is alive and
//! serving; then prints the run's figures and ends it.

use super::*;
use timer_api::client::{Spec, Timers};

/// Roles with a verdict, and their names.
const ROLES: [(TaskId, &str); 7] = [
    (slots::COLLUDER, "colluder"),
    (slots::ATTACKER, "attacker"),
    (slots::FUZZER, "fuzzer"),
    (slots::MISUSER, "misuser"),
    (slots::OVERFLOW, "overflow"),
    (slots::FPWRITER, "fpwriter"),
    (slots::FPREADER, "fpreader"),
];

pub fn run() -> ! {
    let mut timers = Timers::<1>::new(slots::TIMER);
    let nap = timers.setup(Spec::oneshot(0)).unwrap_or_else(|_| finish(false, "FAIL runner: no timer"));
    let sleep = |t: &mut Timers<1>, n: u64| {
        let _ = timer_api::sleep::sleep_for(t, nap, n);
    };
    let mut failed = 0u32;
    let mut verdicts = [Verdict::default(); ROLES.len()];
    // Every role reports done (they all outrank us, so this is quick
    // unless one is stuck, which the xtask's time limit catches).
    loop {
        for (v, (id, _)) in verdicts.iter_mut().zip(ROLES) {
            if !v.done {
                *v = ask_verdict(id).unwrap_or_default();
            }
        }
        if verdicts.iter().all(|v| v.done) {
            break;
        }
        sleep(&mut timers, 5);
    }
    for (v, (_, name)) in verdicts.iter().zip(ROLES) {
        if !v.passed {
            failed += 1;
            console_writeln!(console(), "FAIL role {}: {:?}", name, v);
        }
    }

    // The crash loop: 3 restarts, then down, whatever was posted.
    failed += !check_crasher(3, "after 30 posts of every bit and a forbidden refill") as u32;
    match supervisor::refill() {
        Ok(()) => console_writeln!(console(), "PASS refill-allowed: the refill task refilled"),
        Err(e) => {
            failed += 1;
            console_writeln!(console(), "FAIL refill-allowed: code {:#x}", e);
        }
    }
    sleep(&mut timers, 2);
    failed += !check_crasher(6, "after the refill task's refill: one more budget") as u32;

    // The victim's pattern.
    let mut r = [0u8; 4];
    let changed = match sys_send(slots::VICTIM, OP_CHECK, &[], &mut r, &[]) {
        (0, 4) => u32::from_le_bytes(r),
        _ => u32::MAX,
    };
    if changed == 0 {
        console_writeln!(console(), "PASS victim-intact: 0 of {} bytes changed", PATTERN_LEN);
    } else {
        failed += 1;
        console_writeln!(console(), "FAIL victim-intact: {} bytes changed", changed);
    }

    // Liveness: the stock servers serve, time still passes, every task but
    // the crasher is healthy.
    let echo_ok = echo_api::Echo::from(slots::ECHO).echo(0xC0DE) == Ok(0xC0DE);
    let before = timers.jiffies();
    sleep(&mut timers, 3);
    let after = timers.jiffies();
    let mut faulted = 0;
    for i in 0..config::TASK_COUNT {
        let s = kipc::read_task_status(i as usize);
        if s.state == state_code::FAULTED && i as usize != config::CRASHER_TASK {
            faulted += 1;
            console_writeln!(console(), "FAIL liveness: task #{} is faulted: {:?}", i, s);
        }
    }
    if echo_ok && after >= before + 3 && faulted == 0 {
        console_writeln!(console(), "PASS liveness: echo answers, jiffies {} -> {}, no task faulted but the crasher", before, after);
    } else {
        failed += 1;
        console_writeln!(console(), "FAIL liveness: echo {} jiffies {} -> {} faulted {}", echo_ok, before, after, faulted);
    }

    let fuzz = verdicts[2];
    let misuse = verdicts[3];
    console_writeln!(
        console(),
        "hostile figures: {} fuzzed syscalls, {} faults taken by the fuzzer, {} misuse classes, {} colluder borrows refused, kernel panics 0, victim bytes changed {}",
        fuzz.a,
        fuzz.b,
        misuse.a,
        verdicts[0].b,
        changed
    );
    finish(failed == 0, if failed == 0 { "hostile tests done: 0 failed" } else { "FAIL hostile tests" })
}

/// Checks that the crasher is down at generation `gen`.
fn check_crasher(gen: u8, when: &str) -> bool {
    let s = kipc::read_task_status(config::CRASHER_TASK);
    let ok = s.state == state_code::FAULTED && s.generation == gen;
    console_writeln!(
        console(),
        "{} restart-budget: crasher at gen {}, {} ({})",
        if ok { "PASS" } else { "FAIL" },
        s.generation,
        if s.state == state_code::FAULTED { "left down" } else { "running" },
        when
    );
    ok
}

fn finish(pass: bool, line: &str) -> ! {
    console_writeln!(console(), "{}", line);
    kipc::semihost_exit(if pass { 0 } else { 1 })
}
