//! The humility build archive (`build-<name>.zip`), level 1 of
//! shared/HUMILITY-COMPAT.md: comment `hubris build archive v11`, the app,
//! chip and every ELF, with task ELFs in task-id order (humility numbers
//! tasks by their order in the zip).

use crate::dist::LinkedTask;
use anyhow::{Context, Result};
use appcfg::App;
use std::io::Write;
use std::path::Path;
use zip::write::SimpleFileOptions;

/// The zip comment humility checks (version 11 is current).
pub const ARCHIVE_COMMENT: &str = "hubris build archive v11";

/// Writes the archive.
pub fn write(
    path: &Path,
    app: &App,
    kernel_elf: &Path,
    tasks: &[LinkedTask],
    final_elf: &Path,
    final_bin: &Path,
    image_id: u64,
) -> Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut z = zip::ZipWriter::new(file);
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let mut put = |name: &str, data: &[u8]| -> Result<()> {
        z.start_file(name, opts)?;
        z.write_all(data)?;
        Ok(())
    };
    put(
        "README.TXT",
        format!(
            "Escapement build archive for image `{}` (board {}, chip {}), image id {:#018x}.\n\
             Load it with humility: humility -a {}\n",
            app.name,
            app.board,
            app.chip.name,
            image_id,
            path.file_name().unwrap().to_string_lossy()
        )
        .as_bytes(),
    )?;
    put("git-rev", git_rev().as_bytes())?;
    put("image-name", b"default")?;
    put("app.toml", app.source.as_bytes())?;
    put("chip.toml", chip_toml(&app.chip).as_bytes())?;
    put("memory.toml", memory_toml(&app.chip).as_bytes())?;
    put("img/flash.ron", format!("(chip: Some({:?}))\n", app.chip.name).as_bytes())?;
    put("elf/kernel", &std::fs::read(kernel_elf)?)?;
    for (t, l) in app.tasks.iter().zip(tasks) {
        put(&format!("elf/task/{}", t.name), &std::fs::read(&l.elf)?)?;
    }
    put("img/final.elf", &std::fs::read(final_elf)?)?;
    put("img/final.bin", &std::fs::read(final_bin)?)?;
    z.set_comment(ARCHIVE_COMMENT);
    z.finish()?;
    Ok(())
}

/// The archive's `chip.toml`, in the layout humility reads: one table per
/// peripheral, `address`, `size` and the named `interrupts` (humility
/// resolves a task's `interrupts = { "tim2.irq" = ... }` through it, and
/// names device regions in `map` by address). Our own chip files say
/// `base` and keep the memories in the same file; the memories go to
/// `memory.toml` and the part name to `img/flash.ron` instead.
pub fn chip_toml(chip: &appcfg::Chip) -> String {
    let mut out = format!(
        "# Peripherals of {} (Escapement build/chips, written in humility's layout).\n",
        chip.name
    );
    for (name, p) in &chip.peripherals {
        out += &format!("\n[{name}]\naddress = {:#010x}\nsize = {:#x}\n", p.base, p.size);
        if !p.interrupts.is_empty() {
            let irqs: Vec<String> = p.interrupts.iter().map(|(n, irq)| format!("{n} = {irq}")).collect();
            out += &format!("interrupts = {{ {} }}\n", irqs.join(", "));
        }
    }
    out
}

/// The archive's `memory.toml`, in Hubris's layout: for each memory, a
/// list of ranges with their address, size and access.
pub fn memory_toml(chip: &appcfg::Chip) -> String {
    let range = |kind: &str, r: appcfg::Range, write: bool, execute: bool| {
        format!(
            "[[{kind}]]\nname = \"default\"\naddress = {:#010x}\nsize = {:#x}\nread = true\nwrite = {write}\nexecute = {execute}\n",
            r.base, r.size
        )
    };
    format!(
        "# Memories of {} (Escapement build/chips).\n\n{}\n{}",
        chip.name,
        range("flash", chip.flash, false, true),
        range("ram", chip.ram, true, false)
    )
}

/// The commit the image was built from, `-dirty` if the tree had changes.
fn git_rev() -> String {
    let out = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(crate::root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let rev = out(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = out(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
    if dirty { format!("{rev}-dirty") } else { rev }
}

/// Checks a written archive the way humility reads it: the comment, every
/// required entry, task ELFs in task-id order, and a kernel whose
/// `HUBRIS_IMAGE_ID` symbol holds `image_id`. Used by the system tests.
pub fn check(path: &Path, task_names: &[String], image_id: u64) -> Result<()> {
    use object::{Object, ObjectSection, ObjectSymbol};
    use std::io::Read;
    let mut z = zip::ZipArchive::new(std::fs::File::open(path)?)?;
    anyhow::ensure!(z.comment() == ARCHIVE_COMMENT.as_bytes(), "zip comment is {:?}", String::from_utf8_lossy(z.comment()));
    for name in ["README.TXT", "git-rev", "image-name", "app.toml", "chip.toml", "memory.toml", "img/flash.ron", "elf/kernel", "img/final.elf", "img/final.bin"] {
        anyhow::ensure!(z.by_name(name).is_ok(), "entry {name} missing");
    }
    let mut chip = String::new();
    z.by_name("chip.toml")?.read_to_string(&mut chip)?;
    check_chip_toml(&chip).context("chip.toml is not in humility's layout")?;
    // Task ids are the order of the entries in the central directory.
    let mut by_index = Vec::new();
    for i in 0..z.len() {
        let f = z.by_index(i)?;
        if let Some(t) = f.name().strip_prefix("elf/task/") {
            by_index.push(t.to_string());
        }
    }
    anyhow::ensure!(by_index == task_names, "task ELFs in order {by_index:?}, want {task_names:?}");
    let mut kernel = Vec::new();
    z.by_name("elf/kernel")?.read_to_end(&mut kernel)?;
    let elf = object::File::parse(&*kernel)?;
    anyhow::ensure!(elf.section_by_name(".text").is_some(), "elf/kernel has no .text");
    let sym = elf.symbols().find(|s| s.name() == Ok("HUBRIS_IMAGE_ID")).context("elf/kernel has no HUBRIS_IMAGE_ID")?;
    let section = elf.section_by_index(sym.section_index().context("HUBRIS_IMAGE_ID is undefined")?)?;
    let data = section.data()?;
    let off = (sym.address() - section.address()) as usize;
    let value = u64::from_le_bytes(data[off..off + 8].try_into()?);
    anyhow::ensure!(value == image_id, "HUBRIS_IMAGE_ID in elf/kernel is {value:#x}, the build says {image_id:#x}");
    Ok(())
}

/// Checks that `chip.toml` is what humility deserializes: every top-level
/// key a table with an integer `address` and `size`, and `interrupts`, if
/// present, a table of integers.
pub fn check_chip_toml(text: &str) -> Result<()> {
    let t: toml::Table = text.parse().context("not TOML")?;
    for (name, v) in &t {
        let p = v.as_table().with_context(|| format!("`{name}` is not a table (every top-level key must be a peripheral)"))?;
        for k in ["address", "size"] {
            let n = p.get(k).and_then(|v| v.as_integer()).with_context(|| format!("[{name}] has no integer `{k}`"))?;
            anyhow::ensure!((0..=u32::MAX as i64).contains(&n), "[{name}] {k} = {n} does not fit in a u32");
        }
        if let Some(i) = p.get("interrupts") {
            let i = i.as_table().with_context(|| format!("[{name}] interrupts is not a table"))?;
            for (irq, n) in i {
                anyhow::ensure!(n.as_integer().is_some(), "[{name}] interrupts.{irq} is not an integer");
            }
        }
        for k in p.keys() {
            anyhow::ensure!(["address", "size", "interrupts"].contains(&k.as_str()), "[{name}] has key `{k}`, which humility does not know");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chip() -> appcfg::Chip {
        let root = crate::root();
        let app = appcfg::load(&root.join("app.toml"), &root.join("build/chips")).map_err(|e| anyhow::anyhow!("{e}")).unwrap();
        app.chip
    }

    #[test]
    fn chip_toml_is_flat_and_complete() {
        let c = chip();
        let text = chip_toml(&c);
        check_chip_toml(&text).unwrap();
        let t: toml::Table = text.parse().unwrap();
        assert_eq!(t.len(), c.peripherals.len());
        let tim2 = &t["tim2"];
        assert_eq!(tim2["address"].as_integer(), Some(0x4000_0000));
        assert_eq!(tim2["size"].as_integer(), Some(0x400));
        assert_eq!(tim2["interrupts"]["irq"].as_integer(), Some(28));
        assert!(t["gpioa"].get("interrupts").is_none());
    }

    #[test]
    fn the_nested_chip_file_is_refused_by_the_check() {
        let e = check_chip_toml(&chip().source).unwrap_err();
        assert!(format!("{e:#}").contains("`name` is not a table"), "{e:#}");
    }

    #[test]
    fn memory_toml_lists_flash_and_ram() {
        let c = chip();
        let t: toml::Table = memory_toml(&c).parse().unwrap();
        let ram = &t["ram"].as_array().unwrap()[0];
        assert_eq!(ram["address"].as_integer(), Some(c.ram.base as i64));
        assert_eq!(ram["size"].as_integer(), Some(c.ram.size as i64));
        let flash = &t["flash"].as_array().unwrap()[0];
        assert_eq!(flash["address"].as_integer(), Some(c.flash.base as i64));
        assert_eq!(flash["execute"].as_bool(), Some(true));
    }
}
