//! `ringbuf [TASK]`: the trace rings of every task (or one), oldest entry
//! first.
//!
//! Why: rings are the always-on, printf-free trace of what a task did last;
//! reading them from a live system or a dump is the main debugging tool.
//!
//! What it reads (HUMILITY-COMPAT level 2): statics named `__RINGBUF`, or
//! ending in `RINGBUF`, or whose type name contains `Ringbuf`; through
//! `StaticCell { cell: UnsafeCell { value } }` to
//! `Ringbuf { last: Option<usize>, buffer: [RingbufEntry; N] }` with
//! `RingbufEntry { line, generation, payload, count }`. Entries print from
//! `last + 1` (the oldest) around to `last`, skipping `generation == 0`
//! (never written). Each ring decodes alone: a ring that fails shows its
//! error and the others still print.

use super::Report;
use crate::inspect::Inspector;
use crate::value::{base_name, Value};
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::fmt::Write;

/// One decoded entry.
pub struct Entry {
    pub index: usize,
    pub line: u64,
    pub generation: u64,
    pub count: u64,
    pub payload: Value,
}

/// The rings' entries oldest first, from a decoded `Ringbuf` value.
pub fn entries(ring: &Value) -> Result<Vec<Entry>> {
    let ring = ring.unwrapped();
    let last = ring.field("last").with_context(|| format!("{} has no field `last`", ring.type_name().unwrap_or("ring")))?;
    let Some(Value::Array(buffer)) = ring.field("buffer") else {
        bail!("{} has no array field `buffer`", ring.type_name().unwrap_or("ring"));
    };
    let n = buffer.len();
    let start = match last.as_option() {
        Some(Some(l)) => l.as_u64().context("`last` is not a number")? as usize + 1,
        Some(None) => 0,
        None => bail!("`last` is {last}, not an Option"),
    };
    let mut out = Vec::new();
    for k in 0..n {
        let index = (start + k) % n;
        let e = &buffer[index];
        let num = |f: &str| e.field(f).and_then(|v| v.as_u64()).with_context(|| format!("ring entry has no number field `{f}`"));
        let generation = num("generation")?;
        if generation == 0 {
            continue;
        }
        let payload = e.field("payload").context("ring entry has no field `payload`")?.clone();
        out.push(Entry { index, line: num("line")?, generation, count: num("count")?, payload });
    }
    Ok(out)
}

/// Produces the report for `task` (all tasks when `None`).
pub fn ringbuf(insp: &mut Inspector, task: Option<&str>) -> Result<Report> {
    let programs: Vec<usize> = match task {
        Some("kernel") => vec![0],
        Some(t) => vec![1 + insp.archive.task_index(t)?],
        None => (0..=insp.task_count()).collect(),
    };
    let mut text = String::new();
    let mut rings = Vec::new();
    for p in programs {
        let prog = match insp.program(p) {
            Ok(prog) => prog,
            Err(e) => {
                writeln!(text, "{}: error: {e:#}", insp.program_name(p)).unwrap();
                rings.push(json!({ "task": insp.program_name(p), "error": format!("{e:#}") }));
                continue;
            }
        };
        let vars: Vec<_> = prog
            .variables
            .iter()
            .filter(|v| v.name.ends_with("RINGBUF") || base_name(&prog.type_name(v.ty)).contains("Ringbuf") || prog.type_name(v.ty).contains("Ringbuf<"))
            .cloned()
            .collect();
        for v in vars {
            let who = insp.program_name(p).to_string();
            let decoded = insp.read_variable(p, &v).and_then(|val| {
                let val = insp.resolve_strs(val);
                let slots = match val.unwrapped().field("buffer") {
                    Some(Value::Array(b)) => b.len(),
                    _ => 0,
                };
                Ok((entries(&val)?, slots))
            });
            match decoded {
                Ok((es, slots)) => {
                    writeln!(text, "ringbuf {who} ({}, {slots} slots, {} written)", v.path, es.len()).unwrap();
                    writeln!(text, "{:>4} {:>5} {:>5} {:>5} PAYLOAD", "NDX", "LINE", "GEN", "COUNT").unwrap();
                    for e in &es {
                        writeln!(text, "{:>4} {:>5} {:>5} {:>5} {}", e.index, e.line, e.generation, e.count, e.payload).unwrap();
                    }
                    let list: Vec<_> = es
                        .iter()
                        .map(|e| json!({ "index": e.index, "line": e.line, "generation": e.generation, "count": e.count, "payload": e.payload.to_json(), "text": e.payload.to_string() }))
                        .collect();
                    rings.push(json!({ "task": who, "variable": v.path, "slots": slots, "entries": list }));
                }
                Err(e) => {
                    writeln!(text, "ringbuf {who} ({}): error: {e:#}", v.path).unwrap();
                    rings.push(json!({ "task": who, "variable": v.path, "error": format!("{e:#}") }));
                }
            }
        }
    }
    if rings.is_empty() {
        match task {
            Some(t) => bail!("task `{t}` has no ring buffer (no static named *RINGBUF or of a Ringbuf type)"),
            None => bail!("no task in this image has a ring buffer"),
        }
    }
    Ok(Report { text, json: json!({ "rings": rings }) })
}
