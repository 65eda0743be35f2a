//! `cargo xtask test`: every host unit test, then the QEMU system tests.
//!
//! A system test is an app file under `build/apps/` whose image ends its
//! run through semihosting. It passes when QEMU exits with status 0 and
//! the console holds every expected line, in order, and no line starting
//! with `FAIL`. Each test image is run twice and the two consoles must be
//! byte-identical (icount makes runs deterministic).

use crate::qemu::Until;
use crate::{dist, qemu, setup};
use anyhow::{bail, Context, Result};
use std::process::Command;
use std::time::Duration;

/// Packages with host unit tests (the rest are target-only binaries).
/// escapement-humility's flash-planning test needs its `probe` feature and
/// the built Discovery image: [`host_tests`] runs it after these
/// ([`crate::humility::flash_plan_test`]).
const HOST_PACKAGES: &[&str] = &[
    "abi",
    "kern",
    "appcfg",
    "idol",
    "idol-runtime",
    "ringbuf",
    "echo-api",
    "drv-console-api",
    "drv-clockevent-api",
    "timer-api",
    "timer-core",
    "timer-tick",
    "timer-vdso",
    "supervisor-policy",
    "stm32-regs",
    "crt0",
    "xtask",
    "escapement-humility",
];

/// Apps that must build but cannot run here (no QEMU model of the board).
const BUILD_ONLY_APPS: &[&str] = &[];

/// What the hook tests print, the same whether the tick device is
/// periodic (test-timer-hooks) or ONESHOT-only with periodic ticks
/// emulated (test-timer-hooks-oneshot).
const HOOK_TEST_LINES: &[&str] = &[
    "PASS hook-order: C, B (run_always), A, peer's, do_timer, run_wheel (6 hooks)",
    "PASS hooks-force-periodic: mode 0 x1, 4 client hooks",
    "PASS hooks-every-tick: 5 ticks: A, B, C posted each, jiffies +5",
    "PASS lost-ticks-counted: 35000 us held off: jiffies +",
    "PASS grab-then-busy",
    "PASS hook-ownership:",
    "PASS done-skips-chain: 8 ticks, 6 done: run_always B ran 8 times, A 2, jiffies +2",
    "PASS silent-grabber: 5 unanswered ticks: jiffies +4, +5 after the late answer",
    "PASS rate-4x-hz: 16 ticks at 4x HZ, 12 done: jiffies +4",
    "PASS ungrab-restores-hz",
    "kern: task #5 hookvictim gen 0 faulted: panic",
    "kern: task #5 hookvictim restarted, gen 1",
    "PASS dead-grabber-removed: 6 hooks left, rate x1, grab free again",
    "PASS unhooked-tickless: 0 client hooks, mode 1",
    "PASS server-never-faulted",
    "hook tests done: 0 failed",
];

/// One system test.
pub struct SysTest {
    pub name: &'static str,
    pub app: &'static str,
    /// Lines that must appear on the console, in this order.
    pub expect: &'static [&'static str],
    /// True for images that exit through semihosting (status 0 = pass,
    /// console compared across two runs); false for images that run
    /// forever, which are stopped once every expected line has appeared.
    pub exits: bool,
}

/// The system tests.
pub const SYSTEM_TESTS: &[SysTest] = &[
    SysTest {
        name: "demo-boots",
        app: "app.toml",
        expect: &[
            "kern: Escapement starting",
            "watchdog: armed, bites 50 jiffies after the last feed",
            "sleeper: Calibrating delay loop...",
            "watchdog: worker finished unit 1 at +20, fed the watchdog (was pending)",
            "heartbeat: beat 1 at jiffies 0xffff8b34 (+1 s), 0 late",
            "watchdog: BITE at +130: worker stuck in unit 5, 50 jiffies since the last feed",
            "watchdog: worker finished unit 5 at +160, fed the watchdog (had bitten: re-armed)",
            "heartbeat: beat 2 at jiffies 0xffff8b98 (+2 s), 0 late",
            "pcspkr: beep 1: 200 hardware ticks at 4x HZ, jiffies +50 (HZ kept)",
            "heartbeat: beat 3 at jiffies 0xffff8bfc (+3 s), 0 late",
            "watchdog: 12 units done, one bite",
            "pcspkr: beep 1 again from a periodic hrtimer: 4000 samples at 8 kHz, the last 499875 us after the first, 0 missed, jiffies +50 (no tick grabbed)",
            "pcspkr: beep 2: 200 hardware ticks at 4x HZ, jiffies +50 (HZ kept)",
            "heartbeat: beat 5 at jiffies 0xffff8cc4 (+5 s), 0 late",
        ],
        exits: false,
    },
    // The Discovery image in QEMU's netduinoplus2 (an F405 with the same
    // map): QEMU has no RCC, so HSE and PLL time out and the image runs on
    // the HSI fall-back, printing on USART2 (QEMU's second serial port).
    // Its timers use the silicon register sequences, which QEMU's timer
    // model stretches, so only "they fire" is checked, not their rate.
    SysTest {
        name: "discovery-smoke",
        app: "build/apps/stm32f4-discovery.toml",
        expect: &[
            "kern: WARNING: HSE (8 MHz crystal) not ready after 100 ms: PLL from the 16 MHz HSI",
            "kern: WARNING: PLL not locked after 2 ms: running on the 16 MHz HSI",
            "kern: Escapement starting, 9 tasks",
            "watchdog: armed, bites 50 jiffies after the last feed",
            "sleeper: Calibrating delay loop...",
            "watchdog: worker finished unit 1 at +20",
            "heartbeat: beat 1 at jiffies",
            "heartbeat: beat 2 at jiffies",
            // Only the tick count: QEMU's timer model runs the Discovery
            // image's silicon start sequence (`EGR.UG`) with the virtual
            // time of the write added to every period (drv/clockevent-stm32
            // tim.rs), so TIM2 ticks far slower than asked here, and
            // jiffies, counted from the clocksource (lost ticks), show it.
            "pcspkr: beep 1: 200 hardware ticks at 4x HZ, jiffies +",
        ],
        exits: false,
    },
    // A fault in board start-up, before the kernel pointer is set, is
    // printed (not a null dereference).
    SysTest {
        name: "boot-fault",
        app: "build/apps/test-boot-fault.toml",
        expect: &[
            "kern: PANIC: fault before the kernel started: CFSR=0x00008200",
        ],
        exits: false,
    },
    SysTest {
        name: "substrate",
        app: "build/apps/test-substrate.toml",
        expect: &[
            // leasebad: faulted at its send, restarted, then the server answers.
            "kern: task #3 leasebad gen 0 faulted: syscall misuse: LeaseOutOfRange",
            "PASS lease-refused",
            // malformed: four refused messages, four restarts.
            "kern: task #4 malformed gen 0 faulted: refused by echo: UndefinedOperation",
            "kern: task #4 malformed gen 1 faulted: refused by echo: BadMessageSize",
            "kern: task #4 malformed gen 2 faulted: refused by echo: BadLeases",
            "kern: task #4 malformed gen 3 faulted: refused by echo: BadLeases",
            "PASS malformed",
            "PASS ipc-roundtrip",
            "PASS lease-read",
            "PASS lease-write",
            "PASS error-reply",
            "PASS post-wakes-recv",
            "PASS irq-notification",
            "PASS irq-rearmed-by-recv",
            "PASS irq-no-stale-delivery",
            "kern: task #2 echo gen 0 faulted: MemoryAccess",
            "kern: task #2 echo restarted, gen 1",
            "PASS server-death-seen",
            "PASS call-after-restart",
            "kern: task #6 intruder gen 0 faulted: MemoryAccess at 0x2000",
            "PASS isolation-ram",
            "kern: task #6 intruder gen 1 faulted: MemoryAccess at 0x40000800",
            "PASS isolation-peripheral",
            "PASS stale-id-refused",
            "PASS restarted-task-serves",
            "PASS leasebad",
            "PASS malformed",
            "PASS echo",
            "substrate tests done: 0 failed",
        ],
        exits: true,
    },
    SysTest {
        name: "clockevent",
        app: "build/apps/test-clockevent.toml",
        expect: &[
            "PASS device-count:",
            "PASS describe-tim2:",
            "PASS describe-tim4:",
            "PASS clocksource-info:",
            "PASS initially-detached:",
            "PASS bad-device:",
            "PASS program-needs-oneshot:",
            "PASS tim4-refuses-oneshot:",
            "PASS period-out-of-range:",
            "PASS counter-advances:",
            "PASS tim2-periodic-set:",
            "PASS tim2-periodic-1ms:",
            "PASS tim2-shutdown:",
            "PASS tim4-periodic-set:",
            "PASS tim4-periodic-1ms:",
            "PASS shutdown-is-silent:",
            "PASS tim2-oneshot-set:",
            "PASS oneshot-fires-once:",
            "PASS oneshot-stays-oneshot:",
            "PASS oneshot-rounds-up:",
            "PASS oneshot-exact:",
            "PASS clamp-to-min:",
            "PASS clamp-to-max:",
            "PASS past-deadline-etime:",
            "PASS oneshot-stopped-cancels:",
            "PASS stopped-refuses-program:",
            "PASS oneshot-again:",
            "PASS counter-extends-across-wrap:",
            "PASS all-shutdown:",
            "clockevent tests done: 0 failed",
        ],
        exits: true,
    },
    SysTest {
        name: "timer",
        app: "build/apps/test-timer.toml",
        expect: &[
            "PASS hz",
            "PASS add",
            "PASS del-unarmed",
            "PASS add-then-add",
            "PASS mod-pending",
            "PASS del-pending-then-not",
            "PASS mod-unarmed",
            "PASS del-sync-drops-fired",
            "PASS fires-at-its-jiffy",
            "PASS stale-expiry-by-seq",
            "PASS periodic-no-drift",
            "PASS far-expiry-clamped",
            "PASS freed-handle-stale",
            // 3 clients x (7 rounds x 50 + 20 across the wrap) = 1,110 timers.
            "PASS accuracy-rounds: seed 2: 350 timers (100 past or now) each at its jiffy",
            "PASS accuracy-rounds: seed 1: 350 timers (97 past or now) each at its jiffy",
            "PASS accuracy-rounds: seed 3: 350 timers (92 past or now) each at its jiffy",
            "PASS accuracy-wrap: seed 1: 20 timers from jiffies 0xfffffffa to 0x00000009",
            "accuracy-1: 370 timers armed and checked",
            "PASS accuracy-wrap: seed 2: 20 timers from jiffies 0xfffffff7 to 0x00000009",
            "accuracy-2: 370 timers armed and checked",
            "PASS accuracy-wrap: seed 3: 20 timers from jiffies 0xfffffff9 to 0x0000000a",
            "accuracy-3: 370 timers armed and checked",
            "PASS device-choice: server uses device 0; tim2 Ok(Oneshot), tim4 Ok(Shutdown)",
            "PASS tickless-idle: 1 timer interrupts for a 10 s sleep (max idle 1763180 ms), not 1000",
            "PASS tickless-exact-wake: woke at jiffy +1000 after 9999 ms of virtual time",
            "PASS server-never-faulted",
            "timer tests done: 0 failed",
        ],
        exits: true,
    },
    SysTest {
        name: "timer-hooks",
        app: "build/apps/test-timer-hooks.toml",
        expect: HOOK_TEST_LINES,
        exits: true,
    },
    SysTest {
        name: "timer-hooks-oneshot",
        app: "build/apps/test-timer-hooks-oneshot.toml",
        expect: HOOK_TEST_LINES,
        exits: true,
    },
    SysTest {
        name: "timer-security",
        app: "build/apps/test-timer-security.toml",
        expect: &[
            "PASS quota-exceeded: 16 timers, then Some(QuotaExceeded); all freed",
            "PASS not-owner: another task's timer: add, mod, del, pending, free all Some(NotOwner); nothing fetched",
            "PASS victim-untouched",
            // One malformed message per fuzzer incarnation, each refused.
            "kern: task #7 fuzzer gen 0 faulted: refused by timer: UndefinedOperation",
            "kern: task #7 fuzzer restarted, gen 1",
            "kern: task #7 fuzzer gen 2 faulted: refused by timer: BadMessageSize",
            "kern: task #7 fuzzer gen 4 faulted: refused by timer: BadLeases",
            "kern: task #7 fuzzer gen 8 faulted: refused by timer: BadMessageContents",
            "kern: task #7 fuzzer gen 9 faulted: refused by timer: ReplyBufferTooSmall",
            "kern: task #7 fuzzer gen 19 faulted: refused by timer: ReplyBufferTooSmall",
            "kern: task #7 fuzzer restarted, gen 20",
            "PASS victim-timers-exact: periodic fired 50 times, every 3 jiffies, one-shot at +150, 0 wrong",
            // Jiffies were not stopped while the hostile task tried to grab.
            "PASS victim-jiffies-kept-time: 150 jiffies took 150 jiffies of clocksource time",
            "PASS fuzz: 10000 well-formed hostile + 20 malformed messages; fuzzer restarted 20 times; server generation 0",
            // The fuzzer is not in grab-tasks: its grabs are NotPermitted, none is Busy.
            "PASS fuzz-replies: ok 3975, StaleHandle 4584, NotOwner 60, NotPermitted 74, HookQuota 304,",
            "PASS serving-after-fuzz",
            // The hostile task (issue 12, items 5 and 6), printed after the fuzzer's results.
            "PASS hook-quota: 2 hooks, then Some(HookQuota); 2 in the chain",
            "PASS not-a-grabber: grab NotPermitted, set_rate 8x and answer done NotGrabber on 20 ticks, then ungrab NotGrabber (0 wrong); rate x1;",
            "PASS spoofed-ticks: 5000 posts of the tick bits: jiffies kept the clocksource's pace, interrupts counted only real ticks:",
            "PASS others-still-hook: hostile task holds 2 hooks (its quota); another task registered one (Ok(())) and grabbed it (Ok(()))",
            "security tests done: 0 failed",
        ],
        exits: true,
    },
    SysTest {
        name: "timer-restart",
        app: "build/apps/test-timer-restart.toml",
        expect: &[
            "kern: task #3 timer gen 0 faulted: panic",
            "kern: task #3 timer restarted, gen 1",
            "PASS server-crashed: debug_crash gave Err(ServerDied); timer server now generation 1",
            "PASS hooks-through-restart: 55 hook ticks before the crash, 30 after; 1 recovery; grab restored: true",
            "PASS hrtimer-through-restart: every 4 ms: each fetch on the grid of the first start: true; 1 recovery",
            "PASS sleeper-no-timer-lost: 6 timers (3 due after the crash at +55) each fired once at its jiffy; 1 recovery",
            "PASS ticker-through-restart: 12 ticks, each 10 jiffies after the last, at its jiffy; 1 recovery",
            "PASS crasher-recovers: 1 recovery, slept 3 jiffies",
            "restart tests done: 0 failed",
        ],
        exits: true,
    },
    SysTest {
        name: "timer-client",
        app: "build/apps/test-timer-client.toml",
        expect: &[
            "PASS serve-while-pending: served 15 requests in its own receive loop, 10 before its timer fired at its jiffy (+20)",
            "PASS waits-never-early: 6 waits x 3 phases: 0 out of bounds;",
            "PASS huge-timeout-saturates: wait_event_timeout(u64::MAX) ended by the event after 5 jiffies, not by the timer",
            "PASS delayns-at-least: DelayNs: 5 delays (100 us, 3 ms, 5 ms spun; 30 ms and a driver's 100 us + 30 ms slept): 0 short or long; 4 spins, 2 sleeps",
            "PASS instant-deadline: deadline_in(25 ms) at HZ 100 is 4 jiffies ahead; slept at least 25 ms",
            "PASS slack-rounds: slack 16 moved +",
            "PASS timer-attributes: slack 5000 kept as 4992 (expiry = apply_slack), i32::MAX taken; mod_timer_pending left an idle timer idle, moved a pending one +40 -> +50",
            "PASS deferrable-waits: deferrable due at +5 delivered at +30, with the normal timer at +30",
            "PASS ticker-reset: ticks at +0, +10; reset at +14; next ticks at +24, +34",
            "PASS with-timeout: condition met at +6 (2 events of a 3-jiffy timer, timeout 20); timeout 2 with the condition never met gave up after 3 jiffies",
            "PASS delayed-work: queued +2 (re-queue refused), self-rearmed at +3, +8, +13, +18; cancelled one never ran; flushed one ran at once",
            "client tests done: 0 failed",
        ],
        exits: true,
    },
    // The time page: jiffies and ktime read with no IPC, against the
    // server's IPC answers in tickless and periodic mode and across the
    // 1 GHz clocksource's 32-bit wrap; and a hostile reader whose writes
    // to the page and the counter window fault only itself.
    SysTest {
        name: "time-page",
        app: "build/apps/test-time-page.toml",
        expect: &[
            "pagehostile: write the time page",
            "kern: task #4 pagehostile gen 0 faulted: MemoryAccess at 0x20005500",
            "pagehostile: write TIM5 CNT through the read-only window",
            "kern: task #4 pagehostile gen 1 faulted: MemoryAccess at 0x40000c24",
            "pagehostile: write TIM5 ARR, CNT's neighbour in the window",
            "kern: task #4 pagehostile gen 2 faulted: MemoryAccess at 0x40000c2c",
            "pagehostile: read TIM5 CR1, outside the window",
            "kern: task #4 pagehostile gen 3 faulted: MemoryAccess at 0x40000c00",
            "pagehostile: receive a message into the time page",
            "kern: task #4 pagehostile gen 4 faulted: syscall misuse: InvalidSlice",
            "pagehostile: lend the time page as a writable lease",
            "kern: task #4 pagehostile gen 5 faulted: syscall misuse: LeaseOutOfRange",
            "pagehostile: done, 6 attacks",
            "PASS page-hostile: 6 attacks on the page and the counter window, each faulted only the attacker (now generation 6)",
            "PASS page-published: jiffies 0xffff8c6e from the page, 0xffff8c6e..0xffff8c6e from the server",
            "PASS page-tickless-wrap: ",
            "PASS page-periodic: ",
            "time page tests done: 0 failed",
        ],
        exits: true,
    },
    // hrtimers against the clocksource, across its 32-bit wrap (the
    // figures are icount-deterministic; the bound is explained in
    // task/timer-test/src/hrtimer.rs).
    SysTest {
        name: "hrtimer",
        app: "build/apps/test-hrtimer.toml",
        expect: &[
            "PASS hrtimer-cancel-remaining: remaining before start None, after start_after(5 ms) within 5 ms; cancel true then false; nothing fetched",
            "PASS hrtimer-refusals: 10 us period BadPeriod; 5th hrtimer QuotaExceeded; a past expiry fires at once",
            "PASS hrtimer-after-wheel-reprogram: an hrtimer after a cancel and a wheel arm still reprograms the device",
            "PASS hrtimer-periodic-hres: with a tick hook: resolution 1000 ns; 200 hrtimers of 0.1-15 ms: 0 early, 0 over 11200 ns; 20 ticks after; jiffies kept pace with the clocksource: true",
            "PASS hrtimer-never-early:",
            "PASS hrtimer-wrap: armed before the clocksource's 32-bit wrap at +3000 ms,",
            "hrtimer tests done: 0 failed",
        ],
        exits: true,
    },
    SysTest {
        name: "hostile",
        app: "build/apps/test-hostile.toml",
        expect: &[
            // The crash loop: three restarts, then left down.
            "kern: task #8 crasher gen 3 faulted: IllegalInstruction",
            // The lease re-read attack: each forged descriptor is refused
            // and its lender faulted for it.
            "kern: task #9 attacker gen 0 faulted: syscall misuse: LeaseOutOfRange",
            "PASS lease-reread: descriptor rewritten to 0x2000",
            "PASS lease-reread: descriptor rewritten to 0x20000000, borrows refused",
            "PASS lease-reread: descriptor rewritten to 0x22000000, borrows refused",
            "PASS lease-reread: descriptor rewritten to 0x40011000, borrows refused",
            "kern: task #9 attacker gen 4 faulted: syscall misuse: LeaseOutOfRange",
            "PASS lease-trap: echo fill 0x22: first write landed, the rest refused",
            "kern: task #9 attacker gen 5 faulted: syscall misuse: LeaseOutOfRange",
            "PASS lease-trap: echo fill 0x0a: first write landed, the rest refused",
            "PASS fp-isolation: reader saw 0 non-zero FP registers in 3 rounds",
            "PASS fp-preserved: writer's own FP registers changed 0 times",
            // Every misuse class, each with the fault it must give.
            "kern: task #11 misuser gen 0 faulted: syscall misuse: BadSyscallNumber",
            "kern: task #11 misuser gen 1 faulted: syscall misuse: InvalidSlice",
            "kern: task #11 misuser gen 2 faulted: syscall misuse: TaskOutOfRange",
            "kern: task #11 misuser gen 3 faulted: syscall misuse: LeaseOutOfRange",
            "kern: task #11 misuser gen 4 faulted: syscall misuse: NoIrq",
            "kern: task #11 misuser gen 5 faulted: syscall misuse: BadKernelMessage",
            "kern: task #11 misuser gen 6 faulted: syscall misuse: IllegalTask",
            "kern: task #11 misuser gen 7 faulted: syscall misuse: BadReplyFaultReason",
            "kern: task #11 misuser gen 8 faulted: syscall misuse: InvalidSlice",
            "kern: task #11 misuser gen 9 faulted: MemoryAccess at 0x080",
            "kern: task #11 misuser gen 10 faulted: IllegalText",
            "kern: task #11 misuser gen 11 faulted: IllegalInstruction",
            "kern: task #11 misuser gen 12 faulted: IllegalText",
            "kern: task #11 misuser gen 13 faulted: DivideByZero",
            "kern: task #11 misuser gen 14 faulted: InvalidOperation (fault status 0x01000000)",
            "kern: task #11 misuser gen 15 faulted: BusError at 0xe000e100",
            "kern: task #11 misuser gen 16 faulted: BusError at 0xe000ed0c",
            "kern: task #11 misuser gen 17 faulted: InvalidOperation",
            "kern: task #11 misuser gen 18 faulted: InvalidOperation",
            // A panic message cannot forge a console line.
            "kern: task #11 misuser panicked: deliberate panic??FAIL forged line",
            "kern: task #11 misuser gen 19 faulted: panic",
            "PASS misuse: 20 misdeeds, each stopped only the misuser",
            // A stack overflow at `svc` (and in plain recursion).
            "kern: task #12 overflow gen 0 faulted: StackOverflow",
            "kern: task #12 overflow gen 1 faulted: StackOverflow",
            "PASS stack-overflow: two overflows, both stopped only this task",
            // A crash loop's reports stop after 32 (then powers of two).
            "kern: task #13 fuzzer gen 31 faulted:",
            "kern: task #13 fuzzer gen 63 faulted: syscall misuse: InvalidSlice (fault 64;",
            "kern: task #9 attacker gen 6 faulted: syscall misuse: LeaseOutOfRange",
            "PASS lease-trap: timer fetch_fired: first write landed, the rest refused",
            "PASS refill-refused: not the refill task",
            "kern: task #13 fuzzer gen 63 faulted: syscall misuse: InvalidSlice (fault 65536;",
            "fuzzer: 100000 syscalls made,",
            "PASS restart-budget: crasher at gen 3, left down",
            "PASS refill-allowed: the refill task refilled",
            "PASS restart-budget: crasher at gen 6, left down",
            "PASS victim-intact: 0 of 1024 bytes changed",
            "PASS liveness: echo answers",
            "hostile figures: 100000 fuzzed syscalls,",
            "hostile tests done: 0 failed",
        ],
        exits: true,
    },
];

/// Runs host tests and system tests.
pub fn test_all(host_only: bool, only: Option<&str>) -> Result<()> {
    host_tests()?;
    if host_only {
        return Ok(());
    }
    for app in BUILD_ONLY_APPS {
        println!("== build check: {app}");
        dist::dist(&crate::root().join(app))?;
    }
    setup::ensure_qemu()?;
    let mut failed = Vec::new();
    let selected: Vec<&SysTest> = SYSTEM_TESTS.iter().filter(|t| only.is_none_or(|o| t.name.contains(o))).collect();
    for t in &selected {
        println!("== system test {}", t.name);
        if let Err(e) = run_system_test(t) {
            println!("FAILED {}: {e:#}", t.name);
            failed.push(t.name);
        } else {
            println!("ok {}", t.name);
        }
    }
    let ran = selected.len() + humility_section(only, &mut failed) + conformance_section(only, &mut failed);
    println!("system tests: {} passed, {} failed", ran - failed.len(), failed.len());
    if !failed.is_empty() {
        bail!("system tests failed: {}", failed.join(", "));
    }
    Ok(())
}

/// The inspector's golden tests (build/humility/golden), a section of
/// their own: dump the test-humility image stopped at a fixed point and
/// compare every view's output. Returns how many tests it ran.
fn humility_section(only: Option<&str>, failed: &mut Vec<&'static str>) -> usize {
    const NAME: &str = "humility";
    if !only.is_none_or(|o| NAME.contains(o)) {
        return 0;
    }
    println!("== system test {NAME}");
    match crate::humility::golden_tests() {
        Ok(()) => println!("ok {NAME}"),
        Err(e) => {
            println!("FAILED {NAME}: {e:#}");
            failed.push(NAME);
        }
    }
    1
}

/// Real humility on a fresh archive of a test image, compared with our
/// inspector ([`crate::conformance`]). Returns how many tests it ran (0 if
/// not selected or if real humility is not installed).
fn conformance_section(only: Option<&str>, failed: &mut Vec<&'static str>) -> usize {
    const NAME: &str = crate::conformance::NAME;
    if !only.is_none_or(|o| NAME.contains(o)) {
        return 0;
    }
    println!("== system test {NAME}");
    match crate::conformance::run() {
        Ok(true) => println!("ok {NAME}"),
        Ok(false) => return 0,
        Err(e) => {
            println!("FAILED {NAME}: {e:#}");
            failed.push(NAME);
        }
    }
    1
}

fn host_tests() -> Result<()> {
    println!("== host tests: {}", HOST_PACKAGES.join(" "));
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(crate::root()).arg("test");
    for p in HOST_PACKAGES {
        cmd.args(["-p", p]);
    }
    let status = cmd.status().context("running cargo test")?;
    if !status.success() {
        bail!("host tests failed");
    }
    crate::humility::flash_plan_test()
}

/// Checks a console against the expectations: every expected line in order
/// (each matched as a prefix of a console line), and no `FAIL` line.
pub fn judge(console: &str, expect: &[&str]) -> Result<(), String> {
    if let Some(l) = console.lines().find(|l| l.starts_with("FAIL")) {
        return Err(format!("console reports a failure: {l}"));
    }
    let mut lines = console.lines();
    for e in expect {
        if !lines.any(|l| l.starts_with(e)) {
            return Err(format!("expected a line starting with {e:?} (in order)"));
        }
    }
    Ok(())
}

fn run_system_test(t: &SysTest) -> Result<()> {
    let image = dist::dist(&crate::root().join(t.app))?;
    crate::archive::check(&image.archive, &image.tasks, image.image_id).context("the build archive is not what humility expects")?;
    // Host wall-clock time, only to catch a hung image (results come from
    // icount's virtual time, identical run to run). Images that poll the
    // timer server in tight loops (timer-client's phase spins) emulate more
    // slowly the cheaper an IPC gets: more context switches, each an MPU
    // reload for QEMU, per virtual millisecond. timer-client takes ~77 s of
    // CPU alone and over 120 s of wall time on a loaded 2-core host.
    let limit = Duration::from_secs(300);
    let show = |c: &str| c.lines().map(|l| format!("    | {l}\n")).collect::<String>();
    if !t.exits {
        let seen = |c: &str| judge(c, t.expect).is_ok();
        let run = qemu::run_captured(&image, Until::Console(&seen), limit)?;
        return judge(&run.console, t.expect).map_err(|e| anyhow::anyhow!("{e}; console:\n{}", show(&run.console)));
    }
    let first = qemu::run_captured(&image, Until::Exit, limit)?;
    match first.status {
        Some(0) => {}
        Some(s) => bail!("QEMU exited with status {s}; console:\n{}", show(&first.console)),
        None => bail!("no exit within {limit:?}; console:\n{}", show(&first.console)),
    }
    judge(&first.console, t.expect).map_err(|e| anyhow::anyhow!("{e}; console:\n{}", show(&first.console)))?;
    let second = qemu::run_captured(&image, Until::Exit, limit)?;
    if second.console != first.console || second.status != first.status {
        bail!("two runs under icount differ:\nfirst:\n{}second:\n{}", show(&first.console), show(&second.console));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::judge;

    #[test]
    fn judge_wants_lines_in_order() {
        let c = "a\nb one\nc\n";
        assert!(judge(c, &["a", "b", "c"]).is_ok());
        assert!(judge(c, &["b", "a"]).is_err());
        assert!(judge(c, &["d"]).is_err());
    }

    #[test]
    fn judge_rejects_fail_lines() {
        assert!(judge("PASS x\nFAIL y\n", &["PASS x"]).is_err());
    }
}
