//! The timer server: Linux's jiffies, cascading timer wheel and tick hook
//! chain (seeds 000, 001, 003), as an isolated task serving other tasks
//! over IPC (`idl/timer.idol`).
//!
//! Path of a tick: the tick device's IRQ is routed by the kernel to this
//! task as a notification bit -> [`Server::timer_interrupt`] acknowledges
//! it at the clockevent driver -> [`Server::tick`] runs the hook chain of
//! `timer_core` (client hooks newest first, then the built-in steps
//! `do_timer(ticks)` and `run_timers`, which cascades tv2..tv5 when the
//! tv1 index wraps) -> each expiry is queued for its owner ([`fired`]) and
//! the owner's notification bit posted.
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
//!   a faster tick (seed 000's PC speaker).
//! - Tick notifications: any task may `post` this task's tick bits. A tick
//!   counts (in `Stats::interrupts`, and as jiffies in periodic mode) only
//!   when the clockevent driver's `ack` finds the device's update flag set,
//!   so a spoofed post costs one `ack` IPC and changes nothing.
//!
//! For inspectors: `TIMER_SERVER` points at the live [`Server`]; decode
//! `core` (jiffies, the wheel, hooks), `clock` (device, mode) and `fired`
//! by their DWARF field names.

#![no_std]
#![no_main]

mod clock;
mod fired;

use core::sync::atomic::{AtomicPtr, Ordering};
use clock::{Clock, Mode};
use fired::Fired;
use idol_runtime::{Leased, NotificationHandler, RequestError, W};
use ringbuf::{ringbuf, ringbuf_entry};
use timer_api::wire::{
    HookEntry, HOOK_ADVANCE_JIFFIES, HOOK_CHAIN_MAX, HOOK_ENTRY_BYTES, HOOK_GRABBER, HOOK_OWNER_BUILTIN,
    HOOK_RUN_ALWAYS, HOOK_RUN_WHEEL, MODE_ONESHOT, MODE_PERIODIC,
};
use timer_api::{Armed, Fetched, FiredRecord, Stats, TimerError};
use timer_core::{
    apply_slack, Expired, HookError, HookId, HookKind, HookPolicy, Hz, Jiffies, Owner, Slack, TickVisitor, TimerCore, TimerHandle,
    TimerKind, TimerMut,
};
use userlib::{sys_irq_control, sys_post, RecvMessage, TaskId};
use zerocopy::IntoBytes;

include!(concat!(env!("OUT_DIR"), "/task_config.rs"));

mod idl {
    use timer_api::{Armed, Fetched, Stats, TimerError};
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

/// What the wheel stores with each timer.
#[derive(Copy, Clone, Debug, Default)]
struct Token {
    /// The owner's `TaskId` (with its generation) to post to.
    task: u16,
    /// The owner's notification bit.
    bit: u8,
    /// Slack policy: 0 none, -1 default, n > 0 jiffies.
    slack: i8,
    /// The client's token.
    user: u32,
}

type Core = TimerCore<POOL, HOOKS, Token, u16, OWNERS, HookMeta>;

#[derive(Copy, Clone, PartialEq)]
enum Trace {
    None,
    Start { dev: u8, hz: u32 },
    Mode(Mode),
    OwnerGone(u16),
    GrabberSilent,
    ClockError,
}

ringbuf!(Trace, 16, Trace::None);

/// Where the live server is, for debuggers (see the module docs).
#[no_mangle]
static TIMER_SERVER: AtomicPtr<Server> = AtomicPtr::new(core::ptr::null_mut());

/// The grabber's pending tick, between posting it and its answer.
#[derive(Copy, Clone, Debug, Default)]
struct GrabWait {
    /// Ticks the deferred chain run covers; 0 when nothing is pending.
    ticks: u32,
}

/// What a client hook posts when it runs: the hook chain's token.
#[derive(Copy, Clone, Debug, Default)]
struct HookMeta {
    task: u16,
    bit: u8,
}

/// The timer server's state.
pub struct Server {
    core: &'static mut Core,
    fired: &'static mut Fired<POOL, OWNERS>,
    clock: Clock,
    grab: GrabWait,
    /// Generation last seen of each task index that talked to us.
    seen: [Option<u8>; OWNERS],
    /// Notifications to post at the end of a tick, per task index.
    posts: [u32; OWNERS],
    post_to: [u16; OWNERS],
    /// Ticks a grabber left unanswered until the next one (`Stats`).
    grabber_silent: u32,
    /// Dead or restarted tasks cleaned up (`Stats`).
    owners_forgotten: u32,
    /// jiffies_64 at start (`Stats`).
    start_jiffies: u64,
    /// Notification bits of acknowledged tick IRQs to unmask at the next
    /// receive (see `take_irqs_to_enable`).
    rearm: u32,
    /// The tick device's notification bit, `1 << clock.dev` (fixed at
    /// start; read on every receive).
    irq_bit: u32,
}

fn core_err(e: timer_core::TimerError) -> TimerError {
    match e {
        timer_core::TimerError::StaleHandle => TimerError::StaleHandle,
        timer_core::TimerError::AlreadyPending => TimerError::AlreadyPending,
        timer_core::TimerError::PoolExhausted => TimerError::PoolExhausted,
        timer_core::TimerError::QuotaExceeded => TimerError::QuotaExceeded,
        timer_core::TimerError::TooManyOwners => TimerError::TooManyOwners,
    }
}

fn hook_err(e: HookError) -> TimerError {
    match e {
        HookError::Full => TimerError::HookTableFull,
        HookError::Stale => TimerError::StaleHandle,
        HookError::Busy => TimerError::Busy,
        HookError::NotGrabber => TimerError::NotGrabber,
        HookError::Quota => TimerError::HookQuota,
        HookError::NotPermitted => TimerError::NotPermitted,
    }
}

/// The timer `raw` names, if it is owned by task index `me`: one check of
/// the handle for the whole request. `StaleHandle` or `NotOwner` otherwise.
fn owned_timer(core: &mut Core, me: usize, raw: u64) -> Result<TimerMut<'_, POOL, Token, u16, OWNERS>, TimerError> {
    let t = core.wheel_mut().timer_mut(TimerHandle::from_bits(raw)).map_err(core_err)?;
    if t.owner().0 as usize != me {
        return Err(TimerError::NotOwner);
    }
    Ok(t)
}

/// `expires` with slack `raw` (a [`Token`]'s encoding) applied at jiffy
/// `now`. No slack, the usual case, is one test.
#[inline(always)]
fn slacked(expires: u64, now: Jiffies, raw: i8) -> Jiffies {
    if raw == 0 { Jiffies(expires) } else { apply_slack(Jiffies(expires), now, slack_of(raw)) }
}

fn slack_of(raw: i8) -> Slack {
    match raw {
        0 => Slack::None,
        n if n < 0 => Slack::Default,
        n => Slack::Jiffies(n as u32),
    }
}

/// Collects what a tick produces: expiries into the fired queues, posts
/// batched per task.
struct Visit<'a> {
    fired: &'a mut Fired<POOL, OWNERS>,
    posts: &'a mut [u32; OWNERS],
    post_to: &'a mut [u16; OWNERS],
    /// Bit `i` set: `posts[i]` has bits to send (so the flush after the
    /// tick visits only owners that have some).
    posting: u32,
    /// jiffies_64 after this tick's `do_timer`.
    now: u64,
    grab_done: bool,
}

impl Visit<'_> {
    fn post(&mut self, task: u16, bit: u8) {
        let i = TaskId(task).index();
        if i < OWNERS && bit < 32 {
            self.posts[i] |= 1 << bit;
            self.post_to[i] = task;
            self.posting |= 1 << i;
        }
    }
}

impl TickVisitor<Token, HookMeta> for Visit<'_> {
    fn grabbed(&mut self, _hook: HookId, _owner: Owner, _m: HookMeta) -> bool {
        self.grab_done
    }

    fn hook(&mut self, _hook: HookId, _owner: Owner, m: HookMeta) {
        self.post(m.task, m.bit);
    }

    fn expired(&mut self, e: Expired<Token>) {
        let owner = TaskId(e.token.task).index();
        if owner < OWNERS {
            let rec = FiredRecord {
                handle: e.handle.to_bits(),
                expires: e.expires.0,
                fired_at: self.now,
                token: e.token.user,
                seq: 0,
            };
            self.fired.push(e.handle.index() as usize, owner, rec);
            self.post(e.token.task, e.token.bit);
        }
    }
}

impl Server {
    /// Brings a client's record up to date: a new generation means the
    /// task restarted, so whatever its old incarnation owned goes.
    fn note_client(&mut self, sender: TaskId) -> Result<usize, TimerError> {
        let i = sender.index();
        if i >= OWNERS {
            return Err(TimerError::TooManyOwners);
        }
        let g = sender.generation().get();
        if self.seen[i] != Some(g) {
            if self.seen[i].is_some() {
                self.forget(i);
            }
            self.seen[i] = Some(g);
        }
        Ok(i)
    }

    /// Drops every timer, hook and queued expiry of task index `i`. If it
    /// held the grab, the grab ends as `release_grab` ends it: a tick
    /// waiting for its answer runs as "not done" and the tick rate returns
    /// to HZ, so a dying grabber neither loses a jiffy nor leaves the
    /// device running fast.
    fn forget(&mut self, i: usize) {
        let was_grabber = self.grabber_owner() == Some(i);
        self.core.forget_owner(Owner(i as u16));
        self.fired.clear_owner(i);
        self.seen[i] = None;
        self.owners_forgotten = self.owners_forgotten.wrapping_add(1);
        ringbuf_entry!(Trace::OwnerGone(i as u16));
        if was_grabber {
            self.end_grab();
        }
        self.update_mode();
    }

    fn grabber_owner(&self) -> Option<usize> {
        let g = self.core.hooks().grabber()?;
        match self.core.hooks().kind(g) {
            Ok(timer_core::HookKind::Client(o)) => Some(o.0 as usize),
            _ => None,
        }
    }

    /// Resolves `raw` to a hook of the caller.
    fn own_hook(&mut self, msg: &RecvMessage, raw: u16) -> Result<HookId, TimerError> {
        let me = self.note_client(msg.sender)?;
        let id = HookId::from_bits(raw);
        match self.core.hooks().kind(id).map_err(hook_err)? {
            timer_core::HookKind::Client(o) if o.0 as usize == me => Ok(id),
            timer_core::HookKind::Client(_) => Err(TimerError::NotOwner),
            _ => Err(TimerError::StaleHandle),
        }
    }

    /// One tick interrupt covering `ticks` jiffies. With a grabber, the
    /// chain waits for its answer (`hook_answer`); a grabber still silent
    /// from the previous tick is taken as "not done", so time never stops.
    fn tick(&mut self, ticks: u32) {
        // The common case: nothing hooked, nothing due, no silent grabber
        // to account for.
        if ticks == 1 && self.grab.ticks == 0 && self.core.tick_if_idle() {
            return;
        }
        if self.grab.ticks != 0 {
            ringbuf_entry!(Trace::GrabberSilent);
            self.grabber_silent = self.grabber_silent.wrapping_add(1);
            let pending = self.grab.ticks;
            self.run_chain(pending, false);
        }
        // Looked up after the run above: it may have found the grabber dead.
        if let Some(g) = self.core.hooks().grabber() {
            self.grab.ticks = ticks;
            let m = self.core.hooks().token(g).unwrap_or_default();
            // A dead grabber is forgotten here, and `forget` runs this tick.
            self.post_now(m.task, 1 << m.bit);
        } else {
            self.run_chain(ticks, false);
        }
    }

    /// Runs the hook chain once (`grab_done` is the grabber's answer).
    fn run_chain(&mut self, ticks: u32, grab_done: bool) {
        self.grab.ticks = 0;
        let mut v = Visit {
            fired: self.fired,
            posts: &mut self.posts,
            post_to: &mut self.post_to,
            posting: 0,
            now: self.core.jiffies().0.wrapping_add(ticks as u64),
            grab_done,
        };
        self.core.tick(ticks, &mut v);
        let mut posting = v.posting;
        while posting != 0 {
            let i = posting.trailing_zeros() as usize;
            posting &= posting - 1;
            let bits = core::mem::take(&mut self.posts[i]);
            self.post_now(self.post_to[i], bits);
        }
    }

    /// Posts `bits` to `task`; a dead task loses its timers and hooks.
    fn post_now(&mut self, task: u16, bits: u32) {
        if sys_post(TaskId(task), bits) != 0 {
            self.forget(TaskId(task).index());
        }
    }

    /// The tick device interrupted.
    fn timer_interrupt(&mut self) {
        let fresh = self.clock.ack();
        // The device is acknowledged: its IRQ is unmasked as this server
        // next waits (the receive does it, saving an irq_control syscall).
        self.rearm |= self.irq_mask();
        if !fresh {
            return;
        }
        match self.clock.mode {
            Mode::Periodic { .. } => self.tick(1),
            Mode::Oneshot => {
                self.clock.programmed = None;
                self.catch_up();
                self.program_next();
            }
        }
    }

    /// Oneshot mode: advance jiffies to what the clocksource says, firing
    /// everything due in between (`do_timer(elapsed)`).
    ///
    /// Called on each wake-up and before answering `jiffies`, not on every
    /// request: arming, re-arming and deleting work against the wheel's own
    /// `timer_jiffies`, and an expiry that the clocksource has already
    /// passed makes `program_next` see `Etime` and catch up then. That
    /// keeps add/mod/del free of clockevent IPC.
    fn catch_up(&mut self) {
        if self.clock.mode != Mode::Oneshot {
            return;
        }
        let Ok(now) = self.clock.jiffies_now() else {
            ringbuf_entry!(Trace::ClockError);
            return;
        };
        let behind = now.wrapping_sub(self.core.jiffies().0);
        if behind > 0 && behind < (1 << 63) {
            self.run_chain(behind.min(u32::MAX as u64) as u32, false);
        }
    }

    /// Oneshot mode: program the event for the next expiry (or the longest
    /// idle sleep when nothing is pending).
    fn program_next(&mut self) {
        for _ in 0..8 {
            if self.clock.mode != Mode::Oneshot {
                return;
            }
            let r = match self.core.tickless_deadline() {
                Some(Some(j)) => self.clock.program_for(j.0.max(self.core.jiffies().0 + 1)),
                Some(None) => self.clock.program_idle(),
                None => return,
            };
            match r {
                Err(drv_clockevent_api::ClockEventError::Etime) => self.catch_up(),
                _ => return,
            }
        }
    }

    /// After arming in oneshot mode: reprogram if the new expiry comes
    /// before the programmed event.
    fn armed(&mut self, expires: u64) {
        if self.clock.mode == Mode::Oneshot && self.clock.programmed.is_none_or(|p| expires < p) {
            self.program_next();
        }
    }

    /// Chooses the device mode: tickless (oneshot) when the device can and
    /// no hook needs every tick; periodic otherwise.
    fn update_mode(&mut self) {
        let want_oneshot =
            !cfg!(feature = "periodic-only") && self.clock.can_oneshot() && self.core.tickless_deadline().is_some();
        match (self.clock.mode, want_oneshot) {
            (Mode::Periodic { .. }, true) => {
                if self.clock.set_oneshot(self.core.jiffies().0).is_ok() {
                    ringbuf_entry!(Trace::Mode(Mode::Oneshot));
                    self.program_next();
                }
            }
            (Mode::Oneshot, false) => {
                self.catch_up();
                if self.clock.set_periodic(1).is_ok() {
                    ringbuf_entry!(Trace::Mode(Mode::Periodic { multiplier: 1 }));
                }
            }
            _ => {}
        }
    }

    fn irq_mask(&self) -> u32 {
        self.irq_bit
    }
}

impl idl::InOrderTimerImpl for Server {
    fn setup(
        &mut self,
        msg: &RecvMessage,
        notification: u8,
        token: u32,
        period: u32,
        slack: i32,
        deferrable: bool,
    ) -> Result<u64, RequestError<TimerError>> {
        let me = self.note_client(msg.sender)?;
        if notification >= 32 {
            return Err(TimerError::BadNotification.into());
        }
        let tok = Token { task: msg.sender.0, bit: notification, slack: slack.clamp(-1, 127) as i8, user: token };
        let kind = if deferrable { TimerKind::Deferrable } else { TimerKind::Normal };
        let wheel = self.core.wheel_mut();
        let h = wheel.alloc(Owner(me as u16), tok, kind, config::QUOTA as u16).map_err(core_err)?;
        if period != 0 {
            wheel.set_period(h, period).map_err(core_err)?;
        }
        Ok(h.to_bits())
    }

    fn add_timer(&mut self, msg: &RecvMessage, handle: u64, expires: u64) -> Result<u32, RequestError<TimerError>> {
        let me = self.note_client(msg.sender)?;
        let now = self.core.jiffies();
        let t = owned_timer(&mut self.core, me, handle)?;
        let expires = slacked(expires, now, t.token().slack);
        let i = t.index();
        t.add(expires).map_err(core_err)?;
        let seq = self.fired.rearm(i, me);
        self.armed(expires.0);
        Ok(seq)
    }

    fn mod_timer(&mut self, msg: &RecvMessage, handle: u64, expires: u64) -> Result<Armed, RequestError<TimerError>> {
        let me = self.note_client(msg.sender)?;
        let now = self.core.jiffies();
        let t = owned_timer(&mut self.core, me, handle)?;
        let expires = slacked(expires, now, t.token().slack);
        let i = t.index();
        let was = t.modify(expires);
        let seq = self.fired.rearm(i, me);
        self.armed(expires.0);
        Ok(Armed { seq, was_pending: was as u32 })
    }

    fn del_timer(&mut self, msg: &RecvMessage, handle: u64) -> Result<bool, RequestError<TimerError>> {
        let me = self.note_client(msg.sender)?;
        let t = owned_timer(&mut self.core, me, handle)?;
        let i = t.index();
        let was = t.del();
        self.fired.remove(i, me);
        Ok(was)
    }

    fn timer_pending(&mut self, msg: &RecvMessage, handle: u64) -> Result<bool, RequestError<TimerError>> {
        let me = self.note_client(msg.sender)?;
        Ok(owned_timer(&mut self.core, me, handle)?.pending())
    }

    fn free(&mut self, msg: &RecvMessage, handle: u64) -> Result<(), RequestError<TimerError>> {
        let me = self.note_client(msg.sender)?;
        let t = owned_timer(&mut self.core, me, handle)?;
        let i = t.index();
        t.free();
        self.fired.remove(i, me);
        Ok(())
    }

    fn fetch_fired(&mut self, msg: &RecvMessage, out: Leased<W, [u8]>) -> Result<Fetched, RequestError<TimerError>> {
        let me = self.note_client(msg.sender)?;
        let room = out.len() / timer_api::wire::FIRED_RECORD_BYTES;
        let mut count = 0;
        while count < room {
            let Some(rec) = self.fired.pop(me) else { break };
            let off = count * timer_api::wire::FIRED_RECORD_BYTES;
            if out.write_at(off, rec.as_bytes()).is_err() {
                // The client went away mid-call: nobody to answer.
                return Err(RequestError::WentAway);
            }
            count += 1;
        }
        Ok(Fetched { count: count as u32, remaining: self.fired.len(me) as u32 })
    }

    fn jiffies(&mut self, _msg: &RecvMessage) -> Result<u64, RequestError<core::convert::Infallible>> {
        self.catch_up();
        Ok(self.core.jiffies().0)
    }

    fn ktime_get(&mut self, _msg: &RecvMessage) -> Result<u64, RequestError<TimerError>> {
        self.clock.ktime_ns().map_err(|_| TimerError::Unsupported.into())
    }

    fn hz(&mut self, _msg: &RecvMessage) -> Result<u32, RequestError<core::convert::Infallible>> {
        Ok(self.core.hz().get())
    }

    fn hook_register(&mut self, msg: &RecvMessage, notification: u8, run_always: bool) -> Result<u16, RequestError<TimerError>> {
        let me = self.note_client(msg.sender)?;
        if notification >= 32 {
            return Err(TimerError::BadNotification.into());
        }
        self.catch_up();
        let target = HookMeta { task: msg.sender.0, bit: notification };
        let id = self.core.register_hook_with(Owner(me as u16), run_always, target, &HOOK_POLICY).map_err(hook_err)?;
        self.update_mode();
        Ok(id.to_bits())
    }

    fn hook_unregister(&mut self, msg: &RecvMessage, hook: u16) -> Result<(), RequestError<TimerError>> {
        let id = self.own_hook(msg, hook)?;
        if self.core.hooks().grabber() == Some(id) {
            self.release_grab(id)?;
        }
        self.core.unregister_hook(id).map_err(hook_err)?;
        self.update_mode();
        Ok(())
    }

    fn hook_grab(&mut self, msg: &RecvMessage, hook: u16) -> Result<(), RequestError<TimerError>> {
        let id = self.own_hook(msg, hook)?;
        self.core.grab_hook(id, &HOOK_POLICY).map_err(hook_err)?;
        Ok(())
    }

    fn hook_ungrab(&mut self, msg: &RecvMessage, hook: u16) -> Result<(), RequestError<TimerError>> {
        let id = self.own_hook(msg, hook)?;
        self.release_grab(id)?;
        Ok(())
    }

    fn hook_answer(&mut self, msg: &RecvMessage, hook: u16, done: bool) -> Result<(), RequestError<TimerError>> {
        let id = self.own_hook(msg, hook)?;
        if self.core.hooks().grabber() != Some(id) {
            return Err(TimerError::NotGrabber.into());
        }
        if self.grab.ticks != 0 {
            let ticks = self.grab.ticks;
            self.run_chain(ticks, done);
        }
        Ok(())
    }

    fn hook_set_rate(&mut self, msg: &RecvMessage, hook: u16, multiplier: u8) -> Result<(), RequestError<TimerError>> {
        let id = self.own_hook(msg, hook)?;
        if self.core.hooks().grabber() != Some(id) {
            return Err(TimerError::NotGrabber.into());
        }
        if !(1..=8).contains(&multiplier) {
            return Err(TimerError::BadRate.into());
        }
        self.clock.set_periodic(multiplier).map_err(|_| TimerError::Unsupported)?;
        Ok(())
    }

    fn stats(&mut self, _msg: &RecvMessage) -> Result<Stats, RequestError<core::convert::Infallible>> {
        self.catch_up();
        let (mode, multiplier) = match self.clock.mode {
            Mode::Periodic { multiplier } => (MODE_PERIODIC, multiplier as u32),
            Mode::Oneshot => (MODE_ONESHOT, 0),
        };
        Ok(Stats {
            interrupts: self.clock.interrupts,
            device: self.clock.dev as u32,
            mode,
            multiplier,
            timers_allocated: self.core.wheel().allocated() as u32,
            timers_pending: self.core.wheel().pending_count() as u32,
            hooks: self.core.hooks().client_hooks() as u32,
            grabber_silent: self.grabber_silent,
            owners_forgotten: self.owners_forgotten,
            start_jiffies_low: self.start_jiffies as u32,
        })
    }

    fn hook_chain(&mut self, _msg: &RecvMessage, out: Leased<W, [u8]>) -> Result<u32, RequestError<TimerError>> {
        let hooks = self.core.hooks();
        let grabber = hooks.grabber();
        let entry = |id: HookId, kind: HookKind, run_always: bool| {
            let (owner, mut flags) = match kind {
                HookKind::Client(o) => (o.0 as u8, 0),
                HookKind::AdvanceJiffies => (HOOK_OWNER_BUILTIN, HOOK_ADVANCE_JIFFIES),
                HookKind::RunWheel => (HOOK_OWNER_BUILTIN, HOOK_RUN_WHEEL),
            };
            if run_always {
                flags |= HOOK_RUN_ALWAYS;
            }
            if Some(id) == grabber {
                flags |= HOOK_GRABBER;
            }
            HookEntry { id: id.to_bits(), owner, flags }
        };
        // Run order: the grabber first, then the chain without it.
        let first = hooks.iter().filter(|h| Some(h.0) == grabber);
        let rest = hooks.iter().filter(|h| Some(h.0) != grabber);
        let room = (out.len() / HOOK_ENTRY_BYTES).min(HOOK_CHAIN_MAX);
        let mut n = 0;
        for (id, kind, run_always) in first.chain(rest).take(room) {
            if out.write_at(n * HOOK_ENTRY_BYTES, entry(id, kind, run_always).as_bytes()).is_err() {
                return Err(RequestError::WentAway);
            }
            n += 1;
        }
        Ok(n as u32)
    }

    fn debug_crash(&mut self, _msg: &RecvMessage) -> Result<(), RequestError<TimerError>> {
        if cfg!(feature = "test-ops") {
            userlib::sys_panic(b"debug_crash: faulting on purpose (test-ops)")
        }
        Err(TimerError::Unsupported.into())
    }
}

impl Server {
    /// Ends a grab: a pending tick completes as "not done" and the tick
    /// rate returns to HZ.
    fn release_grab(&mut self, id: HookId) -> Result<(), TimerError> {
        self.core.ungrab_hook(id).map_err(hook_err)?;
        self.end_grab();
        Ok(())
    }

    /// What ending a grab leaves to do, once the chain has no grabber.
    fn end_grab(&mut self) {
        if self.grab.ticks != 0 {
            let ticks = self.grab.ticks;
            self.run_chain(ticks, false);
        }
        if let Mode::Periodic { multiplier } = self.clock.mode {
            if multiplier != 1 {
                let _ = self.clock.set_periodic(1);
            }
        }
    }
}

impl NotificationHandler for Server {
    fn current_notification_mask(&self) -> u32 {
        self.irq_mask()
    }

    fn handle_notification(&mut self, bits: u32) {
        if bits & self.irq_mask() != 0 {
            self.timer_interrupt();
        }
    }

    fn take_irqs_to_enable(&mut self) -> u32 {
        core::mem::take(&mut self.rearm)
    }
}

/// Storage of the fired queues (large; kept out of the stack).
static mut FIRED: Fired<POOL, OWNERS> = Fired::new();
/// Storage of the wheel and hook chain (large; kept out of the stack).
static mut CORE: core::mem::MaybeUninit<Core> = core::mem::MaybeUninit::uninit();

#[export_name = "main"]
fn main() -> ! {
    let hz = Hz::new(config::HZ).unwrap_or_else(|| userlib::sys_panic(b"config.hz must be nonzero"));
    let Some(clock) = Clock::start(slots::CLOCKEVENT, hz.get(), hz.initial_jiffies().0) else {
        userlib::sys_panic(b"no usable clock event device")
    };
    ringbuf_entry!(Trace::Start { dev: clock.dev, hz: hz.get() });
    let start = Jiffies(clock.boot_jiffies());
    // Safety: the only references to FIRED and CORE ever made; main runs
    // once and never returns. `init_in` initialises CORE in place.
    let (fired, core) = unsafe { (&mut *(&raw mut FIRED), Core::init_in(&mut *(&raw mut CORE), hz, start)) };
    let irq_bit = 1 << clock.dev;
    let mut server = Server {
        core,
        fired,
        clock,
        grab: GrabWait::default(),
        seen: [None; OWNERS],
        posts: [0; OWNERS],
        post_to: [0; OWNERS],
        grabber_silent: 0,
        owners_forgotten: 0,
        start_jiffies: start.0,
        rearm: 0,
        irq_bit,
    };
    TIMER_SERVER.store(&mut server, Ordering::Relaxed);
    sys_irq_control(server.irq_mask(), true);
    server.update_mode();
    let mut buffer = [0u8; idl::TIMER_MSG_SIZE];
    let mut held = idl::Held::new();
    loop {
        idl::dispatch_n(&mut buffer, &mut held, &mut server);
    }
}
