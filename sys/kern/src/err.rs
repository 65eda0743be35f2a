//! The kernel's errors: what can go wrong in a syscall, in one place.
//!
//! A syscall either succeeds (possibly answering with an error *code*,
//! which is the caller's business: a dead peer, a bad lease index) or the
//! caller misused it, which stops the caller ([`Misuse`], carrying the
//! `abi::UsageError` the task's fault records). Nothing a task does is a
//! kernel error; the kernel's own unrecoverable states are `Kernel::panic`.

use abi::UsageError;

/// Why a syscall stopped early: the caller misused it, and is faulted.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub(crate) struct Misuse(pub UsageError);

/// The outcome of a syscall's checks and work.
pub(crate) type SysResult = Result<(), Misuse>;
