//! Kernel IPC: the small set of kernel services reached by `send` to
//! [`TaskId::KERNEL`] (see [`KernelOp`] for the wire format).
//!
//! The supervisor uses these to watch and restart tasks; test images use
//! [`semihost_exit`] to end a QEMU run with a status.

use crate::{sys_send, KernelOp, TaskId, TaskStatus};
use zerocopy::FromBytes;

fn kcall(op: KernelOp, arg: &[u8], reply: &mut [u8]) -> (u32, usize) {
    sys_send(TaskId::KERNEL, op as u16, arg, reply, &[])
}

/// The status record of task `index`. Faults the caller for a bad index.
pub fn read_task_status(index: usize) -> TaskStatus {
    let mut reply = [0u8; abi::TASK_STATUS_LEN];
    kcall(KernelOp::ReadTaskStatus, &(index as u32).to_le_bytes(), &mut reply);
    TaskStatus::read_from_bytes(&reply).unwrap_or_default()
}

/// The first faulted task at index `start` or later. Supervisor only.
pub fn find_faulted_task(start: usize) -> Option<usize> {
    let mut reply = [0u8; 4];
    kcall(KernelOp::FindFaultedTask, &(start as u32).to_le_bytes(), &mut reply);
    match u32::from_le_bytes(reply) {
        u32::MAX => None,
        i => Some(i as usize),
    }
}

/// Restarts task `index` with a new generation; it runs at once if
/// `start`. Supervisor only.
pub fn restart_task(index: usize, start: bool) {
    let mut arg = [0u8; 8];
    arg[..4].copy_from_slice(&(index as u32).to_le_bytes());
    arg[4..].copy_from_slice(&(start as u32).to_le_bytes());
    kcall(KernelOp::RestartTask, &arg, &mut []);
}

/// The image id compiled into the kernel (`HUBRIS_IMAGE_ID`).
pub fn read_image_id() -> u64 {
    let mut reply = [0u8; 8];
    kcall(KernelOp::ReadImageId, &[], &mut reply);
    u64::from_le_bytes(reply)
}

/// Moves the oldest unread bytes of the kernel log into `buf` (at most
/// 128); returns how many (0: the log is empty). Only the task app.toml
/// names as `[kernel] log-task` may call it; the kernel faults any other.
pub fn read_log(buf: &mut [u8]) -> usize {
    kcall(KernelOp::ReadLog, &[], buf).1.min(buf.len())
}

/// Ends the QEMU run with `status` (0 = pass). Faults the caller in images
/// built without semihosting.
pub fn semihost_exit(status: u32) -> ! {
    kcall(KernelOp::SemihostExit, &status.to_le_bytes(), &mut []);
    crate::sys_panic(b"semihost exit returned")
}
