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
use kern::descs::{IrqEntry, RegionDesc, TaskDesc};
use kern::startup::Task;
use kern::Kernel;

include!(concat!(env!("OUT_DIR"), "/kconfig.rs"));

/// Storage for the task table (name as in Hubris, for humility).
#[no_mangle]
static mut HUBRIS_TASK_TABLE_SPACE: MaybeUninit<[Task; TASK_COUNT]> = MaybeUninit::uninit();
static mut KERNEL_STATE: MaybeUninit<Kernel> = MaybeUninit::uninit();

#[no_mangle]
fn kmain() -> ! {
    board::init();
    // Safety: kmain runs once, before any task or interrupt; these statics
    // are written here only and then owned by the kernel.
    unsafe {
        // Reading the id through a volatile load keeps the symbol's value
        // what the archive recorded, even under LTO.
        let image_id = core::ptr::read_volatile(&raw const HUBRIS_IMAGE_ID);
        let table = &mut *(&raw mut HUBRIS_TASK_TABLE_SPACE);
        let tasks: &'static mut [Task] = table.write(core::array::from_fn(|i| Task::new(&HUBRIS_TASK_DESCS[i])));
        let state = &mut *(&raw mut KERNEL_STATE);
        let kernel =
            state.write(Kernel::new(tasks, &HUBRIS_REGION_DESCS, &IRQS, &TASK_NAMES, image_id, board::console_write));
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
