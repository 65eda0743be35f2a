//! `cargo xtask dist`: from an app file to a bootable image and its
//! humility archive.
//!
//! Steps: load and validate the app (appcfg), allocate MPU-legal regions,
//! build and link each task at its place (with its generated config), build
//! the kernel with the generated task table, then combine everything into
//! final.elf / final.bin and write the archive. Output goes to
//! `target/escapement/<image name>/`.

use crate::{archive, elf, kconfig, linker, setup};
use anyhow::{bail, Context, Result};
use appcfg::App;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A built image.
pub struct Image {
    pub name: String,
    pub board: String,
    pub final_elf: PathBuf,
    pub archive: PathBuf,
    pub image_id: u64,
    /// Task names in task-id order.
    pub tasks: Vec<String>,
}

/// A task after linking: where its ELF is and what it contains.
pub struct LinkedTask {
    pub elf: PathBuf,
    pub entry: u32,
    pub segments: Vec<elf::Segment>,
}

/// Boards `kboot` knows how to start (its cargo features).
const BOARDS: &[&str] = &["netduinoplus2", "stm32f4-discovery"];

/// Builds the image described by `app_path`.
pub fn dist(app_path: &Path) -> Result<Image> {
    setup::ensure_target()?;
    let root = crate::root();
    let mut app = appcfg::load(app_path, &root.join("build/chips")).map_err(|e| anyhow::anyhow!("{e}"))?;
    let show = |ds: Vec<appcfg::Diagnostic>| anyhow::anyhow!("{}", ds.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"));
    let clocks = appcfg::clock::load_board(&root.join("build/chips"), &app.board).map_err(show)?;
    if let Some(c) = &clocks {
        appcfg::clock::apply_to_app(&mut app, c).map_err(show)?;
    }
    if !BOARDS.contains(&app.board.as_str()) {
        bail!(
            "{}: key `board`: unknown board {:?}\n  help: use one of {:?} (board start-up lives in sys/kboot/src/board.rs)",
            app.path.display(),
            app.board,
            BOARDS
        );
    }
    if app.target != setup::TARGET {
        bail!("{}: key `target`: {:?} is not supported\n  help: use target = \"{}\"", app.path.display(), app.target, setup::TARGET);
    }
    let alloc = appcfg::allocate(&app).map_err(|e| anyhow::anyhow!("{e}"))?;

    let dir = root.join("target/escapement").join(&app.name);
    let gen = dir.join("gen");
    let elfs = dir.join("elf");
    std::fs::create_dir_all(&gen)?;
    std::fs::create_dir_all(elfs.join("task"))?;

    let mut linked = Vec::new();
    for (i, task) in app.tasks.iter().enumerate() {
        let regions = alloc.tasks[i];
        let config = gen.join(format!("task-{}.rs", task.name));
        write_if_changed(&config, &appcfg::task_config_rs(&app, i))?;
        let script = content_named(&gen, &format!("task-{}", task.name), "ld", &linker::task_script(regions.flash, regions.ram, task.stacksize))?;
        let built = cargo_build_bin(
            &task.package,
            &task.features,
            &script,
            &[(build_util_env::TASK, &config)],
        )
        .with_context(|| {
            format!(
                "building task `{}` (package {}) for {}\n  help: if the linker says a region overflowed, raise tasks.{}.max-sizes in {}",
                task.name,
                task.package,
                app.path.display(),
                task.name,
                app.path.display()
            )
        })?;
        let dest = elfs.join("task").join(&task.name);
        std::fs::copy(&built, &dest)?;
        let loaded = elf::load(&dest, &task.name)?;
        linked.push(LinkedTask { elf: dest, entry: loaded.entry, segments: loaded.segments });
    }

    let image_id = image_id(&app, &linked)?;
    let kconfig_path = gen.join("kconfig.rs");
    let mut kconfig_text = kconfig::generate(&app, &alloc, &linked, image_id);
    if let Some(c) = &clocks {
        kconfig_text.push_str(&appcfg::clock::kernel_consts(c));
    }
    write_if_changed(&kconfig_path, &kconfig_text)?;
    let kscript = content_named(&gen, "kernel", "ld", &linker::kernel_script(alloc.kernel_flash, alloc.kernel_ram, app.kernel.stacksize))?;
    let mut kfeatures = vec![app.board.clone()];
    kfeatures.extend(app.kernel.features.iter().cloned());
    let kbuilt = cargo_build_bin(&app.kernel.package, &kfeatures, &kscript, &[(build_util_env::KERNEL, &kconfig_path)])
        .with_context(|| format!("building the kernel (package {})", app.kernel.package))?;
    let kernel_elf = elfs.join("kernel");
    std::fs::copy(&kbuilt, &kernel_elf)?;
    let kernel = elf::load(&kernel_elf, "kernel")?;

    let mut segments = kernel.segments.clone();
    for t in &linked {
        segments.extend(t.segments.iter().cloned());
    }
    let final_elf = dir.join("final.elf");
    elf::write_combined(&final_elf, kernel.entry, &segments)?;
    let final_bin = dir.join("final.bin");
    std::fs::write(&final_bin, elf::flash_image(&segments, app.chip.flash.base, app.chip.flash.size)?)?;

    let archive = dir.join(format!("build-{}.zip", app.name));
    archive::write(&archive, &app, &kernel_elf, &linked, &final_elf, &final_bin, image_id)?;

    println!("{}", app.memory_map(&alloc));
    print_usage(&app, &alloc, &linked);
    println!("image id  {image_id:#018x}");
    println!("final.elf {}", final_elf.display());
    println!("archive   {}", archive.display());
    Ok(Image {
        name: app.name.clone(),
        board: app.board.clone(),
        final_elf,
        archive,
        image_id,
        tasks: app.tasks.iter().map(|t| t.name.clone()).collect(),
    })
}

/// Environment variable names shared with `build-util` (which tasks and
/// kboot use from their build scripts).
mod build_util_env {
    pub const TASK: &str = "ESCAPEMENT_TASK_CONFIG";
    pub const KERNEL: &str = "ESCAPEMENT_KCONFIG";
}

/// How much of each budget the linked tasks use.
fn print_usage(app: &App, alloc: &appcfg::Allocation, linked: &[LinkedTask]) {
    println!("{:<14} {:>12} {:>12}", "task", "flash used", "ram used");
    for (i, (t, l)) in app.tasks.iter().zip(linked).enumerate() {
        let r = alloc.tasks[i];
        let flash: u32 = l.segments.iter().filter(|s| s.paddr >= r.flash.base && s.paddr < r.flash.end()).map(|s| s.data.len() as u32).sum();
        let ram_end = l.segments.iter().filter(|s| s.vaddr >= r.ram.base && s.vaddr < r.ram.end()).map(|s| s.vaddr + s.memsz).max().unwrap_or(r.ram.base);
        let ram = (ram_end - r.ram.base).max(t.stacksize);
        println!("{:<14} {:>5}/{:<6} {:>5}/{:<6}", t.name, flash, r.flash.size, ram, r.ram.size);
    }
}

/// 64-bit FNV-1a, continued from `h`.
fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a over the app text and every task ELF: any change in what the
/// image contains changes its id.
fn image_id(app: &App, linked: &[LinkedTask]) -> Result<u64> {
    let mut h = fnv1a(FNV_OFFSET, app.source.as_bytes());
    for t in linked {
        h = fnv1a(h, &std::fs::read(&t.elf)?);
    }
    Ok(h)
}

/// Writes `text` to `<dir>/<stem>-<hash of text>.<ext>` and returns the
/// path. Linker scripts are passed to rustc by path, and cargo only relinks
/// when the arguments change: naming the file by its contents makes a
/// layout change a new argument, so a moved task is always relinked.
fn content_named(dir: &Path, stem: &str, ext: &str, text: &str) -> Result<PathBuf> {
    let path = dir.join(format!("{stem}-{:016x}.{ext}", fnv1a(FNV_OFFSET, text.as_bytes())));
    write_if_changed(&path, text)?;
    Ok(path)
}

fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Target directory cargo builds into.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| crate::root().join("target"))
}

/// Builds binary `package` for the target in release mode, linked with
/// `script`; returns the path of the ELF. Only the final crate gets the
/// linker script, so dependencies are built once for all tasks.
fn cargo_build_bin(package: &str, features: &[String], script: &Path, env: &[(&str, &Path)]) -> Result<PathBuf> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(crate::root())
        .args(["rustc", "--quiet", "--release", "--target", setup::TARGET, "-p", package, "--bin", package]);
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    // --nmagic: no page alignment, and no ELF headers in a loadable segment.
    cmd.args(["--", "-C", "link-arg=--nmagic", "-C"]).arg(format!("link-arg=-T{}", script.display()));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let status = cmd.status().with_context(|| format!("running cargo for {package}"))?;
    if !status.success() {
        bail!("cargo failed for package {package}");
    }
    let path = target_dir().join(setup::TARGET).join("release").join(package);
    if !path.exists() {
        bail!("cargo built {package} but {} is missing", path.display());
    }
    Ok(path)
}
