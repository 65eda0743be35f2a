fn main() -> Result<(), Box<dyn std::error::Error>> {
    build_util::expose_task_config();
    require_config(&["hook-quota", "grab-tasks", "hrtimer-pool", "hrtimer-quota"]);
    time_page_cfg();
    uif_window_cfg();
    cs_window_cfg();
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

/// `cfg(time_page)` when app.toml makes this task the writer of a
/// `[shared.time-page]` (the generated config then has its address).
fn time_page_cfg() {
    println!("cargo::rustc-check-cfg=cfg(time_page)");
    println!("cargo::rustc-check-cfg=cfg(time_page_refresh)");
    let Some(text) = generated_config() else { return };
    // Only in the `shared` module: a `config` key `time-page-writable`
    // generates the same line in `mod config`.
    if module(&text, "shared").contains("pub const TIME_PAGE_WRITABLE: bool = true;") {
        println!("cargo::rustc-cfg=time_page");
    }
    // Optional `config.time-page-refresh`: jiffies between the page's
    // rewrites on periodic ticks (see src/time_page.rs).
    if text.contains("pub const TIME_PAGE_REFRESH:") {
        println!("cargo::rustc-cfg=time_page_refresh");
    }
}

/// `cfg(uif_window)` when app.toml grants this task a window named
/// `tim2-sr` (the periodic tick's ack without IPC, src/uif_window.rs).
fn uif_window_cfg() {
    println!("cargo::rustc-check-cfg=cfg(uif_window)");
    let Some(text) = generated_config() else { return };
    if module(&text, "windows").contains("pub const TIM2_SR_BASE:") {
        println!("cargo::rustc-cfg=uif_window");
    }
}

/// `cfg(cs_window)` when app.toml grants this task a window named
/// `clocksource` (TIM5's CNT read without IPC, src/clocksource.rs).
fn cs_window_cfg() {
    println!("cargo::rustc-check-cfg=cfg(cs_window)");
    let Some(text) = generated_config() else { return };
    if module(&text, "windows").contains("pub const CLOCKSOURCE_BASE:") {
        println!("cargo::rustc-cfg=cs_window");
    }
}

/// The generated task config's text, if app.toml was given (see
/// `require_config`).
fn generated_config() -> Option<String> {
    std::env::var_os(build_util::TASK_CONFIG_ENV)?;
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("task_config.rs");
    Some(std::fs::read_to_string(&out).unwrap_or_default())
}

/// The body of module `name` in the generated config `text` ("" if absent).
fn module<'a>(text: &'a str, name: &str) -> &'a str {
    text.split(&format!("\npub mod {name} {{\n")).nth(1).and_then(|s| s.split("\n}\n").next()).unwrap_or("")
}
