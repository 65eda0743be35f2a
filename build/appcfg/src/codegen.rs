//! Rust source generated from the app for tasks and the kernel.
//!
//! [`task_config_rs`] is what a task `include!`s at its crate root: its own
//! name and index, a `TaskId` constant per task-slot, bit and mask constants
//! per notification, base and size of each peripheral it `uses`, and its
//! `config` table as typed constants; and, only for a task that has them,
//! a `shared` module (base, size and whether it may write, per shared
//! region it reads or writes) and a `windows` module (base, size and
//! access per peripheral window). A task that app.toml does not grant a
//! region has no constant for it, so code that needs one fails to
//! compile in that task. [`irq_table`] is the kernel's IRQ
//! routing. [`check_config`] is run by `load()` so that generation never
//! meets a value it cannot express.
//!
//! Config keys that name tasks: a key ending in `-task` holds one task's
//! name and a key ending in `-tasks` an array of names. `load()` checks
//! that each names a task of the image, and generation emits the index
//! (`usize`), or the indices (`&[usize]`) and their set (`_MASK: u32`),
//! so a server can grant a capability to tasks by name and trust the
//! kernel-stamped sender index it is compared with.
//!
//! Guarantees: output is deterministic (declaration order throughout) and
//! depends only on the `App`; for an app that `load()` accepted, every
//! emitted identifier is valid and unique within its module, and every
//! string literal is a correctly escaped Rust literal.

use crate::error::{Diags, KeyPath};
use crate::schema::describe;
use crate::{names, App};
use std::collections::HashMap;
use std::fmt::Write;
use toml::{Table, Value};

/// Checks that every value of a task's `config` table can be emitted:
/// integers, booleans, strings, arrays of integers in `0..=u32::MAX`, and
/// tables of those; keys must map to identifiers without colliding.
pub(crate) fn check_config(d: &mut Diags, path: &KeyPath, table: &Table, tasks: &[&str]) {
    let mut consts: HashMap<String, &str> = HashMap::new();
    let mut mods: HashMap<String, &str> = HashMap::new();
    for (key, value) in table {
        let kp = path.key(key);
        if !names::is_ident(key) {
            d.error(
                &kp,
                format!("config key `{key}` is not an identifier even with `-` and `.` read as `_`"),
                format!("rename it, e.g. `{}`", names::sanitized(key)),
            );
            continue;
        }
        let (seen, emitted) = match value {
            Value::Table(_) => (&mut mods, names::mod_name(key)),
            _ => (&mut consts, names::const_name(key)),
        };
        if let Some(prev) = seen.insert(emitted.clone(), key) {
            d.error(
                &kp,
                format!("config keys `{prev}` and `{key}` both become `{emitted}` in the generated code"),
                "rename one of them so they differ by more than case, `-`, `.` and `_`",
            );
        }
        if key.ends_with("-task") || key.ends_with("-tasks") {
            check_task_names(d, &kp, key, value, tasks);
            continue;
        }
        match value {
            Value::String(_) | Value::Integer(_) | Value::Boolean(_) => {}
            Value::Table(t) => check_config(d, &kp, t, tasks),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::Integer(n) if (0..=u32::MAX as i64).contains(n) => {}
                        other => d.error(
                            &kp.index(i),
                            format!("config array `{key}` holds {}, but config arrays may only hold integers 0..=0xFFFF_FFFF (emitted as &[u32])", describe(other)),
                            "make every element a non-negative integer that fits in 32 bits, or use a nested table",
                        ),
                    }
                }
            }
            other => d.error(
                &kp,
                format!("config value `{key}` is {}, which generated task config cannot express", describe(other)),
                "use an integer (scaled, e.g. milli-units), a boolean, a string, an array of integers or a table",
            ),
        }
    }
}

/// Checks a config value that names tasks (see the module docs).
fn check_task_names(d: &mut Diags, kp: &KeyPath, key: &str, value: &Value, tasks: &[&str]) {
    let one = key.ends_with("-task");
    let names: Vec<(KeyPath, &Value)> = match value {
        Value::String(_) if one => vec![(kp.clone(), value)],
        Value::Array(items) if !one => items.iter().enumerate().map(|(i, v)| (kp.index(i), v)).collect(),
        other => {
            let want = if one { "a task name (a string)" } else { "an array of task names" };
            d.error(
                kp,
                format!("config key `{key}` names tasks by its suffix, so it must be {want}, not {}", describe(other)),
                format!("write e.g. `{key} = {}`, or rename the key", if one { "\"timer\"" } else { "[\"timer\"]" }),
            );
            return;
        }
    };
    for (p, v) in names {
        let Some(name) = v.as_str() else {
            d.error(&p, format!("`{key}` holds {}, but it may only hold task names", describe(v)), "write the task's name as a string");
            continue;
        };
        if !tasks.contains(&name) {
            let rest = format!("name one of the image's tasks: {}", crate::error::list(tasks.iter().copied()));
            d.error(
                &p,
                format!("config `{key}` names `{name}`, but there is no task of that name"),
                crate::error::suggest(name, tasks.iter().copied(), &rest),
            );
        }
    }
}

/// Emits a config value that names tasks as indices (see the module docs).
fn emit_task_names(out: &mut String, pad: &str, name: &str, value: &Value, app: &App) {
    let index = |v: &Value| v.as_str().and_then(|n| app.task_index(n)).expect("task names are checked by load()");
    match value {
        Value::Array(items) => {
            let idx: Vec<usize> = items.iter().map(index).collect();
            let mask = idx.iter().fold(0u32, |m, &i| m | 1 << i);
            let list: Vec<String> = idx.iter().map(|i| i.to_string()).collect();
            let _ = writeln!(out, "{pad}pub const {name}: &[usize] = &[{}];", list.join(", "));
            let _ = writeln!(out, "{pad}pub const {name}_MASK: u32 = {};", hex(mask as u64));
        }
        v => {
            let _ = writeln!(out, "{pad}/// Task `{}`.", v.as_str().unwrap_or("?"));
            let _ = writeln!(out, "{pad}pub const {name}: usize = {};", index(v));
        }
    }
}

/// `n` as Rust hex with `_` between groups of four digits (`0x400`,
/// `0x1_0000`).
pub fn hex(n: u64) -> String {
    group(format!("{n:x}"))
}

/// An address: like [`hex`], but at least eight digits (`0x0800_0000`).
pub fn addr(n: u64) -> String {
    group(format!("{n:08x}"))
}

fn group(digits: String) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(4) {
            out.push('_');
        }
        out.push(c);
    }
    format!("0x{out}")
}

fn emit_config(out: &mut String, table: &Table, indent: usize, app: &App) {
    let pad = " ".repeat(indent);
    for (key, value) in table {
        let name = names::const_name(key);
        if key.ends_with("-task") || key.ends_with("-tasks") {
            emit_task_names(out, &pad, &name, value, app);
            continue;
        }
        match value {
            Value::String(s) => {
                let _ = writeln!(out, "{pad}pub const {name}: &str = {s:?};");
            }
            Value::Boolean(b) => {
                let _ = writeln!(out, "{pad}pub const {name}: bool = {b};");
            }
            Value::Integer(n) => {
                let ty = if (0..=u32::MAX as i64).contains(n) {
                    "u32"
                } else if *n > 0 {
                    "u64"
                } else {
                    "i64"
                };
                let _ = writeln!(out, "{pad}pub const {name}: {ty} = {n};");
            }
            Value::Array(items) => {
                let elems: Vec<String> = items.iter().map(|v| v.as_integer().unwrap_or(0).to_string()).collect();
                let _ = writeln!(out, "{pad}pub const {name}: &[u32] = &[{}];", elems.join(", "));
            }
            Value::Table(t) => {
                let _ = writeln!(out, "{pad}pub mod {} {{", names::mod_name(key));
                emit_config(out, t, indent + 4, app);
                let _ = writeln!(out, "{pad}}}");
            }
            // Rejected by check_config before an App exists.
            Value::Float(_) | Value::Datetime(_) => {}
        }
    }
}

/// The Rust source task `index` includes at its crate root (see the crate
/// docs for the exact shape). The crate must depend on `userlib`.
///
/// Panics if `index` is out of range.
pub fn task_config_rs(app: &App, index: usize) -> String {
    let task = &app.tasks[index];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// @generated by cargo xtask from {}: task `{}` (index {index}). Do not edit.",
        app.path.display(),
        task.name
    );
    let _ = writeln!(out, "#[allow(dead_code)]\npub const TASK_NAME: &str = {:?};", task.name);
    let _ = writeln!(out, "#[allow(dead_code)]\npub const TASK_INDEX: usize = {index};");

    out.push_str("\n#[allow(dead_code)]\npub mod slots {\n");
    for slot in &task.task_slots {
        let i = app.task_index(slot).expect("task-slots are checked by load()");
        let _ = writeln!(out, "    /// Task `{slot}` (index {i}).");
        let _ = writeln!(
            out,
            "    pub const {}: userlib::TaskId = userlib::TaskId::for_index_and_gen({i}, userlib::Generation::ZERO);",
            names::const_name(slot)
        );
    }
    out.push_str("}\n");

    out.push_str("\n#[allow(dead_code)]\npub mod notifications {\n");
    for (bit, n) in task.notifications.iter().enumerate() {
        let irqs: Vec<String> = task
            .interrupts
            .iter()
            .filter(|i| i.bit as usize == bit)
            .map(|i| format!("IRQ {} (`{}.{}`)", i.irq, i.peripheral, i.irq_name))
            .collect();
        if irqs.is_empty() {
            let _ = writeln!(out, "    /// Notification `{n}`.");
        } else {
            let _ = writeln!(out, "    /// Notification `{n}`, raised by {}.", irqs.join(", "));
        }
        let c = names::const_name(n);
        let _ = writeln!(out, "    pub const {c}_BIT: u32 = {bit};");
        let _ = writeln!(out, "    pub const {c}_MASK: u32 = 1 << {bit};");
    }
    out.push_str("}\n");

    out.push_str("\n#[allow(dead_code)]\npub mod peripherals {\n");
    for u in &task.uses {
        let p = &app.chip.peripherals[u];
        let c = names::const_name(u);
        let _ = writeln!(out, "    /// Peripheral `{u}` (mapped for this task by the MPU).");
        let _ = writeln!(out, "    pub const {c}_BASE: u32 = {};", addr(p.base as u64));
        let _ = writeln!(out, "    pub const {c}_SIZE: u32 = {};", hex(p.size as u64));
    }
    out.push_str("}\n");

    let shared: Vec<&crate::SharedRegion> =
        app.shared.iter().filter(|s| s.writer == task.name || s.readers.contains(&task.name)).collect();
    if !shared.is_empty() {
        out.push_str("\n#[allow(dead_code)]\npub mod shared {\n");
        let alloc = crate::allocate(app).expect("load() checked that the app fits");
        for s in shared {
            let r = alloc.shared[app.shared.iter().position(|x| x.name == s.name).expect("listed")];
            let c = names::const_name(&s.name);
            let writer = s.writer == task.name;
            let how = if writer { "read/write: this task is its writer" } else { "read-only: the MPU faults a write" };
            let _ = writeln!(out, "    /// Shared region `{}` ({how}), written by task `{}`.", s.name, s.writer);
            let _ = writeln!(out, "    pub const {c}_BASE: u32 = {};", addr(r.base as u64));
            let _ = writeln!(out, "    pub const {c}_SIZE: u32 = {};", hex(r.size as u64));
            let _ = writeln!(out, "    pub const {c}_WRITABLE: bool = {writer};");
        }
        out.push_str("}\n");
    }

    if !task.windows.is_empty() {
        out.push_str("\n#[allow(dead_code)]\npub mod windows {\n");
        for w in &task.windows {
            let c = names::const_name(&w.name);
            let access = match w.access {
                crate::Access::Read => "read-only",
                crate::Access::ReadWrite => "read/write",
            };
            let of = if w.bit_band { "the bit-band alias of" } else { "the registers of" };
            let _ = writeln!(out, "    /// Window `{}`: {} bytes of {of} `{}` at offset {} ({access}).", w.name, w.size, w.peripheral, hex(w.offset as u64));
            let _ = writeln!(out, "    pub const {c}_BASE: u32 = {};", addr(w.base as u64));
            let _ = writeln!(out, "    pub const {c}_SIZE: u32 = {};", hex(w.size as u64));
            let _ = writeln!(out, "    pub const {c}_WRITABLE: bool = {};", w.access == crate::Access::ReadWrite);
        }
        out.push_str("}\n");
    }

    out.push_str("\n#[allow(dead_code)]\npub mod config {\n");
    emit_config(&mut out, &task.config, 4, app);
    out.push_str("}\n");
    out
}

/// The kernel's IRQ routing: `(NVIC number, task index, notification mask)`
/// for every interrupt of every task, sorted by NVIC number (each appears
/// once: `load()` rejects an IRQ with two owners).
pub fn irq_table(app: &App) -> Vec<(u32, usize, u32)> {
    let mut v: Vec<(u32, usize, u32)> = app
        .tasks
        .iter()
        .enumerate()
        .flat_map(|(i, t)| t.interrupts.iter().map(move |irq| (irq.irq, i, 1u32 << irq.bit)))
        .collect();
    v.sort();
    v
}

/// `index` value of an NVIC line no task owns (the kernel's
/// `IrqRoutes::NONE`).
pub const IRQ_NOT_ROUTED: u8 = u8::MAX;

/// The kernel's interrupt routing tables (`kern::irq::IrqRoutes`), so that
/// the IRQ entry path and the re-enabling receive look up instead of
/// search.
#[derive(Debug, PartialEq, Eq)]
pub struct IrqRoutes {
    /// `(irq, task index, notification mask)`, grouped by task, each
    /// task's by IRQ number.
    pub table: Vec<(u32, usize, u32)>,
    /// For each NVIC line up to the highest routed one, its `table`
    /// index, or [`IRQ_NOT_ROUTED`].
    pub index: Vec<u8>,
    /// Task `i`'s entries are `table[starts[i]..starts[i + 1]]` (one more
    /// than there are tasks).
    pub starts: Vec<u8>,
}

/// [`IrqRoutes`] for `app`. An image routes at most 254 IRQs (far more
/// than any STM32 has; `load` has already refused two owners for one).
pub fn irq_routes(app: &App) -> IrqRoutes {
    let mut table = irq_table(app);
    table.sort_by_key(|&(irq, task, _)| (task, irq));
    assert!(table.len() < usize::from(IRQ_NOT_ROUTED), "more than 254 routed IRQs");
    let lines = table.iter().map(|e| e.0 as usize + 1).max().unwrap_or(0);
    let mut index = vec![IRQ_NOT_ROUTED; lines];
    for (k, e) in table.iter().enumerate() {
        index[e.0 as usize] = k as u8;
    }
    let starts = (0..=app.tasks.len()).map(|t| table.iter().filter(|e| e.1 < t).count() as u8).collect();
    IrqRoutes { table, index, starts }
}

#[cfg(test)]
mod tests {
    use super::{addr, hex};

    #[test]
    fn hex_groups_of_four() {
        assert_eq!(hex(0x400), "0x400");
        assert_eq!(hex(0x4000_0400), "0x4000_0400");
        assert_eq!(hex(0x1_0000), "0x1_0000");
        assert_eq!(hex(0), "0x0");
        assert_eq!(addr(0x800_0000), "0x0800_0000");
        assert_eq!(addr(0x1_0000_0000), "0x1_0000_0000");
    }
}
