//! The humility conformance step of `cargo xtask test`: real humility on a
//! fresh build archive of a test image, its facts compared with our
//! inspector's.
//!
//! Why: the README promises that Oxide's humility loads Escapement's
//! archives. Only running the real tool keeps that promise honest; our own
//! golden tests cannot notice a field humility decodes by another name.
//!
//! Which humility: `$HUMILITY` if set, else `../shared/tools/humility`
//! beside the repository. When neither exists the step says so in one line
//! and is skipped (it does not fail); CI has the shared folder.
//!
//! What it checks, on `build/apps/test-humility.toml`'s archive alone:
//! - `manifest`: archive version, name, board, target, image id, the task
//!   names in task-id order and each task's features;
//! - `readvar -l`: every static humility lists is one of ours, at the same
//!   address with the same size;
//! - `readvar NAME` for every static humility lists in flash (readable from
//!   the archive): the numbers it prints, in order, are the numbers in our
//!   decoded value (so `HUBRIS_IMAGE_ID` is the image id, the task and
//!   region tables hold the same entries);
//! - `map`: every task region humility shows is ours, and no other. While
//!   the kernel's `RegionDesc.attributes` is a bare integer humility cannot
//!   run `map` (it wants a bitflags struct, HUMILITY-COMPAT row 3); the step
//!   then says so and checks that this is the reason;
//! - `extract -l` lists every entry of the zip, and `doc` runs.
//!
//! Then on the golden test's dump of the same image
//! (`target/escapement/test-humility/golden/golden.core`, made by the
//! `humility` system test just before; made here if it is missing or holds
//! another build), real humility's views against ours on that dump:
//! - `tasks`: system time; per task its name, generation, priority and
//!   state, the state spelled as humility spells our task table's
//!   `TaskState` (so the RUNNING task, the faulted ones with their fault
//!   and the peer of each send, reply and closed receive all agree), and
//!   the notifications a receiving task waits for;
//! - `tasks -sl`: no "unwind failed"; each stack's innermost frame is where
//!   our task table says the task stopped (the pc stacked at its saved PSP;
//!   for the running task the CPU's pc and sp; in a syscall stub, its CFA
//!   exactly 32 bytes above, the stub's push), and each stack unwinds
//!   into the task's `main` (the ELF symbol) with a `file:line` on every
//!   frame on the way but the leaf (a syscall stub, assembly);
//! - `ringbuf`: the same rings (task, static), and each ring entry for
//!   entry: slot, line, generation, count, and the payload (compared by
//!   its words and numbers, whatever the radix);
//! - `readvar -l`, and `readvar NAME` of every static humility lists (RAM
//!   ones read from the dump): as for the archive;
//! - `registers`: every register in the dump's note, same value;
//! - `stackmargin`: per task the stack base, size, deepest use and margin
//!   we find by scanning the same stack for the 0xBADDCAFE paint, and a
//!   margin above zero for every task;
//! - `map`: as for the archive, read from the dump.

use crate::dist;
use anyhow::{bail, ensure, Context, Result};
use escapement_humility::dwarf::Type;
use escapement_humility::humility_text::{self, access_letters};
use escapement_humility::target::dump::DumpTarget;
use escapement_humility::target::{read_u32, ImageTarget, REGISTER_NAMES};
use escapement_humility::value::Value;
use escapement_humility::{Archive, Inspector};
use serde_json::Value as J;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The step's name (for `--only`).
pub const NAME: &str = "humility-conformance";

/// The image whose archive is checked.
const APP: &str = "build/apps/test-humility.toml";

/// Real humility: `$HUMILITY`, else the shared tools folder.
fn find_humility() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("HUMILITY") {
        return Some(PathBuf::from(h)).filter(|p| p.exists());
    }
    let shared = crate::root().join("../shared/tools/humility");
    shared.exists().then_some(shared)
}

/// Runs the step. `Ok(false)` if real humility was not found (skipped).
pub fn run() -> Result<bool> {
    let Some(humility) = find_humility() else {
        println!("humility conformance: real humility not found ($HUMILITY or ../shared/tools/humility); skipped");
        return Ok(false);
    };
    let image = dist::dist(&crate::root().join(APP))?;
    let h = Humility { bin: humility.clone(), flag: "-a", file: image.archive.clone() };
    let archive = Archive::open(&image.archive)?;
    let elf = archive.final_elf.clone().context("the archive has no img/final.elf")?;
    let mut insp = Inspector::new(archive, Box::new(ImageTarget::from_elf(&elf)?), false)?;
    let mut checked = Vec::new();
    check_manifest(&h, &insp).context("manifest")?;
    checked.push("manifest".to_string());
    let n = check_statics(&h, &mut insp).context("readvar")?;
    checked.push(format!("readvar -l and readvar of {n} statics in flash"));
    checked.push(check_map(&h, &mut insp).context("map")?);
    check_extract_and_doc(&h, &image.archive).context("extract/doc")?;
    checked.push("extract -l, doc".to_string());
    println!("humility conformance, archive ({}): {}", h.bin.display(), checked.join("; "));

    let (dump, mut insp) = fresh_dump(&image)?;
    let h = Humility { bin: humility, flag: "-d", file: dump.clone() };
    type Check = fn(&Humility, &mut Inspector) -> Result<String>;
    let checks: [(&str, Check); 7] = [
        ("tasks", check_tasks),
        ("tasks -sl", check_stacks),
        ("ringbuf", check_rings),
        ("readvar", |h, insp| check_statics(h, insp).map(|n| format!("readvar -l and readvar of {n} statics"))),
        ("registers", check_registers),
        ("stackmargin", check_stackmargin),
        ("map", check_map),
    ];
    let (mut checked, mut failures) = (Vec::new(), Vec::new());
    for (name, check) in checks {
        match check(&h, &mut insp) {
            Ok(what) => checked.push(what),
            Err(e) => failures.push(format!("{name}: {e:#}")),
        }
    }
    println!("humility conformance, dump {}: {}", dump.display(), checked.join("; "));
    if !failures.is_empty() {
        bail!("real humility and our inspector disagree on the dump in {} of {} views:\n{}", failures.len(), checks.len(), failures.join("\n"));
    }
    Ok(true)
}

/// The golden test's dump of `image`, with our inspector on it. Made (by
/// running the golden test) if it is missing or holds another build, as
/// when this step runs alone.
fn fresh_dump(image: &dist::Image) -> Result<(PathBuf, Inspector)> {
    let dump = dist::target_dir().join("escapement").join(&image.name).join("golden").join("golden.core");
    let open = || -> Result<Inspector> {
        let target = DumpTarget::open(&dump)?;
        Inspector::new(Archive::open(&image.archive)?, Box::new(target), true)
    };
    let insp = match open() {
        Ok(i) => i,
        Err(e) => {
            println!("humility conformance: no dump of this build at {} ({e:#}); making one with the golden test", dump.display());
            let made = crate::humility::golden_tests();
            open().with_context(|| format!("the golden test made no dump of this build ({:?})", made.err()))?
        }
    };
    Ok((dump, insp))
}

/// Real humility on an archive (`-a`) or a dump (`-d`).
struct Humility {
    bin: PathBuf,
    flag: &'static str,
    file: PathBuf,
}

impl Humility {
    /// Runs `humility -a ARCHIVE args...` (or `-d DUMP`): its stdout, or
    /// its stderr as the error.
    fn run(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(&self.bin)
            .arg(self.flag)
            .arg(&self.file)
            .args(args)
            .env("RUST_BACKTRACE", "0")
            .output()
            .with_context(|| format!("running {}", self.bin.display()))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let first = err.lines().filter(|l| !l.trim().is_empty()).take(4).collect::<Vec<_>>().join(" / ");
            bail!("humility {} failed: {first}", args.join(" "));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

fn check_manifest(h: &Humility, insp: &Inspector) -> Result<()> {
    let m = humility_text::manifest(&h.run(&["manifest"])?);
    let ours = escapement_humility::views::manifest::manifest(&insp.archive)?.json;
    let key = |k: &str| m.keys.get(k).map(String::as_str).unwrap_or("<missing>");
    let s = |v: &serde_json::Value| v.as_str().map(String::from).unwrap_or_else(|| v.to_string());
    ensure!(key("version") == format!("hubris build archive v{}", insp.archive.version), "version {:?}", key("version"));
    for k in ["name", "board", "target"] {
        ensure!(key(k) == s(&ours[k]), "{k}: humility says {:?}, ours {:?}", key(k), ours[k]);
    }
    ensure!(m.image_id() == Some(insp.archive.image_id), "image id: humility {:?}, ours {:#018x}", key("image id"), insp.archive.image_id);
    let names = insp.archive.task_names();
    ensure!(m.task_names() == names, "tasks in id order: humility {:?}, ours {names:?}", m.task_names());
    for (obj, name, features) in &m.tasks {
        let t = &ours["tasks"][obj - 1];
        let f: Vec<String> = t["features"].as_array().into_iter().flatten().map(s).collect();
        ensure!(&f == features, "task {name} features: humility {features:?}, ours {f:?}");
    }
    Ok(())
}

/// `readvar -l`, then `readvar NAME` of each static in flash. Returns how
/// many statics were read.
fn check_statics(h: &Humility, insp: &mut Inspector) -> Result<usize> {
    let theirs = humility_text::readvar_list(&h.run(&["readvar", "-l"])?);
    ensure!(!theirs.is_empty(), "humility lists no statics");
    let ours = escapement_humility::views::readvar::list(insp, None)?.json;
    let ours = ours["variables"].as_array().cloned().unwrap_or_default();
    let mut read = 0;
    for st in &theirs {
        let suffix = format!("::{}", st.name);
        let mine = ours.iter().find(|v| {
            let p = v["path"].as_str().unwrap_or("");
            v["task"] == st.module.as_str() && (p == st.name || p.ends_with(&suffix)) && v["address"].as_u64() == Some(st.addr)
        });
        let Some(mine) = mine else { bail!("humility lists {} {} at {:#010x}; we have no such static there", st.module, st.name, st.addr) };
        ensure!(mine["size"].as_u64() == Some(st.size), "{} {}: humility says {} bytes, ours {}", st.module, st.name, st.size, mine["size"]);
        // Statics in flash can be read from the archive alone.
        let mut probe = vec![0u8; st.size as usize];
        if st.size == 0 || insp.target.read(st.addr, &mut probe).is_err() {
            continue;
        }
        let p = if st.module == "kernel" { 0 } else { 1 + insp.archive.task_index(&st.module)? };
        let var = insp
            .program(p)?
            .variables
            .iter()
            .find(|v| v.addr == st.addr && (v.path == st.name || v.path.ends_with(&suffix)))
            .cloned()
            .context("static vanished")?;
        let value = insp.read_variable(p, &var)?;
        let mut mine = Vec::new();
        numbers(&value, &mut mine);
        let text = h.run(&["readvar", &st.name])?;
        let theirs_numbers = printed_numbers(&text);
        ensure!(
            matches(&theirs_numbers, &mine),
            "{} {}: humility prints the numbers {theirs_numbers:x?}, our value holds {mine:x?}\n  humility: {}\n  ours: {value}",
            st.module,
            st.name,
            text.trim()
        );
        if st.name == "HUBRIS_IMAGE_ID" {
            ensure!(humility_text::readvar_number(&text).map(|(_, v)| v) == Some(insp.archive.image_id), "HUBRIS_IMAGE_ID: {text}");
        }
        read += 1;
    }
    ensure!(read > 0, "no static humility lists is in flash");
    Ok(read)
}

/// The numbers in a decoded value, in field order: integers and addresses;
/// a negative integer is `None` (humility prints it in two's complement of
/// its own width); a boolean is 0 or 1 (humility prints `true`/`false`).
/// Characters and enumerator names are not compared.
fn numbers(v: &Value, out: &mut Vec<Option<u64>>) {
    match v {
        Value::Unsigned(n) => out.push(Some(*n)),
        Value::Signed(n) => out.push((*n >= 0).then_some(*n as u64)),
        Value::Pointer { addr, .. } => out.push(Some(*addr)),
        Value::Bool(b) => out.push(Some(*b as u64)),
        Value::Struct { fields, .. } | Value::Enum { fields, .. } => fields.iter().for_each(|(_, f)| numbers(f, out)),
        Value::Array(items) => items.iter().for_each(|i| numbers(i, out)),
        _ => {}
    }
}

/// The numbers humility prints after `NAME (0xADDR) =`, in order (not
/// those in type names: the `10` of `MaybeUninit<[Task; 10]>`), with
/// `true` and `false` as 1 and 0.
fn printed_numbers(text: &str) -> Vec<u64> {
    let after = text.split_once(") = ").map(|(_, v)| v).unwrap_or("");
    let mut depth = 0usize;
    let after: String = after
        .chars()
        .filter(|c| {
            match c {
                '<' => depth += 1,
                '>' if depth > 0 => {
                    depth -= 1;
                    return false;
                }
                _ => {}
            }
            depth == 0
        })
        .collect();
    after
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter_map(|t| match t.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).ok(),
            None if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => t.parse().ok(),
            None if t == "true" => Some(1),
            None if t == "false" => Some(0),
            None => None,
        })
        .collect()
}

fn matches(theirs: &[u64], ours: &[Option<u64>]) -> bool {
    theirs.len() == ours.len() && theirs.iter().zip(ours).all(|(t, o)| o.is_none_or(|o| o == *t))
}

/// `map`: the same task regions as ours, or the known refusal while the
/// kernel's `RegionDesc.attributes` is a bare integer.
fn check_map(h: &Humility, insp: &mut Inspector) -> Result<String> {
    let theirs = match h.run(&["map"]) {
        Ok(t) => t,
        Err(e) => {
            let bare = attributes_is_bare_integer(insp)?;
            if bare && format!("{e:#}").contains("attributes") {
                return Ok("map refused as expected: kernel RegionDesc.attributes is a bare integer, humility wants a bitflags struct (HUMILITY-COMPAT row 3)".into());
            }
            return Err(e);
        }
    };
    let theirs: std::collections::BTreeSet<_> = humility_text::map(&theirs).into_iter().collect();
    let ours = escapement_humility::views::map::map(insp)?.json;
    let ours: std::collections::BTreeSet<_> = ours["regions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let base = r["base"].as_u64().unwrap_or(0);
            let task = r["task"].as_str().unwrap_or("").to_string();
            (r["descriptor"].as_u64().unwrap_or(0), base, base + r["size"].as_u64().unwrap_or(0), access_letters(r["attributes"].as_u64().unwrap_or(0)), r["id"].as_u64().unwrap_or(0), task)
        })
        .collect();
    ensure!(!theirs.is_empty(), "humility's map shows no task regions");
    ensure!(theirs == ours, "task regions differ:\n  humility only: {:x?}\n  ours only: {:x?}", theirs.difference(&ours).collect::<Vec<_>>(), ours.difference(&theirs).collect::<Vec<_>>());
    Ok(format!("map ({} task regions)", ours.len()))
}

/// True if the kernel's `RegionDesc.attributes` is a plain integer type.
fn attributes_is_bare_integer(insp: &Inspector) -> Result<bool> {
    let k = insp.kernel()?;
    let desc = k.types.values().find_map(|t| match t {
        Type::Struct(s) if s.name == "RegionDesc" => Some(s),
        _ => None,
    });
    let desc = desc.context("the kernel has no RegionDesc type")?;
    let attr = desc.members.iter().find(|m| m.name == "attributes").context("RegionDesc has no `attributes`")?;
    Ok(matches!(attr.ty.and_then(|t| k.resolve(t)), Some(Type::Base { .. })))
}

fn check_extract_and_doc(h: &Humility, archive: &Path) -> Result<()> {
    let listed = h.run(&["extract", "-l"])?;
    let mut z = zip::ZipArchive::new(std::fs::File::open(archive)?)?;
    for i in 0..z.len() {
        let name = z.by_index_raw(i)?.name().to_string();
        ensure!(listed.lines().any(|l| l.split_whitespace().last() == Some(name.as_str())), "extract -l does not list {name}");
    }
    let app = h.run(&["extract", "app.toml"])?;
    ensure!(app.contains("name = \"test-humility\""), "extract app.toml gave something else");
    ensure!(!h.run(&["doc"])?.trim().is_empty(), "doc printed nothing");
    Ok(())
}

/// A `TaskId` as humility prints it: `name/genN`, or `unknown#I/genN`
/// for an index that is no task. humility takes the index from the low 10
/// bits and the generation from the top 6.
fn humility_task_id(raw: u64, names: &[String]) -> String {
    let (index, generation) = ((raw & 0x3FF) as usize, raw >> 10);
    match names.get(index) {
        Some(n) => format!("{n}/gen{generation}"),
        None => format!("unknown#{index}/gen{generation}"),
    }
}

/// humility's `TaskId::KERNEL`.
const HUMILITY_KERNEL_ID: u64 = 0xFFFF;

/// A `SchedState` (our view's JSON of it) as humility 0.12.17 prints it,
/// with `notif` the names of the notifications a receiving task waits for.
fn humility_sched(s: &J, running: bool, notif: &[String], names: &[String]) -> String {
    let (variant, arg) = match s {
        J::String(v) => (v.as_str(), &J::Null),
        J::Object(m) if m.len() == 1 => {
            let (v, a) = m.iter().next().unwrap();
            (v.as_str(), a)
        }
        other => return format!("<state {other}>"),
    };
    let id = |a: &J| a.as_u64().map(|t| humility_task_id(t, names)).unwrap_or_else(|| format!("<task {a}>"));
    match variant {
        "Stopped" => "not started".into(),
        "Runnable" if running => "RUNNING".into(),
        "Runnable" => "ready".into(),
        "InSend" if arg.as_u64() == Some(HUMILITY_KERNEL_ID) => "HALT: send to kernel".into(),
        "InSend" => format!("wait: send to {}", id(arg)),
        "InReply" => format!("wait: reply from {}", id(arg)),
        "InRecv" => {
            let kernel = arg.as_u64() == Some(HUMILITY_KERNEL_ID);
            let mut t = match arg {
                J::Null => "recv".to_string(),
                _ if kernel => String::new(),
                a => format!("recv({} only)", id(a)),
            };
            if !notif.is_empty() {
                t.push_str(if kernel { "notif:" } else { ", notif:" });
                notif.iter().for_each(|n| t.push_str(&format!(" {n}")));
            } else if kernel {
                t.push_str("(DEAD)");
            }
            t
        }
        other => format!("<{other}>"),
    }
}

/// A `FaultInfo` as humility prints it; `None` for the variants whose
/// wording depends on more than the fault (a panic's message) or that
/// humility prints with Rust's `Debug` (`FromServer`).
fn humility_fault(f: &J, names: &[String]) -> Option<String> {
    let (variant, arg) = match f {
        J::String(v) => (v.as_str(), &J::Null),
        J::Object(m) if m.len() == 1 => {
            let (v, a) = m.iter().next().unwrap();
            (v.as_str(), a)
        }
        _ => return None,
    };
    let access = |what: &str| {
        let addr = match arg["address"].as_u64() {
            Some(a) => format!("precise: {a:#x}"),
            None => "imprecise".into(),
        };
        let source = if arg["source"] == "Kernel" { "in syscall" } else { "in task code" };
        format!("{what} ({addr}) {source}")
    };
    Some(match variant {
        "MemoryAccess" => access("mem fault"),
        "BusError" => access("bus fault"),
        "StackOverflow" => format!("stack overflow; sp={:#x}", arg["address"].as_u64()?),
        "DivideByZero" => "divide by zero".into(),
        "IllegalText" => "jump to non-executable mem".into(),
        "IllegalInstruction" => "illegal instruction".into(),
        "InvalidOperation" => format!("general fault, cfsr={:#x}", arg.as_u64()?),
        "Injected" => format!("killed by {}", humility_task_id(arg.as_u64()?, names)),
        "SyscallUsage" => format!(
            "in syscall: {}",
            match arg.as_str()? {
                "BadSyscallNumber" => "undefined syscall number",
                "InvalidSlice" => "sent malformed slice to kernel",
                "TaskOutOfRange" => "used bogus task index",
                "IllegalTask" => "illegal task operation",
                "LeaseOutOfRange" => "bad caller lease index",
                "OffsetOutOfRange" => "bad caller lease offset",
                "NoIrq" => "referred to undefined interrupt",
                "BadKernelMessage" => "sent nonsense IPC to kernel",
                _ => return None,
            }
        ),
        _ => return None,
    })
}

/// Whether humility's printed state `theirs` says what our task's JSON
/// says. humility's notes on notification names (`tick0(irq28)`,
/// `timer(T+74)`) are not compared.
fn state_matches(theirs: &str, task: &J, names: &[String]) -> Result<(), String> {
    let notif: Vec<String> = task["waiting_for"].as_array().into_iter().flatten().filter_map(|n| n.as_str().map(String::from)).collect();
    let running = task["running"] == true;
    let raw = &task["raw_state"];
    let theirs = strip_notes(theirs);
    let ok = if let Some(f) = raw.get("Faulted") {
        let was = humility_sched(&f["original_state"], false, &notif, names);
        match humility_fault(&f["fault"], names) {
            Some(fault) => theirs == format!("FAULT: {fault} (was: {was})"),
            None => theirs.starts_with("FAULT: ") && theirs.ends_with(&format!(" (was: {was})")),
        }
    } else if let Some(s) = raw.get("Healthy") {
        theirs == humility_sched(s, running, &notif, names)
    } else {
        false
    };
    if ok {
        Ok(())
    } else {
        Err(format!("humility says {theirs:?}; our task table holds {raw} (running: {running}, waiting for {notif:?})"))
    }
}

/// `theirs` without the parenthesised notes humility adds after
/// notification names.
fn strip_notes(theirs: &str) -> String {
    let Some((head, notif)) = theirs.split_once("notif:") else { return theirs.to_string() };
    let mut out = String::new();
    let mut depth = 0;
    let mut prev = ' ';
    for ch in notif.chars() {
        match ch {
            '(' if depth > 0 || prev.is_ascii_alphanumeric() => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(ch),
        }
        prev = ch;
    }
    format!("{head}notif:{out}")
}

/// `tasks`: names, generations, priorities, states, the running task and
/// the system time.
fn check_tasks(h: &Humility, insp: &mut Inspector) -> Result<String> {
    let (time, rows) = humility_text::tasks(&h.run(&["tasks"])?);
    let ours = escapement_humility::views::tasks::tasks(insp)?.json;
    let tasks = ours["tasks"].as_array().cloned().unwrap_or_default();
    let names = insp.archive.task_names();
    ensure!(time == ours["system_time"].as_u64(), "system time: humility {time:?}, ours {}", ours["system_time"]);
    ensure!(rows.len() == tasks.len(), "humility shows {} tasks, we show {}", rows.len(), tasks.len());
    let mut bad = Vec::new();
    for (row, t) in rows.iter().zip(&tasks) {
        let mut same = |what: &str, theirs: String, ours: String| {
            if theirs != ours {
                bad.push(format!("task {} {what}: humility {theirs:?}, ours {ours:?}", row.id));
            }
        };
        same("id", row.id.to_string(), t["id"].to_string());
        same("name", row.name.clone(), t["name"].as_str().unwrap_or("").to_string());
        same("generation", row.generation.to_string(), t["generation"].to_string());
        same("priority", row.priority.to_string(), t["priority"].to_string());
        if let Err(e) = state_matches(&row.state, t, &names) {
            bad.push(format!("task {} {} state: {e}", row.id, row.name));
        }
    }
    ensure!(bad.is_empty(), "{}", bad.join("\n  "));
    let running: Vec<&str> = rows.iter().filter(|r| r.state_kind() == "RUNNING").map(|r| r.name.as_str()).collect();
    let faulted: Vec<&str> = rows.iter().filter(|r| r.state.starts_with("FAULT")).map(|r| r.name.as_str()).collect();
    ensure!(running.len() == 1, "humility shows {} running tasks: {running:?}", running.len());
    Ok(format!("tasks ({} tasks: names, generations, priorities, states; running {}; faulted {})", rows.len(), running[0], faulted.join(", ")))
}

/// The address range of the function symbol `name` in an ELF.
fn function_range(elf: &[u8], name: &str) -> Result<(u64, u64)> {
    use object::{Object, ObjectSymbol};
    let file = object::File::parse(elf)?;
    let sym = file.symbols().find(|s| s.name() == Ok(name) && s.size() > 0).with_context(|| format!("no symbol `{name}` with a size"))?;
    let start = sym.address() & !1;
    Ok((start, start + sym.size()))
}

/// `tasks -sl`: every stack unwound, from where our task table says the
/// task stopped, into the task's `main`, with file:line on the way.
fn check_stacks(h: &Humility, insp: &mut Inspector) -> Result<String> {
    let stacks = humility_text::task_stacks(&h.run(&["tasks", "-sl"])?);
    let names = insp.archive.task_names();
    ensure!(stacks.len() == names.len(), "humility shows {} tasks, we have {}", stacks.len(), names.len());
    let regs: BTreeMap<u32, u32> = insp.target.registers()?.into_iter().collect();
    let table = insp.read_named(0, "HUBRIS_TASK_TABLE_SPACE")?.1;
    let Value::Array(table) = table.unwrapped().clone() else { bail!("HUBRIS_TASK_TABLE_SPACE is not an array of tasks") };
    let ours = escapement_humility::views::tasks::tasks(insp)?.json;
    let mut bad = Vec::new();
    let mut unwound = 0;
    for (i, st) in stacks.iter().enumerate() {
        let name = &names[i];
        let mut fail = |e: String| bad.push(format!("{name}: {e}"));
        if st.task.name != *name {
            fail(format!("humility's task {i} is {:?}", st.task.name));
            continue;
        }
        if let Some(f) = &st.failure {
            fail(f.clone());
            continue;
        }
        let Some(leaf) = st.frames.first() else {
            fail("no frames".into());
            continue;
        };
        // Where the task stopped, by our reading of the dump.
        let (pc, sp) = if ours["tasks"][i]["running"] == true {
            (regs.get(&15).copied().unwrap_or(0) as u64, regs.get(&13).copied().unwrap_or(0) as u64)
        } else {
            let save = table[i].field("save");
            let field = |f: &str| save.and_then(|s| s.field(f)).and_then(|v| v.as_u64());
            let (Some(psp), Some(exc_return)) = (field("psp"), field("exc_return")) else {
                fail("our task table has no save.psp / save.exc_return".into());
                continue;
            };
            // The exception frame: 8 words, 26 with the FP context
            // (EXC_RETURN bit 4 clear); the stacked pc is its 7th word.
            let frame = if exc_return & 0x10 == 0 { 0x68 } else { 0x20 };
            (read_u32(&mut *insp.target, psp + 24)? as u64, psp + frame)
        };
        // humility shows each frame's CFA, the stack pointer its caller
        // had: at or above where the task stopped, and for a task stopped
        // in a syscall stub exactly above the stub's `push {r4-r11}`
        // (a CFA further up means the push was counted twice, and every
        // caller frame is read from the wrong words).
        let in_stub = leaf.name.as_deref().is_some_and(|n| n.contains("syscall_stub"));
        let cfa_ok = if in_stub { leaf.sp == sp + 32 } else { leaf.sp >= sp };
        if leaf.pc != pc || !cfa_ok {
            fail(format!("innermost frame at pc {:#010x} cfa {:#010x}; our dump says the task stopped at pc {pc:#010x} sp {sp:#010x}", leaf.pc, leaf.sp));
            continue;
        }
        if ours["tasks"][i]["running"] == true {
            continue;
        }
        let (lo, hi) = function_range(&insp.archive.tasks[i].data, "main")?;
        // A return address points after the call: the caller is at pc - 1.
        let in_main = |k: usize, pc: u64| {
            let pc = if k == 0 { pc } else { pc.saturating_sub(1) };
            (lo..hi).contains(&(pc & !1))
        };
        let Some(k) = st.frames.iter().enumerate().position(|(k, f)| in_main(k, f.pc)) else {
            fail(format!("no frame in main ({lo:#010x}..{hi:#010x}): {:x?}", st.frames.iter().map(|f| f.pc).collect::<Vec<_>>()));
            continue;
        };
        let has_line = |f: &humility_text::Frame| f.at.as_deref().and_then(|a| a.split(':').nth(1)).is_some_and(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()));
        if let Some(f) = st.frames[1..=k].iter().find(|f| !has_line(f)) {
            fail(format!("frame {:#010x} {} has no file:line", f.pc, f.name.as_deref().unwrap_or("?")));
            continue;
        }
        unwound += 1;
    }
    ensure!(bad.is_empty(), "{}", bad.join("\n  "));
    Ok(format!("tasks -sl ({unwound} stacks from the saved pc into main with file:line; the running task at the CPU's pc)"))
}

/// `ringbuf`: every ring, entry for entry.
fn check_rings(h: &Humility, insp: &mut Inspector) -> Result<String> {
    let theirs: BTreeMap<(String, String), Vec<humility_text::RingEntry>> = humility_text::ringbuf(&h.run(&["ringbuf"])?)
        .into_iter()
        .map(|(task, path, lines)| ((task, path), lines.iter().filter_map(|l| humility_text::ring_entry(l)).collect()))
        .collect();
    let ours = escapement_humility::views::ringbuf::ringbuf(insp, None)?.json;
    let mut mine = BTreeMap::new();
    for r in ours["rings"].as_array().into_iter().flatten() {
        let key = (r["task"].as_str().unwrap_or("").to_string(), r["variable"].as_str().unwrap_or("").to_string());
        ensure!(r.get("error").is_none(), "our ring {key:?}: {}", r["error"]);
        mine.insert(key, r["entries"].as_array().cloned().unwrap_or_default());
    }
    let (tk, ok): (BTreeSet<_>, BTreeSet<_>) = (theirs.keys().collect(), mine.keys().collect());
    ensure!(tk == ok, "rings: humility {tk:?}, ours {ok:?}");
    let mut bad = Vec::new();
    let mut entries = 0;
    for (key, t) in &theirs {
        let o = &mine[key];
        if t.len() != o.len() {
            bad.push(format!("{key:?}: humility {} entries, ours {}", t.len(), o.len()));
            continue;
        }
        for (te, oe) in t.iter().zip(o) {
            let n = |f: &str| oe[f].as_u64().unwrap_or(u64::MAX);
            let ot = oe["text"].as_str().unwrap_or("");
            if (te.index, te.line, te.generation, te.count) != (n("index"), n("line"), n("generation"), n("count"))
                || humility_text::value_tokens(&te.payload) != humility_text::value_tokens(ot)
            {
                bad.push(format!(
                    "{key:?}: humility {} {} {} {} {}, ours {} {} {} {} {ot}",
                    te.index, te.line, te.generation, te.count, te.payload, n("index"), n("line"), n("generation"), n("count")
                ));
            }
            entries += 1;
        }
    }
    ensure!(bad.is_empty(), "{}", bad.join("\n  "));
    Ok(format!("ringbuf ({} rings, {entries} entries equal)", theirs.len()))
}

/// `registers`: the dump's registers, each with the same value.
fn check_registers(h: &Humility, insp: &mut Inspector) -> Result<String> {
    let theirs: BTreeMap<String, u64> = humility_text::registers(&h.run(&["registers"])?).into_iter().collect();
    let ours = insp.target.registers()?;
    // humility's names for the dump's register ids.
    let name = |id: u32| match id {
        0..=12 => Some(format!("R{id}")),
        16 => Some("PSR".to_string()),
        17 => Some("MSP".to_string()),
        18 => Some("PSP".to_string()),
        20 => Some("SPR".to_string()),
        _ => REGISTER_NAMES.get(id as usize).map(|n| n.to_uppercase()),
    };
    let mut bad = Vec::new();
    for (id, v) in &ours {
        let Some(n) = name(*id) else {
            bad.push(format!("register id {id} of our dump has no humility name here"));
            continue;
        };
        match theirs.get(&n) {
            Some(t) if *t == *v as u64 => {}
            t => bad.push(format!("{n}: humility {t:x?}, our dump {v:#010x}")),
        }
    }
    let ours_names: BTreeSet<String> = ours.iter().filter_map(|(id, _)| name(*id)).collect();
    for n in theirs.keys().filter(|n| !ours_names.contains(*n)) {
        bad.push(format!("humility shows {n}, which our dump does not hold"));
    }
    ensure!(bad.is_empty(), "{}", bad.join("\n  "));
    Ok(format!("registers ({} equal)", ours.len()))
}

/// Stacks are painted with this word before a task starts.
const STACK_PAINT: u32 = 0xBADD_CAFE;

/// `stackmargin`: the margins we find in the same dump, each above zero.
fn check_stackmargin(h: &Humility, insp: &mut Inspector) -> Result<String> {
    let theirs = humility_text::stack_margins(&h.run(&["stackmargin"])?);
    let names = insp.archive.task_names();
    ensure!(theirs.len() == names.len(), "humility shows {} tasks, we have {}", theirs.len(), names.len());
    let descs = insp.read_named(0, "HUBRIS_TASK_DESCS")?.1;
    let Value::Array(descs) = descs.unwrapped().clone() else { bail!("HUBRIS_TASK_DESCS is not an array") };
    let map = escapement_humility::views::map::map(insp)?.json;
    let mut bad = Vec::new();
    let mut least = u64::MAX;
    for (i, t) in theirs.iter().enumerate() {
        let initial = descs.get(i).and_then(|d| d.field("initial_stack")).and_then(|v| v.as_u64()).context("TaskDesc.initial_stack")?;
        // The stack is the task's region that holds the initial stack
        // pointer, from its base up to that pointer.
        let region = map["regions"].as_array().into_iter().flatten().find(|r| {
            let (b, s) = (r["base"].as_u64().unwrap_or(0), r["size"].as_u64().unwrap_or(0));
            r["task"] == names[i].as_str() && initial > b && initial <= b + s
        });
        let base = region.and_then(|r| r["base"].as_u64()).with_context(|| format!("{}: no region holds its initial stack {initial:#010x}", names[i]))?;
        let size = initial - base;
        let mut stack = vec![0u8; size as usize];
        insp.target.read(base, &mut stack)?;
        let painted = stack.chunks(4).take_while(|w| w.len() == 4 && u32::from_le_bytes((*w).try_into().unwrap()) == STACK_PAINT).count() as u64;
        let depth = size - (painted * 4).min(size - 4);
        let ours = humility_text::StackMargin { id: i as u64, name: names[i].clone(), base, size, depth, margin: size - depth };
        if *t != ours {
            bad.push(format!("humility {t:?}, ours {ours:?}"));
        } else if t.margin == 0 {
            bad.push(format!("{}: no margin left ({} of {} bytes used)", t.name, t.depth, t.size));
        }
        least = least.min(t.margin);
    }
    ensure!(bad.is_empty(), "{}", bad.join("\n  "));
    Ok(format!("stackmargin ({} tasks, same depths, least margin {least} bytes)", theirs.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_humility_prints() {
        let text = "humility: attached\nINSPECT_STATE (0x08027210) = State {\n    magic: 0xc0ffee00,\n    f: Some(0x8001cfd (unsafe extern \"C\" fn())),\n    color: Green,\n    last: Some(513),\n    flag: true\n}\n";
        assert_eq!(printed_numbers(text), vec![0xc0ff_ee00, 0x0800_1cfd, 513, 1]);
        let table = "T (0x20000800) = MaybeUninit<[kern::task::Task; 10]> {\n    value: MaybeDangling<[kern::task::Task; 10]>([\n  Task { r4: 0x1, p: 0x8 (&kern::descs::TaskDesc) }\n";
        assert_eq!(printed_numbers(table), vec![1, 8]);
    }

    #[test]
    fn states_as_humility_spells_them() {
        let names: Vec<String> = ["sup", "con", "ins"].iter().map(|s| s.to_string()).collect();
        let task = |raw: J, running: bool, waiting: &[&str]| serde_json::json!({ "raw_state": raw, "running": running, "waiting_for": waiting });
        let recv = task(serde_json::json!({ "Healthy": { "InRecv": null } }), false, &["tick0"]);
        assert_eq!(state_matches("recv, notif: tick0(irq28)", &recv, &names), Ok(()));
        assert!(state_matches("recv, notif: fault", &recv, &names).is_err());
        assert!(state_matches("recv", &recv, &names).is_err());
        let closed = task(serde_json::json!({ "Healthy": { "InRecv": 1023 } }), false, &["wake"]);
        assert_eq!(state_matches("recv(unknown#1023/gen0 only), notif: wake", &closed, &names), Ok(()));
        let parked = task(serde_json::json!({ "Healthy": { "InRecv": 0xFFFF } }), false, &[]);
        assert_eq!(state_matches("(DEAD)", &parked, &names), Ok(()));
        let kernel = task(serde_json::json!({ "Healthy": { "InRecv": 0xFFFF } }), false, &["wake"]);
        assert_eq!(state_matches("notif: wake(T+5)", &kernel, &names), Ok(()));
        let reply = task(serde_json::json!({ "Healthy": { "InReply": 2 | (1 << 10) } }), false, &[]);
        assert_eq!(state_matches("wait: reply from ins/gen1", &reply, &names), Ok(()));
        assert!(state_matches("wait: reply from ins/gen0", &reply, &names).is_err());
        let run = task(serde_json::json!({ "Healthy": "Runnable" }), true, &[]);
        assert_eq!(state_matches("RUNNING", &run, &names), Ok(()));
        assert!(state_matches("ready", &run, &names).is_err());
        let fault = serde_json::json!({ "Faulted": { "fault": { "MemoryAccess": { "address": 0x2000_0000u32, "source": "User" } }, "original_state": "Runnable" } });
        let faulted = task(fault, false, &[]);
        assert_eq!(state_matches("FAULT: mem fault (precise: 0x20000000) in task code (was: ready)", &faulted, &names), Ok(()));
        assert!(state_matches("FAULT: mem fault (precise: 0x20000004) in task code (was: ready)", &faulted, &names).is_err());
    }

    #[test]
    fn numbers_in_our_values() {
        let v = Value::Struct {
            ty: "State".into(),
            fields: vec![
                ("magic".into(), Value::Unsigned(0xc0ff_ee00)),
                ("f".into(), Value::Pointer { ty: "fn".into(), target: None, addr: 0x0800_1cfd }),
                ("color".into(), Value::Enum { ty: "Color".into(), variant: "Green".into(), fields: vec![] }),
                ("d".into(), Value::Signed(-1)),
                ("flag".into(), Value::Bool(true)),
            ],
        };
        let mut out = Vec::new();
        numbers(&v, &mut out);
        assert_eq!(out, vec![Some(0xc0ff_ee00), Some(0x0800_1cfd), None, Some(1)]);
        assert!(matches(&[0xc0ff_ee00, 0x0800_1cfd, 0xff, 1], &out));
        assert!(!matches(&[0xc0ff_ee00, 0x0800_1cfe, 0xff, 1], &out));
        assert!(!matches(&[0xc0ff_ee00, 0x0800_1cfd, 0xff, 0], &out));
        assert!(!matches(&[0xc0ff_ee00], &out));
    }
}
