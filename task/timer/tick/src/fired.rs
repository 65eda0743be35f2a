//! Delivered-but-not-fetched expiries, one FIFO per owning task.
//!
//! Why this module exists: a notification bit says only "something of
//! yours fired"; which timers, due at which jiffy and under which arm, is
//! kept here until the owner asks (the timer server's `fetch_fired`). When
//! a timer fires, the tick path queues a [`Record`] here and batches the
//! owner's notification bit ([`crate::Posts`]). Guarantees:
//! - a timer has at most one queued record (a periodic timer that fires
//!   again before the owner fetches updates its record in place);
//! - re-arming (`add_timer`, `mod_timer`), deleting or freeing a timer
//!   removes its queued record in O(1), so nothing of an earlier arm is
//!   delivered after the call returns (del_timer_sync's meaning);
//! - every record carries the arm sequence number it fired under.
//!
//! The queues are doubly linked lists threaded through a per-timer array
//! indexed like the timer pool: no heap, no scanning. Links store
//! `index + 1` so that 0 means "none" and the whole structure starts
//! all-zero (it lives in `.bss`, not in flash-initialised `.data`).

/// One expiry as its owner fetches it (field for field the timer
/// interface's `Record`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// The timer's handle (`TimerHandle::to_bits`).
    pub handle: u64,
    /// The jiffy it was due (after slack).
    pub expires: u64,
    /// `jiffies_64` when it fired: `expires` unless ticks were missed or
    /// the expiry was already past when armed. Lateness is kept in 32
    /// bits, so a record more than 2^32 - 1 jiffies late says exactly that.
    pub fired_at: u64,
    /// The client's token given at setup.
    pub token: u32,
    /// The arm sequence it fired under ([`Fired::rearm`]).
    pub seq: u32,
}

const NIL: u16 = 0;

fn link(i: usize) -> u16 {
    i as u16 + 1
}

fn at(l: u16) -> usize {
    l as usize - 1
}

/// One timer's queued record and links, kept together (one base address
/// and one bounds check on the tick path, where separate arrays cost one
/// each: traced under `cargo xtask bench`). 28 bytes: `expires` is split
/// in two words so that the record needs only 4-byte alignment.
#[derive(Copy, Clone)]
struct Slot {
    expires_lo: u32,
    expires_hi: u32,
    token: u32,
    /// `fired_at - expires`, saturated.
    late: u32,
    /// Arm sequence of the timer's current arm.
    arm_seq: u32,
    /// The handle's generation (its upper 32 bits).
    generation: u16,
    next: u16,
    prev: u16,
    queued: bool,
}

const _: () = assert!(core::mem::size_of::<Slot>() == 28, "a fired-queue slot is 28 bytes");

impl Slot {
    const EMPTY: Slot =
        Slot { expires_lo: 0, expires_hi: 0, token: 0, late: 0, arm_seq: 0, generation: 0, next: NIL, prev: NIL, queued: false };

    fn expires(&self) -> u64 {
        u64::from(self.expires_hi) << 32 | u64::from(self.expires_lo)
    }
}

/// The queues of up to `OWNERS` tasks over a pool of `P` timers.
///
/// A queued record is kept in pieces (28 bytes per timer, links included,
/// instead of a 32-byte [`Record`] plus links): the timer's index is its
/// slot, the arm sequence is the slot's, and `fired_at` is stored as
/// lateness.
pub struct Fired<const P: usize, const OWNERS: usize> {
    slots: [Slot; P],
    head: [u16; OWNERS],
    tail: [u16; OWNERS],
    len: [u16; OWNERS],
}

impl<const P: usize, const OWNERS: usize> Fired<P, OWNERS> {
    /// No records queued. `const`, so that the queues can live in a
    /// zero-initialised static (`.bss`), not on a task's stack.
    pub const fn new() -> Self {
        Fired { slots: [Slot::EMPTY; P], head: [NIL; OWNERS], tail: [NIL; OWNERS], len: [0; OWNERS] }
    }

    /// Starts a new arm of timer `i` (pool index, `0..P`) owned by task
    /// index `owner`: drops its queued record and returns the new arm
    /// sequence number (wrapping; 1 on a timer's first arm).
    #[inline(always)]
    pub fn rearm(&mut self, i: usize, owner: usize) -> u32 {
        self.remove(i, owner);
        let s = &mut self.slots[i];
        s.arm_seq = s.arm_seq.wrapping_add(1);
        s.arm_seq
    }

    /// Queues (or refreshes) timer `i`'s record for `owner`: a timer
    /// already queued keeps its place and gets the new record's contents
    /// (a periodic timer that fired again before its owner fetched).
    pub fn push(&mut self, i: usize, owner: usize, rec: Record) {
        let s = &mut self.slots[i];
        s.expires_lo = rec.expires as u32;
        s.expires_hi = (rec.expires >> 32) as u32;
        s.token = rec.token;
        s.late = rec.fired_at.saturating_sub(rec.expires).min(u32::MAX as u64) as u32;
        s.generation = (rec.handle >> 32) as u16;
        if s.queued {
            return;
        }
        s.queued = true;
        let t = self.tail[owner];
        s.prev = t;
        s.next = NIL;
        if t == NIL {
            self.head[owner] = link(i);
        } else {
            self.slots[at(t)].next = link(i);
        }
        self.tail[owner] = link(i);
        self.len[owner] += 1;
    }

    /// Drops timer `i`'s queued record, if any. Inline for the usual case
    /// of every arm, cancel and free: nothing queued.
    #[inline(always)]
    pub fn remove(&mut self, i: usize, owner: usize) {
        if self.slots[i].queued {
            self.unqueue(i, owner);
        }
    }

    /// Unlinks queued record `i` from `owner`'s queue.
    #[inline(never)]
    fn unqueue(&mut self, i: usize, owner: usize) {
        let s = &mut self.slots[i];
        s.queued = false;
        let (p, n) = (s.prev, s.next);
        if p == NIL {
            self.head[owner] = n;
        } else {
            self.slots[at(p)].next = n;
        }
        if n == NIL {
            self.tail[owner] = p;
        } else {
            self.slots[at(n)].prev = p;
        }
        self.len[owner] -= 1;
    }

    /// Takes `owner`'s oldest record, with the timer's current arm
    /// sequence; `None` when its queue is empty.
    pub fn pop(&mut self, owner: usize) -> Option<Record> {
        let h = self.head[owner];
        if h == NIL {
            return None;
        }
        let i = at(h);
        self.remove(i, owner);
        let s = &self.slots[i];
        Some(Record {
            handle: (s.generation as u64) << 32 | i as u64,
            expires: s.expires(),
            fired_at: s.expires() + s.late as u64,
            token: s.token,
            seq: s.arm_seq,
        })
    }

    /// Records still queued for `owner`.
    pub fn len(&self, owner: usize) -> usize {
        self.len[owner] as usize
    }

    /// Drops every record of `owner` (it died; its timers are freed).
    pub fn clear_owner(&mut self, owner: usize) {
        while self.pop(owner).is_some() {}
    }
}

impl<const P: usize, const OWNERS: usize> Default for Fired<P, OWNERS> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn rec(i: u64, generation: u64, expires: u64, late: u64, token: u32) -> Record {
        Record { handle: generation << 32 | i, expires, fired_at: expires + late, token, seq: 0 }
    }

    fn drain(f: &mut Fired<8, 4>, owner: usize) -> Vec<Record> {
        core::iter::from_fn(|| f.pop(owner)).collect()
    }

    #[test]
    fn each_owner_gets_its_records_in_firing_order() {
        let mut f = Fired::<8, 4>::new();
        let seq = [f.rearm(3, 1), f.rearm(0, 2), f.rearm(5, 1)];
        assert_eq!(seq, [1, 1, 1]);
        f.push(3, 1, rec(3, 7, 100, 0, 30));
        f.push(0, 2, rec(0, 1, 101, 2, 0));
        f.push(5, 1, rec(5, 9, 101, 0, 50));
        assert_eq!((f.len(1), f.len(2), f.len(3)), (2, 1, 0));
        let one = drain(&mut f, 1);
        assert_eq!(one.iter().map(|r| r.token).collect::<Vec<_>>(), [30, 50]);
        assert_eq!(one[0], Record { handle: 7 << 32 | 3, expires: 100, fired_at: 100, token: 30, seq: 1 });
        assert_eq!(f.pop(2), Some(Record { handle: 1 << 32, expires: 101, fired_at: 103, token: 0, seq: 1 }));
        assert_eq!(f.pop(2), None);
        assert_eq!(f.pop(3), None);
    }

    #[test]
    fn a_timer_firing_again_before_the_fetch_updates_its_record_in_place() {
        let mut f = Fired::<8, 4>::new();
        f.rearm(1, 0);
        f.rearm(2, 0);
        f.push(1, 0, rec(1, 1, 10, 0, 1));
        f.push(2, 0, rec(2, 1, 11, 0, 2));
        f.push(1, 0, rec(1, 1, 20, 1, 1));
        assert_eq!(f.len(0), 2);
        let got = drain(&mut f, 0);
        assert_eq!(got.iter().map(|r| (r.token, r.expires, r.fired_at)).collect::<Vec<_>>(), [(1, 20, 21), (2, 11, 11)]);
    }

    #[test]
    fn rearm_and_remove_drop_the_queued_record_anywhere_in_the_queue() {
        let mut f = Fired::<8, 4>::new();
        for i in 0..4 {
            f.rearm(i, 3);
            f.push(i, 3, rec(i as u64, 1, 50 + i as u64, 0, i as u32));
        }
        // Middle, head, tail.
        assert_eq!(f.rearm(2, 3), 2);
        f.remove(0, 3);
        f.remove(3, 3);
        // Nothing queued: removing again changes nothing.
        f.remove(3, 3);
        assert_eq!(f.len(3), 1);
        assert_eq!(drain(&mut f, 3).iter().map(|r| r.token).collect::<Vec<_>>(), [1]);
        // The new arm's record carries the new sequence number.
        f.push(2, 3, rec(2, 1, 60, 0, 2));
        assert_eq!(f.pop(3).unwrap().seq, 2);
    }

    #[test]
    fn clear_owner_empties_one_queue_only_and_lateness_saturates() {
        let mut f = Fired::<8, 4>::new();
        f.push(0, 1, rec(0, 1, 5, 0, 0));
        f.push(1, 1, rec(1, 1, 6, 0, 1));
        f.push(2, 2, rec(2, 1, 7, u64::MAX - 7, 2));
        f.clear_owner(1);
        assert_eq!((f.len(1), f.len(2)), (0, 1));
        assert_eq!(f.pop(2).unwrap().fired_at, 7 + u32::MAX as u64);
        // Slots are reusable after the clear.
        f.push(0, 2, rec(0, 2, 9, 0, 9));
        assert_eq!(f.pop(2).unwrap().handle, 2 << 32);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut f = Fired::<2, 1>::new();
        f.slots[0].arm_seq = u32::MAX;
        assert_eq!(f.rearm(0, 0), 0);
    }
}
