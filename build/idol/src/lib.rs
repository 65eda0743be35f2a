//! Escapement's interface definition language: parser and code generator.
//!
//! Servers describe their IPC interface once, in a RON file under `idl/`
//! (the format of Hubris's Idol). Build scripts call this crate to generate
//! the client stub ([`client::build_client_stub`], in the server's API crate)
//! and the server support ([`server::build_server_support`], in the server),
//! so the two ends of a channel are always produced from the same text.
//!
//! ```ron
//! Interface(
//!     name: "Echo",
//!     ops: {
//!         "echo": (
//!             doc: "Returns `value`.",
//!             args: {"value": "u32"},
//!             reply: Result(ok: "u32", err: CLike("EchoError")),
//!             idempotent: true,
//!         ),
//!         "sum": (
//!             leases: {"data": (type: "[u8]", read: true, max_len: Some(256))},
//!             reply: Simple("u32"),
//!             idempotent: true,
//!         ),
//!     },
//! )
//! ```
//!
//! # The wire format this crate guarantees
//!
//! - Ops are numbered from 1 in declaration order; the number is the IPC
//!   operation code.
//! - The message is the op's args in declaration order, packed with no
//!   padding (`#[repr(C, packed)]`, native = little endian), encoded and
//!   decoded with zerocopy. `bool` travels as one byte, 0 or 1.
//! - Leases are attached in declaration order.
//! - Success is response code 0 with the reply value's bytes; an error is
//!   the error enum's discriminant as response code with no bytes.
//!
//! Everything that can be wrong in an IDL file is reported as an [`Error`]
//! naming the file, and the op (and position) when there is one.
//!
//! # What generated code needs
//!
//! Client stubs refer to `userlib`, `idol_runtime` and `zerocopy`; server
//! support also to `num_traits` and `num_derive`. Named types (arg, reply
//! and error types) are used by the name written in the IDL, so the file
//! that `include!`s the generated code must have them in scope.

use std::fmt;
use std::path::{Path, PathBuf};

pub mod ast;
pub mod client;
mod codegen;
pub mod server;

pub use ast::{Interface, Op};

/// A problem with an IDL file, or with writing generated code.
///
/// `Display` (and `Debug`, so that `fn main() -> Result<..>` in a build
/// script prints it readably) give `FILE[:LINE:COL]: [op "NAME": ]MESSAGE`.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    /// The IDL file (or output file, for write errors).
    pub file: PathBuf,
    /// 1-based line and column, for syntax errors.
    pub position: Option<(usize, usize)>,
    /// The op the problem is in, when it is in one.
    pub op: Option<String>,
    /// What is wrong, and where useful what to do.
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        write!(f, ": ")?;
        if let Some(op) = &self.op {
            write!(f, "op \"{op}\": ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {}

/// Reads and validates the IDL file at `path`.
pub fn parse_file(path: impl AsRef<Path>) -> Result<Interface, Error> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| Error {
        file: path.to_owned(),
        position: None,
        op: None,
        message: format!("cannot read: {e}"),
    })?;
    ast::parse(path, &text)
}

/// Parses and validates IDL `text`; `file` is only used in error messages.
pub fn parse_str(file: impl AsRef<Path>, text: &str) -> Result<Interface, Error> {
    ast::parse(file.as_ref(), text)
}

/// Shared by the build-script entry points: parse `idl_path` (telling
/// cargo to rerun when it changes), generate, and write
/// `$OUT_DIR/out_file_name`.
fn build_into_out_dir(
    idl_path: &Path,
    out_file_name: &str,
    generate: impl FnOnce(&Interface) -> String,
) -> Result<(), Error> {
    println!("cargo::rerun-if-changed={}", idl_path.display());
    let iface = parse_file(idl_path)?;
    let out_dir = std::env::var_os("OUT_DIR").ok_or_else(|| Error {
        file: PathBuf::from(out_file_name),
        position: None,
        op: None,
        message: "OUT_DIR is not set: call idol from a build script".into(),
    })?;
    let out = PathBuf::from(out_dir).join(out_file_name);
    std::fs::write(&out, generate(&iface)).map_err(|e| Error {
        file: out.clone(),
        position: None,
        op: None,
        message: format!("cannot write generated code: {e}"),
    })
}
