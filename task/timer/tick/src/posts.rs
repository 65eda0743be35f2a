//! The notifications one step of the tick path produces, batched per task.
//!
//! Why this module exists: one tick may expire many timers of one task and
//! run its hooks too; the task needs one `post` with all its bits, not one
//! per expiry. The tick path adds targets here as it goes; the server then
//! drains the batch (it is an iterator) and makes one syscall per task.
//!
//! Guarantees:
//! - At most one [`Post`] per task index per drain, carrying the OR of every
//!   bit added for it since the last drain, to the `TaskId` (generation
//!   included) most recently added for that index.
//! - Draining visits only the tasks that have bits (a bitmask of them), in
//!   increasing task index, and leaves the batch empty.
//! - A target whose task index is `OWNERS` or more, or whose bit is 32 or
//!   more, is dropped: it cannot name a task of the image or a bit.

use crate::target::Target;
use abi::TaskId;

/// One notification to send: `post(task, bits)`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Post {
    /// The raw `TaskId`, generation included: a post to a task that has
    /// since restarted fails, and the server then forgets that owner.
    pub task: u16,
    /// The notification bits, never 0.
    pub bits: u32,
}

/// The batch for up to `OWNERS` (at most 32) task indices.
pub struct Posts<const OWNERS: usize> {
    /// Bits to post, per task index.
    bits: [u32; OWNERS],
    /// The `TaskId` to post them to, per task index.
    to: [u16; OWNERS],
    /// Bit `i` set: `bits[i]` is non-zero.
    pending: u32,
}

impl<const OWNERS: usize> Default for Posts<OWNERS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const OWNERS: usize> Posts<OWNERS> {
    /// An empty batch.
    pub const fn new() -> Self {
        const { assert!(OWNERS <= 32, "a u32 mask holds one bit per owner") };
        Posts { bits: [0; OWNERS], to: [0; OWNERS], pending: 0 }
    }

    /// Adds `target`'s bit (dropped if out of range, see the module doc).
    #[inline]
    pub fn add(&mut self, target: Target) {
        let i = TaskId(target.task).index();
        if i < OWNERS && target.bit < 32 {
            self.bits[i] |= 1 << target.bit;
            self.to[i] = target.task;
            self.pending |= 1 << i;
        }
    }

    /// True if nothing is waiting to be posted.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pending == 0
    }

    /// The bits waiting for task index `i` (0 if none or out of range).
    pub fn pending_for(&self, i: usize) -> u32 {
        self.bits.get(i).copied().unwrap_or(0)
    }
}

impl<const OWNERS: usize> Iterator for Posts<OWNERS> {
    type Item = Post;

    /// Takes the waiting post of the lowest task index.
    #[inline]
    fn next(&mut self) -> Option<Post> {
        if self.pending == 0 {
            return None;
        }
        let i = self.pending.trailing_zeros() as usize;
        self.pending &= self.pending - 1;
        Some(Post { task: self.to[i], bits: core::mem::take(&mut self.bits[i]) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::Generation;
    use std::vec::Vec;

    fn id(index: usize, generation: u8) -> u16 {
        TaskId::for_index_and_gen(index, Generation::new(generation)).0
    }

    #[test]
    fn bits_of_one_task_merge_into_one_post_in_task_order() {
        let mut p = Posts::<32>::new();
        assert!(p.is_empty());
        p.add(Target { task: id(7, 1), bit: 0 });
        p.add(Target { task: id(3, 0), bit: 5 });
        p.add(Target { task: id(7, 1), bit: 4 });
        p.add(Target { task: id(7, 1), bit: 0 });
        p.add(Target { task: id(31, 2), bit: 31 });
        assert_eq!(p.pending_for(7), 0b10001);
        let got: Vec<Post> = p.by_ref().collect();
        assert_eq!(
            got,
            [
                Post { task: id(3, 0), bits: 1 << 5 },
                Post { task: id(7, 1), bits: 0b10001 },
                Post { task: id(31, 2), bits: 1 << 31 },
            ]
        );
        assert!(p.is_empty());
        assert_eq!(p.next(), None);
        assert_eq!(p.pending_for(7), 0);
    }

    #[test]
    fn the_latest_generation_of_an_index_is_the_one_posted() {
        let mut p = Posts::<8>::new();
        p.add(Target { task: id(2, 1), bit: 1 });
        p.add(Target { task: id(2, 2), bit: 2 });
        assert_eq!(p.collect::<Vec<_>>(), [Post { task: id(2, 2), bits: 0b110 }]);
    }

    #[test]
    fn out_of_range_targets_are_dropped() {
        let mut p = Posts::<8>::new();
        p.add(Target { task: id(8, 0), bit: 0 });
        p.add(Target { task: id(1, 0), bit: 32 });
        p.add(Target { task: u16::MAX, bit: 0 });
        assert!(p.is_empty());
        assert_eq!(p.pending_for(99), 0);
    }

    #[test]
    fn a_drain_interrupted_keeps_the_rest_for_the_next() {
        let mut p = Posts::<8>::new();
        for i in 0..4 {
            p.add(Target { task: id(i, 0), bit: i as u8 });
        }
        assert_eq!(p.next().map(|x| x.task), Some(id(0, 0)));
        p.add(Target { task: id(0, 0), bit: 9 });
        let rest: Vec<_> = p.map(|x| (TaskId(x.task).index(), x.bits)).collect();
        assert_eq!(rest, [(0, 1 << 9), (1, 2), (2, 4), (3, 8)]);
    }
}
