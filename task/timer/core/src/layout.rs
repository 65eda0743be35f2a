//! The in-memory layout facts an inspector needs to decode a live timer
//! core from its DWARF (`cargo xtask humility timers`), kept here so the
//! inspector takes them from this crate instead of copying them.
//!
//! Why this module exists: the inspector finds fields by name, but some
//! meanings are values, not names: which `meta` bits mark a pool node
//! allocated or deferrable, how the wheel's list heads split into tv1..tv5,
//! and which link value means "no hook". A change here changes both sides.
//!
//! Guarantees: each constant is the one the code of this crate uses (they
//! are re-exports or are checked against it by the tests below).

use crate::wheel::levels::{Level, SLOTS};

/// `Node::meta` bit of an allocated pool node.
pub const META_ALLOCATED: u16 = crate::pool::META_ALLOCATED;
/// `Node::meta` bit of a deferrable timer (its list heads are the second
/// class, `SLOTS..2 * SLOTS`).
pub const META_DEFERRABLE: u16 = crate::pool::META_DEFERRABLE;
/// "No hook" in the hook chain's `head`, `grabber` and `next` links.
pub const HOOK_NIL: u8 = crate::hooks::NIL;
/// List heads per class (normal, then deferrable): one per wheel slot.
pub const SLOTS_PER_CLASS: usize = SLOTS;
/// The wheel's levels in slot order, tv1 first: `(name, slots)`.
pub const LEVELS: [(&str, usize); 5] = {
    let mut out = [("", 0); 5];
    let mut i = 0;
    while i < 5 {
        out[i] = (Level::ALL[i].name(), Level::ALL[i].slots());
        i += 1;
    }
    out
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_tile_one_class_of_heads() {
        assert_eq!(LEVELS, [("tv1", 256), ("tv2", 64), ("tv3", 64), ("tv4", 64), ("tv5", 64)]);
        assert_eq!(LEVELS.iter().map(|l| l.1).sum::<usize>(), SLOTS_PER_CLASS);
        assert_eq!((META_ALLOCATED, META_DEFERRABLE, HOOK_NIL), (0x8000, 0x4000, 0xff));
    }
}
