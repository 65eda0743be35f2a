//! Time without IPC: jiffies_64 and ktime (ns since boot) read from the
//! timer server's time page and the clocksource counter, as Linux's vDSO
//! serves `clock_gettime` (names as in Linux: `get_jiffies_64`,
//! `ktime_get`, `ktime_get_ns`).
//!
//! Why: a read through the server is an IPC (two in tickless mode). Here
//! it is a few loads under a sequence lock and one divide (jiffies) or one
//! multiply (ns): see `timer_vdso` for the layout, the seqlock and what a
//! read guarantees (never torn, never backwards, exact across the 32-bit
//! counter's wrap and a jiffy update racing the read).
//!
//! Who may: only a task app.toml grants both the page (as a reader of
//! `[shared.time-page]`) and the counter (a read-only window named
//! `clocksource` on TIM5 holding CNT at 0x4000_0C24):
//!
//! ```toml
//! [shared.time-page]
//! size = 64
//! writer = "timer"
//! readers = ["heartbeat"]
//!
//! [tasks.heartbeat]
//! windows = { clocksource = { peripheral = "tim5", offset = 0x20, size = 32, access = "read" } }
//! ```
//!
//! and it says so with [`time_page!`] at its crate root, which defines a
//! module of free functions:
//!
//! ```ignore
//! timer_api::time_page!(vdso);
//! let j = vdso::get_jiffies_64();
//! let ns = vdso::ktime_get_ns();
//! ```
//!
//! In a task that app.toml does not grant both, this is a compile-time
//! error: the generated config has no `shared::TIME_PAGE_BASE` (or no
//! `windows::CLOCKSOURCE_BASE`), and rustc says "cannot find value
//! `TIME_PAGE_BASE` in module `crate::shared`" (or "could not find
//! `shared` in the crate root"). A window that does not cover TIM5's CNT
//! is a compile-time error naming the fix.
//!
//! At run time a read can still fail in two ways, each a panic naming the
//! cause (the `try_` forms return them instead): the page was never
//! published (the timer server's clocksource rate or 1e9 is not a
//! multiple of HZ), or it stayed mid-update for `MAX_RETRIES` tries (the
//! timer server died in the middle of an update and was not restarted).
//! A reader ranks below the timer server (app.toml insists), so it never
//! sees the page published late or an update in progress otherwise.
//!
//! The IPC operations `jiffies` and `ktime_get` stay; they agree with the
//! page to within one jiffy (exactly, in tickless mode: both read the same
//! counter line; in periodic mode the page's jiffies change at the
//! clocksource's jiffy boundary, up to the tick's interrupt latency before
//! the server's do). ktime from the page is the clocksource's, as the
//! server's `ktime_get` is.

pub use timer_vdso::{Page, ReadError, MAX_RETRIES, PAGE_BYTES};
use timer_vdso::Source;

/// TIM5's CNT, the clocksource counter of `drv/clockevent-stm32`
/// (RM0090: TIM5 at 0x4000_0C00, CNT at offset 0x24).
pub const CLOCKSOURCE_COUNTER: u32 = 0x4000_0C24;

/// A granted time page and counter window. Made by [`time_page!`].
#[derive(Copy, Clone, Debug)]
pub struct TimePage {
    page: Page,
}

impl TimePage {
    /// The page at `page_base` (`page_size` bytes) and the counter in the
    /// window at `window_base` (`window_size` bytes). Fails to compile (in
    /// a `const`, as [`time_page!`] uses it) if the page is too small or
    /// the window does not hold [`CLOCKSOURCE_COUNTER`].
    ///
    /// # Safety
    /// Both ranges are mapped readable for this task (app.toml grants
    /// them: `shared::TIME_PAGE_*` and `windows::CLOCKSOURCE_*` of the
    /// generated config are such ranges).
    pub const unsafe fn from_grant(page_base: u32, page_size: u32, window_base: u32, window_size: u32) -> TimePage {
        assert!(
            page_size as usize >= PAGE_BYTES && page_base % 4 == 0,
            "app.toml: [shared.time-page] is smaller than the time page; use size = 64"
        );
        assert!(
            window_base <= CLOCKSOURCE_COUNTER && CLOCKSOURCE_COUNTER + 4 <= window_base + window_size,
            "app.toml: this task's `clocksource` window does not hold TIM5's CNT (0x4000_0C24); \
             use windows = {{ clocksource = {{ peripheral = \"tim5\", offset = 0x20, size = 32, access = \"read\" }} }}"
        );
        // Safety: the caller's contract; CNT reads have no side effects.
        TimePage { page: unsafe { Page::new(page_base as usize, CLOCKSOURCE_COUNTER as usize) } }
    }

    /// jiffies_64 now, or why not.
    #[inline(always)]
    pub fn try_get_jiffies_64(&self) -> Result<u64, ReadError> {
        timer_vdso::read_jiffies(&mut self.page.clone())
    }

    /// ns since boot now, or why not.
    #[inline(always)]
    pub fn try_ktime_get_ns(&self) -> Result<u64, ReadError> {
        timer_vdso::read_ktime(&mut self.page.clone())
    }

    /// (jiffies_64, ns since boot) at one counter value, or why not.
    pub fn try_both(&self) -> Result<(u64, u64), ReadError> {
        timer_vdso::read_both(&mut self.page.clone())
    }

    /// jiffies_64 now (Linux's `get_jiffies_64`). Panics, naming the
    /// cause, if the page cannot be read (see the module docs).
    #[inline(always)]
    pub fn get_jiffies_64(&self) -> u64 {
        match self.try_get_jiffies_64() {
            Ok(j) => j,
            Err(e) => failed(e),
        }
    }

    /// ns since boot now (Linux's `ktime_get_ns`; `ktime_get` is the same
    /// number). Panics, naming the cause, if the page cannot be read.
    #[inline(always)]
    pub fn ktime_get_ns(&self) -> u64 {
        match self.try_ktime_get_ns() {
            Ok(n) => n,
            Err(e) => failed(e),
        }
    }

    /// The raw page and counter (for a reader that counts its accesses).
    pub const fn raw(&self) -> Page {
        self.page
    }

    /// The clocksource counter's raw 32-bit value (TIM5 CNT).
    #[inline(always)]
    pub fn counter(&self) -> u32 {
        self.page.clone().counter()
    }
}

#[cold]
#[inline(never)]
fn failed(e: ReadError) -> ! {
    match e {
        ReadError::NotPublished => userlib::sys_panic(
            b"time page not published: the timer server has not started, or its clocksource rate (or 1e9) is not a multiple of HZ",
        ),
        ReadError::Busy => {
            userlib::sys_panic(b"time page stayed mid-update: the timer server died while updating it and was not restarted")
        }
    }
}

/// Defines `mod $name` with `get_jiffies_64`, `jiffies_64`, `ktime_get`,
/// `ktime_get_ns` and `page()`, reading the time page app.toml grants this
/// task (see the module docs; a compile-time error if it grants none).
/// Use it at the crate root, where the generated config is included.
#[macro_export]
macro_rules! time_page {
    ($name:ident) => {
        #[allow(dead_code)]
        mod $name {
            /// The page and counter app.toml grants this task.
            pub const PAGE: $crate::vdso::TimePage = {
                // Safety: the generated config's shared region and window
                // are mapped readable for this task.
                unsafe {
                    $crate::vdso::TimePage::from_grant(
                        crate::shared::TIME_PAGE_BASE,
                        crate::shared::TIME_PAGE_SIZE,
                        crate::windows::CLOCKSOURCE_BASE,
                        crate::windows::CLOCKSOURCE_SIZE,
                    )
                }
            };
            /// The raw page and counter (`timer_vdso`'s reader functions).
            pub const PAGE_RAW: $crate::vdso::Page = PAGE.raw();
            /// The time page handle (for the `try_` reads).
            pub fn page() -> $crate::vdso::TimePage {
                PAGE
            }
            /// jiffies_64 now, from the time page (no IPC).
            #[inline(always)]
            pub fn get_jiffies_64() -> u64 {
                PAGE.get_jiffies_64()
            }
            /// Same as `get_jiffies_64`.
            #[inline(always)]
            pub fn jiffies_64() -> u64 {
                PAGE.get_jiffies_64()
            }
            /// ns since boot now, from the time page (no IPC).
            #[inline(always)]
            pub fn ktime_get_ns() -> u64 {
                PAGE.ktime_get_ns()
            }
            /// ns since boot now (Linux's `ktime_get`, as ns).
            #[inline(always)]
            pub fn ktime_get() -> u64 {
                PAGE.ktime_get_ns()
            }
        }
    };
}
