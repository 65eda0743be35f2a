//! Acknowledging the periodic tick without IPC: the timer server reads and
//! clears TIM2's update flag (`SR.UIF`) itself, through its bit-band alias.
//!
//! Why: the `ack` IPC to the clockevent driver was about half of a periodic
//! tick (issue 15 item 4). app.toml may grant this server a window named
//! `tim2-sr` on the bit-band alias of TIM2 SR's low byte:
//!
//! ```toml
//! windows = { tim2-sr = { peripheral = "tim2", offset = 0x200, size = 32, access = "read-write", alias = "bit-band" } }
//! ```
//!
//! Isolation: the window is one MPU region of 32 bytes, 8 alias words,
//! one per bit of SR 0..=7 (UIF, CC1IF..CC4IF, reserved, TIF, BIF). Those
//! bits are write-0-to-clear, so the most this server can do through it is
//! clear a status flag of TIM2: it cannot start, stop, reprogram or
//! unmask the device (CR1, DIER, ARR, PSC, CNT stay the clockevent
//! driver's), nor touch any other peripheral. The driver uses only UIF, so
//! clearing the others (including by the hardware's read-modify-write of a
//! bit-band store, which can clear a flag raised between its read and its
//! write) loses nothing.
//!
//! Guarantee kept from the IPC ack: only a set flag counts. A notification
//! posted by anything but the device (a spoofed tick) finds the flag clear
//! and counts nothing.
//!
//! Used in both modes when the chosen tick device is TIM2 (the device is
//! chosen at run time); any other device keeps the IPC ack. In oneshot
//! mode (tickless, and periodic ticks emulated on a ONESHOT-only device)
//! the driver's IPC ack also stopped the counter. That is not needed:
//! - on silicon, one-pulse mode (CR1.OPM, set by the driver's `start`) has
//!   already cleared CEN at the update event (RM0090, TIMx_CR1.OPM:
//!   "counter stops counting at the next update event");
//! - QEMU 7.2 has no one-pulse mode, so the timer may fire again one delta
//!   later; but every oneshot wake-up ends by programming the next event
//!   (`program_event_at`), whose `start` stops the counter and clears UIF
//!   again, and the kernel clears the IRQ's pending latch before the
//!   server's receive unmasks it. A repeat that lands in between is
//!   forgotten. Only if programming fails does the device run on, and
//!   each repeat is then a wake-up that tries again.

use drv_clockevent_api::DeviceInfo;

/// The bit-band alias word of TIM2 SR.UIF: `0x4200_0000 + (0x4000_0010 -
/// 0x4000_0000) * 32 + 0 * 4` (SR at TIM2 + 0x10, UIF bit 0).
#[cfg_attr(not(uif_window), allow(dead_code))]
const TIM2_UIF_ALIAS: u32 = 0x4200_0200;

// A `tim2-sr` window that does not hold the UIF word writable would fault
// the server on its first tick: refuse to build instead, naming the fix.
#[cfg(uif_window)]
const _: () = assert!(
    crate::windows::TIM2_SR_WRITABLE
        && crate::windows::TIM2_SR_BASE <= TIM2_UIF_ALIAS
        && TIM2_UIF_ALIAS + 4 <= crate::windows::TIM2_SR_BASE + crate::windows::TIM2_SR_SIZE,
    "app.toml: the timer server's `tim2-sr` window must hold TIM2 SR.UIF's bit-band word (0x4200_0200) read-write; \
     use windows = {{ tim2-sr = {{ peripheral = \"tim2\", offset = 0x200, size = 32, access = \"read-write\", alias = \"bit-band\" }} }}"
);

/// The granted UIF alias word (only with a `tim2-sr` window).
#[derive(Copy, Clone)]
pub struct UifWindow {
    /// Address of the alias word; mapped read-write for this task.
    word: *mut u32,
}

impl UifWindow {
    /// The window, if app.toml grants one and the tick device `info` is
    /// the device it covers (TIM2, by the name the driver gives it).
    pub fn for_device(info: &DeviceInfo) -> Option<UifWindow> {
        if !cfg!(uif_window) || &info.name[..5] != b"tim2\0" {
            return None;
        }
        Some(UifWindow { word: TIM2_UIF_ALIAS as *mut u32 })
    }

    /// Whether TIM2 had fired (UIF set); if so, clears UIF. One load, and
    /// one store when set.
    #[inline(always)]
    pub fn ack(&self) -> bool {
        // Safety: `word` is TIM2 SR.UIF's bit-band alias, which this task's
        // `tim2-sr` window maps read-write (checked at build time above;
        // `for_device` returns None without the window). Reading the alias
        // has no side effect; writing 0 clears UIF only.
        unsafe {
            if core::ptr::read_volatile(self.word) & 1 == 0 {
                return false;
            }
            core::ptr::write_volatile(self.word, 0);
        }
        true
    }
}
