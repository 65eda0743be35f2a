//! `map`: the memory regions each task may touch, as the kernel enforces
//! them with the MPU.
//!
//! Why: to see at a glance where a task's flash, RAM and peripherals are,
//! for example to tell which task owns a faulting address.
//!
//! What it reads: the kernel statics `HUBRIS_TASK_DESCS` (each `TaskDesc`'s
//! `regions`: indices into the region table) and `HUBRIS_REGION_DESCS`
//! (`RegionDesc { base, size, attributes }`). Both are constants in flash,
//! so the view works from the archive alone as well as from a target.
//! Attribute bits are those of `kern::descs::region_attr`.

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

fn attrs(a: u64) -> String {
    let mut s = String::new();
    s.push(if a & READ != 0 { 'r' } else { '-' });
    s.push(if a & WRITE != 0 { 'w' } else { '-' });
    s.push(if a & EXECUTE != 0 { 'x' } else { '-' });
    if a & DEVICE != 0 {
        s.push_str(" device");
    }
    s
}

/// Produces the report.
pub fn map(insp: &mut Inspector) -> Result<Report> {
    let (_, descs) = insp.read_named(0, "HUBRIS_TASK_DESCS")?;
    let (_, regions) = insp.read_named(0, "HUBRIS_REGION_DESCS")?;
    let (Value::Array(descs), Value::Array(regions)) = (descs.unwrapped(), regions.unwrapped()) else {
        bail!("HUBRIS_TASK_DESCS and HUBRIS_REGION_DESCS must be arrays");
    };
    let names = insp.archive.task_names();
    let mut text = String::new();
    let mut rows = Vec::new();
    writeln!(text, "{:>2} {:<14} {:<10} {:<10} {:>8} ACCESS", "ID", "TASK", "BASE", "END", "SIZE").unwrap();
    for (i, d) in descs.iter().enumerate() {
        let Some(Value::Array(idx)) = d.field("regions") else {
            bail!("TaskDesc has no array field `regions`");
        };
        let name = names.get(i).cloned().unwrap_or_else(|| format!("#{i}"));
        for r in idx {
            let r = r.as_u64().context("region index is not a number")? as usize;
            let reg = regions.get(r).with_context(|| format!("task {name} names region {r}, beyond the table"))?;
            let num = |f: &str| reg.field(f).and_then(|v| v.as_u64()).with_context(|| format!("RegionDesc has no field `{f}`"));
            let (base, size, a) = (num("base")?, num("size")?, num("attributes")?);
            if size == 0 {
                continue;
            }
            writeln!(text, "{:>2} {:<14} {:#010x} {:#010x} {:>8} {}", i, name, base, base + size, size, attrs(a)).unwrap();
            rows.push(json!({ "id": i, "task": name, "base": base, "size": size, "attributes": a, "access": attrs(a) }));
        }
    }
    Ok(Report { text, json: json!({ "regions": rows }) })
}

#[cfg(test)]
mod tests {
    #[test]
    fn attribute_letters() {
        assert_eq!(super::attrs(1 | 4), "r-x");
        assert_eq!(super::attrs(1 | 2 | 8), "rw- device");
    }
}
