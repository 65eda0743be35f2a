//! Reading what real humility prints, to compare it with our own views.
//!
//! Why: Escapement promises that Oxide's humility reads its archives and
//! dumps, and that our inspector reads real Hubris dumps; both promises are
//! checked by running (or having recorded) real humility and comparing the
//! facts it prints with ours: the fixture test of real Hubris dumps
//! (`tests/hubris_dumps.rs`) and the conformance step of `cargo xtask
//! test`. This module turns humility 0.12's text into those facts.
//!
//! Guarantees: each parser takes humility's whole output (command echo and
//! `humility: attached ...` lines are skipped) and returns only what it
//! could read; a line it cannot read is skipped, and a caller that gets
//! nothing back treats that as a failure. Layouts are humility 0.12.17's.

use std::collections::BTreeMap;

/// The lines that carry output, without the `$ humility ...` echo of the
/// recorded files and humility's `attached to ...` note.
fn body(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|l| !l.starts_with("$ ") && !l.starts_with("humility: attached"))
}

fn hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

/// `humility manifest`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Manifest {
    /// `key => value` lines (`version`, `git rev`, `image id`, `board`,
    /// `name`, `image`, `target`, `features`, `tasks`, ...).
    pub keys: BTreeMap<String, String>,
    /// Task rows: (object number, which is 1 + task id; name; features).
    pub tasks: Vec<(usize, String, Vec<String>)>,
}

impl Manifest {
    /// The image id from its `[d8, 9e, ...]` bytes (little-endian).
    pub fn image_id(&self) -> Option<u64> {
        let list = self.keys.get("image id")?.trim().strip_prefix('[')?.strip_suffix(']')?;
        let bytes: Option<Vec<u8>> = list.split(',').map(|b| u8::from_str_radix(b.trim(), 16).ok()).collect();
        let bytes = bytes?;
        (bytes.len() == 8).then(|| u64::from_le_bytes(bytes.try_into().unwrap()))
    }

    /// Task names in task-id order.
    pub fn task_names(&self) -> Vec<String> {
        let mut t = self.tasks.clone();
        t.sort_by_key(|(obj, _, _)| *obj);
        t.into_iter().map(|(_, n, _)| n).collect()
    }
}

/// Parses `humility manifest`.
pub fn manifest(text: &str) -> Manifest {
    let mut m = Manifest::default();
    let mut in_tasks = false;
    for l in body(text) {
        if l.trim_start().starts_with("ID OBJ TASK") {
            in_tasks = true;
            continue;
        }
        if in_tasks {
            let cols: Vec<&str> = l.split_whitespace().collect();
            if let (Some(obj), Some(name)) = (cols.get(1).and_then(|c| c.parse().ok()), cols.get(2)) {
                let features = cols.get(4..).unwrap_or(&[]).join(" ");
                let features = features.split(',').map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect();
                m.tasks.push((obj, name.to_string(), features));
            }
        } else if let Some((k, v)) = l.split_once("=>") {
            m.keys.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    m
}

/// One row of `humility readvar -l`: module (kernel or task), the static's
/// name (plain for `#[no_mangle]` statics, else the demangled path),
/// address, size.
#[derive(Debug, Clone, PartialEq)]
pub struct Static {
    pub module: String,
    pub name: String,
    pub addr: u64,
    pub size: u64,
}

/// Parses `humility readvar -l`.
pub fn readvar_list(text: &str) -> Vec<Static> {
    body(text)
        .filter_map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            if c.len() != 4 {
                return None;
            }
            Some(Static { module: c[0].into(), name: c[1].into(), addr: hex(c[2])?, size: c[3].parse().ok()? })
        })
        .collect()
}

/// Parses `humility readvar NAME` for a plain number: `NAME (0xADDR) =
/// VALUE`, VALUE in hex or decimal. Returns (address, value).
pub fn readvar_number(text: &str) -> Option<(u64, u64)> {
    body(text).find_map(|l| {
        let (head, value) = l.split_once(" = ")?;
        let addr = hex(head.rsplit_once('(')?.1.strip_suffix(')')?)?;
        let value = value.trim();
        let value = hex(value).or_else(|| value.parse().ok())?;
        Some((addr, value))
    })
}

/// One task region of `humility map` (kernel regions, which have no
/// descriptor, are left out): descriptor address, base, end (exclusive),
/// access letters among `rwxdm`, task id, task name.
pub type Region = (u64, u64, u64, String, u64, String);

/// Parses `humility map`.
pub fn map(text: &str) -> Vec<Region> {
    body(text)
        .filter_map(|l| {
            // DESC LOW - HIGH SIZE ATTR ID [peripheral] TASK
            let c: Vec<&str> = l.split_whitespace().collect();
            if c.len() < 7 || c[2] != "-" {
                return None;
            }
            let attr: String = c[5].chars().filter(|ch| "rwxdm".contains(*ch)).collect();
            Some((hex(c[0])?, hex(c[1])?, hex(c[3])? + 1, attr, c[6].parse().ok()?, c.last()?.to_string()))
        })
        .collect()
}

/// Access letters (among `rwxdm`) of Hubris region attribute bits, in the
/// order `map` prints them.
pub fn access_letters(bits: u64) -> String {
    [(1, 'r'), (2, 'w'), (4, 'x'), (8, 'd'), (16, 'm')].iter().filter(|(b, _)| bits & b != 0).map(|(_, c)| *c).collect()
}

/// One ring of `humility ringbuf`: task, the static's path, and its entry
/// lines (as printed).
pub type Ring = (String, String, Vec<String>);

/// Parses `humility ringbuf`.
pub fn ringbuf(text: &str) -> Vec<Ring> {
    let mut rings: Vec<Ring> = Vec::new();
    for l in body(text) {
        if let Some(rest) = l.strip_prefix("humility: ring buffer ") {
            if let Some((path, task)) = rest.trim_end_matches(':').rsplit_once(" in ") {
                rings.push((task.to_string(), path.to_string(), Vec::new()));
            }
        } else if !l.trim().is_empty() && !l.trim_start().starts_with("NDX") {
            if let Some(r) = rings.last_mut() {
                r.2.push(l.to_string());
            }
        }
    }
    rings
}

/// One task row of `humility tasks`.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: u64,
    pub name: String,
    pub generation: u64,
    pub priority: u64,
    /// The state as printed (`RUNNING`, `recv, notif: timer(T+74) fault`).
    pub state: String,
}

impl Task {
    /// The first word of the state: `RUNNING`, `recv`, `ready`, ...
    pub fn state_kind(&self) -> &str {
        self.state.split([' ', ',']).next().unwrap_or("")
    }

    /// The notifications a receiving task waits for, by name (humility's
    /// notes in parentheses, such as `(T+74)` or `(irq27)`, removed).
    pub fn waiting_for(&self) -> Vec<String> {
        match self.state.split_once("notif: ") {
            Some((_, n)) => n.split_whitespace().map(|w| w.split('(').next().unwrap_or(w).to_string()).collect(),
            None => Vec::new(),
        }
    }
}

/// One task row of `tasks` (`ID TASK GEN PRI STATE...`), if `l` is one.
fn task_row(l: &str) -> Option<Task> {
    let c: Vec<&str> = l.split_whitespace().collect();
    if c.len() < 5 {
        return None;
    }
    Some(Task { id: c[0].parse().ok()?, name: c[1].into(), generation: c[2].parse().ok()?, priority: c[3].parse().ok()?, state: c[4..].join(" ") })
}

/// Parses `humility tasks`: the system time, if shown, and the task rows.
pub fn tasks(text: &str) -> (Option<u64>, Vec<Task>) {
    let mut time = None;
    let mut rows = Vec::new();
    for l in body(text) {
        if let Some(t) = l.strip_prefix("system time = ") {
            time = t.trim().parse().ok();
            continue;
        }
        rows.extend(task_row(l));
    }
    (time, rows)
}

/// One line of a backtrace in `humility tasks -s[l]`: the frame's stack
/// pointer and pc, the function named on the line (each function inlined
/// at a pc has a line of its own, innermost first, then the function
/// itself), and with `-l` its `file:line[:column]`. A line humility prints
/// without a name (a pc in no function) has `name: None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub sp: u64,
    pub pc: u64,
    pub name: Option<String>,
    pub at: Option<String>,
}

/// One task of `humility tasks -s[l]`: its row, its backtrace lines, and
/// humility's message when it could not unwind the stack.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskStack {
    pub task: Task,
    pub frames: Vec<Frame>,
    pub failure: Option<String>,
}

/// Parses `humility tasks -s` or `tasks -sl`.
pub fn task_stacks(text: &str) -> Vec<TaskStack> {
    let mut out: Vec<TaskStack> = Vec::new();
    for l in body(text) {
        if l.starts_with("system time = ") {
            continue;
        }
        if let Some(task) = task_row(l) {
            out.push(TaskStack { task, frames: Vec::new(), failure: None });
            continue;
        }
        let Some(t) = out.last_mut() else { continue };
        let rest = l.trim().trim_start_matches("+--->").trim_start();
        if let Some(at) = rest.strip_prefix("@ ") {
            if let Some(f) = t.frames.last_mut() {
                f.at = Some(at.trim().to_string());
            }
        } else if rest.contains("unwind failed") {
            t.failure = Some(rest.to_string());
        } else {
            let mut c = rest.splitn(3, ' ');
            if let (Some(sp), Some(pc)) = (c.next().and_then(hex), c.next().and_then(hex)) {
                let name = c.next().map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
                t.frames.push(Frame { sp, pc, name, at: None });
            }
        }
    }
    out
}

/// Parses `humility registers`: (name, value) for each `NAME = 0x...`
/// line (`R0`..`R12`, `SP`, `LR`, `PC`, `PSR`, `MSP`, `PSP`, `SPR`, ...).
pub fn registers(text: &str) -> Vec<(String, u64)> {
    body(text)
        .filter_map(|l| {
            let mut c = l.split_whitespace();
            let (name, eq, value) = (c.next()?, c.next()?, c.next()?);
            let ok = eq == "=" && name.chars().all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit());
            ok.then(|| Some((name.to_string(), hex(value)?))).flatten()
        })
        .collect()
}

/// One row of `humility stackmargin`: the stack is `base..base + size`
/// (the task's RAM region up to its initial stack pointer), `depth` bytes
/// of it were ever written (not the 0xBADDCAFE paint), `margin` never.
#[derive(Debug, Clone, PartialEq)]
pub struct StackMargin {
    pub id: u64,
    pub name: String,
    pub base: u64,
    pub size: u64,
    pub depth: u64,
    pub margin: u64,
}

/// Parses `humility stackmargin`.
pub fn stack_margins(text: &str) -> Vec<StackMargin> {
    body(text)
        .filter_map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            if c.len() != 6 {
                return None;
            }
            Some(StackMargin {
                id: c[0].parse().ok()?,
                name: c[1].into(),
                base: hex(c[2])?,
                size: c[3].parse().ok()?,
                depth: c[4].parse().ok()?,
                margin: c[5].parse().ok()?,
            })
        })
        .collect()
}

/// One entry line of `humility ringbuf`: slot index, source line,
/// generation, count, and the payload as printed.
#[derive(Debug, Clone, PartialEq)]
pub struct RingEntry {
    pub index: u64,
    pub line: u64,
    pub generation: u64,
    pub count: u64,
    pub payload: String,
}

/// Parses one entry line of a ring (as [`ringbuf`] returns them).
pub fn ring_entry(l: &str) -> Option<RingEntry> {
    let mut c = l.split_whitespace();
    let mut num = || c.next()?.parse().ok();
    let (index, line, generation, count) = (num()?, num()?, num()?, num()?);
    let payload = l.split_whitespace().skip(4).collect::<Vec<_>>().join(" ");
    Some(RingEntry { index, line, generation, count, payload })
}

/// A printed value as tokens, numbers in decimal: `Init(0x40011000)` and
/// `Init(1073811456)` give the same tokens, so humility's `{:x?}`-style
/// output and ours compare by what they say, not by radix or spacing.
pub fn value_tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let flush = |w: &mut String, out: &mut Vec<String>| {
        if !w.is_empty() {
            let n = hex(w).or_else(|| w.bytes().all(|b| b.is_ascii_digit()).then(|| w.parse().ok()).flatten());
            out.push(n.map(|n| n.to_string()).unwrap_or_else(|| w.clone()));
            w.clear();
        }
    };
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() || ch == '_' {
            word.push(ch);
        } else {
            flush(&mut word, &mut out);
            if !ch.is_whitespace() {
                out.push(ch.to_string());
            }
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_keys_and_tasks() {
        let m = manifest(
            "$ humility -d x manifest\nhumility: attached to dump\n     version => hubris build archive v6\n    image id => [d0, b4, 39, bf, 67, ad, 82, 60]\n    features => g070\n                ID OBJ TASK                SIZE FEATURES\n                 0   4 idle                0.1K \n                 1   2 sys                 2.0K g070, h7\n                 2   1 jefe                4.1K log-null\n",
        );
        assert_eq!(m.keys["version"], "hubris build archive v6");
        assert_eq!(m.image_id(), Some(0x6082_ad67_bf39_b4d0));
        assert_eq!(m.task_names(), vec!["jefe", "sys", "idle"]);
        assert_eq!(m.tasks[1], (2, "sys".to_string(), vec!["g070".to_string(), "h7".to_string()]));
        assert!(m.tasks[0].2.is_empty());
    }

    #[test]
    fn statics_numbers_regions_rings_tasks() {
        let l = readvar_list("MODULE  VARIABLE  ADDR  SIZE\nkernel             kern::arch::arm_m::TICKS                   0x200004b4 8\n");
        assert_eq!(l, vec![Static { module: "kernel".into(), name: "kern::arch::arm_m::TICKS".into(), addr: 0x2000_04b4, size: 8 }]);
        assert_eq!(readvar_number("humility: attached to archive\nHUBRIS_IMAGE_ID (0x08006a00) = 0x7b3db94f29ca9ed8\n"), Some((0x0800_6a00, 0x7b3d_b94f_29ca_9ed8)));
        let m = map("DESC       LOW          HIGH          SIZE ATTR   ID TASK\n-          0x08000000 - 0x0800010b     268 r----- -  kernel\n0x080044e8 0x40013800 - 0x40013bff    1KiB rw-d-- 2  [usart1] usart_driver\n");
        assert_eq!(m, vec![(0x0800_44e8, 0x4001_3800, 0x4001_3c00, "rwd".to_string(), 2, "usart_driver".to_string())]);
        assert_eq!(access_letters(1 | 2 | 8), "rwd");
        let r = ringbuf("humility: ring buffer a::__RINGBUF in jefe:\n NDX LINE\n   0  12 x\nhumility: ring buffer b::__RINGBUF in sys:\n");
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].0.as_str(), r[0].1.as_str(), r[0].2.len()), ("jefe", "a::__RINGBUF", 1));
        assert!(r[1].2.is_empty());
        let (time, t) = tasks("system time = 42126\nID TASK                       GEN PRI STATE    \n 0 jefe                         0   0 recv, notif: timer(T+74) fault\n 3 idle                         0   5 RUNNING\n");
        assert_eq!(time, Some(42126));
        assert_eq!(t[0].state_kind(), "recv");
        assert_eq!(t[0].waiting_for(), vec!["timer", "fault"]);
        assert_eq!((t[1].id, t[1].state_kind()), (3, "RUNNING"));
    }

    #[test]
    fn stacks_registers_margins_entries() {
        let s = task_stacks(
            "humility: attached to dump\nsystem time = 0\nID TASK GEN PRI STATE\n 0 sup  0   0 recv, notif: fault\n   |\n   +--->  0x20008910 0x08024032 userlib::arch::syscall_stub5\n          0x20008af8 0x08024167 userlib::recv\n                     @ /x/lib.rs:137:13\n          0x20008af8 0x08024167 main\n                     @ /x/main.rs:39:19\n          0x200033d8 0x00000000\n\n 1 idle 0 7 RUNNING\n   stack unwind failed: no CFI\n",
        );
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].task.name, "sup");
        assert_eq!(s[0].frames.len(), 4);
        assert_eq!(s[0].frames[0], Frame { sp: 0x2000_8910, pc: 0x0802_4032, name: Some("userlib::arch::syscall_stub5".into()), at: None });
        assert_eq!(s[0].frames[2].at.as_deref(), Some("/x/main.rs:39:19"));
        assert_eq!(s[0].frames[3].name, None);
        assert_eq!(s[1].failure.as_deref(), Some("stack unwind failed: no CFI"));
        let r = registers("humility: attached to dump\n   R0 = 0x00000001\n   SP = 0x20009900 <- idle: 0x20009800+0x100\n  PSR = 0x01000000 <- 0000_0001\n                      |||| | ||\n  MSP = 0x20000800 <- kernel\n");
        assert_eq!(r, vec![("R0".into(), 1), ("SP".into(), 0x2000_9900), ("PSR".into(), 0x0100_0000), ("MSP".into(), 0x2000_0800)]);
        let m = stack_margins("ID TASK                STACKBASE  STACKSIZE   MAXDEPTH     MARGIN\n 0 supervisor         0x20008800        768        720         48\n");
        assert_eq!(m, vec![StackMargin { id: 0, name: "supervisor".into(), base: 0x2000_8800, size: 768, depth: 720, margin: 48 }]);
        let e = ring_entry("   3  108        2        1 Received { from: TaskId(0x3), op: 0x1, len: 0x5 }").unwrap();
        assert_eq!((e.index, e.line, e.generation, e.count), (3, 108, 2, 1));
        assert_eq!(value_tokens(&e.payload), value_tokens("Received { from: TaskId(3), op: 1, len: 5 }"));
        assert_ne!(value_tokens("Tick(0x7)"), value_tokens("Tick(8)"));
        assert_ne!(value_tokens("Mode(Oneshot)"), value_tokens("Mode(Periodic)"));
    }
}
