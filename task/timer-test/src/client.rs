//! The timer client library (task/timer-api) on target:
//! test-timer-client.
//!
//! - `clientrun` (priority 4, the runner): sleeps and waits measured
//!   against the clocksource (the server's `ktime_get`, TIM5 at 1 MHz)
//!   under icount: each relative wait is started at three phases of a
//!   jiffy (0.1, 5 and 9.5 ms after its start) and must last at least what
//!   it asked and at most one jiffy more; a huge timeout must not wrap
//!   into the past. `TimerDelay` (embedded-hal's `DelayNs`) spins short
//!   delays and sleeps long ones, each at least as long as asked, and
//!   `Instant`/`Duration` deadlines hold; `Ticker::reset` restarts the
//!   schedule; `with_timeout` ends on its condition or its timeout. It
//!   delayed work queues, refuses a re-queue, self-rearms drift-free,
//!   cancels and flushes. A slacked timer fires at the jiffy Linux's
//!   rounding picks (explicit and default slack), and a deferrable one
//!   waits for a normal timer to wake the idle system. It
//!   collects the other roles' reports first, so that its timings run
//!   alone.
//! - `clientsrv` (priority 5) keeps serving IPC in its own open receive
//!   while a timer is pending (the timer bit in its notification mask,
//!   `Timers::handle_notification`), and checks the timer fired at its
//!   jiffy in the middle of the requests.
//! - `clientpeer` (priority 6) sends `clientsrv` a request every 2 jiffies.

#[cfg(feature = "clientrun")]
pub use runner_role::run_runner;

#[cfg(feature = "clientrun")]
mod runner_role {
    use crate::common::*;
    use crate::{config, notifications, slots};
    use drv_console_api::console_writeln;
    use timer_api::client::{Id, Spec, Timers};
    use timer_api::delay::Delay;
    use timer_api::hal::{DelayNs, TimerDelay};
    use timer_api::sleep::{msleep, sleep, sleep_for, sleep_until, wait_event_timeout, Wait};
    use timer_api::time::{time_after64, Duration, MAX_JIFFY_OFFSET};
    use timer_api::work::{DelayedWork, Requeue};
    use timer_api::Timer;
    use userlib::kipc;

    /// The runner's timer set.
    type Set = Timers<4>;

    /// Nanoseconds of one jiffy at the image's HZ (100).
    const JIFFY_NS: u64 = 10_000_000;
    /// Allowance for the IPC around a measured wait (reading the clocksource,
    /// arming, collecting): far below a jiffy, far above the few microseconds
    /// it takes under icount.
    const SLOP_NS: u64 = 300_000;

    fn ktime(timer: &Timer) -> u64 {
        timer.ktime_get().unwrap_or(0)
    }

    /// Waits for a jiffy to start, then spins until `phase_ns` into it.
    fn at_phase(timer: &Timer, phase_ns: u64) {
        let j0 = timer.jiffies();
        while timer.jiffies() == j0 {}
        let k = ktime(timer);
        while ktime(timer) < k + phase_ns {}
    }

    /// One relative wait: what it is, the least it must last, the most
    /// (ns), and the call.
    struct Case {
        name: &'static str,
        min_ns: u64,
        max_ns: u64,
        run: fn(&mut Set, Id) -> bool,
    }

    const CASES: &[Case] = &[
        Case { name: "sleep_for(1)", min_ns: JIFFY_NS, max_ns: 2 * JIFFY_NS, run: |t, id| sleep_for(t, id, 1).is_ok() },
        Case { name: "sleep_for(3)", min_ns: 3 * JIFFY_NS, max_ns: 4 * JIFFY_NS, run: |t, id| sleep_for(t, id, 3).is_ok() },
        Case { name: "msleep(10)", min_ns: 10_000_000, max_ns: 2 * JIFFY_NS, run: |t, id| msleep(t, id, 10).is_ok() },
        Case { name: "msleep(25)", min_ns: 25_000_000, max_ns: 4 * JIFFY_NS, run: |t, id| msleep(t, id, 25).is_ok() },
        Case {
            name: "sleep(15 ms)",
            min_ns: 15_000_000,
            max_ns: 3 * JIFFY_NS,
            run: |t, id| sleep(t, id, Duration::from_micros(15_000)).is_ok(),
        },
        Case {
            name: "wait_event_timeout(2)",
            min_ns: 2 * JIFFY_NS,
            max_ns: 3 * JIFFY_NS,
            run: |t, id| matches!(wait_event_timeout(t, id, notifications::EVENT_MASK, 2), Ok(Wait::Timeout)),
        },
    ];

    pub fn run_runner() -> ! {
        let mut t = Tally::new();
        // The other roles first; then this role's timing checks run alone.
        t.failed += collect_reports(config::ROLES, |m, _| userlib::sys_reply(m.sender, 1, &[]));
        let timer = Timer::from(slots::TIMER);
        let mut set: Set = Timers::new(slots::TIMER);
        let nap = set.setup(Spec::oneshot(notifications::TIMER_BIT as u8)).unwrap_or_else(|_| userlib::sys_panic(b"setup"));
        let event = set.setup(Spec::oneshot(notifications::EVENT_BIT as u8)).unwrap_or_else(|_| userlib::sys_panic(b"setup"));

        // Item 1: relative waits never end early, at any phase of the jiffy.
        let mut shortest_margin = u64::MAX;
        let mut bad = 0;
        for case in CASES {
            for phase in [100_000u64, 5_000_000, 9_500_000] {
                at_phase(&timer, phase);
                let k0 = ktime(&timer);
                let ok = (case.run)(&mut set, nap);
                let took = ktime(&timer) - k0;
                let good = ok && took >= case.min_ns && took <= case.max_ns + SLOP_NS;
                if !good {
                    bad += 1;
                    console_writeln!(console(), "  {} at phase {} us took {} us (want {}..={} us)", case.name, phase / 1000, took / 1000, case.min_ns / 1000, (case.max_ns + SLOP_NS) / 1000);
                }
                shortest_margin = shortest_margin.min(took.saturating_sub(case.min_ns));
            }
        }
        t.check_said(
            "waits-never-early",
            bad == 0,
            format_args!("{} waits x 3 phases: {} out of bounds; least margin over the asked time {} us", CASES.len(), bad, shortest_margin / 1000),
        );

        // A huge timeout saturates at MAX_JIFFY_OFFSET instead of wrapping into
        // the past (which would end the wait at the next tick, as a timeout).
        let j0 = set.jiffies();
        let _ = set.add(event, j0 + 5);
        let w = wait_event_timeout(&mut set, nap, notifications::EVENT_MASK, u64::MAX);
        let j1 = set.jiffies();
        let _ = set.collect();
        let fired = set.take_fired(event);
        t.check_said(
            "huge-timeout-saturates",
            matches!(w, Ok(Wait::Event { bits, remaining }) if bits == notifications::EVENT_MASK && remaining > MAX_JIFFY_OFFSET - 10)
                && j1 == j0 + 5
                && fired.is_some(),
            format_args!("wait_event_timeout(u64::MAX) ended by the event after {} jiffies, not by the timer", j1 - j0),
        );

        delay_checks(&mut t, &timer, &mut set, nap);
        attribute_checks(&mut t, &mut set);

        ticker_and_timeout_checks(&mut t, &mut set, nap, event);
        work_checks(&mut t, &mut set);

        console_writeln!(console(), "client tests done: {} failed", t.failed);
        kipc::semihost_exit(t.failed)
    }

    /// Waits for timer `id` of `set` alone and returns its record.
    fn wait_fired(set: &mut Set, id: Id) -> Option<timer_api::FiredRecord> {
        let mask = set.mask(id);
        loop {
            set.wait(mask).ok()?;
            set.collect().ok()?;
            if let Some(r) = set.take_fired(id) {
                return Some(r);
            }
        }
    }

    /// Slack and deferrable timers on target: what the server does with a
    /// timer's attributes, seen from the client.
    fn attribute_checks(t: &mut Tally, set: &mut Set) {
        use timer_api::time::{apply_slack, Jiffies, Slack};
        let bit = notifications::TIMER_BIT as u8;
        // Slack 16: due at ...33 of a 64-jiffy block, it may fire up to
        // 16 late, and Linux's rounding picks ...48 (most trailing zeros).
        let j0 = set.jiffies();
        let asked = ((j0 + 100) & !63) + 33;
        let want = apply_slack(Jiffies(asked), Jiffies(j0), Slack::Jiffies(16)).0;
        let a = set.setup(Spec { slack: 16, ..Spec::oneshot(bit) });
        let r = a.ok().and_then(|a| set.add(a, asked).ok().and_then(|()| wait_fired(set, a)));
        let fixed = r.is_some_and(|r| r.expires == want && r.fired_at == want && want == asked + 15);
        // Linux's default slack: 0.4 % of the time left (1100 jiffies: 4).
        let j1 = set.jiffies();
        let asked1 = j1 + 1100;
        let want1 = apply_slack(Jiffies(asked1), Jiffies(j1), Slack::Default).0;
        let _ = a.map(|a| set.free(a));
        let b = set.setup(Spec { slack: -1, ..Spec::oneshot(bit) });
        let r1 = b.ok().and_then(|b| set.add(b, asked1).ok().and_then(|()| wait_fired(set, b)));
        let default = r1.is_some_and(|r| r.expires == want1 && r.fired_at == want1 && want1 >= asked1 && want1 <= asked1 + 4);
        let _ = b.map(|b| set.free(b));
        t.check_said(
            "slack-rounds",
            fixed && default,
            format_args!(
                "slack 16 moved +{} to +{}; default slack moved +1100 to +{}; each fired at that jiffy",
                asked - j0,
                r.map_or(0, |r| r.expires - j0),
                r1.map_or(0, |r| r.expires - j1)
            ),
        );

        // Attributes changed after setup, and the expiry asked back.
        let a = set.setup(Spec::oneshot(bit));
        let (mut attrs_ok, mut said) = (a.is_ok(), [0u64; 4]);
        if let Ok(a) = a {
            // Any slack is taken: 5,000 jiffies keeps 4,992 (six significant
            // bits, rounded down), and the expiry is `apply_slack` with that.
            let j = set.jiffies();
            let asked = j + 40;
            let big = set.set_slack(a, 5000).is_ok() && set.add(a, asked).is_ok();
            let kept = Slack::Jiffies(timer_api::time::kept_slack(5000));
            let rounded = set.expires(a) == Ok(Some(apply_slack(Jiffies(asked), Jiffies(j), kept).0));
            let _ = set.del(a);
            let huge = set.setup(Spec { slack: i32::MAX, ..Spec::oneshot(bit) }).map(|h| set.free(h)).is_ok_and(|r| r.is_ok());
            let slack_ok = big && rounded && huge && set.set_slack(a, 0).is_ok();
            // mod_timer_pending on an idle timer leaves it idle.
            let idle = set.modify_pending(a, j + 40) == Ok(false) && set.pending(a) == Ok(false) && set.expires(a) == Ok(None);
            let _ = set.add(a, j + 40);
            let e0 = set.expires(a);
            let moved = set.modify_pending(a, j + 50) == Ok(true) && set.expires(a) == Ok(Some(j + 50));
            let rem = set.remaining(a).ok().flatten().unwrap_or(0);
            // Periodic from its next expiry on: +50, +55, +60, then one-shot again.
            let _ = set.set_period(a, 5);
            let mut fires = [0u64; 3];
            for f in fires.iter_mut() {
                *f = wait_fired(set, a).map_or(0, |r| r.fired_at - j);
            }
            let _ = set.set_period(a, 0);
            let stops = wait_fired(set, a).map(|r| r.fired_at - j) == Some(65) && set.pending(a) == Ok(false);
            attrs_ok = slack_ok && idle && e0 == Ok(Some(j + 40)) && moved && rem <= 50 && rem >= 48 && fires == [50, 55, 60] && stops;
            said = [fires[0], fires[1], fires[2], rem];
            let _ = set.free(a);
        }
        t.check_said(
            "timer-attributes",
            attrs_ok,
            format_args!(
                "slack 5000 kept as {} (expiry = apply_slack), i32::MAX taken; mod_timer_pending left an idle timer idle, moved a pending one +40 -> +50 ({} left); period 5 from then: +{}, +{}, +{}, then one-shot again",
                timer_api::time::kept_slack(5000), said[3], said[0], said[1], said[2]
            ),
        );

        // A deferrable timer never wakes the system from tickless idle: due
        // at +5, it waits for the normal timer at +30 to wake the CPU.
        let d = set.setup(Spec { deferrable: true, ..Spec::oneshot(bit) });
        let n = set.setup(Spec::oneshot(notifications::EVENT_BIT as u8));
        let j2 = set.jiffies();
        let (woke, normal) = match (d, n) {
            (Ok(d), Ok(n)) => {
                let _ = set.add(d, j2 + 5);
                let _ = set.add(n, j2 + 30);
                let rd = wait_fired(set, d);
                let woke = set.jiffies();
                let rn = wait_fired(set, n);
                (rd.map(|_| woke - j2), rn.map(|r| r.fired_at - j2))
            }
            _ => (None, None),
        };
        let _ = d.map(|d| set.free(d));
        let _ = n.map(|n| set.free(n));
        t.check_said(
            "deferrable-waits",
            woke == Some(30) && normal == Some(30),
            format_args!("deferrable due at +5 delivered at +{}, with the normal timer at +{}", woke.unwrap_or(0), normal.unwrap_or(0)),
        );
    }

    /// A driver's power-up sequence as driver crates write it, generic over
    /// the delay: reset pulse, then the part's boot time.
    fn power_up(delay: &mut impl DelayNs) {
        delay.delay_us(100);
        delay.delay_ms(30);
    }

    fn delay_checks(t: &mut Tally, timer: &Timer, set: &mut Set, nap: Id) {
        let cal = Delay::calibrate(timer);
        let hz = set.hz();
        let mut d = TimerDelay::new(set, nap, cal);
        // Each: asked (ns), the most it may take (ns), spun or slept.
        let mut worst = 0u64;
        let mut bad = 0;
        let mut one = |d: &mut TimerDelay<'_, 4>, asked: u64, most: u64, f: &dyn Fn(&mut TimerDelay<'_, 4>)| {
            let k0 = ktime(timer);
            f(d);
            let took = ktime(timer) - k0;
            if took < asked || took > most + SLOP_NS {
                bad += 1;
                console_writeln!(console(), "  delay of {} us took {} us (most {} us)", asked / 1000, took / 1000, most / 1000);
            }
            worst = worst.max((took - asked.min(took)) * 1000 / asked.max(1));
        };
        one(&mut d, 100_000, 102_000, &|d| d.delay_us(100));
        one(&mut d, 3_000_000, 3_060_000, &|d| d.delay_us(3_000));
        one(&mut d, 5_000_000, 5_100_000, &|d| d.delay_ns(5_000_000));
        one(&mut d, 30_000_000, 30_000_000 + 2 * JIFFY_NS, &|d| d.delay_ms(30));
        one(&mut d, 30_100_000, 30_100_000 + 2 * JIFFY_NS, &|d| power_up(d));
        let (spins, sleeps) = (d.spins, d.sleeps);
        t.check_said(
            "delayns-at-least",
            bad == 0 && spins == 4 && sleeps == 2,
            format_args!("DelayNs: 5 delays (100 us, 3 ms, 5 ms spun; 30 ms and a driver's 100 us + 30 ms slept): {} short or long; {} spins, {} sleeps", bad, spins, sleeps),
        );

        // Deadlines with units: 25 ms from now, as an Instant.
        let k0 = ktime(timer);
        let now = set.now();
        let deadline = now.deadline_in(Duration::from_millis(25), hz);
        let ok = sleep_until(set, nap, deadline.jiffies()).is_ok();
        let took = ktime(timer) - k0;
        let after = set.now();
        t.check_said(
            "instant-deadline",
            ok && took >= 25_000_000 && after.is_after_eq(deadline) && time_after64(after.jiffies(), now.jiffies()),
            format_args!("deadline_in(25 ms) at HZ {} is {} jiffies ahead; slept at least 25 ms", hz.get(), deadline.jiffies_since(now)),
        );
    }

    fn ticker_and_timeout_checks(t: &mut Tally, set: &mut Set, nap: Id, event: Id) {
        use timer_api::sleep::with_timeout;
        use timer_api::ticker::Ticker;

        // Ticker::reset: two ticks of 10, then 4 jiffies in, a reset: the next
        // tick is 10 after the reset (not 6), and the schedule goes on from it.
        let Ok(tk) = Ticker::start(set, notifications::TICK_BIT as u8, 10) else {
            t.check("ticker-reset", false, format_args!("start"));
            return;
        };
        let a = tk.wait(set).map(|r| r.expires).unwrap_or(0);
        let b = tk.wait(set).map(|r| r.expires).unwrap_or(0);
        let _ = sleep_until(set, nap, b + 4);
        let at = set.jiffies();
        let r = tk.reset(set);
        let c = tk.wait(set).map(|r| (r.expires, r.fired_at)).unwrap_or((0, 0));
        let d = tk.wait(set).map(|r| r.expires).unwrap_or(0);
        t.check_said(
            "ticker-reset",
            r.is_ok() && b == a + 10 && at == b + 4 && c == (at + 10, at + 10) && d == c.0 + 10,
            format_args!("ticks at +0, +10; reset at +{}; next ticks at +{}, +{}", at - a, c.0 - a, d - a),
        );
        let _ = set.del(tk.id());
        let _ = set.free(tk.id());

        // with_timeout: the condition is "the event timer fired twice"; a
        // periodic event timer every 3 jiffies meets it at the second expiry,
        // well inside 20 jiffies. With a timeout of 2 it gives up first.
        let ev_spec = Spec { period: 3, ..Spec::oneshot(notifications::EVENT_BIT as u8) };
        let _ = set.free(event);
        let Ok(ev) = set.setup(ev_spec) else {
            t.check("with-timeout", false, format_args!("setup"));
            return;
        };
        let j0 = set.jiffies();
        let _ = set.add(ev, j0 + 3);
        let mut seen = 0u32;
        let got = with_timeout(set, nap, notifications::EVENT_MASK, 20, |s, _| {
            let _ = s.collect();
            if s.take_fired(ev).is_some() {
                seen += 1;
            }
            (seen == 2).then(|| s.jiffies())
        });
        let done_at = matches!(got, Ok(Some(_))).then(|| set.jiffies() - j0);
        let j1 = set.jiffies();
        let mut seen2 = 0u32;
        let gave_up = with_timeout(set, nap, notifications::EVENT_MASK, 2, |s, _| {
            let _ = s.collect();
            seen2 += s.take_fired(ev).is_some() as u32;
            None::<()>
        });
        let j2 = set.jiffies();
        let _ = set.del(ev);
        t.check_said(
            "with-timeout",
            matches!(got, Ok(Some(at)) if at == j0 + 6) && done_at == Some(6) && gave_up == Ok(None) && j2 - j1 == 3,
            format_args!("condition met at +{} (2 events of a 3-jiffy timer, timeout 20); timeout 2 with the condition never met gave up after {} jiffies", done_at.unwrap_or(0), j2 - j1),
        );
    }

    /// Delayed work's context: the jiffies each run was due.
    struct WorkLog {
        due: [u64; 8],
        n: usize,
        again: u32,
    }

    fn periodic_work(l: &mut WorkLog, due: u64) -> Requeue {
        if l.n < l.due.len() {
            l.due[l.n] = due;
        }
        l.n += 1;
        if l.again == 0 {
            return Requeue::Done;
        }
        l.again -= 1;
        Requeue::At(due + 5)
    }

    fn never_runs(l: &mut WorkLog, _due: u64) -> Requeue {
        l.again = 99;
        Requeue::Done
    }

    fn flushed(l: &mut WorkLog, _due: u64) -> Requeue {
        l.n += 100;
        Requeue::Done
    }

    fn work_checks(t: &mut Tally, set: &mut Set) {
        // Free every timer but the nap one: three work items share the event bit.
        for i in 1..4 {
            let _ = set.free(Id(i));
        }
        let bit = notifications::EVENT_BIT as u8;
        let (Ok(mut tick), Ok(mut cancelled), Ok(mut flush)) = (
            DelayedWork::new(set, bit, periodic_work),
            DelayedWork::new(set, bit, never_runs),
            DelayedWork::new(set, bit, flushed),
        ) else {
            t.check("delayed-work", false, format_args!("setup"));
            return;
        };
        let mut log = WorkLog { due: [0; 8], n: 0, again: 3 };
        let j0 = set.jiffies();
        let q = (tick.queue(set, 2), tick.queue(set, 50), cancelled.queue(set, 4), flush.queue(set, 100));
        let c = cancelled.cancel(set);
        let f = flush.flush(set, &mut log);
        let flushed_now = log.n == 100;
        log.n = 0;
        // The task's loop: wait for the bit, collect, run whatever is due.
        let mut early = 0;
        let mut ran_at = [0u64; 4];
        while tick.pending() {
            if set.wait(notifications::EVENT_MASK).is_err() || set.collect().is_err() {
                break;
            }
            let now = set.jiffies();
            for w in [&mut tick, &mut cancelled, &mut flush] {
                let due = w.due();
                if w.run(set, &mut log) == Ok(true) {
                    early += due.is_some_and(|d| now < d) as u32;
                }
            }
            if log.n >= 1 && log.n <= 4 {
                ran_at[log.n - 1] = now - j0;
            }
        }
        let _ = set.jiffies();
        let rel = |i: usize| log.due[i].wrapping_sub(j0);
        t.check_said(
            "delayed-work",
            matches!(q, (Ok(true), Ok(false), Ok(true), Ok(true)))
                && c == Ok(true)
                && f == Ok(true)
                && flushed_now
                && log.n == 4
                && (rel(0), rel(1), rel(2), rel(3)) == (3, 8, 13, 18)
                && ran_at == [3, 8, 13, 18]
                && early == 0
                && cancelled.runs == 0
                && log.again == 0
                && flush.runs == 1,
            format_args!(
                "queued +2 (re-queue refused), self-rearmed at +{}, +{}, +{}, +{}; cancelled one never ran; flushed one ran at once",
                rel(0),
                rel(1),
                rel(2),
                rel(3)
            ),
        );
    }
}

/// `clientpeer`'s request to `clientsrv`: reply = the server's jiffies.
#[cfg(any(feature = "clientsrv", feature = "clientpeer"))]
const OP_PING: u16 = 7;
/// `clientpeer` is finished.
#[cfg(any(feature = "clientsrv", feature = "clientpeer"))]
const OP_DONE: u16 = 8;

#[cfg(feature = "clientsrv")]
pub fn run_server() -> ! {
    use crate::common::*;
    use crate::{notifications, slots};
    use timer_api::client::{Spec, Timers};
    use userlib::{sys_recv_open, sys_reply};
    let mut t = Tally::new();
    let mut set: Timers<1> = Timers::new(slots::TIMER);
    let id = set.setup(Spec::oneshot(notifications::TIMER_BIT as u8)).unwrap_or_else(|_| userlib::sys_panic(b"setup"));
    let j0 = set.jiffies();
    let due = j0 + 20;
    let _ = set.add(id, due);
    let (mut served, mut before_fire, mut fired, mut other) = (0u32, 0u32, None, 0u32);
    let mut buf = [0u8; 4];
    loop {
        let _ = set.check_server();
        let m = sys_recv_open(&mut buf, set.timer_bits());
        if m.is_notification() {
            match set.handle_notification(m.operation) {
                Ok(bits) if bits != 0 => {
                    if let Some(r) = set.take_fired(id) {
                        fired = Some(r);
                        before_fire = served;
                    }
                }
                _ => other += 1,
            }
            continue;
        }
        if m.operation == OP_DONE as u32 {
            sys_reply(m.sender, 0, &[]);
            break;
        }
        if m.operation != OP_PING as u32 {
            sys_reply(m.sender, 1, &[]);
            continue;
        }
        served += 1;
        let j = set.jiffies();
        sys_reply(m.sender, 0, &(j as u32).to_le_bytes());
    }
    t.check_said(
        "serve-while-pending",
        matches!(fired, Some(r) if r.expires == due && r.fired_at == due) && served == 15 && before_fire >= 5 && before_fire < 15 && other == 0,
        format_args!("served {} requests in its own receive loop, {} before its timer fired at its jiffy (+20)", served, before_fire),
    );
    report(slots::CLIENTRUN, t.failed);
    park()
}

#[cfg(feature = "clientpeer")]
pub fn run_peer() -> ! {
    use crate::common::*;
    use crate::{notifications, slots};
    use timer_api::client::{Spec, Timers};
    use timer_api::sleep::sleep_for;
    use userlib::sys_send;
    let mut set: Timers<1> = Timers::new(slots::TIMER);
    let id = set.setup(Spec::oneshot(notifications::TIMER_BIT as u8)).unwrap_or_else(|_| userlib::sys_panic(b"setup"));
    for _ in 0..15 {
        let mut reply = [0u8; 4];
        let _ = sys_send(slots::CLIENTSRV, OP_PING, &[], &mut reply, &[]);
        let _ = sleep_for(&mut set, id, 1);
    }
    let _ = sys_send(slots::CLIENTSRV, OP_DONE, &[], &mut [], &[]);
    park()
}
