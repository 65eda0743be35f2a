//! Client API of the clockevent driver (`drv/clockevent-stm32`).
//!
//! The driver implements Linux's `clock_event_device` model (kernel/time/clockevents.c) for
//! hardware timers it owns, plus one free-running clocksource counter. The
//! timer server drives it through the `ClockEvent` client generated from
//! `idl/clockevent.idol`; this crate adds the types that IDL names:
//!
//! - [`DeviceInfo`] and [`ClocksourceInfo`], fixed descriptions returned by
//!   `describe` and `clocksource_info` (`#[repr(C)]` without padding, sent
//!   as bytes with zerocopy);
//! - [`ClockEventError`], the error codes (non-zero, with a server-death
//!   variant);
//! - [`ClockEventState`] and the transition rules ([`state`]), and the time
//!   arithmetic ([`calc`]), shared by the driver and testable on the host.
//!
//! Guarantees of the wire format: the structs' layouts are fixed (checked
//! at compile time below), error discriminants and state numbers never
//! change meaning.

#![no_std]

pub mod calc;
pub mod state;

pub use calc::{CounterExtender, EventTiming, NSEC_PER_SEC};
pub use state::{ClockEventState, Transition};

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Feature bit: the device can fire at a fixed period
/// (`CLOCK_EVT_FEAT_PERIODIC`).
pub const FEAT_PERIODIC: u32 = 1;
/// Feature bit: the device can fire once at a programmed delay
/// (`CLOCK_EVT_FEAT_ONESHOT`).
pub const FEAT_ONESHOT: u32 = 2;

/// Errors of the ClockEvent interface. Discriminants are the response codes:
/// non-zero, and fixed once published.
#[derive(Copy, Clone, Debug, Eq, PartialEq, num_derive::FromPrimitive)]
#[repr(u32)]
pub enum ClockEventError {
    /// The driver restarted during (or before) a call that depends on its
    /// state, or answered with a code this enum does not have. All devices
    /// are DETACHED again and the counter extension restarted: set up again.
    ServerDied = 1,
    /// The device index is not below `device_count()`.
    NoSuchDevice = 2,
    /// The device lacks the feature the request needs (Linux's -ENOSYS):
    /// PERIODIC for `set_state_periodic`, ONESHOT for the oneshot states.
    Unsupported = 3,
    /// The request is not allowed in the device's current state (Linux's
    /// -EINVAL / -EIO): `program_event` outside ONESHOT,
    /// `set_state_oneshot_stopped` outside ONESHOT.
    BadState = 4,
    /// `program_event` with a delta of zero or less: the deadline has
    /// passed, nothing was programmed (Linux's -ETIME). The caller handles
    /// the expiry now, or programs the minimum delta if it must have an
    /// interrupt.
    Etime = 5,
    /// `set_state_periodic` with a period the device cannot time: outside
    /// `[min_delta_ns, max_delta_ns]` once rounded to whole cycles.
    OutOfRange = 6,
}

impl idol_runtime::ServerDeath for ClockEventError {
    fn server_died() -> Self {
        Self::ServerDied
    }
}

/// Copies up to 8 bytes of `name` into a zero-padded name field.
const fn name_field(name: &str) -> [u8; 8] {
    let bytes = name.as_bytes();
    let mut out = [0u8; 8];
    let mut i = 0;
    while i < bytes.len() && i < 8 {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// A name field as text: up to the first zero byte; `"?"` if not UTF-8.
fn name_str(field: &[u8; 8]) -> &str {
    let len = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    core::str::from_utf8(&field[..len]).unwrap_or("?")
}

/// Fixed description of one clock event device (`describe`), the fields of
/// Linux's `struct clock_event_device` a user needs.
#[derive(Copy, Clone, Debug, Eq, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct DeviceInfo {
    /// Name, ASCII, zero-padded (e.g. `b"tim2\0\0\0\0"`).
    pub name: [u8; 8],
    /// [`FEAT_PERIODIC`] and/or [`FEAT_ONESHOT`].
    pub features: u32,
    /// Preference among devices (higher is better), as Linux's `rating`.
    pub rating: u32,
    /// ns -> cycles: `cycles = (ns * mult) >> shift` (approximate; the
    /// driver itself converts exactly).
    pub mult: u32,
    /// See `mult`.
    pub shift: u32,
    /// Shortest delay `program_event` programs, in ns; shorter ones are
    /// raised to it. Also the shortest period.
    pub min_delta_ns: u64,
    /// Longest delay `program_event` programs, in ns; longer ones are
    /// lowered to it. Also the longest period.
    pub max_delta_ns: u64,
    /// Counting rate of the device, in Hz: delays are whole cycles of it.
    pub rate_hz: u32,
    /// NVIC number of the device's update interrupt (routed by app.toml to
    /// the task that handles it, not to the driver).
    pub irq: u32,
}

impl DeviceInfo {
    /// The description of a device called `name` (8 bytes at most) that
    /// times `timing`, with `features`, `rating` and interrupt `irq`;
    /// mult/shift and the delta limits are derived from `timing`.
    #[inline]
    pub fn new(name: &str, features: u32, rating: u32, timing: &EventTiming, irq: u32) -> Self {
        let (mult, shift) = timing.mult_shift();
        Self {
            name: name_field(name),
            features,
            rating,
            mult,
            shift,
            min_delta_ns: timing.min_delta_ns(),
            max_delta_ns: timing.max_delta_ns(),
            rate_hz: timing.rate_hz,
            irq,
        }
    }

    /// The name as text.
    pub fn name(&self) -> &str {
        name_str(&self.name)
    }

    /// True if every bit of `feature` is among the device's features.
    pub fn has(&self, feature: u32) -> bool {
        self.features & feature == feature
    }
}

/// Fixed description of the clocksource (`clocksource_info`), the fields of
/// Linux's `struct clocksource` a user needs.
#[derive(Copy, Clone, Debug, Eq, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct ClocksourceInfo {
    /// The longest interval, in ns, between two `read_counter` calls for
    /// which the 64-bit extension stays exact (Linux's `max_idle_ns`: half
    /// the wrap time, less the 11% adjustment margin). A tickless sleep
    /// must not be longer.
    pub max_idle_ns: u64,
    /// Name, ASCII, zero-padded.
    pub name: [u8; 8],
    /// Preference among clocksources (higher is better).
    pub rating: u32,
    /// Counting rate, in Hz.
    pub rate_hz: u32,
    /// cycles -> ns: `ns = (cycles * mult) >> shift`, for cycle *differences*
    /// up to `max_idle_ns` worth (use [`ClocksourceInfo::cycles_to_ns`] for
    /// any value).
    pub mult: u32,
    /// See `mult`.
    pub shift: u32,
    /// Width of the hardware counter, in bits (32 for TIM5): a task reading
    /// it directly extends it across wraps itself.
    pub bits: u32,
    /// What the hardware counter reads at cycle 0 of the clocksource:
    /// `counter = (cycles + counter_offset) mod 2^bits` (nonzero when the
    /// driver starts the counter elsewhere than 0 to reach its wrap sooner).
    pub counter_offset: u32,
}

impl ClocksourceInfo {
    /// The description of a `bits`-wide (1..=64) counter called `name`
    /// counting at `rate_hz`, computed as Linux's
    /// `__clocksource_update_freq_scale` does.
    pub fn new(name: &str, rating: u32, rate_hz: u32, bits: u32) -> Self {
        let bits = bits.clamp(1, 64);
        let mask = u64::MAX >> (64 - bits);
        let rate = rate_hz.max(1);
        let mut sec = mask / u64::from(rate);
        if sec == 0 {
            sec = 1;
        } else if sec > 600 && mask > u64::from(u32::MAX) {
            sec = 600;
        }
        let (mult, shift) =
            calc::clocks_calc_mult_shift(rate, NSEC_PER_SEC as u32, sec.min(u64::from(u32::MAX)) as u32);
        let (max_idle_ns, _) = calc::clocks_calc_max_nsecs(mult, shift, calc::clocksource_max_adjustment(mult), mask);
        Self { max_idle_ns, name: name_field(name), rating, rate_hz: rate, mult, shift, bits, counter_offset: 0 }
    }

    /// The same, with the hardware counter reading `offset` at cycle 0.
    pub const fn with_counter_offset(self, offset: u32) -> Self {
        Self { counter_offset: offset, ..self }
    }

    /// The name as text.
    pub fn name(&self) -> &str {
        name_str(&self.name)
    }

    /// `cycles` in ns, `(cycles * mult) >> shift` computed in 128 bits (no
    /// overflow for any counter value; saturates at `u64::MAX`).
    pub fn cycles_to_ns(&self, cycles: u64) -> u64 {
        calc::mul_shift(cycles, self.mult, self.shift)
    }
}

// The wire layouts: no padding (zerocopy's IntoBytes derive refuses
// padding; these pin the sizes so a field change is a visible decision).
const _: () = assert!(core::mem::size_of::<DeviceInfo>() == 48);
const _: () = assert!(core::mem::size_of::<ClocksourceInfo>() == 40);

include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));

impl ClockEvent {
    /// `state`, decoded: the state of device `dev`. A value that is not a
    /// state means the server is not the one this API was written for,
    /// reported as [`ClockEventError::ServerDied`].
    pub fn device_state(&self, dev: u8) -> Result<ClockEventState, ClockEventError> {
        let raw = self.state(dev)?;
        ClockEventState::from_u8(raw).ok_or(ClockEventError::ServerDied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_valid_response_codes() {
        for e in [
            ClockEventError::ServerDied,
            ClockEventError::NoSuchDevice,
            ClockEventError::Unsupported,
            ClockEventError::BadState,
            ClockEventError::Etime,
            ClockEventError::OutOfRange,
        ] {
            assert!(idol_runtime::is_valid_error_code(e as u32), "{e:?}");
            assert_eq!(idol_runtime::decode_error::<ClockEventError>(e as u32), e);
        }
        assert_eq!(idol_runtime::decode_error::<ClockEventError>(7), ClockEventError::ServerDied);
    }

    #[test]
    fn ops_are_numbered_in_declaration_order() {
        assert_eq!(ClockEventOperation::DeviceCount as u16, 1);
        assert_eq!(ClockEventOperation::ProgramEvent as u16, 8);
        assert_eq!(ClockEventOperation::ClocksourceInfo as u16, 11);
    }

    #[test]
    fn program_event_message_is_packed() {
        assert_eq!(core::mem::size_of::<ClockEvent_program_event_ARGS>(), 9);
        let args = ClockEvent_program_event_ARGS { dev: 1, delta_ns: -2 };
        assert_eq!(zerocopy::IntoBytes::as_bytes(&args), &[1, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    }

    #[test]
    fn device_info_round_trips_as_bytes() {
        let timing = EventTiming::new(1_000_000, 2, u32::MAX);
        let info = DeviceInfo::new("tim2", FEAT_PERIODIC | FEAT_ONESHOT, 300, &timing, 28);
        assert_eq!(info.name(), "tim2");
        assert!(info.has(FEAT_ONESHOT) && info.has(FEAT_PERIODIC | FEAT_ONESHOT));
        assert_eq!((info.min_delta_ns, info.max_delta_ns), (2_000, 4_294_967_295_000));
        let bytes = info.as_bytes();
        assert_eq!(&bytes[..8], b"tim2\0\0\0\0");
        assert_eq!(&bytes[44..48], &28u32.to_le_bytes());
        let back = DeviceInfo::read_from_bytes(bytes).unwrap();
        assert_eq!(back, info);
    }

    #[test]
    fn names_are_truncated_and_decoded() {
        let t = EventTiming::new(1, 1, 1);
        assert_eq!(DeviceInfo::new("a-very-long-name", 0, 0, &t, 0).name(), "a-very-l");
        let mut info = DeviceInfo::new("x", 0, 0, &t, 0);
        info.name = [0xFF; 8];
        assert_eq!(info.name(), "?");
    }

    #[test]
    fn clocksource_at_one_ghz() {
        let cs = ClocksourceInfo::new("tim5", 300, 1_000_000_000, 32);
        assert_eq!((cs.mult, cs.shift), (1 << 31, 31));
        assert_eq!(cs.cycles_to_ns(123_456_789_012), 123_456_789_012);
        assert!((1_900_000_000..1_920_000_000).contains(&cs.max_idle_ns), "{}", cs.max_idle_ns);
    }

    #[test]
    fn clocksource_at_84_mhz() {
        let cs = ClocksourceInfo::new("tim5", 300, 84_000_000, 32);
        // 84e6 cycles are one second, to within a ns.
        assert!(cs.cycles_to_ns(84_000_000).abs_diff(NSEC_PER_SEC) <= 1);
        // Wrap after 51.1 s: safe idle about 22.7 s.
        assert!((22_000_000_000..23_000_000_000).contains(&cs.max_idle_ns), "{}", cs.max_idle_ns);
        // Far beyond 64-bit products: no overflow, still right.
        let hour = 84_000_000u64 * 3600 * 1000;
        assert!(cs.cycles_to_ns(hour).abs_diff(3600 * 1000 * NSEC_PER_SEC) < 3600 * 1000 * 2);
    }
}
