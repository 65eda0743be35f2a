//! Interrupt routing: IRQ number to owner, and owner plus notification
//! mask back to IRQ numbers (for `irq_control` and the re-enabling
//! receive).
//!
//! Why a module: both lookups run on the hottest kernel paths (every
//! interrupt, and every receive of the timer server), so the build
//! generates tables that make each a few loads instead of a search
//! ([`IrqRoutes`]); the lookups are pure functions over them, tested on
//! the host.
//!
//! Guarantees: a lookup never reads outside its tables, whatever IRQ
//! number or task index it is given (an unrouted IRQ, or a task with no
//! IRQs, finds nothing); [`IrqRoutes::consistent`] checks the three
//! tables agree, and the kernel checks it once at boot.

use crate::descs::IrqEntry;

/// The build-generated routing tables (see `build/xtask/src/kconfig.rs`).
#[derive(Copy, Clone, Debug)]
pub struct IrqRoutes {
    /// Every routed IRQ, one entry each, grouped by owner in task order.
    table: &'static [IrqEntry],
    /// For NVIC line `n` (`n < index.len()`), the `table` index of its
    /// entry, or [`IrqRoutes::NONE`].
    index: &'static [u8],
    /// Task `i`'s entries are `table[starts[i]..starts[i + 1]]`.
    starts: &'static [u8],
}

impl IrqRoutes {
    /// `index` value of a line no task owns.
    pub const NONE: u8 = u8::MAX;

    /// No IRQ routed.
    pub const EMPTY: IrqRoutes = IrqRoutes { table: &[], index: &[], starts: &[] };

    /// The routes over the build's tables.
    pub const fn new(table: &'static [IrqEntry], index: &'static [u8], starts: &'static [u8]) -> Self {
        IrqRoutes { table, index, starts }
    }

    /// The entry routing `irq`, if any task owns it: two loads.
    #[inline(always)]
    pub fn lookup(&self, irq: u32) -> Option<&IrqEntry> {
        let k = *self.index.get(irq as usize)?;
        self.table.get(usize::from(k))
    }

    /// The entries of task `task` (none for an index out of range).
    #[inline(always)]
    pub fn of_task(&self, task: usize) -> &'static [IrqEntry] {
        match (self.starts.get(task), self.starts.get(task + 1)) {
            (Some(&s), Some(&e)) => self.table.get(usize::from(s)..usize::from(e)).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// [`IrqRoutes::of_task`] without its range checks.
    ///
    /// # Safety
    /// `task + 1 < self.starts.len()` (the kernel checks at boot that
    /// `starts` has an entry per task and one more), and the tables are
    /// [`IrqRoutes::consistent`].
    #[inline(always)]
    pub unsafe fn of_task_unchecked(&self, task: usize) -> &'static [IrqEntry] {
        // Safety: per the contract.
        unsafe {
            let s = usize::from(*self.starts.get_unchecked(task));
            let e = usize::from(*self.starts.get_unchecked(task + 1));
            self.table.get_unchecked(s..e)
        }
    }

    /// Entries in `starts`.
    pub fn starts_len(&self) -> usize {
        self.starts.len()
    }

    /// The IRQs owned by `task` whose notification bits intersect `mask`.
    #[inline(always)]
    pub fn irqs_for_task(&self, task: usize, mask: u32) -> impl Iterator<Item = u32> {
        self.of_task(task).iter().filter(move |e| e.mask & mask != 0).map(|e| e.irq)
    }

    /// True if the tables agree: `table` grouped by task as `starts`
    /// says, each entry's owner the task whose range holds it, and
    /// `index` naming exactly the routed lines.
    pub fn consistent(&self) -> bool {
        let grouped = self.starts.windows(2).enumerate().all(|(t, w)| {
            w[0] <= w[1] && self.table.get(usize::from(w[0])..usize::from(w[1])).is_some_and(|s| s.iter().all(|e| usize::from(e.task) == t))
        });
        let covered = self.starts.last().map_or(self.table.is_empty(), |&e| usize::from(e) == self.table.len());
        let indexed = self.table.iter().enumerate().all(|(k, e)| self.index.get(e.irq as usize) == Some(&(k as u8)));
        let nothing_else = self.index.iter().filter(|&&k| k != Self::NONE).count() == self.table.len();
        grouped && covered && indexed && nothing_else && self.table.len() < usize::from(Self::NONE)
    }

    /// The tables for `entries` (any order), built as the build builds
    /// them, for tests.
    #[cfg(test)]
    pub fn from_entries(entries: &[IrqEntry], tasks: usize) -> IrqRoutes {
        let mut table = entries.to_vec();
        table.sort_by_key(|e| (e.task, e.irq));
        let lines = table.iter().map(|e| e.irq as usize + 1).max().unwrap_or(0);
        let mut index = vec![Self::NONE; lines];
        for (k, e) in table.iter().enumerate() {
            index[e.irq as usize] = k as u8;
        }
        let starts: Vec<u8> = (0..=tasks).map(|t| table.iter().filter(|e| usize::from(e.task) < t).count() as u8).collect();
        IrqRoutes::new(table.leak(), index.leak(), starts.leak())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: [IrqEntry; 3] = [
        IrqEntry { irq: 28, task: 3, mask: 1 },
        IrqEntry { irq: 29, task: 4, mask: 2 },
        IrqEntry { irq: 37, task: 3, mask: 4 },
    ];

    #[test]
    fn finds_owner_of_each_irq() {
        let r = IrqRoutes::from_entries(&TABLE, 6);
        assert!(r.consistent());
        assert_eq!(r.lookup(29).map(|e| e.task), Some(4));
        assert_eq!(r.lookup(37).map(|e| e.mask), Some(4));
        assert!(r.lookup(30).is_none());
        assert!(r.lookup(u32::MAX).is_none());
        assert!(IrqRoutes::EMPTY.lookup(0).is_none());
        assert!(IrqRoutes::EMPTY.consistent());
    }

    #[test]
    fn finds_irqs_of_a_task_by_mask() {
        let r = IrqRoutes::from_entries(&TABLE, 6);
        let v: Vec<u32> = r.irqs_for_task(3, 0xFFFF_FFFF).collect();
        assert_eq!(v, [28, 37]);
        let v: Vec<u32> = r.irqs_for_task(3, 4).collect();
        assert_eq!(v, [37]);
        assert_eq!(r.irqs_for_task(4, 1).count(), 0);
        assert_eq!(r.irqs_for_task(0, u32::MAX).count(), 0);
        // A task index past the table finds nothing rather than faulting.
        assert_eq!(r.irqs_for_task(99, u32::MAX).count(), 0);
    }

    #[test]
    fn inconsistent_tables_are_caught() {
        static T: [IrqEntry; 2] = [IrqEntry { irq: 5, task: 1, mask: 1 }, IrqEntry { irq: 3, task: 0, mask: 1 }];
        // Not grouped in task order.
        assert!(!IrqRoutes::new(&T, &[NONE, NONE, NONE, 1, NONE, 0], &[0, 1, 2]).consistent());
        static G: [IrqEntry; 2] = [IrqEntry { irq: 3, task: 0, mask: 1 }, IrqEntry { irq: 5, task: 1, mask: 1 }];
        assert!(IrqRoutes::new(&G, &[NONE, NONE, NONE, 0, NONE, 1], &[0, 1, 2]).consistent());
        // An index entry for a line nobody owns, or a wrong one.
        assert!(!IrqRoutes::new(&G, &[0, NONE, NONE, 0, NONE, 1], &[0, 1, 2]).consistent());
        assert!(!IrqRoutes::new(&G, &[NONE, NONE, NONE, 1, NONE, 0], &[0, 1, 2]).consistent());
        // Ranges that do not cover the table.
        assert!(!IrqRoutes::new(&G, &[NONE, NONE, NONE, 0, NONE, 1], &[0, 1, 1]).consistent());
    }

    const NONE: u8 = IrqRoutes::NONE;
}
