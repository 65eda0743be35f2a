//! STM32F4-Discovery (STM32F407VG): 8 MHz crystal, PLL to 168 MHz, APB1
//! 42 MHz (its timers 84 MHz), APB2 84 MHz. Console on USART2, PA2 (TX) /
//! PA3 (RX): no Discovery revision wires these to the ST-LINK, so the
//! console needs a 3.3 V USB-UART adapter on PA2 and GND (see README).
//!
//! The clock sequence follows RM0090 section 7.2 (clock tree) and 3.5.1
//! (flash wait states before a faster clock), and never waits forever:
//!
//! - HSE not ready in `HSE_TIMEOUT_US`: the PLL runs from the 16 MHz HSI
//!   instead, with M chosen for the same 1 MHz VCO input, so every clock
//!   tasks rely on is unchanged (only accuracy drops: HSI is ±1% at 25 °C).
//! - PLL not locked in `PLL_TIMEOUT_US`, or the switch to it not taken: the
//!   chip stays on the HSI with prescalers 1 (16 MHz everywhere).
//!
//! Each fall-back prints a `kern: WARNING` line. QEMU's netduinoplus2 does
//! not model the RCC (reads are zero), so there both fall-backs run.

use super::*;

pub const CONSOLE: u32 = 0x4000_4400; // USART2, on APB1

pub fn console_pclk(c: &Clocks) -> u32 {
    c.pclk1_hz
}

const RCC_PLLCFGR: u32 = RCC + 0x04;
const RCC_CFGR: u32 = RCC + 0x08;
const FLASH_ACR: u32 = 0x4002_3C00;

const CR_HSEON: u32 = 1 << 16;
const CR_HSERDY: u32 = 1 << 17;
const CR_PLLON: u32 = 1 << 24;
const CR_PLLRDY: u32 = 1 << 25;
const PLLCFGR_SRC_HSE: u32 = 1 << 22;
const CFGR_SW: u32 = 0b11;
const CFGR_SW_PLL: u32 = 0b10;
const CFGR_SWS: u32 = 0b11 << 2;
const CFGR_SWS_PLL: u32 = 0b10 << 2;
const CFGR_PRESCALERS: u32 = 0xF << 4 | 0b111 << 10 | 0b111 << 13;
const ACR_LATENCY: u32 = 0b111;
const ACR_PRFTEN: u32 = 1 << 8;
const ACR_ICEN: u32 = 1 << 9;
const ACR_DCEN: u32 = 1 << 10;

/// DBGMCU (RM0090 38.16): device id and revision, and the freeze bits.
const DBGMCU_IDCODE: u32 = 0xE004_2000;
const DBGMCU_APB1_FZ: u32 = 0xE004_2008;
/// REV_ID of revision A (RM0090 38.6.1), on which prefetch must stay off
/// (ST errata sheet ES0182 for revision A parts).
const REV_A: u32 = 0x1000;

/// The clock tree, from the board's description (see `CLOCK_*` in the
/// generated kernel configuration, checked against RM0090 at build time).
const HSE_HZ: u32 = crate::CLOCK_HSE_HZ;
const PLLM: u32 = crate::CLOCK_PLLM;
const PLLN: u32 = crate::CLOCK_PLLN;
const PLLP: u32 = crate::CLOCK_PLLP;
const PLLQ: u32 = crate::CLOCK_PLLQ;
const FLASH_WS: u32 = crate::CLOCK_FLASH_WS;
const CLOCKS: Clocks =
    Clocks { sysclk_hz: crate::CLOCK_SYSCLK_HZ, pclk1_hz: crate::CLOCK_PCLK1_HZ, pclk2_hz: crate::CLOCK_PCLK2_HZ };
/// CFGR HPRE, PPRE1, PPRE2 fields for the configured dividers.
const CFGR_DIVIDERS: u32 = crate::CLOCK_CFGR_PRESCALERS;

/// M for the HSI that gives the same VCO input as `PLLM` gives the HSE.
const PLLM_HSI: u32 = PLLM * HSI_HZ / HSE_HZ;
const _: () = assert!(PLLM * HSI_HZ % HSE_HZ == 0 && PLLM_HSI >= 2 && PLLM_HSI <= 63, "no HSI fall-back M");

/// HSE start-up: typically 2 ms for a crystal (datasheet tSU(HSE)); ST's
/// own code waits 100 ms.
const HSE_TIMEOUT_US: u32 = 100_000;
/// PLL lock: at most a few hundred µs (datasheet tLOCK).
const PLL_TIMEOUT_US: u32 = 2_000;
/// The SYSCLK switch takes a few clock cycles.
const SWITCH_TIMEOUT_US: u32 = 100;

const SYST_CSR: u32 = 0xE000_E010;
const SYST_RVR: u32 = 0xE000_E014;
const SYST_CVR: u32 = 0xE000_E018;

/// Polls `ready` for at most `us` microseconds of a `cpu_hz` core clock,
/// timed with SysTick (processor clock, no interrupt; ARMv7-M B3.3), and
/// bounded by the number of polls as well in case SysTick does not count.
fn wait_until(ready: impl Fn() -> bool, us: u32, cpu_hz: u32) -> bool {
    let budget = cpu_hz / 1_000_000 * us;
    wr(SYST_RVR, 0x00FF_FFFF);
    wr(SYST_CVR, 0);
    wr(SYST_CSR, 0b101); // CLKSOURCE = processor, ENABLE
    let mut last = rd(SYST_CVR);
    let mut elapsed = 0u32;
    let mut polls = 0u32;
    let ok = loop {
        if ready() {
            break true;
        }
        let now = rd(SYST_CVR);
        elapsed = elapsed.saturating_add(last.wrapping_sub(now) & 0x00FF_FFFF);
        last = now;
        polls += 1;
        // A poll takes more than one cycle, so `polls` never passes
        // `budget` before the time does.
        if elapsed >= budget || polls >= budget {
            break false;
        }
    };
    wr(SYST_CSR, 0);
    ok
}

fn warn(args: core::fmt::Arguments<'_>) {
    use core::fmt::Write;
    let mut w = kern::klog::Writer(console_write);
    let _ = w.write_str("kern: WARNING: ");
    let _ = w.write_fmt(args);
    let _ = w.write_str("\r\n");
}

/// Flash wait states (and caches, prefetch unless revision A), read back
/// until in force (RM0090 3.5.1: check LATENCY before raising the clock).
fn set_flash(ws: u32) -> bool {
    let prefetch = if rd(DBGMCU_IDCODE) >> 16 == REV_A { 0 } else { ACR_PRFTEN };
    wr(FLASH_ACR, ws | ACR_ICEN | ACR_DCEN | prefetch);
    wait_until(|| rd(FLASH_ACR) & ACR_LATENCY == ws, SWITCH_TIMEOUT_US, HSI_HZ)
}

pub fn clocks() -> Clocks {
    modify(RCC_CR, 0, CR_HSEON);
    let hse = wait_until(|| rd(RCC_CR) & CR_HSERDY != 0, HSE_TIMEOUT_US, HSI_HZ);
    let (src, m) = if hse {
        (PLLCFGR_SRC_HSE, PLLM)
    } else {
        modify(RCC_CR, CR_HSEON, 0);
        warn(format_args!(
            "HSE ({} MHz crystal) not ready after {} ms: PLL from the 16 MHz HSI, same clocks, +-1% accuracy",
            HSE_HZ / 1_000_000,
            HSE_TIMEOUT_US / 1000
        ));
        (0, PLLM_HSI)
    };
    // PLLP is encoded as P/2 - 1.
    wr(RCC_PLLCFGR, m | PLLN << 6 | (PLLP / 2 - 1) << 16 | src | PLLQ << 24);
    modify(RCC_CR, 0, CR_PLLON);
    if !wait_until(|| rd(RCC_CR) & CR_PLLRDY != 0, PLL_TIMEOUT_US, HSI_HZ) {
        modify(RCC_CR, CR_PLLON, 0);
        return on_hsi("PLL not locked after 2 ms");
    }
    if !set_flash(FLASH_WS) {
        let _ = set_flash(0);
        return on_hsi("FLASH_ACR did not take the wait states");
    }
    // Prescalers first, still on the HSI (they change the console's clock:
    // let its last byte go), then the switch in a write of its own.
    drain();
    modify(RCC_CFGR, CFGR_PRESCALERS, CFGR_DIVIDERS);
    let _ = rd(RCC_CFGR);
    modify(RCC_CFGR, CFGR_SW, CFGR_SW_PLL);
    if !wait_until(|| rd(RCC_CFGR) & CFGR_SWS == CFGR_SWS_PLL, SWITCH_TIMEOUT_US, HSI_HZ) {
        modify(RCC_CFGR, CFGR_SW | CFGR_PRESCALERS, 0);
        wr(CONSOLE + USART_BRR, brr(HSI_HZ, BAUD));
        return on_hsi("SYSCLK did not switch to the PLL");
    }
    CLOCKS
}

/// The fall-back: everything from the HSI, prescalers 1.
fn on_hsi(why: &str) -> Clocks {
    warn(format_args!(
        "{}: running on the 16 MHz HSI (SYSCLK, APB1, APB2 and timers 16 MHz, not {} MHz)",
        why,
        CLOCKS.sysclk_hz / 1_000_000
    ));
    RESET_CLOCKS
}

pub fn pins() {
    const GPIOA: u32 = 0x4002_0000;
    // PA2, PA3 alternate function 7 (USART2).
    modify(GPIOA, 0b1111 << 4, 0b1010 << 4);
    modify(GPIOA + 0x20, 0xFF << 8, 0x77 << 8);
}

/// Stops TIM2-TIM5 while a debugger halts the core (RM0090 38.16.4), so a
/// breakpoint does not let the tick and clocksource run on. (QEMU reads
/// DBGMCU as zero and ignores the write.)
pub fn debug_freeze() {
    modify(DBGMCU_APB1_FZ, 0, 0b1111);
}
