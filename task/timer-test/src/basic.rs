//! `basic`: HZ, and one timer through the client library firing at its
//! jiffy.

use crate::common::*;
use crate::{notifications, slots};
use timer_api::client::{Spec, Timers};
use timer_api::Timer;
use userlib::sys_recv_notification;

pub fn run() -> ! {
    let mut t = Tally::new();
    let timer = Timer::from(slots::TIMER);
    let hz = timer.hz();
    let j0 = timer.jiffies();
    t.check("hz", hz == 100, format_args!("hz {}", hz));

    // One timer, 5 jiffies out: it must fire exactly at its jiffy.
    let mut set: Timers<4> = Timers::new(slots::TIMER);
    let id = set.setup(Spec::oneshot(notifications::TIMER_BIT as u8)).unwrap_or_else(|_| userlib::sys_panic(b"setup"));
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
    let _ = set.free(id);
    report(slots::RUNNER, t.failed);
    park()
}
