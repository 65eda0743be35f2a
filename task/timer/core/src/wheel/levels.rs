//! The five levels of the cascading wheel (Linux's `struct tvec_base` of
//! kernel/timer.c before 4.8): tv1 with 256 slots and tv2..tv5 with 64
//! slots each, named in code by [`Level`] and the `TV1_*`..`TV5_*`
//! constants, and the rule that files a timer into one of them
//! (`internal_add_timer`).
//!
//! Why this module exists: it is the arithmetic of the wheel, kept apart
//! from the list plumbing so it can be checked on its own.
//!
//! Guarantees:
//! - Slots are numbered `0..SLOTS` (512): tv1 is `0..256`, tv2 `256..320`,
//!   tv3 `320..384`, tv4 `384..448`, tv5 `448..512`.
//! - [`normalize`] maps any requested expiry onto the range the wheel can
//!   hold, `[timer_jiffies, timer_jiffies + MAX_TIMEOUT]`: an expiry in the
//!   past (or more than 2^63 jiffies ahead, which wrap-safe comparison reads
//!   as the past) becomes `timer_jiffies`, so it fires on the next run; one
//!   further than `MAX_TIMEOUT` ahead is clamped to exactly `MAX_TIMEOUT`
//!   ahead.
//! - [`slot_for`] places a normalized expiry `e` at the level chosen by the
//!   distance `e - timer_jiffies` and at the slot given by the bits of `e`
//!   itself, so a tv1 slot only ever holds timers for a single jiffy.

/// Bits of tv1's index (tv1 has 2^8 = 256 slots).
pub const TVR_BITS: u32 = 8;
/// Bits of tv2..tv5's indices (64 slots each).
pub const TVN_BITS: u32 = 6;
/// Slots in tv1.
pub const TVR_SIZE: usize = 1 << TVR_BITS;
/// Slots in each of tv2..tv5.
pub const TVN_SIZE: usize = 1 << TVN_BITS;
pub(crate) const TVR_MASK: u64 = TVR_SIZE as u64 - 1;
pub(crate) const TVN_MASK: u64 = TVN_SIZE as u64 - 1;
/// Total slots per wheel: 256 + 4 * 64.
pub const SLOTS: usize = TVR_SIZE + 4 * TVN_SIZE;
/// Slots of tv1 (`TVR_SIZE`): one jiffy each.
pub const TV1_SLOTS: usize = TVR_SIZE;
/// First slot number of tv1.
pub const TV1_BASE: usize = 0;
/// First slot number of tv2 (64 slots of 2^8 jiffies).
pub const TV2_BASE: usize = TV1_BASE + TV1_SLOTS;
/// First slot number of tv3 (64 slots of 2^14 jiffies).
pub const TV3_BASE: usize = TV2_BASE + TVN_SIZE;
/// First slot number of tv4 (64 slots of 2^20 jiffies).
pub const TV4_BASE: usize = TV3_BASE + TVN_SIZE;
/// First slot number of tv5 (64 slots of 2^26 jiffies).
pub const TV5_BASE: usize = TV4_BASE + TVN_SIZE;

/// One level of the wheel: Linux's `tv1` .. `tv5`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    /// 256 slots of one jiffy: timers due within 256 jiffies.
    Tv1,
    /// 64 slots of 2^8 jiffies: due within 2^14.
    Tv2,
    /// 64 slots of 2^14 jiffies: due within 2^20.
    Tv3,
    /// 64 slots of 2^20 jiffies: due within 2^26.
    Tv4,
    /// 64 slots of 2^26 jiffies: due within 2^32 ([`MAX_TIMEOUT`]).
    Tv5,
}

impl Level {
    /// Every level, tv1 first.
    pub const ALL: [Level; 5] = [Level::Tv1, Level::Tv2, Level::Tv3, Level::Tv4, Level::Tv5];

    /// Its name as Linux spells it: `"tv1"` .. `"tv5"`.
    pub const fn name(self) -> &'static str {
        match self {
            Level::Tv1 => "tv1",
            Level::Tv2 => "tv2",
            Level::Tv3 => "tv3",
            Level::Tv4 => "tv4",
            Level::Tv5 => "tv5",
        }
    }

    /// Its slots: 256 for tv1, 64 for the others.
    pub const fn slots(self) -> usize {
        match self {
            Level::Tv1 => TV1_SLOTS,
            _ => TVN_SIZE,
        }
    }

    /// Its first slot number in `0..SLOTS`.
    pub const fn base(self) -> usize {
        match self {
            Level::Tv1 => TV1_BASE,
            Level::Tv2 => TV2_BASE,
            Level::Tv3 => TV3_BASE,
            Level::Tv4 => TV4_BASE,
            Level::Tv5 => TV5_BASE,
        }
    }

    /// The level holding slot number `slot` (taken modulo [`SLOTS`], so a
    /// list head of the deferrable class, `SLOTS + slot`, maps too).
    pub const fn of_slot(slot: usize) -> Level {
        Level::ALL[level_of(slot % SLOTS) as usize]
    }
}
/// The farthest a timer can be set, in jiffies after `timer_jiffies`
/// (inclusive): 2^32 - 1, about 49.7 days at 1000 Hz. Farther expiries are
/// clamped to it.
pub const MAX_TIMEOUT: u64 = (1 << (TVR_BITS + 4 * TVN_BITS)) - 1;

/// Shift of level `n` (1 = tv2 .. 4 = tv5): the jiffies bit where its index starts.
#[inline(always)]
pub(crate) const fn shift(n: u32) -> u32 {
    TVR_BITS + (n - 1) * TVN_BITS
}

/// First slot number of level `n` (1 = tv2 .. 4 = tv5).
#[inline(always)]
pub(crate) const fn base(n: u32) -> usize {
    TVR_SIZE + (n as usize - 1) * TVN_SIZE
}

/// Index of level `n` (1 = tv2 .. 4 = tv5) at time `j` (Linux's
/// `INDEX(N)` in `__run_timers`, with `N = n - 1`).
#[inline(always)]
pub(crate) const fn index(j: u64, n: u32) -> usize {
    index32(j as u32, n)
}

/// Map a requested absolute expiry onto the wheel's range (see module doc).
#[inline(always)]
pub(crate) const fn normalize(expires: u64, timer_jiffies: u64) -> u64 {
    let d = expires.wrapping_sub(timer_jiffies);
    if (d as i64) < 0 {
        timer_jiffies
    } else if d > MAX_TIMEOUT {
        timer_jiffies.wrapping_add(MAX_TIMEOUT)
    } else {
        expires
    }
}

/// [`index`] from the low 32 bits of `j`, which hold every level's index
/// (the highest, tv5's, ends at bit 31).
#[inline(always)]
const fn index32(j: u32, n: u32) -> usize {
    ((j >> shift(n)) & TVN_MASK as u32) as usize
}

/// Slot for a normalized expiry (`internal_add_timer`'s choice).
///
/// Normalized means `0 <= expires - timer_jiffies <= MAX_TIMEOUT`, so the
/// distance fits in 32 bits, and every level index lies in bits below 32:
/// the arithmetic is 32-bit, which matters on a 32-bit core.
#[inline(always)]
pub(crate) const fn slot_for(expires: u64, timer_jiffies: u64) -> usize {
    debug_assert!(expires.wrapping_sub(timer_jiffies) <= MAX_TIMEOUT);
    let d = expires.wrapping_sub(timer_jiffies) as u32;
    let e = expires as u32;
    if d < TVR_SIZE as u32 {
        TV1_BASE + (e & TVR_MASK as u32) as usize
    } else if d < 1 << shift(2) {
        TV2_BASE + index32(e, 1)
    } else if d < 1 << shift(3) {
        TV3_BASE + index32(e, 2)
    } else if d < 1 << shift(4) {
        TV4_BASE + index32(e, 3)
    } else {
        TV5_BASE + index32(e, 4)
    }
}

/// Level of a slot number: 0 = tv1, 1..=4 = tv2..tv5.
#[inline(always)]
pub(crate) const fn level_of(slot: usize) -> u32 {
    if slot < TVR_SIZE { 0 } else { ((slot - TVR_SIZE) / TVN_SIZE) as u32 + 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_linux() {
        assert_eq!(TVR_SIZE, 256);
        assert_eq!(TVN_SIZE, 64);
        assert_eq!(SLOTS, 512);
        assert_eq!(MAX_TIMEOUT, 0xFFFF_FFFF);
        assert_eq!([shift(1), shift(2), shift(3), shift(4)], [8, 14, 20, 26]);
        assert_eq!([base(1), base(2), base(3), base(4)], [256, 320, 384, 448]);
    }

    #[test]
    fn placement_by_distance_and_expiry_bits() {
        let tj = 0x1234_5678u64;
        // tv1: distance < 256, slot is the low 8 bits of the expiry.
        assert_eq!(slot_for(tj, tj), 0x78);
        assert_eq!(slot_for(tj + 255, tj), ((tj + 255) & 0xFF) as usize);
        // tv2: 256 <= d < 2^14.
        assert_eq!(level_of(slot_for(tj + 256, tj)), 1);
        assert_eq!(slot_for(tj + 256, tj), 256 + (((tj + 256) >> 8) & 63) as usize);
        assert_eq!(level_of(slot_for(tj + (1 << 14) - 1, tj)), 1);
        assert_eq!(level_of(slot_for(tj + (1 << 14), tj)), 2);
        assert_eq!(level_of(slot_for(tj + (1 << 20) - 1, tj)), 2);
        assert_eq!(level_of(slot_for(tj + (1 << 20), tj)), 3);
        assert_eq!(level_of(slot_for(tj + (1 << 26) - 1, tj)), 3);
        assert_eq!(level_of(slot_for(tj + (1 << 26), tj)), 4);
        assert_eq!(level_of(slot_for(tj + MAX_TIMEOUT, tj)), 4);
    }

    #[test]
    fn past_goes_to_current_and_far_is_clamped() {
        let tj = 1000u64;
        assert_eq!(normalize(999, tj), tj);
        assert_eq!(normalize(0, tj), tj);
        assert_eq!(normalize(tj, tj), tj);
        assert_eq!(normalize(tj + 5, tj), tj + 5);
        assert_eq!(normalize(tj + MAX_TIMEOUT, tj), tj + MAX_TIMEOUT);
        assert_eq!(normalize(tj + MAX_TIMEOUT + 1, tj), tj + MAX_TIMEOUT);
        assert_eq!(normalize(tj + (1 << 40), tj), tj + MAX_TIMEOUT);
        // More than 2^63 ahead reads as the past, as time_after would.
        assert_eq!(normalize(tj.wrapping_add(1 << 63), tj), tj);
        // Across the 64-bit wrap.
        let tj = u64::MAX - 2;
        assert_eq!(normalize(3, tj), 3);
        assert_eq!(normalize(u64::MAX - 10, tj), tj);
        assert_eq!(slot_for(tj, tj), 0xFD);
        assert_eq!(slot_for(3, tj), 3);
    }

    #[test]
    fn levels_are_named_tv1_to_tv5_and_tile_the_slots() {
        let names: [&str; 5] = Level::ALL.map(Level::name);
        assert_eq!(names, ["tv1", "tv2", "tv3", "tv4", "tv5"]);
        assert_eq!([TV1_BASE, TV2_BASE, TV3_BASE, TV4_BASE, TV5_BASE], [0, 256, 320, 384, 448]);
        let mut next = 0;
        for (n, l) in Level::ALL.into_iter().enumerate() {
            assert_eq!(l.base(), next);
            assert_eq!(level_of(l.base()), n as u32);
            assert_eq!(Level::of_slot(l.base() + l.slots() - 1), l);
            assert_eq!(Level::of_slot(SLOTS + l.base()), l);
            if n > 0 {
                assert_eq!(l.base(), base(n as u32));
            }
            next += l.slots();
        }
        assert_eq!(next, SLOTS);
    }
}
