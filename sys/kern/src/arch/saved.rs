//! The saved register block of a task and the syscall ABI over it: which
//! register carries which argument, and where each result goes.
//!
//! This is the only place that names the ARMv7-M registers a syscall uses
//! (arguments in r4..=r10, the number in r11, results back in r4..=r11;
//! see `userlib`'s stubs for the other side). The portable kernel reads a
//! syscall's arguments as one of the typed views below and writes its
//! results through the typed setters, so it never names a register. Every
//! accessor is `#[inline(always)]`: on the IPC fast paths the views cost
//! nothing over reading the fields.
//!
//! A blocked task's arguments stay in its block while it waits: a sender's
//! message, reply buffer and lease table ([`SavedState::send_args`]), a
//! receiver's buffer and mask ([`SavedState::recv_args`]).

use abi::TaskId;

/// Registers the kernel saves for a task on every kernel entry. The
/// caller-saved registers (r0-r3, r12, lr, pc, xpsr, s0-s15) live in the
/// hardware exception frame on the task's own stack. Field names are
/// Hubris's (humility reads `r4`..`r11` and `psp` by name); the entry code
/// in `arm_m` stores and loads them at fixed offsets, in this order.
#[derive(Copy, Clone, Debug, Default)]
#[repr(C)]
pub struct SavedState {
    r4: u32,
    r5: u32,
    r6: u32,
    r7: u32,
    r8: u32,
    r9: u32,
    r10: u32,
    r11: u32,
    /// The task's process stack pointer.
    pub psp: u32,
    /// EXC_RETURN to use when resuming the task.
    pub exc_return: u32,
    /// Callee-saved FPU registers, valid when `exc_return` bit 4 is clear.
    pub s16_s31: [u32; 16],
}

/// A range of task memory named by a syscall: `len` bytes at `base`
/// (unchecked until the kernel checks it against the task's regions).
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct USlice {
    pub base: u32,
    pub len: u32,
}

/// `send`: target and operation, the message, the reply buffer, the
/// lease table (`len` is the number of leases).
#[derive(Copy, Clone, Debug)]
pub struct SendArgs {
    pub target: TaskId,
    pub operation: u16,
    pub message: USlice,
    pub reply: USlice,
    pub leases: USlice,
}

/// `recv` (and a blocked receiver): the buffer, the notification mask,
/// the sender it is closed to (`from`, raw: bit 31 set for a closed
/// receive) and the IRQs (by notification bit) to re-enable first.
#[derive(Copy, Clone, Debug)]
pub struct RecvArgs {
    pub buffer: USlice,
    pub mask: u32,
    pub from: u32,
    pub rearm: u32,
}

/// `reply`, and the reply half of `reply_recv`.
#[derive(Copy, Clone, Debug)]
pub struct ReplyArgs {
    pub peer: TaskId,
    pub code: u32,
    pub message: USlice,
}

/// `borrow_read` / `borrow_write` / `borrow_info`: the lender, lease
/// index, offset into the lease, and the caller's buffer.
#[derive(Copy, Clone, Debug)]
pub struct BorrowArgs {
    pub lender: TaskId,
    pub index: u32,
    pub offset: u32,
    pub buffer: USlice,
}

impl SavedState {
    /// The syscall number.
    #[inline(always)]
    pub fn syscall_number(&self) -> u32 {
        self.r11
    }

    /// `send`'s arguments (also a blocked sender's).
    #[inline(always)]
    pub fn send_args(&self) -> SendArgs {
        SendArgs {
            target: TaskId(self.r4 as u16),
            operation: (self.r4 >> 16) as u16,
            message: USlice { base: self.r5, len: self.r6 },
            reply: USlice { base: self.r7, len: self.r8 },
            leases: USlice { base: self.r9, len: self.r10 },
        }
    }

    /// `recv`'s arguments (also a blocked receiver's buffer and mask).
    #[inline(always)]
    pub fn recv_args(&self) -> RecvArgs {
        RecvArgs { buffer: USlice { base: self.r4, len: self.r5 }, mask: self.r6, from: self.r7, rearm: self.r8 }
    }

    /// `reply`'s arguments.
    #[inline(always)]
    pub fn reply_args(&self) -> ReplyArgs {
        ReplyArgs { peer: TaskId(self.r4 as u16), code: self.r5, message: USlice { base: self.r6, len: self.r7 } }
    }

    /// `reply_recv`'s reply half; its receive half is [`Self::recv_args`]
    /// (buffer and mask where `recv` takes them; `from` and `rearm` read
    /// as zero once [`Self::retire_reply`] has run).
    #[inline(always)]
    pub fn reply_recv_args(&self) -> ReplyArgs {
        ReplyArgs { peer: TaskId(self.r7 as u16), code: self.r8, message: USlice { base: self.r9, len: self.r10 } }
    }

    /// Clears `reply_recv`'s reply half where it overlaps `recv`'s
    /// `from`/`rearm`, making the rest an open `recv` that re-enables no IRQ.
    #[inline(always)]
    pub fn retire_reply(&mut self) {
        (self.r7, self.r8) = (0, 0);
    }

    /// The borrow calls' arguments.
    #[inline(always)]
    pub fn borrow_args(&self) -> BorrowArgs {
        BorrowArgs {
            lender: TaskId(self.r4 as u16),
            index: self.r5,
            offset: self.r6,
            buffer: USlice { base: self.r7, len: self.r8 },
        }
    }

    /// `post`'s target and bits; `irq_control`'s mask and enable flag;
    /// `reply_fault`'s peer and reason; `refresh_task_id`'s id: the first
    /// two argument words, whose meaning is the syscall's.
    #[inline(always)]
    pub fn two_args(&self) -> (u32, u32) {
        (self.r4, self.r5)
    }

    /// `post_recv`'s post half (target, bits); its receive half is
    /// [`Self::recv_args`].
    #[inline(always)]
    pub fn post_recv_post(&self) -> (u32, u32) {
        (self.r9, self.r10)
    }

    /// `post_recv`'s post result (0, or a dead code), in r10: no receive
    /// result touches it, so it stays while the caller waits.
    #[inline(always)]
    pub fn set_post_result(&mut self, code: u32) {
        self.r10 = code;
    }

    /// `panic`'s message.
    #[inline(always)]
    pub fn panic_args(&self) -> USlice {
        USlice { base: self.r4, len: self.r5 }
    }

    /// Result of a call that returns one word (a response code).
    #[inline(always)]
    pub fn set_result(&mut self, code: u32) {
        self.r4 = code;
    }

    /// Result of `send` (and of a reply delivered to a blocked sender): the
    /// response code and the reply's length.
    #[inline(always)]
    pub fn set_send_result(&mut self, code: u32, reply_len: u32) {
        self.r4 = code;
        self.r5 = reply_len;
    }

    /// Result of a successful borrow copy (`len` bytes moved), or of
    /// `borrow_info` (`len` is the lease's length) with its `attributes`.
    #[inline(always)]
    pub fn set_borrow_result(&mut self, first: u32, second: u32) {
        self.r4 = 0;
        self.r5 = first;
        self.r6 = second;
    }

    /// Completes a receive with a message: the sender, its operation, the
    /// message's full length, its reply capacity and lease count.
    #[inline(always)]
    pub fn set_recv_message(&mut self, sender: TaskId, operation: u32, len: u32, reply_capacity: u32, leases: u32) {
        self.r4 = 0;
        self.r5 = sender.0 as u32;
        self.r6 = operation;
        self.r7 = len;
        self.r8 = reply_capacity;
        self.r9 = leases;
    }

    /// Completes a receive with notification `bits` (from the kernel).
    #[inline(always)]
    pub fn set_recv_notification(&mut self, bits: u32) {
        self.set_recv_message(TaskId::KERNEL, bits, 0, 0, 0);
    }

    /// The result registers as an array (r4..=r11), for tests and
    /// snapshots that compare whole states.
    pub fn words(&self) -> [u32; 8] {
        [self.r4, self.r5, self.r6, self.r7, self.r8, self.r9, self.r10, self.r11]
    }

    /// Sets syscall number `nr` and arguments `args` (r4..), as a task's
    /// `svc` would leave them: for tests that play a task.
    pub fn set_call(&mut self, nr: u32, args: &[u32]) {
        let mut w = self.words();
        w[..args.len()].copy_from_slice(args);
        [self.r4, self.r5, self.r6, self.r7, self.r8, self.r9, self.r10] =
            [w[0], w[1], w[2], w[3], w[4], w[5], w[6]];
        self.r11 = nr;
    }
}
