//! Chip files (`build/chips/<chip>.toml`): the memories and peripherals of
//! one microcontroller.
//!
//! A chip file gives the flash and RAM ranges the image is placed in and,
//! for each peripheral, its register block (which becomes one MPU region for
//! every task that `uses` it) and its named interrupts (NVIC numbers).
//!
//! Guarantees of a loaded [`Chip`]: flash and RAM are non-empty and end at or
//! below 0xFFFF_FFFF; every peripheral's register block is a power of two of
//! at least 32 bytes aligned to its size (so it is one legal ARMv7-M MPU
//! region); every IRQ number is below 496 (the ARMv7-M NVIC limit);
//! peripheral and interrupt names are identifiers.

use crate::codegen::{addr, hex};
use crate::error::{Diagnostic, Diags, KeyPath};
use crate::names;
use crate::schema::{describe, string, table, u32_value, Fields};
use indexmap::IndexMap;
use std::path::Path;

/// Highest number of external interrupts an ARMv7-M NVIC can have.
pub const NVIC_MAX_IRQS: u32 = 496;

/// Smallest region the ARMv7-M MPU can describe, in bytes.
pub const MPU_MIN_REGION: u32 = 32;

/// A range of the address space: `size` bytes from `base`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Range {
    /// First address, in bytes.
    pub base: u32,
    /// Length, in bytes.
    pub size: u32,
}

impl Range {
    /// One past the last address (exclusive end), in bytes.
    ///
    /// Ranges built by this crate never wrap past 0xFFFF_FFFF.
    pub fn end(&self) -> u32 {
        self.base + self.size
    }

    /// True if the two ranges share at least one byte.
    pub fn overlaps(&self, other: &Range) -> bool {
        self.size != 0
            && other.size != 0
            && (self.base as u64) < other.end_u64()
            && (other.base as u64) < self.end_u64()
    }

    /// True if `other` lies entirely within `self`.
    pub fn contains(&self, other: &Range) -> bool {
        other.base >= self.base && other.end_u64() <= self.end_u64()
    }

    pub(crate) fn end_u64(&self) -> u64 {
        self.base as u64 + self.size as u64
    }
}

/// A peripheral's register block and interrupts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peripheral {
    /// Address of the register block, in bytes; aligned to `size`.
    pub base: u32,
    /// Size of the register block in bytes; a power of two >= 32.
    pub size: u32,
    /// Interrupt name (as used in app `interrupts` keys) to NVIC number.
    pub interrupts: IndexMap<String, u32>,
}

/// A chip, as described by its chip file.
#[derive(Clone, Debug)]
pub struct Chip {
    /// The chip's part name from the file's `name` key (e.g.
    /// `STM32F405RGTx`, the name flashing tools know it by). The file stem
    /// (e.g. `stm32f405`) is the app's `chip` key.
    pub name: String,
    /// The text of the chip file, verbatim (for the build archive).
    pub source: String,
    /// On-chip flash, in bytes.
    pub flash: Range,
    /// On-chip RAM usable by the image (one contiguous range), in bytes.
    pub ram: Range,
    /// Peripherals by name, in file order.
    pub peripherals: IndexMap<String, Peripheral>,
}

const TOP: &[&str] = &["name", "memory", "peripherals"];
const MEMORY: &[&str] = &["flash", "ram"];
const RANGE: &[&str] = &["base", "size"];
const PERIPHERAL: &[&str] = &["base", "size", "interrupts"];

fn range(d: &mut Diags, f: &Fields, key: &str) -> Option<Range> {
    let (v, p) = f.required(d, key, &format!("[memory.{key}] with base and size"))?;
    let t = table(d, &p, v, &format!("[memory.{key}]"))?;
    let rf = Fields::new(t, p.clone(), RANGE, format!("[memory.{key}]"));
    rf.check_unknown(d);
    let base = rf
        .required(d, "base", "base = 0x0800_0000")
        .and_then(|(v, p)| u32_value(d, &p, v, "base = 0x0800_0000"));
    let size = rf
        .required(d, "size", "size = 0x10_0000")
        .and_then(|(v, p)| u32_value(d, &p, v, "size = 0x10_0000"));
    let (base, size) = (base?, size?);
    let r = Range { base, size };
    if size == 0 {
        d.error(&p.key("size"), format!("[memory.{key}] has size 0"), "give the memory's real size in bytes");
        return None;
    }
    if r.end_u64() > u32::MAX as u64 {
        d.error(
            &p.key("size"),
            format!(
                "[memory.{key}] runs past the end of the 32-bit address space ({} + {})",
                addr(base as u64),
                hex(size as u64)
            ),
            "check base and size against the reference manual's memory map",
        );
        return None;
    }
    Some(r)
}

fn peripheral(d: &mut Diags, name: &str, p: &KeyPath, v: &toml::Value) -> Option<Peripheral> {
    let what = format!("[peripherals.{name}]");
    let t = table(d, p, v, &what)?;
    let f = Fields::new(t, p.clone(), PERIPHERAL, what.clone());
    f.check_unknown(d);
    if !names::is_ident(name) || name.contains('.') {
        d.error(
            p,
            format!("peripheral name `{name}` is not an identifier (it becomes a Rust constant and an interrupt key prefix)"),
            format!("rename it, e.g. `{}`", names::sanitized(name)),
        );
    }
    let base = f
        .required(d, "base", "base = 0x4000_0000")
        .and_then(|(v, p)| u32_value(d, &p, v, "base = 0x4000_0000"));
    let size = f
        .required(d, "size", "size = 0x400")
        .and_then(|(v, p)| u32_value(d, &p, v, "size = 0x400"));
    let mut interrupts = IndexMap::new();
    if let Some((v, ip)) = f.get("interrupts") {
        if let Some(it) = table(d, &ip, v, "interrupts = { irq = 29 }") {
            for (iname, iv) in it {
                let kp = ip.key(iname);
                if !names::is_ident(iname) || iname.contains('.') {
                    d.error(
                        &kp,
                        format!("interrupt name `{iname}` of {what} is not an identifier"),
                        format!("rename it, e.g. `{}`", names::sanitized(iname)),
                    );
                    continue;
                }
                if let Some(n) = u32_value(d, &kp, iv, "irq = 29") {
                    if n >= NVIC_MAX_IRQS {
                        d.error(
                            &kp,
                            format!("IRQ {n} of {what} is beyond the ARMv7-M NVIC (at most {NVIC_MAX_IRQS} interrupts)"),
                            "use the position in the vector table minus 16 (the reference manual's IRQ number)",
                        );
                    } else {
                        interrupts.insert(iname.clone(), n);
                    }
                }
            }
        }
    }
    let (base, size) = (base?, size?);
    let size_path = p.key("size");
    if size < MPU_MIN_REGION || !size.is_power_of_two() {
        let up = size.max(MPU_MIN_REGION).checked_next_power_of_two().unwrap_or(1 << 31);
        d.error(
            &size_path,
            format!("{what} size {size:#x} is not a power of two of at least 32 bytes, so it cannot be one MPU region"),
            format!("round the register block up to {up:#x} bytes"),
        );
        return None;
    }
    if base % size != 0 {
        d.error(
            &p.key("base"),
            format!(
                "{what} base {} is not aligned to its size {size:#x}, so it cannot be one MPU region",
                addr(base as u64)
            ),
            format!(
                "move base to a multiple of {size:#x} (e.g. {}), or grow size until one aligned block covers the registers",
                addr((base & !(size - 1)) as u64)
            ),
        );
        return None;
    }
    Some(Peripheral { base, size, interrupts })
}

/// Parses chip file text. `path` is used in diagnostics only.
pub(crate) fn parse(path: &Path, source: &str) -> Result<Chip, Vec<Diagnostic>> {
    let mut d = Diags::new(path, source);
    let root: toml::Table = match source.parse() {
        Ok(t) => t,
        Err(e) => {
            crate::parse_error(&mut d, source, &e);
            return Err(d.finish());
        }
    };
    let f = Fields::new(&root, KeyPath::root(), TOP, "the chip file's top level".to_string());
    f.check_unknown(&mut d);
    let name = f
        .required(&mut d, "name", "name = \"STM32F405RGTx\"")
        .and_then(|(v, p)| string(&mut d, &p, v, "name = \"STM32F405RGTx\""));
    let mut flash = None;
    let mut ram = None;
    if let Some((v, p)) = f.required(&mut d, "memory", "[memory.flash] and [memory.ram]") {
        if let Some(t) = table(&mut d, &p, v, "[memory.flash]") {
            let mf = Fields::new(t, p.clone(), MEMORY, "[memory]".to_string());
            mf.check_unknown(&mut d);
            flash = range(&mut d, &mf, "flash");
            ram = range(&mut d, &mf, "ram");
        }
    }
    let mut peripherals = IndexMap::new();
    let mut consts: IndexMap<String, String> = IndexMap::new();
    if let Some((v, p)) = f.get("peripherals") {
        match v {
            toml::Value::Table(t) => {
                for (pname, pv) in t {
                    let pp = p.key(pname);
                    if let Some(prev) = consts.insert(names::const_name(pname), pname.clone()) {
                        d.error(
                            &pp,
                            format!("peripherals `{prev}` and `{pname}` differ only in case"),
                            "rename one of them; both would become the same Rust constant",
                        );
                    }
                    if let Some(per) = peripheral(&mut d, pname, &pp, pv) {
                        peripherals.insert(pname.clone(), per);
                    }
                }
            }
            other => d.error(
                &p,
                format!("`peripherals` must be a table, but is {}", describe(other)),
                "write one [peripherals.<name>] table per peripheral",
            ),
        }
    }
    // A peripheral is mapped as device memory, read/write, for every task
    // that uses it (or a window on it): one that overlaps flash or RAM
    // would hand those tasks the kernel's and other tasks' memory.
    for (pname, per) in &peripherals {
        let r = Range { base: per.base, size: per.size };
        for (mem, m) in [("flash", flash), ("ram", ram)] {
            if m.is_some_and(|m| m.overlaps(&r)) {
                d.error(
                    &KeyPath::root().key("peripherals").key(pname).key("base"),
                    format!("peripheral `{pname}` ({}, {:#x} bytes) overlaps [memory.{mem}]", addr(per.base as u64), per.size),
                    "peripherals are register blocks outside flash and RAM; fix its base or size",
                );
            }
        }
    }
    if !d.is_empty() {
        return Err(d.finish());
    }
    Ok(Chip {
        name: name.expect("reported if missing"),
        source: source.to_string(),
        flash: flash.expect("reported if missing"),
        ram: ram.expect("reported if missing"),
        peripherals,
    })
}
