//! Board start-up: clocks, pins and the kernel's console USART.
//!
//! The kernel owns no peripherals after boot; this runs once in `kmain`
//! before any task exists. Tasks find their peripherals powered and
//! clocked. The console USART is also set up here so the kernel can report
//! faults with polled writes (`console_write`) even before the console
//! driver task runs; the driver uses the same USART afterwards.

// Clock-tree registers only the Discovery start-up programs.
#![cfg_attr(not(feature = "stm32f4-discovery"), allow(dead_code))]

use core::ptr::{read_volatile, write_volatile};

const RCC: u32 = 0x4002_3800;
const RCC_CR: u32 = RCC;
const RCC_PLLCFGR: u32 = RCC + 0x04;
const RCC_CFGR: u32 = RCC + 0x08;
const RCC_AHB1ENR: u32 = RCC + 0x30;
const RCC_APB1ENR: u32 = RCC + 0x40;
const RCC_APB2ENR: u32 = RCC + 0x44;
const FLASH_ACR: u32 = 0x4002_3C00;

const USART_SR: u32 = 0x00;
const USART_DR: u32 = 0x04;
const USART_BRR: u32 = 0x08;
const USART_CR1: u32 = 0x0C;
const USART_CR1_UE: u32 = 1 << 13;
const USART_CR1_TE: u32 = 1 << 3;
const USART_SR_TXE: u32 = 1 << 7;

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

/// Clock enables common to both boards: GPIOA/D, TIM2-5, USART1/2.
fn enable_peripheral_clocks() {
    modify(RCC_AHB1ENR, 0, 1 << 0 | 1 << 3);
    modify(RCC_APB1ENR, 0, 0b1111 | 1 << 17);
    modify(RCC_APB2ENR, 0, 1 << 4);
    // Read back so the enables have taken effect before first use.
    let _ = rd(RCC_APB1ENR);
}

#[cfg(feature = "netduinoplus2")]
mod imp {
    //! QEMU netduinoplus2: RCC is not modelled (the writes are harmless);
    //! the console is USART1, QEMU's first serial port.
    pub const CONSOLE: u32 = 0x4001_1000;
    /// 115200 baud from the 16 MHz HSI that real F405 silicon resets to.
    pub const BRR: u32 = 0x8B;
    pub fn clocks() {}
    pub fn pins() {}
}

#[cfg(feature = "stm32f4-discovery")]
mod imp {
    //! STM32F4-Discovery: 8 MHz crystal, PLL to 168 MHz, APB1 42 MHz (its
    //! timers 84 MHz), APB2 84 MHz. Console on USART2, PA2 (TX) / PA3 (RX),
    //! as wired to the ST-LINK's virtual COM port on later board revisions.
    use super::*;
    pub const CONSOLE: u32 = 0x4000_4400;
    /// 115200 baud from APB1 at 42 MHz: 42e6 / 115200 = 22.79 -> 22 + 13/16.
    pub const BRR: u32 = 22 << 4 | 13;

    pub fn clocks() {
        modify(RCC_CR, 0, 1 << 16); // HSEON
        while rd(RCC_CR) & (1 << 17) == 0 {} // HSERDY
        // PLLM = 8, PLLN = 336, PLLP = 2 (00), PLLSRC = HSE, PLLQ = 7.
        wr(RCC_PLLCFGR, 8 | 336 << 6 | 1 << 22 | 7 << 24);
        modify(RCC_CR, 0, 1 << 24); // PLLON
        while rd(RCC_CR) & (1 << 25) == 0 {} // PLLRDY
        // 5 wait states at 168 MHz / 3.3 V, prefetch and caches on.
        wr(FLASH_ACR, 5 | 1 << 8 | 1 << 9 | 1 << 10);
        // AHB /1, APB1 /4, APB2 /2, then switch SYSCLK to the PLL.
        modify(RCC_CFGR, 0xFCF3, 0b101 << 10 | 0b100 << 13 | 0b10);
        while rd(RCC_CFGR) & (0b11 << 2) != 0b10 << 2 {}
    }

    pub fn pins() {
        const GPIOA: u32 = 0x4002_0000;
        // PA2, PA3 alternate function 7 (USART2).
        modify(GPIOA, 0b1111 << 4, 0b1010 << 4);
        modify(GPIOA + 0x20, 0xFF << 8, 0x77 << 8);
    }
}

#[cfg(not(any(feature = "netduinoplus2", feature = "stm32f4-discovery")))]
compile_error!("kboot needs a board feature; `cargo xtask dist` sets it from app.toml `board`");

pub use imp::CONSOLE;

/// Brings up clocks, pins and the console USART.
pub fn init() {
    imp::clocks();
    enable_peripheral_clocks();
    imp::pins();
    wr(CONSOLE + USART_BRR, imp::BRR);
    wr(CONSOLE + USART_CR1, USART_CR1_UE | USART_CR1_TE);
}

/// Polled write of `bytes` to the console USART (kernel messages only).
pub fn console_write(bytes: &[u8]) {
    for &b in bytes {
        while rd(CONSOLE + USART_SR) & USART_SR_TXE == 0 {}
        wr(CONSOLE + USART_DR, b as u32);
    }
}
