//! `cargo xtask bench`: on-target costs, measured as instruction counts.
//!
//! Builds `build/apps/bench.toml`, runs it under QEMU with
//! `-icount shift=0,sleep=off` (one instruction per virtual ns) and reads
//! the `BENCH <name> median=<n> max=<n> n=<reps>` lines the bench runner
//! prints (see task/bench). Prints a table against the targets and writes
//! it as JSON (`target/escapement/bench/bench.json`, plus a copy named by
//! git revision) for comparison across commits. Memory figures come from
//! the linked timer-server ELF.

use crate::{dist, elf, qemu};
use anyhow::{bail, Context, Result};
use std::fmt::Write;
use std::time::Duration;

/// One measured figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub name: String,
    pub median: u64,
    pub max: u64,
    pub n: u64,
}

/// Targets from the performance issue: (name, limit on the median, unit).
const TARGETS: &[(&str, u64)] = &[
    ("ipc_null_roundtrip", 400),
    ("add_timer_ipc", 600),
    ("mod_timer_ipc", 600),
    ("mod_timer_ipc_other_bucket", 600),
    ("del_timer_ipc", 600),
    // Issue 15's: a periodic tick with nothing due, and IRQ entry to the
    // owner of an expired wheel timer running (FreeRTOS: 702).
    ("tick_periodic_0_timers", 500),
    ("expiry_latency", 700),
    ("tickless_irqs_10s_idle", 2),
    ("jiffies_read_time_page", 40),
    ("ktime_read_time_page", 80),
    // hrtimers (issue 15): IRQ entry to the owner running; 0 early.
    ("hrtimer_expiry_latency", 1000),
    ("hrtimer_early", 0),
    // Issue 15's targets (on the median here as everywhere; the issue
    // states the reprogramming add's as a max, see README).
    ("add_timer_ipc_reprogram", 1500),
    ("expiry_latency_tickless", 1000),
];

/// Parses the runner's `BENCH` lines.
pub fn parse(console: &str) -> Vec<Figure> {
    let mut out = Vec::new();
    for line in console.lines() {
        let Some(rest) = line.strip_prefix("BENCH ") else { continue };
        let mut parts = rest.split_whitespace();
        let Some(name) = parts.next() else { continue };
        let mut f = Figure { name: name.to_string(), median: 0, max: 0, n: 0 };
        let mut seen = 0;
        for p in parts {
            let Some((k, v)) = p.split_once('=') else { continue };
            let Ok(v) = v.parse::<u64>() else { continue };
            match k {
                "median" => f.median = v,
                "max" => f.max = v,
                "n" => f.n = v,
                _ => continue,
            }
            seen += 1;
        }
        if seen == 3 {
            out.push(f);
        }
    }
    out
}

fn json_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Renders the figures (and extra key/value facts) as JSON.
pub fn to_json(figures: &[Figure], facts: &[(&str, u64)], rev: &str) -> String {
    let mut s = String::new();
    writeln!(s, "{{\n  \"git_rev\": \"{}\",\n  \"unit\": \"instructions (QEMU -icount shift=0)\",\n  \"figures\": [", json_escape(rev)).unwrap();
    for (i, f) in figures.iter().enumerate() {
        let target = TARGETS.iter().find(|t| t.0 == f.name).map(|t| t.1.to_string()).unwrap_or_else(|| "null".into());
        let comma = if i + 1 < figures.len() { "," } else { "" };
        writeln!(
            s,
            "    {{ \"name\": \"{}\", \"median\": {}, \"max\": {}, \"n\": {}, \"target\": {} }}{comma}",
            json_escape(&f.name),
            f.median,
            f.max,
            f.n,
            target
        )
        .unwrap();
    }
    writeln!(s, "  ],\n  \"memory\": {{").unwrap();
    for (i, (k, v)) in facts.iter().enumerate() {
        let comma = if i + 1 < facts.len() { "," } else { "" };
        writeln!(s, "    \"{}\": {v}{comma}", json_escape(k)).unwrap();
    }
    writeln!(s, "  }}\n}}").unwrap();
    s
}

/// Runs the benchmarks.
pub fn bench() -> Result<()> {
    crate::setup::ensure_qemu()?;
    // Two images: tickless (the default server) and periodic-only (nohz
    // off), which the runner tells apart by the server's mode.
    let mut figures = Vec::new();
    let mut console = String::new();
    for app in ["build/apps/bench.toml", "build/apps/bench-periodic.toml"] {
        let image = dist::dist(&crate::root().join(app))?;
        let run = qemu::run_captured(&image, qemu::Until::Exit, Duration::from_secs(300))?;
        if run.status != Some(0) {
            bail!("the bench image {app} did not finish (status {:?}); console:\n{}", run.status, run.console);
        }
        let mut f = parse(&run.console);
        if f.is_empty() {
            bail!("the bench image {app} printed no BENCH lines; console:\n{}", run.console);
        }
        // The IPC figures are the same in both images; keep the first.
        f.retain(|x| !figures.iter().any(|y: &Figure| y.name == x.name));
        figures.extend(f);
        console.push_str(&run.console);
    }
    let run = qemu::Captured { status: Some(0), console };

    // Memory of the timer server, from its linked ELF.
    let dir = crate::root().join("target/escapement/bench");
    let timer = elf::load(&dir.join("elf/task/timer"), "timer").context("reading the timer server's ELF")?;
    let flash: u64 = timer.segments.iter().filter(|s| s.paddr < 0x2000_0000).map(|s| s.data.len() as u64).sum();
    let ram: u64 = timer.segments.iter().filter(|s| s.vaddr >= 0x2000_0000).map(|s| s.memsz as u64).sum();
    let mut facts = vec![("timer_server_flash_bytes", flash), ("timer_server_ram_bytes", ram)];
    // The pool's share: the wheel core (nodes, tokens, list heads) and the
    // fired queues, from their statics' symbol sizes.
    let app = appcfg::load(&crate::root().join("build/apps/bench.toml"), &crate::root().join("build/chips"))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let pool = app
        .tasks
        .iter()
        .find(|t| t.name == "timer")
        .and_then(|t| t.config.get("pool"))
        .and_then(|v| v.as_integer())
        .unwrap_or(0) as u64;
    let sizes = static_sizes(&dir.join("elf/task/timer"), &["10task_timer4CORE", "10task_timer5FIRED"])?;
    if pool > 0 {
        facts.push(("timer_pool_timers", pool));
        facts.push(("timer_core_bytes", sizes[0]));
        facts.push(("timer_fired_queue_bytes", sizes[1]));
        facts.push(("timer_bytes_per_timer_incl_heads", (sizes[0] + sizes[1]) / pool));
    }
    for line in run.console.lines() {
        if let Some(rest) = line.strip_prefix("MEM ") {
            if let Some((k, v)) = rest.split_once('=') {
                if let Ok(v) = v.trim().parse::<u64>() {
                    let k: &'static str = Box::leak(k.trim().to_string().into_boxed_str());
                    facts.push((k, v));
                }
            }
        }
    }

    println!("{:<28} {:>10} {:>10} {:>6} {:>8}  {}", "figure", "median", "max", "n", "target", "");
    for f in &figures {
        let target = TARGETS.iter().find(|t| t.0 == f.name).map(|t| t.1);
        let verdict = match target {
            Some(t) if f.median <= t => "ok",
            Some(_) => "OVER",
            None => "",
        };
        let t = target.map(|t| t.to_string()).unwrap_or_else(|| "-".into());
        println!("{:<28} {:>10} {:>10} {:>6} {:>8}  {verdict}", f.name, f.median, f.max, f.n, t);
    }
    for (k, v) in &facts {
        println!("{k:<28} {v:>10}");
    }
    let rev = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(crate::root())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let json = to_json(&figures, &facts, &rev);
    std::fs::write(dir.join("bench.json"), &json)?;
    std::fs::write(dir.join(format!("bench-{rev}.json")), &json)?;
    println!("wrote {}", dir.join("bench.json").display());
    Ok(())
}

/// Sizes of the statics whose mangled names contain each of `needles`.
fn static_sizes(elf_path: &std::path::Path, needles: &[&str]) -> Result<Vec<u64>> {
    use object::{Object, ObjectSymbol};
    let data = std::fs::read(elf_path)?;
    let file = object::File::parse(&*data)?;
    needles
        .iter()
        .map(|n| {
            file.symbols()
                .find(|s| s.name().is_ok_and(|x| x.contains(n)))
                .map(|s| s.size())
                .with_context(|| format!("{}: no symbol containing {n}", elf_path.display()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bench_lines_and_skips_others() {
        let c = "kern: hi\nBENCH a median=5 max=9 n=1000\nBENCH broken median=x\nBENCH b median=1 max=2 n=3\n";
        let f = parse(c);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0], Figure { name: "a".into(), median: 5, max: 9, n: 1000 });
        assert_eq!(f[1].name, "b");
    }

    #[test]
    fn json_carries_targets() {
        let f = vec![Figure { name: "ipc_null_roundtrip".into(), median: 300, max: 310, n: 1000 }];
        let j = to_json(&f, &[("x", 1)], "abc");
        assert!(j.contains("\"target\": 400"));
        assert!(j.contains("\"x\": 1"));
        assert!(j.contains("\"git_rev\": \"abc\""));
    }
}
