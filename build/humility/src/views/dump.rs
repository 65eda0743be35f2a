//! `dump [FILE]`: writes the target's registers and memory, with the
//! archive, to an ELF core file in humility's layout
//! ([`crate::target::dump`]).
//!
//! Why: a dump keeps a failing system for later and for others; every
//! view works on it (`-d FILE`), and real humility loads it too.
//!
//! What goes in: the core registers; the chip's whole RAM (`[[ram]]` in
//! the archive's memory.toml), and the flash ranges the image occupies (the
//! loadable contents of `img/final.elf`), all read from the target so the
//! dump shows what the target held, not what the build wrote.

use super::Report;
use crate::inspect::Inspector;
use crate::target::dump;
use anyhow::{bail, Context, Result};
use object::read::elf::{ElfFile32, ProgramHeader};
use object::LittleEndian;
use serde_json::json;
use std::path::{Path, PathBuf};

/// Memory ranges (address, length) a dump of this image contains.
pub fn ranges(insp: &Inspector) -> Result<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    out.push(insp.archive.ram_range()?);
    let elf = insp.archive.final_elf.as_deref().context("the archive has no img/final.elf, so the flash ranges are unknown")?;
    let file = ElfFile32::<LittleEndian>::parse(elf).context("parsing img/final.elf")?;
    let mut flash: Vec<(u64, u64)> = Vec::new();
    for ph in file.elf_program_headers() {
        let (addr, len) = (ph.p_paddr(LittleEndian) as u64, ph.p_filesz(LittleEndian) as u64);
        if ph.p_type(LittleEndian) != object::elf::PT_LOAD || len == 0 {
            continue;
        }
        flash.push((addr, len));
    }
    flash.sort();
    for (a, l) in flash {
        match out.last_mut() {
            Some((pa, pl)) if *pa + *pl >= a && a >= *pa => *pl = (*pl).max(a + l - *pa),
            _ => out.push((a, l)),
        }
    }
    Ok(out)
}

/// The first `hubris.core.<image>.<n>` that does not exist yet.
fn default_path(insp: &Inspector) -> PathBuf {
    let name = super::app_table(&insp.archive)
        .ok()
        .and_then(|t| t.get("name").and_then(|v| v.as_str()).map(String::from))
        .unwrap_or_else(|| "image".into());
    (0..)
        .map(|n| PathBuf::from(format!("hubris.core.{name}.{n}")))
        .find(|p| !p.exists())
        .expect("some name is free")
}

/// Reads the target and writes the dump to `path` (or a fresh default).
pub fn dump(insp: &mut Inspector, path: Option<&Path>) -> Result<Report> {
    if insp.target.embedded_archive().is_some() {
        bail!("the target is already a dump; copy the file instead");
    }
    let path = path.map(Path::to_path_buf).unwrap_or_else(|| default_path(insp));
    let registers = insp.target.registers().context("reading registers for the dump")?;
    let mut segments = Vec::new();
    for (addr, len) in ranges(insp)? {
        let mut buf = vec![0u8; len as usize];
        insp.target.read(addr, &mut buf).with_context(|| format!("reading {addr:#010x}..{:#010x} for the dump", addr + len))?;
        segments.push((addr, buf));
    }
    let bytes = dump::write(&insp.archive.zip_bytes, &registers, &segments);
    std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    let total: usize = segments.iter().map(|(_, d)| d.len()).sum();
    let mut text = format!(
        "dumped {} to {} ({} registers, {} bytes of memory in {} ranges, archive {} bytes)\n",
        insp.target.describe(),
        path.display(),
        registers.len(),
        total,
        segments.len(),
        insp.archive.zip_bytes.len()
    );
    for (a, d) in &segments {
        text.push_str(&format!("  {a:#010x}..{:#010x} {:>7} bytes\n", a + d.len() as u64, d.len()));
    }
    let json = json!({
        "path": path.display().to_string(),
        "registers": registers.len(),
        "ranges": segments.iter().map(|(a, d)| json!({ "address": a, "length": d.len() })).collect::<Vec<_>>(),
    });
    Ok(Report { text, json })
}
