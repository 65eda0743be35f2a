//! How names from TOML become Rust identifiers in generated code.
//!
//! Task, notification, peripheral and config names appear in generated Rust
//! (`slots::CONSOLE`, `notifications::TICK_MASK`, `config::GREETING`). This
//! module is the single place that decides the mapping, so that validation
//! (which rejects names that would not compile or would collide) and code
//! generation (which emits them) can never disagree.
//!
//! Guarantee: if [`is_ident`] accepts a name, [`const_name`] and
//! [`mod_name`] of it are valid, non-keyword Rust identifiers.

/// Rust keywords (strict, reserved and weak-but-problematic), all editions.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
    "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move",
    "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true",
    "type", "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final",
    "gen", "macro", "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// `name` with `-` and `.` replaced by `_`.
pub fn underscored(name: &str) -> String {
    name.replace(['-', '.'], "_")
}

/// True if `name`, once `-` and `.` are mapped to `_`, is an ASCII Rust
/// identifier that is not a keyword (in any case) and not `_` alone.
pub fn is_ident(name: &str) -> bool {
    let u = underscored(name);
    let mut chars = u.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if !(first.is_ascii_alphabetic() || first == '_') {
        return false;
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return false;
    }
    if u.chars().all(|c| c == '_') {
        return false;
    }
    let lower = u.to_ascii_lowercase();
    !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(&lower))
}

/// A best-effort identifier built from `name`, offered as a fix.
pub fn sanitized(name: &str) -> String {
    let mut s: String = underscored(name)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, 'x');
    }
    if !is_ident(&s) {
        s.push('_');
        s.insert(0, 'x');
    }
    s
}

/// The constant name for `name`: upper case, `-` and `.` mapped to `_`.
pub fn const_name(name: &str) -> String {
    underscored(name).to_ascii_uppercase()
}

/// The module name for `name`: lower case, `-` and `.` mapped to `_`.
pub fn mod_name(name: &str) -> String {
    underscored(name).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(is_ident("hello"));
        assert!(is_ident("drv-console"));
        assert!(is_ident("a.b"));
        assert!(is_ident("_x"));
        assert!(!is_ident("_"));
        assert!(!is_ident("--"));
        assert!(!is_ident("1st"));
        assert!(!is_ident("has space"));
        assert!(!is_ident("type"));
        assert!(!is_ident("Self"));
        assert!(!is_ident("SELF"));
        assert!(!is_ident(""));
        assert!(!is_ident("é"));
        assert_eq!(const_name("my-task.x"), "MY_TASK_X");
        assert_eq!(mod_name("Pool-Size"), "pool_size");
        for bad in ["1st", "", "type", "a b", "_", "--"] {
            assert!(is_ident(&sanitized(bad)), "{bad:?} -> {:?}", sanitized(bad));
        }
    }
}
