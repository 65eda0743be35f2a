//! The command line: `escapement-humility [-a ARCHIVE] [--gdb PORT | -d DUMP]
//! [--json] <view>`, also reached as `cargo xtask humility ...`.
//!
//! Why: one parser for both entry points, so the xtask only forwards its
//! arguments (and the default archive of app.toml).
//!
//! Target choice: `-d DUMP` reads a dump (its embedded archive unless `-a`
//! is given, in which case the two must agree); `--gdb PORT` attaches to a
//! gdbstub; `--probe` (feature `probe`) to a debug probe. Without any,
//! `manifest` and `map` read the archive alone and the other views attach
//! to the gdbstub on port 3333, where `cargo xtask run --gdb` puts it.

use crate::archive::Archive;
use crate::inspect::Inspector;
use crate::target::{dump::DumpTarget, gdb::GdbTarget, ImageTarget, Target};
use crate::views::{self, Report};
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

/// The gdbstub port `cargo xtask run --gdb` uses by default.
pub const DEFAULT_GDB_PORT: u16 = 3333;

/// Inspect an Escapement system (live under QEMU, on a board, or in a dump)
/// with its build archive.
#[derive(Parser, Debug)]
#[command(name = "humility", version, about)]
pub struct Args {
    /// Build archive (build-<name>.zip from `cargo xtask dist`).
    #[arg(short = 'a', long = "archive", global = true)]
    pub archive: Option<PathBuf>,
    /// Attach to QEMU's gdbstub on 127.0.0.1:PORT.
    #[arg(long = "gdb", value_name = "PORT", global = true, conflicts_with = "dump")]
    pub gdb: Option<u16>,
    /// Read a core dump instead of a live target.
    #[arg(short = 'd', long = "dump", value_name = "DUMP", global = true)]
    pub dump: Option<PathBuf>,
    /// Attach through a debug probe (probe-rs).
    #[cfg(feature = "probe")]
    #[arg(long = "probe", global = true, conflicts_with_all = ["gdb", "dump"])]
    pub probe: bool,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub view: View,
}

/// The views.
#[derive(Subcommand, Debug, Clone)]
pub enum View {
    /// Tasks: id, name, generation, priority, state, pending notifications.
    Tasks,
    /// Trace ring buffers, oldest entry first (all tasks, or one).
    Ringbuf {
        /// Task name (or `kernel`).
        task: Option<String>,
    },
    /// A static by name, decoded by its DWARF type (`-l` lists them).
    Readvar {
        /// List every static instead.
        #[arg(short = 'l', long)]
        list: bool,
        /// Only look in this task (or `kernel`).
        #[arg(long)]
        task: Option<String>,
        /// Name or path of the static.
        name: Option<String>,
    },
    /// What the archive says the image is.
    Manifest,
    /// Memory regions of each task.
    Map,
    /// Write registers, RAM and flash with the archive to an ELF core file.
    Dump {
        /// Output file (default: hubris.core.<image>.<n>).
        file: Option<PathBuf>,
    },
    /// The timer server: jiffies, timers, wheel and hooks.
    Timers,
    /// Program the archive's image into a board through a debug probe.
    #[cfg(feature = "probe")]
    Flash,
}

impl View {
    /// True for views that need only the archive.
    fn archive_only(&self) -> bool {
        matches!(self, View::Manifest | View::Map | View::Readvar { list: true, .. })
    }
}

/// Parses `args` (program name first) and runs the view, printing its
/// report. `default_archive` is used when neither `-a` nor `-d` is given.
pub fn run(args: impl IntoIterator<Item = OsString>, default_archive: Option<PathBuf>) -> Result<()> {
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) if !e.use_stderr() => {
            print!("{e}");
            return Ok(());
        }
        Err(e) => bail!("{e}"),
    };
    let out = execute(&args, default_archive)?;
    print!("{out}");
    Ok(())
}

/// Runs a parsed command and returns what it prints.
pub fn execute(args: &Args, default_archive: Option<PathBuf>) -> Result<String> {
    #[cfg(feature = "probe")]
    if let View::Flash = args.view {
        let path = args.archive.clone().or(default_archive).context("flash needs an archive (-a build-<name>.zip)")?;
        let archive = Archive::open(&path)?;
        return crate::target::probe::flash(&archive);
    }
    let mut insp = open(args, default_archive)?;
    let report = run_view(&mut insp, &args.view)?;
    Ok(render(&report, args.json))
}

/// Text or pretty JSON.
pub fn render(report: &Report, json: bool) -> String {
    if json {
        format!("{}\n", serde_json::to_string_pretty(&report.json).expect("JSON values serialize"))
    } else {
        report.text.clone()
    }
}

/// Opens the archive and the target the arguments name, checking that they
/// belong together.
pub fn open(args: &Args, default_archive: Option<PathBuf>) -> Result<Inspector> {
    if let Some(d) = &args.dump {
        let target = DumpTarget::open(d)?;
        let archive = match (&args.archive, target.embedded_archive()) {
            (Some(a), _) => Archive::open(a)?,
            (None, Some(bytes)) => Archive::from_bytes(bytes, format!("the archive in dump {}", d.display()))?,
            (None, None) => bail!("dump {} carries no archive; pass one with -a", d.display()),
        };
        return Inspector::new(archive, Box::new(target), true);
    }
    let path = args.archive.clone().or(default_archive).context(
        "no archive: pass -a build-<name>.zip (cargo xtask dist writes it to target/escapement/<name>/)",
    )?;
    let archive = Archive::open(&path).with_context(|| {
        if path.exists() {
            String::new()
        } else {
            "build the image first with `cargo xtask dist` (or `cargo xtask run --gdb`)".to_string()
        }
    })?;
    #[cfg(feature = "probe")]
    if args.probe {
        let t = crate::target::probe::ProbeTarget::attach(&archive)?;
        return Inspector::new(archive, Box::new(t), true);
    }
    let port = match (args.gdb, args.view.archive_only()) {
        (Some(p), _) => p,
        (None, true) => {
            let image = ImageTarget::from_elf(archive.final_elf.as_deref().context("the archive has no img/final.elf")?)?;
            return Inspector::new(archive, Box::new(image), false);
        }
        (None, false) => DEFAULT_GDB_PORT,
    };
    let target: Box<dyn Target> = Box::new(GdbTarget::connect(port)?);
    Inspector::new(archive, target, true)
}

/// Runs one view.
pub fn run_view(insp: &mut Inspector, view: &View) -> Result<Report> {
    match view {
        View::Tasks => views::tasks::tasks(insp),
        View::Ringbuf { task } => views::ringbuf::ringbuf(insp, task.as_deref()),
        View::Readvar { list: true, task, .. } => views::readvar::list(insp, task.as_deref()),
        View::Readvar { name: Some(n), task, .. } => views::readvar::readvar(insp, n, task.as_deref()),
        View::Readvar { name: None, .. } => bail!("readvar needs a NAME (or -l to list the statics)"),
        View::Manifest => views::manifest::manifest(&insp.archive),
        View::Map => views::map::map(insp),
        View::Dump { file } => views::dump::dump(insp, file.as_deref()),
        View::Timers => views::timers::timers(insp),
        #[cfg(feature = "probe")]
        View::Flash => bail!("flash is not a view"),
    }
}
