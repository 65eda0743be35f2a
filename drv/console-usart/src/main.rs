//! The console server: owns one STM32F4 USART and writes to it what other
//! tasks send through `idl/console.idol`.
//!
//! Guarantees:
//! - one `write` call is one unit on the wire: the lease is copied in full
//!   before the first byte goes out, and calls are served one at a time, so
//!   lines of different tasks never interleave, and a caller that vanishes
//!   mid-call prints nothing rather than half a line;
//! - malformed messages (unknown op, wrong size, missing or oversized
//!   lease) are refused with `reply_fault` by the generated dispatch code;
//!   nothing a client sends can panic this task;
//! - every write and every refused lease is traced in `__RINGBUF` for
//!   humility.
//!
//! Transmission polls TXE, so a write takes as long as the bytes take on
//! the wire (about 22 ms for 256 bytes at 115200 baud on silicon; instant
//! in QEMU). The console runs at high priority to keep the IPC-ordering
//! rule (clients must outrank nobody they call), not because it is urgent.

#![no_std]
#![no_main]

use core::convert::Infallible;

use idol_runtime::{Leased, RequestError, R};
use ringbuf::{ringbuf, ringbuf_entry};
use userlib::RecvMessage;

include!(concat!(env!("OUT_DIR"), "/task_config.rs"));

mod idl {
    include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));
}

/// Base address of the console USART's register block.
#[cfg(feature = "usart2")]
const USART_BASE: u32 = peripherals::USART2_BASE;
#[cfg(all(feature = "usart1", not(feature = "usart2")))]
const USART_BASE: u32 = peripherals::USART1_BASE;
#[cfg(not(any(feature = "usart1", feature = "usart2")))]
compile_error!("enable feature `usart1` or `usart2` to choose the console USART");

/// Longest write, in bytes: the lease limit of `idl/console.idol`.
const LINE_MAX: usize = 256;

#[derive(Copy, Clone, PartialEq)]
enum Trace {
    None,
    /// The USART was set up at this base address.
    Init(u32),
    /// `len` bytes written for task index `task`.
    Write { task: u16, len: u16 },
    /// The client of task index `task` disappeared before its bytes could
    /// be copied; nothing was written.
    ClientGone(u16),
}

ringbuf!(Trace, 16, Trace::None);

/// Minimal driver for an STM32F4 USART (RM0090 section 30.6): transmit only.
mod usart {
    /// Status register; bit 7 is TXE (data register empty).
    const SR: u32 = 0x00;
    /// Data register: writing it queues one byte.
    const DR: u32 = 0x04;
    /// Baud-rate register.
    const BRR: u32 = 0x08;
    /// Control register 1.
    const CR1: u32 = 0x0C;

    const SR_TXE: u32 = 1 << 7;
    const CR1_UE: u32 = 1 << 13;
    const CR1_TE: u32 = 1 << 3;
    /// 115200 baud from the 16 MHz HSI (16e6 / 115200 = 138.9 -> 139), for
    /// a USART board start-up did not set up. QEMU ignores it.
    const BRR_115200_AT_16MHZ: u32 = 0x8B;

    /// A USART register block this task owns.
    pub struct Usart {
        base: u32,
    }

    impl Usart {
        /// Takes over the USART at `base` as an 8N1 transmitter (its bus
        /// clock is enabled by board start-up). Board start-up has already
        /// enabled it with the divider for the clock the chip really runs
        /// from (the board's PCLK, or the HSI after a clock fall-back, see
        /// sys/kboot), and the kernel keeps writing to it: the divider is
        /// kept as it is. Only a USART found disabled is set up here, for
        /// 115200 baud from the reset clock.
        pub fn init(base: u32) -> Self {
            let usart = Self { base };
            if usart.read_reg(CR1) & CR1_UE == 0 || usart.read_reg(BRR) == 0 {
                usart.write_reg(BRR, BRR_115200_AT_16MHZ);
                usart.write_reg(CR1, CR1_UE | CR1_TE);
            }
            usart
        }

        /// Sends `bytes`, waiting for room before each one.
        pub fn write_all(&self, bytes: &[u8]) {
            for &b in bytes {
                while self.read_reg(SR) & SR_TXE == 0 {}
                self.write_reg(DR, u32::from(b));
            }
        }

        fn read_reg(&self, offset: u32) -> u32 {
            // Safety: `base` is the USART block app.toml lets this task
            // `use` (the MPU maps it for us alone), `offset` is one of the
            // word-aligned registers above, and a volatile read of a status
            // register has no side effect on memory Rust knows about.
            unsafe { core::ptr::read_volatile((self.base + offset) as *const u32) }
        }

        fn write_reg(&self, offset: u32, value: u32) {
            // Safety: as for `read_reg`; the register is device memory, not
            // aliased by any Rust object.
            unsafe { core::ptr::write_volatile((self.base + offset) as *mut u32, value) }
        }
    }
}

struct ConsoleServer {
    usart: usart::Usart,
}

impl idl::InOrderConsoleImpl for ConsoleServer {
    fn write(&mut self, msg: &RecvMessage, data: Leased<R, [u8]>) -> Result<(), RequestError<Infallible>> {
        let task = msg.sender.index() as u16;
        // The dispatch code has checked the lease is at most LINE_MAX bytes;
        // `read_at` clamps to the buffer regardless.
        let mut line = [0u8; LINE_MAX];
        let mut len = 0;
        while len < data.len().min(LINE_MAX) {
            match data.read_at(len, &mut line[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(gone) => {
                    ringbuf_entry!(Trace::ClientGone(task));
                    return Err(gone.into());
                }
            }
        }
        self.usart.write_all(&line[..len]);
        ringbuf_entry!(Trace::Write { task, len: len as u16 });
        Ok(())
    }
}

#[export_name = "main"]
fn main() -> ! {
    let mut server = ConsoleServer { usart: usart::Usart::init(USART_BASE) };
    ringbuf_entry!(Trace::Init(USART_BASE));
    let mut buffer = [0u8; idl::CONSOLE_MSG_SIZE];
    let mut held = idl::Held::new();
    loop {
        idl::dispatch(&mut buffer, &mut held, &mut server);
    }
}
