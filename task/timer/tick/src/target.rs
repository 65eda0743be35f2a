//! What a timer and a hook carry through the core: whom to notify.
//!
//! Why this module exists: the core stores one token per timer and one per
//! hook and hands it back when the timer expires or the hook runs. The
//! timer server's tokens say which task to post and which notification
//! bit; a timer's also holds the client's own token and its slack policy.
//!
//! Guarantees: [`TimerToken`] is 8 bytes (it is stored for every timer of
//! the pool); a target whose task index is not below the server's `OWNERS`,
//! or whose bit is not below 32, is never posted (see [`crate::Posts`]).

use timer_core::Slack;

/// A notification target: task `task` (a raw `TaskId`, generation
/// included) gets bit `bit` (0..32) of its notification word. The hook
/// chain's token.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Target {
    /// The task's `TaskId` as the kernel gave it, with its generation.
    pub task: u16,
    /// The notification bit to post, `0..32`.
    pub bit: u8,
}

/// What the wheel stores with each timer.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct TimerToken {
    /// The owner's `TaskId` (with its generation) to post to.
    pub task: u16,
    /// The owner's notification bit.
    pub bit: u8,
    /// Slack policy: 0 none, negative the default, `n > 0` up to `n`
    /// jiffies (see [`TimerToken::slack`]).
    pub slack: i8,
    /// The client's token, returned in its fired records.
    pub user: u32,
}

impl TimerToken {
    /// The most jiffies of slack a token keeps.
    pub const MAX_SLACK: i32 = 127;

    /// A token for `target` with the client's `user` token and `slack`
    /// jiffies of slack: 0 none, negative Linux's default, at most
    /// [`TimerToken::MAX_SLACK`]; `None` for more (never clamped silently).
    pub fn new(target: Target, slack: i32, user: u32) -> Option<TimerToken> {
        let slack = Self::encode_slack(slack)?;
        Some(TimerToken { task: target.task, bit: target.bit, slack, user })
    }

    /// `slack` as a token stores it, `None` above [`TimerToken::MAX_SLACK`].
    pub fn encode_slack(slack: i32) -> Option<i8> {
        match slack {
            s if s < 0 => Some(-1),
            s if s <= Self::MAX_SLACK => Some(s as i8),
            _ => None,
        }
    }

    /// Whom its expiries notify.
    #[inline(always)]
    pub fn target(self) -> Target {
        Target { task: self.task, bit: self.bit }
    }

    /// Its slack policy.
    pub fn slack(self) -> Slack {
        match self.slack {
            0 => Slack::None,
            n if n < 0 => Slack::Default,
            n => Slack::Jiffies(n as u32),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_eight_bytes_and_keeps_its_target_and_slack() {
        assert_eq!(core::mem::size_of::<TimerToken>(), 8);
        let t = TimerToken::new(Target { task: 0x0405, bit: 3 }, 127, 77).unwrap();
        assert_eq!(t.target(), Target { task: 0x0405, bit: 3 });
        assert_eq!((t.slack(), t.user), (Slack::Jiffies(127), 77));
        // More than it keeps is refused, never clamped.
        assert!(TimerToken::new(Target::default(), 128, 0).is_none());
        assert!(TimerToken::new(Target::default(), i32::MAX, 0).is_none());
        assert_eq!(TimerToken::new(Target::default(), 0, 0).unwrap().slack(), Slack::None);
        assert_eq!(TimerToken::new(Target::default(), -5, 0).unwrap().slack(), Slack::Default);
        assert_eq!(TimerToken::new(Target::default(), i32::MIN, 0).unwrap().slack(), Slack::Default);
    }
}
