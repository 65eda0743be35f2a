//! The supervisor's restart policy: which faulted task to restart, and
//! who may restore the budgets. Pure and host-tested; the supervisor task
//! is the glue between this and the kernel.
//!
//! Guarantees:
//! - A task is restarted at most `max_restarts` times between two refills
//!   (tasks named in app.toml's `always-restart-tasks` excepted: those are
//!   restarted after every fault).
//! - Only a refill *message* from the task app.toml names as
//!   `refill-task` restores the budgets. The kernel stamps every message
//!   with its sender, so no other task can forge one. Posts carry no
//!   sender, so the policy never trusts them: a notification only makes
//!   the supervisor look for faulted tasks.
//! - The supervisor itself (task 0) is never restarted by this policy.

#![no_std]

/// Tasks an image may have (the kernel's limit).
pub const MAX_TASKS: usize = 32;

/// What to do with one faulted task.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum Decision {
    /// Restart it (its budget has been charged).
    Restart,
    /// Leave it faulted: its budget is spent until the next refill.
    LeaveDown,
}

/// Answer to a refill request.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum Refill {
    /// Every budget is full again.
    Done,
    /// The sender is not the image's refill task; nothing changed.
    NotPermitted,
}

/// Restart budgets for every task of an image.
#[derive(Clone, Debug)]
pub struct RestartPolicy {
    max_restarts: u32,
    /// Bit `i`: task `i` is restarted after every fault.
    always: u32,
    /// Index of the task allowed to refill, if any.
    refill_task: Option<usize>,
    left: [u32; MAX_TASKS],
    /// Restarts made, per task, since boot (for diagnostics).
    restarts: [u32; MAX_TASKS],
}

impl RestartPolicy {
    /// A policy with every budget full.
    pub const fn new(max_restarts: u32, always: u32, refill_task: Option<usize>) -> Self {
        Self { max_restarts, always, refill_task, left: [max_restarts; MAX_TASKS], restarts: [0; MAX_TASKS] }
    }

    /// Decides for faulted task `i`, charging its budget when it is
    /// restarted. Task 0 (the supervisor) and indices past
    /// [`MAX_TASKS`] are never restarted.
    pub fn on_fault(&mut self, i: usize) -> Decision {
        if i == 0 || i >= MAX_TASKS {
            return Decision::LeaveDown;
        }
        if self.always & (1 << i) == 0 {
            if self.left[i] == 0 {
                return Decision::LeaveDown;
            }
            self.left[i] -= 1;
        }
        self.restarts[i] = self.restarts[i].saturating_add(1);
        Decision::Restart
    }

    /// A refill request from the task with index `sender` (as the kernel
    /// reported it).
    pub fn on_refill(&mut self, sender: usize) -> Refill {
        if self.refill_task != Some(sender) {
            return Refill::NotPermitted;
        }
        self.left = [self.max_restarts; MAX_TASKS];
        Refill::Done
    }

    /// Restarts left for task `i` before the next refill.
    pub fn left(&self, i: usize) -> u32 {
        self.left.get(i).copied().unwrap_or(0)
    }

    /// Restarts of task `i` since boot.
    pub fn restarts(&self, i: usize) -> u32 {
        self.restarts.get(i).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_loop_stops_at_the_budget() {
        let mut p = RestartPolicy::new(3, 0, Some(4));
        let decisions: [Decision; 5] = core::array::from_fn(|_| p.on_fault(2));
        assert_eq!(decisions, [Decision::Restart, Decision::Restart, Decision::Restart, Decision::LeaveDown, Decision::LeaveDown]);
        assert_eq!((p.left(2), p.restarts(2)), (0, 3));
        // Other tasks keep their own budget.
        assert_eq!(p.on_fault(3), Decision::Restart);
    }

    #[test]
    fn only_the_refill_task_restores_budgets() {
        let mut p = RestartPolicy::new(1, 0, Some(4));
        assert_eq!(p.on_fault(2), Decision::Restart);
        assert_eq!(p.on_fault(2), Decision::LeaveDown);
        for sender in [0, 1, 2, 3, 5, 31, 1023] {
            assert_eq!(p.on_refill(sender), Refill::NotPermitted);
            assert_eq!(p.on_fault(2), Decision::LeaveDown, "a refill from {sender} was honoured");
        }
        assert_eq!(p.on_refill(4), Refill::Done);
        assert_eq!(p.on_fault(2), Decision::Restart);
    }

    #[test]
    fn without_a_refill_task_nobody_refills() {
        let mut p = RestartPolicy::new(1, 0, None);
        p.on_fault(2);
        assert!((0..MAX_TASKS + 2).all(|s| p.on_refill(s) == Refill::NotPermitted));
        assert_eq!(p.on_fault(2), Decision::LeaveDown);
    }

    #[test]
    fn always_restart_tasks_have_no_budget_and_the_supervisor_is_never_restarted() {
        let mut p = RestartPolicy::new(2, 1 << 5 | 1, None);
        assert!((0..1000).all(|_| p.on_fault(5) == Decision::Restart));
        assert_eq!(p.restarts(5), 1000);
        assert_eq!(p.on_fault(0), Decision::LeaveDown);
        assert_eq!(p.on_fault(MAX_TASKS), Decision::LeaveDown);
        assert_eq!(p.on_fault(usize::MAX), Decision::LeaveDown);
    }
}
