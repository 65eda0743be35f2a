//! Golden tests of the views: take a dump of a QEMU run stopped at a fixed
//! point, decode it with every view, and compare with expected output kept
//! in `build/humility/golden/`.
//!
//! Why here: the xtask starts QEMU (it owns images and the emulator); this
//! module owns what is inspector knowledge: where to stop, which views to
//! run, how to make the output independent of things that change with
//! every build (image id, git revision, file paths), and the comparison.
//!
//! Guarantees: the stopping point is an instruction address (a breakpoint
//! on a task's entry, hit a fixed number of times) in a run under
//! `-icount shift=0,sleep=off`, so the dumped state is the same run after
//! run. A golden mismatch reports the first differing line and both texts.
//! With `HUMILITY_BLESS=1` the expected files are rewritten instead.

use crate::archive::Archive;
use crate::cli::{self, Args};
use crate::inspect::Inspector;
use crate::target::gdb::GdbTarget;
use anyhow::{bail, Context, Result};
use clap::Parser;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One golden case: the view's arguments and its expected-output file.
pub struct Case {
    pub name: &'static str,
    pub args: &'static [&'static str],
    /// Mask the address in the first line (`readvar` prints where the
    /// static is, which moves whenever code before it grows).
    pub mask_address: bool,
}

/// The cases run against the dump of `build/apps/test-humility.toml`.
/// Outputs are chosen to depend on the image's behaviour and layout
/// (allocation by `max-sizes`), not on code sizes.
pub const CASES: &[Case] = &[
    Case { name: "tasks", args: &["tasks"], mask_address: false },
    Case { name: "tasks-json", args: &["--json", "tasks"], mask_address: false },
    Case { name: "ringbuf", args: &["ringbuf", "inspectee"], mask_address: false },
    Case { name: "readvar", args: &["readvar", "INSPECT_STATE"], mask_address: true },
    Case { name: "readvar-kernel", args: &["readvar", "HUBRIS_REGION_DESCS"], mask_address: true },
    Case { name: "manifest", args: &["manifest"], mask_address: false },
    Case { name: "map", args: &["map"], mask_address: false },
    Case { name: "timers", args: &["timers"], mask_address: false },
    // Views fail alone, saying what is missing.
    Case { name: "ringbuf-absent", args: &["ringbuf", "caller"], mask_address: false },
    Case { name: "readvar-absent", args: &["readvar", "NO_SUCH_STATIC"], mask_address: false },
];

/// Replaces the first `0x........` of the first line with `<addr>`.
fn mask_first_address(text: &str) -> String {
    let Some(at) = text.lines().next().and_then(|l| l.find("0x")) else { return text.to_string() };
    let end = text[at + 2..].find(|c: char| !c.is_ascii_hexdigit()).map(|n| at + 2 + n).unwrap_or(text.len());
    format!("{}<addr>{}", &text[..at], &text[end..])
}

/// What a dump file holds, in terms that do not change with code size:
/// file type, notes, registers, the RAM range, and whether every loadable
/// range of the image's flash is in it.
pub fn describe_dump(path: &Path, archive: &Archive) -> Result<String> {
    use crate::target::Target;
    use object::read::elf::{ElfFile32, FileHeader, ProgramHeader};
    use object::{elf, LittleEndian as LE};
    let data = std::fs::read(path)?;
    let file = ElfFile32::<LE>::parse(&data[..])?;
    let h = file.elf_header();
    let mut out = format!(
        "ELF32 {} for {}\n",
        if h.e_type(LE) == elf::ET_CORE { "ET_CORE" } else { "not a core file" },
        if h.e_machine(LE) == elf::EM_ARM { "EM_ARM" } else { "another machine" }
    );
    for ph in file.elf_program_headers() {
        if ph.p_type(LE) == elf::PT_NOTE {
            let mut notes = ph.notes(LE, &data[..])?.context("PT_NOTE")?;
            while let Some(n) = notes.next()? {
                let what = match n.n_type(LE) {
                    crate::target::dump::NOTE_ARCHIVE if n.desc() == &archive.zip_bytes[..] => "the build archive, byte for byte".to_string(),
                    crate::target::dump::NOTE_REGISTERS => format!("{} register records of 8 bytes", n.desc().len() / 8),
                    _ => format!("{} bytes", n.desc().len()),
                };
                out.push_str(&format!("PT_NOTE {:?} type {:#x}: {what}\n", String::from_utf8_lossy(n.name()), n.n_type(LE)));
            }
        }
    }
    let mut d = crate::target::dump::DumpTarget::parse(&data, path.display().to_string())?;
    let regs: Vec<&str> = d.registers()?.iter().map(|(id, _)| crate::target::REGISTER_NAMES.get(*id as usize).copied().unwrap_or("?")).collect();
    out.push_str(&format!("registers: {}\n", regs.join(" ")));
    let ranges = d.ranges();
    if let Some((a, l)) = ranges.first() {
        out.push_str(&format!("PT_LOAD {a:#010x}..{:#010x} (RAM)\n", a + l));
    }
    let elf = archive.final_elf.as_deref().context("no img/final.elf")?;
    let image = ElfFile32::<LE>::parse(elf)?;
    let mut missing = 0;
    for ph in image.elf_program_headers() {
        let (a, l) = (ph.p_paddr(LE) as u64, ph.p_filesz(LE) as u64);
        if ph.p_type(LE) == elf::PT_LOAD && l > 0 && !ranges.iter().any(|(b, m)| a >= *b && a + l <= b + m) {
            missing += 1;
        }
    }
    out.push_str(&format!("PT_LOAD flash: {}\n", if missing == 0 { "every loadable range of img/final.elf".to_string() } else { format!("{missing} ranges of img/final.elf missing") }));
    Ok(out)
}

/// Where the expected files live.
pub fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden")
}

/// Connects to a QEMU started with `-S`, runs it until the instruction at
/// `addr` has been reached `hits` times, and leaves it halted there.
pub fn stop_at(port: u16, addr: u32, hits: usize, limit: Duration) -> Result<GdbTarget> {
    let mut last_err = None;
    // QEMU opens its gdb socket shortly after it starts.
    for _ in 0..100 {
        match GdbTarget::connect(port) {
            Ok(mut t) => {
                t.keep_halted();
                t.set_breakpoint(addr)?;
                for i in 0..hits {
                    t.continue_until_stop(limit).with_context(|| format!("waiting for hit {} of the breakpoint at {addr:#010x}", i + 1))?;
                }
                t.clear_breakpoint(addr)?;
                return Ok(t);
            }
            Err(e) => last_err = Some(e),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(last_err.unwrap()).context("connecting to QEMU's gdbstub")
}

/// Replaces what changes with every build by placeholders.
pub fn normalize(text: &str, archive: &Archive, dump: &Path) -> String {
    let mut t = text.replace(&format!("{:#018x}", archive.image_id), "<image-id>");
    if let Some(rev) = &archive.git_rev {
        t = t.replace(rev.as_str(), "<git-rev>");
    }
    t.replace(&dump.display().to_string(), "<dump>")
}

/// Runs `args` (a view, with options) against `dump`; an error becomes
/// text (`error: ...`) so that failures are golden too.
pub fn run_case(dump: &Path, args: &[&str]) -> String {
    let mut full: Vec<String> = vec!["humility".into(), "-d".into(), dump.display().to_string()];
    full.extend(args.iter().map(|s| s.to_string()));
    match Args::try_parse_from(&full) {
        Ok(a) => match cli::execute(&a, None) {
            Ok(out) => out,
            Err(e) => format!("error: {e:#}\n"),
        },
        Err(e) => format!("error: {e}\n"),
    }
}

/// Compares `actual` with golden file `name.txt` (or writes it when
/// blessing). Returns a description of the difference.
pub fn check(name: &str, actual: &str) -> Result<()> {
    let path = golden_dir().join(format!("{name}.txt"));
    if std::env::var_os("HUMILITY_BLESS").is_some() {
        std::fs::write(&path, actual).with_context(|| format!("writing {}", path.display()))?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (create it with HUMILITY_BLESS=1 cargo xtask test --only humility)", path.display()))?;
    if expected == actual {
        return Ok(());
    }
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let line = e.iter().zip(a.iter()).position(|(x, y)| x != y).unwrap_or(e.len().min(a.len()));
    bail!(
        "output differs from {} at line {}:\n  expected: {:?}\n  actual:   {:?}\n--- actual output ---\n{actual}--- end ---\n  \
         help: if the change is intended, re-bless with HUMILITY_BLESS=1 cargo xtask test --only humility",
        path.display(),
        line + 1,
        e.get(line).unwrap_or(&"<end>"),
        a.get(line).unwrap_or(&"<end>"),
    )
}

/// A copy of `archive` whose kernel ELF claims a different image id (the
/// 8 bytes of `HUBRIS_IMAGE_ID` inverted), for the refusal test.
pub fn mismatched_archive(archive: &Archive) -> Result<(Vec<u8>, u64)> {
    use object::{Object, ObjectSection, ObjectSymbol};
    let mut kernel = archive.kernel.data.clone();
    let (offset, other) = {
        let elf = object::File::parse(&kernel[..])?;
        let sym = elf.symbols().find(|s| s.name() == Ok("HUBRIS_IMAGE_ID")).context("no HUBRIS_IMAGE_ID")?;
        let sec = elf.section_by_index(sym.section_index().context("undefined")?)?;
        let (file_off, _) = sec.file_range().context("HUBRIS_IMAGE_ID's section has no file data")?;
        (file_off + (sym.address() - sec.address()), !archive.image_id)
    };
    kernel[offset as usize..offset as usize + 8].copy_from_slice(&other.to_le_bytes());
    let mut src = zip::ZipArchive::new(Cursor::new(&archive.zip_bytes[..]))?;
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for i in 0..src.len() {
        let mut f = src.by_index(i)?;
        let name = f.name().to_string();
        let mut data = Vec::new();
        f.read_to_end(&mut data)?;
        out.start_file(name.as_str(), opts)?;
        out.write_all(if name == "elf/kernel" { &kernel } else { &data })?;
    }
    out.set_comment(String::from_utf8_lossy(src.comment()).to_string());
    Ok((out.finish()?.into_inner(), other))
}

/// Everything after QEMU is halted at the stopping point: dump through the
/// gdbstub, check live and dump agree, run every case, and check the
/// refusal of a mismatched archive. Returns the names of the checks run.
pub fn run_all(target: GdbTarget, archive_path: &Path, work: &Path) -> Result<Vec<String>> {
    let archive = Archive::open(archive_path)?;
    let mut insp = Inspector::new(archive, Box::new(target), true)?;
    let live_tasks = crate::views::tasks::tasks(&mut insp)?.text;
    std::fs::create_dir_all(work)?;
    let dump = work.join("golden.core");
    crate::views::dump::dump(&mut insp, Some(&dump))?;
    let archive = &insp.archive;
    let mut done = Vec::new();
    let mut failures = Vec::new();
    let mut record = |name: &str, r: Result<()>| {
        done.push(name.to_string());
        if let Err(e) = r {
            failures.push(format!("{name}: {e:#}"));
        }
    };
    record("dump", describe_dump(&dump, archive).and_then(|d| check("dump", &d)));
    // The dump must say what the live target said.
    let from_dump = run_case(&dump, &["tasks"]);
    record(
        "dump-matches-live",
        if from_dump == live_tasks { Ok(()) } else { Err(anyhow::anyhow!("live:\n{live_tasks}dump:\n{from_dump}")) },
    );
    for c in CASES {
        let mut out = normalize(&run_case(&dump, c.args), archive, &dump);
        if c.mask_address {
            out = mask_first_address(&out);
        }
        record(c.name, check(c.name, &out));
    }
    // A dump loaded with an archive of another build is refused.
    let (bytes, other) = mismatched_archive(archive)?;
    let other_path = work.join("other-build.zip");
    std::fs::write(&other_path, bytes)?;
    let args = vec!["humility".to_string(), "-a".into(), other_path.display().to_string(), "-d".into(), dump.display().to_string(), "tasks".into()];
    let refused = match cli::execute(&Args::try_parse_from(&args)?, None) {
        Ok(out) => format!("NOT REFUSED:\n{out}"),
        Err(e) => format!("error: {e:#}\n"),
    };
    let refused = normalize(&refused, archive, &dump)
        .replace(&format!("({:#010x})", archive.image_id_addr), "(<addr>)").replace(&format!("{other:#018x}"), "<other-id>").replace(&other_path.display().to_string(), "<other-archive>");
    record("mismatch-refused", check("mismatch-refused", &refused));
    if !failures.is_empty() {
        bail!("{} of {} golden checks failed:\n{}", failures.len(), done.len(), failures.join("\n"));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_has_a_golden_file() {
        for name in CASES.iter().map(|c| c.name).chain(["dump", "mismatch-refused"]) {
            let p = golden_dir().join(format!("{name}.txt"));
            assert!(p.exists(), "{} is missing", p.display());
        }
    }
}
