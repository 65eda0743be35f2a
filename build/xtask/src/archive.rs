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
