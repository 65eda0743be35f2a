//! RAM start-up, the first job of a C run-time's `crt0`: copy `.data`'s
//! initial values from flash and zero `.bss`, before any code reads a
//! static. The kernel's `Reset` (sys/kern/src/arch/arm_m.rs) and every
//! task's `_start` (sys/userlib/src/start.rs) both call
//! [`init_data_bss`]; nothing else writes these sections wholesale.
//!
//! The bounds are the linker symbols `__sdata`, `__edata`, `__sidata`,
//! `__sbss` and `__ebss`, which the kernel's and the tasks' linker scripts
//! define alike (build/xtask/src/linker.rs, `COMMON_TAIL`): word-aligned,
//! `.data` in RAM loaded from flash at `__sidata`, `.bss` in RAM. `.uninit`
//! lies outside both and is left alone.
//!
//! Everything here is `#[inline(always)]`: it runs before the caller's own
//! statics are valid, so it must not depend on any (it uses none), and it
//! compiles into the caller exactly as the loops it replaced did.

#![no_std]

/// Copies `.data` from its load image in flash and zeroes `.bss`, using
/// the linker script's bounds.
///
/// # Safety
///
/// - Call it once, as the first code of the kernel image (at reset) or of a
///   task incarnation (at `_start`), before anything reads or writes a
///   static in `.data` or `.bss` or forms a reference to one: it rewrites
///   them behind the compiler's back.
/// - Nothing else runs meanwhile (no interrupt handler, no other thread of
///   execution uses those statics).
/// - The image is linked with the project's linker scripts, whose symbols
///   bound word-aligned ranges: `.data` and `.bss` in RAM the caller may
///   write, the load image (as long as `.data`) in flash it may read.
#[cfg(target_arch = "arm")]
#[inline(always)]
pub unsafe fn init_data_bss() {
    extern "C" {
        static mut __sdata: u32;
        static mut __edata: u32;
        static __sidata: u32;
        static mut __sbss: u32;
        static mut __ebss: u32;
    }
    // Safety: the caller's contract makes the symbols the bounds of its
    // own word-aligned .data, load image and .bss, unused by anything else
    // until this returns; `&raw` takes their addresses without forming a
    // reference.
    unsafe {
        copy_words(&raw mut __sdata, &raw mut __edata, &raw const __sidata);
        zero_words(&raw mut __sbss, &raw mut __ebss);
    }
}

/// Copies words from `src` to `start..end`, one at a time, in order.
///
/// # Safety
///
/// `start..end` (`start <= end`, both word-aligned) must be memory the
/// caller may write and that no live Rust reference points into; `src`
/// must be word-aligned and readable for as many words, not overlapping
/// the destination.
#[inline(always)]
pub unsafe fn copy_words(start: *mut u32, end: *mut u32, src: *const u32) {
    let (mut dst, mut src) = (start, src);
    while dst < end {
        // Safety: `dst` is inside `start..end` and `src` at the same
        // offset of the source, by the contract; volatile so the compiler
        // neither turns the loop into a `memcpy` call (which might itself
        // rely on initialised statics) nor assumes the contents unchanged.
        unsafe {
            dst.write_volatile(src.read());
            dst = dst.add(1);
            src = src.add(1);
        }
    }
}

/// Zeroes `start..end`, one word at a time, in order.
///
/// # Safety
///
/// `start..end` (`start <= end`, both word-aligned) must be memory the
/// caller may write and that no live Rust reference points into.
#[inline(always)]
pub unsafe fn zero_words(start: *mut u32, end: *mut u32) {
    let mut z = start;
    while z < end {
        // Safety: `z` is inside `start..end`, by the contract; volatile
        // for the reason given in `copy_words`.
        unsafe {
            z.write_volatile(0);
            z = z.add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_and_zeroes_exactly_the_ranges() {
        let flash = [1u32, 2, 3, 4];
        let mut ram = [0xAAAA_AAAAu32; 8];
        let p = ram.as_mut_ptr();
        // Safety: both ranges are inside `ram` (words 1..4 and 5..7), the
        // source is `flash` (3 words read), and no reference into `ram` is
        // live while the raw pointers are used.
        unsafe {
            copy_words(p.add(1), p.add(4), flash.as_ptr());
            zero_words(p.add(5), p.add(7));
        }
        assert_eq!(ram, [0xAAAA_AAAA, 1, 2, 3, 0xAAAA_AAAA, 0, 0, 0xAAAA_AAAA]);
    }

    #[test]
    fn empty_ranges_touch_nothing() {
        let mut ram = [7u32; 2];
        let p = ram.as_mut_ptr();
        // Safety: empty ranges inside `ram`; the source is never read.
        unsafe {
            copy_words(p.add(1), p.add(1), core::ptr::null());
            zero_words(p, p);
        }
        assert_eq!(ram, [7, 7]);
    }
}
