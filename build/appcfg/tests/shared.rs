//! Shared regions (`[shared.*]`) and peripheral windows
//! (`[tasks.*.windows.*]`): a valid declaration, its allocation and
//! generated constants, and one failing input per rule, each diagnostic
//! naming the file, the key and the fix.

mod common;
use common::*;

/// BASE with console writing a 64-byte page that hello reads, and a
/// read-only window on TIM5's CNT for hello.
fn with_page(shared: &str, window: &str) -> String {
    let text = edit("config = { greeting = \"hello\" }", &format!("config = {{ greeting = \"hello\" }}\n{window}"));
    format!("{text}\n{shared}")
}

const PAGE: &str = "[shared.time-page]\nsize = 64\nwriter = \"console\"\nreaders = [\"hello\"]\n";
const WINDOW: &str = "windows = { clocksource = { peripheral = \"tim5\", offset = 0x20, size = 32, access = \"read\" } }";

#[test]
fn a_page_and_a_window_load_allocate_and_generate() {
    let c = load_text(&with_page(PAGE, WINDOW));
    let app = c.app();
    assert_eq!(app.shared.len(), 1);
    assert_eq!(app.shared[0].writer, "console");
    let hello = &app.tasks[2];
    assert_eq!(hello.windows.len(), 1);
    assert_eq!(hello.windows[0].base, 0x4000_0C20);
    assert_eq!(hello.windows[0].access, appcfg::Access::Read);
    assert_eq!(hello.mpu_regions(&app.shared), 2 + 1 + 1 + 1);
    let alloc = appcfg::allocate(app).unwrap();
    let page = alloc.shared[0];
    assert_eq!(page.size, 64);
    assert_eq!(page.base % 64, 0);
    assert!(page.base >= app.chip.ram.base + app.kernel.requires.ram);
    for t in &alloc.tasks {
        assert!(!t.ram.overlaps(&page), "the page overlaps a task's RAM");
    }
    assert!(app.memory_map(&alloc).contains("[shared.time-page]"));
    let hello_rs = appcfg::task_config_rs(app, 2);
    assert!(hello_rs.contains("pub mod shared {"), "{hello_rs}");
    assert!(hello_rs.contains("pub const TIME_PAGE_WRITABLE: bool = false;"), "{hello_rs}");
    assert!(hello_rs.contains("pub const CLOCKSOURCE_BASE: u32 = 0x4000_0c20;"), "{hello_rs}");
    let console_rs = appcfg::task_config_rs(app, 1);
    assert!(console_rs.contains("pub const TIME_PAGE_WRITABLE: bool = true;"), "{console_rs}");
    assert!(!console_rs.contains("pub mod windows"));
    // A task granted nothing gets no module (so code needing one fails to compile).
    let idle_rs = appcfg::task_config_rs(app, 3);
    assert!(!idle_rs.contains("pub mod shared") && !idle_rs.contains("pub mod windows"));
}

#[test]
fn shared_size_must_be_one_mpu_region() {
    let c = load_text(&with_page(&PAGE.replace("size = 64", "size = 48"), ""));
    c.expect("shared.time-page.size", &["size 48", "power of two of at least 32"], &["size = 64"]);
    let c = load_text(&with_page(&PAGE.replace("size = 64", "size = 16"), ""));
    c.expect("shared.time-page.size", &["size 16"], &["size = 32"]);
}

#[test]
fn shared_needs_an_existing_writer_and_readers() {
    let c = load_text(&with_page(&PAGE.replace("writer = \"console\"", "writer = \"consol\""), ""));
    c.expect("shared.time-page.writer", &["`consol`", "no task"], &["did you mean `console`?"]);
    let c = load_text(&with_page(&PAGE.replace("[\"hello\"]", "[\"hello\", \"helo\"]"), ""));
    c.expect("shared.time-page.readers[1]", &["`helo`"], &["did you mean `hello`?"]);
    let c = load_text(&with_page(&PAGE.replace("[\"hello\"]", "[\"hello\", \"hello\"]"), ""));
    c.expect("shared.time-page.readers[1]", &["twice"], &["remove the duplicate"]);
    let c = load_text(&with_page(&PAGE.replace("[\"hello\"]", "[\"console\"]"), ""));
    c.expect("shared.time-page.readers[0]", &["is the writer"], &["remove \"console\" from readers"]);
    let c = load_text(&with_page(&PAGE.replace("writer = \"console\"\n", ""), ""));
    c.expect("shared.time-page", &["`writer`"], &["writer = \"timer\""]);
    let c = load_text(&with_page(&PAGE.replace("size = 64", "size = 64\nreader = [\"hello\"]"), ""));
    c.expect("shared.time-page.reader", &["unknown key `reader`"], &["did you mean `readers`?"]);
}

#[test]
fn readers_rank_below_the_writer() {
    let page = PAGE.replace("writer = \"console\"", "writer = \"hello\"").replace("[\"hello\"]", "[\"console\"]");
    let c = load_text(&with_page(&page, ""));
    c.expect(
        "shared.time-page.readers[0]",
        &["reader `console` (priority 1)", "writer `hello` (priority 3)", "forever"],
        &["priority number above 3"],
    );
}

#[test]
fn windows_must_be_mpu_legal_blocks_of_the_peripheral() {
    let c = load_text(&with_page("", &WINDOW.replace("0x20", "0x24")));
    c.expect("tasks.hello.windows.clocksource.offset", &["0x24", "not a multiple of its size"], &["offset = 0x20, size = 32"]);
    let c = load_text(&with_page("", &WINDOW.replace("size = 32", "size = 24")));
    c.expect("tasks.hello.windows.clocksource.size", &["size 24"], &["power-of-two size"]);
    let c = load_text(&with_page("", &WINDOW.replace("0x20", "0x400")));
    c.expect("tasks.hello.windows.clocksource.offset", &["runs past the end", "0x400"], &["offset + size <= 0x400"]);
    let c = load_text(&with_page("", &WINDOW.replace("\"tim5\"", "\"tim6\"")));
    c.expect("tasks.hello.windows.clocksource.peripheral", &["`tim6`"], &["did you mean"]);
    let c = load_text(&with_page("", &WINDOW.replace("\"read\"", "\"write\"")));
    c.expect("tasks.hello.windows.clocksource.access", &["\"write\""], &["access = \"read\"", "read-write"]);
    let c = load_text(&with_page("", &WINDOW.replace("\"tim5\"", "\"tim3\"")));
    c.expect("tasks.hello.windows.clocksource", &["already maps whole"], &["remove the window"]);
    let c = load_text(&with_page("", &WINDOW.replace("access", "acess")));
    c.expect("tasks.hello.windows.clocksource.acess", &["unknown key"], &["did you mean `access`?"]);
}

#[test]
fn bit_band_windows() {
    // TIM2's SR (offset 0x10), bits 0..7: alias 0x4200_0000 + 0x10 * 32.
    let w = "windows = { tim2-sr = { peripheral = \"tim2\", offset = 0x200, size = 32, access = \"read-write\", alias = \"bit-band\" } }";
    let c = load_text(&with_page("", w));
    let win = &c.app().tasks[2].windows[0];
    assert!(win.bit_band);
    assert_eq!(win.base, 0x4200_0200);
    assert_eq!(win.access, appcfg::Access::ReadWrite);
    let c = load_text(&with_page("", &w.replace("bit-band", "bitband")));
    c.expect("tasks.hello.windows.tim2-sr.alias", &["\"bitband\""], &["alias = \"bit-band\""]);
    // The alias is 32 times the registers' size.
    assert_eq!(appcfg::window_base(0x4000_0000, 0x400, 0x7FE0, 32, true), Ok(0x4200_7FE0));
    assert!(appcfg::window_base(0x4000_0000, 0x400, 0x8000, 32, true).is_err());
    // Only the first MiB of peripherals has an alias.
    let e = appcfg::window_base(0x5000_0000, 0x400, 0, 32, true).unwrap_err();
    assert!(e.contains("outside the bit-band region"), "{e}");
}

#[test]
fn shared_regions_and_windows_count_against_the_mpu() {
    // hello: flash, RAM, tim3 + 4 more peripherals = 7; the page makes 8.
    let uses = "uses = [\"tim3\", \"tim2\", \"tim4\", \"usart2\", \"gpioa\"]";
    let text = with_page(PAGE, "").replace("uses = [\"tim3\"]", uses);
    load_text(&text).app();
    // The window makes 9.
    let text = with_page(PAGE, WINDOW).replace("uses = [\"tim3\"]", uses);
    let c = load_text(&text);
    c.expect(
        "tasks.hello.uses",
        &["needs 9 MPU regions", "5 peripherals", "1 windows", "1 shared regions (`time-page`)"],
        &["drop 1 of them", "readers"],
    );
}

#[test]
fn the_real_apps_grant_the_time_page() {
    for app in ["app.toml", "build/apps/bench.toml", "build/apps/bench-periodic.toml", "build/apps/test-time-page.toml", "build/apps/stm32f4-discovery.toml"] {
        let path = repo().join(app);
        if !path.exists() {
            continue;
        }
        let app = appcfg::load(&path, &chips()).unwrap_or_else(|e| panic!("{e}"));
        let page = app.shared.iter().find(|s| s.name == "time-page").expect("a time page");
        assert_eq!(page.writer, "timer");
        for r in &page.readers {
            let t = &app.tasks[app.task_index(r).unwrap()];
            assert!(t.windows.iter().any(|w| w.name == "clocksource" && w.base <= 0x4000_0C24 && 0x4000_0C28 <= w.base + w.size));
        }
    }
}

/// Two windows of one task over the same registers: on ARMv7-M the
/// higher-numbered MPU region decides the overlap, so a `read` window
/// inside a `read-write` one (or the other way round) silently gets the
/// other's access there, depending only on declaration order. Refused.
#[test]
fn overlapping_windows_of_one_task_are_refused() {
    let w = "windows = { cnt = { peripheral = \"tim5\", offset = 0x20, size = 32, access = \"read\" }, \
             regs = { peripheral = \"tim5\", offset = 0, size = 64, access = \"read-write\" } }";
    let c = load_text(&with_page("", w));
    c.expect("tasks.hello.windows.regs", &["overlaps", "`cnt`"], &["one window", "disjoint"]);
    // The same block twice (even with the same access) wastes a region.
    let w = "windows = { a = { peripheral = \"tim5\", offset = 0x20, size = 32, access = \"read\" }, \
             b = { peripheral = \"tim5\", offset = 0x20, size = 32, access = \"read\" } }";
    let c = load_text(&with_page("", w));
    c.expect("tasks.hello.windows.b", &["overlaps", "`a`"], &["one window"]);
    // Disjoint windows on one peripheral are fine.
    let w = "windows = { a = { peripheral = \"tim5\", offset = 0x20, size = 32, access = \"read\" }, \
             b = { peripheral = \"tim5\", offset = 0x40, size = 32, access = \"read-write\" } }";
    load_text(&with_page("", w)).app();
}

/// A bit-band window must stay inside the alias of its peripheral's own
/// registers, which exists only for the first MiB of peripheral space:
/// a peripheral block that runs past 0x4010_0000 has no alias there.
#[test]
fn bit_band_windows_stay_inside_the_alias() {
    // 2 MiB at 0x4000_0000 (aligned): its second MiB has no alias, and
    // offset 32 MiB would be 0x4400_0000, past the alias's end.
    assert!(appcfg::window_base(0x4000_0000, 0x20_0000, 0x200_0000, 32, true).is_err());
    assert!(appcfg::window_base(0x4000_0000, 0x20_0000, 0, 32, true).is_err());
    assert_eq!(appcfg::window_base(0x4000_0000, 0x10_0000, 0x1FF_FFE0, 32, true), Ok(0x43FF_FFE0));
}

/// A window on a peripheral that the chip file also describes under
/// another name, which the task `uses` whole: the overlap is found by
/// address, not by name.
#[test]
fn a_window_inside_a_used_peripheral_of_another_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["stm32f405.toml", "stm32f407.toml"] {
        let text = std::fs::read_to_string(chips().join(f)).unwrap();
        std::fs::write(dir.path().join(f), format!("{text}\n[peripherals.tim5-cnt]\nbase = 0x4000_0C00\nsize = 0x400\n")).unwrap();
    }
    let w = "windows = { cnt = { peripheral = \"tim5-cnt\", offset = 0x20, size = 32, access = \"read\" } }";
    let text = with_page("", w).replace("uses = [\"tim3\"]", "uses = [\"tim3\", \"tim5\"]");
    let c = load_with_chips(&text, dir.path());
    c.expect("tasks.hello.windows.cnt", &["overlaps peripheral `tim5`"], &["remove the window"]);
}

/// A chip file whose "peripheral" lies in RAM would let a task that
/// uses it (or holds a read-write window on it) write the kernel's and
/// other tasks' memory, shared regions included: refused.
#[test]
fn a_peripheral_overlapping_ram_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["stm32f405.toml", "stm32f407.toml"] {
        let text = std::fs::read_to_string(chips().join(f)).unwrap();
        std::fs::write(dir.path().join(f), format!("{text}\n[peripherals.sram-regs]\nbase = 0x2000_0000\nsize = 0x400\n")).unwrap();
    }
    let c = load_with_chips(&with_page("", ""), dir.path());
    let text = c.err().to_string();
    assert!(text.contains("`sram-regs`") && text.contains("overlaps [memory.ram]"), "{text}");
    assert!(text.contains("peripherals.sram-regs.base"), "{text}");
}
