//! QEMU system tests of the timer server and the clockevent driver.
//!
//! One crate, one role per task, chosen by cargo feature; the images are
//! build/apps/test-timer*.toml. Every check prints `PASS <name>` or
//! `FAIL <name>: why`. Each image has a runner role that collects the
//! other roles' failure counts over IPC (they send it `OP_REPORT`), runs
//! its own checks, and ends the QEMU run with the total.
//!
//! | image                 | roles |
//! |-----------------------|-------|
//! | test-timer            | `basic`, `accuracy` (x3), `moddel`, `runner` (device choice, tickless) |
//! | test-timer-hooks(-oneshot) | `hooks` (runner), `hookpeer`, `hookvictim`, `hookhog` |
//! | test-timer-security   | `secrunner`, `thief`, `victim`, `fuzzer`, `hostile` |
//! | test-timer-restart    | `crasher` (runner), `sleeper`, `ticker`, `hooker`, `hrticker` |
//! | test-timer-client     | `clientrun` (runner), `clientsrv`, `clientpeer` |
//! | test-time-page        | `pagereader` (runner), `pagehostile` |
//! | test-hrtimer          | `hrtest` (alone: hrtimers against the clocksource, across its wrap) |

#![no_std]
#![no_main]

mod common;

#[cfg(feature = "accuracy")]
mod accuracy;
#[cfg(feature = "basic")]
mod basic;
#[cfg(any(feature = "clientrun", feature = "clientsrv", feature = "clientpeer"))]
mod client;
#[cfg(any(feature = "hooks", feature = "hookpeer", feature = "hookvictim"))]
mod hooks;
#[cfg(any(feature = "hookhog", feature = "hooks"))]
mod hog;
#[cfg(feature = "hrtest")]
mod hrtimer;
#[cfg(feature = "moddel")]
mod moddel;
#[cfg(any(feature = "pagereader", feature = "pagehostile"))]
mod page;
#[cfg(any(feature = "crasher", feature = "sleeper", feature = "ticker", feature = "hooker", feature = "hrticker"))]
mod restart;
#[cfg(feature = "runner")]
mod runner;
#[cfg(any(feature = "secrunner", feature = "thief", feature = "victim", feature = "fuzzer", feature = "hostile"))]
mod security;

include!(concat!(env!("OUT_DIR"), "/task_config.rs"));

#[export_name = "main"]
fn main() -> ! {
    #[cfg(feature = "accuracy")]
    accuracy::run();
    #[cfg(feature = "basic")]
    basic::run();
    #[cfg(feature = "moddel")]
    moddel::run();
    #[cfg(feature = "runner")]
    runner::run();
    #[cfg(feature = "hooks")]
    hooks::run_runner();
    #[cfg(feature = "hookpeer")]
    hooks::run_peer();
    #[cfg(feature = "hookvictim")]
    hooks::run_victim();
    #[cfg(feature = "hookhog")]
    hog::run();
    #[cfg(feature = "secrunner")]
    security::run_runner();
    #[cfg(feature = "thief")]
    security::run_thief();
    #[cfg(feature = "victim")]
    security::run_victim();
    #[cfg(feature = "fuzzer")]
    security::run_fuzzer();
    #[cfg(feature = "hostile")]
    security::run_hostile();
    #[cfg(feature = "clientrun")]
    client::run_runner();
    #[cfg(feature = "clientsrv")]
    client::run_server();
    #[cfg(feature = "clientpeer")]
    client::run_peer();
    #[cfg(feature = "pagereader")]
    page::run_reader();
    #[cfg(feature = "pagehostile")]
    page::run_hostile();
    #[cfg(feature = "hrtest")]
    hrtimer::run();
    #[cfg(feature = "crasher")]
    restart::run_crasher();
    #[cfg(feature = "sleeper")]
    restart::run_sleeper();
    #[cfg(feature = "hooker")]
    restart::run_hooker();
    #[cfg(feature = "hrticker")]
    restart::run_hrticker();
    #[cfg(feature = "ticker")]
    restart::run_ticker();
    #[allow(unreachable_code)]
    common::park()
}
