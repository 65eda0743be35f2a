//! `cargo xtask`: Escapement's developer commands.
//!
//! - `dist [APP]`   build an image from an app file and write final.elf,
//!                  final.bin and the humility build archive;
//! - `run [APP]`    dist, then boot the image in QEMU, console on stdio;
//! - `test`         host unit tests, then the QEMU system tests;
//! - `humility ...` inspect a running QEMU image or a dump (build/humility);
//! - `flash [APP]`  program a board through a debug probe (probe-rs).
//!
//! Everything a fresh machine lacks (the Rust target, QEMU) is set up or
//! named with the exact command to run.

mod archive;
mod bench;
mod conformance;
mod dist;
mod elf;
mod humility;
mod kconfig;
mod linker;
mod qemu;
mod setup;
mod systest;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Escapement image builder and developer commands")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the image described by an app file (default: app.toml).
    Dist {
        /// App file to build.
        app: Option<PathBuf>,
    },
    /// Build, then boot the image in QEMU (netduinoplus2) with the console
    /// on this terminal. Quit with Ctrl-A X.
    Run {
        /// App file to build and run.
        app: Option<PathBuf>,
        /// Run under `-icount shift=0,sleep=off` (deterministic, as tests do).
        #[arg(long)]
        icount: bool,
        /// Open QEMU's gdbstub on 127.0.0.1:PORT (default 3333) so that
        /// `cargo xtask humility` can inspect the running image.
        #[arg(long, value_name = "PORT", num_args = 0..=1, default_missing_value = "3333", require_equals = true)]
        gdb: Option<u16>,
    },
    /// Inspect a running image (QEMU gdbstub) or a dump: tasks, ringbuf,
    /// readvar, manifest, map, dump, timers. `cargo xtask humility --help`.
    #[command(disable_help_flag = true)]
    Humility {
        /// Arguments for the inspector ([-a ARCHIVE] [--gdb PORT | -d DUMP] [--json] VIEW).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Build an image (default: the STM32F4-Discovery app) and program it
    /// into a board through a debug probe (probe-rs).
    Flash {
        /// App file to build and flash.
        app: Option<PathBuf>,
    },
    /// Measure on-target costs (instruction counts under QEMU icount);
    /// prints a table and writes target/escapement/bench/bench.json.
    Bench,
    /// Run the host unit tests and the QEMU system tests.
    Test {
        /// Only the host tests.
        #[arg(long)]
        host_only: bool,
        /// Only system tests whose name contains this.
        #[arg(long)]
        only: Option<String>,
    },
}

fn main() {
    let cli = Cli::parse();
    let result: Result<()> = match cli.cmd {
        Cmd::Dist { app } => dist::dist(&app_path(app)).map(|_| ()),
        Cmd::Run { app, icount, gdb } => run(&app_path(app), icount, gdb),
        Cmd::Humility { args } => humility::humility(args),
        Cmd::Flash { app } => humility::flash(app),
        Cmd::Bench => bench::bench(),
        Cmd::Test { host_only, only } => systest::test_all(host_only, only.as_deref()),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// The workspace root (where the top-level Cargo.toml is).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root exists")
}

fn app_path(app: Option<PathBuf>) -> PathBuf {
    app.unwrap_or_else(|| root().join("app.toml"))
}

fn run(app: &std::path::Path, icount: bool, gdb: Option<u16>) -> Result<()> {
    let image = dist::dist(app)?;
    setup::ensure_qemu()?;
    println!(
        "booting {} (image id {:#018x}, archive {}) in QEMU {}; quit with Ctrl-A X",
        image.name,
        image.image_id,
        image.archive.display(),
        image.board
    );
    if let Some(port) = gdb {
        println!("gdbstub on 127.0.0.1:{port}: inspect with `cargo xtask humility{} tasks`", if port == 3333 { String::new() } else { format!(" --gdb {port}") });
    }
    qemu::run_interactive(&image, icount, gdb)
}
