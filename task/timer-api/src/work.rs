//! Delayed work: run a function in this task after a delay, with cancel,
//! flush and self-rearm (the role of Linux's `delayed_work` on a
//! workqueue, and of LDD3's "Flow of Time" deferred work; Zephyr's
//! `k_work_delayable`).
//!
//! A task has no second thread, so "in this task" means: from the task's
//! own loop. Each [`DelayedWork`] owns a one-shot timer of the task's
//! [`Timers`] set; when its notification bit arrives the loop calls
//! [`Timers::collect`] (or [`Timers::handle_notification`]) and then
//! [`DelayedWork::run`], which calls the work function if its timer
//! fired. The function returns a [`Requeue`] to rearm itself.
//!
//! | Linux                         | here                              |
//! |-------------------------------|-----------------------------------|
//! | `queue_delayed_work(wq, w, d)`| [`DelayedWork::queue`]            |
//! | `mod_delayed_work(wq, w, d)`  | [`DelayedWork::modify`]           |
//! | `cancel_delayed_work_sync(w)` | [`DelayedWork::cancel`]           |
//! | `flush_delayed_work(w)`       | [`DelayedWork::flush`]            |
//! | `delayed_work_pending(w)`     | [`DelayedWork::pending`]          |
//! | work re-queueing itself       | returning [`Requeue::After`]/[`Requeue::At`] |
//!
//! Delays are relative jiffies with the rounding of every relative wait
//! here: a delay of `d` runs the work more than `d` full jiffies later
//! ([`relative_deadline`]: `jiffies + d + 1`, clamped at
//! `MAX_JIFFY_OFFSET`). `d == 0` runs it at the next tick. Since work runs
//! only from the task's loop, it runs late by however long the loop was
//! busy; it never runs early and never concurrently with the task's other
//! code (so `cancel` never has to wait for a running work function).

use crate::client::{Id, Spec, Timers};
use crate::time::relative_deadline;
use crate::wire::{FiredRecord, TimerError};

/// What a work function wants after it ran.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum Requeue {
    /// Stay idle until queued again.
    Done,
    /// Run again more than this many full jiffies from now (relative, with
    /// the never-early rounding; drifts by the lateness of each run).
    After(u64),
    /// Run again when `jiffies_64` reaches this absolute jiffy (drift-free
    /// periodic work: return `At(due + period)`).
    At(u64),
}

/// The timer operations delayed work needs: implemented by [`Timers`]; the
/// host tests drive the state machine with a model of it.
pub trait WorkTimer {
    /// Current `jiffies_64`.
    fn jiffies(&mut self) -> u64;
    /// `mod_timer`: arm timer `id` at absolute jiffy `expires`; returns
    /// whether it was pending. Drops an expiry not yet taken.
    fn arm(&mut self, id: Id, expires: u64) -> Result<bool, TimerError>;
    /// `del_timer_sync`: returns whether it was pending. Drops an expiry
    /// not yet taken.
    fn disarm(&mut self, id: Id) -> Result<bool, TimerError>;
    /// Takes timer `id`'s expiry, if it fired (and was collected).
    fn take_fired(&mut self, id: Id) -> Option<FiredRecord>;
}

impl<const N: usize> WorkTimer for Timers<N> {
    fn jiffies(&mut self) -> u64 {
        Timers::jiffies(self)
    }
    fn arm(&mut self, id: Id, expires: u64) -> Result<bool, TimerError> {
        self.modify(id, expires)
    }
    fn disarm(&mut self, id: Id) -> Result<bool, TimerError> {
        self.del(id)
    }
    fn take_fired(&mut self, id: Id) -> Option<FiredRecord> {
        Timers::take_fired(self, id)
    }
}

/// A work function: gets the task's context and the jiffy the run was due
/// (the timer's expiry; for [`DelayedWork::flush`], the expiry the flushed
/// run had), and says whether to run again.
pub type WorkFn<C> = fn(&mut C, u64) -> Requeue;

/// One delayed-work item over timer `id` of a [`Timers`] set.
pub struct DelayedWork<C> {
    id: Id,
    func: WorkFn<C>,
    /// The absolute jiffy the work is queued for; `None` when idle.
    due: Option<u64>,
    /// Times the work function ran (timer runs and flushes).
    pub runs: u32,
}

impl<C> DelayedWork<C> {
    /// Sets up a one-shot timer in `t` posting `notification` and returns
    /// an idle work item running `func` (Linux's `INIT_DELAYED_WORK`).
    pub fn new<const N: usize>(t: &mut Timers<N>, notification: u8, func: WorkFn<C>) -> Result<Self, TimerError> {
        let id = t.setup(Spec::oneshot(notification))?;
        Ok(Self::with_timer(id, func))
    }

    /// An idle work item over a one-shot timer the caller set up.
    pub const fn with_timer(id: Id, func: WorkFn<C>) -> Self {
        DelayedWork { id, func, due: None, runs: 0 }
    }

    /// The timer it uses (its notification bit is `t.mask(id)`).
    pub fn id(&self) -> Id {
        self.id
    }

    /// Queued and not yet run (`delayed_work_pending`).
    pub fn pending(&self) -> bool {
        self.due.is_some()
    }

    /// The absolute jiffy it is queued for, if pending.
    pub fn due(&self) -> Option<u64> {
        self.due
    }

    /// `queue_delayed_work`: queues the work to run after more than
    /// `delay` full jiffies. Returns `false`, changing nothing, if it is
    /// already pending (as Linux); `true` if it queued it.
    pub fn queue(&mut self, t: &mut impl WorkTimer, delay: u64) -> Result<bool, TimerError> {
        if self.due.is_some() {
            return Ok(false);
        }
        let at = relative_deadline(t.jiffies(), delay);
        self.queue_at(t, at)?;
        Ok(true)
    }

    /// `mod_delayed_work`: (re)queues the work to run after more than
    /// `delay` full jiffies, whether or not it was pending. Returns whether
    /// it was pending.
    pub fn modify(&mut self, t: &mut impl WorkTimer, delay: u64) -> Result<bool, TimerError> {
        let was = self.due.is_some();
        let at = relative_deadline(t.jiffies(), delay);
        self.queue_at(t, at)?;
        Ok(was)
    }

    /// Queues (or re-queues) the work for absolute jiffy `at`.
    pub fn queue_at(&mut self, t: &mut impl WorkTimer, at: u64) -> Result<(), TimerError> {
        t.arm(self.id, at)?;
        self.due = Some(at);
        Ok(())
    }

    /// `cancel_delayed_work_sync`: the work will not run (an expiry already
    /// delivered but not yet run is dropped too). Returns whether it was
    /// pending. Work never runs concurrently with the caller, so there is
    /// nothing to wait for.
    pub fn cancel(&mut self, t: &mut impl WorkTimer) -> Result<bool, TimerError> {
        let was = self.due.take().is_some();
        t.disarm(self.id)?;
        Ok(was)
    }

    /// `flush_delayed_work`: if the work is pending, cancels its timer and
    /// runs it now (and honours its [`Requeue`]). Returns whether it ran
    /// (`false`: it was idle).
    pub fn flush(&mut self, t: &mut impl WorkTimer, ctx: &mut C) -> Result<bool, TimerError> {
        let Some(due) = self.due else { return Ok(false) };
        t.disarm(self.id)?;
        self.due = None;
        self.execute(t, ctx, due)?;
        Ok(true)
    }

    /// Call from the task's loop after collecting expiries: if the work's
    /// timer fired, runs the work (and re-queues it as it asks). Returns
    /// whether it ran.
    pub fn run(&mut self, t: &mut impl WorkTimer, ctx: &mut C) -> Result<bool, TimerError> {
        let Some(rec) = t.take_fired(self.id) else { return Ok(false) };
        let Some(due) = self.due else { return Ok(false) };
        // An expiry of another arm is dropped by the set (arm sequence
        // numbers); this is a second line.
        if rec.expires != due {
            return Ok(false);
        }
        self.due = None;
        self.execute(t, ctx, due)?;
        Ok(true)
    }

    fn execute(&mut self, t: &mut impl WorkTimer, ctx: &mut C, due: u64) -> Result<(), TimerError> {
        self.runs += 1;
        match (self.func)(ctx, due) {
            Requeue::Done => Ok(()),
            Requeue::After(d) => {
                let at = relative_deadline(t.jiffies(), d);
                self.queue_at(t, at)
            }
            Requeue::At(at) => self.queue_at(t, at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model of the server for one task: armed timers fire when jiffies
    /// reach them; `arm` and `disarm` drop untaken expiries, as the set
    /// does.
    struct Model {
        now: u64,
        armed: [Option<u64>; 4],
        fired: [Option<u64>; 4],
    }

    impl Model {
        fn new(now: u64) -> Self {
            Model { now, armed: [None; 4], fired: [None; 4] }
        }
        fn advance(&mut self, to: u64) {
            self.now = to;
            for i in 0..4 {
                if let Some(e) = self.armed[i] {
                    if e <= to {
                        self.armed[i] = None;
                        self.fired[i] = Some(e);
                    }
                }
            }
        }
    }

    impl WorkTimer for Model {
        fn jiffies(&mut self) -> u64 {
            self.now
        }
        fn arm(&mut self, id: Id, expires: u64) -> Result<bool, TimerError> {
            let i = id.0 as usize;
            self.fired[i] = None;
            Ok(self.armed[i].replace(expires).is_some())
        }
        fn disarm(&mut self, id: Id) -> Result<bool, TimerError> {
            let i = id.0 as usize;
            self.fired[i] = None;
            Ok(self.armed[i].take().is_some())
        }
        fn take_fired(&mut self, id: Id) -> Option<FiredRecord> {
            self.fired[id.0 as usize].take().map(|e| FiredRecord { expires: e, fired_at: self.now, ..Default::default() })
        }
    }

    #[derive(Default)]
    struct Log {
        ran_at: [u64; 8],
        n: usize,
        again: u32,
    }

    fn record(l: &mut Log, due: u64) -> Requeue {
        l.ran_at[l.n] = due;
        l.n += 1;
        Requeue::Done
    }

    fn every_5(l: &mut Log, due: u64) -> Requeue {
        record(l, due);
        if l.again > 0 {
            l.again -= 1;
            Requeue::At(due + 5)
        } else {
            Requeue::Done
        }
    }

    fn again_after_2(l: &mut Log, due: u64) -> Requeue {
        record(l, due);
        if l.n < 3 {
            Requeue::After(2)
        } else {
            Requeue::Done
        }
    }

    #[test]
    fn queue_runs_once_never_early() {
        let mut m = Model::new(100);
        let mut w = DelayedWork::with_timer(Id(0), record);
        let mut log = Log::default();
        assert!(w.queue(&mut m, 3).unwrap());
        assert_eq!(w.due(), Some(104), "more than 3 full jiffies: jiffies + 3 + 1");
        assert!(!w.queue(&mut m, 50).unwrap(), "already pending: unchanged, as Linux");
        assert_eq!(w.due(), Some(104));
        m.advance(103);
        assert!(!w.run(&mut m, &mut log).unwrap(), "not due yet");
        m.advance(104);
        assert!(w.run(&mut m, &mut log).unwrap());
        assert!(!w.run(&mut m, &mut log).unwrap(), "runs once");
        assert_eq!((log.n, log.ran_at[0], w.runs, w.pending()), (1, 104, 1, false));
        // Idle again: can be queued again.
        assert!(w.queue(&mut m, 0).unwrap());
        assert_eq!(w.due(), Some(105), "delay 0: the next tick");
    }

    #[test]
    fn modify_moves_a_pending_work_and_reports_it() {
        let mut m = Model::new(0);
        let mut w = DelayedWork::with_timer(Id(1), record);
        let mut log = Log::default();
        assert!(!w.modify(&mut m, 10).unwrap(), "was idle");
        assert!(w.modify(&mut m, 2).unwrap(), "was pending");
        assert_eq!(w.due(), Some(3));
        m.advance(3);
        assert!(w.run(&mut m, &mut log).unwrap());
        m.advance(11);
        assert!(!w.run(&mut m, &mut log).unwrap(), "the first arm is gone");
        assert_eq!(log.n, 1);
    }

    #[test]
    fn cancel_stops_it_even_after_the_timer_fired() {
        let mut m = Model::new(0);
        let mut w = DelayedWork::with_timer(Id(0), record);
        let mut log = Log::default();
        assert!(!w.cancel(&mut m).unwrap(), "idle");
        w.queue(&mut m, 5).unwrap();
        assert!(w.cancel(&mut m).unwrap());
        m.advance(10);
        assert!(!w.run(&mut m, &mut log).unwrap());
        // Fired and delivered but not yet run: cancel still wins.
        w.queue(&mut m, 1).unwrap();
        m.advance(12);
        assert!(w.cancel(&mut m).unwrap());
        assert!(!w.run(&mut m, &mut log).unwrap());
        assert_eq!((log.n, w.runs), (0, 0));
    }

    #[test]
    fn flush_runs_a_pending_work_now_and_only_then() {
        let mut m = Model::new(50);
        let mut w = DelayedWork::with_timer(Id(2), record);
        let mut log = Log::default();
        assert!(!w.flush(&mut m, &mut log).unwrap(), "idle: nothing to flush");
        w.queue(&mut m, 20).unwrap();
        assert!(w.flush(&mut m, &mut log).unwrap());
        assert_eq!((log.n, log.ran_at[0]), (1, 71), "ran now, told the jiffy it was due");
        assert!(!w.pending());
        m.advance(100);
        assert!(!w.run(&mut m, &mut log).unwrap(), "the timer was cancelled");
        assert_eq!(log.n, 1);
    }

    #[test]
    fn self_rearm_at_is_drift_free_and_after_is_relative() {
        let mut m = Model::new(0);
        let mut w = DelayedWork::with_timer(Id(0), every_5);
        let mut log = Log { again: 3, ..Default::default() };
        w.queue_at(&mut m, 10).unwrap();
        // Runs late each time (the loop was busy), the schedule does not drift.
        for late in [10u64, 17, 21, 26] {
            m.advance(late);
            assert!(w.run(&mut m, &mut log).unwrap(), "at {late}");
        }
        assert_eq!(&log.ran_at[..4], &[10, 15, 20, 25]);
        assert!(!w.pending(), "stopped re-arming");

        let mut w = DelayedWork::with_timer(Id(1), again_after_2);
        let mut log = Log::default();
        w.queue(&mut m, 0).unwrap(); // due 27
        m.advance(28);
        assert!(w.run(&mut m, &mut log).unwrap());
        assert_eq!(w.due(), Some(31), "After(2) from the run at 28: 28 + 2 + 1");
        m.advance(31);
        assert!(w.run(&mut m, &mut log).unwrap());
        m.advance(34);
        assert!(w.run(&mut m, &mut log).unwrap());
        assert_eq!((&log.ran_at[..3], w.pending(), w.runs), (&[27u64, 31, 34][..], false, 3));
        // A flush of self-rearming work runs it and keeps the re-arm.
        let mut w = DelayedWork::with_timer(Id(3), every_5);
        let mut log = Log { again: 1, ..Default::default() };
        w.queue_at(&mut m, 40).unwrap();
        assert!(w.flush(&mut m, &mut log).unwrap());
        assert_eq!(w.due(), Some(45));
    }
}
