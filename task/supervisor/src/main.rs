//! The supervisor (task 0): restarts tasks that fault.
//!
//! The kernel posts the `fault` notification (bit 0) whenever any task
//! faults. The supervisor then asks the kernel for each faulted task and,
//! as [`supervisor_policy`] decides, restarts it, which bumps the task's
//! generation, so its clients see a dead code and re-send with a fresh id.
//!
//! Restarts are bounded: each task may be restarted `max-restarts` times
//! (app.toml, supervisor config; default 8) until the budgets are refilled.
//! A task that exceeds it is left faulted: a crash loop would otherwise
//! take the CPU from everyone, and with 6-bit generations a stale `TaskId`
//! would name a live task again after 64 restarts. The kernel keeps no
//! time, so refills come from outside, and only as a message from the task
//! app.toml names `refill-task` (see `userlib::supervisor`); a post of any
//! bit by any task only makes the supervisor look for faulted tasks.
//! Tasks named in `always-restart-tasks` are restarted after every fault.

#![no_std]
#![no_main]

use supervisor_policy::{Decision, Refill, RestartPolicy};
use userlib::{kipc, supervisor, ReplyFaultReason};

include!(concat!(env!("OUT_DIR"), "/task_config.rs"));
include!(concat!(env!("OUT_DIR"), "/policy_config.rs"));

/// Restarts allowed per task between refills.
const MAX_RESTARTS: u32 = match config::MAX_RESTARTS {
    0 => 8,
    n => n,
};

#[export_name = "main"]
fn main() -> ! {
    // The kernel posts bit 0; app.toml must name it first.
    const _: () = assert!(notifications::FAULT_MASK == userlib::SUPERVISOR_FAULT_MASK);
    let mut policy = RestartPolicy::new(MAX_RESTARTS, ALWAYS_RESTART, REFILL_TASK);
    loop {
        let msg = userlib::sys_recv_open(&mut [], notifications::FAULT_MASK);
        if msg.is_notification() {
            restart_faulted(&mut policy);
            continue;
        }
        match (msg.operation, msg.message_len, msg.lease_count) {
            (op, 0, 0) if op == supervisor::OP_REFILL as u32 => {
                let code = match policy.on_refill(msg.sender.index()) {
                    Refill::Done => 0,
                    Refill::NotPermitted => supervisor::REFILL_NOT_PERMITTED,
                };
                userlib::sys_reply(msg.sender, code, &[]);
                // Tasks left down may now be restarted.
                restart_faulted(&mut policy);
            }
            (op, _, _) if op == supervisor::OP_REFILL as u32 => {
                userlib::sys_reply_fault(msg.sender, ReplyFaultReason::BadMessageSize)
            }
            _ => userlib::sys_reply_fault(msg.sender, ReplyFaultReason::UndefinedOperation),
        }
    }
}

/// Restarts every faulted task the policy allows.
fn restart_faulted(policy: &mut RestartPolicy) {
    let mut next = 1;
    while let Some(i) = kipc::find_faulted_task(next) {
        if policy.on_fault(i) == Decision::Restart {
            kipc::restart_task(i, true);
        }
        next = i + 1;
    }
}
