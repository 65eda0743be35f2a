//! ARMv7-M (Cortex-M4F) support: vector table, reset, exception entry and
//! context switch, MPU programming, NVIC control, fault decoding and
//! semihosting.
//!
//! Every kernel entry from a task (SVCall, device IRQs, MemManage,
//! BusFault, UsageFault, HardFault) runs the same sequence: store r4-r11, PSP,
//! EXC_RETURN (and s16-s31 if the task has an FP frame) into the current
//! task's `SavedState`, call into Rust, then load the same set from
//! whichever task is current afterwards and return to it. SVCall and every
//! device interrupt share one priority, so kernel code never
//! preempts itself; the memory faults are higher, and if one is taken from
//! handler mode it is a kernel bug and the machine halts.

use crate::descs::{region_attr, RegionDesc, TaskDesc};
use crate::task::Task;
use crate::Kernel;
use core::arch::naked_asm;
use core::ptr::{read_volatile, write_volatile};

/// Bytes of the initial exception frame.
///
/// Every task starts with an FP-extended frame (r0-r3, r12, lr, pc, xpsr,
/// then s0-s15, FPSCR and a reserved word: 26 words), as on Hubris: its
/// FP state, zero at first, is then saved and restored at every kernel
/// entry and exit, and its stacked frames always have the layout humility
/// assumes for thumbv7em when it unwinds a task's stack.
pub const INITIAL_FRAME_BYTES: u32 = 26 * 4;
/// EXC_RETURN for thread mode, process stack, FP-extended frame.
pub const EXC_RETURN_THREAD_PSP: u32 = 0xFFFF_FFED;

/// The task whose registers the exception entry code saves and restores.
/// Name and meaning as in Hubris, for humility.
#[no_mangle]
pub static mut CURRENT_TASK_PTR: *mut Task = core::ptr::null_mut();

/// The one kernel instance, set by `start` before the first task runs.
static mut KERNEL: *mut Kernel = core::ptr::null_mut();

/// Runs `f` on the kernel state.
///
/// Only exception handlers call this, and they never nest over kernel
/// state: SVCall and device IRQs share a priority, and the
/// higher-priority fault handlers reach here only when taken from thread
/// mode (no handler active).
fn with_kernel<R>(f: impl FnOnce(&mut Kernel) -> R) -> R {
    // Safety: see above: exclusive access by construction; KERNEL is set
    // before any exception that reaches here can be taken.
    //
    // A volatile load, so every access goes through the one pointer: with
    // LTO the compiler otherwise proves KERNEL always holds kboot's static
    // and mixes that constant address (rebuilt with movw/movt, and past
    // the immediate-offset range for some fields) with the loaded pointer,
    // which costs every syscall about 8 instructions (measured with
    // `cargo xtask bench`).
    unsafe { f(&mut *core::ptr::read_volatile(&raw const KERNEL)) }
}

mod reg {
    pub const SCB_VTOR: *mut u32 = 0xE000_ED08usize as _;
    pub const SCB_CCR: *mut u32 = 0xE000_ED14usize as _;
    pub const SCB_SHPR2: *mut u32 = 0xE000_ED1Cusize as _;
    pub const SCB_SHPR3: *mut u32 = 0xE000_ED20usize as _;
    pub const SCB_SHCSR: *mut u32 = 0xE000_ED24usize as _;
    pub const SCB_CFSR: *mut u32 = 0xE000_ED28usize as _;
    pub const SCB_HFSR: *mut u32 = 0xE000_ED2Cusize as _;
    pub const SCB_MMFAR: *mut u32 = 0xE000_ED34usize as _;
    pub const SCB_BFAR: *mut u32 = 0xE000_ED38usize as _;
    pub const SCB_CPACR: *mut u32 = 0xE000_ED88usize as _;
    pub const FPU_FPCCR: *mut u32 = 0xE000_EF34usize as _;
    pub const MPU_CTRL: *mut u32 = 0xE000_ED94usize as _;
    pub const MPU_RBAR: *mut u32 = 0xE000_ED9Cusize as _;
    pub const NVIC_ISER: *mut u32 = 0xE000_E100usize as _;
    pub const NVIC_ICER: *mut u32 = 0xE000_E180usize as _;
    pub const NVIC_ICPR: *mut u32 = 0xE000_E280usize as _;
    pub const NVIC_IPR: *mut u8 = 0xE000_E400usize as _;
}

/// Lowest priority: SVCall and all device IRQs share it (PendSV too,
/// though nothing pends it).
const KERNEL_PRIORITY: u8 = 0xFF;
/// Device interrupts in the vector table (STM32F4 has 82; rounded up).
const IRQ_COUNT: usize = 96;

/// Writes the exception frame a task starts from: PC at its entry point,
/// Thumb state, everything else zero, LR a value that faults if `_start`
/// ever returns.
pub fn prepare_initial_frame(desc: &TaskDesc) {
    let frame = (desc.initial_stack - INITIAL_FRAME_BYTES) as *mut u32;
    let mut words = [0u32; (INITIAL_FRAME_BYTES / 4) as usize];
    words[..8].copy_from_slice(&[0, 0, 0, 0, 0, 0xFFFF_FFFF, desc.entry_point & !1, 1 << 24]);
    for (i, w) in words.iter().enumerate() {
        // Safety: the build places the stack inside the task's RAM region
        // with at least 256 bytes, so the 32-byte frame below the initial
        // stack pointer is the task's own memory; the kernel may write any
        // RAM.
        unsafe { write_volatile(frame.add(i), *w) };
    }
}

/// Copies `len` bytes between task memories.
///
/// # Safety
/// The caller has checked both ranges against the owning tasks' regions.
#[inline(always)]
pub unsafe fn copy_user(src: u32, dst: u32, len: u32) {
    // Most IPC messages are empty or a few words: a call into memmove costs
    // more than the copy.
    if len == 0 {
        return;
    }
    if len <= 16 {
        // Safety: per the contract both ranges are valid for `len` bytes
        // and belong to different tasks, so they do not overlap.
        unsafe { crate::umem::copy_small(src as *const u8, dst as *mut u8, len as usize) };
        return;
    }
    // Safety: per the contract above both ranges are valid memory; `copy`
    // allows overlap.
    unsafe { core::ptr::copy(src as *const u8, dst as *mut u8, len as usize) }
}

/// Copies `dst.len()` bytes of task memory at `src` into kernel memory.
///
/// # Safety
/// The caller has checked `src..src + dst.len()` against the owning task's
/// regions.
#[inline(always)]
pub unsafe fn copy_from_user(src: u32, dst: &mut [u8]) {
    // Safety: `dst` is kernel memory valid for its length; `src` per the
    // contract; the two never overlap (task regions exclude kernel RAM).
    unsafe { copy_user(src, dst.as_mut_ptr() as u32, dst.len() as u32) }
}

/// Copies `src` (kernel memory) into task memory at `dst`.
///
/// # Safety
/// The caller has checked `dst..dst + src.len()` writable against the
/// owning task's regions.
#[inline(always)]
pub unsafe fn copy_to_user(src: &[u8], dst: u32) {
    // Safety: as for `copy_from_user`, the other way.
    unsafe { copy_user(src.as_ptr() as u32, dst, src.len() as u32) }
}

/// Fills `len` bytes (a multiple of 4, word-aligned) of task memory at
/// `base` with `word`.
///
/// # Safety
/// The range is task memory the kernel checked, and nothing relies on
/// its contents (an unused stack).
pub unsafe fn fill_user(base: u32, len: u32, word: u32) {
    let p = base as *mut u32;
    for i in 0..(len / 4) as usize {
        // Safety: within the range, per the contract.
        unsafe { write_volatile(p.add(i), word) };
    }
}

/// Unmasks NVIC interrupt `irq`, first dropping a request latched while it
/// was masked.
///
/// STM32 peripheral interrupts are level signals: the line stays high until
/// the driver clears the flag (a timer's UIF). The kernel masks an IRQ on
/// delivery while the flag is still set, so the NVIC latches it pending
/// again (ARMv7-M B3.4.1: a disabled interrupt still becomes pending), and
/// that latch survives the driver's acknowledge. Enabling without clearing
/// it would take a second, spurious interrupt for every real one. Clearing
/// pending before the enable loses nothing real: a source still asserting
/// its level re-pends at once. (QEMU's STM32 timers pulse their line
/// instead; a pulse while masked is dropped here, and the timer re-raises
/// it a period later: see drv/clockevent-stm32's `ack`.)
pub fn irq_enable(irq: u32) {
    let word = (irq / 32) as usize;
    let bit = 1 << (irq % 32);
    // Safety: NVIC clear-pending then set-enable registers; one bit per IRQ,
    // writes of 0 bits have no effect. The order matters (see above).
    unsafe {
        write_volatile(reg::NVIC_ICPR.add(word), bit);
        write_volatile(reg::NVIC_ISER.add(word), bit);
    }
}

/// Masks NVIC interrupt `irq` and drops a pending request for it.
pub fn irq_disable(irq: u32) {
    // Safety: NVIC clear-enable and clear-pending registers, as above.
    unsafe {
        write_volatile(reg::NVIC_ICER.add((irq / 32) as usize), 1 << (irq % 32));
        write_volatile(reg::NVIC_ICPR.add((irq / 32) as usize), 1 << (irq % 32));
    }
}

/// RASR bits for a region's attributes.
fn rasr_for(region: &RegionDesc) -> u32 {
    let a = region.attributes.bits();
    let ap: u32 = if a & region_attr::WRITE != 0 {
        0b011 // privileged and unprivileged read/write
    } else if a & region_attr::EXECUTE != 0 {
        0b110 // flash: read-only for both
    } else if a & region_attr::READ != 0 {
        // A read-only view of memory another task may write (a shared
        // region's reader, a read-only peripheral window): read-only for
        // the task, read/write for the kernel, which may copy into the
        // writer's region on the writer's behalf while a reader is current
        // (a lease the writer lent); its own checks (umem) keep readers
        // from getting such copies.
        0b010
    } else {
        0b001 // privileged only
    };
    let xn = (a & region_attr::EXECUTE == 0) as u32;
    // TEX:S:C:B. Device: shareable device. RAM (and a read-only view of
    // shared RAM, so every mapping of it agrees): write-back
    // write-allocate. Flash: write-through normal memory.
    let tex_scb: u32 = if a & region_attr::DEVICE != 0 {
        0b000_1_0_1
    } else if a & (region_attr::WRITE | region_attr::EXECUTE) != region_attr::EXECUTE {
        0b001_0_1_1
    } else {
        0b000_0_1_0
    };
    let size_field = region.size.trailing_zeros() - 1;
    xn << 28 | ap << 24 | tex_scb << 16 | size_field << 1 | 1
}

/// The MPU register values for `task`'s regions: (RBAR with VALID and
/// the slot number, RASR); unused slots get RASR = 0 (disabled).
fn mpu_values(desc: &TaskDesc, regions: &[RegionDesc]) -> [[u32; 2]; crate::descs::REGIONS_PER_TASK] {
    let mut out = [[0; 2]; crate::descs::REGIONS_PER_TASK];
    for (slot, &r) in desc.regions.iter().enumerate() {
        let region = regions.get(r as usize).copied().unwrap_or(RegionDesc::EMPTY);
        let rasr = if region.size == 0 { 0 } else { rasr_for(&region) };
        out[slot] = [region.base | 1 << 4 | slot as u32, rasr];
    }
    out
}

/// Loads the MPU with all eight of `task`'s precomputed slots (unused ones
/// disabled) in four load-multiple/store-multiple pairs through the RBAR
/// and RASR aliases A1..A3, which exist for exactly this. The kernel keeps
/// its default map (PRIVDEFENA), so only unprivileged access is restricted
/// and the brief mix of old and new regions while storing is never used.
#[inline(always)]
fn mpu_apply(task: &Task) {
    // Safety: `task.mpu` is 16 consecutive words (8 RBAR/RASR pairs, each
    // RBAR carrying VALID and its slot number, so each pair programs exactly
    // its slot); the stores go to RBAR..RASR_A3, eight consecutive MPU
    // registers. The kernel runs privileged with the default memory map, so
    // the update never affects its own accesses.
    unsafe {
        core::arch::asm!(
            "add {hi}, {lo}, #16",
            "ldm {src}!, {{r2, r3, r4, r5}}",
            "stm {lo}, {{r2, r3, r4, r5}}",
            "ldm {src}!, {{r2, r3, r4, r5}}",
            "stm {hi}, {{r2, r3, r4, r5}}",
            "ldm {src}!, {{r2, r3, r4, r5}}",
            "stm {lo}, {{r2, r3, r4, r5}}",
            "ldm {src}!, {{r2, r3, r4, r5}}",
            "stm {hi}, {{r2, r3, r4, r5}}",
            src = inout(reg) task.mpu.as_ptr() => _,
            lo = in(reg) reg::MPU_RBAR,
            // RBAR_A2: the alias pair after RBAR, RASR, RBAR_A1, RASR_A1.
            hi = out(reg) _,
            // Fixed and ascending, as the assembler wants register lists.
            out("r2") _,
            out("r3") _,
            out("r4") _,
            out("r5") _,
            options(nostack, preserves_flags),
        );
    }
}

/// Makes `k.current` the task the exception return will resume, and
/// returns it (for the exit code, in r0).
#[inline(always)]
fn switch_to_current(k: &mut Kernel) -> *mut Task {
    switch_to(&mut k.tasks[k.current])
}

/// [`switch_to_current`] with the task already found: `t` must point at
/// `k.tasks[k.current]`.
#[inline(always)]
fn switch_to(t: *mut Task) -> *mut Task {
    // Safety: single-threaded kernel context (see `with_kernel`); `t`
    // points at a live task record.
    unsafe {
        if CURRENT_TASK_PTR != t {
            CURRENT_TASK_PTR = t;
            mpu_apply(&*t);
        }
    }
    t
}

/// Thirty-two zero words, loaded into s0-s31 when a task without FP
/// state is resumed (see `restore_r0_and_return!`).
#[no_mangle]
static FP_ZEROS: [u32; 32] = [0; 32];

/// Configures the core, installs `kernel` and starts its current task.
/// Never returns: the caller's thread-mode context is abandoned.
pub fn start(kernel: &'static mut Kernel) -> ! {
    // Safety: boot-time, single-threaded, interrupts not yet enabled for any
    // device. Register writes follow the ARMv7-M architecture manual.
    unsafe {
        // Exception priorities: SVCall and PendSV at the kernel's level.
        let shpr2 = read_volatile(reg::SCB_SHPR2) & 0x00FF_FFFF;
        write_volatile(reg::SCB_SHPR2, shpr2 | (KERNEL_PRIORITY as u32) << 24);
        let shpr3 = read_volatile(reg::SCB_SHPR3) & 0xFF00_FFFF;
        write_volatile(reg::SCB_SHPR3, shpr3 | (KERNEL_PRIORITY as u32) << 16);
        for irq in 0..IRQ_COUNT {
            write_volatile(reg::NVIC_IPR.add(irq), KERNEL_PRIORITY);
        }
        // Divide by zero in a task's code (Rust checks its own divisions,
        // but a task may run any instruction) is a UsageFault, not 0.
        write_volatile(reg::SCB_CCR, read_volatile(reg::SCB_CCR) | 1 << 4);
        // Separate MemManage, BusFault and UsageFault handlers.
        let shcsr = read_volatile(reg::SCB_SHCSR);
        write_volatile(reg::SCB_SHCSR, shcsr | 0b111 << 16);
        // FP: automatic state preservation, no lazy stacking (so the frame
        // is complete whenever the kernel looks at it).
        write_volatile(reg::FPU_FPCCR, 1 << 31);
        write_volatile(reg::MPU_CTRL, 0b101); // ENABLE | PRIVDEFENA

        KERNEL = kernel;
        let k = &mut *KERNEL;
        let regions = k.regions;
        for t in k.tasks.iter_mut() {
            t.mpu = mpu_values(t.descriptor, regions);
        }
        k.reschedule();
        CURRENT_TASK_PTR = core::ptr::null_mut();
        switch_to_current(k);
        // The first start goes through the boot table's SVCall, which puts
        // the real table back; nothing else can be taken before it (no
        // device interrupt is enabled yet).
        write_volatile(reg::SCB_VTOR, &raw const BOOT_VECTORS as u32);
        core::arch::asm!("dsb", "isb");
        start_first_task()
    }
}

/// Issues the SVC that [`FirstStart`] answers: "make thread mode
/// unprivileged, load the current task and run it". Privilege is dropped
/// inside the handler, not here: unprivileged thread code could not stack
/// an exception frame on the kernel's stack.
#[unsafe(naked)]
unsafe extern "C" fn start_first_task() -> ! {
    naked_asm!("svc #0xFF", "udf #0")
}

macro_rules! save_current {
    () => {
        concat!(
            // The address from the literal pool that `restore_r0_and_return`
            // ends with: one load instead of movw/movt.
            "ldr r0, =CURRENT_TASK_PTR\n",
            "ldr r1, [r0]\n",
            "mrs r12, psp\n",
            "stm r1!, {{r4-r12, lr}}\n",
            ".fpu fpv4-sp-d16\n",
            "tst lr, #0x10\n",
            "it eq\n",
            "vstmiaeq r1, {{s16-s31}}\n",
        )
    };
}

/// Loads the task whose `Task` the entry function returned in r0 (always
/// `CURRENT_TASK_PTR`, handed back so that it need not be reloaded) and
/// returns to it.
///
/// FP state is private to each task. A task that has used the FPU since
/// its last kernel entry has an FP frame (EXC_RETURN bit 4 clear): s0-s15
/// and FPSCR come back from the frame, s16-s31 from its `SavedState`. A
/// task without one has no FP state to keep, and would otherwise see the
/// registers as the last task (or the kernel) left them: for it, s0-s31
/// and FPSCR are zeroed. This is done here, in the exit sequence, and not
/// in Rust: s16-s31 are callee-saved, so compiled code that clobbered them
/// would put the old values back before returning. Costs a task without
/// FP state three instructions per kernel exit (the FP path is as before).
macro_rules! restore_r0_and_return {
    () => {
        concat!(
            "ldm r0!, {{r4-r12, lr}}\n",
            ".fpu fpv4-sp-d16\n",
            "tst lr, #0x10\n",
            "bne 1f\n",
            // An FP frame: s16-s31 from `SavedState`, the rest from the frame.
            "vldmia r0, {{s16-s31}}\n",
            "msr psp, r12\n",
            "bx lr\n",
            // No FP state: every FP register and FPSCR zeroed.
            "1:\n",
            "ldr r1, =FP_ZEROS\n",
            "vldmia r1, {{s0-s31}}\n",
            "movs r2, #0\n",
            "vmsr fpscr, r2\n",
            "msr psp, r12\n",
            "bx lr\n",
            ".ltorg\n",
        )
    };
}

/// SVCall: a task's syscall (the first start has its own vector, see
/// [`FirstStart`]).
#[no_mangle]
#[unsafe(naked)]
pub unsafe extern "C" fn SVCall() {
    naked_asm!(
        save_current!(),
        "bl {entry}",
        restore_r0_and_return!(),
        entry = sym svc_entry,
    )
}

/// SVCall while the boot table is in force: the kernel's one call from the
/// main stack. Drops thread mode's privilege for good, puts the real
/// vector table back, and enters the current task. Having its own vector
/// keeps the "is this the first start?" test off every syscall.
#[allow(non_snake_case)] // named like the other exception handlers
#[unsafe(naked)]
unsafe extern "C" fn FirstStart() {
    naked_asm!(
        "movs r0, #1",
        "msr CONTROL, r0",
        "isb",
        "movw r0, #:lower16:__vector_table",
        "movt r0, #:upper16:__vector_table",
        "movw r1, #:lower16:{vtor}",
        "movt r1, #:upper16:{vtor}",
        "str r0, [r1]",
        "dsb",
        "isb",
        "movw r0, #:lower16:CURRENT_TASK_PTR",
        "movt r0, #:upper16:CURRENT_TASK_PTR",
        "ldr r0, [r0]",
        restore_r0_and_return!(),
        vtor = const 0xE000_ED08u32,
    )
}

extern "C" fn svc_entry() -> *mut Task {
    with_kernel(|k| switch_to(k.syscall()))
}

/// Shared body of the fault handlers. Faults from handler mode (the
/// kernel) halt; faults from a task stop that task.
#[no_mangle]
#[unsafe(naked)]
pub unsafe extern "C" fn fault_common() {
    naked_asm!(
        "tst lr, #4",
        "bne 2f",
        "mov r0, lr",
        "mrs r1, msp",
        "b {kfault}",
        "2:",
        save_current!(),
        "bl {entry}",
        restore_r0_and_return!(),
        kfault = sym kernel_fault,
        entry = sym fault_entry,
    )
}

/// Reads the fault status registers and clears them for the next fault;
/// `psp` is the task's stack pointer at the fault.
fn take_fault_status(psp: u32) -> crate::faults::FaultStatus {
    // Safety: SCB fault status registers; writing ones clears the bits.
    unsafe {
        let status = crate::faults::FaultStatus {
            cfsr: read_volatile(reg::SCB_CFSR),
            hfsr: read_volatile(reg::SCB_HFSR),
            mmfar: read_volatile(reg::SCB_MMFAR),
            bfar: read_volatile(reg::SCB_BFAR),
            psp,
        };
        write_volatile(reg::SCB_CFSR, status.cfsr);
        write_volatile(reg::SCB_HFSR, status.hfsr);
        status
    }
}

/// Drops an SVCall left pending by the faulting task.
///
/// An `svc` whose exception frame cannot be stacked (MSTKERR: the stack
/// pointer ran off the task's RAM) raises MemManage with the SVCall still
/// pending. Left pending, it would be taken as soon as the fault handler
/// returns, on whatever task runs next, as that task's syscall with its
/// saved registers. The faulting task is stopped, so its syscall is void.
/// No other SVCall can be pending here: `svc` is synchronous and the
/// fault handlers run only for faults taken from thread mode.
fn drop_pending_svcall() {
    const SVCALLPENDED: u32 = 1 << 15;
    // Safety: SHCSR's pended bits are read-write (ARMv7-M B3.2.13); clearing
    // SVCALLPENDED only withdraws the faulting task's syscall.
    unsafe { write_volatile(reg::SCB_SHCSR, read_volatile(reg::SCB_SHCSR) & !SVCALLPENDED) }
}

extern "C" fn fault_entry() -> *mut Task {
    drop_pending_svcall();
    with_kernel(|k| {
        let cur = k.current;
        let fault = crate::faults::classify(take_fault_status(k.tasks[cur].save.psp));
        k.fault_task(cur, fault);
        k.reschedule();
        switch_to_current(k)
    })
}

extern "C" fn kernel_fault(exc_return: u32, msp: u32) -> ! {
    // Safety: reading SCB status registers only.
    let (cfsr, hfsr) = unsafe { (read_volatile(reg::SCB_CFSR), read_volatile(reg::SCB_HFSR)) };
    // Safety: the stacked frame is on the main stack at `msp`; pc is word 6.
    let pc = unsafe { read_volatile((msp as *const u32).add(6)) };
    if kernel_not_started() {
        early_report(format_args!(
            "fault before the kernel started: CFSR={:#010x} HFSR={:#010x} pc={:#010x} exc_return={:#x}",
            cfsr, hfsr, pc, exc_return
        ));
    }
    with_kernel(|k| {
        k.panic(format_args!(
            "fault in kernel: CFSR={:#010x} HFSR={:#010x} pc={:#010x} exc_return={:#x}",
            cfsr, hfsr, pc, exc_return
        ))
    })
}

/// Every device interrupt: mask it, post the owner's notification, and if
/// the owner now outranks the interrupted task, switch to it right here.
///
/// Device IRQs share the kernel's priority, so they are only ever taken
/// from a task (thread mode) or tail-chained after another kernel entry
/// has loaded the current task's registers; either way the save and
/// restore below see the current task, exactly as for a syscall. Switching
/// in the handler (rather than pending PendSV) saves an exception entry and
/// a second save/restore on every interrupt that wakes a task.
#[no_mangle]
#[unsafe(naked)]
pub unsafe extern "C" fn DefaultHandler() {
    naked_asm!(
        save_current!(),
        "bl {entry}",
        restore_r0_and_return!(),
        entry = sym irq_entry,
    )
}

extern "C" fn irq_entry() -> *mut Task {
    let ipsr: u32;
    // Safety: reading IPSR has no side effects.
    unsafe { core::arch::asm!("mrs {}, IPSR", out(reg) ipsr) };
    let irq = (ipsr & 0x1FF).wrapping_sub(16);
    irq_disable(irq);
    with_kernel(|k| {
        k.handle_irq(irq);
        switch_to_current(k)
    })
}

/// Ends a QEMU run with exit status `status` via semihosting
/// SYS_EXIT_EXTENDED (ADP_Stopped_ApplicationExit with a subcode).
pub fn semihost_exit(status: u32) -> ! {
    let block = [0x20026u32, status];
    loop {
        // Safety: the semihosting call only reads the two-word block.
        unsafe {
            core::arch::asm!("bkpt #0xAB", in("r0") 0x20u32, in("r1") block.as_ptr(), options(nostack));
        }
    }
}

/// Stops the machine after an unrecoverable kernel error: exit status 101
/// under semihosting (test images), otherwise a halt with interrupts off.
pub fn kernel_halt() -> ! {
    if cfg!(feature = "semihosting") {
        semihost_exit(101)
    }
    // Safety: masking interrupts is always sound; nothing runs after this.
    unsafe { core::arch::asm!("cpsid i") };
    loop {
        // Safety: WFI only waits.
        unsafe { core::arch::asm!("wfi") };
    }
}

// ---------------------------------------------------------------------------
// Reset and vector table.

extern "C" {
    static __kernel_stack_top: u32;
    static __vector_table: u32;
}

extern "Rust" {
    /// The board's entry point (in the kernel image crate): board start-up,
    /// then [`crate::startup::start_kernel`].
    fn kmain() -> !;
}

/// Reset: initialise RAM, enable the FPU, point VTOR at our table, then
/// call the board's `kmain`.
#[no_mangle]
pub unsafe extern "C" fn Reset() -> ! {
    // Safety: first code after reset: nothing else runs (no device
    // interrupt is enabled yet) and nothing has touched a static; the
    // kernel linker script bounds the kernel's own .data/.bss (crt0's
    // contract).
    unsafe {
        crt0::init_data_bss();
        // CP10/CP11 full access: tasks and kernel are built for hard float.
        write_volatile(reg::SCB_CPACR, read_volatile(reg::SCB_CPACR) | 0xF << 20);
        write_volatile(reg::SCB_VTOR, &raw const __vector_table as u32);
        core::arch::asm!("dsb", "isb");
        kmain()
    }
}

#[no_mangle]
extern "C" fn NmiHandler() {
    if kernel_not_started() {
        early_report(format_args!("NMI before the kernel started"));
    }
    with_kernel(|k| k.panic(format_args!("NMI")))
}

/// True until `start` has installed the kernel: board start-up is running
/// and `with_kernel` would dereference a null pointer.
fn kernel_not_started() -> bool {
    // Safety: a plain load of the pointer `start` sets once.
    unsafe { core::ptr::read_volatile(&raw const KERNEL).is_null() }
}

/// Prints `kern: PANIC: <args>` through the board's early sink (if start-up
/// got as far as registering one) and halts. For faults and NMIs taken
/// before the kernel exists.
fn early_report(args: core::fmt::Arguments<'_>) -> ! {
    if let Some(sink) = crate::klog::early_sink() {
        use core::fmt::Write;
        let mut w = crate::klog::Writer(sink);
        let _ = w.write_fmt(format_args!("kern: PANIC: {}\r\n", args));
    }
    kernel_halt()
}

type Vector = unsafe extern "C" fn();

/// Core exceptions 1..=15 with `svcall` as the SVCall handler (the same
/// table serves the real vectors and the boot table).
const fn core_exceptions(svcall: Vector) -> [Option<Vector>; 15] {
    [
        // Safety (transmute of Reset): a `-> !` function is ABI-compatible
        // with a `-> ()` one; the hardware only jumps to it.
        Some(unsafe { core::mem::transmute::<unsafe extern "C" fn() -> !, Vector>(Reset) }),
        Some(NmiHandler as Vector),
        Some(fault_common), // HardFault
        Some(fault_common), // MemManage
        Some(fault_common), // BusFault
        Some(fault_common), // UsageFault
        None,
        None,
        None,
        None,
        Some(svcall),
        None,                 // DebugMonitor
        None,
        None,                 // PendSV: unused
        Some(DefaultHandler), // SysTick: unused, never enabled
    ]
}

/// Core exceptions 1..=15 (the initial stack pointer is placed by the
/// linker script in front of this).
#[link_section = ".vector_table.exceptions"]
#[no_mangle]
#[used]
pub static EXCEPTIONS: [Option<Vector>; 15] = core_exceptions(SVCall);

/// The table `start` switches to for the first task's start: the core
/// exceptions, SVCall being [`FirstStart`] (the initial stack pointer slot
/// is read only at reset). VTOR wants a table aligned to its full size
/// rounded up to a power of two (98 vectors on the STM32F4: 512 bytes),
/// even though only these 16 can be taken meanwhile.
#[repr(C, align(512))]
struct BootVectors(Option<Vector>, [Option<Vector>; 15]);

static BOOT_VECTORS: BootVectors = BootVectors(None, core_exceptions(FirstStart));

/// Device interrupts: all go to [`DefaultHandler`], which routes by IRQ
/// number through the image's IRQ table.
#[link_section = ".vector_table.interrupts"]
#[no_mangle]
#[used]
pub static INTERRUPTS: [Vector; IRQ_COUNT] = [DefaultHandler; IRQ_COUNT];
