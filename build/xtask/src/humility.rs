//! `cargo xtask humility`, `cargo xtask flash`, and the inspector's golden
//! system tests: the xtask side of build/humility.
//!
//! Why a module of its own: the inspector is a library; the xtask adds
//! what it knows (where the default image's archive is, how to build an
//! image and start QEMU) and nothing else, so the rest of the xtask stays
//! untouched.

use crate::{dist, qemu, setup};
use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The archive `cargo xtask dist APP` writes for `app`.
pub fn archive_path(app: &Path) -> Result<PathBuf> {
    let text = std::fs::read_to_string(app).with_context(|| format!("reading {}", app.display()))?;
    let name = text
        .lines()
        .find_map(|l| {
            let l = l.trim();
            let v = l.strip_prefix("name")?.trim_start().strip_prefix('=')?.trim();
            Some(v.trim_matches('"').to_string())
        })
        .with_context(|| format!("{}: no top-level `name`", app.display()))?;
    Ok(crate::root().join("target/escapement").join(&name).join(format!("build-{name}.zip")))
}

/// Forwards `args` to the inspector, with the default app's archive.
pub fn humility(args: Vec<OsString>) -> Result<()> {
    let default = archive_path(&crate::root().join("app.toml"))?;
    let mut full = vec![OsString::from("cargo xtask humility")];
    full.extend(args);
    escapement_humility::cli::run(full, Some(default))
}

/// Builds `app` (default: the Discovery board) and programs it through a
/// debug probe, with the inspector built with its `probe` feature. Refuses
/// an app that is not for real hardware ([`check_flashable`]) before
/// building anything. The inspector checks probe-rs's plan against
/// `final.bin` before it opens the probe (build/humility/src/flashing.rs,
/// the code [`flash_plan_test`] tests).
pub fn flash(app: Option<PathBuf>) -> Result<()> {
    let app = app.unwrap_or_else(|| crate::root().join(FLASH_APP));
    let chips = crate::root().join("build/chips");
    let loaded = appcfg::load(&app, &chips).map_err(|e| anyhow::anyhow!("{e}"))?;
    let has_clock_tree = appcfg::clock::board_file(&chips, &loaded.board).exists();
    check_flashable(&loaded, has_clock_tree)?;
    let image = dist::dist(&app)?;
    println!("flashing {} (image id {:#018x}) through probe-rs", image.name, image.image_id);
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(crate::root())
        .args(["run", "--quiet", "-p", "escapement-humility", "--features", "probe", "--", "-a"])
        .arg(&image.archive)
        .arg("flash")
        .status()
        .context("running cargo for the inspector with probe support")?;
    if !status.success() {
        bail!("flashing {} failed (see above)", image.name);
    }
    Ok(())
}

/// Refuses an app that is not built for real hardware: a board without a
/// clock tree (`build/chips/boards/<board>.toml`: QEMU's netduinoplus2,
/// whose 1 GHz timer model and missing USART2 set-up mean nothing on
/// silicon), a task configured for QEMU's timer model, or a kernel with
/// semihosting (its `bkpt` stops a board with no debugger attached).
pub fn check_flashable(app: &appcfg::App, has_clock_tree: bool) -> Result<()> {
    let file = app.path.display();
    if !has_clock_tree {
        bail!(
            "{file}: board {:?} is not real hardware `flash` knows (no build/chips/boards/{}.toml clock tree; QEMU images are run, not flashed)\n  help: flash build/apps/stm32f4-discovery.toml, or run this app with `cargo xtask run`",
            app.board,
            app.board
        );
    }
    for t in &app.tasks {
        if t.config.get("qemu-timer-model").and_then(|v| v.as_bool()) == Some(true) {
            bail!("{file}: tasks.{}.config.qemu-timer-model = true drives the timers as QEMU models them, not as silicon does\n  help: set it to false for a board image", t.name);
        }
    }
    if app.kernel.features.iter().any(|f| f == "semihosting") {
        bail!("{file}: kernel feature `semihosting` stops a board without a debugger at its first report\n  help: remove it from [kernel] features for a board image");
    }
    Ok(())
}

/// The Discovery image `flash` programs by default.
const FLASH_APP: &str = "build/apps/stm32f4-discovery.toml";

/// The probe-free flash-planning test (build/humility/tests/flash_plan.rs):
/// builds the Discovery image, then runs probe-rs's planning for its chip
/// on the archive, with the inspector's `probe` feature. Part of the host
/// tests, since it needs no QEMU and no board.
pub fn flash_plan_test() -> Result<()> {
    let image = dist::dist(&crate::root().join(FLASH_APP))?;
    println!("== host test: flash planning (probe-rs, {})", image.archive.display());
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(crate::root())
        .args(["test", "-p", "escapement-humility", "--features", "probe", "--test", "flash_plan"])
        .env("ESCAPEMENT_FLASH_PLAN_ARCHIVE", &image.archive)
        .status()
        .context("running cargo test for the flash-planning test")?;
    if !status.success() {
        bail!("the flash-planning test failed: probe-rs would not program {} as built (see above)", image.archive.display());
    }
    Ok(())
}

/// The app the golden tests dump.
const GOLDEN_APP: &str = "build/apps/test-humility.toml";

/// Runs the inspector's golden tests: boot the test image halted under
/// icount with a gdbstub, run to idle's entry, dump, decode, compare.
pub fn golden_tests() -> Result<()> {
    let image = dist::dist(&crate::root().join(GOLDEN_APP))?;
    let archive = escapement_humility::Archive::open(&image.archive)?;
    let idle = archive.task_index("idle")?;
    let entry = {
        use object::Object;
        object::File::parse(&archive.tasks[idle].data[..])?.entry() as u32
    };
    // A free loopback port for the gdbstub.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut child = Command::new(setup::QEMU)
        .args(["-M", qemu::MACHINE, "-icount", "shift=0,sleep=off", "-display", "none", "-monitor", "none", "-serial", "null", "-S", "-gdb"])
        .arg(format!("tcp:127.0.0.1:{port}"))
        .arg("-kernel")
        .arg(&image.final_elf)
        .stdin(Stdio::null())
        .spawn()
        .context("starting qemu-system-arm")?;
    let result = (|| {
        let target = escapement_humility::golden::stop_at(port, entry, 1, Duration::from_secs(60))?;
        let work = dist::target_dir().join("escapement").join(&image.name).join("golden");
        escapement_humility::golden::run_all(target, &image.archive, &work)
    })();
    let _ = child.kill();
    let _ = child.wait();
    let done = result?;
    println!("humility golden checks passed: {}", done.join(", "));
    Ok(())
}

#[cfg(test)]
mod flash_tests {
    use super::{check_flashable, flash};

    fn load(app: &str) -> appcfg::App {
        let root = crate::root();
        appcfg::load(&root.join(app), &root.join("build/chips")).unwrap()
    }

    #[test]
    fn flash_takes_the_discovery_image_only() {
        let chips = crate::root().join("build/chips");
        let disc = load("build/apps/stm32f4-discovery.toml");
        assert!(check_flashable(&disc, appcfg::clock::board_file(&chips, &disc.board).exists()).is_ok());
        let qemu = load("app.toml");
        let e = check_flashable(&qemu, appcfg::clock::board_file(&chips, &qemu.board).exists()).unwrap_err().to_string();
        assert!(e.contains("netduinoplus2") && e.contains("help:"), "{e}");
        // A Discovery app with QEMU's timer model, or with semihosting.
        let mut bad = disc.clone();
        bad.tasks[2].config.insert("qemu-timer-model".into(), toml::Value::Boolean(true));
        assert!(check_flashable(&bad, true).unwrap_err().to_string().contains("qemu-timer-model"));
        let mut bad = disc.clone();
        bad.kernel.features.push("semihosting".into());
        assert!(check_flashable(&bad, true).unwrap_err().to_string().contains("semihosting"));
    }

    /// The command itself, not only its check: `cargo xtask flash app.toml`
    /// (the QEMU image) is refused by `check_flashable`, which runs before
    /// the image is built or a probe looked for, naming the board and the
    /// fix.
    #[test]
    fn flash_command_refuses_the_qemu_app() {
        let root = crate::root();
        let e = format!("{:#}", flash(Some(root.join("app.toml"))).unwrap_err());
        assert!(e.contains("netduinoplus2") && e.contains("cargo xtask run") && e.contains("help:"), "{e}");
    }
}
