//! Kernel console output: one line per event the kernel itself reports
//! (boot, faults, restarts, kernel panics).
//!
//! With a log reader (app.toml `[kernel] log-task`, normally the console
//! task), a line is queued in [`LogRing`] and the reader is posted its
//! notification bit; it fetches the bytes with the `ReadLog` kernel IPC and
//! prints them in order with its other output, so a fault report costs the
//! kernel microseconds instead of holding every interrupt off while the
//! bytes go out at 115200 baud. Without one, or while the reader is not
//! healthy, and always for a kernel panic or a semihosting exit, the line
//! (after anything still queued) is written synchronously to the board's
//! byte sink (a polled USART write), so the kernel needs no driver of its
//! own.

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

/// Reports one formatted line (the newline is added) on the kernel log:
/// see [`crate::Kernel::log_line`].
#[macro_export]
macro_rules! klog {
    ($k:expr, $($arg:tt)*) => {{
        // Formatted first: the arguments may borrow the kernel.
        let line = $crate::klog::LineBuf::line(format_args!($($arg)*));
        $k.log_line(&line);
    }};
}

/// The log's storage: a static, not a `Kernel` field, so that building the
/// kernel value never moves a KiB through the 2 KiB kernel stack.
static mut LOG: LogRing = LogRing::new();

/// The kernel log.
///
/// # Safety
/// Kernel code only (SVCall, interrupts and faults from tasks share one
/// priority and never preempt each other; a fault in kernel code halts),
/// and no two results may be alive at once.
pub(crate) unsafe fn log() -> &'static mut LogRing {
    // Safety: as the caller promised.
    unsafe { &mut *(&raw mut LOG) }
}

/// Bytes of kernel log held for the reader task: about a dozen lines.
pub const LOG_BYTES: usize = 1024;
/// Longest kernel line kept whole; longer ones are cut (and still end in
/// `\r\n`).
pub const LINE_MAX: usize = 160;

/// The task that prints the kernel's log (app.toml `[kernel] log-task`)
/// and the notification bit the kernel posts it when a line is queued.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LogReader {
    /// Task index of the reader.
    pub task: usize,
    /// Notification mask posted to it (one bit).
    pub mask: u32,
}

/// A byte FIFO of whole lines: the kernel queues a line or drops it, never
/// part of one, and never overwrites bytes not yet read (a full log drops
/// the new line and counts it; the next line that fits is preceded by a
/// line saying how many were dropped).
pub struct LogRing {
    buf: [u8; LOG_BYTES],
    /// Index of the oldest unread byte.
    head: usize,
    /// Unread bytes.
    len: usize,
    /// Lines dropped since the last report of drops.
    dropped: u32,
}

impl LogRing {
    /// An empty log.
    pub const fn new() -> Self {
        LogRing { buf: [0; LOG_BYTES], head: 0, len: 0, dropped: 0 }
    }

    /// Unread bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is unread.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queues `line` whole, or drops it (counted) if it does not fit.
    pub fn push_line(&mut self, line: &[u8]) {
        if self.dropped != 0 {
            let mut note = LineBuf::new();
            let _ = write!(note, "kern: {} log lines dropped (log full)\r\n", self.dropped);
            if note.len + line.len() > LOG_BYTES - self.len {
                self.dropped += 1;
                return;
            }
            self.dropped = 0;
            self.push_bytes(note.as_bytes());
        }
        if line.len() > LOG_BYTES - self.len {
            self.dropped += 1;
            return;
        }
        self.push_bytes(line);
    }

    fn push_bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.buf[(self.head + self.len) % LOG_BYTES] = b;
            self.len += 1;
        }
    }

    /// Moves the oldest unread bytes into `out`; returns how many.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len);
        for o in out[..n].iter_mut() {
            *o = self.buf[self.head];
            self.head = (self.head + 1) % LOG_BYTES;
        }
        self.len -= n;
        n
    }

    /// Writes every unread byte to `sink` (a kernel panic, a semihosting
    /// exit, or a reader that can no longer read).
    pub fn drain_to(&mut self, sink: Sink) {
        let mut chunk = [0u8; 64];
        loop {
            let n = self.read(&mut chunk);
            if n == 0 {
                break;
            }
            sink(&chunk[..n]);
        }
    }
}

impl Default for LogRing {
    fn default() -> Self {
        Self::new()
    }
}

/// One line being formatted (at most [`LINE_MAX`] bytes; the rest is cut).
pub struct LineBuf {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl LineBuf {
    /// An empty line.
    pub const fn new() -> Self {
        LineBuf { buf: [0; LINE_MAX], len: 0 }
    }

    /// `args` then `\r\n`, cut to fit.
    pub fn line(args: fmt::Arguments<'_>) -> Self {
        let mut l = LineBuf::new();
        let _ = l.write_fmt(args);
        l.len = l.len.min(LINE_MAX - 2);
        l.buf[l.len..l.len + 2].copy_from_slice(b"\r\n");
        l.len += 2;
        l
    }

    /// The bytes so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(LINE_MAX - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(r: &mut LogRing) -> std::vec::Vec<u8> {
        let mut out = std::vec::Vec::new();
        let mut chunk = [0u8; 7];
        loop {
            let n = r.read(&mut chunk);
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&chunk[..n]);
        }
    }

    #[test]
    fn lines_come_out_whole_and_in_order_across_the_wrap() {
        let mut r = LogRing::new();
        let mut want = std::vec::Vec::new();
        for i in 0..200 {
            let l = LineBuf::line(format_args!("kern: line {i}"));
            r.push_line(l.as_bytes());
            want.extend_from_slice(l.as_bytes());
            if i % 3 == 0 {
                // The reader keeps up, in odd-sized bites.
                let mut chunk = [0u8; 13];
                let n = r.read(&mut chunk);
                assert_eq!(&chunk[..n], &want[..n]);
                want.drain(..n);
            }
            if r.len() > LOG_BYTES - 40 {
                assert_eq!(read_all(&mut r), want);
                want.clear();
            }
        }
        assert_eq!(read_all(&mut r), want);
    }

    #[test]
    fn a_full_log_drops_new_lines_whole_and_says_so() {
        let mut r = LogRing::new();
        let line = LineBuf::line(format_args!("kern: {}", "x".repeat(94)));
        assert_eq!(line.as_bytes().len(), 102);
        for _ in 0..12 {
            r.push_line(line.as_bytes());
        }
        // Ten fit (1020 bytes); two were dropped, whole.
        assert_eq!(r.len(), 1020);
        let first = read_all(&mut r);
        assert_eq!(first.len(), 1020);
        assert!(first.chunks(102).all(|c| c == line.as_bytes()));
        r.push_line(b"kern: after\r\n");
        let text = std::string::String::from_utf8(read_all(&mut r)).unwrap();
        assert_eq!(text, "kern: 2 log lines dropped (log full)\r\nkern: after\r\n");
    }

    #[test]
    fn long_lines_are_cut_but_still_end_the_line() {
        let l = LineBuf::line(format_args!("{}", "y".repeat(500)));
        assert_eq!(l.as_bytes().len(), LINE_MAX);
        assert!(l.as_bytes().ends_with(b"\r\n"));
    }
}
