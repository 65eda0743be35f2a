//! Occupancy bitmaps: one bit per wheel slot, set while the slot's list is
//! non-empty.
//!
//! Why this module exists: next-expiry and fast-forward need the next
//! occupied slot without walking 512 list heads. With one bit per slot, the
//! search is a handful of word operations: at most 5 words for tv1
//! (256 bits, searched circularly) and 1 rotate + count for each of tv2..tv5.
//!
//! Guarantees: [`Occupancy`] is exactly the set of non-empty slots of one
//! class of lists (the wheel keeps it in step on every link and unlink), and
//! the search functions return circular distances, so the caller turns them
//! into jiffies without any scan.

use super::levels::{TVN_SIZE, TVR_SIZE};

/// 512 bits in 32-bit words: words 0..8 are tv1, words 8 + 2(n - 1) and
/// 9 + 2(n - 1) are level n (tv2..tv5), low half first.
///
/// 32-bit words because set and clear run on every arm and cancel, and a
/// 64-bit variable shift costs a dozen instructions on a 32-bit core; the
/// searches, which want 64 bits at a time, join two words with [`word64`].
///
/// [`word64`]: Occupancy::word64
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(transparent)]
pub(crate) struct Occupancy(pub [u32; Occupancy::WORDS]);

impl Occupancy {
    /// Words per bitmap: 512 slots.
    pub const WORDS: usize = 16;

    /// The wheel sets bits through `Wheel::occ_set` (by list number, across
    /// both classes); the tests here set them one bitmap at a time.
    #[cfg(test)]
    pub fn set(&mut self, slot: usize) {
        self.0[slot >> 5] |= 1 << (slot & 31);
    }

    #[inline(always)]
    pub fn clear(&mut self, slot: usize) {
        self.0[slot >> 5] &= !(1 << (slot & 31));
    }

    #[inline(always)]
    pub fn test(&self, slot: usize) -> bool {
        self.0[slot >> 5] & (1 << (slot & 31)) != 0
    }

    /// Bits `64k..64k + 64` as one word (slot `64k` in bit 0).
    #[inline(always)]
    fn word64(&self, k: usize) -> u64 {
        (self.0[2 * k + 1] as u64) << 32 | self.0[2 * k] as u64
    }

    #[inline(always)]
    pub fn union(&self, other: &Occupancy) -> Occupancy {
        let mut w = [0u32; 16];
        for (k, out) in w.iter_mut().enumerate() {
            *out = self.0[k] | other.0[k];
        }
        Occupancy(w)
    }

    /// True if any tv1 slot is occupied (eight words ORed: cheaper than a
    /// circular search that finds nothing).
    #[inline(always)]
    pub fn tv1_any(&self) -> bool {
        self.0[..8].iter().fold(0, |a, w| a | w) != 0
    }

    /// True if any slot of level `n` (1 = tv2 .. 4 = tv5) is occupied.
    #[inline(always)]
    pub fn level_any(&self, n: u32) -> bool {
        let k = 8 + 2 * (n as usize - 1);
        self.0[k] | self.0[k + 1] != 0
    }

    /// Circular distance from tv1 slot `start` to the first occupied tv1 slot
    /// (0 if `start` itself is occupied), or `None` if tv1 is empty.
    #[inline]
    pub fn tv1_distance(&self, start: usize) -> Option<usize> {
        debug_assert!(start < TVR_SIZE);
        let w = start >> 6;
        let b = start & 63;
        let first = self.word64(w) >> b;
        if first != 0 {
            return Some(first.trailing_zeros() as usize);
        }
        for k in 1..=4usize {
            let word = self.word64((w + k) & 3);
            let word = if k == 4 { word & ((1u64 << b) - 1) } else { word };
            if word != 0 {
                return Some(k * 64 - b + word.trailing_zeros() as usize);
            }
        }
        None
    }

    /// Circular distance from index `start` of level `n` (1 = tv2 .. 4 = tv5)
    /// to its first occupied slot, or `None` if the level is empty.
    #[inline]
    pub fn level_distance(&self, n: u32, start: usize) -> Option<usize> {
        debug_assert!(start < TVN_SIZE);
        let word = self.word64(3 + n as usize);
        if word == 0 {
            None
        } else {
            Some(word.rotate_right(start as u32).trailing_zeros() as usize)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tv1_search_is_circular() {
        let mut o = Occupancy::default();
        assert_eq!(o.tv1_distance(0), None);
        assert!(!o.tv1_any());
        o.set(10);
        assert!(o.tv1_any() && !o.level_any(1));
        assert_eq!(o.tv1_distance(0), Some(10));
        assert_eq!(o.tv1_distance(10), Some(0));
        assert_eq!(o.tv1_distance(11), Some(255));
        assert_eq!(o.tv1_distance(200), Some(66));
        o.set(130);
        assert_eq!(o.tv1_distance(11), Some(119));
        assert_eq!(o.tv1_distance(131), Some(135));
        o.clear(10);
        assert_eq!(o.tv1_distance(131), Some(255));
        assert!(o.test(130) && !o.test(10));
        for start in 0..256 {
            assert_eq!(o.tv1_distance(start), Some((130 + 256 - start) % 256));
        }
    }

    #[test]
    fn level_search_is_circular() {
        let mut o = Occupancy::default();
        assert_eq!(o.level_distance(1, 5), None);
        assert!((1..=4).all(|n| !o.level_any(n)));
        o.set(256 + 3);
        o.set(448 + 60);
        assert!(o.level_any(1) && !o.level_any(2) && !o.level_any(3) && o.level_any(4) && !o.tv1_any());
        assert_eq!(o.level_distance(1, 0), Some(3));
        assert_eq!(o.level_distance(1, 4), Some(63));
        assert_eq!(o.level_distance(4, 61), Some(63));
        assert_eq!(o.level_distance(4, 60), Some(0));
        assert_eq!(o.level_distance(2, 0), None);
        let u = o.union(&Occupancy::default());
        assert_eq!(u, o);
    }
}
