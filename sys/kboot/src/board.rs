//! Board start-up: peripheral reset, clocks, pins and the kernel's console
//! USART.
//!
//! The kernel owns no peripherals after boot; this runs once in `kmain`
//! before any task exists. Tasks find their peripherals reset, powered and
//! clocked. The console USART is set up first, at the reset clock (the
//! 16 MHz HSI), so that everything after it, clock trouble included, can be
//! reported; the kernel keeps writing to it (`console_write`) and the
//! console task uses the same USART afterwards with the baud rate set here.

use core::ptr::{read_volatile, write_volatile};

const RCC: u32 = 0x4002_3800;
const RCC_CR: u32 = RCC;
const RCC_AHB1RSTR: u32 = RCC + 0x10;
const RCC_APB1RSTR: u32 = RCC + 0x20;
const RCC_APB2RSTR: u32 = RCC + 0x24;
const RCC_AHB1ENR: u32 = RCC + 0x30;
const RCC_APB1ENR: u32 = RCC + 0x40;
const RCC_APB2ENR: u32 = RCC + 0x44;

const USART_SR: u32 = 0x00;
const USART_DR: u32 = 0x04;
const USART_BRR: u32 = 0x08;
const USART_CR1: u32 = 0x0C;
const USART_CR1_UE: u32 = 1 << 13;
const USART_CR1_TE: u32 = 1 << 3;
const USART_SR_TXE: u32 = 1 << 7;
const USART_SR_TC: u32 = 1 << 6;

/// The console's baud rate.
pub const BAUD: u32 = 115_200;
/// The clock every STM32F4 runs from out of reset: the HSI RC oscillator.
pub const HSI_HZ: u32 = 16_000_000;

fn rd(addr: u32) -> u32 {
    // Safety: callers pass addresses of memory-mapped registers of this
    // chip (RM0090); reads have no side effects on the registers used.
    unsafe { read_volatile(addr as *const u32) }
}

fn wr(addr: u32, v: u32) {
    // Safety: as for `rd`; kernel start-up is the only writer.
    unsafe { write_volatile(addr as *mut u32, v) }
}

fn modify(addr: u32, clear: u32, set: u32) {
    wr(addr, (rd(addr) & !clear) | set);
}

/// The peripherals tasks get: GPIOA/D (AHB1), TIM2-5 and USART2 (APB1),
/// USART1 (APB2). Bit positions are RM0090 7.3.5/7.3.8/7.3.9 (reset) and
/// 7.3.10/7.3.13/7.3.14 (enable), which agree bit for bit.
const AHB1_BITS: u32 = 1 << 0 | 1 << 3;
const APB1_BITS: u32 = 0b1111 | 1 << 17;
const APB2_BITS: u32 = 1 << 4;

/// Puts every peripheral tasks get back in its reset state (a debugger's
/// reset or a watchdog reset leaves them as the last run left them), then
/// enables their clocks and reads the enable back so that it has taken
/// effect before first use (RM0090 7.3.10: two AHB cycles).
fn reset_and_enable_peripherals() {
    modify(RCC_AHB1RSTR, 0, AHB1_BITS);
    modify(RCC_APB1RSTR, 0, APB1_BITS);
    modify(RCC_APB2RSTR, 0, APB2_BITS);
    modify(RCC_AHB1RSTR, AHB1_BITS, 0);
    modify(RCC_APB1RSTR, APB1_BITS, 0);
    modify(RCC_APB2RSTR, APB2_BITS, 0);
    modify(RCC_AHB1ENR, 0, AHB1_BITS);
    modify(RCC_APB1ENR, 0, APB1_BITS);
    modify(RCC_APB2ENR, 0, APB2_BITS);
    let _ = rd(RCC_APB2ENR);
}

/// USART BRR for `baud` from a `pclk_hz` bus clock with 16x oversampling
/// (RM0090 30.3.4): USARTDIV = pclk / (16 baud), as a 12.4 fixed-point
/// number, rounded to nearest.
pub const fn brr(pclk_hz: u32, baud: u32) -> u32 {
    (pclk_hz + baud / 2) / baud
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
    pub const CONSOLE: u32 = 0x4001_1000;
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

pub use imp::CONSOLE;

/// Brings up the console (at the reset clock), then the clocks, then sets
/// the console's baud rate for the clock it now runs from.
pub fn init() {
    reset_and_enable_peripherals();
    imp::pins();
    wr(CONSOLE + USART_BRR, brr(imp::console_pclk(&RESET_CLOCKS), BAUD));
    wr(CONSOLE + USART_CR1, USART_CR1_UE | USART_CR1_TE);
    kern::klog::set_early_sink(console_write);
    // The early fault printer's test (build/apps/test-boot-fault.toml): a
    // read of reserved address space (RM0090 table 1) faults before the
    // kernel exists.
    #[cfg(feature = "boot-fault-test")]
    let _ = rd(0x3000_0000);
    let clocks = imp::clocks();
    // The last bytes at the old rate have left (the switch is done with
    // the transmitter idle, see `drain`); now the new divider.
    wr(CONSOLE + USART_BRR, brr(imp::console_pclk(&clocks), BAUD));
    imp::debug_freeze();
}

/// Waits until the console has sent everything written so far (TC: the
/// shift register is empty, not just the data register), so that nothing
/// changing the USART's clock or configuration next can cut a byte short.
pub fn drain() {
    let mut spins = 0u32;
    // Bounded: 2 bytes at 115200 baud take 174 µs, far fewer than this
    // many polls at any clock; a USART that never completes must not hang
    // start-up.
    while rd(CONSOLE + USART_SR) & USART_SR_TC == 0 && spins < 1_000_000 {
        spins += 1;
    }
}

/// Polled write of `bytes` to the console USART (kernel messages only).
pub fn console_write(bytes: &[u8]) {
    for &b in bytes {
        while rd(CONSOLE + USART_SR) & USART_SR_TXE == 0 {}
        wr(CONSOLE + USART_DR, b as u32);
    }
}
