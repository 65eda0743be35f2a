//! The inspector: an archive, its debug info, and a target, checked to
//! belong together.
//!
//! Why: every view needs the same three steps (find a static by name in the
//! right ELF, read its bytes from the target, decode them by DWARF type),
//! and none of them may run against a target that holds a different image.
//!
//! Guarantees: [`Inspector::new`] compares the archive's `HUBRIS_IMAGE_ID`
//! with the target's memory at that address before returning, and refuses
//! a mismatch with both values in the message; nothing is decoded before
//! that check (the archive-only [`crate::target::ImageTarget`] is its own
//! image and needs no check). Debug info is loaded per ELF on first use, so
//! a broken task ELF only fails the views that need it.

use crate::archive::Archive;
use crate::dwarf::{Program, Type, TypeRef, Variable};
use crate::target::Target;
use crate::value::{decode, Value};
use anyhow::{bail, Context, Result};
use std::cell::OnceCell;

/// Index of a program: 0 is the kernel, `1 + i` is task `i`.
pub type ProgramIndex = usize;

/// Largest static the inspector reads in one go (protects against a
/// corrupt type claiming gigabytes).
const MAX_READ: u64 = 1 << 20;

/// An archive, its programs' debug info, and a target.
pub struct Inspector {
    pub archive: Archive,
    pub target: Box<dyn Target>,
    programs: Vec<OnceCell<Program>>,
}

impl Inspector {
    /// Pairs `archive` with `target`, checking the image id unless
    /// `check_id` is false (for the archive's own image).
    pub fn new(archive: Archive, target: Box<dyn Target>, check_id: bool) -> Result<Inspector> {
        let programs = (0..=archive.tasks.len()).map(|_| OnceCell::new()).collect();
        let mut i = Inspector { archive, target, programs };
        if check_id {
            i.check_image_id()?;
        }
        Ok(i)
    }

    /// Compares the archive's image id with the target's.
    pub fn check_image_id(&mut self) -> Result<()> {
        let mut b = [0u8; 8];
        let addr = self.archive.image_id_addr;
        self.target.read(addr, &mut b).with_context(|| {
            format!("reading HUBRIS_IMAGE_ID at {addr:#010x} from {} to check the image id", self.target.describe())
        })?;
        let found = u64::from_le_bytes(b);
        if found != self.archive.image_id {
            bail!(
                "image id mismatch: archive {} is image {:#018x}, but {} holds {:#018x} at HUBRIS_IMAGE_ID ({addr:#010x}).\n  \
                 The target runs a different build; refusing to decode it with this archive.\n  \
                 help: pass the archive of the running image with -a, or rebuild and restart it (cargo xtask run --gdb)",
                self.archive.source,
                self.archive.image_id,
                self.target.describe(),
                found
            );
        }
        Ok(())
    }

    /// Number of tasks.
    pub fn task_count(&self) -> usize {
        self.archive.tasks.len()
    }

    /// The name of program `p` (`kernel` or a task name).
    pub fn program_name(&self, p: ProgramIndex) -> &str {
        if p == 0 {
            "kernel"
        } else {
            &self.archive.tasks[p - 1].name
        }
    }

    /// The debug info of program `p`, loaded on first use.
    pub fn program(&self, p: ProgramIndex) -> Result<&Program> {
        let cell = self.programs.get(p).with_context(|| format!("no program #{p}"))?;
        if cell.get().is_none() {
            let elf = if p == 0 { &self.archive.kernel } else { &self.archive.tasks[p - 1] };
            let what = if p == 0 { "elf/kernel".to_string() } else { format!("elf/task/{}", elf.name) };
            let prog = Program::load(&elf.name, &elf.data).with_context(|| format!("loading debug info of {what}"))?;
            let _ = cell.set(prog);
        }
        Ok(cell.get().expect("just set"))
    }

    /// The kernel's debug info.
    pub fn kernel(&self) -> Result<&Program> {
        self.program(0)
    }

    /// The one static in program `p` named `name` (or ending in `::name`).
    pub fn variable(&self, p: ProgramIndex, name: &str) -> Result<Variable> {
        let prog = self.program(p)?;
        let found: Vec<&Variable> = prog.find_variables(name).collect();
        match found.as_slice() {
            [v] => Ok((*v).clone()),
            [] => bail!("{} has no static `{name}` in its debug info", self.program_name(p)),
            many => {
                if let Some(v) = many.iter().find(|v| v.name == name && v.path == name) {
                    return Ok((*v).clone());
                }
                let paths: Vec<&str> = many.iter().map(|v| v.path.as_str()).collect();
                bail!("{} has several statics named `{name}`: {}; give the full path", self.program_name(p), paths.join(", "))
            }
        }
    }

    /// Reads and decodes a value of type `ty` at `addr` in program `p`.
    pub fn read_typed(&mut self, p: ProgramIndex, ty: Option<TypeRef>, addr: u64) -> Result<Value> {
        let prog = self.program(p)?;
        let size = ty.and_then(|t| prog.size_of(t)).with_context(|| format!("the size of type {} is unknown", prog.type_name(ty)))?;
        if size > MAX_READ {
            bail!("type {} claims {size} bytes; refusing to read more than {MAX_READ}", prog.type_name(ty));
        }
        let mut buf = vec![0u8; size as usize];
        self.target.read(addr, &mut buf)?;
        let prog = self.program(p)?;
        decode(prog, ty, &buf).with_context(|| format!("decoding {} at {addr:#010x}", prog.type_name(ty)))
    }

    /// Reads static `v` of program `p`.
    pub fn read_variable(&mut self, p: ProgramIndex, v: &Variable) -> Result<Value> {
        self.read_typed(p, v.ty, v.addr).with_context(|| format!("reading {} `{}`", self.program_name(p), v.path))
    }

    /// Finds and reads static `name` of program `p`.
    pub fn read_named(&mut self, p: ProgramIndex, name: &str) -> Result<(Variable, Value)> {
        let v = self.variable(p, name)?;
        let val = self.read_variable(p, &v)?;
        Ok((v, val))
    }

    /// Follows a pointer or reference value to what it points at.
    pub fn deref(&mut self, p: ProgramIndex, ptr: &Value) -> Result<Value> {
        let Value::Pointer { target, addr, ty } = ptr else {
            bail!("{ptr} is not a pointer");
        };
        if *addr == 0 {
            bail!("null pointer to {ty}");
        }
        self.read_typed(p, *target, *addr)
    }

    /// Replaces every `&str` inside `v` with its text, read from the target
    /// (unreadable or implausible strings are left as they are).
    pub fn resolve_strs(&mut self, v: Value) -> Value {
        match v {
            Value::Struct { ref ty, ref fields } if ty == "&str" => {
                let ptr = v.field("data_ptr").and_then(|x| x.as_u64());
                let len = v.field("length").and_then(|x| x.as_u64());
                if let (Some(ptr), Some(len)) = (ptr, len) {
                    if len <= 4096 {
                        let mut buf = vec![0u8; len as usize];
                        if self.target.read(ptr, &mut buf).is_ok() {
                            if let Ok(s) = String::from_utf8(buf) {
                                return Value::Str(s);
                            }
                        }
                    }
                }
                Value::Struct { ty: ty.clone(), fields: fields.clone() }
            }
            Value::Struct { ty, fields } => {
                Value::Struct { ty, fields: fields.into_iter().map(|(n, f)| (n, self.resolve_strs(f))).collect() }
            }
            Value::Enum { ty, variant, fields } => {
                Value::Enum { ty, variant, fields: fields.into_iter().map(|(n, f)| (n, self.resolve_strs(f))).collect() }
            }
            Value::Array(items) => Value::Array(items.into_iter().map(|f| self.resolve_strs(f)).collect()),
            other => other,
        }
    }

    /// The name of enumerator `value` of the C-like enum whose name is
    /// `enum_name`, in program `p`.
    pub fn enumerator(&self, p: ProgramIndex, enum_name: &str, value: u64) -> Option<String> {
        let prog = self.program(p).ok()?;
        prog.types.values().find_map(|t| match t {
            Type::Enum(e) if e.name == enum_name => {
                e.enumerators.iter().find(|(_, v)| *v as u64 == value).map(|(n, _)| n.clone())
            }
            _ => None,
        })
    }
}
