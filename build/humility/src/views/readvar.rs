//! `readvar NAME` and `readvar -l`: any static of the kernel or a task,
//! decoded by its DWARF type.
//!
//! Why: the catch-all view; whatever a task keeps in a static can be read
//! without a custom view.
//!
//! Guarantees: a name matches a static's plain name, its full path, or a
//! `::`-suffix of the path; when several statics match (for instance the
//! same crate linked into several tasks), the view lists them all with
//! their task instead of picking one, unless `--task` narrows the search.
//! `&str` fields print as their text.

use super::Report;
use crate::inspect::Inspector;
use anyhow::{bail, Result};
use serde_json::json;
use std::fmt::Write;

/// Lists every static (all programs, or only `task`).
pub fn list(insp: &mut Inspector, task: Option<&str>) -> Result<Report> {
    let mut text = String::new();
    let mut rows = Vec::new();
    writeln!(text, "{:<12} {:<10} {:>6} {:<40} TYPE", "TASK", "ADDR", "SIZE", "VARIABLE").unwrap();
    for p in programs(insp, task)? {
        let prog = insp.program(p)?;
        for v in &prog.variables {
            let size = v.ty.and_then(|t| prog.size_of(t)).unwrap_or(0);
            let ty = prog.type_name(v.ty);
            writeln!(text, "{:<12} {:#010x} {:>6} {:<40} {}", insp.program_name(p), v.addr, size, v.path, ty).unwrap();
            rows.push(json!({ "task": insp.program_name(p), "address": v.addr, "size": size, "path": v.path, "type": ty }));
        }
    }
    Ok(Report { text, json: json!({ "variables": rows }) })
}

fn programs(insp: &Inspector, task: Option<&str>) -> Result<Vec<usize>> {
    Ok(match task {
        Some("kernel") => vec![0],
        Some(t) => vec![1 + insp.archive.task_index(t)?],
        None => (0..=insp.task_count()).collect(),
    })
}

/// Reads the static `name`.
pub fn readvar(insp: &mut Inspector, name: &str, task: Option<&str>) -> Result<Report> {
    let mut found = Vec::new();
    for p in programs(insp, task)? {
        let prog = insp.program(p)?;
        for v in prog.find_variables(name) {
            found.push((p, v.clone()));
        }
    }
    // An exact path match wins over suffix matches.
    if found.len() > 1 {
        let exact: Vec<_> = found.iter().filter(|(_, v)| v.path == name).cloned().collect();
        if !exact.is_empty() {
            found = exact;
        }
    }
    let (p, v) = match found.as_slice() {
        [one] => one.clone(),
        [] => bail!(
            "no static named `{name}`{}; list them with `readvar -l`",
            task.map(|t| format!(" in {t}")).unwrap_or_default()
        ),
        many => {
            let list: Vec<String> = many.iter().map(|(p, v)| format!("{} {}", insp.program_name(*p), v.path)).collect();
            bail!("`{name}` is ambiguous: {}\n  help: give the full path, or --task TASK", list.join(", "))
        }
    };
    let value = insp.read_variable(p, &v)?;
    let value = insp.resolve_strs(value);
    let prog = insp.program(p)?;
    let ty = prog.type_name(v.ty);
    let size = v.ty.and_then(|t| prog.size_of(t)).unwrap_or(0);
    let text = format!("{} {} ({:#010x}, {size} bytes, {ty}) =\n{value}\n", insp.program_name(p), v.path, v.addr);
    let json = json!({ "task": insp.program_name(p), "path": v.path, "address": v.addr, "type": ty, "size": size, "value": value.to_json() });
    Ok(Report { text, json })
}
