//! Helpers for the `build.rs` scripts of tasks and the kernel.
//!
//! `cargo xtask dist` builds each task with the environment variable
//! `ESCAPEMENT_TASK_CONFIG` naming a generated Rust file (task index, task
//! slots, notification bits, peripheral addresses and the task's `config`
//! table from app.toml). A task's build script calls
//! [`expose_task_config`], and the task includes the result with
//! `include!(concat!(env!("OUT_DIR"), "/task_config.rs"));`.

use std::path::PathBuf;

/// Environment variable naming the generated per-task configuration file.
pub const TASK_CONFIG_ENV: &str = "ESCAPEMENT_TASK_CONFIG";

/// Copies the generated task configuration into `$OUT_DIR/task_config.rs`.
///
/// When the task is built by hand (plain `cargo build`), the variable is
/// missing; the copied file is then a `compile_error!` telling the user to
/// build through `cargo xtask dist`, rather than a confusing link failure.
pub fn expose_task_config() {
    expose(TASK_CONFIG_ENV, "task_config.rs", "tasks");
}

/// Environment variable naming the generated kernel configuration file
/// (task table, regions, IRQ routing, image id).
pub const KERNEL_CONFIG_ENV: &str = "ESCAPEMENT_KCONFIG";

/// Copies the generated kernel configuration into `$OUT_DIR/kconfig.rs`;
/// the kernel image crate includes it. Same fallback as
/// [`expose_task_config`].
pub fn expose_kernel_config() {
    expose(KERNEL_CONFIG_ENV, "kconfig.rs", "kernel images");
}

fn expose(var: &str, file: &str, what: &str) {
    println!("cargo::rerun-if-env-changed={var}");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join(file);
    let text = match std::env::var_os(var) {
        Some(path) => {
            let path = PathBuf::from(path);
            println!("cargo::rerun-if-changed={}", path.display());
            std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{var}={}: cannot read: {e}", path.display()))
        }
        None => format!(
            "compile_error!(\"{var} is not set: {what} are built by `cargo xtask dist`, which generates their configuration from app.toml\");\n"
        ),
    };
    std::fs::write(&out, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}
