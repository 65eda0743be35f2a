//! A real board through a debug probe (probe-rs): reading a live target,
//! and programming an image (`flash`).
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
use anyhow::{bail, Context, Result};
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
    let probes = Lister::new().list_all();
    let Some(info) = probes.first() else {
        bail!(
            "no debug probe found.\n  help: connect the board's ST-LINK (the mini-USB port of the STM32F4-Discovery) and check \
             that this user may open it (udev rules for ST-LINK); `lsusb` should list it"
        );
    };
    let probe = info.open().with_context(|| format!("opening debug probe {}", info.identifier))?;
    let session = probe
        .attach(chip.as_str(), Permissions::default())
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
pub fn flash(archive: &Archive) -> Result<String> {
    let elf = archive.final_elf.as_deref().context("the archive has no img/final.elf to program")?;
    let (mut session, what) = session(archive)?;
    let path = std::env::temp_dir().join(format!("escapement-flash-{}.elf", std::process::id()));
    std::fs::write(&path, elf).with_context(|| format!("writing {}", path.display()))?;
    let result = probe_rs::flashing::download_file(&mut session, &path, probe_rs::flashing::FormatKind::Elf);
    let _ = std::fs::remove_file(&path);
    result.with_context(|| format!("programming {what}"))?;
    session.core(0)?.reset().context("resetting the board after programming")?;
    Ok(format!("programmed {} bytes of {} (image id {:#018x}) into {what}; board reset\n", elf.len(), archive.source, archive.image_id))
}
