//! QEMU system test of isolation against hostile tasks
//! (build/apps/test-hostile.toml).
//!
//! One crate, one role per task, chosen by cargo feature. The attackers
//! are ordinary unprivileged tasks; each attack must leave the kernel
//! running, the victim's pattern intact and every other task alive:
//!
//! - `victim` holds a 1 KiB pattern and reports how many bytes changed.
//! - `colluder` is a server that rewrites a lease descriptor its client
//!   lent it (through a write lease over the client's lease table) and
//!   then borrows through it; `attacker` is that client, and also lays
//!   the same trap for the stock servers that write into leases (echo's
//!   `fill`, the timer server's `fetch_fired`), and asks the supervisor
//!   for a refill it is not allowed.
//! - `fuzzer` makes 100,000 seeded random syscalls (numbers, pointers
//!   into kernel RAM, other tasks, flash, devices, wrapping ranges).
//! - `misuser` commits every ABI misuse and CPU fault class, one per
//!   incarnation; `overflow` overflows its stack at a syscall.
//! - `crasher` crash-loops while posting refill bits to the supervisor.
//! - `fpwriter` and `fpreader` check that FP registers do not leak.
//! - `runner` (lowest priority) collects every role's verdict, checks the
//!   victim, the restart budget and every task's health, prints the
//!   figures and ends the run.
//!
//! Roles that fault on purpose keep their progress in `.uninit` statics,
//! which survive restarts. Every check prints `PASS <name>` or
//! `FAIL <name>: <why>`; the xtask judges the console and exit status.

#![no_std]
#![no_main]

#[allow(unused_imports)]
use drv_console_api::{console_writeln, Console};
#[allow(unused_imports)]
use userlib::*;

include!(concat!(env!("OUT_DIR"), "/task_config.rs"));

#[allow(dead_code)]
mod proto;
#[allow(unused_imports)]
use proto::*;

#[cfg(feature = "runner")]
#[path = "runner.rs"]
mod role;
#[cfg(feature = "victim")]
#[path = "victim.rs"]
mod role;
#[cfg(any(feature = "colluder", feature = "attacker"))]
#[path = "leases.rs"]
mod role;
#[cfg(feature = "fuzzer")]
#[path = "fuzzer.rs"]
mod role;
#[cfg(any(feature = "misuser", feature = "overflow", feature = "crasher"))]
#[path = "faults.rs"]
mod role;
#[cfg(any(feature = "fpwriter", feature = "fpreader"))]
#[path = "fpu.rs"]
mod role;

#[allow(dead_code)]
fn console() -> Console {
    Console::from(slots::CONSOLE)
}

#[export_name = "main"]
fn main() -> ! {
    role::run()
}
