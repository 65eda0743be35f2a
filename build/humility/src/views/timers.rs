//! `timers`: the timer server's state: jiffies and HZ, the tick device and
//! its mode, every allocated timer with its owner and expiry relative to
//! now, wheel occupancy per level, and the tick hook chain with its
//! grabber.
//!
//! Why: timers are the system's notion of time; "why did my timeout not
//! fire" is answered by looking at the wheel, not by printing.
//!
//! What it reads, all by DWARF field name (task/timer/src/main.rs documents
//! them for inspectors): the static `TIMER_SERVER` (an `AtomicPtr` to the
//! live `Server`, found in whichever task defines it); in `Server`,
//! `path.core` (a reference to `TimerCore { hz, jiffies, wheel, hooks }`;
//! `core` in images before the tick path became `timer-tick`) and
//! `tick_dev` (`clock` before; `dev`, `info { name, rating, features }`,
//! `mode`). In the wheel:
//! `timer_jiffies`, `heads` (list sentinels, class-major: normal then
//! deferrable) and `pool { nodes: [Node { link { next, prev }, expires,
//! period, owner, meta }] }`; list indices below `heads.len()` are heads,
//! the others nodes. In the hook chain: `slots [Slot { next, live,
//! run_always, kind, token }]` (a client hook's token holds the `bit` it
//! posts), `head`, `grabber`. The values behind the names (the `meta`
//! bits, tv1..tv5's sizes, the chain's "none") come from
//! `timer_core::layout`, the crate that lays them out.
//!
//! Fails alone, naming what is missing: no task with `TIMER_SERVER`, the
//! server not started yet (null pointer), or a field that is not there.

use super::Report;
use crate::inspect::{Inspector, ProgramIndex};
use crate::value::Value;
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::fmt::Write;

use timer_core::layout::LEVELS;

/// `meta` bit of an allocated pool node.
const META_ALLOCATED: u64 = timer_core::layout::META_ALLOCATED as u64;
/// `meta` bit of a deferrable timer.
const META_DEFERRABLE: u64 = timer_core::layout::META_DEFERRABLE as u64;
/// "No hook" in the hook chain's u8 links.
const HOOK_NIL: u64 = timer_core::layout::HOOK_NIL as u64;
/// Bits of a TaskId holding the task index (`abi::TaskId::INDEX_BITS`).
const INDEX_BITS: u32 = 10;

/// Field `path` (dotted) of `v`, or an error naming the missing step.
fn get<'a>(v: &'a Value, path: &str) -> Result<&'a Value> {
    let mut cur = v.unwrapped();
    for step in path.split('.') {
        cur = cur
            .field(step)
            .with_context(|| format!("`{}` has no field `{step}` (reading `{path}`)", cur.type_name().unwrap_or("value")))?
            .unwrapped();
    }
    Ok(cur)
}

fn num(v: &Value, path: &str) -> Result<u64> {
    get(v, path)?.as_u64().with_context(|| format!("`{path}` is not a number"))
}

fn array<'a>(v: &'a Value, path: &str) -> Result<&'a [Value]> {
    match get(v, path)? {
        Value::Array(a) => Ok(a),
        other => bail!("`{path}` is {}, not an array", other.type_name().unwrap_or("a scalar")),
    }
}

/// The first pointer found by descending single-field wrappers
/// (`AtomicPtr { p: UnsafeCell { value: *mut T } }`).
fn find_pointer(v: &Value) -> Option<&Value> {
    match v {
        Value::Pointer { .. } => Some(v),
        Value::Struct { fields, .. } if fields.len() == 1 => find_pointer(&fields[0].1),
        _ => None,
    }
}

fn task_name(insp: &Inspector, raw: u64) -> String {
    let i = (raw & ((1 << INDEX_BITS) - 1)) as usize;
    insp.archive.tasks.get(i).map(|t| t.name.clone()).unwrap_or_else(|| format!("#{raw}"))
}

/// Produces the report.
pub fn timers(insp: &mut Inspector) -> Result<Report> {
    // Which task is the timer server: the one that defines TIMER_SERVER.
    let mut found: Option<ProgramIndex> = None;
    for p in 1..=insp.task_count() {
        if insp.program(p).map(|prog| prog.find_variables("TIMER_SERVER").next().is_some()).unwrap_or(false) {
            found = Some(p);
            break;
        }
    }
    let Some(p) = found else {
        bail!(
            "no timer server in this image: no task defines the static `TIMER_SERVER` (tasks: {})",
            insp.archive.task_names().join(", ")
        );
    };
    let who = insp.program_name(p).to_string();
    let (var, ptr) = insp.read_named(p, "TIMER_SERVER")?;
    let ptr = find_pointer(&ptr).with_context(|| format!("{who} `{}` holds no pointer ({ptr})", var.path))?.clone();
    if ptr.as_u64() == Some(0) {
        bail!("the timer server ({who}) has not started yet: `{}` is null", var.path);
    }
    let server = insp.deref(p, &ptr).with_context(|| format!("reading the timer server's state through `{}`", var.path))?;
    let core_ptr = get(&server, "path.core").or_else(|_| get(&server, "core"))?.clone();
    let core = match core_ptr {
        Value::Pointer { .. } => insp.deref(p, &core_ptr).context("reading the timer core through `Server.path.core`")?,
        other => other,
    };

    let jiffies = num(&core, "jiffies")?;
    let hz = num(&core, "hz")?;
    let timer_jiffies = num(&core, "wheel.timer_jiffies")?;
    let mut text = String::new();
    writeln!(text, "timer server: task {who}").unwrap();
    writeln!(text, "jiffies      {jiffies} (u32 {:#010x}), HZ {hz}, wheel at {timer_jiffies}", jiffies as u32).unwrap();

    // The tick device.
    let clock = get(&server, "tick_dev").or_else(|_| get(&server, "clock")).ok();
    let mut device_json = serde_json::Value::Null;
    if let Some(clock) = clock {
        let dev = num(clock, "dev").unwrap_or(u64::MAX);
        let name = match get(clock, "info.name") {
            Ok(Value::Array(b)) => b.iter().filter_map(|x| x.as_u64()).take_while(|c| *c != 0).map(|c| c as u8 as char).collect(),
            _ => "?".to_string(),
        };
        let rating = num(clock, "info.rating").ok();
        let mode = get(clock, "mode").map(|m| m.to_string()).unwrap_or_else(|_| "?".into());
        writeln!(text, "device       {name} (#{dev}), rating {}, mode {mode}", rating.map(|r| r.to_string()).unwrap_or("?".into())).unwrap();
        device_json = json!({ "index": dev, "name": name, "rating": rating, "mode": mode });
    } else {
        writeln!(text, "device       ? (`Server` has no field `tick_dev`)").unwrap();
    }

    // Timers.
    let nodes = array(&core, "wheel.pool.nodes")?;
    let heads = array(&core, "wheel.heads")?;
    let nheads = heads.len();
    // NIL is the all-ones value of the link index type (u16 or u32).
    let link_nil = |v: u64| v == u16::MAX as u64 || v == u32::MAX as u64;
    // Walk every head's list: which head (slot) each node hangs on.
    let mut node_slot = vec![None; nodes.len()];
    let mut per_slot = vec![0usize; nheads];
    for (h, head) in heads.iter().enumerate() {
        let mut x = num(head, "next")?;
        let mut steps = 0;
        while x as usize != h && !link_nil(x) && steps <= nodes.len() {
            let i = (x as usize).checked_sub(nheads).with_context(|| format!("list of head {h} reaches head {x}"))?;
            let n = nodes.get(i).with_context(|| format!("list of head {h} reaches node {i}, beyond the pool"))?;
            node_slot[i] = Some(h);
            per_slot[h] += 1;
            x = num(n, "link.next")?;
            steps += 1;
        }
    }
    let slots_per_class = nheads / 2;
    let level_of = |slot: usize| -> (usize, usize) {
        let mut s = slot % slots_per_class.max(1);
        for (l, (_, n)) in LEVELS.iter().enumerate() {
            if s < *n {
                return (l, s);
            }
            s -= n;
        }
        (LEVELS.len(), s)
    };
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let meta = num(n, "meta")?;
        if meta & META_ALLOCATED == 0 {
            continue;
        }
        let owner = num(n, "owner")?;
        let period = num(n, "period")?;
        let low = num(n, "expires")?;
        let pending = node_slot[i].is_some();
        // `expires` keeps the low 32 bits; a pending expiry lies within
        // 2^32 jiffies after timer_jiffies.
        let full = timer_jiffies.wrapping_add((low as u32).wrapping_sub(timer_jiffies as u32) as u64);
        let rel = full as i128 - jiffies as i128;
        let place = node_slot[i].map(|h| {
            let (l, s) = level_of(h);
            format!("{}[{s}]{}", LEVELS.get(l).map(|x| x.0).unwrap_or("?"), if h >= slots_per_class { " deferrable" } else { "" })
        });
        lines.push(format!(
            "{:>4} {:<12} {:>12} {:>7} {:>6} {}",
            i,
            task_name(insp, owner),
            if pending { full.to_string() } else { "-".into() },
            if pending { format!("{rel:+}") } else { "-".into() },
            if period == 0 { "-".to_string() } else { period.to_string() },
            place.clone().unwrap_or_else(|| "not pending".into())
        ));
        rows.push(json!({
            "slot": i,
            "owner": task_name(insp, owner),
            "owner_id": owner,
            "pending": pending,
            "expires": if pending { Some(full) } else { None },
            "relative": if pending { Some(rel as i64) } else { None },
            "period": period,
            "deferrable": meta & META_DEFERRABLE != 0,
            "wheel": place,
        }));
    }
    writeln!(text, "timers       {} allocated of {}", rows.len(), nodes.len()).unwrap();
    if !lines.is_empty() {
        writeln!(text, "{:>4} {:<12} {:>12} {:>7} {:>6} WHEEL", "SLOT", "OWNER", "EXPIRES", "IN", "PERIOD").unwrap();
        for l in lines {
            writeln!(text, "{l}").unwrap();
        }
    }

    // Wheel occupancy: non-empty slots and timers per level.
    let mut occ = Vec::new();
    let mut occ_text = Vec::new();
    for (l, (name, size)) in LEVELS.iter().enumerate() {
        let mut used = 0;
        let mut count = 0;
        for (h, c) in per_slot.iter().enumerate() {
            if *c > 0 && level_of(h).0 == l {
                used += 1;
                count += c;
            }
        }
        occ_text.push(format!("{name} {used}/{size} ({count})"));
        occ.push(json!({ "level": name, "slots": size, "occupied": used, "timers": count }));
    }
    writeln!(text, "wheel        {}  [occupied slots (timers)]", occ_text.join(", ")).unwrap();

    // Hooks, in chain order.
    let slots = array(&core, "hooks.slots")?;
    let head = num(&core, "hooks.head")?;
    let grabber = num(&core, "hooks.grabber")?;
    let mut hooks = Vec::new();
    let mut hook_lines = Vec::new();
    let mut x = head;
    let mut steps = 0;
    while x != HOOK_NIL && steps <= slots.len() {
        let s = slots.get(x as usize).with_context(|| format!("hook chain reaches slot {x}, beyond the table"))?;
        let kind = get(s, "kind")?;
        let run_always = get(s, "run_always").ok().and_then(|v| v.as_u64()).unwrap_or(0) != 0;
        let what = match kind.variant() {
            Some(("Client", f)) => {
                let owner = f.first().and_then(|(_, v)| v.as_u64()).unwrap_or(0);
                let bit = num(s, "token.bit").ok();
                format!("client {}{}", task_name(insp, owner), bit.map(|b| format!(" (bit {b})")).unwrap_or_default())
            }
            Some((v, _)) => v.to_string(),
            None => kind.to_string(),
        };
        let flags = [(x == grabber).then_some("grabber"), run_always.then_some("run_always")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
        hook_lines.push(format!("{:>4} {what}{}", x, if flags.is_empty() { String::new() } else { format!(" [{flags}]") }));
        hooks.push(json!({ "slot": x, "hook": what, "run_always": run_always, "grabber": x == grabber }));
        x = num(s, "next")?;
        steps += 1;
    }
    writeln!(
        text,
        "hooks        {} in chain order, grabber: {}",
        hooks.len(),
        if grabber == HOOK_NIL { "none".to_string() } else { format!("slot {grabber}") }
    )
    .unwrap();
    for l in hook_lines {
        writeln!(text, "{l}").unwrap();
    }
    let json = json!({
        "task": who,
        "jiffies": jiffies,
        "hz": hz,
        "timer_jiffies": timer_jiffies,
        "device": device_json,
        "timers": rows,
        "wheel": occ,
        "hooks": hooks,
        "grabber": if grabber == HOOK_NIL { None } else { Some(grabber) },
    });
    Ok(Report { text, json })
}
