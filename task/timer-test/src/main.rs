//! QEMU system tests of the timer server (build/apps/test-timer.toml).
//!
//! Roles by cargo feature; each prints `PASS <name>` / `FAIL <name>: why`
//! and the runner ends the QEMU run with its failure count.

#![no_std]
#![no_main]

use drv_console_api::{console_writeln, Console};
use timer_api::client::{Spec, Timers};
use timer_api::Timer;
use userlib::*;

include!(concat!(env!("OUT_DIR"), "/task_config.rs"));

fn console() -> Console {
    Console::from(slots::CONSOLE)
}

struct Tally {
    failed: u32,
}

impl Tally {
    fn check(&mut self, name: &str, ok: bool, detail: core::fmt::Arguments<'_>) {
        if ok {
            console_writeln!(console(), "PASS {}", name);
        } else {
            self.failed += 1;
            console_writeln!(console(), "FAIL {}: {}", name, detail);
        }
    }
}

#[cfg(feature = "basic")]
fn run(t: &mut Tally) {
    let timer = Timer::from(slots::TIMER);
    let hz = timer.hz();
    let j0 = timer.jiffies();
    t.check("hz", hz == 100, format_args!("hz {}", hz));

    // One timer, 5 jiffies out: it must fire exactly at its jiffy.
    let mut set: Timers<4> = Timers::new(slots::TIMER);
    let id = set.setup(Spec::oneshot(notifications::TIMER_BIT as u8)).unwrap_or_else(|_| sys_panic(b"setup"));
    let want = j0 + 5;
    let r = set.add(id, want);
    t.check("add", r.is_ok(), format_args!("{:?}", r));
    sys_recv_notification(notifications::TIMER_MASK);
    let c = set.collect();
    let rec = set.take_fired(id);
    t.check(
        "fires-at-its-jiffy",
        c.is_ok() && rec.is_some_and(|r| r.expires == want && r.fired_at == want),
        format_args!("{:?} {:?}", c, rec),
    );
    let j1 = timer.jiffies();
    t.check("jiffies-advanced", j1 >= want, format_args!("j0 {} j1 {}", j0, j1));
}

#[export_name = "main"]
fn main() -> ! {
    let mut t = Tally { failed: 0 };
    run(&mut t);
    console_writeln!(console(), "timer tests done: {} failed", t.failed);
    kipc::semihost_exit(t.failed)
}
