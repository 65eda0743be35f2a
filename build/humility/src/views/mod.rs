//! The views: each turns target state into a report, text and JSON.
//!
//! Why: one module per view keeps each view's assumptions (which statics,
//! which fields) in one place, and lets a view fail alone: a view returns
//! an error naming the static, field or task it could not find, and no
//! other view depends on it.
//!
//! Guarantees: a [`Report`] carries the same facts in `text` (for people;
//! stable layout, used by the golden tests) and `json` (for scripts).

pub mod dump;
pub mod manifest;
pub mod map;
pub mod readvar;
pub mod ringbuf;
pub mod tasks;
pub mod timers;

use anyhow::Result;

/// What a view produced.
pub struct Report {
    pub text: String,
    pub json: serde_json::Value,
}

/// The archive's app.toml, parsed, with any patches.toml applied.
pub fn app_table(archive: &crate::archive::Archive) -> Result<toml::Table> {
    archive.app()
}

/// `tasks.<name>.<key>` of the app, if present.
pub fn task_key<'a>(app: &'a toml::Table, task: &str, key: &str) -> Option<&'a toml::Value> {
    app.get("tasks")?.get(task)?.get(key)
}

/// The notification names of a task, bit 0 first.
pub fn notification_names(app: &toml::Table, task: &str) -> Vec<String> {
    task_key(app, task, "notifications")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

/// `bits` as hex with the names of the bits that have names
/// (`0x0005 (fault|tick)`).
pub fn format_bits(bits: u64, names: &[String]) -> String {
    let named: Vec<&str> = (0..32).filter(|i| bits & (1 << i) != 0).filter_map(|i| names.get(i).map(|s| s.as_str())).collect();
    if named.is_empty() {
        format!("{bits:#06x}")
    } else {
        format!("{bits:#06x} ({})", named.join("|"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_with_names() {
        let names = vec!["fault".to_string(), "refill".to_string()];
        assert_eq!(format_bits(1, &names), "0x0001 (fault)");
        assert_eq!(format_bits(3, &names), "0x0003 (fault|refill)");
        assert_eq!(format_bits(8, &names), "0x0008");
    }
}
