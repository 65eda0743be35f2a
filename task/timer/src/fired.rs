//! Delivered-but-not-fetched expiries, one FIFO per owning task.
//!
//! When a timer fires, the server posts the owner's notification bit and
//! queues a [`FiredRecord`] here; the owner collects them with
//! `fetch_fired`. Guarantees:
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

use timer_api::FiredRecord;

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
/// 32-byte [`FiredRecord`]): the timer's index is its slot, the arm
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
    /// No records queued.
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

    /// Starts a new arm of timer `i`: drops its queued record and returns
    /// the new arm sequence number.
    pub fn rearm(&mut self, i: usize, owner: usize) -> u32 {
        self.remove(i, owner);
        self.arm_seq[i] = self.arm_seq[i].wrapping_add(1);
        self.arm_seq[i]
    }

    /// Queues (or refreshes) timer `i`'s record for `owner`.
    pub fn push(&mut self, i: usize, owner: usize, rec: FiredRecord) {
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

    /// Takes `owner`'s oldest record.
    pub fn pop(&mut self, owner: usize) -> Option<FiredRecord> {
        let h = self.head[owner];
        if h == NIL {
            return None;
        }
        let i = at(h);
        self.remove(i, owner);
        Some(FiredRecord {
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
