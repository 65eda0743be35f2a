//! Architecture support. On ARMv7-M (the only target) this is
//! [`arm_m`]: exception entry and exit, context switch, MPU, NVIC, faults
//! and semihosting. On the host, where only the portable core is
//! unit-tested, inert stand-ins keep the crate compiling; none of them is
//! reached by a host test.

mod saved;
pub use saved::{BorrowArgs, RecvArgs, ReplyArgs, SavedState, SendArgs, USlice};

#[cfg(target_arch = "arm")]
mod arm_m;
#[cfg(target_arch = "arm")]
pub use arm_m::*;

#[cfg(not(target_arch = "arm"))]
mod host {
    //! Host stand-ins: the kernel's portable core compiles against these
    //! so it can be tested; task memory is simulated (see [`mem`]), the
    //! rest does nothing or, where reaching it is a test bug, panics.

    /// Bytes of the initial exception frame (FP-extended, as on the target).
    pub const INITIAL_FRAME_BYTES: u32 = 26 * 4;
    /// EXC_RETURN for thread mode, process stack, FP-extended frame.
    pub const EXC_RETURN_THREAD_PSP: u32 = 0xFFFF_FFED;

    pub fn prepare_initial_frame(_desc: &crate::descs::TaskDesc) {}

    /// Task memory on the host: a window of [`mem::SIZE`] bytes at
    /// [`mem::BASE`], per test thread. Every kernel copy of task memory
    /// goes through it, and one outside the window panics: a host test
    /// thereby also checks that the kernel only touches what it checked.
    /// (Outside `cfg(test)` the crate is `no_std` and copies nothing.)
    #[cfg(test)]
    pub mod mem {
        use std::cell::RefCell;

        /// First address of the simulated task memory.
        pub const BASE: u32 = 0x2000_0000;
        /// Its size in bytes.
        pub const SIZE: u32 = 0x1_0000;

        thread_local! {
            static MEMORY: RefCell<Vec<u8>> = RefCell::new(vec![0; SIZE as usize]);
        }

        fn range(addr: u32, len: usize) -> std::ops::Range<usize> {
            if len == 0 {
                return 0..0;
            }
            let start = addr.checked_sub(BASE).expect("kernel touched memory below the simulated window") as usize;
            let end = start.checked_add(len).filter(|&e| e <= SIZE as usize);
            start..end.expect("kernel touched memory past the simulated window")
        }

        /// Reads `len` bytes at `addr`.
        pub fn read(addr: u32, len: usize) -> Vec<u8> {
            MEMORY.with(|m| m.borrow()[range(addr, len)].to_vec())
        }

        /// Writes `data` at `addr`.
        pub fn write(addr: u32, data: &[u8]) {
            MEMORY.with(|m| m.borrow_mut()[range(addr, data.len())].copy_from_slice(data));
        }

        /// Fills the whole window with `byte`.
        pub fn fill(byte: u8) {
            MEMORY.with(|m| m.borrow_mut().fill(byte));
        }
    }

    /// Copies between task memories (the simulated window; outside
    /// tests only empty copies are possible).
    ///
    /// # Safety
    /// None on the host; the signature matches the target's.
    pub unsafe fn copy_user(src: u32, dst: u32, len: u32) {
        #[cfg(test)]
        mem::write(dst, &mem::read(src, len as usize));
        #[cfg(not(test))]
        assert_eq!((src, dst, len).2, 0, "task memory exists on the host only in tests");
    }

    /// Copies from task memory into kernel memory.
    ///
    /// # Safety
    /// None on the host; the signature matches the target's.
    pub unsafe fn copy_from_user(src: u32, dst: &mut [u8]) {
        #[cfg(test)]
        dst.copy_from_slice(&mem::read(src, dst.len()));
        #[cfg(not(test))]
        assert!((src, &dst).1.is_empty(), "task memory exists on the host only in tests");
    }

    /// Copies kernel memory into task memory.
    ///
    /// # Safety
    /// None on the host; the signature matches the target's.
    pub unsafe fn copy_to_user(src: &[u8], dst: u32) {
        #[cfg(test)]
        mem::write(dst, src);
        #[cfg(not(test))]
        assert!((src, dst).0.is_empty(), "task memory exists on the host only in tests");
    }

    /// Fills task memory (the simulated window; outside tests, nothing).
    ///
    /// # Safety
    /// None on the host; the signature matches the target's.
    pub unsafe fn fill_user(base: u32, len: u32, word: u32) {
        #[cfg(test)]
        mem::write(base, &word.to_le_bytes().repeat((len / 4) as usize));
        #[cfg(not(test))]
        let _ = (base, len, word);
    }

    pub fn irq_enable(_irq: u32) {}
    pub fn irq_disable(_irq: u32) {}
    pub fn semihost_exit(_status: u32) -> ! {
        panic!("semihosting is target-only")
    }
    pub fn kernel_halt() -> ! {
        panic!("kernel halted")
    }
    pub fn start(_k: &'static mut crate::Kernel) -> ! {
        panic!("the kernel starts only on the target")
    }
}
#[cfg(not(target_arch = "arm"))]
pub use host::*;
