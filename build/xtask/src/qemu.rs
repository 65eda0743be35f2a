//! Booting images in QEMU (`-M netduinoplus2`, an STM32F405).
//!
//! Interactive runs put the console on the terminal (Ctrl-A X quits).
//! Captured runs, used by the system tests, run under
//! `-icount shift=0,sleep=off` so that one instruction is one virtual
//! nanosecond and the output is identical run after run; they end when the
//! image exits through semihosting, or at a wall-clock limit.

use crate::dist::Image;
use crate::setup::QEMU;
use anyhow::{bail, Context, Result};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The QEMU machine every Escapement image for QEMU targets.
pub const MACHINE: &str = "netduinoplus2";

/// The board QEMU stands in for without modelling it: the STM32F4-Discovery
/// (an F407; netduinoplus2 is an F405 with the same memory map and
/// peripherals at the same addresses). Its image runs there as a smoke
/// test: QEMU has no RCC, so start-up takes the HSI fall-back, and the
/// console is USART2, QEMU's second serial port.
pub const SMOKE_BOARD: &str = "stm32f4-discovery";

/// `-serial` options putting the image's console USART on `console`:
/// netduinoplus2 maps USART1..6 to serial ports 0..5 in order.
fn serial_args(image: &Image, console: &'static str) -> Vec<&'static str> {
    if image.board == SMOKE_BOARD {
        vec!["-serial", "null", "-serial", console]
    } else {
        vec!["-serial", console]
    }
}

fn base_command(image: &Image, icount: bool) -> Result<Command> {
    if image.board != MACHINE && image.board != SMOKE_BOARD {
        bail!(
            "image `{}` is for board {}, which QEMU does not model\n  help: run an app with board = \"{MACHINE}\", or flash this one to the board",
            image.name,
            image.board
        );
    }
    let mut cmd = Command::new(QEMU);
    cmd.args(["-M", MACHINE, "-semihosting-config", "enable=on,target=native", "-kernel"]).arg(&image.final_elf);
    if icount {
        cmd.args(["-icount", "shift=0,sleep=off"]);
    }
    Ok(cmd)
}

/// Runs the image with the console on this terminal until QEMU exits,
/// with a gdbstub on 127.0.0.1:`gdb` if asked (loopback only).
pub fn run_interactive(image: &Image, icount: bool, gdb: Option<u16>) -> Result<()> {
    let mut cmd = base_command(image, icount)?;
    cmd.args(["-display", "none", "-monitor", "none"]).args(serial_args(image, "mon:stdio"));
    if let Some(port) = gdb {
        cmd.arg("-gdb").arg(format!("tcp:127.0.0.1:{port}"));
    }
    let status = cmd.status().context("starting qemu-system-arm")?;
    match status.code() {
        Some(0) | None => Ok(()),
        Some(c) => bail!("QEMU exited with status {c}"),
    }
}

/// The result of a captured run.
pub struct Captured {
    /// QEMU's exit status (the semihosting exit status); `None` if the run
    /// was stopped at the time limit.
    pub status: Option<i32>,
    /// Everything the image wrote to its console.
    pub console: String,
}

/// When a captured run ends.
pub enum Until<'a> {
    /// When the image exits through semihosting.
    Exit,
    /// As soon as the console satisfies this check (for images that run
    /// forever, like the demo); QEMU is then stopped.
    Console(&'a dyn Fn(&str) -> bool),
}

/// Runs the image under icount, capturing the console, until `until` or
/// at most `limit` of wall-clock time.
pub fn run_captured(image: &Image, until: Until<'_>, limit: Duration) -> Result<Captured> {
    let mut cmd = base_command(image, true)?;
    cmd.args(["-display", "none", "-monitor", "none"])
        .args(serial_args(image, "stdio"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().context("starting qemu-system-arm")?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    let mut bytes = Vec::new();
    let status = loop {
        while let Ok(chunk) = rx.try_recv() {
            bytes.extend_from_slice(&chunk);
        }
        if let Until::Console(done) = &until {
            if done(&String::from_utf8_lossy(&bytes).replace("\r\n", "\n")) {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
        if let Some(s) = child.try_wait()? {
            break s.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = reader.join();
    while let Ok(chunk) = rx.try_recv() {
        bytes.extend_from_slice(&chunk);
    }
    Ok(Captured { status, console: String::from_utf8_lossy(&bytes).replace("\r\n", "\n") })
}
