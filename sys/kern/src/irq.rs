//! Interrupt routing lookups: IRQ number to owner, and owner plus
//! notification mask back to IRQ numbers (for `irq_control`).
//!
//! Pure functions over the build-generated [`IrqEntry`] table (sorted by
//! IRQ number, one owner per IRQ), so they are tested on the host.

use crate::descs::IrqEntry;

/// The entry routing `irq`, if any task owns it. `table` must be sorted by
/// `irq` (the build guarantees it); lookup is a binary search.
pub fn lookup_irq(table: &[IrqEntry], irq: u32) -> Option<&IrqEntry> {
    table.binary_search_by_key(&irq, |e| e.irq).ok().map(|i| &table[i])
}

/// The IRQs owned by `task` whose notification bits intersect `mask`.
pub fn irqs_for_task(table: &[IrqEntry], task: usize, mask: u32) -> impl Iterator<Item = u32> + '_ {
    table
        .iter()
        .filter(move |e| e.task as usize == task && e.mask & mask != 0)
        .map(|e| e.irq)
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
        assert_eq!(lookup_irq(&TABLE, 29).map(|e| e.task), Some(4));
        assert_eq!(lookup_irq(&TABLE, 37).map(|e| e.mask), Some(4));
        assert!(lookup_irq(&TABLE, 30).is_none());
        assert!(lookup_irq(&[], 0).is_none());
    }

    #[test]
    fn finds_irqs_of_a_task_by_mask() {
        let v: Vec<u32> = irqs_for_task(&TABLE, 3, 0xFFFF_FFFF).collect();
        assert_eq!(v, [28, 37]);
        let v: Vec<u32> = irqs_for_task(&TABLE, 3, 4).collect();
        assert_eq!(v, [37]);
        assert_eq!(irqs_for_task(&TABLE, 4, 1).count(), 0);
    }
}
