//! Client hooks and the grab protocol, as IPC: registering a hook (its
//! token is the caller's task and notification bit), unregistering it,
//! grabbing and releasing the tick, the grabber's answer and its tick
//! rate, and listing the chain for inspection.
//!
//! The protocol itself (a tick waits for the grabber's answer; a silent or
//! departed grabber's tick runs as "not done") is `timer_tick::TickPath`'s.
//! What is left here: who may (`grab-tasks`, `hook-quota`, the caller owns
//! the hook, only the grabber answers or changes the rate), the device's
//! rate (1..=8 x HZ while grabbed, back to HZ when the grab ends), and the
//! mode change a hook implies (a hook needs every tick: no nohz).

use crate::{Server, HOOK_POLICY};
use crate::ops::hook_err;
use idol_runtime::{Leased, RequestError, W};
use timer_api::wire::{
    HookEntry, HOOK_ADVANCE_JIFFIES, HOOK_CHAIN_MAX, HOOK_ENTRY_BYTES, HOOK_GRABBER, HOOK_OWNER_BUILTIN,
    HOOK_RUN_ALWAYS, HOOK_RUN_WHEEL,
};
use timer_api::TimerError;
use timer_core::{HookId, HookKind, Owner};
use timer_tick::Target;
use userlib::RecvMessage;
use zerocopy::IntoBytes;

impl Server {
    /// `hook_register`: a hook posting bit `notification` of the caller.
    pub(crate) fn register_hook(&mut self, msg: &RecvMessage, notification: u8, run_always: bool) -> Result<u16, TimerError> {
        let me = self.note_client(msg.sender)?;
        if notification >= 32 {
            return Err(TimerError::BadNotification);
        }
        self.catch_up();
        let target = Target { task: msg.sender.0, bit: notification };
        let core = self.path.core_mut();
        let id = core.register_hook_with(Owner(me as u16), run_always, target, &HOOK_POLICY).map_err(hook_err)?;
        self.update_mode();
        Ok(id.to_bits())
    }

    /// `hook_unregister`: a grab the hook holds ends first.
    pub(crate) fn unregister_hook(&mut self, msg: &RecvMessage, hook: u16) -> Result<(), TimerError> {
        let id = self.own_hook(msg, hook)?;
        if self.path.core().hooks().grabber() == Some(id) {
            self.release_grab(id)?;
        }
        self.path.core_mut().unregister_hook(id).map_err(hook_err)?;
        self.update_mode();
        Ok(())
    }

    /// `hook_grab`: only for tasks in `grab-tasks`, one grab at a time.
    pub(crate) fn grab(&mut self, msg: &RecvMessage, hook: u16) -> Result<(), TimerError> {
        let id = self.own_hook(msg, hook)?;
        self.path.core_mut().grab_hook(id, &HOOK_POLICY).map_err(hook_err)
    }

    /// `hook_ungrab`.
    pub(crate) fn ungrab(&mut self, msg: &RecvMessage, hook: u16) -> Result<(), TimerError> {
        let id = self.own_hook(msg, hook)?;
        self.release_grab(id)
    }

    /// `hook_answer`: the grabber's answer to the tick it was posted.
    pub(crate) fn answer(&mut self, msg: &RecvMessage, hook: u16, done: bool) -> Result<(), TimerError> {
        let id = self.own_hook(msg, hook)?;
        self.path.answer(id, done).map_err(hook_err)?;
        self.deliver();
        Ok(())
    }

    /// `hook_set_rate`: the grabber runs the device at `multiplier` x HZ.
    pub(crate) fn set_rate(&mut self, msg: &RecvMessage, hook: u16, multiplier: u8) -> Result<(), TimerError> {
        let id = self.own_hook(msg, hook)?;
        if self.path.core().hooks().grabber() != Some(id) {
            return Err(TimerError::NotGrabber);
        }
        if !(1..=8).contains(&multiplier) {
            return Err(TimerError::BadRate);
        }
        self.set_periodic(multiplier).map_err(|_| TimerError::Unsupported)
    }

    /// Ends a grab: a pending tick completes as "not done" and the tick
    /// rate returns to HZ.
    fn release_grab(&mut self, id: HookId) -> Result<(), TimerError> {
        self.path.ungrab(id).map_err(hook_err)?;
        self.deliver();
        self.restore_rate();
        Ok(())
    }

    /// `hook_chain`: the chain in run order (the grabber first) into `out`.
    pub(crate) fn list_hooks(&mut self, out: Leased<W, [u8]>) -> Result<u32, RequestError<TimerError>> {
        let hooks = self.path.core().hooks();
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
}
