//! Demo task: prints its configured greeting, then a line on every TIM3
//! update interrupt, which the kernel routes to it as the `tick`
//! notification (app.toml `interrupts`).
//!
//! It shows the whole substrate path a driver uses: a peripheral of its own
//! (`uses`), an IRQ as a notification, `irq_control` to re-arm, and IPC to
//! the console server.

#![no_std]
#![no_main]

use drv_console_api::{console_writeln, Console};
use userlib::{sys_irq_control, sys_recv_notification};

include!(concat!(env!("OUT_DIR"), "/task_config.rs"));

const CR1: u32 = 0x00;
const DIER: u32 = 0x0C;
const SR: u32 = 0x10;
const CNT: u32 = 0x24;
const PSC: u32 = 0x28;
const ARR: u32 = 0x2C;

fn tim3(off: u32, v: u32) {
    // Safety: TIM3 is in this task's `uses`; the MPU maps it for us alone.
    unsafe { core::ptr::write_volatile((peripherals::TIM3_BASE + off) as *mut u32, v) }
}

#[export_name = "main"]
fn main() -> ! {
    let console = Console::from(slots::CONSOLE);
    console_writeln!(console, "hello: {}", config::GREETING);
    // Update event every (PSC+1)*(ARR) timer clocks; both from app.toml so
    // each board can pick values for its timer clock.
    tim3(PSC, config::PSC);
    tim3(DIER, 1);
    tim3(CR1, 1);
    tim3(CNT, 0);
    tim3(ARR, config::ARR);
    sys_irq_control(notifications::TICK_MASK, true);
    let mut n: u32 = 0;
    loop {
        sys_recv_notification(notifications::TICK_MASK);
        tim3(SR, 0);
        sys_irq_control(notifications::TICK_MASK, true);
        n += 1;
        console_writeln!(console, "hello: tick {}", n);
    }
}
