//! The tick device's interrupt: Linux's kernel/time/tick-common.c for this
//! server (`tick_handle_periodic`, `tick_periodic`).
//!
//! The kernel routes the device's IRQ to this task as a notification bit
//! and masks it. Here: acknowledge it (only a real device event counts,
//! see [`crate::clockevents`]: an IPC to the clockevent driver, or in
//! periodic mode on TIM2 a read and clear of its update flag through this
//! server's bit-band window, [`crate::uif_window`]), leave
//! the IRQ to be unmasked by the next receive, and hand the tick to the
//! tick path: in periodic mode one jiffy through `timer_tick::TickPath::tick`
//! (with the grab protocol), in oneshot mode the nohz handler
//! ([`crate::tick_sched`]). The posts the tick produced are delivered
//! before the server next waits.

use crate::clockevents::Mode;
use crate::{Server, Trace, __RINGBUF};
use ringbuf::ringbuf_entry;

impl Server {
    /// The tick device interrupted.
    pub(crate) fn timer_interrupt(&mut self) {
        let fresh = self.tick_dev.ack(&self.driver);
        // The device is acknowledged: its IRQ is unmasked as this server
        // next waits (the receive does it, saving an irq_control syscall).
        self.rearm |= self.irq_bit;
        if !fresh {
            return;
        }
        match self.tick_dev.mode {
            Mode::Periodic { .. } => self.tick_periodic(),
            Mode::Oneshot => self.tick_nohz_handler(),
        }
    }

    /// One periodic tick: one jiffy, or with a grabber, the grabber's turn.
    fn tick_periodic(&mut self) {
        // A tick still waiting for the grabber's answer when the next one
        // comes means the grabber stayed silent (`TickPath::tick` counts it).
        let silent = self.path.grab_pending() != 0;
        self.path.tick(1);
        self.time_page.advance(self.path.core().jiffies().0);
        if silent {
            ringbuf_entry!(Trace::GrabberSilent);
        }
        // The hot path's own copy of `deliver` (measured by `cargo xtask
        // bench`: a call here costs the 8-hook tick and the expiry latency
        // about 1% each).
        if !self.path.posts().is_empty() {
            self.deliver_inline();
        }
        // hrtimers at tick resolution (see crate::hrtimer).
        if self.hr.next_expiry().is_some() {
            self.hr_run_periodic();
        }
    }
}
