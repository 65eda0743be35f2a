//! The Escapement kernel: separate tasks, MPU isolation, synchronous IPC.
//!
//! The portable core (task records, scheduling choice, memory checks, IRQ
//! routing, syscalls and kernel IPC) is written against plain data and is
//! unit-tested on the host where it is pure; the ARMv7-M specifics
//! (exception entry, context switch, MPU, NVIC, fault status registers)
//! live in [`arch`]. The kernel has no heap and keeps no time: time is the
//! timer server's job; the kernel only routes interrupts.
//!
//! Data path of an interrupt: the NVIC vectors to `arch`'s IRQ handler,
//! which masks the IRQ and calls [`Kernel::handle_irq`], which posts the
//! owner's notification bits (and makes it current if it outranks the
//! interrupted task); the owner re-enables with `irq_control` or its next
//! receive.

#![cfg_attr(not(test), no_std)]

pub mod arch;
pub mod descs;
mod err;
pub mod faults;
mod fastpath;
pub mod irq;
pub mod klog;
mod kipc;
pub mod sched;
pub mod startup;
mod syscalls;
pub mod task;
pub mod taskset;
pub mod umem;

use abi::{TaskId, SUPERVISOR_FAULT_MASK};
use descs::{region_attr, RegionDesc};
use task::{FaultInfo, SchedState, Task, TaskState, TaskTable};
use taskset::TaskSet;

/// The kernel's clock, in ticks, where Hubris's kernel keeps one (humility
/// reads `TICKS` for its "system time"). Escapement's kernel keeps no
/// time (time is the timer server's): this is always 0, which is true.
#[no_mangle]
#[used]
pub static TICKS: u64 = 0;

/// Index of the supervisor task, which is told of every fault.
pub const SUPERVISOR: usize = 0;

/// All kernel state. One instance exists, built by [`startup::start_kernel`]
/// and reached by the exception handlers through `arch`.
pub struct Kernel {
    /// The tasks, with the runnable and sending sets kept in step with
    /// their states (see [`TaskTable`]).
    pub tasks: TaskTable,
    pub regions: &'static [RegionDesc],
    /// Who owns which interrupt (build-generated tables).
    pub irqs: irq::IrqRoutes,
    pub names: &'static [&'static str],
    pub image_id: u64,
    /// The board's synchronous console (polled USART writes).
    pub klog: klog::Sink,
    /// The task that prints the kernel log, if the image names one.
    pub log_reader: Option<klog::LogReader>,
    /// Index of the task that owns the CPU.
    pub current: usize,
    /// The highest-priority task a syscall in progress made runnable, if
    /// any: after the syscall it is the next task without a full scan
    /// when it outranks the caller (see [`Kernel::after_syscall`]).
    pub woken: Option<usize>,
    /// For each priority `q`, the tasks whose priority is `q` or better
    /// (fixed at boot): a woken task `p` is the only choice when
    /// `runnable & at_or_above[prio(p)]` is `p` alone, without a scan.
    pub at_or_above: [TaskSet; 32],
    /// The task an interrupt last switched away from: the cheap candidate
    /// when the task it woke blocks again (checked, so a stale one only
    /// costs the full scan).
    pub resume: usize,
}

impl Kernel {
    /// Task `i`'s name for console messages.
    pub fn name(&self, i: usize) -> &'static str {
        self.names.get(i).copied().unwrap_or("?")
    }

    /// Builds the kernel over boot-time task records (as [`Task::new`]
    /// leaves them). Panics if the image has more than
    /// [`taskset::MAX_TASKS`] tasks, which the build already refuses.
    pub fn new(
        tasks: &'static mut [Task],
        regions: &'static [RegionDesc],
        irqs: irq::IrqRoutes,
        names: &'static [&'static str],
        image_id: u64,
        klog: klog::Sink,
        log_reader: Option<klog::LogReader>,
    ) -> Self {
        assert!(tasks.len() <= taskset::MAX_TASKS && !tasks.is_empty());
        // The build generates the routing tables; a mismatch is a build
        // bug, caught here before any task runs.
        assert!(irqs.consistent(), "interrupt routing tables disagree");
        assert!(irqs.starts_len() == tasks.len() + 1, "interrupt routing tables disagree");
        let mut k = Kernel {
            tasks: TaskTable::new(tasks),
            regions,
            irqs,
            names,
            image_id,
            klog,
            log_reader,
            current: 0,
            woken: None,
            at_or_above: [TaskSet::EMPTY; 32],
            resume: usize::MAX,
        };
        for i in 0..k.tasks.len() {
            for q in (k.tasks[i].priority.0 as usize).min(32)..32 {
                k.at_or_above[q].insert(i);
            }
        }
        for i in 0..k.tasks.len() {
            let t = &mut k.tasks[i];
            let first = regions.get(t.descriptor.regions[0] as usize).copied().unwrap_or(RegionDesc::EMPTY);
            let rw = region_attr::READ | region_attr::WRITE;
            let plain_rw = first.attributes.bits() & (rw | region_attr::DEVICE) == rw;
            t.first_region = if plain_rw { first } else { RegionDesc::EMPTY };
            t.paint_stack();
        }
        k
    }

    /// Puts task `i` in healthy scheduling state `s` (see
    /// [`TaskTable::set_sched`]).
    #[inline(always)]
    pub(crate) fn set_sched(&mut self, i: usize, s: SchedState) {
        self.tasks.set_sched(i, s);
    }

    /// Chooses who runs next. The current task keeps the CPU unless it
    /// blocked or a task of strictly higher priority became runnable.
    pub fn reschedule(&mut self) {
        self.woken = None;
        let tasks = &*self.tasks;
        let cur = self.current;
        // Safety of indexing: the runnable set only holds valid indices.
        match sched::select(self.tasks.runnable(), cur, |i| tasks[i].priority.0) {
            Some(n) => {
                if !(self.tasks.runnable().contains(cur) && tasks[n].priority >= tasks[cur].priority) {
                    self.current = n;
                }
            }
            None => self.panic(format_args!("no runnable task (idle must never block)")),
        }
    }

    /// Records that task `i` became runnable (keeps the best priority).
    pub(crate) fn note_woken(&mut self, i: usize) {
        match self.woken {
            Some(w) if self.tasks[w].priority <= self.tasks[i].priority => {}
            _ => self.woken = Some(i),
        }
    }

    /// Picks the next task after a syscall by `self.current`, cheaply.
    ///
    /// When the caller entered the kernel it was the highest-priority
    /// runnable task (an interrupt that woke something better switched to
    /// it then, and interrupts are never taken inside the kernel). So: a
    /// woken task that outranks the caller runs next; if the caller
    /// blocked, a woken task of its priority runs; if the caller is still
    /// runnable and nothing better woke, it continues. Only a caller that
    /// blocked without waking anyone as good needs the full scan.
    pub fn after_syscall(&mut self) {
        let cur = self.current;
        let cur_prio = self.tasks[cur].priority;
        let cur_ok = self.tasks.runnable().contains(cur);
        match self.woken.take() {
            Some(i) if self.tasks[i].priority < cur_prio || (!cur_ok && self.tasks[i].priority == cur_prio) => {
                self.current = i;
            }
            _ if cur_ok => {}
            _ => self.reschedule(),
        }
    }

    /// Stops task `i` with `fault`, reports it, and tells the supervisor.
    /// A fault of the supervisor itself is unrecoverable: kernel panic.
    pub fn fault_task(&mut self, i: usize, fault: FaultInfo) {
        // Already faulted (e.g. a server reply-faults a dead client): keep
        // the first cause.
        if self.tasks.fault(i, fault).is_none() {
            return;
        }
        let t = &self.tasks[i];
        let (gen, n, shown) = (t.generation.get(), t.faults, t.fault_report_shown());
        if shown && n > 32 {
            klog!(self, "kern: task #{} {} gen {} faulted: {} (fault {}; reports after the 32nd: powers of two only)", i, self.name(i), gen, FaultDisplay(&fault, self), n);
        } else if shown {
            klog!(self, "kern: task #{} {} gen {} faulted: {}", i, self.name(i), gen, FaultDisplay(&fault, self));
        }
        if i == SUPERVISOR {
            self.panic(format_args!("supervisor faulted"));
        }
        self.post(SUPERVISOR, SUPERVISOR_FAULT_MASK);
    }

    /// ORs `bits` into task `i`'s notifications and wakes it if it waits
    /// for any of them. Returns true if the task became runnable. Inlined:
    /// it is the heart of interrupt delivery.
    #[inline(always)]
    pub fn post(&mut self, i: usize, bits: u32) -> bool {
        let woke = self.post_quiet(i, bits);
        if woke {
            self.note_woken(i);
        }
        woke
    }

    /// [`Kernel::post`] without the wake-up hint.
    #[inline(always)]
    pub fn post_quiet(&mut self, i: usize, bits: u32) -> bool {
        let t = &mut self.tasks[i];
        t.notifications |= bits;
        // A receive, open or closed, always accepts the notification bits in
        // its mask (kept in its saved state while it waits).
        if let TaskState::Healthy(SchedState::InRecv(_)) = *t.state() {
            let pending = t.notifications & t.save.recv_args().mask;
            if pending != 0 {
                t.notifications &= !pending;
                self.deliver_notification(i, pending);
                return true;
            }
        }
        false
    }

    /// Handles NVIC interrupt `irq` (already masked by `arch`): posts the
    /// owner's bits, and if that woke the owner and it outranks the
    /// current task, makes it current and returns true (a context switch
    /// is due). No scan is needed: the current task was the best runnable
    /// one at the last scheduling decision and only interrupts ran since
    /// (each one that switched left its owner current), so an owner that
    /// outranks it is now the best of all.
    pub fn handle_irq(&mut self, irq: u32) -> bool {
        match self.irqs.lookup(irq) {
            Some(e) => {
                let (task, mask) = (e.task as usize, e.mask);
                // The current task was the best runnable one, and only
                // interrupts ran since: a woken owner that outranks it is
                // now the best of all (no hint, no scan).
                if self.post_quiet(task, mask) && self.tasks[task].priority < self.tasks[self.current].priority {
                    self.resume = self.current;
                    self.current = task;
                    self.woken = None;
                    true
                } else {
                    false
                }
            }
            // Not routed (cannot happen: only routed IRQs are enabled).
            None => false,
        }
    }

    /// Restarts task `i` with a new generation: registers reset, pending
    /// notifications and interrupts cleared, and every task blocked on it
    /// (sending, awaiting its reply, or in a closed receive from it) woken
    /// with a dead code carrying the new generation.
    pub fn restart_task(&mut self, i: usize, start: bool) {
        self.tasks.restart(i, start);
        if start {
            self.note_woken(i);
        }
        for irq in self.irqs.irqs_for_task(i, u32::MAX) {
            arch::irq_disable(irq);
        }
        let code = self.tasks[i].dead_code();
        for j in 0..self.tasks.len() {
            let t = &mut self.tasks[j];
            if j == i {
                continue;
            }
            let blocked_on_i = match *t.state() {
                TaskState::Healthy(SchedState::InSend(p))
                | TaskState::Healthy(SchedState::InReply(p))
                | TaskState::Healthy(SchedState::InRecv(Some(p))) => p.index() == i && p != TaskId::KERNEL,
                _ => false,
            };
            if blocked_on_i {
                t.save.set_send_result(code, 0);
                self.set_sched(j, SchedState::Runnable);
                self.note_woken(j);
            }
        }
        let gen = self.tasks[i].generation.get();
        if self.tasks[i].fault_report_shown() {
            klog!(self, "kern: task #{} {} restarted, gen {}", i, self.name(i), gen);
        }
    }

    /// Reports one kernel line. With a healthy log reader it is queued
    /// (or dropped, counted, if the log is full) and the reader is posted
    /// its bit; otherwise everything still queued, then this line, is
    /// written to the console at once, so a reader that died loses nothing
    /// that is reported after it.
    pub fn log_line(&mut self, line: &klog::LineBuf) {
        // Safety: kernel code; the reference ends within this call.
        let log = unsafe { klog::log() };
        match self.log_reader {
            Some(r) if matches!(self.tasks[r.task].state(), TaskState::Healthy(_)) => {
                log.push_line(line.as_bytes());
                self.post(r.task, r.mask);
            }
            _ => {
                log.drain_to(self.klog);
                (self.klog)(line.as_bytes());
            }
        }
    }

    /// Writes out everything the log reader has not fetched yet (before a
    /// semihosting exit ends the run).
    pub fn flush_log(&self) {
        // Safety: kernel code; the reference ends within this call.
        unsafe { klog::log() }.drain_to(self.klog);
    }

    /// Reports an unrecoverable kernel error and stops the machine. The
    /// queued log goes out first, synchronously: nothing will read it.
    pub fn panic(&self, args: core::fmt::Arguments<'_>) -> ! {
        self.flush_log();
        (self.klog)(klog::LineBuf::line(format_args!("kern: PANIC: {}", args)).as_bytes());
        arch::kernel_halt()
    }
}

impl Kernel {
    /// Completes task `i`'s `recv` with notification bits.
    fn deliver_notification(&mut self, i: usize, bits: u32) {
        self.tasks[i].save.set_recv_notification(bits);
        self.set_sched(i, SchedState::Runnable);
    }
}

/// Formats a fault for the console.
struct FaultDisplay<'a>(&'a FaultInfo, &'a Kernel);

impl core::fmt::Display for FaultDisplay<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let name = |t: TaskId| self.1.name(t.index());
        match *self.0 {
            FaultInfo::MemoryAccess { address: Some(a), .. } => write!(f, "MemoryAccess at {:#010x}", a),
            FaultInfo::MemoryAccess { address: None, .. } => write!(f, "MemoryAccess (address unknown)"),
            FaultInfo::BusError { address: Some(a), .. } => write!(f, "BusError at {:#010x}", a),
            FaultInfo::BusError { address: None, .. } => write!(f, "BusError (address unknown)"),
            FaultInfo::StackOverflow { address } => write!(f, "StackOverflow at {:#010x}", address),
            FaultInfo::DivideByZero => write!(f, "DivideByZero"),
            FaultInfo::IllegalText => write!(f, "IllegalText (execute from XN memory, or not in Thumb state)"),
            FaultInfo::IllegalInstruction => write!(f, "IllegalInstruction (undefined)"),
            FaultInfo::InvalidOperation(status) => write!(f, "InvalidOperation (fault status {:#010x})", status),
            FaultInfo::SyscallUsage(e) => write!(f, "syscall misuse: {:?}", e),
            FaultInfo::Panic => write!(f, "panic"),
            FaultInfo::Injected(by) => write!(f, "injected by {}", name(by)),
            FaultInfo::FromServer(server, reason) => write!(f, "refused by {}: {:?}", name(server), reason),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::descs::{TaskDesc, TASK_FLAG_START};

    /// A host kernel with one started task per priority in `prios`, no
    /// regions and no IRQs.
    pub(crate) fn kernel(prios: &[u8]) -> Kernel {
        let none = vec![[0u8; 8]; prios.len()];
        kernel_with_regions(prios, &none, 0x2000_1000, &[])
    }

    /// A host kernel with one started task per priority in `prios`, task
    /// `i` owning the regions `task_regions[i]` indexes in `regions`, every
    /// task's stack top at `initial_stack`; no IRQs.
    pub(crate) fn kernel_with_regions(
        prios: &[u8],
        task_regions: &[[u8; 8]],
        initial_stack: u32,
        regions: &'static [RegionDesc],
    ) -> Kernel {
        let descs: &'static [TaskDesc] = Box::leak(
            prios
                .iter()
                .zip(task_regions)
                .enumerate()
                .map(|(i, (&priority, &regions))| TaskDesc {
                    regions,
                    entry_point: 0x0800_0001,
                    initial_stack,
                    priority,
                    flags: TASK_FLAG_START,
                    index: i as u16,
                })
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        );
        let tasks: &'static mut [Task] = Box::leak(descs.iter().map(Task::new).collect::<Vec<_>>().into_boxed_slice());
        let n = tasks.len();
        Kernel::new(tasks, regions, irq::IrqRoutes::from_entries(&[], n), &[], 0, |_| {}, None)
    }

    /// The fast paths check buffers against `first_region` with no
    /// attribute test, so it may only hold plain read-write memory: a
    /// read-only or device first region is left empty (and such a task's
    /// buffers take the full region walk).
    #[test]
    fn only_a_plain_read_write_first_region_is_kept_for_the_fast_paths() {
        use descs::region_attr::*;
        use descs::RegionAttributes;
        static REGIONS: [RegionDesc; 4] = [
            RegionDesc::EMPTY,
            RegionDesc { base: 0x2000_0000, size: 0x400, attributes: RegionAttributes::from_bits(READ | WRITE) },
            RegionDesc { base: 0x0800_0000, size: 0x400, attributes: RegionAttributes::from_bits(READ | EXECUTE) },
            RegionDesc { base: 0x4000_0000, size: 0x400, attributes: RegionAttributes::from_bits(READ | WRITE | DEVICE) },
        ];
        let task_regions: Vec<[u8; 8]> = (0..4u8).map(|i| [i, 0, 0, 0, 0, 0, 0, 0]).collect();
        let k = kernel_with_regions(&[0, 1, 2, 3], &task_regions, 0x2000_0400, &REGIONS);
        let kept: Vec<RegionDesc> = k.tasks.iter().map(|t| t.first_region).collect();
        assert_eq!(kept, [RegionDesc::EMPTY, REGIONS[1], RegionDesc::EMPTY, RegionDesc::EMPTY]);
        assert!(REGIONS[1].holds(0x2000_03FC, 4) && !REGIONS[1].holds(0x2000_03FC, 5));
        assert!(!REGIONS[1].holds(0x1FFF_FFFF, 1) && !REGIONS[1].holds(0x2000_0000, u32::MAX));
    }

    fn block(k: &mut Kernel, i: usize) {
        k.set_sched(i, SchedState::InRecv(None));
    }

    #[test]
    fn woken_task_that_outranks_the_caller_runs_next() {
        let mut k = kernel(&[0, 1, 2, 3]);
        block(&mut k, 0);
        block(&mut k, 1);
        k.current = 2;
        k.set_sched(1, SchedState::Runnable);
        k.note_woken(1);
        k.after_syscall();
        assert_eq!(k.current, 1);
    }

    #[test]
    fn caller_keeps_the_cpu_when_it_only_woke_lower_tasks() {
        let mut k = kernel(&[0, 1, 2, 3]);
        block(&mut k, 0);
        k.current = 1;
        k.note_woken(3);
        k.after_syscall();
        assert_eq!(k.current, 1);
    }

    #[test]
    fn blocked_caller_without_a_better_woken_task_scans() {
        let mut k = kernel(&[0, 1, 2, 3]);
        block(&mut k, 0);
        block(&mut k, 1);
        k.current = 1;
        // It woke the lowest task only; task 2 was already runnable and is
        // the right choice, which only a full scan finds.
        k.note_woken(3);
        k.after_syscall();
        assert_eq!(k.current, 2);
        assert_eq!(k.woken, None);
    }

    /// IRQ 7 owned by task 1 (bit 0), IRQ 9 by task 2 (bit 0).
    fn with_irqs(k: &mut Kernel) {
        k.irqs = irq::IrqRoutes::from_entries(
            &[descs::IrqEntry { irq: 7, task: 1, mask: 1 }, descs::IrqEntry { irq: 9, task: 2, mask: 1 }],
            k.tasks.len(),
        );
    }

    #[test]
    fn after_an_irq_the_woken_task_runs_if_it_outranks_the_current_one() {
        let mut k = kernel(&[0, 1, 2, 3]);
        with_irqs(&mut k);
        block(&mut k, 0);
        block(&mut k, 1);
        block(&mut k, 2);
        k.current = 3;
        // The interrupt's post wakes task 1 (blocked in recv, mask bit 0).
        k.tasks[1].save.set_call(0, &[0, 0, 1]);
        assert!(k.handle_irq(7));
        assert_eq!((k.current, k.resume, k.woken), (1, 3, None));
        // A second interrupt (tail-chained) for a weaker owner: task 1
        // keeps the CPU, task 2 is runnable with its bit delivered.
        k.tasks[2].save.set_call(0, &[0, 0, 1]);
        assert!(!k.handle_irq(9));
        assert_eq!(k.current, 1);
        assert!(k.tasks.runnable().contains(2));
        // An unrouted line changes nothing.
        assert!(!k.handle_irq(8));
        assert_eq!(k.current, 1);
    }

    #[test]
    fn an_irq_whose_owner_does_not_outrank_the_current_task_leaves_it() {
        let mut k = kernel(&[0, 2, 2, 3]);
        with_irqs(&mut k);
        block(&mut k, 0);
        block(&mut k, 2);
        k.current = 1;
        // Equal priority: no preemption (round robin waits for the next
        // scheduling point).
        k.tasks[2].save.set_call(0, &[0, 0, 1]);
        assert!(!k.handle_irq(9));
        assert_eq!(k.current, 1);
        // Not waiting for the bit: it stays pending, nothing runs.
        let mut k = kernel(&[0, 1, 2, 3]);
        with_irqs(&mut k);
        k.current = 3;
        block(&mut k, 1);
        k.tasks[1].save.set_call(0, &[0, 0, 2]);
        assert!(!k.handle_irq(7));
        assert_eq!((k.current, k.tasks[1].notifications), (3, 1));
    }

    /// `post_recv` posts (or reports the target stale, posting nothing)
    /// and then receives; a notification already pending completes the
    /// receive at once, with the post's result still in r10.
    #[test]
    fn post_recv_posts_then_receives() {
        use abi::{Generation, Sysnum};
        let mut k = kernel(&[0, 1, 2, 3]);
        block(&mut k, 0);
        block(&mut k, 2);
        k.tasks[2].save.set_call(0, &[0, 0, 1]);
        k.current = 1;
        let two = TaskId::for_index_and_gen(2, k.tasks[2].generation);
        // An empty buffer: the receive needs no memory.
        k.tasks[1].save.set_call(Sysnum::PostRecv as u32, &[0, 0, 1, 0, 0, two.0 as u32, 1]);
        k.syscall_general(1);
        assert_eq!(k.tasks[2].save.words()[..3], [0, TaskId::KERNEL.0 as u32, 1], "task 2 got its bit");
        assert_eq!(k.tasks[1].save.words()[6], 0, "post result");
        assert_eq!(*k.tasks[1].state(), TaskState::Healthy(SchedState::InRecv(None)));
        // A stale target: nothing posted, its dead code in r10; a pending
        // bit of the caller completes the receive at once.
        k.set_sched(1, SchedState::Runnable);
        k.current = 1;
        k.tasks[1].notifications = 1;
        let stale = TaskId::for_index_and_gen(3, Generation::new(5));
        k.tasks[1].save.set_call(Sysnum::PostRecv as u32, &[0, 0, 1, 0, 0, stale.0 as u32, 4]);
        k.syscall_general(1);
        assert_eq!(k.tasks[3].notifications, 0);
        let w = k.tasks[1].save.words();
        assert_eq!((w[0], w[2], w[6]), (0, 1, k.tasks[3].dead_code()));
    }

    #[test]
    fn note_woken_keeps_the_best_priority() {
        let mut k = kernel(&[0, 1, 2, 3]);
        k.note_woken(3);
        k.note_woken(1);
        k.note_woken(2);
        assert_eq!(k.woken, Some(1));
    }
}
