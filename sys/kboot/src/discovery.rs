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

use stm32_regs::dbgmcu::{self, Dbgmcu};
use stm32_regs::flash::{self, Flash};
use stm32_regs::gpio::{self, Gpio};
use stm32_regs::rcc::{cfgr, cr, pllcfgr};

pub const CONSOLE_BASE: u32 = usart::USART2; // on APB1

pub fn console_pclk(c: &Clocks) -> u32 {
    c.pclk1_hz
}

// Safety (FLASH, DBGMCU, GPIOA): as for `RCC` in board.rs: start-up runs
// alone and writes only what RM0090 allows; the wait states are set for
// the clock before it is raised (`set_flash`).
const FLASH: Flash = unsafe { Flash::at(flash::FLASH) };
// Safety: as above.
const DBGMCU: Dbgmcu = unsafe { Dbgmcu::at(dbgmcu::DBGMCU) };
// Safety: as above; the console's pins only (the task that `use`s GPIOA
// later finds PA2/PA3 as set here).
const GPIOA: Gpio = unsafe { Gpio::at(gpio::GPIOA) };

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
/// The prescaler fields of CFGR.
const CFGR_PRESCALERS: u32 = cfgr::HPRE | cfgr::PPRE1 | cfgr::PPRE2;
const _: () = assert!(CFGR_DIVIDERS & !CFGR_PRESCALERS == 0, "generated CFGR dividers outside HPRE/PPRE1/PPRE2");

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

/// SysTick (ARMv7-M B3.3): a core register, not an STM32 one, used only
/// here (the kernel never enables it).
const SYST_CSR: u32 = 0xE000_E010;
const SYST_RVR: u32 = 0xE000_E014;
const SYST_CVR: u32 = 0xE000_E018;

fn rd(addr: u32) -> u32 {
    // Safety: `addr` is one of the SysTick registers above, which exist on
    // every ARMv7-M core; start-up runs alone and reads have no side effect.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

fn wr(addr: u32, v: u32) {
    // Safety: as for `rd`; SysTick is not used by anything else.
    unsafe { core::ptr::write_volatile(addr as *mut u32, v) }
}

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
    use flash::acr;
    let rev = DBGMCU.idcode().read() >> dbgmcu::idcode::REV_ID_SHIFT;
    let prefetch = if rev == dbgmcu::idcode::REV_A { 0 } else { acr::PRFTEN };
    FLASH.acr().write(ws | acr::ICEN | acr::DCEN | prefetch);
    wait_until(|| FLASH.acr().read() & acr::LATENCY == ws, SWITCH_TIMEOUT_US, HSI_HZ)
}

pub fn clocks() -> Clocks {
    RCC.cr().modify(0, cr::HSEON);
    let hse = wait_until(|| RCC.cr().read() & cr::HSERDY != 0, HSE_TIMEOUT_US, HSI_HZ);
    let (src, m) = if hse {
        (pllcfgr::PLLSRC_HSE, PLLM)
    } else {
        RCC.cr().modify(cr::HSEON, 0);
        warn(format_args!(
            "HSE ({} MHz crystal) not ready after {} ms: PLL from the 16 MHz HSI, same clocks, +-1% accuracy",
            HSE_HZ / 1_000_000,
            HSE_TIMEOUT_US / 1000
        ));
        (0, PLLM_HSI)
    };
    // PLLP is encoded as P/2 - 1.
    RCC.pllcfgr().write(
        m << pllcfgr::PLLM_SHIFT
            | PLLN << pllcfgr::PLLN_SHIFT
            | (PLLP / 2 - 1) << pllcfgr::PLLP_SHIFT
            | src
            | PLLQ << pllcfgr::PLLQ_SHIFT,
    );
    RCC.cr().modify(0, cr::PLLON);
    if !wait_until(|| RCC.cr().read() & cr::PLLRDY != 0, PLL_TIMEOUT_US, HSI_HZ) {
        RCC.cr().modify(cr::PLLON, 0);
        return on_hsi("PLL not locked after 2 ms");
    }
    if !set_flash(FLASH_WS) {
        let _ = set_flash(0);
        return on_hsi("FLASH_ACR did not take the wait states");
    }
    // Prescalers first, still on the HSI (they change the console's clock:
    // let its last byte go), then the switch in a write of its own.
    drain();
    RCC.cfgr().modify(CFGR_PRESCALERS, CFGR_DIVIDERS);
    let _ = RCC.cfgr().read();
    RCC.cfgr().modify(cfgr::SW, cfgr::SW_PLL);
    if !wait_until(|| RCC.cfgr().read() & cfgr::SWS == cfgr::SWS_PLL, SWITCH_TIMEOUT_US, HSI_HZ) {
        RCC.cfgr().modify(cfgr::SW | CFGR_PRESCALERS, 0);
        CONSOLE.brr().write(brr(HSI_HZ, BAUD));
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
    use gpio::{afrl, moder};
    // PA2, PA3 alternate function 7 (USART2).
    GPIOA.moder().modify(moder::mask(2) | moder::mask(3), moder::alternate(2) | moder::alternate(3));
    GPIOA.afrl().modify(afrl::mask(2) | afrl::mask(3), afrl::af(2, 7) | afrl::af(3, 7));
}

/// Stops TIM2-TIM5 while a debugger halts the core (RM0090 38.16.4), so a
/// breakpoint does not let the tick and clocksource run on. (QEMU reads
/// DBGMCU as zero and ignores the write.)
pub fn debug_freeze() {
    use dbgmcu::apb1_fz::*;
    DBGMCU.apb1_fz().modify(0, DBG_TIM2_STOP | DBG_TIM3_STOP | DBG_TIM4_STOP | DBG_TIM5_STOP);
}
