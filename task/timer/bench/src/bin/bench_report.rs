//! Turn criterion's estimates (`<target>/criterion`) into the tables of
//! `BENCHMARKS.md`, and measure W3's worst single tick (criterion reports
//! means, not maxima) for every subject.
//!
//! Usage: `cargo run -p timer-bench --release --bin bench_report -- [CRITERION_DIR] [OUT.md]`
//! (defaults: `$CARGO_TARGET_DIR/criterion` or `target/criterion`, and stdout).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use timer_bench::*;
use timer_core::Wheel;

const GROUPS: [(&str, &str); 11] = [
    ("W1_insert_short", "W1 insert, short expiries (1..256), ns per insert"),
    ("W1_insert_medium", "W1 insert, medium expiries (256..16384), ns per insert"),
    ("W1_insert_far", "W1 insert, far expiries (16384..2^24), ns per insert"),
    ("W1_insert_skewed", "W1 insert, skewed to short (70/25/5 %), ns per insert"),
    ("W2_retransmit", "W2 retransmit: re-arm / cancel+arm on random timers, ns per operation"),
    ("W3_expire_all", "W3 insert then expire all over 1024 ticks, ns per expired timer (run phase only)"),
    ("W3_empty_tick", "W3 empty tick with N timers pending far away, ns per tick"),
    ("W4_periodic", "W4 periodic timers (periods 16..1024) over 1024 ticks, ns per expiry incl. re-arm"),
    ("W5_next_expiry", "W5 next-expiry query with N pending, ns per query"),
    ("W5_catchup_3000", "W5 catch-up of 3000 empty ticks with N pending far away, ns per catch-up"),
    ("W7_hook_chain_tick", "W7 one tick through the hook chain (N = client hooks), ns per tick"),
];

const SUBJECTS: [&str; 8] =
    ["escapement", "timer-queue", "nexus-timer", "hhwt", "tokio-delayqueue", "binaryheap-lazy", "btreemap", "vec-floor"];

fn read_json(p: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()
}

/// ns per element for `group/subject/n`, from criterion's mean.
fn per_element(dir: &Path, group: &str, subject: &str, n: &str) -> Option<f64> {
    let base = dir.join(group).join(subject).join(n).join("new");
    let est = read_json(&base.join("estimates.json"))?;
    let mean = est["mean"]["point_estimate"].as_f64()?;
    let bench = read_json(&base.join("benchmark.json"))?;
    let elements = bench["throughput"]["Elements"].as_f64().unwrap_or(1.0);
    Some(mean / elements)
}

fn fmt_ns(x: f64) -> String {
    if x >= 100_000.0 {
        format!("{:.0} us", x / 1000.0)
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn table(dir: &Path, group: &str, title: &str, out: &mut String, headline: &mut BTreeMap<String, f64>) {
    let gdir = dir.join(group);
    let Ok(rd) = std::fs::read_dir(&gdir) else { return };
    let present: Vec<String> = {
        let mut v: Vec<String> = rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        v.retain(|s| SUBJECTS.contains(&s.as_str()));
        SUBJECTS.iter().filter(|s| v.contains(&s.to_string())).map(|s| s.to_string()).collect()
    };
    let mut ns: Vec<String> = std::fs::read_dir(gdir.join(&present[0]))
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    ns.retain(|n| n.parse::<u64>().is_ok());
    ns.sort_by_key(|n| n.parse::<u64>().unwrap());
    writeln!(out, "\n### {title}\n").unwrap();
    write!(out, "| N |").unwrap();
    for s in &present {
        write!(out, " {s} |").unwrap();
    }
    writeln!(out, " best peer | escapement / best peer | escapement / vec-floor |").unwrap();
    writeln!(out, "|{}", "---|".repeat(present.len() + 4)).unwrap();
    for n in &ns {
        let vals: Vec<Option<f64>> = present.iter().map(|s| per_element(dir, group, s, n)).collect();
        write!(out, "| {n} |").unwrap();
        for v in &vals {
            write!(out, " {} |", v.map_or("-".into(), fmt_ns)).unwrap();
        }
        let esc = vals[0];
        let best = present
            .iter()
            .zip(&vals)
            .filter(|(s, v)| s.as_str() != "escapement" && s.as_str() != "vec-floor" && v.is_some())
            .min_by(|a, b| a.1.unwrap().total_cmp(&b.1.unwrap()));
        let floor = present.iter().position(|s| s == "vec-floor").and_then(|i| vals[i]);
        match (esc, best) {
            (Some(e), Some((name, Some(b)))) => write!(out, " {name} | {:.2} |", e / b).unwrap(),
            _ => write!(out, " - | - |").unwrap(),
        }
        match (esc, floor) {
            (Some(e), Some(f)) => writeln!(out, " {:.2} |", e / f).unwrap(),
            _ => writeln!(out, " - |").unwrap(),
        }
        if let Some(e) = esc {
            headline.insert(format!("{group}/{n}"), e);
            if let Some(f) = floor {
                headline.insert(format!("{group}/{n}/floor_ratio"), e / f);
            }
            if let Some((_, Some(b))) = best {
                headline.insert(format!("{group}/{n}/peer_ratio"), e / b);
            }
        }
    }
}

/// W3's run phase, timing every tick on its own; returns the worst tick in ns.
fn worst_tick<S: Subject>(n: usize) -> f64 {
    let mut r = Rng::new(3);
    let ats: Vec<u64> = (0..n).map(|_| r.range(1, W3_SPAN + 1)).collect();
    let mut worst = 0f64;
    for _ in 0..3 {
        let mut s = S::build(n);
        for (id, &at) in ats.iter().enumerate() {
            s.insert_forget(at, id as u32);
        }
        for t in 1..=W3_SPAN {
            let t0 = Instant::now();
            s.advance(t, &mut |id| {
                std::hint::black_box(id);
            });
            worst = worst.max(t0.elapsed().as_nanos() as f64);
        }
    }
    worst
}

fn worst_ticks(out: &mut String) {
    writeln!(out, "\n### W3 worst single tick (ns; max over 3 runs of 1024 ticks, timed one tick at a time)\n").unwrap();
    writeln!(out, "| N | escapement | timer-queue | nexus-timer | hhwt | tokio-delayqueue | binaryheap-lazy | btreemap |").unwrap();
    writeln!(out, "|---|---|---|---|---|---|---|---|").unwrap();
    for n in [1_000usize, 10_000, 100_000, 1_000_000] {
        let esc = match n {
            1_000 => worst_tick::<Escapement<1024, u16>>(n),
            10_000 => worst_tick::<Escapement<16384, u16>>(n),
            100_000 => worst_tick::<Escapement<131072, u32>>(n),
            _ => worst_tick::<Escapement<{ 1 << 20 }, u32>>(n),
        };
        let peers = [
            worst_tick::<TimerQueuePeer>(n),
            worst_tick::<NexusPeer>(n),
            worst_tick::<HhwtPeer>(n),
            worst_tick::<TokioPeer>(n),
            worst_tick::<HeapPeer>(n),
            worst_tick::<BTreePeer>(n),
        ];
        write!(out, "| {n} | {} |", fmt_ns(esc)).unwrap();
        for p in peers {
            write!(out, " {} |", fmt_ns(p)).unwrap();
        }
        writeln!(out).unwrap();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args.first().map(PathBuf::from).unwrap_or_else(|| {
        let t = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        Path::new(&t).join("criterion")
    });
    let mut out = String::new();
    let mut head = BTreeMap::new();
    for (g, t) in GROUPS {
        table(&dir, g, t, &mut out, &mut head);
    }
    let mut worst = String::new();
    std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(move || {
            worst_ticks(&mut worst);
            worst
        })
        .unwrap()
        .join()
        .map(|w| out.push_str(&w))
        .unwrap();
    let g = |k: &str| head.get(k).copied();
    let mut sum = String::new();
    writeln!(sum, "## Headline figures (escapement = timer-core)\n").unwrap();
    let pair = |k: &str| match (g(k), g(&format!("{k}/floor_ratio")), g(&format!("{k}/peer_ratio"))) {
        (Some(v), Some(f), Some(p)) => format!("{} ns/op, {:.2}x the Vec floor, {:.2}x the best peer", fmt_ns(v), f, p),
        (Some(v), None, Some(p)) => format!("{} ns, {:.2}x the best peer", fmt_ns(v), p),
        (Some(v), _, _) => format!("{} ns", fmt_ns(v)),
        _ => "not measured".into(),
    };
    for (label, key) in [
        ("W2 retransmit, N = 1e5", "W2_retransmit/100000"),
        ("W2 retransmit, N = 1e6", "W2_retransmit/1000000"),
        ("W3 per expired timer, N = 1e5", "W3_expire_all/100000"),
        ("W3 per expired timer, N = 1e6", "W3_expire_all/1000000"),
        ("W3 empty tick, N = 1e5", "W3_empty_tick/100000"),
        ("W3 empty tick, N = 1e6", "W3_empty_tick/1000000"),
        ("W5 3000-tick catch-up, N = 1e5", "W5_catchup_3000/100000"),
        ("W5 3000-tick catch-up, N = 1e6", "W5_catchup_3000/1000000"),
        ("W5 next-expiry query, N = 1e6", "W5_next_expiry/1000000"),
        ("W7 tick with 8 client hooks", "W7_hook_chain_tick/8"),
    ] {
        writeln!(sum, "- {label}: {}", pair(key)).unwrap();
    }
    writeln!(
        sum,
        "- Memory: {} bytes per timer with u16 links (pools up to 64 511), {} with u32 links; wheel heads {} bytes (1024 list sentinels + 2 x 512-bit occupancy bitmaps).",
        Wheel::<1024>::bytes_per_timer(),
        Wheel::<1024, (), u32>::bytes_per_timer(),
        Wheel::<1024>::head_bytes()
    )
    .unwrap();
    let text = format!("{sum}\n## Tables (ns per element, criterion mean; ratios < 1 mean escapement is faster)\n{out}");
    match args.get(1) {
        Some(p) => std::fs::write(p, text).unwrap(),
        None => print!("{text}"),
    }
}
