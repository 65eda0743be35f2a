//! Client side of the timer server (`task/timer`, `idl/timer.idol`).
//!
//! - [`Timer`] is the generated IPC client: one method per op.
//! - [`wire`] holds the types that cross IPC ([`Armed`], [`Fetched`],
//!   [`FiredRecord`]) and [`TimerError`].
//! - [`client`] is what most tasks use: a [`client::Timers`] set that keeps
//!   what it asked for, so when the server restarts (every handle then
//!   stale, calls answered `ServerDied`) it sets the timers up again and
//!   re-arms them at their original absolute expiries, and nothing is lost.
//! - [`hooks`] is the same for tick hooks: a [`hooks::Hooks`] set
//!   registers its hooks again (and takes its grab back) on a restarted
//!   server.
//! - [`sleep`] has `sleep_for`, `msleep` and `wait_event_timeout` (the
//!   `schedule_timeout` pattern of LDD3 chapter 6), [`ticker`] a periodic
//!   ticker, [`watchdog`] a watchdog fed with `mod_timer`, and [`delay`]
//!   calibrated busy-waits (`udelay`, `mdelay`) for delays shorter than a
//!   tick.
//!
//! - [`guide`]: one example per common need (sleep, timeout, periodic
//!   work, watchdog, hook, delayed work, driver delays, serving IPC while
//!   a timer is pending), the README's "Using timers", as doc tests.
//! - [`hrtimer`] has [`hrtimer::HrTimer`]: high-resolution timers (ns
//!   expiry, absolute or relative, one-shot or periodic without drift).
//! - [`work`] has delayed work (Linux's `delayed_work`: queue, modify,
//!   cancel, flush, self-rearm) run from the task's own loop.
//! - [`hal`] implements `embedded-hal` 1.0's `DelayNs`: spins for short
//!   delays, sleeps through the server for long ones.
//! - [`time`] has [`time::Duration`] and [`time::Instant`], the
//!   `msecs_to_jiffies` and `time_after` families (the timer core's), and
//!   the rounding of every relative wait: `n` jiffies last more than `n`
//!   full jiffies (deadline `jiffies + n + 1`, Linux's `msleep` rounding),
//!   clamped at `MAX_JIFFY_OFFSET` instead of overflowing.
//! - [`vdso`]: jiffies_64 and ktime read from the timer server's time page
//!   with no IPC (`get_jiffies_64`, `ktime_get`), for tasks app.toml
//!   grants the page and the clocksource window.
//!
//! Times are jiffies (absolute, on the 64-bit line) unless named `_ms`,
//! `_us` or `_ns`, or typed [`time::Duration`].

#![no_std]

pub mod client;
pub mod delay;
pub mod guide;
pub mod hal;
pub mod hooks;
pub mod hrtimer;
pub mod sleep;
mod survive;
pub mod ticker;
pub mod work;
pub mod time;
pub mod vdso;
pub mod watchdog;
pub mod wire;

pub use wire::{Armed, ArmedAt, Fetched, FiredRecord, HookEntry, HrFired, Stats, TimerError};

include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));
