//! The victim: a 1 KiB pattern in its RAM that no other task may change,
//! served to the runner (how many bytes changed) and to the attackers
//! (where it is, so they can aim at it).

use super::*;

static mut PATTERN: [u8; PATTERN_LEN] = [0; PATTERN_LEN];

pub fn run() -> ! {
    let p = &raw mut PATTERN;
    for i in 0..PATTERN_LEN {
        // Safety: our own static, written before anyone knows its address.
        unsafe { core::ptr::write_volatile((p as *mut u8).add(i), pattern(i)) };
    }
    let mut buf = [0u8; 8];
    loop {
        let msg = sys_recv_open(&mut buf, 0);
        if msg.is_notification() {
            continue;
        }
        match msg.operation as u16 {
            OP_WHERE => {
                let mut r = [0u8; 8];
                r[..4].copy_from_slice(&(p as u32).to_le_bytes());
                r[4..].copy_from_slice(&(PATTERN_LEN as u32).to_le_bytes());
                sys_reply(msg.sender, 0, &r);
            }
            OP_CHECK => {
                let changed = (0..PATTERN_LEN)
                    // Safety: our own static; volatile so every byte is read
                    // from memory as it is now.
                    .filter(|&i| unsafe { core::ptr::read_volatile((p as *const u8).add(i)) } != pattern(i))
                    .count() as u32;
                sys_reply(msg.sender, 0, &changed.to_le_bytes());
            }
            _ => sys_reply_fault(msg.sender, ReplyFaultReason::UndefinedOperation),
        }
    }
}
