//! The shape of an app file: which keys exist, which are required, and what
//! type each value has.
//!
//! This module walks the parsed TOML by hand (rather than through serde
//! derive) so that every problem can be reported with its exact key path and
//! so that all problems are collected, not just the first. It produces an
//! [`AppDraft`]: the app as written, with `None` wherever a value was missing
//! or of the wrong type (a diagnostic has then been recorded). Rules that
//! relate values to each other live in `validate`.
//!
//! Guarantees: every key not in the schema is reported, with a "did you mean"
//! when a known key is close; every missing required key is reported with an
//! example of what to write; the order of `[tasks.*]` tables is kept (it is
//! the task-id order), and so is that of `[shared.*]` tables and of each
//! task's `windows`.

use crate::error::{list, suggest, Diags, KeyPath};
use toml::{Table, Value};

/// Stack size, in bytes, of a task that does not set `stacksize`.
///
/// 1 KiB: enough for a task that formats a few messages and makes IPC
/// calls, and a quarter of a 4 KiB RAM budget. Tasks with bigger frames set it.
pub const DEFAULT_TASK_STACKSIZE: u32 = 1024;

pub(crate) const TOP_KEYS: &[&str] = &["name", "target", "board", "chip", "kernel", "tasks", "shared"];
pub(crate) const SHARED_KEYS: &[&str] = &["size", "writer", "readers"];
pub(crate) const WINDOW_KEYS: &[&str] = &["peripheral", "offset", "size", "access", "alias"];
pub(crate) const KERNEL_KEYS: &[&str] = &["name", "requires", "stacksize", "features", "log-task", "log-notification"];
pub(crate) const SIZE_KEYS: &[&str] = &["flash", "ram"];
pub(crate) const TASK_KEYS: &[&str] = &[
    "name",
    "priority",
    "max-sizes",
    "stacksize",
    "start",
    "uses",
    "notifications",
    "interrupts",
    "task-slots",
    "config",
    "features",
    "windows",
];

/// A table being read, with the keys it may contain.
pub(crate) struct Fields<'a> {
    pub table: &'a Table,
    pub path: KeyPath,
    known: &'static [&'static str],
    /// How the table is named in messages, e.g. "[kernel]".
    what: String,
}

impl<'a> Fields<'a> {
    pub fn new(table: &'a Table, path: KeyPath, known: &'static [&'static str], what: String) -> Self {
        Fields { table, path, known, what }
    }

    /// The value of `key`, if present, and its path.
    pub fn get(&self, key: &str) -> Option<(&'a Value, KeyPath)> {
        self.table.get(key).map(|v| (v, self.path.key(key)))
    }

    /// The value of `key`; if absent, reports it as missing with `example`
    /// as the fix.
    pub fn required(&self, d: &mut Diags, key: &str, example: &str) -> Option<(&'a Value, KeyPath)> {
        let got = self.get(key);
        if got.is_none() {
            d.error(
                &self.path,
                format!("{} is missing the required key `{key}`", self.what),
                format!("add `{example}` to {}", self.what),
            );
        }
        got
    }

    /// Reports every key that is not in the schema.
    pub fn check_unknown(&self, d: &mut Diags) {
        for key in self.table.keys() {
            if !self.known.contains(&key.as_str()) {
                let rest = format!(
                    "remove it; the keys {} may contain are {}",
                    self.what,
                    list(self.known.iter().copied())
                );
                d.error(
                    &self.path.key(key),
                    format!("unknown key `{key}` in {}", self.what),
                    suggest(key, self.known.iter().copied(), &rest),
                );
            }
        }
    }
}

/// TOML's name for the type of `v`, with the value for short scalars.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the string {s:?}"),
        Value::Integer(i) => format!("the integer {i}"),
        Value::Float(x) => format!("the float {x}"),
        Value::Boolean(b) => format!("the boolean {b}"),
        Value::Datetime(t) => format!("the datetime {t}"),
        Value::Array(_) => "an array".to_string(),
        Value::Table(_) => "a table".to_string(),
    }
}

fn wrong_type(d: &mut Diags, path: &KeyPath, v: &Value, expected: &str, example: &str) {
    d.error(
        path,
        format!("`{path}` must be {expected}, but is {}", describe(v)),
        format!("write it as `{example}`"),
    );
}

pub(crate) fn string(d: &mut Diags, path: &KeyPath, v: &Value, example: &str) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::String(_) => {
            d.error(path, format!("`{path}` is empty"), format!("write it as `{example}`"));
            None
        }
        _ => {
            wrong_type(d, path, v, "a string", example);
            None
        }
    }
}

/// A non-negative integer that fits in 32 bits (sizes, addresses, IRQs).
pub(crate) fn u32_value(d: &mut Diags, path: &KeyPath, v: &Value, example: &str) -> Option<u32> {
    match v {
        Value::Integer(i) if (0..=u32::MAX as i64).contains(i) => Some(*i as u32),
        Value::Integer(i) => {
            d.error(
                path,
                format!("`{path}` is {i}, outside 0..=0xFFFF_FFFF"),
                format!("write a value that fits in 32 bits, e.g. `{example}`"),
            );
            None
        }
        _ => {
            wrong_type(d, path, v, "an integer", example);
            None
        }
    }
}

pub(crate) fn bool_value(d: &mut Diags, path: &KeyPath, v: &Value, example: &str) -> Option<bool> {
    match v {
        Value::Boolean(b) => Some(*b),
        _ => {
            wrong_type(d, path, v, "a boolean", example);
            None
        }
    }
}

pub(crate) fn table<'a>(d: &mut Diags, path: &KeyPath, v: &'a Value, example: &str) -> Option<&'a Table> {
    match v {
        Value::Table(t) => Some(t),
        _ => {
            wrong_type(d, path, v, "a table", example);
            None
        }
    }
}

/// A list of strings; bad elements are reported and skipped.
pub(crate) fn str_list(d: &mut Diags, path: &KeyPath, v: &Value, example: &str) -> Vec<String> {
    let Value::Array(items) = v else {
        wrong_type(d, path, v, "a list of strings", example);
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item {
            Value::String(s) => out.push(s.clone()),
            _ => wrong_type(d, &path.index(i), item, "a string", "\"name\""),
        }
    }
    out
}

/// A `{ flash = N, ram = N }` table as written; either may be `None`.
#[derive(Clone, Debug, Default)]
pub(crate) struct SizesDraft {
    pub flash: Option<u32>,
    pub ram: Option<u32>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct KernelDraft {
    pub package: Option<String>,
    pub requires: SizesDraft,
    pub stacksize: Option<u32>,
    pub features: Vec<String>,
    /// `log-task`: the task that prints the kernel log.
    pub log_task: Option<String>,
    /// `log-notification`: the notification of `log-task` the kernel posts.
    pub log_notification: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct TaskDraft {
    pub name: String,
    pub package: Option<String>,
    pub priority: Option<u8>,
    pub max_sizes: SizesDraft,
    pub stacksize: Option<u32>,
    pub start: bool,
    pub uses: Vec<String>,
    pub notifications: Vec<String>,
    /// (`"<peripheral>.<irq>"` key, notification name if it was a string)
    pub interrupts: Vec<(String, Option<String>)>,
    pub task_slots: Vec<String>,
    pub config: Table,
    pub features: Vec<String>,
    pub windows: Vec<WindowDraft>,
}

/// A `[tasks.<name>.windows.<window>]` table as written.
#[derive(Clone, Debug, Default)]
pub(crate) struct WindowDraft {
    pub name: String,
    pub peripheral: Option<String>,
    pub offset: Option<u32>,
    pub size: Option<u32>,
    pub access: Option<String>,
    pub alias: Option<String>,
}

/// A `[shared.<name>]` table as written.
#[derive(Clone, Debug, Default)]
pub(crate) struct SharedDraft {
    pub name: String,
    pub size: Option<u32>,
    pub writer: Option<String>,
    pub readers: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct AppDraft {
    pub name: Option<String>,
    pub target: Option<String>,
    pub board: Option<String>,
    pub chip: Option<String>,
    pub kernel: Option<KernelDraft>,
    pub tasks: Vec<TaskDraft>,
    /// `[shared.*]`, in declaration order.
    pub shared: Vec<SharedDraft>,
    /// False if `tasks` was missing or not a table (so task rules are moot).
    pub has_tasks: bool,
}

fn sizes(d: &mut Diags, path: &KeyPath, v: &Value, what: &str, example: &str) -> SizesDraft {
    let Some(t) = table(d, path, v, example) else {
        return SizesDraft::default();
    };
    let f = Fields::new(t, path.clone(), SIZE_KEYS, format!("`{path}` ({what})"));
    f.check_unknown(d);
    let mut out = SizesDraft::default();
    if let Some((v, p)) = f.required(d, "flash", "flash = 4096") {
        out.flash = u32_value(d, &p, v, "flash = 4096");
    }
    if let Some((v, p)) = f.required(d, "ram", "ram = 1024") {
        out.ram = u32_value(d, &p, v, "ram = 1024");
    }
    out
}

fn kernel(d: &mut Diags, path: &KeyPath, v: &Value) -> Option<KernelDraft> {
    let t = table(d, path, v, "[kernel]")?;
    let f = Fields::new(t, path.clone(), KERNEL_KEYS, "[kernel]".to_string());
    f.check_unknown(d);
    let mut k = KernelDraft::default();
    if let Some((v, p)) = f.required(d, "name", "name = \"kboot\"") {
        k.package = string(d, &p, v, "name = \"kboot\"");
    }
    if let Some((v, p)) = f.required(d, "requires", "requires = { flash = 32768, ram = 8192 }") {
        k.requires = sizes(d, &p, v, "bytes the kernel needs", "requires = { flash = 32768, ram = 8192 }");
    }
    if let Some((v, p)) = f.required(d, "stacksize", "stacksize = 2048") {
        k.stacksize = u32_value(d, &p, v, "stacksize = 2048");
    }
    if let Some((v, p)) = f.get("features") {
        k.features = str_list(d, &p, v, "features = [\"feature-name\"]");
    }
    if let Some((v, p)) = f.get("log-task") {
        k.log_task = string(d, &p, v, "log-task = \"console\"");
    }
    if let Some((v, p)) = f.get("log-notification") {
        k.log_notification = string(d, &p, v, "log-notification = \"klog\"");
    }
    Some(k)
}

fn task(d: &mut Diags, path: &KeyPath, name: &str, v: &Value) -> TaskDraft {
    let mut t = TaskDraft {
        name: name.to_string(),
        package: None,
        priority: None,
        max_sizes: SizesDraft::default(),
        stacksize: Some(DEFAULT_TASK_STACKSIZE),
        start: true,
        uses: Vec::new(),
        notifications: Vec::new(),
        interrupts: Vec::new(),
        task_slots: Vec::new(),
        config: Table::new(),
        features: Vec::new(),
        windows: Vec::new(),
    };
    let Some(tab) = table(d, path, v, &format!("[tasks.{name}]")) else {
        return t;
    };
    let what = format!("[tasks.{name}]");
    let f = Fields::new(tab, path.clone(), TASK_KEYS, what);
    f.check_unknown(d);
    if let Some((v, p)) = f.required(d, "name", "name = \"task-package\"") {
        t.package = string(d, &p, v, "name = \"task-package\"");
    }
    if let Some((v, p)) = f.required(d, "priority", "priority = 3") {
        if let Some(n) = u32_value(d, &p, v, "priority = 3") {
            if n < 32 {
                t.priority = Some(n as u8);
            } else {
                d.error(
                    &p,
                    format!("task `{name}` has priority {n}, but priorities stop at 31"),
                    "use a priority from 0 (highest, the supervisor only) to 31 (lowest)",
                );
            }
        }
    }
    if let Some((v, p)) = f.required(d, "max-sizes", "max-sizes = { flash = 8192, ram = 1024 }") {
        t.max_sizes = sizes(d, &p, v, "the task's memory budget in bytes", "max-sizes = { flash = 8192, ram = 1024 }");
    }
    if let Some((v, p)) = f.get("stacksize") {
        t.stacksize = u32_value(d, &p, v, "stacksize = 1024");
    }
    if let Some((v, p)) = f.get("start") {
        t.start = bool_value(d, &p, v, "start = true").unwrap_or(true);
    }
    if let Some((v, p)) = f.get("uses") {
        t.uses = str_list(d, &p, v, "uses = [\"usart1\"]");
    }
    if let Some((v, p)) = f.get("notifications") {
        t.notifications = str_list(d, &p, v, "notifications = [\"tick\"]");
    }
    if let Some((v, p)) = f.get("interrupts") {
        if let Some(irqs) = table(d, &p, v, "interrupts = { \"tim3.irq\" = \"tick\" }") {
            for (key, val) in irqs {
                let kp = p.key(key);
                let note = string(d, &kp, val, &format!("\"{key}\" = \"notification-name\""));
                t.interrupts.push((key.clone(), note));
            }
        }
    }
    if let Some((v, p)) = f.get("task-slots") {
        t.task_slots = str_list(d, &p, v, "task-slots = [\"console\"]");
    }
    if let Some((v, p)) = f.get("config") {
        if let Some(c) = table(d, &p, v, "config = { key = \"value\" }") {
            t.config = c.clone();
        }
    }
    if let Some((v, p)) = f.get("features") {
        t.features = str_list(d, &p, v, "features = [\"feature-name\"]");
    }
    if let Some((v, p)) = f.get("windows") {
        if let Some(ws) = table(d, &p, v, WINDOW_EXAMPLE) {
            for (wname, wv) in ws {
                t.windows.push(window(d, &p.key(wname), wname, wv));
            }
        }
    }
    t
}

const WINDOW_EXAMPLE: &str = "windows = { clocksource = { peripheral = \"tim5\", offset = 0x20, size = 32, access = \"read\" } }";

fn window(d: &mut Diags, path: &KeyPath, name: &str, v: &Value) -> WindowDraft {
    let mut w = WindowDraft { name: name.to_string(), ..Default::default() };
    let Some(t) = table(d, path, v, WINDOW_EXAMPLE) else { return w };
    let f = Fields::new(t, path.clone(), WINDOW_KEYS, format!("window `{name}`"));
    f.check_unknown(d);
    if let Some((v, p)) = f.required(d, "peripheral", "peripheral = \"tim5\"") {
        w.peripheral = string(d, &p, v, "peripheral = \"tim5\"");
    }
    if let Some((v, p)) = f.required(d, "offset", "offset = 0x20") {
        w.offset = u32_value(d, &p, v, "offset = 0x20");
    }
    if let Some((v, p)) = f.required(d, "size", "size = 32") {
        w.size = u32_value(d, &p, v, "size = 32");
    }
    if let Some((v, p)) = f.required(d, "access", "access = \"read\"") {
        w.access = string(d, &p, v, "access = \"read\"");
    }
    if let Some((v, p)) = f.get("alias") {
        w.alias = string(d, &p, v, "alias = \"bit-band\"");
    }
    w
}

fn shared(d: &mut Diags, path: &KeyPath, name: &str, v: &Value) -> SharedDraft {
    let mut s = SharedDraft { name: name.to_string(), ..Default::default() };
    let what = format!("[shared.{name}]");
    let Some(t) = table(d, path, v, &what) else { return s };
    let f = Fields::new(t, path.clone(), SHARED_KEYS, what);
    f.check_unknown(d);
    if let Some((v, p)) = f.required(d, "size", "size = 64") {
        s.size = u32_value(d, &p, v, "size = 64");
    }
    if let Some((v, p)) = f.required(d, "writer", "writer = \"timer\"") {
        s.writer = string(d, &p, v, "writer = \"timer\"");
    }
    if let Some((v, p)) = f.get("readers") {
        s.readers = str_list(d, &p, v, "readers = [\"heartbeat\"]");
    }
    s
}

/// Reads the whole app file. Problems go to `d`; the draft holds what could
/// be read.
pub(crate) fn parse_app(d: &mut Diags, root: &Table) -> AppDraft {
    let f = Fields::new(root, KeyPath::root(), TOP_KEYS, "the app file's top level".to_string());
    f.check_unknown(d);
    let mut app = AppDraft::default();
    if let Some((v, p)) = f.required(d, "name", "name = \"my-image\"") {
        app.name = string(d, &p, v, "name = \"my-image\"");
    }
    if let Some((v, p)) = f.required(d, "target", "target = \"thumbv7em-none-eabihf\"") {
        app.target = string(d, &p, v, "target = \"thumbv7em-none-eabihf\"");
    }
    if let Some((v, p)) = f.required(d, "board", "board = \"netduinoplus2\"") {
        app.board = string(d, &p, v, "board = \"netduinoplus2\"");
    }
    if let Some((v, p)) = f.required(d, "chip", "chip = \"stm32f405\"") {
        app.chip = string(d, &p, v, "chip = \"stm32f405\"");
    }
    if let Some((v, p)) = f.required(d, "kernel", "[kernel] table with name, requires and stacksize") {
        app.kernel = kernel(d, &p, v);
    }
    if let Some((v, p)) = f.get("shared") {
        if let Some(regions) = table(d, &p, v, "[shared.time-page]") {
            for (name, sv) in regions {
                app.shared.push(shared(d, &p.key(name), name, sv));
            }
        }
    }
    if let Some((v, p)) = f.required(d, "tasks", "[tasks.<name>] tables, at least `supervisor` and `idle`") {
        if let Some(tasks) = table(d, &p, v, "[tasks.supervisor]") {
            app.has_tasks = true;
            for (name, tv) in tasks {
                let tp = p.key(name);
                app.tasks.push(task(d, &tp, name, tv));
            }
        }
    }
    app
}
