//! Where target memory comes from, behind one trait.
//!
//! Why: every view reads memory and registers the same way whether the
//! system is a QEMU guest (GDB remote protocol), a post-mortem dump, a board
//! on a debug probe, or just the archive's image (for views that need only
//! flash contents, such as `map`).
//!
//! Guarantees: a [`Target`] read either fills the whole buffer or fails with
//! an error naming the address range; nothing returns partial or invented
//! bytes. Targets that stop a running system to read it ([`gdb`], `probe`)
//! resume it when dropped.

pub mod dump;
pub mod gdb;
#[cfg(feature = "probe")]
pub mod probe;

use anyhow::{bail, Result};
use object::{Object, ObjectSegment};

/// Register ids used in dumps and by [`Target::registers`]: R0-R12 are
/// 0-12, SP 13, LR 14, PC 15, xPSR 16 (humility's numbering).
pub const REGISTER_NAMES: [&str; 17] =
    ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "sp", "lr", "pc", "xpsr"];

/// A source of target memory and registers.
pub trait Target {
    /// One line saying what this is (`QEMU gdbstub 127.0.0.1:3333`).
    fn describe(&self) -> String;
    /// Reads `buf.len()` bytes at `addr`.
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<()>;
    /// The CPU's core registers as (id, value), ids as in [`REGISTER_NAMES`].
    fn registers(&mut self) -> Result<Vec<(u32, u32)>>;
    /// A build archive the target carries itself (a dump's note).
    fn embedded_archive(&self) -> Option<Vec<u8>> {
        None
    }
    /// Lets a halted target run again (no-op for static targets).
    fn resume(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Reads a little-endian u32.
pub fn read_u32(t: &mut dyn Target, addr: u64) -> Result<u32> {
    let mut b = [0u8; 4];
    t.read(addr, &mut b)?;
    Ok(u32::from_le_bytes(b))
}

/// Memory as an image file describes it: the loadable contents of
/// `img/final.elf` (flash, and the initial values of RAM at their load
/// addresses). Serves views that need only what the build wrote.
pub struct ImageTarget {
    segments: Vec<(u64, Vec<u8>)>,
}

impl ImageTarget {
    /// Builds the image from `final.elf` bytes.
    pub fn from_elf(elf: &[u8]) -> Result<ImageTarget> {
        let file = object::File::parse(elf)?;
        let mut segments = Vec::new();
        for s in file.segments() {
            let data = s.data()?;
            if !data.is_empty() {
                segments.push((s.address(), data.to_vec()));
            }
        }
        Ok(ImageTarget { segments })
    }
}

/// Serves a read from a list of (address, bytes) segments.
pub fn read_segments(segments: &[(u64, Vec<u8>)], what: &str, addr: u64, buf: &mut [u8]) -> Result<()> {
    let end = addr + buf.len() as u64;
    for (base, data) in segments {
        if addr >= *base && end <= base + data.len() as u64 {
            let off = (addr - base) as usize;
            buf.copy_from_slice(&data[off..off + buf.len()]);
            return Ok(());
        }
    }
    bail!("{what} holds no memory at {addr:#010x}..{end:#010x}")
}

impl Target for ImageTarget {
    fn describe(&self) -> String {
        "the archive's image (no live target)".into()
    }
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<()> {
        read_segments(&self.segments, "the image (final.elf)", addr, buf)
            .map_err(|e| anyhow::anyhow!("{e}; this view needs a live target or a dump (--gdb PORT or -d DUMP)"))
    }
    fn registers(&mut self) -> Result<Vec<(u32, u32)>> {
        bail!("the archive alone has no registers; attach to a target (--gdb PORT) or load a dump (-d DUMP)")
    }
}
