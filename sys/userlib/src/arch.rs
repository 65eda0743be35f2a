//! The one place a task enters the kernel: the `svc` stub.
//!
//! Arguments are loaded from an array into `r4..=r10`, the syscall number
//! into `r11`, and all of `r4..=r11` are stored back as the results. The
//! stub is a naked function so that the callee-saved registers the kernel
//! uses for the exchange are saved and restored by hand, whatever the
//! compiler's register allocation around the call.

use abi::Sysnum;

/// Issues syscall `nr` with `args` in `r4..=r10`; returns `r4..=r11`.
#[inline(always)]
pub fn syscall(nr: Sysnum, args: &[u32; 7]) -> [u32; 8] {
    #[cfg(target_arch = "arm")]
    {
        let mut out = core::mem::MaybeUninit::<[u32; 8]>::uninit();
        // Safety: `syscall_stub` reads exactly 7 words from `args` and writes
        // all 8 words of `out` (so it is initialised afterwards), both valid
        // for those sizes; it saves and restores every callee-saved register
        // it touches. No zeroing first: this is on every IPC.
        unsafe {
            syscall_stub(args.as_ptr(), out.as_mut_ptr().cast(), nr as u32);
            out.assume_init()
        }
    }
    #[cfg(not(target_arch = "arm"))]
    {
        let _ = (nr, args);
        panic!("Escapement syscalls exist only on the ARMv7-M target");
    }
}

#[cfg(target_arch = "arm")]
#[unsafe(naked)]
unsafe extern "C" fn syscall_stub(args: *const u32, out: *mut u32, nr: u32) {
    core::arch::naked_asm!(
        "push {{r4-r11}}",
        "mov r11, r2",
        "ldm r0, {{r4-r10}}",
        "svc #0",
        "stm r1, {{r4-r11}}",
        "pop {{r4-r11}}",
        "bx lr",
    )
}
