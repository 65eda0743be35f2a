//! The time page (jiffies and ktime without IPC): test-time-page.
//!
//! - `pagehostile` (priority 4, above the reader, below the timer server):
//!   one attack per incarnation (progress in `.uninit`), each of which
//!   must fault only itself and change nothing: write the page; write
//!   TIM5's CNT through its read-only window; write ARR, CNT's neighbour
//!   in the same window; read TIM5's CR1, outside the window; receive a
//!   message into the page (the kernel must refuse a buffer it would
//!   write); lend the page as a writable lease. Then it parks.
//! - `pagereader` (priority 5, the runner): checks the hostile's record,
//!   then reads the page in a tight loop in both modes of the server:
//!   tickless (no timer: the server sleeps for its idle bound, 1.91 s, so
//!   the page is not rewritten at all) for 250 ms across the 32-bit
//!   counter's wrap (the clockevent driver is built to start the counter
//!   0.15 s before it), then periodic (a tick hook makes the server tick
//!   at HZ, each tick updating the page while the reader may be in the
//!   middle of a read) for 250 ms more. Every read must be at or after the previous one
//!   (jiffies and ns), consistent (jiffies - ns / ns-per-jiffy, the line's
//!   offset, never falls), and every 64th is bracketed by the server's
//!   IPC answers: `jiffies` before <= page <= `jiffies` after + 1, and
//!   `ktime_get` before <= page ns <= `ktime_get` after.
//!
//! Bounds: in tickless mode the page and the server read the same
//! counter line, so they agree exactly; in periodic mode the page's
//! jiffies turn at the clocksource's jiffy boundary and the server's at
//! its tick interrupt, which comes after it, so the page may lead by one
//! jiffy while the tick is on its way.

use crate::common::*;
use drv_console_api::console_writeln;
#[cfg(feature = "pagereader")]
use timer_api::Timer;

#[cfg(feature = "pagereader")]
timer_api::time_page!(vdso);

/// Attacks, in order, one per incarnation.
#[cfg(feature = "pagehostile")]
const ATTACKS: [&str; 6] = [
    "write the time page",
    "write TIM5 CNT through the read-only window",
    "write TIM5 ARR, CNT's neighbour in the window",
    "read TIM5 CR1, outside the window",
    "receive a message into the time page",
    "lend the time page as a writable lease",
];

#[cfg(feature = "pagehostile")]
#[link_section = ".uninit"]
static mut KEPT: [u32; 2] = [0; 2];

#[cfg(feature = "pagehostile")]
pub fn run_hostile() -> ! {
    use crate::{shared, slots, windows};
    const MAGIC: u32 = 0x7153_0001;
    let kept = &raw mut KEPT;
    // Safety: this task's own `.uninit` words, reached only here, with
    // volatile accesses (start-up leaves them alone across restarts).
    let n = unsafe {
        let w = kept as *mut u32;
        if w.read_volatile() != MAGIC {
            w.write_volatile(MAGIC);
            w.add(1).write_volatile(0);
        }
        let n = w.add(1).read_volatile();
        w.add(1).write_volatile(n + 1);
        n as usize
    };
    if n >= ATTACKS.len() {
        console_writeln!(console(), "pagehostile: done, {} attacks", ATTACKS.len());
        park()
    }
    console_writeln!(console(), "pagehostile: {}", ATTACKS[n]);
    let page = shared::TIME_PAGE_BASE as *mut u32;
    let cnt = (windows::CLOCKSOURCE_BASE + 4) as *mut u32;
    // Safety (all below): none of these accesses is allowed, which is the
    // point: the MPU or the kernel must stop each before it has any
    // effect, and stop only this task.
    unsafe {
        match n {
            0 => page.write_volatile(0xDEAD_0001),
            1 => cnt.write_volatile(0),
            2 => cnt.add(2).write_volatile(1),
            3 => {
                let _ = ((windows::CLOCKSOURCE_BASE - 0x20) as *const u32).read_volatile();
            }
            4 => {
                let buf = core::slice::from_raw_parts_mut(page as *mut u8, 16);
                let _ = userlib::sys_recv_open(buf, 0);
            }
            _ => {
                let buf = core::slice::from_raw_parts_mut(page as *mut u8, 16);
                let lease = userlib::Lease::from(&mut *buf);
                let _ = userlib::sys_send(slots::TIMER, 1, &[], &mut [], &[lease]);
            }
        }
    }
    console_writeln!(console(), "FAIL page-hostile: `{}` did not fault", ATTACKS[n]);
    park()
}

/// ns per jiffy at the test image's HZ (100).
#[cfg(feature = "pagereader")]
const NS_PER_JIFFY: u64 = 10_000_000;
/// The test image's clocksource rate (the 1 GHz model clock, undivided).
#[cfg(feature = "pagereader")]
const CLOCKSOURCE_HZ: u64 = 1_000_000_000;

/// A tight loop of page reads from now until ktime reaches `until_ns`.
#[cfg(feature = "pagereader")]
struct Run {
    reads: u32,
    /// Reads that met an update (the sequence changed) and read again.
    retried: u32,
    compared: u32,
    backwards: u32,
    torn: u32,
    outside: u32,
    lead: u64,
    last: (u64, u64),
    first_bad: Option<(u64, u64, u64, u64)>,
}

/// The page, counting how often the sequence word is read (twice per
/// attempt): more than two means the read raced an update and retried.
#[cfg(feature = "pagereader")]
struct Counting {
    page: timer_vdso::Page,
    seq_reads: u32,
}

#[cfg(feature = "pagereader")]
impl timer_vdso::Source for Counting {
    fn word(&mut self, i: usize) -> u32 {
        self.seq_reads += (i == timer_vdso::word::SEQ) as u32;
        self.page.word(i)
    }
    fn counter(&mut self) -> u32 {
        self.page.counter()
    }
}

#[cfg(feature = "pagereader")]
fn run_loop(timer: &Timer, until_ns: u64, mut last: (u64, u64), periodic: bool) -> Run {
    let mut r = Run { reads: 0, retried: 0, compared: 0, backwards: 0, torn: 0, outside: 0, lead: 0, last, first_bad: None };
    let mut offset = last.0.wrapping_sub(last.1 / NS_PER_JIFFY);
    loop {
        let compare = r.reads % 64 == 0;
        let before = if compare { Some((timer.jiffies(), timer.ktime_get().unwrap_or(0))) } else { None };
        let mut counting = Counting { page: vdso::PAGE_RAW, seq_reads: 0 };
        let (j, ns) = timer_vdso::read_both(&mut counting).unwrap_or((0, 0));
        r.retried += (counting.seq_reads > 2) as u32;
        r.reads += 1;
        if j < last.0 || ns < last.1 {
            r.backwards += 1;
            r.first_bad.get_or_insert((last.0, last.1, j, ns));
        }
        // The line's offset may only step forward (a new line), never back.
        let o = j.wrapping_sub(ns / NS_PER_JIFFY);
        if (o.wrapping_sub(offset) as i64) < 0 {
            r.torn += 1;
            r.first_bad.get_or_insert((offset, 0, j, ns));
        }
        offset = o;
        if let Some((j1, k1)) = before {
            let (j2, k2) = (timer.jiffies(), timer.ktime_get().unwrap_or(0));
            r.compared += 1;
            let slack = if periodic { 1 } else { 0 };
            if j < j1 || j > j2 + slack || ns < k1 || ns > k2 {
                r.outside += 1;
                r.first_bad.get_or_insert((j1, k1, j, ns));
            }
            r.lead = r.lead.max(j.saturating_sub(j2));
        }
        last = (j, ns);
        if ns >= until_ns {
            break;
        }
    }
    r.last = last;
    r
}

#[cfg(feature = "pagereader")]
pub fn run_reader() -> ! {
    use crate::{notifications, slots};
    use userlib::kipc;
    let mut t = Tally::new();
    let timer = Timer::from(slots::TIMER);

    // The hostile ran first (it outranks us): six faults, each reported
    // by the kernel, and it is now parked at generation 6.
    let st = kipc::read_task_status(slots::PAGEHOSTILE.index());
    t.check_said(
        "page-hostile",
        st.generation == 6 && st.state != userlib::state_code::FAULTED,
        format_args!("6 attacks on the page and the counter window, each faulted only the attacker (now generation {})", st.generation),
    );

    // Before anything: the page answers what the server answers.
    let j0 = timer.jiffies();
    let (pj, pn) = vdso::page().try_both().unwrap_or((0, 0));
    let j1 = timer.jiffies();
    t.check_said(
        "page-published",
        j0 <= pj && pj <= j1 && vdso::get_jiffies_64() >= pj && vdso::ktime_get_ns() >= pn,
        format_args!("jiffies {pj:#x} from the page, {j0:#x}..{j1:#x} from the server"),
    );

    // Tickless: no timer, no hook; the server sleeps up to its idle bound
    // (1.91 s at 1 GHz) and the page is written only when it wakes.
    // The clocksource starts 0.15 s before its 32-bit wrap (the driver's
    // `clocksource-wraps-early`): the wrap comes in this phase, with no
    // page update around it.
    let wrap_ns = (1u64 << 32) * 1_000_000_000 / CLOCKSOURCE_HZ;
    let r = run_loop(&timer, pn + 200_000_000, (pj, pn), false);
    let crossed = pn < wrap_ns && r.last.1 > wrap_ns;
    t.check_said(
        "page-tickless-wrap",
        crossed && r.backwards == 0 && r.torn == 0 && r.outside == 0,
        format_args!(
            "{} reads over 200 ms across the counter's wrap (page not rewritten), {} bracketed by the server's answers: 0 backwards, 0 torn, 0 outside (exact)",
            r.reads, r.compared
        ),
    );
    if r.backwards + r.torn + r.outside != 0 {
        console_writeln!(console(), "  first bad: {:x?}, backwards {}, torn {}, outside {}", r.first_bad, r.backwards, r.torn, r.outside);
    }

    // Periodic: a hook makes the server tick at HZ and update the page on
    // every tick, racing our reads; run past the counter's 32-bit wrap.
    let hook = timer.hook_register(notifications::HOOK_BIT as u8, false);
    let r2 = run_loop(&timer, r.last.1 + 200_000_000, r.last, true);
    if let Ok(h) = hook {
        let _ = timer.hook_unregister(h);
    }
    t.check_said(
        "page-periodic",
        hook.is_ok() && r2.backwards == 0 && r2.torn == 0 && r2.outside == 0,
        format_args!(
            "{} reads over 200 ms, 20 ticks each rewriting the page (reads that raced an update and retried: {}), {} bracketed: 0 backwards, 0 torn, 0 outside; page led the server by at most {} jiffy",
            r2.reads, r2.retried, r2.compared, r2.lead
        ),
    );
    if r2.backwards + r2.torn + r2.outside != 0 {
        console_writeln!(console(), "  first bad: {:x?}, backwards {}, torn {}, outside {}", r2.first_bad, r2.backwards, r2.torn, r2.outside);
    }
    console_writeln!(console(), "time page tests done: {} failed", t.failed);
    kipc::semihost_exit(t.failed)
}
