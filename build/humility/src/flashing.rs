//! What `flash` writes into a board, worked out before a probe is opened.
//!
//! Why a module of its own: `flash` ([`crate::target::probe::flash`]) and
//! the probe-free test (`tests/flash_plan.rs`) must prepare the same
//! probe-rs `FlashLoader` from the same archive, so that the test checks
//! what flashing does. Both call [`prepare`]; `flash` then commits the
//! loader through a probe with [`download_options`], the test only plans.
//!
//! How the loader is filled: probe-rs 0.30 reads an ELF into a loader only
//! through a `Session` (`FlashLoader::load_image`), which needs a probe.
//! So [`prepare`] adds `img/final.elf`'s contents itself, with
//! `FlashLoader::add_data`: each `PT_LOAD` segment's file bytes at its
//! physical (load) address. That is what probe-rs's ELF loader adds too
//! (`flashing/download.rs`, `extract_from_elf`), except that probe-rs also
//! drops a segment in which no section lies; our `final.elf` has a section
//! over every segment (build/xtask/src/elf.rs), and [`check_elf_sections`]
//! keeps it so, so `probe-rs download final.elf` programs the same bytes.
//!
//! How the plan is made: [`plan`] lays the loader's contents out in erase
//! sectors and program pages as `FlashLoader::commit` will, with no probe:
//! the NVM regions of the chip's probe-rs description that hold data, each
//! region's flash algorithm picked by probe-rs's rule, and the sectors and
//! pages from probe-rs's own `FlashAlgorithm` geometry (`iter_sectors`,
//! `iter_pages`, `sector_info`, `page_info`) over the loader's own data
//! (`FlashLoader::data`). Two pieces are copies of probe-rs 0.30 code that
//! it keeps private: the algorithm choice
//! (`FlashLoader::get_flash_algorithm_for_region`) and the loop that picks
//! which sectors and pages hold data (`FlashBuilder::build_sectors_and_pages`);
//! both are marked below.
//!
//! Guarantees: [`check`] passes only if, after the plan runs, every byte of
//! `img/final.bin` holds its value at its address (programmed by a page,
//! or, for the 0xFF gaps between programs, left erased by a sector erase),
//! and every programmed byte past final.bin's end is the erased value;
//! nothing is planned outside the chip's flash (no other NVM region, no RAM
//! write); every sector and page lies on the flash algorithm's boundaries;
//! and every page lies in a sector erased before it is programmed. `flash`
//! runs [`check`] before it opens a probe, so it never programs a plan the
//! test would refuse.

use crate::archive::Archive;
use anyhow::{bail, Context, Result};
use object::read::elf::{FileHeader, ProgramHeader};
use object::{Object, ObjectSection};
use probe_rs::config::{MemoryRange, MemoryRegion, NvmRegion, RawFlashAlgorithm, Registry};
use probe_rs::flashing::{DownloadOptions, FlashAlgorithm, FlashLoader};
use probe_rs::Target;
use std::ops::Range;

/// The options `flash` commits with: sector erase (not chip erase), bytes
/// of an erased sector that the image does not cover left erased (the
/// image is the whole program: final.bin fills its own gaps with 0xFF),
/// and every programmed page read back and compared.
pub fn download_options() -> DownloadOptions<'static> {
    let mut o = DownloadOptions::default();
    o.keep_unwritten_bytes = false;
    o.do_chip_erase = false;
    o.skip_erase = false;
    o.verify = true;
    o
}

/// The chip's probe-rs description, from probe-rs's built-in registry (the
/// one `Probe::attach` searches), by the archive's part name.
pub fn target(archive: &Archive) -> Result<Target> {
    let chip = archive.chip_name()?;
    Registry::from_builtin_families().get_target_by_name(&chip).with_context(|| {
        format!(
            "probe-rs {} has no chip {chip:?} (the archive's img/flash.ron)\n  help: set the chip's `name` in build/chips to a part probe-rs lists (`probe-rs chip list`), e.g. STM32F407VGTx",
            PROBE_RS_VERSION
        )
    })
}

/// The probe-rs release this crate is built against (Cargo.toml pins 0.30).
const PROBE_RS_VERSION: &str = "0.30";

/// One segment of `final.elf` as it is added to the loader.
#[derive(Clone, Debug)]
pub struct Segment {
    /// Index of its program header.
    pub index: usize,
    /// Physical (load) address: where its bytes go in flash.
    pub paddr: u64,
    pub data: Vec<u8>,
}

/// The `PT_LOAD` segments of `elf` that carry file bytes, in file order.
pub fn segments(elf: &[u8]) -> Result<Vec<Segment>> {
    let hdr = object::elf::FileHeader32::<object::Endianness>::parse(elf).context("img/final.elf is not a 32-bit ELF file")?;
    let e = hdr.endian()?;
    let mut out = Vec::new();
    for (index, ph) in hdr.program_headers(e, elf).context("img/final.elf: bad program headers")?.iter().enumerate() {
        if ph.p_type(e) != object::elf::PT_LOAD {
            continue;
        }
        let data = ph.data(e, elf).map_err(|_| anyhow::anyhow!("img/final.elf: segment {index} lies outside the file"))?;
        if data.is_empty() {
            continue;
        }
        out.push(Segment { index, paddr: ph.p_paddr(e) as u64, data: data.to_vec() });
    }
    Ok(out)
}

/// Refuses a `final.elf` with a loadable segment in which no section lies:
/// probe-rs's own ELF loader (`probe-rs download`, and `flash` before this
/// module) skips such a segment without a word, so the board would miss
/// its bytes ("no loadable segments" when it is every segment).
pub fn check_elf_sections(elf: &[u8]) -> Result<()> {
    let file = object::File::parse(elf).context("img/final.elf is not an ELF file")?;
    let hdr = object::elf::FileHeader32::<object::Endianness>::parse(elf)?;
    let e = hdr.endian()?;
    for (index, ph) in hdr.program_headers(e, elf)?.iter().enumerate() {
        if ph.p_type(e) != object::elf::PT_LOAD || ph.p_filesz(e) == 0 {
            continue;
        }
        let (start, size) = (ph.p_offset(e) as u64, ph.p_filesz(e) as u64);
        let inside = file.sections().any(|s| s.file_range().is_some_and(|(o, l)| o >= start && o + l <= start + size));
        if !inside {
            bail!(
                "img/final.elf: loadable segment {index} (load address {:#010x}, {size} bytes) contains no section, so probe-rs would not program it\n  help: rebuild with `cargo xtask dist`, whose final.elf has a section over every segment (build/xtask/src/elf.rs)",
                ph.p_paddr(e)
            );
        }
    }
    Ok(())
}

/// What [`prepare`] hands out: the chip's description and the loader
/// holding the image, ready to plan or to commit.
pub struct Prepared {
    /// The chip's part name, as the archive gives it.
    pub chip: String,
    pub target: Target,
    pub loader: FlashLoader,
    /// The segments added to the loader.
    pub segments: Vec<Segment>,
}

/// The loader `flash` commits: a `FlashLoader` for the archive's chip
/// (`Target::flash_loader`, as `Session::target().flash_loader()` makes
/// it) holding `img/final.elf`'s segments at their load addresses.
pub fn prepare(archive: &Archive) -> Result<Prepared> {
    let elf = archive.final_elf.as_deref().context("the archive has no img/final.elf to program\n  help: rebuild it with `cargo xtask dist`")?;
    check_elf_sections(elf)?;
    let target = target(archive)?;
    let mut loader = target.flash_loader();
    let segments = segments(elf)?;
    if segments.is_empty() {
        bail!("img/final.elf has no loadable segment with contents: nothing to program");
    }
    for s in &segments {
        loader.add_data(s.paddr, &s.data).with_context(|| {
            format!(
                "img/final.elf segment {} ({:#010x}..{:#010x}) does not fit {}'s memory map as probe-rs describes it",
                s.index,
                s.paddr,
                s.paddr + s.data.len() as u64,
                target.name
            )
        })?;
    }
    Ok(Prepared { chip: archive.chip_name()?, target, loader, segments })
}

/// One flash page as it will be programmed: its address and every byte of
/// it (image bytes, the erased value elsewhere).
#[derive(Clone, Debug)]
pub struct Page {
    pub address: u64,
    pub data: Vec<u8>,
}

/// The plan for one NVM region of the chip.
#[derive(Clone, Debug)]
pub struct RegionPlan {
    /// The region's name in probe-rs's description (`BANK_1`).
    pub name: String,
    pub range: Range<u64>,
    /// The flash algorithm's name (`stm32f4xx_1024`).
    pub algorithm_name: String,
    /// The algorithm's geometry (probe-rs's type; only `flash_properties`
    /// is filled, which is all the layout uses).
    pub algorithm: FlashAlgorithm,
    /// Sectors erased, in address order.
    pub sectors: Vec<Range<u64>>,
    /// Pages programmed, in address order.
    pub pages: Vec<Page>,
}

/// Everything `FlashLoader::commit` would do with the loader, probe-free.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Per NVM region that holds data.
    pub regions: Vec<RegionPlan>,
    /// Data the loader holds outside every NVM region (`commit` writes it
    /// to RAM through the core after flashing).
    pub ram_writes: Vec<Range<u64>>,
    /// Erase sectors before programming (false with `skip_erase`).
    pub erases: bool,
}

/// Lays `prepared`'s loader out as `FlashLoader::commit(session, options)`
/// does (`prepare_plan`, then each region's `build_sectors_and_pages` with
/// `options.keep_unwritten_bytes`).
pub fn plan(prepared: &Prepared, options: &DownloadOptions) -> Result<Plan> {
    let target = &prepared.target;
    let data: Vec<(u64, &[u8])> = prepared.loader.data().collect();
    let in_range = |r: &Range<u64>| data.iter().any(|(a, d)| *a < r.end && a + d.len() as u64 > r.start);
    let mut regions = Vec::new();
    for region in target.memory_map.iter().filter_map(MemoryRegion::as_nvm_region) {
        if !in_range(&region.range) {
            continue;
        }
        let core = region.cores.first().with_context(|| format!("{}: NVM region {:?} names no core that can program it", target.name, region.name))?;
        let raw = algorithm_for_region(region, target, core)?;
        let algorithm = FlashAlgorithm { name: raw.name.clone(), flash_properties: raw.flash_properties.clone(), ..Default::default() };
        let (sectors, pages) = layout_region(&data, region, &algorithm, options.keep_unwritten_bytes);
        regions.push(RegionPlan {
            name: region.name.clone().unwrap_or_default(),
            range: region.range.clone(),
            algorithm_name: raw.name.clone(),
            algorithm,
            sectors,
            pages,
        });
    }
    let nvm: Vec<&NvmRegion> = target.memory_map.iter().filter_map(MemoryRegion::as_nvm_region).collect();
    let mut ram_writes = Vec::new();
    for (a, d) in &data {
        let r = *a..a + d.len() as u64;
        if !nvm.iter().any(|n| n.range.contains_range(&r)) {
            ram_writes.push(r);
        }
    }
    Ok(Plan { regions, ram_writes, erases: !options.skip_erase })
}

/// The flash algorithm probe-rs uses for `region`: among the target's
/// algorithms whose address range holds the whole region and that the
/// region's core may run, the only one, else the only default one.
/// (A copy of probe-rs 0.30's `FlashLoader::get_flash_algorithm_for_region`,
/// which is private.)
fn algorithm_for_region<'t>(region: &NvmRegion, target: &'t Target, core: &String) -> Result<&'t RawFlashAlgorithm> {
    let fits: Vec<&RawFlashAlgorithm> = target
        .flash_algorithms
        .iter()
        .filter(|a| a.flash_properties.address_range.contains_range(&region.range) && (a.cores.is_empty() || a.cores.contains(core)))
        .collect();
    match fits.as_slice() {
        [] => bail!("{}: no flash algorithm covers NVM region {:?} ({:#x?})", target.name, region.name, region.range),
        [one] => Ok(one),
        _ => {
            let defaults: Vec<&&RawFlashAlgorithm> = fits.iter().filter(|a| a.default).collect();
            match defaults.as_slice() {
                [one] => Ok(one),
                _ => bail!("{}: NVM region {:?} has {} flash algorithms and not exactly one default", target.name, region.name, fits.len()),
            }
        }
    }
}

/// The sectors to erase and pages to program in `region`. A copy of the
/// selection loop of probe-rs 0.30's `FlashBuilder::build_sectors_and_pages`
/// (private): a sector is erased when it or its first page holds data, a
/// page is programmed when it holds data (or, with `include_empty_pages`,
/// when its sector does); sectors and pages outside the region are skipped;
/// a page's bytes not in the image are the erased value.
fn layout_region(data: &[(u64, &[u8])], region: &NvmRegion, algorithm: &FlashAlgorithm, include_empty_pages: bool) -> (Vec<Range<u64>>, Vec<Page>) {
    let has_data = |r: &Range<u64>| data.iter().any(|(a, d)| *a < r.end && a + d.len() as u64 > r.start);
    let mut sectors = Vec::new();
    for info in algorithm.iter_sectors() {
        let range = info.address_range();
        if !region.range.contains_range(&range) {
            continue;
        }
        let page = algorithm.page_info(info.base_address).expect("a sector's base is in the algorithm's range");
        if has_data(&range) || has_data(&page.address_range()) {
            sectors.push(range);
        }
    }
    let erased = algorithm.flash_properties.erased_byte_value;
    let mut pages = Vec::new();
    for info in algorithm.iter_pages() {
        let range = info.address_range();
        if !region.range.contains_range(&range) {
            continue;
        }
        let sector = algorithm.sector_info(info.base_address).expect("a page's base is in the algorithm's range");
        let wanted = has_data(&range) || (include_empty_pages && has_data(&sector.address_range()));
        if !wanted {
            continue;
        }
        let mut bytes = vec![erased; info.size as usize];
        for (a, d) in data {
            let (lo, hi) = ((*a).max(range.start), (a + d.len() as u64).min(range.end));
            if lo < hi {
                bytes[(lo - range.start) as usize..(hi - range.start) as usize].copy_from_slice(&d[(lo - a) as usize..(hi - a) as usize]);
            }
        }
        pages.push(Page { address: info.base_address, data: bytes });
    }
    (sectors, pages)
}

/// What [`check`] found right: the counts `flash` prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Bytes of `final.bin` (all planned at their addresses).
    pub image_bytes: u64,
    /// Sectors erased and their total size.
    pub sectors: usize,
    pub erased_bytes: u64,
    /// Pages programmed and their total size.
    pub pages: usize,
    pub programmed_bytes: u64,
    /// The NVM region and flash algorithm used.
    pub region: String,
    pub algorithm: String,
}

/// Checks `plan` against the image `final_bin`, which starts at
/// `flash_base` of a flash `flash_size` bytes long (the archive's
/// `memory.toml`): see the module's guarantees.
pub fn check(plan: &Plan, final_bin: &[u8], flash_base: u64, flash_size: u64) -> Result<Summary> {
    let flash = flash_base..flash_base + flash_size;
    if final_bin.len() as u64 > flash_size {
        bail!("final.bin is {} bytes but the chip's flash is {flash_size}", final_bin.len());
    }
    if let Some(r) = plan.ram_writes.first() {
        bail!("the loader holds {:#010x}..{:#010x}, outside every flash region: flashing would write it to RAM, where it is lost at reset", r.start, r.end);
    }
    let [region] = plan.regions.as_slice() else {
        let names: Vec<&str> = plan.regions.iter().map(|r| r.name.as_str()).collect();
        bail!("the plan writes {} flash regions ({names:?}); the image is one range of main flash", names.len());
    };
    if !plan.erases {
        bail!("the plan programs without erasing: flash bits only go from 1 to 0, so old contents would corrupt the image");
    }
    let alg = &region.algorithm;
    let erased = alg.flash_properties.erased_byte_value;
    // Sectors: on the algorithm's boundaries, inside the region and the
    // chip's flash, in order, none twice.
    for (i, s) in region.sectors.iter().enumerate() {
        let info = alg.sector_info(s.start).with_context(|| format!("sector {:#010x} is outside flash algorithm {}", s.start, region.algorithm_name))?;
        if info.address_range() != *s {
            bail!("sector {:#x?} is not a sector of {} (the sector there is {:#x?})", s, region.algorithm_name, info.address_range());
        }
        if !region.range.contains_range(s) || !flash.contains_range(s) {
            bail!("sector {s:#x?} lies outside the chip's flash {flash:#x?}");
        }
        if i > 0 && region.sectors[i - 1].end > s.start {
            bail!("sectors {:#x?} and {s:#x?} overlap or are out of order", region.sectors[i - 1]);
        }
    }
    // Pages: on page boundaries, whole, inside an erased sector and the
    // chip's flash, in order, none twice.
    let page_size = alg.flash_properties.page_size as u64;
    for (i, p) in region.pages.iter().enumerate() {
        let range = p.address..p.address + p.data.len() as u64;
        let info = alg.page_info(p.address).with_context(|| format!("page {:#010x} is outside flash algorithm {}", p.address, region.algorithm_name))?;
        if info.base_address != p.address || p.data.len() as u64 != page_size {
            bail!("page {range:#x?} is not on a {page_size}-byte page boundary of {}", region.algorithm_name);
        }
        if !flash.contains_range(&range) {
            bail!("page {range:#x?} lies outside the chip's flash {flash:#x?}");
        }
        if !region.sectors.iter().any(|s| s.contains_range(&range)) {
            bail!("page {range:#x?} is programmed but lies in no erased sector");
        }
        if i > 0 && region.pages[i - 1].address + page_size > p.address {
            bail!("pages at {:#010x} and {:#010x} overlap or are out of order", region.pages[i - 1].address, p.address);
        }
    }
    // The flash as the plan leaves it: erased sectors hold the erased
    // value, then each page its bytes; anything else keeps what the board
    // had (None). Every byte of final.bin must come out as final.bin has
    // it, and every programmed byte beyond final.bin's end must be erased.
    let mut after: Vec<Option<u8>> = vec![None; flash_size as usize];
    let offset = |a: u64| (a - flash.start) as usize;
    for s in &region.sectors {
        after[offset(s.start)..offset(s.end)].fill(Some(erased));
    }
    for p in &region.pages {
        for (k, &b) in p.data.iter().enumerate() {
            after[offset(p.address) + k] = Some(b);
        }
    }
    for (k, &want) in final_bin.iter().enumerate() {
        let at = flash.start + k as u64;
        match after[k] {
            Some(b) if b == want => {}
            Some(b) => bail!("the plan leaves {b:#04x} at {at:#010x}, where final.bin has {want:#04x}"),
            None => {
                let end = (k..final_bin.len()).find(|&j| after[j].is_some()).unwrap_or(final_bin.len());
                bail!(
                    "final.bin's bytes {at:#010x}..{:#010x} are in no planned page or erased sector: flashing would leave the board's old contents there",
                    flash.start + end as u64
                );
            }
        }
    }
    for p in &region.pages {
        let past = offset(p.address)..offset(p.address) + p.data.len();
        if let Some(k) = past.into_iter().find(|&k| k >= final_bin.len() && after[k] != Some(erased)) {
            bail!("the plan programs {:#04x?} at {:#010x}, past final.bin's end", after[k], flash.start + k as u64);
        }
    }
    Ok(Summary {
        image_bytes: final_bin.len() as u64,
        sectors: region.sectors.len(),
        erased_bytes: region.sectors.iter().map(|s| s.end - s.start).sum(),
        pages: region.pages.len(),
        programmed_bytes: region.pages.len() as u64 * page_size,
        region: region.name.clone(),
        algorithm: region.algorithm_name.clone(),
    })
}
