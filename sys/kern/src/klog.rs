//! Kernel console output: one line per event the kernel itself reports
//! (boot, faults, restarts, kernel panics).
//!
//! The board start-up code supplies the byte sink (a polled USART write),
//! so the kernel needs no driver of its own. Output is synchronous and
//! short; it is not on any fast path.

use core::fmt::{self, Write};

/// A sink for kernel console bytes.
pub type Sink = fn(&[u8]);

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
