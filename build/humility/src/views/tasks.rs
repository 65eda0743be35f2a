//! `tasks`: every task's id, name, generation, priority, state and pending
//! notifications, from the kernel's task table.
//!
//! Why: the first question about a stuck or crashed system is "who is
//! waiting for whom, and who faulted".
//!
//! What it reads (by name, as HUMILITY-COMPAT level 3 lists): the kernel
//! statics `HUBRIS_TASK_TABLE_SPACE` (seen through `MaybeUninit`) and
//! `CURRENT_TASK_PTR`; in each `Task`, the fields `state`, `generation`,
//! `priority`, `notifications` and `save.r6` (the notification mask of a
//! task blocked in `recv`). States are `TaskState::{Healthy(SchedState),
//! Faulted { fault, original_state }}`; `SchedState::{Stopped, Runnable,
//! InSend(TaskId), InReply(TaskId), InRecv(Option<TaskId>)}`. A variant or
//! field this view does not know is printed as decoded, not guessed at.

use super::{format_bits, notification_names, Report};
use crate::inspect::Inspector;
use crate::value::Value;
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::fmt::Write;

/// Bits of a `TaskId` holding the task index (`abi::TaskId::INDEX_BITS`);
/// the rest is the generation. The kernel's pseudo-id has an all-ones index.
const INDEX_BITS: u32 = 10;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;

/// Produces the report.
pub fn tasks(insp: &mut Inspector) -> Result<Report> {
    let kernel = insp.kernel()?;
    let table_var = insp.variable(0, "HUBRIS_TASK_TABLE_SPACE")?;
    let table_size = kernel.size_of(table_var.ty.context("HUBRIS_TASK_TABLE_SPACE has no type")?).unwrap_or(0);
    let table = insp.read_variable(0, &table_var)?;
    let Value::Array(tasks) = table.unwrapped().clone() else {
        bail!("HUBRIS_TASK_TABLE_SPACE is {}, not an array of tasks (even inside MaybeUninit)", table.type_name().unwrap_or("?"));
    };
    if tasks.len() != insp.task_count() {
        bail!("the kernel's task table has {} tasks, the archive {}", tasks.len(), insp.task_count());
    }
    // The running task: CURRENT_TASK_PTR points into the table.
    let current = match insp.read_named(0, "CURRENT_TASK_PTR") {
        Ok((_, p)) => p.as_u64().and_then(|a| {
            let each = table_size / tasks.len().max(1) as u64;
            (a >= table_var.addr && each > 0).then(|| ((a - table_var.addr) / each) as usize).filter(|i| *i < tasks.len())
        }),
        Err(_) => None,
    };
    let app = super::app_table(&insp.archive)?;
    let names = insp.archive.task_names();
    let mut text = String::new();
    // The kernel's tick count, when the kernel keeps one (Hubris's `TICKS`:
    // a u64, or two u32 halves, low first).
    let ticks = match insp.variable(0, "TICKS") {
        Ok(v) => Some(insp.read_variable(0, &v).and_then(|t| ticks_value(&t))?),
        Err(_) => None,
    };
    if let Some(t) = ticks {
        writeln!(text, "system time = {t}").unwrap();
    }
    writeln!(text, "{:>2} {:<14} {:>3} {:>3} {:<40} PENDING", "ID", "TASK", "GEN", "PRI", "STATE").unwrap();
    let mut rows = Vec::new();
    for (i, t) in tasks.iter().enumerate() {
        let field = |n: &str| t.field(n).with_context(|| format!("task {i}: `Task` has no field `{n}`"));
        let generation = field("generation")?.as_u64().context("generation is not a number")?;
        let priority = field("priority")?.as_u64().context("priority is not a number")?;
        let pending = field("notifications")?.as_u64().context("notifications is not a number")?;
        let mask = t.field("save").and_then(|s| s.field("r6")).and_then(|v| v.as_u64()).unwrap_or(0);
        let notes = notification_names(&app, &names[i]);
        let state = state_text(insp, field("state")?, mask, &notes, &names, current == Some(i));
        let pend = if pending == 0 { "-".to_string() } else { format_bits(pending, &notes) };
        writeln!(text, "{:>2} {:<14} {:>3} {:>3} {:<40} {}", i, names[i], generation, priority, state, pend).unwrap();
        rows.push(json!({
            "id": i,
            "name": names[i],
            "generation": generation,
            "priority": priority,
            "state": state,
            "raw_state": field("state")?.to_json(),
            "pending": pending,
            "running": current == Some(i),
            // The notifications a task in `recv` waits for, by name (bitN
            // for bits the app does not name).
            "waiting_for": if field("state")?.variant().is_some_and(|(v, f)| v == "Healthy" && f.first().and_then(|(_, s)| s.variant()).is_some_and(|(v, _)| v == "InRecv")) {
                bit_names(mask, &notes)
            } else {
                Vec::new()
            },
        }));
    }
    Ok(Report { text, json: json!({ "system_time": ticks, "tasks": rows }) })
}

/// The names of the bits set in `mask`: the app's notification names,
/// `bitN` for bits it does not name.
fn bit_names(mask: u64, notes: &[String]) -> Vec<String> {
    (0..32).filter(|i| mask & (1 << i) != 0).map(|i| notes.get(i).cloned().unwrap_or_else(|| format!("bit{i}"))).collect()
}

/// The value of a `TICKS` static: a u64 (possibly atomic), or `[u32; 2]`
/// (low half first).
fn ticks_value(v: &Value) -> Result<u64> {
    let v = v.unwrapped();
    if let Value::Array(halves) = v {
        if let [lo, hi] = halves.as_slice() {
            if let (Some(lo), Some(hi)) = (lo.unwrapped().as_u64(), hi.unwrapped().as_u64()) {
                return Ok(lo & 0xFFFF_FFFF | hi << 32);
            }
        }
    }
    v.as_u64().with_context(|| format!("TICKS is {v}, neither a u64 nor two u32 halves"))
}

/// Task index and generation of a `TaskId` value.
fn task_id(v: &Value) -> Option<(usize, u64)> {
    let raw = v.as_u64()?;
    Some(((raw & INDEX_MASK) as usize, raw >> INDEX_BITS))
}

fn task_name(v: &Value, names: &[String]) -> String {
    match task_id(v) {
        Some((i, _)) if i as u64 == INDEX_MASK => "kernel".into(),
        Some((i, _)) => names.get(i).cloned().unwrap_or_else(|| format!("#{i}")),
        None => v.to_string(),
    }
}

fn sched_text(s: &Value, mask: u64, notes: &[String], names: &[String], running: bool) -> String {
    let Some((variant, fields)) = s.variant() else { return s.to_string() };
    let arg = fields.first().map(|(_, v)| v);
    match (variant, arg) {
        ("Stopped", _) => "stopped".into(),
        ("Runnable", _) if running => "RUNNING".into(),
        ("Runnable", _) => "ready".into(),
        ("InSend", Some(t)) => format!("send to {}", task_name(t, names)),
        ("InReply", Some(t)) => format!("reply from {}", task_name(t, names)),
        ("InRecv", Some(from)) => match from.as_option() {
            Some(None) if mask == 0 => "recv".into(),
            Some(None) => format!("recv, notif: {}", format_bits(mask, notes)),
            Some(Some(t)) if task_id(t).is_some_and(|(i, _)| i as u64 == INDEX_MASK) => {
                if mask == 0 {
                    "wait: notif none (parked)".into()
                } else {
                    format!("wait: notif {}", format_bits(mask, notes))
                }
            }
            Some(Some(t)) if mask == 0 => format!("recv from {}", task_name(t, names)),
            Some(Some(t)) => format!("recv from {}, notif: {}", task_name(t, names), format_bits(mask, notes)),
            None => format!("recv ({from})"),
        },
        _ => s.to_string(),
    }
}

fn state_text(insp: &Inspector, state: &Value, mask: u64, notes: &[String], names: &[String], running: bool) -> String {
    let Some((variant, fields)) = state.variant() else { return state.to_string() };
    match variant {
        "Healthy" => fields.first().map(|(_, s)| sched_text(s, mask, notes, names, running)).unwrap_or_else(|| state.to_string()),
        "Faulted" => {
            let get = |n: &str| fields.iter().find(|(f, _)| f == n).map(|(_, v)| v);
            let cause = get("fault").map(|f| fault_text(insp, f, names)).unwrap_or_else(|| "?".into());
            match get("original_state") {
                Some(o) => format!("FAULT: {cause} (was: {})", sched_text(o, mask, notes, names, false)),
                None => format!("FAULT: {cause}"),
            }
        }
        _ => state.to_string(),
    }
}

/// A fault cause in the words the kernel's console uses.
fn fault_text(insp: &Inspector, f: &Value, names: &[String]) -> String {
    let Some((variant, fields)) = f.variant() else { return f.to_string() };
    let get = |n: &str| fields.iter().find(|(x, _)| x == n).map(|(_, v)| v);
    // Tuple variants (`FromServer(TaskId, ReplyFaultReason)`) by position.
    let nth = |i: usize| fields.get(i).map(|(_, v)| v);
    let address = |label: String| match get("address").map(|a| a.as_option().unwrap_or(Some(a))) {
        Some(Some(a)) => format!("{label} at {:#010x}", a.as_u64().unwrap_or(0)),
        _ => format!("{label} (address unknown)"),
    };
    let from_kernel = |label: String| match get("source").and_then(|s| s.variant()) {
        Some(("Kernel", _)) => format!("{label} (in a syscall)"),
        _ => label,
    };
    match variant {
        "MemoryAccess" => {
            let kind = get("kind").map(|k| k.to_string()).unwrap_or_else(|| "MemoryAccess".into());
            from_kernel(address(kind))
        }
        "BusError" => from_kernel(address("bus error".into())),
        "StackOverflow" => address("stack overflow".into()),
        "DivideByZero" => "divide by zero".into(),
        "IllegalText" => "executed non-executable memory".into(),
        "IllegalInstruction" => match get("ufsr").and_then(|u| u.as_u64()) {
            Some(u) => format!("illegal instruction (UFSR {u:#06x})"),
            None => "illegal instruction".into(),
        },
        "InvalidOperation" => match nth(0).and_then(|c| c.as_u64()) {
            Some(c) => format!("invalid operation (code {c:#x})"),
            None => "invalid operation".into(),
        },
        "SyscallUsage" => format!("syscall misuse: {}", nth(0).map(|v| v.to_string()).unwrap_or_default()),
        "Panic" => "panic".into(),
        "Injected" => format!("injected by {}", nth(0).map(|t| task_name(t, names)).unwrap_or_else(|| "?".into())),
        "FromServer" => {
            let server = get("server").or_else(|| nth(0)).map(|s| task_name(s, names)).unwrap_or_else(|| "?".into());
            let reason = get("reason").or_else(|| nth(1));
            let why = match reason {
                Some(r) if r.variant().is_some() => r.to_string(),
                Some(r) => {
                    let code = r.as_u64();
                    code.and_then(|c| insp.enumerator(0, "ReplyFaultReason", c))
                        .or_else(|| code.map(|c| format!("reason {c}")))
                        .unwrap_or_else(|| r.to_string())
                }
                None => String::new(),
            };
            format!("refused by {server}: {why}")
        }
        _ => f.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_in_either_shape() {
        assert_eq!(ticks_value(&Value::Unsigned(105_186)).unwrap(), 105_186);
        let halves = Value::Array(vec![Value::Unsigned(7), Value::Unsigned(1)]);
        assert_eq!(ticks_value(&halves).unwrap(), (1 << 32) | 7);
        assert!(ticks_value(&Value::Str("x".into())).is_err());
    }

    #[test]
    fn kernel_task_id_in_either_encoding() {
        let names = vec!["a".to_string()];
        assert_eq!(task_name(&Value::Unsigned(0x3FF), &names), "kernel");
        assert_eq!(task_name(&Value::Unsigned(0xFFFF), &names), "kernel");
        assert_eq!(task_name(&Value::Unsigned(0x400), &names), "a");
    }
}
