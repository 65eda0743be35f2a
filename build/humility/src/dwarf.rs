//! The debug information of one ELF (kernel or task), reduced to what the
//! inspector decodes: types by name and shape, and statics by path and
//! address.
//!
//! Why: views must keep working when a field is added, a struct reordered or
//! an enum grows a variant, so nothing is decoded by fixed offsets. Reading
//! DWARF (through gimli) gives each static's type; [`crate::value`] then
//! decodes target bytes by member names and variant parts.
//!
//! What it guarantees: every type DIE the decoder can meet is in
//! [`Program::types`], keyed by its offset in `.debug_info`, so a
//! `DW_AT_type` reference always resolves or is reported as missing. Rust
//! enums with data keep their variant part (discriminant member, each
//! variant's discriminant value, the untagged default variant); C-like
//! enums keep their enumerators. Statics are the `DW_TAG_variable`s with a
//! fixed address (`DW_OP_addr`, plus any constant offset) inside one of the
//! ELF's allocated sections (the linker leaves statics it discarded at
//! address 0), qualified by their namespace path.

use anyhow::{Context, Result};
use gimli::{AttributeValue, EndianSlice, LittleEndian};
use object::{Object, ObjectSection, ObjectSymbol};
use std::collections::HashMap;

/// Offset of a type DIE in `.debug_info`: the key types are found by.
pub type TypeRef = u64;

/// How a base type's bits are read.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Encoding {
    Unsigned,
    Signed,
    Bool,
    Float,
    Char,
}

/// A struct, union or enum member (or a variant's payload struct).
#[derive(Clone, Debug)]
pub struct Member {
    pub name: String,
    /// Byte offset in the enclosing type.
    pub offset: u64,
    pub ty: Option<TypeRef>,
}

/// One arm of a Rust enum's variant part.
#[derive(Clone, Debug)]
pub struct Variant {
    /// The discriminant value that selects it; `None` for the untagged
    /// (niche-holding) variant, selected when no other value matches.
    pub discr_value: Option<u64>,
    /// The variant's payload: a member whose name is the variant's name and
    /// whose type is a struct of the variant's fields.
    pub member: Member,
}

/// The variant part of a Rust enum (`DW_TAG_variant_part`).
#[derive(Clone, Debug)]
pub struct VariantPart {
    /// The discriminant (tag or niche) member; `None` for single-variant
    /// enums.
    pub discr: Option<Member>,
    pub variants: Vec<Variant>,
}

/// A struct, union or Rust enum with data.
#[derive(Clone, Debug)]
pub struct StructType {
    /// `DW_AT_name`, e.g. `Task`, `Option<usize>`.
    pub name: String,
    /// Namespace-qualified name, e.g. `kern::task::Task`.
    pub path: String,
    pub size: u64,
    pub is_union: bool,
    pub members: Vec<Member>,
    pub variant_part: Option<VariantPart>,
}

/// A C-like enum (`DW_TAG_enumeration_type`).
#[derive(Clone, Debug)]
pub struct EnumType {
    pub name: String,
    pub path: String,
    pub size: u64,
    pub enumerators: Vec<(String, i128)>,
}

/// A type as the decoder needs it.
#[derive(Clone, Debug)]
pub enum Type {
    Base { name: String, size: u64, encoding: Encoding },
    Struct(StructType),
    Enum(EnumType),
    Array { name: String, elem: Option<TypeRef>, counts: Vec<u64> },
    Pointer { name: String, target: Option<TypeRef>, size: u64 },
    Typedef { name: String, target: Option<TypeRef> },
    /// Anything else (function types, unspecified types): shown by name.
    Other { name: String, size: u64 },
}

impl Type {
    /// The type's name as written in the debug info.
    pub fn name(&self) -> &str {
        match self {
            Type::Base { name, .. }
            | Type::Array { name, .. }
            | Type::Pointer { name, .. }
            | Type::Typedef { name, .. }
            | Type::Other { name, .. } => name,
            Type::Struct(s) => &s.name,
            Type::Enum(e) => &e.name,
        }
    }
}

/// A static with a fixed address.
#[derive(Clone, Debug)]
pub struct Variable {
    /// `DW_AT_name`, e.g. `__RINGBUF`.
    pub name: String,
    /// Namespace-qualified, e.g. `drv_console_usart::__RINGBUF`.
    pub path: String,
    pub addr: u64,
    pub ty: Option<TypeRef>,
}

/// The debug information of one ELF.
pub struct Program {
    /// `kernel` or the task name.
    pub name: String,
    pub types: HashMap<TypeRef, Type>,
    pub variables: Vec<Variable>,
    /// ELF symbols: name to (address, size).
    pub symbols: HashMap<String, (u64, u64)>,
    /// The ELF entry point.
    pub entry: u64,
}

type Reader<'a> = EndianSlice<'a, LittleEndian>;

impl Program {
    /// Reads the symbols and DWARF of `elf`.
    pub fn load(name: &str, elf: &[u8]) -> Result<Program> {
        let file = object::File::parse(elf).with_context(|| format!("{name}: not an ELF file"))?;
        let mut symbols = HashMap::new();
        for s in file.symbols() {
            if let Ok(n) = s.name() {
                if !n.is_empty() {
                    symbols.entry(n.to_string()).or_insert((s.address(), s.size()));
                }
            }
        }
        let load = |id: gimli::SectionId| -> Result<Reader<'_>, gimli::Error> {
            let data = file.section_by_name(id.name()).and_then(|s| s.data().ok()).unwrap_or(&[]);
            Ok(EndianSlice::new(data, LittleEndian))
        };
        let dwarf = gimli::Dwarf::load(load)?;
        let mut p = Program { name: name.to_string(), types: HashMap::new(), variables: Vec::new(), symbols, entry: file.entry() };
        let mut units = dwarf.units();
        while let Some(header) = units.next().with_context(|| format!("{name}: reading .debug_info"))? {
            let unit = dwarf.unit(header)?;
            let mut tree = unit.entries_tree(None)?;
            let root = tree.root()?;
            let mut path = Vec::new();
            p.walk(&dwarf, &unit, root, &mut path).with_context(|| format!("{name}: reading DWARF"))?;
        }
        // Statics the linker discarded keep a DWARF entry whose address is 0
        // (or otherwise outside the image): they are not in memory.
        let allocated: Vec<(u64, u64)> = file
            .sections()
            .filter(|s| matches!(s.flags(), object::SectionFlags::Elf { sh_flags } if sh_flags & object::elf::SHF_ALLOC as u64 != 0))
            .map(|s| (s.address(), s.address() + s.size()))
            .collect();
        p.variables.retain(|v| allocated.iter().any(|&(lo, hi)| lo <= v.addr && v.addr <= hi && hi > lo));
        p.variables.sort_by(|a, b| a.path.cmp(&b.path).then(a.addr.cmp(&b.addr)));
        p.variables.dedup_by(|a, b| a.path == b.path && a.addr == b.addr);
        Ok(p)
    }

    fn walk(
        &mut self,
        dwarf: &gimli::Dwarf<Reader<'_>>,
        unit: &gimli::Unit<Reader<'_>>,
        node: gimli::EntriesTreeNode<'_, '_, '_, Reader<'_>>,
        path: &mut Vec<String>,
    ) -> Result<()> {
        let entry = node.entry().clone();
        let tag = entry.tag();
        let name = attr_string(dwarf, unit, &entry, gimli::DW_AT_name);
        let key = global_offset(unit, entry.offset());
        let qualified = |n: &str, path: &[String]| if path.is_empty() { n.to_string() } else { format!("{}::{n}", path.join("::")) };

        match tag {
            gimli::DW_TAG_namespace => {
                path.push(name.unwrap_or_default());
                let mut children = node.children();
                while let Some(child) = children.next()? {
                    self.walk(dwarf, unit, child, path)?;
                }
                path.pop();
                return Ok(());
            }
            gimli::DW_TAG_structure_type | gimli::DW_TAG_union_type => {
                let n = name.clone().unwrap_or_else(|| "<anon>".into());
                let mut st = StructType {
                    path: qualified(&n, path),
                    name: n.clone(),
                    size: attr_u64(&entry, gimli::DW_AT_byte_size).unwrap_or(0),
                    is_union: tag == gimli::DW_TAG_union_type,
                    members: Vec::new(),
                    variant_part: None,
                };
                path.push(n);
                let mut children = node.children();
                while let Some(child) = children.next()? {
                    let ce = child.entry().clone();
                    match ce.tag() {
                        gimli::DW_TAG_member => st.members.push(member(dwarf, unit, &ce)),
                        gimli::DW_TAG_variant_part => st.variant_part = Some(self.variant_part(dwarf, unit, child)?),
                        _ => self.walk(dwarf, unit, child, path)?,
                    }
                }
                path.pop();
                self.types.insert(key, Type::Struct(st));
                return Ok(());
            }
            gimli::DW_TAG_enumeration_type => {
                let n = name.clone().unwrap_or_else(|| "<anon>".into());
                let mut e = EnumType {
                    path: qualified(&n, path),
                    name: n.clone(),
                    size: attr_u64(&entry, gimli::DW_AT_byte_size).unwrap_or(0),
                    enumerators: Vec::new(),
                };
                path.push(n);
                let mut children = node.children();
                while let Some(child) = children.next()? {
                    let ce = child.entry().clone();
                    if ce.tag() == gimli::DW_TAG_enumerator {
                        let en = attr_string(dwarf, unit, &ce, gimli::DW_AT_name).unwrap_or_default();
                        let v = match ce.attr_value(gimli::DW_AT_const_value)? {
                            Some(AttributeValue::Sdata(v)) => v as i128,
                            Some(AttributeValue::Udata(v)) => v as i128,
                            Some(AttributeValue::Data1(v)) => v as i128,
                            Some(AttributeValue::Data2(v)) => v as i128,
                            Some(AttributeValue::Data4(v)) => v as i128,
                            Some(AttributeValue::Data8(v)) => v as i128,
                            _ => continue,
                        };
                        e.enumerators.push((en, v));
                    } else {
                        self.walk(dwarf, unit, child, path)?;
                    }
                }
                path.pop();
                self.types.insert(key, Type::Enum(e));
                return Ok(());
            }
            gimli::DW_TAG_array_type => {
                let elem = type_ref(unit, &entry);
                let mut counts = Vec::new();
                let mut children = node.children();
                while let Some(child) = children.next()? {
                    let ce = child.entry();
                    if ce.tag() == gimli::DW_TAG_subrange_type {
                        if let Some(c) = attr_u64(ce, gimli::DW_AT_count) {
                            counts.push(c);
                        } else if let Some(u) = attr_u64(ce, gimli::DW_AT_upper_bound) {
                            let lo = attr_u64(ce, gimli::DW_AT_lower_bound).unwrap_or(0);
                            counts.push(u + 1 - lo);
                        } else {
                            counts.push(0);
                        }
                    }
                }
                self.types.insert(key, Type::Array { name: name.unwrap_or_default(), elem, counts });
                return Ok(());
            }
            gimli::DW_TAG_base_type => {
                let ate = match entry.attr_value(gimli::DW_AT_encoding)? {
                    Some(AttributeValue::Encoding(e)) => Some(e),
                    Some(v) => v.udata_value().map(|e| gimli::DwAte(e as u8)),
                    None => None,
                };
                let encoding = match ate {
                    Some(gimli::DW_ATE_signed) | Some(gimli::DW_ATE_signed_char) => Encoding::Signed,
                    Some(gimli::DW_ATE_boolean) => Encoding::Bool,
                    Some(gimli::DW_ATE_float) => Encoding::Float,
                    Some(gimli::DW_ATE_UTF) => Encoding::Char,
                    _ => Encoding::Unsigned,
                };
                let size = attr_u64(&entry, gimli::DW_AT_byte_size).unwrap_or(0);
                self.types.insert(key, Type::Base { name: name.unwrap_or_default(), size, encoding });
            }
            gimli::DW_TAG_pointer_type | gimli::DW_TAG_reference_type | gimli::DW_TAG_rvalue_reference_type => {
                let size = attr_u64(&entry, gimli::DW_AT_byte_size).unwrap_or(unit.header.address_size() as u64);
                self.types.insert(key, Type::Pointer { name: name.unwrap_or_default(), target: type_ref(unit, &entry), size });
            }
            gimli::DW_TAG_typedef | gimli::DW_TAG_const_type | gimli::DW_TAG_volatile_type | gimli::DW_TAG_atomic_type => {
                self.types.insert(key, Type::Typedef { name: name.unwrap_or_default(), target: type_ref(unit, &entry) });
            }
            gimli::DW_TAG_subroutine_type | gimli::DW_TAG_unspecified_type => {
                let size = attr_u64(&entry, gimli::DW_AT_byte_size).unwrap_or(0);
                self.types.insert(key, Type::Other { name: name.unwrap_or_else(|| "fn".into()), size });
            }
            gimli::DW_TAG_variable => {
                if let (Some(n), Some(addr)) = (name.clone(), fixed_address(unit, &entry)) {
                    self.variables.push(Variable { path: qualified(&n, path), name: n, addr, ty: type_ref(unit, &entry) });
                }
            }
            _ => {}
        }
        let mut children = node.children();
        while let Some(child) = children.next()? {
            self.walk(dwarf, unit, child, path)?;
        }
        Ok(())
    }

    fn variant_part(
        &mut self,
        dwarf: &gimli::Dwarf<Reader<'_>>,
        unit: &gimli::Unit<Reader<'_>>,
        node: gimli::EntriesTreeNode<'_, '_, '_, Reader<'_>>,
    ) -> Result<VariantPart> {
        let discr_at = match node.entry().attr_value(gimli::DW_AT_discr)? {
            Some(AttributeValue::UnitRef(o)) => Some(o),
            _ => None,
        };
        let mut vp = VariantPart { discr: None, variants: Vec::new() };
        let mut children = node.children();
        while let Some(child) = children.next()? {
            let ce = child.entry().clone();
            match ce.tag() {
                gimli::DW_TAG_member => {
                    let m = member(dwarf, unit, &ce);
                    if discr_at.is_none_or(|o| o == ce.offset()) {
                        vp.discr = Some(m);
                    }
                }
                gimli::DW_TAG_variant => {
                    let discr_value = match ce.attr_value(gimli::DW_AT_discr_value)? {
                        Some(AttributeValue::Udata(v)) => Some(v),
                        Some(AttributeValue::Sdata(v)) => Some(v as u64),
                        Some(AttributeValue::Data1(v)) => Some(v as u64),
                        Some(AttributeValue::Data2(v)) => Some(v as u64),
                        Some(AttributeValue::Data4(v)) => Some(v as u64),
                        Some(AttributeValue::Data8(v)) => Some(v),
                        _ => None,
                    };
                    let mut grand = child.children();
                    while let Some(g) = grand.next()? {
                        let ge = g.entry().clone();
                        if ge.tag() == gimli::DW_TAG_member {
                            vp.variants.push(Variant { discr_value, member: member(dwarf, unit, &ge) });
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(vp)
    }

    /// Follows typedefs and qualifiers to the underlying type.
    pub fn resolve(&self, mut r: TypeRef) -> Option<&Type> {
        for _ in 0..32 {
            match self.types.get(&r)? {
                Type::Typedef { target: Some(t), .. } => r = *t,
                t => return Some(t),
            }
        }
        None
    }

    /// Size in bytes of the type `r`, if known.
    pub fn size_of(&self, r: TypeRef) -> Option<u64> {
        match self.resolve(r)? {
            Type::Base { size, .. } | Type::Pointer { size, .. } | Type::Other { size, .. } => Some(*size),
            Type::Struct(s) => Some(s.size),
            Type::Enum(e) => Some(e.size),
            Type::Array { elem, counts, .. } => {
                let e = self.size_of((*elem)?)?;
                Some(counts.iter().product::<u64>() * e)
            }
            Type::Typedef { .. } => None,
        }
    }

    /// The name of type `r` (after typedefs), or `?`.
    pub fn type_name(&self, r: Option<TypeRef>) -> String {
        match r.and_then(|r| self.resolve(r)) {
            Some(Type::Array { elem, counts, .. }) => {
                let mut s = self.type_name(*elem);
                for c in counts.iter().rev() {
                    s = format!("[{s}; {c}]");
                }
                s
            }
            Some(t) => t.name().to_string(),
            None => "?".into(),
        }
    }

    /// Statics whose name or path is `name` (exactly, or as a `::` suffix).
    pub fn find_variables<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Variable> + 'a {
        self.variables.iter().filter(move |v| v.name == name || v.path == name || v.path.ends_with(&format!("::{name}")))
    }
}

/// Converts a unit-relative DIE offset to its `.debug_info` offset.
fn global_offset(unit: &gimli::Unit<Reader<'_>>, o: gimli::UnitOffset) -> TypeRef {
    match o.to_unit_section_offset(unit) {
        gimli::UnitSectionOffset::DebugInfoOffset(d) => d.0 as u64,
        gimli::UnitSectionOffset::DebugTypesOffset(d) => d.0 as u64 | 1 << 63,
    }
}

fn type_ref(unit: &gimli::Unit<Reader<'_>>, e: &gimli::DebuggingInformationEntry<'_, '_, Reader<'_>>) -> Option<TypeRef> {
    match e.attr_value(gimli::DW_AT_type).ok()?? {
        AttributeValue::UnitRef(o) => Some(global_offset(unit, o)),
        AttributeValue::DebugInfoRef(d) => Some(d.0 as u64),
        _ => None,
    }
}

fn attr_u64(e: &gimli::DebuggingInformationEntry<'_, '_, Reader<'_>>, at: gimli::DwAt) -> Option<u64> {
    e.attr_value(at).ok()??.udata_value()
}

fn attr_string(
    dwarf: &gimli::Dwarf<Reader<'_>>,
    unit: &gimli::Unit<Reader<'_>>,
    e: &gimli::DebuggingInformationEntry<'_, '_, Reader<'_>>,
    at: gimli::DwAt,
) -> Option<String> {
    let v = e.attr_value(at).ok()??;
    let s = dwarf.attr_string(unit, v).ok()?;
    Some(s.to_string_lossy().into_owned())
}

fn member(
    dwarf: &gimli::Dwarf<Reader<'_>>,
    unit: &gimli::Unit<Reader<'_>>,
    e: &gimli::DebuggingInformationEntry<'_, '_, Reader<'_>>,
) -> Member {
    Member {
        name: attr_string(dwarf, unit, e, gimli::DW_AT_name).unwrap_or_default(),
        offset: attr_u64(e, gimli::DW_AT_data_member_location).unwrap_or(0),
        ty: type_ref(unit, e),
    }
}

/// The address of a static: its location expression must be `DW_OP_addr`
/// followed by nothing but constant offsets (`DW_OP_plus_uconst`, or
/// `DW_OP_constu N; DW_OP_plus`), or a run of such pieces (`DW_OP_piece`)
/// that lie end to end in memory. With LTO, rustc places several statics in
/// one merged global and describes each as the global's address plus its
/// offset (an array of atomics may even come as one piece per element);
/// stopping at the first `DW_OP_addr` would read the start of the merged
/// global for all of them. Any other operation (a register, a computed
/// address, pieces that are not contiguous) means the static has no single
/// fixed address, and it is left out.
fn fixed_address(unit: &gimli::Unit<Reader<'_>>, e: &gimli::DebuggingInformationEntry<'_, '_, Reader<'_>>) -> Option<u64> {
    let AttributeValue::Exprloc(expr) = e.attr_value(gimli::DW_AT_location).ok()?? else {
        return None;
    };
    location_address(expr, unit.encoding())
}

/// Evaluates the location expressions of statics (see [`fixed_address`]).
fn location_address(expr: gimli::Expression<Reader<'_>>, encoding: gimli::Encoding) -> Option<u64> {
    let mut ops = expr.operations(encoding);
    // The address being built (`None` before its DW_OP_addr), a constant
    // waiting for DW_OP_plus, where the pieces so far start and end.
    let mut addr: Option<u64> = None;
    let mut pending: Option<u64> = None;
    let mut pieces: Option<(u64, u64)> = None;
    while let Some(op) = ops.next().ok()? {
        match (op, addr, pending) {
            (gimli::Operation::Address { address }, None, None) => addr = Some(address),
            (gimli::Operation::PlusConstant { value }, Some(a), None) => addr = Some(a.wrapping_add(value)),
            (gimli::Operation::UnsignedConstant { value }, Some(_), None) => pending = Some(value),
            (gimli::Operation::Plus, Some(a), Some(value)) => {
                addr = Some(a.wrapping_add(value));
                pending = None;
            }
            (gimli::Operation::Piece { size_in_bits, bit_offset: None }, Some(a), None) if size_in_bits % 8 == 0 => {
                let len = size_in_bits / 8;
                pieces = match pieces {
                    None => Some((a, a.wrapping_add(len))),
                    Some((start, end)) if end == a => Some((start, end.wrapping_add(len))),
                    Some(_) => return None,
                };
                addr = None;
            }
            _ => return None,
        }
    }
    match (addr, pending, pieces) {
        (Some(a), None, None) => Some(a),
        (None, None, Some((start, _))) => Some(start),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(bytes: &[u8]) -> Option<u64> {
        let enc = gimli::Encoding { format: gimli::Format::Dwarf32, version: 4, address_size: 4 };
        location_address(gimli::Expression(EndianSlice::new(bytes, LittleEndian)), enc)
    }

    const ADDR: u8 = 0x03; // DW_OP_addr
    const PLUS_UCONST: u8 = 0x23;
    const CONSTU: u8 = 0x10;
    const PLUS: u8 = 0x22;
    const REG0: u8 = 0x50;
    const PIECE: u8 = 0x93;

    #[test]
    fn a_lone_address_is_the_address() {
        assert_eq!(eval(&[ADDR, 0x60, 0x03, 0x00, 0x20]), Some(0x2000_0360));
    }

    #[test]
    fn constant_offsets_after_the_address_are_added() {
        // kern::arch::arm_m::TICKS in a real Hubris kernel: 4 bytes past
        // CURRENT_TASK_PTR, in the same merged global.
        assert_eq!(eval(&[ADDR, 0x60, 0x03, 0x00, 0x20, PLUS_UCONST, 4]), Some(0x2000_0364));
        assert_eq!(eval(&[ADDR, 0x60, 0x03, 0x00, 0x20, PLUS_UCONST, 0x80, 0x01]), Some(0x2000_03e0));
        assert_eq!(eval(&[ADDR, 0x00, 0x00, 0x00, 0x20, CONSTU, 8, PLUS]), Some(0x2000_0008));
    }

    #[test]
    fn contiguous_pieces_start_at_the_first() {
        // TICKS ([AtomicU32; 2]) in the kernel of hubris.core.v6.
        let ticks = [ADDR, 0xb0, 0x04, 0, 0x20, PLUS_UCONST, 4, PIECE, 4, ADDR, 0xb0, 0x04, 0, 0x20, PLUS_UCONST, 8, PIECE, 4];
        assert_eq!(eval(&ticks), Some(0x2000_04b4));
        // Pieces with a gap between them are not one static in memory.
        let gap = [ADDR, 0, 0, 0, 0x20, PIECE, 4, ADDR, 8, 0, 0, 0x20, PIECE, 4];
        assert_eq!(eval(&gap), None);
    }

    #[test]
    fn other_locations_have_no_fixed_address() {
        assert_eq!(eval(&[REG0]), None);
        assert_eq!(eval(&[ADDR, 0, 0, 0, 0x20, REG0]), None);
        assert_eq!(eval(&[ADDR, 0, 0, 0, 0x20, CONSTU, 8]), None);
        assert_eq!(eval(&[]), None);
    }
}
