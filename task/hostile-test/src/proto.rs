//! What the roles say to each other, and helpers every role uses.

use userlib::*;

/// Victim: reply `[address, length]` of its pattern (two u32s).
pub const OP_WHERE: u16 = 1;
/// Victim: reply how many bytes of the pattern differ (one u32).
pub const OP_CHECK: u16 = 2;
/// Colluder: rewrite lease 1's descriptor through lease 0 to point at the
/// address in the message (one u32), then borrow through it.
pub const OP_ATTACK: u16 = 3;
/// Any role: reply its [`Verdict`].
pub const OP_STATUS: u16 = 9;

/// Bytes in the victim's pattern.
pub const PATTERN_LEN: usize = 1024;

/// Byte `i` of the victim's pattern.
pub const fn pattern(i: usize) -> u8 {
    (i.wrapping_mul(151) ^ 0x5A) as u8
}

/// A role's answer to [`OP_STATUS`]: done, passed, and two figures whose
/// meaning is the role's (syscalls made, faults taken, checks passed...).
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq)]
pub struct Verdict {
    pub done: bool,
    pub passed: bool,
    pub a: u32,
    pub b: u32,
}

impl Verdict {
    pub fn to_words(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        let words = [self.done as u32, self.passed as u32, self.a, self.b];
        for (o, w) in out.chunks_exact_mut(4).zip(words) {
            o.copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    pub fn from_words(b: &[u8; 16]) -> Self {
        let w = |i: usize| u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
        Verdict { done: w(0) == 1, passed: w(1) == 1, a: w(2), b: w(3) }
    }
}

/// Serves [`OP_STATUS`] with `verdict` forever; refuses anything else
/// (reply-fault), which is what a role does once its work is done.
#[allow(dead_code)]
pub fn serve_verdict(verdict: Verdict) -> ! {
    loop {
        let msg = sys_recv_open(&mut [], 0);
        if msg.is_notification() {
            continue;
        }
        if msg.operation == OP_STATUS as u32 {
            sys_reply(msg.sender, 0, &verdict.to_words());
        } else {
            sys_reply_fault(msg.sender, ReplyFaultReason::UndefinedOperation);
        }
    }
}

/// Asks `role` for its verdict; `None` if it could not answer (dead, or
/// refused the message).
#[allow(dead_code)]
pub fn ask_verdict(role: TaskId) -> Option<Verdict> {
    let mut reply = [0u8; 16];
    let id = sys_refresh_task_id(role);
    match sys_send(id, OP_STATUS, &[], &mut reply, &[]) {
        (0, 16) => Some(Verdict::from_words(&reply)),
        _ => None,
    }
}

/// A small seeded generator (xorshift32): the same sequence every run.
#[derive(Copy, Clone)]
pub struct Rng(pub u32);

impl Rng {
    pub fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }
}

/// Words kept across restarts: a role declares
/// `#[link_section = ".uninit"] static mut KEPT: [u32; N] = [0; N];`
/// (start-up neither loads nor zeroes `.uninit`) and reaches it only
/// through these volatile accessors, so the compiler never assumes the
/// zero initialiser. Word 0 is a magic number: any other value means
/// power-on, and every word is then reset to 0.
#[allow(dead_code)]
pub struct Kept<const N: usize>(pub *mut [u32; N]);

#[allow(dead_code)]
impl<const N: usize> Kept<N> {
    const MAGIC: u32 = 0xE5CA_9E11;

    /// Resets the words on the first start since power-on.
    pub fn open(self) -> Self {
        if self.get(0) != Self::MAGIC {
            for i in 1..N {
                self.set(i, 0);
            }
            self.set(0, Self::MAGIC);
        }
        self
    }

    pub fn get(&self, i: usize) -> u32 {
        assert!(i < N);
        // Safety: `self.0` points at the role's own static array and `i` is
        // in bounds; single-threaded task.
        unsafe { core::ptr::read_volatile((self.0 as *mut u32).add(i)) }
    }

    pub fn set(&self, i: usize, v: u32) {
        assert!(i < N);
        // Safety: as for `get`.
        unsafe { core::ptr::write_volatile((self.0 as *mut u32).add(i), v) }
    }

    /// Adds one to word `i` and returns the old value.
    pub fn bump(&self, i: usize) -> u32 {
        let v = self.get(i);
        self.set(i, v.wrapping_add(1));
        v
    }
}
