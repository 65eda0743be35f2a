//! The STM32F4 registers Escapement touches, described once (RM0090 rev 19,
//! the STM32F405/407 reference manual): every driver, the board start-up
//! and the kernel's early console name a register through here, never by a
//! hand-written offset.
//!
//! Why a small crate and not a peripheral access crate (`stm32f4`,
//! `stm32-metapac`): the system uses about thirty registers of six blocks.
//! `stm32f4` 0.15 with one chip feature takes 24 s (13.5 s of CPU) to build
//! cold with its dependencies on two cores, would be needed with two
//! features (F405 for QEMU, F407 for the Discovery board), brings
//! cortex-m, cortex-m-rt, two embedded-hal and two bare-metal versions, and
//! a 63 MB source download. Its
//! `write(|w| ...)` closures start from each register's reset value, which
//! hides the exact word written, while the timer driver's sequences are
//! about exact words (QEMU's timer model arms on the `ARR` write, `SR` is
//! cleared by writing zeros). Here a register is a volatile 32-bit access
//! at a constant address: the same instructions as the hand-written
//! offsets it replaces, so neither flash sizes nor the tick path change.
//!
//! Layout: one module per block (`usart`, `tim`, `rcc`, `flash`, `gpio`,
//! `dbgmcu`), each with the block's base addresses (RM0090 table 1), a
//! handle type whose methods are the registers (named as in RM0090), and
//! one sub-module per register with its bit fields. Tasks take their
//! blocks' base addresses from the chip description (app.toml `uses`,
//! `peripherals::*_BASE`), which is what the MPU maps; the drivers check at
//! compile time that those agree with the constants here.

#![no_std]

/// One 32-bit memory-mapped register, obtained from a block handle.
///
/// Every access is a single volatile word load or store (`ldr`/`str`), in
/// program order with the other register accesses.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct Reg {
    addr: u32,
}

impl Reg {
    /// The register's address.
    #[inline]
    pub const fn addr(self) -> u32 {
        self.addr
    }

    /// Reads the register.
    #[inline]
    pub fn read(self) -> u32 {
        // Safety: a `Reg` exists only inside a block handle made with the
        // block's unsafe `at`, whose contract is that this word-aligned
        // address is a register of a block the caller may access. Volatile
        // because the hardware changes it; it aliases no Rust object.
        unsafe { core::ptr::read_volatile(self.addr as usize as *const u32) }
    }

    /// Writes `value` to the register.
    #[inline]
    pub fn write(self, value: u32) {
        // Safety: as for `read`; a register write touches no memory that
        // Rust knows about (the values the caller may write are its part of
        // the contract of `at`).
        unsafe { core::ptr::write_volatile(self.addr as usize as *mut u32, value) }
    }

    /// Read-modify-write: clears the bits of `clear`, then sets those of
    /// `set` (not atomic: the caller is the block's only user).
    #[inline]
    pub fn modify(self, clear: u32, set: u32) {
        self.write((self.read() & !clear) | set);
    }
}

/// Defines a register-block handle: a base address and one method per
/// register returning its [`Reg`], plus the offset constants.
macro_rules! block {
    (
        $(#[$doc:meta])*
        pub struct $name:ident;
        $( $(#[$rdoc:meta])* $reg:ident / $method:ident = $off:literal, )*
    ) => {
        $(#[$doc])*
        #[derive(Copy, Clone, Debug, Eq, PartialEq)]
        pub struct $name {
            base: u32,
        }

        impl $name {
            /// The block whose registers start at `base`.
            ///
            /// # Safety
            ///
            /// `base` must be the base address of a block of this kind that
            /// the caller may access (a task: one its MPU regions map, from
            /// app.toml `uses`; the kernel: any, during board start-up),
            /// with no other user of the registers the caller touches, and
            /// the caller writes only values RM0090 allows (a wrong clock
            /// or flash wait-state setting can stop the chip fetching
            /// instructions correctly).
            #[inline]
            pub const unsafe fn at(base: u32) -> Self {
                Self { base }
            }

            /// The block's base address.
            #[inline]
            pub const fn base(&self) -> u32 {
                self.base
            }

            $(
                $(#[$rdoc])*
                #[inline]
                pub const fn $method(&self) -> $crate::Reg {
                    $crate::Reg { addr: self.base + $reg }
                }
            )*
        }

        /// Register offsets from the block's base address.
        pub mod offset {
            $( $(#[$rdoc])* pub const $reg: u32 = $off; )*
        }
        use offset::*;
    };
}

pub mod usart {
    //! USART (RM0090 section 30.6); the transmitter (polled, or fed from
    //! its TXE interrupt) is all Escapement uses.

    /// USART1, on APB2.
    pub const USART1: u32 = 0x4001_1000;
    /// USART2, on APB1.
    pub const USART2: u32 = 0x4000_4400;

    block! {
        /// A USART register block.
        pub struct Usart;
        /// Status register.
        SR / sr = 0x00,
        /// Data register: writing it queues one byte.
        DR / dr = 0x04,
        /// Baud rate register.
        BRR / brr = 0x08,
        /// Control register 1.
        CR1 / cr1 = 0x0C,
    }

    pub mod sr {
        /// Transmission complete: the shift register is empty too.
        pub const TC: u32 = 1 << 6;
        /// Transmit data register empty.
        pub const TXE: u32 = 1 << 7;
    }

    pub mod cr1 {
        /// Transmitter enable.
        pub const TE: u32 = 1 << 3;
        /// TXE interrupt enable: the USART's IRQ is asserted while the
        /// data register is empty (a level, not an edge).
        pub const TXEIE: u32 = 1 << 7;
        /// USART enable.
        pub const UE: u32 = 1 << 13;
    }

    /// `BRR` for `baud` from a `pclk_hz` bus clock with 16x oversampling
    /// (RM0090 30.3.4): USARTDIV = pclk / (16 baud), as a 12.4 fixed-point
    /// number, rounded to nearest.
    pub const fn brr(pclk_hz: u32, baud: u32) -> u32 {
        (pclk_hz + baud / 2) / baud
    }
}

pub mod tim {
    //! General-purpose timers TIM2 to TIM5 (RM0090 section 18.4); TIM2 and
    //! TIM5 have 32-bit counters, TIM3 and TIM4 16-bit ones.

    /// TIM2, on APB1 (32-bit).
    pub const TIM2: u32 = 0x4000_0000;
    /// TIM3, on APB1 (16-bit).
    pub const TIM3: u32 = 0x4000_0400;
    /// TIM4, on APB1 (16-bit).
    pub const TIM4: u32 = 0x4000_0800;
    /// TIM5, on APB1 (32-bit).
    pub const TIM5: u32 = 0x4000_0C00;

    block! {
        /// A TIM2..TIM5 register block.
        pub struct Tim;
        /// Control register 1.
        CR1 / cr1 = 0x00,
        /// DMA/interrupt enable register.
        DIER / dier = 0x0C,
        /// Status register (flags are cleared by writing 0; 1s are ignored).
        SR / sr = 0x10,
        /// Event generation register.
        EGR / egr = 0x14,
        /// Counter.
        CNT / cnt = 0x24,
        /// Prescaler: the counter clock is the timer clock / (PSC + 1).
        PSC / psc = 0x28,
        /// Auto-reload register.
        ARR / arr = 0x2C,
    }

    pub mod cr1 {
        /// Counter enable.
        pub const CEN: u32 = 1 << 0;
        /// Update request source: only overflow raises UIF, not `EGR.UG`.
        pub const URS: u32 = 1 << 2;
        /// One-pulse mode: the counter stops (CEN cleared) at the update.
        pub const OPM: u32 = 1 << 3;
    }

    pub mod dier {
        /// Update interrupt enable.
        pub const UIE: u32 = 1 << 0;
    }

    pub mod sr {
        /// Update interrupt flag.
        pub const UIF: u32 = 1 << 0;
    }

    pub mod egr {
        /// Update generation: reloads the counter and the prescaler.
        pub const UG: u32 = 1 << 0;
    }
}

pub mod rcc {
    //! Reset and clock control (RM0090 section 7.3).

    /// The RCC block.
    pub const RCC: u32 = 0x4002_3800;
    /// The clock every STM32F4 runs from out of reset: the HSI RC
    /// oscillator (RM0090 7.2.2).
    pub const HSI_HZ: u32 = 16_000_000;

    block! {
        /// The RCC register block.
        pub struct Rcc;
        /// Clock control register.
        CR / cr = 0x00,
        /// PLL configuration register.
        PLLCFGR / pllcfgr = 0x04,
        /// Clock configuration register.
        CFGR / cfgr = 0x08,
        /// AHB1 peripheral reset register.
        AHB1RSTR / ahb1rstr = 0x10,
        /// APB1 peripheral reset register.
        APB1RSTR / apb1rstr = 0x20,
        /// APB2 peripheral reset register.
        APB2RSTR / apb2rstr = 0x24,
        /// AHB1 peripheral clock enable register.
        AHB1ENR / ahb1enr = 0x30,
        /// APB1 peripheral clock enable register.
        APB1ENR / apb1enr = 0x40,
        /// APB2 peripheral clock enable register.
        APB2ENR / apb2enr = 0x44,
    }

    pub mod cr {
        /// HSE oscillator on.
        pub const HSEON: u32 = 1 << 16;
        /// HSE oscillator ready.
        pub const HSERDY: u32 = 1 << 17;
        /// Main PLL on.
        pub const PLLON: u32 = 1 << 24;
        /// Main PLL locked.
        pub const PLLRDY: u32 = 1 << 25;
    }

    pub mod pllcfgr {
        /// PLLM: VCO input divider, bits 5:0.
        pub const PLLM_SHIFT: u32 = 0;
        /// PLLN: VCO multiplier, bits 14:6.
        pub const PLLN_SHIFT: u32 = 6;
        /// PLLP: main output divider, bits 17:16, encoded as P/2 - 1.
        pub const PLLP_SHIFT: u32 = 16;
        /// PLL source: HSE (set) or HSI (clear).
        pub const PLLSRC_HSE: u32 = 1 << 22;
        /// PLLQ: USB/SDIO/RNG divider, bits 27:24.
        pub const PLLQ_SHIFT: u32 = 24;
    }

    pub mod cfgr {
        /// SW: system clock switch, bits 1:0.
        pub const SW: u32 = 0b11;
        /// SW = PLL.
        pub const SW_PLL: u32 = 0b10;
        /// SWS: system clock switch status, bits 3:2.
        pub const SWS: u32 = 0b11 << 2;
        /// SWS = PLL.
        pub const SWS_PLL: u32 = 0b10 << 2;
        /// HPRE: AHB prescaler, bits 7:4.
        pub const HPRE: u32 = 0xF << 4;
        /// PPRE1: APB1 prescaler, bits 12:10.
        pub const PPRE1: u32 = 0b111 << 10;
        /// PPRE2: APB2 prescaler, bits 15:13.
        pub const PPRE2: u32 = 0b111 << 13;
    }

    /// Bit positions of the peripherals in the AHB1 reset and enable
    /// registers (RM0090 7.3.5 and 7.3.10 agree bit for bit).
    pub mod ahb1 {
        pub const GPIOA: u32 = 1 << 0;
        pub const GPIOD: u32 = 1 << 3;
    }

    /// Bit positions in the APB1 reset and enable registers (RM0090 7.3.8
    /// and 7.3.13).
    pub mod apb1 {
        pub const TIM2: u32 = 1 << 0;
        pub const TIM3: u32 = 1 << 1;
        pub const TIM4: u32 = 1 << 2;
        pub const TIM5: u32 = 1 << 3;
        pub const USART2: u32 = 1 << 17;
    }

    /// Bit positions in the APB2 reset and enable registers (RM0090 7.3.9
    /// and 7.3.14).
    pub mod apb2 {
        pub const USART1: u32 = 1 << 4;
    }
}

pub mod flash {
    //! The flash interface (RM0090 section 3.9).

    /// The flash interface registers.
    pub const FLASH: u32 = 0x4002_3C00;

    block! {
        /// The flash interface register block.
        pub struct Flash;
        /// Access control register.
        ACR / acr = 0x00,
    }

    pub mod acr {
        /// LATENCY: wait states, bits 2:0.
        pub const LATENCY: u32 = 0b111;
        /// Prefetch enable.
        pub const PRFTEN: u32 = 1 << 8;
        /// Instruction cache enable.
        pub const ICEN: u32 = 1 << 9;
        /// Data cache enable.
        pub const DCEN: u32 = 1 << 10;
    }
}

pub mod gpio {
    //! GPIO ports (RM0090 section 8.4).

    /// GPIOA, on AHB1.
    pub const GPIOA: u32 = 0x4002_0000;
    /// GPIOD, on AHB1.
    pub const GPIOD: u32 = 0x4002_0C00;

    block! {
        /// A GPIO port's register block.
        pub struct Gpio;
        /// Port mode register: 2 bits per pin.
        MODER / moder = 0x00,
        /// Alternate function low register: 4 bits per pin, pins 0..7.
        AFRL / afrl = 0x20,
    }

    pub mod moder {
        /// The 2-bit field of pin `n`.
        pub const fn mask(n: u32) -> u32 {
            0b11 << (2 * n)
        }
        /// Pin `n` in alternate function mode.
        pub const fn alternate(n: u32) -> u32 {
            0b10 << (2 * n)
        }
    }

    pub mod afrl {
        /// The 4-bit field of pin `n` (0..7).
        pub const fn mask(n: u32) -> u32 {
            0xF << (4 * n)
        }
        /// Pin `n` (0..7) on alternate function `af`.
        pub const fn af(n: u32, af: u32) -> u32 {
            af << (4 * n)
        }
    }
}

pub mod dbgmcu {
    //! The MCU debug component (RM0090 section 38.16).

    /// The DBGMCU registers (on the private peripheral bus).
    pub const DBGMCU: u32 = 0xE004_2000;

    block! {
        /// The DBGMCU register block.
        pub struct Dbgmcu;
        /// Device id and revision (RM0090 38.6.1).
        IDCODE / idcode = 0x00,
        /// APB1 freeze register (RM0090 38.16.4).
        APB1_FZ / apb1_fz = 0x08,
    }

    pub mod idcode {
        /// REV_ID: bits 31:16.
        pub const REV_ID_SHIFT: u32 = 16;
        /// REV_ID of revision A, on which prefetch must stay off (ST
        /// errata sheet ES0182 for revision A parts).
        pub const REV_A: u32 = 0x1000;
    }

    pub mod apb1_fz {
        /// TIM2..TIM5 stop counting while the core is halted.
        pub const DBG_TIM2_STOP: u32 = 1 << 0;
        pub const DBG_TIM3_STOP: u32 = 1 << 1;
        pub const DBG_TIM4_STOP: u32 = 1 << 2;
        pub const DBG_TIM5_STOP: u32 = 1 << 3;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_are_base_plus_rm0090_offset() {
        // Safety: the handles are only asked for addresses, never accessed.
        let (t, r) = unsafe { (tim::Tim::at(tim::TIM3), rcc::Rcc::at(rcc::RCC)) };
        assert_eq!(t.cnt().addr(), 0x4000_0424);
        assert_eq!(t.arr().addr(), 0x4000_042C);
        assert_eq!(r.apb1enr().addr(), 0x4002_3840);
        // Safety: as above.
        let u = unsafe { usart::Usart::at(usart::USART2) };
        assert_eq!(u.brr().addr(), 0x4000_4408);
    }

    #[test]
    fn brr_rounds_to_nearest() {
        // 16e6 / 115200 = 138.9: 139 (0x8B), what a USART at reset needs.
        assert_eq!(usart::brr(rcc::HSI_HZ, 115_200), 0x8B);
        // 42 MHz APB1: 364.6 -> 365.
        assert_eq!(usart::brr(42_000_000, 115_200), 365);
    }

    #[test]
    fn gpio_fields() {
        assert_eq!(gpio::moder::alternate(2) | gpio::moder::alternate(3), 0b1010 << 4);
        assert_eq!(gpio::afrl::af(2, 7) | gpio::afrl::af(3, 7), 0x77 << 8);
        assert_eq!(gpio::afrl::mask(2) | gpio::afrl::mask(3), 0xFF << 8);
    }
}
