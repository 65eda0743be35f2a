//! Kernel IPC: the services a task reaches by `send` to `TaskId::KERNEL`.
//!
//! The call completes synchronously inside the `send` syscall: the caller
//! never blocks. Malformed requests (unknown op, wrong argument size, too
//! small a reply buffer, a supervisor-only op from another task) are
//! misuse and fault the caller. See `abi::KernelOp` for the wire format.

use crate::err::Misuse;
use crate::task::{FaultInfo, SchedState, TaskState};
use crate::{arch, Kernel, SUPERVISOR};
use abi::{state_code, KernelOp, TaskStatus, UsageError, KERNEL_OK};
use zerocopy::IntoBytes;

fn bad() -> Misuse {
    Misuse(UsageError::BadKernelMessage)
}

/// Reads the `n`th little-endian u32 argument of the caller's message.
fn arg(k: &Kernel, caller: usize, n: u32) -> Result<u32, Misuse> {
    let message = k.tasks[caller].save.send_args().message;
    if message.len < (n + 1) * 4 {
        return Err(bad());
    }
    let mut b = [0u8; 4];
    // Safety: the message was checked readable by the caller in
    // `sys_send`, and `4n + 4 <= message.len`.
    unsafe { arch::copy_from_user(message.base + 4 * n, &mut b) };
    Ok(u32::from_le_bytes(b))
}

/// Writes `data` as the reply and completes the caller's send with OK.
fn reply(k: &mut Kernel, caller: usize, data: &[u8]) -> Result<(), Misuse> {
    let s = &mut k.tasks[caller].save;
    let buffer = s.send_args().reply;
    if (data.len() as u32) > buffer.len {
        return Err(bad());
    }
    // Safety: the reply buffer was checked writable by the caller in
    // `sys_send`, and `data.len() <= buffer.len`.
    unsafe { arch::copy_to_user(data, buffer.base) };
    s.set_send_result(KERNEL_OK, data.len() as u32);
    Ok(())
}

fn supervisor_only(caller: usize) -> Result<(), Misuse> {
    if caller == SUPERVISOR { Ok(()) } else { Err(bad()) }
}

/// Carries out kernel-IPC operation `op` for `caller`.
pub(crate) fn handle(k: &mut Kernel, caller: usize, op: u16) -> Result<(), Misuse> {
    match KernelOp::from_u16(op).ok_or_else(bad)? {
        KernelOp::ReadTaskStatus => {
            let i = arg(k, caller, 0)? as usize;
            let t = k.tasks.get(i).ok_or_else(bad)?;
            let status = task_status(t);
            reply(k, caller, status.as_bytes())
        }
        KernelOp::FindFaultedTask => {
            supervisor_only(caller)?;
            let start = arg(k, caller, 0)? as usize;
            let found = k
                .tasks
                .iter()
                .enumerate()
                .skip(start)
                .find(|(_, t)| matches!(*t.state(), TaskState::Faulted { .. }))
                .map_or(u32::MAX, |(i, _)| i as u32);
            reply(k, caller, &found.to_le_bytes())
        }
        KernelOp::RestartTask => {
            supervisor_only(caller)?;
            let i = arg(k, caller, 0)? as usize;
            let start = arg(k, caller, 1)? != 0;
            if i >= k.tasks.len() || i == SUPERVISOR {
                return Err(bad());
            }
            reply(k, caller, &[])?;
            k.restart_task(i, start);
            Ok(())
        }
        KernelOp::ReadLog => {
            if k.log_reader.map(|r| r.task) != Some(caller) {
                return Err(bad());
            }
            let room = k.tasks[caller].save.send_args().reply.len as usize;
            let mut chunk = [0u8; 128];
            // Safety: kernel code; the reference ends here.
            let n = unsafe { crate::klog::log() }.read(&mut chunk[..room.min(128)]);
            reply(k, caller, &chunk[..n])
        }
        KernelOp::ReadImageId => {
            let id = k.image_id;
            reply(k, caller, &id.to_le_bytes())
        }
        KernelOp::SemihostExit => {
            let status = arg(k, caller, 0)?;
            if cfg!(feature = "semihosting") {
                crate::klog!(k, "kern: exit({}) requested by task #{} {}", status, caller, k.name(caller));
                k.flush_log();
                arch::semihost_exit(status)
            } else {
                Err(bad())
            }
        }
    }
}

/// Builds the status record the supervisor (and anyone) may read.
fn task_status(t: &crate::task::Task) -> TaskStatus {
    let peer_of = |s: SchedState| match s {
        SchedState::InSend(p) | SchedState::InReply(p) | SchedState::InRecv(Some(p)) => p.index() as u16,
        _ => 0xFFFF,
    };
    let code_of = |s: SchedState| match s {
        SchedState::Stopped => state_code::STOPPED,
        SchedState::Runnable => state_code::RUNNABLE,
        SchedState::InSend(_) => state_code::IN_SEND,
        SchedState::InReply(_) => state_code::IN_REPLY,
        SchedState::InRecv(_) => state_code::IN_RECV,
    };
    let mut st = TaskStatus {
        generation: t.generation.get(),
        pending: t.notifications,
        ..TaskStatus::default()
    };
    match *t.state() {
        TaskState::Healthy(s) => {
            st.state = code_of(s);
            st.peer = peer_of(s);
        }
        TaskState::Faulted { fault, original_state } => {
            st.state = state_code::FAULTED;
            st.peer = peer_of(original_state);
            st.fault_kind = fault.kind() as u8;
            match fault {
                FaultInfo::MemoryAccess { address, .. } | FaultInfo::BusError { address, .. } => {
                    st.fault_address = address.unwrap_or(0)
                }
                FaultInfo::StackOverflow { address } => st.fault_address = address,
                FaultInfo::SyscallUsage(e) => st.fault_detail = e as u8,
                FaultInfo::FromServer(_, reason) => st.fault_detail = reason as u8,
                _ => {}
            }
        }
    }
    st
}
