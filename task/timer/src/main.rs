//! The timer server: Linux's jiffies, cascading timer wheel and tick hook
//! chain, as an isolated task serving other tasks over IPC
//! (`idl/timer.idol`).
//!
//! This binary is glue. What a tick does, from "the device fired" to "these
//! tasks get these bits", is the `timer-tick` library (host-tested, no
//! syscalls); the data structures are `timer-core`. The files here are named
//! for the Linux parts they stand in for:
//! - [`ops`]: the IPC operations (the timer API: `add_timer`, `mod_timer`,
//!   `del_timer`, ... and `fetch_fired`); [`rearm`]: `mod_timer_pending`,
//!   relative arming, a timer's period and slack, its expiry.
//! - [`tick_common`]: the tick device's interrupt (Linux's tick-common.c,
//!   `tick_handle_periodic`).
//! - [`tick_sched`]: the tickless (nohz) policy (tick-sched.c): when to run
//!   oneshot, programming the next event, catching jiffies up.
//! - [`clockevents`]: choosing and driving the tick device (clockevents.c,
//!   `tick_check_preferred`, `clockevents_program_event`).
//! - [`clocksource`]: the free-running counter and the jiffies time line.
//! - [`clients`]: clients and ownership: who owns what, delivering posts,
//!   forgetting dead or restarted tasks.
//! - [`grab`]: client hooks and the grab protocol.
//! - [`time_page`]: publishing jiffies and ktime for reading without IPC
//!   (Linux's vDSO data page), when app.toml gives this task a
//!   `[shared.time-page]` to write.
//! - [`hrtimer`]: high-resolution timers (`hrtimer_start`, ...) beside
//!   the wheel, and how the device serves them.
//!
//! Guarantees: every timer and hook belongs to the task that made it (the
//! kernel-given sender id) and only that task can touch it; quotas and
//! pool size come from app.toml; malformed messages are refused by the
//! generated dispatch and bad handles get errors, so no client input can
//! fault the server; a task that dies loses its timers and hooks.
//!
//! Defences against a hostile client (issue 12), all from app.toml's
//! `config` of this task:
//! - `quota`: timers per task (`QuotaExceeded`).
//! - `hook-quota`: client hooks per task (`HookQuota`), so one task
//!   cannot fill the chain's 14 client slots and lock others out.
//! - `grab-tasks`: the only tasks that may grab the tick (`NotPermitted`
//!   for every other). Rate changes and "done" answers are the grabber's
//!   alone (`NotGrabber`), so a task not listed cannot slow, speed up or
//!   stop jiffies. A listed task is trusted with exactly that: while it
//!   holds the grab it may run the device at up to 8x HZ and answer "done"
//!   on every tick, which stops jiffies, the wheel and other tasks'
//!   ordinary hooks for as long as it keeps doing so; other tasks'
//!   `run_always` hooks still run on every tick, and a grabber that stays
//!   silent for a tick is taken as "not done". List only drivers that need
//!   a faster tick (a PC-speaker style sound driver).
//! - Tick notifications: any task may `post` this task's tick bits. A tick
//!   counts (in `Stats::interrupts`, and as jiffies in periodic mode) only
//!   when the clockevent driver's `ack` finds the device's update flag set,
//!   so a spoofed post costs one `ack` IPC and changes nothing.
//!
//! For inspectors: `TIMER_SERVER` points at the live [`Server`]; decode
//! `path.core` (jiffies, the wheel, hooks), `tick_dev` (device, mode) and
//! `path.fired` by their DWARF field names.

#![no_std]
#![no_main]

mod clients;
mod clockevents;
mod clocksource;
mod grab;
mod hrtimer;
mod ops;
mod rearm;
mod tick_common;
mod tick_sched;
mod time_page;
mod uif_window;

use clients::Clients;
use clockevents::{Mode, TickDevice};
use clocksource::Clocksource;
use core::sync::atomic::{AtomicPtr, Ordering};
use drv_clockevent_api::ClockEvent;
use idol_runtime::NotificationHandler;
use ringbuf::{ringbuf, ringbuf_entry};
use timer_core::{HookPolicy, Hz, Jiffies};
use timer_tick::{Fired, TickPath};
use userlib::sys_irq_control;

include!(concat!(env!("OUT_DIR"), "/task_config.rs"));

mod idl {
    use timer_api::{Armed, ArmedAt, Fetched, HrFired, Stats, TimerError};
    include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));
}

/// Timers in the pool (app.toml `config.pool`).
const POOL: usize = config::POOL as usize;
/// Hooks, the two built-in steps included.
const HOOKS: usize = 16;
/// Tasks that may own timers: every task index the kernel allows (32), so
/// a `u32` holds one bit per owner.
const OWNERS: usize = 32;
/// Who may hold hooks and grab the tick (app.toml `config.hook-quota`
/// and `config.grab-tasks`; see the module docs).
const HOOK_POLICY: HookPolicy =
    HookPolicy { per_owner: config::HOOK_QUOTA as usize, grabbers: config::GRAB_TASKS_MASK };
const _: () = assert!(
    config::HOOK_QUOTA as usize <= HOOKS - 2,
    "config.hook-quota exceeds the 14 client hook slots of the timer server"
);

/// The timer core as this server sizes it.
type Core = timer_tick::Core<POOL, HOOKS, OWNERS>;

#[derive(Copy, Clone, PartialEq)]
enum Trace {
    None,
    Start { dev: u8, hz: u32 },
    Mode(Mode),
    OwnerGone(u16),
    GrabberSilent,
    ClockError,
    /// A periodic tick stood for this many jiffies more than one (ticks
    /// lost while the server was held off, counted from the clocksource).
    LostTicks(u32),
}

ringbuf!(Trace, 16, Trace::None);

/// Where the live server is, for debuggers (see the module docs).
#[no_mangle]
static TIMER_SERVER: AtomicPtr<Server> = AtomicPtr::new(core::ptr::null_mut());

/// The timer server: each field is one concern's state.
pub struct Server {
    /// The tick-to-delivery path: jiffies, the wheel, the hook chain, the
    /// fired queues and the posts of the current step.
    path: TickPath<'static, POOL, HOOKS, OWNERS>,
    /// The clockevent driver task, which owns the device registers.
    driver: ClockEvent,
    /// The tick device and its mode.
    tick_dev: TickDevice,
    /// The clocksource and the jiffies time line it gives.
    clocksource: Clocksource,
    /// The hrtimers, ordered by expiry (ktime ns).
    hr: &'static mut hrtimer::Hr,
    /// Which incarnation of each task we serve.
    clients: Clients,
    /// jiffies_64 at start (`Stats`).
    start_jiffies: u64,
    /// Notification bits of acknowledged tick IRQs to unmask at the next
    /// receive (see `take_irqs_to_enable`).
    rearm: u32,
    /// The tick device's notification bit, `1 << tick_dev.dev` (fixed at
    /// start; read on every receive).
    irq_bit: u32,
    /// The time page this server publishes (nothing without one).
    time_page: time_page::TimePage,
    /// Periodic mode: the tick's line on the clocksource (lost ticks; an
    /// emulating device's boundaries), if the counter can be read.
    line: Option<timer_tick::TickLine>,
    /// Confirmed periodic ticks until the driver is next asked for the
    /// counter (`tick_common`'s keepalive).
    keepalive: u32,
    /// The post an interrupt's handling left for the next receive to make
    /// (`take_post`; see `Server::deliver_inline`).
    post_later: Option<timer_tick::Post>,
}

impl NotificationHandler for Server {
    fn current_notification_mask(&self) -> u32 {
        self.irq_bit
    }

    fn handle_notification(&mut self, bits: u32) {
        if bits & self.irq_bit != 0 {
            self.timer_interrupt();
        }
    }

    fn take_irqs_to_enable(&mut self) -> u32 {
        core::mem::take(&mut self.rearm)
    }

    fn take_post(&mut self) -> Option<(userlib::TaskId, u32)> {
        self.post_later.take().map(|p| (userlib::TaskId(p.task), p.bits))
    }

    fn post_failed(&mut self, task: userlib::TaskId) {
        self.forget(task.index());
    }
}

/// Storage of the fired queues (large; kept out of the stack).
static mut FIRED: Fired<POOL, OWNERS> = Fired::new();
/// Storage of the wheel and hook chain (large; kept out of the stack).
static mut CORE: core::mem::MaybeUninit<Core> = core::mem::MaybeUninit::uninit();

#[export_name = "main"]
fn main() -> ! {
    let hz = Hz::new(config::HZ).unwrap_or_else(|| userlib::sys_panic(b"config.hz must be nonzero"));
    let driver = ClockEvent::from(slots::CLOCKEVENT);
    let no_device = || userlib::sys_panic(b"no usable clock event device");
    let Some(mut tick_dev) = TickDevice::choose(&driver, hz.get()) else { no_device() };
    let mut clocksource = Clocksource::new(&driver, hz.get(), hz.initial_jiffies().0);
    if tick_dev.set_periodic(&driver, 1).is_err() {
        no_device()
    }
    ringbuf_entry!(Trace::Start { dev: tick_dev.dev, hz: hz.get() });
    let (start, boot_cycles) = clocksource.boot_jiffies(&driver);
    let start = Jiffies(start);
    let mut time_page = time_page::TimePage::new(&clocksource, hz.get());
    if let Some(c) = boot_cycles {
        time_page.sync(c, start.0);
    }
    // Safety: the only references to FIRED, CORE and HR ever made; main
    // runs once and never returns. `init_in` initialises CORE in place.
    let (fired, core, hr) =
        unsafe { (&mut *(&raw mut FIRED), Core::init_in(&mut *(&raw mut CORE), hz, start), hrtimer::init()) };
    let irq_bit = 1 << tick_dev.dev;
    let mut server = Server {
        path: TickPath::new(core, fired),
        driver,
        tick_dev,
        clocksource,
        hr,
        clients: Clients::new(),
        start_jiffies: start.0,
        rearm: 0,
        irq_bit,
        time_page,
        line: None,
        keepalive: 1,
        post_later: None,
    };
    TIMER_SERVER.store(&mut server, Ordering::Relaxed);
    server.start_line(1);
    sys_irq_control(server.irq_bit, true);
    server.update_mode();
    let mut buffer = [0u8; idl::TIMER_MSG_SIZE];
    let mut held = idl::Held::new();
    loop {
        idl::dispatch_n(&mut buffer, &mut held, &mut server);
    }
}
