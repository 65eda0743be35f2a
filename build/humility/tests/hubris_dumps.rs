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
use escapement_humility::humility_text;
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

/// humility's recorded output for `view` (file suffix) on `dump`.
fn theirs(dir: &Path, dump: &str, view: &str) -> String {
    let path = dir.join("humility-0.12.17-output").join(format!("{dump}.{view}.txt"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn s(v: &J) -> String {
    v.as_str().map(String::from).unwrap_or_else(|| v.to_string())
}

fn list(v: &J) -> Vec<String> {
    v.as_array().into_iter().flatten().map(s).collect()
}

fn check_manifest(dir: &Path, dump: &str, failures: &mut Vec<String>) -> Result<(), String> {
    let ours = ours(&dir.join(dump), &["manifest"])?;
    let m = humility_text::manifest(&theirs(dir, dump, "manifest"));
    let mut expect = |what: &str, theirs: Option<String>, ours: String| {
        if theirs.as_deref() != Some(ours.as_str()) {
            failures.push(format!("{dump} manifest {what}: humility {theirs:?}, ours {ours:?}"));
        }
    };
    let key = |k: &str| m.keys.get(k).cloned();
    expect("version", key("version"), format!("hubris build archive v{}", ours["archive_version"]));
    expect("git rev", key("git rev"), s(&ours["git_rev"]));
    expect("image id", m.image_id().map(|i| format!("{i:#018x}")), s(&ours["image_id"]));
    expect("board", key("board"), s(&ours["board"]));
    expect("name", key("name"), s(&ours["name"]));
    expect("target", key("target"), s(&ours["target"]));
    expect("image", key("image"), ours["image"].as_str().unwrap_or("<unknown>").to_string());
    expect("features", key("features"), list(&ours["features"]).join(", "));
    let tasks = ours["tasks"].as_array().cloned().unwrap_or_default();
    expect("tasks", key("tasks"), tasks.len().to_string());
    if m.tasks.len() != tasks.len() {
        failures.push(format!("{dump} manifest: humility lists {} tasks, we list {}", m.tasks.len(), tasks.len()));
    }
    for (obj, name, features) in &m.tasks {
        match tasks.iter().find(|t| t["name"] == name.as_str()) {
            None => failures.push(format!("{dump} manifest: humility lists task {name}, we do not")),
            Some(t) => {
                if t["id"].as_u64() != Some(*obj as u64 - 1) {
                    failures.push(format!("{dump} manifest: task {name} is object {obj} in humility, id {} in ours", t["id"]));
                }
                if list(&t["features"]) != *features {
                    failures.push(format!("{dump} manifest: task {name} features {features:?} in humility, {:?} in ours", t["features"]));
                }
            }
        }
    }
    Ok(())
}

fn check_tasks(dir: &Path, dump: &str, failures: &mut Vec<String>) -> Result<(), String> {
    let ours = ours(&dir.join(dump), &["tasks"])?;
    let (time, rows) = humility_text::tasks(&theirs(dir, dump, "tasks"));
    if time != ours["system_time"].as_u64() {
        failures.push(format!("{dump} tasks: system time {time:?} in humility, {} in ours", ours["system_time"]));
    }
    let tasks = ours["tasks"].as_array().cloned().unwrap_or_default();
    if rows.len() != tasks.len() {
        failures.push(format!("{dump} tasks: humility shows {} tasks, we show {}", rows.len(), tasks.len()));
    }
    for row in rows {
        let id = row.id;
        let Some(t) = tasks.iter().find(|t| t["id"].as_u64() == Some(id)) else {
            failures.push(format!("{dump} tasks: no task {id} in ours"));
            continue;
        };
        let mut same = |what: &str, theirs: String, ours: String| {
            if theirs != ours {
                failures.push(format!("{dump} tasks: task {id} {what} is {theirs:?} in humility, {ours:?} in ours"));
            }
        };
        same("name", row.name.clone(), s(&t["name"]));
        same("generation", row.generation.to_string(), t["generation"].to_string());
        same("priority", row.priority.to_string(), t["priority"].to_string());
        let our_state = s(&t["state"]);
        same("state", row.state_kind().to_string(), our_state.split([' ', ',']).next().unwrap_or("").to_string());
        same("running", (row.state_kind() == "RUNNING").to_string(), t["running"].to_string());
        let mut theirs_waiting = row.waiting_for();
        let mut ours_waiting = list(&t["waiting_for"]);
        theirs_waiting.sort();
        ours_waiting.sort();
        same("notifications waited for", format!("{theirs_waiting:?}"), format!("{ours_waiting:?}"));
    }
    Ok(())
}

fn check_map(dir: &Path, dump: &str, failures: &mut Vec<String>) -> Result<(), String> {
    let ours = ours(&dir.join(dump), &["map"])?;
    // Task regions only: humility also shows the kernel's own, which have
    // no descriptor.
    let theirs_set: BTreeSet<humility_text::Region> = humility_text::map(&theirs(dir, dump, "map")).into_iter().collect();
    let ours_set: BTreeSet<humility_text::Region> = ours["regions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let base = r["base"].as_u64().unwrap();
            let access = humility_text::access_letters(r["attributes"].as_u64().unwrap_or(0));
            (r["descriptor"].as_u64().unwrap(), base, base + r["size"].as_u64().unwrap(), access, r["id"].as_u64().unwrap(), s(&r["task"]))
        })
        .collect();
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
    let theirs_rings: Vec<(String, String, usize)> =
        humility_text::ringbuf(&theirs(dir, dump, "ringbuf")).into_iter().map(|(t, p, e)| (t, p, e.len())).collect();
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
    let statics = humility_text::readvar_list(&theirs(dir, dump, "readvar_-l"));
    if statics.is_empty() {
        failures.push(format!("{dump} readvar -l: no statics parsed from humility's output"));
    }
    for st in statics {
        // humility names a static by its symbol: the plain name for
        // #[no_mangle] ones, the demangled path otherwise.
        let candidates: Vec<&J> = vars
            .iter()
            .filter(|v| v["task"] == st.module.as_str() && (s(&v["path"]) == st.name || s(&v["path"]).ends_with(&format!("::{}", st.name))))
            .collect();
        if !candidates.iter().any(|v| v["address"].as_u64() == Some(st.addr) && v["size"].as_u64() == Some(st.size)) {
            let found: Vec<String> = candidates.iter().map(|v| format!("{:#010x}/{}", v["address"].as_u64().unwrap_or(0), v["size"])).collect();
            failures.push(format!("{dump} readvar -l: {} {} is at {:#010x}/{} in humility, ours: {found:?}", st.module, st.name, st.addr, st.size));
        }
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
