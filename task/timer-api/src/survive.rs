//! Outliving a timer-server restart: the part [`crate::client::Timers`] and
//! [`crate::hooks::Hooks`] share.
//!
//! A set remembers what it asked the server for and which incarnation of
//! the server it asked (its `epoch`). When it learns the server restarted
//! (a call answered `ServerDied`, a closed wait ended by the kernel, or
//! the kernel's answer to `sys_refresh_task_id`), it moves to the new
//! incarnation and asks for everything again ([`Recover::recover`]).
//! Guarantees: at most one retry per call; a set never uses a handle of
//! an incarnation other than its epoch.

use crate::wire::TimerError;
use crate::Timer;
use userlib::{sys_recv_closed, sys_refresh_task_id, TaskId};

/// A client set that can set itself up again on a restarted server.
pub(crate) trait Recover {
    /// The server client (its id moves on with restarts).
    fn server(&self) -> &Timer;
    /// Points the client at the server's current incarnation.
    fn set_server(&mut self, server: Timer);
    /// The incarnation the set's handles belong to.
    fn epoch(&self) -> TaskId;
    /// Asks the current incarnation for everything again and makes it the
    /// epoch.
    fn recover(&mut self) -> Result<(), TimerError>;
}

/// Moves the set's client to the server's current incarnation (a kernel
/// syscall, no IPC); returns whether that is a new one.
fn follow<S: Recover>(s: &mut S) -> bool {
    let current = sys_refresh_task_id(s.server().task_id());
    s.set_server(Timer::from(current));
    current != s.epoch()
}

/// Runs `op`; on `ServerDied` (or if the server is known to have
/// restarted already), recovers and retries once.
pub(crate) fn retry<S: Recover, T>(s: &mut S, mut op: impl FnMut(&mut S) -> Result<T, TimerError>) -> Result<T, TimerError> {
    if s.server().task_id() != s.epoch() {
        s.recover()?;
    }
    match op(s) {
        Err(TimerError::ServerDied) => {
            follow(s);
            s.recover()?;
            op(s)
        }
        r => r,
    }
}

/// Blocks until a notification bit of `mask` arrives and returns the bits.
/// The receive is closed to the timer server, so if the server restarts
/// meanwhile the kernel wakes the set with a dead code: it recovers and
/// goes on waiting.
pub(crate) fn wait<S: Recover>(s: &mut S, mask: u32) -> Result<u32, TimerError> {
    loop {
        match sys_recv_closed(&mut [], mask, s.server().task_id()) {
            Ok(m) => return Ok(m.operation),
            Err(_) => {
                follow(s);
                s.recover()?;
            }
        }
    }
}

/// Recovers if the server restarted since the set's epoch; returns whether
/// it did.
pub(crate) fn check_server<S: Recover>(s: &mut S) -> Result<bool, TimerError> {
    if !follow(s) {
        return Ok(false);
    }
    s.recover()?;
    Ok(true)
}
