//! The IPC fast paths: the two syscalls of every client/server exchange,
//! done with only the checks their common case needs.
//!
//! - `send` to a task of higher priority that is already waiting in `recv`
//!   for it, with no leases: the message is copied and the receiver runs
//!   at once (it outranks the sender, which was the best runnable task).
//! - `reply_recv` to a client waiting for the reply, when nothing is
//!   queued for the server (no notification in its mask, no sender): the
//!   reply is copied, the server blocks in an open `recv`, and the best
//!   runnable task runs.
//! - an open `recv` with no sender queued: it completes at once with
//!   pending notification bits, or blocks and the best runnable task runs.
//! - `post` to a live task, and `irq_control` of the caller's own IRQs:
//!   the syscalls of an interrupt-driven server's tick.
//!
//! Each fast path decides before it changes anything. Whatever it does not
//! handle (kernel IPC, leases, a receiver that is not waiting, a dead or
//! stale peer, any misuse, a pending notification, a queued sender) is left
//! untouched to the general path in `syscalls`, which produces the same
//! results and the same faults. So the fast paths change the cost of a
//! syscall, never its meaning: a host test replays random scenarios through
//! both and compares every outcome, and the QEMU system tests run both.

use crate::descs::region_attr;
use crate::task::{SchedState, Task, TaskState};
use crate::{arch, sched, Kernel};
use abi::{Sysnum, TaskId};

impl Kernel {
    /// Completes the current task's syscall if a fast path applies, leaving
    /// `self.current` on the task to resume and returning a pointer to it;
    /// null (with nothing changed) if the general path must run.
    #[inline(always)]
    pub(crate) fn try_fastpath(&mut self, caller: usize) -> *mut Task {
        let nr = self.tasks[caller].save.syscall_number();
        // Plain comparisons, IPC first: a jump table costs the round trip
        // more than it saves the others.
        if nr == Sysnum::Send as u32 {
            self.fast_send(caller)
        } else if nr == Sysnum::ReplyRecv as u32 {
            self.fast_reply_recv(caller)
        } else if nr == Sysnum::Recv as u32 {
            self.fast_recv(caller, None)
        } else if nr == Sysnum::PostRecv as u32 {
            self.fast_post_recv(caller)
        } else if nr == Sysnum::Post as u32 {
            self.fast_post(caller)
        } else if nr == Sysnum::IrqControl as u32 {
            self.fast_irq_control(caller)
        } else {
            core::ptr::null_mut()
        }
    }

    /// Task `i`'s record, for a fast path's result.
    ///
    /// # Safety
    /// `i < self.tasks.len()`, checked by the caller (so no second bounds
    /// check after the commit's stores, which the compiler cannot see
    /// past).
    #[inline(always)]
    unsafe fn task_ptr(&mut self, i: usize) -> *mut Task {
        debug_assert!(i < self.tasks.len());
        // Safety: in bounds per the contract.
        unsafe { self.tasks.as_mut_ptr().add(i) }
    }

    /// True if a task in `sending` waits to send to `me`. A plain loop
    /// over the set's bits: usually the set is empty.
    #[inline(always)]
    fn sender_queued(&self, me: TaskId) -> bool {
        let mut bits = self.tasks.sending().0;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if matches!(*self.tasks[i].state(), TaskState::Healthy(SchedState::InSend(to)) if to == me) {
                return true;
            }
        }
        false
    }

    /// True if `len` bytes at `base` are accessible to task `i` with
    /// `needed`; empty ranges need no check on the fast paths (the general
    /// path also accepts them). The task's first region (its RAM, known at
    /// boot to be plain read-write memory, so any `needed` is granted) is
    /// tried inline: nearly every IPC buffer is there.
    #[inline(always)]
    fn fast_slice_ok(&self, i: usize, base: u32, len: u32, needed: u32) -> bool {
        let t = &self.tasks[i];
        len == 0 || t.first_region.holds(base, len) || t.can_access(self.regions, base, len, needed)
    }

    #[inline(always)]
    fn fast_send(&mut self, caller: usize) -> *mut Task {
        let a = self.tasks[caller].save.send_args();
        let (out_ptr, out_len, in_ptr, in_len) = (a.message.base, a.message.len, a.reply.base, a.reply.len);
        let target = a.target;
        let t = target.index();
        // Out of range includes TaskId::KERNEL: kernel IPC is slow-path.
        if a.leases.len != 0 || t >= self.tasks.len() {
            return core::ptr::null_mut();
        }
        let (rt, ct) = (&self.tasks[t], &self.tasks[caller]);
        let caller_id = ct.id;
        let from = match *rt.state() {
            TaskState::Healthy(SchedState::InRecv(from)) => from,
            _ => return core::ptr::null_mut(),
        };
        if rt.id != target
            || rt.priority >= ct.priority
            || from.is_some_and(|f| f != caller_id)
            || !self.fast_slice_ok(caller, out_ptr, out_len, region_attr::READ)
            || !self.fast_slice_ok(caller, in_ptr, in_len, region_attr::WRITE)
        {
            return core::ptr::null_mut();
        }

        // Commit: as `deliver`, then the receiver runs.
        let r = &mut self.tasks[t].save;
        let buffer = r.recv_args().buffer;
        let n = out_len.min(buffer.len);
        // Safety: the message was checked readable by the sender just now;
        // the receiver's buffer was checked writable by it when it entered
        // `recv`, and `n` is within both.
        unsafe { arch::copy_user(out_ptr, buffer.base, n) };
        r.set_recv_message(caller_id, a.operation as u32, out_len, in_len, 0);
        // Known transitions: receiver InRecv -> Runnable, caller Runnable
        // -> InReply.
        // Safety: `t` checked in bounds first; `caller` is the current task.
        unsafe { self.tasks.wake_and_block(t, caller, SchedState::InReply(target)) };
        self.current = t;
        self.woken = None;
        // Safety: `t < self.tasks.len()`, checked first.
        unsafe { self.task_ptr(t) }
    }

    #[inline(always)]
    fn fast_reply_recv(&mut self, caller: usize) -> *mut Task {
        let s = &self.tasks[caller].save;
        let (recv, reply) = (s.recv_args(), s.reply_recv_args());
        let (buf, buf_len, mask) = (recv.buffer.base, recv.buffer.len, recv.mask);
        let (peer, code, ptr, len) = (reply.peer, reply.code, reply.message.base, reply.message.len);
        let p = peer.index();
        if p >= self.tasks.len() {
            return core::ptr::null_mut();
        }
        let (pt, ct) = (&self.tasks[p], &self.tasks[caller]);
        let me = ct.id;
        let waiting = matches!(*pt.state(), TaskState::Healthy(SchedState::InReply(r)) if r == me);
        if !waiting
            || pt.id != peer
            || len > pt.save.send_args().reply.len
            || ct.notifications & mask != 0
            || !self.fast_slice_ok(caller, ptr, len, region_attr::READ)
            || !self.fast_slice_ok(caller, buf, buf_len, region_attr::WRITE)
        {
            return core::ptr::null_mut();
        }
        // A sender queued for the caller makes the receive complete at
        // once: the general path handles that.
        if self.sender_queued(me) {
            return core::ptr::null_mut();
        }

        // Commit: the reply as `reply` in `syscalls`, the caller blocked as an
        // open `recv` leaves it (buffer, length and mask already where `recv`
        // keeps them; the reply half retired as `sys_reply_recv` retires
        // it), then the best runnable task.
        let pr = &mut self.tasks[p].save;
        let into = pr.send_args().reply.base;
        // Safety: the reply was checked readable by the caller just now; the
        // peer's reply buffer was checked writable at its send, and `len`
        // is within its capacity.
        unsafe { arch::copy_user(ptr, into, len) };
        pr.set_send_result(code, len);
        // Known transitions: peer InReply -> Runnable, caller Runnable ->
        // InRecv.
        self.tasks[caller].save.retire_reply();
        // Safety: `p` checked in bounds first; `caller` is the current task.
        unsafe { self.tasks.wake_and_block(p, caller, SchedState::InRecv(None)) };
        // Usually the client is the only runnable task as good as itself:
        // it runs, with no scan. Otherwise the full choice (the peer is
        // runnable, so one always exists).
        let best = self.at_or_above.get(self.tasks[p].priority.0 as usize).map_or(u32::MAX, |m| m.0);
        self.woken = None;
        if self.tasks.runnable().0 & best == 1 << p {
            self.current = p;
            // Safety: `p < self.tasks.len()`, checked first.
            return unsafe { self.task_ptr(p) };
        }
        let tasks = &*self.tasks;
        self.current = sched::select(self.tasks.runnable(), caller, |i| tasks[i].priority.0).unwrap_or(p);
        &mut self.tasks[self.current]
    }

    /// `post_recv` whose post goes to a current task that does not outrank
    /// the caller (an interrupt-driven server posting its client), then
    /// as [`Kernel::fast_recv`]; the post is made only once nothing can
    /// make the fast path decline. Out of line: inlined, its copy of the
    /// receive made every other syscall's entry spill registers (`cargo
    /// xtask bench`: +14 instructions a crossing, null IPC 284 -> 312).
    #[inline(never)]
    fn fast_post_recv(&mut self, caller: usize) -> *mut Task {
        let (target, bits) = self.tasks[caller].save.post_recv_post();
        let target = TaskId(target as u16);
        let t = target.index();
        if t >= self.tasks.len() || self.tasks[t].id != target || self.tasks[t].priority < self.tasks[caller].priority {
            return core::ptr::null_mut();
        }
        self.fast_recv(caller, Some((t, bits)))
    }

    /// An open `recv` (not closed to one sender; perhaps re-enabling some
    /// of the caller's IRQs first) that no queued sender completes; with
    /// `post`, `post_recv`'s post (checked by the caller) is made first.
    #[inline(always)]
    fn fast_recv(&mut self, caller: usize, post: Option<(usize, u32)>) -> *mut Task {
        let a = self.tasks[caller].save.recv_args();
        let (buf, buf_len, mask, from_raw, rearm) = (a.buffer.base, a.buffer.len, a.mask, a.from, a.rearm);
        let me = self.tasks[caller].id;
        if from_raw & (1 << 31) != 0
            || !self.fast_slice_ok(caller, buf, buf_len, region_attr::WRITE)
            || self.sender_queued(me)
            || rearm != 0 && !self.set_irqs(caller, rearm, true)
        {
            return core::ptr::null_mut();
        }
        if let Some((t, bits)) = post {
            // It cannot preempt the caller: `t` does not outrank it.
            self.post(t, bits);
            self.tasks[caller].save.set_post_result(0);
        }
        let pending = self.tasks[caller].notifications & mask;
        if pending != 0 {
            // Completes at once; the caller keeps the CPU.
            self.tasks[caller].notifications &= !pending;
            self.deliver_notification(caller, pending);
            return &mut self.tasks[caller];
        }
        self.set_sched(caller, SchedState::InRecv(None));
        // The task an interrupt preempted, if it alone is runnable at its
        // priority or better, runs: no scan.
        let c = self.resume;
        if c < self.tasks.len() {
            let best = self.at_or_above.get(self.tasks[c].priority.0 as usize).map_or(u32::MAX, |m| m.0);
            if self.tasks.runnable().0 & best == 1 << c {
                self.current = c;
                self.woken = None;
                // Safety: `c < self.tasks.len()`, checked just now.
                return unsafe { self.task_ptr(c) };
            }
        }
        let tasks = &*self.tasks;
        match sched::select(self.tasks.runnable(), caller, |i| tasks[i].priority.0) {
            Some(n) => self.current = n,
            None => self.panic(format_args!("no runnable task (idle must never block)")),
        }
        self.woken = None;
        &mut self.tasks[self.current]
    }

    /// `post` to a task of the current generation; the target runs at once if it woke and outranks the
    /// caller.
    #[inline(always)]
    fn fast_post(&mut self, caller: usize) -> *mut Task {
        let (target, bits) = self.tasks[caller].save.two_args();
        let target = TaskId(target as u16);
        let t = target.index();
        if t >= self.tasks.len() || self.tasks[t].id != target {
            return core::ptr::null_mut();
        }
        self.tasks[caller].save.set_result(0);
        if self.post(t, bits) && self.tasks[t].priority < self.tasks[caller].priority {
            self.current = t;
        }
        self.woken = None;
        &mut self.tasks[self.current]
    }

    /// `irq_control` naming at least one of the caller's IRQs.
    #[inline(never)]
    fn fast_irq_control(&mut self, caller: usize) -> *mut Task {
        let (mask, enable) = self.tasks[caller].save.two_args();
        if !self.set_irqs(caller, mask, enable != 0) {
            return core::ptr::null_mut();
        }
        &mut self.tasks[caller]
    }
}

#[cfg(test)]
mod tests {
    use crate::descs::IrqEntry;
    use crate::task::{SavedState, SchedState, TaskState};
    use crate::taskset::TaskSet;
    use crate::Kernel;
    use abi::{Generation, Sysnum, TaskId};

    /// Everything a syscall may change.
    #[derive(Debug, PartialEq)]
    struct Snapshot {
        tasks: Vec<(TaskState, [u32; 8], u8, u32)>,
        current: usize,
        runnable: TaskSet,
        sending: TaskSet,
    }

    fn snapshot(k: &Kernel) -> Snapshot {
        Snapshot {
            tasks: k
                .tasks
                .iter()
                .map(|t| (*t.state(), t.save.words(), t.generation.get(), t.notifications))
                .collect(),
            current: k.current,
            runnable: k.tasks.runnable(),
            sending: k.tasks.sending(),
        }
    }

    /// A tiny deterministic generator (xorshift32) for the scenarios.
    struct Rng(u32);
    impl Rng {
        fn next(&mut self) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 17;
            self.0 ^= self.0 << 5;
            self.0
        }
        fn below(&mut self, n: u32) -> u32 {
            self.next() % n
        }
    }

    const PRIOS: [u8; 7] = [0, 1, 2, 3, 3, 4, 5];

    /// A buffer length: 0 seven times in eight, else 8.
    fn some_len(rng: &mut Rng) -> u32 {
        if rng.below(8) == 0 { 8 } else { 0 }
    }

    /// Puts `k` in a random state where `caller` runs (no runnable task
    /// outranks it) and has issued a random fast-path candidate (send,
    /// reply_recv, recv, post, irq_control), mostly with empty buffers.
    /// Sometimes one buffer is not empty: the test kernel's tasks own no
    /// memory, so the general path faults the caller, and a fast path that
    /// checked the wrong register (an empty one) would take the call and
    /// differ.
    fn scenario(k: &mut Kernel, rng: &mut Rng) -> usize {
        let n = k.tasks.len();
        // Not the supervisor (its faults halt) nor idle (never blocks).
        let caller = 1 + rng.below(n as u32 - 2) as usize;
        let id = |rng: &mut Rng, k: &Kernel| {
            let i = rng.below(n as u32 + 1) as usize % n;
            // Mostly the current generation, sometimes a stale one.
            let g = if rng.below(4) == 0 { Generation::new(rng.below(4) as u8) } else { k.tasks[i].generation };
            TaskId::for_index_and_gen(i, g)
        };
        for i in 0..n {
            k.tasks[i].set_generation(Generation::new(rng.below(3) as u8));
        }
        for i in 0..n {
            let peer = id(rng, k);
            let s = match rng.below(6) {
                0 => SchedState::Runnable,
                1 => SchedState::InRecv(None),
                2 => SchedState::InRecv(Some(peer)),
                3 => SchedState::InSend(peer),
                4 => SchedState::InReply(peer),
                _ => SchedState::Stopped,
            };
            // Nothing runnable may outrank the running caller.
            let s = if s == SchedState::Runnable && PRIOS[i] < PRIOS[caller] { SchedState::Stopped } else { s };
            k.set_sched(i, s);
            k.tasks[i].notifications = if rng.below(4) == 0 { 1 << rng.below(3) } else { 0 };
            // A blocked receiver keeps an empty buffer and a mask.
            k.tasks[i].save = SavedState::default();
            k.tasks[i].save.set_call(0, &[0x2000_0000, 0, rng.below(8)]);
        }
        k.set_sched(n - 1, SchedState::Runnable);
        k.set_sched(caller, SchedState::Runnable);
        k.current = caller;
        // The interrupt hint `fast_recv` may use: any task, or none.
        k.resume = rng.below(n as u32 + 2) as usize;
        let target = id(rng, k);
        match rng.below(5) {
            0 => {
                let r4 = target.0 as u32 | rng.below(4) << 16;
                let (r5, r6, r7, r8, r9) = (0x2000_0100, some_len(rng), 0x2000_0200, some_len(rng), 0x2000_0300);
                let r10 = (rng.below(4) == 0) as u32;
                k.tasks[caller].save.set_call(Sysnum::Send as u32, &[r4, r5, r6, r7, r8, r9, r10]);
            }
            1 => {
                // Half the time, answer a client that really waits for us.
                let target = if rng.below(2) == 0 {
                    let p = (caller + 1 + rng.below(n as u32 - 1) as usize) % n;
                    let me = TaskId::for_index_and_gen(caller, k.tasks[caller].generation);
                    k.set_sched(p, SchedState::InReply(me));
                    TaskId::for_index_and_gen(p, k.tasks[p].generation)
                } else {
                    target
                };
                let (r4, r5, r6) = (0x2000_0200, some_len(rng), rng.below(8));
                let (r7, r8, r9, r10) = (target.0 as u32, rng.below(3), 0x2000_0100, some_len(rng));
                k.tasks[caller].save.set_call(Sysnum::ReplyRecv as u32, &[r4, r5, r6, r7, r8, r9, r10]);
            }
            2 => {
                let (r4, r5, r6) = (0x2000_0200, some_len(rng), rng.below(8));
                // Sometimes re-enabling IRQs (owned by tasks 2 and 4) first.
                let r8 = if rng.below(4) == 0 { rng.below(8) } else { 0 };
                // Open mostly; sometimes closed to one sender or the kernel.
                let r7 = match rng.below(4) {
                    0 => 1 << 31 | target.0 as u32,
                    1 => 1 << 31 | TaskId::KERNEL.0 as u32,
                    _ => 0,
                };
                if rng.below(3) == 0 {
                    // post_recv: posting some task, stale or current, any
                    // priority (the caller's own index included).
                    let (r9, r10) = (target.0 as u32, 1 << rng.below(3));
                    k.tasks[caller].save.set_call(Sysnum::PostRecv as u32, &[r4, r5, r6, r7, r8, r9, r10]);
                } else {
                    k.tasks[caller].save.set_call(Sysnum::Recv as u32, &[r4, r5, r6, r7, r8]);
                }
            }
            3 => {
                let (mut r4, r5) = (target.0 as u32, 1 << rng.below(3));
                if rng.below(8) == 0 {
                    r4 = TaskId::KERNEL.0 as u32;
                }
                k.tasks[caller].save.set_call(Sysnum::Post as u32, &[r4, r5]);
            }
            _ => {
                let (r4, r5) = (rng.below(8), rng.below(2));
                k.tasks[caller].save.set_call(Sysnum::IrqControl as u32, &[r4, r5]);
            }
        }
        caller
    }

    /// A receive that names IRQ bits the caller does not own is misuse:
    /// the fast path declines and the general path faults the caller,
    /// whose IRQs stay as they were.
    #[test]
    fn recv_rearming_an_unowned_irq_faults() {
        let mut k = crate::tests::kernel(&PRIOS);
        k.irqs = crate::irq::IrqRoutes::from_entries(&[IrqEntry { irq: 5, task: 2, mask: 1 }], k.tasks.len());
        k.current = 3;
        k.tasks[3].save.set_call(Sysnum::Recv as u32, &[0x2000_0200, 0, 1, 0, 1]);
        assert!(k.try_fastpath(3).is_null());
        k.syscall_general(3);
        let fault = crate::task::FaultInfo::SyscallUsage(abi::UsageError::NoIrq);
        assert!(matches!(*k.tasks[3].state(), TaskState::Faulted { fault: f, .. } if f == fault));
        // The owner may: it blocks in the receive.
        k.current = 2;
        k.tasks[2].save.set_call(Sysnum::Recv as u32, &[0x2000_0200, 0, 1, 0, 1]);
        assert_eq!(k.try_fastpath(2), &mut k.tasks[k.current] as *mut _);
        assert_eq!(*k.tasks[2].state(), TaskState::Healthy(SchedState::InRecv(None)));
    }

    /// Whenever a fast path takes a syscall, the outcome is exactly the
    /// general path's; and the fast paths do take the common cases.
    #[test]
    fn fast_paths_agree_with_the_general_path() {
        let mut k = crate::tests::kernel(&PRIOS);
        k.irqs = crate::irq::IrqRoutes::from_entries(
            &[IrqEntry { irq: 5, task: 2, mask: 1 }, IrqEntry { irq: 9, task: 4, mask: 6 }],
            k.tasks.len(),
        );
        let mut rng = Rng(0x1234_5678);
        let mut taken = [0u32; 13];
        let mut declined = 0;
        for _ in 0..50_000 {
            let caller = scenario(&mut k, &mut rng);
            let before = snapshot(&k);
            let nr = k.tasks[caller].save.syscall_number();
            let next = k.try_fastpath(caller);
            if next.is_null() {
                assert_eq!(snapshot(&k), before, "a declining fast path changed state");
                declined += 1;
                continue;
            }
            assert_eq!(next, &mut k.tasks[k.current] as *mut _, "the fast path returned another task than current");
            let fast = snapshot(&k);
            // Replay on the general path from the same state.
            for (t, (_, r, g, notes)) in k.tasks.iter_mut().zip(&before.tasks) {
                t.save.set_call(r[7], &r[..7]);
                t.set_generation(Generation::new(*g));
                t.notifications = *notes;
            }
            let states: Vec<TaskState> = before.tasks.iter().map(|t| t.0).collect();
            k.tasks.restore(&states, before.runnable, before.sending);
            k.current = before.current;
            k.syscall_general(caller);
            assert_eq!(snapshot(&k), fast, "fast and general paths differ from {before:?}");
            taken[nr as usize] += 1;
        }
        for nr in [Sysnum::Send, Sysnum::ReplyRecv, Sysnum::Recv, Sysnum::PostRecv, Sysnum::Post, Sysnum::IrqControl] {
            assert!(taken[nr as usize] > 300, "{nr:?} took the fast path only {} times", taken[nr as usize]);
        }
        assert!(declined > 5000, "{declined}");
    }
}
