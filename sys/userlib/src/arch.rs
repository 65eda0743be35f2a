//! The one place a task enters the kernel: the `svc` stubs.
//!
//! Arguments go into `r4..=r10`, the syscall number into `r11`, and all of
//! `r4..=r11` are stored back as the results. [`syscall`] loads seven
//! arguments from an array; [`syscall5`] takes up to five in registers
//! (`r4..=r8`), so the short, frequent syscalls (recv, post, irq_control)
//! build no array (zeroing one cost a `memclr` call); the kernel ignores
//! `r9`/`r10` for those. The stubs are naked functions so that the
//! callee-saved registers the kernel uses for the exchange are saved and
//! restored by hand, whatever the compiler's register allocation.

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

/// Issues raw syscall number `nr` (valid or not) with `args` in
/// `r4..=r10`; returns `r4..=r11`. For test harnesses that attack the
/// kernel's ABI: a well-behaved task uses the typed wrappers.
///
/// # Safety
/// The kernel may write wherever `args` point (receive and reply buffers,
/// borrows), so the caller answers for those writes as for any raw
/// pointer; the kernel itself is never at risk from any `nr` or `args`.
#[inline(always)]
pub unsafe fn syscall_raw(nr: u32, args: &[u32; 7]) -> [u32; 8] {
    #[cfg(target_arch = "arm")]
    {
        let mut out = core::mem::MaybeUninit::<[u32; 8]>::uninit();
        // Safety: as in `syscall`; the caller answers for what the kernel
        // writes on its behalf.
        unsafe {
            syscall_stub(args.as_ptr(), out.as_mut_ptr().cast(), nr);
            out.assume_init()
        }
    }
    #[cfg(not(target_arch = "arm"))]
    {
        let _ = (nr, args);
        panic!("Escapement syscalls exist only on the ARMv7-M target");
    }
}

/// Issues syscall `nr` with `a0..a4` in `r4..=r8` (r9, r10 unspecified,
/// for syscalls that do not read them); returns `r4..=r11`.
#[inline(always)]
pub fn syscall5(nr: Sysnum, a0: u32, a1: u32, a2: u32, a3: u32, a4: u32) -> [u32; 8] {
    #[cfg(target_arch = "arm")]
    {
        let mut out = core::mem::MaybeUninit::<[u32; 8]>::uninit();
        // Safety: `syscall_stub5` writes all 8 words of `out` and saves and
        // restores every callee-saved register it touches.
        unsafe {
            syscall_stub5(a0, a1, a2, a3, a4, nr as u32, out.as_mut_ptr().cast());
            out.assume_init()
        }
    }
    #[cfg(not(target_arch = "arm"))]
    {
        let _ = (nr, a0, a1, a2, a3, a4);
        panic!("Escapement syscalls exist only on the ARMv7-M target");
    }
}

/// Call-frame information for the stubs after their `push {r4-r11}`: a
/// task stopped inside a stub (preempted, or blocked in its `svc`) is
/// unwound from there through `.debug_frame` (humility `tasks -sl`, gdb).
/// Naked functions get no CFI from the compiler, so the stubs state theirs.
#[cfg(target_arch = "arm")]
macro_rules! save_cfi {
    () => {
        concat!(
            ".cfi_def_cfa_offset 32\n",
            ".cfi_offset r11, -4\n",
            ".cfi_offset r10, -8\n",
            ".cfi_offset r9, -12\n",
            ".cfi_offset r8, -16\n",
            ".cfi_offset r7, -20\n",
            ".cfi_offset r6, -24\n",
            ".cfi_offset r5, -28\n",
            ".cfi_offset r4, -32\n",
        )
    };
}

/// The row for the one instruction after `svc`, where a task blocked in a
/// syscall stops: it states the stack as humility has it by then. humility
/// does not trust CFI at a syscall's return address; it disassembles the
/// stub, reads back the registers the `push` before the `svc` stored, and
/// moves SP above them itself (`presyscall_pushes`), and only then applies
/// the CFI row at that pc. A row that states the push again makes it skip
/// the 32 bytes twice: every caller frame is read 32 bytes too high, and
/// the unwind fails or names the wrong frames. So this row says "CFA = SP,
/// nothing saved" (true once the pushes are undone), and the next
/// instruction's row states the push again (true for anyone who stops
/// the task between there and the `pop`, gdb included). Restated rather
/// than `.cfi_remember_state`/`.cfi_restore_state`: the assembler's
/// restored row kept the CFA offset 0 under the saved registers.
#[cfg(target_arch = "arm")]
macro_rules! at_svc_return_cfi {
    () => {
        no_push_cfi!()
    };
}

/// "CFA = SP, r4-r11 not saved": the row after the `pop`, and humility's
/// view at the `svc`'s return address (see [`at_svc_return_cfi`]).
#[cfg(target_arch = "arm")]
macro_rules! no_push_cfi {
    () => {
        concat!(
            ".cfi_def_cfa_offset 0\n",
            ".cfi_restore r4\n",
            ".cfi_restore r5\n",
            ".cfi_restore r6\n",
            ".cfi_restore r7\n",
            ".cfi_restore r8\n",
            ".cfi_restore r9\n",
            ".cfi_restore r10\n",
            ".cfi_restore r11\n",
        )
    };
}

#[cfg(target_arch = "arm")]
#[unsafe(naked)]
unsafe extern "C" fn syscall_stub5(a0: u32, a1: u32, a2: u32, a3: u32, a4: u32, nr: u32, out: *mut u32) {
    // AAPCS: a0..a3 in r0..r3; a4, `nr` and `out` on the stack, found above
    // the 32 bytes this pushes.
    core::arch::naked_asm!(
        ".cfi_startproc",
        "push {{r4-r11}}",
        save_cfi!(),
        "mov r4, r0",
        "mov r5, r1",
        "mov r6, r2",
        "mov r7, r3",
        "ldrd r8, r11, [sp, #32]",
        "svc #0",
        at_svc_return_cfi!(),
        "ldr r0, [sp, #40]",
        save_cfi!(),
        "stm r0, {{r4-r11}}",
        "pop {{r4-r11}}",
        no_push_cfi!(),
        "bx lr",
        ".cfi_endproc",
    )
}

#[cfg(target_arch = "arm")]
#[unsafe(naked)]
unsafe extern "C" fn syscall_stub(args: *const u32, out: *mut u32, nr: u32) {
    core::arch::naked_asm!(
        ".cfi_startproc",
        "push {{r4-r11}}",
        save_cfi!(),
        "mov r11, r2",
        "ldm r0, {{r4-r10}}",
        "svc #0",
        at_svc_return_cfi!(),
        "stm r1, {{r4-r11}}",
        save_cfi!(),
        "pop {{r4-r11}}",
        no_push_cfi!(),
        "bx lr",
        ".cfi_endproc",
    )
}
