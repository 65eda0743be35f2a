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
    loop {
        let m = sys_recv_open(&mut buf, 0);
        sys_reply(m.sender, 0, &[]);
    }
}

#[cfg(feature = "runner")]
mod runner {
    use super::*;
    use drv_console_api::{console_writeln, Console};
    use timer_api::Timer;

    const TIM3: u32 = peripherals::TIM3_BASE;
    const CNT: u32 = 0x24;
    /// Repetitions of each measurement.
    pub const REPS: usize = 1000;

    fn tim3(off: u32, v: u32) {
        // Safety: TIM3 is in this task's `uses`.
        unsafe { core::ptr::write_volatile((TIM3 + off) as *mut u32, v) }
    }

    /// The stopwatch: virtual ns (= instructions) since it started.
    #[inline(always)]
    pub fn now() -> u32 {
        // Safety: TIM3 is in this task's `uses`; reading CNT has no side
        // effects.
        unsafe { core::ptr::read_volatile((TIM3 + CNT) as *const u32) }
    }

    /// Starts TIM3 free-running at the full model clock.
    pub fn start_stopwatch() {
        tim3(0x28, 0); // PSC: no prescaling
        tim3(0x00, 1); // CR1.CEN
        tim3(0x24, 0); // CNT
        tim3(0x2C, 0xFFFF_FFFF); // ARR last
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
        pub samples: [u32; REPS],
    }

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
        let mut b = Bench { console, overhead, samples: [0; REPS] };

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
        for i in 0..REPS {
            let _ = timer.mod_timer(h, far + i as u64);
            let t0 = now();
            let _ = timer.del_timer(h);
            let t1 = now();
            b.samples[i] = t1.wrapping_sub(t0).saturating_sub(b.overhead);
        }
        b.report("del_timer_ipc", REPS);

        console_writeln!(b.console, "BENCH done");
        kipc::semihost_exit(0)
    }
}

#[cfg(feature = "runner")]
#[export_name = "main"]
fn main() -> ! {
    runner::run()
}
