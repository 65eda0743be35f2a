//! The idle task: lowest priority, always runnable, sleeps the core.
//!
//! The kernel needs some task to run when every other one is blocked; this
//! one waits for interrupts with WFI, which is how the core saves power (and
//! how QEMU under icount skips ahead to the next timer event).

#![no_std]
#![no_main]

use userlib as _;

#[export_name = "main"]
fn main() -> ! {
    loop {
        // Safety: WFI only suspends the core until the next interrupt; it is
        // allowed in unprivileged mode and touches no memory.
        unsafe { core::arch::asm!("wfi") };
    }
}
