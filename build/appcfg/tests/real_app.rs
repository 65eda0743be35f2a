//! The repository's own app file and chip files load, allocate and generate
//! what the image builder expects.

mod common;
use appcfg::{allocate, irq_routes, irq_table, load, Range, IRQ_NOT_ROUTED};
use common::*;

fn real() -> appcfg::App {
    load(&repo().join("app.toml"), &chips()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn real_app_loads() {
    let app = real();
    assert_eq!(app.name, "escapement-demo");
    assert_eq!(app.target, "thumbv7em-none-eabihf");
    assert_eq!(app.chip.name, "STM32F405RGTx");
    assert_eq!(app.kernel.package, "kboot");
    let names: Vec<&str> = app.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names[0], "supervisor");
    assert!(names.contains(&"idle"));
    assert_eq!(app.tasks[0].priority, 0);
    assert!(app.source.contains("[tasks.supervisor]"));
    assert!(app.chip.source.contains("STM32F405RGTx"));
    assert_eq!(app.task_index("supervisor"), Some(0));
    assert_eq!(app.task_index("nope"), None);
}

#[test]
fn every_chip_file_parses() {
    // Load the real app against each chip by rewriting its `chip` key.
    let text = std::fs::read_to_string(repo().join("app.toml")).unwrap();
    let mut n = 0;
    for entry in std::fs::read_dir(chips()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let stem = path.file_stem().unwrap().to_str().unwrap();
            let line = text.lines().find(|l| l.starts_with("chip = ")).unwrap();
            let c = load_text(&text.replacen(line, &format!("chip = \"{stem}\""), 1));
            let app = c.app();
            assert_eq!(app.chip.flash.base, 0x0800_0000, "{stem}: vector table must be at flash start");
            n += 1;
        }
    }
    assert!(n >= 2, "expected the F405 and F407 chip files");
}

#[test]
fn hello_interrupt_resolved() {
    let c = load_text(BASE);
    let app = c.app();
    let hello = &app.tasks[app.task_index("hello").unwrap()];
    assert_eq!(
        hello.interrupts,
        vec![appcfg::Interrupt {
            peripheral: "tim3".into(),
            irq_name: "irq".into(),
            irq: 29,
            notification: "tick".into(),
            bit: 0,
        }]
    );
    assert_eq!(irq_table(app), vec![(29, 2, 1), (37, 1, 1)]);
    // The kernel's tables: grouped by task, each line indexed, each task
    // a range.
    let r = irq_routes(app);
    assert_eq!(r.table, vec![(37, 1, 1), (29, 2, 1)]);
    assert_eq!(r.index.len(), 38);
    assert_eq!((r.index[29], r.index[37]), (1, 0));
    assert_eq!(r.index.iter().filter(|&&k| k == IRQ_NOT_ROUTED).count(), 36);
    assert_eq!(r.starts.len(), app.tasks.len() + 1);
    assert_eq!(&r.starts[..4], &[0, 0, 1, 2]);
    assert!(r.starts[3..].iter().all(|&s| s == 2));
}

#[test]
fn real_app_allocation_is_exact() {
    let app = real();
    let alloc = allocate(&app).unwrap();
    assert_eq!(alloc.kernel_flash, Range { base: 0x0800_0000, size: app.kernel.requires.flash });
    assert_eq!(alloc.kernel_ram, Range { base: 0x2000_0000, size: app.kernel.requires.ram });
    for (t, r) in app.tasks.iter().zip(&alloc.tasks) {
        assert_eq!(r.flash.size, t.max_sizes.flash);
        assert_eq!(r.ram.size, t.max_sizes.ram);
        assert_eq!(r.flash.base % r.flash.size, 0);
        assert_eq!(r.ram.base % r.ram.size, 0);
    }
    // Deterministic.
    assert_eq!(alloc, allocate(&app).unwrap());
    let map = app.memory_map(&alloc);
    assert!(map.contains("kernel"), "{map}");
    assert!(map.contains("0x0800_0000..0x0801_0000"), "{map}");
    for t in &app.tasks {
        assert!(map.contains(&t.name), "{map}");
    }
    assert_eq!(map.lines().count(), app.tasks.len() + 4, "{map}");
}

#[test]
fn base_app_layout_golden() {
    let c = load_text(BASE);
    let app = c.app();
    let alloc = allocate(app).unwrap();
    let f: Vec<(u32, u32)> = alloc.tasks.iter().map(|r| (r.flash.base, r.flash.size)).collect();
    let r: Vec<(u32, u32)> = alloc.tasks.iter().map(|r| (r.ram.base, r.ram.size)).collect();
    // console (16 KiB) first right after the 32 KiB kernel, then the 8 KiB
    // ones in task order, then idle.
    assert_eq!(f, vec![(0x0800_c000, 0x2000), (0x0800_8000, 0x4000), (0x0800_e000, 0x2000), (0x0801_0000, 0x100)]);
    assert_eq!(r, vec![(0x2000_2800, 0x400), (0x2000_2000, 0x800), (0x2000_2c00, 0x400), (0x2000_3000, 0x100)]);
    let map = app.memory_map(&alloc);
    let expected = format!(
        "memory map of `test-image` ({}, netduinoplus2 on STM32F405RGTx):
  id  task        prio  flash                           size  ram                             size   stack
   -  kernel         -  0x0800_0000..0x0800_8000      32 KiB  0x2000_0000..0x2000_2000       8 KiB    2048
   0  supervisor     0  0x0800_c000..0x0800_e000       8 KiB  0x2000_2800..0x2000_2c00       1 KiB     768
   1  console        1  0x0800_8000..0x0800_c000      16 KiB  0x2000_2000..0x2000_2800       2 KiB    1024
   2  hello          3  0x0800_e000..0x0801_0000       8 KiB  0x2000_2c00..0x2000_3000       1 KiB     768
   3  idle           7  0x0801_0000..0x0801_0100       256 B  0x2000_3000..0x2000_3100       256 B     256
flash: 64.2 KiB budgeted, 64.2 KiB spanned of 1 MiB; ram: 12.2 KiB budgeted, 12.2 KiB spanned of 128 KiB
",
        c.path.display()
    );
    assert_eq!(map, expected);
}
