//! Values decoded from target memory by DWARF type, and how they print.
//!
//! Why: views and `readvar` need the contents of statics as data they can
//! navigate by field and variant name (`task.state` is `Healthy(InRecv(None))`
//! whatever the enum's layout), and print in a form a Rust programmer reads
//! at once (`Some(3)`, `Write { task: TaskId(2), len: 12 }`).
//!
//! Guarantees: [`decode`] never reads outside the byte slice it is given
//! (a short slice is an error naming the type), selects enum variants only
//! through the DWARF variant part (tagged, niche or single-variant), and
//! turns anything it cannot interpret into [`Value::Unknown`] with the raw
//! bytes rather than guessing. Pointers are not followed here; the
//! inspector follows them explicitly.

use crate::dwarf::{Encoding, Program, Type, TypeRef};
use anyhow::{bail, Result};
use std::fmt;

/// A decoded value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Unsigned(u64),
    Signed(i64),
    Bool(bool),
    Char(char),
    Float(f64),
    /// A zero-sized value (`()`, `PhantomData`).
    Unit,
    /// A struct or union: its type name and named fields, in order.
    Struct { ty: String, fields: Vec<(String, Value)> },
    /// An enum variant (C-like or with data).
    Enum { ty: String, variant: String, fields: Vec<(String, Value)> },
    Array(Vec<Value>),
    /// A pointer or reference: the pointee type's name and offset, and the
    /// address held.
    Pointer { ty: String, target: Option<TypeRef>, addr: u64 },
    /// A string read through a `&str` (the inspector resolves these).
    Str(String),
    /// Bytes of a type the decoder does not interpret.
    Unknown { ty: String, bytes: Vec<u8> },
}

/// Decodes `bytes` as a value of type `ty` in `program`.
pub fn decode(program: &Program, ty: Option<TypeRef>, bytes: &[u8]) -> Result<Value> {
    decode_at(program, ty, bytes, 0)
}

fn decode_at(p: &Program, ty: Option<TypeRef>, bytes: &[u8], depth: usize) -> Result<Value> {
    if depth > 64 {
        bail!("type nesting deeper than 64 (recursive type?)");
    }
    let Some(t) = ty.and_then(|t| p.resolve(t)) else {
        return Ok(Value::Unknown { ty: "?".into(), bytes: bytes.to_vec() });
    };
    let need = ty.and_then(|t| p.size_of(t)).unwrap_or(0) as usize;
    if bytes.len() < need {
        bail!("{} bytes of {} needed, only {} available", need, p.type_name(ty), bytes.len());
    }
    Ok(match t {
        Type::Base { size: 0, .. } => Value::Unit,
        Type::Base { size, encoding, name } => {
            let raw = le(&bytes[..*size as usize]);
            match encoding {
                Encoding::Unsigned => Value::Unsigned(raw),
                Encoding::Signed => Value::Signed(sign_extend(raw, *size)),
                Encoding::Bool => Value::Bool(raw != 0),
                Encoding::Char => char::from_u32(raw as u32).map(Value::Char).unwrap_or(Value::Unsigned(raw)),
                Encoding::Float if *size == 4 => Value::Float(f32::from_bits(raw as u32) as f64),
                Encoding::Float if *size == 8 => Value::Float(f64::from_bits(raw)),
                Encoding::Float => Value::Unknown { ty: name.clone(), bytes: bytes[..*size as usize].to_vec() },
            }
        }
        Type::Pointer { size, target, .. } => {
            let addr = le(&bytes[..*size as usize]);
            Value::Pointer { ty: p.type_name(*target), target: *target, addr }
        }
        Type::Enum(e) => {
            let raw = le(&bytes[..e.size as usize]);
            let mask = if e.size >= 8 { u64::MAX } else { (1u64 << (e.size * 8)) - 1 };
            let variant = e
                .enumerators
                .iter()
                .find(|(_, v)| (*v as u64) & mask == raw)
                .map(|(n, _)| n.clone())
                .unwrap_or_else(|| format!("<invalid {raw}>"));
            Value::Enum { ty: e.name.clone(), variant, fields: Vec::new() }
        }
        Type::Array { elem, counts, .. } => {
            let Some(esize) = elem.and_then(|e| p.size_of(e)) else {
                return Ok(Value::Unknown { ty: p.type_name(ty), bytes: bytes[..need].to_vec() });
            };
            let n: u64 = counts.iter().product();
            let mut v = Vec::with_capacity(n as usize);
            for i in 0..n as usize {
                let at = i * esize as usize;
                v.push(decode_at(p, *elem, &bytes[at..at + esize as usize], depth + 1)?);
            }
            Value::Array(v)
        }
        Type::Struct(s) => {
            if let Some(vp) = &s.variant_part {
                // Rust enum: the discriminant member picks the variant; a
                // value that matches no `discr_value` selects the untagged one.
                let chosen = match &vp.discr {
                    Some(d) => {
                        let dsize = d.ty.and_then(|t| p.size_of(t)).unwrap_or(0) as usize;
                        let at = d.offset as usize;
                        let raw = le(bytes.get(at..at + dsize).unwrap_or(&[]));
                        vp.variants
                            .iter()
                            .find(|v| v.discr_value == Some(raw))
                            .or_else(|| vp.variants.iter().find(|v| v.discr_value.is_none()))
                    }
                    None => vp.variants.first(),
                };
                let Some(v) = chosen else {
                    return Ok(Value::Enum { ty: s.name.clone(), variant: "<invalid discriminant>".into(), fields: Vec::new() });
                };
                let at = v.member.offset as usize;
                let payload = decode_at(p, v.member.ty, &bytes[at.min(bytes.len())..], depth + 1)?;
                let fields = match payload {
                    Value::Struct { fields, .. } => fields,
                    Value::Unit => Vec::new(),
                    other => vec![("__0".into(), other)],
                };
                Value::Enum { ty: s.name.clone(), variant: v.member.name.clone(), fields }
            } else if s.size == 0 && s.members.is_empty() {
                Value::Unit
            } else {
                let mut fields = Vec::with_capacity(s.members.len());
                for m in &s.members {
                    let at = m.offset as usize;
                    let f = decode_at(p, m.ty, bytes.get(at..).unwrap_or(&[]), depth + 1)?;
                    fields.push((m.name.clone(), f));
                }
                Value::Struct { ty: s.name.clone(), fields }
            }
        }
        Type::Other { name, size } => {
            if *size == 0 {
                Value::Unit
            } else {
                Value::Unknown { ty: name.clone(), bytes: bytes[..*size as usize].to_vec() }
            }
        }
        Type::Typedef { .. } => unreachable!("resolve() follows typedefs"),
    })
}

fn le(b: &[u8]) -> u64 {
    let mut v = 0u64;
    for (i, x) in b.iter().take(8).enumerate() {
        v |= (*x as u64) << (8 * i);
    }
    v
}

fn sign_extend(raw: u64, size: u64) -> i64 {
    if size == 0 || size >= 8 {
        return raw as i64;
    }
    let shift = 64 - size * 8;
    ((raw << shift) as i64) >> shift
}

/// Wrapper types whose only job is interior mutability or deferred
/// initialisation; [`Value::unwrapped`] sees through them.
const WRAPPERS: &[(&str, &str)] = &[
    ("MaybeUninit", "value"),
    ("ManuallyDrop", "value"),
    ("UnsafeCell", "value"),
    ("Cell", "value"),
    ("RefCell", "value"),
    ("StaticCell", "cell"),
    ("MaybeDangling", "__0"),
];

/// The type name without generic arguments or path: `Ringbuf<T, 16>` is
/// `Ringbuf`.
pub fn base_name(ty: &str) -> &str {
    let no_generics = ty.split('<').next().unwrap_or(ty);
    no_generics.rsplit("::").next().unwrap_or(no_generics)
}

impl Value {
    /// Field `name` of a struct or enum variant.
    pub fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct { fields, .. } | Value::Enum { fields, .. } => fields.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value as an unsigned number (through single-field newtypes such
    /// as `TaskId(u16)` or `AtomicU32 { v: UnsafeCell { value } }`).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Unsigned(v) => Some(*v),
            Value::Signed(v) => Some(*v as u64),
            Value::Bool(b) => Some(*b as u64),
            Value::Pointer { addr, .. } => Some(*addr),
            Value::Struct { fields, .. } if fields.len() == 1 => fields[0].1.as_u64(),
            _ => None,
        }
    }

    /// The variant name and fields of an enum value.
    pub fn variant(&self) -> Option<(&str, &[(String, Value)])> {
        match self {
            Value::Enum { variant, fields, .. } => Some((variant, fields)),
            _ => None,
        }
    }

    /// `Some(x)` gives `Some(Some(x))`, `None` gives `Some(None)`; not an
    /// `Option` gives `None`.
    pub fn as_option(&self) -> Option<Option<&Value>> {
        match self {
            Value::Enum { ty, variant, fields } if base_name(ty) == "Option" => match variant.as_str() {
                "Some" => Some(fields.first().map(|(_, v)| v)),
                _ => Some(None),
            },
            _ => None,
        }
    }

    /// Sees through `MaybeUninit`, `UnsafeCell`, `StaticCell` and similar
    /// wrappers to the value inside.
    pub fn unwrapped(&self) -> &Value {
        let mut v = self;
        for _ in 0..16 {
            let Value::Struct { ty, .. } = v else { break };
            let base = base_name(ty);
            match WRAPPERS.iter().find(|(w, _)| *w == base).and_then(|(_, f)| v.field(f)) {
                Some(inner) => v = inner,
                None => break,
            }
        }
        v
    }

    /// The type name of a struct or enum value.
    pub fn type_name(&self) -> Option<&str> {
        match self {
            Value::Struct { ty, .. } | Value::Enum { ty, .. } | Value::Unknown { ty, .. } => Some(ty),
            _ => None,
        }
    }

    /// A JSON rendering: numbers, booleans, strings, objects for structs,
    /// `{"Variant": fields}` (or `"Variant"`) for enums, arrays, and
    /// pointers as hex strings.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{json, Map, Value as J};
        let obj = |fields: &[(String, Value)]| {
            if is_tuple(fields) {
                if fields.len() == 1 {
                    return fields[0].1.to_json();
                }
                return J::Array(fields.iter().map(|(_, v)| v.to_json()).collect());
            }
            J::Object(fields.iter().map(|(n, v)| (n.clone(), v.to_json())).collect::<Map<_, _>>())
        };
        match self {
            Value::Unsigned(v) => json!(v),
            Value::Signed(v) => json!(v),
            Value::Bool(b) => json!(b),
            Value::Char(c) => json!(c.to_string()),
            Value::Float(f) => json!(f),
            Value::Unit => J::Null,
            Value::Str(s) => json!(s),
            Value::Struct { fields, .. } => obj(fields),
            Value::Enum { ty, variant, fields } => {
                if base_name(ty) == "Option" {
                    return fields.first().map(|(_, v)| v.to_json()).unwrap_or(J::Null);
                }
                if fields.is_empty() {
                    json!(variant)
                } else {
                    let mut m = Map::new();
                    m.insert(variant.clone(), obj(fields));
                    J::Object(m)
                }
            }
            Value::Array(v) => J::Array(v.iter().map(|x| x.to_json()).collect()),
            Value::Pointer { addr, .. } => json!(format!("{addr:#010x}")),
            Value::Unknown { ty, bytes } => json!({ "type": ty, "bytes": bytes }),
        }
    }
}

/// Tuple structs and tuple variants name their fields `__0`, `__1`, ...
fn is_tuple(fields: &[(String, Value)]) -> bool {
    !fields.is_empty() && fields.iter().enumerate().all(|(i, (n, _))| *n == format!("__{i}"))
}

fn write_fields(f: &mut fmt::Formatter<'_>, name: &str, fields: &[(String, Value)]) -> fmt::Result {
    if fields.is_empty() {
        return write!(f, "{name}");
    }
    if is_tuple(fields) {
        write!(f, "{name}(")?;
        for (i, (_, v)) in fields.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{v}")?;
        }
        return write!(f, ")");
    }
    write!(f, "{name} {{ ")?;
    for (i, (n, v)) in fields.iter().enumerate() {
        if i > 0 {
            write!(f, ", ")?;
        }
        write!(f, "{n}: {v}")?;
    }
    write!(f, " }}")
}

/// Rust-`Debug`-like, on one line: `Some(3)`, `Task { state: .. }`,
/// pointers in hex.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Unsigned(v) => write!(f, "{v}"),
            Value::Signed(v) => write!(f, "{v}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Char(c) => write!(f, "{c:?}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Unit => write!(f, "()"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Struct { ty, fields } => write_fields(f, base_name(ty), fields),
            Value::Enum { variant, fields, .. } => write_fields(f, variant, fields),
            Value::Array(v) => {
                write!(f, "[")?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{x}")?;
                }
                write!(f, "]")
            }
            Value::Pointer { addr, .. } => write!(f, "{addr:#010x}"),
            Value::Unknown { ty, bytes } => {
                write!(f, "<{ty}:")?;
                for b in bytes {
                    write!(f, " {b:02x}")?;
                }
                write!(f, ">")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dwarf::{EnumType, Member, StructType, Variant, VariantPart};
    use std::collections::HashMap;

    fn member(name: &str, offset: u64, ty: u64) -> Member {
        Member { name: name.into(), offset, ty: Some(ty) }
    }

    /// A program with hand-made types, numbered as DIE offsets would be.
    fn program() -> Program {
        let mut types = HashMap::new();
        types.insert(1, Type::Base { name: "u16".into(), size: 2, encoding: Encoding::Unsigned });
        types.insert(2, Type::Base { name: "i8".into(), size: 1, encoding: Encoding::Signed });
        types.insert(3, Type::Pointer { name: "&u16".into(), target: Some(1), size: 4 });
        types.insert(4, Type::Base { name: "u32".into(), size: 4, encoding: Encoding::Unsigned });
        let strukt = |name: &str, size, members, vp| {
            Type::Struct(StructType { name: name.into(), path: name.into(), size, is_union: false, members, variant_part: vp })
        };
        // Option<u16>, tagged: u16 tag at 0, payload at 2.
        types.insert(10, strukt("None", 4, vec![], None));
        types.insert(11, strukt("Some", 4, vec![member("__0", 2, 1)], None));
        let tagged = VariantPart {
            discr: Some(member("<<variant>>", 0, 1)),
            variants: vec![
                Variant { discr_value: Some(0), member: member("None", 0, 10) },
                Variant { discr_value: Some(1), member: member("Some", 0, 11) },
            ],
        };
        types.insert(12, strukt("Option<u16>", 4, vec![], Some(tagged)));
        // Option<&u16>, niche: null is None, anything else the untagged Some.
        types.insert(20, strukt("None", 4, vec![], None));
        types.insert(21, strukt("Some", 4, vec![member("__0", 0, 3)], None));
        let niche = VariantPart {
            discr: Some(member("<<variant>>", 0, 4)),
            variants: vec![
                Variant { discr_value: Some(0), member: member("None", 0, 20) },
                Variant { discr_value: None, member: member("Some", 0, 21) },
            ],
        };
        types.insert(22, strukt("Option<&u16>", 4, vec![], Some(niche)));
        types.insert(30, Type::Enum(EnumType { name: "Color".into(), path: "Color".into(), size: 1, enumerators: vec![("Red".into(), 1), ("Green".into(), 2)] }));
        types.insert(40, Type::Array { name: String::new(), elem: Some(2), counts: vec![3] });
        types.insert(50, Type::Typedef { name: "Alias".into(), target: Some(12) });
        Program { name: "test".into(), types, variables: Vec::new(), symbols: HashMap::new(), entry: 0 }
    }

    #[test]
    fn tagged_enum_by_discriminant() {
        let p = program();
        assert_eq!(decode(&p, Some(12), &[1, 0, 0x34, 0x12]).unwrap().to_string(), "Some(4660)");
        assert_eq!(decode(&p, Some(12), &[0, 0, 0xff, 0xff]).unwrap().to_string(), "None");
        assert_eq!(decode(&p, Some(50), &[1, 0, 7, 0]).unwrap().to_string(), "Some(7)", "through a typedef");
        // A tag no variant claims, with no untagged variant, is reported.
        assert!(decode(&p, Some(12), &[9, 0, 0, 0]).unwrap().to_string().contains("invalid"));
    }

    #[test]
    fn niche_enum_uses_the_untagged_variant() {
        let p = program();
        assert_eq!(decode(&p, Some(22), &[0, 0, 0, 0]).unwrap().to_string(), "None");
        assert_eq!(decode(&p, Some(22), &[0, 0x10, 0, 0x20]).unwrap().to_string(), "Some(0x20001000)");
    }

    #[test]
    fn c_like_enums_arrays_and_signedness() {
        let p = program();
        assert_eq!(decode(&p, Some(30), &[2]).unwrap().to_string(), "Green");
        assert_eq!(decode(&p, Some(30), &[5]).unwrap().to_string(), "<invalid 5>");
        assert_eq!(decode(&p, Some(40), &[0xff, 0, 0x7f]).unwrap().to_string(), "[-1, 0, 127]");
    }

    #[test]
    fn short_input_is_an_error_naming_the_type() {
        let e = decode(&program(), Some(12), &[1, 0]).unwrap_err().to_string();
        assert!(e.contains("Option<u16>"), "{e}");
    }

    fn s(ty: &str, fields: Vec<(&str, Value)>) -> Value {
        Value::Struct { ty: ty.into(), fields: fields.into_iter().map(|(n, v)| (n.to_string(), v)).collect() }
    }

    #[test]
    fn prints_like_rust_debug() {
        let id = s("TaskId", vec![("__0", Value::Unsigned(3))]);
        let some = Value::Enum { ty: "Option<abi::TaskId>".into(), variant: "Some".into(), fields: vec![("__0".into(), id.clone())] };
        assert_eq!(some.to_string(), "Some(TaskId(3))");
        let w = Value::Enum { ty: "Trace".into(), variant: "Write".into(), fields: vec![("task".into(), id), ("len".into(), Value::Unsigned(12))] };
        assert_eq!(w.to_string(), "Write { task: TaskId(3), len: 12 }");
        assert_eq!(Value::Pointer { ty: "u8".into(), target: None, addr: 0x2000 }.to_string(), "0x00002000");
    }

    #[test]
    fn sees_through_wrappers() {
        let inner = s("Ringbuf<u8, 4>", vec![("last", Value::Unsigned(1))]);
        let cell = s("StaticCell<Ringbuf<u8, 4>>", vec![("borrowed", Value::Bool(false)), ("cell", s("UnsafeCell<Ringbuf<u8, 4>>", vec![("value", inner.clone())]))]);
        assert_eq!(cell.unwrapped(), &inner);
    }

    #[test]
    fn numbers_through_newtypes() {
        let atomic = s("AtomicU32", vec![("v", s("UnsafeCell<u32>", vec![("value", Value::Unsigned(7))]))]);
        assert_eq!(atomic.as_u64(), Some(7));
        assert_eq!(sign_extend(0xff, 1), -1);
        assert_eq!(base_name("core::option::Option<usize>"), "Option");
    }

    #[test]
    fn json_shapes() {
        let none = Value::Enum { ty: "Option<u8>".into(), variant: "None".into(), fields: vec![] };
        assert_eq!(none.to_json(), serde_json::Value::Null);
        let unit = Value::Enum { ty: "SchedState".into(), variant: "Runnable".into(), fields: vec![] };
        assert_eq!(unit.to_json(), serde_json::json!("Runnable"));
    }
}
