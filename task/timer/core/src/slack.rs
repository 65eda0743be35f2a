//! Timer slack: rounding an expiry later so that timers bunch up.
//!
//! Why this module exists: timers that may fire a little late (timeouts,
//! housekeeping) cost fewer wake-ups and fewer wheel slots if their expiries
//! are rounded to "round" jiffy values. The rule (Linux's `apply_slack`, kernel/timer.c):
//! allow the expiry to move later by at most the slack, and within the
//! window `(expires, expires + slack]` pick the value with the most trailing
//! zero bits (it is unique). Every expiry in a window that reaches the same
//! round value lands on it, which is what lets timers share a slot.
//!
//! Guarantees: the result `r` satisfies `expires <= r <= expires + slack`
//! (in wrapping 64-bit jiffies arithmetic), so slack never makes a timer
//! fire early; `r == expires` exactly when the slack is zero (or, for
//! [`Slack::Default`], the timer is less than 256 jiffies away).

use crate::jiffies::Jiffies;

/// How much later than asked a timer may fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Slack {
    /// Exactly on time: no rounding.
    #[default]
    None,
    /// Linux's default (`timer_slack` unset): about 0.4 % of the remaining time
    /// (`(expires - now) / 256` jiffies), and no slack at all for timers
    /// less than 256 jiffies away.
    Default,
    /// Up to this many jiffies late.
    Jiffies(u32),
}

/// Slacks up to this many jiffies are kept exactly (see [`kept_slack`]).
pub const EXACT_SLACK: u32 = 1023;

/// The slack a timer keeps when `slack` jiffies are asked for: `slack`
/// itself up to [`EXACT_SLACK`], above it rounded down to six significant
/// bits (so less than 1/32 of it is lost: 5,000 keeps 4,992). Rounding
/// down only ever makes a timer less late than it allowed, never later,
/// and never early. Any `u32` is accepted (the timer server stores the
/// result in 11 bits of each timer's token).
pub const fn kept_slack(slack: u32) -> u32 {
    if slack <= EXACT_SLACK {
        return slack;
    }
    let shift = (31 - slack.leading_zeros()) - 5;
    (slack >> shift) << shift
}

/// Round `expires` (absolute, jiffies) later within the allowed slack, as
/// seen from `now` (absolute, jiffies; only used by [`Slack::Default`]).
///
/// Returns `expires` for zero slack, else the value of the window
/// `(expires, expires + slack]` with the most trailing zero bits. Wrap at 2^64 is handled: a window that
/// contains the wrap point rounds to 0, which is a multiple of everything.
pub fn apply_slack(expires: Jiffies, now: Jiffies, slack: Slack) -> Jiffies {
    let width: u64 = match slack {
        Slack::None => return expires,
        Slack::Jiffies(s) => s as u64,
        Slack::Default => {
            let delta = expires.0.wrapping_sub(now.0) as i64;
            if delta < 256 {
                return expires;
            }
            delta as u64 / 256
        }
    };
    let limit = expires.0.wrapping_add(width);
    let differ = expires.0 ^ limit;
    if differ == 0 {
        return expires;
    }
    // The highest bit where the two ends of the window differ: the window
    // crosses a multiple of 2^bit, and the first such multiple is the answer.
    let bit = 63 - differ.leading_zeros();
    let low_mask = (1u64 << bit) - 1;
    Jiffies(limit & !low_mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_slack_is_exact_then_six_bits_rounded_down() {
        for s in 0..=EXACT_SLACK {
            assert_eq!(kept_slack(s), s);
        }
        assert_eq!(kept_slack(1024), 1024);
        assert_eq!(kept_slack(1025), 1024);
        assert_eq!(kept_slack(2047), 2016);
        assert_eq!(kept_slack(5000), 4992);
        let mut prev = 0;
        for s in (EXACT_SLACK + 1..u32::MAX - 1000).step_by(9_973).chain([u32::MAX, i32::MAX as u32]) {
            let k = kept_slack(s);
            assert!(k <= s && s - k < s / 32 + 1, "{s} kept as {k}");
            assert!(k >= prev || s < prev, "monotonic");
            assert!(k.count_ones() <= 6, "six significant bits: {s} -> {k}");
            prev = k;
        }
    }

    fn slack_j(e: u64, s: u32) -> u64 {
        apply_slack(Jiffies(e), Jiffies(0), Slack::Jiffies(s)).0
    }

    #[test]
    fn no_slack_keeps_expiry() {
        assert_eq!(apply_slack(Jiffies(12345), Jiffies(0), Slack::None).0, 12345);
        assert_eq!(slack_j(12345, 0), 12345);
    }

    #[test]
    fn rounds_to_most_trailing_zeros_within_window() {
        assert_eq!(slack_j(1000, 30), 1024);
        assert_eq!(slack_j(1000, 23), 1008); // 1024 out of reach; 1008 = 0b1111110000
        assert_eq!(slack_j(0x30, 5), 0x34); // strictly later even though 0x30 is rounder
        assert_eq!(slack_j(0x1234, 0x10), 0x1240);
        assert_eq!(slack_j(0x1001, 2), 0x1002);
        assert_eq!(slack_j(0x1000, 0xfff), 0x1800); // already round but a rounder value is in reach
    }

    #[test]
    fn default_slack_is_quarter_percent_and_none_below_256() {
        let now = Jiffies(1_000_000);
        assert_eq!(apply_slack(Jiffies(now.0 + 255), now, Slack::Default), Jiffies(now.0 + 255));
        assert_eq!(apply_slack(Jiffies(now.0 - 5), now, Slack::Default), Jiffies(now.0 - 5));
        let e = Jiffies(now.0 + 25_600 + 3); // slack 100
        let r = apply_slack(e, now, Slack::Default);
        assert!(r.0 >= e.0 && r.0 <= e.0 + 100);
        assert_eq!(r.0 % 64, 0);
    }

    #[test]
    fn window_across_u64_wrap_rounds_to_zero() {
        assert_eq!(slack_j(u64::MAX - 3, 10), 0);
    }

    #[test]
    fn result_is_in_window_and_roundest() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let e = x >> (x % 50);
            let s = (x >> 40) as u32 % 5000;
            let r = slack_j(e, s);
            let off = r.wrapping_sub(e);
            assert!(off <= s as u64, "e={e:#x} s={s} r={r:#x}");
            if s == 0 {
                assert_eq!(r, e);
                continue;
            }
            assert!(off >= 1);
            // No value in (e, e + s] has more trailing zeros than r.
            let tz = if r == 0 { 64 } else { r.trailing_zeros() };
            if tz < 63 {
                let step = 1u64 << (tz + 1);
                // First multiple of `step` strictly after e.
                let next_rounder = (e & !(step - 1)).wrapping_add(step);
                let dist = next_rounder.wrapping_sub(e);
                assert!(dist > s as u64, "e={e:#x} s={s} r={r:#x} missed {next_rounder:#x}");
            }
        }
    }
}
