//! Tasks that put an image into known, varied states for the inspector's
//! golden tests (build/apps/test-humility.toml, `cargo xtask test`).
//!
//! One crate, one role per task, chosen by cargo feature:
//!
//! - `inspectee` records a known sequence in its ring buffer (more entries
//!   than slots, so the ring wraps, plus a repeated entry), keeps a static
//!   of many shapes for `readvar`, takes the caller's message without
//!   replying, and then waits for its `wake` notification while `poke`
//!   stays pending;
//! - `caller` sends to the inspectee and so waits for a reply forever;
//! - `sender` posts `poke` to the inspectee, then sends to it while the
//!   inspectee only waits for notifications, so the send stays queued;
//! - `crasher` touches the kernel's RAM and is faulted, restarted by the
//!   supervisor until its budget runs out, then stays faulted;
//! - `ticker` arms timers at the timer server (a one-shot far out, a
//!   periodic one, one set up but not armed) and registers a tick hook,
//!   for the `timers` view.
//!
//! When everything has settled, only idle can run: the tests stop QEMU at
//! idle's entry point and dump it. This file's line numbers show up in the
//! expected ring buffer output (build/humility/golden/ringbuf.txt): edit
//! it, and re-bless the golden files.

#![no_std]
#![no_main]

#[allow(unused_imports)]
use userlib::*;

include!(concat!(env!("OUT_DIR"), "/task_config.rs"));

#[cfg(feature = "inspectee")]
mod role {
    use super::*;
    use drv_console_api::{console_writeln, Console};
    use ringbuf::{ringbuf, ringbuf_entry};

    /// What the inspectee traces: unit, tuple and struct variants.
    #[derive(Copy, Clone, PartialEq)]
    enum Trace {
        None,
        Start,
        Count(u32),
        Tick(u8),
        Received { from: TaskId, op: u16, len: u16 },
    }

    ringbuf!(Trace, 8, Trace::None);

    /// A C-like enum and a data enum for `readvar`.
    #[derive(Copy, Clone)]
    #[allow(dead_code)]
    enum Mode {
        Idle,
        Busy { level: u8 },
        Broken(u16),
    }

    #[allow(dead_code)]
    #[derive(Copy, Clone)]
    #[repr(u8)]
    enum Color {
        Red = 1,
        Green = 2,
    }

    /// A static of many shapes, decoded by `readvar INSPECT_STATE`.
    #[allow(dead_code)]
    struct State {
        magic: u32,
        name: &'static str,
        mode: Mode,
        color: Color,
        last: Option<u16>,
        none: Option<u16>,
        table: [i8; 4],
        flag: bool,
    }

    #[used]
    #[no_mangle]
    static INSPECT_STATE: State = State {
        magic: 0xC0FF_EE00,
        name: "inspect-demo",
        mode: Mode::Busy { level: 3 },
        color: Color::Green,
        last: Some(513),
        none: None,
        table: [-1, 0, 1, 127],
        flag: true,
    };

    pub fn run() -> ! {
        // Keep the static (and its fields) in the image.
        let state = unsafe { core::ptr::read_volatile(&raw const INSPECT_STATE) };
        let console = Console::from(slots::CONSOLE);
        console_writeln!(console, "inspect: {} ready, magic {:#x}", state.name, state.magic);
        ringbuf_entry!(Trace::Start);
        for i in 1..=9 {
            ringbuf_entry!(Trace::Count(i));
        }
        for _ in 0..3 {
            ringbuf_entry!(Trace::Tick(7));
        }
        let mut buf = [0u8; 8];
        let m = sys_recv_open(&mut buf, 0);
        ringbuf_entry!(Trace::Received { from: m.sender, op: m.operation as u16, len: m.message_len as u16 });
        // No reply: the caller stays in "reply from inspectee".
        loop {
            sys_recv_notification(notifications::WAKE_MASK);
        }
    }
}

#[cfg(feature = "caller")]
mod role {
    use super::*;

    pub fn run() -> ! {
        let mut reply = [0u8; 4];
        sys_send(slots::INSPECTEE, 1, b"hello", &mut reply, &[]);
        sys_panic(b"the inspectee replied");
    }
}

#[cfg(feature = "sender")]
mod role {
    use super::*;

    pub fn run() -> ! {
        sys_post(slots::INSPECTEE, config::POKE_MASK);
        let mut reply = [0u8; 4];
        sys_send(slots::INSPECTEE, 2, b"queued", &mut reply, &[]);
        sys_panic(b"the inspectee received");
    }
}

#[cfg(feature = "crasher")]
mod role {
    pub fn run() -> ! {
        // Kernel RAM: the MPU refuses it to tasks.
        let v = unsafe { core::ptr::read_volatile(0x2000_0000 as *const u32) };
        userlib::sys_panic(if v == 0 { b"read zero" } else { b"read something" })
    }
}

#[cfg(feature = "ticker")]
mod role {
    use super::*;
    use timer_api::client::{Spec, Timers};
    use timer_api::Timer;

    pub fn run() -> ! {
        let timer = Timer::from(slots::TIMER);
        let now = timer.jiffies();
        let mut set: Timers<4> = Timers::new(slots::TIMER);
        let far = set.setup(Spec::oneshot(notifications::FAR_BIT as u8)).unwrap_or_else(|_| sys_panic(b"setup far"));
        let every = set
            .setup(Spec { period: 50, ..Spec::oneshot(notifications::EVERY_BIT as u8) })
            .unwrap_or_else(|_| sys_panic(b"setup every"));
        let _spare = set.setup(Spec::oneshot(notifications::FAR_BIT as u8)).unwrap_or_else(|_| sys_panic(b"setup spare"));
        if set.add(far, now + 1000).is_err() || set.add(every, now + 50).is_err() {
            sys_panic(b"add");
        }
        if timer.hook_register(notifications::HOOK_BIT as u8, true).is_err() {
            sys_panic(b"hook");
        }
        loop {
            sys_recv_notification(notifications::FAR_MASK);
        }
    }
}

#[export_name = "main"]
fn main() -> ! {
    role::run()
}
