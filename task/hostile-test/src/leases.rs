//! The lease re-read attack: a client whose write lease covers its own
//! lease table, so that a server can rewrite a descriptor between the
//! kernel's check at `send` and a borrow.
//!
//! - `colluder` is a server in on it: it rewrites lease 1 to point at the
//!   address the client names (the victim, kernel RAM, the SRAM bit-band
//!   alias, another task's device) and borrows through it both ways. Each
//!   borrow must be refused, and the client faulted for the lie.
//! - `attacker` is the client, one attack per incarnation (progress kept
//!   in `.uninit`). It then lays the same trap for the stock servers
//!   that write into leases (echo's `fill`, whose second chunk would be
//!   written through the descriptor its first chunk overwrote; the timer
//!   server's `fetch_fired`, likewise with its second record), checks in
//!   its next incarnation that nothing beyond the first chunk or record
//!   was written, and finally asks the supervisor for a refill it is not
//!   entitled to.

use super::*;

/// Addresses the colluder is asked to borrow through, after the victim's.
const FORGED: [u32; 3] = [
    0x2000_0000, // the bottom of SRAM: the kernel's RAM
    0x2200_0000, // the SRAM bit-band alias
    0x4001_1000, // USART1, the console's device
];
/// Colluder attacks per run: the victim and `FORGED`.
const COLLUDER_ATTACKS: u32 = 1 + FORGED.len() as u32;

#[cfg(feature = "colluder")]
pub fn run() -> ! {
    let (mut attempts, mut refused) = (0u32, 0u32);
    let mut buf = [0u8; 4];
    loop {
        let msg = sys_recv_open(&mut buf, 0);
        if msg.is_notification() {
            continue;
        }
        let from_attacker = msg.sender.index() == config::ATTACKER_TASK;
        match msg.operation as u16 {
            OP_ATTACK if from_attacker && msg.message_len == 4 && msg.lease_count == 2 => {
                let forged = u32::from_le_bytes(buf);
                let ok = attack(msg.sender, forged);
                attempts += 1;
                refused += ok as u32;
                sys_reply(msg.sender, 0, &[]);
            }
            OP_STATUS => {
                let v = Verdict { done: attempts == COLLUDER_ATTACKS, passed: refused == attempts, a: attempts, b: refused };
                sys_reply(msg.sender, 0, &v.to_words());
            }
            _ => sys_reply_fault(msg.sender, ReplyFaultReason::UndefinedOperation),
        }
    }
}

/// A response code, printed in hex (dead codes are 0xffff_ffxx).
#[cfg(feature = "colluder")]
struct Hex(u32);

#[cfg(feature = "colluder")]
impl core::fmt::Debug for Hex {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// Rewrites the client's lease 1 to `forged` through its lease 0 and
/// borrows through it; true if every borrow through it was refused.
#[cfg(feature = "colluder")]
fn attack(client: TaskId, forged: u32) -> bool {
    let mut desc = [0u8; 12];
    for (i, w) in [LEASE_READ | LEASE_WRITE, forged, 16].into_iter().enumerate() {
        desc[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
    }
    let rewrote = sys_borrow_write(client, 0, 12, &desc);
    let mut got = [0u8; 16];
    let read = sys_borrow_read(client, 1, 0, &mut got);
    let write = sys_borrow_write(client, 1, 0, &[0xAA; 16]);
    let ok = rewrote == Ok(12) && read.is_err() && write.is_err();
    let (verdict, why) = if ok { ("PASS", "refused") } else { ("FAIL", "HONOURED") };
    console_writeln!(
        console(),
        "{} lease-reread: descriptor rewritten to {:#010x}, borrows {} (read {:?}, write {:?})",
        verdict,
        forged,
        why,
        read.map_err(Hex),
        write.map_err(Hex)
    );
    ok
}

/// Attacker progress, kept across restarts: [magic, phase, failures,
/// stock traps checked].
#[cfg(feature = "attacker")]
#[link_section = ".uninit"]
static mut KEPT: [u32; 4] = [0; 4];

/// The trap area for the stock servers: 32 guard bytes, the lease table
/// (whose lease covers itself and what follows), then guards.
#[cfg(feature = "attacker")]
#[link_section = ".uninit"]
static mut AREA: [u32; 64] = [0; 64];

#[cfg(feature = "attacker")]
const CANARY: u32 = 0xA5A5_A5A5;
/// Word index of the lease table in `AREA`.
#[cfg(feature = "attacker")]
const TABLE: usize = 8;

#[cfg(feature = "attacker")]
pub fn run() -> ! {
    let kept = Kept(&raw mut KEPT).open();
    let phase = kept.bump(1);
    let colluder = phase < COLLUDER_ATTACKS;
    if colluder {
        colluder_attack(phase);
        // Only reached if the kernel did not fault us.
        fail(&kept, "the colluder's borrows through a forged lease did not fault the lender");
    }
    let trap = phase - COLLUDER_ATTACKS;
    // The trap laid in the previous incarnation, judged now.
    if trap > 0 {
        check_trap(&kept, trap - 1);
    }
    match trap {
        0 => echo_trap(0x22),
        1 => echo_trap(0x0A),
        2 => timer_trap(),
        _ => {}
    }
    if trap < 3 {
        fail(&kept, "a stock server's second write went through a rewritten descriptor without a fault");
    }
    // Posts to the supervisor are not refills; neither is our message.
    for _ in 0..30 {
        sys_post(supervisor::SUPERVISOR, u32::MAX);
    }
    match supervisor::refill() {
        Err(supervisor::REFILL_NOT_PERMITTED) => console_writeln!(console(), "PASS refill-refused: not the refill task"),
        r => fail(&kept, if r.is_ok() { "refill honoured for a task that is not refill-task" } else { "refill gave an odd code" }),
    }
    let failures = kept.get(2);
    serve_verdict(Verdict { done: true, passed: failures == 0, a: phase, b: kept.get(3) })
}

#[cfg(feature = "attacker")]
fn fail(kept: &Kept<4>, why: &str) {
    kept.bump(2);
    console_writeln!(console(), "FAIL attacker: {}", why);
}

#[cfg(feature = "attacker")]
fn colluder_attack(phase: u32) {
    static mut TABLE2: [u32; 6] = [0; 6];
    static mut HARMLESS: [u8; 16] = [0; 16];
    let forged = if phase == 0 { victim_address() } else { FORGED[phase as usize - 1] };
    let table = &raw mut TABLE2;
    let leases = [Lease::raw(LEASE_READ | LEASE_WRITE, table as u32, 24), Lease::raw(LEASE_READ | LEASE_WRITE, &raw mut HARMLESS as u32, 16)];
    // Safety: `TABLE2` is ours, 24 bytes, as large as two descriptors; the
    // send reads it from there, and the colluder may write it (lease 0).
    unsafe { core::ptr::copy_nonoverlapping(leases.as_ptr().cast::<u32>(), table.cast::<u32>(), 6) };
    // Safety: the table now holds the two descriptors, laid out as `Lease`.
    let lent: &[Lease] = unsafe { core::slice::from_raw_parts(table.cast::<Lease>(), 2) };
    sys_send(slots::COLLUDER, OP_ATTACK, &forged.to_le_bytes(), &mut [], lent);
}

#[cfg(feature = "attacker")]
fn victim_address() -> u32 {
    let mut r = [0u8; 8];
    sys_send(slots::VICTIM, OP_WHERE, &[], &mut r, &[]);
    u32::from_le_bytes([r[0], r[1], r[2], r[3]])
}

/// Fills `AREA` with canaries and lays one write lease at `TABLE`
/// covering itself and `len` bytes; returns the lease table to send.
#[cfg(feature = "attacker")]
fn lay_trap(len: u32) -> &'static [Lease<'static>] {
    let area = &raw mut AREA as *mut u32;
    for i in 0..64 {
        // Safety: our own static, in bounds.
        unsafe { core::ptr::write_volatile(area.add(i), CANARY) };
    }
    // Safety: as above; the table is three words at `TABLE`.
    unsafe {
        let t = area.add(TABLE);
        core::ptr::write_volatile(t, LEASE_WRITE);
        core::ptr::write_volatile(t.add(1), t as u32);
        core::ptr::write_volatile(t.add(2), len);
        core::slice::from_raw_parts(t.cast::<Lease>(), 1)
    }
}

/// Echo's `fill` writes 64-byte chunks: a 128-byte lease over the table
/// lets the first chunk overwrite the descriptor with `value`.
#[cfg(feature = "attacker")]
fn echo_trap(value: u8) {
    let table = lay_trap(128);
    sys_send(slots::ECHO, echo_api::EchoOperation::Fill as u16, &[value], &mut [0u8; 4], table);
}

/// `fetch_fired` writes one 32-byte record per borrow: two fired timers
/// and a 64-byte lease over the table let record 0 overwrite it.
#[cfg(feature = "attacker")]
fn timer_trap() {
    use timer_api::client::{Spec, Timers};
    let mut timers = Timers::<2>::new(slots::TIMER);
    let spec = |token| Spec { token, ..Spec::oneshot(0) };
    let (Ok(a), Ok(b)) = (timers.setup(spec(0x0303_0303)), timers.setup(spec(0x2000_0000))) else {
        console_writeln!(console(), "FAIL attacker: timer setup refused");
        return;
    };
    let now = timers.jiffies();
    let _ = (timers.add(a, now + 1), timers.add(b, now + 1));
    let _ = timers.wait(1);
    let table = lay_trap(64);
    sys_send(slots::TIMER, timer_api::TimerOperation::FetchFired as u16, &[], &mut [0u8; 32], table);
}

/// Checks trap `n`'s area: the first write (64 bytes for echo, 32 for the
/// timer server) landed, nothing else changed.
#[cfg(feature = "attacker")]
fn check_trap(kept: &Kept<4>, n: u32) {
    let first_words = if n < 2 { 16 } else { 8 };
    let area = &raw const AREA as *const u32;
    // Safety: our own static, in bounds; volatile reads of what servers
    // wrote through the kernel.
    let word = |i: usize| unsafe { core::ptr::read_volatile(area.add(i)) };
    let landed = match n {
        0 => (TABLE..TABLE + first_words).all(|i| word(i) == 0x2222_2222),
        1 => (TABLE..TABLE + first_words).all(|i| word(i) == 0x0A0A_0A0A),
        _ => (TABLE..TABLE + first_words).any(|i| word(i) != CANARY),
    };
    let untouched = (0..64).filter(|i| !(TABLE..TABLE + first_words).contains(i)).all(|i| word(i) == CANARY);
    let name = ["echo fill 0x22", "echo fill 0x0a", "timer fetch_fired"][n as usize];
    if landed && untouched {
        kept.bump(3);
        console_writeln!(console(), "PASS lease-trap: {}: first write landed, the rest refused", name);
    } else {
        kept.bump(2);
        console_writeln!(console(), "FAIL lease-trap: {}: landed {} untouched {}", name, landed, untouched);
    }
}
