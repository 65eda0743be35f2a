//! The humility build archive (`build-<name>.zip`) as the inspector reads
//! it.
//!
//! Why: every view is driven by the archive, never by knowledge compiled
//! into the inspector. This module opens the zip, checks the
//! `hubris build archive vN` comment, and hands out the app text, the
//! kernel and task ELFs (task id = order of the `elf/task/*` entries, as
//! humility numbers them), the combined `img/final.elf`, and the image id
//! the kernel ELF records in `HUBRIS_IMAGE_ID`.
//!
//! Guarantees: an [`Archive`] always has a kernel ELF with a readable
//! `HUBRIS_IMAGE_ID`, at least one task, and keeps the raw zip bytes so a
//! dump can embed the archive unchanged.

use anyhow::{bail, Context, Result};
use object::{Object, ObjectSection, ObjectSymbol};
use std::io::{Cursor, Read};
use std::path::Path;

/// Highest archive version this inspector understands (humility 0.13's).
pub const MAX_ARCHIVE_VERSION: u32 = 11;

/// One ELF from the archive: the kernel or a task.
pub struct Elf {
    /// `kernel` or the task's name.
    pub name: String,
    /// The file's bytes.
    pub data: Vec<u8>,
}

/// A loaded build archive.
pub struct Archive {
    /// Where it came from (a path, or "dump FILE").
    pub source: String,
    /// The whole zip, as read.
    pub zip_bytes: Vec<u8>,
    /// Archive version from the zip comment.
    pub version: u32,
    /// `app.toml` as stored.
    pub app_toml: String,
    /// `patches.toml`, if present: Hubris's per-image changes to app.toml
    /// (a new `name`, extra task `features`); see [`Archive::app`].
    pub patches_toml: Option<String>,
    /// `chip.toml` as stored, if present: the peripherals, one table each
    /// (humility's layout; archives before it nested them under
    /// `[peripherals.*]` beside `name` and `[memory.*]`).
    pub chip_toml: Option<String>,
    /// `memory.toml`, if present: the chip's memories (`[[ram]]`,
    /// `[[flash]]` with `address` and `size`).
    pub memory_toml: Option<String>,
    /// `img/flash.ron`, if present: the part name flashing tools know.
    pub flash_ron: Option<String>,
    /// `git-rev`, if present.
    pub git_rev: Option<String>,
    /// `image-name`, if present.
    pub image_name: Option<String>,
    /// `elf/kernel`.
    pub kernel: Elf,
    /// `elf/task/*` in task-id order.
    pub tasks: Vec<Elf>,
    /// `img/final.elf`, if present.
    pub final_elf: Option<Vec<u8>>,
    /// `img/final.bin`, if present: the flash contents from the start of
    /// flash ([`Archive::flash_range`]), gaps filled with 0xFF.
    pub final_bin: Option<Vec<u8>>,
    /// The image id recorded in the kernel ELF.
    pub image_id: u64,
    /// Address of `HUBRIS_IMAGE_ID` in target memory.
    pub image_id_addr: u64,
}

impl Archive {
    /// Reads an archive from a file.
    pub fn open(path: &Path) -> Result<Archive> {
        let bytes = std::fs::read(path).with_context(|| format!("reading archive {}", path.display()))?;
        Self::from_bytes(bytes, path.display().to_string())
    }

    /// Parses an archive held in memory (a file, or a dump's note).
    pub fn from_bytes(zip_bytes: Vec<u8>, source: String) -> Result<Archive> {
        let mut z = zip::ZipArchive::new(Cursor::new(&zip_bytes[..]))
            .with_context(|| format!("{source} is not a zip file (expected a build-<name>.zip from `cargo xtask dist`)"))?;
        let comment = String::from_utf8_lossy(z.comment()).to_string();
        let version = parse_comment(&comment).with_context(|| format!("{source} is not a hubris build archive"))?;
        // Entry names to their index; task ids are the order of the task
        // ELFs in the central directory.
        let mut index = std::collections::HashMap::new();
        let mut names = Vec::new();
        for i in 0..z.len() {
            let f = z.by_index_raw(i).with_context(|| format!("{source}: entry #{i}"))?;
            if let Some(t) = f.name().strip_prefix("elf/task/") {
                names.push(t.to_string());
            }
            index.insert(f.name().to_string(), i);
        }
        let mut read = |name: &str| -> Result<Option<Vec<u8>>> {
            match index.get(name) {
                Some(&i) => read_entry(&mut z, i).with_context(|| format!("{source}: reading entry {name}")).map(Some),
                None => Ok(None),
            }
        };
        let text = |v: Vec<u8>| String::from_utf8_lossy(&v).trim().to_string();
        let app_toml = read("app.toml")?.map(text).with_context(|| format!("{source} has no app.toml"))?;
        let patches_toml = read("patches.toml")?.map(text);
        let chip_toml = read("chip.toml")?.map(text);
        let memory_toml = read("memory.toml")?.map(text);
        let flash_ron = read("img/flash.ron")?.map(text);
        let git_rev = read("git-rev")?.map(text);
        let image_name = read("image-name")?.map(text);
        let kernel = read("elf/kernel")?.with_context(|| format!("{source} has no elf/kernel"))?;
        let final_elf = read("img/final.elf")?;
        let final_bin = read("img/final.bin")?;
        if names.is_empty() {
            bail!("{source} has no elf/task/* entries");
        }
        let mut tasks = Vec::new();
        for n in names {
            let data = read(&format!("elf/task/{n}"))?.expect("listed above");
            tasks.push(Elf { name: n, data });
        }
        let (image_id_addr, image_id) = read_image_id(&kernel).with_context(|| format!("{source}: elf/kernel"))?;
        Ok(Archive {
            source,
            zip_bytes,
            version,
            app_toml,
            patches_toml,
            chip_toml,
            memory_toml,
            flash_ron,
            git_rev,
            image_name,
            kernel: Elf { name: "kernel".into(), data: kernel },
            tasks,
            final_elf,
            final_bin,
            image_id,
            image_id_addr,
        })
    }

    /// The app description: `app.toml` with `patches.toml` applied (the
    /// patch's `name` replaces the app's, and its `features.<task>` lists
    /// are added to those tasks' features), as humility reads it.
    pub fn app(&self) -> Result<toml::Table> {
        let mut app: toml::Table = self.app_toml.parse().context("parsing the archive's app.toml")?;
        let Some(patches) = &self.patches_toml else { return Ok(app) };
        let patches: toml::Table = patches.parse().context("parsing the archive's patches.toml")?;
        if let Some(name) = patches.get("name") {
            app.insert("name".into(), name.clone());
        }
        for (task, extra) in patches.get("features").and_then(|f| f.as_table()).into_iter().flatten() {
            let extra = extra.as_array().with_context(|| format!("patches.toml: features.{task} is not a list"))?;
            let t = app
                .get_mut("tasks")
                .and_then(|t| t.get_mut(task))
                .and_then(|t| t.as_table_mut())
                .with_context(|| format!("patches.toml adds features to task `{task}`, which app.toml does not have"))?;
            let list = t.entry("features").or_insert_with(|| toml::Value::Array(Vec::new()));
            let list = list.as_array_mut().with_context(|| format!("app.toml: tasks.{task}.features is not a list"))?;
            list.extend(extra.iter().cloned());
        }
        Ok(app)
    }

    /// The chip's part name (as probe-rs knows it): `chip` in
    /// `img/flash.ron`, else `name` in an older archive's chip.toml.
    pub fn chip_name(&self) -> Result<String> {
        if let Some(name) = self.flash_ron.as_deref().and_then(flash_ron_chip) {
            return Ok(name);
        }
        let chip = self.chip_toml.as_deref().context("the archive has neither img/flash.ron nor chip.toml, so the chip is unknown")?;
        let t: toml::Table = chip.parse().context("parsing the archive's chip.toml")?;
        Ok(t.get("name").and_then(|v| v.as_str()).context("the archive's img/flash.ron names no chip, nor does its chip.toml")?.to_string())
    }

    /// The chip's RAM (base, size): the first `[[ram]]` of `memory.toml`,
    /// else `[memory.ram]` of an older archive's chip.toml.
    pub fn ram_range(&self) -> Result<(u64, u64)> {
        self.memory_range("ram")
    }

    /// The chip's flash (base, size): the first `[[flash]]` of
    /// `memory.toml`, else `[memory.flash]` of an older archive's chip.toml.
    pub fn flash_range(&self) -> Result<(u64, u64)> {
        self.memory_range("flash")
    }

    /// The first range of memory `kind` (`ram` or `flash`).
    fn memory_range(&self, kind: &str) -> Result<(u64, u64)> {
        if let Some(mem) = &self.memory_toml {
            let t: toml::Table = mem.parse().context("parsing the archive's memory.toml")?;
            let m = t.get(kind).and_then(|r| r.as_array()).and_then(|a| a.first()).with_context(|| format!("memory.toml has no [[{kind}]]"))?;
            let num = |k: &str| m.get(k).and_then(|v| v.as_integer()).with_context(|| format!("memory.toml: [[{kind}]] has no `{k}`"));
            return Ok((num("address")? as u64, num("size")? as u64));
        }
        let chip = self.chip_toml.as_deref().with_context(|| format!("the archive has neither memory.toml nor chip.toml, so the {kind} range is unknown"))?;
        let chip: toml::Table = chip.parse().context("parsing the archive's chip.toml")?;
        let m = chip
            .get("memory")
            .and_then(|m| m.get(kind))
            .with_context(|| format!("the archive has no memory.toml and its chip.toml no [memory.{kind}]"))?;
        let num = |k: &str| m.get(k).and_then(|v| v.as_integer()).with_context(|| format!("chip.toml: memory.{kind}.{k} missing"));
        Ok((num("base")? as u64, num("size")? as u64))
    }

    /// Task names in task-id order.
    pub fn task_names(&self) -> Vec<String> {
        self.tasks.iter().map(|t| t.name.clone()).collect()
    }

    /// The kernel followed by every task.
    pub fn elfs(&self) -> impl Iterator<Item = &Elf> {
        std::iter::once(&self.kernel).chain(self.tasks.iter())
    }

    /// The task with this name, or an error listing the names there are.
    pub fn task_index(&self, name: &str) -> Result<usize> {
        self.tasks.iter().position(|t| t.name == name).with_context(|| {
            format!("no task named `{name}` in this image; tasks are: {}", self.task_names().join(", "))
        })
    }
}

/// Parses `hubris build archive vN`, refusing versions newer than ours.
pub fn parse_comment(comment: &str) -> Result<u32> {
    let v = comment
        .trim()
        .strip_prefix("hubris build archive v")
        .with_context(|| format!("zip comment is {comment:?}, want \"hubris build archive vN\""))?;
    let n: u32 = v.parse().with_context(|| format!("archive version {v:?} is not a number"))?;
    if n > MAX_ARCHIVE_VERSION {
        bail!("archive version {n} is newer than this inspector understands (at most {MAX_ARCHIVE_VERSION})");
    }
    Ok(n)
}

/// The bytes of entry `i`. Stored and deflate entries are read by the zip
/// crate; bzip2 entries (what Hubris itself writes, e.g. in the archives
/// inside real Hubris dumps) are decompressed here from the raw entry, and
/// their size and CRC-32 checked as the zip crate checks the others.
fn read_entry<R: Read + std::io::Seek>(z: &mut zip::ZipArchive<R>, i: usize) -> Result<Vec<u8>> {
    let (method, crc, size) = {
        let raw = z.by_index_raw(i)?;
        (raw.compression(), raw.crc32(), raw.size())
    };
    let mut out = Vec::with_capacity(size.min(1 << 28) as usize);
    if method == zip::CompressionMethod::BZIP2 {
        let raw = z.by_index_raw(i)?;
        bzip2::read::BzDecoder::new(raw).read_to_end(&mut out).context("bzip2 data is corrupt")?;
        if out.len() as u64 != size {
            bail!("bzip2 entry inflates to {} bytes, the directory says {size}", out.len());
        }
        let got = crc32fast::hash(&out);
        if got != crc {
            bail!("bzip2 entry has CRC-32 {got:#010x}, the directory says {crc:#010x}");
        }
    } else {
        z.by_index(i)?.read_to_end(&mut out)?;
    }
    Ok(out)
}

/// The chip named in `img/flash.ron` text (`chip: Some("NAME")` or
/// `chip: "NAME"`), if any.
pub fn flash_ron_chip(ron: &str) -> Option<String> {
    let at = ron.find("chip")?;
    let rest = ron[at + 4..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix("Some(").map(str::trim_start).unwrap_or(rest);
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

/// Finds `HUBRIS_IMAGE_ID` in a kernel ELF: its address and stored value.
pub fn read_image_id(kernel: &[u8]) -> Result<(u64, u64)> {
    let elf = object::File::parse(kernel).context("not an ELF file")?;
    let sym = elf
        .symbols()
        .find(|s| s.name() == Ok("HUBRIS_IMAGE_ID"))
        .context("no HUBRIS_IMAGE_ID symbol: the kernel must export its image id")?;
    let index = sym.section_index().context("HUBRIS_IMAGE_ID is undefined")?;
    let section = elf.section_by_index(index)?;
    let data = section.data()?;
    let off = (sym.address() - section.address()) as usize;
    let bytes = data.get(off..off + 8).context("HUBRIS_IMAGE_ID lies outside its section's data")?;
    Ok((sym.address(), u64::from_le_bytes(bytes.try_into().unwrap())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_versions() {
        assert_eq!(parse_comment("hubris build archive v11").unwrap(), 11);
        assert_eq!(parse_comment("hubris build archive v3\n").unwrap(), 3);
        assert!(parse_comment("hubris build archive v12").unwrap_err().to_string().contains("newer"));
        assert!(parse_comment("some zip").is_err());
        assert!(parse_comment("hubris build archive vX").is_err());
    }

    #[test]
    fn chip_from_flash_ron() {
        assert_eq!(flash_ron_chip("(chip: Some(\"STM32F405RGTx\"))\n").as_deref(), Some("STM32F405RGTx"));
        assert_eq!(flash_ron_chip("(\n  chip: \"STM32H753ZITx\",\n  args: None)").as_deref(), Some("STM32H753ZITx"));
        assert_eq!(flash_ron_chip("(chip: None)"), None);
    }

    #[test]
    fn not_a_zip_is_refused_with_the_reason() {
        let e = Archive::from_bytes(b"hello".to_vec(), "x.zip".into()).err().unwrap();
        assert!(format!("{e:#}").contains("not a zip file"), "{e:#}");
    }
}
