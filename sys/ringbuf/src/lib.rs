//! Static trace ring buffers for tasks, readable by humility.
//!
//! A task that wants a cheap, always-on trace declares one ring with
//! [`ringbuf!`] and records events with [`ringbuf_entry!`]. Each entry keeps
//! the source line that recorded it, the payload, how many times in a row the
//! same (line, payload) pair was recorded (`count`, instead of a new entry),
//! and a per-slot `generation` that tells written slots from never-written
//! ones. Nothing is formatted on the target: a debugger decodes the static by
//! its DWARF type.
//!
//! # Layout guarantees (HUMILITY-COMPAT level 2)
//!
//! The names below are part of the contract with humility, which decodes by
//! field name and finds rings by type name (`Ringbuf`) and variable name
//! (`__RINGBUF`, or any name ending in `RINGBUF`):
//!
//! - `Ringbuf { last: Option<usize>, buffer: [RingbufEntry<T>; N] }`;
//! - `RingbufEntry { line: u16, generation: u16, payload: T, count: u16 }`;
//! - the ring is wrapped in `StaticCell { cell: UnsafeCell { value } }`
//!   (plus a `borrowed` flag humility ignores).
//!
//! `last` is the index of the newest entry (`None` until the first record);
//! the oldest entry is at `last + 1` modulo `N`. A slot's `generation` is the
//! number of times it was written (never 0 once written; after 65535 it
//! continues at 1), so humility's rule "skip `generation == 0`" skips exactly
//! the unused slots.
//!
//! # Concurrency
//!
//! Tasks are single-threaded, but the cell does not rely on that: access goes
//! through an atomic borrow flag, so a re-entrant or concurrent record (for
//! instance from a payload's `PartialEq` that itself traces, or from host
//! test threads) is dropped instead of aliasing the ring. Recording never
//! panics and never blocks.

#![no_std]

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

/// One recorded event.
///
/// Field names and types are fixed by humility's decoder; see the crate
/// documentation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RingbufEntry<T> {
    /// Source line of the `ringbuf_entry!` that recorded it (`line!()`,
    /// truncated to 16 bits: lines past 65535 wrap).
    pub line: u16,
    /// How many times this slot has been written; 0 means never.
    pub generation: u16,
    /// The recorded value.
    pub payload: T,
    /// Consecutive identical records folded into this entry, at least 1 for
    /// a written slot; saturates at `u16::MAX`, after which a new entry
    /// starts.
    pub count: u16,
}

/// A ring of the last `N` distinct events of type `T`.
///
/// `T: Copy` keeps recording cheap and lets the ring be built in a `const`
/// context; `T: PartialEq` is what de-duplication compares.
#[derive(Debug)]
pub struct Ringbuf<T, const N: usize> {
    /// Index of the newest entry, `None` before the first record.
    pub last: Option<usize>,
    /// The entries; unwritten slots hold the `init` payload with
    /// `generation == 0`.
    pub buffer: [RingbufEntry<T>; N],
}

impl<T: Copy + PartialEq, const N: usize> Ringbuf<T, N> {
    /// An empty ring whose unwritten slots hold `init` (which humility never
    /// shows, since their generation is 0).
    pub const fn new(init: T) -> Self {
        Self {
            last: None,
            buffer: [RingbufEntry { line: 0, generation: 0, payload: init, count: 0 }; N],
        }
    }

    /// Records `payload` as seen at source line `line`.
    ///
    /// If the newest entry has the same line and payload, its `count` goes
    /// up instead (until it saturates). Otherwise the slot after the newest
    /// one (the oldest, once the ring is full) is overwritten and its
    /// generation bumped. A zero-sized ring (`N == 0`) records nothing.
    pub fn record(&mut self, line: u16, payload: T) {
        if N == 0 {
            return;
        }
        if let Some(last) = self.last {
            if let Some(entry) = self.buffer.get_mut(last) {
                if entry.line == line && entry.payload == payload && entry.count < u16::MAX {
                    entry.count += 1;
                    return;
                }
            }
        }
        let next = match self.last {
            Some(last) if last + 1 < N => last + 1,
            _ => 0,
        };
        let slot = &mut self.buffer[next];
        let generation = match slot.generation.wrapping_add(1) {
            0 => 1,
            g => g,
        };
        *slot = RingbufEntry { line, generation, payload, count: 1 };
        self.last = Some(next);
    }

    /// The written entries, oldest first (the order humility prints).
    pub fn iter(&self) -> impl Iterator<Item = &RingbufEntry<T>> + '_ {
        let start = match self.last {
            Some(last) => last + 1,
            None => 0,
        };
        (0..N)
            .map(move |i| &self.buffer[(start + i) % N])
            .filter(|e| e.generation != 0)
    }
}

/// A `static`-friendly cell giving one caller at a time mutable access.
///
/// Field names (`cell`, and `UnsafeCell`'s `value`) are what humility looks
/// through to reach the ring.
pub struct StaticCell<T> {
    borrowed: AtomicBool,
    cell: UnsafeCell<T>,
}

// Safety: all access to `cell` goes through `with`, which first claims
// `borrowed` with an acquiring compare-exchange and releases it with a
// releasing store afterwards. At most one `&mut T` therefore exists at any
// time, on whichever thread won the flag, and the acquire/release pair
// orders its writes before the next claimant's reads. Moving that access
// between threads is why `T: Send` is required.
unsafe impl<T: Send> Sync for StaticCell<T> {}

impl<T> StaticCell<T> {
    /// Wraps `value`, unborrowed.
    pub const fn new(value: T) -> Self {
        Self { borrowed: AtomicBool::new(false), cell: UnsafeCell::new(value) }
    }

    /// Runs `f` with exclusive access to the value and returns its result,
    /// or returns `None` without running `f` if the value is already
    /// borrowed (a re-entrant call).
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        if self
            .borrowed
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        // Safety: we hold the borrow flag (set just above), so no other
        // reference to the value exists until we clear it below; the
        // reference does not escape `f`.
        let result = f(unsafe { &mut *self.cell.get() });
        self.borrowed.store(false, Ordering::Release);
        Some(result)
    }
}

impl<T: Copy + PartialEq, const N: usize> StaticCell<Ringbuf<T, N>> {
    /// Records into the wrapped ring (see [`Ringbuf::record`]); a record
    /// that arrives while the ring is borrowed is dropped.
    pub fn record(&self, line: u16, payload: T) {
        let _ = self.with(|ring| ring.record(line, payload));
    }
}

/// Declares a trace ring.
///
/// - `ringbuf!(Trace, 16, Trace::None)` declares the default ring, a static
///   named `__RINGBUF` holding 16 entries of type `Trace`, each unwritten
///   slot initialised to `Trace::None`;
/// - `ringbuf!(NAME, Trace, 16, Trace::None)` declares a ring named `NAME`
///   (end the name in `RINGBUF` so humility finds it).
///
/// The payload type must be `Copy + PartialEq` (and `Send`).
#[macro_export]
macro_rules! ringbuf {
    ($t:ty, $n:expr, $init:expr $(,)?) => {
        $crate::ringbuf!(__RINGBUF, $t, $n, $init);
    };
    ($name:ident, $t:ty, $n:expr, $init:expr $(,)?) => {
        static $name: $crate::StaticCell<$crate::Ringbuf<$t, { $n }>> =
            $crate::StaticCell::new($crate::Ringbuf::new($init));
    };
}

/// Records a payload with the current source line.
///
/// - `ringbuf_entry!(Trace::Sent(n))` records into `__RINGBUF`, which must
///   be in scope (declared by [`ringbuf!`] in this module, or imported);
/// - `ringbuf_entry!(NAME, Trace::Sent(n))` records into the ring `NAME`.
///
/// Never panics; see [`Ringbuf::record`] for de-duplication.
#[macro_export]
macro_rules! ringbuf_entry {
    ($buf:ident, $payload:expr $(,)?) => {
        $buf.record(::core::line!() as u16, $payload)
    };
    ($payload:expr $(,)?) => {
        $crate::ringbuf_entry!(__RINGBUF, $payload)
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Copy, Clone, Debug, PartialEq, Eq)]
    enum Trace {
        None,
        Sent(u32),
        Idle,
    }

    fn lines<T: Copy + PartialEq, const N: usize>(r: &Ringbuf<T, N>) -> [(u16, u16, u16); N] {
        let mut out = [(0, 0, 0); N];
        for (o, e) in out.iter_mut().zip(r.buffer.iter()) {
            *o = (e.line, e.generation, e.count);
        }
        out
    }

    #[test]
    fn new_ring_is_empty() {
        let r: Ringbuf<Trace, 4> = Ringbuf::new(Trace::None);
        assert_eq!(r.last, None);
        assert_eq!(r.iter().count(), 0);
        assert!(r.buffer.iter().all(|e| e.generation == 0 && e.payload == Trace::None));
    }

    #[test]
    fn repeated_line_and_payload_are_counted_not_stored() {
        let mut r: Ringbuf<Trace, 4> = Ringbuf::new(Trace::None);
        r.record(10, Trace::Sent(1));
        r.record(10, Trace::Sent(1));
        r.record(10, Trace::Sent(1));
        assert_eq!(r.last, Some(0));
        assert_eq!(lines(&r)[0], (10, 1, 3));
        assert_eq!(r.iter().count(), 1);
    }

    #[test]
    fn same_payload_from_another_line_is_a_new_entry() {
        let mut r: Ringbuf<Trace, 4> = Ringbuf::new(Trace::None);
        r.record(10, Trace::Idle);
        r.record(11, Trace::Idle);
        r.record(11, Trace::Sent(2));
        assert_eq!(r.last, Some(2));
        assert_eq!(r.iter().map(|e| e.line).collect::<Vec3>(), Vec3::of(&[10, 11, 11]));
    }

    #[test]
    fn only_the_newest_entry_is_deduplicated() {
        let mut r: Ringbuf<Trace, 4> = Ringbuf::new(Trace::None);
        r.record(1, Trace::Idle);
        r.record(2, Trace::Idle);
        r.record(1, Trace::Idle);
        assert_eq!(r.iter().count(), 3);
    }

    #[test]
    fn count_saturates_then_starts_a_new_entry() {
        let mut r: Ringbuf<Trace, 2> = Ringbuf::new(Trace::None);
        for _ in 0..u16::MAX as u32 + 1 {
            r.record(5, Trace::Idle);
        }
        assert_eq!(r.buffer[0].count, u16::MAX);
        assert_eq!(r.buffer[1].count, 1);
        assert_eq!(r.last, Some(1));
    }

    #[test]
    fn wrap_overwrites_oldest_and_bumps_generation() {
        let mut r: Ringbuf<Trace, 3> = Ringbuf::new(Trace::None);
        for n in 0..5 {
            r.record(7, Trace::Sent(n));
        }
        // Slots 0 and 1 were written twice, slot 2 once.
        assert_eq!(lines(&r), [(7, 2, 1), (7, 2, 1), (7, 1, 1)]);
        assert_eq!(r.last, Some(1));
        assert_eq!(r.buffer[0].payload, Trace::Sent(3));
        assert_eq!(r.buffer[1].payload, Trace::Sent(4));
    }

    #[test]
    fn iteration_is_oldest_first_before_and_after_wrap() {
        let mut r: Ringbuf<u32, 3> = Ringbuf::new(0);
        r.record(1, 100);
        r.record(1, 101);
        assert_eq!(r.iter().map(|e| e.payload).collect::<Vec3>(), Vec3::of(&[100, 101]));
        r.record(1, 102);
        r.record(1, 103);
        assert_eq!(r.iter().map(|e| e.payload).collect::<Vec3>(), Vec3::of(&[101, 102, 103]));
    }

    #[test]
    fn generation_skips_zero_when_it_wraps() {
        let mut r: Ringbuf<u32, 1> = Ringbuf::new(0);
        r.buffer[0].generation = u16::MAX;
        r.last = Some(0);
        r.record(1, 9);
        assert_eq!(r.buffer[0].generation, 1);
        assert_eq!(r.iter().count(), 1);
    }

    #[test]
    fn zero_sized_ring_ignores_records() {
        let mut r: Ringbuf<u32, 0> = Ringbuf::new(0);
        r.record(1, 1);
        assert_eq!(r.last, None);
        assert_eq!(r.iter().count(), 0);
    }

    #[test]
    fn reentrant_access_is_refused_not_aliased() {
        let cell = StaticCell::new(Ringbuf::<u32, 2>::new(0));
        let inner = cell.with(|_| cell.with(|_| ()));
        assert_eq!(inner, Some(None));
        // The flag was released: the next access works.
        assert_eq!(cell.with(|r| r.last), Some(None));
    }

    mod macros {
        use super::Trace;

        crate::ringbuf!(Trace, 4, Trace::None);
        crate::ringbuf!(OTHER_RINGBUF, u8, 2, 0);

        #[test]
        fn default_ring_records_line_numbers() {
            let before = line!();
            crate::ringbuf_entry!(Trace::Sent(5));
            crate::ringbuf_entry!(Trace::Sent(5));
            let got = __RINGBUF.with(|r| (r.last, r.buffer[0])).unwrap();
            assert_eq!(got.0, Some(1), "two entries on different lines");
            assert_eq!(got.1.line as u32, before + 1);
            assert_eq!(got.1.payload, Trace::Sent(5));
            assert_eq!(got.1.count, 1);
            let second = __RINGBUF.with(|r| r.buffer[1]).unwrap();
            assert_eq!(second.line as u32, before + 2);
        }

        #[test]
        fn named_ring_is_separate() {
            for _ in 0..3 {
                crate::ringbuf_entry!(OTHER_RINGBUF, 7);
            }
            let e = OTHER_RINGBUF.with(|r| r.buffer[0]).unwrap();
            assert_eq!((e.payload, e.count, e.generation), (7, 3, 1));
        }
    }

    /// A tiny fixed-capacity collection so the tests stay `no_std`.
    #[derive(Debug, PartialEq)]
    struct Vec3 {
        items: [u32; 3],
        len: usize,
    }

    impl Vec3 {
        fn of(items: &[u32]) -> Self {
            items.iter().copied().collect()
        }
    }

    impl FromIterator<u32> for Vec3 {
        fn from_iter<I: IntoIterator<Item = u32>>(iter: I) -> Self {
            let mut v = Vec3 { items: [0; 3], len: 0 };
            for x in iter {
                v.items[v.len] = x;
                v.len += 1;
            }
            v
        }
    }

    impl FromIterator<u16> for Vec3 {
        fn from_iter<I: IntoIterator<Item = u16>>(iter: I) -> Self {
            iter.into_iter().map(u32::from).collect()
        }
    }
}
