//! QEMU system test of the clockevent driver (build/apps/test-clockevent.toml).
//!
//! Why it exists: the driver's arithmetic is unit-tested on the host, but
//! whether the register sequences make the timers fire when they should can
//! only be seen on a machine. This task plays the timer server's part: the
//! TIM2 and TIM4 update interrupts are routed to it, it acknowledges them
//! through the driver's `ack` and re-enables them with `sys_irq_control`,
//! and it measures time with the driver's clocksource.
//!
//! What it checks (each prints `PASS <name>` or `FAIL <name>: <why>`):
//! device descriptions, state transitions and their refusals, a 1 ms
//! periodic tick on each device whose length matches the clocksource, a
//! oneshot event that fires exactly once and not early, the min/max clamps,
//! `Etime`, ONESHOT_STOPPED cancelling an event, and the 64-bit counter
//! across a hardware wrap. It ends the QEMU run with the number of failures
//! as the semihosting exit status.

#![no_std]
#![no_main]

use drv_clockevent_api::{
    ClockEvent, ClockEventError, ClockEventState, ClocksourceInfo, DeviceInfo, FEAT_ONESHOT, FEAT_PERIODIC,
};
use drv_console_api::{console_writeln, Console};
use userlib::{kipc, sys_irq_control, sys_recv_notification};

include!(concat!(env!("OUT_DIR"), "/task_config.rs"));

/// Device indices of the driver.
const TIM2: u8 = 0;
const TIM4: u8 = 1;

/// How far a measured number of whole periods may stray from the
/// programmed total, in ns: one count of the 1 MHz timer. Interrupt-to-
/// `read_counter` latency is the same for every period and cancels out;
/// QEMU's start-time skew, which this test exists to catch, adds the
/// virtual time of the timer's start to every period.
const PERIOD_SLACK_NS: u64 = 1_000;

/// Upper bound on the time from an event to the test's `read_counter`
/// after acknowledging it (two IPC round trips and a context switch or
/// two; about 9 µs under `-icount shift=0`).
const LATENCY_NS: u64 = 50_000;

fn console() -> Console {
    Console::from(slots::CONSOLE)
}

struct Tally {
    failed: u32,
}

impl Tally {
    fn check(&mut self, name: &str, ok: bool, detail: core::fmt::Arguments<'_>) {
        if ok {
            console_writeln!(console(), "PASS {}: {}", name, detail);
        } else {
            self.failed += 1;
            console_writeln!(console(), "FAIL {}: {}", name, detail);
        }
    }
}

/// What one wake-up brought: for each timer that interrupted, what `ack`
/// said (true: its update flag was set).
#[derive(Copy, Clone, Debug, Default)]
struct Wake {
    tim2: Option<bool>,
    tim4: Option<bool>,
    /// Clocksource count right after the acks, in cycles.
    at: u64,
}

struct Rig {
    ce: ClockEvent,
    cs: ClocksourceInfo,
}

impl Rig {
    /// Clocksource now, in cycles (0 if the driver refused, which the
    /// checks then report as a wrong interval).
    fn now(&self) -> u64 {
        self.ce.read_counter().unwrap_or(0)
    }

    /// ns between two clocksource counts.
    fn ns(&self, from: u64, to: u64) -> u64 {
        self.cs.cycles_to_ns(to.wrapping_sub(from))
    }

    /// Waits for the next TIM2 and/or TIM4 interrupt, acknowledges each
    /// through the driver, and re-enables it.
    fn wait(&self) -> Wake {
        let mask = notifications::TIM2_MASK | notifications::TIM4_MASK;
        let bits = sys_recv_notification(mask);
        let mut wake = Wake::default();
        if bits & notifications::TIM2_MASK != 0 {
            wake.tim2 = Some(self.ce.ack(TIM2).unwrap_or(false));
        }
        if bits & notifications::TIM4_MASK != 0 {
            wake.tim4 = Some(self.ce.ack(TIM4).unwrap_or(false));
        }
        wake.at = self.now();
        sys_irq_control(bits & mask, true);
        wake
    }

    /// Waits until TIM4 (periodic, the time base) has ticked `ticks` times,
    /// counting TIM2's interrupts meanwhile: returns (TIM2 interrupts whose
    /// `ack` was true, those whose `ack` was false, clocksource count at
    /// the first true TIM2 ack).
    fn tim2_during(&self, ticks: u32) -> (u32, u32, Option<u64>) {
        let (mut fired, mut stale, mut first) = (0, 0, None);
        let mut seen = 0;
        while seen < ticks {
            let w = self.wait();
            match w.tim2 {
                Some(true) => {
                    fired += 1;
                    first.get_or_insert(w.at);
                }
                Some(false) => stale += 1,
                None => {}
            }
            if w.tim4 == Some(true) {
                seen += 1;
            }
        }
        (fired, stale, first)
    }

    /// Waits for `n` acknowledged interrupts of device `dev` alone and
    /// returns the clocksource counts at the first and the last.
    fn periods(&self, dev: u8, n: u32) -> (u64, u64) {
        let (mut first, mut last) = (0, 0);
        let mut seen = 0;
        while seen < n {
            let w = self.wait();
            let acked = if dev == TIM2 { w.tim2 } else { w.tim4 };
            if acked == Some(true) {
                if seen == 0 {
                    first = w.at;
                }
                last = w.at;
                seen += 1;
            }
        }
        (first, last)
    }
}

/// What `describe` must say about a device (mult/shift are checked by the
/// host tests of the arithmetic).
struct Expect {
    name: &'static str,
    features: u32,
    rating: u32,
    rate_hz: u32,
    min_delta_ns: u64,
    max_delta_ns: u64,
    irq: u32,
}

impl Expect {
    fn matches(&self, d: &Result<DeviceInfo, ClockEventError>) -> bool {
        matches!(d, Ok(i) if i.name() == self.name
            && i.features == self.features
            && i.rating == self.rating
            && i.rate_hz == self.rate_hz
            && i.min_delta_ns == self.min_delta_ns
            && i.max_delta_ns == self.max_delta_ns
            && i.irq == self.irq)
    }
}

#[export_name = "main"]
fn main() -> ! {
    let mut t = Tally { failed: 0 };
    let ce = ClockEvent::from(slots::CLOCKEVENT);
    let rig = Rig { cs: ce.clocksource_info(), ce };
    let ce = &rig.ce;
    sys_irq_control(notifications::TIM2_MASK | notifications::TIM4_MASK, true);

    // --- Descriptions -----------------------------------------------------
    let n = ce.device_count();
    t.check("device-count", n == 2, format_args!("{}", n));
    let d0 = ce.describe(TIM2);
    let ok = Expect {
        name: "tim2",
        features: FEAT_PERIODIC | FEAT_ONESHOT,
        rating: 300,
        rate_hz: 1_000_000,
        min_delta_ns: 2_000,
        max_delta_ns: 4_294_967_295_000,
        irq: 28,
    }
    .matches(&d0);
    t.check("describe-tim2", ok, format_args!("{:?}", d0));
    let d1 = ce.describe(TIM4);
    let ok = Expect {
        name: "tim4",
        features: FEAT_PERIODIC,
        rating: 100,
        rate_hz: 100_000,
        min_delta_ns: 20_000,
        max_delta_ns: 655_350_000,
        irq: 30,
    }
    .matches(&d1);
    t.check("describe-tim4", ok, format_args!("{:?}", d1));
    let cs = rig.cs;
    let ok = cs.name() == "tim5" && cs.rate_hz == 1_000_000_000 && cs.mult == 1 << 31 && cs.shift == 31;
    t.check("clocksource-info", ok, format_args!("{:?}", cs));
    let states = (ce.device_state(TIM2), ce.device_state(TIM4));
    let ok = states == (Ok(ClockEventState::Detached), Ok(ClockEventState::Detached));
    t.check("initially-detached", ok, format_args!("{:?}", states));

    // --- Refusals -------------------------------------------------------
    let bad = [
        ce.describe(2).err(),
        ce.state(200).err(),
        ce.set_state_shutdown(2).err(),
        ce.set_state_periodic(2, 1_000_000).err(),
        ce.set_state_oneshot(255).err(),
        ce.set_state_oneshot_stopped(2).err(),
        ce.program_event(2, 1_000).err(),
        ce.ack(2).err(),
    ];
    let ok = bad.iter().all(|e| *e == Some(ClockEventError::NoSuchDevice));
    t.check("bad-device", ok, format_args!("{:?}", bad));
    let r = (ce.program_event(TIM2, 1_000_000), ce.set_state_oneshot_stopped(TIM2));
    let ok = r == (Err(ClockEventError::BadState), Err(ClockEventError::BadState));
    t.check("program-needs-oneshot", ok, format_args!("{:?}", r));
    let r = (ce.set_state_oneshot(TIM4), ce.set_state_oneshot_stopped(TIM4), ce.device_state(TIM4));
    let ok = r == (Err(ClockEventError::Unsupported), Err(ClockEventError::Unsupported), Ok(ClockEventState::Detached));
    t.check("tim4-refuses-oneshot", ok, format_args!("{:?}", r));
    let r = (ce.set_state_periodic(TIM4, 10_000), ce.set_state_periodic(TIM4, 700_000_000), ce.device_state(TIM4));
    let ok = r == (Err(ClockEventError::OutOfRange), Err(ClockEventError::OutOfRange), Ok(ClockEventState::Detached));
    t.check("period-out-of-range", ok, format_args!("{:?}", r));

    // --- Clocksource ----------------------------------------------------
    let (a, b) = (rig.now(), rig.now());
    t.check("counter-advances", b > a, format_args!("{} then {}", a, b));

    // --- Periodic TIM2 at 1 ms: ten periods are 10 ms -------------------
    let r = ce.set_state_periodic(TIM2, 1_000_000);
    t.check("tim2-periodic-set", r == Ok(1_000_000), format_args!("{:?}", r));
    let (first, last) = rig.periods(TIM2, 11);
    let ns = rig.ns(first, last);
    t.check("tim2-periodic-1ms", ns.abs_diff(10_000_000) <= PERIOD_SLACK_NS, format_args!("10 periods took {} ns", ns));
    let r = (ce.set_state_shutdown(TIM2), ce.device_state(TIM2));
    t.check("tim2-shutdown", r == (Ok(()), Ok(ClockEventState::Shutdown)), format_args!("{:?}", r));

    // --- Periodic TIM4 at 1 ms, then TIM4 is the time base --------------
    let r = ce.set_state_periodic(TIM4, 1_000_000);
    t.check("tim4-periodic-set", r == Ok(1_000_000), format_args!("{:?}", r));
    let (first, last) = rig.periods(TIM4, 11);
    let ns = rig.ns(first, last);
    t.check("tim4-periodic-1ms", ns.abs_diff(10_000_000) <= PERIOD_SLACK_NS, format_args!("10 periods took {} ns", ns));
    let (fired, stale, _) = rig.tim2_during(3);
    t.check("shutdown-is-silent", fired + stale == 0, format_args!("{} + {} TIM2 interrupts", fired, stale));

    // --- Oneshot TIM2: exactly one interrupt, not early -----------------
    let r = (ce.set_state_oneshot(TIM2), ce.device_state(TIM2));
    t.check("tim2-oneshot-set", r == (Ok(()), Ok(ClockEventState::Oneshot)), format_args!("{:?}", r));
    let start = rig.now();
    let r = ce.program_event(TIM2, 3_000_000);
    let (fired, stale, at) = rig.tim2_during(10);
    let late_3ms = at.map(|at| rig.ns(start, at)).unwrap_or(0);
    let ok = r == Ok(3_000_000) && fired == 1 && stale == 0 && (3_000_000..3_000_000 + LATENCY_NS).contains(&late_3ms);
    t.check("oneshot-fires-once", ok, format_args!("{:?}: {} fired, {} stale, after {} ns", r, fired, stale, late_3ms));
    let st = ce.device_state(TIM2);
    t.check("oneshot-stays-oneshot", st == Ok(ClockEventState::Oneshot), format_args!("{:?}", st));

    // Rounded up to whole µs: 1.5 µs past 2 ms is programmed as 2.002 ms.
    let start = rig.now();
    let r = ce.program_event(TIM2, 2_001_500);
    let (fired, _, at) = rig.tim2_during(5);
    let late_2ms = at.map(|at| rig.ns(start, at)).unwrap_or(0);
    let ok = r == Ok(2_002_000) && fired == 1 && late_2ms >= 2_002_000;
    t.check("oneshot-rounds-up", ok, format_args!("{:?}: {} fired after {} ns", r, fired, late_2ms));
    // The same path measured both events, so its latency cancels: the two
    // must differ by exactly the programmed 998 µs.
    let diff = late_3ms.wrapping_sub(late_2ms);
    t.check(
        "oneshot-exact",
        diff.abs_diff(998_000) <= PERIOD_SLACK_NS,
        format_args!("3 ms - 2.002 ms events: {} ns", diff),
    );

    // --- Clamps and Etime -----------------------------------------------
    let start = rig.now();
    let r = ce.program_event(TIM2, 1);
    let (fired, stale, at) = rig.tim2_during(2);
    let ns = at.map(|at| rig.ns(start, at)).unwrap_or(0);
    // QEMU has no one-pulse mode: the event repeats every 2 µs until `ack`
    // stops it, and the repeats collapse into one pending interrupt, which
    // `ack` then reports as stale (silicon stops by itself: no stale one).
    let ok = r == Ok(2_000) && fired == 1 && stale <= 1 && ns >= 2_000;
    t.check("clamp-to-min", ok, format_args!("{:?}: {} fired ({} stale) after {} ns", r, fired, stale, ns));
    let r = ce.program_event(TIM2, i64::MAX);
    t.check("clamp-to-max", r == Ok(4_294_967_295_000), format_args!("{:?}", r));
    let r = (ce.program_event(TIM2, 0), ce.program_event(TIM2, -1_000), ce.program_event(TIM2, i64::MIN));
    let e = Err(ClockEventError::Etime);
    t.check("past-deadline-etime", r == (e, e, e), format_args!("{:?}", r));

    // --- ONESHOT_STOPPED cancels the event ------------------------------
    let r1 = ce.program_event(TIM2, 2_000_000);
    let r2 = (ce.set_state_oneshot_stopped(TIM2), ce.device_state(TIM2));
    let (fired, stale, _) = rig.tim2_during(5);
    let ok = r1 == Ok(2_000_000) && r2 == (Ok(()), Ok(ClockEventState::OneshotStopped)) && fired + stale == 0;
    t.check("oneshot-stopped-cancels", ok, format_args!("{:?} {:?}: {} + {} interrupts", r1, r2, fired, stale));
    let r = ce.program_event(TIM2, 1_000_000);
    t.check("stopped-refuses-program", r == Err(ClockEventError::BadState), format_args!("{:?}", r));
    let r = (ce.set_state_oneshot(TIM2), ce.program_event(TIM2, 1_000_000));
    let (fired, _, _) = rig.tim2_during(3);
    t.check("oneshot-again", r == (Ok(()), Ok(1_000_000)) && fired == 1, format_args!("{:?}: {} fired", r, fired));

    // --- The 64-bit clocksource across a hardware wrap ------------------
    // The 32-bit count wraps every 2^32 ns (4.29 s) on QEMU; 5 s of 500 ms
    // ticks, reading the counter on each, must add up to 5 s.
    let r = ce.set_state_periodic(TIM4, 500_000_000);
    let (first, last) = rig.periods(TIM4, 11);
    let ns = rig.ns(first, last);
    let wrapped = (last >> 32) > (first >> 32);
    let ok = r == Ok(500_000_000) && wrapped && ns.abs_diff(5_000_000_000) <= PERIOD_SLACK_NS;
    t.check("counter-extends-across-wrap", ok, format_args!("{:?}: {:#x} -> {:#x}, {} ns", r, first, last, ns));

    // --- Everything off --------------------------------------------------
    let r = (ce.set_state_shutdown(TIM2), ce.set_state_shutdown(TIM4));
    let s = (ce.device_state(TIM2), ce.device_state(TIM4));
    let ok = r == (Ok(()), Ok(())) && s == (Ok(ClockEventState::Shutdown), Ok(ClockEventState::Shutdown));
    t.check("all-shutdown", ok, format_args!("{:?} {:?}", r, s));

    console_writeln!(console(), "clockevent tests done: {} failed", t.failed);
    kipc::semihost_exit(t.failed)
}
