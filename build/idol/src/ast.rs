//! The IDL's data model: what a `.idol` file may say, parsed and validated.
//!
//! Parsing happens in two steps. serde + RON turn the text into the raw
//! shape (unknown fields and duplicate keys are errors, so typos cannot go
//! unnoticed); [`parse`] then checks everything the code generator relies
//! on (identifiers, types, lease attributes, reply rules) and numbers the
//! ops. A validated [`Interface`] always generates code that compiles,
//! given that the named types it mentions exist.

use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::Error;

/// A validated interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// CamelCase interface name; names the client struct, the op enum
    /// (`<Name>Operation`) and the server trait (`InOrder<Name>Impl`).
    pub name: String,
    /// Documentation copied into the generated code.
    pub doc: Option<String>,
    /// Ops in declaration order, keyed by name.
    pub ops: IndexMap<String, Op>,
    /// The file it came from, as given to the parser.
    pub source: PathBuf,
}

/// One operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// snake_case name: the client method and server trait method.
    pub name: String,
    /// Operation code on the wire: position in the file, from 1.
    pub number: u16,
    /// Documentation copied into the generated code.
    pub doc: Option<String>,
    /// Arguments, in wire order.
    pub args: IndexMap<String, Ty>,
    /// Leases, in attachment order.
    pub leases: IndexMap<String, Lease>,
    /// What a successful call returns, and how errors are reported.
    pub reply: Reply,
    /// The op may be repeated without changing its effect: clients retry it
    /// transparently after a server restart.
    pub idempotent: bool,
}

/// A value type: an argument or reply payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    /// `()`: no bytes (replies only).
    Unit,
    /// A primitive.
    Prim(Prim),
    /// A named type (a path), which must implement zerocopy's `FromBytes`,
    /// `IntoBytes`, `Immutable` and `KnownLayout`, and be `Copy`.
    Named(String),
}

/// The primitive types the IDL knows by name.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Prim {
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    /// One byte on the wire, 0 or 1; a server refuses anything else.
    Bool,
}

impl Prim {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "u8" => Self::U8,
            "u16" => Self::U16,
            "u32" => Self::U32,
            "u64" => Self::U64,
            "i8" => Self::I8,
            "i16" => Self::I16,
            "i32" => Self::I32,
            "i64" => Self::I64,
            "bool" => Self::Bool,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::U8 => "u8",
            Self::U16 => "u16",
            Self::U32 => "u32",
            Self::U64 => "u64",
            Self::I8 => "i8",
            Self::I16 => "i16",
            Self::I32 => "i32",
            Self::I64 => "i64",
            Self::Bool => "bool",
        }
    }
}

impl Ty {
    /// The type as the API presents it (`bool` is `bool`).
    pub fn rust(&self) -> &str {
        match self {
            Self::Unit => "()",
            Self::Prim(p) => p.name(),
            Self::Named(n) => n,
        }
    }

    /// The type as it travels (`bool` is `u8`).
    pub fn wire(&self) -> &str {
        match self {
            Self::Prim(Prim::Bool) => "u8",
            other => other.rust(),
        }
    }

    /// True for `bool`, which needs converting to and from its wire form.
    pub fn is_bool(&self) -> bool {
        *self == Self::Prim(Prim::Bool)
    }
}

/// A lease of bytes (`[u8]`) the client attaches.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The server may read it.
    pub read: bool,
    /// The server may write it.
    pub write: bool,
    /// Longest lease accepted, in bytes; longer ones are refused with
    /// `BadLeases`. `None`: no limit.
    pub max_len: Option<u32>,
}

impl Lease {
    /// The `idol_runtime` access marker: `R`, `W` or `RW`.
    pub fn access_marker(&self) -> &'static str {
        match (self.read, self.write) {
            (true, true) => "RW",
            (false, true) => "W",
            _ => "R",
        }
    }
}

/// How an op answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Always succeeds with a value of this type.
    Simple(Ty),
    /// Succeeds with `ok` or fails with a variant of the C-like enum `err`.
    Result {
        /// The success payload.
        ok: Ty,
        /// The error enum's name (a path).
        err: String,
    },
}

impl Reply {
    /// The success payload type.
    pub fn ok(&self) -> &Ty {
        match self {
            Self::Simple(t) | Self::Result { ok: t, .. } => t,
        }
    }

    /// The error enum, if any.
    pub fn err(&self) -> Option<&str> {
        match self {
            Self::Simple(_) => None,
            Self::Result { err, .. } => Some(err),
        }
    }
}

// ---------------------------------------------------------------------------
// The raw shape, as serde sees it.
// ---------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename = "Interface", deny_unknown_fields)]
struct RawInterface {
    name: String,
    #[serde(default)]
    doc: Option<String>,
    #[serde(deserialize_with = "unique_map")]
    ops: IndexMap<String, RawOp>,
}

#[derive(Deserialize)]
#[serde(rename = "Op", deny_unknown_fields)]
struct RawOp {
    #[serde(default)]
    doc: Option<String>,
    #[serde(default, deserialize_with = "unique_map")]
    args: IndexMap<String, String>,
    #[serde(default, deserialize_with = "unique_map")]
    leases: IndexMap<String, RawLease>,
    reply: RawReply,
    #[serde(default)]
    idempotent: bool,
}

#[derive(Deserialize)]
#[serde(rename = "Lease", deny_unknown_fields)]
struct RawLease {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    read: bool,
    #[serde(default)]
    write: bool,
    #[serde(default)]
    max_len: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename = "Reply")]
enum RawReply {
    Simple(String),
    Result { ok: String, err: RawErr },
}

#[derive(Deserialize)]
#[serde(rename = "ErrorType")]
enum RawErr {
    CLike(String),
}

/// Deserializes a map into an `IndexMap`, keeping declaration order and
/// refusing duplicate keys (serde's default would keep the last silently,
/// renumbering ops behind the author's back).
fn unique_map<'de, D, V>(deserializer: D) -> Result<IndexMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct UniqueMap<V>(PhantomData<V>);

    impl<'de, V: Deserialize<'de>> Visitor<'de> for UniqueMap<V> {
        type Value = IndexMap<String, V>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map with string keys")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
            let mut map = IndexMap::new();
            while let Some(key) = access.next_key::<String>()? {
                if map.contains_key(&key) {
                    return Err(de::Error::custom(format!("\"{key}\" is declared twice")));
                }
                let value = access.next_value()?;
                map.insert(key, value);
            }
            Ok(map)
        }
    }

    deserializer.deserialize_map(UniqueMap(PhantomData))
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

/// Names generated code uses for its own parameters and locals; an arg or
/// lease with one of these names would be shadowed.
const RESERVED: &[&str] = &["msg", "server", "incoming", "args", "reply", "leases"];

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false", "fn",
    "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self",
    "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while", "abstract",
    "become", "box", "do", "final", "macro", "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

fn is_snake_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && s != "_"
        && !KEYWORDS.contains(&s)
}

fn is_camel_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('A'..='Z')) && chars.all(|c| c.is_ascii_alphanumeric()) && !KEYWORDS.contains(&s)
}

fn is_type_path(s: &str) -> bool {
    s.split("::").enumerate().all(|(i, seg)| {
        let mut chars = seg.chars();
        let ident = matches!(chars.next(), Some('a'..='z' | 'A'..='Z' | '_'))
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && seg != "_";
        ident && (!KEYWORDS.contains(&seg) || (i == 0 && matches!(seg, "crate" | "super" | "self")))
    }) && !s.ends_with("::crate")
}

/// `sum_all` -> `SumAll`.
pub(crate) fn camel_case(snake: &str) -> String {
    snake
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            let first = c.next().map(|f| f.to_ascii_uppercase()).into_iter();
            first.chain(c).collect::<String>()
        })
        .collect()
}

/// `ClockEvent` -> `CLOCK_EVENT`.
pub(crate) fn screaming_snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn parse_ty(s: &str, allow_unit: bool) -> Result<Ty, String> {
    let s = s.trim();
    if s == "()" {
        return if allow_unit {
            Ok(Ty::Unit)
        } else {
            Err("type \"()\" is only allowed as a reply".into())
        };
    }
    if let Some(p) = Prim::from_name(s) {
        return Ok(Ty::Prim(p));
    }
    if is_type_path(s) {
        return Ok(Ty::Named(s.to_owned()));
    }
    Err(format!(
        "type \"{s}\" is neither a primitive (u8, u16, u32, u64, i8, i16, i32, i64, bool{}) nor a type name",
        if allow_unit { ", ()" } else { "" }
    ))
}

/// Parses and validates `text`, the contents of `file`.
pub fn parse(file: &Path, text: &str) -> Result<Interface, Error> {
    let keys = op_keys(text);
    let op_at = |line: usize, col: usize| {
        keys.iter().rev().find(|k| (k.line, k.col) <= (line, col)).map(|k| k.name.clone())
    };
    let options = ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    let raw: RawInterface = options.from_str(text).map_err(|e| {
        let (line, col) = (e.span.start.line, e.span.start.col);
        Error { file: file.to_owned(), position: Some((line, col)), op: op_at(line, col), message: e.code.to_string() }
    })?;

    let fail = |op: Option<&str>, message: String| {
        let position = op.and_then(|name| keys.iter().find(|k| k.name == name)).map(|k| (k.line, k.col));
        Error { file: file.to_owned(), position, op: op.map(str::to_owned), message }
    };

    if !is_camel_ident(&raw.name) {
        return Err(fail(None, format!("interface name \"{}\" must be CamelCase, like \"Echo\"", raw.name)));
    }
    if raw.ops.is_empty() {
        return Err(fail(None, "the interface has no ops".into()));
    }
    if raw.ops.len() > u16::MAX as usize {
        return Err(fail(None, format!("{} ops; operation numbers are 16 bits", raw.ops.len())));
    }

    let mut ops: IndexMap<String, Op> = IndexMap::new();
    let mut variants: IndexMap<String, String> = IndexMap::new();
    for (i, (name, raw_op)) in raw.ops.into_iter().enumerate() {
        let here = Some(name.as_str());
        if !is_snake_ident(&name) {
            return Err(fail(here, "op names must be snake_case identifiers (and not Rust keywords)".into()));
        }
        let variant = camel_case(&name);
        if let Some(other) = variants.insert(variant.clone(), name.clone()) {
            return Err(fail(here, format!("clashes with op \"{other}\": both become the enum variant {variant}")));
        }

        let mut args = IndexMap::new();
        for (arg, ty) in raw_op.args {
            check_param_name(&arg).map_err(|m| fail(here, format!("arg \"{arg}\": {m}")))?;
            let ty = parse_ty(&ty, false).map_err(|m| fail(here, format!("arg \"{arg}\": {m}")))?;
            args.insert(arg, ty);
        }

        let mut leases = IndexMap::new();
        for (lease, raw_lease) in raw_op.leases {
            let problem = |m: String| fail(here, format!("lease \"{lease}\": {m}"));
            check_param_name(&lease).map_err(problem)?;
            if args.contains_key(&lease) {
                return Err(problem("an arg has the same name".into()));
            }
            if raw_lease.ty.trim() != "[u8]" {
                return Err(problem(format!("type \"{}\" is not supported: leases are \"[u8]\"", raw_lease.ty)));
            }
            if !raw_lease.read && !raw_lease.write {
                return Err(problem("grants neither read nor write: add `read: true` and/or `write: true`".into()));
            }
            leases.insert(
                lease,
                Lease { read: raw_lease.read, write: raw_lease.write, max_len: raw_lease.max_len },
            );
        }

        let reply = match raw_op.reply {
            RawReply::Simple(t) => Reply::Simple(parse_ty(&t, true).map_err(|m| fail(here, format!("reply: {m}")))?),
            RawReply::Result { ok, err: RawErr::CLike(err) } => {
                let ok = parse_ty(&ok, true).map_err(|m| fail(here, format!("reply ok: {m}")))?;
                if Prim::from_name(&err).is_some() || !is_type_path(&err) {
                    return Err(fail(here, format!("reply err: \"{err}\" must name a C-like error enum")));
                }
                Reply::Result { ok, err }
            }
        };
        if matches!(reply, Reply::Simple(_)) && !raw_op.idempotent {
            return Err(fail(
                here,
                "a Simple reply has no way to report that the server died during the call; \
                 mark the op `idempotent: true` (clients then retry it) or use \
                 Result(ok: ..., err: CLike(ErrorEnum)) with a server-death variant"
                    .into(),
            ));
        }

        let op = Op {
            name: name.clone(),
            number: (i + 1) as u16,
            doc: raw_op.doc,
            args,
            leases,
            reply,
            idempotent: raw_op.idempotent,
        };
        ops.insert(name, op);
    }

    Ok(Interface { name: raw.name, doc: raw.doc, ops, source: file.to_owned() })
}

fn check_param_name(name: &str) -> Result<(), String> {
    if !is_snake_ident(name) {
        return Err("names must be snake_case identifiers (and not Rust keywords)".into());
    }
    if RESERVED.contains(&name) {
        return Err(format!("the name is used by generated code; choose another than {RESERVED:?}"));
    }
    Ok(())
}

/// Where an op's key appears in the text.
struct OpKey {
    name: String,
    line: usize,
    col: usize,
}

/// Finds the op keys in RON text without parsing it: string literals
/// directly inside the `ops` map (nesting depth 2) followed by `:`.
///
/// This works on text that does not parse, which is exactly when it is
/// needed: to say which op a syntax error is in.
fn op_keys(text: &str) -> Vec<OpKey> {
    let mut keys = Vec::new();
    let mut depth = 0usize;
    let (mut line, mut col) = (1usize, 0usize);
    let mut chars = text.chars().peekable();
    // A string just closed at depth 2, waiting to see whether `:` follows.
    let mut candidate: Option<OpKey> = None;
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
            col = 0;
        } else {
            col += 1;
        }
        match c {
            c if c.is_whitespace() => continue,
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        col = 0;
                        break;
                    }
                }
                continue;
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut prev = ' ';
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        col = 0;
                    } else {
                        col += 1;
                    }
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
                continue;
            }
            _ => {}
        }
        if let Some(key) = candidate.take() {
            if c == ':' {
                keys.push(key);
                continue;
            }
        }
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '"' => {
                let (start_line, start_col) = (line, col);
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    if c == '\n' {
                        line += 1;
                        col = 0;
                    } else {
                        col += 1;
                    }
                    match c {
                        '\\' => {
                            if let Some(e) = chars.next() {
                                col += 1;
                                s.push(e);
                            }
                        }
                        '"' => break,
                        c => s.push(c),
                    }
                }
                if depth == 2 {
                    candidate = Some(OpKey { name: s, line: start_line, col: start_col });
                }
            }
            _ => {}
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_keys_are_found_at_depth_two_only() {
        let text = r#"Interface(name: "X", ops: {
            // "commented": (
            "first": (args: {"a": "u32"}, reply: Simple("u32")),
            "second" : (leases: {"d": (type: "[u8]", read: true)}, reply: Simple("()")),
        })"#;
        let keys: Vec<_> = op_keys(text).into_iter().map(|k| (k.name, k.line)).collect();
        assert_eq!(keys, vec![("first".to_string(), 3), ("second".to_string(), 4)]);
    }

    #[test]
    fn case_conversions() {
        assert_eq!(camel_case("sum_all"), "SumAll");
        assert_eq!(camel_case("read_u32"), "ReadU32");
        assert_eq!(camel_case("echo"), "Echo");
        assert_eq!(screaming_snake("ClockEvent"), "CLOCK_EVENT");
        assert_eq!(screaming_snake("Echo"), "ECHO");
    }

    #[test]
    fn identifier_rules() {
        assert!(is_snake_ident("fill_2"));
        assert!(!is_snake_ident("Fill"));
        assert!(!is_snake_ident("type"));
        assert!(!is_snake_ident("_"));
        assert!(!is_snake_ident("a-b"));
        assert!(is_type_path("crate::Foo"));
        assert!(is_type_path("echo_api::EchoError"));
        assert!(!is_type_path("Foo::"));
        assert!(!is_type_path("[u8]"));
        assert!(!is_type_path("foo::type"));
    }
}
