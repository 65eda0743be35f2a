//! The timer server restarted under its clients: test-timer-restart.
//!
//! The server is built with `test-ops`, so `debug_crash` makes it panic.
//! - `crasher` (priority 4, the runner) waits until jiffy `INITIAL + 55`,
//!   faults the server through `debug_crash` (its call comes back
//!   `ServerDied`), checks that the supervisor restarted it, then collects
//!   the others' reports and checks its own set recovers on its next call.
//! - `sleeper` (priority 5) has six one-shot timers in a `Timers` set, at
//!   +20, +40, +54, +56, +80 and +120; it is blocked waiting when the
//!   server dies, is woken by the kernel (its receive is closed to the
//!   server), re-arms transparently, and must see every expiry exactly once
//!   at its jiffy (the new server resumes the clocksource's time line).
//! - `ticker` (priority 5) runs a `Ticker` every 10 jiffies through the
//!   restart: twelve ticks, each exactly 10 after the previous.
//! - `hooker` (priority 5) holds a tick hook in a `Hooks` set and grabs the
//!   tick (answering "not done" each tick, so jiffies go on); it is
//!   blocked waiting for its hook bit when the server dies. The set must
//!   register the hook again and take the grab back, and the new server's
//!   chain must show it as the grabber, owned by this task.
//! - `hrticker` (priority 5) runs a periodic hrtimer every 4 ms through
//!   the restart (`HrTimer` follows it as `Timers` does): every fetch's
//!   latest expiry must lie on the grid `first + k * period`, k counting
//!   every expiry reported so far, so none is lost or reported twice.

use crate::common::*;
use crate::{notifications, slots};
#[cfg(any(feature = "crasher", feature = "sleeper", feature = "ticker"))]
use timer_api::client::Timers;
#[cfg(any(feature = "crasher", feature = "sleeper"))]
use timer_api::Timer;

/// `INITIAL_JIFFIES` at the server's HZ: the jiffy the image boots at.
#[cfg(any(feature = "crasher", feature = "sleeper"))]
fn initial(timer: &Timer) -> u64 {
    (300u64 * timer.hz() as u64).wrapping_neg() as u32 as u64
}

#[cfg(feature = "crasher")]
pub fn run_crasher() -> ! {
    use timer_api::client::Spec;
    use timer_api::sleep::sleep_until;
    use drv_console_api::console_writeln;
    use timer_api::TimerError;
    use userlib::kipc;

    let mut t = Tally::new();
    let timer = Timer::from(slots::TIMER);
    let base = initial(&timer);
    let mut set: Timers<2> = Timers::new(slots::TIMER);
    let id = set.setup(Spec::oneshot(notifications::TIMER_BIT as u8)).unwrap_or_else(|_| userlib::sys_panic(b"setup"));
    let _ = sleep_until(&mut set, id, base + 55);
    let r = timer.debug_crash();
    let st = kipc::read_task_status(slots::TIMER.index());
    t.check_said(
        "server-crashed",
        r == Err(TimerError::ServerDied) && st.generation == 1,
        format_args!("debug_crash gave {:?}; timer server now generation {}", r, st.generation),
    );
    let failed = collect_reports(4, |m, _| userlib::sys_reply(m.sender, 1, &[]));
    t.failed += failed;
    // Our own set learns of the restart on its next call.
    let j = timer.jiffies();
    let s = sleep_until(&mut set, id, j + 3);
    let j2 = timer.jiffies();
    t.check_said(
        "crasher-recovers",
        s.is_ok() && set.recoveries == 1 && j2 == j + 3,
        format_args!("{} recovery, slept 3 jiffies", set.recoveries),
    );
    console_writeln!(console(), "restart tests done: {} failed", t.failed);
    kipc::semihost_exit(t.failed)
}

#[cfg(feature = "sleeper")]
pub fn run_sleeper() -> ! {
    use timer_api::client::Spec;
    let mut t = Tally::new();
    let timer = Timer::from(slots::TIMER);
    let base = initial(&timer);
    let offsets = [20u64, 40, 54, 56, 80, 120];
    let mut set: Timers<6> = Timers::new(slots::TIMER);
    let bit = notifications::TIMER_BIT as u8;
    let mut ids = [None; 6];
    for (i, off) in offsets.iter().enumerate() {
        let id = set.setup(Spec { token: i as u32, ..Spec::oneshot(bit) }).ok();
        if let Some(id) = id {
            let _ = set.add(id, base + off);
        }
        ids[i] = id;
    }
    let mut fired = [0u64; 6];
    let mut count = [0u32; 6];
    while count.iter().any(|c| *c == 0) {
        if set.wait(notifications::TIMER_MASK).is_err() || set.collect().is_err() {
            break;
        }
        for i in 0..6 {
            if let Some(r) = ids[i].and_then(|id| set.take_fired(id)) {
                fired[i] = r.fired_at;
                count[i] += 1;
            }
        }
    }
    let exact = offsets.iter().zip(fired.iter()).all(|(o, f)| *f == base + o);
    t.check_said(
        "sleeper-no-timer-lost",
        exact && count.iter().all(|c| *c == 1) && set.recoveries == 1,
        format_args!("6 timers (3 due after the crash at +55) each fired once at its jiffy; {} recovery", set.recoveries),
    );
    report(slots::CRASHER, t.failed);
    park()
}

#[cfg(feature = "ticker")]
pub fn run_ticker() -> ! {
    use timer_api::ticker::Ticker;
    let mut t = Tally::new();
    let mut set: Timers<2> = Timers::new(slots::TIMER);
    let tk = Ticker::start(&mut set, notifications::TIMER_BIT as u8, 10);
    let mut ok = tk.is_ok();
    let (mut prev, mut n) = (0u64, 0);
    if let Ok(tk) = tk {
        while n < 12 {
            match tk.wait(&mut set) {
                Ok(r) => {
                    ok &= r.fired_at == r.expires && (n == 0 || r.expires == prev + 10);
                    prev = r.expires;
                    n += 1;
                }
                Err(_) => {
                    ok = false;
                    break;
                }
            }
        }
    }
    t.check_said(
        "ticker-through-restart",
        ok && n == 12 && set.recoveries == 1,
        format_args!("{} ticks, each 10 jiffies after the last, at its jiffy; {} recovery", n, set.recoveries),
    );
    report(slots::CRASHER, t.failed);
    park()
}

#[cfg(feature = "hooker")]
pub fn run_hooker() -> ! {
    use timer_api::hooks::Hooks;
    use timer_api::wire::HOOK_GRABBER;
    let mut t = Tally::new();
    let mut hooks: Hooks<1> = Hooks::new(slots::TIMER);
    let bit = notifications::HOOK_BIT as u8;
    let id = hooks.register(bit, false);
    let grabbed = id.and_then(|id| hooks.grab(id).map(|()| id));
    let (mut before, mut after) = (0u32, 0u32);
    if let Ok(id) = grabbed {
        // Every hook bit is a tick of a live server; answer each so the
        // rest of the chain (jiffies, the wheel) runs.
        while after < 30 {
            if hooks.wait(notifications::HOOK_MASK).is_err() || hooks.answer(id, false).is_err() {
                break;
            }
            if hooks.recoveries == 0 {
                before += 1;
            } else {
                after += 1;
            }
        }
    }
    // The new server's chain: our hook, first, flagged as the grabber.
    let timer = timer_api::Timer::from(slots::TIMER);
    let (entries, n) = chain(&timer);
    let mine = grabbed.and_then(|id| hooks.server_id(id));
    let first = entries[..n].first().copied();
    let restored = match (mine, first) {
        (Ok(h), Some(e)) => e.id == h && e.owner as usize == crate::TASK_INDEX && e.flags & HOOK_GRABBER != 0,
        _ => false,
    };
    let ungrab = grabbed.and_then(|id| hooks.ungrab(id).and_then(|()| hooks.unregister(id)));
    t.check_said(
        "hooks-through-restart",
        before > 0 && after == 30 && hooks.recoveries == 1 && restored && ungrab.is_ok(),
        format_args!(
            "{} hook ticks before the crash, {} after; {} recovery; grab restored: {}",
            before, after, hooks.recoveries, restored
        ),
    );
    report(slots::CRASHER, t.failed);
    park()
}

#[cfg(feature = "hrticker")]
pub fn run_hrticker() -> ! {
    use timer_api::hrtimer::{HrMode, HrTimer};
    use timer_api::time::Duration;
    let mut t = Tally::new();
    let timer = timer_api::Timer::from(slots::TIMER);
    let end = (300u64 * timer.hz() as u64).wrapping_neg() as u32 as u64 + 100;
    let period = Duration::from_millis(4);
    let (mut total, mut on_grid) = (0u64, true);
    let mut off = (0u64, 0u32, 0u64);
    match HrTimer::setup(slots::TIMER, notifications::TIMER_BIT as u8) {
        Ok(mut hr) => {
            let first = hr.start_periodic(period, HrMode::Rel, period).map_or(0, |d| d.as_nanos());
            while timer.jiffies() < end {
                let Ok(f) = hr.wait() else {
                    on_grid = false;
                    break;
                };
                if f.count == 0 {
                    continue;
                }
                total += u64::from(f.count);
                let want = first + (total - 1) * period.as_nanos();
                if on_grid && f.expires != want {
                    off = (total, f.count, f.expires);
                    on_grid = false;
                }
            }
            let _ = hr.cancel();
            t.check_said(
                "hrtimer-through-restart",
                first != 0 && on_grid && total >= 200 && hr.recoveries == 1,
                format_args!(
                    "every 4 ms: each fetch on the grid of the first start: {}; {} recovery{}",
                    on_grid, hr.recoveries, Off(first, off)
                ),
            );
            let _ = hr.free();
        }
        Err(e) => {
            t.check_said("hrtimer-through-restart", false, format_args!("setup: {:?}", e));
        }
    }
    report(slots::CRASHER, t.failed);
    park()
}

/// The first fetch off the grid, for the failure message.
#[cfg(feature = "hrticker")]
#[derive(Clone, Copy)]
struct Off(u64, (u64, u32, u64));

#[cfg(feature = "hrticker")]
impl core::fmt::Display for Off {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let Off(first, (total, count, expires)) = *self;
        if total == 0 {
            return Ok(());
        }
        write!(f, " (off at expiry {}: count {}, latest {} ns, first {} ns)", total, count, expires, first)
    }
}
