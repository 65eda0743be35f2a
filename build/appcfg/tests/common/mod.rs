//! Shared helpers for the integration tests: write app (and chip) files to a
//! temporary directory, load them, and assert on the diagnostics.

#![allow(dead_code)]

use appcfg::{App, ConfigError, Diagnostic};
use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The repository's chip files.
pub fn chips() -> PathBuf {
    repo().join("build/chips")
}

/// A valid app, shaped like the real one, that tests break one rule at a time.
pub const BASE: &str = r#"
name = "test-image"
target = "thumbv7em-none-eabihf"
board = "netduinoplus2"
chip = "stm32f405"

[kernel]
name = "kboot"
requires = { flash = 32768, ram = 8192 }
stacksize = 2048

[tasks.supervisor]
name = "task-supervisor"
priority = 0
max-sizes = { flash = 8192, ram = 1024 }
stacksize = 768
notifications = ["fault"]

[tasks.console]
name = "drv-console-usart"
priority = 1
max-sizes = { flash = 16384, ram = 2048 }
uses = ["usart1"]
notifications = ["rx"]
interrupts = { "usart1.irq" = "rx" }

[tasks.hello]
name = "task-hello"
priority = 3
max-sizes = { flash = 8192, ram = 1024 }
stacksize = 768
task-slots = ["console"]
notifications = ["tick"]
interrupts = { "tim3.irq" = "tick" }
uses = ["tim3"]
config = { greeting = "hello" }

[tasks.idle]
name = "task-idle"
priority = 7
max-sizes = { flash = 256, ram = 256 }
stacksize = 256
"#;

/// A loaded-or-not app file in its own temporary directory.
pub struct Case {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub result: Result<App, ConfigError>,
}

/// Writes `text` as `app.toml` in a fresh directory and loads it against the
/// repository's chip files.
pub fn load_text(text: &str) -> Case {
    load_with_chips(text, &chips())
}

/// As [`load_text`], with another chips directory.
pub fn load_with_chips(text: &str, chips: &Path) -> Case {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.toml");
    std::fs::write(&path, text).unwrap();
    let result = appcfg::load(&path, chips);
    Case { dir, path, result }
}

/// `BASE` with `from` replaced by `to` (which must occur exactly once).
pub fn edit(from: &str, to: &str) -> String {
    assert_eq!(BASE.matches(from).count(), 1, "{from:?} must occur once in BASE");
    BASE.replacen(from, to, 1)
}

impl Case {
    /// The error, or a panic if the app loaded.
    pub fn err(&self) -> &ConfigError {
        match &self.result {
            Ok(_) => panic!("expected {} to be rejected", self.path.display()),
            Err(e) => e,
        }
    }

    /// The app, or a panic showing the error.
    pub fn app(&self) -> &App {
        match &self.result {
            Ok(a) => a,
            Err(e) => panic!("expected the app to load:\n{e}"),
        }
    }

    /// Asserts there is a diagnostic at `key` in the app file whose message
    /// contains every string of `msg` and whose help contains every string of
    /// `help`, and that the rendered error shows file, key and help.
    /// Returns that diagnostic.
    pub fn expect(&self, key: &str, msg: &[&str], help: &[&str]) -> Diagnostic {
        self.expect_in(&self.path.clone(), key, msg, help)
    }

    /// As [`Case::expect`], for a diagnostic in `file`.
    pub fn expect_in(&self, file: &Path, key: &str, msg: &[&str], help: &[&str]) -> Diagnostic {
        let err = self.err();
        let text = err.to_string();
        let Some(d) = err
            .diagnostics
            .iter()
            .find(|d| d.key == key && msg.iter().all(|m| d.message.contains(m)) && help.iter().all(|h| d.help.contains(h)))
        else {
            panic!("no diagnostic at `{key}` with message {msg:?} and help {help:?} in:\n{text}");
        };
        assert_eq!(d.file, file, "diagnostic names the wrong file:\n{text}");
        assert!(!d.help.is_empty(), "diagnostic without a fix:\n{text}");
        let rendered = d.to_string();
        assert!(rendered.contains(&file.display().to_string()), "{rendered}");
        if !key.is_empty() {
            assert!(rendered.contains(&format!("`{key}`")), "{rendered}");
        }
        assert!(rendered.contains(&format!("help: {}", d.help)), "{rendered}");
        assert!(text.contains(&rendered), "ConfigError display omits a diagnostic:\n{text}");
        d.clone()
    }

    /// Asserts the diagnostic at `key` sits on the line of the file that
    /// contains `needle`.
    pub fn expect_line(&self, key: &str, needle: &str) {
        let text = std::fs::read_to_string(&self.path).unwrap();
        let want = text.lines().position(|l| l.contains(needle)).expect("needle in file") + 1;
        let err = self.err();
        let d = err.diagnostics.iter().find(|d| d.key == key).unwrap_or_else(|| panic!("no diagnostic at {key}:\n{err}"));
        assert_eq!(d.line, Some(want), "line of `{key}`:\n{err}");
    }

    /// Number of diagnostics.
    pub fn count(&self) -> usize {
        self.err().diagnostics.len()
    }
}
