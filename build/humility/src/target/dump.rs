//! Core dumps in humility's layout: writing them from a target, and reading
//! them back as a target.
//!
//! Why: a dump freezes a system for later (or for golden tests) and must be
//! loadable by real humility (`humility -d FILE`) as well as by us.
//!
//! Layout (shared/HUMILITY-COMPAT.md, "Dumps"): an ELF32 `ET_CORE` file for
//! `EM_ARM`. One `PT_NOTE` segment holds notes named
//! `Oxide Computer Company`: type `0x1DE00001` is the whole build archive
//! (zip bytes), type `0x1DE00002` the registers as 8-byte records (u32
//! register id, u32 value). Then one `PT_LOAD` segment per memory range
//! (RAM, and the image's flash), with `p_vaddr = p_paddr` = the address.
//!
//! Guarantees: [`write`] produces a file that the `object` crate's ELF
//! reader (an independent parser) accepts, and [`DumpTarget`] serves only
//! bytes that are in a `PT_LOAD` segment: a read outside the dumped ranges
//! is an error naming the range.

use super::{read_segments, Target};
use anyhow::{bail, Context, Result};
use object::read::elf::{ElfFile32, FileHeader, ProgramHeader};
use object::{elf, LittleEndian};
use std::path::Path;

/// The note name humility looks for.
pub const NOTE_NAME: &str = "Oxide Computer Company";
/// Note type: the build archive.
pub const NOTE_ARCHIVE: u32 = 0x1DE0_0001;
/// Note type: registers.
pub const NOTE_REGISTERS: u32 = 0x1DE0_0002;

/// Builds the bytes of a dump.
pub fn write(archive_zip: &[u8], registers: &[(u32, u32)], segments: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut regs = Vec::with_capacity(registers.len() * 8);
    for (id, v) in registers {
        regs.extend_from_slice(&id.to_le_bytes());
        regs.extend_from_slice(&v.to_le_bytes());
    }
    let mut notes = Vec::new();
    for (ty, desc) in [(NOTE_ARCHIVE, archive_zip), (NOTE_REGISTERS, &regs[..])] {
        let name = format!("{NOTE_NAME}\0");
        notes.extend_from_slice(&(name.len() as u32).to_le_bytes());
        notes.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        notes.extend_from_slice(&ty.to_le_bytes());
        notes.extend_from_slice(name.as_bytes());
        pad4(&mut notes);
        notes.extend_from_slice(desc);
        pad4(&mut notes);
    }

    let phnum = 1 + segments.len();
    let ehsize = 52usize;
    let phentsize = 32usize;
    let mut offset = ehsize + phnum * phentsize;
    let mut out = Vec::new();
    // ELF header.
    out.extend_from_slice(&[0x7f, b'E', b'L', b'F', elf::ELFCLASS32, elf::ELFDATA2LSB, elf::EV_CURRENT, elf::ELFOSABI_NONE]);
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&elf::ET_CORE.to_le_bytes());
    out.extend_from_slice(&elf::EM_ARM.to_le_bytes());
    out.extend_from_slice(&(elf::EV_CURRENT as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // e_entry
    out.extend_from_slice(&(ehsize as u32).to_le_bytes()); // e_phoff
    out.extend_from_slice(&0u32.to_le_bytes()); // e_shoff
    out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    out.extend_from_slice(&(ehsize as u16).to_le_bytes());
    out.extend_from_slice(&(phentsize as u16).to_le_bytes());
    out.extend_from_slice(&(phnum as u16).to_le_bytes());
    out.extend_from_slice(&40u16.to_le_bytes()); // e_shentsize
    out.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
    out.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
    let phdr = |out: &mut Vec<u8>, ty: u32, off: usize, addr: u64, size: usize, flags: u32, align: u32| {
        for v in [ty, off as u32, addr as u32, addr as u32, size as u32, size as u32, flags, align] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    };
    phdr(&mut out, elf::PT_NOTE, offset, 0, notes.len(), elf::PF_R, 4);
    offset += notes.len();
    for (addr, data) in segments {
        phdr(&mut out, elf::PT_LOAD, offset, *addr, data.len(), elf::PF_R | elf::PF_W | elf::PF_X, 4);
        offset += data.len();
    }
    out.extend_from_slice(&notes);
    for (_, data) in segments {
        out.extend_from_slice(data);
    }
    out
}

fn pad4(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

/// A dump file as a target.
pub struct DumpTarget {
    path: String,
    archive: Option<Vec<u8>>,
    registers: Vec<(u32, u32)>,
    segments: Vec<(u64, Vec<u8>)>,
}

impl DumpTarget {
    /// Reads a dump file.
    pub fn open(path: &Path) -> Result<DumpTarget> {
        let data = std::fs::read(path).with_context(|| format!("reading dump {}", path.display()))?;
        Self::parse(&data, path.display().to_string())
    }

    /// Parses dump bytes.
    pub fn parse(data: &[u8], path: String) -> Result<DumpTarget> {
        let file = ElfFile32::<LittleEndian>::parse(data).with_context(|| format!("{path} is not an ELF32 little-endian file"))?;
        let endian = LittleEndian;
        let header = file.elf_header();
        if header.e_type(endian) != elf::ET_CORE || header.e_machine(endian) != elf::EM_ARM {
            bail!("{path} is not an ARM core dump (ELF type {}, machine {})", header.e_type(endian), header.e_machine(endian));
        }
        let mut t = DumpTarget { path: path.clone(), archive: None, registers: Vec::new(), segments: Vec::new() };
        for ph in file.elf_program_headers() {
            match ph.p_type(endian) {
                elf::PT_NOTE => {
                    let mut notes = ph.notes(endian, data)?.context("PT_NOTE without notes")?;
                    while let Some(n) = notes.next()? {
                        if n.name() != NOTE_NAME.as_bytes() {
                            continue;
                        }
                        match n.n_type(endian) {
                            NOTE_ARCHIVE => t.archive = Some(n.desc().to_vec()),
                            NOTE_REGISTERS => {
                                t.registers = n
                                    .desc()
                                    .chunks_exact(8)
                                    .map(|c| (u32::from_le_bytes(c[..4].try_into().unwrap()), u32::from_le_bytes(c[4..].try_into().unwrap())))
                                    .collect();
                            }
                            _ => {}
                        }
                    }
                }
                elf::PT_LOAD => {
                    let bytes = ph.data(endian, data).map_err(|()| anyhow::anyhow!("{path}: a PT_LOAD segment lies outside the file"))?;
                    t.segments.push((ph.p_vaddr(endian) as u64, bytes.to_vec()));
                }
                _ => {}
            }
        }
        Ok(t)
    }

    /// The dumped memory ranges as (address, length).
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        self.segments.iter().map(|(a, d)| (*a, d.len() as u64)).collect()
    }
}

impl Target for DumpTarget {
    fn describe(&self) -> String {
        format!("dump {}", self.path)
    }
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<()> {
        read_segments(&self.segments, &format!("dump {}", self.path), addr, buf)
    }
    fn registers(&mut self) -> Result<Vec<(u32, u32)>> {
        if self.registers.is_empty() {
            bail!("dump {} has no register note (type {NOTE_REGISTERS:#x})", self.path);
        }
        Ok(self.registers.clone())
    }
    fn embedded_archive(&self) -> Option<Vec<u8>> {
        self.archive.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let regs = vec![(0, 1), (15, 0x0800_0101), (16, 0x0100_0000)];
        let segs = vec![(0x2000_0000, vec![1, 2, 3, 4, 5]), (0x0800_0000, vec![9; 16])];
        let bytes = write(b"PK-zip", &regs, &segs);
        let mut d = DumpTarget::parse(&bytes, "t".into()).unwrap();
        assert_eq!(d.embedded_archive().unwrap(), b"PK-zip");
        assert_eq!(d.registers().unwrap(), regs);
        let mut b = [0u8; 3];
        d.read(0x2000_0001, &mut b).unwrap();
        assert_eq!(b, [2, 3, 4]);
        let e = d.read(0x2000_0004, &mut b).unwrap_err().to_string();
        assert!(e.contains("0x20000004..0x20000007"), "{e}");
        assert_eq!(d.ranges(), vec![(0x2000_0000, 5), (0x0800_0000, 16)]);
    }

    #[test]
    fn refuses_non_core_files() {
        assert!(DumpTarget::parse(b"not an elf", "x".into()).is_err());
    }
}
