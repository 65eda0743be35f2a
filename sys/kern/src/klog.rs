//! Kernel console output: one line per event the kernel itself reports
//! (boot, faults, restarts, kernel panics).
//!
//! The board start-up code supplies the byte sink (a polled USART write),
//! so the kernel needs no driver of its own. Output is synchronous and
//! short; it is not on any fast path.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicUsize, Ordering};

/// A sink for kernel console bytes.
pub type Sink = fn(&[u8]);

/// The board's console sink, registered at the start of board start-up
/// (before the kernel exists) so that a fault or NMI taken before the
/// kernel pointer is set can still be reported. 0: none yet.
static EARLY_SINK: AtomicUsize = AtomicUsize::new(0);

/// Registers `sink` for reports made before the kernel is running.
pub fn set_early_sink(sink: Sink) {
    EARLY_SINK.store(sink as usize, Ordering::Release);
}

/// The sink registered with [`set_early_sink`], if any.
pub fn early_sink() -> Option<Sink> {
    match EARLY_SINK.load(Ordering::Acquire) {
        0 => None,
        // Safety: the only non-zero value ever stored is a `Sink` cast to
        // usize by `set_early_sink`; fn pointers and usize have the same
        // size on every target this builds for.
        v => Some(unsafe { core::mem::transmute::<usize, Sink>(v) }),
    }
}

/// `core::fmt` adapter over a [`Sink`].
pub struct Writer(pub Sink);

impl Write for Writer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        (self.0)(s.as_bytes());
        Ok(())
    }
}

/// Writes one formatted line (the newline is added) to the kernel console.
#[macro_export]
macro_rules! klog {
    ($k:expr, $($arg:tt)*) => {{
        use core::fmt::Write as _;
        let mut w = $crate::klog::Writer($k.klog);
        let _ = w.write_fmt(format_args!($($arg)*));
        let _ = w.write_str("\r\n");
    }};
}
