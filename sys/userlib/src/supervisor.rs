//! Messages a task may send to the supervisor (task 0).
//!
//! The supervisor trusts a message because the kernel stamps it with its
//! sender; it trusts no post, since a post carries no sender. Today there
//! is one message: the image's `refill-task` (app.toml, supervisor
//! config) restores every task's restart budget.

use crate::{sys_send, Generation, TaskId};

/// The supervisor's id: task 0, which is never restarted.
pub const SUPERVISOR: TaskId = TaskId::for_index_and_gen(0, Generation::ZERO);

/// Operation: restore every restart budget. No payload, no reply bytes.
pub const OP_REFILL: u16 = 1;

/// Reply code: the sender is not the image's `refill-task`.
pub const REFILL_NOT_PERMITTED: u32 = 1;

/// Asks the supervisor to restore every restart budget. `Err` carries
/// [`REFILL_NOT_PERMITTED`] unless the caller is the image's refill task.
pub fn refill() -> Result<(), u32> {
    match sys_send(SUPERVISOR, OP_REFILL, &[], &mut [], &[]) {
        (0, _) => Ok(()),
        (code, _) => Err(code),
    }
}
