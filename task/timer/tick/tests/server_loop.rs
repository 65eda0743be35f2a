//! Drives the whole tick path the way the timer server does: tick
//! interrupts in, posts out through a model kernel that refuses posts to
//! dead tasks, dead owners forgotten, a grabber answering over "IPC", and
//! owners fetching their records. One long scenario, checked at each step.

use abi::{Generation, TaskId};
use std::collections::BTreeMap;
use timer_core::{HookId, HookPolicy, Hz, Jiffies, Owner, TimerHandle, TimerKind};
use timer_tick::{Core, Fired, Posts, Record, Target, TickPath, TimerToken};

const POOL: usize = 64;
const HOOKS: usize = 16;
const OWNERS: usize = 32;

/// The model kernel: which generation of each task index is alive, and the
/// notification bits each has been posted.
#[derive(Default)]
struct Kernel {
    alive: BTreeMap<usize, u8>,
    notified: BTreeMap<usize, u32>,
    posts: u32,
}

impl Kernel {
    fn spawn(&mut self, index: usize, generation: u8) -> u16 {
        self.alive.insert(index, generation);
        TaskId::for_index_and_gen(index, Generation::new(generation)).0
    }

    /// `sys_post`: 0, or nonzero if the task id is not the live one.
    fn post(&mut self, task: u16, bits: u32) -> u32 {
        let id = TaskId(task);
        if self.alive.get(&id.index()) != Some(&id.generation().get()) {
            return 1;
        }
        self.posts += 1;
        *self.notified.entry(id.index()).or_default() |= bits;
        0
    }

    fn take(&mut self, index: usize) -> u32 {
        self.notified.remove(&index).unwrap_or(0)
    }
}

/// The server's glue, as task/timer/src does it.
struct Server {
    path: TickPath<'static, POOL, HOOKS, OWNERS>,
    kernel: Kernel,
    forgotten: Vec<usize>,
}

impl Server {
    fn new(start: u64) -> Server {
        let core = Box::leak(Box::new(Core::<POOL, HOOKS, OWNERS>::starting_at(Hz::new(100).unwrap(), Jiffies(start))));
        let fired = Box::leak(Box::new(Fired::new()));
        Server { path: TickPath::new(core, fired), kernel: Kernel::default(), forgotten: Vec::new() }
    }

    /// Sends every post; a refused one means the task died: forget it, and
    /// send what that produced too.
    fn deliver(&mut self) {
        loop {
            let mut dead = 0u32;
            let posts: &mut Posts<OWNERS> = self.path.posts();
            for p in posts {
                if self.kernel.post(p.task, p.bits) != 0 {
                    dead |= 1 << TaskId(p.task).index();
                }
            }
            if dead == 0 {
                return;
            }
            while dead != 0 {
                let i = dead.trailing_zeros() as usize;
                dead &= dead - 1;
                self.path.forget(i);
                self.forgotten.push(i);
            }
        }
    }

    fn tick(&mut self) {
        self.path.tick(1);
        self.deliver();
    }

    fn arm(&mut self, task: u16, bit: u8, user: u32, period: u32, at: u64) -> TimerHandle {
        let owner = Owner(TaskId(task).index() as u16);
        let tok = TimerToken::new(Target { task, bit }, 0, user).unwrap();
        let w = self.path.core_mut().wheel_mut();
        let h = w.alloc(owner, tok, TimerKind::Normal, 16).unwrap();
        w.set_period(h, period).unwrap();
        let t = w.timer_mut(h).unwrap();
        let i = t.index();
        t.add(Jiffies(at)).unwrap();
        self.path.fired_mut().rearm(i, owner.0 as usize);
        h
    }

    fn hook(&mut self, task: u16, bit: u8, run_always: bool, policy: &HookPolicy) -> HookId {
        let owner = Owner(TaskId(task).index() as u16);
        self.path.core_mut().register_hook_with(owner, run_always, Target { task, bit }, policy).unwrap()
    }

    fn fetch(&mut self, index: usize) -> Vec<Record> {
        std::iter::from_fn(|| self.path.fired_mut().pop(index)).collect()
    }
}

#[test]
fn interrupts_to_notifications_to_fetched_records() {
    let start = Hz::new(100).unwrap().initial_jiffies().0;
    let mut s = Server::new(start);
    let ticker = s.kernel.spawn(5, 0);
    let far = s.kernel.spawn(6, 0);
    let doomed = s.kernel.spawn(9, 3);
    let speaker = s.kernel.spawn(4, 1);
    let policy = HookPolicy { per_owner: 2, grabbers: 1 << 4 };

    // A 50-jiffy periodic timer, a one-shot across a tv1 wrap (cascade from
    // tv2), and a timer of a task that will be dead when it fires.
    let periodic = s.arm(ticker, 2, 100, 50, start + 50);
    s.arm(far, 0, 200, 0, start + 280);
    s.arm(doomed, 1, 300, 0, start + 10);

    for _ in 0..9 {
        s.tick();
    }
    assert_eq!(s.kernel.posts, 0, "nothing due in the first 9 jiffies");
    s.kernel.alive.remove(&9);
    s.tick();
    // The post to the dead task failed: it is forgotten, its timer freed.
    assert_eq!(s.forgotten, [9]);
    assert_eq!(s.path.owners_forgotten(), 1);
    assert_eq!(s.path.core().wheel().owned_by(Owner(9)), 0);
    assert_eq!(s.path.fired_mut().len(9), 0);

    for _ in 10..50 {
        s.tick();
    }
    assert_eq!(s.kernel.take(5), 1 << 2);
    let r = s.fetch(5);
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].handle, r[0].expires, r[0].fired_at, r[0].token, r[0].seq), (periodic.to_bits(), start + 50, start + 50, 100, 1));

    // The speaker grabs the tick and answers "done" on 3 ticks of 4, as a
    // driver running the device at 4x HZ does; a run_always hook of the
    // ticker still sees every tick.
    let g = s.hook(speaker, 0, false, &policy);
    s.path.core_mut().grab_hook(g, &policy).unwrap();
    s.hook(ticker, 7, true, &policy);
    let before = s.path.core().jiffies();
    for n in 0..400u32 {
        s.tick();
        assert_eq!(s.kernel.take(4), 1, "the grabber is posted on every tick");
        s.path.answer(g, n % 4 != 3).unwrap();
        s.deliver();
        assert_eq!(s.kernel.take(5) & 1 << 7, 1 << 7, "run_always hook on tick {n}");
    }
    assert_eq!(s.path.core().jiffies().since(before), 100, "jiffies kept at HZ");
    assert_eq!(s.path.grabber_silent(), 0);
    // The periodic timer fired at +100 and +150, without drift; the second
    // expiry refreshed the queued record in place.
    let r = s.fetch(5);
    assert_eq!(r.iter().map(|r| (r.expires, r.fired_at)).collect::<Vec<_>>(), [(start + 150, start + 150)]);

    // The speaker dies while its tick waits for the answer: the tick runs
    // as "not done", nothing is lost, and the ticks go on without it.
    s.tick();
    assert_eq!(s.path.grab_pending(), 1);
    s.kernel.alive.remove(&4);
    let j = s.path.core().jiffies();
    s.tick();
    assert_eq!(s.forgotten, [9, 4]);
    assert_eq!(s.path.core().hooks().grabber(), None);
    assert_eq!(s.path.grabber_silent(), 1);
    assert_eq!(s.path.core().jiffies().since(j), 2, "the waiting tick and this one");
    for _ in 0..148 {
        s.tick();
    }
    assert_eq!(s.path.core().jiffies().0, start + 300);
    // Far's timer fired once, on its jiffy, after its cascade from tv2.
    assert_eq!(s.kernel.take(6), 1);
    let r = s.fetch(6);
    assert_eq!(r.iter().map(|r| (r.token, r.expires, r.fired_at)).collect::<Vec<_>>(), [(200, start + 280, start + 280)]);
    assert_eq!(s.fetch(5).iter().map(|r| r.expires).collect::<Vec<_>>(), [start + 300]);
    assert!(s.path.posts().is_empty());
}
