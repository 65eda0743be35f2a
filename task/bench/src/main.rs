//! On-target benchmarks, run by `cargo xtask bench` under QEMU with
//! `-icount shift=0,sleep=off`, where one instruction is one virtual
//! nanosecond.
//!
//! The stopwatch is TIM3 counting the 1 GHz model clock with no prescaler:
//! one count per virtual ns, i.e. per instruction, read with a single load.
//! Every figure is the difference of two reads minus the cost of the reads
//! themselves (measured first), so it is an instruction count of the code
//! between them, identical run to run.
//!
//! Roles (cargo features): `null` is an IPC server that replies at once;
//! `runner` measures and prints `BENCH <name> median=<n> max=<n> n=<reps>`
//! lines, which the xtask turns into a table and JSON.

#![no_std]
#![no_main]

use userlib::*;

include!(concat!(env!("OUT_DIR"), "/task_config.rs"));

#[cfg(feature = "null")]
#[export_name = "main"]
fn main() -> ! {
    let mut buf = [0u8; 4];
    let mut m = sys_recv_open(&mut buf, 0);
    loop {
        // Answer and wait for the next message in one syscall.
        m = sys_reply_recv_open(m.sender, 0, &[], &mut buf, 0);
    }
}

#[cfg(feature = "runner")]
mod runner {
    use super::*;
    use drv_console_api::{console_writeln, Console};
    use timer_api::Timer;

    use stm32_regs::tim::{cr1, Tim};

    // The time page app.toml grants the runner (bench.toml's [shared.time-page]).
    timer_api::time_page!(vdso);

    // Safety: TIM3 is in this task's `uses` (the MPU maps it for us
    // alone); the stopwatch writes only the values in `start_stopwatch`.
    const TIM3: Tim = unsafe { Tim::at(peripherals::TIM3_BASE) };
    /// Repetitions of each measurement.
    pub const REPS: usize = 1000;

    /// The stopwatch: virtual ns (= instructions) since it started.
    #[inline(always)]
    pub fn now() -> u32 {
        TIM3.cnt().read()
    }

    /// Starts TIM3 free-running at the full model clock.
    pub fn start_stopwatch() {
        TIM3.psc().write(0); // no prescaling
        TIM3.cr1().write(cr1::CEN);
        TIM3.cnt().write(0);
        TIM3.arr().write(0xFFFF_FFFF); // last: QEMU arms the timer on it
    }

    /// Median and maximum of `samples` (sorted in place).
    pub fn stats(samples: &mut [u32]) -> (u32, u32) {
        samples.sort_unstable();
        (samples[samples.len() / 2], samples[samples.len() - 1])
    }

    pub struct Bench {
        pub console: Console,
        /// Cost of two back-to-back stopwatch reads.
        pub overhead: u32,
        pub samples: &'static mut [u32; REPS],
    }

    /// Sample storage (kept off the stack).
    static mut SAMPLES: [u32; REPS] = [0; REPS];
    /// Handles of the "many pending timers" figure (kept off the stack).
    static mut HANDLES: [u64; PENDING] = [0; PENDING];

    impl Bench {
        /// Times `f` `REPS` times and prints the figure.
        pub fn run(&mut self, name: &str, mut f: impl FnMut()) {
            for i in 0..REPS {
                let t0 = now();
                f();
                let t1 = now();
                self.samples[i] = t1.wrapping_sub(t0).saturating_sub(self.overhead);
            }
            self.report(name, REPS);
        }

        /// Prints the first `n` samples' median and max.
        pub fn report(&mut self, name: &str, n: usize) {
            let (med, max) = stats(&mut self.samples[..n]);
            console_writeln!(self.console, "BENCH {} median={} max={} n={}", name, med, max, n);
        }
    }

    pub fn run() -> ! {
        start_stopwatch();
        let console = Console::from(slots::CONSOLE);
        let mut overhead = u32::MAX;
        for _ in 0..16 {
            let a = now();
            let b = now();
            overhead = overhead.min(b.wrapping_sub(a));
        }
        // Safety: the only references ever made to SAMPLES; `run` runs once.
        let samples = unsafe { &mut *(&raw mut SAMPLES) };
        let mut b = Bench { console, overhead, samples };

        // Null IPC round trip: send (no data) -> recv -> reply -> back.
        b.run("ipc_null_roundtrip", || {
            sys_send(slots::NULL, 0, &[], &mut [], &[]);
        });

        // Timer ops through IPC, as a client sees them.
        let timer = Timer::from(slots::TIMER);
        let h = timer.setup(0, 0, 0, 0, false).unwrap_or_else(|_| sys_panic(b"setup"));
        let far = timer.jiffies() + 100_000;
        let mut k = 0u64;
        for i in 0..REPS {
            let t0 = now();
            let _ = timer.add_timer(h, far + i as u64);
            let t1 = now();
            b.samples[i] = t1.wrapping_sub(t0).saturating_sub(b.overhead);
            let _ = timer.del_timer(h);
        }
        b.report("add_timer_ipc", REPS);
        let _ = timer.add_timer(h, far);
        b.run("mod_timer_ipc", || {
            k += 1;
            let _ = timer.mod_timer(h, far + k);
        });
        // The same, moving the timer to another wheel bucket each time
        // (100,000 and 150,000 jiffies ahead are different tv3 buckets):
        // the unlink and re-file that a move within one bucket avoids.
        b.run("mod_timer_ipc_other_bucket", || {
            k += 1;
            let _ = timer.mod_timer(h, far + (k & 1) * 50_000 + k);
        });
        for i in 0..REPS {
            let _ = timer.mod_timer(h, far + i as u64);
            let t0 = now();
            let _ = timer.del_timer(h);
            let t1 = now();
            b.samples[i] = t1.wrapping_sub(t0).saturating_sub(b.overhead);
        }
        b.report("del_timer_ipc", REPS);

        let _ = timer.del_timer(h);

        // Reading time: through the server (one IPC; in tickless mode the
        // server also asks the clockevent driver for the counter) and from
        // the time page (no syscall: a few loads under the page's sequence,
        // the counter, a divide or a multiply).
        b.run("jiffies_read_ipc", || {
            core::hint::black_box(timer.jiffies());
        });
        b.run("jiffies_read_time_page", || {
            core::hint::black_box(vdso::get_jiffies_64());
        });
        b.run("ktime_read_ipc", || {
            let _ = core::hint::black_box(timer.ktime_get());
        });
        b.run("ktime_read_time_page", || {
            core::hint::black_box(vdso::ktime_get_ns());
        });

        let stats = timer.stats();
        if stats.mode == timer_api::wire::MODE_PERIODIC {
            periodic_figures(&mut b, &timer);
        } else {
            tickless_figures(&mut b, &timer);
        }

        console_writeln!(b.console, "BENCH done");
        kipc::semihost_exit(0)
    }

    /// Instructions the spin loop of [`gaps`] takes per turn when nothing
    /// interrupts it.
    fn spin_turn() -> u32 {
        let mut best = u32::MAX;
        let mut last = now();
        for _ in 0..64 {
            let t = now();
            best = best.min(t.wrapping_sub(last));
            last = t;
        }
        best
    }

    /// Spins reading the stopwatch and records the first `n` gaps longer
    /// than `threshold`: each is the time from the interrupt that took the
    /// CPU away to this task running again (it is the lowest-priority busy
    /// task, so "back to idle"), minus one loop turn.
    fn gaps(b: &mut Bench, n: usize, threshold: u32) {
        let turn = spin_turn();
        let mut k = 0;
        let mut last = now();
        while k < n {
            let t = now();
            let d = t.wrapping_sub(last);
            if d > threshold {
                b.samples[k] = d - turn;
                k += 1;
            }
            last = t;
        }
    }

    /// Gaps longer than this are interrupts, not loop turns.
    const GAP: u32 = 150;

    /// Periodic mode (nohz off): the cost of a tick from IRQ entry until
    /// the CPU is back, with no timers, many pending timers, 8 hooks, and on
    /// cascade ticks; and expiry latency.
    fn periodic_figures(b: &mut Bench, timer: &Timer) {
        gaps(b, REPS, GAP);
        b.report("tick_periodic_0_timers", REPS);

        // Many pending timers, all far beyond tv1 (no cascade within the
        // run: tv3 turns over every 16384 ticks).
        // Safety: the only reference ever made to HANDLES.
        let handles = unsafe { &mut *(&raw mut HANDLES) };
        let far = timer.jiffies() + 100_000;
        for (i, h) in handles.iter_mut().enumerate() {
            *h = timer.setup(1, 0, 0, 0, false).unwrap_or_else(|_| sys_panic(b"setup"));
            let _ = timer.add_timer(*h, far + i as u64);
        }
        gaps(b, REPS, GAP);
        b.report("tick_periodic_pending_timers", REPS);

        // Cascade: move the timers into the next two tv2 slots (260 to 740
        // jiffies out), so the next tv1 wraps (every 256 ticks) refile them
        // into tv1: the max over 600 ticks is a cascade tick.
        let base = timer.jiffies() + 260;
        for (i, h) in handles.iter().enumerate() {
            let _ = timer.mod_timer(*h, base + (i as u64 % 480));
        }
        gaps(b, 600, GAP);
        let (_, cascade_max) = stats(&mut b.samples[..600]);
        console_writeln!(b.console, "BENCH tick_cascade median={} max={} n=600", cascade_max, cascade_max);
        for h in handles.iter() {
            let _ = timer.free(*h);
        }

        // Expiry latency: arm for the next jiffy; the gap is IRQ entry to
        // this task running with its notification pending.
        let h = timer.setup(notifications::TIMER_BIT as u8, 0, 0, 0, false).unwrap_or_else(|_| sys_panic(b"setup"));
        for i in 0..REPS {
            let _ = timer.add_timer(h, timer.jiffies() + 1);
            gaps_one(b, i);
            sys_recv_notification(notifications::TIMER_MASK);
            let mut buf = [0u8; 32];
            let _ = timer.fetch_fired(&mut buf);
        }
        b.report("expiry_latency", REPS);
        let _ = timer.free(h);

        // 8 hooks (the runner owns them; it never waits for their bits).
        let mut hooks = [0u16; 8];
        for (i, hk) in hooks.iter_mut().enumerate() {
            *hk = timer.hook_register(8 + i as u8, false).unwrap_or_else(|_| sys_panic(b"hook"));
        }
        gaps(b, REPS, GAP);
        b.report("tick_periodic_8_hooks", REPS);
        for hk in hooks {
            let _ = timer.hook_unregister(hk);
        }
    }

    /// One gap, into sample `i`.
    fn gaps_one(b: &mut Bench, i: usize) {
        let turn = spin_turn();
        let mut last = now();
        loop {
            let t = now();
            let d = t.wrapping_sub(last);
            if d > GAP {
                b.samples[i] = d - turn;
                return;
            }
            last = t;
        }
    }

    /// hrtimers (tickless mode): `hrtimer_start` through IPC (relative,
    /// 1 s ahead: the max is the start that reprograms the device); expiry
    /// latency, IRQ entry to this task running with its bit pending (armed
    /// 300 us ahead, spinning meanwhile); and accuracy: ktime read after
    /// the wake minus the due time, in ns (= instructions under icount;
    /// includes the `ktime_get` IPC), with the count of early expiries.
    fn hrtimer_figures(b: &mut Bench, timer: &Timer) {
        let bit = notifications::TIMER_BIT as u8;
        let hr = timer.hrtimer_setup(bit).unwrap_or_else(|_| sys_panic(b"hrtimer_setup"));
        b.run("hrtimer_start_ipc", || {
            let _ = timer.hrtimer_start(hr, 1_000_000_000, 0, true);
        });
        let _ = timer.hrtimer_cancel(hr);
        for i in 0..REPS {
            let _ = timer.hrtimer_start(hr, 300_000, 0, true);
            gaps_one(b, i);
            sys_recv_notification(notifications::TIMER_MASK);
            let _ = timer.hrtimer_fetch(hr);
        }
        b.report("hrtimer_expiry_latency", REPS);
        let mut early = 0;
        for i in 0..REPS {
            let due = timer.hrtimer_start(hr, 300_000 + i as u64 * 7, 0, true).unwrap_or(0);
            sys_recv_notification(notifications::TIMER_MASK);
            let woke = timer.ktime_get().unwrap_or(0);
            let _ = timer.hrtimer_fetch(hr);
            early += (woke < due) as u32;
            b.samples[i] = woke.saturating_sub(due) as u32;
        }
        b.report("hrtimer_lateness_ns", REPS);
        console_writeln!(b.console, "BENCH hrtimer_early median={} max={} n={}", early, early, REPS);
        let _ = timer.hrtimer_free(hr);
    }

    /// Tickless mode: interrupts during 10 s of idle with one far timer;
    /// the add that reprograms the event; expiry latency.
    fn tickless_figures(b: &mut Bench, timer: &Timer) {
        hrtimer_figures(b, timer);
        let hz = timer.hz() as u64;
        let far = timer.setup(1, 0, 0, 0, false).unwrap_or_else(|_| sys_panic(b"setup"));
        let _ = timer.add_timer(far, timer.jiffies() + 60 * hz);
        let wake = timer.setup(notifications::TIMER_BIT as u8, 0, 0, 0, false).unwrap_or_else(|_| sys_panic(b"setup"));
        let before = timer.stats().interrupts;
        let _ = timer.add_timer(wake, timer.jiffies() + 10 * hz);
        sys_recv_notification(notifications::TIMER_MASK);
        let irqs = timer.stats().interrupts.wrapping_sub(before);
        console_writeln!(b.console, "BENCH tickless_irqs_10s_idle median={} max={} n=1", irqs, irqs);
        let mut buf = [0u8; 32];
        let _ = timer.fetch_fired(&mut buf);

        // add_timer that becomes the next event, every time: each expiry
        // is one jiffy earlier than the last (the far timer stays behind
        // them all, and del_timer leaves the programmed event alone), so
        // each add reprograms the device through the clockevent driver.
        let h = timer.setup(1, 0, 0, 0, false).unwrap_or_else(|_| sys_panic(b"setup"));
        let base = timer.jiffies() + 5 * hz;
        for i in 0..REPS {
            let t0 = now();
            let _ = timer.add_timer(h, base - i as u64);
            let t1 = now();
            b.samples[i] = t1.wrapping_sub(t0).saturating_sub(b.overhead);
            let _ = timer.del_timer(h);
        }
        b.report("add_timer_ipc_reprogram", REPS);
        let _ = timer.free(h);

        // Expiry latency in tickless mode: arm for the next jiffy (the add
        // programs the event); the gap is IRQ entry to this task running,
        // which includes catching jiffies up and programming the next
        // event (the far timer) before the server waits again.
        for i in 0..REPS {
            let _ = timer.add_timer(wake, timer.jiffies() + 1);
            gaps_one(b, i);
            sys_recv_notification(notifications::TIMER_MASK);
            let mut buf = [0u8; 32];
            let _ = timer.fetch_fired(&mut buf);
        }
        b.report("expiry_latency_tickless", REPS);
    }

    /// Pending timers for the "many timers" tick figure.
    const PENDING: usize = config::PENDING as usize;
}

#[cfg(feature = "runner")]
#[export_name = "main"]
fn main() -> ! {
    runner::run()
}
