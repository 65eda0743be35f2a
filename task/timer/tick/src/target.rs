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

/// What the wheel stores with each timer (8 bytes: it is stored for every
/// timer of the pool).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct TimerToken {
    /// The owner's `TaskId` (with its generation) to post to.
    pub task: u16,
    /// The notification bit (bits 0..5) and the slack code (bits 5..16,
    /// see [`TimerToken::slack`]); private so that only [`TimerToken::new`]
    /// and [`TimerToken::with_slack`] pack it.
    meta: u16,
    /// The client's token, returned in its fired records.
    pub user: u32,
}

/// Slack code for Linux's default slack (the largest 11-bit code).
const SLACK_DEFAULT: u16 = 0x7FF;
/// First slack code of the rounded range (codes below are exact jiffies).
const SLACK_ROUNDED: u16 = 1024;

impl TimerToken {
    /// A token for `target` (its bit must be below 32: `None` otherwise)
    /// with the client's `user` token and `slack` jiffies of slack: 0 none,
    /// negative Linux's default, any positive value kept as
    /// [`timer_core::kept_slack`] says (exact up to 1,023, rounded down to
    /// six significant bits above: never later than asked).
    pub fn new(target: Target, slack: i32, user: u32) -> Option<TimerToken> {
        if target.bit >= 32 {
            return None;
        }
        Some(TimerToken { task: target.task, meta: u16::from(target.bit), user }.with_slack(slack))
    }

    /// The same token with `slack` (as in [`TimerToken::new`]).
    pub fn with_slack(self, slack: i32) -> TimerToken {
        TimerToken { meta: (self.meta & 0x1F) | Self::encode_slack(slack) << 5, ..self }
    }

    /// The 11-bit slack code: 0 none; 1..=1023 that many jiffies;
    /// `1024 + 32 * e + m` for `(32 + m) << (e + 5)` jiffies (the rounded
    /// range, `e <= 20` for any `i32`); 2047 the default.
    fn encode_slack(slack: i32) -> u16 {
        if slack < 0 {
            return SLACK_DEFAULT;
        }
        let kept = timer_core::kept_slack(slack as u32);
        if kept < u32::from(SLACK_ROUNDED) {
            return kept as u16;
        }
        let shift = (31 - kept.leading_zeros()) - 5;
        let (e, m) = (shift - 5, (kept >> shift) - 32);
        SLACK_ROUNDED + (e << 5 | m) as u16
    }

    /// True unless the slack is none (the arming path's one test).
    #[inline(always)]
    pub fn has_slack(self) -> bool {
        // The bit is below 32, so any slack code makes `meta` larger.
        self.meta > 0x1F
    }

    /// Whom its expiries notify.
    #[inline(always)]
    pub fn target(self) -> Target {
        Target { task: self.task, bit: (self.meta & 0x1F) as u8 }
    }

    /// Its slack policy.
    pub fn slack(self) -> Slack {
        match self.meta >> 5 {
            0 => Slack::None,
            SLACK_DEFAULT => Slack::Default,
            c if c < SLACK_ROUNDED => Slack::Jiffies(u32::from(c)),
            c => {
                let (e, m) = (u32::from(c - SLACK_ROUNDED) >> 5, u32::from(c) & 31);
                // Codes come from `encode_slack` (e <= 20); saturate anyway.
                Slack::Jiffies(((32 + u64::from(m)) << (e + 5)).min(u64::from(u32::MAX)) as u32)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_eight_bytes_and_keeps_its_target_and_slack() {
        assert_eq!(core::mem::size_of::<TimerToken>(), 8);
        let t = TimerToken::new(Target { task: 0x0405, bit: 31 }, 127, 77).unwrap();
        assert_eq!(t.target(), Target { task: 0x0405, bit: 31 });
        assert_eq!((t.slack(), t.user), (Slack::Jiffies(127), 77));
        assert!(TimerToken::new(Target { task: 1, bit: 32 }, 0, 0).is_none());
        assert_eq!(TimerToken::new(Target::default(), 0, 0).unwrap().slack(), Slack::None);
        assert!(!TimerToken::new(Target { task: 9, bit: 31 }, 0, 0).unwrap().has_slack());
        assert!(TimerToken::new(Target::default(), 1, 0).unwrap().has_slack());
        assert!(TimerToken::new(Target::default(), -1, 0).unwrap().has_slack());
        assert_eq!(TimerToken::new(Target::default(), -5, 0).unwrap().slack(), Slack::Default);
        assert_eq!(TimerToken::new(Target::default(), i32::MIN, 0).unwrap().slack(), Slack::Default);
    }

    #[test]
    fn every_slack_is_kept_as_kept_slack_says() {
        let t = TimerToken::new(Target { task: 0xFFFF, bit: 17 }, 0, u32::MAX).unwrap();
        let mut values: std::vec::Vec<i32> = (0..=3000).collect();
        values.extend((3000..i32::MAX - 100_000).step_by(99_991));
        values.push(i32::MAX);
        for s in values {
            let k = t.with_slack(s);
            let want = match timer_core::kept_slack(s as u32) {
                0 => Slack::None,
                n => Slack::Jiffies(n),
            };
            assert_eq!(k.slack(), want, "slack {s}");
            // The target and the user token are untouched.
            assert_eq!((k.target(), k.user), (Target { task: 0xFFFF, bit: 17 }, u32::MAX));
        }
        assert_eq!(t.with_slack(5000).slack(), Slack::Jiffies(4992));
        assert_eq!(t.with_slack(i32::MAX).with_slack(-1).slack(), Slack::Default);
    }
}
