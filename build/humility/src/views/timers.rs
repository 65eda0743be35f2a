//! `timers`: the timer server's state. Placeholder until the timer server
//! exists; see `timers()`.

use super::Report;
use crate::inspect::Inspector;
use anyhow::{bail, Result};

/// Produces the report.
pub fn timers(insp: &mut Inspector) -> Result<Report> {
    let _ = insp;
    bail!("no timer server")
}
