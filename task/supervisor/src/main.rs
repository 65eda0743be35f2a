//! The supervisor (task 0): restarts tasks that fault.
//!
//! The kernel posts the `fault` notification (bit 0) whenever any task
//! faults. The supervisor then asks the kernel for each faulted task and
//! restarts it, which bumps the task's generation, so its clients see a
//! dead code and re-send with a fresh id.
//!
//! Restarts are bounded: each task may be restarted `MAX_RESTARTS` times
//! per budget period (app.toml `config.max-restarts`, default 8). A task
//! that exceeds it is left faulted (a crash loop would otherwise take the
//! CPU from everyone). The kernel keeps no time, so the period is driven
//! from outside: each `refill` notification (posted, for instance, by the
//! timer server once a second) restores every budget. Without refills the
//! bound is simply `MAX_RESTARTS` restarts per task.

#![no_std]
#![no_main]

use userlib::kipc;

include!(concat!(env!("OUT_DIR"), "/task_config.rs"));

/// Restarts allowed per task between refills.
const MAX_RESTARTS: u32 = match option_u32(config::MAX_RESTARTS) {
    Some(n) => n,
    None => 8,
};

/// Upper bound on tasks the budget table covers.
const MAX_TASKS: usize = 64;

const fn option_u32(v: u32) -> Option<u32> {
    if v == 0 { None } else { Some(v) }
}

#[export_name = "main"]
fn main() -> ! {
    // The kernel posts bit 0; app.toml must name it first.
    const _: () = assert!(notifications::FAULT_MASK == userlib::SUPERVISOR_FAULT_MASK);
    let mut budget = [MAX_RESTARTS; MAX_TASKS];
    loop {
        let bits = userlib::sys_recv_notification(notifications::FAULT_MASK | notifications::REFILL_MASK);
        if bits & notifications::REFILL_MASK != 0 {
            budget = [MAX_RESTARTS; MAX_TASKS];
        }
        let mut next = 1;
        while let Some(i) = kipc::find_faulted_task(next) {
            let slot = budget.get_mut(i);
            match slot {
                Some(b) if *b > 0 => {
                    *b -= 1;
                    kipc::restart_task(i, true);
                }
                // Out of budget (or beyond the table): leave it faulted until
                // the next refill.
                _ => {}
            }
            next = i + 1;
        }
    }
}
