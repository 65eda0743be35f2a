//! `runner` of test-timer: waits for every other role's report, then,
//! with the system otherwise idle, checks the device choice and tickless
//! idle, and ends the QEMU run with the total failure count.

use crate::common::*;
use crate::{config, notifications, peripherals, slots};
use drv_clockevent_api::{ClockEvent, ClockEventState, FEAT_ONESHOT};
use drv_console_api::console_writeln;
use timer_api::wire::MODE_ONESHOT;
use timer_api::Timer;
use userlib::{kipc, sys_recv_notification};

/// TIM3 as a clock independent of the clockevent driver: QEMU's model
/// counts `1 GHz / (PSC + 1)` into a CNT that never wraps at ARR (see
/// drv/clockevent-stm32/src/tim.rs), so with PSC = 999 it reads whole
/// microseconds of virtual time. Test images run only on QEMU.
struct Tim3(stm32_regs::tim::Tim);

impl Tim3 {
    fn start() -> Tim3 {
        // Safety: TIM3 is in this task's `uses` (the MPU maps it for us
        // alone); only PSC is written, with a value RM0090 allows.
        let tim = unsafe { stm32_regs::tim::Tim::at(peripherals::TIM3_BASE) };
        tim.psc().write(999);
        Tim3(tim)
    }

    fn micros(&self) -> u32 {
        self.0.cnt().read()
    }
}

pub fn run() -> ! {
    let mut t = Tally::new();
    let failed = collect_reports(config::ROLES, |m, _| userlib::sys_reply(m.sender, 1, &[]));
    t.failed += failed;
    let timer = Timer::from(slots::TIMER);

    // Device choice: TIM2 (ONESHOT, rating 300) beats TIM4 (periodic
    // only, rating 100); TIM4 is shut down, TIM2 runs tickless.
    let ce = ClockEvent::from(slots::CLOCKEVENT);
    let (d0, d1) = (ce.describe(0), ce.describe(1));
    let (s0, s1) = (ce.device_state(0), ce.device_state(1));
    let st = timer.stats();
    t.check_said(
        "device-choice",
        matches!(d0, Ok(i) if i.name() == "tim2" && i.rating == 300 && i.has(FEAT_ONESHOT))
            && matches!(d1, Ok(i) if i.name() == "tim4" && i.rating == 100 && !i.has(FEAT_ONESHOT))
            && st.device == 0
            && s0 == Ok(ClockEventState::Oneshot)
            && s1 == Ok(ClockEventState::Shutdown),
        format_args!("server uses device {}; tim2 {:?}, tim4 {:?}", st.device, s0, s1),
    );

    // Tickless: one timer 10 s (1000 jiffies) away and nothing else.
    let cs = ce.clocksource_info();
    let h = timer.setup(notifications::TIMER_BIT as u8, 1, 0, 0, false).unwrap_or(0);
    let clock = Tim3::start();
    let before = timer.stats();
    let j0 = timer.jiffies();
    let us0 = clock.micros();
    let _ = timer.add_timer(h, j0 + 1000);
    sys_recv_notification(notifications::TIMER_MASK);
    let us1 = clock.micros();
    let j1 = timer.jiffies();
    let after = timer.stats();
    let mut rec = None;
    let _ = fetch_all(&timer, |r| rec = Some(r));
    let irqs = after.interrupts.wrapping_sub(before.interrupts);
    // The server sleeps at most max_idle_ns at a time (the clocksource
    // must be read that often), so 10 s take ceil(10 s / max_idle) wakes.
    let want_irqs = 10_000_000_000u64.div_ceil(cs.max_idle_ns) as u32;
    let elapsed_us = us1.wrapping_sub(us0);
    t.check_said(
        "tickless-idle",
        before.mode == MODE_ONESHOT && before.timers_pending == 0 && irqs == want_irqs,
        format_args!("{} timer interrupts for a 10 s sleep (max idle {} ms), not 1000", irqs, cs.max_idle_ns / 1_000_000),
    );
    t.check_said(
        "tickless-exact-wake",
        matches!(rec, Some(r) if r.expires == j0 + 1000 && r.fired_at == j0 + 1000)
            && j1 == j0 + 1000
            && (elapsed_us / 10_000 == 1000 || elapsed_us / 10_000 == 999),
        format_args!("woke at jiffy +{} after {} ms of virtual time", j1.wrapping_sub(j0), elapsed_us / 1000),
    );

    // Nothing faulted along the way.
    let gen = kipc::read_task_status(slots::TIMER.index()).generation;
    t.check("server-never-faulted", gen == 0, format_args!("timer server generation {}", gen));
    console_writeln!(console(), "timer tests done: {} failed", t.failed);
    kipc::semihost_exit(t.failed)
}
