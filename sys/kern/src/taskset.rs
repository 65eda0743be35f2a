//! A set of task indices as one 32-bit word.
//!
//! The kernel keeps two of these beside the task table: the tasks that are
//! runnable and the tasks blocked in `send`. Scheduling and `recv` then
//! visit only the members (usually one to three) instead of every task, so
//! their cost does not grow with the size of the image. One word bounds an
//! image at [`MAX_TASKS`] tasks; the build refuses more.

/// Most tasks an image may have: one bit per task in a [`TaskSet`].
pub const MAX_TASKS: usize = 32;

/// Task indices `0..MAX_TASKS`, bit `i` meaning task `i` is a member.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq)]
pub struct TaskSet(pub u32);

impl TaskSet {
    /// The empty set.
    pub const EMPTY: Self = Self(0);

    /// Adds task `i` (`i < MAX_TASKS`).
    #[inline(always)]
    pub fn insert(&mut self, i: usize) {
        self.0 |= 1 << i;
    }

    /// Removes task `i` (`i < MAX_TASKS`).
    #[inline(always)]
    pub fn remove(&mut self, i: usize) {
        self.0 &= !(1 << i);
    }

    /// True if task `i` is a member.
    #[inline(always)]
    pub fn contains(&self, i: usize) -> bool {
        self.0 >> i & 1 != 0
    }

    /// The members in ascending order.
    #[inline(always)]
    pub fn iter(self) -> impl Iterator<Item = usize> {
        Bits(self.0)
    }
}

/// Iterates the set bits of a word, lowest first.
struct Bits(u32);

impl Iterator for Bits {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let i = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_remove_contains() {
        let mut s = TaskSet::EMPTY;
        s.insert(0);
        s.insert(31);
        s.insert(5);
        assert!(s.contains(0) && s.contains(5) && s.contains(31));
        assert!(!s.contains(1));
        s.remove(5);
        assert!(!s.contains(5));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0, 31]);
    }
}
