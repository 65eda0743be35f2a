//! The humility conformance step of `cargo xtask test`: real humility on a
//! fresh build archive of a test image, its facts compared with our
//! inspector's.
//!
//! Why: the README promises that Oxide's humility loads Escapement's
//! archives. Only running the real tool keeps that promise honest; our own
//! golden tests cannot notice a field humility decodes by another name.
//!
//! Which humility: `$HUMILITY` if set, else `../shared/tools/humility`
//! beside the repository. When neither exists the step says so in one line
//! and is skipped (it does not fail); CI has the shared folder.
//!
//! What it checks, on `build/apps/test-humility.toml`'s archive alone:
//! - `manifest`: archive version, name, board, target, image id, the task
//!   names in task-id order and each task's features;
//! - `readvar -l`: every static humility lists is one of ours, at the same
//!   address with the same size;
//! - `readvar NAME` for every static humility lists in flash (readable from
//!   the archive): the numbers it prints, in order, are the numbers in our
//!   decoded value (so `HUBRIS_IMAGE_ID` is the image id, the task and
//!   region tables hold the same entries);
//! - `map`: every task region humility shows is ours, and no other. While
//!   the kernel's `RegionDesc.attributes` is a bare integer humility cannot
//!   run `map` (it wants a bitflags struct, HUMILITY-COMPAT row 3); the step
//!   then says so and checks that this is the reason;
//! - `extract -l` lists every entry of the zip, and `doc` runs.

use crate::dist;
use anyhow::{bail, ensure, Context, Result};
use escapement_humility::dwarf::Type;
use escapement_humility::humility_text::{self, access_letters};
use escapement_humility::target::ImageTarget;
use escapement_humility::value::Value;
use escapement_humility::{Archive, Inspector};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The step's name (for `--only`).
pub const NAME: &str = "humility-conformance";

/// The image whose archive is checked.
const APP: &str = "build/apps/test-humility.toml";

/// Real humility: `$HUMILITY`, else the shared tools folder.
fn find_humility() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("HUMILITY") {
        return Some(PathBuf::from(h)).filter(|p| p.exists());
    }
    let shared = crate::root().join("../shared/tools/humility");
    shared.exists().then_some(shared)
}

/// Runs the step. `Ok(false)` if real humility was not found (skipped).
pub fn run() -> Result<bool> {
    let Some(humility) = find_humility() else {
        println!("humility conformance: real humility not found ($HUMILITY or ../shared/tools/humility); skipped");
        return Ok(false);
    };
    let image = dist::dist(&crate::root().join(APP))?;
    let h = Humility { bin: humility, archive: image.archive.clone() };
    let archive = Archive::open(&image.archive)?;
    let elf = archive.final_elf.clone().context("the archive has no img/final.elf")?;
    let mut insp = Inspector::new(archive, Box::new(ImageTarget::from_elf(&elf)?), false)?;
    let mut checked = Vec::new();
    check_manifest(&h, &insp).context("manifest")?;
    checked.push("manifest".to_string());
    let n = check_statics(&h, &mut insp).context("readvar")?;
    checked.push(format!("readvar -l and readvar of {n} statics in flash"));
    checked.push(check_map(&h, &mut insp).context("map")?);
    check_extract_and_doc(&h, &image.archive).context("extract/doc")?;
    checked.push("extract -l, doc".to_string());
    println!("humility conformance ({}): {}", h.bin.display(), checked.join("; "));
    Ok(true)
}

struct Humility {
    bin: PathBuf,
    archive: PathBuf,
}

impl Humility {
    /// Runs `humility -a ARCHIVE args...`: its stdout, or its stderr as the
    /// error.
    fn run(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(&self.bin)
            .arg("-a")
            .arg(&self.archive)
            .args(args)
            .env("RUST_BACKTRACE", "0")
            .output()
            .with_context(|| format!("running {}", self.bin.display()))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let first = err.lines().filter(|l| !l.trim().is_empty()).take(4).collect::<Vec<_>>().join(" / ");
            bail!("humility {} failed: {first}", args.join(" "));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

fn check_manifest(h: &Humility, insp: &Inspector) -> Result<()> {
    let m = humility_text::manifest(&h.run(&["manifest"])?);
    let ours = escapement_humility::views::manifest::manifest(&insp.archive)?.json;
    let key = |k: &str| m.keys.get(k).map(String::as_str).unwrap_or("<missing>");
    let s = |v: &serde_json::Value| v.as_str().map(String::from).unwrap_or_else(|| v.to_string());
    ensure!(key("version") == format!("hubris build archive v{}", insp.archive.version), "version {:?}", key("version"));
    for k in ["name", "board", "target"] {
        ensure!(key(k) == s(&ours[k]), "{k}: humility says {:?}, ours {:?}", key(k), ours[k]);
    }
    ensure!(m.image_id() == Some(insp.archive.image_id), "image id: humility {:?}, ours {:#018x}", key("image id"), insp.archive.image_id);
    let names = insp.archive.task_names();
    ensure!(m.task_names() == names, "tasks in id order: humility {:?}, ours {names:?}", m.task_names());
    for (obj, name, features) in &m.tasks {
        let t = &ours["tasks"][obj - 1];
        let f: Vec<String> = t["features"].as_array().into_iter().flatten().map(s).collect();
        ensure!(&f == features, "task {name} features: humility {features:?}, ours {f:?}");
    }
    Ok(())
}

/// `readvar -l`, then `readvar NAME` of each static in flash. Returns how
/// many statics were read.
fn check_statics(h: &Humility, insp: &mut Inspector) -> Result<usize> {
    let theirs = humility_text::readvar_list(&h.run(&["readvar", "-l"])?);
    ensure!(!theirs.is_empty(), "humility lists no statics");
    let ours = escapement_humility::views::readvar::list(insp, None)?.json;
    let ours = ours["variables"].as_array().cloned().unwrap_or_default();
    let mut read = 0;
    for st in &theirs {
        let suffix = format!("::{}", st.name);
        let mine = ours.iter().find(|v| {
            let p = v["path"].as_str().unwrap_or("");
            v["task"] == st.module.as_str() && (p == st.name || p.ends_with(&suffix)) && v["address"].as_u64() == Some(st.addr)
        });
        let Some(mine) = mine else { bail!("humility lists {} {} at {:#010x}; we have no such static there", st.module, st.name, st.addr) };
        ensure!(mine["size"].as_u64() == Some(st.size), "{} {}: humility says {} bytes, ours {}", st.module, st.name, st.size, mine["size"]);
        // Statics in flash can be read from the archive alone.
        let mut probe = vec![0u8; st.size as usize];
        if st.size == 0 || insp.target.read(st.addr, &mut probe).is_err() {
            continue;
        }
        let p = if st.module == "kernel" { 0 } else { 1 + insp.archive.task_index(&st.module)? };
        let var = insp
            .program(p)?
            .variables
            .iter()
            .find(|v| v.addr == st.addr && (v.path == st.name || v.path.ends_with(&suffix)))
            .cloned()
            .context("static vanished")?;
        let value = insp.read_variable(p, &var)?;
        let mut mine = Vec::new();
        numbers(&value, &mut mine);
        let text = h.run(&["readvar", &st.name])?;
        let theirs_numbers = printed_numbers(&text);
        ensure!(
            matches(&theirs_numbers, &mine),
            "{} {}: humility prints the numbers {theirs_numbers:x?}, our value holds {mine:x?}\n  humility: {}\n  ours: {value}",
            st.module,
            st.name,
            text.trim()
        );
        if st.name == "HUBRIS_IMAGE_ID" {
            ensure!(humility_text::readvar_number(&text).map(|(_, v)| v) == Some(insp.archive.image_id), "HUBRIS_IMAGE_ID: {text}");
        }
        read += 1;
    }
    ensure!(read > 0, "no static humility lists is in flash");
    Ok(read)
}

/// The numbers in a decoded value, in field order: integers and addresses;
/// a negative integer is `None` (humility prints it in two's complement of
/// its own width). Booleans, characters and enumerator names are not
/// numbers in either tool's output.
fn numbers(v: &Value, out: &mut Vec<Option<u64>>) {
    match v {
        Value::Unsigned(n) => out.push(Some(*n)),
        Value::Signed(n) => out.push((*n >= 0).then_some(*n as u64)),
        Value::Pointer { addr, .. } => out.push(Some(*addr)),
        Value::Struct { fields, .. } | Value::Enum { fields, .. } => fields.iter().for_each(|(_, f)| numbers(f, out)),
        Value::Array(items) => items.iter().for_each(|i| numbers(i, out)),
        _ => {}
    }
}

/// The numbers humility prints after `NAME (0xADDR) =`, in order.
fn printed_numbers(text: &str) -> Vec<u64> {
    let after = text.split_once(") = ").map(|(_, v)| v).unwrap_or("");
    after
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter_map(|t| match t.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).ok(),
            None if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => t.parse().ok(),
            None => None,
        })
        .collect()
}

fn matches(theirs: &[u64], ours: &[Option<u64>]) -> bool {
    theirs.len() == ours.len() && theirs.iter().zip(ours).all(|(t, o)| o.is_none_or(|o| o == *t))
}

/// `map`: the same task regions as ours, or the known refusal while the
/// kernel's `RegionDesc.attributes` is a bare integer.
fn check_map(h: &Humility, insp: &mut Inspector) -> Result<String> {
    let theirs = match h.run(&["map"]) {
        Ok(t) => t,
        Err(e) => {
            let bare = attributes_is_bare_integer(insp)?;
            if bare && format!("{e:#}").contains("attributes") {
                return Ok("map refused as expected: kernel RegionDesc.attributes is a bare integer, humility wants a bitflags struct (HUMILITY-COMPAT row 3)".into());
            }
            return Err(e);
        }
    };
    let theirs: std::collections::BTreeSet<_> = humility_text::map(&theirs).into_iter().collect();
    let ours = escapement_humility::views::map::map(insp)?.json;
    let ours: std::collections::BTreeSet<_> = ours["regions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let base = r["base"].as_u64().unwrap_or(0);
            let task = r["task"].as_str().unwrap_or("").to_string();
            (r["descriptor"].as_u64().unwrap_or(0), base, base + r["size"].as_u64().unwrap_or(0), access_letters(r["attributes"].as_u64().unwrap_or(0)), r["id"].as_u64().unwrap_or(0), task)
        })
        .collect();
    ensure!(!theirs.is_empty(), "humility's map shows no task regions");
    ensure!(theirs == ours, "task regions differ:\n  humility only: {:x?}\n  ours only: {:x?}", theirs.difference(&ours).collect::<Vec<_>>(), ours.difference(&theirs).collect::<Vec<_>>());
    Ok(format!("map ({} task regions)", ours.len()))
}

/// True if the kernel's `RegionDesc.attributes` is a plain integer type.
fn attributes_is_bare_integer(insp: &Inspector) -> Result<bool> {
    let k = insp.kernel()?;
    let desc = k.types.values().find_map(|t| match t {
        Type::Struct(s) if s.name == "RegionDesc" => Some(s),
        _ => None,
    });
    let desc = desc.context("the kernel has no RegionDesc type")?;
    let attr = desc.members.iter().find(|m| m.name == "attributes").context("RegionDesc has no `attributes`")?;
    Ok(matches!(attr.ty.and_then(|t| k.resolve(t)), Some(Type::Base { .. })))
}

fn check_extract_and_doc(h: &Humility, archive: &Path) -> Result<()> {
    let listed = h.run(&["extract", "-l"])?;
    let mut z = zip::ZipArchive::new(std::fs::File::open(archive)?)?;
    for i in 0..z.len() {
        let name = z.by_index_raw(i)?.name().to_string();
        ensure!(listed.lines().any(|l| l.split_whitespace().last() == Some(name.as_str())), "extract -l does not list {name}");
    }
    let app = h.run(&["extract", "app.toml"])?;
    ensure!(app.contains("name = \"test-humility\""), "extract app.toml gave something else");
    ensure!(!h.run(&["doc"])?.trim().is_empty(), "doc printed nothing");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_humility_prints() {
        let text = "humility: attached\nINSPECT_STATE (0x08027210) = State {\n    magic: 0xc0ffee00,\n    f: Some(0x8001cfd (unsafe extern \"C\" fn())),\n    color: Green,\n    last: Some(513),\n    flag: true\n}\n";
        assert_eq!(printed_numbers(text), vec![0xc0ff_ee00, 0x0800_1cfd, 513]);
    }

    #[test]
    fn numbers_in_our_values() {
        let v = Value::Struct {
            ty: "State".into(),
            fields: vec![
                ("magic".into(), Value::Unsigned(0xc0ff_ee00)),
                ("f".into(), Value::Pointer { ty: "fn".into(), target: None, addr: 0x0800_1cfd }),
                ("color".into(), Value::Enum { ty: "Color".into(), variant: "Green".into(), fields: vec![] }),
                ("d".into(), Value::Signed(-1)),
                ("flag".into(), Value::Bool(true)),
            ],
        };
        let mut out = Vec::new();
        numbers(&v, &mut out);
        assert_eq!(out, vec![Some(0xc0ff_ee00), Some(0x0800_1cfd), None]);
        assert!(matches(&[0xc0ff_ee00, 0x0800_1cfd, 0xff], &out));
        assert!(!matches(&[0xc0ff_ee00, 0x0800_1cfe, 0xff], &out));
        assert!(!matches(&[0xc0ff_ee00], &out));
    }
}
