//! The kernel image: the build-generated image description, board
//! start-up, and `kmain`, which hands everything to `kern`.
//!
//! `cargo xtask dist` generates `kconfig.rs` (task descriptors, regions,
//! IRQ routing, task names, image id) from app.toml and the task layout,
//! and links this crate at the start of flash.

#![no_std]
#![no_main]

mod board;

use core::mem::MaybeUninit;
use kern::descs::{IrqEntry, RegionAttributes, RegionDesc, TaskDesc};
use kern::startup::Task;
use kern::Kernel;

include!(concat!(env!("OUT_DIR"), "/kconfig.rs"));

/// The interrupt routing the build generated (`kern::irq::IrqRoutes`).
const IRQ_ROUTES: kern::irq::IrqRoutes = kern::irq::IrqRoutes::new(&IRQS, &IRQ_INDEX, &TASK_IRQ_STARTS);

/// Storage for the task table (name as in Hubris, for humility).
#[no_mangle]
static mut HUBRIS_TASK_TABLE_SPACE: MaybeUninit<[Task; TASK_COUNT]> = MaybeUninit::uninit();
static mut KERNEL_STATE: MaybeUninit<Kernel> = MaybeUninit::uninit();

#[no_mangle]
fn kmain() -> ! {
    board::init();
    // Shared regions (app.toml `[shared.*]`) start zeroed, which their
    // readers take as "never published" (RAM holds garbage after a reset
    // on silicon). Nothing else owns them: the build places them outside
    // the kernel's and every task's RAM.
    for &(base, size) in SHARED_REGIONS.iter() {
        // Safety: `base..base + size` is a shared region of RAM that the
        // build allocated apart from everything else; no task runs yet.
        unsafe { core::ptr::write_bytes(base as *mut u8, 0, size as usize) };
    }
    // Safety: kmain runs once, before any task or interrupt; these statics
    // are written here only and then owned by the kernel.
    unsafe {
        // Reading the id through a volatile load keeps the symbol's value
        // what the archive recorded, even under LTO.
        let image_id = core::ptr::read_volatile(&raw const HUBRIS_IMAGE_ID);
        // Each record is built straight into the table: the whole table is
        // kilobytes, more than the kernel's stack may hold as a temporary.
        let table = (&raw mut HUBRIS_TASK_TABLE_SPACE).cast::<Task>();
        for (i, desc) in HUBRIS_TASK_DESCS.iter().enumerate() {
            table.add(i).write(Task::new(desc));
        }
        let tasks: &'static mut [Task] = core::slice::from_raw_parts_mut(table, TASK_COUNT);
        let state = &mut *(&raw mut KERNEL_STATE);
        let kernel =
            state.write(Kernel::new(tasks, &HUBRIS_REGION_DESCS, IRQ_ROUTES, &TASK_NAMES, image_id, board::console_write, LOG_READER));
        kern::startup::start_kernel(kernel)
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    use core::fmt::Write;
    let mut w = kern::klog::Writer(board::console_write);
    let _ = write!(w, "kern: PANIC: {}\r\n", info);
    kern::arch::kernel_halt()
}
