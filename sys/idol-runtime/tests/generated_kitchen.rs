//! Compiles the golden generated code of `build/idol` (client and server for
//! an interface using every IDL feature) against this crate, so a runtime
//! API change that breaks generated code fails here, on the host, and
//! checks the parts of it that run without a kernel.

#![allow(dead_code)]

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Named arg/reply type of the kitchen-sink interface.
#[derive(Copy, Clone, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Point {
    pub x: i32,
    pub y: i32,
}

/// Named arg type referred to by path (`crate::Tag`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(transparent)]
pub struct Tag(pub u16);

#[derive(Copy, Clone, Debug, PartialEq, Eq, num_derive::FromPrimitive)]
#[repr(u32)]
pub enum SinkError {
    Died = 1,
    Full = 2,
}

impl idol_runtime::ServerDeath for SinkError {
    fn server_died() -> Self {
        Self::Died
    }
}

mod client {
    use super::{Point, SinkError};
    include!("../../../build/idol/tests/golden/kitchen.client.rs");
}

mod server {
    use super::{Point, SinkError};
    include!("../../../build/idol/tests/golden/kitchen.server.rs");
}

use idol_runtime::{Leased, RequestError, R, RW, W};
use userlib::RecvMessage;

struct Sink;

impl server::InOrderKitchenSinkImpl for Sink {
    fn nothing(&mut self, _: &RecvMessage) -> Result<(), RequestError<core::convert::Infallible>> {
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn primitives(
        &mut self,
        _: &RecvMessage,
        a: u8,
        b: u16,
        c: u32,
        d: u64,
        e: i8,
        f: i16,
        g: i32,
        h: i64,
    ) -> Result<u64, RequestError<core::convert::Infallible>> {
        Ok(a as u64 + b as u64 + c as u64 + d + (e as i64 + f as i64 + g as i64 + h) as u64)
    }

    fn flag(&mut self, _: &RecvMessage, on: bool) -> Result<bool, RequestError<SinkError>> {
        if on {
            Err(SinkError::Full.into())
        } else {
            Ok(true)
        }
    }

    fn named(&mut self, _: &RecvMessage, point: Point, tag: Tag) -> Result<Point, RequestError<SinkError>> {
        Ok(Point { x: point.x + tag.0 as i32, y: point.y })
    }

    fn leases(
        &mut self,
        _: &RecvMessage,
        _offset: u32,
        _src: Leased<R, [u8]>,
        _dst: Leased<W, [u8]>,
        _both: Leased<RW, [u8]>,
    ) -> Result<(), RequestError<SinkError>> {
        Err(RequestError::WentAway)
    }
}

#[test]
fn sizes_follow_the_packed_messages() {
    // primitives: 1 + 2 + 4 + 8 + 1 + 2 + 4 + 8 bytes, no padding.
    assert_eq!(core::mem::size_of::<server::KitchenSink_primitives_ARGS>(), 30);
    assert_eq!(server::KITCHEN_SINK_MSG_SIZE, 30);
    assert_eq!(server::KITCHEN_SINK_REPLY_SIZE, 8);
    assert_eq!(
        core::mem::size_of::<server::KitchenSink_named_ARGS>(),
        core::mem::size_of::<Point>() + core::mem::size_of::<Tag>()
    );
}

#[test]
fn client_and_server_agree_on_op_numbers() {
    use num_traits::FromPrimitive;
    let pairs = [
        (client::KitchenSinkOperation::Nothing as u16, server::KitchenSinkOperation::Nothing),
        (client::KitchenSinkOperation::Leases as u16, server::KitchenSinkOperation::Leases),
    ];
    for (n, op) in pairs {
        assert_eq!(server::KitchenSinkOperation::from_u16(n), Some(op));
    }
    assert_eq!(server::KitchenSinkOperation::from_u32(0), None);
    assert_eq!(server::KitchenSinkOperation::from_u32(6), None);
}

#[test]
fn client_encoding_is_what_the_server_decodes() {
    let args = client::KitchenSink_flag_ARGS { on: 1 };
    let decoded = server::KitchenSink_flag_ARGS::read_from_bytes(args.as_bytes()).unwrap();
    assert_eq!(decoded.on, 1);
    let _ = Sink;
}

#[test]
fn runtime_errors_convert_from_the_api_enum() {
    let e: RequestError<SinkError> = SinkError::Full.into();
    assert_eq!(e.map_runtime(|e| e as u32), RequestError::Runtime(2));
}
