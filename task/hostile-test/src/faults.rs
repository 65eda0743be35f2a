//! Faults on purpose: every way a task can misuse the ABI or make the CPU
//! fault, a stack overflow at a syscall, and a crash loop against the
//! restart budget. Each must stop only the task that did it.
//!
//! - `misuser`: one misdeed per incarnation (progress in `.uninit`): each
//!   `UsageError` the kernel raises, then each CPU fault an unprivileged
//!   task can cause. The kernel's report of each is checked on the
//!   console by the xtask.
//! - `overflow`: its stack pointer just above the bottom of its stack,
//!   then `svc`: the exception frame cannot be stacked (MSTKERR), with
//!   the SVCall left pending; then plain Rust recursion that makes a
//!   syscall at every level.
//! - `crasher`: faults at once, every incarnation, after posting every
//!   notification bit to the supervisor ten times; the supervisor must
//!   stop restarting it at the budget (3) anyway.

use super::*;

#[cfg(any(feature = "misuser", feature = "overflow", feature = "crasher"))]
#[link_section = ".uninit"]
static mut KEPT: [u32; 2] = [0; 2];

/// Misdeeds, in order; the name is printed before each.
#[cfg(feature = "misuser")]
const MISDEEDS: [&str; 20] = [
    "bad syscall number",
    "send buffer in kernel RAM",
    "post to task 1000",
    "lease over kernel RAM",
    "irq_control of no IRQ",
    "unknown kernel op",
    "send to a lower-priority task",
    "reply_fault with an undefined reason",
    "recv buffer in its own flash",
    "write to its own flash",
    "execute from RAM (XN)",
    "undefined instruction",
    "branch to ARM state",
    "divide by zero",
    "unaligned load-multiple",
    "write to the NVIC (privileged)",
    "write to the SCB (privileged)",
    "breakpoint with no debugger",
    "semihosting call from a task",
    "panic",
];

#[cfg(feature = "misuser")]
pub fn run() -> ! {
    let kept = Kept(&raw mut KEPT).open();
    let n = kept.bump(1) as usize;
    if n >= MISDEEDS.len() {
        console_writeln!(console(), "PASS misuse: {} misdeeds, each stopped only the misuser", MISDEEDS.len());
        serve_verdict(Verdict { done: true, passed: true, a: MISDEEDS.len() as u32, b: n as u32 })
    }
    console_writeln!(console(), "misuser: {}", MISDEEDS[n]);
    misdeed(n);
    console_writeln!(console(), "FAIL misuse: `{}` did not fault", MISDEEDS[n]);
    serve_verdict(Verdict { done: true, passed: false, a: n as u32, b: 0 })
}

#[cfg(feature = "misuser")]
fn misdeed(n: usize) {
    use core::ptr::{read_volatile, write_volatile};
    static FLASH: [u32; 4] = [0; 4];
    static mut RAM_CODE: [u16; 4] = [0x4770; 4]; // `bx lr`
    let raw = |nr: u32, args: [u32; 7]| {
        // Safety: every pointer below is either refused by the kernel or
        // our own (checked by the kernel like any other).
        unsafe { syscall_raw(nr, &args) };
    };
    let runner = TaskId::for_index_and_gen(config::RUNNER_TASK, Generation::ZERO);
    // Safety (the asm and volatile accesses below): each is the misdeed;
    // the CPU or the kernel stops this task before anything it touches
    // changes.
    unsafe {
        match n {
            0 => raw(99, [0; 7]),
            1 => raw(Sysnum::Send as u32, [supervisor::SUPERVISOR.0 as u32, 0x2000_0000, 4, 0, 0, 0, 0]),
            2 => raw(Sysnum::Post as u32, [1000, 1, 0, 0, 0, 0, 0]),
            3 => {
                sys_send(slots::ECHO, 0, &[0; 4], &mut [0; 8], &[Lease::raw(LEASE_READ, 0x2000_0000, 4)]);
            }
            4 => raw(Sysnum::IrqControl as u32, [1, 1, 0, 0, 0, 0, 0]),
            5 => {
                sys_send(TaskId::KERNEL, 99, &[], &mut [], &[]);
            }
            6 => {
                sys_send(runner, 1, &[], &mut [], &[]);
            }
            7 => raw(Sysnum::ReplyFault as u32, [runner.0 as u32, 77, 0, 0, 0, 0, 0]),
            8 => raw(Sysnum::Recv as u32, [FLASH.as_ptr() as u32, 16, 0, 0, 0, 0, 0]),
            9 => write_volatile(FLASH.as_ptr() as *mut u32, 1),
            10 => {
                let f: extern "C" fn() = core::mem::transmute((&raw mut RAM_CODE as u32) | 1);
                f();
            }
            11 => core::arch::asm!("udf #7"),
            12 => core::arch::asm!("bx {0}", in(reg) (misdeed as *const () as u32) & !1),
            13 => {
                let q: u32;
                core::arch::asm!("udiv {0}, {1}, {2}", out(reg) q, in(reg) 7u32, in(reg) read_volatile(&raw const KEPT[0]) * 0);
                let _ = q;
            }
            14 => core::arch::asm!("ldm {0}, {{r0, r1}}", in(reg) (FLASH.as_ptr() as u32) + 1, out("r0") _, out("r1") _),
            15 => write_volatile(0xE000_E100 as *mut u32, 1 << 28),
            16 => write_volatile(0xE000_ED0C as *mut u32, 0x05FA_0004),
            17 => core::arch::asm!("bkpt #0"),
            18 => {
                // SYS_EXIT with "application exit, status 0": if the
                // emulator honoured it from a task, the run would end here.
                let block = [0x20026u32, 0];
                core::arch::asm!("bkpt #0xAB", in("r0") 0x18u32, in("r1") block.as_ptr());
            }
            _ => sys_panic(b"deliberate panic\r\nFAIL forged line"),
        }
    }
}

#[cfg(feature = "overflow")]
pub fn run() -> ! {
    let kept = Kept(&raw mut KEPT).open();
    match kept.bump(1) {
        0 => overflow_at_svc(),
        1 => {
            console_writeln!(console(), "overflow: recursing with a syscall at every level");
            let _ = dive(0);
        }
        _ => {}
    }
    let passed = kept.get(1) == 3;
    console_writeln!(console(), "{} stack-overflow: two overflows, both stopped only this task", if passed { "PASS" } else { "FAIL" });
    serve_verdict(Verdict { done: true, passed, a: 2, b: 0 })
}

/// `svc` with the stack pointer 8 bytes above the bottom of the stack:
/// the hardware cannot push the 32-byte frame.
#[cfg(feature = "overflow")]
fn overflow_at_svc() {
    extern "C" {
        static __stack_bottom: u32;
    }
    let bottom = &raw const __stack_bottom as u32;
    // Safety: the task is stopped by the fault the `svc` raises; nothing
    // after it runs in this incarnation.
    unsafe {
        core::arch::asm!(
            "mov sp, {sp}",
            "movs r4, #0",
            "movs r5, #1",
            "mov r11, {post}",
            "svc #0",
            "udf #1",
            sp = in(reg) bottom + 8,
            post = in(reg) Sysnum::Post as u32,
            options(noreturn),
        );
    }
}

#[cfg(feature = "overflow")]
#[inline(never)]
#[allow(unconditional_recursion)] // until the stack runs out: the point
fn dive(depth: u32) -> u32 {
    let mut pad = [depth as u8; 48];
    core::hint::black_box(&mut pad);
    let id = sys_refresh_task_id(TaskId::for_index_and_gen(TASK_INDEX, Generation::ZERO));
    dive(depth + 1).wrapping_add(pad[7] as u32).wrapping_add(id.0 as u32)
}

#[cfg(feature = "crasher")]
pub fn run() -> ! {
    let kept = Kept(&raw mut KEPT).open();
    kept.bump(1);
    for _ in 0..10 {
        sys_post(supervisor::SUPERVISOR, u32::MAX);
    }
    // Safety: the fault is the point; nothing runs after it.
    unsafe { core::arch::asm!("udf #2", options(noreturn)) }
}
