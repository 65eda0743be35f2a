//! A real board through a debug probe (probe-rs): reading a live target,
//! and programming an image (`flash`, whose loader and plan are
//! [`crate::flashing`]'s).
//!
//! Why behind a feature: probe-rs is large and CI has no probe attached, so
//! the default build leaves it out; `cargo xtask flash` builds the inspector
//! with `--features probe`.
//!
//! Guarantees: the chip to attach to is the archive's (`img/flash.ron`,
//! e.g. `STM32F407VGTx`), never guessed; with no probe attached, both entry
//! points fail at once with a message saying what to plug in. A
//! [`ProbeTarget`] halts core 0 while reading and lets it run again when
//! dropped.

use super::Target;
use crate::archive::Archive;
use crate::flashing;
use anyhow::{bail, Context, Result};
use probe_rs::config::TargetSelector;
use probe_rs::probe::list::Lister;
use probe_rs::{MemoryInterface, Permissions, Session};
use std::time::Duration;

/// The chip name probe-rs should attach to, from the archive.
fn chip_name(archive: &Archive) -> Result<String> {
    archive.chip_name()
}

/// Opens the first probe and attaches to the archive's chip.
fn session(archive: &Archive) -> Result<(Session, String)> {
    let chip = chip_name(archive)?;
    open_session(chip.as_str(), &chip)
}

/// Opens the first probe and attaches to `target` (a part name, or a
/// description already looked up); `chip` names it in messages.
fn open_session(target: impl Into<TargetSelector>, chip: &str) -> Result<(Session, String)> {
    let probes = Lister::new().list_all();
    let Some(info) = probes.first() else {
        bail!(
            "no debug probe found.\n  help: connect the board's ST-LINK (the mini-USB port of the STM32F4-Discovery) and check \
             that this user may open it (udev rules for ST-LINK); `lsusb` should list it"
        );
    };
    let probe = info.open().with_context(|| format!("opening debug probe {}", info.identifier))?;
    let session = probe
        .attach(target, Permissions::default())
        .with_context(|| format!("attaching to {chip} through {}", info.identifier))?;
    Ok((session, format!("{} via {}", chip, info.identifier)))
}

/// A board attached through a probe.
pub struct ProbeTarget {
    session: Session,
    what: String,
}

impl ProbeTarget {
    /// Attaches to the chip the archive was built for and halts it.
    pub fn attach(archive: &Archive) -> Result<ProbeTarget> {
        let (mut session, what) = session(archive)?;
        session.core(0)?.halt(Duration::from_millis(500)).context("halting core 0")?;
        Ok(ProbeTarget { session, what })
    }
}

impl Target for ProbeTarget {
    fn describe(&self) -> String {
        format!("probe {}", self.what)
    }

    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<()> {
        let mut core = self.session.core(0)?;
        core.read_8(addr, buf).with_context(|| format!("probe read of {addr:#010x}..{:#010x}", addr + buf.len() as u64))
    }

    fn registers(&mut self) -> Result<Vec<(u32, u32)>> {
        let mut core = self.session.core(0)?;
        let regs = core.registers();
        let mut out = Vec::new();
        for i in 0..16u32 {
            let v: u32 = core.read_core_reg(regs.core_register(i as usize)).with_context(|| format!("reading r{i}"))?;
            out.push((i, v));
        }
        if let Some(psr) = regs.psr() {
            let v: u32 = core.read_core_reg(psr).context("reading xPSR")?;
            out.push((16, v));
        }
        Ok(out)
    }

    fn resume(&mut self) -> Result<()> {
        self.session.core(0)?.run().context("resuming core 0")?;
        Ok(())
    }
}

impl Drop for ProbeTarget {
    fn drop(&mut self) {
        let _ = self.resume();
    }
}

/// Programs the archive's `img/final.elf` and resets the board.
///
/// The loader and its plan come from [`crate::flashing`], the code the
/// probe-free flash-planning test runs: the plan is checked against
/// `img/final.bin` before a probe is opened, the session is attached with
/// the very chip description the plan was made with, and the loader is
/// committed with [`crate::flashing::download_options`] (sector erase,
/// program, read back).
pub fn flash(archive: &Archive) -> Result<String> {
    let prepared = flashing::prepare(archive)?;
    let options = flashing::download_options();
    let plan = flashing::plan(&prepared, &options)?;
    let bin = archive.final_bin.as_deref().context("the archive has no img/final.bin to check the plan against\n  help: rebuild it with `cargo xtask dist`")?;
    let (base, size) = archive.flash_range()?;
    let summary = flashing::check(&plan, bin, base, size).context("refusing to flash: probe-rs's plan does not put final.bin into flash")?;
    let (mut session, what) = open_session(prepared.target.clone(), &prepared.chip)?;
    prepared.loader.commit(&mut session, options).with_context(|| format!("programming {what}"))?;
    session.core(0)?.reset().context("resetting the board after programming")?;
    Ok(format!(
        "programmed {} bytes of {} (image id {:#018x}) into {what}: {} sectors erased, {} pages of {} programmed and read back; board reset\n",
        summary.image_bytes, archive.source, archive.image_id, summary.sectors, summary.pages, summary.algorithm
    ))
}
