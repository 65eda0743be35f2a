//! The static description of an image, produced by `cargo xtask dist` from
//! app.toml and compiled into the kernel: one [`TaskDesc`] per task, the
//! [`RegionDesc`] table they index, and the [`IrqEntry`] routing table.
//!
//! These are plain data with stable names (humility decodes them by field
//! name: `HUBRIS_TASK_DESCS`, `HUBRIS_REGION_DESCS`). Invariants the build
//! guarantees, and the kernel relies on: region sizes are powers of two of
//! at least 32 bytes and bases are aligned to their size; every task's
//! regions index into the region table; region 0 is the empty region.

/// Maximum MPU regions a task can own (the ARMv7-M MPU has 8).
pub const REGIONS_PER_TASK: usize = 8;

/// Region attribute bits (the values of [`RegionAttributes`]).
pub mod region_attr {
    /// Unprivileged reads allowed.
    pub const READ: u32 = 1 << 0;
    /// Unprivileged writes allowed.
    pub const WRITE: u32 = 1 << 1;
    /// Instruction fetch allowed.
    pub const EXECUTE: u32 = 1 << 2;
    /// Device memory (peripheral registers): never lendable in a lease.
    pub const DEVICE: u32 = 1 << 3;
}

/// A region's [`region_attr`] bits, in the shape of a `bitflags` type
/// (one member named `bits`): humility reads the attributes of
/// `HUBRIS_REGION_DESCS` by that member's name.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(transparent)]
pub struct RegionAttributes {
    bits: u32,
}

impl RegionAttributes {
    /// No access at all (the empty region).
    pub const EMPTY: Self = Self { bits: 0 };

    /// Attributes from [`region_attr`] bits.
    pub const fn from_bits(bits: u32) -> Self {
        Self { bits }
    }

    /// The [`region_attr`] bits.
    #[inline(always)]
    pub const fn bits(self) -> u32 {
        self.bits
    }

    /// True if every bit of `needed` is granted.
    #[inline(always)]
    pub const fn grants(self, needed: u32) -> bool {
        self.bits & needed == needed
    }

    /// True for device memory ([`region_attr::DEVICE`]).
    #[inline(always)]
    pub const fn is_device(self) -> bool {
        self.bits & region_attr::DEVICE != 0
    }
}

/// One memory region a task may access.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(C)]
pub struct RegionDesc {
    /// First byte.
    pub base: u32,
    /// Size in bytes (power of two >= 32, or 0 for the empty region).
    pub size: u32,
    /// What a task may do there.
    pub attributes: RegionAttributes,
}

impl RegionDesc {
    /// The empty region, used to fill unused MPU slots.
    pub const EMPTY: Self = Self { base: 0, size: 0, attributes: RegionAttributes::EMPTY };

    /// True if `[base, base + len)` starts inside this region and lies
    /// wholly within it, whatever its attributes. Never overflows.
    #[inline(always)]
    pub const fn holds(&self, base: u32, len: u32) -> bool {
        // Offset into the region (wrapping below the base makes it huge),
        // then the length must fit in what is left: no 64-bit arithmetic,
        // no overflow.
        let offset = base.wrapping_sub(self.base);
        offset < self.size && len <= self.size - offset
    }

    /// True if `[base, base + len)` lies wholly inside this region and the
    /// region grants every bit of `needed`. A zero-length range is inside
    /// any region that contains `base` or ends at it. Never overflows.
    #[inline(always)]
    pub const fn contains(&self, base: u32, len: u32, needed: u32) -> bool {
        let granted = self.attributes.grants(needed);
        // A zero-length range may also sit exactly at the region's end.
        granted && (self.holds(base, len) || self.size != 0 && base.wrapping_sub(self.base) == self.size && len == 0)
    }
}

/// Task flag: make the task runnable at boot.
pub const TASK_FLAG_START: u32 = 1 << 0;

/// The build-time description of one task.
#[derive(Copy, Clone, Debug)]
#[repr(C)]
pub struct TaskDesc {
    /// Indices into the region table; unused slots are 0 (the empty region).
    pub regions: [u8; REGIONS_PER_TASK],
    /// Address of `_start`, with the Thumb bit set.
    pub entry_point: u32,
    /// Initial stack pointer (top of the task's stack, 8-byte aligned).
    pub initial_stack: u32,
    /// Priority: 0 is the highest (the supervisor).
    pub priority: u8,
    /// `TASK_FLAG_*` bits.
    pub flags: u32,
    /// This task's index in the task table.
    pub index: u16,
}

/// Routes one NVIC interrupt to a task's notification bits.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(C)]
pub struct IrqEntry {
    /// NVIC interrupt number (exception number minus 16).
    pub irq: u32,
    /// Index of the owning task.
    pub task: u16,
    /// Notification bits posted to the owner.
    pub mask: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: RegionDesc = RegionDesc { base: 0x2000_0000, size: 0x100, attributes: RegionAttributes::from_bits(region_attr::READ) };

    #[test]
    fn contains_checks_bounds_without_overflow() {
        assert!(R.contains(0x2000_0000, 0x100, region_attr::READ));
        assert!(R.contains(0x2000_00FF, 1, region_attr::READ));
        assert!(!R.contains(0x2000_00FF, 2, region_attr::READ));
        assert!(!R.contains(0x1FFF_FFFF, 2, region_attr::READ));
        assert!(!R.contains(0x2000_0001, u32::MAX, region_attr::READ));
        assert!(!R.contains(0x2000_0000, 4, region_attr::WRITE));
    }

    #[test]
    fn zero_length_ranges_must_touch_the_region() {
        assert!(R.contains(0x2000_0100, 0, region_attr::READ));
        assert!(R.contains(0x2000_0080, 0, region_attr::READ));
        assert!(!R.contains(0x2000_0101, 0, region_attr::READ));
        assert!(!RegionDesc::EMPTY.contains(0, 0, 0));
    }
}
