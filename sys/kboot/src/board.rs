//! Board start-up: peripheral reset, clocks, pins and the kernel's console
//! USART.
//!
//! The kernel owns no peripherals after boot; this runs once in `kmain`
//! before any task exists. Tasks find their peripherals reset, powered and
//! clocked. The console USART is set up first, at the reset clock (the
//! 16 MHz HSI), so that everything after it, clock trouble included, can be
//! reported; the kernel keeps writing to it (`console_write`) and the
//! console task uses the same USART afterwards with the baud rate set here.

use stm32_regs::rcc::{self, Rcc};
use stm32_regs::usart::{self, Usart};

use stm32_regs::rcc::HSI_HZ;
use stm32_regs::usart::brr;

/// The console's baud rate.
pub const BAUD: u32 = 115_200;

/// RCC, the clock and reset controller.
// Safety: the kernel may use every register block during start-up, when it
// runs alone (no task exists yet); it writes only what RM0090 allows. After
// start-up the kernel leaves RCC alone.
const RCC: Rcc = unsafe { Rcc::at(rcc::RCC) };
/// The console USART.
// Safety: as for `RCC`; after start-up the kernel (`console_write`) and
// the console task share the USART's transmitter, which is polled and
// written a byte at a time by whichever runs.
const CONSOLE: Usart = unsafe { Usart::at(imp::CONSOLE_BASE) };

/// The peripherals tasks get: GPIOA/D (AHB1), TIM2-5 and USART2 (APB1),
/// USART1 (APB2). Bit positions are RM0090 7.3.5/7.3.8/7.3.9 (reset) and
/// 7.3.10/7.3.13/7.3.14 (enable), which agree bit for bit.
const AHB1_BITS: u32 = rcc::ahb1::GPIOA | rcc::ahb1::GPIOD;
const APB1_BITS: u32 = rcc::apb1::TIM2 | rcc::apb1::TIM3 | rcc::apb1::TIM4 | rcc::apb1::TIM5 | rcc::apb1::USART2;
const APB2_BITS: u32 = rcc::apb2::USART1;

/// Puts every peripheral tasks get back in its reset state (a debugger's
/// reset or a watchdog reset leaves them as the last run left them), then
/// enables their clocks and reads the enable back so that it has taken
/// effect before first use (RM0090 7.3.10: two AHB cycles).
fn reset_and_enable_peripherals() {
    RCC.ahb1rstr().modify(0, AHB1_BITS);
    RCC.apb1rstr().modify(0, APB1_BITS);
    RCC.apb2rstr().modify(0, APB2_BITS);
    RCC.ahb1rstr().modify(AHB1_BITS, 0);
    RCC.apb1rstr().modify(APB1_BITS, 0);
    RCC.apb2rstr().modify(APB2_BITS, 0);
    RCC.ahb1enr().modify(0, AHB1_BITS);
    RCC.apb1enr().modify(0, APB1_BITS);
    RCC.apb2enr().modify(0, APB2_BITS);
    let _ = RCC.apb2enr().read();
}

/// What start-up achieved: the clocks actually running.
#[derive(Copy, Clone)]
#[allow(dead_code)] // pclk2 is USART1's clock: unused when the console is USART2
pub struct Clocks {
    pub sysclk_hz: u32,
    /// APB1: USART2's clock.
    pub pclk1_hz: u32,
    /// APB2: USART1's clock.
    pub pclk2_hz: u32,
}

/// Clocks out of reset: everything from the HSI, prescalers 1.
const RESET_CLOCKS: Clocks = Clocks { sysclk_hz: HSI_HZ, pclk1_hz: HSI_HZ, pclk2_hz: HSI_HZ };

#[cfg(feature = "netduinoplus2")]
mod imp {
    //! QEMU netduinoplus2: RCC is not modelled (writes are ignored, reads
    //! are zero); the console is USART1, QEMU's first serial port. The
    //! clocks stay as reset leaves real F405 silicon: 16 MHz HSI.
    use super::*;
    pub const CONSOLE_BASE: u32 = stm32_regs::usart::USART1;
    pub fn console_pclk(c: &Clocks) -> u32 {
        c.pclk2_hz
    }
    pub fn pins() {}
    pub fn clocks() -> Clocks {
        RESET_CLOCKS
    }
    pub fn debug_freeze() {}
}

#[cfg(feature = "stm32f4-discovery")]
#[path = "discovery.rs"]
mod imp;

#[cfg(not(any(feature = "netduinoplus2", feature = "stm32f4-discovery")))]
compile_error!("kboot needs a board feature; `cargo xtask dist` sets it from app.toml `board`");

/// Brings up the console (at the reset clock), then the clocks, then sets
/// the console's baud rate for the clock it now runs from.
pub fn init() {
    reset_and_enable_peripherals();
    imp::pins();
    CONSOLE.brr().write(brr(imp::console_pclk(&RESET_CLOCKS), BAUD));
    CONSOLE.cr1().write(usart::cr1::UE | usart::cr1::TE);
    kern::klog::set_early_sink(console_write);
    // The early fault printer's test (build/apps/test-boot-fault.toml): a
    // read of reserved address space (RM0090 table 1) faults before the
    // kernel exists.
    #[cfg(feature = "boot-fault-test")]
    // Safety: deliberately not a register: the read must fault (the
    // early fault printer halts; nothing after it runs).
    let _ = unsafe { core::ptr::read_volatile(0x3000_0000 as *const u32) };
    let clocks = imp::clocks();
    // The last bytes at the old rate have left (the switch is done with
    // the transmitter idle, see `drain`); now the new divider.
    CONSOLE.brr().write(brr(imp::console_pclk(&clocks), BAUD));
    imp::debug_freeze();
}

/// Waits until the console has sent everything written so far (TC: the
/// shift register is empty, not just the data register), so that nothing
/// changing the USART's clock or configuration next can cut a byte short.
/// (Only the Discovery board's clock switch needs it.)
#[cfg_attr(not(feature = "stm32f4-discovery"), allow(dead_code))]
pub fn drain() {
    let mut spins = 0u32;
    // Bounded: 2 bytes at 115200 baud take 174 µs, far fewer than this
    // many polls at any clock; a USART that never completes must not hang
    // start-up.
    while CONSOLE.sr().read() & usart::sr::TC == 0 && spins < 1_000_000 {
        spins += 1;
    }
}

/// Polled write of `bytes` to the console USART (kernel messages only).
pub fn console_write(bytes: &[u8]) {
    for &b in bytes {
        while CONSOLE.sr().read() & usart::sr::TXE == 0 {}
        CONSOLE.dr().write(b as u32);
    }
}
