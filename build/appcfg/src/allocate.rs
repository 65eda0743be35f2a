//! Placing the kernel and tasks in the chip's flash and RAM.
//!
//! The kernel goes first in each memory (its vector table must sit at the
//! start of flash, and its RAM at the start of RAM). Each task gets one flash
//! and one RAM region of exactly its `max-sizes`, which are powers of two, so
//! each is a single ARMv7-M MPU region once its base is aligned to its size.
//! Regions are placed largest first, each at the lowest aligned address that
//! does not overlap anything already placed (first fit): big regions set the
//! alignment, small ones fill the gaps that alignment leaves.
//!
//! Shared regions (`[shared.*]`) are placed in RAM the same way, as
//! regions of their own size after the tasks' RAM in the list.
//!
//! Guarantees of an [`Allocation`]: every task and shared region has its
//! budgeted size, a base aligned to that size, lies within the chip's
//! memory, and overlaps neither the kernel nor any other region; the result
//! depends only on the sizes and task order (deterministic).

use crate::chip::Range;
use crate::error::{ConfigError, Diags, KeyPath};
use crate::App;
use std::fmt::Write;

/// Where everything goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    /// Kernel flash: `kernel.requires.flash` bytes at the start of chip flash.
    pub kernel_flash: Range,
    /// Kernel RAM: `kernel.requires.ram` bytes at the start of chip RAM.
    pub kernel_ram: Range,
    /// One entry per task, in task-id order.
    pub tasks: Vec<TaskRegions>,
    /// One RAM region per `[shared.*]` region, in declaration order; each
    /// of the region's size, aligned to it.
    pub shared: Vec<Range>,
}

/// A task's two memory regions (each one MPU region).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TaskRegions {
    /// Code and read-only data; `max-sizes.flash` bytes, aligned to that.
    pub flash: Range,
    /// Stack, .data and .bss; `max-sizes.ram` bytes, aligned to that.
    pub ram: Range,
}

fn align_up(x: u64, align: u64) -> u64 {
    x.div_ceil(align) * align
}

/// Places regions of `sizes` (powers of two) in memory starting at `base`,
/// avoiding `reserved`. Returns (base, size) per input, as u64 so that an
/// over-full memory is still laid out and its overflow can be measured.
fn place(base: u32, reserved: Range, sizes: &[u32]) -> Vec<u64> {
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(sizes[i]), i));
    // Occupied intervals, kept sorted by start.
    let mut taken: Vec<(u64, u64)> = vec![(reserved.base as u64, reserved.end_u64())];
    let mut bases = vec![0u64; sizes.len()];
    for i in order {
        let size = sizes[i].max(1) as u64;
        let mut addr = align_up(base as u64, size);
        for &(start, end) in &taken {
            if addr + size <= start {
                break;
            }
            if addr < end {
                addr = align_up(end, size);
            }
        }
        bases[i] = addr;
        let pos = taken.partition_point(|&(s, _)| s < addr);
        taken.insert(pos, (addr, addr + size));
    }
    bases
}

fn human(n: u64) -> String {
    if n >= 1024 * 1024 && n.is_multiple_of(1024 * 1024) {
        format!("{} MiB", n / (1024 * 1024))
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else if n >= 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

/// Lays out the app in its chip's memory. Fails (with one diagnostic per
/// memory that overflows) if the kernel and task budgets do not fit.
pub fn allocate(app: &App) -> Result<Allocation, ConfigError> {
    let chip = &app.chip;
    let kernel_flash = Range { base: chip.flash.base, size: app.kernel.requires.flash };
    let kernel_ram = Range { base: chip.ram.base, size: app.kernel.requires.ram };
    let flash_sizes: Vec<u32> = app.tasks.iter().map(|t| t.max_sizes.flash).collect();
    // Shared regions are placed with the tasks' RAM, after them in the
    // list (so adding one moves no task of the same size).
    let ram_sizes: Vec<u32> =
        app.tasks.iter().map(|t| t.max_sizes.ram).chain(app.shared.iter().map(|s| s.size)).collect();
    let flash_bases = place(chip.flash.base, kernel_flash, &flash_sizes);
    let ram_bases = place(chip.ram.base, kernel_ram, &ram_sizes);

    let mut d = Diags::new(&app.path, &app.source);
    for (what, mem, kernel, bases, sizes) in [
        ("flash", chip.flash, kernel_flash, &flash_bases, &flash_sizes),
        ("ram", chip.ram, kernel_ram, &ram_bases, &ram_sizes),
    ] {
        let end = bases
            .iter()
            .zip(sizes.iter())
            .map(|(&b, &s)| b + s as u64)
            .chain(std::iter::once(kernel.end_u64()))
            .max()
            .unwrap_or(0);
        if end <= mem.end_u64() {
            continue;
        }
        let over = end - mem.end_u64();
        let total: u64 = kernel.size as u64 + sizes.iter().map(|&s| s as u64).sum::<u64>();
        let mut biggest: Vec<usize> = (0..sizes.len()).collect();
        biggest.sort_by_key(|&i| (std::cmp::Reverse(sizes[i]), i));
        let name = |i: usize| match app.tasks.get(i) {
            Some(t) => t.name.clone(),
            None => format!("shared region {}", app.shared[i - app.tasks.len()].name),
        };
        let top: Vec<String> = biggest.iter().take(3).map(|&i| format!("{} {}", name(i), human(sizes[i] as u64))).collect();
        let key = match biggest.first() {
            Some(&i) if i < app.tasks.len() => KeyPath::root().key("tasks").key(&app.tasks[i].name).key("max-sizes").key(what),
            Some(&i) => KeyPath::root().key("shared").key(&app.shared[i - app.tasks.len()].name).key("size"),
            None => KeyPath::root().key("kernel").key("requires").key(what),
        };
        d.error(
            &key,
            format!(
                "the image does not fit in {} {what}: kernel {} plus tasks total {} and, aligned, reach {} but {what} ends at {} ({} over)",
                chip.name,
                human(kernel.size as u64),
                human(total - kernel.size as u64),
                crate::codegen::addr(end),
                crate::codegen::addr(mem.end_u64()),
                human(over),
            ),
            format!(
                "shrink the largest budgets (max-sizes.{what} of {}) or kernel.requires.{what}; halving one region saves half its size",
                top.join(", ")
            ),
        );
    }
    if !d.is_empty() {
        return Err(ConfigError { diagnostics: d.finish() });
    }
    let tasks = (0..app.tasks.len())
        .map(|i| TaskRegions {
            flash: Range { base: flash_bases[i] as u32, size: flash_sizes[i] },
            ram: Range { base: ram_bases[i] as u32, size: ram_sizes[i] },
        })
        .collect();
    let n = app.tasks.len();
    let shared =
        app.shared.iter().enumerate().map(|(i, s)| Range { base: ram_bases[n + i] as u32, size: s.size }).collect();
    Ok(Allocation { kernel_flash, kernel_ram, tasks, shared })
}

impl App {
    /// A human-readable memory map: one line for the kernel and one per task
    /// (id, name, priority, flash range, RAM range, sizes, stack), then the
    /// totals, which end with the shared regions' ranges if there are any. Ranges are `start..end` with `end` exclusive.
    pub fn memory_map(&self, alloc: &Allocation) -> String {
        let w = self.tasks.iter().map(|t| t.name.len()).max().unwrap_or(0).max(6);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "memory map of `{}` ({}, {} on {}):",
            self.name, self.path.display(), self.board, self.chip.name
        );
        let _ = writeln!(
            s,
            "{:>4}  {:<w$}  {:>4}  {:<26}  {:>8}  {:<26}  {:>8}  {:>6}",
            "id", "task", "prio", "flash", "size", "ram", "size", "stack"
        );
        let range = |r: &Range| format!("{}..{}", crate::codegen::addr(r.base as u64), crate::codegen::addr(r.end_u64()));
        let _ = writeln!(
            s,
            "{:>4}  {:<w$}  {:>4}  {:<26}  {:>8}  {:<26}  {:>8}  {:>6}",
            "-",
            "kernel",
            "-",
            range(&alloc.kernel_flash),
            human(alloc.kernel_flash.size as u64),
            range(&alloc.kernel_ram),
            human(alloc.kernel_ram.size as u64),
            self.kernel.stacksize
        );
        for (i, (t, r)) in self.tasks.iter().zip(&alloc.tasks).enumerate() {
            let _ = writeln!(
                s,
                "{:>4}  {:<w$}  {:>4}  {:<26}  {:>8}  {:<26}  {:>8}  {:>6}",
                i,
                t.name,
                t.priority,
                range(&r.flash),
                human(r.flash.size as u64),
                range(&r.ram),
                human(r.ram.size as u64),
                t.stacksize
            );
        }
        let used = |k: &Range, f: &dyn Fn(&TaskRegions) -> Range| -> (u64, u64) {
            let sum = k.size as u64 + alloc.tasks.iter().map(|r| f(r).size as u64).sum::<u64>();
            let end = alloc.tasks.iter().map(|r| f(r).end_u64()).chain([k.end_u64()]).max().unwrap_or(0);
            (sum, end)
        };
        let (fsum, fend) = used(&alloc.kernel_flash, &|r| r.flash);
        let (rsum, rend) = used(&alloc.kernel_ram, &|r| r.ram);
        let rsum = rsum + alloc.shared.iter().map(|r| r.size as u64).sum::<u64>();
        let rend = alloc.shared.iter().map(|r| r.end_u64()).fold(rend, u64::max);
        let _ = writeln!(
            s,
            "flash: {} budgeted, {} spanned of {}; ram: {} budgeted, {} spanned of {}",
            human(fsum),
            human(fend - self.chip.flash.base as u64),
            human(self.chip.flash.size as u64),
            human(rsum),
            human(rend - self.chip.ram.base as u64),
            human(self.chip.ram.size as u64),
        );
        // Shared regions on the totals line (one line per task above).
        if !alloc.shared.is_empty() {
            s.pop();
            let list: Vec<String> = self
                .shared
                .iter()
                .zip(&alloc.shared)
                .map(|(sh, r)| format!("[shared.{}] {} ({})", sh.name, range(r), human(r.size as u64)))
                .collect();
            let _ = writeln!(s, "; shared: {}", list.join(", "));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_fit_fills_alignment_gaps() {
        // Kernel 0x3000 at 0; a 0x4000 region must go to 0x4000, leaving
        // 0x3000..0x4000 for the small ones.
        let bases = place(0, Range { base: 0, size: 0x3000 }, &[0x4000, 0x400, 0x800]);
        assert_eq!(bases, vec![0x4000, 0x3800, 0x3000]);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(1024), "1 KiB");
        assert_eq!(human(1 << 20), "1 MiB");
        assert_eq!(human(1000), "1000 B");
        assert_eq!(human(65792), "64.2 KiB");
    }
}
