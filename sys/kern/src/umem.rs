//! Checks of task-supplied memory ranges against the task's own regions.
//!
//! Every pointer a task hands the kernel (syscall buffers, lease tables,
//! leases) passes through [`task_can_access`] before the kernel touches it,
//! so a task can never make the kernel read or write memory the task could
//! not touch itself. None of them may name device memory either: the
//! kernel copies with word and unaligned accesses, which a peripheral's
//! registers may not accept (an unaligned access to Device memory faults
//! on ARMv7-M, and a read can have side effects), so a task cannot make
//! the kernel touch its peripherals on its behalf.

use crate::descs::{RegionDesc, TaskDesc};

/// True if `[base, base+len)` lies inside a single region of `task` that
/// grants all of `needed` (`region_attr` bits) and is normal memory (not
/// [`crate::descs::region_attr::DEVICE`]). Zero-length ranges must still point into (or
/// at the end of) such a region, so a null pointer with length 0 is
/// accepted only if the task owns address 0.
///
/// A range spanning two adjacent regions is refused: regions are
/// allocated independently, and adjacency is not a promise.
#[inline]
pub fn task_can_access(task: &TaskDesc, regions: &[RegionDesc], base: u32, len: u32, needed: u32) -> bool {
    task.regions.iter().any(|&r| {
        regions
            .get(r as usize)
            .is_some_and(|reg| !reg.attributes.is_device() && reg.contains(base, len, needed))
    })
}

/// Copies `len <= 16` bytes without a loop: two or four (possibly
/// overlapping) words, or for 1-3 bytes the first, middle and last byte.
/// Rewriting a destination byte with the same source byte is harmless.
/// Most IPC messages and replies are this short, and a call into memmove
/// (or a loop) costs more than the copy. Words are read and written
/// unaligned: ARMv7-M allows that for normal memory, and task buffers are
/// never device memory ([`task_can_access`] refuses it).
///
/// # Safety
/// `src` is valid for reads and `dst` for writes of `len` bytes, the two
/// ranges do not overlap, and `len <= 16`.
#[inline(always)]
pub unsafe fn copy_small(src: *const u8, dst: *mut u8, len: usize) {
    let word = |o: usize| {
        // Safety: every call below has `o + 4 <= len`, within both ranges.
        unsafe { dst.add(o).cast::<u32>().write_unaligned(src.add(o).cast::<u32>().read_unaligned()) }
    };
    let byte = |o: usize| {
        // Safety: every call below has `o < len`.
        unsafe { dst.add(o).write(src.add(o).read()) }
    };
    if len > 8 {
        word(0);
        word(4);
        word(len - 8);
        word(len - 4);
    } else if len >= 4 {
        word(0);
        word(len - 4);
    } else if len > 0 {
        byte(0);
        byte(len / 2);
        byte(len - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descs::region_attr::*;
    use crate::descs::RegionAttributes;

    const REGIONS: [RegionDesc; 4] = [
        RegionDesc::EMPTY,
        RegionDesc { base: 0x0800_8000, size: 0x2000, attributes: RegionAttributes::from_bits(READ | EXECUTE) },
        RegionDesc { base: 0x2000_4000, size: 0x400, attributes: RegionAttributes::from_bits(READ | WRITE) },
        RegionDesc { base: 0x4001_1000, size: 0x400, attributes: RegionAttributes::from_bits(READ | WRITE | DEVICE) },
    ];

    fn desc() -> TaskDesc {
        TaskDesc {
            regions: [1, 2, 3, 0, 0, 0, 0, 0],
            entry_point: 0x0800_8001,
            initial_stack: 0x2000_4200,
            priority: 2,
            flags: 0,
            index: 1,
        }
    }

    #[test]
    fn ram_is_readable_and_writable_in_bounds() {
        let d = desc();
        assert!(task_can_access(&d, &REGIONS, 0x2000_4000, 0x400, READ | WRITE));
        assert!(task_can_access(&d, &REGIONS, 0x2000_43FF, 1, WRITE));
        assert!(!task_can_access(&d, &REGIONS, 0x2000_43FF, 2, WRITE));
        assert!(!task_can_access(&d, &REGIONS, 0x2000_3FFF, 1, READ));
    }

    #[test]
    fn flash_is_read_only() {
        let d = desc();
        assert!(task_can_access(&d, &REGIONS, 0x0800_8000, 16, READ));
        assert!(!task_can_access(&d, &REGIONS, 0x0800_8000, 16, WRITE));
    }

    #[test]
    fn other_tasks_memory_and_wrapping_ranges_are_refused() {
        let d = desc();
        assert!(!task_can_access(&d, &REGIONS, 0x2000_0000, 4, READ));
        assert!(!task_can_access(&d, &REGIONS, 0xFFFF_FFF0, 0x20, READ));
        assert!(!task_can_access(&d, &REGIONS, 0x2000_4000, u32::MAX, READ));
    }

    #[test]
    fn empty_region_grants_nothing() {
        let mut d = desc();
        d.regions = [0; 8];
        assert!(!task_can_access(&d, &REGIONS, 0, 0, 0));
    }

    #[test]
    fn kernel_copies_never_touch_device_memory() {
        let d = desc();
        assert!(!task_can_access(&d, &REGIONS, 0x4001_1000, 4, READ));
        assert!(!task_can_access(&d, &REGIONS, 0x4001_1000, 0, 0));
        assert!(task_can_access(&d, &REGIONS, 0x2000_4010, 4, READ));
    }

    /// A shared region's reader maps it READ only; a window is a device
    /// region. Neither may be written through the kernel: not as a recv
    /// buffer, a reply buffer, a writable lease or a `borrow_read`
    /// destination (all of them are checked with WRITE), and a window is
    /// not even readable through it.
    #[test]
    fn read_only_shared_regions_and_windows_are_never_written_for_a_reader() {
        const R: [RegionDesc; 5] = [
            RegionDesc::EMPTY,
            RegionDesc { base: 0x2000_4000, size: 0x400, attributes: RegionAttributes::from_bits(READ | WRITE) },
            // The time page, as its reader sees it.
            RegionDesc { base: 0x2001_0000, size: 0x40, attributes: RegionAttributes::from_bits(READ) },
            // TIM5's CNT granule, read-only window.
            RegionDesc { base: 0x4000_0C20, size: 0x20, attributes: RegionAttributes::from_bits(READ | DEVICE) },
            // The same page, as its writer sees it.
            RegionDesc { base: 0x2001_0000, size: 0x40, attributes: RegionAttributes::from_bits(READ | WRITE) },
        ];
        let mut reader = desc();
        reader.regions = [1, 2, 3, 0, 0, 0, 0, 0];
        assert!(task_can_access(&reader, &R, 0x2001_0000, 0x40, READ), "a reader may lend the page read-only");
        assert!(!task_can_access(&reader, &R, 0x2001_0000, 4, WRITE));
        assert!(!task_can_access(&reader, &R, 0x2001_0000, 0x40, READ | WRITE));
        assert!(!task_can_access(&reader, &R, 0x2001_003C, 0, WRITE), "not even a zero-length write");
        assert!(!task_can_access(&reader, &R, 0x4000_0C24, 4, READ));
        assert!(!task_can_access(&reader, &R, 0x4000_0C24, 4, WRITE));
        let mut writer = desc();
        writer.regions = [1, 4, 0, 0, 0, 0, 0, 0];
        assert!(task_can_access(&writer, &R, 0x2001_0000, 0x40, READ | WRITE));
    }

    #[test]
    fn small_copies_write_exactly_the_range() {
        for len in 0..=16usize {
            for off in 0..4usize {
                let src: Vec<u8> = (0..32u8).map(|i| i + 100).collect();
                let mut dst = [0u8; 40];
                // Safety: both buffers hold `off + len` bytes and are distinct.
                unsafe { copy_small(src.as_ptr().add(off), dst.as_mut_ptr().add(off + 1), len) };
                for (i, &b) in dst.iter().enumerate() {
                    let want = if i > off && i <= off + len { src[i - 1] } else { 0 };
                    assert_eq!(b, want, "len {len} offset {off} byte {i}");
                }
            }
        }
    }
}
