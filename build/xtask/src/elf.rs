//! ELF plumbing for images: reading a linked task's entry point and
//! loadable segments, and writing the combined `final.elf` (every
//! program's loadable segments in one file, as QEMU and flashing tools
//! load it) and `final.bin` (the flash contents from the start of flash).
//!
//! `final.elf` has a section table as well as program headers: humility
//! reads an archive's flash contents from its `SHT_PROGBITS` sections
//! (placed at their load addresses), and probe-rs loads only segments that
//! contain a section. Each segment with file contents becomes one
//! `SHT_PROGBITS` section over exactly the segment's bytes, each memory-only
//! segment (stacks, .bss) one `SHT_NOBITS` section; a `.shstrtab` names
//! them.

use anyhow::{bail, Context, Result};
use object::elf::{FileHeader32, PT_LOAD};
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};
use object::Endianness;
use std::path::Path;

/// One loadable segment: bytes to place at a physical address.
#[derive(Clone)]
pub struct Segment {
    /// Section name in `final.elf`: the first allocated section of the
    /// source ELF that lies in this segment, suffixed with the program
    /// (`.text.timer`), so disassemblers show where code came from.
    pub name: String,
    pub paddr: u32,
    pub vaddr: u32,
    pub memsz: u32,
    pub flags: u32,
    /// Alignment from the source program header (at least 1).
    pub align: u32,
    pub data: Vec<u8>,
}

/// What the image builder needs from a linked ELF.
pub struct Loaded {
    pub entry: u32,
    pub segments: Vec<Segment>,
}

/// Reads the entry point and `PT_LOAD` segments of a 32-bit ARM ELF.
/// `program` (`kernel` or a task name) suffixes the segments' names.
pub fn load(path: &Path, program: &str) -> Result<Loaded> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let hdr = FileHeader32::<Endianness>::parse(&*data).with_context(|| format!("{} is not an ELF32 file", path.display()))?;
    let e = hdr.endian()?;
    if hdr.e_machine(e) != object::elf::EM_ARM {
        bail!("{} is not an ARM ELF", path.display());
    }
    // Non-empty allocated sections (address, size, name), to name the
    // segments.
    let sections = hdr.sections(e, &*data).with_context(|| format!("{}: bad section table", path.display()))?;
    let mut allocated = Vec::new();
    for s in sections.iter() {
        if s.sh_flags(e) & object::elf::SHF_ALLOC == 0 || s.sh_size(e) == 0 {
            continue;
        }
        let name = sections.section_name(e, s).map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default();
        allocated.push((s.sh_addr(e), s.sh_size(e), name));
    }
    let mut segments = Vec::new();
    for (i, ph) in hdr.program_headers(e, &*data)?.iter().enumerate() {
        if ph.p_type(e) != PT_LOAD || ph.p_memsz(e) == 0 {
            continue;
        }
        let bytes = ph.data(e, &*data).map_err(|_| anyhow::anyhow!("bad segment in {}", path.display()))?;
        let (vaddr, memsz) = (ph.p_vaddr(e), ph.p_memsz(e));
        let inside = allocated
            .iter()
            .find(|(a, size, n)| !n.is_empty() && *a >= vaddr && (*a as u64 + *size as u64) <= vaddr as u64 + memsz as u64);
        let name = match inside {
            Some((_, _, n)) => format!("{n}.{program}"),
            None => format!(".segment{i}.{program}"),
        };
        segments.push(Segment {
            name,
            paddr: ph.p_paddr(e),
            vaddr,
            memsz,
            flags: ph.p_flags(e),
            align: ph.p_align(e).max(1),
            data: bytes.to_vec(),
        });
    }
    Ok(Loaded { entry: hdr.e_entry(e), segments })
}

const EHSIZE: u32 = 52;
const PHSIZE: u32 = 32;
const SHSIZE: u32 = 40;

/// `final.elf`'s bytes: an ELF32 ARM executable holding `segments`,
/// entry `entry`, with the section table described in the module docs.
pub fn combined(entry: u32, segments: &[Segment]) -> Result<Vec<u8>> {
    if segments.len() > 0xFFF0 {
        bail!("{} segments are more than an ELF file can number", segments.len());
    }
    let h16 = |o: &mut Vec<u8>, v: u16| o.extend_from_slice(&v.to_le_bytes());
    let h32 = |o: &mut Vec<u8>, v: u32| o.extend_from_slice(&v.to_le_bytes());

    // File layout: header, program headers, segment data (each at an
    // offset congruent to its address modulo its alignment, as the ELF
    // specification asks), .shstrtab, then the section table.
    let mut offsets = Vec::with_capacity(segments.len());
    let mut at = EHSIZE + PHSIZE * segments.len() as u32;
    for s in segments {
        let align = s.align.max(1);
        if !align.is_power_of_two() {
            bail!("segment {} has alignment {align}, not a power of two", s.name);
        }
        let want = s.vaddr % align;
        while at % align != want {
            at += 1;
        }
        offsets.push(at);
        at += s.data.len() as u32;
    }
    // Section names: index 0 is the empty name.
    let mut shstrtab = vec![0u8];
    let mut name_at = Vec::with_capacity(segments.len());
    for s in segments {
        name_at.push(shstrtab.len() as u32);
        shstrtab.extend_from_slice(s.name.as_bytes());
        shstrtab.push(0);
    }
    let shstrtab_name = shstrtab.len() as u32;
    shstrtab.extend_from_slice(b".shstrtab\0");
    let shstrtab_off = at;
    at += shstrtab.len() as u32;
    let shoff = (at + 3) & !3;
    let shnum = segments.len() as u32 + 2; // null, segments, .shstrtab
    let shstrndx = shnum - 1;

    let mut out = Vec::new();
    // e_ident: ELF magic, 32-bit, little-endian, version 1, SYSV ABI.
    out.extend_from_slice(&[0x7F, b'E', b'L', b'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    h16(&mut out, object::elf::ET_EXEC);
    h16(&mut out, object::elf::EM_ARM);
    h32(&mut out, 1);
    h32(&mut out, entry);
    h32(&mut out, if segments.is_empty() { 0 } else { EHSIZE });
    h32(&mut out, shoff);
    h32(&mut out, 0x0500_0400); // EABI v5, hard-float
    h16(&mut out, EHSIZE as u16);
    h16(&mut out, PHSIZE as u16);
    h16(&mut out, segments.len() as u16);
    h16(&mut out, SHSIZE as u16);
    h16(&mut out, shnum as u16);
    h16(&mut out, shstrndx as u16);
    for (s, &off) in segments.iter().zip(&offsets) {
        h32(&mut out, PT_LOAD);
        h32(&mut out, off);
        h32(&mut out, s.vaddr);
        h32(&mut out, s.paddr);
        h32(&mut out, s.data.len() as u32);
        h32(&mut out, s.memsz);
        h32(&mut out, s.flags);
        h32(&mut out, s.align.max(1));
    }
    for (s, &off) in segments.iter().zip(&offsets) {
        out.resize(off as usize, 0);
        out.extend_from_slice(&s.data);
    }
    out.resize(shstrtab_off as usize, 0);
    out.extend_from_slice(&shstrtab);
    out.resize(shoff as usize, 0);

    // Section table. Index 0: the null section.
    out.extend_from_slice(&[0; SHSIZE as usize]);
    for ((s, &off), &name) in segments.iter().zip(&offsets).zip(&name_at) {
        let has_bytes = !s.data.is_empty();
        let mut flags = object::elf::SHF_ALLOC;
        if s.flags & object::elf::PF_W != 0 {
            flags |= object::elf::SHF_WRITE;
        }
        if s.flags & object::elf::PF_X != 0 {
            flags |= object::elf::SHF_EXECINSTR;
        }
        h32(&mut out, name);
        h32(&mut out, if has_bytes { object::elf::SHT_PROGBITS } else { object::elf::SHT_NOBITS });
        h32(&mut out, flags);
        // Contents sit at their load address (where they are in flash);
        // memory-only sections at their run address.
        h32(&mut out, if has_bytes { s.paddr } else { s.vaddr });
        h32(&mut out, off);
        h32(&mut out, if has_bytes { s.data.len() as u32 } else { s.memsz });
        h32(&mut out, 0); // sh_link
        h32(&mut out, 0); // sh_info
        h32(&mut out, s.align.max(1));
        h32(&mut out, 0); // sh_entsize
    }
    h32(&mut out, shstrtab_name);
    h32(&mut out, object::elf::SHT_STRTAB);
    h32(&mut out, 0);
    h32(&mut out, 0);
    h32(&mut out, shstrtab_off);
    h32(&mut out, shstrtab.len() as u32);
    h32(&mut out, 0);
    h32(&mut out, 0);
    h32(&mut out, 1);
    h32(&mut out, 0);
    Ok(out)
}

/// Writes `final.elf` ([`combined`]) to `path`.
pub fn write_combined(path: &Path, entry: u32, segments: &[Segment]) -> Result<()> {
    let bytes = combined(entry, segments)?;
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// The flash image: every segment whose load address is in
/// `[flash_base, flash_base + flash_size)`, laid out from `flash_base`,
/// gaps filled with 0xFF (erased flash).
pub fn flash_image(segments: &[Segment], flash_base: u32, flash_size: u32) -> Result<Vec<u8>> {
    let in_flash: Vec<&Segment> = segments
        .iter()
        .filter(|s| !s.data.is_empty() && s.paddr >= flash_base && s.paddr - flash_base < flash_size)
        .collect();
    let end = in_flash.iter().map(|s| s.paddr - flash_base + s.data.len() as u32).max().unwrap_or(0);
    if end > flash_size {
        bail!("the image needs {end} bytes of flash but the chip has {flash_size}");
    }
    let mut bin = vec![0xFF; end as usize];
    for s in in_flash {
        let o = (s.paddr - flash_base) as usize;
        bin[o..o + s.data.len()].copy_from_slice(&s.data);
    }
    Ok(bin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::{Object, ObjectSection, ObjectSegment, SectionKind};

    fn seg(name: &str, paddr: u32, vaddr: u32, memsz: u32, flags: u32, align: u32, data: &[u8]) -> Segment {
        Segment { name: name.into(), paddr, vaddr, memsz, flags, align, data: data.to_vec() }
    }

    fn sample() -> Vec<Segment> {
        vec![
            seg(".text.kernel", 0x0800_0000, 0x0800_0000, 6, object::elf::PF_R | object::elf::PF_X, 4, &[1, 2, 3, 4, 5, 6]),
            seg(".bss.kernel", 0x2000_0000, 0x2000_0000, 0x100, object::elf::PF_R | object::elf::PF_W, 8, &[]),
            // Initialised data: run address in RAM, contents in flash.
            seg(".data.timer", 0x0800_0008, 0x2000_0100, 3, object::elf::PF_R | object::elf::PF_W, 4, &[7, 8, 9]),
            seg(".rodata.timer", 0x0800_000c, 0x0800_000c, 2, object::elf::PF_R, 4, &[10, 11]),
        ]
    }

    #[test]
    fn every_segment_with_bytes_is_a_progbits_section_at_its_load_address() {
        let bytes = combined(0x0800_0001, &sample()).unwrap();
        let f = object::File::parse(&*bytes).unwrap();
        assert_eq!(f.entry(), 0x0800_0001);
        let got: Vec<(String, u64, Vec<u8>, SectionKind)> = f
            .sections()
            .map(|s| (s.name().unwrap().to_string(), s.address(), s.data().unwrap().to_vec(), s.kind()))
            .collect();
        assert_eq!(got[0], (".text.kernel".into(), 0x0800_0000, vec![1, 2, 3, 4, 5, 6], SectionKind::Text));
        assert_eq!(got[1].0, ".bss.kernel");
        assert_eq!((got[1].1, got[1].3), (0x2000_0000, SectionKind::UninitializedData));
        assert_eq!((got[2].0.as_str(), got[2].1, &got[2].2[..]), (".data.timer", 0x0800_0008, &[7u8, 8, 9][..]));
        assert_eq!((got[3].0.as_str(), got[3].1, &got[3].2[..]), (".rodata.timer", 0x0800_000c, &[10u8, 11][..]));
        assert_eq!(got[4].0, ".shstrtab");
        assert_eq!(got.len(), 5);
    }

    #[test]
    fn segments_keep_their_addresses_and_aligned_offsets() {
        let segs = sample();
        let bytes = combined(0x0800_0001, &segs).unwrap();
        let hdr = FileHeader32::<Endianness>::parse(&*bytes).unwrap();
        let e = hdr.endian().unwrap();
        let phs = hdr.program_headers(e, &*bytes).unwrap();
        assert_eq!(phs.len(), segs.len());
        for (ph, s) in phs.iter().zip(&segs) {
            assert_eq!((ph.p_vaddr(e), ph.p_paddr(e), ph.p_memsz(e)), (s.vaddr, s.paddr, s.memsz));
            assert_eq!(ph.p_offset(e) % s.align, s.vaddr % s.align, "offset congruent to address");
            assert_eq!(ph.data(e, &*bytes).unwrap(), &s.data[..]);
        }
        // Each section's bytes lie inside its segment's file range (what
        // probe-rs looks for before loading a segment).
        let f = object::File::parse(&*bytes).unwrap();
        for (seg, s) in f.segments().zip(f.sections()) {
            let (so, sl) = seg.file_range();
            if let Some((o, l)) = s.file_range() {
                assert!(o >= so && o + l <= so + sl, "{} outside its segment", s.name().unwrap());
            }
        }
    }

    #[test]
    fn no_segments_is_still_a_valid_file() {
        let bytes = combined(0, &[]).unwrap();
        let f = object::File::parse(&*bytes).unwrap();
        assert_eq!(f.sections().count(), 1); // .shstrtab
    }

    #[test]
    fn flash_image_fills_gaps_with_erased_bytes() {
        let bin = flash_image(&sample(), 0x0800_0000, 0x100).unwrap();
        assert_eq!(bin, vec![1, 2, 3, 4, 5, 6, 0xFF, 0xFF, 7, 8, 9, 0xFF, 10, 11]);
        // A segment running past the end of flash is refused.
        assert!(flash_image(&sample(), 0x0800_0000, 10).is_err());
    }
}
