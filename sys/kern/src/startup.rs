//! Boot: turning the build-generated image description into a running
//! kernel.
//!
//! The kernel image crate (`sys/kboot`) owns the generated tables and the
//! board start-up; it builds the task records with [`Task::new`] and calls
//! [`start_kernel`], which never returns.

use crate::{arch, klog, Kernel};

/// Prints the boot banner, then hands the CPU to the highest-priority task
/// marked to start. `kernel.current` is ignored.
pub fn start_kernel(kernel: &'static mut Kernel) -> ! {
    klog!(
        kernel,
        "kern: Escapement starting, {} tasks, image {:#018x}",
        kernel.tasks.len(),
        kernel.image_id
    );
    kernel.current = kernel.tasks.len() - 1;
    arch::start(kernel)
}

pub use crate::task::Task;
