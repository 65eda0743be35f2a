//! Using timers: one short example per common need, with the Linux name
//! it corresponds to. The README's "Using timers" section shows the same
//! code (a host test keeps the two identical); here every example is a
//! doc test, compiled by `cargo test -p timer-api`.
//!
//! In each, `server` is the timer server's `TaskId` (in a task:
//! `slots::TIMER`) and numbers such as `Spec::oneshot(0)` are the task's
//! notification bits (app.toml `notifications`). Times are jiffies unless
//! typed [`Duration`](crate::time::Duration); relative waits last *more
//! than* the jiffies asked (see [`time`](crate::time)).
//!
//! # Sleep (`msleep`, `schedule_timeout`)
//!
//! ```rust,no_run
//! # use timer_api::client::{Spec, Timers};
//! # use timer_api::sleep::{msleep, sleep, sleep_for};
//! # use timer_api::time::Duration;
//! # fn f(server: userlib::TaskId) -> Result<(), timer_api::TimerError> {
//! let mut t: Timers<4> = Timers::new(server);
//! let nap = t.setup(Spec::oneshot(0))?; // its expiry posts bit 0
//! msleep(&mut t, nap, 20)?; // at least 20 ms (msleep)
//! sleep_for(&mut t, nap, 3)?; // more than 3 full jiffies (schedule_timeout)
//! sleep(&mut t, nap, Duration::from_micros(1500))?; // at least 1.5 ms
//! # Ok(()) }
//! ```
//!
//! # Timeout (`wait_event_timeout`)
//!
//! ```rust,no_run
//! # use timer_api::client::{Spec, Timers};
//! # use timer_api::sleep::{wait_event_timeout, with_timeout, Wait};
//! # const IRQ_MASK: u32 = 1 << 5;
//! # fn f(server: userlib::TaskId) -> Result<(), timer_api::TimerError> {
//! # let mut t: Timers<4> = Timers::new(server);
//! # let nap = t.setup(Spec::oneshot(0))?;
//! match wait_event_timeout(&mut t, nap, IRQ_MASK, 10)? {
//!     Wait::Event { bits, remaining } => { /* `bits` came, `remaining` jiffies unused */ }
//!     Wait::Timeout => { /* nothing for more than 10 jiffies */ }
//! }
//! // With a condition: three interrupts, or give up after 50 jiffies.
//! let mut seen = 0;
//! let three = with_timeout(&mut t, nap, IRQ_MASK, 50, |_, _| {
//!     seen += 1;
//!     (seen == 3).then_some(())
//! })?;
//! # let _ = three; Ok(()) }
//! ```
//!
//! # Periodic work (`mod_timer(t, t->expires + period)`)
//!
//! ```rust,no_run
//! # use timer_api::client::Timers;
//! # use timer_api::ticker::Ticker;
//! # fn f(server: userlib::TaskId) -> Result<(), timer_api::TimerError> {
//! # let mut t: Timers<4> = Timers::new(server);
//! let ticker = Ticker::start(&mut t, 1, 100)?; // every 100 jiffies, bit 1
//! for _ in 0..10 {
//!     let tick = ticker.wait(&mut t)?; // tick.expires: when due, no drift
//! }
//! ticker.reset(&mut t)?; // next tick 100 jiffies from now
//! # Ok(()) }
//! ```
//!
//! # Watchdog (`mod_timer(&wd, jiffies + timeout)`)
//!
//! ```rust,no_run
//! # use timer_api::client::Timers;
//! # use timer_api::watchdog::Watchdog;
//! # fn f(server: userlib::TaskId) -> Result<(), timer_api::TimerError> {
//! # let mut t: Timers<4> = Timers::new(server);
//! let dog = Watchdog::start(&mut t, 2, 50)?; // bites 50 jiffies after the last feed
//! dog.feed(&mut t)?; // after each unit of work
//! // When bit 2 arrives:
//! t.collect()?;
//! if dog.bitten(&mut t) { /* the work is stuck */ }
//! # Ok(()) }
//! ```
//!
//! # Tick hook (`register_timer_hook`, before Linux 2.6.36)
//!
//! ```rust,no_run
//! # use timer_api::hooks::Hooks;
//! # fn f(server: userlib::TaskId) -> Result<(), timer_api::TimerError> {
//! let mut hooks: Hooks<1> = Hooks::new(server);
//! let hook = hooks.register(3, false)?; // bit 3 on every tick
//! for _ in 0..100 {
//!     hooks.wait(1 << 3)?; // each tick (no tickless idle meanwhile); re-registers after a server restart
//! }
//! hooks.unregister(hook)?;
//! # Ok(()) }
//! ```
//!
//! # Delayed work (`INIT_DELAYED_WORK`, `queue_delayed_work`, `cancel_delayed_work_sync`, `flush_delayed_work`)
//!
//! ```rust,no_run
//! # use timer_api::client::Timers;
//! # use timer_api::work::{DelayedWork, Requeue};
//! # fn f(server: userlib::TaskId) -> Result<(), timer_api::TimerError> {
//! # let mut t: Timers<4> = Timers::new(server);
//! fn blink(led: &mut bool, due: u64) -> Requeue {
//!     *led = !*led;
//!     Requeue::At(due + 50) // again in 50 jiffies, drift-free
//! }
//! let mut led = false;
//! let mut work = DelayedWork::new(&mut t, 4, blink)?; // bit 4
//! work.queue(&mut t, 50)?;
//! for _ in 0..10 {
//!     t.wait(t.mask(work.id()))?;
//!     t.collect()?;
//!     work.run(&mut t, &mut led)?; // runs it if its timer fired
//! }
//! work.cancel(&mut t)?; // or work.flush(&mut t, &mut led)? to run it now
//! # Ok(()) }
//! ```
//!
//! # Delays for drivers (`udelay`, `msleep`; embedded-hal `DelayNs`)
//!
//! ```rust,no_run
//! # use timer_api::client::{Spec, Timers};
//! # use timer_api::delay::Delay;
//! # use timer_api::hal::{DelayNs, TimerDelay};
//! # fn f(server: userlib::TaskId) -> Result<(), timer_api::TimerError> {
//! # let mut t: Timers<4> = Timers::new(server);
//! # let nap = t.setup(Spec::oneshot(0))?;
//! fn reset_sensor(delay: &mut impl DelayNs) {
//!     delay.delay_us(10); // spun (calibrated udelay)
//!     delay.delay_ms(20); // slept through the timer server
//! }
//! let cal = Delay::calibrate(t.server()); // calibrate_delay, once at start
//! reset_sensor(&mut TimerDelay::new(&mut t, nap, cal));
//! # Ok(()) }
//! ```
//!
//! # Serving IPC while a timer is pending (`add_timer` + the task's own loop)
//!
//! ```rust,no_run
//! # use timer_api::client::{Spec, Timers};
//! # fn f(server: userlib::TaskId) -> Result<(), timer_api::TimerError> {
//! # let mut t: Timers<4> = Timers::new(server);
//! # let mut buf = [0u8; 16];
//! let poll = t.setup(Spec::oneshot(6))?;
//! t.add_after(poll, 20)?; // jiffies + 20, read and armed in one IPC
//! loop {
//!     t.check_server()?; // re-arms the set if the timer server restarted
//!     let m = userlib::sys_recv_open(&mut buf, t.timer_bits());
//!     if !m.is_notification() {
//!         userlib::sys_reply(m.sender, 0, &[]); // serve the request
//!     } else if t.handle_notification(m.operation)? != 0 && t.take_fired(poll).is_some() {
//!         break; // the timer fired
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # High-resolution timers (`hrtimer_start`, `hrtimer_forward`, `hrtimer_cancel`)
//!
//! ```rust,no_run
//! # use timer_api::hrtimer::{HrMode, HrTimer};
//! # use timer_api::time::Duration;
//! # fn f(server: userlib::TaskId) -> Result<(), timer_api::TimerError> {
//! let mut hr = HrTimer::setup(server, 7)?; // its expiries post bit 7; follows server restarts
//! let period = Duration::from_micros(125); // 8 kHz
//! hr.start_periodic(period, HrMode::Rel, period)?;
//! for _ in 0..8000 {
//!     let f = hr.wait()?; // f.count > 1: periods missed (forwarded, not replayed)
//! }
//! hr.start_after(Duration::from_micros(1500))?; // one-shot, replaces the periodic start
//! let left = hr.remaining()?; // Some(ns) while armed (hrtimer_get_remaining)
//! hr.cancel()?; // nothing of this start is reported after it returns
//! # Ok(()) }
//! ```

#[cfg(test)]
mod tests {
    extern crate std;

    /// The ```rust blocks of a README section, or of this file's doc (with
    /// `//! ` stripped and hidden `# ` lines dropped).
    fn blocks(text: &str, from_doc: bool) -> std::vec::Vec<std::string::String> {
        let mut out = std::vec::Vec::new();
        let mut cur: Option<std::string::String> = None;
        for line in text.lines() {
            let l = if from_doc {
                match line.strip_prefix("//! ").or(line.strip_prefix("//!")) {
                    Some(l) => l,
                    None => continue,
                }
            } else {
                line
            };
            if l.starts_with("```rust") {
                cur = Some(std::string::String::new());
            } else if l.starts_with("```") {
                if let Some(b) = cur.take() {
                    out.push(b);
                }
            } else if let Some(b) = cur.as_mut() {
                if from_doc && (l.starts_with("# ") || l == "#") {
                    continue;
                }
                b.push_str(l);
                b.push('\n');
            }
        }
        out
    }

    #[test]
    fn readme_examples_are_the_compiled_ones() {
        let readme = include_str!("../../../README.md");
        let start = readme.find("\n## Using timers").expect("README has a \"Using timers\" section");
        let rest = &readme[start + 1..];
        let end = rest[3..].find("\n## ").map_or(rest.len(), |e| e + 3);
        let section = &rest[..end];
        let shown = blocks(section, false);
        let compiled = blocks(include_str!("guide.rs"), true);
        assert_eq!(shown.len(), compiled.len(), "one README example per doc test");
        for (i, (s, c)) in shown.iter().zip(compiled.iter()).enumerate() {
            assert_eq!(s, c, "README example {} differs from its doc test in guide.rs", i + 1);
        }
    }
}
