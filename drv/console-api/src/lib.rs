//! Client API of the console server (`drv/console-usart`).
//!
//! `Console` (generated from `idl/console.idol`) has one op, `write`, which
//! prints up to [`LINE_MAX`] bytes as one unit: the server handles one IPC
//! at a time, so text sent in one call is never interleaved with another
//! task's.
//!
//! For formatted output, [`console_writeln!`] formats into a stack buffer
//! and sends the whole line in one call:
//!
//! ```no_run
//! use drv_console_api::{console_writeln, Console};
//! # let slot = userlib::TaskId::for_index_and_gen(1, userlib::Generation::ZERO);
//! let console = Console::from(slot); // normally `slots::CONSOLE`
//! let (n, total) = (3, 10);
//! console_writeln!(console, "tick {} of {}", n, total);
//! ```
//!
//! Lines longer than [`LINE_MAX`] bytes (newline included) go out in
//! several calls, each of them atomic.

#![no_std]

use core::fmt;

include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));

/// The most bytes one `write` carries: the lease limit in
/// `idl/console.idol` (the server faults callers that lend more).
pub const LINE_MAX: usize = 256;

/// Where a [`LineBuffer`] sends its bytes: the console, or a test double.
pub trait LineSink {
    /// Sends `bytes` (at most [`LINE_MAX`]) as one unit.
    fn send(&self, bytes: &[u8]);
}

impl LineSink for Console {
    fn send(&self, bytes: &[u8]) {
        self.write(bytes);
    }
}

/// A `core::fmt::Write` adapter that collects text in a [`LINE_MAX`]-byte
/// buffer and sends it to a [`LineSink`] when the buffer fills, on
/// [`LineBuffer::flush`], and when dropped.
pub struct LineBuffer<'s, S: LineSink> {
    sink: &'s S,
    buf: [u8; LINE_MAX],
    len: usize,
}

impl<'s, S: LineSink> LineBuffer<'s, S> {
    /// An empty buffer in front of `sink`.
    pub fn new(sink: &'s S) -> Self {
        Self { sink, buf: [0; LINE_MAX], len: 0 }
    }

    /// Appends `bytes`, sending full buffers as they fill.
    pub fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let n = bytes.len().min(LINE_MAX - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
            if self.len == LINE_MAX {
                self.flush();
            }
        }
    }

    /// Sends what is buffered, if anything.
    pub fn flush(&mut self) {
        if self.len > 0 {
            self.sink.send(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl<S: LineSink> fmt::Write for LineBuffer<'_, S> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

impl<S: LineSink> Drop for LineBuffer<'_, S> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Formats `args` plus a newline and sends the line to `sink` in one call
/// (several if it exceeds [`LINE_MAX`] bytes). A `Display` impl that
/// returns an error ends the line early; what was formatted is still sent.
pub fn write_line<S: LineSink>(sink: &S, args: fmt::Arguments<'_>) {
    let mut line = LineBuffer::new(sink);
    let _ = fmt::write(&mut line, args);
    line.push(b"\n");
    line.flush();
}

/// `writeln!` for the console: `console_writeln!(console, "x = {}", x)`
/// sends one formatted line through any [`LineSink`] (normally a
/// [`Console`]).
#[macro_export]
macro_rules! console_writeln {
    ($sink:expr, $($arg:tt)*) => {
        $crate::write_line(&$sink, ::core::format_args!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::cell::RefCell;
    use std::vec::Vec;

    #[derive(Default)]
    struct Recorder(RefCell<Vec<Vec<u8>>>);

    impl LineSink for Recorder {
        fn send(&self, bytes: &[u8]) {
            assert!(bytes.len() <= LINE_MAX);
            self.0.borrow_mut().push(bytes.to_vec());
        }
    }

    #[test]
    fn a_line_is_one_send() {
        let r = Recorder::default();
        console_writeln!(r, "tick {} of {}", 3, 10);
        assert_eq!(*r.0.borrow(), [b"tick 3 of 10\n".to_vec()]);
    }

    #[test]
    fn long_lines_are_split_at_the_limit() {
        let r = Recorder::default();
        let long = [b'x'; LINE_MAX + 10];
        let s = core::str::from_utf8(&long).unwrap();
        console_writeln!(r, "{s}");
        let sent = r.0.borrow();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].len(), LINE_MAX);
        assert_eq!(sent[1].len(), 11);
        assert_eq!(sent[1].last(), Some(&b'\n'));
    }

    #[test]
    fn exactly_full_buffer_sends_once_then_newline() {
        let r = Recorder::default();
        let text = [b'y'; LINE_MAX - 1];
        console_writeln!(r, "{}", core::str::from_utf8(&text).unwrap());
        assert_eq!(r.0.borrow().len(), 1, "line plus newline fit exactly");
    }

    #[test]
    fn drop_flushes_and_empty_flush_sends_nothing() {
        let r = Recorder::default();
        {
            let mut b = LineBuffer::new(&r);
            b.flush();
            b.push(b"partial");
        }
        assert_eq!(*r.0.borrow(), [b"partial".to_vec()]);
    }

    #[test]
    fn write_op_is_number_one() {
        assert_eq!(ConsoleOperation::Write as u16, 1);
    }
}
