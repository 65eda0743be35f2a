//! `manifest`: what the archive says the image is (name, board, chip,
//! kernel and tasks with their priorities, sizes, notifications,
//! interrupts and peripherals).
//!
//! Why: to know what a dump or a target is supposed to be running, from the
//! archive alone, before looking at memory.
//!
//! Guarantees: needs no target; everything comes from the archive's
//! `app.toml` and entries. Task ids are the archive's task order.

use super::{app_table, task_key, Report};
use crate::archive::Archive;
use anyhow::Result;
use serde_json::json;
use std::fmt::Write;

fn s(v: Option<&toml::Value>) -> String {
    match v {
        Some(toml::Value::String(s)) => s.clone(),
        Some(toml::Value::Array(a)) => a.iter().map(|x| s(Some(x))).collect::<Vec<_>>().join(", "),
        Some(toml::Value::Table(t)) => t.iter().map(|(k, v)| format!("{k} = {}", s(Some(v)))).collect::<Vec<_>>().join(", "),
        Some(v) => v.to_string(),
        None => "-".into(),
    }
}

/// A TOML list of strings (absent: empty).
fn strings(v: Option<&toml::Value>) -> Vec<String> {
    v.and_then(|v| v.as_array()).map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default()
}

/// Produces the report.
pub fn manifest(archive: &Archive) -> Result<Report> {
    let app = app_table(archive)?;
    let mut text = String::new();
    let get = |k: &str| s(app.get(k));
    writeln!(text, "image       {} (archive v{}, image id {:#018x})", get("name"), archive.version, archive.image_id).unwrap();
    writeln!(text, "git rev     {}", archive.git_rev.as_deref().unwrap_or("-")).unwrap();
    writeln!(text, "board       {}", get("board")).unwrap();
    writeln!(text, "chip        {}", get("chip")).unwrap();
    writeln!(text, "target      {}", get("target")).unwrap();
    let kernel = app.get("kernel");
    writeln!(
        text,
        "kernel      {} (requires {}; stack {}; features [{}])",
        s(kernel.and_then(|k| k.get("name"))),
        s(kernel.and_then(|k| k.get("requires"))),
        s(kernel.and_then(|k| k.get("stacksize"))),
        s(kernel.and_then(|k| k.get("features")))
    )
    .unwrap();
    writeln!(text, "tasks       {}", archive.tasks.len()).unwrap();
    writeln!(text, "{:>2} {:<12} {:<22} {:>3} {:>6} {:>6} {:>6} DETAILS", "ID", "TASK", "PACKAGE", "PRI", "FLASH", "RAM", "STACK").unwrap();
    let mut rows = Vec::new();
    for (i, t) in archive.tasks.iter().enumerate() {
        let k = |key: &str| task_key(&app, &t.name, key);
        let sizes = k("max-sizes");
        let mut details = Vec::new();
        for key in ["notifications", "interrupts", "uses", "task-slots", "features"] {
            if let Some(v) = k(key) {
                details.push(format!("{key}: {}", s(Some(v))));
            }
        }
        writeln!(
            text,
            "{:>2} {:<12} {:<22} {:>3} {:>6} {:>6} {:>6} {}",
            i,
            t.name,
            s(k("name")),
            s(k("priority")),
            s(sizes.and_then(|m| m.get("flash"))),
            s(sizes.and_then(|m| m.get("ram"))),
            s(k("stacksize")),
            details.join("; ")
        )
        .unwrap();
        while text.ends_with(" \n") {
            text.truncate(text.len() - 2);
            text.push('\n');
        }
        rows.push(json!({
            "id": i,
            "name": t.name,
            "package": s(k("name")),
            "priority": k("priority").and_then(|v| v.as_integer()),
            "flash": sizes.and_then(|m| m.get("flash")).and_then(|v| v.as_integer()),
            "ram": sizes.and_then(|m| m.get("ram")).and_then(|v| v.as_integer()),
            "stacksize": k("stacksize").and_then(|v| v.as_integer()),
            "details": details,
            "features": strings(k("features")),
        }));
    }
    let json = json!({
        "name": get("name"),
        "archive_version": archive.version,
        "image_id": format!("{:#018x}", archive.image_id),
        "git_rev": archive.git_rev,
        "board": get("board"),
        "chip": get("chip"),
        "target": get("target"),
        "image": archive.image_name,
        "features": strings(kernel.and_then(|k| k.get("features"))),
        "tasks": rows,
    });
    Ok(Report { text, json })
}
