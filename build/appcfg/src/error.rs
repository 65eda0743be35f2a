//! Diagnostics: what went wrong, where, and how to fix it.
//!
//! Every problem found in an app file or chip file becomes one
//! [`Diagnostic`] carrying the file, the key path inside it (rendered the way
//! TOML spells it, e.g. `tasks.console.task-slots[0]` or
//! `tasks.hello.interrupts."tim3.irq"`), the line where that key sits when it
//! can be found, a one-sentence statement of the problem, and a `help` line
//! that says what to change. Checks collect diagnostics in a [`Diags`] instead
//! of stopping at the first, so one run of the builder reports everything.
//!
//! Guarantee: a [`ConfigError`] is never empty, and its `Display` output names
//! the file and key of each problem and gives its fix.

use std::fmt;
use std::path::{Path, PathBuf};

/// One step in a key path: a table key or an array index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    /// A key in a table (`tasks`, `max-sizes`, `tim3.irq`).
    Key(String),
    /// An element of an array (`[0]`).
    Index(usize),
}

/// A path from the root of a TOML document to one value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    /// The document root (empty path).
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }

    /// This path extended by a table key.
    pub fn key(&self, k: &str) -> Self {
        let mut v = self.0.clone();
        v.push(Seg::Key(k.to_string()));
        KeyPath(v)
    }

    /// This path extended by an array index.
    pub fn index(&self, i: usize) -> Self {
        let mut v = self.0.clone();
        v.push(Seg::Index(i));
        KeyPath(v)
    }
}

/// True if `k` can be written as a TOML bare key.
fn is_bare_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for seg in &self.0 {
            match seg {
                Seg::Key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    if is_bare_key(k) {
                        f.write_str(k)?;
                    } else {
                        write!(f, "{k:?}")?;
                    }
                }
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

/// One problem in one file.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    /// The file the problem is in (the app file or a chip file).
    pub file: PathBuf,
    /// Key path of the offending value; empty when the problem is the whole
    /// file (unreadable, unparsable).
    pub key: String,
    /// 1-based line of the key in `file`, when it could be located.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// What to change to fix it.
    pub help: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        write!(f, "  --> {}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, " at `{}`", self.key)?;
        }
        writeln!(f)?;
        write!(f, "  help: {}", self.help)
    }
}

/// The error returned by [`crate::load`] and [`crate::allocate`]: every
/// problem found, in the order found (file order, then rule order).
#[derive(Clone, Debug)]
pub struct ConfigError {
    /// All problems; never empty.
    pub diagnostics: Vec<Diagnostic>,
}

impl ConfigError {
    /// True if some diagnostic is at exactly `key` (a rendered key path).
    pub fn has_key(&self, key: &str) -> bool {
        self.diagnostics.iter().any(|d| d.key == key)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        let n = self.diagnostics.len();
        let mut files: Vec<&Path> = Vec::new();
        for d in &self.diagnostics {
            if !files.contains(&d.file.as_path()) {
                files.push(&d.file);
            }
        }
        let files: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        write!(
            f,
            "\n\n{n} error{} in {}",
            if n == 1 { "" } else { "s" },
            files.join(", ")
        )
    }
}

impl std::error::Error for ConfigError {}

/// Collects diagnostics for one file, and resolves their line numbers from
/// the file's text when asked to.
pub(crate) struct Diags {
    pub file: PathBuf,
    source: String,
    pending: Vec<(KeyPath, String, String)>,
    done: Vec<Diagnostic>,
}

impl Diags {
    pub fn new(file: &Path, source: &str) -> Self {
        Diags {
            file: file.to_path_buf(),
            source: source.to_string(),
            pending: Vec::new(),
            done: Vec::new(),
        }
    }

    /// Records a problem at `path`.
    pub fn error(&mut self, path: &KeyPath, message: impl Into<String>, help: impl Into<String>) {
        self.pending.push((path.clone(), message.into(), help.into()));
    }

    /// Records a problem whose line is already known (parse errors).
    pub fn error_at_line(&mut self, line: Option<usize>, message: String, help: String) {
        self.done.push(Diagnostic {
            file: self.file.clone(),
            key: String::new(),
            line,
            message,
            help,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.done.is_empty()
    }

    /// Turns the collected problems into diagnostics, with line numbers.
    pub fn finish(self) -> Vec<Diagnostic> {
        let doc = toml_edit::ImDocument::parse(self.source.as_str()).ok();
        let mut out = self.done;
        for (path, message, help) in self.pending {
            let line = doc
                .as_ref()
                .and_then(|d| locate(d.as_item(), &path.0))
                .map(|off| line_of(&self.source, off));
            out.push(Diagnostic {
                file: self.file.clone(),
                key: path.to_string(),
                line,
                message,
                help,
            });
        }
        out
    }
}

/// 1-based line number of byte offset `off` in `text`.
pub(crate) fn line_of(text: &str, off: usize) -> usize {
    text[..off.min(text.len())].matches('\n').count() + 1
}

/// Byte offset of the deepest part of `path` that exists in `item`.
fn locate(item: &toml_edit::Item, path: &[Seg]) -> Option<usize> {
    let mut best = None;
    let mut cur = item;
    for seg in path {
        match seg {
            Seg::Key(k) => {
                let table = cur.as_table_like()?;
                let (key, next) = table.get_key_value(k)?;
                if let Some(span) = key.span().or_else(|| next.span()) {
                    best = Some(span.start);
                }
                cur = next;
            }
            Seg::Index(i) => {
                let arr = cur.as_array()?;
                let v = arr.get(*i)?;
                if let Some(span) = v.span() {
                    best = Some(span.start);
                }
                // Array elements are values; nothing below them is located.
                return best;
            }
        }
    }
    best
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let norm = |s: &str| s.to_ascii_lowercase().replace('_', "-");
    let w = norm(word);
    let mut best: Option<(&'a str, f64)> = None;
    for c in candidates {
        let cn = norm(c);
        let score = if cn == w {
            2.0
        } else {
            let dist = strsim::damerau_levenshtein(&w, &cn);
            let longest = w.chars().count().max(cn.chars().count()).max(1);
            let jw = strsim::jaro_winkler(&w, &cn);
            if dist <= (longest / 3).max(1) || jw >= 0.88 {
                jw + 1.0 - dist as f64 / longest as f64
            } else {
                continue;
            }
        };
        if best.is_none_or(|(_, s)| score > s) {
            best = Some((c, score));
        }
    }
    best.map(|(c, _)| c)
}

/// "did you mean `x`? " followed by `rest`, or just `rest`.
pub(crate) fn suggest<'a, I>(word: &str, candidates: I, rest: &str) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    match did_you_mean(word, candidates) {
        Some(c) => format!("did you mean `{c}`? Otherwise, {rest}"),
        None => rest.to_string(),
    }
}

/// Renders a list of names as "`a`, `b`, `c`" (or "none").
pub(crate) fn list<'a, I: IntoIterator<Item = &'a str>>(names: I) -> String {
    let v: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
    if v.is_empty() {
        "none".to_string()
    } else {
        v.join(", ")
    }
}
