//! probe-rs's flash planning for `STM32F407VGTx` on the built Discovery
//! image, with no probe attached.
//!
//! Why: `cargo xtask flash` runs on a desk with a board, never in CI, and
//! its first failure (a `final.elf` probe-rs found no segments in) was
//! silent until then. This test prepares the very loader `flash` commits
//! (`escapement_humility::flashing::prepare`, from the archive's
//! `img/final.elf`, with probe-rs 0.30's built-in description of the chip),
//! plans it as `FlashLoader::commit` would with `flash`'s options, and
//! checks, partly through `flashing::check` (which `flash` also runs) and
//! partly on its own: every byte of `img/final.bin` ends up in flash at its
//! address with its value, nothing is planned outside the chip's flash,
//! and sectors and pages are the chip's (RM0090 section 3.3, table 5).
//!
//! The archive: `$ESCAPEMENT_FLASH_PLAN_ARCHIVE`, else the Discovery
//! image's default place. `cargo xtask test` builds the image and runs this
//! test (`--features probe`, which this test requires).

use escapement_humility::flashing::{self, Plan};
use escapement_humility::Archive;
use std::path::PathBuf;

const CHIP: &str = "STM32F407VGTx";

fn archive() -> Archive {
    let path = std::env::var_os("ESCAPEMENT_FLASH_PLAN_ARCHIVE").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/escapement/escapement-discovery/build-escapement-discovery.zip")
    });
    if !path.exists() {
        panic!(
            "no Discovery archive at {}\n  help: run `cargo xtask test --host-only` (it builds the image first), or \
             `cargo xtask dist build/apps/stm32f4-discovery.toml` and set ESCAPEMENT_FLASH_PLAN_ARCHIVE to its build-*.zip",
            path.display()
        );
    }
    Archive::open(&path).unwrap()
}

/// RM0090 table 5: the STM32F407xG's 1 MiB main flash is four 16 KiB
/// sectors, one of 64 KiB, then seven of 128 KiB.
fn rm0090_sectors() -> Vec<std::ops::Range<u64>> {
    let mut out = Vec::new();
    let mut at = 0x0800_0000u64;
    for size in [16u64, 16, 16, 16, 64, 128, 128, 128, 128, 128, 128, 128] {
        out.push(at..at + size * 1024);
        at += size * 1024;
    }
    assert_eq!(at, 0x0810_0000);
    out
}

fn planned(archive: &Archive) -> (flashing::Prepared, Plan) {
    let prepared = flashing::prepare(archive).unwrap();
    let plan = flashing::plan(&prepared, &flashing::download_options()).unwrap();
    (prepared, plan)
}

#[test]
fn every_byte_of_final_bin_is_planned_into_flash() {
    let archive = archive();
    assert_eq!(archive.chip_name().unwrap(), CHIP);
    let bin = archive.final_bin.clone().expect("the archive has img/final.bin");
    let (base, size) = archive.flash_range().unwrap();
    assert_eq!((base, size), (0x0800_0000, 1 << 20), "the STM32F407VG's main flash");
    let (prepared, plan) = planned(&archive);

    // The description probe-rs attaches with: one core, main flash at the
    // image's base.
    assert_eq!(prepared.target.name, CHIP);
    assert!(plan.ram_writes.is_empty(), "loader data outside flash: {:#x?}", plan.ram_writes);
    assert_eq!(plan.regions.len(), 1, "{:#?}", plan.regions.iter().map(|r| &r.name).collect::<Vec<_>>());
    let region = &plan.regions[0];
    assert_eq!((region.name.as_str(), region.algorithm_name.as_str()), ("BANK_1", "stm32f4xx_1024"));
    assert_eq!(region.range, base..base + size);

    // What the loader holds is final.bin at the same addresses (checked
    // here on the loader's own blocks, apart from the plan).
    let mut held = 0u64;
    for (addr, data) in prepared.loader.data() {
        let o = (addr - base) as usize;
        assert!(addr >= base && o + data.len() <= bin.len(), "loader block {addr:#010x}+{} outside final.bin", data.len());
        assert!(bin[o..o + data.len()] == *data, "loader block at {addr:#010x} differs from final.bin");
        held += data.len() as u64;
    }

    // Sectors are RM0090's, contiguous from the base and covering the image;
    // pages are whole 1 KiB pages, each in an erased sector, holding
    // final.bin's bytes (erased beyond its end).
    let rm = rm0090_sectors();
    assert!(!region.sectors.is_empty());
    for s in &region.sectors {
        assert!(rm.contains(s), "sector {s:#x?} is not an RM0090 sector");
    }
    let erased_to = region.sectors.last().unwrap().end;
    assert!(erased_to >= base + bin.len() as u64, "final.bin ends past the last erased sector {erased_to:#010x}");
    for p in &region.pages {
        assert_eq!((p.address % 1024, p.data.len()), (0, 1024), "page {:#010x}", p.address);
        assert!(region.sectors.iter().any(|s| s.start <= p.address && p.address + 1024 <= s.end), "page {:#010x} in no erased sector", p.address);
        for (k, &b) in p.data.iter().enumerate() {
            let o = (p.address - base) as usize + k;
            assert_eq!(b, bin.get(o).copied().unwrap_or(0xFF), "page byte at {:#010x}", p.address + k as u64);
        }
    }
    // Every byte of final.bin: in a page, or a gap byte (0xFF) of an
    // erased sector; and every byte the loader holds is in a page.
    for (o, &b) in bin.iter().enumerate() {
        let at = base + o as u64;
        let paged = region.pages.iter().any(|p| p.address <= at && at < p.address + 1024);
        assert!(paged || (b == 0xFF && region.sectors.iter().any(|s| s.contains(&at))), "final.bin byte {b:#04x} at {at:#010x} is not planned");
    }
    for (addr, data) in prepared.loader.data() {
        for at in [addr, addr + data.len() as u64 - 1] {
            assert!(region.pages.iter().any(|p| p.address <= at && at < p.address + 1024), "loader byte {at:#010x} in no page");
        }
    }

    // And the check `flash` runs before it opens a probe agrees.
    let summary = flashing::check(&plan, &bin, base, size).unwrap();
    assert_eq!(summary.image_bytes, bin.len() as u64);
    assert_eq!(summary.sectors, region.sectors.len());
    println!(
        "{CHIP}: final.bin {} bytes ({held} from final.elf's {} segments) -> {} sectors erased ({} KiB), {} pages programmed",
        bin.len(),
        prepared.segments.len(),
        summary.sectors,
        summary.erased_bytes / 1024,
        summary.pages
    );
}

/// The check `flash` relies on is not vacuous: each way a plan can miss
/// the image is refused, with a message saying where.
#[test]
fn check_refuses_plans_that_miss_the_image() {
    let archive = archive();
    let bin = archive.final_bin.clone().unwrap();
    let (base, size) = archive.flash_range().unwrap();
    let (_, plan) = planned(&archive);
    let refuse = |p: &Plan, bin: &[u8], want: &str| {
        let e = format!("{:#}", flashing::check(p, bin, base, size).unwrap_err());
        assert!(e.contains(want), "want {want:?} in: {e}");
    };

    // A page left out: its bytes would keep the board's old contents.
    let mut p = plan.clone();
    let first_data_page = p.regions[0].pages.iter().position(|pg| pg.data.iter().any(|&b| b != 0xFF)).unwrap();
    p.regions[0].pages.remove(first_data_page);
    refuse(&p, &bin, "final.bin");
    // A byte programmed wrong.
    let mut p = plan.clone();
    p.regions[0].pages[0].data[3] ^= 0x5A;
    refuse(&p, &bin, "where final.bin has");
    // A sector not erased (the last one): pages there are refused.
    let mut p = plan.clone();
    p.regions[0].sectors.pop();
    refuse(&p, &bin, "no erased sector");
    // A sector off the chip's boundaries.
    let mut p = plan.clone();
    p.regions[0].sectors[0].start += 0x400;
    refuse(&p, &bin, "is not a sector");
    // A page off a page boundary.
    let mut p = plan.clone();
    p.regions[0].pages[0].address += 4;
    refuse(&p, &bin, "page boundary");
    // Data outside flash (a RAM write after flashing).
    let mut p = plan.clone();
    p.ram_writes.push(0x2000_0000..0x2000_0010);
    refuse(&p, &bin, "outside every flash region");
    // No erase.
    let mut p = plan.clone();
    p.erases = false;
    refuse(&p, &bin, "without erasing");
    // An image larger than the chip's flash.
    refuse(&plan, &vec![0xFF; size as usize + 1], "the chip's flash is");
}

/// The original failure: a `final.elf` without section headers, whose
/// segments probe-rs's ELF loader would skip, is refused with the fix.
#[test]
fn final_elf_without_sections_is_refused() {
    let archive = archive();
    let elf = archive.final_elf.clone().unwrap();
    flashing::check_elf_sections(&elf).unwrap();
    // e_shoff (offset 32), e_shnum (48) and e_shstrndx (50) cleared.
    let mut stripped = elf.clone();
    stripped[32..36].fill(0);
    stripped[48..52].fill(0);
    let e = format!("{:#}", flashing::check_elf_sections(&stripped).unwrap_err());
    assert!(e.contains("contains no section") && e.contains("help:"), "{e}");
    // The segments themselves are still read the same way.
    let a = flashing::segments(&elf).unwrap();
    let b = flashing::segments(&stripped).unwrap();
    assert_eq!(a.len(), b.len());
    assert!(a.iter().zip(&b).all(|(x, y)| x.paddr == y.paddr && x.data == y.data));
}
