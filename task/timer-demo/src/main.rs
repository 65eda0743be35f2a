//! The demo tasks of the default image (`app.toml`): what the timer server
//! gives a task, shown on the console. One crate, one role per task, chosen
//! by cargo feature:
//!
//! - `heartbeat`: a periodic [`Ticker`] at 1 Hz; each beat says how late it
//!   fired (0: the server re-arms at `expires + period`, no drift).
//! - `watchdog`: a worker that feeds a [`Watchdog`] (Linux's `mod_timer`
//!   pattern) after each unit of work; once it stalls on purpose, longer
//!   than the timeout, and the watchdog bites.
//! - `sleeper`: calibrates the busy-wait delay loop at start (Linux's
//!   `calibrate_delay`: loops per jiffy and BogoMIPS), then sleeps with
//!   `msleep` and `sleep_for`, printing jiffies before and after; a
//!   driver-style function generic over embedded-hal's `DelayNs` runs on
//!   [`timer_api::hal::TimerDelay`]; a `udelay` timed in ns by ktime read
//!   from the time page (`timer_api::vdso`, no IPC).
//! - `pcspkr`: a PC-speaker sound driver of the classic kind (the tick
//!   hardware run faster than HZ to play samples): registers a tick hook,
//!   grabs the tick, runs it at 4x HZ and answers "done" on 3 ticks of 4, so
//!   the hardware ticks 4 times per jiffy while jiffies still advance at HZ.
//!   Each beep is then played again the way Linux's pcspkr driver does it
//!   since it moved to an hrtimer: samples from a periodic hrtimer at
//!   8 kHz (`HrTimer::start_periodic`, forwarded by whole periods), with no
//!   hook and no grab, so the tick stays tickless and jiffies untouched.

#![no_std]
#![no_main]

use drv_console_api::{console_writeln, Console};
use timer_api::client::Timers;

include!(concat!(env!("OUT_DIR"), "/task_config.rs"));

fn console() -> Console {
    Console::from(slots::CONSOLE)
}

/// Blocks forever. Inlined, like every role's `run`: a call to a function
/// that never returns, as its caller's last instruction, leaves a return
/// address past the caller's end, where humility cannot unwind (see
/// userlib's `_start`).
#[allow(dead_code)]
#[inline(always)]
fn park() -> ! {
    loop {
        userlib::sys_recv_notification(0);
    }
}

#[cfg(feature = "heartbeat")]
#[inline(always)]
fn run() -> ! {
    use timer_api::ticker::Ticker;
    let mut set: Timers<2> = Timers::new(slots::TIMER);
    let hz = set.server().hz();
    let Ok(tick) = Ticker::start(&mut set, notifications::TIMER_BIT as u8, hz) else { park() };
    let start = set.jiffies();
    for beat in 1.. {
        let Ok(r) = tick.wait(&mut set) else { park() };
        console_writeln!(
            console(),
            "heartbeat: beat {} at jiffies {:#010x} (+{} s), {} late",
            beat,
            r.fired_at as u32,
            (r.expires - start) / hz as u64,
            r.fired_at - r.expires
        );
    }
    park()
}

#[cfg(feature = "watchdog")]
#[inline(always)]
fn run() -> ! {
    use timer_api::sleep::{wait_event_until, Wait};
    use timer_api::client::Spec;
    use timer_api::watchdog::Watchdog;
    const TIMEOUT: u32 = 50;
    let mut set: Timers<2> = Timers::new(slots::TIMER);
    let nap = set.setup(Spec::oneshot(notifications::NAP_BIT as u8)).unwrap_or_else(|_| park());
    let Ok(dog) = Watchdog::start(&mut set, notifications::DOG_BIT as u8, TIMEOUT) else { park() };
    let start = set.jiffies();
    let mut fed = start;
    console_writeln!(console(), "watchdog: armed, bites {} jiffies after the last feed", TIMEOUT);
    for unit in 1..=12u32 {
        // A unit of work takes 20 jiffies; the fifth stalls for 80, longer
        // than the timeout. The watchdog's bit ends the wait early.
        // The unit ends at an absolute jiffy, however often the dog
        // interrupts the wait.
        let work = if unit == 5 { 80 } else { 20 };
        let done = set.jiffies() + work;
        loop {
            let dog_mask = dog.mask(&set);
            match wait_event_until(&mut set, nap, dog_mask, done) {
                Ok(Wait::Event { .. }) => {
                    let _ = set.collect();
                    if dog.bitten(&mut set) {
                        let now = set.jiffies();
                        console_writeln!(
                            console(),
                            "watchdog: BITE at +{}: worker stuck in unit {}, {} jiffies since the last feed",
                            now - start,
                            unit,
                            now - fed
                        );
                    }
                }
                _ => break,
            }
        }
        let was = dog.feed(&mut set);
        fed = set.jiffies();
        if unit <= 2 || unit == 5 || unit == 6 {
            console_writeln!(
                console(),
                "watchdog: worker finished unit {} at +{}, fed the watchdog ({})",
                unit,
                set.jiffies() - start,
                if was == Ok(true) { "was pending" } else { "had bitten: re-armed" }
            );
        }
    }
    console_writeln!(console(), "watchdog: 12 units done, one bite");
    park()
}

#[cfg(feature = "sleeper")]
#[inline(always)]
fn run() -> ! {
    use timer_api::delay::Delay;
    use timer_api::Timer;
    use timer_api::client::Spec;
    use timer_api::hal::TimerDelay;
    use timer_api::sleep::{msleep, sleep_for};
    let timer = Timer::from(slots::TIMER);
    console_writeln!(console(), "sleeper: Calibrating delay loop...");
    let d = Delay::calibrate(&timer);
    let (int, frac) = d.bogomips();
    console_writeln!(console(), "sleeper: {}.{:02} BogoMIPS (lpj={})", int, frac, d.loops_per_jiffy);
    let mut set: Timers<2> = Timers::new(slots::TIMER);
    let id = set.setup(Spec::oneshot(notifications::TIMER_BIT as u8)).unwrap_or_else(|_| park());
    // A driver written against embedded-hal takes any `DelayNs`; this one
    // spins its 10 us reset pulse and sleeps through its 20 ms boot time.
    let j0 = set.jiffies();
    let mut delay = TimerDelay::new(&mut set, id, d);
    sensor_power_up(&mut delay);
    let (spins, sleeps) = (delay.spins, delay.sleeps);
    let j1 = set.jiffies();
    console_writeln!(console(), "sleeper: sensor power-up through DelayNs: {} spun, {} slept, jiffies +{}", spins, sleeps, j1 - j0);
    for round in 0..3 {
        let j0 = set.jiffies();
        let _ = msleep(&mut set, id, 250);
        let j1 = set.jiffies();
        console_writeln!(console(), "sleeper: msleep(250): jiffies {} -> {} (+{})", j0, j1, j1 - j0);
        let _ = sleep_for(&mut set, id, 200 + 100 * round);
        let j2 = set.jiffies();
        console_writeln!(console(), "sleeper: sleep_for({}): jiffies {} -> {} (+{})", 200 + 100 * round, j1, j2, j2 - j1);
    }
    // A busy-wait far below a tick, timed by the jiffies it spans (none).
    let j0 = set.jiffies();
    d.udelay(50);
    let j1 = set.jiffies();
    console_writeln!(console(), "sleeper: udelay(50) spun {} loops, jiffies +{}", (50 * d.loops_per_jiffy as u64 * d.hz as u64).div_ceil(1_000_000), j1 - j0);
    // The same delay timed in ns from the time page (ktime with no IPC:
    // app.toml grants this task the page and the clocksource window).
    let t0 = vdso::ktime_get_ns();
    d.udelay(50);
    let t1 = vdso::ktime_get_ns();
    console_writeln!(console(), "sleeper: udelay(50) took {} ns by ktime from the time page (no IPC)", t1 - t0);
    park()
}

#[cfg(feature = "sleeper")]
timer_api::time_page!(vdso);

/// A sensor driver's power-up as a driver crate writes it: generic over
/// embedded-hal's `DelayNs`, with the datasheet's timings (reset held
/// 10 us, then 20 ms before the part answers).
#[cfg(feature = "sleeper")]
fn sensor_power_up(delay: &mut impl timer_api::hal::DelayNs) {
    delay.delay_us(10);
    delay.delay_ms(20);
}

#[cfg(feature = "pcspkr")]
#[inline(always)]
fn run() -> ! {
    use timer_api::sleep::sleep_until;
    use timer_api::client::Spec;
    use timer_api::Timer;
    use userlib::sys_recv_notification;
    const RATE: u8 = 4;
    let timer = Timer::from(slots::TIMER);
    let mut set: Timers<1> = Timers::new(slots::TIMER);
    let nap = set.setup(Spec::oneshot(notifications::NAP_BIT as u8)).unwrap_or_else(|_| park());
    let hz = timer.hz();
    // Beeps on a fixed schedule, every 2.5 s from the start (2 s of
    // silence, then half a second of sound): absolute deadlines, so the
    // schedule does not drift by the jiffy a relative sleep adds.
    let start = set.jiffies();
    for beep in 1..=3u32 {
        let _ = sleep_until(&mut set, nap, start + (2 * hz + (beep - 1) * (5 * hz / 2)) as u64);
        let Ok(hook) = timer.hook_register(notifications::TICK_BIT as u8, false) else { park() };
        if timer.hook_grab(hook).is_err() || timer.hook_set_rate(hook, RATE).is_err() {
            console_writeln!(console(), "pcspkr: cannot grab the tick");
            park()
        }
        // Half a second of "sound": HZ/2 jiffies of 4 hardware ticks each.
        let j0 = timer.jiffies();
        let mut ticks = 0u32;
        while ticks < RATE as u32 * hz / 2 {
            sys_recv_notification(notifications::TICK_MASK);
            ticks += 1;
            // Done (skip do_timer and the wheel) on 3 ticks of 4.
            let _ = timer.hook_answer(hook, ticks % RATE as u32 != 0);
        }
        let j1 = timer.jiffies();
        let _ = timer.hook_ungrab(hook);
        let _ = timer.hook_unregister(hook);
        console_writeln!(
            console(),
            "pcspkr: beep {}: {} hardware ticks at {}x HZ, jiffies +{} (HZ kept)",
            beep,
            ticks,
            RATE,
            j1 - j0
        );
        // The same half second again, 1 s after this beep began, from a
        // periodic hrtimer.
        let _ = sleep_until(&mut set, nap, start + (3 * hz + (beep - 1) * (5 * hz / 2)) as u64);
        hr_beep(&timer, beep);
    }
    park()
}

/// Half a second of 8 kHz samples driven by a periodic hrtimer.
#[cfg(feature = "pcspkr")]
fn hr_beep(timer: &timer_api::Timer, beep: u32) {
    use timer_api::hrtimer::{HrMode, HrTimer};
    use timer_api::time::Duration;
    const SAMPLE_HZ: u64 = 8_000;
    let Ok(mut hr) = HrTimer::setup(slots::TIMER, notifications::SAMPLE_BIT as u8) else {
        console_writeln!(console(), "pcspkr: no hrtimer");
        return;
    };
    let period = Duration::from_nanos(1_000_000_000 / SAMPLE_HZ);
    let j0 = timer.jiffies();
    let Ok(first) = hr.start_periodic(period, HrMode::Rel, period) else { return };
    let (mut samples, mut missed, mut last) = (0u64, 0u64, first.as_nanos());
    while samples < SAMPLE_HZ / 2 {
        let Ok(f) = hr.wait() else { break };
        // A count above 1 is periods missed (forwarded past, not replayed).
        samples += u64::from(f.count);
        missed += u64::from(f.count.saturating_sub(1));
        last = f.expires;
    }
    let _ = hr.cancel();
    let j1 = timer.jiffies();
    let _ = hr.free();
    console_writeln!(
        console(),
        "pcspkr: beep {} again from a periodic hrtimer: {} samples at {} kHz, the last {} us after the first, {} missed, jiffies +{} (no tick grabbed)",
        beep,
        samples,
        SAMPLE_HZ / 1000,
        (last - first.as_nanos()) / 1000,
        missed,
        j1 - j0
    );
}

#[export_name = "main"]
fn main() -> ! {
    run()
}
