//! Randomized checks: every allocation is MPU-legal (power-of-two sizes,
//! size-aligned bases, no overlaps, within the chip), deterministic, and
//! never fails when a gap-free packing would fit; and `load` accepts exactly
//! the apps whose task-slots obey the priority rule.

mod common;
use appcfg::{allocate, App, Chip, Kernel, Range, Sizes, Task};
use common::*;
use indexmap::IndexMap;
use proptest::prelude::*;
use std::path::PathBuf;

fn task(i: usize, flash_log2: u32, ram_log2: u32) -> Task {
    Task {
        name: format!("t{i}"),
        package: format!("task-t{i}"),
        priority: if i == 0 { 0 } else { 1 },
        max_sizes: Sizes { flash: 1 << flash_log2, ram: 1 << ram_log2 },
        stacksize: 256,
        start: true,
        uses: vec![],
        notifications: vec![],
        interrupts: vec![],
        task_slots: vec![],
        config: toml::Table::new(),
        features: vec![],
        windows: vec![],
    }
}

fn app(flash: Range, ram: Range, kernel: Sizes, tasks: Vec<Task>) -> App {
    App {
        path: PathBuf::from("prop/app.toml"),
        source: String::new(),
        name: "prop".into(),
        target: "thumbv7em-none-eabihf".into(),
        board: "none".into(),
        chip: Chip { name: "PROP".into(), source: String::new(), flash, ram, peripherals: IndexMap::new() },
        kernel: Kernel { package: "kboot".into(), requires: kernel, stacksize: 256, features: vec![], log: None },
        tasks,
        shared: vec![],
    }
}

fn arb_app() -> impl Strategy<Value = App> {
    (
        prop::sample::select(vec![0x0u32, 0x0800_0000, 0x1000_0000, 0x0020_0000]),
        64u32..=2048, // flash KiB
        prop::sample::select(vec![0x2000_0000u32, 0x1000_0000, 0x2001_0000]),
        16u32..=512, // ram KiB
        1u32..=65536, // kernel flash bytes (any, even unaligned)
        1u32..=16384, // kernel ram bytes
        prop::collection::vec((8u32..=17, 8u32..=14), 1..40),
    )
        .prop_map(|(fb, fk, rb, rk, kf, kr, sizes)| {
            let tasks = sizes.iter().enumerate().map(|(i, &(f, r))| task(i, f, r)).collect();
            app(
                Range { base: fb, size: fk * 1024 },
                Range { base: rb, size: rk * 1024 },
                Sizes { flash: kf.min(fk * 1024), ram: kr.min(rk * 1024) },
                tasks,
            )
        })
}

/// End of a gap-free packing: kernel, then (aligned to the largest region)
/// every region back to back, largest first.
fn packed_end(base: u32, kernel: u32, sizes: &[u32]) -> u64 {
    let largest = sizes.iter().copied().max().unwrap_or(1) as u64;
    let start = (base as u64 + kernel as u64).div_ceil(largest) * largest;
    start + sizes.iter().map(|&s| s as u64).sum::<u64>()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn allocation_is_mpu_legal(app in arb_app()) {
        let flash_sizes: Vec<u32> = app.tasks.iter().map(|t| t.max_sizes.flash).collect();
        let ram_sizes: Vec<u32> = app.tasks.iter().map(|t| t.max_sizes.ram).collect();
        match allocate(&app) {
            Ok(alloc) => {
                prop_assert_eq!(alloc.kernel_flash, Range { base: app.chip.flash.base, size: app.kernel.requires.flash });
                prop_assert_eq!(alloc.kernel_ram, Range { base: app.chip.ram.base, size: app.kernel.requires.ram });
                prop_assert_eq!(alloc.tasks.len(), app.tasks.len());
                for (mem, kernel, regions) in [
                    (app.chip.flash, alloc.kernel_flash, alloc.tasks.iter().map(|r| r.flash).collect::<Vec<_>>()),
                    (app.chip.ram, alloc.kernel_ram, alloc.tasks.iter().map(|r| r.ram).collect::<Vec<_>>()),
                ] {
                    prop_assert!(mem.contains(&kernel));
                    for (i, r) in regions.iter().enumerate() {
                        prop_assert!(r.size.is_power_of_two() && r.size >= 256, "size {:#x}", r.size);
                        prop_assert_eq!(r.base % r.size, 0, "region {:?} not aligned", r);
                        prop_assert!(mem.contains(r), "region {:?} outside {:?}", r, mem);
                        prop_assert!(!r.overlaps(&kernel), "region {:?} overlaps kernel {:?}", r, kernel);
                        for (j, o) in regions.iter().enumerate().skip(i + 1) {
                            prop_assert!(!r.overlaps(o), "regions {} {:?} and {} {:?} overlap", i, r, j, o);
                        }
                    }
                }
                for (t, r) in app.tasks.iter().zip(&alloc.tasks) {
                    prop_assert_eq!(r.flash.size, t.max_sizes.flash);
                    prop_assert_eq!(r.ram.size, t.max_sizes.ram);
                }
                prop_assert_eq!(&alloc, &allocate(&app).unwrap());
                let map = app.memory_map(&alloc);
                prop_assert_eq!(map.lines().count(), app.tasks.len() + 4);
            }
            Err(e) => {
                // Only a genuinely tight memory may fail.
                let f_fits = packed_end(app.chip.flash.base, app.kernel.requires.flash, &flash_sizes) <= app.chip.flash.end() as u64;
                let r_fits = packed_end(app.chip.ram.base, app.kernel.requires.ram, &ram_sizes) <= app.chip.ram.end() as u64;
                prop_assert!(!(f_fits && r_fits), "allocation failed though a packing fits:\n{}", e);
                for d in &e.diagnostics {
                    prop_assert_eq!(&d.file, &app.path);
                    prop_assert!(d.key.starts_with("tasks.t") && d.key.contains(".max-sizes."), "key {}", d.key);
                    prop_assert!(d.message.contains("does not fit") && d.help.contains("shrink"), "{}", d);
                }
            }
        }
    }
}

fn slot_app_text(prios: &[u8], slots: &[(usize, usize)]) -> String {
    let mut s = String::from(
        "name = \"p\"\ntarget = \"thumbv7em-none-eabihf\"\nboard = \"b\"\nchip = \"stm32f405\"\n\
         [kernel]\nname = \"kboot\"\nrequires = { flash = 32768, ram = 8192 }\nstacksize = 2048\n",
    );
    let n = prios.len();
    for (i, p) in prios.iter().enumerate() {
        let name = if i == n - 1 { "idle".to_string() } else { format!("t{i}") };
        let my_slots: Vec<String> = slots
            .iter()
            .filter(|(from, _)| *from == i)
            .map(|(_, to)| if *to == n - 1 { "\"idle\"".to_string() } else { format!("\"t{to}\"") })
            .collect();
        s.push_str(&format!(
            "[tasks.{name}]\nname = \"x\"\npriority = {p}\nmax-sizes = {{ flash = 1024, ram = 512 }}\nstacksize = 256\ntask-slots = [{}]\n",
            my_slots.join(", ")
        ));
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Random priorities (supervisor 0, idle 31) and random distinct slots:
    /// `load` accepts iff every slot points strictly uphill, and reports each
    /// bad slot at its own key.
    #[test]
    fn slot_rule_matches_oracle(
        mid in prop::collection::vec(1u8..=30, 0..8),
        raw_slots in prop::collection::vec((0usize..10, 0usize..10), 0..12),
    ) {
        let mut prios = vec![0u8];
        prios.extend(&mid);
        prios.push(31);
        let n = prios.len();
        let mut slots: Vec<(usize, usize)> = Vec::new();
        for (a, b) in raw_slots {
            let (a, b) = (a % n, b % n);
            if a != b && !slots.contains(&(a, b)) {
                slots.push((a, b));
            }
        }
        let c = load_text(&slot_app_text(&prios, &slots));
        let name = |i: usize| if i == n - 1 { "idle".to_string() } else { format!("t{i}") };
        let bad: Vec<String> = slots
            .iter()
            .filter(|(a, b)| prios[*b] >= prios[*a])
            .map(|&(a, b)| {
                let k = slots.iter().filter(|(x, _)| *x == a).position(|&s| s == (a, b)).unwrap();
                format!("tasks.{}.task-slots[{k}]", name(a))
            })
            .collect();
        match &c.result {
            Ok(app) => {
                prop_assert!(bad.is_empty(), "accepted bad slots {:?}", bad);
                for (a, b) in &slots {
                    prop_assert!(app.tasks[*b].priority < app.tasks[*a].priority);
                }
            }
            Err(e) => {
                prop_assert!(!bad.is_empty(), "rejected a good app:\n{}", e);
                prop_assert_eq!(e.diagnostics.len(), bad.len(), "{}", e);
                for k in &bad {
                    prop_assert!(e.has_key(k), "no diagnostic at {}:\n{}", k, e);
                }
            }
        }
    }
}
