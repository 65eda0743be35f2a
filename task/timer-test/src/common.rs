//! What every role shares: the console, PASS/FAIL bookkeeping, reporting to
//! the runner, a deterministic PRNG, fired-record fetching and reading the
//! hook chain.

#![allow(dead_code)]

use drv_console_api::{console_writeln, Console};
use timer_api::wire::{FIRED_PER_FETCH, FIRED_RECORD_BYTES, HOOK_CHAIN_MAX, HOOK_ENTRY_BYTES};
use timer_api::{FiredRecord, HookEntry, Timer, TimerError};
use userlib::*;
use zerocopy::FromBytes;

use crate::slots;

/// The console server.
pub fn console() -> Console {
    Console::from(slots::CONSOLE)
}

/// Counts failed checks and prints each check's outcome.
pub struct Tally {
    pub failed: u32,
}

impl Tally {
    pub const fn new() -> Self {
        Tally { failed: 0 }
    }

    /// Prints `PASS name` or `FAIL name: detail`.
    pub fn check(&mut self, name: &str, ok: bool, detail: core::fmt::Arguments<'_>) -> bool {
        if ok {
            console_writeln!(console(), "PASS {}", name);
        } else {
            self.failed += 1;
            console_writeln!(console(), "FAIL {}: {}", name, detail);
        }
        ok
    }

    /// Prints `PASS name: detail` or `FAIL name: detail` (the detail is
    /// part of the expected line, so it must be deterministic).
    pub fn check_said(&mut self, name: &str, ok: bool, detail: core::fmt::Arguments<'_>) -> bool {
        if ok {
            console_writeln!(console(), "PASS {}: {}", name, detail);
        } else {
            self.failed += 1;
            console_writeln!(console(), "FAIL {}: {}", name, detail);
        }
        ok
    }
}

/// Operation of a role's report to its runner: body = failures (u32 LE).
pub const OP_REPORT: u16 = 1;

/// Tells the runner this role is finished, with its failure count.
pub fn report(runner: TaskId, failed: u32) {
    let (rc, _) = sys_send(runner, OP_REPORT, &failed.to_le_bytes(), &mut [], &[]);
    if rc != 0 {
        console_writeln!(console(), "FAIL report: runner answered {:#x}", rc);
    }
}

/// Runner side: serves messages until `roles` reports have come in;
/// `other` handles any other operation (it must reply). Returns the sum of
/// the reported failure counts.
pub fn collect_reports(roles: u32, mut other: impl FnMut(&RecvMessage, &[u8])) -> u32 {
    // Room for the largest report body (the fuzzer's 18 counters).
    let mut buf = [0u8; 128];
    let (mut seen, mut failed) = (0, 0);
    while seen < roles {
        let m = sys_recv_open(&mut buf, 0);
        if m.operation == OP_REPORT as u32 && m.message_len == 4 {
            failed += u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
            seen += 1;
            sys_reply(m.sender, 0, &[]);
        } else {
            let n = m.message_len.min(buf.len());
            other(&m, &buf[..n]);
        }
    }
    failed
}

/// This task's current generation (how many times it was restarted).
pub fn my_generation() -> u8 {
    sys_refresh_task_id(TaskId::for_index_and_gen(crate::TASK_INDEX, Generation::ZERO)).generation().get()
}

/// The hook chain as the server reports it (`hook_chain`), and how many
/// entries it has.
pub fn chain(timer: &Timer) -> ([HookEntry; HOOK_CHAIN_MAX], usize) {
    let mut buf = [0u8; HOOK_CHAIN_MAX * HOOK_ENTRY_BYTES];
    let n = timer.hook_chain(&mut buf).unwrap_or(0) as usize;
    let mut out = [HookEntry::default(); HOOK_CHAIN_MAX];
    for (o, c) in out.iter_mut().zip(buf.chunks_exact(HOOK_ENTRY_BYTES)).take(n) {
        *o = HookEntry::read_from_bytes(c).unwrap_or_default();
    }
    (out, n)
}

/// Blocks forever.
pub fn park() -> ! {
    loop {
        sys_recv_notification(0);
    }
}

/// xorshift64*: small, deterministic, good enough to pick test cases.
pub struct Rng(u64);

impl Rng {
    pub const fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform-enough in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u32) -> u32 {
        ((self.next_u32() as u64 * n as u64) >> 32) as u32
    }

    /// In `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// Fetches every queued fired record of the caller, oldest first.
pub fn fetch_all(timer: &Timer, mut f: impl FnMut(FiredRecord)) -> Result<u32, TimerError> {
    let mut n = 0;
    loop {
        let mut buf = [0u8; FIRED_PER_FETCH * FIRED_RECORD_BYTES];
        let got = timer.fetch_fired(&mut buf)?;
        for chunk in buf.chunks_exact(FIRED_RECORD_BYTES).take(got.count as usize) {
            if let Ok(r) = FiredRecord::read_from_bytes(chunk) {
                f(r);
                n += 1;
            }
        }
        if got.remaining == 0 {
            return Ok(n);
        }
    }
}

/// Arms raw timer `h` at `j` and blocks on `mask` until the server's
/// jiffies reach `j` (other bits of `mask` that arrive meanwhile are
/// returned, ORed).
pub fn sleep_raw(timer: &Timer, h: u64, mask: u32, j: u64) -> u32 {
    let _ = timer.mod_timer(h, j);
    let mut seen = 0;
    while timer.jiffies() < j {
        seen |= sys_recv_notification(mask);
    }
    seen
}
