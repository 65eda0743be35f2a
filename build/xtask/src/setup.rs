//! What a fresh machine needs before an image can be built or run: the
//! Rust target (rustup does not auto-install on our machines) and QEMU.
//! Each check either fixes the problem or names the exact command to run.

use anyhow::{bail, Context, Result};
use std::process::Command;

/// The Rust target every image is built for.
pub const TARGET: &str = "thumbv7em-none-eabihf";

/// Makes sure the thumb target's standard library is installed.
pub fn ensure_target() -> Result<()> {
    let out = Command::new("rustc").args(["--print", "sysroot"]).output().context("running rustc")?;
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if std::path::Path::new(&sysroot).join("lib/rustlib").join(TARGET).exists() {
        return Ok(());
    }
    eprintln!("xtask: installing the Rust target {TARGET} (rustup target add {TARGET})");
    let status = Command::new("rustup").args(["target", "add", TARGET]).status();
    match status {
        Ok(s) if s.success() => Ok(()),
        _ => bail!("the Rust target {TARGET} is missing and `rustup target add {TARGET}` failed; run it by hand and retry"),
    }
}

/// The QEMU binary used for runs and tests.
pub const QEMU: &str = "qemu-system-arm";

/// Makes sure qemu-system-arm exists: installs it with apt-get when running
/// as root, otherwise says exactly what to run.
pub fn ensure_qemu() -> Result<()> {
    if Command::new(QEMU).arg("--version").output().is_ok() {
        return Ok(());
    }
    let is_root = Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false);
    if is_root && Command::new("apt-get").arg("--version").output().is_ok() {
        eprintln!("xtask: {QEMU} not found; installing it (apt-get install -y qemu-system-arm)");
        let ok = Command::new("apt-get").args(["install", "-y", "qemu-system-arm"]).status().map(|s| s.success()).unwrap_or(false)
            || (Command::new("apt-get").arg("update").status().map(|s| s.success()).unwrap_or(false)
                && Command::new("apt-get").args(["install", "-y", "qemu-system-arm"]).status().map(|s| s.success()).unwrap_or(false));
        if ok && Command::new(QEMU).arg("--version").output().is_ok() {
            return Ok(());
        }
        bail!("installing {QEMU} with apt-get failed; see the output above");
    }
    bail!("{QEMU} is not installed. Install it with:\n    sudo apt-get install -y qemu-system-arm")
}
