fn main() -> Result<(), Box<dyn std::error::Error>> {
    build_util::expose_task_config();
    require_config(&["hook-quota", "grab-tasks", "hrtimer-pool", "hrtimer-quota"]);
    idol::server::build_server_support("../../idl/timer.idol", "server_stub.rs", idol::server::ServiceStyle::InOrder)?;
    Ok(())
}

/// The server's defences are configured, never defaulted: stop the build
/// with the fix if app.toml leaves one of `keys` out of `[tasks.timer]`'s
/// `config`. (Without `ESCAPEMENT_TASK_CONFIG` the generated file is
/// already a `compile_error!` saying how to build.)
fn require_config(keys: &[&str]) {
    if std::env::var_os(build_util::TASK_CONFIG_ENV).is_none() {
        return;
    }
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("task_config.rs");
    let text = std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("cannot read {}: {e}", out.display()));
    for key in keys {
        let name = key.to_uppercase().replace('-', "_");
        if !text.contains(&format!("pub const {name}:")) {
            panic!(
                "app.toml: the timer server's config has no `{key}`; add it to `config` of the task built from \
                 task-timer, e.g. `config = {{ hz = 100, pool = 256, quota = 32, hook-quota = 2, grab-tasks = [], \
                 hrtimer-pool = 16, hrtimer-quota = 4 }}` (`hook-quota`: hooks one task may hold; `grab-tasks`: the \
                 tasks that may grab the tick; `hrtimer-pool`/`hrtimer-quota`: high-resolution timers in all and \
                 per task)"
            );
        }
    }
}
