//! The time page: jiffies_64 and ktime (ns since boot) read with no
//! syscall and no IPC, as Linux's vDSO gives `clock_gettime`.
//!
//! Why it exists: every `jiffies` or `ktime_get` through the timer server
//! is an IPC round trip (two in tickless mode, where the server asks the
//! clockevent driver for the counter). Instead, the timer server publishes
//! a small page in a shared region that app.toml lets it write and lets
//! chosen tasks read (`[shared.time-page]`), and those tasks read the
//! clocksource's counter (TIM5 CNT) through a read-only window
//! (`windows` in app.toml). A read is then a handful of loads and one
//! multiply or divide.
//!
//! What the page holds (one "line", see [`Snapshot`]): the anchor, a
//! counter value at which a jiffy begins, with the jiffies_64 and the ns
//! since boot at that instant, and the conversions: cycles per jiffy and
//! the clocksource's cycles-to-ns `mult`/`shift`. A reader adds what the
//! counter has moved since the anchor, so the page need not be rewritten
//! while the server sleeps (tickless): jiffies stay right because they are
//! computed from the counter, not stored.
//!
//! Consistency: the page is a seqlock. The writer makes the sequence odd,
//! writes the fields, makes it even again; a reader reads the sequence,
//! the fields and the counter, then the sequence again, and retries unless
//! both were the same even value. Reading the counter *inside* the
//! sequence matters: a jiffy update that races the counter read changes
//! the sequence, so the counter is always interpreted against the anchor
//! that was current when it was read.
//!
//! Barriers: Escapement runs on one core, and a task is only ever
//! interrupted between instructions, by an exception that completes
//! before the task resumes (the writer runs only while the reader is
//! preempted). So there is no memory-ordering hazard between CPUs, only
//! the compiler's freedom to reorder or merge accesses: every page and
//! counter access is volatile (never merged, elided or duplicated) and
//! compiler fences keep the field loads between the two sequence loads.
//! Exception entry and return are themselves barriers on ARMv7-M, so no
//! `dmb` is needed; a multi-core port would need `dmb` where the fences
//! are ([`Page`] is the one place to add them).
//!
//! Guarantees (tested in this crate, with a writer preempting the reader
//! at every access of a read):
//! - a read is never torn: every value returned was computed from one
//!   published line and a counter value read while that line was current;
//! - reads never go backwards: the writer only publishes lines that are at
//!   or after the previous one at every counter value ([`Writer`]), a
//!   counter value before the anchor counts as the anchor, and the 32-bit
//!   counter's wrap is taken by wrapping subtraction (exact while the
//!   anchor is less than 2^31 cycles old, which the server's tickless
//!   sleep bound, half the wrap less a margin, keeps true);
//! - a page never published (all zero, as the kernel leaves a shared
//!   region at boot) reads as [`ReadError::NotPublished`], never as time.
//!
//! Units: counter values in clocksource cycles, ktime in ns, jiffies as
//! the timer server's 64-bit jiffies (starting at Linux's INITIAL_JIFFIES).

#![no_std]

use core::sync::atomic::{compiler_fence, Ordering};

/// Words of the page, in order. The layout is `repr(C)` `u32`s; the
/// 64-bit values are split low word first.
pub mod word {
    /// The sequence: 0 = never published, odd = an update in progress.
    pub const SEQ: usize = 0;
    /// Clocksource cycles per jiffy (rate / HZ).
    pub const CYCLES_PER_JIFFY: usize = 1;
    /// cycles -> ns multiplier: `ns = (cycles * mult) >> shift`.
    pub const MULT: usize = 2;
    /// cycles -> ns shift.
    pub const SHIFT: usize = 3;
    /// The anchor's counter value, low 32 bits (what the hardware counter
    /// reads then).
    pub const ANCHOR_LO: usize = 4;
    /// The anchor's counter value, high 32 bits (the extension; for the
    /// writer, readers never need it).
    pub const ANCHOR_HI: usize = 5;
    /// ns since boot at the anchor, low word.
    pub const NS_LO: usize = 6;
    /// ns since boot at the anchor, high word.
    pub const NS_HI: usize = 7;
    /// jiffies_64 at the anchor, low word.
    pub const JIFFIES_LO: usize = 8;
    /// jiffies_64 at the anchor, high word.
    pub const JIFFIES_HI: usize = 9;
    /// Number of words.
    pub const COUNT: usize = 10;
}

/// Bytes the page occupies; the shared region must be at least this big
/// (app.toml `[shared.time-page] size`, a power of two: 64).
pub const PAGE_BYTES: usize = word::COUNT * 4;

/// Most retries of a read before [`ReadError::Busy`]. A reader of lower
/// priority than the writer (app.toml insists on it) retries only when
/// the writer preempted it mid-read, at most once per page update; a page
/// left odd for this long means the writer died mid-update (it republishes
/// when restarted).
pub const MAX_RETRIES: u32 = 1000;

/// Why a read gave no time.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The page has never been published (the timer server has not
    /// started, or could not publish: its clocksource rate is not a
    /// multiple of HZ).
    NotPublished,
    /// [`MAX_RETRIES`] reads in a row met an update in progress.
    Busy,
}

/// One published line: the anchor and the conversions.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Clocksource cycles per jiffy; never 0 on a published page.
    pub cycles_per_jiffy: u32,
    /// cycles -> ns multiplier.
    pub mult: u32,
    /// cycles -> ns shift (< 32).
    pub shift: u32,
    /// The counter (low 32 bits) when jiffy `jiffies` began.
    pub anchor: u32,
    /// ns since boot at the anchor.
    pub ns: u64,
    /// jiffies_64 at the anchor.
    pub jiffies: u64,
}

impl Snapshot {
    /// Cycles since the anchor at counter value `counter`: wrapping, so
    /// a 32-bit wrap between anchor and read is exact; a value before the
    /// anchor (the anchor may lead the hardware by a fraction of a jiffy
    /// just after a periodic tick, see [`Writer::advance`]) counts as 0,
    /// so time never steps back.
    #[inline(always)]
    pub fn elapsed(&self, counter: u32) -> u32 {
        let d = counter.wrapping_sub(self.anchor);
        if (d as i32) < 0 {
            0
        } else {
            d
        }
    }

    /// jiffies_64 at counter value `counter`.
    #[inline(always)]
    pub fn jiffies_at(&self, counter: u32) -> u64 {
        let d = self.elapsed(counter);
        // Nearly always d < cycles_per_jiffy when the server ticks; one
        // hardware divide otherwise. cycles_per_jiffy is never 0 here.
        self.jiffies + (d / self.cycles_per_jiffy) as u64
    }

    /// ns since boot at counter value `counter`: the anchor's ns plus
    /// `(d * mult) >> shift` (a 32x32->64 multiply: no overflow for any d).
    #[inline(always)]
    pub fn ns_at(&self, counter: u32) -> u64 {
        let d = self.elapsed(counter) as u64;
        self.ns + ((d * self.mult as u64) >> self.shift)
    }
}

/// Reads of the page and the counter, one access per call (volatile on
/// target; a simulation in tests that can run the writer between any two).
pub trait Source {
    /// Word `i` of the page ([`word`]).
    fn word(&mut self, i: usize) -> u32;
    /// The clocksource counter (32 bits, free-running).
    fn counter(&mut self) -> u32;
}

/// Writes of the page, one word per call.
pub trait Sink {
    /// Stores `v` into word `i` of the page.
    fn set(&mut self, i: usize, v: u32);
    /// Word `i` of the page as it is now (the writer's own view).
    fn get(&mut self, i: usize) -> u32;
}

/// One attempt: the line and a counter value read under one even sequence,
/// or why not (`Err(None)`: an update was in progress, retry).
#[inline(always)]
fn attempt<S: Source, T>(s: &mut S, f: impl FnOnce(&mut S, u32) -> T) -> Result<T, Option<ReadError>> {
    let seq = s.word(word::SEQ);
    if seq & 1 != 0 {
        return Err(None);
    }
    if seq == 0 {
        return Err(Some(ReadError::NotPublished));
    }
    compiler_fence(Ordering::Acquire);
    let out = f(s, seq);
    compiler_fence(Ordering::Acquire);
    if s.word(word::SEQ) != seq {
        return Err(None);
    }
    Ok(out)
}

/// Retries `attempt` until it succeeds, up to [`MAX_RETRIES`] times.
#[inline(always)]
fn retry<S: Source, T>(s: &mut S, mut f: impl FnMut(&mut S) -> T) -> Result<T, ReadError> {
    for _ in 0..MAX_RETRIES {
        match attempt(s, |s, _| f(s)) {
            Ok(v) => return Ok(v),
            Err(Some(e)) => return Err(e),
            Err(None) => continue,
        }
    }
    Err(ReadError::Busy)
}

fn load_u64<S: Source>(s: &mut S, lo: usize, hi: usize) -> u64 {
    s.word(lo) as u64 | (s.word(hi) as u64) << 32
}

/// jiffies_64 now (`get_jiffies_64`), with only the words it needs.
#[inline(always)]
pub fn read_jiffies<S: Source>(s: &mut S) -> Result<u64, ReadError> {
    retry(s, |s| {
        let cpj = s.word(word::CYCLES_PER_JIFFY);
        let anchor = s.word(word::ANCHOR_LO);
        let jiffies = load_u64(s, word::JIFFIES_LO, word::JIFFIES_HI);
        let counter = s.counter();
        Snapshot { cycles_per_jiffy: cpj, mult: 0, shift: 0, anchor, ns: 0, jiffies }.jiffies_at(counter)
    })
}

/// ns since boot now (`ktime_get`), with only the words it needs.
#[inline(always)]
pub fn read_ktime<S: Source>(s: &mut S) -> Result<u64, ReadError> {
    retry(s, |s| {
        let mult = s.word(word::MULT);
        let shift = s.word(word::SHIFT);
        let anchor = s.word(word::ANCHOR_LO);
        let ns = load_u64(s, word::NS_LO, word::NS_HI);
        let counter = s.counter();
        Snapshot { cycles_per_jiffy: 1, mult, shift, anchor, ns, jiffies: 0 }.ns_at(counter)
    })
}

/// Both at one counter value: (jiffies_64, ns since boot).
pub fn read_both<S: Source>(s: &mut S) -> Result<(u64, u64), ReadError> {
    retry(s, |s| {
        let snap = snapshot_words(s);
        let counter = s.counter();
        (snap.jiffies_at(counter), snap.ns_at(counter))
    })
}

/// The whole line and a counter value read with it (for inspection and
/// tests).
pub fn read_snapshot<S: Source>(s: &mut S) -> Result<(Snapshot, u32), ReadError> {
    retry(s, |s| {
        let snap = snapshot_words(s);
        (snap, s.counter())
    })
}

fn snapshot_words<S: Source>(s: &mut S) -> Snapshot {
    Snapshot {
        cycles_per_jiffy: s.word(word::CYCLES_PER_JIFFY),
        mult: s.word(word::MULT),
        shift: s.word(word::SHIFT),
        anchor: s.word(word::ANCHOR_LO),
        ns: load_u64(s, word::NS_LO, word::NS_HI),
        jiffies: load_u64(s, word::JIFFIES_LO, word::JIFFIES_HI),
    }
}

/// The time page in memory, read and written with volatile accesses.
///
/// Construct it only for memory that is a page (mapped readable for a
/// reader, writable for the writer) and a counter register, see
/// [`Page::new`].
#[derive(Copy, Clone, Debug)]
pub struct Page {
    words: *mut u32,
    counter: *const u32,
}

impl Page {
    /// The page at `page` and the 32-bit counter register at `counter`.
    ///
    /// # Safety
    /// `page` is 4-byte aligned and [`PAGE_BYTES`] of it are readable by
    /// this task for as long as the `Page` is used (and writable if it is
    /// used as a [`Sink`]); `counter` is a readable, 4-byte aligned
    /// register or word whose reads have no side effects (or `null` if the
    /// `Page` is only written).
    pub const unsafe fn new(page: usize, counter: usize) -> Self {
        Page { words: page as *mut u32, counter: counter as *const u32 }
    }
}

impl Source for Page {
    #[inline(always)]
    fn word(&mut self, i: usize) -> u32 {
        // Safety: `new`'s contract: the page's words are readable; every
        // index used is < word::COUNT.
        unsafe { self.words.add(i).read_volatile() }
    }

    #[inline(always)]
    fn counter(&mut self) -> u32 {
        // Safety: `new`'s contract: a readable counter without read side
        // effects.
        unsafe { self.counter.read_volatile() }
    }
}

impl Sink for Page {
    #[inline(always)]
    fn set(&mut self, i: usize, v: u32) {
        // Safety: `new`'s contract for a writer: the page is writable.
        unsafe { self.words.add(i).write_volatile(v) }
    }

    #[inline(always)]
    fn get(&mut self, i: usize) -> u32 {
        self.word(i)
    }
}

/// The clock a page describes, fixed for a writer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Clock {
    /// Clocksource cycles per jiffy.
    pub cycles_per_jiffy: u32,
    /// ns per jiffy.
    pub ns_per_jiffy: u32,
    /// cycles -> ns multiplier (the clocksource's).
    pub mult: u32,
    /// cycles -> ns shift (the clocksource's).
    pub shift: u32,
}

impl Clock {
    /// The clock of a clocksource counting at `rate_hz` with cycles->ns
    /// `mult`/`shift`, for jiffies at `hz`. `None` unless jiffies start
    /// on whole cycles and whole ns (`rate_hz` and 1e9 are multiples of
    /// `hz`), which keeps every anchor's ns exact, and unless `shift < 32`.
    pub const fn new(rate_hz: u32, hz: u32, mult: u32, shift: u32) -> Option<Clock> {
        if hz == 0 || rate_hz == 0 || rate_hz % hz != 0 || 1_000_000_000 % hz != 0 || shift >= 32 {
            return None;
        }
        Some(Clock { cycles_per_jiffy: rate_hz / hz, ns_per_jiffy: 1_000_000_000 / hz, mult, shift })
    }
}

/// The published line, in whole jiffies of the counter: jiffy number `m`
/// of the clocksource (the one starting at cycle `m * cycles_per_jiffy`)
/// is jiffies_64 `m + offset`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Line {
    m: u64,
    offset: u64,
}

/// The writer's side: keeps the published line and only ever moves it
/// forward.
///
/// Monotonic rule: the line is `jiffies(c) = floor(c / cpj) + offset`, and
/// an update may raise `offset` but never lower it (a server whose own
/// jiffies lag the page, as after lost periodic ticks, leaves the page
/// ahead rather than stepping it back). ns are a function of the counter
/// alone (`m * ns_per_jiffy` at the anchor), so they cannot step back
/// while the counter does not.
///
/// Cost: a periodic tick (one jiffy on the same line) rewrites only the
/// anchor, ns and jiffies words, each moved by a constant, because the
/// conversion words are written by the first full update of this writer
/// and never change (a `Clock` is fixed).
#[derive(Copy, Clone, Debug)]
pub struct Writer {
    clock: Clock,
    line: Option<Line>,
    /// The published anchor (cycles) and its ns, for the one-jiffy step.
    anchor: u64,
    ns: u64,
    /// True once this writer has written the conversion words.
    constants: bool,
    /// Jiffies between rewrites on periodic ticks ([`Writer::advance`]).
    refresh: u64,
    /// The jiffy at which the next periodic rewrite is due (the published
    /// anchor's plus `refresh`): a tick before it costs one comparison.
    due: u64,
}

impl Writer {
    /// A writer for `clock` that has published nothing yet, rewriting the
    /// page on every periodic tick.
    pub const fn new(clock: Clock) -> Writer {
        Writer { clock, line: None, anchor: 0, ns: 0, constants: false, refresh: 1, due: 0 }
    }

    /// The longest refresh interval, in jiffies, that keeps every anchor
    /// less than 2^30 cycles old (half the reader's 2^31 bound, leaving
    /// room for a late tick); at least 1.
    pub const fn max_refresh(clock: Clock) -> u64 {
        let n = (1u64 << 30) / clock.cycles_per_jiffy as u64;
        if n == 0 {
            1
        } else {
            n
        }
    }

    /// As [`Writer::new`], but a periodic tick rewrites the page only every
    /// `refresh` jiffies (clamped to `1..=max_refresh`). Readers compute
    /// jiffies from the counter, so the page is right between rewrites; a
    /// rewrite only keeps the anchor young (on the timer server's periodic
    /// tick, `cargo xtask bench`: 918 instructions rewriting every tick,
    /// 869 at the largest interval, 844 with no page at all).
    pub const fn with_refresh(clock: Clock, refresh: u64) -> Writer {
        let max = Self::max_refresh(clock);
        let refresh = if refresh == 0 {
            1
        } else if refresh > max {
            max
        } else {
            refresh
        };
        Writer { clock, line: None, anchor: 0, ns: 0, constants: false, refresh, due: 0 }
    }

    /// Takes over the line a page already holds (a restarted writer:
    /// the page outlives it), so the next update does not step back.
    /// Nothing happens if the page was never published, describes another
    /// clock, or was left mid-update (odd: its fields are a mix, so the
    /// next update starts a fresh line from the server's jiffies, which
    /// follow the same clocksource).
    pub fn adopt<P: Sink>(&mut self, page: &mut P) {
        let seq = page.get(word::SEQ);
        if seq == 0
            || seq & 1 != 0
            || page.get(word::CYCLES_PER_JIFFY) != self.clock.cycles_per_jiffy
            || page.get(word::MULT) != self.clock.mult
            || page.get(word::SHIFT) != self.clock.shift
        {
            return;
        }
        let anchor = page.get(word::ANCHOR_LO) as u64 | (page.get(word::ANCHOR_HI) as u64) << 32;
        let jiffies = page.get(word::JIFFIES_LO) as u64 | (page.get(word::JIFFIES_HI) as u64) << 32;
        let m = anchor / self.clock.cycles_per_jiffy as u64;
        self.line = Some(Line { m, offset: jiffies.wrapping_sub(m) });
    }

    /// The server read the counter: cycle `now` (64-bit, extended) is in
    /// its jiffy `jiffies`. Publishes the line through that jiffy's start,
    /// or keeps the current offset if that one is ahead.
    ///
    /// Nothing is written if `jiffies` is the published anchor's jiffy:
    /// the anchor is then less than a jiffy old and readers already get
    /// `jiffies` from it (this keeps a `jiffies` request, which catches up
    /// first, from rewriting the page and dividing every time).
    pub fn sync<P: Sink>(&mut self, page: &mut P, now: u64, jiffies: u64) {
        if self.published_jiffies() == Some(jiffies) {
            return;
        }
        let m = div_u64_u32(now, self.clock.cycles_per_jiffy);
        let mut offset = jiffies.wrapping_sub(m);
        if let Some(old) = self.line {
            if (offset.wrapping_sub(old.offset) as i64) < 0 {
                offset = old.offset;
            }
        }
        self.publish(page, Line { m, offset });
    }

    /// The server's jiffies advanced to `jiffies` without a counter read
    /// (a periodic tick): the anchor moves to that jiffy's start on the
    /// current line, if the anchor is `refresh` jiffies old (see
    /// [`Writer::with_refresh`]). Nothing happens before the first
    /// [`Writer::sync`], or if the page is already at or past it.
    #[inline]
    pub fn advance<P: Sink>(&mut self, page: &mut P, jiffies: u64) {
        if (jiffies.wrapping_sub(self.due) as i64) < 0 {
            return;
        }
        let Some(line) = self.line else { return };
        let m = jiffies.wrapping_sub(line.offset);
        let step = m.wrapping_sub(line.m);
        if (step as i64) < self.refresh as i64 {
            return;
        }
        if step == 1 && self.constants {
            // The common tick: everything moves by one jiffy.
            self.line = Some(Line { m, offset: line.offset });
            self.due = jiffies.wrapping_add(self.refresh);
            self.anchor = self.anchor.wrapping_add(self.clock.cycles_per_jiffy as u64);
            self.ns = self.ns.wrapping_add(self.clock.ns_per_jiffy as u64);
            Self::store(page, self.anchor, self.ns, jiffies, None);
        } else if (step as i64) > 0 {
            self.publish(page, Line { m, offset: line.offset });
        }
    }

    /// jiffies_64 at the anchor of the published line, if any.
    pub fn published_jiffies(&self) -> Option<u64> {
        self.line.map(|l| l.m.wrapping_add(l.offset))
    }

    /// A full update (kept out of line: the periodic tick inlines only the
    /// one-jiffy step of [`Writer::advance`]).
    #[inline(never)]
    fn publish<P: Sink>(&mut self, page: &mut P, line: Line) {
        let c = self.clock;
        self.anchor = line.m.wrapping_mul(c.cycles_per_jiffy as u64);
        self.ns = line.m.wrapping_mul(c.ns_per_jiffy as u64);
        let jiffies = line.m.wrapping_add(line.offset);
        let constants = if self.constants { None } else { Some(c) };
        Self::store(page, self.anchor, self.ns, jiffies, constants);
        self.constants = true;
        self.line = Some(line);
        self.due = jiffies.wrapping_add(self.refresh);
    }

    /// One update under the sequence: the anchor, its ns and jiffies, and
    /// the conversion words if `constants` is given.
    #[inline(always)]
    fn store<P: Sink>(page: &mut P, anchor: u64, ns: u64, jiffies: u64, constants: Option<Clock>) {
        // Odd while writing; a writer that died mid-update left it odd,
        // which the next odd value (two on) continues from.
        let seq = page.get(word::SEQ);
        let odd = if seq & 1 == 0 { seq.wrapping_add(1) } else { seq.wrapping_add(2) };
        page.set(word::SEQ, odd);
        compiler_fence(Ordering::Release);
        if let Some(c) = constants {
            page.set(word::CYCLES_PER_JIFFY, c.cycles_per_jiffy);
            page.set(word::MULT, c.mult);
            page.set(word::SHIFT, c.shift);
        }
        page.set(word::ANCHOR_LO, anchor as u32);
        page.set(word::ANCHOR_HI, (anchor >> 32) as u32);
        page.set(word::NS_LO, ns as u32);
        page.set(word::NS_HI, (ns >> 32) as u32);
        page.set(word::JIFFIES_LO, jiffies as u32);
        page.set(word::JIFFIES_HI, (jiffies >> 32) as u32);
        compiler_fence(Ordering::Release);
        // Even again; 0 means "never published", so the wrap skips it.
        let even = odd.wrapping_add(1);
        page.set(word::SEQ, if even == 0 { 2 } else { even });
    }
}

/// `n / d`: one hardware divide while `n` fits 32 bits (the first 2^32
/// counts), else the 64-bit routine (tens of instructions more on every
/// tickless wake-up that publishes).
#[inline(always)]
fn div_u64_u32(n: u64, d: u32) -> u64 {
    match u32::try_from(n) {
        Ok(n) => u64::from(n / d),
        Err(_) => n / u64::from(d),
    }
}

#[cfg(test)]
mod tests;
