//! Our inspector on real Hubris dumps, checked against what real humility
//! 0.12.17 printed for the same dumps.
//!
//! The dumps and humility's output sit in the shared fixtures folder
//! (`../shared/fixtures/hubris-dumps/` beside the repository): three
//! images of archive versions 4, 6 and 10, for an STM32G070, an STM32H7
//! and an STM32F4, with bzip2 archive entries. For each dump this test
//! runs our `manifest`, `tasks`, `map`, `ringbuf` and `readvar -l` and
//! compares the facts (not the layout) with humility's recorded text:
//! task names, ids, generations, priorities, states and the running task;
//! every task region with its descriptor and attributes; every ring and
//! its entries; every static humility lists at the same address and size.
//!
//! Without the shared folder the test says so in one line and passes.

use escapement_humility::cli::{self, Args};
use serde_json::Value as J;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const DUMPS: &[&str] = &["hubris.core.v6", "hubris.core.new-compiler", "hubris.core.inheritance.0"];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/hubris-dumps")
}

/// Our view `args` on `dump`, as JSON.
fn ours(dump: &Path, args: &[&str]) -> Result<J, String> {
    let mut full = vec!["humility", "--json", "-d", dump.to_str().unwrap()];
    full.extend_from_slice(args);
    let parsed = <Args as clap::Parser>::try_parse_from(&full).map_err(|e| e.to_string())?;
    let mut insp = cli::open(&parsed, None).map_err(|e| format!("{e:#}"))?;
    let report = cli::run_view(&mut insp, &parsed.view).map_err(|e| format!("{args:?}: {e:#}"))?;
    Ok(report.json)
}

/// humility's recorded output for `view` (file suffix) on `dump`: the lines
/// after the command and the "attached to dump" line.
fn theirs(dir: &Path, dump: &str, view: &str) -> Vec<String> {
    let path = dir.join("humility-0.12.17-output").join(format!("{dump}.{view}.txt"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines().filter(|l| !l.starts_with("$ ") && !l.starts_with("humility: attached")).map(String::from).collect()
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("{s:?} is not hex"))
}

fn s(v: &J) -> String {
    v.as_str().map(String::from).unwrap_or_else(|| v.to_string())
}

fn check_manifest(dir: &Path, dump: &str, failures: &mut Vec<String>) -> Result<(), String> {
    let ours = ours(&dir.join(dump), &["manifest"])?;
    let lines = theirs(dir, dump, "manifest");
    let key = |k: &str| {
        lines.iter().find_map(|l| {
            let (a, b) = l.split_once("=>")?;
            (a.trim() == k).then(|| b.trim().to_string())
        })
    };
    let mut expect = |what: &str, theirs: Option<String>, ours: String| {
        if theirs.as_deref() != Some(ours.as_str()) {
            failures.push(format!("{dump} manifest {what}: humility {theirs:?}, ours {ours:?}"));
        }
    };
    expect("version", key("version"), format!("hubris build archive v{}", ours["archive_version"]));
    expect("git rev", key("git rev"), s(&ours["git_rev"]));
    let id = hex(ours["image_id"].as_str().unwrap_or("0"));
    let bytes: Vec<String> = id.to_le_bytes().iter().map(|b| format!("{b:x}")).collect();
    expect("image id", key("image id"), format!("[{}]", bytes.join(", ")));
    expect("board", key("board"), s(&ours["board"]));
    expect("name", key("name"), s(&ours["name"]));
    expect("target", key("target"), s(&ours["target"]));
    expect("image", key("image"), ours["image"].as_str().unwrap_or("<unknown>").to_string());
    let feats = |v: &J| v.as_array().map(|a| a.iter().map(s).collect::<Vec<_>>().join(", ")).unwrap_or_default();
    expect("features", key("features"), feats(&ours["features"]));
    let tasks = ours["tasks"].as_array().cloned().unwrap_or_default();
    expect("tasks", key("tasks"), tasks.len().to_string());
    // Task rows: ID (flash order) OBJ (1 + task id) TASK SIZE FEATURES.
    let header = lines.iter().position(|l| l.trim_start().starts_with("ID OBJ TASK")).ok_or("no task table")?;
    let mut seen = 0;
    for row in &lines[header + 1..] {
        let cols: Vec<&str> = row.split_whitespace().collect();
        if cols.len() < 4 {
            continue;
        }
        seen += 1;
        let (obj, name) = (cols[1].parse::<usize>().map_err(|e| format!("{row:?}: {e}"))?, cols[2]);
        let their_feats = cols[4..].join(" ");
        match tasks.iter().find(|t| t["name"] == name) {
            None => failures.push(format!("{dump} manifest: humility lists task {name}, we do not")),
            Some(t) => {
                if t["id"].as_u64() != Some(obj as u64 - 1) {
                    failures.push(format!("{dump} manifest: task {name} is object {obj} in humility, id {} in ours", t["id"]));
                }
                if feats(&t["features"]) != their_feats {
                    failures.push(format!("{dump} manifest: task {name} features {their_feats:?} in humility, {:?} in ours", feats(&t["features"])));
                }
            }
        }
    }
    if seen != tasks.len() {
        failures.push(format!("{dump} manifest: humility lists {seen} tasks, we list {}", tasks.len()));
    }
    Ok(())
}

fn check_tasks(dir: &Path, dump: &str, failures: &mut Vec<String>) -> Result<(), String> {
    let ours = ours(&dir.join(dump), &["tasks"])?;
    let lines = theirs(dir, dump, "tasks");
    let time = lines.iter().find_map(|l| l.strip_prefix("system time = ")).map(|t| t.trim().parse::<u64>().unwrap());
    if time != ours["system_time"].as_u64() {
        failures.push(format!("{dump} tasks: system time {time:?} in humility, {} in ours", ours["system_time"]));
    }
    let tasks = ours["tasks"].as_array().cloned().unwrap_or_default();
    let rows: Vec<&String> = lines.iter().filter(|l| l.split_whitespace().next().is_some_and(|c| c.parse::<u32>().is_ok())).collect();
    if rows.len() != tasks.len() {
        failures.push(format!("{dump} tasks: humility shows {} tasks, we show {}", rows.len(), tasks.len()));
    }
    for row in rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        let (id, name, generation, priority) = (cols[0], cols[1], cols[2], cols[3]);
        let state = cols[4..].join(" ");
        let Some(t) = tasks.iter().find(|t| t["id"].to_string() == id) else {
            failures.push(format!("{dump} tasks: no task {id} in ours"));
            continue;
        };
        let mut same = |what: &str, theirs: &str, ours: String| {
            if theirs != ours {
                failures.push(format!("{dump} tasks: task {id} {what} is {theirs:?} in humility, {ours:?} in ours"));
            }
        };
        same("name", name, s(&t["name"]));
        same("generation", generation, t["generation"].to_string());
        same("priority", priority, t["priority"].to_string());
        // The state's kind: RUNNING, recv, ready, ... (first word).
        let kind = |st: &str| st.split([' ', ',']).next().unwrap_or("").to_string();
        same("state", &kind(&state), kind(&s(&t["state"])));
        same("running", &(state == "RUNNING").to_string(), t["running"].to_string());
        // The notifications a receiving task waits for, by name (humility
        // adds the interrupt or timer that posts them in parentheses).
        if let Some((_, notif)) = state.split_once("notif: ") {
            let theirs: BTreeSet<String> = notif.split_whitespace().map(|n| n.split('(').next().unwrap().to_string()).collect();
            let ours: BTreeSet<String> = t["waiting_for"].as_array().into_iter().flatten().map(s).collect();
            if theirs != ours {
                failures.push(format!("{dump} tasks: task {id} waits for {theirs:?} in humility, {ours:?} in ours"));
            }
        }
    }
    Ok(())
}

fn check_map(dir: &Path, dump: &str, failures: &mut Vec<String>) -> Result<(), String> {
    let ours = ours(&dir.join(dump), &["map"])?;
    // Task regions only: humility also shows the kernel's own, which have
    // no descriptor (DESC `-`).
    let mut theirs_set = BTreeSet::new();
    for row in theirs(dir, dump, "map") {
        let cols: Vec<&str> = row.split_whitespace().collect();
        if cols.len() < 7 || !cols[0].starts_with("0x") {
            continue;
        }
        // DESC LOW - HIGH SIZE ATTR ID [periph] TASK
        let attr: String = cols[5].chars().filter(|c| "rwxdm".contains(*c)).collect();
        let task = cols.last().unwrap().to_string();
        theirs_set.insert((hex(cols[0]), hex(cols[1]), hex(cols[3]) + 1, attr, cols[6].parse::<u64>().unwrap(), task));
    }
    let mut ours_set = BTreeSet::new();
    for r in ours["regions"].as_array().into_iter().flatten() {
        let a = r["attributes"].as_u64().unwrap_or(0);
        let attr: String = [(1, 'r'), (2, 'w'), (4, 'x'), (8, 'd'), (16, 'm')].iter().filter(|(b, _)| a & b != 0).map(|(_, c)| *c).collect();
        let base = r["base"].as_u64().unwrap();
        ours_set.insert((r["descriptor"].as_u64().unwrap(), base, base + r["size"].as_u64().unwrap(), attr, r["id"].as_u64().unwrap(), s(&r["task"])));
    }
    if theirs_set.is_empty() {
        failures.push(format!("{dump} map: no task regions parsed from humility's output"));
    }
    for missing in theirs_set.difference(&ours_set) {
        failures.push(format!("{dump} map: humility shows region {missing:x?}, ours does not"));
    }
    for extra in ours_set.difference(&theirs_set) {
        failures.push(format!("{dump} map: ours shows region {extra:x?}, humility does not"));
    }
    Ok(())
}

fn check_ringbuf(dir: &Path, dump: &str, failures: &mut Vec<String>) -> Result<(), String> {
    let ours = ours(&dir.join(dump), &["ringbuf"])?;
    // "humility: ring buffer PATH in TASK:" then one line per entry (after
    // an NDX header line when there are any).
    let mut theirs_rings: Vec<(String, String, usize)> = Vec::new();
    for l in theirs(dir, dump, "ringbuf") {
        if let Some(rest) = l.strip_prefix("humility: ring buffer ") {
            let (path, task) = rest.trim_end_matches(':').rsplit_once(" in ").ok_or("bad ring header")?;
            theirs_rings.push((task.to_string(), path.to_string(), 0));
        } else if !l.trim().is_empty() && !l.trim_start().starts_with("NDX") {
            theirs_rings.last_mut().ok_or("ring entry before any ring")?.2 += 1;
        }
    }
    let ours_rings: Vec<(String, String, usize)> = ours["rings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| (s(&r["task"]), s(&r["variable"]), r["entries"].as_array().map(|e| e.len()).unwrap_or(0)))
        .collect();
    if theirs_rings.is_empty() {
        failures.push(format!("{dump} ringbuf: no rings parsed from humility's output"));
    }
    if theirs_rings != ours_rings {
        failures.push(format!("{dump} ringbuf: humility {theirs_rings:?}, ours {ours_rings:?}"));
    }
    Ok(())
}

fn check_readvar_list(dir: &Path, dump: &str, failures: &mut Vec<String>) -> Result<(), String> {
    let ours = ours(&dir.join(dump), &["readvar", "-l"])?;
    let vars = ours["variables"].as_array().cloned().unwrap_or_default();
    let mut compared = 0;
    for row in theirs(dir, dump, "readvar_-l") {
        let cols: Vec<&str> = row.split_whitespace().collect();
        if cols.len() != 4 || cols[0] == "MODULE" {
            continue;
        }
        let (module, name, addr, size) = (cols[0], cols[1], hex(cols[2]), cols[3].parse::<u64>().unwrap());
        compared += 1;
        // humility names a static by its symbol: the plain name for
        // #[no_mangle] ones, the demangled path otherwise.
        let same_name = |v: &J| {
            let p = s(&v["path"]);
            v["task"] == module && (p == name || p.ends_with(&format!("::{name}")))
        };
        let candidates: Vec<&J> = vars.iter().filter(|v| same_name(v)).collect();
        if !candidates.iter().any(|v| v["address"].as_u64() == Some(addr) && v["size"].as_u64() == Some(size)) {
            let found: Vec<String> = candidates.iter().map(|v| format!("{:#010x}/{}", v["address"].as_u64().unwrap_or(0), v["size"])).collect();
            failures.push(format!("{dump} readvar -l: {module} {name} is at {addr:#010x}/{size} in humility, ours: {found:?}"));
        }
    }
    if compared == 0 {
        failures.push(format!("{dump} readvar -l: no statics parsed from humility's output"));
    }
    Ok(())
}

#[test]
fn real_hubris_dumps_give_the_facts_humility_gives() {
    let dir = fixtures();
    if !dir.is_dir() {
        println!("shared fixtures absent ({}): skipping the real Hubris dump comparisons", dir.display());
        return;
    }
    let mut failures = Vec::new();
    for dump in DUMPS {
        type Check = fn(&Path, &str, &mut Vec<String>) -> Result<(), String>;
        let checks: [(&str, Check); 5] = [
            ("manifest", check_manifest),
            ("tasks", check_tasks),
            ("map", check_map),
            ("ringbuf", check_ringbuf),
            ("readvar -l", check_readvar_list),
        ];
        for (view, check) in checks {
            if let Err(e) = check(&dir, dump, &mut failures) {
                failures.push(format!("{dump} {view}: {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} differences from humility:\n{}", failures.len(), failures.join("\n"));
}
