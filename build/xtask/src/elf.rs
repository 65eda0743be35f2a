//! ELF plumbing for images: reading a linked task's entry point and
//! loadable segments, and writing the combined `final.elf` (every
//! program's loadable segments in one file, as QEMU and flashing tools
//! load it) and `final.bin` (the flash contents from the start of flash).

use anyhow::{bail, Context, Result};
use object::elf::{FileHeader32, PT_LOAD};
use object::read::elf::{FileHeader, ProgramHeader};
use object::Endianness;
use std::path::Path;

/// One loadable segment: bytes to place at a physical address.
#[derive(Clone)]
pub struct Segment {
    pub paddr: u32,
    pub vaddr: u32,
    pub memsz: u32,
    pub flags: u32,
    pub data: Vec<u8>,
}

/// What the image builder needs from a linked ELF.
pub struct Loaded {
    pub entry: u32,
    pub segments: Vec<Segment>,
}

/// Reads the entry point and `PT_LOAD` segments of a 32-bit ARM ELF.
pub fn load(path: &Path) -> Result<Loaded> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let hdr = FileHeader32::<Endianness>::parse(&*data).with_context(|| format!("{} is not an ELF32 file", path.display()))?;
    let e = hdr.endian()?;
    if hdr.e_machine(e) != object::elf::EM_ARM {
        bail!("{} is not an ARM ELF", path.display());
    }
    let mut segments = Vec::new();
    for ph in hdr.program_headers(e, &*data)? {
        if ph.p_type(e) != PT_LOAD || ph.p_memsz(e) == 0 {
            continue;
        }
        let bytes = ph.data(e, &*data).map_err(|_| anyhow::anyhow!("bad segment in {}", path.display()))?;
        segments.push(Segment {
            paddr: ph.p_paddr(e),
            vaddr: ph.p_vaddr(e),
            memsz: ph.p_memsz(e),
            flags: ph.p_flags(e),
            data: bytes.to_vec(),
        });
    }
    Ok(Loaded { entry: hdr.e_entry(e), segments })
}

/// Writes an ELF32 ARM executable holding `segments`, entry `entry`.
/// There is no section table: loaders go by program headers.
pub fn write_combined(path: &Path, entry: u32, segments: &[Segment]) -> Result<()> {
    const EHSIZE: u32 = 52;
    const PHSIZE: u32 = 32;
    let mut out = Vec::new();
    let phoff = EHSIZE;
    let mut data_off = EHSIZE + PHSIZE * segments.len() as u32;
    // e_ident: ELF magic, 32-bit, little-endian, version 1, SYSV ABI.
    out.extend_from_slice(&[0x7F, b'E', b'L', b'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let h16 = |o: &mut Vec<u8>, v: u16| o.extend_from_slice(&v.to_le_bytes());
    let h32 = |o: &mut Vec<u8>, v: u32| o.extend_from_slice(&v.to_le_bytes());
    h16(&mut out, 2); // ET_EXEC
    h16(&mut out, 40); // EM_ARM
    h32(&mut out, 1);
    h32(&mut out, entry);
    h32(&mut out, phoff);
    h32(&mut out, 0); // no section headers
    h32(&mut out, 0x0500_0400); // EABI v5, hard-float
    h16(&mut out, EHSIZE as u16);
    h16(&mut out, PHSIZE as u16);
    h16(&mut out, segments.len() as u16);
    h16(&mut out, 40);
    h16(&mut out, 0);
    h16(&mut out, 0);
    for s in segments {
        h32(&mut out, PT_LOAD);
        h32(&mut out, data_off);
        h32(&mut out, s.vaddr);
        h32(&mut out, s.paddr);
        h32(&mut out, s.data.len() as u32);
        h32(&mut out, s.memsz);
        h32(&mut out, s.flags);
        h32(&mut out, 4);
        data_off += s.data.len() as u32;
    }
    for s in segments {
        out.extend_from_slice(&s.data);
    }
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
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
