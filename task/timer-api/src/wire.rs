//! The timer interface's wire types: fixed layouts (`repr(C)`, no
//! padding) shared by the server and its clients.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Errors of the timer interface. Discriminants are response codes:
/// non-zero and fixed once published.
#[derive(Copy, Clone, Debug, Eq, PartialEq, num_derive::FromPrimitive)]
#[repr(u32)]
pub enum TimerError {
    /// The server restarted (every handle is now stale), or answered with a
    /// code this enum does not know.
    ServerDied = 1,
    /// The handle names no live timer (freed, or from before a restart).
    StaleHandle = 2,
    /// `add_timer` on an armed timer.
    AlreadyPending = 3,
    /// Every timer of the server's pool is in use.
    PoolExhausted = 4,
    /// The caller holds as many timers as its quota (app.toml) allows.
    QuotaExceeded = 5,
    /// Too many distinct tasks hold timers.
    TooManyOwners = 6,
    /// Notification bit out of 0..32.
    BadNotification = 7,
    /// No free hook slot: every client slot of the chain is taken, by
    /// other tasks (each limited by `hook-quota`).
    HookTableFull = 8,
    /// Another hook holds the grab.
    Busy = 9,
    /// The op is for the grabber only.
    NotGrabber = 10,
    /// The timer or hook belongs to another task.
    NotOwner = 11,
    /// A tick-rate multiplier outside 1..=8.
    BadRate = 12,
    /// The clock event device cannot do what was asked.
    Unsupported = 13,
    /// The caller may not grab the tick: only tasks named in the timer
    /// server's `grab-tasks` config (app.toml) may.
    NotPermitted = 14,
    /// The caller already holds as many hooks as the timer server's
    /// `hook-quota` config (app.toml) allows; unregister one first.
    HookQuota = 15,
    /// An hrtimer period shorter than the server's minimum (50 us): use a
    /// longer period, or a wheel timer or hook for per-tick work.
    BadPeriod = 16,
    /// `hrtimer_get_remaining` of an hrtimer that is not armed: start it
    /// first (or check `hrtimer_fetch`'s `active`).
    Inactive = 17,
    /// No longer returned: every slack is taken now (see `set_slack`).
    /// Kept so that error numbers stay as they were on the wire.
    BadSlack = 18,
}

impl idol_runtime::ServerDeath for TimerError {
    fn server_died() -> Self {
        Self::ServerDied
    }
}

/// Reply of `mod_timer`.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Armed {
    /// Arm sequence number of the new arm (carried by its fired records).
    pub seq: u32,
    /// 1 if the timer was pending before the call (Linux's return value).
    pub was_pending: u32,
}

/// Reply of `add_timer_after` and `mod_timer_after`.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct ArmedAt {
    /// The absolute jiffy the timer was armed for (slack applied).
    pub expires: u64,
    /// Arm sequence number of the new arm.
    pub seq: u32,
    /// 1 if the timer was pending before the call (`mod_timer_after`).
    pub was_pending: u32,
}

/// Reply of `hrtimer_fetch`.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct HrFired {
    /// ktime (ns since boot) the latest expiry was due; 0 if none.
    pub expires: u64,
    /// Expiries since the last fetch, missed periods included.
    pub count: u32,
    /// 1 if the hrtimer is still armed (periodic, or not fired yet).
    pub active: u32,
}

/// Reply of `fetch_fired`.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Fetched {
    /// Records written to the lease.
    pub count: u32,
    /// Records still queued (call again).
    pub remaining: u32,
}

/// One delivered expiry.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct FiredRecord {
    /// The timer's handle.
    pub handle: u64,
    /// The jiffy it was due (after slack).
    pub expires: u64,
    /// jiffies_64 when it fired: equal to `expires` unless the expiry was
    /// already past when armed, or ticks were missed.
    pub fired_at: u64,
    /// The token given at `setup`.
    pub token: u32,
    /// The arm sequence it fired under (see `add_timer`/`mod_timer`).
    pub seq: u32,
}

/// Reply of `stats`: what the server has done and is doing.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Stats {
    /// Tick-device interrupts taken since the server started (periodic
    /// ticks and tickless wake-ups alike), counting only those the device
    /// confirmed (the clockevent driver's `ack` found its update flag set):
    /// stale interrupts and tick bits posted by other tasks are not counted.
    pub interrupts: u32,
    /// Index of the clock event device in use (the clockevent driver's
    /// numbering).
    pub device: u32,
    /// [`MODE_PERIODIC`] or [`MODE_ONESHOT`] (tickless).
    pub mode: u32,
    /// Tick rate multiplier in periodic mode (1 unless a grabber asked for
    /// more with `hook_set_rate`); 0 in oneshot mode.
    pub multiplier: u32,
    /// Timers allocated (pending or not), all tasks together.
    pub timers_allocated: u32,
    /// Timers pending.
    pub timers_pending: u32,
    /// Client hooks in the chain (the built-in steps not counted).
    pub hooks: u32,
    /// Ticks whose grabber had not answered by the next tick (run as "not
    /// done").
    pub grabber_silent: u32,
    /// Times a dead or restarted task's timers and hooks were dropped.
    pub owners_forgotten: u32,
    /// `jiffies_64` when the server started (it resumes the clocksource's
    /// time line after a restart), low 32 bits.
    pub start_jiffies_low: u32,
}

/// `Stats::mode`: ticking at HZ (times the multiplier).
pub const MODE_PERIODIC: u32 = 0;
/// `Stats::mode`: tickless, the device programmed for the next expiry.
pub const MODE_ONESHOT: u32 = 1;

/// One hook of the chain, as `hook_chain` reports it.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct HookEntry {
    /// The hook's id (as `hook_register` returned it).
    pub id: u16,
    /// Task index of the owner; [`HOOK_OWNER_BUILTIN`] for the server's own steps.
    pub owner: u8,
    /// `HOOK_*` flags.
    pub flags: u8,
}

/// `HookEntry::owner` of the server's built-in steps.
pub const HOOK_OWNER_BUILTIN: u8 = 0xFF;
/// `HookEntry::flags`: runs even when the grabber answers done.
pub const HOOK_RUN_ALWAYS: u8 = 1 << 0;
/// `HookEntry::flags`: the grabber (runs first, answers done or not).
pub const HOOK_GRABBER: u8 = 1 << 1;
/// `HookEntry::flags`: the built-in `do_timer` step (advances jiffies).
pub const HOOK_ADVANCE_JIFFIES: u8 = 1 << 2;
/// `HookEntry::flags`: the built-in step that runs the timer wheel.
pub const HOOK_RUN_WHEEL: u8 = 1 << 3;

/// Bytes of one [`HookEntry`] on the wire.
pub const HOOK_ENTRY_BYTES: usize = core::mem::size_of::<HookEntry>();
/// Most entries `hook_chain` reports (the lease limit is 64 bytes).
pub const HOOK_CHAIN_MAX: usize = 64 / HOOK_ENTRY_BYTES;

/// Bytes of one [`FiredRecord`] on the wire.
pub const FIRED_RECORD_BYTES: usize = core::mem::size_of::<FiredRecord>();
/// Records per `fetch_fired` call (the lease limit is 256 bytes).
pub const FIRED_PER_FETCH: usize = 256 / FIRED_RECORD_BYTES;

/// `setup`'s `slack` for Linux's default slack (0.4% of the delay).
pub const SLACK_DEFAULT: i32 = -1;
/// `setup`'s `slack` for an exact timer.
pub const SLACK_NONE: i32 = 0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_layout_is_fixed() {
        assert_eq!(FIRED_RECORD_BYTES, 32);
        assert_eq!(FIRED_PER_FETCH, 8);
        assert_eq!(core::mem::size_of::<Armed>(), 8);
        assert_eq!(core::mem::size_of::<Fetched>(), 8);
        assert_eq!(core::mem::size_of::<Stats>(), 40);
        assert_eq!(HOOK_ENTRY_BYTES, 4);
        assert_eq!(HOOK_CHAIN_MAX, 16);
    }

    #[test]
    fn error_codes_are_valid_and_decode() {
        assert_eq!(core::mem::size_of::<ArmedAt>(), 16);
        assert_eq!(core::mem::size_of::<HrFired>(), 16);
        for code in 1..=17u32 {
            assert!(idol_runtime::is_valid_error_code(code));
            let e: TimerError = idol_runtime::decode_error(code);
            assert_eq!(e as u32, code);
        }
        assert_eq!(idol_runtime::decode_error::<TimerError>(99), TimerError::ServerDied);
    }
}
