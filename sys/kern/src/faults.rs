//! What a CPU fault taken from a task means: the fault status registers
//! read at entry, classified into the task's [`FaultInfo`].
//!
//! Pure, so the decision is host-tested; `arch` reads and clears the
//! registers and stops the task. Which fault the task gets decides nothing
//! else: every fault from thread mode stops the current task and no other
//! (faults from the kernel itself halt, see `arch`).

use crate::task::FaultInfo;
use abi::FaultKind;

/// The ARMv7-M fault status registers at fault entry.
#[derive(Copy, Clone, Debug, Default)]
pub struct FaultStatus {
    /// Configurable Fault Status (MMFSR in bits 0-7, BFSR 8-15, UFSR 16-31).
    pub cfsr: u32,
    /// MemManage Fault Address (valid when MMFSR.MMARVALID, bit 7).
    pub mmfar: u32,
    /// BusFault Address (valid when BFSR.BFARVALID, bit 15 of CFSR).
    pub bfar: u32,
}

/// MMFSR / BFSR: MSTKERR|MUNSTKERR and STKERR|UNSTKERR (bits 4 and 3).
const STACKING_ERRORS: u32 = 0b1_1000;
/// MMFSR.MMARVALID and BFSR.BFARVALID.
const ADDRESS_VALID: u32 = 0x80;

/// Classifies a fault taken from a task. Stacking and unstacking errors
/// come first: they mean the task's stack pointer left its RAM (almost
/// always an overflow), whatever else the registers say.
pub fn classify(s: FaultStatus) -> FaultInfo {
    let mmfsr = s.cfsr & 0xFF;
    let bfsr = (s.cfsr >> 8) & 0xFF;
    let ufsr = (s.cfsr >> 16) as u16;
    let mm_address = (mmfsr & ADDRESS_VALID != 0).then_some(s.mmfar);
    let bus_address = (bfsr & ADDRESS_VALID != 0).then_some(s.bfar);
    if mmfsr & STACKING_ERRORS != 0 {
        FaultInfo::MemoryAccess { address: mm_address, kind: FaultKind::StackOverflow }
    } else if bfsr & STACKING_ERRORS != 0 {
        FaultInfo::MemoryAccess { address: bus_address, kind: FaultKind::StackOverflow }
    } else if mmfsr != 0 {
        FaultInfo::MemoryAccess { address: mm_address, kind: FaultKind::MemoryAccess }
    } else if bfsr != 0 {
        FaultInfo::MemoryAccess { address: bus_address, kind: FaultKind::BusError }
    } else if ufsr != 0 {
        FaultInfo::IllegalInstruction { ufsr }
    } else {
        // A HardFault with no configurable cause: e.g. a `bkpt` with no
        // debugger (HFSR.DEBUGEVT).
        FaultInfo::MemoryAccess { address: None, kind: FaultKind::Unknown }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(cfsr: u32) -> FaultStatus {
        FaultStatus { cfsr, mmfar: 0x2000_0100, bfar: 0x4000_0000 }
    }

    #[test]
    fn a_stacking_error_is_a_stack_overflow_whatever_else_is_set() {
        // MSTKERR alone (no address: MMARVALID is never set for stacking).
        assert_eq!(classify(status(1 << 4)), FaultInfo::MemoryAccess { address: None, kind: FaultKind::StackOverflow });
        // MSTKERR with DACCVIOL and an address, and a BusFault stacking error.
        assert_eq!(classify(status(1 << 4 | 1 << 1 | 0x80)).kind(), FaultKind::StackOverflow);
        assert_eq!(classify(status(1 << 12)).kind(), FaultKind::StackOverflow);
        // MUNSTKERR: a frame that could not be read back on return.
        assert_eq!(classify(status(1 << 3)).kind(), FaultKind::StackOverflow);
    }

    #[test]
    fn access_faults_carry_their_address_only_when_valid() {
        assert_eq!(classify(status(0x82)), FaultInfo::MemoryAccess { address: Some(0x2000_0100), kind: FaultKind::MemoryAccess });
        // IACCVIOL (execute from XN memory): no address.
        assert_eq!(classify(status(0x01)), FaultInfo::MemoryAccess { address: None, kind: FaultKind::MemoryAccess });
        // Precise bus error with BFAR, imprecise without.
        assert_eq!(classify(status(0x8200)), FaultInfo::MemoryAccess { address: Some(0x4000_0000), kind: FaultKind::BusError });
        assert_eq!(classify(status(0x0400)), FaultInfo::MemoryAccess { address: None, kind: FaultKind::BusError });
    }

    #[test]
    fn usage_faults_keep_their_bits() {
        // UNDEFINSTR, INVSTATE, INVPC, NOCP, UNALIGNED, DIVBYZERO.
        for bit in [0, 1, 2, 3, 8, 9] {
            assert_eq!(classify(status(1 << (16 + bit))), FaultInfo::IllegalInstruction { ufsr: 1 << bit });
        }
    }

    #[test]
    fn a_fault_with_no_cause_is_unknown() {
        let s = FaultStatus::default();
        assert_eq!(classify(s), FaultInfo::MemoryAccess { address: None, kind: FaultKind::Unknown });
    }
}
