//! `timer-core`: the logic of the Escapement timer server, as a `no_std`,
//! heap-free library that builds and tests on the host. The only `unsafe`
//! is in the in-place constructors (`TimerCore::init_in` and the helpers it
//! calls), which fill large arrays element by element through raw pointers.
//!
//! Why this crate exists: the timer server task wraps it in an IPC loop; all
//! of its behaviour (jiffies, the cascading timer wheel, the tick hook chain)
//! lives here, where it can be property-tested and benchmarked.
//!
//! Modules, named after the Linux concepts they carry:
//! - [`jiffies`] - `jiffies_64`, its 32-bit view, `INITIAL_JIFFIES`,
//!   `time_after` and friends, ms/us/ns conversions at a runtime `HZ`.
//! - [`pool`] - fixed-capacity timer storage, generation-checked
//!   [`TimerHandle`]s, per-owner accounting.
//! - [`wheel`] - tv1..tv5, `internal_add_timer`, `cascade`, `run_timers`,
//!   `next_expiry`, periodic and deferrable timers.
//! - [`slack`] - `apply_slack`.
//! - [`hooks`] - the tick hook chain with grab and `run_always`.
//! - [`tick`] - [`TimerCore`], the tick path tying them together.
//! - [`layout`] - the in-memory layout facts an inspector decodes (level
//!   sizes, pool `meta` bits, the hook chain's "none").
//!
//! Units: every `Jiffies` is an absolute point on the 64-bit jiffies line
//! unless a doc says "duration"; periods and slack are `u32` jiffies.
//! Real-time units appear only in the [`Hz`] conversion functions.
#![no_std]
// Unsafe code is denied everywhere except the `init_in` constructors, which
// build the large pool and wheel arrays in place (for tasks whose stacks
// cannot hold a temporary copy); each carries its own `allow` and Safety.
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod hooks;
pub mod jiffies;
pub mod layout;
pub mod pool;
pub mod slack;
pub mod tick;
pub mod wheel;

pub use hooks::{ChainRun, HookChain, HookError, HookId, HookKind, HookPolicy, HookRole};
pub use jiffies::{
    time_after, time_after64, time_after_eq, time_after_eq64, time_before, time_before64, time_before_eq,
    time_before_eq64, time_in_range, time_in_range64, Hz, Jiffies, MAX_JIFFY_OFFSET,
};
pub use pool::{Generation, LinkIndex, Owner, TimerError, TimerHandle};
pub use slack::{apply_slack, kept_slack, Slack, EXACT_SLACK};
pub use tick::{TickReport, TickVisitor, TimerCore};
pub use wheel::levels::{
    Level, MAX_TIMEOUT, SLOTS, TV1_BASE, TV1_SLOTS, TV2_BASE, TV3_BASE, TV4_BASE, TV5_BASE, TVN_BITS, TVN_SIZE,
    TVR_BITS, TVR_SIZE,
};
pub use wheel::{DueSlot, Expired, RunStats, TimerKind, TimerMut, Wheel};
