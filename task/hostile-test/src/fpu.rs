//! FP register isolation. `fpwriter` loads s0-s31 and FPSCR with a
//! pattern and, in the same instruction sequence, posts `fpreader`, which
//! outranks it and so runs at once; `fpreader` reads every FP register
//! straight after waking. Nothing of the writer's may show, and when the
//! writer resumes, its own registers must be as it left them. Three
//! rounds: the first finds the reader with no FP state (the kernel must
//! clear the registers), the later ones with its own (restored, still
//! zero).

use super::*;

/// Rounds of the exchange.
#[allow(dead_code)]
const ROUNDS: u32 = 3;

/// 32 single-precision registers and FPSCR.
#[allow(dead_code)]
type FpImage = [u32; 33];

#[cfg(feature = "fpreader")]
pub fn run() -> ! {
    let mut leaked = 0u32;
    for _ in 0..ROUNDS {
        sys_recv_notification(1);
        let mut regs: FpImage = [0; 33];
        // Safety: writes the 33 words of `regs`.
        unsafe { fp_read(regs.as_mut_ptr()) };
        leaked += regs.iter().filter(|&&w| w != 0).count() as u32;
    }
    let passed = leaked == 0;
    console_writeln!(
        console(),
        "{} fp-isolation: reader saw {} non-zero FP registers in {} rounds",
        if passed { "PASS" } else { "FAIL" },
        leaked,
        ROUNDS
    );
    serve_verdict(Verdict { done: true, passed, a: ROUNDS, b: leaked })
}

/// Stores s0-s31 and FPSCR at `out`.
#[cfg(feature = "fpreader")]
#[unsafe(naked)]
unsafe extern "C" fn fp_read(out: *mut u32) {
    core::arch::naked_asm!(
        ".fpu fpv4-sp-d16",
        "vstmia r0!, {{s0-s31}}",
        "vmrs r1, fpscr",
        "str r1, [r0]",
        "bx lr",
    )
}

#[cfg(feature = "fpwriter")]
pub fn run() -> ! {
    let reader = slots::FPREADER.0 as u32;
    let mut changed = 0u32;
    for round in 0..ROUNDS {
        let mut set: FpImage = core::array::from_fn(|i| 0x3F80_0000 + (round << 12) + i as u32);
        // FPSCR: DN and FZ, and the N flag.
        set[32] = 0x8300_0000;
        let mut got: FpImage = [0; 33];
        // Safety: reads 33 words of `set`, writes 33 of `got`.
        unsafe { fp_post_roundtrip(set.as_ptr(), got.as_mut_ptr(), reader) };
        changed += set.iter().zip(got.iter()).filter(|(a, b)| a != b).count() as u32;
    }
    let passed = changed == 0;
    console_writeln!(
        console(),
        "{} fp-preserved: writer's own FP registers changed {} times across {} preemptions",
        if passed { "PASS" } else { "FAIL" },
        changed,
        ROUNDS
    );
    serve_verdict(Verdict { done: true, passed, a: ROUNDS, b: changed })
}

/// Loads s0-s31 and FPSCR from `set`, posts bit 0 to `reader` (the
/// reader runs before this returns), then stores s0-s31 and FPSCR to
/// `got`. One asm body, so no compiled code touches the FP registers in
/// between.
#[cfg(feature = "fpwriter")]
#[unsafe(naked)]
unsafe extern "C" fn fp_post_roundtrip(set: *const u32, got: *mut u32, reader: u32) {
    core::arch::naked_asm!(
        ".fpu fpv4-sp-d16",
        "push {{r4-r11, lr}}",
        "vldmia r0!, {{s0-s31}}",
        "ldr r3, [r0]",
        "vmsr fpscr, r3",
        "mov r4, r2",
        "movs r5, #1",
        "movs r11, #9", // Sysnum::Post
        "svc #0",
        "vstmia r1!, {{s0-s31}}",
        "vmrs r3, fpscr",
        "str r3, [r1]",
        "pop {{r4-r11, pc}}",
    )
}
