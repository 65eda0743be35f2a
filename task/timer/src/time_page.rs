//! Publishing the time page (Linux's vDSO data page, `vdso_data`): the
//! anchor through which tasks granted `[shared.time-page]` (and a
//! `clocksource` window on TIM5's CNT) read jiffies_64 and ktime with no
//! IPC (`timer_api::vdso`).
//!
//! Why here: the server owns jiffies, so it is the one writer. It
//! publishes at start, on every catch-up from the clocksource that enters
//! a new jiffy (each tickless wake, and before answering `jiffies`) and on
//! periodic ticks; readers compute the jiffies since the anchor from the
//! counter, so nothing need be written while the server sleeps, and a
//! periodic tick need not rewrite the page either: it does so every
//! `config.time-page-refresh` jiffies (app.toml; 1 = every tick), by
//! default as seldom as keeps the anchor under 2^30 cycles old (107
//! jiffies at 1 GHz and HZ 100, about 18 minutes at 1 MHz). Measured on
//! the periodic tick with nothing due: 844 instructions without a page,
//! 869 with it at the default refresh, 918 rewriting it every tick. The
//! layout, the seqlock and the rule that the published line never moves
//! back are `timer_vdso::Writer`'s (host-tested).
//!
//! Built only when app.toml makes this task the page's writer (build.rs
//! sets `cfg(time_page)` from the generated config); otherwise every
//! method is an empty inline function. The page stays unpublished (its
//! readers get `ReadError::NotPublished`) if jiffies do not start on whole
//! clocksource cycles and whole ns (`rate % HZ != 0` or `1e9 % HZ != 0`).

use crate::clocksource::Clocksource;

/// The page and its writer (or nothing, see the module docs).
pub(crate) struct TimePage {
    #[cfg(time_page)]
    inner: Option<(timer_vdso::Writer, timer_vdso::Page)>,
}

impl TimePage {
    /// The writer for this server's clocksource at `hz`; takes over the line
    /// a previous incarnation published, so a restart never steps it back.
    #[cfg(time_page)]
    pub(crate) fn new(cs: &Clocksource, hz: u32) -> TimePage {
        const _: () = assert!(
            crate::shared::TIME_PAGE_SIZE as usize >= timer_vdso::PAGE_BYTES,
            "app.toml: [shared.time-page] size is smaller than the time page (timer_vdso::PAGE_BYTES); use size = 64"
        );
        let info = cs.info();
        let Some(clock) = timer_vdso::Clock::new(info.rate_hz, hz, info.mult, info.shift) else {
            return TimePage { inner: None };
        };
        // Safety: app.toml makes this task the writer of the page: the
        // region is mapped read/write for it alone, 64-byte aligned and at
        // least PAGE_BYTES long (checked above). The counter is never read
        // through this handle.
        let mut page = unsafe { timer_vdso::Page::new(crate::shared::TIME_PAGE_BASE as usize, 0) };
        #[cfg(time_page_refresh)]
        let refresh = crate::config::TIME_PAGE_REFRESH as u64;
        #[cfg(not(time_page_refresh))]
        let refresh = timer_vdso::Writer::max_refresh(clock);
        let mut writer = timer_vdso::Writer::with_refresh(clock, refresh);
        writer.adopt(&mut page);
        TimePage { inner: Some((writer, page)) }
    }

    /// No page to publish.
    #[cfg(not(time_page))]
    pub(crate) fn new(_cs: &Clocksource, _hz: u32) -> TimePage {
        TimePage {}
    }

    /// The counter read `cycles` (64-bit, since boot) is in jiffy
    /// `jiffies` of the server's time line.
    #[inline]
    pub(crate) fn sync(&mut self, cycles: u64, jiffies: u64) {
        #[cfg(time_page)]
        if let Some((w, p)) = &mut self.inner {
            w.sync(p, cycles, jiffies);
        }
        #[cfg(not(time_page))]
        let _ = (cycles, jiffies);
    }

    /// Jiffies advanced to `jiffies` without a counter read (a periodic
    /// tick).
    #[inline]
    pub(crate) fn advance(&mut self, jiffies: u64) {
        #[cfg(time_page)]
        if let Some((w, p)) = &mut self.inner {
            w.advance(p, jiffies);
        }
        #[cfg(not(time_page))]
        let _ = jiffies;
    }
}
