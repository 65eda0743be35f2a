//! Board clock trees (`build/chips/boards/<board>.toml`, table `[clock]`):
//! the one place an image's clock numbers come from.
//!
//! A board file states the crystal and the dividers; [`load_board`]
//! computes every clock from them and checks each against the STM32F405/407
//! limits of RM0090 (section 7.2, register 7.3.2 RCC_PLLCFGR, 7.3.3
//! RCC_CFGR; table 10 for flash wait states; section 30.3.4 for the USART
//! divider) and the datasheet's maximum frequencies. A board without a file
//! (QEMU's netduinoplus2, whose RCC is not modelled) runs from the reset
//! clock and has no tree.
//!
//! The kernel's start-up programs exactly these values (generated `CLOCK_*`
//! constants), and a task `config` key `timer-clock-hz` must equal the APB1
//! timer clock computed here, so no app can state a clock its board does
//! not have.

use crate::error::Diagnostic;
use std::path::{Path, PathBuf};

/// The board's crystal and divider choices, as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockTree {
    pub hse_hz: u32,
    pub pllm: u32,
    pub plln: u32,
    pub pllp: u32,
    pub pllq: u32,
    pub ahb_div: u32,
    pub apb1_div: u32,
    pub apb2_div: u32,
    /// Supply voltage in mV: it decides the flash wait states.
    pub vdd_mv: u32,
    /// Console baud rate.
    pub baud: u32,
}

/// Every clock of a checked tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clocks {
    pub tree: ClockTree,
    pub vco_in_hz: u32,
    pub vco_out_hz: u32,
    pub sysclk_hz: u32,
    pub hclk_hz: u32,
    pub pclk1_hz: u32,
    pub pclk2_hz: u32,
    /// TIM2-7, TIM12-14: twice PCLK1 unless APB1 is undivided (RM0090 7.2).
    pub apb1_timer_hz: u32,
    pub apb2_timer_hz: u32,
    pub usb_hz: u32,
    /// FLASH_ACR LATENCY for HCLK at `vdd_mv` (RM0090 table 10).
    pub flash_ws: u32,
    /// RCC_CFGR with HPRE, PPRE1 and PPRE2 set, everything else 0.
    pub cfgr_prescalers: u32,
}

/// RM0090 / datasheet limits for the STM32F405/407.
pub mod limits {
    pub const HSE_MIN_HZ: u32 = 4_000_000;
    pub const HSE_MAX_HZ: u32 = 26_000_000;
    pub const VCO_IN_MIN_HZ: u32 = 1_000_000;
    pub const VCO_IN_MAX_HZ: u32 = 2_000_000;
    pub const VCO_OUT_MIN_HZ: u32 = 100_000_000;
    pub const VCO_OUT_MAX_HZ: u32 = 432_000_000;
    pub const SYSCLK_MAX_HZ: u32 = 168_000_000;
    pub const PCLK1_MAX_HZ: u32 = 42_000_000;
    pub const PCLK2_MAX_HZ: u32 = 84_000_000;
    pub const USB_HZ: u32 = 48_000_000;
    /// Largest acceptable console baud-rate error, in parts per million.
    pub const BAUD_ERROR_MAX_PPM: u32 = 10_000;
}

/// Relative error of the baud rate a USART clocked at `pclk_hz` really
/// produces with the nearest BRR (16x oversampling: BRR = pclk / baud),
/// in parts per million.
pub fn baud_error_ppm(pclk_hz: u32, baud: u32) -> u64 {
    let brr = (u64::from(pclk_hz) + u64::from(baud) / 2) / u64::from(baud);
    // USARTDIV below 1 (BRR < 16) does not exist (RM0090 30.6.3).
    if brr < 16 {
        return 1_000_000;
    }
    let actual = u64::from(pclk_hz) * 1_000_000 / brr; // baud x 1e6
    let want = u64::from(baud) * 1_000_000;
    actual.abs_diff(want) * 1_000_000 / want
}

/// Flash wait states for HCLK at `vdd_mv` (RM0090 table 10: one more wait
/// state every 30 MHz at 2.7-3.6 V, 24 MHz at 2.4-2.7 V, 22 MHz at
/// 2.1-2.4 V, 20 MHz at 1.8-2.1 V), or None below 1.8 V.
pub fn flash_wait_states(hclk_hz: u32, vdd_mv: u32) -> Option<u32> {
    let step = match vdd_mv {
        2700.. => 30_000_000,
        2400..=2699 => 24_000_000,
        2100..=2399 => 22_000_000,
        1800..=2099 => 20_000_000,
        _ => return None,
    };
    Some(hclk_hz.saturating_sub(1) / step)
}

fn hpre_bits(div: u32) -> Option<u32> {
    Some(match div {
        1 => 0,
        2 => 0b1000,
        4 => 0b1001,
        8 => 0b1010,
        16 => 0b1011,
        64 => 0b1100,
        128 => 0b1101,
        256 => 0b1110,
        512 => 0b1111,
        _ => return None,
    })
}

fn ppre_bits(div: u32) -> Option<u32> {
    Some(match div {
        1 => 0,
        2 => 0b100,
        4 => 0b101,
        8 => 0b110,
        16 => 0b111,
        _ => return None,
    })
}

const KEYS: &[&str] =
    &["hse-hz", "pllm", "plln", "pllp", "pllq", "ahb-div", "apb1-div", "apb2-div", "vdd-mv", "baud"];

/// Where a board's file lives.
pub fn board_file(chips_dir: &Path, board: &str) -> PathBuf {
    chips_dir.join("boards").join(format!("{board}.toml"))
}

/// Loads and checks the clock tree of `board`; `Ok(None)` if the board has
/// no file.
pub fn load_board(chips_dir: &Path, board: &str) -> Result<Option<Clocks>, Vec<Diagnostic>> {
    let path = board_file(chips_dir, board);
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(None) };
    parse(&path, &text).map(Some)
}

fn diag(file: &Path, text: &str, key: &str, message: String, help: String) -> Diagnostic {
    Diagnostic {
        file: file.to_path_buf(),
        key: key.to_string(),
        line: key_line(text, key),
        message,
        help,
    }
}

/// 1-based line where `key` (`clock.<name>`) is set, if it is.
fn key_line(text: &str, key: &str) -> Option<usize> {
    let name = key.rsplit('.').next().filter(|n| !n.is_empty())?;
    text.lines().position(|l| {
        let l = l.trim_start();
        l.starts_with(name) && l[name.len()..].trim_start().starts_with(['=', ']'])
            || l == format!("[{name}]")
    }).map(|i| i + 1)
}

/// Parses and checks a board file's `[clock]` table.
pub fn parse(file: &Path, text: &str) -> Result<Clocks, Vec<Diagnostic>> {
    let d = |key: &str, message: String, help: String| diag(file, text, key, message, help);
    let root: toml::Table = text.parse().map_err(|e| vec![d("", format!("not valid TOML: {e}"), "fix the syntax".into())])?;
    let Some(toml::Value::Table(clock)) = root.get("clock") else {
        return Err(vec![d("clock", "no [clock] table".into(), format!("add [clock] with {}", KEYS.join(", ")))]);
    };
    let mut errors = Vec::new();
    for k in clock.keys() {
        if !KEYS.contains(&k.as_str()) {
            errors.push(d(&format!("clock.{k}"), format!("unknown key `{k}`"), format!("use one of {}", KEYS.join(", "))));
        }
    }
    let mut get = |k: &str| -> u32 {
        match clock.get(k).and_then(|v| v.as_integer()).and_then(|n| u32::try_from(n).ok()) {
            Some(n) => n,
            None => {
                errors.push(d(&format!("clock.{k}"), format!("`{k}` missing or not an integer 0..=2^32-1"), format!("set clock.{k}")));
                0
            }
        }
    };
    let tree = ClockTree {
        hse_hz: get("hse-hz"),
        pllm: get("pllm"),
        plln: get("plln"),
        pllp: get("pllp"),
        pllq: get("pllq"),
        ahb_div: get("ahb-div"),
        apb1_div: get("apb1-div"),
        apb2_div: get("apb2-div"),
        vdd_mv: get("vdd-mv"),
        baud: get("baud"),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    check(&tree).map_err(|v| v.into_iter().map(|(k, m, h)| d(&format!("clock.{k}"), m, h)).collect())
}

fn mhz(hz: u32) -> String {
    format!("{} MHz", hz as f64 / 1e6)
}

/// Computes every clock of `t` and checks it; errors are (key, what is
/// wrong, how to fix it).
pub fn check(t: &ClockTree) -> Result<Clocks, Vec<(&'static str, String, String)>> {
    use limits::*;
    let mut e: Vec<(&'static str, String, String)> = Vec::new();
    if !(HSE_MIN_HZ..=HSE_MAX_HZ).contains(&t.hse_hz) {
        e.push(("hse-hz", format!("HSE {} is outside 4-26 MHz (RM0090 7.2.1)", mhz(t.hse_hz)), "state the board's crystal frequency".into()));
    }
    if !(2..=63).contains(&t.pllm) {
        e.push(("pllm", format!("PLLM {} is outside 2..=63 (RM0090 7.3.2)", t.pllm), "pick M in 2..=63".into()));
    }
    if !(50..=432).contains(&t.plln) {
        e.push(("plln", format!("PLLN {} is outside 50..=432 (RM0090 7.3.2)", t.plln), "pick N in 50..=432".into()));
    }
    if ![2, 4, 6, 8].contains(&t.pllp) {
        e.push(("pllp", format!("PLLP {} is not 2, 4, 6 or 8 (RM0090 7.3.2)", t.pllp), "pick P from 2, 4, 6, 8".into()));
    }
    if !(2..=15).contains(&t.pllq) {
        e.push(("pllq", format!("PLLQ {} is outside 2..=15 (RM0090 7.3.2)", t.pllq), "pick Q in 2..=15".into()));
    }
    let hpre = hpre_bits(t.ahb_div);
    if hpre.is_none() {
        e.push(("ahb-div", format!("AHB divider {} does not exist (RM0090 7.3.3 HPRE)", t.ahb_div), "use 1, 2, 4, 8, 16, 64, 128, 256 or 512".into()));
    }
    let ppre1 = ppre_bits(t.apb1_div);
    let ppre2 = ppre_bits(t.apb2_div);
    for (k, p, div) in [("apb1-div", ppre1, t.apb1_div), ("apb2-div", ppre2, t.apb2_div)] {
        if p.is_none() {
            e.push((k, format!("APB divider {div} does not exist (RM0090 7.3.3 PPRE)"), "use 1, 2, 4, 8 or 16".into()));
        }
    }
    if t.baud == 0 {
        e.push(("baud", "baud rate 0".into(), "set baud, e.g. 115200".into()));
    }
    if !e.is_empty() {
        return Err(e);
    }
    let vco_in = t.hse_hz / t.pllm;
    let vco_out = (u64::from(t.hse_hz) * u64::from(t.plln) / u64::from(t.pllm)) as u32;
    let sysclk = vco_out / t.pllp;
    let hclk = sysclk / t.ahb_div;
    let pclk1 = hclk / t.apb1_div;
    let pclk2 = hclk / t.apb2_div;
    let usb = vco_out / t.pllq;
    if t.hse_hz % t.pllm != 0 || !(VCO_IN_MIN_HZ..=VCO_IN_MAX_HZ).contains(&vco_in) {
        e.push((
            "pllm",
            format!("VCO input HSE/M = {} must be a whole 1-2 MHz (RM0090 7.3.2)", mhz(t.hse_hz) + " / " + &t.pllm.to_string()),
            format!("set pllm = {} (1 MHz) or {} (2 MHz)", t.hse_hz / 1_000_000, t.hse_hz / 2_000_000),
        ));
    }
    if !(VCO_OUT_MIN_HZ..=VCO_OUT_MAX_HZ).contains(&vco_out) {
        e.push(("plln", format!("VCO output {} is outside 100-432 MHz (RM0090 7.3.2)", mhz(vco_out)), "change plln (VCO out = HSE / M x N)".into()));
    }
    if sysclk > SYSCLK_MAX_HZ {
        e.push(("pllp", format!("SYSCLK {} exceeds 168 MHz", mhz(sysclk)), "raise pllp or lower plln".into()));
    }
    if usb != USB_HZ || vco_out % t.pllq != 0 {
        e.push(("pllq", format!("USB clock VCO/Q = {} is not 48 MHz (RM0090 7.2: USB OTG FS, SDIO, RNG need 48 MHz)", mhz(usb)), format!("pick pllq and plln so that VCO out / Q = 48 MHz (VCO out now {})", mhz(vco_out))));
    }
    if pclk1 > PCLK1_MAX_HZ {
        e.push(("apb1-div", format!("PCLK1 {} exceeds 42 MHz", mhz(pclk1)), format!("set apb1-div to at least {}", hclk.div_ceil(PCLK1_MAX_HZ).next_power_of_two())));
    }
    if pclk2 > PCLK2_MAX_HZ {
        e.push(("apb2-div", format!("PCLK2 {} exceeds 84 MHz", mhz(pclk2)), format!("set apb2-div to at least {}", hclk.div_ceil(PCLK2_MAX_HZ).next_power_of_two())));
    }
    let flash_ws = flash_wait_states(hclk, t.vdd_mv);
    match flash_ws {
        None => e.push(("vdd-mv", format!("VDD {} mV is below 1.8 V (RM0090 table 10)", t.vdd_mv), "state the board's supply, e.g. 3000".into())),
        Some(ws) if ws > 7 => e.push((
            "vdd-mv",
            format!("HCLK {} needs {ws} flash wait states at {} mV; the flash has at most 7 (RM0090 table 10)", mhz(hclk), t.vdd_mv),
            "lower the clock or raise the supply".into(),
        )),
        _ => {}
    }
    for (pclk, bus) in [(pclk1, "PCLK1 (USART2-5)"), (pclk2, "PCLK2 (USART1, 6)")] {
        let err = baud_error_ppm(pclk, t.baud);
        if err >= u64::from(BAUD_ERROR_MAX_PPM) {
            e.push(("baud", format!("{} baud from {bus} {} is off by {:.2}% (limit 1%)", t.baud, mhz(pclk), err as f64 / 1e4), "pick another baud rate or APB divider".into()));
        }
    }
    if !e.is_empty() {
        return Err(e);
    }
    let timer = |pclk: u32, div: u32| if div == 1 { pclk } else { 2 * pclk };
    Ok(Clocks {
        tree: *t,
        vco_in_hz: vco_in,
        vco_out_hz: vco_out,
        sysclk_hz: sysclk,
        hclk_hz: hclk,
        pclk1_hz: pclk1,
        pclk2_hz: pclk2,
        apb1_timer_hz: timer(pclk1, t.apb1_div),
        apb2_timer_hz: timer(pclk2, t.apb2_div),
        usb_hz: usb,
        flash_ws: flash_ws.unwrap_or(0),
        cfgr_prescalers: hpre.unwrap_or(0) << 4 | ppre1.unwrap_or(0) << 10 | ppre2.unwrap_or(0) << 13,
    })
}

/// The generated kernel constants for `c` (`CLOCK_*`, read by kboot).
pub fn kernel_consts(c: &Clocks) -> String {
    let t = &c.tree;
    let mut s = String::from("// Clock tree (build/appcfg/src/clock.rs, checked against RM0090).\n");
    for (name, v) in [
        ("HSE_HZ", t.hse_hz),
        ("PLLM", t.pllm),
        ("PLLN", t.plln),
        ("PLLP", t.pllp),
        ("PLLQ", t.pllq),
        ("FLASH_WS", c.flash_ws),
        ("SYSCLK_HZ", c.sysclk_hz),
        ("PCLK1_HZ", c.pclk1_hz),
        ("PCLK2_HZ", c.pclk2_hz),
        ("APB1_TIMER_HZ", c.apb1_timer_hz),
        ("BAUD", t.baud),
    ] {
        s.push_str(&format!("pub const CLOCK_{name}: u32 = {v};\n"));
    }
    s.push_str(&format!("pub const CLOCK_CFGR_PRESCALERS: u32 = {:#x};\n", c.cfgr_prescalers));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const DISCOVERY: ClockTree = ClockTree {
        hse_hz: 8_000_000,
        pllm: 8,
        plln: 336,
        pllp: 2,
        pllq: 7,
        ahb_div: 1,
        apb1_div: 4,
        apb2_div: 2,
        vdd_mv: 3000,
        baud: 115_200,
    };

    fn keys(t: ClockTree) -> Vec<&'static str> {
        check(&t).unwrap_err().into_iter().map(|(k, _, _)| k).collect()
    }

    #[test]
    fn discovery_tree_is_rm0090s() {
        let c = check(&DISCOVERY).unwrap();
        assert_eq!((c.vco_in_hz, c.vco_out_hz, c.sysclk_hz), (1_000_000, 336_000_000, 168_000_000));
        assert_eq!((c.pclk1_hz, c.pclk2_hz, c.apb1_timer_hz, c.apb2_timer_hz), (42_000_000, 84_000_000, 84_000_000, 168_000_000));
        assert_eq!((c.usb_hz, c.flash_ws), (48_000_000, 5));
        // HPRE /1, PPRE1 /4 (101), PPRE2 /2 (100).
        assert_eq!(c.cfgr_prescalers, 0b101 << 10 | 0b100 << 13);
    }

    #[test]
    fn wait_states_follow_table_10() {
        assert_eq!(flash_wait_states(30_000_000, 3300), Some(0));
        assert_eq!(flash_wait_states(30_000_001, 3300), Some(1));
        assert_eq!(flash_wait_states(168_000_000, 3300), Some(5));
        assert_eq!(flash_wait_states(168_000_000, 2500), Some(6));
        assert_eq!(flash_wait_states(168_000_000, 2200), Some(7));
        assert_eq!(flash_wait_states(16_000_000, 1700), None);
    }

    #[test]
    fn baud_error_is_measured() {
        // 42 MHz / 115200 = 364.58 -> BRR 365: 0.11% off.
        assert_eq!(baud_error_ppm(42_000_000, 115_200), 1141);
        // 16 MHz: BRR 139, 0.08% off.
        assert!(baud_error_ppm(16_000_000, 115_200) < 1000);
        // 1 MHz at 115200: BRR 9, 3.5% off.
        assert!(baud_error_ppm(1_000_000, 115_200) > 10_000);
    }

    #[test]
    fn each_limit_is_enforced() {
        // VCO input 2 MHz is fine (M 4): VCO 672 MHz is not.
        assert!(keys(ClockTree { pllm: 4, ..DISCOVERY }).contains(&"plln"));
        // VCO input 0.5 MHz.
        assert!(keys(ClockTree { pllm: 16, plln: 336, ..DISCOVERY }).contains(&"pllm"));
        // VCO output 440 MHz.
        assert!(keys(ClockTree { plln: 440, ..DISCOVERY }).contains(&"plln"));
        // SYSCLK 180 MHz (VCO 360, Q 7.5 -> not 48 either).
        let k = keys(ClockTree { plln: 360, ..DISCOVERY });
        assert!(k.contains(&"pllp") && k.contains(&"pllq"));
        // USB 42 MHz.
        assert_eq!(keys(ClockTree { pllq: 8, ..DISCOVERY }), ["pllq"]);
        // PCLK1 84 MHz, PCLK2 168 MHz.
        assert_eq!(keys(ClockTree { apb1_div: 2, apb2_div: 1, ..DISCOVERY }), ["apb1-div", "apb2-div"]);
        // 1.7 V.
        assert_eq!(keys(ClockTree { vdd_mv: 1700, ..DISCOVERY }), ["vdd-mv"]);
        // A baud rate the APB clocks cannot make within 1%.
        assert_eq!(keys(ClockTree { baud: 2_500_000, ..DISCOVERY }), ["baud", "baud"]);
        // Dividers that do not exist.
        assert_eq!(keys(ClockTree { ahb_div: 32, ..DISCOVERY }), ["ahb-div"]);
        assert_eq!(keys(ClockTree { pllp: 3, ..DISCOVERY }), ["pllp"]);
    }

    #[test]
    fn errors_name_file_key_and_fix() {
        let text = "[clock]\nhse-hz = 8000000\npllm = 8\nplln = 336\npllp = 2\npllq = 8\nahb-div = 1\napb1-div = 4\napb2-div = 2\nvdd-mv = 3000\nbaud = 115200\n";
        let e = parse(Path::new("build/chips/boards/x.toml"), text).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].key, "clock.pllq");
        assert_eq!(e[0].file, Path::new("build/chips/boards/x.toml"));
        assert!(e[0].message.contains("42 MHz") && e[0].help.contains("48 MHz"), "{e:?}");
        let e = parse(Path::new("b.toml"), "[clock]\nhse = 8\n").unwrap_err();
        assert!(e.iter().any(|d| d.key == "clock.hse" && d.message.contains("unknown")));
        assert!(e.iter().any(|d| d.key == "clock.hse-hz"));
    }
}

/// The task `config` key that carries the timer clock to tasks.
pub const TIMER_CLOCK_KEY: &str = "timer-clock-hz";

/// Makes every task's `timer-clock-hz` the board's APB1 timer clock: a
/// task that leaves it out gets it, a task that states another value is an
/// error naming the app file, the key and the value to use. Only tasks that
/// `use` an APB1 timer (TIM2-TIM7, TIM12-TIM14) receive it.
pub fn apply_to_app(app: &mut crate::App, clocks: &Clocks) -> Result<(), Vec<Diagnostic>> {
    let want = clocks.apb1_timer_hz;
    let mut errors = Vec::new();
    for task in &mut app.tasks {
        let apb1_timer = task.uses.iter().any(|u| {
            matches!(u.as_str(), "tim2" | "tim3" | "tim4" | "tim5" | "tim6" | "tim7" | "tim12" | "tim13" | "tim14")
        });
        match task.config.get(TIMER_CLOCK_KEY) {
            Some(v) if v.as_integer() != Some(i64::from(want)) => {
                let key = format!("tasks.{}.config.{TIMER_CLOCK_KEY}", task.name);
                errors.push(Diagnostic {
                    file: app.path.clone(),
                    line: app.source.lines().position(|l| l.contains(TIMER_CLOCK_KEY)).map(|i| i + 1),
                    key,
                    message: format!(
                        "{TIMER_CLOCK_KEY} = {v} is not the board's APB1 timer clock, {want} Hz (board {}: PCLK1 {} Hz x{})",
                        app.board,
                        clocks.pclk1_hz,
                        if clocks.tree.apb1_div == 1 { 1 } else { 2 }
                    ),
                    help: format!("remove `{TIMER_CLOCK_KEY}` (it comes from the board's clock tree) or set it to {want}"),
                });
            }
            None if apb1_timer => {
                task.config.insert(TIMER_CLOCK_KEY.into(), toml::Value::Integer(i64::from(want)));
            }
            _ => {}
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
