//! The syscalls: decoding a task's request from its saved state,
//! checking it, and carrying it out.
//!
//! Every pointer is checked against the caller's regions before use, and
//! every misuse faults the caller (see `abi::UsageError`); a well-formed
//! request never faults anyone but can return an error code. IPC state
//! lives in the blocked tasks' saved state, as the syscall left it: a task
//! in `InSend` still holds its message, reply buffer and lease table
//! (`send_args`), and a task in `InRecv` its buffer and mask (`recv_args`;
//! the IRQs it re-enabled on entry are spent). Registers are the
//! architecture's business (`arch::SavedState`).

use crate::descs::region_attr;
use crate::task::{FaultInfo, SchedState, Task, TaskState};
use crate::err::{Misuse, SysResult};
use crate::{arch, kipc, Kernel};
use abi::{
    ReplyFaultReason, Sysnum, TaskId, ULease, UsageError, BORROW_BAD_LEASE, BORROW_NOT_WAITING, LEASE_READ, LEASE_WRITE,
};
/// Size of a lease descriptor in the lender's lease table.
const LEASE_BYTES: u32 = core::mem::size_of::<ULease>() as u32;


impl Kernel {
    /// Entry point from `arch` for an `svc` by the current task. On return
    /// `self.current` names the task to resume, and the result points at
    /// it (a fast path already holds it, so the switch need not look it up
    /// again).
    pub fn syscall(&mut self) -> *mut Task {
        let caller = self.current;
        let next = self.try_fastpath(caller);
        if !next.is_null() {
            return next;
        }
        self.syscall_general(caller);
        &mut self.tasks[self.current]
    }

    /// The general path: every syscall, fully checked. Kept out of line so
    /// that the fast paths above do not pay for its registers and stack.
    #[inline(never)]
    pub(crate) fn syscall_general(&mut self, caller: usize) {
        self.woken = None;
        let nr = self.tasks[caller].save.syscall_number();
        let result = match Sysnum::from_u32(nr) {
            Some(Sysnum::Send) => self.sys_send(caller),
            Some(Sysnum::Recv) => self.sys_recv(caller),
            Some(Sysnum::Reply) => self.sys_reply(caller),
            Some(Sysnum::ReplyFault) => self.sys_reply_fault(caller),
            Some(Sysnum::ReplyRecv) => self.sys_reply_recv(caller),
            Some(Sysnum::PostRecv) => self.sys_post_recv(caller),
            Some(Sysnum::BorrowRead) => self.sys_borrow(caller, Borrow::Read),
            Some(Sysnum::BorrowWrite) => self.sys_borrow(caller, Borrow::Write),
            Some(Sysnum::BorrowInfo) => self.sys_borrow(caller, Borrow::Info),
            Some(Sysnum::IrqControl) => self.sys_irq_control(caller),
            Some(Sysnum::Post) => self.sys_post(caller),
            Some(Sysnum::RefreshTaskId) => self.sys_refresh_task_id(caller),
            Some(Sysnum::Panic) => {
                self.sys_panic(caller);
                Ok(())
            }
            None => Err(Misuse(UsageError::BadSyscallNumber)),
        };
        if let Err(Misuse(e)) = result {
            self.fault_task(caller, FaultInfo::SyscallUsage(e));
        }
        self.after_syscall();
    }

    /// Checks that the caller may access `[base, base+len)` with `needed`.
    fn check_slice(&self, task: usize, base: u32, len: u32, needed: u32) -> SysResult {
        if len == 0 || self.tasks[task].can_access(self.regions, base, len, needed) {
            Ok(())
        } else {
            Err(Misuse(UsageError::InvalidSlice))
        }
    }

    /// Resolves a task id from a register: out-of-range indices are misuse.
    fn task_index(&self, id: TaskId) -> Result<usize, Misuse> {
        let i = id.index();
        if i < self.tasks.len() {
            Ok(i)
        } else {
            Err(Misuse(UsageError::TaskOutOfRange))
        }
    }

    fn sys_send(&mut self, caller: usize) -> SysResult {
        let a = self.tasks[caller].save.send_args();
        let target = a.target;
        self.check_slice(caller, a.message.base, a.message.len, region_attr::READ)?;
        self.check_slice(caller, a.reply.base, a.reply.len, region_attr::WRITE)?;
        let table_len = a.leases.len.checked_mul(LEASE_BYTES).ok_or(Misuse(UsageError::InvalidSlice))?;
        self.check_slice(caller, a.leases.base, table_len, region_attr::READ)?;
        for n in 0..a.leases.len {
            // Safety: the table was checked readable by the caller just
            // above, and `n < a.leases.len`.
            let lease = unsafe { read_lease(a.leases.base, n) };
            self.lease_region_ok(caller, &lease)?;
        }

        if target == TaskId::KERNEL {
            return kipc::handle(self, caller, a.operation);
        }
        let t = self.task_index(target)?;
        if self.tasks[t].generation != target.generation() {
            let code = self.tasks[t].dead_code();
            self.tasks[caller].save.set_send_result(code, 0);
            return Ok(());
        }
        // The deadlock-freedom rule: messages only travel up the priority
        // order. The build checks task-slots; this catches forged ids.
        if self.tasks[t].priority >= self.tasks[caller].priority {
            return Err(Misuse(UsageError::IllegalTask));
        }
        self.set_sched(caller, SchedState::InSend(target));
        if let TaskState::Healthy(SchedState::InRecv(from)) = *self.tasks[t].state() {
            let caller_id = self.tasks[caller].id();
            if from.is_none() || from == Some(caller_id) {
                self.deliver(caller, t);
            }
        }
        Ok(())
    }

    /// Copies `sender`'s message into `receiver`'s buffer and completes the
    /// receiver's `recv`; the sender now waits for the reply.
    fn deliver(&mut self, sender: usize, receiver: usize) {
        let s = self.tasks[sender].save.send_args();
        let sender_id = self.tasks[sender].id();
        let receiver_id = self.tasks[receiver].id();
        let r = &mut self.tasks[receiver];
        let buffer = r.save.recv_args().buffer;
        let n = s.message.len.min(buffer.len);
        // Safety: the sender's message range was checked readable by the
        // sender at send time, the receiver's buffer checked writable by the
        // receiver at recv time; `n` is within both. They are different
        // tasks' memory, but `copy` would tolerate overlap anyway.
        unsafe { arch::copy_user(s.message.base, buffer.base, n) };
        r.save.set_recv_message(sender_id, s.operation as u32, s.message.len, s.reply.len, s.leases.len);
        self.set_sched(receiver, SchedState::Runnable);
        self.note_woken(receiver);
        self.set_sched(sender, SchedState::InReply(receiver_id));
    }

    fn sys_recv(&mut self, caller: usize) -> SysResult {
        let a = self.tasks[caller].save.recv_args();
        let (mask, from_raw, rearm) = (a.mask, a.from, a.rearm);
        self.check_slice(caller, a.buffer.base, a.buffer.len, region_attr::WRITE)?;
        // `rearm`: the caller's IRQs (by notification bit) to unmask before
        // waiting, as `irq_control(rearm, true)` would: the interrupt
        // handled, the device acknowledged, wait for the next one.
        if rearm != 0 {
            self.irq_control(caller, rearm, true)?;
        }
        let from = if from_raw & (1 << 31) != 0 {
            let id = TaskId(from_raw as u16);
            if id != TaskId::KERNEL {
                let i = self.task_index(id)?;
                if self.tasks[i].generation != id.generation() {
                    let code = self.tasks[i].dead_code();
                    self.tasks[caller].save.set_result(code);
                    return Ok(());
                }
            }
            Some(id)
        } else {
            None
        };

        let t = &mut self.tasks[caller];
        let pending = t.notifications & mask;
        if pending != 0 {
            t.notifications &= !pending;
            self.deliver_notification(caller, pending);
            return Ok(());
        }

        if from != Some(TaskId::KERNEL) {
            let me = self.tasks[caller].id();
            let mut best: Option<usize> = None;
            for i in self.tasks.sending().iter() {
                let t = &self.tasks[i];
                let waiting = matches!(*t.state(), TaskState::Healthy(SchedState::InSend(p)) if p == me);
                let wanted = from.is_none_or(|f| f.index() == i);
                if waiting && wanted && best.is_none_or(|b| t.priority < self.tasks[b].priority) {
                    best = Some(i);
                }
            }
            if let Some(sender) = best {
                self.deliver(sender, caller);
                return Ok(());
            }
        }
        self.set_sched(caller, SchedState::InRecv(from));
        Ok(())
    }

    /// Finds `peer` if it is waiting for `caller`'s reply; `None` if it
    /// restarted or is not waiting (the reply is then dropped silently: a
    /// server must not be punished for its client's death).
    fn waiting_peer(&self, caller: usize, peer: TaskId) -> Result<Option<usize>, Misuse> {
        let p = self.task_index(peer)?;
        let me = self.tasks[caller].id();
        let t = &self.tasks[p];
        let waiting = matches!(*t.state(), TaskState::Healthy(SchedState::InReply(r)) if r == me);
        Ok((t.generation == peer.generation() && waiting).then_some(p))
    }

    fn sys_reply(&mut self, caller: usize) -> SysResult {
        let a = self.tasks[caller].save.reply_args();
        self.reply(caller, a.peer, a.code, a.message.base, a.message.len)
    }

    /// Answers `peer` with `code` and the caller's `len` bytes at `ptr`.
    fn reply(&mut self, caller: usize, peer: TaskId, code: u32, ptr: u32, len: u32) -> SysResult {
        self.check_slice(caller, ptr, len, region_attr::READ)?;
        let Some(p) = self.waiting_peer(caller, peer)? else {
            return Ok(());
        };
        let buffer = self.tasks[p].save.send_args().reply;
        let capacity = buffer.len;
        if len > capacity {
            // The client lent too small a reply buffer: its fault, not the
            // server's.
            let server = self.tasks[caller].id();
            self.fault_task(p, FaultInfo::FromServer(server, ReplyFaultReason::ReplyBufferTooSmall));
            return Ok(());
        }
        let t = &mut self.tasks[p];
        // Safety: `ptr..ptr+len` checked readable by the caller above; the
        // peer's reply buffer was checked writable at its send, and
        // `len <= capacity`.
        unsafe { arch::copy_user(ptr, buffer.base, len) };
        t.save.set_send_result(code, len);
        self.set_sched(p, SchedState::Runnable);
        self.note_woken(p);
        Ok(())
    }

    /// A `reply` (its half of the arguments), then an open `recv` with
    /// the buffer and mask where `recv` takes them and a blocked receiver
    /// keeps them; the reply half is retired so that what remains reads as
    /// an open `recv` that re-enables no IRQ.
    fn sys_reply_recv(&mut self, caller: usize) -> SysResult {
        let a = self.tasks[caller].save.reply_recv_args();
        self.reply(caller, a.peer, a.code, a.message.base, a.message.len)?;
        if !self.tasks.runnable().contains(caller) {
            // The reply faulted the caller; nothing to receive.
            return Ok(());
        }
        self.tasks[caller].save.retire_reply();
        self.sys_recv(caller)
    }

    fn sys_reply_fault(&mut self, caller: usize) -> SysResult {
        let (peer, reason) = self.tasks[caller].save.two_args();
        let peer = TaskId(peer as u16);
        let Some(reason) = ReplyFaultReason::from_u32(reason) else {
            return Err(Misuse(UsageError::BadReplyFaultReason));
        };
        if let Some(p) = self.waiting_peer(caller, peer)? {
            let server = self.tasks[caller].id();
            self.fault_task(p, FaultInfo::FromServer(server, reason));
        }
        Ok(())
    }

    /// Checks one lease descriptor of `lender`'s: known attribute bits only,
    /// and a range inside the lender's own normal memory with the access
    /// the attributes ask for. Run at `send` on every lease and again at
    /// every borrow, since the table lives in the lender's memory.
    fn lease_region_ok(&self, lender: usize, lease: &ULease) -> SysResult {
        if lease.attributes & !(LEASE_READ | LEASE_WRITE) != 0 {
            return Err(Misuse(UsageError::LeaseOutOfRange));
        }
        let mut needed = 0;
        if lease.attributes & LEASE_READ != 0 {
            needed |= region_attr::READ;
        }
        if lease.attributes & LEASE_WRITE != 0 {
            needed |= region_attr::WRITE;
        }
        if lease.len != 0 && !self.tasks[lender].can_access(self.regions, lease.base, lease.len, needed) {
            return Err(Misuse(UsageError::LeaseOutOfRange));
        }
        Ok(())
    }

    fn sys_borrow(&mut self, caller: usize, kind: Borrow) -> SysResult {
        let a = self.tasks[caller].save.borrow_args();
        let (lender, index, offset, ptr, len) = (a.lender, a.index, a.offset, a.buffer.base, a.buffer.len);
        match kind {
            Borrow::Read => self.check_slice(caller, ptr, len, region_attr::WRITE)?,
            Borrow::Write => self.check_slice(caller, ptr, len, region_attr::READ)?,
            Borrow::Info => {}
        }
        let l = self.task_index(lender)?;
        let Some(l) = self.waiting_peer(caller, lender)? else {
            let t = &self.tasks[l];
            let code = if t.generation == lender.generation() { BORROW_NOT_WAITING } else { t.dead_code() };
            self.tasks[caller].save.set_result(code);
            return Ok(());
        };
        let table = self.tasks[l].save.send_args().leases;
        if index >= table.len {
            self.tasks[caller].save.set_result(BORROW_BAD_LEASE);
            return Ok(());
        }
        // The lender's table (where and how long: kernel-held, unchangeable)
        // was checked readable at its send; the descriptor in it may have changed since
        // (a server with a write lease over the table can rewrite it), so it
        // is checked again before the kernel copies anything. A descriptor
        // that no longer passes is the lender's misuse.
        // Safety: see above; `index < table.len`.
        let lease = unsafe { read_lease(table.base, index) };
        if let Err(Misuse(e)) = self.lease_region_ok(l, &lease) {
            self.tasks[caller].save.set_result(BORROW_BAD_LEASE);
            self.fault_task(l, FaultInfo::SyscallUsage(e));
            return Ok(());
        }
        let needed = match kind {
            Borrow::Read => LEASE_READ,
            Borrow::Write => LEASE_WRITE,
            Borrow::Info => 0,
        };
        let ret = &mut self.tasks[caller].save;
        if lease.attributes & needed != needed || offset > lease.len {
            ret.set_result(BORROW_BAD_LEASE);
            return Ok(());
        }
        let n = len.min(lease.len - offset);
        match kind {
            // Safety (both copies): the lease range was checked just now
            // against the lender's regions with this access (normal memory
            // only), and `offset + n <= lease.len`; the caller's buffer was
            // checked above. Nothing runs between the check and the copy.
            Borrow::Read => unsafe { arch::copy_user(lease.base + offset, ptr, n) },
            Borrow::Write => unsafe { arch::copy_user(ptr, lease.base + offset, n) },
            Borrow::Info => {
                ret.set_borrow_result(lease.attributes, lease.len);
                return Ok(());
            }
        }
        ret.set_borrow_result(n, 0);
        Ok(())
    }

    fn sys_irq_control(&mut self, caller: usize) -> SysResult {
        let (mask, enable) = self.tasks[caller].save.two_args();
        self.irq_control(caller, mask, enable != 0)
    }

    /// Unmasks (or masks) the caller's IRQs whose notification bits are in
    /// `mask`; naming none of them is misuse.
    pub(crate) fn irq_control(&mut self, caller: usize, mask: u32, enable: bool) -> SysResult {
        if self.set_irqs(caller, mask, enable) { Ok(()) } else { Err(Misuse(UsageError::NoIrq)) }
    }

    /// Unmasks (or masks) the caller's IRQs in notification `mask`; false,
    /// having changed nothing, if it names none of them.
    #[inline(always)]
    pub(crate) fn set_irqs(&mut self, caller: usize, mask: u32, enable: bool) -> bool {
        let mut any = false;
        // Safety: `caller` is a task index, and `new` checked `starts`.
        for e in unsafe { self.irqs.of_task_unchecked(caller) } {
            if e.mask & mask == 0 {
                continue;
            }
            any = true;
            if enable {
                arch::irq_enable(e.irq);
            } else {
                arch::irq_disable(e.irq);
            }
        }
        any
    }

    fn sys_post(&mut self, caller: usize) -> SysResult {
        let (target, bits) = self.tasks[caller].save.two_args();
        let code = self.post_checked(target, bits)?;
        self.tasks[caller].save.set_result(code);
        Ok(())
    }

    /// `post` (r9, r10) then `recv` (r4..=r8), as the two calls would run
    /// one after the other: the post is made, or its dead code set in r10,
    /// before the receive's own checks (which may still fault the caller).
    fn sys_post_recv(&mut self, caller: usize) -> SysResult {
        let (target, bits) = self.tasks[caller].save.post_recv_post();
        let code = self.post_checked(target, bits)?;
        self.tasks[caller].save.set_post_result(code);
        self.sys_recv(caller)
    }

    /// A task's post of `bits` to raw `TaskId` `target`: an index out of
    /// range is misuse; a stale generation gets nothing and the target's
    /// dead code is the result; else 0.
    fn post_checked(&mut self, target: u32, bits: u32) -> Result<u32, Misuse> {
        let target = TaskId(target as u16);
        let t = self.task_index(target)?;
        if self.tasks[t].generation != target.generation() {
            return Ok(self.tasks[t].dead_code());
        }
        self.post(t, bits);
        Ok(0)
    }

    fn sys_refresh_task_id(&mut self, caller: usize) -> SysResult {
        let id = TaskId(self.tasks[caller].save.two_args().0 as u16);
        let t = self.task_index(id)?;
        let fresh = self.tasks[t].id();
        self.tasks[caller].save.set_result(fresh.0 as u32);
        Ok(())
    }

    fn sys_panic(&mut self, caller: usize) {
        let message = self.tasks[caller].save.panic_args();
        let len = message.len.min(PANIC_MESSAGE_MAX);
        let shown = crate::task::report_shown(self.tasks[caller].faults.saturating_add(1));
        if shown && self.check_slice(caller, message.base, len, region_attr::READ).is_ok() {
            let mut buf = [0u8; PANIC_MESSAGE_MAX as usize];
            let msg = &mut buf[..len as usize];
            // Safety: range checked readable by the caller just above.
            unsafe { arch::copy_from_user(message.base, msg) };
            sanitize(msg);
            let text = core::str::from_utf8(msg).unwrap_or("(message not UTF-8)");
            crate::klog!(self, "kern: task #{} {} panicked: {}", caller, self.name(caller), text);
        }
        self.fault_task(caller, FaultInfo::Panic);
    }
}

/// Bytes of a panic message the kernel prints.
const PANIC_MESSAGE_MAX: u32 = 128;

/// Makes a task's text safe to print on the kernel's console: control
/// bytes (a newline could forge a line of its own, an escape sequence
/// could rewrite the terminal) become `?`. Other bytes are left for the
/// UTF-8 check.
fn sanitize(text: &mut [u8]) {
    for b in text.iter_mut() {
        if *b < 0x20 || *b == 0x7F {
            *b = b'?';
        }
    }
}

#[derive(Copy, Clone)]
enum Borrow {
    Read,
    Write,
    Info,
}

/// Reads lease `n` of a lease table at `table` in a task's memory. The
/// result is a copy: check it (`lease_region_ok`) before using its range.
///
/// # Safety
/// The table's `count * LEASE_BYTES` bytes were checked readable by its
/// owner (the owner's regions never change), and `n < count`.
unsafe fn read_lease(table: u32, n: u32) -> ULease {
    let mut raw = [0u8; LEASE_BYTES as usize];
    // Safety: per the contract.
    unsafe { arch::copy_from_user(table + n * LEASE_BYTES, &mut raw) };
    let w = |i: usize| u32::from_le_bytes([raw[i], raw[i + 1], raw[i + 2], raw[i + 3]]);
    ULease { attributes: w(0), base: w(4), len: w(8) }
}

#[cfg(test)]
mod tests {
    //! The lease and buffer checks against a task that lies: descriptors
    //! rewritten between `send` and a borrow, device memory, borrows from
    //! tasks that are not waiting. Task memory is the host's simulated
    //! window (`arch::mem`), which panics if the kernel touches anything
    //! outside it.
    use super::*;
    use crate::arch::mem;
    use crate::descs::{region_attr::*, RegionAttributes, RegionDesc};
    use abi::{Generation, ULease};
    use zerocopy::IntoBytes;

    const SERVER: usize = 1;
    const CLIENT: usize = 2;
    /// The server's RAM, the client's RAM, a device block of the client's,
    /// and memory nobody may lend (another task's or the kernel's).
    const SERVER_RAM: u32 = 0x2000_0000;
    const CLIENT_RAM: u32 = 0x2000_1000;
    const CLIENT_DEVICE: u32 = 0x2000_4000;
    const SECRET: u32 = 0x2000_8000;
    static REGIONS: [RegionDesc; 4] = [
        RegionDesc::EMPTY,
        RegionDesc { base: SERVER_RAM, size: 0x1000, attributes: RegionAttributes::from_bits(READ | WRITE) },
        RegionDesc { base: CLIENT_RAM, size: 0x1000, attributes: RegionAttributes::from_bits(READ | WRITE) },
        RegionDesc { base: CLIENT_DEVICE, size: 0x100, attributes: RegionAttributes::from_bits(READ | WRITE | DEVICE) },
    ];

    /// Supervisor (0), server (1), client (2) and idle (3); all runnable.
    fn kernel() -> Kernel {
        let regions = [[0u8; 8], [1, 0, 0, 0, 0, 0, 0, 0], [2, 3, 0, 0, 0, 0, 0, 0], [0; 8]];
        mem::fill(0xEE);
        mem::write(SECRET, b"kernel secret!!!");
        let mut k = crate::tests::kernel_with_regions(&[0, 1, 2, 3], &regions, 0x2000_0400, &REGIONS);
        k.set_sched(0, SchedState::InRecv(None));
        k
    }

    /// Runs `nr` for `task` with argument words `args`, returning the first two result words.
    fn call(k: &mut Kernel, task: usize, nr: Sysnum, args: &[u32]) -> (u32, u32) {
        k.current = task;
        k.tasks[task].save.set_call(nr as u32, args);
        k.syscall();
        let w = k.tasks[task].save.words();
        (w[0], w[1])
    }

    fn lease(attributes: u32, base: u32, len: u32) -> ULease {
        ULease { attributes, base, len }
    }

    /// The server waits; the client sends with the lease table at
    /// `CLIENT_RAM + 0x100` holding `leases`. Returns the client's id.
    fn client_sends(k: &mut Kernel, leases: &[ULease]) -> TaskId {
        call(k, SERVER, Sysnum::Recv, &[SERVER_RAM, 16, 0, 0, 0]);
        assert_eq!(k.tasks[SERVER].sched(), Some(SchedState::InRecv(None)));
        let table = CLIENT_RAM + 0x100;
        mem::write(table, leases.as_bytes());
        let server = k.tasks[SERVER].id();
        call(k, CLIENT, Sysnum::Send, &[server.0 as u32, CLIENT_RAM + 0x300, 0, CLIENT_RAM + 0x400, 16, table, leases.len() as u32]);
        assert_eq!(k.tasks[CLIENT].sched(), Some(SchedState::InReply(server)), "{:?}", *k.tasks[CLIENT].state());
        k.tasks[CLIENT].id()
    }

    #[test]
    fn a_lease_rewritten_after_send_is_refused_and_faults_its_lender() {
        for forged in [SECRET, SERVER_RAM, CLIENT_DEVICE, CLIENT_RAM + 0xFF8] {
            let mut k = kernel();
            // Lease 0 lends the lease table itself, writable; lease 1 a
            // harmless 16 bytes of the client's RAM.
            let table = CLIENT_RAM + 0x100;
            let client = client_sends(&mut k, &[lease(LEASE_READ | LEASE_WRITE, table, 24), lease(LEASE_READ | LEASE_WRITE, CLIENT_RAM + 0x200, 16)]);
            // The server rewrites lease 1's descriptor through lease 0.
            mem::write(SERVER_RAM + 0x100, lease(LEASE_READ | LEASE_WRITE, forged, 16).as_bytes());
            let (code, n) = call(&mut k, SERVER, Sysnum::BorrowWrite, &[client.0 as u32, 0, 12, SERVER_RAM + 0x100, 12]);
            assert_eq!((code, n), (0, 12));
            let before = mem::read(SERVER_RAM + 0x200, 16);
            let forged_before = mem::read(forged, 16);
            let (code, _) = call(&mut k, SERVER, Sysnum::BorrowRead, &[client.0 as u32, 1, 0, SERVER_RAM + 0x200, 16]);
            assert_eq!(code, BORROW_BAD_LEASE, "forged lease at {forged:#x} was honoured");
            assert_eq!(mem::read(SERVER_RAM + 0x200, 16), before, "bytes were copied from {forged:#x}");
            let (code, _) = call(&mut k, SERVER, Sysnum::BorrowWrite, &[client.0 as u32, 1, 0, SERVER_RAM + 0x200, 16]);
            assert_ne!(code, 0);
            assert_eq!(mem::read(forged, 16), forged_before, "bytes were written to {forged:#x}");
            assert!(
                matches!(*k.tasks[CLIENT].state(), TaskState::Faulted { fault: FaultInfo::SyscallUsage(UsageError::LeaseOutOfRange), .. }),
                "{:?}",
                *k.tasks[CLIENT].state()
            );
            // The server lives on; its later borrows see a faulted lender.
            assert!(k.tasks[SERVER].sched().is_some());
            let (code, _) = call(&mut k, SERVER, Sysnum::BorrowInfo, &[client.0 as u32, 0]);
            assert_eq!(code, BORROW_NOT_WAITING);
        }
    }

    #[test]
    fn an_honest_lease_is_borrowed_within_its_bounds() {
        let mut k = kernel();
        mem::write(CLIENT_RAM + 0x200, b"0123456789abcdef");
        let client = client_sends(&mut k, &[lease(LEASE_READ, CLIENT_RAM + 0x200, 10)]);
        let (code, n) = call(&mut k, SERVER, Sysnum::BorrowRead, &[client.0 as u32, 0, 4, SERVER_RAM + 0x200, 16]);
        assert_eq!((code, n), (0, 6));
        assert_eq!(mem::read(SERVER_RAM + 0x200, 6), b"456789");
        // Read-only: a write is refused and changes nothing.
        let (code, _) = call(&mut k, SERVER, Sysnum::BorrowWrite, &[client.0 as u32, 0, 0, SERVER_RAM, 4]);
        assert_eq!(code, BORROW_BAD_LEASE);
        assert_eq!(mem::read(CLIENT_RAM + 0x200, 4), b"0123");
        // Past the end, and a lease that does not exist.
        assert_eq!(call(&mut k, SERVER, Sysnum::BorrowRead, &[client.0 as u32, 0, 11, SERVER_RAM, 4]).0, BORROW_BAD_LEASE);
        assert_eq!(call(&mut k, SERVER, Sysnum::BorrowRead, &[client.0 as u32, 1, 0, SERVER_RAM, 4]).0, BORROW_BAD_LEASE);
        assert!(k.tasks[CLIENT].sched().is_some());
    }

    #[test]
    fn borrows_from_a_task_not_waiting_or_stale_say_which() {
        let mut k = kernel();
        let client = k.tasks[CLIENT].id();
        // Alive, same generation, not waiting on us.
        assert_eq!(call(&mut k, SERVER, Sysnum::BorrowInfo, &[client.0 as u32, 0]).0, BORROW_NOT_WAITING);
        // A stale generation gets the dead code with the current one.
        let stale = TaskId::for_index_and_gen(CLIENT, Generation::new(5));
        assert_eq!(call(&mut k, SERVER, Sysnum::BorrowInfo, &[stale.0 as u32, 0]).0, k.tasks[CLIENT].dead_code());
        // The kernel's id is out of range: misuse.
        call(&mut k, SERVER, Sysnum::BorrowInfo, &[TaskId::KERNEL.0 as u32, 0]);
        assert!(matches!(*k.tasks[SERVER].state(), TaskState::Faulted { fault: FaultInfo::SyscallUsage(UsageError::TaskOutOfRange), .. }));
    }

    #[test]
    fn stacks_are_painted_at_boot_and_at_restart() {
        use crate::task::STACK_PAINT;
        let mut k = kernel();
        let top = 0x2000_0400 - crate::arch::INITIAL_FRAME_BYTES;
        let paint = STACK_PAINT.to_le_bytes();
        assert_eq!(mem::read(SERVER_RAM, 4), paint);
        assert_eq!(mem::read(top - 4, 4), paint);
        assert_eq!(mem::read(top, 4), [0xEE; 4], "the initial frame is not paint");
        // The client's initial stack (0x2000_0400 for every task here) is
        // not in its RAM: nothing of its memory is touched.
        assert_eq!(mem::read(CLIENT_RAM, 4), [0xEE; 4]);
        mem::write(SERVER_RAM + 0x10, &[1, 2, 3, 4]);
        k.restart_task(SERVER, true);
        assert_eq!(mem::read(SERVER_RAM + 0x10, 4), paint);
    }

    #[test]
    fn only_the_log_reader_reads_the_kernel_log_and_gets_whole_lines_in_order() {
        let mut k = kernel();
        k.log_reader = Some(crate::klog::LogReader { task: SERVER, mask: 1 << 3 });
        crate::klog!(k, "kern: first line");
        crate::klog!(k, "kern: second line");
        // Posted to the reader (it waits in an open receive with mask 0 here,
        // so the bit stays pending).
        assert_eq!(k.tasks[SERVER].notifications & (1 << 3), 1 << 3);
        let op = (abi::KernelOp::ReadLog as u32) << 16 | TaskId::KERNEL.0 as u32;
        // Any other task: misuse, and the log is untouched.
        call(&mut k, CLIENT, Sysnum::Send, &[op, CLIENT_RAM, 0, CLIENT_RAM + 0x100, 64, 0, 0]);
        assert!(matches!(*k.tasks[CLIENT].state(), TaskState::Faulted { fault: FaultInfo::SyscallUsage(UsageError::BadKernelMessage), .. }));
        // The reader, in bites of at most its buffer's size, until empty:
        // the two lines, then the report of the client's fault, whole.
        k.set_sched(SERVER, SchedState::Runnable);
        let (rc, n) = call(&mut k, SERVER, Sysnum::Send, &[op, SERVER_RAM, 0, SERVER_RAM + 0x100, 20, 0, 0]);
        assert_eq!((rc, n), (abi::KERNEL_OK, 20));
        let mut got = 20;
        loop {
            let (rc, m) = call(&mut k, SERVER, Sysnum::Send, &[op, SERVER_RAM, 0, SERVER_RAM + 0x100 + got, 64, 0, 0]);
            assert_eq!(rc, abi::KERNEL_OK);
            if m == 0 {
                break;
            }
            got += m;
        }
        let text = std::string::String::from_utf8(mem::read(SERVER_RAM + 0x100, got as usize)).unwrap();
        assert!(text.starts_with("kern: first line\r\nkern: second line\r\nkern: task #2 "), "{text:?}");
        assert!(text.ends_with("BadKernelMessage\r\n"), "{text:?}");
        // Empty now: 0 bytes.
        assert_eq!(call(&mut k, SERVER, Sysnum::Send, &[op, SERVER_RAM, 0, SERVER_RAM + 0x100, 64, 0, 0]), (abi::KERNEL_OK, 0));
    }

    #[test]
    fn a_panic_message_cannot_forge_a_console_line() {
        let mut m = *b"oops\r\nFAIL forged\x1b[2J\x7f";
        sanitize(&mut m);
        assert_eq!(&m, b"oops??FAIL forged?[2J?");
    }

    #[test]
    fn device_memory_is_never_a_buffer_or_a_lease() {
        // A lease over the client's own device block.
        let mut k = kernel();
        call(&mut k, SERVER, Sysnum::Recv, &[SERVER_RAM, 16, 0, 0, 0]);
        mem::write(CLIENT_RAM + 0x100, lease(LEASE_READ, CLIENT_DEVICE, 4).as_bytes());
        let server = k.tasks[SERVER].id().0 as u32;
        call(&mut k, CLIENT, Sysnum::Send, &[server, CLIENT_RAM, 0, CLIENT_RAM, 0, CLIENT_RAM + 0x100, 1]);
        assert!(matches!(*k.tasks[CLIENT].state(), TaskState::Faulted { fault: FaultInfo::SyscallUsage(UsageError::LeaseOutOfRange), .. }));
        // A message, a reply buffer and a receive buffer there.
        for (task, nr, args) in [
            (CLIENT, Sysnum::Send, [server, CLIENT_DEVICE, 4, CLIENT_RAM, 0, 0, 0]),
            (CLIENT, Sysnum::Send, [server, CLIENT_RAM, 4, CLIENT_DEVICE, 4, 0, 0]),
            (CLIENT, Sysnum::Recv, [CLIENT_DEVICE, 4, 0, 0, 0, 0, 0]),
        ] {
            let mut k = kernel();
            call(&mut k, SERVER, Sysnum::Recv, &[SERVER_RAM, 16, 0, 0, 0]);
            call(&mut k, task, nr, &args);
            assert!(
                matches!(*k.tasks[task].state(), TaskState::Faulted { fault: FaultInfo::SyscallUsage(UsageError::InvalidSlice), .. }),
                "{nr:?} {args:x?}: {:?}",
                *k.tasks[task].state()
            );
        }
    }

    /// A shared region's reader (the client here maps the page READ only,
    /// the server is its writer): the kernel refuses the page for anything
    /// it would write on the client's behalf (a writable lease, a receive
    /// buffer, a reply buffer), faulting the client and changing nothing,
    /// and still lets the client lend it read-only.
    #[test]
    fn a_reader_cannot_get_the_kernel_to_write_a_shared_region() {
        const PAGE: u32 = 0x2000_6000;
        static PAGE_REGIONS: [RegionDesc; 5] = [
            RegionDesc::EMPTY,
            RegionDesc { base: SERVER_RAM, size: 0x1000, attributes: RegionAttributes::from_bits(READ | WRITE) },
            RegionDesc { base: CLIENT_RAM, size: 0x1000, attributes: RegionAttributes::from_bits(READ | WRITE) },
            RegionDesc { base: PAGE, size: 0x40, attributes: RegionAttributes::from_bits(READ) },
            RegionDesc { base: PAGE, size: 0x40, attributes: RegionAttributes::from_bits(READ | WRITE) },
        ];
        let setup = || {
            let regions = [[0u8; 8], [1, 4, 0, 0, 0, 0, 0, 0], [2, 3, 0, 0, 0, 0, 0, 0], [0; 8]];
            mem::fill(0xEE);
            mem::write(PAGE, b"published time!!");
            let mut k = crate::tests::kernel_with_regions(&[0, 1, 2, 3], &regions, 0x2000_0400, &PAGE_REGIONS);
            k.set_sched(0, SchedState::InRecv(None));
            call(&mut k, SERVER, Sysnum::Recv, &[SERVER_RAM, 16, 0, 0, 0]);
            k
        };
        let usage = |k: &Kernel| match *k.tasks[CLIENT].state() {
            TaskState::Faulted { fault: FaultInfo::SyscallUsage(e), .. } => Some(e),
            _ => None,
        };
        // A writable lease over the page (alone, or read/write).
        for attrs in [LEASE_WRITE, LEASE_READ | LEASE_WRITE] {
            let mut k = setup();
            mem::write(CLIENT_RAM + 0x100, lease(attrs, PAGE, 16).as_bytes());
            let server = k.tasks[SERVER].id().0 as u32;
            call(&mut k, CLIENT, Sysnum::Send, &[server, CLIENT_RAM, 0, CLIENT_RAM, 0, CLIENT_RAM + 0x100, 1]);
            assert_eq!(usage(&k), Some(UsageError::LeaseOutOfRange), "lease attributes {attrs:#x}");
            assert_eq!(mem::read(PAGE, 16), b"published time!!");
        }
        // The page as a reply buffer or a receive buffer.
        for (nr, args) in [
            (Sysnum::Send, [0, CLIENT_RAM, 4, PAGE, 16, 0, 0]),
            (Sysnum::Recv, [PAGE, 16, 0, 0, 0, 0, 0]),
        ] {
            let mut k = setup();
            let mut args = args;
            if nr == Sysnum::Send {
                args[0] = k.tasks[SERVER].id().0 as u32;
            }
            call(&mut k, CLIENT, nr, &args);
            assert_eq!(usage(&k), Some(UsageError::InvalidSlice), "{nr:?}");
            assert_eq!(mem::read(PAGE, 16), b"published time!!");
        }
        // Read-only, it may be lent: the server reads it through the lease.
        let mut k = setup();
        let client = client_sends(&mut k, &[lease(LEASE_READ, PAGE, 16)]);
        let (code, n) = call(&mut k, SERVER, Sysnum::BorrowRead, &[client.0 as u32, 0, 0, SERVER_RAM + 0x200, 16]);
        assert_eq!((code, n), (0, 16));
        assert_eq!(mem::read(SERVER_RAM + 0x200, 16), b"published time!!");
        let (code, _) = call(&mut k, SERVER, Sysnum::BorrowWrite, &[client.0 as u32, 0, 0, SERVER_RAM, 4]);
        assert_eq!(code, BORROW_BAD_LEASE);
        assert_eq!(mem::read(PAGE, 16), b"published time!!");
        // The writer may use its page as a buffer.
        assert!(k.tasks[SERVER].can_access(&PAGE_REGIONS, PAGE, 0x40, READ | WRITE));
    }

    /// The paths the first shared-region test does not take: a kernel
    /// IPC reply into the page, the fast paths (send's reply buffer,
    /// recv's buffer), and `borrow_read` with the page as destination (the
    /// reader as a server). Each must refuse the page (the fast path by
    /// declining the call) and leave it as it was.
    #[test]
    fn a_reader_cannot_get_the_page_written_by_kipc_the_fast_paths_or_borrow_read() {
        const PAGE: u32 = 0x2000_6000;
        // Region 3: the page read-only (the reader's view); 4: read/write.
        static PAGE_REGIONS: [RegionDesc; 5] = [
            RegionDesc::EMPTY,
            RegionDesc { base: SERVER_RAM, size: 0x1000, attributes: RegionAttributes::from_bits(READ | WRITE) },
            RegionDesc { base: CLIENT_RAM, size: 0x1000, attributes: RegionAttributes::from_bits(READ | WRITE) },
            RegionDesc { base: PAGE, size: 0x40, attributes: RegionAttributes::from_bits(READ) },
            RegionDesc { base: PAGE, size: 0x40, attributes: RegionAttributes::from_bits(READ | WRITE) },
        ];
        // `reader_is_client`: the client reads the page and the server
        // writes it; otherwise the other way round.
        let setup = |reader_is_client: bool| {
            let (s, c) = if reader_is_client { (4, 3) } else { (3, 4) };
            let regions = [[0u8; 8], [1, s, 0, 0, 0, 0, 0, 0], [2, c, 0, 0, 0, 0, 0, 0], [0; 8]];
            mem::fill(0xEE);
            mem::write(PAGE, b"published time!!");
            let mut k = crate::tests::kernel_with_regions(&[0, 1, 2, 3], &regions, 0x2000_0400, &PAGE_REGIONS);
            k.set_sched(0, SchedState::InRecv(None));
            k
        };
        let usage = |k: &Kernel, t: usize| match *k.tasks[t].state() {
            TaskState::Faulted { fault: FaultInfo::SyscallUsage(e), .. } => Some(e),
            _ => None,
        };
        // Kernel IPC (ReadImageId, 8 bytes of reply) into the page.
        let mut k = setup(true);
        let op = (abi::KernelOp::ReadImageId as u32) << 16 | TaskId::KERNEL.0 as u32;
        call(&mut k, CLIENT, Sysnum::Send, &[op, CLIENT_RAM, 0, PAGE, 8, 0, 0]);
        assert_eq!(usage(&k, CLIENT), Some(UsageError::InvalidSlice));
        assert_eq!(mem::read(PAGE, 16), b"published time!!");
        // Fast paths: send to a waiting server with the page as reply
        // buffer; an open recv into the page.
        let mut k = setup(true);
        call(&mut k, SERVER, Sysnum::Recv, &[SERVER_RAM, 16, 0, 0, 0]);
        let server = k.tasks[SERVER].id().0 as u32;
        k.current = CLIENT;
        k.tasks[CLIENT].save.set_call(Sysnum::Send as u32, &[server, CLIENT_RAM, 4, PAGE, 16, 0, 0]);
        assert!(k.try_fastpath(CLIENT).is_null(), "the fast send took a read-only reply buffer");
        k.tasks[CLIENT].save.set_call(Sysnum::Recv as u32, &[PAGE, 16, 0, 0, 0]);
        assert!(k.try_fastpath(CLIENT).is_null(), "the fast recv took a read-only buffer");
        assert_eq!(mem::read(PAGE, 16), b"published time!!");
        // (The same send with a reply buffer in the client's RAM is taken.)
        k.tasks[CLIENT].save.set_call(Sysnum::Send as u32, &[server, CLIENT_RAM, 4, CLIENT_RAM + 0x400, 16, 0, 0]);
        assert!(!k.try_fastpath(CLIENT).is_null());
        // The reader as a server: borrow_read into the page is refused;
        // borrow_write from it (reading the page) is allowed.
        let mut k = setup(false);
        mem::write(CLIENT_RAM + 0x200, b"client's lease!!");
        let client = client_sends(&mut k, &[lease(LEASE_READ | LEASE_WRITE, CLIENT_RAM + 0x200, 16)]);
        call(&mut k, SERVER, Sysnum::BorrowRead, &[client.0 as u32, 0, 0, PAGE, 16]);
        assert_eq!(usage(&k, SERVER), Some(UsageError::InvalidSlice));
        assert_eq!(mem::read(PAGE, 16), b"published time!!");
        let mut k = setup(false);
        let client = client_sends(&mut k, &[lease(LEASE_READ | LEASE_WRITE, CLIENT_RAM + 0x200, 16)]);
        let (code, n) = call(&mut k, SERVER, Sysnum::BorrowWrite, &[client.0 as u32, 0, 0, PAGE, 16]);
        assert_eq!((code, n), (0, 16));
        assert_eq!(mem::read(CLIENT_RAM + 0x200, 16), b"published time!!");
    }
}
