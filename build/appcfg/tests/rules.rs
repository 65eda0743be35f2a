//! One failing input per rule: each test breaks one rule of a valid app and
//! asserts the diagnostic names the file, the key path and the fix.

mod common;
use common::*;

#[test]
fn base_app_is_valid() {
    let c = load_text(BASE);
    let app = c.app();
    assert_eq!(app.tasks.len(), 4);
    assert_eq!(app.tasks[3].name, "idle");
    // stacksize defaults to 1024 when omitted.
    assert_eq!(app.tasks[1].stacksize, appcfg::DEFAULT_TASK_STACKSIZE);
    assert_eq!(appcfg::DEFAULT_TASK_STACKSIZE, 1024);
    assert!(app.tasks.iter().all(|t| t.start));
}

// ---- file-level problems -------------------------------------------------

#[test]
fn unreadable_app_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.toml");
    let err = appcfg::load(&path, &chips()).unwrap_err();
    let d = &err.diagnostics[0];
    assert_eq!(d.file, path);
    assert!(d.message.contains("cannot read the app file"), "{err}");
    assert!(err.to_string().contains("missing.toml"));
}

#[test]
fn toml_syntax_error_has_line() {
    let c = load_text(&edit("priority = 3\n", "priority = = 3\n"));
    let d = c.expect("", &["TOML syntax error"], &["fix the syntax"]);
    let want = BASE.lines().position(|l| l == "priority = 3").unwrap() + 1;
    assert_eq!(d.line, Some(want));
}

#[test]
fn unknown_chip_suggests_close_name() {
    let c = load_text(&edit("chip = \"stm32f405\"", "chip = \"stm32f450\""));
    c.expect("chip", &["cannot read chip file", "stm32f450"], &["did you mean `stm32f405`?", "stm32f407"]);
    c.expect_line("chip", "chip = ");
}

#[test]
fn missing_required_keys() {
    let c = load_text(&edit("name = \"task-hello\"\npriority = 3\n", ""));
    c.expect("tasks.hello", &["[tasks.hello]", "`name`"], &["name = \""]);
    c.expect("tasks.hello", &["[tasks.hello]", "`priority`"], &["priority = "]);
    let c = load_text(&edit("board = \"netduinoplus2\"\n", ""));
    c.expect("", &["top level", "`board`"], &["board = "]);
    let c = load_text(&edit("stacksize = 2048\n", ""));
    c.expect("kernel", &["[kernel]", "`stacksize`"], &["stacksize = 2048"]);
    let c = load_text(&edit("requires = { flash = 32768, ram = 8192 }", "requires = { flash = 32768 }"));
    c.expect("kernel.requires", &["`ram`"], &["ram = "]);
}

#[test]
fn wrong_types() {
    let c = load_text(&edit("priority = 3\n", "priority = \"high\"\n"));
    c.expect("tasks.hello.priority", &["must be an integer", "\"high\""], &["priority = 3"]);
    let c = load_text(&edit("uses = [\"tim3\"]", "uses = \"tim3\""));
    c.expect("tasks.hello.uses", &["must be a list of strings"], &["uses = [\"usart1\"]"]);
    let c = load_text(&edit("task-slots = [\"console\"]", "task-slots = [\"console\", 3]"));
    c.expect("tasks.hello.task-slots[1]", &["must be a string", "3"], &["\"name\""]);
    let c = load_text(&edit("interrupts = { \"tim3.irq\" = \"tick\" }", "interrupts = { \"tim3.irq\" = 1 }"));
    c.expect("tasks.hello.interrupts.\"tim3.irq\"", &["must be a string"], &["notification-name"]);
    let c = load_text(&edit("max-sizes = { flash = 256, ram = 256 }", "max-sizes = { flash = -256, ram = 256 }"));
    c.expect("tasks.idle.max-sizes.flash", &["-256", "outside"], &["fits in 32 bits"]);
    let c = load_text(&edit("stacksize = 256\n", "stacksize = 256\nstart = \"yes\"\n"));
    c.expect("tasks.idle.start", &["must be a boolean"], &["start = true"]);
}

// ---- unknown keys --------------------------------------------------------

#[test]
fn unknown_top_level_key_suggests() {
    let c = load_text(&edit("board = \"netduinoplus2\"", "board = \"netduinoplus2\"\nbaord = \"x\""));
    c.expect("baord", &["unknown key `baord`"], &["did you mean `board`?", "remove it"]);
}

#[test]
fn unknown_task_key_suggests() {
    let c = load_text(&edit("stacksize = 256\n", "stacksize = 256\nprioirty = 7\n"));
    c.expect("tasks.idle.prioirty", &["unknown key `prioirty`", "[tasks.idle]"], &["did you mean `priority`?"]);
    c.expect_line("tasks.idle.prioirty", "prioirty");
    let c = load_text(&edit("uses = [\"tim3\"]", "uses = [\"tim3\"]\ntask_slots = []"));
    c.expect("tasks.hello.task_slots", &["unknown key"], &["did you mean `task-slots`?"]);
}

#[test]
fn unknown_kernel_and_sizes_keys() {
    let c = load_text(&edit("stacksize = 2048\n", "stacksize = 2048\nfeature = []\n"));
    c.expect("kernel.feature", &["unknown key `feature`", "[kernel]"], &["did you mean `features`?"]);
    let c = load_text(&edit("max-sizes = { flash = 8192, ram = 1024 }\nstacksize = 768\nnotifications = [\"fault\"]", "max-sizes = { flash = 8192, rma = 1024 }\nstacksize = 768\nnotifications = [\"fault\"]"));
    c.expect("tasks.supervisor.max-sizes.rma", &["unknown key `rma`"], &["did you mean `ram`?"]);
    c.expect("tasks.supervisor.max-sizes", &["missing", "`ram`"], &["ram = "]);
}

#[test]
fn unknown_chip_key_names_the_chip_file() {
    let dir = tempfile::tempdir().unwrap();
    let chip = std::fs::read_to_string(chips().join("stm32f405.toml")).unwrap();
    let chip = chip.replacen("[peripherals.tim3]\n", "[peripherals.tim3]\ninterupts = {}\n", 1);
    let chip_path = dir.path().join("stm32f405.toml");
    std::fs::write(&chip_path, chip).unwrap();
    let c = load_with_chips(BASE, dir.path());
    c.expect_in(&chip_path, "peripherals.tim3.interupts", &["unknown key `interupts`"], &["did you mean `interrupts`?"]);
}

// ---- priorities ----------------------------------------------------------

#[test]
fn task0_must_have_priority_0() {
    let c = load_text(&edit("name = \"task-supervisor\"\npriority = 0", "name = \"task-supervisor\"\npriority = 2"));
    c.expect(
        "tasks.supervisor.priority",
        &["task 0", "supervisor", "priority 0, not 2"],
        &["priority = 0", "move the supervisor's table first"],
    );
}

#[test]
fn only_task0_has_priority_0() {
    let c = load_text(&edit("name = \"drv-console-usart\"\npriority = 1", "name = \"drv-console-usart\"\npriority = 0"));
    c.expect("tasks.console.priority", &["priority 0", "supervisor", "alone"], &["1 to 31"]);
}

#[test]
fn priority_must_be_below_32() {
    let c = load_text(&edit("priority = 7", "priority = 32"));
    c.expect("tasks.idle.priority", &["priority 32", "31"], &["0 (highest", "31 (lowest)"]);
}

#[test]
fn idle_must_exist() {
    let c = load_text(&edit("[tasks.idle]", "[tasks.idel]"));
    c.expect("tasks", &["no task named `idle`"], &["did you mean `idel`?", "[tasks.idle]"]);
}

#[test]
fn idle_must_be_strictly_lowest() {
    let c = load_text(&edit("priority = 7", "priority = 3"));
    c.expect("tasks.idle.priority", &["idle has priority 3", "strictly the lowest", "`hello` has priority 3"], &["priority = 4"]);
    let c = load_text(&edit("priority = 7", "priority = 2"));
    c.expect("tasks.idle.priority", &["idle has priority 2"], &["priority = 4"]);
}

#[test]
fn idle_cannot_be_the_supervisor() {
    // idle declared first: it is task 0 at priority 0, so not the lowest.
    let text = r#"
name = "x"
target = "thumbv7em-none-eabihf"
board = "b"
chip = "stm32f405"

[kernel]
name = "kboot"
requires = { flash = 32768, ram = 8192 }
stacksize = 2048

[tasks.idle]
name = "task-idle"
priority = 0
max-sizes = { flash = 256, ram = 256 }
stacksize = 256

[tasks.worker]
name = "task-worker"
priority = 3
max-sizes = { flash = 256, ram = 256 }
stacksize = 256
"#;
    let c = load_text(text);
    c.expect("tasks.idle.priority", &["idle has priority 0", "strictly the lowest", "`worker` has priority 3"], &["priority = 4"]);
}

#[test]
fn supervisor_and_idle_must_start() {
    let c = load_text(&edit("stacksize = 256\n", "stacksize = 256\nstart = false\n"));
    c.expect("tasks.idle.start", &["idle has `start = false`"], &["remove `start = false`"]);
    let c = load_text(&edit("stacksize = 768\nnotifications = [\"fault\"]", "stacksize = 768\nnotifications = [\"fault\"]\nstart = false"));
    c.expect("tasks.supervisor.start", &["supervisor", "start = false"], &["remove `start = false`"]);
}

// ---- task slots ------------------------------------------------------------

#[test]
fn slot_to_unknown_task_suggests() {
    let c = load_text(&edit("task-slots = [\"console\"]", "task-slots = [\"consloe\"]"));
    c.expect("tasks.hello.task-slots[0]", &["slot to `consloe`", "no task of that name"], &["did you mean `console`?"]);
    c.expect_line("tasks.hello.task-slots[0]", "consloe");
}

#[test]
fn slot_to_self() {
    let c = load_text(&edit("task-slots = [\"console\"]", "task-slots = [\"console\", \"hello\"]"));
    c.expect("tasks.hello.task-slots[1]", &["lists itself"], &["remove \"hello\""]);
}

#[test]
fn slot_to_lower_or_equal_priority_is_refused() {
    let c = load_text(&edit("task-slots = [\"console\"]", "task-slots = [\"idle\"]"));
    c.expect(
        "tasks.hello.task-slots[0]",
        &["`hello` (priority 3)", "`idle` (priority 7)", "strictly higher priority", "deadlock"],
        &["give `idle` a priority below 3", "remove the slot"],
    );
    // Equal priority is refused too.
    let text = edit("priority = 3\n", "priority = 1\n");
    let c = load_text(&text);
    c.expect("tasks.hello.task-slots[0]", &["(priority 1)", "`console` (priority 1)"], &["remove the slot"]);
}

#[test]
fn duplicate_slot() {
    let c = load_text(&edit("task-slots = [\"console\"]", "task-slots = [\"console\", \"console\"]"));
    c.expect("tasks.hello.task-slots[1]", &["twice"], &["remove the duplicate"]);
}

// ---- peripherals and interrupts ------------------------------------------

#[test]
fn uses_unknown_peripheral_suggests() {
    let c = load_text(&edit("uses = [\"tim3\"]", "uses = [\"tim3\", \"usrt2\"]"));
    c.expect("tasks.hello.uses[1]", &["`usrt2`", "chip file does not describe"], &["did you mean `usart2`?", "`rcc`"]);
}

#[test]
fn uses_duplicate() {
    let c = load_text(&edit("uses = [\"tim3\"]", "uses = [\"tim3\", \"tim3\"]"));
    c.expect("tasks.hello.uses[1]", &["twice"], &["remove the duplicate"]);
}

#[test]
fn interrupt_key_must_be_peripheral_dot_irq() {
    let c = load_text(&edit("interrupts = { \"tim3.irq\" = \"tick\" }", "interrupts = { tim3 = \"tick\" }"));
    c.expect("tasks.hello.interrupts.tim3", &["not of the form `<peripheral>.<irq>`"], &["\"tim3.irq\""]);
}

#[test]
fn interrupt_of_unknown_peripheral() {
    let c = load_text(&edit("interrupts = { \"tim3.irq\" = \"tick\" }", "interrupts = { \"tmi3.irq\" = \"tick\" }"));
    c.expect("tasks.hello.interrupts.\"tmi3.irq\"", &["peripheral `tmi3`"], &["did you mean `tim3`?"]);
}

#[test]
fn interrupt_of_unknown_irq_name() {
    let c = load_text(&edit("interrupts = { \"tim3.irq\" = \"tick\" }", "interrupts = { \"tim3.iqr\" = \"tick\" }"));
    c.expect("tasks.hello.interrupts.\"tim3.iqr\"", &["no interrupt named `iqr`"], &["did you mean `irq`?"]);
    // A peripheral without interrupts says so.
    let c = load_text(&edit("interrupts = { \"tim3.irq\" = \"tick\" }", "interrupts = { \"rcc.irq\" = \"tick\" }"));
    c.expect("tasks.hello.interrupts.\"rcc.irq\"", &["no interrupt named `irq`"], &["`rcc` has no interrupts"]);
}

#[test]
fn interrupt_peripheral_must_be_used() {
    let c = load_text(&edit("interrupts = { \"tim3.irq\" = \"tick\" }", "interrupts = { \"tim4.irq\" = \"tick\" }"));
    c.expect("tasks.hello.interrupts.\"tim4.irq\"", &["does not use peripheral `tim4`"], &["add \"tim4\" to tasks.hello.uses"]);
}

#[test]
fn interrupt_notification_must_be_declared() {
    let c = load_text(&edit("interrupts = { \"tim3.irq\" = \"tick\" }", "interrupts = { \"tim3.irq\" = \"tock\" }"));
    c.expect(
        "tasks.hello.interrupts.\"tim3.irq\"",
        &["notification `tock`", "does not declare"],
        &["did you mean `tick`?", "add \"tock\" to tasks.hello.notifications"],
    );
}

#[test]
fn irq_has_one_owner() {
    let text = edit(
        "uses = [\"usart1\"]\nnotifications = [\"rx\"]\ninterrupts = { \"usart1.irq\" = \"rx\" }",
        "uses = [\"usart1\", \"tim3\"]\nnotifications = [\"rx\"]\ninterrupts = { \"usart1.irq\" = \"rx\", \"tim3.irq\" = \"rx\" }",
    );
    let c = load_text(&text);
    c.expect(
        "tasks.hello.interrupts.\"tim3.irq\"",
        &["IRQ 29", "already routed to task `console`"],
        &["exactly one owner"],
    );
}

#[test]
fn too_many_mpu_regions() {
    let text = edit("uses = [\"tim3\"]", "uses = [\"tim3\", \"tim2\", \"tim4\", \"tim5\", \"usart2\", \"gpioa\", \"gpiod\"]");
    let c = load_text(&text);
    c.expect("tasks.hello.uses", &["needs 9 MPU regions", "7 peripherals", "has 8"], &["drop 1 peripherals"]);
    // Eight is fine.
    let text = edit("uses = [\"tim3\"]", "uses = [\"tim3\", \"tim2\", \"tim4\", \"tim5\", \"usart2\", \"gpioa\"]");
    load_text(&text).app();
}

#[test]
fn chip_peripheral_must_be_one_mpu_region() {
    let dir = tempfile::tempdir().unwrap();
    let chip = std::fs::read_to_string(chips().join("stm32f405.toml")).unwrap();
    let chip = chip
        .replacen("base = 0x4000_0400\nsize = 0x400", "base = 0x4000_0400\nsize = 0x300", 1)
        .replacen("base = 0x4000_0800\nsize = 0x400", "base = 0x4000_0900\nsize = 0x400", 1);
    let chip_path = dir.path().join("stm32f405.toml");
    std::fs::write(&chip_path, chip).unwrap();
    let c = load_with_chips(BASE, dir.path());
    c.expect_in(&chip_path, "peripherals.tim3.size", &["not a power of two"], &["0x400"]);
    c.expect_in(&chip_path, "peripherals.tim4.base", &["not aligned to its size"], &["multiple of 0x400", "0x4000_0800"]);
}

// ---- sizes and stacks ----------------------------------------------------

#[test]
fn budget_must_be_power_of_two() {
    let c = load_text(&edit("max-sizes = { flash = 16384, ram = 2048 }", "max-sizes = { flash = 15000, ram = 2048 }"));
    c.expect(
        "tasks.console.max-sizes.flash",
        &["15000", "not a power of two", "nearest legal size is 16384"],
        &["flash = 16384", "8192"],
    );
    let c = load_text(&edit("max-sizes = { flash = 16384, ram = 2048 }", "max-sizes = { flash = 16384, ram = 2100 }"));
    c.expect("tasks.console.max-sizes.ram", &["2100", "nearest legal size is 2048"], &["ram = 2048", "4096"]);
}

#[test]
fn budget_must_be_at_least_256() {
    let c = load_text(&edit("max-sizes = { flash = 256, ram = 256 }", "max-sizes = { flash = 128, ram = 256 }"));
    c.expect("tasks.idle.max-sizes.flash", &["128", "below the minimum of 256"], &["flash = 256"]);
}

#[test]
fn stack_multiple_of_8() {
    let c = load_text(&edit("stacksize = 768\ntask-slots", "stacksize = 764\ntask-slots"));
    c.expect("tasks.hello.stacksize", &["764", "multiple of 8"], &["stacksize = 768", "760"]);
}

#[test]
fn stack_at_least_256() {
    let c = load_text(&edit("stacksize = 256\n", "stacksize = 128\n"));
    c.expect("tasks.idle.stacksize", &["128", "minimum of 256"], &["stacksize = 256"]);
}

#[test]
fn stack_fits_in_ram() {
    let c = load_text(&edit("stacksize = 768\ntask-slots", "stacksize = 1536\ntask-slots"));
    c.expect("tasks.hello.stacksize", &["1536", "does not fit in its 1024 bytes of RAM"], &["at most 1024", "tasks.hello.max-sizes.ram to 2048"]);
}

#[test]
fn kernel_requirements() {
    let c = load_text(&edit("stacksize = 2048\n", "stacksize = 16384\n"));
    c.expect("kernel.stacksize", &["kernel", "16384", "8192 bytes of RAM"], &["kernel.requires.ram"]);
    let c = load_text(&edit("requires = { flash = 32768, ram = 8192 }", "requires = { flash = 2097152, ram = 8192 }"));
    c.expect("kernel.requires.flash", &["2097152", "only 1048576"], &["lower kernel.requires.flash"]);
    let c = load_text(&edit("requires = { flash = 32768, ram = 8192 }", "requires = { flash = 0, ram = 8192 }"));
    c.expect("kernel.requires.flash", &["0 bytes"], &["flash = 8192"]);
}

#[test]
fn image_must_fit_the_chip() {
    // 1 MiB of flash: the kernel's 32 KiB plus a 1 MiB task cannot fit.
    let c = load_text(&edit("max-sizes = { flash = 16384, ram = 2048 }", "max-sizes = { flash = 1048576, ram = 2048 }"));
    c.expect(
        "tasks.console.max-sizes.flash",
        &["does not fit in STM32F405RGTx flash", "over"],
        &["shrink the largest budgets", "console 1 MiB"],
    );
    let c = load_text(&edit("max-sizes = { flash = 16384, ram = 2048 }", "max-sizes = { flash = 16384, ram = 131072 }"));
    c.expect("tasks.console.max-sizes.ram", &["does not fit", "ram", "8 KiB over"], &["max-sizes.ram"]);
}

// ---- names -----------------------------------------------------------------

#[test]
fn task_names_are_identifiers() {
    let c = load_text(&edit("[tasks.hello]", "[tasks.\"2hello\"]").replace("[\"hello\"]", "[]"));
    c.expect("tasks.2hello", &["not a Rust identifier"], &["rename the table to [tasks.x2hello]"]);
    let c = load_text(&edit("[tasks.hello]", "[tasks.type]"));
    c.expect("tasks.type", &["`type`", "not a Rust identifier"], &["rename"]);
}

#[test]
fn task_names_must_not_collide() {
    let extra = "\n[tasks.my-task]\nname = \"a\"\npriority = 4\nmax-sizes = { flash = 256, ram = 256 }\nstacksize = 256\n\
                 \n[tasks.my_task]\nname = \"b\"\npriority = 4\nmax-sizes = { flash = 256, ram = 256 }\nstacksize = 256\n";
    let c = load_text(&format!("{BASE}{extra}"));
    c.expect("tasks.my_task", &["`my-task` and `my_task`", "MY_TASK"], &["rename one"]);
}

#[test]
fn notification_rules() {
    let many: Vec<String> = (0..33).map(|i| format!("\"n{i}\"")).collect();
    let c = load_text(&edit("notifications = [\"tick\"]", &format!("notifications = [\"tick\", {}]", many.join(", "))));
    c.expect("tasks.hello.notifications", &["34 notifications", "32 bits"], &["remove 2"]);
    let c = load_text(&edit("notifications = [\"tick\"]", "notifications = [\"tick\", \"tick\"]"));
    c.expect("tasks.hello.notifications[1]", &["both become `TICK_BIT`"], &["remove the duplicate"]);
    let c = load_text(&edit("notifications = [\"tick\"]", "notifications = [\"tick\", \"a b\"]"));
    c.expect("tasks.hello.notifications[1]", &["not an identifier"], &["\"a-b\""]);
}

#[test]
fn too_many_tasks() {
    let mut text = String::from(BASE);
    for i in 0..30 {
        text.push_str(&format!(
            "\n[tasks.t{i}]\nname = \"t\"\npriority = 5\nmax-sizes = {{ flash = 256, ram = 256 }}\nstacksize = 256\n"
        ));
    }
    let c = load_text(&text);
    c.expect("tasks", &["34 tasks", "at most 32"], &["remove 2 tasks"]);
}

#[test]
fn target_must_be_armv7m() {
    let c = load_text(&edit("target = \"thumbv7em-none-eabihf\"", "target = \"thumbv7em-none-eabhf\""));
    c.expect("target", &["not an ARMv7-M target"], &["did you mean `thumbv7em-none-eabihf`?"]);
    let c = load_text(&edit("target = \"thumbv7em-none-eabihf\"", "target = \"x86_64-unknown-linux-gnu\""));
    c.expect("target", &["not an ARMv7-M target"], &["thumbv7m-none-eabi"]);
}

// ---- config ---------------------------------------------------------------

#[test]
fn config_rejects_unsupported_values() {
    let c = load_text(&edit(
        "config = { greeting = \"hello\" }",
        "config = { greeting = \"hello\", ratio = 1.5, when = 1979-05-27, names = [\"a\"], nested = { bad = -1.0 }, neg = [-1] }",
    ));
    c.expect("tasks.hello.config.ratio", &["float 1.5"], &["use an integer"]);
    c.expect("tasks.hello.config.when", &["datetime"], &["use an integer"]);
    c.expect("tasks.hello.config.names[0]", &["string \"a\"", "&[u32]"], &["non-negative integer"]);
    c.expect("tasks.hello.config.nested.bad", &["float"], &["use an integer"]);
    c.expect("tasks.hello.config.neg[0]", &["integer -1"], &["non-negative"]);
    assert_eq!(c.count(), 5, "{}", c.err());
}

#[test]
fn config_task_names_must_name_tasks() {
    let c = load_text(&edit(
        "config = { greeting = \"hello\" }",
        "config = { greeting = \"hello\", refill-task = \"consloe\", grab-tasks = [\"idle\", \"nobody\"], peer-task = 3 }",
    ));
    c.expect("tasks.hello.config.refill-task", &["`consloe`", "no task of that name"], &["did you mean `console`?"]);
    c.expect("tasks.hello.config.grab-tasks[1]", &["`nobody`"], &["`supervisor`, `console`, `hello`, `idle`"]);
    c.expect("tasks.hello.config.peer-task", &["must be a task name", "integer 3"], &["peer-task = \"timer\""]);
    assert_eq!(c.count(), 3, "{}", c.err());
}

#[test]
fn config_task_names_become_indices_and_a_mask() {
    let c = load_text(&edit(
        "config = { greeting = \"hello\" }",
        "config = { greeting = \"hello\", refill-task = \"console\", grab-tasks = [\"idle\", \"supervisor\"] }",
    ));
    let app = c.app();
    let out = appcfg::task_config_rs(app, app.task_index("hello").unwrap());
    assert!(out.contains("pub const REFILL_TASK: usize = 1;"), "{out}");
    assert!(out.contains("pub const GRAB_TASKS: &[usize] = &[3, 0];"), "{out}");
    assert!(out.contains("pub const GRAB_TASKS_MASK: u32 = 0x9;"), "{out}");
}

#[test]
fn config_keys_are_identifiers_and_distinct() {
    let c = load_text(&edit("config = { greeting = \"hello\" }", "config = { greeting = \"hello\", Greeting = \"x\", \"a b\" = 1 }"));
    c.expect("tasks.hello.config.Greeting", &["`greeting` and `Greeting`", "GREETING"], &["rename one"]);
    c.expect("tasks.hello.config.\"a b\"", &["not an identifier"], &["a_b"]);
}

// ---- reporting -------------------------------------------------------------

#[test]
fn all_problems_are_reported_at_once() {
    let text = edit("priority = 7", "priority = 2")
        .replace("task-slots = [\"console\"]", "task-slots = [\"consloe\"]")
        .replace("stacksize = 768\ntask-slots", "stacksize = 769\ntask-slots")
        .replace("board = \"netduinoplus2\"", "board = \"netduinoplus2\"\nbord = 1");
    let c = load_text(&text);
    assert_eq!(c.count(), 4, "{}", c.err());
    let shown = c.err().to_string();
    assert!(shown.ends_with(&format!("4 errors in {}", c.path.display())), "{shown}");
    for key in ["tasks.idle.priority", "tasks.hello.task-slots[0]", "tasks.hello.stacksize", "bord"] {
        assert!(c.err().has_key(key), "{key} missing from:\n{shown}");
    }
}

#[test]
fn problems_in_both_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let chip = std::fs::read_to_string(chips().join("stm32f405.toml")).unwrap();
    let chip = chip.replacen("name = \"STM32F405RGTx\"", "name = \"STM32F405RGTx\"\nvendor = \"ST\"", 1);
    let chip_path = dir.path().join("stm32f405.toml");
    std::fs::write(&chip_path, chip).unwrap();
    let c = load_with_chips(&edit("priority = 7", "priority = 7\nbogus = 1"), dir.path());
    c.expect("tasks.idle.bogus", &["unknown key"], &["remove it"]);
    c.expect_in(&chip_path, "vendor", &["unknown key `vendor`", "chip file"], &["`peripherals`"]);
}

#[test]
fn did_you_mean_is_conservative() {
    assert_eq!(appcfg::did_you_mean("prioirty", ["priority", "name"]), Some("priority"));
    assert_eq!(appcfg::did_you_mean("task_slots", ["task-slots", "uses"]), Some("task-slots"));
    assert_eq!(appcfg::did_you_mean("zzz", ["priority", "name"]), None);
    assert_eq!(appcfg::did_you_mean("x", std::iter::empty()), None);
}

// ---- the kernel log's reader ---------------------------------------------

#[test]
fn kernel_log_reader_resolves_to_task_and_bit() {
    let c = load_text(&edit("stacksize = 2048\n", "stacksize = 2048\nlog-task = \"console\"\nlog-notification = \"rx\"\n"));
    let log = c.app().kernel.log.clone().expect("log reader");
    assert_eq!((log.task, log.bit), (1, 0));
    assert_eq!(load_text(BASE).app().kernel.log, None);
}

#[test]
fn kernel_log_reader_must_exist_and_declare_its_notification() {
    let c = load_text(&edit("stacksize = 2048\n", "stacksize = 2048\nlog-task = \"consle\"\nlog-notification = \"rx\"\n"));
    c.expect("kernel.log-task", &["`consle`", "no task"], &["did you mean `console`?"]);
    let c = load_text(&edit("stacksize = 2048\n", "stacksize = 2048\nlog-task = \"console\"\nlog-notification = \"klog\"\n"));
    c.expect("kernel.log-notification", &["`console`", "`klog`"], &["add \"klog\" to [tasks.console] notifications"]);
    let c = load_text(&edit("stacksize = 2048\n", "stacksize = 2048\nlog-task = \"console\"\n"));
    c.expect("kernel.log-task", &["without log-notification"], &["log-notification = "]);
}
