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
    let app = super::app_table(&insp.archive.app_toml)?;
    let names = insp.archive.task_names();
    let mut text = String::new();
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
        }));
    }
    Ok(Report { text, json: json!({ "tasks": rows }) })
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
    match variant {
        "MemoryAccess" => {
            let kind = get("kind").map(|k| k.to_string()).unwrap_or_else(|| "MemoryAccess".into());
            match get("address").and_then(|a| a.as_option()) {
                Some(Some(a)) => format!("{kind} at {:#010x}", a.as_u64().unwrap_or(0)),
                _ => format!("{kind} (address unknown)"),
            }
        }
        "IllegalInstruction" => match get("ufsr").and_then(|u| u.as_u64()) {
            Some(u) => format!("illegal instruction (UFSR {u:#06x})"),
            None => "illegal instruction".into(),
        },
        "SyscallUsage" => format!("syscall misuse: {}", fields.first().map(|(_, v)| v.to_string()).unwrap_or_default()),
        "Panic" => "panic".into(),
        "FromServer" => {
            let server = get("server").map(|s| task_name(s, names)).unwrap_or_else(|| "?".into());
            let reason = get("reason").and_then(|r| r.as_u64());
            let why = reason
                .and_then(|r| insp.enumerator(0, "ReplyFaultReason", r))
                .or_else(|| reason.map(|r| format!("reason {r}")))
                .unwrap_or_default();
            format!("refused by {server}: {why}")
        }
        _ => f.to_string(),
    }
}
