//! The rules an app must follow beyond its schema, and the conversion of a
//! checked draft into an [`App`].
//!
//! These rules are what keep a built image sound: the supervisor is task 0
//! at priority 0; `idle` is strictly the lowest priority; a task only holds
//! slots to strictly higher-priority tasks (so IPC, which only ever blocks
//! "uphill", cannot deadlock); memory budgets are legal ARMv7-M MPU regions;
//! each task needs at most 8 MPU regions; each IRQ has exactly one owner and
//! is delivered as one of the owner's notifications; every name that becomes
//! a Rust identifier in generated code is one.
//!
//! Guarantee: [`check`] reports every broken rule it can see (a rule whose
//! inputs were already reported as malformed is skipped rather than reported
//! twice), and [`build`] is only called on drafts that passed it, so the
//! resulting [`App`] satisfies all of the above.

use crate::chip::Chip;
use crate::error::{list, suggest, Diags, KeyPath};
use crate::schema::{AppDraft, KernelDraft, SizesDraft, TaskDraft};
use crate::{codegen, names, App, Interrupt, Kernel, KernelLog, Sizes, Task};
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
    check_tasks(d, &app.tasks, chip);
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

fn check_tasks(d: &mut Diags, tasks: &[TaskDraft], chip: Option<&Chip>) {
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
        check_task(d, t, tasks, &by_name, chip, &mut irq_owner);
    }
}

fn check_task(
    d: &mut Diags,
    t: &TaskDraft,
    tasks: &[TaskDraft],
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
    let regions = 2 + uniq.len();
    if regions > MPU_REGIONS {
        d.error(
            &up,
            format!(
                "{owner} needs {regions} MPU regions (flash, RAM and {} peripherals), but the ARMv7-M MPU has {MPU_REGIONS}",
                uniq.len()
            ),
            format!(
                "drop {} peripherals from `uses` (move their work to another task and reach it by IPC)",
                regions - MPU_REGIONS
            ),
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
                name: t.name,
            }
        })
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
    }
}
