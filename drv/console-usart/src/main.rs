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
//!   humility;
//! - a write is answered once its bytes are queued, not sent: the queue
//!   ([`TX_QUEUE`] bytes) is fed to the USART from its TXE interrupt, so a
//!   line no longer holds this high-priority task, and every task below
//!   it (the clockevent driver and the timer server), for as long as the
//!   bytes take on the wire (about 5.6 ms for 65 bytes at 115200 baud on
//!   silicon; instant in QEMU, whose transmitter is always empty). Only a
//!   write that finds the queue full waits for room, polling, as every
//!   write did before.
//!
//! - it prints the kernel's log: the kernel queues its lines (faults,
//!   restarts, boot) and posts this task's `klog` bit; the lines are
//!   fetched (`kipc::read_log`) into the same queue, and fetched again
//!   before every client write, so a kernel line reported before a write
//!   is printed before it, and none lands inside a task's line.
//!
//! The console runs at high priority to keep the IPC-ordering rule
//! (clients must outrank nobody they call), not because it is urgent.

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

/// Bytes waiting for the transmitter: two longest writes (44 ms of output
/// at 115200 baud).
pub const TX_QUEUE: usize = 2 * LINE_MAX;

/// Bytes queued for the USART, oldest first.
type TxQueue = heapless::Deque<u8, TX_QUEUE>;

#[derive(Copy, Clone, PartialEq)]
enum Trace {
    None,
    /// The USART was set up at this base address.
    Init(u32),
    /// `len` bytes queued for task index `task` (0xFFFF: the kernel log).
    Write { task: u16, len: u16 },
    /// The client of task index `task` disappeared before its bytes could
    /// be copied; nothing was written.
    ClientGone(u16),
    /// A write of `len` bytes found the queue too full and waited for room.
    QueueFull { len: u16 },
}

ringbuf!(Trace, 16, Trace::None);

// The chip description (what the MPU maps) and the register descriptions
// agree on where the console USART is.
const _: () = assert!(
    USART_BASE == stm32_regs::usart::USART1 || USART_BASE == stm32_regs::usart::USART2,
    "build/chips and sys/stm32-regs disagree on the console USART's base address"
);

/// Minimal driver for an STM32F4 USART (RM0090 section 30.6; registers in
/// sys/stm32-regs): transmit only.
mod usart {
    use stm32_regs::rcc::HSI_HZ;
    use stm32_regs::usart::{brr, cr1, sr};

    /// 115200 baud from the 16 MHz HSI (16e6 / 115200 = 138.9 -> 139), for
    /// a USART board start-up did not set up. QEMU ignores it.
    const BRR_115200_AT_16MHZ: u32 = brr(HSI_HZ, 115_200);

    /// A USART register block this task owns.
    pub struct Usart {
        regs: stm32_regs::usart::Usart,
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
            // Safety: `base` is the USART block app.toml lets this task
            // `use` (the MPU maps it for us alone among tasks; the kernel's
            // own messages go to the same transmitter the same way, a
            // polled byte at a time, between our instructions), and this
            // driver writes only the values below, which RM0090 allows.
            let usart = Self { regs: unsafe { stm32_regs::usart::Usart::at(base) } };
            if usart.regs.cr1().read() & cr1::UE == 0 || usart.regs.brr().read() == 0 {
                usart.regs.brr().write(BRR_115200_AT_16MHZ);
                usart.regs.cr1().write(cr1::UE | cr1::TE);
            }
            usart
        }

        /// Moves bytes from `queue` into the transmitter while it has room
        /// (TXE); returns whether bytes remain queued.
        pub fn feed(&self, queue: &mut super::TxQueue) -> bool {
            while self.regs.sr().read() & sr::TXE != 0 {
                let Some(b) = queue.pop_front() else { return false };
                self.regs.dr().write(u32::from(b));
            }
            !queue.is_empty()
        }

        /// Sends one byte once the transmitter has room (polled).
        pub fn put_polled(&self, b: u8) {
            while self.regs.sr().read() & sr::TXE == 0 {}
            self.regs.dr().write(u32::from(b));
        }

        /// Asserts (`true`) or drops the USART's interrupt while the data
        /// register is empty (CR1.TXEIE, RM0090 30.6.4). The IRQ is a
        /// level: with TXEIE clear it is deasserted, so no stale request
        /// is left when the kernel unmasks it.
        pub fn txe_interrupt(&self, on: bool) {
            let cr1 = self.regs.cr1().read();
            self.regs.cr1().write(if on { cr1 | cr1::TXEIE } else { cr1 & !cr1::TXEIE });
        }
    }
}

struct ConsoleServer {
    usart: usart::Usart,
    /// Bytes answered but not yet handed to the transmitter.
    queue: &'static mut TxQueue,
    /// The TX notification bit to unmask at the next receive (see
    /// `take_irqs_to_enable`).
    rearm: u32,
}

impl ConsoleServer {
    /// Queues `bytes` and starts sending; the TXE interrupt sends the
    /// rest. A write that does not fit waits for room, sending the oldest
    /// bytes polled (the queue keeps order).
    fn queue_bytes(&mut self, bytes: &[u8], task: u16) {
        if self.queue.capacity() - self.queue.len() < bytes.len() {
            ringbuf_entry!(Trace::QueueFull { len: bytes.len() as u16 });
            while self.queue.capacity() - self.queue.len() < bytes.len() {
                if let Some(b) = self.queue.pop_front() {
                    self.usart.put_polled(b);
                }
            }
        }
        for &b in bytes {
            // Cannot fail: room was made above.
            let _ = self.queue.push_back(b);
        }
        // What the transmitter takes now goes at once; the rest from the
        // TXE interrupt. QEMU 7.2's USART is always empty (everything goes
        // here) and never raises TXE interrupts (its line follows RXNE
        // only), so the interrupt path runs on silicon alone.
        let more = self.usart.feed(self.queue);
        self.usart.txe_interrupt(more);
        ringbuf_entry!(Trace::Write { task, len: bytes.len() as u16 });
    }
}

impl ConsoleServer {
    /// Moves the kernel's queued log lines into the transmit queue.
    fn pull_kernel_log(&mut self) {
        let mut chunk = [0u8; 128];
        loop {
            let n = userlib::kipc::read_log(&mut chunk);
            if n == 0 {
                return;
            }
            self.queue_bytes(&chunk[..n], KERNEL_TRACE_TASK);
        }
    }
}

/// `Trace::Write`'s task for kernel log bytes.
const KERNEL_TRACE_TASK: u16 = 0xFFFF;

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
        // Kernel lines reported before this write go out before it.
        self.pull_kernel_log();
        self.queue_bytes(&line[..len], task);
        Ok(())
    }
}

impl idol_runtime::NotificationHandler for ConsoleServer {
    fn current_notification_mask(&self) -> u32 {
        notifications::TX_MASK | notifications::KLOG_MASK
    }

    /// The transmitter has room: feed it; stop asking once the queue is
    /// empty. The kernel masked the IRQ when it posted the bit; it is
    /// unmasked as this task next waits.
    fn handle_notification(&mut self, bits: u32) {
        if bits & notifications::KLOG_MASK != 0 {
            self.pull_kernel_log();
        }
        if bits & notifications::TX_MASK != 0 {
            let more = self.usart.feed(self.queue);
            self.usart.txe_interrupt(more);
            self.rearm |= notifications::TX_MASK;
        }
    }

    fn take_irqs_to_enable(&mut self) -> u32 {
        core::mem::take(&mut self.rearm)
    }
}

/// The transmit queue's storage, kept off the 1 KiB stack (it is set up
/// afresh, empty, each time the task starts).
static mut QUEUE: TxQueue = TxQueue::new();

#[export_name = "main"]
fn main() -> ! {
    // Safety: the only reference ever made to QUEUE; `main` runs once per
    // incarnation of this single-threaded task and never returns.
    let queue = unsafe { &mut *(&raw mut QUEUE) };
    let mut server = ConsoleServer { usart: usart::Usart::init(USART_BASE), queue, rearm: 0 };
    ringbuf_entry!(Trace::Init(USART_BASE));
    // A restarted console may find TXEIE left set by its last incarnation.
    // Cleared, the line is low: unmasking now takes nothing stale.
    server.usart.txe_interrupt(false);
    userlib::sys_irq_control(notifications::TX_MASK, true);
    let mut buffer = [0u8; idl::CONSOLE_MSG_SIZE];
    let mut held = idl::Held::new();
    loop {
        idl::dispatch_n(&mut buffer, &mut held, &mut server);
    }
}
