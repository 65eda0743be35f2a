//! Architecture support. On ARMv7-M (the only target) this is
//! [`arm_m`]: exception entry and exit, context switch, MPU, NVIC, faults
//! and semihosting. On the host, where only the portable core is
//! unit-tested, inert stand-ins keep the crate compiling; none of them is
//! reached by a host test.

#[cfg(target_arch = "arm")]
mod arm_m;
#[cfg(target_arch = "arm")]
pub use arm_m::*;

#[cfg(not(target_arch = "arm"))]
mod host {
    //! Host stand-ins: the kernel's portable core compiles against these
    //! so its pure parts can be tested; calling them is a test bug.

    /// Bytes of the initial exception frame (r0-r3, r12, lr, pc, xpsr).
    pub const INITIAL_FRAME_BYTES: u32 = 32;
    /// EXC_RETURN for thread mode, process stack, no FP frame.
    pub const EXC_RETURN_THREAD_PSP: u32 = 0xFFFF_FFFD;

    pub fn prepare_initial_frame(_desc: &crate::descs::TaskDesc) {}

    /// Copies nothing: host tests pass empty messages only.
    ///
    /// # Safety
    /// Never valid on the host for `len > 0`: task addresses are 32-bit
    /// target addresses.
    pub unsafe fn copy_user(_src: u32, _dst: u32, len: u32) {
        assert_eq!(len, 0, "copy_user of task memory is target-only");
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
