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
//! The queues are doubly linked lists threaded through per-timer arrays
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

/// The queues of up to `OWNERS` tasks over a pool of `P` timers.
///
/// A queued record is kept in pieces (18 bytes per timer instead of a
/// 32-byte [`Record`]): the timer's index is its slot, the arm
/// sequence is `arm_seq`, and `fired_at` is stored as lateness.
pub struct Fired<const P: usize, const OWNERS: usize> {
    expires: [u64; P],
    token: [u32; P],
    /// `fired_at - expires`, saturated.
    late: [u32; P],
    /// The handle's generation (its upper 32 bits).
    generation: [u16; P],
    next: [u16; P],
    prev: [u16; P],
    queued: [bool; P],
    /// Arm sequence of each timer's current arm.
    pub arm_seq: [u32; P],
    head: [u16; OWNERS],
    tail: [u16; OWNERS],
    len: [u16; OWNERS],
}

impl<const P: usize, const OWNERS: usize> Fired<P, OWNERS> {
    /// No records queued. `const`, so that the queues can live in a
    /// zero-initialised static (`.bss`), not on a task's stack.
    pub const fn new() -> Self {
        Fired {
            expires: [0; P],
            token: [0; P],
            late: [0; P],
            generation: [0; P],
            next: [NIL; P],
            prev: [NIL; P],
            queued: [false; P],
            arm_seq: [0; P],
            head: [NIL; OWNERS],
            tail: [NIL; OWNERS],
            len: [0; OWNERS],
        }
    }

    /// Starts a new arm of timer `i` (pool index, `0..P`) owned by task
    /// index `owner`: drops its queued record and returns the new arm
    /// sequence number (wrapping; 1 on a timer's first arm).
    #[inline(always)]
    pub fn rearm(&mut self, i: usize, owner: usize) -> u32 {
        self.remove(i, owner);
        self.arm_seq[i] = self.arm_seq[i].wrapping_add(1);
        self.arm_seq[i]
    }

    /// Queues (or refreshes) timer `i`'s record for `owner`: a timer
    /// already queued keeps its place and gets the new record's contents
    /// (a periodic timer that fired again before its owner fetched).
    pub fn push(&mut self, i: usize, owner: usize, rec: Record) {
        self.expires[i] = rec.expires;
        self.token[i] = rec.token;
        self.late[i] = rec.fired_at.saturating_sub(rec.expires).min(u32::MAX as u64) as u32;
        self.generation[i] = (rec.handle >> 32) as u16;
        if self.queued[i] {
            return;
        }
        self.queued[i] = true;
        let t = self.tail[owner];
        self.prev[i] = t;
        self.next[i] = NIL;
        if t == NIL {
            self.head[owner] = link(i);
        } else {
            self.next[at(t)] = link(i);
        }
        self.tail[owner] = link(i);
        self.len[owner] += 1;
    }

    /// Drops timer `i`'s queued record, if any. Inline for the usual case
    /// of every arm, cancel and free: nothing queued.
    #[inline(always)]
    pub fn remove(&mut self, i: usize, owner: usize) {
        if self.queued[i] {
            self.unqueue(i, owner);
        }
    }

    /// Unlinks queued record `i` from `owner`'s queue.
    #[inline(never)]
    fn unqueue(&mut self, i: usize, owner: usize) {
        self.queued[i] = false;
        let (p, n) = (self.prev[i], self.next[i]);
        if p == NIL {
            self.head[owner] = n;
        } else {
            self.next[at(p)] = n;
        }
        if n == NIL {
            self.tail[owner] = p;
        } else {
            self.prev[at(n)] = p;
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
        Some(Record {
            handle: (self.generation[i] as u64) << 32 | i as u64,
            expires: self.expires[i],
            fired_at: self.expires[i] + self.late[i] as u64,
            token: self.token[i],
            seq: self.arm_seq[i],
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
        f.arm_seq[0] = u32::MAX;
        assert_eq!(f.rearm(0, 0), 0);
    }
}
