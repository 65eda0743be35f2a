//! Escapement's inspector: humility's views (tasks, ring buffers, statics,
//! manifest, memory map, core dumps, timers) for Escapement images, driven
//! by the build archive.
//!
//! Why it exists: a Hubris-style system is debugged by reading its statics
//! through their debug info rather than by printing; this crate does that
//! for a QEMU guest (GDB remote protocol), a dump file, or a board through
//! a debug probe (feature `probe`), and writes dumps real humility loads.
//!
//! What it guarantees: nothing is decoded by fixed offsets; every read goes
//! through DWARF types found by name ([`dwarf`], [`value`]); the archive's
//! image id is checked against the target before any view runs
//! ([`inspect::Inspector::new`]); and each view fails alone with a message
//! naming what it could not find ([`views`]).
//!
//! Entry points: the `escapement-humility` binary and `cargo xtask
//! humility` both call [`cli::run`].

pub mod archive;
pub mod cli;
pub mod dwarf;
#[cfg(feature = "probe")]
pub mod flashing;
pub mod golden;
pub mod humility_text;
pub mod inspect;
pub mod target;
pub mod value;
pub mod views;

pub use archive::Archive;
pub use inspect::Inspector;
