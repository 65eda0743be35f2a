//! A GDB remote-serial-protocol client for QEMU's gdbstub
//! (`qemu-system-arm -gdb tcp:127.0.0.1:PORT`).
//!
//! Why: QEMU answers memory reads only while the guest CPU is stopped, and
//! the protocol is small enough that a direct client is simpler and faster
//! than driving a GDB process. We use: `?` (why stopped), `\x03` (interrupt),
//! `Qqemu.PhyMemMode:1` (read physical memory, not through the
//! MPU of the current task), `m addr,len` (read memory), `p n` (read a register), `Z0`/`z0`
//! (breakpoints, for the tests' fixed stopping points), `c` (continue).
//!
//! Guarantees: the guest is halted before the first read (QEMU stops it when
//! a client connects; we confirm with `?`, or interrupt it if it runs), and
//! it is resumed with `c` when the [`GdbTarget`] is dropped, unless
//! [`GdbTarget::keep_halted`] was asked for. Every packet is checksummed and
//! acknowledged; a timeout or a refused read is an error naming what was
//! asked.

use super::Target;
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Largest memory read per `m` packet (QEMU's packet buffer is larger).
const CHUNK: usize = 1024;

/// A connection to a gdbstub.
pub struct GdbTarget {
    stream: TcpStream,
    addr: SocketAddr,
    running: bool,
    resume_on_drop: bool,
    pending: Vec<u8>,
}

impl GdbTarget {
    /// Connects to `127.0.0.1:port` and makes sure the guest is halted.
    pub fn connect(port: u16) -> Result<GdbTarget> {
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).with_context(|| {
            format!(
                "no gdbstub at {addr}: is QEMU running with it?\n  help: start one with `cargo xtask run --gdb` (port 3333), \
                 pass its port with --gdb PORT, or inspect a dump with -d FILE"
            )
        })?;
        stream.set_nodelay(true)?;
        let mut t = GdbTarget { stream, addr, running: false, resume_on_drop: true, pending: Vec::new() };
        t.halt()?;
        // QEMU translates debugger reads through the MPU of whatever the CPU
        // runs (an unprivileged task sees neither the kernel nor other
        // tasks); physical-memory mode reads the bus as it is.
        let r = t.command("Qqemu.PhyMemMode:1")?;
        if r != "OK" {
            bail!("gdbstub {addr} does not offer physical memory reads (Qqemu.PhyMemMode answered {r:?}); is it QEMU?");
        }
        Ok(t)
    }

    /// Stops the guest if it runs; returns the stop reply.
    pub fn halt(&mut self) -> Result<String> {
        // QEMU stops the guest when a client connects and may announce it
        // with an unsolicited stop reply; if the guest runs, the interrupt
        // byte stops it (and QEMU answers with a stop reply). Either way,
        // `?` then reports the stop reason of a halted guest, and stray
        // stop replies are skipped by `command`.
        self.stream.write_all(&[0x03])?;
        let _ = self.recv(Duration::from_millis(300));
        self.running = false;
        self.send(b"?")?;
        self.recv(Duration::from_secs(5)).context("the guest did not report a stop reason (`?`)")
    }

    /// Leaves the guest halted when this target is dropped (for tests that
    /// dump and then stop QEMU).
    pub fn keep_halted(&mut self) {
        self.resume_on_drop = false;
    }

    /// Sets a software breakpoint on the Thumb instruction at `addr`.
    pub fn set_breakpoint(&mut self, addr: u32) -> Result<()> {
        let r = self.command(&format!("Z0,{:x},2", addr & !1))?;
        if r != "OK" {
            bail!("gdbstub refused a breakpoint at {addr:#010x}: {r:?}");
        }
        Ok(())
    }

    /// Removes the breakpoint at `addr`.
    pub fn clear_breakpoint(&mut self, addr: u32) -> Result<()> {
        let r = self.command(&format!("z0,{:x},2", addr & !1))?;
        if r != "OK" {
            bail!("gdbstub refused to remove the breakpoint at {addr:#010x}: {r:?}");
        }
        Ok(())
    }

    /// Continues the guest and waits until it stops (a breakpoint), for at
    /// most `limit` of wall-clock time. Returns the stop reply.
    pub fn continue_until_stop(&mut self, limit: Duration) -> Result<String> {
        self.send(b"c")?;
        self.running = true;
        let r = self.recv(limit).with_context(|| format!("the guest did not stop within {limit:?}"))?;
        self.running = false;
        Ok(r)
    }

    fn command(&mut self, cmd: &str) -> Result<String> {
        self.send(cmd.as_bytes())?;
        loop {
            let r = self.recv(Duration::from_secs(10)).with_context(|| format!("no answer to gdb packet {cmd:?} from {}", self.addr))?;
            // A late stop reply (T.., S..) is never the answer to a command.
            if !(r.starts_with('T') || r.starts_with('S')) {
                return Ok(r);
            }
        }
    }

    fn send(&mut self, data: &[u8]) -> Result<()> {
        let sum = data.iter().fold(0u8, |a, b| a.wrapping_add(*b));
        let mut pkt = Vec::with_capacity(data.len() + 4);
        pkt.push(b'$');
        pkt.extend_from_slice(data);
        pkt.extend_from_slice(format!("#{sum:02x}").as_bytes());
        for _ in 0..3 {
            self.stream.write_all(&pkt).with_context(|| format!("writing to gdbstub {}", self.addr))?;
            match self.byte(Duration::from_secs(5))? {
                b'+' => return Ok(()),
                b'-' => continue,
                other => {
                    // Stray data before the ack (e.g. a stop reply): keep it.
                    self.pending.insert(0, other);
                    return Ok(());
                }
            }
        }
        bail!("gdbstub {} rejected packet {:?} three times", self.addr, String::from_utf8_lossy(data))
    }

    fn byte(&mut self, limit: Duration) -> Result<u8> {
        if !self.pending.is_empty() {
            return Ok(self.pending.remove(0));
        }
        self.stream.set_read_timeout(Some(limit.max(Duration::from_millis(1))))?;
        let mut b = [0u8; 1];
        match self.stream.read(&mut b) {
            Ok(1) => Ok(b[0]),
            Ok(_) => bail!("gdbstub {} closed the connection", self.addr),
            Err(e) => Err(e).with_context(|| format!("reading from gdbstub {}", self.addr)),
        }
    }

    /// Receives one packet (acknowledging it), skipping stray acks.
    fn recv(&mut self, limit: Duration) -> Result<String> {
        let deadline = Instant::now() + limit;
        let left = |d: Instant| d.saturating_duration_since(Instant::now());
        loop {
            let b = self.byte(left(deadline))?;
            if b == b'$' {
                break;
            }
            if Instant::now() > deadline {
                bail!("timed out waiting for a packet");
            }
        }
        let mut body = Vec::new();
        loop {
            let b = self.byte(left(deadline).max(Duration::from_secs(1)))?;
            if b == b'#' {
                break;
            }
            body.push(b);
        }
        let c1 = self.byte(Duration::from_secs(1))?;
        let c2 = self.byte(Duration::from_secs(1))?;
        let want = u8::from_str_radix(&String::from_utf8_lossy(&[c1, c2]), 16).unwrap_or(0);
        let sum = body.iter().fold(0u8, |a, b| a.wrapping_add(*b));
        if want != sum {
            self.stream.write_all(b"-")?;
            bail!("bad checksum from gdbstub {}", self.addr);
        }
        self.stream.write_all(b"+")?;
        Ok(expand_rle(&body))
    }
}

/// Undoes the protocol's run-length encoding (`c*n` repeats `c` n-29 times).
fn expand_rle(body: &[u8]) -> String {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'*' && i + 1 < body.len() && !out.is_empty() {
            let n = body[i + 1].saturating_sub(29);
            let last = *out.last().unwrap();
            out.extend(std::iter::repeat_n(last, n as usize));
            i += 2;
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes a hex string into bytes.
fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

impl Target for GdbTarget {
    fn describe(&self) -> String {
        format!("QEMU gdbstub {}", self.addr)
    }

    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<()> {
        let mut done = 0;
        while done < buf.len() {
            let n = (buf.len() - done).min(CHUNK);
            let a = addr + done as u64;
            let r = self.command(&format!("m{a:x},{n:x}"))?;
            let bytes = unhex(&r).filter(|b| b.len() == n).with_context(|| {
                format!("gdbstub {} refused to read {a:#010x}..{:#010x}: {r:?} (memory not mapped?)", self.addr, a + n as u64)
            })?;
            buf[done..done + n].copy_from_slice(&bytes);
            done += n;
        }
        Ok(())
    }

    fn registers(&mut self) -> Result<Vec<(u32, u32)>> {
        /// Where the STM32's vector table (initial MSP first) is at reset.
        const FLASH_VECTOR_TABLE: u64 = 0x0800_0000;
        // `g` without an XML target description uses GDB's classic ARM
        // layout: r0-r15 (4 bytes each), f0-f7 (12 bytes each), fps (4),
        // then cpsr, which QEMU fills with xPSR on M-profile cores.
        let r = self.command("g")?;
        let b = unhex(&r).filter(|b| b.len() >= 168).with_context(|| format!("gdbstub {} answered `g` with {r:?}", self.addr))?;
        let word = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
        let mut out: Vec<(u32, u32)> = (0..16).map(|i| (i, word(i as usize * 4))).collect();
        let xpsr = word(164);
        out.push((16, xpsr));
        // MSP (17) and PSP (18), which humility wants for the running task,
        // are not in `g`'s classic layout (QEMU serves them only through
        // its XML description). They follow from the mode: in thread mode
        // (IPSR 0) the CPU runs a task on the process stack, so PSP is SP,
        // and no exception is active, so the main stack is empty: MSP is
        // its initial value, word 0 of the vector table at the start of
        // flash. In handler mode SP is MSP, and PSP is not known here.
        // SPR (20: CONTROL, FAULTMASK, BASEPRI, PRIMASK from the top byte
        // down) likewise: a task runs with CONTROL = nPRIV | SPSEL | FPCA
        // (every task has FP state from its start), and the kernel masks
        // nothing.
        let sp = word(13 * 4);
        if xpsr & 0x1FF == 0 {
            let mut v = [0u8; 4];
            self.read(FLASH_VECTOR_TABLE, &mut v)?;
            out.push((17, u32::from_le_bytes(v)));
            out.push((18, sp));
            out.push((20, 0b111 << 24));
        } else {
            out.push((17, sp));
        }
        Ok(out)
    }

    fn resume(&mut self) -> Result<()> {
        if !self.running {
            self.send(b"c")?;
            self.running = true;
        }
        Ok(())
    }
}

impl Drop for GdbTarget {
    fn drop(&mut self) {
        if self.resume_on_drop {
            let _ = self.resume();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rle_and_hex() {
        assert_eq!(expand_rle(b"0* "), "0000");
        assert_eq!(expand_rle(b"ab"), "ab");
        assert_eq!(unhex("00ff10"), Some(vec![0, 0xff, 0x10]));
        assert_eq!(unhex("E14"), None);
        assert_eq!(unhex("zz"), None);
    }

    /// A fake gdbstub on loopback answering the packets a read needs.
    #[test]
    fn reads_memory_from_a_stub() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 256];
            let reply = |s: &mut TcpStream, body: &str| {
                let sum = body.bytes().fold(0u8, |a, b| a.wrapping_add(b));
                s.write_all(format!("+${body}#{sum:02x}").as_bytes()).unwrap();
            };
            let mut answered = 0;
            while answered < 3 {
                let n = s.read(&mut buf).unwrap();
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                if text.contains("$Qqemu.PhyMemMode:1#") {
                    reply(&mut s, "OK");
                } else if text.contains("$?#") {
                    reply(&mut s, "T05thread:01;");
                    answered += 1;
                } else if text.contains("$m20000000,4#") {
                    reply(&mut s, "efbeadde");
                    answered += 1;
                } else if text.contains("$m20000004,4#") {
                    reply(&mut s, "E14");
                    answered += 1;
                }
            }
            // Wait for the resume on drop.
            let _ = s.read(&mut buf);
        });
        let mut t = GdbTarget::connect(port).unwrap();
        assert_eq!(crate::target::read_u32(&mut t, 0x2000_0000).unwrap(), 0xdead_beef);
        let e = crate::target::read_u32(&mut t, 0x2000_0004).unwrap_err();
        assert!(e.to_string().contains("refused to read 0x20000004"), "{e}");
        drop(t);
        server.join().unwrap();
    }
}
