//! The kernel's record of a task: saved registers, scheduling state,
//! generation and pending notifications.
//!
//! `Task` is `repr(C)` with the saved register block first, because the
//! exception entry code in `arch` stores and loads registers at fixed
//! offsets from `CURRENT_TASK_PTR`. Field and variant names follow Hubris
//! (`state`, `generation`, `priority`, `descriptor`, `save`; `Healthy`,
//! `Faulted`, `InSend`, ...) so humility can decode them by name.

use crate::descs::{RegionDesc, TaskDesc, TASK_FLAG_START};
use crate::taskset::TaskSet;
use abi::{dead_response_code, FaultKind, Generation, ReplyFaultReason, TaskId, UsageError};

pub use crate::arch::SavedState;

/// What a healthy task is doing, as far as the scheduler cares.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum SchedState {
    /// Not started (or restarted without `start`).
    Stopped,
    /// Ready to run.
    Runnable,
    /// Blocked sending to the task named; its message is in its registers.
    InSend(TaskId),
    /// Message delivered; blocked until the task named replies.
    InReply(TaskId),
    /// Blocked in `recv`: `None` open, `Some(id)` closed to one sender.
    InRecv(Option<TaskId>),
}

/// Where a memory or bus fault came from: the task's own access, or the
/// kernel's on the task's behalf. Escapement's kernel checks every task
/// pointer before using it, so its faults are always `User`; the variant
/// exists because humility's decoding of [`FaultInfo`] expects it.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum FaultSource {
    User,
    Kernel,
}

/// Why a task stopped. The variants and their shapes are Hubris's, so
/// humility can decode a faulted task.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum FaultInfo {
    /// The MPU refused a data access; `address` when the hardware knew it.
    MemoryAccess { address: Option<u32>, source: FaultSource },
    /// The hardware could not stack (or unstack) the task's exception
    /// frame: its stack pointer left its RAM. `address` is the faulting
    /// address if known, else the task's stack pointer at the fault.
    StackOverflow { address: u32 },
    /// The bus refused an access (e.g. a privileged peripheral).
    BusError { address: Option<u32>, source: FaultSource },
    /// `udiv`/`sdiv` by zero (the kernel sets CCR.DIV_0_TRP).
    DivideByZero,
    /// Execution from non-executable memory, or in ARM state.
    IllegalText,
    /// An undefined instruction.
    IllegalInstruction,
    /// Any other fault the CPU raised (unaligned, coprocessor, bad return,
    /// breakpoint): the raw CFSR, or HFSR when only a HardFault says why.
    InvalidOperation(u32),
    /// The task misused a syscall.
    SyscallUsage(UsageError),
    /// The task called `sys_panic`.
    Panic,
    /// Stopped on another task's behalf. Escapement has no call that does
    /// this; the variant is part of the shape humility decodes.
    Injected(TaskId),
    /// A server refused its message (`reply_fault`) for this reason.
    FromServer(TaskId, ReplyFaultReason),
}

impl FaultInfo {
    /// The coarse kind reported to the supervisor.
    pub fn kind(&self) -> FaultKind {
        match self {
            FaultInfo::MemoryAccess { .. } => FaultKind::MemoryAccess,
            FaultInfo::StackOverflow { .. } => FaultKind::StackOverflow,
            FaultInfo::BusError { .. } => FaultKind::BusError,
            FaultInfo::DivideByZero | FaultInfo::IllegalText | FaultInfo::IllegalInstruction => FaultKind::IllegalInstruction,
            FaultInfo::InvalidOperation(_) | FaultInfo::Injected(_) => FaultKind::Unknown,
            FaultInfo::SyscallUsage(_) => FaultKind::SyscallUsage,
            FaultInfo::Panic => FaultKind::Panic,
            FaultInfo::FromServer(..) => FaultKind::FromServer,
        }
    }
}

/// Overall state: healthy (with a scheduling state) or faulted.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum TaskState {
    Healthy(SchedState),
    Faulted { fault: FaultInfo, original_state: SchedState },
}

/// The scheduling state of a task known to be healthy.
///
/// # Safety
/// `state` is `TaskState::Healthy(_)`.
#[inline(always)]
unsafe fn healthy_sched(state: &mut TaskState) -> &mut SchedState {
    match state {
        TaskState::Healthy(s) => s,
        // Safety: excluded by the contract.
        TaskState::Faulted { .. } => unsafe { core::hint::unreachable_unchecked() },
    }
}

/// A task's priority: 0 is the highest (the supervisor). A newtype named
/// as Hubris names it, which humility decodes by name.
#[derive(Copy, Clone, Debug, Eq, PartialEq, Ord, PartialOrd)]
#[repr(transparent)]
pub struct Priority(pub u8);

/// A point in kernel time, in ticks. Part of [`TimerState`]'s shape.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(transparent)]
pub struct Timestamp(pub u64);

/// A set of notification bits. Part of [`TimerState`]'s shape.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(transparent)]
pub struct NotificationSet(pub u32);

/// A kernel timer, as Hubris's kernel keeps one per task. Escapement's
/// kernel keeps no time (the timer server does): `deadline` is always
/// `None` and `to_post` empty, which is what humility then shows. Kept so
/// that the task table has the shape humility decodes.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct TimerState {
    pub deadline: Option<Timestamp>,
    pub to_post: NotificationSet,
}

impl TimerState {
    /// No deadline, nothing to post: the only value Escapement uses.
    pub const NONE: Self = Self { deadline: None, to_post: NotificationSet(0) };
}

/// The kernel's record of one task.
#[repr(C)]
pub struct Task {
    /// Must stay the first field: the exception entry code depends on it.
    pub save: SavedState,
    /// Written only by [`TaskTable`], which keeps its runnable and sending
    /// sets in step (so: private to this module).
    state: TaskState,
    /// Changed only through [`Task::set_generation`], which keeps `id` in
    /// step.
    pub generation: Generation,
    pub priority: Priority,
    /// This incarnation's id: the descriptor's index with `generation`.
    /// Kept rather than rebuilt because the IPC fast paths compare ids on
    /// every call.
    pub id: TaskId,
    /// Notification bits posted and not yet received.
    pub notifications: u32,
    /// Always [`TimerState::NONE`] (see there).
    pub timer: TimerState,
    /// Faults since boot (saturating), for rate-limiting the kernel's
    /// reports of a crash loop (see [`Task::fault_report_shown`]).
    pub faults: u32,
    pub descriptor: &'static TaskDesc,
    /// The task's MPU register values (RBAR, RASR per slot, unused slots
    /// disabled), computed once at boot by `arch` so that a context switch
    /// is four load/store-multiple pairs.
    pub mpu: [[u32; 2]; crate::descs::REGIONS_PER_TASK],
    /// A copy of the task's first region (its RAM, as the build orders
    /// them) if that is ordinary read-write memory, else an empty region;
    /// set by [`crate::Kernel::new`]. The IPC fast paths check buffers
    /// against it inline, with no attribute test, before the general
    /// region walk.
    pub first_region: RegionDesc,
}

impl Task {
    /// A task as described, not yet initialised (`reinitialize` makes it
    /// ready to start).
    pub fn new(descriptor: &'static TaskDesc) -> Self {
        let mut t = Task {
            save: SavedState::default(),
            state: TaskState::Healthy(SchedState::Stopped),
            generation: Generation::ZERO,
            priority: Priority(descriptor.priority),
            id: TaskId::for_index_and_gen(descriptor.index as usize, Generation::ZERO),
            notifications: 0,
            timer: TimerState::NONE,
            faults: 0,
            descriptor,
            mpu: [[0; 2]; crate::descs::REGIONS_PER_TASK],
            first_region: RegionDesc::EMPTY,
        };
        t.reinitialize();
        if descriptor.flags & TASK_FLAG_START != 0 {
            t.state = TaskState::Healthy(SchedState::Runnable);
        }
        t
    }

    /// Resets registers and state so the task starts from `_start` when next
    /// scheduled, and writes its initial exception frame on its stack;
    /// leaves it `Stopped`. The generation is not touched.
    fn reinitialize(&mut self) {
        crate::arch::prepare_initial_frame(self.descriptor);
        self.save = SavedState::default();
        self.save.psp = self.descriptor.initial_stack - crate::arch::INITIAL_FRAME_BYTES;
        self.save.exc_return = crate::arch::EXC_RETURN_THREAD_PSP;
        self.state = TaskState::Healthy(SchedState::Stopped);
        self.notifications = 0;
    }

    /// This incarnation's id.
    #[inline(always)]
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// Fills the task's unused stack (from the bottom of its RAM region,
    /// where the build puts the stack, up to its initial frame) with
    /// [`STACK_PAINT`], so that how deep the stack has ever been can be
    /// read off memory (humility `stackmargin`). Does nothing for a task
    /// whose RAM is not its first region.
    pub fn paint_stack(&mut self) {
        let ram = self.first_region;
        let top = self.descriptor.initial_stack.wrapping_sub(crate::arch::INITIAL_FRAME_BYTES);
        if ram.size != 0 && ram.holds(ram.base, top.wrapping_sub(ram.base)) && top > ram.base {
            // Safety: `[ram.base, top)` lies inside the task's own
            // read-write RAM region (checked just above), below its
            // initial frame; the task is not running.
            unsafe { crate::arch::fill_user(ram.base, top - ram.base, STACK_PAINT) };
        }
    }

    /// Makes `g` the task's generation (and its id's).
    pub fn set_generation(&mut self, g: Generation) {
        self.generation = g;
        self.id = TaskId::for_index_and_gen(self.descriptor.index as usize, g);
    }

    /// Healthy (and what it is doing) or faulted. By reference: matching
    /// the field in place is what the fast paths compile best.
    #[inline(always)]
    pub fn state(&self) -> &TaskState {
        &self.state
    }

    /// The scheduling state, if healthy.
    pub fn sched(&self) -> Option<SchedState> {
        match self.state {
            TaskState::Healthy(s) => Some(s),
            TaskState::Faulted { .. } => None,
        }
    }

    /// True if the task can be given the CPU.
    #[inline(always)]
    pub fn is_runnable(&self) -> bool {
        // A pattern, not `==`: the derived PartialEq on the nested enums is
        // an out-of-line call, and this is on every scheduling decision.
        matches!(self.state, TaskState::Healthy(SchedState::Runnable))
    }

    /// True if the kernel prints the report of this task's latest fault
    /// (and of the restart that follows): the first 32, then only the
    /// 64th, 128th, ... A crash loop costs the console (a polled UART,
    /// about 8 ms a line at 115,200 baud) a logarithmic number of lines,
    /// not one per fault.
    pub fn fault_report_shown(&self) -> bool {
        report_shown(self.faults)
    }

    /// Response code meaning "you used a stale id for this task".
    pub fn dead_code(&self) -> u32 {
        dead_response_code(self.generation)
    }

    /// Checks `[base, base+len)` against this task's regions with `needed`
    /// access (see [`crate::umem`]). Out of line: the general syscall path
    /// calls it from many places.
    #[inline(never)]
    pub fn can_access(&self, regions: &[RegionDesc], base: u32, len: u32, needed: u32) -> bool {
        crate::umem::task_can_access(self.descriptor, regions, base, len, needed)
    }
}

/// The word unused task stack holds (Hubris's value, which humility's
/// `stackmargin` looks for).
pub const STACK_PAINT: u32 = 0xBADD_CAFE;

/// True if the kernel reports a task's `n`th fault (counting from 1): the
/// first 32, then powers of two.
pub fn report_shown(n: u32) -> bool {
    n <= 32 || n.is_power_of_two()
}

/// Every task's record, and the sets of tasks that are runnable and that
/// wait to send: the scheduler's view, which must agree with each record's
/// state. Only this type writes a task's state, and every write updates
/// the sets with it; the rest of the kernel reads records through `Deref`
/// and changes other fields through `DerefMut`.
pub struct TaskTable {
    tasks: &'static mut [Task],
    runnable: TaskSet,
    sending: TaskSet,
}

impl TaskTable {
    /// The table over boot-time records (as [`Task::new`] leaves them).
    pub fn new(tasks: &'static mut [Task]) -> Self {
        let mut t = TaskTable { tasks, runnable: TaskSet::EMPTY, sending: TaskSet::EMPTY };
        for i in 0..t.tasks.len() {
            if let TaskState::Healthy(s) = t.tasks[i].state {
                t.set_sched(i, s);
            }
        }
        t
    }

    /// The tasks in `Healthy(Runnable)`.
    #[inline(always)]
    pub fn runnable(&self) -> TaskSet {
        self.runnable
    }

    /// The tasks in `Healthy(InSend(_))`.
    #[inline(always)]
    pub fn sending(&self) -> TaskSet {
        self.sending
    }

    /// Puts task `i` in healthy scheduling state `s`.
    #[inline(always)]
    pub fn set_sched(&mut self, i: usize, s: SchedState) {
        self.tasks[i].state = TaskState::Healthy(s);
        self.runnable.remove(i);
        self.sending.remove(i);
        match s {
            SchedState::Runnable => self.runnable.insert(i),
            SchedState::InSend(_) => self.sending.insert(i),
            _ => {}
        }
    }

    /// The IPC fast paths' two known transitions at once, cheaper than two
    /// [`Self::set_sched`]s: `woken` (blocked in a receive or waiting for a
    /// reply, so in neither set) becomes runnable, and `blocks` (the
    /// caller, runnable, so not sending) waits in `state`, which is
    /// `InReply` or `InRecv`. Only the runnable set changes.
    ///
    /// Both tasks are healthy, so only their scheduling states are
    /// written, not the `Healthy` tag again (with the table in humility's
    /// shapes that tag is a halfword store of its own: two stores and a
    /// constant per IPC half, traced under `cargo xtask bench`).
    ///
    /// # Safety
    /// `woken` and `blocks` are in bounds (the fast paths have checked
    /// both; no second bounds check here, which the compiler cannot see
    /// past after the copies and stores in between), and both tasks are
    /// `Healthy` (the fast paths have seen `woken` in a receive or waiting
    /// for a reply; `blocks` is the runnable caller).
    #[inline(always)]
    pub unsafe fn wake_and_block(&mut self, woken: usize, blocks: usize, state: SchedState) {
        debug_assert!(woken < self.tasks.len() && blocks < self.tasks.len());
        debug_assert!(matches!(state, SchedState::InReply(_) | SchedState::InRecv(_)));
        debug_assert!(self.runnable.contains(blocks) && !self.sending.contains(woken));
        debug_assert!([woken, blocks].iter().all(|&i| matches!(self.tasks[i].state, TaskState::Healthy(_))));
        // Safety: in bounds and healthy per the contract.
        unsafe {
            *healthy_sched(&mut self.tasks.get_unchecked_mut(woken).state) = SchedState::Runnable;
            *healthy_sched(&mut self.tasks.get_unchecked_mut(blocks).state) = state;
        }
        self.runnable.insert(woken);
        self.runnable.remove(blocks);
    }

    /// Stops task `i` with `fault`. Returns its scheduling state before, or
    /// `None` if it had already faulted (the first cause is kept).
    pub fn fault(&mut self, i: usize, fault: FaultInfo) -> Option<SchedState> {
        let t = &mut self.tasks[i];
        let TaskState::Healthy(original_state) = t.state else {
            return None;
        };
        t.state = TaskState::Faulted { fault, original_state };
        t.faults = t.faults.saturating_add(1);
        self.runnable.remove(i);
        self.sending.remove(i);
        Some(original_state)
    }

    /// Restarts task `i` with the next generation, its registers and
    /// notifications reset and its stack painted; runnable if `start`,
    /// else stopped.
    pub fn restart(&mut self, i: usize, start: bool) {
        let t = &mut self.tasks[i];
        t.set_generation(t.generation.next());
        t.reinitialize();
        t.paint_stack();
        self.set_sched(i, if start { SchedState::Runnable } else { SchedState::Stopped });
    }

    /// The records, for code that hands out a pointer to one (the switch).
    #[inline(always)]
    pub fn as_mut_ptr(&mut self) -> *mut Task {
        self.tasks.as_mut_ptr()
    }

    /// Puts the table back to a recorded state: for tests that replay a
    /// syscall from the same state on two paths.
    #[cfg(test)]
    pub fn restore(&mut self, states: &[TaskState], runnable: TaskSet, sending: TaskSet) {
        for (t, s) in self.tasks.iter_mut().zip(states) {
            t.state = *s;
        }
        (self.runnable, self.sending) = (runnable, sending);
    }
}

impl core::ops::Deref for TaskTable {
    type Target = [Task];
    #[inline(always)]
    fn deref(&self) -> &[Task] {
        self.tasks
    }
}

impl core::ops::DerefMut for TaskTable {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [Task] {
        self.tasks
    }
}
