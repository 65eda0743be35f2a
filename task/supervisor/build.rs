//! Exposes the task configuration, and turns the optional config keys the
//! supervisor reads (`refill-task`, `always-restart-tasks`) into constants
//! that exist whether or not app.toml sets them.

use std::fmt::Write;

fn main() {
    build_util::expose_task_config();
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let config = std::fs::read_to_string(out.join("task_config.rs")).unwrap_or_default();
    // The generated file names each key once, as `pub const NAME: TYPE = VALUE;`.
    let value = |name: &str| {
        let prefix = format!("pub const {name}: ");
        config.lines().find_map(|l| l.trim().strip_prefix(&prefix).map(|rest| rest.split_once(" = ").map(|(_, v)| v.trim_end_matches(';').to_string())))
    };
    let mut policy = String::new();
    let refill = value("REFILL_TASK").flatten().map_or("None".to_string(), |v| format!("Some({v})"));
    let always = value("ALWAYS_RESTART_TASKS_MASK").flatten().unwrap_or_else(|| "0".to_string());
    let _ = writeln!(policy, "/// app.toml `refill-task`: the task whose refill messages are honoured.");
    let _ = writeln!(policy, "const REFILL_TASK: Option<usize> = {refill};");
    let _ = writeln!(policy, "/// app.toml `always-restart-tasks`, as a set of task indices.");
    let _ = writeln!(policy, "const ALWAYS_RESTART: u32 = {always};");
    std::fs::write(out.join("policy_config.rs"), policy).expect("write policy_config.rs");
}
