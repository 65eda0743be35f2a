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
    put("chip.toml", app.chip.source.as_bytes())?;
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
    for name in ["README.TXT", "git-rev", "image-name", "app.toml", "chip.toml", "img/flash.ron", "elf/kernel", "img/final.elf", "img/final.bin"] {
        anyhow::ensure!(z.by_name(name).is_ok(), "entry {name} missing");
    }
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
