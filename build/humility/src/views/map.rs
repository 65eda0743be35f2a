//! `map`: the memory regions each task may touch, as the kernel enforces
//! them with the MPU.
//!
//! Why: to see at a glance where a task's flash, RAM and peripherals are,
//! for example to tell which task owns a faulting address.
//!
//! What it reads: the kernel statics `HUBRIS_TASK_DESCS` (each `TaskDesc`'s
//! `regions`) and `HUBRIS_REGION_DESCS` (`RegionDesc { base, size,
//! attributes }`). Both are constants in flash, so the view works from the
//! archive alone as well as from a target. Both shapes Hubris kernels have
//! had are read: `regions` as u8 indices into the region table, or as
//! references to its entries (u32 addresses); `attributes` as a bare u32,
//! or a bitflags struct around one (`RegionAttributes { bits }`, or
//! `RegionAttributes(InternalBitFlags(u32))`). Attribute bits are Hubris's:
//! READ 1, WRITE 2, EXECUTE 4, DEVICE 8, DMA 16. The null region (size 0,
//! or base 0 with no access) that fills unused slots is not shown.

use super::Report;
use crate::inspect::Inspector;
use crate::value::Value;
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::fmt::Write;

const READ: u64 = 1;
const WRITE: u64 = 2;
const EXECUTE: u64 = 4;
const DEVICE: u64 = 8;
const DMA: u64 = 16;

fn attrs(a: u64) -> String {
    let mut s = String::new();
    s.push(if a & READ != 0 { 'r' } else { '-' });
    s.push(if a & WRITE != 0 { 'w' } else { '-' });
    s.push(if a & EXECUTE != 0 { 'x' } else { '-' });
    if a & DEVICE != 0 {
        s.push_str(" device");
    }
    if a & DMA != 0 {
        s.push_str(" dma");
    }
    s
}

/// The index in the region table of one `TaskDesc.regions` entry: an index
/// as is, a reference converted from its address.
fn region_index(entry: &Value, table_addr: u64, desc_size: u64, count: usize) -> Result<usize> {
    match entry {
        Value::Pointer { addr, .. } => {
            let off = addr.checked_sub(table_addr).filter(|o| desc_size > 0 && o % desc_size == 0 && o / desc_size < count as u64);
            let off = off.with_context(|| {
                format!("region reference {addr:#010x} is not an entry of HUBRIS_REGION_DESCS ({count} entries of {desc_size} bytes at {table_addr:#010x})")
            })?;
            Ok((off / desc_size) as usize)
        }
        other => {
            let i = other.as_u64().with_context(|| format!("region entry {other} is neither an index nor a reference"))?;
            anyhow::ensure!((i as usize) < count, "region index {i} is beyond the table of {count}");
            Ok(i as usize)
        }
    }
}

/// Produces the report.
pub fn map(insp: &mut Inspector) -> Result<Report> {
    let (_, descs) = insp.read_named(0, "HUBRIS_TASK_DESCS")?;
    let (rvar, regions) = insp.read_named(0, "HUBRIS_REGION_DESCS")?;
    let (Value::Array(descs), Value::Array(regions)) = (descs.unwrapped(), regions.unwrapped()) else {
        bail!("HUBRIS_TASK_DESCS and HUBRIS_REGION_DESCS must be arrays");
    };
    let table_size = rvar.ty.and_then(|t| insp.kernel().ok()?.size_of(t)).context("the size of HUBRIS_REGION_DESCS is unknown")?;
    let desc_size = table_size / regions.len().max(1) as u64;
    let peripherals = peripheral_names(insp);
    let names = insp.archive.task_names();
    let mut text = String::new();
    let mut rows = Vec::new();
    writeln!(text, "{:>2} {:<14} {:<10} {:<10} {:>8} ACCESS", "ID", "TASK", "BASE", "END", "SIZE").unwrap();
    for (i, d) in descs.iter().enumerate() {
        let Some(Value::Array(idx)) = d.field("regions") else {
            bail!("TaskDesc has no array field `regions`");
        };
        let name = names.get(i).cloned().unwrap_or_else(|| format!("#{i}"));
        for entry in idx {
            let r = region_index(entry, rvar.addr, desc_size, regions.len()).with_context(|| format!("task {name}"))?;
            let reg = &regions[r];
            let num = |f: &str| reg.field(f).and_then(|v| v.as_u64()).with_context(|| format!("RegionDesc has no numeric field `{f}`"));
            let (base, size, a) = (num("base")?, num("size")?, num("attributes")?);
            if size == 0 || (base == 0 && a == 0) {
                continue;
            }
            writeln!(text, "{:>2} {:<14} {:#010x} {:#010x} {:>8} {}", i, name, base, base + size, size, attrs(a)).unwrap();
            let peripheral = (a & DEVICE != 0).then(|| peripherals.iter().find(|(_, b)| *b == base).map(|(n, _)| n.clone())).flatten();
            rows.push(json!({
                "id": i, "task": name, "base": base, "size": size, "attributes": a, "access": attrs(a),
                "descriptor": rvar.addr + r as u64 * desc_size, "peripheral": peripheral,
            }));
        }
    }
    Ok(Report { text, json: json!({ "regions": rows }) })
}

/// Peripheral names and addresses from the archive's chip.toml, in either
/// layout (humility's flat `[name] address = ..`, or our older
/// `[peripherals.name] base = ..`); empty if there is none.
fn peripheral_names(insp: &Inspector) -> Vec<(String, u64)> {
    let Some(t) = insp.archive.chip_toml.as_deref().and_then(|c| c.parse::<toml::Table>().ok()) else { return Vec::new() };
    let flat = t.iter().filter_map(|(n, v)| Some((n.clone(), v.get("address")?.as_integer()? as u64)));
    let nested = t.get("peripherals").and_then(|p| p.as_table()).into_iter().flatten();
    let nested = nested.filter_map(|(n, v)| Some((n.clone(), v.get("base")?.as_integer()? as u64)));
    flat.chain(nested).collect()
}

#[cfg(test)]
mod tests {
    use super::region_index;
    use crate::value::Value;

    #[test]
    fn region_entries_as_indices_or_references() {
        assert_eq!(region_index(&Value::Unsigned(3), 0x800, 12, 5).unwrap(), 3);
        assert!(region_index(&Value::Unsigned(5), 0x800, 12, 5).is_err());
        let r = |addr| Value::Pointer { ty: "RegionDesc".into(), target: None, addr };
        assert_eq!(region_index(&r(0x800 + 24), 0x800, 12, 5).unwrap(), 2);
        assert!(region_index(&r(0x800 + 25), 0x800, 12, 5).is_err(), "misaligned");
        assert!(region_index(&r(0x7f4), 0x800, 12, 5).is_err(), "before the table");
        assert!(region_index(&r(0x800 + 60), 0x800, 12, 5).is_err(), "after the table");
    }

    #[test]
    fn attribute_letters() {
        assert_eq!(super::attrs(1 | 4), "r-x");
        assert_eq!(super::attrs(1 | 2 | 8), "rw- device");
        assert_eq!(super::attrs(1 | 2 | 16), "rw- dma");
    }
}
