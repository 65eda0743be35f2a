//! The Echo server: a deliberately simple IDL server for the QEMU system
//! tests (`idl/echo.idol`).
//!
//! Each op exercises one path of the IPC substrate and the generated code:
//! a plain round trip (`echo`), a read lease (`sum`), a write lease
//! (`fill`), a bool on the wire (`negate`), an error reply (`divide`), and
//! a server that faults mid-call (`crash`), whose caller must get a dead
//! code and whose restarted incarnation must serve the next call.
//! Malformed messages are refused by the generated dispatch; only `crash`
//! can stop this task.

#![no_std]
#![no_main]

use core::convert::Infallible;

use echo_api::EchoError;
use idol_runtime::{Leased, RequestError, R, W};
use ringbuf::{ringbuf, ringbuf_entry};
use userlib::RecvMessage;

include!(concat!(env!("OUT_DIR"), "/task_config.rs"));

mod idl {
    use echo_api::EchoError;
    include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));
}

#[derive(Copy, Clone, PartialEq)]
enum Trace {
    None,
    Echo(u32),
    Sum { len: u16, total: u32 },
    Fill { len: u16, value: u8 },
    DivideByZero,
    /// About to fault on purpose for task index `.0`.
    Crash(u16),
    /// A lease became unreadable mid-call: its lender is gone.
    LenderGone,
}

ringbuf!(Trace, 16, Trace::None);

/// Bytes moved per `sys_borrow_*` call: leases are copied through a small
/// stack buffer rather than one as large as the biggest lease.
const CHUNK: usize = 64;

struct EchoServer;

impl idl::InOrderEchoImpl for EchoServer {
    fn echo(&mut self, _msg: &RecvMessage, value: u32) -> Result<u32, RequestError<EchoError>> {
        ringbuf_entry!(Trace::Echo(value));
        Ok(value)
    }

    fn sum(&mut self, _msg: &RecvMessage, data: Leased<R, [u8]>) -> Result<u32, RequestError<Infallible>> {
        let mut chunk = [0u8; CHUNK];
        let mut offset = 0;
        let mut total: u32 = 0;
        while offset < data.len() {
            let n = data.read_at(offset, &mut chunk).inspect_err(|_| ringbuf_entry!(Trace::LenderGone))?;
            if n == 0 {
                break;
            }
            total = chunk[..n].iter().fold(total, |acc, &b| acc.wrapping_add(u32::from(b)));
            offset += n;
        }
        ringbuf_entry!(Trace::Sum { len: offset as u16, total });
        Ok(total)
    }

    fn fill(&mut self, _msg: &RecvMessage, value: u8, out: Leased<W, [u8]>) -> Result<u32, RequestError<Infallible>> {
        let chunk = [value; CHUNK];
        let mut offset = 0;
        while offset < out.len() {
            let n = out.write_at(offset, &chunk).inspect_err(|_| ringbuf_entry!(Trace::LenderGone))?;
            if n == 0 {
                break;
            }
            offset += n;
        }
        ringbuf_entry!(Trace::Fill { len: offset as u16, value });
        Ok(offset as u32)
    }

    fn negate(&mut self, _msg: &RecvMessage, flag: bool) -> Result<bool, RequestError<Infallible>> {
        Ok(!flag)
    }

    fn divide(&mut self, _msg: &RecvMessage, dividend: u32, divisor: u32) -> Result<u32, RequestError<EchoError>> {
        dividend.checked_div(divisor).ok_or_else(|| {
            ringbuf_entry!(Trace::DivideByZero);
            EchoError::DivideByZero.into()
        })
    }

    fn crash(&mut self, msg: &RecvMessage) -> Result<(), RequestError<EchoError>> {
        ringbuf_entry!(Trace::Crash(msg.sender.index() as u16));
        fault_on_purpose()
    }
}

/// Stores to address 0, which no task's MPU regions cover: a MemManage
/// fault. The kernel stops this task without a reply, the pending caller
/// gets a dead code, and the supervisor restarts us.
fn fault_on_purpose() -> ! {
    // Safety: the store is meant to fault, and does before it could change
    // any memory (no task may write address 0). It is written in assembly
    // because a null store in Rust would be undefined behaviour, which the
    // compiler could remove. `udf` backs it up should the store ever be
    // allowed, so the task faults either way and never returns.
    unsafe {
        core::arch::asm!(
            "str {zero}, [{zero}]",
            "udf #0",
            zero = in(reg) 0u32,
            options(noreturn, nostack),
        )
    }
}

#[export_name = "main"]
fn main() -> ! {
    let mut server = EchoServer;
    let mut buffer = [0u8; idl::ECHO_MSG_SIZE];
    let mut held = idl::Held::new();
    loop {
        idl::dispatch(&mut buffer, &mut held, &mut server);
    }
}
