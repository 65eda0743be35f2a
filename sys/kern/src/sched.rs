//! The scheduling decision: which runnable task gets the CPU.
//!
//! Fixed priorities, 0 highest. Among runnable tasks of the best priority
//! the choice rotates, starting just after the current task, so equal
//! priorities share the CPU round-robin at each scheduling point. Pure and
//! host-tested; the kernel calls it after every syscall and interrupt that
//! changed a task's state.

/// Picks the next task. `priority_if_runnable(i)` gives task `i`'s priority
/// when it is runnable and `None` otherwise; `count` is the number of tasks
/// and `current` the task that ran last. `None` only if nothing is runnable
/// (impossible in a valid image, where idle never blocks).
#[inline(always)]
pub fn select(current: usize, count: usize, priority_if_runnable: impl Fn(usize) -> Option<u8>) -> Option<usize> {
    // Two plain passes in rotation order (after `current`, then up to and
    // including it) instead of a modulo per step: this runs whenever a task
    // blocks. The first task found at the best priority keeps it.
    let mut best_i = usize::MAX;
    let mut best_p = u8::MAX;
    let mut consider = |i: usize| {
        if let Some(p) = priority_if_runnable(i) {
            if best_i == usize::MAX || p < best_p {
                best_i = i;
                best_p = p;
            }
        }
    };
    let split = (current + 1).min(count);
    for i in split..count {
        consider(i);
    }
    for i in 0..split {
        consider(i);
    }
    (best_i != usize::MAX).then_some(best_i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(current: usize, tasks: &[(u8, bool)]) -> Option<usize> {
        select(current, tasks.len(), |i| tasks[i].1.then_some(tasks[i].0))
    }

    #[test]
    fn highest_priority_runnable_wins() {
        let t = [(0, false), (1, true), (3, true), (7, true)];
        assert_eq!(pick(3, &t), Some(1));
        assert_eq!(pick(1, &t), Some(1));
    }

    #[test]
    fn blocked_tasks_are_skipped() {
        let t = [(0, false), (1, false), (3, false), (7, true)];
        assert_eq!(pick(0, &t), Some(3));
    }

    #[test]
    fn equal_priorities_rotate_after_current() {
        let t = [(0, false), (2, true), (2, true), (2, true), (7, true)];
        assert_eq!(pick(1, &t), Some(2));
        assert_eq!(pick(2, &t), Some(3));
        assert_eq!(pick(3, &t), Some(1));
    }

    #[test]
    fn nothing_runnable_is_none() {
        assert_eq!(pick(0, &[(0, false), (1, false)]), None);
    }

    #[test]
    fn current_is_chosen_when_alone_at_best_priority() {
        let t = [(0, false), (1, true), (2, true)];
        assert_eq!(pick(1, &t), Some(1));
    }
}
