//! Task start-up and panic handling.
//!
//! The kernel starts (and restarts) a task at `_start` with the stack
//! pointer at the top of its stack and nothing else set up. `_start` copies
//! `.data` from flash and zeroes `.bss` (sys/crt0, shared with the kernel's
//! `Reset`), then calls the task's `main`, which the task defines with
//! `#[export_name = "main"] fn main() -> !`.
//!
//! A panic becomes a `Panic` fault with the message (truncated to 128
//! bytes) for the kernel to report; the supervisor then restarts the task.

#[cfg(target_arch = "arm")]
mod entry {
    extern "Rust" {
        fn main() -> !;
    }

    /// The task entry point named by the generated task table: the
    /// outermost frame of every task's stack. It says so in its
    /// call-frame information (the return address is undefined), so a
    /// debugger unwinding a task (humility `tasks -sl`) stops here rather
    /// than reading on past the top of the stack.
    ///
    /// `main` never returns, so the `bl main` is followed by a `udf`: the
    /// return address `main`'s frame holds is then inside `_start`. A
    /// call that is a function's last instruction leaves a return address
    /// past the function's end, and humility looks the caller's unwind
    /// rules up at the return address itself, where they belong to
    /// whatever function is linked next (its unwind fails or shows that
    /// function).
    #[no_mangle]
    #[link_section = ".text.start"]
    #[unsafe(naked)]
    pub unsafe extern "C" fn _start() -> ! {
        core::arch::naked_asm!(
            ".cfi_startproc",
            ".cfi_undefined lr",
            "bl {init}",
            "bl {main}",
            "udf #0",
            ".cfi_endproc",
            init = sym init_data_bss,
            main = sym main,
        )
    }

    /// Sets up `.data` and `.bss` (the start-up the kernel shares, see
    /// sys/crt0) before `main` runs.
    unsafe extern "C" fn init_data_bss() {
        // Safety: we are the first code to run in this task incarnation
        // (the kernel starts it here with a fresh stack); nothing has read
        // or written a static yet, the task is single-threaded, and the task
        // linker script bounds its own .data/.bss (crt0's contract).
        unsafe { crt0::init_data_bss() }
    }

    struct Truncating<'a> {
        buf: &'a mut [u8],
        len: usize,
    }

    impl core::fmt::Write for Truncating<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let n = s.len().min(self.buf.len() - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
            self.len += n;
            Ok(())
        }
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        let mut buf = [0u8; 128];
        let mut w = Truncating { buf: &mut buf, len: 0 };
        let _ = core::fmt::write(&mut w, format_args!("{}", info));
        let len = w.len;
        crate::sys_panic(&buf[..len])
    }
}
