//! QEMU system tests of the OS substrate (build/apps/test-substrate.toml).
//!
//! One crate, several roles, one per task, chosen by cargo feature:
//!
//! - `leasebad`, `malformed` and `intruder` (priority 3) misbehave on
//!   purpose. The kernel faults them, the supervisor restarts them, and
//!   each incarnation (told apart by its generation) tries the next
//!   misdeed, then reports `PASS` once restarted past all of them.
//! - `listener` (priority 3) checks notification delivery.
//! - `runner` (priority 4) runs last: IPC round trips and leases against
//!   the echo server, a post to the listener, the TIM3 interrupt, a server
//!   that dies mid-call, and the isolation sequence against `intruder`. It
//!   then checks every other role's final generation and ends the QEMU run
//!   with status 0 only if everything held.
//!
//! Every check prints `PASS <name>` or `FAIL <name>: <why>`; the xtask
//! judges the console and the exit status.

#![no_std]
#![no_main]

#[allow(unused_imports)]
use drv_console_api::{console_writeln, Console};
use userlib::*;

include!(concat!(env!("OUT_DIR"), "/task_config.rs"));

#[allow(dead_code)]
fn console() -> Console {
    Console::from(slots::CONSOLE)
}

/// This task's current generation (how many times it was restarted).
#[allow(dead_code)]
fn my_generation() -> u8 {
    sys_refresh_task_id(TaskId::for_index_and_gen(TASK_INDEX, Generation::ZERO)).generation().get()
}

/// Blocks forever (a closed receive from the kernel with no bits).
#[allow(dead_code)]
fn park() -> ! {
    loop {
        sys_recv_notification(0);
    }
}

#[cfg(feature = "leasebad")]
mod role {
    use super::*;
    use echo_api::{Echo, EchoOperation};

    /// gen 0: lends memory it does not own (the kernel's RAM) in a send to
    /// the echo server: the kernel must fault us at the send, before the
    /// server sees anything. gen 1: the server still answers.
    pub fn run() -> ! {
        let echo = Echo::from(slots::ECHO);
        if my_generation() == 0 {
            let bad = Lease::raw(LEASE_READ, 0x2000_0000, 64);
            let mut reply = [0u8; 4];
            sys_send(slots::ECHO, EchoOperation::Sum as u16, &[], &mut reply, &[bad]);
            console_writeln!(console(), "FAIL lease-refused: a foreign lease was accepted");
        } else {
            match echo.echo(11) {
                Ok(11) => console_writeln!(console(), "PASS lease-refused: faulted at send, server alive"),
                r => console_writeln!(console(), "FAIL lease-refused: echo after restart gave {:?}", r),
            }
        }
        park()
    }
}

#[cfg(feature = "malformed")]
mod role {
    use super::*;
    use echo_api::{Echo, EchoOperation};

    /// One malformed message per incarnation; each must get us reply-faulted
    /// by the echo server. The last incarnation checks the server serves.
    pub fn run() -> ! {
        let mut reply = [0u8; 8];
        let mut buf = [0u8; 8];
        match my_generation() {
            0 => {
                sys_send(slots::ECHO, 0x77, &[], &mut reply, &[]);
            }
            1 => {
                // `echo` takes a u32; send 3 bytes.
                sys_send(slots::ECHO, EchoOperation::Echo as u16, &[1, 2, 3], &mut reply, &[]);
            }
            2 => {
                // `sum` takes one lease; send none.
                sys_send(slots::ECHO, EchoOperation::Sum as u16, &[], &mut reply, &[]);
            }
            3 => {
                // `sum` with two leases.
                let (a, b) = buf.split_at_mut(4);
                sys_send(slots::ECHO, EchoOperation::Sum as u16, &[], &mut reply, &[Lease::read_only(a), Lease::read_only(b)]);
            }
            _ => {
                match Echo::from(slots::ECHO).echo(0x5EED) {
                    Ok(0x5EED) => console_writeln!(console(), "PASS malformed: 4 bad messages refused, server serving"),
                    r => console_writeln!(console(), "FAIL malformed: echo gave {:?}", r),
                }
                park()
            }
        }
        console_writeln!(console(), "FAIL malformed: gen {} was answered", my_generation());
        park()
    }
}

#[cfg(feature = "listener")]
mod role {
    use super::*;

    /// Waits in an open receive for messages or its `wake-a`/`wake-b`
    /// bits. A notification is remembered; any message is answered with
    /// the bits of the last notification (4 bytes, little-endian), which is
    /// how the runner checks what the post delivered.
    ///
    /// Answers go out with `sys_reply_recv_open`, so this role also checks
    /// the combined reply-and-receive syscall.
    pub fn run() -> ! {
        const MASK: u32 = notifications::WAKE_A_MASK | notifications::WAKE_B_MASK;
        let mut last: u32 = 0;
        let mut m = sys_recv_open(&mut [], MASK);
        loop {
            m = if m.is_notification() {
                last = m.operation;
                sys_recv_open(&mut [], MASK)
            } else {
                sys_reply_recv_open(m.sender, 0, &last.to_le_bytes(), &mut [], MASK)
            };
        }
    }
}

#[cfg(feature = "intruder")]
mod role {
    use super::*;

    /// A tiny server. Op 1 = "read this address" (u32), op 2 = "touch
    /// TIM4" (a peripheral we do not `use`), op 3 = "ping" (replies with
    /// our generation). The runner drives it; the two faulting ops never
    /// reply, and the runner sees dead codes.
    pub fn run() -> ! {
        let mut buf = [0u8; 4];
        loop {
            let m = sys_recv_open(&mut buf, 0);
            match m.operation {
                1 => {
                    let addr = u32::from_le_bytes(buf);
                    // Safety: this is the point of the test: the read is
                    // outside our regions and the MPU must stop it.
                    let v = unsafe { core::ptr::read_volatile(addr as *const u32) };
                    sys_reply(m.sender, 0, &v.to_le_bytes());
                }
                2 => {
                    // Safety: as above, TIM4 (0x4000_0800, its CR1) is not
                    // ours.
                    let v = unsafe { core::ptr::read_volatile(stm32_regs::tim::TIM4 as *const u32) };
                    sys_reply(m.sender, 0, &v.to_le_bytes());
                }
                _ => sys_reply(m.sender, 0, &[my_generation()]),
            }
        }
    }
}

#[cfg(feature = "runner")]
mod role {
    use super::*;
    use echo_api::{Echo, EchoError};
    use stm32_regs::tim::{cr1, dier, sr, Tim};

    /// RAM of ours (an atomic lives in .data, not flash) the intruder is
    /// asked to read.
    static SECRET: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0xC0FFEE);

    struct Tally {
        failed: u32,
    }

    impl Tally {
        fn check(&mut self, name: &str, ok: bool, detail: core::fmt::Arguments<'_>) {
            if ok {
                console_writeln!(console(), "PASS {}", name);
            } else {
                self.failed += 1;
                console_writeln!(console(), "FAIL {}: {}", name, detail);
            }
        }
    }

    pub fn run() -> ! {
        let mut t = Tally { failed: 0 };
        let echo = Echo::from(slots::ECHO);

        let r = echo.echo(0xABCD_1234);
        t.check("ipc-roundtrip", r == Ok(0xABCD_1234), format_args!("{:?}", r));

        let data: [u8; 100] = core::array::from_fn(|i| i as u8);
        let r = echo.sum(&data);
        t.check("lease-read", r == 4950, format_args!("sum = {}", r));

        let mut out = [0u8; 40];
        let r = echo.fill(0x5A, &mut out);
        t.check("lease-write", r == 40 && out.iter().all(|&b| b == 0x5A), format_args!("n = {}, {:?}", r, &out[..4]));

        let r = echo.divide(7, 0);
        t.check("error-reply", r == Err(EchoError::DivideByZero), format_args!("{:?}", r));

        // Notifications: post a bit to the listener, which waits in recv for
        // bits 0 and 1 (and outranks us, so it runs at once); bit 2 is not in
        // its mask and must stay pending. Then ask it what it received.
        let rc = sys_post(slots::LISTENER, 1 << 1 | 1 << 2);
        let mut got = [0u8; 4];
        let (qrc, n) = sys_send(slots::LISTENER, 1, &[], &mut got, &[]);
        let got = u32::from_le_bytes(got);
        let pending = kipc::read_task_status(slots::LISTENER.index()).pending;
        t.check(
            "post-wakes-recv",
            rc == 0 && qrc == 0 && n == 4 && got == 1 << 1 && pending == 1 << 2,
            format_args!("rc {} got {:#x} pending {:#x}", rc, got, pending),
        );

        // IRQ: TIM3 update interrupts reach us as the `tim3` notification.
        t.check("irq-notification", tim3_irqs(3, false), format_args!("no TIM3 interrupt"));
        // The same, re-enabling the IRQ in the receive that waits for it.
        t.check("irq-rearmed-by-recv", tim3_irqs(3, true), format_args!("no TIM3 interrupt"));
        // A request latched while the IRQ was masked and acknowledged at the
        // device before the unmask is stale: the unmask must not deliver it.
        let (flagged, stale, real) = tim3_stale_pend();
        t.check(
            "irq-no-stale-delivery",
            flagged && !stale && real,
            format_args!("update while masked: {}, stale request delivered at unmask: {}, real interrupt after: {}", flagged, stale, real),
        );

        // Restart: a call pending when the server dies gets the dead code
        // (mapped to ServerDied); the next call, with the id refreshed by
        // the client stub, succeeds.
        let r = echo.crash();
        t.check("server-death-seen", r == Err(EchoError::ServerDied), format_args!("{:?}", r));
        let r = echo.echo(77);
        t.check("call-after-restart", r == Ok(77), format_args!("{:?}", r));

        // Isolation: the intruder reads our RAM, then a peripheral it does
        // not use; each time the kernel faults it, the supervisor restarts
        // it, and our pending call gets a dead code.
        let mut intruder = slots::INTRUDER;
        let mut reply = [0u8; 4];
        let addr = (&raw const SECRET) as u32;
        let (rc, _) = sys_send(intruder, 1, &addr.to_le_bytes(), &mut reply, &[]);
        t.check("isolation-ram", extract_new_generation(rc) == Some(Generation::new(1)), format_args!("rc {:#x}", rc));
        intruder = sys_refresh_task_id(intruder);
        let (rc, _) = sys_send(intruder, 2, &[0; 4], &mut reply, &[]);
        t.check("isolation-peripheral", extract_new_generation(rc) == Some(Generation::new(2)), format_args!("rc {:#x}", rc));
        let (rc, n) = sys_send(intruder, 2, &[0; 4], &mut reply, &[]);
        t.check("stale-id-refused", extract_new_generation(rc) == Some(Generation::new(2)) && n == 0, format_args!("rc {:#x}", rc));
        intruder = sys_refresh_task_id(intruder);
        let (rc, n) = sys_send(intruder, 3, &[0; 4], &mut reply, &[]);
        t.check("restarted-task-serves", rc == 0 && n == 1 && reply[0] == 2, format_args!("rc {:#x} n {} gen {}", rc, n, reply[0]));

        // The misbehaving roles ran before us (they outrank us); each must
        // have been restarted exactly as often as it misbehaved and be
        // waiting again, and the echo server must have survived all of it
        // (it died once, on purpose, through `crash`).
        for (name, slot, want) in [("leasebad", slots::LEASEBAD, 1u8), ("malformed", slots::MALFORMED, 4), ("echo", slots::ECHO, 1)] {
            let st = kipc::read_task_status(slot.index());
            let ok = st.generation == want && st.state == state_code::IN_RECV;
            t.check(name, ok, format_args!("gen {} state {}", st.generation, st.state));
        }

        console_writeln!(console(), "substrate tests done: {} failed", t.failed);
        kipc::semihost_exit(t.failed)
    }

    // Safety: TIM3 is in our `uses` (the MPU maps it for us alone); the
    // tests write only the values below, which RM0090 allows.
    const TIM3: Tim = unsafe { Tim::at(peripherals::TIM3_BASE) };

    /// Leaves a TIM3 update request pending in the NVIC while the IRQ is
    /// masked, acknowledges it at the timer (UIF cleared, as a driver does),
    /// then unmasks. Returns (whether the update happened while masked,
    /// whether the stale request was delivered after the unmask, whether a
    /// real interrupt still arrives afterwards).
    ///
    /// On silicon the masked, still-asserted level latches pending; in QEMU
    /// the timer's pulse does. Either way the NVIC holds a request the
    /// device no longer makes, and `irq_enable` must drop it.
    fn tim3_stale_pend() -> (bool, bool, bool) {
        let pending = || kipc::read_task_status(TASK_INDEX as usize).pending & notifications::TIM3_MASK != 0;
        sys_irq_control(notifications::TIM3_MASK, false);
        TIM3.psc().write(999);
        TIM3.dier().write(dier::UIE);
        TIM3.cr1().write(cr1::CEN);
        TIM3.arr().write(100); // QEMU arms the timer on this write
        // Wait for the update while masked: it sets UIF and raises the IRQ,
        // which the NVIC latches as pending.
        let mut spins = 0u32;
        while TIM3.sr().read() & sr::UIF == 0 && spins < 50_000_000 {
            spins += 1;
        }
        let flagged = TIM3.sr().read() & sr::UIF != 0;
        TIM3.cr1().write(0); // stop the counter
        TIM3.sr().write(0); // the driver's acknowledge: UIF cleared, line low
        let before = pending();
        sys_irq_control(notifications::TIM3_MASK, true);
        // Any interrupt taken at the unmask has been delivered by the time
        // the syscall returns; wait a little more all the same.
        for _ in 0..2000 {
            core::hint::spin_loop();
        }
        let stale = before || pending();
        // The line still works: a real update is delivered.
        TIM3.cr1().write(cr1::CEN);
        TIM3.arr().write(100);
        let got = sys_recv_notification(notifications::TIM3_MASK);
        TIM3.cr1().write(0);
        TIM3.sr().write(0);
        sys_irq_control(notifications::TIM3_MASK, false);
        (flagged, stale, got == notifications::TIM3_MASK)
    }

    /// Runs TIM3 at 1 kHz and waits for `n` update interrupts, re-enabling
    /// the IRQ after each with `irq_control`, or (`in_recv`) by naming it
    /// in the next receive.
    fn tim3_irqs(n: u32, in_recv: bool) -> bool {
        // 1 MHz count (QEMU's model counts at 1 GHz; on silicon the APB1
        // timer clock would give a different rate, which does not matter for
        // this test), update every 1000 counts, interrupt on update.
        TIM3.psc().write(999);
        TIM3.dier().write(dier::UIE);
        TIM3.cr1().write(cr1::CEN);
        TIM3.cnt().write(0); // starting by writing CNT avoids QEMU's start skew
        TIM3.arr().write(1000); // last (QEMU arms the timer on this write)
        sys_irq_control(notifications::TIM3_MASK, true);
        let mut rearm = 0;
        for _ in 0..n {
            let got = if rearm != 0 {
                let m = sys_irq_enable_recv_open(rearm, &mut [], notifications::TIM3_MASK);
                if !m.is_notification() {
                    return false;
                }
                m.operation
            } else {
                sys_recv_notification(notifications::TIM3_MASK)
            };
            if got != notifications::TIM3_MASK {
                return false;
            }
            TIM3.sr().write(0); // clear UIF
            if in_recv {
                rearm = notifications::TIM3_MASK;
            } else {
                sys_irq_control(notifications::TIM3_MASK, true);
            }
        }
        TIM3.cr1().write(0);
        sys_irq_control(notifications::TIM3_MASK, false);
        true
    }
}

#[export_name = "main"]
fn main() -> ! {
    role::run()
}
