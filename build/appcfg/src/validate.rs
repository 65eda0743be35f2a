//! The rules an app must follow beyond its schema, and the conversion of a
//! checked draft into an [`App`].
//!
//! These rules are what keep a built image sound: the supervisor is task 0
//! at priority 0; `idle` is strictly the lowest priority; a task only holds
//! slots to strictly higher-priority tasks (so IPC, which only ever blocks
//! "uphill", cannot deadlock); memory budgets are legal ARMv7-M MPU regions;
//! each task needs at most 8 MPU regions (flash, RAM, each peripheral it
//! uses, each window, each shared region it reads or writes); each IRQ has
//! exactly one owner and is delivered as one of the owner's notifications;
//! every name that becomes a Rust identifier in generated code is one.
//!
//! Shared regions (`[shared.*]`) are one MPU-legal RAM region with exactly
//! one writer (an existing task) and readers that are other tasks, each
//! named once and each of strictly lower priority than the writer (readers
//! use a sequence lock: one that could preempt the writer mid-update would
//! wait on it forever). Windows (`[tasks.*.windows.*]`) are MPU-legal
//! blocks (power of two >= 32 bytes, aligned to their size) inside a
//! peripheral of the chip file, or inside its bit-band alias, with access
//! `read` or `read-write`; a task may not hold a window on a peripheral it
//! already `uses` whole.
//!
//! Guarantee: [`check`] reports every broken rule it can see (a rule whose
//! inputs were already reported as malformed is skipped rather than reported
//! twice), and [`build`] is only called on drafts that passed it, so the
//! resulting [`App`] satisfies all of the above.

use crate::chip::Chip;
use crate::error::{list, suggest, Diags, KeyPath};
use crate::schema::{AppDraft, KernelDraft, SharedDraft, SizesDraft, TaskDraft, WindowDraft};
use crate::{codegen, names, Access, App, Interrupt, Kernel, KernelLog, SharedRegion, Sizes, Task, Window, BIT_BAND_ALIAS, BIT_BAND_REGION};
use std::collections::HashMap;

/// Most tasks an image may have. The kernel keeps its runnable and
/// sending tasks in 32-bit sets (`kern::taskset`), so that scheduling and
/// `recv` cost the same in any image; a `TaskId` itself has room for 1023.
pub const MAX_TASKS: usize = 32;
/// Most notification bits a task has (one `u32` mask).
pub const MAX_NOTIFICATIONS: usize = 32;
/// MPU regions on ARMv7-M.
pub const MPU_REGIONS: usize = 8;
/// Smallest flash or RAM budget of a task, in bytes.
pub const MIN_TASK_REGION: u32 = 256;
/// Smallest stack, in bytes: room for the exception frame (with FP state)
/// plus a few calls.
pub const MIN_STACK: u32 = 256;
/// Targets whose MPU follows the ARMv7-M rules this crate allocates for.
pub const TARGETS: &[&str] = &["thumbv7em-none-eabihf", "thumbv7em-none-eabi", "thumbv7m-none-eabi"];

fn tasks_path() -> KeyPath {
    KeyPath::root().key("tasks")
}

fn task_path(t: &TaskDraft) -> KeyPath {
    tasks_path().key(&t.name)
}

/// The nearest power of two >= `MIN_TASK_REGION` to `n`, and the other
/// neighbour, as a sentence.
pub(crate) fn legal_size_advice(n: u32) -> (u32, String) {
    if n <= MIN_TASK_REGION {
        return (MIN_TASK_REGION, format!("use {MIN_TASK_REGION}, the smallest budget a task may have"));
    }
    let down = 1u32 << (31 - n.leading_zeros());
    let up = (down as u64) * 2;
    if up > u32::MAX as u64 {
        return (down, format!("use {down}"));
    }
    let up = up as u32;
    if n - down < up - n {
        (down, format!("use {down} (the nearest power of two), or {up} if the task does not fit"))
    } else {
        (up, format!("use {up} (the nearest power of two that holds {n}), or {down} if the task fits"))
    }
}

fn check_budget(d: &mut Diags, path: &KeyPath, owner: &str, what: &str, n: u32) {
    if n >= MIN_TASK_REGION && n.is_power_of_two() {
        return;
    }
    let (nearest, advice) = legal_size_advice(n);
    let why = if n < MIN_TASK_REGION {
        format!("is below the minimum of {MIN_TASK_REGION} bytes")
    } else {
        "is not a power of two, and the ARMv7-M MPU only maps power-of-two regions aligned to their size".to_string()
    };
    d.error(
        path,
        format!("{owner}'s {what} budget of {n} bytes {why}; the nearest legal size is {nearest}"),
        format!("{advice}: `{what} = {nearest}`"),
    );
}

fn check_stack(d: &mut Diags, path: &KeyPath, owner: &str, stack: u32, ram: Option<u32>, ram_key: &str) {
    if !stack.is_multiple_of(8) {
        let up = (stack / 8 + 1) * 8;
        d.error(
            path,
            format!("{owner}'s stacksize {stack} is not a multiple of 8 (the AAPCS stack alignment)"),
            format!("use `stacksize = {up}`{}", if stack > 8 { format!(" or {}", stack / 8 * 8) } else { String::new() }),
        );
    }
    if stack < MIN_STACK {
        d.error(
            path,
            format!("{owner}'s stacksize {stack} is below the minimum of {MIN_STACK} bytes (an exception frame with FPU state alone takes 104)"),
            format!("use `stacksize = {MIN_STACK}` or more"),
        );
    }
    if let Some(ram) = ram {
        if stack > ram {
            let need = stack.checked_next_power_of_two().unwrap_or(stack).max(MIN_TASK_REGION);
            d.error(
                path,
                format!("{owner}'s stacksize {stack} does not fit in its {ram} bytes of RAM ({ram_key})"),
                format!("lower stacksize to at most {ram}, or raise {ram_key} to {need} or more (the stack, .data and .bss share that RAM)"),
            );
        }
    }
}

fn check_kernel(d: &mut Diags, k: &KernelDraft, chip: Option<&Chip>) {
    let kp = KeyPath::root().key("kernel");
    let rp = kp.key("requires");
    let SizesDraft { flash, ram } = k.requires;
    for (what, n, mem) in [("flash", flash, chip.map(|c| c.flash)), ("ram", ram, chip.map(|c| c.ram))] {
        let Some(n) = n else { continue };
        let p = rp.key(what);
        if n == 0 {
            d.error(&p, format!("the kernel requires 0 bytes of {what}"), format!("give the kernel's real {what} need in bytes, e.g. `{what} = 8192`"));
        }
        if let Some(mem) = mem {
            if n > mem.size {
                d.error(
                    &p,
                    format!("the kernel requires {n} bytes of {what}, but the chip has only {} bytes", mem.size),
                    format!("lower kernel.requires.{what} below {} (tasks need room too)", mem.size),
                );
            }
        }
    }
    if let Some(stack) = k.stacksize {
        check_stack(d, &kp.key("stacksize"), "the kernel", stack, ram, "kernel.requires.ram");
    }
}

/// Checks every rule. `chip` is `None` if the chip file could not be loaded
/// (that was reported); chip-dependent rules are skipped then.
pub(crate) fn check(d: &mut Diags, app: &AppDraft, chip: Option<&Chip>) {
    if let Some(t) = &app.target {
        if !TARGETS.contains(&t.as_str()) {
            let rest = format!(
                "Escapement lays out memory for the ARMv7-M MPU; use one of {}",
                list(TARGETS.iter().copied())
            );
            d.error(
                &KeyPath::root().key("target"),
                format!("target `{t}` is not an ARMv7-M target"),
                suggest(t, TARGETS.iter().copied(), &rest),
            );
        }
    }
    if let Some(n) = &app.name {
        if !n.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            d.error(
                &KeyPath::root().key("name"),
                format!("image name {n:?} has characters other than letters, digits, `-`, `_` and `.` (it names the archive file)"),
                format!("use e.g. `name = \"{}\"`", names::sanitized(n).replace('_', "-")),
            );
        }
    }
    if let Some(k) = &app.kernel {
        check_kernel(d, k, chip);
    }
    if !app.has_tasks {
        return;
    }
    check_tasks(d, &app.tasks, &app.shared, chip);
    check_shared(d, &app.shared, &app.tasks);
    if let Some(k) = &app.kernel {
        check_kernel_log(d, k, &app.tasks);
    }
}

/// `[kernel] log-task` and `log-notification`: both or neither; the task
/// exists and declares the notification.
fn check_kernel_log(d: &mut Diags, k: &KernelDraft, tasks: &[TaskDraft]) {
    let kp = KeyPath::root().key("kernel");
    match (&k.log_task, &k.log_notification) {
        (None, None) => {}
        (Some(_), None) => d.error(
            &kp.key("log-task"),
            "log-task is given without log-notification",
            "add `log-notification = \"klog\"` naming a notification of that task (the kernel posts it when a line is queued)",
        ),
        (None, Some(_)) => d.error(
            &kp.key("log-notification"),
            "log-notification is given without log-task",
            "add `log-task = \"console\"` naming the task that prints the kernel log, or remove log-notification",
        ),
        (Some(task), Some(note)) => match tasks.iter().find(|t| &t.name == task) {
            None => d.error(
                &kp.key("log-task"),
                format!("log-task names `{task}`, which is no task of this app"),
                suggest(task, tasks.iter().map(|t| t.name.as_str()), "name the console task, e.g. `log-task = \"console\"`"),
            ),
            Some(t) if !t.notifications.iter().any(|n| n == note) => d.error(
                &kp.key("log-notification"),
                format!("task `{task}` has no notification `{note}`"),
                format!("add \"{note}\" to [tasks.{task}] notifications, or name one it has"),
            ),
            Some(_) => {}
        },
    }
}

/// `[shared.*]`: legal MPU sizes, an existing writer, existing readers
/// that are not the writer, each named once, each of strictly lower
/// priority than the writer.
fn check_shared(d: &mut Diags, shared: &[SharedDraft], tasks: &[TaskDraft]) {
    let task_names = || tasks.iter().map(|t| t.name.as_str());
    let find = |n: &str| tasks.iter().find(|t| t.name == n);
    let mut consts: HashMap<String, &str> = HashMap::new();
    for s in shared {
        let sp = KeyPath::root().key("shared").key(&s.name);
        if !names::is_ident(&s.name) {
            d.error(
                &sp,
                format!("shared region name `{}` is not an identifier even with `-` read as `_` (it becomes `shared::{}_BASE`)", s.name, names::const_name(&s.name)),
                format!("rename the table to [shared.{}]", names::sanitized(&s.name).replace('_', "-")),
            );
        } else if let Some(prev) = consts.insert(names::const_name(&s.name), &s.name) {
            d.error(&sp, format!("shared regions `{prev}` and `{}` both become `shared::{}`", s.name, names::const_name(&s.name)), "rename one of them");
        }
        if let Some(n) = s.size {
            if n < crate::chip::MPU_MIN_REGION || !n.is_power_of_two() {
                let up = n.max(crate::chip::MPU_MIN_REGION).checked_next_power_of_two().unwrap_or(1 << 31);
                d.error(
                    &sp.key("size"),
                    format!("shared region `{}` has size {n}, but it must be one MPU region: a power of two of at least 32 bytes", s.name),
                    format!("use `size = {up}`"),
                );
            }
        }
        let writer = s.writer.as_deref().and_then(|w| {
            let t = find(w);
            if t.is_none() {
                let rest = format!("`writer` names the one task that writes the region: one of {}", list(task_names()));
                d.error(&sp.key("writer"), format!("shared region `{}` has writer `{w}`, but there is no task of that name", s.name), suggest(w, task_names(), &rest));
            }
            t
        });
        let rp = sp.key("readers");
        for (i, r) in s.readers.iter().enumerate() {
            let p = rp.index(i);
            if s.readers[..i].contains(r) {
                d.error(&p, format!("shared region `{}` lists reader `{r}` twice", s.name), "remove the duplicate");
                continue;
            }
            if s.writer.as_deref() == Some(r.as_str()) {
                d.error(&p, format!("`{r}` is the writer of shared region `{}` and also listed as a reader", s.name), format!("remove \"{r}\" from readers: the writer maps the region read/write"));
                continue;
            }
            let Some(t) = find(r) else {
                let rest = format!("readers name [tasks.*] tables: {}", list(task_names()));
                d.error(&p, format!("shared region `{}` has reader `{r}`, but there is no task of that name", s.name), suggest(r, task_names(), &rest));
                continue;
            };
            if let (Some(w), Some(wp), Some(tp)) = (writer, writer.and_then(|w| w.priority), t.priority) {
                if tp <= wp {
                    d.error(
                        &p,
                        format!(
                            "reader `{r}` (priority {tp}) of shared region `{}` does not rank strictly below its writer `{}` (priority {wp}): a reader that can preempt the writer mid-update could wait on that update forever (the region is read under a sequence lock)",
                            s.name, w.name
                        ),
                        format!("give `{r}` a priority number above {wp}, or give the writer a smaller one, or remove the reader"),
                    );
                }
            }
        }
    }
}

/// The first address of window `w` on peripheral `per` (`base`, `size`),
/// or why it is not a legal window.
pub fn window_base(per_base: u32, per_size: u32, offset: u32, size: u32, bit_band: bool) -> Result<u32, String> {
    if size < crate::chip::MPU_MIN_REGION || !size.is_power_of_two() {
        return Err(format!("size {size} is not a power of two of at least 32 bytes (one MPU region)"));
    }
    if offset % size != 0 {
        return Err(format!("offset {offset:#x} is not a multiple of its size {size:#x} (an MPU region is aligned to its size)"));
    }
    let (base, span) = if bit_band {
        // The whole peripheral must be in the bit-band region (its first
        // MiB): the alias of anything past it is not this peripheral's.
        let in_region = per_base
            .checked_sub(BIT_BAND_REGION)
            .filter(|o| *o as u64 + per_size as u64 <= 0x10_0000);
        let Some(o) = in_region else {
            return Err(format!("the peripheral at {} ({per_size:#x} bytes) lies (at least partly) outside the bit-band region 0x4000_0000..0x4010_0000, so it has no bit-band alias", codegen::addr(per_base as u64)));
        };
        (BIT_BAND_ALIAS as u64 + o as u64 * 32, per_size as u64 * 32)
    } else {
        (per_base as u64, per_size as u64)
    };
    if offset as u64 + size as u64 > span {
        return Err(format!("offset {offset:#x} + size {size:#x} runs past the end of the peripheral's {} ({span:#x} bytes)", if bit_band { "bit-band alias" } else { "registers" }));
    }
    Ok((base + offset as u64) as u32)
}

fn parse_access(a: &str) -> Option<Access> {
    match a {
        "read" => Some(Access::Read),
        "read-write" => Some(Access::ReadWrite),
        _ => None,
    }
}

fn check_window(d: &mut Diags, t: &TaskDraft, w: &WindowDraft, chip: Option<&Chip>) {
    let wp = task_path(t).key("windows").key(&w.name);
    let owner = format!("task `{}`", t.name);
    if !names::is_ident(&w.name) {
        d.error(&wp, format!("window name `{}` of {owner} is not an identifier (it becomes `windows::{}_BASE`)", w.name, names::const_name(&w.name)), format!("rename it, e.g. `{}`", names::sanitized(&w.name)));
    }
    if let Some(a) = &w.access {
        if parse_access(a).is_none() {
            d.error(&wp.key("access"), format!("window `{}` of {owner} has access {a:?}", w.name), "use `access = \"read\"` (unprivileged reads only) or `access = \"read-write\"`");
        }
    }
    let bit_band = match w.alias.as_deref() {
        None => false,
        Some("bit-band") => true,
        Some(a) => {
            d.error(&wp.key("alias"), format!("window `{}` of {owner} has alias {a:?}", w.name), "remove `alias` for a window on the registers, or write `alias = \"bit-band\"` for one on their bit-band alias");
            return;
        }
    };
    let (Some(chip), Some(pname), Some(offset), Some(size)) = (chip, &w.peripheral, w.offset, w.size) else { return };
    let Some(per) = chip.peripherals.get(pname) else {
        let rest = format!("the chip `{}` has the peripherals {}", chip.name, list(chip.peripherals.keys().map(|s| s.as_str())));
        d.error(&wp.key("peripheral"), format!("window `{}` of {owner} is on peripheral `{pname}`, which the chip file does not describe", w.name), suggest(pname, chip.peripherals.keys().map(|s| s.as_str()), &rest));
        return;
    };
    if !bit_band && t.uses.iter().any(|u| u == pname) {
        d.error(
            &wp,
            format!("{owner} has window `{}` on `{pname}`, which it already maps whole (`uses`)", w.name),
            format!("remove the window, or remove \"{pname}\" from `uses` if the task should reach only the window"),
        );
    }
    if let Err(why) = window_base(per.base, per.size, offset, size, bit_band) {
        let key = if why.starts_with("size") { wp.key("size") } else { wp.key("offset") };
        let span = if bit_band { per.size as u64 * 32 } else { per.size as u64 };
        d.error(
            &key,
            format!("window `{}` of {owner} on `{pname}`: {why}", w.name),
            format!("choose a power-of-two size >= 32 and an offset that is a multiple of it, with offset + size <= {span:#x}; e.g. TIM5's CNT (offset 0x24) is in `offset = 0x20, size = 32`"),
        );
    }
}

fn check_tasks(d: &mut Diags, tasks: &[TaskDraft], shared: &[SharedDraft], chip: Option<&Chip>) {
    if tasks.is_empty() {
        d.error(
            &tasks_path(),
            "the app has no tasks",
            "add [tasks.supervisor] (priority 0, first) and [tasks.idle] (lowest priority, last)",
        );
        return;
    }
    if tasks.len() > MAX_TASKS {
        d.error(
            &tasks_path(),
            format!("the app has {} tasks, but the kernel schedules at most {MAX_TASKS}", tasks.len()),
            format!("remove {} tasks, or merge tasks that need no isolation from each other", tasks.len() - MAX_TASKS),
        );
    }
    let by_name: HashMap<&str, usize> = tasks.iter().enumerate().map(|(i, t)| (t.name.as_str(), i)).collect();
    let names_iter = || tasks.iter().map(|t| t.name.as_str());

    // Names become constants in generated code.
    let mut consts: HashMap<String, &str> = HashMap::new();
    for t in tasks {
        if !names::is_ident(&t.name) {
            d.error(
                &task_path(t),
                format!("task name `{}` is not a Rust identifier even with `-` read as `_` (it becomes the constant `slots::{}`)", t.name, names::const_name(&t.name)),
                format!("rename the table to [tasks.{}]", names::sanitized(&t.name).replace('_', "-")),
            );
        } else if let Some(prev) = consts.insert(names::const_name(&t.name), &t.name) {
            d.error(
                &task_path(t),
                format!("tasks `{prev}` and `{}` both become the constant `{}`", t.name, names::const_name(&t.name)),
                "rename one of them so they differ by more than case, `-` and `_`",
            );
        }
    }

    // Task 0 is the supervisor: priority 0, alone there.
    let sup = &tasks[0];
    if let Some(p) = sup.priority {
        if p != 0 {
            d.error(
                &task_path(sup).key("priority"),
                format!("task `{}` is task 0 (the first [tasks.*] table), the supervisor, so it must have priority 0, not {p}", sup.name),
                "set `priority = 0`, or move the supervisor's table first: task ids follow declaration order",
            );
        }
    }
    for t in &tasks[1..] {
        if t.priority == Some(0) {
            d.error(
                &task_path(t).key("priority"),
                format!("task `{}` has priority 0, which belongs to the supervisor (task 0, `{}`) alone", t.name, sup.name),
                "give it a priority from 1 to 31 (or, if it is the supervisor, move its table first)",
            );
        }
    }
    if !sup.start {
        d.error(
            &task_path(sup).key("start"),
            format!("the supervisor `{}` has `start = false`, so nothing would restart faulted tasks", sup.name),
            "remove `start = false`",
        );
    }

    // idle: exists, strictly lowest, started.
    match by_name.get("idle") {
        None => {
            let rest = "add a [tasks.idle] table (name = \"task-idle\") with the largest priority number; the scheduler runs it when nothing else can run";
            d.error(&tasks_path(), "there is no task named `idle`", suggest("idle", names_iter(), rest));
        }
        Some(&i) => {
            let idle = &tasks[i];
            if let Some(ip) = idle.priority {
                let others: Vec<&TaskDraft> = tasks.iter().filter(|t| t.name != "idle" && t.priority.is_some()).collect();
                if let Some(worst) = others.iter().max_by_key(|t| t.priority) {
                    let wp = worst.priority.unwrap();
                    if wp >= ip {
                        let fix = if wp < 31 {
                            format!("set `priority = {}` for idle, or give `{}` a priority number below {ip}", wp + 1, worst.name)
                        } else {
                            format!("give `{}` a priority below 31 and idle 31", worst.name)
                        };
                        d.error(
                            &task_path(idle).key("priority"),
                            format!(
                                "idle has priority {ip}, but must be strictly the lowest (largest number) and task `{}` has priority {wp}",
                                worst.name
                            ),
                            fix,
                        );
                    }
                }
            }
            if !idle.start {
                d.error(
                    &task_path(idle).key("start"),
                    "idle has `start = false`, but the scheduler needs it runnable when nothing else is",
                    "remove `start = false` from [tasks.idle]",
                );
            }
        }
    }

    let mut irq_owner: HashMap<u32, (String, String)> = HashMap::new();
    for t in tasks {
        check_task(d, t, tasks, shared, &by_name, chip, &mut irq_owner);
    }
}

fn check_task(
    d: &mut Diags,
    t: &TaskDraft,
    tasks: &[TaskDraft],
    shared: &[SharedDraft],
    by_name: &HashMap<&str, usize>,
    chip: Option<&Chip>,
    irq_owner: &mut HashMap<u32, (String, String)>,
) {
    let tp = task_path(t);
    let owner = format!("task `{}`", t.name);
    let ms = tp.key("max-sizes");
    if let Some(f) = t.max_sizes.flash {
        check_budget(d, &ms.key("flash"), &owner, "flash", f);
    }
    if let Some(r) = t.max_sizes.ram {
        check_budget(d, &ms.key("ram"), &owner, "ram", r);
    }
    if let Some(s) = t.stacksize {
        let ram_key = format!("tasks.{}.max-sizes.ram", t.name);
        check_stack(d, &tp.key("stacksize"), &owner, s, t.max_sizes.ram, &ram_key);
    }

    // uses
    let up = tp.key("uses");
    for (i, u) in t.uses.iter().enumerate() {
        if t.uses[..i].contains(u) {
            d.error(&up.index(i), format!("{owner} lists peripheral `{u}` twice in `uses`"), "remove the duplicate");
            continue;
        }
        if let Some(chip) = chip {
            if !chip.peripherals.contains_key(u) {
                let rest = format!(
                    "the chip `{}` has the peripherals {}",
                    chip.name,
                    list(chip.peripherals.keys().map(|s| s.as_str()))
                );
                d.error(
                    &up.index(i),
                    format!("{owner} uses peripheral `{u}`, which the chip file does not describe"),
                    suggest(u, chip.peripherals.keys().map(|s| s.as_str()), &rest),
                );
            }
        }
    }
    let mut uniq = t.uses.clone();
    uniq.dedup();
    uniq.sort();
    uniq.dedup();
    for w in &t.windows {
        check_window(d, t, w, chip);
    }
    // Windows of one task may not overlap: the higher-numbered MPU region
    // decides the overlap on ARMv7-M, so a `read` window inside a
    // `read-write` one (or the reverse) would silently take the other's
    // access there, depending only on declaration order.
    if let Some(chip) = chip {
        let range = |w: &crate::schema::WindowDraft| {
            let per = chip.peripherals.get(w.peripheral.as_deref()?)?;
            let base = window_base(per.base, per.size, w.offset?, w.size?, w.alias.as_deref() == Some("bit-band")).ok()?;
            Some((base as u64, base as u64 + w.size? as u64))
        };
        for (j, b) in t.windows.iter().enumerate() {
            let Some((b0, b1)) = range(b) else { continue };
            // A peripheral the task `uses` whole, by address (the chip
            // file may describe one block under two names); the same name
            // is reported by `check_window`.
            let used = t.uses.iter().filter(|u| Some(u.as_str()) != b.peripheral.as_deref()).find(|u| {
                chip.peripherals.get(u.as_str()).is_some_and(|p| (p.base as u64) < b1 && b0 < p.base as u64 + p.size as u64)
            });
            if let Some(u) = used {
                d.error(
                    &tp.key("windows").key(&b.name),
                    format!("window `{}` of {owner} overlaps peripheral `{u}`, which it already maps whole (`uses`)", b.name),
                    format!("remove the window, or remove \"{u}\" from `uses` if the task should reach only the window"),
                );
            }
            if let Some(a) = t.windows[..j].iter().find(|a| range(a).is_some_and(|(a0, a1)| a0 < b1 && b0 < a1)) {
                d.error(
                    &tp.key("windows").key(&b.name),
                    format!(
                        "window `{}` of {owner} overlaps its window `{}` (the MPU would give the overlap the access of whichever comes later)",
                        b.name, a.name
                    ),
                    "make them disjoint, or merge them into one window with the access the task needs",
                );
            }
        }
    }
    let mut wnames: Vec<String> = Vec::new();
    for w in &t.windows {
        let c = names::const_name(&w.name);
        if wnames.contains(&c) {
            d.error(&tp.key("windows").key(&w.name), format!("{owner} has two windows that both become `windows::{c}_BASE`"), "rename one of them so they differ by more than case, `-` and `_`");
        }
        wnames.push(c);
    }
    let shared_here: Vec<&str> = shared
        .iter()
        .filter(|s| s.writer.as_deref() == Some(t.name.as_str()) || s.readers.contains(&t.name))
        .map(|s| s.name.as_str())
        .collect();
    let regions = 2 + uniq.len() + t.windows.len() + shared_here.len();
    if regions > MPU_REGIONS {
        let mut parts = vec![format!("{} peripherals", uniq.len())];
        if !t.windows.is_empty() {
            parts.push(format!("{} windows", t.windows.len()));
        }
        if !shared_here.is_empty() {
            parts.push(format!("{} shared regions ({})", shared_here.len(), list(shared_here.iter().copied())));
        }
        d.error(
            &up,
            format!(
                "{owner} needs {regions} MPU regions (flash, RAM and {}), but the ARMv7-M MPU has {MPU_REGIONS}",
                parts.join(", ")
            ),
            if t.windows.is_empty() && shared_here.is_empty() {
                format!(
                    "drop {} peripherals from `uses` (move their work to another task and reach it by IPC)",
                    regions - MPU_REGIONS
                )
            } else {
                format!(
                    "drop {} of them: peripherals from `uses`, entries of `windows` (move their work to another task and reach it by IPC), or the task from a [shared.*] region's readers",
                    regions - MPU_REGIONS
                )
            },
        );
    }

    // notifications
    let np = tp.key("notifications");
    if t.notifications.len() > MAX_NOTIFICATIONS {
        d.error(
            &np,
            format!("{owner} declares {} notifications, but a notification mask has {MAX_NOTIFICATIONS} bits", t.notifications.len()),
            format!("remove {}", t.notifications.len() - MAX_NOTIFICATIONS),
        );
    }
    let mut nconst: HashMap<String, &str> = HashMap::new();
    for (i, n) in t.notifications.iter().enumerate() {
        if !names::is_ident(n) {
            d.error(
                &np.index(i),
                format!("notification name {n:?} of {owner} is not an identifier (it becomes `notifications::{}_BIT`)", names::const_name(n)),
                format!("rename it, e.g. \"{}\"", names::sanitized(n).replace('_', "-")),
            );
        } else if let Some(prev) = nconst.insert(names::const_name(n), n) {
            d.error(
                &np.index(i),
                format!("{owner} declares notifications `{prev}` and `{n}`, which both become `{}_BIT`", names::const_name(n)),
                "remove the duplicate or rename one",
            );
        }
    }

    // interrupts
    let ip = tp.key("interrupts");
    for (key, note) in &t.interrupts {
        let kp = ip.key(key);
        if let Some(note) = note {
            if !t.notifications.contains(note) {
                let rest = format!(
                    "add \"{note}\" to tasks.{}.notifications (declared: {})",
                    t.name,
                    list(t.notifications.iter().map(|s| s.as_str()))
                );
                d.error(
                    &kp,
                    format!("interrupt `{key}` of {owner} is delivered as notification `{note}`, which the task does not declare"),
                    suggest(note, t.notifications.iter().map(|s| s.as_str()), &rest),
                );
            }
        }
        let Some(chip) = chip else { continue };
        let Some((pname, iname)) = key.split_once('.') else {
            let example = chip
                .peripherals
                .get(key.as_str())
                .and_then(|p| p.interrupts.keys().next())
                .map(|i| format!("write it as \"{key}.{i}\""))
                .unwrap_or_else(|| "write it as \"<peripheral>.<irq>\", e.g. \"tim3.irq\"".to_string());
            d.error(&kp, format!("interrupt key `{key}` of {owner} is not of the form `<peripheral>.<irq>`"), example);
            continue;
        };
        let Some(per) = chip.peripherals.get(pname) else {
            let with_irqs = || chip.peripherals.iter().filter(|(_, p)| !p.interrupts.is_empty()).map(|(n, _)| n.as_str());
            let rest = format!("peripherals of `{}` with interrupts: {}", chip.name, list(with_irqs()));
            d.error(
                &kp,
                format!("interrupt `{key}` of {owner} names peripheral `{pname}`, which the chip file does not describe"),
                suggest(pname, with_irqs(), &rest),
            );
            continue;
        };
        let Some(&irq) = per.interrupts.get(iname) else {
            let rest = if per.interrupts.is_empty() {
                format!("`{pname}` has no interrupts in the chip file `{}`", chip.name)
            } else {
                format!("`{pname}` has the interrupts {}", list(per.interrupts.keys().map(|s| s.as_str())))
            };
            d.error(
                &kp,
                format!("peripheral `{pname}` has no interrupt named `{iname}`"),
                suggest(iname, per.interrupts.keys().map(|s| s.as_str()), &rest),
            );
            continue;
        };
        // The handler must reach the device's registers: itself, or through
        // the driver task that owns them (as the timer server asks the
        // clockevent driver to acknowledge its timer's interrupt).
        let driver_in_slots = t.task_slots.iter().any(|s| {
            by_name.get(s.as_str()).is_some_and(|&i| tasks[i].uses.iter().any(|u| u == pname))
        });
        if !t.uses.iter().any(|u| u == pname) && !driver_in_slots {
            d.error(
                &kp,
                format!("{owner} handles interrupt `{key}` but does not use peripheral `{pname}`"),
                format!(
                    "add \"{pname}\" to tasks.{}.uses, or a task-slot to the driver task that uses it (a handler must be able to reach the device's registers)",
                    t.name
                ),
            );
        }
        match irq_owner.get(&irq) {
            Some((other, other_key)) => d.error(
                &kp,
                format!("IRQ {irq} (`{key}`) of {owner} is already routed to task `{other}` by tasks.{other}.interrupts.\"{other_key}\""),
                "an IRQ has exactly one owner: remove one of the two entries",
            ),
            None => {
                irq_owner.insert(irq, (t.name.clone(), key.clone()));
            }
        }
    }

    // task-slots: existing, not self, strictly higher priority, no repeats.
    let sp = tp.key("task-slots");
    for (i, s) in t.task_slots.iter().enumerate() {
        let p = sp.index(i);
        if t.task_slots[..i].contains(s) {
            d.error(&p, format!("{owner} lists task-slot `{s}` twice"), "remove the duplicate");
            continue;
        }
        if *s == t.name {
            d.error(&p, format!("{owner} lists itself in task-slots"), format!("remove \"{s}\": a task cannot send to itself"));
            continue;
        }
        let Some(&j) = by_name.get(s.as_str()) else {
            let rest = format!("task-slots name [tasks.*] tables: {}", list(tasks.iter().map(|t| t.name.as_str())));
            d.error(
                &p,
                format!("{owner} has a slot to `{s}`, but there is no task of that name"),
                suggest(s, tasks.iter().map(|t| t.name.as_str()), &rest),
            );
            continue;
        };
        let target = &tasks[j];
        if let (Some(mine), Some(theirs)) = (t.priority, target.priority) {
            if theirs >= mine {
                let fix = if mine > 0 {
                    format!(
                        "give `{s}` a priority below {mine} (a smaller number), give `{}` a priority above {theirs}, or remove the slot",
                        t.name
                    )
                } else {
                    "remove the slot; priority 0 is the highest".to_string()
                };
                d.error(
                    &p,
                    format!(
                        "{owner} (priority {mine}) has a slot to `{s}` (priority {theirs}), but a task may only hold slots to tasks of strictly higher priority (a lower number), which keeps IPC deadlock-free"
                    ),
                    fix,
                );
            }
        }
    }

    let names: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
    codegen::check_config(d, &tp.key("config"), &t.config, &names);
}

/// Builds the [`App`] from a draft that passed [`check`] with no errors.
pub(crate) fn build(
    path: std::path::PathBuf,
    source: String,
    draft: AppDraft,
    chip: Chip,
) -> App {
    let k = draft.kernel.expect("checked");
    let kernel = Kernel {
        package: k.package.expect("checked"),
        requires: Sizes { flash: k.requires.flash.expect("checked"), ram: k.requires.ram.expect("checked") },
        stacksize: k.stacksize.expect("checked"),
        features: k.features,
        log: k.log_task.as_ref().map(|task| {
            let i = draft.tasks.iter().position(|t| &t.name == task).expect("checked");
            let note = k.log_notification.as_ref().expect("checked");
            let bit = draft.tasks[i].notifications.iter().position(|n| n == note).expect("checked") as u32;
            KernelLog { task: i, bit }
        }),
    };
    let tasks = draft
        .tasks
        .into_iter()
        .map(|t| {
            let interrupts = t
                .interrupts
                .iter()
                .map(|(key, note)| {
                    let (p, i) = key.split_once('.').expect("checked");
                    let note = note.clone().expect("checked");
                    Interrupt {
                        peripheral: p.to_string(),
                        irq_name: i.to_string(),
                        irq: chip.peripherals[p].interrupts[i],
                        bit: t.notifications.iter().position(|n| *n == note).expect("checked") as u32,
                        notification: note,
                    }
                })
                .collect();
            Task {
                package: t.package.expect("checked"),
                priority: t.priority.expect("checked"),
                max_sizes: Sizes { flash: t.max_sizes.flash.expect("checked"), ram: t.max_sizes.ram.expect("checked") },
                stacksize: t.stacksize.expect("checked"),
                start: t.start,
                uses: t.uses,
                notifications: t.notifications,
                interrupts,
                task_slots: t.task_slots,
                config: t.config,
                features: t.features,
                windows: t
                    .windows
                    .iter()
                    .map(|w| {
                        let per = &chip.peripherals[w.peripheral.as_deref().expect("checked")];
                        let bit_band = w.alias.is_some();
                        let (offset, size) = (w.offset.expect("checked"), w.size.expect("checked"));
                        Window {
                            name: w.name.clone(),
                            peripheral: w.peripheral.clone().expect("checked"),
                            offset,
                            size,
                            access: parse_access(w.access.as_deref().expect("checked")).expect("checked"),
                            bit_band,
                            base: window_base(per.base, per.size, offset, size, bit_band).expect("checked"),
                        }
                    })
                    .collect(),
                name: t.name,
            }
        })
        .collect();
    let shared = draft
        .shared
        .into_iter()
        .map(|s| SharedRegion { name: s.name, size: s.size.expect("checked"), writer: s.writer.expect("checked"), readers: s.readers })
        .collect();
    App {
        path,
        source,
        name: draft.name.expect("checked"),
        target: draft.target.expect("checked"),
        board: draft.board.expect("checked"),
        chip,
        kernel,
        tasks,
        shared,
    }
}
