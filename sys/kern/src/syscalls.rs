//! The syscalls: decoding a task's request from its saved registers,
//! checking it, and carrying it out.
//!
//! Every pointer is checked against the caller's regions before use, and
//! every misuse faults the caller (see `abi::UsageError`); a well-formed
//! request never faults anyone but can return an error code. IPC state
//! lives in the blocked tasks' saved registers, as the syscall left them:
//! a task in `InSend` still holds its message, reply buffer and lease
//! table in r5..r10, and a task in `InRecv` its buffer and mask in r4..r7
//! (r8, the IRQs it re-enabled on entry, is spent).

use crate::descs::region_attr;
use crate::task::{FaultInfo, SchedState, Task, TaskState};
use crate::{arch, irq, kipc, umem, Kernel};
use abi::{ReplyFaultReason, Sysnum, TaskId, ULease, UsageError, LEASE_READ, LEASE_WRITE};

/// Response code of a borrow naming a bad lease (mirrors userlib).
const BORROW_BAD_LEASE: u32 = 1;
/// Size of a lease descriptor in the lender's lease table.
const LEASE_BYTES: u32 = core::mem::size_of::<ULease>() as u32;

/// Why a syscall stopped early: the caller misused it.
pub(crate) struct Misuse(pub UsageError);

type SysResult = Result<(), Misuse>;

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
        let s = self.tasks[caller].save.regs();
        let target = TaskId(s.r4 as u16);
        let (out_ptr, out_len) = (s.r5, s.r6);
        let (in_ptr, in_len) = (s.r7, s.r8);
        let (lease_ptr, lease_count) = (s.r9, s.r10);
        self.check_slice(caller, out_ptr, out_len, region_attr::READ)?;
        self.check_slice(caller, in_ptr, in_len, region_attr::WRITE)?;
        let table_len = lease_count.checked_mul(LEASE_BYTES).ok_or(Misuse(UsageError::InvalidSlice))?;
        self.check_slice(caller, lease_ptr, table_len, region_attr::READ)?;
        for n in 0..lease_count {
            let lease = read_lease(lease_ptr, n);
            let mut needed = 0;
            if lease.attributes & !(LEASE_READ | LEASE_WRITE) != 0 {
                return Err(Misuse(UsageError::BadLease));
            }
            if lease.attributes & LEASE_READ != 0 {
                needed |= region_attr::READ;
            }
            if lease.attributes & LEASE_WRITE != 0 {
                needed |= region_attr::WRITE;
            }
            let desc = self.tasks[caller].descriptor;
            if lease.len != 0 && !umem::lease_ok(desc, self.regions, lease.base, lease.len, needed) {
                return Err(Misuse(UsageError::BadLease));
            }
        }

        if target == TaskId::KERNEL {
            return kipc::handle(self, caller, (s.r4 >> 16) as u16);
        }
        let t = self.task_index(target)?;
        if self.tasks[t].generation != target.generation() {
            let code = self.tasks[t].dead_code();
            let c = &mut self.tasks[caller].save;
            c.set_ret(0, code);
            c.set_ret(1, 0);
            return Ok(());
        }
        // The deadlock-freedom rule: messages only travel up the priority
        // order. The build checks task-slots; this catches forged ids.
        if self.tasks[t].priority >= self.tasks[caller].priority {
            return Err(Misuse(UsageError::PriorityInversion));
        }
        self.set_sched(caller, SchedState::InSend(target));
        if let TaskState::Healthy(SchedState::InRecv(from)) = self.tasks[t].state {
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
        let s = self.tasks[sender].save.regs();
        let sender_id = self.tasks[sender].id();
        let receiver_id = self.tasks[receiver].id();
        let r = &mut self.tasks[receiver];
        let (buf_ptr, buf_len) = (r.save.r4, r.save.r5);
        let n = s.r6.min(buf_len);
        // Safety: the sender's message range was checked readable by the
        // sender at send time, the receiver's buffer checked writable by the
        // receiver at recv time; `n` is within both. They are different
        // tasks' memory, but `copy` would tolerate overlap anyway.
        unsafe { arch::copy_user(s.r5, buf_ptr, n) };
        r.save.set_ret(0, 0);
        r.save.set_ret(1, sender_id.0 as u32);
        r.save.set_ret(2, s.r4 >> 16);
        r.save.set_ret(3, s.r6);
        r.save.set_ret(4, s.r8);
        r.save.set_ret(5, s.r10);
        self.set_sched(receiver, SchedState::Runnable);
        self.note_woken(receiver);
        self.set_sched(sender, SchedState::InReply(receiver_id));
    }

    fn sys_recv(&mut self, caller: usize) -> SysResult {
        let s = self.tasks[caller].save.regs();
        let (buf_ptr, buf_len, mask, from_raw, rearm) = (s.r4, s.r5, s.r6, s.r7, s.r8);
        self.check_slice(caller, buf_ptr, buf_len, region_attr::WRITE)?;
        // r8: the caller's IRQs (by notification bit) to unmask before
        // waiting, as `irq_control(r8, true)` would: the interrupt handled,
        // the device acknowledged, wait for the next one.
        if rearm != 0 {
            self.irq_control(caller, rearm, true)?;
        }
        let from = if from_raw & (1 << 31) != 0 {
            let id = TaskId(from_raw as u16);
            if id != TaskId::KERNEL {
                let i = self.task_index(id)?;
                if self.tasks[i].generation != id.generation() {
                    let code = self.tasks[i].dead_code();
                    self.tasks[caller].save.set_ret(0, code);
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
            for i in self.sending.iter() {
                let t = &self.tasks[i];
                let waiting = matches!(t.state, TaskState::Healthy(SchedState::InSend(p)) if p == me);
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
        let waiting = matches!(t.state, TaskState::Healthy(SchedState::InReply(r)) if r == me);
        Ok((t.generation == peer.generation() && waiting).then_some(p))
    }

    fn sys_reply(&mut self, caller: usize) -> SysResult {
        let s = self.tasks[caller].save.regs();
        self.reply(caller, TaskId(s.r4 as u16), s.r5, s.r6, s.r7)
    }

    /// Answers `peer` with `code` and the caller's `len` bytes at `ptr`.
    fn reply(&mut self, caller: usize, peer: TaskId, code: u32, ptr: u32, len: u32) -> SysResult {
        self.check_slice(caller, ptr, len, region_attr::READ)?;
        let Some(p) = self.waiting_peer(caller, peer)? else {
            return Ok(());
        };
        let capacity = self.tasks[p].save.r8;
        if len > capacity {
            // The client lent too small a reply buffer: its fault, not the
            // server's.
            let server = self.tasks[caller].id();
            let reason = ReplyFaultReason::ReplyBufferTooSmall as u32;
            self.fault_task(p, FaultInfo::FromServer { server, reason });
            return Ok(());
        }
        let t = &mut self.tasks[p];
        // Safety: `ptr..ptr+len` checked readable by the caller above; the
        // peer's reply buffer (r7, capacity r8) was checked writable at its
        // send, and `len <= capacity`.
        unsafe { arch::copy_user(ptr, t.save.r7, len) };
        t.save.set_ret(0, code);
        t.save.set_ret(1, len);
        self.set_sched(p, SchedState::Runnable);
        self.note_woken(p);
        Ok(())
    }

    /// An open `recv` with the buffer and mask in r4..r6, where `recv`
    /// takes them and a blocked receiver keeps them, after a `reply` to
    /// r7 with code r8 and the message at r9 (length r10). The reply's
    /// registers are then cleared as an open `recv` that re-enables no IRQ
    /// wants r7 and r8.
    fn sys_reply_recv(&mut self, caller: usize) -> SysResult {
        let s = self.tasks[caller].save.regs();
        self.reply(caller, TaskId(s.r7 as u16), s.r8, s.r9, s.r10)?;
        if !self.runnable.contains(caller) {
            // The reply faulted the caller; nothing to receive.
            return Ok(());
        }
        let s = &mut self.tasks[caller].save;
        (s.r7, s.r8) = (0, 0);
        self.sys_recv(caller)
    }

    fn sys_reply_fault(&mut self, caller: usize) -> SysResult {
        let s = self.tasks[caller].save.regs();
        let (peer, reason) = (TaskId(s.r4 as u16), s.r5);
        if ReplyFaultReason::from_u32(reason).is_none() {
            return Err(Misuse(UsageError::BadReplyFaultReason));
        }
        if let Some(p) = self.waiting_peer(caller, peer)? {
            let server = self.tasks[caller].id();
            self.fault_task(p, FaultInfo::FromServer { server, reason });
        }
        Ok(())
    }

    fn sys_borrow(&mut self, caller: usize, kind: Borrow) -> SysResult {
        let s = self.tasks[caller].save.regs();
        let (lender, index, offset, ptr, len) = (TaskId(s.r4 as u16), s.r5, s.r6, s.r7, s.r8);
        match kind {
            Borrow::Read => self.check_slice(caller, ptr, len, region_attr::WRITE)?,
            Borrow::Write => self.check_slice(caller, ptr, len, region_attr::READ)?,
            Borrow::Info => {}
        }
        let Some(l) = self.waiting_peer(caller, lender)? else {
            let code = self.tasks[lender.index()].dead_code();
            self.tasks[caller].save.set_ret(0, code);
            return Ok(());
        };
        let ls = self.tasks[l].save.regs();
        if index >= ls.r10 {
            self.tasks[caller].save.set_ret(0, BORROW_BAD_LEASE);
            return Ok(());
        }
        let lease = read_lease(ls.r9, index);
        let ret = &mut self.tasks[caller].save;
        let needed = match kind {
            Borrow::Read => LEASE_READ,
            Borrow::Write => LEASE_WRITE,
            Borrow::Info => 0,
        };
        if lease.attributes & needed != needed || offset > lease.len {
            ret.set_ret(0, BORROW_BAD_LEASE);
            return Ok(());
        }
        let n = len.min(lease.len - offset);
        match kind {
            // Safety (both copies): the lease range was checked against the
            // lender's regions with this access at send time, and the lender
            // is still blocked in that send; `offset + n <= lease.len`. The
            // caller's buffer was checked above.
            Borrow::Read => unsafe { arch::copy_user(lease.base + offset, ptr, n) },
            Borrow::Write => unsafe { arch::copy_user(ptr, lease.base + offset, n) },
            Borrow::Info => {
                ret.set_ret(0, 0);
                ret.set_ret(1, lease.attributes);
                ret.set_ret(2, lease.len);
                return Ok(());
            }
        }
        ret.set_ret(0, 0);
        ret.set_ret(1, n);
        Ok(())
    }

    fn sys_irq_control(&mut self, caller: usize) -> SysResult {
        let s = self.tasks[caller].save.regs();
        self.irq_control(caller, s.r4, s.r5 != 0)
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
        for irq in irq::irqs_for_task(self.irqs, caller, mask) {
            any = true;
            if enable {
                arch::irq_enable(irq);
            } else {
                arch::irq_disable(irq);
            }
        }
        any
    }

    fn sys_post(&mut self, caller: usize) -> SysResult {
        let s = self.tasks[caller].save.regs();
        let (target, bits) = (TaskId(s.r4 as u16), s.r5);
        let t = self.task_index(target)?;
        let code = if self.tasks[t].generation != target.generation() {
            self.tasks[t].dead_code()
        } else {
            self.post(t, bits);
            0
        };
        self.tasks[caller].save.set_ret(0, code);
        Ok(())
    }

    fn sys_refresh_task_id(&mut self, caller: usize) -> SysResult {
        let id = TaskId(self.tasks[caller].save.r4 as u16);
        let t = self.task_index(id)?;
        let fresh = self.tasks[t].id();
        self.tasks[caller].save.set_ret(0, fresh.0 as u32);
        Ok(())
    }

    fn sys_panic(&mut self, caller: usize) {
        let s = self.tasks[caller].save.regs();
        let len = s.r5.min(128);
        if self.check_slice(caller, s.r4, len, region_attr::READ).is_ok() {
            let mut buf = [0u8; 128];
            // Safety: range checked readable by the caller just above.
            unsafe { arch::copy_user(s.r4, buf.as_mut_ptr() as u32, len) };
            let msg = core::str::from_utf8(&buf[..len as usize]).unwrap_or("(message not UTF-8)");
            crate::klog!(self, "kern: task #{} {} panicked: {}", caller, self.name(caller), msg);
        }
        self.fault_task(caller, FaultInfo::Panic);
    }
}

#[derive(Copy, Clone)]
enum Borrow {
    Read,
    Write,
    Info,
}

/// Reads lease `n` of a lease table at `table` in a task's memory.
fn read_lease(table: u32, n: u32) -> ULease {
    let mut raw = [0u8; LEASE_BYTES as usize];
    // Safety: callers pass a table whose `count * LEASE_BYTES` bytes were
    // checked readable by its owner, and `n < count`.
    unsafe { arch::copy_user(table + n * LEASE_BYTES, raw.as_mut_ptr() as u32, LEASE_BYTES) };
    let w = |i: usize| u32::from_le_bytes([raw[i], raw[i + 1], raw[i + 2], raw[i + 3]]);
    ULease { attributes: w(0), base: w(4), len: w(8) }
}
