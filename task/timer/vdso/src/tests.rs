//! Host tests of the time page: arithmetic, the seqlock under a writer
//! that preempts the reader at every access, a writer dying mid-update,
//! and monotonic reads across the counter's wrap.

use super::*;

/// 1 MHz clocksource, HZ 100: 10,000 cycles and 10 ms per jiffy; the
/// clocksource's mult/shift for 1 MHz (1000 ns per cycle, exact).
const CLOCK: Clock = match Clock::new(1_000_000, 100, 1000 << 22, 22) {
    Some(c) => c,
    None => panic!(),
};
const CPJ: u64 = 10_000;
/// jiffies_64 at cycle 0 in these tests (Linux's INITIAL_JIFFIES at HZ 100).
const INITIAL: u64 = 0xFFFF_FFFF_FFFF_8AD0;

/// A page in an array, a 64-bit counter whose low word the reader sees,
/// and a writer that runs before the reader's access number `inject`.
struct Sim {
    page: [u32; word::COUNT],
    writer: Writer,
    /// The counter (64-bit; the hardware shows its low 32 bits).
    now: u64,
    /// Cycles the counter moves per reader access.
    step: u64,
    accesses: usize,
    inject: Option<usize>,
    /// What the writer does when it runs: (writer, page, now).
    event: fn(&mut Writer, &mut Arr, u64),
    /// Counter value (64-bit) of the reader's last counter read, and
    /// whether the writer had run by then.
    last_counter: (u64, bool),
    injected: bool,
}

/// The page array as the writer's sink.
struct Arr<'a>(&'a mut [u32; word::COUNT], usize, Option<usize>);

impl Sink for Arr<'_> {
    fn set(&mut self, i: usize, v: u32) {
        // Field 2: a writer that dies after this many stores.
        if self.2.is_some_and(|n| self.1 >= n) {
            return;
        }
        self.1 += 1;
        self.0[i] = v;
    }
    fn get(&mut self, i: usize) -> u32 {
        self.0[i]
    }
}

impl Sim {
    fn new(now: u64, step: u64) -> Sim {
        Sim {
            page: [0; word::COUNT],
            writer: Writer::new(CLOCK),
            now,
            step,
            accesses: 0,
            inject: None,
            event: |_, _, _| {},
            last_counter: (0, false),
            injected: false,
        }
    }

    fn write(&mut self, f: impl FnOnce(&mut Writer, &mut Arr, u64)) {
        let now = self.now;
        f(&mut self.writer, &mut Arr(&mut self.page, 0, None), now);
    }

    fn access(&mut self) {
        if self.inject == Some(self.accesses) {
            let now = self.now;
            (self.event)(&mut self.writer, &mut Arr(&mut self.page, 0, None), now);
            self.injected = true;
        }
        self.accesses += 1;
        self.now += self.step;
    }
}

impl Source for Sim {
    fn word(&mut self, i: usize) -> u32 {
        self.access();
        self.page[i]
    }
    fn counter(&mut self) -> u32 {
        self.access();
        self.last_counter = (self.now, self.injected);
        self.now as u32
    }
}

/// The server's jiffies on the oneshot line at cycle `c`.
fn line(c: u64, offset: u64) -> u64 {
    (c / CPJ).wrapping_add(offset)
}

fn ns(c: u64) -> u64 {
    c * 1000
}

#[test]
fn clock_needs_whole_cycles_and_ns_per_jiffy() {
    assert_eq!(CLOCK.cycles_per_jiffy, 10_000);
    assert_eq!(CLOCK.ns_per_jiffy, 10_000_000);
    assert!(Clock::new(1_000_000, 300, 1, 0).is_none(), "1e6 / 300 is not whole");
    assert!(Clock::new(32_768, 100, 1, 0).is_none());
    assert!(Clock::new(1_000_000, 0, 1, 0).is_none());
    assert!(Clock::new(1_000_000, 100, 1, 32).is_none());
    assert!(Clock::new(1_000_000_000, 1000, 1 << 31, 31).is_some());
}

#[test]
fn arithmetic_across_the_counter_wrap() {
    let s = Snapshot { cycles_per_jiffy: 10_000, mult: 1000 << 22, shift: 22, anchor: u32::MAX - 4_999, ns: 7_000, jiffies: 42 };
    assert_eq!(s.jiffies_at(u32::MAX - 4_999), 42);
    assert_eq!(s.ns_at(u32::MAX - 4_999), 7_000);
    // 5,000 cycles before the wrap and 5,000 after: one jiffy, 10 ms.
    assert_eq!(s.jiffies_at(5_000), 43);
    assert_eq!(s.ns_at(5_000), 7_000 + 10_000_000);
    assert_eq!(s.jiffies_at(4_999), 42);
    // A counter just behind the anchor reads as the anchor, not 2^32 ahead.
    assert_eq!(s.jiffies_at(u32::MAX - 5_000), 42);
    assert_eq!(s.ns_at(u32::MAX - 5_000), 7_000);
    // The largest forward distance, 2^31 - 1 cycles: no overflow.
    let far = s.anchor.wrapping_add(i32::MAX as u32);
    assert_eq!(s.jiffies_at(far), 42 + (i32::MAX as u64) / 10_000);
    assert_eq!(s.ns_at(far), 7_000 + (i32::MAX as u64) * 1000);
}

#[test]
fn mult_shift_at_1ghz_is_the_identity() {
    let s = Snapshot { cycles_per_jiffy: 10_000_000, mult: 1 << 31, shift: 31, anchor: 0, ns: 0, jiffies: 0 };
    assert_eq!(s.ns_at(123_456_789), 123_456_789);
    assert_eq!(s.ns_at(i32::MAX as u32), i32::MAX as u64);
}

#[test]
fn a_page_never_published_reads_as_such() {
    let mut sim = Sim::new(0, 1);
    assert_eq!(read_jiffies(&mut sim), Err(ReadError::NotPublished));
    assert_eq!(read_ktime(&mut sim), Err(ReadError::NotPublished));
    assert_eq!(read_both(&mut sim), Err(ReadError::NotPublished));
}

#[test]
fn reads_match_the_server_line_in_tickless_idle() {
    // Synced once, then the server sleeps for 20 s: the page is not
    // touched, and reads still follow the clocksource exactly.
    let start = 3 * CPJ + 1234;
    let mut sim = Sim::new(start, 7);
    sim.write(|w, p, now| w.sync(p, now, line(now, INITIAL)));
    for _ in 0..2_000 {
        let (j, n) = read_both(&mut sim).unwrap();
        let c = sim.last_counter.0;
        assert_eq!(j, line(c, INITIAL));
        assert_eq!(n, ns(c));
        sim.now += 10_000; // 10 ms per read: 20 s in all
    }
}

/// The core test: for every access of a read, a writer runs just before
/// it (a jiffy update that preempts the reader there), with each kind of
/// update; the read must give exactly the line current when its counter
/// value was read, never a mix.
#[test]
fn preempted_at_every_access_never_torn() {
    type Event = fn(&mut Writer, &mut Arr, u64);
    let events: [(&str, Event); 4] = [
        ("periodic tick", |w, p, _| {
            let next = w.published_jiffies().unwrap() + 1;
            w.advance(p, next)
        }),
        ("nohz catch-up", |w, p, now| w.sync(p, now, line(now, INITIAL))),
        ("line jumps 5 jiffies ahead", |w, p, now| w.sync(p, now, line(now, INITIAL) + 5)),
        ("catch-up of 3 ticks at once", |w, p, _| {
            let next = w.published_jiffies().unwrap() + 3;
            w.advance(p, next)
        }),
    ];
    for (name, event) in events {
        for reader in 0..3 {
            for inject in 0..12 {
                // Anchor just below the 32-bit wrap; the read comes three
                // jiffies later, past the wrap, with the server asleep
                // until its update preempts the read.
                let start = (1u64 << 32) - CPJ / 2 - 3;
                let mut sim = Sim::new(start, 1);
                sim.write(|w, p, now| w.sync(p, now, line(now, INITIAL)));
                sim.now = start + 3 * CPJ;
                let offset_before = INITIAL;
                let seq_before = sim.page[word::SEQ];
                sim.inject = Some(inject);
                sim.event = event;
                let got = match reader {
                    0 => read_jiffies(&mut sim).map(|j| (Some(j), None)),
                    1 => read_ktime(&mut sim).map(|n| (None, Some(n))),
                    _ => read_both(&mut sim).map(|(j, n)| (Some(j), Some(n))),
                }
                .unwrap();
                let (c, after) = sim.last_counter;
                // The line in force when the counter was read.
                let want_snapshot = if after {
                    let mut probe = Sim::new(0, 0);
                    probe.page = sim.page;
                    read_snapshot(&mut probe).unwrap().0
                } else {
                    let mut probe = Sim::new(start, 0);
                    probe.write(|w, p, now| w.sync(p, now, line(now, offset_before)));
                    read_snapshot(&mut probe).unwrap().0
                };
                let want_j = want_snapshot.jiffies_at(c as u32);
                let want_n = want_snapshot.ns_at(c as u32);
                if let Some(j) = got.0 {
                    assert_eq!(j, want_j, "{name}: reader {reader}, writer before access {inject}");
                }
                if let Some(n) = got.1 {
                    assert_eq!(n, want_n, "{name}: reader {reader}, writer before access {inject}");
                    assert_eq!(n, ns(c).max(want_snapshot.ns), "{name}: ns are the counter's");
                }
                // A writer that ran after the sequence was first read and
                // before it was checked forced exactly one retry.
                let first_try = match reader {
                    0 => 7,
                    1 => 8,
                    _ => 11,
                };
                // A writer that changed the page after the sequence was
                // first read and before it was checked forced exactly one
                // retry (a catch-up within the anchor's jiffy writes
                // nothing and forces none).
                let wrote = sim.page[word::SEQ] != seq_before;
                let raced = inject > 0 && inject < first_try && wrote;
                let want = if raced { 2 * first_try } else { first_try };
                assert_eq!(sim.accesses, want, "{name}: reader {reader}, writer before access {inject}, wrote {wrote}");
            }
        }
    }
}

#[test]
fn a_writer_that_dies_mid_update_never_yields_a_torn_read() {
    for stores in 0..=word::COUNT {
        let mut sim = Sim::new(5 * CPJ, 1);
        sim.write(|w, p, now| w.sync(p, now, line(now, INITIAL)));
        let before = read_both(&mut sim).unwrap();
        // The writer stops after `stores` stores (a fault mid-update).
        let now = sim.now + 20 * CPJ;
        // How many stores the whole update takes (on a copy).
        let mut copy = sim.page;
        let mut full = Arr(&mut copy, 0, None);
        sim.writer.clone().sync(&mut full, now, line(now, INITIAL) + 100);
        let total = full.1;
        let mut w = sim.writer;
        w.sync(&mut Arr(&mut sim.page, 0, Some(stores)), now, line(now, INITIAL) + 100);
        let cut = stores > 0 && stores < total;
        match read_both(&mut sim) {
            Ok(v) => assert!(!cut, "a read passed a half-written page ({stores} of {total} stores): {v:?}"),
            Err(e) => assert!(cut && e == ReadError::Busy, "{stores} of {total} stores: {e:?}"),
        }
        if stores == 0 {
            assert!(read_both(&mut sim).unwrap().0 >= before.0);
        }
        // The restarted writer adopts what the page holds and republishes.
        let mut fresh = Writer::new(CLOCK);
        let now = sim.now;
        fresh.adopt(&mut Arr(&mut sim.page, 0, None));
        fresh.sync(&mut Arr(&mut sim.page, 0, None), now, line(now, INITIAL));
        let (j, _) = read_both(&mut sim).unwrap();
        assert!(j >= before.0);
        assert_eq!(sim.page[word::SEQ] & 1, 0);
    }
}

#[test]
fn the_line_never_moves_back() {
    // A server whose jiffies lag the page (lost periodic ticks) must not
    // pull the page back; one that jumps ahead moves it forward.
    let mut sim = Sim::new(100 * CPJ + 5, 1);
    sim.write(|w, p, now| w.sync(p, now, line(now, INITIAL)));
    let a = read_jiffies(&mut sim).unwrap();
    sim.now += 3 * CPJ;
    sim.write(|w, p, now| w.sync(p, now, line(now, INITIAL) - 2));
    let b = read_jiffies(&mut sim).unwrap();
    assert_eq!(b, a + 3, "a lagging server leaves the page on its line");
    sim.write(|w, p, now| w.sync(p, now, line(now, INITIAL) + 4));
    let c = read_jiffies(&mut sim).unwrap();
    assert_eq!(c, b + 4);
    // advance() to a jiffy the page is already past changes nothing.
    let seq = sim.page[word::SEQ];
    sim.write(|w, p, _| w.advance(p, c - 1));
    assert_eq!(sim.page[word::SEQ], seq);
}

/// A long random run: periodic ticks, catch-ups, lagging and jumping
/// servers, reads at random moments, the counter wrapping 32 bits several
/// times; every read is at or after the one before.
#[test]
fn random_runs_are_monotonic_across_wraps() {
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut sim = Sim::new((1 << 32) - 50 * CPJ, 3);
    let mut offset = INITIAL;
    sim.write(|w, p, now| w.sync(p, now, line(now, offset)));
    let (mut last_j, mut last_n) = (0u64, 0u64);
    for _ in 0..200_000 {
        // Time passes: up to just under the sync bound (2^31 cycles) if
        // the server sleeps, else up to a few jiffies.
        let r = next();
        sim.now += if r % 100 == 0 { r % (1 << 30) } else { r % (3 * CPJ) };
        match next() % 6 {
            0 => sim.write(|w, p, now| w.sync(p, now, line(now, offset))),
            1 => {
                // A periodic tick, on time or a jiffy late.
                let j = line(sim.now, offset).wrapping_sub(next() % 2);
                sim.write(|w, p, _| w.advance(p, j));
            }
            2 if next() % 50 == 0 => {
                offset = offset.wrapping_add(next() % 4).wrapping_sub(1);
                sim.write(|w, p, now| w.sync(p, now, line(now, offset)));
            }
            _ => {}
        }
        sim.inject = Some(sim.accesses + (next() % 12) as usize);
        sim.event = |w, p, now| w.sync(p, now, line(now, INITIAL));
        let (j, n) = read_both(&mut sim).unwrap();
        assert!(j >= last_j, "jiffies went back: {last_j} -> {j}");
        assert!(n >= last_n, "ns went back: {last_n} -> {n}");
        assert!(n <= ns(sim.now), "ns ahead of the counter");
        (last_j, last_n) = (j, n);
    }
}

#[test]
fn a_sync_within_the_anchor_jiffy_writes_nothing() {
    let mut sim = Sim::new(40 * CPJ + 17, 1);
    sim.write(|w, p, now| w.sync(p, now, line(now, INITIAL)));
    let seq = sim.page[word::SEQ];
    sim.now += CPJ / 2;
    sim.write(|w, p, now| w.sync(p, now, line(now, INITIAL)));
    assert_eq!(sim.page[word::SEQ], seq, "same jiffy: no update");
    sim.now += CPJ;
    sim.write(|w, p, now| w.sync(p, now, line(now, INITIAL)));
    assert_eq!(sim.page[word::SEQ], seq + 2, "next jiffy: one update");
    assert_eq!(read_jiffies(&mut sim).unwrap(), line(sim.last_counter.0, INITIAL));
}

#[test]
fn a_refresh_interval_skips_ticks_and_reads_stay_exact() {
    let mut sim = Sim::new(7 * CPJ + 3, 1);
    sim.writer = Writer::with_refresh(CLOCK, 8);
    sim.write(|w, p, now| w.sync(p, now, line(now, INITIAL)));
    let seq = sim.page[word::SEQ];
    for k in 1..=20u64 {
        sim.now = 7 * CPJ + k * CPJ + 5;
        let j = line(sim.now, INITIAL);
        sim.write(|w, p, _| w.advance(p, j));
        let want_seq = seq + 2 * (k / 8) as u32;
        assert_eq!(sim.page[word::SEQ], want_seq, "tick {k}: a rewrite every 8 jiffies");
        assert_eq!(read_jiffies(&mut sim).unwrap(), line(sim.last_counter.0, INITIAL));
        assert_eq!(read_ktime(&mut sim).unwrap(), ns(sim.last_counter.0));
    }
    // The interval keeps anchors under 2^30 cycles old, whatever is asked.
    let slow = Clock::new(1_000_000_000, 1, 1 << 31, 31).unwrap();
    assert_eq!(Writer::max_refresh(slow), 1);
    assert_eq!(Writer::max_refresh(CLOCK), (1 << 30) / CPJ);
}

