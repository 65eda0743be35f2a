//! The syscall fuzzer: 100,000 seeded random syscalls, most of them
//! misuse. Random numbers (valid and not), and arguments drawn from
//! pointers into its own RAM, the victim, the kernel's RAM, flash, device
//! memory, the bit-band and system regions and wrapping ranges, lengths
//! from 0 to `u32::MAX`, and task ids of every kind. A call that faults
//! the fuzzer restarts it (app.toml: `always-restart-tasks`); the
//! generator's state and the count live in `.uninit`, so each
//! incarnation goes on where the last one stopped.
//!
//! Two things are kept out of the draw, and why: sends to the console,
//! the clockevent driver and the timer server (their own defences are
//! tested in test-timer-security and test-clockevent; random valid
//! requests would only reprogram the tick or print noise) and the echo
//! server's `crash` op and the kernel's `SemihostExit` op (test-only
//! operations that end a task or the QEMU run by design). Receives are
//! made to complete: the fuzzer posts itself bit 31 first and every
//! receive mask includes it.

use super::*;

/// Syscalls to make.
const CALLS: u32 = 100_000;

/// [magic, rng state, calls made, incarnations, victim address].
#[link_section = ".uninit"]
static mut KEPT: [u32; 5] = [0; 5];

/// The fuzzer's own buffer: every pointer into its own RAM lands here,
/// with a length that stays inside, so the kernel's writes on its behalf
/// never reach `KEPT` or the stack.
static mut SCRATCH: [u8; 256] = [0; 256];

/// Flash the fuzzer may read.
static FLASH_WORDS: [u32; 8] = [0x1234_5678; 8];

pub fn run() -> ! {
    let kept = Kept(&raw mut KEPT).open();
    if kept.get(1) == 0 {
        kept.set(1, 0x1D87_2A5C);
    }
    kept.bump(3);
    if kept.get(4) == 0 {
        let mut r = [0u8; 8];
        sys_send(slots::VICTIM, OP_WHERE, &[], &mut r, &[]);
        kept.set(4, u32::from_le_bytes([r[0], r[1], r[2], r[3]]));
    }
    let me = sys_refresh_task_id(TaskId::for_index_and_gen(TASK_INDEX, Generation::ZERO));
    while kept.get(2) < CALLS {
        let mut rng = Rng(kept.get(1));
        let (nr, args) = draw(&mut rng, kept.get(4));
        // Saved before the call: if it faults us, the next incarnation
        // draws the next call, not this one again.
        kept.set(1, rng.0);
        kept.bump(2);
        sys_post(me, 1 << 31);
        // Safety: every pointer into our own memory is within `SCRATCH`,
        // which nothing else relies on; the rest is not ours, and the
        // kernel must refuse it.
        unsafe { syscall_raw(nr, &args) };
    }
    let (calls, faults) = (kept.get(2), kept.get(3) - 1);
    console_writeln!(console(), "fuzzer: {} syscalls made, {} faults taken, still standing", calls, faults);
    serve_verdict(Verdict { done: true, passed: true, a: calls, b: faults })
}

/// One random syscall: number and `r4..=r10`.
fn draw(rng: &mut Rng, victim: u32) -> (u32, [u32; 7]) {
    let nr = match rng.below(10) {
        0 => rng.next(),
        1 => 13 + rng.below(8),
        _ => rng.below(13),
    };
    let mut args = [0u32; 7];
    for a in args.iter_mut() {
        *a = match rng.below(5) {
            0 => pointer(rng, victim).0,
            1 => pointer(rng, victim).1,
            2 => task_id(rng),
            3 => rng.next(),
            _ => rng.below(16),
        };
    }
    // Pointers and lengths pair up in r4/r5, r5/r6, ...: redo the pairs
    // the calls use most so that they are often right.
    for i in (0..6).step_by(2) {
        if rng.below(2) == 0 {
            (args[i], args[i + 1]) = pointer(rng, victim);
        }
    }
    match nr {
        // send: r4 target | op; never to the servers left out above.
        0 => {
            let op = match rng.below(4) {
                0 => rng.below(12),
                _ => rng.below(0x1_0000),
            };
            args[0] = target(rng) | op << 16;
            if args[0] as u16 == TaskId::KERNEL.0 && op == KernelOp::SemihostExit as u32 {
                args[0] = TaskId::KERNEL.0 as u32 | (KernelOp::ReadTaskStatus as u32) << 16;
            }
            if (args[0] & 0x3FF) as usize == slots::ECHO.index() && op == echo_api::EchoOperation::Crash as u32 {
                args[0] &= 0xFFFF;
            }
            args[6] = rng.below(4);
        }
        // recv, reply_recv and post_recv (whose post, r9/r10, goes to any
        // task with any bits): the mask (r6) always takes bit 31, which
        // the fuzzer posted itself, so the receive completes.
        1 | 11 | 12 => {
            args[2] |= 1 << 31;
            if nr == 1 && rng.below(2) == 0 {
                args[4] = 0;
            }
        }
        _ => {}
    }
    (nr, args)
}

/// A target for `send`: the kernel, the supervisor, the echo server, the
/// victim, the colluder, ourselves, a lower task, or out of range, with
/// the right generation mostly.
fn target(rng: &mut Rng) -> u32 {
    let i = match rng.below(8) {
        0 => TaskId::KERNEL.index(),
        1 => 0,
        2 => slots::ECHO.index(),
        3 => slots::VICTIM.index(),
        4 => slots::COLLUDER.index(),
        5 => TASK_INDEX,
        6 => config::RUNNER_TASK,
        _ => 16 + rng.below(1000) as usize,
    };
    let gen = if rng.below(4) == 0 { rng.below(64) } else { 0 };
    TaskId::for_index_and_gen(i, Generation::new(gen as u8)).0 as u32
}

/// Any task id: real tasks, the kernel, out of range, random generations.
fn task_id(rng: &mut Rng) -> u32 {
    match rng.below(4) {
        0 => rng.next() & 0xFFFF,
        1 => TaskId::KERNEL.0 as u32,
        _ => TaskId::for_index_and_gen(rng.below(20) as usize, Generation::new(rng.below(2) as u8)).0 as u32,
    }
}

/// A pointer and a length.
fn pointer(rng: &mut Rng, victim: u32) -> (u32, u32) {
    let scratch = &raw mut SCRATCH as u32;
    let off = rng.below(64);
    let len = |rng: &mut Rng| match rng.below(6) {
        0 => 0,
        1 => 1 + rng.below(16),
        2 => 1 + rng.below(0x400),
        3 => rng.next(),
        4 => u32::MAX - rng.below(16),
        _ => 4,
    };
    match rng.below(12) {
        // Our own buffer, in bounds (half of all our own pointers).
        0 | 1 => (scratch + off, rng.below(256 - off)),
        2 => (FLASH_WORDS.as_ptr() as u32, rng.below(33)),
        3 => (victim + off, len(rng)),
        4 => (0x2000_0000 + rng.below(0x2000), len(rng)),
        5 => (0x0800_0000 + rng.below(0x1_0000), len(rng)),
        6 => ([0x4000_0000, 0x4000_0C00, 0x4001_1000, 0x4002_3800][rng.below(4) as usize], len(rng)),
        7 => (0x2200_0000 + rng.below(0x1000) * 4, len(rng)),
        8 => (0xE000_E000 + rng.below(0x1000), len(rng)),
        9 => (u32::MAX - rng.below(64), 1 + rng.below(256)),
        10 => (0, len(rng)),
        _ => (rng.next(), len(rng)),
    }
}
