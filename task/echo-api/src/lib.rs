//! Client API of the Echo test server (`task/echo-server`).
//!
//! The `Echo` client and `EchoOperation` come from `idl/echo.idol`; this
//! crate adds the error enum the IDL names. The server exists for the QEMU
//! system tests: every IDL feature (args, read and write leases, bools,
//! error replies, a server that dies mid-call) has an op here.

#![no_std]

/// Errors of the Echo interface. Discriminants are the response codes:
/// non-zero, and fixed once published.
#[derive(Copy, Clone, Debug, Eq, PartialEq, num_derive::FromPrimitive)]
#[repr(u32)]
pub enum EchoError {
    /// The server restarted while serving a non-idempotent call (or
    /// answered with a code this enum does not have).
    ServerDied = 1,
    /// `divide` by zero.
    DivideByZero = 2,
}

impl idol_runtime::ServerDeath for EchoError {
    fn server_died() -> Self {
        Self::ServerDied
    }
}

include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_valid_response_codes() {
        for e in [EchoError::ServerDied, EchoError::DivideByZero] {
            assert!(idol_runtime::is_valid_error_code(e as u32), "{e:?}");
            assert_eq!(idol_runtime::decode_error::<EchoError>(e as u32), e);
        }
    }

    #[test]
    fn unknown_codes_decode_as_server_death() {
        assert_eq!(idol_runtime::decode_error::<EchoError>(3), EchoError::ServerDied);
        assert_eq!(idol_runtime::decode_error::<EchoError>(0xFFFF), EchoError::ServerDied);
    }

    #[test]
    fn ops_are_numbered_in_declaration_order() {
        assert_eq!(EchoOperation::Echo as u16, 1);
        assert_eq!(EchoOperation::Crash as u16, 6);
    }

    #[test]
    fn messages_are_packed() {
        assert_eq!(core::mem::size_of::<Echo_divide_ARGS>(), 8);
        assert_eq!(core::mem::size_of::<Echo_fill_ARGS>(), 1);
        let args = Echo_divide_ARGS { dividend: 0x0102_0304, divisor: 5 };
        assert_eq!(zerocopy::IntoBytes::as_bytes(&args), &[4, 3, 2, 1, 5, 0, 0, 0]);
    }
}
