//! The contract between the Escapement kernel and its tasks.
//!
//! Everything that crosses the supervisor-call boundary is defined here, once:
//! task identities, syscall numbers, response codes, lease descriptors, fault
//! causes and the kernel-IPC operations. Both the kernel and `userlib` depend
//! on this crate, so the two sides cannot disagree about a number or a layout.
//!
//! The crate is `no_std`, has no `unsafe`, and builds and tests on the host.

#![no_std]
#![forbid(unsafe_code)]

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// A task's generation: how many times it has been (re)started, modulo 64.
///
/// The kernel bumps it on every restart so that a [`TaskId`] naming an older
/// incarnation can be recognised as stale. It wraps at [`Generation::MAX`]+1.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq, Hash, Ord, PartialOrd)]
#[repr(transparent)]
pub struct Generation(u8);

impl Generation {
    /// The generation every task starts with at boot.
    pub const ZERO: Self = Self(0);
    /// Largest representable generation; the next one is `ZERO`.
    pub const MAX: Self = Self((1 << TaskId::GENERATION_BITS) - 1);

    /// Builds a generation, keeping only the low [`TaskId::GENERATION_BITS`].
    pub const fn new(raw: u8) -> Self {
        Self(raw & Self::MAX.0)
    }

    /// The raw generation number (`0..=MAX`).
    pub const fn get(self) -> u8 {
        self.0
    }

    /// The generation after this one, wrapping from `MAX` to `ZERO`.
    pub const fn next(self) -> Self {
        Self::new(self.0.wrapping_add(1))
    }
}

/// Names one incarnation of one task: a task index plus a [`Generation`].
///
/// Packed into 16 bits (10 bits of index, 6 of generation) so it fits in a
/// register alongside other syscall arguments.
#[derive(Copy, Clone, Debug, Eq, PartialEq, Hash, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(transparent)]
pub struct TaskId(pub u16);

impl TaskId {
    /// Bits of a `TaskId` that hold the task index.
    pub const INDEX_BITS: u32 = 10;
    /// Bits of a `TaskId` that hold the generation.
    pub const GENERATION_BITS: u32 = 16 - Self::INDEX_BITS;
    const INDEX_MASK: u16 = (1 << Self::INDEX_BITS) - 1;

    /// The pseudo-task that stands for the kernel: the sender of notification
    /// messages and the target of kernel IPC (see [`KernelOp`]): 0xFFFF,
    /// index 1023 (beyond any image's tasks) at generation 63, the value
    /// Hubris uses and humility decodes (a receive closed to it shows as
    /// a wait for notifications, `notif: ...`, not as a task). Costs
    /// add_timer through IPC 13 instructions over 0x3FF (`cargo xtask
    /// bench`: 549 -> 562; every other row within 4).
    pub const KERNEL: Self = Self(0xFFFF);

    /// Builds the id of task `index` at generation `gen`.
    ///
    /// Indices above `2^INDEX_BITS - 1` are truncated; the build tooling
    /// rejects images with that many tasks long before this matters.
    pub const fn for_index_and_gen(index: usize, gen: Generation) -> Self {
        Self(((index as u16) & Self::INDEX_MASK) | ((gen.0 as u16) << Self::INDEX_BITS))
    }

    /// The task's index in the image's task table.
    pub const fn index(self) -> usize {
        (self.0 & Self::INDEX_MASK) as usize
    }

    /// The generation this id refers to.
    pub const fn generation(self) -> Generation {
        Generation::new((self.0 >> Self::INDEX_BITS) as u8)
    }
}

/// Syscall numbers, passed in `r11` with the `svc` instruction.
///
/// Arguments go in `r4..=r10` and results come back in `r4..=r11`; the exact
/// register use of each call is documented on the `userlib` wrapper.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(u32)]
pub enum Sysnum {
    Send = 0,
    Recv = 1,
    Reply = 2,
    BorrowRead = 3,
    BorrowWrite = 4,
    BorrowInfo = 5,
    IrqControl = 6,
    Panic = 7,
    RefreshTaskId = 8,
    Post = 9,
    ReplyFault = 10,
    /// `Reply` then an open `Recv`, in one syscall (seL4's ReplyRecv): what
    /// a server does between two requests.
    ReplyRecv = 11,
    /// `Post` then an open (or closed) `Recv`, with `irq_control`'s
    /// re-enabling as `Recv` has it, in one syscall (seL4's NBSendRecv):
    /// how an interrupt-driven server delivers what the interrupt produced
    /// and waits for the next one. The post's target and bits come in r9
    /// and r10, its result (0, or the dead code of a stale target, which
    /// gets nothing) goes back in r10.
    PostRecv = 12,
}

impl Sysnum {
    /// Decodes a raw syscall number; `None` for numbers no syscall has.
    pub const fn from_u32(n: u32) -> Option<Self> {
        Some(match n {
            0 => Self::Send,
            1 => Self::Recv,
            2 => Self::Reply,
            3 => Self::BorrowRead,
            4 => Self::BorrowWrite,
            5 => Self::BorrowInfo,
            6 => Self::IrqControl,
            7 => Self::Panic,
            8 => Self::RefreshTaskId,
            9 => Self::Post,
            10 => Self::ReplyFault,
            11 => Self::ReplyRecv,
            12 => Self::PostRecv,
            _ => return None,
        })
    }
}

/// Response codes at or above this value mean "the peer died": the low byte
/// carries the peer's new generation (see [`dead_response_code`]).
pub const DEAD_CODE_BASE: u32 = 0xFFFF_FF00;

/// The response code a sender receives when its peer restarted (or was
/// already of a newer generation than the `TaskId` the sender used).
pub const fn dead_response_code(new_gen: Generation) -> u32 {
    DEAD_CODE_BASE | new_gen.0 as u32
}

/// If `code` is a dead code, the peer's current generation.
pub const fn extract_new_generation(code: u32) -> Option<Generation> {
    if code & DEAD_CODE_BASE == DEAD_CODE_BASE {
        Some(Generation::new(code as u8))
    } else {
        None
    }
}

/// Lease attribute bit: the server may read the lent memory.
pub const LEASE_READ: u32 = 1 << 0;
/// Lease attribute bit: the server may write the lent memory.
pub const LEASE_WRITE: u32 = 1 << 1;

/// Response code of a borrow naming a lease that does not exist, lacks the
/// needed access, has an offset past its end, or that the lender rewrote
/// since its `send` into memory it may not lend (the lender is then
/// faulted with [`UsageError::LeaseOutOfRange`]).
pub const BORROW_BAD_LEASE: u32 = 1;

/// Response code of a borrow from a task of the named generation that is
/// not waiting for the caller's reply (it faulted, or never sent to the
/// caller). A stale generation gets a dead code instead.
pub const BORROW_NOT_WAITING: u32 = 2;

/// A lease as the kernel sees it in the sender's memory: a slice the sender
/// lends to the server for the duration of one `send`.
///
/// `base` and `len` are in bytes; a zero-length lease is allowed and lends
/// nothing. The kernel checks at send time that `[base, base+len)` lies inside
/// one region of the sender that grants the requested access and is normal
/// memory (not a device), and checks it again at every borrow: the table
/// stays in the sender's memory, which a server holding a write lease over
/// it could rewrite in between.
#[derive(Copy, Clone, Debug, Eq, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct ULease {
    /// `LEASE_READ` and/or `LEASE_WRITE`.
    pub attributes: u32,
    /// Address of the first lent byte, in the sender's address space.
    pub base: u32,
    /// Length in bytes.
    pub len: u32,
}

/// Why a server refused a message with `reply_fault`; recorded in the
/// sender's fault.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(u32)]
pub enum ReplyFaultReason {
    /// The operation number is not one the server implements.
    UndefinedOperation = 0,
    /// The message was shorter or longer than the operation needs.
    BadMessageSize = 1,
    /// The message had the right size but an invalid value in it.
    BadMessageContents = 2,
    /// Wrong number of leases, or a lease with the wrong access or length.
    BadLeases = 3,
    /// The sender's reply buffer cannot hold the operation's reply.
    ReplyBufferTooSmall = 4,
}

impl ReplyFaultReason {
    /// Decodes a raw reason; `None` for undefined values.
    pub const fn from_u32(n: u32) -> Option<Self> {
        Some(match n {
            0 => Self::UndefinedOperation,
            1 => Self::BadMessageSize,
            2 => Self::BadMessageContents,
            3 => Self::BadLeases,
            4 => Self::ReplyBufferTooSmall,
            _ => return None,
        })
    }
}

/// The ways a task can misuse a syscall. Each one faults the caller.
///
/// Named as Hubris names them where the meaning is the same, so humility
/// decodes a faulted task; `BadReplyFaultReason` is Escapement's own
/// (humility shows a task faulted with it as undecodable).
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(u8)]
pub enum UsageError {
    /// `r11` held no valid syscall number.
    BadSyscallNumber = 0,
    /// A buffer or lease table passed to the kernel is not inside the
    /// caller's memory with the needed access.
    InvalidSlice = 1,
    /// A task index beyond the end of the task table.
    TaskOutOfRange = 2,
    /// A lease the caller offered is not inside its own normal memory with
    /// the access it asks for, or has unknown attribute bits (at `send`, or
    /// at a borrow if the lender rewrote it since).
    LeaseOutOfRange = 3,
    // 4 was `BadReply`, never raised: a reply to a task not waiting for
    // it is dropped (the client may have died; the server is not at
    // fault), and one longer than the client's reply buffer faults the
    // client (`ReplyFaultReason::ReplyBufferTooSmall`). Not reused.
    /// `irq_control` on notification bits that have no interrupt of ours.
    NoIrq = 5,
    /// A kernel-IPC operation that is unknown, malformed, or reserved for
    /// the supervisor.
    BadKernelMessage = 6,
    /// A send to a task of lower or equal priority: a real task, but not
    /// one the caller may send to (the deadlock rule).
    IllegalTask = 7,
    /// `reply_fault` with an undefined reason.
    BadReplyFaultReason = 8,
}

/// Cause of a memory-management fault as the MPU reported it.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(u8)]
pub enum FaultKind {
    /// MemManage: an access the MPU forbade (data or instruction fetch).
    MemoryAccess = 1,
    /// BusFault: the bus refused the access.
    BusError = 2,
    /// UsageFault: undefined instruction, divide by zero, unaligned, ...
    IllegalInstruction = 3,
    /// Faulted by the kernel for misusing a syscall ([`UsageError`]).
    SyscallUsage = 4,
    /// The task called `sys_panic`.
    Panic = 5,
    /// A server refused our message with `reply_fault`.
    FromServer = 6,
    /// A fault while the hardware stacked or unstacked the task's frame.
    StackOverflow = 7,
    /// Invalid EXC_RETURN or anything the kernel cannot classify.
    Unknown = 8,
}

/// Byte size of the task-status record returned by [`KernelOp::ReadTaskStatus`].
pub const TASK_STATUS_LEN: usize = 16;

/// Task state codes used in a task-status record.
pub mod state_code {
    pub const STOPPED: u8 = 0;
    pub const RUNNABLE: u8 = 1;
    pub const IN_SEND: u8 = 2;
    pub const IN_REPLY: u8 = 3;
    pub const IN_RECV: u8 = 4;
    pub const FAULTED: u8 = 5;
}

/// The task-status record: what the kernel tells the supervisor about a task.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct TaskStatus {
    /// One of [`state_code`].
    pub state: u8,
    /// Current generation.
    pub generation: u8,
    /// For `FAULTED`: a [`FaultKind`] code; otherwise 0.
    pub fault_kind: u8,
    /// For `FAULTED` with `SyscallUsage`/`FromServer`: the detail code.
    pub fault_detail: u8,
    /// Peer task index for `IN_SEND`/`IN_REPLY`/closed `IN_RECV`, else 0xFFFF.
    pub peer: u16,
    /// Reserved, zero.
    pub _pad: u16,
    /// Faulting address for memory faults when known, else 0.
    pub fault_address: u32,
    /// Pending notification bits.
    pub pending: u32,
}

/// Operations of kernel IPC: a `send` to [`TaskId::KERNEL`] with one of
/// these as the operation number.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(u16)]
pub enum KernelOp {
    /// Arg: task index (u32 LE). Reply: [`TaskStatus`]. Any task may ask.
    ReadTaskStatus = 1,
    /// Arg: first index to look at (u32 LE). Reply: u32 LE index of the
    /// first faulted task at or after it, or `u32::MAX` if none.
    /// Supervisor only.
    FindFaultedTask = 2,
    /// Args: task index (u32 LE), start (u32 LE, nonzero = make runnable).
    /// Resets the task, bumps its generation, and answers any task blocked
    /// on it with a dead code. Supervisor only.
    RestartTask = 3,
    /// Reply: the image id (u64 LE), the value of `HUBRIS_IMAGE_ID`.
    ReadImageId = 4,
    /// Arg: exit status (u32 LE). Ends a QEMU run through semihosting with
    /// that status (0 = success). Only in images built with the kernel
    /// feature `semihosting`; elsewhere it faults the caller.
    SemihostExit = 5,
    /// Reply: the oldest unread bytes of the kernel log, as many as the
    /// reply buffer holds (at most 128; 0 when the log is empty). Only the
    /// task app.toml names as `[kernel] log-task`; it faults any other.
    ReadLog = 6,
}

impl KernelOp {
    /// Decodes a kernel-IPC operation number.
    pub const fn from_u16(n: u16) -> Option<Self> {
        Some(match n {
            1 => Self::ReadTaskStatus,
            2 => Self::FindFaultedTask,
            3 => Self::RestartTask,
            4 => Self::ReadImageId,
            5 => Self::SemihostExit,
            6 => Self::ReadLog,
            _ => return None,
        })
    }
}

/// Response code of a kernel-IPC call that succeeded.
pub const KERNEL_OK: u32 = 0;

/// Notification bit the kernel posts to the supervisor (task 0) when any
/// task faults.
pub const SUPERVISOR_FAULT_MASK: u32 = 1 << 0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_id_round_trips_index_and_generation() {
        for index in [0usize, 1, 7, 1022] {
            for g in [0u8, 1, 17, 63] {
                let id = TaskId::for_index_and_gen(index, Generation::new(g));
                assert_eq!(id.index(), index);
                assert_eq!(id.generation().get(), g);
            }
        }
    }

    #[test]
    fn generation_wraps_at_six_bits() {
        assert_eq!(Generation::MAX.get(), 63);
        assert_eq!(Generation::MAX.next(), Generation::ZERO);
        assert_eq!(Generation::new(64), Generation::ZERO);
    }

    #[test]
    fn dead_codes_carry_the_generation() {
        let code = dead_response_code(Generation::new(5));
        assert_eq!(extract_new_generation(code), Some(Generation::new(5)));
        assert_eq!(extract_new_generation(0), None);
        assert_eq!(extract_new_generation(0x1234), None);
    }

    #[test]
    fn kernel_id_is_distinct_from_real_tasks() {
        assert_eq!(TaskId::KERNEL.index(), 1023);
        assert_ne!(TaskId::KERNEL, TaskId::for_index_and_gen(0, Generation::ZERO));
    }

    #[test]
    fn sysnums_decode() {
        for n in 0..=12 {
            assert_eq!(Sysnum::from_u32(n).map(|s| s as u32), Some(n));
        }
        assert_eq!(Sysnum::from_u32(13), None);
    }

    #[test]
    fn task_status_is_sixteen_bytes() {
        assert_eq!(core::mem::size_of::<TaskStatus>(), TASK_STATUS_LEN);
    }
}
