//! A task above the timer server that holds the CPU for 3.5 periods of
//! HZ 100 each time it is posted (test-timer-hooks: lost ticks).
//!
//! While it spins the timer server cannot run, so the tick device fires
//! again before its interrupt is taken and the interrupts merge (the
//! update flag and the NVIC's pending latch hold one event each). The
//! runner checks that jiffies still advance by the periods that ended.
//! It times itself on the clocksource (TIM5 CNT, 1 MHz in these images)
//! through its own read-only window: it may not call the timer server,
//! which ranks below it.

/// How long the hog holds the CPU, in µs of the clocksource.
pub const HOG_US: u32 = 35_000;

/// TIM5's CNT (RM0090: TIM5 at 0x4000_0C00, CNT at 0x24).
#[cfg(feature = "hookhog")]
const TIM5_CNT: u32 = 0x4000_0C24;

#[cfg(feature = "hookhog")]
const _: () = assert!(
    crate::windows::CLOCKSOURCE_BASE <= TIM5_CNT && TIM5_CNT + 4 <= crate::windows::CLOCKSOURCE_BASE + crate::windows::CLOCKSOURCE_SIZE,
    "the hog's `clocksource` window must hold TIM5's CNT"
);

#[cfg(feature = "hookhog")]
fn clocksource() -> u32 {
    // Safety: TIM5 CNT is in this task's read-only `clocksource` window
    // (checked above); reading it has no side effect.
    unsafe { core::ptr::read_volatile(TIM5_CNT as *const u32) }
}

/// Waits to be posted, then spins [`HOG_US`]; forever.
#[cfg(feature = "hookhog")]
pub fn run() -> ! {
    loop {
        userlib::sys_recv_notification(crate::notifications::GO_MASK);
        let start = clocksource();
        while clocksource().wrapping_sub(start) < HOG_US {}
    }
}
