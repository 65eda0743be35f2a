//! `moddel`: the return values of add/mod/del/pending with their Linux
//! meanings, del_timer_sync's meaning, arm sequence numbers, periodic
//! timers without drift, and stale handles.

use crate::common::*;
use crate::{notifications, slots};
use timer_api::{FiredRecord, Timer, TimerError};
use userlib::sys_recv_notification;

const MASK: u32 = notifications::TIMER_MASK;

/// Blocks until the timer bit arrives (does not fetch).
fn wait_bit() {
    sys_recv_notification(MASK);
}

/// Fetches everything queued (at most 8 records kept).
fn fetch(timer: &Timer) -> ([FiredRecord; 8], usize) {
    let mut out = [FiredRecord::default(); 8];
    let mut n = 0;
    let _ = fetch_all(timer, |r| {
        if n < out.len() {
            out[n] = r;
        }
        n += 1;
    });
    (out, n)
}

pub fn run() -> ! {
    let mut t = Tally::new();
    let timer = Timer::from(slots::TIMER);
    let bit = notifications::TIMER_BIT as u8;
    let h = timer.setup(bit, 7, 0, 0, false).unwrap_or(0);

    let r = (timer.del_timer(h), timer.timer_pending(h));
    t.check("del-unarmed", r == (Ok(false), Ok(false)), format_args!("{:?}", r));

    let j = timer.jiffies();
    let s1 = timer.add_timer(h, j + 10);
    let again = timer.add_timer(h, j + 11);
    t.check(
        "add-then-add",
        s1.is_ok() && again == Err(TimerError::AlreadyPending) && timer.timer_pending(h) == Ok(true),
        format_args!("{:?} {:?}", s1, again),
    );
    let s1 = s1.unwrap_or(0);
    let m2 = timer.mod_timer(h, j + 20);
    let m3 = timer.mod_timer(h, j + 20);
    t.check(
        "mod-pending",
        matches!(m2, Ok(a) if a.was_pending == 1 && a.seq == s1 + 1) && matches!(m3, Ok(a) if a.was_pending == 1 && a.seq == s1 + 2),
        format_args!("{:?} {:?} after seq {}", m2, m3, s1),
    );
    let d1 = timer.del_timer(h);
    let d2 = timer.del_timer(h);
    t.check(
        "del-pending-then-not",
        d1 == Ok(true) && d2 == Ok(false) && timer.timer_pending(h) == Ok(false),
        format_args!("{:?} {:?}", d1, d2),
    );
    let m4 = timer.mod_timer(h, j + 20);
    let _ = timer.del_timer(h);
    t.check("mod-unarmed", matches!(m4, Ok(a) if a.was_pending == 0), format_args!("{:?}", m4));

    // del_timer_sync: the expiry has fired and its bit is posted, but the
    // record is not fetched yet; after del returns nothing is delivered.
    let j = timer.jiffies();
    let _ = timer.add_timer(h, j + 2);
    wait_bit();
    let d = timer.del_timer(h);
    let (_, n) = fetch(&timer);
    t.check("del-sync-drops-fired", d == Ok(false) && n == 0, format_args!("del {:?}, {} records", d, n));

    // A stale expiry: the first arm fires (not fetched), the timer is
    // re-armed; only the new arm, with the new sequence, is delivered.
    let j = timer.jiffies();
    let sa = timer.add_timer(h, j + 2).unwrap_or(0);
    wait_bit();
    let m = timer.mod_timer(h, j + 5);
    wait_bit();
    let (recs, n) = fetch(&timer);
    let sb = m.map(|a| a.seq).unwrap_or(0);
    t.check(
        "stale-expiry-by-seq",
        matches!(m, Ok(a) if a.was_pending == 0)
            && sb == sa + 1
            && n == 1
            && recs[0].seq == sb
            && recs[0].expires == j + 5
            && recs[0].fired_at == j + 5
            && recs[0].token == 7,
        format_args!("seq {} then {:?}; {} records, first {:?}", sa, m, n, recs[0]),
    );

    // Periodic without drift: fires at j+7, j+14, j+21 exactly.
    let p = timer.setup(bit, 8, 7, 0, false).unwrap_or(0);
    let j = timer.jiffies();
    let seq = timer.add_timer(p, j + 7).unwrap_or(0);
    let mut ok = true;
    for k in 1..=3u64 {
        wait_bit();
        let (recs, n) = fetch(&timer);
        ok &= n == 1 && recs[0].expires == j + 7 * k && recs[0].fired_at == j + 7 * k && recs[0].seq == seq;
    }
    let d = timer.del_timer(p);
    t.check("periodic-no-drift", ok && d == Ok(true), format_args!("del {:?}", d));

    // Far beyond the wheel's range: clamped, pending, cancellable.
    let j = timer.jiffies();
    let m = timer.mod_timer(h, j + (1 << 40));
    let pend = timer.timer_pending(h);
    let d = timer.del_timer(h);
    t.check(
        "far-expiry-clamped",
        matches!(m, Ok(a) if a.was_pending == 0) && pend == Ok(true) && d == Ok(true),
        format_args!("{:?} {:?} {:?}", m, pend, d),
    );

    // Freed handles are stale for every op.
    let _ = timer.free(h);
    let _ = timer.free(p);
    let r = [
        timer.add_timer(h, j + 5).err(),
        timer.mod_timer(h, j + 5).err(),
        timer.del_timer(h).err(),
        timer.timer_pending(h).err(),
        timer.free(h).err(),
    ];
    t.check(
        "freed-handle-stale",
        r.iter().all(|e| *e == Some(TimerError::StaleHandle)),
        format_args!("{:?}", r),
    );
    report(slots::RUNNER, t.failed);
    park()
}
