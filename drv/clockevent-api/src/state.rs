//! The clock event device state machine of Linux's clockevents framework
//! (Linux's `clockevents_switch_state`, kernel/time/clockevents.c), as a pure transition table.
//!
//! Why it exists: the driver must refuse what Linux refuses (periodic mode
//! on a device without the PERIODIC feature, programming an event outside
//! ONESHOT, ...) with a typed error instead of faulting, and the rules are
//! easiest to trust when they are tested on their own.
//!
//! What it guarantees: [`switch_state`] and [`check_program`] are total
//! functions of their inputs (every state, target and feature set has an
//! answer), and never allow a state the device's features do not support.

use crate::{ClockEventError, FEAT_ONESHOT, FEAT_PERIODIC};

/// `enum clock_event_state`, with Linux's numbering (the wire value of the
/// `state` op).
#[derive(Copy, Clone, Debug, Eq, PartialEq, num_derive::FromPrimitive)]
#[repr(u8)]
pub enum ClockEventState {
    /// Not used by anyone: the state after the driver starts. Also stopped.
    Detached = 0,
    /// Stopped, interrupt masked.
    Shutdown = 1,
    /// Firing at a fixed period.
    Periodic = 2,
    /// Ready for, or counting down, one programmed event.
    Oneshot = 3,
    /// ONESHOT with its event cancelled: stopped until set to ONESHOT again.
    OneshotStopped = 4,
}

impl ClockEventState {
    /// The state for a wire value, if it is one.
    pub fn from_u8(raw: u8) -> Option<Self> {
        <Self as num_traits::FromPrimitive>::from_u8(raw)
    }
}

/// What the driver must do to honour an allowed transition.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum Transition {
    /// The device is already there and the request changes nothing (as in
    /// `clockevents_switch_state`, which skips a switch to the current state).
    Stay,
    /// Program the hardware for the target state, then record it.
    Enter,
}

/// Decides whether a device with `features` may go from `from` to `to`.
///
/// The rules of `__clockevents_switch_state`:
/// - DETACHED and SHUTDOWN may be entered from every state;
/// - PERIODIC needs the PERIODIC feature, ONESHOT the ONESHOT feature
///   (`Unsupported`, Linux's -ENOSYS, otherwise);
/// - ONESHOT_STOPPED may only be entered from ONESHOT (`BadState`, Linux's
///   -EINVAL, otherwise).
///
/// A request for the current state is `Stay`, except PERIODIC, which is
/// `Enter` again so that a new period takes effect.
pub fn switch_state(from: ClockEventState, to: ClockEventState, features: u32) -> Result<Transition, ClockEventError> {
    use ClockEventState::*;
    match to {
        Periodic if features & FEAT_PERIODIC == 0 => return Err(ClockEventError::Unsupported),
        Oneshot | OneshotStopped if features & FEAT_ONESHOT == 0 => return Err(ClockEventError::Unsupported),
        _ => {}
    }
    if from == to && to != Periodic {
        return Ok(Transition::Stay);
    }
    match to {
        OneshotStopped if from != Oneshot => Err(ClockEventError::BadState),
        _ => Ok(Transition::Enter),
    }
}

/// Whether an event may be programmed in `state`: only in ONESHOT, as
/// `clockevents_program_event` requires (from ONESHOT_STOPPED the caller
/// first switches back to ONESHOT, as `tick_program_event` does).
pub fn check_program(state: ClockEventState) -> Result<(), ClockEventError> {
    match state {
        ClockEventState::Oneshot => Ok(()),
        _ => Err(ClockEventError::BadState),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ClockEventState::*;

    const ALL: [ClockEventState; 5] = [Detached, Shutdown, Periodic, Oneshot, OneshotStopped];
    const BOTH: u32 = FEAT_PERIODIC | FEAT_ONESHOT;

    #[test]
    fn wire_values_are_linux_numbering() {
        for (i, s) in ALL.iter().enumerate() {
            assert_eq!(*s as u8, i as u8);
            assert_eq!(ClockEventState::from_u8(i as u8), Some(*s));
        }
        assert_eq!(ClockEventState::from_u8(5), None);
        assert_eq!(ClockEventState::from_u8(255), None);
    }

    #[test]
    fn shutdown_is_always_allowed() {
        for features in [0, FEAT_PERIODIC, FEAT_ONESHOT, BOTH] {
            for from in ALL {
                let want = if from == Shutdown { Transition::Stay } else { Transition::Enter };
                assert_eq!(switch_state(from, Shutdown, features), Ok(want), "{from:?}");
                assert!(switch_state(from, Detached, features).is_ok());
            }
        }
    }

    #[test]
    fn periodic_needs_the_feature() {
        for from in ALL {
            assert_eq!(switch_state(from, Periodic, FEAT_ONESHOT), Err(ClockEventError::Unsupported));
            assert_eq!(switch_state(from, Periodic, FEAT_PERIODIC), Ok(Transition::Enter), "{from:?}");
        }
    }

    #[test]
    fn oneshot_needs_the_feature() {
        for from in ALL {
            assert_eq!(switch_state(from, Oneshot, FEAT_PERIODIC), Err(ClockEventError::Unsupported));
            assert_eq!(switch_state(from, OneshotStopped, FEAT_PERIODIC), Err(ClockEventError::Unsupported));
        }
        assert_eq!(switch_state(Detached, Oneshot, BOTH), Ok(Transition::Enter));
        assert_eq!(switch_state(Periodic, Oneshot, BOTH), Ok(Transition::Enter));
        assert_eq!(switch_state(OneshotStopped, Oneshot, BOTH), Ok(Transition::Enter));
        assert_eq!(switch_state(Oneshot, Oneshot, BOTH), Ok(Transition::Stay));
    }

    #[test]
    fn oneshot_stopped_only_from_oneshot() {
        assert_eq!(switch_state(Oneshot, OneshotStopped, BOTH), Ok(Transition::Enter));
        assert_eq!(switch_state(OneshotStopped, OneshotStopped, BOTH), Ok(Transition::Stay));
        for from in [Detached, Shutdown, Periodic] {
            assert_eq!(switch_state(from, OneshotStopped, BOTH), Err(ClockEventError::BadState), "{from:?}");
        }
    }

    #[test]
    fn events_are_programmed_only_in_oneshot() {
        for s in ALL {
            let want = if s == Oneshot { Ok(()) } else { Err(ClockEventError::BadState) };
            assert_eq!(check_program(s), want, "{s:?}");
        }
    }

    #[test]
    fn no_transition_reaches_an_unsupported_state() {
        // Exhaustive: for every feature set and path of two requests, the
        // device never ends up in a mode it lacks.
        for features in 0..4u32 {
            for a in ALL {
                for b in ALL {
                    let mut state = Detached;
                    for to in [a, b] {
                        if switch_state(state, to, features).is_ok() {
                            state = to;
                        }
                    }
                    let needs = match state {
                        Periodic => FEAT_PERIODIC,
                        Oneshot | OneshotStopped => FEAT_ONESHOT,
                        _ => 0,
                    };
                    assert_eq!(features & needs, needs, "features {features}: {a:?} then {b:?} reached {state:?}");
                }
            }
        }
    }
}
