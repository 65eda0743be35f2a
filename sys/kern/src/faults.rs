//! What a CPU fault taken from a task means: the fault status registers
//! read at entry, classified into the task's [`FaultInfo`].
//!
//! Pure, so the decision is host-tested; `arch` reads and clears the
//! registers and stops the task. Which fault the task gets decides nothing
//! else: every fault from thread mode stops the current task and no other
//! (faults from the kernel itself halt, see `arch`).

use crate::task::{FaultInfo, FaultSource};

/// The ARMv7-M fault status registers at fault entry, and the task's
/// stack pointer.
#[derive(Copy, Clone, Debug, Default)]
pub struct FaultStatus {
    /// Configurable Fault Status (MMFSR in bits 0-7, BFSR 8-15, UFSR 16-31).
    pub cfsr: u32,
    /// HardFault Status.
    pub hfsr: u32,
    /// MemManage Fault Address (valid when MMFSR.MMARVALID, bit 7).
    pub mmfar: u32,
    /// BusFault Address (valid when BFSR.BFARVALID, bit 15 of CFSR).
    pub bfar: u32,
    /// The task's process stack pointer at the fault.
    pub psp: u32,
}

/// MMFSR / BFSR: MSTKERR|MUNSTKERR and STKERR|UNSTKERR (bits 4 and 3).
const STACKING_ERRORS: u32 = 0b1_1000;
/// MMFSR.IACCVIOL: an instruction fetch from memory the MPU marks XN.
const IACCVIOL: u32 = 1 << 0;
/// MMFSR.MMARVALID and BFSR.BFARVALID.
const ADDRESS_VALID: u32 = 0x80;
/// UFSR bits.
const UNDEFINSTR: u32 = 1 << 0;
const INVSTATE: u32 = 1 << 1;
const DIVBYZERO: u32 = 1 << 9;

/// Classifies a fault taken from a task. Stacking and unstacking errors
/// come first: they mean the task's stack pointer left its RAM (almost
/// always an overflow), whatever else the registers say.
pub fn classify(s: FaultStatus) -> FaultInfo {
    let mmfsr = s.cfsr & 0xFF;
    let bfsr = (s.cfsr >> 8) & 0xFF;
    let ufsr = s.cfsr >> 16;
    let mm_address = (mmfsr & ADDRESS_VALID != 0).then_some(s.mmfar);
    let bus_address = (bfsr & ADDRESS_VALID != 0).then_some(s.bfar);
    let source = FaultSource::User;
    if mmfsr & STACKING_ERRORS != 0 {
        FaultInfo::StackOverflow { address: mm_address.unwrap_or(s.psp) }
    } else if bfsr & STACKING_ERRORS != 0 {
        FaultInfo::StackOverflow { address: bus_address.unwrap_or(s.psp) }
    } else if mmfsr & !ADDRESS_VALID == IACCVIOL {
        FaultInfo::IllegalText
    } else if mmfsr != 0 {
        FaultInfo::MemoryAccess { address: mm_address, source }
    } else if bfsr != 0 {
        FaultInfo::BusError { address: bus_address, source }
    } else if ufsr == DIVBYZERO {
        FaultInfo::DivideByZero
    } else if ufsr == UNDEFINSTR {
        FaultInfo::IllegalInstruction
    } else if ufsr == INVSTATE {
        FaultInfo::IllegalText
    } else if ufsr != 0 {
        FaultInfo::InvalidOperation(s.cfsr)
    } else {
        // A HardFault with no configurable cause: e.g. a `bkpt` with no
        // debugger (HFSR.DEBUGEVT).
        FaultInfo::InvalidOperation(s.hfsr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(cfsr: u32) -> FaultStatus {
        FaultStatus { cfsr, hfsr: 0, mmfar: 0x2000_0100, bfar: 0x4000_0000, psp: 0x2000_0008 }
    }

    #[test]
    fn a_stacking_error_is_a_stack_overflow_whatever_else_is_set() {
        // MSTKERR alone: MMARVALID is never set for stacking, so the
        // address is the stack pointer the frame was pushed from.
        assert_eq!(classify(status(1 << 4)), FaultInfo::StackOverflow { address: 0x2000_0008 });
        // MSTKERR with DACCVIOL and an address, and a BusFault stacking error.
        assert_eq!(classify(status(1 << 4 | 1 << 1 | 0x80)), FaultInfo::StackOverflow { address: 0x2000_0100 });
        assert_eq!(classify(status(1 << 12)), FaultInfo::StackOverflow { address: 0x2000_0008 });
        // MUNSTKERR: a frame that could not be read back on return.
        assert_eq!(classify(status(1 << 3)), FaultInfo::StackOverflow { address: 0x2000_0008 });
    }

    #[test]
    fn access_faults_carry_their_address_only_when_valid() {
        let source = FaultSource::User;
        assert_eq!(classify(status(0x82)), FaultInfo::MemoryAccess { address: Some(0x2000_0100), source });
        assert_eq!(classify(status(0x02)), FaultInfo::MemoryAccess { address: None, source });
        // Precise bus error with BFAR, imprecise without.
        assert_eq!(classify(status(0x8200)), FaultInfo::BusError { address: Some(0x4000_0000), source });
        assert_eq!(classify(status(0x0400)), FaultInfo::BusError { address: None, source });
    }

    #[test]
    fn executing_what_is_not_code_is_illegal_text() {
        // IACCVIOL (execute from XN memory), INVSTATE (ARM state).
        assert_eq!(classify(status(0x01)), FaultInfo::IllegalText);
        assert_eq!(classify(status(INVSTATE << 16)), FaultInfo::IllegalText);
    }

    #[test]
    fn usage_faults_are_named_when_humility_has_a_name() {
        assert_eq!(classify(status(UNDEFINSTR << 16)), FaultInfo::IllegalInstruction);
        assert_eq!(classify(status(DIVBYZERO << 16)), FaultInfo::DivideByZero);
        // INVPC, NOCP, UNALIGNED: the raw CFSR.
        for bit in [2, 3, 8] {
            assert_eq!(classify(status(1 << (16 + bit))), FaultInfo::InvalidOperation(1 << (16 + bit)));
        }
    }

    #[test]
    fn a_fault_with_no_configurable_cause_carries_hfsr() {
        let s = FaultStatus { hfsr: 1 << 31, ..FaultStatus::default() };
        assert_eq!(classify(s), FaultInfo::InvalidOperation(1 << 31));
    }
}
