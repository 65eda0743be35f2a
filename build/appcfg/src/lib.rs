//! `appcfg`: loads, validates and lays out an Escapement app file.
//!
//! An app file (`app.toml`) names the image, its target, board and chip, the
//! kernel's needs, and the tasks (in task-id order). A chip file
//! (`build/chips/<chip>.toml`) gives the chip's memories and peripherals.
//! The image builder (`cargo xtask`) calls:
//!
//! - [`load`] to read and check both files. Every problem found is reported,
//!   each naming the file, the key path (e.g. `tasks.console.task-slots[0]`)
//!   and the fix, with "did you mean" for misspelled keys and names;
//! - [`allocate`] to place the kernel and each task in MPU-legal regions;
//! - [`App::memory_map`] to show that placement;
//! - [`task_config_rs`] to generate the constants a task includes;
//! - [`irq_table`] and [`irq_routes`] for the kernel's IRQ routing.
//!
//! Guarantee: an [`App`] returned by [`load`] satisfies every rule listed in
//! the `validate` module docs, so the later steps cannot meet a malformed app
//! (only one that does not fit its chip, which [`allocate`] reports).
//!
//! Units: all sizes and addresses are in bytes.
//!
//! Shared regions and windows: `[shared.<name>]` (`size`, `writer`,
//! `readers`) declares a RAM region one task writes and others only read;
//! `[tasks.<t>.windows.<name>]` (`peripheral`, `offset`, `size`, `access`,
//! optional `alias = "bit-band"`) maps part of a peripheral for one task.
//! See [`SharedRegion`] and [`Window`]; e.g. the timer server's time page
//! and the read-only window on TIM5's CNT in app.toml, or, for a write
//! window on TIM2's update flag through its bit-band alias (`SR` at
//! offset 0x10, `UIF` bit 0: alias offset 0x10 * 32 + 0 * 4 = 0x200, in
//! the 32-byte block that holds SR's bits 0..7):
//!
//! ```toml
//! [tasks.timer.windows]
//! tim2-sr = { peripheral = "tim2", offset = 0x200, size = 32, access = "read-write", alias = "bit-band" }
//! ```
//!
//! Defaults: a task's `stacksize` is [`DEFAULT_TASK_STACKSIZE`] (1024 bytes)
//! when not given; `start` defaults to `true`; `uses`, `notifications`,
//! `interrupts`, `task-slots`, `config`, `features` and `windows` default
//! to empty, as does `[shared]`.

mod allocate;
mod chip;
pub mod clock;
mod codegen;
mod error;
mod names;
mod schema;
mod validate;

pub use allocate::{allocate, Allocation, TaskRegions};
pub use validate::window_base;
pub use chip::{Chip, Peripheral, Range};
pub use codegen::{irq_routes, irq_table, task_config_rs, IrqRoutes, IRQ_NOT_ROUTED};
pub use error::{did_you_mean, ConfigError, Diagnostic};
pub use schema::DEFAULT_TASK_STACKSIZE;
pub use validate::{MAX_NOTIFICATIONS, MAX_TASKS, MIN_STACK, MIN_TASK_REGION, MPU_REGIONS};

use error::{line_of, Diags, KeyPath};
use std::path::{Path, PathBuf};

/// A loaded, validated app.
#[derive(Clone, Debug)]
pub struct App {
    /// The app file, as passed to [`load`].
    pub path: PathBuf,
    /// The app file's text, verbatim (it goes into the build archive).
    pub source: String,
    /// Image name (`name`); names the archive.
    pub name: String,
    /// Rust target triple (`target`), an ARMv7-M one.
    pub target: String,
    /// Board name (`board`).
    pub board: String,
    /// The chip named by `chip`, loaded from its chip file.
    pub chip: Chip,
    /// `[kernel]`.
    pub kernel: Kernel,
    /// `[tasks.*]`, in declaration order: `tasks[i]` has task id `i`.
    pub tasks: Vec<Task>,
    /// `[shared.*]`: RAM regions one task writes and others only read, in
    /// declaration order.
    pub shared: Vec<SharedRegion>,
}

/// A RAM region that one task writes and other tasks may only read
/// (`[shared.<name>]`), for example the timer server's time page.
///
/// Each is one MPU region of its own, outside every task's RAM: the
/// writer maps it read/write, each reader read-only (unprivileged reads
/// only), and the kernel's checks of leases and IPC buffers follow the
/// same access, so a reader cannot get the kernel to write it either.
/// The kernel zeroes it at boot (before any task runs); it keeps its
/// contents across restarts of the writer and the readers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedRegion {
    /// The table name (`time-page`); tasks see `shared::TIME_PAGE_BASE`.
    pub name: String,
    /// Size in bytes: a power of two >= 32 (one MPU region).
    pub size: u32,
    /// The one task that may write it.
    pub writer: String,
    /// Tasks that may read it, each of strictly lower priority than the
    /// writer (see `validate`).
    pub readers: Vec<String>,
}

/// What a task may do in a window.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// Unprivileged reads only (`access = "read"`).
    Read,
    /// Unprivileged reads and writes (`access = "read-write"`).
    ReadWrite,
}

/// Part of a peripheral mapped for one task (`[tasks.<t>.windows.<name>]`):
/// an MPU-legal block (a power of two >= 32 bytes, aligned to its size)
/// of the peripheral's registers, or of their bit-band alias
/// (`alias = "bit-band"`: Cortex-M4's word-per-bit view at
/// `0x4200_0000 + (register - 0x4000_0000) * 32 + bit * 4`, where a word
/// write changes that one bit). Another task may own the whole
/// peripheral (`uses`); a window grants exactly its block and no more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// The table name (`clocksource`); the task sees `windows::CLOCKSOURCE_BASE`.
    pub name: String,
    /// The peripheral of the chip file it is part of.
    pub peripheral: String,
    /// Offset from the peripheral's base (or, for the bit-band alias, from
    /// the base of the peripheral's alias), in bytes.
    pub offset: u32,
    /// Size in bytes: a power of two >= 32, `offset` a multiple of it.
    pub size: u32,
    /// Read-only or read-write.
    pub access: Access,
    /// True for a window on the peripheral's bit-band alias.
    pub bit_band: bool,
    /// The window's first address (resolved from the chip file).
    pub base: u32,
}

/// Start of the Cortex-M4 peripheral bit-band region (1 MiB).
pub const BIT_BAND_REGION: u32 = 0x4000_0000;
/// Start of its alias (32 MiB: one word per bit).
pub const BIT_BAND_ALIAS: u32 = 0x4200_0000;

/// The kernel's build and memory needs (`[kernel]`).
#[derive(Clone, Debug)]
pub struct Kernel {
    /// Cargo package of the kernel binary (`name`).
    pub package: String,
    /// Bytes of flash and RAM the kernel needs (`requires`).
    pub requires: Sizes,
    /// Kernel (main) stack size in bytes; within `requires.ram`.
    pub stacksize: u32,
    /// Cargo features to build the kernel with.
    pub features: Vec<String>,
    /// The task that prints the kernel log (`log-task`, `log-notification`);
    /// `None`: the kernel writes its lines to the console synchronously.
    pub log: Option<KernelLog>,
}

/// The kernel log's reader, resolved: queued kernel lines are fetched by
/// task `task`, which the kernel posts notification bit `bit`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelLog {
    /// Task index of `log-task`.
    pub task: usize,
    /// Bit of `log-notification` among that task's notifications.
    pub bit: u32,
}

/// A flash and RAM amount, in bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// Bytes of flash.
    pub flash: u32,
    /// Bytes of RAM.
    pub ram: u32,
}

/// One task (`[tasks.<name>]`).
#[derive(Clone, Debug)]
pub struct Task {
    /// The table name (`hello` in `[tasks.hello]`); an identifier once `-`
    /// is read as `_`.
    pub name: String,
    /// Cargo package of the task binary (`name` key).
    pub package: String,
    /// 0 (highest, the supervisor only) to 31.
    pub priority: u8,
    /// Flash and RAM budgets in bytes; each a power of two >= 256.
    pub max_sizes: Sizes,
    /// Stack size in bytes: a multiple of 8, >= 256, <= `max_sizes.ram`.
    pub stacksize: u32,
    /// Whether the kernel starts the task at boot.
    pub start: bool,
    /// Peripherals (chip names) the task's MPU regions map.
    pub uses: Vec<String>,
    /// Notification names; bit `i` is `notifications[i]`.
    pub notifications: Vec<String>,
    /// IRQs routed to this task, in declaration order.
    pub interrupts: Vec<Interrupt>,
    /// Tasks this task may send to (all of strictly higher priority).
    pub task_slots: Vec<String>,
    /// Free configuration handed to the task's build (see [`task_config_rs`]).
    pub config: toml::Table,
    /// Cargo features to build the task with.
    pub features: Vec<String>,
    /// Parts of peripherals mapped for this task (`windows`), in
    /// declaration order.
    pub windows: Vec<Window>,
}

impl Task {
    /// MPU regions the task needs: flash, RAM, one per peripheral it
    /// uses, one per window, and one per shared region it reads or writes.
    pub fn mpu_regions(&self, shared: &[SharedRegion]) -> usize {
        2 + self.uses.len() + self.windows.len() + shared.iter().filter(|s| s.writer == self.name || s.readers.contains(&self.name)).count()
    }
}

/// One IRQ routed to a task as a notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interrupt {
    /// Peripheral name in the chip file (`tim3`).
    pub peripheral: String,
    /// Interrupt name within the peripheral (`irq`).
    pub irq_name: String,
    /// NVIC interrupt number.
    pub irq: u32,
    /// Name of the notification it raises.
    pub notification: String,
    /// Bit number of that notification (its index in `Task::notifications`).
    pub bit: u32,
}

impl App {
    /// The task id of the task called `name`.
    pub fn task_index(&self, name: &str) -> Option<usize> {
        self.tasks.iter().position(|t| t.name == name)
    }
}

/// Records a TOML syntax error with its line.
pub(crate) fn parse_error(d: &mut Diags, source: &str, e: &toml::de::Error) {
    let line = e.span().map(|s| line_of(source, s.start));
    d.error_at_line(
        line,
        format!("TOML syntax error: {}", e.message().trim_end()),
        "fix the syntax at that line (strings need quotes, tables [brackets], keys = values)".to_string(),
    );
}

/// Loads `app_path` and the chip file `<chips_dir>/<chip>.toml` it names,
/// and checks every rule. On failure, the error holds every problem found
/// in either file.
pub fn load(app_path: &Path, chips_dir: &Path) -> Result<App, ConfigError> {
    let source = match std::fs::read_to_string(app_path) {
        Ok(s) => s,
        Err(e) => {
            return Err(ConfigError {
                diagnostics: vec![Diagnostic {
                    file: app_path.to_path_buf(),
                    key: String::new(),
                    line: None,
                    message: format!("cannot read the app file: {e}"),
                    help: "pass the path of an existing app file, e.g. `app.toml` at the repository root".to_string(),
                }],
            })
        }
    };
    let mut d = Diags::new(app_path, &source);
    let root: toml::Table = match source.parse() {
        Ok(t) => t,
        Err(e) => {
            parse_error(&mut d, &source, &e);
            return Err(ConfigError { diagnostics: d.finish() });
        }
    };
    let draft = schema::parse_app(&mut d, &root);

    let mut chip_diags = Vec::new();
    let chip = draft.chip.as_deref().and_then(|name| {
        let path = chips_dir.join(format!("{name}.toml"));
        match std::fs::read_to_string(&path) {
            Ok(text) => match chip::parse(&path, &text) {
                Ok(c) => Some(c),
                Err(mut diags) => {
                    chip_diags.append(&mut diags);
                    None
                }
            },
            Err(e) => {
                let known = available_chips(chips_dir);
                let rest = format!(
                    "chips available in {}: {}",
                    chips_dir.display(),
                    error::list(known.iter().map(|s| s.as_str()))
                );
                d.error(
                    &KeyPath::root().key("chip"),
                    format!("cannot read chip file {} for chip `{name}`: {e}", path.display()),
                    error::suggest(name, known.iter().map(|s| s.as_str()), &rest),
                );
                None
            }
        }
    });
    validate::check(&mut d, &draft, chip.as_ref());

    let mut diagnostics = d.finish();
    diagnostics.append(&mut chip_diags);
    if !diagnostics.is_empty() {
        return Err(ConfigError { diagnostics });
    }
    let app = validate::build(app_path.to_path_buf(), source, draft, chip.expect("no errors"));
    allocate(&app)?;
    Ok(app)
}

/// Stems of the `*.toml` files in `dir`, sorted.
fn available_chips(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            (p.extension()? == "toml").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    v.sort();
    v
}
