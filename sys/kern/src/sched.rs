//! The scheduling decision: which runnable task gets the CPU.
//!
//! Fixed priorities, 0 highest. Among runnable tasks of the best priority
//! the choice rotates, starting just after the current task, so equal
//! priorities share the CPU round-robin at each scheduling point. Pure and
//! host-tested; the kernel feeds it the members of its runnable set (see
//! [`crate::taskset`]) whenever the cheap choice after a syscall does not
//! settle who runs.

use crate::taskset::TaskSet;

/// Picks the next task among `runnable`: the first of the best priority in
/// rotation order, which visits the tasks after `current` first and ends
/// with `current` itself. `None` only if the set is empty (impossible in a
/// valid image, where idle never blocks).
#[inline(always)]
pub fn select(runnable: TaskSet, current: usize, priority: impl Fn(usize) -> u8) -> Option<usize> {
    // Rotating the word puts task `current + 1` at bit 0; indices wrap at
    // 32, and no index at or above the task count is ever set, so walking
    // the rotated bits upwards is exactly the rotation order.
    let shift = (current as u32 + 1) & 31;
    let mut rest = runnable.0.rotate_right(shift);
    let mut best: Option<(usize, u8)> = None;
    while rest != 0 {
        let i = (rest.trailing_zeros() + shift) as usize & 31;
        rest &= rest - 1;
        let p = priority(i);
        if best.is_none_or(|(_, bp)| p < bp) {
            best = Some((i, p));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(current: usize, tasks: &[(u8, bool)]) -> Option<usize> {
        let mut set = TaskSet::EMPTY;
        for (i, t) in tasks.iter().enumerate() {
            if t.1 {
                set.insert(i);
            }
        }
        select(set, current, |i| tasks[i].0)
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
    fn rotation_wraps_at_the_last_of_32_tasks() {
        let mut t = [(9, false); 32];
        t[31] = (2, true);
        t[0] = (2, true);
        t[5] = (2, true);
        assert_eq!(pick(31, &t), Some(0));
        assert_eq!(pick(0, &t), Some(5));
        assert_eq!(pick(5, &t), Some(31));
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
