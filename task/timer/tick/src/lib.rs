//! `timer-tick`: what happens between "the tick device fired" and "these
//! tasks get these notification bits", as a library with no syscalls.
//!
//! Why this crate exists: the timer server used to do this inside its IPC
//! loop, with the core calling back into the server and the server posting
//! as it went. Here the path is plain data in, plain data out: a tick (or a
//! grabber's answer, a nohz catch-up, a dead owner's cleanup) changes the
//! state and leaves the notifications to send in a [`Posts`] batch that the
//! caller drains and sends; expiries wait in per-owner [`Fired`] queues
//! until the owner fetches them. The server binary is glue around it, and
//! every step is tested on the host (`cargo test -p timer-tick`).
//!
//! Why not inside `timer-core`: the core is generic (any token, any owner
//! numbering) and benchmarked against peer crates; this crate is the timer
//! server's delivery policy: owners are task indices (`abi::TaskId`),
//! targets are notification bits, records are what `fetch_fired` returns.
//!
//! Modules, in the order a tick passes through them:
//! - [`target`] - what a timer and a hook carry: the task and bit to post
//!   ([`Target`], the hook chain's token) and the client's timer token.
//! - [`path`] - [`TickPath`]: the hook chain with the grab protocol,
//!   `do_timer`, `run_timers` (and `cascade`), dead-owner cleanup.
//! - [`fired`] - [`Fired`]: expiries not yet fetched, one FIFO per owner.
//! - [`posts`] - [`Posts`]: the notifications of one step, one per task.
//! - [`periodic`] - [`TickLine`]: how many jiffies a periodic tick stands
//!   for (lost ticks counted from the clocksource), and the next boundary
//!   of a periodic tick emulated on a oneshot device.
//! - [`hrtimer`] - [`HrTimers`]: high-resolution timers (ns, on the
//!   clocksource's line) beside the wheel, ordered by expiry; their
//!   expiries add to the same [`Posts`].
//!
//! Units: jiffies are absolute points on the 64-bit line ([`Jiffies`]);
//! `ticks` arguments are durations in jiffies.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod fired;
pub mod hrtimer;
pub mod path;
pub mod periodic;
pub mod posts;
pub mod target;

pub use fired::{Fired, Record};
pub use hrtimer::{HrError, HrFired, HrTimers};
pub use path::{Forgotten, TickPath};
pub use periodic::TickLine;
pub use posts::{Post, Posts};
pub use target::{Target, TimerToken};
pub use timer_core::Jiffies;

/// The timer core as the server instantiates it: `POOL` timers carrying a
/// [`TimerToken`], `HOOKS` hooks carrying a [`Target`], up to `OWNERS`
/// owning tasks.
pub type Core<const POOL: usize, const HOOKS: usize, const OWNERS: usize> =
    timer_core::TimerCore<POOL, HOOKS, TimerToken, u16, OWNERS, Target>;
