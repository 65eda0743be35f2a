//! What every Escapement task links against: syscall wrappers, the task
//! entry point and the panic handler.
//!
//! Tasks run unprivileged; this crate is their only door into the kernel.
//! Every wrapper documents what the kernel does with bad arguments: a call
//! the kernel cannot honour because the caller misused it (a buffer outside
//! the task's memory, a reply to a task not waiting for one, ...) faults the
//! calling task rather than returning an error, because no correct program
//! makes such a call.
//!
//! Register convention: the syscall number goes in `r11`, arguments in
//! `r4..=r10`, results come back in `r4..=r11`. `r0..=r3` are preserved.

#![no_std]

pub use abi::*;

use core::marker::PhantomData;

mod arch;
pub mod kipc;
pub mod supervisor;
mod start;

pub use arch::{syscall, syscall5, syscall_raw};

/// A slice of the caller's memory lent to a server for one `send`.
///
/// The lifetime ties the lease to the borrow of the slice, so the memory
/// cannot be touched by the lender while the server may access it.
#[derive(Copy, Clone, Debug)]
#[repr(transparent)]
pub struct Lease<'a> {
    raw: ULease,
    _borrow: PhantomData<&'a mut [u8]>,
}

impl<'a> Lease<'a> {
    /// Lends `data` for reading only.
    pub fn read_only(data: &'a [u8]) -> Self {
        Self::raw(LEASE_READ, data.as_ptr() as u32, data.len())
    }

    /// Lends `data` for writing only (the server cannot read it back).
    pub fn write_only(data: &'a mut [u8]) -> Self {
        Self::raw(LEASE_WRITE, data.as_mut_ptr() as u32, data.len())
    }

    /// Lends `data` for reading and writing.
    pub fn read_write(data: &'a mut [u8]) -> Self {
        Self::raw(LEASE_READ | LEASE_WRITE, data.as_mut_ptr() as u32, data.len())
    }

    /// A lease with arbitrary attributes and address. Only tests that probe
    /// the kernel's checks need this; the kernel validates it at `send`.
    pub fn raw(attributes: u32, base: u32, len: usize) -> Self {
        Self {
            raw: ULease { attributes, base, len: len as u32 },
            _borrow: PhantomData,
        }
    }

    /// The descriptor the kernel will see.
    pub fn descriptor(&self) -> ULease {
        self.raw
    }
}

impl<'a> From<&'a [u8]> for Lease<'a> {
    fn from(data: &'a [u8]) -> Self {
        Self::read_only(data)
    }
}

impl<'a> From<&'a mut [u8]> for Lease<'a> {
    fn from(data: &'a mut [u8]) -> Self {
        Self::read_write(data)
    }
}

/// Sends `outgoing` to `target` as operation `operation` and blocks until
/// the target replies.
///
/// Returns the response code and the number of reply bytes the server wrote
/// into `incoming` (never more than `incoming.len()`). A response code at or
/// above [`DEAD_CODE_BASE`] means the target has restarted since `target`
/// was current (or died while we waited); use [`extract_new_generation`].
///
/// Faults the caller if a buffer or a lease is not inside its own memory, or
/// if `target` is not of strictly higher priority (lower number).
#[inline]
pub fn sys_send(
    target: TaskId,
    operation: u16,
    outgoing: &[u8],
    incoming: &mut [u8],
    leases: &[Lease<'_>],
) -> (u32, usize) {
    let args = [
        target.0 as u32 | (operation as u32) << 16,
        outgoing.as_ptr() as u32,
        outgoing.len() as u32,
        incoming.as_mut_ptr() as u32,
        incoming.len() as u32,
        leases.as_ptr() as u32,
        leases.len() as u32,
    ];
    let r = syscall(Sysnum::Send, &args);
    (r[0], r[1] as usize)
}

/// What `recv` delivered: a message from a task, or notification bits.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct RecvMessage {
    /// The sending task, or [`TaskId::KERNEL`] for notifications.
    pub sender: TaskId,
    /// The sender's operation number, or for notifications the pending
    /// bits that matched the mask (which the kernel has now cleared).
    pub operation: u32,
    /// Bytes of message the sender offered. May exceed the receive buffer;
    /// only `min(message_len, buffer.len())` bytes were copied.
    pub message_len: usize,
    /// Size of the sender's reply buffer, in bytes.
    pub response_capacity: usize,
    /// Number of leases the sender attached.
    pub lease_count: usize,
}

impl RecvMessage {
    /// True when this is a notification rather than a message.
    pub fn is_notification(&self) -> bool {
        self.sender == TaskId::KERNEL
    }
}

fn recv(buffer: &mut [u8], notification_mask: u32, from: u32, rearm: u32) -> Result<RecvMessage, u32> {
    let r = syscall5(Sysnum::Recv, buffer.as_mut_ptr() as u32, buffer.len() as u32, notification_mask, from, rearm);
    if r[0] != 0 {
        return Err(r[0]);
    }
    Ok(RecvMessage::from_results(&r))
}

impl RecvMessage {
    /// Decodes a completed receive's results (`r5..=r9`; `r4` is 0).
    #[inline(always)]
    fn from_results(r: &[u32; 8]) -> Self {
        RecvMessage {
            sender: TaskId(r[1] as u16),
            operation: r[2],
            message_len: r[3] as usize,
            response_capacity: r[4] as usize,
            lease_count: r[5] as usize,
        }
    }
}

/// Waits for a message from any task, or for any notification bit in
/// `notification_mask`. Pending notifications win over waiting senders;
/// among senders the highest-priority one is served first.
pub fn sys_recv_open(buffer: &mut [u8], notification_mask: u32) -> RecvMessage {
    // An open receive cannot fail: the kernel only returns an error for a
    // closed receive whose sender died.
    match recv(buffer, notification_mask, 0, 0) {
        Ok(m) => m,
        Err(_) => sys_panic(b"open recv failed"),
    }
}

/// Unmasks the interrupts behind `irq_bits` (notification bits of IRQs this
/// task owns, as for [`sys_irq_control`]), then [`sys_recv_open`], in one
/// syscall: how an interrupt-driven server that has acknowledged its
/// device waits for the next event. Faults the caller if `irq_bits` names
/// none of its IRQs.
pub fn sys_irq_enable_recv_open(irq_bits: u32, buffer: &mut [u8], notification_mask: u32) -> RecvMessage {
    match recv(buffer, notification_mask, 0, irq_bits) {
        Ok(m) => m,
        Err(_) => sys_panic(b"open recv failed"),
    }
}

/// [`sys_post`] of `bits` to `post_to`, then [`sys_irq_enable_recv_open`]
/// (`irq_bits` may be 0: nothing unmasked), in one syscall: how an
/// interrupt-driven server hands on what the interrupt produced and waits
/// for the next event. Returns the received message and the post's
/// result: 0, or the dead code of a `post_to` that restarted (which got
/// nothing). Faults the caller as the two calls would.
pub fn sys_post_irq_enable_recv_open(
    post_to: TaskId,
    bits: u32,
    irq_bits: u32,
    buffer: &mut [u8],
    notification_mask: u32,
) -> (RecvMessage, u32) {
    let args =
        [buffer.as_mut_ptr() as u32, buffer.len() as u32, notification_mask, 0, irq_bits, post_to.0 as u32, bits];
    let r = syscall(Sysnum::PostRecv, &args);
    if r[0] != 0 {
        sys_panic(b"open recv failed")
    }
    (RecvMessage::from_results(&r), r[6])
}

/// Waits for a message from `sender` only (or a notification in the mask).
///
/// Returns `Err(dead code)` if `sender` is not the current generation of
/// that task.
pub fn sys_recv_closed(
    buffer: &mut [u8],
    notification_mask: u32,
    sender: TaskId,
) -> Result<RecvMessage, u32> {
    recv(buffer, notification_mask, 1 << 31 | sender.0 as u32, 0)
}

/// Waits for notifications only, returning the bits that were pending in
/// `mask` (now cleared). A zero mask would block forever.
pub fn sys_recv_notification(mask: u32) -> u32 {
    match sys_recv_closed(&mut [], mask, TaskId::KERNEL) {
        Ok(m) => m.operation,
        Err(_) => sys_panic(b"notification recv failed"),
    }
}

/// Answers `peer`, which must be blocked waiting for our reply, with
/// `code` and `message`.
///
/// If `peer` has meanwhile restarted the reply is dropped silently (the
/// server must not be punished for the client's death). Faults the caller
/// if `message` is longer than the peer's reply buffer or not in our memory.
pub fn sys_reply(peer: TaskId, code: u32, message: &[u8]) {
    let args = [peer.0 as u32, code, message.as_ptr() as u32, message.len() as u32, 0, 0, 0];
    syscall(Sysnum::Reply, &args);
}

/// [`sys_reply`] to `peer`, then [`sys_recv_open`] into `buffer` with
/// `notification_mask`, in one syscall: the end of one request and the
/// wait for the next, as a server loop does. Same rules as the two calls.
pub fn sys_reply_recv_open(peer: TaskId, code: u32, reply: &[u8], buffer: &mut [u8], notification_mask: u32) -> RecvMessage {
    // Safety: the ranges come from `buffer` (borrowed mutably for the
    // call) and `reply` (borrowed shared), as the contract asks.
    unsafe {
        sys_reply_recv_args(&[
            buffer.as_mut_ptr() as u32,
            buffer.len() as u32,
            notification_mask,
            peer.0 as u32,
            code,
            reply.as_ptr() as u32,
            reply.len() as u32,
        ])
    }
}

/// [`sys_reply_recv_open`] with its arguments already in the kernel's
/// order (`r4..=r10`): buffer pointer, buffer length, notification mask
/// (where `recv` takes them and a blocked receiver keeps them, so the
/// kernel moves nothing), then peer, code, reply pointer, reply length.
/// For a server loop that keeps its pending answer in that form
/// (`idol_runtime::Held`), so that the syscall builds nothing. The kernel
/// checks every pointer and length as for `sys_reply_recv_open`: one
/// outside the caller's memory faults the caller.
///
/// # Safety
/// The kernel checks only that the ranges are the caller's memory, not
/// Rust's borrows: for the duration of the call the buffer range must be
/// memory nothing else references (the kernel writes the next message
/// there), and the reply range must be initialised bytes not written
/// meanwhile, exactly what `&mut [u8]` and `&[u8]` arguments of
/// [`sys_reply_recv_open`] guarantee.
#[inline]
pub unsafe fn sys_reply_recv_args(args: &[u32; 7]) -> RecvMessage {
    RecvMessage::from_results(&syscall(Sysnum::ReplyRecv, args))
}

/// Refuses `peer`'s message: the kernel faults `peer` with `reason`
/// (the supervisor will restart it). Used for malformed messages.
pub fn sys_reply_fault(peer: TaskId, reason: ReplyFaultReason) {
    syscall5(Sysnum::ReplyFault, peer.0 as u32, reason as u32, 0, 0, 0);
}

/// Copies from lease `index` of `lender` (who must be waiting for our
/// reply), starting `offset` bytes in, into `dest`. Returns the bytes
/// copied: `min(dest.len(), lease.len - offset)`.
///
/// `Err(BORROW_BAD_LEASE)` for a bad index/offset or a lease without read
/// access; `Err(BORROW_NOT_WAITING)` if the lender is alive but not
/// waiting for our reply; `Err(dead code)` if it restarted since.
pub fn sys_borrow_read(lender: TaskId, index: usize, offset: usize, dest: &mut [u8]) -> Result<usize, u32> {
    let args = [
        lender.0 as u32,
        index as u32,
        offset as u32,
        dest.as_mut_ptr() as u32,
        dest.len() as u32,
        0,
        0,
    ];
    let r = syscall(Sysnum::BorrowRead, &args);
    if r[0] == 0 { Ok(r[1] as usize) } else { Err(r[0]) }
}

/// Copies `src` into lease `index` of `lender` at `offset`; the mirror of
/// [`sys_borrow_read`], needing write access.
pub fn sys_borrow_write(lender: TaskId, index: usize, offset: usize, src: &[u8]) -> Result<usize, u32> {
    let args = [
        lender.0 as u32,
        index as u32,
        offset as u32,
        src.as_ptr() as u32,
        src.len() as u32,
        0,
        0,
    ];
    let r = syscall(Sysnum::BorrowWrite, &args);
    if r[0] == 0 { Ok(r[1] as usize) } else { Err(r[0]) }
}

/// Attributes and length of one lease of a waiting lender.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct LeaseInfo {
    /// `LEASE_READ` and/or `LEASE_WRITE`.
    pub attributes: u32,
    /// Length in bytes.
    pub len: usize,
}

/// Describes lease `index` of `lender`; errors as for [`sys_borrow_read`].
pub fn sys_borrow_info(lender: TaskId, index: usize) -> Result<LeaseInfo, u32> {
    let args = [lender.0 as u32, index as u32, 0, 0, 0, 0, 0];
    let r = syscall(Sysnum::BorrowInfo, &args);
    if r[0] == 0 {
        Ok(LeaseInfo { attributes: r[1], len: r[2] as usize })
    } else {
        Err(r[0])
    }
}

/// Re-enables (`enable = true`) or masks the interrupts this task owns
/// whose notification bits are in `mask`. The kernel masks an interrupt
/// when it delivers it, so a driver calls this after handling it.
///
/// Faults the caller if no interrupt of ours maps to a bit of `mask`.
pub fn sys_irq_control(mask: u32, enable: bool) {
    syscall5(Sysnum::IrqControl, mask, enable as u32, 0, 0, 0);
}

/// ORs `bits` into `task`'s pending notifications, waking it if it waits
/// for any of them. Never blocks, allowed towards any priority.
/// Returns 0, or a dead code if `task` is stale.
pub fn sys_post(task: TaskId, bits: u32) -> u32 {
    syscall5(Sysnum::Post, task.0 as u32, bits, 0, 0, 0)[0]
}

/// The id of the current incarnation of the task `id` names.
pub fn sys_refresh_task_id(id: TaskId) -> TaskId {
    let args = [id.0 as u32, 0, 0, 0, 0, 0, 0];
    TaskId(syscall(Sysnum::RefreshTaskId, &args)[0] as u16)
}

/// Stops this task with a `Panic` fault; `msg` (at most 128 bytes are
/// kept) is printed by the kernel. The supervisor restarts the task.
pub fn sys_panic(msg: &[u8]) -> ! {
    let args = [msg.as_ptr() as u32, msg.len() as u32, 0, 0, 0, 0, 0];
    syscall(Sysnum::Panic, &args);
    // The kernel never returns from a panic; if it did, spin rather than run
    // on in an undefined state.
    #[allow(clippy::empty_loop)]
    loop {}
}
